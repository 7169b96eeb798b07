#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The SoC machine of the rig's ivshmem topology runs the patched QEMU: a
# Linux guest (virtio-blk on an iothread, virtio-net, serial console)
# whose vCPU runs in the host machine's KVM and whose RAM is the host
# machine's, reached from here through the DMA window.  It boots, passes
# its checks, is reset over QMP (firmware and kernel loaded again into
# memory the guest already ran) and passes them again.  TAP.
top=$(cd "$(dirname "$0")/../.." && pwd)
guest=$top/tools/linux-guest.sh
qemu=$(cat "$top/build/qemu-path" 2>/dev/null)
n=0 fails=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}
echo "TAP version 13"
if [ ! -x "$qemu" ]; then
	echo "1..0 # SKIP no patched QEMU (make qemu)"
	exit 0
fi
! [ -e /dev/kvm ]; ok $? "no KVM on this machine: the guest's vCPU can only run on the host machine"

# 1: the guest, start to finish.
GUEST_QUIET=1 GUEST_LOG=/tmp/sg.log bash "$guest" kvm-soc 1 > /tmp/sg.out 2>&1
rc=$?
sed 's/^/# /' /tmp/sg.out
ok $rc "Linux guest under -accel kvm-soc across two machines: userspace, disk write/drop caches/read back, DHCP"
[ $rc = 0 ] || { echo "# last lines of its console:"; tail -n 30 /tmp/sg.log | awk '{ print "# " $0 }'; }
line=$(grep 'kvm-soc: exits' /tmp/sg.log)
irqfd=$(echo "$line" | sed -n 's/.*irqfd triggers \([0-9]*\).*/\1/p')
kicks=$(echo "$line" | sed -n 's/.*ioeventfd kicks \([0-9]*\).*/\1/p')
[ "${irqfd:-0}" -gt 0 ] && [ "${kicks:-0}" -gt 0 ]
ok $? "virtio interrupts via irqfd ($irqfd) and kicks via ioeventfd ($kicks) across the link"

# 2: QMP system_reset, and the guest's checks again.
sock=/tmp/sg-qmp.sock
rm -f "$sock" /tmp/sg-qmp.log
GUEST_QUIET=1 GUEST_LOG=/tmp/sg-qmp.log GUEST_APPEND=ksoc_guest=stay \
	bash "$guest" kvm-soc 1 -qmp "unix:$sock,server=on,wait=off" -action reboot=reset \
	> /tmp/sg-qmp.out 2>&1 &
gpid=$!
wait_log() { # <pattern> <count> <seconds>
	local i c
	for ((i = 0; i < $3 * 2; i++)); do
		c=$(grep -c "$1" /tmp/sg-qmp.log 2>/dev/null)
		[ "${c:-0}" -ge "$2" ] && return 0
		kill -0 $gpid 2>/dev/null || return 1
		sleep 0.5
	done
	return 1
}
wait_log 'KSOC-GUEST: all checks passed' 1 400; ok $? "guest up for the reset"
# What the SoC writes into guest memory the host machine's CPU stores again
# before a vCPU runs (soc-kvm mem.c): the reset's reloads are such writes.
[ -d /sys/kernel/debug/soc-kvm ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
written=/sys/kernel/debug/soc-kvm/mem_written_pages
w0=$(cat $written 2>/dev/null)
python3 "$top/tools/qmp.py" "$sock" system_reset > /dev/null
wait_log 'KSOC-GUEST: userspace up' 2 400; ok $? "QMP system_reset: the guest boots again"
w1=$(cat $written 2>/dev/null)
[ $((${w1:-0} - ${w0:-0})) -ge 1024 ]
ok $? "the firmware and kernel reloaded at reset went through the host machine's CPU ($((${w1:-0} - ${w0:-0})) pages stored again)"
wait_log 'KSOC-GUEST: all checks passed' 2 400; ok $? "and passes its checks again"
python3 "$top/tools/qmp.py" "$sock" quit > /dev/null
for _ in $(seq 60); do kill -0 $gpid 2>/dev/null || break; sleep 0.5; done
! kill -0 $gpid 2>/dev/null; ok $? "QMP quit: QEMU exits"
kill -9 $gpid 2>/dev/null
wait $gpid 2>/dev/null
sed 's/^/# /' /tmp/sg-qmp.out | tail -8
[ $fails = 0 ] || { echo "# last lines of the reset guest's console:"; tail -n 30 /tmp/sg-qmp.log | awk '{ print "# " $0 }'; }
echo "1..$n"
[ $fails = 0 ]
