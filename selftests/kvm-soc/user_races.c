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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "kselftest_harness.h"

#define NENT_MAX	256
#define CALLS		20000
/*
 * Or as many as fit in this many seconds: over ivshmem each call is a
 * doorbell round trip between two TCG machines, 20000 of them about 15 s.
 */
#define CALL_SECONDS	20

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
	uint32_t *count;
	int stop;
	uint32_t small, big;
};

/* Rewrites the count between a small and a large value as fast as it can. */
static void *flip(void *arg)
{
	struct flipper *f = arg;

	/* Atomic stores: each one really reaches memory, none is merged. */
	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(f->count, f->big, __ATOMIC_RELAXED);
		__atomic_store_n(f->count, f->small, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * @calls of ioctl @cmd on @fd with the count at @count flipping between
 * @small and @big meanwhile.  Returns how many ended otherwise than in
 * success or E2BIG (KVM's two answers).
 */
static int hammer(int fd, unsigned long cmd, void *arg, uint32_t *count,
		  uint32_t small, uint32_t big, const char *name, const char *path)
{
	struct flipper f = { .count = count, .small = small, .big = big };
	int i, ok = 0, e2big = 0, other = 0;
	time_t end = time(NULL) + CALL_SECONDS;
	pthread_t th;

	if (pthread_create(&th, NULL, flip, &f))
		return -1;
	for (i = 0; i < CALLS && (i % 100 || time(NULL) < end); i++) {
		if (!ioctl(fd, cmd, arg))
			ok++;
		else if (errno == E2BIG)
			e2big++;
		else
			other++;
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	printf("# %s: %s: %d ok, %d E2BIG, %d other\n", path, name, ok, e2big, other);
	return other;
}

/*
 * KVM_GET_SUPPORTED_CPUID and KVM_GET_MSR_INDEX_LIST with their count
 * changing under them: each call ends in success or E2BIG, as on KVM, and
 * afterwards the device still answers this user and another one.
 */
TEST_F_TIMEOUT(dev, count_rewritten_during_the_call, 120)
{
	struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) +
					  NENT_MAX * sizeof(struct kvm_cpuid_entry2));
	struct kvm_msr_list *msrs = calloc(1, sizeof(*msrs) + NENT_MAX * sizeof(__u32));
	int other_fd, vm;

	ASSERT_NE(NULL, cpuid);
	ASSERT_NE(NULL, msrs);
	EXPECT_EQ(0, hammer(self->fd, KVM_GET_SUPPORTED_CPUID, cpuid, &cpuid->nent,
			    1, NENT_MAX, "KVM_GET_SUPPORTED_CPUID", variant->path));
	EXPECT_EQ(0, hammer(self->fd, KVM_GET_MSR_INDEX_LIST, msrs, &msrs->nmsrs,
			    1, NENT_MAX, "KVM_GET_MSR_INDEX_LIST", variant->path));

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
