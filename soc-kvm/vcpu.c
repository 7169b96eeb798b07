// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU files of /dev/kvm-soc (vm.c has the VM).
 *
 * Each vCPU file holds a reference on its VM and owns its IOREQ slot and
 * its API slot (KSOC_VM_API_SLOTS + index), serialised by the vCPU mutex
 * exactly as KVM serialises vCPU ioctls with vcpu->mutex.
 *
 * KVM_RUN answers the vCPU's outstanding exit (the start exit the first
 * time) with what userspace left in kvm_run, rings the host, and sleeps
 * until the next exit.  A signal while it sleeps kicks the host vCPU
 * (KVM_SOC_OP_VCPU_KICK) and KVM_RUN then returns -EINTR with
 * KVM_EXIT_INTR, as KVM does.  Coalesced writes the host moved into the
 * posted-write ring reach userspace before the exit they came before.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/kvm.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "soc.h"

#define SOC_RUN_HEAD		offsetof(struct kvm_run, io)
/* request_interrupt_window, immediate_exit: written by userspace only. */
#define SOC_RUN_USER_END	offsetof(struct kvm_run, padding1)

/*
 * KVM_RUN polls for the host's exit before it sleeps, in a window that
 * adapts per vCPU as host-kvm's (ksoc_poll.h): it starts at poll_ns and
 * grows up to poll_max_ns.  0 in either turns polling off.
 */
static unsigned int poll_ns = 100000;
module_param(poll_ns, uint, 0644);
MODULE_PARM_DESC(poll_ns, "ns KVM_RUN first polls for an exit before sleeping (0: never)");

static unsigned int poll_max_ns = 500000;
module_param(poll_max_ns, uint, 0644);
MODULE_PARM_DESC(poll_max_ns, "most ns a vCPU's poll window grows to");

/* ---- vCPU ------------------------------------------------------------- */

static struct kvm_soc_ioreq *soc_vcpu_slot(struct soc_vcpu *vcpu)
{
	return ksoc_ioreq_slot(vcpu->chan->win, &vcpu->chan->l, vcpu->ioreq_slot);
}

bool soc_vcpu_exit_ready(struct soc_vcpu *vcpu)
{
	struct soc_vm *vm = vcpu->vm;

	return !soc_vm_ok(vm) ||
	       le32_to_cpu(READ_ONCE(soc_vcpu_slot(vcpu)->hdr.state)) ==
	       KVM_SOC_IOREQ_READY;
}

static bool soc_vcpu_ready(void *vcpu)
{
	return soc_vcpu_exit_ready(vcpu);
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
	int ret;

	if (ksoc_ioreq_take(soc_vcpu_slot(vcpu), vcpu->idx, vcpu->seq + 1, m)) {
		soc_chan_fail(c, "malformed exit");
		return -EIO;
	}
	vcpu->seq++;
	vcpu->exit_reason = m->exit_reason;
	vcpu->io_in_len = 0;
	/* KVM's ring has these entries by the time KVM_RUN returns. */
	if (m->flags & BIT(KVM_SOC_IOREQ_F_DIRTY)) {
		m->flags &= ~BIT(KVM_SOC_IOREQ_F_DIRTY);
		ret = soc_vcpu_ring_pull(vcpu);
		if (ret)
			return ret;
	}
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
 * coalesced region), and the exit waits in its slot: @posted_hold.  One
 * such write is out at a time in the whole VM (@posted_out).
 */

/* Room in userspace's ring.  ->first is userspace's: a bad one is full. */
static u32 soc_coalesced_room(struct kvm_coalesced_mmio_ring *ring, u32 last)
{
	u32 first = READ_ONCE(ring->first);

	if (first >= KVM_COALESCED_MMIO_MAX)
		return 0;
	return (first + KVM_COALESCED_MMIO_MAX - last - 1) % KVM_COALESCED_MMIO_MAX;
}

/* A coalesced write as the exit KVM makes of it. */
static void soc_posted_exit(struct soc_vcpu *vcpu, struct kvm_run *run,
			    const struct kvm_soc_posted_write *w)
{
	u64 addr = le64_to_cpu(w->addr);

	atomic64_inc(&vcpu->vm->stats.exits);
	if (w->type == KVM_SOC_POSTED_PIO) {
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
}

/*
 * Wait until no other vCPU has a coalesced write out as its exit: until
 * that vCPU's userspace is back in KVM_RUN, it may not have handled the
 * write, and nothing that came after it may be handed over before it.
 * QEMU re-enters KVM_RUN after every I/O exit, even to stop.  Called and
 * returns with posted_lock held; -EINTR (fatal signal) or -EIO without.
 */
static int soc_posted_wait_turn(struct soc_vcpu *vcpu)
{
	struct soc_vm *vm = vcpu->vm;
	long left;

	while (vm->posted_out >= 0 && vm->posted_out != vcpu->idx) {
		mutex_unlock(&vm->posted_lock);
		left = wait_event_killable_timeout(vm->posted_wq,
						   READ_ONCE(vm->posted_out) < 0 ||
						   !soc_vm_ok(vm), HZ);
		if (left < 0)
			return -EINTR;
		if (!soc_vm_ok(vm))
			return -EIO;
		mutex_lock(&vm->posted_lock);
	}
	return 0;
}

/* @vcpu's userspace is back: the write it got as its exit is handled. */
static void soc_posted_done(struct soc_vcpu *vcpu)
{
	struct soc_vm *vm = vcpu->vm;

	if (READ_ONCE(vm->posted_out) != vcpu->idx)
		return;
	mutex_lock(&vm->posted_lock);
	if (vm->posted_out == vcpu->idx)
		vm->posted_out = -1;
	mutex_unlock(&vm->posted_lock);
	wake_up_all(&vm->posted_wq);
}

/*
 * Hand userspace the coalesced writes before @vcpu's held exit, and any
 * later ones its ring has room for.  Returns 1 when one of them is the
 * exit in @run, 0 when none is left before the held exit, -EIO when the
 * host broke the posted-write ring or the VM died, -EINTR for a fatal
 * signal.
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
	r = soc_posted_wait_turn(vcpu);
	if (r)
		return r;
	last = vm->coalesced_last;
	for (;;) {
		owed = (s32)(vcpu->posted_target - vm->posted.idx) > 0;
		if (!owed && !soc_coalesced_room(ring, last))
			break;
		r = ksoc_posted_consume(&vm->posted, &w);
		/* Entries it posted before the exit cannot be gone. */
		if (r == -EAGAIN && !owed)
			break;
		if (r || (w.type == KVM_SOC_POSTED_PIO &&
			  le64_to_cpu(w.addr) > U16_MAX)) {
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
		soc_posted_exit(vcpu, run, &w);
		vm->posted_out = vcpu->idx;
		ret = 1;
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
		if (r == -EINTR)
			return r;	/* still held: a fatal signal */
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
	bool hit;
	long r;
	u64 t0;
	int ret;

	if (vcpu->lost || !soc_vm_ok(vm))
		return -EIO;
	soc_posted_done(vcpu);
	/*
	 * Still handing over writes before an exit; nothing ran since.  As
	 * KVM completes an exit before it honours immediate_exit (and may
	 * then exit again), the held exits come out first whatever
	 * immediate_exit says: none may be left over when userspace stops.
	 */
	if (vcpu->posted_hold)
		return soc_vcpu_deliver(vcpu, run);
	/* What we wrote into guest memory, seen by the host's CPU first. */
	if (soc_hmem_sync(vm->sk))
		return -EIO;
	if (vcpu->sigset_active)
		sigprocmask(SIG_SETMASK, &vcpu->sigset, &saved);

	soc_vcpu_complete(vcpu, run);
	ksoc_ioreq_respond(soc_vcpu_slot(vcpu), vcpu->msg);
	vcpu->chan->t->kick(vcpu->chan->t, vcpu->chan->id);

	hit = ksoc_poll_spin(&vcpu->poll, soc_vcpu_ready, vcpu, &t0);
	ret = soc_vcpu_wait(vcpu, false);
	if (!ret) {
		ksoc_poll_done(&vcpu->poll, t0, hit, READ_ONCE(poll_ns),
			       READ_ONCE(poll_max_ns));
		atomic64_inc(hit ? &vm->stats.poll_hits : &vm->stats.poll_misses);
	}
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
		r = soc_fwd_attr(vcpu->chan, KVM_SOC_OP_VCPU_IOCTL, vcpu->idx,
				 vcpu->api_slot, KSOC_LVL_VCPU, cmd, arg);
		break;
	default:
		r = soc_fwd_ioctl(vcpu->chan, KVM_SOC_OP_VCPU_IOCTL, vcpu->idx,
				  vcpu->api_slot, KSOC_LVL_VCPU, cmd, arg,
				  vm->xsave_size, 0);
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
	else if (vmf->pgoff >= KVM_DIRTY_LOG_PAGE_OFFSET)
		page = soc_vcpu_ring_page(vcpu, vmf->pgoff - KVM_DIRTY_LOG_PAGE_OFFSET);
	else
		page = NULL;
	if (!page)
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
	struct soc_vcpu *vcpu = filp->private_data;
	unsigned long end = vma->vm_pgoff + vma_pages(vma);

	/* The dirty ring: shared and not executable, as KVM wants it. */
	if (vcpu->ring && vma->vm_pgoff >= KVM_DIRTY_LOG_PAGE_OFFSET &&
	    end <= KVM_DIRTY_LOG_PAGE_OFFSET +
		   (PAGE_ALIGN(vcpu->vm->dirty_ring_size) >> PAGE_SHIFT)) {
		if ((vma->vm_flags & VM_EXEC) || !(vma->vm_flags & VM_SHARED))
			return -EINVAL;
	} else if (end > SOC_VCPU_MMAP_PAGES) {
		return -EINVAL;
	}
	vma->vm_ops = &soc_vcpu_vm_ops;
	return 0;
}

/*
 * Unmap a vCPU's own window (soc_kvm_rwsem held for read, the VM not
 * detached).  Doorbells find the VM, not the vCPU, through @vcpu_wins.
 */
static void soc_vcpu_detach_window(struct soc_vm *vm, struct soc_vcpu *vcpu)
{
	xa_erase(&vm->sk->vcpu_wins, vcpu->own->id);
	vm->sk->t->window_unmap(vm->sk->t, vcpu->own->id);
}

static void soc_vcpu_free(struct soc_vcpu *vcpu)
{
	kfree(vcpu->own);
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

	/* A write it got as its exit is as handled as it will be. */
	soc_posted_done(vcpu);
	/* The host vCPU lives until its VM is destroyed, as in KVM. */
	mutex_lock(&vm->lock);
	RCU_INIT_POINTER(vm->vcpus[vcpu->idx], NULL);
	mutex_unlock(&vm->lock);
	/* Doorbells may still look at it (soc_vm_wake_vcpus()). */
	synchronize_rcu();
	down_read(&soc_kvm_rwsem);
	/* After a detach the host freed its object with everything else. */
	soc_vcpu_ring_free(vcpu, READ_ONCE(vm->dead) ? NULL : vm->sk);
	/* Its window; a detach unmapped it already. */
	if (vcpu->own) {
		soc_chan_bulk_free(vcpu->own, READ_ONCE(vm->dead) ? NULL : vm->sk);
		if (!READ_ONCE(vm->dead))
			soc_vcpu_detach_window(vm, vcpu);
	}
	up_read(&soc_kvm_rwsem);
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

/* A vCPU window's channel failed: so did its VM. */
static void soc_vcpu_chan_failed(struct soc_chan *c)
{
	soc_chan_fail(c->parent, "its vCPU window failed");
}

/*
 * Map and check the window the host made for a new vCPU
 * (KVM_SOC_F_VCPU_WINDOWS): one API slot, one IOREQ slot, nothing else.
 * @c: its channel, allocated by the caller (set as @vcpu->own on success).
 * Caller holds soc_kvm_rwsem for read; -EPROTO for a bad window.
 */
static int soc_vcpu_attach_window(struct soc_vm *vm, struct soc_vcpu *vcpu,
				  const struct kvm_soc_vcpu_created *resp,
				  struct soc_chan *c)
{
	struct ksoc_transport *t = vm->sk->t;
	u32 id = le32_to_cpu(resp->window_id);
	struct ksoc_layout l;
	unsigned int i;
	u64 size;
	void *win;

	for (i = 0; i < ARRAY_SIZE(resp->reserved); i++)
		if (resp->reserved[i])
			return -EPROTO;
	/*
	 * Not a VM's window, nor another vCPU's (a window being set up or
	 * torn down is in neither: the transport refuses to map it twice).
	 */
	if (!id || xa_load(&vm->sk->vms, id) || xa_load(&vm->sk->vcpu_wins, id))
		return -EPROTO;
	win = t->window_map(t, id, &size);
	if (!win)
		return -EPROTO;
	/* Pairs with the host's release of UP after formatting. */
	if (le32_to_cpu(smp_load_acquire(&ksoc_hdr(win)->host.state)) !=
	    KVM_SOC_PEER_UP ||
	    ksoc_window_parse(win, size, &l) || l.window_id != id ||
	    l.api_nr_slots != 1 || l.ioreq_nr_slots != 1 ||
	    l.posted_nr_entries || l.event_nr ||
	    !(l.host_features & BIT_ULL(KVM_SOC_F_VCPU_WINDOWS)) ||
	    xa_insert(&vm->sk->vcpu_wins, id, vm, GFP_KERNEL)) {
		t->window_unmap(t, id);
		return -EPROTO;
	}
	soc_chan_init(c, t, win, &l, 0);
	c->parent = &vm->chan;
	c->on_fail = soc_vcpu_chan_failed;
	if (vm->chan.bulk_sk && (l.host_features & BIT_ULL(KVM_SOC_F_BULK_ARGS)))
		c->bulk_sk = vm->sk;
	vcpu->own = c;
	vcpu->chan = c;
	vcpu->api_slot = 0;
	vcpu->ioreq_slot = 0;
	return 0;
}

/* Caller holds vm->lock and soc_kvm_rwsem for read. */
long soc_vm_create_vcpu(struct soc_vm *vm, unsigned long id)
{
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_CREATE_VCPU, .arg = id,
	};
	struct kvm_soc_vcpu_created resp;
	struct soc_chan *own = NULL;
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
	vcpu->poll.ns = min(READ_ONCE(poll_ns), READ_ONCE(poll_max_ns));
	vcpu->vm = vm;
	vcpu->run = alloc_page(GFP_KERNEL | __GFP_ZERO);
	vcpu->pio = alloc_page(GFP_KERNEL | __GFP_ZERO);
	vcpu->msg = kzalloc(sizeof(*vcpu->msg), GFP_KERNEL);
	r = -ENOMEM;
	if (!vcpu->run || !vcpu->pio || !vcpu->msg)
		goto err_free;
	r = soc_vcpu_ring_alloc(vcpu);
	if (r)
		goto err_free;
	/* Before the call: only the host's answer may fail the VM. */
	if (vm->vcpu_windows) {
		own = kzalloc(sizeof(*own), GFP_KERNEL);
		r = -ENOMEM;
		if (!own)
			goto err_free;
	}

	r = soc_chan_call(&vm->chan, &m, NULL, vm->vcpu_windows ? &resp : NULL,
			  sizeof(resp));
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
	vcpu->chan = &vm->chan;
	vcpu->api_slot = KSOC_VM_API_SLOTS + vcpu->idx;
	vcpu->ioreq_slot = vcpu->idx;
	if (vm->vcpu_windows &&
	    (m.len != sizeof(resp) ||
	     soc_vcpu_attach_window(vm, vcpu, &resp, own))) {
		soc_chan_fail(&vm->chan, "unusable vCPU window");
		r = -EIO;
		goto err_free;
	}
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
		soc_vm_put(vm);	/* never the last: the VM file holds one */
		r = fd;
		goto err_free;
	}
	rcu_assign_pointer(vm->vcpus[vcpu->idx], vcpu);
	WRITE_ONCE(vm->nr_vcpus, vm->nr_vcpus + 1);
	return fd;

err_free:
	if (vcpu->own)
		soc_vcpu_detach_window(vm, vcpu);
	else
		kfree(own);
	soc_vcpu_ring_free(vcpu, vm->sk);
	soc_vcpu_free(vcpu);
	return r;
}
