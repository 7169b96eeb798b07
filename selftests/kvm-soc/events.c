// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupts and doorbells without exits, on /dev/kvm and on /dev/kvm-soc
 * (one variant each, stock KVM is the reference): KVM_IRQFD (MSI, and a
 * level-triggered IOAPIC line with a resamplefd), KVM_IOEVENTFD (PIO and
 * MMIO, every length, datamatch), pausing and resuming a 4-vCPU VM as
 * QEMU does, and KVM's errnos for bad input.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

FIXTURE(ev) {
	struct tvm t;
	bool soc;
};

FIXTURE_VARIANT(ev) {
	const char *path;
};

FIXTURE_VARIANT_ADD(ev, kvm) {
	.path = "/dev/kvm",
};

FIXTURE_VARIANT_ADD(ev, kvm_soc) {
	.path = "/dev/kvm-soc",
};

FIXTURE_SETUP(ev)
{
	int ret = tvm_open(&self->t, variant->path);

	if (ret == -ENOENT)
		SKIP(return, "%s does not exist", variant->path);
	ASSERT_EQ(0, ret) TH_LOG("open %s: %s", variant->path, strerror(-ret));
	ASSERT_EQ(0, tvm_create_vm(&self->t, NULL));
	self->soc = !strcmp(variant->path, "/dev/kvm-soc");
}

FIXTURE_TEARDOWN(ev)
{
	tvm_close(&self->t);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* Read an eventfd's counts until they add up to @want or @ms pass. */
static uint64_t efd_collect(int fd, uint64_t want, int ms)
{
	uint64_t total = 0, v, end = now_ms() + ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (total < want && now_ms() < end) {
		if (poll(&p, 1, 100) == 1 && read(fd, &v, 8) == 8)
			total += v;
	}
	return total;
}

/* Whatever an eventfd holds right now (0 if nothing). */
static uint64_t efd_drain(int fd)
{
	uint64_t v = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 0) == 1 && read(fd, &v, 8) != 8)
		v = 0;
	return v;
}

static int vm_stats(struct tvm *t, struct kvm_soc_vm_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->argsz = sizeof(*st);
	return ioctl(t->vm, KVM_SOC_GET_VM_STATS, st);
}

/* MSI routes: GSI 24 + i -> vector 0x40 on APIC ID i. */
static int msi_routes(struct tvm *t, int n)
{
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[8];
	} routes = { .r.nr = n };
	int i;

	for (i = 0; i < n; i++) {
		routes.e[i].gsi = 24 + i;
		routes.e[i].type = KVM_IRQ_ROUTING_MSI;
		routes.e[i].u.msi.address_lo = 0xfee00000 | (i << 12);
		routes.e[i].u.msi.data = 0x40;
	}
	return ioctl(t->vm, KVM_SET_GSI_ROUTING, &routes);
}

static int irqfd(struct tvm *t, int fd, int gsi, int flags, int rfd)
{
	struct kvm_irqfd a = {
		.fd = fd, .gsi = gsi, .flags = flags, .resamplefd = rfd,
	};

	return ioctl(t->vm, KVM_IRQFD, &a) ? -errno : 0;
}

static int ioeventfd(struct tvm *t, int fd, uint64_t addr, int len,
		     int flags, uint64_t datamatch)
{
	struct kvm_ioeventfd a = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = fd,
		.flags = flags,
	};

	return ioctl(t->vm, KVM_IOEVENTFD, &a) ? -errno : 0;
}

#define EXPECT_PORT(tv, i, p) do {					\
	struct kvm_run *__r = (tv)->run[i];				\
	ASSERT_EQ(KVM_EXIT_IO, __r->exit_reason)			\
		TH_LOG("exit %u", __r->exit_reason);			\
	ASSERT_EQ(p, __r->io.port);					\
} while (0)

TEST_F(ev, capabilities)
{
	EXPECT_EQ(1, ioctl(self->t.vm, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD));
	EXPECT_EQ(1, ioctl(self->t.vm, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD_RESAMPLE));
	EXPECT_EQ(1, ioctl(self->t.vm, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD));
	EXPECT_EQ(1, ioctl(self->t.vm, KVM_CHECK_EXTENSION,
			   KVM_CAP_IOEVENTFD_ANY_LENGTH));
}

struct sender {
	int efd;
	int first;	/* the first interrupt this thread sends */
	int n;		/* the last */
	int delay_ms;
	int acked;	/* interrupts the vCPU thread has seen (atomic) */
	int ret;
};

/*
 * Send MSIs through an irqfd from another thread, one at a time: wait
 * until the previous one was counted, let the vCPU halt, then signal.
 */
static void *irqfd_sender(void *arg)
{
	struct sender *s = arg;
	struct timespec ts = { .tv_nsec = s->delay_ms * 1000000L };
	uint64_t one = 1, end;
	int i;

	for (i = s->first; i <= s->n; i++) {
		end = now_ms() + 10000;
		while (__atomic_load_n(&s->acked, __ATOMIC_ACQUIRE) < i - 1) {
			if (now_ms() > end) {
				s->ret = -ETIMEDOUT;
				return NULL;
			}
			usleep(100);
		}
		nanosleep(&ts, NULL);		/* the vCPU is halted by now */
		if (write(s->efd, &one, 8) != 8) {
			s->ret = -errno;
			return NULL;
		}
	}
	return NULL;
}

static long cpu_ms_of(const char *pid)
{
	char path[64], buf[512], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

static void add_cpu(const char *pid, void *arg)
{
	*(long *)arg += cpu_ms_of(pid);
}

/* CPU time of this process and (kvm-soc) of host-kvm's helpers, in ms. */
static long cpu_ms(bool soc)
{
	struct rusage ru;
	long ms;

	getrusage(RUSAGE_SELF, &ru);
	ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
	     ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
	if (soc)
		tvm_list_helpers(add_cpu, &ms);
	return ms;
}

/*
 * An in-kernel LAPIC receives MSIs that another thread sends through an
 * irqfd: one signalled before the first KVM_RUN, then each one while the
 * vCPU is halted.  Every one is counted, exactly; a halted vCPU costs no
 * CPU while it waits.
 */
TEST_F(ev, irqfd_msi_counted_including_halted)
{
	struct tvm *t = &self->t;
	struct sender s = { .first = 2, .n = 40, .delay_ms = 2 };
	struct kvm_soc_vm_stats st0, st1;
	uint64_t one = 1;
	long cpu0, cpu1;
	pthread_t th;
	uint32_t v;
	int i;

	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	ASSERT_EQ(0, msi_routes(t, 1));
	TVM_LOAD(t, irq);
	tvm_set_gate(t, 0x40, GUEST_CODE + (guest_irq_handler - guest_irq));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, tvm_lapic_on(t, 0));
	s.efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, s.efd);
	ASSERT_EQ(0, irqfd(t, s.efd, 24, 0, 0));
	if (self->soc)
		ASSERT_EQ(0, vm_stats(t, &st0));

	ASSERT_EQ(8, write(s.efd, &one, 8));	/* before the first KVM_RUN */
	ASSERT_EQ(0, pthread_create(&th, NULL, irqfd_sender, &s));
	for (i = 1; i <= s.n; i++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_PORT(t, 0, 0x61);
		memcpy(&v, tvm_io(t, 0), 4);
		ASSERT_EQ(i, v);
		__atomic_store_n(&s.acked, i, __ATOMIC_RELEASE);
	}
	pthread_join(th, NULL);
	EXPECT_EQ(0, s.ret);

	/* Halted 500 ms, nothing pending: waiting costs (almost) no CPU. */
	s.acked = s.n;
	s.first = ++s.n;
	s.delay_ms = 500;
	cpu0 = cpu_ms(self->soc);
	ASSERT_EQ(0, pthread_create(&th, NULL, irqfd_sender, &s));
	ASSERT_EQ(0, tvm_run(t, 0));		/* halted until the irqfd */
	cpu1 = cpu_ms(self->soc);
	pthread_join(th, NULL);
	EXPECT_PORT(t, 0, 0x61);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(s.n, v);
	EXPECT_GT(150, cpu1 - cpu0) TH_LOG("%ld ms of CPU while halted", cpu1 - cpu0);

	if (self->soc) {
		ASSERT_EQ(0, vm_stats(t, &st1));
		EXPECT_EQ(s.n, st1.irqfd_triggers - st0.irqfd_triggers);
		EXPECT_EQ(s.n, st1.exits_io - st0.exits_io);
	}
	ASSERT_EQ(0, irqfd(t, s.efd, 24, KVM_IRQFD_FLAG_DEASSIGN, 0));
	close(s.efd);
}

/*
 * 10^6 guest writes to a PIO ioeventfd: the eventfd total equals the
 * kicks and only the final report crosses as an exit.  make check's
 * focused set (KSOC_FOCUS=1) writes 2 * 10^5: about 80 s less in the rig,
 * the same property; make check-full writes them all.
 */
TEST_F_TIMEOUT(ev, ioeventfd_million_kicks_no_exits, 600)
{
	const uint32_t kicks = tvm_focused() ? 200000 : 1000000;
	struct tvm *t = &self->t;
	struct kvm_soc_vm_stats st0, st1;
	uint64_t total;
	uint32_t v;
	int efd;

	TVM_LOAD(t, kick_loop);
	memcpy(t->mem + GUEST_DATA, &kicks, 4);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioeventfd(t, efd, 0x90, 1, KVM_IOEVENTFD_FLAG_PIO, 0));
	if (self->soc)
		ASSERT_EQ(0, vm_stats(t, &st0));

	TH_LOG("%u kicks%s", kicks, kicks < 1000000 ?
	       " (focused set: make check-full writes 1000000)" : "");
	ASSERT_EQ(0, tvm_run(t, 0));		/* exactly one exit */
	EXPECT_PORT(t, 0, 0x91);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(kicks, v);
	total = efd_collect(efd, kicks, 10000);
	EXPECT_EQ(kicks, total);
	usleep(100 * 1000);
	EXPECT_EQ(0, efd_drain(efd));		/* and no more */
	if (self->soc) {
		ASSERT_EQ(0, vm_stats(t, &st1));
		EXPECT_EQ(1, st1.exits - st0.exits);
		EXPECT_EQ(kicks, st1.ioeventfd_kicks - st0.ioeventfd_kicks);
		TH_LOG("IOREQ exits %llu, ioeventfd kicks %llu",
		       (unsigned long long)(st1.exits - st0.exits),
		       (unsigned long long)(st1.ioeventfd_kicks - st0.ioeventfd_kicks));
	}
	ASSERT_EQ(0, ioeventfd(t, efd, 0x90, 1,
			       KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DEASSIGN, 0));
	close(efd);
}

/*
 * Deassigning an ioeventfd keeps what it counted: every guest write that
 * completed before KVM_IOEVENTFD(DEASSIGN) returned is in the eventfd
 * right after it (QEMU reads its notifier then), none is added later.
 */
TEST_F(ev, ioeventfd_deassign_keeps_counted_writes)
{
	struct tvm *t = &self->t;
	const uint32_t kicks = 3000;
	uint64_t v = 0;
	int efd, round;

	TVM_LOAD(t, kick_loop);
	memcpy(t->mem + GUEST_DATA, &kicks, 4);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	for (round = 0; round < 3; round++) {
		struct kvm_regs regs;

		ASSERT_EQ(0, ioeventfd(t, efd, 0x90, 1, KVM_IOEVENTFD_FLAG_PIO, 0));
		ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_GET_REGS, &regs));
		regs.rip = GUEST_CODE;
		ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_SET_REGS, &regs));
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_PORT(t, 0, 0x91);
		ASSERT_EQ(0, ioeventfd(t, efd, 0x90, 1, KVM_IOEVENTFD_FLAG_PIO |
				       KVM_IOEVENTFD_FLAG_DEASSIGN, 0));
		ASSERT_EQ(8, read(efd, &v, 8));
		EXPECT_EQ(kicks, v) TH_LOG("round %d", round);
		usleep(50 * 1000);
		EXPECT_EQ(0, efd_drain(efd));
	}
	close(efd);
}

/*
 * MMIO ioeventfds of length 1, 2, 4, 8 and 0 (any), and a PIO one with
 * datamatch: each counts exactly its writes; a PIO write that does not
 * match exits to userspace as usual.
 */
TEST_F(ev, ioeventfd_lengths_and_datamatch)
{
	static const struct {
		uint64_t addr;
		int len;
	} mm[] = {
		{ 0x10000100, 1 }, { 0x10000200, 2 }, { 0x10000300, 4 },
		{ 0x10000400, 8 }, { 0x10000500, 0 },
	};
	struct tvm *t = &self->t;
	const uint32_t rounds = 50;
	int efd[6], i, exits = 0;

	TVM_LOAD(t, kick_sizes);
	memcpy(t->mem + GUEST_DATA, &rounds, 4);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	for (i = 0; i < 6; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, efd[i]);
	}
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, ioeventfd(t, efd[i], mm[i].addr, mm[i].len, 0, 0))
			TH_LOG("len %d", mm[i].len);
	ASSERT_EQ(0, ioeventfd(t, efd[5], 0x94, 2, KVM_IOEVENTFD_FLAG_PIO |
			       KVM_IOEVENTFD_FLAG_DATAMATCH, 0x1234));
	for (;;) {
		ASSERT_EQ(0, tvm_run(t, 0));
		ASSERT_EQ(KVM_EXIT_IO, t->run[0]->exit_reason)
			TH_LOG("exit %u", t->run[0]->exit_reason);
		if (t->run[0]->io.port == 0x91)
			break;
		ASSERT_EQ(0x94, t->run[0]->io.port);
		EXPECT_EQ(0x4321, *(uint16_t *)tvm_io(t, 0));
		exits++;
	}
	EXPECT_EQ(rounds, exits);
	for (i = 0; i < 6; i++) {
		EXPECT_EQ(rounds, efd_collect(efd[i], rounds, 5000)) TH_LOG("ioeventfd %d", i);
		close(efd[i]);
	}
}

struct resampler {
	int efd;
	int rfd;
	int n;
	int ret;
};

/* Wait for each resample (the guest's EOI) and assert the line again. */
static void *resample_thread(void *arg)
{
	struct resampler *r = arg;
	struct pollfd p = { .fd = r->rfd, .events = POLLIN };
	uint64_t v, one = 1;
	int i;

	for (i = 1; i < r->n; i++) {
		if (poll(&p, 1, 10000) != 1 || read(r->rfd, &v, 8) != 8) {
			r->ret = -ETIMEDOUT;
			return NULL;
		}
		if (write(r->efd, &one, 8) != 8) {
			r->ret = -errno;
			return NULL;
		}
	}
	return NULL;
}

/*
 * A level-triggered IOAPIC line driven by an irqfd with a resamplefd:
 * asserted, taken by the guest, EOI'd, resampled (the resamplefd fires),
 * asserted again by another thread, and so on.  Before the guest's EOI
 * the resamplefd is quiet.
 */
TEST_F(ev, irqfd_resample_level_ioapic)
{
	struct tvm *t = &self->t;
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct resampler r = { .n = 12 };
	struct kvm_soc_vm_stats st0, st1;
	uint64_t one = 1;
	pthread_t th;
	uint32_t v;
	int i, pin = 20;

	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	ASSERT_EQ(0, ioctl(t->vm, KVM_GET_IRQCHIP, &chip));
	memset(&chip.chip.ioapic.redirtbl[pin], 0, 8);
	chip.chip.ioapic.redirtbl[pin].fields.vector = 0x42;
	chip.chip.ioapic.redirtbl[pin].fields.trig_mode = 1;	/* level */
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_IRQCHIP, &chip));
	TVM_LOAD(t, irq);
	tvm_set_gate(t, 0x42, GUEST_CODE + (guest_irq_handler - guest_irq));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, tvm_lapic_on(t, 0));
	r.efd = eventfd(0, EFD_CLOEXEC);
	r.rfd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, r.efd);
	ASSERT_LE(0, r.rfd);
	ASSERT_EQ(0, irqfd(t, r.efd, pin, KVM_IRQFD_FLAG_RESAMPLE, r.rfd));
	if (self->soc)
		ASSERT_EQ(0, vm_stats(t, &st0));

	ASSERT_EQ(8, write(r.efd, &one, 8));	/* asserted before KVM_RUN */
	ASSERT_EQ(0, pthread_create(&th, NULL, resample_thread, &r));
	for (i = 1; i <= r.n; i++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_PORT(t, 0, 0x61);
		memcpy(&v, tvm_io(t, 0), 4);
		ASSERT_EQ(i, v);
		/* In the handler, before its EOI: nothing to resample yet. */
		EXPECT_EQ(0, efd_drain(r.rfd));
	}
	pthread_join(th, NULL);
	EXPECT_EQ(0, r.ret);
	if (self->soc) {
		ASSERT_EQ(0, vm_stats(t, &st1));
		EXPECT_EQ(r.n - 1, st1.irqfd_resamples - st0.irqfd_resamples);
	}
	/* Without the resample flag it is the same GSI, another eventfd: ok. */
	ASSERT_EQ(0, irqfd(t, r.efd, pin, KVM_IRQFD_FLAG_DEASSIGN, 0));
	close(r.efd);
	close(r.rfd);
}

/*
 * A userspace irqchip, as QEMU without an in-kernel one: the vCPU halts
 * (KVM_EXIT_HLT), userspace asks for an interrupt window
 * (request_interrupt_window), KVM exits with KVM_EXIT_IRQ_WINDOW_OPEN,
 * userspace injects with KVM_INTERRUPT and the guest's handler runs;
 * KVM_NMI reaches the NMI handler.
 */
TEST_F(ev, userspace_irqchip_window_interrupt_nmi)
{
	struct tvm *t = &self->t;
	struct kvm_interrupt irq = { .irq = 0x40 };
	struct kvm_run *run;
	uint32_t v;
	int i;

	TVM_LOAD(t, uirq);
	tvm_set_gate(t, 0x40, GUEST_CODE + (guest_uirq_handler - guest_uirq));
	tvm_set_gate(t, 2, GUEST_CODE + (guest_uirq_nmi - guest_uirq));
	ASSERT_EQ(0, tvm_add_vcpu(t));
	run = t->run[0];
	for (i = 1; i <= 5; i++) {
		ASSERT_EQ(0, tvm_run(t, 0));
		ASSERT_EQ(KVM_EXIT_HLT, run->exit_reason) TH_LOG("exit %u", run->exit_reason);
		EXPECT_EQ(1, run->if_flag);
		run->request_interrupt_window = 1;
		ASSERT_EQ(0, tvm_run(t, 0));
		ASSERT_EQ(KVM_EXIT_IRQ_WINDOW_OPEN, run->exit_reason)
			TH_LOG("exit %u", run->exit_reason);
		EXPECT_EQ(1, run->ready_for_interrupt_injection);
		run->request_interrupt_window = 0;
		ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_INTERRUPT, &irq));
		ASSERT_EQ(0, tvm_run(t, 0));
		EXPECT_PORT(t, 0, 0x61);
		memcpy(&v, tvm_io(t, 0), 4);
		ASSERT_EQ(i, v);
	}
	ASSERT_EQ(0, ioctl(t->vcpu[0], KVM_NMI, 0));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_PORT(t, 0, 0x62);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(0x494d4e, v);
}

/* ---- pause and resume, as QEMU stops and starts vCPUs ------------------ */

struct pauser {
	struct tvm *t;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool paused;
	bool stop;
	int parked;
	int count[4];
	int errors;
	pthread_t th[4];
};

struct pause_arg {
	struct pauser *p;
	int i;
};

static void on_kick(int sig)
{
}

static void *pause_worker(void *arg)
{
	struct pause_arg *a = arg;
	struct pauser *p = a->p;
	struct tvm *t = p->t;
	uint32_t v;
	int r;

	for (;;) {
		r = tvm_run(t, a->i);
		if (r == -EINTR) {
			pthread_mutex_lock(&p->lock);
			p->parked++;
			pthread_cond_broadcast(&p->cond);
			while (p->paused && !p->stop)
				pthread_cond_wait(&p->cond, &p->lock);
			p->parked--;
			r = p->stop;
			pthread_mutex_unlock(&p->lock);
			if (r)
				return NULL;
			continue;
		}
		if (r || t->run[a->i]->exit_reason != KVM_EXIT_IO ||
		    t->run[a->i]->io.port != 0x61) {
			__atomic_add_fetch(&p->errors, 1, __ATOMIC_RELAXED);
			return NULL;
		}
		memcpy(&v, tvm_io(t, a->i), 4);
		__atomic_store_n(&p->count[a->i], v, __ATOMIC_RELEASE);
	}
}

/* Stop every vCPU: exit request + signal; wait until all are parked. */
static int pause_all(struct pauser *p, bool stop)
{
	uint64_t end = now_ms() + 10000;
	int i, ret = 0;

	pthread_mutex_lock(&p->lock);
	p->paused = true;
	p->stop = stop;
	for (i = 0; i < 4; i++) {
		p->t->run[i]->immediate_exit = 1;
		pthread_kill(p->th[i], SIGUSR1);
	}
	while (p->parked < 4 && !stop) {
		struct timespec ts = { .tv_sec = time(NULL) + 1 };

		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		if (now_ms() > end) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static void resume_all(struct pauser *p)
{
	int i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < 4; i++)
		p->t->run[i]->immediate_exit = 0;
	p->paused = false;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static bool wait_counts(struct pauser *p, int want, int ms)
{
	uint64_t end = now_ms() + ms;
	int i, ok;

	do {
		for (ok = 0, i = 0; i < 4; i++)
			ok += __atomic_load_n(&p->count[i], __ATOMIC_ACQUIRE) >= want;
		if (ok == 4)
			return true;
		usleep(1000);
	} while (now_ms() < end);
	return false;
}

/*
 * A 4-vCPU VM with one irqfd per vCPU.  Each round: an interrupt to every
 * vCPU while running; then the whole VM is paused (each vCPU thread gets
 * an exit request and a signal, whatever it is doing), an interrupt is
 * sent to every vCPU while paused and none is taken; after resume each
 * arrives.  No interrupt is lost, none is duplicated.
 */
TEST_F_TIMEOUT(ev, pause_resume_four_vcpus_loses_no_interrupt, 240)
{
	struct sigaction sa = { .sa_handler = on_kick };
	struct tvm *t = &self->t;
	struct pauser p = { .t = t };
	struct pause_arg args[4];
	struct kvm_regs regs;
	int efd[4], i, round, want = 0, rounds = 8;
	uint64_t one = 1;

	sigaction(SIGUSR1, &sa, NULL);
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	ASSERT_EQ(0, msi_routes(t, 4));
	TVM_LOAD(t, irq);
	tvm_set_gate(t, 0x40, GUEST_CODE + (guest_irq_handler - guest_irq));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(i, tvm_add_vcpu(t));
		ASSERT_EQ(0, tvm_lapic_on(t, i));
		/* A stack of its own for each vCPU's interrupt frames. */
		ASSERT_EQ(0, ioctl(t->vcpu[i], KVM_GET_REGS, &regs));
		regs.rsp = GUEST_STACK - i * 0x200;
		ASSERT_EQ(0, ioctl(t->vcpu[i], KVM_SET_REGS, &regs));
		efd[i] = eventfd(0, EFD_CLOEXEC);
		ASSERT_LE(0, efd[i]);
		ASSERT_EQ(0, irqfd(t, efd[i], 24 + i, 0, 0));
	}
	for (i = 0; i < 4; i++) {
		args[i] = (struct pause_arg){ .p = &p, .i = i };
		ASSERT_EQ(0, pthread_create(&p.th[i], NULL, pause_worker, &args[i]));
	}
	for (round = 0; round < rounds; round++) {
		for (i = 0; i < 4; i++)
			ASSERT_EQ(8, write(efd[i], &one, 8));
		want++;
		ASSERT_TRUE(wait_counts(&p, want, 10000)) TH_LOG("round %d running", round);

		ASSERT_EQ(0, pause_all(&p, false)) TH_LOG("round %d pause", round);
		for (i = 0; i < 4; i++)
			ASSERT_EQ(8, write(efd[i], &one, 8));
		usleep(50 * 1000);
		for (i = 0; i < 4; i++)
			EXPECT_EQ(want, __atomic_load_n(&p.count[i], __ATOMIC_ACQUIRE))
				TH_LOG("vcpu %d ran while paused", i);
		want++;
		resume_all(&p);
		ASSERT_TRUE(wait_counts(&p, want, 10000)) TH_LOG("round %d resumed", round);
	}
	pause_all(&p, true);
	for (i = 0; i < 4; i++) {
		pthread_join(p.th[i], NULL);
		EXPECT_EQ(want, p.count[i]) TH_LOG("vcpu %d", i);
		close(efd[i]);
	}
	EXPECT_EQ(0, p.errors);
}

/* ---- bad input: KVM's errnos ------------------------------------------ */

TEST_F(ev, irqfd_bad_input)
{
	struct tvm *t = &self->t;
	int efd = eventfd(0, EFD_CLOEXEC), efd2 = eventfd(0, EFD_CLOEXEC);
	int pipefd[2];

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe(pipefd));
	/* Without an in-kernel irqchip: EINVAL (x86 KVM). */
	EXPECT_EQ(-EINVAL, irqfd(t, efd, 24, 0, 0));
	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	EXPECT_EQ(-EINVAL, irqfd(t, pipefd[0], 24, 0, 0));	/* not an eventfd */
	EXPECT_EQ(-EBADF, irqfd(t, 1000, 24, 0, 0));
	EXPECT_EQ(-EINVAL, irqfd(t, efd, 24, 1 << 5, 0));	/* unknown flag */
	EXPECT_EQ(-EINVAL, irqfd(t, efd, 20, KVM_IRQFD_FLAG_RESAMPLE, pipefd[0]));
	EXPECT_EQ(0, irqfd(t, efd, 24, 0, 0));
	EXPECT_EQ(-EBUSY, irqfd(t, efd, 25, 0, 0));		/* same eventfd */
	EXPECT_EQ(0, irqfd(t, efd2, 25, 0, 0));
	/* Deassigning one that is not there is no error in KVM. */
	EXPECT_EQ(0, irqfd(t, efd2, 26, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(0, irqfd(t, efd, 24, KVM_IRQFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(0, irqfd(t, efd, 24, 0, 0));			/* reusable */
	EXPECT_EQ(-EINVAL, irqfd(t, pipefd[0], 24, KVM_IRQFD_FLAG_DEASSIGN, 0));
	close(pipefd[0]);
	close(pipefd[1]);
	close(efd);
	close(efd2);
}

TEST_F(ev, ioeventfd_bad_input)
{
	struct tvm *t = &self->t;
	int efd = eventfd(0, EFD_CLOEXEC), efd2 = eventfd(0, EFD_CLOEXEC);
	int pipefd[2], pio = KVM_IOEVENTFD_FLAG_PIO;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-EINVAL, ioeventfd(t, efd, 0x90, 3, pio, 0));	/* length */
	EXPECT_EQ(-EINVAL, ioeventfd(t, efd, 0x90, 0,
				     pio | KVM_IOEVENTFD_FLAG_DATAMATCH, 1));
	EXPECT_EQ(-EINVAL, ioeventfd(t, efd, 0x90, 1, 1 << 6, 0));	/* flag */
	EXPECT_EQ(-EINVAL, ioeventfd(t, efd, ~0ULL, 4, 0, 0));	/* overflow */
	EXPECT_EQ(-EINVAL, ioeventfd(t, pipefd[0], 0x90, 1, pio, 0));
	EXPECT_EQ(-EBADF, ioeventfd(t, 1000, 0x90, 1, pio, 0));

	EXPECT_EQ(0, ioeventfd(t, efd, 0x90, 1, pio, 0));
	/* The same address, length and match, even with another eventfd. */
	EXPECT_EQ(-EEXIST, ioeventfd(t, efd2, 0x90, 1, pio, 0));
	EXPECT_EQ(-EEXIST, ioeventfd(t, efd, 0x90, 1, pio, 0));
	/* Another length or address space is another ioeventfd. */
	EXPECT_EQ(0, ioeventfd(t, efd2, 0x90, 2, pio, 0));
	EXPECT_EQ(0, ioeventfd(t, efd2, 0x90, 1, 0, 0));
	/* Deassign must match exactly: else ENOENT. */
	EXPECT_EQ(-ENOENT, ioeventfd(t, efd2, 0x90, 1,
				     pio | KVM_IOEVENTFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(-ENOENT, ioeventfd(t, efd, 0x92, 1,
				     pio | KVM_IOEVENTFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(0, ioeventfd(t, efd, 0x90, 1,
			       pio | KVM_IOEVENTFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(-ENOENT, ioeventfd(t, efd, 0x90, 1,
				     pio | KVM_IOEVENTFD_FLAG_DEASSIGN, 0));
	EXPECT_EQ(0, ioeventfd(t, efd2, 0x90, 1, pio, 0));	/* free again */
	close(pipefd[0]);
	close(pipefd[1]);
	close(efd);
	close(efd2);
}

/* Closing an irqfd's eventfd deassigns it (KVM's EPOLLHUP), on both. */
TEST_F(ev, irqfd_closed_eventfd_is_released)
{
	struct tvm *t = &self->t;
	int efd, i;

	ASSERT_EQ(0, ioctl(t->vm, KVM_CREATE_IRQCHIP, 0));
	/* More than the channels a kvm-soc window has: they must come back. */
	for (i = 0; i < 600; i++) {
		efd = eventfd(0, EFD_CLOEXEC);
		ASSERT_LE(0, efd);
		ASSERT_EQ(0, irqfd(t, efd, 24, 0, 0)) TH_LOG("irqfd %d", i);
		close(efd);
		if (i % 64 == 63)
			usleep(100 * 1000);	/* the release is asynchronous */
	}
}

TEST_HARNESS_MAIN
