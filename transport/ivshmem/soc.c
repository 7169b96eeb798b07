// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc ivshmem transport, SoC side: a PCI driver for the SoC machine's
 * ivshmem-doorbell device (peer 1).  It attaches soc-kvm to the control
 * window once the host is up, and maps the VM windows the host publishes
 * in the header's window table.
 *
 * The host may come up before or after the SoC, and a doorbell rung
 * before our MSI-X vectors were enabled is lost, so the attach is a work
 * item run once after setup and again on every control doorbell until it
 * succeeds.  When the host goes away, soc-kvm's heartbeat check fails its
 * callers with -EIO; a restarted host (a new generation in its peer line)
 * is attached anew.
 *
 * Guest memory is the host's.  The SoC machine reaches it through a second
 * ivshmem device, an ivshmem-plain (no MSI-X) whose BAR2 is the host
 * machine's RAM file: the DMA window.  A host DMA address is an offset
 * into it (dma_phys, for mappings), and the bulk path (dma_copy) is a copy
 * through its kernel mapping.  Without that device, guest memory is not
 * offered (memory slots and KVM_SOC_CREATE_MEMORY answer -EOPNOTSUPP).
 * What we write there bypasses the host machine's TCG translation cache,
 * so we ask soc-kvm to have the host store it again (sync_writes).
 * The DMA window's driver is registered first, so a doorbell device
 * probed after it finds it.
 *
 * Locking: @lock serialises attach and detach against each other and
 * against remove; window map/unmap are called by soc-kvm under its own
 * locks and touch only the entry of their id.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

#include "ivsh.c"

/*
 * The host machine's CPU does not see our stores into its RAM file as its
 * own: under TCG it keeps running its translation of code we overwrote
 * (firmware reloaded at reset).  On by default; off only for a host
 * machine whose CPU is coherent with the file (KVM-accelerated).
 */
static bool sync_writes = true;
module_param(sync_writes, bool, 0444);
MODULE_PARM_DESC(sync_writes,
		 "have the host machine's CPU store again the guest memory pages the SoC wrote, before a vCPU runs (default on)");

/**
 * struct ivsh_soc - the SoC side.
 * @iv: the device.
 * @lock: serialises attach/detach.
 * @attach_work: tries to attach soc-kvm (queued by control doorbells).
 * @attached: soc-kvm is attached.
 * @host_generation: the host generation soc-kvm is attached to.
 * @removing: remove() has started; no more attaches.
 */
struct ivsh_soc {
	struct ivsh iv;
	struct mutex lock;		/* attach/detach */
	struct work_struct attach_work;
	bool attached;
	u32 host_generation;
	bool removing;
};

/**
 * struct ivsh_dma - the DMA window (an ivshmem-plain device).
 * @pdev: the device, or NULL when there is none.
 * @phys: BAR2's physical address.
 * @size: its size.
 * @mem: its kernel mapping (write-back: it is RAM).
 */
static struct ivsh_dma {
	struct pci_dev *pdev;
	phys_addr_t phys;
	u64 size;
	void *mem;
} ivsh_dma;
/* Protects ivsh_dma against the window's removal while a copy runs. */
static DECLARE_RWSEM(ivsh_dma_rwsem);

static int ivsh_soc_dma_phys(struct ksoc_transport *t, u64 dma, u64 len,
			     phys_addr_t *phys)
{
	int ret = -ERANGE;

	down_read(&ivsh_dma_rwsem);
	if (ivsh_dma.pdev && len && dma + len >= dma && dma + len <= ivsh_dma.size) {
		*phys = ivsh_dma.phys + dma;
		ret = 0;
	}
	up_read(&ivsh_dma_rwsem);
	return ret;
}

/* The bulk path: the SoC's CPU copies through the window (no DMA engine). */
static int ivsh_soc_dma_copy(struct ksoc_transport *t, u64 dma, void *buf,
			     u64 len, bool to_host)
{
	int ret = -ERANGE;

	down_read(&ivsh_dma_rwsem);
	if (ivsh_dma.pdev && dma + len >= dma && dma + len <= ivsh_dma.size) {
		if (to_host)
			memcpy(ivsh_dma.mem + dma, buf, len);
		else
			memcpy(buf, ivsh_dma.mem + dma, len);
		ret = 0;
	}
	up_read(&ivsh_dma_rwsem);
	return ret;
}

static int ivsh_dma_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	u64 size;
	void *mem;
	int ret;

	if (pdev->msix_cap)
		return -ENODEV;	/* a doorbell device: ivsh_soc_driver's */
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pci_request_region(pdev, 2, "kvm-soc-ivshmem-dma");
	if (ret)
		return ret;
	size = pci_resource_len(pdev, 2);
	mem = devm_memremap(&pdev->dev, pci_resource_start(pdev, 2), size,
			    MEMREMAP_WB);
	if (IS_ERR(mem))
		return PTR_ERR(mem);
	down_write(&ivsh_dma_rwsem);
	if (ivsh_dma.pdev) {
		up_write(&ivsh_dma_rwsem);
		pci_info(pdev, "a second DMA window: not used\n");
		return -EBUSY;
	}
	ivsh_dma = (struct ivsh_dma){
		.pdev = pdev, .phys = pci_resource_start(pdev, 2), .size = size,
		.mem = mem,
	};
	up_write(&ivsh_dma_rwsem);
	pci_info(pdev, "DMA window onto host memory: %llu MiB\n", size >> 20);
	return 0;
}

static void ivsh_dma_remove(struct pci_dev *pdev)
{
	down_write(&ivsh_dma_rwsem);
	if (ivsh_dma.pdev == pdev)
		ivsh_dma = (struct ivsh_dma){ };
	up_write(&ivsh_dma_rwsem);
}

static void *ivsh_soc_window_map(struct ksoc_transport *t, u32 id, u64 *size)
{
	struct ivsh *iv = container_of(t, struct ivsh, t);
	struct kvm_soc_ivshmem_win *e;
	u64 off, sz, pool, pool_end;
	u32 gen;

	if (!id || id > KVM_SOC_IVSHMEM_NR_WINDOWS)
		return NULL;
	e = &iv->hdr->win[id - 1];
	/* Pairs with the host's release of size after offset/generation. */
	sz = le64_to_cpu(smp_load_acquire(&e->size));
	off = le64_to_cpu(READ_ONCE(e->offset));
	gen = le32_to_cpu(READ_ONCE(e->generation));
	pool = le64_to_cpu(iv->desc.pool_offset);
	pool_end = pool + le64_to_cpu(iv->desc.pool_size);
	if (!sz || !gen || off < pool || off > pool_end || sz > pool_end - off ||
	    !IS_ALIGNED(off | sz, KVM_SOC_AREA_ALIGN)) {
		pr_err_ratelimited("window %u: bad table entry (offset %llu, size %llu)\n",
				   id, off, sz);
		return NULL;
	}
	/*
	 * One mapping per window: unmaps are not counted, so a second user
	 * (a host naming a window already in use) would later hand the
	 * first user's memory back to the host.
	 */
	if (test_and_set_bit(id, iv->ids)) {
		pr_err_ratelimited("window %u: mapped already\n", id);
		return NULL;
	}
	WRITE_ONCE(e->soc_generation, cpu_to_le32(gen));
	*size = sz;
	return iv->shm + off;
}

static void ivsh_soc_window_unmap(struct ksoc_transport *t, u32 id)
{
	struct ivsh *iv = container_of(t, struct ivsh, t);

	if (!id || id > KVM_SOC_IVSHMEM_NR_WINDOWS)
		return;
	clear_bit(id, iv->ids);
	/* The host may now reuse the window's memory. */
	smp_store_release(&iv->hdr->win[id - 1].soc_generation, 0);
}

/*
 * Fault injection, for tests (as the loop's): "poke <window> <offset>
 * <value>" stores a little-endian u32 into a window this side maps (0:
 * the control window), as a hostile peer would, and rings both sides for
 * it.  "windows" lists the windows this side maps: "<id> <size>".
 */
static ssize_t ivsh_soc_poke_write(struct file *filp, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct ivsh *iv = file_inode(filp)->i_private;
	struct kvm_soc_ivshmem_win *e;
	char buf[64];
	u64 off, size, woff;
	u32 id, val;
	void *mem;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	if (sscanf(buf, "%u %llu %x", &id, &off, &val) != 3)
		return -EINVAL;
	if (id > KVM_SOC_IVSHMEM_NR_WINDOWS)
		return -ENOENT;
	if (id) {
		if (!test_bit(id, iv->ids))
			return -ENOENT;
		e = &iv->hdr->win[id - 1];
		size = le64_to_cpu(READ_ONCE(e->size));
		woff = le64_to_cpu(READ_ONCE(e->offset));
		if (woff > le64_to_cpu(iv->desc.shm_size) ||
		    size > le64_to_cpu(iv->desc.shm_size) - woff)
			return -EINVAL;
		mem = iv->shm + woff;
	} else {
		mem = iv->t.ctrl_win;
		size = iv->t.ctrl_size;
	}
	if (off % 4 || size < 4 || off > size - 4)
		return -EINVAL;
	WRITE_ONCE(*(__le32 *)(mem + off), cpu_to_le32(val));
	ivsh_kick(&iv->t, id);
	ksoc_transport_ring(&iv->t, id);
	return len;
}

static const struct file_operations ivsh_soc_poke_fops = {
	.owner	= THIS_MODULE,
	.write	= ivsh_soc_poke_write,
	.llseek	= noop_llseek,
};

/*
 * "<id> <bytes> <API slot bytes>" per window this side maps.  The host may
 * have rewritten the table since the window was mapped: where the entry
 * no longer lies in the pool, the slot size reads 0.
 */
static int ivsh_soc_windows_show(struct seq_file *m, void *unused)
{
	struct ivsh *iv = m->private;
	u64 pool = le64_to_cpu(iv->desc.pool_offset);
	u64 end = pool + le64_to_cpu(iv->desc.pool_size);
	const struct kvm_soc_window_hdr *h;
	unsigned int id;
	u64 off, sz;
	u32 slot;

	for_each_set_bit(id, iv->ids, KVM_SOC_IVSHMEM_NR_WINDOWS + 1) {
		if (!id)
			continue;
		off = le64_to_cpu(READ_ONCE(iv->hdr->win[id - 1].offset));
		sz = le64_to_cpu(READ_ONCE(iv->hdr->win[id - 1].size));
		slot = 0;
		if (off >= pool && off < end && end - off >= sizeof(*h)) {
			h = iv->shm + off;
			slot = le32_to_cpu(READ_ONCE(h->desc.api_slot_size));
		}
		seq_printf(m, "%u %llu %u\n", id, sz, slot);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ivsh_soc_windows);

static void ivsh_soc_detach(struct ivsh_soc *s)
{
	lockdep_assert_held(&s->lock);
	if (!s->attached)
		return;
	soc_kvm_detach(&s->iv.t);
	s->attached = false;
}

static void ivsh_soc_attach_work(struct work_struct *work)
{
	struct ivsh_soc *s = container_of(work, struct ivsh_soc, attach_work);
	struct ivsh *iv = &s->iv;
	u32 gen, state;
	int ret;

	mutex_lock(&s->lock);
	if (s->removing)
		goto out;
	state = ivsh_peer_state(iv, KVM_SOC_IVSHMEM_PEER_HOST, &gen);
	if (s->attached && (state != KVM_SOC_PEER_UP || gen != s->host_generation)) {
		pci_info(iv->pdev, "host generation %u went away\n", s->host_generation);
		ivsh_soc_detach(s);
	}
	/* The host takes us in once it has freed what a SoC before us left. */
	if (s->attached || state != KVM_SOC_PEER_UP ||
	    ivsh_peer_taken_in(iv, KVM_SOC_IVSHMEM_PEER_HOST) != iv->generation)
		goto out;
	ret = soc_kvm_attach(&iv->t);
	if (ret) {
		/* Not up yet (-ENXIO): the host's next control doorbell retries. */
		if (ret != -ENXIO)
			pci_err(iv->pdev, "soc-kvm did not attach: %d\n", ret);
		goto out;
	}
	s->attached = true;
	s->host_generation = gen;
	pci_info(iv->pdev, "attached to host generation %u\n", gen);
out:
	mutex_unlock(&s->lock);
}

/*
 * A control doorbell may mean the host came (back) up.  Runs in hardirq
 * before soc-kvm's own handler; only queues work.
 */
static void ivsh_soc_on_ctrl(struct ivsh *iv)
{
	struct ivsh_soc *s = container_of(iv, struct ivsh_soc, iv);

	if (!READ_ONCE(s->removing))
		schedule_work(&s->attach_work);
}

static int ivsh_soc_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	struct ivsh_soc *s;
	struct ivsh *iv;
	unsigned int i;
	int ret;

	s = devm_kzalloc(&pdev->dev, sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	iv = &s->iv;
	mutex_init(&s->lock);
	INIT_WORK(&s->attach_work, ivsh_soc_attach_work);
	iv->on_ctrl = ivsh_soc_on_ctrl;
	ret = ivsh_setup(pdev, iv, KVM_SOC_IVSHMEM_PEER_SOC);
	if (ret)
		return ret;

	/* Whatever windows an earlier SoC mapped, this one maps none. */
	for (i = 0; i < KVM_SOC_IVSHMEM_NR_WINDOWS; i++)
		WRITE_ONCE(iv->hdr->win[i].soc_generation, 0);
	ksoc_transport_init(&iv->t);
	iv->t.name = "ivshmem";
	iv->t.ctrl_win = iv->shm + le64_to_cpu(iv->desc.ctrl_offset);
	iv->t.ctrl_size = le64_to_cpu(iv->desc.ctrl_size);
	iv->t.kick = ivsh_kick;
	iv->t.window_map = ivsh_soc_window_map;
	iv->t.window_unmap = ivsh_soc_window_unmap;
	down_read(&ivsh_dma_rwsem);
	if (ivsh_dma.pdev) {
		iv->t.dma_phys = ivsh_soc_dma_phys;
		iv->t.dma_copy = ivsh_soc_dma_copy;
		iv->t.sync_writes = sync_writes;
	} else {
		pci_info(pdev, "no DMA window: guest memory is not offered\n");
	}
	up_read(&ivsh_dma_rwsem);
	pci_set_drvdata(pdev, s);
	ivsh_debugfs_init(iv, "kvm-soc-ivshmem-soc");
	debugfs_create_file("poke", 0200, iv->dbg, iv, &ivsh_soc_poke_fops);
	debugfs_create_file("windows", 0400, iv->dbg, iv, &ivsh_soc_windows_fops);
	ivsh_set_peer_state(iv, KVM_SOC_PEER_UP);
	/* Announce the new generation; the host answers on our vector 0. */
	ivsh_kick(&iv->t, KSOC_VEC_CTRL);
	/* Doorbells rung before MSI-X was on are lost: look now. */
	schedule_work(&s->attach_work);
	return 0;
}

static void ivsh_soc_remove(struct pci_dev *pdev)
{
	struct ivsh_soc *s = pci_get_drvdata(pdev);

	WRITE_ONCE(s->removing, true);
	cancel_work_sync(&s->attach_work);
	mutex_lock(&s->lock);
	ivsh_soc_detach(s);
	mutex_unlock(&s->lock);
	ivsh_set_peer_state(&s->iv, KVM_SOC_PEER_DOWN);
	ivsh_teardown(&s->iv);
	/* A doorbell that raced with the first cancel queued it again. */
	cancel_work_sync(&s->attach_work);
}

static const struct pci_device_id ivsh_soc_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ivsh_soc_ids);

static struct pci_driver ivsh_soc_driver = {
	.name		= "kvm-soc-ivshmem-soc",
	.id_table	= ivsh_soc_ids,
	.probe		= ivsh_soc_probe,
	.remove		= ivsh_soc_remove,
};

static struct pci_driver ivsh_dma_driver = {
	.name		= "kvm-soc-ivshmem-dma",
	.id_table	= ivsh_soc_ids,
	.probe		= ivsh_dma_probe,
	.remove		= ivsh_dma_remove,
};

static int __init ivsh_soc_init(void)
{
	int ret;

	ret = pci_register_driver(&ivsh_dma_driver);
	if (ret)
		return ret;
	ret = pci_register_driver(&ivsh_soc_driver);
	if (ret)
		pci_unregister_driver(&ivsh_dma_driver);
	return ret;
}

static void __exit ivsh_soc_exit(void)
{
	/* Doorbell devices first: soc-kvm is detached before the window goes. */
	pci_unregister_driver(&ivsh_soc_driver);
	pci_unregister_driver(&ivsh_dma_driver);
}

module_init(ivsh_soc_init);
module_exit(ivsh_soc_exit);

MODULE_DESCRIPTION("kvm-soc ivshmem transport, SoC side");
MODULE_LICENSE("GPL");
