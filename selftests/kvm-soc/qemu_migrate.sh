#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Live migration with the patched QEMU, two QEMUs in this machine joined
# by a local socket: a running 2-vCPU Linux guest (virtio-blk on an
# iothread, virtio-net) that keeps 64 MiB of its memory dirty and checked
# (guest-dirtier) and re-reads its disk, migrates kvm-soc -> kvm-soc (with
# QEMU's dirty bitmaps, then with its dirty ring), kvm -> kvm-soc and
# kvm-soc -> kvm.  Each time: the migration completes,
# the destination runs on and its guest's checks go on passing (a page the
# migration lost fails the next pass), the source ends in postmigrate and
# exits on quit, and every KVM VM and host-kvm helper it had is gone.
# Faults: migrate_cancel and a destination killed mid-way leave the source
# guest running with its checks passing; a stream cut short or with a bad
# header fails the destination with an error; without dirty logging,
# migrate fails at once with one message.  TAP.
#
# rig: one CPU
# rig: timeout 1500
# (tools/rig runs this in a one-CPU boot, as qemu_guest.sh.)
top=${KSOC_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
qemu=$(cat "$top/build/qemu-path" 2>/dev/null)
initrd=$(cat "$top/build/guest-initrd-path" 2>/dev/null)
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
kernel=$(ls "$cache"/kernel/root/boot/vmlinuz-* 2>/dev/null | head -1)
n=0 fails=0
ok() {
	n=$((n + 1))
	[ "$1" = 0 ] && { echo "ok $n $2"; return 0; }
	echo "not ok $n $2"
	fails=$((fails + 1))
	return 1
}
# full <what>: false in make check's focused set (KSOC_FOCUS=1), saying so.
full() {
	[ "${KSOC_FOCUS:-0}" = 1 ] || return 0
	echo "# focused set (make check): $* not run here; make check-full runs it"
	return 1
}
echo "TAP version 13"
if [ ! -x "$qemu" ] || [ ! -f "$initrd" ]; then
	echo "1..0 # SKIP no patched QEMU (make qemu)"
	exit 0
fi
[ -d /sys/kernel/debug/soc-kvm ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
nvms() { find /sys/kernel/debug/kvm -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
helpers() { pgrep -c -f kvm-soc-vmctx; }
# shellcheck source=tools/migrate-lib.sh
. "$top/tools/migrate-lib.sh"

disk=$(mktemp /tmp/migrate-disk.XXXXXX)
truncate -s 64M "$disk"

# stop_all: both QEMUs gone, after a case that cannot go on (the next
# case starts from scratch instead of waiting on this one's leftovers).
stop_all() {
	local name p
	for name in src dst; do
		p=$(eval "echo \${pid_$name:-}")
		[ -n "$p" ] || continue
		pkill -9 -P "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	pid_src='' pid_dst=''
}

# migrate <from> <to>: one migration of a dirtying guest, with its checks.
migrate() {
	local from=$1 to=$2 base hbase i st passes end
	local what="$from -> $to"

	base=$(nvms) hbase=$(helpers)
	rm -f /tmp/mig-src.log /tmp/mig-dst.log /tmp/mig.sock
	start "$from" src
	wait_log /tmp/mig-src.log 'KSOC-GUEST: all checks passed' 1 400 "$pid_src" &&
		wait_log /tmp/mig-src.log 'KSOC-DIRTY: pass' 2 200 "$pid_src"
	if ! ok $? "$what: source guest up under -accel $from, dirtying 64 MiB ($(grep -c 'KSOC-DIRTY: pass' /tmp/mig-src.log) passes)"; then
		stop_all
		return
	fi
	[ "$from" = kvm-soc-ring ] && dirty_rate "$what"
	start "$to" dst -incoming unix:/tmp/mig.sock
	for ((i = 0; i < 60; i++)); do [ -S /tmp/mig.sock ] && break; sleep 0.5; done
	# TCG under TCG: a generous downtime, so a dirtying guest converges
	# (and a larger one if the machine is slow: until_migrated).
	$qmp /tmp/mig-src.qmp \
		'migrate-set-parameters={"downtime-limit": 2000, "max-bandwidth": 1073741824}' \
		'migrate={"uri": "unix:/tmp/mig.sock"}' > /dev/null
	ok $? "$what: QMP migrate accepted"
	until_migrated src 180
	st=$mig_status
	[ $mig_raised = 1 ] && echo "# $what: still active after 30 s, downtime limit raised to 30 s"
	echo "# $what: $(echo "$mig_info" | python3 -c 'import json,sys
r = json.load(sys.stdin); ram = r.get("ram", {})
print("status %s, total %s ms, downtime %s ms, %s MiB sent, %s dirty syncs" % (r.get("status"),
      r.get("total-time"), r.get("downtime"), ram.get("transferred", 0) >> 20, ram.get("dirty-sync-count")))' 2>/dev/null)"
	[ "$st" = completed ]
	if ! ok $? "$what: migration completed ($st)"; then
		echo "# query-migrate: $mig_info"
		threads src | sed 's/^/# /'
		stop_all
		return
	fi
	# The destination runs on by itself once the stream is in.
	end=$((SECONDS + 30))
	while [ "$(status dst)" != running ] && [ $SECONDS -lt $end ]; do sleep 0.5; done
	[ "$(status dst)" = running ]; ok $? "$what: the destination runs"
	[ "$(status src)" = postmigrate ]; ok $? "$what: the source is in postmigrate ($(status src))"
	$qmp /tmp/mig-src.qmp quit > /dev/null 2>&1
	for ((i = 0; i < 60; i++)); do kill -0 "$pid_src" 2>/dev/null || break; sleep 0.5; done
	! kill -0 "$pid_src" 2>/dev/null; ok $? "$what: the source QEMU exits on quit"
	kill -9 "$pid_src" 2>/dev/null
	wait "$pid_src" 2>/dev/null
	# The guest's own checks go on passing on the destination.
	passes=$(count 'KSOC-DIRTY: pass' /tmp/mig-dst.log)
	wait_log /tmp/mig-dst.log 'KSOC-DIRTY: pass' $((passes + 2)) 300 "$pid_dst" &&
		wait_log /tmp/mig-dst.log 'KSOC-GUEST: disk still ok' 1 120 "$pid_dst"
	ok $? "$what: on the destination the guest's memory and disk checks pass on"
	! grep -E 'KSOC-DIRTY: BAD|disk MISMATCH|KSOC-DIRTY: mmap' /tmp/mig-src.log /tmp/mig-dst.log
	ok $? "$what: no page and no disk block came over wrong"
	tail -n 3 /tmp/mig-dst.log | awk '{ print "# dst: " $0 }'
	# What the source had on the host is gone: only the destination's VM.
	# (On a SoC machine the host is another machine, which counts its
	# VMs itself: selftests/ivshmem/host_serve.sh.)
	if [ -d /sys/kernel/debug/kvm ]; then
		for ((i = 0; i < 20; i++)); do [ "$(nvms)" -le $((base + 1)) ] && break; sleep 0.5; done
		[ "$(nvms)" = $((base + 1)) ] && [ "$(helpers)" -le $((hbase + 1)) ]
		ok $? "$what: the source's KVM VM and helpers are freed ($(nvms) VMs, baseline $base + the destination's)"
	fi
	$qmp /tmp/mig-dst.qmp quit > /dev/null 2>&1
	for ((i = 0; i < 60; i++)); do kill -0 "$pid_dst" 2>/dev/null || break; sleep 0.5; done
	! kill -0 "$pid_dst" 2>/dev/null; ok $? "$what: the destination QEMU exits on quit"
	kill -9 "$pid_dst" 2>/dev/null
	wait "$pid_dst" 2>/dev/null
	if [ -d /sys/kernel/debug/kvm ]; then
		for ((i = 0; i < 20; i++)); do [ "$(nvms)" = "$base" ] && break; sleep 0.5; done
		[ "$(nvms)" = "$base" ] && [ "$(helpers)" = "$hbase" ]
		ok $? "$what: and the destination's too ($(nvms) VMs, $(helpers) helpers)"
	fi
	[ $fails = 0 ] || for f in src dst; do
		echo "# last lines of the $f guest's console and QEMU:"
		tail -n 15 /tmp/mig-$f.log /tmp/mig-$f.out 2>/dev/null | awk '{ print "# " $0 }'
	done
}

# dirty_rate <what>: the source runs on the dirty ring: QEMU took it (no
# fallback to bitmaps) and its dirty-ring rate measurement, which reads
# only the vCPUs' rings, sees the guest dirtying its 64 MiB.
dirty_rate() {
	local rate
	! grep -q 'dirty ring not available' /tmp/mig-src.out
	ok $? "$1: QEMU runs the source on the dirty ring"
	$qmp /tmp/mig-src.qmp 'calc-dirty-rate={"calc-time": 2, "mode": "dirty-ring"}' > /dev/null
	sleep 3
	rate=$($qmp /tmp/mig-src.qmp query-dirty-rate 2>/dev/null | tail -1 | python3 -c 'import json,sys
r = json.load(sys.stdin)
print(r.get("dirty-rate", -1) if r.get("status") == "measured" and r.get("mode") == "dirty-ring" else -1)' 2>/dev/null)
	[ "${rate:--1}" -gt 0 ] 2>/dev/null
	ok $? "$1: QEMU's dirty-ring rate sees the guest dirtying (${rate:-?} MB/s)"
}

# The state of the source's migration.
migrate_status() {
	$qmp /tmp/mig-src.qmp query-migrate 2>/dev/null | tail -1 |
		sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p'
}

# migrate_wait <seconds> <state...>: the source's migration state once it
# is one of those, or whatever it is when the time is up.
migrate_wait() {
	local st end=$((SECONDS + $1)) want=" ${*:2} "
	while :; do
		st=$(migrate_status)
		[[ $want == *" $st "* ]] || [ $SECONDS -ge $end ] && break
		sleep 0.5
	done
	echo "$st"
}

# A source guest up and dirtying, and a destination waiting: for the faults.
pair() { # <what>
	rm -f /tmp/mig-src.log /tmp/mig-dst.log /tmp/mig.sock
	start kvm-soc src
	wait_log /tmp/mig-src.log 'KSOC-DIRTY: pass' 2 400 "$pid_src" || return 1
	start kvm-soc dst -incoming unix:/tmp/mig.sock
	for ((i = 0; i < 60; i++)); do [ -S /tmp/mig.sock ] && break; sleep 0.5; done
	# Slow, so the fault lands while RAM is still being sent.
	$qmp /tmp/mig-src.qmp 'migrate-set-parameters={"max-bandwidth": 4194304}' \
		'migrate={"uri": "unix:/tmp/mig.sock"}' > /dev/null || return 1
	[ "$(migrate_wait 60 active)" = active ]
}

# After a failed or cancelled migration: the source guest runs on, its
# checks pass, and the destination went away having freed what it had.
source_runs_on() { # <what> <base VMs> <base helpers>
	local what=$1 base=$2 hbase=$3 passes st
	st=$(status src)
	# QMP may leave a source paused after a late failure: cont it.
	[ "$st" = running ] || $qmp /tmp/mig-src.qmp cont > /dev/null 2>&1
	[ "$(status src)" = running ]; ok $? "$what: the source guest runs ($st before any cont)"
	passes=$(count 'KSOC-DIRTY: pass' /tmp/mig-src.log)
	wait_log /tmp/mig-src.log 'KSOC-DIRTY: pass' $((passes + 2)) 300 "$pid_src" &&
		! grep -E 'KSOC-DIRTY: BAD|disk MISMATCH' /tmp/mig-src.log
	ok $? "$what: and its memory and disk checks pass on"
	for ((i = 0; i < 60; i++)); do kill -0 "$pid_dst" 2>/dev/null || break; sleep 0.5; done
	! kill -0 "$pid_dst" 2>/dev/null; ok $? "$what: the destination QEMU is gone"
	kill -9 "$pid_dst" 2>/dev/null
	wait "$pid_dst" 2>/dev/null
	$qmp /tmp/mig-src.qmp quit > /dev/null 2>&1
	for ((i = 0; i < 60; i++)); do kill -0 "$pid_src" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$pid_src" 2>/dev/null
	wait "$pid_src" 2>/dev/null
	if [ -d /sys/kernel/debug/kvm ]; then
		for ((i = 0; i < 20; i++)); do [ "$(nvms)" = "$base" ] && break; sleep 0.5; done
		[ "$(nvms)" = "$base" ] && [ "$(helpers)" = "$hbase" ]
		ok $? "$what: every KVM VM and helper of both is freed ($(nvms) VMs, $(helpers) helpers)"
	fi
}

# mid_way <what> <state it must end in> <command...>: a migration under
# way, then the command; the source guest runs on.
mid_way() {
	local what=$1 want=$2 base hbase st
	shift 2
	base=$(nvms) hbase=$(helpers)
	pair
	if ! ok $? "$what: migration under way"; then
		stop_all
		return
	fi
	"$@"
	st=$(migrate_wait 60 "$want")
	[ "$st" = "$want" ]; ok $? "$what: the migration ends $want ($st)"
	source_runs_on "$what" "$base" "$hbase"
}
cancel_it() { $qmp /tmp/mig-src.qmp migrate_cancel > /dev/null; }
# The QEMU itself, not the timeout(1) that runs it.
kill_dst() { pkill -9 -P "$pid_dst"; }

# A stream cut short, and one with its header overwritten.
corrupted() {
	local what="corrupted stream" base hbase st i size kind
	base=$(nvms) hbase=$(helpers)
	rm -f /tmp/mig-src.log /tmp/mig.bin
	start kvm-soc src
	wait_log /tmp/mig-src.log 'KSOC-DIRTY: pass' 2 400 "$pid_src"
	# As migrate(): a dirtying guest converges only with a generous downtime.
	$qmp /tmp/mig-src.qmp \
		'migrate-set-parameters={"downtime-limit": 2000, "max-bandwidth": 1073741824}' \
		'migrate={"uri": "file:/tmp/mig.bin"}' > /dev/null
	until_migrated src 180
	st=$mig_status
	[ "$st" = completed ] || $qmp /tmp/mig-src.qmp migrate_cancel > /dev/null 2>&1
	size=$(stat -c %s /tmp/mig.bin 2>/dev/null || echo 0)
	[ "$st" = completed ] && [ "$size" -gt 0 ]; ok $? "$what: a stream saved to a file ($((size >> 20)) MiB)"
	$qmp /tmp/mig-src.qmp quit > /dev/null 2>&1
	for ((i = 0; i < 60; i++)); do kill -0 "$pid_src" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$pid_src" 2>/dev/null
	wait "$pid_src" 2>/dev/null
	for kind in cut header; do
		cp /tmp/mig.bin /tmp/mig-bad.bin
		if [ $kind = cut ]; then
			truncate -s $((size / 2)) /tmp/mig-bad.bin
		else
			printf 'KSOC' | dd of=/tmp/mig-bad.bin bs=1 seek=0 conv=notrunc 2>/dev/null
		fi
		start kvm-soc dst -incoming file:/tmp/mig-bad.bin
		for ((i = 0; i < 240; i++)); do kill -0 "$pid_dst" 2>/dev/null || break; sleep 0.5; done
		! kill -0 "$pid_dst" 2>/dev/null
		ok $? "$what ($kind): the destination stops"
		kill -9 "$pid_dst" 2>/dev/null
		wait "$pid_dst"; st=$?
		grep -i 'load of migration failed\|migration' /tmp/mig-dst.out | head -2 | sed 's/^/# /'
		[ "$st" != 0 ] && [ "$st" != 137 ] && grep -qi 'migration' /tmp/mig-dst.out
		ok $? "$what ($kind): it fails with an error (exit $st)"
	done
	rm -f /tmp/mig.bin /tmp/mig-bad.bin
	if [ -d /sys/kernel/debug/kvm ]; then
		for ((i = 0; i < 20; i++)); do [ "$(nvms)" = "$base" ] && break; sleep 0.5; done
		[ "$(nvms)" = "$base" ] && [ "$(helpers)" = "$hbase" ]
		ok $? "$what: every KVM VM and helper is freed ($(nvms) VMs, $(helpers) helpers)"
	fi
}

# No dirty logging (soc-kvm made to refuse KVM_SOC_F_DIRTY_LOG, as a SoC
# whose transport cannot copy would): migrate fails at once, saying why.
no_dirty_log() {
	local what="no dirty logging" off=/sys/kernel/debug/soc-kvm/features_off out
	if ! grep -q '^kvm_soc_loop ' /proc/modules; then
		echo "# $what: not tried here (it reloads the loop transport)"
		return
	fi
	if [ ! -w "$off" ]; then
		ok 1 "$what: no soc-kvm debugfs to refuse the feature with"
		return
	fi
	echo $((1 << 4)) > "$off"
	rmmod kvm-soc-loop && insmod "$top/build/k612/kvm-soc-loop.ko"
	rm -f /tmp/mig-src.log
	start kvm-soc src
	wait_log /tmp/mig-src.log 'KSOC-GUEST: all checks passed' 1 400 "$pid_src"
	out=$($qmp /tmp/mig-src.qmp 'migrate={"uri": "unix:/tmp/mig-none.sock"}' 2>&1)
	echo "# $out"
	echo "$out" | grep -q 'does not carry dirty logging'
	ok $? "$what: QMP migrate refuses with one clear message"
	[ "$(status src)" = running ]; ok $? "$what: the guest runs on"
	$qmp /tmp/mig-src.qmp quit > /dev/null 2>&1
	for ((i = 0; i < 60; i++)); do kill -0 "$pid_src" 2>/dev/null || break; sleep 0.5; done
	kill -9 "$pid_src" 2>/dev/null
	wait "$pid_src" 2>/dev/null
	echo 0 > "$off"
	rmmod kvm-soc-loop && insmod "$top/build/k612/kvm-soc-loop.ko"
	for ((i = 0; i < 20; i++)); do [ -c /dev/kvm-soc ] && break; sleep 0.5; done
}

# make check's focused set: a live migration on dirty bitmaps, and the
# refusal without dirty logging; make check-full runs every case.
migrate kvm-soc kvm-soc
if full "the dirty ring, kvm <-> kvm-soc, cancel, a killed destination, corrupted streams"; then
	# QEMU's dirty ring (KVM_CAP_DIRTY_LOG_RING) instead of bitmaps.
	migrate kvm-soc-ring kvm-soc-ring
	# A SoC machine (ivshmem topology) has no KVM of its own.
	if [ -c /dev/kvm ]; then
		migrate kvm kvm-soc
		migrate kvm-soc kvm
	fi
	mid_way "migrate_cancel mid-way" cancelled cancel_it
	mid_way "destination killed mid-way" failed kill_dst
	corrupted
fi
no_dirty_log
rm -f "$disk"
echo "1..$n"
[ $fails = 0 ]
