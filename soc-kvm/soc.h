/* SPDX-License-Identifier: GPL-2.0 */
/*
 * soc-kvm internals shared by main.c (device, control window), chan.c (API
 * calls on any window) and vm.c (VM and vCPU files).
 */
#ifndef _SOC_KVM_H
#define _SOC_KVM_H

#include <linux/bitmap.h>
#include <linux/irq_work.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

struct dentry;

#include "ksoc_chan.h"
#include "ksoc_kvm_ioctl.h"
#include "ksoc_poll.h"
#include "ksoc_transport.h"

/*
 * An API call waits as long as the host is alive: the host's heartbeat
 * (control window) must advance at least once per SOC_HOST_DEAD_MS.
 */
#define SOC_HOST_DEAD_MS	(4 * KVM_SOC_HEARTBEAT_MS)

/**
 * struct soc_chan - the SoC's side of one window's API channel.
 * @t: the transport.
 * @win: the window.
 * @l: validated private copy of the host's layout.
 * @id: window id (doorbell vector).
 * @nr_shared: API slots [0, @nr_shared) are allocated per call; the rest
 *	are dedicated (one per vCPU) and owned by their user.
 * @slot_lock: protects @slots_busy and @slots_lost.
 * @slots_busy: shared slots owned by a caller between post and collect.
 * @slots_lost: slots whose caller was killed before the host answered;
 *	the request stays the host's until its response is collected (and
 *	discarded) into @lost_id's slot: only then is the slot reused.
 * @lost_id: request id of each lost slot's unanswered request.
 * @wq: callers waiting for a slot, a response or an exit.
 * @next_id: request id generator.
 * @failed: the host broke the protocol, failed the window or stopped
 *	answering; every later call returns -EIO.
 * @host_heartbeat: the host's heartbeat in the control window.
 * @on_fail: called (any context) when the channel fails, to wake waiters
 *	that do not sleep on @wq; may be NULL.
 * @parent: the channel this one lives and dies with (a vCPU window's:
 *	its VM's), or NULL.
 * @bulk_sk: the transport of @bulk_obj when this window takes ioctl bytes
 *	too large for a slot in an object (KVM_SOC_F_BULK_ARGS), else NULL.
 * @bulk_lock: serialises the use of @bulk_obj (a VM window's: the VM's
 *	ioctls from any thread and, in the older layout, its vCPUs'; a vCPU
 *	window's: its vCPU's only).
 * @bulk_obj: that host memory object, as large as the largest ioctl so
 *	far, or NULL (under @bulk_lock).
 */
struct soc_chan {
	struct ksoc_transport *t;
	void *win;
	struct ksoc_layout l;
	u32 id;
	u32 nr_shared;
	spinlock_t slot_lock; /* protects @slots_busy, @slots_lost */
	DECLARE_BITMAP(slots_busy, KSOC_API_MAX_SLOTS);
	DECLARE_BITMAP(slots_lost, KSOC_API_MAX_SLOTS);
	u64 lost_id[KSOC_API_MAX_SLOTS];
	wait_queue_head_t wq;
	atomic64_t next_id;
	bool failed;
	__le64 *host_heartbeat;
	void (*on_fail)(struct soc_chan *c);
	struct soc_chan *parent;
	struct soc_kvm *bulk_sk;
	struct mutex bulk_lock; /* protects @bulk_obj */
	struct soc_hmem *bulk_obj;
};

/**
 * struct soc_kvm - the SoC side of one transport.
 * @t: the transport.
 * @ctrl: the control window's channel.
 * @features: negotiated KVM_SOC_F_* bits.
 * @hello: the host's answer to HELLO.
 * @heartbeat_work: advances the SoC heartbeat.
 * @heartbeat: last heartbeat value written.
 * @vms: window id -> struct soc_vm, for doorbells (RCU) and detach.
 * @vcpu_wins: vCPU window id -> its struct soc_vm (KVM_SOC_F_VCPU_WINDOWS),
 *	for doorbells (RCU) and detach; changed under soc_kvm_rwsem.
 * @gen: this attach's number (soc_kvm_gen): host memory objects of an
 *	earlier attach name nothing on this host.
 */
struct soc_kvm {
	struct ksoc_transport *t;
	struct soc_chan ctrl;
	u64 features;
	struct kvm_soc_hello hello;
	struct delayed_work heartbeat_work;
	u64 heartbeat;
	struct xarray vms;
	struct xarray vcpu_wins;
	u64 gen;
};

/*
 * soc_kvm_rwsem: readers are every file operation that touches a window or
 * the transport (they may sleep in it); the writer is attach/detach.
 * soc_kvm is the attached transport, or NULL.
 */
extern struct rw_semaphore soc_kvm_rwsem;
extern struct soc_kvm *soc_kvm;

struct soc_vcpu;
struct soc_event;

/**
 * struct soc_events - a VM's event channels (event.c).
 * @lock: protects @ev, @host_seq_seen and each channel's @seen against
 *	@work; process context takes it with irqs off.
 * @work: acts on host counters (ioeventfd kicks, resamples) in hardirq
 *	context.
 * @more_work: delivers, in process context, ioeventfd counts that
 *	@work left (more than a batch), or a whole run @work could not do.
 * @gc: deassigns irqfds whose eventfd was closed, as KVM does.
 * @ev: channel -> event; changed under the VM's lock and @lock.
 * @soc_count: per channel, soc_count as last written (private; keeps the
 *	counter monotonic when a channel is reused).
 * @host_seq_seen: the host's event seq last acted on.
 * @more: counts are left to deliver.
 * @stopped: the window is going away: the works do nothing.
 * @soc_seq: generator of the SoC's event seq.
 */
struct soc_events {
	spinlock_t lock; /* protects @ev, @host_seq_seen, @more, @stopped */
	struct irq_work work;
	struct work_struct more_work;
	struct work_struct gc;
	struct soc_event *ev[KSOC_VM_EVENTS];
	u64 soc_count[KSOC_VM_EVENTS];
	u64 host_seq_seen;
	bool more;
	bool stopped;
	atomic64_t soc_seq;
};

/**
 * struct soc_slot - a memory slot as the host was given it.
 * @uaddr: userspace_addr in the VM's process.
 * @size: memory_size.
 * @flags: its KVM_MEM_* flags (dirty logging on or off).
 * @token: what names the region to the host: a transport token, or a
 *	host memory object and page (KVM_SOC_MEM_TOKEN).
 * @exported: @token came from the transport's mem_export.
 */
struct soc_slot {
	unsigned long uaddr;
	u64 size;
	u32 flags;
	u64 token;
	bool exported;
};

struct soc_hmem;

/* Counters reported by KVM_SOC_GET_VM_STATS. */
struct soc_vm_stats {
	atomic64_t exits;
	atomic64_t exits_io;
	atomic64_t exits_mmio;
	atomic64_t exits_intr;
	atomic64_t irqfd_triggers;
	atomic64_t irqfd_resamples;
	atomic64_t ioeventfd_kicks;
	atomic64_t poll_hits;
	atomic64_t poll_misses;
};

/**
 * struct soc_vm - one VM.
 * @ref: the VM file and each vCPU file hold one.
 * @sk: the transport it was created on.
 * @chan: its window's channel.
 * @dead: detached: the window and transport are gone; answer -EIO.
 * @lock: protects @vcpus and @nr_vcpus against each other's writers;
 *	doorbells read them under RCU (a vCPU is freed after a grace period).
 * @vcpus: vCPUs by index.
 * @nr_vcpus: number of entries in @vcpus.
 * @max_vcpus: vCPUs it may have.
 * @vcpu_windows: each vCPU has a window of its own (KVM_SOC_F_VCPU_WINDOWS).
 * @xsave_size: KVM_CAP_XSAVE2 of the VM.
 * @slots: memory slot id -> struct soc_slot (under @lock).
 * @bulk: the host memory object dirty bitmaps travel through, or NULL
 *	(dirty.c; under @lock).
 * @mm: the creating address space (mmgrab): the only one whose ioctls
 *	this VM answers, as in KVM.
 * @ev: irqfds and ioeventfds (event.c).
 * @stats: counters for KVM_SOC_GET_VM_STATS.
 * @posted_lock: serialises the vCPUs moving coalesced writes from the
 *	posted-write ring (@posted) to the coalesced ring (@coalesced).
 * @posted: consumer view of the window's posted-write ring, or nr 0.
 * @coalesced: the coalesced MMIO ring page every vCPU file maps at
 *	KVM_COALESCED_MMIO_PAGE_OFFSET, as KVM's (userspace consumes).
 * @coalesced_last: its ->last as we wrote it (userspace cannot move it).
 * @posted_out: the vCPU whose exit is a coalesced write its userspace has
 *	not come back from, or -1.
 * @posted_wq: vCPUs wait here for @posted_out to clear.
 * @dirty_ring_size: bytes of each vCPU's dirty ring, 0 for none (under
 *	@lock; set before the first vCPU, as KVM allows).
 * @rcu: frees the struct after doorbells can no longer see it.
 */
struct soc_vm {
	struct rcu_head rcu;	/* first: kfree_rcu() wants a small offset */
	struct kref ref;
	struct soc_kvm *sk;
	struct soc_chan chan;
	bool dead;
	struct mutex lock; /* protects @vcpus, @nr_vcpus */
	struct soc_vcpu __rcu *vcpus[KSOC_MAX_VCPUS];
	u32 nr_vcpus;
	u32 max_vcpus;
	bool vcpu_windows;
	u32 xsave_size;
	struct xarray slots;
	struct soc_hmem *bulk;
	struct mm_struct *mm;
	struct soc_events ev;
	struct soc_vm_stats stats;
	struct mutex posted_lock; /* protects @posted, @coalesced_last, @posted_out */
	struct ksoc_ring posted;
	struct page *coalesced;
	u32 coalesced_last;
	int posted_out;
	wait_queue_head_t posted_wq;
	u32 dirty_ring_size;
};

/**
 * struct soc_vcpu - one vCPU.
 * @vm: its VM (a reference).
 * @idx: index (the IOREQ slot's vcpu_id).
 * @chan: the channel of its slots: @own, or its VM's.
 * @own: its own window's channel (KVM_SOC_F_VCPU_WINDOWS), or NULL.
 * @api_slot: its API slot in @chan.
 * @ioreq_slot: its IOREQ slot in @chan's window.
 * @mutex: serialises this vCPU's ioctls, as KVM's vcpu->mutex.
 * @run: the kvm_run page userspace maps at offset 0.
 * @pio: the PIO data page, mapped at KVM_PIO_PAGE_OFFSET.
 * @msg: exit / completion buffer.
 * @seq: sequence number of the exit the SoC holds (INPROCESS).
 * @exit_reason: that exit's reason.
 * @io_in_len: PIO IN bytes its completion carries (0: none).
 * @sigset_active: KVM_SET_SIGNAL_MASK was given.
 * @sigset: the mask KVM_RUN runs with.
 * @lost: an earlier KVM_RUN was abandoned (fatal signal); the slot state
 *	is unknown, so the vCPU refuses to run.
 * @posted_hold: an exit waits in the slot (READY, not taken) until the
 *	coalesced writes before it are handed over (soc_vcpu_posted()).
 * @posted_target: posted-write ring index those writes end at.
 * @wq: KVM_RUN sleeps here; doorbells wake it only when its exit arrived
 *	or the VM died.
 * @poll: KVM_RUN's poll window for the host's exits (under @mutex).
 * @ring: its dirty ring (vmalloc), mapped by userspace at
 *	KVM_DIRTY_LOG_PAGE_OFFSET, or NULL (dirty.c).
 * @ring_dirty: entries pushed so far (written under @mutex only).
 * @ring_reset: entries reset so far (written under the VM's lock only).
 * @ring_bulk: host memory object the host moves entries through.
 * @ring_buf: the SoC's copy of what it moved.
 */
struct soc_vcpu {
	struct soc_vm *vm;
	u32 idx;
	struct soc_chan *chan;
	struct soc_chan *own;
	u32 api_slot;
	u32 ioreq_slot;
	struct mutex mutex; /* serialises ioctls on this vCPU */
	struct page *run;
	struct page *pio;
	struct ksoc_ioreq_msg *msg;
	u64 seq;
	u32 exit_reason;
	u32 io_in_len;
	bool sigset_active;
	sigset_t sigset;
	bool lost;
	bool posted_hold;
	u32 posted_target;
	wait_queue_head_t wq;
	struct ksoc_poll poll;
	struct kvm_dirty_gfn *ring;
	u32 ring_dirty;
	u32 ring_reset;
	struct soc_hmem *ring_bulk;
	struct kvm_soc_dirty_gfn *ring_buf;
};

/* kvm_run, PIO data, coalesced MMIO ring: KVM's x86 vCPU mapping. */
#define SOC_VCPU_MMAP_PAGES	(KVM_COALESCED_MMIO_PAGE_OFFSET + 1)

/* mem.c */
extern u64 soc_mem_token_fault;
int soc_hmem_init(void);
void soc_hmem_exit(void);
void soc_hmem_revoke(u64 gen);
struct file *soc_hmem_create(struct soc_kvm *sk, u64 size);
int soc_hmem_sync(struct soc_kvm *sk);
struct soc_hmem *soc_bulk_alloc(struct soc_kvm *sk, u64 size);
void soc_bulk_free(struct soc_kvm *sk, struct soc_hmem *b);
u64 soc_bulk_size(const struct soc_hmem *b);
u32 soc_bulk_handle(const struct soc_hmem *b);
int soc_bulk_copy(struct soc_kvm *sk, const struct soc_hmem *b, u64 off,
		  void *buf, u64 len, bool to_host);

/* dirty.c */
long soc_vm_dirty_log(struct soc_vm *vm, unsigned int cmd, unsigned long arg);
long soc_vm_enable_cap(struct soc_vm *vm, unsigned long arg);
long soc_vm_reset_dirty_rings(struct soc_vm *vm);
int soc_vcpu_ring_alloc(struct soc_vcpu *vcpu);
void soc_vcpu_ring_free(struct soc_vcpu *vcpu, struct soc_kvm *sk);
int soc_vcpu_ring_pull(struct soc_vcpu *vcpu);
struct page *soc_vcpu_ring_page(struct soc_vcpu *vcpu, unsigned long pgoff);
void soc_hmem_debugfs(struct dentry *dir);
int soc_hmem_export(struct soc_vm *vm, unsigned long uaddr, u64 size,
		    u64 *token);

/* True when guest memory is the host's (KVM_SOC_F_HOST_MEMORY). */
static inline bool soc_host_memory(const struct soc_kvm *sk)
{
	return sk->features & BIT_ULL(KVM_SOC_F_HOST_MEMORY);
}

/* chan.c */
void soc_chan_init(struct soc_chan *c, struct ksoc_transport *t, void *win,
		   const struct ksoc_layout *l, u32 nr_shared);
/* The host is alive if its heartbeat moved since *@last (updated). */
bool soc_host_alive(struct soc_chan *c, u64 *last, unsigned long *since);
void soc_chan_fail(struct soc_chan *c, const char *why);
bool soc_chan_dead(struct soc_chan *c);
void soc_chan_bulk_free(struct soc_chan *c, struct soc_kvm *sk);
int soc_chan_call_killable(struct soc_chan *c, struct ksoc_api_msg *m,
			   const void *req, void *resp, u32 cap);
int soc_chan_call(struct soc_chan *c, struct ksoc_api_msg *m,
		  const void *req, void *resp, u32 cap);
int soc_chan_call_slot(struct soc_chan *c, u32 slot, struct ksoc_api_msg *m,
		       const void *req, void *resp, u32 cap, bool killable);
long soc_fwd_ioctl(struct soc_chan *c, u32 op, u32 target, int slot,
		   unsigned int level, unsigned int cmd, unsigned long arg,
		   u32 xsave_size, u64 token);
long soc_fwd_attr(struct soc_chan *c, u32 op, u32 target, int slot,
		  unsigned int level, unsigned int cmd, unsigned long arg);
long soc_fwd_ioctl_kern(struct soc_chan *c, u32 op, unsigned int level,
			unsigned int cmd, const void *karg, u32 xsave_size, u64 token);
long soc_check_extension(struct soc_chan *c, u64 features, u32 op,
			 unsigned long cap);
long soc_result(s64 r);

/* event.c */
void soc_ev_init(struct soc_vm *vm);
long soc_vm_irqfd(struct soc_vm *vm, unsigned long arg);
long soc_vm_ioeventfd(struct soc_vm *vm, unsigned long arg);
long soc_vm_hv_eventfd(struct soc_vm *vm, unsigned long arg);
void soc_ev_doorbell(struct soc_vm *vm);
void soc_ev_stop(struct soc_vm *vm, bool release);
void soc_ev_free_all(struct soc_vm *vm);

/* vm.c */
long soc_vm_create(struct soc_kvm *sk, unsigned long type);
void soc_vm_doorbell(struct soc_kvm *sk, unsigned int vec);
void soc_vm_kill_all(struct soc_kvm *sk);
void soc_vm_detach_all(struct soc_kvm *sk);

/* Window usable?  Caller holds soc_kvm_rwsem for read. */
static inline bool soc_vm_ok(struct soc_vm *vm)
{
	return !READ_ONCE(vm->dead) && !soc_chan_dead(&vm->chan);
}

/* vm.c: for the vCPU files */
void soc_vm_put(struct soc_vm *vm);
long soc_stats_open(struct soc_vm *vm, u32 who);

/* vcpu.c */
bool soc_vcpu_exit_ready(struct soc_vcpu *vcpu);
long soc_vm_create_vcpu(struct soc_vm *vm, unsigned long id);

#endif /* _SOC_KVM_H */
