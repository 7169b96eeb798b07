#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Tests the rig's own failure detection: each case runs the rig with a
# deliberately bad test and passes only if the rig reports failure (non-zero
# exit, a failure count, and the console log).  Prints TAP and the closing
# "N passed, N failed" line.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
n=0 pass=0 fail=0

expect_rig_failure() { # <name> <expected text in the rig output> <rig args...>
	local name=$1 want=$2 log rc
	shift 2
	n=$((n + 1))
	log=$top/build/rig-selftest/$name.log
	mkdir -p "$(dirname "$log")"
	echo ">>> rig-selftest: $name"
	RIG_QUIET=1 RIG_OUT=$top/build/rig-selftest/$name "$@" > "$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && grep -qE "$want" "$log" &&
	   grep -q -- '--- last 60 lines of the console log' "$log" &&
	   grep -qE '^[0-9]+ passed, [1-9][0-9]* failed' "$log"; then
		echo "ok $n rig reports $name (exit $rc)"
		pass=$((pass + 1))
	else
		echo "not ok $n rig did not report $name (exit $rc); its output:"
		sed 's/^/    /' "$log" | tail -n 30
		fail=$((fail + 1))
	fi
}

echo "TAP version 13"
expect_rig_failure failing-test 'fail_test: 1 failed' \
	tools/rig run build/selftests/rig/fail_test
expect_rig_failure warn-module 'WARNING:.*ksoc_rig_fault|deliberate warning' \
	tools/rig run selftests/rig/warn.sh
expect_rig_failure panic-module 'Kernel panic' \
	tools/rig run selftests/rig/panic.sh
expect_rig_failure silent-test 'silent: reported no test result' \
	tools/rig run selftests/rig/silent.sh
RIG_TIMEOUT=40 expect_rig_failure hang 'timeout: the guest did not finish' \
	tools/rig run selftests/rig/hang.sh
# A boot that never reaches the rig's userspace (here: given 2 s to) is
# retried once, then fails the run.
RIG_BOOT_TIMEOUT=2 expect_rig_failure boot-stall 'stalled twice before its userspace' \
	tools/rig run build/selftests/smoke
echo "1..$n"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
