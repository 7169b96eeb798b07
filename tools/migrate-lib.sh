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
	# QEMU's KVM dirty ring instead of its bitmaps (4096 entries a vCPU).
	kvm-soc-ring) mem=(-accel kvm-soc,kernel-irqchip=on,dirty-ring-size=4096
			   -object memory-backend-kvm-soc,id=ram0,size=256M) ;;
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


# until_migrated <name> <seconds>: poll <name>'s migration until it ends
# (completed, failed or cancelled) or <seconds> of wall time pass; sets
# mig_status, mig_info (the last query-migrate reply) and mig_raised.
# A dirtying guest converges only once the downtime limit covers sending
# its working set at the link's rate, and under TCG that rate follows the
# machine's load: still active after MIG_RAISE_S (30) seconds, the limit is
# raised to 30 s, as an operator would (virsh migrate-setmaxdowntime).
# Wall time, not a count of polls: a busy QEMU answers QMP slowly.
until_migrated() {
	local end=$((SECONDS + $2)) raise=$((SECONDS + ${MIG_RAISE_S:-30}))
	mig_raised=0
	while :; do
		mig_info=$($qmp "/tmp/mig-$1.qmp" query-migrate 2>/dev/null | tail -1)
		mig_status=$(echo "$mig_info" | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p')
		case "$mig_status" in completed|failed|cancelled) return ;; esac
		[ $SECONDS -ge $end ] && return
		if [ $mig_raised = 0 ] && [ $SECONDS -ge $raise ] && [ "$mig_status" = active ]; then
			$qmp "/tmp/mig-$1.qmp" 'migrate-set-parameters={"downtime-limit": 30000}' \
				> /dev/null 2>&1 && mig_raised=1
		fi
		sleep 0.2
	done
}

# threads <name>: where each thread of <name>'s QEMU is, for a report of
# a migration that did not end (kernel stacks need root, as in the rig).
threads() {
	local p t
	for p in $(pgrep -f "qemu-system.*/tmp/mig-$1.qmp"); do
		for t in /proc/"$p"/task/*; do
			echo "$1 $(cat "$t/comm") $(sed 's/.*) \(.\).*/\1/' "$t/stat") $(cat "$t/wchan" 2>/dev/null)"
			sed 's/^/    /' "$t/stack" 2>/dev/null | head -n 12
		done
	done
}
