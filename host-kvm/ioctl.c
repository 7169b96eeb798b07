// SPDX-License-Identifier: GPL-2.0
/*
 * Executing KVM ioctls for the SoC.
 *
 * Stock KVM is driven only through its files' ioctl entry points, from a
 * thread whose mm is the VM's (KVM checks kvm->mm == current->mm).  KVM
 * copies arguments with copy_{from,to}_user, so each calling thread has a
 * bounce buffer ("staging") mapped in that mm: the request payload is
 * copied there, the ioctl gets the user address, the output is copied
 * back.  Only ioctls in ksoc_kvm_ioctls[] are executed, with argument
 * sizes this side computes itself.
 */
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/uaccess.h>

#include "host.h"

long hk_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	if (!f->f_op->unlocked_ioctl)
		return -ENOTTY;
	return f->f_op->unlocked_ioctl(f, cmd, arg);
}

/* KVM_CHECK_EXTENSION, answered only for what kvm-soc carries in full. */
s64 hk_check_extension(struct file *f, unsigned long cap)
{
	if (!ksoc_cap_in(ksoc_kvm_caps, ksoc_kvm_nr_caps, cap))
		return 0;
	return hk_ioctl(f, KVM_CHECK_EXTENSION, cap);
}

/* Checks on arguments that name host resources by value. */
static int hk_check_arg(unsigned int level, unsigned int cmd, const u8 *buf)
{
	switch (cmd) {
	case KVM_ENABLE_CAP: {
		const struct kvm_enable_cap *c = (const void *)buf;

		if (level == KSOC_LVL_VCPU)
			return ksoc_cap_in(ksoc_kvm_vcpu_enable_caps,
					   ksoc_kvm_nr_vcpu_enable_caps, c->cap) ?
			       0 : -EINVAL;
		if (!ksoc_cap_in(ksoc_kvm_enable_caps,
				 ksoc_kvm_nr_enable_caps, c->cap))
			return -EINVAL;
		/* No more than the SoC reports (soc_check_extension()). */
		if (c->cap == KVM_CAP_MAX_VCPU_ID && c->args[0] > KSOC_MAX_VCPUS)
			return -EINVAL;
		return 0;
	}
#ifdef KVM_SET_USER_MEMORY_REGION2
	case KVM_SET_USER_MEMORY_REGION2: {
		const struct kvm_userspace_memory_region2 *r = (const void *)buf;

		/* A guest_memfd is a file descriptor of the SoC: never valid here. */
		if (r->flags & KVM_MEM_GUEST_MEMFD)
			return -EINVAL;
		return 0;
	}
#endif
	default:
		return 0;
	}
}

/*
 * A device attribute the SoC may name (ksoc_attr_carried()): the struct,
 * then for SET the u64 value; laid out in the helper with addr pointing
 * at the value; GET returns the value.
 */
static s64 hk_exec_attr(struct file *f, unsigned int level,
			struct ksoc_api_msg *m, u8 *buf, u32 cap,
			unsigned long staging)
{
	struct kvm_device_attr a;
	u32 len = m->len, in = sizeof(a);
	u64 val = 0;
	long r;

	m->len = 0;
	if (m->arg == KVM_SET_DEVICE_ATTR)
		in += sizeof(val);
	if (len != in || cap < sizeof(val))
		return -EINVAL;
	memcpy(&a, buf, sizeof(a));
	if (!ksoc_attr_carried(level, m->arg, a.group, a.attr))
		return -ENXIO;
	if (m->arg == KVM_SET_DEVICE_ATTR)
		memcpy(&val, buf + sizeof(a), sizeof(val));
	a.addr = staging + sizeof(a);
	if (copy_to_user((void __user *)staging, &a, sizeof(a)) ||
	    copy_to_user((void __user *)(staging + sizeof(a)), &val, sizeof(val)))
		return -EFAULT;
	r = hk_ioctl(f, m->arg, staging);
	if (r || m->arg != KVM_GET_DEVICE_ATTR)
		return r;
	if (copy_from_user(&val, (void __user *)(staging + sizeof(a)), sizeof(val)))
		return -EFAULT;
	memcpy(buf, &val, sizeof(val));
	m->len = sizeof(val);
	return 0;
}

/**
 * hk_exec_ioctl - run one forwarded ioctl.
 * @f: the KVM file (system, VM or vCPU).
 * @level: KSOC_LVL_* of @f.
 * @m: the request: @m->arg is the ioctl number, @m->len the payload bytes
 *	in @buf.  On return @m->len is the output bytes in @buf.
 * @buf: payload in and out.
 * @cap: bytes at @buf.
 * @staging: user address of a HK_STAGING_SIZE buffer in current->mm.
 * @xsave_size: the VM's KVM_CAP_XSAVE2 size.
 *
 * Return: the ioctl's result, or a negative errno for a request kvm-soc
 * does not carry (-ENOTTY) or whose payload does not match (-EINVAL).
 */
s64 hk_exec_ioctl(struct file *f, unsigned int level, struct ksoc_api_msg *m,
		  u8 *buf, u32 cap, unsigned long staging, u32 xsave_size)
{
	const struct ksoc_kvm_ioctl *d;
	void __user *uarg = (void __user *)staging;
	u32 in, out, first, len = m->len;
	long r;
	int ret;

	if (ksoc_is_attr_ioctl(m->arg))
		return hk_exec_attr(f, level, m, buf, cap, staging);
	/* No output unless the ioctl ran and produced some. */
	m->len = 0;
	d = m->arg <= U32_MAX ? ksoc_kvm_ioctl_find(m->arg, level) : NULL;
	if (!d)
		return -ENOTTY;
	first = 0;
	if (len >= ksoc_ioc_first_off(d) + sizeof(u32))
		memcpy(&first, buf + ksoc_ioc_first_off(d), sizeof(u32));
	ret = ksoc_ioc_sizes(d, first, xsave_size, &in, &out);
	if (ret)
		return ret;
	if (len != in)
		return -EINVAL;
	if (out > cap || in > HK_STAGING_SIZE || out > HK_STAGING_SIZE)
		return -E2BIG;

	if (d->kind == KSOC_IOC_SCALAR) {
		__le64 v;
		unsigned long arg;

		memcpy(&v, buf, sizeof(v));
		arg = le64_to_cpu(v);
		if (d->cmd == KVM_CHECK_EXTENSION)
			return hk_check_extension(f, arg);
		return hk_ioctl(f, d->cmd, arg);
	}

	ret = hk_check_arg(level, d->cmd, buf);
	if (ret)
		return ret;
	if (in && copy_to_user(uarg, buf, in))
		return -EFAULT;
	r = hk_ioctl(f, d->cmd, staging);
	/* Output is returned even on error: KVM fills counts before -E2BIG. */
	if (out) {
		if (copy_from_user(buf, uarg, out))
			return -EFAULT;
		m->len = out;
	}
	/*
	 * Only the entries KVM wrote: the rest of the staging buffer holds
	 * an earlier call's bytes (at system level, maybe another user's).
	 */
	if (!r && d->kind == KSOC_IOC_CPUID2 && out) {
		memcpy(&first, buf, sizeof(first));
		m->len = min_t(u32, out, sizeof(struct kvm_cpuid2) +
			       (u64)first * sizeof(struct kvm_cpuid_entry2));
	}
	/* Nested state larger than what travels is not cut short. */
	if (!r && d->kind == KSOC_IOC_NESTED && out) {
		memcpy(&first, buf + ksoc_ioc_first_off(d), sizeof(first));
		if (first > out)
			r = -E2BIG;
	}
	return r;
}
