// SPDX-License-Identifier: GPL-2.0
/*
 * VM contexts of host-kvm.
 *
 * Each VM gets a window and a helper process (ctx.c).  The helper's main
 * thread creates the VM in stock KVM through /dev/kvm and serves the
 * window's VM-level API slots.  Each vCPU gets a helper thread of its own
 * (vcpu.c).  KVM is entered only through its files' ioctls, from threads
 * of the VM's own address space, as from a userspace VMM.  Every wait
 * here is interruptible: a signal means "return, come back".
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

static struct kvm_soc_window_hdr *vm_hdr(struct hk_vm *vm)
{
	return ksoc_hdr(vm->win);
}

static bool hk_vm_has_work(struct hk_vm *vm);

/*
 * Wake the threads that have something to do (@all: every thread).  Any
 * context; vCPUs are read under RCU (hk_vm_free() waits for a grace period
 * before freeing them) and published by hk_vcpu_create_done().
 */
void hk_vm_wake(struct hk_vm *vm, bool all)
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
void hk_vm_fail(struct hk_vm *vm, const char *why)
{
	if (xchg(&vm->failed, true))
		return;
	WRITE_ONCE(vm_hdr(vm)->host.state, cpu_to_le32(KVM_SOC_PEER_FAILED));
	pr_err_ratelimited("vm%u: failed: %s\n", vm->id, why);
	vm->hk->t->kick(vm->hk->t, vm->id);
	hk_vm_wake(vm, true);
}

bool hk_slot_has_req(void *win, const struct ksoc_layout *l, u32 slot)
{
	struct kvm_soc_api_hdr *h = ksoc_api_slot(win, l, slot);

	return le32_to_cpu(READ_ONCE(h->state)) == KVM_SOC_API_REQ;
}

/* How long a request waits for memory for its payload before a retry. */
#define HK_RETRY_MS	10

/*
 * Serve one API slot of @vm's window @win (the VM's or a vCPU's).
 *
 * The payload buffer lives for one request, so an idle VM holds none (a
 * slot's worth per thread was most of the host's slab per idle VM).  It is
 * zeroed: no answer can carry kernel heap to the SoC.  Without memory for
 * it the request stays posted and is served on a later pass, HK_RETRY_MS
 * on (the thread's wait sees the request and comes back at once): nothing
 * is answered wrongly, nothing is lost.
 *
 * Returns HK_SPAWN when the answer must wait (nothing of the buffer is
 * needed then: hk_vcpu_create_done() answers from the request's header).
 */
s64 hk_serve_slot(struct hk_vm *vm, void *win, const struct ksoc_layout *l,
		  u32 slot, hk_dispatch_fn dispatch, void *ctx)
{
	struct kvm_soc_api_hdr *h = ksoc_api_slot(win, l, slot);
	u32 cap = ksoc_api_payload_max(l);
	struct ksoc_api_msg m;
	u32 state;
	u8 *buf;
	int ret;

	/* Nothing to serve; any other state is ksoc_api_take()'s to refuse. */
	state = le32_to_cpu(READ_ONCE(h->state));
	if (state == KVM_SOC_API_FREE || state == KVM_SOC_API_BUSY ||
	    state == KVM_SOC_API_RESP)
		return 0;
	buf = kvzalloc(cap, GFP_KERNEL);
	if (!buf) {
		msleep_interruptible(HK_RETRY_MS);
		return 0;
	}
	ret = ksoc_api_take(win, l, slot, &m, buf, cap);
	if (ret == -EAGAIN)
		goto out;
	if (ret) {
		hk_vm_fail(vm, "malformed request");
		goto out;
	}
	if (!hk_msg_unused_zero(&m)) {
		m.len = 0;
		m.arg2 = 0;	/* (a bulk request's answer: no output bytes) */
		m.result = -EINVAL;
	} else {
		m.result = dispatch(vm, ctx, &m, buf, slot);
	}
	if (m.result == HK_SPAWN) {
		kvfree(buf);
		return HK_SPAWN;
	}
	if (m.len > cap)
		m.len = 0;
	ksoc_api_complete(win, l, slot, &m, buf);
	vm->hk->t->kick(vm->hk->t, l->window_id);
out:
	kvfree(buf);
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

/*
 * KVM_ENABLE_CAP on the VM.  The dirty ring only for a SoC that moves its
 * entries (KVM_SOC_F_DIRTY_RING): nobody else would ever harvest it, and a
 * full ring stops the vCPU for good.  Its size is kept for the vCPUs'
 * mappings as KVM takes it, a u32.
 */
static s64 hk_vm_enable_cap(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf)
{
	struct kvm_enable_cap c = {};
	bool ring;
	s64 r;

	if (m->len == sizeof(c))
		memcpy(&c, buf, sizeof(c));
	ring = c.cap == KVM_CAP_DIRTY_LOG_RING ||
	       c.cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	if (ring && !(le64_to_cpu(READ_ONCE(ksoc_hdr(vm->win)->soc.soc_features)) &
		      BIT_ULL(KVM_SOC_F_DIRTY_RING))) {
		m->len = 0;
		return -EINVAL;
	}
	r = hk_exec_ioctl(vm->vm_file, KSOC_LVL_VM, m, buf,
			  ksoc_api_payload_max(&vm->l), vm->staging,
			  vm->xsave_size);
	if (ring && !r)
		WRITE_ONCE(vm->dirty_ring_size, (u32)c.args[0]);
	return r;
}

/*
 * A VM ioctl whose bytes are in an object (KVM_SOC_API_F_BULK): in a window
 * that offers it, for the ioctls that go to hk_exec_ioctl() as they are.
 */
static s64 hk_vm_bulk(struct hk_vm *vm, struct ksoc_api_msg *m)
{
	if (!(vm->l.host_features & BIT_ULL(KVM_SOC_F_BULK_ARGS)) ||
	    hk_is_memslot_ioctl(m->arg) || m->arg == KVM_GET_DIRTY_LOG ||
	    m->arg == KVM_CLEAR_DIRTY_LOG || m->arg == KVM_X86_SET_MSR_FILTER ||
	    m->arg == KVM_GET_STATS_FD || m->arg == KVM_ENABLE_CAP) {
		m->len = 0;
		m->arg2 = 0;	/* no output bytes in the object */
		return -EINVAL;
	}
	return hk_exec_bulk(vm, vm->vm_file, KSOC_LVL_VM, m, vm->staging);
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
		if (m->flags & KVM_SOC_API_F_BULK)
			return hk_vm_bulk(vm, m);
		if (hk_is_memslot_ioctl(m->arg))
			return hk_vm_set_memory(vm, m, buf);
		if (m->arg == KVM_GET_DIRTY_LOG || m->arg == KVM_CLEAR_DIRTY_LOG)
			return hk_vm_dirty_log(vm, m, buf);
		if (m->arg == KVM_X86_SET_MSR_FILTER)
			return hk_vm_msr_filter(vm, m, buf);
		if (m->arg == KVM_GET_STATS_FD)
			return hk_vm_stats_read(vm, m, buf);
		if (m->arg == KVM_ENABLE_CAP)
			return hk_vm_enable_cap(vm, m, buf);
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
		if (hk_slot_has_req(vm->win, &vm->l, i))
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
			if (hk_serve_slot(vm, vm->win, &vm->l, i,
					  hk_vm_dispatch, NULL) == HK_SPAWN)
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

/* Remove @vm's vCPU windows from the doorbell lookup; true if any. */
static bool hk_vm_forget_vcpu_wins(struct hk_vm *vm)
{
	struct xarray *xa = &vm->hk->vcpu_wins;
	unsigned long id;
	bool any = false;
	void *v;

	xa_for_each(xa, id, v) {
		if (v == vm) {
			xa_cmpxchg(xa, id, vm, NULL, GFP_KERNEL);
			any = true;
		}
	}
	return any;
}

/* The VM's helper has finished (or never ran): free what is left. */
static void hk_vm_free_rest(struct hk_vm *vm)
{
	struct ksoc_transport *t = vm->hk->t;
	struct hk_vcpu *vcpu;
	u32 i;

	/*
	 * Doorbells of the vCPU windows find the VM (and its vCPUs) through
	 * host_kvm.vcpu_wins: take them out and wait those doorbells out
	 * before the vCPUs go.  No helper thread adds one now.
	 */
	if (hk_vm_forget_vcpu_wins(vm))
		synchronize_rcu();
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
	u32 slot_size;
	u64 soc, features;
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

	/*
	 * With a window per vCPU (the SoC accepted it), the VM's holds the
	 * VM's own slots only; with arguments by the bulk path, every API
	 * slot is small.  Either layout is safe for us whatever the SoC
	 * claims: what follows goes by the layout we chose.
	 */
	soc = le64_to_cpu(READ_ONCE(ksoc_hdr(t->ctrl_win)->soc.soc_features));
	features = BIT_ULL(KVM_SOC_F_HEARTBEAT) | BIT_ULL(KVM_SOC_F_POSTED_WRITES);
	slot_size = KSOC_VM_API_SLOT_SIZE;
	if (t->dma_addr && (soc & BIT_ULL(KVM_SOC_F_BULK_ARGS))) {
		features |= BIT_ULL(KVM_SOC_F_BULK_ARGS);
		slot_size = KVM_SOC_SMALL_API_SLOT;
	}
	if (soc & BIT_ULL(KVM_SOC_F_VCPU_WINDOWS))
		ret = ksoc_layout_compute(&l, 0, KSOC_VM_API_SLOTS, slot_size, 0,
					  KSOC_VM_POSTED, features |
					  BIT_ULL(KVM_SOC_F_VCPU_WINDOWS));
	else
		ret = ksoc_layout_compute(&l, 0,
					  KSOC_VM_API_SLOTS + KSOC_MAX_VCPUS,
					  slot_size, KSOC_MAX_VCPUS,
					  KSOC_VM_POSTED, features);
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
	ret = -ENOMEM;
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
	} else {
		/* A vCPU window's: its VM's threads look at their slots. */
		vm = xa_load(&hk->vcpu_wins, vec);
		if (vm)
			hk_vm_wake(vm, false);
	}
	rcu_read_unlock();
}
