#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch --strict on every kernel-style source file of the project,
# with checkpatch.pl from Debian's linux-source package (tools/deps.sh).
# Accepted exceptions are listed here, each with its reason; nothing else
# may be ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

cp=${KVM_SOC_CACHE:-/var/cache/kvm-soc}/linux-src/scripts/checkpatch.pl
[ -x "$cp" ] || [ -f "$cp" ] || { echo "checkpatch: $cp missing: run 'make deps'" >&2; exit 1; }

# Kernel code: --strict with nothing ignored but what cannot apply to a
# file outside a kernel tree.
kernel_ignore=FILE_PATH_CHANGES
# Userspace code (selftests, unit tests, tools) additionally uses the C
# library's fixed-width types as kernel selftests do, names libFuzzer's
# entry point, and pins struct layouts with the C89 negative-array typedef.
user_ignore=$kernel_ignore,PREFER_KERNEL_TYPES,CAMELCASE,NEW_TYPEDEFS

fail=0 n=0
while IFS= read -r f; do
	case "$f" in
	host-kvm/*|soc-kvm/*|transport/*|common/*|include/*|selftests/rig/ksoc_rig_fault.c)
		ign=$kernel_ignore ;;
	*)	ign=$user_ignore ;;
	esac
	# The places that span an API change between the two kernels
	# kvm-soc builds for (eventfd_signal() lost its count in 6.8, vm_flags_set()
	# came in 6.3).
	case "$f" in
	common/ksoc_eventfd.h|common/ksoc_mm.h) ign=$ign,LINUX_VERSION_CODE,CONSTANT_COMPARISON ;;
	esac
	# Compiled as C89 too, which has no // comments for the SPDX line.
	[ "$f" = tests/header/abi_check.c ] && ign=$ign,SPDX_LICENSE_TAG
	n=$((n + 1))
	out=$(perl "$cp" --strict --no-tree --terse --show-types --ignore "$ign" -f "$f" 2>&1) || {
		printf '%s\n' "$out"
		fail=1
	}
done < <(git ls-files -- '*.c' '*.h' | grep -v '^qemu-patches/')
if [ $fail -ne 0 ]; then
	echo "checkpatch: problems above"
	exit 1
fi
echo "checkpatch --strict: $n files clean"
