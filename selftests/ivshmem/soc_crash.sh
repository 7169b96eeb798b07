#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A SoC machine that dies mid-call (tools/rig ivshmem, second SoC boot):
# it attaches, creates VMs on the host machine, keeps control-channel
# calls in flight and says so in $KSOC_OUT/busy; the rig then kills its
# QEMU.  The next SoC machine and
# the host machine's checks show what its death left behind.
echo "TAP version 13"
top=$(cd "$(dirname "$0")/../.." && pwd)
# Three VMs with a vCPU each on the host machine, held until the end.
python3 "$top/selftests/ivshmem/vm_probe.py" /dev/kvm-soc hold 100000 &
sleep 5
python3 - "$KSOC_OUT/busy" <<'PY'
import fcntl, os, sys
fd = os.open("/dev/kvm-soc", os.O_RDWR)
for i in range(1000000000):
    fcntl.ioctl(fd, 0xae03, 3)      # KVM_CHECK_EXTENSION, answered by the host machine
    if i == 1000:
        open(sys.argv[1], "w").close()
PY
echo "not ok 1 the rig did not kill this machine"
echo "1..1"
exit 1
