/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Adaptive poll windows, shared by host-kvm and soc-kvm: before a vCPU's
 * thread sleeps for the other side's answer (host: the SoC's completion;
 * SoC: the host's next exit) it spins for a while, as KVM's halt polling
 * does, so that an answer that comes quickly costs no wakeup.
 *
 * A fixed window is wrong on any machine but the one it was tuned on: a
 * round trip longer than the window pays the spin and a sleep on each
 * side.  So, as KVM's grow_halt_poll_ns()/shrink_halt_poll_ns() do, each
 * waiter keeps its own window (starting at the module's poll_ns) and
 * moves it by what it saw, between the module's poll_ns ("start") and
 * poll_max_ns ("max"):
 *
 *  - answered within the window: keep it;
 *  - answered later, but within max: double it (at least start), capped
 *    at max, so the next wait of this kind does not sleep;
 *  - answered after more than max (an idle guest, a paused QEMU): halve
 *    it, and drop it to 0 below start, so a waiter that never gets a
 *    quick answer stops spinning (the next short wait brings it back).
 *
 * start or max 0 turns polling off.  Spinning also stops as soon as the
 * CPU has other work (need_resched(), or another task runnable here, as
 * KVM checks single_task_running()): on a CPU shared with the other side
 * the answer cannot come while we spin.
 */
#ifndef KSOC_POLL_H
#define KSOC_POLL_H

#include <linux/ktime.h>
#include <linux/minmax.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>

/**
 * struct ksoc_poll - one waiter's poll window.
 * @ns: how long its next wait spins before it sleeps.
 *
 * Used by the waiting thread only: no locking.
 */
struct ksoc_poll {
	u32 ns;
};

/*
 * Spin until @ready(@arg) or the end of @p's window.  *@t0: when the wait
 * started.  Return: the answer came while spinning (never for an empty
 * window: a wait that did not poll is no hit, whatever it found).
 */
static inline bool ksoc_poll_spin(const struct ksoc_poll *p,
				  bool (*ready)(void *arg), void *arg, u64 *t0)
{
	u64 until;

	*t0 = ktime_get_ns();
	if (!p->ns)
		return false;
	until = *t0 + p->ns;
	while (!ready(arg) && ktime_get_ns() < until && !need_resched() &&
	       single_task_running() && !signal_pending(current))
		cpu_relax();
	return ready(arg);
}

/*
 * The wait that started at @t0 is over: move the window by what it saw.
 * @hit: what ksoc_poll_spin() returned.  @start_ns, @max_ns: the module's
 * poll_ns and poll_max_ns, each read once by the caller.
 */
static inline void ksoc_poll_done(struct ksoc_poll *p, u64 t0, bool hit,
				  u32 start_ns, u32 max_ns)
{
	u64 waited = ktime_get_ns() - t0;
	u64 ns = p->ns;

	if (!start_ns || !max_ns)
		ns = 0;
	else if (hit)
		;		/* the window was long enough */
	else if (waited > max_ns)
		ns = ns / 2 < start_ns ? 0 : ns / 2;
	else if (waited > ns)
		ns = max_t(u64, ns * 2, start_ns);
	p->ns = min_t(u64, ns, max_ns);
}

#endif /* KSOC_POLL_H */
