#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The SoC machine of the rig's ivshmem topology: /dev/kvm-soc here, stock
# KVM on another machine, nothing between them but the ivshmem BAR and its
# doorbells.  TAP.
top=$(cd "$(dirname "$0")/../.." && pwd)
info=$top/build/tools/kvm-soc-info
n=0 fails=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}
# ioctl <request> [arg]: the return value of an ioctl on /dev/kvm-soc, or
# "errno N".
ioctl() {
	python3 - "$@" <<'PY'
import fcntl, os, sys
fd = os.open("/dev/kvm-soc", os.O_RDWR)
try:
    print(fcntl.ioctl(fd, int(sys.argv[1], 0), int(sys.argv[2], 0) if len(sys.argv) > 2 else 0))
except OSError as e:
    print("errno", e.errno)
PY
}

echo "TAP version 13"
[ -d /sys/kernel/debug/kvm-soc-ivshmem-host ] || [ -d /sys/kernel/debug/kvm-soc-ivshmem-soc ] ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
! [ -e /dev/kvm ]; ok $? "the SoC machine has no KVM of its own"
# The host machine may come up after this one: soc-kvm attaches when it does.
t=0
until out=$("$info" 2>&1) || [ $t -ge 300 ]; do
	sleep 1
	t=$((t + 1))
done
echo "# $out"
[[ $out == *"transport ivshmem"* ]]; ok $? "/dev/kvm-soc reaches its host over ivshmem (after ${t}s)"
[[ $out == *"host KVM API 12"* ]]; ok $? "the host machine's stock KVM answers (API version 12)"
dmesg | grep -q 'kvm-soc-ivshmem-soc.*attached to host generation'; ok $? "attached to a host generation"
# KVM_GET_API_VERSION, KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY): answered by
# the host machine's KVM through the control window.
[ "$(ioctl 0xae00)" = 12 ]; ok $? "KVM_GET_API_VERSION crosses to the host: 12"
[ "$(ioctl 0xae03 3)" = 1 ]; ok $? "KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY) crosses to the host: 1"
# VMs without memory: created on the host machine, their exits come back
# through the IOREQ slots; the same answers as the host's own KVM gives
# (host_serve.sh asks it the same).
p=$(python3 "$top/selftests/ivshmem/vm_probe.py" /dev/kvm-soc 2>&1)
sed 's/^/# /' <<< "$p"
pv() { awk -v k="$1" '$1 == k { print $2 }' <<< "$p"; }
[ "$(pv irqchip)" = 0 ] && [ "$(pv irqchip_again)" = 17 ]
ok $? "KVM_CREATE_IRQCHIP on a VM of the host machine's KVM; a second one is EEXIST ($(pv irqchip_again))"
[ "$(pv vcpu_again)" = 17 ]; ok $? "a second vCPU 0 is EEXIST, as KVM says ($(pv vcpu_again))"
[ "$(pv run)" = 0 ] && [ "$(pv exit_reason)" = 17 ] && [ "$(pv suberror)" = 1 ]
ok $? "KVM_RUN with no memory: KVM_EXIT_INTERNAL_ERROR, emulation (got run $(pv run), exit $(pv exit_reason), suberror $(pv suberror))"
# Guest memory is the host machine's, reached through the DMA window.
[ "$(pv memory_slot)" = 0 ]; ok $? "a memory slot over ordinary memory is taken, as native KVM takes it ($(pv memory_slot))"
drv=$(ls -d /sys/bus/pci/drivers/kvm-soc-ivshmem-dma/0000:* 2>/dev/null | head -1)
[ -n "$drv" ]; ok $? "the DMA window (ivshmem-plain over the host machine's RAM) is bound (${drv##*/})"
[ "$(pv at_once)" = 3 ] && [ -n "$(pv cycles_ms)" ]
ok $? "20 VMs created and destroyed in a row ($(pv cycles_ms) ms each), then 3 at once"
# Round trips through the control window: each is a doorbell to the host
# machine (MSI-X there), host-kvm asking stock KVM, a doorbell back.
h=/sys/kernel/debug/kvm-soc-ivshmem-soc/header
db() { awk '$1 == "doorbells_0" { print $2 }' "$h"; }
d0=$(db)
r=$(python3 - <<'PY'
import fcntl, os, time
fd = os.open("/dev/kvm-soc", os.O_RDWR)
n, bad = 2000, 0
t = time.monotonic()
for _ in range(n):
    if fcntl.ioctl(fd, 0xae03, 3) != 1:    # KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY)
        bad += 1
print(n - bad, int((time.monotonic() - t) * 1e6 / n))
PY
)
d1=$(db)
set -- $r
[ "$1" = 2000 ]; ok $? "2000 KVM_CHECK_EXTENSION round trips to the host machine, all answered ($2 us each)"
# Doorbells coalesce (the eventfd behind one counts several rings as one
# interrupt when they come close together), and a caller that polls may
# collect an answer before its doorbell; most answers still come by one.
[ $((d1 - d0)) -ge 1000 ]; ok $? "the answers came back as MSI-X doorbells ($((d1 - d0)) for 2000)"
sed 's/^/# /' "$h"
echo "1..$n"
[ $fails = 0 ]
