// SPDX-License-Identifier: GPL-2.0
/*
 * Devices offered to a bound VM: creation from a PVCHAN_IOC_ADD_DEV request
 * (user input, checked with clear errors) and release.
 */
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/cpumask.h>
#include <linux/log2.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <uapi/linux/sched/types.h>

#include "pvchan_host.h"

#define PVCHAN_DEFAULT_QUEUE_SIZE	256

static bool batch_workers = true;
module_param(batch_workers, bool, 0644);
MODULE_PARM_DESC(batch_workers,
		 "Queue worker threads of devices added from now on are SCHED_BATCH: a kick does not preempt the vCPU that made it; on a CPU they share, requests collect until the vCPU halts and are served in one batch (default Y; N: a kick preempts the vCPU, one request per kick)");

/* Stop and free a device's worker threads; their queues are idle. */
static void pvchan_dev_workers_stop(struct pvchan_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_workers; i++)
		kthread_destroy_worker(dev->workers[i]);
	kfree(dev->workers);
	dev->workers = NULL;
	dev->num_workers = 0;
}

/*
 * Start the threads that serve @dev's queues, one per queue up to one per
 * CPU, named after the VM and the device index @index.
 */
static int pvchan_dev_workers_start(struct pvchan_dev *dev, u32 index)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = SCHED_BATCH,
	};
	unsigned int n = min_t(unsigned int, dev->num_queues,
			       num_possible_cpus());
	bool batch = READ_ONCE(batch_workers);
	struct kthread_worker *w;

	dev->workers = kcalloc(n, sizeof(*dev->workers), GFP_KERNEL);
	if (!dev->workers)
		return -ENOMEM;
	while (dev->num_workers < n) {
		w = kthread_create_worker(0, "pvchan%u-%u.%u", dev->vm->id,
					  index, dev->num_workers);
		if (IS_ERR(w)) {
			pvchan_dev_workers_stop(dev);
			return PTR_ERR(w);
		}
		/* A thread that stays SCHED_NORMAL still works; no error. */
		if (batch && sched_setattr_nocheck(w->task, &attr))
			pr_warn_once("queue workers stay SCHED_NORMAL\n");
		dev->workers[dev->num_workers++] = w;
	}
	return 0;
}

static const struct pvchan_dev_ops *pvchan_dev_types[] = {
	&pvchan_echo_ops,
	&pvchan_blk_ops,
	&pvchan_net_ops,
	&pvchan_clock_ops,
};

static const struct pvchan_dev_ops *pvchan_find_ops(u32 type)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pvchan_dev_types); i++)
		if (pvchan_dev_types[i]->type == type)
			return pvchan_dev_types[i];
	return NULL;
}

/**
 * pvchan_dev_add() - add a device to a bound VM.
 * @vm: the VM.
 * @cfg: the request from user space; @cfg->dev_id is filled in.
 *
 * Before the guest's first HELLO the device is simply there when the guest
 * probes; after it, this is a hot-add, announced with the VM's event
 * interrupt (a guest without PVCHAN_F_DEV_EVENTS sees the device when it
 * probes again).  Device indices are never reused.
 *
 * Context: process context, under pvchan_vms_lock (the VM stays bound).
 * Return: 0, -EINVAL (bad parameters), -EOPNOTSUPP (unknown type), -ENOSPC
 * (no device index left), -EBADF (backend fd not open), -ENOMEM, or the
 * device type's own error.
 */
int pvchan_dev_add(struct pvchan_vm *vm, struct pvchan_ctl_dev *cfg)
{
	const struct pvchan_dev_ops *ops = pvchan_find_ops(cfg->type);
	u32 qsize = cfg->queue_size ?: PVCHAN_DEFAULT_QUEUE_SIZE;
	struct file *backend = NULL;
	struct pvchan_dev *dev;
	unsigned int i;
	int ret = 0;
	bool hot;

	if (!ops)
		return -EOPNOTSUPP;
	if (!cfg->num_queues || cfg->num_queues > PVCHAN_CTL_MAX_QUEUES ||
	    !is_power_of_2(qsize) || qsize > PVCHAN_RING_MAX_SIZE ||
	    (cfg->flags & ~PVCHAN_CTL_DEV_F_RO) ||
	    (!ops->create && (cfg->backend_fd != -1 || cfg->flags)) ||
	    cfg->pad ||
	    (cfg->type != PVCHAN_DEV_NET &&
	     (cfg->net_mtu || cfg->net_queue_fds ||
	      memchr_inv(cfg->net_mac, 0, sizeof(cfg->net_mac)))))
		return -EINVAL;

	dev = kzalloc(struct_size(dev, queues, cfg->num_queues), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->vm = vm;
	dev->ops = ops;
	dev->num_queues = cfg->num_queues;
	dev->max_queue_size = qsize;
	dev->max_segs = 1;
	if (ops->create) {
		if (cfg->backend_fd >= 0) {
			backend = fget(cfg->backend_fd);
			if (!backend) {
				kfree(dev);
				return -EBADF;
			}
		}
		/* On success the device keeps its own reference. */
		ret = ops->create(dev, cfg, backend);
		if (backend)
			fput(backend);
		if (ret) {
			kfree(dev);
			return ret;
		}
	}
	/* Indices only grow, under pvchan_vms_lock: this one will be ours. */
	ret = pvchan_dev_workers_start(dev, READ_ONCE(vm->num_devs));
	if (ret) {
		if (ops->destroy)
			ops->destroy(dev);
		kfree(dev);
		return ret;
	}
	for (i = 0; i < dev->num_queues; i++) {
		pvchan_queue_init(&dev->queues[i], dev, i);
		dev->queues[i].worker = dev->workers[i % dev->num_workers];
	}

	mutex_lock(&vm->lock);
	if (vm->num_devs >= PVCHAN_CTL_MAX_DEVS) {
		mutex_unlock(&vm->lock);
		pvchan_dev_free(dev);
		return -ENOSPC;
	}
	dev->index = vm->num_devs;
	/* Before the device is reachable: its directory exists when it is. */
	pvchan_debugfs_dev_add(dev);
	vm->devs[dev->index] = dev;
	/* Handlers index devs[] locklessly below num_devs. */
	smp_store_release(&vm->num_devs, dev->index + 1);
	hot = vm->hello_done;
	mutex_unlock(&vm->lock);

	cfg->dev_id = dev->index;
	if (hot) {
		pr_info("vm%u: dev%u: %s added\n", vm->id, dev->index, ops->name);
		pvchan_vm_event(vm);
	}
	return 0;
}

/**
 * pvchan_dev_remove() - hot-remove a device from a bound VM.
 * @vm: the VM.
 * @index: device index.
 *
 * The device disappears from the guest's view at once (its hypercalls fail
 * with PVCHAN_ENODEV, DEV_MAP drops it), its queues stop (requests not yet
 * completed stay so: the guest fails them) and it is freed; the guest is
 * told with the event interrupt.
 *
 * Context: process context, under pvchan_vms_lock (the VM stays bound).
 * Return: 0 or -ENODEV.
 */
int pvchan_dev_remove(struct pvchan_vm *vm, u32 index)
{
	struct pvchan_dev *dev = NULL;

	mutex_lock(&vm->lock);
	if (index < vm->num_devs)
		dev = vm->devs[index];
	if (dev)
		WRITE_ONCE(vm->devs[index], NULL);
	mutex_unlock(&vm->lock);
	if (!dev)
		return -ENODEV;

	/* No hypercall handler holds the device after this. */
	synchronize_srcu(&pvchan_srcu);
	debugfs_remove(dev->dbg);
	pvchan_dev_free(dev);
	pr_info("vm%u: dev%u removed\n", vm->id, index);
	pvchan_vm_event(vm);
	return 0;
}

/**
 * pvchan_dev_free() - stop a device's queues and free it.
 * @dev: the device; no hypercall handler may reach it any more.
 */
void pvchan_dev_free(struct pvchan_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++)
		pvchan_queue_reset(&dev->queues[i]);
	/* May cancel workers that backend wake-ups queued: locks still live. */
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
	pvchan_dev_workers_stop(dev);
	for (i = 0; i < dev->num_queues; i++)
		mutex_destroy(&dev->queues[i].lock);
	kfree(dev);
}

/**
 * pvchan_dev_changed() - tell the guest that a device's configuration
 * changed (its backend was resized, say).
 * @dev: the device.
 *
 * Bumps the device's config_gen and raises the VM's event interrupt if the
 * guest routed one (PVCHAN_F_DEV_EVENTS); a guest without it sees the new
 * configuration the next time it reads it.
 *
 * Context: process context, under pvchan_vms_lock (the VM stays bound).
 */
void pvchan_dev_changed(struct pvchan_dev *dev)
{
	u32 gen = atomic_inc_return(&dev->config_gen);

	pr_info("vm%u: dev%u: configuration changed (generation %u)\n",
		dev->vm->id, dev->index, gen);
	pvchan_vm_event(dev->vm);
}

/**
 * pvchan_vm_event() - raise the VM's event interrupt, if the guest routed
 * one (PVCHAN_F_DEV_EVENTS).
 * @vm: the VM.
 */
void pvchan_vm_event(struct pvchan_vm *vm)
{
	u64 route = READ_ONCE(vm->event_route);

	if (!(route & PVCHAN_ROUTE_VALID)) {
		pr_info("vm%u: guest not listening for device events\n",
			vm->id);
		return;
	}
	if (!pvchan_kvm_inject(vm->kvm, route & 0xff, (u32)(route >> 8)))
		atomic64_inc(&vm->events);
}
