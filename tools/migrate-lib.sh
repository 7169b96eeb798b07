#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared by selftests/kvm-soc/qemu_migrate.sh and tools/migrate-bench.sh
# (sourced, inside the rig): start a patched QEMU running the rig's Linux
# guest for migration, and watch its console and QMP.  The caller sets
# $top, $qemu, $kernel, $initrd and $disk; MIG_SMP (vCPUs, default 2) and
# MIG_APPEND (guest command line, default: keep 64 MiB dirty) shape the
# guest.
qmp="python3 $top/tools/qmp.py"

# Lines matching <pattern> in <log>.
count() { local c; c=$(grep -c "$1" "$2" 2>/dev/null); echo "${c:-0}"; }
# Wait until <log> has <count> lines matching <pattern>, for <seconds>.
wait_log() { # <log> <pattern> <count> <seconds> <pid>
	local i
	for ((i = 0; i < $4 * 2; i++)); do
		[ "$(count "$2" "$1")" -ge "$3" ] && return 0
		kill -0 "$5" 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}

# start <accel> <name> [QEMU args...]: a guest on $disk; sets pid_<name>.
start() {
	local accel=$1 name=$2 mem
	shift 2
	case "$accel" in
	kvm-soc) mem=(-accel kvm-soc,kernel-irqchip=on -object memory-backend-kvm-soc,id=ram0,size=256M) ;;
	kvm) mem=(-accel kvm,kernel-irqchip=on -object memory-backend-ram,id=ram0,size=256M) ;;
	# KVM with shared guest memory, as kvm-soc's must be (the benchmark's
	# second reference).
	kvm-shm) mem=(-accel kvm,kernel-irqchip=on -object memory-backend-memfd,id=ram0,size=256M) ;;
	esac
	rm -f "/tmp/mig-$name.qmp"
	timeout -k 5 900 "$qemu" -nodefaults -display none -no-reboot -serial "file:/tmp/mig-$name.log" \
		-monitor none -L /usr/share/qemu -L /usr/share/seabios \
		-cpu host -smp "${MIG_SMP:-2}" -m 256 "${mem[@]}" -machine pc,memory-backend=ram0 \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 ${MIG_APPEND:-ksoc_guest=stay ksoc_dirty=64}" \
		-object iothread,id=io0 \
		-drive "file=$disk,if=none,id=d0,format=raw" \
		-device virtio-blk-pci,drive=d0,iothread=io0 \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
		-qmp "unix:/tmp/mig-$name.qmp,server=on,wait=off" "$@" \
		< /dev/null > "/tmp/mig-$name.out" 2>&1 &
	eval "pid_$name=$!"
}

# status <name>: the QEMU's run state.
status() {
	$qmp "/tmp/mig-$1.qmp" query-status 2>/dev/null | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p'
}

