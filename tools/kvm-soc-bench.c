// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc-bench: exit round trips, ioeventfd and irqfd latencies and
 * the dirty-bitmap sync of a 1 GiB slot through /dev/kvm-soc against the
 * same on native /dev/kvm, in the same machine and run, printed as ratios;
 * then host-side memory and wakeups per idle VM with 64 VMs.  A
 * benchmark, not a test: it asserts nothing.
 *
 * Exit round trips are measured three times where this machine has
 * soc_kvm's poll parameters: with the modules' poll_ns, with a third of it
 * (a round trip longer than the window is what a slower machine does to
 * the defaults; the adaptive windows must make up for it) and with
 * polling off (interrupt mode).  All three are restored to the defaults.
 *
 *   kvm-soc-bench [exits-per-sample] [idle-vms] [events-per-sample]
 *   kvm-soc-bench scale [vms] [exits-per-vcpu]
 *   kvm-soc-bench churn [vms]
 *   kvm-soc-bench idle [vms [device [hold-dir]]]
 *   kvm-soc-bench host-mem
 *
 * "churn": [vms] (1000) VMs created, run once and destroyed one after
 * another on each device, then what the host holds against before (its
 * helpers, KVM's VMs, kernel memory counters); exit status 1 if a helper
 * or a KVM VM is left over (make bench runs it last).
 *
 * "scale" runs only the many-VMs part: [vms] (64) VMs x 2 vCPUs taking
 * [exits-per-vcpu] (100) exits each at once, kvm-soc against native, then
 * the host's helpers, VMs and memory against before.  It is not part of
 * the default run because in the rig native /dev/kvm itself does not
 * survive it (docs/benchmarks.md, "Many VMs at once").
 *
 * "idle" with a device measures that one alone; with a hold-dir it then
 * keeps its VMs until hold-dir/idle-release exists (it makes
 * hold-dir/idle-up).  "host-mem" prints the counters idle sums, for a host
 * machine whose VMs are made by its SoC (tools/ivshmem-bench-side.sh).
 *
 * KSOC_BENCH_ONLY=/dev/kvm (or /dev/kvm-soc) measures that device alone and
 * prints "only <device>" tables of nanoseconds, for topologies where the
 * two are on different machines (tools/ivshmem-bench.sh makes the ratios).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>

#include "../selftests/kvm-soc/vm_lib.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ROUNDS 5

struct kind {
	const char *name;
	const uint8_t *code;
	size_t len;
	unsigned int exit;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Open @dev and create a VM with guest memory in @t: 0 or -errno. */
static int bench_vm(struct tvm *t, const char *dev)
{
	int r = tvm_open(t, dev);

	return r ? r : tvm_create_vm(t, NULL);
}

/* Nanoseconds per exit round trip, or a negative errno. */
static double sample(const char *dev, const struct kind *k, int n)
{
	struct tvm t;
	double a, b;
	int i, r;

	r = bench_vm(&t, dev);
	if (r)
		return r;
	tvm_load(&t, k->code, k->len);
	if (tvm_add_vcpu(&t)) {
		tvm_close(&t);
		return -errno;
	}
	for (i = 0; i < 200; i++)
		tvm_run(&t, 0);
	a = now();
	for (i = 0; i < n; i++) {
		if (tvm_run(&t, 0) || t.run[0]->exit_reason != k->exit) {
			tvm_close(&t);
			return -EIO;
		}
	}
	b = now();
	tvm_close(&t);
	return (b - a) * 1e9 / n;
}

/* ---- event latencies -------------------------------------------------- */

struct spinner {
	struct tvm *t;
	int stop;	/* atomic */
	int ret;
};

static void on_kick(int sig)
{
}

/* Keep the vCPU in KVM_RUN (it never exits) until told to stop. */
static void *spin_vcpu(void *arg)
{
	struct spinner *s = arg;
	int r;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		r = tvm_run(s->t, 0);
		if (r && r != -EINTR) {
			s->ret = r;
			break;
		}
	}
	return NULL;
}

static void stop_vcpu(struct spinner *s, pthread_t th)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	s->t->run[0]->immediate_exit = 1;
	pthread_kill(th, SIGUSR1);
	pthread_join(th, NULL);
}

/* A word of guest memory the guest reads or writes concurrently. */
static uint32_t *guest_word(struct tvm *t, unsigned long off)
{
	return (uint32_t *)(t->mem + GUEST_DATA + off);
}

static uint32_t guest_load(struct tvm *t, unsigned long off)
{
	return __atomic_load_n(guest_word(t, off), __ATOMIC_ACQUIRE);
}

/*
 * ioeventfd kick -> SoC wakeup: the guest kicks a PIO ioeventfd and spins
 * until the word at GUEST_DATA changes; this thread sleeps in read() on
 * the eventfd and changes the word when woken.  ns per round.
 */
static double sample_ioeventfd(const char *dev, int n)
{
	struct kvm_ioeventfd io = {
		.addr = 0x90, .len = 1, .flags = KVM_IOEVENTFD_FLAG_PIO,
	};
	struct spinner s = { 0 };
	struct tvm t;
	pthread_t th;
	uint64_t v;
	double a = 0, b;
	int i, r;

	r = bench_vm(&t, dev);
	if (r)
		return r;
	s.t = &t;
	tvm_load(&t, guest_kick_wait, guest_kick_wait_end - guest_kick_wait);
	io.fd = eventfd(0, EFD_CLOEXEC);
	if (tvm_add_vcpu(&t) < 0 || io.fd < 0 || ioctl(t.vm, KVM_IOEVENTFD, &io)) {
		tvm_close(&t);
		return -errno;
	}
	if (pthread_create(&th, NULL, spin_vcpu, &s)) {
		tvm_close(&t);
		return -EAGAIN;
	}
	for (i = -200; i < n; i++) {
		if (!i)
			a = now();
		if (read(io.fd, &v, 8) != 8)
			break;
		__atomic_fetch_add(guest_word(&t, 0), 1, __ATOMIC_RELEASE);
	}
	b = now();
	stop_vcpu(&s, th);
	close(io.fd);
	tvm_close(&t);
	if (i < n || s.ret)
		return -EIO;
	return (b - a) * 1e9 / n;
}

/*
 * irqfd signal -> guest interrupt handler: this thread signals an irqfd
 * (MSI to the halted vCPU) and spins until the guest's handler has
 * counted it at GUEST_DATA + 64.  ns per round.
 */
static double sample_irqfd(const char *dev, int n)
{
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[1];
	} routes = { .r.nr = 1 };
	struct kvm_irqfd irqfd = { .gsi = 24 };
	struct spinner s = { 0 };
	uint64_t one = 1;
	struct tvm t;
	pthread_t th;
	double a = 0, b, end;
	uint32_t want;
	int i, r;

	r = bench_vm(&t, dev);
	if (r)
		return r;
	s.t = &t;
	routes.e[0].gsi = 24;
	routes.e[0].type = KVM_IRQ_ROUTING_MSI;
	routes.e[0].u.msi.address_lo = 0xfee00000;
	routes.e[0].u.msi.data = 0x40;
	tvm_load(&t, guest_irq_count, guest_irq_count_end - guest_irq_count);
	tvm_set_gate(&t, 0x40, GUEST_CODE + (guest_irq_count_handler - guest_irq_count));
	irqfd.fd = eventfd(0, EFD_CLOEXEC);
	if (ioctl(t.vm, KVM_CREATE_IRQCHIP, 0) ||
	    ioctl(t.vm, KVM_SET_GSI_ROUTING, &routes) || tvm_add_vcpu(&t) < 0 ||
	    tvm_lapic_on(&t, 0) || irqfd.fd < 0 || ioctl(t.vm, KVM_IRQFD, &irqfd)) {
		tvm_close(&t);
		return -errno;
	}
	if (pthread_create(&th, NULL, spin_vcpu, &s)) {
		tvm_close(&t);
		return -EAGAIN;
	}
	usleep(100 * 1000);			/* halted in the guest */
	for (i = -200; i < n; i++) {
		if (!i)
			a = now();
		want = guest_load(&t, 64) + 1;
		if (write(irqfd.fd, &one, 8) != 8)
			break;
		end = now() + 5;
		while (guest_load(&t, 64) != want && now() < end)
			;
		if (guest_load(&t, 64) != want)
			break;
	}
	b = now();
	stop_vcpu(&s, th);
	close(irqfd.fd);
	tvm_close(&t);
	if (i < n || s.ret)
		return -EIO;
	return (b - a) * 1e9 / n;
}

/*
 * Microseconds per dirty-bitmap sync of a 1 GiB slot, as QEMU's migration
 * does it each iteration (KVM_GET_DIRTY_LOG then KVM_CLEAR_DIRTY_LOG of
 * the whole slot, manual protect), or a negative errno.
 */
static double sample_dirty_sync(const char *dev, int n)
{
	const uint64_t size = 1ULL << 30, bytes = (size >> 12) / 8;
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .args = { 3 },
	};
	struct kvm_userspace_memory_region r = {
		.slot = 1, .flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 1ULL << 32, .memory_size = size,
	};
	struct kvm_clear_dirty_log clear = {
		.slot = 1, .num_pages = size >> 12,
	};
	struct kvm_dirty_log get = { .slot = 1 };
	double a, b = -EIO;
	uint64_t *bitmap;
	struct tvm t;
	void *mem;
	int fd, i;

	bitmap = malloc(bytes);
	fd = memfd_create("bench", MFD_CLOEXEC);
	if (!bitmap || fd < 0 || ftruncate(fd, size))
		goto out;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED || bench_vm(&t, dev))
		goto out;
	r.userspace_addr = (uintptr_t)mem;
	get.dirty_bitmap = bitmap;
	clear.dirty_bitmap = bitmap;
	if (ioctl(t.vm, KVM_ENABLE_CAP, &cap) ||
	    ioctl(t.vm, KVM_SET_USER_MEMORY_REGION, &r))
		goto close;
	a = now();
	for (i = 0; i < n; i++)
		if (ioctl(t.vm, KVM_GET_DIRTY_LOG, &get) ||
		    ioctl(t.vm, KVM_CLEAR_DIRTY_LOG, &clear))
			goto close;
	b = (now() - a) * 1e6 / n;
close:
	tvm_close(&t);
	munmap(mem, size);
out:
	if (fd >= 0)
		close(fd);
	free(bitmap);
	return b;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct helper_stats {
	long switches;
	long rss_kb;
	long anon_kb;
};

/* Context switches (wakeups) of one helper's threads, and its RSS. */
static void helper_stats(const char *pid, void *arg)
{
	struct helper_stats *st = arg;
	char path[1024], line[256];
	struct dirent *e;
	DIR *task;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			st->rss_kb += atol(line + 6);
		else if (!strncmp(line, "RssAnon:", 8))
			st->anon_kb += atol(line + 8);
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	task = opendir(path);
	while (task && (e = readdir(task))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%s/status", pid, e->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (strstr(line, "ctxt_switches:"))
				st->switches += atol(strchr(line, ':') + 1);
		if (f)
			fclose(f);
	}
	if (task)
		closedir(task);
}

static void helpers(long *switches, long *rss_kb)
{
	struct helper_stats st = { 0 };

	tvm_list_helpers(helper_stats, &st);
	*switches = st.switches;
	*rss_kb = st.rss_kb;
}

static long helpers_anon_kb(void)
{
	struct helper_stats st = { 0 };

	tvm_list_helpers(helper_stats, &st);
	return st.anon_kb;
}

/*
 * Host memory a VM costs besides its guest RAM (which the test's own
 * memory holds: anonymous for /dev/kvm, shared memory for /dev/kvm-soc):
 * the kernel's slab, vmalloc (the loop transport's windows among it: a
 * DPU's BAR is the card's memory; and the kernel stacks, which Debian's
 * kernels map there, CONFIG_VMAP_STACK) and page tables (the helper's
 * mapping of guest memory, KVM's own), in kB.  KernelStack is printed
 * after them, not added: it is part of VmallocUsed.
 */
static const char * const host_kinds[] = {
	"Slab", "VmallocUsed", "PageTables", "SecPageTables", "KernelStack",
};

#define HOST_KIND_STACKS	4

#define NR_HOST_KINDS	ARRAY_SIZE(host_kinds)

static void host_kernel_kb(long *v)
{
	unsigned int i;

	for (i = 0; i < NR_HOST_KINDS; i++)
		v[i] = tvm_meminfo(host_kinds[i]);
}

/* Per idle VM: kernel memory and the helpers' anonymous memory, kB. */
static double idle_cost;

/*
 * "idle <vms> <device> <dir>": once measured, the VMs are held until
 * <dir>/idle-release exists, <dir>/idle-up saying they are there (the
 * ivshmem topology's host machine measures itself meanwhile).
 */
static const char *idle_hold_dir;

static void idle_hold(void)
{
	char up[1024], release[1024];
	FILE *f;
	int i;

	snprintf(up, sizeof(up), "%s/idle-up", idle_hold_dir);
	snprintf(release, sizeof(release), "%s/idle-release", idle_hold_dir);
	f = fopen(up, "w");
	if (!f) {
		perror(up);
		return;
	}
	fclose(f);
	for (i = 0; i < 1800 && access(release, F_OK); i++)
		sleep(1);
	if (i == 1800)
		printf("idle: no %s after 1800 s: VMs closed\n", release);
}

/*
 * "host-mem": one line of what idle_vms() counts, for a machine whose VMs
 * another machine creates: "host-mem <kind> <kB> ... helper-anon <kB>
 * helpers <n>".
 */
static void host_mem(void)
{
	long v[NR_HOST_KINDS];
	unsigned int k;

	host_kernel_kb(v);
	printf("host-mem");
	for (k = 0; k < NR_HOST_KINDS; k++)
		printf(" %s %ld", host_kinds[k], v[k]);
	printf(" helper-anon %ld helpers %d\n", helpers_anon_kb(),
	       tvm_list_helpers(NULL, NULL));
}

static void idle_vms(const char *dev, int n)
{
	struct tvm *t = calloc(n, sizeof(*t));
	long avail0, avail1, sw0, sw1, rss, anon0, anon1;
	long k0[NR_HOST_KINDS], k1[NR_HOST_KINDS];
	double per, sum = 0;
	unsigned int k;
	int i, made = 0;

	anon0 = helpers_anon_kb();
	host_kernel_kb(k0);
	avail0 = tvm_meminfo("MemAvailable");
	for (i = 0; i < n; i++, made++) {
		if (tvm_open(&t[i], dev) || tvm_create_vm(&t[i], NULL) ||
		    tvm_add_vcpu(&t[i]) < 0)
			break;
	}
	sleep(1);
	avail1 = tvm_meminfo("MemAvailable");
	host_kernel_kb(k1);
	anon1 = helpers_anon_kb();
	helpers(&sw0, &rss);
	sleep(10);
	helpers(&sw1, &rss);
	printf("idle %-12s %d VMs x 1 vCPU: %.0f kB host memory per VM (MemAvailable)",
	       dev, made, made ? (double)(avail0 - avail1) / made : 0);
	if (strstr(dev, "kvm-soc"))
		printf(", helper RSS %.0f kB per VM, %.2f helper wakeups/s per VM",
		       (double)rss / (made + 1), (double)(sw1 - sw0) / 10 / made);
	printf("\n");
	/* Without guest RAM: the kernel's kinds, then the helpers' own. */
	printf("idle %-12s besides guest RAM, kB per VM:", dev);
	for (k = 0; k < NR_HOST_KINDS; k++) {
		if (k0[k] < 0 || k1[k] < 0)
			continue;
		per = made ? (double)(k1[k] - k0[k]) / made : 0;
		if (k == HOST_KIND_STACKS) {
			printf(" (%s %+.0f of it)", host_kinds[k], per);
			continue;
		}
		sum += per;
		printf(" %s %+.0f", host_kinds[k], per);
	}
	per = made ? (double)(anon1 - anon0) / made : 0;
	sum += per;
	printf(" helper-anon %+.0f = %.0f\n", per, sum);
	idle_cost = sum;
	fflush(stdout);
	if (idle_hold_dir)
		idle_hold();
	for (i = 0; i < made + (made < n); i++)
		tvm_close(&t[i]);
	free(t);
}

/* @n idle VMs on each device, and what kvm-soc's cost beyond KVM's. */
static void idle_pair(int n)
{
	double kvm_cost;

	idle_vms("/dev/kvm", n);
	kvm_cost = idle_cost;
	idle_vms("/dev/kvm-soc", n);
	printf("idle VM: kvm-soc costs %.0f kB of host memory beyond KVM's own (goal <= 256 KiB)\n",
	       idle_cost - kvm_cost);
	fflush(stdout);
}

/*
 * The host frees a VM after its file is closed: wait up to 10 s for its
 * helpers and KVM's VMs to be back at @helpers0 and @vms0, then a moment
 * more; *@h and *@vms are what there are.
 */
static void wait_host_freed(int helpers0, int vms0, int *h, int *vms)
{
	int i;

	for (i = 0; i < 100; i++) {
		*h = tvm_list_helpers(NULL, NULL);
		*vms = tvm_count_kvm_vms();
		if (*h <= helpers0 && *vms <= vms0)
			break;
		usleep(100000);
	}
	sleep(1);
}

/* ---- scale: many VMs taking exits at once ------------------------------ */

struct scale_vcpu {
	struct tvm *t;
	int i;
	int n;
	int done;	/* exits taken (atomic) */
	int err;
};

static void *scale_run(void *arg)
{
	struct scale_vcpu *v = arg;
	int k, r;

	for (k = 0; k < v->n && !v->err; k++) {
		r = tvm_run(v->t, v->i);
		if (!r && v->t->run[v->i]->exit_reason == KVM_EXIT_SHUTDOWN) {
			v->err = 2;	/* see scale() */
		} else if (r || v->t->run[v->i]->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "kvm-soc-bench: %s vCPU %d: KVM_RUN %d, exit %u after %d\n",
				v->t->path, v->i, r, v->t->run[v->i]->exit_reason, k);
			v->err = 1;
		} else {
			__atomic_store_n(&v->done, k + 1, __ATOMIC_RELEASE);
		}
	}
	__atomic_store_n(&v->n, -1, __ATOMIC_RELEASE);		/* finished */
	return NULL;
}

/*
 * Wait for @nr threads; say on stderr every 30 s how far they are, and
 * give up (-ETIMEDOUT, naming the stragglers) when none moved for 120 s.
 */
static int scale_wait(struct scale_vcpu *v, int nr, const char *dev)
{
	double start = now(), moved = start, said = start, t;
	long total, last = 0;
	int i, left;

	for (;;) {
		total = 0;
		left = 0;
		for (i = 0; i < nr; i++) {
			total += __atomic_load_n(&v[i].done, __ATOMIC_ACQUIRE);
			left += __atomic_load_n(&v[i].n, __ATOMIC_ACQUIRE) >= 0;
		}
		if (!left)
			return 0;
		t = now();
		if (total != last)
			moved = t;
		last = total;
		if (t - moved > 120) {
			for (i = 0; i < nr; i++)
				if (__atomic_load_n(&v[i].n, __ATOMIC_ACQUIRE) >= 0)
					fprintf(stderr, "%s: VM %d vCPU %d stuck after %d\n",
						dev, i / 2, v[i].i, v[i].done);
			return -ETIMEDOUT;
		}
		if (t - said > 30) {
			fprintf(stderr, "kvm-soc-bench: %s: %ld exits in %.0f s, %d threads left\n",
				dev, total, t - start, left);
			said = t;
		}
		usleep(10000);
	}
}

/*
 * @nvms VMs x 2 vCPUs in the PIO loop, each vCPU in a thread of its own
 * taking @n exits, all at once: exits per second of the whole machine, or
 * a negative errno.
 */
static double scale_sample(const char *dev, int nvms, int n)
{
	struct tvm *t = calloc(nvms, sizeof(*t));
	struct scale_vcpu *v = calloc(2 * nvms, sizeof(*v));
	pthread_t *th = calloc(2 * nvms, sizeof(*th));
	int i, e, made = 0, started = 0;
	double a, b, r = -EIO;

	if (!t || !v || !th)
		goto out;
	for (i = 0; i < nvms; i++) {
		e = tvm_open(&t[i], dev);
		e = e ? e : tvm_create_vm(&t[i], NULL);
		if (e) {
			fprintf(stderr, "kvm-soc-bench: %s VM %d: %s\n", dev, i, strerror(-e));
			tvm_close(&t[i]);
			goto out;
		}
		made++;
		tvm_load(&t[i], guest_pio_loop, guest_pio_loop_end - guest_pio_loop);
		e = tvm_add_vcpu(&t[i]);
		e = e < 0 ? e : tvm_add_vcpu(&t[i]);
		if (e < 0) {
			fprintf(stderr, "kvm-soc-bench: %s VM %d vCPU: %s\n", dev, i, strerror(-e));
			goto out;
		}
		v[2 * i] = (struct scale_vcpu){ .t = &t[i], .i = 0, .n = n };
		v[2 * i + 1] = (struct scale_vcpu){ .t = &t[i], .i = 1, .n = n };
	}
	a = now();
	for (i = 0; i < 2 * nvms; i++, started++)
		if (pthread_create(&th[i], NULL, scale_run, &v[i]))
			break;
	if (scale_wait(v, started, dev)) {
		/* Threads left in KVM_RUN: nothing can be freed safely. */
		fflush(stdout);
		_exit(1);
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	b = now();
	r = started == 2 * nvms ? 2.0 * nvms * n / (b - a) : -EAGAIN;
	for (i = 0; i < started; i++)
		if (v[i].err)
			r = v[i].err == 2 ? -EPIPE : -EIO;
out:
	for (i = 0; i < made; i++)
		tvm_close(&t[i]);
	free(t);
	free(v);
	free(th);
	return r;
}

/*
 * Many VMs at once, kvm-soc against native, then what is left on the
 * host once they are all gone (helpers, VMs in KVM's debugfs, memory).
 */
static int scale(int nvms, int n)
{
	long avail0 = tvm_meminfo("MemAvailable"), avail1;
	int helpers0 = tvm_list_helpers(NULL, NULL), vms0 = tvm_count_kvm_vms(), h, vms;
	double kvm[3], soc[3];
	int r, retries = 0;

	printf("\n%d VMs x 2 vCPUs taking %d PIO exits each, all at once, median of 3\n"
	       "interleaved samples\n", nvms, n);
	for (r = 0; r < 3; r++) {
		kvm[r] = scale_sample("/dev/kvm", nvms, n);
		soc[r] = scale_sample("/dev/kvm-soc", nvms, n);
		printf("# sample %d: kvm %.0f, kvm-soc %.0f exits/s\n", r + 1, kvm[r], soc[r]);
		fflush(stdout);
		/*
		 * A vCPU of this loop guest triple-faulting, on either device,
		 * is the rig's nested SVM under 128 vCPUs (it happens on
		 * /dev/kvm as well): say so and take the sample again, thrice
		 * at most.
		 */
		if ((kvm[r] == -EPIPE || soc[r] == -EPIPE) && retries++ < 3) {
			printf("# sample %d: a vCPU triple-faulted (SHUTDOWN) on %s: again\n",
			       r + 1, kvm[r] == -EPIPE ? "/dev/kvm" : "/dev/kvm-soc");
			r--;
			continue;
		}
		if (kvm[r] < 0 || soc[r] < 0) {
			fprintf(stderr, "kvm-soc-bench: %d VMs at once failed (%.0f, %.0f)\n",
				nvms, kvm[r], soc[r]);
			return -1;
		}
	}
	qsort(kvm, 3, sizeof(double), cmp);
	qsort(soc, 3, sizeof(double), cmp);
	printf("%-36s %9s %11s %7s\n", "", "kvm", "kvm-soc", "ratio");
	printf("%-36s %9.0f %11.0f %7.2f\n", "exits per second, all VMs", kvm[1], soc[1],
	       soc[1] / kvm[1]);
	wait_host_freed(helpers0, vms0, &h, &vms);
	avail1 = tvm_meminfo("MemAvailable");
	printf("after: host helpers %d (before %d), KVM VMs in debugfs %d (before %d),\n"
	       "MemAvailable %+ld kB against before\n", h, helpers0, vms, vms0, avail1 - avail0);
	fflush(stdout);
	return 0;
}

/* ---- churn: many VMs created and destroyed ----------------------------- */

/*
 * Milliseconds per VM for @n VMs made and closed one after the other: each
 * opens @dev, gets its memory and a vCPU, takes one exit and is closed.
 * A negative errno on failure.
 */
static double churn_batch(const char *dev, const struct kind *k, int n)
{
	double a = now();
	struct tvm t;
	int i, r;

	for (i = 0; i < n; i++) {
		r = bench_vm(&t, dev);
		if (!r) {
			tvm_load(&t, k->code, k->len);
			r = tvm_add_vcpu(&t) ? -errno : tvm_run(&t, 0);
			if (!r && t.run[0]->exit_reason != k->exit)
				r = -EIO;
		}
		tvm_close(&t);
		if (r) {
			fprintf(stderr, "kvm-soc-bench: %s, VM %d of a batch: %s\n", dev, i,
				strerror(-r));
			return r;
		}
	}
	return (now() - a) * 1e3 / n;
}

/*
 * Free memory in kB counting the pages the per-CPU lists hold (MemFree
 * does not: after heavy allocation they may hold megabytes).
 */
static long free_with_pcp(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];
	long v, pages = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, " nr_free_pages %ld", &v) == 1 ||
		    sscanf(line, " count: %ld", &v) == 1)
			pages += v;
	if (f)
		fclose(f);
	return f ? pages * (getpagesize() / 1024) : -1;
}

/* Open descriptors, not counting the directory's own. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d);
	if (d)
		closedir(d);
	return n;
}

/*
 * @nvms VMs created and destroyed on each device, in interleaved batches
 * of 100; then what the host holds against before: helpers, KVM's VMs,
 * this process's descriptors and the kernel's memory counters; then the
 * same again after @nvms more on /dev/kvm-soc alone, twice.
 */
static int churn(const struct kind *k, int nvms)
{
	static const char * const keys[] = {
		"MemAvailable", "MemFree", "Cached", "AnonPages", "Shmem", "Slab", "SUnreclaim",
		"VmallocUsed", "PageTables", "KernelStack", "Percpu",
	};
	int batches = (nvms + 99) / 100, b, i, h, vms, pass, fds0 = count_fds();
	int helpers0 = tvm_list_helpers(NULL, NULL), vms0 = tvm_count_kvm_vms();
	long m0[ARRAY_SIZE(keys)], free0 = free_with_pcp(), free1;
	double kvm[batches > 0 ? batches : 1], soc[batches > 0 ? batches : 1];
	double t0 = now();

	if (nvms < 1) {
		fprintf(stderr, "kvm-soc-bench: %d VMs to create and destroy?\n", nvms);
		return -1;
	}

	for (i = 0; i < (int)ARRAY_SIZE(keys); i++)
		m0[i] = tvm_meminfo(keys[i]);
	printf("\n%d VMs created and destroyed on each device (a vCPU and one exit each), in\n"
	       "interleaved batches of 100; median ms per VM\n", batches * 100);
	for (b = 0; b < batches; b++) {
		kvm[b] = churn_batch("/dev/kvm", k, 100);
		soc[b] = churn_batch("/dev/kvm-soc", k, 100);
		if (kvm[b] < 0 || soc[b] < 0)
			return -1;
		if (now() - t0 > 30 || b == batches - 1) {
			fprintf(stderr, "# created and destroyed: %d of %d VMs on each device\n",
				(b + 1) * 100, batches * 100);
			t0 = now();
		}
	}
	qsort(kvm, batches, sizeof(double), cmp);
	qsort(soc, batches, sizeof(double), cmp);
	printf("%-36s %9s %11s %7s\n", "", "kvm", "kvm-soc", "ratio");
	printf("%-36s %9.2f %11.2f %7.2f\n", "ms to create, run and destroy a VM",
	       kvm[batches / 2], soc[batches / 2], soc[batches / 2] / kvm[batches / 2]);
	for (pass = 0; pass < 3; pass++) {
		wait_host_freed(helpers0, vms0, &h, &vms);
		free1 = free_with_pcp();
		printf("after %s: host helpers %d (at the start %d), KVM VMs in debugfs %d\n"
		       "(%d), this process's descriptors %d (%d); kB against %s: free with\n"
		       "the per-CPU lists %+ld,",
		       pass ? "as many more on /dev/kvm-soc alone" : "them",
		       h, helpers0, vms, vms0, count_fds(), fds0,
		       pass ? "the line above" : "the start", free1 - free0);
		free0 = free1;
		for (i = 0; i < (int)ARRAY_SIZE(keys); i++) {
			long v = tvm_meminfo(keys[i]);

			printf(" %s %+ld", keys[i], v - m0[i]);
			m0[i] = v;
		}
		printf("\n");
		fflush(stdout);
		if (h > helpers0 || vms > vms0 || pass == 2)
			break;
		/*
		 * Caches warm up over the first pass: growth that repeats over
		 * two more on kvm-soc alone would be kvm-soc's to keep.
		 */
		for (b = 0; b < batches; b++)
			if (churn_batch("/dev/kvm-soc", k, 100) < 0)
				return -1;
	}
	return h <= helpers0 && vms <= vms0 ? 0 : -1;
}

/* One device's medians, for tools/ivshmem-bench.sh: "<name>: <ns>" lines. */
static int bench_only(const char *dev, const struct kind *kinds, unsigned int nk,
		      double (*const ev_fn[2])(const char *, int),
		      const char * const ev_name[2], int n, int nev)
{
	double v[ROUNDS];
	unsigned int k, r;

	printf("only %s: medians of %d samples (%d exits, %d events each), ns\n",
	       dev, ROUNDS, n, nev);
	for (k = 0; k < nk + 2; k++) {
		for (r = 0; r < ROUNDS; r++) {
			v[r] = k < nk ? sample(dev, &kinds[k], n) : ev_fn[k - nk](dev, nev);
			if (v[r] < 0) {
				fprintf(stderr, "kvm-soc-bench: %s on %s failed\n",
					k < nk ? kinds[k].name : ev_name[k - nk], dev);
				return 1;
			}
		}
		qsort(v, ROUNDS, sizeof(double), cmp);
		printf("%s: %.0f\n", k < nk ? kinds[k].name : ev_name[k - nk],
		       v[ROUNDS / 2]);
	}
	return 0;
}

/* ---- poll windows ----------------------------------------------------- */

static const char * const poll_knobs[2][2] = {
	{ "/sys/module/soc_kvm/parameters/poll_ns",
	  "/sys/module/soc_kvm/parameters/poll_max_ns" },
	{ "/sys/module/host_kvm/parameters/poll_ns",
	  "/sys/module/host_kvm/parameters/poll_max_ns" },
};

/* The SoC side's poll_ns and poll_max_ns: 0, or -1 if they are not here. */
static int poll_params(unsigned int *start, unsigned int *max)
{
	FILE *a = fopen(poll_knobs[0][0], "r"), *b = fopen(poll_knobs[0][1], "r");
	int r = a && b && fscanf(a, "%u", start) == 1 && fscanf(b, "%u", max) == 1 ? 0 : -1;

	if (a)
		fclose(a);
	if (b)
		fclose(b);
	return r;
}

/* Set both sides' windows (the host's where host-kvm is here): 0 or -1. */
static int poll_set(unsigned int start, unsigned int max)
{
	const unsigned int v[2] = { start, max };
	int side, i, r = 0;
	FILE *f;

	for (side = 0; side < 2; side++) {
		for (i = 0; i < 2; i++) {
			f = fopen(poll_knobs[side][i], "w");
			if (!f) {
				if (side)	/* host-kvm on another machine */
					continue;
				perror(poll_knobs[side][i]);
				return -1;
			}
			if (fprintf(f, "%u\n", v[i]) < 0)
				r = -1;
			if (fclose(f))
				r = -1;
		}
	}
	if (r)
		fprintf(stderr, "kvm-soc-bench: cannot set poll_ns %u poll_max_ns %u\n",
			start, max);
	return r;
}

/* One table of exit round trips, kvm-soc against native: 0 or -1. */
static int exit_table(const struct kind *kinds, unsigned int nk, int n,
		      const char *what)
{
	double kvm[ROUNDS], soc[ROUNDS];
	unsigned int k, r;

	printf("exit round trip, %s, %d exits per sample, median of %d interleaved samples\n",
	       what, n, ROUNDS);
	printf("%-11s %12s %14s %8s\n", "exit", "kvm ns", "kvm-soc ns", "ratio");
	for (k = 0; k < nk; k++) {
		for (r = 0; r < ROUNDS; r++) {
			kvm[r] = sample("/dev/kvm", &kinds[k], n);
			soc[r] = sample("/dev/kvm-soc", &kinds[k], n);
			if (kvm[r] < 0 || soc[r] < 0) {
				fprintf(stderr, "kvm-soc-bench: %s failed (%.0f, %.0f)\n",
					kinds[k].name, kvm[r], soc[r]);
				return -1;
			}
		}
		qsort(kvm, ROUNDS, sizeof(double), cmp);
		qsort(soc, ROUNDS, sizeof(double), cmp);
		printf("%-11s %12.0f %14.0f %8.2f\n", kinds[k].name, kvm[ROUNDS / 2],
		       soc[ROUNDS / 2], soc[ROUNDS / 2] / kvm[ROUNDS / 2]);
	}
	printf("\n");
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5000;
	int nvms = argc > 2 ? atoi(argv[2]) : 64;
	int nev = argc > 3 ? atoi(argv[3]) : 2000;
	struct sigaction sa = { .sa_handler = on_kick };
	const struct kind kinds[] = {
		{ "PIO out", guest_pio_loop, guest_pio_loop_end - guest_pio_loop, KVM_EXIT_IO },
		{ "PIO in", guest_pio_in_loop, guest_pio_in_loop_end - guest_pio_in_loop,
		  KVM_EXIT_IO },
		{ "MMIO write", guest_mmio_w_loop, guest_mmio_w_loop_end - guest_mmio_w_loop,
		  KVM_EXIT_MMIO },
		{ "MMIO read", guest_mmio_r_loop, guest_mmio_r_loop_end - guest_mmio_r_loop,
		  KVM_EXIT_MMIO },
	};
	double (*const ev_fn[2])(const char *, int) = { sample_ioeventfd, sample_irqfd };
	static const char * const ev_name[2] = {
		"ioeventfd kick -> SoC thread woken", "irqfd signal -> guest handler",
	};
	const char *only = getenv("KSOC_BENCH_ONLY");
	double kvm[ROUNDS], soc[ROUNDS];
	unsigned int k, r, start, max;
	int rc;

	sigaction(SIGUSR1, &sa, NULL);

	/*
	 * kvm-soc-bench idle [vms [device [hold-dir]]]: only the idle VMs'
	 * part, on both devices or on the one named.
	 */
	if (argc > 1 && !strcmp(argv[1], "idle")) {
		if (argc > 3) {
			idle_hold_dir = argc > 4 ? argv[4] : NULL;
			idle_vms(argv[3], atoi(argv[2]));
		} else {
			idle_pair(argc > 2 ? atoi(argv[2]) : 64);
		}
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "host-mem")) {
		host_mem();
		return 0;
	}
	/* kvm-soc-bench churn [vms]: VMs created and destroyed. */
	if (argc > 1 && !strcmp(argv[1], "churn"))
		return churn(&kinds[0], argc > 2 ? atoi(argv[2]) : 1000) ? 1 : 0;
	/* kvm-soc-bench scale [vms] [exits]: that part alone. */
	if (argc > 1 && !strcmp(argv[1], "scale"))
		return scale(argc > 2 ? atoi(argv[2]) : 64, argc > 3 ? atoi(argv[3]) : 100) ? 1 : 0;
	if (only)
		return bench_only(only, kinds, ARRAY_SIZE(kinds), ev_fn, ev_name, n, nev);

	if (exit_table(kinds, ARRAY_SIZE(kinds), n, "modules' defaults"))
		return 1;
	if (poll_params(&start, &max) == 0) {
		char what[96];

		/*
		 * A window that starts shorter than a round trip is what a
		 * slower machine gives the defaults: start at a third.
		 */
		snprintf(what, sizeof(what), "poll_ns %u (a third), poll_max_ns %u",
			 start / 3, max);
		rc = poll_set(start / 3, max) ?:
		     exit_table(kinds, ARRAY_SIZE(kinds), n, what);
		if (!rc)
			rc = poll_set(0, max) ?:
			     exit_table(kinds, ARRAY_SIZE(kinds), n,
					"polling off (poll_ns 0): interrupt mode");
		if (poll_set(start, max) || rc)
			return 1;
	} else {
		printf("(soc_kvm's poll_ns not here: one table only)\n");
	}
	printf("\nevent latency, %d events per sample, median of %d interleaved samples\n",
	       nev, ROUNDS);
	printf("%-36s %9s %11s %7s\n", "event", "kvm ns", "kvm-soc ns", "ratio");
	for (k = 0; k < 2 && nev > 0; k++) {
		for (r = 0; r < ROUNDS; r++) {
			kvm[r] = ev_fn[k]("/dev/kvm", nev);
			soc[r] = ev_fn[k]("/dev/kvm-soc", nev);
			if (kvm[r] < 0 || soc[r] < 0) {
				fprintf(stderr, "kvm-soc-bench: %s failed (%.0f, %.0f)\n",
					ev_name[k], kvm[r], soc[r]);
				return 1;
			}
		}
		qsort(kvm, ROUNDS, sizeof(double), cmp);
		qsort(soc, ROUNDS, sizeof(double), cmp);
		printf("%-36s %9.0f %11.0f %7.2f\n", ev_name[k], kvm[ROUNDS / 2],
		       soc[ROUNDS / 2], soc[ROUNDS / 2] / kvm[ROUNDS / 2]);
	}
	printf("\ndirty bitmap sync (GET + CLEAR, manual protect), 1 GiB slot, %d syncs per\n"
	       "sample, median of %d interleaved samples\n", 20, ROUNDS);
	printf("%-36s %9s %11s %7s\n", "", "kvm us", "kvm-soc us", "ratio");
	for (r = 0; r < ROUNDS; r++) {
		kvm[r] = sample_dirty_sync("/dev/kvm", 20);
		soc[r] = sample_dirty_sync("/dev/kvm-soc", 20);
		if (kvm[r] < 0 || soc[r] < 0) {
			fprintf(stderr, "kvm-soc-bench: dirty sync failed (%.0f, %.0f)\n",
				kvm[r], soc[r]);
			return 1;
		}
	}
	qsort(kvm, ROUNDS, sizeof(double), cmp);
	qsort(soc, ROUNDS, sizeof(double), cmp);
	printf("%-36s %9.0f %11.0f %7.2f\n", "per GiB of guest RAM per sync",
	       kvm[ROUNDS / 2], soc[ROUNDS / 2], soc[ROUNDS / 2] / kvm[ROUNDS / 2]);
	fflush(stdout);
	if (nvms > 0)
		idle_pair(nvms);
	return 0;
}
