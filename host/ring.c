// SPDX-License-Identifier: GPL-2.0
/*
 * Host side of a pvchan queue ring (layout in pvchan_abi.h): setup, reset
 * and the queue worker that consumes submissions, lets the device backend
 * serve them and posts completions.
 *
 * The ring lives in guest memory and the guest may change it at any time:
 * indices are read once per batch, checked against the ring size, and the
 * host keeps its own copies of the indices it owns.  A guest that moves
 * sq_prod by more than the ring size gets its queue marked broken (served
 * no more until it resets the queue), never a host error.
 */
#include <linux/bvec.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/sched/mm.h>
#include <linux/stddef.h>
#include <kunit/visibility.h>

#include "pvchan_host.h"
#include "trace.h"

/* Entries served per worker run before yielding to other queues. */
#define PVCHAN_QUEUE_BUDGET	64

/* Polling windows: the first one, and the largest poll_max_us takes. */
#define PVCHAN_POLL_START_NS	(10 * NSEC_PER_USEC)
#define PVCHAN_POLL_MAX_US	10000

static unsigned int poll_max_us = 50;

static int pvchan_poll_max_set(const char *val, const struct kernel_param *kp)
{
	unsigned int us;

	if (kstrtouint(val, 0, &us) || us > PVCHAN_POLL_MAX_US) {
		pr_err("poll_max_us: a number of microseconds from 0 to %u\n",
		       PVCHAN_POLL_MAX_US);
		return -EINVAL;
	}
	WRITE_ONCE(poll_max_us, us);
	return 0;
}

static const struct kernel_param_ops pvchan_poll_max_ops = {
	.set = pvchan_poll_max_set,
	.get = param_get_uint,
};
module_param_cb(poll_max_us, &pvchan_poll_max_ops, &poll_max_us, 0644);
MODULE_PARM_DESC(poll_max_us,
		 "Longest a queue worker polls an idle ring before it asks the guest for a kick, in microseconds; adaptive below it (0: never poll, at most 10000, default 50)");

static u32 pvchan_poll_max_ns(void)
{
	return READ_ONCE(poll_max_us) * NSEC_PER_USEC;
}

/**
 * pvchan_poll_adapt() - a queue's next polling window.
 * @poll_ns: the current window.
 * @gap_ns: how long the ring stayed idle after the worker asked for a kick.
 * @max_ns: the largest window (poll_max_us).
 *
 * Like KVM's halt polling: a kick that came within @max_ns of the request
 * would have been seen by a poll, so the window grows (from 10 us, doubling
 * each time); a longer gap means polling only burns CPU, and it halves (to
 * 0 below 10 us).
 *
 * Return: the new window, at most @max_ns.
 */
VISIBLE_IF_KUNIT u32 pvchan_poll_adapt(u32 poll_ns, u64 gap_ns, u32 max_ns)
{
	u64 next;

	if (gap_ns > max_ns)
		next = poll_ns / 2 < PVCHAN_POLL_START_NS ? 0 : poll_ns / 2;
	else
		next = poll_ns ? (u64)poll_ns * 2 : PVCHAN_POLL_START_NS;
	return min_t(u64, next, max_ns);
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_poll_adapt);

/**
 * pvchan_ring_check() - validate the guest-written ring indices.
 * @size: ring entries (power of two).
 * @sq_prod: guest's submission producer index, as read.
 * @sq_cons: host's submission consumer index.
 * @cq_prod: host's completion producer index.
 * @cq_cons: guest's completion consumer index, as read.
 * @pending: out, submissions waiting (valid when 0 is returned).
 *
 * Return: 0; -ERANGE if sq_prod is more than @size ahead of sq_cons (or
 * behind it); -EOVERFLOW if cq_cons is ahead of cq_prod or more than @size
 * behind it.
 */
VISIBLE_IF_KUNIT int pvchan_ring_check(u32 size, u32 sq_prod, u32 sq_cons,
				       u32 cq_prod, u32 cq_cons, u32 *pending)
{
	*pending = sq_prod - sq_cons;
	if (*pending > size)
		return -ERANGE;
	if ((u32)(cq_prod - cq_cons) > size)
		return -EOVERFLOW;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_ring_check);

static struct pvchan_vm *pvchan_queue_vm(struct pvchan_queue *q)
{
	return q->dev->vm;
}

/**
 * pvchan_segs_nr_pages() - pages needed to pin a segment table.
 * @segs: the table, lengths already checked.
 * @nsegs: entries.
 *
 * Return: the number of pages the segments touch.
 */
unsigned int pvchan_segs_nr_pages(const struct pvchan_seg *segs,
				  unsigned int nsegs)
{
	unsigned int i, n = 0;

	for (i = 0; i < nsegs; i++)
		n += DIV_ROUND_UP(offset_in_page(le64_to_cpu(segs[i].addr)) +
				  (u64)le32_to_cpu(segs[i].len), PAGE_SIZE);
	return n;
}

/**
 * pvchan_pin_segs() - pin the guest pages under a segment table and
 *	describe them, one bio_vec per page, for an iov_iter.
 * @q: the queue (its worker, with the VMM's mm in use).
 * @segs: the table as read from the guest, lengths checked non-zero.
 * @nsegs: entries.
 * @write: the host writes to the pages (the guest receives data).
 * @pages: filled with the pinned pages; release with
 *	unpin_user_pages_dirty_lock().
 * @bvec: filled, one entry per page.
 * @max_pages: room in @pages and @bvec.
 *
 * Return: the number of pages pinned, or -EFAULT (a segment outside guest
 * RAM) or -E2BIG, with nothing left pinned.
 */
int pvchan_pin_segs(struct pvchan_queue *q, const struct pvchan_seg *segs,
		    unsigned int nsegs, bool write, struct page **pages,
		    struct bio_vec *bvec, unsigned int max_pages)
{
	unsigned int i, j, npages = 0;
	int n;

	for (i = 0; i < nsegs; i++) {
		u64 gpa = le64_to_cpu(segs[i].addr);
		u32 len = le32_to_cpu(segs[i].len);
		u32 off = offset_in_page(gpa);

		n = pvchan_kvm_pin(pvchan_queue_vm(q)->kvm, gpa, len, write,
				   pages + npages, max_pages - npages);
		if (n < 0) {
			unpin_user_pages(pages, npages);
			return n;
		}
		for (j = 0; j < n; j++) {
			struct bio_vec *bv = &bvec[npages + j];
			u32 chunk = min_t(u32, len, PAGE_SIZE - off);

			bv->bv_page = pages[npages + j];
			bv->bv_offset = off;
			bv->bv_len = chunk;
			len -= chunk;
			off = 0;
		}
		npages += n;
	}
	return npages;
}

#define HDR_OFF(field)	offsetof(struct pvchan_ring_hdr, field)

static int pvchan_ring_get(struct pvchan_queue *q, size_t off, u32 *val)
{
	__le32 v;
	int ret;

	ret = pvchan_kvm_read(pvchan_queue_vm(q)->kvm, q->ring_gpa + off, &v,
			      sizeof(v));
	*val = le32_to_cpu(v);
	return ret;
}

static int pvchan_ring_put(struct pvchan_queue *q, size_t off, u32 val)
{
	__le32 v = cpu_to_le32(val);

	return pvchan_kvm_write(pvchan_queue_vm(q)->kvm, q->ring_gpa + off, &v,
				sizeof(v));
}

/**
 * pvchan_queue_init() - initialise a queue of a new device.
 * @q: the queue.
 * @dev: its device.
 * @index: its number.
 */
void pvchan_queue_init(struct pvchan_queue *q, struct pvchan_dev *dev,
		       u16 index)
{
	q->dev = dev;
	q->index = index;
	mutex_init(&q->lock);
	spin_lock_init(&q->done_lock);
	INIT_LIST_HEAD(&q->done);
	init_waitqueue_head(&q->idle);
	kthread_init_work(&q->work, pvchan_queue_work);
}

/**
 * pvchan_queue_setup() - start serving a ring.
 * @q: the queue.
 * @gpa: page-aligned ring address, already checked to be guest RAM.
 * @size: entries, a power of two.
 *
 * Called in the vCPU thread (the ring header is initialised here).
 *
 * Return: 0, -EBUSY if the queue is already active (or a reset, on another
 * vCPU, is still waiting for its I/O), -EFAULT, or -ENOMEM.
 */
int pvchan_queue_setup(struct pvchan_queue *q, u64 gpa, u32 size)
{
	struct pvchan_ring_hdr hdr = {};
	int ret = 0;

	mutex_lock(&q->lock);
	if (q->active || q->inflight || q->resetting) {
		ret = -EBUSY;
		goto out_unlock;
	}
	q->ring_gpa = gpa;
	q->size = size;
	q->sq_cons = 0;
	q->cq_prod = 0;
	q->broken = false;
	q->poll_ns = 0;
	q->idle_since = 0;
	/* Zero the host half of the header; the guest owns the other half. */
	if (pvchan_kvm_write(pvchan_queue_vm(q)->kvm, gpa + HDR_OFF(sq_cons),
			     &hdr.sq_cons,
			     sizeof(hdr) - HDR_OFF(sq_cons))) {
		ret = -EFAULT;
		goto out_unlock;
	}
	if (q->dev->ops->queue_init) {
		ret = q->dev->ops->queue_init(q);
		if (ret)
			goto out_unlock;
	}
	atomic64_set(&q->stats.depth, 0);
	WRITE_ONCE(q->active, true);
out_unlock:
	mutex_unlock(&q->lock);
	return ret;
}

static bool pvchan_queue_aio_idle(struct pvchan_queue *q)
{
	bool idle;

	spin_lock_irq(&q->done_lock);
	idle = !q->aio;
	spin_unlock_irq(&q->done_lock);
	return idle;
}

/* Release, without posting, every completed asynchronous request. */
static void pvchan_queue_drop_done(struct pvchan_queue *q)
{
	struct pvchan_req *req, *tmp;
	LIST_HEAD(done);

	lockdep_assert_held(&q->lock);
	spin_lock_irq(&q->done_lock);
	list_splice_init(&q->done, &done);
	spin_unlock_irq(&q->done_lock);
	list_for_each_entry_safe(req, tmp, &done, node) {
		q->inflight--;
		req->release(req);
	}
}

/**
 * pvchan_queue_reset() - stop serving a ring; safe on an idle queue.
 * @q: the queue.
 *
 * Waits for a running worker batch and for the backend I/O of the queue's
 * requests: when this returns no request touches guest memory any more, so
 * the guest may reuse its buffers.  Requests not completed on the ring are
 * dropped: the guest resets a queue only when it has given them up.
 */
void pvchan_queue_reset(struct pvchan_queue *q)
{
	mutex_lock(&q->lock);
	q->irq_route = 0;
	if (!q->active) {
		mutex_unlock(&q->lock);
		/*
		 * Idle, or another vCPU's reset still waits for the I/O: wait
		 * for it to end, and for a worker queued by a late kick.
		 */
		wait_event(q->idle, !READ_ONCE(q->resetting));
		kthread_flush_work(&q->work);
		return;
	}
	WRITE_ONCE(q->active, false);
	/* Until queue_free below, no setup may install new queue state. */
	q->resetting = true;
	mutex_unlock(&q->lock);

	wait_event(q->idle, pvchan_queue_aio_idle(q));
	/* The last completion queued the worker before dropping aio to 0. */
	pvchan_queue_cancel(q);

	mutex_lock(&q->lock);
	pvchan_queue_drop_done(q);
	WARN_ON_ONCE(q->inflight);
	q->inflight = 0;
	if (q->dev->ops->queue_free)
		q->dev->ops->queue_free(q);
	WRITE_ONCE(q->resetting, false);
	mutex_unlock(&q->lock);
	wake_up_all(&q->idle);
}

/**
 * pvchan_req_start() - a backend takes a request asynchronously.
 * @q: the queue.
 * @req: the backend's request; @req->release must be set.
 * @cqe: the completion prepared by the queue worker (req_id).
 *
 * Call before starting the backend I/O, then return PVCHAN_ASYNC from
 * &pvchan_dev_ops.handle.  Context: the queue worker.
 */
void pvchan_req_start(struct pvchan_queue *q, struct pvchan_req *req,
		      const struct pvchan_cqe *cqe)
{
	req->cqe = *cqe;
	req->start_ns = ktime_get_ns();
	spin_lock_irq(&q->done_lock);
	q->aio++;
	spin_unlock_irq(&q->done_lock);
}

/**
 * pvchan_queue_complete() - the backend finished an asynchronous request.
 * @q: the queue.
 * @req: started with pvchan_req_start(), @req->cqe filled in.
 *
 * Context: any (I/O completion may run in interrupt context).  The queue
 * worker posts the completion.
 */
void pvchan_queue_complete(struct pvchan_queue *q, struct pvchan_req *req)
{
	unsigned long flags;

	req->done_ns = ktime_get_ns();
	spin_lock_irqsave(&q->done_lock, flags);
	list_add_tail(&req->node, &q->done);
	/* Under the lock: a reset that sees aio == 0 finds the work queued. */
	pvchan_queue_wake(q);
	if (!--q->aio)
		wake_up(&q->idle);
	spin_unlock_irqrestore(&q->done_lock, flags);
}

static void pvchan_queue_irq(struct pvchan_queue *q)
{
	struct pvchan_vm *vm = pvchan_queue_vm(q);
	u64 route = READ_ONCE(q->irq_route);

	if (!(route & PVCHAN_ROUTE_VALID))
		return;
	if (atomic_dec_if_positive(&q->dev->fault_drop_irq) >= 0) {
		/* Injected fault: the interrupt is lost. */
		atomic64_inc(&q->stats.fault_irqs_dropped);
		return;
	}
	if (pvchan_kvm_inject(vm->kvm, route & 0xff, (u32)(route >> 8)))
		return;
	atomic64_inc(&q->stats.irqs);
	trace_pvchan_irq_inject(vm->id, q->dev->index, q->index, route & 0xff,
				(u32)(route >> 8));
}

static void pvchan_queue_break(struct pvchan_queue *q, const char *why,
			       u32 val)
{
	struct pvchan_vm *vm = pvchan_queue_vm(q);

	q->broken = true;
	pvchan_reject(vm, PVCHAN_REJ_RING_INDEX);
	pvchan_guest_dbg(vm, "dev%u q%u: %s %u, queue stopped until reset\n",
			 q->dev->index, q->index, why, val);
}

/*
 * Write a completion to the next cq slot; false if the ring is gone.
 * @start: the worker took the request; @done: the backend finished it.
 */
static bool pvchan_queue_post(struct pvchan_queue *q, struct pvchan_cqe *cqe,
			      u64 start, u64 done)
{
	struct pvchan_vm *vm = pvchan_queue_vm(q);
	u64 cq_off = PVCHAN_RING_CQ_OFF((u64)q->size) +
		     (u64)(q->cq_prod & (q->size - 1)) *
		     sizeof(struct pvchan_cqe);
	u64 now = ktime_get_ns();

	pvchan_hist_add(&q->stats.stage_backend, done - start);
	pvchan_hist_add(&q->stats.stage_post, now - done);
	if (vm->features & BIT_ULL(PVCHAN_F_STAGE_TIMES)) {
		cqe->host_backend_ns = cpu_to_le32(min_t(u64, done - start,
							 U32_MAX));
		cqe->host_post_ns = cpu_to_le32(min_t(u64, now - done,
						      U32_MAX));
	}

	if (cqe->status != cpu_to_le32(PVCHAN_ST_OK))
		atomic64_inc(&q->stats.errors);
	else
		atomic64_add(le32_to_cpu(cqe->len), &q->stats.bytes);
	if (pvchan_kvm_write(vm->kvm, q->ring_gpa + cq_off, cqe, sizeof(*cqe)))
		return false;
	q->last_cqe = *cqe;
	q->cq_prod++;
	atomic64_inc(&q->stats.completions);
	pvchan_hist_add(&q->stats.latency, now - start);
	trace_pvchan_req_complete(vm->id, q->dev->index, q->index,
				  le64_to_cpu(cqe->req_id),
				  le32_to_cpu(cqe->status), le32_to_cpu(cqe->len));
	return true;
}

/*
 * Post the asynchronous completions that arrived; returns how many, or -1
 * if the ring is gone (the rest stay for the reset to release).
 */
static int pvchan_queue_post_done(struct pvchan_queue *q)
{
	struct pvchan_req *req;
	struct pvchan_cqe cqe;
	u64 start, done;
	int n = 0;

	for (;;) {
		spin_lock_irq(&q->done_lock);
		req = list_first_entry_or_null(&q->done, struct pvchan_req,
					       node);
		if (req)
			list_del(&req->node);
		spin_unlock_irq(&q->done_lock);
		if (!req)
			return n;
		cqe = req->cqe;
		start = req->start_ns;
		done = req->done_ns;
		/* Pages unpinned (and dirtied) before the guest sees it. */
		req->release(req);
		q->inflight--;
		if (!pvchan_queue_post(q, &cqe, start, done))
			return -1;
		n++;
	}
}

/* Serve one submission entry; returns false if the ring must stop. */
static bool pvchan_queue_serve(struct pvchan_queue *q, u32 mask)
{
	struct pvchan_vm *vm = pvchan_queue_vm(q);
	u64 sq_off = PVCHAN_RING_SQ_OFF + (u64)(q->sq_cons & mask) * 64;
	struct pvchan_sqe sqe;
	struct pvchan_cqe cqe = {};
	u64 start = ktime_get_ns();
	unsigned int delay;
	int why;

	if (pvchan_kvm_read(vm->kvm, q->ring_gpa + sq_off, &sqe, sizeof(sqe)))
		return false;
	cqe.req_id = sqe.req_id;
	trace_pvchan_req_submit(vm->id, q->dev->index, q->index,
				le64_to_cpu(sqe.req_id),
				le16_to_cpu(sqe.opcode), le32_to_cpu(sqe.len));
	atomic64_inc(&q->stats.requests);
	if (le16_to_cpu(sqe.opcode) < PVCHAN_STATS_OPS)
		atomic64_inc(&q->stats.ops[le16_to_cpu(sqe.opcode)]);
	q->sq_cons++;
	if (atomic_dec_if_positive(&q->dev->fault_drop) >= 0) {
		/* Injected fault: the request is lost, never completed. */
		atomic64_inc(&q->stats.fault_dropped);
		return true;
	}
	delay = atomic_read(&q->dev->fault_delay_us);
	if (delay) {
		/* Injected fault: a slow backend. */
		delay = min_t(unsigned int, delay, USEC_PER_SEC);
		usleep_range(delay, delay + delay / 8);
	}
	if (atomic_dec_if_positive(&q->dev->fault_io_error) >= 0) {
		/* Injected fault: the backend failed the I/O. */
		atomic64_inc(&q->stats.fault_io_errors);
		cqe.status = cpu_to_le32(PVCHAN_ST_IOERR);
		return pvchan_queue_post(q, &cqe, start, ktime_get_ns());
	}
	if (atomic_dec_if_positive(&q->dev->fault_corrupt) >= 0) {
		/* Injected fault: a garbled descriptor. */
		atomic64_inc(&q->stats.fault_corrupted);
		sqe.opcode = cpu_to_le16(le16_to_cpu(sqe.opcode) ^ 0x8000);
	}
	why = q->dev->ops->handle(q, &sqe, &cqe);
	if (why == PVCHAN_ASYNC) {
		q->inflight++;
		return true;
	}
	if (why >= 0) {
		pvchan_reject(vm, why);
		pvchan_guest_dbg(vm, "dev%u q%u: request %llu refused: %s\n",
				 q->dev->index, q->index,
				 le64_to_cpu(sqe.req_id),
				 pvchan_reject_name(why));
	}
	return pvchan_queue_post(q, &cqe, start, ktime_get_ns());
}

/*
 * Publish the host's indices and raise the queue's interrupt if completions
 * were posted since *@old_cq and the guest asked for one; *@old_cq moves on.
 * Returns false if the ring is gone.
 */
static bool pvchan_queue_signal(struct pvchan_queue *q, u32 *old_cq)
{
	struct pvchan_vm *vm = pvchan_queue_vm(q);
	u32 cq_event;

	/* Completion entries before the indices covering them. */
	smp_wmb();
	if (pvchan_ring_put(q, HDR_OFF(sq_cons), q->sq_cons) ||
	    pvchan_ring_put(q, HDR_OFF(cq_prod), q->cq_prod))
		return false;
	/* Requests taken by the backend, none completed yet: no interrupt. */
	if (q->cq_prod == *old_cq)
		return true;
	/* cq_prod store before the cq_event load (guest: pvchan_gring_arm). */
	smp_mb();
	if (vm->features & BIT_ULL(PVCHAN_F_EVENT_IDX)) {
		if (pvchan_ring_get(q, HDR_OFF(cq_event), &cq_event))
			return false;
		if (!pvchan_need_event(cq_event, q->cq_prod, *old_cq)) {
			atomic64_inc(&q->stats.irq_suppressed);
			*old_cq = q->cq_prod;
			return true;
		}
	}
	*old_cq = q->cq_prod;
	pvchan_queue_irq(q);
	return true;
}

/*
 * Poll an idle ring for q->poll_ns before asking for a kick: 1 if the guest
 * submitted meanwhile, 0 if not (or the worker's CPU is wanted), -EFAULT if
 * the ring is gone.  The guest does not kick meanwhile: sq_event is behind.
 */
static int pvchan_queue_poll(struct pvchan_queue *q)
{
	u64 end, window;
	u32 sq_prod;

	/* poll_max_us lowered since the window was set: it counts at once. */
	window = min(q->poll_ns, pvchan_poll_max_ns());
	if (!window)
		return 0;
	end = ktime_get_ns() + window;
	do {
		cpu_relax();
		if (pvchan_ring_get(q, HDR_OFF(sq_prod), &sq_prod))
			return -EFAULT;
		if (sq_prod != q->sq_cons) {
			atomic64_inc(&q->stats.poll_hits);
			return 1;
		}
	} while (ktime_get_ns() < end && !need_resched());
	atomic64_inc(&q->stats.poll_misses);
	return 0;
}

/* One batch; returns true if work is left (budget used up). */
static bool pvchan_queue_batch(struct pvchan_queue *q)
{
	struct pvchan_vm *vm = pvchan_queue_vm(q);
	u32 mask = q->size - 1, old_cq = q->cq_prod, old_sq = q->sq_cons;
	u32 sq_prod, cq_cons, pending, served = 0;
	bool more = false;
	int polled;

	/* Woken after asking for a kick: adapt the polling window. */
	if (q->idle_since) {
		q->poll_ns = pvchan_poll_adapt(q->poll_ns,
					       ktime_get_ns() - q->idle_since,
					       pvchan_poll_max_ns());
		q->idle_since = 0;
	}
	for (;;) {
		if (pvchan_queue_post_done(q) < 0)
			goto out_fault;
		if (pvchan_ring_get(q, HDR_OFF(sq_prod), &sq_prod) ||
		    pvchan_ring_get(q, HDR_OFF(cq_cons), &cq_cons))
			goto out_fault;
		switch (pvchan_ring_check(q->size, sq_prod, q->sq_cons,
					  q->cq_prod, cq_cons, &pending)) {
		case -ERANGE:
			pvchan_queue_break(q, "sq_prod", sq_prod);
			goto out_stop;
		case -EOVERFLOW:
			pvchan_queue_break(q, "cq_cons", cq_cons);
			goto out_stop;
		}
		/* Injected fault: the last completion again, if there is room. */
		if (atomic_read(&q->dev->fault_dup) > 0 && q->cq_prod != old_cq &&
		    q->cq_prod + q->inflight - cq_cons < q->size &&
		    atomic_dec_if_positive(&q->dev->fault_dup) >= 0) {
			struct pvchan_cqe dup = q->last_cqe;
			u64 now = ktime_get_ns();

			atomic64_inc(&q->stats.fault_dups);
			if (!pvchan_queue_post(q, &dup, now, now))
				goto out_fault;
		}
		if ((s64)pending > atomic64_read(&q->stats.max_depth))
			atomic64_set(&q->stats.max_depth, pending);
		atomic64_set(&q->stats.depth, pending);
		if (!pending) {
			/*
			 * Requests in flight: each completion runs the worker,
			 * which looks at the ring then; the guest need not
			 * kick meanwhile (completion-driven polling).
			 */
			if (q->inflight) {
				atomic64_inc(&q->stats.kick_suppressed);
				break;
			}
			/* Idle: poll a while (no kick needed if it hits). */
			polled = pvchan_queue_poll(q);
			if (polled < 0)
				goto out_fault;
			if (polled)
				continue;
			/* Ask for a kick at the next submission, then recheck. */
			if (pvchan_ring_put(q, HDR_OFF(sq_event), q->sq_cons))
				goto out_fault;
			q->idle_since = ktime_get_ns();
			/* sq_event store before the sq_prod reload (guest: publish). */
			smp_mb();
			if (pvchan_ring_get(q, HDR_OFF(sq_prod), &sq_prod))
				goto out_fault;
			if (sq_prod == q->sq_cons)
				break;
			q->idle_since = 0;
			continue;
		}
		if (served >= PVCHAN_QUEUE_BUDGET) {
			more = true;
			break;
		}
		if (q->cq_prod + q->inflight - cq_cons >= q->size) {
			/*
			 * No completion slot for one more request: the guest
			 * must consume completions, or the backend finish.
			 */
			atomic64_inc(&q->stats.cq_full);
			break;
		}
		/* Nothing to serve it with yet: the backend wakes us. */
		if (q->dev->ops->ready && !q->dev->ops->ready(q)) {
			atomic64_inc(&q->stats.backend_waits);
			break;
		}
		if (!pvchan_queue_serve(q, mask))
			goto out_fault;
		served++;
		/*
		 * Signal every 16 entries so the guest sees progress (and can
		 * submit more) while a slow backend works through a full ring.
		 */
		if (!(served & 15) && !pvchan_queue_signal(q, &old_cq))
			goto out_fault;
	}
out_stop:
	/* Completions that arrived while the ring was read. */
	if (pvchan_queue_post_done(q) < 0)
		goto out_fault;
	if (q->sq_cons != old_sq)
		atomic64_inc(&q->stats.batches);
	if (q->sq_cons == old_sq && q->cq_prod == old_cq)
		return more;
	if (!pvchan_queue_signal(q, &old_cq))
		goto out_fault;
	return more;

out_fault:
	pvchan_reject(vm, PVCHAN_REJ_FAULT);
	pvchan_guest_dbg(vm, "dev%u q%u: ring not accessible, queue stopped\n",
			 q->dev->index, q->index);
	q->broken = true;
	return false;
}

/**
 * pvchan_queue_work() - the queue worker: serve a batch of requests.
 * @work: &pvchan_queue.work.
 *
 * Runs on the queue's worker thread with the VMM's mm borrowed; requeues
 * itself when the budget is used up so one busy queue cannot starve the
 * others on the same thread.
 */
void pvchan_queue_work(struct kthread_work *work)
{
	struct pvchan_queue *q = container_of(work, struct pvchan_queue, work);
	struct mm_struct *mm = q->dev->vm->mm;
	bool more = false;

	if (!mmget_not_zero(mm))
		return;
	kthread_use_mm(mm);
	mutex_lock(&q->lock);
	if (q->active && !q->broken)
		more = pvchan_queue_batch(q);
	mutex_unlock(&q->lock);
	kthread_unuse_mm(mm);
	mmput(mm);
	if (more)
		pvchan_queue_wake(q);
}

/**
 * pvchan_queue_wake() - have the queue's worker run a batch.
 * @q: the queue.
 *
 * Context: any (backends call it from wake-up callbacks and completions).
 */
void pvchan_queue_wake(struct pvchan_queue *q)
{
	kthread_queue_work(q->worker, &q->work);
}

/**
 * pvchan_queue_cancel() - take back a queued worker run and wait for a
 * running one to end.
 * @q: the queue.
 *
 * Context: process context, without @q->lock.
 */
void pvchan_queue_cancel(struct pvchan_queue *q)
{
	kthread_cancel_work_sync(&q->work);
}
