/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The KVM ioctls kvm-soc forwards, and how their argument is sized.  Both
 * cores use this one table: soc-kvm to decide what to send, host-kvm to
 * decide what it will execute (anything not here is refused on both
 * sides).  Ioctls with file descriptors or user pointers inside their
 * argument are not here; they get explicit handling elsewhere.
 */
#ifndef _KSOC_KVM_IOCTL_H
#define _KSOC_KVM_IOCTL_H

#include <linux/kvm.h>

/**
 * enum ksoc_ioc_kind - how an ioctl's argument crosses the channel.
 * @KSOC_IOC_FIXED: _IOC_SIZE bytes, in if _IOC_WRITE, out if _IOC_READ.
 * @KSOC_IOC_SCALAR: the argument is a value (8 bytes in), no memory.
 * @KSOC_IOC_CPUID2: struct kvm_cpuid2: 8-byte header with nent, then
 *	nent 40-byte entries; in for SET, header-in entries-out for GET.
 * @KSOC_IOC_MSRS: struct kvm_msrs: 8-byte header with nmsrs, then nmsrs
 *	16-byte entries, in and out.
 * @KSOC_IOC_MSR_LIST: struct kvm_msr_list: 4-byte nmsrs in, then nmsrs
 *	4-byte indices out.
 * @KSOC_IOC_XSAVE: struct kvm_xsave sized by KVM_CAP_XSAVE2 (>= 4096).
 * @KSOC_IOC_INOUT: _IOC_SIZE bytes in and out whatever the direction bits
 *	say (KVM_SET_IRQCHIP is declared _IOR but reads its argument).
 * @KSOC_IOC_ROUTING: struct kvm_irq_routing: 8-byte header with nr, then nr
 *	routing entries, in.
 * @KSOC_IOC_REINJECT: KVM_REINJECT_CONTROL, declared _IO but reading a
 *	struct kvm_reinject_control: in.
 * @KSOC_IOC_PMU_FILTER: struct kvm_pmu_event_filter, sized by nevents
 *	(its second 32-bit word): in; past KVM's limit only the header goes,
 *	for the host's KVM to refuse (E2BIG, after its other checks).
 * @KSOC_IOC_NESTED: struct kvm_nested_state, sized by its size field (the
 *	second 32-bit word) within [header, KSOC_MAX_NESTED_STATE]: in and
 *	out for GET (KVM writes only part of it; the caller's other bytes
 *	come back as they were), in for SET.
 */
enum ksoc_ioc_kind {
	KSOC_IOC_FIXED,
	KSOC_IOC_SCALAR,
	KSOC_IOC_CPUID2,
	KSOC_IOC_MSRS,
	KSOC_IOC_MSR_LIST,
	KSOC_IOC_XSAVE,
	KSOC_IOC_INOUT,
	KSOC_IOC_ROUTING,
	KSOC_IOC_NESTED,
	KSOC_IOC_REINJECT,
	KSOC_IOC_PMU_FILTER,
};

/* The fd level an ioctl is valid on. */
#define KSOC_LVL_SYS	1
#define KSOC_LVL_VM	2
#define KSOC_LVL_VCPU	4

#define KSOC_MAX_CPUID_ENTRIES	256
#define KSOC_MAX_MSR_ENTRIES	256
#define KSOC_MAX_MSR_LIST	1024
/*
 * Routes of 48 bytes: 1024 fill 48 KiB of the host's 64 KiB staging
 * buffer (KVM allows 4096).  Without KVM_SOC_F_BULK_ARGS a 16 KiB API
 * slot holds 339.
 */
#define KSOC_MAX_ROUTES		1024
/* The largest nested state x86 KVM has: VMX's header, vmcs12, shadow vmcs12. */
#define KSOC_MAX_NESTED_STATE	(sizeof(struct kvm_nested_state) + 2 * 4096)
/* KVM_PMU_EVENT_FILTER_MAX_EVENTS (not in the UAPI header). */
#define KSOC_MAX_PMU_EVENTS	300

/**
 * struct ksoc_kvm_ioctl - one forwarded ioctl.
 * @cmd: the KVM ioctl number.
 * @levels: KSOC_LVL_* it is valid on.
 * @kind: enum ksoc_ioc_kind.
 * @name: for logs.
 */
struct ksoc_kvm_ioctl {
	unsigned int cmd;
	u8 levels;
	u8 kind;
	const char *name;
};

extern const struct ksoc_kvm_ioctl ksoc_kvm_ioctls[];
extern const unsigned int ksoc_kvm_nr_ioctls;
extern const unsigned int ksoc_kvm_caps[];
extern const unsigned int ksoc_kvm_nr_caps;
extern const unsigned int ksoc_kvm_enable_caps[];
extern const unsigned int ksoc_kvm_nr_enable_caps;
extern const unsigned int ksoc_kvm_vcpu_enable_caps[];
extern const unsigned int ksoc_kvm_nr_vcpu_enable_caps;
bool ksoc_attr_carried(unsigned int level, unsigned int cmd, u32 group, u64 attr);
bool ksoc_is_attr_ioctl(unsigned int cmd);

const struct ksoc_kvm_ioctl *ksoc_kvm_ioctl_find(unsigned int cmd,
						 unsigned int level);
/* Where the 32-bit count or size that sizes a variable argument lies. */
static inline unsigned int ksoc_ioc_first_off(const struct ksoc_kvm_ioctl *d)
{
	if (d->kind == KSOC_IOC_NESTED)
		return offsetof(struct kvm_nested_state, size);
	if (d->kind == KSOC_IOC_PMU_FILTER)
		return offsetof(struct kvm_pmu_event_filter, nevents);
	return 0;
}

int ksoc_ioc_sizes(const struct ksoc_kvm_ioctl *d, u32 first, u32 xsave_size,
		   u32 *in, u32 *out);
bool ksoc_cap_in(const unsigned int *caps, unsigned int n, unsigned int cap);

/* The most vCPUs one kvm-soc VM window has slots for in ABI v0. */
#define KSOC_MAX_VCPUS		32
/* VM-level API slots per VM window; vCPU n uses slot KSOC_VM_API_SLOTS + n. */
#define KSOC_VM_API_SLOTS	4
#define KSOC_VM_API_SLOT_SIZE	(16 * 1024)
/* Event channels (irqfds + ioeventfds) per VM window. */
#define KSOC_VM_EVENTS		256
/* Posted-write ring entries per VM window (coalesced MMIO/PIO writes). */
#define KSOC_VM_POSTED		256

#endif /* _KSOC_KVM_IOCTL_H */
