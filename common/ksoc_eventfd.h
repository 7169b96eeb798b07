/* SPDX-License-Identifier: GPL-2.0 */
/*
 * eventfd helpers for both cores: one spelling for the kernels kvm-soc
 * builds against (eventfd_signal() lost its count argument in 6.8).
 */
#ifndef _KSOC_EVENTFD_H
#define _KSOC_EVENTFD_H

#include <linux/eventfd.h>
#include <linux/version.h>

/* Add @n to an eventfd's counter and wake its readers. */
static inline void ksoc_eventfd_add(struct eventfd_ctx *ctx, u64 n)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	while (n--)
		eventfd_signal(ctx);
#else
	eventfd_signal(ctx, n);
#endif
}

#endif /* _KSOC_EVENTFD_H */
