#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job (make run), inside the rig: what kvm-soc can show today.
top=$KSOC_TOP
echo "TAP version 13"
echo "# kvm-soc demo"
n=0
step() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
"$top/build/tools/kvm-soc-info"; step $? "/dev/kvm-soc answers through the host"
"$top/build/selftests/nested_kvm"; step $? "a KVM guest runs on the rig's /dev/kvm"
echo "1..$n"
