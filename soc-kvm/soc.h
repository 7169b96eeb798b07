/* SPDX-License-Identifier: GPL-2.0 */
/*
 * soc-kvm internals shared by main.c (device, control window), chan.c (API
 * calls on any window) and vm.c (VM and vCPU files).
 */
#ifndef _SOC_KVM_H
#define _SOC_KVM_H

#include <linux/bitmap.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "ksoc_chan.h"
#include "ksoc_kvm_ioctl.h"
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
 * @slot_lock: protects @slots_busy.
 * @slots_busy: shared slots owned by a caller between post and collect.
 * @wq: callers waiting for a slot, a response or an exit.
 * @next_id: request id generator.
 * @failed: the host broke the protocol, failed the window or stopped
 *	answering; every later call returns -EIO.
 * @host_heartbeat: the host's heartbeat in the control window.
 * @on_fail: called (any context) when the channel fails, to wake waiters
 *	that do not sleep on @wq; may be NULL.
 */
struct soc_chan {
	struct ksoc_transport *t;
	void *win;
	struct ksoc_layout l;
	u32 id;
	u32 nr_shared;
	spinlock_t slot_lock; /* protects @slots_busy */
	DECLARE_BITMAP(slots_busy, KSOC_API_MAX_SLOTS);
	wait_queue_head_t wq;
	atomic64_t next_id;
	bool failed;
	__le64 *host_heartbeat;
	void (*on_fail)(struct soc_chan *c);
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
 */
struct soc_kvm {
	struct ksoc_transport *t;
	struct soc_chan ctrl;
	u64 features;
	struct kvm_soc_hello hello;
	struct delayed_work heartbeat_work;
	u64 heartbeat;
	struct xarray vms;
};

/*
 * soc_kvm_rwsem: readers are every file operation that touches a window or
 * the transport (they may sleep in it); the writer is attach/detach.
 * soc_kvm is the attached transport, or NULL.
 */
extern struct rw_semaphore soc_kvm_rwsem;
extern struct soc_kvm *soc_kvm;

/* chan.c */
void soc_chan_init(struct soc_chan *c, struct ksoc_transport *t, void *win,
		   const struct ksoc_layout *l, u32 nr_shared);
/* The host is alive if its heartbeat moved since *@last (updated). */
bool soc_host_alive(struct soc_chan *c, u64 *last, unsigned long *since);
void soc_chan_fail(struct soc_chan *c, const char *why);
bool soc_chan_dead(struct soc_chan *c);
int soc_chan_call(struct soc_chan *c, struct ksoc_api_msg *m,
		  const void *req, void *resp, u32 cap);
int soc_chan_call_slot(struct soc_chan *c, u32 slot, struct ksoc_api_msg *m,
		       const void *req, void *resp, u32 cap);
long soc_fwd_ioctl(struct soc_chan *c, u32 op, u32 target, int slot,
		   unsigned int level, unsigned int cmd, unsigned long arg,
		   u32 xsave_size, u64 token);
long soc_check_extension(struct soc_chan *c, u32 op, unsigned long cap);
long soc_result(s64 r);

/* vm.c */
long soc_vm_create(struct soc_kvm *sk, unsigned long type);
void soc_vm_doorbell(struct soc_kvm *sk, unsigned int vec);
void soc_vm_kill_all(struct soc_kvm *sk);
void soc_vm_detach_all(struct soc_kvm *sk);

#endif /* _SOC_KVM_H */
