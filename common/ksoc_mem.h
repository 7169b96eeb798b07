/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest memory files, shared by host-kvm and soc-kvm: shmem on a private
 * tmpfs mount with huge=within_size (as i915 keeps its objects), so that
 * whoever maps guest memory, KVM included, maps it with 2 MiB pages where
 * the kernel has them, as KVM maps a VMM's anonymous THP memory.
 */
#ifndef _KSOC_MEM_H
#define _KSOC_MEM_H

#include <linux/fs.h>
#include <linux/huge_mm.h>
#include <linux/mount.h>
#include <linux/shmem_fs.h>

/* The mount, or NULL (no THP, or @huge off): use the kernel's shmem mount. */
static inline struct vfsmount *ksoc_mem_mount(bool huge)
{
	char opts[] = "huge=within_size";	/* parsed in place */
	struct file_system_type *type;
	struct vfsmount *mnt;

	if (!huge || !IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) ||
	    !has_transparent_hugepage())
		return NULL;
	type = get_fs_type("tmpfs");
	if (!type)
		return NULL;
	mnt = vfs_kern_mount(type, SB_KERNMOUNT, type->name, opts);
	return IS_ERR(mnt) ? NULL : mnt;
}

static inline void ksoc_mem_umount(struct vfsmount *mnt)
{
	/* Open files keep the mount's superblock (tmpfs) alive. */
	if (mnt)
		kern_unmount(mnt);
}

/* An unlinked shmem file of @size bytes on @mnt (or the kernel's). */
static inline struct file *ksoc_mem_file(struct vfsmount *mnt,
					 const char *name, loff_t size)
{
	if (mnt)
		return shmem_file_setup_with_mnt(mnt, name, size, VM_NORESERVE);
	return shmem_file_setup(name, size, VM_NORESERVE);
}

#endif /* _KSOC_MEM_H */
