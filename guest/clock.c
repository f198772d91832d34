// SPDX-License-Identifier: GPL-2.0
/*
 * Clock device driver (PVCHAN_DEV_CLOCK): a TSC clocksource with the
 * host's exact frequency, and a PTP clock of host time.
 *
 * When the host says the TSC is stable (constant rate in every power
 * state, synchronised across vCPUs), "pvchan-tsc" reads it directly,
 * rated above kvm-clock, and declares VDSO_CLOCKMODE_TSC: clock_gettime()
 * then runs in the vDSO, without a system call or a VM exit.  Its
 * frequency is the host's (KVM's virtual_tsc_khz), not a calibration.
 * When the host withdraws stability (a device event), the clocksource is
 * unregistered: the timekeeping core moves to the next best one (kvm-clock)
 * keeping time continuous, and the change is logged.
 *
 * The PTP clock (/dev/ptpN, "pvchan host time") reads host CLOCK_REALTIME
 * with CLOCK_PAIR; chrony or phc2sys can discipline the guest with it.
 */
#include <linux/clocksource.h>
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/slab.h>
#include <asm/msr.h>

#include "pvchan_guest.h"

/**
 * struct pvchan_clock - the clock device.
 * @dev: the pvchan device.
 * @lock: serialises (un)registering the clocksource.
 * @cs: the TSC clocksource.
 * @cs_registered: @cs is registered.
 * @tsc_hz: frequency @cs was registered with.
 * @ptp_info: PTP clock operations.
 * @ptp: the PTP clock, or NULL.
 * @pair: CLOCK_PAIR result (guest physical memory for the host).
 * @dbg: debugfs directory.
 * @stability_changes: times the host changed the TSC's stability.
 * @freq_changes: times the host changed its frequency.
 * @pairs: CLOCK_PAIR calls.
 * @pair_errors: CLOCK_PAIR calls that failed.
 */
struct pvchan_clock {
	struct pvchan_gdev *dev;
	struct mutex lock;	/* see @lock above */
	struct clocksource cs;
	bool cs_registered;
	u64 tsc_hz;
	struct ptp_clock_info ptp_info;
	struct ptp_clock *ptp;
	struct pvchan_clock_pair *pair;
	struct dentry *dbg;
	u64 stability_changes;
	u64 freq_changes;
	atomic64_t pairs;
	atomic64_t pair_errors;
};

static u64 pvchan_clock_read_tsc(struct clocksource *cs)
{
	return (u64)rdtsc_ordered();
}

static const struct clocksource pvchan_clock_cs = {
	.name = "pvchan-tsc",
	/* Above kvm-clock (400): the host vouched for this TSC. */
	.rating = 450,
	.read = pvchan_clock_read_tsc,
	.mask = CLOCKSOURCE_MASK(64),
	.flags = CLOCK_SOURCE_IS_CONTINUOUS | CLOCK_SOURCE_VALID_FOR_HRES,
	.vdso_clock_mode = VDSO_CLOCKMODE_TSC,
	.owner = THIS_MODULE,
};

/* Follow the host's word on the TSC; under clk->lock. */
static void pvchan_clock_apply(struct pvchan_clock *clk,
			       const struct pvchan_clock_config *cfg)
{
	u64 hz = le64_to_cpu(cfg->tsc_hz);
	bool stable = le32_to_cpu(cfg->status) & PVCHAN_CLOCK_S_TSC_STABLE;

	lockdep_assert_held(&clk->lock);
	/* 1 MHz .. 100 GHz: anything else is a broken host. */
	if (stable && (hz < 1000000 || hz > 100000000000ULL)) {
		pvchan_host_err("dev%u: TSC frequency %llu Hz refused\n",
				clk->dev->index, hz);
		stable = false;
	}
	if (clk->cs_registered && (!stable || hz != clk->tsc_hz)) {
		clocksource_unregister(&clk->cs);
		clk->cs_registered = false;
		if (!stable) {
			clk->stability_changes++;
			pr_warn("dev%u: host reports the TSC unstable: pvchan-tsc withdrawn, clock reads may need system calls\n",
				clk->dev->index);
		} else {
			clk->freq_changes++;
		}
	}
	if (stable && !clk->cs_registered) {
		clk->cs = pvchan_clock_cs;
		clk->tsc_hz = hz;
		if (clocksource_register_hz(&clk->cs, hz)) {
			pr_err("dev%u: cannot register pvchan-tsc\n",
			       clk->dev->index);
			return;
		}
		clk->cs_registered = true;
		pr_info("dev%u: pvchan-tsc at %llu Hz (host), vDSO capable\n",
			clk->dev->index, hz);
	} else if (!stable && !clk->cs_registered) {
		pr_info("dev%u: host TSC not stable: no pvchan-tsc, vDSO clock reads unavailable from pvchan\n",
			clk->dev->index);
	}
}

/* Host CLOCK_REALTIME at the call; -EIO if the host cannot pair now. */
static int pvchan_clock_host_time(struct pvchan_clock *clk,
				  struct timespec64 *ts,
				  struct ptp_system_timestamp *sts)
{
	long ret;

	ptp_read_system_prets(sts);
	ret = pvchan_hc(PVCHAN_HC_CLOCK_PAIR, clk->dev->index,
			virt_to_phys(clk->pair), sizeof(*clk->pair), 0);
	ptp_read_system_postts(sts);
	atomic64_inc(&clk->pairs);
	if (ret) {
		atomic64_inc(&clk->pair_errors);
		return ret == -PVCHAN_ENOCLOCK ? -EOPNOTSUPP : -EIO;
	}
	ts->tv_sec = le64_to_cpu(clk->pair->realtime_sec);
	ts->tv_nsec = le32_to_cpu(clk->pair->realtime_nsec);
	if (ts->tv_nsec >= NSEC_PER_SEC)
		return -EIO;
	return 0;
}

static int pvchan_clock_gettimex(struct ptp_clock_info *info,
				 struct timespec64 *ts,
				 struct ptp_system_timestamp *sts)
{
	struct pvchan_clock *clk = container_of(info, struct pvchan_clock,
						ptp_info);
	int ret;

	/* One pair buffer: one call at a time. */
	mutex_lock(&clk->lock);
	ret = pvchan_clock_host_time(clk, ts, sts);
	mutex_unlock(&clk->lock);
	return ret;
}

static int pvchan_clock_gettime(struct ptp_clock_info *info,
				struct timespec64 *ts)
{
	return pvchan_clock_gettimex(info, ts, NULL);
}

/* Host time is read-only to the guest. */
static int pvchan_clock_adjfine(struct ptp_clock_info *info, long scaled_ppm)
{
	return -EOPNOTSUPP;
}

static int pvchan_clock_adjtime(struct ptp_clock_info *info, s64 delta)
{
	return -EOPNOTSUPP;
}

static int pvchan_clock_settime(struct ptp_clock_info *info,
				const struct timespec64 *ts)
{
	return -EOPNOTSUPP;
}

static int pvchan_clock_enable(struct ptp_clock_info *info,
			       struct ptp_clock_request *rq, int on)
{
	return -EOPNOTSUPP;
}

static const struct ptp_clock_info pvchan_clock_ptp_info = {
	.owner = THIS_MODULE,
	.name = "pvchan host time",
	.adjfine = pvchan_clock_adjfine,
	.adjtime = pvchan_clock_adjtime,
	.gettime64 = pvchan_clock_gettime,
	.gettimex64 = pvchan_clock_gettimex,
	.settime64 = pvchan_clock_settime,
	.enable = pvchan_clock_enable,
};

static int pvchan_clock_stats_show(struct seq_file *m, void *unused)
{
	struct pvchan_clock *clk = m->private;

	mutex_lock(&clk->lock);
	seq_printf(m, "clocksource %s\ntsc_hz %llu\n",
		   clk->cs_registered ? "registered" : "none", clk->tsc_hz);
	seq_printf(m, "stability_changes %llu\nfreq_changes %llu\n",
		   clk->stability_changes, clk->freq_changes);
	mutex_unlock(&clk->lock);
	seq_printf(m, "ptp %d\npairs %lld\npair_errors %lld\n",
		   clk->ptp ? ptp_clock_index(clk->ptp) : -1,
		   atomic64_read(&clk->pairs), atomic64_read(&clk->pair_errors));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_clock_stats);

/**
 * pvchan_clock_probe() - set up a clock device: the TSC clocksource if the
 * host vouches for the TSC, and the PTP clock.
 * @dev: device enumerated from the host, of type PVCHAN_DEV_CLOCK.
 *
 * Return: 0 or a negative errno.
 */
int pvchan_clock_probe(struct pvchan_gdev *dev)
{
	struct pvchan_clock_config cfg;
	struct pvchan_clock *clk;
	char name[16];
	int ret;

	ret = pvchan_dev_config(dev, &cfg, sizeof(cfg));
	if (ret)
		return ret;
	clk = kzalloc(sizeof(*clk), GFP_KERNEL);
	if (!clk)
		return -ENOMEM;
	/* The host writes it by guest physical address: kmalloc. */
	clk->pair = kzalloc(sizeof(*clk->pair), GFP_KERNEL);
	if (!clk->pair) {
		kfree(clk);
		return -ENOMEM;
	}
	clk->dev = dev;
	mutex_init(&clk->lock);
	dev->priv = clk;
	mutex_lock(&clk->lock);
	pvchan_clock_apply(clk, &cfg);
	mutex_unlock(&clk->lock);

	clk->ptp_info = pvchan_clock_ptp_info;
	clk->ptp = ptp_clock_register(&clk->ptp_info, NULL);
	if (IS_ERR(clk->ptp)) {
		pr_warn("dev%u: no PTP clock: %ld\n", dev->index,
			PTR_ERR(clk->ptp));
		clk->ptp = NULL;
	} else if (clk->ptp) {
		pr_info("dev%u: host time on /dev/ptp%d\n", dev->index,
			ptp_clock_index(clk->ptp));
	}
	snprintf(name, sizeof(name), "clock%u", dev->index);
	clk->dbg = debugfs_create_dir(name, pvchan_gdbg_root);
	debugfs_create_file("stats", 0444, clk->dbg, clk,
			    &pvchan_clock_stats_fops);
	return 0;
}

/**
 * pvchan_clock_remove() - withdraw the clocksource and the PTP clock.
 * @dev: device set up by pvchan_clock_probe().
 */
void pvchan_clock_remove(struct pvchan_gdev *dev)
{
	struct pvchan_clock *clk = dev->priv;

	debugfs_remove(clk->dbg);
	if (clk->ptp)
		ptp_clock_unregister(clk->ptp);
	mutex_lock(&clk->lock);
	if (clk->cs_registered)
		clocksource_unregister(&clk->cs);
	mutex_unlock(&clk->lock);
	kfree(clk->pair);
	kfree(clk);
}

/**
 * pvchan_clock_config_changed() - the host changed the TSC's frequency or
 * stability: follow it.
 * @dev: device set up by pvchan_clock_probe().
 */
void pvchan_clock_config_changed(struct pvchan_gdev *dev)
{
	struct pvchan_clock *clk = dev->priv;
	struct pvchan_clock_config cfg;

	if (pvchan_dev_config(dev, &cfg, sizeof(cfg)))
		return;
	mutex_lock(&clk->lock);
	pvchan_clock_apply(clk, &cfg);
	mutex_unlock(&clk->lock);
}
