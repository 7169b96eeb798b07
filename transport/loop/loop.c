// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc loop transport: host-kvm and soc-kvm in one kernel.
 *
 * The window is ordinary kernel memory both cores map directly; a doorbell
 * is a direct call of the peer core's doorbell handler (which only wakes
 * or queues work, as an interrupt handler would).  This is the embedded
 * default: anyone with KVM can run the whole stack on one machine.
 *
 * Loading this module attaches both cores; unloading detaches them, SoC
 * first so no request is in flight when the host goes away.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/vmalloc.h>

#include "ksoc_transport.h"

static unsigned int ctrl_window_kib = 1024;
module_param(ctrl_window_kib, uint, 0444);
MODULE_PARM_DESC(ctrl_window_kib, "control window size in KiB (default 1024)");

/**
 * struct ksoc_loop - the two ends of a loop transport.
 * @host: host-kvm's end.
 * @soc: soc-kvm's end.
 * @win: the shared control window.
 */
struct ksoc_loop {
	struct ksoc_transport host;
	struct ksoc_transport soc;
	void *win;
};

static struct ksoc_loop loop;

static void loop_kick_soc(struct ksoc_transport *t, unsigned int vec)
{
	ksoc_transport_ring(&loop.soc, vec);
}

static void loop_kick_host(struct ksoc_transport *t, unsigned int vec)
{
	ksoc_transport_ring(&loop.host, vec);
}

static int __init ksoc_loop_init(void)
{
	u64 size = (u64)ctrl_window_kib * 1024;
	int ret;

	if (!size || size % PAGE_SIZE || size > SZ_64M) {
		pr_err("ctrl_window_kib=%u: must be a page multiple, at most 64 MiB\n",
		       ctrl_window_kib);
		return -EINVAL;
	}
	loop.win = vzalloc(size);
	if (!loop.win)
		return -ENOMEM;

	ksoc_transport_init(&loop.host);
	loop.host.name = "loop";
	loop.host.ctrl_win = loop.win;
	loop.host.ctrl_size = size;
	loop.host.kick = loop_kick_soc;

	ksoc_transport_init(&loop.soc);
	loop.soc.name = "loop";
	loop.soc.ctrl_win = loop.win;
	loop.soc.ctrl_size = size;
	loop.soc.kick = loop_kick_host;

	ret = host_kvm_attach(&loop.host);
	if (ret)
		goto err_free;
	ret = soc_kvm_attach(&loop.soc);
	if (ret)
		goto err_host;
	return 0;

err_host:
	host_kvm_detach(&loop.host);
err_free:
	vfree(loop.win);
	return ret;
}

static void __exit ksoc_loop_exit(void)
{
	soc_kvm_detach(&loop.soc);
	host_kvm_detach(&loop.host);
	vfree(loop.win);
}

module_init(ksoc_loop_init);
module_exit(ksoc_loop_exit);

MODULE_DESCRIPTION("kvm-soc loop transport: host and SoC in one kernel");
MODULE_LICENSE("GPL");
