#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The ratios of make bench's ivshmem topology: <host bench.log> <SoC
# bench.log> from tools/ivshmem-bench-side.sh, kvm-soc across two machines
# over native KVM in the host machine.
host=$1 soc=$2
val() { sed -n "s/^$2: \\([0-9.]*\\)$/\\1/p" "$1" | head -1; }
median() { sed -n "s/^$2: \\([0-9.]*\\)$/\\1/p" "$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "ivshmem topology: kvm-soc on the SoC machine / native KVM on the host machine"
printf '%-36s %12s %14s %8s\n' "" "native ns" "kvm-soc ns" ratio
for k in "PIO out" "PIO in" "MMIO write" "MMIO read" \
	 "ioeventfd kick -> SoC thread woken" "irqfd signal -> guest handler"; do
	a=$(val "$host" "$k") b=$(val "$soc" "$k")
	awk -v k="$k" -v a="$a" -v b="$b" 'BEGIN { printf "%-36s %12.0f %14.0f %8.2f\n", k, a, b, (a > 0 ? b / a : 0) }'
done
c=$(val "$soc" "control call round trip")
printf '%-36s %12s %14s\n' "control call round trip (2 doorbells)" - "$c"
a=$(median "$host" "boot to userspace") b=$(median "$soc" "boot to userspace")
awk -v a="$a" -v b="$b" 'BEGIN { printf "%-36s %11.1fs %13.1fs %8.2f\n", "Linux guest boot to userspace", a, b, (a > 0 ? b / a : 0) }'
