// SPDX-License-Identifier: GPL-2.0
/*
 * One user of the device must not break another: arguments that a second
 * thread rewrites while the ioctl runs.  KVM fetches a count once and uses
 * only its copy (x86 KVM and struct kvm_cpuid2's nent); kvm-soc must too,
 * or the host's answer no longer fits what the SoC sized for it and the
 * shared control window -- every user's -- is failed.  Run on /dev/kvm
 * and /dev/kvm-soc alike: KVM is the reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kselftest_harness.h"

#define NENT_MAX	256
#define CALLS		20000

FIXTURE(dev) {
	int fd;
};

FIXTURE_VARIANT(dev) {
	const char *path;
};

FIXTURE_VARIANT_ADD(dev, kvm) {
	.path = "/dev/kvm",
};

FIXTURE_VARIANT_ADD(dev, kvm_soc) {
	.path = "/dev/kvm-soc",
};

FIXTURE_SETUP(dev)
{
	self->fd = open(variant->path, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, "%s does not exist", variant->path);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

struct flipper {
	volatile uint32_t *count;
	volatile int stop;
	uint32_t small, big;
};

/* Rewrites the count between a small and a large value as fast as it can. */
static void *flip(void *arg)
{
	struct flipper *f = arg;

	while (!f->stop) {
		*f->count = f->big;
		*f->count = f->small;
	}
	return NULL;
}

/*
 * KVM_GET_SUPPORTED_CPUID and KVM_GET_MSR_INDEX_LIST with their count
 * changing under them: each call ends in success or E2BIG, as on KVM, and
 * afterwards the device still answers this user and another one.
 */
TEST_F(dev, count_rewritten_during_the_call)
{
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) +
					  NENT_MAX * sizeof(struct kvm_cpuid_entry2));
	struct kvm_msr_list *msrs = calloc(1, sizeof(*msrs) + NENT_MAX * sizeof(__u32));
	struct flipper f = { .small = 1, .big = NENT_MAX };
	int i, r, ok = 0, e2big = 0, other = 0, other_fd, vm;
	pthread_t th;

	ASSERT_NE(NULL, cpuid);
	ASSERT_NE(NULL, msrs);

	f.count = &cpuid->nent;
	ASSERT_EQ(0, pthread_create(&th, NULL, flip, &f));
	for (i = 0; i < CALLS; i++) {
		r = ioctl(self->fd, KVM_GET_SUPPORTED_CPUID, cpuid);
		if (!r)
			ok++;
		else if (errno == E2BIG)
			e2big++;
		else
			other++;
	}
	f.stop = 1;
	pthread_join(th, NULL);
	TH_LOG("%s: KVM_GET_SUPPORTED_CPUID: %d ok, %d E2BIG, %d other", variant->path,
	       ok, e2big, other);
	EXPECT_EQ(0, other);

	f.count = &msrs->nmsrs;
	f.stop = 0;
	ok = e2big = other = 0;
	ASSERT_EQ(0, pthread_create(&th, NULL, flip, &f));
	for (i = 0; i < CALLS; i++) {
		r = ioctl(self->fd, KVM_GET_MSR_INDEX_LIST, msrs);
		if (!r)
			ok++;
		else if (errno == E2BIG)
			e2big++;
		else
			other++;
	}
	f.stop = 1;
	pthread_join(th, NULL);
	TH_LOG("%s: KVM_GET_MSR_INDEX_LIST: %d ok, %d E2BIG, %d other", variant->path,
	       ok, e2big, other);
	EXPECT_EQ(0, other);

	/* Everyone's device still works: a fresh call with a fixed count. */
	cpuid->nent = NENT_MAX;
	EXPECT_EQ(0, ioctl(self->fd, KVM_GET_SUPPORTED_CPUID, cpuid));
	EXPECT_LT(0, cpuid->nent);
	EXPECT_EQ(KVM_API_VERSION, ioctl(self->fd, KVM_GET_API_VERSION, 0));
	other_fd = open(variant->path, O_RDWR | O_CLOEXEC);
	vm = ioctl(other_fd, KVM_CREATE_VM, 0);
	EXPECT_LE(0, vm) TH_LOG("another user cannot create a VM: %s", strerror(errno));
	if (vm >= 0)
		close(vm);
	close(other_fd);
	free(cpuid);
	free(msrs);
}

TEST_HARNESS_MAIN
