// SPDX-License-Identifier: GPL-2.0
/*
 * Echo device driver: pushes requests through every queue's ring, kick and
 * interrupt, and checks each answer (data copied back, CRC32, status).
 * Tests drive it from debugfs:
 *
 *	echo 10000 > /sys/kernel/debug/pvchan-guest/echo<N>/run
 *	cat /sys/kernel/debug/pvchan-guest/echo<N>/result
 *
 * The run is split evenly over the queues; each queue's share runs on the
 * CPU its interrupt is bound to, with up to PVCHAN_ECHO_WINDOW requests in
 * flight.  A request the host does not answer within the timeout ends the
 * run with a timeout count instead of a hang.
 */
#include <linux/crc32.h>
#include <linux/debugfs.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "pvchan_guest.h"
#include "trace.h"

#define PVCHAN_ECHO_WINDOW	16
#define PVCHAN_ECHO_TIMEOUT	(10 * HZ)
#define PVCHAN_ECHO_MAX_RUN	10000000

struct pvchan_echo_slot {
	u64 req_id;
	void *in;
	void *out;
	u32 len;
	bool busy;
	bool done;
	struct pvchan_cqe cqe;
};

struct pvchan_echo_queue {
	struct pvchan_gqueue *gq;
	wait_queue_head_t wait;
	struct work_struct work;
	u32 todo;
	u64 ok;
	u64 bad;
	u64 timeouts;
	struct pvchan_echo_slot slots[PVCHAN_ECHO_WINDOW];
};

struct pvchan_echo {
	struct pvchan_gdev *dev;
	struct dentry *dbg;
	struct workqueue_struct *wq;
	struct mutex run_lock;	/* one run at a time; protects last_* */
	u64 last_requests;
	u64 last_ok;
	u64 last_bad;
	u64 last_timeouts;
	u64 last_ns;
	struct pvchan_echo_queue queues[];
};

/* Completion callback: irq context, gq->lock held. */
static void pvchan_echo_complete(struct pvchan_gqueue *gq,
				 const struct pvchan_cqe *cqe)
{
	struct pvchan_echo *echo = gq->dev->priv;
	struct pvchan_echo_queue *eq = &echo->queues[gq->index];
	u64 id = le64_to_cpu(cqe->req_id);
	unsigned int i;

	for (i = 0; i < PVCHAN_ECHO_WINDOW; i++) {
		struct pvchan_echo_slot *s = &eq->slots[i];

		if (s->busy && !s->done && s->req_id == id) {
			s->cqe = *cqe;
			/* cqe before done: pairs with pvchan_echo_reap(). */
			smp_store_release(&s->done, true);
			wake_up(&eq->wait);
			return;
		}
	}
	pvchan_gqueue_bad_cqe(gq, id);
}

static bool pvchan_echo_check(struct pvchan_echo_slot *s)
{
	return le32_to_cpu(s->cqe.status) == PVCHAN_ST_OK &&
	       le32_to_cpu(s->cqe.len) == s->len &&
	       le64_to_cpu(s->cqe.value) == crc32_le(~0U, s->in, s->len) &&
	       !memcmp(s->in, s->out, s->len);
}

static bool pvchan_echo_any_done(struct pvchan_echo_queue *eq)
{
	unsigned long flags;
	bool done = false;
	unsigned int i;

	spin_lock_irqsave(&eq->gq->lock, flags);
	for (i = 0; i < PVCHAN_ECHO_WINDOW && !done; i++)
		done = eq->slots[i].busy && eq->slots[i].done;
	spin_unlock_irqrestore(&eq->gq->lock, flags);
	return done;
}

/* Fill free slots with new requests and publish them. */
static u32 pvchan_echo_submit(struct pvchan_echo_queue *eq, u32 left)
{
	struct pvchan_gqueue *gq = eq->gq;
	struct pvchan_sqe *sqe;
	unsigned long flags;
	unsigned int i;
	u32 n = 0;

	for (i = 0; i < PVCHAN_ECHO_WINDOW && n < left; i++) {
		struct pvchan_echo_slot *s = &eq->slots[i];

		if (s->busy)
			continue;
		/* Mostly short requests, with a whole page now and then. */
		s->len = get_random_u32() % 64 ? 1 + get_random_u32() % 1024 :
						 PAGE_SIZE;
		get_random_bytes(s->in, s->len);
		memset(s->out, 0, s->len);
		s->req_id = pvchan_new_req_id();

		spin_lock_irqsave(&gq->lock, flags);
		sqe = pvchan_gring_next_sqe(&gq->ring);
		if (!sqe) {
			spin_unlock_irqrestore(&gq->lock, flags);
			break;
		}
		s->busy = true;
		s->done = false;
		sqe->req_id = cpu_to_le64(s->req_id);
		sqe->opcode = cpu_to_le16(PVCHAN_ECHO_OP_COPY);
		sqe->len = cpu_to_le32(s->len);
		sqe->addr = cpu_to_le64(virt_to_phys(s->in));
		sqe->args[0] = cpu_to_le64(virt_to_phys(s->out));
		atomic64_inc(&gq->stats.submitted);
		trace_pvchan_guest_req_submit(gq->dev->index, gq->index,
					      s->req_id, PVCHAN_ECHO_OP_COPY);
		spin_unlock_irqrestore(&gq->lock, flags);
		n++;
	}
	if (n) {
		spin_lock_irqsave(&gq->lock, flags);
		pvchan_gqueue_kick(gq);
		spin_unlock_irqrestore(&gq->lock, flags);
	}
	return n;
}

/* Check finished slots and free them; returns how many were freed. */
static u32 pvchan_echo_reap(struct pvchan_echo_queue *eq)
{
	unsigned int i;
	u32 n = 0;

	for (i = 0; i < PVCHAN_ECHO_WINDOW; i++) {
		struct pvchan_echo_slot *s = &eq->slots[i];

		/* Pairs with the completion callback's stores under the lock. */
		if (!s->busy || !smp_load_acquire(&s->done))
			continue;
		if (pvchan_echo_check(s))
			eq->ok++;
		else
			eq->bad++;
		s->busy = false;
		n++;
	}
	return n;
}

static void pvchan_echo_work(struct work_struct *work)
{
	struct pvchan_echo_queue *eq = container_of(work,
						    struct pvchan_echo_queue,
						    work);
	u32 submitted = 0, inflight = 0, n;

	while (submitted < eq->todo || inflight) {
		n = pvchan_echo_submit(eq, eq->todo - submitted);
		submitted += n;
		inflight += n;
		if (!wait_event_timeout(eq->wait, pvchan_echo_any_done(eq),
					PVCHAN_ECHO_TIMEOUT)) {
			/* Slots stay busy: the host may still write them. */
			eq->timeouts += inflight;
			atomic64_add(inflight, &eq->gq->stats.timeouts);
			return;
		}
		inflight -= pvchan_echo_reap(eq);
	}
}

static int pvchan_echo_run(struct pvchan_echo *echo, u32 count)
{
	struct pvchan_gdev *dev = echo->dev;
	u64 start = ktime_get_ns();
	unsigned int i;

	mutex_lock(&echo->run_lock);
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_echo_queue *eq = &echo->queues[i];

		eq->todo = count / dev->num_queues +
			   (i < count % dev->num_queues);
		eq->ok = 0;
		eq->bad = 0;
		eq->timeouts = 0;
		queue_work_on(eq->gq->cpu, echo->wq, &eq->work);
	}
	echo->last_requests = count;
	echo->last_ok = 0;
	echo->last_bad = 0;
	echo->last_timeouts = 0;
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_echo_queue *eq = &echo->queues[i];

		flush_work(&eq->work);
		echo->last_ok += eq->ok;
		echo->last_bad += eq->bad;
		echo->last_timeouts += eq->timeouts;
	}
	echo->last_ns = ktime_get_ns() - start;
	mutex_unlock(&echo->run_lock);
	return echo->last_ok == count ? 0 : -EIO;
}

static ssize_t pvchan_echo_run_write(struct file *file,
				     const char __user *buf, size_t len,
				     loff_t *ppos)
{
	struct pvchan_echo *echo = file->private_data;
	u32 count;
	int ret;

	ret = kstrtou32_from_user(buf, len, 0, &count);
	if (ret)
		return ret;
	if (!count || count > PVCHAN_ECHO_MAX_RUN)
		return -EINVAL;
	ret = pvchan_echo_run(echo, count);
	return ret ?: len;
}

static const struct file_operations pvchan_echo_run_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = pvchan_echo_run_write,
	.llseek = noop_llseek,
};

static int pvchan_echo_result_show(struct seq_file *m, void *unused)
{
	struct pvchan_echo *echo = m->private;

	mutex_lock(&echo->run_lock);
	seq_printf(m, "requests %llu\nok %llu\nbad %llu\ntimeouts %llu\nns %llu\n",
		   echo->last_requests, echo->last_ok, echo->last_bad,
		   echo->last_timeouts, echo->last_ns);
	mutex_unlock(&echo->run_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_echo_result);

static int pvchan_gq_stats_show(struct seq_file *m, void *unused)
{
	pvchan_gqueue_stats_show(m, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_gq_stats);

static void pvchan_echo_free_slots(struct pvchan_echo_queue *eq)
{
	unsigned int i;

	for (i = 0; i < PVCHAN_ECHO_WINDOW; i++) {
		free_page((unsigned long)eq->slots[i].in);
		free_page((unsigned long)eq->slots[i].out);
	}
}

static int pvchan_echo_alloc_slots(struct pvchan_echo_queue *eq)
{
	unsigned int i;

	for (i = 0; i < PVCHAN_ECHO_WINDOW; i++) {
		eq->slots[i].in = (void *)get_zeroed_page(GFP_KERNEL);
		eq->slots[i].out = (void *)get_zeroed_page(GFP_KERNEL);
		if (!eq->slots[i].in || !eq->slots[i].out)
			return -ENOMEM;
	}
	return 0;
}

/**
 * pvchan_echo_probe() - set up an echo device's queues and debugfs.
 * @dev: device enumerated from the host.
 *
 * Return: 0 or a negative errno.
 */
int pvchan_echo_probe(struct pvchan_gdev *dev)
{
	struct pvchan_echo *echo;
	unsigned int i, cpu;
	char name[16];
	int ret;

	echo = kzalloc(struct_size(echo, queues, dev->num_queues), GFP_KERNEL);
	if (!echo)
		return -ENOMEM;
	echo->dev = dev;
	mutex_init(&echo->run_lock);
	dev->priv = echo;
	echo->wq = alloc_workqueue("pvchan_echo%u", 0, 0, dev->index);
	if (!echo->wq) {
		ret = -ENOMEM;
		goto out_free;
	}

	snprintf(name, sizeof(name), "echo%u", dev->index);
	echo->dbg = debugfs_create_dir(name, pvchan_gdbg_root);
	cpu = cpumask_first(cpu_online_mask);
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_echo_queue *eq = &echo->queues[i];
		struct pvchan_gqueue *gq = &dev->queues[i];

		eq->gq = gq;
		init_waitqueue_head(&eq->wait);
		INIT_WORK(&eq->work, pvchan_echo_work);
		gq->complete = pvchan_echo_complete;
		ret = pvchan_echo_alloc_slots(eq);
		if (!ret)
			ret = pvchan_gqueue_init(dev, gq, i, cpu);
		if (ret) {
			pvchan_echo_free_slots(eq);
			goto out_destroy;
		}
		snprintf(name, sizeof(name), "q%u", i);
		gq->dbg = debugfs_create_dir(name, echo->dbg);
		debugfs_create_file("stats", 0444, gq->dbg, gq,
				    &pvchan_gq_stats_fops);
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
	}
	debugfs_create_file("run", 0200, echo->dbg, echo,
			    &pvchan_echo_run_fops);
	debugfs_create_file("result", 0444, echo->dbg, echo,
			    &pvchan_echo_result_fops);
	pr_info("echo%u: %u queues of %u entries\n", dev->index,
		dev->num_queues, dev->queue_size);
	return 0;

out_destroy:
	while (i--) {
		pvchan_gqueue_destroy(&dev->queues[i]);
		pvchan_echo_free_slots(&echo->queues[i]);
	}
	debugfs_remove(echo->dbg);
	destroy_workqueue(echo->wq);
out_free:
	kfree(echo);
	return ret;
}

/**
 * pvchan_echo_reconnect() - the host is back: restart the queues; requests
 * of a run that timed out are forgotten, their slots free again.
 * @dev: device set up by pvchan_echo_probe().
 *
 * Context: process context (the link work); waits for a run to end.
 * Return: 0, -ENOTCONN (the host went away again) or -ENODEV (the host
 * refused a ring).
 */
int pvchan_echo_reconnect(struct pvchan_gdev *dev)
{
	struct pvchan_echo *echo = dev->priv;
	unsigned long flags;
	unsigned int i, j;
	int ret = 0;

	mutex_lock(&echo->run_lock);
	for (i = 0; i < dev->num_queues && !ret; i++) {
		struct pvchan_echo_queue *eq = &echo->queues[i];

		ret = pvchan_gqueue_restart(eq->gq);
		if (ret)
			break;
		spin_lock_irqsave(&eq->gq->lock, flags);
		for (j = 0; j < PVCHAN_ECHO_WINDOW; j++)
			eq->slots[j].busy = false;
		spin_unlock_irqrestore(&eq->gq->lock, flags);
	}
	mutex_unlock(&echo->run_lock);
	return ret && ret != -ENOTCONN ? -ENODEV : ret;
}

/**
 * pvchan_echo_remove() - stop an echo device; the host has let go of every
 * buffer before it is freed.
 * @dev: device set up by pvchan_echo_probe().
 */
void pvchan_echo_remove(struct pvchan_gdev *dev)
{
	struct pvchan_echo *echo = dev->priv;
	unsigned int i;

	debugfs_remove(echo->dbg);
	mutex_lock(&echo->run_lock);
	mutex_unlock(&echo->run_lock);
	destroy_workqueue(echo->wq);
	for (i = 0; i < dev->num_queues; i++) {
		pvchan_gqueue_destroy(&dev->queues[i]);
		pvchan_echo_free_slots(&echo->queues[i]);
	}
	kfree(echo);
}
