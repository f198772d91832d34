// SPDX-License-Identifier: GPL-2.0
/*
 * pvchan hypercall handlers.  Everything here is guest controlled: every
 * argument is checked, failures return a PVCHAN_E* code, are counted by
 * reason and logged at debug level with a rate limit.
 *
 * Context: the vCPU thread that executed the hypercall, may sleep, inside a
 * pvchan_srcu read section, with the VMM's mm as current->mm.
 */
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <kunit/visibility.h>

#include "pvchan_host.h"
#include "pvchan_abi_check.h"
#include "trace.h"

static const char * const pvchan_reject_names[PVCHAN_REJ_NR] = {
	[PVCHAN_REJ_NOSYS] = "nosys",
	[PVCHAN_REJ_NOTREADY] = "notready",
	[PVCHAN_REJ_VERSION] = "version",
	[PVCHAN_REJ_INVAL] = "inval",
	[PVCHAN_REJ_NODEV] = "nodev",
	[PVCHAN_REJ_NOQUEUE] = "noqueue",
	[PVCHAN_REJ_FAULT] = "fault",
	[PVCHAN_REJ_ALIGN] = "align",
	[PVCHAN_REJ_BUSY] = "busy",
	[PVCHAN_REJ_NOMEM] = "nomem",
	[PVCHAN_REJ_RING_INDEX] = "ring_index",
	[PVCHAN_REJ_RING_DESC] = "ring_desc",
	[PVCHAN_REJ_NOCLOCK] = "noclock",
};

/* PVCHAN_E* code for each reject reason that a hypercall can return. */
static const u16 pvchan_reject_errno[PVCHAN_REJ_NR] = {
	[PVCHAN_REJ_NOSYS] = PVCHAN_ENOSYS,
	[PVCHAN_REJ_NOTREADY] = PVCHAN_ENOTREADY,
	[PVCHAN_REJ_VERSION] = PVCHAN_EVERSION,
	[PVCHAN_REJ_INVAL] = PVCHAN_EINVAL,
	[PVCHAN_REJ_NODEV] = PVCHAN_ENODEV,
	[PVCHAN_REJ_NOQUEUE] = PVCHAN_ENOQUEUE,
	[PVCHAN_REJ_FAULT] = PVCHAN_EFAULT,
	[PVCHAN_REJ_ALIGN] = PVCHAN_EALIGN,
	[PVCHAN_REJ_BUSY] = PVCHAN_EBUSY,
	[PVCHAN_REJ_NOMEM] = PVCHAN_ENOMEM,
	[PVCHAN_REJ_RING_INDEX] = PVCHAN_EINVAL,
	[PVCHAN_REJ_RING_DESC] = PVCHAN_EINVAL,
	[PVCHAN_REJ_NOCLOCK] = PVCHAN_ENOCLOCK,
};

static const char * const pvchan_hc_names[PVCHAN_HC_COUNT + 1] = {
	"hello", "dev_info", "dev_config", "queue_setup", "queue_reset",
	"kick", "irq_route", "dev_map", "clock_pair", "clock_record",
	"unknown",
};

/**
 * pvchan_reject_name() - debugfs name of a reject reason.
 * @why: reason.
 *
 * Return: a static string.
 */
const char *pvchan_reject_name(enum pvchan_reject why)
{
	return why < PVCHAN_REJ_NR ? pvchan_reject_names[why] : "?";
}

/**
 * pvchan_hc_name() - debugfs name of a hypercall counter slot.
 * @idx: nr - PVCHAN_HC_BASE, or PVCHAN_HC_COUNT for unknown numbers.
 *
 * Return: a static string.
 */
const char *pvchan_hc_name(unsigned int idx)
{
	return idx <= PVCHAN_HC_COUNT ? pvchan_hc_names[idx] : "?";
}

/**
 * pvchan_reject() - count a refused guest request.
 * @vm: the VM.
 * @why: reason.
 */
void pvchan_reject(struct pvchan_vm *vm, enum pvchan_reject why)
{
	atomic64_inc(&vm->rejects[why]);
}

static long pvchan_fail(struct pvchan_vm *vm, unsigned long nr,
			enum pvchan_reject why)
{
	pvchan_reject(vm, why);
	pvchan_guest_dbg(vm, "hypercall %#lx refused: %s\n", nr,
			 pvchan_reject_names[why]);
	return -(long)pvchan_reject_errno[why];
}

/* Map a kvm_glue error to a reject reason. */
static enum pvchan_reject pvchan_mem_reject(int err)
{
	return err == -ENOMEM ? PVCHAN_REJ_NOMEM : PVCHAN_REJ_FAULT;
}

/* Check an "out" block address: 8-byte aligned, in writable RAM. */
static int pvchan_check_block(struct pvchan_vm *vm, u64 gpa, u64 len)
{
	if (!IS_ALIGNED(gpa, 8))
		return PVCHAN_REJ_ALIGN;
	if (pvchan_kvm_check_range(vm->kvm, gpa, len, true))
		return PVCHAN_REJ_FAULT;
	return -1;
}

static struct pvchan_dev *pvchan_get_dev(struct pvchan_vm *vm,
					 unsigned long idx)
{
	/* Pairs with the release in pvchan_dev_add(): devs[] below n is set. */
	u32 n = smp_load_acquire(&vm->num_devs);

	if (idx >= n)
		return NULL;
	/* NULL once hot-removed; freed only after an SRCU grace period. */
	return READ_ONCE(vm->devs[array_index_nospec(idx, n)]);
}

static struct pvchan_queue *pvchan_get_queue(struct pvchan_dev *dev,
					     unsigned long idx)
{
	if (idx >= dev->num_queues)
		return NULL;
	return &dev->queues[array_index_nospec(idx, dev->num_queues)];
}

static void pvchan_vm_reset_devs(struct pvchan_vm *vm)
{
	u32 i, j;

	lockdep_assert_held(&vm->lock);
	for (i = 0; i < vm->num_devs; i++) {
		struct pvchan_dev *dev = vm->devs[i];

		if (!dev)
			continue;
		for (j = 0; j < dev->num_queues; j++)
			pvchan_queue_reset(&dev->queues[j]);
		if (dev->ops->reset)
			dev->ops->reset(dev);
	}
}

/**
 * pvchan_hello_negotiate() - answer a guest's HELLO block.
 * @h: the block as read from the guest; the host half is filled in.
 * @num_devs: devices offered to the guest.
 * @features: out, the negotiated channel features (0 on failure).
 *
 * Any minor version of the same major is accepted: minors only add, and
 * what either side lacks is simply not negotiated.  Feature bits the host
 * does not know are dropped.
 *
 * Return: -1 on success, PVCHAN_REJ_VERSION for another major version.
 */
VISIBLE_IF_KUNIT int pvchan_hello_negotiate(struct pvchan_hello *h,
					    u32 num_devs, u64 *features)
{
	h->host_major = cpu_to_le16(PVCHAN_ABI_MAJOR);
	h->host_minor = cpu_to_le16(PVCHAN_ABI_MINOR);
	h->num_devices = cpu_to_le32(num_devs);
	h->host_features = cpu_to_le64(PVCHAN_F_KNOWN_MASK);
	h->max_queues = cpu_to_le32(PVCHAN_CTL_MAX_QUEUES);
	h->max_queue_size = cpu_to_le32(PVCHAN_RING_MAX_SIZE);
	h->pad0 = 0;
	memset(h->reserved, 0, sizeof(h->reserved));
	*features = 0;
	if (le16_to_cpu(h->guest_major) != PVCHAN_ABI_MAJOR) {
		h->features = 0;
		return PVCHAN_REJ_VERSION;
	}
	*features = le64_to_cpu(h->guest_features) & PVCHAN_F_KNOWN_MASK;
	h->features = cpu_to_le64(*features);
	return -1;
}
EXPORT_SYMBOL_IF_KUNIT(pvchan_hello_negotiate);

/* HELLO: a0 = gpa of struct pvchan_hello, a1 = its size. */
static long pvchan_hc_hello(struct pvchan_vm *vm, u32 vcpu_id,
			    unsigned long nr, const unsigned long *a)
{
	struct pvchan_hello h = {};
	u64 size = a[1];
	int why;

	if (size < PVCHAN_HELLO_MIN_SIZE || size > PAGE_SIZE)
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	size = min_t(u64, size, sizeof(h));
	why = pvchan_check_block(vm, a[0], size);
	if (why >= 0)
		return pvchan_fail(vm, nr, why);
	if (pvchan_kvm_read(vm->kvm, a[0], &h, size))
		return pvchan_fail(vm, nr, PVCHAN_REJ_FAULT);

	mutex_lock(&vm->lock);
	/* A new HELLO is a guest reboot or driver reload: start over. */
	WRITE_ONCE(vm->hello_done, false);
	WRITE_ONCE(vm->event_route, 0);
	pvchan_vm_reset_devs(vm);

	why = pvchan_hello_negotiate(&h, vm->num_devs, &vm->features);
	vm->guest_major = le16_to_cpu(h.guest_major);
	vm->guest_minor = le16_to_cpu(h.guest_minor);
	trace_pvchan_hello(vm->id, vm->guest_major, vm->guest_minor,
			   le64_to_cpu(h.guest_features), vm->features,
			   why < 0 ? 0 : why);
	if (pvchan_kvm_write(vm->kvm, a[0], &h, size)) {
		mutex_unlock(&vm->lock);
		return pvchan_fail(vm, nr, PVCHAN_REJ_FAULT);
	}
	if (why < 0)
		WRITE_ONCE(vm->hello_done, true);
	mutex_unlock(&vm->lock);
	return why < 0 ? PVCHAN_OK : pvchan_fail(vm, nr, why);
}

/* DEV_INFO: a0 = device index, a1 = gpa of struct pvchan_dev_desc, a2 = size */
static long pvchan_hc_dev_info(struct pvchan_vm *vm, u32 vcpu_id,
			       unsigned long nr, const unsigned long *a)
{
	struct pvchan_dev_desc d = {};
	struct pvchan_dev *dev;
	u64 size = a[2];
	int why;

	dev = pvchan_get_dev(vm, a[0]);
	if (!dev)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
	if (size < PVCHAN_HELLO_MIN_SIZE || size > PAGE_SIZE)
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	size = min_t(u64, size, sizeof(d));
	why = pvchan_check_block(vm, a[1], size);
	if (why >= 0)
		return pvchan_fail(vm, nr, why);

	d.type = cpu_to_le32(dev->ops->type);
	d.dev_id = cpu_to_le32(dev->index);
	d.num_queues = cpu_to_le16(dev->num_queues);
	d.max_queue_size = cpu_to_le16(dev->max_queue_size);
	d.max_segs = cpu_to_le16(dev->max_segs);
	d.features = cpu_to_le64(dev->features);
	d.config_len = cpu_to_le32(dev->config_len);
	d.config_gen = cpu_to_le32(atomic_read(&dev->config_gen));
	if (pvchan_kvm_write(vm->kvm, a[1], &d, size))
		return pvchan_fail(vm, nr, PVCHAN_REJ_FAULT);
	return PVCHAN_OK;
}

/*
 * DEV_CONFIG: a0 = device, a1 = gpa, a2 = length, a3 = offset.  Reads
 * [offset, offset + length) of the device's config block; an empty read
 * always succeeds.
 */
static long pvchan_hc_dev_config(struct pvchan_vm *vm, u32 vcpu_id,
				 unsigned long nr, const unsigned long *a)
{
	struct pvchan_dev *dev = pvchan_get_dev(vm, a[0]);
	u8 buf[PVCHAN_DEV_CONFIG_MAX] = {};
	int why;

	if (!dev)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
	if (a[2] > dev->config_len || a[3] > dev->config_len - a[2])
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	if (!a[2])
		return PVCHAN_OK;
	why = pvchan_check_block(vm, a[1], a[2]);
	if (why >= 0)
		return pvchan_fail(vm, nr, why);
	dev->ops->get_config(dev, buf);
	if (pvchan_kvm_write(vm->kvm, a[1], buf + a[3], a[2]))
		return pvchan_fail(vm, nr, PVCHAN_REJ_FAULT);
	return PVCHAN_OK;
}

/* QUEUE_SETUP: a0 = device, a1 = queue, a2 = ring gpa, a3 = entries. */
static long pvchan_hc_queue_setup(struct pvchan_vm *vm, u32 vcpu_id,
				  unsigned long nr, const unsigned long *a)
{
	struct pvchan_dev *dev = pvchan_get_dev(vm, a[0]);
	struct pvchan_queue *q;
	int ret;

	if (!dev)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
	q = pvchan_get_queue(dev, a[1]);
	if (!q)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NOQUEUE);
	if (!a[3] || a[3] > dev->max_queue_size || !is_power_of_2(a[3]))
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	if (!PAGE_ALIGNED(a[2]))
		return pvchan_fail(vm, nr, PVCHAN_REJ_ALIGN);
	if (pvchan_kvm_check_range(vm->kvm, a[2], PVCHAN_RING_BYTES(a[3]),
				   true))
		return pvchan_fail(vm, nr, PVCHAN_REJ_FAULT);
	ret = pvchan_queue_setup(q, a[2], a[3]);
	if (ret == -EBUSY)
		return pvchan_fail(vm, nr, PVCHAN_REJ_BUSY);
	if (ret)
		return pvchan_fail(vm, nr, pvchan_mem_reject(ret));
	return PVCHAN_OK;
}

/* QUEUE_RESET: a0 = device, a1 = queue.  Resetting an idle queue is fine. */
static long pvchan_hc_queue_reset(struct pvchan_vm *vm, u32 vcpu_id,
				  unsigned long nr, const unsigned long *a)
{
	struct pvchan_dev *dev = pvchan_get_dev(vm, a[0]);
	struct pvchan_queue *q;

	if (!dev)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
	q = pvchan_get_queue(dev, a[1]);
	if (!q)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NOQUEUE);
	pvchan_queue_reset(q);
	return PVCHAN_OK;
}

/* KICK: a0 = device, a1 = queue.  The queue worker does the rest. */
static long pvchan_hc_kick(struct pvchan_vm *vm, u32 vcpu_id,
			   unsigned long nr, const unsigned long *a)
{
	struct pvchan_dev *dev = pvchan_get_dev(vm, a[0]);
	struct pvchan_queue *q;

	if (!dev)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
	q = pvchan_get_queue(dev, a[1]);
	if (!q)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NOQUEUE);
	if (!READ_ONCE(q->active))
		return pvchan_fail(vm, nr, PVCHAN_REJ_NOTREADY);
	atomic64_inc(&q->stats.kicks);
	if (atomic_dec_if_positive(&dev->fault_drop_kick) >= 0) {
		/* Injected fault: the kick is lost. */
		atomic64_inc(&q->stats.fault_kicks_dropped);
		return PVCHAN_OK;
	}
	pvchan_queue_wake(q);
	return PVCHAN_OK;
}

/*
 * IRQ_ROUTE: a0 = device, a1 = queue, a2 = vector, a3 = APIC id; with
 * PVCHAN_F_DEV_EVENTS, a0 = PVCHAN_EVENT_DEV and a1 = 0 route the VM's
 * event interrupt (a2 = 0: remove that route).
 */
static long pvchan_hc_irq_route(struct pvchan_vm *vm, u32 vcpu_id,
				unsigned long nr, const unsigned long *a)
{
	bool event = a[0] == PVCHAN_EVENT_DEV &&
		     (vm->features & BIT_ULL(PVCHAN_F_DEV_EVENTS));
	struct pvchan_dev *dev = NULL;
	struct pvchan_queue *q = NULL;
	u64 route;

	if (!event) {
		dev = pvchan_get_dev(vm, a[0]);
		if (!dev)
			return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
		q = pvchan_get_queue(dev, a[1]);
	}
	if (event ? a[1] != 0 : !q)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NOQUEUE);
	if (event && !a[2]) {
		WRITE_ONCE(vm->event_route, 0);
		return PVCHAN_OK;
	}
	if (a[2] < PVCHAN_IRQ_VECTOR_MIN || a[2] > PVCHAN_IRQ_VECTOR_MAX)
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	if (a[3] > U32_MAX || !pvchan_kvm_apic_id_valid(vm->kvm, a[3]))
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	route = PVCHAN_ROUTE_VALID | (u64)a[3] << 8 | a[2];
	if (event)
		WRITE_ONCE(vm->event_route, route);
	else
		WRITE_ONCE(q->irq_route, route);
	return PVCHAN_OK;
}

/* DEV_MAP: no arguments; returns the bitmap of devices present. */
static long pvchan_hc_dev_map(struct pvchan_vm *vm, u32 vcpu_id,
			      unsigned long nr, const unsigned long *a)
{
	/* Pairs with the release in pvchan_dev_add(): devs[] below n is set. */
	u32 i, n = smp_load_acquire(&vm->num_devs);
	long map = 0;

	static_assert(PVCHAN_CTL_MAX_DEVS < BITS_PER_LONG);
	for (i = 0; i < n; i++)
		if (READ_ONCE(vm->devs[i]))
			map |= BIT(i);
	return map;
}

/*
 * CLOCK_PAIR (ABI 1.4): a0 = clock device, a1 = gpa of struct
 * pvchan_clock_pair, a2 = its size.  Needs the calling vCPU.
 */
static long pvchan_hc_clock_pair(struct pvchan_vm *vm, u32 vcpu_id,
				 unsigned long nr, const unsigned long *a)
{
	struct pvchan_dev *dev = pvchan_get_dev(vm, a[0]);
	u64 size = a[2];
	long why;

	if (!dev)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
	if (size < PVCHAN_CLOCK_PAIR_MIN_SIZE || size > PAGE_SIZE)
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	why = pvchan_check_block(vm, a[1],
				 min_t(u64, size, sizeof(struct pvchan_clock_pair)));
	if (why < 0)
		why = pvchan_clock_pair(dev, vcpu_id, a[1], size);
	return why < 0 ? PVCHAN_OK : pvchan_fail(vm, nr, why);
}

/*
 * CLOCK_RECORD (ABI 1.5): a0 = clock device, a1 = gpa of the calling
 * vCPU's struct pvchan_clock_record (0: unregister), a2 = its size.
 */
static long pvchan_hc_clock_record(struct pvchan_vm *vm, u32 vcpu_id,
				   unsigned long nr, const unsigned long *a)
{
	struct pvchan_dev *dev = pvchan_get_dev(vm, a[0]);
	u64 size = a[2];
	long why = -1;

	if (!dev)
		return pvchan_fail(vm, nr, PVCHAN_REJ_NODEV);
	if (a[1] && (size < PVCHAN_CLOCK_RECORD_MIN_SIZE || size > PAGE_SIZE))
		return pvchan_fail(vm, nr, PVCHAN_REJ_INVAL);
	if (a[1])
		why = pvchan_check_block(vm, a[1],
					 min_t(u64, size,
					       sizeof(struct pvchan_clock_record)));
	if (why < 0)
		why = pvchan_clock_record(dev, vcpu_id, a[1], size);
	return why < 0 ? PVCHAN_OK : pvchan_fail(vm, nr, why);
}

typedef long (*pvchan_hc_fn)(struct pvchan_vm *vm, u32 vcpu_id,
			     unsigned long nr, const unsigned long *a);

static const pvchan_hc_fn pvchan_hc_table[PVCHAN_HC_COUNT] = {
	pvchan_hc_hello,
	pvchan_hc_dev_info,
	pvchan_hc_dev_config,
	pvchan_hc_queue_setup,
	pvchan_hc_queue_reset,
	pvchan_hc_kick,
	pvchan_hc_irq_route,
	pvchan_hc_dev_map,
	pvchan_hc_clock_pair,
	pvchan_hc_clock_record,
};

/**
 * pvchan_hypercall() - serve one pvchan hypercall from a bound VM.
 * @vm: the VM.
 * @vcpu_id: calling vCPU (vcpu_id, the APIC id on x86).
 * @nr: hypercall number, within [PVCHAN_HC_BASE, PVCHAN_HC_LAST].
 * @a: arguments a0..a3.
 *
 * Return: the value for the guest's RAX: PVCHAN_OK (DEV_MAP: a bitmap) or
 * -PVCHAN_E*.
 */
long pvchan_hypercall(struct pvchan_vm *vm, u32 vcpu_id, unsigned long nr,
		      const unsigned long *a)
{
	unsigned long idx = nr - PVCHAN_HC_BASE;
	u64 start = ktime_get_ns();
	long ret;

	trace_pvchan_hypercall_enter(vm->id, vcpu_id, nr, a[0], a[1], a[2],
				     a[3]);
	if (idx >= PVCHAN_HC_COUNT) {
		idx = PVCHAN_HC_COUNT;
		ret = pvchan_fail(vm, nr, PVCHAN_REJ_NOSYS);
	} else if (nr != PVCHAN_HC_HELLO && !READ_ONCE(vm->hello_done)) {
		ret = pvchan_fail(vm, nr, PVCHAN_REJ_NOTREADY);
	} else {
		idx = array_index_nospec(idx, PVCHAN_HC_COUNT);
		ret = pvchan_hc_table[idx](vm, vcpu_id, nr, a);
	}
	atomic64_inc(&vm->hc_count[idx]);
	pvchan_hist_add(&vm->hc_lat[idx], ktime_get_ns() - start);
	trace_pvchan_hypercall_exit(vm->id, vcpu_id, nr, ret);
	return ret;
}
