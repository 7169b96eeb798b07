// SPDX-License-Identifier: GPL-2.0
/*
 * Helper processes.
 *
 * Stock KVM takes VM and vCPU ioctls only from the address space that made
 * the VM, and runs vCPUs only from real user threads (KVM_RUN from a kernel
 * thread or a user worker trips the x86 FPU code).  So every host-side
 * context is a tiny usermode helper, tools/kvm-soc-vmctx, started with a
 * context file as its one open descriptor.  Each of its threads calls
 * KSOC_VMCTX_ENTER and then runs host-kvm code inside the kernel:
 *
 *   the first thread     serves the window (control window, or a VM's)
 *   each later thread    becomes the vCPU at the head of @pending
 *
 * A thread comes back to userspace only to take a signal (the vCPU kick is
 * SIGUSR1), to start one more thread (return 1) or to exit (return 0).
 * When the helper dies, its context file is released and the context is
 * marked done; the owner frees what is left.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/umh.h>

#include "host.h"
#include "ksoc_vmctx.h"

#define HK_CTX_START_TIMEOUT_MS	10000

unsigned long hk_staging_map(void)
{
	unsigned long addr;

	addr = vm_mmap(NULL, 0, HK_STAGING_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	return IS_ERR_VALUE(addr) ? 0 : addr;
}

/* Queue @node (a vCPU's) for the helper's next new thread. */
void hk_ctx_add_pending(struct hk_ctx *ctx, struct list_head *node)
{
	spin_lock(&ctx->lock);
	list_add_tail(node, &ctx->pending);
	spin_unlock(&ctx->lock);
}

/* The oldest queued node, off the list, or NULL. */
struct list_head *hk_ctx_pop_pending(struct hk_ctx *ctx)
{
	struct list_head *e = NULL;

	spin_lock(&ctx->lock);
	if (!list_empty(&ctx->pending)) {
		e = ctx->pending.next;
		list_del_init(e);
	}
	spin_unlock(&ctx->lock);
	return e;
}

static long hk_ctx_ioctl(struct file *filp, unsigned int cmd,
			 unsigned long arg)
{
	struct hk_ctx *ctx = filp->private_data;
	bool first = false;
	long r;

	if (cmd != KSOC_VMCTX_ENTER)
		return -ENOTTY;

	spin_lock(&ctx->lock);
	/* A helper that checks in after its owner gave up has nothing to do. */
	if (ctx->dead && !ctx->main) {
		spin_unlock(&ctx->lock);
		return 0;
	}
	if (!ctx->main) {
		ctx->main = current;
		get_task_struct(current);
		ctx->mm = current->mm;
		mmgrab(ctx->mm);
		first = true;
	}
	spin_unlock(&ctx->lock);
	if (current->mm != ctx->mm)
		return -EPERM;
	/* Only a main thread that may ask for eventfds gets an answer. */
	if (arg && (current != ctx->main || !ctx->ops->eventfds))
		return -EINVAL;

	if (current == ctx->main) {
		if (first)
			complete(&ctx->entered);
		r = ctx->ops->main(ctx, first, arg);
		if (!r)
			complete(&ctx->done);
		return r;
	}
	return ctx->ops->thread ? ctx->ops->thread(ctx) : 0;
}

static void hk_ctx_free(struct kref *ref)
{
	kfree(container_of(ref, struct hk_ctx, ref));
}

static int hk_ctx_release(struct inode *inode, struct file *filp)
{
	struct hk_ctx *ctx = filp->private_data;

	/*
	 * The helper is gone: nothing of it runs our code any more.  If
	 * nobody asked it to go (killed, OOM), tell the SoC its window is
	 * dead so no SoC caller waits for answers that will not come.
	 */
	spin_lock(&ctx->lock);
	if (!ctx->dead && ctx->owner)
		ctx->ops->died(ctx);
	WRITE_ONCE(ctx->dead, true);
	spin_unlock(&ctx->lock);
	complete_all(&ctx->entered);
	complete_all(&ctx->done);
	kref_put(&ctx->ref, hk_ctx_free);
	return 0;
}

static const struct file_operations hk_ctx_fops = {
	.owner		= THIS_MODULE,
	.release	= hk_ctx_release,
	.unlocked_ioctl	= hk_ctx_ioctl,
	.llseek		= noop_llseek,
};

/* Runs in the new helper process before exec: give it the context file. */
static int hk_ctx_umh_init(struct subprocess_info *info, struct cred *new)
{
	struct hk_ctx *ctx = info->data;
	int fd;

	fd = get_unused_fd_flags(0);
	if (fd < 0)
		return fd;
	fd_install(fd, get_file(ctx->file));
	snprintf(ctx->fdarg, sizeof(ctx->fdarg), "%d", fd);
	return 0;
}

/**
 * hk_ctx_start - start a helper process and wait for its main thread.
 * @ops: what it serves.
 * @owner: the struct host_kvm or struct hk_vm.
 * @store: where the owner keeps its context pointer; set before the
 *	helper runs (its threads reach the context through the owner), and
 *	NULL again on failure.
 *
 * Return: 0, or an errno: the helper could not be run (its path is the
 * host-kvm module parameter "helper"), or did not check in.
 */
int hk_ctx_start(const struct hk_ctx_ops *ops, void *owner,
		 struct hk_ctx **store)
{
	static const char * const envp_const[] = {
		"PATH=/sbin:/bin:/usr/sbin:/usr/bin", NULL
	};
	struct subprocess_info *sub;
	struct hk_ctx *ctx;
	char *argv[3];
	int ret;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	kref_init(&ctx->ref);
	kref_get(&ctx->ref);		/* the file's */
	ctx->ops = ops;
	ctx->owner = owner;
	spin_lock_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->pending);
	init_completion(&ctx->entered);
	init_completion(&ctx->done);
	ctx->file = anon_inode_getfile("kvm-soc-host-ctx", &hk_ctx_fops, ctx,
				       O_RDWR);
	if (IS_ERR(ctx->file)) {
		ret = PTR_ERR(ctx->file);
		kfree(ctx);
		return ret;
	}
	*store = ctx;
	/* From here the file's release drops the file's reference. */

	argv[0] = hk_helper;
	argv[1] = ctx->fdarg;
	argv[2] = NULL;
	ret = -ENOMEM;
	sub = call_usermodehelper_setup(hk_helper, argv, (char **)envp_const,
					GFP_KERNEL, hk_ctx_umh_init, NULL, ctx);
	if (sub)
		ret = call_usermodehelper_exec(sub, UMH_WAIT_EXEC);
	/* The helper holds the file now (or never will). */
	fput(ctx->file);
	if (ret) {
		pr_err("cannot start helper %s: %d (set host-kvm's helper= parameter)\n",
		       hk_helper, ret);
		goto err;
	}
	if (!wait_for_completion_timeout(&ctx->entered,
					 msecs_to_jiffies(HK_CTX_START_TIMEOUT_MS)) ||
	    READ_ONCE(ctx->dead) || !ctx->main) {
		pr_err("helper %s did not start\n", hk_helper);
		ret = -EIO;
		goto err;
	}
	return 0;

err:
	if (hk_ctx_stop(ctx, NULL, ops->started_by_helper))
		return ret;	/* killed: the context stays with its helper */
	hk_ctx_put(ctx);
	*store = NULL;
	return ret;
}

/**
 * hk_ctx_stop - make a helper finish and wait for it.
 * @ctx: the context.
 * @wq: where its threads sleep, or NULL.
 * @killable: the caller is a helper thread itself: give up on SIGKILL.
 *
 * The owner then frees whatever the helper did not (it may have died),
 * and drops its reference with hk_ctx_put().
 */
int hk_ctx_stop(struct hk_ctx *ctx, wait_queue_head_t *wq, bool killable)
{
	struct task_struct *main;

	spin_lock(&ctx->lock);
	WRITE_ONCE(ctx->dead, true);
	main = ctx->main;
	spin_unlock(&ctx->lock);
	if (main)
		send_sig(SIGUSR1, main, 1);
	if (wq)
		wake_up_all(wq);
	/*
	 * A helper that never checked in may still exist (it exits when its
	 * first ioctl sees @dead); only a started one has work to finish.
	 */
	if (!main)
		return 0;
	if (!killable) {
		wait_for_completion(&ctx->done);
		return 0;
	}
	return wait_for_completion_killable(&ctx->done) ? -EINTR : 0;
}

void hk_ctx_put(struct hk_ctx *ctx)
{
	spin_lock(&ctx->lock);
	ctx->owner = NULL;
	spin_unlock(&ctx->lock);
	if (ctx->main)
		put_task_struct(ctx->main);
	ctx->main = NULL;
	if (ctx->mm)
		mmdrop(ctx->mm);
	ctx->mm = NULL;
	kref_put(&ctx->ref, hk_ctx_free);
}
