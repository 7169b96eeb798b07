#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The patched QEMU in the rig: the same Linux guest (virtio-blk on an
# iothread, virtio-net, serial console) boots under -accel kvm-soc and
# -accel kvm and passes the same checks; under kvm-soc its interrupts
# come through irqfds and its queue kicks through ioeventfds (counters);
# with Hyper-V enlightenments it finds the same Hyper-V under both;
# a 2-vCPU guest is stopped, continued and reset over QMP and quits;
# bad input fails at once with one clear message.  TAP.
#
# rig: one CPU
# (tools/rig runs this in a one-CPU boot: with two TCG CPUs, nested SVM
# corrupts the rig kernel now and then while SMP Linux guests run.)
top=${KSOC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
guest=$top/tools/linux-guest.sh
qemu=$(cat "$top/build/qemu-path" 2>/dev/null)
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi; }
# full <what>: false in make check's focused set (KSOC_FOCUS=1), saying so.
full() {
	[ "${KSOC_FOCUS:-0}" = 1 ] || return 0
	echo "# focused set (make check): $* not run here; make check-full runs it"
	return 1
}
echo "TAP version 13"
if [ ! -x "$qemu" ]; then
	echo "1..0 # SKIP no patched QEMU (make qemu)"
	exit 0
fi

# 1, 2: the same guest under both accelerators.
for accel in kvm-soc kvm; do
	GUEST_QUIET=1 GUEST_LOG=/tmp/qg-$accel.log bash "$guest" $accel 1 > /tmp/qg-$accel.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/qg-$accel.out
	ok $rc "Linux guest under -accel $accel: userspace, disk write/drop caches/read back, DHCP"
done
grep -q '^KSOC-GUEST: all checks passed' /tmp/qg-kvm-soc.log &&
	grep -q '^KSOC-GUEST: all checks passed' /tmp/qg-kvm.log
ok $? "same marker under both"
# The guest sees the same CPU and the same paravirt features.
for accel in kvm-soc kvm; do
	grep '^KSOC-CPUFLAGS: ' /tmp/qg-$accel.log | tr -d '\r' | tr ' ' '\n' | sort > /tmp/qg-flags-$accel
	grep '^KSOC-PV: ' /tmp/qg-$accel.log | tr -d '\r' | sort > /tmp/qg-pv-$accel
done
[ "$(wc -l < /tmp/qg-flags-kvm)" -gt 10 ] && diff /tmp/qg-flags-kvm /tmp/qg-flags-kvm-soc > /tmp/qg-flags.diff
rc=$?
sed 's/^/# flags: /' /tmp/qg-flags.diff
ok $rc "the guest's CPU flags are the same under both ($(($(wc -l < /tmp/qg-flags-kvm) - 1)) flags)"
[ -s /tmp/qg-pv-kvm ] && diff /tmp/qg-pv-kvm /tmp/qg-pv-kvm-soc > /tmp/qg-pv.diff
rc=$?
sed 's/^/# /' /tmp/qg-pv-kvm
sed 's/^/# pv: /' /tmp/qg-pv.diff
ok $rc "and the same paravirt boot lines ($(wc -l < /tmp/qg-pv-kvm))"
line=$(grep 'kvm-soc: exits' /tmp/qg-kvm-soc.log)
irqfd=$(echo "$line" | sed -n 's/.*irqfd triggers \([0-9]*\).*/\1/p')
kicks=$(echo "$line" | sed -n 's/.*ioeventfd kicks \([0-9]*\).*/\1/p')
[ "${irqfd:-0}" -gt 0 ] && [ "${kicks:-0}" -gt 0 ]
ok $? "virtio interrupts via irqfd ($irqfd) and kicks via ioeventfd ($kicks)"

# Hyper-V enlightenments (what Windows guests use): QEMU takes the same
# hv-* flags under both, and the guest finds the same Hyper-V (kvm=off
# hides KVM's own leaves, which Linux would otherwise prefer).
hv=kvm=off,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-time
hv=$hv,hv-synic,hv-stimer,hv-frequencies,hv-tlbflush,hv-ipi,hv-reset,hv-crash
if full "the Hyper-V enlightened guest"; then
	for accel in kvm-soc kvm; do
		GUEST_QUIET=1 GUEST_CPU=host,$hv GUEST_LOG=/tmp/qg-hv-$accel.log \
			bash "$guest" $accel 1 > /tmp/qg-hv-$accel.out 2>&1
		rc=$?
		sed 's/^/# /' /tmp/qg-hv-$accel.out | tail -4
		ok $rc "Linux guest with Hyper-V enlightenments under -accel $accel"
		grep '^KSOC-PV: ' /tmp/qg-hv-$accel.log | tr -d '\r' | sort > /tmp/qg-hv-pv-$accel
	done
	grep -q 'Hypervisor detected: Microsoft Hyper-V' /tmp/qg-hv-pv-kvm &&
		diff /tmp/qg-hv-pv-kvm /tmp/qg-hv-pv-kvm-soc > /tmp/qg-hv.diff
	rc=$?
	sed 's/^/# /' /tmp/qg-hv-pv-kvm
	sed 's/^/# pv: /' /tmp/qg-hv.diff
	ok $rc "it finds Hyper-V and the same enlightenments under both ($(wc -l < /tmp/qg-hv-pv-kvm) lines)"
fi

# 3: 2 vCPUs, QMP stop / cont / system_reset / quit.
sock=/tmp/qg-qmp.sock
rm -f "$sock" /tmp/qg-qmp.log
GUEST_QUIET=1 GUEST_LOG=/tmp/qg-qmp.log GUEST_APPEND=ksoc_guest=stay \
	bash "$guest" kvm-soc 2 -qmp "unix:$sock,server=on,wait=off" -action reboot=reset \
	> /tmp/qg-qmp.out 2>&1 &
gpid=$!
wait_log() { # <pattern> <count> <seconds>
	local i c
	for ((i = 0; i < $3 * 2; i++)); do
		c=$(grep -c "$1" /tmp/qg-qmp.log 2>/dev/null)
		[ "${c:-0}" -ge "$2" ] && return 0
		kill -0 $gpid 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}
wait_log 'KSOC-GUEST: all checks passed' 1 300; ok $? "2-vCPU guest up"
grep -q 'userspace up after .* 2 CPUs' /tmp/qg-qmp.log; ok $? "the guest sees 2 CPUs"
st=$(python3 "$top/tools/qmp.py" "$sock" stop query-status | tail -1)
echo "$st" | grep -q '"status": "paused"'; ok $? "QMP stop: $st"
st=$(python3 "$top/tools/qmp.py" "$sock" cont query-status | tail -1)
echo "$st" | grep -q '"status": "running"'; ok $? "QMP cont: $st"
python3 "$top/tools/qmp.py" "$sock" system_reset > /dev/null
wait_log 'KSOC-GUEST: userspace up' 2 300; ok $? "QMP system_reset: the guest boots again"
wait_log 'KSOC-GUEST: all checks passed' 2 300; ok $? "and passes its checks again"
python3 "$top/tools/qmp.py" "$sock" quit > /dev/null
for i in $(seq 60); do kill -0 $gpid 2>/dev/null || break; sleep 0.5; done
! kill -0 $gpid 2>/dev/null; ok $? "QMP quit: QEMU exits"
kill -9 $gpid 2>/dev/null
wait $gpid 2>/dev/null
sed 's/^/# /' /tmp/qg-qmp.out | tail -8

# 4: bad input: one clear error, non-zero exit, no hang.
bad() { # <expected message> <accel args>
	local out rc
	out=$(timeout 60 "$qemu" -nodefaults -display none -accel "$2" -machine pc 2>&1 < /dev/null)
	rc=$?
	echo "$out" | sed 's/^/# /'
	[ $rc != 0 ] && [ $rc != 124 ] && echo "$out" | grep -q "$1"
}
bad "kvm-soc: /dev/kvm is not a kvm-soc device" kvm-soc,device=/dev/kvm
ok $? "-accel kvm-soc on a device that is not kvm-soc: clear error"
dbg=/sys/kernel/debug/soc-kvm/abi_version
[ -e "$dbg" ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
if [ -w "$dbg" ]; then
	echo 7 > "$dbg"
	bad "kvm-soc: /dev/kvm-soc speaks kvm-soc ABI version 7, this QEMU speaks version 0" kvm-soc
	ok $? "-accel kvm-soc on a SoC of another ABI version: clear error"
	echo 0 > "$dbg"
else
	ok 1 "no soc-kvm debugfs to play another ABI version"
fi
mods=$top/build/k612
if rmmod kvm-soc-loop soc-kvm 2>/dev/null; then
	bad "cannot open /dev/kvm-soc: No such file or directory (is the soc-kvm module loaded?)" kvm-soc
	ok $? "-accel kvm-soc without soc-kvm loaded: clear error"
	insmod "$mods/soc-kvm.ko" && insmod "$mods/kvm-soc-loop.ko"
	for i in $(seq 20); do [ -c /dev/kvm-soc ] && break; sleep 0.5; done
	[ -c /dev/kvm-soc ]; ok $? "soc-kvm and the loop transport load again"
else
	ok 1 "could not unload soc-kvm for the module-missing case"
fi
echo "1..$n"
[ $fails = 0 ]
