#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The UAPI header on its own, in every language userspace may use, with the
# wire layout pinned (tests/header/abi_check.c).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/header
mkdir -p "$out"
flags=(-Iinclude/uapi -Wall -Wextra -Werror -Wno-unused-local-typedefs)
pass=0
run() {
	local name=$1; shift
	if "$@"; then
		echo "ok - header: $name"
		pass=$((pass + 1))
	else
		echo "not ok - header: $name"
		exit 1
	fi
}
run "C89 -pedantic" gcc -std=c89 -pedantic-errors "${flags[@]}" -o "$out/c89" tests/header/abi_check.c
run "C99 -pedantic" gcc -std=c99 -pedantic-errors "${flags[@]}" -o "$out/c99" tests/header/abi_check.c
run "C11 (clang)" clang -std=c11 -pedantic "${flags[@]}" -o "$out/c11" tests/header/abi_check.c
run "C++11" g++ -std=c++11 -x c++ -pedantic-errors "${flags[@]}" -o "$out/cxx" tests/header/abi_check.c
# The QEMU series imports the header unchanged (qemu-patches/0001).
imported() {
	sed -n '/^+\/\* SPDX/,/^-- $/p' qemu-patches/0001-linux-headers-Add-linux-kvm_soc.h.patch |
		sed '$d' | sed 's/^+//' | cmp -s - include/uapi/linux/kvm_soc.h
}
run "qemu-patches/0001 imports it unchanged" imported
echo "header: $pass checks passed"
