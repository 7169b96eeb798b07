#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fuzz smoke run: a fixed-length run from a fresh corpus, a few seeds made
# here so both modes start from valid windows.  Any crash fails.
set -euo pipefail
bin=$1
secs=${2:-30}
dir=$(dirname "$bin")/corpus
rm -rf "$dir" && mkdir -p "$dir"
# Formatted-window seeds: mode 0, a layout, a few patches.
printf '\x00\x00\x04\x0e\x02\x04\x01\x00\x00\x40\x10\x00\x01' > "$dir/seed-layout"
printf '\x00\x00\x04\x0e\x02\x04\x01\x01\x03\x40\x10\x00\x01' > "$dir/seed-events"
printf '\x00\x01\x10\x0e\x08\x09\x03\x00\x00' > "$dir/seed-big"
printf '\x01KSOC' > "$dir/seed-raw"
echo ">>> fuzzing the channel helpers for ${secs}s"
art=$(dirname "$bin")/artifacts
rm -rf "$art" && mkdir -p "$art"
rc=0
"$bin" -max_total_time="$secs" -print_final_stats=1 -max_len=65536 \
	-artifact_prefix="$art/" "$dir" > "$dir.log" 2>&1 || rc=$?
grep -E 'stat::number_of_executed_units|stat::new_units_added|ERROR|SUMMARY' "$dir.log" || true
if [ $rc -ne 0 ] || [ -n "$(ls -A "$art")" ]; then
	tail -n 40 "$dir.log"
	echo "fuzz: finding (exit $rc), reproducer in $art"
	exit 1
fi
echo "fuzz: no findings"
