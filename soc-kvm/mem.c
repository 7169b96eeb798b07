// SPDX-License-Identifier: GPL-2.0
/*
 * Host-allocated guest memory on the SoC side (KVM_SOC_F_HOST_MEMORY).
 *
 * When the SoC is another machine, guest RAM cannot be SoC memory the host
 * maps: the host allocates it (pinned, KVM_SOC_OP_MEM_ALLOC) and tells us
 * the DMA addresses of its pieces (KVM_SOC_OP_MEM_RANGES); the transport
 * says where the CPU reaches those (its outbound window, dma_phys).  An
 * object is an anonymous file whose mmap() maps those pages, so QEMU and
 * any process it passes the fd to (vhost-user backends) see guest memory
 * as it is, and a memory slot over such a mapping names the object and
 * page offset to the host (KVM_SOC_MEM_TOKEN).  An ordinary private range
 * given to KVM_SET_USER_MEMORY_REGION is moved into a new object of its
 * size (contents carried over by the bulk path, dma_copy) and the object
 * mapped over the same addresses, as the loop moves such a range into
 * shmem; a shared mapping of another file (QEMU's aux-ram-share RAM
 * blocks) is moved whole.
 *
 * Everything the host says is checked once, when the object is made; a
 * mapping then uses only that copy, so neither the host nor the transport
 * is needed (or locked) in mmap() or a fault.
 *
 * When the host goes (detach), it frees the pages; every object of that
 * host is revoked: its mappings zapped (each object has an inode of its
 * own, on a pseudo file system, so unmap_mapping_range() finds them) and
 * later faults or mmap()s refused.  Pages are inserted at fault time only,
 * under @lock, so no mapping can outlive the revoke.
 *
 * Writes the host must see (KVM_SOC_F_MEM_WRITTEN, the rig's ivshmem):
 * the host machine's CPU keeps translations of code we may overwrite, so
 * an object then maps its pages read-only at first and notes a page in
 * @written when a process first writes it (pfn_mkwrite; the page is made
 * writable after).  Before a vCPU runs, soc_hmem_sync() takes the noted
 * pages, zaps their mappings (a later write faults and notes the page
 * again), and only then has the host store them again
 * (KVM_SOC_OP_MEM_WRITTEN): every write that landed before the zap is
 * seen by the host's CPU before the vCPU enters the guest, and every
 * later one is noted for the next sync.  Writes made while vCPUs run
 * (virtio buffers) are synced at a vCPU's next KVM_RUN, not before the
 * interrupt that announces them.
 *
 * Locking: soc_hmem_list_lock (a mutex) protects the list of live objects
 * and is taken inside soc_kvm_rwsem (detach) and never around it; an
 * object's @lock (rwsem) is taken for reading in faults (under the mmap
 * lock) and for writing by the revoke, which holds no mmap lock.
 * soc_hmem_sync_lock is taken inside soc_kvm_rwsem and outside
 * soc_hmem_list_lock; both are held across the host call of a sync (so a
 * vCPU that finds nothing to sync still waits for one in flight).
 * @written is changed by atomic bit operations and word exchanges only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ksoc_mm.h"
#include "soc.h"

/**
 * struct soc_hmem_range - one piece of an object, as checked at creation.
 * @pgoff: its first page in the object.
 * @nr: pages.
 * @dma: the host's DMA address of it.
 * @phys: where the SoC's CPU reaches it.
 */
struct soc_hmem_range {
	unsigned long pgoff;
	unsigned long nr;
	u64 dma;
	phys_addr_t phys;
};

/**
 * struct soc_hmem - a host memory object (the file's private data).
 * @gen: soc_kvm_gen of the attach that made it: a later host has never
 *	heard of @handle.
 * @handle: the host's handle.
 * @nr_pages: size in pages.
 * @node: in soc_hmem_list.
 * @mapping: its file's address space (its own inode's).
 * @lock: faults (read) against the revoke (write).
 * @revoked: the host is gone; nothing maps the object any more.
 * @written: with KVM_SOC_F_MEM_WRITTEN, a bit per page written since the
 *	last sync; NULL without it.
 * @nr_ranges: entries of @r.
 * @r: the pieces, in object order.
 */
struct soc_hmem {
	u64 gen;
	u32 handle;
	unsigned long nr_pages;
	unsigned long *written;
	struct list_head node;
	struct address_space *mapping;
	struct rw_semaphore lock; /* @revoked against faults */
	bool revoked;
	u32 nr_ranges;
	struct soc_hmem_range r[];
};

static const struct file_operations soc_hmem_fops;

#define SOC_HMEM_MAGIC		0x6b736f68	/* "hosk" */
static struct vfsmount *soc_hmem_mnt;
static LIST_HEAD(soc_hmem_list);
static DEFINE_MUTEX(soc_hmem_list_lock);	/* protects soc_hmem_list */
/* Serialises soc_hmem_sync(); protects soc_hmem_runs. */
static DEFINE_MUTEX(soc_hmem_sync_lock);
/* Some @written bit may be set (a hint: cleared by the sync that looks). */
static atomic_t soc_hmem_pending = ATOMIC_INIT(0);
#define SOC_HMEM_RUNS	512
static struct kvm_soc_mem_pages soc_hmem_runs[SOC_HMEM_RUNS];
/* Requests and pages sent (debugfs; under soc_hmem_sync_lock). */
static u64 soc_hmem_written_calls, soc_hmem_written_pages;

static int soc_hmem_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, SOC_HMEM_MAGIC) ? 0 : -ENOMEM;
}

/*
 * No .owner: the module mounts it for its own lifetime (a reference of its
 * own would keep it from unloading); files hold the module through fops.
 */
static struct file_system_type soc_hmem_fs = {
	.name		 = "kvm-soc-host-memory",
	.init_fs_context = soc_hmem_init_fs_context,
	.kill_sb	 = kill_anon_super,
};

int soc_hmem_init(void)
{
	soc_hmem_mnt = kern_mount(&soc_hmem_fs);
	return PTR_ERR_OR_ZERO(soc_hmem_mnt);
}

void soc_hmem_exit(void)
{
	kern_unmount(soc_hmem_mnt);
}

/**
 * soc_hmem_revoke - the host of attach @gen is gone: unmap its objects.
 * @gen: that attach's soc_kvm->gen.
 *
 * Called by detach (soc_kvm_rwsem held for writing).
 */
void soc_hmem_revoke(u64 gen)
{
	struct soc_hmem *h;

	mutex_lock(&soc_hmem_list_lock);
	list_for_each_entry(h, &soc_hmem_list, node) {
		if (h->gen != gen)
			continue;
		down_write(&h->lock);
		h->revoked = true;
		up_write(&h->lock);
		/* No fault inserts a page from here on: zap what is there. */
		unmap_mapping_range(h->mapping, 0, 0, 1);
	}
	mutex_unlock(&soc_hmem_list_lock);
}

static void soc_hmem_free_on_host(struct soc_kvm *sk, u32 handle)
{
	struct ksoc_api_msg m = { .op = KVM_SOC_OP_MEM_FREE, .arg = handle };

	/* A failed call fails the channel; nothing else to undo here. */
	if (!soc_chan_call(&sk->ctrl, &m, NULL, NULL, 0) && m.result)
		pr_warn_ratelimited("host memory %u: free: %lld\n", handle,
				    m.result);
}

static int soc_hmem_release(struct inode *inode, struct file *file)
{
	struct soc_hmem *h = file->private_data;

	down_read(&soc_kvm_rwsem);
	if (soc_kvm && soc_kvm->gen == h->gen && !soc_chan_dead(&soc_kvm->ctrl))
		soc_hmem_free_on_host(soc_kvm, h->handle);
	up_read(&soc_kvm_rwsem);
	mutex_lock(&soc_hmem_list_lock);
	list_del(&h->node);
	mutex_unlock(&soc_hmem_list_lock);
	kvfree(h->written);
	kvfree(h);
	return 0;
}

static void soc_hmem_note(struct soc_hmem *h, unsigned long pg)
{
	set_bit(pg, h->written);
	/* Ordered after the bit for a sync that clears the hint first. */
	smp_mb__after_atomic();
	atomic_set(&soc_hmem_pending, 1);
}

/* The range holding page @pg (the ranges are sorted, contiguous). */
static const struct soc_hmem_range *soc_hmem_find(const struct soc_hmem *h,
						  unsigned long pg)
{
	u32 lo = 0, hi = h->nr_ranges;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		const struct soc_hmem_range *r = &h->r[mid];

		if (pg < r->pgoff)
			hi = mid;
		else if (pg >= r->pgoff + r->nr)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static vm_fault_t soc_hmem_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct soc_hmem *h = vma->vm_file->private_data;
	unsigned long pg = vma->vm_pgoff +
			   ((vmf->address - vma->vm_start) >> PAGE_SHIFT);
	const struct soc_hmem_range *r;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	down_read(&h->lock);
	r = h->revoked ? NULL : soc_hmem_find(h, pg);
	if (r)
		ret = vmf_insert_pfn(vma, vmf->address & PAGE_MASK,
				     PHYS_PFN(r->phys) + (pg - r->pgoff));
	up_read(&h->lock);
	return ret;
}

/*
 * A write to a page mapped read-only (@written): note it; the caller then
 * makes the entry writable, unless a sync zapped it meanwhile (the write
 * then faults again and is noted again).
 */
static vm_fault_t soc_hmem_pfn_mkwrite(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct soc_hmem *h = vma->vm_file->private_data;

	soc_hmem_note(h, vma->vm_pgoff +
			 ((vmf->address - vma->vm_start) >> PAGE_SHIFT));
	return 0;
}

static const struct vm_operations_struct soc_hmem_vm_ops = {
	.fault	= soc_hmem_fault,
};

static const struct vm_operations_struct soc_hmem_noted_vm_ops = {
	.fault		= soc_hmem_fault,
	.pfn_mkwrite	= soc_hmem_pfn_mkwrite,
};

static int soc_hmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct soc_hmem *h = file->private_data;
	unsigned long pgoff = vma->vm_pgoff, n = vma_pages(vma);
	bool revoked;

	/* Guest memory is shared by nature; a private copy would be no view. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (pgoff > h->nr_pages || n > h->nr_pages - pgoff)
		return -EINVAL;
	down_read(&h->lock);
	revoked = h->revoked;
	up_read(&h->lock);
	if (revoked)
		return -EIO;	/* its host is gone */
	ksoc_vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY);
	vma->vm_ops = &soc_hmem_vm_ops;
	if (h->written) {
		/*
		 * Faults map pages read-only, so the first write is seen
		 * (pfn_mkwrite makes mmap() and mprotect() keep this too).
		 */
		vma->vm_ops = &soc_hmem_noted_vm_ops;
		vma->vm_page_prot = vm_get_page_prot(vma->vm_flags & ~VM_SHARED);
	}
	return 0;
}

/* The size, for lseek(SEEK_END): QEMU sizes an fd's memory that way. */
static loff_t soc_hmem_llseek(struct file *file, loff_t off, int whence)
{
	struct soc_hmem *h = file->private_data;

	return fixed_size_llseek(file, off, whence,
				 (loff_t)h->nr_pages << PAGE_SHIFT);
}

static const struct file_operations soc_hmem_fops = {
	.owner		= THIS_MODULE,
	.release	= soc_hmem_release,
	.mmap		= soc_hmem_mmap,
	.llseek		= soc_hmem_llseek,
};

/*
 * Fetch and check the object's ranges.  The host's answers are input:
 * every range must be page-aligned, reachable, and together exactly the
 * object, in as many ranges as the host said.
 */
static int soc_hmem_fetch(struct soc_kvm *sk, struct soc_hmem **hp, u32 handle,
			  unsigned long nr_pages, bool map)
{
	const u32 cap = 4096;
	struct kvm_soc_mem_range *buf;
	struct soc_hmem *h = NULL;
	unsigned long pgoff = 0;
	u64 total = 0, i, got, addr, len;
	phys_addr_t phys;
	u64 k;
	int ret;

	buf = kmalloc(cap, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; !h || i < total; i += got) {
		struct ksoc_api_msg m = {
			.op = KVM_SOC_OP_MEM_RANGES, .arg = handle, .arg2 = i,
		};

		ret = soc_chan_call(&sk->ctrl, &m, NULL, buf, cap);
		if (ret)
			goto out;
		ret = -EPROTO;
		if (m.result <= 0 || m.len % sizeof(*buf) || !m.len ||
		    (h && m.result != total) || m.result > nr_pages)
			goto out;
		if (!h) {
			total = m.result;
			/* Bounded by the object's pages; a large count is no WARN. */
			h = kvzalloc(struct_size(h, r, total),
				     GFP_KERNEL | __GFP_NOWARN);
			if (!h) {
				ret = -ENOMEM;
				goto out;
			}
			h->nr_ranges = total;
		}
		got = m.len / sizeof(*buf);
		if (got > total - i)
			goto out;
		for (k = 0; k < got; k++) {
			addr = le64_to_cpu(buf[k].addr);
			len = le64_to_cpu(buf[k].len);
			phys = 0;
			if (!len || !PAGE_ALIGNED(addr) || !PAGE_ALIGNED(len) ||
			    len >> PAGE_SHIFT > nr_pages - pgoff ||
			    (map && sk->t->dma_phys(sk->t, addr, len, &phys)))
				goto out;
			h->r[i + k] = (struct soc_hmem_range){
				.pgoff = pgoff, .nr = len >> PAGE_SHIFT,
				.dma = addr, .phys = phys,
			};
			pgoff += len >> PAGE_SHIFT;
		}
	}
	ret = pgoff == nr_pages ? 0 : -EPROTO;
out:
	kfree(buf);
	if (ret)
		kvfree(h);
	else
		*hp = h;
	return ret;
}

/*
 * Have the host allocate @size bytes (KVM_SOC_OP_MEM_ALLOC) and fetch the
 * object's ranges, checked; @map: the SoC's CPU must reach them too.
 * Returns the object (no file, no list yet) or an ERR_PTR().
 */
static struct soc_hmem *soc_hmem_alloc(struct soc_kvm *sk, u64 size, bool map)
{
	struct ksoc_api_msg m = { .op = KVM_SOC_OP_MEM_ALLOC, .arg = size };
	struct soc_hmem *h = NULL;
	long ret;
	u32 handle;

	ret = soc_chan_call(&sk->ctrl, &m, NULL, NULL, 0);
	if (ret)
		return ERR_PTR(ret);
	if (m.result < 0)
		return ERR_PTR(soc_result(m.result));
	if (!m.result || m.result > U32_MAX) {
		soc_chan_fail(&sk->ctrl, "bad memory handle");
		return ERR_PTR(-EIO);
	}
	handle = m.result;
	ret = soc_hmem_fetch(sk, &h, handle, size >> PAGE_SHIFT, map);
	if (ret) {
		if (ret == -EPROTO)
			pr_err_ratelimited("host memory %u: the host's ranges do not describe %llu bytes\n",
					   handle, size);
		soc_hmem_free_on_host(sk, handle);
		return ERR_PTR(ret);
	}
	h->gen = sk->gen;
	h->handle = handle;
	h->nr_pages = size >> PAGE_SHIFT;
	return h;
}

/**
 * soc_hmem_create - a new host memory object.
 * @sk: the attached transport (caller holds soc_kvm_rwsem for reading).
 * @size: bytes, page-aligned.
 *
 * Return: the object's file or an ERR_PTR(): the host's errno
 * (-ENOMEM, -E2BIG), -EPROTO for a host answer that does not add up.
 */
struct file *soc_hmem_create(struct soc_kvm *sk, u64 size)
{
	struct soc_hmem *h;
	struct inode *inode;
	struct file *file;
	u32 handle;

	h = soc_hmem_alloc(sk, size, true);
	if (IS_ERR(h))
		return ERR_CAST(h);
	handle = h->handle;
	init_rwsem(&h->lock);
	if (sk->features & BIT_ULL(KVM_SOC_F_MEM_WRITTEN)) {
		h->written = kvcalloc(BITS_TO_LONGS(h->nr_pages),
				      sizeof(long), GFP_KERNEL);
		if (!h->written) {
			file = ERR_PTR(-ENOMEM);
			goto err;
		}
	}
	inode = alloc_anon_inode(soc_hmem_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		file = ERR_CAST(inode);
		goto err;
	}
	/* The file's fops reference (put by __fput), as anon_inode_getfile(). */
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(inode, soc_hmem_mnt, "kvm-soc-host-memory",
				 O_RDWR, &soc_hmem_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		iput(inode);
		goto err;
	}
	file->private_data = h;
	h->mapping = file->f_mapping;
	mutex_lock(&soc_hmem_list_lock);
	list_add(&h->node, &soc_hmem_list);
	mutex_unlock(&soc_hmem_list_lock);
	return file;

err:
	soc_hmem_free_on_host(sk, handle);
	kvfree(h->written);
	kvfree(h);
	return file;
}

/**
 * soc_bulk_alloc - host memory the SoC only copies to and from (bulk path).
 * @sk: the attached transport (caller holds soc_kvm_rwsem for reading).
 * @size: bytes, page-aligned.
 *
 * Not mapped anywhere on the SoC: its ranges need no CPU window (the loop
 * has none), only the transport's dma_copy, which checks every address
 * it is given.
 *
 * Return: the object or an ERR_PTR() as soc_hmem_create().
 */
struct soc_hmem *soc_bulk_alloc(struct soc_kvm *sk, u64 size)
{
	return soc_hmem_alloc(sk, size, false);
}

/* Free a bulk object: on the host too, unless the host is gone (@sk NULL). */
void soc_bulk_free(struct soc_kvm *sk, struct soc_hmem *b)
{
	if (sk && sk->gen == b->gen && !soc_chan_dead(&sk->ctrl))
		soc_hmem_free_on_host(sk, b->handle);
	kvfree(b);
}

u64 soc_bulk_size(const struct soc_hmem *b)
{
	return (u64)b->nr_pages << PAGE_SHIFT;
}

u32 soc_bulk_handle(const struct soc_hmem *b)
{
	return b->handle;
}

/**
 * soc_bulk_copy - @len bytes at @off of @b to or from @buf (kernel memory).
 * @sk: the attached transport.
 * @b: the object.
 * @off: byte offset in it.
 * @buf: the SoC's side.
 * @len: bytes; [@off, @off + @len) must lie in @b.
 * @to_host: the direction.
 *
 * Return: 0, -EINVAL past the object, or the transport's error.
 */
int soc_bulk_copy(struct soc_kvm *sk, const struct soc_hmem *b, u64 off,
		  void *buf, u64 len, bool to_host)
{
	const struct soc_hmem_range *r;
	u64 n, in;
	int ret;

	if (off > soc_bulk_size(b) || len > soc_bulk_size(b) - off)
		return -EINVAL;
	while (len) {
		r = soc_hmem_find(b, off >> PAGE_SHIFT);
		if (!r)
			return -EINVAL;
		in = off - ((u64)r->pgoff << PAGE_SHIFT);
		n = min_t(u64, len, ((u64)r->nr << PAGE_SHIFT) - in);
		ret = sk->t->dma_copy(sk->t, r->dma + in, buf, n, to_host);
		if (ret)
			return ret;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Copy the caller's [uaddr, uaddr + size) into @h by the bulk path. */
static int soc_hmem_fill(struct soc_kvm *sk, struct soc_hmem *h,
			 unsigned long uaddr)
{
	const u64 chunk = SZ_64K;
	u64 off, len, at;
	void *buf;
	int ret = 0;
	u32 i;

	buf = kvmalloc(chunk, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < h->nr_ranges && !ret; i++) {
		const struct soc_hmem_range *r = &h->r[i];

		for (off = 0; off < (u64)r->nr << PAGE_SHIFT; off += len) {
			len = min_t(u64, chunk, ((u64)r->nr << PAGE_SHIFT) - off);
			at = ((u64)r->pgoff << PAGE_SHIFT) + off;
			ret = -EFAULT;
			if (copy_from_user(buf, (void __user *)(uaddr + at), len))
				break;
			cond_resched();
			ret = -EINTR;
			if (fatal_signal_pending(current))
				break;
			ret = 0;
			/* The host's memory reads as zeroes already. */
			if (!memchr_inv(buf, 0, len))
				continue;
			ret = sk->t->dma_copy(sk->t, r->dma + off, buf, len, true);
			if (ret)
				break;
			/* Not through a mapping: noted here. */
			if (h->written) {
				unsigned long pg = at >> PAGE_SHIFT;

				for (; pg < (at + len) >> PAGE_SHIFT; pg++)
					soc_hmem_note(h, pg);
			}
		}
	}
	kvfree(buf);
	return ret;
}

/*
 * Move [@uaddr, @uaddr + @size) into a new object mapped over the same
 * addresses; the slot starts @pgoff pages into it.  The process must not
 * write the range meanwhile (VMMs add slots before running vCPUs), as on
 * the loop.
 */
static int soc_hmem_move(struct soc_vm *vm, unsigned long uaddr, u64 size,
			 unsigned long prot, unsigned long pgoff, u64 *token)
{
	struct soc_hmem *h;
	struct file *file;
	unsigned long addr;
	int ret;

	file = soc_hmem_create(vm->sk, size);
	if (IS_ERR(file))
		return PTR_ERR(file);
	h = file->private_data;
	ret = soc_hmem_fill(vm->sk, h, uaddr);
	if (!ret) {
		addr = vm_mmap(file, uaddr, size, prot, MAP_SHARED | MAP_FIXED, 0);
		if (IS_ERR_VALUE(addr))
			ret = (long)addr;
	}
	if (!ret)
		*token = KVM_SOC_MEM_TOKEN(h->handle, pgoff);
	/* The mapping holds the file from here on (or nothing does). */
	fput(file);
	return ret;
}

/**
 * soc_hmem_export - name [@uaddr, @uaddr + @size) of the calling process
 * to the host, for a memory slot.
 * @vm: the VM (caller holds vm->lock and soc_kvm_rwsem for reading).
 * @uaddr: start, page-aligned.
 * @size: bytes, page-aligned, > 0.
 * @token: set to KVM_SOC_MEM_TOKEN() of the object the range lies in.
 *
 * A mapping of one object is named as it is; a private range is moved
 * into a new object first, and so is the whole of a shared mapping of
 * another file (which from then on is no longer shared with that file's
 * other mappings: the host cannot reach them).
 *
 * Return: 0, -EFAULT for a range that is not readable and writable memory
 * or that runs past the mapping it starts in (shared mappings), or the
 * errors of soc_hmem_create().
 */
int soc_hmem_export(struct soc_vm *vm, unsigned long uaddr, u64 size,
		    u64 *token)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	struct soc_hmem *h;
	unsigned long prot, pgoff;
	int ret = 0;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, uaddr);
	if (!vma || !(vma->vm_flags & VM_READ) || !(vma->vm_flags & VM_WRITE)) {
		mmap_read_unlock(mm);
		return -EFAULT;
	}
	if (vma->vm_file && vma->vm_file->f_op == &soc_hmem_fops) {
		h = vma->vm_file->private_data;
		pgoff = vma->vm_pgoff + ((uaddr - vma->vm_start) >> PAGE_SHIFT);
		if (uaddr + size > vma->vm_end || h->gen != vm->sk->gen)
			ret = -EFAULT;	/* beyond the object, or a host's before */
		else
			*token = KVM_SOC_MEM_TOKEN(h->handle, pgoff);
		mmap_read_unlock(mm);
		return ret;
	}
	prot = PROT_READ | PROT_WRITE |
	       (vma->vm_flags & VM_EXEC ? PROT_EXEC : 0);
	if (vma->vm_flags & VM_SHARED) {
		/*
		 * A shared file mapping (QEMU's own RAM blocks with aux-ram-share:
		 * the BIOS, mapped at two guest addresses) moves whole, so every
		 * slot over any part of it names the same object.
		 */
		unsigned long start = vma->vm_start, len = vma->vm_end - start;

		mmap_read_unlock(mm);
		if (uaddr + size > start + len)
			return -EFAULT;
		return soc_hmem_move(vm, start, len, prot,
				     (uaddr - start) >> PAGE_SHIFT, token);
	}
	mmap_read_unlock(mm);
	return soc_hmem_move(vm, uaddr, size, prot, 0, token);
}

/* Tell the host about the runs gathered in soc_hmem_runs (already zapped). */
static int soc_hmem_sync_send(struct soc_kvm *sk, struct soc_hmem *h, u32 n,
			      u64 pages)
{
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_MEM_WRITTEN, .arg = h->handle,
		.len = n * sizeof(soc_hmem_runs[0]),
	};
	int ret;

	ret = soc_chan_call(&sk->ctrl, &m, soc_hmem_runs, NULL, 0);
	if (ret)
		return ret;
	soc_hmem_written_calls++;
	soc_hmem_written_pages += pages;
	if (m.result != pages)
		pr_warn_ratelimited("host memory %u: the host stored %lld of %llu written pages again\n",
				    h->handle, m.result, pages);
	return 0;
}

/* A sync of one object: runs gathered in soc_hmem_runs, one still open. */
struct soc_hmem_sync {
	struct soc_kvm *sk;
	struct soc_hmem *h;
	u32 cap;
	u32 n;
	u64 pages;
	unsigned long start;
	unsigned long nr;
};

/* Close the open run (zapped first), and send the runs when full. */
static int soc_hmem_sync_close(struct soc_hmem_sync *y)
{
	int ret;

	if (y->nr) {
		/* No mapping writes the run unnoted from here on. */
		unmap_mapping_range(y->h->mapping, (loff_t)y->start << PAGE_SHIFT,
				    (loff_t)y->nr << PAGE_SHIFT, 1);
		soc_hmem_runs[y->n].pgoff = cpu_to_le64(y->start);
		soc_hmem_runs[y->n].nr = cpu_to_le64(y->nr);
		y->n++;
		y->pages += y->nr;
		y->nr = 0;
	}
	if (y->n < y->cap && y->pages < KVM_SOC_MEM_WRITTEN_MAX)
		return 0;
	ret = soc_hmem_sync_send(y->sk, y->h, y->n, y->pages);
	y->n = 0;
	y->pages = 0;
	return ret;
}

/* Take @h's noted pages, zap them and have the host store them again. */
static int soc_hmem_sync_one(struct soc_kvm *sk, struct soc_hmem *h, u32 cap)
{
	struct soc_hmem_sync y = { .sk = sk, .h = h, .cap = cap };
	unsigned long i, b, bits, pg;
	int ret;

	for (i = 0; i < BITS_TO_LONGS(h->nr_pages); i++) {
		if (!READ_ONCE(h->written[i]))
			continue;
		bits = xchg(&h->written[i], 0);
		for_each_set_bit(b, &bits, BITS_PER_LONG) {
			pg = i * BITS_PER_LONG + b;
			if (y.nr && y.start + y.nr == pg &&
			    y.pages + y.nr < KVM_SOC_MEM_WRITTEN_MAX) {
				y.nr++;
				continue;
			}
			ret = soc_hmem_sync_close(&y);
			if (ret)
				return ret;
			y.start = pg;
			y.nr = 1;
		}
	}
	ret = soc_hmem_sync_close(&y);
	if (!ret && y.n)
		ret = soc_hmem_sync_send(sk, h, y.n, y.pages);
	return ret;
}

/**
 * soc_hmem_sync - have the host store again what our processes wrote.
 * @sk: the attached transport (caller holds soc_kvm_rwsem for reading).
 *
 * Called before a vCPU runs.  Without KVM_SOC_F_MEM_WRITTEN nothing is
 * noted and this returns at once.
 *
 * Return: 0, or the channel's error (the host is gone).
 */
int soc_hmem_sync(struct soc_kvm *sk)
{
	u32 cap = min_t(u32, SOC_HMEM_RUNS,
			ksoc_api_payload_max(&sk->ctrl.l) / sizeof(soc_hmem_runs[0]));
	struct soc_hmem *h;
	int ret = 0;

	if (!(sk->features & BIT_ULL(KVM_SOC_F_MEM_WRITTEN)))
		return 0;
	mutex_lock(&soc_hmem_sync_lock);
	/* Full barrier: every bit set before the hint was set is seen below. */
	if (atomic_xchg(&soc_hmem_pending, 0)) {
		mutex_lock(&soc_hmem_list_lock);
		list_for_each_entry(h, &soc_hmem_list, node) {
			if (h->gen != sk->gen || !h->written)
				continue;
			ret = soc_hmem_sync_one(sk, h, cap);
			if (ret)
				break;
		}
		mutex_unlock(&soc_hmem_list_lock);
	}
	mutex_unlock(&soc_hmem_sync_lock);
	return ret;
}

/*
 * debugfs mem_written: "HANDLE PGOFF NR" sends one KVM_SOC_OP_MEM_WRITTEN
 * of one run as a SoC that may be hostile would (HANDLE 0: the newest
 * object); reading gives the host's answer.  For the hostile-input tests.
 */
static s64 soc_hmem_probe_result;

static ssize_t soc_hmem_probe_write(struct file *file, const char __user *ubuf,
				    size_t len, loff_t *ppos)
{
	struct kvm_soc_mem_pages run;
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_MEM_WRITTEN, .len = sizeof(run),
	};
	unsigned long long pgoff, nr;
	struct soc_hmem *h;
	char buf[80];
	u32 handle;
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	if (sscanf(buf, "%u %llu %llu", &handle, &pgoff, &nr) != 3)
		return -EINVAL;
	run.pgoff = cpu_to_le64(pgoff);
	run.nr = cpu_to_le64(nr);
	down_read(&soc_kvm_rwsem);
	ret = -ENXIO;
	if (!soc_kvm)
		goto out;
	if (!handle) {
		mutex_lock(&soc_hmem_list_lock);
		h = list_first_entry_or_null(&soc_hmem_list, struct soc_hmem, node);
		handle = h ? h->handle : 0;
		mutex_unlock(&soc_hmem_list_lock);
	}
	m.arg = handle;
	ret = soc_chan_call(&soc_kvm->ctrl, &m, &run, NULL, 0);
	if (!ret)
		WRITE_ONCE(soc_hmem_probe_result, m.result);
out:
	up_read(&soc_kvm_rwsem);
	return ret ? ret : len;
}

static ssize_t soc_hmem_probe_read(struct file *file, char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	char buf[32];
	int n = scnprintf(buf, sizeof(buf), "%lld\n",
			  READ_ONCE(soc_hmem_probe_result));

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations soc_hmem_probe_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.write	= soc_hmem_probe_write,
	.read	= soc_hmem_probe_read,
	.llseek	= default_llseek,
};

void soc_hmem_debugfs(struct dentry *dir)
{
	debugfs_create_file("mem_written", 0600, dir, NULL, &soc_hmem_probe_fops);
	debugfs_create_u64("mem_written_calls", 0400, dir, &soc_hmem_written_calls);
	debugfs_create_u64("mem_written_pages", 0400, dir, &soc_hmem_written_pages);
}
