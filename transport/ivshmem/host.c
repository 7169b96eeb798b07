// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc ivshmem transport, host side: a PCI driver for the host
 * machine's ivshmem-doorbell device (peer 0).  It hands host-kvm the
 * control window in the shared memory and carves VM windows out of the
 * pool, publishing each in the header's window table.
 *
 * It also answers for the SoC's lifetime, which only it can see: a new
 * SoC generation is taken in only after host-kvm has been reset (every VM
 * an earlier SoC left is destroyed, its windows reclaimed), and a SoC
 * that stops its heartbeat for SOC_DEAD_MS, or goes DOWN, gets the same
 * reset.  A reset is host_kvm_detach() + host_kvm_attach(): the cores'
 * own teardown, then a freshly formatted control window.
 *
 * Guest memory is the host's (host-kvm allocates it, KVM_SOC_F_HOST_MEMORY):
 * this side only says at which address the SoC reaches a host page
 * (dma_addr).
 *
 * Locking: @lock (a mutex) serialises window allocation and release, the
 * pool and the window table's host fields.  @watch_lock serialises the
 * SoC watch (and with it every reset) against remove.  Doorbells run in
 * hardirq and only read the ids bitmap (set before a window is published,
 * cleared after it is withdrawn) and the SoC's generation.
 * Lock order: @watch_lock -> host-kvm's locks -> @lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/genalloc.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "ivsh.c"

/* A SoC whose heartbeat stands still this long is gone. */
#define SOC_DEAD_MS	(4 * KVM_SOC_HEARTBEAT_MS)

/**
 * struct ivsh_host - the host side.
 * @iv: the device.
 * @lock: serialises window allocation and release.
 * @pool: allocator over the pool's byte offsets (offset + 1, so 0 is free).
 * @zombie: freed windows whose memory the SoC may still map.
 * @place: each window's offset and size in the pool, as allocated (our
 *	own copy: the table in shared memory is only ever written).
 * @attached: host-kvm serves the control window.
 * @watch_lock: serialises the SoC watch against remove.
 * @watch_work: looks at the SoC's line (doorbells and once a second).
 * @soc_gen: the SoC generation taken in, 0 for none.
 * @soc_hb: its heartbeat when last seen moving, at @soc_hb_since.
 * @soc_hb_since: jiffies.
 * @soc_gone: @soc_gen died or left, and what it left was freed.
 * @removing: remove() has started.
 */
struct ivsh_host {
	struct ivsh iv;
	struct mutex lock;		/* the pool and the window table */
	struct gen_pool *pool;
	DECLARE_BITMAP(zombie, KVM_SOC_IVSHMEM_NR_WINDOWS + 1);
	struct {
		u64 offset;
		u64 size;
		u32 generation;
	} place[KVM_SOC_IVSHMEM_NR_WINDOWS + 1];
	bool attached;
	struct mutex watch_lock;	/* the watch, resets, remove */
	struct delayed_work watch_work;
	u32 soc_gen;
	u64 soc_hb;
	unsigned long soc_hb_since;
	bool soc_gone;
	bool removing;
};

static struct kvm_soc_ivshmem_win *win_entry(struct ivsh *iv, u32 id)
{
	return &iv->hdr->win[id - 1];
}

/* Give back the memory of freed windows the SoC no longer maps. */
static void ivsh_host_reap(struct ivsh_host *h, bool force)
{
	unsigned int id;
	u32 soc_gen;

	lockdep_assert_held(&h->lock);
	for_each_set_bit(id, h->zombie, KVM_SOC_IVSHMEM_NR_WINDOWS + 1) {
		soc_gen = le32_to_cpu(READ_ONCE(win_entry(&h->iv, id)->soc_generation));
		if (!force && soc_gen == h->place[id].generation)
			continue;
		gen_pool_free(h->pool, h->place[id].offset + 1, h->place[id].size);
		h->place[id].size = 0;
		clear_bit(id, h->zombie);
	}
}

static void *ivsh_host_window_alloc(struct ksoc_transport *t, u64 size, u32 *id)
{
	struct ivsh_host *h = container_of(t, struct ivsh_host, iv.t);
	struct ivsh *iv = &h->iv;
	struct kvm_soc_ivshmem_win *e;
	unsigned long off;
	void *mem = NULL;
	u32 i, gen;

	size = round_up(size, KVM_SOC_AREA_ALIGN);
	if (!size || size > SZ_64M)
		return NULL;
	mutex_lock(&h->lock);
	ivsh_host_reap(h, false);
	for (i = 1; i <= KVM_SOC_IVSHMEM_NR_WINDOWS; i++)
		if (!test_bit(i, iv->ids) && !test_bit(i, h->zombie))
			break;
	if (i > KVM_SOC_IVSHMEM_NR_WINDOWS)
		goto out;
	off = gen_pool_alloc(h->pool, size);
	if (!off)
		goto out;
	off -= 1;
	mem = iv->shm + off;
	memset(mem, 0, size);
	e = win_entry(iv, i);
	gen = h->place[i].generation + 1;
	if (!gen)
		gen = 1;
	h->place[i].offset = off;
	h->place[i].size = size;
	h->place[i].generation = gen;
	WRITE_ONCE(e->offset, cpu_to_le64(off));
	WRITE_ONCE(e->generation, cpu_to_le32(gen));
	set_bit(i, iv->ids);
	/* Publishes offset and generation; pairs with the SoC's acquire of size. */
	smp_store_release(&e->size, cpu_to_le64(size));
	*id = i;
out:
	mutex_unlock(&h->lock);
	return mem;
}

/* The window's memory is reused only once the SoC has let go of it. */
static void ivsh_host_window_free(struct ksoc_transport *t, u32 id)
{
	struct ivsh_host *h = container_of(t, struct ivsh_host, iv.t);

	if (!id || id > KVM_SOC_IVSHMEM_NR_WINDOWS)
		return;
	mutex_lock(&h->lock);
	if (test_and_clear_bit(id, h->iv.ids)) {
		/* Withdrawn: the SoC maps no window with size 0. */
		smp_store_release(&win_entry(&h->iv, id)->size, 0);
		set_bit(id, h->zombie);
		ivsh_host_reap(h, false);
	}
	mutex_unlock(&h->lock);
}

/* Destroy whatever the SoC left: host-kvm's teardown, then a new start. */
static void ivsh_host_reset(struct ivsh_host *h, const char *why)
{
	struct ivsh *iv = &h->iv;
	int ret;

	lockdep_assert_held(&h->watch_lock);
	pci_info(iv->pdev, "%s: resetting host-kvm\n", why);
	if (h->attached) {
		host_kvm_detach(&iv->t);
		h->attached = false;
	}
	/* The SoC that mapped the withdrawn windows is gone. */
	mutex_lock(&h->lock);
	ivsh_host_reap(h, true);
	mutex_unlock(&h->lock);
	ret = host_kvm_attach(&iv->t);
	if (ret) {
		pci_err(iv->pdev, "host-kvm did not attach again: %d\n", ret);
		return;
	}
	h->attached = true;
}

static void ivsh_host_watch(struct work_struct *work)
{
	struct ivsh_host *h = container_of(to_delayed_work(work), struct ivsh_host,
					   watch_work);
	struct ivsh *iv = &h->iv;
	u32 state, gen;
	u64 hb;

	mutex_lock(&h->watch_lock);
	if (h->removing)
		goto out;
	state = ivsh_peer_state(iv, KVM_SOC_IVSHMEM_PEER_SOC, &gen);
	hb = ivsh_peer_heartbeat(iv, KVM_SOC_IVSHMEM_PEER_SOC);
	if (state == KVM_SOC_PEER_UP && gen && gen != h->soc_gen) {
		/* A new SoC: nothing of the previous one may outlive it. */
		if (h->soc_gen && !h->soc_gone)
			ivsh_host_reset(h, "a new SoC replaces the one before");
		h->soc_gen = gen;
		h->soc_hb = hb;
		h->soc_hb_since = jiffies;
		h->soc_gone = false;
		ivsh_take_in(iv, gen);
		pci_info(iv->pdev, "SoC generation %u taken in\n", gen);
		ivsh_kick(&iv->t, KSOC_VEC_CTRL);
	} else if (h->soc_gen && !h->soc_gone && gen == h->soc_gen &&
		   state == KVM_SOC_PEER_UP) {
		if (hb != h->soc_hb) {
			h->soc_hb = hb;
			h->soc_hb_since = jiffies;
		} else if (time_after(jiffies, h->soc_hb_since +
				      msecs_to_jiffies(SOC_DEAD_MS))) {
			ivsh_host_reset(h, "the SoC stopped (no heartbeat)");
			h->soc_gone = true;
		}
	} else if (h->soc_gen && !h->soc_gone && state != KVM_SOC_PEER_UP) {
		ivsh_host_reset(h, "the SoC left");
		h->soc_gone = true;
	}
	schedule_delayed_work(&h->watch_work, msecs_to_jiffies(KVM_SOC_HEARTBEAT_MS));
out:
	mutex_unlock(&h->watch_lock);
}

/* Control doorbell (hardirq): a SoC that announced a new generation? */
static void ivsh_host_on_ctrl(struct ivsh *iv)
{
	struct ivsh_host *h = container_of(iv, struct ivsh_host, iv);
	u32 gen = le32_to_cpu(READ_ONCE(iv->hdr->peer[KVM_SOC_IVSHMEM_PEER_SOC].generation));

	if (gen != READ_ONCE(h->soc_gen) && !READ_ONCE(h->removing))
		mod_delayed_work(system_wq, &h->watch_work, 0);
}

/*
 * The SoC's reach into host memory.  In the rig the host machine's RAM is
 * one memory file that the SoC machine also has as a BAR (ivshmem-plain):
 * a host-physical address is an offset into that BAR, as long as it lies
 * below 4 GiB, where QEMU's pc and q35 machines lay RAM out linearly from
 * the file's start (RAM above 4 GiB continues the file at another offset,
 * so it is refused).  A DPU's transport maps the pages in its IOMMU here.
 */
static bool dma = true;
module_param(dma, bool, 0444);
MODULE_PARM_DESC(dma, "offer host-allocated guest memory the SoC reaches at host-physical addresses (default on)");

static int ivsh_host_dma_addr(struct ksoc_transport *t, phys_addr_t phys,
			      u64 len, u64 *addr)
{
	if (!len || phys + len < phys || phys + len > SZ_4G)
		return -ERANGE;
	*addr = phys;
	return 0;
}

static int ivsh_host_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	struct ivsh_host *h;
	struct ivsh *iv;
	u64 pool_off, pool_size;
	int ret;

	h = devm_kzalloc(&pdev->dev, sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	iv = &h->iv;
	mutex_init(&h->lock);
	mutex_init(&h->watch_lock);
	INIT_DELAYED_WORK(&h->watch_work, ivsh_host_watch);
	iv->on_ctrl = ivsh_host_on_ctrl;
	ret = ivsh_setup(pdev, iv, KVM_SOC_IVSHMEM_PEER_HOST);
	if (ret)
		return ret;

	ret = -ENOMEM;
	pool_off = le64_to_cpu(iv->desc.pool_offset);
	pool_size = le64_to_cpu(iv->desc.pool_size);
	h->pool = gen_pool_create(ilog2(KVM_SOC_AREA_ALIGN), -1);
	if (!h->pool)
		goto err_teardown;
	/* Offsets + 1: gen_pool_alloc() returns 0 for failure. */
	if (gen_pool_add(h->pool, pool_off + 1, pool_size, -1))
		goto err_pool;
	/* A new host: nothing of an earlier one's window table stands. */
	memset(iv->hdr->win, 0, sizeof(iv->hdr->win));

	ksoc_transport_init(&iv->t);
	iv->t.name = "ivshmem";
	iv->t.ctrl_win = iv->shm + le64_to_cpu(iv->desc.ctrl_offset);
	iv->t.ctrl_size = le64_to_cpu(iv->desc.ctrl_size);
	iv->t.kick = ivsh_kick;
	iv->t.window_alloc = ivsh_host_window_alloc;
	iv->t.window_free = ivsh_host_window_free;
	if (dma)
		iv->t.dma_addr = ivsh_host_dma_addr;
	pci_set_drvdata(pdev, h);
	ivsh_debugfs_init(iv, "kvm-soc-ivshmem-host");

	ret = host_kvm_attach(&iv->t);
	if (ret) {
		pci_err(pdev, "host-kvm did not attach: %d\n", ret);
		goto err_pool;
	}
	h->attached = true;
	ivsh_set_peer_state(iv, KVM_SOC_PEER_UP);
	/* A SoC that came first is taken in by the first watch. */
	schedule_delayed_work(&h->watch_work, 0);
	ivsh_kick(&iv->t, KSOC_VEC_CTRL);
	pci_info(pdev, "kvm-soc host up (generation %u)\n", iv->generation);
	return 0;

err_pool:
	gen_pool_destroy(h->pool);
err_teardown:
	ivsh_teardown(iv);
	return ret;
}

static void ivsh_host_remove(struct pci_dev *pdev)
{
	struct ivsh_host *h = pci_get_drvdata(pdev);
	struct ivsh *iv = &h->iv;

	mutex_lock(&h->watch_lock);
	WRITE_ONCE(h->removing, true);
	mutex_unlock(&h->watch_lock);
	cancel_delayed_work_sync(&h->watch_work);
	ivsh_set_peer_state(iv, KVM_SOC_PEER_DOWN);
	if (h->attached)
		host_kvm_detach(&iv->t);
	ivsh_kick(&iv->t, KSOC_VEC_CTRL);
	ivsh_teardown(iv);
	/* A doorbell that raced with the first cancel queued it again. */
	cancel_delayed_work_sync(&h->watch_work);
	mutex_lock(&h->lock);
	ivsh_host_reap(h, true);
	mutex_unlock(&h->lock);
	WARN_ON(!bitmap_empty(iv->ids, KVM_SOC_IVSHMEM_NR_WINDOWS + 1));
	gen_pool_destroy(h->pool);
}

static const struct pci_device_id ivsh_host_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ivsh_host_ids);

static struct pci_driver ivsh_host_driver = {
	.name		= "kvm-soc-ivshmem-host",
	.id_table	= ivsh_host_ids,
	.probe		= ivsh_host_probe,
	.remove		= ivsh_host_remove,
};
module_pci_driver(ivsh_host_driver);

MODULE_DESCRIPTION("kvm-soc ivshmem transport, host side");
MODULE_LICENSE("GPL");
