// SPDX-License-Identifier: GPL-2.0
/*
 * Network backend (PVCHAN_DEV_NET) on a tap device.
 *
 * pvchanctl opens the tap (one file per queue pair, IFF_MULTI_QUEUE when
 * there are several, IFF_VNET_HDR with a 12-byte header) and passes the
 * files; the backend talks to each through the socket tun_get_socket()
 * gives, as vhost-net does.  A guest buffer is its segment table's pages,
 * pinned and described by a bio_vec iov_iter: the pvchan_net_hdr at its
 * start is the tap's vnet header, so transmit hands the guest's bytes to
 * tun_sendmsg() and receive lets tun_recvmsg() write straight into guest
 * memory, with no copy beyond the one into or out of the skb.
 *
 * Queue 2n receives for pair n, 2n + 1 transmits.  Transmit is synchronous
 * (the tap copies the frame).  Receive buffers wait on the ring until a
 * frame is there: &pvchan_dev_ops.ready peeks at the tap, and a wait-queue
 * entry on the tap's socket queues the receive queue's worker when a frame
 * arrives (the vhost_poll pattern).
 */
#include <linux/bvec.h>
#include <linux/debugfs.h>
#include <linux/etherdevice.h>
#include <linux/file.h>
#include <linux/if_tun.h>
#include <linux/if_vlan.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/virtio_net.h>

#include "pvchan_host.h"

#define PVCHAN_NET_MAX_SEGS	(MAX_SKB_FRAGS + 3)
/* A segment at an odd offset touches up to two pages beyond its length. */
#define PVCHAN_NET_MAX_PAGES	(PVCHAN_NET_MAX_BUF / PAGE_SIZE + \
				 2 * PVCHAN_NET_MAX_SEGS)

/* The header is the tap's vnet header: same layout, same values. */
static_assert(sizeof(struct pvchan_net_hdr) ==
	      sizeof(struct virtio_net_hdr_mrg_rxbuf));
static_assert(offsetof(struct pvchan_net_hdr, csum_offset) ==
	      offsetof(struct virtio_net_hdr, csum_offset));
static_assert(PVCHAN_NET_HDR_F_NEEDS_CSUM == VIRTIO_NET_HDR_F_NEEDS_CSUM);
static_assert(PVCHAN_NET_HDR_F_DATA_VALID == VIRTIO_NET_HDR_F_DATA_VALID);
static_assert(PVCHAN_NET_GSO_TCPV4 == VIRTIO_NET_HDR_GSO_TCPV4);
static_assert(PVCHAN_NET_GSO_TCPV6 == VIRTIO_NET_HDR_GSO_TCPV6);
static_assert(PVCHAN_NET_GSO_ECN == VIRTIO_NET_HDR_GSO_ECN);

/**
 * struct pvchan_net_pair - one tap queue serving one queue pair.
 * @dev: the device.
 * @index: pair number.
 * @tap: the tap file (a reference).
 * @sock: its socket, from tun_get_socket().
 * @pt: poll table used once, to find the socket's wait queue.
 * @wait: our entry on it; wakes the worker of the receive queue that
 *	reads this tap (pvchan_net_reader()) when a frame arrives.
 * @wqh: the wait queue @wait is on, NULL when not polling.
 */
struct pvchan_net_pair {
	struct pvchan_dev *dev;
	u16 index;
	struct file *tap;
	struct socket *sock;
	poll_table pt;
	wait_queue_entry_t wait;
	wait_queue_head_t *wqh;
};

/**
 * struct pvchan_net - a network device's backend.
 * @mac: address offered to the guest (zero: none).
 * @mtu: largest MTU offered.
 * @link_down: debugfs knob "link_down": the link is down for the guest
 *	(carrier off) and transmit fails.
 * @stall_tx: fault injection (debugfs "fault_stall_tx", off by default):
 *	transmit queues take nothing off their rings, as a stuck backend
 *	would, until the guest resets one of them (its timeout handler).
 * @offloads: receive offloads the guest turned on (SET_OFFLOADS), written
 *	by pair 0's queue workers.
 * @rx_truncated: frames larger than the guest's buffer, dropped.
 * @tx_dropped: frames the tap refused.
 * @poll_lock: serialises starting and stopping the taps' polling
 *	(receive queues of several vCPUs may be set up at once).
 * @pairs: number of queue pairs.
 * @pair: the tap queues.
 */
struct pvchan_net {
	u8 mac[ETH_ALEN];
	u16 mtu;
	bool link_down;
	bool stall_tx;
	u64 offloads;
	atomic64_t rx_truncated;
	atomic64_t tx_dropped;
	struct mutex poll_lock;	/* see @poll_lock above */
	u16 pairs;
	struct pvchan_net_pair pair[];
};

/*
 * Per-queue scratch, used by one worker at a time (queue lock).  @rx_src:
 * the pair whose tap pvchan_net_ready() found a frame on, for the receive
 * request served right after it.
 */
struct pvchan_net_queue {
	struct pvchan_net_pair *rx_src;
	struct pvchan_seg segs[PVCHAN_NET_MAX_SEGS];
	struct page *pages[PVCHAN_NET_MAX_PAGES];
	struct bio_vec bvec[PVCHAN_NET_MAX_PAGES];
};

static struct pvchan_net *pvchan_net(struct pvchan_queue *q)
{
	return q->dev->priv;
}

static struct pvchan_net_pair *pvchan_net_pair(struct pvchan_queue *q)
{
	return &pvchan_net(q)->pair[q->index / 2];
}

static bool pvchan_net_is_rx(struct pvchan_queue *q)
{
	return !(q->index & 1);
}

/* Has the guest set up pair @i's receive queue? */
static bool pvchan_net_rx_active(struct pvchan_dev *dev, unsigned int i)
{
	return READ_ONCE(dev->queues[2 * i].active);
}

/*
 * The receive queue that reads pair @p's tap: its own if the guest set it
 * up, else the first one the guest set up.  A guest using fewer pairs than
 * the tap has queues (fewer vCPUs) still gets every frame: the tap spreads
 * flows over all its queues, and a frame left in an unread one would be
 * lost (a TCP SYN, again and again).  NULL if no receive queue is active.
 */
static struct pvchan_queue *pvchan_net_reader(struct pvchan_net_pair *p)
{
	struct pvchan_dev *dev = p->dev;
	unsigned int i;

	if (pvchan_net_rx_active(dev, p->index))
		return &dev->queues[2 * p->index];
	for (i = 0; i < dev->num_queues / 2; i++)
		if (pvchan_net_rx_active(dev, i))
			return &dev->queues[2 * i];
	return NULL;
}

static int pvchan_net_wake(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct pvchan_net_pair *p = container_of(wait, struct pvchan_net_pair,
						 wait);
	struct pvchan_queue *q;

	if (key && !(key_to_poll(key) & (EPOLLIN | EPOLLRDNORM)))
		return 0;
	q = pvchan_net_reader(p);
	if (q)
		pvchan_queue_wake(q);
	return 0;
}

static void pvchan_net_poll_queue(struct file *file, wait_queue_head_t *wqh,
				  poll_table *pt)
{
	struct pvchan_net_pair *p = container_of(pt, struct pvchan_net_pair,
						 pt);

	p->wqh = wqh;
	add_wait_queue(wqh, &p->wait);
}

static void pvchan_net_poll_start(struct pvchan_net_pair *p)
{
	struct pvchan_queue *q;
	__poll_t mask;

	if (p->wqh)
		return;
	mask = vfs_poll(p->tap, &p->pt);
	q = pvchan_net_reader(p);
	if ((mask & (EPOLLIN | EPOLLRDNORM)) && q)
		pvchan_queue_wake(q);
}

static void pvchan_net_poll_stop(struct pvchan_net_pair *p)
{
	if (!p->wqh)
		return;
	remove_wait_queue(p->wqh, &p->wait);
	p->wqh = NULL;
}

static struct socket *pvchan_net_tap_socket(struct file *file)
{
	struct socket *(*get)(struct file *file);
	struct socket *sock;

	/* No hard dependency on tun.ko: the tap file proves it is loaded. */
	get = symbol_get(tun_get_socket);
	if (!get)
		return ERR_PTR(-EINVAL);
	sock = get(file);
	symbol_put(tun_get_socket);
	return sock;
}

static void pvchan_net_put_taps(struct pvchan_net *net)
{
	unsigned int i;

	for (i = 0; i < net->pairs; i++)
		if (net->pair[i].tap)
			fput(net->pair[i].tap);
}

/* Take pair @i's tap from @fd; -EINVAL if it is not a tap. */
static int pvchan_net_get_tap(struct pvchan_net *net, unsigned int i, int fd,
			      struct file *file)
{
	struct pvchan_net_pair *p = &net->pair[i];

	if (!file)
		file = fget(fd);
	else
		get_file(file);
	if (!file)
		return -EBADF;
	p->sock = pvchan_net_tap_socket(file);
	if (IS_ERR(p->sock)) {
		fput(file);
		return -EINVAL;
	}
	p->tap = file;
	p->index = i;
	init_waitqueue_func_entry(&p->wait, pvchan_net_wake);
	init_poll_funcptr(&p->pt, pvchan_net_poll_queue);
	return 0;
}

static int pvchan_net_create(struct pvchan_dev *dev,
			     const struct pvchan_ctl_dev *cfg,
			     struct file *file)
{
	u16 mtu = cfg->net_mtu ?: ETH_DATA_LEN;
	unsigned int pairs = cfg->num_queues / 2, i;
	s32 __user *ufds = u64_to_user_ptr(cfg->net_queue_fds);
	struct pvchan_net *net;
	int ret, fd;

	if (!file)
		return -EBADF;
	if ((cfg->num_queues & 1) || cfg->flags ||
	    mtu < PVCHAN_NET_MIN_MTU || mtu > PVCHAN_NET_MAX_MTU ||
	    memchr_inv(cfg->serial, 0, sizeof(cfg->serial)) ||
	    (pairs > 1 ? !cfg->net_queue_fds : !!cfg->net_queue_fds) ||
	    (!is_zero_ether_addr(cfg->net_mac) &&
	     !is_valid_ether_addr(cfg->net_mac)))
		return -EINVAL;

	net = kzalloc(struct_size(net, pair, pairs), GFP_KERNEL);
	if (!net)
		return -ENOMEM;
	net->pairs = pairs;
	net->mtu = mtu;
	mutex_init(&net->poll_lock);
	for (i = 0; i < pairs; i++)
		net->pair[i].dev = dev;
	ether_addr_copy(net->mac, cfg->net_mac);
	ret = pvchan_net_get_tap(net, 0, -1, file);
	for (i = 1; !ret && i < pairs; i++) {
		if (get_user(fd, ufds + i - 1))
			ret = -EFAULT;
		else
			ret = pvchan_net_get_tap(net, i, fd, NULL);
	}
	if (ret) {
		pvchan_net_put_taps(net);
		kfree(net);
		return ret;
	}
	dev->priv = net;
	dev->max_segs = PVCHAN_NET_MAX_SEGS;
	dev->config_len = sizeof(struct pvchan_net_config);
	dev->features = BIT_ULL(PVCHAN_NET_F_CSUM) | BIT_ULL(PVCHAN_NET_F_GSO) |
			BIT_ULL(PVCHAN_NET_F_MTU) | BIT_ULL(PVCHAN_NET_F_STATUS) |
			BIT_ULL(PVCHAN_NET_F_GUEST_OFFLOADS);
	if (!is_zero_ether_addr(net->mac))
		dev->features |= BIT_ULL(PVCHAN_NET_F_MAC);
	return 0;
}

static void pvchan_net_destroy(struct pvchan_dev *dev)
{
	struct pvchan_net *net = dev->priv;
	unsigned int i;

	mutex_lock(&net->poll_lock);
	for (i = 0; i < net->pairs; i++)
		pvchan_net_poll_stop(&net->pair[i]);
	mutex_unlock(&net->poll_lock);
	/*
	 * Every queue was reset and nothing polls the taps any more; a wake-up
	 * from before (or the end of a stall) may still have queued a worker.
	 */
	for (i = 0; i < dev->num_queues; i++)
		pvchan_queue_cancel(&dev->queues[i]);
	pvchan_net_put_taps(net);
	mutex_destroy(&net->poll_lock);
	kfree(net);
}

static void pvchan_net_get_config(struct pvchan_dev *dev, void *buf)
{
	struct pvchan_net *net = dev->priv;
	struct pvchan_net_config *c = buf;

	ether_addr_copy(c->mac, net->mac);
	c->status = cpu_to_le16(READ_ONCE(net->link_down) ? 0 :
				PVCHAN_NET_S_LINK_UP);
	c->mtu = cpu_to_le16(net->mtu);
	c->queue_pairs = cpu_to_le16(net->pairs);
}

/*
 * What the tap may hand the guest (tap-wide: every queue).  The tap's
 * ioctl takes TUNSETOFFLOAD's argument by value, so it is called here as
 * pvchanctl would, from the queue worker (process context).
 */
static int pvchan_net_tap_offload(struct pvchan_net *net, u64 bits)
{
	struct file *tap = net->pair[0].tap;
	unsigned long flags = 0;
	long ret;

	if (bits & PVCHAN_NET_OFFLOAD_CSUM)
		flags |= TUN_F_CSUM;
	if (bits & PVCHAN_NET_OFFLOAD_TSO4)
		flags |= TUN_F_TSO4;
	if (bits & PVCHAN_NET_OFFLOAD_TSO6)
		flags |= TUN_F_TSO6;
	if (bits & PVCHAN_NET_OFFLOAD_TSO_ECN)
		flags |= TUN_F_TSO_ECN;
	ret = tap->f_op->unlocked_ioctl(tap, TUNSETOFFLOAD, flags);
	if (!ret)
		WRITE_ONCE(net->offloads, bits);
	return ret;
}

static int pvchan_net_queue_init(struct pvchan_queue *q)
{
	struct pvchan_net_queue *nq = kvzalloc(sizeof(*nq), GFP_KERNEL);
	struct pvchan_net *net = pvchan_net(q);
	unsigned int i;

	if (!nq)
		return -ENOMEM;
	q->priv = nq;
	/*
	 * The first receive queue set up starts polling every tap; polling
	 * stops when the device goes (a reset queue's worker does nothing).
	 * Frames already waiting are read once the queue is active.
	 */
	if (pvchan_net_is_rx(q)) {
		mutex_lock(&net->poll_lock);
		for (i = 0; i < net->pairs; i++)
			pvchan_net_poll_start(&net->pair[i]);
		mutex_unlock(&net->poll_lock);
		pvchan_queue_wake(q);
	}
	return 0;
}

static void pvchan_net_queue_free(struct pvchan_queue *q)
{
	struct pvchan_dev *dev = q->dev;
	unsigned int i;

	/* The next driver may not take large frames: offloads off. */
	if (q->index == 0 && READ_ONCE(pvchan_net(q)->offloads))
		pvchan_net_tap_offload(pvchan_net(q), 0);

	/* A transmit queue reset ends an injected stall: resume them all. */
	if (!pvchan_net_is_rx(q) && READ_ONCE(pvchan_net(q)->stall_tx)) {
		WRITE_ONCE(pvchan_net(q)->stall_tx, false);
		for (i = 1; i < dev->num_queues; i += 2)
			if (i != q->index)
				pvchan_queue_wake(&dev->queues[i]);
	}
	kvfree(q->priv);
	q->priv = NULL;
}

/*
 * The pair whose tap a receive queue reads a frame from: its own, or one
 * it reads for (pvchan_net_reader()); NULL if no frame is waiting.
 */
static struct pvchan_net_pair *pvchan_net_rx_source(struct pvchan_queue *q)
{
	struct pvchan_net *net = pvchan_net(q);
	unsigned int i;

	if (q->index / 2 >= net->pairs)
		return NULL;
	for (i = 0; i < net->pairs; i++) {
		struct pvchan_net_pair *p = &net->pair[i];

		/* A tap queue detached when polling began has no wait entry. */
		if (!READ_ONCE(p->wqh)) {
			mutex_lock(&net->poll_lock);
			pvchan_net_poll_start(p);
			mutex_unlock(&net->poll_lock);
		}

		if (pvchan_net_reader(p) == q && p->sock->ops->peek_len(p->sock))
			return p;
	}
	return NULL;
}

/*
 * Receive queues: serve a buffer only when a frame is waiting; transmit
 * queues: unless stalled on purpose.
 */
static bool pvchan_net_ready(struct pvchan_queue *q)
{
	struct pvchan_net_queue *nq = q->priv;

	if (q->index / 2 >= pvchan_net(q)->pairs)
		return true;	/* refused in handle */
	if (!pvchan_net_is_rx(q))
		return !READ_ONCE(pvchan_net(q)->stall_tx);
	nq->rx_src = pvchan_net_rx_source(q);
	return nq->rx_src;
}

/*
 * Read and pin a buffer's segment table; returns the pages pinned or a
 * negative PVCHAN_REJ_* (with @cqe's status set), and the bytes in @bytes.
 */
static int pvchan_net_map(struct pvchan_queue *q, const struct pvchan_sqe *sqe,
			  struct pvchan_cqe *cqe, bool write, size_t *bytes)
{
	struct pvchan_net_queue *nq = q->priv;
	u32 tlen = le32_to_cpu(sqe->len);
	unsigned int nsegs = tlen / sizeof(struct pvchan_seg), i;
	int n;

	cqe->status = cpu_to_le32(PVCHAN_ST_INVAL);
	if (le16_to_cpu(sqe->flags) != PVCHAN_SQE_F_INDIRECT || !nsegs ||
	    nsegs > PVCHAN_NET_MAX_SEGS || tlen % sizeof(struct pvchan_seg))
		return -PVCHAN_REJ_RING_DESC;
	if (pvchan_kvm_read(q->dev->vm->kvm, le64_to_cpu(sqe->addr), nq->segs,
			    tlen)) {
		cqe->status = cpu_to_le32(PVCHAN_ST_FAULT);
		return -PVCHAN_REJ_FAULT;
	}
	*bytes = 0;
	for (i = 0; i < nsegs; i++) {
		u32 len = le32_to_cpu(nq->segs[i].len);

		if (!len || len > PVCHAN_NET_MAX_BUF - *bytes)
			return -PVCHAN_REJ_RING_DESC;
		*bytes += len;
	}
	if (*bytes < sizeof(struct pvchan_net_hdr))
		return -PVCHAN_REJ_RING_DESC;
	n = pvchan_pin_segs(q, nq->segs, nsegs, write, nq->pages, nq->bvec,
			    PVCHAN_NET_MAX_PAGES);
	if (n < 0) {
		cqe->status = cpu_to_le32(PVCHAN_ST_FAULT);
		return -PVCHAN_REJ_FAULT;
	}
	return n;
}

static int pvchan_net_xfer(struct pvchan_queue *q, const struct pvchan_sqe *sqe,
			   struct pvchan_cqe *cqe, bool rx)
{
	struct pvchan_net_queue *nq = q->priv;
	struct pvchan_net *net = pvchan_net(q);
	struct socket *sock = pvchan_net_pair(q)->sock;
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	size_t bytes;
	int n, ret;

	/* The worker asked pvchan_net_ready() just before. */
	if (rx && nq->rx_src)
		sock = nq->rx_src->sock;
	n = pvchan_net_map(q, sqe, cqe, rx, &bytes);
	if (n < 0)
		return -n;
	iov_iter_bvec(&msg.msg_iter, rx ? READ : WRITE, nq->bvec, n, bytes);
	if (rx) {
		ret = sock->ops->recvmsg(sock, &msg, bytes,
					 MSG_DONTWAIT | MSG_TRUNC);
		/* Another reader took the frame: an empty buffer back. */
		if (ret == -EAGAIN)
			ret = 0;
	} else if (READ_ONCE(net->link_down)) {
		ret = -ENETDOWN;
	} else {
		ret = sock->ops->sendmsg(sock, &msg, bytes);
	}
	unpin_user_pages_dirty_lock(nq->pages, n, rx);
	if (rx && ret > (int)bytes) {
		atomic64_inc(&net->rx_truncated);
		pvchan_guest_dbg(q->dev->vm, "dev%u q%u: %d-byte frame for a %zu-byte buffer, dropped\n",
				 q->dev->index, q->index, ret, bytes);
		cqe->status = cpu_to_le32(PVCHAN_ST_IOERR);
		cqe->len = cpu_to_le32(ret);
		return -1;
	}
	if (ret < 0) {
		if (!rx)
			atomic64_inc(&net->tx_dropped);
		pvchan_guest_dbg(q->dev->vm, "dev%u q%u: %s: %d\n",
				 q->dev->index, q->index,
				 rx ? "receive" : "transmit", ret);
		cqe->status = cpu_to_le32(PVCHAN_ST_IOERR);
		return -1;
	}
	cqe->status = cpu_to_le32(PVCHAN_ST_OK);
	cqe->len = cpu_to_le32(ret);
	return -1;
}

/* SET_OFFLOADS: no buffer, args[0] = PVCHAN_NET_OFFLOAD_* bits. */
static int pvchan_net_set_offloads(struct pvchan_queue *q,
				   const struct pvchan_sqe *sqe,
				   struct pvchan_cqe *cqe)
{
	u64 bits = le64_to_cpu(sqe->args[0]);
	int ret;

	cqe->status = cpu_to_le32(PVCHAN_ST_INVAL);
	if (sqe->flags || sqe->len || sqe->addr ||
	    (bits & ~(u64)PVCHAN_NET_OFFLOAD_ALL) ||
	    ((bits & ~(u64)PVCHAN_NET_OFFLOAD_CSUM) &&
	     !(bits & PVCHAN_NET_OFFLOAD_CSUM)))
		return PVCHAN_REJ_RING_DESC;
	ret = pvchan_net_tap_offload(pvchan_net(q), bits);
	if (ret)
		pvchan_guest_dbg(q->dev->vm, "dev%u: tap offloads %#llx: %d\n",
				 q->dev->index, bits, ret);
	cqe->status = cpu_to_le32(ret ? PVCHAN_ST_IOERR : PVCHAN_ST_OK);
	return -1;
}

static int pvchan_net_handle(struct pvchan_queue *q,
			     const struct pvchan_sqe *sqe,
			     struct pvchan_cqe *cqe)
{
	u16 op = le16_to_cpu(sqe->opcode);

	if (op == PVCHAN_NET_OP_SET_OFFLOADS && q->index == 1)
		return pvchan_net_set_offloads(q, sqe, cqe);
	/* Queues of pairs the host does not serve refuse everything. */
	if (q->index / 2 >= pvchan_net(q)->pairs ||
	    op != (pvchan_net_is_rx(q) ? PVCHAN_NET_OP_RX : PVCHAN_NET_OP_TX)) {
		cqe->status = cpu_to_le32(PVCHAN_ST_UNSUPP);
		return PVCHAN_REJ_RING_DESC;
	}
	return pvchan_net_xfer(q, sqe, cqe, pvchan_net_is_rx(q));
}

static int pvchan_net_link_get(void *data, u64 *val)
{
	struct pvchan_dev *dev = data;

	*val = READ_ONCE(((struct pvchan_net *)dev->priv)->link_down);
	return 0;
}

static int pvchan_net_link_set(void *data, u64 val)
{
	struct pvchan_dev *dev = data;
	struct pvchan_net *net = dev->priv;

	if (val > 1)
		return -EINVAL;
	if (READ_ONCE(net->link_down) == !!val)
		return 0;
	WRITE_ONCE(net->link_down, !!val);
	pvchan_dev_changed(dev);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(pvchan_net_link_fops, pvchan_net_link_get,
			 pvchan_net_link_set, "%llu\n");

static int pvchan_net_stats_show(struct seq_file *m, void *unused)
{
	struct pvchan_dev *dev = m->private;
	struct pvchan_net *net = dev->priv;

	seq_printf(m, "pairs %u\nmtu %u\nmac %pM\nlink %s\nstall_tx %u\n",
		   net->pairs, net->mtu, net->mac,
		   READ_ONCE(net->link_down) ? "down" : "up",
		   READ_ONCE(net->stall_tx));
	seq_printf(m, "offloads %#llx\n", READ_ONCE(net->offloads));
	seq_printf(m, "rx_truncated %lld\ntx_dropped %lld\n",
		   atomic64_read(&net->rx_truncated),
		   atomic64_read(&net->tx_dropped));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_net_stats);

static void pvchan_net_debugfs(struct pvchan_dev *dev)
{
	debugfs_create_file("net", 0400, dev->dbg, dev, &pvchan_net_stats_fops);
	/* Fault injection and link control: root only. */
	debugfs_create_file_unsafe("link_down", 0600, dev->dbg, dev,
				   &pvchan_net_link_fops);
	debugfs_create_bool("fault_stall_tx", 0600, dev->dbg,
			    &((struct pvchan_net *)dev->priv)->stall_tx);
}

const struct pvchan_dev_ops pvchan_net_ops = {
	.type = PVCHAN_DEV_NET,
	.name = "net",
	.op_names = {
		[PVCHAN_NET_OP_RX] = "rx",
		[PVCHAN_NET_OP_TX] = "tx",
		[PVCHAN_NET_OP_SET_OFFLOADS] = "set_offloads",
	},
	.create = pvchan_net_create,
	.destroy = pvchan_net_destroy,
	.get_config = pvchan_net_get_config,
	.debugfs = pvchan_net_debugfs,
	.queue_init = pvchan_net_queue_init,
	.queue_free = pvchan_net_queue_free,
	.ready = pvchan_net_ready,
	.handle = pvchan_net_handle,
};
