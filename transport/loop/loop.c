// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc loop transport: host-kvm and soc-kvm in one kernel.
 *
 * Windows are ordinary kernel memory both cores map directly; a doorbell
 * is a direct call of the peer core's doorbell handler (which only wakes
 * or queues work, as an interrupt handler would).  Host memory is directly
 * reachable: a SoC region handed to KVM_SET_USER_MEMORY_REGION is a shared
 * file mapping (memfd, shmem, a kvm-soc memory object), and the host maps
 * the same file, so guest and SoC share the very same pages.  Anonymous
 * or private memory is first moved into a fresh shmem file, mapped shared
 * over the same addresses in the SoC process (its contents copied; pages
 * never touched stay unallocated).  KVM can use such mappings like any
 * VMM's, huge pages included.
 *
 * Loading this module attaches both cores; unloading detaches them, SoC
 * first so no request is in flight when the host goes away.
 *
 * Locking: the window and token tables are xarrays (their own locks); a
 * window's last reference is dropped under the window table's lock, so a
 * lookup never finds a window being freed.  A window lives until both the
 * host's free and the SoC's unmap.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/kvm_soc.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/sizes.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>

#include "ksoc_transport.h"

static unsigned int ctrl_window_kib = 1024;
module_param(ctrl_window_kib, uint, 0444);
MODULE_PARM_DESC(ctrl_window_kib, "control window size in KiB (default 1024)");

/**
 * struct loop_window - one shared window.
 * @ref: one for the host (alloc .. free), one per SoC mapping.
 * @mem: the memory.
 * @size: its size.
 */
struct loop_window {
	struct kref ref;
	void *mem;
	u64 size;
};

/**
 * struct ksoc_loop - the two ends of a loop transport.
 * @host: host-kvm's end.
 * @soc: soc-kvm's end.
 * @win: the shared control window.
 * @windows: window id -> struct loop_window (ids from 1).
 * @tokens: memory token -> struct ksoc_mem (a reference each).
 * @dbg: debugfs directory (fault injection, see loop_poke_write()).
 */
struct ksoc_loop {
	struct ksoc_transport host;
	struct ksoc_transport soc;
	void *win;
	struct xarray windows;
	struct xarray tokens;
	struct dentry *dbg;
};

static struct ksoc_loop loop;

static void loop_kick_soc(struct ksoc_transport *t, unsigned int vec)
{
	ksoc_transport_ring(&loop.soc, vec);
}

static void loop_kick_host(struct ksoc_transport *t, unsigned int vec)
{
	ksoc_transport_ring(&loop.host, vec);
}

static void loop_window_release(struct kref *ref)
{
	struct loop_window *w = container_of(ref, struct loop_window, ref);

	vfree(w->mem);
	kfree(w);
}

static void *loop_window_alloc(struct ksoc_transport *t, u64 size, u32 *id)
{
	struct loop_window *w;

	if (!size || size > SZ_64M)
		return NULL;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w)
		return NULL;
	w->mem = vzalloc(size);
	if (!w->mem)
		goto err_free;
	w->size = size;
	kref_init(&w->ref);
	if (xa_alloc(&loop.windows, id, w, XA_LIMIT(1, 0xffff), GFP_KERNEL))
		goto err_vfree;
	return w->mem;

err_vfree:
	vfree(w->mem);
err_free:
	kfree(w);
	return NULL;
}

/* Drop one reference; the last one removes the id and frees the window. */
static void loop_window_put(u32 id)
{
	struct loop_window *w;
	bool last = false;

	xa_lock(&loop.windows);
	w = xa_load(&loop.windows, id);
	if (w && refcount_dec_and_test(&w->ref.refcount)) {
		__xa_erase(&loop.windows, id);
		last = true;
	}
	xa_unlock(&loop.windows);
	if (last)
		loop_window_release(&w->ref);
}

static void loop_window_free(struct ksoc_transport *t, u32 id)
{
	loop_window_put(id);
}

static void *loop_window_map(struct ksoc_transport *t, u32 id, u64 *size)
{
	struct loop_window *w;

	xa_lock(&loop.windows);
	w = xa_load(&loop.windows, id);
	if (w)
		kref_get(&w->ref);
	xa_unlock(&loop.windows);
	if (!w)
		return NULL;
	*size = w->size;
	return w->mem;
}

static void loop_window_unmap(struct ksoc_transport *t, u32 id)
{
	loop_window_put(id);
}

/**
 * struct ksoc_mem - a SoC region, as a file the host can map.
 * @ref: the token holds one, each host import one.
 * @file: the shared file backing the region.
 * @pgoff: the region's first page in @file.
 * @size: bytes.
 */
struct ksoc_mem {
	struct kref ref;
	struct file *file;
	pgoff_t pgoff;
	u64 size;
};

static void loop_mem_release(struct kref *ref)
{
	struct ksoc_mem *m = container_of(ref, struct ksoc_mem, ref);

	fput(m->file);
	kfree(m);
}

/*
 * Move an anonymous or private range into a new shmem file mapped shared
 * at the same place.  The process must not write the range meanwhile (a
 * VMM adds a memory slot before running anything on it).
 */
static struct file *loop_mem_share(unsigned long uaddr, u64 size,
				   unsigned long prot)
{
	const size_t chunk = SZ_64K;
	struct file *file;
	unsigned long addr;
	loff_t pos;
	void *buf;
	u64 off, len;
	ssize_t n;
	int ret;

	file = soc_kvm_mem_file("kvm-soc-guest-ram", size);
	if (IS_ERR(file))
		return file;
	ret = -ENOMEM;
	buf = kvmalloc(chunk, GFP_KERNEL);
	if (!buf)
		goto err;
	for (off = 0; off < size; off += len) {
		len = min_t(u64, chunk, size - off);
		ret = -EFAULT;
		if (copy_from_user(buf, (void __user *)(uaddr + off), len))
			goto err_buf;
		/* Untouched memory reads as zeroes: leave it unallocated. */
		if (!memchr_inv(buf, 0, len))
			continue;
		pos = off;
		n = kernel_write(file, buf, len, &pos);
		if (n != len) {
			ret = n < 0 ? n : -EIO;
			goto err_buf;
		}
	}
	kvfree(buf);
	addr = vm_mmap(file, uaddr, size, prot, MAP_SHARED | MAP_FIXED, 0);
	if (IS_ERR_VALUE(addr)) {
		fput(file);
		return ERR_PTR((long)addr);
	}
	return file;

err_buf:
	kvfree(buf);
err:
	fput(file);
	return ERR_PTR(ret);
}

/* The file (with a reference) behind [uaddr, uaddr + size), or an error. */
static struct file *loop_mem_file(unsigned long uaddr, u64 size,
				  pgoff_t *pgoff)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct file *file = NULL;
	unsigned long prot;
	bool shared;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, uaddr);
	if (!vma || !(vma->vm_flags & VM_READ) || !(vma->vm_flags & VM_WRITE)) {
		mmap_read_unlock(mm);
		return ERR_PTR(-EFAULT);
	}
	/*
	 * Only memory files are guest memory: a shared mapping of anything
	 * else (a file on disk, a device) would be mapped into the host's
	 * root helper.
	 */
	if (vma->vm_file && (vma->vm_flags & VM_SHARED) &&
	    !shmem_file(vma->vm_file) &&
	    file_inode(vma->vm_file)->i_sb->s_magic != HUGETLBFS_MAGIC) {
		mmap_read_unlock(mm);
		return ERR_PTR(-EINVAL);
	}
	prot = PROT_READ | PROT_WRITE |
	       (vma->vm_flags & VM_EXEC ? PROT_EXEC : 0);
	shared = vma->vm_file && (vma->vm_flags & VM_SHARED) &&
		 uaddr + size <= vma->vm_end;
	if (shared) {
		file = get_file(vma->vm_file);
		*pgoff = vma->vm_pgoff + ((uaddr - vma->vm_start) >> PAGE_SHIFT);
	}
	mmap_read_unlock(mm);
	if (shared)
		return file;
	*pgoff = 0;
	file = loop_mem_share(uaddr, size, prot);
	return file;
}

static s64 loop_mem_export(struct ksoc_transport *t, unsigned long uaddr,
			   u64 size)
{
	struct ksoc_mem *m;
	u32 id;
	int ret;

	if (!size || !PAGE_ALIGNED(uaddr) || !PAGE_ALIGNED(size))
		return -EINVAL;
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	kref_init(&m->ref);
	m->size = size;
	m->file = loop_mem_file(uaddr, size, &m->pgoff);
	if (IS_ERR(m->file)) {
		ret = PTR_ERR(m->file);
		kfree(m);
		return ret;
	}
	ret = xa_alloc(&loop.tokens, &id, m, xa_limit_31b, GFP_KERNEL);
	if (ret) {
		kref_put(&m->ref, loop_mem_release);
		return ret;
	}
	return (s64)id + 1;
}

static void loop_mem_unexport(struct ksoc_transport *t, u64 token)
{
	struct ksoc_mem *m;

	if (!token || token > U32_MAX)
		return;
	m = xa_erase(&loop.tokens, token - 1);
	if (m)
		kref_put(&m->ref, loop_mem_release);
}

/*
 * The bulk path in one kernel.  A host page's DMA address is its physical
 * address (host side); the SoC's "DMA engine" copies through the kernel's
 * own mapping of each page, and refuses what is not RAM.
 */
static int loop_dma_addr(struct ksoc_transport *t, phys_addr_t phys, u64 len,
			 u64 *dma)
{
	*dma = phys;
	return 0;
}

static int loop_dma_copy(struct ksoc_transport *t, u64 dma, void *buf, u64 len,
			 bool to_host)
{
	unsigned long pfn;
	u64 in, n;
	void *p;

	if (dma + len < dma)
		return -ERANGE;
	while (len) {
		pfn = PHYS_PFN(dma);
		if (!pfn_valid(pfn) || PageReserved(pfn_to_page(pfn)))
			return -ERANGE;
		in = offset_in_page(dma);
		n = min_t(u64, len, PAGE_SIZE - in);
		p = kmap_local_page(pfn_to_page(pfn));
		if (to_host)
			memcpy(p + in, buf, n);
		else
			memcpy(buf, p + in, n);
		kunmap_local(p);
		buf += n;
		dma += n;
		len -= n;
	}
	return 0;
}

static struct ksoc_mem *loop_mem_import(struct ksoc_transport *t, u64 token,
					u64 size)
{
	struct ksoc_mem *m;

	if (!token || token > U32_MAX)
		return NULL;
	xa_lock(&loop.tokens);
	m = xa_load(&loop.tokens, token - 1);
	if (m && m->size == size)
		kref_get(&m->ref);
	else
		m = NULL;
	xa_unlock(&loop.tokens);
	return m;
}

static unsigned long loop_mem_map(struct ksoc_mem *m)
{
	return vm_mmap(m->file, 0, m->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       (unsigned long)m->pgoff << PAGE_SHIFT);
}

static void loop_mem_put(struct ksoc_mem *m)
{
	kref_put(&m->ref, loop_mem_release);
}

/*
 * Fault injection, for tests: the wire misbehaving or a peer writing
 * garbage.  "poke <window> <offset> <value>" stores a little-endian u32
 * into a window (0: the control window) and rings both sides for it.
 */
static ssize_t loop_poke_write(struct file *filp, const char __user *ubuf,
			       size_t len, loff_t *ppos)
{
	struct loop_window *w = NULL;
	char buf[64];
	u64 off, size;
	u32 id, val;
	void *mem;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	if (sscanf(buf, "%u %llu %x", &id, &off, &val) != 3)
		return -EINVAL;
	if (id) {
		mem = loop_window_map(&loop.soc, id, &size);
		if (!mem)
			return -ENOENT;
		w = mem;	/* only as a "was mapped" marker */
	} else {
		mem = loop.win;
		size = loop.host.ctrl_size;
	}
	if (off % 4 || size < 4 || off > size - 4) {
		if (w)
			loop_window_unmap(&loop.soc, id);
		return -EINVAL;
	}
	WRITE_ONCE(*(__le32 *)(mem + off), cpu_to_le32(val));
	ksoc_transport_ring(&loop.host, id);
	ksoc_transport_ring(&loop.soc, id);
	if (w)
		loop_window_unmap(&loop.soc, id);
	return len;
}

/* "<id> <bytes> <API slot bytes>" per window (0 before the host's format). */
static int loop_windows_show(struct seq_file *m, void *unused)
{
	const struct kvm_soc_window_hdr *h;
	struct loop_window *w;
	unsigned long id;

	xa_lock(&loop.windows);
	xa_for_each(&loop.windows, id, w) {
		h = w->mem;
		seq_printf(m, "%lu %llu %u\n", id, w->size,
			   le32_to_cpu(READ_ONCE(h->desc.api_slot_size)));
	}
	xa_unlock(&loop.windows);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(loop_windows);

static const struct file_operations loop_poke_fops = {
	.owner	= THIS_MODULE,
	.write	= loop_poke_write,
	.llseek	= noop_llseek,
};

static int __init ksoc_loop_init(void)
{
	u64 size = (u64)ctrl_window_kib * 1024;
	int ret;

	if (!size || size % PAGE_SIZE || size > SZ_64M) {
		pr_err("ctrl_window_kib=%u: must be a page multiple, at most 64 MiB\n",
		       ctrl_window_kib);
		return -EINVAL;
	}
	loop.win = vzalloc(size);
	if (!loop.win)
		return -ENOMEM;
	xa_init_flags(&loop.windows, XA_FLAGS_ALLOC1);
	xa_init_flags(&loop.tokens, XA_FLAGS_ALLOC);

	ksoc_transport_init(&loop.host);
	loop.host.name = "loop";
	loop.host.ctrl_win = loop.win;
	loop.host.ctrl_size = size;
	loop.host.kick = loop_kick_soc;
	loop.host.window_alloc = loop_window_alloc;
	loop.host.window_free = loop_window_free;
	loop.host.mem_import = loop_mem_import;
	loop.host.mem_map = loop_mem_map;
	loop.host.mem_put = loop_mem_put;
	loop.host.dma_addr = loop_dma_addr;

	ksoc_transport_init(&loop.soc);
	loop.soc.name = "loop";
	loop.soc.ctrl_win = loop.win;
	loop.soc.ctrl_size = size;
	loop.soc.kick = loop_kick_host;
	loop.soc.window_map = loop_window_map;
	loop.soc.window_unmap = loop_window_unmap;
	loop.soc.mem_export = loop_mem_export;
	loop.soc.mem_unexport = loop_mem_unexport;
	loop.soc.dma_copy = loop_dma_copy;

	ret = host_kvm_attach(&loop.host);
	if (ret)
		goto err_free;
	ret = soc_kvm_attach(&loop.soc);
	if (ret)
		goto err_host;
	loop.dbg = debugfs_create_dir("kvm-soc-loop", NULL);
	debugfs_create_file("poke", 0200, loop.dbg, NULL, &loop_poke_fops);
	debugfs_create_file("windows", 0400, loop.dbg, NULL, &loop_windows_fops);
	return 0;

err_host:
	host_kvm_detach(&loop.host);
err_free:
	vfree(loop.win);
	return ret;
}

static void __exit ksoc_loop_exit(void)
{
	debugfs_remove_recursive(loop.dbg);
	soc_kvm_detach(&loop.soc);
	host_kvm_detach(&loop.host);
	WARN_ON(!xa_empty(&loop.windows));
	WARN_ON(!xa_empty(&loop.tokens));
	xa_destroy(&loop.windows);
	xa_destroy(&loop.tokens);
	vfree(loop.win);
}

module_init(ksoc_loop_init);
module_exit(ksoc_loop_exit);

MODULE_DESCRIPTION("kvm-soc loop transport: host and SoC in one kernel");
MODULE_LICENSE("GPL");
