/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version shims for pvchan_guest, chosen by probing the target's
 * headers in Kbuild (PVCHAN_HAVE_* defines), not by version number.
 * Force-included into every file of the module.
 */
#ifndef _PVCHAN_GUEST_COMPAT_H
#define _PVCHAN_GUEST_COMPAT_H

#include <linux/version.h>

#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "pvchan_guest needs Linux 6.1 or later"
#endif

#ifndef CONFIG_X86_64
#error "pvchan_guest supports x86_64 KVM guests only"
#endif

#include <linux/clocksource.h>
#include <linux/timekeeping.h>

/*
 * A cross-timestamp's system counter value names its clocksource by
 * pointer (6.1) or, later, by ID (system_counterval_t.cs_id), the TSC's
 * being CSID_X86_TSC; a TSC clocksource then carries that ID.
 */
#ifdef PVCHAN_HAVE_COUNTERVAL_CS_PTR
#define PVCHAN_CSID_TSC		CSID_GENERIC

static inline void pvchan_counterval(struct system_counterval_t *sc,
				     u64 cycles, struct clocksource *cs)
{
	*sc = (struct system_counterval_t){ .cycles = cycles, .cs = cs };
}
#else
#define PVCHAN_CSID_TSC		CSID_X86_TSC

static inline void pvchan_counterval(struct system_counterval_t *sc,
				     u64 cycles, struct clocksource *cs)
{
	*sc = (struct system_counterval_t){ .cycles = cycles, .cs_id = cs->id };
}
#endif

#include <linux/blk-mq.h>

/*
 * A disk's queue limits are given whole when it is allocated since v6.9
 * ("block: add an API to atomically update queue limits"); before, one
 * setter per limit after allocation.  The write cache and FUA became
 * limits features in v6.11 ("block: move cache control settings out of
 * queue->flags").
 */
#ifdef PVCHAN_HAVE_QUEUE_LIMITS_UPDATE
static inline struct gendisk *
pvchan_blk_mq_alloc_disk(struct blk_mq_tag_set *set, struct queue_limits *lim,
			 bool wc, bool fua, void *data)
{
	struct gendisk *disk;

#ifdef PVCHAN_HAVE_BLK_FEAT_WRITE_CACHE
	if (wc)
		lim->features |= BLK_FEAT_WRITE_CACHE;
	if (wc && fua)
		lim->features |= BLK_FEAT_FUA;
#endif
	disk = blk_mq_alloc_disk(set, lim, data);
#ifndef PVCHAN_HAVE_BLK_FEAT_WRITE_CACHE
	if (!IS_ERR(disk))
		blk_queue_write_cache(disk->queue, wc, fua);
#endif
	return disk;
}
#else
static inline struct gendisk *
pvchan_blk_mq_alloc_disk(struct blk_mq_tag_set *set, struct queue_limits *lim,
			 bool wc, bool fua, void *data)
{
	struct request_queue *q;
	struct gendisk *disk;

	disk = blk_mq_alloc_disk(set, data);
	if (IS_ERR(disk))
		return disk;
	q = disk->queue;
	/* The logical block size first: the other setters round to it. */
	blk_queue_logical_block_size(q, lim->logical_block_size);
	blk_queue_physical_block_size(q, lim->physical_block_size);
	blk_queue_max_segments(q, lim->max_segments);
	blk_queue_max_segment_size(q, lim->max_segment_size);
	blk_queue_max_hw_sectors(q, lim->max_hw_sectors);
	blk_queue_dma_alignment(q, lim->dma_alignment);
	blk_queue_max_discard_sectors(q, lim->max_hw_discard_sectors);
	if (lim->max_discard_segments)
		blk_queue_max_discard_segments(q, lim->max_discard_segments);
	q->limits.discard_granularity = lim->discard_granularity;
	blk_queue_max_write_zeroes_sectors(q, lim->max_write_zeroes_sectors);
	blk_queue_write_cache(q, wc, fua);
	return disk;
}
#endif

#endif /* _PVCHAN_GUEST_COMPAT_H */
