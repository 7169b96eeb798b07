/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvm-soc ivshmem transport: what its host and SoC drivers share.  Each
 * side is a PCI driver for QEMU's ivshmem-doorbell device (1af4:1110 with
 * MSI-X): BAR0 holds the registers (the Doorbell rings a peer's vector),
 * BAR2 the shared memory laid out as linux/kvm_soc_ivshmem.h says, MSI-X
 * vector v is the peer ringing our vector v.
 *
 * Doorbell vectors: 0 is the control window.  VM window ids are spread
 * over vectors 1 .. n-1 (id w rings 1 + (w - 1) % (n - 1)); a vector wakes
 * every window on it, and the cores' handlers only wake threads that look
 * at their own slots, so a shared vector costs a spurious wakeup at most.
 * With one vector, everything rides on vector 0.
 */
#ifndef _KSOC_IVSH_H
#define _KSOC_IVSH_H

#include <linux/bitmap.h>
#include <linux/pci.h>
#include <linux/workqueue.h>
#include <linux/kvm_soc_ivshmem.h>

#include "ksoc_transport.h"

/* ivshmem BAR0 registers (QEMU docs/specs/ivshmem-spec.rst). */
#define IVSH_REG_INTR_MASK	0
#define IVSH_REG_INTR_STATUS	4
#define IVSH_REG_IV_POSITION	8
#define IVSH_REG_DOORBELL	12

struct ivsh;

/* One MSI-X vector's handler context. */
struct ivsh_vec {
	struct ivsh *iv;
	unsigned int v;
};

/**
 * struct ivsh - one side's ivshmem device.
 * @pdev: the PCI device.
 * @regs: BAR0.
 * @shm: BAR2, mapped write-back (it is RAM the two machines share).
 * @hdr: @shm viewed as the layout header.
 * @desc: the header's layout, copied once at probe and validated.
 * @id: our peer id (IVPosition).
 * @peer: the other side's peer id.
 * @nvec: MSI-X vectors in use.
 * @ids: window ids that have a window on this side (for doorbell fan-out).
 * @t: the transport handed to the core.
 * @generation: what this side wrote into its peer line at attach.
 * @on_ctrl: called (hardirq) on every control doorbell before the core's
 *	handler, or NULL.
 * @vec: per-vector handler contexts.
 * @doorbells: doorbells taken, per vector (debugfs).
 * @dbg: debugfs directory.
 * @heartbeat_work: advances our line's heartbeat while we are up.
 * @heartbeat: its last value.
 */
struct ivsh {
	struct pci_dev *pdev;
	void __iomem *regs;
	void *shm;
	struct kvm_soc_ivshmem_hdr *hdr;
	struct kvm_soc_ivshmem_desc desc;
	u32 id;
	u32 peer;
	unsigned int nvec;
	DECLARE_BITMAP(ids, KVM_SOC_IVSHMEM_NR_WINDOWS + 1);
	struct ksoc_transport t;
	u32 generation;
	void (*on_ctrl)(struct ivsh *iv);
	struct ivsh_vec vec[KVM_SOC_IVSHMEM_MAX_VECTORS];
	atomic64_t doorbells[KVM_SOC_IVSHMEM_MAX_VECTORS];
	struct dentry *dbg;
	struct delayed_work heartbeat_work;
	u64 heartbeat;
};

int ivsh_setup(struct pci_dev *pdev, struct ivsh *iv, u32 want_id);
void ivsh_teardown(struct ivsh *iv);
void ivsh_debugfs_init(struct ivsh *iv, const char *name);
void ivsh_kick(struct ksoc_transport *t, unsigned int vec);
void ivsh_set_peer_state(struct ivsh *iv, u32 state);
u32 ivsh_peer_state(struct ivsh *iv, u32 id, u32 *generation);
u64 ivsh_peer_heartbeat(struct ivsh *iv, u32 id);
u32 ivsh_peer_taken_in(struct ivsh *iv, u32 id);
void ivsh_take_in(struct ivsh *iv, u32 peer_generation);
u32 ivsh_window_vector(struct ivsh *iv, u32 id);

#endif /* _KSOC_IVSH_H */
