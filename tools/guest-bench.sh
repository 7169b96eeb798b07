#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Inside the rig (make bench): the Linux guest of tools/linux-guest.sh
# under -accel kvm and -accel kvm-soc, interleaved, 5 boots each: time
# from QEMU start to the guest's userspace marker, and sequential read
# throughput of its virtio-blk disk (64 MiB, O_DIRECT, in the guest).
# Medians and kvm-soc / kvm ratios.  A benchmark: it asserts nothing.
top=${KSOC_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
rounds=${GUEST_BENCH_ROUNDS:-5}
declare -A boot read kern
for r in $(seq "$rounds"); do
	for accel in kvm kvm-soc; do
		log=/tmp/gb-$accel-$r.log
		GUEST_QUIET=1 GUEST_LOG=$log GUEST_APPEND=ksoc_guest=bench \
			bash "$top/tools/linux-guest.sh" "$accel" 1 > /dev/null 2>&1 ||
			{ echo "guest-bench: $accel boot $r failed"; tail -5 "$log"; exit 1; }
		boot[$accel]+="$(sed -n 's/^KSOC-HOST: userspace after \([0-9.]*\) s/\1/p' "$log") "
		read[$accel]+="$(sed -n 's/^KSOC-GUEST: read 64 MiB in \([0-9]*\) ms/\1/p' "$log") "
		kern[$accel]+="$(sed -n 's/^KSOC-GUEST: userspace up after \([0-9.]*\) s.*/\1/p' "$log") "
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
bk=$(echo "${boot[kvm]}" | median); bs=$(echo "${boot[kvm-soc]}" | median)
rk=$(echo "${read[kvm]}" | median); rs=$(echo "${read[kvm-soc]}" | median)
kk=$(echo "${kern[kvm]}" | median); ks=$(echo "${kern[kvm-soc]}" | median)
echo "Linux guest (QEMU, virtio-blk on an iothread), median of $rounds interleaved boots each"
printf '%-34s %10s %10s %8s\n' "" kvm kvm-soc ratio
awk -v k="$bk" -v s="$bs" 'BEGIN { printf "%-34s %9.1fs %9.1fs %8.2f\n", "boot to userspace marker", k, s, s / k }'
awk -v k="$kk" -v s="$ks" 'BEGIN { printf "%-34s %9.1fs %9.1fs %8.2f\n", "  of which guest kernel to userspace", k, s, s / k }'
awk -v k="$bk" -v s="$bs" -v a="$kk" -v b="$ks" 'BEGIN { printf "%-34s %9.1fs %9.1fs %8.2f\n", "  of which QEMU start to guest kernel", k - a, s - b, (s - b) / (k - a) }'
awk -v k="$rk" -v s="$rs" 'BEGIN { printf "%-34s %7.1fMB/s %7.1fMB/s %8.2f\n", "sequential read, 64 MiB O_DIRECT", 64000 / k, 64000 / s, k / s }'
echo "(boot ratio: kvm-soc / kvm, lower is better; read ratio: kvm-soc / kvm throughput, higher is better)"
