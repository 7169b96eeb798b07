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

# Idle VMs, kB per VM besides guest RAM: native KVM's 64 on the host
# machine; the SoC machine's 64 as the host machine counts them (its
# baseline and held lines, the same counters); what the SoC machine itself
# holds (on a DPU, the card's memory).
nat=$(sed -n 's/^idle \/dev\/kvm  *besides guest RAM, kB per VM:.* = \([0-9.-]*\)$/\1/p' "$host" | head -1)
nvm=$(sed -n 's/^idle \/dev\/kvm-soc  *\([0-9]*\) VMs x 1 vCPU.*/\1/p' "$soc" | head -1)
b=$(sed -n 's/^idle baseline: host-mem //p' "$host" | head -1)
h=$(sed -n 's/^idle held: host-mem //p' "$host" | head -1)
echo
if [ -z "$nat" ] || [ -z "$nvm" ] || [ "${nvm:-0}" = 0 ] || [ -z "$b" ] || [ -z "$h" ]; then
	echo "idle VMs: not measured (native '$nat', SoC VMs '$nvm', host lines '$b' / '$h')"
	exit 0
fi
echo "idle VMs, host memory per VM besides guest RAM (kB): native KVM's own on the host machine, kvm-soc's as the host machine counts $nvm of the SoC machine's"
awk -v b="$b" -v h="$h" -v n="$nvm" -v nat="$nat" 'BEGIN {
	nb = split(b, B, " "); split(h, H, " ")
	sum = 0
	line = ""
	for (i = 1; i < nb; i += 2) {
		d = (H[i + 1] - B[i + 1]) / n
		if (B[i] == "helpers") {
			line = line sprintf(" helpers %+d", H[i + 1] - B[i + 1])
			continue
		}
		line = line sprintf(" %s %+.0f", B[i], d)
		# KernelStack is part of VmallocUsed.
		if (B[i] != "KernelStack")
			sum += d
	}
	printf "  kvm-soc on the host machine:%s = %.0f\n", line, sum
	printf "  native KVM on the host machine: %.0f\n", nat
	printf "  kvm-soc beyond native: %.0f kB per VM (goal <= 256 KiB)\n", sum - nat
}'
sed -n 's/^idle \/dev\/kvm-soc  *besides guest RAM, kB per VM:/  and on the SoC machine (the card'"'"'s memory on a DPU):/p' "$soc" | head -1
