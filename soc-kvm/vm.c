// SPDX-License-Identifier: GPL-2.0
/*
 * VM files of /dev/kvm-soc: KVM's fd levels, KVM's ioctl numbers.
 *
 * A VM file owns a VM window (mapped through the transport); its vCPU
 * files (vcpu.c) each hold a reference on it.
 *
 * Every file operation holds soc_kvm_rwsem for read; detach takes it for
 * write after marking every window dead, so no operation touches a window
 * or the transport after detach.  After detach a VM answers -EIO.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "soc.h"

/* KVM's own limit on a memory slot (KVM_MEM_MAX_NR_PAGES, not in uapi). */
#define SOC_MEM_MAX_NR_PAGES	((1UL << 31) - 1)

/* Retire a slot's region (the host keeps its own references). */
static void soc_slot_free(struct ksoc_transport *t, struct soc_slot *s)
{
	if (s->exported)
		t->mem_unexport(t, s->token);
	kfree(s);
}

/* Retire every exported region (the host keeps its own references). */
static void soc_vm_drop_slots(struct soc_vm *vm, struct ksoc_transport *t)
{
	struct soc_slot *s;
	unsigned long id;

	xa_for_each(&vm->slots, id, s) {
		xa_erase(&vm->slots, id);
		soc_slot_free(t, s);
	}
}

static void soc_vm_release_ref(struct kref *ref)
{
	struct soc_vm *vm = container_of(ref, struct soc_vm, ref);
	struct soc_kvm *sk;
	struct ksoc_api_msg m = { .op = KVM_SOC_OP_DESTROY_VM };

	/* Outside soc_kvm_rwsem: the event works take it. */
	soc_ev_stop(vm, true);
	down_read(&soc_kvm_rwsem);
	sk = vm->sk;
	if (!vm->dead) {
		m.target = vm->chan.id;
		xa_erase(&sk->vms, vm->chan.id);
		if (!soc_chan_call(&sk->ctrl, &m, NULL, NULL, 0) && m.result)
			pr_warn_ratelimited("vm %u: host destroy failed: %lld\n",
					    vm->chan.id, m.result);
		/* Doorbells that still see the VM read its window. */
		synchronize_rcu();
		sk->t->window_unmap(sk->t, vm->chan.id);
		soc_vm_drop_slots(vm, sk->t);
	}
	/* After a detach the host freed it with everything else. */
	if (vm->bulk)
		soc_bulk_free(vm->dead ? NULL : sk, vm->bulk);
	soc_chan_bulk_free(&vm->chan, vm->dead ? NULL : sk);
	up_read(&soc_kvm_rwsem);
	soc_ev_free_all(vm);
	mmdrop(vm->mm);
	/* vCPU mappings of the ring hold their own references. */
	__free_page(vm->coalesced);
	kfree_rcu(vm, rcu);
}

void soc_vm_put(struct soc_vm *vm)
{
	kref_put(&vm->ref, soc_vm_release_ref);
}

/*
 * Wake KVM_RUN sleepers: those whose exit arrived, or all (@all, or the VM
 * is dead).  Any context.
 */
static void soc_vm_wake_vcpus(struct soc_vm *vm, bool all)
{
	u32 i, n = READ_ONCE(vm->nr_vcpus);
	struct soc_vcpu *vcpu;

	if (READ_ONCE(vm->chan.failed) || READ_ONCE(vm->dead))
		all = true;
	rcu_read_lock();
	for (i = 0; i < n; i++) {
		vcpu = rcu_dereference(vm->vcpus[i]);
		if (vcpu && (all || soc_vcpu_exit_ready(vcpu)))
			wake_up_all(&vcpu->wq);
		/* A call in its own window: answered, or the VM died. */
		if (vcpu && vcpu->own)
			wake_up_all(&vcpu->own->wq);
	}
	rcu_read_unlock();
	if (all)
		wake_up_all(&vm->posted_wq);
}

static void soc_vm_chan_failed(struct soc_chan *c)
{
	soc_vm_wake_vcpus(container_of(c, struct soc_vm, chan), true);
}

/* ---- Binary stats ----------------------------------------------------- */

/**
 * struct soc_stats - a KVM_GET_STATS_FD file of the SoC.
 * @vm: its VM (a reference).
 * @who: 0 for the VM's stats, a vCPU's index + 1 for its own.
 *
 * It reads the host KVM's stats file of the same VM or vCPU, header,
 * descriptors and live values alike, a payload at a time.
 */
struct soc_stats {
	struct soc_vm *vm;
	u32 who;
};

static ssize_t soc_stats_read(struct file *file, char __user *ubuf,
			      size_t size, loff_t *ppos)
{
	struct soc_stats *st = file->private_data;
	struct soc_vm *vm = st->vm;
	u32 max = ksoc_api_payload_max(&vm->chan.l);
	struct ksoc_stats_read req;
	struct ksoc_api_msg m;
	size_t done = 0;
	long r = 0;
	u8 *buf;

	buf = kvmalloc(max, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	down_read(&soc_kvm_rwsem);
	while (done < size) {
		u32 n = min_t(size_t, size - done, max);

		if (!soc_vm_ok(vm)) {
			r = -EIO;
			break;
		}
		req.offset = cpu_to_le64(*ppos);
		req.len = cpu_to_le32(n);
		req.who = cpu_to_le32(st->who);
		m = (struct ksoc_api_msg){
			.op = KVM_SOC_OP_VM_IOCTL, .arg = KVM_GET_STATS_FD,
			.len = sizeof(req),
		};
		r = soc_chan_call_killable(&vm->chan, &m, &req, buf, n);
		if (!r)
			r = soc_result(m.result);
		if (r < 0)
			break;
		if (r > 0 || m.len > n) {	/* the host answers 0 and the bytes */
			soc_chan_fail(&vm->chan, "oversized stats read");
			r = -EIO;
			break;
		}
		if (copy_to_user(ubuf + done, buf, m.len)) {
			r = -EFAULT;
			break;
		}
		done += m.len;
		*ppos += m.len;
		if (m.len < n)
			break;
	}
	up_read(&soc_kvm_rwsem);
	kvfree(buf);
	return done ? done : r;
}

static int soc_stats_release(struct inode *inode, struct file *file)
{
	struct soc_stats *st = file->private_data;

	soc_vm_put(st->vm);
	kfree(st);
	return 0;
}

static const struct file_operations soc_stats_fops = {
	.owner		= THIS_MODULE,
	.read		= soc_stats_read,
	.release	= soc_stats_release,
	.llseek		= noop_llseek,
};

/* KVM_GET_STATS_FD on the VM (@who 0) or on vCPU @who - 1, as KVM names it. */
long soc_stats_open(struct soc_vm *vm, u32 who)
{
	struct soc_stats *st;
	struct file *file;
	char name[32];
	int fd;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	st->vm = vm;
	st->who = who;
	if (who)
		snprintf(name, sizeof(name), "kvm-vcpu-stats:%u", who - 1);
	else
		strscpy(name, "kvm-vm-stats", sizeof(name));
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		kfree(st);
		return fd;
	}
	file = anon_inode_getfile(name, &soc_stats_fops, st, O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		kfree(st);
		return PTR_ERR(file);
	}
	kref_get(&vm->ref);
	file->f_mode |= FMODE_PREAD;
	fd_install(fd, file);
	return fd;
}

/* ---- VM --------------------------------------------------------------- */

/*
 * KVM_SET_USER_MEMORY_REGION(2): the region is exported through the
 * transport (pinned on the loop) and the host maps it.  KVM's own checks
 * that a region cannot pass are made first, with KVM's errnos, so nothing
 * is pinned for a request KVM would refuse.  Caller holds vm->lock.
 */
static long soc_vm_set_memory(struct soc_vm *vm, unsigned int cmd,
			      unsigned long arg)
{
	struct ksoc_transport *t = vm->chan.t;
	/* Both forms start with the same fields (KVM's own code relies on it). */
	union {
		struct kvm_userspace_memory_region r1;
#ifdef KVM_SET_USER_MEMORY_REGION2
		struct kvm_userspace_memory_region2 r2;
#endif
	} u;
	struct kvm_userspace_memory_region r;
	struct soc_slot *old, *s = NULL;
	u64 token = 0;
	s64 ret;

	lockdep_assert_held(&vm->lock);
	if (_IOC_SIZE(cmd) > sizeof(u))
		return -EINVAL;
	/* Fetched once: what is checked here is what the host gets. */
	if (copy_from_user(&u, (void __user *)arg, _IOC_SIZE(cmd)))
		return -EFAULT;
	memcpy(&r, &u, sizeof(r));
	if (!PAGE_ALIGNED(r.memory_size) || !PAGE_ALIGNED(r.guest_phys_addr) ||
	    !PAGE_ALIGNED(r.userspace_addr) ||
	    r.guest_phys_addr + r.memory_size < r.guest_phys_addr ||
	    (r.memory_size >> PAGE_SHIFT) > SOC_MEM_MAX_NR_PAGES ||
	    !access_ok((void __user *)(unsigned long)r.userspace_addr,
		       r.memory_size))
		return -EINVAL;

	old = xa_load(&vm->slots, r.slot);
	if (r.memory_size && old && old->uaddr == r.userspace_addr &&
	    old->size == r.memory_size) {
		token = old->token;		/* flags change or move */
	} else if (r.memory_size) {
		/* A transport that cannot reach this process's memory. */
		if (!t->mem_export && !soc_host_memory(vm->sk))
			return -EOPNOTSUPP;
		s = kzalloc(sizeof(*s), GFP_KERNEL);
		if (!s)
			return -ENOMEM;
		if (soc_host_memory(vm->sk))
			ret = soc_hmem_export(vm, r.userspace_addr,
					      r.memory_size, &token);
		else
			ret = t->mem_export(t, r.userspace_addr, r.memory_size);
		if (ret < 0) {
			kfree(s);
			return ret;
		}
		if (!soc_host_memory(vm->sk)) {
			token = ret;
			s->exported = true;
		} else {
			token += READ_ONCE(soc_mem_token_fault);
		}
		s->uaddr = r.userspace_addr;
		s->size = r.memory_size;
		s->flags = r.flags;
		s->token = token;
	}
	/* The region as checked above, not a second fetch of it. */
	ret = soc_fwd_ioctl_kern(&vm->chan, KVM_SOC_OP_VM_IOCTL, KSOC_LVL_VM,
				 cmd, &u, vm->xsave_size, token);
	if (ret) {
		if (s)
			soc_slot_free(t, s);
		return ret;
	}
	if (!r.memory_size || s) {
		old = xa_erase(&vm->slots, r.slot);
		if (old)
			soc_slot_free(t, old);
	} else if (old) {
		old->flags = r.flags;	/* flags change or move */
	}
	if (s && xa_err(xa_store(&vm->slots, r.slot, s, GFP_KERNEL))) {
		/* Untracked: retired now; the host keeps what it mapped. */
		soc_slot_free(t, s);
	}
	return 0;
}

static long soc_vm_get_stats(struct soc_vm *vm, void __user *argp)
{
	struct kvm_soc_vm_stats st;
	u32 argsz;

	if (get_user(argsz, (u32 __user *)argp))
		return -EFAULT;
	if (copy_from_user(&st, argp, min_t(u32, argsz, sizeof(st))))
		return -EFAULT;
	if (argsz < sizeof(st) || st.flags)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	st.argsz = sizeof(st);
	st.exits = atomic64_read(&vm->stats.exits);
	st.exits_io = atomic64_read(&vm->stats.exits_io);
	st.exits_mmio = atomic64_read(&vm->stats.exits_mmio);
	st.exits_intr = atomic64_read(&vm->stats.exits_intr);
	st.irqfd_triggers = atomic64_read(&vm->stats.irqfd_triggers);
	st.irqfd_resamples = atomic64_read(&vm->stats.irqfd_resamples);
	st.ioeventfd_kicks = atomic64_read(&vm->stats.ioeventfd_kicks);
	st.poll_hits = atomic64_read(&vm->stats.poll_hits);
	st.poll_misses = atomic64_read(&vm->stats.poll_misses);
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

#ifdef KVM_X86_SET_MSR_FILTER
#ifndef KVM_MSR_FILTER_VALID_MASK	/* the UAPI names them since Linux 6.3 */
#define KVM_MSR_FILTER_VALID_MASK	KVM_MSR_FILTER_DEFAULT_DENY
#define KVM_MSR_FILTER_RANGE_VALID_MASK	(KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE)
#endif

/* Bytes of a range's bitmap, as x86-64 KVM sizes it (in longs of 8). */
static u32 soc_msr_bitmap_bytes(u32 nmsrs)
{
	return DIV_ROUND_UP((u64)nmsrs, 64) * sizeof(u64);
}

/*
 * KVM_X86_SET_MSR_FILTER: the struct holds a user pointer per range, so
 * the bitmaps travel after it (docs/channel-protocol.md), each range's
 * pointer zeroed.  Checked in KVM's order, so that a bad range before a
 * bad pointer is EINVAL as on KVM, and each bitmap is fetched once.
 */
static long soc_vm_msr_filter(struct soc_vm *vm, unsigned long arg)
{
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_VM_IOCTL, .arg = KVM_X86_SET_MSR_FILTER,
	};
	struct kvm_msr_filter f;
	void __user *ubitmap[KVM_MSR_FILTER_MAX_RANGES];
	u32 len = sizeof(f), off, sz;
	u8 *buf;
	long r;
	int i;

	if (copy_from_user(&f, (void __user *)arg, sizeof(f)))
		return -EFAULT;
	if (f.flags & ~KVM_MSR_FILTER_VALID_MASK)
		return -EINVAL;
	for (i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
		ubitmap[i] = (void __user *)(unsigned long)f.ranges[i].bitmap;
		f.ranges[i].bitmap = NULL;
		if (!f.ranges[i].nmsrs)
			continue;
		sz = soc_msr_bitmap_bytes(f.ranges[i].nmsrs);
		if (!f.ranges[i].flags ||
		    (f.ranges[i].flags & ~KVM_MSR_FILTER_RANGE_VALID_MASK) ||
		    sz > KVM_MSR_FILTER_MAX_BITMAP_SIZE)
			return -EINVAL;
		len += sz;
	}
	if (len > ksoc_api_payload_max(&vm->chan.l))
		return -E2BIG;
	buf = kvmalloc(len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &f, sizeof(f));
	off = sizeof(f);
	for (i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
		if (!f.ranges[i].nmsrs)
			continue;
		sz = soc_msr_bitmap_bytes(f.ranges[i].nmsrs);
		if (copy_from_user(buf + off, ubitmap[i], sz)) {
			r = -EFAULT;
			goto out;
		}
		off += sz;
	}
	m.len = len;
	r = soc_chan_call_killable(&vm->chan, &m, buf, NULL, 0);
	if (!r)
		r = soc_result(m.result);
out:
	kvfree(buf);
	return r;
}
#endif

static long soc_vm_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct soc_vm *vm = filp->private_data;
	long r;

	/* Like KVM: a VM belongs to the address space that created it. */
	if (vm->mm != current->mm)
		return -EIO;
	/* Counters stay readable after the host or the transport is gone. */
	if (cmd == KVM_SOC_GET_VM_STATS)
		return soc_vm_get_stats(vm, (void __user *)arg);
	if (_IOC_TYPE(cmd) != KVMIO)
		return -ENOTTY;
	down_read(&soc_kvm_rwsem);
	if (!soc_vm_ok(vm)) {
		r = -EIO;
		goto out;
	}
	switch (cmd) {
	case KVM_CREATE_VCPU:
		mutex_lock(&vm->lock);
		r = soc_vm_create_vcpu(vm, arg);
		mutex_unlock(&vm->lock);
		break;
	case KVM_CHECK_EXTENSION:
		/* A window without a posted-write ring coalesces nothing. */
		r = soc_check_extension(&vm->chan, vm->sk->features &
					~(vm->posted.nr ? 0 :
					  BIT_ULL(KVM_SOC_F_POSTED_WRITES)),
					KVM_SOC_OP_VM_IOCTL, arg);
		break;
	case KVM_IRQFD:
		mutex_lock(&vm->lock);
		r = soc_vm_irqfd(vm, arg);
		mutex_unlock(&vm->lock);
		break;
	case KVM_IOEVENTFD:
		mutex_lock(&vm->lock);
		r = soc_vm_ioeventfd(vm, arg);
		mutex_unlock(&vm->lock);
		break;
	case KVM_HYPERV_EVENTFD:
		mutex_lock(&vm->lock);
		r = soc_vm_hv_eventfd(vm, arg);
		mutex_unlock(&vm->lock);
		break;
	case KVM_SET_USER_MEMORY_REGION:
#ifdef KVM_SET_USER_MEMORY_REGION2
	case KVM_SET_USER_MEMORY_REGION2:
#endif
		mutex_lock(&vm->lock);
		r = soc_vm_set_memory(vm, cmd, arg);
		mutex_unlock(&vm->lock);
		break;
	case KVM_GET_DIRTY_LOG:
	case KVM_CLEAR_DIRTY_LOG:
		mutex_lock(&vm->lock);
		r = soc_vm_dirty_log(vm, cmd, arg);
		mutex_unlock(&vm->lock);
		break;
	case KVM_ENABLE_CAP:
		mutex_lock(&vm->lock);
		r = soc_vm_enable_cap(vm, arg);
		mutex_unlock(&vm->lock);
		break;
	case KVM_RESET_DIRTY_RINGS:
		mutex_lock(&vm->lock);
		r = soc_vm_reset_dirty_rings(vm);
		mutex_unlock(&vm->lock);
		break;
	case KVM_GET_STATS_FD:		/* KVM ignores the argument */
		r = soc_stats_open(vm, 0);
		break;
#ifdef KVM_X86_SET_MSR_FILTER
	case KVM_X86_SET_MSR_FILTER:
		r = soc_vm_msr_filter(vm, arg);
		break;
#endif
	case KVM_REGISTER_COALESCED_MMIO:
	case KVM_UNREGISTER_COALESCED_MMIO:
		/* Without the ring no write would reach userspace. */
		if (!vm->posted.nr) {
			r = -ENOTTY;
			break;
		}
		fallthrough;
	default:
		r = soc_fwd_ioctl(&vm->chan, KVM_SOC_OP_VM_IOCTL, 0, -1,
				  KSOC_LVL_VM, cmd, arg, vm->xsave_size, 0);
		break;
	}
out:
	up_read(&soc_kvm_rwsem);
	return r;
}

static int soc_vm_release(struct inode *inode, struct file *filp)
{
	soc_vm_put(filp->private_data);
	return 0;
}

static const struct file_operations soc_vm_fops = {
	.owner		= THIS_MODULE,
	.release	= soc_vm_release,
	.unlocked_ioctl	= soc_vm_ioctl,
	.llseek		= noop_llseek,
};

/* Map and check the window the host made for a new VM. */
static int soc_vm_attach_window(struct soc_kvm *sk, struct soc_vm *vm,
				const struct kvm_soc_vm_created *resp)
{
	struct ksoc_transport *t = sk->t;
	u32 id = le32_to_cpu(resp->window_id);
	struct ksoc_layout l;
	u32 slots, max;
	u64 size;
	void *win;
	int ret;

	max = le32_to_cpu(resp->max_vcpus);
	slots = le32_to_cpu(resp->vm_api_slots);
	/* A vCPU's window is no VM's. */
	if (xa_load(&sk->vcpu_wins, id))
		return -EPROTO;
	win = t->window_map(t, id, &size);
	if (!win)
		return -EPROTO;
	ret = -EPROTO;
	/* Pairs with the host's release of UP after formatting. */
	if (le32_to_cpu(smp_load_acquire(&ksoc_hdr(win)->host.state)) !=
	    KVM_SOC_PEER_UP)
		goto err_unmap;
	if (ksoc_window_parse(win, size, &l) || l.window_id != id ||
	    l.event_nr > KSOC_VM_EVENTS ||
	    !max || max > KSOC_MAX_VCPUS || slots != KSOC_VM_API_SLOTS)
		goto err_unmap;
	/* A window per vCPU, if both offered it: then none here. */
	vm->vcpu_windows = (sk->features & BIT_ULL(KVM_SOC_F_VCPU_WINDOWS)) &&
			   (l.host_features & BIT_ULL(KVM_SOC_F_VCPU_WINDOWS));
	if (vm->vcpu_windows ?
	    l.ioreq_nr_slots || l.api_nr_slots != slots :
	    l.ioreq_nr_slots != max || l.api_nr_slots != slots + max)
		goto err_unmap;
	soc_chan_init(&vm->chan, t, win, &l, slots);
	vm->chan.on_fail = soc_vm_chan_failed;
	/* Ioctl bytes too large for its slots by the bulk path, if offered. */
	if ((sk->features & BIT_ULL(KVM_SOC_F_BULK_ARGS)) &&
	    (l.host_features & BIT_ULL(KVM_SOC_F_BULK_ARGS)))
		vm->chan.bulk_sk = sk;
	/* Coalesced writes, if both sides carry them. */
	if ((sk->features & BIT_ULL(KVM_SOC_F_POSTED_WRITES)) &&
	    (l.host_features & BIT_ULL(KVM_SOC_F_POSTED_WRITES)) &&
	    l.posted_nr_entries &&
	    ksoc_ring_init(&vm->posted, (u8 *)win + l.posted_offset,
			   l.posted_nr_entries,
			   sizeof(struct kvm_soc_posted_write),
			   &ksoc_hdr(win)->host.posted_prod,
			   &ksoc_hdr(win)->soc.posted_cons, false))
		goto err_unmap;
	vm->max_vcpus = max;
	WRITE_ONCE(ksoc_hdr(win)->soc.abi_version, cpu_to_le32(KVM_SOC_ABI_VERSION));
	WRITE_ONCE(ksoc_hdr(win)->soc.soc_features, cpu_to_le64(sk->features));
	/* Publishes the SoC line before UP. */
	smp_store_release(&ksoc_hdr(win)->soc.state, cpu_to_le32(KVM_SOC_PEER_UP));
	return 0;

err_unmap:
	t->window_unmap(t, id);
	return ret;
}

/**
 * soc_vm_create - KVM_CREATE_VM on /dev/kvm-soc.
 * @sk: the attached transport; caller holds soc_kvm_rwsem for read.
 * @type: machine type.
 *
 * Return: a new VM fd, or KVM's errno from the host, -EOPNOTSUPP when the
 * transport has no VM windows, -EIO.  (A transport that cannot reach this
 * process's memory makes VMs whose memory slots answer -EOPNOTSUPP.)
 */
long soc_vm_create(struct soc_kvm *sk, unsigned long type)
{
	struct ksoc_transport *t = sk->t;
	struct kvm_soc_create_vm req = { .type = cpu_to_le32(type) };
	struct kvm_soc_vm_created resp;
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_CREATE_VM, .len = sizeof(req),
	};
	struct ksoc_api_msg d = { .op = KVM_SOC_OP_DESTROY_VM };
	struct soc_vm *vm;
	long r;
	int fd;

	if (type > U32_MAX)
		return -EINVAL;
	if (!t->window_map)
		return -EOPNOTSUPP;
	r = soc_chan_call(&sk->ctrl, &m, &req, &resp, sizeof(resp));
	if (r)
		return r;
	r = soc_result(m.result);
	if (r < 0)
		return r;
	if (m.len != sizeof(resp)) {
		soc_chan_fail(&sk->ctrl, "malformed CREATE_VM response");
		return -EIO;
	}

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	r = -ENOMEM;
	if (!vm)
		goto err_destroy;
	kref_init(&vm->ref);
	mutex_init(&vm->lock);
	mutex_init(&vm->posted_lock);
	init_waitqueue_head(&vm->posted_wq);
	vm->posted_out = -1;
	xa_init(&vm->slots);
	vm->coalesced = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!vm->coalesced) {
		kfree(vm);
		vm = NULL;
		goto err_destroy;
	}
	soc_ev_init(vm);
	vm->sk = sk;
	vm->mm = current->mm;
	mmgrab(vm->mm);
	r = soc_vm_attach_window(sk, vm, &resp);
	if (r) {
		pr_err_ratelimited("vm window %u unusable: %ld\n",
				   le32_to_cpu(resp.window_id), r);
		r = -EIO;
		goto err_free;
	}
	r = xa_insert(&sk->vms, vm->chan.id, vm, GFP_KERNEL);
	if (r)
		goto err_unmap;
	r = soc_check_extension(&vm->chan, vm->sk->features,
				KVM_SOC_OP_VM_IOCTL, KVM_CAP_XSAVE2);
	vm->xsave_size = r > 0 ? r : 0;

	fd = anon_inode_getfd("kvm-vm", &soc_vm_fops, vm, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	/* The release path sends DESTROY_VM and unmaps. */
	up_read(&soc_kvm_rwsem);
	soc_vm_put(vm);
	down_read(&soc_kvm_rwsem);
	return fd;

err_unmap:
	t->window_unmap(t, le32_to_cpu(resp.window_id));
err_free:
	mmdrop(vm->mm);
	__free_page(vm->coalesced);
	kfree(vm);
err_destroy:
	d.target = le32_to_cpu(resp.window_id);
	soc_chan_call(&sk->ctrl, &d, NULL, NULL, 0);
	return r;
}

/* Doorbell for a VM window: any context. */
void soc_vm_doorbell(struct soc_kvm *sk, unsigned int vec)
{
	struct soc_vm *vm;

	rcu_read_lock();
	vm = xa_load(&sk->vms, vec);
	if (vm) {
		wake_up_all(&vm->chan.wq);
		soc_vm_wake_vcpus(vm, false);
		soc_ev_doorbell(vm);
	} else {
		/* A vCPU window's: its VM's vCPUs look at their slots. */
		vm = xa_load(&sk->vcpu_wins, vec);
		if (vm)
			soc_vm_wake_vcpus(vm, false);
	}
	rcu_read_unlock();
}

/*
 * Detach, step 1 (no lock held): make every VM dead and wake whoever
 * sleeps on it, so readers of soc_kvm_rwsem leave.
 */
void soc_vm_kill_all(struct soc_kvm *sk)
{
	struct soc_vm *vm;
	unsigned long id;

	rcu_read_lock();
	xa_for_each(&sk->vms, id, vm) {
		/*
		 * Only the channel: @dead is for soc_vm_detach_all(), under
		 * the rwsem, so a concurrent release still unlinks the VM.
		 */
		WRITE_ONCE(vm->chan.failed, true);
		wake_up_all(&vm->chan.wq);
		soc_vm_wake_vcpus(vm, true);
	}
	rcu_read_unlock();
}

/* Detach, step 2 (soc_kvm_rwsem held for write): drop every window. */
void soc_vm_detach_all(struct soc_kvm *sk)
{
	struct soc_vm *vm;
	unsigned long id;

	/* vCPU windows first; their vCPUs see @dead and leave them be. */
	xa_for_each(&sk->vcpu_wins, id, vm) {
		xa_erase(&sk->vcpu_wins, id);
		sk->t->window_unmap(sk->t, id);
	}
	xa_for_each(&sk->vms, id, vm) {
		xa_erase(&sk->vms, id);
		soc_ev_stop(vm, false);
		vm->dead = true;
		sk->t->window_unmap(sk->t, id);
		mutex_lock(&vm->lock);
		soc_vm_drop_slots(vm, sk->t);
		mutex_unlock(&vm->lock);
	}
}
