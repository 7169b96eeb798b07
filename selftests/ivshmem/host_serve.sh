#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The host machine of the rig's ivshmem topology (tools/rig ivshmem): stock
# KVM, host-kvm and the host side of the transport serve the SoC machine
# until the rig says it is done ($KSOC_OUT/finish), then check what the
# SoC machine's run left in the shared header.  TAP.
# It serves for as long as the three SoC machines take (360 s here in
# make check on 2026-12-07; over 600 s on CI's slower machine that day),
# so it asks the rig for more than its 600 s per test; the host machine's
# boot limit still holds.
# rig: timeout 2500
top=$(cd "$(dirname "$0")/../.." && pwd)
hdr=/sys/kernel/debug/kvm-soc-ivshmem-host/header
n=0 fails=0
ok() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}
val() { awk -v k="$1" '$1 == k { print $2 }' "$hdr" 2>/dev/null; }

echo "TAP version 13"
[ -d /sys/kernel/debug/kvm-soc-ivshmem-host ] || [ -d /sys/kernel/debug/kvm-soc-ivshmem-soc ] ||
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
[ -c /dev/kvm ]; ok $? "stock KVM is up on the host machine"
drv=$(ls -d /sys/bus/pci/drivers/kvm-soc-ivshmem-host/0000:* 2>/dev/null | head -1)
[ -n "$drv" ]; ok $? "kvm-soc-ivshmem-host is bound to the ivshmem-doorbell device (${drv##*/})"
[ "$(val magic)" = 0x5649534b ] && [ "$(val shm_size)" = $((64 << 20)) ] && [ "$(val peer_id)" = 0 ]
ok $? "BAR2 holds the server's layout: magic $(val magic), $(val shm_size) bytes"
[ "$(val host_state)" = 1 ]; ok $? "the host's peer line says UP (generation $(val host_generation))"

# The same VM without memory on this machine's own KVM: soc_link.sh
# expects what this prints.
p=$(python3 "$top/selftests/ivshmem/vm_probe.py" /dev/kvm 2>&1)
sed 's/^/# native: /' <<< "$p"
pv() { awk -v k="$1" '$1 == k { print $2 }' <<< "$p"; }
[ "$(pv run)" = 0 ] && [ "$(pv exit_reason)" = 17 ] && [ "$(pv suberror)" = 1 ]
ok $? "native KVM_RUN with no memory: exit $(pv exit_reason), suberror $(pv suberror) (what the SoC must see)"
[ "$(pv memory_slot)" = 0 ]; ok $? "native KVM takes the same memory slot"
[ "$(pv irqchip)" = 0 ] && [ "$(pv irqchip_again)" = 17 ] && [ "$(pv vcpu_again)" = 17 ]
ok $? "native: irqchip, then EEXIST for a second irqchip and a second vCPU 0"

# KVM VMs here: debugfs has a directory per VM (kvm_hold keeps 2).
nvms() { find /sys/kernel/debug/kvm -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
helpers() { pgrep -c -f kvm-soc-vmctx; }
base=$(nvms)
# Guest memory the SoC has the host pin is unevictable shmem.
unevictable() { awk '$1 == "Unevictable:" { print $2 }' /proc/meminfo; }
ubase=$(unevictable) umax=$ubase
# Serve until the SoC machine is done, watching the VM count.
t=0 max=$base
until [ -e "$KSOC_OUT/finish" ] || [ $t -ge 2400 ]; do
	sleep 1
	t=$((t + 1))
	n=$(nvms)
	[ "$n" -gt "$max" ] && max=$n
	u=$(unevictable)
	[ "$u" -gt "$umax" ] && umax=$u
	[ $((t % 60)) = 0 ] && echo "# host_serve: serving the SoC machine for ${t}s"
done
[ -e "$KSOC_OUT/finish" ]; ok $? "the SoC machines finished within 2400 s (${t}s)"
# Three SoC machines: the first attached, reloaded its transport once in
# host_memory (2), then unloaded and reloaded its modules 3 times
# (rig-guest): generations 1-5; it booted again on one CPU for
# qemu_migrate (6-9), DOWN.  The second attached (10) and was killed
# mid-call, UP to the end.  The third attached (11), ran soc_link and
# reloaded 3 times (12-14), DOWN.
g=$(val soc_generation) s=$(val soc_state)
[ "$g" = 14 ] && [ "$s" = 0 ]
ok $? "three SoC machines attached 14 times in all (generation $g), the last left cleanly (state $s)"
[ "$(val host_state)" = 1 ]; ok $? "the host served through all of it"
[ "$max" -ge $((base + 3)) ]; ok $? "the SoC machines' VMs ran here (up to $((max - base)) at once)"
sleep 2
[ "$(nvms)" = "$base" ] && [ "$(helpers)" = 1 ]
ok $? "every VM of the killed SoC was freed: $(nvms) KVM VMs (baseline $base), $(helpers) helper(s)"
# The killed SoC held 3 VMs with 16 MiB each; the guests the others ran had more.
u=$(unevictable)
[ $((umax - ubase)) -ge $((48 << 10)) ]
ok $? "the SoC machines' guest memory was pinned here (up to $(((umax - ubase) >> 10)) MiB at once)"
[ $((u - ubase)) -le 1024 ] && [ $((ubase - u)) -le 1024 ]
ok $? "and all of it was given back: $((u >> 10)) MiB unevictable (baseline $((ubase >> 10)) MiB)"
dmesg | grep -q 'kvm-soc-ivshmem-host.*the SoC stopped (no heartbeat): resetting host-kvm'
ok $? "the killed SoC was noticed by its heartbeat"
d=$(val doorbells_0)
[ "${d:-0}" -ge 5000 ]; ok $? "the SoC's control doorbells reached the host machine by MSI-X ($d)"
[ "$(val windows)" = 0 ]; ok $? "no VM window is left in the table"
sed 's/^/# /' "$hdr"
echo "1..$n"
[ $fails = 0 ]
