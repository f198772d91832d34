// SPDX-License-Identifier: GPL-2.0
/*
 * Guest side of pvchan queue rings (layout in pvchan_abi.h): allocation,
 * submission with kick suppression, completion reaping with interrupt
 * suppression, and the generic queue setup every device type uses.
 */
#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <kunit/visibility.h>

#include "pvchan_guest.h"
#include "trace.h"

static struct pvchan_ring_hdr *pvchan_gring_hdr(struct pvchan_gring *r)
{
	return r->mem;
}

static struct pvchan_sqe *pvchan_gring_sq(struct pvchan_gring *r)
{
	return r->mem + PVCHAN_RING_SQ_OFF;
}

static struct pvchan_cqe *pvchan_gring_cq(struct pvchan_gring *r)
{
	return r->mem + PVCHAN_RING_CQ_OFF(r->size);
}

/**
 * pvchan_gring_alloc() - allocate and zero a ring.
 * @r: ring.
 * @size: entries, power of two.
 * @event_idx: use notification suppression.
 *
 * Return: 0 or -ENOMEM.
 */
int pvchan_gring_alloc(struct pvchan_gring *r, u32 size, bool event_idx)
{
	memset(r, 0, sizeof(*r));
	r->order = get_order(PVCHAN_RING_BYTES(size));
	r->mem = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, r->order);
	if (!r->mem)
		return -ENOMEM;
	r->size = size;
	r->event_idx = event_idx;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_gring_alloc);

/**
 * pvchan_gring_free() - free a ring the host no longer uses.
 * @r: ring.
 */
void pvchan_gring_free(struct pvchan_gring *r)
{
	free_pages((unsigned long)r->mem, r->order);
	r->mem = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_gring_free);

/**
 * pvchan_gring_next_sqe() - claim the next submission entry.
 * @r: ring, under the queue lock.
 *
 * Return: a zeroed entry to fill, or NULL if @r->size requests are in
 * flight.  The entry is handed over by pvchan_gring_publish().
 */
struct pvchan_sqe *pvchan_gring_next_sqe(struct pvchan_gring *r)
{
	struct pvchan_sqe *sqe;

	if (r->inflight >= r->size)
		return NULL;
	sqe = &pvchan_gring_sq(r)[r->sq_prod & (r->size - 1)];
	memset(sqe, 0, sizeof(*sqe));
	r->sq_prod++;
	r->inflight++;
	return sqe;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_gring_next_sqe);

/**
 * pvchan_gring_publish() - make claimed entries visible to the host.
 * @r: ring, under the queue lock.
 *
 * Return: true if the host must be kicked.
 */
bool pvchan_gring_publish(struct pvchan_gring *r)
{
	struct pvchan_ring_hdr *hdr = pvchan_gring_hdr(r);
	u32 old = r->sq_pub;

	if (old == r->sq_prod)
		return false;
	/* Entries before the index that publishes them. */
	smp_wmb();
	WRITE_ONCE(hdr->sq_prod, cpu_to_le32(r->sq_prod));
	r->sq_pub = r->sq_prod;
	if (!r->event_idx)
		return true;
	/* Publish sq_prod before reading the host's sq_event. */
	smp_mb();
	return pvchan_need_event(le32_to_cpu(READ_ONCE(hdr->sq_event)),
				 r->sq_prod, old);
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_gring_publish);

/**
 * pvchan_gring_get_cqe() - take the next completion, if any.
 * @r: ring, under the queue lock.
 * @cqe: copy of the completion.
 *
 * A host that posts more completions than there are requests in flight is
 * ignored (the caller counts it).
 *
 * Return: true if @cqe was filled.
 */
bool pvchan_gring_get_cqe(struct pvchan_gring *r, struct pvchan_cqe *cqe)
{
	struct pvchan_ring_hdr *hdr = pvchan_gring_hdr(r);
	u32 prod = le32_to_cpu(READ_ONCE(hdr->cq_prod));

	if (prod == r->cq_cons || !r->inflight)
		return false;
	/* Read the entry only after seeing the index that covers it. */
	smp_rmb();
	*cqe = pvchan_gring_cq(r)[r->cq_cons & (r->size - 1)];
	r->cq_cons++;
	r->inflight--;
	WRITE_ONCE(hdr->cq_cons, cpu_to_le32(r->cq_cons));
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_gring_get_cqe);

/**
 * pvchan_gring_arm() - ask for an interrupt at the next completion.
 * @r: ring, under the queue lock.
 *
 * Return: true if completions arrived meanwhile and must be reaped now.
 */
bool pvchan_gring_arm(struct pvchan_gring *r)
{
	struct pvchan_ring_hdr *hdr = pvchan_gring_hdr(r);

	WRITE_ONCE(hdr->cq_event, cpu_to_le32(r->cq_cons));
	/* cq_event store before the cq_prod reload (host: irq decision). */
	smp_mb();
	return r->inflight &&
	       le32_to_cpu(READ_ONCE(hdr->cq_prod)) != r->cq_cons;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_gring_arm);

/**
 * pvchan_gqueue_kick_prepare() - publish submissions; must the host be told?
 * @q: queue, under @q->lock.
 *
 * Return: true if the caller must call pvchan_gqueue_notify(), best after
 * dropping @q->lock if it disables interrupts: the host may complete the
 * requests before the hypercall returns, and an interrupt raised while the
 * vCPU has interrupts off costs another VM exit (an interrupt window) to
 * deliver.
 */
bool pvchan_gqueue_kick_prepare(struct pvchan_gqueue *q)
{
	if (!pvchan_gring_publish(&q->ring)) {
		atomic64_inc(&q->stats.kicks_suppressed);
		return false;
	}
	/* Injected fault: the host is not told (timeouts recover). */
	return !pvchan_gfault(&q->dev->faults.drop_kicks,
			      &q->stats.fault_kicks_dropped);
}

/**
 * pvchan_gqueue_notify() - kick the host: tell it the queue has submissions.
 * @q: queue; pvchan_gqueue_kick_prepare() said so.  Any context; @q->lock
 *	need not be held.
 */
void pvchan_gqueue_notify(struct pvchan_gqueue *q)
{
	long ret;

	atomic64_inc(&q->stats.kicks);
	ret = pvchan_hc(PVCHAN_HC_KICK, q->dev->index, q->index, 0, 0);
	/* A lost host is main.c's to report, once. */
	if (ret && !pvchan_hc_lost(ret))
		pvchan_host_err("dev%u q%u: kick failed: %ld\n", q->dev->index,
				q->index, ret);
}

/**
 * pvchan_gqueue_kick() - publish submissions and notify the host if needed.
 * @q: queue, under @q->lock.
 */
void pvchan_gqueue_kick(struct pvchan_gqueue *q)
{
	if (pvchan_gqueue_kick_prepare(q))
		pvchan_gqueue_notify(q);
}

/**
 * pvchan_gqueue_bad_cqe() - a completion matched no request in flight.
 * @q: queue, under @q->lock.
 * @req_id: the completion's request id.
 *
 * pvchan_gring_get_cqe() took a request's credit for it: give it back, so
 * that a host posting a completion twice (or garbage) cannot make the
 * guest lose count of the requests really in flight.  Counted and logged
 * (rate limited).
 */
void pvchan_gqueue_bad_cqe(struct pvchan_gqueue *q, u64 req_id)
{
	atomic64_inc(&q->stats.bad_completions);
	q->ring.inflight++;
	pvchan_host_err("dev%u q%u: completion for unknown request %llu\n",
			q->dev->index, q->index, req_id);
}

/**
 * pvchan_gqueue_reap() - hand the posted completions to @q->complete.
 * @q: queue with a @complete callback, under @q->lock.
 *
 * At most twice the ring's size per call: completions matching nothing
 * give their credit back (pvchan_gqueue_bad_cqe()), and a host posting
 * garbage must not keep the caller here.
 *
 * Return: the completions taken.
 */
unsigned int pvchan_gqueue_reap(struct pvchan_gqueue *q)
{
	unsigned int n = 0, budget = 2 * q->ring.size;
	struct pvchan_cqe cqe;

	lockdep_assert_held(&q->lock);
	do {
		while (n < budget && pvchan_gring_get_cqe(&q->ring, &cqe)) {
			n++;
			atomic64_inc(&q->stats.completed);
			trace_pvchan_guest_req_complete(q->dev->index, q->index,
							le64_to_cpu(cqe.req_id),
							le32_to_cpu(cqe.status));
			q->complete(q, &cqe);
		}
	} while (n < budget && pvchan_gring_arm(&q->ring));
	return n;
}

static irqreturn_t pvchan_gqueue_irq(int irq, void *data)
{
	struct pvchan_gqueue *q = data;
	unsigned long flags;

	atomic64_inc(&q->stats.irqs);
	/* Injected fault: the interrupt is lost (found at timeout). */
	if (pvchan_gfault(&q->dev->faults.drop_irqs,
			  &q->stats.fault_irqs_dropped))
		return IRQ_HANDLED;
	spin_lock_irqsave(&q->lock, flags);
	pvchan_gqueue_reap(q);
	spin_unlock_irqrestore(&q->lock, flags);
	return IRQ_HANDLED;
}

/**
 * pvchan_gqueue_init() - allocate a queue's ring, register it with the host
 * and route its interrupt to @cpu.
 * @dev: device.
 * @q: queue to set up; @q->complete or @q->handler must be set.
 * @index: queue number.
 * @cpu: CPU for the interrupt.
 *
 * Return: 0 or a negative errno.
 */
int pvchan_gqueue_init(struct pvchan_gdev *dev, struct pvchan_gqueue *q,
		       u16 index, unsigned int cpu)
{
	bool event_idx = pvchan_chan.features & BIT_ULL(PVCHAN_F_EVENT_IDX);
	long hret;
	int ret;

	q->dev = dev;
	q->index = index;
	q->cpu = cpu;
	spin_lock_init(&q->lock);
	ret = pvchan_gring_alloc(&q->ring, dev->queue_size, event_idx);
	if (ret)
		return ret;
	hret = pvchan_hc(PVCHAN_HC_QUEUE_SETUP, dev->index, index,
			 virt_to_phys(q->ring.mem), dev->queue_size);
	if (hret) {
		pr_err("dev%u q%u: host refused queue setup: %ld\n",
		       dev->index, index, hret);
		ret = -EIO;
		goto out_free_ring;
	}
	ret = pvchan_irq_setup(q, q->handler ?: pvchan_gqueue_irq);
	if (ret)
		goto out_reset;
	return 0;

out_reset:
	pvchan_hc(PVCHAN_HC_QUEUE_RESET, dev->index, index, 0, 0);
out_free_ring:
	pvchan_gring_free(&q->ring);
	return ret;
}

/**
 * pvchan_gqueue_restart() - reset a queue on the host and start it again
 * with an empty ring (error recovery, reconnection).
 * @q: queue set up by pvchan_gqueue_init(); the caller has stopped
 *	submissions and will resubmit or fail whatever was in flight.
 *
 * When QUEUE_RESET returns the host has let go of every request of the
 * ring, so their buffers may be reused.  Takes @q->lock.
 *
 * Return: 0; -ENOTCONN if the host is gone (the ring is left as it was, its
 * requests in flight, for the reconnection to resubmit: see main.c); -EIO
 * if the host refuses the new ring.
 */
int pvchan_gqueue_restart(struct pvchan_gqueue *q)
{
	struct pvchan_gring *r = &q->ring;
	unsigned long flags;
	long ret;

	ret = pvchan_hc(PVCHAN_HC_QUEUE_RESET, q->dev->index, q->index, 0, 0);
	if (pvchan_hc_lost(ret))
		return -ENOTCONN;
	spin_lock_irqsave(&q->lock, flags);
	memset(r->mem, 0, PAGE_SIZE << r->order);
	r->sq_prod = 0;
	r->sq_pub = 0;
	r->cq_cons = 0;
	r->inflight = 0;
	spin_unlock_irqrestore(&q->lock, flags);
	ret = pvchan_hc(PVCHAN_HC_QUEUE_SETUP, q->dev->index, q->index,
			virt_to_phys(r->mem), r->size);
	if (!ret)
		pvchan_irq_reroute(q);
	if (pvchan_hc_lost(ret))
		return -ENOTCONN;
	return ret ? -EIO : 0;
}

/**
 * pvchan_gqueue_stats_show() - print a queue's counters, one "name value"
 * line each, for a device's debugfs stats file.
 * @m: the seq_file.
 * @q: the queue.
 */
void pvchan_gqueue_stats_show(struct seq_file *m, struct pvchan_gqueue *q)
{
	struct pvchan_gqueue_stats *s = &q->stats;

	seq_printf(m, "cpu %u\nirq %u\n", q->cpu, q->irq);
	seq_printf(m, "submitted %lld\n", atomic64_read(&s->submitted));
	seq_printf(m, "completed %lld\n", atomic64_read(&s->completed));
	seq_printf(m, "inflight %u\n", READ_ONCE(q->ring.inflight));
	seq_printf(m, "kicks %lld\n", atomic64_read(&s->kicks));
	seq_printf(m, "kicks_suppressed %lld\n",
		   atomic64_read(&s->kicks_suppressed));
	seq_printf(m, "irqs %lld\n", atomic64_read(&s->irqs));
	seq_printf(m, "bad_completions %lld\n",
		   atomic64_read(&s->bad_completions));
	seq_printf(m, "timeouts %lld\nlost_irqs %lld\n",
		   atomic64_read(&s->timeouts), atomic64_read(&s->lost_irqs));
	seq_printf(m, "route_updates %lld\n", atomic64_read(&s->route_updates));
	seq_printf(m, "fault_kicks_dropped %lld\nfault_irqs_dropped %lld\n",
		   atomic64_read(&s->fault_kicks_dropped),
		   atomic64_read(&s->fault_irqs_dropped));
	seq_printf(m, "fault_io_errors %lld\nfault_corrupted %lld\n",
		   atomic64_read(&s->fault_io_errors),
		   atomic64_read(&s->fault_corrupted));
	pvchan_hist_show(m, "latency_total", &s->lat_total);
	pvchan_hist_show(m, "stage_host_backend", &s->lat_host_backend);
	pvchan_hist_show(m, "stage_host_post", &s->lat_host_post);
	pvchan_hist_show(m, "stage_channel", &s->lat_channel);
}

/**
 * pvchan_gfault() - take one injected fault from a knob, if armed.
 * @knob: a &struct pvchan_gfaults count.
 * @count: the queue's counter of that fault, bumped when one is taken.
 *
 * Context: any.
 *
 * Return: true if the caller must inject the fault now.
 */
bool pvchan_gfault(atomic_t *knob, atomic64_t *count)
{
	if (likely(!atomic_read(knob)) || atomic_dec_if_positive(knob) < 0)
		return false;
	atomic64_inc(count);
	return true;
}

/**
 * pvchan_gdev_debugfs_faults() - the fault knobs of a device, in @dir.
 * @dev: the device.
 * @dir: its debugfs directory.
 * @requests: the driver honours io_errors and corrupt as well (it builds
 *	requests that can fail or be garbled one at a time).
 *
 * Kicks and interrupts are common to every queue (pvchan_gqueue_kick(),
 * the default interrupt handler).  Root only, as netdevsim's.
 */
void pvchan_gdev_debugfs_faults(struct pvchan_gdev *dev, struct dentry *dir,
				bool requests)
{
	debugfs_create_atomic_t("fault_drop_kicks", 0600, dir,
				&dev->faults.drop_kicks);
	debugfs_create_atomic_t("fault_drop_irqs", 0600, dir,
				&dev->faults.drop_irqs);
	if (!requests)
		return;
	debugfs_create_atomic_t("fault_io_errors", 0600, dir,
				&dev->faults.io_errors);
	debugfs_create_atomic_t("fault_corrupt_descriptors", 0600, dir,
				&dev->faults.corrupt);
}

/**
 * pvchan_gqueue_account() - count a completed request in the queue's
 * latency histograms, split by stage.
 * @q: the queue.
 * @submit_ns: ktime_get_ns() when the request was put on the ring.
 * @cqe: its completion (host stage times with PVCHAN_F_STAGE_TIMES).
 *
 * Context: any.
 */
void pvchan_gqueue_account(struct pvchan_gqueue *q, u64 submit_ns,
			   const struct pvchan_cqe *cqe)
{
	struct pvchan_gqueue_stats *s = &q->stats;
	u64 total = ktime_get_ns() - submit_ns;
	u32 backend = le32_to_cpu(cqe->host_backend_ns);
	u32 post = le32_to_cpu(cqe->host_post_ns);

	pvchan_hist_add(&s->lat_total, total);
	if (!(pvchan_chan.features & BIT_ULL(PVCHAN_F_STAGE_TIMES)))
		return;
	pvchan_hist_add(&s->lat_host_backend, backend);
	pvchan_hist_add(&s->lat_host_post, post);
	pvchan_hist_add(&s->lat_channel,
			pvchan_channel_ns(total, backend, post));
}

/**
 * pvchan_gqueue_destroy() - stop a queue: the host lets go of the ring
 * before it is freed.
 * @q: queue set up by pvchan_gqueue_init().
 */
void pvchan_gqueue_destroy(struct pvchan_gqueue *q)
{
	pvchan_irq_teardown(q);
	/* A hot-removed device's queues are gone on the host already. */
	if (!q->dev->gone)
		pvchan_hc(PVCHAN_HC_QUEUE_RESET, q->dev->index, q->index, 0,
			  0);
	pvchan_gring_free(&q->ring);
}
