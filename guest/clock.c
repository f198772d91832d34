// SPDX-License-Identifier: GPL-2.0
/*
 * Clock device driver (PVCHAN_DEV_CLOCK): a TSC clocksource with the
 * host's exact frequency, a clocksource of host time records for when the
 * TSC may not be read alone, and a PTP clock of host time.
 *
 * When the host says the TSC is stable (constant rate in every power
 * state, synchronised across vCPUs), "pvchan-tsc" reads it directly,
 * rated above kvm-clock, and declares VDSO_CLOCKMODE_TSC: clock_gettime()
 * then runs in the vDSO, without a system call or a VM exit.  Its
 * frequency is the host's (KVM's virtual_tsc_khz), not a calibration.
 *
 * "pvchan-time" (hosts with PVCHAN_CLOCK_F_RECORD) reads the calling
 * vCPU's time record, which the host keeps current: host time paired with
 * that vCPU's TSC and the rate to extrapolate with, under the pvclock
 * version protocol.  Records of different vCPUs may disagree by the
 * host's pairing error, so the clocksource never returns less than the
 * largest value it returned on any vCPU (counted as a correction when it
 * holds a read back).  It is rated between kvm-clock and pvchan-tsc: it
 * takes over when the host withdraws the TSC's stability (a device event),
 * the timekeeping core switching with time continuous.  It has no vDSO
 * mode, so clock reads are system calls then; that is logged.
 *
 * The PTP clock (/dev/ptpN, "pvchan host time") reads host CLOCK_REALTIME
 * with CLOCK_PAIR; chrony or phc2sys can discipline the guest with it.
 */
#include <linux/clocksource.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/barrier.h>
#include <asm/msr.h>

#include "pvchan_guest.h"
#include "trace.h"

enum pvchan_guest_clock_event {
	PVCHAN_CLOCK_EV_STABILITY,
	PVCHAN_CLOCK_EV_FREQUENCY,
	PVCHAN_CLOCK_EV_PAIR,
	PVCHAN_CLOCK_EV_RECORD,
};

/**
 * struct pvchan_clock - the clock device.
 * @dev: the pvchan device.
 * @lock: serialises (un)registering the clocksources and the PTP clock's
 *	use of @pair.
 * @cs: the TSC clocksource.
 * @cs_registered: @cs is registered.
 * @tsc_hz: the TSC frequency the host announced last.
 * @stable: the host's word on the TSC, last announced.
 * @rcs: the time record clocksource.
 * @rcs_registered: @rcs is registered.
 * @rec: each possible CPU's time record (guest memory the host writes),
 *	allocated at probe, freed at removal.
 * @hp_state: CPU hotplug state registering the records, or 0.
 * @hp_node: this device's instance of @hp_state.
 * @last: largest value @rcs returned.
 * @corrections: @rcs reads held back to @last.
 * @max_correction: largest amount a read was held back by, ns.
 * @ptp_info: PTP clock operations.
 * @ptp: the PTP clock, or NULL.
 * @pair: CLOCK_PAIR result (guest physical memory for the host).
 * @dbg: debugfs directory.
 * @stability_changes: times the host changed the TSC's stability.
 * @freq_changes: times the host changed its frequency.
 * @records: CPUs whose record the host keeps.
 * @record_errors: CPUs whose record the host refused.
 * @pairs: CLOCK_PAIR calls.
 * @pair_errors: CLOCK_PAIR calls that failed.
 */
struct pvchan_clock {
	struct pvchan_gdev *dev;
	struct mutex lock;	/* see @lock above */
	struct clocksource cs;
	bool cs_registered;
	u64 tsc_hz;
	bool stable;
	struct clocksource rcs;
	bool rcs_registered;
	struct pvchan_clock_record **rec;
	int hp_state;
	struct hlist_node hp_node;
	atomic64_t last;
	atomic64_t corrections;
	atomic64_t max_correction;
	struct ptp_clock_info ptp_info;
	struct ptp_clock *ptp;
	struct pvchan_clock_pair *pair;
	struct dentry *dbg;
	u64 stability_changes;
	u64 freq_changes;
	atomic_t records;
	atomic_t record_errors;
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
	.id = PVCHAN_CSID_TSC,
	.owner = THIS_MODULE,
};

/* Host time from one record, in ns; the pvclock version protocol. */
static notrace u64 pvchan_clock_record_ns(const struct pvchan_clock_record *r)
{
	u32 ver, mul;
	u64 ns, delta;
	u8 shift;

	do {
		ver = le32_to_cpu(READ_ONCE(r->version));
		/* The fields after the version the host wrote before them. */
		virt_rmb();
		delta = rdtsc_ordered() - le64_to_cpu(READ_ONCE(r->tsc));
		/* Before the host's pairing instant (its error): none. */
		if ((s64)delta < 0)
			delta = 0;
		mul = le32_to_cpu(READ_ONCE(r->mul));
		shift = min_t(u8, READ_ONCE(r->shift), 32);
		ns = le64_to_cpu(READ_ONCE(r->system_ns)) +
		     mul_u64_u32_shr(delta, mul, shift);
		/* The version again after the fields: unchanged, they match. */
		virt_rmb();
	} while ((ver & 1) || ver != le32_to_cpu(READ_ONCE(r->version)));
	return ns;
}

static notrace void pvchan_clock_held_back(struct pvchan_clock *clk, u64 by)
{
	s64 max = atomic64_read(&clk->max_correction);

	atomic64_inc(&clk->corrections);
	while ((s64)by > max &&
	       !atomic64_try_cmpxchg(&clk->max_correction, &max, by))
		;
}

static notrace u64 pvchan_clock_read_record(struct clocksource *cs)
{
	struct pvchan_clock *clk = container_of(cs, struct pvchan_clock, rcs);
	s64 ns, last;

	preempt_disable_notrace();
	ns = pvchan_clock_record_ns(clk->rec[smp_processor_id()]);
	preempt_enable_notrace();
	/* Never less than any CPU returned: records disagree a little. */
	last = atomic64_read(&clk->last);
	do {
		if (ns <= last) {
			if (ns < last)
				pvchan_clock_held_back(clk, last - ns);
			return last;
		}
	} while (!atomic64_try_cmpxchg(&clk->last, &last, ns));
	return ns;
}

static const struct clocksource pvchan_clock_rcs = {
	.name = "pvchan-time",
	/* Above kvm-clock, below pvchan-tsc: for when the TSC is not stable. */
	.rating = 420,
	.read = pvchan_clock_read_record,
	.mask = CLOCKSOURCE_MASK(64),
	.flags = CLOCK_SOURCE_IS_CONTINUOUS | CLOCK_SOURCE_VALID_FOR_HRES,
	.owner = THIS_MODULE,
};

/* CPU hotplug: each CPU registers its record itself, on itself. */
static int pvchan_clock_cpu_online(unsigned int cpu, struct hlist_node *node)
{
	struct pvchan_clock *clk = hlist_entry(node, struct pvchan_clock,
					       hp_node);
	long ret;

	ret = pvchan_hc(PVCHAN_HC_CLOCK_RECORD, clk->dev->index,
			virt_to_phys(clk->rec[cpu]),
			sizeof(struct pvchan_clock_record), 0);
	if (ret) {
		atomic_inc(&clk->record_errors);
		pr_err("dev%u: CPU %u: host refused the time record: %ld\n",
		       clk->dev->index, cpu, ret);
		return -EIO;
	}
	atomic_inc(&clk->records);
	trace_pvchan_guest_clock_event(clk->dev->index, PVCHAN_CLOCK_EV_RECORD,
				       cpu);
	return 0;
}

/* The record stays allocated (this CPU may still read it), unwritten. */
static int pvchan_clock_cpu_offline(unsigned int cpu, struct hlist_node *node)
{
	struct pvchan_clock *clk = hlist_entry(node, struct pvchan_clock,
					       hp_node);

	pvchan_hc(PVCHAN_HC_CLOCK_RECORD, clk->dev->index, 0, 0, 0);
	atomic_dec(&clk->records);
	return 0;
}

static void pvchan_clock_free_records(struct pvchan_clock *clk)
{
	unsigned int cpu;

	if (!clk->rec)
		return;
	for_each_possible_cpu(cpu)
		kfree(clk->rec[cpu]);
	kfree(clk->rec);
	clk->rec = NULL;
}

/*
 * Set up time records on every CPU and register pvchan-time.  Without
 * them (an older host, an error) the guest still has pvchan-tsc when the
 * TSC is stable, and kvm-clock.
 */
static void pvchan_clock_records_init(struct pvchan_clock *clk)
{
	unsigned int cpu;
	int ret;

	if (!(le64_to_cpu(clk->dev->desc.features) &
	      BIT_ULL(PVCHAN_CLOCK_F_RECORD)))
		return;
	clk->rec = kcalloc(nr_cpu_ids, sizeof(*clk->rec), GFP_KERNEL);
	if (!clk->rec)
		return;
	for_each_possible_cpu(cpu) {
		/* kmalloc: physically contiguous, a 64-byte object aligned. */
		clk->rec[cpu] = kzalloc(sizeof(*clk->rec[cpu]), GFP_KERNEL);
		if (!clk->rec[cpu])
			goto fail;
	}
	ret = cpuhp_setup_state_multi(CPUHP_AP_ONLINE_DYN,
				      "pvchan/clock:online",
				      pvchan_clock_cpu_online,
				      pvchan_clock_cpu_offline);
	if (ret < 0)
		goto fail;
	clk->hp_state = ret;
	ret = cpuhp_state_add_instance(clk->hp_state, &clk->hp_node);
	if (ret)
		goto fail_state;
	clk->rcs = pvchan_clock_rcs;
	ret = clocksource_register_hz(&clk->rcs, NSEC_PER_SEC);
	if (ret)
		goto fail_instance;
	clk->rcs_registered = true;
	pr_info("dev%u: pvchan-time: host time records on %d CPUs\n",
		clk->dev->index, atomic_read(&clk->records));
	return;

fail_instance:
	cpuhp_state_remove_instance(clk->hp_state, &clk->hp_node);
fail_state:
	cpuhp_remove_multi_state(clk->hp_state);
	clk->hp_state = 0;
fail:
	pr_warn("dev%u: no pvchan-time clocksource\n", clk->dev->index);
	pvchan_clock_free_records(clk);
}

static void pvchan_clock_records_exit(struct pvchan_clock *clk)
{
	if (clk->rcs_registered)
		clocksource_unregister(&clk->rcs);
	clk->rcs_registered = false;
	if (clk->hp_state) {
		cpuhp_state_remove_instance(clk->hp_state, &clk->hp_node);
		cpuhp_remove_multi_state(clk->hp_state);
		clk->hp_state = 0;
	}
	pvchan_clock_free_records(clk);
}

/* Follow the host's word on the TSC; under clk->lock. */
static void pvchan_clock_apply(struct pvchan_clock *clk,
			       const struct pvchan_clock_config *cfg,
			       bool first)
{
	u64 hz = le64_to_cpu(cfg->tsc_hz);
	bool stable = le32_to_cpu(cfg->status) & PVCHAN_CLOCK_S_TSC_STABLE;
	bool changed = !first && stable != clk->stable;

	lockdep_assert_held(&clk->lock);
	/* 1 MHz .. 100 GHz: anything else is a broken host. */
	if (stable && (hz < 1000000 || hz > 100000000000ULL)) {
		pvchan_host_err("dev%u: TSC frequency %llu Hz refused\n",
				clk->dev->index, hz);
		stable = false;
		changed = !first && clk->stable;
	}
	if (changed) {
		clk->stability_changes++;
		trace_pvchan_guest_clock_event(clk->dev->index,
					       PVCHAN_CLOCK_EV_STABILITY,
					       stable);
	}
	if (!first && hz != clk->tsc_hz) {
		clk->freq_changes++;
		trace_pvchan_guest_clock_event(clk->dev->index,
					       PVCHAN_CLOCK_EV_FREQUENCY, hz);
	}
	/* A new frequency: re-register, the core moves over continuously. */
	if (clk->cs_registered && (!stable || hz != clk->tsc_hz)) {
		clocksource_unregister(&clk->cs);
		clk->cs_registered = false;
	}
	clk->stable = stable;
	clk->tsc_hz = hz;
	if (stable && !clk->cs_registered) {
		clk->cs = pvchan_clock_cs;
		if (clocksource_register_hz(&clk->cs, hz)) {
			pr_err("dev%u: cannot register pvchan-tsc\n",
			       clk->dev->index);
			return;
		}
		clk->cs_registered = true;
		pr_info("dev%u: pvchan-tsc at %llu Hz (host), vDSO capable\n",
			clk->dev->index, hz);
	} else if (!stable && (first || changed)) {
		pr_warn("dev%u: host TSC not stable: no pvchan-tsc; %s; vDSO clock reads unavailable, clock_gettime() is a system call\n",
			clk->dev->index, clk->rcs_registered ?
			"clock from host time records (pvchan-time)" :
			"no pvchan clocksource");
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
	trace_pvchan_guest_clock_event(clk->dev->index, PVCHAN_CLOCK_EV_PAIR,
				       ts->tv_sec);
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

/* Host time and the TSC when the host read it, for a cross-timestamp. */
static int pvchan_clock_sync(ktime_t *device, struct system_counterval_t *sc,
			     void *ctx)
{
	struct pvchan_clock *clk = ctx;
	struct timespec64 ts;
	int ret;

	ret = pvchan_clock_host_time(clk, &ts, NULL);
	if (ret)
		return ret;
	*device = timespec64_to_ktime(ts);
	pvchan_counterval(sc, le64_to_cpu(clk->pair->tsc), &clk->cs);
	return 0;
}

/*
 * PTP_SYS_OFFSET_PRECISE: the host paired its time with the TSC, which is
 * the system clock's counter while pvchan-tsc is the clocksource (else
 * the timekeeping core refuses, -ENODEV).
 */
static int pvchan_clock_getcrosststamp(struct ptp_clock_info *info,
				       struct system_device_crosststamp *xts)
{
	struct pvchan_clock *clk = container_of(info, struct pvchan_clock,
						ptp_info);
	int ret = -EOPNOTSUPP;

	mutex_lock(&clk->lock);
	if (clk->cs_registered)
		ret = get_device_system_crosststamp(pvchan_clock_sync, clk,
						    NULL, xts);
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
	.getcrosststamp = pvchan_clock_getcrosststamp,
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
	seq_printf(m, "time_records %s\n",
		   clk->rcs_registered ? "registered" : "none");
	mutex_unlock(&clk->lock);
	seq_printf(m, "record_cpus %d\nrecord_errors %d\ncorrections %lld\nmax_correction_ns %lld\n",
		   atomic_read(&clk->records), atomic_read(&clk->record_errors),
		   atomic64_read(&clk->corrections),
		   atomic64_read(&clk->max_correction));
	seq_printf(m, "ptp %d\npairs %lld\npair_errors %lld\n",
		   clk->ptp ? ptp_clock_index(clk->ptp) : -1,
		   atomic64_read(&clk->pairs), atomic64_read(&clk->pair_errors));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_clock_stats);

/**
 * pvchan_clock_probe() - set up a clock device: the time record
 * clocksource if the host keeps records, the TSC clocksource if the host
 * vouches for the TSC, and the PTP clock.
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
	pvchan_clock_records_init(clk);
	pvchan_clock_apply(clk, &cfg, true);
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
	pvchan_clock_records_exit(clk);
	mutex_unlock(&clk->lock);
	kfree(clk->pair);
	kfree(clk);
}

struct pvchan_clock_again {
	struct pvchan_clock *clk;
	long ret;
};

/* On each CPU in turn (IPI): register its record with the new session. */
static void pvchan_clock_record_again(void *arg)
{
	struct pvchan_clock_again *a = arg;
	unsigned int cpu = smp_processor_id();

	a->ret = pvchan_hc(PVCHAN_HC_CLOCK_RECORD, a->clk->dev->index,
			   virt_to_phys(a->clk->rec[cpu]),
			   sizeof(struct pvchan_clock_record), 0);
}

/**
 * pvchan_clock_reconnect() - the host is back: register the time records
 * again and follow its word on the TSC.
 * @dev: device set up by pvchan_clock_probe().
 *
 * The records keep their memory; the new session writes them from its
 * first update on (the version protocol covers the switch).
 *
 * Context: process context (the link work); sleeps.
 * Return: 0 or -ENOTCONN (the host went away again).
 */
int pvchan_clock_reconnect(struct pvchan_gdev *dev)
{
	struct pvchan_clock_again a = { .clk = dev->priv };
	unsigned int cpu;
	int ret = 0;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		/* Records exist while the hotplug state does. */
		if (!a.clk->hp_state)
			break;
		smp_call_function_single(cpu, pvchan_clock_record_again, &a,
					 true);
		if (pvchan_hc_lost(a.ret)) {
			ret = -ENOTCONN;
			break;
		}
		if (a.ret) {
			atomic_inc(&a.clk->record_errors);
			pr_err("dev%u: CPU %u: host refused the time record: %ld\n",
			       dev->index, cpu, a.ret);
		}
	}
	cpus_read_unlock();
	if (!ret)
		pvchan_clock_config_changed(dev);
	return ret;
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
	pvchan_clock_apply(clk, &cfg, false);
	mutex_unlock(&clk->lock);
}
