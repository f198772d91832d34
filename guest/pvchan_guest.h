/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvchan guest module: private definitions shared by its files.
 *
 * The host is not trusted: every value read from it (HELLO answers, device
 * descriptors, ring indices, completions) is checked before use.
 */
#ifndef _PVCHAN_GUEST_H
#define _PVCHAN_GUEST_H

#include <linux/atomic.h>
#include <linux/interrupt.h>
#include <linux/kvm_para.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "pvchan_abi.h"
#include "pvchan_hist.h"

struct dentry;
struct seq_file;
struct pvchan_gdev;
struct pvchan_gdrv;

/* Guest view of the channel after HELLO. */
struct pvchan_channel {
	u16 host_major;
	u16 host_minor;
	u32 num_devices;
	u64 features;
	u32 max_queues;
	u32 max_queue_size;
};

extern struct pvchan_channel pvchan_chan;
extern struct dentry *pvchan_gdbg_root;

/**
 * struct pvchan_gring - guest side of one queue ring.
 * @mem: the ring (struct pvchan_ring_hdr, then sq[], then cq[]).
 * @order: page order of @mem.
 * @size: entries, power of two.
 * @sq_prod: guest's copy of the submission producer index.
 * @sq_pub: last sq_prod published to the host.
 * @cq_cons: guest's copy of the completion consumer index.
 * @inflight: requests submitted and not completed; at most @size, which
 *	bounds the completions the host can post.
 * @event_idx: PVCHAN_F_EVENT_IDX negotiated.
 */
struct pvchan_gring {
	void *mem;
	unsigned int order;
	u32 size;
	u32 sq_prod;
	u32 sq_pub;
	u32 cq_cons;
	u32 inflight;
	bool event_idx;
};

/*
 * Per-queue counters; updated under the queue lock or atomically.  The
 * latency histograms split a request's life into stages: total (guest
 * submit to guest completion), host_backend and host_post (reported by the
 * host in the completion, PVCHAN_F_STAGE_TIMES), and channel (total minus
 * the host's stages: notification, host worker wake-up, interrupt).
 */
struct pvchan_gqueue_stats {
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t kicks;
	atomic64_t kicks_suppressed;
	atomic64_t irqs;
	atomic64_t bad_completions;
	atomic64_t timeouts;
	atomic64_t lost_irqs;
	atomic64_t route_updates;
	atomic64_t fault_kicks_dropped;
	atomic64_t fault_irqs_dropped;
	atomic64_t fault_io_errors;
	atomic64_t fault_corrupted;
	struct pvchan_hist lat_total;
	struct pvchan_hist lat_host_backend;
	struct pvchan_hist lat_host_post;
	struct pvchan_hist lat_channel;
};

/**
 * struct pvchan_gqueue - one queue of a guest device.
 * @dev: owner.
 * @index: queue number.
 * @lock: protects @ring; taken in process context and in the irq handler.
 * @ring: the ring.
 * @irq: Linux irq number (0 if none).
 * @cpu: CPU the queue's interrupt is bound to.
 * @complete: device callback for each completion, called with @lock held
 *	by the default interrupt handler.
 * @handler: interrupt handler replacing the default one (NULL: the
 *	default, which reaps completions and calls @complete); set before
 *	pvchan_gqueue_init().
 * @stats: counters.
 * @dbg: debugfs directory.
 */
struct pvchan_gqueue {
	struct pvchan_gdev *dev;
	u16 index;
	spinlock_t lock;	/* ring state; see @lock above */
	struct pvchan_gring ring;
	unsigned int irq;
	unsigned int cpu;
	void (*complete)(struct pvchan_gqueue *q, const struct pvchan_cqe *cqe);
	irq_handler_t handler;
	struct pvchan_gqueue_stats stats;
	struct dentry *dbg;
};

/**
 * struct pvchan_gfaults - fault injection on the guest side of a device.
 * @drop_kicks: kicks to leave out (entries published, host not told).
 * @drop_irqs: completion interrupts to ignore (default handler only).
 * @io_errors: requests to fail in the guest before they reach the ring.
 * @corrupt: descriptors to garble (opcode) before they are published.
 *
 * Each is a count set in debugfs (fault_*, root only) and taken down by
 * one per fault injected; 0, the default, injects nothing.  The device
 * driver decides which it honours (pvchan_gdev_debugfs_faults()).
 */
struct pvchan_gfaults {
	atomic_t drop_kicks;
	atomic_t drop_irqs;
	atomic_t io_errors;
	atomic_t corrupt;
};

/**
 * struct pvchan_gdev - a device enumerated from the host.
 * @index: device index for hypercalls.
 * @desc: descriptor as read (and checked) at probe.
 * @drv: the driver of its type (main.c).
 * @num_queues: queues in use (host offer, capped by the guest).
 * @queue_size: ring entries in use.
 * @gone: the host removed the device (hot-remove): its driver fails what
 *	is in flight and makes no more hypercalls for it.
 * @dbg: debugfs directory.
 * @faults: fault injection knobs.
 * @priv: device-type driver state.
 * @queues: the queues.
 */
struct pvchan_gdev {
	u32 index;
	struct pvchan_dev_desc desc;
	const struct pvchan_gdrv *drv;
	u16 num_queues;
	u32 queue_size;
	bool gone;
	struct dentry *dbg;
	struct pvchan_gfaults faults;
	void *priv;
	struct pvchan_gqueue queues[];
};

#define PVCHAN_GUEST_FEATURES \
	(BIT_ULL(PVCHAN_F_EVENT_IDX) | BIT_ULL(PVCHAN_F_INDIRECT) | \
	 BIT_ULL(PVCHAN_F_DEV_EVENTS) | BIT_ULL(PVCHAN_F_STAGE_TIMES))
#define PVCHAN_GUEST_MAX_DEVS	16

/* main.c */
long pvchan_hc(unsigned int nr, unsigned long a0, unsigned long a1,
	       unsigned long a2, unsigned long a3);
u64 pvchan_new_req_id(void);
bool pvchan_channel_lost(void);
bool pvchan_channel_resumable(void);

/**
 * pvchan_hc_lost() - is a hypercall result the answer of a lost host?
 * @ret: what pvchan_hc() returned.
 *
 * Return: true for -KVM_ENOSYS (no pvchan host serves the VM: it was
 * unbound) and -PVCHAN_ENOTREADY (a host that has not been greeted: a new
 * session, or a call on a queue that is not set up; main.c tells them
 * apart with DEV_MAP).
 */
static inline bool pvchan_hc_lost(long ret)
{
	return ret == -KVM_ENOSYS || ret == -PVCHAN_ENOTREADY;
}

int pvchan_dev_config(struct pvchan_gdev *dev, void *buf, u32 len);
#if IS_ENABLED(CONFIG_KUNIT)
void pvchan_hello_accept(const struct pvchan_hello *h,
			 struct pvchan_channel *c);
#endif

/* ring.c */
int pvchan_gring_alloc(struct pvchan_gring *r, u32 size, bool event_idx);
void pvchan_gring_free(struct pvchan_gring *r);
struct pvchan_sqe *pvchan_gring_next_sqe(struct pvchan_gring *r);
bool pvchan_gring_publish(struct pvchan_gring *r);
bool pvchan_gring_get_cqe(struct pvchan_gring *r, struct pvchan_cqe *cqe);
unsigned int pvchan_gqueue_reap(struct pvchan_gqueue *q);
void pvchan_gqueue_bad_cqe(struct pvchan_gqueue *q, u64 req_id);
bool pvchan_gring_arm(struct pvchan_gring *r);
int pvchan_gqueue_init(struct pvchan_gdev *dev, struct pvchan_gqueue *q,
		       u16 index, unsigned int cpu);
void pvchan_gqueue_destroy(struct pvchan_gqueue *q);
void pvchan_gqueue_kick(struct pvchan_gqueue *q);
bool pvchan_gqueue_kick_prepare(struct pvchan_gqueue *q);
void pvchan_gqueue_notify(struct pvchan_gqueue *q);
int pvchan_gqueue_restart(struct pvchan_gqueue *q);
void pvchan_gqueue_stats_show(struct seq_file *m, struct pvchan_gqueue *q);
bool pvchan_gfault(atomic_t *knob, atomic64_t *count);
void pvchan_gdev_debugfs_faults(struct pvchan_gdev *dev, struct dentry *dir,
				bool requests);
void pvchan_gqueue_account(struct pvchan_gqueue *q, u64 submit_ns,
			   const struct pvchan_cqe *cqe);

/**
 * pvchan_channel_ns() - the channel's share of a request's time.
 * @total: guest submit to guest completion, in the guest's clock.
 * @backend: host_backend_ns from the completion (host controlled).
 * @post: host_post_ns from the completion (host controlled).
 *
 * Return: @total minus the host's stages, 0 if the host claims more (two
 * clocks, or a lying host).
 */
static inline u64 pvchan_channel_ns(u64 total, u32 backend, u32 post)
{
	u64 host = (u64)backend + post;

	return total > host ? total - host : 0;
}

/* irq.c */
int pvchan_irq_init(void);
void pvchan_irq_exit(void);
int pvchan_irq_setup(struct pvchan_gqueue *q, irq_handler_t handler);
void pvchan_irq_teardown(struct pvchan_gqueue *q);
void pvchan_irq_reroute(struct pvchan_gqueue *q);

/*
 * Device drivers.  *_reconnect(): the host came back after the channel was
 * lost (main.c); set the device's queues up again and resubmit what was in
 * flight.  Return 0, -ENOTCONN if the host went away again meanwhile (it is
 * called again on the next reconnection), or another error if the device
 * is not the one it was (it is then removed as by a hot-remove).
 */

/* echo.c */
int pvchan_echo_probe(struct pvchan_gdev *dev);
void pvchan_echo_remove(struct pvchan_gdev *dev);
int pvchan_echo_reconnect(struct pvchan_gdev *dev);

/* blk.c */
int pvchan_blk_probe(struct pvchan_gdev *dev);
void pvchan_blk_remove(struct pvchan_gdev *dev);
void pvchan_blk_config_changed(struct pvchan_gdev *dev);
int pvchan_blk_reconnect(struct pvchan_gdev *dev);

/* net.c */
int pvchan_net_probe(struct pvchan_gdev *dev);
void pvchan_net_remove(struct pvchan_gdev *dev);
void pvchan_net_config_changed(struct pvchan_gdev *dev);
void pvchan_net_disconnect(struct pvchan_gdev *dev);
int pvchan_net_reconnect(struct pvchan_gdev *dev);

/* clock.c */
int pvchan_clock_probe(struct pvchan_gdev *dev);
void pvchan_clock_remove(struct pvchan_gdev *dev);
void pvchan_clock_config_changed(struct pvchan_gdev *dev);
int pvchan_clock_reconnect(struct pvchan_gdev *dev);

/* Log messages about values from the host: rate limited. */
#define pvchan_host_err(fmt, ...) pr_err_ratelimited(fmt, ##__VA_ARGS__)

#endif /* _PVCHAN_GUEST_H */
