// SPDX-License-Identifier: GPL-2.0
/*
 * docs/kvm-coverage.md, row by row, against the running module: every
 * x86 capability of KVM reads on /dev/kvm-soc what /dev/kvm says if the
 * table marks it carried (the few that differ by design are named below),
 * and 0 if refused; every ioctl at every level the table does not carry it
 * at fails as x86 KVM fails an ioctl it does not know (EINVAL on the
 * system and vCPU files, ENOTTY on a VM), and never reaches the host.
 * The rows come from tools/kvm-coverage.py (build/selftests/kvm_coverage_rows.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

struct row {
	const char *name;
	unsigned long nr;
	int is_ioctl;
	int carried;
	int levels;		/* carried at: 1 system, 2 VM, 4 vCPU */
};

static const struct row rows[] = {
#include "kvm_coverage_rows.h"
};

/* Capabilities kvm-soc reports other than KVM does, and why. */
static long soc_expected(unsigned long cap, long kvm)
{
	switch (cap) {
	case KVM_CAP_NR_VCPUS:		/* ABI v0: 32 vCPUs per VM */
	case KVM_CAP_MAX_VCPUS:
	case KVM_CAP_MAX_VCPU_ID:
		return kvm < 32 ? kvm : 32;
	}
	return kvm;
}

struct fds {
	int dev, vm, vcpu;
};

static int open_fds(const char *path, struct fds *f)
{
	f->dev = open(path, O_RDWR);
	if (f->dev < 0)
		return -errno;
	f->vm = ioctl(f->dev, KVM_CREATE_VM, 0);
	if (f->vm < 0)
		return -errno;
	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
	return f->vcpu < 0 ? -errno : 0;
}

static void close_fds(struct fds *f)
{
	if (f->vcpu >= 0)
		close(f->vcpu);
	if (f->vm >= 0)
		close(f->vm);
	if (f->dev >= 0)
		close(f->dev);
}

TEST(rows_present)
{
	int caps = 0, ioctls = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rows); i++)
		rows[i].is_ioctl ? ioctls++ : caps++;
	TH_LOG("%d capability rows, %d ioctl rows", caps, ioctls);
	EXPECT_LT(100, caps);
	EXPECT_LT(80, ioctls);
}

/* Each capability row: as /dev/kvm (carried) or 0 (refused), system and VM. */
TEST(capabilities_as_kvm)
{
	struct fds soc = { -1, -1, -1 }, kvm = { -1, -1, -1 };
	int bad = 0, have_kvm;
	unsigned int i;

	if (access("/dev/kvm-soc", F_OK))
		SKIP(return, "no /dev/kvm-soc");
	ASSERT_EQ(0, open_fds("/dev/kvm-soc", &soc));
	/* A SoC machine has no KVM of its own: refused rows still read 0. */
	have_kvm = open_fds("/dev/kvm", &kvm) == 0;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];
		long s_sys, s_vm, k_sys = 0, k_vm = 0;

		if (r->is_ioctl)
			continue;
		s_sys = ioctl(soc.dev, KVM_CHECK_EXTENSION, r->nr);
		s_vm = ioctl(soc.vm, KVM_CHECK_EXTENSION, r->nr);
		if (have_kvm) {
			k_sys = soc_expected(r->nr, ioctl(kvm.dev, KVM_CHECK_EXTENSION, r->nr));
			k_vm = soc_expected(r->nr, ioctl(kvm.vm, KVM_CHECK_EXTENSION, r->nr));
		}
		if (!r->carried && (s_sys || s_vm)) {
			TH_LOG("%s is refused, but reads %ld (system), %ld (VM)",
			       r->name, s_sys, s_vm);
			bad++;
		} else if (r->carried && have_kvm && (s_sys != k_sys || s_vm != k_vm)) {
			TH_LOG("%s: kvm-soc %ld/%ld, KVM %ld/%ld (system/VM)",
			       r->name, s_sys, s_vm, k_sys, k_vm);
			bad++;
		}
	}
	EXPECT_EQ(0, bad);
	close_fds(&soc);
	close_fds(&kvm);
}

/*
 * Each ioctl, at each level the table does not carry it at: KVM's errno
 * for an unknown ioctl there.  Not carried means never forwarded, so the
 * zeroed argument reaches nobody.
 */
TEST(refused_ioctls_fail_as_unknown)
{
	static const struct { int bit, err; const char *what; } lv[] = {
		{ 1, EINVAL, "system" }, { 2, ENOTTY, "VM" }, { 4, EINVAL, "vCPU" },
	};
	struct fds soc = { -1, -1, -1 };
	static uint8_t arg[65536];
	int bad = 0, tried = 0, j;
	unsigned int i;

	if (access("/dev/kvm-soc", F_OK))
		SKIP(return, "no /dev/kvm-soc");
	ASSERT_EQ(0, open_fds("/dev/kvm-soc", &soc));
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		const struct row *r = &rows[i];

		if (!r->is_ioctl)
			continue;
		for (j = 0; j < 3; j++) {
			int fd = j == 0 ? soc.dev : j == 1 ? soc.vm : soc.vcpu;
			long ret;

			if (r->levels & lv[j].bit)
				continue;
			memset(arg, 0, sizeof(arg));
			errno = 0;
			ret = ioctl(fd, r->nr, arg);
			tried++;
			if (ret != -1 || errno != lv[j].err) {
				TH_LOG("%s on the %s: %ld, errno %d (%s), not %s",
				       r->name, lv[j].what, ret, errno, strerror(errno),
				       strerror(lv[j].err));
				bad++;
			}
		}
	}
	TH_LOG("%d refused (ioctl, level) pairs tried", tried);
	EXPECT_EQ(0, bad);
	close_fds(&soc);
}

TEST_HARNESS_MAIN
