#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the rig's initramfs: mount this machine's root (shared read-only
# over 9p) and the results share, then switch to it and hand over to
# tools/rig-guest.sh.  Anything that goes wrong here powers the VM off, which the rig
# reports as a failure with this console log.
/bin/busybox --install -s /bin
export PATH=/bin

die() {
	echo "rig-init: $*"
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in /lib/mod/*.ko; do
	insmod "$m" || die "insmod $m failed"
done

top= out= mode= kroot= cache= role=loop nomod=0 focus=0
for a in $(cat /proc/cmdline); do
	case "$a" in
	ksoc_top=*) top=${a#ksoc_top=} ;;
	ksoc_out=*) out=${a#ksoc_out=} ;;
	ksoc_mode=*) mode=${a#ksoc_mode=} ;;
	ksoc_kroot=*) kroot=${a#ksoc_kroot=} ;;
	ksoc_cache=*) cache=${a#ksoc_cache=} ;;
	ksoc_role=*) role=${a#ksoc_role=} ;;
	ksoc_no_modules=*) nomod=${a#ksoc_no_modules=} ;;
	ksoc_focus=*) focus=${a#ksoc_focus=} ;;
	esac
done

mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /host ||
	die "cannot mount the host root"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts 2>/dev/null; mount -t devpts devpts /host/dev/pts 2>/dev/null
# Writable scratch directories are fresh tmpfs.  The source tree and the
# cache may live under one of them (a clone in /tmp, KVM_SOC_CACHE=/tmp/x):
# keep them visible by moving bind mounts of them over the tmpfs.
n=0
for d in $top $cache; do
	case "$d" in
	/tmp/*|/run/*|/var/tmp/*|/root/*)
		n=$((n + 1))
		mkdir -p "/stash/$n"
		mount --bind "/host$d" "/stash/$n" || die "cannot bind $d"
		echo "$d" > "/stash/$n.path"
		;;
	esac
done
mount -t tmpfs -o mode=1777 tmp /host/tmp
mount -t tmpfs run /host/run
mount -t tmpfs -o mode=1777 vartmp /host/var/tmp 2>/dev/null
mount -t tmpfs -o mode=0700 roothome /host/root 2>/dev/null
for p in /stash/*.path; do
	[ -f "$p" ] || continue
	d=$(cat "$p")
	mkdir -p "/host$d"
	mount --move "${p%.path}" "/host$d" || die "cannot move $d back"
done
mkdir -p "/host$out" 2>/dev/null
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out "/host$out" ||
	die "cannot mount the results share at $out"

export KSOC_TOP=$top KSOC_OUT=$out KSOC_MODE=$mode KSOC_KROOT=$kroot KSOC_NO_MODULES=$nomod
export KVM_SOC_CACHE=$cache KSOC_ROLE=$role KSOC_FOCUS=$focus
export HOME=/root TERM=dumb
# Hand over as switch_root does: this machine's root moves over the
# initramfs and becomes the root of the mount namespace, not only of a
# chroot, so what resolves paths from that root sees Debian's own paths:
# AppArmor mediates them, and a process entering another mount namespace
# (libvirt building QEMU's private /dev) lands there.  busybox goes along
# for the power-off (Debian's poweroff wants systemd).
# (Named busybox: it picks its applet from argv[0] otherwise.)  The
# shell is PID 1 from then on and must never exit: the kernel would panic.
[ -x /host/bin/sh ] && [ -x /host/bin/bash ] || die "no shell in the host root"
mkdir -p /host/run/rig && cp /bin/busybox /host/run/rig/busybox || die "cannot copy busybox"
exec switch_root /host /bin/sh -c '/bin/bash "$KSOC_TOP/tools/rig-guest.sh"
echo "rig-init: guest script exited $?"
sync
/run/rig/busybox poweroff -f
echo o > /proc/sysrq-trigger
while :; do sleep 1; done'
