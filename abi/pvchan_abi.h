/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pvchan guest <-> host ABI, version 1.
 *
 * This header is a contract between a guest kernel and a host kernel that
 * may have been built years apart.  Rules:
 *  - every field is fixed width and little endian, padding is explicit and
 *    must be written as zero and ignored on read;
 *  - hypercall numbers, feature bits, error codes, device types and opcodes
 *    are never reused; retired ones stay listed and marked retired;
 *  - a minor version bump only adds (features, hypercalls, fields carved out
 *    of reserved space); a major version bump is a new, incompatible ABI;
 *  - every structure's size is given in a comment and checked at build time
 *    on both sides.
 *
 * The header has no dependency but <linux/types.h> and compiles as C90, so a
 * VMM or a tool can include it.  See Documentation/hypercalls.rst.
 */
#ifndef _PVCHAN_ABI_H
#define _PVCHAN_ABI_H

#include <linux/types.h>

#define PVCHAN_ABI_MAJOR		1
#define PVCHAN_ABI_MINOR		5

/*
 * Hypercalls.  The number goes in RAX, arguments a0..a3 in RBX, RCX, RDX and
 * RSI (the KVM hypercall convention), the result comes back in RAX.  The
 * base ("PVC" in ASCII) is far from KVM's own numbers and below 2^31, so a
 * 32-bit truncation of the number cannot alias another call.  Only 64-bit
 * guests are supported.
 */
#define PVCHAN_HC_BASE			0x50564300U
#define PVCHAN_HC_HELLO			(PVCHAN_HC_BASE + 0)
#define PVCHAN_HC_DEV_INFO		(PVCHAN_HC_BASE + 1)
#define PVCHAN_HC_DEV_CONFIG		(PVCHAN_HC_BASE + 2)
#define PVCHAN_HC_QUEUE_SETUP		(PVCHAN_HC_BASE + 3)
#define PVCHAN_HC_QUEUE_RESET		(PVCHAN_HC_BASE + 4)
#define PVCHAN_HC_KICK			(PVCHAN_HC_BASE + 5)
#define PVCHAN_HC_IRQ_ROUTE		(PVCHAN_HC_BASE + 6)
#define PVCHAN_HC_DEV_MAP		(PVCHAN_HC_BASE + 7)	/* ABI 1.2 */
#define PVCHAN_HC_CLOCK_PAIR		(PVCHAN_HC_BASE + 8)	/* ABI 1.4 */
#define PVCHAN_HC_CLOCK_RECORD		(PVCHAN_HC_BASE + 9)	/* ABI 1.5 */
/* Every number from here up to PVCHAN_HC_LAST is pvchan's and unassigned. */
#define PVCHAN_HC_COUNT			10
#define PVCHAN_HC_LAST			(PVCHAN_HC_BASE + 0xff)

/*
 * Results.  0 is success; errors are returned negated (RAX = -code).  The
 * codes live in their own range, away from KVM's (-1000 = -KVM_ENOSYS means
 * "no pvchan host serves this VM", -1 = -KVM_EPERM means "called from guest
 * user mode").
 */
#define PVCHAN_OK			0
#define PVCHAN_ERR_BASE			4096
#define PVCHAN_ENOSYS			4097	/* unknown pvchan hypercall */
#define PVCHAN_ENOTREADY		4098	/* HELLO not done yet */
#define PVCHAN_EVERSION			4099	/* unsupported major version */
#define PVCHAN_EINVAL			4100	/* bad argument value */
#define PVCHAN_ENODEV			4101	/* no such device */
#define PVCHAN_ENOQUEUE			4102	/* no such queue */
#define PVCHAN_EFAULT			4103	/* address not in guest RAM */
#define PVCHAN_EALIGN			4104	/* misaligned address or size */
#define PVCHAN_EBUSY			4105	/* queue already set up */
#define PVCHAN_ENOMEM			4106	/* host out of memory */
#define PVCHAN_ENOCLOCK			4107	/* no TSC-based host clock now */
#define PVCHAN_ERR_LAST			4107

/*
 * Channel feature bits (bit numbers in pvchan_hello.*_features).  The
 * negotiated set is the intersection of what both sides offer.
 */
#define PVCHAN_F_EVENT_IDX		0	/* notification suppression */
#define PVCHAN_F_INDIRECT		1	/* segment tables (sqe.flags) */
#define PVCHAN_F_DEV_EVENTS		2	/* event interrupt, ABI 1.2 */
#define PVCHAN_F_STAGE_TIMES		3	/* host times in cqe, ABI 1.2 */
#define PVCHAN_F_KNOWN_MASK		0xfULL

/* Device types (pvchan_dev_desc.type). */
#define PVCHAN_DEV_ECHO			1	/* test device: copy and checksum */
#define PVCHAN_DEV_BLK			2	/* block device, ABI 1.1 */
#define PVCHAN_DEV_NET			3	/* network, ABI 1.3 */
#define PVCHAN_DEV_CLOCK		4	/* clock, ABI 1.4 */

/*
 * struct pvchan_hello - HELLO argument block, 64 bytes, read and written by
 * the host at the guest physical address passed in a0.
 * A guest passes the size it knows in a1 (at least 16 bytes); the host reads
 * and writes only that much, so an older guest with a shorter block works.
 */
struct pvchan_hello {
	/* in: guest */
	__le16 guest_major;
	__le16 guest_minor;
	__le32 pad0;
	__le64 guest_features;
	/* out: host */
	__le16 host_major;
	__le16 host_minor;
	__le32 num_devices;
	__le64 host_features;
	__le64 features;		/* negotiated: guest & host */
	__le32 max_queues;		/* per device */
	__le32 max_queue_size;		/* entries */
	__le64 reserved[2];
};

#define PVCHAN_HELLO_MIN_SIZE		16

/* struct pvchan_dev_desc - one device, 64 bytes, written by DEV_INFO. */
struct pvchan_dev_desc {
	__le32 type;			/* PVCHAN_DEV_* */
	__le32 dev_id;			/* stable across HELLOs */
	__le16 num_queues;
	__le16 max_queue_size;		/* entries, power of two */
	__le16 max_segs;		/* per request, with PVCHAN_F_INDIRECT */
	__le16 pad0;
	__le64 features;		/* device-type specific */
	__le32 config_len;		/* bytes readable with DEV_CONFIG */
	__le32 config_gen;		/* ABI 1.2, see PVCHAN_F_DEV_EVENTS */
	__u8 reserved[32];
};

/*
 * Device events (PVCHAN_F_DEV_EVENTS, ABI 1.2).  When a device is added or
 * removed while the guest runs, or its configuration changes (a block
 * device resized, say; the host then increments its config_gen), the host
 * raises the VM's event interrupt.  The guest routes that interrupt with
 * IRQ_ROUTE, a0 = PVCHAN_EVENT_DEV, a1 = 0; on it, it calls DEV_MAP, which
 * returns (as a non-negative RAX) a bitmap of the device indices present,
 * probes new ones, lets go of removed ones, and reads DEV_INFO again for the
 * others to compare config_gen.  Events raised before the route is set are
 * not lost: the guest does this once after routing.  Device indices are
 * never reused while the guest runs; a removed device's hypercalls fail
 * with PVCHAN_ENODEV.  Hosts before 1.2 leave config_gen 0.
 */
#define PVCHAN_EVENT_DEV		0xffffffffU

/*
 * Queue ring.  One guest-physically contiguous, page-aligned area inside a
 * single memory slot:
 *
 *	struct pvchan_ring_hdr			128 bytes
 *	struct pvchan_sqe sq[size]		submission entries
 *	struct pvchan_cqe cq[size]		completion entries
 *
 * size is a power of two.  All indices are free running 32-bit counters;
 * slot = index & (size - 1).  The guest produces sq entries and consumes cq
 * entries, the host does the reverse.  Requests may complete out of order;
 * req_id ties a completion to its request (and the traces on both sides).
 *
 * Notification suppression (PVCHAN_F_EVENT_IDX): a producer moving its index
 * from old to new notifies the consumer only if the consumer's event index
 * lies in [old, new), i.e. (__u32)(new - event - 1) < (__u32)(new - old).
 * Without the feature the guest kicks for every batch and the host raises an
 * interrupt for every batch of completions.
 */
/*
 * pvchan_need_event - must a producer that moved its index from old_idx to
 * new_idx notify a consumer whose event index is event?  True if event lies
 * in [old_idx, new_idx), modulo 2^32.
 */
static __inline__ int pvchan_need_event(__u32 event, __u32 new_idx,
					__u32 old_idx)
{
	return (__u32)(new_idx - event - 1) < (__u32)(new_idx - old_idx);
}

struct pvchan_ring_hdr {
	/* written by the guest */
	__le32 sq_prod;
	__le32 cq_cons;
	__le32 cq_event;		/* interrupt when cq_prod passes this */
	__le32 guest_flags;
	__u8 pad0[48];
	/* written by the host */
	__le32 sq_cons;
	__le32 sq_event;		/* kick when sq_prod passes this */
	__le32 cq_prod;
	__le32 host_flags;
	__u8 pad1[48];
};

/* struct pvchan_sqe - submission entry, 64 bytes. */
struct pvchan_sqe {
	__le64 req_id;
	__le16 opcode;			/* device-type specific */
	__le16 flags;			/* PVCHAN_SQE_F_* */
	__le32 len;			/* bytes at addr */
	__le64 addr;			/* data, or segment table if INDIRECT */
	__le64 args[5];			/* opcode specific */
};

#define PVCHAN_SQE_F_INDIRECT		0x1	/* addr/len: pvchan_seg table */

/*
 * struct pvchan_cqe - completion entry, 32 bytes.
 * With PVCHAN_F_STAGE_TIMES (ABI 1.2) the host says where a request spent
 * its time on the host, in nanoseconds, saturated at 0xffffffff: from the
 * worker taking it off the ring to the backend finishing (host_backend_ns),
 * and from there to this entry being written (host_post_ns).  The guest's
 * own submit-to-completion time minus these two is the channel's share
 * (notification, scheduling of the host worker, interrupt delivery).
 * Without the feature both are 0.
 */
struct pvchan_cqe {
	__le64 req_id;
	__le32 status;			/* PVCHAN_ST_* */
	__le32 len;			/* bytes produced */
	__le64 value;			/* opcode specific */
	__le32 host_backend_ns;		/* ABI 1.2, PVCHAN_F_STAGE_TIMES */
	__le32 host_post_ns;		/* ABI 1.2, PVCHAN_F_STAGE_TIMES */
};

/* struct pvchan_seg - one segment of an indirect table, 16 bytes. */
struct pvchan_seg {
	__le64 addr;
	__le32 len;
	__le32 flags;
};

/* Completion status. */
#define PVCHAN_ST_OK			0
#define PVCHAN_ST_IOERR			1	/* backend I/O error */
#define PVCHAN_ST_UNSUPP		2	/* opcode not supported */
#define PVCHAN_ST_INVAL			3	/* malformed request */
#define PVCHAN_ST_FAULT			4	/* buffer not in guest RAM */

#define PVCHAN_RING_HDR_SIZE		128
#define PVCHAN_RING_MAX_SIZE		4096	/* entries */
/* Bytes a ring of n entries occupies (not rounded to pages). */
#define PVCHAN_RING_BYTES(n)		(PVCHAN_RING_HDR_SIZE + (n) * (64 + 32))
#define PVCHAN_RING_SQ_OFF		PVCHAN_RING_HDR_SIZE
#define PVCHAN_RING_CQ_OFF(n)		(PVCHAN_RING_HDR_SIZE + (n) * 64)

/*
 * Echo device (PVCHAN_DEV_ECHO).  One opcode: the host copies len bytes from
 * addr to the guest buffer at args[0], and returns in cqe.value the CRC32
 * (crc32_le, seed ~0) of the data.  No device config, no device features.
 */
#define PVCHAN_ECHO_OP_COPY		1
#define PVCHAN_ECHO_MAX_LEN		65536

/*
 * Block device (PVCHAN_DEV_BLK), since ABI 1.1.
 *
 * Device features (pvchan_dev_desc.features, bit numbers) say what the
 * backend does; the guest uses only what it knows.  DEV_CONFIG returns a
 * struct pvchan_blk_config (config_len bytes; a guest reads at most what it
 * knows).
 *
 * Requests: sqe.args[0] is the first 512-byte sector.  READ and WRITE carry
 * data in a segment table: sqe.flags has PVCHAN_SQE_F_INDIRECT, sqe.addr is
 * the guest physical address of an array of struct pvchan_seg and sqe.len
 * its size in bytes (a multiple of 16, at most max_segs entries).  Each
 * segment lies in guest RAM, is a multiple of 512 bytes and at most
 * max_seg_size long.  DISCARD and WRITE_ZEROES carry no data: sqe.args[1]
 * is the number of sectors.  FLUSH has no arguments.  PVCHAN_SQE_F_FUA on a
 * WRITE asks for the data to be on stable storage at completion.
 * cqe.len is the number of bytes transferred.
 */
#define PVCHAN_BLK_F_RO			0	/* writes fail */
#define PVCHAN_BLK_F_FLUSH		1	/* volatile cache: FLUSH needed */
#define PVCHAN_BLK_F_FUA		2
#define PVCHAN_BLK_F_DISCARD		3
#define PVCHAN_BLK_F_WRITE_ZEROES	4

#define PVCHAN_BLK_OP_READ		1
#define PVCHAN_BLK_OP_WRITE		2
#define PVCHAN_BLK_OP_FLUSH		3
#define PVCHAN_BLK_OP_DISCARD		4
#define PVCHAN_BLK_OP_WRITE_ZEROES	5

#define PVCHAN_SQE_F_FUA		0x2

#define PVCHAN_BLK_SECTOR_SHIFT		9
#define PVCHAN_BLK_SERIAL_LEN		20

/* struct pvchan_blk_config - block device configuration, 64 bytes. */
struct pvchan_blk_config {
	__le64 capacity;		/* 512-byte sectors */
	__le32 logical_block_size;	/* bytes, power of two >= 512 */
	__le32 physical_block_size;
	__le32 max_segs;		/* per request */
	__le32 max_seg_size;		/* bytes */
	__le32 max_discard_sectors;
	__le32 max_write_zeroes_sectors;
	__le32 discard_granularity;	/* bytes */
	__le32 pad0;
	__u8 serial[PVCHAN_BLK_SERIAL_LEN];	/* not NUL-terminated if full */
	__le32 pad1;
};

/*
 * Network device (PVCHAN_DEV_NET), since ABI 1.3.
 *
 * Queues come in pairs: queue 2n receives (RX) and queue 2n + 1 transmits
 * (TX) for pair n; num_queues is even and the config says how many pairs
 * the host serves.  Every packet buffer starts with a struct
 * pvchan_net_hdr, followed by the Ethernet frame.  Buffers are segment
 * tables (PVCHAN_SQE_F_INDIRECT, at most max_segs entries, each segment
 * non-empty and in guest RAM; PVCHAN_NET_MAX_BUF bytes in all).
 *
 * TX: the guest fills the header and the frame; the host hands both to its
 * backend and completes with cqe.len = the bytes taken, status OK, or
 * IOERR when the backend dropped the frame (link down, offload metadata it
 * refuses).
 *
 * RX: the guest posts empty buffers; the host completes one per frame it
 * receives, in order, with cqe.len = header + frame bytes.  A frame larger
 * than the buffer is dropped: status IOERR, cqe.len its size.  The host
 * does not ask for kicks while it has buffers; it waits for frames.
 *
 * Offload metadata in the header follows the virtio-net header's rules
 * (VIRTIO_NET_HDR_F_*, VIRTIO_NET_HDR_GSO_*; same values): on TX the
 * guest may ask for a checksum (PVCHAN_NET_F_CSUM) and segmentation
 * (PVCHAN_NET_F_GSO); on RX the host marks checksums it verified.
 *
 * Receive offloads (PVCHAN_NET_F_GUEST_OFFLOADS): by default the host
 * delivers only whole, checksummed frames.  SET_OFFLOADS, a request without
 * a buffer on queue 1 (pair 0's TX queue), args[0] = PVCHAN_NET_OFFLOAD_*
 * bits, lets it deliver frames with a partial checksum (NEEDS_CSUM) and,
 * with a TSO bit, unsegmented frames of up to 64 KiB: the guest's receive
 * buffers must then hold PVCHAN_NET_MAX_BUF bytes.  Completes with OK, or
 * UNSUPP / INVAL (unknown bits, TSO without CSUM).  A queue reset of
 * queue 0 (a driver unloading, HELLO) turns them off again.
 */
#define PVCHAN_NET_F_MAC		0	/* config mac chosen by the host */
#define PVCHAN_NET_F_CSUM		1	/* TX: partial checksums */
#define PVCHAN_NET_F_GSO		2	/* TX: TCP segmentation */
#define PVCHAN_NET_F_MTU		3	/* config mtu is the largest */
#define PVCHAN_NET_F_STATUS		4	/* config status: link state */
#define PVCHAN_NET_F_GUEST_OFFLOADS	5	/* RX: SET_OFFLOADS */

#define PVCHAN_NET_OP_RX		1
#define PVCHAN_NET_OP_TX		2
#define PVCHAN_NET_OP_SET_OFFLOADS	3

/* SET_OFFLOADS args[0]: what the guest accepts on receive. */
#define PVCHAN_NET_OFFLOAD_CSUM		0x1
#define PVCHAN_NET_OFFLOAD_TSO4		0x2
#define PVCHAN_NET_OFFLOAD_TSO6		0x4
#define PVCHAN_NET_OFFLOAD_TSO_ECN	0x8
#define PVCHAN_NET_OFFLOAD_ALL		0xf

#define PVCHAN_NET_MAX_BUF		(65536 + 4096)	/* per buffer */
#define PVCHAN_NET_MIN_MTU		68
#define PVCHAN_NET_MAX_MTU		65500

/* struct pvchan_net_hdr - offload metadata before each frame, 12 bytes. */
struct pvchan_net_hdr {
	__u8 flags;			/* PVCHAN_NET_HDR_F_* */
	__u8 gso_type;			/* PVCHAN_NET_GSO_* */
	__le16 hdr_len;			/* TX GSO: bytes of headers */
	__le16 gso_size;		/* TX GSO: payload bytes per segment */
	__le16 csum_start;		/* NEEDS_CSUM: from the frame start */
	__le16 csum_offset;		/* NEEDS_CSUM: from csum_start */
	__le16 reserved;		/* zero */
};

#define PVCHAN_NET_HDR_F_NEEDS_CSUM	1
#define PVCHAN_NET_HDR_F_DATA_VALID	2
#define PVCHAN_NET_GSO_NONE		0
#define PVCHAN_NET_GSO_TCPV4		1
#define PVCHAN_NET_GSO_TCPV6		4
#define PVCHAN_NET_GSO_ECN		0x80

/* struct pvchan_net_config - network device configuration, 32 bytes. */
struct pvchan_net_config {
	__u8 mac[6];			/* PVCHAN_NET_F_MAC */
	__le16 status;			/* PVCHAN_NET_S_*, PVCHAN_NET_F_STATUS */
	__le16 mtu;			/* PVCHAN_NET_F_MTU */
	__le16 queue_pairs;		/* served pairs, <= num_queues / 2 */
	__le32 pad0;
	__u8 reserved[16];
};

#define PVCHAN_NET_S_LINK_UP		1

/*
 * Clock device (PVCHAN_DEV_CLOCK), since ABI 1.4.  Its queue is never set
 * up.  DEV_CONFIG returns a struct pvchan_clock_config: the guest's TSC
 * frequency as the host set it up (exact, in Hz) and whether the guest
 * may read the TSC as its clock (PVCHAN_CLOCK_S_TSC_STABLE: constant
 * rate, running in every power state, synchronised across vCPUs, host
 * clock TSC-based).  When either changes (migration, host suspend, a
 * TSC found unstable), the host increments config_gen and raises the
 * device event (PVCHAN_F_DEV_EVENTS); the guest must then re-read the
 * config and stop reading the TSC directly if it is no longer stable.
 *
 * PVCHAN_HC_CLOCK_PAIR, a0 = device, a1 = guest physical address of a
 * struct pvchan_clock_pair, a2 = its size (at least 32): the host writes
 * its CLOCK_REALTIME and the calling vCPU's TSC at the same instant
 * (the anchor: KVM_HC_CLOCK_PAIRING).  -PVCHAN_ENOCLOCK when the host's
 * clock is not TSC-based at that moment (no exact pair possible).
 *
 * Time records (PVCHAN_CLOCK_F_RECORD in pvchan_dev_desc.features, ABI
 * 1.5), for a guest that must not read its TSC as a clock by itself.
 * Each vCPU registers its own struct pvchan_clock_record with
 * PVCHAN_HC_CLOCK_RECORD, a0 = device, a1 = guest physical address
 * (8-byte aligned; 0 unregisters the calling vCPU's record), a2 = its
 * size (at least 32).  The host writes the record before the call
 * returns, then keeps it current (at least ten times a second, and when
 * the TSC's rate or stability changes): host time in ns (monotonic,
 * counting host suspend; its origin means nothing) paired with this
 * vCPU's TSC, and the rate to extrapolate with:
 *
 *	ns = system_ns + (((tsc_now - tsc) * mul) >> shift)
 *
 * with a 96-bit product, tsc_now - tsc taken as 0 when negative.  The
 * host makes version odd before changing the other fields and even
 * again after (the pvclock protocol): a reader retries while version is
 * odd or changed under it.  Records of different vCPUs may disagree by
 * the host's pairing error: a guest that reads them as one clock keeps
 * the largest value it returned and never returns less.  The host stops
 * writing a record on HELLO, on unregistration, and when the vCPU's TSC
 * went back (the vCPU was reset).
 */
#define PVCHAN_CLOCK_S_TSC_STABLE	0x1

#define PVCHAN_CLOCK_F_RECORD		0	/* time records, ABI 1.5 */

/* struct pvchan_clock_config - clock device configuration, 64 bytes. */
struct pvchan_clock_config {
	__le64 tsc_hz;			/* guest TSC frequency */
	__le32 status;			/* PVCHAN_CLOCK_S_* */
	__le32 pad0;
	__u8 reserved[48];
};

/* struct pvchan_clock_pair - CLOCK_PAIR result, 32 bytes. */
struct pvchan_clock_pair {
	__le64 realtime_sec;		/* host CLOCK_REALTIME */
	__le32 realtime_nsec;
	__le32 flags;			/* zero */
	__le64 tsc;			/* the calling vCPU's TSC then */
	__le64 reserved;
};

#define PVCHAN_CLOCK_PAIR_MIN_SIZE	32

/* struct pvchan_clock_record - one vCPU's time record, 64 bytes. */
struct pvchan_clock_record {
	__le32 version;			/* odd while the host writes */
	__le32 flags;			/* zero */
	__le64 tsc;			/* this vCPU's TSC at system_ns */
	__le64 system_ns;		/* host time */
	__le32 mul;			/* ns per TSC tick << shift */
	__u8 shift;			/* 0..32 */
	__u8 pad0[3];
	__u8 reserved[32];
};

#define PVCHAN_CLOCK_RECORD_MIN_SIZE	32

/*
 * Interrupt route: IRQ_ROUTE a0 = device, a1 = queue, a2 = vector (32..255),
 * a3 = APIC id of a vCPU; a0 = PVCHAN_EVENT_DEV, a1 = 0 routes the VM's
 * event interrupt.  The host sends a fixed, edge, physical-destination
 * interrupt there.  For PVCHAN_EVENT_DEV, a2 = 0 removes the route (a guest
 * driver unloading).
 */
#define PVCHAN_IRQ_VECTOR_MIN		32
#define PVCHAN_IRQ_VECTOR_MAX		255

#endif /* _PVCHAN_ABI_H */
