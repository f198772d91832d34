/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Build-time checks of the pvchan ABI layout.  Included by one .c file of
 * each side (host, guest, tools), after static_assert() and offsetof() are
 * available (<linux/build_bug.h> in the kernel, <assert.h> and <stddef.h>
 * in C11 user space).  A failure here is an ABI break.
 */
#ifndef _PVCHAN_ABI_CHECK_H
#define _PVCHAN_ABI_CHECK_H

#include "pvchan_abi.h"
#include "pvchan_ctl.h"

#define PVCHAN_ABI_OFF(type, field, off) \
	static_assert(offsetof(struct type, field) == (off), \
		      #type "." #field " moved")

static_assert(sizeof(struct pvchan_hello) == 64, "pvchan_hello size");
PVCHAN_ABI_OFF(pvchan_hello, guest_features, 8);
PVCHAN_ABI_OFF(pvchan_hello, host_major, 16);
PVCHAN_ABI_OFF(pvchan_hello, num_devices, 20);
PVCHAN_ABI_OFF(pvchan_hello, host_features, 24);
PVCHAN_ABI_OFF(pvchan_hello, features, 32);
PVCHAN_ABI_OFF(pvchan_hello, max_queues, 40);
PVCHAN_ABI_OFF(pvchan_hello, max_queue_size, 44);
PVCHAN_ABI_OFF(pvchan_hello, reserved, 48);

static_assert(sizeof(struct pvchan_dev_desc) == 64, "pvchan_dev_desc size");
PVCHAN_ABI_OFF(pvchan_dev_desc, num_queues, 8);
PVCHAN_ABI_OFF(pvchan_dev_desc, max_segs, 12);
PVCHAN_ABI_OFF(pvchan_dev_desc, features, 16);
PVCHAN_ABI_OFF(pvchan_dev_desc, config_len, 24);
PVCHAN_ABI_OFF(pvchan_dev_desc, config_gen, 28);
PVCHAN_ABI_OFF(pvchan_dev_desc, reserved, 32);

static_assert(sizeof(struct pvchan_ring_hdr) == PVCHAN_RING_HDR_SIZE,
	      "pvchan_ring_hdr size");
PVCHAN_ABI_OFF(pvchan_ring_hdr, sq_prod, 0);
PVCHAN_ABI_OFF(pvchan_ring_hdr, cq_cons, 4);
PVCHAN_ABI_OFF(pvchan_ring_hdr, cq_event, 8);
PVCHAN_ABI_OFF(pvchan_ring_hdr, sq_cons, 64);
PVCHAN_ABI_OFF(pvchan_ring_hdr, sq_event, 68);
PVCHAN_ABI_OFF(pvchan_ring_hdr, cq_prod, 72);

static_assert(sizeof(struct pvchan_sqe) == 64, "pvchan_sqe size");
PVCHAN_ABI_OFF(pvchan_sqe, opcode, 8);
PVCHAN_ABI_OFF(pvchan_sqe, len, 12);
PVCHAN_ABI_OFF(pvchan_sqe, addr, 16);
PVCHAN_ABI_OFF(pvchan_sqe, args, 24);

static_assert(sizeof(struct pvchan_cqe) == 32, "pvchan_cqe size");
PVCHAN_ABI_OFF(pvchan_cqe, status, 8);
PVCHAN_ABI_OFF(pvchan_cqe, len, 12);
PVCHAN_ABI_OFF(pvchan_cqe, value, 16);
PVCHAN_ABI_OFF(pvchan_cqe, host_backend_ns, 24);
PVCHAN_ABI_OFF(pvchan_cqe, host_post_ns, 28);

static_assert(sizeof(struct pvchan_seg) == 16, "pvchan_seg size");
static_assert(sizeof(struct pvchan_blk_config) == 64, "pvchan_blk_config size");
PVCHAN_ABI_OFF(pvchan_blk_config, max_segs, 16);
PVCHAN_ABI_OFF(pvchan_blk_config, discard_granularity, 32);
PVCHAN_ABI_OFF(pvchan_blk_config, serial, 40);
static_assert(sizeof(struct pvchan_net_hdr) == 12, "pvchan_net_hdr size");
PVCHAN_ABI_OFF(pvchan_net_hdr, hdr_len, 2);
PVCHAN_ABI_OFF(pvchan_net_hdr, csum_start, 6);
static_assert(sizeof(struct pvchan_net_config) == 32,
	      "pvchan_net_config size");
PVCHAN_ABI_OFF(pvchan_net_config, status, 6);
PVCHAN_ABI_OFF(pvchan_net_config, mtu, 8);
PVCHAN_ABI_OFF(pvchan_net_config, queue_pairs, 10);
static_assert(sizeof(struct pvchan_clock_config) == 64,
	      "pvchan_clock_config size");
PVCHAN_ABI_OFF(pvchan_clock_config, status, 8);
static_assert(sizeof(struct pvchan_clock_pair) ==
	      PVCHAN_CLOCK_PAIR_MIN_SIZE, "pvchan_clock_pair size");
PVCHAN_ABI_OFF(pvchan_clock_pair, realtime_nsec, 8);
PVCHAN_ABI_OFF(pvchan_clock_pair, tsc, 16);
static_assert(sizeof(struct pvchan_clock_record) == 64,
	      "pvchan_clock_record size");
PVCHAN_ABI_OFF(pvchan_clock_record, tsc, 8);
PVCHAN_ABI_OFF(pvchan_clock_record, system_ns, 16);
PVCHAN_ABI_OFF(pvchan_clock_record, mul, 24);
PVCHAN_ABI_OFF(pvchan_clock_record, shift, 28);
static_assert(offsetof(struct pvchan_clock_record, reserved) ==
	      PVCHAN_CLOCK_RECORD_MIN_SIZE, "pvchan_clock_record min size");
static_assert(PVCHAN_RING_BYTES(1) == PVCHAN_RING_HDR_SIZE +
	      sizeof(struct pvchan_sqe) + sizeof(struct pvchan_cqe),
	      "ring size formula");
static_assert(PVCHAN_HC_BASE + PVCHAN_HC_COUNT <= PVCHAN_HC_LAST,
	      "hypercall range");
static_assert(PVCHAN_HC_LAST < 0x80000000U, "hypercalls below 2^31");

/* Host control interface (ioctls): the same on 32- and 64-bit callers. */
static_assert(sizeof(struct pvchan_ctl_bind) == 16, "pvchan_ctl_bind size");
static_assert(sizeof(struct pvchan_ctl_dev) == 64, "pvchan_ctl_dev size");
PVCHAN_ABI_OFF(pvchan_ctl_dev, net_mtu, 44);
PVCHAN_ABI_OFF(pvchan_ctl_dev, net_mac, 46);
PVCHAN_ABI_OFF(pvchan_ctl_dev, net_queue_fds, 56);
static_assert(sizeof(struct pvchan_ctl_dev_ref) == 24,
	      "pvchan_ctl_dev_ref size");
static_assert(sizeof(struct pvchan_ctl_hot_add) == 80,
	      "pvchan_ctl_hot_add size");

#endif /* _PVCHAN_ABI_CHECK_H */
