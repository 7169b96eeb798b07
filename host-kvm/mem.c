// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory on the host side.
 *
 * The SoC names each memory slot's region with a transport memory token.
 * The VM's main thread imports the region and has the transport map it,
 * shared, into the helper's address space; the mapping's address replaces
 * the SoC's userspace_addr in the KVM_SET_USER_MEMORY_REGION(2) that goes
 * to stock KVM, which uses it as any VMM's memory (and zaps its own
 * mappings through its MMU notifier when ours goes away).
 *
 * @vm->slots is touched by the VM's main thread only (and by the owner
 * after that thread is gone).
 */
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "host.h"

/**
 * struct hk_slot - a memory slot as host-kvm mapped it.
 * @size: bytes.
 * @hva: address of the mapping in the helper.
 * @token: the SoC's token for the region.
 */
struct hk_slot {
	u64 size;
	unsigned long hva;
	u64 token;
};

/* Map a SoC region into the helper; returns the address or 0. */
static unsigned long hk_mem_map(struct hk_vm *vm, u64 token, u64 size)
{
	struct ksoc_transport *t = vm->hk->t;
	struct ksoc_mem *mem;
	unsigned long hva;

	if (!t->mem_import)
		return 0;	/* the transport cannot reach SoC memory */
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
		hva = hk_mem_map(vm, m->arg2, size);
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
			kfree(old);
		}
	} else if (hva) {
		s = kzalloc(sizeof(*s), GFP_KERNEL);
		if (s) {
			s->size = size;
			s->hva = hva;
			s->token = m->arg2;
			err = xa_err(xa_store(&vm->slots, r->slot, s, GFP_KERNEL));
			if (err)
				kfree(s);
		}
		/* Untracked, the mapping still goes with the helper. */
	}
	return 0;

err_unmap:
	if (hva)
		vm_munmap(hva, size);
	return ret;
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
		kfree(s);
	}
}
