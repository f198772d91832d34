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

/*
 * Reconnection.  A hypercall answered as by no host (pvchan_hc_lost():
 * the VM was unbound, pvchanctl exited or was killed, or it is bound again
 * to a session this guest has not greeted) queues pvchan_link_work (so
 * that an idle guest notices too, pvchan_beat_work makes such a call,
 * DEV_MAP, every heartbeat_ms).  The link work confirms the loss with
 * DEV_MAP, which changes nothing on the host, and
 * then says HELLO every PVCHAN_LINK_POLL until a host answers.  A host
 * with the same features gets the devices back (pvchan_dev_resume(): same
 * index, type, features, enough queues, and the driver's own checks, such
 * as a disk's serial); each driver sets its queues up again and resubmits
 * what was in flight.  Meanwhile requests wait: block timeouts are not
 * counted.  A device that is not what it was is removed as by a
 * hot-remove, and so is every device if no host comes back within
 * reconnect_timeout seconds (their I/O fails with EIO); polling then goes
 * on, slower, and a host that comes back later gets its devices probed as
 * new ones.
 *
 * pvchan_watch: set once the devices are probed, cleared at module exit
 * (no more reconnection).  pvchan_lost, pvchan_lost_at, pvchan_failed:
 * written by the link work under pvchan_devs_lock; pvchan_lost is read
 * anywhere (pvchan_channel_lost()).
 */
#define PVCHAN_LINK_POLL	(HZ / 5)
#define PVCHAN_LINK_POLL_SLOW	(5 * HZ)

static unsigned int reconnect_timeout = 60;
module_param(reconnect_timeout, uint, 0644);
MODULE_PARM_DESC(reconnect_timeout,
		 "Seconds I/O waits for a lost host to come back before it fails (0-3600, default 60)");

static unsigned int heartbeat_ms = 1000;
module_param(heartbeat_ms, uint, 0444);
MODULE_PARM_DESC(heartbeat_ms,
		 "Milliseconds between checks that the host is there, for an idle guest (0: none, default 1000)");

static void pvchan_link_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(pvchan_link_work, pvchan_link_fn);
static void pvchan_beat_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(pvchan_beat_work, pvchan_beat_fn);
static bool pvchan_watch;
static bool pvchan_lost;
static bool pvchan_failed;
static unsigned long pvchan_lost_at;
static atomic64_t pvchan_link_losses;
static atomic64_t pvchan_reconnects;
static atomic64_t pvchan_link_polls;
static atomic64_t pvchan_devs_resumed;
static atomic64_t pvchan_devs_failed;
static atomic64_t pvchan_last_outage_ms;

static long __pvchan_hc(unsigned int nr, unsigned long a0, unsigned long a1,
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
 * pvchan_hc() - issue a pvchan hypercall and count it.
 * @nr: PVCHAN_HC_*.
 * @a0: argument.
 * @a1: argument.
 * @a2: argument.
 * @a3: argument.
 *
 * A result that may mean the host is gone starts the reconnection check.
 *
 * Context: any; the hypercall does not sleep in the guest.
 * Return: the host's result (0, -PVCHAN_E*, or a negative KVM code).
 */
long pvchan_hc(unsigned int nr, unsigned long a0, unsigned long a1,
	       unsigned long a2, unsigned long a3)
{
	long ret = __pvchan_hc(nr, a0, a1, a2, a3);

	if (unlikely(pvchan_hc_lost(ret)) && READ_ONCE(pvchan_watch) &&
	    !READ_ONCE(pvchan_lost))
		queue_delayed_work(system_long_wq, &pvchan_link_work, 0);
	return ret;
}

static void pvchan_beat_queue(void)
{
	if (READ_ONCE(pvchan_watch) && heartbeat_ms)
		queue_delayed_work(system_power_efficient_wq,
				   &pvchan_beat_work,
				   msecs_to_jiffies(max(heartbeat_ms, 10U)));
}

/* A call that changes nothing on the host; pvchan_hc() acts on a loss. */
static void pvchan_beat_fn(struct work_struct *work)
{
	if (!READ_ONCE(pvchan_lost))
		pvchan_hc(PVCHAN_HC_DEV_MAP, 0, 0, 0, 0);
	pvchan_beat_queue();
}

/**
 * pvchan_channel_lost() - is the host gone, a reconnection awaited?
 *
 * Drivers do not count timeouts meanwhile: the reconnection resubmits.
 *
 * Return: true while the host is gone and its devices wait for it.
 */
bool pvchan_channel_lost(void)
{
	return READ_ONCE(pvchan_lost) && pvchan_channel_resumable();
}

/**
 * pvchan_channel_resumable() - would requests left in flight on a lost
 * host be resubmitted by a reconnection?
 *
 * Return: false once the module is going away or the host has been given
 * up for (reconnect_timeout): the driver must fail them itself.
 */
bool pvchan_channel_resumable(void)
{
	return READ_ONCE(pvchan_watch) && !READ_ONCE(pvchan_failed);
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

/*
 * Greet the host and fill @c.  @again: a reconnection poll, which expects
 * no host most of the time and logs only (rate limited) what is not that.
 */
static int pvchan_hello(struct pvchan_channel *c, bool again)
{
	const char *idle = again ? "" : "; idle";
	struct pvchan_hello *h;
	long ret;
	int err = 0;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->guest_major = cpu_to_le16(PVCHAN_ABI_MAJOR);
	h->guest_minor = cpu_to_le16(PVCHAN_ABI_MINOR);
	h->guest_features = cpu_to_le64(PVCHAN_GUEST_FEATURES);
	ret = __pvchan_hc(PVCHAN_HC_HELLO, virt_to_phys(h), sizeof(*h), 0, 0);
	if (ret == -KVM_ENOSYS) {
		if (!again)
			pr_info("no pvchan host serves this VM; idle\n");
		err = -ENODEV;
		goto out_free;
	}
	if (ret == -PVCHAN_EVERSION) {
		pvchan_host_err("host speaks pvchan ABI %u.%u, this guest %u.%u%s\n",
				le16_to_cpu(h->host_major),
				le16_to_cpu(h->host_minor), PVCHAN_ABI_MAJOR,
				PVCHAN_ABI_MINOR, idle);
		err = -EPROTO;
		goto out_free;
	}
	if (ret) {
		pvchan_host_err("HELLO failed: %ld%s\n", ret, idle);
		err = -EIO;
		goto out_free;
	}
	pvchan_hello_accept(h, c);
	pr_info("host ABI %u.%u, features %#llx, %u devices\n",
		c->host_major, c->host_minor, c->features, c->num_devices);
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
 * Return: 0, -ENOTCONN (no host: see pvchan_hc_lost()) or -EIO.
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
	if (pvchan_hc_lost(ret))
		return -ENOTCONN;
	if (ret) {
		pr_err("dev%u: DEV_CONFIG failed: %ld\n", dev->index, ret);
		return -EIO;
	}
	return 0;
}

static int pvchan_state_show(struct seq_file *m, void *unused)
{
	unsigned int i;

	mutex_lock(&pvchan_devs_lock);
	seq_printf(m, "state %s\nguest_abi %u.%u\nhost_abi %u.%u\nfeatures %#llx\ndevices %u\n",
		   !pvchan_connected ? "idle" : pvchan_lost ? "lost" : "connected",
		   PVCHAN_ABI_MAJOR, PVCHAN_ABI_MINOR,
		   pvchan_chan.host_major, pvchan_chan.host_minor,
		   pvchan_chan.features, pvchan_num_devs);
	seq_printf(m, "events %lld\nconfig_changes %lld\nhot_added %lld\nhot_removed %lld\n",
		   atomic64_read(&pvchan_events),
		   atomic64_read(&pvchan_config_changes),
		   atomic64_read(&pvchan_hot_added),
		   atomic64_read(&pvchan_hot_removed));
	seq_printf(m, "link_losses %lld\nreconnects %lld\nreconnect_polls %lld\nlast_outage_ms %lld\ndevices_resumed %lld\ndevices_failed %lld\n",
		   atomic64_read(&pvchan_link_losses),
		   atomic64_read(&pvchan_reconnects),
		   atomic64_read(&pvchan_link_polls),
		   atomic64_read(&pvchan_last_outage_ms),
		   atomic64_read(&pvchan_devs_resumed),
		   atomic64_read(&pvchan_devs_failed));
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

/**
 * struct pvchan_gdrv - the driver of one device type.
 * @type: PVCHAN_DEV_*.
 * @probe: set a device up; -ENODEV declines it (logged by the driver).
 * @remove: let go of it (with @dev->gone: fail what is in flight).
 * @config_changed: the host changed its configuration (optional).
 * @disconnect: the host is gone, a reconnection awaited (optional).
 * @reconnect: the host is back (see pvchan_guest.h).
 */
struct pvchan_gdrv {
	u32 type;
	int (*probe)(struct pvchan_gdev *dev);
	void (*remove)(struct pvchan_gdev *dev);
	void (*config_changed)(struct pvchan_gdev *dev);
	void (*disconnect)(struct pvchan_gdev *dev);
	int (*reconnect)(struct pvchan_gdev *dev);
};

static const struct pvchan_gdrv pvchan_gdrvs[] = {
	{
		.type = PVCHAN_DEV_ECHO,
		.probe = pvchan_echo_probe,
		.remove = pvchan_echo_remove,
		.reconnect = pvchan_echo_reconnect,
	}, {
		.type = PVCHAN_DEV_BLK,
		.probe = pvchan_blk_probe,
		.remove = pvchan_blk_remove,
		.config_changed = pvchan_blk_config_changed,
		.reconnect = pvchan_blk_reconnect,
	}, {
		.type = PVCHAN_DEV_NET,
		.probe = pvchan_net_probe,
		.remove = pvchan_net_remove,
		.config_changed = pvchan_net_config_changed,
		.disconnect = pvchan_net_disconnect,
		.reconnect = pvchan_net_reconnect,
	}, {
		.type = PVCHAN_DEV_CLOCK,
		.probe = pvchan_clock_probe,
		.remove = pvchan_clock_remove,
		.config_changed = pvchan_clock_config_changed,
		.reconnect = pvchan_clock_reconnect,
	},
};

static const struct pvchan_gdrv *pvchan_gdrv_find(u32 type)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pvchan_gdrvs); i++)
		if (pvchan_gdrvs[i].type == type)
			return &pvchan_gdrvs[i];
	return NULL;
}

/*
 * Let go of device @i.  @gone: the host removed it (hot-remove); its
 * requests in flight fail and the host is not called for it any more.
 */
static void pvchan_dev_unplug(unsigned int i, bool gone)
{
	struct pvchan_gdev *dev = pvchan_devs[i];

	lockdep_assert_held(&pvchan_devs_lock);
	dev->gone = gone;
	dev->drv->remove(dev);
	pvchan_devs[i] = NULL;
	pvchan_num_devs--;
	kfree(dev);
}

/* Let go of every device; @gone: fail their I/O (the host is gone). */
static void pvchan_unplug_all(bool gone)
{
	unsigned int i;

	lockdep_assert_held(&pvchan_devs_lock);
	for (i = PVCHAN_GUEST_MAX_DEVS; i--;)
		if (pvchan_devs[i])
			pvchan_dev_unplug(i, gone);
}

static void pvchan_remove_devs(bool gone)
{
	mutex_lock(&pvchan_devs_lock);
	pvchan_unplug_all(gone);
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
	dev->drv = pvchan_gdrv_find(le32_to_cpu(dev->desc.type));
	if (dev->drv) {
		ret = dev->drv->probe(dev);
	} else {
		pr_info("dev%u: type %u not handled by this guest\n",
			i, le32_to_cpu(dev->desc.type));
		ret = -ENODEV;
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
		if (dev->drv->config_changed)
			dev->drv->config_changed(dev);
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

/* Withdraw the event interrupt; a pending event work may still run. */
static void pvchan_events_free(void)
{
	if (!pvchan_event_dev)
		return;
	pvchan_hc(PVCHAN_HC_IRQ_ROUTE, PVCHAN_EVENT_DEV, 0, 0, 0);
	pvchan_irq_teardown(&pvchan_event_dev->queues[0]);
	kfree(pvchan_event_dev);
	pvchan_event_dev = NULL;
}

static void pvchan_events_exit(void)
{
	pvchan_events_free();
	cancel_work_sync(&pvchan_event_work);
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

/* Route the event interrupt again in a new session, or set it up. */
static void pvchan_events_resume(void)
{
	bool want = pvchan_chan.features & BIT_ULL(PVCHAN_F_DEV_EVENTS);

	if (pvchan_event_dev && want) {
		pvchan_irq_reroute(&pvchan_event_dev->queues[0]);
		schedule_work(&pvchan_event_work);
	} else if (want) {
		pvchan_events_init();
	} else {
		/* Not pvchan_events_exit(): the event work takes our lock. */
		pvchan_events_free();
	}
}

/*
 * A device of the old session in the new one: the same device if the
 * host describes it as before, with at least the queues in use.  Return:
 * 0, -ENOTCONN (the host went away again), or -ENODEV (not the same).
 */
static int pvchan_dev_resume(struct pvchan_gdev *dev)
{
	struct pvchan_dev_desc *d;
	long ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	ret = pvchan_hc(PVCHAN_HC_DEV_INFO, dev->index, virt_to_phys(d),
			sizeof(*d), 0);
	if (pvchan_hc_lost(ret)) {
		ret = -ENOTCONN;
	} else if (ret || d->type != dev->desc.type ||
		   d->features != dev->desc.features ||
		   le16_to_cpu(d->num_queues) < dev->num_queues ||
		   dev->num_queues > pvchan_chan.max_queues ||
		   le16_to_cpu(d->max_queue_size) < dev->queue_size ||
		   dev->queue_size > pvchan_chan.max_queue_size) {
		ret = -ENODEV;
	} else {
		/* A new session counts configuration changes afresh. */
		dev->desc.config_gen = d->config_gen;
		dev->desc.config_len = d->config_len;
		ret = dev->drv->reconnect(dev);
	}
	kfree(d);
	return ret;
}

/*
 * The host answered HELLO (@c) after a loss: resume the devices that are
 * still the same, remove the others, probe the ones that are new.  Return:
 * 0, or -ENOTCONN if the host went away again.
 */
static int pvchan_resume(const struct pvchan_channel *c)
{
	bool same = c->features == pvchan_chan.features;
	unsigned int i;
	long map;
	int ret;

	lockdep_assert_held(&pvchan_devs_lock);
	map = pvchan_hc(PVCHAN_HC_DEV_MAP, 0, 0, 0, 0);
	if (pvchan_hc_lost(map))
		return -ENOTCONN;
	/* A host older than DEV_MAP (ABI 1.2): its devices are 0..n-1. */
	if (map == -PVCHAN_ENOSYS)
		map = BIT(c->num_devices) - 1;
	if (map < 0)
		map = 0;
	if (!same && pvchan_num_devs)
		pr_warn_ratelimited("host came back with features %#llx, not %#llx: its devices start afresh\n",
				    c->features, pvchan_chan.features);
	pvchan_chan = *c;
	/* Indices are the new session's: a device skipped may be another. */
	bitmap_zero(pvchan_devs_skipped, PVCHAN_GUEST_MAX_DEVS);
	for (i = 0; i < PVCHAN_GUEST_MAX_DEVS; i++) {
		if (!pvchan_devs[i])
			continue;
		ret = same && (map & BIT(i)) ?
		      pvchan_dev_resume(pvchan_devs[i]) : -ENODEV;
		if (ret == -ENOTCONN)
			return ret;
		if (ret) {
			pr_warn_ratelimited("dev%u: not the device it was (%d), removing it\n",
					    i, ret);
			pvchan_dev_unplug(i, true);
			atomic64_inc(&pvchan_devs_failed);
		} else {
			atomic64_inc(&pvchan_devs_resumed);
		}
	}
	pvchan_events_resume();
	for (i = 0; i < pvchan_chan.num_devices; i++) {
		if (pvchan_devs[i] || !(map & BIT(i)))
			continue;
		ret = pvchan_dev_plug(i);
		if (ret)
			pr_err("dev%u: probe failed: %d\n", i, ret);
	}
	return 0;
}

/* Confirm a loss, then poll for the host and resume; see pvchan_watch. */
static void pvchan_link_fn(struct work_struct *work)
{
	unsigned long timeout = min(reconnect_timeout, 3600U) * HZ;
	struct pvchan_channel c = {};
	unsigned int i;
	long ret;

	mutex_lock(&pvchan_devs_lock);
	if (!pvchan_lost) {
		ret = __pvchan_hc(PVCHAN_HC_DEV_MAP, 0, 0, 0, 0);
		if (!pvchan_hc_lost(ret))
			goto out;	/* a queue's ENOTREADY, not the host */
		WRITE_ONCE(pvchan_lost, true);
		pvchan_lost_at = jiffies;
		atomic64_inc(&pvchan_link_losses);
		pr_warn_ratelimited("host went away (%ld); I/O waits up to %lu s for it\n",
				    ret, timeout / HZ);
		for (i = 0; i < PVCHAN_GUEST_MAX_DEVS; i++)
			if (pvchan_devs[i] && pvchan_devs[i]->drv->disconnect)
				pvchan_devs[i]->drv->disconnect(pvchan_devs[i]);
	}
	if (!pvchan_failed && time_after_eq(jiffies, pvchan_lost_at + timeout)) {
		pr_err("host did not come back in %lu s: failing the I/O of %u devices\n",
		       timeout / HZ, pvchan_num_devs);
		atomic64_add(pvchan_num_devs, &pvchan_devs_failed);
		WRITE_ONCE(pvchan_failed, true);
		pvchan_unplug_all(true);
	}
	if (!pvchan_hello(&c, true) && !pvchan_resume(&c)) {
		atomic64_set(&pvchan_last_outage_ms,
			     jiffies_to_msecs(jiffies - pvchan_lost_at));
		atomic64_inc(&pvchan_reconnects);
		pr_info_ratelimited("host back after %lld ms: %u devices\n",
				    atomic64_read(&pvchan_last_outage_ms), pvchan_num_devs);
		WRITE_ONCE(pvchan_failed, false);
		WRITE_ONCE(pvchan_lost, false);
		goto out;
	}
	atomic64_inc(&pvchan_link_polls);
	if (READ_ONCE(pvchan_watch))
		queue_delayed_work(system_long_wq, &pvchan_link_work,
				   pvchan_failed ? PVCHAN_LINK_POLL_SLOW :
						   PVCHAN_LINK_POLL);
out:
	mutex_unlock(&pvchan_devs_lock);
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
	if (pvchan_hello(&pvchan_chan, false))
		return 0;

	ret = pvchan_irq_init();
	if (ret)
		goto out_debugfs;
	ret = pvchan_probe_devs();
	if (ret)
		goto out_remove_devs;
	pvchan_events_init();
	pvchan_connected = true;
	WRITE_ONCE(pvchan_watch, true);
	pvchan_beat_queue();
	return 0;

out_remove_devs:
	pvchan_remove_devs(false);
	pvchan_irq_exit();
out_debugfs:
	debugfs_remove(pvchan_gdbg_root);
	return ret;
}

static void __exit pvchan_guest_exit(void)
{
	/* No reconnection from here on: a lost host's I/O fails. */
	WRITE_ONCE(pvchan_watch, false);
	cancel_delayed_work_sync(&pvchan_beat_work);
	cancel_delayed_work_sync(&pvchan_link_work);
	if (pvchan_connected) {
		pvchan_events_exit();
		pvchan_remove_devs(pvchan_lost);
		pvchan_irq_exit();
	}
	debugfs_remove(pvchan_gdbg_root);
}

module_init(pvchan_guest_init);
module_exit(pvchan_guest_exit);
MODULE_DESCRIPTION("pvchan: paravirtual channel to a pvchan KVM host (guest)");
MODULE_AUTHOR("pvchan developers");
MODULE_LICENSE("GPL");
