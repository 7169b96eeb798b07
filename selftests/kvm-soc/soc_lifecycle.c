// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc lifetimes: a SoC process killed in the middle of KVM_RUN, many
 * VMs at once, a thousand create/run/destroy cycles against host memory,
 * kvm-soc memory objects, and the transport unloaded under open VMs.
 * Host resources are checked where the host shows them: its helper
 * processes (kvm-soc-vmctx), KVM's per-VM debugfs directories, meminfo.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/kvm_soc.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

#define DEV "/dev/kvm-soc"

static int count_helpers(void)
{
	return tvm_list_helpers(NULL, NULL);
}

/*
 * Wait up to @ms for the host to come back to @helpers and @vms (any
 * number of VMs for @vms < 0).  With @helpers < 0 the host is another
 * machine, which counts its own (the ivshmem topology's host_serve.sh).
 */
static int wait_baseline(int helpers, int vms, int ms)
{
	struct timespec ts = { .tv_nsec = 20 * 1000000L };
	int i;

	if (helpers < 0)
		return 0;
	for (i = 0; i < ms / 20; i++) {
		if (count_helpers() == helpers &&
		    (vms < 0 || tvm_count_kvm_vms() == vms))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

FIXTURE(soc) {
	int helpers;
	int vms;
};

FIXTURE_SETUP(soc)
{
	if (access(DEV, F_OK))
		SKIP(return, DEV " does not exist");
	/* No KVM here: the host is another machine, its helpers are there. */
	if (access("/dev/kvm", F_OK)) {
		self->helpers = -1;
		self->vms = -1;
		return;
	}
	/*
	 * No other kvm-soc VM runs during the suite: the baseline is the
	 * control helper alone.  An earlier test's helper may still be
	 * exiting.  KVM VMs not of kvm-soc may exist (the rig holds two,
	 * selftests/rig/kvm_hold.c): the VM baseline is the count once the
	 * helpers are back and it holds still for 100 ms.
	 */
	wait_baseline(1, -1, 10000);
	self->helpers = count_helpers();
	do {
		self->vms = tvm_count_kvm_vms();
		usleep(100 * 1000);
	} while (tvm_count_kvm_vms() != self->vms);
	ASSERT_LE(1, self->helpers) TH_LOG("no control helper running");
}

FIXTURE_TEARDOWN(soc)
{
}

TEST_F(soc, kill9_mid_kvm_run_frees_everything)
{
	int pipefd[2], status;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	if (!pid) {
		struct tvm t;
		int r = tvm_open(&t, DEV);

		if (!r)
			r = tvm_create_vm(&t, NULL);
		if (r) {
			fprintf(stderr, "# VM process: create: %s\n", strerror(-r));
			_exit(1);
		}
		TVM_LOAD(&t, spin);
		r = tvm_add_vcpu(&t);
		if (r) {
			fprintf(stderr, "# VM process: vCPU: %s\n", strerror(-r));
			_exit(2);
		}
		c = 'r';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(3);
		for (;;)
			tvm_run(&t, 0);
	}
	/* A child that fails before it writes ends the read with EOF. */
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1) {
		waitpid(pid, &status, 0);
		ASSERT_TRUE(0)
			TH_LOG("the VM process failed to set up: exit %d (1 open/create, 2 vCPU)",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	usleep(300 * 1000);		/* well inside KVM_RUN by now */
	EXPECT_EQ(self->helpers + 1, count_helpers());
	EXPECT_EQ(self->vms + 1, tvm_count_kvm_vms());
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000))
		TH_LOG("helpers %d (baseline %d), KVM VMs %d (baseline %d)",
		       count_helpers(), self->helpers, tvm_count_kvm_vms(), self->vms);
}

struct vm_thread {
	int n;
	int errors;
};

static void *vm_worker(void *arg)
{
	struct vm_thread *w = arg;
	struct tvm t;
	uint32_t v;
	int i, r;

	r = tvm_open(&t, DEV);
	if (!r)
		r = tvm_create_vm(&t, NULL);
	if (r) {
		fprintf(stderr, "# VM thread: create: %s\n", strerror(-r));
		w->errors++;
		return NULL;
	}
	TVM_LOAD(&t, pio_loop);
	r = tvm_add_vcpu(&t);
	if (r) {
		fprintf(stderr, "# VM thread: vcpu: %s\n", strerror(-r));
		w->errors++;
		goto out;
	}
	for (i = 1; i <= w->n; i++) {
		r = tvm_run(&t, 0);
		if (r || t.run[0]->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "# VM thread: run %d: %s, exit %u\n", i,
				strerror(-r), t.run[0]->exit_reason);
			w->errors++;
			break;
		}
		memcpy(&v, tvm_io(&t, 0), 4);
		if (v != (uint32_t)i)
			w->errors++;
	}
out:
	tvm_close(&t);
	return NULL;
}

TEST_F_TIMEOUT(soc, eight_vms_at_once, 120)
{
	struct vm_thread w[8];
	pthread_t th[8];
	int i;

	for (i = 0; i < 8; i++) {
		w[i] = (struct vm_thread){ .n = 100 };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, vm_worker, &w[i]));
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, w[i].errors) TH_LOG("vm %d", i);
	}
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
}

TEST_F_TIMEOUT(soc, thousand_cycles_back_to_baseline, 600)
{
	long free0, slab0, free1, slab1, sunr0, sunr1, vm0, vm1;
	struct vm_thread w = { .n = 2 };
	int i, n = tvm_focused() ? 300 : 1000;
	struct timespec a, b;

	if (getenv("KSOC_CYCLES"))
		n = atoi(getenv("KSOC_CYCLES"));
	if (n < 1000)
		TH_LOG("%d cycles (focused set: make check-full runs 1000)", n);
	/* Warm up caches (slabs, the helper binary) before the baseline. */
	for (i = 0; i < 5; i++)
		vm_worker(&w);
	ASSERT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
	free0 = tvm_meminfo("MemAvailable");
	vm0 = tvm_meminfo("VmallocUsed");
	slab0 = tvm_meminfo("Slab");
	sunr0 = tvm_meminfo("SUnreclaim");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n && !w.errors; i++)
		vm_worker(&w);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ASSERT_EQ(0, w.errors) TH_LOG("cycle %d failed", i);
	ASSERT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
	free1 = tvm_meminfo("MemAvailable");
	vm1 = tvm_meminfo("VmallocUsed");
	slab1 = tvm_meminfo("Slab");
	sunr1 = tvm_meminfo("SUnreclaim");
	TH_LOG("%d create/run/destroy cycles in %.1f s", n,
	       (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	TH_LOG("MemAvailable %ld -> %ld kB (%+ld), Slab %ld -> %ld kB (%+ld),",
	       free0, free1, free1 - free0, slab0, slab1, slab1 - slab0);
	TH_LOG("SUnreclaim %ld -> %ld kB (%+ld), VmallocUsed %ld -> %ld kB (%+ld)",
	       sunr0, sunr1, sunr1 - sunr0, vm0, vm1, vm1 - vm0);
	/*
	 * Kernel memory is what a leak would show in: unreclaimable slab and
	 * vmalloc (windows).  MemAvailable moves with page cache; it only has
	 * to stay within 64 kB a cycle.
	 */
	EXPECT_LT(sunr1 - sunr0, 2048);
	EXPECT_LT(vm1 - vm0, 1024);
	EXPECT_LT(free0 - free1, 64 * n);
}

/* Guest memory from a kvm-soc memory object, seen by two mappings. */
TEST_F(soc, memory_object_is_guest_memory)
{
	struct kvm_soc_create_memory req = {
		.argsz = sizeof(req), .size = GUEST_MEM_SIZE,
	};
	struct tvm t;
	uint8_t *m1, *m2;
	uint32_t v;
	int fd;

	ASSERT_EQ(0, tvm_open(&t, DEV));
	fd = ioctl(t.dev, KVM_SOC_CREATE_MEMORY, &req);
	ASSERT_LE(0, fd) TH_LOG("KVM_SOC_CREATE_MEMORY: %s", strerror(errno));
	m1 = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	m2 = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m1);
	ASSERT_NE(MAP_FAILED, m2);
	ASSERT_EQ(0, tvm_create_vm(&t, m1));
	TVM_LOAD(&t, mem);
	*(uint32_t *)(m2 + 0x9000) = 0xc0ffee11;	/* through the other mapping */
	ASSERT_EQ(0, tvm_add_vcpu(&t));
	ASSERT_EQ(0, tvm_run(&t, 0));
	ASSERT_EQ(KVM_EXIT_IO, t.run[0]->exit_reason);
	EXPECT_EQ(0x5a5a5a5a, *(uint32_t *)(m2 + GUEST_DATA + 4092));
	ASSERT_EQ(0, tvm_run(&t, 0));
	memcpy(&v, tvm_io(&t, 0), 4);
	EXPECT_EQ(0xc0ffee11, v);
	t.mem = NULL;
	tvm_close(&t);
	munmap(m1, GUEST_MEM_SIZE);
	munmap(m2, GUEST_MEM_SIZE);
	close(fd);
}

/* A field of /proc/self/smaps (kB) for the mapping that starts at @addr. */
static long smaps_kb(const void *addr, const char *key)
{
	char line[256], start[32];
	bool in = false;
	long kb = -1;
	FILE *f;

	snprintf(start, sizeof(start), "%lx-", (unsigned long)addr);
	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ')) {
			in = !strncmp(line, start, strlen(start));
			continue;
		}
		if (in && !strncmp(line, key, strlen(key))) {
			kb = strtol(line + strlen(key), NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* Names of KVM's per-VM debugfs directories, space separated. */
static void kvm_vm_dirs(char *buf, size_t len)
{
	struct dirent *d;
	DIR *dir;

	buf[0] = 0;
	dir = tvm_kvm_debugfs();
	if (!dir)
		return;
	while ((d = readdir(dir)))
		if (tvm_kvm_vm_dir(d->d_name) && strlen(buf) + strlen(d->d_name) + 2 < len) {
			strcat(buf, d->d_name);
			strcat(buf, " ");
		}
	closedir(dir);
}

/* A KVM per-VM statistic of the VM whose directory is not in @before. */
static long new_vm_stat(const char *before, const char *stat)
{
	char now[4096], name[64], path[256];
	const char *p, *e;
	long v = -1;
	FILE *f;

	kvm_vm_dirs(now, sizeof(now));
	for (p = now; (e = strchr(p, ' ')); p = e + 1) {
		snprintf(name, sizeof(name), "%.*s ", (int)(e - p), p);
		if (strstr(before, name))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%.*s/%s",
			 (int)(e - p), p, stat);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%ld", &v) != 1)
				v = -1;
			fclose(f);
		}
		break;
	}
	return v;
}

/*
 * Guest RAM gets huge pages, as a VMM's anonymous RAM does with THP: a
 * memory object (a huge=within_size tmpfs file) and anonymous memory the
 * loop moves into one are both PMD-mapped in the SoC process, and the
 * host's KVM maps the 2 MiB slot with one 2 MiB page.
 */
TEST_F(soc, guest_ram_gets_huge_pages)
{
	struct kvm_soc_create_memory req = {
		.argsz = sizeof(req), .size = GUEST_MEM_SIZE,
	};
	char before[4096], nx[8] = "N";
	int fd, pass;
	uint8_t *m;
	FILE *f;

	f = fopen("/sys/module/kvm/parameters/nx_huge_pages", "r");
	if (f) {
		if (!fgets(nx, sizeof(nx), f))
			nx[0] = 'N';
		fclose(f);
	}
	if (nx[0] == 'Y')
		SKIP(return, "KVM splits executable huge pages (nx_huge_pages=Y)");
	for (pass = 0; pass < 2; pass++) {
		struct tvm t;

		ASSERT_EQ(0, tvm_open(&t, DEV));
		fd = -1;
		if (pass == 0) {
			fd = ioctl(t.dev, KVM_SOC_CREATE_MEMORY, &req);
			ASSERT_LE(0, fd) TH_LOG("KVM_SOC_CREATE_MEMORY: %s", strerror(errno));
			m = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, 0);
		} else {
			m = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		}
		ASSERT_NE(MAP_FAILED, m);
		EXPECT_EQ(0, (uintptr_t)m % GUEST_MEM_SIZE)
			TH_LOG("pass %d: mapping at %p is not 2 MiB aligned", pass, m);
		kvm_vm_dirs(before, sizeof(before));
		ASSERT_EQ(0, tvm_create_vm(&t, m));
		TVM_LOAD(&t, mem);
		ASSERT_EQ(0, tvm_add_vcpu(&t));
		ASSERT_EQ(0, tvm_run(&t, 0));
		ASSERT_EQ(KVM_EXIT_IO, t.run[0]->exit_reason);
		/* Memory objects are shmem; moved anonymous memory is too. */
		EXPECT_EQ(2048, smaps_kb(m, "ShmemPmdMapped:"))
			TH_LOG("pass %d (%s): not PMD-mapped in the SoC process", pass,
			       pass ? "anonymous" : "memory object");
		EXPECT_EQ(1, new_vm_stat(before, "pages_2m"))
			TH_LOG("pass %d (%s): host KVM pages_2m %ld, pages_4k %ld", pass,
			       pass ? "anonymous" : "memory object",
			       new_vm_stat(before, "pages_2m"),
			       new_vm_stat(before, "pages_4k"));
		t.mem = NULL;
		tvm_close(&t);
		munmap(m, GUEST_MEM_SIZE);
		if (fd >= 0)
			close(fd);
	}
}

TEST_F(soc, memory_object_bad_arguments_are_einval)
{
	struct kvm_soc_create_memory req = { .argsz = sizeof(req), .size = 4096 };
	int dev = open(DEV, O_RDWR);

	ASSERT_LE(0, dev);
	req.size = 4095;
	EXPECT_EQ(-1, ioctl(dev, KVM_SOC_CREATE_MEMORY, &req));
	EXPECT_EQ(EINVAL, errno);
	req.size = 4096;
	req.flags = 1;
	EXPECT_EQ(-1, ioctl(dev, KVM_SOC_CREATE_MEMORY, &req));
	EXPECT_EQ(EINVAL, errno);
	req.flags = 0;
	req.argsz = 8;
	EXPECT_EQ(-1, ioctl(dev, KVM_SOC_CREATE_MEMORY, &req));
	EXPECT_EQ(EINVAL, errno);
	req.argsz = sizeof(req);
	req.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(dev, KVM_SOC_CREATE_MEMORY, &req));
	EXPECT_EQ(EINVAL, errno);
	close(dev);
}

/*
 * A shared mapping of a file that is neither shmem nor hugetlbfs (here a
 * file on a ramfs mounted for the test) is no guest memory on the loop,
 * where the host would map it into its root helper: EINVAL.  memfd
 * mappings are taken.
 */
TEST_F(soc, memory_slot_over_a_file_not_shmem_is_einval)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = 0x100000,
	};
	char dir[] = "/tmp/ksoc-ramfs-XXXXXX";
	char path[64];
	struct tvm t;
	void *m;
	int fd;

	ASSERT_NE(NULL, mkdtemp(dir));
	if (mount("ksoc-ramfs", dir, "ramfs", 0, NULL)) {
		rmdir(dir);
		SKIP(return, "cannot mount a ramfs: %s", strerror(errno));
	}
	ASSERT_EQ(0, tvm_open(&t, DEV));
	t.vm = ioctl(t.dev, KVM_CREATE_VM, 0);
	ASSERT_LE(0, t.vm);
	snprintf(path, sizeof(path), "%s/slot", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, r.memory_size));
	m = mmap(NULL, r.memory_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	r.userspace_addr = (uintptr_t)m;
	EXPECT_EQ(-1, ioctl(t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
	munmap(m, r.memory_size);
	close(fd);
	umount(dir);
	rmdir(dir);

	fd = memfd_create("guest-ram", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, r.memory_size));
	m = mmap(NULL, r.memory_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	r.userspace_addr = (uintptr_t)m;
	EXPECT_EQ(0, ioctl(t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	r.memory_size = 0;
	EXPECT_EQ(0, ioctl(t.vm, KVM_SET_USER_MEMORY_REGION, &r));
	munmap(m, 0x100000);
	close(fd);
	tvm_close(&t);
}

/*
 * The transport's fault-injection directory: the loop's, or the ivshmem
 * SoC side's (same "windows" and "poke" files), or NULL.
 */
static const char *poke_dir(void)
{
	static const char * const dirs[] = {
		"/sys/kernel/debug/kvm-soc-loop",
		"/sys/kernel/debug/kvm-soc-ivshmem-soc",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/poke", dirs[i]);
		if (!access(path, W_OK))
			return dirs[i];
	}
	return NULL;
}

/* Window ids the transport has now (debugfs), as a bit set. */
static int loop_windows(uint64_t *set)
{
	unsigned long long size;
	unsigned int id, slot;
	char path[160];
	FILE *f;

	if (!poke_dir())
		return -1;
	snprintf(path, sizeof(path), "%s/windows", poke_dir());
	f = fopen(path, "r");
	*set = 0;
	if (!f)
		return -1;
	while (fscanf(f, "%u %llu %u", &id, &size, &slot) == 3)
		if (id < 64)
			*set |= 1ULL << id;
	fclose(f);
	return 0;
}

/*
 * Size in bytes of window @id and of its API slots (debugfs; the slot
 * size as the window's header says), or 0 when there is none.
 */
static unsigned long long loop_window_info(unsigned int id, unsigned int *slot)
{
	unsigned long long size, found = 0;
	unsigned int wid, sl;
	char path[160];
	FILE *f;

	if (slot)
		*slot = 0;
	if (!poke_dir())
		return 0;
	snprintf(path, sizeof(path), "%s/windows", poke_dir());
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fscanf(f, "%u %llu %u", &wid, &size, &sl) == 3) {
		if (wid != id)
			continue;
		found = size;
		if (slot)
			*slot = sl;
	}
	fclose(f);
	return found;
}

static unsigned long long loop_window_size(unsigned int id)
{
	return loop_window_info(id, NULL);
}

static unsigned int loop_window_slot(unsigned int id)
{
	unsigned int slot;

	loop_window_info(id, &slot);
	return slot;
}

/*
 * A VM window as host-kvm lays it out: a 4 KiB header, its API slots (4
 * for the VM's ops, and without a window per vCPU one per possible vCPU,
 * 32), then without a window per vCPU 32 IOREQ slots.  The slots are of
 * 16 KiB, or of 4 KiB where ioctls too large for one go by the bulk path
 * (KVM_SOC_F_BULK_ARGS).  Which layout a VM has shows in its size.
 */
#define VM_API_SLOTS	4
#define MAX_VCPUS	32

static unsigned long long page_up(unsigned long long n)
{
	return (n + 4095) & ~4095ULL;
}

static bool vm_window_has_vcpus(unsigned int id)
{
	unsigned int slot;
	unsigned long long size = loop_window_info(id, &slot);

	return size > 4096 + (VM_API_SLOTS + MAX_VCPUS) * (unsigned long long)slot;
}

static int loop_poke(unsigned int id, unsigned long off, uint32_t val)
{
	char path[160];
	int ret;
	FILE *f;

	if (!poke_dir())
		return -1;
	snprintf(path, sizeof(path), "%s/poke", poke_dir());
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fprintf(f, "%u %lu %x\n", id, off, val) > 0 ? 0 : -1;
	return fclose(f) ? -1 : ret;
}

/*
 * Open the device and create a VM in @t; returns the loop transport's
 * window id of that VM, -ENOENT without the loop's debugfs, or -errno.
 */
static int create_vm_window(struct tvm *t)
{
	uint64_t before, after, fresh;
	int id, ret;

	tvm_count_kvm_vms();			/* mounts debugfs if needed */
	if (loop_windows(&before))
		return -ENOENT;
	ret = tvm_open(t, DEV);
	if (!ret)
		ret = tvm_create_vm(t, NULL);
	if (ret)
		return ret;
	if (loop_windows(&after))
		return -EIO;
	fresh = after & ~before;
	for (id = 1; id < 64; id++)
		if (fresh & (1ULL << id))
			return id;
	return -EIO;
}

/*
 * Post a request whose length is impossible (req_len far past the slot,
 * then state REQ) into API slot 0 of window @win, one of A's, as a
 * hostile SoC would: A answers EIO from then on, B runs on; both closed.
 */
static void bad_request_fails_only_a(struct __test_metadata *_metadata,
				     struct tvm *a, struct tvm *b, int win,
				     int helpers, int vms)
{
	ASSERT_EQ(0, loop_poke(win, 4096 + 24, 0xffffffff));
	ASSERT_EQ(0, loop_poke(win, 4096 + 0, KVM_SOC_API_REQ));
	usleep(200 * 1000);
	EXPECT_EQ(-EIO, tvm_run(a, 0));
	EXPECT_EQ(-1, ioctl(a->vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	EXPECT_EQ(EIO, errno);

	ASSERT_EQ(0, tvm_run(b, 0));
	EXPECT_EQ(KVM_EXIT_IO, b->run[0]->exit_reason);
	tvm_close(a);
	tvm_close(b);
	EXPECT_EQ(0, wait_baseline(helpers, vms, 10000));
}

/*
 * A peer that breaks the protocol on one VM's window (here: a request
 * whose length is impossible, injected into the wire) fails that VM with
 * EIO from then on; the host stays up and another VM runs on.
 */
TEST_F(soc, hostile_window_fails_only_that_vm)
{
	struct tvm a, b;
	int id = create_vm_window(&a);

	if (id == -ENOENT)
		SKIP(return, "no transport fault injection (debugfs poke)");
	ASSERT_LT(0, id);
	ASSERT_EQ(0, tvm_open(&b, DEV));
	ASSERT_EQ(0, tvm_create_vm(&b, NULL));
	TVM_LOAD(&a, pio);
	TVM_LOAD(&b, pio);
	ASSERT_EQ(0, tvm_add_vcpu(&a));
	ASSERT_EQ(0, tvm_add_vcpu(&b));

	/* VM API slot 0 of A. */
	bad_request_fails_only_a(_metadata, &a, &b, id, self->helpers, self->vms);
}

/* Wait up to 10 s for the transport's windows to be @want again. */
static int wait_windows(uint64_t want)
{
	uint64_t now = 0;
	int i;

	for (i = 0; i < 500; i++) {
		if (!loop_windows(&now) && now == want)
			return 0;
		usleep(20 * 1000);
	}
	return -1;
}

/*
 * Windows sized by need (KVM_SOC_F_VCPU_WINDOWS): a VM's window holds its
 * VM-level slots only, each vCPU brings a window of one API slot and one
 * IOREQ slot when it is created, each vCPU runs through its own, and all
 * of them go with the VM.
 */
TEST_F(soc, vcpu_windows_grow_with_vcpus)
{
	uint64_t before, with_vm, after = 0, fresh;
	unsigned long long size;
	unsigned int slot;
	struct tvm a;
	int id, i, n = 0;

	if (loop_windows(&before))
		SKIP(return, "no transport debugfs: cannot list windows");
	id = create_vm_window(&a);
	ASSERT_LT(0, id);
	if (vm_window_has_vcpus(id))
		SKIP(tvm_close(&a); return,
		     "the SoC refused KVM_SOC_F_VCPU_WINDOWS (features_off)");
	size = loop_window_size(id);
	EXPECT_GE(128 * 1024, size) TH_LOG("VM window of %llu bytes", size);
	slot = loop_window_slot(id);
	ASSERT_EQ(0, loop_windows(&with_vm));
	TVM_LOAD(&a, pio);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(i, tvm_add_vcpu(&a));
	ASSERT_EQ(0, loop_windows(&after));
	fresh = after & ~with_vm;
	EXPECT_EQ(0, with_vm & ~after) TH_LOG("a window went away");
	for (i = 1; i < 64; i++) {
		if (!(fresh & (1ULL << i)))
			continue;
		n++;
		/* A header page, one API slot, one IOREQ slot: no more. */
		size = loop_window_size(i);
		EXPECT_EQ(slot, loop_window_slot(i));
		EXPECT_EQ(4096 + page_up(slot) + page_up(sizeof(struct kvm_soc_ioreq)),
			  size) TH_LOG("vCPU window of %llu bytes, slots of %u", size, slot);
	}
	EXPECT_EQ(3, n) TH_LOG("%d windows for 3 vCPUs", n);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, tvm_run(&a, i));
		EXPECT_EQ(KVM_EXIT_IO, a.run[i]->exit_reason);
	}
	tvm_close(&a);
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
	EXPECT_EQ(0, wait_windows(before)) TH_LOG("windows left after the VM");
}

/*
 * A request with an impossible length in a vCPU's own window (as a
 * hostile SoC writes it) fails that vCPU's VM, as one in the VM window
 * does; the host stays up and another VM runs on.
 */
TEST_F(soc, hostile_vcpu_window_fails_only_that_vm)
{
	uint64_t with_vm, after;
	struct tvm a, b;
	int id = create_vm_window(&a), w, vw = 0;

	if (id == -ENOENT)
		SKIP(return, "no transport fault injection (debugfs poke)");
	ASSERT_LT(0, id);
	if (vm_window_has_vcpus(id))
		SKIP(tvm_close(&a); return,
		     "the SoC refused KVM_SOC_F_VCPU_WINDOWS (features_off)");
	ASSERT_EQ(0, tvm_open(&b, DEV));
	ASSERT_EQ(0, tvm_create_vm(&b, NULL));
	TVM_LOAD(&a, pio);
	TVM_LOAD(&b, pio);
	ASSERT_EQ(0, tvm_add_vcpu(&b));
	ASSERT_EQ(0, loop_windows(&with_vm));
	ASSERT_EQ(0, tvm_add_vcpu(&a));
	ASSERT_EQ(0, loop_windows(&after));
	for (w = 1; w < 64; w++)
		if ((after & ~with_vm) & (1ULL << w))
			vw = w;
	ASSERT_LT(0, vw);

	/* The vCPU window's API slot. */
	bad_request_fails_only_a(_metadata, &a, &b, vw, self->helpers, self->vms);
}

static void note_pid(const char *pid, void *arg)
{
	int p = atoi(pid), *max = arg;

	if (p > *max)
		*max = p;
}

struct runner {
	struct tvm *t;
	int ret;
};

static void *run_once(void *arg)
{
	struct runner *r = arg;

	r->ret = tvm_run(r->t, 0);
	return NULL;
}

/*
 * The other direction: the host side (here: the wire) posts an exit the
 * SoC never asked for (a wrong sequence number) while KVM_RUN waits.  The
 * SoC copies the slot out, refuses it, and KVM_RUN fails with EIO; the
 * VM is dead from then on and still closes cleanly.
 */
/* Offsets in the vCPU's IOREQ slot (struct ioreq_at says where it is). */
#define IOREQ0	0
/* Its exit union: after the slot header and 64 bytes of kvm_run head. */
#define EXIT0	(IOREQ0 + 64 + 64)

struct poke {
	unsigned long off;
	uint32_t val;
};

/* Write @n words at @base + their offsets into window @id, as a hostile peer. */
static int poke_all(int id, unsigned long base, const struct poke *p, int n)
{
	int i, r;

	for (i = 0; i < n; i++) {
		r = loop_poke(id, base + p[i].off, p[i].val);
		if (r)
			return r;
	}
	return 0;
}

/*
 * Where vCPU 0's IOREQ slot is: in its own window (made when the vCPU
 * was, 4 KiB header and one API slot before it), or in the VM's.
 */
struct ioreq_at {
	int win;
	unsigned long off;
};

/*
 * A VM whose one vCPU is halted in the host's KVM, in KVM_RUN on thread
 * @th.  Returns the VM's window id, or -ENOENT without the loop's debugfs;
 * @at: where the vCPU's IOREQ slot is.
 */
static int halted_vm(struct __test_metadata *_metadata, struct tvm *a,
		     struct runner *r, pthread_t *th, struct ioreq_at *at)
{
	uint64_t before = 0, after = 0;
	int id = create_vm_window(a), w;

	if (id == -ENOENT)
		return id;
	EXPECT_LT(0, id);
	if (id <= 0)
		return id;
	EXPECT_EQ(0, ioctl(a->vm, KVM_CREATE_IRQCHIP, 0));
	TVM_LOAD(a, halt);
	EXPECT_EQ(0, loop_windows(&before));
	EXPECT_EQ(0, tvm_add_vcpu(a));
	EXPECT_EQ(0, loop_windows(&after));
	at->win = id;
	at->off = 4096 + (VM_API_SLOTS + MAX_VCPUS) * loop_window_slot(id);
	for (w = 1; w < 64; w++) {
		if ((after & ~before) & (1ULL << w)) {
			at->win = w;
			at->off = 4096 + ((loop_window_slot(w) + 4095) & ~4095UL);
		}
	}
	EXPECT_EQ(at->win == id, vm_window_has_vcpus(id))
		TH_LOG("a vCPU window where the VM's has slots, or neither");
	*r = (struct runner){ .t = a };
	EXPECT_EQ(0, pthread_create(th, NULL, run_once, r));
	usleep(300 * 1000);			/* halted in the host's KVM */
	return id;
}

/*
 * While the guest halts in the host's KVM, write @n words into IOREQ slot
 * 0 as a hostile host would, then mark it READY: the SoC must refuse the
 * exit (KVM_RUN -EIO), fail the VM and not pass the exit to userspace.
 */
static void hostile_exit(struct __test_metadata *_metadata, const struct poke *p,
			 int n, int helpers, int vms)
{
	struct ioreq_at at;
	struct runner r;
	struct tvm a;
	pthread_t th;
	int id = halted_vm(_metadata, &a, &r, &th, &at);

	if (id == -ENOENT)
		SKIP(return, "no transport fault injection (debugfs poke)");
	ASSERT_LT(0, id);
	ASSERT_EQ(0, poke_all(at.win, at.off, p, n));
	ASSERT_EQ(0, loop_poke(at.win, at.off + IOREQ0, 1));	/* state READY */
	pthread_join(th, NULL);
	EXPECT_EQ(-EIO, r.ret) TH_LOG("KVM_RUN handed on a hostile exit");
	EXPECT_EQ(-EIO, tvm_run(&a, 0));
	tvm_close(&a);
	EXPECT_EQ(0, wait_baseline(helpers, vms, 10000));
}

/* An exit with the wrong sequence number. */
TEST_F(soc, hostile_exit_fails_kvm_run)
{
	const struct poke p[] = { { IOREQ0 + 8, 0x99 } };

	hostile_exit(_metadata, p, ARRAY_SIZE(p), self->helpers, self->vms);
}

/*
 * A well-formed exit in every respect but one field userspace uses as a
 * length (KVM never hands out an MMIO exit longer than 8 bytes, or more
 * data words than its arrays hold).  Seq 2: the vCPU's start exit was 1.
 */
#define EXIT_WITH(reason, field, value) {					\
	{ IOREQ0 + 4, 0 }, { IOREQ0 + 8, 2 }, { IOREQ0 + 12, 0 },		\
	{ IOREQ0 + 16, reason }, { IOREQ0 + 20, 0 }, { IOREQ0 + 24, 0 },	\
	{ EXIT0 + (field), value } }

TEST_F(soc, hostile_mmio_length_fails_kvm_run)
{
	/* mmio.len (offset 16 in the union) of 9; KVM's is 1..8. */
	const struct poke p[] = EXIT_WITH(KVM_EXIT_MMIO, 16, 9);

	hostile_exit(_metadata, p, ARRAY_SIZE(p), self->helpers, self->vms);
}

TEST_F(soc, hostile_internal_error_ndata_fails_kvm_run)
{
	/* internal.ndata (offset 4) beyond its 16 data words. */
	const struct poke p[] = EXIT_WITH(KVM_EXIT_INTERNAL_ERROR, 4, 17);

	hostile_exit(_metadata, p, ARRAY_SIZE(p), self->helpers, self->vms);
}

TEST_F(soc, hostile_system_event_ndata_fails_kvm_run)
{
	/* system_event.ndata (offset 4) beyond its 16 data words. */
	const struct poke p[] = EXIT_WITH(KVM_EXIT_SYSTEM_EVENT, 4, 1000);

	hostile_exit(_metadata, p, ARRAY_SIZE(p), self->helpers, self->vms);
}

/* Post a VCPU_KICK for vCPU 0 into shared API slot 3, as a hostile SoC. */
static int poke_kick(int id, uint32_t req_id, uint32_t flags, uint32_t arg2)
{
	const unsigned long s3 = 4096 + 3 * loop_window_slot(id);
	const struct poke p[] = {
		{ s3 + 4, 8 },			/* op: KVM_SOC_OP_VCPU_KICK */
		{ s3 + 8, req_id }, { s3 + 12, 0 },
		{ s3 + 16, 0 },			/* target: vCPU 0 */
		{ s3 + 20, flags },
		{ s3 + 24, 0 }, { s3 + 28, 0 },	/* lengths */
		{ s3 + 32, 0 }, { s3 + 36, 0 },	/* arg */
		{ s3 + 40, 0 }, { s3 + 44, 0 },	/* result: the last answer's */
		{ s3 + 48, arg2 }, { s3 + 52, 0 },
		{ s3 + 56, 0 }, { s3 + 60, 0 },	/* reserved */
		{ s3, 1 },			/* state: REQ */
	};

	return poke_all(id, 0, p, ARRAY_SIZE(p));
}

/*
 * The host refuses a request whose unused header fields are not zero, and
 * does not act on it: a kick with flags or arg2 set leaves the vCPU in
 * KVM_RUN; the same kick with both clear ends it with EINTR.
 */
TEST_F(soc, nonzero_unused_request_fields_are_refused)
{
	struct ioreq_at at;
	struct runner r;
	struct tvm a;
	pthread_t th;
	int id = halted_vm(_metadata, &a, &r, &th, &at);

	if (id == -ENOENT)
		SKIP(return, "no transport fault injection (debugfs poke)");
	ASSERT_LT(0, id);
	ASSERT_EQ(0, poke_kick(id, 0x1001, 1, 0));
	usleep(500 * 1000);
	EXPECT_EQ(EBUSY, pthread_tryjoin_np(th, NULL)) TH_LOG("a kick with flags set was obeyed");
	ASSERT_EQ(0, poke_kick(id, 0x1002, 0, 7));
	usleep(500 * 1000);
	EXPECT_EQ(EBUSY, pthread_tryjoin_np(th, NULL)) TH_LOG("a kick with arg2 set was obeyed");

	/* The same request, well-formed: the host kicks, KVM_RUN ends. */
	ASSERT_EQ(0, poke_kick(id, 0x1003, 0, 0));
	pthread_join(th, NULL);
	EXPECT_EQ(-EINTR, r.ret);
	tvm_close(&a);
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
}

/*
 * Where host-kvm puts VM window @id's event area: after the header page,
 * its API slots, its IOREQ slots (see vm_window_has_vcpus()) and the
 * posted-write ring (256 entries), each area 4 KiB aligned.
 */
static unsigned long event_area(unsigned int id)
{
	unsigned long ioreq = (sizeof(struct kvm_soc_ioreq) + 63) & ~63UL;
	unsigned long slot = loop_window_slot(id);
	unsigned long off = 4096 + VM_API_SLOTS * slot;

	if (vm_window_has_vcpus(id))
		off = 4096 + (VM_API_SLOTS + MAX_VCPUS) * slot + MAX_VCPUS * ioreq;

	off = (off + 4095) & ~4095UL;
	off += 256 * sizeof(struct kvm_soc_posted_write);
	return (off + 4095) & ~4095UL;
}

/*
 * Counts on the wire reach an ioeventfd exactly (here the wire says 5),
 * and a host counter that jumps by more than the protocol allows fails
 * that VM: nothing of the jump is delivered, later calls get EIO, and the
 * VM still closes cleanly.
 */
TEST_F(soc, hostile_event_count_fails_vm)
{
	struct kvm_ioeventfd io = {
		.addr = 0x90, .len = 1, .flags = KVM_IOEVENTFD_FLAG_PIO,
	};
	unsigned long ev, host_count0;
	struct tvm a;
	uint64_t v = 0;
	int efd, id = create_vm_window(&a);

	if (id == -ENOENT)
		SKIP(return, "no transport fault injection (debugfs poke)");
	ASSERT_LT(0, id);
	ev = event_area(id);
	host_count0 = ev + 128 + 256 * 8;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, efd);
	io.fd = efd;
	ASSERT_EQ(0, ioctl(a.vm, KVM_IOEVENTFD, &io));	/* channel 0 */

	ASSERT_EQ(0, loop_poke(id, host_count0, 5));
	ASSERT_EQ(0, loop_poke(id, ev + 64, 0x1001));		/* host_seq */
	usleep(200 * 1000);
	ASSERT_EQ(8, read(efd, &v, 8));
	EXPECT_EQ(5, v);

	ASSERT_EQ(0, loop_poke(id, host_count0 + 4, 0x10));	/* +2^36 */
	ASSERT_EQ(0, loop_poke(id, ev + 64, 0x1002));
	usleep(200 * 1000);
	EXPECT_EQ(-1, read(efd, &v, 8));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, ioctl(a.vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, ioctl(a.vm, KVM_IOEVENTFD, &io));
	EXPECT_EQ(EIO, errno);
	tvm_close(&a);
	close(efd);
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
}

/*
 * The host's helper for one VM is killed (kill -9, the OOM killer): that
 * VM fails with EIO at once, nobody on the SoC hangs, the rest runs on,
 * and closing the VM frees everything.
 */
TEST_F(soc, killed_vm_helper_fails_only_that_vm)
{
	struct tvm a, b;
	int newest = 0;

	ASSERT_EQ(0, tvm_open(&a, DEV));
	ASSERT_EQ(0, tvm_create_vm(&a, NULL));
	tvm_list_helpers(note_pid, &newest);	/* A's helper is the newest */
	ASSERT_LT(0, newest);
	ASSERT_EQ(0, tvm_open(&b, DEV));
	ASSERT_EQ(0, tvm_create_vm(&b, NULL));
	TVM_LOAD(&a, spin);
	TVM_LOAD(&b, pio);
	ASSERT_EQ(0, tvm_add_vcpu(&a));
	ASSERT_EQ(0, tvm_add_vcpu(&b));
	ASSERT_EQ(0, tvm_run(&a, 0));		/* A's vCPU works */

	ASSERT_EQ(0, kill(newest, SIGKILL));
	usleep(300 * 1000);
	EXPECT_EQ(-EIO, tvm_run(&a, 0));
	ASSERT_EQ(0, tvm_run(&b, 0));
	EXPECT_EQ(KVM_EXIT_IO, b.run[0]->exit_reason);
	tvm_close(&a);
	tvm_close(&b);
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000))
		TH_LOG("helpers %d (baseline %d), KVM VMs %d (baseline %d)",
		       count_helpers(), self->helpers, tvm_count_kvm_vms(), self->vms);
}

/*
 * The transport goes away under open VMs (here: its module is unloaded,
 * as when the link to the host dies): every VM answers EIO, nothing
 * leaks, nothing hangs, and a new transport works.
 */
TEST_F_TIMEOUT(soc, transport_unload_under_open_vms_is_eio, 120)
{
	const char *top = getenv("KSOC_TOP");
	char cmd[512];
	struct tvm t;
	struct kvm_regs regs;

	if (!top)
		SKIP(return, "KSOC_TOP not set: cannot reload kvm-soc-loop");
	ASSERT_EQ(0, tvm_open(&t, DEV));
	ASSERT_EQ(0, tvm_create_vm(&t, NULL));
	TVM_LOAD(&t, pio);
	ASSERT_EQ(0, tvm_add_vcpu(&t));
	ASSERT_EQ(0, tvm_run(&t, 0));

	ASSERT_EQ(0, system("rmmod kvm_soc_loop"));
	EXPECT_EQ(-EIO, tvm_run(&t, 0));
	EXPECT_EQ(-1, ioctl(t.vcpu[0], KVM_GET_REGS, &regs));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, ioctl(t.vm, KVM_CREATE_VCPU, 1));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, ioctl(t.dev, KVM_CREATE_VM, 0));
	EXPECT_EQ(ENXIO, errno);
	/* Host side: the control helper and the VM are gone. */
	EXPECT_EQ(0, wait_baseline(0, self->vms, 10000));
	tvm_close(&t);

	snprintf(cmd, sizeof(cmd), "insmod %s/build/k612/kvm-soc-loop.ko", top);
	ASSERT_EQ(0, system(cmd));
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000))
		TH_LOG("helpers %d (baseline %d), KVM VMs %d (baseline %d)",
		       count_helpers(), self->helpers, tvm_count_kvm_vms(), self->vms);
	ASSERT_EQ(0, tvm_open(&t, DEV));
	ASSERT_EQ(0, tvm_create_vm(&t, NULL));
	TVM_LOAD(&t, pio);
	ASSERT_EQ(0, tvm_add_vcpu(&t));
	ASSERT_EQ(0, tvm_run(&t, 0));
	EXPECT_EQ(KVM_EXIT_IO, t.run[0]->exit_reason);
	tvm_close(&t);
}

/* Reload the loop transport with soc-kvm's features_off set to @off. */
static int reload_loop(const char *top, unsigned long long off)
{
	char cmd[512];
	FILE *f = fopen("/sys/kernel/debug/soc-kvm/features_off", "w");
	int i;

	if (!f)
		return -1;
	fprintf(f, "%llu\n", off);
	if (fclose(f) || system("rmmod kvm_soc_loop"))
		return -1;
	snprintf(cmd, sizeof(cmd), "insmod %s/build/k612/kvm-soc-loop.ko", top);
	if (system(cmd))
		return -1;
	for (i = 0; i < 100 && access(DEV, F_OK); i++)
		usleep(100 * 1000);
	return access(DEV, F_OK);
}

/*
 * Reload the loop transport with soc-kvm refusing the features in @off (0:
 * none, as the rest of the suite expects) and wait until the host side
 * is at its baseline again; false (the test skipped) where it cannot.
 */
static bool reload_refusing(struct __test_metadata *_metadata,
			    unsigned long long off, int helpers, int vms)
{
	const char *top = getenv("KSOC_TOP");

	if (!top)
		SKIP(return false, "KSOC_TOP not set: cannot reload kvm-soc-loop");
	if (access("/sys/kernel/debug/soc-kvm/features_off", W_OK))
		SKIP(return false, "no soc-kvm debugfs");
	ASSERT_EQ(0, reload_loop(top, off));
	EXPECT_EQ(0, wait_baseline(helpers, vms, 10000));
	return true;
}

/*
 * A SoC that does not take the posted-write ring (KVM_SOC_F_POSTED_WRITES
 * refused, as an older SoC would) carries no coalesced writes: both
 * capabilities read 0 and the zone ioctls are ENOTTY, as on a KVM without
 * them; a guest's writes to the would-be zone exit as ordinary MMIO.
 * With the feature back, the capability is KVM's again.
 */
TEST_F_TIMEOUT(soc, coalesced_refused_without_posted_ring, 120)
{
	struct kvm_coalesced_mmio_zone z = { .addr = GUEST_MMIO, .size = 4096 };
	struct tvm t;

	if (!reload_refusing(_metadata, 1ULL << KVM_SOC_F_POSTED_WRITES,
			     self->helpers, self->vms))
		return;
	if (!tvm_open(&t, DEV) && !tvm_create_vm(&t, NULL)) {
		EXPECT_EQ(0, ioctl(t.dev, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
		EXPECT_EQ(0, ioctl(t.vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
		EXPECT_EQ(0, ioctl(t.vm, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO));
		EXPECT_EQ(-1, ioctl(t.vm, KVM_REGISTER_COALESCED_MMIO, &z));
		EXPECT_EQ(ENOTTY, errno);
		EXPECT_EQ(-1, ioctl(t.vm, KVM_UNREGISTER_COALESCED_MMIO, &z));
		EXPECT_EQ(ENOTTY, errno);
		TVM_LOAD(&t, mmio);
		EXPECT_EQ(0, tvm_add_vcpu(&t));
		EXPECT_EQ(0, tvm_run(&t, 0));
		EXPECT_EQ(KVM_EXIT_MMIO, t.run[0]->exit_reason);
		tvm_close(&t);
	} else {
		EXPECT_TRUE(false) TH_LOG("no VM without the posted-write ring");
	}
	/* Back as the rest of the suite expects it. */
	reload_refusing(_metadata, 0, self->helpers, self->vms);
	ASSERT_EQ(0, tvm_open(&t, DEV));
	EXPECT_EQ(KVM_COALESCED_MMIO_PAGE_OFFSET,
		  ioctl(t.dev, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO));
	tvm_close(&t);
}

/*
 * A SoC that does not take a window per vCPU (KVM_SOC_F_VCPU_WINDOWS
 * refused, as an older SoC would) gets VM windows with every vCPU's slots
 * in them, and its vCPUs run there; with the feature back, windows are
 * sized by need again.
 */
TEST_F_TIMEOUT(soc, vcpu_windows_refused_vm_window_has_the_slots, 120)
{
	uint64_t with_vm, after;
	struct tvm t;
	int id;

	if (!reload_refusing(_metadata, 1ULL << KVM_SOC_F_VCPU_WINDOWS,
			     self->helpers, self->vms))
		return;
	id = create_vm_window(&t);
	EXPECT_LT(0, id);
	if (id > 0) {
		EXPECT_TRUE(vm_window_has_vcpus(id))
			TH_LOG("VM window of %llu bytes", loop_window_size(id));
		TVM_LOAD(&t, pio);
		EXPECT_EQ(0, loop_windows(&with_vm));
		EXPECT_EQ(0, tvm_add_vcpu(&t));
		EXPECT_EQ(1, tvm_add_vcpu(&t));
		EXPECT_EQ(0, loop_windows(&after));
		EXPECT_EQ(with_vm, after) TH_LOG("a window per vCPU regardless");
		EXPECT_EQ(0, tvm_run(&t, 1));
		EXPECT_EQ(KVM_EXIT_IO, t.run[1]->exit_reason);
		tvm_close(&t);
	}
	/* Back as the rest of the suite expects it. */
	reload_refusing(_metadata, 0, self->helpers, self->vms);
	id = create_vm_window(&t);
	EXPECT_LT(0, id);
	if (id > 0)
		EXPECT_FALSE(vm_window_has_vcpus(id));
	tvm_close(&t);
}

/*
 * A routing table of @nr MSI routes (48 bytes each: 1000 of them are
 * 48 KiB, more than an API slot of either size holds).
 */
static int set_msi_routes(int vm, unsigned int nr)
{
	struct kvm_irq_routing *r;
	unsigned int i;
	int ret;

	r = calloc(1, sizeof(*r) + nr * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	r->nr = nr;
	for (i = 0; i < nr; i++) {
		r->entries[i].gsi = 24 + i;
		r->entries[i].type = KVM_IRQ_ROUTING_MSI;
		r->entries[i].u.msi.address_lo = 0xfee00000;
		r->entries[i].u.msi.data = 0x30 + i % 200;
	}
	ret = ioctl(vm, KVM_SET_GSI_ROUTING, r) ? -errno : 0;
	free(r);
	return ret;
}

/* KVM_GET_XSAVE (4 KiB, more than a small slot's payload), set it back. */
static int xsave_round_trip(int vcpu)
{
	struct kvm_xsave a, b;

	if (ioctl(vcpu, KVM_GET_XSAVE, &a) || ioctl(vcpu, KVM_SET_XSAVE, &a) ||
	    ioctl(vcpu, KVM_GET_XSAVE, &b))
		return -errno;
	return memcmp(&a, &b, sizeof(a)) ? -EILSEQ : 0;
}

/*
 * API slots sized by what the common ops carry (KVM_SOC_F_BULK_ARGS): the
 * VM's and each vCPU's slots are 4 KiB, and an ioctl whose bytes do not
 * fit one travels through a host memory object instead: the vCPU's
 * XSAVE (4 KiB) and a VM routing table of 1000 routes (48 KiB, which did
 * not fit even the 16 KiB slots) work as on KVM.
 */
TEST_F(soc, api_slots_small_large_ioctls_by_the_bulk_path)
{
	uint64_t before, after;
	struct tvm t;
	int id, w, vw = 0;

	id = create_vm_window(&t);
	if (id == -ENOENT)
		SKIP(return, "no transport debugfs: cannot see the windows");
	ASSERT_LT(0, id);
	if (loop_window_slot(id) != 4096)
		SKIP(tvm_close(&t); return,
		     "the SoC refused KVM_SOC_F_BULK_ARGS (features_off): slots of %u",
		     loop_window_slot(id));
	EXPECT_GE(40 * 1024, loop_window_size(id))
		TH_LOG("VM window of %llu bytes", loop_window_size(id));
	ASSERT_EQ(0, ioctl(t.vm, KVM_CREATE_IRQCHIP, 0));
	TVM_LOAD(&t, pio);
	ASSERT_EQ(0, loop_windows(&before));
	ASSERT_EQ(0, tvm_add_vcpu(&t));
	ASSERT_EQ(0, loop_windows(&after));
	for (w = 1; w < 64; w++)
		if ((after & ~before) & (1ULL << w))
			vw = w;
	if (vw) {
		EXPECT_EQ(4096, loop_window_slot(vw));
		EXPECT_GE(16 * 1024, loop_window_size(vw));
	}
	EXPECT_EQ(0, xsave_round_trip(t.vcpu[0]));
	EXPECT_EQ(0, set_msi_routes(t.vm, 1000));
	/* Twice: the object made for the first is used again. */
	EXPECT_EQ(0, set_msi_routes(t.vm, 1000));
	EXPECT_EQ(0, xsave_round_trip(t.vcpu[0]));
	ASSERT_EQ(0, tvm_run(&t, 0));
	EXPECT_EQ(KVM_EXIT_IO, t.run[0]->exit_reason);
	tvm_close(&t);
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
}

/*
 * A SoC that does not take ioctl bytes by the bulk path (BULK_ARGS
 * refused, as an older SoC would) gets slots of 16 KiB: XSAVE travels in
 * them, and a routing table larger than one is E2BIG (the limit before).
 */
TEST_F_TIMEOUT(soc, bulk_args_refused_slots_of_16k, 120)
{
	struct tvm t;
	int id;

	if (!reload_refusing(_metadata, 1ULL << KVM_SOC_F_BULK_ARGS,
			     self->helpers, self->vms))
		return;
	id = create_vm_window(&t);
	EXPECT_LT(0, id);
	if (id > 0) {
		EXPECT_EQ(16384, loop_window_slot(id));
		EXPECT_EQ(0, ioctl(t.vm, KVM_CREATE_IRQCHIP, 0));
		TVM_LOAD(&t, pio);
		EXPECT_EQ(0, tvm_add_vcpu(&t));
		EXPECT_EQ(0, xsave_round_trip(t.vcpu[0]));
		EXPECT_EQ(0, set_msi_routes(t.vm, 300));
		EXPECT_EQ(-E2BIG, set_msi_routes(t.vm, 1000));
		tvm_close(&t);
	}
	reload_refusing(_metadata, 0, self->helpers, self->vms);
	id = create_vm_window(&t);
	EXPECT_LT(0, id);
	if (id > 0)
		EXPECT_EQ(4096, loop_window_slot(id));
	tvm_close(&t);
}

/*
 * Post KVM_SET_CLOCK (clock @clock_hi << 32) into VM API slot 3 of window
 * @id, as a hostile SoC: with @flags, @arg2 and, when @inline_arg, the
 * argument in the slot.
 */
static int poke_set_clock(int id, uint32_t req_id, uint32_t flags,
			  uint32_t arg2, bool inline_arg, uint32_t clock_hi)
{
	const unsigned long s3 = 4096 + 3 * loop_window_slot(id);
	const uint32_t len = inline_arg ? sizeof(struct kvm_clock_data) : 0;
	const struct poke p[] = {
		{ s3 + 64, 0 }, { s3 + 68, clock_hi },	/* clock */
		{ s3 + 72, 0 }, { s3 + 76, 0 },		/* flags, pad0 */
		{ s3 + 4, 5 },				/* op: KVM_SOC_OP_VM_IOCTL */
		{ s3 + 8, req_id }, { s3 + 12, 0 },
		{ s3 + 16, 0 }, { s3 + 20, flags },
		{ s3 + 24, len }, { s3 + 28, 0 },	/* lengths */
		{ s3 + 32, KVM_SET_CLOCK }, { s3 + 36, 0 },
		{ s3 + 40, 0 }, { s3 + 44, 0 },		/* result */
		{ s3 + 48, arg2 }, { s3 + 52, 0 },
		{ s3 + 56, 0 }, { s3 + 60, 0 },		/* reserved */
		{ s3, 1 },				/* state: REQ */
	};

	return poke_all(id, 0, p, ARRAY_SIZE(p));
}

static uint64_t vm_clock(int vm)
{
	struct kvm_clock_data c = { 0 };

	return ioctl(vm, KVM_GET_CLOCK, &c) ? 0 : c.clock;
}

/*
 * The host refuses hostile bulk requests and does not act on them: one
 * whose argument is in the slot after all (EINVAL), one that names no
 * object of the SoC's (EFAULT); the clock stays where it was.  The same
 * request in the slot without the flag sets it (the poke reaches the
 * host).  The VM works on; no kernel report (the rig checks dmesg).
 */
TEST_F(soc, hostile_bulk_requests_are_refused)
{
	const uint64_t far = 1ULL << 44;
	struct tvm t;
	int id = create_vm_window(&t);

	if (id == -ENOENT)
		SKIP(return, "no transport fault injection (debugfs poke)");
	ASSERT_LT(0, id);
	if (loop_window_slot(id) != 4096)
		SKIP(tvm_close(&t); return, "the SoC refused KVM_SOC_F_BULK_ARGS");
	EXPECT_GT(far, vm_clock(t.vm));
	ASSERT_EQ(0, poke_set_clock(id, 0x2001, KVM_SOC_API_F_BULK, 0, true, 0x1000));
	usleep(300 * 1000);
	EXPECT_GT(far, vm_clock(t.vm))
		TH_LOG("a bulk request with its bytes in the slot was obeyed");
	ASSERT_EQ(0, poke_set_clock(id, 0x2002, KVM_SOC_API_F_BULK, 0x7fff0001, false, 0));
	usleep(300 * 1000);
	ASSERT_EQ(0, poke_set_clock(id, 0x2003, KVM_SOC_API_F_BULK, 0, false, 0));
	usleep(300 * 1000);
	ASSERT_EQ(0, poke_set_clock(id, 0x2004, 2, 0, true, 0x1000));
	usleep(300 * 1000);
	EXPECT_GT(far, vm_clock(t.vm)) TH_LOG("a request with an unknown flag was obeyed");

	ASSERT_EQ(0, poke_set_clock(id, 0x2005, 0, 0, true, 0x1000));
	usleep(300 * 1000);
	EXPECT_LE(far, vm_clock(t.vm))
		TH_LOG("the well-formed request did not reach the host");
	TVM_LOAD(&t, pio);
	ASSERT_EQ(0, tvm_add_vcpu(&t));
	ASSERT_EQ(0, tvm_run(&t, 0));
	EXPECT_EQ(KVM_EXIT_IO, t.run[0]->exit_reason);
	tvm_close(&t);
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000));
}

static void *close_vm(void *arg)
{
	tvm_close(arg);
	return NULL;
}

/*
 * The control helper is killed while it waits for a VM's helper to finish
 * (that helper is stopped with SIGSTOP while the SoC destroys its VM): the
 * VM is still freed once its helper can finish, nothing stays in the
 * host's KVM, and the transport unloads without a report (the rig checks
 * dmesg).  Before, such a VM was "left behind" for good.
 */
TEST_F_TIMEOUT(soc, control_helper_killed_while_freeing_a_vm, 120)
{
	const char *top = getenv("KSOC_TOP");
	uint64_t before, after = 0;
	int ctl = 0, vmh = 0, i;
	char cmd[512];
	pthread_t closer;
	struct tvm a;

	if (!top)
		SKIP(return, "KSOC_TOP not set: cannot reload kvm-soc-loop");
	if (loop_windows(&before))
		SKIP(return, "no kvm-soc-loop debugfs: cannot count windows");
	ASSERT_EQ(1, count_helpers()) TH_LOG("expected the control helper only");
	tvm_list_helpers(note_pid, &ctl);
	ASSERT_EQ(0, tvm_open(&a, DEV));
	ASSERT_EQ(0, tvm_create_vm(&a, NULL));
	tvm_list_helpers(note_pid, &vmh);	/* A's helper is the newest */
	ASSERT_LT(ctl, vmh);
	TVM_LOAD(&a, pio);
	ASSERT_EQ(0, tvm_add_vcpu(&a));
	ASSERT_EQ(0, tvm_run(&a, 0));

	ASSERT_EQ(0, kill(vmh, SIGSTOP));
	/* The last close destroys the VM: the control helper waits for A's. */
	ASSERT_EQ(0, pthread_create(&closer, NULL, close_vm, &a));
	usleep(500 * 1000);
	ASSERT_EQ(0, kill(ctl, SIGKILL));
	/* The control window fails, so the destroy call on the SoC ends. */
	pthread_join(closer, NULL);
	ASSERT_EQ(0, kill(vmh, SIGCONT));
	EXPECT_EQ(0, wait_baseline(0, self->vms, 10000))
		TH_LOG("helpers %d (expected 0), KVM VMs %d (baseline %d)",
		       count_helpers(), tvm_count_kvm_vms(), self->vms);
	/* The VM's window (and with it its buffers) is freed too. */
	for (i = 0; i < 500; i++) {
		ASSERT_EQ(0, loop_windows(&after));
		if (after == before)
			break;
		usleep(20 * 1000);
	}
	EXPECT_EQ(before, after) TH_LOG("windows left: %#llx",
					(unsigned long long)(after & ~before));

	ASSERT_EQ(0, system("rmmod kvm_soc_loop"));
	snprintf(cmd, sizeof(cmd), "insmod %s/build/k612/kvm-soc-loop.ko", top);
	ASSERT_EQ(0, system(cmd));
	EXPECT_EQ(0, wait_baseline(self->helpers, self->vms, 10000))
		TH_LOG("helpers %d (baseline %d), KVM VMs %d (baseline %d)",
		       count_helpers(), self->helpers, tvm_count_kvm_vms(), self->vms);
}

/*
 * The host stops answering (its control helper is stopped) while 16
 * processes wait in system ioctls, one in each shared slot of the control
 * window: SIGKILL ends each of them at once, as it ends a process waiting
 * in KVM.  Once the host answers again, the slots the killed callers left
 * come back: 40 more calls in a row all succeed.
 */
TEST_F_TIMEOUT(soc, killed_callers_leave_no_slot_behind, 120)
{
	struct timespec ts = { .tv_nsec = 20 * 1000000L };
	pid_t kids[16];
	int ctl = 0, i, n, alive, status, dev;

	ASSERT_EQ(1, count_helpers()) TH_LOG("expected the control helper only");
	tvm_list_helpers(note_pid, &ctl);
	ASSERT_EQ(0, kill(ctl, SIGSTOP));
	for (i = 0; i < 16; i++) {
		kids[i] = fork();
		ASSERT_LE(0, kids[i]);
		if (!kids[i]) {
			dev = open(DEV, O_RDWR | O_CLOEXEC);
			/* Forwarded to the host's KVM: waits for the answer. */
			ioctl(dev, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
			_exit(0);
		}
	}
	usleep(500 * 1000);
	for (i = 0; i < 16; i++)
		kill(kids[i], SIGKILL);
	/* Killed callers are gone within 5 s while the host stays stopped. */
	for (n = 0, alive = 16; n < 250 && alive; n++) {
		for (i = 0, alive = 0; i < 16; i++) {
			if (kids[i] && waitpid(kids[i], &status, WNOHANG) == kids[i])
				kids[i] = 0;
			alive += kids[i] != 0;
		}
		if (alive)
			nanosleep(&ts, NULL);
	}
	EXPECT_EQ(0, alive) TH_LOG("%d killed callers still waiting for the host", alive);
	ASSERT_EQ(0, kill(ctl, SIGCONT));
	for (i = 0; i < 16; i++)
		if (kids[i])
			waitpid(kids[i], &status, 0);

	dev = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	for (i = 0; i < 40; i++)
		ASSERT_LT(0, ioctl(dev, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS))
			TH_LOG("call %d after the host came back", i);
	close(dev);
}

TEST_HARNESS_MAIN
