// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory that is the host's (KVM_SOC_F_HOST_MEMORY: a SoC that is
 * another machine, the ivshmem topology): memory objects map the host's
 * pages, a private range given to a memory slot is moved into host memory
 * with its contents, what the host cannot reach is refused, and a SoC that
 * names memory outside its objects fails that slot only.  Skipped where
 * the SoC's memory is reached by the host instead (the loop).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

#define DEV		"/dev/kvm-soc"

static int create_memory(int dev, uint64_t size)
{
	struct kvm_soc_create_memory req = {
		.argsz = sizeof(req), .size = size,
	};

	return ioctl(dev, KVM_SOC_CREATE_MEMORY, &req);
}

/* Is [addr, addr + len) mapped from a kvm-soc host memory object? */
static int host_mapped(const void *addr)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)) &&
		    strstr(line, "kvm-soc-host-memory"))
			found = 1;
	fclose(f);
	return found;
}

FIXTURE(hmem) {
	struct tvm t;
};

FIXTURE_SETUP(hmem)
{
	struct kvm_soc_info info = { .argsz = sizeof(info) };
	int ret = tvm_open(&self->t, DEV);

	if (ret == -ENOENT)
		SKIP(return, DEV " does not exist");
	ASSERT_EQ(0, ret) TH_LOG("open " DEV ": %s", strerror(-ret));
	ASSERT_EQ(0, ioctl(self->t.dev, KVM_SOC_GET_INFO, &info));
	if (!(info.features & (1ULL << KVM_SOC_F_HOST_MEMORY)))
		SKIP(return, "guest memory is the SoC's here (transport %s)",
		     info.transport);
}

FIXTURE_TEARDOWN(hmem)
{
	tvm_close(&self->t);
}

/* An object's mappings are one memory, sized as asked, shared only. */
TEST_F(hmem, object_maps_shared)
{
	const size_t sz = 4 << 20;
	uint8_t *a, *b;
	int fd;

	fd = create_memory(self->t.dev, sz);
	ASSERT_LE(0, fd) TH_LOG("KVM_SOC_CREATE_MEMORY: %s", strerror(errno));
	EXPECT_EQ((off_t)sz, lseek(fd, 0, SEEK_END));
	a = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = mmap(NULL, sz / 2, PROT_READ | PROT_WRITE, MAP_SHARED, fd, sz / 2);
	ASSERT_NE(MAP_FAILED, b);
	/* Fresh host memory reads as zeroes. */
	EXPECT_EQ(0, a[0]);
	EXPECT_EQ(0, a[sz - 1]);
	a[sz / 2 + 5] = 0x5a;
	b[sz / 2 - 1] = 0xa5;
	EXPECT_EQ(0x5a, b[5]);
	EXPECT_EQ(0xa5, a[sz - 1]);
	EXPECT_EQ(1, host_mapped(a));

	/* A private copy of guest memory is no view of it: EINVAL. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, sz, PROT_READ, MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Past the end: EINVAL. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * sz, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, sz));
	EXPECT_EQ(EINVAL, errno);
	munmap(a, sz);
	munmap(b, sz / 2);
	close(fd);
}

/* More than the host lets one SoC pin: the host's E2BIG. */
TEST_F(hmem, object_past_the_host_limit)
{
	EXPECT_EQ(-1, create_memory(self->t.dev, 1ULL << 40));
	EXPECT_EQ(E2BIG, errno);
}

/* A guest runs in an object's memory; both sides see each other's writes. */
TEST_F(hmem, guest_runs_in_an_object)
{
	struct tvm *t = &self->t;
	uint32_t v, *p;
	uint8_t *mem;
	int fd, i;

	fd = create_memory(t->dev, GUEST_MEM_SIZE);
	ASSERT_LE(0, fd);
	mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	ASSERT_EQ(0, tvm_create_vm(t, mem));
	TVM_LOAD(t, mem);
	*(uint32_t *)(t->mem + 0x9000) = 0xfeedf00d;
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x50, 1);
	p = (uint32_t *)(t->mem + GUEST_DATA);
	for (i = 0; i < 1024; i++)
		ASSERT_EQ(0x5a5a5a5a, p[i]) TH_LOG("word %d", i);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x51, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(0xfeedf00d, v);
	close(fd);	/* the mapping and the slot keep it */
}

/*
 * Ordinary private memory is moved into host memory at the same address,
 * with what it held, and the guest sees that.
 */
TEST_F(hmem, private_memory_moves_with_its_contents)
{
	struct tvm *t = &self->t;
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400000, .memory_size = 0x200000,
	};
	uint8_t *m;
	uint32_t v;

	ASSERT_EQ(0, tvm_create_vm(t, NULL));
	EXPECT_EQ(1, host_mapped(t->mem));
	m = mmap(NULL, 0x200000, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	memset(m + 0x1000, 0x77, 4096);
	*(uint32_t *)(m + 0x1ff000) = 0xcafe0001;
	r.userspace_addr = (uintptr_t)m;
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(1, host_mapped(m));
	EXPECT_EQ(0x77, m[0x1000]);
	EXPECT_EQ(0x77, m[0x1fff]);
	EXPECT_EQ(0, m[0]);
	EXPECT_EQ(0xcafe0001, *(uint32_t *)(m + 0x1ff000));
	/*
	 * Slot 0 was moved the same way, page tables and all (tvm_create_vm
	 * wrote them first): the guest runs on them and reads what 0x9000
	 * held before the slot was added.
	 */
	TVM_LOAD(t, mem);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x50, 1);
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x51, 4);
	memcpy(&v, tvm_io(t, 0), 4);
	EXPECT_EQ(0, v);
	munmap(m, 0x200000);
}

/*
 * A shared mapping of another file (QEMU's own RAM blocks, the BIOS mapped
 * at two guest addresses) moves whole, with its contents: a slot over any
 * part of it then names the same host memory, so aliases stay one memory.
 */
TEST_F(hmem, shared_file_mapping_moves_whole)
{
	struct tvm *t = &self->t;
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400000, .memory_size = 0x100000,
	};
	int fd = memfd_create("aux-ram", MFD_CLOEXEC);
	uint8_t *m;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 0x200000));
	m = mmap(NULL, 0x200000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	m[0] = 0x11;
	m[0x1fffff] = 0x22;
	ASSERT_EQ(0, tvm_create_vm(t, NULL));
	/* The second half first: the whole mapping moves. */
	r.userspace_addr = (uintptr_t)m + 0x100000;
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(1, host_mapped(m));
	EXPECT_EQ(0x11, m[0]);
	EXPECT_EQ(0x22, m[0x1fffff]);
	/* An alias of the first half, and of all of it, name that memory. */
	r.slot = 2;
	r.guest_phys_addr = 0x600000;
	r.userspace_addr = (uintptr_t)m;
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	r.slot = 3;
	r.guest_phys_addr = 0x800000;
	r.memory_size = 0x200000;
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(1, host_mapped(m));
	/* Past the end of the mapping: EFAULT. */
	r.slot = 4;
	r.guest_phys_addr = 0xc00000;
	r.userspace_addr = (uintptr_t)m + 0x100000;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EFAULT, errno);
	munmap(m, 0x200000);
	close(fd);
}

/* A slot that runs past the object's mapping: EFAULT, as for bad memory. */
TEST_F(hmem, slot_past_the_object_is_refused)
{
	struct tvm *t = &self->t;
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400000, .memory_size = 0x200000,
	};
	uint8_t *m;
	int fd;

	fd = create_memory(t->dev, 0x100000);
	ASSERT_LE(0, fd);
	/* 1 MiB of the object, then 1 MiB of ordinary memory right after. */
	m = mmap(NULL, 0x200000, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, m);
	ASSERT_EQ(m, mmap(m, 0x100000, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, fd, 0));
	ASSERT_EQ(0, tvm_create_vm(t, NULL));
	r.userspace_addr = (uintptr_t)m;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EFAULT, errno);
	munmap(m, 0x200000);
	close(fd);
}

/*
 * A hostile SoC names memory that is not its object's (fault injection:
 * the token soc-kvm sends is shifted): the host refuses that slot with
 * EFAULT, and the VM and its other slots go on as before.
 */
TEST_F(hmem, hostile_token_fails_that_slot_only)
{
	struct tvm *t = &self->t;
	struct kvm_userspace_memory_region r = {
		.slot = 1, .guest_phys_addr = 0x400000, .memory_size = 0x100000,
	};
	static const uint64_t faults[] = {
		0x7fffffff,		/* no such handle */
		1ULL << 44,		/* pages far past the object's end */
		(uint64_t)0x100 << 32,	/* 1 MiB slot 1 MiB into a 1 MiB object */
	};
	unsigned int i;
	uint8_t *m;
	int fd;

	if (access(TVM_TOKEN_FAULT, W_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(TVM_TOKEN_FAULT, W_OK))
		SKIP(return, "no soc-kvm debugfs (" TVM_TOKEN_FAULT ")");
	ASSERT_EQ(0, tvm_create_vm(t, NULL));
	fd = create_memory(t->dev, r.memory_size);
	ASSERT_LE(0, fd);
	m = mmap(NULL, r.memory_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	r.userspace_addr = (uintptr_t)m;
	for (i = 0; i < ARRAY_SIZE(faults); i++) {
		ASSERT_EQ(0, tvm_set_token_fault(faults[i]));
		EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
		EXPECT_EQ(EFAULT, errno) TH_LOG("fault %#llx",
						(unsigned long long)faults[i]);
	}
	ASSERT_EQ(0, tvm_set_token_fault(0));
	/* Nothing was lost: the same slot now goes in, and slot 0 still runs. */
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	TVM_LOAD(t, mem);
	ASSERT_EQ(0, tvm_add_vcpu(t));
	ASSERT_EQ(0, tvm_run(t, 0));
	EXPECT_IO(t, KVM_EXIT_IO_OUT, 0x50, 1);
	munmap(m, r.memory_size);
	close(fd);
}

#define MEM_WRITTEN	"/sys/kernel/debug/soc-kvm/mem_written"

/* KVM_SOC_OP_MEM_WRITTEN of one run, as a hostile SoC could send it. */
static long long mem_written(uint32_t handle, uint64_t pgoff, uint64_t nr)
{
	long long result = -1000000;
	FILE *f = fopen(MEM_WRITTEN, "w");

	if (!f)
		return result;
	fprintf(f, "%u %llu %llu\n", handle, (unsigned long long)pgoff,
		(unsigned long long)nr);
	if (fclose(f))
		return result;
	f = fopen(MEM_WRITTEN, "r");
	if (!f)
		return result;
	if (fscanf(f, "%lld", &result) != 1)
		result = -1000000;
	fclose(f);
	return result;
}

/*
 * The host stores written pages again only inside the object named, and
 * at most KVM_SOC_MEM_WRITTEN_MAX per request: a run past the object or
 * of no pages is EINVAL, an unknown object ENOENT, too many pages E2BIG;
 * what the pages hold is unchanged by any of it.
 */
TEST_F(hmem, written_pages_outside_the_object_are_refused)
{
	struct kvm_soc_info info = { .argsz = sizeof(info) };
	const size_t sz = 72 << 20;	/* 18432 pages */
	const uint64_t nr = sz / 4096;
	uint8_t *m;
	size_t i;
	int fd;

	ASSERT_EQ(0, ioctl(self->t.dev, KVM_SOC_GET_INFO, &info));
	if (!(info.features & (1ULL << KVM_SOC_F_MEM_WRITTEN)))
		SKIP(return, "the host needs no second store of what we write");
	if (access(MEM_WRITTEN, W_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(MEM_WRITTEN, W_OK))
		SKIP(return, "no soc-kvm debugfs (" MEM_WRITTEN ")");
	fd = create_memory(self->t.dev, sz);	/* the newest object: handle 0 */
	ASSERT_LE(0, fd) TH_LOG("KVM_SOC_CREATE_MEMORY: %s", strerror(errno));
	m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	for (i = 0; i < sz; i += 4096)
		memset(m + i, (uint8_t)(i >> 12) | 1, 64);

	EXPECT_EQ(-EINVAL, mem_written(0, nr - 1, 2));
	EXPECT_EQ(-EINVAL, mem_written(0, nr, 1));
	EXPECT_EQ(-EINVAL, mem_written(0, 0, 0));
	EXPECT_EQ(-EINVAL, mem_written(0, 2, UINT64_MAX));
	EXPECT_EQ(-EINVAL, mem_written(0, UINT64_MAX, 2));
	EXPECT_EQ(-ENOENT, mem_written(0x7fffffff, 0, 1));
	EXPECT_EQ(-E2BIG, mem_written(0, 0, 16385));
	/* Well-formed: every page named, nothing in them changed. */
	EXPECT_EQ(16384, mem_written(0, 0, 16384));
	EXPECT_EQ(nr - 16384, mem_written(0, 16384, nr - 16384));
	for (i = 0; i < sz; i += 4096)
		ASSERT_EQ((uint8_t)(i >> 12) | 1, m[i + 63]) TH_LOG("page %zu", i >> 12);
	munmap(m, sz);
	close(fd);
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/* Wait up to @s seconds for /dev/kvm-soc to have a host again. */
static int wait_attached(int s)
{
	struct kvm_soc_info info = { .argsz = sizeof(info) };
	int i, fd, ok = 0;

	for (i = 0; i < s * 10 && !ok; i++) {
		fd = open(DEV, O_RDWR | O_CLOEXEC);
		ok = fd >= 0 && !ioctl(fd, KVM_SOC_GET_INFO, &info);
		if (fd >= 0)
			close(fd);
		if (!ok)
			usleep(100 * 1000);
	}
	return ok ? 0 : -1;
}

/*
 * The host goes away (here: the SoC's transport is unloaded, so the host
 * resets and frees what it allocated) while a SoC process still maps host
 * memory: the mapping is revoked (SIGBUS, not the host's freed pages), a
 * new mmap() of the old object is EIO, and after the transport is back
 * new objects work.  Last in this file: it resets the link.
 */
TEST_F(hmem, host_gone_revokes_mappings)
{
	const char *top = getenv("KSOC_TOP");
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	uint8_t *m;
	char cmd[512];
	int fd, fd2, faulted;

	if (!top)
		SKIP(return, "KSOC_TOP not set: cannot reload the transport");
	fd = create_memory(self->t.dev, 1 << 20);
	ASSERT_LE(0, fd);
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	m[0] = 0x42;
	ASSERT_EQ(0x42, m[0]);
	tvm_close(&self->t);

	ASSERT_EQ(0, system("rmmod kvm-soc-ivshmem-soc"));
	sigaction(SIGBUS, &sa, &old);
	faulted = sigsetjmp(bus_jmp, 1);
	if (!faulted)
		(void)__atomic_load_n(&m[4096], __ATOMIC_RELAXED);
	sigaction(SIGBUS, &old, NULL);
	EXPECT_EQ(1, faulted) TH_LOG("the old mapping still reaches memory the host freed");
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0));
	EXPECT_EQ(EIO, errno);
	munmap(m, 1 << 20);
	close(fd);

	snprintf(cmd, sizeof(cmd), "insmod %s/build/k612/kvm-soc-ivshmem-soc.ko", top);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, wait_attached(60)) TH_LOG("no host again within 60 s");
	fd2 = open(DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	fd = create_memory(fd2, 1 << 20);
	ASSERT_LE(0, fd) TH_LOG("a new object after the reset: %s", strerror(errno));
	m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(0, m[0]);	/* fresh host memory */
	munmap(m, 1 << 20);
	close(fd);
	close(fd2);
}

TEST_HARNESS_MAIN
