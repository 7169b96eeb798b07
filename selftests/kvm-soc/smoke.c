// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke test of /dev/kvm-soc: the device node, the kvm-soc ABI version as
 * negotiated with host-kvm over the transport, and argument checking.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/kvm_soc.h>

#include "kselftest_harness.h"

#define DEV "/dev/kvm-soc"

/*
 * The rig's ivshmem topology runs this on the SoC machine (KSOC_ROLE=soc):
 * its host is another machine, reached over ivshmem, with KVM there.
 */
static int soc_machine(void)
{
	const char *r = getenv("KSOC_ROLE");

	return r && !strcmp(r, "soc");
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0 && errno == ENOENT)
		SKIP(return, DEV " does not exist: kvm-soc modules not loaded");
	ASSERT_LE(0, self->fd) TH_LOG("open " DEV ": %s", strerror(errno));
}

FIXTURE_TEARDOWN(dev)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(dev, node_is_misc_char_device_0660)
{
	struct stat st;

	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, major(st.st_rdev));	/* MISC_MAJOR */
	EXPECT_EQ(0660, st.st_mode & 07777);
}

TEST_F(dev, abi_version)
{
	EXPECT_EQ(KVM_SOC_ABI_VERSION, ioctl(self->fd, KVM_SOC_GET_ABI_VERSION, 0));
}

TEST_F(dev, abi_version_with_argument_is_einval)
{
	EXPECT_EQ(-1, ioctl(self->fd, KVM_SOC_GET_ABI_VERSION, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, info_from_host)
{
	struct kvm_soc_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, ioctl(self->fd, KVM_SOC_GET_INFO, &info));
	EXPECT_EQ(sizeof(info), info.argsz);
	EXPECT_EQ(KVM_SOC_ABI_VERSION, info.abi_version);
	EXPECT_EQ(KVM_SOC_ABI_VERSION, info.host_abi_version);
	EXPECT_STREQ(soc_machine() ? "ivshmem" : "loop", info.transport);
	EXPECT_TRUE(info.features & (1ULL << KVM_SOC_F_HEARTBEAT));
	EXPECT_EQ(0, info.features & ~KVM_SOC_F_VALID_MASK);
	/* The host reads KVM_GET_API_VERSION from its stock KVM. */
	EXPECT_EQ(access("/dev/kvm", F_OK) && !soc_machine() ? 0 : KVM_API_VERSION,
		  info.kvm_api_version);
}

TEST_F(dev, host_heartbeat_advances)
{
	struct kvm_soc_info a = { .argsz = sizeof(a) }, b = { .argsz = sizeof(b) };

	ASSERT_EQ(0, ioctl(self->fd, KVM_SOC_GET_INFO, &a));
	sleep(2);
	ASSERT_EQ(0, ioctl(self->fd, KVM_SOC_GET_INFO, &b));
	EXPECT_LT(a.host_heartbeat, b.host_heartbeat);
}

TEST_F(dev, info_short_argsz_is_einval)
{
	struct kvm_soc_info info = { .argsz = sizeof(info) - 8 };

	EXPECT_EQ(-1, ioctl(self->fd, KVM_SOC_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, info_flags_is_einval)
{
	struct kvm_soc_info info = { .argsz = sizeof(info), .flags = 1 };

	EXPECT_EQ(-1, ioctl(self->fd, KVM_SOC_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dev, info_bad_pointer_is_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, KVM_SOC_GET_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/* A larger argsz from a newer userspace is fine; only v0 is written. */
TEST_F(dev, info_larger_argsz_ok)
{
	struct {
		struct kvm_soc_info info;
		uint64_t canary;
	} big = { .info.argsz = sizeof(big), .canary = 0x1122334455667788ULL };

	ASSERT_EQ(0, ioctl(self->fd, KVM_SOC_GET_INFO, &big));
	EXPECT_EQ(sizeof(struct kvm_soc_info), big.info.argsz);
	EXPECT_EQ(0x1122334455667788ULL, big.canary);
}

/* kvm-soc's own unknown ioctl: ENOTTY; another type: EINVAL, as /dev/kvm. */
TEST_F(dev, unknown_ioctl_is_enotty)
{
	EXPECT_EQ(-1, ioctl(self->fd, _IO(KVM_SOC_IO, 0x9f), 0));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', 1), 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
