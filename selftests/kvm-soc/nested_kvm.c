// SPDX-License-Identifier: GPL-2.0
/*
 * Proof that the rig's own /dev/kvm runs real KVM guests (nested SVM under
 * TCG): a real-mode guest does PIO out, PIO in, an MMIO write and HLT, and
 * every exit arrives with the right data.  Skips, saying why, only where
 * the machine has no KVM at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kselftest_harness.h"

#define MEM_SIZE	0x4000
#define CODE_GPA	0x1000
#define MMIO_GPA	0x5000

static const uint8_t guest_code[] = {
	0xb0, 0x42,		/* mov $0x42, %al */
	0xe6, 0x10,		/* out %al, $0x10 */
	0xe4, 0x11,		/* in $0x11, %al */
	0xe6, 0x12,		/* out %al, $0x12 */
	0xa2, 0x00, 0x50,	/* mov %al, 0x5000 */
	0xf4,			/* hlt */
};

FIXTURE(vm) {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	uint8_t *mem;
};

FIXTURE_SETUP(vm)
{
	struct kvm_userspace_memory_region r = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	int sz;

	self->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (self->kvm < 0 && errno == ENOENT)
		SKIP(return,
		     "/dev/kvm does not exist: no KVM here (nested SVM unavailable)");
	ASSERT_LE(0, self->kvm) TH_LOG("open /dev/kvm: %s", strerror(errno));
	ASSERT_EQ(KVM_API_VERSION, ioctl(self->kvm, KVM_GET_API_VERSION, 0));

	self->vm = ioctl(self->kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm) TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	self->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memcpy(self->mem + CODE_GPA, guest_code, sizeof(guest_code));
	r.memory_size = MEM_SIZE;
	r.userspace_addr = (uintptr_t)self->mem;
	ASSERT_EQ(0, ioctl(self->vm, KVM_SET_USER_MEMORY_REGION, &r));

	self->vcpu = ioctl(self->vm, KVM_CREATE_VCPU, 0);
	ASSERT_LE(0, self->vcpu) TH_LOG("KVM_CREATE_VCPU: %s", strerror(errno));
	sz = ioctl(self->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	ASSERT_LT(0, sz);
	self->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->vcpu, 0);
	ASSERT_NE(MAP_FAILED, self->run);

	ASSERT_EQ(0, ioctl(self->vcpu, KVM_GET_SREGS, &sregs));
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	ASSERT_EQ(0, ioctl(self->vcpu, KVM_SET_SREGS, &sregs));
	regs.rip = CODE_GPA;
	regs.rflags = 0x2;
	ASSERT_EQ(0, ioctl(self->vcpu, KVM_SET_REGS, &regs));
}

FIXTURE_TEARDOWN(vm)
{
	if (self->kvm < 0)
		return;
	close(self->vcpu);
	close(self->vm);
	close(self->kvm);
}

static uint8_t *io_data(struct kvm_run *run)
{
	return (uint8_t *)run + run->io.data_offset;
}

TEST_F(vm, pio_mmio_hlt)
{
	struct kvm_run *run = self->run;

	ASSERT_EQ(0, ioctl(self->vcpu, KVM_RUN, 0));
	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason);
	EXPECT_EQ(KVM_EXIT_IO_OUT, run->io.direction);
	EXPECT_EQ(0x10, run->io.port);
	EXPECT_EQ(1, run->io.size);
	EXPECT_EQ(0x42, *io_data(run));

	ASSERT_EQ(0, ioctl(self->vcpu, KVM_RUN, 0));
	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason);
	EXPECT_EQ(KVM_EXIT_IO_IN, run->io.direction);
	EXPECT_EQ(0x11, run->io.port);
	*io_data(run) = 0x99;

	ASSERT_EQ(0, ioctl(self->vcpu, KVM_RUN, 0));
	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason);
	EXPECT_EQ(0x12, run->io.port);
	EXPECT_EQ(0x99, *io_data(run));

	ASSERT_EQ(0, ioctl(self->vcpu, KVM_RUN, 0));
	ASSERT_EQ(KVM_EXIT_MMIO, run->exit_reason);
	EXPECT_EQ(MMIO_GPA, run->mmio.phys_addr);
	EXPECT_EQ(1, run->mmio.len);
	EXPECT_TRUE(run->mmio.is_write);
	EXPECT_EQ(0x99, run->mmio.data[0]);

	ASSERT_EQ(0, ioctl(self->vcpu, KVM_RUN, 0));
	ASSERT_EQ(KVM_EXIT_HLT, run->exit_reason);
	printf("# guest ran under KVM: out 0x42, in 0x99, out 0x99, mmio 0x99, hlt\n");
}

TEST_HARNESS_MAIN
