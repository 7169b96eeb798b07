#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the Linux guest that QEMU boots inside the rig (make run, the
# qemu selftest).  Proves the guest's devices work and powers off:
#   - userspace up (the marker the tests wait for);
#   - virtio-blk: writes 4 MiB, drops caches, reads them back, compares;
#   - virtio-net (user networking): gets a DHCP lease;
#   - prints its virtio interrupt counts.
# ksoc_guest=stay on the command line keeps it running after the checks
# (QMP tests stop, continue and reset it); with ksoc_dirty=MiB too it then
# keeps that much memory dirty and checked (guest-dirtier) and re-reads
# its disk every few seconds (the migration tests); ksoc_guest=bench also times a
# sequential read of the disk; ksoc_guest=shell then gives a shell on the
# console and powers off on the ACPI power button (libvirt's shutdown and
# reboot); the default powers off.  ksoc_dmesg=1 prints
# the guest's kernel log (with times) before powering off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mode=$(sed -n 's/.*ksoc_guest=\([a-z]*\).*/\1/p' /proc/cmdline)
echo "KSOC-GUEST: userspace up after $(cut -d' ' -f1 /proc/uptime) s, $(nproc) CPUs"
for m in /lib/mod/*.ko; do insmod "$m" || echo "KSOC-GUEST: insmod $m failed"; done
# What the guest sees of its CPU and of KVM, for qemu_guest.sh to compare
# across accelerators: CPU 0's flags and the kernel's paravirt boot lines
# (times cut; lines about timing itself left out: under TCG they vary).
echo "KSOC-CPUFLAGS: $(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
dmesg | sed 's/^\[[ 0-9.]*\] //' |
	grep -E 'Hypervisor detected|Hyper-V:|kvm-clock: Using msrs|kvm-guest|KVM setup|Booting paravirtualized|x2apic|x2APIC|APIC: Switched' |
	sed 's/^/KSOC-PV: /'
fail=0

# virtio-blk: write, drop caches, read back.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -b /dev/vda ]; then
	dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
	want=$(md5sum < /tmp/pattern)
	dd if=/tmp/pattern of=/dev/vda bs=1M conv=fsync 2>/dev/null
	sync
	echo 3 > /proc/sys/vm/drop_caches
	got=$(dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | md5sum)
	if [ "$want" = "$got" ]; then
		echo "KSOC-GUEST: disk ok (4 MiB written, caches dropped, read back equal)"
	else
		echo "KSOC-GUEST: disk MISMATCH"; fail=1
	fi
else
	echo "KSOC-GUEST: no /dev/vda"; fail=1
fi

# virtio-net: a DHCP lease from QEMU's user network, or with
# ksoc_udp=ADDR,PEER,PEERMAC,COUNT,SIZE[,SECONDS] (the I/O backend tests:
# a tap peer, testpmd) a static address and COUNT datagrams of SIZE bytes
# that must all come back unchanged (ksoc-udp), then SECONDS of one at a
# time with a progress line each second.
ip link set lo up
udp=$(sed -n 's/.*ksoc_udp=\([0-9a-fA-F.,:]*\).*/\1/p' /proc/cmdline)
if [ -n "$udp" ]; then
	IFS=, read -r addr peer peermac count size secs <<-EOF
	$udp
	EOF
	ip link set eth0 up && ip addr add "$addr/24" dev eth0 && arp -s "$peer" "$peermac" ||
		{ echo "KSOC-GUEST: net setup FAILED"; fail=1; }
	echo "KSOC-UDP: sending"
	if ksoc-udp send "$peer" 7777 "$count" "$size"; then
		echo "KSOC-GUEST: net ok ($count datagrams of $size bytes came back unchanged)"
	else
		echo "KSOC-GUEST: net FAILED"; fail=1
	fi
	s=/sys/class/net/eth0/statistics
	echo "KSOC-NETSTAT: tx_packets $(cat $s/tx_packets) tx_bytes $(cat $s/tx_bytes) rx_packets $(cat $s/rx_packets) rx_bytes $(cat $s/rx_bytes)"
	if [ -n "$secs" ]; then
		echo "KSOC-UDP: run starts"
		# Carrier changes (a vhost-user backend lost and back).
		( was=; while :; do
			c=$(cat /sys/class/net/eth0/carrier 2>/dev/null)
			if [ "$c" != "$was" ]; then
				[ "$c" = 1 ] && echo "KSOC-LINK: up" || echo "KSOC-LINK: down"
				was=$c
			fi
			sleep 0.2
		  done ) &
		watch=$!
		ksoc-udp run "$peer" 7777 "$secs" || { echo "KSOC-GUEST: net run FAILED"; fail=1; }
		kill $watch
	fi
elif ip link set eth0 up 2>/dev/null && udhcpc -i eth0 -n -q -t 10 -T 1 -s /bin/true >/dev/null 2>&1; then
	echo "KSOC-GUEST: net ok (DHCP lease on eth0)"
else
	echo "KSOC-GUEST: net FAILED"; fail=1
fi

# ksoc_guest=bench: sequential read throughput of the disk (64 MiB, direct).
if [ "$mode" = bench ] && [ -b /dev/vda ]; then
	t0=$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct 2>/dev/null
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "KSOC-GUEST: read 64 MiB in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }') ms"
fi

grep -i virtio /proc/interrupts | awk '{ n = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; print "KSOC-GUEST: irq", $NF, n }'
if [ $fail = 0 ]; then
	echo "KSOC-GUEST: all checks passed"
else
	echo "KSOC-GUEST: checks FAILED"
fi
if grep -q 'ksoc_dmesg=1' /proc/cmdline; then
	dmesg | sed 's/^/KSOC-DMESG: /'
fi
dirty=$(sed -n 's/.*ksoc_dirty=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ "$mode" = stay ] && [ -n "$dirty" ]; then
	guest-dirtier "$dirty" &
	n=0
	while :; do
		sleep 3
		n=$((n + 1))
		got=$(dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | md5sum)
		if [ "$want" = "$got" ]; then
			echo "KSOC-GUEST: disk still ok ($n)"
		else
			echo "KSOC-GUEST: disk MISMATCH ($n)"
		fi
	done
fi
if [ "$mode" = stay ]; then
	while :; do sleep 1; done
fi
if [ "$mode" = shell ]; then
	# The ACPI power button (libvirt's shutdown and reboot): the first
	# event of its input device powers off.
	for e in /sys/class/input/event*; do
		grep -q 'Power Button' "$e/device/name" 2>/dev/null || continue
		( dd if="/dev/input/${e##*/}" bs=24 count=1 > /dev/null 2>&1
		  echo "KSOC-GUEST: power button" > /dev/console
		  poweroff -f ) &
	done
	echo "KSOC-GUEST: shell on the console"
	while :; do setsid cttyhack sh; done
fi
poweroff -f
