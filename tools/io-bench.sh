#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the rig (make bench): the I/O backends of
# selftests/kvm-soc/io_vhost_net.sh and io_vhost_user.sh (vhost-net with a tap peer, DPDK
# testpmd's vhost PMD) under -accel kvm and -accel kvm-soc, interleaved:
# the guest's UDP throughput (ksoc-udp, datagrams echoed back) and the
# CPU time spent while the traffic flows, from the kernel's accounting
# (/proc/<pid>/task/*/stat: utime + stime - guest_time, in ticks):
#   host side, outside guest mode: native, the whole QEMU process (vhost's
#     worker is one of its threads) and testpmd; kvm-soc, the host's
#     helper process for the VM (its vCPU threads out of guest mode);
#   SoC side (kvm-soc only; a DPU's cores, not the host's): QEMU, with
#     vhost's worker, and testpmd;
#   and of the host side, the vCPU threads alone (native QEMU's threads
#     with guest time, kvm-soc's helper): the exits the host's KVM handles
#     under both.
# Medians and ratios.  A benchmark: it asserts nothing.  IO_BENCH_ROUNDS,
# IO_BENCH_COUNT (datagrams each way) and IO_BENCH_BACKENDS choose the runs.
top=${KSOC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
rounds=${IO_BENCH_ROUNDS:-3}
count=${IO_BENCH_COUNT:-20000}
size=1400
udp=$top/build/tools/ksoc-udp
gmac=52:54:00:4b:53:02
pmac=02:4b:53:00:00:01
hz=$(getconf CLK_TCK)
lc=$(($(nproc) - 1))
export GUEST_TIMEOUT=${GUEST_TIMEOUT:-300}
[ -x "$udp" ] || { echo "io-bench: no $udp (make selftests)"; exit 1; }
modprobe -d "${KSOC_KROOT:-/}" vhost_net 2> /dev/null
modprobe -d "${KSOC_KROOT:-/}" tun 2> /dev/null

# CPU ticks of processes outside guest mode: utime + stime - guest_time
# over all their threads (stat fields 14, 15 and 43, counted after the
# name, which may hold blanks: "CPU 0/KVM").
ticks() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/stat 2> /dev/null; done |
		sed 's/^.*) //' | awk '{ s += $12 + $13 - $41 } END { print s + 0 }'
}
# The same for native QEMU's vCPU threads alone (the threads with guest
# time; QEMU names them only with debug-threads=on): the exits that KVM
# handles in the kernel, which kvm-soc's host helper pays too.
vcpu_ticks() {
	cat /proc/"$1"/task/*/stat 2> /dev/null |
		sed 's/^.*) //' | awk '$41 > 0 { s += $12 + $13 - $41 } END { print s + 0 }'
}
ns=ksoc-iob
nsx() { ip netns exec $ns "$@"; }
vu=/tmp/iob-vu.sock
# Logs where the rig keeps results (after the run), else /tmp.
logs=${KSOC_OUT:-/tmp}/io-bench
mkdir -p "$logs"

# One guest run: <backend> <accel> <round>; prints "ms host soc vcpu"
# (vcpu: native, QEMU's vCPU threads; kvm-soc, the helper, as host).
one() {
	local be=$1 accel=$2 log=$logs/$1-$2-$3.log net shared=0 tpid= epid= qpid helper
	local a_host a_soc a_vcpu b_host b_soc b_vcpu t0 t1 i
	if [ "$be" = vhost-net ]; then
		ip netns del $ns 2> /dev/null
		ip netns add $ns
		nsx sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		nsx ip tuntap add dev kt0 mode tap vnet_hdr
		nsx ip link set kt0 address $pmac up
		nsx ip addr add 10.9.0.1/24 dev kt0
		nsx ip neigh replace 10.9.0.2 lladdr $gmac dev kt0 nud permanent
		ip netns exec $ns "$udp" echo 7777 > /dev/null 2>&1 &
		epid=$!
		net="-netdev tap,id=n0,ifname=kt0,script=no,downscript=no,vhost=on -device virtio-net-pci,netdev=n0,mac=$gmac,romfile="
		run=(ip netns exec $ns)
	else
		rm -f "$vu"
		# (testpmd quits at EOF on its stdin: give it one that stays open.)
		# (Its lcores on the last CPU: of its own in a 2-CPU rig.)
		tail -f /dev/null | dpdk-testpmd --lcores=0@$lc,1@$lc --no-huge -m 128 --no-pci \
			--file-prefix=ksoc-iob --vdev "net_vhost0,iface=$vu,queues=1" -- \
			--forward-mode=5tswap --nb-cores=1 --total-num-mbufs=2048 --auto-start \
			> "$logs/tp-$2-$3.log" 2>&1 &
		tpid=$!
		for ((i = 0; i < 600; i++)); do [ -S "$vu" ] && break; sleep 0.1; done
		net="-chardev socket,id=vu0,path=$vu -netdev vhost-user,id=n0,chardev=vu0 -device virtio-net-pci,netdev=n0,mac=$gmac,romfile="
		shared=1
		run=()
	fi
	GUEST_QUIET=1 GUEST_LOG=$log GUEST_NET=$net GUEST_SHARED_RAM=$shared \
	GUEST_APPEND="ipv6.disable=1 ksoc_udp=10.9.0.2,10.9.0.1,$pmac,$count,$size" \
		"${run[@]}" bash "$top/tools/linux-guest.sh" "$accel" 1 > "$log.out" 2>&1 &
	local gpid=$!
	# Snapshots when the guest starts and ends its traffic (its console,
	# polled: a few tens of ms late at either end, of seconds).
	a_host= b_host=
	while kill -0 $gpid 2> /dev/null; do
		if [ -z "$a_host" ] && grep -q '^KSOC-UDP: sending' "$log" 2> /dev/null; then
			# The guest's QEMU (the only one here) and, for kvm-soc,
			# the host's helper of its VM (the newest: the rig's
			# control helper and held VMs have older ones).
			qpid=$(pgrep -x qemu-system-x86 | head -1)
			helper=$(pgrep -n -f kvm-soc-vmctx)
			if [ "$accel" = kvm ]; then
				a_host=$(ticks $qpid $tpid) a_soc=0 a_vcpu=$(vcpu_ticks $qpid)
			else
				a_host=$(ticks $helper) a_soc=$(ticks $qpid $tpid) a_vcpu=$a_host
			fi
		fi
		if [ -n "$a_host" ] && grep -q '^KSOC-UDP: sent' "$log" 2> /dev/null; then
			if [ "$accel" = kvm ]; then
				b_host=$(ticks $qpid $tpid) b_soc=0 b_vcpu=$(vcpu_ticks $qpid)
			else
				b_host=$(ticks $helper) b_soc=$(ticks $qpid $tpid) b_vcpu=$b_host
			fi
			break
		fi
		sleep 0.05
	done
	wait $gpid
	local rc=$?
	[ -n "$tpid" ] && { kill -TERM $tpid; wait $tpid; pkill -f 'tail -f /dev/null'; }
	[ -n "$epid" ] && { kill -TERM $epid; wait $epid; ip netns del $ns; }
	local ms
	ms=$(sed -n 's/^KSOC-UDP: sent.* 0 missing, \([0-9]*\) ms.*/\1/p' "$log" | tr -d '\r')
	if [ $rc != 0 ] || [ -z "$ms" ] || [ -z "$b_host" ]; then
		echo "io-bench: $be $accel round $3 failed (exit $rc)" >&2
		tail -5 "$log.out" >&2
		[ "$be" = vhost-user ] && tail -5 "$logs/tp-$accel-$3.log" >&2
		return 1
	fi
	echo "$ms $((b_host - a_host)) $((b_soc - a_soc)) $((b_vcpu - a_vcpu))"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "I/O backends: $count UDP datagrams of $size bytes each way, median of $rounds interleaved runs"
echo "(CPU: ticks of 1/$hz s outside guest mode while the traffic flows; throughput: both directions)"
printf '%-10s %-8s %10s %12s %12s\n' backend accel MB/s "host CPU %" "SoC CPU %"
for be in ${IO_BENCH_BACKENDS:-vhost-net vhost-user}; do
	if [ $be = vhost-user ] && ! command -v dpdk-testpmd > /dev/null; then
		echo "io-bench: no dpdk-testpmd (make deps)"; continue
	fi
	declare -A ms=() host=() soc=() vcpu=()
	for r in $(seq "$rounds"); do
		for accel in kvm kvm-soc; do
			res=$(one $be $accel "$r") || continue
			read -r m h s v <<< "$res"
			# Each round as it ends (a cut-short run keeps these).
			echo "# $be $accel round $r: $m ms, host $h ticks (vCPU threads $v), SoC $s ticks"
			ms[$accel]+="$m "
			vcpu[$accel]+="$(awk -v t="$v" -v m="$m" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * t / hz / (m / 1000) }') "
			host[$accel]+="$(awk -v t="$h" -v m="$m" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * t / hz / (m / 1000) }') "
			soc[$accel]+="$(awk -v t="$s" -v m="$m" -v hz="$hz" 'BEGIN { printf "%.1f", 100 * t / hz / (m / 1000) }') "
		done
	done
	for accel in kvm kvm-soc; do
		m=$(echo "${ms[$accel]}" | median)
		[ -n "$m" ] || { printf '%-10s %-8s %10s\n' $be $accel failed; continue; }
		printf '%-10s %-8s %10.1f %12s %12s\n' $be $accel \
			"$(awk -v m="$m" -v c="$count" -v s="$size" 'BEGIN { print 2 * c * s / 1e6 / (m / 1000) }')" \
			"$(echo "${host[$accel]}" | median)" "$([ $accel = kvm ] && echo - || echo "${soc[$accel]}" | median)"
	done
	# Of the host column, the vCPU threads outside guest mode: the exits
	# (kicks among them) that the host's KVM handles under either accel.
	echo "$be host CPU % in vCPU threads outside guest mode: kvm $(echo "${vcpu[kvm]}" | median), kvm-soc $(echo "${vcpu[kvm-soc]}" | median)"
	mk=$(echo "${ms[kvm]}" | median) msoc=$(echo "${ms[kvm-soc]}" | median)
	hk=$(echo "${host[kvm]}" | median) hs=$(echo "${host[kvm-soc]}" | median)
	if [ -n "$mk" ] && [ -n "$msoc" ]; then
		# (A ">" among printf's arguments would be a redirection.)
		awk -v a="$mk" -v b="$msoc" -v hk="$hk" -v hs="$hs" -v be=$be 'BEGIN {
			r = "-"; if (hk + 0 != 0) r = sprintf("%.3f", hs / hk)
			printf "%-10s kvm-soc / kvm: throughput %.2f (goal >= 0.9), host CPU %s (goal <= 0.10)\n",
				be, a / b, r }'
	fi
	unset ms host soc vcpu
done
