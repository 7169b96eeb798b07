// SPDX-License-Identifier: GPL-2.0
/*
 * soc-kvm: the SoC half of kvm-soc.
 *
 * Exposes /dev/kvm-soc and reaches the host through a transport's API
 * channel.  At attach it validates the host's window and shakes hands
 * (KVM_SOC_OP_HELLO); KVM's own ioctls are added on top of soc_api_call().
 *
 * Lock order:
 *   soc_kvm_lock (attach/detach, and readers of soc_kvm_chan)
 *     sc->slot_lock (API slot allocation)
 *       sc->t->lock (doorbell connect, in ksoc_transport.h)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kvm.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "ksoc_chan.h"
#include "ksoc_transport.h"

#define SOC_FEATURES		BIT_ULL(KVM_SOC_F_HEARTBEAT)
#define SOC_API_TIMEOUT_MS	5000

/**
 * struct soc_kvm_chan - SoC-side state of one transport.
 * @t: the transport.
 * @l: validated private copy of the host's control-window layout.
 * @slot_lock: protects @slots_busy.
 * @slots_busy: API slots owned by a caller between post and collect.
 * @slot_wq: callers waiting for a free slot or for their response.
 * @next_id: request id generator.
 * @failed: the host broke the protocol or stopped answering.
 * @features: negotiated KVM_SOC_F_* bits.
 * @hello: the host's answer to HELLO, copied out and validated.
 * @heartbeat_work: advances the SoC heartbeat.
 * @heartbeat: last heartbeat value written.
 */
struct soc_kvm_chan {
	struct ksoc_transport *t;
	struct ksoc_layout l;
	spinlock_t slot_lock; /* protects @slots_busy */
	DECLARE_BITMAP(slots_busy, KSOC_API_MAX_SLOTS);
	wait_queue_head_t slot_wq;
	atomic64_t next_id;
	bool failed;
	u64 features;
	struct kvm_soc_hello hello;
	struct delayed_work heartbeat_work;
	u64 heartbeat;
};

static DEFINE_MUTEX(soc_kvm_lock);
static struct soc_kvm_chan *soc_kvm_chan;	/* under soc_kvm_lock */

static struct kvm_soc_window_hdr *sc_hdr(struct soc_kvm_chan *sc)
{
	return ksoc_hdr(sc->t->ctrl_win);
}

static void sc_fail(struct soc_kvm_chan *sc, const char *why)
{
	if (xchg(&sc->failed, true))
		return;
	WRITE_ONCE(sc_hdr(sc)->soc.state, cpu_to_le32(KVM_SOC_PEER_FAILED));
	pr_err_ratelimited("%s: control window failed: %s\n", sc->t->name, why);
	wake_up_all(&sc->slot_wq);
}

static int sc_get_slot(struct soc_kvm_chan *sc, u32 *slot)
{
	unsigned long bit;

	spin_lock(&sc->slot_lock);
	bit = find_first_zero_bit(sc->slots_busy, sc->l.api_nr_slots);
	if (bit < sc->l.api_nr_slots)
		__set_bit(bit, sc->slots_busy);
	spin_unlock(&sc->slot_lock);
	if (bit >= sc->l.api_nr_slots)
		return -EAGAIN;
	*slot = bit;
	return 0;
}

static void sc_put_slot(struct soc_kvm_chan *sc, u32 slot)
{
	spin_lock(&sc->slot_lock);
	__clear_bit(slot, sc->slots_busy);
	spin_unlock(&sc->slot_lock);
	wake_up_all(&sc->slot_wq);
}

/* Wait condition of soc_api_call(): the response is in, or the channel died. */
static bool sc_collected(struct soc_kvm_chan *sc, u32 slot,
			 struct ksoc_api_msg *m, void *resp, u32 cap, int *ret)
{
	if (READ_ONCE(sc->failed))
		return true;
	*ret = ksoc_api_collect(sc->t->ctrl_win, &sc->l, slot, m->request_id,
				m, resp, cap);
	return *ret != -EAGAIN;
}

/**
 * soc_api_call - one synchronous request on the API channel.
 * @sc: channel.
 * @m: in: op, target, flags, arg, len; out: the response header.
 * @req: request payload (@m->len bytes).
 * @resp: response payload buffer.
 * @cap: bytes at @resp.
 *
 * A host that does not answer within SOC_API_TIMEOUT_MS fails the channel:
 * its slot can never be reused safely.
 *
 * Return: 0 with @m->result set by the host; -EIO when the channel is
 * (or becomes) failed; -EINVAL for a request too large for a slot.
 */
static int soc_api_call(struct soc_kvm_chan *sc, struct ksoc_api_msg *m,
			const void *req, void *resp, u32 cap)
{
	u64 id = atomic64_inc_return(&sc->next_id);
	long left;
	u32 slot;
	int ret;

	if (READ_ONCE(sc->failed))
		return -EIO;
	wait_event(sc->slot_wq,
		   READ_ONCE(sc->failed) || !sc_get_slot(sc, &slot));
	if (READ_ONCE(sc->failed))
		return -EIO;

	m->request_id = id;
	ret = ksoc_api_post(sc->t->ctrl_win, &sc->l, slot, m, req);
	if (ret) {
		sc_put_slot(sc, slot);
		return ret;
	}
	sc->t->kick(sc->t, KSOC_VEC_CTRL);

	left = wait_event_timeout(sc->slot_wq,
				  sc_collected(sc, slot, m, resp, cap, &ret),
				  msecs_to_jiffies(SOC_API_TIMEOUT_MS));
	if (!left) {
		sc_fail(sc, "host did not answer");
		return -EIO;
	}
	if (READ_ONCE(sc->failed))
		return -EIO;
	if (ret) {
		sc_fail(sc, "malformed response");
		return -EIO;
	}
	sc_put_slot(sc, slot);
	return 0;
}

static int sc_hello(struct soc_kvm_chan *sc)
{
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_HELLO,
		.arg = KVM_SOC_ABI_VERSION,
	};
	struct kvm_soc_hello h;
	unsigned int i;
	int ret;

	ret = soc_api_call(sc, &m, NULL, &h, sizeof(h));
	if (ret)
		return ret;
	if (m.result)
		return m.result < 0 && m.result >= -MAX_ERRNO ? m.result : -EIO;
	if (m.len != sizeof(h) || m.op != KVM_SOC_OP_HELLO || h.reserved0)
		return -EPROTO;
	for (i = 0; i < ARRAY_SIZE(h.reserved); i++)
		if (h.reserved[i])
			return -EPROTO;
	if (le32_to_cpu(h.abi_version) != KVM_SOC_ABI_VERSION ||
	    le64_to_cpu(h.host_features) != sc->l.host_features)
		return -EPROTO;
	sc->hello = h;
	return 0;
}

static void sc_heartbeat_work(struct work_struct *work)
{
	struct soc_kvm_chan *sc = container_of(to_delayed_work(work),
					       struct soc_kvm_chan,
					       heartbeat_work);

	WRITE_ONCE(sc_hdr(sc)->soc.heartbeat, cpu_to_le64(++sc->heartbeat));
	schedule_delayed_work(&sc->heartbeat_work,
			      msecs_to_jiffies(KVM_SOC_HEARTBEAT_MS / 2));
}

/* Doorbell from the host: any context. */
static void sc_doorbell(struct ksoc_transport *t, unsigned int vec)
{
	struct soc_kvm_chan *sc = t->core;

	if (vec == KSOC_VEC_CTRL) {
		if (le32_to_cpu(READ_ONCE(sc_hdr(sc)->host.state)) ==
		    KVM_SOC_PEER_FAILED)
			WRITE_ONCE(sc->failed, true);
		wake_up_all(&sc->slot_wq);
	}
}

/**
 * soc_kvm_attach - connect /dev/kvm-soc to a host through a transport.
 * @t: the SoC side of a transport, with its control window mapped.
 *
 * Return: 0; -ENXIO when the host is not UP; -EPROTO or -EPROTONOSUPPORT
 * for a window or handshake this SoC cannot use; -EBUSY when a transport
 * is already attached; -EIO when the host does not answer.
 */
int soc_kvm_attach(struct ksoc_transport *t)
{
	struct soc_kvm_chan *sc;
	u32 host_state;
	int ret;

	sc = kzalloc(sizeof(*sc), GFP_KERNEL);
	if (!sc)
		return -ENOMEM;
	sc->t = t;
	spin_lock_init(&sc->slot_lock);
	init_waitqueue_head(&sc->slot_wq);
	INIT_DELAYED_WORK(&sc->heartbeat_work, sc_heartbeat_work);

	mutex_lock(&soc_kvm_lock);
	ret = -EBUSY;
	if (soc_kvm_chan)
		goto err_unlock;
	/* Pairs with the host's release of UP after formatting. */
	host_state = le32_to_cpu(smp_load_acquire(&ksoc_hdr(t->ctrl_win)->host.state));
	ret = -ENXIO;
	if (host_state != KVM_SOC_PEER_UP)
		goto err_unlock;
	ret = ksoc_window_parse(t->ctrl_win, t->ctrl_size, &sc->l);
	if (ret)
		goto err_unlock;
	ret = -EPROTO;
	if (sc->l.window_id != 0)
		goto err_unlock;

	sc->features = sc->l.host_features & SOC_FEATURES;
	WRITE_ONCE(sc_hdr(sc)->soc.abi_version, cpu_to_le32(KVM_SOC_ABI_VERSION));
	WRITE_ONCE(sc_hdr(sc)->soc.soc_features, cpu_to_le64(sc->features));
	/* Publishes abi_version and soc_features before UP. */
	smp_store_release(&sc_hdr(sc)->soc.state, cpu_to_le32(KVM_SOC_PEER_UP));
	t->core = sc;
	ksoc_transport_set_doorbell(t, sc_doorbell);

	ret = sc_hello(sc);
	if (ret)
		goto err_down;
	schedule_delayed_work(&sc->heartbeat_work, 0);
	soc_kvm_chan = sc;
	mutex_unlock(&soc_kvm_lock);
	pr_info("%s: attached, host ABI %u, host KVM API %u\n", t->name,
		le32_to_cpu(sc->hello.abi_version),
		le32_to_cpu(sc->hello.kvm_api_version));
	return 0;

err_down:
	pr_err("%s: handshake with the host failed: %d\n", t->name, ret);
	ksoc_transport_set_doorbell(t, NULL);
	WRITE_ONCE(sc_hdr(sc)->soc.state, cpu_to_le32(KVM_SOC_PEER_DOWN));
	t->core = NULL;
err_unlock:
	mutex_unlock(&soc_kvm_lock);
	kfree(sc);
	return ret;
}
EXPORT_SYMBOL_GPL(soc_kvm_attach);

/**
 * soc_kvm_detach - disconnect /dev/kvm-soc from its transport.
 * @t: a transport attached with soc_kvm_attach().
 */
void soc_kvm_detach(struct ksoc_transport *t)
{
	struct soc_kvm_chan *sc = t->core;

	mutex_lock(&soc_kvm_lock);
	soc_kvm_chan = NULL;
	ksoc_transport_set_doorbell(t, NULL);
	cancel_delayed_work_sync(&sc->heartbeat_work);
	WRITE_ONCE(sc_hdr(sc)->soc.state, cpu_to_le32(KVM_SOC_PEER_DOWN));
	t->core = NULL;
	mutex_unlock(&soc_kvm_lock);
	kfree(sc);
	pr_info("%s: detached\n", t->name);
}
EXPORT_SYMBOL_GPL(soc_kvm_detach);

static long soc_dev_ioctl_get_info(void __user *argp)
{
	struct kvm_soc_info info;
	struct soc_kvm_chan *sc;
	u32 argsz;

	if (get_user(argsz, (u32 __user *)argp))
		return -EFAULT;
	if (argsz < sizeof(info))
		return -EINVAL;
	if (copy_from_user(&info, argp, sizeof(info)))
		return -EFAULT;
	if (info.flags)
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info);
	mutex_lock(&soc_kvm_lock);
	sc = soc_kvm_chan;
	if (!sc) {
		mutex_unlock(&soc_kvm_lock);
		return -ENXIO;
	}
	info.abi_version = KVM_SOC_ABI_VERSION;
	info.host_abi_version = le32_to_cpu(sc->hello.abi_version);
	info.features = sc->features;
	info.host_heartbeat = le64_to_cpu(READ_ONCE(sc_hdr(sc)->host.heartbeat));
	info.kvm_api_version = le32_to_cpu(sc->hello.kvm_api_version);
	strscpy(info.transport, sc->t->name, sizeof(info.transport));
	mutex_unlock(&soc_kvm_lock);

	return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
}

static long soc_dev_ioctl(struct file *filp, unsigned int cmd,
			  unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	long ret;

	switch (cmd) {
	case KVM_SOC_GET_ABI_VERSION:
		if (arg)
			return -EINVAL;
		mutex_lock(&soc_kvm_lock);
		ret = soc_kvm_chan ? KVM_SOC_ABI_VERSION : -ENXIO;
		mutex_unlock(&soc_kvm_lock);
		return ret;
	case KVM_SOC_GET_INFO:
		return soc_dev_ioctl_get_info(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations soc_dev_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= soc_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice soc_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "kvm-soc",
	.fops	= &soc_dev_fops,
	.mode	= 0660,
};

static int __init soc_kvm_init(void)
{
	return misc_register(&soc_dev);
}

static void __exit soc_kvm_exit(void)
{
	misc_deregister(&soc_dev);
}

module_init(soc_kvm_init);
module_exit(soc_kvm_exit);

MODULE_DESCRIPTION("kvm-soc SoC side: the KVM ABI on /dev/kvm-soc");
MODULE_LICENSE("GPL");
