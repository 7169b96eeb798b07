// SPDX-License-Identifier: GPL-2.0
/*
 * The state QEMU saves and loads when it migrates, across devices: every
 * vCPU and VM state ioctl is read from a VM on one device (/dev/kvm or
 * /dev/kvm-soc), written into a fresh VM on the other, and read back
 * there: what comes back must be byte for byte what was saved (time
 * excepted: the TSC and the VM clock move on, by at most a few seconds).
 * kvm -> kvm-soc and kvm-soc -> kvm, as cross-accelerator migration does.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

#define MSR_IA32_TSC		0x10
#define MSR_KVM_WALL_CLOCK_NEW	0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01

/* MSRs QEMU saves that hold plain values (kvm_put_msrs()). */
static const uint32_t msr_list[] = {
	0x174, 0x175, 0x176,			/* SYSENTER_CS/ESP/EIP */
	0xc0000081, 0xc0000082, 0xc0000083,	/* STAR, LSTAR, CSTAR */
	0xc0000084, 0xc0000102, 0xc0000103,	/* FMASK, KERNEL_GS_BASE, TSC_AUX */
	0x277,					/* PAT */
	MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW,
	MSR_IA32_TSC,
};

#define NR_MSRS	ARRAY_SIZE(msr_list)

struct msrs {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[NR_MSRS];
};

/* Everything QEMU saves for a 1-vCPU VM with an in-kernel irqchip and PIT. */
struct state {
	struct kvm_regs regs;
	struct kvm_sregs2 sregs2;
	struct kvm_xcrs xcrs;
	struct kvm_vcpu_events events;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp;
	struct msrs msrs;
	struct kvm_pit_state2 pit;
	struct kvm_irqchip pic0, pic1, ioapic;
	struct kvm_clock_data clock;
	long tsc_khz;
	int xsave_size;
	uint8_t xsave[16384];
};

static int new_vm(struct tvm *t, const char *dev)
{
	struct kvm_pit_config pit = { 0 };
	int r = tvm_open(t, dev);

	if (r)
		return r;
	if (tvm_create_vm(t, NULL) ||
	    ioctl(t->vm, KVM_CREATE_IRQCHIP, 0) ||
	    ioctl(t->vm, KVM_CREATE_PIT2, &pit) ||
	    tvm_add_vcpu(t) < 0)
		return -errno;
	return tvm_set_host_cpuid(t, 0, false, NULL, 0);
}

static int get_chip(struct tvm *t, struct kvm_irqchip *c, int id)
{
	memset(c, 0, sizeof(*c));
	c->chip_id = id;
	return ioctl(t->vm, KVM_GET_IRQCHIP, c);
}

/* Read every piece of state: 0, or the first failing step (> 0). */
static int save(struct tvm *t, struct state *s)
{
	int fd = t->vcpu[0];
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->msrs.hdr.nmsrs = NR_MSRS;
	for (i = 0; i < NR_MSRS; i++)
		s->msrs.e[i].index = msr_list[i];
	s->xsave_size = ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (s->xsave_size < 4096 || s->xsave_size > (int)sizeof(s->xsave))
		return 1;
	if (ioctl(fd, KVM_GET_REGS, &s->regs) ||
	    ioctl(fd, KVM_GET_SREGS2, &s->sregs2) ||
	    ioctl(fd, KVM_GET_XSAVE2, s->xsave) ||
	    ioctl(fd, KVM_GET_XCRS, &s->xcrs) ||
	    ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events) ||
	    ioctl(fd, KVM_GET_DEBUGREGS, &s->dregs) ||
	    ioctl(fd, KVM_GET_LAPIC, &s->lapic) ||
	    ioctl(fd, KVM_GET_MP_STATE, &s->mp))
		return 2;
	if (ioctl(fd, KVM_GET_MSRS, &s->msrs) != NR_MSRS)
		return 3;
	if (ioctl(t->vm, KVM_GET_PIT2, &s->pit) ||
	    get_chip(t, &s->pic0, KVM_IRQCHIP_PIC_MASTER) ||
	    get_chip(t, &s->pic1, KVM_IRQCHIP_PIC_SLAVE) ||
	    get_chip(t, &s->ioapic, KVM_IRQCHIP_IOAPIC) ||
	    ioctl(t->vm, KVM_GET_CLOCK, &s->clock))
		return 4;
	s->tsc_khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	return s->tsc_khz > 0 ? 0 : 5;
}

/* Write it all, in QEMU's order (kvm_arch_put_registers() and the VM's). */
static int load(struct tvm *t, struct state *s)
{
	struct kvm_clock_data clock = { .clock = s->clock.clock };
	int fd = t->vcpu[0];

	if (ioctl(t->vm, KVM_SET_CLOCK, &clock) ||
	    ioctl(t->vm, KVM_SET_PIT2, &s->pit) ||
	    ioctl(t->vm, KVM_SET_IRQCHIP, &s->pic0) ||
	    ioctl(t->vm, KVM_SET_IRQCHIP, &s->pic1) ||
	    ioctl(t->vm, KVM_SET_IRQCHIP, &s->ioapic))
		return 1;
	if (ioctl(fd, KVM_SET_TSC_KHZ, s->tsc_khz) ||
	    ioctl(fd, KVM_SET_REGS, &s->regs) ||
	    ioctl(fd, KVM_SET_XSAVE, s->xsave) ||
	    ioctl(fd, KVM_SET_XCRS, &s->xcrs) ||
	    ioctl(fd, KVM_SET_SREGS2, &s->sregs2))
		return 2;
	if (ioctl(fd, KVM_SET_MSRS, &s->msrs) != NR_MSRS)
		return 3;
	if (ioctl(fd, KVM_SET_MP_STATE, &s->mp) ||
	    ioctl(fd, KVM_SET_LAPIC, &s->lapic) ||
	    ioctl(fd, KVM_SET_VCPU_EVENTS, &s->events) ||
	    ioctl(fd, KVM_SET_DEBUGREGS, &s->dregs))
		return 4;
	return 0;
}

/* Give the source VM state worth moving: not just reset values. */
static void dirty_state(struct __test_metadata *_metadata, struct tvm *t)
{
	struct msrs m = { .hdr.nmsrs = 4 };
	struct kvm_debugregs dr;
	struct kvm_regs regs;
	unsigned int i;

	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_REGS, &regs));
	for (i = 0; i < 16; i++)
		((uint64_t *)&regs)[i] = 0x0101010101010101ULL * (i + 3);
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_REGS, &regs));
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_DEBUGREGS, &dr));
	dr.db[2] = 0x3000;
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_DEBUGREGS, &dr));
	m.e[0].index = 0xc0000082;
	m.e[0].data = 0xffffffff81a00000ULL;
	m.e[1].index = 0xc0000102;
	m.e[1].data = 0xffff888012340000ULL;
	/* kvmclock on, at a guest page: KVMCLOCK_CTRL needs it. */
	m.e[2].index = MSR_KVM_SYSTEM_TIME_NEW;
	m.e[2].data = GUEST_DATA | 1;
	m.e[3].index = 0x277;
	m.e[3].data = 0x0007010600070106ULL;
	ASSERT_EQ(4, ioctl(t->vcpu[0], KVM_SET_MSRS, &m));
	/* The LAPIC software-enabled, as a guest leaves it. */
	ASSERT_EQ(0, tvm_lapic_on(t, 0));
}

static void same(struct __test_metadata *_metadata, const void *a,
		 const void *b, size_t n, const char *what)
{
	EXPECT_EQ(0, memcmp(a, b, n)) TH_LOG("%s differs after the move", what);
}

static void compare(struct __test_metadata *_metadata, struct state *a,
		    struct state *b)
{
	unsigned int i;
	int64_t d;

	same(_metadata, &a->regs, &b->regs, sizeof(a->regs), "regs");
	same(_metadata, &a->sregs2, &b->sregs2, sizeof(a->sregs2), "sregs2");
	same(_metadata, &a->xcrs, &b->xcrs, sizeof(a->xcrs), "xcrs");
	same(_metadata, &a->events, &b->events, sizeof(a->events), "events");
	same(_metadata, &a->dregs, &b->dregs, sizeof(a->dregs), "dregs");
	same(_metadata, &a->lapic, &b->lapic, sizeof(a->lapic), "lapic");
	same(_metadata, &a->mp, &b->mp, sizeof(a->mp), "mp");
	same(_metadata, &a->pic0, &b->pic0, sizeof(a->pic0), "pic0");
	same(_metadata, &a->pic1, &b->pic1, sizeof(a->pic1), "pic1");
	same(_metadata, &a->ioapic, &b->ioapic, sizeof(a->ioapic), "ioapic");
	EXPECT_EQ(a->tsc_khz, b->tsc_khz);
	EXPECT_EQ(a->xsave_size, b->xsave_size);
	EXPECT_EQ(0, memcmp(a->xsave, b->xsave, a->xsave_size)) TH_LOG("xsave differs");
	/* The PIT's counters count on; its channel setup does not change. */
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(a->pit.channels[i].count, b->pit.channels[i].count);
		EXPECT_EQ(a->pit.channels[i].mode, b->pit.channels[i].mode);
		EXPECT_EQ(a->pit.channels[i].gate, b->pit.channels[i].gate);
		EXPECT_EQ(a->pit.channels[i].rw_mode, b->pit.channels[i].rw_mode);
	}
	EXPECT_EQ(a->pit.flags, b->pit.flags);
	for (i = 0; i < NR_MSRS; i++) {
		EXPECT_EQ(a->msrs.e[i].index, b->msrs.e[i].index);
		if (a->msrs.e[i].index == MSR_IA32_TSC) {
			/* Moved on by the time the move took: under 10 s. */
			d = b->msrs.e[i].data - a->msrs.e[i].data;
			EXPECT_LE(0, d);
			EXPECT_GT((int64_t)a->tsc_khz * 10000, d);
			continue;
		}
		EXPECT_EQ(a->msrs.e[i].data, b->msrs.e[i].data)
			TH_LOG("MSR %#x", a->msrs.e[i].index);
	}
	d = b->clock.clock - a->clock.clock;
	EXPECT_LE(0, d);
	EXPECT_GT(10000000000LL, d) TH_LOG("clock moved by %lld ns", (long long)d);
}

static void move(struct __test_metadata *_metadata, const char *from,
		 const char *to)
{
	struct state *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct tvm src, dst;
	int r;

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	r = new_vm(&src, from);
	if (r == -ENOENT)
		SKIP(return, "%s does not exist", from);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", from, strerror(-r));
	r = new_vm(&dst, to);
	if (r == -ENOENT)
		SKIP(return, "%s does not exist", to);
	ASSERT_EQ(0, r) TH_LOG("%s: %s", to, strerror(-r));
	dirty_state(_metadata, &src);
	/* KVMCLOCK_CTRL as QEMU sends it on stop: works once kvmclock is on. */
	EXPECT_EQ(0, ioctl(src.vcpu[0], KVM_KVMCLOCK_CTRL, 0));
	EXPECT_EQ(-1, ioctl(dst.vcpu[0], KVM_KVMCLOCK_CTRL, 0));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, save(&src, a));
	ASSERT_EQ(0, load(&dst, a)) TH_LOG("load on %s", to);
	ASSERT_EQ(0, save(&dst, b));
	compare(_metadata, a, b);
	EXPECT_EQ(0, ioctl(dst.vcpu[0], KVM_KVMCLOCK_CTRL, 0));
	tvm_close(&src);
	tvm_close(&dst);
	free(a);
	free(b);
}

TEST(kvm_to_kvm_soc)
{
	move(_metadata, "/dev/kvm", "/dev/kvm-soc");
}

TEST(kvm_soc_to_kvm)
{
	move(_metadata, "/dev/kvm-soc", "/dev/kvm");
}

TEST(kvm_soc_to_kvm_soc)
{
	move(_metadata, "/dev/kvm-soc", "/dev/kvm-soc");
}

TEST_HARNESS_MAIN
