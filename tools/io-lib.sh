#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Shared by selftests/kvm-soc/io_vhost_net.sh and io_vhost_user.sh (sourced
# after they set $top): the guest's traffic (ksoc_udp= on its command
# line, tools/guest-init.sh), TAP output, and readers of what the guest,
# QEMU and the peers said.  Logs go where the rig keeps results.
guest=$top/tools/linux-guest.sh
qemu=$(cat "$top/build/qemu-path" 2>/dev/null)
udp=$top/build/tools/ksoc-udp
# Logs where the rig's results are (kept after the run), else /tmp.
d=${KSOC_OUT:-/tmp}/$(basename "$0" .sh)
export GUEST_TIMEOUT=${GUEST_TIMEOUT:-300}
mkdir -p "$d"
n=0
fails=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi; }
echo "TAP version 13"
if [ ! -x "$qemu" ] || [ ! -x "$udp" ]; then
	echo "1..0 # SKIP no patched QEMU or ksoc-udp (make qemu selftests)"
	exit 0
fi

size=1400
big=2000	# datagrams of the main runs
small=200	# the run that shows exits do not grow with traffic
gmac=52:54:00:4b:53:02
pmac=02:4b:53:00:00:01
gip=10.9.0.2
pip=10.9.0.1
append() { # <count> [seconds]: the guest's side of the traffic
	echo "ipv6.disable=1 ksoc_udp=$gip,$pip,$pmac,$1,$size${2:+,$2}"
}
# The numbers of a guest run's counters line: exits io mmio intr irqfd
# resamples kicks.
counters() { grep 'kvm-soc: exits' "$1" | tail -1 | sed 's/.*kvm-soc: exits //' | tr -c '0-9\n' ' ' | awk '{ print $1, $2, $3, $4, $5, $6, $7 }'; }
field() { echo "$1" | awk -v i="$2" '{ print $i }'; }
# What the guest said of its traffic: the KSOC-UDP line without its time.
verdict() { grep '^KSOC-UDP: sent' "$1" | tr -d '\r' | sed 's/, [0-9]* ms$//'; }
netstat() { grep '^KSOC-NETSTAT: ' "$1" | tr -d '\r'; }
# same_end <guest log> <peer counts> <guest log> <peer counts>: two runs
# (one per accelerator) ended the same: the guest's traffic verdict, its
# interface counts and the peer's counts.
same_end() {
	[ -n "$(verdict "$1")" ] && [ "$(verdict "$1")" = "$(verdict "$3")" ] &&
		[ "$(netstat "$1")" = "$(netstat "$3")" ] && diff -q "$2" "$4" > /dev/null
}
gstat() { netstat "$1" | awk -v k="$2" '{ for (i = 2; i < NF; i++) if ($i == k) print $(i + 1) }'; }

# same_counts <guest log> <peer file>: the guest's interface counts are
# the peer's, mirrored (the peer file: "rx_packets N rx_bytes B
# tx_packets N tx_bytes B", the peer's own view), and it got $big frames.
same_counts() {
	local p
	p=$(cat "$2")
	echo "# guest: $(netstat "$1")"
	echo "# peer:  $p"
	[ "$(gstat "$1" tx_packets)" = "$(field "$p" 2)" ] &&
		[ "$(gstat "$1" tx_bytes)" = "$(field "$p" 4)" ] &&
		[ "$(gstat "$1" rx_packets)" = "$(field "$p" 6)" ] &&
		[ "$(gstat "$1" rx_bytes)" = "$(field "$p" 8)" ] &&
		[ "$(field "$p" 2)" = "$big" ]
}
# deltas <log of $big datagrams> <log of $small>: sets dx (I/O exits: io +
# mmio), dirq (irqfd triggers) and dkick (ioeventfd kicks) to what the
# extra traffic added.
deltas() {
	local c1 c2
	c1=$(counters "$1")
	c2=$(counters "$2")
	echo "# counters, $big datagrams: exits io mmio intr irqfd resamples kicks = $c1"
	echo "# counters, $small datagrams: $c2"
	dx=$(( $(field "$c1" 2) + $(field "$c1" 3) - $(field "$c2" 2) - $(field "$c2" 3) ))
	dirq=$(( $(field "$c1" 5) - $(field "$c2" 5) ))
	dkick=$(( $(field "$c1" 7) - $(field "$c2" 7) ))
}
