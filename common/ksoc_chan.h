/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Window, API-slot, IOREQ-slot and ring helpers shared by host-kvm, soc-kvm
 * and the userspace tests.  Built into each module (not exported) and into
 * userspace with ksoc_compat.h.
 *
 * Rules every helper follows (see docs/channel-protocol.md):
 *  - the window is shared memory the peer may rewrite at any time: read a
 *    state word with acquire, copy what it guards out with ksoc_win_read()
 *    (each byte fetched once), then validate the copy; never act on the
 *    window in place;
 *  - a side keeps its own indices and states privately and only compares
 *    the peer's values against them;
 *  - payload first, then a release store of the state word or index;
 *  - malformed peer input returns -EPROTO, which the caller turns into a
 *    failed window; nothing here logs or crashes.
 */
#ifndef _KSOC_CHAN_H
#define _KSOC_CHAN_H

#include "ksoc_compat.h"
#include <linux/kvm_soc.h>

/*
 * The window access model.  A window is memory the peer may rewrite at any
 * moment: vmalloc memory (loop), a write-back memremap() of a BAR
 * (ivshmem), a coherent buffer a DMA peer writes.  Every byte this side
 * reads from it goes through ksoc_win_read(), which fetches each word
 * exactly once (READ_ONCE) into a private copy; only the copy is then
 * validated and used, so the compiler can neither re-read a field after
 * it was checked nor tear or merge the fetches (Xen's XSA-155 and
 * RING_COPY_REQUEST, vringh's getu16/copydesc).  Bulk writes go through
 * ksoc_win_write() (WRITE_ONCE per word) for the same reason in the other
 * direction: the peer may be reading while this side writes.  State words
 * and indices keep their own smp_load_acquire()/smp_store_release().
 * A transport whose window could only be reached as __iomem would map it
 * with memremap() or change these two helpers, and nothing else.
 */
static inline bool ksoc_win_words(const void *a, const void *b)
{
	return !(((unsigned long)a | (unsigned long)b) & (sizeof(u64) - 1));
}

/* Copy @len bytes out of the window at @src, each fetched once. */
static inline void ksoc_win_read(void *dst, const void *src, size_t len)
{
	const u8 *s = src;
	u8 *d = dst;

	if (ksoc_win_words(d, s))
		for (; len >= sizeof(u64); len -= sizeof(u64)) {
			*(u64 *)d = READ_ONCE(*(const u64 *)s);
			d += sizeof(u64);
			s += sizeof(u64);
		}
	for (; len; len--)
		*d++ = READ_ONCE(*s++);
}

/* Copy @len bytes into the window at @dst, each stored once. */
static inline void ksoc_win_write(void *dst, const void *src, size_t len)
{
	const u8 *s = src;
	u8 *d = dst;

	if (ksoc_win_words(d, s))
		for (; len >= sizeof(u64); len -= sizeof(u64)) {
			WRITE_ONCE(*(u64 *)d, *(const u64 *)s);
			d += sizeof(u64);
			s += sizeof(u64);
		}
	for (; len; len--)
		WRITE_ONCE(*d++, *s++);
}

/**
 * struct ksoc_layout - validated private copy of a window's description.
 * @window_id: &kvm_soc_window_desc.window_id.
 * @window_size: size of the window in bytes.
 * @host_features: features the host offers.
 * @api_offset: offset of the API slots.
 * @api_nr_slots: number of API slots.
 * @api_slot_size: bytes per API slot.
 * @ioreq_offset: offset of the IOREQ slots.
 * @ioreq_nr_slots: number of IOREQ slots.
 * @ioreq_slot_size: bytes per IOREQ slot.
 * @posted_offset: offset of the posted-write entries.
 * @posted_nr_entries: number of posted-write entries (0: none).
 * @event_offset: offset of the event area.
 * @event_nr: number of event channels (0: none).
 */
struct ksoc_layout {
	u32 window_id;
	u64 window_size;
	u64 host_features;
	u32 api_offset;
	u32 api_nr_slots;
	u32 api_slot_size;
	u32 ioreq_offset;
	u32 ioreq_nr_slots;
	u32 ioreq_slot_size;
	u32 posted_offset;
	u32 posted_nr_entries;
	u32 event_offset;
	u32 event_nr;
};

#define KSOC_API_MAX_SLOTS	256
#define KSOC_IOREQ_MAX_SLOTS	1024
#define KSOC_POSTED_MAX		65536
#define KSOC_WINDOW_MAX		BIT_ULL(32)
#define KSOC_EVENT_MAX		4096

/* Bytes of an event area of @nr channels: header, soc_count, host_count. */
static inline u64 ksoc_event_area_size(u32 nr)
{
	return sizeof(struct kvm_soc_event_hdr) + 2ULL * nr * sizeof(__le64);
}

int ksoc_layout_compute(struct ksoc_layout *l, u32 window_id,
			u32 api_nr_slots, u32 api_slot_size, u32 nr_vcpus,
			u32 posted_nr_entries, u64 host_features);
int ksoc_layout_check(const struct ksoc_layout *l);
int ksoc_layout_add_events(struct ksoc_layout *l, u32 event_nr);
void ksoc_window_format(void *win, const struct ksoc_layout *l);
int ksoc_window_parse(const void *win, u64 window_size,
		      struct ksoc_layout *l);

static inline struct kvm_soc_window_hdr *ksoc_hdr(void *win)
{
	return win;
}

static inline struct kvm_soc_api_hdr *
ksoc_api_slot(void *win, const struct ksoc_layout *l, u32 i)
{
	return (struct kvm_soc_api_hdr *)((u8 *)win + l->api_offset +
					  (u64)i * l->api_slot_size);
}

static inline u32 ksoc_api_payload_max(const struct ksoc_layout *l)
{
	return l->api_slot_size - sizeof(struct kvm_soc_api_hdr);
}

static inline struct kvm_soc_ioreq *
ksoc_ioreq_slot(void *win, const struct ksoc_layout *l, u32 i)
{
	return (struct kvm_soc_ioreq *)((u8 *)win + l->ioreq_offset +
					(u64)i * l->ioreq_slot_size);
}

static inline struct kvm_soc_event_hdr *
ksoc_event_hdr(void *win, const struct ksoc_layout *l)
{
	return (struct kvm_soc_event_hdr *)((u8 *)win + l->event_offset);
}

/* soc_count[]: written by the SoC only. */
static inline __le64 *ksoc_event_soc_count(void *win, const struct ksoc_layout *l)
{
	return (__le64 *)(ksoc_event_hdr(win, l) + 1);
}

/* host_count[]: written by the host only. */
static inline __le64 *ksoc_event_host_count(void *win, const struct ksoc_layout *l)
{
	return ksoc_event_soc_count(win, l) + l->event_nr;
}

/* Event area: each side writes its own counters and seq, reads the peer's. */
void ksoc_event_publish(void *win, const struct ksoc_layout *l, bool host,
			u32 i, u64 count, u64 seq);
u64 ksoc_event_peer_seq(void *win, const struct ksoc_layout *l, bool host);
int ksoc_event_peer_count(void *win, const struct ksoc_layout *l, bool host,
			  u32 i, u64 seen, bool exact, u64 *count);

/**
 * struct ksoc_api_msg - private copy of an API slot header.
 * @op: enum kvm_soc_api_op.
 * @request_id: request id.
 * @target: op target.
 * @flags: op flags.
 * @len: request payload length (requests) or response length (responses).
 * @arg: scalar argument.
 * @arg2: second scalar argument.
 * @result: result (responses only).
 */
struct ksoc_api_msg {
	u32 op;
	u64 request_id;
	u32 target;
	u32 flags;
	u32 len;
	u64 arg;
	u64 arg2;
	s64 result;
};

/**
 * struct ksoc_stats_read - request payload of KVM_GET_STATS_FD, sent as a
 *	VM op (KVM_SOC_OP_VM_IOCTL) to read the host KVM's stats file of the
 *	VM or of one vCPU (docs/channel-protocol.md).  The response payload
 *	is the bytes read, at most @len (fewer at the file's end).
 * @offset: file offset.
 * @len: bytes wanted, at most a payload.
 * @who: 0 for the VM's stats, a vCPU's index + 1 for its own.
 */
struct ksoc_stats_read {
	__le64 offset;
	__le32 len;
	__le32 who;
};

/* SoC side */
int ksoc_api_post(void *win, const struct ksoc_layout *l, u32 slot,
		  const struct ksoc_api_msg *m, const void *payload);
int ksoc_api_collect(void *win, const struct ksoc_layout *l, u32 slot,
		     u64 request_id, struct ksoc_api_msg *m,
		     void *buf, u32 cap);
/* host side */
int ksoc_api_take(void *win, const struct ksoc_layout *l, u32 slot,
		  struct ksoc_api_msg *m, void *buf, u32 cap);
int ksoc_api_complete(void *win, const struct ksoc_layout *l, u32 slot,
		      const struct ksoc_api_msg *m, const void *payload);

/**
 * struct ksoc_ioreq_msg - private copy of an IOREQ slot.
 * @vcpu_id: the slot's vCPU.
 * @seq: exit sequence number.
 * @exit_reason: KVM_EXIT_*.
 * @flags: KVM_SOC_IOREQ_F_* (exits only).
 * @data_len: valid bytes of @data.
 * @run: opaque kvm_run head.
 * @exit: opaque kvm_run exit union.
 * @data: PIO data.
 */
struct ksoc_ioreq_msg {
	u32 vcpu_id;
	u64 seq;
	u32 exit_reason;
	u32 flags;
	u32 data_len;
	u8 run[KVM_SOC_IOREQ_RUN_SIZE];
	u8 exit[KVM_SOC_IOREQ_EXIT_SIZE];
	u8 data[KVM_SOC_IOREQ_DATA_SIZE];
};

/* host side */
int ksoc_ioreq_post(struct kvm_soc_ioreq *s, const struct ksoc_ioreq_msg *m);
int ksoc_ioreq_finish(struct kvm_soc_ioreq *s, u32 vcpu_id, u64 seq,
		      struct ksoc_ioreq_msg *m);
/* SoC side */
int ksoc_ioreq_take(struct kvm_soc_ioreq *s, u32 vcpu_id, u64 seq,
		    struct ksoc_ioreq_msg *m);
int ksoc_ioreq_respond(struct kvm_soc_ioreq *s, const struct ksoc_ioreq_msg *m);

/**
 * struct ksoc_ring - one side's view of a single-producer single-consumer
 * ring in a window.
 * @entries: first entry, in the window.
 * @nr: number of entries, a power of two.
 * @esize: bytes per entry.
 * @prod: producer index, in the window (written by the producer only).
 * @cons: consumer index, in the window (written by the consumer only).
 * @idx: this side's own index, kept privately: the producer's next
 *	index for a producer, the consumer's next index for a consumer.
 */
struct ksoc_ring {
	void *entries;
	u32 nr;
	u32 esize;
	__le32 *prod;
	__le32 *cons;
	u32 idx;
};

int ksoc_ring_init(struct ksoc_ring *r, void *entries, u32 nr, u32 esize,
		   __le32 *prod, __le32 *cons, bool producer);
int ksoc_ring_produce(struct ksoc_ring *r, const void *e);
int ksoc_ring_consume(struct ksoc_ring *r, void *e);

int ksoc_posted_produce(struct ksoc_ring *r, u64 addr, u64 data, u32 vcpu_id,
			u8 len, u8 type);
int ksoc_posted_consume(struct ksoc_ring *r, struct kvm_soc_posted_write *w);

#endif /* _KSOC_CHAN_H */
