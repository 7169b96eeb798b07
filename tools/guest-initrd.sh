#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The initramfs of the rig's Linux guest: busybox, the virtio-blk and
# virtio-net modules of the rig's Debian kernel (and the ACPI power button's,
# for libvirt's shutdown), tools/guest-init.sh as
# /init, tools/guest-dirtier.c (static) for the migration tests and
# tools/ksoc-udp.c (static) for the I/O backend tests.  Cached
# by content; prints its path.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
# shellcheck disable=SC1091
. <(sed 's/^\([A-Z0-9_]*\)=\(.*\)$/\1="\2"/' "$cache/deps.mk")
kroot=$cache/kernel/root
kver=$KVER_RIG
mods=(virtio_blk virtio_net button evdev)

inputs() {
	cat "$top/tools/guest-init.sh" "$top/tools/guest-dirtier.c" "$top/tools/ksoc-udp.c"
	echo "$kver"
	for m in "${mods[@]}"; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m"
	done
	readlink -f /bin/busybox
}
hash=$(inputs | sha256sum | cut -c1-16)
initrd=$cache/guest-initrd-$hash.cpio.gz
if [ ! -f "$initrd" ]; then
	tmp=$(mktemp -d)
	mkdir -p "$tmp"/{bin,dev,proc,sys,tmp,lib/mod}
	cp /bin/busybox "$tmp/bin/busybox"
	cp "$top/tools/guest-init.sh" "$tmp/init"
	chmod +x "$tmp/init"
	gcc -static -O2 -Wall -Werror -o "$tmp/bin/guest-dirtier" "$top/tools/guest-dirtier.c"
	gcc -static -O2 -Wall -Werror -o "$tmp/bin/ksoc-udp" "$top/tools/ksoc-udp.c"
	n=0
	for m in "${mods[@]}"; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r ko; do
		n=$((n + 1))
		xz -dc "$ko" > "$tmp/lib/mod/$(printf '%02d-%s' "$n" "$(basename "$ko" .xz)")"
	done
	(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$initrd.tmp"
	mv "$initrd.tmp" "$initrd"
	rm -rf "$tmp"
fi
echo "$initrd"
