#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# One machine's half of make bench's ivshmem topology (tools/rig
# ivshmem-bench): when the rig says go ($KSOC_OUT/go), measure this
# machine's device alone (the host machine: native /dev/kvm; the SoC
# machine: /dev/kvm-soc, whose host is the other machine), then the Linux
# guest's boot (-accel kvm here, or -accel kvm-soc), and say done.  Idle
# VMs: the host machine measures 64 of its own first; serving the SoC
# machine, it counts what the SoC machine's 64 idle VMs, made last, cost
# it.
# tools/ivshmem-bench.sh makes the ratios.  A benchmark: the one TAP line
# says only that the measurement ran.
# Both halves of the benchmark outlast the rig's 600 s per test:
# rig: timeout 2500
top=$(cd "$(dirname "$0")/.." && pwd)
dev=/dev/kvm-soc accel=kvm-soc
[ "${KSOC_ROLE:-}" = host ] && dev=/dev/kvm accel=kvm
rounds=${GUEST_BENCH_ROUNDS:-3}
echo "TAP version 13"
touch "$KSOC_OUT/ready"
for _ in $(seq 1800); do [ -e "$KSOC_OUT/go" ] && break; sleep 1; done
log=$KSOC_OUT/bench.log
bench=$top/build/tools/kvm-soc-bench
# wait_for <file>: what the rig relays from the other machine.
wait_for() {
	local i
	for ((i = 0; i < 900; i++)); do [ -e "$1" ] && return 0; sleep 1; done
	echo "no $1 after 900 s"
	return 1
}
{
	# Native KVM's idle VMs before the host machine's timings (closed, they
	# leave nothing running).
	if [ "$dev" = /dev/kvm ]; then
		"$bench" idle 64 /dev/kvm
		sleep 3
	fi
	KSOC_BENCH_ONLY=$dev "$bench" 5000 0 2000
	if [ "$dev" = /dev/kvm-soc ]; then
		# A null call through the control window: two doorbells (one
		# each way, MSI-X on both machines) and host-kvm's control thread.
		python3 - <<'PY'
import fcntl, os, time
fd = os.open("/dev/kvm-soc", os.O_RDWR)
n = 2000
t = time.monotonic()
for _ in range(n):
    fcntl.ioctl(fd, 0xae03, 3)      # KVM_CHECK_EXTENSION(KVM_CAP_USER_MEMORY)
print("control call round trip: %d" % int((time.monotonic() - t) * 1e9 / n))
PY
	fi
	for r in $(seq "$rounds"); do
		GUEST_QUIET=1 GUEST_LOG=/tmp/ib-$r.log GUEST_APPEND=ksoc_guest=bench \
			bash "$top/tools/linux-guest.sh" "$accel" 1 > /dev/null 2>&1 ||
			{ echo "boot $r failed"; tail -5 /tmp/ib-$r.log; }
		sed -n 's/^KSOC-HOST: userspace after \([0-9.]*\) s/boot to userspace: \1/p' /tmp/ib-$r.log
	done
	# The SoC machine's idle VMs last: the host machine's helpers leaving
	# after them would load its CPU during timings.  The rig relays
	# base-want -> base (the host machine's baseline) -> based ->
	# base-done, then idle-up -> snap (its counters with the VMs up) ->
	# snapped -> idle-release.
	if [ "$dev" = /dev/kvm-soc ]; then
		touch "$KSOC_OUT/base-want"
		wait_for "$KSOC_OUT/base-done" && "$bench" idle 64 /dev/kvm-soc "$KSOC_OUT"
	fi
} > "$log" 2>&1
rc=$?
sed 's/^/# /' "$log"
touch "$KSOC_OUT/done"
[ $rc = 0 ] && ! grep -q failed "$log"
r=$?
[ $r = 0 ] && echo "ok 1 $dev measured" || echo "not ok 1 $dev measured"
echo "1..1"
# The host machine serves the SoC machine's half after its own.
# Meanwhile it counts its memory while the SoC machine's idle VMs are up.
[ "$dev" = /dev/kvm ] && for _ in $(seq 1800); do
	if [ -e "$KSOC_OUT/base" ] && [ ! -e "$KSOC_OUT/based" ]; then
		echo "idle baseline: $("$bench" host-mem)" >> "$log"
		tail -1 "$log" | sed 's/^/# /'
		touch "$KSOC_OUT/based"
	fi
	if [ -e "$KSOC_OUT/snap" ] && [ ! -e "$KSOC_OUT/snapped" ]; then
		sleep 1
		echo "idle held: $("$bench" host-mem)" >> "$log"
		tail -1 "$log" | sed 's/^/# /'
		touch "$KSOC_OUT/snapped"
	fi
	[ -e "$KSOC_OUT/finish" ] && break
	sleep 1
done
exit $r
