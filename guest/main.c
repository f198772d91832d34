// SPDX-License-Identifier: GPL-2.0
/*
 * pvchan_guest: the guest end of the pvchan channel.  This file: probing for
 * a pvchan host, version and feature negotiation, device enumeration.
 *
 * Without a pvchan host (no hypervisor, another hypervisor, plain KVM, or a
 * VM not bound to pvchan_host) the module loads, says so once and stays
 * idle.
 */
#include <linux/bitmap.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/io.h>
#include <linux/log2.h>
#include <linux/kvm_para.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <asm/kvm_para.h>
#include <kunit/visibility.h>

#include "pvchan_guest.h"
#include "pvchan_abi_check.h"
#include "trace.h"

/* Queues per device: one per online CPU, up to this and the host's offer. */
static unsigned int max_queues = 64;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues, "Most queues per device (1-64, default 64)");

struct pvchan_channel pvchan_chan;
struct dentry *pvchan_gdbg_root;

/*
 * Devices by host index; pvchan_devs_lock protects the table against the
 * event work (hot-add, hot-remove) for debugfs readers.  Indices the guest
 * does not drive (unknown type, failed probe) are in pvchan_devs_skipped.
 */
static DEFINE_MUTEX(pvchan_devs_lock);
static struct pvchan_gdev *pvchan_devs[PVCHAN_GUEST_MAX_DEVS];
static DECLARE_BITMAP(pvchan_devs_skipped, PVCHAN_GUEST_MAX_DEVS);
static unsigned int pvchan_num_devs;
static bool pvchan_connected;

/*
 * Device events (PVCHAN_F_DEV_EVENTS): the event interrupt is a queue of a
 * pseudo-device, index PVCHAN_EVENT_DEV, with no ring; its handler defers
 * to pvchan_event_work, which reads the devices' descriptors again.
 */
static struct pvchan_gdev *pvchan_event_dev;
static void pvchan_event_fn(struct work_struct *work);
static DECLARE_WORK(pvchan_event_work, pvchan_event_fn);
static atomic64_t pvchan_events;
static atomic64_t pvchan_config_changes;
static atomic64_t pvchan_hot_added;
static atomic64_t pvchan_hot_removed;
static atomic64_t pvchan_hc_count[PVCHAN_HC_COUNT + 1];
static atomic64_t pvchan_hc_errors;
static atomic64_t pvchan_req_seq;

/**
 * pvchan_hc() - issue a pvchan hypercall and count it.
 * @nr: PVCHAN_HC_*.
 * @a0: argument.
 * @a1: argument.
 * @a2: argument.
 * @a3: argument.
 *
 * Context: any; the hypercall does not sleep in the guest.
 * Return: the host's result (0, -PVCHAN_E*, or a negative KVM code).
 */
long pvchan_hc(unsigned int nr, unsigned long a0, unsigned long a1,
	       unsigned long a2, unsigned long a3)
{
	unsigned int idx = nr - PVCHAN_HC_BASE;
	long ret;

	ret = kvm_hypercall4(nr, a0, a1, a2, a3);
	atomic64_inc(&pvchan_hc_count[min_t(unsigned int, idx,
					    PVCHAN_HC_COUNT)]);
	if (ret)
		atomic64_inc(&pvchan_hc_errors);
	trace_pvchan_guest_hypercall(nr, a0, a1, ret);
	return ret;
}

/**
 * pvchan_new_req_id() - a request id unique in this guest since boot; the
 * host's traces show the same id.
 *
 * Return: the id.
 */
u64 pvchan_new_req_id(void)
{
	return atomic64_inc_return(&pvchan_req_seq);
}

/**
 * pvchan_hello_accept() - take the host's HELLO answer, trusting nothing.
 * @h: the answered block.
 * @c: the channel parameters to fill.
 *
 * Features are cut to what this guest offered, counts and sizes clamped to
 * what it can handle.
 */
VISIBLE_IF_KUNIT void pvchan_hello_accept(const struct pvchan_hello *h,
					  struct pvchan_channel *c)
{
	c->host_major = le16_to_cpu(h->host_major);
	c->host_minor = le16_to_cpu(h->host_minor);
	c->features = le64_to_cpu(h->features) & PVCHAN_GUEST_FEATURES;
	c->num_devices = min_t(u32, le32_to_cpu(h->num_devices),
			       PVCHAN_GUEST_MAX_DEVS);
	c->max_queues = clamp_t(u32, le32_to_cpu(h->max_queues), 1, 64);
	c->max_queue_size = clamp_t(u32, le32_to_cpu(h->max_queue_size), 1,
				    PVCHAN_RING_MAX_SIZE);
	if (!is_power_of_2(c->max_queue_size))
		c->max_queue_size = rounddown_pow_of_two(c->max_queue_size);
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_hello_accept);

static int pvchan_hello(void)
{
	struct pvchan_hello *h;
	long ret;
	int err = 0;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->guest_major = cpu_to_le16(PVCHAN_ABI_MAJOR);
	h->guest_minor = cpu_to_le16(PVCHAN_ABI_MINOR);
	h->guest_features = cpu_to_le64(PVCHAN_GUEST_FEATURES);
	ret = pvchan_hc(PVCHAN_HC_HELLO, virt_to_phys(h), sizeof(*h), 0, 0);
	if (ret == -KVM_ENOSYS) {
		pr_info("no pvchan host serves this VM; idle\n");
		err = -ENODEV;
		goto out_free;
	}
	if (ret == -PVCHAN_EVERSION) {
		pr_err("host speaks pvchan ABI %u.%u, this guest %u.%u; idle\n",
		       le16_to_cpu(h->host_major), le16_to_cpu(h->host_minor),
		       PVCHAN_ABI_MAJOR, PVCHAN_ABI_MINOR);
		err = -EPROTO;
		goto out_free;
	}
	if (ret) {
		pr_err("HELLO failed: %ld; idle\n", ret);
		err = -EIO;
		goto out_free;
	}
	pvchan_hello_accept(h, &pvchan_chan);
	pr_info("host ABI %u.%u, features %#llx, %u devices\n",
		pvchan_chan.host_major, pvchan_chan.host_minor,
		pvchan_chan.features, pvchan_chan.num_devices);
out_free:
	kfree(h);
	return err;
}

static struct pvchan_gdev *pvchan_dev_create(u32 index)
{
	struct pvchan_dev_desc *d;
	struct pvchan_gdev *dev = NULL;
	u32 nq, qsize, per_cpu;
	long ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return ERR_PTR(-ENOMEM);
	ret = pvchan_hc(PVCHAN_HC_DEV_INFO, index, virt_to_phys(d),
			sizeof(*d), 0);
	if (ret) {
		pr_err("dev%u: DEV_INFO failed: %ld\n", index, ret);
		dev = ERR_PTR(-EIO);
		goto out_free;
	}
	nq = le16_to_cpu(d->num_queues);
	qsize = le16_to_cpu(d->max_queue_size);
	/*
	 * "We need at least one queue, whatever they say"; no more than one
	 * per vCPU (a network device: one pair per vCPU).
	 */
	per_cpu = le32_to_cpu(d->type) == PVCHAN_DEV_NET ? 2 : 1;
	nq = clamp_t(u32, nq, 1, min3(pvchan_chan.max_queues,
				      max_t(u32, max_queues, 1),
				      per_cpu * num_online_cpus()));
	if (!is_power_of_2(qsize) || qsize > pvchan_chan.max_queue_size) {
		pr_err("dev%u: bad queue size %u from host\n", index, qsize);
		dev = ERR_PTR(-EIO);
		goto out_free;
	}
	dev = kzalloc(struct_size(dev, queues, nq), GFP_KERNEL);
	if (!dev) {
		dev = ERR_PTR(-ENOMEM);
		goto out_free;
	}
	dev->index = index;
	dev->desc = *d;
	dev->num_queues = nq;
	dev->queue_size = min_t(u32, qsize, 256);
out_free:
	kfree(d);
	return dev;
}

/**
 * pvchan_dev_config() - read a device's configuration block.
 * @dev: device.
 * @buf: destination, zero-filled beyond what the host provides.
 * @len: bytes wanted; the host's config_len bounds what is read.
 *
 * Return: 0 or -EIO.
 */
int pvchan_dev_config(struct pvchan_gdev *dev, void *buf, u32 len)
{
	u32 have = min(len, le32_to_cpu(dev->desc.config_len));
	void *tmp;
	long ret;

	memset(buf, 0, len);
	if (!have)
		return 0;
	tmp = kzalloc(have, GFP_KERNEL);
	if (!tmp)
		return -ENOMEM;
	ret = pvchan_hc(PVCHAN_HC_DEV_CONFIG, dev->index, virt_to_phys(tmp),
			have, 0);
	if (!ret)
		memcpy(buf, tmp, have);
	kfree(tmp);
	if (ret) {
		pr_err("dev%u: DEV_CONFIG failed: %ld\n", dev->index, ret);
		return -EIO;
	}
	return 0;
}

static int pvchan_state_show(struct seq_file *m, void *unused)
{
	unsigned int i;

	seq_printf(m, "state %s\nguest_abi %u.%u\nhost_abi %u.%u\nfeatures %#llx\ndevices %u\n",
		   pvchan_connected ? "connected" : "idle", PVCHAN_ABI_MAJOR, PVCHAN_ABI_MINOR,
		   pvchan_chan.host_major, pvchan_chan.host_minor,
		   pvchan_chan.features, pvchan_num_devs);
	seq_printf(m, "events %lld\nconfig_changes %lld\nhot_added %lld\nhot_removed %lld\n",
		   atomic64_read(&pvchan_events),
		   atomic64_read(&pvchan_config_changes),
		   atomic64_read(&pvchan_hot_added),
		   atomic64_read(&pvchan_hot_removed));
	mutex_lock(&pvchan_devs_lock);
	for (i = 0; i < PVCHAN_GUEST_MAX_DEVS; i++)
		if (pvchan_devs[i])
			seq_printf(m, "dev%u type %u queues %u queue_size %u\n",
				   i, le32_to_cpu(pvchan_devs[i]->desc.type),
				   pvchan_devs[i]->num_queues,
				   pvchan_devs[i]->queue_size);
	mutex_unlock(&pvchan_devs_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_state);

static const char * const pvchan_hc_names[PVCHAN_HC_COUNT + 1] = {
	"hello", "dev_info", "dev_config", "queue_setup", "queue_reset",
	"kick", "irq_route", "dev_map", "clock_pair", "clock_record",
	"unknown",
};

static int pvchan_hypercalls_show(struct seq_file *m, void *unused)
{
	unsigned int i;

	for (i = 0; i <= PVCHAN_HC_COUNT; i++)
		seq_printf(m, "%s %lld\n", pvchan_hc_names[i],
			   atomic64_read(&pvchan_hc_count[i]));
	seq_printf(m, "errors %lld\n", atomic64_read(&pvchan_hc_errors));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_hypercalls);

/*
 * Let go of device @i.  @gone: the host removed it (hot-remove); its
 * requests in flight fail and the host is not called for it any more.
 */
static void pvchan_dev_unplug(unsigned int i, bool gone)
{
	struct pvchan_gdev *dev = pvchan_devs[i];

	lockdep_assert_held(&pvchan_devs_lock);
	dev->gone = gone;
	switch (le32_to_cpu(dev->desc.type)) {
	case PVCHAN_DEV_ECHO:
		pvchan_echo_remove(dev);
		break;
	case PVCHAN_DEV_BLK:
		pvchan_blk_remove(dev);
		break;
	case PVCHAN_DEV_NET:
		pvchan_net_remove(dev);
		break;
	case PVCHAN_DEV_CLOCK:
		pvchan_clock_remove(dev);
		break;
	}
	pvchan_devs[i] = NULL;
	pvchan_num_devs--;
	kfree(dev);
}

static void pvchan_remove_devs(void)
{
	unsigned int i;

	mutex_lock(&pvchan_devs_lock);
	for (i = PVCHAN_GUEST_MAX_DEVS; i--;)
		if (pvchan_devs[i])
			pvchan_dev_unplug(i, false);
	mutex_unlock(&pvchan_devs_lock);
}

/*
 * Probe device @i.  Return: 0 (driven, or skipped: unknown type, or the
 * driver declined with -ENODEV), or the error of a failed probe.
 */
static int pvchan_dev_plug(unsigned int i)
{
	struct pvchan_gdev *dev;
	int ret;

	lockdep_assert_held(&pvchan_devs_lock);
	dev = pvchan_dev_create(i);
	if (IS_ERR(dev)) {
		set_bit(i, pvchan_devs_skipped);
		return PTR_ERR(dev);
	}
	switch (le32_to_cpu(dev->desc.type)) {
	case PVCHAN_DEV_ECHO:
		ret = pvchan_echo_probe(dev);
		break;
	case PVCHAN_DEV_BLK:
		ret = pvchan_blk_probe(dev);
		break;
	case PVCHAN_DEV_NET:
		ret = pvchan_net_probe(dev);
		break;
	case PVCHAN_DEV_CLOCK:
		ret = pvchan_clock_probe(dev);
		break;
	default:
		pr_info("dev%u: type %u not handled by this guest\n",
			i, le32_to_cpu(dev->desc.type));
		ret = -ENODEV;
		break;
	}
	if (ret) {
		set_bit(i, pvchan_devs_skipped);
		kfree(dev);
		/* -ENODEV: logged; the other devices still work. */
		return ret == -ENODEV ? 0 : ret;
	}
	pvchan_devs[i] = dev;
	pvchan_num_devs++;
	return 0;
}

/* Read @dev's descriptor again; act on a configuration change. */
static void pvchan_dev_recheck(struct pvchan_gdev *dev)
{
	struct pvchan_dev_desc *d;
	u32 gen;
	long ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return;
	ret = pvchan_hc(PVCHAN_HC_DEV_INFO, dev->index, virt_to_phys(d),
			sizeof(*d), 0);
	gen = le32_to_cpu(d->config_gen);
	if (ret) {
		pvchan_host_err("dev%u: DEV_INFO failed: %ld\n", dev->index,
				ret);
	} else if (d->type != dev->desc.type) {
		pvchan_host_err("dev%u: host changed the device type to %u\n",
				dev->index, le32_to_cpu(d->type));
	} else if (gen != le32_to_cpu(dev->desc.config_gen)) {
		/* Only the generation: queues and features stay as probed. */
		dev->desc.config_gen = d->config_gen;
		atomic64_inc(&pvchan_config_changes);
		if (le32_to_cpu(dev->desc.type) == PVCHAN_DEV_BLK)
			pvchan_blk_config_changed(dev);
		else if (le32_to_cpu(dev->desc.type) == PVCHAN_DEV_NET)
			pvchan_net_config_changed(dev);
		else if (le32_to_cpu(dev->desc.type) == PVCHAN_DEV_CLOCK)
			pvchan_clock_config_changed(dev);
	}
	kfree(d);
}

/* On the event interrupt: compare the host's devices with ours. */
static void pvchan_event_fn(struct work_struct *work)
{
	unsigned int i;
	long map;
	int ret;

	map = pvchan_hc(PVCHAN_HC_DEV_MAP, 0, 0, 0, 0);
	if (map < 0) {
		pvchan_host_err("DEV_MAP failed: %ld\n", map);
		return;
	}
	mutex_lock(&pvchan_devs_lock);
	for (i = 0; i < PVCHAN_GUEST_MAX_DEVS; i++) {
		bool present = map & BIT(i);

		if (pvchan_devs[i] && !present) {
			pr_info("dev%u: removed by the host\n", i);
			pvchan_dev_unplug(i, true);
			atomic64_inc(&pvchan_hot_removed);
		} else if (pvchan_devs[i]) {
			pvchan_dev_recheck(pvchan_devs[i]);
		} else if (present && !test_bit(i, pvchan_devs_skipped)) {
			pr_info("dev%u: added by the host\n", i);
			ret = pvchan_dev_plug(i);
			if (ret)
				pr_err("dev%u: probe failed: %d\n", i, ret);
			else if (pvchan_devs[i])
				atomic64_inc(&pvchan_hot_added);
		}
	}
	mutex_unlock(&pvchan_devs_lock);
}

static irqreturn_t pvchan_event_irq(int irq, void *data)
{
	atomic64_inc(&pvchan_events);
	schedule_work(&pvchan_event_work);
	return IRQ_HANDLED;
}

/* Route the event interrupt; the channel works without it. */
static void pvchan_events_init(void)
{
	struct pvchan_gdev *ev;
	int ret;

	if (!(pvchan_chan.features & BIT_ULL(PVCHAN_F_DEV_EVENTS)))
		return;
	ev = kzalloc(struct_size(ev, queues, 1), GFP_KERNEL);
	if (!ev)
		return;
	ev->index = PVCHAN_EVENT_DEV;
	ev->num_queues = 1;
	ev->queues[0].dev = ev;
	ev->queues[0].cpu = cpumask_first(cpu_online_mask);
	spin_lock_init(&ev->queues[0].lock);
	ret = pvchan_irq_setup(&ev->queues[0], pvchan_event_irq);
	if (ret) {
		pr_warn("no event interrupt (%d): device changes need a reload\n",
			ret);
		kfree(ev);
		return;
	}
	pvchan_event_dev = ev;
	/* Catch changes made before the route was set. */
	schedule_work(&pvchan_event_work);
}

static void pvchan_events_exit(void)
{
	if (!pvchan_event_dev)
		return;
	pvchan_hc(PVCHAN_HC_IRQ_ROUTE, PVCHAN_EVENT_DEV, 0, 0, 0);
	pvchan_irq_teardown(&pvchan_event_dev->queues[0]);
	cancel_work_sync(&pvchan_event_work);
	kfree(pvchan_event_dev);
	pvchan_event_dev = NULL;
}

static int pvchan_probe_devs(void)
{
	u32 i;
	int ret = 0;

	mutex_lock(&pvchan_devs_lock);
	for (i = 0; i < pvchan_chan.num_devices && !ret; i++)
		ret = pvchan_dev_plug(i);
	mutex_unlock(&pvchan_devs_lock);
	return ret;
}

static int __init pvchan_guest_init(void)
{
	int ret;

	/* Not "pvchan": a host that is also a guest loads both modules. */
	pvchan_gdbg_root = debugfs_create_dir("pvchan-guest", NULL);
	debugfs_create_file("state", 0444, pvchan_gdbg_root, NULL,
			    &pvchan_state_fops);
	debugfs_create_file("hypercalls", 0444, pvchan_gdbg_root, NULL,
			    &pvchan_hypercalls_fops);

	if (!boot_cpu_has(X86_FEATURE_HYPERVISOR) || !kvm_para_available()) {
		pr_info("not running on KVM; idle\n");
		return 0;
	}
	if (pvchan_hello())
		return 0;

	ret = pvchan_irq_init();
	if (ret)
		goto out_debugfs;
	ret = pvchan_probe_devs();
	if (ret)
		goto out_remove_devs;
	pvchan_events_init();
	pvchan_connected = true;
	return 0;

out_remove_devs:
	pvchan_remove_devs();
	pvchan_irq_exit();
out_debugfs:
	debugfs_remove(pvchan_gdbg_root);
	return ret;
}

static void __exit pvchan_guest_exit(void)
{
	if (pvchan_connected) {
		pvchan_events_exit();
		pvchan_remove_devs();
		pvchan_irq_exit();
	}
	debugfs_remove(pvchan_gdbg_root);
}

module_init(pvchan_guest_init);
module_exit(pvchan_guest_exit);
MODULE_DESCRIPTION("pvchan: paravirtual channel to a pvchan KVM host (guest)");
MODULE_AUTHOR("pvchan developers");
MODULE_LICENSE("GPL");
