// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory on the host side.
 *
 * Each memory slot's region is named by the SoC in one of two ways:
 *  - a transport memory token (the loop: SoC memory the host can reach);
 *    the transport maps the region it names;
 *  - with KVM_SOC_F_HOST_MEMORY (a SoC that is another machine), a handle
 *    and page offset into a host memory object: shmem the host allocated
 *    for the SoC (KVM_SOC_OP_MEM_ALLOC), pinned while it lives, whose
 *    pages the SoC reaches by DMA at the addresses the transport gives.
 * Either way the VM's main thread maps the region, shared, into the
 * helper's address space; the mapping's address replaces the SoC's
 * userspace_addr in the KVM_SET_USER_MEMORY_REGION(2) that goes to stock
 * KVM, which uses it as any VMM's memory (and zaps its own mappings
 * through its MMU notifier when ours goes away).
 *
 * @vm->slots is touched by the VM's main thread only (and by the owner
 * after that thread is gone).  @hk->hmem is changed by the control thread
 * only (and by detach after it stopped); lookups that take a reference do
 * so under the xarray's lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/kvm.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/moduleparam.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ksoc_mem.h"
#include "host.h"

static unsigned int max_memory_mb;
module_param(max_memory_mb, uint, 0644);
MODULE_PARM_DESC(max_memory_mb,
		 "MiB of guest memory one SoC may have the host pin (0: half the host's RAM)");

static bool huge_pages = true;
module_param(huge_pages, bool, 0444);
MODULE_PARM_DESC(huge_pages, "back host-allocated guest memory with transparent huge pages (default on)");

static struct vfsmount *hk_mem_mnt;

/**
 * struct hk_pins - pages one SoC has pinned; outlives the host state
 * (a VM left behind by a killed control helper may drop its last slot
 * after host_kvm_detach() freed @hk).
 * @ref: one for the host state, one per object.
 * @pages: pinned pages.
 */
struct hk_pins {
	struct kref ref;
	atomic64_t pages;
};

static void hk_pins_release(struct kref *ref)
{
	kfree(container_of(ref, struct hk_pins, ref));
}

/**
 * struct hk_hmem - a host memory object (KVM_SOC_F_HOST_MEMORY).
 * @ref: held by @hk->hmem until KVM_SOC_OP_MEM_FREE, and by each slot.
 * @pins: the count it is in (a reference).
 * @file: the shmem file; its mapping is unevictable while we live.
 * @nr_pages: size in pages.
 * @folios: every folio of the file, each holding one reference (the pin).
 * @nr_folios: entries of @folios.
 * @ranges: the DMA ranges, in wire format, in file order.
 * @nr_ranges: entries of @ranges.
 */
struct hk_hmem {
	struct kref ref;
	struct hk_pins *pins;
	struct file *file;
	unsigned long nr_pages;
	struct folio **folios;
	unsigned long nr_folios;
	struct kvm_soc_mem_range *ranges;
	u32 nr_ranges;
};

static void hk_hmem_release(struct kref *ref)
{
	struct hk_hmem *h = container_of(ref, struct hk_hmem, ref);
	unsigned long i;

	for (i = 0; i < h->nr_folios; i++)
		folio_put(h->folios[i]);
	mapping_clear_unevictable(h->file->f_mapping);
	fput(h->file);
	atomic64_sub(h->nr_pages, &h->pins->pages);
	kref_put(&h->pins->ref, hk_pins_release);
	kvfree(h->folios);
	kvfree(h->ranges);
	kfree(h);
}

static void hk_hmem_put(struct hk_hmem *h)
{
	if (h)
		kref_put(&h->ref, hk_hmem_release);
}

static unsigned long hk_hmem_limit(void)
{
	unsigned int mb = READ_ONCE(max_memory_mb);

	return mb ? (unsigned long)mb << (20 - PAGE_SHIFT) : totalram_pages() / 2;
}

/* Pin every page of @h->file and note where the SoC reaches each. */
static int hk_hmem_populate(struct hk_hmem *h, struct ksoc_transport *t)
{
	struct address_space *mapping = h->file->f_mapping;
	struct kvm_soc_mem_range *r = NULL;
	unsigned long idx = 0, n;
	struct folio *folio;
	struct page *page;
	u64 len, dma;
	int ret;

	while (idx < h->nr_pages) {
		page = shmem_read_mapping_page(mapping, idx);
		if (IS_ERR(page))
			return PTR_ERR(page);
		folio = page_folio(page);
		/* The reference is the pin; the folio may start before @idx. */
		h->folios[h->nr_folios++] = folio;
		n = min(folio->index + folio_nr_pages(folio), h->nr_pages) - idx;
		len = (u64)n << PAGE_SHIFT;
		ret = t->dma_addr(t, page_to_phys(page), len, &dma);
		if (ret)
			return ret;
		if (r && le64_to_cpu(r->addr) + le64_to_cpu(r->len) == dma) {
			r->len = cpu_to_le64(le64_to_cpu(r->len) + len);
		} else {
			r = &h->ranges[h->nr_ranges++];
			r->addr = cpu_to_le64(dma);
			r->len = cpu_to_le64(len);
		}
		idx += n;
		cond_resched();
	}
	return 0;
}

/* KVM_SOC_OP_MEM_ALLOC: @m->arg bytes.  Control thread. */
s64 hk_op_mem_alloc(struct host_kvm *hk, struct ksoc_api_msg *m)
{
	struct ksoc_transport *t = hk->t;
	struct kvm_soc_mem_range *ranges;
	unsigned long nr, limit;
	struct hk_hmem *h;
	u32 handle;
	int ret;

	m->len = 0;
	if (!t->dma_addr)
		return -EOPNOTSUPP;
	if (m->target || !m->arg || !PAGE_ALIGNED(m->arg) ||
	    m->arg > MAX_LFS_FILESIZE)
		return -EINVAL;
	nr = m->arg >> PAGE_SHIFT;
	limit = hk_hmem_limit();	/* once: the parameter may change */
	if (nr > limit)
		return -E2BIG;
	if (atomic64_add_return(nr, &hk->pins->pages) > limit) {
		atomic64_sub(nr, &hk->pins->pages);
		return -E2BIG;
	}
	ret = -ENOMEM;
	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		goto err_count;
	kref_init(&h->ref);
	kref_get(&hk->pins->ref);
	h->pins = hk->pins;
	h->nr_pages = nr;
	/* Bounded by the limit above; a huge request is -ENOMEM, no WARN. */
	h->folios = kvcalloc(nr, sizeof(*h->folios), GFP_KERNEL | __GFP_NOWARN);
	h->ranges = kvcalloc(nr, sizeof(*h->ranges), GFP_KERNEL | __GFP_NOWARN);
	if (!h->folios || !h->ranges)
		goto err_free;
	h->file = ksoc_mem_file(hk_mem_mnt, "kvm-soc-guest", m->arg);
	if (IS_ERR(h->file)) {
		ret = PTR_ERR(h->file);
		goto err_free;
	}
	/* Pinned: reclaim leaves the mapping alone (as drm's shmem objects). */
	mapping_set_unevictable(h->file->f_mapping);
	ret = hk_hmem_populate(h, t);
	if (ret == -ERANGE)
		ret = -ENOMEM;	/* no page the SoC can reach */
	if (ret)
		goto err_put;
	/* Keep only what the ranges need (one per 2 MiB folio, typically). */
	ranges = kvmalloc_array(h->nr_ranges, sizeof(*ranges), GFP_KERNEL);
	if (ranges) {
		memcpy(ranges, h->ranges, h->nr_ranges * sizeof(*ranges));
		kvfree(h->ranges);
		h->ranges = ranges;
	}
	ret = xa_alloc(&hk->hmem, &handle, h, xa_limit_32b, GFP_KERNEL);
	if (ret)
		goto err_put;
	return handle;

err_put:
	/* Counted from here on: the release uncounts. */
	hk_hmem_put(h);
	return ret == -EBUSY ? -ENOMEM : ret;
err_free:
	kvfree(h->folios);
	kvfree(h->ranges);
	if (h->pins)
		kref_put(&h->pins->ref, hk_pins_release);
	kfree(h);
err_count:
	atomic64_sub(nr, &hk->pins->pages);
	return ret;
}

/* KVM_SOC_OP_MEM_RANGES: @m->arg handle, @m->arg2 first range.  Control thread. */
s64 hk_op_mem_ranges(struct host_kvm *hk, struct ksoc_api_msg *m, u8 *buf,
		     u32 cap)
{
	struct hk_hmem *h;
	u64 n;

	m->len = 0;
	if (m->target || m->arg > U32_MAX)
		return -EINVAL;
	h = m->arg ? xa_load(&hk->hmem, m->arg) : NULL;
	if (!h)
		return -ENOENT;
	if (m->arg2 > h->nr_ranges)
		return -EINVAL;
	n = min_t(u64, h->nr_ranges - m->arg2, cap / sizeof(*h->ranges));
	memcpy(buf, &h->ranges[m->arg2], n * sizeof(*h->ranges));
	m->len = n * sizeof(*h->ranges);
	return h->nr_ranges;
}

/* KVM_SOC_OP_MEM_FREE: @m->arg handle.  Control thread. */
s64 hk_op_mem_free(struct host_kvm *hk, struct ksoc_api_msg *m)
{
	struct hk_hmem *h;

	m->len = 0;
	if (m->target || m->arg > U32_MAX)
		return -EINVAL;
	h = m->arg ? xa_erase(&hk->hmem, m->arg) : NULL;
	if (!h)
		return -ENOENT;
	hk_hmem_put(h);
	return 0;
}

/* The page at @pgoff of @h (< @h->nr_pages): its folios are in file order. */
static struct page *hk_hmem_page(const struct hk_hmem *h, unsigned long pgoff)
{
	unsigned long lo = 0, hi = h->nr_folios;

	while (lo < hi) {
		unsigned long mid = lo + (hi - lo) / 2;
		struct folio *folio = h->folios[mid];

		if (pgoff < folio->index)
			hi = mid;
		else if (pgoff >= folio->index + folio_nr_pages(folio))
			lo = mid + 1;
		else
			return folio_page(folio, pgoff - folio->index);
	}
	return NULL;
}

/*
 * Store every word of @page again, unchanged, with this CPU: a CPU that
 * keeps translations of code (the rig's TCG host machine) drops those of
 * the page.  cmpxchg, so a guest store that lands between the read and
 * the store is kept; a failed cmpxchg means somebody else stored the word.
 */
static void hk_hmem_restore(struct page *page)
{
	u64 *p = kmap_local_page(page);
	unsigned int i;
	u64 v;

	for (i = 0; i < PAGE_SIZE / sizeof(*p); i++) {
		v = READ_ONCE(p[i]);
		cmpxchg(&p[i], v, v);
	}
	kunmap_local(p);
}

/*
 * KVM_SOC_OP_MEM_WRITTEN: @m->arg handle; payload struct
 * kvm_soc_mem_pages runs.  Every run is checked before any page is
 * touched.  Control thread.
 */
s64 hk_op_mem_written(struct host_kvm *hk, struct ksoc_api_msg *m,
		      const u8 *buf)
{
	const struct kvm_soc_mem_pages *r = (const void *)buf;
	u32 i, n = m->len / sizeof(*r), len = m->len;
	u64 pgoff, nr, total = 0, k;
	struct hk_hmem *h;

	m->len = 0;
	if (!hk->t->dma_addr)
		return -EOPNOTSUPP;
	if (m->target || m->arg > U32_MAX || !n || len % sizeof(*r))
		return -EINVAL;
	h = m->arg ? xa_load(&hk->hmem, m->arg) : NULL;
	if (!h)
		return -ENOENT;
	for (i = 0; i < n; i++) {
		pgoff = le64_to_cpu(r[i].pgoff);
		nr = le64_to_cpu(r[i].nr);
		if (!nr || pgoff >= h->nr_pages || nr > h->nr_pages - pgoff)
			return -EINVAL;
		total += nr;
		if (total > KVM_SOC_MEM_WRITTEN_MAX)
			return -E2BIG;
	}
	for (i = 0; i < n; i++) {
		pgoff = le64_to_cpu(r[i].pgoff);
		nr = le64_to_cpu(r[i].nr);
		for (k = 0; k < nr; k++) {
			hk_hmem_restore(hk_hmem_page(h, pgoff + k));
			cond_resched();
		}
	}
	return total;
}

int hk_mem_attach(struct host_kvm *hk)
{
	xa_init_flags(&hk->hmem, XA_FLAGS_ALLOC1);
	hk->pins = kzalloc(sizeof(*hk->pins), GFP_KERNEL);
	if (!hk->pins)
		return -ENOMEM;
	kref_init(&hk->pins->ref);
	return 0;
}

/*
 * Every object the SoC left (detach, after its VMs are gone; a VM left
 * behind keeps what its slots use until its helper goes).
 */
void hk_mem_detach(struct host_kvm *hk)
{
	struct hk_hmem *h;
	unsigned long id;

	xa_for_each(&hk->hmem, id, h) {
		xa_erase(&hk->hmem, id);
		hk_hmem_put(h);
	}
	xa_destroy(&hk->hmem);
	kref_put(&hk->pins->ref, hk_pins_release);
}

int hk_mem_init(void)
{
	hk_mem_mnt = ksoc_mem_mount(huge_pages);
	return 0;
}

void hk_mem_exit(void)
{
	ksoc_mem_umount(hk_mem_mnt);
}

/**
 * struct hk_slot - a memory slot as host-kvm mapped it.
 * @size: bytes.
 * @hva: address of the mapping in the helper.
 * @token: the SoC's name for the region.
 * @hmem: the host memory object it lies in (a reference), or NULL.
 */
struct hk_slot {
	u64 size;
	unsigned long hva;
	u64 token;
	struct hk_hmem *hmem;
};

/*
 * The object of this SoC's that @token names (a reference), and in @pages
 * how many pages it has from the token's page on; NULL for none.
 */
static struct hk_hmem *hk_hmem_lookup(struct hk_vm *vm, u64 token,
				      u64 *pages)
{
	u32 handle = lower_32_bits(token);
	u64 pgoff = upper_32_bits(token);
	struct xarray *xa = &vm->hk->hmem;
	struct hk_hmem *h;

	xa_lock(xa);
	h = handle ? xa_load(xa, handle) : NULL;
	if (h && pgoff <= h->nr_pages) {
		kref_get(&h->ref);
		*pages = h->nr_pages - pgoff;
	} else {
		h = NULL;
	}
	xa_unlock(xa);
	return h;
}

/*
 * Map part of a host memory object into the helper.  Nothing but what the
 * SoC's own object holds can be named: the handle is looked up in this
 * SoC's objects and the range must lie inside the one it names.
 */
static unsigned long hk_hmem_map(struct hk_vm *vm, u64 token, u64 size,
				 struct hk_hmem **hmem)
{
	struct hk_hmem *h;
	unsigned long hva;
	u64 pages;

	h = hk_hmem_lookup(vm, token, &pages);
	if (!h)
		return 0;
	if ((size >> PAGE_SHIFT) > pages) {
		hk_hmem_put(h);
		return 0;
	}
	hva = vm_mmap(h->file, 0, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      (u64)upper_32_bits(token) << PAGE_SHIFT);
	if (IS_ERR_VALUE(hva)) {
		hk_hmem_put(h);
		return 0;
	}
	*hmem = h;
	return hva;
}

/* Map a SoC region into the helper; returns the address or 0. */
static unsigned long hk_mem_map(struct hk_vm *vm, u64 token, u64 size,
				struct hk_hmem **hmem)
{
	struct ksoc_transport *t = vm->hk->t;
	struct ksoc_mem *mem;
	unsigned long hva;

	*hmem = NULL;
	if (!t->mem_import)
		return t->dma_addr ? hk_hmem_map(vm, token, size, hmem) : 0;
	mem = t->mem_import(t, token, size);
	if (!mem)
		return 0;
	hva = t->mem_map(mem);
	/* The mapping holds what it maps from here on. */
	t->mem_put(mem);
	return IS_ERR_VALUE(hva) ? 0 : hva;
}

/**
 * hk_vm_set_memory - KVM_SET_USER_MEMORY_REGION(2) for the SoC.
 * @vm: the VM (VM main thread).
 * @m: the request: @m->arg the ioctl, @m->arg2 the region's token.
 * @buf: the region struct as the SoC sent it.
 *
 * Creating a slot maps the region and substitutes the mapping's address;
 * changing flags or moving keeps the mapping (KVM requires the same
 * address); deleting unmaps after KVM let go.  Errors are KVM's.
 *
 * Return: KVM's result.
 */
s64 hk_vm_set_memory(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf)
{
	struct kvm_userspace_memory_region *r = (void *)buf;
	u32 in = _IOC_SIZE(m->arg);
	struct hk_hmem *hmem = NULL;
	struct hk_slot *s, *old;
	unsigned long hva = 0;
	u64 size;
	s64 ret;
	int err;

	if (m->len != in) {
		m->len = 0;
		return -EINVAL;
	}
	m->len = 0;
#ifdef KVM_SET_USER_MEMORY_REGION2
	/* The caller checked the length: a REGION2 has all of it. */
	if (m->arg == KVM_SET_USER_MEMORY_REGION2 &&
	    (((struct kvm_userspace_memory_region2 *)buf)->flags &
	     KVM_MEM_GUEST_MEMFD))
		return -EINVAL;	/* a guest_memfd is a SoC descriptor */
#endif
	size = r->memory_size;
	old = xa_load(&vm->slots, r->slot);

	if (size && old && old->size == size && old->token == m->arg2) {
		r->userspace_addr = old->hva;
	} else if (size) {
		if (!m->arg2)
			return -EFAULT;
		hva = hk_mem_map(vm, m->arg2, size, &hmem);
		if (!hva)
			return -EFAULT;
		r->userspace_addr = hva;
	}
	if (copy_to_user((void __user *)vm->staging, buf, in)) {
		ret = -EFAULT;
		goto err_unmap;
	}
	ret = hk_ioctl(vm->vm_file, m->arg, vm->staging);
	if (ret)
		goto err_unmap;

	if (!size) {
		old = xa_erase(&vm->slots, r->slot);
		if (old) {
			vm_munmap(old->hva, old->size);
			hk_hmem_put(old->hmem);
			kfree(old);
		}
	} else if (hva) {
		s = kzalloc(sizeof(*s), GFP_KERNEL);
		if (s) {
			s->size = size;
			s->hva = hva;
			s->token = m->arg2;
			s->hmem = hmem;
			err = xa_err(xa_store(&vm->slots, r->slot, s, GFP_KERNEL));
			if (err)
				kfree(s);
			else
				hmem = NULL;
		}
		/*
		 * Untracked, the mapping still goes with the helper; the
		 * object's pin does not (its file stays mapped, unpinned).
		 */
		hk_hmem_put(hmem);
	}
	return 0;

err_unmap:
	if (hva)
		vm_munmap(hva, size);
	hk_hmem_put(hmem);
	return ret;
}

/* Bytes of a slot's dirty bitmap, as KVM sizes it (a long per 64 pages). */
static u64 hk_bitmap_bytes(u64 pages)
{
	return ALIGN(pages, 64) / 8;
}

/**
 * hk_vm_dirty_log - KVM_GET_DIRTY_LOG or KVM_CLEAR_DIRTY_LOG for the SoC.
 * @vm: the VM (VM main thread).
 * @m: the request: @m->arg the ioctl, @m->arg2 KVM_SOC_MEM_TOKEN() of the
 *	host memory object that holds the bitmap, or 0.
 * @buf: struct kvm_dirty_log or struct kvm_clear_dirty_log.
 *
 * The object is mapped into the helper for the call and its address
 * replaces whatever dirty_bitmap the SoC sent, so KVM reads or writes
 * only that object of this SoC's, and no more of it than the bitmap KVM
 * computes.  A bitmap that does not fit is -EFAULT: without KVM's call for
 * a GET of a slot we know (KVM would clear what it could not report),
 * otherwise KVM's own checks come first (a NULL bitmap).
 *
 * Return: KVM's result, -EINVAL for a payload of the wrong size,
 * -EOPNOTSUPP where the host allocates no memory the SoC can copy.
 */
s64 hk_vm_dirty_log(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf)
{
	struct kvm_clear_dirty_log *clear = (void *)buf;
	struct kvm_dirty_log *get = (void *)buf;
	bool is_get = m->arg == KVM_GET_DIRTY_LOG;
	u32 in = is_get ? sizeof(*get) : sizeof(*clear);
	struct hk_hmem *hmem = NULL;
	unsigned long hva = 0;
	struct hk_slot *s;
	u64 bytes = 0;
	s64 ret;

	if (m->len != in) {
		m->len = 0;
		return -EINVAL;
	}
	m->len = 0;
	if (!vm->hk->t->dma_addr)
		return -EOPNOTSUPP;
	if (is_get) {
		s = xa_load(&vm->slots, get->slot);
		if (s)
			bytes = hk_bitmap_bytes(s->size >> PAGE_SHIFT);
	} else {
		bytes = hk_bitmap_bytes(clear->num_pages);
	}
	if (bytes && m->arg2)
		hva = hk_hmem_map(vm, m->arg2, PAGE_ALIGN(bytes), &hmem);
	if (is_get && bytes && !hva)
		return -EFAULT;
	if (is_get)
		get->dirty_bitmap = (void __user *)hva;
	else
		clear->dirty_bitmap = (void __user *)hva;
	ret = -EFAULT;
	if (!copy_to_user((void __user *)vm->staging, buf, in))
		ret = hk_ioctl(vm->vm_file, m->arg, vm->staging);
	if (hva)
		vm_munmap(hva, PAGE_ALIGN(bytes));
	hk_hmem_put(hmem);
	return ret;
}

/**
 * hk_exec_bulk - a VM or vCPU ioctl whose bytes are in a host memory object
 * of the SoC's (KVM_SOC_API_F_BULK, the window offers KVM_SOC_F_BULK_ARGS).
 * @vm: the VM.
 * @f: the KVM file, the VM's or a vCPU's.
 * @level: KSOC_LVL_VM or KSOC_LVL_VCPU.
 * @m: the request: @m->arg the ioctl, @m->arg2 KVM_SOC_MEM_TOKEN() of the
 *	object, no payload.  On return @m->arg2 is the number of output bytes
 *	written over the input, and @m->len 0.
 * @staging: the calling thread's staging buffer.
 *
 * What the object holds from the token's page on (at most the staging
 * buffer's size) is mapped into the helper for the call.  The count that
 * sizes the argument is read from there first; then the input is copied
 * out once, at the size that count gives, and the count copied out first
 * put back over it (the SoC may rewrite its object at any time: what runs
 * is what was checked).  The rest is hk_exec_ioctl()'s, as for a payload
 * in a slot; the output is copied back into the object.
 *
 * Return: as hk_exec_ioctl(); -EINVAL for a payload in the slot or a
 * scalar ioctl, -EFAULT for an object that does not hold the input and
 * the output.
 */
s64 hk_exec_bulk(struct hk_vm *vm, struct file *f, unsigned int level,
		 struct ksoc_api_msg *m, unsigned long staging)
{
	const struct ksoc_kvm_ioctl *d;
	u64 token = m->arg2, pages, size;
	struct hk_hmem *h = NULL;
	u32 in, out, first = 0, off;
	unsigned long hva;
	u8 *buf;
	s64 r;

	m->arg2 = 0;
	if (m->len || ksoc_is_attr_ioctl(m->arg)) {
		m->len = 0;
		return -EINVAL;
	}
	d = m->arg <= U32_MAX ? ksoc_kvm_ioctl_find(m->arg, level) : NULL;
	if (!d)
		return -ENOTTY;
	if (d->kind == KSOC_IOC_SCALAR)
		return -EINVAL;
	h = hk_hmem_lookup(vm, token, &pages);
	if (!h)
		return -EFAULT;
	size = min_t(u64, pages, HK_STAGING_SIZE >> PAGE_SHIFT) << PAGE_SHIFT;
	hva = size ? vm_mmap(h->file, 0, size, PROT_READ | PROT_WRITE,
			     MAP_SHARED, (u64)upper_32_bits(token) << PAGE_SHIFT) : 0;
	if (!hva || IS_ERR_VALUE(hva)) {
		hk_hmem_put(h);
		return -EFAULT;
	}
	off = ksoc_ioc_first_off(d);
	r = -EFAULT;
	if (get_user(first, (u32 __user *)(hva + off)))
		goto out_unmap;
	r = ksoc_ioc_sizes(d, first, vm->xsave_size, &in, &out);
	if (r)
		goto out_unmap;
	r = -EFAULT;
	if (in > size || out > size)
		goto out_unmap;
	r = -ENOMEM;
	buf = kvzalloc(max3(in, out, (u32)sizeof(u64)), GFP_KERNEL);
	if (!buf)
		goto out_unmap;
	r = -EFAULT;
	if (!copy_from_user(buf, (void __user *)hva, in)) {
		if (in >= off + sizeof(first))
			memcpy(buf + off, &first, sizeof(first));
		m->len = in;
		r = hk_exec_ioctl(f, level, m, buf, max(in, out), staging,
				  vm->xsave_size);
		if (m->len && copy_to_user((void __user *)hva, buf, m->len))
			r = -EFAULT;
		else
			m->arg2 = m->len;
		m->len = 0;
	}
	kvfree(buf);
out_unmap:
	vm_munmap(hva, size);
	hk_hmem_put(h);
	return r;
}

/*
 * Drop the SoC's object for moved entries, and its mapping when called in
 * the vCPU's thread (@in_mm); otherwise the helper is gone and the mapping
 * with it.
 */
void hk_vcpu_dirty_ring_unmap(struct hk_vcpu *vcpu, bool in_mm)
{
	if (vcpu->ring_hva && in_mm)
		vm_munmap(vcpu->ring_hva, vcpu->ring_bytes);
	hk_hmem_put(vcpu->ring_hmem);
	vcpu->ring_hva = 0;
	vcpu->ring_hmem = NULL;
}

/**
 * hk_vcpu_dirty_ring - KVM_SOC_OP_DIRTY_RING: move entries of the vCPU's
 * KVM dirty ring into the SoC's host memory object.
 * @vcpu: the vCPU (its own thread, while it is out of KVM_RUN).
 * @m: the request: @m->arg entries at most, @m->arg2 the object's token.
 *
 * We are the ring's "userspace" (api.rst 8.29): an entry whose flags say
 * DIRTY is collected, then marked RESET, and KVM_RESET_DIRTY_RINGS (the
 * SoC sends it when its own userspace resets) re-arms the page.  KVM
 * pushes into a vCPU's ring only from that vCPU's KVM_RUN and ioctls,
 * which this thread is not in, so nothing moves under us but the reset of
 * entries already marked (another thread, in KVM_RESET_DIRTY_RINGS).  The
 * object stays mapped between calls; a new token maps the new one.
 *
 * Return: the number of entries written, -EINVAL, -EFAULT.
 */
s64 hk_vcpu_dirty_ring(struct hk_vcpu *vcpu, struct ksoc_api_msg *m)
{
	struct kvm_dirty_gfn __user *ring = (void __user *)vcpu->ring;
	u32 nr = READ_ONCE(vcpu->vm->dirty_ring_size) / sizeof(*ring);
	struct kvm_soc_dirty_gfn __user *out;
	struct kvm_soc_dirty_gfn e = {};
	u64 want = m->arg, bytes, offset;
	u32 i, flags, slot;

	m->len = 0;
	if (!ring || !want || want > nr)
		return -EINVAL;
	bytes = PAGE_ALIGN(want * sizeof(e));
	if (!vcpu->ring_hva || m->arg2 != vcpu->ring_token ||
	    bytes > vcpu->ring_bytes) {
		hk_vcpu_dirty_ring_unmap(vcpu, true);
		vcpu->ring_hva = hk_hmem_map(vcpu->vm, m->arg2, bytes,
					     &vcpu->ring_hmem);
		if (!vcpu->ring_hva)
			return -EFAULT;
		vcpu->ring_token = m->arg2;
		vcpu->ring_bytes = bytes;
	}
	out = (void __user *)vcpu->ring_hva;
	for (i = 0; i < want; i++) {
		struct kvm_dirty_gfn __user *g = &ring[(vcpu->ring_fetch + i) & (nr - 1)];

		if (get_user(flags, &g->flags))
			return -EFAULT;
		if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
			break;
		/* Pairs with the smp_wmb() in KVM's kvm_dirty_ring_push(). */
		smp_rmb();
		if (get_user(slot, &g->slot) || get_user(offset, &g->offset))
			return -EFAULT;
		e.slot = cpu_to_le32(slot);
		e.offset = cpu_to_le64(offset);
		if (copy_to_user(&out[i], &e, sizeof(e)))
			return -EFAULT;
		/*
		 * Collected before it is handed back: pairs with the
		 * smp_load_acquire() of the flags in kvm_dirty_ring_reset().
		 */
		smp_mb();
		if (put_user(KVM_DIRTY_GFN_F_RESET, &g->flags))
			return -EFAULT;
	}
	vcpu->ring_fetch += i;
	return i;
}

/**
 * hk_vm_unmap_memory - forget every slot.
 * @vm: the VM.
 * @in_mm: called in the helper (unmap too); otherwise the helper is gone
 *	and its mappings with it.
 */
void hk_vm_unmap_memory(struct hk_vm *vm, bool in_mm)
{
	struct hk_slot *s;
	unsigned long id;

	xa_for_each(&vm->slots, id, s) {
		xa_erase(&vm->slots, id);
		if (in_mm)
			vm_munmap(s->hva, s->size);
		hk_hmem_put(s->hmem);
		kfree(s);
	}
}
