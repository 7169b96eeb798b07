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
 * The dirty ring (KVM_CAP_DIRTY_LOG_RING, _ACQ_REL; KVM_SOC_F_DIRTY_RING)
 * is carried with rings of the SoC's own.  KVM writes its per-vCPU rings
 * on the host while the vCPU runs; the SoC could read those coherently
 * only through a mapping of host pages, so the host harvests them
 * instead, as a VMM would, and the entries come over at exits: an exit
 * flagged KVM_SOC_IOREQ_F_DIRTY makes KVM_RUN move the host's new entries
 * (KVM_SOC_OP_DIRTY_RING, through a host memory object per vCPU, by the
 * bulk path) into the vCPU's ring here before it returns.  Userspace sees
 * them when KVM_RUN returns, which is what it relies on with KVM: QEMU
 * kicks every vCPU out of KVM_RUN before its last harvest.  The host
 * marks what it moved harvested, so KVM_RESET_DIRTY_RINGS resets the
 * SoC's rings and then the host's: a page the SoC holds an unharvested
 * entry for may be re-armed early, which costs at most a second entry.
 * An entry the SoC's ring has no room for stays in the host's, whose full
 * ring stops the vCPU with KVM_EXIT_DIRTY_RING_FULL as KVM's would.
 *
 * Locking: the caller holds vm->lock (it serialises @vm->bulk, the ring
 * size and the resets); a vCPU's pushes run under its mutex.  A ring has
 * one pusher and one resetter: each publishes its index with a release
 * after the entries it wrote, and reads the other's with an acquire.
 */
#include <linux/kvm.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

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

/* ---- dirty ring -------------------------------------------------------- */

/* KVM's largest ring (KVM_DIRTY_RING_MAX_ENTRIES entries). */
#define SOC_DIRTY_RING_MAX	(65536 * sizeof(struct kvm_dirty_gfn))

static bool soc_cap_is_ring(u32 cap)
{
	return cap == KVM_CAP_DIRTY_LOG_RING || cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
}

/**
 * soc_vm_enable_cap - KVM_ENABLE_CAP on a VM.
 * @vm: the VM (caller holds vm->lock: no vCPU is created meanwhile).
 * @arg: the caller's struct kvm_enable_cap.
 *
 * Forwarded as fetched once; the ring's size is kept when the host's KVM
 * took it (KVM checks it: a power of two, a page at least, 1 MiB at most,
 * before any vCPU, once).
 *
 * Return: KVM's result; -EINVAL for the dirty ring without
 * KVM_SOC_F_DIRTY_RING, as KVM answers for a capability it lacks.
 */
long soc_vm_enable_cap(struct soc_vm *vm, unsigned long arg)
{
	struct kvm_enable_cap c;
	bool ring;
	u32 size;
	long r;

	lockdep_assert_held(&vm->lock);
	if (copy_from_user(&c, (void __user *)arg, sizeof(c)))
		return -EFAULT;
	ring = soc_cap_is_ring(c.cap);
	if (ring && !(vm->sk->features & BIT_ULL(KVM_SOC_F_DIRTY_RING)))
		return -EINVAL;
	r = soc_fwd_ioctl_kern(&vm->chan, KVM_SOC_OP_VM_IOCTL, KSOC_LVL_VM,
			       KVM_ENABLE_CAP, &c, vm->xsave_size, 0);
	if (!ring || r)
		return r;
	size = c.args[0];	/* KVM takes a u32 */
	if (vm->dirty_ring_size || vm->nr_vcpus || !is_power_of_2(size) ||
	    size < sizeof(struct kvm_dirty_gfn) || size > SOC_DIRTY_RING_MAX) {
		soc_chan_fail(&vm->chan, "dirty ring the host should have refused");
		return -EIO;
	}
	vm->dirty_ring_size = size;
	return 0;
}

/**
 * soc_vcpu_ring_alloc - a new vCPU's ring, if the VM has rings.
 * @vcpu: the vCPU (caller holds vm->lock and soc_kvm_rwsem for reading).
 *
 * Return: 0 or -ENOMEM, or the host's error for the object.
 */
int soc_vcpu_ring_alloc(struct soc_vcpu *vcpu)
{
	struct soc_vm *vm = vcpu->vm;
	u32 size = vm->dirty_ring_size;
	struct soc_hmem *b;

	if (!size)
		return 0;
	vcpu->ring = vmalloc_user(PAGE_ALIGN(size));
	vcpu->ring_buf = kvmalloc(min_t(u32, size, SOC_BULK_CHUNK), GFP_KERNEL);
	if (!vcpu->ring || !vcpu->ring_buf)
		return -ENOMEM;
	b = soc_bulk_alloc(vm->sk, PAGE_ALIGN(min_t(u32, size, SOC_BULK_CHUNK)));
	if (IS_ERR(b))
		return PTR_ERR(b);
	vcpu->ring_bulk = b;
	return 0;
}

/*
 * Free what soc_vcpu_ring_alloc() made.  @sk: the transport the object is
 * on (caller holds soc_kvm_rwsem for reading), NULL when it is gone.
 */
void soc_vcpu_ring_free(struct soc_vcpu *vcpu, struct soc_kvm *sk)
{
	if (vcpu->ring_bulk)
		soc_bulk_free(sk, vcpu->ring_bulk);
	vcpu->ring_bulk = NULL;
	kvfree(vcpu->ring_buf);
	vfree(vcpu->ring);
}

/* The ring's page userspace maps at KVM_DIRTY_LOG_PAGE_OFFSET + @pgoff. */
struct page *soc_vcpu_ring_page(struct soc_vcpu *vcpu, unsigned long pgoff)
{
	if (!vcpu->ring ||
	    pgoff >= PAGE_ALIGN(vcpu->vm->dirty_ring_size) >> PAGE_SHIFT)
		return NULL;
	return vmalloc_to_page((u8 *)vcpu->ring + (pgoff << PAGE_SHIFT));
}

/**
 * soc_vcpu_ring_pull - move the host's new entries of a vCPU's ring into
 * ours, as many as it has room for.
 * @vcpu: the vCPU (its mutex held, in KVM_RUN, with an exit taken that
 *	said KVM_SOC_IOREQ_F_DIRTY: the host vCPU is stopped and serves the
 *	vCPU's API slot).
 *
 * What finds no room stays in the host's ring (see above).
 *
 * Return: 0, -EIO for a host that broke the protocol (the channel fails:
 * entries it marked harvested would be lost), -EINTR for a fatal signal.
 */
int soc_vcpu_ring_pull(struct soc_vcpu *vcpu)
{
	struct soc_vm *vm = vcpu->vm;
	u32 nr = vm->dirty_ring_size / sizeof(*vcpu->ring), batch, room, i;
	struct ksoc_api_msg m;
	long got;
	int r;

	if (!vcpu->ring) {
		soc_chan_fail(&vm->chan, "dirty entries for a vCPU without a ring");
		return -EIO;
	}
	batch = min_t(u32, nr, SOC_BULK_CHUNK / sizeof(*vcpu->ring_buf));
	for (;;) {
		/* Pairs with the release in soc_vcpu_ring_reset(). */
		room = nr - (vcpu->ring_dirty - smp_load_acquire(&vcpu->ring_reset));
		if (!room)
			return 0;
		m = (struct ksoc_api_msg) {
			.op = KVM_SOC_OP_DIRTY_RING, .target = vcpu->idx,
			.arg = min(room, batch),
			.arg2 = KVM_SOC_MEM_TOKEN(soc_bulk_handle(vcpu->ring_bulk), 0) +
				READ_ONCE(soc_mem_token_fault),
		};
		r = soc_chan_call_slot(vcpu->chan, vcpu->api_slot, &m, NULL,
				       NULL, 0, true);
		if (r)
			return r == -EINTR ? r : -EIO;
		got = soc_result(m.result);
		if (got < 0 || got > m.arg) {
			soc_chan_fail(&vm->chan, "dirty ring entries not moved");
			return -EIO;
		}
		if (got && soc_bulk_copy(vm->sk, vcpu->ring_bulk, 0, vcpu->ring_buf,
					 got * sizeof(*vcpu->ring_buf), false)) {
			soc_chan_fail(&vm->chan, "dirty ring entries not copied");
			return -EIO;
		}
		for (i = 0; i < got; i++) {
			struct kvm_dirty_gfn *g = &vcpu->ring[vcpu->ring_dirty & (nr - 1)];

			g->slot = le32_to_cpu(vcpu->ring_buf[i].slot);
			g->offset = le64_to_cpu(vcpu->ring_buf[i].offset);
			/* The entry before its flag, as kvm_dirty_ring_push(). */
			smp_store_release(&g->flags, KVM_DIRTY_GFN_F_DIRTY);
			/* Pairs with the acquire in soc_vcpu_ring_reset(). */
			smp_store_release(&vcpu->ring_dirty, vcpu->ring_dirty + 1);
		}
		if (got < m.arg)
			return 0;
	}
}

/*
 * Reset the entries userspace harvested, from the oldest, as KVM's
 * kvm_dirty_ring_reset() does; never past what was pushed, whatever
 * userspace wrote into the flags.  Returns the number reset.
 */
static u32 soc_vcpu_ring_reset(struct soc_vcpu *vcpu)
{
	u32 nr = vcpu->vm->dirty_ring_size / sizeof(*vcpu->ring);
	/* Pairs with the release of ring_dirty in soc_vcpu_ring_pull(). */
	u32 dirty = smp_load_acquire(&vcpu->ring_dirty);
	u32 reset = vcpu->ring_reset, n = 0;

	while (reset != dirty) {
		struct kvm_dirty_gfn *g = &vcpu->ring[reset & (nr - 1)];

		/* Userspace's harvest: pairs with its release of the flags. */
		if (!(smp_load_acquire(&g->flags) & KVM_DIRTY_GFN_F_RESET))
			break;
		WRITE_ONCE(g->flags, 0);
		reset++;
		n++;
	}
	/* The cleared flags before the room: pairs with the pull's acquire. */
	smp_store_release(&vcpu->ring_reset, reset);
	return n;
}

/**
 * soc_vm_reset_dirty_rings - KVM_RESET_DIRTY_RINGS.
 * @vm: the VM (caller holds vm->lock and soc_kvm_rwsem for reading).
 *
 * The SoC's rings, then the host's KVM, which re-arms every page the host
 * moved to the SoC.
 *
 * Return: the entries reset in the SoC's rings; KVM's error (-EINVAL
 * without rings).
 */
long soc_vm_reset_dirty_rings(struct soc_vm *vm)
{
	struct soc_vcpu *vcpu;
	long r, n = 0;
	u32 i;

	lockdep_assert_held(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		vcpu = rcu_dereference_protected(vm->vcpus[i],
						 lockdep_is_held(&vm->lock));
		if (vcpu && vcpu->ring)
			n += soc_vcpu_ring_reset(vcpu);
	}
	r = soc_fwd_ioctl(&vm->chan, KVM_SOC_OP_VM_IOCTL, 0, -1, KSOC_LVL_VM,
			  KVM_RESET_DIRTY_RINGS, 0, vm->xsave_size, 0);
	return r < 0 ? r : n;
}
