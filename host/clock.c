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
 * Time records (ABI 1.5) are for a guest that may not read its TSC as a
 * clock: each vCPU registers one, and the same worker rewrites every
 * record ten times a second with host time paired with that vCPU's TSC
 * and the rate to extrapolate between updates.  The rate is measured over
 * windows of PVCHAN_CLOCK_RATE_WINDOW (the guest's nominal frequency
 * until the first window ends), so a TSC whose real rate differs from its
 * announced one, or changes, is followed.  A record is dropped, never
 * written again, when the guest says HELLO, when the vCPU's TSC went back
 * (the vCPU was reset: its memory may belong to a new kernel now) or when
 * the record's version in guest memory is not the one the host wrote.
 *
 * Fault injection (debugfs, off by default): fault_tsc_unstable reports
 * the TSC unstable, as a host would after a TSC problem; fault_tsc_khz
 * announces another frequency, as after a migration to a host whose TSC
 * cannot be scaled to the old one.
 */
#include <linux/debugfs.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/time64.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <kunit/visibility.h>

#include "pvchan_host.h"

#define PVCHAN_CLOCK_WATCH	HZ	/* how often the state is checked */
#define PVCHAN_CLOCK_REFRESH	(HZ / 10)	/* ...with time records */
#define PVCHAN_CLOCK_RATE_WINDOW	(2 * NSEC_PER_SEC)

/**
 * struct pvchan_clock_vcpu - host side of one vCPU's time record.
 * @gpa: where the guest wants it.
 * @size: bytes written there (the guest's size, at most the record's).
 * @version: version last written (0: none yet).
 * @tsc: the vCPU's TSC at the last update...
 * @ns: ...and host time then.
 * @base_tsc: the vCPU's TSC when the current rate window began...
 * @base_ns: ...and host time then.
 * @mul: rate last written.
 * @shift: rate last written.
 */
struct pvchan_clock_vcpu {
	u64 gpa;
	u32 size;
	u32 version;
	u64 tsc;
	u64 ns;
	u64 base_tsc;
	u64 base_ns;
	u32 mul;
	u8 shift;
};

/**
 * struct pvchan_clock - a clock device.
 * @dev: the device.
 * @watch: checks the TSC state, announces changes.
 * @tsc_khz: frequency last announced.
 * @stable: stability last announced.
 * @fault_unstable: debugfs knob: report the TSC unstable.
 * @fault_khz: debugfs knob: announce this frequency (0: KVM's).
 * @changes: changes announced.
 * @pairs: CLOCK_PAIR calls served.
 * @pair_fails: CLOCK_PAIR calls without a TSC-based host clock.
 * @rec_lock: protects @vcpus and the records' contents; taken in the vCPU
 *	thread (CLOCK_RECORD), in the worker, and under the VM's lock (HELLO).
 * @vcpus: struct pvchan_clock_vcpu by vcpu_id.
 * @updates: records written.
 * @drops: records dropped (vCPU reset, memory reused, write failed).
 * @max_step_ns: largest difference between a new record and what the
 *	previous one extrapolated to, either way.
 */
struct pvchan_clock {
	struct pvchan_dev *dev;
	struct delayed_work watch;
	u32 tsc_khz;
	bool stable;
	bool fault_unstable;
	u32 fault_khz;
	atomic64_t changes;
	atomic64_t pairs;
	atomic64_t pair_fails;
	struct mutex rec_lock;	/* see @rec_lock above */
	struct xarray vcpus;
	u64 updates;
	u64 drops;
	u64 max_step_ns;
};

static bool pvchan_clock_stable(struct pvchan_clock *clk)
{
	return !READ_ONCE(clk->fault_unstable) &&
	       pvchan_kvm_tsc_stable(clk->dev->vm->kvm);
}

static u32 pvchan_clock_khz(struct pvchan_clock *clk)
{
	u32 khz = READ_ONCE(clk->fault_khz);

	return khz ?: pvchan_kvm_tsc_khz(clk->dev->vm->kvm);
}

/* Announce a change of frequency or stability (from the watch work). */
static void pvchan_clock_check(struct pvchan_clock *clk)
{
	u32 khz = pvchan_clock_khz(clk);
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

/*
 * mul and shift such that (ticks * mul) >> shift = ns, shift as large as
 * mul allows.  The caller keeps ns / ticks below 1000 (a TSC of 1 MHz).
 */
VISIBLE_IF_KUNIT
void pvchan_clock_rate(u64 ns, u64 ticks, u32 *mul, u8 *shift)
{
	u8 s = 32;
	u64 m;

	for (;;) {
		m = mul_u64_u64_div_u64(ns, 1ULL << s, ticks);
		if (m <= U32_MAX || !s)
			break;
		s--;
	}
	*mul = min_t(u64, m, U32_MAX);
	*shift = s;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_clock_rate);

/* A measured rate: a TSC of 1 MHz .. 100 GHz, like the configuration. */
static bool pvchan_clock_rate_sane(u64 ns, u64 ticks)
{
	return ticks && ns / 1000 <= ticks && ticks / 100 <= ns;
}

/*
 * Write @v's record for vCPU @vcpu_id: the version odd, the body, the
 * version even, each a separate copy so that the guest sees them in that
 * order.  Needs the VMM's mm; under rec_lock.  Returns 0, or -ENODEV,
 * -ERANGE (the TSC went back), -EBUSY (version not ours), -EFAULT.
 */
static int pvchan_clock_update(struct pvchan_clock *clk, unsigned long vcpu_id,
			       struct pvchan_clock_vcpu *v)
{
	struct kvm *kvm = clk->dev->vm->kvm;
	struct pvchan_clock_record rec = {};
	const u32 off = offsetof(struct pvchan_clock_record, flags);
	__le32 ver;
	u64 ns, tsc;
	s64 step;

	lockdep_assert_held(&clk->rec_lock);
	if (pvchan_kvm_vcpu_time(kvm, vcpu_id, &ns, &tsc))
		return -ENODEV;
	if (!v->version) {
		v->base_ns = ns;
		v->base_tsc = tsc;
		pvchan_clock_rate(NSEC_PER_MSEC, max(READ_ONCE(clk->tsc_khz),
						     1000U), &v->mul, &v->shift);
	} else {
		if (tsc < v->tsc)
			return -ERANGE;
		if (pvchan_kvm_read(kvm, v->gpa, &ver, sizeof(ver)))
			return -EFAULT;
		if (le32_to_cpu(ver) != v->version)
			return -EBUSY;
		step = ns - v->ns - mul_u64_u32_shr(tsc - v->tsc, v->mul,
						    v->shift);
		clk->max_step_ns = max_t(u64, clk->max_step_ns, abs(step));
		if (ns - v->base_ns >= PVCHAN_CLOCK_RATE_WINDOW) {
			if (pvchan_clock_rate_sane(ns - v->base_ns,
						   tsc - v->base_tsc))
				pvchan_clock_rate(ns - v->base_ns,
						  tsc - v->base_tsc, &v->mul,
						  &v->shift);
			v->base_ns = ns;
			v->base_tsc = tsc;
		}
	}
	rec.version = cpu_to_le32(v->version | 1);
	rec.tsc = cpu_to_le64(tsc);
	rec.system_ns = cpu_to_le64(ns);
	rec.mul = cpu_to_le32(v->mul);
	rec.shift = v->shift;
	if (pvchan_kvm_write(kvm, v->gpa, &rec.version, sizeof(rec.version)) ||
	    pvchan_kvm_write(kvm, v->gpa + off, (u8 *)&rec + off,
			     v->size - off))
		return -EFAULT;
	v->version = (v->version | 1) + 1;
	rec.version = cpu_to_le32(v->version);
	if (pvchan_kvm_write(kvm, v->gpa, &rec.version, sizeof(rec.version)))
		return -EFAULT;
	v->tsc = tsc;
	v->ns = ns;
	clk->updates++;
	return 0;
}

static void pvchan_clock_drop(struct pvchan_clock *clk, unsigned long vcpu_id,
			      int why)
{
	kfree(xa_erase(&clk->vcpus, vcpu_id));
	clk->drops++;
	pvchan_guest_dbg(clk->dev->vm, "dev%u: vCPU %lu's time record dropped: %d\n",
			 clk->dev->index, vcpu_id, why);
}

/* Rewrite every record, from the worker. */
static void pvchan_clock_refresh(struct pvchan_clock *clk)
{
	struct mm_struct *mm = clk->dev->vm->mm;
	struct pvchan_clock_vcpu *v;
	unsigned long id;
	int ret;

	mutex_lock(&clk->rec_lock);
	if (xa_empty(&clk->vcpus) || !mmget_not_zero(mm)) {
		mutex_unlock(&clk->rec_lock);
		return;
	}
	kthread_use_mm(mm);
	xa_for_each(&clk->vcpus, id, v) {
		ret = pvchan_clock_update(clk, id, v);
		if (ret)
			pvchan_clock_drop(clk, id, ret);
	}
	kthread_unuse_mm(mm);
	mmput(mm);
	mutex_unlock(&clk->rec_lock);
}

static void pvchan_clock_watch(struct work_struct *work)
{
	struct pvchan_clock *clk = container_of(to_delayed_work(work),
						struct pvchan_clock, watch);

	pvchan_clock_check(clk);
	pvchan_clock_refresh(clk);
	/* Racy emptiness test: a new record is written at registration. */
	queue_delayed_work(pvchan_wq, &clk->watch,
			   xa_empty(&clk->vcpus) ? PVCHAN_CLOCK_WATCH :
						   PVCHAN_CLOCK_REFRESH);
}

/**
 * pvchan_clock_record() - serve CLOCK_RECORD: (un)register the calling
 * vCPU's time record, and write it at once.
 * @dev: the device (any type: others are refused).
 * @vcpu_id: the calling vCPU.
 * @gpa: the record, checked by the caller; 0 to unregister.
 * @size: its size as the guest knows it, checked by the caller.
 *
 * Context: the vCPU thread, in a pvchan_srcu read section.
 * Return: -1 when done, or a PVCHAN_REJ_* reason.
 */
long pvchan_clock_record(struct pvchan_dev *dev, u32 vcpu_id, u64 gpa,
			 u64 size)
{
	struct pvchan_clock *clk = dev->priv;
	struct pvchan_clock_vcpu *v;
	long why = -1;
	int ret;

	if (dev->ops != &pvchan_clock_ops)
		return PVCHAN_REJ_NODEV;
	mutex_lock(&clk->rec_lock);
	if (!gpa) {
		kfree(xa_erase(&clk->vcpus, vcpu_id));
		goto out;
	}
	v = xa_load(&clk->vcpus, vcpu_id);
	if (!v) {
		v = kzalloc(sizeof(*v), GFP_KERNEL_ACCOUNT);
		if (!v || xa_err(xa_store(&clk->vcpus, vcpu_id, v,
					  GFP_KERNEL_ACCOUNT))) {
			kfree(v);
			why = PVCHAN_REJ_NOMEM;
			goto out;
		}
	}
	memset(v, 0, sizeof(*v));
	v->gpa = gpa;
	v->size = min_t(u64, size, sizeof(struct pvchan_clock_record));
	ret = pvchan_clock_update(clk, vcpu_id, v);
	if (ret) {
		kfree(xa_erase(&clk->vcpus, vcpu_id));
		why = ret == -ENODEV ? PVCHAN_REJ_NODEV : PVCHAN_REJ_FAULT;
	}
out:
	mutex_unlock(&clk->rec_lock);
	if (why < 0 && gpa)
		mod_delayed_work(pvchan_wq, &clk->watch, PVCHAN_CLOCK_REFRESH);
	return why;
}

/* HELLO: the guest starts over, its records are gone. */
static void pvchan_clock_reset(struct pvchan_dev *dev)
{
	struct pvchan_clock *clk = dev->priv;
	struct pvchan_clock_vcpu *v;
	unsigned long id;

	mutex_lock(&clk->rec_lock);
	xa_for_each(&clk->vcpus, id, v)
		kfree(xa_erase(&clk->vcpus, id));
	mutex_unlock(&clk->rec_lock);
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
	mutex_init(&clk->rec_lock);
	xa_init(&clk->vcpus);
	dev->priv = clk;
	dev->config_len = sizeof(struct pvchan_clock_config);
	dev->features = BIT_ULL(PVCHAN_CLOCK_F_RECORD);
	clk->tsc_khz = pvchan_kvm_tsc_khz(dev->vm->kvm);
	clk->stable = pvchan_clock_stable(clk);
	queue_delayed_work(pvchan_wq, &clk->watch, PVCHAN_CLOCK_WATCH);
	return 0;
}

static void pvchan_clock_destroy(struct pvchan_dev *dev)
{
	struct pvchan_clock *clk = dev->priv;

	/* No hypercall reaches the device any more; the worker requeues itself. */
	cancel_delayed_work_sync(&clk->watch);
	pvchan_clock_reset(dev);
	xa_destroy(&clk->vcpus);
	mutex_destroy(&clk->rec_lock);
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

static int pvchan_clock_fault_khz_get(void *data, u64 *val)
{
	struct pvchan_clock *clk = data;

	*val = READ_ONCE(clk->fault_khz);
	return 0;
}

/* 0 (KVM's frequency again) or 1 MHz .. 100 GHz, as the guest accepts. */
static int pvchan_clock_fault_khz_set(void *data, u64 val)
{
	struct pvchan_clock *clk = data;

	if (val && (val < 1000 || val > 100000000))
		return -EINVAL;
	WRITE_ONCE(clk->fault_khz, val);
	mod_delayed_work(pvchan_wq, &clk->watch, 0);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(pvchan_clock_fault_khz_fops,
			 pvchan_clock_fault_khz_get,
			 pvchan_clock_fault_khz_set, "%llu\n");

/* Takes effect at once: the guest hears of it now, not within a second. */
static int pvchan_clock_fault_set(void *data, u64 val)
{
	struct pvchan_clock *clk = data;

	if (val > 1)
		return -EINVAL;
	WRITE_ONCE(clk->fault_unstable, !!val);
	mod_delayed_work(pvchan_wq, &clk->watch, 0);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(pvchan_clock_fault_fops, pvchan_clock_fault_get,
			 pvchan_clock_fault_set, "%llu\n");

static int pvchan_clock_show(struct seq_file *m, void *unused)
{
	struct pvchan_clock *clk = m->private;
	struct pvchan_clock_vcpu *v;
	unsigned long id, n = 0;

	seq_printf(m, "tsc_khz %u\nstable %u\nfault_unstable %u\nfault_khz %u\n",
		   READ_ONCE(clk->tsc_khz), READ_ONCE(clk->stable),
		   READ_ONCE(clk->fault_unstable), READ_ONCE(clk->fault_khz));
	seq_printf(m, "changes %lld\npairs %lld\npair_fails %lld\n",
		   atomic64_read(&clk->changes), atomic64_read(&clk->pairs),
		   atomic64_read(&clk->pair_fails));
	mutex_lock(&clk->rec_lock);
	xa_for_each(&clk->vcpus, id, v)
		n++;
	seq_printf(m, "records %lu\nrecord_updates %llu\nrecord_drops %llu\nrecord_max_step_ns %llu\n",
		   n, clk->updates, clk->drops, clk->max_step_ns);
	mutex_unlock(&clk->rec_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_clock);

static void pvchan_clock_debugfs(struct pvchan_dev *dev)
{
	debugfs_create_file("clock", 0400, dev->dbg, dev->priv,
			    &pvchan_clock_fops);
	debugfs_create_file_unsafe("fault_tsc_unstable", 0600, dev->dbg,
				   dev->priv, &pvchan_clock_fault_fops);
	debugfs_create_file_unsafe("fault_tsc_khz", 0600, dev->dbg,
				   dev->priv, &pvchan_clock_fault_khz_fops);
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
	.reset = pvchan_clock_reset,
	.handle = pvchan_clock_handle,
};
