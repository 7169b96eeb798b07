#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DPDK's vhost-user serves a kvm-soc guest: dpdk-testpmd's vhost PMD
# (Debian's dpdk-dev, --no-huge) swapping addresses and ports, so each of
# the Linux guest's datagrams comes back (ksoc-udp).  testpmd's counts
# must be the guest's, the same run under -accel kvm must end the same,
# and kvm-soc's counters must show the data path as ioeventfd kicks and
# irqfd triggers.  testpmd killed mid-traffic: the guest's link goes down,
# QEMU says so, and a restarted testpmd is reconnected to.  TAP.
#
# rig: one CPU
# rig: timeout 1500
top=${KSOC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tools/io-lib.sh
. "$top/tools/io-lib.sh"

# ---- DPDK vhost-user (testpmd) -----------------------------------------
# testpmd's vhost PMD is the socket's server; QEMU the client, which
# reconnects.  One CPU in the rig: both lcores share it with the guest
# (its forwarding lcore polls; at a lower priority it starved and
# datagrams were lost).  So it forwards only from the guest's userspace
# on until the guest's datagrams are all back: a lcore polling from
# QEMU's start made each boot and shutdown about twice as long.  The
# vhost-user connection does not need it (the PMD's control thread
# answers QEMU whether or not it forwards).  Started only once the guest
# was already sending, it lost the first 2 datagrams (seen twice).
vu=/tmp/io-vu.sock
tp_start() { # <tag> [now]: forwarding starts at once with "now", else tp_go
	rm -f "$vu" /tmp/io-tp.fifo
	mkfifo /tmp/io-tp.fifo
	dpdk-testpmd --lcores=0@0,1@0 --no-huge -m 128 --no-pci --file-prefix=ksoc-io \
		--vdev "net_vhost0,iface=$vu,queues=1" -- -i --forward-mode=5tswap \
		--nb-cores=1 --total-num-mbufs=2048 < /tmp/io-tp.fifo > "$d/tp-$1.log" 2>&1 &
	tp_pid=$!
	exec 7> /tmp/io-tp.fifo
	[ "$2" = now ] && echo start >&7
	local i
	for ((i = 0; i < 600; i++)); do [ -S "$vu" ] && return 0; sleep 0.1; done
	echo "# testpmd did not create $vu:"; sed 's/^/# /' "$d/tp-$1.log" | tail -20
	return 1
}
tp_stop() { # <tag>: its port statistics, then quit
	echo "show port stats 0" >&7
	echo stop >&7
	echo quit >&7
	exec 7>&-
	wait "$tp_pid"
	local s
	s=$(grep -E 'RX-packets|TX-packets' "$d/tp-$1.log" | grep -E 'bytes' | tail -2 | tr -s ' ' | tr '\n' ' ')
	# "RX-packets: N RX-missed: M RX-bytes: B TX-packets: N TX-errors: E TX-bytes: B"
	echo "$s" | awk '{ print "rx_packets", $2, "rx_bytes", $6, "tx_packets", $8, "tx_bytes", $12 }' > "$d/vu-tp-$1"
}
tp_go() { # <guest log> <guest pid> [stop]: forwarding starts when the
	# guest's userspace is up, and with "stop" ends when its datagrams
	# are all back
	local i on=
	for ((i = 0; i < 3000; i++)); do
		if [ -z "$on" ] && grep -qs 'KSOC-GUEST: userspace up' "$1"; then
			echo start >&7
			on=1
			[ "$3" = stop ] || return 0
		fi
		if [ -n "$on" ] && grep -qs '^KSOC-UDP: sent ' "$1"; then
			echo stop >&7
			return 0
		fi
		kill -0 "$2" 2> /dev/null || break
		sleep 0.2
	done
	[ -n "$on" ] || echo start >&7
}
vu_net() {
	echo "-chardev socket,id=vu0,path=$vu,reconnect-ms=500 -netdev vhost-user,id=n0,chardev=vu0 -device virtio-net-pci,netdev=n0,mac=$gmac,romfile="
}
vu_run() { # <accel> <count> <tag>
	tp_start "$3" || return 1
	rm -f "$d/vu-$3.log"
	GUEST_QUIET=1 GUEST_LOG=$d/vu-$3.log GUEST_APPEND="$(append "$2")" GUEST_NET="$(vu_net)" \
	GUEST_SHARED_RAM=1 bash "$guest" "$1" 1 > $d/vu-$3.out 2>&1 &
	local gp=$! rc
	tp_go "$d/vu-$3.log" $gp stop
	wait $gp
	rc=$?
	tp_stop "$3"
	sed 's/^/# /' $d/vu-$3.out | grep -v '^# KSOC-GUEST: irq'
	return $rc
}

if ! command -v dpdk-testpmd > /dev/null; then
	ok 1 "dpdk-testpmd is installed (Debian's dpdk-dev; make deps)"
else
	vu_run kvm-soc $big vu-soc
	ok $? "vhost-user (testpmd), -accel kvm-soc: $big datagrams of $size bytes came back unchanged, the guest's checks pass"
	same_counts $d/vu-vu-soc.log $d/vu-tp-vu-soc
	ok $? "testpmd forwarded exactly them: packets and bytes match on both ends"

	vu_run kvm-soc $small vu-small > /dev/null
	rc=$?
	deltas $d/vu-vu-soc.log $d/vu-vu-small.log
	# (testpmd polls its rings, so it tells the guest not to kick: kicks
	# stay few; its interrupts to the guest are irqfd triggers.)
	[ $rc = 0 ] && [ $dx -lt $(( (big - small) / 20 )) ] && [ $dirq -gt 0 ]
	ok $? "the data path is irqfds, no exits: $((big - small)) more datagrams, $dx more I/O exits, $dirq more irqfd triggers, $dkick more kicks"

	# The same run under -accel kvm: a fourth guest boot (about 100 s of
	# the one-CPU rig), left to make check-full; io_vhost_net.sh compares
	# the accelerators in make check.
	if [ "${KSOC_FOCUS:-0}" = 1 ]; then
		echo "# focused set (make check): the same run under -accel kvm not run here; make check-full runs it"
	else
		vu_run kvm $big vu-kvm > /dev/null
		ok $? "vhost-user, -accel kvm: the same guest passes"
		same_end $d/vu-vu-kvm.log $d/vu-tp-vu-kvm $d/vu-vu-soc.log $d/vu-tp-vu-soc
		ok $? "and ends the same under both accelerators (traffic, guest and testpmd counts)"
	fi

	# testpmd killed mid-traffic, then started again.
	nvms() { find /sys/kernel/debug/kvm -mindepth 1 -maxdepth 1 -type d 2> /dev/null | wc -l; }
	vms0=$(nvms)
	# The guest's lines: the console and QEMU's stderr share one pipe, and
	# QEMU's message about the lost backend can land inside the guest's
	# "KSOC-LINK: down" (seen once: "KSOC-LINK: doqemu-system-x86_64: ...",
	# then "wn").  QEMU's lines taken out, the guest's are whole again.
	guest_lines() { sed -z 's/qemu-system-x86_64: [^\n]*\n//g' "$d/vu-kill.log" 2> /dev/null; }
	last_ok() { guest_lines | grep -aE '^KSOC-UDP: (t=|run done)' | tail -1 | sed -n 's/.* ok=\([0-9]*\).*/\1/p'; }
	wait_ok() { # <more than> <seconds>
		local i
		for ((i = 0; i < $2 * 5; i++)); do
			[ "$(last_ok)" -gt "$1" ] 2> /dev/null && return 0
			kill -0 "$gpid" 2> /dev/null || return 1
			sleep 0.2
		done
		return 1
	}
	tp_start kill
	rm -f "$d/vu-kill.log"
	GUEST_QUIET=1 GUEST_LOG=$d/vu-kill.log GUEST_APPEND="$(append 20 100)" GUEST_NET="$(vu_net)" \
		bash "$guest" kvm-soc 1 > $d/vu-kill.out 2>&1 &
	gpid=$!
	tp_go "$d/vu-kill.log" $gpid
	wait_ok 20 240
	ok $? "a guest's traffic flows through testpmd ($(last_ok) answered)"
	kill -9 "$tp_pid"
	wait "$tp_pid" 2> /dev/null
	exec 7>&-
	sleep 3
	a=$(last_ok)
	sleep 3
	b=$(last_ok)
	echo "# answered: $a, 3 s later $b"
	[ -n "$a" ] && [ "$a" = "$b" ] && guest_lines | grep -aq '^KSOC-LINK: down'
	ok $? "testpmd killed: nothing comes back and the guest's link is down"
	grep -iE 'vhost|disconnect' $d/vu-kill.log | grep -v '^KSOC' | head -3 | sed 's/^/# QEMU: /'
	grep -v '^KSOC' $d/vu-kill.log | grep -qiE 'vhost.*(disconnect|closed|lost|fail)|Failed to read msg|connection lost'
	ok $? "QEMU reports the lost backend"
	kill -0 "$gpid" 2> /dev/null
	ok $? "QEMU and the guest keep running"
	tp_start kill2 now
	wait_ok "${b:-0}" 120
	ok $? "a restarted testpmd is reconnected to and traffic flows again ($b, then $(last_ok) answered)"
	wait "$gpid"
	rc=$?
	tp_stop kill2
	sed 's/^/# /' $d/vu-kill.out | grep -v '^# KSOC-GUEST: irq'
	guest_lines | grep -a '^KSOC-LINK' | tr '\n' ' ' | sed 's/^/# /'; echo
	[ $rc = 0 ] && guest_lines | grep -aq '^KSOC-UDP: run done'
	ok $? "the guest finishes its run and its checks, QEMU exits cleanly"
	[ "$(nvms)" = "$vms0" ]
	ok $? "the host side freed the VM ($(nvms) KVM VMs, $vms0 before)"
fi

echo "1..$n"
[ $fails = 0 ]
