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
 *
 * The dirty ring (KVM_CAP_DIRTY_LOG_RING, _ACQ_REL) as QEMU uses it: the
 * vCPU is stopped out of KVM_RUN (QEMU kicks every vCPU before its last
 * harvest), the ring's entries are collected and marked, and
 * KVM_RESET_DIRTY_RINGS must reset exactly those.  Every page that
 * changed since the last round must then have been reported in it; a
 * ring small enough to fill stops the vCPU with KVM_EXIT_DIRTY_RING_FULL,
 * after which the vCPU's thread harvests, as QEMU's does.
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
	/* The dirty ring, if enabled. */
	struct kvm_dirty_gfn *ring;
	uint32_t ring_nr;			/* entries */
	uint32_t ring_fetch;			/* next entry to collect */
	uint64_t ring_bmap[TEST_PAGES / 64];	/* collected, not checked */
	unsigned long ring_bad;			/* entries naming no test page */
	pthread_mutex_t ring_lock;		/* the collector */
	bool pause, paused;			/* atomic: stop the vCPU thread */
	unsigned long ring_full;		/* KVM_EXIT_DIRTY_RING_FULL exits */
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

static int ring_collect(struct dl *d);

static void *vcpu_thread(void *arg)
{
	struct dl *d = arg;
	struct kvm_run *run = d->t.run[0];
	int r;

	while (!__atomic_load_n(&d->stop, __ATOMIC_RELAXED)) {
		/* Stopped out of KVM_RUN while the ring is collected. */
		if (__atomic_load_n(&d->pause, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&d->paused, true, __ATOMIC_RELEASE);
			while (__atomic_load_n(&d->pause, __ATOMIC_ACQUIRE) &&
			       !__atomic_load_n(&d->stop, __ATOMIC_RELAXED))
				usleep(100);
			__atomic_store_n(&d->paused, false, __ATOMIC_RELEASE);
		}
		if (tvm_run(&d->t, 0)) {
			d->err = errno ? errno : EIO;
			break;
		}
		if (d->ring && run->exit_reason == KVM_EXIT_DIRTY_RING_FULL) {
			d->ring_full++;
			/* Harvest and reset, as QEMU's vCPU thread does. */
			r = ring_collect(d);
			if (r < 0) {
				d->err = -r;
				break;
			}
			continue;
		}
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x60) {
			d->err = 1000 + run->exit_reason;
			break;
		}
	}
	__atomic_store_n(&d->paused, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Why a SoC-fault test cannot run on @path, or NULL (debugfs mounted). */
static const char *no_token_fault(const char *path)
{
	if (strcmp(path, "/dev/kvm-soc"))
		return "a SoC's fault";
	if (access(TVM_TOKEN_FAULT, W_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (access(TVM_TOKEN_FAULT, W_OK))
		return "no soc-kvm debugfs (" TVM_TOKEN_FAULT ")";
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
	if (d->ring)
		munmap(d->ring, d->ring_nr * sizeof(*d->ring));
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
	const char *why;
	unsigned int i;

	why = no_token_fault(variant->path);
	if (why)
		SKIP(return, "%s", why);
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

/* ---- dirty ring ---------------------------------------------------- */

#define RING_MAX	(65536 * sizeof(struct kvm_dirty_gfn))

static int enable_ring(struct tvm *t, uint32_t cap, uint64_t bytes)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { bytes } };

	return ioctl(t->vm, KVM_ENABLE_CAP, &c) ? -errno : 0;
}

static int reset_rings(struct tvm *t)
{
	int r = ioctl(t->vm, KVM_RESET_DIRTY_RINGS, 0);

	return r < 0 ? -errno : r;
}

/* Map vCPU 0's ring of @bytes; NULL with errno set on failure. */
static struct kvm_dirty_gfn *map_ring(struct tvm *t, uint64_t bytes, int prot,
				      int flags)
{
	void *p = mmap(NULL, bytes, prot, flags, t->vcpu[0],
		       KVM_DIRTY_LOG_PAGE_OFFSET * 4096);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Collect what the ring holds into ring_bmap, mark it harvested, and
 * reset: KVM_RESET_DIRTY_RINGS must reset exactly what was marked.
 * Returns the number collected, or -errno (-EPROTO for a wrong count).
 */
static int ring_collect(struct dl *d)
{
	struct kvm_dirty_gfn *g;
	int n = 0, r;

	pthread_mutex_lock(&d->ring_lock);
	for (;;) {
		g = &d->ring[d->ring_fetch & (d->ring_nr - 1)];
		/* Pairs with KVM's publication of the entry (ACQ_REL). */
		if (!(__atomic_load_n(&g->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (g->slot == TEST_SLOT && g->offset < TEST_PAGES)
			d->ring_bmap[g->offset / 64] |= 1ULL << (g->offset % 64);
		else
			d->ring_bad++;
		__atomic_store_n(&g->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
		d->ring_fetch++;
		n++;
	}
	r = reset_rings(&d->t);
	pthread_mutex_unlock(&d->ring_lock);
	if (r < 0)
		return r;
	return r == n ? n : -EPROTO;
}

/* A VM whose vCPU has a ring of @bytes, logging the test slot. */
static void ring_setup(struct __test_metadata *_metadata, struct dl *d,
		       uint32_t cap, uint64_t bytes)
{
	ASSERT_EQ(0, enable_ring(&d->t, cap, bytes));
	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	d->ring_nr = bytes / sizeof(struct kvm_dirty_gfn);
	pthread_mutex_init(&d->ring_lock, NULL);
	/* Started paused: the ring is mapped before the vCPU runs. */
	__atomic_store_n(&d->pause, true, __ATOMIC_RELEASE);
	ASSERT_EQ(0, start_guest(d));
	d->ring = map_ring(&d->t, bytes, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(NULL, d->ring) TH_LOG("mmap the ring: %s", strerror(errno));
	snapshot(d);
	__atomic_store_n(&d->pause, false, __ATOMIC_RELEASE);
}

/*
 * @n rounds of: new iteration, let the guest write, stop the vCPU out of
 * KVM_RUN, collect and reset, check that every page that changed since
 * the last round was reported, go on.
 */
static void ring_rounds(struct __test_metadata *_metadata, struct dl *d,
			uint32_t n)
{
	unsigned long p, dirty = 0, bad = 0;
	uint32_t it;
	uint64_t v;

	for (it = 2; it < 2 + n; it++) {
		poke(guest_word(&d->t, 0), it);
		usleep(2000 + random() % 20000);
		__atomic_store_n(&d->pause, true, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&d->paused, __ATOMIC_ACQUIRE))
			usleep(100);
		ASSERT_EQ(0, d->err) TH_LOG("the guest stopped: %d", d->err);
		ASSERT_LE(0, ring_collect(d));
		for (p = 0; p < TEST_PAGES && bad < 5; p++) {
			v = peek(d->mem + p * 4096);
			if (v > it) {
				bad++;
				TH_LOG("round %u: page %lu holds %llu, from the future",
				       it, p, (unsigned long long)v);
			}
			if (bit(d->ring_bmap, p)) {
				dirty++;
			} else if (v != d->last[p]) {
				bad++;
				TH_LOG("round %u: page %lu changed (%llu -> %llu) unreported",
				       it, p, (unsigned long long)d->last[p],
				       (unsigned long long)v);
			}
			d->last[p] = v;
		}
		ASSERT_EQ(0, bad);
		ASSERT_EQ(0, d->ring_bad) TH_LOG("entries of no test page");
		memset(d->ring_bmap, 0, sizeof(d->ring_bmap));
		__atomic_store_n(&d->pause, false, __ATOMIC_RELEASE);
		while (__atomic_load_n(&d->paused, __ATOMIC_ACQUIRE) &&
		       !d->err)
			usleep(100);
	}
	EXPECT_LT(n * 8, dirty) TH_LOG("%lu pages dirty in %u collections", dirty, n);
}

/* A ring with room for a whole round's pages: no ring-full exits needed. */
TEST_F(dirty, ring_collect_and_reset)
{
	struct dl *d = self->d;

	ring_setup(_metadata, d, KVM_CAP_DIRTY_LOG_RING, 16384 * 16);
	ring_rounds(_metadata, d, ROUNDS);
	TH_LOG("%lu ring-full exits", d->ring_full);
}

/*
 * KVM's smallest ring (a page: 256 entries) with the ordering version:
 * the guest's 4096 pages fill it over and over, so the vCPU stops with
 * KVM_EXIT_DIRTY_RING_FULL and its thread harvests; nothing is lost.
 */
TEST_F(dirty, ring_full_exits_lose_nothing)
{
	struct dl *d = self->d;

	ring_setup(_metadata, d, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 4096);
	ring_rounds(_metadata, d, ROUNDS / 2);
	EXPECT_LT(0, d->ring_full) TH_LOG("no KVM_EXIT_DIRTY_RING_FULL");
}

/* What KVM refuses about rings, with KVM's errnos. */
TEST_F(dirty, ring_refused_with_kvm_errnos)
{
	struct dl *d = self->d;
	struct tvm *t = &d->t;
	struct kvm_enable_cap c = { .cap = KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP };

	/* No ring yet. */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_RESET_DIRTY_RINGS, 0));
	EXPECT_EQ(EINVAL, errno);
	/* A power of two, a page at least, 1 MiB at most. */
	EXPECT_EQ(-EINVAL, enable_ring(t, KVM_CAP_DIRTY_LOG_RING, 0));
	EXPECT_EQ(-EINVAL, enable_ring(t, KVM_CAP_DIRTY_LOG_RING, 4096 + 16));
	EXPECT_EQ(-EINVAL, enable_ring(t, KVM_CAP_DIRTY_LOG_RING, 2048));
	EXPECT_EQ(-E2BIG, enable_ring(t, KVM_CAP_DIRTY_LOG_RING, 2 * RING_MAX));
	/* KVM takes the size as a u32: 4 GiB + 4 KiB is 4 KiB. */
	ASSERT_EQ(0, enable_ring(t, KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
				 (1ULL << 32) + 4096));
	/* Once only, either flavour. */
	EXPECT_EQ(-EINVAL, enable_ring(t, KVM_CAP_DIRTY_LOG_RING, 8192));
	EXPECT_EQ(-EINVAL, enable_ring(t, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 4096));
	/* x86 KVM has no ring-with-bitmap. */
	EXPECT_EQ(-1, ioctl(t->vm, KVM_ENABLE_CAP, &c));
	EXPECT_EQ(EINVAL, errno);
	/* With a ring and no bitmap, the bitmap ioctls have none. */
	ASSERT_EQ(0, set_slot(d, KVM_MEM_LOG_DIRTY_PAGES));
	EXPECT_EQ(-ENXIO, get_log(t, TEST_SLOT, d->bmap));
	/* Nothing harvested: nothing reset. */
	EXPECT_EQ(0, reset_rings(t));
	ASSERT_LE(0, tvm_add_vcpu(t));
	EXPECT_EQ(0, reset_rings(t));
	/* The ring is mapped shared. */
	EXPECT_EQ(NULL, map_ring(t, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE));
	EXPECT_EQ(EINVAL, errno);
	d->ring = map_ring(t, 4096, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(NULL, d->ring) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, d->ring[0].flags);
	munmap(d->ring, 4096);
	d->ring = NULL;
}

/*
 * Userspace writes nonsense into its ring: RESET flags on entries never
 * pushed and a wild slot.  The next reset counts only entries pushed, and
 * collection goes on as before.  Only for kvm-soc: KVM resets whatever
 * userspace marked, pushed or not, and its ring's indices then disagree
 * for good (its count would be the ring's size).
 */
TEST_F(dirty, ring_scribbled_by_userspace)
{
	struct dl *d = self->d;
	uint32_t i;

	if (strcmp(variant->path, "/dev/kvm-soc"))
		SKIP(return, "KVM trusts userspace here");
	ring_setup(_metadata, d, KVM_CAP_DIRTY_LOG_RING, 16384 * 16);
	__atomic_store_n(&d->pause, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&d->paused, __ATOMIC_ACQUIRE))
		usleep(100);
	ASSERT_EQ(0, d->err);
	ASSERT_LE(0, ring_collect(d));
	for (i = 0; i < d->ring_nr; i++) {
		d->ring[i].slot = 0xdead;
		__atomic_store_n(&d->ring[i].flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
	}
	EXPECT_EQ(0, reset_rings(&d->t));
	for (i = 0; i < d->ring_nr; i++)
		d->ring[i].flags = 0;
	memset(d->ring_bmap, 0, sizeof(d->ring_bmap));
	snapshot(d);
	__atomic_store_n(&d->pause, false, __ATOMIC_RELEASE);
	ring_rounds(_metadata, d, 4);
}

/*
 * A hostile SoC names an object that is not its own for the host's
 * entries (fault injection shifts the name): the host writes nothing and
 * answers -EFAULT; the SoC fails that VM (the vCPU's KVM_RUN is -EIO),
 * nothing else.
 */
TEST_F(dirty, ring_hostile_object_fails_only_the_vm)
{
	struct dl *d = self->d;
	const char *why;
	int i;

	why = no_token_fault(variant->path);
	if (why)
		SKIP(return, "%s", why);
	ring_setup(_metadata, d, KVM_CAP_DIRTY_LOG_RING, 16384 * 16);
	ring_rounds(_metadata, d, 2);
	__atomic_store_n(&d->pause, true, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&d->paused, __ATOMIC_ACQUIRE))
		usleep(100);
	ASSERT_EQ(0, tvm_set_token_fault(0x7fffffff));
	__atomic_store_n(&d->pause, false, __ATOMIC_RELEASE);
	for (i = 0; i < 2000 && !d->err; i++)
		usleep(1000);
	ASSERT_EQ(0, tvm_set_token_fault(0));
	EXPECT_EQ(EIO, d->err);
	EXPECT_EQ(-EIO, reset_rings(&d->t));
}

/* Capabilities as KVM reports them. */
TEST_F(dirty, capabilities)
{
	struct tvm *t = &self->d->t;

	EXPECT_EQ(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
		  ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	EXPECT_EQ(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
		  ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2));
	/* The ring: KVM's largest size; x86 KVM has no ring-with-bitmap. */
	EXPECT_EQ(RING_MAX, ioctl(t->dev, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING));
	EXPECT_EQ(RING_MAX, ioctl(t->vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING));
	EXPECT_EQ(RING_MAX, ioctl(t->vm, KVM_CHECK_EXTENSION,
				  KVM_CAP_DIRTY_LOG_RING_ACQ_REL));
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
