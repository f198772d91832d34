/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Log2 latency histograms, the same in pvchan_host and pvchan_guest so the
 * two sides' debugfs files compare line by line: "<name> le_<2^i>ns <count>"
 * for each non-empty bucket i, which counts samples below 2^i ns.
 */
#ifndef _PVCHAN_HIST_H
#define _PVCHAN_HIST_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/minmax.h>
#include <linux/seq_file.h>
#include <linux/types.h>

#define PVCHAN_HIST_BUCKETS	32	/* up to 2^31 ns, ~2 s, and above */

/**
 * struct pvchan_hist - log2 latency histogram in nanoseconds.
 * @bucket: bucket i counts samples with fls64(ns) == i (i.e. < 2^i ns); the
 *	last one also counts everything larger.
 */
struct pvchan_hist {
	atomic64_t bucket[PVCHAN_HIST_BUCKETS];
};

/**
 * pvchan_hist_bucket() - the bucket of a sample.
 * @ns: sample in nanoseconds.
 *
 * Return: fls64(@ns), at most PVCHAN_HIST_BUCKETS - 1 (0 ns: bucket 0).
 */
static inline unsigned int pvchan_hist_bucket(u64 ns)
{
	return min_t(unsigned int, fls64(ns), PVCHAN_HIST_BUCKETS - 1);
}

/**
 * pvchan_hist_add() - count one sample; any context.
 * @h: histogram.
 * @ns: sample in nanoseconds.
 */
static inline void pvchan_hist_add(struct pvchan_hist *h, u64 ns)
{
	atomic64_inc(&h->bucket[pvchan_hist_bucket(ns)]);
}

/**
 * pvchan_hist_show() - print the non-empty buckets.
 * @m: debugfs file.
 * @name: first word of each line.
 * @h: histogram.
 */
static inline void pvchan_hist_show(struct seq_file *m, const char *name,
				    struct pvchan_hist *h)
{
	unsigned int i;
	s64 v;

	for (i = 0; i < PVCHAN_HIST_BUCKETS; i++) {
		v = atomic64_read(&h->bucket[i]);
		if (v)
			seq_printf(m, "%s le_%lluns %lld\n", name, 1ULL << i,
				   v);
	}
}

#endif /* _PVCHAN_HIST_H */
