// SPDX-License-Identifier: GPL-2.0
/*
 * A multi-threaded ioctl fuzzer against /dev/kvm-soc (the ideas of
 * syzkaller's KVM descriptions, written here): threads share a pool of
 * device, VM, vCPU, memory-object and event descriptors and, for a fixed
 * time, make new ones, close them while others use them, and call random
 * ioctls on them -- KVM's and kvm-soc's numbers with random sizes and
 * directions, random bytes, bad pointers, pointers to the end of a page --
 * plus mmap and KVM_RUN cut short by a timer signal every 50 ms.
 *
 * Meanwhile a bystander process runs a guest and checks every exit.  At
 * the end the bystander must have run all along, and the host must be back
 * at its baseline (helper processes, KVM VMs); the rig fails the run on
 * any kernel report.  KSOC_FUZZ_SECONDS sets the time (default 20,
 * make check; make fuzz-rig runs it longer); KSOC_FUZZ_SEED the seed
 * (default: the time, printed).
 *
 * rig: one CPU -- the fuzzer's vCPUs run random guest state under nested
 * SVM, which on two TCG CPUs corrupts the rig kernel now and then (a
 * "corrupted stack end" panic in a vCPU thread, docs/rig.md), as SMP
 * Linux guests do.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/kvm_soc.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

#define DEV		"/dev/kvm-soc"
#define NR_THREADS	4
#define POOL		48
#define ARENA_SIZE	(16UL << 20)
#define BUF_SIZE	(64UL << 10)

static const unsigned long cmds[] = {
	KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION,
	KVM_GET_VCPU_MMAP_SIZE, KVM_GET_SUPPORTED_CPUID, KVM_GET_EMULATED_CPUID,
	KVM_GET_MSR_INDEX_LIST, KVM_GET_MSR_FEATURE_INDEX_LIST, KVM_GET_MSRS,
	KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR,
	KVM_SET_IDENTITY_MAP_ADDR, KVM_ENABLE_CAP, KVM_GET_CLOCK, KVM_SET_CLOCK,
	KVM_CREATE_IRQCHIP, KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SIGNAL_MSI,
	KVM_GET_IRQCHIP, KVM_SET_IRQCHIP, KVM_CREATE_PIT2, KVM_GET_PIT2,
	KVM_SET_PIT2, KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD, KVM_RUN,
	KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_FPU,
	KVM_SET_FPU, KVM_SET_MSRS, KVM_SET_CPUID2, KVM_GET_CPUID2, KVM_GET_XSAVE,
	KVM_SET_XSAVE, KVM_GET_XCRS, KVM_SET_XCRS, KVM_GET_MP_STATE,
	KVM_SET_MP_STATE, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,
	KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_SET_GUEST_DEBUG,
	KVM_GET_TSC_KHZ, KVM_SET_TSC_KHZ, KVM_NMI, KVM_INTERRUPT, KVM_TRANSLATE,
	KVM_GET_LAPIC, KVM_SET_LAPIC, KVM_KVMCLOCK_CTRL, KVM_SET_SIGNAL_MASK,
	KVM_X86_SETUP_MCE, KVM_X86_SET_MCE, KVM_GET_DIRTY_LOG,
	KVM_SOC_GET_ABI_VERSION, KVM_SOC_GET_INFO, KVM_SOC_CREATE_MEMORY,
	KVM_SOC_GET_VM_STATS,
};

struct fuzz {
	int pool[POOL];
	uint8_t *arena;		/* guest memory a memory slot may name */
	uint8_t *edge;		/* last bytes of a page followed by PROT_NONE */
	time_t end;
	unsigned int seed;
	unsigned long calls;
	unsigned long made[4];	/* VMs, vCPUs, memory objects, ioctls that worked */
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int pick(struct fuzz *f, uint64_t *s)
{
	return __atomic_load_n(&f->pool[rnd(s) % POOL], __ATOMIC_RELAXED);
}

/* Put a new descriptor in the pool, closing whatever it displaces. */
static void put(struct fuzz *f, uint64_t *s, int fd, int kind)
{
	int old;

	if (fd < 0)
		return;
	if (kind >= 0)
		__atomic_fetch_add(&f->made[kind], 1, __ATOMIC_RELAXED);
	old = __atomic_exchange_n(&f->pool[rnd(s) % POOL], fd, __ATOMIC_RELAXED);
	if (old >= 0)
		close(old);
}

/* An ioctl number: mostly a real one, sometimes with another size/dir. */
static unsigned long fuzz_cmd(uint64_t *s)
{
	unsigned long c = cmds[rnd(s) % ARRAY_SIZE(cmds)];
	uint64_t r = rnd(s);

	switch (r % 16) {
	case 0:	/* another size */
		return (c & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
		       ((r >> 8) & _IOC_SIZEMASK) << _IOC_SIZESHIFT;
	case 1:	/* another direction */
		return (c & ~(_IOC_DIRMASK << _IOC_DIRSHIFT)) |
		       ((r >> 8) & _IOC_DIRMASK) << _IOC_DIRSHIFT;
	case 2:	/* any number of KVM's or kvm-soc's type */
		return _IOC((r >> 8) & 3, (r & 0x20) ? KVMIO : KVM_SOC_IO,
			    (r >> 16) & 0xff, (r >> 24) & 0x3fff);
	default:
		return c;
	}
}

/* Random bytes, with what makes memory slots name the arena or nothing. */
static void fuzz_buf(struct fuzz *f, uint64_t *s, unsigned long cmd,
		     uint8_t *buf)
{
	struct kvm_userspace_memory_region *r = (void *)buf;
	size_t i;

	for (i = 0; i < 512; i += 8)
		*(uint64_t *)(buf + i) = (rnd(s) & 1) ? rnd(s) : rnd(s) & 0xff;
	/* The tick must still reach a vCPU in KVM_RUN. */
	if (_IOC_NR(cmd) == _IOC_NR(KVM_SET_SIGNAL_MASK) &&
	    _IOC_TYPE(cmd) == KVMIO)
		buf[offsetof(struct kvm_signal_mask, sigset) + (SIGUSR1 - 1) / 8] &=
			~(1 << ((SIGUSR1 - 1) % 8));
	if (_IOC_NR(cmd) == _IOC_NR(KVM_SET_USER_MEMORY_REGION) &&
	    _IOC_TYPE(cmd) == KVMIO) {
		/* Never a range of this process that others use. */
		r->slot = rnd(s) % 8;
		r->flags = rnd(s) % 4 ? 0 : (uint32_t)rnd(s);
		r->guest_phys_addr = (rnd(s) % 64) << 20;
		r->memory_size = (rnd(s) % 4096) << 12;
		if (rnd(s) % 4) {
			r->memory_size %= ARENA_SIZE;
			r->userspace_addr = (uintptr_t)f->arena +
				((rnd(s) << 12) % (ARENA_SIZE - r->memory_size));
		} else {
			r->userspace_addr = (rnd(s) & 1) ? 0x1000 :
					    0x800000000000ULL + (rnd(s) << 12);
		}
	}
}

static unsigned long fuzz_arg(struct fuzz *f, uint64_t *s, uint8_t *buf)
{
	switch (rnd(s) % 12) {
	case 0:
		return 0;
	case 1:
		return rnd(s) % 64;
	case 2:
		return 0x1000;				/* unmapped */
	case 3:
		return (unsigned long)f->edge;		/* runs into PROT_NONE */
	case 4:
		return 0xffff800000000000UL;		/* kernel address */
	default:
		return (unsigned long)buf;
	}
}

static void on_tick(int sig)
{
}

static void *fuzz_thread(void *arg)
{
	struct fuzz *f = arg;
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = SIGUSR1,
	};
	struct itimerspec its = {
		.it_interval = { .tv_nsec = 50 * 1000000L },
		.it_value = { .tv_nsec = 50 * 1000000L },
	};
	uint64_t s = f->seed * 2654435761ULL + (uintptr_t)&sev;
	uint8_t *buf = malloc(BUF_SIZE);
	unsigned long n = 0, cmd;
	struct kvm_soc_create_memory mr;
	timer_t timer;
	off_t off;
	void *m;
	int fd;

	sev._sigev_un._tid = syscall(SYS_gettid);
	if (!buf || timer_create(CLOCK_MONOTONIC, &sev, &timer))
		return NULL;
	timer_settime(timer, 0, &its, NULL);
	while (time(NULL) < f->end) {
		n++;
		switch (rnd(&s) % 16) {
		case 0:
			put(f, &s, open(DEV, O_RDWR | O_CLOEXEC), -1);
			break;
		case 1:
			put(f, &s, ioctl(pick(f, &s), KVM_CREATE_VM, 0), 0);
			break;
		case 2:
			put(f, &s, ioctl(pick(f, &s), KVM_CREATE_VCPU, rnd(&s) % 40), 1);
			break;
		case 3:
			mr = (struct kvm_soc_create_memory){
				.argsz = sizeof(mr), .size = (rnd(&s) % 64) << 12,
			};
			put(f, &s, ioctl(pick(f, &s), KVM_SOC_CREATE_MEMORY, &mr), 2);
			break;
		case 4:
			put(f, &s, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), -1);
			break;
		case 5:	/* close while the others use it */
			fd = __atomic_exchange_n(&f->pool[rnd(&s) % POOL], -1,
						 __ATOMIC_RELAXED);
			if (fd >= 0)
				close(fd);
			break;
		case 6:
			off = (rnd(&s) % 4) << 12;
			m = mmap(NULL, 3 << 12, PROT_READ | PROT_WRITE, MAP_SHARED,
				 pick(f, &s), off);
			if (m != MAP_FAILED) {
				/* Page 0 of anything that maps exists. */
				if (!off)
					__atomic_load_n((uint8_t *)m, __ATOMIC_RELAXED);
				munmap(m, 3 << 12);
			}
			break;
		default:
			cmd = fuzz_cmd(&s);
			fuzz_buf(f, &s, cmd, buf);
			if (ioctl(pick(f, &s), cmd, fuzz_arg(f, &s, buf)) >= 0)
				__atomic_fetch_add(&f->made[3], 1, __ATOMIC_RELAXED);
			break;
		}
	}
	timer_delete(timer);
	free(buf);
	__atomic_fetch_add(&f->calls, n, __ATOMIC_RELAXED);
	return NULL;
}

/* The fuzzing process: fills @out (calls, VMs, vCPUs, objects, ok), or -1. */
static int fuzz_run(unsigned int seed, int seconds, long out[5])
{
	struct sigaction sa = { .sa_handler = on_tick };	/* no SA_RESTART */
	static struct fuzz f;
	pthread_t t[NR_THREADS];
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *e;
	int i;

	sigaction(SIGUSR1, &sa, NULL);
	for (i = 0; i < POOL; i++)
		f.pool[i] = -1;
	f.seed = seed;
	f.end = time(NULL) + seconds;
	f.arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	e = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f.arena == MAP_FAILED || e == MAP_FAILED ||
	    mprotect(e + page, page, PROT_NONE))
		return -1;
	f.edge = e + page - 16;
	for (i = 0; i < NR_THREADS; i++)
		if (pthread_create(&t[i], NULL, fuzz_thread, &f))
			return -1;
	for (i = 0; i < NR_THREADS; i++)
		pthread_join(t[i], NULL);
	out[0] = f.calls;
	for (i = 0; i < 4; i++)
		out[i + 1] = f.made[i];
	return 0;
}

/* What the bystander saw. */
struct report {
	int check;		/* the first check that failed, 0 if none */
	int ret;		/* KVM_RUN's result then */
	uint32_t exit_reason;	/* and the exit */
	uint32_t value;		/* the value the guest wrote */
	unsigned long exits;	/* exits checked */
};

static unsigned long *progress;	/* shared: the bystander's exits so far */

/* The bystander: a guest whose every exit is checked, until told to stop. */
static int bystander(int stop_fd, int report_fd)
{
	struct report rep = { 0 };
	struct tvm t;
	uint64_t x;

	if (tvm_open(&t, DEV) || tvm_create_vm(&t, NULL))
		rep.check = 1;
	else
		TVM_LOAD(&t, pio_loop);
	if (!rep.check && tvm_add_vcpu(&t) < 0)
		rep.check = 2;
	while (!rep.check && read(stop_fd, &x, sizeof(x)) < 0) {
		rep.ret = tvm_run(&t, 0);
		rep.exit_reason = t.run[0]->exit_reason;
		if (rep.ret || rep.exit_reason != KVM_EXIT_IO) {
			rep.check = 3;
			break;
		}
		memcpy(&rep.value, tvm_io(&t, 0), 4);
		if (rep.value != ++rep.exits)
			rep.check = 4;
		__atomic_store_n(progress, rep.exits, __ATOMIC_RELAXED);
	}
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		return 1;
	tvm_close(&t);
	return 0;
}

/* Where the threads of @pid sleep, for a report of a stall. */
static void dump_stacks(struct __test_metadata *_metadata, const char *pid)
{
	char path[300], line[256], comm[64] = "";
	struct dirent *e;
	DIR *task;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	task = opendir(path);
	while (task && (e = readdir(task))) {
		if (e->d_name[0] == '.')
			continue;
		TH_LOG("pid %s task %s (%.*s):", pid, e->d_name,
		       (int)strcspn(comm, "\n"), comm);
		snprintf(path, sizeof(path), "/proc/%s/task/%s/stack", pid, e->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			TH_LOG("    %.*s", (int)strcspn(line, "\n"), line);
		if (f)
			fclose(f);
	}
	if (task)
		closedir(task);
}

static void dump_helper(const char *pid, void *arg)
{
	dump_stacks(arg, pid);
}

FIXTURE(fz) {
};

FIXTURE_SETUP(fz)
{
}

FIXTURE_TEARDOWN(fz)
{
}

/* The harness's limit; the rig stops any test after 600 s. */
TEST_F_TIMEOUT(fz, fuzz_ioctls_with_a_bystander, 590)
{
	const char *env = getenv("KSOC_FUZZ_SECONDS");
	const char *seed_env = getenv("KSOC_FUZZ_SEED");
	int seconds = env ? atoi(env) : 20, status, i, stop, pipefd[2];
	unsigned int seed = seed_env ? strtoul(seed_env, NULL, 0) : time(NULL);
	int helpers, vms, rep[2], stalled;
	unsigned long last, now;
	struct report r = { 0 };
	long calls[5];
	pid_t by, fz;

	if (access(DEV, R_OK | W_OK))
		SKIP(return, DEV " is not there");
	helpers = tvm_list_helpers(NULL, NULL);
	vms = tvm_count_kvm_vms();
	TH_LOG("seed %u, %d s, %d threads", seed, seconds, NR_THREADS);

	progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, progress);
	stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, stop);
	ASSERT_EQ(0, pipe2(rep, O_CLOEXEC));
	by = fork();
	ASSERT_LE(0, by);
	if (!by)
		_exit(bystander(stop, rep[1]));
	close(rep[1]);

	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC));
	fz = fork();
	ASSERT_LE(0, fz);
	if (!fz) {
		if (fuzz_run(seed, seconds, calls))
			_exit(2);
		_exit(write(pipefd[1], calls, sizeof(calls)) == sizeof(calls) ? 0 : 1);
	}
	close(pipefd[1]);
	/* Watch the bystander while the fuzzer runs. */
	for (i = 0, last = 0, stalled = 0; waitpid(fz, &status, WNOHANG) == 0; i++) {
		sleep(1);
		now = __atomic_load_n(progress, __ATOMIC_RELAXED);
		if (now == last && !stalled) {
			stalled = i + 1;
			TH_LOG("the bystander made no exit in second %d", stalled);
		}
		last = now;
	}
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the fuzzing process ended with status %#x", status);
	ASSERT_EQ(sizeof(calls), read(pipefd[0], calls, sizeof(calls)));
	TH_LOG("%ld calls: %ld VMs, %ld vCPUs, %ld memory objects made, %ld other ioctls worked",
	       calls[0], calls[1], calls[2], calls[3], calls[4]);
	/* It reached past the argument checks. */
	EXPECT_LT(0, calls[1]);
	EXPECT_LT(0, calls[2]);
	EXPECT_LT(0, calls[4]);

	/* The bystander ran all along and still does. */
	ASSERT_EQ(0, eventfd_write(stop, 1));
	for (i = 0; i < 100 && waitpid(by, &status, WNOHANG) == 0; i++)
		usleep(100 * 1000);
	if (i == 100) {
		char pid[16];

		TH_LOG("the bystander is stuck after %lu exits", *progress);
		snprintf(pid, sizeof(pid), "%d", by);
		dump_stacks(_metadata, pid);
		tvm_list_helpers(dump_helper, _metadata);
		kill(by, SIGKILL);
		waitpid(by, &status, 0);
	}
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(sizeof(r), read(rep[0], &r, sizeof(r)));
	EXPECT_EQ(0, r.check)
		TH_LOG("bystander: check %d failed after %lu exits: KVM_RUN %d, exit %u, value %u",
		       r.check, r.exits, r.ret, r.exit_reason, r.value);
	EXPECT_LT(1000, r.exits);
	TH_LOG("the bystander's guest made %lu checked exits meanwhile", r.exits);

	/* Nothing the fuzzer made is left on the host. */
	for (i = 0; i < 500; i++) {
		if (tvm_list_helpers(NULL, NULL) == helpers && tvm_count_kvm_vms() == vms)
			break;
		usleep(20 * 1000);
	}
	EXPECT_EQ(helpers, tvm_list_helpers(NULL, NULL));
	EXPECT_EQ(vms, tvm_count_kvm_vms());
}

TEST_HARNESS_MAIN
