/* SPDX-License-Identifier: GPL-2.0 */
/*
 * host-kvm internals shared by main.c (control window), ctx.c (helper
 * processes), vm.c (VM and vCPU contexts), mem.c (guest memory) and
 * ioctl.c (executing KVM ioctls on behalf of the SoC).
 */
#ifndef _HOST_KVM_H
#define _HOST_KVM_H

#include <linux/completion.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "ksoc_chan.h"
#include "ksoc_kvm_ioctl.h"
#include "ksoc_poll.h"
#include "ksoc_transport.h"

/* User-memory bounce buffer each helper thread maps in its process. */
#define HK_STAGING_SIZE		(64 * 1024)

/* A dispatch result: do not answer yet, a helper thread must be started. */
#define HK_SPAWN		(S64_MIN)

extern char *hk_helper;

struct hk_vm;
struct hk_vcpu;
struct hk_event;
struct hk_pins;

/* Eventfds a VM helper keeps ready (an irqfd with resample takes two). */
#define HK_EV_POOL		2

/**
 * struct hk_events - a VM's event channels (event.c).
 * @lock: protects @ev against @work; process context takes it with irqs off.
 * @work: signals KVM irqfds for moved SoC counters, in hardirq context.
 * @task_work: does the same in process context when @work may not.
 * @ev: channel -> event; written by the VM's main thread under @lock.
 * @soc_seen: per channel, the SoC counter last acted on (under @lock).
 * @host_count: per channel, the host counter as last written (private).
 * @soc_seq_seen: the SoC's event seq last acted on (under @lock).
 * @host_seq: generator of the host's event seq.
 * @pool: eventfds of the helper (fd numbers there) ready for use.
 * @nr_pool: entries in @pool.
 * @pool_err: the helper's last failure to make one (0: none).
 */
struct hk_events {
	spinlock_t lock; /* protects @ev, @soc_seen, @soc_seq_seen */
	struct irq_work work;
	struct work_struct task_work;
	struct hk_event *ev[KSOC_VM_EVENTS];
	u64 soc_seen[KSOC_VM_EVENTS];
	u64 host_count[KSOC_VM_EVENTS];
	u64 soc_seq_seen;
	atomic64_t host_seq;
	int pool[HK_EV_POOL];
	int nr_pool;
	int pool_err;
};

struct hk_ctx;

/**
 * struct hk_ctx_ops - what one kind of helper process serves (the control
 * window: main.c; a VM: vm.c).
 * @main: the first thread's work, serving the window; returns what
 *	KSOC_VMCTX_ENTER returns.  @first: its first entry; @arg: ENTER's
 *	argument (0, or the helper's answer to a request for an eventfd).
 * @thread: a later thread's work (a vCPU), or NULL where the helper has
 *	one thread only (such threads are told to leave).
 * @died: the helper died on its own: fail the window it served.  Called
 *	under the context's lock while the owner is still set.
 * @eventfds: the main thread may ask for eventfds (a non-zero argument).
 * @started_by_helper: contexts of this kind are started by a helper thread
 *	(VMs, by the control thread), which gives up a start on SIGKILL.
 */
struct hk_ctx_ops {
	long (*main)(struct hk_ctx *ctx, bool first, unsigned long arg);
	long (*thread)(struct hk_ctx *ctx);
	void (*died)(struct hk_ctx *ctx);
	bool eventfds;
	bool started_by_helper;
};

/**
 * struct hk_ctx - a helper process (tools/kvm-soc-vmctx) and its threads.
 * @ref: one for the owner (until hk_ctx_stop()), one for the file.
 * @ops: what it serves.
 * @owner: the struct host_kvm or struct hk_vm it serves (@ops know
 *	which); NULL once the owner let go (hk_ctx_put()).
 * @file: the context file installed in the helper.
 * @lock: protects @main, @mm and @pending.
 * @main: the first thread to enter; it serves the window.
 * @mm: the helper's address space (mmgrab), where KVM objects live.
 * @pending: nodes of vCPUs waiting for a thread of their own.
 * @dead: tell every thread to tear down and leave.
 * @entered: the main thread arrived.
 * @done: the main thread finished (or the helper died).
 * @fdarg: the context file's descriptor number, as the helper's argv[1].
 */
struct hk_ctx {
	struct kref ref;
	const struct hk_ctx_ops *ops;
	void *owner;
	struct file *file;
	spinlock_t lock; /* protects @main, @mm, @pending */
	struct task_struct *main;
	struct mm_struct *mm;
	struct list_head pending;
	bool dead;
	struct completion entered;
	struct completion done;
	char fdarg[16];
};

/**
 * struct host_kvm - host-side state of one transport.
 * @t: the transport.
 * @l: layout of the control window, as the host wrote it.
 * @ctx: the control helper; its main thread serves the control window.
 * @wq: doorbells on the control window wake @ctx's main thread.
 * @heartbeat_work: advances the host heartbeat.
 * @heartbeat: last heartbeat value written.
 * @failed: the SoC broke the protocol on the control window.
 * @buf: payload buffer of the control thread.
 * @staging: the control thread's bounce buffer.
 * @vms: window id -> struct hk_vm.  Changed by the control thread (and by
 *	detach after it stopped); doorbells look up under RCU.
 * @vcpu_wins: vCPU window id -> its struct hk_vm (KVM_SOC_F_VCPU_WINDOWS),
 *	for doorbells (RCU).  Entries go before their VM is freed.
 * @hmem: handle -> host memory object (mem.c): KVM_SOC_OP_MEM_ALLOC.
 * @pins: the count of pages the SoC has pinned through @hmem.
 */
struct host_kvm {
	struct ksoc_transport *t;
	struct ksoc_layout l;
	struct hk_ctx *ctx;
	wait_queue_head_t wq;
	struct delayed_work heartbeat_work;
	u64 heartbeat;
	bool failed;
	u8 *buf;
	unsigned long staging;
	struct xarray vms;
	struct xarray vcpu_wins;
	struct xarray hmem;
	struct hk_pins *pins;
};

/**
 * struct hk_vm - one VM: its window, its helper and its KVM objects.
 * @hk: the transport it belongs to.
 * @id: its window id (also its doorbell vector).
 * @win: the VM window.
 * @l: its layout.
 * @ctx: its helper process.
 * @type: KVM_CREATE_VM machine type.
 * @vm_file: the stock-KVM VM file.
 * @stats: its binary stats file (KVM_GET_STATS_FD), opened on first read.
 * @xsave_size: KVM_CAP_XSAVE2 of this VM (>= 4096).
 * @mmap_size: KVM_GET_VCPU_MMAP_SIZE of the host.
 * @wq: doorbells from the SoC wake the VM's helper threads here.
 * @created: completed once the VM exists in KVM (or failed to).
 * @create_ret: the result.
 * @failed: the SoC broke the protocol on this window; it is dead.
 * @stopping: teardown started: vCPU threads must not re-enter KVM_RUN.
 * @vcpus: vCPUs by index; written by the VM's main thread only.
 * @nr_vcpus: number of entries in @vcpus.
 * @creating: a vCPU whose thread is being started (its API request is
 *	answered when it is up).
 * @creating_slot: the API slot of that request.
 * @creating_msg: the request.
 * @slots: memory slot id -> struct hk_slot.
 * @staging: the main thread's bounce buffer.
 * @ev: irqfds and ioeventfds.
 * @posted_lock: serialises the vCPU threads moving KVM's coalesced ring
 *	into the posted-write ring (@posted).
 * @posted: producer view of the window's posted-write ring, or nr 0.
 * @dirty_ring_size: bytes of each vCPU's KVM dirty ring, 0 for none (set
 *	by the main thread before any vCPU exists, as KVM allows).
 * @free_work: finishes hk_vm_free() when a killed control helper could not
 *	(hk_vm_free_later()).
 * @rcu: frees the struct after doorbells can no longer see it.
 */
struct hk_vm {
	struct rcu_head rcu;	/* first: kfree_rcu() wants a small offset */
	struct host_kvm *hk;
	u32 id;
	void *win;
	struct ksoc_layout l;
	struct hk_ctx *ctx;
	u32 type;
	struct file *vm_file;
	struct file *stats;
	u32 xsave_size;
	int mmap_size;
	wait_queue_head_t wq;
	struct completion created;
	int create_ret;
	bool failed;
	bool stopping;
	struct hk_vcpu *vcpus[KSOC_MAX_VCPUS];
	u32 nr_vcpus;
	struct hk_vcpu *creating;
	u32 creating_slot;
	struct ksoc_api_msg creating_msg;
	struct xarray slots;
	unsigned long staging;
	struct hk_events ev;
	struct mutex posted_lock; /* protects @posted */
	struct ksoc_ring posted;
	u32 dirty_ring_size;
	struct work_struct free_work;
};

/**
 * struct hk_vcpu - one vCPU.
 * @pending: on hk_ctx.pending until a thread takes it.
 * @vm: its VM.
 * @idx: its index (the IOREQ slot's vcpu_id).
 * @win: the window of its slots: its own (KVM_SOC_F_VCPU_WINDOWS), or
 *	its VM's.
 * @l: that window's layout.
 * @win_id: that window's id (its doorbell).
 * @own_win: @win is the vCPU's own, freed with it.
 * @api_slot: its API slot in @win.
 * @ioreq_slot: its IOREQ slot in @win.
 * @file: the stock-KVM vCPU file.
 * @stats: its binary stats file (KVM_GET_STATS_FD), opened with it.
 * @task: its helper thread.
 * @run: user address of KVM's kvm_run mapping in the helper.
 * @staging: the thread's bounce buffer in the helper.
 * @msg: exit / completion buffer.
 * @seq: sequence number of the exit outstanding at the SoC.
 * @io_in_len: bytes of PIO IN data the completion must carry (0: none).
 * @io_off: where KVM keeps PIO data in kvm_run's mapping.
 * @setup_done: the thread set itself up (first entry).
 * @started: completed when the thread posted its start exit (or failed).
 * @start_ret: its result.
 * @exited: completed when the thread released its KVM file.
 * @wq: the thread sleeps here; doorbells wake it only when its own slots
 *	changed.
 * @flags: HK_VCPU_* bits (atomic bitops).
 * @poll: its thread's poll window for the SoC's answers (the thread's own).
 * @ring: user address of KVM's dirty ring in the helper, or 0; this and
 *	the other @ring_* fields are the vCPU thread's own.
 * @ring_fetch: index of the next entry to move to the SoC.
 * @ring_hva: where the SoC's object for moved entries is mapped, or 0.
 * @ring_token: the KVM_SOC_MEM_TOKEN() mapped at @ring_hva.
 * @ring_bytes: bytes mapped there.
 * @ring_hmem: the object (a reference), or NULL.
 */
struct hk_vcpu {
	struct list_head pending;
	struct hk_vm *vm;
	u32 idx;
	void *win;
	struct ksoc_layout l;
	u32 win_id;
	bool own_win;
	u32 api_slot;
	u32 ioreq_slot;
	struct file *file;
	struct file *stats;
	struct task_struct *task;
	unsigned long run;
	unsigned long staging;
	struct ksoc_ioreq_msg *msg;
	u64 seq;
	u32 io_in_len;
	u32 io_off;
	bool setup_done;
	struct completion started;
	int start_ret;
	struct completion exited;
	wait_queue_head_t wq;
	unsigned long flags;
	struct ksoc_poll poll;
	unsigned long ring;
	u32 ring_fetch;
	unsigned long ring_hva;
	u64 ring_token;
	u64 ring_bytes;
	struct hk_hmem *ring_hmem;
};

typedef s64 (*hk_dispatch_fn)(struct hk_vm *vm, void *ctx,
			      struct ksoc_api_msg *m, u8 *buf, u32 slot);

/* vm.c: for the vCPU threads */
void hk_vm_wake(struct hk_vm *vm, bool all);
void hk_vm_fail(struct hk_vm *vm, const char *why);
bool hk_slot_has_req(void *win, const struct ksoc_layout *l, u32 slot);
s64 hk_serve_slot(struct hk_vm *vm, void *win, const struct ksoc_layout *l,
		  u32 slot, hk_dispatch_fn dispatch, void *ctx);

/* vcpu.c */
void hk_vcpu_attach(struct hk_vcpu *vcpu, struct task_struct *task);
bool hk_vcpu_has_work(struct hk_vcpu *vcpu);
long hk_vcpu_main(struct hk_vcpu *vcpu);
void hk_vcpu_kick(struct hk_vcpu *vcpu);
void hk_vcpu_free(struct hk_vcpu *vcpu);
s64 hk_vcpu_create(struct hk_vm *vm, struct ksoc_api_msg *m, u32 slot);
int hk_vcpu_create_done(struct hk_vm *vm);

/* ctx.c */
int hk_ctx_start(const struct hk_ctx_ops *ops, void *owner,
		 struct hk_ctx **store);
int hk_ctx_stop(struct hk_ctx *ctx, wait_queue_head_t *wq, bool killable);
void hk_ctx_put(struct hk_ctx *ctx);
struct list_head *hk_ctx_pop_pending(struct hk_ctx *ctx);
void hk_ctx_add_pending(struct hk_ctx *ctx, struct list_head *node);
unsigned long hk_staging_map(void);

/* ioctl.c */
long hk_ioctl(struct file *f, unsigned int cmd, unsigned long arg);
s64 hk_exec_ioctl(struct file *f, unsigned int level, struct ksoc_api_msg *m,
		  u8 *buf, u32 cap, unsigned long staging, u32 xsave_size);
s64 hk_check_extension(struct file *f, unsigned long cap);

/* mem.c */
s64 hk_op_mem_alloc(struct host_kvm *hk, struct ksoc_api_msg *m);
s64 hk_op_mem_ranges(struct host_kvm *hk, struct ksoc_api_msg *m, u8 *buf,
		     u32 cap);
s64 hk_op_mem_free(struct host_kvm *hk, struct ksoc_api_msg *m);
s64 hk_op_mem_written(struct host_kvm *hk, struct ksoc_api_msg *m,
		      const u8 *buf);
int hk_mem_attach(struct host_kvm *hk);
void hk_mem_detach(struct host_kvm *hk);
int hk_mem_init(void);
void hk_mem_exit(void);
int hk_vm_init(void);
void hk_vm_exit(void);
void hk_vm_flush_frees(void);
s64 hk_vm_set_memory(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf);
s64 hk_vm_dirty_log(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf);
s64 hk_exec_bulk(struct hk_vm *vm, struct file *f, unsigned int level,
		 struct ksoc_api_msg *m, unsigned long staging);
s64 hk_vcpu_dirty_ring(struct hk_vcpu *vcpu, struct ksoc_api_msg *m);
void hk_vcpu_dirty_ring_unmap(struct hk_vcpu *vcpu, bool in_mm);
void hk_vm_unmap_memory(struct hk_vm *vm, bool in_mm);

/* event.c */
void hk_ev_init(struct hk_vm *vm);
bool hk_ev_pool_want(struct hk_vm *vm);
void hk_ev_pool_add(struct hk_vm *vm, long arg);
s64 hk_ev_irqfd(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf);
s64 hk_ev_ioeventfd(struct hk_vm *vm, struct ksoc_api_msg *m, u8 *buf);
void hk_ev_doorbell(struct hk_vm *vm);
void hk_ev_release_all(struct hk_vm *vm);

/* vm.c */
s64 hk_vm_create(struct host_kvm *hk, struct ksoc_api_msg *m, u8 *buf);
s64 hk_vm_destroy(struct host_kvm *hk, u32 id);
void hk_vm_doorbell(struct host_kvm *hk, unsigned int vec);
void hk_vm_destroy_all(struct host_kvm *hk);

/*
 * The header fields a request's op does not use must be zero
 * (linux/kvm_soc.h: receivers check them).  @flags is only
 * KVM_SOC_API_F_BULK on VM and vCPU ioctls (whether the window offers it
 * is the dispatcher's to check); @arg carries the ABI version (HELLO), the
 * ioctl number (the three IOCTL ops) or the vCPU id (CREATE_VCPU), a size
 * or handle (the MEM ops); @arg2 a memory token (SYS and VM ioctls, and
 * the object of a bulk ioctl) or the first range (MEM_RANGES).
 */
static inline bool hk_msg_unused_zero(const struct ksoc_api_msg *m)
{
	bool arg = m->op == KVM_SOC_OP_HELLO || m->op == KVM_SOC_OP_SYS_IOCTL ||
		   m->op == KVM_SOC_OP_VM_IOCTL || m->op == KVM_SOC_OP_VCPU_IOCTL ||
		   m->op == KVM_SOC_OP_CREATE_VCPU || m->op == KVM_SOC_OP_MEM_ALLOC ||
		   m->op == KVM_SOC_OP_MEM_RANGES || m->op == KVM_SOC_OP_MEM_FREE ||
		   m->op == KVM_SOC_OP_MEM_WRITTEN || m->op == KVM_SOC_OP_DIRTY_RING;
	bool bulk = (m->op == KVM_SOC_OP_VM_IOCTL || m->op == KVM_SOC_OP_VCPU_IOCTL) &&
		    m->flags == KVM_SOC_API_F_BULK;
	bool arg2 = m->op == KVM_SOC_OP_SYS_IOCTL || m->op == KVM_SOC_OP_VM_IOCTL ||
		    m->op == KVM_SOC_OP_MEM_RANGES || m->op == KVM_SOC_OP_DIRTY_RING ||
		    bulk;

	return (!m->flags || bulk) && (arg || !m->arg) && (arg2 || !m->arg2);
}

#endif /* _HOST_KVM_H */
