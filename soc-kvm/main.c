// SPDX-License-Identifier: GPL-2.0
/*
 * soc-kvm: the SoC half of kvm-soc.
 *
 * Exposes /dev/kvm-soc with KVM's ioctl ABI and reaches the host through a
 * transport.  At attach it validates the host's control window and shakes
 * hands (KVM_SOC_OP_HELLO).  System ioctls are answered here or forwarded
 * on the control window; KVM_CREATE_VM makes a VM with a window of its own
 * (vm.c).
 *
 * Lock order:
 *   soc_vcpu.mutex (vm.c: a vCPU ioctl takes it first, as KVM's
 *   vcpu->mutex, and holds it across KVM_RUN)
 *     soc_kvm_rwsem (write: attach/detach; read: every file operation)
 *       soc_vm.lock (vm.c: VM ioctls; never held with a vCPU's mutex)
 *         soc_chan.slot_lock (chan.c)
 *           ksoc_transport.lock (doorbell connect)
 *       soc_hmem_sync_lock (mem.c: KVM_RUN's sync of written pages)
 *         soc_hmem_list_lock (mem.c; held across that sync's host calls)
 *           soc_chan.slot_lock
 * Attach and detach take soc_kvm_rwsem for writing and no vCPU mutex, so a
 * vCPU sleeping in KVM_RUN (mutex and rwsem for read held) is woken by
 * detach marking its window dead before detach waits for the rwsem.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kvm.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pgtable.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ksoc_mem.h"
#include "soc.h"

/*
 * The ABI version KVM_SOC_GET_ABI_VERSION reports.  Fault injection for
 * tests (debugfs soc-kvm/abi_version): userspace sees a SoC of another
 * ABI version while the wire keeps speaking this one.
 */
static u32 soc_abi_version = KVM_SOC_ABI_VERSION;
/*
 * Fault injection (debugfs soc-kvm/features_off): KVM_SOC_F_* bits the
 * next attach refuses, as a SoC whose transport lacks them would.
 */
static u64 soc_features_off;
/*
 * Fault injection (debugfs soc-kvm/mem_token_fault): a non-zero value is
 * added to the token of every memory slot soc-kvm names to the host with
 * KVM_SOC_F_HOST_MEMORY, and of every dirty bitmap's object, as a hostile
 * SoC would name memory that is not its object's.
 */
u64 soc_mem_token_fault;
static struct dentry *soc_debugfs;

static bool huge_pages = true;
module_param(huge_pages, bool, 0444);
MODULE_PARM_DESC(huge_pages, "back guest memory (memory objects, RAM the transport moves) with transparent huge pages (default on)");

/*
 * Guest memory lives in shmem files on a private tmpfs mount with
 * huge=within_size (as i915 keeps its objects), so whoever maps it, the
 * SoC's processes and on the loop transport the host's KVM, maps it with
 * 2 MiB pages, as KVM maps a VMM's anonymous THP memory.  NULL: no THP,
 * or turned off; the kernel's internal shmem mount then.
 */
static struct vfsmount *soc_mem_mnt;

/**
 * soc_kvm_mem_file - an unlinked shmem file for guest memory.
 * @name: its name (shown in /proc/<pid>/maps).
 * @size: bytes.
 *
 * Used for memory objects and by transports that move a VMM's private
 * guest RAM into a shared file (the loop).  Returns the file or an
 * ERR_PTR().
 */
struct file *soc_kvm_mem_file(const char *name, loff_t size)
{
	return ksoc_mem_file(soc_mem_mnt, name, size);
}
EXPORT_SYMBOL_GPL(soc_kvm_mem_file);

#define SOC_FEATURES		(BIT_ULL(KVM_SOC_F_HEARTBEAT) | \
				 BIT_ULL(KVM_SOC_F_POSTED_WRITES) | \
				 BIT_ULL(KVM_SOC_F_VCPU_WINDOWS))

DECLARE_RWSEM(soc_kvm_rwsem);
struct soc_kvm *soc_kvm;
/* Attaches so far (under soc_kvm_rwsem, written). */
static u64 soc_kvm_gen;

static struct kvm_soc_window_hdr *sk_hdr(struct soc_kvm *sk)
{
	return ksoc_hdr(sk->t->ctrl_win);
}

static int sk_hello(struct soc_kvm *sk)
{
	struct ksoc_api_msg m = {
		.op = KVM_SOC_OP_HELLO,
		.arg = KVM_SOC_ABI_VERSION,
	};
	struct kvm_soc_hello h;
	unsigned int i;
	int ret;

	ret = soc_chan_call(&sk->ctrl, &m, NULL, &h, sizeof(h));
	if (ret)
		return ret;
	if (m.result)
		return soc_result(m.result) < 0 ? soc_result(m.result) : -EIO;
	if (m.len != sizeof(h) || m.op != KVM_SOC_OP_HELLO || h.reserved0)
		return -EPROTO;
	for (i = 0; i < ARRAY_SIZE(h.reserved); i++)
		if (h.reserved[i])
			return -EPROTO;
	if (le32_to_cpu(h.abi_version) != KVM_SOC_ABI_VERSION ||
	    le64_to_cpu(h.host_features) != sk->ctrl.l.host_features)
		return -EPROTO;
	sk->hello = h;
	return 0;
}

static void sk_heartbeat_work(struct work_struct *work)
{
	struct soc_kvm *sk = container_of(to_delayed_work(work),
					  struct soc_kvm, heartbeat_work);

	WRITE_ONCE(sk_hdr(sk)->soc.heartbeat, cpu_to_le64(++sk->heartbeat));
	schedule_delayed_work(&sk->heartbeat_work,
			      msecs_to_jiffies(KVM_SOC_HEARTBEAT_MS / 2));
}

/* Doorbell from the host: any context. */
static void sk_doorbell(struct ksoc_transport *t, unsigned int vec)
{
	struct soc_kvm *sk = t->core;

	if (vec == KSOC_VEC_CTRL)
		wake_up_all(&sk->ctrl.wq);
	else
		soc_vm_doorbell(sk, vec);
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
	struct kvm_soc_window_hdr *hdr = ksoc_hdr(t->ctrl_win);
	struct ksoc_layout l;
	struct soc_kvm *sk;
	int ret;

	sk = kzalloc(sizeof(*sk), GFP_KERNEL);
	if (!sk)
		return -ENOMEM;
	sk->t = t;
	xa_init(&sk->vms);
	xa_init(&sk->vcpu_wins);
	INIT_DELAYED_WORK(&sk->heartbeat_work, sk_heartbeat_work);

	down_write(&soc_kvm_rwsem);
	ret = -EBUSY;
	if (soc_kvm)
		goto err_unlock;
	ret = -ENXIO;
	/* Pairs with the host's release of UP after formatting. */
	if (le32_to_cpu(smp_load_acquire(&hdr->host.state)) != KVM_SOC_PEER_UP)
		goto err_unlock;
	ret = ksoc_window_parse(t->ctrl_win, t->ctrl_size, &l);
	if (ret)
		goto err_unlock;
	ret = -EPROTO;
	if (l.window_id != 0)
		goto err_unlock;
	soc_chan_init(&sk->ctrl, t, t->ctrl_win, &l, l.api_nr_slots);

	/* Host memory needs a way to reach it, and to copy into it. */
	sk->features = l.host_features & (SOC_FEATURES |
		(t->dma_phys && t->dma_copy ? BIT_ULL(KVM_SOC_F_HOST_MEMORY) : 0));
	/*
	 * Dirty bitmaps, dirty ring entries and ioctl bytes too large for a
	 * slot go by the bulk path.
	 */
	if (t->dma_copy)
		sk->features |= l.host_features & (BIT_ULL(KVM_SOC_F_DIRTY_LOG) |
						   BIT_ULL(KVM_SOC_F_DIRTY_RING) |
						   BIT_ULL(KVM_SOC_F_BULK_ARGS));
	/* The host's rewrite of what we wrote: only if our writes need it. */
	if (soc_host_memory(sk) && t->sync_writes)
		sk->features |= l.host_features & BIT_ULL(KVM_SOC_F_MEM_WRITTEN);
	if (soc_host_memory(sk) && t->sync_writes &&
	    !(sk->features & BIT_ULL(KVM_SOC_F_MEM_WRITTEN)))
		pr_warn("%s: the host cannot store what we write again: guests may run stale code\n",
			t->name);
	sk->features &= ~READ_ONCE(soc_features_off);
	/* Both travel through the dirty log's kind of memory objects. */
	if (!(sk->features & BIT_ULL(KVM_SOC_F_DIRTY_LOG)))
		sk->features &= ~(BIT_ULL(KVM_SOC_F_DIRTY_RING) |
				  BIT_ULL(KVM_SOC_F_BULK_ARGS));
	sk->gen = ++soc_kvm_gen;
	WRITE_ONCE(hdr->soc.abi_version, cpu_to_le32(KVM_SOC_ABI_VERSION));
	WRITE_ONCE(hdr->soc.soc_features, cpu_to_le64(sk->features));
	/* Publishes abi_version and soc_features before UP. */
	smp_store_release(&hdr->soc.state, cpu_to_le32(KVM_SOC_PEER_UP));
	t->core = sk;
	ksoc_transport_set_doorbell(t, sk_doorbell);

	ret = sk_hello(sk);
	if (ret)
		goto err_down;
	schedule_delayed_work(&sk->heartbeat_work, 0);
	soc_kvm = sk;
	up_write(&soc_kvm_rwsem);
	pr_info("%s: attached, host ABI %u, host KVM API %u\n", t->name,
		le32_to_cpu(sk->hello.abi_version),
		le32_to_cpu(sk->hello.kvm_api_version));
	return 0;

err_down:
	pr_err("%s: handshake with the host failed: %d\n", t->name, ret);
	ksoc_transport_set_doorbell(t, NULL);
	WRITE_ONCE(hdr->soc.state, cpu_to_le32(KVM_SOC_PEER_DOWN));
	t->core = NULL;
err_unlock:
	up_write(&soc_kvm_rwsem);
	kfree(sk);
	return ret;
}
EXPORT_SYMBOL_GPL(soc_kvm_attach);

/**
 * soc_kvm_detach - disconnect /dev/kvm-soc from its transport.
 * @t: a transport attached with soc_kvm_attach().
 *
 * Open VM and vCPU files stay valid and answer -EIO; sleepers in KVM_RUN
 * or in an API call are woken first so the write lock can be taken.
 */
void soc_kvm_detach(struct ksoc_transport *t)
{
	struct soc_kvm *sk = t->core;

	soc_vm_kill_all(sk);
	WRITE_ONCE(sk->ctrl.failed, true);
	wake_up_all(&sk->ctrl.wq);

	down_write(&soc_kvm_rwsem);
	soc_kvm = NULL;
	ksoc_transport_set_doorbell(t, NULL);
	cancel_delayed_work_sync(&sk->heartbeat_work);
	soc_vm_detach_all(sk);
	xa_destroy(&sk->vms);
	xa_destroy(&sk->vcpu_wins);
	/* The host frees what it allocated: no SoC process may reach it. */
	soc_hmem_revoke(sk->gen);
	WRITE_ONCE(sk_hdr(sk)->soc.state, cpu_to_le32(KVM_SOC_PEER_DOWN));
	t->core = NULL;
	up_write(&soc_kvm_rwsem);
	kfree(sk);
	pr_info("%s: detached\n", t->name);
}
EXPORT_SYMBOL_GPL(soc_kvm_detach);

/* Caller holds soc_kvm_rwsem for read. */
static long soc_dev_get_info(struct soc_kvm *sk, void __user *argp)
{
	struct kvm_soc_info info;
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
	info.abi_version = KVM_SOC_ABI_VERSION;
	info.host_abi_version = le32_to_cpu(sk->hello.abi_version);
	info.features = sk->features;
	info.host_heartbeat = le64_to_cpu(READ_ONCE(sk_hdr(sk)->host.heartbeat));
	info.kvm_api_version = le32_to_cpu(sk->hello.kvm_api_version);
	strscpy(info.transport, sk->t->name, sizeof(info.transport));
	return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * A guest-memory object: shmem the SoC process (and others it passes the
 * fd to) maps; on the loop transport its pages are the guest's, so they
 * come from a huge=within_size mount and host KVM maps them with 2 MiB
 * pages (as it maps a VMM's anonymous THP memory).  When the SoC is another
 * machine (KVM_SOC_F_HOST_MEMORY) it is host memory instead (mem.c).
 */
static long soc_dev_create_memory(struct soc_kvm *sk, void __user *argp)
{
	struct kvm_soc_create_memory req;
	struct file *file;
	int fd;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.argsz != sizeof(req) || req.flags || req.reserved[0] ||
	    req.reserved[1] || !req.size || !PAGE_ALIGNED(req.size) ||
	    req.size > MAX_LFS_FILESIZE)
		return -EINVAL;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	if (soc_host_memory(sk))
		file = soc_hmem_create(sk, req.size);
	else
		file = soc_kvm_mem_file("kvm-soc-mem", req.size);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	fd_install(fd, file);
	return fd;
}

/* A system ioctl from the table. */
static long soc_dev_fwd(struct soc_kvm *sk, unsigned int cmd, unsigned long arg)
{
	return soc_fwd_ioctl(&sk->ctrl, KVM_SOC_OP_SYS_IOCTL, 0, -1, KSOC_LVL_SYS,
			     cmd, arg, 0, 0);
}

static long soc_dev_ioctl(struct file *filp, unsigned int cmd,
			  unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	struct soc_kvm *sk;
	long r;

	down_read(&soc_kvm_rwsem);
	sk = soc_kvm;
	r = -ENXIO;
	if (!sk)
		goto out;
	r = -EIO;
	if (soc_chan_dead(&sk->ctrl))
		goto out;

	switch (cmd) {
	case KVM_SOC_GET_ABI_VERSION:
		r = arg ? -EINVAL : (long)READ_ONCE(soc_abi_version);
		break;
	case KVM_SOC_GET_INFO:
		r = soc_dev_get_info(sk, argp);
		break;
	case KVM_SOC_CREATE_MEMORY:
		/* Memory the host could never reach is no guest memory. */
		r = sk->t->mem_export || soc_host_memory(sk) ?
		    soc_dev_create_memory(sk, argp) : -EOPNOTSUPP;
		break;
	case KVM_GET_API_VERSION:
		if (arg)
			r = -EINVAL;
		else if (le32_to_cpu(sk->hello.kvm_api_version) != KVM_API_VERSION)
			r = -ENODEV;	/* the host has no usable KVM */
		else
			r = KVM_API_VERSION;
		break;
	case KVM_GET_VCPU_MMAP_SIZE:
		r = arg ? -EINVAL : SOC_VCPU_MMAP_PAGES * PAGE_SIZE;
		break;
	case KVM_CHECK_EXTENSION:
		r = soc_check_extension(&sk->ctrl, sk->features,
					KVM_SOC_OP_SYS_IOCTL, arg);
		break;
	case KVM_CREATE_VM:
		r = soc_vm_create(sk, arg);
		break;
	case KVM_HAS_DEVICE_ATTR:
	case KVM_GET_DEVICE_ATTR:
		r = soc_fwd_attr(&sk->ctrl, KVM_SOC_OP_SYS_IOCTL, 0, -1,
				 KSOC_LVL_SYS, cmd, arg);
		break;
	default:
		/*
		 * As x86 KVM: -EINVAL for what it does not know, of any type
		 * but kvm-soc's own.
		 */
		if (_IOC_TYPE(cmd) == KVMIO)
			r = soc_dev_fwd(sk, cmd, arg);
		else
			r = _IOC_TYPE(cmd) == KVM_SOC_IO ? -ENOTTY : -EINVAL;
		break;
	}
out:
	up_read(&soc_kvm_rwsem);
	return r;
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
	int ret;

	ret = soc_hmem_init();
	if (ret)
		return ret;
	soc_mem_mnt = ksoc_mem_mount(huge_pages);
	ret = misc_register(&soc_dev);
	if (ret) {
		ksoc_mem_umount(soc_mem_mnt);
		soc_hmem_exit();
		return ret;
	}
	/* Optional: without debugfs the override just does not exist. */
	soc_debugfs = debugfs_create_dir("soc-kvm", NULL);
	debugfs_create_u32("abi_version", 0600, soc_debugfs, &soc_abi_version);
	debugfs_create_u64("mem_token_fault", 0600, soc_debugfs, &soc_mem_token_fault);
	debugfs_create_u64("features_off", 0600, soc_debugfs, &soc_features_off);
	soc_hmem_debugfs(soc_debugfs);
	return 0;
}

static void __exit soc_kvm_exit(void)
{
	debugfs_remove_recursive(soc_debugfs);
	misc_deregister(&soc_dev);
	ksoc_mem_umount(soc_mem_mnt);
	soc_hmem_exit();
}

module_init(soc_kvm_init);
module_exit(soc_kvm_exit);

MODULE_DESCRIPTION("kvm-soc SoC side: the KVM ABI on /dev/kvm-soc");
MODULE_LICENSE("GPL");
