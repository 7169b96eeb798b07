/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest memory as shmem files on a private tmpfs mount with
 * huge=within_size (as i915 keeps its objects): a VMM's anonymous guest
 * RAM gets transparent huge pages and KVM maps it with 2 MiB pages; guest
 * RAM made of these files gets the same, on whichever side maps them.
 * Without THP (or with huge pages turned off) the files are ordinary
 * shmem files.
 */
#ifndef _KSOC_SHMEM_H
#define _KSOC_SHMEM_H

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pgtable.h>
#include <linux/shmem_fs.h>

/* A tmpfs mount that backs files with huge pages, or NULL for none. */
static inline struct vfsmount *ksoc_shmem_mount(bool huge)
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

static inline void ksoc_shmem_umount(struct vfsmount *mnt)
{
	if (mnt)
		kern_unmount(mnt);
}

/* An unlinked shmem file of @size bytes, on @mnt if there is one. */
static inline struct file *ksoc_shmem_file(struct vfsmount *mnt,
					   const char *name, loff_t size)
{
	if (mnt)
		return shmem_file_setup_with_mnt(mnt, name, size, VM_NORESERVE);
	return shmem_file_setup(name, size, VM_NORESERVE);
}

#endif /* _KSOC_SHMEM_H */
