// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for pvchan_host: the ABI layout, HELLO negotiation, and the
 * checks on guest-controlled ring indices, segment tables and ranges, fed
 * hostile values.  Internals are reached through EXPORT_SYMBOL_IF_KUNIT.
 */
#include <kunit/test.h>
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/stddef.h>

#include "pvchan_host.h"

/* ---- ABI ---------------------------------------------------------------- */

struct pvchan_layout_case {
	const char *name;
	size_t got;
	size_t want;
};

#define LAYOUT(expr, want) { #expr, expr, want }

static const struct pvchan_layout_case pvchan_layout_cases[] = {
	LAYOUT(sizeof(struct pvchan_hello), 64),
	LAYOUT(offsetof(struct pvchan_hello, guest_features), 8),
	LAYOUT(offsetof(struct pvchan_hello, host_major), 16),
	LAYOUT(offsetof(struct pvchan_hello, num_devices), 20),
	LAYOUT(offsetof(struct pvchan_hello, host_features), 24),
	LAYOUT(offsetof(struct pvchan_hello, features), 32),
	LAYOUT(offsetof(struct pvchan_hello, max_queues), 40),
	LAYOUT(offsetof(struct pvchan_hello, max_queue_size), 44),
	LAYOUT(offsetof(struct pvchan_hello, reserved), 48),
	LAYOUT(sizeof(struct pvchan_dev_desc), 64),
	LAYOUT(offsetof(struct pvchan_dev_desc, num_queues), 8),
	LAYOUT(offsetof(struct pvchan_dev_desc, max_queue_size), 10),
	LAYOUT(offsetof(struct pvchan_dev_desc, max_segs), 12),
	LAYOUT(offsetof(struct pvchan_dev_desc, features), 16),
	LAYOUT(offsetof(struct pvchan_dev_desc, config_len), 24),
	LAYOUT(offsetof(struct pvchan_dev_desc, config_gen), 28),
	LAYOUT(offsetof(struct pvchan_dev_desc, reserved), 32),
	LAYOUT(sizeof(struct pvchan_ring_hdr), PVCHAN_RING_HDR_SIZE),
	LAYOUT(offsetof(struct pvchan_ring_hdr, sq_prod), 0),
	LAYOUT(offsetof(struct pvchan_ring_hdr, cq_cons), 4),
	LAYOUT(offsetof(struct pvchan_ring_hdr, cq_event), 8),
	LAYOUT(offsetof(struct pvchan_ring_hdr, guest_flags), 12),
	LAYOUT(offsetof(struct pvchan_ring_hdr, sq_cons), 64),
	LAYOUT(offsetof(struct pvchan_ring_hdr, sq_event), 68),
	LAYOUT(offsetof(struct pvchan_ring_hdr, cq_prod), 72),
	LAYOUT(offsetof(struct pvchan_ring_hdr, host_flags), 76),
	LAYOUT(sizeof(struct pvchan_sqe), 64),
	LAYOUT(offsetof(struct pvchan_sqe, opcode), 8),
	LAYOUT(offsetof(struct pvchan_sqe, flags), 10),
	LAYOUT(offsetof(struct pvchan_sqe, len), 12),
	LAYOUT(offsetof(struct pvchan_sqe, addr), 16),
	LAYOUT(offsetof(struct pvchan_sqe, args), 24),
	LAYOUT(sizeof(struct pvchan_cqe), 32),
	LAYOUT(offsetof(struct pvchan_cqe, status), 8),
	LAYOUT(offsetof(struct pvchan_cqe, len), 12),
	LAYOUT(offsetof(struct pvchan_cqe, value), 16),
	LAYOUT(offsetof(struct pvchan_cqe, host_backend_ns), 24),
	LAYOUT(offsetof(struct pvchan_cqe, host_post_ns), 28),
	LAYOUT(sizeof(struct pvchan_seg), 16),
	LAYOUT(sizeof(struct pvchan_blk_config), 64),
	LAYOUT(offsetof(struct pvchan_blk_config, logical_block_size), 8),
	LAYOUT(offsetof(struct pvchan_blk_config, max_segs), 16),
	LAYOUT(offsetof(struct pvchan_blk_config, max_discard_sectors), 24),
	LAYOUT(offsetof(struct pvchan_blk_config, discard_granularity), 32),
	LAYOUT(offsetof(struct pvchan_blk_config, serial), 40),
	LAYOUT(sizeof(struct pvchan_net_hdr), 12),
	LAYOUT(offsetof(struct pvchan_net_hdr, hdr_len), 2),
	LAYOUT(offsetof(struct pvchan_net_hdr, gso_size), 4),
	LAYOUT(offsetof(struct pvchan_net_hdr, csum_start), 6),
	LAYOUT(offsetof(struct pvchan_net_hdr, csum_offset), 8),
	LAYOUT(sizeof(struct pvchan_net_config), 32),
	LAYOUT(offsetof(struct pvchan_net_config, status), 6),
	LAYOUT(offsetof(struct pvchan_net_config, mtu), 8),
	LAYOUT(offsetof(struct pvchan_net_config, queue_pairs), 10),
	LAYOUT(sizeof(struct pvchan_clock_config), 64),
	LAYOUT(offsetof(struct pvchan_clock_config, status), 8),
	LAYOUT(sizeof(struct pvchan_clock_pair), 32),
	LAYOUT(offsetof(struct pvchan_clock_pair, realtime_nsec), 8),
	LAYOUT(offsetof(struct pvchan_clock_pair, tsc), 16),
	LAYOUT(sizeof(struct pvchan_clock_record), 64),
	LAYOUT(offsetof(struct pvchan_clock_record, tsc), 8),
	LAYOUT(offsetof(struct pvchan_clock_record, system_ns), 16),
	LAYOUT(offsetof(struct pvchan_clock_record, mul), 24),
	LAYOUT(offsetof(struct pvchan_clock_record, shift), 28),
	LAYOUT(offsetof(struct pvchan_clock_record, reserved),
	       PVCHAN_CLOCK_RECORD_MIN_SIZE),
	LAYOUT(PVCHAN_RING_BYTES(256), 128 + 256 * 96),
	LAYOUT(PVCHAN_RING_CQ_OFF(256), 128 + 256 * 64),
};

static void pvchan_layout_desc(const struct pvchan_layout_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pvchan_layout, pvchan_layout_cases, pvchan_layout_desc);

static void pvchan_abi_layout_test(struct kunit *test)
{
	const struct pvchan_layout_case *c = test->param_value;

	KUNIT_EXPECT_EQ_MSG(test, c->got, c->want, "%s", c->name);
}

static void pvchan_abi_numbers_test(struct kunit *test)
{
	/* Below 2^31, far from KVM's own hypercalls, one range. */
	KUNIT_EXPECT_LT(test, PVCHAN_HC_LAST, 0x80000000U);
	KUNIT_EXPECT_GT(test, PVCHAN_HC_BASE, 1000U);
	KUNIT_EXPECT_EQ(test, PVCHAN_HC_CLOCK_RECORD, PVCHAN_HC_BASE +
			PVCHAN_HC_COUNT - 1);
	/* Error codes: their own range, away from KVM's 1000. */
	KUNIT_EXPECT_GT(test, PVCHAN_ENOSYS, PVCHAN_ERR_BASE);
	KUNIT_EXPECT_LE(test, PVCHAN_ERR_LAST, PVCHAN_ERR_BASE + 255);
	KUNIT_EXPECT_EQ(test, PVCHAN_F_KNOWN_MASK,
			BIT_ULL(PVCHAN_F_EVENT_IDX) |
			BIT_ULL(PVCHAN_F_INDIRECT) |
			BIT_ULL(PVCHAN_F_DEV_EVENTS) |
			BIT_ULL(PVCHAN_F_STAGE_TIMES));
	/* No device index can collide with the event pseudo-device. */
	KUNIT_EXPECT_GT(test, PVCHAN_EVENT_DEV, PVCHAN_CTL_MAX_DEVS);
}

/* pvchan_need_event() from the ABI header: (event, new, old) -> notify? */
struct pvchan_event_case {
	const char *name;
	u32 event, new_idx, old_idx;
	bool notify;
};

static const struct pvchan_event_case pvchan_event_cases[] = {
	{ "no progress", 5, 5, 5, false },
	{ "event at old", 5, 6, 5, true },
	{ "event inside batch", 7, 10, 5, true },
	{ "event at new (not yet reached)", 10, 10, 5, false },
	{ "event already passed", 3, 10, 5, false },
	{ "event ahead", 20, 10, 5, false },
	{ "wrap: batch crosses 2^32", 0xffffffff, 2, 0xfffffffe, true },
	{ "wrap: event after wrap", 1, 2, 0xfffffffe, true },
	{ "wrap: event before batch", 0xfffffff0, 2, 0xfffffffe, false },
	{ "whole ring at once", 0, 256, 0, true },
};

static void pvchan_event_desc(const struct pvchan_event_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pvchan_event, pvchan_event_cases, pvchan_event_desc);

static void pvchan_need_event_test(struct kunit *test)
{
	const struct pvchan_event_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, !!pvchan_need_event(c->event, c->new_idx,
						  c->old_idx), c->notify);
}

/* ---- HELLO negotiation -------------------------------------------------- */

struct pvchan_hello_case {
	const char *name;
	u16 guest_major, guest_minor;
	u64 guest_features;
	int why;		/* -1: accepted */
	u64 features;
};

static const struct pvchan_hello_case pvchan_hello_cases[] = {
	{ "same version, all features", PVCHAN_ABI_MAJOR, PVCHAN_ABI_MINOR,
	  PVCHAN_F_KNOWN_MASK, -1, PVCHAN_F_KNOWN_MASK },
	{ "older guest (1.0), event idx only", 1, 0,
	  BIT_ULL(PVCHAN_F_EVENT_IDX), -1, BIT_ULL(PVCHAN_F_EVENT_IDX) },
	{ "older guest, no features", 1, 0, 0, -1, 0 },
	{ "1.1 guest: no device events", 1, 1,
	  BIT_ULL(PVCHAN_F_EVENT_IDX) | BIT_ULL(PVCHAN_F_INDIRECT), -1,
	  BIT_ULL(PVCHAN_F_EVENT_IDX) | BIT_ULL(PVCHAN_F_INDIRECT) },
	{ "newer guest minor, unknown features dropped", 1, 99,
	  ~0ULL, -1, PVCHAN_F_KNOWN_MASK },
	{ "newer major refused", 2, 0, PVCHAN_F_KNOWN_MASK,
	  PVCHAN_REJ_VERSION, 0 },
	{ "major 0 refused", 0, 0, 0, PVCHAN_REJ_VERSION, 0 },
	{ "major 0xffff refused", 0xffff, 0xffff, ~0ULL,
	  PVCHAN_REJ_VERSION, 0 },
};

static void pvchan_hello_desc(const struct pvchan_hello_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pvchan_hello, pvchan_hello_cases, pvchan_hello_desc);

static void pvchan_hello_negotiate_test(struct kunit *test)
{
	const struct pvchan_hello_case *c = test->param_value;
	struct pvchan_hello h;
	u64 features = 0xdead;
	int why;

	/* Whatever the guest left in the host half must be overwritten. */
	memset(&h, 0xa5, sizeof(h));
	h.guest_major = cpu_to_le16(c->guest_major);
	h.guest_minor = cpu_to_le16(c->guest_minor);
	h.guest_features = cpu_to_le64(c->guest_features);
	why = pvchan_hello_negotiate(&h, 3, &features);

	KUNIT_EXPECT_EQ(test, why, c->why);
	KUNIT_EXPECT_EQ(test, features, c->features);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(h.features), c->features);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(h.host_major), PVCHAN_ABI_MAJOR);
	KUNIT_EXPECT_EQ(test, le16_to_cpu(h.host_minor), PVCHAN_ABI_MINOR);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(h.num_devices), 3U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(h.host_features),
			PVCHAN_F_KNOWN_MASK);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(h.pad0), 0U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(h.reserved[0]) |
			le64_to_cpu(h.reserved[1]), 0ULL);
	/* The guest half is left as the guest wrote it. */
	KUNIT_EXPECT_EQ(test, le16_to_cpu(h.guest_major), c->guest_major);
}

/* ---- ring indices (guest controlled) ------------------------------------ */

struct pvchan_ring_case {
	const char *name;
	u32 size, sq_prod, sq_cons, cq_prod, cq_cons;
	int ret;
	u32 pending;
};

static const struct pvchan_ring_case pvchan_ring_cases[] = {
	{ "empty", 256, 0, 0, 0, 0, 0, 0 },
	{ "one pending", 256, 1, 0, 0, 0, 0, 1 },
	{ "full ring pending", 256, 256, 0, 0, 0, 0, 256 },
	{ "one beyond the ring", 256, 257, 0, 0, 0, -ERANGE, 0 },
	{ "producer behind consumer", 256, 4, 5, 0, 0, -ERANGE, 0 },
	{ "wild producer", 256, 0x80000000, 0, 0, 0, -ERANGE, 0 },
	{ "wrap around 2^32", 256, 3, 0xfffffff0, 0, 0, 0, 19 },
	{ "wrap, too far", 256, 0x200, 0xfffffff0, 0, 0, -ERANGE, 0 },
	{ "completions all consumed", 8, 8, 8, 8, 8, 0, 0 },
	{ "completions outstanding", 8, 8, 8, 8, 0, 0, 0 },
	{ "guest consumed more than posted", 8, 8, 8, 8, 9, -EOVERFLOW, 0 },
	{ "cq_cons far behind", 8, 8, 8, 100, 0, -EOVERFLOW, 0 },
	{ "cq wrap", 8, 2, 2, 2, 0xfffffffe, 0, 0 },
	{ "size 1 ring", 1, 1, 0, 0, 0, 0, 1 },
	{ "size 1 ring overrun", 1, 2, 0, 0, 0, -ERANGE, 0 },
};

static void pvchan_ring_desc(const struct pvchan_ring_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pvchan_ring, pvchan_ring_cases, pvchan_ring_desc);

static void pvchan_ring_check_test(struct kunit *test)
{
	const struct pvchan_ring_case *c = test->param_value;
	u32 pending = 0xdead;
	int ret;

	ret = pvchan_ring_check(c->size, c->sq_prod, c->sq_cons, c->cq_prod,
				c->cq_cons, &pending);
	KUNIT_EXPECT_EQ(test, ret, c->ret);
	if (!ret)
		KUNIT_EXPECT_EQ(test, pending, c->pending);
}

/* ---- block requests (guest controlled) ---------------------------------- */

#define SEG(n) { .addr = cpu_to_le64(0x1000), .len = cpu_to_le32(n) }

struct pvchan_segs_case {
	const char *name;
	struct pvchan_seg segs[4];
	unsigned int nsegs;
	size_t bytes;		/* 0: refused */
};

static const struct pvchan_segs_case pvchan_segs_cases[] = {
	{ "one sector", { SEG(512) }, 1, 512 },
	{ "pages", { SEG(4096), SEG(4096), SEG(512) }, 3, 8704 },
	{ "empty segment", { SEG(4096), SEG(0) }, 2, 0 },
	{ "not a sector multiple", { SEG(513) }, 1, 0 },
	{ "odd tail", { SEG(4096), SEG(100) }, 2, 0 },
	{ "exactly 1 MiB", { SEG(1 << 19), SEG(1 << 19) }, 2, 1 << 20 },
	{ "over 1 MiB", { SEG(1 << 20), SEG(512) }, 2, 0 },
	{ "u32 wrap attempt", { SEG(0xfffffe00), SEG(0x400) }, 2, 0 },
	{ "huge segment", { SEG(0xfffffe00) }, 1, 0 },
};

static void pvchan_segs_desc(const struct pvchan_segs_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pvchan_segs, pvchan_segs_cases, pvchan_segs_desc);

static void pvchan_blk_seg_bytes_test(struct kunit *test)
{
	const struct pvchan_segs_case *c = test->param_value;
	struct pvchan_seg *segs;

	/* Exactly nsegs entries on the heap: KASAN catches any over-read. */
	segs = kunit_kmalloc_array(test, c->nsegs, sizeof(*segs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, segs);
	memcpy(segs, c->segs, c->nsegs * sizeof(*segs));
	KUNIT_EXPECT_EQ(test, pvchan_blk_seg_bytes(segs, c->nsegs), c->bytes);
}

struct pvchan_range_case {
	const char *name;
	u64 cap, sector, count;
	bool ok;
};

static const struct pvchan_range_case pvchan_range_cases[] = {
	{ "whole disk", 1024, 0, 1024, true },
	{ "last sector", 1024, 1023, 1, true },
	{ "one past the end", 1024, 1023, 2, false },
	{ "start past the end", 1024, 1025, 0, false },
	{ "empty at the end", 1024, 1024, 0, true },
	{ "overflowing count", 1024, 8, U64_MAX - 4, false },
	{ "overflowing sector", 1024, U64_MAX, 2, false },
	{ "empty disk", 0, 0, 1, false },
};

static void pvchan_range_desc(const struct pvchan_range_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pvchan_range, pvchan_range_cases, pvchan_range_desc);

static void pvchan_blk_in_range_test(struct kunit *test)
{
	const struct pvchan_range_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, pvchan_blk_in_range(c->cap, c->sector, c->count),
			c->ok);
}

/* ---- polling window -------------------------------------------------------- */

struct pvchan_poll_case {
	const char *name;
	u32 poll_ns;
	u64 gap_ns;
	u32 max_ns, next_ns;
};

static const struct pvchan_poll_case pvchan_poll_cases[] = {
	{ "polling off", 0, 1000, 0, 0 },
	{ "off stays off however soon the kick", 40000, 0, 0, 0 },
	{ "soon kick starts polling", 0, 20000, 50000, 10000 },
	{ "soon kick doubles", 10000, 30000, 50000, 20000 },
	{ "doubling stops at max", 40000, 30000, 50000, 50000 },
	{ "kick at max still grows", 20000, 50000, 50000, 40000 },
	{ "late kick halves", 40000, 50001, 50000, 20000 },
	{ "late kick, small window: off", 15000, 60000, 50000, 0 },
	{ "late kick while off", 0, U64_MAX, 50000, 0 },
	{ "max lowered below the window", 10000000, 1000, 50000, 50000 },
	{ "no overflow at the top", 4000000000U, 0, U32_MAX, U32_MAX },
};

static void pvchan_poll_desc(const struct pvchan_poll_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(pvchan_poll, pvchan_poll_cases, pvchan_poll_desc);

static void pvchan_poll_adapt_test(struct kunit *test)
{
	const struct pvchan_poll_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, pvchan_poll_adapt(c->poll_ns, c->gap_ns, c->max_ns),
			c->next_ns);
}

/* ---- latency histogram --------------------------------------------------- */

static void pvchan_hist_bucket_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(0), 0U);
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(1), 1U);
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(2), 2U);
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(3), 2U);
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(1023), 10U);
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(1024), 11U);
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(1ULL << 30),
			(unsigned int)PVCHAN_HIST_BUCKETS - 1);
	KUNIT_EXPECT_EQ(test, pvchan_hist_bucket(U64_MAX),
			(unsigned int)PVCHAN_HIST_BUCKETS - 1);
}

/* ---- time record rate ------------------------------------------------------ */

/* TSC frequencies in kHz, 1 MHz .. 100 GHz, odd ones included. */
static const u32 pvchan_rate_khz[] = {
	1000, 999999, 1000000, 2494222, 3187654, 4294967, 100000000,
};

static void pvchan_clock_rate_test(struct kunit *test)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pvchan_rate_khz); i++) {
		u64 hz = (u64)pvchan_rate_khz[i] * 1000, ns;
		u32 mul;
		u8 shift;

		pvchan_clock_rate(NSEC_PER_MSEC, pvchan_rate_khz[i], &mul,
				  &shift);
		KUNIT_EXPECT_LE(test, shift, 32);
		/* Most of the 32 bits used: precision. */
		KUNIT_EXPECT_GE_MSG(test, mul, 1U << 25, "%u kHz", pvchan_rate_khz[i]);
		/* One second of ticks converts to one second, to mul's precision. */
		ns = mul_u64_u32_shr(hz, mul, shift);
		KUNIT_EXPECT_LE_MSG(test, ns, NSEC_PER_SEC, "%u kHz", pvchan_rate_khz[i]);
		KUNIT_EXPECT_GE_MSG(test, ns + NSEC_PER_SEC / mul + 1, NSEC_PER_SEC,
				    "%u kHz", pvchan_rate_khz[i]);
		/* A day of ticks does not overflow. */
		KUNIT_EXPECT_GE(test, mul_u64_u32_shr(hz * 86400, mul, shift),
				86399 * NSEC_PER_SEC);
	}
}

static struct kunit_case pvchan_abi_cases[] = {
	KUNIT_CASE_PARAM(pvchan_abi_layout_test, pvchan_layout_gen_params),
	KUNIT_CASE(pvchan_abi_numbers_test),
	KUNIT_CASE_PARAM(pvchan_need_event_test, pvchan_event_gen_params),
	KUNIT_CASE_PARAM(pvchan_hello_negotiate_test, pvchan_hello_gen_params),
	{}
};

static struct kunit_suite pvchan_abi_suite = {
	.name = "pvchan_abi",
	.test_cases = pvchan_abi_cases,
};

static struct kunit_case pvchan_host_input_cases[] = {
	KUNIT_CASE_PARAM(pvchan_ring_check_test, pvchan_ring_gen_params),
	KUNIT_CASE_PARAM(pvchan_blk_seg_bytes_test, pvchan_segs_gen_params),
	KUNIT_CASE_PARAM(pvchan_blk_in_range_test, pvchan_range_gen_params),
	KUNIT_CASE(pvchan_hist_bucket_test),
	KUNIT_CASE(pvchan_clock_rate_test),
	KUNIT_CASE_PARAM(pvchan_poll_adapt_test, pvchan_poll_gen_params),
	{}
};

static struct kunit_suite pvchan_host_input_suite = {
	.name = "pvchan_host_input",
	.test_cases = pvchan_host_input_cases,
};

kunit_test_suites(&pvchan_abi_suite, &pvchan_host_input_suite);

MODULE_DESCRIPTION("KUnit tests for pvchan_host");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
