/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 64-bit guest programs for the split-KVM selftests.  Each is copied into
 * guest memory at GUEST_CODE (0x1000) and runs identity-mapped in long
 * mode; data they need sits after the code, addressed RIP-relative.
 * Assembled into the test binary as data (.rodata), never executed there.
 */
#define MMIO	0x10000000
#define GUEST_DATA	0x8000

	.section .rodata
	.code64

	.globl guest_pio, guest_pio_end
guest_pio:
	mov $0x11, %al
	out %al, $0x10
	mov $0x2233, %ax
	out %ax, $0x12
	mov $0x44556677, %eax
	out %eax, $0x14
	in $0x20, %al
	out %al, $0x21
	in $0x22, %ax
	out %ax, $0x23
	in $0x24, %eax
	out %eax, $0x25
	hlt
guest_pio_end:

	.globl guest_strpio, guest_strpio_end
guest_strpio:
	lea 1f(%rip), %rsi
	mov $16, %ecx
	mov $0x30, %dx
	rep outsb
	lea 2f(%rip), %rdi
	mov $8, %ecx
	mov $0x32, %dx
	rep insw
	hlt
1:	.ascii "0123456789abcdef"
2:	.fill 16, 1, 0
guest_strpio_end:

	.globl guest_mmio, guest_mmio_end
guest_mmio:
	mov $0x11, %al
	movb %al, MMIO
	mov $0x2233, %ax
	movw %ax, MMIO + 2
	mov $0x44556677, %eax
	movl %eax, MMIO + 4
	movabs $0x8899aabbccddeeff, %rax
	movq %rax, MMIO + 8
	movb MMIO + 16, %al
	movb %al, 1f(%rip)
	movw MMIO + 18, %ax
	movw %ax, 1f + 2(%rip)
	movl MMIO + 20, %eax
	movl %eax, 1f + 4(%rip)
	movq MMIO + 24, %rax
	movq %rax, 1f + 8(%rip)
	hlt
	.balign 8
1:	.fill 16, 1, 0
guest_mmio_end:

/* Write a pattern to 0x8000, report, then echo what the VMM put at 0x9000. */
	.globl guest_mem, guest_mem_end
guest_mem:
	mov $0x8000, %rdi
	mov $0x5a5a5a5a, %eax
	mov $1024, %ecx
	rep stosl
	out %al, $0x50
	movl 0x9000, %eax
	out %eax, $0x51
	hlt
guest_mem_end:

/* Triple fault: an empty IDT and a breakpoint. */
	.globl guest_shutdown, guest_shutdown_end
guest_shutdown:
	lidt 1f(%rip)
	int3
	hlt
1:	.word 0
	.quad 0
guest_shutdown_end:

/* Count in %rbx forever, reporting every 2^16 iterations on port 0x60. */
	.globl guest_spin, guest_spin_end
guest_spin:
	xor %ebx, %ebx
1:	inc %rbx
	test $0xffff, %ebx
	jnz 1b
	mov %ebx, %eax
	out %eax, $0x60
	jmp 1b
guest_spin_end:

/* Tight loop of PIO out, for exit round trips (port 0x70, count in %ebx). */
	.globl guest_pio_loop, guest_pio_loop_end
guest_pio_loop:
	xor %ebx, %ebx
1:	inc %ebx
	mov %ebx, %eax
	out %eax, $0x70
	jmp 1b
guest_pio_loop_end:

/*
 * Interrupts: enable the LAPIC, then halt with interrupts on; the handler
 * (vector set up by the test) counts in %ebx, reports on port 0x61, EOIs.
 */
	.globl guest_irq, guest_irq_end, guest_irq_handler
guest_irq:
	mov $0xfee000f0, %eax
	movl $0x1ff, (%rax)
	xor %ebx, %ebx
1:	sti
	hlt
	jmp 1b
guest_irq_handler:
	inc %ebx
	mov %ebx, %eax
	out %eax, $0x61
	mov $0xfee000b0, %eax
	movl $0, (%rax)
	iretq
guest_irq_end:

/* Halt for good (with an in-kernel irqchip this never exits). */
	.globl guest_halt, guest_halt_end
guest_halt:
	cli
1:	hlt
	jmp 1b
guest_halt_end:

/* Exit round-trip loops for tools/kvm-soc-bench. */
	.globl guest_pio_in_loop, guest_pio_in_loop_end
guest_pio_in_loop:
1:	in $0x71, %eax
	jmp 1b
guest_pio_in_loop_end:

	.globl guest_mmio_w_loop, guest_mmio_w_loop_end
guest_mmio_w_loop:
1:	movl %eax, MMIO
	jmp 1b
guest_mmio_w_loop_end:

	.globl guest_mmio_r_loop, guest_mmio_r_loop_end
guest_mmio_r_loop:
1:	movl MMIO, %eax
	jmp 1b
guest_mmio_r_loop_end:

/*
 * The demo guest (make run): a banner through string PIO on the serial
 * port, a line char by char, ten reads of an MMIO tick register echoed to
 * port 0x80, then HLT.
 */
	.globl guest_hello, guest_hello_end
guest_hello:
	lea 2f(%rip), %rsi
	mov $(3f - 2f), %ecx
	mov $0x3f8, %dx
	rep outsb
	lea 3f(%rip), %rsi
1:	lodsb
	test %al, %al
	jz 4f
	out %al, %dx
	jmp 1b
4:	mov $10, %ecx
5:	movl MMIO, %eax
	out %eax, $0x80
	loop 5b
	movl $0x600d, MMIO + 4
	hlt
2:	.ascii "Hello from a KVM guest whose exits are handled through kvm-soc.\n"
3:	.asciz "Every character of this line is one PIO exit.\n"
guest_hello_end:

/*
 * ioeventfd kicks: (GUEST_DATA) one-byte PIO writes to port 0x90, then the
 * count on port 0x91 (one exit).
 */
	.globl guest_kick_loop, guest_kick_loop_end
guest_kick_loop:
	movl GUEST_DATA, %ecx
1:	out %al, $0x90
	dec %ecx
	jnz 1b
	movl GUEST_DATA, %eax
	out %eax, $0x91
	hlt
guest_kick_loop_end:

/*
 * ioeventfds of every length: (GUEST_DATA) rounds of MMIO writes of 1, 2,
 * 4 and 8 bytes at MMIO + 0x100/0x200/0x300/0x400, a 4-byte write at
 * MMIO + 0x500, a 2-byte PIO write of 0x1234 and one of 0x4321 to port
 * 0x94; then port 0x91.
 */
	.globl guest_kick_sizes, guest_kick_sizes_end
guest_kick_sizes:
	movl GUEST_DATA, %ecx
1:	movb %al, MMIO + 0x100
	movw %ax, MMIO + 0x200
	movl %eax, MMIO + 0x300
	movq %rax, MMIO + 0x400
	movl %eax, MMIO + 0x500
	mov $0x1234, %ax
	out %ax, $0x94
	mov $0x4321, %ax
	out %ax, $0x94
	dec %ecx
	jnz 1b
	out %eax, $0x91
	hlt
guest_kick_sizes_end:

/*
 * Latency loops for tools/kvm-soc-bench, with an in-kernel LAPIC:
 * guest_kick_wait kicks port 0x90 and spins until the word at GUEST_DATA
 * changes (the SoC thread's answer), forever; guest_irq_count halts with
 * interrupts on and its handler (vector 0x40) counts in GUEST_DATA + 64.
 */
	.globl guest_kick_wait, guest_kick_wait_end
guest_kick_wait:
1:	movl GUEST_DATA, %ebx
	out %al, $0x90
2:	pause
	cmpl GUEST_DATA, %ebx
	je 2b
	jmp 1b
guest_kick_wait_end:

	.globl guest_irq_count, guest_irq_count_end, guest_irq_count_handler
guest_irq_count:
	mov $0xfee000f0, %eax
	movl $0x1ff, (%rax)
1:	sti
	hlt
	jmp 1b
guest_irq_count_handler:
	lock incl GUEST_DATA + 64
	push %rax
	mov $0xfee000b0, %eax
	movl $0, (%rax)
	pop %rax
	iretq
guest_irq_count_end:

/*
 * A userspace irqchip (no in-kernel LAPIC): halt with interrupts on; the
 * handler for vector 0x40 counts in %ebx and reports on port 0x61, the
 * NMI handler (vector 2) reports "NMI" on port 0x62.
 */
	.globl guest_uirq, guest_uirq_end, guest_uirq_handler, guest_uirq_nmi
guest_uirq:
	xor %ebx, %ebx
	sti
1:	hlt
	jmp 1b
guest_uirq_handler:
	inc %ebx
	mov %ebx, %eax
	out %eax, $0x61
	iretq
guest_uirq_nmi:
	mov $0x494d4e, %eax
	out %eax, $0x62
	iretq
guest_uirq_end:

/*
 * Dirty logging: write the current iteration (the word at GUEST_DATA) into
 * the first word of pseudo-random pages, forever; an exit on port 0x60
 * after every 4096 writes.  The LCG seed is at GUEST_DATA + 8, the page
 * mask (pages - 1, a power of two minus one) at + 16, the region's base
 * at + 24.
 */
	.globl guest_dirty, guest_dirty_end
guest_dirty:
	mov GUEST_DATA + 8, %rbx
	mov $6364136223846793005, %r8
	mov $1442695040888963407, %r9
1:	mov $4096, %ecx
2:	imul %r8, %rbx
	add %r9, %rbx
	mov %rbx, %rax
	shr $33, %rax
	and GUEST_DATA + 16, %rax
	shl $12, %rax
	add GUEST_DATA + 24, %rax
	mov GUEST_DATA, %rdx
	mov %rdx, (%rax)
	dec %ecx
	jnz 2b
	out %al, $0x60
	jmp 1b
guest_dirty_end:

/*
 * MSRs userspace handles (KVM_CAP_X86_USER_SPACE_MSR): read MSR 0x35,
 * out its eax and edx (ports 0x61, 0x62); write 0x66:0x55 to an MSR KVM
 * does not know; out 0x77 (port 0x63) once the write is done.
 */
	.globl guest_msr, guest_msr_end
guest_msr:
	mov $0x35, %ecx
	rdmsr
	out %eax, $0x61
	mov %edx, %eax
	out %eax, $0x62
	mov $0xdeadbeef, %ecx
	mov $0x55, %eax
	mov $0x66, %edx
	wrmsr
	mov $0x77, %eax
	out %eax, $0x63
	hlt
guest_msr_end:

/*
 * Hyper-V SynIC: write 1 to SCONTROL (0x40000080), which KVM reports to
 * userspace as a KVM_EXIT_HYPERV; then out 1 to port 0x10.
 */
	.globl guest_synic, guest_synic_end
guest_synic:
	mov $0x40000080, %ecx
	mov $1, %eax
	xor %edx, %edx
	wrmsr
	out %al, $0x10
	hlt
guest_synic_end:

/*
 * Hyper-V HvSignalEvent: set a guest OS id (KVM takes hypercalls only
 * then), and for ever: the fast hypercall (RCX = 0x5d | fast bit 16) on
 * the connection id at GUEST_DATA, its 16-bit status out to port 0x10.
 */
	.globl guest_hv_signal, guest_hv_signal_end
guest_hv_signal:
	mov $0x40000000, %ecx
	mov $1, %eax
	xor %edx, %edx
	wrmsr
1:	mov GUEST_DATA, %rdx
	mov $0x1005d, %ecx
	xor %r8, %r8
	vmmcall
	out %ax, $0x10
	jmp 1b
guest_hv_signal_end:

/*
 * Coalesced writes: (GUEST_DATA) iterations i of a 4-byte MMIO write of i
 * at MMIO + (i % 64) * 16, an 8-byte one at +8 and a byte out to port
 * 0x80; every (GUEST_DATA + 4) iterations (0: never) a byte out to port
 * 0x11, an exit that flushes nothing; at the end out to port 0x10.
 */
	.globl guest_coalesced, guest_coalesced_end
guest_coalesced:
	movl GUEST_DATA, %ecx
	movl GUEST_DATA + 4, %esi
	mov %esi, %r9d
	xor %ebx, %ebx
1:	cmp %ecx, %ebx
	jae 2f
	mov %ebx, %edi
	and $63, %edi
	shl $4, %edi
	add $MMIO, %rdi
	movl %ebx, (%rdi)
	movq %rbx, 8(%rdi)
	mov %ebx, %eax
	out %al, $0x80
	inc %ebx
	test %esi, %esi
	jz 1b
	dec %r9d
	jnz 1b
	mov %esi, %r9d
	out %al, $0x11
	jmp 1b
2:	out %al, $0x10
	hlt
guest_coalesced_end:

/*
 * KVM_HC_MAP_GPA_RANGE (12): 1 page at 0x200000, attributes 0; the
 * hypercall's result (RAX, 16 bits) out to port 0x10, then again.
 */
	.globl guest_hc_map, guest_hc_map_end
guest_hc_map:
	mov $12, %eax
	mov $0x200000, %ebx
	mov $1, %ecx
	xor %edx, %edx
	vmmcall
	out %ax, $0x10
	jmp guest_hc_map
guest_hc_map_end:

	.section .note.GNU-stack, "", @progbits
