// SPDX-License-Identifier: GPL-2.0
/*
 * VM and vCPU files of /dev/kvm-soc: KVM's fd levels, KVM's ioctl numbers.
 *
 * A VM file owns a VM window (mapped through the transport); each vCPU
 * file holds a reference on its VM and owns its IOREQ slot and its API
 * slot (KSOC_VM_API_SLOTS + index), serialised by the vCPU mutex exactly
 * as KVM serialises vCPU ioctls with vcpu->mutex.
 *
 * KVM_RUN answers the vCPU's outstanding exit (the start exit the first
 * time) with what userspace left in kvm_run, rings the host, and sleeps
 * until the next exit.  A signal while it sleeps kicks the host vCPU
 * (KVM_SOC_OP_VCPU_KICK) and KVM_RUN then returns -EINTR with
 * KVM_EXIT_INTR, as KVM does.
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

#define SOC_RUN_HEAD		offsetof(struct kvm_run, io)
/* request_interrupt_window, immediate_exit: written by userspace only. */
#define SOC_RUN_USER_END	offsetof(struct kvm_run, padding1)

/*
 * KVM_RUN polls this long for the host's exit before it sleeps (see
 * host-kvm's poll_ns).  0 turns polling off.
 */
static unsigned int poll_ns = 100000;
module_param(poll_ns, uint, 0644);
MODULE_PARM_DESC(poll_ns, "ns KVM_RUN polls for an exit before sleeping");
/* KVM's own limit on a memory slot (KVM_MEM_MAX_NR_PAGES, not in uapi). */
#define SOC_MEM_MAX_NR_PAGES	((1UL << 31) - 1)

/* Retire a slot's region (the host keeps its own references). */
static void soc_slot_free(struct ksoc_transport *t, struct soc_slot *s)
{
	if (s->exported)
		t->mem_unexport(t, s->token);
	kfree(s);
}

/**
 * struct soc_vcpu - one vCPU.
 * @vm: its VM (a reference).
 * @idx: index: IOREQ slot, and API slot KSOC_VM_API_SLOTS + @idx.
 * @mutex: serialises this vCPU's ioctls, as KVM's vcpu->mutex.
 * @run: the kvm_run page userspace maps at offset 0.
 * @pio: the PIO data page, mapped at KVM_PIO_PAGE_OFFSET.
 * @msg: exit / completion buffer.
 * @seq: sequence number of the exit the SoC holds (INPROCESS).
 * @exit_reason: that exit's reason.
 * @io_in_len: PIO IN bytes its completion carries (0: none).
 * @sigset_active: KVM_SET_SIGNAL_MASK was given.
 * @sigset: the mask KVM_RUN runs with.
 * @lost: an earlier KVM_RUN was abandoned (fatal signal); the slot state
 *	is unknown, so the vCPU refuses to run.
 * @posted_hold: an exit waits in the slot (READY, not taken) until the
 *	coalesced writes before it are handed over (soc_vcpu_posted()).
 * @posted_target: posted-write ring index those writes end at.
 * @wq: KVM_RUN sleeps here; doorbells wake it only when its exit arrived
 *	or the VM died.
 */
struct soc_vcpu {
	struct soc_vm *vm;
	u32 idx;
	struct mutex mutex; /* serialises ioctls on this vCPU */
	struct page *run;
	struct page *pio;
	struct ksoc_ioreq_msg *msg;
	u64 seq;
	u32 exit_reason;
	u32 io_in_len;
	bool sigset_active;
	sigset_t sigset;
	bool lost;
	bool posted_hold;
	u32 posted_target;
	wait_queue_head_t wq;
};

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

static bool soc_vcpu_exit_ready(struct soc_vcpu *vcpu);

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
	up_read(&soc_kvm_rwsem);
	soc_ev_free_all(vm);
	mmdrop(vm->mm);
	/* vCPU mappings of the ring hold their own references. */
	__free_page(vm->coalesced);
	kfree_rcu(vm, rcu);
}

static void soc_vm_put(struct soc_vm *vm)
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
	}
	rcu_read_unlock();
}

static void soc_vm_chan_failed(struct soc_chan *c)
{
	soc_vm_wake_vcpus(container_of(c, struct soc_vm, chan), true);
}

/* Window usable?  Caller holds soc_kvm_rwsem for read. */
static bool soc_vm_ok(struct soc_vm *vm)
{
	return !READ_ONCE(vm->dead) && !soc_chan_dead(&vm->chan);
}

static long soc_stats_open(struct soc_vm *vm, u32 who);

/* ---- vCPU ------------------------------------------------------------- */

static struct kvm_soc_ioreq *soc_vcpu_slot(struct soc_vcpu *vcpu)
{
	return ksoc_ioreq_slot(vcpu->vm->chan.win, &vcpu->vm->chan.l, vcpu->idx);
}

static bool soc_vcpu_exit_ready(struct soc_vcpu *vcpu)
{
	struct soc_vm *vm = vcpu->vm;

	return !soc_vm_ok(vm) ||
	       le32_to_cpu(READ_ONCE(soc_vcpu_slot(vcpu)->hdr.state)) ==
	       KVM_SOC_IOREQ_READY;
}

/* Build the completion of the held exit from what userspace left. */
static void soc_vcpu_complete(struct soc_vcpu *vcpu, struct kvm_run *run)
{
	struct ksoc_ioreq_msg *m = vcpu->msg;

	m->vcpu_id = vcpu->idx;
	m->seq = vcpu->seq;
	m->exit_reason = vcpu->exit_reason;
	m->flags = 0;
	memset(m->run, 0, sizeof(m->run));
	memcpy(m->run, run, SOC_RUN_HEAD);
	memcpy(m->exit, (u8 *)run + SOC_RUN_HEAD, sizeof(m->exit));
	m->data_len = vcpu->io_in_len;
	if (vcpu->io_in_len)
		memcpy(m->data, page_address(vcpu->pio), vcpu->io_in_len);
}

/*
 * The lengths and counts an exit hands to userspace, checked as KVM
 * guarantees them (userspace uses them as lengths into the exit union):
 * MMIO at most 8 bytes, the data[] counts of internal errors, system
 * events and emulation failures within their arrays.  PIO is checked by
 * the caller, with its data.  Reads the SoC's own copy of the exit.
 */
static bool soc_exit_fields_ok(const struct ksoc_ioreq_msg *m)
{
	/* The exit union as KVM lays it out, copied out of our own copy. */
	union {
		typeof(((struct kvm_run *)0)->mmio) mmio;
		typeof(((struct kvm_run *)0)->internal) internal;
		typeof(((struct kvm_run *)0)->system_event) system_event;
#ifdef KVM_EXIT_X86_RDMSR
		typeof(((struct kvm_run *)0)->msr) msr;
#endif
	} e;

	BUILD_BUG_ON(sizeof(e) > sizeof(m->exit));
	memcpy(&e, m->exit, sizeof(e));
	switch (m->exit_reason) {
	case KVM_EXIT_MMIO:
		return e.mmio.len && e.mmio.len <= sizeof(e.mmio.data) &&
		       e.mmio.is_write <= 1;
	case KVM_EXIT_INTERNAL_ERROR:
		return e.internal.ndata <= ARRAY_SIZE(e.internal.data);
	case KVM_EXIT_SYSTEM_EVENT:
		return e.system_event.ndata <= ARRAY_SIZE(e.system_event.data);
#ifdef KVM_EXIT_X86_RDMSR
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		return e.msr.error <= 1;
#endif
	}
	return true;
}

/* Take the next exit into kvm_run.  Returns KVM_RUN's return value. */
static long soc_vcpu_take(struct soc_vcpu *vcpu, struct kvm_run *run)
{
	struct ksoc_ioreq_msg *m = vcpu->msg;
	struct soc_chan *c = &vcpu->vm->chan;
	typeof(run->io) io;
	u32 len;
	s32 err;

	if (ksoc_ioreq_take(soc_vcpu_slot(vcpu), vcpu->idx, vcpu->seq + 1, m)) {
		soc_chan_fail(c, "malformed exit");
		return -EIO;
	}
	vcpu->seq++;
	vcpu->exit_reason = m->exit_reason;
	vcpu->io_in_len = 0;
	/* Userspace owns request_interrupt_window and immediate_exit. */
	memcpy((u8 *)run + SOC_RUN_USER_END, m->run + SOC_RUN_USER_END,
	       SOC_RUN_HEAD - SOC_RUN_USER_END);
	run->exit_reason = m->exit_reason;
	memcpy((u8 *)run + SOC_RUN_HEAD, m->exit, sizeof(m->exit));

	atomic64_inc(&vcpu->vm->stats.exits);
	if (m->flags & BIT(KVM_SOC_IOREQ_F_EINTR)) {
		atomic64_inc(&vcpu->vm->stats.exits_intr);
		return -EINTR;	/* exit_reason as KVM left it */
	}
	if (m->flags & BIT(KVM_SOC_IOREQ_F_ERROR)) {
		memcpy(&err, m->exit, sizeof(err));
		err = le32_to_cpu((__force __le32)err);
		return err < 0 && err >= -MAX_ERRNO ? err : -EIO;
	}
	if (m->flags) {
		soc_chan_fail(c, "unexpected exit flags");
		return -EIO;
	}
	if (!soc_exit_fields_ok(m)) {
		soc_chan_fail(c, "malformed exit fields");
		return -EIO;
	}
	if (m->exit_reason == KVM_EXIT_MMIO)
		atomic64_inc(&vcpu->vm->stats.exits_mmio);
	if (m->exit_reason == KVM_EXIT_IO) {
		atomic64_inc(&vcpu->vm->stats.exits_io);
		memcpy(&io, m->exit, sizeof(io));
		len = (u64)io.size * io.count > KVM_SOC_IOREQ_DATA_SIZE ?
		      U32_MAX : io.size * io.count;
		if ((io.size != 1 && io.size != 2 && io.size != 4) ||
		    !io.count || len > KVM_SOC_IOREQ_DATA_SIZE || len > PAGE_SIZE ||
		    (io.direction == KVM_EXIT_IO_OUT ? m->data_len != len :
						       m->data_len != 0)) {
			soc_chan_fail(c, "malformed PIO exit");
			return -EIO;
		}
		if (io.direction == KVM_EXIT_IO_OUT)
			memcpy(page_address(vcpu->pio), m->data, len);
		else
			vcpu->io_in_len = len;
		run->io.data_offset = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;
	}
	return 0;
}

/*
 * Coalesced MMIO and PIO.  The host moves what its KVM coalesced into the
 * posted-write ring before it posts any exit (linux/kvm_soc.h); before an
 * exit reaches userspace, every entry up to the producer index seen with
 * it goes into the VM's coalesced ring page, where userspace flushes it
 * as it would KVM's.  When that page is full, the oldest entry goes to
 * userspace as the write exit KVM makes of a coalesced write it has no
 * room for (userspace flushes its ring before it handles a write to a
 * coalesced region), and the exit waits in its slot: @posted_hold.
 */

/*
 * kvm_run's immediate_exit: the byte before padding1 (the kernel's own
 * headers call it immediate_exit__unsafe since Linux 6.10, 6.1 does not).
 */
#define SOC_RUN_IMMEDIATE_EXIT	(offsetof(struct kvm_run, padding1) - 1)

/* Room in userspace's ring.  ->first is userspace's: a bad one is full. */
static u32 soc_coalesced_room(struct kvm_coalesced_mmio_ring *ring, u32 last)
{
	u32 first = READ_ONCE(ring->first);

	if (first >= KVM_COALESCED_MMIO_MAX)
		return 0;
	return (first + KVM_COALESCED_MMIO_MAX - last - 1) % KVM_COALESCED_MMIO_MAX;
}

/* A coalesced write as the exit KVM makes of it.  False if malformed. */
static bool soc_posted_exit(struct soc_vcpu *vcpu, struct kvm_run *run,
			    const struct kvm_soc_posted_write *w)
{
	u64 addr = le64_to_cpu(w->addr);

	if (w->type == KVM_SOC_POSTED_PIO) {
		if (addr > U16_MAX)
			return false;
		run->exit_reason = KVM_EXIT_IO;
		memset(&run->io, 0, sizeof(run->io));
		run->io.direction = KVM_EXIT_IO_OUT;
		run->io.size = w->len;
		run->io.port = addr;
		run->io.count = 1;
		run->io.data_offset = KVM_PIO_PAGE_OFFSET * PAGE_SIZE;
		memcpy(page_address(vcpu->pio), &w->data, w->len);
		atomic64_inc(&vcpu->vm->stats.exits_io);
	} else {
		run->exit_reason = KVM_EXIT_MMIO;
		memset(&run->mmio, 0, sizeof(run->mmio));
		run->mmio.phys_addr = addr;
		memcpy(run->mmio.data, &w->data, w->len);
		run->mmio.len = w->len;
		run->mmio.is_write = 1;
		atomic64_inc(&vcpu->vm->stats.exits_mmio);
	}
	return true;
}

/*
 * Hand userspace the coalesced writes before @vcpu's held exit, and any
 * later ones its ring has room for.  Returns 1 when one of them is the
 * exit in @run, 0 when none is left before the held exit, -EIO when the
 * host broke the posted-write ring.
 */
static int soc_vcpu_posted(struct soc_vcpu *vcpu, struct kvm_run *run)
{
	struct soc_vm *vm = vcpu->vm;
	struct kvm_coalesced_mmio_ring *ring = page_address(vm->coalesced);
	struct kvm_coalesced_mmio *e;
	struct kvm_soc_posted_write w;
	bool owed;
	int r, ret = 0;
	u32 last;

	mutex_lock(&vm->posted_lock);
	last = vm->coalesced_last;
	for (;;) {
		owed = (s32)(vcpu->posted_target - vm->posted.idx) > 0;
		if (!owed && !soc_coalesced_room(ring, last))
			break;
		r = ksoc_posted_consume(&vm->posted, &w);
		if (r == -EAGAIN)
			break;
		if (r) {
			ret = -EIO;
			break;
		}
		if (soc_coalesced_room(ring, last)) {
			e = &ring->coalesced_mmio[last];
			e->phys_addr = le64_to_cpu(w.addr);
			e->len = w.len;
			e->pio = w.type == KVM_SOC_POSTED_PIO;
			memcpy(e->data, &w.data, sizeof(e->data));
			last = (last + 1) % KVM_COALESCED_MMIO_MAX;
			/* The entry before ->last, as KVM's smp_wmb(). */
			smp_store_release(&ring->last, last);
			continue;
		}
		ret = soc_posted_exit(vcpu, run, &w) ? 1 : -EIO;
		break;
	}
	vm->coalesced_last = last;
	mutex_unlock(&vm->posted_lock);
	if (ret < 0)
		soc_chan_fail(&vm->chan, "malformed posted write");
	return ret;
}

/* Give userspace the next exit: the coalesced writes before it, then it. */
static long soc_vcpu_deliver(struct soc_vcpu *vcpu, struct kvm_run *run)
{
	int r;

	if (vcpu->posted_hold) {
		r = soc_vcpu_posted(vcpu, run);
		if (r > 0)
			return 0;
		vcpu->posted_hold = false;
		if (r < 0)
			return -EIO;
	}
	return soc_vcpu_take(vcpu, run);
}

/*
 * Sleep until the vCPU's exit arrives or the VM dies, checking in 1 s
 * steps that the host is alive (a guest may run for long, a dead host
 * must not leave KVM_RUN asleep).  @killable: only a fatal signal ends
 * the wait early.  Returns 0 or -ERESTARTSYS.
 */
static int soc_vcpu_wait(struct soc_vcpu *vcpu, bool killable)
{
	struct soc_chan *c = &vcpu->vm->chan;
	unsigned long since = jiffies;
	long left, step = msecs_to_jiffies(KVM_SOC_HEARTBEAT_MS);
	u64 beat = 0;

	for (;;) {
		if (killable)
			left = wait_event_killable_timeout(vcpu->wq,
							   soc_vcpu_exit_ready(vcpu),
							   step);
		else
			left = wait_event_interruptible_timeout(vcpu->wq,
								soc_vcpu_exit_ready(vcpu),
								step);
		if (left > 0)
			return 0;
		if (left < 0)
			return -ERESTARTSYS;
		if (!soc_host_alive(c, &beat, &since)) {
			soc_chan_fail(c, "host stopped (heartbeat)");
			return 0;
		}
	}
}

static long soc_vcpu_kick(struct soc_vcpu *vcpu)
{
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_VCPU_KICK, .target = vcpu->idx,
	};
	int ret;

	ret = soc_chan_call(&vcpu->vm->chan, &m, NULL, NULL, 0);
	return ret ? ret : soc_result(m.result);
}

static long soc_vcpu_run(struct soc_vcpu *vcpu)
{
	struct soc_vm *vm = vcpu->vm;
	struct kvm_run *run = page_address(vcpu->run);
	sigset_t saved;
	u64 until;
	long r;
	int ret;

	if (vcpu->lost || !soc_vm_ok(vm))
		return -EIO;
	/* Still handing over writes before an exit; nothing ran since. */
	if (vcpu->posted_hold)
		return READ_ONCE(((u8 *)run)[SOC_RUN_IMMEDIATE_EXIT]) ? -EINTR :
		       soc_vcpu_deliver(vcpu, run);
	/* What we wrote into guest memory, seen by the host's CPU first. */
	if (soc_hmem_sync(vm->sk))
		return -EIO;
	if (vcpu->sigset_active)
		sigprocmask(SIG_SETMASK, &vcpu->sigset, &saved);

	soc_vcpu_complete(vcpu, run);
	ksoc_ioreq_respond(soc_vcpu_slot(vcpu), vcpu->msg);
	vm->chan.t->kick(vm->chan.t, vm->chan.id);

	until = ktime_get_ns() + READ_ONCE(poll_ns);
	while (!soc_vcpu_exit_ready(vcpu) && ktime_get_ns() < until &&
	       !need_resched() && !signal_pending(current))
		cpu_relax();
	ret = soc_vcpu_wait(vcpu, false);
	if (ret == -ERESTARTSYS) {
		/* Get the host vCPU out of the guest; it posts an exit. */
		soc_vcpu_kick(vcpu);
		ret = soc_vcpu_wait(vcpu, true);
		if (ret == -ERESTARTSYS) {
			vcpu->lost = true;
			r = -EINTR;
			goto out;
		}
	}
	if (!soc_vm_ok(vm)) {
		r = -EIO;
		goto out;
	}
	/*
	 * The exit is READY: what the host moved into the posted-write ring
	 * before it is there.  Pairs with the release of the slot's state in
	 * ksoc_ioreq_post(), after the release of posted_prod.
	 */
	smp_rmb();
	if (vm->posted.nr) {
		vcpu->posted_target = le32_to_cpu(READ_ONCE(*vm->posted.prod));
		vcpu->posted_hold = true;
	}
	r = soc_vcpu_deliver(vcpu, run);
out:
	if (vcpu->sigset_active)
		sigprocmask(SIG_SETMASK, &saved, NULL);
	return r;
}

static long soc_vcpu_set_signal_mask(struct soc_vcpu *vcpu,
				     struct kvm_signal_mask __user *argp)
{
	struct kvm_signal_mask kmask;
	sigset_t set;

	if (!argp) {
		vcpu->sigset_active = false;
		return 0;
	}
	if (copy_from_user(&kmask, argp, sizeof(kmask)))
		return -EFAULT;
	if (kmask.len != sizeof(sigset_t))
		return -EINVAL;
	if (copy_from_user(&set, argp->sigset, sizeof(set)))
		return -EFAULT;
	sigdelsetmask(&set, sigmask(SIGKILL) | sigmask(SIGSTOP));
	vcpu->sigset = set;
	vcpu->sigset_active = true;
	return 0;
}

static long soc_vcpu_ioctl(struct file *filp, unsigned int cmd,
			   unsigned long arg)
{
	struct soc_vcpu *vcpu = filp->private_data;
	struct soc_vm *vm = vcpu->vm;
	long r;

	if (vm->mm != current->mm)
		return -EIO;
	if (_IOC_TYPE(cmd) != KVMIO)	/* as kvm_vcpu_ioctl() */
		return -EINVAL;
	if (mutex_lock_killable(&vcpu->mutex))
		return -EINTR;
	down_read(&soc_kvm_rwsem);
	if (!soc_vm_ok(vm)) {
		r = -EIO;
		goto out;
	}
	switch (cmd) {
	case KVM_RUN:
		r = arg ? -EINVAL : soc_vcpu_run(vcpu);
		break;
	case KVM_SET_SIGNAL_MASK:
		r = soc_vcpu_set_signal_mask(vcpu, (void __user *)arg);
		break;
	case KVM_GET_STATS_FD:
		r = soc_stats_open(vm, vcpu->idx + 1);
		break;
	case KVM_HAS_DEVICE_ATTR:
	case KVM_GET_DEVICE_ATTR:
	case KVM_SET_DEVICE_ATTR:
		r = soc_fwd_attr(&vm->chan, KVM_SOC_OP_VCPU_IOCTL, vcpu->idx,
				 KSOC_VM_API_SLOTS + vcpu->idx, KSOC_LVL_VCPU,
				 cmd, arg);
		break;
	default:
		r = soc_fwd_ioctl(&vm->chan, KVM_SOC_OP_VCPU_IOCTL, vcpu->idx,
				  KSOC_VM_API_SLOTS + vcpu->idx, KSOC_LVL_VCPU,
				  cmd, arg, vm->xsave_size, 0);
		break;
	}
out:
	up_read(&soc_kvm_rwsem);
	mutex_unlock(&vcpu->mutex);
	return r;
}

static vm_fault_t soc_vcpu_fault(struct vm_fault *vmf)
{
	struct soc_vcpu *vcpu = vmf->vma->vm_file->private_data;
	struct page *page;

	if (vmf->pgoff == 0)
		page = vcpu->run;
	else if (vmf->pgoff == KVM_PIO_PAGE_OFFSET)
		page = vcpu->pio;
	else if (vmf->pgoff == KVM_COALESCED_MMIO_PAGE_OFFSET)
		page = vcpu->vm->coalesced;
	else
		return VM_FAULT_SIGBUS;
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct soc_vcpu_vm_ops = {
	.fault = soc_vcpu_fault,
};

static int soc_vcpu_mmap(struct file *filp, struct vm_area_struct *vma)
{
	if (vma->vm_pgoff + vma_pages(vma) > SOC_VCPU_MMAP_PAGES)
		return -EINVAL;
	vma->vm_ops = &soc_vcpu_vm_ops;
	return 0;
}

static void soc_vcpu_free(struct soc_vcpu *vcpu)
{
	if (vcpu->run)
		__free_page(vcpu->run);
	if (vcpu->pio)
		__free_page(vcpu->pio);
	kfree(vcpu->msg);
	kfree(vcpu);
}

static int soc_vcpu_release(struct inode *inode, struct file *filp)
{
	struct soc_vcpu *vcpu = filp->private_data;
	struct soc_vm *vm = vcpu->vm;

	/* The host vCPU lives until its VM is destroyed, as in KVM. */
	mutex_lock(&vm->lock);
	RCU_INIT_POINTER(vm->vcpus[vcpu->idx], NULL);
	mutex_unlock(&vm->lock);
	/* Doorbells may still look at it (soc_vm_wake_vcpus()). */
	synchronize_rcu();
	soc_vcpu_free(vcpu);
	soc_vm_put(vm);
	return 0;
}

static const struct file_operations soc_vcpu_fops = {
	.owner		= THIS_MODULE,
	.release	= soc_vcpu_release,
	.unlocked_ioctl	= soc_vcpu_ioctl,
	.mmap		= soc_vcpu_mmap,
	.llseek		= noop_llseek,
};

/* Caller holds vm->lock and soc_kvm_rwsem for read. */
static long soc_vm_create_vcpu(struct soc_vm *vm, unsigned long id)
{
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_CREATE_VCPU, .arg = id,
	};
	struct soc_vcpu *vcpu;
	char name[24];
	long r;
	int fd;

	lockdep_assert_held(&vm->lock);
	if (vm->nr_vcpus >= vm->max_vcpus)
		return -EINVAL;
	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL);
	if (!vcpu)
		return -ENOMEM;
	mutex_init(&vcpu->mutex);
	init_waitqueue_head(&vcpu->wq);
	vcpu->vm = vm;
	vcpu->run = alloc_page(GFP_KERNEL | __GFP_ZERO);
	vcpu->pio = alloc_page(GFP_KERNEL | __GFP_ZERO);
	vcpu->msg = kzalloc(sizeof(*vcpu->msg), GFP_KERNEL);
	r = -ENOMEM;
	if (!vcpu->run || !vcpu->pio || !vcpu->msg)
		goto err_free;

	r = soc_chan_call(&vm->chan, &m, NULL, NULL, 0);
	if (r)
		goto err_free;
	r = soc_result(m.result);
	if (r < 0)
		goto err_free;
	if (r != vm->nr_vcpus) {
		soc_chan_fail(&vm->chan, "unexpected vCPU index");
		r = -EIO;
		goto err_free;
	}
	vcpu->idx = r;
	/* Hold the host's start exit: the vCPU is stopped until KVM_RUN. */
	if (ksoc_ioreq_take(soc_vcpu_slot(vcpu), vcpu->idx, 1, vcpu->msg) ||
	    vcpu->msg->flags != BIT(KVM_SOC_IOREQ_F_START)) {
		soc_chan_fail(&vm->chan, "no start exit");
		r = -EIO;
		goto err_free;
	}
	vcpu->seq = 1;
	vcpu->exit_reason = KVM_EXIT_UNKNOWN;

	snprintf(name, sizeof(name), "kvm-vcpu:%lu", id);
	kref_get(&vm->ref);
	fd = anon_inode_getfd(name, &soc_vcpu_fops, vcpu, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		kref_put(&vm->ref, soc_vm_release_ref);
		r = fd;
		goto err_free;
	}
	rcu_assign_pointer(vm->vcpus[vcpu->idx], vcpu);
	WRITE_ONCE(vm->nr_vcpus, vm->nr_vcpus + 1);
	return fd;

err_free:
	soc_vcpu_free(vcpu);
	return r;
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
static long soc_stats_open(struct soc_vm *vm, u32 who)
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
	case KVM_GET_STATS_FD:		/* KVM ignores the argument */
		r = soc_stats_open(vm, 0);
		break;
#ifdef KVM_X86_SET_MSR_FILTER
	case KVM_X86_SET_MSR_FILTER:
		r = soc_vm_msr_filter(vm, arg);
		break;
#endif
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
	    !max || max > KSOC_MAX_VCPUS || l.ioreq_nr_slots != max ||
	    slots != KSOC_VM_API_SLOTS || l.api_nr_slots != slots + max)
		goto err_unmap;
	soc_chan_init(&vm->chan, t, win, &l, slots);
	vm->chan.on_fail = soc_vm_chan_failed;
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
