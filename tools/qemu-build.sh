#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build qemu-system-x86_64 with the qemu-patches/ series (-accel kvm-soc):
# fetch Debian's QEMU 10.0.2 orig tarball, check its hash, apply the
# series with git am, configure a minimal x86_64 build and build it.
# Cached by tarball hash + series hash under /var/cache/kvm-soc/qemu-*:
# a second run with the same series does nothing.
#
#   tools/qemu-build.sh          prints the path of the built binary last
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
version=10.0.2
# Debian's backports source package: its +ds orig tarball.
tarball=qemu_${version}+ds.orig.tar.xz
sha256=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1

step() { printf '>>> %s\n' "$*" >&2; }

series_hash=$(cat "$top"/qemu-patches/0*.patch "$0" | sha256sum | cut -c1-16)
out=$cache/qemu-$version-$series_hash
bin=$out/build/qemu-system-x86_64
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

# Build dependencies (meson >= 1.5 and pycotap come from backports).
pkgs=(git ninja-build pkg-config bzip2 python3-venv libglib2.0-dev libslirp-dev
      libfdt-dev zlib1g-dev libpixman-1-dev seabios qemu-system-data)
bpo=(meson python3-pycotap)
missing=()
for p in "${pkgs[@]}" "${bpo[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
dpkg --compare-versions "$(dpkg-query -W -f='${Version}' meson 2>/dev/null || echo 0)" ge 1.5 ||
	missing+=(meson)
# Under CI, ask the archive for every package even if installed (deps.sh).
if [ "${CI:-}" = true ]; then
	"$here/setup-apt.sh"
	apt-get install -s -q -t bookworm-backports "${pkgs[@]}" "${bpo[@]}" > "$cache/apt-sim-qemu.log" 2>&1 ||
		{ cat "$cache/apt-sim-qemu.log" >&2; echo "qemu-build: the archive does not serve these packages" >&2; exit 1; }
fi
if [ ${#missing[@]} -gt 0 ]; then
	"$here/setup-apt.sh"
	step "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q -t bookworm-backports "${missing[@]}" >/dev/null
fi

src=$cache/qemu-src
mkdir -p "$src"
if ! echo "$sha256  $src/$tarball" | sha256sum -c --status 2>/dev/null; then
	"$here/setup-apt.sh"
	# apt-get source takes no version glob: ask the archive which Debian
	# revisions of $version+ds it serves and take the newest.
	qver=$(apt-cache showsrc qemu 2>/dev/null |
		awk -v p="1:$version+ds-" '$1 == "Version:" && index($2, p) == 1 { print $2 }' |
		sort -V | tail -n 1)
	if [ -z "$qver" ]; then
		echo "qemu-build: the archive serves no source of qemu 1:$version+ds; it has:" >&2
		apt-cache showsrc qemu 2>&1 | awk '$1 == "Version:" { print "  " $2 }' >&2
		exit 1
	fi
	step "fetching QEMU $version source (qemu=$qver, Debian's orig tarball, ~40 MB)"
	rm -f "$src/$tarball"
	# The backports .dsc may be missing from the archive while the tarball
	# is there: judge by the tarball's hash, not apt's exit code, and show
	# apt's own words when the tarball did not come.
	(cd "$src" && apt-get source --download-only -q "qemu=$qver") > "$src/fetch.log" 2>&1 || true
	if ! echo "$sha256  $src/$tarball" | sha256sum -c --status 2>/dev/null; then
		echo "qemu-build: 'apt-get source --download-only qemu=$qver' gave no $tarball" \
			"with sha256 $sha256; apt said:" >&2
		sed 's/^/  /' "$src/fetch.log" >&2
		[ -f "$src/$tarball" ] && sha256sum "$src/$tarball" >&2
		exit 1
	fi
fi

step "unpacking QEMU $version and applying qemu-patches/ (git am)"
rm -rf "$out"
mkdir -p "$out"
tar -C "$out" --no-same-owner -xf "$src/$tarball"
mv "$out/qemu-$version" "$out/src"
cd "$out/src"
# The +ds tarball has no firmware blobs; configure wants these to exist.
for f in pc-bios/edk2-aarch64-code.fd pc-bios/edk2-arm-code.fd pc-bios/edk2-arm-vars.fd \
	 pc-bios/edk2-i386-code.fd pc-bios/edk2-i386-secure-code.fd pc-bios/edk2-i386-vars.fd \
	 pc-bios/edk2-x86_64-code.fd pc-bios/edk2-x86_64-secure-code.fd \
	 pc-bios/edk2-loongarch64-code.fd pc-bios/edk2-loongarch64-vars.fd \
	 pc-bios/edk2-riscv-code.fd pc-bios/edk2-riscv-vars.fd; do
	[ -e "$f.bz2" ] || bzip2 -c < /dev/null > "$f.bz2"
done
git init -q
git -c user.name=kvm-soc -c user.email=kvm-soc@invalid add -A
git -c user.name=kvm-soc -c user.email=kvm-soc@invalid commit -q -m "QEMU $version (Debian orig tarball)"
git -c user.name=kvm-soc -c user.email=kvm-soc@invalid am -q \
	$(ls "$top"/qemu-patches/0*.patch | grep -v 0000-cover-letter)

step "configuring a minimal qemu-system-x86_64"
mkdir -p "$out/build"
cd "$out/build"
../src/configure --python=/usr/bin/python3 --target-list=x86_64-softmmu --without-default-features \
	--enable-kvm --enable-slirp --enable-fdt=system --disable-docs \
	--enable-vhost-kernel --enable-vhost-net --enable-vhost-user \
	--disable-werror --disable-install-blobs > configure.log 2>&1 ||
	{ tail -30 configure.log >&2; echo "qemu-build: configure failed ($out/build/configure.log)" >&2; exit 1; }
step "building qemu-system-x86_64 (about 6 minutes on 2 cores)"
ninja qemu-system-x86_64 > ninja.log 2>&1 ||
	{ grep -m 20 -B2 -A8 'error' ninja.log >&2 || tail -30 ninja.log >&2
	  echo "qemu-build: build failed ($out/build/ninja.log)" >&2; exit 1; }
echo "$bin"
