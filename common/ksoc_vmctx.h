/* SPDX-License-Identifier: GPL-2.0 */
/*
 * host-kvm's private interface to its own helper process
 * (tools/kvm-soc-vmctx.c): not part of /dev/kvm-soc's ABI, so it lives
 * here rather than in include/uapi/.  Both ends are built from this tree.
 */
#ifndef _KSOC_VMCTX_H
#define _KSOC_VMCTX_H

#ifdef __KERNEL__
#include <linux/ioctl.h>
#else
#include <sys/ioctl.h>
#endif

/*
 * KSOC_VMCTX_ENTER - _IO, on a host-kvm context file, from a thread of the
 * helper process.  The thread serves host-kvm inside the kernel and
 * returns 1 to ask for one more thread, 2 to ask for an eventfd, 0 when it
 * is done, or -EINTR after a signal (enter again).  The argument is 0,
 * except on the entry after a 2: the new eventfd's number + 1, or the
 * negative errno of eventfd(2).
 */
#define KSOC_VMCTX_ENTER	_IO(0xB9, 0xF0)

#endif /* _KSOC_VMCTX_H */
