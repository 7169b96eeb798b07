#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's vhost-net serves a kvm-soc guest: QEMU's virtio-net with
# vhost=on, a tap peer in a network namespace (QEMU started in it).  The
# Linux guest sends datagrams that must all come back unchanged
# (ksoc-udp; the peer echoes them); the guest's interface counts must be
# the tap's, the same run under -accel kvm must end the same, and
# kvm-soc's counters must show the data path as ioeventfd kicks and irqfd
# triggers: ten times the traffic costs no more exits.  TAP.
#
# rig: one CPU
top=${KSOC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tools/io-lib.sh
. "$top/tools/io-lib.sh"

# ---- vhost-net ---------------------------------------------------------
modprobe -d "${KSOC_KROOT:-/}" vhost_net 2>/dev/null || modprobe vhost_net 2>/dev/null
modprobe -d "${KSOC_KROOT:-/}" tun 2>/dev/null || modprobe tun 2>/dev/null
[ -c /dev/vhost-net ] && [ -c /dev/net/tun ]
ok $? "the rig has /dev/vhost-net and /dev/net/tun"

ns=ksoc-vn
nsx() { ip netns exec $ns "$@"; }
# A namespace with a persistent tap that QEMU (started inside it) opens:
# the peer's address, MAC and neighbour entry are static and IPv6 is off,
# so the only frames are the test's datagrams.
peer_up() {
	ip netns del $ns 2> /dev/null
	ip netns add $ns &&
	nsx sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 &&
	nsx ip link set lo up &&
	nsx ip tuntap add dev kt0 mode tap vnet_hdr &&
	nsx ip link set kt0 address $pmac up &&
	nsx ip addr add $pip/24 dev kt0 &&
	nsx ip neigh replace $gip lladdr $gmac dev kt0 nud permanent || return 1
	# (Not through nsx: $! must be the echo itself, which ip execs.)
	ip netns exec $ns "$udp" echo 7777 > "$d/vn-echo.log" 2>&1 &
	echo_pid=$!
	sleep 0.3
}
peer_down() { # <tag>: stop the echo, keep the tap's counts
	kill -TERM "$echo_pid" 2> /dev/null
	wait "$echo_pid" 2> /dev/null
	local s=/sys/class/net/kt0/statistics
	nsx sh -c "echo rx_packets \$(cat $s/rx_packets) rx_bytes \$(cat $s/rx_bytes) tx_packets \$(cat $s/tx_packets) tx_bytes \$(cat $s/tx_bytes)" > "$d/vn-tap-$1"
	cp $d/vn-echo.log "$d/vn-echo-$1"
	ip netns del $ns
}
vn_run() { # <accel> <count> <tag>
	peer_up || { echo "# network namespace setup failed"; return 1; }
	GUEST_QUIET=1 GUEST_LOG=$d/vn-$3.log GUEST_APPEND="$(append "$2")" \
	GUEST_NET="-netdev tap,id=n0,ifname=kt0,script=no,downscript=no,vhost=on -device virtio-net-pci,netdev=n0,mac=$gmac,romfile=" \
		nsx bash "$guest" "$1" 1 > $d/vn-$3.out 2>&1
	local rc=$?
	peer_down "$3"
	sed 's/^/# /' $d/vn-$3.out | grep -v '^# KSOC-GUEST: irq'
	return $rc
}

vn_run kvm-soc $big vn-soc
ok $? "vhost-net, -accel kvm-soc: $big datagrams of $size bytes came back unchanged, the guest's checks pass"
! grep -E 'falling back|vhost.*(fail|error)' $d/vn-vn-soc.log
ok $? "QEMU ran vhost-net (no fallback to userspace virtio)"
want="echo: datagrams $big bytes $((big * size))"
grep -qx "$want" $d/vn-echo-vn-soc
ok $? "the tap peer echoed exactly them ($(tail -1 $d/vn-echo-vn-soc))"
# Frames: the guest's transmit counts are the tap's receive counts and
# the other way round.
same_counts $d/vn-vn-soc.log $d/vn-tap-vn-soc
ok $? "packets and bytes match on both ends ($big frames each way)"

vn_run kvm-soc $small vn-small > /dev/null
rc=$?
deltas $d/vn-vn-soc.log $d/vn-vn-small.log
[ $rc = 0 ] && [ $dx -lt $(( (big - small) / 20 )) ] && [ $dirq -gt 0 ] && [ $dkick -gt 0 ]
ok $? "the data path is irqfds and ioeventfds: $((big - small)) more datagrams, $dx more I/O exits, $dirq more irqfd triggers, $dkick more kicks"

vn_run kvm $big vn-kvm > /dev/null
ok $? "vhost-net, -accel kvm: the same guest passes"
same_end $d/vn-vn-kvm.log $d/vn-tap-vn-kvm $d/vn-vn-soc.log $d/vn-tap-vn-soc
ok $? "and ends the same under both accelerators (traffic, guest and tap counts)"

echo "1..$n"
[ $fails = 0 ]
