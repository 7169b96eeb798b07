// SPDX-License-Identifier: GPL-2.0
/*
 * Channel helpers shared by host-kvm, soc-kvm and the userspace tests.
 *
 * Memory ordering, for every structure in the window:
 *   writer: fill payload and header fields -> smp_store_release(state/index)
 *   reader: smp_load_acquire(state/index) -> ksoc_win_read() out ->
 *           validate the copy
 * Every other access to the window goes through ksoc_win_read() and
 * ksoc_win_write() (ksoc_chan.h: each byte fetched or stored once).
 * Each acquire below pairs with the release of the peer's writer named in
 * its comment.
 */
#include "ksoc_chan.h"

#define KSOC_HDR_AREA	KVM_SOC_AREA_ALIGN

static u64 ksoc_align_up(u64 v, u64 a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool ksoc_area_ok(u64 off, u64 len, u64 window_size)
{
	if (off % KVM_SOC_AREA_ALIGN)
		return false;
	if (off < KSOC_HDR_AREA)
		return false;
	return len <= window_size && off <= window_size - len;
}

static bool ksoc_overlap(u64 a, u64 alen, u64 b, u64 blen)
{
	if (!alen || !blen)
		return false;
	return a < b + blen && b < a + alen;
}

/**
 * ksoc_layout_check - validate a layout (ours or one copied from a peer).
 * @l: the layout.
 *
 * Return: 0, or -EPROTO when any area is misaligned, out of bounds,
 * overlapping, or sized outside the limits of this ABI version.
 */
int ksoc_layout_check(const struct ksoc_layout *l)
{
	u64 api_len, ioreq_len, posted_len, event_len;

	if (l->window_size < 2 * KSOC_HDR_AREA ||
	    l->window_size > KSOC_WINDOW_MAX ||
	    l->window_size % KVM_SOC_AREA_ALIGN)
		return -EPROTO;

	if (!l->api_nr_slots || l->api_nr_slots > KSOC_API_MAX_SLOTS)
		return -EPROTO;
	if (l->api_slot_size < 2 * KVM_SOC_LINE ||
	    l->api_slot_size > (1U << 20) ||
	    l->api_slot_size % KVM_SOC_LINE)
		return -EPROTO;
	api_len = (u64)l->api_nr_slots * l->api_slot_size;
	if (!ksoc_area_ok(l->api_offset, api_len, l->window_size))
		return -EPROTO;

	if (l->ioreq_nr_slots > KSOC_IOREQ_MAX_SLOTS)
		return -EPROTO;
	if (l->ioreq_nr_slots) {
		if (l->ioreq_slot_size < sizeof(struct kvm_soc_ioreq) ||
		    l->ioreq_slot_size > (1U << 16) ||
		    l->ioreq_slot_size % KVM_SOC_LINE)
			return -EPROTO;
		ioreq_len = (u64)l->ioreq_nr_slots * l->ioreq_slot_size;
		if (!ksoc_area_ok(l->ioreq_offset, ioreq_len, l->window_size))
			return -EPROTO;
	} else {
		if (l->ioreq_offset || l->ioreq_slot_size)
			return -EPROTO;
		ioreq_len = 0;
	}

	if (l->posted_nr_entries) {
		if (!is_power_of_2(l->posted_nr_entries) ||
		    l->posted_nr_entries > KSOC_POSTED_MAX)
			return -EPROTO;
		posted_len = (u64)l->posted_nr_entries *
			     sizeof(struct kvm_soc_posted_write);
		if (!ksoc_area_ok(l->posted_offset, posted_len, l->window_size))
			return -EPROTO;
	} else {
		if (l->posted_offset)
			return -EPROTO;
		posted_len = 0;
	}

	if (l->event_nr) {
		if (l->event_nr % 8 || l->event_nr > KSOC_EVENT_MAX)
			return -EPROTO;
		event_len = ksoc_event_area_size(l->event_nr);
		if (!ksoc_area_ok(l->event_offset, event_len, l->window_size))
			return -EPROTO;
	} else {
		if (l->event_offset)
			return -EPROTO;
		event_len = 0;
	}

	if (ksoc_overlap(l->api_offset, api_len, l->ioreq_offset, ioreq_len) ||
	    ksoc_overlap(l->api_offset, api_len, l->posted_offset, posted_len) ||
	    ksoc_overlap(l->ioreq_offset, ioreq_len, l->posted_offset, posted_len) ||
	    ksoc_overlap(l->event_offset, event_len, l->api_offset, api_len) ||
	    ksoc_overlap(l->event_offset, event_len, l->ioreq_offset, ioreq_len) ||
	    ksoc_overlap(l->event_offset, event_len, l->posted_offset, posted_len))
		return -EPROTO;
	return 0;
}

/**
 * ksoc_layout_add_events - give a computed layout an event area (host side).
 * @l: a layout from ksoc_layout_compute(); the area goes at its end.
 * @event_nr: number of event channels, a multiple of 8.
 *
 * Return: 0 or -EINVAL.
 */
int ksoc_layout_add_events(struct ksoc_layout *l, u32 event_nr)
{
	u64 off = l->window_size;

	if (!event_nr || event_nr % 8 || event_nr > KSOC_EVENT_MAX ||
	    l->event_nr)
		return -EINVAL;
	l->event_offset = off;
	l->event_nr = event_nr;
	off = ksoc_align_up(off + ksoc_event_area_size(event_nr),
			    KVM_SOC_AREA_ALIGN);
	if (off > KSOC_WINDOW_MAX)
		return -EINVAL;
	l->window_size = off;
	return ksoc_layout_check(l) ? -EINVAL : 0;
}

/**
 * ksoc_layout_compute - lay out a window (host side).
 * @l: result.
 * @window_id: 0 for the control window.
 * @api_nr_slots: number of API slots.
 * @api_slot_size: bytes per API slot (rounded up to KVM_SOC_LINE).
 * @nr_vcpus: number of IOREQ slots.
 * @posted_nr_entries: posted-write ring size (0 or a power of two).
 * @host_features: KVM_SOC_F_* offered.
 *
 * Return: 0 or -EINVAL for parameters this ABI cannot express.
 */
int ksoc_layout_compute(struct ksoc_layout *l, u32 window_id,
			u32 api_nr_slots, u32 api_slot_size, u32 nr_vcpus,
			u32 posted_nr_entries, u64 host_features)
{
	u64 off = KSOC_HDR_AREA;

	memset(l, 0, sizeof(*l));
	l->window_id = window_id;
	l->host_features = host_features;

	l->api_offset = off;
	l->api_nr_slots = api_nr_slots;
	l->api_slot_size = ksoc_align_up(api_slot_size, KVM_SOC_LINE);
	off = ksoc_align_up(off + (u64)api_nr_slots * l->api_slot_size,
			    KVM_SOC_AREA_ALIGN);

	if (nr_vcpus) {
		l->ioreq_offset = off;
		l->ioreq_nr_slots = nr_vcpus;
		l->ioreq_slot_size = ksoc_align_up(sizeof(struct kvm_soc_ioreq),
						   KVM_SOC_LINE);
		off = ksoc_align_up(off + (u64)nr_vcpus * l->ioreq_slot_size,
				    KVM_SOC_AREA_ALIGN);
	}
	if (posted_nr_entries) {
		l->posted_offset = off;
		l->posted_nr_entries = posted_nr_entries;
		off = ksoc_align_up(off + (u64)posted_nr_entries *
				    sizeof(struct kvm_soc_posted_write),
				    KVM_SOC_AREA_ALIGN);
	}
	if (off > KSOC_WINDOW_MAX)
		return -EINVAL;
	l->window_size = off;
	return ksoc_layout_check(l) ? -EINVAL : 0;
}

/**
 * ksoc_window_format - write a fresh window (host side).
 * @win: the window, at least @l->window_size bytes.
 * @l: a layout from ksoc_layout_compute().
 *
 * Zeroes the window (every slot FREE/NONE, both peers DOWN, rings empty)
 * and writes the description.  The caller publishes it by storing
 * KVM_SOC_PEER_UP in the host status with release semantics.
 */
void ksoc_window_format(void *win, const struct ksoc_layout *l)
{
	struct kvm_soc_window_desc *d = &ksoc_hdr(win)->desc;

	memset(win, 0, l->window_size);
	d->magic = cpu_to_le32(KVM_SOC_WINDOW_MAGIC);
	d->abi_version = cpu_to_le32(KVM_SOC_ABI_VERSION);
	d->hdr_size = cpu_to_le32(sizeof(struct kvm_soc_window_hdr));
	d->window_id = cpu_to_le32(l->window_id);
	d->window_size = cpu_to_le64(l->window_size);
	d->host_features = cpu_to_le64(l->host_features);
	d->api_offset = cpu_to_le32(l->api_offset);
	d->api_nr_slots = cpu_to_le32(l->api_nr_slots);
	d->api_slot_size = cpu_to_le32(l->api_slot_size);
	d->ioreq_offset = cpu_to_le32(l->ioreq_offset);
	d->ioreq_nr_slots = cpu_to_le32(l->ioreq_nr_slots);
	d->ioreq_slot_size = cpu_to_le32(l->ioreq_slot_size);
	d->posted_offset = cpu_to_le32(l->posted_offset);
	d->posted_nr_entries = cpu_to_le32(l->posted_nr_entries);
	d->event_offset = cpu_to_le32(l->event_offset);
	d->event_nr = cpu_to_le32(l->event_nr);
}

/**
 * ksoc_window_parse - copy a window's description out and validate it.
 * @win: the window.
 * @window_size: the size the transport actually provides.
 * @l: result.
 *
 * Return: 0; -EPROTONOSUPPORT for another ABI version; -EPROTO for a bad
 * magic, header size or layout.
 */
int ksoc_window_parse(const void *win, u64 window_size, struct ksoc_layout *l)
{
	struct kvm_soc_window_desc d;
	unsigned int i;

	if (window_size < sizeof(struct kvm_soc_window_hdr))
		return -EPROTO;
	ksoc_win_read(&d, win, sizeof(d));
	if (le32_to_cpu(d.magic) != KVM_SOC_WINDOW_MAGIC)
		return -EPROTO;
	if (le32_to_cpu(d.abi_version) != KVM_SOC_ABI_VERSION)
		return -EPROTONOSUPPORT;
	if (le32_to_cpu(d.hdr_size) != sizeof(struct kvm_soc_window_hdr))
		return -EPROTO;
	if (le64_to_cpu(d.window_size) != window_size)
		return -EPROTO;
	for (i = 0; i < ARRAY_SIZE(d.reserved); i++)
		if (d.reserved[i])
			return -EPROTO;

	l->window_id = le32_to_cpu(d.window_id);
	l->window_size = le64_to_cpu(d.window_size);
	l->host_features = le64_to_cpu(d.host_features);
	l->api_offset = le32_to_cpu(d.api_offset);
	l->api_nr_slots = le32_to_cpu(d.api_nr_slots);
	l->api_slot_size = le32_to_cpu(d.api_slot_size);
	l->ioreq_offset = le32_to_cpu(d.ioreq_offset);
	l->ioreq_nr_slots = le32_to_cpu(d.ioreq_nr_slots);
	l->ioreq_slot_size = le32_to_cpu(d.ioreq_slot_size);
	l->posted_offset = le32_to_cpu(d.posted_offset);
	l->posted_nr_entries = le32_to_cpu(d.posted_nr_entries);
	l->event_offset = le32_to_cpu(d.event_offset);
	l->event_nr = le32_to_cpu(d.event_nr);
	return ksoc_layout_check(l);
}

static void ksoc_api_write_hdr(struct kvm_soc_api_hdr *h,
			       const struct ksoc_api_msg *m, bool response)
{
	WRITE_ONCE(h->op, cpu_to_le32(m->op));
	WRITE_ONCE(h->request_id, cpu_to_le64(m->request_id));
	WRITE_ONCE(h->target, cpu_to_le32(m->target));
	WRITE_ONCE(h->flags, cpu_to_le32(m->flags));
	WRITE_ONCE(h->req_len, cpu_to_le32(response ? 0 : m->len));
	WRITE_ONCE(h->resp_len, cpu_to_le32(response ? m->len : 0));
	WRITE_ONCE(h->arg, cpu_to_le64(m->arg));
	WRITE_ONCE(h->result, cpu_to_le64(response ? (u64)m->result : 0));
	WRITE_ONCE(h->arg2, cpu_to_le64(m->arg2));
	WRITE_ONCE(h->reserved, 0);
}

/**
 * ksoc_api_post - post a request in an API slot (SoC side).
 * @win: window.
 * @l: its validated layout.
 * @slot: a slot the caller owns (privately known to be FREE).
 * @m: the request; @m->len bytes of @payload follow the header.
 * @payload: request payload, may be NULL when @m->len is 0.
 *
 * Return: 0, or -EINVAL for a slot or length out of range.
 */
int ksoc_api_post(void *win, const struct ksoc_layout *l, u32 slot,
		  const struct ksoc_api_msg *m, const void *payload)
{
	struct kvm_soc_api_hdr *h;

	if (slot >= l->api_nr_slots || m->len > ksoc_api_payload_max(l))
		return -EINVAL;
	h = ksoc_api_slot(win, l, slot);
	if (m->len)
		ksoc_win_write(h + 1, payload, m->len);
	ksoc_api_write_hdr(h, m, false);
	/* Pairs with the acquire in ksoc_api_take(). */
	smp_store_release(&h->state, cpu_to_le32(KVM_SOC_API_REQ));
	return 0;
}

/**
 * ksoc_api_collect - collect the response to a posted request (SoC side).
 * @win: window.
 * @l: its validated layout.
 * @slot: the slot the request was posted in.
 * @request_id: the id the request carried.
 * @m: the response header, copied out.
 * @buf: receives the response payload, or NULL to discard it.
 * @cap: bytes available at @buf (ignored when discarding).
 *
 * On success the slot is FREE again and owned by the caller.
 *
 * Return: 0; -EAGAIN while the host has not answered; -EPROTO for a state
 * the SoC never wrote, a foreign request id, a bad length or non-zero
 * reserved fields.
 */
int ksoc_api_collect(void *win, const struct ksoc_layout *l, u32 slot,
		     u64 request_id, struct ksoc_api_msg *m,
		     void *buf, u32 cap)
{
	struct kvm_soc_api_hdr *h, c;
	u32 state, len;

	if (slot >= l->api_nr_slots)
		return -EINVAL;
	h = ksoc_api_slot(win, l, slot);
	/* Pairs with the release in ksoc_api_complete(). */
	state = le32_to_cpu(smp_load_acquire(&h->state));
	if (state == KVM_SOC_API_REQ || state == KVM_SOC_API_BUSY)
		return -EAGAIN;
	if (state != KVM_SOC_API_RESP)
		return -EPROTO;

	ksoc_win_read(&c, h, sizeof(c));
	len = le32_to_cpu(c.resp_len);
	if (le64_to_cpu(c.request_id) != request_id || c.req_len ||
	    c.reserved ||
	    len > ksoc_api_payload_max(l) || (buf && len > cap))
		return -EPROTO;
	if (len && buf)
		ksoc_win_read(buf, h + 1, len);

	m->op = le32_to_cpu(c.op);
	m->request_id = request_id;
	m->target = le32_to_cpu(c.target);
	m->flags = le32_to_cpu(c.flags);
	m->len = len;
	m->arg = le64_to_cpu(c.arg);
	m->arg2 = le64_to_cpu(c.arg2);
	m->result = (s64)le64_to_cpu(c.result);
	/* The copies above complete before the slot can be reused. */
	smp_store_release(&h->state, cpu_to_le32(KVM_SOC_API_FREE));
	return 0;
}

/**
 * ksoc_api_take - take a posted request out of an API slot (host side).
 * @win: window.
 * @l: its validated layout.
 * @slot: slot index.
 * @m: the request header, copied out.
 * @buf: receives the request payload.
 * @cap: bytes available at @buf.
 *
 * On success the slot is BUSY and the caller must ksoc_api_complete() it.
 * A well-formed request with an unknown op is not a protocol error: the
 * caller answers it with an error result.
 *
 * Return: 0; -EAGAIN when the slot holds no request; -EPROTO for an
 * unknown state, a bad length or non-zero reserved fields.
 */
int ksoc_api_take(void *win, const struct ksoc_layout *l, u32 slot,
		  struct ksoc_api_msg *m, void *buf, u32 cap)
{
	struct kvm_soc_api_hdr *h, c;
	u32 state, len;

	if (slot >= l->api_nr_slots)
		return -EINVAL;
	h = ksoc_api_slot(win, l, slot);
	/* Pairs with the release in ksoc_api_post(). */
	state = le32_to_cpu(smp_load_acquire(&h->state));
	if (state == KVM_SOC_API_FREE || state == KVM_SOC_API_BUSY ||
	    state == KVM_SOC_API_RESP)
		return -EAGAIN;
	if (state != KVM_SOC_API_REQ)
		return -EPROTO;

	ksoc_win_read(&c, h, sizeof(c));
	len = le32_to_cpu(c.req_len);
	if (c.resp_len || c.result || c.reserved ||
	    len > ksoc_api_payload_max(l) || len > cap)
		return -EPROTO;
	if (len)
		ksoc_win_read(buf, h + 1, len);

	m->op = le32_to_cpu(c.op);
	m->request_id = le64_to_cpu(c.request_id);
	m->target = le32_to_cpu(c.target);
	m->flags = le32_to_cpu(c.flags);
	m->len = len;
	m->arg = le64_to_cpu(c.arg);
	m->arg2 = le64_to_cpu(c.arg2);
	m->result = 0;
	WRITE_ONCE(h->state, cpu_to_le32(KVM_SOC_API_BUSY));
	return 0;
}

/**
 * ksoc_api_complete - post the response to a taken request (host side).
 * @win: window.
 * @l: its validated layout.
 * @slot: the slot the request was taken from.
 * @m: response: @m->request_id echoes the request, @m->result, @m->len
 *	bytes of @payload.
 * @payload: response payload, may be NULL when @m->len is 0.
 *
 * Return: 0, or -EINVAL for a slot or length out of range.
 */
int ksoc_api_complete(void *win, const struct ksoc_layout *l, u32 slot,
		      const struct ksoc_api_msg *m, const void *payload)
{
	struct kvm_soc_api_hdr *h;

	if (slot >= l->api_nr_slots || m->len > ksoc_api_payload_max(l))
		return -EINVAL;
	h = ksoc_api_slot(win, l, slot);
	if (m->len)
		ksoc_win_write(h + 1, payload, m->len);
	ksoc_api_write_hdr(h, m, true);
	/* Pairs with the acquire in ksoc_api_collect(). */
	smp_store_release(&h->state, cpu_to_le32(KVM_SOC_API_RESP));
	return 0;
}

static void ksoc_ioreq_write(struct kvm_soc_ioreq *s,
			     const struct ksoc_ioreq_msg *m)
{
	struct kvm_soc_ioreq_hdr *h = &s->hdr;
	unsigned int i;

	ksoc_win_write(s->run, m->run, sizeof(s->run));
	ksoc_win_write(s->exit, m->exit, sizeof(s->exit));
	if (m->data_len)
		ksoc_win_write(s->data, m->data, m->data_len);
	WRITE_ONCE(h->vcpu_id, cpu_to_le32(m->vcpu_id));
	WRITE_ONCE(h->seq, cpu_to_le64(m->seq));
	WRITE_ONCE(h->exit_reason, cpu_to_le32(m->exit_reason));
	WRITE_ONCE(h->flags, cpu_to_le32(m->flags));
	WRITE_ONCE(h->data_len, cpu_to_le32(m->data_len));
	WRITE_ONCE(h->reserved0, 0);
	for (i = 0; i < ARRAY_SIZE(h->reserved); i++)
		WRITE_ONCE(h->reserved[i], 0);
}

/*
 * Copy a slot out and check it against what this side expects; @flags_mask
 * is what the writer may set in flags (none for completions).
 */
static int ksoc_ioreq_read(struct kvm_soc_ioreq *s, u32 vcpu_id, u64 seq,
			   u32 flags_mask, struct ksoc_ioreq_msg *m)
{
	struct kvm_soc_ioreq_hdr c;
	unsigned int i;

	ksoc_win_read(&c, &s->hdr, sizeof(c));
	if (le32_to_cpu(c.vcpu_id) != vcpu_id || le64_to_cpu(c.seq) != seq ||
	    (le32_to_cpu(c.flags) & ~flags_mask) || c.reserved0 ||
	    le32_to_cpu(c.data_len) > KVM_SOC_IOREQ_DATA_SIZE)
		return -EPROTO;
	for (i = 0; i < ARRAY_SIZE(c.reserved); i++)
		if (c.reserved[i])
			return -EPROTO;

	m->vcpu_id = vcpu_id;
	m->seq = seq;
	m->exit_reason = le32_to_cpu(c.exit_reason);
	m->flags = le32_to_cpu(c.flags);
	m->data_len = le32_to_cpu(c.data_len);
	ksoc_win_read(m->run, s->run, sizeof(m->run));
	ksoc_win_read(m->exit, s->exit, sizeof(m->exit));
	if (m->data_len)
		ksoc_win_read(m->data, s->data, m->data_len);
	return 0;
}

/**
 * ksoc_ioreq_post - post an exit in a vCPU's slot (host side).
 * @s: the slot, privately known to be NONE.
 * @m: the exit.
 *
 * Return: 0, or -EINVAL for a data length out of range.
 */
int ksoc_ioreq_post(struct kvm_soc_ioreq *s, const struct ksoc_ioreq_msg *m)
{
	if (m->data_len > KVM_SOC_IOREQ_DATA_SIZE ||
	    (m->flags & ~KVM_SOC_IOREQ_F_VALID_MASK))
		return -EINVAL;
	ksoc_ioreq_write(s, m);
	/* Pairs with the acquire in ksoc_ioreq_take(). */
	smp_store_release(&s->hdr.state, cpu_to_le32(KVM_SOC_IOREQ_READY));
	return 0;
}

/**
 * ksoc_ioreq_finish - collect the SoC's completion (host side).
 * @s: the slot.
 * @vcpu_id: the slot's vCPU.
 * @seq: the sequence number of the posted exit.
 * @m: the completion, copied out.
 *
 * Return: 0 with the slot back to NONE; -EAGAIN while the SoC is working;
 * -EPROTO when the state went backwards (NONE), is unknown, or the slot's
 * identity or lengths are wrong.
 */
int ksoc_ioreq_finish(struct kvm_soc_ioreq *s, u32 vcpu_id, u64 seq,
		      struct ksoc_ioreq_msg *m)
{
	u32 state;
	int ret;

	/* Pairs with the release in ksoc_ioreq_respond(). */
	state = le32_to_cpu(smp_load_acquire(&s->hdr.state));
	if (state == KVM_SOC_IOREQ_READY || state == KVM_SOC_IOREQ_INPROCESS)
		return -EAGAIN;
	if (state != KVM_SOC_IOREQ_RESP_READY)
		return -EPROTO;
	ret = ksoc_ioreq_read(s, vcpu_id, seq, 0, m);
	if (ret)
		return ret;
	/* The copies above complete before the host reuses the slot. */
	smp_store_release(&s->hdr.state, cpu_to_le32(KVM_SOC_IOREQ_NONE));
	return 0;
}

/**
 * ksoc_ioreq_take - take a posted exit (SoC side).
 * @s: the slot.
 * @vcpu_id: the slot's vCPU.
 * @seq: the sequence number the SoC expects next.
 * @m: the exit, copied out.
 *
 * Return: 0 with the slot INPROCESS; -EAGAIN when no exit is posted (or the
 * host has not yet collected the previous completion); -EPROTO for a state
 * only the SoC writes, an unknown state, or a wrong identity or length.
 */
int ksoc_ioreq_take(struct kvm_soc_ioreq *s, u32 vcpu_id, u64 seq,
		    struct ksoc_ioreq_msg *m)
{
	u32 state;
	int ret;

	/* Pairs with the release in ksoc_ioreq_post(). */
	state = le32_to_cpu(smp_load_acquire(&s->hdr.state));
	if (state == KVM_SOC_IOREQ_NONE || state == KVM_SOC_IOREQ_RESP_READY)
		return -EAGAIN;
	if (state != KVM_SOC_IOREQ_READY)
		return -EPROTO;
	ret = ksoc_ioreq_read(s, vcpu_id, seq, KVM_SOC_IOREQ_F_VALID_MASK, m);
	if (ret)
		return ret;
	WRITE_ONCE(s->hdr.state, cpu_to_le32(KVM_SOC_IOREQ_INPROCESS));
	return 0;
}

/**
 * ksoc_ioreq_respond - post the completion of a taken exit (SoC side).
 * @s: the slot, INPROCESS.
 * @m: the completion; vcpu_id and seq as taken.
 *
 * Return: 0, or -EINVAL for a data length out of range.
 */
int ksoc_ioreq_respond(struct kvm_soc_ioreq *s, const struct ksoc_ioreq_msg *m)
{
	if (m->data_len > KVM_SOC_IOREQ_DATA_SIZE || m->flags)
		return -EINVAL;
	ksoc_ioreq_write(s, m);
	/* Pairs with the acquire in ksoc_ioreq_finish(). */
	smp_store_release(&s->hdr.state, cpu_to_le32(KVM_SOC_IOREQ_RESP_READY));
	return 0;
}

/**
 * ksoc_event_publish - store one of our event counters, then our seq.
 * @win: the VM window.
 * @l: its layout (with an event area).
 * @host: true on the host (host_count, host_seq), false on the SoC.
 * @i: the channel, below @l->event_nr.
 * @count: the counter's new value.
 * @seq: our next seq: every value is published once, so a peer never
 *	misses a change when two channels race.
 *
 * The caller serialises stores to one channel's counter.
 */
void ksoc_event_publish(void *win, const struct ksoc_layout *l, bool host,
			u32 i, u64 count, u64 seq)
{
	struct kvm_soc_event_hdr *h = ksoc_event_hdr(win, l);
	__le64 *cnt = host ? ksoc_event_host_count(win, l) :
			     ksoc_event_soc_count(win, l);
	__le64 *ours = host ? &h->host_seq : &h->soc_seq;

	if (i >= l->event_nr)
		return;
	WRITE_ONCE(cnt[i], cpu_to_le64(count));
	/* Publishes the count; pairs with ksoc_event_peer_seq()'s acquire. */
	smp_store_release(ours, cpu_to_le64(seq));
}

/**
 * ksoc_event_peer_seq - the peer's event seq.
 * @win: the VM window.
 * @l: its layout (with an event area).
 * @host: true when the host reads (the SoC's seq), false on the SoC.
 *
 * Counters the peer stored before it are visible after this returns
 * (acquire; pairs with the release in the peer's ksoc_event_publish()).
 */
u64 ksoc_event_peer_seq(void *win, const struct ksoc_layout *l, bool host)
{
	struct kvm_soc_event_hdr *h = ksoc_event_hdr(win, l);
	__le64 *peer = host ? &h->soc_seq : &h->host_seq;

	/* Pairs with the release in the peer's ksoc_event_publish(). */
	return le64_to_cpu(smp_load_acquire(peer));
}

/**
 * ksoc_event_peer_count - read one of the peer's event counters, once.
 * @win: the VM window.
 * @l: its layout (with an event area).
 * @host: true when the host reads (soc_count), false on the SoC.
 * @i: the channel.
 * @seen: the value this side last acted on.
 * @exact: the counter counts events one by one (ioeventfds, Hyper-V
 *	eventfds), so a move by more than KVM_SOC_EVENT_MAX_DELTA is a lie;
 *	an irqfd's or a resample's counter only has to have moved.
 * @count: the counter's value.
 *
 * Return: 0; -EINVAL for a channel outside the area; -EPROTO for an
 * implausible move of an exact counter.
 */
int ksoc_event_peer_count(void *win, const struct ksoc_layout *l, bool host,
			  u32 i, u64 seen, bool exact, u64 *count)
{
	__le64 *cnt = host ? ksoc_event_soc_count(win, l) :
			     ksoc_event_host_count(win, l);
	u64 c;

	if (i >= l->event_nr)
		return -EINVAL;
	c = le64_to_cpu(READ_ONCE(cnt[i]));
	if (exact && c - seen > KVM_SOC_EVENT_MAX_DELTA)
		return -EPROTO;
	*count = c;
	return 0;
}

/**
 * ksoc_ring_init - set up one side's view of an SPSC ring.
 * @r: the view.
 * @entries: the entry array in the window.
 * @nr: number of entries, a power of two.
 * @esize: bytes per entry.
 * @prod: producer index in the window.
 * @cons: consumer index in the window.
 * @producer: true for the producing side.
 *
 * The private index starts from this side's own index in the window, which
 * only this side writes.
 *
 * Return: 0 or -EINVAL.
 */
int ksoc_ring_init(struct ksoc_ring *r, void *entries, u32 nr, u32 esize,
		   __le32 *prod, __le32 *cons, bool producer)
{
	if (!is_power_of_2(nr) || !esize)
		return -EINVAL;
	r->entries = entries;
	r->nr = nr;
	r->esize = esize;
	r->prod = prod;
	r->cons = cons;
	r->idx = le32_to_cpu(READ_ONCE(*(producer ? prod : cons)));
	return 0;
}

/**
 * ksoc_ring_produce - append an entry (producer side).
 * @r: producer view.
 * @e: @r->esize bytes.
 *
 * Return: 0; -ENOSPC when full; -EPROTO when the consumer's index is not
 * within one ring of ours.
 */
int ksoc_ring_produce(struct ksoc_ring *r, const void *e)
{
	u32 cons, used;

	/*
	 * Pairs with the release in ksoc_ring_consume(): the consumer has
	 * finished copying every entry below cons before we overwrite it.
	 */
	cons = le32_to_cpu(smp_load_acquire(r->cons));
	used = r->idx - cons;
	if (used > r->nr)
		return -EPROTO;
	if (used == r->nr)
		return -ENOSPC;
	ksoc_win_write((u8 *)r->entries + (u64)(r->idx & (r->nr - 1)) * r->esize,
		       e, r->esize);
	r->idx++;
	/* Pairs with the acquire in ksoc_ring_consume(). */
	smp_store_release(r->prod, cpu_to_le32(r->idx));
	return 0;
}

/**
 * ksoc_ring_consume - remove the oldest entry (consumer side).
 * @r: consumer view.
 * @e: receives @r->esize bytes.
 *
 * Return: 0; -EAGAIN when empty; -EPROTO when the producer's index is not
 * within one ring of ours.
 */
int ksoc_ring_consume(struct ksoc_ring *r, void *e)
{
	u32 prod, avail;

	/* Pairs with the release in ksoc_ring_produce(). */
	prod = le32_to_cpu(smp_load_acquire(r->prod));
	avail = prod - r->idx;
	if (avail > r->nr)
		return -EPROTO;
	if (!avail)
		return -EAGAIN;
	ksoc_win_read(e, (u8 *)r->entries + (u64)(r->idx & (r->nr - 1)) * r->esize,
		      r->esize);
	r->idx++;
	/* Pairs with the acquire in ksoc_ring_produce(). */
	smp_store_release(r->cons, cpu_to_le32(r->idx));
	return 0;
}

/* MMIO writes of 1 to 8 bytes (KVM splits longer ones), PIO of 1, 2, 4. */
static bool ksoc_posted_len_ok(u8 len, u8 type)
{
	if (type == KVM_SOC_POSTED_PIO)
		return len == 1 || len == 2 || len == 4;
	return type == KVM_SOC_POSTED_MMIO && len >= 1 && len <= 8;
}

/**
 * ksoc_posted_produce - append a posted write (host side).
 * @r: producer view of the posted-write ring.
 * @addr: port or guest physical address.
 * @data: value.
 * @vcpu_id: writing vCPU.
 * @len: 1 to 8 for MMIO; 1, 2 or 4 for PIO.
 * @type: enum kvm_soc_posted_type.
 *
 * Return: as ksoc_ring_produce(), or -EINVAL for a bad @len or @type.
 */
int ksoc_posted_produce(struct ksoc_ring *r, u64 addr, u64 data, u32 vcpu_id,
			u8 len, u8 type)
{
	struct kvm_soc_posted_write w;

	if (!ksoc_posted_len_ok(len, type))
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.addr = cpu_to_le64(addr);
	w.data = cpu_to_le64(data);
	w.vcpu_id = cpu_to_le32(vcpu_id);
	w.len = len;
	w.type = type;
	w.seq = cpu_to_le32(r->idx);
	return ksoc_ring_produce(r, &w);
}

/**
 * ksoc_posted_consume - take the oldest posted write (SoC side).
 * @r: consumer view of the posted-write ring.
 * @w: the entry, copied out and validated.
 *
 * Return: as ksoc_ring_consume(), or -EPROTO for an entry whose sequence
 * number, length, type or reserved fields are wrong.
 */
int ksoc_posted_consume(struct ksoc_ring *r, struct kvm_soc_posted_write *w)
{
	u32 expect = r->idx;
	int ret;

	ret = ksoc_ring_consume(r, w);
	if (ret)
		return ret;
	if (le32_to_cpu(w->seq) != expect || !ksoc_posted_len_ok(w->len, w->type) ||
	    w->reserved0 || w->reserved1)
		return -EPROTO;
	return 0;
}
