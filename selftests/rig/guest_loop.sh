#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Not part of the suite: measures how often the rig itself fails while SMP
# Linux guests run.  Boots the Linux guest of tools/linux-guest.sh with 2
# vCPUs, ten times under -accel kvm and ten times under -accel kvm-soc, one
# TAP line per boot.  Compare
#
#   tools/rig run selftests/rig/guest_loop.sh               (2 CPUs)
#   RIG_SMP=1 tools/rig run selftests/rig/guest_loop.sh     (1 CPU)
#   RIG_NO_MODULES=1 tools/rig run selftests/rig/guest_loop.sh
#
# (the last one has no kvm-soc module, so its kvm-soc boots fail at once;
# its kvm boots are what counts).  docs/rig.md has the numbers.
top=${KSOC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
rounds=10
n=0
echo "TAP version 13"
for accel in kvm kvm-soc; do
	for ((i = 1; i <= rounds; i++)); do
		n=$((n + 1))
		echo "guest_loop: $accel boot $i" > /dev/kmsg
		GUEST_QUIET=1 GUEST_LOG=/tmp/guest-loop.log GUEST_TIMEOUT=120 \
			bash "$top/tools/linux-guest.sh" "$accel" 2 > /dev/null 2>&1
		if grep -q '^KSOC-GUEST: all checks passed' /tmp/guest-loop.log; then
			echo "ok $n $accel, 2 vCPUs, boot $i"
		else
			echo "not ok $n $accel, 2 vCPUs, boot $i; the guest's last lines:"
			tail -n 5 /tmp/guest-loop.log | awk '{ print "# " $0 }'
		fi
	done
done
echo "1..$n"
