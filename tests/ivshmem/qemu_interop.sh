#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/kvm-soc-ivshmem-server against the real client: Debian's QEMU with
# an ivshmem-doorbell device in each of two machines (host id 0, SoC id 1),
# as the ivshmem topology runs them.  QEMU refuses to start when the
# server's greeting is wrong, so a machine that comes up and shows the BAR
# is a machine that took the protocol.  The machines stay paused (-S):
# no guest code runs, nothing is loaded into any kernel.  TAP output.
#
#   tests/ivshmem/qemu_interop.sh SERVER_BINARY
set -uo pipefail

server=$(readlink -f "${1:?usage: qemu_interop.sh SERVER_BINARY}")
here=$(cd "$(dirname "$0")" && pwd)
qmp=$here/../../tools/qmp.py
dir=$(mktemp -d /tmp/ksoc-ivq.XXXXXX)
size=$((4 << 20))
n=0 fails=0
spid= hpid= cpid=

ok() { # <0|1> <description>
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		fails=$((fails + 1))
	fi
}

cleanup() {
	for p in $hpid $cpid $spid; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# wait_for <seconds> <command...>
wait_for() {
	local t=$(($1 * 10))
	shift
	while [ $t -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}

# machine <name> <socket>: a paused q35 machine with an ivshmem-doorbell.
machine() {
	qemu-system-x86_64 -M q35 -accel tcg -S -nodefaults -display none -m 64 \
		-chardev "socket,path=$2,id=iv" \
		-device ivshmem-doorbell,chardev=iv,vectors=2,id=ivshmem \
		-qmp "unix:$dir/$1.qmp,server=on,wait=off" \
		> "$dir/$1.log" 2>&1 &
	echo $!
}

# bar2 <name>: the size of the ivshmem device's BAR2 as the machine sees it.
bar2() {
	python3 "$qmp" "$dir/$1.qmp" query-pci 2>/dev/null | python3 -c '
import json, sys
for bus in json.load(sys.stdin):
    for d in bus["devices"]:
        if d["id"]["vendor"] == 0x1af4 and d["id"]["device"] == 0x1110:
            for r in d["regions"]:
                if r["bar"] == 2:
                    print(r["size"])
' 2>/dev/null
}

logged() { grep -q "$1" "$dir/server.log"; }

echo "TAP version 13"
"$server" -m "$dir/shm" -l $size -n 2 -s "0:$dir/host.sock" -s "1:$dir/soc.sock" \
	2> "$dir/server.log" &
spid=$!
wait_for 5 test -S "$dir/soc.sock"
ok $? "server listens on the host and SoC sockets"

hpid=$(machine host "$dir/host.sock")
cpid=$(machine soc "$dir/soc.sock")
wait_for 20 logged "connect 0"
ok $? "the host machine's QEMU connected as peer 0"
wait_for 20 logged "connect 1"
ok $? "the SoC machine's QEMU connected as peer 1"
wait_for 20 test -S "$dir/soc.qmp"
b=$(bar2 host) c=$(bar2 soc)
[ "$b" = $size ] && [ "$c" = $size ]
ok $? "both machines show the shared memory as a $size-byte BAR2 (host: ${b:-none}, SoC: ${c:-none})"

kill -9 "$cpid"
wait "$cpid" 2>/dev/null
cpid=
wait_for 10 logged "disconnect 1"
ok $? "a killed SoC QEMU is seen as peer 1 leaving"
kill -0 "$hpid" 2>/dev/null
ok $? "the host machine keeps running without its peer"

cpid=$(machine soc "$dir/soc.sock")
wait_for 20 sh -c "[ \$(grep -c 'connect 1' '$dir/server.log') -ge 2 ] && grep -q 'disconnect 1' '$dir/server.log'"
wait_for 20 test -S "$dir/soc.qmp"
c=$(bar2 soc)
[ "$(grep -c '^kvm-soc-ivshmem-server: connect 1$' "$dir/server.log")" = 2 ] && [ "$c" = $size ]
ok $? "a restarted SoC QEMU reconnects as peer 1 and sees the BAR"

# More SoC restarts: the host machine's QEMU must come through them
# (QEMU 10.0's ivshmem corrupts its heap when a peer id disconnects and
# connects again; the server never tells it, see the server's comment).
for i in 1 2 3 4 5; do
	kill -9 "$cpid"
	wait "$cpid" 2>/dev/null
	cpid=$(machine soc "$dir/soc.sock")
	wait_for 20 sh -c "[ \$(grep -c '^kvm-soc-ivshmem-server: connect 1$' '$dir/server.log') -ge $((i + 2)) ]"
done
b=$(bar2 host)
kill -0 "$hpid" 2>/dev/null && [ "$b" = $size ] && ! grep -q 'malloc\|corrupt' "$dir/host.log"
ok $? "the host machine's QEMU comes through 5 more SoC restarts (BAR2 ${b:-gone})"

# A third machine for a taken id: the server refuses it and QEMU fails.
qemu-system-x86_64 -M q35 -accel tcg -S -nodefaults -display none -m 64 \
	-chardev "socket,path=$dir/soc.sock,id=iv" \
	-device ivshmem-doorbell,chardev=iv,vectors=2 > "$dir/third.log" 2>&1 &
tpid=$!
wait_for 10 logged "refuse 1"
ok $? "a second SoC machine is refused while peer 1 is taken"
kill -9 "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null

python3 "$qmp" "$dir/host.qmp" quit > /dev/null 2>&1
python3 "$qmp" "$dir/soc.qmp" quit > /dev/null 2>&1
wait "$hpid" "$cpid" 2>/dev/null
hpid= cpid=
wait_for 10 sh -c "[ \$(grep -c 'disconnect' '$dir/server.log') -ge 3 ]"
kill -0 "$spid" 2>/dev/null
ok $? "the server outlives both machines"
kill -TERM "$spid"
wait "$spid"
rc=$?
spid=
[ $rc = 0 ] && ! [ -e "$dir/host.sock" ]
ok $? "SIGTERM stops the server (status $rc) and removes its sockets"

if [ $fails -gt 0 ]; then
	echo "# server log:"
	sed 's/^/#   /' "$dir/server.log"
	for f in "$dir"/*.log; do
		[ "$f" = "$dir/server.log" ] || sed "s|^|#   $(basename "$f"): |" "$f"
	done
fi
echo "1..$n"
echo "# qemu_interop: $((n - fails)) passed, $fails failed"
[ $fails = 0 ]
