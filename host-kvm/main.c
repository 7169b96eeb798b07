// SPDX-License-Identifier: GPL-2.0
/*
 * host-kvm: the host half of kvm-soc.
 *
 * Serves the API channel of each attached transport: takes the SoC's
 * requests out of the control window, executes them against the host's
 * stock KVM, and answers.  There is no policy here; every request is
 * validated, executed or refused.
 *
 * The control window is served by the main thread of a helper process
 * (ctx.c), because system ioctls need user memory and VM creation starts
 * more helpers; doorbells on it only wake that thread.
 *
 * Lock order:
 *   host_kvm_lock (attach/detach)
 *     hk->t->lock (doorbell connect, in ksoc_transport.h)
 *
 * The control thread is the only reader of control requests and the only
 * writer of responses, so the window needs no lock on this side.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kvm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>

#include "host.h"

char *hk_helper = "/usr/libexec/kvm-soc/kvm-soc-vmctx";
module_param_named(helper, hk_helper, charp, 0444);
MODULE_PARM_DESC(helper,
		 "path of kvm-soc-vmctx, as the kernel's usermode helpers see it");

/* Control window: 16 API slots of 16 KiB. */
#define HK_CTRL_API_SLOTS	16
#define HK_CTRL_API_SLOT_SIZE	(16 * 1024)

static DEFINE_MUTEX(host_kvm_lock);

static struct kvm_soc_window_hdr *hk_hdr(struct host_kvm *hk)
{
	return ksoc_hdr(hk->t->ctrl_win);
}

/* Only from the control thread. */
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
	ret = hk_ioctl(kvm, KVM_GET_API_VERSION, 0);
	fput(kvm);
	return ret > 0 ? ret : 0;
}

static s64 hk_op_hello(struct host_kvm *hk, struct ksoc_api_msg *m)
{
	struct kvm_soc_hello *hello = (struct kvm_soc_hello *)hk->buf;

	if (m->flags || m->target)
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

/* A system ioctl, run by the control thread with its own bounce buffer. */
static s64 hk_op_sys_ioctl(struct host_kvm *hk, struct ksoc_api_msg *m)
{
	u32 cap = ksoc_api_payload_max(&hk->l);
	struct file *kvm;
	s64 r;

	if (m->target || m->flags) {
		m->len = 0;
		return -EINVAL;
	}
	kvm = filp_open("/dev/kvm", O_RDWR | O_CLOEXEC, 0);
	if (IS_ERR(kvm)) {
		m->len = 0;
		return -ENODEV;
	}
	r = hk_exec_ioctl(kvm, KSOC_LVL_SYS, m, hk->buf, cap, hk->staging, 0);
	/* Released when this thread next passes through userspace. */
	fput(kvm);
	return r;
}

static s64 hk_dispatch(struct host_kvm *hk, struct ksoc_api_msg *m)
{
	switch (m->op) {
	case KVM_SOC_OP_HELLO:
		m->len = 0;
		return hk_op_hello(hk, m);
	case KVM_SOC_OP_SYS_IOCTL:
		return hk_op_sys_ioctl(hk, m);
	case KVM_SOC_OP_CREATE_VM:
		return hk_vm_create(hk, m, hk->buf);
	case KVM_SOC_OP_DESTROY_VM:
		m->len = 0;
		return hk_vm_destroy(hk, m->target);
	case KVM_SOC_OP_MEM_ALLOC:
		return hk_op_mem_alloc(hk, m);
	case KVM_SOC_OP_MEM_RANGES:
		return hk_op_mem_ranges(hk, m, hk->buf, ksoc_api_payload_max(&hk->l));
	case KVM_SOC_OP_MEM_FREE:
		return hk_op_mem_free(hk, m);
	case KVM_SOC_OP_MEM_WRITTEN:
		return hk_op_mem_written(hk, m, hk->buf);
	default:
		m->len = 0;
		return -EOPNOTSUPP;
	}
}

static bool hk_ctrl_has_work(struct host_kvm *hk)
{
	u32 i;

	if (READ_ONCE(hk->ctx->dead))
		return true;
	if (hk->failed)
		return false;
	for (i = 0; i < hk->l.api_nr_slots; i++)
		if (le32_to_cpu(READ_ONCE(ksoc_api_slot(hk->t->ctrl_win, &hk->l, i)->state)) ==
		    KVM_SOC_API_REQ)
			return true;
	return false;
}

static void hk_ctrl_serve(struct host_kvm *hk)
{
	void *win = hk->t->ctrl_win;
	struct ksoc_api_msg m;
	bool answered = false;
	u32 i;
	int ret;

	for (i = 0; i < hk->l.api_nr_slots && !hk->failed; i++) {
		ret = ksoc_api_take(win, &hk->l, i, &m, hk->buf,
				    ksoc_api_payload_max(&hk->l));
		if (ret == -EAGAIN)
			continue;
		if (ret) {
			hk_fail(hk, "malformed request", i);
			break;
		}
		if (hk_msg_unused_zero(&m)) {
			m.result = hk_dispatch(hk, &m);
		} else {
			m.len = 0;
			m.result = -EINVAL;
		}
		if (m.len > ksoc_api_payload_max(&hk->l))
			m.len = 0;
		ksoc_api_complete(win, &hk->l, i, &m, hk->buf);
		answered = true;
	}
	if (answered || hk->failed)
		hk->t->kick(hk->t, KSOC_VEC_CTRL);
}

/*
 * What the control helper's main thread does in the kernel.  Returns 0 at
 * detach (the helper exits), -EINTR to take a signal.
 */
static long hk_sys_main(struct hk_ctx *ctx, bool first, unsigned long arg)
{
	struct host_kvm *hk = ctx->owner;

	if (first)
		hk->staging = hk_staging_map();
	for (;;) {
		if (wait_event_interruptible(hk->wq, hk_ctrl_has_work(hk)))
			return -EINTR;
		if (READ_ONCE(hk->ctx->dead)) {
			if (hk->staging)
				vm_munmap(hk->staging, HK_STAGING_SIZE);
			hk->staging = 0;
			return 0;
		}
		if (!hk->staging) {
			hk_fail(hk, "no bounce buffer", 0);
			continue;
		}
		hk_ctrl_serve(hk);
		/*
		 * Files put by this thread (fput() defers to task work in a
		 * user thread) are released on the way through userspace.
		 */
		if (task_work_pending(current))
			return -EINTR;
	}
}

/* The control helper died on its own: every SoC caller gets -EIO now. */
static void hk_sys_died(struct hk_ctx *ctx)
{
	struct host_kvm *hk = ctx->owner;

	lockdep_assert_held(&ctx->lock);
	pr_err_ratelimited("control helper died; control window failed\n");
	WRITE_ONCE(hk_hdr(hk)->host.state, cpu_to_le32(KVM_SOC_PEER_FAILED));
	hk->t->kick(hk->t, KSOC_VEC_CTRL);
}

static const struct hk_ctx_ops hk_sys_ctx_ops = {
	.main	= hk_sys_main,
	.died	= hk_sys_died,
};

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
		wake_up_all(&hk->wq);
	else
		hk_vm_doorbell(hk, vec);
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
				  BIT_ULL(KVM_SOC_F_HEARTBEAT) |
				  BIT_ULL(KVM_SOC_F_POSTED_WRITES) |
				  BIT_ULL(KVM_SOC_F_VCPU_WINDOWS) |
				  (t->dma_addr ? BIT_ULL(KVM_SOC_F_HOST_MEMORY) |
				   BIT_ULL(KVM_SOC_F_MEM_WRITTEN) |
				   BIT_ULL(KVM_SOC_F_DIRTY_LOG) |
				   BIT_ULL(KVM_SOC_F_DIRTY_RING) |
				   BIT_ULL(KVM_SOC_F_BULK_ARGS) : 0));
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
	if (hk_mem_attach(hk)) {
		kvfree(hk->buf);
		goto err_free;
	}
	init_waitqueue_head(&hk->wq);
	xa_init(&hk->vms);
	xa_init(&hk->vcpu_wins);
	INIT_DELAYED_WORK(&hk->heartbeat_work, hk_heartbeat_work);

	mutex_lock(&host_kvm_lock);
	ksoc_window_format(t->ctrl_win, &hk->l);
	t->core = hk;
	ret = hk_ctx_start(&hk_sys_ctx_ops, hk, &hk->ctx);
	if (ret) {
		mutex_unlock(&host_kvm_lock);
		goto err_buf;
	}
	ksoc_transport_set_doorbell(t, hk_doorbell);
	/*
	 * UP publishes the description (pairs with the SoC's acquire of the
	 * state), unless the helper already died and wrote FAILED.
	 */
	spin_lock(&hk->ctx->lock);
	ret = hk->ctx->dead ? -EIO : 0;
	if (!ret)
		/* Pairs with the SoC's acquire of host.state at attach. */
		smp_store_release(&hk_hdr(hk)->host.state,
				  cpu_to_le32(KVM_SOC_PEER_UP));
	spin_unlock(&hk->ctx->lock);
	if (ret) {
		ksoc_transport_set_doorbell(t, NULL);
		hk_ctx_stop(hk->ctx, &hk->wq, false);
		hk_ctx_put(hk->ctx);
		mutex_unlock(&host_kvm_lock);
		goto err_buf;
	}
	schedule_delayed_work(&hk->heartbeat_work, 0);
	mutex_unlock(&host_kvm_lock);
	pr_info("%s: attached, control window %llu bytes\n", t->name,
		t->ctrl_size);
	return 0;

err_buf:
	t->core = NULL;
	hk_mem_detach(hk);
	kvfree(hk->buf);
err_free:
	kfree(hk);
	return ret;
}
EXPORT_SYMBOL_GPL(host_kvm_attach);

/**
 * host_kvm_detach - stop serving a transport.
 * @t: a transport attached with host_kvm_attach().
 *
 * Teardown order: doorbell off -> heartbeat stopped -> control helper
 * stopped -> every VM destroyed -> state DOWN -> free.  After it returns
 * nothing of host-kvm touches @t.
 */
void host_kvm_detach(struct ksoc_transport *t)
{
	struct host_kvm *hk = t->core;

	mutex_lock(&host_kvm_lock);
	ksoc_transport_set_doorbell(t, NULL);
	cancel_delayed_work_sync(&hk->heartbeat_work);
	/* Detach runs in insmod/rmmod context, not in a helper thread. */
	hk_ctx_stop(hk->ctx, &hk->wq, false);
	hk_ctx_put(hk->ctx);
	/* VMs a killed control helper left to the worker use @t too. */
	hk_vm_flush_frees();
	hk_vm_destroy_all(hk);
	xa_destroy(&hk->vms);
	xa_destroy(&hk->vcpu_wins);
	hk_mem_detach(hk);
	WRITE_ONCE(hk_hdr(hk)->host.state, cpu_to_le32(KVM_SOC_PEER_DOWN));
	t->core = NULL;
	mutex_unlock(&host_kvm_lock);
	kvfree(hk->buf);
	kfree(hk);
	pr_info("%s: detached\n", t->name);
}
EXPORT_SYMBOL_GPL(host_kvm_detach);

static int __init host_kvm_init(void)
{
	int ret = hk_vm_init();

	if (ret)
		return ret;
	ret = hk_mem_init();
	if (ret)
		hk_vm_exit();
	return ret;
}

static void __exit host_kvm_exit(void)
{
	hk_mem_exit();
	hk_vm_exit();
}

module_init(host_kvm_init);
module_exit(host_kvm_exit);

MODULE_DESCRIPTION("kvm-soc host side: stock KVM driven from a DPU SoC");
MODULE_LICENSE("GPL");
