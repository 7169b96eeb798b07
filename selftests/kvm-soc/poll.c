// SPDX-License-Identifier: GPL-2.0
/*
 * Adaptive polling for exits (soc-kvm and host-kvm's poll_ns and
 * poll_max_ns, common/ksoc_poll.h), as a user sees it: KVM_SOC_GET_VM_STATS
 * counts the KVM_RUNs whose exit came while they polled (poll_hits) and
 * the others (poll_misses).
 *
 * - Polling off (poll_ns 0, or poll_max_ns 0): every run waits without
 *   polling, exits stay exact.
 * - A window that starts far below one exit round trip (1 us) grows to
 *   cover it: most runs then do not sleep.  This is what makes polling
 *   work on a machine slower than the one the default was chosen on.
 * - A ceiling below the start clamps the window; bad parameter values are
 *   refused by the module (EINVAL, ERANGE) and leave the old value.
 *
 * The parameters are the modules' own (/sys/module/.../parameters); the
 * fixture restores them.  On a topology where host-kvm is on another
 * machine only the SoC's side is set.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

#define SOC_PARAM(n)	"/sys/module/soc_kvm/parameters/" n
#define HOST_PARAM(n)	"/sys/module/host_kvm/parameters/" n

static const char * const knobs[] = {
	SOC_PARAM("poll_ns"), SOC_PARAM("poll_max_ns"),
	HOST_PARAM("poll_ns"), HOST_PARAM("poll_max_ns"),
};

#define NR_KNOBS	ARRAY_SIZE(knobs)

/* Read a parameter: its value, or -errno. */
static long long param_get(const char *path)
{
	char buf[32] = "";
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	return strtoll(buf, NULL, 10);
}

/* Write a parameter as the string @val: 0 or -errno. */
static int param_put(const char *path, const char *val)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	if (n < 0)
		return -errno;
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static int param_set(const char *path, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu\n", v);
	return param_put(path, buf);
}

FIXTURE(poll) {
	struct tvm t;
	long long saved[NR_KNOBS];
	bool host;		/* host-kvm is in this kernel (the loop) */
};

FIXTURE_SETUP(poll)
{
	unsigned int i;
	int ret;

	for (i = 0; i < NR_KNOBS; i++)
		self->saved[i] = param_get(knobs[i]);
	ret = tvm_open(&self->t, "/dev/kvm-soc");
	if (ret == -ENOENT)
		SKIP(return, "/dev/kvm-soc does not exist");
	ASSERT_EQ(0, ret) TH_LOG("open /dev/kvm-soc: %s", strerror(-ret));
	ASSERT_LE(0, self->saved[0]) TH_LOG("soc_kvm has no poll_ns: %s",
					    strerror(-self->saved[0]));
	ASSERT_LE(0, self->saved[1]) TH_LOG("soc_kvm has no poll_max_ns: %s",
					    strerror(-self->saved[1]));
	self->host = self->saved[2] >= 0;
	if (self->host)
		ASSERT_LE(0, self->saved[3]) TH_LOG("host_kvm has poll_ns but no poll_max_ns");
	ASSERT_EQ(0, tvm_create_vm(&self->t, NULL));
}

FIXTURE_TEARDOWN(poll)
{
	unsigned int i;

	tvm_close(&self->t);
	for (i = 0; i < NR_KNOBS; i++)
		if (self->saved[i] >= 0)
			param_set(knobs[i], self->saved[i]);
}

/* Both sides' start and ceiling (the host's only where it is here). */
static int set_windows(bool host, unsigned long long start, unsigned long long max)
{
	int r = param_set(SOC_PARAM("poll_ns"), start);

	r = r ? r : param_set(SOC_PARAM("poll_max_ns"), max);
	if (host) {
		r = r ? r : param_set(HOST_PARAM("poll_ns"), start);
		r = r ? r : param_set(HOST_PARAM("poll_max_ns"), max);
	}
	return r;
}

static int vm_stats(struct tvm *t, struct kvm_soc_vm_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->argsz = sizeof(*st);
	return ioctl(t->vm, KVM_SOC_GET_VM_STATS, st) ? -errno : 0;
}

/*
 * Run the PIO loop guest @n times after a first run, checking each exit
 * (port 0x70, the guest's counter as data); *@hits, *@misses: the stats'
 * deltas over those @n runs.  0, or the first bad run's index + 1.
 */
static int pio_runs(struct tvm *t, int n, uint64_t *hits, uint64_t *misses)
{
	struct kvm_soc_vm_stats a, b;
	uint32_t v;
	int i;

	if (tvm_run(t, 0) || vm_stats(t, &a))
		return -1;
	for (i = 0; i < n; i++) {
		if (tvm_run(t, 0) || t->run[0]->exit_reason != KVM_EXIT_IO ||
		    t->run[0]->io.port != 0x70 || t->run[0]->io.size != 4 ||
		    t->run[0]->io.direction != KVM_EXIT_IO_OUT)
			return i + 1;
		memcpy(&v, tvm_io(t, 0), 4);
		if (v != (uint32_t)i + 2)
			return i + 1;
	}
	if (vm_stats(t, &b))
		return -1;
	*hits = b.poll_hits - a.poll_hits;
	*misses = b.poll_misses - a.poll_misses;
	return 0;
}

static void pio_vm(struct __test_metadata *_metadata, struct tvm *t)
{
	TVM_LOAD(t, pio_loop);
	ASSERT_EQ(0, tvm_add_vcpu(t));
}

/* With windows @start, @max (one of them 0): no hit, exits exact. */
static void never_polls(struct __test_metadata *_metadata, struct _test_data_poll *self,
			unsigned long long start, unsigned long long max)
{
	uint64_t hits = 0, misses = 0;

	ASSERT_EQ(0, set_windows(self->host, start, max));
	pio_vm(_metadata, &self->t);
	ASSERT_EQ(0, pio_runs(&self->t, 300, &hits, &misses));
	EXPECT_EQ(0, hits);
	EXPECT_EQ(300, misses);
}

TEST_F(poll, poll_ns_zero_never_polls)
{
	never_polls(_metadata, self, 0, 500000);
}

TEST_F(poll, poll_max_ns_zero_never_polls)
{
	never_polls(_metadata, self, 100000, 0);
}

/*
 * Windows that start at 1 us, far below a round trip (tens of us at
 * least, here under emulation far more), may grow to 50 ms: after a few
 * doublings most runs find their exit while polling.  Needs a second CPU:
 * with one, the other side runs only when this side stops polling.
 */
TEST_F_TIMEOUT(poll, window_grows_past_the_round_trip, 120)
{
	uint64_t hits = 0, misses = 0;
	const int n = 2000;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: the answer cannot come while this side polls");
	ASSERT_EQ(0, set_windows(self->host, 1000, 50000000));
	pio_vm(_metadata, &self->t);
	ASSERT_EQ(0, pio_runs(&self->t, n, &hits, &misses));
	TH_LOG("start 1 us, ceiling 50 ms: %llu of %d runs polled to their exit, %llu slept",
	       (unsigned long long)hits, n, (unsigned long long)misses);
	EXPECT_EQ(n, hits + misses);
	EXPECT_LE(n / 2, hits);
}

/* A ceiling below the start wins; exits stay exact either way. */
TEST_F(poll, poll_max_ns_below_poll_ns_clamps)
{
	uint64_t hits = 0, misses = 0;

	ASSERT_EQ(0, set_windows(self->host, 200000, 1000));
	pio_vm(_metadata, &self->t);
	ASSERT_EQ(0, pio_runs(&self->t, 300, &hits, &misses));
	EXPECT_EQ(300, hits + misses);
}

/*
 * Not a number or negative: EINVAL; beyond 32 bits: ERANGE (the module's
 * uint parsing); the old value stays.
 */
TEST_F(poll, bad_values_are_refused)
{
	static const char * const bad[3] = { "abc\n", "-5\n", "4294967296\n" };
	static const int err[3] = { -EINVAL, -EINVAL, -ERANGE };
	static const char * const knob[2] = { SOC_PARAM("poll_ns"), SOC_PARAM("poll_max_ns") };
	static const long long kept[2] = { 12345, 678901 };
	unsigned int i, j;

	ASSERT_EQ(0, set_windows(self->host, kept[0], kept[1]));
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 3; j++)
			EXPECT_EQ(err[j], param_put(knob[i], bad[j]))
				TH_LOG("bad value %u to poll parameter %u", j, i);
		EXPECT_EQ(kept[i], param_get(knob[i]));
	}
}

TEST_HARNESS_MAIN
