/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny VM library for the split-KVM selftests, written only against the
 * KVM ioctl ABI so the same code drives /dev/kvm and /dev/kvm-soc.  Guests
 * run in 64-bit mode, identity-mapped by 2 MiB pages over the first GiB;
 * guest programs come from guest_code.S.
 */
#ifndef _KSOC_VM_LIB_H
#define _KSOC_VM_LIB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/kvm_soc.h>

#define GUEST_MEM_SIZE	0x200000UL
#define GUEST_CODE	0x1000UL
#define GUEST_PML4	0x3000UL
#define GUEST_PDPT	0x4000UL
#define GUEST_PD	0x5000UL
#define GUEST_STACK	0x7000UL
#define GUEST_DATA	0x8000UL
#define GUEST_PD_HIGH	0xa000UL	/* 3-4 GiB, where the LAPIC lives */
#define GUEST_IDT	0xb000UL
#define GUEST_GDT	0xc000UL
#define GUEST_MMIO	0x10000000UL
#define TVM_MAX_VCPUS	8

#define GUEST_PROG(name)						\
	extern const uint8_t guest_##name[], guest_##name##_end[]
#define TVM_LOAD(t, name)						\
	tvm_load(t, guest_##name, (size_t)(guest_##name##_end - guest_##name))

GUEST_PROG(pio);
GUEST_PROG(strpio);
GUEST_PROG(mmio);
GUEST_PROG(mem);
GUEST_PROG(shutdown);
GUEST_PROG(spin);
GUEST_PROG(pio_loop);
GUEST_PROG(pio_in_loop);
GUEST_PROG(mmio_w_loop);
GUEST_PROG(mmio_r_loop);
GUEST_PROG(hello);
GUEST_PROG(irq);
GUEST_PROG(halt);
GUEST_PROG(kick_loop);
GUEST_PROG(kick_sizes);
GUEST_PROG(kick_wait);
GUEST_PROG(irq_count);
GUEST_PROG(uirq);
GUEST_PROG(dirty);
GUEST_PROG(msr);
GUEST_PROG(synic);
GUEST_PROG(hv_signal);
GUEST_PROG(coalesced);
GUEST_PROG(hc_map);
extern const uint8_t guest_uirq_handler[], guest_uirq_nmi[];
extern const uint8_t guest_irq_handler[];
extern const uint8_t guest_irq_count_handler[];

struct tvm {
	const char *path;
	int dev;
	int vm;
	uint8_t *mem;
	int nr_vcpus;
	int vcpu[TVM_MAX_VCPUS];
	struct kvm_run *run[TVM_MAX_VCPUS];
	int run_size;
};

/* 0, or -errno; -ENOENT means the device does not exist. */
static inline int tvm_open(struct tvm *t, const char *path)
{
	memset(t, 0, sizeof(*t));
	t->path = path;
	t->vm = -1;
	t->dev = open(path, O_RDWR | O_CLOEXEC);
	if (t->dev < 0)
		return -errno;
	t->run_size = ioctl(t->dev, KVM_GET_VCPU_MMAP_SIZE, 0);
	return t->run_size > 0 ? 0 : -errno;
}

static inline void tvm_page_tables(uint8_t *mem)
{
	uint64_t *pml4 = (uint64_t *)(mem + GUEST_PML4);
	uint64_t *pdpt = (uint64_t *)(mem + GUEST_PDPT);
	uint64_t *pd = (uint64_t *)(mem + GUEST_PD);
	int i;

	uint64_t *pdh = (uint64_t *)(mem + GUEST_PD_HIGH);
	uint64_t *gdt = (uint64_t *)(mem + GUEST_GDT);

	pml4[0] = GUEST_PDPT | 0x3;
	pdpt[0] = GUEST_PD | 0x3;
	pdpt[3] = GUEST_PD_HIGH | 0x3;
	for (i = 0; i < 512; i++) {
		pd[i] = ((uint64_t)i << 21) | 0x83;	/* P, RW, 2 MiB */
		pdh[i] = ((3ULL << 30) + ((uint64_t)i << 21)) | 0x83;
	}
	gdt[1] = 0x00af9a000000ffffULL;		/* 8: 64-bit code */
	gdt[2] = 0x00cf92000000ffffULL;		/* 16: data */
}

/* A 64-bit interrupt gate for @vector to guest address @handler. */
static inline void tvm_set_gate(struct tvm *t, int vector, uint64_t handler)
{
	uint64_t *g = (uint64_t *)(t->mem + GUEST_IDT + vector * 16);

	g[0] = (handler & 0xffff) | (8ULL << 16) | (0x8eULL << 40) |
	       ((handler >> 16) & 0xffff) << 48;
	g[1] = handler >> 32;
}

/* Create the VM with GUEST_MEM_SIZE of memory in slot 0 (@mem or anon). */
static inline int tvm_create_vm(struct tvm *t, uint8_t *mem)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEM_SIZE,
	};

	t->vm = ioctl(t->dev, KVM_CREATE_VM, 0);
	if (t->vm < 0)
		return -errno;
	t->mem = mem ? mem : mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->mem == MAP_FAILED)
		return -errno;
	memset(t->mem, 0, GUEST_MEM_SIZE);
	tvm_page_tables(t->mem);
	r.userspace_addr = (uintptr_t)t->mem;
	if (ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r))
		return -errno;
	return 0;
}

static inline void tvm_load(struct tvm *t, const uint8_t *code, size_t len)
{
	memcpy(t->mem + GUEST_CODE, code, len);
}

static inline void tvm_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
			   int code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

/* Add a vCPU in long mode at GUEST_CODE; returns its index or -errno. */
static inline int tvm_add_vcpu(struct tvm *t)
{
	struct kvm_regs regs = { 0 };
	struct kvm_sregs sregs;
	int i = t->nr_vcpus, fd;

	fd = ioctl(t->vm, KVM_CREATE_VCPU, i);
	if (fd < 0)
		return -errno;
	t->vcpu[i] = fd;
	t->run[i] = mmap(NULL, t->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
	if (t->run[i] == MAP_FAILED)
		return -errno;
	t->nr_vcpus++;
	if (ioctl(fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cr3 = GUEST_PML4;
	sregs.cr4 = 1 << 5;			/* PAE */
	sregs.cr0 = 0x80050033;			/* PG WP NE ET MP PE */
	sregs.efer = 0x500;			/* LMA LME */
	tvm_seg(&sregs.cs, 8, 11, 1);
	tvm_seg(&sregs.ds, 16, 3, 0);
	sregs.gdt.base = GUEST_GDT;
	sregs.gdt.limit = 23;
	sregs.idt.base = GUEST_IDT;
	sregs.idt.limit = 0xfff;
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	if (ioctl(fd, KVM_SET_SREGS, &sregs))
		return -errno;
	regs.rip = GUEST_CODE;
	regs.rsp = GUEST_STACK;
	regs.rflags = 2;
	if (ioctl(fd, KVM_SET_REGS, &regs))
		return -errno;
	return i;
}

/*
 * Make vCPU @i take interrupts from the start: software-enable its LAPIC
 * (an interrupt sent to a disabled LAPIC is dropped, as on hardware) and
 * make an AP runnable without INIT/SIPI.
 */
static inline int tvm_lapic_on(struct tvm *t, int i)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_lapic_state lapic;
	uint32_t svr = 0x1ff;

	if (ioctl(t->vcpu[i], KVM_GET_LAPIC, &lapic))
		return -errno;
	memcpy(lapic.regs + 0xf0, &svr, 4);
	if (ioctl(t->vcpu[i], KVM_SET_LAPIC, &lapic))
		return -errno;
	if (i && ioctl(t->vcpu[i], KVM_SET_MP_STATE, &mp))
		return -errno;
	return 0;
}

/*
 * Give vCPU @i the CPUID KVM supports (a VMM's -cpu host), without KVM's
 * own leaves at 0x40000000 when @no_kvm_leaves, then the @nextra entries
 * of @extra.  0 or -errno.
 */
static inline int tvm_set_host_cpuid(struct tvm *t, int i, bool no_kvm_leaves,
				     const struct kvm_cpuid_entry2 *extra,
				     unsigned int nextra)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[256];
	} cpuid = { .c.nent = 200 };
	unsigned int j, n = 0;

	if (ioctl(t->dev, KVM_GET_SUPPORTED_CPUID, &cpuid))
		return -errno;
	for (j = 0; j < cpuid.c.nent; j++)
		if (!no_kvm_leaves || (cpuid.e[j].function & 0xffffff00) != 0x40000000)
			cpuid.e[n++] = cpuid.e[j];
	if (n + nextra > 256)
		return -E2BIG;
	memcpy(&cpuid.e[n], extra, nextra * sizeof(*extra));
	cpuid.c.nent = n + nextra;
	return ioctl(t->vcpu[i], KVM_SET_CPUID2, &cpuid) ? -errno : 0;
}

static inline int tvm_run(struct tvm *t, int i)
{
	return ioctl(t->vcpu[i], KVM_RUN, 0) ? -errno : 0;
}

static inline uint8_t *tvm_io(struct tvm *t, int i)
{
	return (uint8_t *)t->run[i] + t->run[i]->io.data_offset;
}

static inline void tvm_close(struct tvm *t)
{
	int i;

	for (i = 0; i < t->nr_vcpus; i++) {
		munmap(t->run[i], t->run_size);
		close(t->vcpu[i]);
	}
	if (t->vm >= 0)
		close(t->vm);
	if (t->dev >= 0)
		close(t->dev);
	if (t->mem && t->mem != MAP_FAILED)
		munmap(t->mem, GUEST_MEM_SIZE);
	t->nr_vcpus = 0;
	t->vm = -1;
	t->dev = -1;
	t->mem = NULL;
}

/*
 * In make check's focused set (the rig's KSOC_FOCUS=1)?  Long tests then
 * do less of the same and say so; make check-full does it all.
 */
static inline bool tvm_focused(void)
{
	const char *focus = getenv("KSOC_FOCUS");

	return focus && !strcmp(focus, "1");
}

/* A /proc/meminfo value in kB, or -1. */
static inline long tvm_meminfo(const char *key)
{
	size_t n = strlen(key);
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = atol(line + n + 1);
	if (f)
		fclose(f);
	return v;
}

/*
 * host-kvm's helper processes (kvm-soc-vmctx): calls @fn (if any) with
 * each one's pid and returns how many there are.
 */
static inline int tvm_list_helpers(void (*fn)(const char *pid, void *arg),
				   void *arg)
{
	char path[300], comm[64];
	struct dirent *d;
	int n = 0;
	DIR *dir = opendir("/proc");
	FILE *f;

	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, "kvm-soc-vmctx\n")) {
			n++;
			if (fn)
				fn(d->d_name, arg);
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return n;
}

/*
 * Fault injection (debugfs soc-kvm/mem_token_fault): @v is added to every
 * memory token soc-kvm names to the host.  0, or -1 without the file.
 */
#define TVM_TOKEN_FAULT	"/sys/kernel/debug/soc-kvm/mem_token_fault"

static inline int tvm_set_token_fault(uint64_t v)
{
	FILE *f = fopen(TVM_TOKEN_FAULT, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%llu\n", (unsigned long long)v) > 0 ? 0 : -1;
	return fclose(f) || ret ? -1 : 0;
}

/* KVM's debugfs directory (mounting debugfs if needed), or NULL. */
static inline DIR *tvm_kvm_debugfs(void)
{
	DIR *dir = opendir("/sys/kernel/debug/kvm");

	if (!dir) {
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
		dir = opendir("/sys/kernel/debug/kvm");
	}
	return dir;
}

/* A per-VM directory of KVM's debugfs: "<pid>-<fd>". */
static inline bool tvm_kvm_vm_dir(const char *name)
{
	return name[0] >= '1' && name[0] <= '9' && strchr(name, '-');
}

/* VMs alive in the host's KVM: its debugfs has a directory per VM. */
static inline int tvm_count_kvm_vms(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	dir = tvm_kvm_debugfs();
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (tvm_kvm_vm_dir(d->d_name))
			n++;
	closedir(dir);
	return n;
}

/* In a kselftest harness test: vCPU 0 of @tv exited for port I/O as said. */
#define EXPECT_IO(tv, dir, p, sz) do {					\
	struct kvm_run *__r = (tv)->run[0];				\
	ASSERT_EQ(KVM_EXIT_IO, __r->exit_reason)			\
		TH_LOG("exit %u", __r->exit_reason);			\
	EXPECT_EQ(dir, __r->io.direction);				\
	EXPECT_EQ(p, __r->io.port);					\
	EXPECT_EQ(sz, __r->io.size);					\
} while (0)

#endif /* _KSOC_VM_LIB_H */
