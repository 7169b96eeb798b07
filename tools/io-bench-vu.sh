#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench's DPDK vhost-user rounds (tools/io-bench.sh), in a one-CPU
# rig boot of their own: in make bench's 2-CPU rig these runs did not
# survive (the rig's nested-SVM panic, docs/rig.md), and they take longer
# than the rig's 600 s per test.  testpmd's lcores share the one CPU with
# the guest, so its CPU columns include that polling.  A benchmark: its
# one TAP line says only that the rounds ran.
#
# rig: one CPU
# rig: timeout 2400
top=${KSOC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
echo "TAP version 13"
IO_BENCH_BACKENDS=vhost-user bash "$top/tools/io-bench.sh"
rc=$?
[ $rc = 0 ]
echo "$([ $rc = 0 ] || echo 'not ')ok 1 the vhost-user rounds ran (exit $rc)"
echo "1..1"
[ $rc = 0 ]
