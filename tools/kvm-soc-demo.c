// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc-demo: the main job of `make run` until a real Linux guest boots
 * under QEMU -accel kvm-soc.  A small 64-bit guest runs through
 * /dev/kvm-soc: its serial output (PIO to 0x3f8) is printed here, its MMIO
 * tick register is served here, and the run ends with the exits by type.
 */
#include <stdio.h>
#include <time.h>

#include "../selftests/kvm-soc/vm_lib.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const char *const exit_names[] = {
	[KVM_EXIT_IO] = "IO", [KVM_EXIT_MMIO] = "MMIO", [KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN", [KVM_EXIT_INTR] = "INTR",
};

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/kvm-soc";
	unsigned long counts[64] = { 0 }, ticks = 0, pio_bytes = 0;
	struct timespec a, b;
	struct kvm_run *run;
	struct tvm t;
	int r, i;

	r = tvm_open(&t, dev);
	if (!r)
		r = tvm_create_vm(&t, NULL);
	if (r) {
		fprintf(stderr, "kvm-soc-demo: %s: %s\n", dev, strerror(-r));
		return 1;
	}
	TVM_LOAD(&t, hello);
	if (tvm_add_vcpu(&t)) {
		fprintf(stderr, "kvm-soc-demo: vCPU: %s\n", strerror(errno));
		return 1;
	}
	run = t.run[0];
	printf("kvm-soc-demo: guest on %s, output follows\n", dev);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		r = tvm_run(&t, 0);
		if (r) {
			fprintf(stderr, "kvm-soc-demo: KVM_RUN: %s\n", strerror(-r));
			return 1;
		}
		if (run->exit_reason < 64)
			counts[run->exit_reason]++;
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x3f8) {
			fwrite(tvm_io(&t, 0), 1, run->io.count, stdout);
			pio_bytes += run->io.count;
		} else if (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write) {
			uint32_t v = ++ticks;

			memcpy(run->mmio.data, &v, sizeof(v));
		} else if (run->exit_reason == KVM_EXIT_HLT) {
			break;
		} else if (run->exit_reason != KVM_EXIT_IO &&
			   run->exit_reason != KVM_EXIT_MMIO) {
			fprintf(stderr, "kvm-soc-demo: unexpected exit %u\n",
				run->exit_reason);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("kvm-soc-demo: guest halted after %.1f ms; %lu serial bytes, %lu MMIO ticks\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6,
	       pio_bytes, ticks);
	printf("kvm-soc-demo: exits by type:");
	for (i = 0; i < 64; i++)
		if (counts[i])
			printf(" %s=%lu", i < (int)ARRAY_SIZE(exit_names) &&
			       exit_names[i] ? exit_names[i] : "other", counts[i]);
	printf("\n");
	tvm_close(&t);
	return 0;
}
