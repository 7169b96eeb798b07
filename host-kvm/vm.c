// SPDX-License-Identifier: GPL-2.0
/*
 * VM and vCPU contexts of host-kvm.
 *
 * Each VM gets a window and a helper process (ctx.c).  The helper's main
 * thread creates the VM in stock KVM through /dev/kvm and serves the
 * window's VM-level API slots.  Each vCPU gets a helper thread of its own:
 * it serves the vCPU's API slot while the vCPU is stopped, and runs
 * KVM_RUN when the SoC answers the vCPU's outstanding exit (see the IOREQ
 * state machine in linux/kvm_soc.h).  KVM is entered only through its
 * files' ioctls, from threads of the VM's own address space, as from a
 * userspace VMM.
 *
 * A vCPU is kicked out of KVM_RUN with SIGUSR1; its thread then goes back
 * to the helper's (empty) handler and re-enters.  Every wait here is
 * interruptible for the same reason: a signal means "return, come back".
 *
 * Ownership, instead of locks: @vcpus, @nr_vcpus, @creating and @slots are
 * written by the VM's main thread only; a vCPU's slots are touched by its
 * own thread only; readers in other contexts (doorbells, re-entering
 * threads) follow the acquire/release pairs and RCU noted where they are.
 * Teardown: the main thread stops the vCPU threads, then releases the KVM
 * files in its own address space so KVM frees its private mappings there;
 * whoever destroys the VM (the control thread, or detach) waits for that,
 * then frees what a dead helper could not.
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
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>

#include "host.h"

#define HK_KVM_RUN_HEAD		offsetof(struct kvm_run, io)

/*
 * A stopped vCPU polls this long for the SoC's completion before it
 * sleeps, as KVM's halt polling does: an exit answered quickly then costs
 * no wakeup at all.  0 turns polling off.
 */
static unsigned int poll_ns = 100000;
module_param(poll_ns, uint, 0644);
MODULE_PARM_DESC(poll_ns, "ns a vCPU thread polls for a completion before sleeping");

static unsigned int kick_delay_ms;
module_param(kick_delay_ms, uint, 0644);
MODULE_PARM_DESC(kick_delay_ms,
		 "testing: ms a vCPU thread waits before taking a kick's signal (default 0)");

/**
 * struct hk_vcpu - one vCPU.
 * @pending: on hk_ctx.pending until a thread takes it.
 * @vm: its VM.
 * @idx: its index: IOREQ slot and API slot KSOC_VM_API_SLOTS + @idx.
 * @file: the stock-KVM vCPU file.
 * @stats: its binary stats file (KVM_GET_STATS_FD), opened with it.
 * @task: its helper thread.
 * @run: user address of KVM's kvm_run mapping in the helper.
 * @staging: the thread's bounce buffer in the helper.
 * @buf: API payload buffer.
 * @msg: exit / completion buffer.
 * @seq: sequence number of the exit outstanding at the SoC.
 * @io_in_len: bytes of PIO IN data the completion must carry (0: none).
 * @io_off: where KVM keeps PIO data in kvm_run's mapping.
 * @setup_done: the thread set itself up (first entry).
 * @started: completed when the thread posted its start exit (or failed).
 * @start_ret: its result.
 * @exited: completed when the thread released its KVM file.
 * @wq: the thread sleeps here; doorbells wake it only when its own slots
 *	changed.
 * @flags: HK_VCPU_* bits (atomic bitops).
 */
struct hk_vcpu {
	struct list_head pending;
	struct hk_vm *vm;
	u32 idx;
	struct file *file;
	struct file *stats;
	struct task_struct *task;
	unsigned long run;
	unsigned long staging;
	u8 *buf;
	struct ksoc_ioreq_msg *msg;
	u64 seq;
	u32 io_in_len;
	u32 io_off;
	bool setup_done;
	struct completion started;
	int start_ret;
	struct completion exited;
	wait_queue_head_t wq;
	unsigned long flags;
};

/*
 * HK_VCPU_KICKED: the SoC asked this vCPU out of KVM_RUN (VCPU_KICK).  A
 * kick is SIGUSR1 to the vCPU's thread, which takes it in userspace, and
 * a second SIGUSR1 sent while the first is still pending merges with it:
 * a kick for the next run would be lost, and a halted vCPU would never
 * come out (the SoC's thread then waits for good).  So the kick is also
 * this bit, set before the signal is sent and tested before KVM_RUN.
 */
#define HK_VCPU_KICKED	0

static struct kvm_soc_window_hdr *vm_hdr(struct hk_vm *vm)
{
	return ksoc_hdr(vm->win);
}

static bool hk_vcpu_has_work(struct hk_vcpu *vcpu);
static bool hk_vm_has_work(struct hk_vm *vm);

/*
 * Wake the threads that have something to do (@all: every thread).  Any
 * context; vCPUs are read under RCU (hk_vm_free() waits for a grace period
 * before freeing them) and published by hk_vcpu_create_done().
 */
static void hk_vm_wake(struct hk_vm *vm, bool all)
{
	/* Pairs with the release in hk_vcpu_create_done(). */
	u32 i, n = smp_load_acquire(&vm->nr_vcpus);
	struct hk_vcpu *vcpu;

	if (all || hk_vm_has_work(vm))
		wake_up_all(&vm->wq);
	for (i = 0; i < n; i++) {
		vcpu = READ_ONCE(vm->vcpus[i]);
		if (all || hk_vcpu_has_work(vcpu))
			wake_up_all(&vcpu->wq);
	}
	rcu_read_lock();
	vcpu = READ_ONCE(vm->creating);
	if (all && vcpu)
		wake_up_all(&vcpu->wq);
	rcu_read_unlock();
}

/* Fail the VM after a protocol violation by the SoC: log once, stop. */
static void hk_vm_fail(struct hk_vm *vm, const char *why)
{
	if (xchg(&vm->failed, true))
		return;
	WRITE_ONCE(vm_hdr(vm)->host.state, cpu_to_le32(KVM_SOC_PEER_FAILED));
	pr_err_ratelimited("vm%u: failed: %s\n", vm->id, why);
	vm->hk->t->kick(vm->hk->t, vm->id);
	hk_vm_wake(vm, true);
}

static bool hk_slot_has_req(struct hk_vm *vm, u32 slot)
{
	struct kvm_soc_api_hdr *h = ksoc_api_slot(vm->win, &vm->l, slot);

	return le32_to_cpu(READ_ONCE(h->state)) == KVM_SOC_API_REQ;
}

typedef s64 (*hk_dispatch_fn)(struct hk_vm *vm, void *ctx,
			      struct ksoc_api_msg *m, u8 *buf, u32 slot);

/* Serve one API slot.  Returns HK_SPAWN when the answer must wait. */
static s64 hk_serve_slot(struct hk_vm *vm, u32 slot, u8 *buf,
			 hk_dispatch_fn dispatch, void *ctx)
{
	u32 cap = ksoc_api_payload_max(&vm->l);
	struct ksoc_api_msg m;
	int ret;

	ret = ksoc_api_take(vm->win, &vm->l, slot, &m, buf, cap);
	if (ret == -EAGAIN)
		return 0;
	if (ret) {
		hk_vm_fail(vm, "malformed request");
		return 0;
	}
	if (!hk_msg_unused_zero(&m)) {
		m.len = 0;
		m.result = -EINVAL;
	} else {
		m.result = dispatch(vm, ctx, &m, buf, slot);
	}
	if (m.result == HK_SPAWN)
		return HK_SPAWN;
	if (m.len > cap)
		m.len = 0;
	ksoc_api_complete(vm->win, &vm->l, slot, &m, buf);
	vm->hk->t->kick(vm->hk->t, vm->id);
	return 0;
}

/* ---- vCPU thread ------------------------------------------------------ */

/*
 * The vCPU a re-entering helper thread serves.  Runs concurrently with the
 * VM thread moving @creating into @vcpus: it reads @creating first, and
 * hk_vcpu_create_done() publishes @nr_vcpus before clearing @creating, so
 * a thread whose vCPU just moved sees it in one place or the other.
 */
static struct hk_vcpu *hk_vm_find_vcpu(struct hk_vm *vm,
				       struct task_struct *task)
{
	struct hk_vcpu *vcpu;
	bool mine;
	u32 i, n;

	/*
	 * A failed @creating is freed after a grace period.  The caller's
	 * own vCPU is never freed under it, so it may be used after unlock.
	 */
	rcu_read_lock();
	/* Pairs with the release in hk_vcpu_create_done(). */
	vcpu = smp_load_acquire(&vm->creating);
	mine = vcpu && READ_ONCE(vcpu->task) == task;
	rcu_read_unlock();
	if (mine)
		return vcpu;
	/* Pairs with the release of nr_vcpus in hk_vcpu_create_done(). */
	n = smp_load_acquire(&vm->nr_vcpus);
	for (i = 0; i < n; i++)
		if (READ_ONCE(vm->vcpus[i]->task) == task)
			return vm->vcpus[i];
	return NULL;
}

/* The oldest vCPU still waiting for a thread, or NULL. */
static struct hk_vcpu *hk_vm_pop_pending(struct hk_vm *vm)
{
	struct list_head *e = hk_ctx_pop_pending(vm->ctx);

	return e ? list_entry(e, struct hk_vcpu, pending) : NULL;
}

static void hk_vcpu_attach(struct hk_vcpu *vcpu, struct task_struct *task)
{
	get_task_struct(task);
	WRITE_ONCE(vcpu->task, task);
}

static s64 hk_vcpu_dispatch(struct hk_vm *vm, void *ctx,
			    struct ksoc_api_msg *m, u8 *buf, u32 slot)
{
	struct hk_vcpu *vcpu = ctx;

	if (m->op != KVM_SOC_OP_VCPU_IOCTL || m->target != vcpu->idx) {
		m->len = 0;
		return m->op != KVM_SOC_OP_VCPU_IOCTL ? -EOPNOTSUPP : -EINVAL;
	}
	return hk_exec_ioctl(vcpu->file, KSOC_LVL_VCPU, m, buf,
			     ksoc_api_payload_max(&vm->l), vcpu->staging,
			     vm->xsave_size);
}

static void hk_vcpu_post(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;

	vcpu->msg->vcpu_id = vcpu->idx;
	vcpu->msg->seq = vcpu->seq;
	ksoc_ioreq_post(ksoc_ioreq_slot(vm->win, &vm->l, vcpu->idx), vcpu->msg);
	vm->hk->t->kick(vm->hk->t, vm->id);
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
#define HK_POSTED_WAIT_MS	10

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

	/* No ring without the page (KVM's mmap size says whether it has it). */
	if (!vm->posted.nr ||
	    vm->mmap_size < (KVM_COALESCED_MMIO_PAGE_OFFSET + 1) * PAGE_SIZE)
		return 0;
	ring = (void __user *)(vcpu->run +
			       KVM_COALESCED_MMIO_PAGE_OFFSET * PAGE_SIZE);
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

static bool hk_vcpu_has_work(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;
	struct kvm_soc_ioreq *s = ksoc_ioreq_slot(vm->win, &vm->l, vcpu->idx);

	if (READ_ONCE(vm->stopping))
		return true;
	if (READ_ONCE(vm->failed))
		return false;
	return hk_slot_has_req(vm, KSOC_VM_API_SLOTS + vcpu->idx) ||
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

/*
 * In the VM's main thread: get @vcpu out of KVM_RUN, or make its next run
 * exit at once.
 */
static void hk_vcpu_kick(struct hk_vcpu *vcpu)
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
static long hk_vcpu_main(struct hk_vcpu *vcpu)
{
	struct hk_vm *vm = vcpu->vm;
	struct kvm_soc_ioreq *s = ksoc_ioreq_slot(vm->win, &vm->l, vcpu->idx);
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
		u64 until = ktime_get_ns() + READ_ONCE(poll_ns);

		while (!hk_vcpu_has_work(vcpu) && ktime_get_ns() < until &&
		       !need_resched() && !signal_pending(current))
			cpu_relax();
		/*
		 * No timer: hk_vm_wake() (the doorbell) wakes this thread for
		 * every state the SoC publishes before ringing, and teardown
		 * wakes it for vm->stopping.  An idle vCPU costs no wakeups.
		 */
		if (wait_event_interruptible(vcpu->wq, hk_vcpu_has_work(vcpu)))
			return -EINTR;
		if (READ_ONCE(vm->stopping))
			return hk_vcpu_teardown(vcpu);

		hk_serve_slot(vm, KSOC_VM_API_SLOTS + vcpu->idx, vcpu->buf,
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
		 * this sees the bit, or KVM_RUN sees the signal.
		 */
		if (test_and_clear_bit(HK_VCPU_KICKED, &vcpu->flags)) {
			ret = hk_vcpu_collect(vcpu, -EINTR);
			if (!ret)
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

static void hk_vcpu_free(struct hk_vcpu *vcpu)
{
	if (vcpu->file)
		fput(vcpu->file);
	if (vcpu->stats)
		fput(vcpu->stats);
	if (vcpu->task)
		put_task_struct(vcpu->task);
	kvfree(vcpu->buf);
	kfree(vcpu->msg);
	kfree(vcpu);
}

/* In the VM's main thread: start creating a vCPU; its thread comes next. */
static s64 hk_vcpu_create(struct hk_vm *vm, struct ksoc_api_msg *m, u32 slot)
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
	vcpu->msg = kzalloc(sizeof(*vcpu->msg), GFP_KERNEL);
	vcpu->buf = kvzalloc(ksoc_api_payload_max(&vm->l), GFP_KERNEL);
	ret = -ENOMEM;
	if (!vcpu->msg || !vcpu->buf)
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
static int hk_vcpu_create_done(struct hk_vm *vm)
{
	struct hk_vcpu *vcpu = vm->creating;
	struct ksoc_api_msg *m = &vm->creating_msg;

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
	ksoc_api_complete(vm->win, &vm->l, vm->creating_slot, m, NULL);
	vm->hk->t->kick(vm->hk->t, vm->id);
	return 0;
}

/* ---- VM main thread --------------------------------------------------- */

static bool hk_is_memslot_ioctl(u64 cmd)
{
#ifdef KVM_SET_USER_MEMORY_REGION2
	if (cmd == KVM_SET_USER_MEMORY_REGION2)
		return true;
#endif
	return cmd == KVM_SET_USER_MEMORY_REGION;
}

/*
 * KVM_X86_SET_MSR_FILTER from the SoC: the struct, then each used range's
 * bitmap (docs/channel-protocol.md).  Laid out again in the helper's
 * staging buffer with the pointers KVM reads; a payload whose length is
 * not what its ranges say is refused before KVM sees it.
 */
static s64 hk_vm_msr_filter(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf)
{
	void __user *staging = (void __user *)vm->staging;
	struct kvm_msr_filter f;
	u32 len = m->len, off = sizeof(f);
	u64 sz;
	int i;

	m->len = 0;
	if (len < sizeof(f))
		return -EINVAL;
	memcpy(&f, buf, sizeof(f));
	for (i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
		f.ranges[i].bitmap = NULL;
		if (!f.ranges[i].nmsrs)
			continue;
		sz = DIV_ROUND_UP((u64)f.ranges[i].nmsrs, 64) * sizeof(u64);
		if (sz > KVM_MSR_FILTER_MAX_BITMAP_SIZE || sz > len - off)
			return -EINVAL;
		/* A user address in the helper, where KVM reads it. */
		f.ranges[i].bitmap = (u8 *)(vm->staging + off);
		off += sz;
	}
	if (off != len)
		return -EINVAL;
	if (len > HK_STAGING_SIZE)
		return -E2BIG;
	if (copy_to_user(staging, &f, sizeof(f)) ||
	    copy_to_user(staging + sizeof(f), buf + sizeof(f), len - sizeof(f)))
		return -EFAULT;
	return hk_ioctl(vm->vm_file, KVM_X86_SET_MSR_FILTER, vm->staging);
}

/*
 * KVM_GET_STATS_FD from the SoC (docs/channel-protocol.md): bytes of the
 * host KVM's stats file of the VM (opened on first use) or of a vCPU, at
 * the offset asked.  KVM's stats files copy to user memory: read into
 * the staging buffer, in the VM's main thread (the only user of it).
 */
static s64 hk_vm_stats_read(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf)
{
	struct ksoc_stats_read req;
	struct file *f;
	u32 len, who;
	ssize_t n;
	loff_t pos;
	long fd;

	if (m->len != sizeof(req))
		return -EINVAL;
	memcpy(&req, buf, sizeof(req));
	m->len = 0;
	len = le32_to_cpu(req.len);
	who = le32_to_cpu(req.who);
	pos = le64_to_cpu(req.offset);
	if (len > ksoc_api_payload_max(&vm->l) || len > HK_STAGING_SIZE ||
	    pos < 0 || who > vm->nr_vcpus)
		return -EINVAL;
	if (!who && !vm->stats) {
		fd = hk_ioctl(vm->vm_file, KVM_GET_STATS_FD, 0);
		if (fd < 0)
			return fd;
		vm->stats = fget(fd);
		close_fd(fd);
	}
	f = who ? vm->vcpus[who - 1]->stats : vm->stats;
	if (!f || !f->f_op->read)
		return -EBADF;
	n = f->f_op->read(f, (char __user *)vm->staging, len, &pos);
	if (n < 0)
		return n;
	if (n > len || copy_from_user(buf, (void __user *)vm->staging, n))
		return -EFAULT;
	m->len = n;
	return 0;
}

static s64 hk_vm_dispatch(struct hk_vm *vm, void *ctx, struct ksoc_api_msg *m,
			  u8 *buf, u32 slot)
{
	u32 len = m->len;

	m->len = 0;
	switch (m->op) {
	case KVM_SOC_OP_VM_IOCTL:
		if (m->target)
			return -EINVAL;
		m->len = len;
		if (hk_is_memslot_ioctl(m->arg))
			return hk_vm_set_memory(vm, m, buf);
		if (m->arg == KVM_GET_DIRTY_LOG || m->arg == KVM_CLEAR_DIRTY_LOG)
			return hk_vm_dirty_log(vm, m, buf);
		if (m->arg == KVM_X86_SET_MSR_FILTER)
			return hk_vm_msr_filter(vm, m, buf);
		if (m->arg == KVM_GET_STATS_FD)
			return hk_vm_stats_read(vm, m, buf);
		return hk_exec_ioctl(vm->vm_file, KSOC_LVL_VM, m, buf,
				     ksoc_api_payload_max(&vm->l), vm->staging,
				     vm->xsave_size);
	case KVM_SOC_OP_CREATE_VCPU:
		if (len || m->target)
			return -EINVAL;
		return hk_vcpu_create(vm, m, slot);
	case KVM_SOC_OP_VCPU_KICK:
		if (len || m->target >= vm->nr_vcpus)
			return -EINVAL;
		hk_vcpu_kick(vm->vcpus[m->target]);
		return 0;
	case KVM_SOC_OP_IRQFD:
		m->len = len;
		return hk_ev_irqfd(vm, m, buf);
	case KVM_SOC_OP_IOEVENTFD:
		m->len = len;
		return hk_ev_ioeventfd(vm, m, buf);
	default:
		return -EOPNOTSUPP;
	}
}

static bool hk_vm_has_work(struct hk_vm *vm)
{
	u32 i;

	if (READ_ONCE(vm->ctx->dead))
		return true;
	if (READ_ONCE(vm->failed))
		return false;
	for (i = 0; i < KSOC_VM_API_SLOTS; i++)
		if (hk_slot_has_req(vm, i))
			return true;
	return false;
}

static int hk_vm_setup(struct hk_vm *vm)
{
	struct file *kvm;
	long fd;

	xa_init(&vm->slots);
	vm->staging = hk_staging_map();
	if (!vm->staging)
		return -ENOMEM;
	kvm = filp_open("/dev/kvm", O_RDWR | O_CLOEXEC, 0);
	if (IS_ERR(kvm))
		return PTR_ERR(kvm) == -ENOENT ? -ENODEV : PTR_ERR(kvm);
	vm->mmap_size = hk_ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	fd = hk_ioctl(kvm, KVM_CREATE_VM, vm->type);
	fput(kvm);
	if (vm->mmap_size < 0)
		return vm->mmap_size;
	if (fd < 0)
		return fd;
	vm->vm_file = fget(fd);
	close_fd(fd);
	if (!vm->vm_file)
		return -EBADF;
	vm->xsave_size = hk_ioctl(vm->vm_file, KVM_CHECK_EXTENSION,
				  KVM_CAP_XSAVE2);
	return 0;
}

/* In the VM's main thread, in the helper's mm.  -EINTR if killed. */
static int hk_vm_teardown(struct hk_vm *vm)
{
	struct hk_vcpu *vcpu;
	u32 i;

	WRITE_ONCE(vm->stopping, true);
	for (i = 0; i < vm->nr_vcpus; i++)
		send_sig(SIGUSR1, vm->vcpus[i]->task, 1);
	hk_vm_wake(vm, true);
	for (i = 0; i < vm->nr_vcpus; i++)
		if (wait_for_completion_killable(&vm->vcpus[i]->exited))
			return -EINTR;	/* the helper is dying: owner cleans up */
	while ((vcpu = hk_vm_pop_pending(vm))) {
		if (vcpu == vm->creating)
			vm->creating = NULL;
		hk_vcpu_free(vcpu);
	}
	/* A vCPU whose thread came up while the VM was going down. */
	if (vm->creating &&
	    wait_for_completion_killable(&vm->creating->exited))
		return -EINTR;
	/* The stats files hold the KVM VM too; its vCPU threads are gone. */
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i]->stats)
			fput(vm->vcpus[i]->stats);
		vm->vcpus[i]->stats = NULL;
	}
	if (vm->creating && vm->creating->stats) {
		fput(vm->creating->stats);
		vm->creating->stats = NULL;
	}
	if (vm->stats)
		fput(vm->stats);
	vm->stats = NULL;
	hk_ev_release_all(vm);
	hk_vm_unmap_memory(vm, true);
	if (vm->vm_file)
		fput(vm->vm_file);
	vm->vm_file = NULL;
	if (vm->staging)
		vm_munmap(vm->staging, HK_STAGING_SIZE);
	vm->staging = 0;
	return 0;
}

/*
 * What the VM helper's main thread does inside the kernel.  @first: create
 * the VM; @arg: 0, or the helper's answer to a request for an eventfd.
 * Returns 0 when the VM is torn down (the helper exits), 1 to get one
 * more thread (a new vCPU), 2 to get an eventfd, -EINTR to take a signal
 * and come back.
 */
static long hk_vm_main(struct hk_ctx *ctx, bool first, unsigned long arg)
{
	struct hk_vm *vm = ctx->owner;
	u32 i;

	if (first) {
		vm->create_ret = hk_vm_setup(vm);
		complete(&vm->created);
	}
	if (arg)
		hk_ev_pool_add(vm, arg);
	for (;;) {
		if (vm->creating) {
			if (wait_for_completion_interruptible(&vm->creating->started) ||
			    hk_vcpu_create_done(vm))
				return -EINTR;
		}
		/* Keep eventfds ready for KVM_SOC_OP_IRQFD/IOEVENTFD. */
		if (!vm->create_ret && hk_ev_pool_want(vm) &&
		    !READ_ONCE(vm->ctx->dead))
			return 2;
		/* Woken by hk_vm_wake() (doorbell) or the helper's death. */
		if (wait_event_interruptible(vm->wq, hk_vm_has_work(vm)))
			return -EINTR;
		if (READ_ONCE(vm->ctx->dead))
			return hk_vm_teardown(vm) ? -EINTR : 0;
		for (i = 0; i < KSOC_VM_API_SLOTS && !READ_ONCE(vm->failed); i++) {
			/* An assign may have used the spare eventfds: refill. */
			if (hk_ev_pool_want(vm))
				return 2;
			if (hk_serve_slot(vm, i, vm->buf, hk_vm_dispatch, NULL) ==
			    HK_SPAWN)
				return 1;
		}
		/* Release what fput() deferred, on the way through userspace. */
		if (task_work_pending(current))
			return -EINTR;
	}
}

/* A later thread of the VM helper: the vCPU it was started for. */
static long hk_vm_thread(struct hk_ctx *ctx)
{
	struct hk_vm *vm = ctx->owner;
	struct hk_vcpu *vcpu;

	vcpu = hk_vm_find_vcpu(vm, current);
	if (!vcpu) {
		vcpu = hk_vm_pop_pending(vm);
		if (!vcpu)
			return 0;
		hk_vcpu_attach(vcpu, current);
	}
	return hk_vcpu_main(vcpu);
}

/* The VM's helper died on its own: the SoC's callers get -EIO now. */
static void hk_vm_died(struct hk_ctx *ctx)
{
	struct hk_vm *vm = ctx->owner;

	lockdep_assert_held(&ctx->lock);
	pr_err_ratelimited("vm%u: helper died; VM failed\n", vm->id);
	WRITE_ONCE(vm_hdr(vm)->host.state, cpu_to_le32(KVM_SOC_PEER_FAILED));
	vm->hk->t->kick(vm->hk->t, vm->id);
}

/* VM helpers are started by the control thread, a helper itself. */
static const struct hk_ctx_ops hk_vm_ctx_ops = {
	.main			= hk_vm_main,
	.thread			= hk_vm_thread,
	.died			= hk_vm_died,
	.eventfds		= true,
	.started_by_helper	= true,
};

/*
 * VMs whose freeing a killed control helper could not finish (it frees
 * VMs killably, being a helper thread itself).  A worker finishes them,
 * waiting for the VM's own helper without a signal to stop it;
 * host_kvm_detach() flushes them before the transport goes.
 */
static struct workqueue_struct *hk_free_wq;

static void hk_vm_free_rest(struct hk_vm *vm);

static void hk_vm_free_work(struct work_struct *work)
{
	struct hk_vm *vm = container_of(work, struct hk_vm, free_work);

	if (vm->ctx)
		hk_ctx_stop(vm->ctx, &vm->wq, false);
	hk_vm_free_rest(vm);
}

static void hk_vm_free_later(struct hk_vm *vm)
{
	pr_warn_ratelimited("vm%u: control helper killed; freeing the VM later\n",
			    vm->id);
	INIT_WORK(&vm->free_work, hk_vm_free_work);
	queue_work(hk_free_wq, &vm->free_work);
}

void hk_vm_flush_frees(void)
{
	flush_workqueue(hk_free_wq);
}

int hk_vm_init(void)
{
	hk_free_wq = alloc_workqueue("host-kvm-free", WQ_UNBOUND, 0);
	return hk_free_wq ? 0 : -ENOMEM;
}

void hk_vm_exit(void)
{
	destroy_workqueue(hk_free_wq);
}

/* @killable: the caller is a helper thread (the control thread). */
static void hk_vm_free(struct hk_vm *vm, bool killable)
{
	u32 i;

	/* The VM left host_kvm.vms: wait out doorbells that still see it. */
	synchronize_rcu();
	if (vm->ctx) {
		WRITE_ONCE(vm->stopping, true);
		for (i = 0; i < vm->nr_vcpus; i++)
			send_sig(SIGUSR1, vm->vcpus[i]->task, 1);
		hk_vm_wake(vm, true);
		if (hk_ctx_stop(vm->ctx, &vm->wq, killable)) {
			hk_vm_free_later(vm);
			return;
		}
	}
	hk_vm_free_rest(vm);
}

/* The VM's helper has finished (or never ran): free what is left. */
static void hk_vm_free_rest(struct hk_vm *vm)
{
	struct ksoc_transport *t = vm->hk->t;
	struct hk_vcpu *vcpu;
	u32 i;

	/* What a dead helper left behind; no helper thread runs now. */
	while (vm->ctx && (vcpu = hk_vm_pop_pending(vm)))
		if (vcpu != vm->creating)
			hk_vcpu_free(vcpu);
	if (vm->creating)
		hk_vcpu_free(vm->creating);
	/* Pairs with the release in hk_vcpu_create_done(). */
	for (i = 0; i < smp_load_acquire(&vm->nr_vcpus); i++)
		hk_vcpu_free(vm->vcpus[i]);
	if (vm->ctx)
		hk_ctx_put(vm->ctx);
	hk_ev_release_all(vm);
	hk_vm_unmap_memory(vm, false);
	if (vm->stats)
		fput(vm->stats);
	if (vm->vm_file)
		fput(vm->vm_file);
	t->window_free(t, vm->id);
	kvfree(vm->buf);
	kfree_rcu(vm, rcu);
}

/**
 * hk_vm_create - KVM_SOC_OP_CREATE_VM, from the control thread.
 * @hk: the transport.
 * @m: the request; on success @m->len is the response length.
 * @buf: payload in (struct kvm_soc_create_vm) and out.
 *
 * Return: 0 or a negative errno (KVM's, or the helper's start failure).
 */
s64 hk_vm_create(struct host_kvm *hk, struct ksoc_api_msg *m, u8 *buf)
{
	struct kvm_soc_create_vm req;
	struct kvm_soc_vm_created *resp = (void *)buf;
	struct ksoc_transport *t = hk->t;
	struct ksoc_layout l;
	struct hk_vm *vm;
	unsigned int i;
	int ret;

	if (m->len != sizeof(req) || m->target || m->flags)
		return -EINVAL;
	memcpy(&req, buf, sizeof(req));
	m->len = 0;
	if (req.reserved0)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(req.reserved); i++)
		if (req.reserved[i])
			return -EINVAL;
	if (!t->window_alloc)
		return -EOPNOTSUPP;

	ret = ksoc_layout_compute(&l, 0, KSOC_VM_API_SLOTS + KSOC_MAX_VCPUS,
				  KSOC_VM_API_SLOT_SIZE, KSOC_MAX_VCPUS,
				  KSOC_VM_POSTED, BIT_ULL(KVM_SOC_F_HEARTBEAT) |
				  BIT_ULL(KVM_SOC_F_POSTED_WRITES));
	if (!ret)
		ret = ksoc_layout_add_events(&l, KSOC_VM_EVENTS);
	if (ret)
		return ret;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return -ENOMEM;
	vm->hk = hk;
	vm->type = le32_to_cpu(req.type);
	init_waitqueue_head(&vm->wq);
	init_completion(&vm->created);
	xa_init(&vm->slots);
	hk_ev_init(vm);
	vm->buf = kvzalloc(ksoc_api_payload_max(&l), GFP_KERNEL);
	ret = -ENOMEM;
	if (!vm->buf)
		goto err_free;
	vm->win = t->window_alloc(t, l.window_size, &vm->id);
	if (!vm->win)
		goto err_free;
	l.window_id = vm->id;
	vm->l = l;
	ksoc_window_format(vm->win, &vm->l);
	mutex_init(&vm->posted_lock);
	ksoc_ring_init(&vm->posted, (u8 *)vm->win + l.posted_offset,
		       l.posted_nr_entries, sizeof(struct kvm_soc_posted_write),
		       &vm_hdr(vm)->host.posted_prod,
		       &vm_hdr(vm)->soc.posted_cons, true);

	ret = hk_ctx_start(&hk_vm_ctx_ops, vm, &vm->ctx);
	if (ret && vm->ctx) {
		/* Killed while a late helper may still use it. */
		hk_vm_free_later(vm);
		return ret;
	}
	if (ret) {
		t->window_free(t, vm->id);
		goto err_free;
	}
	ret = -EINTR;
	if (wait_for_completion_killable(&vm->created))
		goto err_vm;
	ret = vm->create_ret;
	if (ret)
		goto err_vm;
	/* Doorbells find the VM from here on, with its context set. */
	ret = xa_insert(&hk->vms, vm->id, vm, GFP_KERNEL);
	if (ret)
		goto err_vm;

	/*
	 * UP publishes the description (pairs with the SoC's acquire of the
	 * state); under the context lock so a helper that died meanwhile
	 * (FAILED written by its release) is not overwritten.
	 */
	spin_lock(&vm->ctx->lock);
	if (!vm->ctx->dead)
		/* Pairs with the SoC's acquire in soc_vm_attach_window(). */
		smp_store_release(&vm_hdr(vm)->host.state,
				  cpu_to_le32(KVM_SOC_PEER_UP));
	ret = vm->ctx->dead ? -EIO : 0;
	spin_unlock(&vm->ctx->lock);
	if (ret) {
		xa_erase(&hk->vms, vm->id);
		goto err_vm;
	}
	memset(resp, 0, sizeof(*resp));
	resp->window_id = cpu_to_le32(vm->id);
	resp->max_vcpus = cpu_to_le32(KSOC_MAX_VCPUS);
	resp->vm_api_slots = cpu_to_le32(KSOC_VM_API_SLOTS);
	m->len = sizeof(*resp);
	return 0;

err_vm:
	m->len = 0;
	hk_vm_free(vm, true);
	return ret;
err_free:
	m->len = 0;
	kvfree(vm->buf);
	kfree(vm);
	return ret;
}

/* KVM_SOC_OP_DESTROY_VM, from the control thread. */
s64 hk_vm_destroy(struct host_kvm *hk, u32 id)
{
	struct hk_vm *vm = xa_erase(&hk->vms, id);

	if (!vm)
		return -ENOENT;
	hk_vm_free(vm, true);
	return 0;
}

void hk_vm_destroy_all(struct host_kvm *hk)
{
	struct hk_vm *vm;
	unsigned long id;

	/* Detach: not a helper thread; must not leave VMs behind. */
	xa_for_each(&hk->vms, id, vm) {
		xa_erase(&hk->vms, id);
		hk_vm_free(vm, false);
	}
}

/* Doorbell for a VM window: any context. */
void hk_vm_doorbell(struct host_kvm *hk, unsigned int vec)
{
	struct hk_vm *vm;

	rcu_read_lock();
	vm = xa_load(&hk->vms, vec);
	if (vm) {
		hk_vm_wake(vm, false);
		hk_ev_doorbell(vm);
	}
	rcu_read_unlock();
}
