#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the rig: boot a real Linux guest (Debian's kernel + the
# initramfs of tools/guest-initrd.sh) with the patched QEMU, through
# -accel kvm-soc (default) or -accel kvm, with a virtio-blk disk on an
# iothread, virtio-net on user networking and a serial console.  The
# console is shown live; the run ends when the guest powers off, with a
# summary: time to userspace, the guest's verdict, interrupts, and (for
# kvm-soc) exits by type, irqfd triggers and ioeventfd kicks.
#
#   linux-guest.sh [kvm-soc|kvm] [smp] [extra QEMU args...]
#
# Environment: KSOC_TOP (tree), GUEST_TIMEOUT (s, default 600),
# GUEST_QUIET=1 (console to $GUEST_LOG only), GUEST_LOG (default
# /tmp/linux-guest-<accel>.log), GUEST_APPEND (more kernel arguments),
# GUEST_CPU (QEMU -cpu, default host), GUEST_NET (the guest's network
# as QEMU arguments, split on blanks, instead of virtio-net on user
# networking), GUEST_SHARED_RAM=1 (-accel kvm: guest RAM a shared memfd,
# as vhost-user backends need; kvm-soc's memory objects always are).
set -uo pipefail

top=${KSOC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
accel=${1:-kvm-soc}
smp=${2:-1}
shift 2 2>/dev/null || shift $#
qemu=$(cat "$top/build/qemu-path" 2>/dev/null)
initrd=$(cat "$top/build/guest-initrd-path" 2>/dev/null)
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
kernel=$(ls "$cache"/kernel/root/boot/vmlinuz-* 2>/dev/null | head -1)
log=${GUEST_LOG:-/tmp/linux-guest-$accel.log}
[ -x "$qemu" ] || { echo "linux-guest: no patched QEMU (build/qemu-path): run 'make qemu'" >&2; exit 2; }
[ -f "$initrd" ] && [ -f "$kernel" ] || { echo "linux-guest: no guest kernel/initramfs" >&2; exit 2; }

disk=$(mktemp /tmp/linux-guest-disk.XXXXXX)
truncate -s 64M "$disk"
args=(-nodefaults -display none -no-reboot -serial stdio -monitor none
      -L /usr/share/qemu -L /usr/share/seabios
      -cpu "${GUEST_CPU:-host}" -smp "$smp" -m 256
      -kernel "$kernel" -initrd "$initrd"
      -append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 ${GUEST_APPEND:-}"
      -object iothread,id=io0
      -drive "file=$disk,if=none,id=d0,format=raw"
      -device virtio-blk-pci,drive=d0,iothread=io0)
if [ -n "${GUEST_NET:-}" ]; then
	read -r -a net <<< "$GUEST_NET"
	args+=("${net[@]}")
else
	args+=(-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile=)
fi
case "$accel" in
kvm-soc)
	args+=(-accel kvm-soc,kernel-irqchip=on,stats=on
	       -object memory-backend-kvm-soc,id=ram0,size=256M
	       -machine pc,memory-backend=ram0)
	;;
kvm)
	args+=(-accel kvm,kernel-irqchip=on)
	if [ "${GUEST_SHARED_RAM:-0}" = 1 ]; then
		args+=(-object memory-backend-memfd,id=ram0,size=256M,share=on
		       -machine pc,memory-backend=ram0)
	else
		args+=(-machine pc)
	fi
	;;
*)
	echo "linux-guest: accel must be kvm-soc or kvm" >&2; exit 2
	;;
esac
args+=("$@")

start=$(date +%s.%N)
: > "$log"
up=
# Each console line is shown (unless quiet) and scanned for the markers.
timeout -k 5 "${GUEST_TIMEOUT:-600}" "$qemu" "${args[@]}" < /dev/null 2>&1 |
while IFS= read -r line; do
	line=${line%$'\r'}
	now=$(date +%s.%N)
	[ "${GUEST_QUIET:-0}" = 1 ] || printf '%s\n' "$line"
	printf '%s\n' "$line" >> "$log"
	if [ -z "$up" ] && [[ $line == *"KSOC-GUEST: userspace up"* ]]; then
		up=$(awk -v a="$now" -v b="$start" 'BEGIN { printf "%.1f", a - b }')
		echo "KSOC-HOST: userspace after $up s" >> "$log"
	fi
done
rc=${PIPESTATUS[0]}
end=$(date +%s.%N)
rm -f "$disk"

echo "---- linux-guest summary ($accel, $smp vCPU) ----"
sed -n 's/^KSOC-HOST: //p' "$log" | sed 's/^/time to guest userspace (QEMU start to marker): /'
grep -E '^KSOC-GUEST: (userspace|disk|net|irq|all|checks)' "$log"
grep -E 'kvm-soc: exits' "$log" | sed 's/^.*kvm-soc: /kvm-soc counters: /'
printf 'QEMU exited %d after %s s\n' "$rc" "$(awk -v a="$end" -v b="$start" 'BEGIN { printf "%.1f", a - b }')"
grep -q 'KSOC-GUEST: all checks passed' "$log" && [ "$rc" = 0 ]
