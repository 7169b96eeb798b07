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
 * Locking: soc_hmem_list_lock (a mutex) protects the list of live objects
 * and is taken inside soc_kvm_rwsem (detach) and never around it; an
 * object's @lock (rwsem) is taken for reading in faults (under the mmap
 * lock) and for writing by the revoke, which holds no mmap lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

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
 * @nr_ranges: entries of @r.
 * @r: the pieces, in object order.
 */
struct soc_hmem {
	u64 gen;
	u32 handle;
	unsigned long nr_pages;
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
	kvfree(h);
	return 0;
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

static const struct vm_operations_struct soc_hmem_vm_ops = {
	.fault	= soc_hmem_fault,
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
			  unsigned long nr_pages)
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
			if (!len || !PAGE_ALIGNED(addr) || !PAGE_ALIGNED(len) ||
			    len >> PAGE_SHIFT > nr_pages - pgoff ||
			    sk->t->dma_phys(sk->t, addr, len, &phys))
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
	struct ksoc_api_msg m = { .op = KVM_SOC_OP_MEM_ALLOC, .arg = size };
	struct soc_hmem *h = NULL;
	struct inode *inode;
	struct file *file;
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
	ret = soc_hmem_fetch(sk, &h, handle, size >> PAGE_SHIFT);
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
	init_rwsem(&h->lock);
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
	kvfree(h);
	return file;
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
