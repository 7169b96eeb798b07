// SPDX-License-Identifier: GPL-2.0
/*
 * host-kvm: the host half of kvm-soc.
 *
 * Serves the API channel of each attached transport: takes the SoC's
 * requests out of the control window, executes them against the host's
 * stock KVM, and answers.  There is no policy here; every request is
 * validated, executed or refused.
 *
 * Lock order:
 *   host_kvm_lock (attach/detach)
 *     hk->transport->lock (doorbell connect, in ksoc_transport.h)
 *
 * The API work item is the only reader of request slots and the only
 * writer of responses and of the host status line, so the window itself
 * needs no lock on this side.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kvm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "ksoc_chan.h"
#include "ksoc_transport.h"

/* Control window: 16 API slots of 16 KiB. */
#define HK_CTRL_API_SLOTS	16
#define HK_CTRL_API_SLOT_SIZE	(16 * 1024)

/**
 * struct host_kvm - host-side state of one transport.
 * @t: the transport.
 * @l: layout of the control window, as the host wrote it.
 * @api_work: serves the API slots; queued by doorbells.
 * @heartbeat_work: advances the host heartbeat.
 * @heartbeat: last heartbeat value written.
 * @failed: the SoC broke the protocol; the window is dead.
 * @buf: request/response payload buffer, used by @api_work only.
 */
struct host_kvm {
	struct ksoc_transport *t;
	struct ksoc_layout l;
	struct work_struct api_work;
	struct delayed_work heartbeat_work;
	u64 heartbeat;
	bool failed;
	u8 *buf;
};

static DEFINE_MUTEX(host_kvm_lock);

static struct kvm_soc_window_hdr *hk_hdr(struct host_kvm *hk)
{
	return ksoc_hdr(hk->t->ctrl_win);
}

/* Only from @api_work. */
static void hk_fail(struct host_kvm *hk, const char *why, u32 slot)
{
	hk->failed = true;
	WRITE_ONCE(hk_hdr(hk)->host.state, cpu_to_le32(KVM_SOC_PEER_FAILED));
	pr_err_ratelimited("%s: control window failed: %s (slot %u)\n",
			   hk->t->name, why, slot);
}

/* The host's KVM API version, read from stock KVM through its device. */
static u32 hk_kvm_api_version(void)
{
	struct file *kvm;
	long ret;

	kvm = filp_open("/dev/kvm", O_RDWR | O_CLOEXEC, 0);
	if (IS_ERR(kvm))
		return 0;
	ret = -ENOTTY;
	if (kvm->f_op->unlocked_ioctl)
		ret = kvm->f_op->unlocked_ioctl(kvm, KVM_GET_API_VERSION, 0);
	fput(kvm);
	return ret > 0 ? ret : 0;
}

static s64 hk_op_hello(struct host_kvm *hk, struct ksoc_api_msg *m)
{
	struct kvm_soc_hello *hello = (struct kvm_soc_hello *)hk->buf;

	if (m->len || m->flags || m->target)
		return -EINVAL;
	if (m->arg != KVM_SOC_ABI_VERSION)
		return -EPROTONOSUPPORT;

	memset(hello, 0, sizeof(*hello));
	hello->abi_version = cpu_to_le32(KVM_SOC_ABI_VERSION);
	hello->host_features = cpu_to_le64(hk->l.host_features);
	hello->kvm_api_version = cpu_to_le32(hk_kvm_api_version());
	m->len = sizeof(*hello);
	return 0;
}

static s64 hk_dispatch(struct host_kvm *hk, struct ksoc_api_msg *m)
{
	switch (m->op) {
	case KVM_SOC_OP_HELLO:
		return hk_op_hello(hk, m);
	default:
		return -EOPNOTSUPP;
	}
}

static void hk_api_work(struct work_struct *work)
{
	struct host_kvm *hk = container_of(work, struct host_kvm, api_work);
	void *win = hk->t->ctrl_win;
	struct ksoc_api_msg m;
	bool answered = false;
	u32 i;
	int ret;

	if (hk->failed)
		return;
	for (i = 0; i < hk->l.api_nr_slots; i++) {
		ret = ksoc_api_take(win, &hk->l, i, &m, hk->buf,
				    ksoc_api_payload_max(&hk->l));
		if (ret == -EAGAIN)
			continue;
		if (ret) {
			hk_fail(hk, "malformed request", i);
			break;
		}
		m.len = 0;
		m.result = hk_dispatch(hk, &m);
		if (m.result < 0)
			m.len = 0;
		ksoc_api_complete(win, &hk->l, i, &m, hk->buf);
		answered = true;
	}
	if (answered || hk->failed)
		hk->t->kick(hk->t, KSOC_VEC_CTRL);
}

static void hk_heartbeat_work(struct work_struct *work)
{
	struct host_kvm *hk = container_of(to_delayed_work(work),
					   struct host_kvm, heartbeat_work);

	WRITE_ONCE(hk_hdr(hk)->host.heartbeat, cpu_to_le64(++hk->heartbeat));
	schedule_delayed_work(&hk->heartbeat_work,
			      msecs_to_jiffies(KVM_SOC_HEARTBEAT_MS / 2));
}

/* Doorbell from the SoC: any context. */
static void hk_doorbell(struct ksoc_transport *t, unsigned int vec)
{
	struct host_kvm *hk = t->core;

	if (vec == KSOC_VEC_CTRL)
		queue_work(system_unbound_wq, &hk->api_work);
}

/**
 * host_kvm_attach - start serving a transport's control window.
 * @t: the host side of a transport, with its control window mapped.
 *
 * Formats the control window and marks the host UP.
 *
 * Return: 0, -EINVAL when the window is too small, -ENOMEM.
 */
int host_kvm_attach(struct ksoc_transport *t)
{
	struct host_kvm *hk;
	int ret;

	hk = kzalloc(sizeof(*hk), GFP_KERNEL);
	if (!hk)
		return -ENOMEM;
	hk->t = t;
	ret = ksoc_layout_compute(&hk->l, 0, HK_CTRL_API_SLOTS,
				  HK_CTRL_API_SLOT_SIZE, 0, 0,
				  BIT_ULL(KVM_SOC_F_HEARTBEAT));
	if (ret)
		goto err_free;
	ret = -EINVAL;
	if (hk->l.window_size > t->ctrl_size)
		goto err_free;
	/* The window is exactly the transport's, so the SoC can check it. */
	hk->l.window_size = t->ctrl_size;
	ret = -ENOMEM;
	hk->buf = kvzalloc(ksoc_api_payload_max(&hk->l), GFP_KERNEL);
	if (!hk->buf)
		goto err_free;
	INIT_WORK(&hk->api_work, hk_api_work);
	INIT_DELAYED_WORK(&hk->heartbeat_work, hk_heartbeat_work);

	mutex_lock(&host_kvm_lock);
	ksoc_window_format(t->ctrl_win, &hk->l);
	t->core = hk;
	ksoc_transport_set_doorbell(t, hk_doorbell);
	/* Publishes the description; pairs with the SoC's acquire of state. */
	smp_store_release(&hk_hdr(hk)->host.state,
			  cpu_to_le32(KVM_SOC_PEER_UP));
	schedule_delayed_work(&hk->heartbeat_work, 0);
	mutex_unlock(&host_kvm_lock);
	pr_info("%s: attached, control window %llu bytes\n", t->name,
		t->ctrl_size);
	return 0;

err_free:
	kfree(hk);
	return ret;
}
EXPORT_SYMBOL_GPL(host_kvm_attach);

/**
 * host_kvm_detach - stop serving a transport.
 * @t: a transport attached with host_kvm_attach().
 *
 * Teardown order: doorbell off -> heartbeat stopped -> API work flushed ->
 * state DOWN -> free.  After it returns nothing of host-kvm touches @t.
 */
void host_kvm_detach(struct ksoc_transport *t)
{
	struct host_kvm *hk = t->core;

	mutex_lock(&host_kvm_lock);
	ksoc_transport_set_doorbell(t, NULL);
	cancel_delayed_work_sync(&hk->heartbeat_work);
	cancel_work_sync(&hk->api_work);
	WRITE_ONCE(hk_hdr(hk)->host.state, cpu_to_le32(KVM_SOC_PEER_DOWN));
	t->core = NULL;
	mutex_unlock(&host_kvm_lock);
	kvfree(hk->buf);
	kfree(hk);
	pr_info("%s: detached\n", t->name);
}
EXPORT_SYMBOL_GPL(host_kvm_detach);

MODULE_DESCRIPTION("kvm-soc host side: stock KVM driven from a DPU SoC");
MODULE_LICENSE("GPL");
