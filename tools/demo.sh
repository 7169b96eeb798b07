#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job (make run), inside the rig: a guest whose every exit goes
# through kvm-soc (host-kvm <-> loop transport <-> soc-kvm), the same check
# of the rig's own KVM, then a real Linux guest booted by the patched QEMU
# with -accel kvm-soc.  Prints TAP for the rig's verdict.
top=$KSOC_TOP
echo "TAP version 13"
n=0
step() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
"$top/build/tools/kvm-soc-info"; step $? "/dev/kvm-soc answers through the host"
"$top/build/tools/kvm-soc-demo" /dev/kvm-soc; step $? "a guest runs through /dev/kvm-soc"
"$top/build/selftests/nested_kvm" >/dev/null; step $? "the rig's own /dev/kvm runs KVM guests"
echo "# a Linux guest through -accel kvm-soc: its console follows"
bash "$top/tools/linux-guest.sh" kvm-soc 1
step $? "a Linux guest boots through QEMU -accel kvm-soc (virtio-blk, virtio-net, serial) and powers off"
echo "1..$n"
