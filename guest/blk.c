// SPDX-License-Identifier: GPL-2.0
/*
 * Block device driver (PVCHAN_DEV_BLK): a blk-mq disk, "pvda", "pvdb", ...,
 * with one hardware queue per pvchan queue.
 *
 * A READ or WRITE goes to the host as a segment table (struct pvchan_seg,
 * guest physical addresses) in a per-request buffer; FLUSH, DISCARD and
 * WRITE_ZEROES carry no data.  The request id is a guest-wide sequence
 * number shifted left by PVCHAN_BLK_TAG_BITS, with the blk-mq tag in the low
 * bits: the completion finds its request from the id, and the full id,
 * remembered in the request, rejects completions the host makes up.
 *
 * No I/O hangs on a host that stops answering: a request that times out
 * has its queue reset by a work item (pvchan_gqueue_restart(), after which
 * the host holds no request of that ring), which sends the queue's requests
 * back to blk-mq to be issued again, or fails those that have timed out
 * PVCHAN_BLK_MAX_TIMEOUTS times.  If the host refuses the restart, the
 * queue is dead and fails its requests at once.  A host that is gone
 * (pvchanctl killed) is main.c's: requests wait for the reconnection, which
 * issues them again (pvchan_blk_reconnect()), or for reconnect_timeout,
 * when the disk is removed and they fail.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/idr.h>
#include <linux/io.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/nospec.h>
#include <linux/percpu-refcount.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "pvchan_guest.h"
#include "trace.h"

#define PVCHAN_BLK_NAME		"pvd"
#define PVCHAN_BLK_PART_BITS	4	/* minors per disk: 16 */
#define PVCHAN_BLK_MAX_INDEX	((1 << (MINORBITS - PVCHAN_BLK_PART_BITS)) - 1)
#define PVCHAN_BLK_MAX_SEGS	128
#define PVCHAN_BLK_MAX_SEG_SIZE	SZ_1M
#define PVCHAN_BLK_MAX_SECTORS	2048	/* 1 MiB per READ/WRITE */
#define PVCHAN_BLK_MAX_TIMEOUTS	3
#define PVCHAN_BLK_TAG_BITS	16
#define PVCHAN_BLK_TAG_MASK	((1U << PVCHAN_BLK_TAG_BITS) - 1)

static_assert(PVCHAN_BLK_SECTOR_SHIFT == SECTOR_SHIFT);
/* Every tag of a ring-sized tag set fits in the low bits of a request id. */
static_assert(PVCHAN_RING_MAX_SIZE - 1 <= PVCHAN_BLK_TAG_MASK);

static unsigned int io_timeout = 30;
module_param(io_timeout, uint, 0444);
MODULE_PARM_DESC(io_timeout,
		 "Seconds before a block request is retried (1-3600, default 30)");

static DEFINE_IDA(pvchan_blk_index_ida);

/* The "pvd" major is registered while at least one disk exists. */
static DEFINE_MUTEX(pvchan_blk_major_lock);
static int pvchan_blk_major;
static unsigned int pvchan_blk_major_users;

/**
 * struct pvchan_blk_req - per-request driver data (blk-mq pdu).
 * @req_id: id of the request while it is on the ring, 0 otherwise; only a
 *	completion carrying this id completes the request.
 * @submit_ns: when it was put on the ring (latency histograms).
 * @status: status for pvchan_blk_complete_rq().
 * @timeouts: times the request timed out since blk-mq handed it over.
 * @segs: segment table the host reads; physically contiguous.
 * @sg: scatterlist, max_segs entries.
 *
 * @req_id and @timeouts are protected by the lock of the request's queue
 * (struct pvchan_gqueue.lock): the completion interrupt, the timeout
 * handler and the reset work all decide a request's fate under it, and
 * touch the fields only while the request is MQ_RQ_IN_FLIGHT.  @timeouts
 * survives a requeue by the reset work and is cleared where the request
 * ends: pvchan_blk_complete_rq() and the dead-queue error of queue_rq (the
 * only error a requeued request can meet; it has no timeouts otherwise).
 */
struct pvchan_blk_req {
	u64 req_id;
	u64 submit_ns;
	blk_status_t status;
	unsigned int timeouts;
	struct pvchan_seg *segs;
	struct scatterlist sg[];
};

/**
 * struct pvchan_blk_queue - block state of one pvchan queue.
 * @blk: owner.
 * @gq: the pvchan queue (hardware queue @gq->index).
 * @reset_work: recovery after a timeout.
 * @dead: the host refused to restart the queue; protected by @gq->lock.
 * @resets: recoveries (reset work runs, reconnections).
 * @requeued: requests taken back from the host and issued again.
 * @ops: requests submitted, by PVCHAN_BLK_OP_*.
 * @bytes: bytes the host reported done in successful completions.
 * @errors: completions with an error status from the host.
 */
struct pvchan_blk_queue {
	struct pvchan_blk *blk;
	struct pvchan_gqueue *gq;
	struct work_struct reset_work;
	bool dead;
	atomic64_t resets;
	atomic64_t requeued;
	atomic64_t ops[PVCHAN_BLK_OP_WRITE_ZEROES + 1];
	atomic64_t bytes;
	atomic64_t errors;
};

/**
 * struct pvchan_blk - a pvchan block device.
 * @dev: pvchan device.
 * @disk: the disk.
 * @tag_set: blk-mq tag set, one hardware queue per pvchan queue.
 * @wq: ordered workqueue for the reset work of all queues.
 * @dbg: debugfs directory.
 * @index: disk index (name and minors).
 * @max_segs: segments per request.
 * @serial: serial number from the host, printable characters only.
 * @capacity_changes: capacity changes announced by the host and applied
 *	(written by the event work only).
 * @reconnects: sessions resumed after the host was lost (written by the
 *	link work only).
 * @queues: per queue state.
 */
struct pvchan_blk {
	struct pvchan_gdev *dev;
	struct gendisk *disk;
	struct blk_mq_tag_set tag_set;
	struct workqueue_struct *wq;
	struct dentry *dbg;
	int index;
	unsigned int max_segs;
	char serial[PVCHAN_BLK_SERIAL_LEN + 1];
	u64 capacity_changes;
	u64 reconnects;
	struct pvchan_blk_queue queues[];
};

/* Limits from the host's config and features, checked. */
struct pvchan_blk_limits {
	u64 capacity;
	unsigned int lbs;
	unsigned int pbs;
	unsigned int max_segs;
	unsigned int max_seg_size;
	unsigned int max_discard;
	unsigned int discard_granularity;
	unsigned int max_write_zeroes;
	bool ro;
	bool flush;
	bool fua;
};

static int pvchan_blk_get_major(void)
{
	int ret = 0;

	mutex_lock(&pvchan_blk_major_lock);
	if (!pvchan_blk_major_users) {
		ret = register_blkdev(0, PVCHAN_BLK_NAME);
		if (ret < 0)
			goto out_unlock;
		pvchan_blk_major = ret;
		ret = 0;
	}
	pvchan_blk_major_users++;
out_unlock:
	mutex_unlock(&pvchan_blk_major_lock);
	return ret;
}

static void pvchan_blk_put_major(void)
{
	mutex_lock(&pvchan_blk_major_lock);
	if (!--pvchan_blk_major_users)
		unregister_blkdev(pvchan_blk_major, PVCHAN_BLK_NAME);
	mutex_unlock(&pvchan_blk_major_lock);
}

/*
 * Disk name for @index: "pvda".."pvdz", "pvdaa".."pvdzz", "pvdaaa"...  The
 * letters are a bijective base-26 number, as for virtio_blk's "vda".
 */
static int pvchan_blk_disk_name(char *buf, size_t size, int index)
{
	char letters[DISK_NAME_LEN];
	char *p = letters + sizeof(letters);

	*--p = '\0';
	do {
		if (p == letters)
			return -EINVAL;
		*--p = 'a' + index % 26;
		index = index / 26 - 1;
	} while (index >= 0);
	if (snprintf(buf, size, PVCHAN_BLK_NAME "%s", p) >= (int)size)
		return -EINVAL;
	return 0;
}

/* Up to PVCHAN_BLK_SERIAL_LEN bytes, up to a NUL; printable ASCII only. */
static void pvchan_blk_copy_serial(char *dst, const u8 *src)
{
	unsigned int i, n = 0;

	for (i = 0; i < PVCHAN_BLK_SERIAL_LEN && src[i]; i++)
		if (isascii(src[i]) && isprint(src[i]))
			dst[n++] = src[i];
	dst[n] = '\0';
}

/* A DISCARD or WRITE_ZEROES limit: whole logical blocks, bio-sized. */
static unsigned int pvchan_blk_range_limit(u32 sectors, unsigned int lbs)
{
	/* A bio's size in bytes is 32 bits. */
	sectors = min_t(u32, sectors, UINT_MAX >> SECTOR_SHIFT);
	return round_down(sectors, lbs >> SECTOR_SHIFT);
}

/*
 * Never trust the config blindly (virtio_blk style): every value the host
 * gives is checked, and a bad one replaced by a safe default.
 */
static void pvchan_blk_parse_config(struct pvchan_gdev *dev,
				    const struct pvchan_blk_config *cfg,
				    struct pvchan_blk_limits *lim)
{
	u64 features = le64_to_cpu(dev->desc.features);
	u32 v;

	/* i_size of the block device is a loff_t. */
	lim->capacity = min_t(u64, le64_to_cpu(cfg->capacity),
			      MAX_LFS_FILESIZE >> SECTOR_SHIFT);

	v = le32_to_cpu(cfg->logical_block_size);
	lim->lbs = is_power_of_2(v) && v >= SECTOR_SIZE && v <= PAGE_SIZE ?
		   v : SECTOR_SIZE;
	v = le32_to_cpu(cfg->physical_block_size);
	lim->pbs = is_power_of_2(v) && v >= lim->lbs ? v : lim->lbs;
	/* No partial logical block at the end. */
	lim->capacity = round_down(lim->capacity, lim->lbs >> SECTOR_SHIFT);

	/* Both the descriptor and the config bound the segments. */
	v = min_t(u32, le32_to_cpu(cfg->max_segs),
		  le16_to_cpu(dev->desc.max_segs));
	/* We need at least one segment, whatever they say. */
	lim->max_segs = clamp_t(u32, v, 1, PVCHAN_BLK_MAX_SEGS);
	v = clamp_t(u32, le32_to_cpu(cfg->max_seg_size), PAGE_SIZE,
		    PVCHAN_BLK_MAX_SEG_SIZE);
	/* The ABI wants whole sectors in each segment. */
	lim->max_seg_size = round_down(v, SECTOR_SIZE);

	lim->ro = features & BIT_ULL(PVCHAN_BLK_F_RO);
	lim->flush = features & BIT_ULL(PVCHAN_BLK_F_FLUSH);
	/* Without a volatile cache every write is durable: FUA is moot. */
	lim->fua = lim->flush && (features & BIT_ULL(PVCHAN_BLK_F_FUA));

	lim->max_discard = 0;
	lim->discard_granularity = 0;
	if (features & BIT_ULL(PVCHAN_BLK_F_DISCARD)) {
		v = le32_to_cpu(cfg->max_discard_sectors);
		lim->max_discard = pvchan_blk_range_limit(v, lim->lbs);
		/*
		 * blk-lib rounds with the granularity (a power of two, at
		 * least a sector), and cannot split a discard into pieces
		 * smaller than it.
		 */
		v = le32_to_cpu(cfg->discard_granularity);
		if (!is_power_of_2(v) || v < lim->lbs ||
		    v > (u64)lim->max_discard << SECTOR_SHIFT)
			v = lim->lbs;
		lim->discard_granularity = v;
	}
	lim->max_write_zeroes = 0;
	if (features & BIT_ULL(PVCHAN_BLK_F_WRITE_ZEROES)) {
		v = le32_to_cpu(cfg->max_write_zeroes_sectors);
		lim->max_write_zeroes = pvchan_blk_range_limit(v, lim->lbs);
	}
}

/* The block layer's limits for @lim. */
static void pvchan_blk_queue_limits(struct queue_limits *ql,
				    const struct pvchan_blk_limits *lim)
{
	u64 max_bytes = (u64)lim->max_segs * lim->max_seg_size;

	memset(ql, 0, sizeof(*ql));
	ql->logical_block_size = lim->lbs;
	ql->physical_block_size = lim->pbs;
	ql->max_segments = lim->max_segs;
	ql->max_segment_size = lim->max_seg_size;
	ql->max_hw_sectors = min_t(u64, max_bytes >> SECTOR_SHIFT,
				   PVCHAN_BLK_MAX_SECTORS);
	/* Sector-aligned buffers, so every segment is whole sectors. */
	ql->dma_alignment = SECTOR_SIZE - 1;
	if (lim->max_discard) {
		ql->max_hw_discard_sectors = lim->max_discard;
		/* One range per request: sqe.args[0] and args[1]. */
		ql->max_discard_segments = 1;
		ql->discard_granularity = lim->discard_granularity;
	}
	ql->max_write_zeroes_sectors = lim->max_write_zeroes;
}

/* Fill @req's segment table; returns the number of segments. */
static int pvchan_blk_map(struct pvchan_blk *blk, struct request *rq,
			  struct pvchan_blk_req *req)
{
	struct scatterlist *sg;
	int nsegs, i;

	nsegs = blk_rq_map_sg(rq->q, rq, req->sg);
	/* blk-mq split the request to the queue limits. */
	if (WARN_ON_ONCE(nsegs <= 0 || nsegs > blk->max_segs))
		return 0;
	for_each_sg(req->sg, sg, nsegs, i) {
		req->segs[i].addr = cpu_to_le64(sg_phys(sg));
		req->segs[i].len = cpu_to_le32(sg->length);
		req->segs[i].flags = 0;
	}
	return nsegs;
}

static blk_status_t pvchan_blk_queue_rq(struct blk_mq_hw_ctx *hctx,
					const struct blk_mq_queue_data *bd)
{
	struct pvchan_blk *blk = hctx->queue->queuedata;
	struct pvchan_blk_queue *bq = &blk->queues[hctx->queue_num];
	struct pvchan_gqueue *gq = bq->gq;
	struct request *rq = bd->rq;
	struct pvchan_blk_req *req = blk_mq_rq_to_pdu(rq);
	u64 sector = 0, nr_sectors = 0, addr = 0, req_id;
	struct pvchan_sqe *sqe;
	unsigned long flags;
	u16 op, sqe_flags = 0;
	bool notify;
	u32 len = 0;
	int nsegs;

	blk_mq_start_request(rq);

	switch (req_op(rq)) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
		op = req_op(rq) == REQ_OP_READ ? PVCHAN_BLK_OP_READ :
						 PVCHAN_BLK_OP_WRITE;
		nsegs = pvchan_blk_map(blk, rq, req);
		if (!nsegs)
			return BLK_STS_IOERR;
		sqe_flags = PVCHAN_SQE_F_INDIRECT;
		if (op == PVCHAN_BLK_OP_WRITE && (rq->cmd_flags & REQ_FUA))
			sqe_flags |= PVCHAN_SQE_F_FUA;
		addr = virt_to_phys(req->segs);
		len = nsegs * sizeof(struct pvchan_seg);
		sector = blk_rq_pos(rq);
		break;
	case REQ_OP_FLUSH:
		/* No arguments: a flush request's position is not a sector. */
		op = PVCHAN_BLK_OP_FLUSH;
		break;
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		op = req_op(rq) == REQ_OP_DISCARD ? PVCHAN_BLK_OP_DISCARD :
						    PVCHAN_BLK_OP_WRITE_ZEROES;
		sector = blk_rq_pos(rq);
		nr_sectors = blk_rq_sectors(rq);
		break;
	default:
		return BLK_STS_NOTSUPP;
	}

	/* Injected fault: the request fails before it reaches the ring. */
	if (pvchan_gfault(&gq->dev->faults.io_errors,
			  &gq->stats.fault_io_errors))
		return BLK_STS_IOERR;
	spin_lock_irqsave(&gq->lock, flags);
	if (bq->dead) {
		/* blk-mq ends it: the tag's next request starts afresh. */
		req->timeouts = 0;
		spin_unlock_irqrestore(&gq->lock, flags);
		return BLK_STS_IOERR;
	}
	sqe = pvchan_gring_next_sqe(&gq->ring);
	if (!sqe) {
		spin_unlock_irqrestore(&gq->lock, flags);
		return BLK_STS_DEV_RESOURCE;
	}
	req_id = (pvchan_new_req_id() << PVCHAN_BLK_TAG_BITS) | (u32)rq->tag;
	req->req_id = req_id;
	req->submit_ns = ktime_get_ns();
	sqe->req_id = cpu_to_le64(req_id);
	sqe->opcode = cpu_to_le16(op);
	sqe->flags = cpu_to_le16(sqe_flags);
	sqe->len = cpu_to_le32(len);
	sqe->addr = cpu_to_le64(addr);
	sqe->args[0] = cpu_to_le64(sector);
	sqe->args[1] = cpu_to_le64(nr_sectors);
	/* Injected fault: a garbled descriptor (the host refuses it). */
	if (pvchan_gfault(&gq->dev->faults.corrupt, &gq->stats.fault_corrupted))
		sqe->opcode = cpu_to_le16(op ^ 0x8000);
	atomic64_inc(&gq->stats.submitted);
	atomic64_inc(&bq->ops[op]);
	trace_pvchan_guest_req_submit(gq->dev->index, gq->index, req_id, op);
	notify = bd->last && pvchan_gqueue_kick_prepare(gq);
	spin_unlock_irqrestore(&gq->lock, flags);
	/* Quiescing the queue (pvchan_blk_recover()) waits for this too. */
	if (notify)
		pvchan_gqueue_notify(gq);
	return BLK_STS_OK;
}

/* blk-mq queued requests without bd->last and will not send more now. */
static void pvchan_blk_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct pvchan_blk *blk = hctx->queue->queuedata;
	struct pvchan_blk_queue *bq = &blk->queues[hctx->queue_num];
	unsigned long flags;
	bool notify;

	spin_lock_irqsave(&bq->gq->lock, flags);
	notify = !bq->dead && pvchan_gqueue_kick_prepare(bq->gq);
	spin_unlock_irqrestore(&bq->gq->lock, flags);
	if (notify)
		pvchan_gqueue_notify(bq->gq);
}

/* Completion callback of every queue: hard irq, gq->lock held. */
static void pvchan_blk_complete(struct pvchan_gqueue *gq,
				const struct pvchan_cqe *cqe)
{
	struct pvchan_blk *blk = gq->dev->priv;
	u64 req_id = le64_to_cpu(cqe->req_id);
	unsigned int tag = req_id & PVCHAN_BLK_TAG_MASK;
	struct pvchan_blk_req *req = NULL;
	struct request *rq = NULL;
	blk_status_t status;

	/* The host chose the tag: bound it, also under speculation. */
	if (tag < blk->tag_set.queue_depth) {
		tag = array_index_nospec(tag, blk->tag_set.queue_depth);
		rq = blk_mq_tag_to_rq(blk->tag_set.tags[gq->index], tag);
	}
	if (rq && blk_mq_rq_state(rq) == MQ_RQ_IN_FLIGHT)
		req = blk_mq_rq_to_pdu(rq);
	if (!req || req->req_id != req_id) {
		pvchan_gqueue_bad_cqe(gq, req_id);
		return;
	}

	switch (le32_to_cpu(cqe->status)) {
	case PVCHAN_ST_OK:
		status = BLK_STS_OK;
		if ((req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE) &&
		    le32_to_cpu(cqe->len) != blk_rq_bytes(rq)) {
			pvchan_host_err("dev%u q%u: request %llu: %u of %u bytes done\n",
					gq->dev->index, gq->index, req_id,
					le32_to_cpu(cqe->len), blk_rq_bytes(rq));
			status = BLK_STS_IOERR;
		}
		break;
	case PVCHAN_ST_UNSUPP:
		/*
		 * Optional operations may be refused; reads and writes never:
		 * the request was garbled, an I/O error.
		 */
		status = req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE ?
			 BLK_STS_IOERR : BLK_STS_NOTSUPP;
		break;
	default:
		status = BLK_STS_IOERR;
		break;
	}
	req->status = status;
	if (le32_to_cpu(cqe->status) == PVCHAN_ST_OK)
		atomic64_add(le32_to_cpu(cqe->len), &blk->queues[gq->index].bytes);
	else
		atomic64_inc(&blk->queues[gq->index].errors);
	pvchan_gqueue_account(gq, req->submit_ns, cqe);
	/* Off the ring: a repeated completion no longer matches. */
	req->req_id = 0;
	if (likely(!blk_should_fake_timeout(rq->q)))
		blk_mq_complete_request(rq);
}

static void pvchan_blk_complete_rq(struct request *rq)
{
	struct pvchan_blk_req *req = blk_mq_rq_to_pdu(rq);

	/* The request ends; the tag's next request starts afresh. */
	req->timeouts = 0;
	blk_mq_end_request(rq, req->status);
}

static enum blk_eh_timer_return pvchan_blk_timeout(struct request *rq)
{
	struct pvchan_blk *blk = rq->q->queuedata;
	struct pvchan_blk_queue *bq = &blk->queues[rq->mq_hctx->queue_num];
	struct pvchan_blk_req *req = blk_mq_rq_to_pdu(rq);
	unsigned int timeouts = 0, reaped;
	unsigned long flags;
	u64 req_id = 0;

	/* The host is gone: the reconnection resubmits, or fails, it. */
	if (pvchan_channel_lost())
		return BLK_EH_RESET_TIMER;
	spin_lock_irqsave(&bq->gq->lock, flags);
	/* Its completion may be on the ring, its interrupt lost: look. */
	reaped = pvchan_gqueue_reap(bq->gq);
	/* The completion may have won the race with the timer. */
	if (blk_mq_rq_state(rq) == MQ_RQ_IN_FLIGHT) {
		timeouts = ++req->timeouts;
		req_id = req->req_id;
	}
	spin_unlock_irqrestore(&bq->gq->lock, flags);
	if (!timeouts) {
		if (reaped) {
			atomic64_inc(&bq->gq->stats.lost_irqs);
			pvchan_host_err("%s: q%u: completion found on the ring at timeout (interrupt lost?)\n",
					blk->disk->disk_name, bq->gq->index);
		}
		return BLK_EH_DONE;
	}

	atomic64_inc(&bq->gq->stats.timeouts);
	pvchan_host_err("%s: q%u: request %llu timed out (%u of %u), resetting the queue\n",
			blk->disk->disk_name, bq->gq->index, req_id, timeouts,
			PVCHAN_BLK_MAX_TIMEOUTS);
	queue_work(blk->wq, &bq->reset_work);
	/* The reset work requeues or fails the request. */
	return BLK_EH_RESET_TIMER;
}

/*
 * Reset work, for each started request of the tag set: take the requests
 * of the reset queue back from the ring, then requeue them, or fail those
 * that timed out too often (or all, if the queue is dead).
 */
static bool pvchan_blk_reset_rq(struct request *rq, void *data)
{
	struct pvchan_blk_queue *bq = data;
	struct pvchan_blk_req *req = blk_mq_rq_to_pdu(rq);
	unsigned long flags;
	bool fail;

	if (rq->mq_hctx->queue_num != bq->gq->index)
		return true;
	spin_lock_irqsave(&bq->gq->lock, flags);
	/* Completed meanwhile: not ours to touch any more. */
	if (blk_mq_rq_state(rq) != MQ_RQ_IN_FLIGHT) {
		spin_unlock_irqrestore(&bq->gq->lock, flags);
		return true;
	}
	/* A late completion for the old id must not complete it again. */
	req->req_id = 0;
	fail = bq->dead || req->timeouts >= PVCHAN_BLK_MAX_TIMEOUTS;
	spin_unlock_irqrestore(&bq->gq->lock, flags);

	if (fail) {
		req->status = BLK_STS_IOERR;
		blk_mq_complete_request(rq);
	} else {
		atomic64_inc(&bq->requeued);
		blk_mq_requeue_request(rq, false);
	}
	return true;
}

/*
 * Take a queue's requests back from the host: complete those it finished,
 * restart the ring, then requeue (or fail, see pvchan_blk_reset_rq()) the
 * others.  Called by the reset work, or by the reconnection with the
 * reset work flushed; either way only one at a time.
 *
 * Return: 0, or -ENOTCONN if the host is gone and a reconnection will come:
 * the requests then stay in flight, for it to resubmit.
 */
static int pvchan_blk_recover(struct pvchan_blk_queue *bq)
{
	struct pvchan_blk *blk = bq->blk;
	struct request_queue *q = blk->disk->queue;
	struct pvchan_gqueue *gq = bq->gq;
	unsigned long flags;
	int ret = 0;

	atomic64_inc(&bq->resets);
	blk_mq_quiesce_queue(q);
	spin_lock_irqsave(&gq->lock, flags);
	pvchan_gqueue_reap(gq);
	spin_unlock_irqrestore(&gq->lock, flags);
	if (!bq->dead) {
		ret = pvchan_gqueue_restart(gq);
		if (ret == -ENOTCONN && pvchan_channel_resumable())
			goto out;
	}
	if (ret) {
		pvchan_host_err("%s: q%u: host refused to restart the queue, failing its I/O\n",
				blk->disk->disk_name, gq->index);
		spin_lock_irqsave(&gq->lock, flags);
		bq->dead = true;
		spin_unlock_irqrestore(&gq->lock, flags);
		ret = 0;
	}
	/* The host holds no request of the ring now: take them all back. */
	blk_mq_tagset_busy_iter(&blk->tag_set, pvchan_blk_reset_rq, bq);
out:
	blk_mq_unquiesce_queue(q);
	blk_mq_kick_requeue_list(q);
	return ret;
}

static void pvchan_blk_reset_work(struct work_struct *work)
{
	struct pvchan_blk_queue *bq = container_of(work,
						   struct pvchan_blk_queue,
						   reset_work);
	struct request_queue *q = bq->blk->disk->queue;

	/*
	 * As nbd's recv_work does: hold q_usage_counter so that del_gendisk()
	 * cannot tear the queue down before this work is done with it.  If
	 * the count is zero the queue is drained and there is nothing to
	 * recover.
	 */
	if (!percpu_ref_tryget(&q->q_usage_counter))
		return;
	pvchan_blk_recover(bq);
	percpu_ref_put(&q->q_usage_counter);
}

static int pvchan_blk_init_request(struct blk_mq_tag_set *set,
				   struct request *rq, unsigned int hctx_idx,
				   unsigned int numa_node)
{
	struct pvchan_blk *blk = set->driver_data;
	struct pvchan_blk_req *req = blk_mq_rq_to_pdu(rq);

	/*
	 * kmalloc memory is physically contiguous, and a power-of-two size
	 * up to a page is naturally aligned: the table never crosses a page.
	 */
	req->segs = kmalloc_array_node(roundup_pow_of_two(blk->max_segs),
				       sizeof(*req->segs), GFP_KERNEL,
				       numa_node);
	if (!req->segs)
		return -ENOMEM;
	req->req_id = 0;
	req->timeouts = 0;
	req->status = BLK_STS_OK;
	sg_init_table(req->sg, blk->max_segs);
	return 0;
}

static void pvchan_blk_exit_request(struct blk_mq_tag_set *set,
				    struct request *rq, unsigned int hctx_idx)
{
	struct pvchan_blk_req *req = blk_mq_rq_to_pdu(rq);

	kfree(req->segs);
}

static const struct blk_mq_ops pvchan_blk_mq_ops = {
	.queue_rq = pvchan_blk_queue_rq,
	.commit_rqs = pvchan_blk_commit_rqs,
	.complete = pvchan_blk_complete_rq,
	.timeout = pvchan_blk_timeout,
	.init_request = pvchan_blk_init_request,
	.exit_request = pvchan_blk_exit_request,
};

static const struct block_device_operations pvchan_blk_fops = {
	.owner = THIS_MODULE,
};

static ssize_t serial_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct pvchan_blk *blk = dev_to_disk(dev)->private_data;

	return sysfs_emit(buf, "%s\n", blk->serial);
}
static DEVICE_ATTR_RO(serial);

static struct attribute *pvchan_blk_attrs[] = {
	&dev_attr_serial.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pvchan_blk);

static int pvchan_blk_stats_show(struct seq_file *m, void *unused)
{
	struct pvchan_blk_queue *bq = m->private;

	static const char * const names[] = {
		[PVCHAN_BLK_OP_READ] = "read",
		[PVCHAN_BLK_OP_WRITE] = "write",
		[PVCHAN_BLK_OP_FLUSH] = "flush",
		[PVCHAN_BLK_OP_DISCARD] = "discard",
		[PVCHAN_BLK_OP_WRITE_ZEROES] = "write_zeroes",
	};
	unsigned int i;

	pvchan_gqueue_stats_show(m, bq->gq);
	seq_printf(m, "resets %lld\n", atomic64_read(&bq->resets));
	seq_printf(m, "requeued %lld\n", atomic64_read(&bq->requeued));
	seq_printf(m, "bytes %lld\n", atomic64_read(&bq->bytes));
	seq_printf(m, "errors %lld\n", atomic64_read(&bq->errors));
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i])
			seq_printf(m, "op_%s %lld\n", names[i],
				   atomic64_read(&bq->ops[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_blk_stats);

static void pvchan_blk_debugfs_init(struct pvchan_blk *blk)
{
	struct pvchan_gdev *dev = blk->dev;
	unsigned int i;
	char name[16];

	snprintf(name, sizeof(name), "blk%u", dev->index);
	blk->dbg = debugfs_create_dir(name, pvchan_gdbg_root);
	debugfs_create_u64("capacity_changes", 0444, blk->dbg,
			   &blk->capacity_changes);
	debugfs_create_u64("reconnects", 0444, blk->dbg, &blk->reconnects);
	pvchan_gdev_debugfs_faults(dev, blk->dbg, true);
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_gqueue *gq = &dev->queues[i];

		snprintf(name, sizeof(name), "q%u", i);
		gq->dbg = debugfs_create_dir(name, blk->dbg);
		debugfs_create_file("stats", 0444, gq->dbg, &blk->queues[i],
				    &pvchan_blk_stats_fops);
	}
}

/* One pvchan queue per hardware queue, interrupts spread over the CPUs. */
static int pvchan_blk_init_queues(struct pvchan_blk *blk)
{
	struct pvchan_gdev *dev = blk->dev;
	unsigned int i, cpu;
	int ret;

	cpu = cpumask_first(cpu_online_mask);
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_blk_queue *bq = &blk->queues[i];

		bq->blk = blk;
		bq->gq = &dev->queues[i];
		INIT_WORK(&bq->reset_work, pvchan_blk_reset_work);
		bq->gq->complete = pvchan_blk_complete;
		ret = pvchan_gqueue_init(dev, bq->gq, i, cpu);
		if (ret)
			goto out_destroy;
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
	}
	return 0;

out_destroy:
	while (i--)
		pvchan_gqueue_destroy(&dev->queues[i]);
	return ret;
}

static void pvchan_blk_destroy_queues(struct pvchan_blk *blk)
{
	unsigned int i;

	for (i = 0; i < blk->dev->num_queues; i++)
		pvchan_gqueue_destroy(&blk->dev->queues[i]);
}

/**
 * pvchan_blk_probe() - set up a block device: read and check its config,
 * start its queues and add its disk.
 * @dev: device enumerated from the host, of type PVCHAN_DEV_BLK.
 *
 * The disk is usable, and its partitions scanned, when this returns.
 *
 * Context: process context; sleeps.
 * Return: 0 or a negative errno.
 */
int pvchan_blk_probe(struct pvchan_gdev *dev)
{
	struct pvchan_blk_config cfg;
	struct pvchan_blk_limits lim;
	struct blk_mq_tag_set *set;
	struct queue_limits ql;
	struct pvchan_blk *blk;
	int ret;

	/* READ and WRITE always carry a segment table. */
	if (!(pvchan_chan.features & BIT_ULL(PVCHAN_F_INDIRECT))) {
		pr_err("dev%u: block device without PVCHAN_F_INDIRECT\n",
		       dev->index);
		return -ENODEV;
	}
	ret = pvchan_dev_config(dev, &cfg, sizeof(cfg));
	if (ret)
		return ret;
	pvchan_blk_parse_config(dev, &cfg, &lim);

	blk = kzalloc(struct_size(blk, queues, dev->num_queues), GFP_KERNEL);
	if (!blk)
		return -ENOMEM;
	blk->dev = dev;
	blk->max_segs = lim.max_segs;
	pvchan_blk_copy_serial(blk->serial, cfg.serial);
	dev->priv = blk;

	ret = pvchan_blk_get_major();
	if (ret)
		goto out_free_blk;
	ret = ida_alloc_max(&pvchan_blk_index_ida, PVCHAN_BLK_MAX_INDEX,
			    GFP_KERNEL);
	if (ret < 0)
		goto out_put_major;
	blk->index = ret;
	/* Reclaim may wait for I/O that only a reset can finish. */
	blk->wq = alloc_ordered_workqueue("pvchan_blk%u", WQ_MEM_RECLAIM,
					  dev->index);
	if (!blk->wq) {
		ret = -ENOMEM;
		goto out_free_index;
	}

	/* The tag set before the queues: completions look requests up in it. */
	set = &blk->tag_set;
	set->ops = &pvchan_blk_mq_ops;
	set->nr_hw_queues = dev->num_queues;
	set->queue_depth = dev->queue_size;
	set->numa_node = NUMA_NO_NODE;
	set->flags = BLK_MQ_F_SHOULD_MERGE;
	set->cmd_size = sizeof(struct pvchan_blk_req) +
			sizeof(struct scatterlist) * lim.max_segs;
	set->timeout = clamp_val(io_timeout, 1, 3600) * HZ;
	set->driver_data = blk;
	ret = blk_mq_alloc_tag_set(set);
	if (ret)
		goto out_destroy_wq;

	ret = pvchan_blk_init_queues(blk);
	if (ret)
		goto out_free_tag_set;

	pvchan_blk_queue_limits(&ql, &lim);
	blk->disk = pvchan_blk_mq_alloc_disk(set, &ql, lim.flush, lim.fua, blk);
	if (IS_ERR(blk->disk)) {
		ret = PTR_ERR(blk->disk);
		goto out_destroy_queues;
	}
	ret = pvchan_blk_disk_name(blk->disk->disk_name, DISK_NAME_LEN,
				   blk->index);
	if (ret)
		goto out_put_disk;
	blk->disk->major = pvchan_blk_major;
	blk->disk->first_minor = blk->index << PVCHAN_BLK_PART_BITS;
	blk->disk->minors = 1 << PVCHAN_BLK_PART_BITS;
	blk->disk->fops = &pvchan_blk_fops;
	blk->disk->private_data = blk;
	set_disk_ro(blk->disk, lim.ro);
	set_capacity(blk->disk, lim.capacity);

	ret = device_add_disk(NULL, blk->disk, pvchan_blk_groups);
	if (ret)
		goto out_put_disk;

	pvchan_blk_debugfs_init(blk);
	pr_info("%s: %llu sectors, %u queues of %u, features ro=%d flush=%d fua=%d discard=%d write_zeroes=%d, serial %s\n",
		blk->disk->disk_name, lim.capacity, dev->num_queues,
		set->queue_depth, lim.ro, lim.flush, lim.fua,
		lim.max_discard != 0, lim.max_write_zeroes != 0,
		blk->serial[0] ? blk->serial : "(none)");
	return 0;

out_put_disk:
	put_disk(blk->disk);
out_destroy_queues:
	pvchan_blk_destroy_queues(blk);
out_free_tag_set:
	blk_mq_free_tag_set(set);
out_destroy_wq:
	destroy_workqueue(blk->wq);
out_free_index:
	ida_free(&pvchan_blk_index_ida, blk->index);
out_put_major:
	pvchan_blk_put_major();
out_free_blk:
	dev->priv = NULL;
	kfree(blk);
	return ret;
}

/**
 * pvchan_blk_config_changed() - apply a configuration change announced by
 * the host (PVCHAN_F_DEV_EVENTS): today, the capacity.
 * @dev: device set up by pvchan_blk_probe().
 *
 * Context: process context (the event work); sleeps.
 */
void pvchan_blk_config_changed(struct pvchan_gdev *dev)
{
	struct pvchan_blk *blk = dev->priv;
	struct pvchan_blk_config cfg;
	struct pvchan_blk_limits lim;

	if (!blk || pvchan_dev_config(dev, &cfg, sizeof(cfg)))
		return;
	pvchan_blk_parse_config(dev, &cfg, &lim);
	/* Whole blocks of the size the disk has (the host may not change it). */
	lim.capacity = round_down(lim.capacity,
				  queue_logical_block_size(blk->disk->queue) >>
				  SECTOR_SHIFT);
	if (lim.capacity == get_capacity(blk->disk))
		return;
	blk->capacity_changes++;
	/* Logs the change and sends a RESIZE=1 uevent. */
	set_capacity_and_notify(blk->disk, lim.capacity);
}

/**
 * pvchan_blk_reconnect() - the host is back: restart the disk's queues and
 * resubmit its requests in flight.
 * @dev: device set up by pvchan_blk_probe().
 *
 * Writes the host finished before it went away are completed from the
 * ring; the others are issued again, which is safe: a write not yet
 * acknowledged may be written twice, with the same data.  The disk must
 * be the same: another serial number or block size is refused.
 *
 * Context: process context (the link work, which excludes removal); sleeps.
 * Return: 0, -ENOTCONN (the host went away again) or -ENODEV.
 */
int pvchan_blk_reconnect(struct pvchan_gdev *dev)
{
	char serial[PVCHAN_BLK_SERIAL_LEN + 1];
	struct pvchan_blk *blk = dev->priv;
	struct pvchan_blk_config cfg;
	struct pvchan_blk_limits lim;
	unsigned long flags;
	unsigned int i;
	int ret;

	ret = pvchan_dev_config(dev, &cfg, sizeof(cfg));
	if (ret)
		return ret == -ENOTCONN ? ret : -ENODEV;
	pvchan_blk_parse_config(dev, &cfg, &lim);
	pvchan_blk_copy_serial(serial, cfg.serial);
	if (strcmp(serial, blk->serial) ||
	    lim.lbs != queue_logical_block_size(blk->disk->queue)) {
		pr_warn("%s: the host's disk is another one now (serial '%s', %u-byte blocks)\n",
			blk->disk->disk_name, serial, lim.lbs);
		return -ENODEV;
	}
	/* A reset work queued before the loss was seen runs first. */
	flush_workqueue(blk->wq);
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_blk_queue *bq = &blk->queues[i];

		/* A new session: a queue the old host refused may work. */
		spin_lock_irqsave(&bq->gq->lock, flags);
		bq->dead = false;
		spin_unlock_irqrestore(&bq->gq->lock, flags);
		ret = pvchan_blk_recover(bq);
		if (ret)
			return ret;
	}
	blk->reconnects++;
	pvchan_blk_config_changed(dev);
	return 0;
}

/**
 * pvchan_blk_remove() - remove a block device's disk and stop its queues.
 * @dev: device set up by pvchan_blk_probe(); with @dev->gone set (the host
 *	removed it) its requests in flight end with an I/O error.
 *
 * del_gendisk() waits for every request to end (timed out ones are retried
 * or failed by the reset work meanwhile), so no request is on a ring when
 * the host is told to let go of the queues.
 *
 * Context: process context; sleeps.
 */
void pvchan_blk_remove(struct pvchan_gdev *dev)
{
	struct pvchan_blk *blk = dev->priv;
	unsigned long flags;
	unsigned int i;

	debugfs_remove(blk->dbg);
	if (dev->gone) {
		/*
		 * Hot-removed: the host holds no request any more.  Dead
		 * queues fail new requests, and their reset work fails those
		 * in flight, so del_gendisk() has nothing to wait for.
		 */
		pr_info("%s: removed, failing its I/O\n",
			blk->disk->disk_name);
		for (i = 0; i < dev->num_queues; i++) {
			struct pvchan_blk_queue *bq = &blk->queues[i];

			spin_lock_irqsave(&bq->gq->lock, flags);
			bq->dead = true;
			spin_unlock_irqrestore(&bq->gq->lock, flags);
			queue_work(blk->wq, &bq->reset_work);
		}
		flush_workqueue(blk->wq);
	}
	del_gendisk(blk->disk);
	/*
	 * Waits for a reset work still running; one that starts now finds
	 * q_usage_counter at zero and does nothing.
	 */
	destroy_workqueue(blk->wq);
	pvchan_blk_destroy_queues(blk);
	put_disk(blk->disk);
	blk_mq_free_tag_set(&blk->tag_set);
	ida_free(&pvchan_blk_index_ida, blk->index);
	pvchan_blk_put_major();
	dev->priv = NULL;
	kfree(blk);
}
