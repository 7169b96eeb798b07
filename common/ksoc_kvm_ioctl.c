// SPDX-License-Identifier: GPL-2.0
/*
 * The table of KVM ioctls and capabilities kvm-soc carries, shared by
 * host-kvm and soc-kvm (see ksoc_kvm_ioctl.h).
 */
#include <linux/kernel.h>
#include <linux/ioctl.h>

#include "ksoc_compat.h"
#include "ksoc_kvm_ioctl.h"

#define KSOC_IOC(c, l, k) { .cmd = (c), .levels = (l), .kind = (k), .name = #c }

const struct ksoc_kvm_ioctl ksoc_kvm_ioctls[] = {
	KSOC_IOC(KVM_CHECK_EXTENSION, KSOC_LVL_SYS | KSOC_LVL_VM, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_GET_SUPPORTED_CPUID, KSOC_LVL_SYS, KSOC_IOC_CPUID2),
	KSOC_IOC(KVM_GET_EMULATED_CPUID, KSOC_LVL_SYS, KSOC_IOC_CPUID2),
	KSOC_IOC(KVM_GET_SUPPORTED_HV_CPUID, KSOC_LVL_SYS | KSOC_LVL_VCPU,
		 KSOC_IOC_CPUID2),
	KSOC_IOC(KVM_GET_MSR_INDEX_LIST, KSOC_LVL_SYS, KSOC_IOC_MSR_LIST),
	KSOC_IOC(KVM_GET_MSR_FEATURE_INDEX_LIST, KSOC_LVL_SYS, KSOC_IOC_MSR_LIST),
	KSOC_IOC(KVM_GET_MSRS, KSOC_LVL_SYS | KSOC_LVL_VCPU, KSOC_IOC_MSRS),
	KSOC_IOC(KVM_X86_GET_MCE_CAP_SUPPORTED, KSOC_LVL_SYS, KSOC_IOC_FIXED),

	KSOC_IOC(KVM_SET_USER_MEMORY_REGION, KSOC_LVL_VM, KSOC_IOC_FIXED),
#ifdef KVM_SET_USER_MEMORY_REGION2
	KSOC_IOC(KVM_SET_USER_MEMORY_REGION2, KSOC_LVL_VM, KSOC_IOC_FIXED),
#endif
	KSOC_IOC(KVM_SET_TSS_ADDR, KSOC_LVL_VM, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_SET_IDENTITY_MAP_ADDR, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_ENABLE_CAP, KSOC_LVL_VM | KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_CLOCK, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_CLOCK, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_CREATE_IRQCHIP, KSOC_LVL_VM, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_IRQ_LINE, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_IRQ_LINE_STATUS, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SIGNAL_MSI, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_IRQCHIP, KSOC_LVL_VM, KSOC_IOC_INOUT),
	KSOC_IOC(KVM_SET_IRQCHIP, KSOC_LVL_VM, KSOC_IOC_INOUT),
	KSOC_IOC(KVM_CREATE_PIT2, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_PIT2, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_PIT2, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_GSI_ROUTING, KSOC_LVL_VM, KSOC_IOC_ROUTING),
	KSOC_IOC(KVM_SET_NR_MMU_PAGES, KSOC_LVL_VM, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_SET_BOOT_CPU_ID, KSOC_LVL_VM, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_REINJECT_CONTROL, KSOC_LVL_VM, KSOC_IOC_REINJECT),
	KSOC_IOC(KVM_SET_PMU_EVENT_FILTER, KSOC_LVL_VM, KSOC_IOC_PMU_FILTER),
	/* The writes themselves come through the posted-write ring. */
	KSOC_IOC(KVM_REGISTER_COALESCED_MMIO, KSOC_LVL_VM, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_UNREGISTER_COALESCED_MMIO, KSOC_LVL_VM, KSOC_IOC_FIXED),
	/* The rings themselves are the SoC's own (soc-kvm/dirty.c). */
	KSOC_IOC(KVM_RESET_DIRTY_RINGS, KSOC_LVL_VM, KSOC_IOC_SCALAR),

	KSOC_IOC(KVM_GET_REGS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_REGS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_SREGS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_SREGS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_SREGS2, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_SREGS2, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_FPU, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_FPU, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_MSRS, KSOC_LVL_VCPU, KSOC_IOC_MSRS),
	KSOC_IOC(KVM_SET_CPUID2, KSOC_LVL_VCPU, KSOC_IOC_CPUID2),
	KSOC_IOC(KVM_GET_CPUID2, KSOC_LVL_VCPU, KSOC_IOC_CPUID2),
	KSOC_IOC(KVM_GET_XSAVE, KSOC_LVL_VCPU, KSOC_IOC_XSAVE),
	KSOC_IOC(KVM_SET_XSAVE, KSOC_LVL_VCPU, KSOC_IOC_XSAVE),
	KSOC_IOC(KVM_GET_XSAVE2, KSOC_LVL_VCPU, KSOC_IOC_XSAVE),
	KSOC_IOC(KVM_GET_XCRS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_XCRS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_MP_STATE, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_MP_STATE, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_VCPU_EVENTS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_VCPU_EVENTS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_DEBUGREGS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_DEBUGREGS, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_GUEST_DEBUG, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_NESTED_STATE, KSOC_LVL_VCPU, KSOC_IOC_NESTED),
	KSOC_IOC(KVM_SET_NESTED_STATE, KSOC_LVL_VCPU, KSOC_IOC_NESTED),
	/* VM level too since Linux 6.0 (KVM_CAP_VM_TSC_CONTROL). */
	KSOC_IOC(KVM_GET_TSC_KHZ, KSOC_LVL_VM | KSOC_LVL_VCPU, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_SET_TSC_KHZ, KSOC_LVL_VM | KSOC_LVL_VCPU, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_NMI, KSOC_LVL_VCPU, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_SMI, KSOC_LVL_VCPU, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_INTERRUPT, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_TRANSLATE, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_GET_LAPIC, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_LAPIC, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_KVMCLOCK_CTRL, KSOC_LVL_VCPU, KSOC_IOC_SCALAR),
	KSOC_IOC(KVM_X86_SETUP_MCE, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_SET_VAPIC_ADDR, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_TPR_ACCESS_REPORTING, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
	KSOC_IOC(KVM_X86_SET_MCE, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
#ifdef KVM_PRE_FAULT_MEMORY	/* Linux 6.10 */
	KSOC_IOC(KVM_PRE_FAULT_MEMORY, KSOC_LVL_VCPU, KSOC_IOC_FIXED),
#endif
};

const unsigned int ksoc_kvm_nr_ioctls = ARRAY_SIZE(ksoc_kvm_ioctls);

const struct ksoc_kvm_ioctl *ksoc_kvm_ioctl_find(unsigned int cmd,
						 unsigned int level)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ksoc_kvm_ioctls); i++)
		if (ksoc_kvm_ioctls[i].cmd == cmd)
			return ksoc_kvm_ioctls[i].levels & level ?
			       &ksoc_kvm_ioctls[i] : NULL;
	return NULL;
}

/**
 * ksoc_ioc_sizes - bytes an ioctl's argument moves each way.
 * @d: the table entry.
 * @first: the argument's 32-bit count or size (nent, nmsrs, nr, size: at
 *	ksoc_ioc_first_off()), host-endian; only read for the variable kinds.
 * @xsave_size: the VM's KVM_CAP_XSAVE2 size (for KSOC_IOC_XSAVE).
 * @in: bytes the caller provides.
 * @out: bytes the caller receives (at most).
 *
 * Both sides compute these from what they hold themselves; the host also
 * checks that a request's payload is exactly @in bytes.
 *
 * Return: 0, or -E2BIG for a count over the limits (KVM's errno).
 */
int ksoc_ioc_sizes(const struct ksoc_kvm_ioctl *d, u32 first, u32 xsave_size,
		   u32 *in, u32 *out)
{
	u32 sz = _IOC_SIZE(d->cmd), dir = _IOC_DIR(d->cmd);

	switch (d->kind) {
	case KSOC_IOC_FIXED:
		*in = dir & _IOC_WRITE ? sz : 0;
		*out = dir & _IOC_READ ? sz : 0;
		return 0;
	case KSOC_IOC_SCALAR:
		*in = sizeof(u64);
		*out = 0;
		return 0;
	case KSOC_IOC_CPUID2:
		/* KVM trims a GET's larger count to its own limit, 256 too. */
		if (first > KSOC_MAX_CPUID_ENTRIES && d->cmd == KVM_SET_CPUID2)
			return -E2BIG;
		if (first > KSOC_MAX_CPUID_ENTRIES)
			first = KSOC_MAX_CPUID_ENTRIES;
		sz = sizeof(struct kvm_cpuid2) +
		     first * sizeof(struct kvm_cpuid_entry2);
		*in = d->cmd == KVM_SET_CPUID2 ? sz : sizeof(struct kvm_cpuid2);
		*out = d->cmd == KVM_SET_CPUID2 ? 0 : sz;
		return 0;
	case KSOC_IOC_MSRS:
		if (first >= KSOC_MAX_MSR_ENTRIES)
			return -E2BIG;
		sz = sizeof(struct kvm_msrs) + first * sizeof(struct kvm_msr_entry);
		*in = sz;
		*out = sz;
		return 0;
	case KSOC_IOC_MSR_LIST:
		if (first > KSOC_MAX_MSR_LIST)
			first = KSOC_MAX_MSR_LIST;
		*in = sizeof(struct kvm_msr_list);
		*out = sizeof(struct kvm_msr_list) + first * sizeof(u32);
		return 0;
	case KSOC_IOC_INOUT:
		*in = sz;
		*out = sz;
		return 0;
	case KSOC_IOC_ROUTING:
		if (first > KSOC_MAX_ROUTES)
			return -E2BIG;
		*in = sizeof(struct kvm_irq_routing) +
		      first * sizeof(struct kvm_irq_routing_entry);
		*out = 0;
		return 0;
	case KSOC_IOC_PMU_FILTER:
		*in = sizeof(struct kvm_pmu_event_filter);
		if (first <= KSOC_MAX_PMU_EVENTS)
			*in += first * sizeof(__u64);
		*out = 0;
		return 0;
	case KSOC_IOC_REINJECT:
		*in = sizeof(struct kvm_reinject_control);
		*out = 0;
		return 0;
	case KSOC_IOC_NESTED:
		sz = clamp_t(u32, first, sizeof(struct kvm_nested_state),
			     KSOC_MAX_NESTED_STATE);
		*in = sz;
		*out = d->cmd == KVM_GET_NESTED_STATE ? sz : 0;
		return 0;
	case KSOC_IOC_XSAVE:
		sz = xsave_size < sizeof(struct kvm_xsave) ?
		     sizeof(struct kvm_xsave) : xsave_size;
		*in = d->cmd == KVM_SET_XSAVE ? sz : 0;
		*out = d->cmd == KVM_SET_XSAVE ? 0 : sz;
		return 0;
	}
	return -EINVAL;
}

/*
 * Capabilities soc-kvm reports (after asking the host): the ones whose
 * ioctls and exits it carries in full.  Everything else reads as 0.
 */
const unsigned int ksoc_kvm_caps[] = {
	KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_EXT_CPUID,
	KVM_CAP_NR_VCPUS, KVM_CAP_MAX_VCPUS, KVM_CAP_MAX_VCPU_ID,
	KVM_CAP_NR_MEMSLOTS, KVM_CAP_MP_STATE, KVM_CAP_DESTROY_MEMORY_REGION_WORKS,
	KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, KVM_CAP_SYNC_MMU, KVM_CAP_HLT,
	KVM_CAP_VCPU_EVENTS, KVM_CAP_DEBUGREGS, KVM_CAP_XSAVE, KVM_CAP_XCRS,
	KVM_CAP_XSAVE2, KVM_CAP_ADJUST_CLOCK, KVM_CAP_GET_TSC_KHZ,
	KVM_CAP_TSC_CONTROL, KVM_CAP_SET_IDENTITY_MAP_ADDR, KVM_CAP_IMMEDIATE_EXIT,
	KVM_CAP_GET_MSR_FEATURES, KVM_CAP_INTERNAL_ERROR_DATA, KVM_CAP_READONLY_MEM,
	KVM_CAP_SET_GUEST_DEBUG, KVM_CAP_X86_ROBUST_SINGLESTEP, KVM_CAP_EXT_EMUL_CPUID,
	KVM_CAP_SREGS2, KVM_CAP_EXCEPTION_PAYLOAD,
	KVM_CAP_IRQCHIP, KVM_CAP_PIT2, KVM_CAP_PIT_STATE2, KVM_CAP_SIGNAL_MSI,
	KVM_CAP_IRQ_INJECT_STATUS, KVM_CAP_IRQ_ROUTING, KVM_CAP_KVMCLOCK_CTRL,
	KVM_CAP_SPLIT_IRQCHIP, KVM_CAP_MCE, KVM_CAP_IRQFD, KVM_CAP_IRQFD_RESAMPLE,
	KVM_CAP_IOEVENTFD, KVM_CAP_IOEVENTFD_NO_LENGTH, KVM_CAP_IOEVENTFD_ANY_LENGTH,
	KVM_CAP_USER_NMI, KVM_CAP_ENABLE_CAP_VM, KVM_CAP_CHECK_EXTENSION_VM,
	KVM_CAP_VM_TSC_CONTROL, KVM_CAP_MMU_SHADOW_CACHE_CONTROL,
	/*
	 * SMM: KVM_SMI, SMRAM slots in address space 1 (the slot id's high
	 * 16 bits travel as they are), KVM_RUN_X86_SMM in kvm_run->flags and
	 * the SMM fields of kvm_vcpu_events all carry as they are.
	 */
	KVM_CAP_X86_SMM, KVM_CAP_MULTI_ADDRESS_SPACE,
	/* Its value is the largest state (SVM 4224, VMX 8320 bytes). */
	KVM_CAP_NESTED_STATE,
	/*
	 * Hyper-V enlightenments: MSRs and hypercalls KVM handles itself,
	 * SynIC (KVM_EXIT_HYPERV, its SINTs as GSI routes), the Hyper-V
	 * CPUID leaves, KVM_HYPERV_EVENTFD (soc-kvm/event.c).  Not the
	 * enlightened VMCS.
	 */
	KVM_CAP_HYPERV, KVM_CAP_HYPERV_VAPIC, KVM_CAP_HYPERV_SPIN,
	KVM_CAP_HYPERV_TIME, KVM_CAP_HYPERV_SYNIC, KVM_CAP_HYPERV_SYNIC2,
	KVM_CAP_HYPERV_VP_INDEX, KVM_CAP_HYPERV_TLBFLUSH, KVM_CAP_HYPERV_SEND_IPI,
	KVM_CAP_HYPERV_CPUID, KVM_CAP_SYS_HYPERV_CPUID,
	KVM_CAP_HYPERV_ENFORCE_CPUID, KVM_CAP_HYPERV_DIRECT_TLBFLUSH,
	KVM_CAP_HYPERV_EVENTFD,		/* an event channel, as ioeventfd's */
	KVM_CAP_REINJECT_CONTROL, KVM_CAP_SET_BOOT_CPU_ID, KVM_CAP_VAPIC,
	KVM_CAP_ENABLE_CAP, KVM_CAP_SET_GUEST_DEBUG2,
	KVM_CAP_PMU_EVENT_FILTER,
	KVM_CAP_BINARY_STATS_FD,	/* soc-kvm's own file reads the host's */
#ifdef KVM_CAP_PMU_EVENT_MASKED_EVENTS	/* Linux 6.3 */
	KVM_CAP_PMU_EVENT_MASKED_EVENTS,
#endif
#ifdef KVM_CAP_PRE_FAULT_MEMORY
	KVM_CAP_PRE_FAULT_MEMORY,
#endif
	/* Fields of what already travels: kvm_vcpu_events, kvm_run->flags. */
	KVM_CAP_INTR_SHADOW, KVM_CAP_SYSTEM_EVENT_DATA,
#ifdef KVM_CAP_X86_GUEST_MODE	/* Linux 6.10 */
	KVM_CAP_X86_GUEST_MODE,
#endif
	/* Paravirt features KVM gives the guest on its own (MSRs, CPUID). */
	KVM_CAP_ASYNC_PF, KVM_CAP_ASYNC_PF_INT, KVM_CAP_STEAL_TIME,
	KVM_CAP_SMALLER_MAXPHYADDR, KVM_CAP_X86_NOTIFY_VMEXIT,
	/* Enabled on a VM (ksoc_kvm_enable_caps); each changes only KVM. */
	KVM_CAP_HALT_POLL, KVM_CAP_DISABLE_QUIRKS, KVM_CAP_DISABLE_QUIRKS2,
	KVM_CAP_X86_DISABLE_EXITS, KVM_CAP_MSR_PLATFORM_INFO, KVM_CAP_X2APIC_API,
	KVM_CAP_X86_TRIPLE_FAULT_EVENT, KVM_CAP_PMU_CAPABILITY,
	KVM_CAP_EXIT_ON_EMULATION_FAILURE, KVM_CAP_X86_BUS_LOCK_EXIT,
	KVM_CAP_EXIT_HYPERCALL,
#ifdef KVM_CAP_X86_APIC_BUS_CYCLES_NS	/* Linux 6.10 */
	KVM_CAP_X86_APIC_BUS_CYCLES_NS,
#endif
	/* MSR exits carry like any exit; the filter is soc-kvm's own. */
	KVM_CAP_X86_USER_SPACE_MSR, KVM_CAP_X86_MSR_FILTER,
	/* Enabled on a vCPU (ksoc_kvm_vcpu_enable_caps). */
	KVM_CAP_ENFORCE_PV_FEATURE_CPUID,
	/* ksoc_attr_carried() */
	KVM_CAP_SYS_ATTRIBUTES, KVM_CAP_VCPU_ATTRIBUTES,
	/* Only with KVM_SOC_F_DIRTY_LOG (soc-kvm reads it as 0 otherwise). */
	KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
	/* Only with KVM_SOC_F_DIRTY_RING (as above): soc-kvm's own rings. */
	KVM_CAP_DIRTY_LOG_RING, KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
	/* Only with KVM_SOC_F_POSTED_WRITES (as above): soc-kvm's own ring. */
	KVM_CAP_COALESCED_MMIO, KVM_CAP_COALESCED_PIO,
	/* Features of KVM itself (no ioctl of their own): the guest sees them. */
	KVM_CAP_TSC_DEADLINE_TIMER, KVM_CAP_CLOCKSOURCE, KVM_CAP_NOP_IO_DELAY,
	KVM_CAP_IOAPIC_POLARITY_IGNORED,
#ifdef KVM_CAP_USER_MEMORY2
	KVM_CAP_USER_MEMORY2, KVM_CAP_VM_TYPES,
#endif
};

const unsigned int ksoc_kvm_nr_caps = ARRAY_SIZE(ksoc_kvm_caps);

/* Capabilities KVM_ENABLE_CAP may turn on for a VM. */
const unsigned int ksoc_kvm_enable_caps[] = {
	KVM_CAP_EXCEPTION_PAYLOAD,
	KVM_CAP_SPLIT_IRQCHIP,
	KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
	KVM_CAP_MAX_VCPU_ID,		/* at most KSOC_MAX_VCPUS (host checks) */
	KVM_CAP_HALT_POLL,
	KVM_CAP_DISABLE_QUIRKS,
	KVM_CAP_DISABLE_QUIRKS2,
	KVM_CAP_X86_DISABLE_EXITS,
	KVM_CAP_MSR_PLATFORM_INFO,
	KVM_CAP_X2APIC_API,		/* KVM_GET/SET_LAPIC carry either format */
	KVM_CAP_X86_TRIPLE_FAULT_EVENT,	/* a field of kvm_vcpu_events */
	KVM_CAP_PMU_CAPABILITY,
#ifdef KVM_CAP_X86_APIC_BUS_CYCLES_NS
	KVM_CAP_X86_APIC_BUS_CYCLES_NS,
#endif
	KVM_CAP_EXIT_ON_EMULATION_FAILURE,	/* soc-kvm checks its ndata */
	KVM_CAP_X86_USER_SPACE_MSR,
	KVM_CAP_X86_BUS_LOCK_EXIT,	/* its exit has no fields to check */
	KVM_CAP_X86_NOTIFY_VMEXIT,	/* nor has this one */
	KVM_CAP_EXIT_HYPERCALL,		/* nor has KVM_EXIT_HYPERCALL */
	KVM_CAP_DIRTY_LOG_RING,		/* host: with KVM_SOC_F_DIRTY_RING */
	KVM_CAP_DIRTY_LOG_RING_ACQ_REL,
};

const unsigned int ksoc_kvm_nr_enable_caps = ARRAY_SIZE(ksoc_kvm_enable_caps);

/* Capabilities KVM_ENABLE_CAP may turn on for a vCPU. */
const unsigned int ksoc_kvm_vcpu_enable_caps[] = {
	KVM_CAP_ENFORCE_PV_FEATURE_CPUID,
	KVM_CAP_HYPERV_SYNIC,
	KVM_CAP_HYPERV_SYNIC2,
	KVM_CAP_HYPERV_ENFORCE_CPUID,
	KVM_CAP_HYPERV_DIRECT_TLBFLUSH,
};

const unsigned int ksoc_kvm_nr_vcpu_enable_caps = ARRAY_SIZE(ksoc_kvm_vcpu_enable_caps);

bool ksoc_cap_in(const unsigned int *caps, unsigned int n, unsigned int cap)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (caps[i] == cap)
			return true;
	return false;
}

/*
 * Device attributes kvm-soc carries: those x86 KVM has with a u64 at
 * attr.addr, which travels after the struct (the pointer never does): the
 * system's KVM_X86_XCOMP_GUEST_SUPP (KVM_HAS/GET_DEVICE_ATTR) and a vCPU's
 * TSC offset (KVM_HAS/GET/SET_DEVICE_ATTR).  Both sides check it.
 */
bool ksoc_attr_carried(unsigned int level, unsigned int cmd, u32 group, u64 attr)
{
	switch (level) {
	case KSOC_LVL_SYS:
		/* group KVM_X86_GRP_SYSTEM (0; named in Linux 6.9) */
		return cmd != KVM_SET_DEVICE_ATTR && group == 0 &&
		       attr == KVM_X86_XCOMP_GUEST_SUPP;
	case KSOC_LVL_VCPU:
		return group == KVM_VCPU_TSC_CTRL && attr == KVM_VCPU_TSC_OFFSET;
	}
	return false;
}

bool ksoc_is_attr_ioctl(unsigned int cmd)
{
	return cmd == KVM_HAS_DEVICE_ATTR || cmd == KVM_GET_DEVICE_ATTR ||
	       cmd == KVM_SET_DEVICE_ATTR;
}
