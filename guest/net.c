// SPDX-License-Identifier: GPL-2.0
/*
 * Network device driver (PVCHAN_DEV_NET): an Ethernet netdev, "pvnet0",
 * ..., with one queue pair (a receive and a transmit pvchan queue) and one
 * NAPI context per pair, up to one pair per vCPU.
 *
 * Transmit: each skb is one request whose segment table names a
 * struct pvchan_net_hdr (offloads) and the skb's head and fragments, in
 * place; the skb is freed when the host completes it.  Receive: buffers of
 * whole pages, enough for the MTU, wait on the receive ring; the host
 * fills one per frame.  Small frames are copied and their pages stay on the
 * ring, larger ones keep their first bytes in the skb head and the rest as
 * page fragments.  Both rings' interrupts schedule the pair's NAPI context,
 * which reaps transmit completions, receives, refills and re-arms.
 *
 * Request ids are a guest-wide sequence number shifted left by 16 with the
 * slot in the low bits; the full id, remembered in the slot, rejects
 * completions the host makes up.  Everything read from the host (lengths,
 * offload metadata, config) is checked.
 *
 * Locking: a ring is touched under its queue's lock (bottom halves off);
 * the receive slots belong to the pair's NAPI context (or to whoever
 * disabled it); the transmit slots are under the transmit queue's lock.
 * Reconfiguration (open, stop, MTU, recovery) runs under RTNL.
 */
#include <linux/debugfs.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_vlan.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/nospec.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/u64_stats_sync.h>
#include <linux/virtio_net.h>
#include <linux/workqueue.h>

#include "pvchan_guest.h"
#include "trace.h"

#define PVCHAN_NET_SLOT_BITS	16
#define PVCHAN_NET_SLOT_MASK	((1U << PVCHAN_NET_SLOT_BITS) - 1)
#define PVCHAN_NET_RX_MAX_PAGES	DIV_ROUND_UP(PVCHAN_NET_MAX_BUF, PAGE_SIZE)
#define PVCHAN_NET_TX_MAX_SEGS	(MAX_SKB_FRAGS + 2)
#define PVCHAN_NET_HDR_LEN	sizeof(struct pvchan_net_hdr)
/* Frames up to this size are copied; their pages stay on the ring. */
#define PVCHAN_NET_RX_COPY	256
/* Bytes of a larger frame put in the skb head (headers, for GRO). */
#define PVCHAN_NET_RX_HEAD	128

static bool rx_tso = true;
module_param(rx_tso, bool, 0444);
MODULE_PARM_DESC(rx_tso,
		 "Receive unsegmented TCP frames of up to 64 KiB from the host (64 KiB receive buffers; default on)");

static_assert(PVCHAN_RING_MAX_SIZE - 1 <= PVCHAN_NET_SLOT_MASK);
/* The header is handed to virtio_net_hdr_to_skb(): same layout. */
static_assert(offsetof(struct pvchan_net_hdr, csum_offset) ==
	      offsetof(struct virtio_net_hdr, csum_offset));

/*
 * Per-queue-pair counters (ethtool -S, debugfs).  Those below
 * PVCHAN_NET_NR_NAPI_STATS are written only by the pair's NAPI context (or
 * with it disabled) and read with u64_stats; the others, written from
 * transmit, the watchdog and the reset work, are atomic.
 */
enum {
	PVCHAN_NET_RX_PACKETS,
	PVCHAN_NET_RX_BYTES,
	PVCHAN_NET_RX_DROPS,		/* no memory for the skb */
	PVCHAN_NET_RX_LENGTH_ERRORS,	/* frame too big or too short */
	PVCHAN_NET_RX_FRAME_ERRORS,	/* offload metadata refused */
	PVCHAN_NET_RX_CSUM_VALID,
	PVCHAN_NET_RX_CSUM_PARTIAL,	/* receive offload: checksum */
	PVCHAN_NET_RX_GSO,		/* receive offload: unsegmented */
	PVCHAN_NET_RX_ALLOC_FAIL,	/* refill without pages */
	PVCHAN_NET_NAPI_POLLS,
	PVCHAN_NET_TX_PACKETS,
	PVCHAN_NET_TX_BYTES,
	PVCHAN_NET_TX_ERRORS,		/* host refused the frame */
	PVCHAN_NET_TX_WAKES,
	PVCHAN_NET_NR_NAPI_STATS,
	PVCHAN_NET_TX_DROPS = PVCHAN_NET_NR_NAPI_STATS,	/* not sent */
	PVCHAN_NET_TX_RING_FULL,	/* queue stopped */
	PVCHAN_NET_TX_TIMEOUTS,
	PVCHAN_NET_TX_RESETS,
	PVCHAN_NET_NR_STATS
};

static const char * const pvchan_net_stat_names[PVCHAN_NET_NR_STATS] = {
	"rx_packets", "rx_bytes", "rx_drops", "rx_length_errors",
	"rx_frame_errors", "rx_csum_valid", "rx_csum_partial", "rx_gso",
	"rx_alloc_fail", "napi_polls",
	"tx_packets", "tx_bytes", "tx_errors", "tx_wakes",
	"tx_drops", "tx_ring_full", "tx_timeouts", "tx_resets",
};

/* Counters read from the pvchan queues, after the pair's own. */
#define PVCHAN_NET_NR_QSTATS	4
static const char * const pvchan_net_qstat_names[PVCHAN_NET_NR_QSTATS] = {
	"rx_kicks", "rx_irqs", "tx_kicks", "tx_irqs",
};

struct pvchan_net_stats {
	struct u64_stats_sync syncp;
	u64_stats_t v[PVCHAN_NET_NR_NAPI_STATS];
	atomic64_t a[PVCHAN_NET_NR_STATS - PVCHAN_NET_NR_NAPI_STATS];
};

/*
 * struct pvchan_net_desc - what the host reads for one request: the
 * segment table, then (transmit) the header it points to.
 */
struct pvchan_net_desc {
	struct pvchan_seg segs[PVCHAN_NET_TX_MAX_SEGS];
	struct pvchan_net_hdr hdr;
};

static_assert(PVCHAN_NET_RX_MAX_PAGES <= PVCHAN_NET_TX_MAX_SEGS);

/**
 * struct pvchan_net_slot - a buffer that can be on a ring.
 * @req_id: id while on the ring, 0 otherwise.
 * @submit_ns: when it was put on the ring.
 * @desc: segment table (and header), in guest RAM.
 * @skb: transmit: the frame.
 * @npages: receive: pages in the buffer as posted.
 * @pages: receive: the buffer's pages (NULL where given away).
 */
struct pvchan_net_slot {
	u64 req_id;
	u64 submit_ns;
	struct pvchan_net_desc *desc;
	struct sk_buff *skb;
	unsigned int npages;
	struct page *pages[PVCHAN_NET_RX_MAX_PAGES];
};

/* Slots of one ring with a stack of free ones. */
struct pvchan_net_slots {
	struct pvchan_net_slot *slot;
	u16 *free;
	u32 nfree;
	u32 size;
};

/**
 * struct pvchan_net_pair - a receive and a transmit queue.
 * @net: owner.
 * @index: pair number (queues 2 * @index and 2 * @index + 1).
 * @rxq: receive queue.
 * @txq: transmit queue.
 * @napi: serves both queues' completions.
 * @rx: receive slots (owned by @napi).
 * @tx: transmit slots (under @txq's lock).
 * @rx_pages: pages per receive buffer for the current MTU.
 * @stats: counters.
 * @reset_tx: the transmit queue timed out and must be reset.
 */
struct pvchan_net_pair {
	struct pvchan_net *net;
	u16 index;
	struct pvchan_gqueue *rxq;
	struct pvchan_gqueue *txq;
	struct napi_struct napi;
	struct pvchan_net_slots rx;
	struct pvchan_net_slots tx;
	unsigned int rx_pages;
	struct pvchan_net_stats stats;
	bool reset_tx;
};

/**
 * struct pvchan_net - a network device.
 * @dev: the pvchan device.
 * @ndev: the netdev.
 * @max_segs: segments per request the host takes.
 * @rx_offloads: PVCHAN_NET_OFFLOAD_* asked of the host (SET_OFFLOADS).
 * @reset_work: resets timed-out transmit queues.
 * @refill_work: posts receive buffers when NAPI could not allocate them.
 * @dbg: debugfs directory.
 * @npairs: queue pairs in use.
 * @pairs: the pairs.
 */
struct pvchan_net {
	struct pvchan_gdev *dev;
	struct net_device *ndev;
	unsigned int max_segs;
	u64 rx_offloads;
	struct work_struct reset_work;
	struct delayed_work refill_work;
	struct dentry *dbg;
	u16 npairs;
	struct pvchan_net_pair pairs[];
};

static void pvchan_net_count(struct pvchan_net_pair *p, unsigned int stat,
			     u64 n)
{
	if (stat >= PVCHAN_NET_NR_NAPI_STATS) {
		atomic64_add(n, &p->stats.a[stat - PVCHAN_NET_NR_NAPI_STATS]);
		return;
	}
	u64_stats_update_begin(&p->stats.syncp);
	u64_stats_add(&p->stats.v[stat], n);
	u64_stats_update_end(&p->stats.syncp);
}

static u64 pvchan_net_stat(struct pvchan_net_pair *p, unsigned int stat)
{
	unsigned int start;
	u64 v;

	if (stat >= PVCHAN_NET_NR_NAPI_STATS)
		return atomic64_read(&p->stats.a[stat - PVCHAN_NET_NR_NAPI_STATS]);
	do {
		start = u64_stats_fetch_begin(&p->stats.syncp);
		v = u64_stats_read(&p->stats.v[stat]);
	} while (u64_stats_fetch_retry(&p->stats.syncp, start));
	return v;
}

static int pvchan_net_slots_alloc(struct pvchan_net_slots *s, u32 size)
{
	u32 i;

	s->size = size;
	s->slot = kvcalloc(size, sizeof(*s->slot), GFP_KERNEL);
	s->free = kvcalloc(size, sizeof(*s->free), GFP_KERNEL);
	if (!s->slot || !s->free)
		return -ENOMEM;
	for (i = 0; i < size; i++) {
		/* The host reads it by guest physical address: kmalloc. */
		s->slot[i].desc = kzalloc(sizeof(*s->slot[i].desc),
					  GFP_KERNEL);
		if (!s->slot[i].desc)
			return -ENOMEM;
		s->free[i] = size - 1 - i;
	}
	s->nfree = size;
	return 0;
}

/* Free the slots; the host holds none of them (queue reset). */
static void pvchan_net_slots_free(struct pvchan_net_slots *s)
{
	u32 i, j;

	for (i = 0; s->slot && i < s->size; i++) {
		struct pvchan_net_slot *slot = &s->slot[i];

		dev_kfree_skb_any(slot->skb);
		for (j = 0; j < PVCHAN_NET_RX_MAX_PAGES; j++)
			if (slot->pages[j])
				put_page(slot->pages[j]);
		kfree(slot->desc);
	}
	kvfree(s->slot);
	kvfree(s->free);
	s->slot = NULL;
	s->free = NULL;
}

static u64 pvchan_net_req_id(u32 slot)
{
	return (pvchan_new_req_id() << PVCHAN_NET_SLOT_BITS) | slot;
}

/*
 * The slot a completion names, taken off the ring, or NULL (counted) if the
 * host made it up.  Under the queue's lock.
 */
static struct pvchan_net_slot *pvchan_net_cqe_slot(struct pvchan_gqueue *q,
						   struct pvchan_net_slots *s,
						   const struct pvchan_cqe *cqe)
{
	u64 req_id = le64_to_cpu(cqe->req_id);
	u32 i = req_id & PVCHAN_NET_SLOT_MASK;
	struct pvchan_net_slot *slot;

	atomic64_inc(&q->stats.completed);
	trace_pvchan_guest_req_complete(q->dev->index, q->index, req_id,
					le32_to_cpu(cqe->status));
	if (i < s->size) {
		slot = &s->slot[array_index_nospec(i, s->size)];
		if (slot->req_id && slot->req_id == req_id) {
			slot->req_id = 0;
			pvchan_gqueue_account(q, slot->submit_ns, cqe);
			return slot;
		}
	}
	pvchan_gqueue_bad_cqe(q, req_id);
	return NULL;
}

/*
 * Put @slot on ring @q (under its lock; a free entry exists), with a
 * segment table of @nsegs entries (none: a request without a buffer).
 */
static struct pvchan_sqe *pvchan_net_post(struct pvchan_gqueue *q,
					  struct pvchan_net_slots *s,
					  struct pvchan_net_slot *slot, u16 op,
					  unsigned int nsegs)
{
	struct pvchan_sqe *sqe = pvchan_gring_next_sqe(&q->ring);
	u32 i = slot - s->slot;

	/* As many slots as ring entries: never NULL. */
	if (WARN_ON_ONCE(!sqe))
		return NULL;
	slot->req_id = pvchan_net_req_id(i);
	slot->submit_ns = ktime_get_ns();
	sqe->req_id = cpu_to_le64(slot->req_id);
	sqe->opcode = cpu_to_le16(op);
	if (nsegs) {
		sqe->flags = cpu_to_le16(PVCHAN_SQE_F_INDIRECT);
		sqe->addr = cpu_to_le64(virt_to_phys(slot->desc->segs));
		sqe->len = cpu_to_le32(nsegs * sizeof(struct pvchan_seg));
	}
	atomic64_inc(&q->stats.submitted);
	trace_pvchan_guest_req_submit(q->dev->index, q->index, slot->req_id,
				      op);
	return sqe;
}

/* ---- receive ---- */

/* Pages per receive buffer: 64 KiB frames with TSO, else the MTU's. */
static unsigned int pvchan_net_rx_pages(struct pvchan_net *net,
					unsigned int mtu)
{
	if (net->rx_offloads & ~PVCHAN_NET_OFFLOAD_CSUM)
		return PVCHAN_NET_RX_MAX_PAGES;
	return DIV_ROUND_UP(PVCHAN_NET_HDR_LEN + VLAN_ETH_HLEN + mtu,
			    PAGE_SIZE);
}

/*
 * Post every free receive slot.  NAPI context, or NAPI disabled.  Returns
 * false if pages ran out (pvchan_net_refill_work() tries again).
 */
static bool pvchan_net_rx_refill(struct pvchan_net_pair *p, gfp_t gfp)
{
	struct pvchan_net_slots *s = &p->rx;
	struct pvchan_gqueue *q = p->rxq;
	unsigned int i, posted = 0;

	while (s->nfree) {
		struct pvchan_net_slot *slot = &s->slot[s->free[s->nfree - 1]];

		for (i = 0; i < p->rx_pages; i++) {
			if (!slot->pages[i])
				slot->pages[i] = alloc_page(gfp);
			if (!slot->pages[i])
				break;
			slot->desc->segs[i].addr =
				cpu_to_le64(page_to_phys(slot->pages[i]));
			slot->desc->segs[i].len = cpu_to_le32(PAGE_SIZE);
		}
		if (i < p->rx_pages) {
			pvchan_net_count(p, PVCHAN_NET_RX_ALLOC_FAIL, 1);
			break;
		}
		s->nfree--;
		slot->npages = p->rx_pages;
		spin_lock_bh(&q->lock);
		pvchan_net_post(q, s, slot, PVCHAN_NET_OP_RX, p->rx_pages);
		spin_unlock_bh(&q->lock);
		posted++;
	}
	if (posted) {
		spin_lock_bh(&q->lock);
		pvchan_gqueue_kick(q);
		spin_unlock_bh(&q->lock);
	}
	return !s->nfree;
}

/* Build the skb of a received frame of @len bytes (header included). */
static struct sk_buff *pvchan_net_rx_skb(struct pvchan_net_pair *p,
					 struct pvchan_net_slot *slot, u32 len)
{
	u32 flen = len - PVCHAN_NET_HDR_LEN, copy, off, chunk;
	u8 *first = page_address(slot->pages[0]) + PVCHAN_NET_HDR_LEN;
	struct sk_buff *skb;
	unsigned int i;

	copy = flen <= PVCHAN_NET_RX_COPY ? flen : PVCHAN_NET_RX_HEAD;
	skb = napi_alloc_skb(&p->napi, copy);
	if (!skb)
		return NULL;
	skb_put_data(skb, first, copy);
	flen -= copy;
	off = PVCHAN_NET_HDR_LEN + copy;
	for (i = 0; flen; i++) {
		if (off == PAGE_SIZE) {
			off = 0;
			continue;
		}
		chunk = min_t(u32, flen, PAGE_SIZE - off);
		/* The skb takes the page; refill allocates another. */
		skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags,
				slot->pages[i], off, chunk, PAGE_SIZE);
		slot->pages[i] = NULL;
		flen -= chunk;
		off = 0;
	}
	return skb;
}

/* Pass one completed receive buffer up; its slot is then free. */
static void pvchan_net_rx_one(struct pvchan_net_pair *p,
			      struct pvchan_net_slot *slot,
			      const struct pvchan_cqe *cqe)
{
	struct net_device *ndev = p->net->ndev;
	u32 len = le32_to_cpu(cqe->len);
	struct pvchan_net_hdr hdr;
	struct virtio_net_hdr vh;
	struct sk_buff *skb;

	/* Another reader took the frame (ABI): the buffer simply comes back. */
	if (cqe->status == cpu_to_le32(PVCHAN_ST_OK) && !len)
		return;
	if (cqe->status != cpu_to_le32(PVCHAN_ST_OK) ||
	    len < PVCHAN_NET_HDR_LEN + ETH_HLEN ||
	    len > slot->npages * PAGE_SIZE) {
		pvchan_net_count(p, PVCHAN_NET_RX_LENGTH_ERRORS, 1);
		return;
	}
	memcpy(&hdr, page_address(slot->pages[0]), sizeof(hdr));
	skb = pvchan_net_rx_skb(p, slot, len);
	if (!skb) {
		pvchan_net_count(p, PVCHAN_NET_RX_DROPS, 1);
		return;
	}
	memcpy(&vh, &hdr, sizeof(vh));
	if (virtio_net_hdr_to_skb(skb, &vh, true)) {
		pvchan_net_count(p, PVCHAN_NET_RX_FRAME_ERRORS, 1);
		dev_kfree_skb_any(skb);
		return;
	}
	if (hdr.flags & PVCHAN_NET_HDR_F_NEEDS_CSUM)
		pvchan_net_count(p, PVCHAN_NET_RX_CSUM_PARTIAL, 1);
	if (skb_is_gso(skb))
		pvchan_net_count(p, PVCHAN_NET_RX_GSO, 1);
	if ((hdr.flags & PVCHAN_NET_HDR_F_DATA_VALID) &&
	    (ndev->features & NETIF_F_RXCSUM)) {
		skb->ip_summed = CHECKSUM_UNNECESSARY;
		pvchan_net_count(p, PVCHAN_NET_RX_CSUM_VALID, 1);
	}
	u64_stats_update_begin(&p->stats.syncp);
	u64_stats_inc(&p->stats.v[PVCHAN_NET_RX_PACKETS]);
	u64_stats_add(&p->stats.v[PVCHAN_NET_RX_BYTES], skb->len);
	u64_stats_update_end(&p->stats.syncp);
	skb_record_rx_queue(skb, p->index);
	skb->protocol = eth_type_trans(skb, ndev);
	napi_gro_receive(&p->napi, skb);
}

static int pvchan_net_rx(struct pvchan_net_pair *p, int budget)
{
	struct pvchan_net_slots *s = &p->rx;
	struct pvchan_gqueue *q = p->rxq;
	struct pvchan_net_slot *slot;
	struct pvchan_cqe cqe;
	int done = 0, n;

	/* Bounded also in entries: unknown ones give their credit back. */
	for (n = 2 * q->ring.size; done < budget && n; n--) {
		spin_lock(&q->lock);
		if (!pvchan_gring_get_cqe(&q->ring, &cqe)) {
			spin_unlock(&q->lock);
			break;
		}
		slot = pvchan_net_cqe_slot(q, s, &cqe);
		spin_unlock(&q->lock);
		if (!slot)
			continue;
		pvchan_net_rx_one(p, slot, &cqe);
		s->free[s->nfree++] = slot - s->slot;
		done++;
	}
	return done;
}

/* ---- transmit ---- */

/* Reap transmit completions; under nothing, bottom halves off. */
static void pvchan_net_tx_reap(struct pvchan_net_pair *p, int budget)
{
	struct netdev_queue *nq = netdev_get_tx_queue(p->net->ndev, p->index);
	struct pvchan_gqueue *q = p->txq;
	struct pvchan_net_slot *slot;
	unsigned int pkts = 0, bytes = 0, errors = 0, n = 2 * q->ring.size;
	struct pvchan_cqe cqe;

	spin_lock(&q->lock);
	while (n-- && pvchan_gring_get_cqe(&q->ring, &cqe)) {
		slot = pvchan_net_cqe_slot(q, &p->tx, &cqe);
		if (!slot)
			continue;
		if (!slot->skb) {
			/* SET_OFFLOADS: big buffers stay, frames stay small. */
			if (cqe.status != cpu_to_le32(PVCHAN_ST_OK))
				netdev_warn(p->net->ndev, "host refused receive offloads %#llx (status %u)\n",
					    p->net->rx_offloads,
					    le32_to_cpu(cqe.status));
			p->tx.free[p->tx.nfree++] = slot - p->tx.slot;
			continue;
		}
		pkts++;
		bytes += slot->skb->len;
		if (cqe.status != cpu_to_le32(PVCHAN_ST_OK))
			errors++;
		napi_consume_skb(slot->skb, budget);
		slot->skb = NULL;
		p->tx.free[p->tx.nfree++] = slot - p->tx.slot;
	}
	if (pkts) {
		netdev_tx_completed_queue(nq, pkts, bytes);
		if (netif_tx_queue_stopped(nq)) {
			netif_tx_wake_queue(nq);
			pvchan_net_count(p, PVCHAN_NET_TX_WAKES, 1);
		}
	}
	spin_unlock(&q->lock);
	if (!pkts)
		return;
	u64_stats_update_begin(&p->stats.syncp);
	u64_stats_add(&p->stats.v[PVCHAN_NET_TX_PACKETS], pkts - errors);
	u64_stats_add(&p->stats.v[PVCHAN_NET_TX_BYTES], bytes);
	u64_stats_add(&p->stats.v[PVCHAN_NET_TX_ERRORS], errors);
	u64_stats_update_end(&p->stats.syncp);
}

/* Describe @skb in @desc; returns the number of segments. */
static unsigned int pvchan_net_tx_map(struct sk_buff *skb,
				      struct pvchan_net_desc *desc)
{
	struct pvchan_seg *seg = desc->segs;
	unsigned int i;

	seg->addr = cpu_to_le64(virt_to_phys(&desc->hdr));
	seg->len = cpu_to_le32(PVCHAN_NET_HDR_LEN);
	seg++;
	if (skb_headlen(skb)) {
		seg->addr = cpu_to_le64(virt_to_phys(skb->data));
		seg->len = cpu_to_le32(skb_headlen(skb));
		seg++;
	}
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];

		seg->addr = cpu_to_le64(page_to_phys(skb_frag_page(f)) +
					skb_frag_off(f));
		seg->len = cpu_to_le32(skb_frag_size(f));
		seg++;
	}
	return seg - desc->segs;
}

static netdev_tx_t pvchan_net_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct pvchan_net *net = netdev_priv(ndev);
	struct pvchan_net_pair *p = &net->pairs[skb_get_queue_mapping(skb)];
	struct netdev_queue *nq = netdev_get_tx_queue(ndev, p->index);
	struct pvchan_gqueue *q = p->txq;
	struct pvchan_net_slot *slot;
	struct virtio_net_hdr vh;
	unsigned int nsegs;

	/* Head + fragments + header within the host's segment limit. */
	if (2 + skb_shinfo(skb)->nr_frags > net->max_segs &&
	    skb_linearize(skb))
		goto drop;
	if (virtio_net_hdr_from_skb(skb, &vh, true, false, 0))
		goto drop;

	spin_lock(&q->lock);
	if (!p->tx.nfree) {
		/* Stopped when the last slot went: should not happen. */
		netif_tx_stop_queue(nq);
		spin_unlock(&q->lock);
		return NETDEV_TX_BUSY;
	}
	slot = &p->tx.slot[p->tx.free[--p->tx.nfree]];
	memset(&slot->desc->hdr, 0, sizeof(slot->desc->hdr));
	memcpy(&slot->desc->hdr, &vh, sizeof(vh));
	nsegs = pvchan_net_tx_map(skb, slot->desc);
	slot->skb = skb;
	skb_tx_timestamp(skb);
	netdev_tx_sent_queue(nq, skb->len);
	pvchan_net_post(q, &p->tx, slot, PVCHAN_NET_OP_TX, nsegs);
	if (!p->tx.nfree) {
		netif_tx_stop_queue(nq);
		pvchan_net_count(p, PVCHAN_NET_TX_RING_FULL, 1);
	}
	if (!netdev_xmit_more() || netif_xmit_stopped(nq))
		pvchan_gqueue_kick(q);
	spin_unlock(&q->lock);
	return NETDEV_TX_OK;

drop:
	pvchan_net_count(p, PVCHAN_NET_TX_DROPS, 1);
	dev_kfree_skb_any(skb);
	/* Frames batched before this one must not wait for the next. */
	if (!netdev_xmit_more()) {
		spin_lock(&q->lock);
		pvchan_gqueue_kick(q);
		spin_unlock(&q->lock);
	}
	return NETDEV_TX_OK;
}

/*
 * Ask the host for the receive offloads (SET_OFFLOADS on pair 0's transmit
 * queue); the completion is reaped with the frames'.  Receive buffers are
 * already sized for what is asked.
 */
static void pvchan_net_set_offloads(struct pvchan_net *net)
{
	struct pvchan_net_pair *p = &net->pairs[0];
	struct pvchan_gqueue *q = p->txq;
	struct pvchan_net_slot *slot;
	struct pvchan_sqe *sqe;

	if (!net->rx_offloads)
		return;
	spin_lock_bh(&q->lock);
	if (p->tx.nfree) {
		slot = &p->tx.slot[p->tx.free[--p->tx.nfree]];
		slot->skb = NULL;
		sqe = pvchan_net_post(q, &p->tx, slot,
				      PVCHAN_NET_OP_SET_OFFLOADS, 0);
		if (sqe)
			sqe->args[0] = cpu_to_le64(net->rx_offloads);
		pvchan_gqueue_kick(q);
	} else {
		netdev_warn(net->ndev, "no room to ask for receive offloads\n");
	}
	spin_unlock_bh(&q->lock);
}

/* ---- NAPI and interrupts ---- */

/* Ask both rings for an interrupt; true if completions came meanwhile. */
static bool pvchan_net_arm(struct pvchan_net_pair *p)
{
	bool more;

	spin_lock(&p->rxq->lock);
	more = pvchan_gring_arm(&p->rxq->ring);
	spin_unlock(&p->rxq->lock);
	spin_lock(&p->txq->lock);
	more |= pvchan_gring_arm(&p->txq->ring);
	spin_unlock(&p->txq->lock);
	return more;
}

static int pvchan_net_poll(struct napi_struct *napi, int budget)
{
	struct pvchan_net_pair *p = container_of(napi, struct pvchan_net_pair,
						 napi);
	int done;

	pvchan_net_count(p, PVCHAN_NET_NAPI_POLLS, 1);
	pvchan_net_tx_reap(p, budget);
	done = pvchan_net_rx(p, budget);
	if (!pvchan_net_rx_refill(p, GFP_ATOMIC))
		schedule_delayed_work(&p->net->refill_work, HZ / 10);
	if (done < budget && napi_complete_done(napi, done) &&
	    pvchan_net_arm(p))
		napi_schedule(napi);
	return done;
}

static irqreturn_t pvchan_net_irq(int irq, void *data)
{
	struct pvchan_gqueue *q = data;
	struct pvchan_net *net = q->dev->priv;

	atomic64_inc(&q->stats.irqs);
	napi_schedule_irqoff(&net->pairs[q->index / 2].napi);
	return IRQ_HANDLED;
}

static void pvchan_net_napi_kick(struct pvchan_net_pair *p)
{
	local_bh_disable();
	napi_schedule(&p->napi);
	local_bh_enable();
}

/* ---- netdev ---- */

static void pvchan_net_link(struct pvchan_net *net)
{
	struct pvchan_net_config cfg;

	if (!(le64_to_cpu(net->dev->desc.features) &
	      BIT_ULL(PVCHAN_NET_F_STATUS)) ||
	    (!pvchan_dev_config(net->dev, &cfg, sizeof(cfg)) &&
	     (le16_to_cpu(cfg.status) & PVCHAN_NET_S_LINK_UP)))
		netif_carrier_on(net->ndev);
	else
		netif_carrier_off(net->ndev);
}

static int pvchan_net_open(struct net_device *ndev)
{
	struct pvchan_net *net = netdev_priv(ndev);
	unsigned int i;

	for (i = 0; i < net->npairs; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];

		/* Buffers already posted may be larger: keep their size. */
		p->rx_pages = max(p->rx_pages,
				  pvchan_net_rx_pages(net, ndev->mtu));
		if (!pvchan_net_rx_refill(p, GFP_KERNEL))
			schedule_delayed_work(&net->refill_work, HZ / 10);
		napi_enable(&p->napi);
		/* Completions that came while the device was down. */
		pvchan_net_napi_kick(p);
	}
	netif_tx_start_all_queues(ndev);
	return 0;
}

static int pvchan_net_stop(struct net_device *ndev)
{
	struct pvchan_net *net = netdev_priv(ndev);
	unsigned int i;

	netif_tx_disable(ndev);
	for (i = 0; i < net->npairs; i++)
		napi_disable(&net->pairs[i].napi);
	return 0;
}

/*
 * Restart a queue of a stopped pair (NAPI disabled): the host lets go of
 * its buffers, which are free again.  Frames on the transmit ring are
 * dropped (counted).
 */
static int pvchan_net_restart(struct pvchan_net_pair *p,
			      struct pvchan_gqueue *q)
{
	struct pvchan_net_slots *s = q == p->rxq ? &p->rx : &p->tx;
	unsigned int dropped = 0;
	u32 i;
	int ret;

	ret = pvchan_gqueue_restart(q);
	spin_lock_bh(&q->lock);
	s->nfree = 0;
	for (i = 0; i < s->size; i++) {
		struct pvchan_net_slot *slot = &s->slot[i];

		slot->req_id = 0;
		if (slot->skb) {
			dev_kfree_skb_any(slot->skb);
			slot->skb = NULL;
			dropped++;
		}
		s->free[s->nfree++] = i;
	}
	spin_unlock_bh(&q->lock);
	if (q == p->txq) {
		netdev_tx_reset_queue(netdev_get_tx_queue(p->net->ndev,
							  p->index));
		pvchan_net_count(p, PVCHAN_NET_TX_DROPS, dropped);
		pvchan_net_count(p, PVCHAN_NET_TX_RESETS, 1);
	}
	return ret;
}

static int pvchan_net_change_mtu(struct net_device *ndev, int mtu)
{
	struct pvchan_net *net = netdev_priv(ndev);
	unsigned int i;
	int ret = 0;

	if (!netif_running(ndev) ||
	    pvchan_net_rx_pages(net, mtu) <=
	    pvchan_net_rx_pages(net, ndev->mtu)) {
		ndev->mtu = mtu;
		return 0;
	}
	/* Larger buffers: take the posted ones back from the host. */
	for (i = 0; i < net->npairs; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];

		napi_disable(&p->napi);
		p->rx_pages = pvchan_net_rx_pages(net, mtu);
		if (pvchan_net_restart(p, p->rxq)) {
			/* The ring is gone: no buffers for it, no carrier. */
			netdev_err(ndev, "rx queue %u: host refused the reset\n",
				   i);
			netif_carrier_off(ndev);
			ret = -EIO;
		} else if (!pvchan_net_rx_refill(p, GFP_KERNEL)) {
			schedule_delayed_work(&net->refill_work, HZ / 10);
		}
		napi_enable(&p->napi);
		pvchan_net_napi_kick(p);
	}
	/* Resetting queue 0 turned the host's receive offloads off. */
	pvchan_net_set_offloads(net);
	ndev->mtu = mtu;
	return ret;
}

static void pvchan_net_tx_timeout(struct net_device *ndev, unsigned int txq)
{
	struct pvchan_net *net = netdev_priv(ndev);
	struct pvchan_net_pair *p = &net->pairs[txq];

	pvchan_net_count(p, PVCHAN_NET_TX_TIMEOUTS, 1);
	netdev_warn(ndev, "tx queue %u timed out (%u in flight), resetting it\n",
		    txq, p->tx.size - READ_ONCE(p->tx.nfree));
	WRITE_ONCE(p->reset_tx, true);
	schedule_work(&net->reset_work);
}

/* Reset the transmit queues that timed out; traffic resumes. */
static void pvchan_net_reset_work(struct work_struct *work)
{
	struct pvchan_net *net = container_of(work, struct pvchan_net,
					      reset_work);
	struct net_device *ndev = net->ndev;
	unsigned int i;

	rtnl_lock();
	for (i = 0; i < net->npairs; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];
		struct netdev_queue *nq = netdev_get_tx_queue(ndev, i);

		if (!xchg(&p->reset_tx, false) || !netif_running(ndev))
			continue;
		napi_disable(&p->napi);
		netif_tx_lock_bh(ndev);
		netif_tx_stop_queue(nq);
		netif_tx_unlock_bh(ndev);
		if (pvchan_net_restart(p, p->txq)) {
			/* The ring is gone: the queue stays stopped. */
			netdev_err(ndev, "tx queue %u: host refused the reset\n",
				   i);
			netif_carrier_off(ndev);
			napi_enable(&p->napi);
			continue;
		}
		napi_enable(&p->napi);
		netif_tx_wake_queue(nq);
		pvchan_net_napi_kick(p);
	}
	rtnl_unlock();
}

/*
 * Receive buffers that NAPI could not allocate (GFP_ATOMIC): with the ring
 * empty no interrupt would ever run NAPI again, so try here, sleeping.
 * Under RTNL, like open and stop, which it must not race with.
 */
static void pvchan_net_refill_work(struct work_struct *work)
{
	struct pvchan_net *net = container_of(to_delayed_work(work),
					      struct pvchan_net, refill_work);
	bool again = false;
	unsigned int i;

	rtnl_lock();
	for (i = 0; netif_running(net->ndev) && i < net->npairs; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];

		napi_disable(&p->napi);
		again |= !pvchan_net_rx_refill(p, GFP_KERNEL);
		napi_enable(&p->napi);
		pvchan_net_napi_kick(p);
	}
	rtnl_unlock();
	if (again)
		schedule_delayed_work(&net->refill_work, HZ / 2);
}

static void pvchan_net_get_stats64(struct net_device *ndev,
				   struct rtnl_link_stats64 *st)
{
	struct pvchan_net *net = netdev_priv(ndev);
	unsigned int i;

	for (i = 0; i < net->npairs; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];

		st->rx_packets += pvchan_net_stat(p, PVCHAN_NET_RX_PACKETS);
		st->rx_bytes += pvchan_net_stat(p, PVCHAN_NET_RX_BYTES);
		st->rx_dropped += pvchan_net_stat(p, PVCHAN_NET_RX_DROPS);
		st->rx_length_errors +=
			pvchan_net_stat(p, PVCHAN_NET_RX_LENGTH_ERRORS);
		st->rx_frame_errors +=
			pvchan_net_stat(p, PVCHAN_NET_RX_FRAME_ERRORS);
		st->tx_packets += pvchan_net_stat(p, PVCHAN_NET_TX_PACKETS);
		st->tx_bytes += pvchan_net_stat(p, PVCHAN_NET_TX_BYTES);
		st->tx_errors += pvchan_net_stat(p, PVCHAN_NET_TX_ERRORS);
		st->tx_dropped += pvchan_net_stat(p, PVCHAN_NET_TX_DROPS);
	}
	st->rx_errors = st->rx_length_errors + st->rx_frame_errors;
}

static const struct net_device_ops pvchan_net_ops = {
	.ndo_open = pvchan_net_open,
	.ndo_stop = pvchan_net_stop,
	.ndo_start_xmit = pvchan_net_xmit,
	.ndo_change_mtu = pvchan_net_change_mtu,
	.ndo_tx_timeout = pvchan_net_tx_timeout,
	.ndo_get_stats64 = pvchan_net_get_stats64,
	.ndo_set_mac_address = eth_mac_addr,
	.ndo_validate_addr = eth_validate_addr,
};

/* ---- ethtool ---- */

static void pvchan_net_get_drvinfo(struct net_device *ndev,
				   struct ethtool_drvinfo *info)
{
	struct pvchan_net *net = netdev_priv(ndev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	snprintf(info->version, sizeof(info->version), "abi %u.%u",
		 PVCHAN_ABI_MAJOR, PVCHAN_ABI_MINOR);
	snprintf(info->fw_version, sizeof(info->fw_version), "host abi %u.%u",
		 pvchan_chan.host_major, pvchan_chan.host_minor);
	snprintf(info->bus_info, sizeof(info->bus_info), "pvchan:dev%u",
		 net->dev->index);
}

static int pvchan_net_get_sset_count(struct net_device *ndev, int sset)
{
	struct pvchan_net *net = netdev_priv(ndev);

	if (sset != ETH_SS_STATS)
		return -EOPNOTSUPP;
	return net->npairs * (PVCHAN_NET_NR_STATS + PVCHAN_NET_NR_QSTATS);
}

static void pvchan_net_get_strings(struct net_device *ndev, u32 sset, u8 *buf)
{
	struct pvchan_net *net = netdev_priv(ndev);
	unsigned int i, j;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < net->npairs; i++) {
		for (j = 0; j < PVCHAN_NET_NR_STATS; j++)
			ethtool_sprintf(&buf, "q%u_%s", i,
					pvchan_net_stat_names[j]);
		for (j = 0; j < PVCHAN_NET_NR_QSTATS; j++)
			ethtool_sprintf(&buf, "q%u_%s", i,
					pvchan_net_qstat_names[j]);
	}
}

static void pvchan_net_get_ethtool_stats(struct net_device *ndev,
					 struct ethtool_stats *es, u64 *data)
{
	struct pvchan_net *net = netdev_priv(ndev);
	unsigned int i, j;

	for (i = 0; i < net->npairs; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];

		for (j = 0; j < PVCHAN_NET_NR_STATS; j++)
			*data++ = pvchan_net_stat(p, j);
		*data++ = atomic64_read(&p->rxq->stats.kicks);
		*data++ = atomic64_read(&p->rxq->stats.irqs);
		*data++ = atomic64_read(&p->txq->stats.kicks);
		*data++ = atomic64_read(&p->txq->stats.irqs);
	}
}

static void pvchan_net_get_channels(struct net_device *ndev,
				    struct ethtool_channels *ch)
{
	struct pvchan_net *net = netdev_priv(ndev);

	ch->max_combined = net->npairs;
	ch->combined_count = net->npairs;
}

static void pvchan_net_get_ringparam(struct net_device *ndev,
				     struct ethtool_ringparam *rp,
				     struct kernel_ethtool_ringparam *krp,
				     struct netlink_ext_ack *extack)
{
	struct pvchan_net *net = netdev_priv(ndev);

	rp->rx_max_pending = net->dev->queue_size;
	rp->tx_max_pending = net->dev->queue_size;
	rp->rx_pending = net->dev->queue_size;
	rp->tx_pending = net->dev->queue_size;
}

static const struct ethtool_ops pvchan_net_ethtool_ops = {
	.get_drvinfo = pvchan_net_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = pvchan_net_get_sset_count,
	.get_strings = pvchan_net_get_strings,
	.get_ethtool_stats = pvchan_net_get_ethtool_stats,
	.get_channels = pvchan_net_get_channels,
	.get_ringparam = pvchan_net_get_ringparam,
};

/* ---- probe and remove ---- */

static int pvchan_net_stats_show(struct seq_file *m, void *unused)
{
	struct pvchan_net_pair *p = m->private;
	unsigned int j;

	for (j = 0; j < PVCHAN_NET_NR_STATS; j++)
		seq_printf(m, "%s %llu\n", pvchan_net_stat_names[j],
			   pvchan_net_stat(p, j));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_net_stats);

static int pvchan_net_qstats_show(struct seq_file *m, void *unused)
{
	pvchan_gqueue_stats_show(m, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_net_qstats);

/* net<dev>/pair<n>: the pair's counters; net<dev>/q<n>/stats: a queue's. */
static void pvchan_net_debugfs_init(struct pvchan_net *net)
{
	unsigned int i;
	char name[16];

	snprintf(name, sizeof(name), "net%u", net->dev->index);
	net->dbg = debugfs_create_dir(name, pvchan_gdbg_root);
	for (i = 0; i < net->npairs; i++) {
		snprintf(name, sizeof(name), "pair%u", i);
		debugfs_create_file(name, 0444, net->dbg, &net->pairs[i],
				    &pvchan_net_stats_fops);
	}
	for (i = 0; i < 2 * net->npairs; i++) {
		struct pvchan_gqueue *q = &net->dev->queues[i];

		snprintf(name, sizeof(name), "q%u", i);
		q->dbg = debugfs_create_dir(name, net->dbg);
		debugfs_create_file("stats", 0444, q->dbg, q,
				    &pvchan_net_qstats_fops);
	}
}

static void pvchan_net_free_pairs(struct pvchan_net *net, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];

		pvchan_gqueue_destroy(p->txq);
		pvchan_gqueue_destroy(p->rxq);
		pvchan_net_slots_free(&p->rx);
		pvchan_net_slots_free(&p->tx);
	}
}

static int pvchan_net_init_pair(struct pvchan_net *net, unsigned int i,
				unsigned int cpu)
{
	struct pvchan_gdev *dev = net->dev;
	struct pvchan_net_pair *p = &net->pairs[i];
	int ret;

	p->net = net;
	p->index = i;
	p->rxq = &dev->queues[2 * i];
	p->txq = &dev->queues[2 * i + 1];
	u64_stats_init(&p->stats.syncp);
	ret = pvchan_net_slots_alloc(&p->rx, dev->queue_size);
	if (!ret)
		ret = pvchan_net_slots_alloc(&p->tx, dev->queue_size);
	if (ret)
		goto out_free;
	/* Before the interrupts: a disabled NAPI ignores early ones. */
	netif_napi_add(net->ndev, &p->napi, pvchan_net_poll);
	p->rxq->handler = pvchan_net_irq;
	p->txq->handler = pvchan_net_irq;
	ret = pvchan_gqueue_init(dev, p->rxq, 2 * i, cpu);
	if (ret)
		goto out_del;
	ret = pvchan_gqueue_init(dev, p->txq, 2 * i + 1, cpu);
	if (ret) {
		pvchan_gqueue_destroy(p->rxq);
		goto out_del;
	}
	return 0;

out_del:
	netif_napi_del(&p->napi);
out_free:
	pvchan_net_slots_free(&p->rx);
	pvchan_net_slots_free(&p->tx);
	return ret;
}

/**
 * pvchan_net_probe() - set up a network device: read and check its config,
 * start its queue pairs and register the netdev.
 * @dev: device enumerated from the host, of type PVCHAN_DEV_NET.
 *
 * Return: 0, -ENODEV (declined: logged), or a negative errno.
 */
int pvchan_net_probe(struct pvchan_gdev *dev)
{
	u64 features = le64_to_cpu(dev->desc.features);
	struct pvchan_net_config cfg;
	unsigned int npairs, i, cpu, mtu = ETH_DATA_LEN;
	struct net_device *ndev;
	struct pvchan_net *net;
	int ret;

	ret = pvchan_dev_config(dev, &cfg, sizeof(cfg));
	if (ret)
		return ret;
	npairs = min3((unsigned int)le16_to_cpu(cfg.queue_pairs),
		      (unsigned int)dev->num_queues / 2, num_online_cpus());
	if (!npairs || le16_to_cpu(dev->desc.max_segs) < 3) {
		pr_err("dev%u: unusable network device (%u queue pairs, %u segments)\n",
		       dev->index, npairs, le16_to_cpu(dev->desc.max_segs));
		return -ENODEV;
	}
	if (features & BIT_ULL(PVCHAN_NET_F_MTU)) {
		mtu = le16_to_cpu(cfg.mtu);
		if (mtu < PVCHAN_NET_MIN_MTU || mtu > PVCHAN_NET_MAX_MTU) {
			pvchan_host_err("dev%u: host MTU %u out of range\n",
					dev->index, mtu);
			return -ENODEV;
		}
	}

	/* A receive buffer is one page per segment: bound the MTU. */
	i = min_t(unsigned int, le16_to_cpu(dev->desc.max_segs),
		  PVCHAN_NET_RX_MAX_PAGES) * PAGE_SIZE - PVCHAN_NET_HDR_LEN -
	    VLAN_ETH_HLEN;
	if (mtu > i) {
		pr_info("dev%u: MTU %u capped to %u (%u segments per buffer)\n",
			dev->index, mtu, i, le16_to_cpu(dev->desc.max_segs));
		mtu = i;
	}

	ndev = alloc_etherdev_mqs(struct_size(net, pairs, npairs), npairs,
				  npairs);
	if (!ndev)
		return -ENOMEM;
	net = netdev_priv(ndev);
	net->dev = dev;
	net->ndev = ndev;
	net->npairs = npairs;
	net->max_segs = min_t(unsigned int, le16_to_cpu(dev->desc.max_segs),
			      PVCHAN_NET_TX_MAX_SEGS);
	INIT_WORK(&net->reset_work, pvchan_net_reset_work);
	INIT_DELAYED_WORK(&net->refill_work, pvchan_net_refill_work);
	dev->priv = net;

	ndev->netdev_ops = &pvchan_net_ops;
	ndev->ethtool_ops = &pvchan_net_ethtool_ops;
	ndev->watchdog_timeo = 5 * HZ;
	/* Receive offloads: 64 KiB buffers if the host takes the segments. */
	if (features & BIT_ULL(PVCHAN_NET_F_GUEST_OFFLOADS)) {
		net->rx_offloads = PVCHAN_NET_OFFLOAD_CSUM;
		if (rx_tso && net->max_segs >= PVCHAN_NET_RX_MAX_PAGES)
			net->rx_offloads |= PVCHAN_NET_OFFLOAD_TSO4 |
					    PVCHAN_NET_OFFLOAD_TSO6 |
					    PVCHAN_NET_OFFLOAD_TSO_ECN;
	}
	ndev->min_mtu = PVCHAN_NET_MIN_MTU;
	ndev->max_mtu = mtu;
	ndev->mtu = mtu;
	ndev->hw_features = NETIF_F_SG | NETIF_F_RXCSUM;
	if (features & BIT_ULL(PVCHAN_NET_F_CSUM)) {
		ndev->hw_features |= NETIF_F_HW_CSUM;
		if (features & BIT_ULL(PVCHAN_NET_F_GSO))
			ndev->hw_features |= NETIF_F_TSO | NETIF_F_TSO6 |
					     NETIF_F_TSO_ECN;
	}
	ndev->features = ndev->hw_features | NETIF_F_HIGHDMA;
	ndev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	if ((features & BIT_ULL(PVCHAN_NET_F_MAC)) &&
	    is_valid_ether_addr(cfg.mac)) {
		eth_hw_addr_set(ndev, cfg.mac);
	} else {
		if (features & BIT_ULL(PVCHAN_NET_F_MAC))
			pvchan_host_err("dev%u: host MAC %pM invalid\n",
					dev->index, cfg.mac);
		eth_hw_addr_random(ndev);
	}
	strscpy(ndev->name, "pvnet%d", sizeof(ndev->name));

	cpu = cpumask_first(cpu_online_mask);
	for (i = 0; i < npairs; i++) {
		ret = pvchan_net_init_pair(net, i, cpu);
		if (ret)
			goto out_free_pairs;
		netif_set_xps_queue(ndev, cpumask_of(cpu), i);
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
	}
	pvchan_net_set_offloads(net);
	netif_carrier_off(ndev);
	ret = register_netdev(ndev);
	if (ret)
		goto out_free_pairs;
	pvchan_net_link(net);
	pvchan_net_debugfs_init(net);
	netdev_info(ndev, "pvchan dev%u: %pM, %u queue pairs of %u, mtu %u, rx offloads %#llx%s\n",
		    dev->index, ndev->dev_addr, npairs, dev->queue_size, mtu,
		    net->rx_offloads,
		    ndev->addr_assign_type == NET_ADDR_RANDOM ?
		    " (random address)" : "");
	return 0;

out_free_pairs:
	pvchan_net_free_pairs(net, i);
	free_netdev(ndev);
	dev->priv = NULL;
	return ret;
}

/**
 * pvchan_net_remove() - unregister a network device and stop its queues.
 * @dev: device set up by pvchan_net_probe().
 */
void pvchan_net_remove(struct pvchan_gdev *dev)
{
	struct pvchan_net *net = dev->priv;

	debugfs_remove(net->dbg);
	unregister_netdev(net->ndev);
	cancel_work_sync(&net->reset_work);
	cancel_delayed_work_sync(&net->refill_work);
	/* After the queue resets the host holds no buffer of ours. */
	pvchan_net_free_pairs(net, net->npairs);
	free_netdev(net->ndev);
}

/**
 * pvchan_net_disconnect() - the host is gone: no carrier until it is back.
 * @dev: device set up by pvchan_net_probe().
 */
void pvchan_net_disconnect(struct pvchan_gdev *dev)
{
	struct pvchan_net *net = dev->priv;

	netif_carrier_off(net->ndev);
}

/**
 * pvchan_net_reconnect() - the host is back: set every queue up again.
 * @dev: device set up by pvchan_net_probe().
 *
 * Frames that were on a transmit ring are dropped (counted), as after a
 * transmit timeout; receive buffers are posted afresh; the receive
 * offloads are asked for again and the link follows the host's word.
 *
 * Context: process context (the link work); takes RTNL.
 * Return: 0, -ENOTCONN (the host went away again) or -ENODEV (the host
 * refused a ring).
 */
int pvchan_net_reconnect(struct pvchan_gdev *dev)
{
	struct pvchan_net *net = dev->priv;
	struct net_device *ndev = net->ndev;
	bool up;
	unsigned int i;
	int ret = 0;

	rtnl_lock();
	up = netif_running(ndev);
	if (up)
		netif_tx_disable(ndev);
	for (i = 0; i < net->npairs && !ret; i++) {
		struct pvchan_net_pair *p = &net->pairs[i];

		if (up)
			napi_disable(&p->napi);
		WRITE_ONCE(p->reset_tx, false);
		ret = pvchan_net_restart(p, p->rxq);
		if (!ret)
			ret = pvchan_net_restart(p, p->txq);
		if (up && !ret && !pvchan_net_rx_refill(p, GFP_KERNEL))
			schedule_delayed_work(&net->refill_work, HZ / 10);
		if (up) {
			napi_enable(&p->napi);
			pvchan_net_napi_kick(p);
		}
	}
	if (!ret) {
		pvchan_net_set_offloads(net);
		pvchan_net_link(net);
		if (up)
			netif_tx_wake_all_queues(ndev);
	}
	rtnl_unlock();
	/* A ring the new session refuses: not the device it was. */
	return ret && ret != -ENOTCONN ? -ENODEV : ret;
}

/**
 * pvchan_net_config_changed() - the host changed the device's
 * configuration: follow its link state.
 * @dev: device set up by pvchan_net_probe().
 */
void pvchan_net_config_changed(struct pvchan_gdev *dev)
{
	struct pvchan_net *net = dev->priv;

	rtnl_lock();
	pvchan_net_link(net);
	rtnl_unlock();
	netdev_info(net->ndev, "link %s (host)\n",
		    netif_carrier_ok(net->ndev) ? "up" : "down");
}
