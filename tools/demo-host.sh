#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make run TOPOLOGY=ivshmem, on the host machine: stock KVM and host-kvm
# serve the SoC machine until the rig says it is done ($KSOC_OUT/finish);
# then every VM and every pinned page it had is gone.  TAP.
# It serves longer than the rig's 600 s per test when the machine is slow:
# rig: timeout 1500
echo "TAP version 13"
n=0
step() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
[ -d /sys/kernel/debug/kvm ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
nvms() { find /sys/kernel/debug/kvm -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
unevictable() { awk '$1 == "Unevictable:" { print $2 }' /proc/meminfo; }
base=$(nvms) ubase=$(unevictable) max=0 umax=0
t=0
until [ -e "$KSOC_OUT/finish" ] || [ $t -ge 1400 ]; do
	sleep 1
	t=$((t + 1))
	v=$(nvms) u=$(unevictable)
	[ "$v" -gt "$max" ] && max=$v
	[ "$u" -gt "$umax" ] && umax=$u
done
[ -e "$KSOC_OUT/finish" ]; step $? "served the SoC machine for ${t}s"
[ "$max" -gt "$base" ]; step $? "its VMs ran in this machine's KVM (up to $((max - base)))"
[ $((umax - ubase)) -ge $((200 << 10)) ]
step $? "its guest's RAM was this machine's, pinned (up to $(((umax - ubase) >> 10)) MiB)"
sleep 2
[ "$(nvms)" = "$base" ] && [ $(($(unevictable) - ubase)) -le 1024 ]
step $? "all of it was given back ($(nvms) KVM VMs, baseline $base)"
echo "1..$n"
