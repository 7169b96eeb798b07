#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything kvm-soc needs to build and test, from Debian's archive
# only.  Idempotent and cached: a second run does no network work.
#
#   tools/deps.sh           build + rig dependencies
#
# Heavy results live under /var/cache/kvm-soc:
#   kernel-<ver>/           Debian's backports kernel image + modules (for the rig)
#   linux-src-<ver>/        checkpatch.pl and the kselftest harness, from linux-source
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
mkdir -p "$cache"

step() { printf '>>> %s\n' "$*"; }

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "deps: must run as root to install packages ($*)" >&2
		exit 1
	fi
}

# Versions are resolved from the archive, never hard-coded: the backports
# metapackage names the current 6.12 ABI, the stable one the current 6.1 ABI.
resolve_dep() { # <metapackage> <release> <prefix>
	apt-cache depends -t "$2" "$1" 2>/dev/null |
		awk -v p="$3" '$1 == "Depends:" && index($2, p) == 1 { print $2; exit }'
}

"$here/setup-apt.sh"

hdr612=$(resolve_dep linux-headers-amd64 bookworm-backports linux-headers-6.12)
hdr61=$(resolve_dep linux-headers-amd64 bookworm linux-headers-6.1)
img612=$(resolve_dep linux-image-amd64 bookworm-backports linux-image-6.12)
[ -n "$hdr612" ] && [ -n "$hdr61" ] && [ -n "$img612" ] ||
	{ echo "deps: cannot resolve kernel packages ($hdr612 $hdr61 $img612)" >&2; exit 1; }

# dpdk-testpmd (dpdk-dev) with the vhost PMD: selftests/kvm-soc/io_vhost_user.sh.
# apparmor (apparmor_parser): libvirt's guests confined in the rig (libvirt.sh).
pkgs=(build-essential make gcc clang libclang-rt-14-dev sparse kmod cpio xz-utils
      zstd busybox-static python3 perl file rsync
      "$hdr612" "$hdr61" linux-source-6.12
      dpdk-dev librte-net-vhost23 librte-mempool-ring23 apparmor)
# libvirt as Debian ships it with QEMU 10.0 (selftests/kvm-soc/libvirt.sh).
bpo_pkgs=(qemu-system-x86 qemu-utils linux-libc-dev libvirt-daemon-system libvirt-clients)

missing=()
for p in "${pkgs[@]}" "${bpo_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
# qemu must be the backports one (10.0): 7.2's TCG SVM is not what the rig
# was checked with.
# The selftests need 6.12's KVM uapi (KVM_SET_USER_MEMORY_REGION2, ...).
for p in qemu-system-x86 linux-libc-dev; do
	dpkg-query -W -f='${Version}' "$p" 2>/dev/null | grep -q bpo ||
		[[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
done
# Under CI the packages may already be on the machine from an earlier run:
# still ask the archive for every one of them (a dry run), so a package the
# archive no longer serves fails here as it would on a new machine.
if [ "${CI:-}" = true ]; then
	step "checking that the archive serves every package (apt-get install -s)"
	apt-get install -s -q --no-install-recommends "${pkgs[@]}" > "$cache/apt-sim.log" 2>&1 &&
	apt-get install -s -q --no-install-recommends -t bookworm-backports "${bpo_pkgs[@]}" \
		>> "$cache/apt-sim.log" 2>&1 ||
		{ cat "$cache/apt-sim.log" >&2; echo "deps: the archive does not serve these packages" >&2; exit 1; }
fi
if [ ${#missing[@]} -gt 0 ]; then
	need_root "${missing[*]}"
	step "apt-get install ${missing[*]} (a few minutes on a fresh machine)"
	export DEBIAN_FRONTEND=noninteractive
	# Install daemons (libvirtd, virtlogd) without starting them here:
	# they run in the rig only.
	policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' > "$policy"
		chmod +x "$policy"
	fi
	apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
	apt-get install -y -q --no-install-recommends -t bookworm-backports "${bpo_pkgs[@]}" >/dev/null
	[ -z "$policy" ] || rm -f "$policy"
fi

# The rig's kernel: Debian's backports image, unpacked (not installed: it
# must never become this machine's kernel).
kver=${img612#linux-image-}
kdir="$cache/kernel-$kver"
if [ ! -f "$kdir/.done" ]; then
	need_root "kernel image"
	step "fetching and unpacking $img612 for the rig"
	rm -rf "$kdir" && mkdir -p "$kdir"
	chown _apt "$kdir" 2>/dev/null || true
	(cd "$kdir" && apt-get download -q "$img612" >/dev/null)
	dpkg-deb -x "$kdir"/*.deb "$kdir/root"
	rm -f "$kdir"/*.deb
	depmod -b "$kdir/root" "$kver"
	touch "$kdir/.done"
fi
ln -sfn "kernel-$kver" "$cache/kernel"

# checkpatch, the kselftest harness and KVM's api.rst (docs/kvm-coverage.md)
# come from Debian's linux-source.
srctar=$(ls /usr/src/linux-source-6.12*.tar.xz 2>/dev/null | sort -V | tail -n 1)
[ -n "$srctar" ] || { echo "deps: linux-source-6.12 tarball missing" >&2; exit 1; }
sver=$(basename "$srctar" .tar.xz)
sdir="$cache/$sver"
# (.done2: api.rst and the KVM UAPI header joined later, for the coverage table.)
if [ ! -f "$sdir/.done2" ]; then
	step "extracting checkpatch, the kselftest harness and KVM's api.rst from $srctar (~1 min)"
	rm -rf "$sdir" && mkdir -p "$sdir"
	tar -xJf "$srctar" -C "$sdir" --strip-components=1 \
		"$sver/scripts/checkpatch.pl" "$sver/scripts/spelling.txt" \
		"$sver/scripts/const_structs.checkpatch" \
		"$sver/tools/testing/selftests/kselftest_harness.h" \
		"$sver/tools/testing/selftests/kselftest.h" \
		"$sver/tools/testing/selftests/kselftest" \
		"$sver/Documentation/virt/kvm/api.rst" \
		"$sver/include/uapi/linux/kvm.h"
	touch "$sdir/.done2"
fi
ln -sfn "$sver" "$cache/linux-src"

# Where the 6.12 and 6.1 headers are, for the Makefile.
printf 'KDIR_612=/usr/src/%s\nKDIR_61=/usr/src/%s\nKVER_RIG=%s\n' \
	"$hdr612" "$hdr61" "$kver" > "$cache/deps.mk.tmp"
mv "$cache/deps.mk.tmp" "$cache/deps.mk"
step "dependencies ready"
