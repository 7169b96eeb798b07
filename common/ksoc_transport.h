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

struct file;

/* A region of SoC memory made reachable by the host (transport-private). */
struct ksoc_mem;

/*
 * Doorbell vectors.  Vector 0 is the control window's API channel; a VM
 * window's vector is its window id.
 */
#define KSOC_VEC_CTRL		0

struct ksoc_transport;

typedef void (*ksoc_doorbell_fn)(struct ksoc_transport *t, unsigned int vec);

/**
 * struct ksoc_transport - one side's end of a transport.
 * @name: short transport name reported to userspace ("loop", ...).
 * @ctrl_win: the control window, coherent memory mapped for this side.
 * @ctrl_size: its size in bytes.
 * @kick: ring the peer's doorbell @vec.  Any context; never sleeps.
 * @window_alloc: host side: create a zeroed window of @size bytes shared
 *	with the peer; returns its mapping and sets *@id (> 0), or NULL.
 * @window_free: host side: release a window from @window_alloc.
 * @mem_import: host side: the region a SoC memory token names, if it is
 *	exactly @size bytes, with a reference dropped by @mem_put; NULL if not.
 * @mem_map: host side: map a region shared, read-write, into the current
 *	process; returns the address or a negative errno (IS_ERR_VALUE).
 * @mem_put: host side: drop a reference from @mem_import.
 * @dma_addr: host side, for a SoC that cannot be reached the other way:
 *	the address (*@dma) at which the SoC reaches @len bytes of host
 *	memory at @phys, or -ERANGE if it cannot (a DPU transport maps them
 *	in its IOMMU here).  With it, host-kvm allocates guest memory.
 * @window_map: SoC side: map window @id; sets *@size; NULL if unknown.
 * @window_unmap: SoC side: drop a mapping from @window_map.
 * @mem_export: SoC side: make @size bytes of the calling process's memory
 *	at @uaddr reachable by the host; returns a token (> 0) valid until
 *	@mem_unexport, or a negative errno.
 * @mem_unexport: SoC side: retire a token; the memory stays reachable by
 *	the host until the host's last @mem_put.
 * @dma_phys: SoC side: the SoC physical address (*@phys) at which the
 *	CPU reaches @len bytes of host memory at DMA address @dma (a DPU's
 *	outbound window), or -ERANGE.  soc-kvm maps such ranges into its
 *	processes itself (remap_pfn_range), so mappings need no transport.
 * @dma_copy: SoC side, the bulk path (a DMA engine's copy): @len bytes
 *	between @buf (kernel memory) and host memory at DMA address @dma,
 *	to the host if @to_host.  Sleeps; 0 or a negative errno.
 * @sync_writes: SoC side: the host's CPU does not see what the SoC writes
 *	into host memory as it sees its own stores (the rig's ivshmem: the
 *	host machine's TCG keeps translations of code the SoC overwrote).
 *	soc-kvm then notes the pages its processes write and has the host's
 *	CPU store them again before a vCPU runs (KVM_SOC_F_MEM_WRITTEN).
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

	void *(*window_alloc)(struct ksoc_transport *t, u64 size, u32 *id);
	void (*window_free)(struct ksoc_transport *t, u32 id);
	struct ksoc_mem *(*mem_import)(struct ksoc_transport *t, u64 token,
				       u64 size);
	unsigned long (*mem_map)(struct ksoc_mem *m);
	void (*mem_put)(struct ksoc_mem *m);
	int (*dma_addr)(struct ksoc_transport *t, phys_addr_t phys, u64 len,
			u64 *dma);

	void *(*window_map)(struct ksoc_transport *t, u32 id, u64 *size);
	void (*window_unmap)(struct ksoc_transport *t, u32 id);
	s64 (*mem_export)(struct ksoc_transport *t, unsigned long uaddr,
			  u64 size);
	void (*mem_unexport)(struct ksoc_transport *t, u64 token);
	int (*dma_phys)(struct ksoc_transport *t, u64 dma, u64 len,
			phys_addr_t *phys);
	int (*dma_copy)(struct ksoc_transport *t, u64 dma, void *buf, u64 len,
			bool to_host);
	bool sync_writes;

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
/* Guest memory as a shmem file (huge pages where possible); soc-kvm. */
struct file *soc_kvm_mem_file(const char *name, loff_t size);

#endif /* _KSOC_TRANSPORT_H */
