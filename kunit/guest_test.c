// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites for pvchan_guest: ring bookkeeping against a host that
 * behaves and one that does not, kick suppression, and the checks on the
 * host's HELLO answer.  The rings are ordinary kernel memory here; no
 * hypercall is made.
 */
#include <kunit/test.h>
#include <linux/limits.h>

#include "pvchan_guest.h"

struct pvchan_gring_fixture {
	struct pvchan_gring r;
};

static int pvchan_gring_init(struct kunit *test)
{
	struct pvchan_gring *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_EQ(test, pvchan_gring_alloc(r, 8, true), 0);
	test->priv = r;
	return 0;
}

static void pvchan_gring_exit(struct kunit *test)
{
	pvchan_gring_free(test->priv);
}

static struct pvchan_ring_hdr *hdr(struct pvchan_gring *r)
{
	return r->mem;
}

/* Play the host: consume all submissions, complete them in order. */
static void fake_host_complete(struct pvchan_gring *r, u32 n)
{
	struct pvchan_cqe *cq = r->mem + PVCHAN_RING_CQ_OFF(r->size);
	struct pvchan_sqe *sq = r->mem + PVCHAN_RING_SQ_OFF;
	u32 cons = le32_to_cpu(hdr(r)->sq_cons);
	u32 prod = le32_to_cpu(hdr(r)->cq_prod);
	u32 i;

	for (i = 0; i < n; i++, cons++, prod++) {
		cq[prod & (r->size - 1)].req_id = sq[cons & (r->size - 1)].req_id;
		cq[prod & (r->size - 1)].status = 0;
	}
	hdr(r)->sq_cons = cpu_to_le32(cons);
	hdr(r)->cq_prod = cpu_to_le32(prod);
}

static void pvchan_gring_fill_test(struct kunit *test)
{
	struct pvchan_gring *r = test->priv;
	struct pvchan_sqe *sqe;
	u32 i;

	for (i = 0; i < 8; i++) {
		sqe = pvchan_gring_next_sqe(r);
		KUNIT_ASSERT_NOT_NULL(test, sqe);
		sqe->req_id = cpu_to_le64(100 + i);
	}
	/* Eight in flight: the ring (and so the completion ring) is full. */
	KUNIT_EXPECT_NULL(test, pvchan_gring_next_sqe(r));
	KUNIT_EXPECT_EQ(test, r->inflight, 8U);
	/* Nothing visible to the host before publish. */
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr(r)->sq_prod), 0U);
	KUNIT_EXPECT_TRUE(test, pvchan_gring_publish(r));
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr(r)->sq_prod), 8U);
	/* Publishing nothing new never kicks. */
	KUNIT_EXPECT_FALSE(test, pvchan_gring_publish(r));
}

static void pvchan_gring_complete_test(struct kunit *test)
{
	struct pvchan_gring *r = test->priv;
	struct pvchan_cqe cqe;
	u32 i;

	for (i = 0; i < 3; i++)
		pvchan_gring_next_sqe(r)->req_id = cpu_to_le64(i + 1);
	pvchan_gring_publish(r);
	KUNIT_EXPECT_FALSE(test, pvchan_gring_get_cqe(r, &cqe));
	fake_host_complete(r, 3);
	for (i = 0; i < 3; i++) {
		KUNIT_ASSERT_TRUE(test, pvchan_gring_get_cqe(r, &cqe));
		KUNIT_EXPECT_EQ(test, le64_to_cpu(cqe.req_id), (u64)i + 1);
	}
	KUNIT_EXPECT_FALSE(test, pvchan_gring_get_cqe(r, &cqe));
	KUNIT_EXPECT_EQ(test, r->inflight, 0U);
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr(r)->cq_cons), 3U);
	/* Slots are free again. */
	KUNIT_EXPECT_NOT_NULL(test, pvchan_gring_next_sqe(r));
}

static void pvchan_gring_hostile_cq_test(struct kunit *test)
{
	struct pvchan_gring *r = test->priv;
	struct pvchan_cqe cqe;
	u32 taken = 0;

	pvchan_gring_next_sqe(r);
	pvchan_gring_next_sqe(r);
	pvchan_gring_publish(r);
	/* The host claims a thousand completions for two requests. */
	hdr(r)->cq_prod = cpu_to_le32(1000);
	while (pvchan_gring_get_cqe(r, &cqe) && taken < 100)
		taken++;
	KUNIT_EXPECT_EQ(test, taken, 2U);
	KUNIT_EXPECT_EQ(test, r->inflight, 0U);
	/* Nothing in flight: an interrupt has nothing to reap. */
	KUNIT_EXPECT_FALSE(test, pvchan_gring_arm(r));
}

static void pvchan_gring_kick_suppression_test(struct kunit *test)
{
	struct pvchan_gring *r = test->priv;

	/* Host asked for a kick at index 0: the first batch kicks. */
	pvchan_gring_next_sqe(r);
	KUNIT_EXPECT_TRUE(test, pvchan_gring_publish(r));
	/* Host busy (sq_event still 0): later batches need no kick. */
	pvchan_gring_next_sqe(r);
	KUNIT_EXPECT_FALSE(test, pvchan_gring_publish(r));
	pvchan_gring_next_sqe(r);
	pvchan_gring_next_sqe(r);
	KUNIT_EXPECT_FALSE(test, pvchan_gring_publish(r));
	/* Host drained and re-armed at 4: the next batch kicks again. */
	hdr(r)->sq_event = cpu_to_le32(4);
	pvchan_gring_next_sqe(r);
	KUNIT_EXPECT_TRUE(test, pvchan_gring_publish(r));
}

static void pvchan_gring_no_event_idx_test(struct kunit *test)
{
	struct pvchan_gring *r = test->priv;

	r->event_idx = false;
	pvchan_gring_next_sqe(r);
	KUNIT_EXPECT_TRUE(test, pvchan_gring_publish(r));
	pvchan_gring_next_sqe(r);
	KUNIT_EXPECT_TRUE(test, pvchan_gring_publish(r));
}

static void pvchan_gring_arm_test(struct kunit *test)
{
	struct pvchan_gring *r = test->priv;
	struct pvchan_cqe cqe;

	pvchan_gring_next_sqe(r);
	pvchan_gring_next_sqe(r);
	pvchan_gring_publish(r);
	KUNIT_EXPECT_FALSE(test, pvchan_gring_arm(r));
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr(r)->cq_event), 0U);
	/* A completion slipped in after the last reap: arm says reap again. */
	fake_host_complete(r, 1);
	KUNIT_EXPECT_TRUE(test, pvchan_gring_arm(r));
	KUNIT_EXPECT_TRUE(test, pvchan_gring_get_cqe(r, &cqe));
	KUNIT_EXPECT_FALSE(test, pvchan_gring_arm(r));
	KUNIT_EXPECT_EQ(test, le32_to_cpu(hdr(r)->cq_event), 1U);
}

static void pvchan_gring_wrap_test(struct kunit *test)
{
	struct pvchan_gring *r = test->priv;
	struct pvchan_cqe cqe;
	u32 round, i;

	/* Many laps around an 8-entry ring. */
	for (round = 0; round < 100; round++) {
		for (i = 0; i < 5; i++)
			pvchan_gring_next_sqe(r)->req_id =
				cpu_to_le64(round * 5 + i);
		pvchan_gring_publish(r);
		fake_host_complete(r, 5);
		for (i = 0; i < 5; i++) {
			KUNIT_ASSERT_TRUE(test, pvchan_gring_get_cqe(r, &cqe));
			KUNIT_ASSERT_EQ(test, le64_to_cpu(cqe.req_id),
					(u64)round * 5 + i);
		}
	}
	KUNIT_EXPECT_EQ(test, r->sq_prod, 500U);
	KUNIT_EXPECT_EQ(test, r->inflight, 0U);
}

static void pvchan_hello_accept_test(struct kunit *test)
{
	struct pvchan_hello h = {};
	struct pvchan_channel c;

	/* A host that offers everything and absurd sizes. */
	h.host_major = cpu_to_le16(1);
	h.host_minor = cpu_to_le16(7);
	h.features = cpu_to_le64(~0ULL);
	h.num_devices = cpu_to_le32(U32_MAX);
	h.max_queues = cpu_to_le32(0);
	h.max_queue_size = cpu_to_le32(3000);
	pvchan_hello_accept(&h, &c);
	KUNIT_EXPECT_EQ(test, c.features, (u64)PVCHAN_GUEST_FEATURES);
	KUNIT_EXPECT_EQ(test, c.num_devices, (u32)PVCHAN_GUEST_MAX_DEVS);
	KUNIT_EXPECT_EQ(test, c.max_queues, 1U);
	KUNIT_EXPECT_EQ(test, c.max_queue_size, 2048U);
	KUNIT_EXPECT_EQ(test, c.host_minor, 7);

	h.max_queues = cpu_to_le32(1000);
	h.max_queue_size = cpu_to_le32(U32_MAX);
	h.features = 0;
	pvchan_hello_accept(&h, &c);
	KUNIT_EXPECT_EQ(test, c.features, 0ULL);
	KUNIT_EXPECT_EQ(test, c.max_queues, 64U);
	KUNIT_EXPECT_EQ(test, c.max_queue_size, (u32)PVCHAN_RING_MAX_SIZE);
}

static struct kunit_case pvchan_guest_ring_cases[] = {
	KUNIT_CASE(pvchan_gring_fill_test),
	KUNIT_CASE(pvchan_gring_complete_test),
	KUNIT_CASE(pvchan_gring_hostile_cq_test),
	KUNIT_CASE(pvchan_gring_kick_suppression_test),
	KUNIT_CASE(pvchan_gring_no_event_idx_test),
	KUNIT_CASE(pvchan_gring_arm_test),
	KUNIT_CASE(pvchan_gring_wrap_test),
	{}
};

static struct kunit_suite pvchan_guest_ring_suite = {
	.name = "pvchan_guest_ring",
	.init = pvchan_gring_init,
	.exit = pvchan_gring_exit,
	.test_cases = pvchan_guest_ring_cases,
};

/* Stage split of a request's time; the host's figures are not trusted. */
static void pvchan_channel_ns_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, pvchan_channel_ns(1000, 300, 200), 500ULL);
	KUNIT_EXPECT_EQ(test, pvchan_channel_ns(1000, 600, 400), 0ULL);
	KUNIT_EXPECT_EQ(test, pvchan_channel_ns(1000, 1000, 1), 0ULL);
	/* Saturated host values do not wrap 32-bit arithmetic. */
	KUNIT_EXPECT_EQ(test, pvchan_channel_ns(1ULL << 40, U32_MAX, U32_MAX),
			(1ULL << 40) - 2 * (u64)U32_MAX);
	KUNIT_EXPECT_EQ(test, pvchan_channel_ns(5, U32_MAX, U32_MAX), 0ULL);
	KUNIT_EXPECT_EQ(test, pvchan_channel_ns(0, 0, 0), 0ULL);
}

static struct kunit_case pvchan_guest_hello_cases[] = {
	KUNIT_CASE(pvchan_hello_accept_test),
	KUNIT_CASE(pvchan_channel_ns_test),
	{}
};

static struct kunit_suite pvchan_guest_hello_suite = {
	.name = "pvchan_guest_hello",
	.test_cases = pvchan_guest_hello_cases,
};

kunit_test_suites(&pvchan_guest_ring_suite, &pvchan_guest_hello_suite);

MODULE_DESCRIPTION("KUnit tests for pvchan_guest");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
