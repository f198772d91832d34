// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs: /sys/kernel/debug/pvchan/vm<id>/{info,hypercalls,rejects,latency}
 * and vm<id>/dev<n>/q<m>/stats.  Counters are plain "name value" lines so
 * scripts can read them; histograms are "le_<2^i>ns count" lines.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "pvchan_host.h"

static struct dentry *pvchan_dbg_root;

static int pvchan_info_show(struct seq_file *m, void *unused)
{
	struct pvchan_vm *vm = m->private;
	/* Pairs with the release in pvchan_dev_add(). */
	u32 i, n = smp_load_acquire(&vm->num_devs);

	seq_printf(m, "vm_id %u\nvmm_pid %d\nbound_by_pid %d\nabi %u.%u\nnegotiated %u\nfeatures %#llx\ndevices %u\n",
		   vm->id, vm->vmm_pid, vm->pid, PVCHAN_ABI_MAJOR, PVCHAN_ABI_MINOR,
		   READ_ONCE(vm->hello_done), vm->features, n);
	seq_printf(m, "event_route %#llx\nevents %lld\n",
		   READ_ONCE(vm->event_route), atomic64_read(&vm->events));
	/* Hot-removal unlinks devices under vm->lock; HELLO sets guest_*. */
	mutex_lock(&vm->lock);
	seq_printf(m, "guest_abi %u.%u\n", vm->guest_major, vm->guest_minor);
	for (i = 0; i < n; i++) {
		struct pvchan_dev *dev = vm->devs[i];

		if (!dev) {
			seq_printf(m, "dev%u removed\n", i);
			continue;
		}
		seq_printf(m, "dev%u %s queues %u config_gen %d\n", i,
			   dev->ops->name, dev->num_queues,
			   atomic_read(&dev->config_gen));
	}
	mutex_unlock(&vm->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_info);

static int pvchan_hypercalls_show(struct seq_file *m, void *unused)
{
	struct pvchan_vm *vm = m->private;
	unsigned int i;

	for (i = 0; i <= PVCHAN_HC_COUNT; i++)
		seq_printf(m, "%s %lld\n", pvchan_hc_name(i),
			   atomic64_read(&vm->hc_count[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_hypercalls);

static int pvchan_rejects_show(struct seq_file *m, void *unused)
{
	struct pvchan_vm *vm = m->private;
	unsigned int i;

	for (i = 0; i < PVCHAN_REJ_NR; i++)
		seq_printf(m, "%s %lld\n", pvchan_reject_name(i),
			   atomic64_read(&vm->rejects[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_rejects);

static int pvchan_latency_show(struct seq_file *m, void *unused)
{
	struct pvchan_vm *vm = m->private;
	unsigned int i;

	for (i = 0; i <= PVCHAN_HC_COUNT; i++)
		pvchan_hist_show(m, pvchan_hc_name(i), &vm->hc_lat[i]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_latency);

static void pvchan_show_counter(struct seq_file *m, const char *name,
				atomic64_t *v)
{
	seq_printf(m, "%s %lld\n", name, atomic64_read(v));
}

static int pvchan_qstats_show(struct seq_file *m, void *unused)
{
	struct pvchan_queue *q = m->private;
	struct pvchan_queue_stats *s = &q->stats;
	const char * const *op_names = q->dev->ops->op_names;
	char name[24];
	unsigned int i;

	seq_printf(m, "active %u\nbroken %u\nsize %u\nsq_cons %u\ncq_prod %u\n",
		   READ_ONCE(q->active), READ_ONCE(q->broken), q->size,
		   READ_ONCE(q->sq_cons), READ_ONCE(q->cq_prod));
	seq_printf(m, "irq_route %#llx\n", READ_ONCE(q->irq_route));
	pvchan_show_counter(m, "kicks", &s->kicks);
	pvchan_show_counter(m, "kick_suppressed", &s->kick_suppressed);
	pvchan_show_counter(m, "requests", &s->requests);
	pvchan_show_counter(m, "batches", &s->batches);
	for (i = 0; i < PVCHAN_STATS_OPS; i++) {
		if (!op_names[i])
			continue;
		snprintf(name, sizeof(name), "op_%s", op_names[i]);
		pvchan_show_counter(m, name, &s->ops[i]);
	}
	seq_printf(m, "inflight %u\n", READ_ONCE(q->inflight));
	pvchan_show_counter(m, "completions", &s->completions);
	pvchan_show_counter(m, "errors", &s->errors);
	pvchan_show_counter(m, "bytes", &s->bytes);
	pvchan_show_counter(m, "irqs", &s->irqs);
	pvchan_show_counter(m, "irq_suppressed", &s->irq_suppressed);
	pvchan_show_counter(m, "cq_full", &s->cq_full);
	pvchan_show_counter(m, "backend_waits", &s->backend_waits);
	pvchan_show_counter(m, "poll_hits", &s->poll_hits);
	pvchan_show_counter(m, "poll_misses", &s->poll_misses);
	pvchan_show_counter(m, "fault_dropped", &s->fault_dropped);
	pvchan_show_counter(m, "fault_io_errors", &s->fault_io_errors);
	pvchan_show_counter(m, "fault_corrupted", &s->fault_corrupted);
	pvchan_show_counter(m, "fault_dups", &s->fault_dups);
	pvchan_show_counter(m, "fault_irqs_dropped", &s->fault_irqs_dropped);
	pvchan_show_counter(m, "fault_kicks_dropped", &s->fault_kicks_dropped);
	pvchan_show_counter(m, "depth", &s->depth);
	pvchan_show_counter(m, "max_depth", &s->max_depth);
	pvchan_hist_show(m, "latency", &s->latency);
	pvchan_hist_show(m, "stage_backend", &s->stage_backend);
	pvchan_hist_show(m, "stage_post", &s->stage_post);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pvchan_qstats);

/**
 * pvchan_debugfs_vm_add() - create a bound VM's debugfs directory.
 * @vm: the VM, with its id set.
 */
void pvchan_debugfs_vm_add(struct pvchan_vm *vm)
{
	char name[16];

	snprintf(name, sizeof(name), "vm%u", vm->id);
	vm->dbg = debugfs_create_dir(name, pvchan_dbg_root);
	debugfs_create_file("info", 0400, vm->dbg, vm, &pvchan_info_fops);
	debugfs_create_file("hypercalls", 0400, vm->dbg, vm,
			    &pvchan_hypercalls_fops);
	debugfs_create_file("rejects", 0400, vm->dbg, vm,
			    &pvchan_rejects_fops);
	debugfs_create_file("latency", 0400, vm->dbg, vm,
			    &pvchan_latency_fops);
}

/**
 * pvchan_debugfs_dev_add() - create a device's and its queues' directories.
 * @dev: the device, already added to its VM.
 */
void pvchan_debugfs_dev_add(struct pvchan_dev *dev)
{
	char name[16];
	unsigned int i;

	snprintf(name, sizeof(name), "dev%u", dev->index);
	dev->dbg = debugfs_create_dir(name, dev->vm->dbg);
	/* Fault injection, netdevsim style: root only, off by default. */
	debugfs_create_atomic_t("fault_drop_completions", 0600, dev->dbg,
				&dev->fault_drop);
	debugfs_create_atomic_t("fault_delay_us", 0600, dev->dbg,
				&dev->fault_delay_us);
	debugfs_create_atomic_t("fault_io_errors", 0600, dev->dbg,
				&dev->fault_io_error);
	debugfs_create_atomic_t("fault_corrupt_descriptors", 0600, dev->dbg,
				&dev->fault_corrupt);
	debugfs_create_atomic_t("fault_dup_completions", 0600, dev->dbg,
				&dev->fault_dup);
	debugfs_create_atomic_t("fault_drop_irqs", 0600, dev->dbg,
				&dev->fault_drop_irq);
	debugfs_create_atomic_t("fault_drop_kicks", 0600, dev->dbg,
				&dev->fault_drop_kick);
	if (dev->ops->debugfs)
		dev->ops->debugfs(dev);
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_queue *q = &dev->queues[i];

		snprintf(name, sizeof(name), "q%u", i);
		q->dbg = debugfs_create_dir(name, dev->dbg);
		debugfs_create_file("stats", 0400, q->dbg, q,
				    &pvchan_qstats_fops);
	}
}

/**
 * pvchan_debugfs_vm_remove() - remove a VM's debugfs tree; open files are
 * cut off by debugfs before this returns.
 * @vm: the VM.
 */
void pvchan_debugfs_vm_remove(struct pvchan_vm *vm)
{
	debugfs_remove(vm->dbg);
	vm->dbg = NULL;
}

/**
 * pvchan_debugfs_init() - create /sys/kernel/debug/pvchan.
 *
 * Return: 0 (debugfs failures are not fatal).
 */
int pvchan_debugfs_init(void)
{
	pvchan_dbg_root = debugfs_create_dir("pvchan", NULL);
	return 0;
}

/** pvchan_debugfs_exit() - remove /sys/kernel/debug/pvchan. */
void pvchan_debugfs_exit(void)
{
	debugfs_remove(pvchan_dbg_root);
}
