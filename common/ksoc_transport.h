/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The transport interface: what host-kvm and soc-kvm need from the wire
 * between them, and nothing else.  A transport (loop, ivshmem, a vendor DPU
 * driver) fills a struct ksoc_transport for each side and hands it to that
 * side's core with host_kvm_attach() / soc_kvm_attach().
 *
 * The cores never learn which transport they run on.
 */
#ifndef _KSOC_TRANSPORT_H
#define _KSOC_TRANSPORT_H

#include <linux/spinlock.h>
#include <linux/types.h>

/* Doorbell vectors.  Vector 0 is the control window's API channel. */
#define KSOC_VEC_CTRL		0

struct ksoc_transport;

typedef void (*ksoc_doorbell_fn)(struct ksoc_transport *t, unsigned int vec);

/**
 * struct ksoc_transport - one side's end of a transport.
 * @name: short transport name reported to userspace ("loop", ...).
 * @ctrl_win: the control window, coherent memory mapped for this side.
 * @ctrl_size: its size in bytes.
 * @kick: ring the peer's doorbell @vec.  Any context; never sleeps.
 * @lock: protects @doorbell against the transport's interrupt path.
 * @doorbell: the core's handler for doorbells from the peer, set with
 *	ksoc_transport_set_doorbell(); runs in any context (hardirq
 *	included) and must only wake or queue work.
 * @core: the core's private pointer for this transport.
 */
struct ksoc_transport {
	const char *name;
	void *ctrl_win;
	u64 ctrl_size;
	void (*kick)(struct ksoc_transport *t, unsigned int vec);

	spinlock_t lock; /* protects @doorbell */
	ksoc_doorbell_fn doorbell;
	void *core;
};

static inline void ksoc_transport_init(struct ksoc_transport *t)
{
	spin_lock_init(&t->lock);
	t->doorbell = NULL;
	t->core = NULL;
}

/*
 * Connect (@fn non-NULL) or disconnect the core's doorbell handler.  After
 * a disconnect returns, no call of the old handler is running or will run.
 */
static inline void ksoc_transport_set_doorbell(struct ksoc_transport *t,
					       ksoc_doorbell_fn fn)
{
	unsigned long flags;

	spin_lock_irqsave(&t->lock, flags);
	t->doorbell = fn;
	spin_unlock_irqrestore(&t->lock, flags);
}

/* Called by the transport when the peer rang doorbell @vec. */
static inline void ksoc_transport_ring(struct ksoc_transport *t,
				       unsigned int vec)
{
	unsigned long flags;

	spin_lock_irqsave(&t->lock, flags);
	if (t->doorbell)
		t->doorbell(t, vec);
	spin_unlock_irqrestore(&t->lock, flags);
}

int host_kvm_attach(struct ksoc_transport *t);
void host_kvm_detach(struct ksoc_transport *t);
int soc_kvm_attach(struct ksoc_transport *t);
void soc_kvm_detach(struct ksoc_transport *t);

#endif /* _KSOC_TRANSPORT_H */
