// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs of host-kvm: one helper thread per vCPU (see vm.c for the VM).
 *
 * The thread serves the vCPU's own API slot while the vCPU is stopped and
 * runs KVM_RUN when the SoC answers the vCPU's outstanding exit (the IOREQ
 * state machine in linux/kvm_soc.h).  Before it posts an exit it moves
 * what its KVM coalesced into the window's posted-write ring, and flags
 * the exit when its KVM dirty ring has entries the SoC has not taken
 * (KVM_SOC_OP_DIRTY_RING, which it serves in its API slot).  A vCPU is
 * kicked out of KVM_RUN with SIGUSR1; its thread then goes back to the
 * helper's (empty) handler and re-enters.  Every wait here is
 * interruptible for the same reason: a signal means "return, come back".
 * A vCPU's slots are touched by its own thread only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/kvm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "host.h"

#define HK_KVM_RUN_HEAD		offsetof(struct kvm_run, io)

/*
 * A stopped vCPU polls for the SoC's completion before it sleeps, as
 * KVM's halt polling does: an exit answered quickly then costs no wakeup
 * at all.  Each vCPU's window adapts (ksoc_poll.h): it starts at poll_ns,
 * grows up to poll_max_ns while answers come late but within it, and
 * shrinks when they do not.  0 in either turns polling off.
 */
static unsigned int poll_ns = 100000;
module_param(poll_ns, uint, 0644);
MODULE_PARM_DESC(poll_ns, "ns a vCPU thread first polls for a completion before sleeping (0: never)");

static unsigned int poll_max_ns = 500000;
module_param(poll_max_ns, uint, 0644);
MODULE_PARM_DESC(poll_max_ns, "most ns a vCPU thread's poll window grows to");

static unsigned int kick_delay_ms;
module_param(kick_delay_ms, uint, 0644);
MODULE_PARM_DESC(kick_delay_ms,
		 "testing: ms a vCPU thread waits before taking a kick's signal (default 0)");

static unsigned int run_delay_ms;
module_param(run_delay_ms, uint, 0644);
MODULE_PARM_DESC(run_delay_ms,
		 "testing: ms a vCPU thread waits between a completion and KVM_RUN (default 0)");

/*
 * HK_VCPU_KICKED: the SoC asked this vCPU out of KVM_RUN (VCPU_KICK).  A
 * kick is SIGUSR1 to the vCPU's thread, which takes it in userspace, and
 * a second SIGUSR1 sent while the first is still pending merges with it:
 * a kick for the next run would be lost, and a halted vCPU would never
 * come out (the SoC's thread then waits for good).  So the kick is also
 * this bit, set before the signal is sent and tested before KVM_RUN.
 */
#define HK_VCPU_KICKED	0

void hk_vcpu_attach(struct hk_vcpu *vcpu, struct task_struct *task)
{
	get_task_struct(task);
	WRITE_ONCE(vcpu->task, task);
}

static s64 hk_vcpu_dispatch(struct hk_vm *vm, void *ctx,
			    struct ksoc_api_msg *m, u8 *buf, u32 slot)
{
	struct hk_vcpu *vcpu = ctx;

	if (m->op != KVM_SOC_OP_VCPU_IOCTL && m->op != KVM_SOC_OP_DIRTY_RING) {
		m->len = 0;
		return -EOPNOTSUPP;
	}
	if (m->target != vcpu->idx) {
		m->len = 0;
		return -EINVAL;
	}
	if (m->op == KVM_SOC_OP_DIRTY_RING) {
		if (m->len) {
			m->len = 0;
			return -EINVAL;
		}
		return hk_vcpu_dirty_ring(vcpu, m);
	}
	if (m->flags & KVM_SOC_API_F_BULK) {
		if (!(vcpu->l.host_features & BIT_ULL(KVM_SOC_F_BULK_ARGS))) {
			m->len = 0;
			m->arg2 = 0;	/* no output bytes in the object */
			return -EINVAL;
		}
		return hk_exec_bulk(vm, vcpu->file, KSOC_LVL_VCPU, m,
				    vcpu->staging);
	}
	return hk_exec_ioctl(vcpu->file, KSOC_LVL_VCPU, m, buf,
			     ksoc_api_payload_max(&vcpu->l), vcpu->staging,
			     vm->xsave_size);
}

static void hk_vcpu_post(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;

	vcpu->msg->vcpu_id = vcpu->idx;
	vcpu->msg->seq = vcpu->seq;
	ksoc_ioreq_post(ksoc_ioreq_slot(vcpu->win, &vcpu->l, vcpu->ioreq_slot),
			vcpu->msg);
	vm->hk->t->kick(vm->hk->t, vcpu->win_id);
}

/* Apply the SoC's completion to kvm_run, as a VMM would before KVM_RUN. */
static int hk_vcpu_apply(struct hk_vcpu *vcpu)
{
	struct ksoc_ioreq_msg *m = vcpu->msg;
	void __user *run = (void __user *)vcpu->run;

	if (m->data_len != vcpu->io_in_len)
		return -EPROTO;
	/* request_interrupt_window, immediate_exit; cr8 */
	if (copy_to_user(run, m->run, offsetof(struct kvm_run, padding1)) ||
	    copy_to_user(run + offsetof(struct kvm_run, cr8),
			 m->run + offsetof(struct kvm_run, cr8), sizeof(u64)) ||
	    copy_to_user(run + HK_KVM_RUN_HEAD, m->exit, sizeof(m->exit)))
		return -EFAULT;
	if (vcpu->io_in_len &&
	    copy_to_user(run + vcpu->io_off, m->data, vcpu->io_in_len))
		return -EFAULT;
	return 0;
}

/* Turn what KVM_RUN left in kvm_run into the next exit message. */
static int hk_vcpu_collect(struct hk_vcpu *vcpu, long r)
{
	struct ksoc_ioreq_msg *m = vcpu->msg;
	void __user *run = (void __user *)vcpu->run;
	u32 len;

	memset(m->run, 0, sizeof(m->run));
	m->flags = 0;
	m->data_len = 0;
	vcpu->io_in_len = 0;
	if (copy_from_user(m->run, run, HK_KVM_RUN_HEAD) ||
	    copy_from_user(m->exit, run + HK_KVM_RUN_HEAD, sizeof(m->exit)))
		return -EFAULT;
	memcpy(&m->exit_reason, m->run + offsetof(struct kvm_run, exit_reason),
	       sizeof(m->exit_reason));

	if (r == -EINTR) {
		/* KVM_EXIT_INTR for a signal; unchanged for immediate_exit. */
		m->flags = BIT(KVM_SOC_IOREQ_F_EINTR);
		return 0;
	}
	if (r < 0) {
		__le32 err = cpu_to_le32((u32)r);

		m->flags = BIT(KVM_SOC_IOREQ_F_ERROR);
		memcpy(m->exit, &err, sizeof(err));
		return 0;
	}
	if (m->exit_reason == KVM_EXIT_IO) {
		typeof(((struct kvm_run *)0)->io) io;

		memcpy(&io, m->exit, sizeof(io));
		len = io.size * io.count;
		if (len > KVM_SOC_IOREQ_DATA_SIZE ||
		    io.data_offset > vcpu->vm->mmap_size - len)
			return -EIO;
		vcpu->io_off = io.data_offset;
		if (io.direction == KVM_EXIT_IO_OUT) {
			if (copy_from_user(m->data, run + vcpu->io_off, len))
				return -EFAULT;
			m->data_len = len;
		} else {
			vcpu->io_in_len = len;
		}
	}
	return 0;
}

/*
 * How long a vCPU waits for room in a full posted-write ring before it
 * posts its exit anyway (linux/kvm_soc.h): only a SoC that stopped
 * consuming makes it wait at all.
 */
#define HK_POSTED_WAIT_MS	1000

/*
 * Move what KVM's coalesced MMIO/PIO ring holds into the posted-write
 * ring, before this vCPU's exit is posted: the SoC hands every entry
 * over before the exit (linux/kvm_soc.h).  KVM produces at ->last (its
 * smp_wmb() orders each entry before it) and reads ->first to find room;
 * we are the ring's one consumer, its "userspace", under posted_lock.
 * In the vCPU's thread: the ring is a page of its kvm_run mapping (KVM's
 * ring is the VM's, the same page in every vCPU's mapping).
 */
static int hk_vcpu_drain_coalesced(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;
	struct kvm_coalesced_mmio_ring __user *ring;
	unsigned long until;
	u32 first, last;
	int ret = 0, r;

	/*
	 * No ring without the page (KVM's mmap size says whether it has it),
	 * and none unless the SoC consumes it.
	 */
	if (!vm->posted.nr ||
	    vm->mmap_size < (KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * PAGE_SIZE ||
	    !(le64_to_cpu(READ_ONCE(ksoc_hdr(vm->win)->soc.soc_features)) &
	      BIT_ULL(KVM_SOC_F_POSTED_WRITES)))
		return 0;
	ring = (void __user *)(vcpu->run +
			       KVM_COALESCED_MMIO_PAGE_OFFSET * PAGE_SIZE);
	/* Nothing coalesced (most exits): no lock. */
	if (get_user(first, &ring->first) || get_user(last, &ring->last))
		return -EFAULT;
	if (first == last)
		return 0;
	until = jiffies + msecs_to_jiffies(HK_POSTED_WAIT_MS);
	mutex_lock(&vm->posted_lock);
	for (;;) {
		struct kvm_coalesced_mmio e;
		__le64 data;

		if (get_user(first, &ring->first) || get_user(last, &ring->last)) {
			ret = -EFAULT;
			break;
		}
		if (first >= KVM_COALESCED_MMIO_MAX || last >= KVM_COALESCED_MMIO_MAX) {
			ret = -EIO;
			break;
		}
		if (first == last)
			break;
		/* Pairs with KVM's smp_wmb() between an entry and ->last. */
		smp_rmb();
		if (copy_from_user(&e, &ring->coalesced_mmio[first], sizeof(e))) {
			ret = -EFAULT;
			break;
		}
		if (e.len > sizeof(e.data)) {
			ret = -EIO;
			break;
		}
		/* The guest's bytes, as little-endian x86 stored them. */
		memcpy(&data, e.data, sizeof(data));
		r = ksoc_posted_produce(&vm->posted, e.phys_addr,
					le64_to_cpu(data), vcpu->idx,
					e.len, e.pio ? KVM_SOC_POSTED_PIO :
						       KVM_SOC_POSTED_MMIO);
		if (r == -ENOSPC) {
			if (time_after(jiffies, until) ||
			    READ_ONCE(vm->stopping) || READ_ONCE(vm->failed))
				break;
			mutex_unlock(&vm->posted_lock);
			usleep_range(50, 100);
			mutex_lock(&vm->posted_lock);
			continue;
		}
		if (r) {
			/* -EPROTO: the SoC's index; -EINVAL: KVM's entry. */
			ret = r;
			break;
		}
		/* The entry is copied before KVM may reuse it. */
		smp_mb();
		if (put_user((first + 1) % KVM_COALESCED_MMIO_MAX, &ring->first)) {
			ret = -EFAULT;
			break;
		}
	}
	mutex_unlock(&vm->posted_lock);
	return ret;
}

/*
 * Has KVM pushed entries into the vCPU's dirty ring that the SoC has not
 * moved (hk_vcpu_dirty_ring())?  Then the exit says so, and the SoC moves
 * them before its KVM_RUN returns: its userspace finds them there after
 * any exit, as it would in KVM's ring.  An unreadable ring says yes, and
 * the move reports the fault.
 */
static bool hk_vcpu_dirty_pending(struct hk_vcpu *vcpu)
{
	struct kvm_dirty_gfn __user *ring = (void __user *)vcpu->ring;
	u32 nr = vcpu->vm->dirty_ring_size / sizeof(*ring), flags;

	if (!ring)
		return false;
	if (get_user(flags, &ring[vcpu->ring_fetch & (nr - 1)].flags))
		return true;
	return flags & KVM_DIRTY_GFN_F_DIRTY;
}

bool hk_vcpu_has_work(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;
	struct kvm_soc_ioreq *s = ksoc_ioreq_slot(vcpu->win, &vcpu->l,
						  vcpu->ioreq_slot);

	if (READ_ONCE(vm->stopping))
		return true;
	if (READ_ONCE(vm->failed))
		return false;
	return hk_slot_has_req(vcpu->win, &vcpu->l, vcpu->api_slot) ||
	       le32_to_cpu(READ_ONCE(s->hdr.state)) == KVM_SOC_IOREQ_RESP_READY;
}

static int hk_vcpu_setup(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;

	vcpu->staging = hk_staging_map();
	if (!vcpu->staging)
		return -ENOMEM;
	vcpu->run = vm_mmap(vcpu->file, 0, vm->mmap_size,
			    PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	if (IS_ERR_VALUE(vcpu->run)) {
		int ret = (long)vcpu->run;

		vcpu->run = 0;
		return ret;
	}
	/* KVM's dirty ring, if the SoC enabled it before creating vCPUs. */
	if (READ_ONCE(vm->dirty_ring_size)) {
		vcpu->ring = vm_mmap(vcpu->file, 0, vm->dirty_ring_size,
				     PROT_READ | PROT_WRITE, MAP_SHARED,
				     KVM_DIRTY_LOG_PAGE_OFFSET * PAGE_SIZE);
		if (IS_ERR_VALUE(vcpu->ring)) {
			int ret = (long)vcpu->ring;

			vcpu->ring = 0;
			return ret;
		}
	}
	/* The start exit: the vCPU is stopped until the SoC's first KVM_RUN. */
	memset(vcpu->msg, 0, sizeof(*vcpu->msg));
	vcpu->msg->exit_reason = KVM_EXIT_UNKNOWN;
	vcpu->msg->flags = BIT(KVM_SOC_IOREQ_F_START);
	vcpu->seq = 1;
	hk_vcpu_post(vcpu);
	return 0;
}

/* In the vCPU's thread, in the helper's mm: release what it set up. */
static long hk_vcpu_teardown(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;

	if (vcpu->run)
		vm_munmap(vcpu->run, vm->mmap_size);
	if (vcpu->ring)
		vm_munmap(vcpu->ring, vm->dirty_ring_size);
	hk_vcpu_dirty_ring_unmap(vcpu, true);
	vcpu->ring = 0;
	if (vcpu->staging)
		vm_munmap(vcpu->staging, HK_STAGING_SIZE);
	vcpu->run = 0;
	vcpu->staging = 0;
	fput(vcpu->file);
	vcpu->file = NULL;
	complete(&vcpu->exited);
	return 0;
}

/* An exit for a kick taken before KVM_RUN: KVM_EXIT_INTR, as KVM sets it. */
static void hk_vcpu_set_exit_intr(struct hk_vcpu *vcpu)
{
	struct ksoc_ioreq_msg *m = vcpu->msg;

	m->exit_reason = KVM_EXIT_INTR;
	memcpy(m->run + offsetof(struct kvm_run, exit_reason), &m->exit_reason,
	       sizeof(m->exit_reason));
}

/* kvm_run.immediate_exit: the byte after request_interrupt_window. */
#define HK_RUN_IMMEDIATE_EXIT	(offsetof(struct kvm_run, request_interrupt_window) + 1)

/*
 * KVM_RUN with immediate_exit set: KVM completes a pending I/O or MMIO
 * read and returns -EINTR without entering the guest (or 0 with the next
 * exit, when completing it needs one, as a string I/O may).  The SoC's
 * immediate_exit is put back for the exit message.
 */
static long hk_vcpu_run_immediate(struct hk_vcpu *vcpu)
{
	u8 __user *ie = (u8 __user *)vcpu->run + HK_RUN_IMMEDIATE_EXIT;
	u8 was;
	long r;

	if (get_user(was, ie) || put_user(1, ie))
		return -EFAULT;
	r = hk_ioctl(vcpu->file, KVM_RUN, 0);
	if (put_user(was, ie))
		return -EFAULT;
	return r;
}

static bool hk_vcpu_ready(void *vcpu)
{
	return hk_vcpu_has_work(vcpu);
}

/*
 * In the VM's main thread: get @vcpu out of KVM_RUN, or make its next run
 * exit at once.
 */
void hk_vcpu_kick(struct hk_vcpu *vcpu)
{
	set_bit(HK_VCPU_KICKED, &vcpu->flags);
	/*
	 * The bit before the signal: pairs with the fully ordered
	 * test_and_clear_bit() in hk_vcpu_main(), so that thread either sees
	 * the bit or enters KVM_RUN with the signal pending.
	 */
	smp_mb__after_atomic();
	send_sig(SIGUSR1, vcpu->task, 1);
}

/**
 * hk_vcpu_main - what a vCPU's helper thread does inside the kernel.
 * @vcpu: the vCPU.
 *
 * Return: 0 when the vCPU is gone (the thread exits), -EINTR to take a
 * signal and come back.
 */
long hk_vcpu_main(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;
	struct kvm_soc_ioreq *s = ksoc_ioreq_slot(vcpu->win, &vcpu->l,
						  vcpu->ioreq_slot);
	long r;
	int ret;

	if (!vcpu->setup_done) {
		vcpu->setup_done = true;
		vcpu->start_ret = hk_vcpu_setup(vcpu);
		complete(&vcpu->started);
		if (vcpu->start_ret)
			return hk_vcpu_teardown(vcpu);
	}
	for (;;) {
		u64 t0;
		bool hit = ksoc_poll_spin(&vcpu->poll, hk_vcpu_ready, vcpu, &t0);

		/*
		 * No timer: hk_vm_wake() (the doorbell) wakes this thread for
		 * every state the SoC publishes before ringing, and teardown
		 * wakes it for vm->stopping.  An idle vCPU costs no wakeups.
		 */
		if (wait_event_interruptible(vcpu->wq, hk_vcpu_has_work(vcpu)))
			return -EINTR;
		ksoc_poll_done(&vcpu->poll, t0, hit, READ_ONCE(poll_ns),
			       READ_ONCE(poll_max_ns));
		if (READ_ONCE(vm->stopping))
			return hk_vcpu_teardown(vcpu);

		hk_serve_slot(vm, vcpu->win, &vcpu->l, vcpu->api_slot,
			      hk_vcpu_dispatch, vcpu);

		ret = ksoc_ioreq_finish(s, vcpu->idx, vcpu->seq, vcpu->msg);
		if (ret == -EAGAIN)
			continue;
		if (!ret)
			ret = hk_vcpu_apply(vcpu);
		if (ret) {
			hk_vm_fail(vm, "malformed completion");
			continue;
		}
		if (unlikely(READ_ONCE(run_delay_ms)))
			msleep(READ_ONCE(run_delay_ms));
		/*
		 * A kick that lands after this check finds SIGUSR1 pending,
		 * and KVM_RUN returns -EINTR at once.
		 */
		if (READ_ONCE(vm->stopping))
			return hk_vcpu_teardown(vcpu);
		/*
		 * A kick whose signal merged with one taken already: exit at
		 * once, as KVM does for a signal pending at entry.  Fully
		 * ordered, pairs with the barrier in hk_vcpu_kick(): either
		 * this sees the bit, or KVM_RUN sees the signal.  Through
		 * KVM_RUN all the same: KVM completes the I/O just answered
		 * before it honours the exit, so the registers userspace may
		 * now read and save (a migration) are past the instruction.
		 */
		if (test_and_clear_bit(HK_VCPU_KICKED, &vcpu->flags)) {
			r = hk_vcpu_run_immediate(vcpu);
			ret = hk_vcpu_collect(vcpu, r);
			if (!ret && r == -EINTR)
				hk_vcpu_set_exit_intr(vcpu);
		} else {
			r = hk_ioctl(vcpu->file, KVM_RUN, 0);
			/*
			 * This run is over.  The SoC kicks a run only after
			 * taking the previous exit, and this one is posted
			 * below: a kick from now on is for the next run.
			 */
			clear_bit(HK_VCPU_KICKED, &vcpu->flags);
			ret = hk_vcpu_collect(vcpu, r);
		}
		if (ret) {
			hk_vm_fail(vm, "kvm_run unreadable");
			continue;
		}
		if (hk_vcpu_drain_coalesced(vcpu)) {
			hk_vm_fail(vm, "coalesced writes not carried");
			continue;
		}
		if (hk_vcpu_dirty_pending(vcpu))
			vcpu->msg->flags |= BIT(KVM_SOC_IOREQ_F_DIRTY);
		vcpu->seq++;
		hk_vcpu_post(vcpu);
		/* Take the kick in userspace so the next KVM_RUN can run. */
		if (signal_pending(current)) {
			if (unlikely(READ_ONCE(kick_delay_ms)))
				msleep(READ_ONCE(kick_delay_ms));
			return -EINTR;
		}
	}
}

void hk_vcpu_free(struct hk_vcpu *vcpu)
{
	struct host_kvm *hk = vcpu->vm->hk;

	/* Out of the doorbell lookup while the id is still ours. */
	if (vcpu->own_win) {
		xa_cmpxchg(&hk->vcpu_wins, vcpu->win_id, vcpu->vm, NULL,
			   GFP_KERNEL);
		hk->t->window_free(hk->t, vcpu->win_id);
	}
	/* The object's reference, if its thread never tore down. */
	hk_vcpu_dirty_ring_unmap(vcpu, false);
	if (vcpu->file)
		fput(vcpu->file);
	if (vcpu->stats)
		fput(vcpu->stats);
	if (vcpu->task)
		put_task_struct(vcpu->task);
	kfree(vcpu->msg);
	kfree(vcpu);
}

/*
 * The vCPU's slots: a window of its own (KVM_SOC_F_VCPU_WINDOWS: its VM's
 * window has none), UP before the SoC hears of it, or its VM's.
 */
static int hk_vcpu_window(struct hk_vm *vm, struct hk_vcpu *vcpu)
{
	struct ksoc_transport *t = vm->hk->t;
	int ret;

	if (vm->l.ioreq_nr_slots) {
		vcpu->win = vm->win;
		vcpu->l = vm->l;
		vcpu->win_id = vm->id;
		vcpu->api_slot = KSOC_VM_API_SLOTS + vcpu->idx;
		vcpu->ioreq_slot = vcpu->idx;
		return 0;
	}
	/* Its API slot is the size of the VM's (KVM_SOC_F_BULK_ARGS). */
	ret = ksoc_layout_compute(&vcpu->l, 0, 1, vm->l.api_slot_size, 1, 0,
				  BIT_ULL(KVM_SOC_F_VCPU_WINDOWS) |
				  (vm->l.host_features &
				   BIT_ULL(KVM_SOC_F_BULK_ARGS)));
	if (ret)
		return ret;
	vcpu->win = t->window_alloc(t, vcpu->l.window_size, &vcpu->win_id);
	if (!vcpu->win)
		return -ENOMEM;
	vcpu->l.window_id = vcpu->win_id;
	ksoc_window_format(vcpu->win, &vcpu->l);
	ret = xa_insert(&vm->hk->vcpu_wins, vcpu->win_id, vm, GFP_KERNEL);
	if (ret) {
		t->window_free(t, vcpu->win_id);
		return ret;
	}
	vcpu->own_win = true;
	/* Pairs with the SoC's acquire in soc_vcpu_attach_window(). */
	smp_store_release(&ksoc_hdr(vcpu->win)->host.state,
			  cpu_to_le32(KVM_SOC_PEER_UP));
	return 0;
}

/* In the VM's main thread: start creating a vCPU; its thread comes next. */
s64 hk_vcpu_create(struct hk_vm *vm, struct ksoc_api_msg *m, u32 slot)
{
	struct hk_vcpu *vcpu;
	long fd;
	int ret;

	if (vm->nr_vcpus >= KSOC_MAX_VCPUS)
		return -EINVAL;
	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL);
	if (!vcpu)
		return -ENOMEM;
	INIT_LIST_HEAD(&vcpu->pending);
	vcpu->vm = vm;
	vcpu->idx = vm->nr_vcpus;
	init_completion(&vcpu->started);
	init_completion(&vcpu->exited);
	init_waitqueue_head(&vcpu->wq);
	vcpu->poll.ns = min(READ_ONCE(poll_ns), READ_ONCE(poll_max_ns));
	vcpu->msg = kzalloc(sizeof(*vcpu->msg), GFP_KERNEL);
	ret = -ENOMEM;
	if (!vcpu->msg)
		goto err_free;
	ret = hk_vcpu_window(vm, vcpu);
	if (ret)
		goto err_free;

	fd = hk_ioctl(vm->vm_file, KVM_CREATE_VCPU, m->arg);
	if (fd < 0) {
		ret = fd;
		goto err_free;
	}
	vcpu->file = fget(fd);
	close_fd(fd);
	ret = -EBADF;
	if (!vcpu->file)
		goto err_free;
	/*
	 * Now, while it does not run: KVM's vCPU ioctls wait for KVM_RUN to
	 * return, reads of the stats file do not (hk_vm_stats_read()).
	 */
	fd = hk_ioctl(vcpu->file, KVM_GET_STATS_FD, 0);
	if (fd >= 0) {
		vcpu->stats = fget(fd);
		close_fd(fd);
	}

	vm->creating = vcpu;
	vm->creating_slot = slot;
	vm->creating_msg = *m;
	hk_ctx_add_pending(vm->ctx, &vcpu->pending);
	return HK_SPAWN;

err_free:
	hk_vcpu_free(vcpu);
	return ret;
}

/* The new vCPU's thread is up (or failed): answer KVM_SOC_OP_CREATE_VCPU. */
int hk_vcpu_create_done(struct hk_vm *vm)
{
	struct hk_vcpu *vcpu = vm->creating;
	struct ksoc_api_msg *m = &vm->creating_msg;
	struct kvm_soc_vcpu_created resp = { };

	m->len = 0;
	if (vcpu->start_ret) {
		m->result = vcpu->start_ret;
		/* Its thread released its file and is leaving (setup failed). */
		if (wait_for_completion_killable(&vcpu->exited))
			return -EINTR;
		/* Pairs with the acquire in hk_vm_find_vcpu(). */
		smp_store_release(&vm->creating, NULL);
		/* hk_vm_wake() and hk_vm_find_vcpu() may still hold it. */
		synchronize_rcu();
		hk_vcpu_free(vcpu);
	} else {
		m->result = vcpu->idx;
		if (vcpu->own_win) {
			resp.window_id = cpu_to_le32(vcpu->win_id);
			m->len = sizeof(resp);
		}
		vm->vcpus[vcpu->idx] = vcpu;
		/*
		 * Publish vcpus[idx] (acquire in hk_vm_wake() and
		 * hk_vm_find_vcpu()) before @creating stops pointing at it
		 * (acquire in hk_vm_find_vcpu()).
		 */
		smp_store_release(&vm->nr_vcpus, vm->nr_vcpus + 1);
		/* Pairs with the acquire in hk_vm_find_vcpu(). */
		smp_store_release(&vm->creating, NULL);
	}
	ksoc_api_complete(vm->win, &vm->l, vm->creating_slot, m, &resp);
	vm->hk->t->kick(vm->hk->t, vm->id);
	return 0;
}
