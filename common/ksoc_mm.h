/* SPDX-License-Identifier: GPL-2.0 */
/* vm_flags_set() for the kernels the modules build for (it came in 6.3). */
#ifndef _KSOC_MM_H
#define _KSOC_MM_H

#include <linux/mm.h>
#include <linux/version.h>

static inline void ksoc_vm_flags_set(struct vm_area_struct *vma,
				     vm_flags_t flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

#endif /* _KSOC_MM_H */
