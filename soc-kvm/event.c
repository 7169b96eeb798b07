// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_IRQFD and KVM_IOEVENTFD on /dev/kvm-soc VM files, over the event
 * area of the VM window (see linux/kvm_soc.h and host-kvm/event.c).
 *
 *   irqfd      a SoC eventfd is signalled -> soc_irqfd_wakeup() -> our
 *              counter +1, doorbell; the signaller never waits
 *   resample   host counter moved -> doorbell -> soc_ev_work() -> signal
 *              the resamplefd
 *   ioeventfd  host counter moved by n -> doorbell -> soc_ev_work() -> add
 *              n to the SoC eventfd (exactly n: one per guest write; at
 *              most SOC_EV_BUDGET_IRQ per run, the rest in more_work)
 *   Hyper-V    KVM_HYPERV_EVENTFD: as ioeventfd, one count per
 *   eventfd    HvSignalEvent hypercall of the guest on the connection
 *
 * Each channel is assigned through the API channel (KVM_SOC_OP_IRQFD,
 * KVM_SOC_OP_IOEVENTFD) and KVM on the host gives the errnos; what KVM
 * checks against the caller's own descriptors (eventfd or not, matching
 * on deassign) is checked here, with KVM's errnos.
 *
 * Contexts and locks:
 *  - assign and deassign run under the VM's lock (a mutex) and
 *    soc_kvm_rwsem for read, like every VM ioctl;
 *  - soc_irqfd_wakeup() runs under the eventfd's wait-queue lock; it
 *    serialises one channel's counter with the channel's @tlock and never
 *    signals an eventfd (it may be nested in eventfd_signal());
 *  - soc_ev_work() is an irq_work (hardirq context) and more_work its
 *    process-context tail (and its fallback, should it find itself inside
 *    an eventfd wakeup or ev.lock taken); both run under ev.lock, which
 *    process context takes with irqs off to publish and unpublish
 *    channels, so a channel is never freed under them.
 *  Lock order: ev.lock -> eventfd wait-queue locks -> a channel's @tlock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "soc.h"
#include "ksoc_eventfd.h"

/* ioeventfd counts delivered by one run of the irq_work, all channels. */
#define SOC_EV_BUDGET_IRQ	256
/* ... and by one locked step of its process-context tail. */
#define SOC_EV_BUDGET_TASK	4096

enum soc_ev_kind {
	SOC_EV_IRQFD = 1,
	SOC_EV_IOEVENTFD,
	SOC_EV_HV_EVENTFD,	/* counted as an ioeventfd */
};

/**
 * struct soc_event - one assigned event channel.
 * @vm: its VM.
 * @idx: the channel.
 * @kind: enum soc_ev_kind.
 * @ctx: irqfd: the trigger eventfd (polled); ioeventfd: the one signalled.
 * @rctx: irqfd: the resamplefd, or NULL.
 * @gsi: irqfd: the GSI.
 * @io: ioeventfd: KVM's arguments, the key deassign matches on; Hyper-V
 *	eventfd: @io.addr is the connection id.
 * @wait: irqfd: our entry on @ctx's wait queue.
 * @pt: registers @wait through vfs_poll().
 * @polling: @wait is queued.
 * @hup: irqfd: the eventfd was closed; @gc deassigns the channel.
 * @tlock: serialises @count.
 * @count: irqfd: soc_count[@idx] as last written.
 * @seen: host_count[@idx] last acted on (under ev.lock).
 */
struct soc_event {
	struct soc_vm *vm;
	u32 idx;
	u8 kind;
	struct eventfd_ctx *ctx;
	struct eventfd_ctx *rctx;
	u32 gsi;
	struct kvm_ioeventfd io;
	wait_queue_entry_t wait;
	poll_table pt;
	bool polling;
	bool hup;
	spinlock_t tlock; /* protects @count */
	u64 count;
	u64 seen;
};

static bool soc_ev_vm_ok(struct soc_vm *vm)
{
	return !READ_ONCE(vm->dead) && !soc_chan_dead(&vm->chan);
}

static struct kvm_soc_event_hdr *soc_ev_hdr(struct soc_vm *vm)
{
	return ksoc_event_hdr(vm->chan.win, &vm->chan.l);
}

/*
 * Act on host counters that moved, delivering at most @budget ioeventfd
 * counts in all (the rest on the next run).  Caller holds ev.lock.
 * Returns false when the host broke the protocol.
 */
static bool soc_ev_process(struct soc_vm *vm, u64 budget)
{
	struct soc_events *e = &vm->ev;
	struct soc_event *ev;
	u64 seq, c, d, n;
	u32 i;

	lockdep_assert_held(&e->lock);
	if (e->stopped)
		return true;
	seq = ksoc_event_peer_seq(vm->chan.win, &vm->chan.l, false);
	if (seq == e->host_seq_seen && !e->more)
		return true;
	WRITE_ONCE(e->host_seq_seen, seq);
	e->more = false;
	for (i = 0; i < vm->chan.l.event_nr; i++) {
		ev = e->ev[i];
		if (!ev)
			continue;
		/* Undelivered counts are bounded: no endless work. */
		if (ksoc_event_peer_count(vm->chan.win, &vm->chan.l, false, i,
					  ev->seen, ev->kind != SOC_EV_IRQFD, &c))
			return false;
		d = c - ev->seen;
		if (!d)
			continue;
		if (ev->kind != SOC_EV_IRQFD) {
			n = min(d, budget);
			ev->seen += n;
			budget -= n;
			if (n < d)
				e->more = true;
			if (n) {
				ksoc_eventfd_add(ev->ctx, n);
				atomic64_add(n, &vm->stats.ioeventfd_kicks);
			}
		} else {
			ev->seen = c;
			if (ev->rctx) {
				ksoc_eventfd_add(ev->rctx, 1);
				atomic64_inc(&vm->stats.irqfd_resamples);
			}
		}
	}
	return true;
}

static void soc_ev_work(struct irq_work *w)
{
	struct soc_vm *vm = container_of(w, struct soc_vm, ev.work);
	bool ok, more;

	/*
	 * An irq_work normally runs where eventfd_signal() is allowed and
	 * ev.lock is free.  Should it ever interrupt an eventfd wakeup or a
	 * holder of ev.lock on this CPU (an emulated CPU has delivered
	 * interrupts with IF clear), process context does the run instead:
	 * nothing is dropped, nothing deadlocks.
	 */
	if (!eventfd_signal_allowed() || !spin_trylock(&vm->ev.lock)) {
		queue_work(system_highpri_wq, &vm->ev.more_work);
		return;
	}
	ok = soc_ev_process(vm, SOC_EV_BUDGET_IRQ);
	more = vm->ev.more && !vm->ev.stopped;
	spin_unlock(&vm->ev.lock);
	if (!ok)
		soc_chan_fail(&vm->chan, "implausible event count");
	else if (more)
		queue_work(system_unbound_wq, &vm->ev.more_work);
}

/*
 * Long bursts (the SoC fell behind), and runs the irq_work could not do:
 * deliver them where we may sleep.
 */
static void soc_ev_more_work(struct work_struct *w)
{
	struct soc_vm *vm = container_of(w, struct soc_vm, ev.more_work);
	bool ok, more;

	do {
		spin_lock_irq(&vm->ev.lock);
		ok = soc_ev_process(vm, SOC_EV_BUDGET_TASK);
		more = ok && vm->ev.more && !vm->ev.stopped;
		spin_unlock_irq(&vm->ev.lock);
		cond_resched();
	} while (more);
	if (!ok)
		soc_chan_fail(&vm->chan, "implausible event count");
}

/* Doorbell (any context, under RCU): queue the work if the host moved. */
void soc_ev_doorbell(struct soc_vm *vm)
{
	/* A stale value only queues one run too many; the run re-reads. */
	if (vm->chan.l.event_nr && !READ_ONCE(vm->ev.stopped) &&
	    le64_to_cpu(READ_ONCE(soc_ev_hdr(vm)->host_seq)) !=
	    READ_ONCE(vm->ev.host_seq_seen))
		irq_work_queue(&vm->ev.work);
}

/* ---- irqfd trigger ------------------------------------------------------ */

static void soc_irqfd_trigger(struct soc_event *ev)
{
	struct soc_vm *vm = ev->vm;
	unsigned long flags;
	u64 seq;

	spin_lock_irqsave(&ev->tlock, flags);
	ev->count++;
	/* A seq of its own for each store: races of two channels lose none. */
	seq = atomic64_inc_return(&vm->ev.soc_seq);
	ksoc_event_publish(vm->chan.win, &vm->chan.l, false, ev->idx, ev->count,
			   seq);
	spin_unlock_irqrestore(&ev->tlock, flags);
	atomic64_inc(&vm->stats.irqfd_triggers);
	vm->chan.t->kick(vm->chan.t, vm->chan.id);
}

/* The irqfd's eventfd was signalled or closed; under its wait lock. */
static int soc_irqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			    int sync, void *key)
{
	struct soc_event *ev = container_of(wait, struct soc_event, wait);
	__poll_t flags = key_to_poll(key);
	u64 cnt;

	if (flags & EPOLLIN) {
		/* Consume the count: a burst is one edge. */
		eventfd_ctx_do_read(ev->ctx, &cnt);
		soc_irqfd_trigger(ev);
	}
	if (flags & EPOLLHUP) {
		WRITE_ONCE(ev->hup, true);
		queue_work(system_wq, &ev->vm->ev.gc);
	}
	return 0;
}

static void soc_irqfd_ptable(struct file *file, wait_queue_head_t *wqh,
			     poll_table *pt)
{
	struct soc_event *ev = container_of(pt, struct soc_event, pt);

	add_wait_queue(wqh, &ev->wait);
}

/* ---- channels ----------------------------------------------------------- */

static int soc_ev_free_idx(struct soc_vm *vm)
{
	u32 i;

	for (i = 0; i < vm->chan.l.event_nr; i++)
		if (!vm->ev.ev[i])
			return i;
	return -ENOSPC;
}

static struct soc_event *soc_ev_alloc(struct soc_vm *vm, u8 kind)
{
	struct soc_event *ev;
	int idx;

	idx = soc_ev_free_idx(vm);
	if (idx < 0)
		return ERR_PTR(idx);
	ev = kzalloc(sizeof(*ev), GFP_KERNEL);
	if (!ev)
		return ERR_PTR(-ENOMEM);
	ev->vm = vm;
	ev->idx = idx;
	ev->kind = kind;
	spin_lock_init(&ev->tlock);
	ev->count = vm->ev.soc_count[idx];
	return ev;
}

/* Make a channel visible to the works, seeing host counts from now on. */
static void soc_ev_publish(struct soc_vm *vm, struct soc_event *ev)
{
	spin_lock_irq(&vm->ev.lock);
	ksoc_event_peer_count(vm->chan.win, &vm->chan.l, false, ev->idx, 0,
			      false, &ev->seen);
	vm->ev.ev[ev->idx] = ev;
	spin_unlock_irq(&vm->ev.lock);
}

static void soc_ev_unpublish(struct soc_vm *vm, struct soc_event *ev)
{
	spin_lock_irq(&vm->ev.lock);
	if (vm->ev.ev[ev->idx] == ev)
		vm->ev.ev[ev->idx] = NULL;
	spin_unlock_irq(&vm->ev.lock);
}

/* After this returns no soc_irqfd_wakeup() runs for @ev. */
static void soc_ev_unpoll(struct soc_event *ev)
{
	u64 cnt;

	if (ev->polling)
		eventfd_ctx_remove_wait_queue(ev->ctx, &ev->wait, &cnt);
	ev->polling = false;
}

static void soc_ev_free(struct soc_vm *vm, struct soc_event *ev)
{
	vm->ev.soc_count[ev->idx] = ev->count;
	if (ev->ctx)
		eventfd_ctx_put(ev->ctx);
	if (ev->rctx)
		eventfd_ctx_put(ev->rctx);
	kfree(ev);
}

/* One KVM_SOC_OP_IRQFD / KVM_SOC_OP_IOEVENTFD call. */
static long soc_ev_call(struct soc_vm *vm, u32 op, u32 idx, const void *req,
			u32 len)
{
	struct ksoc_api_msg m = { .op = op, .target = idx, .len = len };
	int ret;

	ret = soc_chan_call(&vm->chan, &m, req, NULL, 0);
	if (ret)
		return ret;
	return soc_result(m.result);
}

static long soc_irqfd_host(struct soc_vm *vm, struct soc_event *ev, u32 flags)
{
	struct kvm_soc_irqfd req = {
		.gsi = cpu_to_le32(ev->gsi), .flags = cpu_to_le32(flags),
	};

	return soc_ev_call(vm, KVM_SOC_OP_IRQFD, ev->idx, &req, sizeof(req));
}

static long soc_ioeventfd_host(struct soc_vm *vm, struct soc_event *ev,
			       bool deassign)
{
	struct kvm_soc_ioeventfd req = {
		.addr = cpu_to_le64(ev->io.addr),
		.datamatch = cpu_to_le64(ev->io.datamatch),
		.len = cpu_to_le32(ev->io.len),
	};
	u32 flags = 0;

	if (deassign)
		flags |= BIT(KVM_SOC_IOEVENTFD_F_DEASSIGN);
	if (ev->kind == SOC_EV_HV_EVENTFD)
		flags |= BIT(KVM_SOC_IOEVENTFD_F_HYPERV);
	if (ev->io.flags & KVM_IOEVENTFD_FLAG_PIO)
		flags |= BIT(KVM_SOC_IOEVENTFD_F_PIO);
	if (ev->io.flags & KVM_IOEVENTFD_FLAG_DATAMATCH)
		flags |= BIT(KVM_SOC_IOEVENTFD_F_DATAMATCH);
	req.flags = cpu_to_le32(flags);
	return soc_ev_call(vm, KVM_SOC_OP_IOEVENTFD, ev->idx, &req, sizeof(req));
}

/*
 * Deassign an ioeventfd on both sides.  It stays published until the
 * host's KVM has dropped it, and what the host counted up to then is
 * delivered before this returns: as with KVM, every guest write that
 * completed before the deassign is in the eventfd (QEMU reads it after
 * deassigning).  If the host keeps it (an error other than a dead VM, or
 * the request never reached it), so does the SoC.
 */
static long soc_ioeventfd_deassign(struct soc_vm *vm, struct soc_event *ev)
{
	u64 c, n = 0;
	bool bad = false;
	long r;

	r = soc_ioeventfd_host(vm, ev, true);
	if (r && (r != -EIO || soc_ev_vm_ok(vm)))
		return r;
	spin_lock_irq(&vm->ev.lock);
	if (!r) {
		/* Ordered by the acquire of the host's response. */
		bad = ksoc_event_peer_count(vm->chan.win, &vm->chan.l, false,
					    ev->idx, ev->seen, true, &c);
		if (!bad) {
			n = c - ev->seen;
			ev->seen = c;
		}
	}
	if (vm->ev.ev[ev->idx] == ev)
		vm->ev.ev[ev->idx] = NULL;
	spin_unlock_irq(&vm->ev.lock);
	if (bad) {
		soc_chan_fail(&vm->chan, "implausible event count");
		n = 0;
	}
	atomic64_add(n, &vm->stats.ioeventfd_kicks);
	while (n) {
		u64 k = min_t(u64, n, SOC_EV_BUDGET_TASK);

		ksoc_eventfd_add(ev->ctx, k);
		n -= k;
		cond_resched();
	}
	soc_ev_free(vm, ev);
	return r;
}

/* Deassign a channel on both sides.  Caller holds the VM's lock. */
static long soc_ev_deassign(struct soc_vm *vm, struct soc_event *ev)
{
	long r;

	if (ev->kind != SOC_EV_IRQFD)
		return soc_ioeventfd_deassign(vm, ev);
	/* No trigger after this; the host then drops its irqfd. */
	soc_ev_unpoll(ev);
	soc_ev_unpublish(vm, ev);
	r = soc_irqfd_host(vm, ev, BIT(KVM_SOC_IRQFD_F_DEASSIGN));
	soc_ev_free(vm, ev);
	return r;
}

/* ---- KVM_IRQFD ---------------------------------------------------------- */

static long soc_irqfd_assign(struct soc_vm *vm, const struct kvm_irqfd *a)
{
	struct soc_event *ev;
	struct file *file;
	__poll_t events;
	long r;
	u32 i;

	ev = soc_ev_alloc(vm, SOC_EV_IRQFD);
	if (IS_ERR(ev))
		return PTR_ERR(ev);
	ev->gsi = a->gsi;
	file = fget(a->fd);
	r = -EBADF;
	if (!file)
		goto err_free;
	ev->ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ev->ctx)) {
		r = PTR_ERR(ev->ctx);
		ev->ctx = NULL;
		goto err_fput;
	}
	if (a->flags & KVM_IRQFD_FLAG_RESAMPLE) {
		ev->rctx = eventfd_ctx_fdget(a->resamplefd);
		if (IS_ERR(ev->rctx)) {
			r = PTR_ERR(ev->rctx);
			ev->rctx = NULL;
			goto err_fput;
		}
	}
	/* As KVM: one irqfd per eventfd. */
	r = -EBUSY;
	for (i = 0; i < vm->chan.l.event_nr; i++)
		if (vm->ev.ev[i] && vm->ev.ev[i]->kind == SOC_EV_IRQFD &&
		    vm->ev.ev[i]->ctx == ev->ctx)
			goto err_fput;

	/* Resamples from the host count from the moment it assigns. */
	soc_ev_publish(vm, ev);
	r = soc_irqfd_host(vm, ev, ev->rctx ? BIT(KVM_SOC_IRQFD_F_RESAMPLE) : 0);
	if (r) {
		soc_ev_unpublish(vm, ev);
		goto err_fput;
	}
	init_waitqueue_func_entry(&ev->wait, soc_irqfd_wakeup);
	init_poll_funcptr(&ev->pt, soc_irqfd_ptable);
	events = vfs_poll(file, &ev->pt);
	ev->polling = true;
	/* Signalled before we listened: that is a trigger too, as in KVM. */
	if (events & EPOLLIN)
		soc_irqfd_trigger(ev);
	fput(file);
	return 0;

err_fput:
	fput(file);
err_free:
	soc_ev_free(vm, ev);
	return r;
}

static long soc_irqfd_deassign(struct soc_vm *vm, const struct kvm_irqfd *a)
{
	struct eventfd_ctx *ctx;
	struct soc_event *ev;
	long r = 0;
	u32 i;

	ctx = eventfd_ctx_fdget(a->fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	for (i = 0; i < vm->chan.l.event_nr; i++) {
		ev = vm->ev.ev[i];
		if (ev && ev->kind == SOC_EV_IRQFD && ev->ctx == ctx &&
		    ev->gsi == a->gsi) {
			r = soc_ev_deassign(vm, ev);
			break;
		}
	}
	eventfd_ctx_put(ctx);
	/* Like KVM: deassigning an irqfd that is not there is not an error. */
	return r;
}

/**
 * soc_vm_irqfd - KVM_IRQFD on a VM file.
 * @vm: the VM; caller holds its lock and soc_kvm_rwsem for read.
 * @arg: user pointer to struct kvm_irqfd.
 *
 * Return: 0 or KVM's errno: -EINVAL for unknown flags or a descriptor that
 * is no eventfd, -EBADF, -EBUSY for an eventfd already in use; the host
 * KVM's errno (-EINVAL without an in-kernel irqchip, ...); -ENOSPC when
 * the window's event channels are all in use.
 */
long soc_vm_irqfd(struct soc_vm *vm, unsigned long arg)
{
	struct kvm_irqfd a;

	lockdep_assert_held(&vm->lock);
	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~(KVM_IRQFD_FLAG_DEASSIGN | KVM_IRQFD_FLAG_RESAMPLE))
		return -EINVAL;
	if (!vm->chan.l.event_nr)
		return -EOPNOTSUPP;
	if (a.flags & KVM_IRQFD_FLAG_DEASSIGN)
		return soc_irqfd_deassign(vm, &a);
	return soc_irqfd_assign(vm, &a);
}

/* ---- KVM_IOEVENTFD ------------------------------------------------------ */

static bool soc_ioeventfd_match(const struct soc_event *ev,
				const struct kvm_ioeventfd *a,
				struct eventfd_ctx *ctx)
{
	bool wildcard = !(a->flags & KVM_IOEVENTFD_FLAG_DATAMATCH);

	if (ev->kind != SOC_EV_IOEVENTFD || ev->ctx != ctx ||
	    ev->io.addr != a->addr || ev->io.len != a->len ||
	    (ev->io.flags & KVM_IOEVENTFD_FLAG_PIO) !=
	    (a->flags & KVM_IOEVENTFD_FLAG_PIO) ||
	    !(ev->io.flags & KVM_IOEVENTFD_FLAG_DATAMATCH) != wildcard)
		return false;
	return wildcard || ev->io.datamatch == a->datamatch;
}

/**
 * soc_vm_ioeventfd - KVM_IOEVENTFD on a VM file.
 * @vm: the VM; caller holds its lock and soc_kvm_rwsem for read.
 * @arg: user pointer to struct kvm_ioeventfd.
 *
 * Return: 0 or KVM's errno: -EINVAL (flags, length, address overflow, no
 * eventfd), -EBADF, -ENOENT for a deassign that matches nothing, the host
 * KVM's -EEXIST for a duplicate, -ENOSPC as for soc_vm_irqfd().
 */
long soc_vm_ioeventfd(struct soc_vm *vm, unsigned long arg)
{
	struct kvm_ioeventfd a;
	struct eventfd_ctx *ctx;
	struct soc_event *ev;
	long r;
	u32 i;

	lockdep_assert_held(&vm->lock);
	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	/* KVM's checks, in KVM's order.  No virtio-ccw bus on x86. */
	if (a.flags & ~(KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_PIO |
			KVM_IOEVENTFD_FLAG_DEASSIGN))
		return -EINVAL;
	if (!vm->chan.l.event_nr)
		return -EOPNOTSUPP;
	if (!(a.flags & KVM_IOEVENTFD_FLAG_DEASSIGN)) {
		switch (a.len) {
		case 0: case 1: case 2: case 4: case 8:
			break;
		default:
			return -EINVAL;
		}
		if (a.addr + a.len < a.addr)
			return -EINVAL;
		if (!a.len && (a.flags & KVM_IOEVENTFD_FLAG_DATAMATCH))
			return -EINVAL;
	}
	ctx = eventfd_ctx_fdget(a.fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	if (a.flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
		r = -ENOENT;
		for (i = 0; i < vm->chan.l.event_nr; i++) {
			ev = vm->ev.ev[i];
			if (ev && soc_ioeventfd_match(ev, &a, ctx)) {
				r = soc_ev_deassign(vm, ev);
				break;
			}
		}
		eventfd_ctx_put(ctx);
		return r;
	}

	ev = soc_ev_alloc(vm, SOC_EV_IOEVENTFD);
	if (IS_ERR(ev)) {
		eventfd_ctx_put(ctx);
		return PTR_ERR(ev);
	}
	ev->ctx = ctx;
	ev->io = a;
	ev->io.flags &= ~KVM_IOEVENTFD_FLAG_DEASSIGN;
	/* Kicks count from the moment the host's KVM has the ioeventfd. */
	soc_ev_publish(vm, ev);
	r = soc_ioeventfd_host(vm, ev, false);
	if (r) {
		soc_ev_unpublish(vm, ev);
		soc_ev_free(vm, ev);
	}
	return r;
}

/* ---- KVM_HYPERV_EVENTFD ------------------------------------------------- */

/**
 * soc_vm_hv_eventfd - KVM_HYPERV_EVENTFD on a VM file.
 * @vm: the VM; caller holds its lock and soc_kvm_rwsem for read.
 * @arg: user pointer to struct kvm_hyperv_eventfd.
 *
 * Return: 0 or KVM's errno: -EINVAL (flags, connection id; an assign
 * whose fd is no eventfd), -EBADF, -ENOENT for a deassign of a connection
 * without one, the host KVM's -EEXIST for a connection that has one,
 * -ENOSPC as for soc_vm_irqfd().
 */
long soc_vm_hv_eventfd(struct soc_vm *vm, unsigned long arg)
{
	struct kvm_hyperv_eventfd a;
	struct eventfd_ctx *ctx;
	struct soc_event *ev;
	long r;
	u32 i;

	lockdep_assert_held(&vm->lock);
	if (copy_from_user(&a, (void __user *)arg, sizeof(a)))
		return -EFAULT;
	/* KVM's checks, in KVM's order (its padding is not checked). */
	if ((a.flags & ~KVM_HYPERV_EVENTFD_DEASSIGN) ||
	    (a.conn_id & ~KVM_HYPERV_CONN_ID_MASK))
		return -EINVAL;
	if (!vm->chan.l.event_nr)
		return -EOPNOTSUPP;
	if (a.flags == KVM_HYPERV_EVENTFD_DEASSIGN) {
		/* KVM finds the connection by its id alone. */
		for (i = 0; i < vm->chan.l.event_nr; i++) {
			ev = vm->ev.ev[i];
			if (ev && ev->kind == SOC_EV_HV_EVENTFD &&
			    ev->io.addr == a.conn_id)
				return soc_ev_deassign(vm, ev);
		}
		return -ENOENT;
	}
	ctx = eventfd_ctx_fdget(a.fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	/* KVM's answer for a connection that has one, even with no room. */
	for (i = 0; i < vm->chan.l.event_nr; i++) {
		ev = vm->ev.ev[i];
		if (ev && ev->kind == SOC_EV_HV_EVENTFD && ev->io.addr == a.conn_id) {
			eventfd_ctx_put(ctx);
			return -EEXIST;
		}
	}
	ev = soc_ev_alloc(vm, SOC_EV_HV_EVENTFD);
	if (IS_ERR(ev)) {
		eventfd_ctx_put(ctx);
		return PTR_ERR(ev);
	}
	ev->ctx = ctx;
	ev->io.addr = a.conn_id;
	/* Signals count from the moment the host's KVM has the eventfd. */
	soc_ev_publish(vm, ev);
	r = soc_ioeventfd_host(vm, ev, false);
	if (r) {
		soc_ev_unpublish(vm, ev);
		soc_ev_free(vm, ev);
	}
	return r;
}

/* ---- lifetime ----------------------------------------------------------- */

/* irqfds whose eventfd was closed are deassigned, as KVM does. */
static void soc_ev_gc(struct work_struct *w)
{
	struct soc_vm *vm = container_of(w, struct soc_vm, ev.gc);
	struct soc_event *ev;
	u32 i;

	down_read(&soc_kvm_rwsem);
	mutex_lock(&vm->lock);
	for (i = 0; i < vm->chan.l.event_nr && !READ_ONCE(vm->ev.stopped) &&
	     soc_ev_vm_ok(vm); i++) {
		ev = vm->ev.ev[i];
		if (ev && ev->kind == SOC_EV_IRQFD && READ_ONCE(ev->hup))
			soc_ev_deassign(vm, ev);
	}
	mutex_unlock(&vm->lock);
	up_read(&soc_kvm_rwsem);
}

void soc_ev_init(struct soc_vm *vm)
{
	spin_lock_init(&vm->ev.lock);
	init_irq_work(&vm->ev.work, soc_ev_work);
	INIT_WORK(&vm->ev.more_work, soc_ev_more_work);
	INIT_WORK(&vm->ev.gc, soc_ev_gc);
	atomic64_set(&vm->ev.soc_seq, 0);
}

/*
 * The window is going away (VM release, detach): stop listening and wait
 * out the works.  Channels stay allocated until soc_ev_free_all().
 * @release: the last reference is gone and soc_kvm_rwsem is not held: the
 * gc work (which takes it) is cancelled too.  On detach it is not; it
 * runs later and finds the VM dead.
 */
void soc_ev_stop(struct soc_vm *vm, bool release)
{
	u32 i;

	mutex_lock(&vm->lock);
	for (i = 0; i < vm->chan.l.event_nr; i++)
		if (vm->ev.ev[i])
			soc_ev_unpoll(vm->ev.ev[i]);
	mutex_unlock(&vm->lock);
	spin_lock_irq(&vm->ev.lock);
	WRITE_ONCE(vm->ev.stopped, true);
	spin_unlock_irq(&vm->ev.lock);
	irq_work_sync(&vm->ev.work);
	cancel_work_sync(&vm->ev.more_work);
	if (release)
		cancel_work_sync(&vm->ev.gc);
}

/* Last reference gone: free the channels (the host frees its own). */
void soc_ev_free_all(struct soc_vm *vm)
{
	u32 i;

	cancel_work_sync(&vm->ev.gc);
	/* A doorbell that raced with soc_ev_stop() may have queued it. */
	irq_work_sync(&vm->ev.work);
	cancel_work_sync(&vm->ev.more_work);
	for (i = 0; i < vm->chan.l.event_nr; i++) {
		if (vm->ev.ev[i]) {
			soc_ev_unpoll(vm->ev.ev[i]);
			soc_ev_free(vm, vm->ev.ev[i]);
			vm->ev.ev[i] = NULL;
		}
	}
}
