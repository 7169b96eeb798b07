#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the rig (make bench): live migration of the rig's Linux guest,
# kvm-soc -> kvm-soc against kvm -> kvm in the same run, an idle guest and
# one that keeps 64 MiB dirty (guest-dirtier), interleaved samples: medians
# of QMP query-migrate's total time and downtime, and the ratios.  A third
# column, kvm with shared guest memory (memory-backend-memfd, as kvm-soc's
# guest memory must be shared), shows what the memory model costs apart
# from the transport.  1 vCPU
# guests (two TCG CPUs running SMP guests are the rig's known fault); the
# same migration parameters on both sides.  A benchmark: it asserts
# nothing, and fails only when a migration does not complete.
top=${KSOC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
rounds=${MIGRATE_BENCH_ROUNDS:-3}
qemu=$(cat "$top/build/qemu-path" 2>/dev/null)
initrd=$(cat "$top/build/guest-initrd-path" 2>/dev/null)
cache=${KVM_SOC_CACHE:-/var/cache/kvm-soc}
kernel=$(ls "$cache"/kernel/root/boot/vmlinuz-* 2>/dev/null | head -1)
[ -x "$qemu" ] && [ -f "$initrd" ] || { echo "migrate-bench: no patched QEMU (make qemu)"; exit 1; }
disk=$(mktemp /tmp/migrate-bench-disk.XXXXXX)
truncate -s 64M "$disk"
MIG_SMP=1
# shellcheck source=tools/migrate-lib.sh
. "$top/tools/migrate-lib.sh"

declare -A total down syncs
# once <accel> <idle|dirty>: one migration; adds its numbers.
once() {
	local accel=$1 kind=$2 i info st
	MIG_APPEND="ksoc_guest=stay"
	[ "$kind" = dirty ] && MIG_APPEND="ksoc_guest=stay ksoc_dirty=64"
	rm -f /tmp/mig-src.log /tmp/mig-dst.log /tmp/mig.sock
	start "$accel" src
	if [ "$kind" = dirty ]; then
		wait_log /tmp/mig-src.log 'KSOC-DIRTY: pass' 2 400 "$pid_src"
	else
		wait_log /tmp/mig-src.log 'KSOC-GUEST: all checks passed' 1 400 "$pid_src"
	fi || { echo "migrate-bench: $accel guest did not come up"; return 1; }
	start "$accel" dst -incoming unix:/tmp/mig.sock
	for ((i = 0; i < 60; i++)); do [ -S /tmp/mig.sock ] && break; sleep 0.5; done
	$qmp /tmp/mig-src.qmp \
		'migrate-set-parameters={"downtime-limit": 2000, "max-bandwidth": 1073741824}' \
		'migrate={"uri": "unix:/tmp/mig.sock"}' > /dev/null
	until_migrated src 300
	info=$mig_info st=$mig_status
	[ $mig_raised = 1 ] && echo "migrate-bench: $accel $kind: not converged in 30 s, downtime limit raised to 30 s"
	for name in src dst; do
		$qmp "/tmp/mig-$name.qmp" quit > /dev/null 2>&1
	done
	for name in src dst; do
		eval "p=\$pid_$name"
		for ((i = 0; i < 60; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
		pkill -9 -P "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ "$st" = completed ] || { echo "migrate-bench: $accel $kind migration $st"; return 1; }
	# (No process substitution: the rig has no /dev/fd.)
	read -r t d s <<< "$(echo "$info" | python3 -c 'import json, sys
r = json.load(sys.stdin)
print(r["total-time"], r["downtime"], r["ram"]["dirty-sync-count"])')"
	total[$accel-$kind]+="$t " down[$accel-$kind]+="$d " syncs[$accel-$kind]+="$s "
}

for r in $(seq "$rounds"); do
	for kind in idle dirty; do
		for accel in kvm kvm-shm kvm-soc; do
			once "$accel" "$kind" || exit 1
		done
	done
done
rm -f "$disk"
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "live migration (256 MiB guest, 1 vCPU, local socket), median of $rounds interleaved samples"
printf '%-30s %10s %10s %10s %8s %8s\n' "" kvm "kvm shared" kvm-soc ratio "/shared"
for kind in idle dirty; do
	for m in total down; do
		eval "k=\$(echo \"\${$m[kvm-$kind]}\" | median)"
		eval "h=\$(echo \"\${$m[kvm-shm-$kind]}\" | median)"
		eval "s=\$(echo \"\${$m[kvm-soc-$kind]}\" | median)"
		name="$kind guest, $([ $m = total ] && echo "total time" || echo downtime)"
		awk -v n="$name" -v k="$k" -v h="$h" -v s="$s" \
			'BEGIN { printf "%-30s %8dms %8dms %8dms %8.2f %8.2f\n", n, k, h, s, s / k, s / h }'
	done
	k=$(echo "${syncs[kvm-$kind]}" | median) h=$(echo "${syncs[kvm-shm-$kind]}" | median)
	s=$(echo "${syncs[kvm-soc-$kind]}" | median)
	printf '%-30s %10s %10s %10s\n' "$kind guest, dirty syncs" "$k" "$h" "$s"
done
echo "(ratio: kvm-soc / kvm, /shared: kvm-soc / kvm with shared memory; lower is better;"
echo " goals: downtime <= 1.1, total <= 1.2, against kvm)"
