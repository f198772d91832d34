// SPDX-License-Identifier: GPL-2.0
/*
 * pvchan_host: serves pvchan hypercalls from KVM guests inside the host
 * kernel.  This file: module setup, /dev/pvchan, binding and unbinding VMs.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "pvchan_host.h"

DEFINE_SRCU(pvchan_srcu);
struct workqueue_struct *pvchan_wq;

/*
 * pvchan_vms_lock protects writers of pvchan_vms and pvchan_vm.bound;
 * readers walk pvchan_vms under pvchan_srcu.  Lock order: pvchan_vms_lock,
 * then pvchan_vm.lock, then pvchan_queue.lock.
 */
static DEFINE_MUTEX(pvchan_vms_lock);
static LIST_HEAD(pvchan_vms);
static u32 pvchan_next_vm_id;

/**
 * pvchan_vm_lookup() - find the bound VM for a KVM instance.
 * @kvm: the VM.
 *
 * Context: pvchan_srcu read section; the result is valid until it ends.
 * Return: the pvchan VM, or NULL if @kvm is not bound.
 */
struct pvchan_vm *pvchan_vm_lookup(struct kvm *kvm)
{
	struct pvchan_vm *vm;

	list_for_each_entry_srcu(vm, &pvchan_vms, node,
				 srcu_read_lock_held(&pvchan_srcu))
		if (vm->kvm == kvm)
			return vm;
	return NULL;
}

/* Unbind: idempotent; after it no handler or worker touches the VM. */
static void pvchan_vm_unbind(struct pvchan_vm *vm)
{
	u32 i;

	mutex_lock(&pvchan_vms_lock);
	if (!vm->bound) {
		mutex_unlock(&pvchan_vms_lock);
		return;
	}
	vm->bound = false;
	list_del_rcu(&vm->node);
	mutex_unlock(&pvchan_vms_lock);

	synchronize_srcu(&pvchan_srcu);
	pvchan_debugfs_vm_remove(vm);
	for (i = 0; i < vm->num_devs; i++)
		if (vm->devs[i])
			pvchan_dev_free(vm->devs[i]);
	vm->num_devs = 0;
	mmu_notifier_unregister(&vm->mn, vm->mm);
	pvchan_kvm_put(vm->kvm);
	pr_info("vm%u: unbound\n", vm->id);
}

static void pvchan_vm_release_work(struct work_struct *work)
{
	pvchan_vm_unbind(container_of(work, struct pvchan_vm, release_work));
}

/* The VMM's address space is going away: unbind from process context. */
static void pvchan_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct pvchan_vm *vm = container_of(mn, struct pvchan_vm, mn);

	queue_work(pvchan_wq, &vm->release_work);
}

static const struct mmu_notifier_ops pvchan_mn_ops = {
	.release = pvchan_mn_release,
};

static long pvchan_ioctl_bind(struct pvchan_vm *vm, void __user *argp)
{
	struct pvchan_ctl_bind arg;
	struct pvchan_vm *other;
	struct kvm *kvm;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.reserved)
		return -EINVAL;
	if (vm->kvm)
		return -EALREADY;
	kvm = pvchan_kvm_get_from_fd(arg.vm_fd);
	if (IS_ERR(kvm))
		return PTR_ERR(kvm);

	vm->kvm = kvm;
	vm->mm = pvchan_kvm_mm(kvm);
	vm->pid = task_tgid_nr(current);
	vm->vmm_pid = pvchan_kvm_vmm_pid(kvm);
	vm->mn.ops = &pvchan_mn_ops;
	if (!mmget_not_zero(vm->mm)) {
		ret = -ESRCH;
		goto out_put_kvm;
	}
	ret = mmu_notifier_register(&vm->mn, vm->mm);
	mmput(vm->mm);
	if (ret)
		goto out_put_kvm;

	mutex_lock(&pvchan_vms_lock);
	list_for_each_entry(other, &pvchan_vms, node) {
		if (other->kvm == kvm) {
			mutex_unlock(&pvchan_vms_lock);
			ret = -EBUSY;
			goto out_unregister;
		}
	}
	vm->id = pvchan_next_vm_id++;
	vm->bound = true;
	pvchan_debugfs_vm_add(vm);
	list_add_tail_rcu(&vm->node, &pvchan_vms);
	mutex_unlock(&pvchan_vms_lock);

	arg.vm_id = vm->id;
	pr_info("vm%u: bound (VMM pid %d, by pid %d)\n", vm->id, vm->vmm_pid,
		vm->pid);
	if (copy_to_user(argp, &arg, sizeof(arg)))
		return -EFAULT;	/* stays bound; closing the file unbinds */
	return 0;

out_unregister:
	mmu_notifier_unregister(&vm->mn, vm->mm);
out_put_kvm:
	pvchan_kvm_put(kvm);
	vm->kvm = NULL;
	vm->mm = NULL;
	return ret;
}

static long pvchan_ioctl_add_dev(struct pvchan_vm *vm, void __user *argp)
{
	struct pvchan_ctl_dev cfg;
	int ret;

	if (copy_from_user(&cfg, argp, sizeof(cfg)))
		return -EFAULT;
	/* Serialise with unbind so devices never outlive the binding. */
	mutex_lock(&pvchan_vms_lock);
	ret = vm->bound ? pvchan_dev_add(vm, &cfg) : -ENOTCONN;
	mutex_unlock(&pvchan_vms_lock);
	if (ret)
		return ret;
	return copy_to_user(argp, &cfg, sizeof(cfg)) ? -EFAULT : 0;
}

/*
 * Find the bound VM of a VM fd given by the caller and take
 * pvchan_vms_lock, which keeps it bound; NULL (lock not held) with *err set
 * if there is none.
 */
static struct pvchan_vm *pvchan_vm_get_locked(int vm_fd, int *err)
{
	struct pvchan_vm *vm;
	struct kvm *kvm;

	kvm = pvchan_kvm_get_from_fd(vm_fd);
	if (IS_ERR(kvm)) {
		*err = PTR_ERR(kvm);
		return NULL;
	}
	mutex_lock(&pvchan_vms_lock);
	list_for_each_entry(vm, &pvchan_vms, node) {
		if (vm->kvm == kvm) {
			/* The binding holds its own reference. */
			pvchan_kvm_put(kvm);
			return vm;
		}
	}
	mutex_unlock(&pvchan_vms_lock);
	pvchan_kvm_put(kvm);
	*err = -ENOENT;
	return NULL;
}

/* PVCHAN_IOC_DEV_CHANGED and PVCHAN_IOC_DEL_DEV. */
static long pvchan_ioctl_dev_ref(unsigned int cmd, void __user *argp)
{
	struct pvchan_ctl_dev_ref ref;
	struct pvchan_vm *vm;
	int ret;

	if (copy_from_user(&ref, argp, sizeof(ref)))
		return -EFAULT;
	if (ref.reserved[0] || ref.reserved[1])
		return -EINVAL;
	vm = pvchan_vm_get_locked(ref.vm_fd, &ret);
	if (!vm)
		return ret;
	if (cmd == PVCHAN_IOC_DEL_DEV) {
		ret = pvchan_dev_remove(vm, ref.dev_id);
	} else {
		ret = -ENODEV;
		mutex_lock(&vm->lock);
		if (ref.dev_id < vm->num_devs && vm->devs[ref.dev_id]) {
			pvchan_dev_changed(vm->devs[ref.dev_id]);
			ret = 0;
		}
		mutex_unlock(&vm->lock);
	}
	mutex_unlock(&pvchan_vms_lock);
	return ret;
}

/* PVCHAN_IOC_HOT_ADD: a device for a VM bound by another file. */
static long pvchan_ioctl_hot_add(void __user *argp)
{
	struct pvchan_ctl_hot_add arg;
	struct pvchan_vm *vm;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.pad || arg.reserved)
		return -EINVAL;
	vm = pvchan_vm_get_locked(arg.vm_fd, &ret);
	if (!vm)
		return ret;
	ret = pvchan_dev_add(vm, &arg.dev);
	mutex_unlock(&pvchan_vms_lock);
	if (ret)
		return ret;
	return copy_to_user(argp, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long pvchan_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct pvchan_vm *vm = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case PVCHAN_IOC_BIND:
		return pvchan_ioctl_bind(vm, argp);
	case PVCHAN_IOC_ADD_DEV:
		return pvchan_ioctl_add_dev(vm, argp);
	case PVCHAN_IOC_DEV_CHANGED:
	case PVCHAN_IOC_DEL_DEV:
		return pvchan_ioctl_dev_ref(cmd, argp);
	case PVCHAN_IOC_HOT_ADD:
		return pvchan_ioctl_hot_add(argp);
	default:
		return -ENOTTY;
	}
}

static int pvchan_open(struct inode *inode, struct file *file)
{
	struct pvchan_vm *vm;

	/* Zeroed memory is a valid initial state for every counter. */
	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return -ENOMEM;
	mutex_init(&vm->lock);
	INIT_WORK(&vm->release_work, pvchan_vm_release_work);
	file->private_data = vm;
	return 0;
}

static int pvchan_release(struct inode *inode, struct file *file)
{
	struct pvchan_vm *vm = file->private_data;

	if (vm->kvm) {
		pvchan_vm_unbind(vm);
		cancel_work_sync(&vm->release_work);
	}
	mutex_destroy(&vm->lock);
	kfree(vm);
	return 0;
}

static const struct file_operations pvchan_fops = {
	.owner = THIS_MODULE,
	.open = pvchan_open,
	.release = pvchan_release,
	.unlocked_ioctl = pvchan_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice pvchan_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pvchan",
	.fops = &pvchan_fops,
	.mode = 0600,
};

static int __init pvchan_init(void)
{
	int ret;

	pvchan_wq = alloc_workqueue("pvchan", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!pvchan_wq)
		return -ENOMEM;
	ret = pvchan_debugfs_init();
	if (ret)
		goto out_destroy_wq;
	ret = pvchan_kvm_hook_install();
	if (ret)
		goto out_debugfs;
	ret = misc_register(&pvchan_misc);
	if (ret)
		goto out_remove_hook;
	pr_info("ABI %u.%u, hypercalls %#x..%#x\n", PVCHAN_ABI_MAJOR,
		PVCHAN_ABI_MINOR, PVCHAN_HC_BASE, PVCHAN_HC_LAST);
	return 0;

out_remove_hook:
	pvchan_kvm_hook_remove();
out_debugfs:
	pvchan_debugfs_exit();
out_destroy_wq:
	destroy_workqueue(pvchan_wq);
	return ret;
}

static void __exit pvchan_exit(void)
{
	/* No file is open (module reference), so no VM is bound. */
	misc_deregister(&pvchan_misc);
	pvchan_kvm_hook_remove();
	destroy_workqueue(pvchan_wq);
	pvchan_debugfs_exit();
}

module_init(pvchan_init);
module_exit(pvchan_exit);
MODULE_DESCRIPTION("pvchan: in-kernel paravirtual channel for KVM guests (host)");
MODULE_AUTHOR("pvchan developers");
MODULE_LICENSE("GPL");
