// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the channel helpers: a peer that writes arbitrary
 * bytes into a window.  The input's first byte picks a mode:
 *
 *  even: bytes 1..8 choose a layout the host formats (with an event area
 *        when byte 7 is odd); the rest is a list of (offset, value)
 *        patches a hostile peer applies afterwards;
 *  odd:  the rest is the raw window image.
 *
 * Then every consumer runs over every slot and ring, as both sides would.
 * ASan/UBSan catch any out-of-bounds access; the asserts catch a helper
 * that accepts what it promised to refuse.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ksoc_chan.h"

#define WIN_MAX	(256 * 1024)

static u8 *win;
static struct ksoc_ioreq_msg iomsg;
static u8 buf[WIN_MAX];

static void exercise(void *w, const struct ksoc_layout *l)
{
	struct kvm_soc_window_hdr *h = ksoc_hdr(w);
	struct kvm_soc_posted_write pw;
	struct ksoc_api_msg m;
	struct ksoc_ring r;
	u32 i;
	int ret;

	for (i = 0; i < l->api_nr_slots; i++) {
		ret = ksoc_api_take(w, l, i, &m, buf, sizeof(buf));
		assert(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
		if (!ret) {
			assert(m.len <= ksoc_api_payload_max(l));
			m.result = -EOPNOTSUPP;
			m.len = 0;
			assert(!ksoc_api_complete(w, l, i, &m, NULL));
		}
		ret = ksoc_api_collect(w, l, i, i, &m, buf, 512);
		assert(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
		if (!ret)
			assert(m.len <= 512);
	}
	for (i = 0; i < l->ioreq_nr_slots; i++) {
		struct kvm_soc_ioreq *s = ksoc_ioreq_slot(w, l, i);

		ret = ksoc_ioreq_take(s, i, 1, &iomsg);
		assert(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
		if (!ret) {
			assert(iomsg.data_len <= KVM_SOC_IOREQ_DATA_SIZE);
			assert(!(iomsg.flags & ~KVM_SOC_IOREQ_F_VALID_MASK));
			iomsg.flags = 0;	/* completions carry none */
			assert(!ksoc_ioreq_respond(s, &iomsg));
		}
		ret = ksoc_ioreq_finish(s, i, 1, &iomsg);
		assert(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
	}
	if (l->posted_nr_entries) {
		void *e = (u8 *)w + l->posted_offset;

		assert(!ksoc_ring_init(&r, e, l->posted_nr_entries, sizeof(pw),
				       &h->host.posted_prod, &h->soc.posted_cons,
				       false));
		for (i = 0; i < 2 * l->posted_nr_entries; i++) {
			ret = ksoc_posted_consume(&r, &pw);
			assert(ret == 0 || ret == -EAGAIN || ret == -EPROTO);
			if (ret)
				break;
			if (pw.type == KVM_SOC_POSTED_PIO)
				assert(pw.len == 1 || pw.len == 2 || pw.len == 4);
			else
				assert(pw.type == KVM_SOC_POSTED_MMIO &&
				       pw.len >= 1 && pw.len <= 8);
		}
		assert(!ksoc_ring_init(&r, e, l->posted_nr_entries, sizeof(pw),
				       &h->host.posted_prod, &h->soc.posted_cons,
				       true));
		ret = ksoc_posted_produce(&r, 1, 2, 0, 4, KVM_SOC_POSTED_MMIO);
		assert(ret == 0 || ret == -ENOSPC || ret == -EPROTO);
	}
	/* The event area, read as each side reads the other's counters. */
	if (l->event_nr) {
		bool host;
		u64 c, seq;

		for (host = false; ; host = true) {
			seq = ksoc_event_peer_seq(w, l, host);
			for (i = 0; i < l->event_nr; i++) {
				ret = ksoc_event_peer_count(w, l, host, i, 0, true, &c);
				assert(ret == 0 || ret == -EPROTO);
				if (!ret)
					assert(c <= KVM_SOC_EVENT_MAX_DELTA);
				assert(!ksoc_event_peer_count(w, l, host, i, 0, false, &c));
			}
			assert(ksoc_event_peer_count(w, l, host, l->event_nr, 0,
						     false, &c) == -EINVAL);
			/* What this side publishes, the other reads. */
			i = (u32)seq % l->event_nr;
			ksoc_event_publish(w, l, host, i, seq ^ 0x5a, seq + 1);
			assert(ksoc_event_peer_seq(w, l, !host) == seq + 1);
			assert(!ksoc_event_peer_count(w, l, !host, i, 0, false, &c));
			assert(c == (seq ^ 0x5a));
			if (host)
				break;
		}
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	struct ksoc_layout l;
	size_t i;

	if (!win)
		win = aligned_alloc(4096, WIN_MAX);
	if (size < 9)
		return 0;

	if (data[0] & 1) {
		u64 wsize = ((size - 1 + 4095) / 4096) * 4096;

		if (wsize > WIN_MAX || wsize < 4096)
			return 0;
		memset(win, 0, wsize);
		memcpy(win, data + 1, size - 1);
		if (ksoc_window_parse(win, wsize, &l))
			return 0;
		assert(l.window_size == wsize);
		assert(!ksoc_layout_check(&l));
		exercise(win, &l);
		return 0;
	}

	if (ksoc_layout_compute(&l, data[1], data[2] % 17, 128 + data[3] * 64,
				data[4] % 9, data[5] ? 1u << (data[5] % 10) : 0,
				data[6]))
		return 0;
	if ((data[7] & 1) && ksoc_layout_add_events(&l, 8 * (1 + data[8] % 4)))
		return 0;
	if (l.window_size > WIN_MAX)
		return 0;
	ksoc_window_format(win, &l);
	assert(!ksoc_window_parse(win, l.window_size, &l));
	/* Patches: 3 bytes of offset (scaled into the window), 1 of value. */
	for (i = 9; i + 4 <= size; i += 4) {
		u32 off = (data[i] | data[i + 1] << 8 | data[i + 2] << 16) %
			  l.window_size;

		win[off] = data[i + 3];
	}
	if (ksoc_window_parse(win, l.window_size, &l))
		return 0;
	exercise(win, &l);
	return 0;
}
