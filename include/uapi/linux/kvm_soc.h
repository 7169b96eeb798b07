/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kvm-soc: KVM split between a host and a DPU SoC.
 *
 * This header is two ABIs:
 *
 *  1. The wire: the layout of a *window*, the shared memory (a PCIe BAR on
 *     real hardware) through which host-kvm and soc-kvm talk.  Everything in
 *     it is fixed-width little-endian with explicit padding; no host-arch
 *     struct travels in it.  x86 guest state (struct kvm_regs, the kvm_run
 *     exit union, ...) travels as opaque x86-layout payload bytes.
 *
 *  2. The ioctls /dev/kvm-soc adds to KVM's own ABI (which it mirrors with
 *     KVM's numbers and structs, see linux/kvm.h).
 *
 * Versioning: KVM_SOC_ABI_VERSION is frozen once released; growth is by
 * feature bits (KVM_SOC_F_*) negotiated in the window header, by new ops,
 * and by argsz in ioctl structs.  Every reserved field must be zero and is
 * checked by the receiver.
 *
 * See docs/channel-protocol.md for the state machines in prose.
 */
#ifndef _UAPI_LINUX_KVM_SOC_H
#define _UAPI_LINUX_KVM_SOC_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define KVM_SOC_ABI_VERSION		0
/* "KSOC" read as a little-endian 32-bit word. */
#define KVM_SOC_WINDOW_MAGIC		0x434f534bU

/* Every area in a window starts on a 4 KiB boundary. */
#define KVM_SOC_AREA_ALIGN		4096
/* Every slot size and the header's sub-blocks are multiples of this. */
#define KVM_SOC_LINE			64

/**
 * enum kvm_soc_feature_bits - feature bits offered by the host in
 * &kvm_soc_window_desc.host_features and accepted by the SoC in
 * &kvm_soc_soc_status.soc_features.
 * @KVM_SOC_F_HEARTBEAT: both sides advance their heartbeat counter at least
 *	once per KVM_SOC_HEARTBEAT_MS.
 * @KVM_SOC_F_POSTED_WRITES: VM windows have a posted-write ring, which
 *	carries the host KVM's coalesced MMIO and PIO writes (offered in the
 *	control window and in every VM window that has the ring).
 * @KVM_SOC_F_HOST_MEMORY: guest memory is allocated by the host
 *	(KVM_SOC_OP_MEM_ALLOC) and reached by the SoC at the addresses the
 *	host gives (DMA); without it, the SoC's memory is reached by the host
 *	through the transport's memory tokens.
 * @KVM_SOC_F_MEM_WRITTEN: with KVM_SOC_F_HOST_MEMORY, the host takes
 *	KVM_SOC_OP_MEM_WRITTEN.  A SoC accepts it when what it writes into
 *	host memory is not seen by the host's CPU as that CPU's own stores
 *	are (the rig's ivshmem: the host machine's translation cache);
 *	a DPU's DMA is coherent and needs none of it.
 * @KVM_SOC_F_DIRTY_LOG: dirty logging is carried: the host allocates
 *	memory objects (KVM_SOC_OP_MEM_ALLOC) whatever the memory model, and
 *	the bitmaps of KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG travel
 *	through one, copied by the SoC's bulk path (its DMA engine), never
 *	in an API slot.  The host offers it when it can give DMA addresses;
 *	the SoC accepts it when it can copy.
 * @KVM_SOC_F_DIRTY_RING: with KVM_SOC_F_DIRTY_LOG, KVM's dirty ring
 *	(KVM_CAP_DIRTY_LOG_RING, _ACQ_REL) is carried: the host harvests its
 *	KVM's per-vCPU rings (KVM_SOC_IOREQ_F_DIRTY, KVM_SOC_OP_DIRTY_RING)
 *	and the SoC keeps the rings its userspace maps.
 * @KVM_SOC_F_VCPU_WINDOWS: each vCPU has a window of its own, made by the
 *	host at KVM_SOC_OP_CREATE_VCPU (response payload struct
 *	kvm_soc_vcpu_created): one API slot for the vCPU's ops, then one
 *	IOREQ slot; the VM window then has no IOREQ slot and no vCPU API
 *	slot, so a VM's windows grow with the vCPUs it has.  A vCPU window
 *	has no state of its own: it lives and fails with its VM window.
 *	Offered in the control window; the VM windows made while the SoC
 *	accepts it offer it too.
 * @KVM_SOC_F_BULK_ARGS: with KVM_SOC_F_DIRTY_LOG (the bulk path), the API
 *	slots of VM and vCPU windows are sized for the ops that are common
 *	(KVM_SOC_SMALL_API_SLOT bytes), and a KVM_SOC_OP_VM_IOCTL or
 *	KVM_SOC_OP_VCPU_IOCTL whose argument or output does not fit one
 *	travels in a host memory object of the SoC's instead
 *	(KVM_SOC_API_F_BULK).  Offered in the control window; the VM and
 *	vCPU windows made while the SoC accepts it offer it too.
 * @KVM_SOC_F_NR_BITS: number of defined bits.
 */
enum kvm_soc_feature_bits {
	KVM_SOC_F_HEARTBEAT		= 0,
	KVM_SOC_F_POSTED_WRITES		= 1,
	KVM_SOC_F_HOST_MEMORY		= 2,
	KVM_SOC_F_MEM_WRITTEN		= 3,
	KVM_SOC_F_DIRTY_LOG		= 4,
	KVM_SOC_F_DIRTY_RING		= 5,
	KVM_SOC_F_VCPU_WINDOWS		= 6,
	KVM_SOC_F_BULK_ARGS		= 7,
	KVM_SOC_F_NR_BITS
};

#define KVM_SOC_F_VALID_MASK		((1ULL << KVM_SOC_F_NR_BITS) - 1)
#define KVM_SOC_HEARTBEAT_MS		1000
/* API slot size, header included, of VM and vCPU windows with BULK_ARGS. */
#define KVM_SOC_SMALL_API_SLOT		4096

/**
 * enum kvm_soc_peer_state - liveness of one side of a window.
 * @KVM_SOC_PEER_DOWN: not attached (zeroed memory reads as DOWN).
 * @KVM_SOC_PEER_UP: attached and serving the window.
 * @KVM_SOC_PEER_FAILED: this side declared the window broken (protocol
 *	violation by the peer); only a full re-initialisation recovers it.
 */
enum kvm_soc_peer_state {
	KVM_SOC_PEER_DOWN		= 0,
	KVM_SOC_PEER_UP			= 1,
	KVM_SOC_PEER_FAILED		= 2
};

/**
 * struct kvm_soc_window_desc - static description of a window.
 * @magic: KVM_SOC_WINDOW_MAGIC.
 * @abi_version: the host's KVM_SOC_ABI_VERSION.
 * @hdr_size: sizeof(struct kvm_soc_window_hdr).
 * @window_id: 0 for the control window, otherwise the VM's window number.
 * @window_size: size of the whole window in bytes.
 * @host_features: KVM_SOC_F_* bits the host offers.
 * @api_offset: byte offset of the API slot array.
 * @api_nr_slots: number of API slots (0 < n <= 256).
 * @api_slot_size: bytes per API slot, header included; a multiple of
 *	KVM_SOC_LINE.
 * @ioreq_offset: byte offset of the per-vCPU IOREQ slot array.
 * @ioreq_nr_slots: number of IOREQ slots, i.e. the maximum number of vCPUs
 *	of this window's VM (0 for the control window).
 * @ioreq_slot_size: bytes per IOREQ slot; at least
 *	sizeof(struct kvm_soc_ioreq) and a multiple of KVM_SOC_LINE.
 * @posted_offset: byte offset of the posted-write ring entries.
 * @posted_nr_entries: number of ring entries; a power of two, or 0 when the
 *	window has no posted-write ring.
 * @event_offset: byte offset of the event area (struct kvm_soc_event_hdr).
 * @event_nr: number of event channels (irqfd/ioeventfd), a multiple of 8
 *	and at most 4096, or 0 when the window has no event area.
 * @reserved: must be zero.
 *
 * Written once by the host before it sets &kvm_soc_host_status.state to
 * KVM_SOC_PEER_UP; read-only afterwards.  Areas are KVM_SOC_AREA_ALIGN
 * aligned, lie inside the window and do not overlap the header or each
 * other.
 */
struct kvm_soc_window_desc {
	__le32 magic;
	__le32 abi_version;
	__le32 hdr_size;
	__le32 window_id;
	__le64 window_size;
	__le64 host_features;
	__le32 api_offset;
	__le32 api_nr_slots;
	__le32 api_slot_size;
	__le32 ioreq_offset;
	__le32 ioreq_nr_slots;
	__le32 ioreq_slot_size;
	__le32 posted_offset;
	__le32 posted_nr_entries;
	__le32 event_offset;
	__le32 event_nr;
	__le32 reserved[14];
};

/**
 * struct kvm_soc_host_status - the host-written line of the header.
 * @state: enum kvm_soc_peer_state of the host.
 * @reserved0: must be zero.
 * @heartbeat: advanced by the host (KVM_SOC_F_HEARTBEAT).
 * @posted_prod: free-running producer index of the posted-write ring.
 * @reserved: must be zero.
 */
struct kvm_soc_host_status {
	__le32 state;
	__le32 reserved0;
	__le64 heartbeat;
	__le32 posted_prod;
	__le32 reserved[11];
};

/**
 * struct kvm_soc_soc_status - the SoC-written line of the header.
 * @state: enum kvm_soc_peer_state of the SoC.
 * @abi_version: the SoC's KVM_SOC_ABI_VERSION.
 * @heartbeat: advanced by the SoC (KVM_SOC_F_HEARTBEAT).
 * @soc_features: the subset of host_features the SoC uses.
 * @posted_cons: free-running consumer index of the posted-write ring.
 * @reserved: must be zero.
 */
struct kvm_soc_soc_status {
	__le32 state;
	__le32 abi_version;
	__le64 heartbeat;
	__le64 soc_features;
	__le32 posted_cons;
	__le32 reserved[9];
};

/**
 * struct kvm_soc_window_hdr - the header at offset 0 of every window.
 * @desc: static layout, host-written before the host goes UP.
 * @host: host-written dynamic line.
 * @soc: SoC-written dynamic line.
 *
 * Each sub-block sits in its own KVM_SOC_LINE(s) so the two writers never
 * share a cache line.
 */
struct kvm_soc_window_hdr {
	struct kvm_soc_window_desc desc;
	struct kvm_soc_host_status host;
	struct kvm_soc_soc_status soc;
};

/*
 * API channel: SoC -> host requests, one outstanding request per slot.
 *
 *   state       written by   meaning
 *   FREE        SoC          slot unused; the SoC may fill it
 *   REQ         SoC          request payload + header valid; host doorbell rung
 *   BUSY        host         host copied the request out and is executing it
 *   RESP        host         result + response payload valid; SoC doorbell rung
 *
 * FREE -> REQ -> BUSY -> RESP -> FREE.  The writer stores the payload and the
 * header first, then the state with release semantics; the reader loads the
 * state with acquire semantics, then copies the header and payload out of
 * the window before validating them.  Any other transition observed by a
 * side is a protocol violation: that window fails, nothing else does.
 */

/**
 * enum kvm_soc_api_state - state of an API slot.
 * @KVM_SOC_API_FREE: owned by the SoC, unused.
 * @KVM_SOC_API_REQ: request posted by the SoC.
 * @KVM_SOC_API_BUSY: request taken by the host.
 * @KVM_SOC_API_RESP: response posted by the host.
 */
enum kvm_soc_api_state {
	KVM_SOC_API_FREE		= 0,
	KVM_SOC_API_REQ			= 1,
	KVM_SOC_API_BUSY		= 2,
	KVM_SOC_API_RESP		= 3
};

/**
 * enum kvm_soc_api_op - operations of the API channel.
 * @KVM_SOC_OP_HELLO: version and feature handshake (control window).
 *	Request payload: none; @arg: the SoC's ABI version.  Response: @result
 *	0 or -EPROTONOSUPPORT, response payload struct kvm_soc_hello.
 * @KVM_SOC_OP_SYS_IOCTL: a KVM system ioctl (control window).  @arg: the
 *	ioctl number (host architecture's KVM numbering); @target: 0;
 *	request payload: the ioctl's input bytes, or for _IO ioctls the
 *	8-byte little-endian scalar argument; response: @result is the
 *	ioctl's return value, response payload its output bytes.
 * @KVM_SOC_OP_CREATE_VM: create a VM (control window).  Request payload
 *	struct kvm_soc_create_vm; response payload struct kvm_soc_vm_created;
 *	the VM's own window carries every later op of that VM.
 * @KVM_SOC_OP_DESTROY_VM: destroy a VM (control window); @target: the VM's
 *	window id.  Stops its vCPUs, releases every host resource.
 * @KVM_SOC_OP_VM_IOCTL: a KVM VM ioctl (VM window); as SYS_IOCTL.  For
 *	a memory slot, userspace_addr is the SoC's and @arg2 names the
 *	region (the host maps it and substitutes its own address); 0 for a
 *	deletion.  Without KVM_SOC_F_HOST_MEMORY @arg2 is a transport memory
 *	token; with it, KVM_SOC_MEM_TOKEN(handle, page offset) of a host
 *	memory object, and the region must lie inside that object.  For
 *	KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG (KVM_SOC_F_DIRTY_LOG) the
 *	payload's dirty_bitmap is 0 and @arg2 is KVM_SOC_MEM_TOKEN() of the
 *	host memory object that holds the bitmap from its start (0: none):
 *	the host maps it and substitutes its own address; KVM writes the
 *	bitmap there (GET), or reads it from there (CLEAR, written by the
 *	SoC first).  A bitmap that does not fit the object is -EFAULT.
 * @KVM_SOC_OP_CREATE_VCPU: KVM_CREATE_VCPU (VM window); @arg: the vCPU id;
 *	@result: the vCPU index (its IOREQ slot and API slot); with
 *	KVM_SOC_F_VCPU_WINDOWS response payload struct kvm_soc_vcpu_created
 *	(the vCPU's window holds both slots, each its first), otherwise none.
 * @KVM_SOC_OP_VCPU_IOCTL: a KVM vCPU ioctl (in the vCPU's own API slot);
 *	@target: the vCPU index; as SYS_IOCTL.
 *
 *	With KVM_SOC_API_F_BULK in @flags (KVM_SOC_F_BULK_ARGS), a VM or
 *	vCPU ioctl's input and output bytes are not in the slot: @arg2 is
 *	KVM_SOC_MEM_TOKEN() of a host memory object whose bytes from there
 *	hold the input (req_len 0), and the host writes the output over it;
 *	in the response @arg2 is the number of output bytes written (resp_len
 *	0).  The host copies the input out of the object once, at the length
 *	it computes from the count in it as for a slot, and refuses an object
 *	too small for the input or output (-EFAULT) or a payload in the slot
 *	(-EINVAL).  Not for scalar ioctls, the device attribute ioctls,
 *	the VM ioctls that name memory or files (memory slots, dirty log,
 *	MSR filter, stats), nor KVM_ENABLE_CAP: -EINVAL; an ioctl kvm-soc
 *	does not carry is -ENOTTY.  A refused request's @arg2 is 0.
 * @KVM_SOC_OP_VCPU_KICK: make the vCPU leave KVM_RUN (VM window); @target:
 *	the vCPU index.  The vCPU then posts a KVM_EXIT_INTR exit.
 * @KVM_SOC_OP_IRQFD: assign or deassign an irqfd (VM window); @target: the
 *	event channel; request payload struct kvm_soc_irqfd; @result: KVM's
 *	KVM_IRQFD result, -EBUSY for a channel in use on assign, -ENOENT for
 *	a channel that is not an irqfd on deassign.
 * @KVM_SOC_OP_IOEVENTFD: assign or deassign an ioeventfd, or a Hyper-V
 *	eventfd (KVM_SOC_IOEVENTFD_F_HYPERV) (VM window); @target: the event
 *	channel; request payload struct kvm_soc_ioeventfd; @result as for
 *	KVM_SOC_OP_IRQFD, with KVM's KVM_IOEVENTFD or KVM_HYPERV_EVENTFD
 *	errnos (-EEXIST, -ENOENT, -EINVAL).
 * @KVM_SOC_OP_MEM_ALLOC: allocate pinned host memory for guest RAM
 *	(control window, KVM_SOC_F_HOST_MEMORY); @arg: bytes, a multiple of
 *	4096.  @result: the object's handle (> 0, < 2^32), -ENOMEM, -EINVAL,
 *	or -E2BIG past the host's limit.  The memory reads as zero.
 * @KVM_SOC_OP_MEM_RANGES: the addresses the SoC reaches an object at
 *	(control window); @arg: the handle; @arg2: index of the first range
 *	wanted.  Response payload: consecutive struct kvm_soc_mem_range in
 *	object order from that index, as many as fit; @result: the object's
 *	total number of ranges, or -ENOENT.
 * @KVM_SOC_OP_MEM_FREE: the SoC is done with an object (control window);
 *	@arg: the handle.  The host frees it once no memory slot uses it.
 *	@result: 0 or -ENOENT.
 * @KVM_SOC_OP_MEM_WRITTEN: the SoC wrote these pages of an object
 *	(control window, KVM_SOC_F_MEM_WRITTEN); @arg: the handle; request
 *	payload: struct kvm_soc_mem_pages runs, at most
 *	KVM_SOC_MEM_WRITTEN_MAX pages in all.  The host's CPU stores every
 *	word of each page back unchanged (atomically: a concurrent guest
 *	store is kept) before it answers, so the host's CPU sees the pages
 *	as it sees its own writes.  The SoC sends it before a vCPU runs
 *	after such writes.  @result: the number of pages, -ENOENT for an
 *	unknown handle, -EINVAL for a run outside the object or a payload
 *	that is no whole number of runs, -E2BIG past the maximum.
 * @KVM_SOC_OP_DIRTY_RING: move entries of the host KVM's dirty ring of a
 *	vCPU to the SoC (VM window, in the vCPU's own API slot, while the
 *	vCPU is stopped; KVM_SOC_F_DIRTY_RING); @target: the vCPU index;
 *	@arg: the most entries wanted (> 0); @arg2: KVM_SOC_MEM_TOKEN() of
 *	a host memory object with room for them from its start.  The host
 *	writes the entries it has not moved yet, oldest first, as struct
 *	kvm_soc_dirty_gfn there and marks them harvested in its KVM's ring
 *	(KVM_RESET_DIRTY_RINGS on the VM then re-arms their pages).
 *	@result: the number written (fewer than @arg: the ring has no more),
 *	-EINVAL for a vCPU without a ring or a bad @arg, -EFAULT for an
 *	object that cannot hold them.
 * @KVM_SOC_OP_NR: number of defined ops.
 */
enum kvm_soc_api_op {
	KVM_SOC_OP_HELLO		= 1,
	KVM_SOC_OP_SYS_IOCTL		= 2,
	KVM_SOC_OP_CREATE_VM		= 3,
	KVM_SOC_OP_DESTROY_VM		= 4,
	KVM_SOC_OP_VM_IOCTL		= 5,
	KVM_SOC_OP_CREATE_VCPU		= 6,
	KVM_SOC_OP_VCPU_IOCTL		= 7,
	KVM_SOC_OP_VCPU_KICK		= 8,
	KVM_SOC_OP_IRQFD		= 9,
	KVM_SOC_OP_IOEVENTFD		= 10,
	KVM_SOC_OP_MEM_ALLOC		= 11,
	KVM_SOC_OP_MEM_RANGES		= 12,
	KVM_SOC_OP_MEM_FREE		= 13,
	KVM_SOC_OP_MEM_WRITTEN		= 14,
	KVM_SOC_OP_DIRTY_RING		= 15,
	KVM_SOC_OP_NR
};

/**
 * struct kvm_soc_mem_range - part of a host memory object, as the SoC
 * reaches it (response payload of KVM_SOC_OP_MEM_RANGES).
 * @addr: the address the SoC's transport reaches it at (DMA address).
 * @len: bytes, a multiple of 4096; the ranges of an object add up to its
 *	size, in order.
 */
struct kvm_soc_mem_range {
	__le64 addr;
	__le64 len;
};

/**
 * struct kvm_soc_mem_pages - pages of a host memory object (request
 * payload of KVM_SOC_OP_MEM_WRITTEN).
 * @pgoff: the first page, in 4 KiB pages from the object's start.
 * @nr: pages, > 0.
 */
struct kvm_soc_mem_pages {
	__le64 pgoff;
	__le64 nr;
};

/**
 * struct kvm_soc_dirty_gfn - a dirty page as KVM_SOC_OP_DIRTY_RING moves
 * it: struct kvm_dirty_gfn without its flags.
 * @reserved: 0.
 * @slot: the memory slot, address space in the high 16 bits (KVM's).
 * @offset: the page within the slot.
 */
struct kvm_soc_dirty_gfn {
	__le32 reserved;
	__le32 slot;
	__le64 offset;
};

/* Pages one KVM_SOC_OP_MEM_WRITTEN may name (64 MiB). */
#define KVM_SOC_MEM_WRITTEN_MAX		16384

/* @arg2 of a memory slot with KVM_SOC_F_HOST_MEMORY: object and page. */
#define KVM_SOC_MEM_TOKEN(handle, pgoff) \
	((__u64)(__u32)(handle) | ((__u64)(pgoff) << 32))

/**
 * struct kvm_soc_api_hdr - header of an API slot, followed by the payload.
 * @state: enum kvm_soc_api_state.
 * @op: enum kvm_soc_api_op.
 * @request_id: chosen by the SoC, echoed by the host unchanged.
 * @target: object the op applies to (op specific; 0 for window-level ops).
 * @flags: op specific; must be zero for ops that define none.  The VM
 *	and vCPU ioctl ops define KVM_SOC_API_F_BULK (in windows that offer
 *	KVM_SOC_F_BULK_ARGS).
 * @req_len: bytes of request payload, <= slot size - header size.
 * @resp_len: bytes of response payload, <= slot size - header size.
 * @arg: op-specific scalar argument (e.g. an ioctl number).
 * @result: >= 0 on success (op specific), or a negative Linux errno.
 * @arg2: op-specific second argument: for KVM_SET_USER_MEMORY_REGION(2)
 *	in KVM_SOC_OP_VM_IOCTL, what names the region; for
 *	KVM_SOC_OP_MEM_RANGES, the first range; with KVM_SOC_API_F_BULK,
 *	the object (request) and the output bytes (response).
 * @reserved: must be zero.
 */
struct kvm_soc_api_hdr {
	__le32 state;
	__le32 op;
	__le64 request_id;
	__le32 target;
	__le32 flags;
	__le32 req_len;
	__le32 resp_len;
	__le64 arg;
	__le64 result;
	__le64 arg2;
	__le64 reserved;
};

/* &kvm_soc_api_hdr.flags of VM and vCPU ioctls: the bytes are in an object. */
#define KVM_SOC_API_F_BULK		(1U << 0)

/**
 * struct kvm_soc_hello - response payload of KVM_SOC_OP_HELLO.
 * @abi_version: the host's ABI version.
 * @reserved0: must be zero.
 * @host_features: same as the window's host_features.
 * @kvm_api_version: KVM_GET_API_VERSION of the host's KVM (12), or 0 when
 *	the host has no usable KVM.
 * @reserved: must be zero.
 */
struct kvm_soc_hello {
	__le32 abi_version;
	__le32 reserved0;
	__le64 host_features;
	__le32 kvm_api_version;
	__le32 reserved[11];
};

/**
 * struct kvm_soc_create_vm - request payload of KVM_SOC_OP_CREATE_VM.
 * @type: the KVM_CREATE_VM machine type argument.
 * @reserved0: must be zero.
 * @reserved: must be zero.
 */
struct kvm_soc_create_vm {
	__le32 type;
	__le32 reserved0;
	__le64 reserved[7];
};

/**
 * struct kvm_soc_vm_created - response payload of KVM_SOC_OP_CREATE_VM.
 * @window_id: the VM's window, to be mapped through the transport.
 * @max_vcpus: vCPUs the VM may have (without KVM_SOC_F_VCPU_WINDOWS,
 *	the IOREQ slots of its window).
 * @vm_api_slots: API slots for VM-level ops; without
 *	KVM_SOC_F_VCPU_WINDOWS vCPU n uses API slot @vm_api_slots + n.
 * @reserved: must be zero.
 */
struct kvm_soc_vm_created {
	__le32 window_id;
	__le32 max_vcpus;
	__le32 vm_api_slots;
	__le32 reserved[13];
};

/**
 * struct kvm_soc_vcpu_created - response payload of KVM_SOC_OP_CREATE_VCPU
 * with KVM_SOC_F_VCPU_WINDOWS.
 * @window_id: the vCPU's window, to be mapped through the transport: API
 *	slot 0 carries the vCPU's ops, IOREQ slot 0 its exits (with the
 *	vCPU index as &kvm_soc_ioreq_hdr.vcpu_id).  Freed with the VM.
 * @reserved: must be zero.
 */
struct kvm_soc_vcpu_created {
	__le32 window_id;
	__le32 reserved[3];
};

/*
 * IOREQ area: host -> SoC exits, one synchronous slot per vCPU (Xen's
 * layout).  The host writes the exit and sets READY; the SoC takes it
 * (INPROCESS), handles it and writes the completion (RESP_READY); the host
 * applies the completion and returns the slot to NONE.
 *
 *   NONE -> READY (host) -> INPROCESS (SoC) -> RESP_READY (SoC) -> NONE (host)
 *
 * @seq increases by one per exit; a slot whose state moves backwards or
 * whose seq is not the expected one fails the window.
 *
 * KVM runs a vCPU only while its user is inside KVM_RUN, and so does
 * kvm-soc: when the host creates a vCPU it posts a start exit (seq 1,
 * exit_reason KVM_EXIT_UNKNOWN, KVM_SOC_IOREQ_F_START) which the SoC takes
 * at once.  From then on the slot is INPROCESS whenever the vCPU is
 * stopped, and the SoC's KVM_RUN answers the outstanding exit (RESP_READY)
 * to run it again.  The completion carries the run head and exit union as
 * the SoC's userspace left them (PIO IN data, MMIO read data, ...).
 */

/**
 * enum kvm_soc_ioreq_flag_bits - &kvm_soc_ioreq_hdr.flags bits.
 * @KVM_SOC_IOREQ_F_START: host: the start exit of a new vCPU.
 * @KVM_SOC_IOREQ_F_EINTR: host: KVM_RUN returned -EINTR (a kick or
 *	immediate_exit); the SoC's KVM_RUN returns -EINTR too.
 * @KVM_SOC_IOREQ_F_ERROR: host: KVM_RUN failed; @data_len is 0 and the
 *	negative errno is in the first 4 bytes of @exit (little-endian).
 * @KVM_SOC_IOREQ_F_DIRTY: host: with any exit, the vCPU's dirty ring has
 *	entries not moved yet (KVM_SOC_F_DIRTY_RING): the SoC moves them
 *	(KVM_SOC_OP_DIRTY_RING) before its KVM_RUN returns.
 * @KVM_SOC_IOREQ_F_NR_BITS: number of defined bits.
 */
enum kvm_soc_ioreq_flag_bits {
	KVM_SOC_IOREQ_F_START		= 0,
	KVM_SOC_IOREQ_F_EINTR		= 1,
	KVM_SOC_IOREQ_F_ERROR		= 2,
	KVM_SOC_IOREQ_F_DIRTY		= 3,
	KVM_SOC_IOREQ_F_NR_BITS
};

#define KVM_SOC_IOREQ_F_VALID_MASK	((1U << KVM_SOC_IOREQ_F_NR_BITS) - 1)

/**
 * enum kvm_soc_ioreq_state - state of a per-vCPU IOREQ slot.
 * @KVM_SOC_IOREQ_NONE: owned by the host; no exit pending.
 * @KVM_SOC_IOREQ_READY: exit posted by the host.
 * @KVM_SOC_IOREQ_INPROCESS: exit taken by the SoC.
 * @KVM_SOC_IOREQ_RESP_READY: completion posted by the SoC.
 */
enum kvm_soc_ioreq_state {
	KVM_SOC_IOREQ_NONE		= 0,
	KVM_SOC_IOREQ_READY		= 1,
	KVM_SOC_IOREQ_INPROCESS		= 2,
	KVM_SOC_IOREQ_RESP_READY	= 3
};

#define KVM_SOC_IOREQ_RUN_SIZE		64
#define KVM_SOC_IOREQ_EXIT_SIZE		256
#define KVM_SOC_IOREQ_DATA_SIZE		4096

/**
 * struct kvm_soc_ioreq_hdr - header of a per-vCPU IOREQ slot.
 * @state: enum kvm_soc_ioreq_state.
 * @vcpu_id: the vCPU this slot belongs to (its index: the slot index, or
 *	in a vCPU window the vCPU's index).
 * @seq: exit sequence number, +1 per exit.
 * @exit_reason: KVM_EXIT_* of the guest architecture.
 * @flags: KVM_SOC_IOREQ_F_* bits (host to SoC); zero in completions.
 * @data_len: valid bytes in &kvm_soc_ioreq.data, <= KVM_SOC_IOREQ_DATA_SIZE.
 * @reserved0: must be zero.
 * @reserved: must be zero.
 */
struct kvm_soc_ioreq_hdr {
	__le32 state;
	__le32 vcpu_id;
	__le64 seq;
	__le32 exit_reason;
	__le32 flags;
	__le32 data_len;
	__le32 reserved0;
	__le64 reserved[4];
};

/**
 * struct kvm_soc_ioreq - one per-vCPU synchronous IOREQ slot.
 * @hdr: state and identity.
 * @run: opaque: the first bytes of the guest architecture's struct kvm_run
 *	(request_interrupt_window, immediate_exit, if_flag, flags, cr8,
 *	apic_base on x86), in that architecture's layout.
 * @exit: opaque: the exit union of struct kvm_run, guest-arch layout.
 * @data: PIO data that KVM keeps beside kvm_run (io.data_offset).
 */
struct kvm_soc_ioreq {
	struct kvm_soc_ioreq_hdr hdr;
	__u8 run[KVM_SOC_IOREQ_RUN_SIZE];
	__u8 exit[KVM_SOC_IOREQ_EXIT_SIZE];
	__u8 data[KVM_SOC_IOREQ_DATA_SIZE];
};

/*
 * Event area: interrupts and doorbells that need no answer.  Each event
 * channel i (assigned by KVM_SOC_OP_IRQFD or KVM_SOC_OP_IOEVENTFD) has a
 * free-running 64-bit counter written by the SoC only, soc_count[i], and
 * one written by the host only, host_count[i]:
 *
 *   irqfd        soc_count[i]   +1 per trigger (bursts may coalesce); the
 *                               host signals its KVM irqfd when it changed
 *   irqfd with   host_count[i]  +1 per resample (guest EOI of the level
 *   resample                    interrupt); the SoC signals the resamplefd
 *   ioeventfd    host_count[i]  +n for n guest writes, exactly; the SoC
 *                               adds the difference to its eventfd
 *   Hyper-V      host_count[i]  +n for n HvSignalEvent hypercalls on the
 *   eventfd                     connection, exactly; as ioeventfd
 *
 * A writer stores the counter, then advances its seq (soc_seq or
 * host_seq, in struct kvm_soc_event_hdr) with release semantics, then
 * rings the peer's doorbell for the VM.  A reader that sees a seq it has
 * not seen acquires it, then compares every counter of its assigned
 * channels with the value it saw last.  Readers keep those values
 * privately; a counter that moves by more than KVM_SOC_EVENT_MAX_DELTA
 * between two reads is a protocol violation.  No side ever waits for the
 * other, and no read-modify-write crosses the link.
 *
 * Layout at desc.event_offset: struct kvm_soc_event_hdr, then
 * __le64 soc_count[event_nr], then __le64 host_count[event_nr].
 */

#define KVM_SOC_EVENT_MAX_DELTA		(1ULL << 24)

/**
 * struct kvm_soc_event_hdr - header of a VM window's event area.
 * @soc_seq: SoC-written: advanced after any soc_count changed.
 * @reserved0: must be zero.
 * @host_seq: host-written: advanced after any host_count changed.
 * @reserved1: must be zero.
 */
struct kvm_soc_event_hdr {
	__le64 soc_seq;
	__le64 reserved0[7];
	__le64 host_seq;
	__le64 reserved1[7];
};

/**
 * enum kvm_soc_irqfd_flag_bits - &kvm_soc_irqfd.flags bits.
 * @KVM_SOC_IRQFD_F_DEASSIGN: deassign instead of assign.
 * @KVM_SOC_IRQFD_F_RESAMPLE: level-triggered with a resample channel
 *	(host_count of the same event channel).
 * @KVM_SOC_IRQFD_F_NR_BITS: number of defined bits.
 */
enum kvm_soc_irqfd_flag_bits {
	KVM_SOC_IRQFD_F_DEASSIGN	= 0,
	KVM_SOC_IRQFD_F_RESAMPLE	= 1,
	KVM_SOC_IRQFD_F_NR_BITS
};

/**
 * struct kvm_soc_irqfd - request payload of KVM_SOC_OP_IRQFD.
 * @gsi: the GSI the irqfd injects.
 * @flags: KVM_SOC_IRQFD_F_* bits.
 * @reserved: must be zero.
 */
struct kvm_soc_irqfd {
	__le32 gsi;
	__le32 flags;
	__le32 reserved[6];
};

/**
 * enum kvm_soc_ioeventfd_flag_bits - &kvm_soc_ioeventfd.flags bits.
 * @KVM_SOC_IOEVENTFD_F_DEASSIGN: deassign instead of assign.
 * @KVM_SOC_IOEVENTFD_F_PIO: @addr is a port, else guest-physical MMIO.
 * @KVM_SOC_IOEVENTFD_F_DATAMATCH: only writes of @datamatch count.
 * @KVM_SOC_IOEVENTFD_F_HYPERV: not a guest write but a Hyper-V connection
 *	(KVM_HYPERV_EVENTFD): the host's KVM counts the guest's HvSignalEvent
 *	hypercalls on connection @addr (at most KVM_HYPERV_CONN_ID_MASK);
 *	@datamatch and @len are zero and only F_DEASSIGN may be set too.
 *	A deassign names the connection alone, as KVM's does.
 * @KVM_SOC_IOEVENTFD_F_NR_BITS: number of defined bits.
 */
enum kvm_soc_ioeventfd_flag_bits {
	KVM_SOC_IOEVENTFD_F_DEASSIGN	= 0,
	KVM_SOC_IOEVENTFD_F_PIO		= 1,
	KVM_SOC_IOEVENTFD_F_DATAMATCH	= 2,
	KVM_SOC_IOEVENTFD_F_HYPERV	= 3,
	KVM_SOC_IOEVENTFD_F_NR_BITS
};

/**
 * struct kvm_soc_ioeventfd - request payload of KVM_SOC_OP_IOEVENTFD.
 * @addr: port or guest-physical address, or the Hyper-V connection id.
 * @datamatch: the value a write must have (KVM_SOC_IOEVENTFD_F_DATAMATCH).
 * @len: 0 (any length), 1, 2, 4 or 8.
 * @flags: KVM_SOC_IOEVENTFD_F_* bits.
 * @reserved: must be zero.
 */
struct kvm_soc_ioeventfd {
	__le64 addr;
	__le64 datamatch;
	__le32 len;
	__le32 flags;
	__le32 reserved[2];
};

/*
 * Posted-write ring: guest writes that need no answer (host -> SoC), in a
 * VM window: the writes the host KVM coalesced (KVM_REGISTER_COALESCED_MMIO
 * zones, MMIO and PIO).  The host produces at
 * &kvm_soc_host_status.posted_prod, the SoC consumes at
 * &kvm_soc_soc_status.posted_cons; both indices are free-running u32 and an
 * entry is at (index & (nr_entries - 1)).
 *
 * Order is KVM's: a VMM sees every coalesced write that came before an
 * exit when it handles that exit.  So the host moves what its KVM's
 * coalesced ring holds into this ring before it posts any exit (of any
 * vCPU), and the SoC moves every entry up to the producer index it sees
 * with a posted exit into its own userspace's coalesced ring before it
 * hands that exit over.  When that ring is full, the SoC hands the older
 * entries over first, one at a time, as the MMIO or PIO write exits KVM
 * makes of coalesced writes when its ring is full; the exit itself waits
 * in its IOREQ slot until then, and while such a write is out, no other
 * vCPU of the VM hands anything over.  The host moves writes only into a
 * VM window whose SoC accepted KVM_SOC_F_POSTED_WRITES.  When this ring is
 * full the host waits a while for room (host-kvm: 1 s); a SoC that has
 * not consumed by then only makes its own exits overtake writes, which
 * stay in the host KVM's ring and go with a later exit.
 */

/**
 * enum kvm_soc_posted_type - address space of a posted write.
 * @KVM_SOC_POSTED_PIO: port I/O.
 * @KVM_SOC_POSTED_MMIO: memory-mapped I/O.
 */
enum kvm_soc_posted_type {
	KVM_SOC_POSTED_PIO		= 0,
	KVM_SOC_POSTED_MMIO		= 1
};

/**
 * struct kvm_soc_posted_write - one posted-write ring entry.
 * @addr: guest physical address or port.
 * @data: the value written, little-endian, low @len bytes valid.
 * @vcpu_id: the vCPU whose exit moved it (KVM's coalesced ring does not
 *	say which vCPU wrote).
 * @len: 1 to 8 for MMIO; 1, 2 or 4 for PIO.
 * @type: enum kvm_soc_posted_type.
 * @reserved0: must be zero.
 * @seq: producer index of this entry (lets the consumer detect a stale
 *	or torn entry).
 * @reserved1: must be zero.
 */
struct kvm_soc_posted_write {
	__le64 addr;
	__le64 data;
	__le32 vcpu_id;
	__u8 len;
	__u8 type;
	__le16 reserved0;
	__le32 seq;
	__le32 reserved1;
};

/* ------------------------------------------------------------------ */
/* ioctls that /dev/kvm-soc adds to KVM's ABI                          */
/* ------------------------------------------------------------------ */

/*
 * 0xB9 0x80-0x9F (free in Documentation/userspace-api/ioctl/ioctl-number.rst;
 * 0xAF is vhost's); 0xAE is KVM's and /dev/kvm-soc answers KVM's own ioctls
 * with KVM's numbers.
 */
#define KVM_SOC_IO			0xB9

/**
 * KVM_SOC_GET_ABI_VERSION - _IO, on /dev/kvm-soc.  Returns
 * KVM_SOC_ABI_VERSION as negotiated with the host, or -ENXIO while no host
 * is attached.
 */
#define KVM_SOC_GET_ABI_VERSION		_IO(KVM_SOC_IO, 0x80)

#define KVM_SOC_TRANSPORT_NAME_LEN	16

/**
 * struct kvm_soc_info - argument of KVM_SOC_GET_INFO.
 * @argsz: in: sizeof(struct kvm_soc_info) as the caller knows it.
 * @flags: in: must be zero.
 * @abi_version: out: negotiated ABI version.
 * @host_abi_version: out: the host's ABI version.
 * @features: out: negotiated KVM_SOC_F_* bits.
 * @host_heartbeat: out: the host's heartbeat counter, read now.
 * @kvm_api_version: out: the host KVM's API version.
 * @reserved0: out: zero.
 * @transport: out: NUL-terminated transport name ("loop", "ivshmem", ...).
 * @reserved: out: zero.
 */
struct kvm_soc_info {
	__u32 argsz;
	__u32 flags;
	__u32 abi_version;
	__u32 host_abi_version;
	__u64 features;
	__u64 host_heartbeat;
	__u32 kvm_api_version;
	__u32 reserved0;
	char transport[KVM_SOC_TRANSPORT_NAME_LEN];
	__u64 reserved[5];
};

/**
 * KVM_SOC_GET_INFO - _IOWR, on /dev/kvm-soc: what the SoC knows of its
 * host.  -EINVAL for an argsz smaller than the v0 struct or non-zero flags;
 * -ENXIO while no host is attached.
 */
#define KVM_SOC_GET_INFO		_IOWR(KVM_SOC_IO, 0x81, struct kvm_soc_info)

/**
 * struct kvm_soc_create_memory - argument of KVM_SOC_CREATE_MEMORY.
 * @argsz: sizeof(struct kvm_soc_create_memory).
 * @flags: must be zero.
 * @size: bytes, a multiple of the page size.
 * @reserved: must be zero.
 */
struct kvm_soc_create_memory {
	__u32 argsz;
	__u32 flags;
	__u64 size;
	__u64 reserved[2];
};

/**
 * KVM_SOC_CREATE_MEMORY - _IOW, on /dev/kvm-soc: create a guest-memory
 * object reachable by the host.  Returns a new fd (O_CLOEXEC) that can be
 * mmap()ed MAP_SHARED by this and other SoC processes (vhost-user backends)
 * and whose mappings are valid for KVM_SET_USER_MEMORY_REGION.  -EINVAL
 * for a bad argsz, flags or size; -EOPNOTSUPP on a transport where the host
 * can reach no SoC-side memory and allocates none.  With host-allocated
 * memory (KVM_SOC_F_HOST_MEMORY), the host's errors (-ENOMEM, -E2BIG).
 */
#define KVM_SOC_CREATE_MEMORY		_IOW(KVM_SOC_IO, 0x82, struct kvm_soc_create_memory)

/**
 * struct kvm_soc_vm_stats - argument of KVM_SOC_GET_VM_STATS.
 * @argsz: in: sizeof(struct kvm_soc_vm_stats) as the caller knows it.
 * @flags: in: must be zero.
 * @exits: out: exits that crossed the IOREQ ring, all vCPUs (each is one
 *	return of KVM_RUN to this VM's userspace).
 * @exits_io: out: of those, KVM_EXIT_IO.
 * @exits_mmio: out: of those, KVM_EXIT_MMIO.
 * @exits_intr: out: of those, KVM_RUN returning -EINTR (kicks, signals).
 * @irqfd_triggers: out: irqfd signals forwarded to the host.
 * @irqfd_resamples: out: resamples delivered to resamplefds.
 * @ioeventfd_kicks: out: guest writes delivered to ioeventfds.
 * @poll_hits: out: KVM_RUNs whose exit came while they polled for it
 *	(module parameters poll_ns, poll_max_ns), so they did not sleep.
 * @poll_misses: out: the other KVM_RUNs that waited for an exit (they
 *	slept, or their window was empty).
 * @reserved: out: zero.
 */
struct kvm_soc_vm_stats {
	__u32 argsz;
	__u32 flags;
	__u64 exits;
	__u64 exits_io;
	__u64 exits_mmio;
	__u64 exits_intr;
	__u64 irqfd_triggers;
	__u64 irqfd_resamples;
	__u64 ioeventfd_kicks;
	__u64 poll_hits;
	__u64 poll_misses;
	__u64 reserved[6];
};

/**
 * KVM_SOC_GET_VM_STATS - _IOWR, on a /dev/kvm-soc VM fd: counters of the
 * VM's traffic since it was created.  -EINVAL for an argsz smaller than
 * the v0 struct or non-zero flags.
 */
#define KVM_SOC_GET_VM_STATS		_IOWR(KVM_SOC_IO, 0x83, struct kvm_soc_vm_stats)

#endif /* _UAPI_LINUX_KVM_SOC_H */
