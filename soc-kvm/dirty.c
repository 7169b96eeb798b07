// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging for the SoC (KVM_SOC_F_DIRTY_LOG).
 *
 * KVM keeps a guest's dirty bitmap on the host.  A bitmap is bulk data, 1
 * bit per 4 KiB page (32 MiB for a 1 TiB slot), so it never travels in an
 * API slot: each VM has a host memory object (@vm->bulk, allocated by the
 * host, its DMA ranges fetched once, grown when a larger slot asks) that
 * the request names in arg2.  The host maps it for KVM's call, so
 * KVM_GET_DIRTY_LOG writes the bitmap there and KVM_CLEAR_DIRTY_LOG reads
 * it from there; the SoC copies it out or in by the transport's bulk path
 * (a DPU's DMA engine; a copy on the loop), in chunks, to or from the
 * caller's own bitmap.
 *
 * Errors are KVM's, in KVM's order: the host runs KVM's checks, and the
 * SoC touches the caller's bitmap only where KVM would (a CLEAR's bitmap
 * is read only when the slot logs and the range is one KVM accepts; a
 * GET's is written only after KVM succeeded, as KVM copies it out last).
 *
 * Dirtiness: KVM marks what the guest writes (and what KVM itself writes
 * into guest memory).  What QEMU on the SoC writes into guest memory (its
 * device models, DMA into virtio buffers) QEMU tracks itself, as it does
 * with KVM.  Nothing on the host writes guest memory on the SoC's behalf
 * today; the one host-side store (KVM_SOC_OP_MEM_WRITTEN) writes back
 * what the memory already holds and changes nothing to migrate.
 *
 * The dirty ring (KVM_CAP_DIRTY_LOG_RING*) is not carried and reads 0:
 * its rings are per-vCPU pages KVM writes while the vCPU runs, which the
 * SoC could only read coherently through a mapping of host pages, and
 * KVM_RESET_DIRTY_RINGS would have to follow every harvest.  QEMU falls
 * back to the bitmap.
 *
 * Locking: the caller holds vm->lock (it serialises @vm->bulk).
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "soc.h"

#define SOC_BULK_CHUNK	SZ_64K

/* Bytes of a bitmap of @pages, as KVM sizes it (a long per 64 pages). */
static u64 soc_bitmap_bytes(u64 pages)
{
	return ALIGN(pages, 64) / 8;
}

/* Make @vm->bulk at least @bytes long. */
static int soc_vm_bulk(struct soc_vm *vm, u64 bytes)
{
	struct soc_hmem *b;

	if (vm->bulk && soc_bulk_size(vm->bulk) >= bytes)
		return 0;
	b = soc_bulk_alloc(vm->sk, roundup_pow_of_two(max_t(u64, bytes, SZ_64K)));
	if (IS_ERR(b))
		return PTR_ERR(b);
	if (vm->bulk)
		soc_bulk_free(vm->sk, vm->bulk);
	vm->bulk = b;
	return 0;
}

/* @bytes between the caller's @ubuf and the start of @vm->bulk. */
static int soc_vm_bulk_xfer(struct soc_vm *vm, void __user *ubuf, u64 bytes,
			    bool to_host)
{
	u64 off, len;
	int ret = 0;
	void *buf;

	buf = kvmalloc(min_t(u64, bytes, SOC_BULK_CHUNK), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (off = 0; off < bytes && !ret; off += len) {
		len = min_t(u64, bytes - off, SOC_BULK_CHUNK);
		if (to_host) {
			ret = copy_from_user(buf, ubuf + off, len) ? -EFAULT :
			      soc_bulk_copy(vm->sk, vm->bulk, off, buf, len, true);
		} else {
			ret = soc_bulk_copy(vm->sk, vm->bulk, off, buf, len, false);
			if (!ret && copy_to_user(ubuf + off, buf, len))
				ret = -EFAULT;
		}
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
		cond_resched();
	}
	kvfree(buf);
	return ret;
}

/**
 * soc_vm_dirty_log - KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG.
 * @vm: the VM (caller holds vm->lock and soc_kvm_rwsem for reading).
 * @cmd: the ioctl.
 * @arg: the caller's struct kvm_dirty_log or struct kvm_clear_dirty_log.
 *
 * Return: KVM's result, -EOPNOTSUPP without KVM_SOC_F_DIRTY_LOG, -EIO
 * for a host that reports a bitmap of a slot we never gave it.
 */
long soc_vm_dirty_log(struct soc_vm *vm, unsigned int cmd, unsigned long arg)
{
	union {
		struct kvm_dirty_log get;
		struct kvm_clear_dirty_log clear;
	} u;
	bool is_get = cmd == KVM_GET_DIRTY_LOG;
	u32 in = is_get ? sizeof(u.get) : sizeof(u.clear);
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_VM_IOCTL, .arg = cmd, .len = in,
	};
	void __user *ubitmap;
	struct soc_slot *s;
	u64 pages, first, nr, bytes = 0;
	long r;

	lockdep_assert_held(&vm->lock);
	if (!(vm->sk->features & BIT_ULL(KVM_SOC_F_DIRTY_LOG)))
		return -EOPNOTSUPP;
	if (copy_from_user(&u, (void __user *)arg, in))
		return -EFAULT;
	s = xa_load(&vm->slots, is_get ? u.get.slot : u.clear.slot);
	pages = s ? s->size >> PAGE_SHIFT : 0;
	if (is_get) {
		ubitmap = u.get.dirty_bitmap;
		u.get.padding2 = 0;
		/* Sent for any slot we know: KVM says whether it logs. */
		if (s)
			bytes = soc_bitmap_bytes(pages);
	} else {
		ubitmap = u.clear.dirty_bitmap;
		u.clear.padding2 = 0;
		first = u.clear.first_page;
		nr = u.clear.num_pages;
		/* Only what kvm_clear_dirty_log_protect() goes on to read. */
		if (s && (s->flags & KVM_MEM_LOG_DIRTY_PAGES) && !(first & 63) &&
		    first <= pages && nr <= pages - first &&
		    (nr == pages - first || !(nr & 63)))
			bytes = soc_bitmap_bytes(nr);
	}
	if (bytes) {
		r = soc_vm_bulk(vm, bytes);
		if (r)
			return r;
		m.arg2 = KVM_SOC_MEM_TOKEN(soc_bulk_handle(vm->bulk), 0) +
			 READ_ONCE(soc_mem_token_fault);
		if (!is_get) {
			r = soc_vm_bulk_xfer(vm, ubitmap, bytes, true);
			if (r)
				return r;
		}
	}
	r = soc_chan_call_killable(&vm->chan, &m, &u, NULL, 0);
	if (r)
		return r;
	r = soc_result(m.result);
	if (!is_get || r)
		return r;
	if (!bytes) {
		soc_chan_fail(&vm->chan, "dirty log of a slot the SoC never made");
		return -EIO;
	}
	return soc_vm_bulk_xfer(vm, ubitmap, bytes, false);
}
