// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace unit tests of the channel helpers in common/ksoc_chan.c: the
 * same code host-kvm and soc-kvm link.  The "peer" is this test writing
 * whatever it likes into the window.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ksoc_chan.h"
#include "kselftest_harness.h"

#define WIN_SIZE	(1024 * 1024)

static void *win_alloc(void)
{
	void *w = aligned_alloc(4096, WIN_SIZE);

	memset(w, 0xa5, WIN_SIZE);
	return w;
}

FIXTURE(win) {
	void *w;
	struct ksoc_layout l;
};

FIXTURE_SETUP(win)
{
	self->w = win_alloc();
	ASSERT_EQ(0, ksoc_layout_compute(&self->l, 3, 8, 1024, 4, 64,
					 BIT_ULL(KVM_SOC_F_HEARTBEAT)));
	ASSERT_EQ(0, ksoc_layout_add_events(&self->l, 64));
	ASSERT_LE(self->l.window_size, WIN_SIZE);
	ksoc_window_format(self->w, &self->l);
}

FIXTURE_TEARDOWN(win)
{
	free(self->w);
}

TEST_F(win, parse_roundtrip)
{
	struct ksoc_layout p;

	ASSERT_EQ(0, ksoc_window_parse(self->w, self->l.window_size, &p));
	/* Field by field: the struct has padding, which nothing sets. */
	EXPECT_EQ(self->l.window_id, p.window_id);
	EXPECT_EQ(self->l.window_size, p.window_size);
	EXPECT_EQ(self->l.host_features, p.host_features);
	EXPECT_EQ(self->l.api_offset, p.api_offset);
	EXPECT_EQ(self->l.api_nr_slots, p.api_nr_slots);
	EXPECT_EQ(self->l.api_slot_size, p.api_slot_size);
	EXPECT_EQ(self->l.ioreq_offset, p.ioreq_offset);
	EXPECT_EQ(self->l.ioreq_nr_slots, p.ioreq_nr_slots);
	EXPECT_EQ(self->l.ioreq_slot_size, p.ioreq_slot_size);
	EXPECT_EQ(self->l.posted_offset, p.posted_offset);
	EXPECT_EQ(self->l.posted_nr_entries, p.posted_nr_entries);
	EXPECT_EQ(self->l.event_offset, p.event_offset);
	EXPECT_EQ(self->l.event_nr, p.event_nr);
	EXPECT_EQ(3, p.window_id);
	EXPECT_EQ(4, p.ioreq_nr_slots);
	EXPECT_EQ(0, p.api_offset % KVM_SOC_AREA_ALIGN);
}

TEST_F(win, parse_rejects_bad_magic_version_size)
{
	struct kvm_soc_window_desc *d = &ksoc_hdr(self->w)->desc;
	struct ksoc_layout p;

	/* window_size must be exactly what the transport provides: EPROTO */
	EXPECT_EQ(-EPROTO, ksoc_window_parse(self->w, self->l.window_size + 4096, &p));
	d->magic ^= 1;
	EXPECT_EQ(-EPROTO, ksoc_window_parse(self->w, self->l.window_size, &p));
	d->magic ^= 1;
	d->abi_version = cpu_to_le32(1);
	EXPECT_EQ(-EPROTONOSUPPORT, ksoc_window_parse(self->w, self->l.window_size, &p));
	d->abi_version = 0;
	d->hdr_size = cpu_to_le32(128);
	EXPECT_EQ(-EPROTO, ksoc_window_parse(self->w, self->l.window_size, &p));
}

/* A hostile description: every way of pointing an area somewhere wrong. */
TEST_F(win, parse_rejects_hostile_layouts)
{
	struct kvm_soc_window_desc *d = &ksoc_hdr(self->w)->desc;
	struct kvm_soc_window_desc orig = *d;
	struct ksoc_layout p;
	u64 sz = self->l.window_size;

#define BAD(ptr, val) do {						\
	*d = orig;							\
	*(ptr) = (val);							\
	EXPECT_EQ(-EPROTO, ksoc_window_parse(self->w, sz, &p))		\
		TH_LOG("accepted " #ptr " = " #val);			\
} while (0)
	BAD(&d->api_offset, 0);				/* over the header */
	BAD(&d->api_offset, cpu_to_le32(4096 + 64));	/* misaligned */
	BAD(&d->api_offset, cpu_to_le32(sz));		/* past the end */
	BAD(&d->api_offset, cpu_to_le32(0xfffff000));	/* wraps */
	BAD(&d->api_nr_slots, 0);
	BAD(&d->api_nr_slots, cpu_to_le32(KSOC_API_MAX_SLOTS + 1));
	BAD(&d->api_nr_slots, cpu_to_le32(0xffffffff));
	BAD(&d->api_slot_size, cpu_to_le32(64));		/* no room for payload */
	BAD(&d->api_slot_size, cpu_to_le32(1000));		/* not a line multiple */
	BAD(&d->ioreq_offset, orig.api_offset);		/* overlaps API */
	BAD(&d->ioreq_slot_size, cpu_to_le32(64));		/* smaller than a slot */
	BAD(&d->ioreq_nr_slots, cpu_to_le32(100000));
	BAD(&d->posted_nr_entries, cpu_to_le32(48));	/* not a power of 2 */
	BAD(&d->posted_offset, orig.ioreq_offset);		/* overlaps IOREQ */
	BAD(&d->window_size, cpu_to_le64(sz * 2));
	BAD(&d->event_nr, cpu_to_le32(12));		/* not a multiple of 8 */
	BAD(&d->event_nr, cpu_to_le32(KSOC_EVENT_MAX + 8));
	BAD(&d->event_nr, cpu_to_le32(0x7ffffff8));	/* past the end */
	BAD(&d->event_offset, orig.ioreq_offset);		/* overlaps IOREQ */
	BAD(&d->event_offset, cpu_to_le32(le32_to_cpu(orig.event_offset) + 8));
	BAD(&d->reserved[3], cpu_to_le32(1));		/* reserved */
#undef BAD
	*d = orig;
	EXPECT_EQ(0, ksoc_window_parse(self->w, sz, &p));
}

TEST(layout_compute_rejects_inexpressible)
{
	struct ksoc_layout l;

	EXPECT_EQ(-EINVAL, ksoc_layout_compute(&l, 0, 0, 1024, 0, 0, 0));
	EXPECT_EQ(-EINVAL, ksoc_layout_compute(&l, 0, 4, 1024, 0, 3, 0));
	EXPECT_EQ(-EINVAL, ksoc_layout_compute(&l, 0, 4, 1024, 100000, 0, 0));
	EXPECT_EQ(0, ksoc_layout_compute(&l, 0, 4, 1024, 0, 0, 0));
	EXPECT_EQ(0, l.ioreq_offset);
	EXPECT_EQ(0, l.posted_offset);
	EXPECT_EQ(0, l.event_nr);
	EXPECT_EQ(-EINVAL, ksoc_layout_add_events(&l, 0));
	EXPECT_EQ(-EINVAL, ksoc_layout_add_events(&l, 12));
	EXPECT_EQ(-EINVAL, ksoc_layout_add_events(&l, KSOC_EVENT_MAX + 8));
	EXPECT_EQ(0, ksoc_layout_add_events(&l, 256));
	EXPECT_EQ(-EINVAL, ksoc_layout_add_events(&l, 256));	/* only once */
	EXPECT_EQ(0, l.event_offset % KVM_SOC_AREA_ALIGN);
	EXPECT_LE(l.event_offset + sizeof(struct kvm_soc_event_hdr) + 2 * 256 * 8,
		  l.window_size);
}

TEST_F(win, api_roundtrip)
{
	struct ksoc_api_msg req = { .op = KVM_SOC_OP_HELLO, .target = 7,
				    .arg = 0x1234, .len = 5 };
	struct ksoc_api_msg got, resp;
	char buf[64];

	/* Nothing posted yet: EAGAIN on both sides. */
	EXPECT_EQ(-EAGAIN, ksoc_api_take(self->w, &self->l, 1, &got, buf, sizeof(buf)));

	req.request_id = 99;
	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 1, &req, "hello"));
	EXPECT_EQ(-EAGAIN, ksoc_api_collect(self->w, &self->l, 1, 99, &resp, buf, sizeof(buf)));

	ASSERT_EQ(0, ksoc_api_take(self->w, &self->l, 1, &got, buf, sizeof(buf)));
	EXPECT_EQ(KVM_SOC_OP_HELLO, got.op);
	EXPECT_EQ(99, got.request_id);
	EXPECT_EQ(7, got.target);
	EXPECT_EQ(0x1234, got.arg);
	EXPECT_EQ(5, got.len);
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	/* Taken once: BUSY now, so a second take finds nothing. */
	EXPECT_EQ(-EAGAIN, ksoc_api_take(self->w, &self->l, 1, &got, buf, sizeof(buf)));
	EXPECT_EQ(-EAGAIN, ksoc_api_collect(self->w, &self->l, 1, 99, &resp, buf, sizeof(buf)));

	got.result = -22;
	got.len = 3;
	ASSERT_EQ(0, ksoc_api_complete(self->w, &self->l, 1, &got, "abc"));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, ksoc_api_collect(self->w, &self->l, 1, 99, &resp, buf, sizeof(buf)));
	EXPECT_EQ(-22, resp.result);
	EXPECT_EQ(3, resp.len);
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	EXPECT_EQ(KVM_SOC_API_FREE, le32_to_cpu(ksoc_api_slot(self->w, &self->l, 1)->state));
}

/* A caller that gave up on a request collects its answer into nothing. */
TEST_F(win, api_collect_discards_a_late_answer)
{
	struct ksoc_api_msg req = { .op = KVM_SOC_OP_SYS_IOCTL, .len = 0 };
	struct ksoc_api_msg got;
	char big[200];

	req.request_id = 5;
	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 0, &req, NULL));
	ASSERT_EQ(0, ksoc_api_take(self->w, &self->l, 0, &got, big, sizeof(big)));
	memset(big, 'x', sizeof(big));
	got.len = sizeof(big);
	ASSERT_EQ(0, ksoc_api_complete(self->w, &self->l, 0, &got, big));
	/* Too big for a 4-byte buffer, but nothing is copied when discarding. */
	EXPECT_EQ(-EPROTO, ksoc_api_collect(self->w, &self->l, 0, 5, &got, big, 4));
	EXPECT_EQ(-EPROTO, ksoc_api_collect(self->w, &self->l, 0, 6, &got, NULL, 0));
	EXPECT_EQ(0, ksoc_api_collect(self->w, &self->l, 0, 5, &got, NULL, 0));
	EXPECT_EQ(sizeof(big), got.len);
	EXPECT_EQ(KVM_SOC_API_FREE, le32_to_cpu(ksoc_api_slot(self->w, &self->l, 0)->state));
}

TEST_F(win, api_rejects_out_of_range_requests)
{
	struct ksoc_api_msg m = { .op = 1, .len = ksoc_api_payload_max(&self->l) + 1 };
	static char big[1 << 16];

	EXPECT_EQ(-EINVAL, ksoc_api_post(self->w, &self->l, 0, &m, big));
	m.len = 0;
	EXPECT_EQ(-EINVAL, ksoc_api_post(self->w, &self->l, self->l.api_nr_slots, &m, NULL));
}

/* What a hostile SoC can write into a slot; the host must refuse it. */
TEST_F(win, api_take_rejects_hostile_slots)
{
	struct kvm_soc_api_hdr *h = ksoc_api_slot(self->w, &self->l, 2);
	struct ksoc_api_msg m = { .op = 1, .request_id = 5 };
	char buf[2048];

	h->state = cpu_to_le32(77);
	EXPECT_EQ(-EPROTO, ksoc_api_take(self->w, &self->l, 2, &m, buf, sizeof(buf)));

	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 2, &m, NULL));
	h->req_len = cpu_to_le32(ksoc_api_payload_max(&self->l) + 1);
	EXPECT_EQ(-EPROTO, ksoc_api_take(self->w, &self->l, 2, &m, buf, sizeof(buf)));

	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 2, &m, NULL));
	h->req_len = cpu_to_le32(0xffffffff);
	EXPECT_EQ(-EPROTO, ksoc_api_take(self->w, &self->l, 2, &m, buf, sizeof(buf)));

	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 2, &m, NULL));
	h->reserved = cpu_to_le64(1);
	EXPECT_EQ(-EPROTO, ksoc_api_take(self->w, &self->l, 2, &m, buf, sizeof(buf)));

	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 2, &m, NULL));
	h->result = cpu_to_le64(3);
	EXPECT_EQ(-EPROTO, ksoc_api_take(self->w, &self->l, 2, &m, buf, sizeof(buf)));

	/* A request bigger than the caller's buffer is refused too. */
	m.len = 100;
	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 2, &m, buf));
	EXPECT_EQ(-EPROTO, ksoc_api_take(self->w, &self->l, 2, &m, buf, 99));

	/* An unknown op is well-formed: taken, for the host to refuse. */
	m.op = 0xdead;
	m.len = 0;
	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 2, &m, NULL));
	EXPECT_EQ(0, ksoc_api_take(self->w, &self->l, 2, &m, buf, sizeof(buf)));
	EXPECT_EQ(0xdead, m.op);
}

/* What a broken host can write; the SoC refuses it. */
TEST_F(win, api_collect_rejects_hostile_responses)
{
	struct kvm_soc_api_hdr *h = ksoc_api_slot(self->w, &self->l, 0);
	struct ksoc_api_msg m = { .op = 1, .request_id = 10 }, r;
	char buf[128];

#define RESPOND(rlen) do {						\
	m.request_id = 10; m.len = 0;					\
	ASSERT_EQ(0, ksoc_api_post(self->w, &self->l, 0, &m, NULL));	\
	ASSERT_EQ(0, ksoc_api_take(self->w, &self->l, 0, &r, buf, sizeof(buf))); \
	r.len = (rlen);							\
	ASSERT_EQ(0, ksoc_api_complete(self->w, &self->l, 0, &r, buf));\
} while (0)
	RESPOND(0);
	EXPECT_EQ(-EPROTO, ksoc_api_collect(self->w, &self->l, 0, 11, &r, buf, sizeof(buf)));
	RESPOND(100);
	EXPECT_EQ(-EPROTO, ksoc_api_collect(self->w, &self->l, 0, 10, &r, buf, 50));
	RESPOND(0);
	h->resp_len = cpu_to_le32(1 << 30);
	EXPECT_EQ(-EPROTO, ksoc_api_collect(self->w, &self->l, 0, 10, &r, buf, sizeof(buf)));
	RESPOND(0);
	h->state = cpu_to_le32(KVM_SOC_API_FREE);	/* went backwards */
	EXPECT_EQ(-EPROTO, ksoc_api_collect(self->w, &self->l, 0, 10, &r, buf, sizeof(buf)));
#undef RESPOND
}

static void fill_exit(struct ksoc_ioreq_msg *m, u32 vcpu, u64 seq, u32 len)
{
	memset(m, 0, sizeof(*m));
	m->vcpu_id = vcpu;
	m->seq = seq;
	m->exit_reason = 2;		/* KVM_EXIT_IO */
	m->data_len = len;
	memset(m->exit, 0x11, sizeof(m->exit));
	memset(m->run, 0x22, sizeof(m->run));
	memset(m->data, 0x33, len);
}

TEST_F(win, ioreq_roundtrip)
{
	struct kvm_soc_ioreq *s = ksoc_ioreq_slot(self->w, &self->l, 3);
	static struct ksoc_ioreq_msg m, got;

	fill_exit(&m, 3, 1, 100);
	EXPECT_EQ(-EAGAIN, ksoc_ioreq_take(s, 3, 1, &got));
	ASSERT_EQ(0, ksoc_ioreq_post(s, &m));
	EXPECT_EQ(-EAGAIN, ksoc_ioreq_finish(s, 3, 1, &got));
	ASSERT_EQ(0, ksoc_ioreq_take(s, 3, 1, &got));
	EXPECT_EQ(2, got.exit_reason);
	EXPECT_EQ(100, got.data_len);
	EXPECT_EQ(0, memcmp(got.exit, m.exit, sizeof(m.exit)));
	EXPECT_EQ(0, memcmp(got.data, m.data, 100));
	EXPECT_EQ(-EAGAIN, ksoc_ioreq_finish(s, 3, 1, &got));

	got.exit[0] = 0x99;
	got.data_len = 4;
	ASSERT_EQ(0, ksoc_ioreq_respond(s, &got));
	EXPECT_EQ(-EAGAIN, ksoc_ioreq_take(s, 3, 2, &m));
	ASSERT_EQ(0, ksoc_ioreq_finish(s, 3, 1, &m));
	EXPECT_EQ(0x99, m.exit[0]);
	EXPECT_EQ(4, m.data_len);
	EXPECT_EQ(KVM_SOC_IOREQ_NONE, le32_to_cpu(s->hdr.state));
}

TEST_F(win, ioreq_rejects_hostile_slots)
{
	struct kvm_soc_ioreq *s = ksoc_ioreq_slot(self->w, &self->l, 0);
	static struct ksoc_ioreq_msg m, got;

	fill_exit(&m, 0, 5, 8);
	m.data_len = KVM_SOC_IOREQ_DATA_SIZE + 1;
	EXPECT_EQ(-EINVAL, ksoc_ioreq_post(s, &m));
	fill_exit(&m, 0, 5, 8);
	m.flags = 1u << KVM_SOC_IOREQ_F_NR_BITS;
	EXPECT_EQ(-EINVAL, ksoc_ioreq_post(s, &m));

	/* Host flags arrive; an unknown one fails the slot. */
	fill_exit(&m, 0, 5, 8);
	m.flags = 1u << KVM_SOC_IOREQ_F_EINTR;
	ASSERT_EQ(0, ksoc_ioreq_post(s, &m));
	s->hdr.flags |= cpu_to_le32(1u << 31);
	EXPECT_EQ(-EPROTO, ksoc_ioreq_take(s, 0, 5, &got));
	s->hdr.flags = cpu_to_le32(1u << KVM_SOC_IOREQ_F_EINTR);
	ASSERT_EQ(0, ksoc_ioreq_take(s, 0, 5, &got));
	EXPECT_EQ(1u << KVM_SOC_IOREQ_F_EINTR, got.flags);
	got.flags = 0;
	ASSERT_EQ(0, ksoc_ioreq_respond(s, &got));
	ASSERT_EQ(0, ksoc_ioreq_finish(s, 0, 5, &got));
	s->hdr.state = 0;

	/* SoC answers for the wrong exit: seq mismatch. */
	fill_exit(&m, 0, 5, 8);
	ASSERT_EQ(0, ksoc_ioreq_post(s, &m));
	EXPECT_EQ(-EPROTO, ksoc_ioreq_take(s, 0, 6, &got));
	ASSERT_EQ(0, ksoc_ioreq_take(s, 0, 5, &got));
	got.seq = 4;
	ASSERT_EQ(0, ksoc_ioreq_respond(s, &got));
	EXPECT_EQ(-EPROTO, ksoc_ioreq_finish(s, 0, 5, &got));

	/* State moved backwards while the host waits. */
	s->hdr.state = cpu_to_le32(KVM_SOC_IOREQ_NONE);
	EXPECT_EQ(-EPROTO, ksoc_ioreq_finish(s, 0, 5, &got));
	s->hdr.state = cpu_to_le32(9);
	EXPECT_EQ(-EPROTO, ksoc_ioreq_finish(s, 0, 5, &got));
	EXPECT_EQ(-EPROTO, ksoc_ioreq_take(s, 0, 5, &got));

	/* Oversized data length, wrong vCPU, flags, reserved. */
	fill_exit(&m, 0, 5, 8);
	ASSERT_EQ(0, ksoc_ioreq_post(s, &m));
	ASSERT_EQ(0, ksoc_ioreq_take(s, 0, 5, &got));
	ASSERT_EQ(0, ksoc_ioreq_respond(s, &got));
	s->hdr.data_len = cpu_to_le32(KVM_SOC_IOREQ_DATA_SIZE + 1);
	EXPECT_EQ(-EPROTO, ksoc_ioreq_finish(s, 0, 5, &got));
	s->hdr.data_len = 0;
	s->hdr.vcpu_id = cpu_to_le32(1);
	EXPECT_EQ(-EPROTO, ksoc_ioreq_finish(s, 0, 5, &got));
	s->hdr.vcpu_id = 0;
	s->hdr.flags = cpu_to_le32(1);		/* completions carry no flags */
	EXPECT_EQ(-EPROTO, ksoc_ioreq_finish(s, 0, 5, &got));
	s->hdr.flags = 0;
	s->hdr.reserved[3] = cpu_to_le64(1);
	EXPECT_EQ(-EPROTO, ksoc_ioreq_finish(s, 0, 5, &got));
	s->hdr.reserved[3] = 0;
	EXPECT_EQ(0, ksoc_ioreq_finish(s, 0, 5, &got));

	/* INPROCESS is written only by the SoC: seeing it in take is a bug. */
	s->hdr.state = cpu_to_le32(KVM_SOC_IOREQ_INPROCESS);
	EXPECT_EQ(-EPROTO, ksoc_ioreq_take(s, 0, 6, &got));
}

struct ring_mem {
	__le32 prod;
	__le32 cons;
	u64 e[16];
};

TEST(ring_empty_full_wrap)
{
	static struct ring_mem rm;
	struct ksoc_ring p, c;
	u64 v;
	u32 i, round;

	/* Start just below the u32 wrap to cross it. */
	rm.prod = cpu_to_le32(0xfffffff8);
	rm.cons = rm.prod;
	ASSERT_EQ(0, ksoc_ring_init(&p, rm.e, 16, 8, &rm.prod, &rm.cons, true));
	ASSERT_EQ(0, ksoc_ring_init(&c, rm.e, 16, 8, &rm.prod, &rm.cons, false));
	EXPECT_EQ(-EINVAL, ksoc_ring_init(&c, rm.e, 12, 8, &rm.prod, &rm.cons, false));

	for (round = 0; round < 5; round++) {
		EXPECT_EQ(-EAGAIN, ksoc_ring_consume(&c, &v));
		for (i = 0; i < 16; i++) {
			v = round * 100 + i;
			ASSERT_EQ(0, ksoc_ring_produce(&p, &v));
		}
		v = 0;
		EXPECT_EQ(-ENOSPC, ksoc_ring_produce(&p, &v));
		for (i = 0; i < 16; i++) {
			ASSERT_EQ(0, ksoc_ring_consume(&c, &v));
			EXPECT_EQ(round * 100 + i, v);
		}
	}
	EXPECT_EQ(0xfffffff8u + 80, le32_to_cpu(rm.prod));
	EXPECT_EQ(le32_to_cpu(rm.prod), le32_to_cpu(rm.cons));
}

TEST(ring_rejects_peer_indices)
{
	static struct ring_mem rm;
	struct ksoc_ring p, c;
	u64 v = 1;

	ASSERT_EQ(0, ksoc_ring_init(&p, rm.e, 16, 8, &rm.prod, &rm.cons, true));
	ASSERT_EQ(0, ksoc_ring_init(&c, rm.e, 16, 8, &rm.prod, &rm.cons, false));

	/* Producer claims more than a ring's worth. */
	rm.prod = cpu_to_le32(17);
	EXPECT_EQ(-EPROTO, ksoc_ring_consume(&c, &v));
	rm.prod = cpu_to_le32(0xffffffff);	/* behind the consumer */
	EXPECT_EQ(-EPROTO, ksoc_ring_consume(&c, &v));
	rm.prod = 0;
	/* Consumer claims to be ahead of the producer. */
	rm.cons = cpu_to_le32(1);
	EXPECT_EQ(-EPROTO, ksoc_ring_produce(&p, &v));
	rm.cons = cpu_to_le32(0x80000000);
	EXPECT_EQ(-EPROTO, ksoc_ring_produce(&p, &v));
	rm.cons = 0;
	EXPECT_EQ(0, ksoc_ring_produce(&p, &v));
}

/*
 * Event counters: what one side publishes the other reads after the seq;
 * an exact counter that jumps past KVM_SOC_EVENT_MAX_DELTA is a lie, any
 * other only has to have moved; no channel outside the area is read.
 */
TEST_F(win, event_counters_both_ways)
{
	struct kvm_soc_event_hdr *h = ksoc_event_hdr(self->w, &self->l);
	u64 c = 7;

	ksoc_event_publish(self->w, &self->l, false, 3, 41, 1);
	EXPECT_EQ(1, ksoc_event_peer_seq(self->w, &self->l, true));
	EXPECT_EQ(0, ksoc_event_peer_count(self->w, &self->l, true, 3, 0, false, &c));
	EXPECT_EQ(41, c);
	ksoc_event_publish(self->w, &self->l, true, 63, 9, 5);
	EXPECT_EQ(5, ksoc_event_peer_seq(self->w, &self->l, false));
	EXPECT_EQ(0, ksoc_event_peer_count(self->w, &self->l, false, 63, 2, true, &c));
	EXPECT_EQ(9, c);
	EXPECT_EQ(1, le64_to_cpu(h->soc_seq));		/* the host wrote its own */

	/* A lying host: an exact counter far ahead, or behind what we saw. */
	ksoc_event_publish(self->w, &self->l, true, 4, KVM_SOC_EVENT_MAX_DELTA + 11, 6);
	EXPECT_EQ(-EPROTO, ksoc_event_peer_count(self->w, &self->l, false, 4, 10, true, &c));
	EXPECT_EQ(0, ksoc_event_peer_count(self->w, &self->l, false, 4, 11, true, &c));
	EXPECT_EQ(-EPROTO, ksoc_event_peer_count(self->w, &self->l, false, 4,
						 KVM_SOC_EVENT_MAX_DELTA + 12, true, &c));
	EXPECT_EQ(0, ksoc_event_peer_count(self->w, &self->l, false, 4, 0, false, &c));

	c = 7;
	EXPECT_EQ(-EINVAL, ksoc_event_peer_count(self->w, &self->l, true, 64, 0, false, &c));
	EXPECT_EQ(7, c);
	ksoc_event_publish(self->w, &self->l, false, 64, 1, 2);	/* ignored */
	EXPECT_EQ(1, ksoc_event_peer_seq(self->w, &self->l, true));
}

TEST(posted_roundtrip_and_hostile_entries)
{
	static struct {
		__le32 prod, cons;
		struct kvm_soc_posted_write e[8];
	} rm;
	struct kvm_soc_posted_write w;
	struct ksoc_ring p, c;

	ASSERT_EQ(0, ksoc_ring_init(&p, rm.e, 8, sizeof(w), &rm.prod, &rm.cons, true));
	ASSERT_EQ(0, ksoc_ring_init(&c, rm.e, 8, sizeof(w), &rm.prod, &rm.cons, false));
	EXPECT_EQ(-EINVAL, ksoc_posted_produce(&p, 0x3f8, 1, 0, 3, KVM_SOC_POSTED_PIO));
	EXPECT_EQ(-EINVAL, ksoc_posted_produce(&p, 0x3f8, 1, 0, 1, 7));
	EXPECT_EQ(-EINVAL, ksoc_posted_produce(&p, 0x3f8, 1, 0, 8, KVM_SOC_POSTED_PIO));
	EXPECT_EQ(-EINVAL, ksoc_posted_produce(&p, 0x1000, 1, 0, 0, KVM_SOC_POSTED_MMIO));
	EXPECT_EQ(-EINVAL, ksoc_posted_produce(&p, 0x1000, 1, 0, 9, KVM_SOC_POSTED_MMIO));

	ASSERT_EQ(0, ksoc_posted_produce(&p, 0xfee00000, 0xdeadbeef, 2, 4, KVM_SOC_POSTED_MMIO));
	ASSERT_EQ(0, ksoc_posted_consume(&c, &w));
	EXPECT_EQ(0xfee00000, le64_to_cpu(w.addr));
	EXPECT_EQ(0xdeadbeef, le64_to_cpu(w.data));
	EXPECT_EQ(2, le32_to_cpu(w.vcpu_id));
	EXPECT_EQ(4, w.len);
	/* KVM splits MMIO writes into pieces of up to 8 bytes, of any size. */
	ASSERT_EQ(0, ksoc_posted_produce(&p, 0x1000, 0x112233, 0, 3, KVM_SOC_POSTED_MMIO));
	ASSERT_EQ(0, ksoc_posted_consume(&c, &w));
	EXPECT_EQ(3, w.len);

	ASSERT_EQ(0, ksoc_posted_produce(&p, 1, 1, 0, 1, 0));
	rm.e[2].seq = cpu_to_le32(7);			/* stale or replayed entry */
	EXPECT_EQ(-EPROTO, ksoc_posted_consume(&c, &w));
	ASSERT_EQ(0, ksoc_posted_produce(&p, 1, 1, 0, 1, 0));
	rm.e[3].len = 3;				/* a 3-byte PIO write */
	EXPECT_EQ(-EPROTO, ksoc_posted_consume(&c, &w));
	ASSERT_EQ(0, ksoc_posted_produce(&p, 1, 1, 0, 1, 0));
	rm.e[4].reserved0 = cpu_to_le16(1);
	EXPECT_EQ(-EPROTO, ksoc_posted_consume(&c, &w));
}

/* Two threads, one ring, millions of checksummed entries. */
struct stress_entry {
	u64 seq;
	u64 payload[5];
	u64 sum;
};

struct stress {
	struct {
		__le32 prod;
		u8 pad1[60];
		__le32 cons;
		u8 pad2[60];
		struct stress_entry e[64];
	} rm;
	u64 count;
	u64 errors;
};

static u64 stress_sum(const struct stress_entry *e)
{
	u64 s = e->seq * 0x9e3779b97f4a7c15ULL;
	int i;

	for (i = 0; i < 5; i++)
		s = (s ^ e->payload[i]) * 0x100000001b3ULL;
	return s;
}

static void *stress_producer(void *arg)
{
	struct stress *st = arg;
	struct stress_entry e;
	struct ksoc_ring p;
	u64 i;
	int k;

	ksoc_ring_init(&p, st->rm.e, 64, sizeof(e), &st->rm.prod, &st->rm.cons, true);
	for (i = 0; i < st->count; i++) {
		e.seq = i;
		for (k = 0; k < 5; k++)
			e.payload[k] = i * (k + 3) ^ 0x5555;
		e.sum = stress_sum(&e);
		/* Yield: on a busy machine the consumer may share our CPU. */
		while (ksoc_ring_produce(&p, &e) == -ENOSPC)
			sched_yield();
	}
	return NULL;
}

static void *stress_consumer(void *arg)
{
	struct stress *st = arg;
	struct stress_entry e;
	struct ksoc_ring c;
	u64 i;
	int ret;

	ksoc_ring_init(&c, st->rm.e, 64, sizeof(e), &st->rm.prod, &st->rm.cons, false);
	for (i = 0; i < st->count; i++) {
		while ((ret = ksoc_ring_consume(&c, &e)) == -EAGAIN)
			sched_yield();
		if (ret || e.seq != i || e.sum != stress_sum(&e))
			st->errors++;
	}
	return NULL;
}

TEST(ring_two_threads_millions)
{
	static struct stress st;
	pthread_t a, b;

	st.count = 2000000;
	ASSERT_EQ(0, pthread_create(&a, NULL, stress_producer, &st));
	ASSERT_EQ(0, pthread_create(&b, NULL, stress_consumer, &st));
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	EXPECT_EQ(0, st.errors);
	EXPECT_EQ(st.count, le32_to_cpu(st.rm.cons));
	TH_LOG("%llu entries moved, %llu bad", (unsigned long long)st.count,
	       (unsigned long long)st.errors);
}

/* API slots between two threads: the host thread answers each request. */
struct pingpong {
	void *w;
	struct ksoc_layout l;
	u64 n;
	u64 errors;
};

static void *pp_host(void *arg)
{
	struct pingpong *pp = arg;
	struct ksoc_api_msg m;
	u64 done = 0;
	u32 slot = 0;
	u64 buf[4];

	while (done < pp->n) {
		int ret = ksoc_api_take(pp->w, &pp->l, slot, &m, buf, sizeof(buf));

		if (ret == -EAGAIN) {
			slot = (slot + 1) % pp->l.api_nr_slots;
			continue;
		}
		if (ret || m.len != 8) {
			pp->errors++;
			return NULL;
		}
		m.result = (s64)(buf[0] + m.arg);
		buf[0] = ~buf[0];
		ksoc_api_complete(pp->w, &pp->l, slot, &m, buf);
		done++;
	}
	return NULL;
}

TEST(api_two_threads)
{
	static struct pingpong pp;
	struct ksoc_api_msg m, r;
	pthread_t h;
	u64 i, v, out;
	u32 slot;
	int ret;

	pp.w = win_alloc();
	pp.n = 200000;
	ASSERT_EQ(0, ksoc_layout_compute(&pp.l, 0, 4, 256, 0, 0, 0));
	ksoc_window_format(pp.w, &pp.l);
	ASSERT_EQ(0, pthread_create(&h, NULL, pp_host, &pp));
	for (i = 0; i < pp.n; i++) {
		slot = i % pp.l.api_nr_slots;
		v = i * 7;
		m = (struct ksoc_api_msg){ .op = 1, .request_id = i + 1,
					   .arg = i, .len = 8 };
		ASSERT_EQ(0, ksoc_api_post(pp.w, &pp.l, slot, &m, &v));
		while ((ret = ksoc_api_collect(pp.w, &pp.l, slot, i + 1, &r,
					       &out, sizeof(out))) == -EAGAIN)
			;
		ASSERT_EQ(0, ret);
		ASSERT_EQ((s64)(v + i), r.result);
		ASSERT_EQ(~v, out);
	}
	pthread_join(h, NULL);
	EXPECT_EQ(0, pp.errors);
	free(pp.w);
}

/*
 * A hostile peer rewriting slots while this side reads them.  Every result
 * must be 0, -EAGAIN or -EPROTO, and a message that was taken must satisfy
 * the checks it passed.  make unit also runs these under ThreadSanitizer,
 * with the helpers reading through ksoc_win_read().
 */
struct scribbler {
	u8 *base;
	size_t len;
	u32 state_off;
	u32 state_val;
	size_t clean_len;	/* header words a well-formed message zeroes */
	u64 stores;
	int stop;
	u64 reads, taken, refused;	/* the reader's side */
};

static u64 xorshift(u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *scribble(void *arg)
{
	struct scribbler *sc = arg;
	u64 seed = 0x9e3779b97f4a7c15ULL;
	size_t w;

	while (!__atomic_load_n(&sc->stop, __ATOMIC_RELAXED)) {
		u64 r = xorshift(&seed);
		size_t off = (r >> 8) % (sc->len / 4) * 4;
		u32 v = (r & 3) ? (u32)(r >> 40) & 0x3ff : (u32)(r >> 32);

		if ((r & 0xf0) == 0x10) {
			/* Now and then a well-formed message... */
			for (w = 0; w < sc->clean_len; w += 4)
				if (w != sc->state_off)
					__atomic_store_n((u32 *)(sc->base + w), 0,
							 __ATOMIC_RELAXED);
			__atomic_store_n((u32 *)(sc->base + sc->state_off),
					 sc->state_val, __ATOMIC_RELEASE);
		} else if ((r & 0xf0) == 0x20) {
			/* ...or a state of its own making. */
			__atomic_store_n((u32 *)(sc->base + sc->state_off), v,
					 __ATOMIC_RELEASE);
		} else if (off != sc->state_off) {
			/* Mostly stores to whatever the reader may be copying. */
			__atomic_store_n((u32 *)(sc->base + off), v,
					 __ATOMIC_RELAXED);
		}
		__atomic_store_n(&sc->stores, sc->stores + 1, __ATOMIC_RELAXED);
		if (!(sc->stores % 1024))
			sched_yield();
	}
	return NULL;
}

static int scribble_start(struct scribbler *sc, pthread_t *t)
{
	sc->stop = 0;
	sc->stores = 0;
	return pthread_create(t, NULL, scribble, sc);
}

/*
 * Keep reading until this side has read 10^5 times and the peer has made
 * 10^5 stores (either may run far ahead of the other on a busy machine),
 * for 20 s at most.
 */
static bool scribble_busy(struct scribbler *sc, u64 reads, time_t t0)
{
	return (reads < 100000 ||
		__atomic_load_n(&sc->stores, __ATOMIC_RELAXED) < 100000) &&
	       time(NULL) - t0 < 20;
}

/* Count one take's result; true if it took a message (to be checked). */
static bool scribble_took(struct scribbler *sc, int ret)
{
	sc->refused += ret == -EPROTO;
	sc->taken += !ret;
	return !ret;
}

/* Stop the peer; how often each path ran depends on scheduling: logged. */
static void scribble_stop(struct __test_metadata *_metadata,
			  struct scribbler *sc, pthread_t t)
{
	__atomic_store_n(&sc->stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	TH_LOG("%llu reads: %llu taken, %llu refused; %llu peer stores",
	       (unsigned long long)sc->reads, (unsigned long long)sc->taken,
	       (unsigned long long)sc->refused, (unsigned long long)sc->stores);
}

TEST_F(win, hostile_peer_rewrites_api_slot_while_taken)
{
	struct kvm_soc_api_hdr *h = ksoc_api_slot(self->w, &self->l, 2);
	struct scribbler sc = {
		.base = (u8 *)h, .len = self->l.api_slot_size,
		.state_off = offsetof(struct kvm_soc_api_hdr, state),
		.state_val = KVM_SOC_API_REQ,
		.clean_len = sizeof(*h),
	};
	struct ksoc_api_msg m;
	time_t t0 = time(NULL);
	u8 buf[512];
	pthread_t t;
	int ret;

	ASSERT_EQ(0, scribble_start(&sc, &t));
	while (scribble_busy(&sc, sc.reads++, t0)) {
		ret = ksoc_api_take(self->w, &self->l, 2, &m, buf, sizeof(buf));
		ASSERT_TRUE(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
		if (scribble_took(&sc, ret))
			ASSERT_LE(m.len, sizeof(buf));
	}
	scribble_stop(_metadata, &sc, t);
}

TEST_F(win, hostile_peer_rewrites_ioreq_slot_while_taken)
{
	struct kvm_soc_ioreq *s = ksoc_ioreq_slot(self->w, &self->l, 1);
	struct scribbler sc = {
		.base = (u8 *)s, .len = self->l.ioreq_slot_size,
		.state_off = offsetof(struct kvm_soc_ioreq, hdr.state),
		.state_val = KVM_SOC_IOREQ_READY,
		.clean_len = sizeof(s->hdr),
	};
	static struct ksoc_ioreq_msg m;
	time_t t0 = time(NULL);
	pthread_t t;
	int ret;

	ASSERT_EQ(0, scribble_start(&sc, &t));
	while (scribble_busy(&sc, sc.reads++, t0)) {
		/* vcpu_id 0, seq 0: what a zeroed header names. */
		ret = ksoc_ioreq_take(s, 0, 0, &m);
		ASSERT_TRUE(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
		if (scribble_took(&sc, ret))
			ASSERT_LE(m.data_len, KVM_SOC_IOREQ_DATA_SIZE);
	}
	scribble_stop(_metadata, &sc, t);
}

TEST_HARNESS_MAIN
