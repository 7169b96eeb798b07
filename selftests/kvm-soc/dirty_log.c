// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging as migration uses it, on /dev/kvm (the reference) and
 * /dev/kvm-soc alike: a guest writes the current iteration number into
 * pseudo-random pages while this side collects (KVM_GET_DIRTY_LOG) and, in
 * manual mode, clears (KVM_CLEAR_DIRTY_LOG) at random moments.  Checked
 * each round, for every page of the logged slot:
 *  - no page holds a number from the future;
 *  - a page whose contents changed while its bit reads clean was written
 *    after the collection, so it must be reported by the next one: a page
 *    that changes and is never reported is a page migration would lose;
 *  - the guest's writes are seen at all (pages reported dirty).
 * (A dirty bit says nothing of what the page holds: KVM marks a page when
 * the guest's store faults, and the store lands after.)
 * Modes: GET only; GET + CLEAR with KVM_DIRTY_LOG_INITIALLY_SET (QEMU's
 * way); logging turned off and on again on the live slot.  Then KVM's
 * errnos for what it refuses, and a bitmap larger than one bulk copy.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <time.h>

#include "vm_lib.h"
#include "kselftest_harness.h"

#define TEST_SLOT	1
#define TEST_GPA	0x400000UL
#define TEST_PAGES	4096UL			/* 16 MiB */
#define TEST_SIZE	(TEST_PAGES * 4096)
#define ROUNDS		24

struct dl {
	struct tvm t;
	uint8_t *mem;				/* the logged slot */
	uint64_t bmap[TEST_PAGES / 64];
	uint64_t last[TEST_PAGES];		/* contents at the last check */
	bool pending[TEST_PAGES];		/* changed while clean */
	pthread_t th;
	bool stop;				/* atomic */
	int err;				/* the vCPU thread's failure */
};

/* A word the guest reads or writes while we look. */
static uint64_t peek(const void *p)
{
	return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}

static void poke(void *p, uint64_t v)
{
	__atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
}

static void *guest_word(struct tvm *t, unsigned long off)
{
	return t->mem + GUEST_DATA + off;
}

static int set_slot(struct dl *d, uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = TEST_SLOT, .flags = flags, .guest_phys_addr = TEST_GPA,
		.memory_size = TEST_SIZE, .userspace_addr = (uintptr_t)d->mem,
	};

	return ioctl(d->t.vm, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static int get_log(struct tvm *t, uint32_t slot, void *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	return ioctl(t->vm, KVM_GET_DIRTY_LOG, &log) ? -errno : 0;
}

static int clear_log(struct tvm *t, uint32_t slot, uint64_t first,
		     uint32_t num, void *bitmap)
{
	struct kvm_clear_dirty_log log = {
		.slot = slot, .num_pages = num, .first_page = first,
		.dirty_bitmap = bitmap,
	};

	return ioctl(t->vm, KVM_CLEAR_DIRTY_LOG, &log) ? -errno : 0;
}

static int manual_protect(struct tvm *t, uint64_t flags)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .args = { flags },
	};

	return ioctl(t->vm, KVM_ENABLE_CAP, &cap) ? -errno : 0;
}

static bool bit(const uint64_t *b, unsigned long i)
{
	return b[i / 64] >> (i % 64) & 1;
}

static void *vcpu_thread(void *arg)
{
	struct dl *d = arg;
	struct kvm_run *run = d->t.run[0];

	while (!__atomic_load_n(&d->stop, __ATOMIC_RELAXED)) {
		if (tvm_run(&d->t, 0)) {
			d->err = errno ? errno : EIO;
			break;
		}
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x60) {
			d->err = 1000 + run->exit_reason;
			break;
		}
	}
	return NULL;
}

FIXTURE(dirty) {
	struct dl *d;
};

FIXTURE_VARIANT(dirty) {
	const char *path;
};

FIXTURE_VARIANT_ADD(dirty, kvm) {
	.path = "/dev/kvm",
};

FIXTURE_VARIANT_ADD(dirty, kvm_soc) {
	.path = "/dev/kvm-soc",
};

FIXTURE_SETUP(dirty)
{
	struct dl *d = calloc(1, sizeof(*d));
	int ret;

	ASSERT_NE(NULL, d);
	self->d = d;
	ret = tvm_open(&d->t, variant->path);
	if (ret == -ENOENT)
		SKIP(return, "%s does not exist", variant->path);
	ASSERT_EQ(0, ret) TH_LOG("open %s: %s", variant->path, strerror(-ret));
	ASSERT_EQ(0, tvm_create_vm(&d->t, NULL));
	d->mem = mmap(NULL, TEST_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, d->mem);
	srandom(getpid());
}

FIXTURE_TEARDOWN(dirty)
{
	struct dl *d = self->d;

	if (d->th) {
		__atomic_store_n(&d->stop, true, __ATOMIC_RELAXED);
		pthread_join(d->th, NULL);
	}
	tvm_close(&d->t);
	if (d->mem && d->mem != MAP_FAILED)
		munmap(d->mem, TEST_SIZE);
	free(d);
}

/* The guest, writing into the test slot on a thread of its own. */
static int start_guest(struct dl *d)
{
	TVM_LOAD(&d->t, dirty);
	poke(guest_word(&d->t, 0), 1);
	poke(guest_word(&d->t, 8), (uint64_t)random() << 1 | 1);
	poke(guest_word(&d->t, 16), TEST_PAGES - 1);
	poke(guest_word(&d->t, 24), TEST_GPA);
	if (tvm_add_vcpu(&d->t) < 0)
		return -1;
	return pthread_create(&d->th, NULL, vcpu_thread, d) ? -1 : 0;
}

/* Contents as they are now, the baseline of the checks that follow. */
static void snapshot(struct dl *d)
{
	unsigned long p;

	for (p = 0; p < TEST_PAGES; p++) {
		d->last[p] = peek(d->mem + p * 4096);
		d->pending[p] = false;
	}
}

/*
 * Check round @it's bitmap against the pages, read after the collection
 * and any clear (a store after the read faults on the protection those
 * put back, so it is reported next time).  A set bit proves nothing about
 * what the page holds: KVM marks a page when the guest's store faults,
 * and the store lands after.  Adds the dirty pages to *@dirty.
 */
static void check(struct __test_metadata *_metadata, struct dl *d, uint32_t it,
		  unsigned long *dirty)
{
	unsigned long p;
	uint64_t v;
	int bad = 0;

	for (p = 0; p < TEST_PAGES && bad < 5; p++) {
		v = peek(d->mem + p * 4096);
		if (v > it) {
			bad++;
			TH_LOG("round %u: page %lu holds %llu, from the future", it, p,
			       (unsigned long long)v);
		}
		if (bit(d->bmap, p)) {
			(*dirty)++;
		} else if (d->pending[p]) {
			bad++;
			TH_LOG("round %u: page %lu, now %llu, changed unreported",
			       it, p, (unsigned long long)d->last[p]);
		}
		d->pending[p] = !bit(d->bmap, p) && v != d->last[p];
		d->last[p] = v;
	}
	ASSERT_EQ(0, bad);
}

/*
 * @rounds of: new iteration, let the guest write, collect (and clear a
 * random part of what was reported, in manual mode), check.
 */
static void rounds(struct __test_metadata *_metadata, struct dl *d,
		   uint32_t from, uint32_t n, bool manual)
{
	unsigned long dirty = 0, first, num;
	uint32_t it;

	for (it = from; it < from + n; it++) {
		poke(guest_word(&d->t, 0), it);
		usleep(2000 + random() % 20000);
		ASSERT_EQ(0, get_log(&d->t, TEST_SLOT, d->bmap));
		if (manual) {
			/*
			 * A 64-page-aligned range, or all of it (as QEMU does),
			 * cleared before the pages are read: a write after the
			 * read is then reported next time, as migration needs.
			 */
			first = (random() % (TEST_PAGES / 64)) * 64;
			num = (random() % 2) ? TEST_PAGES - first :
			      64 * (1 + random() % ((TEST_PAGES - first) / 64));
			ASSERT_EQ(0, clear_log(&d->t, TEST_SLOT, first, num,
					       d->bmap + first / 64));
		}
		ASSERT_EQ(0, d->err) TH_LOG("the guest stopped: %d", d->err);
		check(_metadata, d, it, &dirty);
	}
	/* The guest wrote, and it was seen. */
	EXPECT_LT(n * 8, dirty) TH_LOG("%lu pages dirty in %u collections", dirty, n);
}

TEST_F(dirty, get_only)
{
	struct dl *d = self->d;

	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, start_guest(d));
	/* Round 0: what was written before anything was collected. */
	ASSERT_EQ(0, get_log(&d->t, TEST_SLOT, d->bmap));
	snapshot(d);
	rounds(_metadata, d, 2, ROUNDS, false);
}

TEST_F(dirty, get_and_clear_initially_set)
{
	struct dl *d = self->d;
	unsigned long p;

	ASSERT_EQ(0, manual_protect(&d->t, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
					   KVM_DIRTY_LOG_INITIALLY_SET));
	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	/* Every page starts dirty, and stays so until cleared. */
	ASSERT_EQ(0, get_log(&d->t, TEST_SLOT, d->bmap));
	for (p = 0; p < TEST_PAGES; p++)
		ASSERT_TRUE(bit(d->bmap, p)) TH_LOG("page %lu", p);
	ASSERT_EQ(0, get_log(&d->t, TEST_SLOT, d->bmap));
	for (p = 0; p < TEST_PAGES; p++)
		ASSERT_TRUE(bit(d->bmap, p)) TH_LOG("page %lu, second GET", p);
	ASSERT_EQ(0, start_guest(d));
	snapshot(d);
	rounds(_metadata, d, 2, ROUNDS, true);
}

TEST_F(dirty, logging_toggled_on_the_live_slot)
{
	struct dl *d = self->d;

	ASSERT_EQ(0, set_slot(d, 0));
	ASSERT_EQ(0, start_guest(d));
	usleep(20000);
	/* Not logging: KVM has no bitmap for the slot. */
	EXPECT_EQ(-ENOENT, get_log(&d->t, TEST_SLOT, d->bmap));

	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, get_log(&d->t, TEST_SLOT, d->bmap));
	snapshot(d);
	rounds(_metadata, d, 2, ROUNDS / 2, false);

	ASSERT_EQ(0, set_slot(d, 0));
	EXPECT_EQ(-ENOENT, get_log(&d->t, TEST_SLOT, d->bmap));
	poke(guest_word(&d->t, 0), 50);
	usleep(20000);

	/*
	 * On again: a fresh bitmap, checked from the first collection on
	 * (what was written while off is in neither).
	 */
	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, get_log(&d->t, TEST_SLOT, d->bmap));
	snapshot(d);
	rounds(_metadata, d, 51, ROUNDS / 2, false);
}

/* What KVM refuses, with KVM's errnos. */
TEST_F(dirty, refused_with_kvm_errnos)
{
	struct dl *d = self->d;
	struct tvm *t = &d->t;
	struct kvm_userspace_memory_region r = {
		.slot = TEST_SLOT, .flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = TEST_GPA, .memory_size = TEST_SIZE,
	};
	uint8_t *other;

	/* Slot 0 exists but does not log; slot 5 does not exist. */
	EXPECT_EQ(-ENOENT, get_log(t, 0, d->bmap));
	EXPECT_EQ(-ENOENT, get_log(t, 5, d->bmap));
	EXPECT_EQ(-ENOENT, clear_log(t, 0, 0, 64, d->bmap));
	/* Past KVM's slot ids and address spaces. */
	EXPECT_EQ(-EINVAL, get_log(t, 0x7fff, d->bmap));
	EXPECT_EQ(-EINVAL, get_log(t, 0x100 << 16, d->bmap));
	EXPECT_EQ(-EINVAL, clear_log(t, 0x100 << 16, 0, 64, d->bmap));
	/* Unknown manual-protect options. */
	EXPECT_EQ(-EINVAL, manual_protect(t, 1 << 5));

	ASSERT_EQ(0, manual_protect(t, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE));
	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	/* Flags change only in place: other memory for the slot is EINVAL. */
	other = mmap(NULL, TEST_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, other);
	r.userspace_addr = (uintptr_t)other;
	EXPECT_EQ(-1, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	EXPECT_EQ(EINVAL, errno);
	munmap(other, TEST_SIZE);
	/* A bitmap the caller cannot be given or read: EFAULT. */
	EXPECT_EQ(-EFAULT, get_log(t, TEST_SLOT, NULL));
	EXPECT_EQ(-EFAULT, get_log(t, TEST_SLOT, (void *)8));
	EXPECT_EQ(-EFAULT, clear_log(t, TEST_SLOT, 0, 64, NULL));
	/* CLEAR: 64-page alignment, inside the slot. */
	EXPECT_EQ(-EINVAL, clear_log(t, TEST_SLOT, 1, 64, d->bmap));
	EXPECT_EQ(-EINVAL, clear_log(t, TEST_SLOT, 0, 63, d->bmap));
	EXPECT_EQ(-EINVAL, clear_log(t, TEST_SLOT, 64, TEST_PAGES, d->bmap));
	EXPECT_EQ(-EINVAL, clear_log(t, TEST_SLOT, TEST_PAGES + 64, 64, d->bmap));
	EXPECT_EQ(-EINVAL, clear_log(t, TEST_SLOT, 0, UINT32_MAX, d->bmap));
	/* The last run may be short: it ends at the slot's end. */
	EXPECT_EQ(0, clear_log(t, TEST_SLOT, TEST_PAGES - 64, 64, d->bmap));
	EXPECT_EQ(0, get_log(t, TEST_SLOT, d->bmap));
}

/*
 * A hostile SoC names a bitmap object that is not its own, or too small
 * (fault injection shifts the name soc-kvm sends): the host lets KVM
 * touch none of it, GET and CLEAR are EFAULT, and afterwards the same
 * calls work and the guest goes on.
 */
TEST_F(dirty, hostile_bitmap_object_is_efault)
{
	static const uint64_t faults[] = {
		0x7fffffff,		/* no such object */
		1ULL << 44,		/* far past the object's end */
		(uint64_t)16 << 32,	/* from just past the 64 KiB object */
	};
	struct dl *d = self->d;
	unsigned int i;

	if (strcmp(variant->path, "/dev/kvm-soc"))
		SKIP(return, "a SoC's fault");
	if (access(TVM_TOKEN_FAULT, W_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(TVM_TOKEN_FAULT, W_OK))
		SKIP(return, "no soc-kvm debugfs (" TVM_TOKEN_FAULT ")");
	ASSERT_EQ(0, manual_protect(&d->t, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE));
	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	ASSERT_EQ(0, start_guest(d));
	for (i = 0; i < ARRAY_SIZE(faults); i++) {
		ASSERT_EQ(0, tvm_set_token_fault(faults[i]));
		EXPECT_EQ(-EFAULT, get_log(&d->t, TEST_SLOT, d->bmap))
			TH_LOG("fault %#llx", (unsigned long long)faults[i]);
		EXPECT_EQ(-EFAULT, clear_log(&d->t, TEST_SLOT, 0, TEST_PAGES, d->bmap))
			TH_LOG("fault %#llx", (unsigned long long)faults[i]);
	}
	ASSERT_EQ(0, tvm_set_token_fault(0));
	EXPECT_EQ(0, get_log(&d->t, TEST_SLOT, d->bmap));
	EXPECT_EQ(0, clear_log(&d->t, TEST_SLOT, 0, TEST_PAGES, d->bmap));
	snapshot(d);
	rounds(_metadata, d, 2, 4, true);
}

/* Capabilities as KVM reports them; the dirty ring is not carried. */
TEST_F(dirty, capabilities)
{
	struct tvm *t = &self->d->t;

	EXPECT_EQ(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
		  ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	EXPECT_EQ(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
		  ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	if (strcmp(variant->path, "/dev/kvm-soc"))
		return;
	EXPECT_EQ(0, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING));
	EXPECT_EQ(0, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_ACQ_REL));
	EXPECT_EQ(0, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP));
}

/*
 * A slot of 4 GiB and 3 pages (never touched): its 128 KiB bitmap is more
 * than one bulk copy, and its last word is partly past the slot's end.
 */
TEST_F(dirty, bitmap_larger_than_one_copy)
{
	const uint64_t pages = (4ULL << 18) + 3, words = (pages + 63) / 64;
	struct tvm *t = &self->d->t;
	struct kvm_soc_info info = { .argsz = sizeof(info) };
	struct kvm_userspace_memory_region r = {
		.slot = 2, .flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 4ULL << 30, .memory_size = pages * 4096,
	};
	uint64_t *b, i;
	uint8_t *m;
	int fd;

	if (!ioctl(t->dev, KVM_SOC_GET_INFO, &info) &&
	    info.features & (1ULL << KVM_SOC_F_HOST_MEMORY))
		SKIP(return, "the host would pin 4 GiB for it");
	/* Shared memory, which no side copies or allocates up front. */
	fd = memfd_create("dirty_log", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, r.memory_size));
	m = mmap(NULL, r.memory_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, m);
	close(fd);
	b = malloc(words * 8);
	ASSERT_NE(NULL, b);
	r.userspace_addr = (uintptr_t)m;
	ASSERT_EQ(0, manual_protect(t, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
				       KVM_DIRTY_LOG_INITIALLY_SET));
	ASSERT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	memset(b, 0x5a, words * 8);
	ASSERT_EQ(0, get_log(t, 2, b));
	for (i = 0; i < words - 1; i++)
		ASSERT_EQ(~0ULL, b[i]) TH_LOG("word %llu", (unsigned long long)i);
	EXPECT_EQ(7ULL, b[words - 1]);
	/* Clear 5000 words' worth from word 1000 on: exactly those read clean. */
	ASSERT_EQ(0, clear_log(t, 2, 64 * 1000, 64 * 5000, b + 1000));
	ASSERT_EQ(0, get_log(t, 2, b));
	for (i = 0; i < words - 1; i++)
		ASSERT_EQ(i >= 1000 && i < 6000 ? 0 : ~0ULL, b[i])
			TH_LOG("word %llu", (unsigned long long)i);
	EXPECT_EQ(7ULL, b[words - 1]);
	r.memory_size = 0;
	EXPECT_EQ(0, ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r));
	free(b);
	munmap(m, pages * 4096);
}

TEST_HARNESS_MAIN
