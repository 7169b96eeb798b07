#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make run TOPOLOGY=ivshmem, on the SoC machine: /dev/kvm-soc reaches a
# host that is another machine, a guest runs through it, then a Linux
# guest booted by the patched QEMU here, its vCPU in the host machine's
# KVM and its RAM the host machine's.  TAP for the rig's verdict.
top=$(cd "$(dirname "$0")/.." && pwd)
echo "TAP version 13"
n=0
step() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
"$top/build/tools/kvm-soc-info"; step $? "/dev/kvm-soc answers through the host machine"
"$top/build/tools/kvm-soc-demo" /dev/kvm-soc; step $? "a guest runs through /dev/kvm-soc, on the host machine"
echo "# a Linux guest through -accel kvm-soc across two machines: its console follows"
bash "$top/tools/linux-guest.sh" kvm-soc 1
step $? "a Linux guest boots through QEMU -accel kvm-soc on the SoC machine (virtio-blk, virtio-net, serial) and powers off"
echo "1..$n"
