/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm-soc ivshmem transport: the layout of the shared memory two machines
 * see as a PCI BAR.  Part of the wire ABI of linux/kvm_soc.h (same rules:
 * fixed-width little-endian, explicit padding, reserved fields zero and
 * checked by the receiver); only the ivshmem transport and its server use
 * it.  docs/channel-protocol.md describes it in prose.
 */
#ifndef _UAPI_LINUX_KVM_SOC_IVSHMEM_H
#define _UAPI_LINUX_KVM_SOC_IVSHMEM_H

#include <linux/types.h>
#include <linux/kvm_soc.h>

/*
 * The ivshmem transport joins a host machine and a SoC machine through the
 * shared memory of QEMU's ivshmem-doorbell device (BAR2 in each machine),
 * served by tools/kvm-soc-ivshmem-server.  Peer ids are fixed: the host is
 * 0, the SoC is 1; the Doorbell register rings vector v of a peer.
 *
 * Offset 0 of the shared memory holds struct kvm_soc_ivshmem_hdr.  The
 * server writes @desc when it creates the memory and zeroes the rest; from
 * then on each peer writes only its own @peer line and the fields of @win
 * named for it.  Every read of it by a peer is a fetch-once copy that is
 * validated before use.  The control window and the window pool lie after
 * the header, KVM_SOC_AREA_ALIGN aligned, inside the memory.
 */

/* "KSIV" read as a little-endian 32-bit word. */
#define KVM_SOC_IVSHMEM_MAGIC		0x5649534bU
#define KVM_SOC_IVSHMEM_VERSION		0
#define KVM_SOC_IVSHMEM_PEER_HOST	0
#define KVM_SOC_IVSHMEM_PEER_SOC	1
#define KVM_SOC_IVSHMEM_NR_PEERS	2
#define KVM_SOC_IVSHMEM_HDR_SIZE	16384
/* Doorbell vectors: 0 is the control window, v > 0 is VM window v. */
#define KVM_SOC_IVSHMEM_MAX_VECTORS	64

/**
 * struct kvm_soc_ivshmem_desc - the layout, written by the server.
 * @magic: KVM_SOC_IVSHMEM_MAGIC.
 * @version: KVM_SOC_IVSHMEM_VERSION.
 * @shm_size: bytes of shared memory (the BAR's size).
 * @hdr_size: KVM_SOC_IVSHMEM_HDR_SIZE.
 * @nr_vectors: doorbell vectors per peer (1 .. KVM_SOC_IVSHMEM_MAX_VECTORS).
 * @ctrl_offset: byte offset of the control window.
 * @ctrl_size: its size in bytes.
 * @pool_offset: byte offset of the pool VM windows are carved from.
 * @pool_size: its size in bytes.
 * @reserved: must be zero.
 */
struct kvm_soc_ivshmem_desc {
	__le32 magic;
	__le32 version;
	__le64 shm_size;
	__le32 hdr_size;
	__le32 nr_vectors;
	__le64 ctrl_offset;
	__le64 ctrl_size;
	__le64 pool_offset;
	__le64 pool_size;
	__le32 reserved[2];
};

/**
 * struct kvm_soc_ivshmem_peer - one peer's line, written by that peer only.
 * @state: enum kvm_soc_peer_state.
 * @generation: advanced each time the peer (re)attaches, so the other side
 *	tells a restarted peer from a live one; never 0 once UP.
 * @heartbeat: advanced while the peer is up, every KVM_SOC_HEARTBEAT_MS.
 * @peer_generation: the other peer's generation this one has taken in.
 *	The SoC attaches only once the host's line names its generation:
 *	the host first frees whatever an earlier SoC left.
 * @reserved: must be zero.
 */
struct kvm_soc_ivshmem_peer {
	__le32 state;
	__le32 generation;
	__le64 heartbeat;
	__le32 peer_generation;
	__le32 reserved[11];
};

/**
 * struct kvm_soc_ivshmem_win - a VM window's place in the pool.
 * @offset: host: byte offset in the shared memory, inside the pool.
 * @size: host: bytes; 0 while the entry is free.  Written last (release).
 * @generation: host: advanced each time the entry is (re)used; never 0.
 * @soc_generation: SoC: the @generation it has mapped, 0 when it maps
 *	none.  The host reuses a freed window's memory only once this
 *	differs from @generation.
 * @reserved: must be zero.
 */
struct kvm_soc_ivshmem_win {
	__le64 offset;
	__le64 size;
	__le32 generation;
	__le32 soc_generation;
	__le32 reserved[2];
};

#define KVM_SOC_IVSHMEM_NR_WINDOWS	((KVM_SOC_IVSHMEM_HDR_SIZE - 256) / 32)

/**
 * struct kvm_soc_ivshmem_hdr - offset 0 of the ivshmem shared memory.
 * @desc: the layout (server).
 * @peer: one line per peer id (that peer).
 * @reserved: must be zero.
 * @win: window id w's entry is @win[w - 1] (host).
 */
struct kvm_soc_ivshmem_hdr {
	struct kvm_soc_ivshmem_desc desc;
	struct kvm_soc_ivshmem_peer peer[KVM_SOC_IVSHMEM_NR_PEERS];
	__le32 reserved[16];
	struct kvm_soc_ivshmem_win win[KVM_SOC_IVSHMEM_NR_WINDOWS];
};

#endif /* _UAPI_LINUX_KVM_SOC_IVSHMEM_H */
