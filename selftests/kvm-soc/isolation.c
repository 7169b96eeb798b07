// SPDX-License-Identifier: GPL-2.0
/*
 * Two unprivileged users each run a VM on the device.  Neither reaches the
 * other's VM, vCPUs or memory: /proc does not hand out another user's
 * descriptors, and a VM or vCPU descriptor that does reach another process
 * (passed over a socket) answers KVM's -EIO there, because a VM belongs to
 * the address space that created it.  The owner's VM runs on meanwhile.
 * Run on /dev/kvm and /dev/kvm-soc alike: KVM is the reference.
 */
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/kvm_soc.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

#define UID_A	60001
#define UID_B	60002

FIXTURE(iso) {
	mode_t mode;
};

FIXTURE_VARIANT(iso) {
	const char *path;
};

FIXTURE_VARIANT_ADD(iso, kvm) {
	.path = "/dev/kvm",
};

FIXTURE_VARIANT_ADD(iso, kvm_soc) {
	.path = "/dev/kvm-soc",
};

/* Both users are given the device, as a "kvm" group would give it. */
FIXTURE_SETUP(iso)
{
	struct stat st;

	if (stat(variant->path, &st) && errno == ENOENT)
		SKIP(return, "%s does not exist", variant->path);
	if (geteuid())
		SKIP(return, "needs root to make two users");
	self->mode = st.st_mode & 07777;
	ASSERT_EQ(0, chmod(variant->path, 0666));
}

FIXTURE_TEARDOWN(iso)
{
	if (self->mode)
		chmod(variant->path, self->mode);
}

static int become(uid_t uid)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
		return -1;
	return 0;
}

static int send_fds(int sock, const int *fds, int n, int tag)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	struct iovec io = { .iov_base = &tag, .iov_len = sizeof(tag) };
	struct msghdr msg = {
		.msg_iov = &io, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(sock, &msg, 0) == sizeof(tag) ? 0 : -1;
}

static int recv_fds(int sock, int *fds, int n, int *tag)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec io = { .iov_base = tag, .iov_len = sizeof(*tag) };
	struct msghdr msg = {
		.msg_iov = &io, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	if (recvmsg(sock, &msg, 0) != sizeof(*tag))
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(c), n * sizeof(int));
	return 0;
}

/* An ioctl that must fail with @err; 0 if it did. */
static int fails_with(int fd, unsigned long cmd, unsigned long arg, int err)
{
	return ioctl(fd, cmd, arg) == -1 && errno == err ? 0 : -1;
}

/*
 * User A: a VM with one vCPU that runs; hands its VM, vCPU and (on
 * kvm-soc) memory-object descriptors numbers and its pid to B, then the
 * descriptors themselves, and runs its vCPU again once B is done.
 * Returns the number of the first check that failed, 0 if none.
 */
static int user_a(const char *path, int sock)
{
	struct kvm_soc_create_memory req = { .argsz = sizeof(req), .size = 4096 };
	int fds[3], nums[4], mem = -1, tag;
	struct tvm t;

	if (become(UID_A))
		return 1;
	if (tvm_open(&t, path) || tvm_create_vm(&t, NULL))
		return 2;
	TVM_LOAD(&t, pio);
	if (tvm_add_vcpu(&t) < 0 || tvm_run(&t, 0) ||
	    t.run[0]->exit_reason != KVM_EXIT_IO)
		return 3;
	if (!strcmp(path, "/dev/kvm-soc"))
		mem = ioctl(t.dev, KVM_SOC_CREATE_MEMORY, &req);
	nums[0] = getpid();
	nums[1] = t.vm;
	nums[2] = t.vcpu[0];
	nums[3] = mem;
	if (write(sock, nums, sizeof(nums)) != sizeof(nums))
		return 4;
	/* B has tried /proc; now it gets the descriptors themselves. */
	if (read(sock, &tag, sizeof(tag)) != sizeof(tag))
		return 5;
	fds[0] = t.vm;
	fds[1] = t.vcpu[0];
	if (send_fds(sock, fds, 2, 0))
		return 6;
	if (read(sock, &tag, sizeof(tag)) != sizeof(tag) || tag)
		return 7;
	/* Nothing B did reached A's VM. */
	if (tvm_run(&t, 0) || t.run[0]->exit_reason != KVM_EXIT_IO)
		return 8;
	tvm_close(&t);
	return 0;
}

/* User B: everything of A's it can name is refused. */
static int user_b(const char *path, int sock)
{
	struct kvm_regs regs;
	int nums[4], fds[2], tag = 0, i;
	char p[64];

	if (become(UID_B))
		return 1;
	if (read(sock, nums, sizeof(nums)) != sizeof(nums))
		return 2;
	/* Another user's descriptors are not reachable through /proc. */
	for (i = 1; i < 4; i++) {
		if (nums[i] < 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fd/%d", nums[0], nums[i]);
		if (open(p, O_RDWR) != -1 || errno != EACCES)
			return 10 + i;
	}
	if (write(sock, &tag, sizeof(tag)) != sizeof(tag))
		return 3;
	if (recv_fds(sock, fds, 2, &tag))
		return 4;
	/* Passed over a socket, they still belong to A's address space. */
	if (fails_with(fds[0], KVM_CREATE_VCPU, 1, EIO))
		return 20;
	if (fails_with(fds[0], KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY, EIO))
		return 21;
	if (fails_with(fds[1], KVM_GET_REGS, (unsigned long)&regs, EIO))
		return 22;
	if (fails_with(fds[1], KVM_RUN, 0, EIO))
		return 23;
	tag = 0;
	if (write(sock, &tag, sizeof(tag)) != sizeof(tag))
		return 5;
	return 0;
}

TEST_F_TIMEOUT(iso, another_users_vm_is_unreachable, 60)
{
	int sv[2], sa, sb;
	pid_t a, b;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	a = fork();
	ASSERT_LE(0, a);
	if (!a) {
		close(sv[1]);
		_exit(user_a(variant->path, sv[0]));
	}
	b = fork();
	ASSERT_LE(0, b);
	if (!b) {
		close(sv[0]);
		_exit(user_b(variant->path, sv[1]));
	}
	close(sv[0]);
	close(sv[1]);
	ASSERT_EQ(b, waitpid(b, &sb, 0));
	ASSERT_EQ(a, waitpid(a, &sa, 0));
	EXPECT_TRUE(WIFEXITED(sb) && !WEXITSTATUS(sb))
		TH_LOG("user B: check %d failed (10+: /proc reached A's fd; %s)",
		       WEXITSTATUS(sb), "20+: a passed fd was not EIO");
	EXPECT_TRUE(WIFEXITED(sa) && !WEXITSTATUS(sa))
		TH_LOG("user A: check %d failed", WEXITSTATUS(sa));
}

TEST_HARNESS_MAIN
