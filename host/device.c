// SPDX-License-Identifier: GPL-2.0
/*
 * Devices offered to a bound VM: creation from a PVCHAN_IOC_ADD_DEV request
 * (user input, checked with clear errors) and release.
 */
#include <linux/file.h>
#include <linux/log2.h>
#include <linux/slab.h>

#include "pvchan_host.h"

#define PVCHAN_DEFAULT_QUEUE_SIZE	256

static const struct pvchan_dev_ops *pvchan_dev_types[] = {
	&pvchan_echo_ops,
	&pvchan_blk_ops,
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
 * Devices can be added until the guest's first HELLO (hot-add is for a later
 * ABI minor).
 *
 * Return: 0, -EINVAL (bad parameters), -EOPNOTSUPP (unknown type), -ENOSPC
 * (too many devices), -EBUSY (guest already negotiated), -EBADF (backend
 * fd not open), -ENOMEM, or the device type's own error.
 */
int pvchan_dev_add(struct pvchan_vm *vm, struct pvchan_ctl_dev *cfg)
{
	const struct pvchan_dev_ops *ops = pvchan_find_ops(cfg->type);
	u32 qsize = cfg->queue_size ?: PVCHAN_DEFAULT_QUEUE_SIZE;
	struct file *backend = NULL;
	struct pvchan_dev *dev;
	unsigned int i;
	int ret = 0;

	if (!ops)
		return -EOPNOTSUPP;
	if (!cfg->num_queues || cfg->num_queues > PVCHAN_CTL_MAX_QUEUES ||
	    !is_power_of_2(qsize) || qsize > PVCHAN_RING_MAX_SIZE ||
	    (cfg->flags & ~PVCHAN_CTL_DEV_F_RO) ||
	    (!ops->create && (cfg->backend_fd != -1 || cfg->flags)) ||
	    memchr_inv(cfg->reserved, 0, sizeof(cfg->reserved)))
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
	for (i = 0; i < dev->num_queues; i++) {
		struct pvchan_queue *q = &dev->queues[i];

		q->dev = dev;
		q->index = i;
		mutex_init(&q->lock);
		INIT_WORK(&q->work, pvchan_queue_work);
	}

	mutex_lock(&vm->lock);
	if (vm->hello_done)
		ret = -EBUSY;
	else if (vm->num_devs >= PVCHAN_CTL_MAX_DEVS)
		ret = -ENOSPC;
	if (ret) {
		mutex_unlock(&vm->lock);
		pvchan_dev_free(dev);
		return ret;
	}
	dev->index = vm->num_devs;
	vm->devs[dev->index] = dev;
	/* Handlers index devs[] locklessly below num_devs. */
	smp_store_release(&vm->num_devs, dev->index + 1);
	mutex_unlock(&vm->lock);

	cfg->dev_id = dev->index;
	pvchan_debugfs_dev_add(dev);
	return 0;
}

/**
 * pvchan_dev_free() - stop a device's queues and free it.
 * @dev: the device; no hypercall handler may reach it any more.
 */
void pvchan_dev_free(struct pvchan_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++) {
		pvchan_queue_reset(&dev->queues[i]);
		mutex_destroy(&dev->queues[i].lock);
	}
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
	kfree(dev);
}
