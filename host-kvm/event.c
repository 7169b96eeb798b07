// SPDX-License-Identifier: GPL-2.0
/*
 * Event channels of a VM window: irqfds and ioeventfds (the event area in
 * linux/kvm_soc.h).
 *
 * KVM's own KVM_IRQFD and KVM_IOEVENTFD do the work, on eventfds of the
 * VM's helper process (the kernel exports no way to create an eventfd, so
 * the helper makes them on request and host-kvm keeps HK_EV_POOL ready):
 *
 *   irqfd      SoC counter moved -> doorbell -> hk_ev_work() ->
 *              eventfd_signal() on the host eventfd -> KVM injects
 *   resample   KVM signals the host resamplefd -> hk_ev_wakeup() -> host
 *              counter +1, doorbell to the SoC
 *   ioeventfd  the guest writes -> KVM signals the host eventfd ->
 *              hk_ev_wakeup() -> host counter += count, doorbell
 *   Hyper-V    the guest's HvSignalEvent -> KVM signals the host's
 *   eventfd    KVM_HYPERV_EVENTFD eventfd -> as ioeventfd
 *
 * Contexts and locks:
 *  - channels are assigned and deassigned by the VM's main thread only, and
 *    released by whoever tears the VM down once no helper thread runs;
 *  - hk_ev_wakeup() runs under the polled eventfd's wait-queue lock, so one
 *    channel's count is never updated twice at once; it takes no lock of
 *    ours and never signals an eventfd;
 *  - hk_ev_work() is an irq_work (hardirq context) under ev.lock, which
 *    process context takes with irqs off to publish and unpublish channels,
 *    so a channel is never freed under it; task_work is its fallback in
 *    process context, for a run inside an eventfd wakeup or with ev.lock
 *    taken on the same CPU.  Doorbells only queue it: a
 *    doorbell may come from inside another eventfd's wakeup (always, on
 *    the loop transport), where eventfd_signal() is not allowed.
 *  Lock order: ev.lock -> eventfd wait-queue locks.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "host.h"
#include "ksoc_eventfd.h"

enum hk_ev_kind {
	HK_EV_IRQFD = 1,
	HK_EV_IOEVENTFD,
	HK_EV_HV_EVENTFD,	/* counted as an ioeventfd */
};

/**
 * struct hk_event - one assigned event channel.
 * @vm: its VM.
 * @idx: the channel.
 * @kind: enum hk_ev_kind.
 * @fd: the host eventfd given to KVM (a descriptor of the helper).
 * @rfd: the host resamplefd, or -1.
 * @gsi: irqfd: the GSI; Hyper-V eventfd: the connection id.
 * @ctx: irqfd: the eventfd hk_ev_work() signals.
 * @pfile: the eventfd KVM signals and we poll (ioeventfd, resamplefd).
 * @pctx: its context.
 * @wait: our entry on its wait queue.
 * @pt: registers @wait through vfs_poll().
 * @polling: @wait is queued.
 * @published: visible in hk_events.ev.
 * @count: host_count[@idx] as last written (under @pfile's wait lock).
 */
struct hk_event {
	struct hk_vm *vm;
	u32 idx;
	u8 kind;
	int fd;
	int rfd;
	u32 gsi;
	struct eventfd_ctx *ctx;
	struct file *pfile;
	struct eventfd_ctx *pctx;
	wait_queue_entry_t wait;
	poll_table pt;
	bool polling;
	bool published;
	u64 count;
};

static struct kvm_soc_event_hdr *hk_ev_hdr(struct hk_vm *vm)
{
	return ksoc_event_hdr(vm->win, &vm->l);
}

/* Act on SoC counters that moved.  Caller holds ev.lock. */
static void hk_ev_process(struct hk_vm *vm)
{
	struct hk_events *e = &vm->ev;
	struct hk_event *ev;
	u64 seq, c;
	u32 i;

	lockdep_assert_held(&e->lock);
	seq = ksoc_event_peer_seq(vm->win, &vm->l, true);
	if (seq == e->soc_seq_seen)
		return;
	WRITE_ONCE(e->soc_seq_seen, seq);
	for (i = 0; i < vm->l.event_nr; i++) {
		ev = e->ev[i];
		if (!ev || ev->kind != HK_EV_IRQFD ||
		    ksoc_event_peer_count(vm->win, &vm->l, true, i,
					  e->soc_seen[i], false, &c) ||
		    c == e->soc_seen[i])
			continue;
		/* Any number of triggers is one edge: they coalesce. */
		e->soc_seen[i] = c;
		ksoc_eventfd_add(ev->ctx, 1);
	}
}

/* irq_work: act on SoC counters that moved.  Hardirq context. */
static void hk_ev_work(struct irq_work *w)
{
	struct hk_vm *vm = container_of(w, struct hk_vm, ev.work);

	/*
	 * Should this ever interrupt an eventfd wakeup or a holder of
	 * ev.lock on this CPU (an emulated CPU has delivered interrupts with
	 * IF clear), process context does the run instead: no signal is
	 * dropped and nothing deadlocks.
	 */
	if (!eventfd_signal_allowed() || !spin_trylock(&vm->ev.lock)) {
		queue_work(system_highpri_wq, &vm->ev.task_work);
		return;
	}
	hk_ev_process(vm);
	spin_unlock(&vm->ev.lock);
}

/* The irq_work's fallback, in process context. */
static void hk_ev_task_work(struct work_struct *w)
{
	struct hk_vm *vm = container_of(w, struct hk_vm, ev.task_work);

	spin_lock_irq(&vm->ev.lock);
	hk_ev_process(vm);
	spin_unlock_irq(&vm->ev.lock);
}

void hk_ev_init(struct hk_vm *vm)
{
	spin_lock_init(&vm->ev.lock);
	init_irq_work(&vm->ev.work, hk_ev_work);
	INIT_WORK(&vm->ev.task_work, hk_ev_task_work);
	atomic64_set(&vm->ev.host_seq, 0);
}

/* Doorbell (any context, under RCU): queue the work if the SoC moved. */
void hk_ev_doorbell(struct hk_vm *vm)
{
	/*
	 * A stale @soc_seq_seen only queues one work too many; the work
	 * re-reads both under the lock.
	 */
	if (vm->l.event_nr &&
	    le64_to_cpu(READ_ONCE(hk_ev_hdr(vm)->soc_seq)) !=
	    READ_ONCE(vm->ev.soc_seq_seen))
		irq_work_queue(&vm->ev.work);
}

/*
 * KVM signalled an eventfd we poll (ioeventfd write, irqfd resample).
 * Called with that eventfd's wait-queue lock held, irqs off.
 */
static int hk_ev_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync,
			void *key)
{
	struct hk_event *ev = container_of(wait, struct hk_event, wait);
	struct hk_vm *vm = ev->vm;
	u64 cnt, seq;

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	eventfd_ctx_do_read(ev->pctx, &cnt);
	if (!cnt)
		return 0;
	ev->count += cnt;
	/* A seq of its own for each store: races of two channels lose none. */
	seq = atomic64_inc_return(&vm->ev.host_seq);
	ksoc_event_publish(vm->win, &vm->l, true, ev->idx, ev->count, seq);
	vm->hk->t->kick(vm->hk->t, vm->id);
	return 0;
}

static void hk_ev_ptable(struct file *file, wait_queue_head_t *wqh,
			 poll_table *pt)
{
	struct hk_event *ev = container_of(pt, struct hk_event, pt);

	add_wait_queue(wqh, &ev->wait);
}

/* Start polling the helper's eventfd @fd (before KVM gets it). */
static int hk_ev_poll(struct hk_event *ev, int fd)
{
	ev->pfile = fget(fd);
	if (!ev->pfile)
		return -EBADF;
	ev->pctx = eventfd_ctx_fileget(ev->pfile);
	if (IS_ERR(ev->pctx)) {
		int ret = PTR_ERR(ev->pctx);

		ev->pctx = NULL;
		return ret;
	}
	init_waitqueue_func_entry(&ev->wait, hk_ev_wakeup);
	init_poll_funcptr(&ev->pt, hk_ev_ptable);
	vfs_poll(ev->pfile, &ev->pt);
	ev->polling = true;
	return 0;
}

/* ---- the eventfd pool (main thread) ------------------------------------ */

bool hk_ev_pool_want(struct hk_vm *vm)
{
	return vm->l.event_nr && vm->ev.nr_pool < HK_EV_POOL &&
	       !vm->ev.pool_err;
}

/* The helper's answer to a request for an eventfd (ENTER's argument). */
void hk_ev_pool_add(struct hk_vm *vm, long arg)
{
	struct eventfd_ctx *c;

	if (arg < 0) {
		vm->ev.pool_err = arg >= -MAX_ERRNO ? arg : -EIO;
		return;
	}
	if (arg > INT_MAX) {
		vm->ev.pool_err = -EBADF;
		return;
	}
	/* Only ever our helper, but check it is what we asked for. */
	c = eventfd_ctx_fdget(arg - 1);
	if (IS_ERR(c)) {
		vm->ev.pool_err = PTR_ERR(c);
		return;
	}
	eventfd_ctx_put(c);
	if (vm->ev.nr_pool < HK_EV_POOL)
		vm->ev.pool[vm->ev.nr_pool++] = arg - 1;
	else
		close_fd(arg - 1);
}

static int hk_ev_pool_take(struct hk_vm *vm)
{
	return vm->ev.pool[--vm->ev.nr_pool];
}

/* ---- assign / deassign (main thread) ----------------------------------- */

static struct hk_event *hk_ev_alloc(struct hk_vm *vm, u32 idx, u8 kind,
				    bool two)
{
	struct hk_event *ev;
	int fd, rfd = -1;

	if (vm->ev.nr_pool < (two ? 2 : 1)) {
		/* Report the helper's failure once, then let it try again. */
		fd = vm->ev.pool_err ? vm->ev.pool_err : -EMFILE;
		vm->ev.pool_err = 0;
		return ERR_PTR(fd);
	}
	ev = kzalloc(sizeof(*ev), GFP_KERNEL);
	if (!ev)
		return ERR_PTR(-ENOMEM);
	fd = hk_ev_pool_take(vm);
	if (two)
		rfd = hk_ev_pool_take(vm);
	ev->vm = vm;
	ev->idx = idx;
	ev->kind = kind;
	ev->fd = fd;
	ev->rfd = rfd;
	ev->count = vm->ev.host_count[idx];
	return ev;
}

/* Make a channel visible to hk_ev_work(). */
static void hk_ev_publish(struct hk_vm *vm, struct hk_event *ev)
{
	spin_lock_irq(&vm->ev.lock);
	/* Triggers from before this assignment are not ours. */
	ksoc_event_peer_count(vm->win, &vm->l, true, ev->idx, 0, false,
			      &vm->ev.soc_seen[ev->idx]);
	vm->ev.ev[ev->idx] = ev;
	ev->published = true;
	spin_unlock_irq(&vm->ev.lock);
}

/*
 * Unpublish, stop polling and free a channel.  @close: we are the helper's
 * main thread and the channel goes away alone (deassign): close its
 * descriptors; at teardown the helper's exit closes them.
 */
static void hk_ev_drop(struct hk_vm *vm, struct hk_event *ev, bool close)
{
	u64 cnt;

	if (ev->published) {
		spin_lock_irq(&vm->ev.lock);
		vm->ev.ev[ev->idx] = NULL;
		spin_unlock_irq(&vm->ev.lock);
	}
	/* After this no hk_ev_wakeup() runs for it (same lock). */
	if (ev->polling)
		eventfd_ctx_remove_wait_queue(ev->pctx, &ev->wait, &cnt);
	vm->ev.host_count[ev->idx] = ev->count;
	if (ev->pctx)
		eventfd_ctx_put(ev->pctx);
	if (ev->pfile)
		fput(ev->pfile);
	if (ev->ctx)
		eventfd_ctx_put(ev->ctx);
	if (close) {
		close_fd(ev->fd);
		if (ev->rfd >= 0)
			close_fd(ev->rfd);
	}
	kfree(ev);
}

/* Run KVM_IRQFD / KVM_IOEVENTFD on the VM through the staging buffer. */
static long hk_ev_kvm(struct hk_vm *vm, unsigned int cmd, const void *args,
		      size_t len)
{
	if (copy_to_user((void __user *)vm->staging, args, len))
		return -EFAULT;
	return hk_ioctl(vm->vm_file, cmd, vm->staging);
}

/* Copy a request payload of @len bytes; reserved words must be zero. */
static int hk_ev_req(struct hk_vm *vm, struct ksoc_api_msg *m, const u8 *buf,
		     void *req, size_t len, const __le32 *reserved,
		     unsigned int nr_reserved)
{
	u32 got = m->len;
	unsigned int i;

	/* No response payload, whatever the outcome. */
	m->len = 0;
	if (got != len || m->flags || m->target >= vm->l.event_nr)
		return -EINVAL;
	memcpy(req, buf, len);
	for (i = 0; i < nr_reserved; i++)
		if (reserved[i])
			return -EINVAL;
	return 0;
}

/**
 * hk_ev_irqfd - KVM_SOC_OP_IRQFD, in the VM's main thread.
 * @vm: the VM.
 * @m: the request (@m->target: the channel).
 * @buf: its payload, struct kvm_soc_irqfd.
 *
 * Return: KVM_IRQFD's result, or -EINVAL (malformed), -EBUSY (channel in
 * use), -ENOENT (deassign of a channel that is no irqfd), -EMFILE/-ENOMEM.
 */
s64 hk_ev_irqfd(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf)
{
	struct kvm_soc_irqfd req;
	struct kvm_irqfd args = {};
	struct hk_event *ev;
	bool resample;
	u32 flags;
	long r;

	r = hk_ev_req(vm, m, buf, &req, sizeof(req), req.reserved,
		      ARRAY_SIZE(req.reserved));
	if (r)
		return r;
	flags = le32_to_cpu(req.flags);
	if (flags & ~(BIT(KVM_SOC_IRQFD_F_DEASSIGN) |
		      BIT(KVM_SOC_IRQFD_F_RESAMPLE)))
		return -EINVAL;
	ev = vm->ev.ev[m->target];
	if (flags & BIT(KVM_SOC_IRQFD_F_DEASSIGN)) {
		if (!ev || ev->kind != HK_EV_IRQFD)
			return -ENOENT;
		args.fd = ev->fd;
		args.gsi = ev->gsi;
		args.flags = KVM_IRQFD_FLAG_DEASSIGN;
		r = hk_ev_kvm(vm, KVM_IRQFD, &args, sizeof(args));
		hk_ev_drop(vm, ev, true);
		return r;
	}
	if (ev)
		return -EBUSY;
	resample = flags & BIT(KVM_SOC_IRQFD_F_RESAMPLE);
	ev = hk_ev_alloc(vm, m->target, HK_EV_IRQFD, resample);
	if (IS_ERR(ev))
		return PTR_ERR(ev);
	ev->gsi = le32_to_cpu(req.gsi);
	ev->ctx = eventfd_ctx_fdget(ev->fd);
	if (IS_ERR(ev->ctx)) {
		r = PTR_ERR(ev->ctx);
		ev->ctx = NULL;
		goto err;
	}
	if (resample) {
		r = hk_ev_poll(ev, ev->rfd);
		if (r)
			goto err;
	}
	args.fd = ev->fd;
	args.gsi = ev->gsi;
	if (resample) {
		args.flags = KVM_IRQFD_FLAG_RESAMPLE;
		args.resamplefd = ev->rfd;
	}
	r = hk_ev_kvm(vm, KVM_IRQFD, &args, sizeof(args));
	if (r)
		goto err;
	hk_ev_publish(vm, ev);
	return 0;
err:
	hk_ev_drop(vm, ev, true);
	return r;
}

/*
 * Assign channel @idx to a host eventfd that KVM signals and we count (an
 * ioeventfd, a Hyper-V eventfd): @args is KVM's argument of @cmd, @len
 * bytes, whose fd field @fdp points into; @key is kept in the channel.
 */
static s64 hk_ev_assign_counted(struct hk_vm *vm, u32 idx, u8 kind, u32 key,
				unsigned int cmd, void *args, size_t len,
				__s32 *fdp)
{
	struct hk_event *ev;
	long r;

	if (vm->ev.ev[idx])
		return -EBUSY;
	ev = hk_ev_alloc(vm, idx, kind, false);
	if (IS_ERR(ev))
		return PTR_ERR(ev);
	ev->gsi = key;
	r = hk_ev_poll(ev, ev->fd);
	if (r)
		goto err;
	*fdp = ev->fd;
	r = hk_ev_kvm(vm, cmd, args, len);
	if (r)
		goto err;
	hk_ev_publish(vm, ev);
	return 0;
err:
	hk_ev_drop(vm, ev, true);
	return r;
}

/* KVM_SOC_OP_IOEVENTFD with KVM_SOC_IOEVENTFD_F_HYPERV: KVM_HYPERV_EVENTFD. */
static s64 hk_ev_hv_eventfd(struct hk_vm *vm, struct ksoc_api_msg *m,
			    const struct kvm_soc_ioeventfd *req, u32 flags)
{
	struct kvm_hyperv_eventfd args = {};
	struct hk_event *ev;
	u64 conn = le64_to_cpu(req->addr);
	long r;

	if (flags & ~(BIT(KVM_SOC_IOEVENTFD_F_DEASSIGN) |
		      BIT(KVM_SOC_IOEVENTFD_F_HYPERV)) ||
	    req->datamatch || req->len || conn > KVM_HYPERV_CONN_ID_MASK)
		return -EINVAL;
	args.conn_id = conn;
	ev = vm->ev.ev[m->target];
	if (flags & BIT(KVM_SOC_IOEVENTFD_F_DEASSIGN)) {
		if (!ev || ev->kind != HK_EV_HV_EVENTFD || ev->gsi != conn)
			return -ENOENT;
		args.fd = ev->fd;
		args.flags = KVM_HYPERV_EVENTFD_DEASSIGN;
		r = hk_ev_kvm(vm, KVM_HYPERV_EVENTFD, &args, sizeof(args));
		if (!r)
			hk_ev_drop(vm, ev, true);
		return r;
	}
	return hk_ev_assign_counted(vm, m->target, HK_EV_HV_EVENTFD, conn,
				    KVM_HYPERV_EVENTFD, &args, sizeof(args),
				    &args.fd);
}

/**
 * hk_ev_ioeventfd - KVM_SOC_OP_IOEVENTFD, in the VM's main thread.
 * @vm: the VM.
 * @m: the request (@m->target: the channel).
 * @buf: its payload, struct kvm_soc_ioeventfd.
 *
 * Return: KVM_IOEVENTFD's (or KVM_HYPERV_EVENTFD's) result (-EEXIST,
 * -ENOENT, -EINVAL, ...), or as hk_ev_irqfd().
 */
s64 hk_ev_ioeventfd(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf)
{
	struct kvm_soc_ioeventfd req;
	struct kvm_ioeventfd args = {};
	struct hk_event *ev;
	u32 flags;
	long r;

	r = hk_ev_req(vm, m, buf, &req, sizeof(req), req.reserved,
		      ARRAY_SIZE(req.reserved));
	if (r)
		return r;
	flags = le32_to_cpu(req.flags);
	if (flags & BIT(KVM_SOC_IOEVENTFD_F_HYPERV))
		return hk_ev_hv_eventfd(vm, m, &req, flags);
	if (flags & ~(BIT(KVM_SOC_IOEVENTFD_F_DEASSIGN) |
		      BIT(KVM_SOC_IOEVENTFD_F_PIO) |
		      BIT(KVM_SOC_IOEVENTFD_F_DATAMATCH)))
		return -EINVAL;
	args.addr = le64_to_cpu(req.addr);
	args.datamatch = le64_to_cpu(req.datamatch);
	args.len = le32_to_cpu(req.len);
	if (flags & BIT(KVM_SOC_IOEVENTFD_F_PIO))
		args.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (flags & BIT(KVM_SOC_IOEVENTFD_F_DATAMATCH))
		args.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;

	ev = vm->ev.ev[m->target];
	if (flags & BIT(KVM_SOC_IOEVENTFD_F_DEASSIGN)) {
		if (!ev || ev->kind != HK_EV_IOEVENTFD)
			return -ENOENT;
		args.fd = ev->fd;
		args.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		r = hk_ev_kvm(vm, KVM_IOEVENTFD, &args, sizeof(args));
		if (!r)
			hk_ev_drop(vm, ev, true);
		return r;
	}
	return hk_ev_assign_counted(vm, m->target, HK_EV_IOEVENTFD, 0,
				    KVM_IOEVENTFD, &args, sizeof(args), &args.fd);
}

/*
 * Teardown: release every channel.  Called when no helper thread assigns
 * any more (its main thread at teardown, or the owner after the helper
 * died); the helper's descriptors close with the helper.
 */
void hk_ev_release_all(struct hk_vm *vm)
{
	u32 i;

	for (i = 0; i < vm->l.event_nr; i++)
		if (vm->ev.ev[i])
			hk_ev_drop(vm, vm->ev.ev[i], false);
	irq_work_sync(&vm->ev.work);
	cancel_work_sync(&vm->ev.task_work);
}
