// SPDX-License-Identifier: GPL-2.0
/*
 * Clock device (PVCHAN_DEV_CLOCK): what the guest needs to keep time from
 * its TSC, and host time paired with it.
 *
 * The configuration says the guest's TSC frequency, exact as KVM set it
 * up, and whether the guest may read the TSC directly as its clock
 * (pvchan_kvm_tsc_stable()).  A worker looks at both every second and
 * announces a change with a device event, so a guest stops trusting its
 * TSC when KVM stops (the host clocksource changed, a vCPU's TSC was
 * written, the VM was migrated).  CLOCK_PAIR hands the guest host
 * CLOCK_REALTIME and its TSC at one instant, for its PTP clock.
 *
 * Fault injection (debugfs fault_tsc_unstable, off by default) reports the
 * TSC unstable, as a host would after a TSC problem.
 */
#include <linux/debugfs.h>
#include <linux/slab.h>
#include <linux/time64.h>
#include <linux/workqueue.h>

#include "pvchan_host.h"

#define PVCHAN_CLOCK_WATCH	HZ	/* how often the state is checked */

/**
 * struct pvchan_clock - a clock device.
 * @dev: the device.
 * @watch: checks the TSC state, announces changes.
 * @tsc_khz: frequency last announced.
 * @stable: stability last announced.
 * @fault_unstable: debugfs knob: report the TSC unstable.
 * @changes: changes announced.
 * @pairs: CLOCK_PAIR calls served.
 * @pair_fails: CLOCK_PAIR calls without a TSC-based host clock.
 */
struct pvchan_clock {
	struct pvchan_dev *dev;
	struct delayed_work watch;
	u32 tsc_khz;
	bool stable;
	bool fault_unstable;
	atomic64_t changes;
	atomic64_t pairs;
	atomic64_t pair_fails;
};

static bool pvchan_clock_stable(struct pvchan_clock *clk)
{
	return !READ_ONCE(clk->fault_unstable) &&
	       pvchan_kvm_tsc_stable(clk->dev->vm->kvm);
}

/* Announce a change of frequency or stability (from the watch work). */
static void pvchan_clock_check(struct pvchan_clock *clk)
{
	u32 khz = pvchan_kvm_tsc_khz(clk->dev->vm->kvm);
	bool stable = pvchan_clock_stable(clk);

	if (khz == READ_ONCE(clk->tsc_khz) && stable == READ_ONCE(clk->stable))
		return;
	WRITE_ONCE(clk->tsc_khz, khz);
	WRITE_ONCE(clk->stable, stable);
	atomic64_inc(&clk->changes);
	pr_info("vm%u: dev%u: TSC %u kHz, %s\n", clk->dev->vm->id,
		clk->dev->index, khz, stable ? "stable" : "not stable");
	pvchan_dev_changed(clk->dev);
}

static void pvchan_clock_watch(struct work_struct *work)
{
	struct pvchan_clock *clk = container_of(to_delayed_work(work),
						struct pvchan_clock, watch);

	pvchan_clock_check(clk);
	schedule_delayed_work(&clk->watch, PVCHAN_CLOCK_WATCH);
}

static int pvchan_clock_create(struct pvchan_dev *dev,
			       const struct pvchan_ctl_dev *cfg,
			       struct file *backend)
{
	struct pvchan_clock *clk;

	if (backend || cfg->flags || cfg->num_queues != 1 ||
	    memchr_inv(cfg->serial, 0, sizeof(cfg->serial)))
		return -EINVAL;
	clk = kzalloc(sizeof(*clk), GFP_KERNEL);
	if (!clk)
		return -ENOMEM;
	clk->dev = dev;
	INIT_DELAYED_WORK(&clk->watch, pvchan_clock_watch);
	dev->priv = clk;
	dev->config_len = sizeof(struct pvchan_clock_config);
	clk->tsc_khz = pvchan_kvm_tsc_khz(dev->vm->kvm);
	clk->stable = pvchan_clock_stable(clk);
	schedule_delayed_work(&clk->watch, PVCHAN_CLOCK_WATCH);
	return 0;
}

static void pvchan_clock_destroy(struct pvchan_dev *dev)
{
	struct pvchan_clock *clk = dev->priv;

	cancel_delayed_work_sync(&clk->watch);
	kfree(clk);
}

static void pvchan_clock_get_config(struct pvchan_dev *dev, void *buf)
{
	struct pvchan_clock *clk = dev->priv;
	struct pvchan_clock_config *c = buf;

	c->tsc_hz = cpu_to_le64((u64)READ_ONCE(clk->tsc_khz) * 1000);
	c->status = cpu_to_le32(READ_ONCE(clk->stable) ?
				PVCHAN_CLOCK_S_TSC_STABLE : 0);
}

/**
 * pvchan_clock_pair() - serve CLOCK_PAIR for a clock device.
 * @dev: the device (any type: others are refused).
 * @vcpu_id: the calling vCPU.
 * @gpa: where the guest wants the struct pvchan_clock_pair.
 * @size: its size as the guest knows it, checked by the caller.
 *
 * Context: the vCPU thread, in a pvchan_srcu read section.
 * Return: -1 when done, or a PVCHAN_REJ_* reason.
 */
long pvchan_clock_pair(struct pvchan_dev *dev, u32 vcpu_id, u64 gpa, u64 size)
{
	struct pvchan_clock_pair pair = {};
	struct pvchan_clock *clk = dev->priv;
	struct timespec64 real;
	u64 tsc;

	if (dev->ops != &pvchan_clock_ops)
		return PVCHAN_REJ_NODEV;
	if (pvchan_kvm_clock_pair(dev->vm->kvm, vcpu_id, &real, &tsc)) {
		atomic64_inc(&clk->pair_fails);
		return PVCHAN_REJ_NOCLOCK;
	}
	pair.realtime_sec = cpu_to_le64(real.tv_sec);
	pair.realtime_nsec = cpu_to_le32(real.tv_nsec);
	pair.tsc = cpu_to_le64(tsc);
	if (pvchan_kvm_write(dev->vm->kvm, gpa, &pair,
			     min_t(u64, size, sizeof(pair))))
		return PVCHAN_REJ_FAULT;
	atomic64_inc(&clk->pairs);
	return -1;
}

static int pvchan_clock_fault_get(void *data, u64 *val)
{
	struct pvchan_clock *clk = data;

	*val = READ_ONCE(clk->fault_unstable);
	return 0;
}

/* Takes effect at once: the guest hears of it now, not within a second. */
static int pvchan_clock_fault_set(void *data, u64 val)
{
	struct pvchan_clock *clk = data;

	if (val > 1)
		return -EINVAL;
	WRITE_ONCE(clk->fault_unstable, !!val);
	mod_delayed_work(system_wq, &clk->watch, 0);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(pvchan_clock_fault_fops, pvchan_clock_fault_get,
			 pvchan_clock_fault_set, "%llu\n");

static int pvchan_clock_show(struct seq_file *m, void *unused)
{
	struct pvchan_clock *clk = m->private;

	seq_printf(m, "tsc_khz %u\nstable %u\nfault_unstable %u\n",
		   READ_ONCE(clk->tsc_khz), READ_ONCE(clk->stable),
		   READ_ONCE(clk->fault_unstable));
	seq_printf(m, "changes %lld\npairs %lld\npair_fails %lld\n",
		   atomic64_read(&clk->changes), atomic64_read(&clk->pairs),
		   atomic64_read(&clk->pair_fails));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_clock);

static void pvchan_clock_debugfs(struct pvchan_dev *dev)
{
	debugfs_create_file("clock", 0400, dev->dbg, dev->priv,
			    &pvchan_clock_fops);
	debugfs_create_file_unsafe("fault_tsc_unstable", 0600, dev->dbg,
				   dev->priv, &pvchan_clock_fault_fops);
}

/* The queue carries nothing: refuse whatever a guest puts there. */
static int pvchan_clock_handle(struct pvchan_queue *q,
			       const struct pvchan_sqe *sqe,
			       struct pvchan_cqe *cqe)
{
	cqe->status = cpu_to_le32(PVCHAN_ST_UNSUPP);
	return PVCHAN_REJ_RING_DESC;
}

const struct pvchan_dev_ops pvchan_clock_ops = {
	.type = PVCHAN_DEV_CLOCK,
	.name = "clock",
	.create = pvchan_clock_create,
	.destroy = pvchan_clock_destroy,
	.get_config = pvchan_clock_get_config,
	.debugfs = pvchan_clock_debugfs,
	.handle = pvchan_clock_handle,
};
