// SPDX-License-Identifier: GPL-2.0
/*
 * API calls from the SoC on any window, and the generic forwarding of the
 * KVM ioctls listed in ksoc_kvm_ioctls[].
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "soc.h"

void soc_chan_init(struct soc_chan *c, struct ksoc_transport *t, void *win,
		   const struct ksoc_layout *l, u32 nr_shared)
{
	c->t = t;
	c->win = win;
	c->l = *l;
	c->id = l->window_id;
	c->nr_shared = nr_shared;
	spin_lock_init(&c->slot_lock);
	bitmap_zero(c->slots_busy, KSOC_API_MAX_SLOTS);
	bitmap_zero(c->slots_lost, KSOC_API_MAX_SLOTS);
	init_waitqueue_head(&c->wq);
	atomic64_set(&c->next_id, 0);
	c->failed = false;
	c->host_heartbeat = &ksoc_hdr(t->ctrl_win)->host.heartbeat;
	c->on_fail = NULL;
	c->parent = NULL;
	c->bulk_sk = NULL;
	mutex_init(&c->bulk_lock);
	c->bulk_obj = NULL;
}

/*
 * Free the channel's object for large ioctls, if it has one.  @sk: the
 * transport it is on (caller holds soc_kvm_rwsem for read), or NULL when
 * the host is gone and freed it with everything else.
 */
void soc_chan_bulk_free(struct soc_chan *c, struct soc_kvm *sk)
{
	if (c->bulk_obj)
		soc_bulk_free(sk, c->bulk_obj);
	c->bulk_obj = NULL;
}

bool soc_host_alive(struct soc_chan *c, u64 *last, unsigned long *since)
{
	u64 now = le64_to_cpu(READ_ONCE(*c->host_heartbeat));

	if (now != *last) {
		*last = now;
		*since = jiffies;
		return true;
	}
	return time_before(jiffies, *since + msecs_to_jiffies(SOC_HOST_DEAD_MS));
}

void soc_chan_fail(struct soc_chan *c, const char *why)
{
	if (xchg(&c->failed, true))
		return;
	WRITE_ONCE(ksoc_hdr(c->win)->soc.state, cpu_to_le32(KVM_SOC_PEER_FAILED));
	pr_err_ratelimited("window %u failed: %s\n", c->id, why);
	wake_up_all(&c->wq);
	if (c->on_fail)
		c->on_fail(c);
}

/* The channel is unusable: failed here, or failed/down on the host. */
bool soc_chan_dead(struct soc_chan *c)
{
	if (READ_ONCE(c->failed))
		return true;
	if (c->parent && soc_chan_dead(c->parent))
		return true;
	return le32_to_cpu(READ_ONCE(ksoc_hdr(c->win)->host.state)) !=
	       KVM_SOC_PEER_UP;
}

static void soc_put_slot(struct soc_chan *c, u32 slot)
{
	spin_lock(&c->slot_lock);
	__clear_bit(slot, c->slots_busy);
	spin_unlock(&c->slot_lock);
	wake_up_all(&c->wq);
}

/*
 * Shared slots whose callers were killed come back once the host has
 * answered: collect (and discard) each late response, under @slot_lock
 * so that two callers never collect the same one.  Any context that may
 * not sleep is fine (it runs inside wait conditions).
 */
static void soc_reclaim_lost(struct soc_chan *c)
{
	struct ksoc_api_msg m;
	bool bad = false;
	unsigned long bit;
	int ret;

	if (bitmap_empty(c->slots_lost, c->nr_shared))
		return;
	spin_lock(&c->slot_lock);
	for_each_set_bit(bit, c->slots_lost, c->nr_shared) {
		ret = ksoc_api_collect(c->win, &c->l, bit, c->lost_id[bit], &m,
				       NULL, 0);
		if (ret == -EAGAIN)
			continue;
		bad |= ret != 0;
		__clear_bit(bit, c->slots_lost);
		if (!ret)
			__clear_bit(bit, c->slots_busy);
	}
	spin_unlock(&c->slot_lock);
	if (bad)
		soc_chan_fail(c, "malformed late response");
}

static bool soc_get_slot(struct soc_chan *c, u32 *slot)
{
	unsigned long bit;

	soc_reclaim_lost(c);
	spin_lock(&c->slot_lock);
	bit = find_first_zero_bit(c->slots_busy, c->nr_shared);
	if (bit < c->nr_shared)
		__set_bit(bit, c->slots_busy);
	spin_unlock(&c->slot_lock);
	if (bit >= c->nr_shared)
		return false;
	*slot = bit;
	return true;
}

/* Wait condition of soc_chan_wait(): the response is in, or death. */
static bool soc_collected(struct soc_chan *c, u32 slot, struct ksoc_api_msg *m,
			  void *resp, u32 cap, int *ret)
{
	if (soc_chan_dead(c))
		return true;
	*ret = ksoc_api_collect(c->win, &c->l, slot, m->request_id, m, resp, cap);
	return *ret != -EAGAIN;
}

/*
 * Wait for the response to @m->request_id in @slot (discarded if @resp is
 * NULL).  The host's liveness bounds the wait: its heartbeat is checked
 * every KVM_SOC_HEARTBEAT_MS, and a host that stopped for SOC_HOST_DEAD_MS
 * fails the window (a timeout for a dead peer, not for a missed wakeup:
 * doorbells wake @wq).  With @killable, a fatal signal ends the wait with
 * -EINTR and the request still the host's.
 */
static int soc_chan_wait(struct soc_chan *c, u32 slot, struct ksoc_api_msg *m,
			 void *resp, u32 cap, bool killable)
{
	unsigned long hb = msecs_to_jiffies(KVM_SOC_HEARTBEAT_MS);
	unsigned long since = jiffies;
	u64 beat = 0;
	int ret = 0;
	long w;

#define SOC_COLLECTED soc_collected(c, slot, m, resp, cap, &ret)
	for (;;) {
		if (killable)
			w = wait_event_killable_timeout(c->wq, SOC_COLLECTED, hb);
		else
			w = wait_event_timeout(c->wq, SOC_COLLECTED, hb);
		if (w > 0)
			break;
		if (w < 0)
			return -EINTR;
		if (!soc_host_alive(c, &beat, &since)) {
			soc_chan_fail(c, "host stopped (heartbeat)");
			return -EIO;
		}
	}
#undef SOC_COLLECTED
	if (soc_chan_dead(c))
		return -EIO;
	if (ret) {
		soc_chan_fail(c, "malformed response");
		return -EIO;
	}
	return 0;
}

/**
 * soc_chan_call_slot - one synchronous request in a slot the caller owns.
 * @c: channel.
 * @slot: the slot.
 * @m: in: op, target, flags, arg, arg2, len; out: the response header.
 * @req: request payload (@m->len bytes).
 * @resp: response payload buffer.
 * @cap: bytes at @resp.
 * @killable: a fatal signal may end the wait (ioctls of a process that is
 *	dying; never for calls that release host resources).
 *
 * A slot whose caller was killed stays lost until the host has answered
 * that request: the next call in it first collects the late response.
 *
 * Return: 0 with @m->result set by the host; -EIO when the window is (or
 * becomes) dead; -EINTR after a fatal signal (the slot is then lost);
 * -EINVAL for a request too large for a slot.
 */
int soc_chan_call_slot(struct soc_chan *c, u32 slot, struct ksoc_api_msg *m,
		       const void *req, void *resp, u32 cap, bool killable)
{
	struct ksoc_api_msg late;
	int ret;

	if (soc_chan_dead(c))
		return -EIO;
	if (test_bit(slot, c->slots_lost)) {
		late.request_id = c->lost_id[slot];
		ret = soc_chan_wait(c, slot, &late, NULL, 0, killable);
		if (ret)
			return ret;
		spin_lock(&c->slot_lock);
		__clear_bit(slot, c->slots_lost);
		spin_unlock(&c->slot_lock);
	}
	m->request_id = atomic64_inc_return(&c->next_id);
	ret = ksoc_api_post(c->win, &c->l, slot, m, req);
	if (ret)
		return ret;
	c->t->kick(c->t, c->id);
	ret = soc_chan_wait(c, slot, m, resp, cap, killable);
	if (ret == -EINTR) {
		spin_lock(&c->slot_lock);
		c->lost_id[slot] = m->request_id;
		__set_bit(slot, c->slots_lost);
		spin_unlock(&c->slot_lock);
	}
	return ret;
}

static int __soc_chan_call(struct soc_chan *c, struct ksoc_api_msg *m,
			   const void *req, void *resp, u32 cap, bool killable)
{
	u32 slot;
	int ret;

	if (wait_event_killable(c->wq, soc_chan_dead(c) || soc_get_slot(c, &slot)))
		return -EINTR;
	if (soc_chan_dead(c))
		return -EIO;
	ret = soc_chan_call_slot(c, slot, m, req, resp, cap, killable);
	/*
	 * A slot whose request got no answer is never reused; a lost one
	 * comes back through soc_get_slot() once answered.
	 */
	if (ret != -EIO && ret != -EINTR)
		soc_put_slot(c, slot);
	return ret;
}

/*
 * As soc_chan_call_slot(), in a shared slot allocated for the call; not
 * killable once posted (releases, VM creation: the host must finish).
 */
int soc_chan_call(struct soc_chan *c, struct ksoc_api_msg *m,
		  const void *req, void *resp, u32 cap)
{
	return __soc_chan_call(c, m, req, resp, cap, false);
}

/* As soc_chan_call(), for ioctls a fatal signal may abandon. */
int soc_chan_call_killable(struct soc_chan *c, struct ksoc_api_msg *m,
			   const void *req, void *resp, u32 cap)
{
	return __soc_chan_call(c, m, req, resp, cap, true);
}

/* A host result as an ioctl return value; garbage becomes -EIO. */
long soc_result(s64 r)
{
	if (r < -MAX_ERRNO || r > INT_MAX)
		return -EIO;
	return r;
}

/*
 * KVM_CHECK_EXTENSION: only what kvm-soc carries; the rest is 0.
 * @features: the negotiated KVM_SOC_F_* bits.
 */
long soc_check_extension(struct soc_chan *c, u64 features, u32 op,
			 unsigned long cap)
{
	long r;

	if (!ksoc_cap_in(ksoc_kvm_caps, ksoc_kvm_nr_caps, cap))
		return 0;
	/* Its bitmaps need the bulk path (dirty.c). */
	if (cap == KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 &&
	    !(features & BIT_ULL(KVM_SOC_F_DIRTY_LOG)))
		return 0;
	/* The host's dirty rings come over at exits (dirty.c). */
	if ((cap == KVM_CAP_DIRTY_LOG_RING || cap == KVM_CAP_DIRTY_LOG_RING_ACQ_REL) &&
	    !(features & BIT_ULL(KVM_SOC_F_DIRTY_RING)))
		return 0;
	/* Coalesced writes come through the posted-write ring (vm.c). */
	if ((cap == KVM_CAP_COALESCED_MMIO || cap == KVM_CAP_COALESCED_PIO) &&
	    !(features & BIT_ULL(KVM_SOC_F_POSTED_WRITES)))
		return 0;
	r = soc_fwd_ioctl(c, op, 0, -1, op == KVM_SOC_OP_SYS_IOCTL ?
			  KSOC_LVL_SYS : KSOC_LVL_VM, KVM_CHECK_EXTENSION, cap,
			  0, 0);
	switch (cap) {
	case KVM_CAP_NR_VCPUS:
	case KVM_CAP_MAX_VCPUS:
	case KVM_CAP_MAX_VCPU_ID:
		if (r > KSOC_MAX_VCPUS)
			r = KSOC_MAX_VCPUS;
		break;
	case KVM_CAP_COALESCED_MMIO:
		/* The page of our own vCPU mapping that has the ring. */
		if (r > 0)
			r = KVM_COALESCED_MMIO_PAGE_OFFSET;
		break;
	case KVM_CAP_NESTED_STATE:
		/* No more than an argument of the NESTED kind can carry. */
		if (r > KSOC_MAX_NESTED_STATE)
			r = 0;
		break;
	}
	return r;
}

/* Ioctls sized by a count or size in their argument (ksoc_ioc_first_off()). */
static bool first_sized(const struct ksoc_kvm_ioctl *d)
{
	return d->kind == KSOC_IOC_CPUID2 || d->kind == KSOC_IOC_MSRS ||
	       d->kind == KSOC_IOC_MSR_LIST || d->kind == KSOC_IOC_ROUTING ||
	       d->kind == KSOC_IOC_NESTED || d->kind == KSOC_IOC_PMU_FILTER;
}

/*
 * Make the request @m, with the @in bytes of its argument at @buf, through
 * the channel's object instead of a slot (KVM_SOC_API_F_BULK), and bring
 * its output back into @buf: @m->len is the output's length on return, at
 * most @out.  The object grows to the largest call so far.  A call the
 * caller abandoned (-EINTR) or that went with its window (-EIO) leaves
 * the object to the host, which may still write into it: it is given up
 * (the host keeps it until it is done), and a later call makes another.
 */
static int soc_call_bulk(struct soc_chan *c, int slot, struct ksoc_api_msg *m,
			 u8 *buf, u32 in, u32 out)
{
	u64 need = PAGE_ALIGN(max(in, out));
	struct soc_kvm *sk = c->bulk_sk;
	struct soc_hmem *b;
	int ret;

	if (mutex_lock_killable(&c->bulk_lock))
		return -EINTR;
	if (!c->bulk_obj || soc_bulk_size(c->bulk_obj) < need) {
		b = soc_bulk_alloc(sk, need);
		ret = PTR_ERR_OR_ZERO(b);
		if (ret)
			goto out;
		soc_chan_bulk_free(c, sk);
		c->bulk_obj = b;
	}
	ret = in ? soc_bulk_copy(sk, c->bulk_obj, 0, buf, in, true) : 0;
	if (ret)
		goto out;
	m->flags = KVM_SOC_API_F_BULK;
	m->arg2 = KVM_SOC_MEM_TOKEN(soc_bulk_handle(c->bulk_obj), 0);
	m->len = 0;
	if (slot < 0)
		ret = soc_chan_call_killable(c, m, NULL, NULL, 0);
	else
		ret = soc_chan_call_slot(c, slot, m, NULL, NULL, 0, true);
	if (ret == -EINTR || ret == -EIO) {
		soc_chan_bulk_free(c, sk);
		goto out;
	}
	if (ret)
		goto out;
	/* The output is in the object; the response says how much. */
	if (m->len || m->arg2 > out) {
		soc_chan_fail(c, "oversized ioctl output");
		ret = -EIO;
		goto out;
	}
	m->len = m->arg2;
	if (m->len)
		ret = soc_bulk_copy(sk, c->bulk_obj, 0, buf, m->len, false);
out:
	mutex_unlock(&c->bulk_lock);
	return ret;
}

/**
 * __soc_fwd_ioctl - forward one table ioctl to the host.
 * @c: the window.
 * @op: KVM_SOC_OP_{SYS,VM,VCPU}_IOCTL.
 * @target: op target (vCPU index for vCPU ioctls).
 * @slot: a dedicated slot the caller owns, or -1 for a shared one.
 * @level: KSOC_LVL_* of the file the ioctl came in on.
 * @cmd: the ioctl number.
 * @arg: its argument (a user pointer, or a value for scalar ioctls).
 * @xsave_size: the VM's KVM_CAP_XSAVE2 size.
 * @token: transport memory token of the caller (system ioctls), or 0.
 * @karg: the argument as the caller already copied it in (it was checked:
 *	it must be what is forwarded, not a second fetch of user memory), or
 *	NULL to copy it from @arg.  Only for ioctls without output.
 *
 * An argument or output larger than a slot goes through the channel's
 * object where the window takes that (soc_call_bulk()); elsewhere it is
 * -E2BIG.
 *
 * Return: what the host's KVM returned; for an ioctl kvm-soc does not
 * carry what x86 KVM answers one it does not know: -ENOTTY on a VM, -EINVAL
 * on the system and vCPU files; -EFAULT, -E2BIG, -EIO.
 */
static long __soc_fwd_ioctl(struct soc_chan *c, u32 op, u32 target, int slot,
			    unsigned int level, unsigned int cmd, unsigned long arg,
			    u32 xsave_size, u64 token, const void *karg)
{
	void __user *argp = (void __user *)arg;
	const struct ksoc_kvm_ioctl *d;
	struct ksoc_api_msg m = {
		.op = op, .target = target, .arg = cmd, .arg2 = token,
	};
	u32 in, out, first = 0, off;
	bool bulk;
	long r;
	u8 *buf;
	int ret;

	d = ksoc_kvm_ioctl_find(cmd, level);
	if (!d)	/* what x86 KVM answers an ioctl it does not know there */
		return level == KSOC_LVL_VM ? -ENOTTY : -EINVAL;
	/* The variable kinds size themselves by a count or size in them. */
	off = ksoc_ioc_first_off(d);
	if (first_sized(d) && karg)
		memcpy(&first, (const u8 *)karg + off, sizeof(first));
	else if (first_sized(d) && get_user(first, (u32 __user *)(argp + off)))
		return -EFAULT;
	ret = ksoc_ioc_sizes(d, first, xsave_size, &in, &out);
	if (ret)
		return ret;
	if (karg && out)
		return -EINVAL;
	bulk = in > ksoc_api_payload_max(&c->l) || out > ksoc_api_payload_max(&c->l);
	if (bulk && (!c->bulk_sk || karg || d->kind == KSOC_IOC_SCALAR ||
		     op == KVM_SOC_OP_SYS_IOCTL))
		return -E2BIG;

	buf = kvmalloc(max3(in, out, (u32)sizeof(u64)), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (d->kind == KSOC_IOC_SCALAR) {
		__le64 v = cpu_to_le64(arg);

		memcpy(buf, &v, sizeof(v));
	} else if (karg) {
		memcpy(buf, karg, in);
	} else if (in && copy_from_user(buf, argp, in)) {
		r = -EFAULT;
		goto out;
	} else if (first_sized(d) && in >= off + sizeof(first)) {
		/*
		 * The count was fetched once, above, and sized the call: the
		 * host gets that count, whatever the caller's memory says now
		 * (another thread may have rewritten it since).
		 */
		memcpy(buf + off, &first, sizeof(first));
	}
	m.len = in;
	if (bulk)
		ret = soc_call_bulk(c, slot, &m, buf, in, out);
	else if (slot < 0)
		ret = soc_chan_call_killable(c, &m, buf, buf, out);
	else
		ret = soc_chan_call_slot(c, slot, &m, buf, buf, out, true);
	if (ret) {
		r = ret;
		goto out;
	}
	r = soc_result(m.result);
	if (m.len > out) {
		soc_chan_fail(c, "oversized ioctl output");
		r = -EIO;
	} else if (r >= 0 && m.len && copy_to_user(argp, buf, m.len)) {
		r = -EFAULT;
	} else if (r == -E2BIG &&
		   (d->kind == KSOC_IOC_MSR_LIST || d->kind == KSOC_IOC_NESTED) &&
		   m.len >= off + sizeof(u32) &&
		   copy_to_user(argp + off, buf + off, sizeof(u32))) {
		/* KVM reports the needed count or size before failing with E2BIG. */
		r = -EFAULT;
	}
out:
	kvfree(buf);
	return r;
}

/* Forward a table ioctl whose argument is in the caller's memory at @arg. */
long soc_fwd_ioctl(struct soc_chan *c, u32 op, u32 target, int slot,
		   unsigned int level, unsigned int cmd, unsigned long arg,
		   u32 xsave_size, u64 token)
{
	return __soc_fwd_ioctl(c, op, target, slot, level, cmd, arg, xsave_size,
			       token, NULL);
}

/* Forward a table ioctl whose argument the caller fetched (and checked). */
long soc_fwd_ioctl_kern(struct soc_chan *c, u32 op, unsigned int level,
			unsigned int cmd, const void *karg, u32 xsave_size, u64 token)
{
	return __soc_fwd_ioctl(c, op, 0, -1, level, cmd, 0, xsave_size, token, karg);
}

/**
 * soc_fwd_attr - KVM_HAS/GET/SET_DEVICE_ATTR, for the attributes kvm-soc
 *	carries (ksoc_attr_carried()): the u64 at attr.addr travels after the
 *	struct; the struct goes with addr 0.
 * @c: the window.
 * @op: KVM_SOC_OP_SYS_IOCTL or KVM_SOC_OP_VCPU_IOCTL.
 * @target: the vCPU index (vCPU ioctls).
 * @slot: the vCPU's own slot, or -1 for a shared one.
 * @level: KSOC_LVL_SYS or KSOC_LVL_VCPU.
 * @cmd: the ioctl.
 * @arg: the caller's struct kvm_device_attr.
 *
 * Return: KVM's result; -ENXIO for an attribute not carried, as KVM says
 * for one it does not have; -EFAULT as KVM for an unreadable struct or a
 * value it cannot read or write.
 */
long soc_fwd_attr(struct soc_chan *c, u32 op, u32 target, int slot,
		  unsigned int level, unsigned int cmd, unsigned long arg)
{
	struct ksoc_api_msg m = { .op = op, .target = target, .arg = cmd };
	struct {
		struct kvm_device_attr a;
		u64 val;
	} req;
	u64 __user *uval;
	u64 val = 0;
	long r;
	int ret;

	if (copy_from_user(&req.a, (void __user *)arg, sizeof(req.a)))
		return -EFAULT;
	if (!ksoc_attr_carried(level, cmd, req.a.group, req.a.attr))
		return level == KSOC_LVL_SYS && cmd == KVM_SET_DEVICE_ATTR ?
		       -EINVAL : -ENXIO;
	uval = u64_to_user_ptr(req.a.addr);
	req.a.addr = 0;
	m.len = sizeof(req.a);
	if (cmd == KVM_SET_DEVICE_ATTR) {
		if (get_user(req.val, uval))
			return -EFAULT;
		m.len += sizeof(req.val);
	}
	if (slot < 0)
		ret = soc_chan_call_killable(c, &m, &req, &val, sizeof(val));
	else
		ret = soc_chan_call_slot(c, slot, &m, &req, &val, sizeof(val), true);
	if (ret)
		return ret;
	r = soc_result(m.result);
	if (r || cmd != KVM_GET_DEVICE_ATTR)
		return r;
	if (m.len != sizeof(val)) {
		soc_chan_fail(c, "device attribute of the wrong size");
		return -EIO;
	}
	return put_user(val, uval) ? -EFAULT : 0;
}
