#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job (make run), inside the rig: a guest whose every exit goes
# through kvm-soc (host-kvm <-> loop transport <-> soc-kvm), then the same
# check of the rig's own KVM.  Prints TAP for the rig's verdict.
top=$KSOC_TOP
echo "TAP version 13"
n=0
step() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fi; }
"$top/build/tools/kvm-soc-info"; step $? "/dev/kvm-soc answers through the host"
"$top/build/tools/kvm-soc-demo" /dev/kvm-soc; step $? "a guest runs through /dev/kvm-soc"
"$top/build/selftests/nested_kvm" >/dev/null; step $? "the rig's own /dev/kvm runs KVM guests"
echo "1..$n"
