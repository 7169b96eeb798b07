// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-soc ivshmem transport, the part both sides share: bring up the
 * ivshmem-doorbell device, validate the layout the server wrote, ring the
 * peer, take its doorbells.  Built into each side's module (host.c and
 * soc.c include it), so neither module depends on the other.
 *
 * Access model: BAR2 is memory the peer writes at any time.  Every field
 * is read once (READ_ONCE) into a local copy, and only the copy is
 * checked and used.  Each side writes only its own fields.
 */
#include <linux/debugfs.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/seq_file.h>

#include "ivsh.h"

u32 ivsh_window_vector(struct ivsh *iv, u32 id)
{
	if (!id || iv->nvec < 2)
		return 0;
	return 1 + (id - 1) % (iv->nvec - 1);
}

/* ksoc_transport.kick: ring the peer's vector for window @vec. */
void ivsh_kick(struct ksoc_transport *t, unsigned int vec)
{
	struct ivsh *iv = container_of(t, struct ivsh, t);

	writel((iv->peer << 16) | ivsh_window_vector(iv, vec),
	       iv->regs + IVSH_REG_DOORBELL);
}

/* The peer rang our vector: wake every window on it. */
static irqreturn_t ivsh_irq(int irq, void *data)
{
	struct ivsh_vec *vec = data;
	struct ivsh *iv = vec->iv;
	unsigned int v = vec->v, id;

	atomic64_inc(&iv->doorbells[v]);
	if (v == 0) {
		if (iv->on_ctrl)
			iv->on_ctrl(iv);
		ksoc_transport_ring(&iv->t, KSOC_VEC_CTRL);
	}
	for_each_set_bit(id, iv->ids, KVM_SOC_IVSHMEM_NR_WINDOWS + 1)
		if (ivsh_window_vector(iv, id) == v)
			ksoc_transport_ring(&iv->t, id);
	return IRQ_HANDLED;
}

static void ivsh_heartbeat_work(struct work_struct *work)
{
	struct ivsh *iv = container_of(to_delayed_work(work), struct ivsh,
				       heartbeat_work);

	WRITE_ONCE(iv->hdr->peer[iv->id].heartbeat, cpu_to_le64(++iv->heartbeat));
	schedule_delayed_work(&iv->heartbeat_work,
			      msecs_to_jiffies(KVM_SOC_HEARTBEAT_MS));
}

/* Our line: UP with a new generation (heartbeat running), or DOWN. */
void ivsh_set_peer_state(struct ivsh *iv, u32 state)
{
	struct kvm_soc_ivshmem_peer *p = &iv->hdr->peer[iv->id];

	if (state == KVM_SOC_PEER_UP) {
		iv->generation = le32_to_cpu(READ_ONCE(p->generation)) + 1;
		if (!iv->generation)
			iv->generation = 1;
		iv->heartbeat = le64_to_cpu(READ_ONCE(p->heartbeat));
		WRITE_ONCE(p->generation, cpu_to_le32(iv->generation));
		WRITE_ONCE(p->peer_generation, 0);
		schedule_delayed_work(&iv->heartbeat_work, 0);
	} else {
		cancel_delayed_work_sync(&iv->heartbeat_work);
	}
	/* Publishes the generation (and all set up before) with the state. */
	smp_store_release(&p->state, cpu_to_le32(state));
}

u64 ivsh_peer_heartbeat(struct ivsh *iv, u32 id)
{
	return le64_to_cpu(READ_ONCE(iv->hdr->peer[id].heartbeat));
}

/* The generation of ours that peer @id has taken in. */
u32 ivsh_peer_taken_in(struct ivsh *iv, u32 id)
{
	/* Pairs with the release in the peer's ivsh_take_in(). */
	return le32_to_cpu(smp_load_acquire(&iv->hdr->peer[id].peer_generation));
}

/* Say we have taken in the peer's @peer_generation (and all done for it). */
void ivsh_take_in(struct ivsh *iv, u32 peer_generation)
{
	/* Orders the reset done for that generation before the word saying so. */
	smp_store_release(&iv->hdr->peer[iv->id].peer_generation,
			  cpu_to_le32(peer_generation));
}

/* Peer @id's state, and its generation: one fetch each. */
u32 ivsh_peer_state(struct ivsh *iv, u32 id, u32 *generation)
{
	struct kvm_soc_ivshmem_peer *p = &iv->hdr->peer[id];
	/* Pairs with the release of the state in ivsh_set_peer_state(). */
	u32 state = le32_to_cpu(smp_load_acquire(&p->state));

	if (generation)
		*generation = le32_to_cpu(READ_ONCE(p->generation));
	return state;
}

/* Copy the server's layout once and check it against the BAR. */
static int ivsh_read_desc(struct ivsh *iv, u64 bar_size)
{
	struct kvm_soc_ivshmem_desc *s = &iv->hdr->desc, *d = &iv->desc;
	u64 ctrl_end, pool_end;
	unsigned int i;

	d->magic = READ_ONCE(s->magic);
	d->version = READ_ONCE(s->version);
	d->shm_size = READ_ONCE(s->shm_size);
	d->hdr_size = READ_ONCE(s->hdr_size);
	d->nr_vectors = READ_ONCE(s->nr_vectors);
	d->ctrl_offset = READ_ONCE(s->ctrl_offset);
	d->ctrl_size = READ_ONCE(s->ctrl_size);
	d->pool_offset = READ_ONCE(s->pool_offset);
	d->pool_size = READ_ONCE(s->pool_size);
	for (i = 0; i < ARRAY_SIZE(d->reserved); i++)
		d->reserved[i] = READ_ONCE(s->reserved[i]);

	if (le32_to_cpu(d->magic) != KVM_SOC_IVSHMEM_MAGIC ||
	    le32_to_cpu(d->version) != KVM_SOC_IVSHMEM_VERSION)
		return -EPROTONOSUPPORT;
	if (le64_to_cpu(d->shm_size) != bar_size ||
	    le32_to_cpu(d->hdr_size) != KVM_SOC_IVSHMEM_HDR_SIZE ||
	    !le32_to_cpu(d->nr_vectors) ||
	    le32_to_cpu(d->nr_vectors) > KVM_SOC_IVSHMEM_MAX_VECTORS ||
	    memchr_inv(d->reserved, 0, sizeof(d->reserved)))
		return -EPROTO;
	ctrl_end = le64_to_cpu(d->ctrl_offset) + le64_to_cpu(d->ctrl_size);
	pool_end = le64_to_cpu(d->pool_offset) + le64_to_cpu(d->pool_size);
	if (le64_to_cpu(d->ctrl_offset) < KVM_SOC_IVSHMEM_HDR_SIZE ||
	    !le64_to_cpu(d->ctrl_size) || ctrl_end > bar_size ||
	    ctrl_end < le64_to_cpu(d->ctrl_size) ||
	    le64_to_cpu(d->pool_offset) < ctrl_end || pool_end > bar_size ||
	    pool_end < le64_to_cpu(d->pool_size) ||
	    !IS_ALIGNED(le64_to_cpu(d->ctrl_offset) | le64_to_cpu(d->ctrl_size) |
			le64_to_cpu(d->pool_offset) | le64_to_cpu(d->pool_size),
			KVM_SOC_AREA_ALIGN))
		return -EPROTO;
	return 0;
}

/**
 * ivsh_setup - bring up an ivshmem-doorbell device for one side.
 * @pdev: the device.
 * @iv: zeroed; filled in.
 * @want_id: the peer id this side must have (host 0, SoC 1).
 *
 * Maps both BARs, validates the layout and enables MSI-X with one handler
 * per vector.  Doorbells rung before this returns are lost: the caller
 * re-reads the peer's state afterwards.
 *
 * Return: 0, -ENODEV for a device that is not this side's, -EPROTO or
 * -EPROTONOSUPPORT for a layout it cannot use, or another errno.
 */
int ivsh_setup(struct pci_dev *pdev, struct ivsh *iv, u32 want_id)
{
	u64 bar_size;
	int ret, n, v;

	iv->pdev = pdev;
	INIT_DELAYED_WORK(&iv->heartbeat_work, ivsh_heartbeat_work);
	if (!pdev->msix_cap)
		return -ENODEV;	/* ivshmem-plain: no doorbells, not ours */
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	/* Released with the device: pcim_enable_device() made it managed. */
	ret = pci_request_regions(pdev, KBUILD_MODNAME);
	if (ret)
		return ret;
	iv->regs = pcim_iomap(pdev, 0, 0);
	if (!iv->regs)
		return -ENOMEM;
	iv->id = readl(iv->regs + IVSH_REG_IV_POSITION);
	if (iv->id != want_id) {
		pci_info(pdev, "ivshmem peer %d, not %u: not this side's device\n",
			 (int)iv->id, want_id);
		return -ENODEV;
	}
	iv->peer = want_id == KVM_SOC_IVSHMEM_PEER_HOST ?
		   KVM_SOC_IVSHMEM_PEER_SOC : KVM_SOC_IVSHMEM_PEER_HOST;
	bar_size = pci_resource_len(pdev, 2);
	if (bar_size < KVM_SOC_IVSHMEM_HDR_SIZE)
		return -ENODEV;
	iv->shm = devm_memremap(&pdev->dev, pci_resource_start(pdev, 2),
				bar_size, MEMREMAP_WB);
	if (IS_ERR(iv->shm))
		return PTR_ERR(iv->shm);
	iv->hdr = iv->shm;
	ret = ivsh_read_desc(iv, bar_size);
	if (ret) {
		pci_err(pdev, "shared memory has no usable kvm-soc layout (%d)\n", ret);
		return ret;
	}

	n = pci_msix_vec_count(pdev);
	if (n <= 0)
		return -ENODEV;
	n = min_t(int, n, le32_to_cpu(iv->desc.nr_vectors));
	n = pci_alloc_irq_vectors(pdev, 1, n, PCI_IRQ_MSIX);
	if (n < 0)
		return n;
	iv->nvec = n;
	for (v = 0; v < n; v++) {
		iv->vec[v] = (struct ivsh_vec){ .iv = iv, .v = v };
		ret = request_irq(pci_irq_vector(pdev, v), ivsh_irq, 0,
				  KBUILD_MODNAME, &iv->vec[v]);
		if (ret)
			goto err_irqs;
	}
	pci_set_master(pdev);
	pci_info(pdev, "ivshmem peer %u: %llu MiB shared, %u vectors\n", iv->id,
		 bar_size >> 20, iv->nvec);
	return 0;

err_irqs:
	while (--v >= 0)
		free_irq(pci_irq_vector(pdev, v), &iv->vec[v]);
	pci_free_irq_vectors(pdev);
	return ret;
}

/*
 * debugfs <module>/header: the shared header as this side reads it now,
 * one "key value" per line (tests read it on both machines).
 */
static int ivsh_header_show(struct seq_file *m, void *unused)
{
	struct ivsh *iv = m->private;
	static const char * const names[] = { "host", "soc" };
	unsigned int i, windows = 0;
	u32 state, gen;

	seq_printf(m, "peer_id %u\n", iv->id);
	seq_printf(m, "magic 0x%08x\n", le32_to_cpu(iv->desc.magic));
	seq_printf(m, "shm_size %llu\n", le64_to_cpu(iv->desc.shm_size));
	seq_printf(m, "vectors %u\n", iv->nvec);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		state = ivsh_peer_state(iv, i, &gen);
		seq_printf(m, "%s_state %u\n%s_generation %u\n", names[i], state,
			   names[i], gen);
		seq_printf(m, "%s_heartbeat %llu\n%s_taken_in %u\n", names[i],
			   ivsh_peer_heartbeat(iv, i), names[i], ivsh_peer_taken_in(iv, i));
	}
	for (i = 0; i < KVM_SOC_IVSHMEM_NR_WINDOWS; i++)
		windows += !!READ_ONCE(iv->hdr->win[i].size);
	seq_printf(m, "windows %u\n", windows);
	for (i = 0; i < iv->nvec; i++)
		seq_printf(m, "doorbells_%u %lld\n", i, atomic64_read(&iv->doorbells[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ivsh_header);

void ivsh_debugfs_init(struct ivsh *iv, const char *name)
{
	iv->dbg = debugfs_create_dir(name, NULL);
	debugfs_create_file("header", 0400, iv->dbg, iv, &ivsh_header_fops);
}

/* Undo ivsh_setup(): after it, no handler runs. */
void ivsh_teardown(struct ivsh *iv)
{
	unsigned int v;

	debugfs_remove_recursive(iv->dbg);
	iv->dbg = NULL;

	for (v = 0; v < iv->nvec; v++)
		free_irq(pci_irq_vector(iv->pdev, v), &iv->vec[v]);
	pci_free_irq_vectors(iv->pdev);
	iv->nvec = 0;
}
