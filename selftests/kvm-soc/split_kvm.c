// SPDX-License-Identifier: GPL-2.0
/*
 * The same guests on /dev/kvm and on /dev/kvm-soc (one variant each): PIO
 * of every size, string PIO, MMIO of every size, guest memory seen both
 * ways, HLT and shutdown, register files, signals, concurrency, and KVM's
 * errnos for bad input.  Every assertion holds for stock KVM; kvm-soc must
 * give identical results.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

/* The VM still runs guest code after what the test did to it. */
#define EXPECT_STILL_RUNS(t) do {					\
	struct tvm *__t = (t);						\
									\
	TVM_LOAD(__t, pio);						\
	ASSERT_EQ(0, tvm_run(__t, 0));					\
	EXPECT_IO(__t, KVM_EXIT_IO_OUT, 0x10, 1);			\
} while (0)

FIXTURE(vm) {
	struct tvm t;
};

FIXTURE_VARIANT(vm) {
	const char *path;
};

FIXTURE_VARIANT_ADD(vm, kvm) {
	.path = "/dev/kvm",
};

FIXTURE_VARIANT_ADD(vm, kvm_soc) {
	.path = "/dev/kvm-soc",
};

FIXTURE_SETUP(vm)
{
	int ret = tvm_open(&self->t, variant->path);

	if (ret == -ENOENT)
		SKIP(return, "%s does not exist", variant->path);
	ASSERT_EQ(0, ret) TH_LOG("open %s: %s", variant->path, strerror(-ret));
	ASSERT_EQ(0, tvm_create_vm(&self->t, NULL));
}

FIXTURE_TEARDOWN(vm)
{
	tvm_close(&self->t);
}

TEST_F(vm, pio_sizes)
{
	struct tvm *t = &self->t;
	uint32_t v = 0;

	TVM_LOAD(t, pio);
	ASSERT_EQ(0, tvm_add_vcpu(t));

	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x10, 1);
	EXPECT_EQ(0x11, *tvm_io(t, 0));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x12, 2);
	memcpy(&v, tvm_io(t, 0), 2);
	EXPECT_EQ(0x2233, v);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x14, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(0x44556677, v);

	/* IN of each size, echoed back by the guest with OUT. */
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_IN, 0x20, 1);
	*tvm_io(t, 0) = 0xa1;
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x21, 1);
	EXPECT_EQ(0xa1, *tvm_io(t, 0));

	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_IN, 0x22, 2);
	v = 0xb2c3;
	memcpy(tvm_io(t, 0), &v, 2);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x23, 2);
	v = 0;
	memcpy(&v, tvm_io(t, 0), 2);
	EXPECT_EQ(0xb2c3, v);

	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_IN, 0x24, 4);
	v = 0xd4e5f607;
	memcpy(tvm_io(t, 0), &v, 4);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x25, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(0xd4e5f607, v);

	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_EQ(KVM_EXIT_HLT, t->run[0]->exit_reason);
}

TEST_F(vm, string_pio)
{
	struct tvm *t = &self->t;
	char out[17] = { 0 };
	uint16_t in[8];
	size_t got = 0;
	int i, exits = 0;

	TVM_LOAD(t, strpio);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	for (i = 0; i < 8; i++)
		in[i] = 0x1000 + i;

	/* KVM may split a rep across exits: collect until the port changes. */
	while (got < 16) {
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x30, 1);
		ASSERT_LE(got + t->run[0]->io.count, 16);
		memcpy(out + got, tvm_io(t, 0), t->run[0]->io.count);
		got += t->run[0]->io.count;
		exits++;
	}
	EXPECT_STREQ("0123456789abcdef", out);
	got = 0;
	while (got < 8) {
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_IO(t, KVM_EXIT_IO_IN, 0x32, 2);
		ASSERT_LE(got + t->run[0]->io.count, 8);
		memcpy(tvm_io(t, 0), in + got, t->run[0]->io.count * 2);
		got += t->run[0]->io.count;
	}
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_EQ(KVM_EXIT_HLT, t->run[0]->exit_reason);
	/* The guest's destination buffer holds what was fed to rep insw. */
	EXPECT_EQ(0, memcmp(t->mem + GUEST_CODE + (guest_strpio_end - guest_strpio) - 16,
			    in, 16));
	TH_LOG("%s: rep outsb took %d exit(s)", t->path, exits);
}

TEST_F(vm, mmio_sizes)
{
	struct tvm *t = &self->t;
	struct kvm_run *r;
	static const struct { uint64_t addr; uint32_t len; uint64_t val; } w[] = {
		{ GUEST_MMIO, 1, 0x11 }, { GUEST_MMIO + 2, 2, 0x2233 },
		{ GUEST_MMIO + 4, 4, 0x44556677 },
		{ GUEST_MMIO + 8, 8, 0x8899aabbccddeeffULL },
	};
	static const struct { uint64_t addr; uint32_t len; uint64_t val; } rd[] = {
		{ GUEST_MMIO + 16, 1, 0x5a }, { GUEST_MMIO + 18, 2, 0x6b7c },
		{ GUEST_MMIO + 20, 4, 0x8d9eafb0 },
		{ GUEST_MMIO + 24, 8, 0x0102030405060708ULL },
	};
	uint8_t *res;
	uint64_t v;
	int i;

	TVM_LOAD(t, mmio);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	r = t->run[0];
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		ASSERT_EQ(KVM_EXIT_MMIO, r->exit_reason);
		EXPECT_EQ(w[i].addr, r->mmio.phys_addr);
		EXPECT_EQ(w[i].len, r->mmio.len);
		EXPECT_TRUE(r->mmio.is_write);
		v = 0;
		memcpy(&v, r->mmio.data, r->mmio.len);
		EXPECT_EQ(w[i].val, v);
	}
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		ASSERT_EQ(KVM_EXIT_MMIO, r->exit_reason);
		EXPECT_EQ(rd[i].addr, r->mmio.phys_addr);
		EXPECT_EQ(rd[i].len, r->mmio.len);
		EXPECT_FALSE(r->mmio.is_write);
		memcpy(r->mmio.data, &rd[i].val, rd[i].len);
	}
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_EQ(KVM_EXIT_HLT, r->exit_reason);
	res = t->mem + GUEST_CODE + (guest_mmio_end - guest_mmio) - 16;
	for (i = 0; i < 4; i++) {
		v = 0;
		memcpy(&v, res + (rd[i].addr - GUEST_MMIO - 16), rd[i].len);
		EXPECT_EQ(rd[i].val, v);
	}
}

TEST_F(vm, memory_both_ways)
{
	struct tvm *t = &self->t;
	uint32_t v, *p = (uint32_t *)(t->mem + GUEST_DATA);
	int i;

	TVM_LOAD(t, mem);
	*(uint32_t *)(t->mem + 0x9000) = 0xfeedf00d;
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x50, 1);
	/* The guest's writes, seen through this process's mapping. */
	for (i = 0; i < 1024; i++)
		ASSERT_EQ(0x5a5a5a5a, p[i]) TH_LOG("word %d", i);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x51, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(0xfeedf00d, v);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_EQ(KVM_EXIT_HLT, t->run[0]->exit_reason);
}

/*
 * Code the guest already ran, rewritten by this process between runs (a
 * VMM reloading firmware at reset), runs as rewritten: the guest never
 * runs what the memory held before.  Over ivshmem the rig's host machine
 * would otherwise run its stale translation of the old bytes.
 */
TEST_F(vm, code_rewritten_between_runs_runs_new)
{
	struct tvm *t = &self->t;
	struct kvm_regs regs;
	uint8_t *code = t->mem + GUEST_CODE;
	int i;

	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_REGS, &regs));
	for (i = 0; i < 16; i++) {
		/* mov $i, %al; out %al, $(0x70 + i); hlt */
		code[0] = 0xb0;
		code[1] = i;
		code[2] = 0xe6;
		code[3] = 0x70 + i;
		code[4] = 0xf4;
		regs.rip = GUEST_CODE;
		ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_REGS, &regs));
		ASSERT_EQ(0, tvm_run(t, 0));
		ASSERT_EQ(KVM_EXIT_IO, t->run[0]->exit_reason);
		EXPECT_EQ(0x70 + i, t->run[0]->io.port)
			TH_LOG("run %d ran the code of run %d", i,
			       t->run[0]->io.port - 0x70);
		EXPECT_EQ(i, *tvm_io(t, 0));
	}
}

TEST_F(vm, shutdown)
{
	struct tvm *t = &self->t;

	TVM_LOAD(t, shutdown);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_EQ(KVM_EXIT_SHUTDOWN, t->run[0]->exit_reason);
}

/* Every register file: set, get back, compare. */
TEST_F(vm, register_files_roundtrip)
{
	struct tvm *t = &self->t;
	struct kvm_regs regs, regs2;
	struct kvm_sregs sregs, sregs2;
	struct kvm_fpu fpu, fpu2;
	struct kvm_debugregs dr, dr2;
	struct kvm_vcpu_events ev, ev2;
	struct kvm_mp_state mp;
	struct kvm_xcrs xcrs, xcrs2;
	struct kvm_xsave *xs = calloc(1, 16384), *xs2 = calloc(1, 16384);
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} msrs = { .hdr.nmsrs = 2 }, msrs2;
	int fd, i, xsz;

	ASSERT_EQ(0, tvm_add_vcpu(t));
	fd = t->vcpu[0];

	ASSERT_EQ(0, ioctl(fd, KVM_GET_REGS, &regs));
	for (i = 0; i < 16; i++)
		((uint64_t *)&regs)[i] = 0x1111111111111111ULL * (i + 1);
	ASSERT_EQ(0, ioctl(fd, KVM_SET_REGS, &regs));
	ASSERT_EQ(0, ioctl(fd, KVM_GET_REGS, &regs2));
	EXPECT_EQ(0, memcmp(&regs, &regs2, sizeof(regs)));

	ASSERT_EQ(0, ioctl(fd, KVM_GET_SREGS, &sregs));
	sregs.cr2 = 0x12345000;
	sregs.apic_base = sregs.apic_base;
	ASSERT_EQ(0, ioctl(fd, KVM_SET_SREGS, &sregs));
	ASSERT_EQ(0, ioctl(fd, KVM_GET_SREGS, &sregs2));
	EXPECT_EQ(0x12345000, sregs2.cr2);
	EXPECT_EQ(sregs.cr3, sregs2.cr3);
	EXPECT_EQ(sregs.efer, sregs2.efer);

	ASSERT_EQ(0, ioctl(fd, KVM_GET_FPU, &fpu));
	fpu.fcw = 0x37f;
	fpu.xmm[3][0] = 0xab;
	fpu.mxcsr = 0x1f80;
	ASSERT_EQ(0, ioctl(fd, KVM_SET_FPU, &fpu));
	ASSERT_EQ(0, ioctl(fd, KVM_GET_FPU, &fpu2));
	EXPECT_EQ(0xab, fpu2.xmm[3][0]);
	EXPECT_EQ(0x37f, fpu2.fcw);

	ASSERT_EQ(0, ioctl(fd, KVM_GET_DEBUGREGS, &dr));
	dr.db[0] = 0x1000;
	dr.db[1] = 0x2000;
	ASSERT_EQ(0, ioctl(fd, KVM_SET_DEBUGREGS, &dr));
	ASSERT_EQ(0, ioctl(fd, KVM_GET_DEBUGREGS, &dr2));
	EXPECT_EQ(0x1000, dr2.db[0]);
	EXPECT_EQ(0x2000, dr2.db[1]);

	ASSERT_EQ(0, ioctl(fd, KVM_GET_VCPU_EVENTS, &ev));
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = 1;
	ASSERT_EQ(0, ioctl(fd, KVM_SET_VCPU_EVENTS, &ev));
	ASSERT_EQ(0, ioctl(fd, KVM_GET_VCPU_EVENTS, &ev2));
	EXPECT_NE(0, ev2.interrupt.shadow);	/* SVM has one shadow bit */

	ASSERT_EQ(0, ioctl(fd, KVM_GET_MP_STATE, &mp));
	EXPECT_EQ(KVM_MP_STATE_RUNNABLE, mp.mp_state);

	/* IA32_SYSENTER_CS/ESP/EIP and TSC_AUX are plain storage. */
	msrs.e[0].index = 0x174;
	msrs.e[0].data = 0x10;
	msrs.e[1].index = 0x175;
	msrs.e[1].data = 0xffff8000deadb000ULL;
	ASSERT_EQ(2, ioctl(fd, KVM_SET_MSRS, &msrs));
	memset(&msrs2, 0, sizeof(msrs2));
	msrs2.hdr.nmsrs = 2;
	msrs2.e[0].index = 0x174;
	msrs2.e[1].index = 0x175;
	ASSERT_EQ(2, ioctl(fd, KVM_GET_MSRS, &msrs2));
	EXPECT_EQ(0x10, msrs2.e[0].data);
	EXPECT_EQ(0xffff8000deadb000ULL, msrs2.e[1].data);

	if (ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		ASSERT_EQ(0, ioctl(fd, KVM_GET_XCRS, &xcrs));
		ASSERT_EQ(0, ioctl(fd, KVM_SET_XCRS, &xcrs));
		ASSERT_EQ(0, ioctl(fd, KVM_GET_XCRS, &xcrs2));
		EXPECT_EQ(xcrs.nr_xcrs, xcrs2.nr_xcrs);
		EXPECT_EQ(xcrs.xcrs[0].value, xcrs2.xcrs[0].value);
	}
	xsz = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	TH_LOG("%s: KVM_CAP_XSAVE2 = %d", t->path, xsz);
	ASSERT_LE(xsz, 16384);
	ASSERT_EQ(0, ioctl(fd, KVM_GET_XSAVE, xs));
	ASSERT_EQ(0, ioctl(fd, KVM_SET_XSAVE, xs));
	ASSERT_EQ(0, ioctl(fd, KVM_GET_XSAVE, xs2));
	EXPECT_EQ(0, memcmp(xs, xs2, 4096));
	free(xs);
	free(xs2);
}

TEST_F(vm, vm_level_ioctls)
{
	struct tvm *t = &self->t;
	struct kvm_clock_data clk = { 0 }, clk2 = { 0 };
	struct kvm_enable_cap cap = { .cap = KVM_CAP_EXCEPTION_PAYLOAD, .args[0] = 1 };
	uint64_t ident = 0xfffbc000;

	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_TSS_ADDR, 0xfffbd000));
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_IDENTITY_MAP_ADDR, &ident));
	ASSERT_EQ(0, ioctl(t->vm, KVM_GET_CLOCK, &clk));
	clk.clock += 1000000000ULL;
	clk.flags = 0;
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_CLOCK, &clk));
	ASSERT_EQ(0, ioctl(t->vm, KVM_GET_CLOCK, &clk2));
	EXPECT_GE(clk2.clock, clk.clock);
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR));
	EXPECT_LE(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS));
}

/* KVM_GET/SET_TSC_KHZ on the VM (Linux 6.0): the default of new vCPUs. */
TEST_F(vm, vm_tsc_khz)
{
	struct tvm *t = &self->t;
	int khz, vcpu_khz, scaling;

	/* KVM: 1 with TSC scaling (none in the rig); the ioctls work anyway. */
	scaling = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_VM_TSC_CONTROL);
	EXPECT_EQ(scaling, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_CONTROL));
	khz = ioctl(t->vm, KVM_GET_TSC_KHZ, 0);
	ASSERT_LT(0, khz);
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_TSC_KHZ, khz));
	EXPECT_EQ(khz, ioctl(t->vm, KVM_GET_TSC_KHZ, 0));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	vcpu_khz = ioctl(t->vcpu[0], KVM_GET_TSC_KHZ, 0);
	EXPECT_EQ(khz, vcpu_khz);
	TH_LOG("%s: VM and vCPU TSC %d kHz, TSC scaling %d", t->path, vcpu_khz, scaling);
}

/* KVM_SET_NR_MMU_PAGES: fewer than KVM's 64 is EINVAL. */
TEST_F(vm, nr_mmu_pages)
{
	struct tvm *t = &self->t;

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MMU_SHADOW_CACHE_CONTROL));
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_NR_MMU_PAGES, 1000));
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_NR_MMU_PAGES, 10));
	EXPECT_EQ(EINVAL, errno);
	/* Gone from x86 KVM since Linux 5.x: not carried either. */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_GET_NR_MMU_PAGES, 0));
	EXPECT_EQ(ENOTTY, errno);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_STILL_RUNS(t);
}

/* KVM_CAP_MAX_VCPU_ID: vCPU ids from there on are EINVAL; set once. */
TEST_F(vm, enable_max_vcpu_id)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MAX_VCPU_ID, .args[0] = 2 };
	int max = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);

	ASSERT_LE(2, max);
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));	/* the same: 0 */
	cap.args[0] = 3;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));	/* another: no */
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(1, tvm_add_vcpu(t));
	EXPECT_EQ(-1, ioctl(t->vm, KVM_CREATE_VCPU, 2));
	EXPECT_EQ(EINVAL, errno);
}

/* More than the device reports is EINVAL (kvm-soc: KSOC_MAX_VCPUS). */
TEST_F(vm, enable_max_vcpu_id_over_the_cap_is_einval)
{
	struct tvm *t = &self->t;
	int max = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID);
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MAX_VCPU_ID, .args[0] = max + 1 };

	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * VM capabilities that change only KVM: HALT_POLL, DISABLE_QUIRKS(2),
 * X86_DISABLE_EXITS, MSR_PLATFORM_INFO; reported as KVM
 * reports them, enabled as KVM enables them, bad values EINVAL.
 */
TEST_F(vm, enable_vm_caps)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_HALT_POLL, .args[0] = 50000 };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msrs = { .hdr.nmsrs = 1, .e.index = 0xce };	/* MSR_PLATFORM_INFO */
	int quirks, exits;

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_HALT_POLL));
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	cap.args[0] = 1ULL << 40;			/* not a u32 */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);

	quirks = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS2);
	EXPECT_NE(0, quirks);
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_DISABLE_QUIRKS2, .args[0] = quirks };
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	cap.args[0] = 1ULL << 31;			/* no such quirk */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_DISABLE_QUIRKS));

	exits = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_DISABLE_EXITS);
	EXPECT_TRUE(exits & KVM_X86_DISABLE_EXITS_PAUSE);
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_X86_DISABLE_EXITS,
				       .args[0] = KVM_X86_DISABLE_EXITS_PAUSE };
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	cap.args[0] = 1ULL << 30;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);

	/* MSR_PLATFORM_INFO: the guest's reads turned off (the host's stay). */
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MSR_PLATFORM_INFO));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_MSR_PLATFORM_INFO, .args[0] = 0 };
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(1, ioctl(t->vcpu[0], KVM_GET_MSRS, &msrs));
	EXPECT_STILL_RUNS(t);
}

/*
 * More VM capabilities QEMU enables: X2APIC_API, X86_TRIPLE_FAULT_EVENT
 * (kvm_vcpu_events then carries the triple fault), EXIT_ON_EMULATION_FAILURE,
 * X86_APIC_BUS_CYCLES_NS (in-kernel irqchip, before vCPUs) and
 * PMU_CAPABILITY (0 where KVM's PMU is off, as in the rig).
 */
TEST_F(vm, enable_more_vm_caps)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X2APIC_API,
		.args[0] = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
	};
	struct kvm_vcpu_events ev;
	int pmu, bus;

	EXPECT_NE(0, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X2APIC_API));
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	cap.args[0] = 1ULL << 20;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_ON_EMULATION_FAILURE));
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args[0] = 1 };
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	cap.args[0] = 2;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);

	/* APIC bus cycles: no in-kernel irqchip yet is ENXIO, 0 ns EINVAL. */
	bus = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_APIC_BUS_CYCLES_NS);
	EXPECT_LT(0, bus);
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_X86_APIC_BUS_CYCLES_NS, .args[0] = 2 };
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	cap.args[0] = 0;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);

	pmu = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_PMU_CAPABILITY);
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_PMU_CAPABILITY,
				       .args[0] = KVM_PMU_CAP_DISABLE };
	if (pmu) {
		EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	} else {
		EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
		EXPECT_EQ(EINVAL, errno);
	}

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_TRIPLE_FAULT_EVENT));
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_X86_TRIPLE_FAULT_EVENT, .args[0] = 1 };
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_VCPU_EVENTS, &ev));
	EXPECT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT);
	EXPECT_EQ(0, ev.triple_fault.pending);
	/* Bus cycles once a vCPU exists: EINVAL. */
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_X86_APIC_BUS_CYCLES_NS, .args[0] = 2 };
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	TH_LOG("%s: PMU capability %d, APIC bus cycle %d ns", t->path, pmu, bus);
}

/*
 * KVM_CAP_EXIT_HYPERCALL: KVM_HC_MAP_GPA_RANGE exits to userspace once
 * enabled, with its arguments, and the result userspace leaves is the
 * guest's RAX; before, the guest gets -KVM_ENOSYS.  KVM's EINVAL for a
 * hypercall it cannot exit for.
 */
TEST_F(vm, exit_hypercall)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_HYPERCALL };
	struct kvm_run *r;
	long mask;

	mask = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL);
	EXPECT_EQ(1 << 12, mask);			/* KVM_HC_MAP_GPA_RANGE */
	EXPECT_EQ(mask, ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_HYPERCALL));
	cap.args[0] = 1 << 5;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);

	TVM_LOAD(t, hc_map);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	r = t->run[0];
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x10, 2);
	EXPECT_EQ((uint16_t)-1000, *(uint16_t *)tvm_io(t, 0));	/* -KVM_ENOSYS */

	cap.args[0] = mask;
	ASSERT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(0, tvm_run(t, 0));
	ASSERT_EQ(KVM_EXIT_HYPERCALL, r->exit_reason) TH_LOG("exit %u", r->exit_reason);
	EXPECT_EQ(12, r->hypercall.nr);
	EXPECT_EQ(0x200000, r->hypercall.args[0]);
	EXPECT_EQ(1, r->hypercall.args[1]);
	EXPECT_EQ(0, r->hypercall.args[2]);
	EXPECT_EQ(KVM_EXIT_HYPERCALL_LONG_MODE, r->hypercall.flags);
	r->hypercall.ret = 0x55;
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x10, 2);
	EXPECT_EQ(0x55, *(uint16_t *)tvm_io(t, 0));
}

/*
 * Userspace MSRs, as QEMU sets them up: KVM_CAP_X86_USER_SPACE_MSR for
 * unknown and filtered MSRs, and an MSR filter that denies reads of MSR
 * 0x35 (QEMU's MSR_CORE_THREAD_COUNT).  The guest's RDMSR of 0x35 and its
 * WRMSR of an MSR KVM does not know exit to userspace, whose answers the
 * guest sees.
 */
TEST_F(vm, userspace_msrs_and_filter)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER,
	};
	uint8_t deny = 0;
	struct kvm_msr_filter f = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges[0] = { .flags = KVM_MSR_FILTER_READ, .nmsrs = 1, .base = 0x35,
			       .bitmap = &deny },
	};
	struct kvm_run *run;
	uint32_t v;

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_USER_SPACE_MSR));
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_MSR_FILTER));
	ASSERT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	ASSERT_EQ(0, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	TVM_LOAD(t, msr);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	run = t->run[0];

	ASSERT_EQ(0, tvm_run(t, 0));
	ASSERT_EQ(KVM_EXIT_X86_RDMSR, run->exit_reason) TH_LOG("exit %u", run->exit_reason);
	EXPECT_EQ(KVM_MSR_EXIT_REASON_FILTER, run->msr.reason);
	EXPECT_EQ(0x35, run->msr.index);
	run->msr.data = 0x0000000200000004ULL;	/* 2 cores, 4 threads */
	run->msr.error = 0;
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x61, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(4, v);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x62, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(2, v);

	ASSERT_EQ(0, tvm_run(t, 0));
	ASSERT_EQ(KVM_EXIT_X86_WRMSR, run->exit_reason) TH_LOG("exit %u", run->exit_reason);
	EXPECT_EQ(KVM_MSR_EXIT_REASON_UNKNOWN, run->msr.reason);
	EXPECT_EQ(0xdeadbeef, run->msr.index);
	EXPECT_EQ(0x0000006600000055ULL, run->msr.data);
	run->msr.error = 0;
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x63, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(0x77, v);
}

/*
 * SMM: KVM_SMI makes the vCPU enter SMM at SMBASE + 0x8000 (SMBASE is
 * 0x30000 after reset), which it reads from address space 1, SMRAM; its
 * exits carry KVM_RUN_X86_SMM and kvm_vcpu_events says it is in SMM;
 * RSM brings it back to where it was, in address space 0.  The handler
 * and the state KVM saves exist only in SMRAM's memory.
 */
TEST_F(vm, smi_runs_the_handler_in_smram)
{
	static const uint8_t handler[] = {
		0xb0, 0x42,		/* mov $0x42, %al */
		0xe6, 0x99,		/* out %al, $0x99 */
		0x0f, 0xaa,		/* rsm */
	};
	const uint64_t smbase = 0x30000;
	struct tvm *t = &self->t;
	struct kvm_userspace_memory_region r = {
		.slot = 1 << 16, .guest_phys_addr = 0, .memory_size = GUEST_MEM_SIZE,
	};
	struct kvm_vcpu_events ev;
	struct kvm_run *run;
	uint32_t n;
	uint8_t *smram;
	int i;

	ASSERT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_SMM));
	ASSERT_EQ(2, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE));
	smram = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, smram);
	memcpy(smram + smbase + 0x8000, handler, sizeof(handler));
	r.userspace_addr = (uintptr_t)smram;
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r)) TH_LOG("%s", strerror(errno));
	TVM_LOAD(t, pio_loop);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	/* A 64-bit CPU: KVM saves long mode state in SMRAM's 64-bit format. */
	ASSERT_EQ(0, tvm_set_host_cpuid(t, 0, false, NULL, 0));
	run = t->run[0];

	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x70, 4);
	EXPECT_EQ(0, run->flags & KVM_RUN_X86_SMM);

	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SMI, 0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x99, 1);
	EXPECT_EQ(0x42, *tvm_io(t, 0));
	EXPECT_EQ(KVM_RUN_X86_SMM, run->flags & KVM_RUN_X86_SMM);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_VCPU_EVENTS, &ev));
	EXPECT_TRUE(ev.flags & KVM_VCPUEVENT_VALID_SMM);
	EXPECT_EQ(1, ev.smi.smm);
	/* The state save area was written to SMRAM, not to normal memory. */
	for (i = 0xfe00; i < 0x10000 && !smram[smbase + i]; i++)
		;
	EXPECT_GT(0x10000, i) TH_LOG("no state saved in SMRAM");
	for (i = 0x8000; i < 0x10000 && !t->mem[smbase + i]; i++)
		;
	EXPECT_EQ(0x10000, i) TH_LOG("address space 0 written at %#x", i);

	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x70, 4);
	memcpy(&n, tvm_io(t, 0), 4);
	EXPECT_EQ(2, n);
	EXPECT_EQ(0, run->flags & KVM_RUN_X86_SMM);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_VCPU_EVENTS, &ev));
	EXPECT_EQ(0, ev.smi.smm);
	munmap(smram, GUEST_MEM_SIZE);
}

/* x86 has two address spaces: a slot in a third is EINVAL. */
TEST_F(vm, memslot_in_third_address_space_is_einval)
{
	struct tvm *t = &self->t;
	struct kvm_userspace_memory_region r = {
		.slot = 2 << 16, .guest_phys_addr = 0, .memory_size = 0x1000,
		.userspace_addr = (uintptr_t)t->mem,
	};

	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_STILL_RUNS(t);
}

/*
 * Nested state (migrating a vCPU that runs its own guests): outside guest
 * mode it is the header alone, which goes back as it came; KVM writes
 * nothing past it.  A buffer smaller than the header is E2BIG with the
 * size needed written back; a size past anything KVM has is only a bound.
 */
TEST_F(vm, nested_state_roundtrip)
{
	struct tvm *t = &self->t;
	struct {
		struct kvm_nested_state h;
		uint8_t data[8192];
	} st;
	int max;

	max = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	EXPECT_LT((int)sizeof(st.h), max);
	EXPECT_GE((int)sizeof(st), max);
	ASSERT_EQ(0, tvm_add_vcpu(t));

	memset(&st, 0xa5, sizeof(st));
	st.h.size = sizeof(st);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_NESTED_STATE, &st)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(sizeof(st.h), st.h.size);
	EXPECT_TRUE(st.h.format == KVM_STATE_NESTED_FORMAT_SVM ||
		    st.h.format == KVM_STATE_NESTED_FORMAT_VMX);
	EXPECT_EQ(0, st.h.flags & KVM_STATE_NESTED_GUEST_MODE);
	EXPECT_EQ(0xa5, st.data[0]);
	EXPECT_EQ(0xa5, st.data[sizeof(st.data) - 1]);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_NESTED_STATE, &st)) TH_LOG("%s", strerror(errno));

	/* Hostile sizes. */
	st.h.size = UINT32_MAX;
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_NESTED_STATE, &st));
	EXPECT_EQ(sizeof(st.h), st.h.size);
	st.h.size = 16;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_GET_NESTED_STATE, &st));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(sizeof(st.h), st.h.size);
	st.h.size = 16;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_SET_NESTED_STATE, &st));
	EXPECT_EQ(EINVAL, errno);
	/* Flags KVM does not know, and run-pending outside guest mode. */
	st.h.size = sizeof(st.h);
	st.h.flags = 0x8000;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_SET_NESTED_STATE, &st));
	EXPECT_EQ(EINVAL, errno);
	st.h.flags = KVM_STATE_NESTED_RUN_PENDING;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_SET_NESTED_STATE, &st));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_STILL_RUNS(t);
}

/*
 * Bus lock exits: OFF with EXIT, or an unknown mode, is EINVAL; EXIT is
 * accepted even where the CPU has no bus lock detection (KVM then reports
 * no modes and nothing changes), OFF always.
 */
TEST_F(vm, enable_bus_lock_exit)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_X86_BUS_LOCK_EXIT };

	ASSERT_LE(0, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_X86_BUS_LOCK_EXIT));
	cap.args[0] = KVM_BUS_LOCK_DETECTION_OFF | KVM_BUS_LOCK_DETECTION_EXIT;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	cap.args[0] = 1 << 5;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	/* Accepted either way; without detection it changes nothing. */
	cap.args[0] = KVM_BUS_LOCK_DETECTION_EXIT;
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap)) TH_LOG("%s", strerror(errno));
	cap.args[0] = KVM_BUS_LOCK_DETECTION_OFF;
	EXPECT_EQ(0, ioctl(t->vm, KVM_ENABLE_CAP, &cap)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_STILL_RUNS(t);
}

/* The Hyper-V CPUID leaves at @fd's level into @c (nent set); -errno. */
static int hv_cpuid(int fd, struct kvm_cpuid2 *c, unsigned int nent)
{
	c->nent = nent;
	return ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, c) ? -errno : 0;
}

static const struct kvm_cpuid_entry2 *cpuid_leaf(const struct kvm_cpuid2 *c,
						 uint32_t fn)
{
	unsigned int i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

/*
 * Hyper-V: the system's and the vCPU's Hyper-V CPUID leaves (E2BIG, with
 * the count needed, for too few entries); SynIC enabled on a vCPU (EINVAL
 * without an in-kernel irqchip or with an argument for SYNIC2); the guest
 * sees Hyper-V from its CPUID, and its write to SCONTROL reaches
 * userspace as KVM_EXIT_HYPERV.
 */
TEST_F(vm, hyperv_cpuid_and_synic_exit)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_HYPERV_SYNIC2 };
	struct kvm_cpuid2 *sys, *hv;
	const struct kvm_cpuid_entry2 *e;
	struct kvm_run *run;
	size_t sz = sizeof(*sys) + 256 * sizeof(struct kvm_cpuid_entry2);

	sys = calloc(1, sz);
	hv = calloc(1, sz);
	ASSERT_TRUE(sys && hv);
	EXPECT_EQ(1, ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_SYS_HYPERV_CPUID));
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV_SYNIC2));
	ASSERT_EQ(0, hv_cpuid(t->dev, sys, 64));
	e = cpuid_leaf(sys, 0x40000000);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0, memcmp(&e->ebx, "Linux KVM Hv", 12));
	e = cpuid_leaf(sys, 0x40000001);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(0x31237648, e->eax);			/* "Hv#1" */
	EXPECT_EQ(-E2BIG, hv_cpuid(t->dev, hv, 1));

	/* SynIC needs the in-kernel irqchip: EINVAL on a VM without one. */
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	tvm_close(t);
	ASSERT_EQ(0, tvm_open(t, variant->path));
	ASSERT_EQ(0, tvm_create_vm(t, NULL));
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	TVM_LOAD(t, synic);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	run = t->run[0];
	cap.args[0] = 1;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	cap.args[0] = 0;
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_ENABLE_CAP, &cap)) TH_LOG("%s", strerror(errno));

	/* The vCPU's leaves now include SynIC; the guest sees Hyper-V. */
	ASSERT_EQ(0, hv_cpuid(t->vcpu[0], hv, 64));
	ASSERT_EQ(0, tvm_set_host_cpuid(t, 0, true, hv->entries, hv->nent));

	ASSERT_EQ(0, tvm_run(t, 0));
	ASSERT_EQ(KVM_EXIT_HYPERV, run->exit_reason) TH_LOG("exit %u", run->exit_reason);
	EXPECT_EQ(KVM_EXIT_HYPERV_SYNIC, run->hyperv.type);
	EXPECT_EQ(0x40000080, run->hyperv.u.synic.msr);
	EXPECT_EQ(1, run->hyperv.u.synic.control);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x10, 1);
	EXPECT_EQ(1, *tvm_io(t, 0));
	free(sys);
	free(hv);
}

/* KVM_COALESCED_MMIO_MAX for 4 KiB pages (the uapi macro wants PAGE_SIZE). */
#define RING_MAX ((4096 - sizeof(struct kvm_coalesced_mmio_ring)) / \
		  sizeof(struct kvm_coalesced_mmio))

/* One guest write as the VMM sees it: from the ring or from an exit. */
struct cwrite {
	uint64_t addr;
	uint32_t len;
	uint32_t pio;
	uint64_t data;
};

static int coalesced_zone(struct tvm *t, unsigned long cmd, uint64_t addr,
			  uint32_t size, uint32_t pio)
{
	struct kvm_coalesced_mmio_zone z = { .addr = addr, .size = size, .pio = pio };

	return ioctl(t->vm, cmd, &z) ? -errno : 0;
}

static void cw_add(struct cwrite *w, int *n, int max, uint64_t addr,
		   uint32_t len, uint32_t pio, const void *data)
{
	if (*n >= max)
		return;
	w[*n].addr = addr;
	w[*n].len = len;
	w[*n].pio = pio;
	w[*n].data = 0;
	memcpy(&w[*n].data, data, len > 8 ? 8 : len);
	(*n)++;
}

/* What QEMU's kvm_flush_coalesced_mmio_buffer() does. */
static void ring_flush(struct kvm_coalesced_mmio_ring *ring, struct cwrite *w,
		       int *n, int max)
{
	while (ring->first != ring->last) {
		struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[ring->first];

		cw_add(w, n, max, e->phys_addr, e->len, e->pio, e->data);
		__sync_synchronize();
		ring->first = (ring->first + 1) % RING_MAX;
	}
}

/*
 * Run the guest to its port 0x10 exit as QEMU would: before handling a
 * write to a coalesced region, flush the ring (QEMU's coalesced regions
 * flush on their own accesses); port 0x11 flushes nothing.  Returns the
 * runs it took, or -1 on anything else.
 */
/*
 * Handle the exit in kvm_run as QEMU would: before handling a write to a
 * coalesced region, flush the ring (QEMU's coalesced regions flush on
 * their own accesses); port 0x11 flushes nothing.  1 at port 0x10 (the
 * end), 0 for the next run, -1 on anything else.
 */
static int coalesced_exit(struct tvm *t, struct kvm_coalesced_mmio_ring *ring,
			  struct cwrite *w, int *n, int max)
{
	struct kvm_run *r = t->run[0];

	if (r->exit_reason == KVM_EXIT_MMIO && r->mmio.is_write) {
		ring_flush(ring, w, n, max);
		cw_add(w, n, max, r->mmio.phys_addr, r->mmio.len, 0, r->mmio.data);
		return 0;
	}
	if (r->exit_reason != KVM_EXIT_IO || r->io.count != 1 ||
	    r->io.direction != KVM_EXIT_IO_OUT)
		return -1;
	if (r->io.port == 0x11)
		return 0;
	ring_flush(ring, w, n, max);
	if (r->io.port == 0x10)
		return 1;
	cw_add(w, n, max, r->io.port, r->io.size, 1, tvm_io(t, 0));
	return 0;
}

/*
 * Run the guest to its port 0x10 exit, handling each exit as QEMU would.
 * @pause: after each exit, also stop as QEMU does to pause a vCPU: runs
 * with immediate_exit until KVM_RUN says EINTR (exits that come first are
 * handled), and then every write the guest finished is with userspace,
 * handled or in the ring (3 per iteration the guest completed, its RBX).  Returns the runs it
 * took, -1 on an unexpected exit, -2 on a write missing at a pause.
 */
static int coalesced_collect(struct tvm *t, struct kvm_coalesced_mmio_ring *ring,
			     struct cwrite *w, int *n, int max, bool pause)
{
	struct kvm_run *r = t->run[0];
	struct kvm_regs regs;
	int runs, e;

	for (runs = 1; runs < 100000; runs++) {
		if (tvm_run(t, 0))
			return -1;
		e = coalesced_exit(t, ring, w, n, max);
		if (e)
			return e > 0 ? runs : -1;
		if (!pause)
			continue;
		r->immediate_exit = 1;
		while (!tvm_run(t, 0)) {
			e = coalesced_exit(t, ring, w, n, max);
			if (e) {
				r->immediate_exit = 0;
				return e > 0 ? runs : -1;
			}
		}
		r->immediate_exit = 0;
		/* Handed over or in the ring (a pause flushes nothing). */
		if (ioctl(t->vcpu[0], KVM_GET_REGS, &regs) ||
		    *n + (int)((ring->last + RING_MAX - ring->first) % RING_MAX) <
		    3 * (int)regs.rbx)
			return -2;
	}
	return -1;
}

/* The writes guest_coalesced makes for @iters iterations, in order. */
static int coalesced_expected(struct cwrite *w, int iters)
{
	int i, n = 0;
	uint64_t v;

	for (i = 0; i < iters; i++) {
		v = i;
		cw_add(w, &n, 3 * iters, GUEST_MMIO + (i % 64) * 16, 4, 0, &v);
		cw_add(w, &n, 3 * iters, GUEST_MMIO + (i % 64) * 16 + 8, 8, 0, &v);
		cw_add(w, &n, 3 * iters, 0x80, 1, 1, &v);
	}
	return n;
}

/* Run guest_coalesced afresh: @iters iterations, a quiet exit every @quiet. */
static int coalesced_round(struct tvm *t, struct kvm_coalesced_mmio_ring *ring,
			   int iters, int quiet, struct cwrite *got, int *n,
			   bool pause)
{
	struct kvm_regs regs;

	*(uint32_t *)(t->mem + GUEST_DATA) = iters;
	*(uint32_t *)(t->mem + GUEST_DATA + 4) = quiet;
	if (ioctl(t->vcpu[0], KVM_GET_REGS, &regs))
		return -1;
	regs.rip = GUEST_CODE;
	if (ioctl(t->vcpu[0], KVM_SET_REGS, &regs))
		return -1;
	*n = 0;
	return coalesced_collect(t, ring, got, n, 3 * iters + 1, pause);
}

/*
 * Coalesced MMIO and PIO: KVM's ring page in the vCPU mapping, the
 * writes in it in order when the VMM handles the next exit, and, when
 * the ring is full, every write still reaching the VMM in the guest's
 * order (on kvm-soc also across the host's ring, the posted-write ring
 * and the exits the SoC makes of writes its ring has no room for).
 * Unregistered zones exit again; KVM's EINVAL for a bad zone.
 */
TEST_F(vm, coalesced_mmio_and_pio_in_order)
{
	struct tvm *t = &self->t;
	struct kvm_coalesced_mmio_ring *ring;
	struct cwrite *want, *got;
	int cap, n, m, runs, quiet;
	const int iters = 300;

	want = calloc(3 * iters + 1, sizeof(*want));
	got = calloc(3 * iters + 1, sizeof(*got));
	ASSERT_TRUE(want && got);
	cap = ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	ASSERT_EQ(KVM_COALESCED_MMIO_PAGE_OFFSET, cap);
	EXPECT_EQ(cap, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO));
	EXPECT_EQ((KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * 4096,
		  ioctl(t->dev, KVM_GET_VCPU_MMAP_SIZE, 0));

	EXPECT_EQ(-EINVAL, coalesced_zone(t, KVM_REGISTER_COALESCED_MMIO,
					  GUEST_MMIO, 4096, 2));
	EXPECT_EQ(-EINVAL, coalesced_zone(t, KVM_UNREGISTER_COALESCED_MMIO,
					  GUEST_MMIO, 4096, 2));
	ASSERT_EQ(0, coalesced_zone(t, KVM_REGISTER_COALESCED_MMIO,
				    GUEST_MMIO, 4096, 0));
	ASSERT_EQ(0, coalesced_zone(t, KVM_REGISTER_COALESCED_MMIO, 0x80, 1, 1));
	TVM_LOAD(t, coalesced);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ring = (void *)((uint8_t *)t->run[0] + cap * 4096);
	n = coalesced_expected(want, iters);

	/* Flushed at every coalesced-region exit; most writes make none. */
	runs = coalesced_round(t, ring, iters, 0, got, &m, false);
	ASSERT_LT(0, runs);
	ASSERT_EQ(n, m);
	EXPECT_EQ(0, memcmp(want, got, n * sizeof(*want)));
	EXPECT_GT(n / 2, runs) TH_LOG("%d writes, %d runs", n, runs);

	/* Exits that flush nothing in between: the ring fills up. */
	for (quiet = 20; quiet <= 120; quiet += 50) {
		runs = coalesced_round(t, ring, iters, quiet, got, &m, false);
		ASSERT_LT(0, runs);
		ASSERT_EQ(n, m) TH_LOG("quiet every %d", quiet);
		EXPECT_EQ(0, memcmp(want, got, n * sizeof(*want)))
			TH_LOG("quiet every %d", quiet);
		TH_LOG("%d writes, a quiet exit every %d iterations: %d runs",
		       n, quiet, runs);
	}

	/*
	 * Paused after every exit, as QEMU stops a vCPU: immediate_exit
	 * ends the run only once every finished write is out.
	 */
	runs = coalesced_round(t, ring, iters, 20, got, &m, true);
	ASSERT_LT(0, runs) TH_LOG("runs %d", runs);
	ASSERT_EQ(n, m);
	EXPECT_EQ(0, memcmp(want, got, n * sizeof(*want)));

	/* Unregistered: every write exits. */
	ASSERT_EQ(0, coalesced_zone(t, KVM_UNREGISTER_COALESCED_MMIO,
				    GUEST_MMIO, 4096, 0));
	ASSERT_EQ(0, coalesced_zone(t, KVM_UNREGISTER_COALESCED_MMIO, 0x80, 1, 1));
	runs = coalesced_round(t, ring, 10, 0, got, &m, false);
	EXPECT_EQ(31, runs);
	coalesced_expected(want, 10);
	ASSERT_EQ(30, m);
	EXPECT_EQ(0, memcmp(want, got, 30 * sizeof(*want)));
	EXPECT_EQ(ring->first, ring->last);
	free(want);
	free(got);
}

/*
 * Userspace owns the ring's ->first: a wild value must cost its own VM
 * nothing but order (KVM: entries land wherever ->last is; kvm-soc: the
 * SoC takes the ring as full and hands each write over as an exit).
 */
TEST_F(vm, coalesced_ring_wild_first_is_survived)
{
	struct tvm *t = &self->t;
	struct kvm_coalesced_mmio_ring *ring;
	struct cwrite want[61], got[61];
	struct kvm_run *r;
	int runs, n, m;

	ASSERT_EQ(0, coalesced_zone(t, KVM_REGISTER_COALESCED_MMIO,
				    GUEST_MMIO, 4096, 0));
	TVM_LOAD(t, coalesced);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	r = t->run[0];
	ring = (void *)((uint8_t *)r + KVM_COALESCED_MMIO_PAGE_OFFSET * 4096);
	ring->first = 0xffffffff;
	*(uint32_t *)(t->mem + GUEST_DATA) = 50;
	for (runs = 0; runs < 1000; runs++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		if (r->exit_reason == KVM_EXIT_IO && r->io.port == 0x10)
			break;
		ASSERT_TRUE(r->exit_reason == KVM_EXIT_MMIO ||
			    r->exit_reason == KVM_EXIT_IO)
			TH_LOG("exit %u", r->exit_reason);
	}
	EXPECT_GT(1000, runs);

	/* A sane ring again: the writes come in order as before. */
	ring->first = ring->last;
	ASSERT_EQ(0, coalesced_zone(t, KVM_REGISTER_COALESCED_MMIO, 0x80, 1, 1));
	n = coalesced_expected(want, 20);
	ASSERT_LT(0, coalesced_round(t, ring, 20, 0, got, &m, false));
	ASSERT_EQ(n, m);
	EXPECT_EQ(0, memcmp(want, got, n * sizeof(*want)));
}

static int hv_eventfd(struct tvm *t, uint32_t conn, int fd, uint32_t flags)
{
	struct kvm_hyperv_eventfd a = { .conn_id = conn, .fd = fd, .flags = flags };

	return ioctl(t->vm, KVM_HYPERV_EVENTFD, &a) ? -errno : 0;
}

/* The guest's HvSignalEvent on connection @conn: the status it got. */
static int hv_signal(struct tvm *t, uint32_t conn)
{
	*(uint64_t *)(t->mem + GUEST_DATA) = conn;
	if (tvm_run(t, 0) || t->run[0]->exit_reason != KVM_EXIT_IO ||
	    t->run[0]->io.port != 0x10)
		return -1;
	return *(uint16_t *)tvm_io(t, 0);
}

/* An eventfd's count once it reaches @want, or after 5 s. */
static uint64_t efd_wait(int fd, uint64_t want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t total = 0, v;
	int i;

	for (i = 0; i < 50 && total < want; i++)
		if (poll(&p, 1, 100) == 1 && read(fd, &v, 8) == 8)
			total += v;
	return total;
}

/*
 * KVM_HYPERV_EVENTFD: the guest's HvSignalEvent on a connection with an
 * eventfd succeeds and counts there, exactly once per hypercall, without
 * an exit; without one it fails (HV_STATUS_INVALID_HYPERCALL_INPUT, as
 * there is no SynIC).  KVM's errnos for bad arguments.
 */
TEST_F(vm, hyperv_eventfd_counts_signal_event)
{
	struct tvm *t = &self->t;
	struct kvm_cpuid2 *hv;
	int efd, efd2, i;
	uint64_t v;

	hv = calloc(1, sizeof(*hv) + 64 * sizeof(struct kvm_cpuid_entry2));
	ASSERT_NE(NULL, hv);
	EXPECT_EQ(1, ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV_EVENTFD));
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV_EVENTFD));
	efd = eventfd(0, EFD_NONBLOCK);
	efd2 = eventfd(0, EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_LE(0, efd2);

	EXPECT_EQ(-EINVAL, hv_eventfd(t, 5, efd, 2));		/* flags */
	EXPECT_EQ(-EINVAL, hv_eventfd(t, 0x1000000, efd, 0));	/* conn_id */
	EXPECT_EQ(-EBADF, hv_eventfd(t, 5, -1, 0));
	EXPECT_EQ(-EINVAL, hv_eventfd(t, 5, t->vm, 0));		/* no eventfd */
	EXPECT_EQ(-ENOENT, hv_eventfd(t, 5, efd, KVM_HYPERV_EVENTFD_DEASSIGN));
	ASSERT_EQ(0, hv_eventfd(t, 5, efd, 0));
	EXPECT_EQ(-EEXIST, hv_eventfd(t, 5, efd2, 0));
	ASSERT_EQ(0, hv_eventfd(t, 0xffffff, efd2, 0));

	TVM_LOAD(t, hv_signal);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, hv_cpuid(t->dev, hv, 64));
	ASSERT_EQ(0, tvm_set_host_cpuid(t, 0, true, hv->entries, hv->nent));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, hv_signal(t, 5));
	EXPECT_EQ(0, hv_signal(t, 0xffffff));
	EXPECT_EQ(3, hv_signal(t, 6));		/* no eventfd, no SynIC */
	EXPECT_EQ(3, efd_wait(efd, 3));
	EXPECT_EQ(1, efd_wait(efd2, 1));

	/* Deassigned by connection id alone: the hypercall fails again. */
	ASSERT_EQ(0, hv_eventfd(t, 5, -1, KVM_HYPERV_EVENTFD_DEASSIGN));
	EXPECT_EQ(-ENOENT, hv_eventfd(t, 5, efd, KVM_HYPERV_EVENTFD_DEASSIGN));
	EXPECT_EQ(3, hv_signal(t, 5));
	EXPECT_EQ(0, hv_signal(t, 0xffffff));
	EXPECT_EQ(1, efd_wait(efd2, 1));
	usleep(200000);
	EXPECT_EQ(-1, read(efd, &v, 8));		/* nothing more */
	EXPECT_EQ(EAGAIN, errno);
	close(efd);
	close(efd2);
	free(hv);
}

/*
 * KVM_SET_BOOT_CPU_ID before any vCPU (EBUSY after, EINVAL past KVM's
 * IDs); KVM_REINJECT_CONTROL needs the in-kernel PIT (ENXIO without).
 */
TEST_F(vm, boot_cpu_id_and_pit_reinject)
{
	struct tvm *t = &self->t;
	struct kvm_pit_config pit = { .flags = 0 };
	struct kvm_reinject_control rc = { .pit_reinject = 0 };

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_SET_BOOT_CPU_ID));
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_REINJECT_CONTROL));
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_BOOT_CPU_ID, 1));
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_BOOT_CPU_ID, 100000));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_BOOT_CPU_ID, 0));
	EXPECT_EQ(-1, ioctl(t->vm, KVM_REINJECT_CONTROL, &rc));
	EXPECT_EQ(ENXIO, errno);
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_PIT2, &pit));
	EXPECT_EQ(0, ioctl(t->vm, KVM_REINJECT_CONTROL, &rc)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_BOOT_CPU_ID, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_STILL_RUNS(t);
}

#ifdef KVM_PRE_FAULT_MEMORY
/*
 * KVM_PRE_FAULT_MEMORY maps guest memory ahead and reports its progress
 * in the struct; unaligned ranges and flags are EINVAL, a range with no
 * memory slot ENOENT.
 */
TEST_F(vm, pre_fault_memory)
{
	struct tvm *t = &self->t;
	struct kvm_pre_fault_memory r = { .gpa = 0x100000, .size = 0x10000 };
	int ret, i;

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_PRE_FAULT_MEMORY));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	for (i = 0; i < 100 && r.size; i++) {
		ret = ioctl(t->vcpu[0], KVM_PRE_FAULT_MEMORY, &r);
		ASSERT_TRUE(!ret || errno == EINTR || errno == EAGAIN)
			TH_LOG("%s", strerror(errno));
	}
	EXPECT_EQ(0, r.size);
	EXPECT_EQ(0x110000, r.gpa);
	r = (struct kvm_pre_fault_memory){ .gpa = 0x100800, .size = 0x1000 };
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_PRE_FAULT_MEMORY, &r));
	EXPECT_EQ(EINVAL, errno);
	r = (struct kvm_pre_fault_memory){ .gpa = 0x100000, .size = 0x1000, .flags = 1 };
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_PRE_FAULT_MEMORY, &r));
	EXPECT_EQ(EINVAL, errno);
	r = (struct kvm_pre_fault_memory){ .gpa = 0x40000000, .size = 0x1000 };
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_PRE_FAULT_MEMORY, &r));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_STILL_RUNS(t);
}
#endif

/*
 * Machine checks: the MCG_CAP KVM supports; a vCPU set up with 10 banks;
 * a corrected error lands in its bank's MSRs (a second one sets OVER);
 * no banks, a bank past the last or an error without VAL is EINVAL.
 */
TEST_F(vm, machine_check_banks)
{
	struct tvm *t = &self->t;
	struct kvm_x86_mce mce = {
		.status = (1ULL << 63) | 0x1234,	/* VAL, corrected */
		.addr = 0xabc000, .bank = 1,
	};
	struct {
		struct kvm_msrs m;
		struct kvm_msr_entry e[2];
	} msrs = { .m.nmsrs = 2, .e = { { .index = 0x405 }, { .index = 0x406 } } };
	uint64_t sup = 0, cap;

	ASSERT_EQ(0, ioctl(t->dev, KVM_X86_GET_MCE_CAP_SUPPORTED, &sup));
	EXPECT_NE(0, sup & (1ULL << 8)) TH_LOG("MCG_CTL_P %#llx", (unsigned long long)sup);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	cap = 0;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_X86_SETUP_MCE, &cap));
	EXPECT_EQ(EINVAL, errno);
	cap = (sup & ~0xffULL) | 10;
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_X86_SETUP_MCE, &cap)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_X86_SET_MCE, &mce));
	ASSERT_EQ(2, ioctl(t->vcpu[0], KVM_GET_MSRS, &msrs));
	EXPECT_EQ(mce.status, msrs.e[0].data);
	EXPECT_EQ(0xabc000, msrs.e[1].data);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_X86_SET_MCE, &mce));
	ASSERT_EQ(2, ioctl(t->vcpu[0], KVM_GET_MSRS, &msrs));
	EXPECT_EQ(mce.status | (1ULL << 62), msrs.e[0].data);
	mce.bank = 10;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_X86_SET_MCE, &mce));
	EXPECT_EQ(EINVAL, errno);
	mce.bank = 2;
	mce.status = 0x1234;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_X86_SET_MCE, &mce));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_STILL_RUNS(t);
}

/*
 * KVM_SET_PMU_EVENT_FILTER: allow and deny lists (masked events too);
 * a bad action or flag is EINVAL, more than KVM's 300 events E2BIG,
 * whatever the count says (checked after the action, as KVM does).
 */
TEST_F(vm, pmu_event_filter)
{
	struct tvm *t = &self->t;
	struct {
		struct kvm_pmu_event_filter f;
		uint64_t ev[4];
	} pf = {
		.f = { .action = KVM_PMU_EVENT_ALLOW, .nevents = 2 },
		.ev = { 0x00c0, 0x003c },	/* instructions, cycles */
	};

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_PMU_EVENT_FILTER));
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf)) TH_LOG("%s", strerror(errno));
	pf.f.action = KVM_PMU_EVENT_DENY;
	pf.f.nevents = 0;
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf));
#ifdef KVM_PMU_EVENT_FLAG_MASKED_EVENTS
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_PMU_EVENT_MASKED_EVENTS));
	pf.f.flags = KVM_PMU_EVENT_FLAG_MASKED_EVENTS;
	pf.f.nevents = 1;
	pf.ev[0] = KVM_PMU_ENCODE_MASKED_ENTRY(0xc0, 0xff, 0, 0);
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf)) TH_LOG("%s", strerror(errno));
	pf.f.flags = 0;
#endif
	pf.f.action = 7;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf));
	EXPECT_EQ(EINVAL, errno);
	pf.f.action = KVM_PMU_EVENT_ALLOW;
	pf.f.flags = 0x80;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf));
	EXPECT_EQ(EINVAL, errno);
	pf.f.flags = 0;
	pf.f.nevents = 301;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf));
	EXPECT_EQ(E2BIG, errno);
	pf.f.nevents = UINT32_MAX;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf));
	EXPECT_EQ(E2BIG, errno);
	pf.f.action = 7;		/* the action is checked first */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_PMU_EVENT_FILTER, &pf));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_STILL_RUNS(t);
}

/*
 * The TPR-patching interface of old Windows guests: TPR access reports
 * (flags must be 0) and the vAPIC page, which needs the in-kernel LAPIC.
 */
TEST_F(vm, tpr_access_and_vapic)
{
	struct tvm *t = &self->t;
	struct kvm_tpr_access_ctl tac = { .enabled = 1 };
	struct kvm_vapic_addr va = { .vapic_addr = 0x9000 };

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_VAPIC));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_EQ(0, ioctl(t->vcpu[0], KVM_TPR_ACCESS_REPORTING, &tac))
		TH_LOG("%s", strerror(errno));
	tac.flags = 1;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_TPR_ACCESS_REPORTING, &tac));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_SET_VAPIC_ADDR, &va));
	EXPECT_EQ(EINVAL, errno);
	tvm_close(t);
	ASSERT_EQ(0, tvm_open(t, variant->path));
	ASSERT_EQ(0, tvm_create_vm(t, NULL));
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_EQ(0, ioctl(t->vcpu[0], KVM_SET_VAPIC_ADDR, &va)) TH_LOG("%s", strerror(errno));
	va.vapic_addr = 0;
	EXPECT_EQ(0, ioctl(t->vcpu[0], KVM_SET_VAPIC_ADDR, &va));
	EXPECT_STILL_RUNS(t);
}

/*
 * Debugger ioctls: single-stepping stops after each instruction with
 * KVM_EXIT_DEBUG at the next one (guest_pio: mov $0x11,%al is 2 bytes);
 * KVM_TRANSLATE walks the guest's page tables; the emulated CPUID
 * leaves come back, E2BIG for too few entries.
 */
TEST_F(vm, single_step_translate_emulated_cpuid)
{
	struct tvm *t = &self->t;
	struct kvm_guest_debug dbg = {
		.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP,
	};
	struct kvm_translation tr = { .linear_address = GUEST_CODE + 0x123 };
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[100];
	} cpuid = { .c.nent = 100 };
	struct kvm_run *run;

	TVM_LOAD(t, pio);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	run = t->run[0];
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_GUEST_DEBUG, &dbg)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, tvm_run(t, 0));
	ASSERT_EQ(KVM_EXIT_DEBUG, run->exit_reason) TH_LOG("exit %u", run->exit_reason);
	EXPECT_EQ(GUEST_CODE + 2, run->debug.arch.pc);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x10, 1);
	dbg.control = 0;
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_GUEST_DEBUG, &dbg));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x12, 2);

	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_TRANSLATE, &tr));
	EXPECT_EQ(1, tr.valid);
	EXPECT_EQ(GUEST_CODE + 0x123, tr.physical_address);
	tr = (struct kvm_translation){ .linear_address = 1ULL << 40 };
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_TRANSLATE, &tr));
	EXPECT_EQ(0, tr.valid);

	ASSERT_EQ(0, ioctl(t->dev, KVM_GET_EMULATED_CPUID, &cpuid)) TH_LOG("%s", strerror(errno));
	EXPECT_LT(0, cpuid.c.nent);
	cpuid.c.nent = 1;
	EXPECT_EQ(-1, ioctl(t->dev, KVM_GET_EMULATED_CPUID, &cpuid));
	EXPECT_EQ(E2BIG, errno);
}

/* The u64 value of stat @name in stats file @fd (KVM's layout); -errno. */
static int stats_value(int fd, const char *name, uint64_t *val)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsz, total;
	uint32_t i;
	char *descs;
	int ret = -ENOENT;

	if (pread(fd, &h, sizeof(h), 0) != sizeof(h))
		return -EIO;
	dsz = sizeof(*d) + h.name_size;
	total = dsz * h.num_desc;
	descs = malloc(total);
	if (!descs)
		return -ENOMEM;
	if (pread(fd, descs, total, h.desc_offset) != (ssize_t)total) {
		free(descs);
		return -EIO;
	}
	for (i = 0; i < h.num_desc; i++) {
		d = (struct kvm_stats_desc *)(descs + i * dsz);
		if (strcmp(d->name, name))
			continue;
		ret = pread(fd, val, sizeof(*val), h.data_offset + d->offset) ==
		      sizeof(*val) ? 0 : -EIO;
		break;
	}
	free(descs);
	return ret;
}

/*
 * Binary stats (KVM_GET_STATS_FD) of a VM and of a vCPU: KVM's header,
 * an id naming a KVM VM, descriptors, and live values: 20 PIO exits
 * count exactly 20 in the vCPU's io_exits.  Reads past the end give 0
 * bytes; the file is read-only (EBADF) and has no ioctls (ENOTTY).
 */
TEST_F(vm, binary_stats_fds)
{
	struct tvm *t = &self->t;
	struct kvm_stats_header h;
	uint64_t a, b, v;
	char id[64] = "";
	static char big[1 << 20];
	int vfd, vcfd, i;
	ssize_t n;

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD));
	vfd = ioctl(t->vm, KVM_GET_STATS_FD, 0);
	ASSERT_LE(0, vfd) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(sizeof(h), pread(vfd, &h, sizeof(h), 0));
	EXPECT_LT(0, h.num_desc);
	EXPECT_GE(sizeof(id), h.name_size);
	ASSERT_EQ(h.name_size, pread(vfd, id, h.name_size, h.id_offset));
	EXPECT_EQ(0, strncmp(id, "kvm-", 4)) TH_LOG("id %s", id);
	EXPECT_EQ(0, stats_value(vfd, "remote_tlb_flush", &v));
	n = pread(vfd, big, sizeof(big), 0);
	EXPECT_LT((ssize_t)h.data_offset, n);
	EXPECT_EQ(0, pread(vfd, big, 16, 1ULL << 40));
	EXPECT_EQ(-1, write(vfd, "x", 1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, ioctl(vfd, KVM_CHECK_EXTENSION, 0));
	EXPECT_EQ(ENOTTY, errno);

	TVM_LOAD(t, pio_loop);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	vcfd = ioctl(t->vcpu[0], KVM_GET_STATS_FD, 0);
	ASSERT_LE(0, vcfd) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, stats_value(vcfd, "io_exits", &a));
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x70, 4);
	}
	ASSERT_EQ(0, stats_value(vcfd, "io_exits", &b));
	EXPECT_EQ(a + 20, b);
	ASSERT_EQ(0, stats_value(vcfd, "exits", &b));
	EXPECT_LE(20, b);
	close(vcfd);
	close(vfd);
}

/*
 * KVM_GET_SUPPORTED_CPUID with a count past KVM's 256: trimmed, as KVM
 * does, not E2BIG; entries past the ones KVM wrote stay as they were
 * (no bytes of an earlier call come back instead).
 */
TEST_F(vm, supported_cpuid_large_count_is_trimmed)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cpuid;
	const uint8_t *p;
	size_t i;

	memset(&cpuid, 0xa5, sizeof(cpuid));
	cpuid.c.nent = 100000;
	ASSERT_EQ(0, ioctl(self->t.dev, KVM_GET_SUPPORTED_CPUID, &cpuid))
		TH_LOG("%s", strerror(errno));
	ASSERT_GT(256, cpuid.c.nent);
	p = (const uint8_t *)&cpuid.e[cpuid.c.nent];
	for (i = 0; i < sizeof(cpuid.e[0]); i++)
		EXPECT_EQ(0xa5, p[i]);
}

/* Bad filters: KVM's errnos, in KVM's order; a bad bitmap is EFAULT. */
TEST_F(vm, msr_filter_bad_input)
{
	struct tvm *t = &self->t;
	static uint8_t bits[0x700];
	struct kvm_msr_filter f = {
		.ranges[0] = { .flags = KVM_MSR_FILTER_READ, .nmsrs = 8, .base = 0,
			       .bitmap = bits },
	};

	f.flags = 2;					/* no such flag */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	EXPECT_EQ(EINVAL, errno);
	f.flags = 0;
	f.ranges[0].flags = 0;				/* a used range needs one */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	EXPECT_EQ(EINVAL, errno);
	f.ranges[0].flags = KVM_MSR_FILTER_READ;
	f.ranges[0].nmsrs = 0x600 * 8 + 64;		/* bitmap over 0x600 bytes */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	EXPECT_EQ(EINVAL, errno);
	f.ranges[0].nmsrs = 8;
	f.ranges[1] = (struct kvm_msr_filter_range){ .flags = 4, .nmsrs = 8,
						     .bitmap = NULL };
	EXPECT_EQ(-1, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));	/* range 1's flags */
	EXPECT_EQ(EINVAL, errno);
	f.ranges[1].flags = KVM_MSR_FILTER_WRITE;	/* range 1's bitmap */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	EXPECT_EQ(EFAULT, errno);
	f.ranges[1].bitmap = bits;
	EXPECT_EQ(0, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	/* Default deny with no range: EINVAL; an empty allow filter: 0. */
	memset(&f, 0, sizeof(f));
	f.flags = KVM_MSR_FILTER_DEFAULT_DENY;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	EXPECT_EQ(EINVAL, errno);
	f.flags = 0;
	EXPECT_EQ(0, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, &f));
	EXPECT_EQ(-1, ioctl(t->vm, KVM_X86_SET_MSR_FILTER, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/* KVM_ENABLE_CAP on a vCPU: ENFORCE_PV_FEATURE_CPUID; others EINVAL. */
TEST_F(vm, enable_vcpu_caps)
{
	struct tvm *t = &self->t;
	struct kvm_enable_cap cap = { .cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args[0] = 1 };

	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID));
	/* A VM capability it is not. */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_EQ(0, ioctl(t->vcpu[0], KVM_ENABLE_CAP, &cap));
	cap.flags = 1;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	cap = (struct kvm_enable_cap){ .cap = KVM_CAP_EXCEPTION_PAYLOAD, .args[0] = 1 };
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_ENABLE_CAP, &cap));	/* a VM one */
	EXPECT_EQ(EINVAL, errno);
	cap.cap = 0x7fffffff;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_STILL_RUNS(t);
}

/*
 * Device attributes: the system's supported XCR0 (QEMU reads it), a vCPU's
 * TSC offset (set, read back), and KVM's errnos: ENXIO for an attribute
 * it does not have, EFAULT for a value it cannot read or write, EINVAL
 * for SET on the system fd, ENOTTY on the VM.
 */
TEST_F(vm, device_attributes)
{
	struct tvm *t = &self->t;
	uint64_t xcr0 = 0, off = 0, back = 0;
	struct kvm_device_attr a = {
		.group = KVM_X86_GRP_SYSTEM, .attr = KVM_X86_XCOMP_GUEST_SUPP,
		.addr = (uintptr_t)&xcr0,
	};

	EXPECT_EQ(1, ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_SYS_ATTRIBUTES));
	EXPECT_EQ(1, ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_ATTRIBUTES));
	EXPECT_EQ(0, ioctl(t->dev, KVM_HAS_DEVICE_ATTR, &a));
	EXPECT_EQ(0, ioctl(t->dev, KVM_GET_DEVICE_ATTR, &a));
	EXPECT_EQ(3, xcr0 & 3);				/* x87 and SSE at least */
	EXPECT_EQ(-1, ioctl(t->dev, KVM_SET_DEVICE_ATTR, &a));
	EXPECT_EQ(EINVAL, errno);
	a.addr = 8;
	EXPECT_EQ(-1, ioctl(t->dev, KVM_GET_DEVICE_ATTR, &a));
	EXPECT_EQ(EFAULT, errno);
	a.attr = 99;
	EXPECT_EQ(-1, ioctl(t->dev, KVM_HAS_DEVICE_ATTR, &a));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, ioctl(t->dev, KVM_GET_DEVICE_ATTR, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(t->vm, KVM_HAS_DEVICE_ATTR, &a));
	EXPECT_EQ(ENOTTY, errno);

	ASSERT_EQ(0, tvm_add_vcpu(t));
	a = (struct kvm_device_attr){ .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
				      .addr = (uintptr_t)&off };
	EXPECT_EQ(0, ioctl(t->vcpu[0], KVM_HAS_DEVICE_ATTR, &a));
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_DEVICE_ATTR, &a));
	off += 1ULL << 40;
	EXPECT_EQ(0, ioctl(t->vcpu[0], KVM_SET_DEVICE_ATTR, &a));
	a.addr = (uintptr_t)&back;
	EXPECT_EQ(0, ioctl(t->vcpu[0], KVM_GET_DEVICE_ATTR, &a));
	EXPECT_EQ(off, back);
	a.addr = 8;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_SET_DEVICE_ATTR, &a));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_GET_DEVICE_ATTR, &a));
	EXPECT_EQ(EFAULT, errno);
	a.attr = 1;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_HAS_DEVICE_ATTR, &a));
	EXPECT_EQ(ENXIO, errno);
	a.group = 5;
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_SET_DEVICE_ATTR, &a));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_STILL_RUNS(t);
}

TEST_F(vm, enable_unknown_cap_is_einval)
{
	struct kvm_enable_cap cap = { .cap = 0x7fffffff };

	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_ENABLE_CAP, &cap));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, vcpu_level_ioctls)
{
	struct tvm *t = &self->t;
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cpuid = { .c.nent = 256 }, back = { .c.nent = 256 };
	struct kvm_sregs2 s2;
	struct kvm_interrupt irq = { .irq = 0x30 };
	sigset_t set;
	unsigned int i;
	struct {
		struct kvm_signal_mask m;
		uint8_t set[8];
	} mask = { .m.len = 8 };
	long khz;
	int fd;

	ASSERT_EQ(0, tvm_add_vcpu(t));
	fd = t->vcpu[0];
	ASSERT_EQ(0, ioctl(t->dev, KVM_GET_SUPPORTED_CPUID, &cpuid));
	ASSERT_EQ(0, ioctl(fd, KVM_SET_CPUID2, &cpuid));
	ASSERT_EQ(0, ioctl(fd, KVM_GET_CPUID2, &back));
	ASSERT_EQ(cpuid.c.nent, back.c.nent);
	for (i = 0; i < cpuid.c.nent; i++) {
		EXPECT_EQ(cpuid.e[i].function, back.e[i].function);
		EXPECT_EQ(cpuid.e[i].index, back.e[i].index);
	}

	ASSERT_EQ(0, ioctl(fd, KVM_GET_SREGS2, &s2));
	EXPECT_EQ(GUEST_PML4, s2.cr3);
	ASSERT_EQ(0, ioctl(fd, KVM_SET_SREGS2, &s2));

	khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	EXPECT_LT(0, khz);
	EXPECT_EQ(0, ioctl(fd, KVM_SET_TSC_KHZ, khz));
	EXPECT_EQ(0, ioctl(fd, KVM_NMI, 0));
	EXPECT_EQ(0, ioctl(fd, KVM_INTERRUPT, &irq));
	irq.irq = 256;
	EXPECT_EQ(-1, ioctl(fd, KVM_INTERRUPT, &irq));
	EXPECT_EQ(EINVAL, errno);

	sigemptyset(&set);
	memcpy(mask.set, &set, 8);
	EXPECT_EQ(0, ioctl(fd, KVM_SET_SIGNAL_MASK, &mask));
	mask.m.len = 4;
	EXPECT_EQ(-1, ioctl(fd, KVM_SET_SIGNAL_MASK, &mask));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, ioctl(fd, KVM_SET_SIGNAL_MASK, NULL));
}

struct msi_sender {
	int vm;
	int ms;
	int ret;
};

static void *send_msi_later(void *arg)
{
	struct msi_sender *s = arg;
	struct kvm_msi msi = { .address_lo = 0xfee00000, .data = 0x40 };
	struct timespec ts = { .tv_nsec = s->ms * 1000000L };

	nanosleep(&ts, NULL);
	s->ret = ioctl(s->vm, KVM_SIGNAL_MSI, &msi);
	return NULL;
}

/*
 * In-kernel LAPIC: its state round-trips; an MSI sent before the first
 * KVM_RUN is delivered; every MSI is counted exactly; a halted vCPU wakes
 * on an MSI sent by another thread.
 */
TEST_F(vm, lapic_msi_counted_including_halted)
{
	struct tvm *t = &self->t;
	struct kvm_msi msi = { .address_lo = 0xfee00000, .data = 0x40 };
	struct kvm_lapic_state lapic, back;
	struct msi_sender later;
	uint32_t v, svr = 0x1ff;
	pthread_t th;
	int i, n = 50;

	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	TVM_LOAD(t, irq);
	tvm_set_gate(t, 0x40, GUEST_CODE + (guest_irq_handler - guest_irq));
	ASSERT_EQ(0, tvm_add_vcpu(t));

	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_LAPIC, &lapic));
	memcpy(lapic.regs + 0xf0, &svr, 4);	/* software-enable the APIC */
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_LAPIC, &lapic));
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_LAPIC, &back));
	memcpy(&v, back.regs + 0xf0, 4);
	EXPECT_EQ(0x1ff, v & 0x1ff);

	EXPECT_EQ(1, ioctl(t->vm, KVM_SIGNAL_MSI, &msi));	/* before KVM_RUN */
	for (i = 1; i <= n; i++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x61, 4);
		memcpy(&v, tvm_io(t, 0), 4);
		ASSERT_EQ(i, v);
		if (i < n)
			ASSERT_EQ(1, ioctl(t->vm, KVM_SIGNAL_MSI, &msi));
	}
	/* Now halted with nothing pending: another thread wakes it. */
	later = (struct msi_sender){ .vm = t->vm, .ms = 200 };
	ASSERT_EQ(0, pthread_create(&th, NULL, send_msi_later, &later));
	ASSERT_EQ(0, tvm_run(t, 0));
	pthread_join(th, NULL);
	EXPECT_EQ(1, later.ret);
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x61, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(n + 1, v);
}

TEST_F(vm, irqchip_state_and_gsi_routing)
{
	struct tvm *t = &self->t;
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC }, chip2;
	struct kvm_irq_level line = { .irq = 4, .level = 1 };
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[1];
	} routes = { .r.nr = 1 };

	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	EXPECT_EQ(1, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP));
	ASSERT_EQ(0, ioctl(t->vm, KVM_GET_IRQCHIP, &chip));
	chip.chip.ioapic.id = 5;
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_IRQCHIP, &chip));
	memset(&chip2, 0, sizeof(chip2));
	chip2.chip_id = KVM_IRQCHIP_IOAPIC;
	ASSERT_EQ(0, ioctl(t->vm, KVM_GET_IRQCHIP, &chip2));
	EXPECT_EQ(5, chip2.chip.ioapic.id);
	EXPECT_EQ(0, ioctl(t->vm, KVM_IRQ_LINE_STATUS, &line));
	line.level = 0;
	EXPECT_EQ(0, ioctl(t->vm, KVM_IRQ_LINE, &line));

	routes.e[0].gsi = 5;
	routes.e[0].type = KVM_IRQ_ROUTING_MSI;
	routes.e[0].u.msi.address_lo = 0xfee00000;
	routes.e[0].u.msi.data = 0x41;
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_GSI_ROUTING, &routes));
	/* A GSI past KVM's routing table: EINVAL. */
	routes.e[0].gsi = 1 << 20;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_GSI_ROUTING, &routes));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, immediate_exit_is_eintr)
{
	struct tvm *t = &self->t;

	TVM_LOAD(t, pio);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	t->run[0]->immediate_exit = 1;
	EXPECT_EQ(-EINTR, tvm_run(t, 0));
	t->run[0]->immediate_exit = 0;
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x10, 1);
}

/* As QEMU does: a kick that lands outside KVM_RUN makes the next one exit. */
static struct kvm_run *kick_run;

static void on_sigusr1(int sig)
{
	struct kvm_run *r = __atomic_load_n(&kick_run, __ATOMIC_RELAXED);

	if (r)
		r->immediate_exit = 1;
}

struct kicker {
	pthread_t target;
	int ms;
};

static void *kick_thread(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = { .tv_nsec = k->ms * 1000000L };

	nanosleep(&ts, NULL);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

/* A signal to the thread in KVM_RUN stops a spinning guest: -EINTR. */
TEST_F(vm, signal_stops_spinning_guest)
{
	struct tvm *t = &self->t;
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct kicker k = { .target = pthread_self(), .ms = 300 };
	struct kvm_regs regs;
	pthread_t th;
	int ret, exits = 0;

	sigaction(SIGUSR1, &sa, NULL);
	TVM_LOAD(t, spin);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	__atomic_store_n(&kick_run, t->run[0], __ATOMIC_RELAXED);
	ASSERT_EQ(0, pthread_create(&th, NULL, kick_thread, &k));
	for (;;) {
		ret = tvm_run(t, 0);
		if (ret)
			break;
		ASSERT_EQ(KVM_EXIT_IO, t->run[0]->exit_reason);
		exits++;
	}
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, ret);
	/* KVM_EXIT_INTR if the signal hit KVM_RUN; else immediate_exit did. */
	EXPECT_TRUE(t->run[0]->exit_reason == KVM_EXIT_INTR ||
		    t->run[0]->exit_reason == KVM_EXIT_IO);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_REGS, &regs));
	EXPECT_GT(regs.rbx, 0);
	TH_LOG("%s: stopped after %d progress exits, rbx=%llu", t->path, exits,
	       (unsigned long long)regs.rbx);
	/* And it runs on afterwards. */
	__atomic_store_n(&kick_run, NULL, __ATOMIC_RELAXED);
	t->run[0]->immediate_exit = 0;
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_EQ(KVM_EXIT_IO, t->run[0]->exit_reason);
}

static void on_sigusr1_nop(int sig)
{
}

/* Write @val into host_kvm's parameter @knob; its old value into @old. */
static bool set_knob(const char *knob, const char *val, char *old, int len)
{
	char path[128];
	bool ok;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/host_kvm/parameters/%s", knob);
	f = fopen(path, "r+");
	if (!f)
		return false;
	ok = (!old || (fgets(old, len, f) && fseek(f, 0, SEEK_SET) == 0)) &&
	     fputs(val, f) >= 0 && fflush(f) == 0;
	fclose(f);
	return ok;
}

/*
 * A signal pending when KVM_RUN comes back with an IN's data: KVM
 * completes the IN first (AL has the data, RIP is past it), then returns
 * EINTR with KVM_EXIT_INTR.  QEMU stops a vCPU that way, and a migration
 * saves its registers then: a completion left undone would make the
 * destination do the IN again (a serial port's interrupt read twice, its
 * transmit interrupt lost).  On the loop the host's vCPU thread waits
 * between the completion and its KVM_RUN (host_kvm run_delay_ms), so the
 * SoC's kick is there first; before, the host then left KVM_RUN out.
 */
TEST_F(vm, pending_signal_completes_the_io_first)
{
	struct sigaction sa = { .sa_handler = on_sigusr1_nop };
	struct {
		struct kvm_signal_mask m;
		uint8_t set[8];
	} km = { .m.len = 8 };		/* nothing blocked in KVM_RUN */
	struct tvm *t = &self->t;
	bool delayed = false;
	struct kvm_regs regs;
	char old[16] = "0";
	sigset_t usr1;
	uint64_t rip;
	int i, ret;

	TVM_LOAD(t, pio);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	for (i = 0; i < 3; i++)			/* the three OUTs */
		ASSERT_EQ(0, tvm_run(t, 0));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_IN, 0x20, 1);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_REGS, &regs));
	rip = regs.rip;
	tvm_io(t, 0)[0] = 0x5a;

	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_SIGNAL_MASK, &km));
	if (!strcmp(t->path, "/dev/kvm-soc"))
		delayed = set_knob("run_delay_ms", "300\n", old, sizeof(old));
	pthread_kill(pthread_self(), SIGUSR1);	/* pending, blocked here */
	ret = tvm_run(t, 0);
	if (delayed)
		set_knob("run_delay_ms", old, NULL, 0);
	TH_LOG("%s: %s", t->path, delayed ? "host vCPU thread 300 ms late for KVM_RUN" :
	       "no host_kvm here");
	EXPECT_EQ(-EINTR, ret);
	EXPECT_EQ(KVM_EXIT_INTR, t->run[0]->exit_reason);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_REGS, &regs));
	EXPECT_EQ(rip + 2, regs.rip) TH_LOG("%s: the IN was not completed", t->path);
	EXPECT_EQ(0x5a, regs.rax & 0xff);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_SIGNAL_MASK, NULL));
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);	/* the nop handler */
	/* It goes on with the data, once: out %al, $0x21. */
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x21, 1);
	EXPECT_EQ(0x5a, tvm_io(t, 0)[0]);
}

struct two_kicks {
	struct tvm *t;
	int ret[2];
	int done;		/* runs returned */
};

static void *two_kicks_vcpu(void *arg)
{
	struct two_kicks *k = arg;
	int i;

	for (i = 0; i < 2; i++) {
		k->t->run[0]->immediate_exit = 0;
		k->ret[i] = tvm_run(k->t, 0);
		__atomic_store_n(&k->done, i + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static bool wait_done(struct two_kicks *k, int n, int ms)
{
	struct timespec ts = { .tv_nsec = 10 * 1000000L };

	for (; ms > 0; ms -= 10) {
		if (__atomic_load_n(&k->done, __ATOMIC_ACQUIRE) >= n)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/*
 * A halted vCPU (in-kernel irqchip: HLT never exits) kicked out of KVM_RUN
 * twice in a row, the second kick while the first is still being taken:
 * both runs return -EINTR.  On the loop the host's vCPU thread is made to
 * dawdle over the first kick (host_kvm kick_delay_ms), so the second kick's
 * signal merges with the first's; before the kick was also a bit the
 * host tested before KVM_RUN, that second run halted for good.
 */
TEST_F_TIMEOUT(vm, kick_during_kick_is_not_lost, 60)
{
	static const char knob[] = "/sys/module/host_kvm/parameters/kick_delay_ms";
	struct timespec gap = { .tv_nsec = 50 * 1000000L };
	struct sigaction sa = { .sa_handler = on_sigusr1_nop };
	struct tvm *t = &self->t;
	struct two_kicks k = { .t = t };
	char old[16] = "0";
	bool delayed = false;
	pthread_t th;
	FILE *f;

	sigaction(SIGUSR1, &sa, NULL);
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	TVM_LOAD(t, halt);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	if (strcmp(t->path, "/dev/kvm-soc") == 0) {
		f = fopen(knob, "r+");
		if (f) {
			delayed = fgets(old, sizeof(old), f) && fseek(f, 0, SEEK_SET) == 0 &&
				  fputs("500\n", f) >= 0 && fflush(f) == 0;
			fclose(f);
		}
	}
	ASSERT_EQ(0, pthread_create(&th, NULL, two_kicks_vcpu, &k));
	gap.tv_nsec = 200 * 1000000L;		/* into HLT */
	nanosleep(&gap, NULL);
	pthread_kill(th, SIGUSR1);
	EXPECT_TRUE(wait_done(&k, 1, 10000)) TH_LOG("the first kick did not stop the vCPU");
	gap.tv_nsec = 50 * 1000000L;		/* the second run has begun */
	nanosleep(&gap, NULL);
	pthread_kill(th, SIGUSR1);
	EXPECT_TRUE(wait_done(&k, 2, 10000))
		TH_LOG("%s: the second kick was lost: the vCPU stays halted", t->path);
	if (delayed) {
		f = fopen(knob, "w");
		if (f) {
			fputs(old, f);
			fclose(f);
		}
	}
	TH_LOG("%s: %s", t->path, delayed ? "host vCPU thread slowed by 500 ms per kick" :
	       "kicks at native speed (no host_kvm here)");
	/* A lost kick leaves the thread in KVM_RUN: the test's exit ends it. */
	ASSERT_EQ(2, __atomic_load_n(&k.done, __ATOMIC_ACQUIRE));
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, k.ret[0]);
	EXPECT_EQ(-EINTR, k.ret[1]);
	EXPECT_EQ(KVM_EXIT_INTR, t->run[0]->exit_reason);
}

struct vcpu_worker {
	struct tvm *t;
	int idx;
	int n;
	int errors;
	int progress;
	int done;
	int bad_ret;		/* the failing KVM_RUN: its return, exit reason */
	unsigned int bad_exit;
	pthread_t thread;
};

static void *pio_worker(void *arg)
{
	struct vcpu_worker *w = arg;
	uint32_t v;
	int i, r;

	for (i = 1; i <= w->n; i++) {
		r = tvm_run(w->t, w->idx);
		if (r == -EINTR) {		/* the watchdog's kick: run on */
			w->t->run[w->idx]->immediate_exit = 0;
			i--;
			continue;
		}
		if (r || w->t->run[w->idx]->exit_reason != KVM_EXIT_IO) {
			w->bad_ret = r;
			w->bad_exit = w->t->run[w->idx]->exit_reason;
			w->errors++;
			break;
		}
		memcpy(&v, tvm_io(w->t, w->idx), 4);
		if (v != (uint32_t)i)
			w->errors++;
		__atomic_store_n(&w->progress, i, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Nested KVM under TCG (the rig) very rarely leaves a vCPU thread asleep
 * in KVM_RUN (seen once on native /dev/kvm).  A watchdog kicks a thread
 * that made no progress for 5 s, as a VMM would; the kicks are counted
 * and printed, and the exit counts must still be exact.
 */
TEST_F_TIMEOUT(vm, four_vcpus_exit_concurrently, 120)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 };
	struct tvm *t = &self->t;
	struct vcpu_worker w[4];
	int i, last[4] = { -1, -1, -1, -1 }, kicks = 0, running = 4;

	sigaction(SIGUSR1, &sa, NULL);
	TVM_LOAD(t, pio_loop);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(i, tvm_add_vcpu(t));
		w[i] = (struct vcpu_worker){ .t = t, .idx = i, .n = 150 };
	}
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&w[i].thread, NULL, pio_worker, &w[i]));
	while (running) {
		sleep(5);
		running = 0;
		for (i = 0; i < 4; i++) {
			int p = __atomic_load_n(&w[i].progress, __ATOMIC_RELAXED);

			if (__atomic_load_n(&w[i].done, __ATOMIC_ACQUIRE))
				continue;
			running++;
			if (p == last[i]) {
				t->run[i]->immediate_exit = 1;
				pthread_kill(w[i].thread, SIGUSR1);
				kicks++;
			}
			last[i] = p;
		}
	}
	for (i = 0; i < 4; i++) {
		pthread_join(w[i].thread, NULL);
		EXPECT_EQ(0, w[i].errors) TH_LOG("vcpu %d: KVM_RUN %d, exit %u at %d",
						 i, w[i].bad_ret, w[i].bad_exit,
						 w[i].progress);
		EXPECT_EQ(150, w[i].progress);
	}
	if (kicks)
		TH_LOG("%s: watchdog kicked stalled vCPU threads %d time(s)",
		       t->path, kicks);
}

/* Bad input gets KVM's errnos. */
TEST_F(vm, memslot_overlap_is_eexist)
{
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x100000, .memory_size = 0x1000,
		.userspace_addr = (uintptr_t)self->t.mem,
	};

	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EEXIST, errno);
}

TEST_F(vm, memslot_unaligned_is_einval)
{
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400800, .memory_size = 0x1000,
		.userspace_addr = (uintptr_t)self->t.mem,
	};

	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
	r.guest_phys_addr = 0x400000;
	r.memory_size = 0x800;
	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
	r.memory_size = 0x1000;
	r.userspace_addr += 8;
	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, memslot_oversized_is_einval)
{
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400000,
		.memory_size = 1ULL << 62,
		.userspace_addr = (uintptr_t)self->t.mem,
	};

	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, memslot_bad_flags_is_einval)
{
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400000, .memory_size = 0x1000,
		.userspace_addr = (uintptr_t)self->t.mem, .flags = 1u << 30,
	};

	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, memslot_delete_and_move)
{
	struct tvm *t = &self->t;
	uint8_t *m2 = mmap(NULL, 0x2000, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400000, .memory_size = 0x2000,
		.userspace_addr = (uintptr_t)m2,
	};

	ASSERT_NE(MAP_FAILED, m2);
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	r.guest_phys_addr = 0x600000;			/* move */
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	r.flags = KVM_MEM_LOG_DIRTY_PAGES;		/* flags change */
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	r.memory_size = 0;				/* delete */
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	munmap(m2, 0x2000);
}

/* KVM_SET_USER_MEMORY_REGION2: a slot the guest then uses; no guest_memfd. */
TEST_F(vm, memslot_region2)
{
	struct tvm *t = &self->t;
	uint8_t *m2 = mmap(NULL, 0x200000, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kvm_userspace_memory_region2 r = {
		.slot = 1, .guest_phys_addr = 0x200000, .memory_size = 0x200000,
		.userspace_addr = (uintptr_t)m2,
	};

	ASSERT_NE(MAP_FAILED, m2);
	if (ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY2) <= 0)
		SKIP(return, "no KVM_CAP_USER_MEMORY2");
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION2, &r));
	r.slot = 2;
	r.guest_phys_addr = 0x800000;
	r.flags = KVM_MEM_GUEST_MEMFD;
	r.guest_memfd = 0;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION2, &r));
	EXPECT_EQ(EINVAL, errno);
	munmap(m2, 0x200000);
}

TEST_F(vm, system_msr_features_and_xsave2)
{
	struct tvm *t = &self->t;
	struct {
		struct kvm_msr_list l;
		uint32_t i[256];
	} list = { .l.nmsrs = 256 };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[1];
	} msrs = { .hdr.nmsrs = 1 };
	struct kvm_xsave *xs;
	int size;

	ASSERT_EQ(0, ioctl(t->dev, KVM_GET_MSR_FEATURE_INDEX_LIST, &list));
	ASSERT_LT(0, list.l.nmsrs);
	msrs.e[0].index = list.l.indices[0];
	EXPECT_EQ(1, ioctl(t->dev, KVM_GET_MSRS, &msrs));

	ASSERT_EQ(0, tvm_add_vcpu(t));
	size = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	ASSERT_LE(4096, size);
	xs = calloc(1, size);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_XSAVE2, xs));
	/* x87 control word is 0x37f after reset; MXCSR 0x1f80. */
	EXPECT_EQ(0x37f, xs->region[0] & 0xffff);
	EXPECT_EQ(0x1f80, xs->region[6]);
	free(xs);
}

TEST_F(vm, vcpu_id_out_of_range_is_einval)
{
	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_CREATE_VCPU, 1 << 30));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, duplicate_vcpu_id_is_eexist)
{
	ASSERT_EQ(0, tvm_add_vcpu(&self->t));
	EXPECT_EQ(-1, ioctl(self->t.vm, KVM_CREATE_VCPU, 0));
	EXPECT_EQ(EEXIST, errno);
}

/*
 * An unknown ioctl: x86 KVM says EINVAL on the system and vCPU fds (its
 * arch fallbacks, and any ioctl type on a vCPU) and ENOTTY on the VM fd.
 * So does kvm-soc, for those and for what it does not carry.
 */
TEST_F(vm, unknown_ioctls_errnos_as_kvm)
{
	ASSERT_EQ(0, tvm_add_vcpu(&self->t));
	EXPECT_EQ(-1, ioctl(self->t.dev, _IO(KVMIO, 0xff), 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->t.dev, _IO('z', 1), 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->t.vm, _IO(KVMIO, 0xff), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->t.vcpu[0], _IO(KVMIO, 0xff), 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->t.vcpu[0], _IO('z', 1), 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, run_with_argument_is_einval)
{
	ASSERT_EQ(0, tvm_add_vcpu(&self->t));
	EXPECT_EQ(-1, ioctl(self->t.vcpu[0], KVM_RUN, 1));
	EXPECT_EQ(EINVAL, errno);
}

/* A VM belongs to the address space that made it: a child gets EIO. */
TEST_F(vm, other_mm_is_eio)
{
	struct kvm_regs regs;
	int status;
	pid_t pid;

	ASSERT_EQ(0, tvm_add_vcpu(&self->t));
	pid = fork();
	if (!pid) {
		int ok = ioctl(self->t.vcpu[0], KVM_GET_REGS, &regs) == -1 &&
			 errno == EIO &&
			 ioctl(self->t.vm, KVM_CREATE_VCPU, 5) == -1 && errno == EIO;
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * Features of KVM that need no ioctl of their own read the same as on
 * stock KVM, on the device and on the VM: QEMU builds the guest's CPUID
 * from some of them (TSC deadline timer), and probes the VM first when
 * KVM_CAP_CHECK_EXTENSION_VM says it may.
 */
/*
 * Rows VMMs name that x86 KVM itself does not have: their capabilities
 * read 0 and ONE_REG is x86 KVM's EINVAL for a vCPU ioctl it does not
 * know, on /dev/kvm as on /dev/kvm-soc.
 */
TEST_F(vm, rows_x86_kvm_lacks_answer_as_kvm)
{
	static const int caps[] = {
		KVM_CAP_MSI_DEVID, KVM_CAP_VM_ATTRIBUTES, KVM_CAP_ONE_REG,
		KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP,
	};
	struct tvm *t = &self->t;
	uint64_t v = 0;
	struct kvm_one_reg reg = { .id = 0x2030000000000000ULL, .addr = (uintptr_t)&v };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		EXPECT_EQ(0, ioctl(t->dev, KVM_CHECK_EXTENSION, caps[i])) TH_LOG("cap %d", caps[i]);
		EXPECT_EQ(0, ioctl(t->vm, KVM_CHECK_EXTENSION, caps[i])) TH_LOG("cap %d", caps[i]);
	}
	/* arm64's ring-with-bitmap: no such capability to enable. */
	{
		struct kvm_enable_cap c = { .cap = KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP };

		EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &c));
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_EQ(0, tvm_add_vcpu(t));
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_GET_ONE_REG, &reg));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(t->vcpu[0], KVM_SET_ONE_REG, &reg));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(vm, feature_caps_match_kvm)
{
	static const int caps[] = {
		KVM_CAP_TSC_DEADLINE_TIMER, KVM_CAP_CLOCKSOURCE,
		KVM_CAP_NOP_IO_DELAY, KVM_CAP_IOAPIC_POLARITY_IGNORED,
		KVM_CAP_USER_NMI, KVM_CAP_ENABLE_CAP_VM,
		KVM_CAP_CHECK_EXTENSION_VM,
	};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), kvm_vm, want;
	unsigned int i;

	/* The rig's KVM has a TSC deadline timer, so the guest gets one. */
	EXPECT_EQ(1, ioctl(self->t.vm, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER));
	if (kvm < 0 && errno == ENOENT)
		SKIP(return, "no /dev/kvm on this machine to compare with (a SoC machine)");
	ASSERT_LE(0, kvm);
	kvm_vm = ioctl(kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, kvm_vm);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		want = ioctl(kvm_vm, KVM_CHECK_EXTENSION, caps[i]);
		EXPECT_EQ(want, ioctl(self->t.vm, KVM_CHECK_EXTENSION, caps[i]))
			TH_LOG("%s: VM cap %d", self->t.path, caps[i]);
		EXPECT_EQ(ioctl(kvm, KVM_CHECK_EXTENSION, caps[i]),
			  ioctl(self->t.dev, KVM_CHECK_EXTENSION, caps[i]))
			TH_LOG("%s: cap %d", self->t.path, caps[i]);
	}
	close(kvm_vm);
	close(kvm);
}

TEST_F(vm, system_ioctls)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cpuid = { .c.nent = 256 };
	struct {
		struct kvm_msr_list l;
		uint32_t i[1024];
	} list = { .l.nmsrs = 1024 };
	struct kvm_msr_list small = { .nmsrs = 1 };

	EXPECT_EQ(KVM_API_VERSION, ioctl(self->t.dev, KVM_GET_API_VERSION, 0));
	EXPECT_EQ(1, ioctl(self->t.dev, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	ASSERT_EQ(0, ioctl(self->t.dev, KVM_GET_SUPPORTED_CPUID, &cpuid));
	EXPECT_GT(cpuid.c.nent, 4);
	EXPECT_EQ(0, cpuid.e[0].function);
	ASSERT_EQ(0, ioctl(self->t.dev, KVM_GET_MSR_INDEX_LIST, &list));
	EXPECT_GT(list.l.nmsrs, 4);
	/* Too small a list: E2BIG with the needed count filled in. */
	EXPECT_EQ(-1, ioctl(self->t.dev, KVM_GET_MSR_INDEX_LIST, &small));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(list.l.nmsrs, small.nmsrs);
	cpuid.c.nent = 1;
	EXPECT_EQ(-1, ioctl(self->t.dev, KVM_GET_SUPPORTED_CPUID, &cpuid));
	EXPECT_EQ(E2BIG, errno);
}

TEST_HARNESS_MAIN
