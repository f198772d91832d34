// SPDX-License-Identifier: GPL-2.0
/*
 * Queue interrupts without any PCI device: a child irq domain of the x86
 * vector domain hands out (vector, APIC id) pairs; each queue announces its
 * pair to the host with IRQ_ROUTE, again whenever the kernel moves the
 * interrupt (affinity change, CPU offline), and the host raises that vector
 * as a fixed, edge-triggered interrupt.
 */
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <asm/hw_irq.h>
#include <asm/irqdomain.h>

#include "pvchan_guest.h"
#include "trace.h"

static struct fwnode_handle *pvchan_irq_fwnode;
static struct irq_domain *pvchan_irq_domain;

/* Tell the host where the queue's interrupt goes now.  Atomic context. */
static void pvchan_irq_route(struct irq_data *d)
{
	struct pvchan_gqueue *q = irq_data_get_irq_chip_data(d);
	struct irq_cfg *cfg = irqd_cfg(d);
	long ret;

	if (!q || !cfg)
		return;
	ret = pvchan_hc(PVCHAN_HC_IRQ_ROUTE, q->dev->index, q->index,
			cfg->vector, cfg->dest_apicid);
	atomic64_inc(&q->stats.route_updates);
	trace_pvchan_guest_irq_route(q->dev->index, q->index, cfg->vector,
				     cfg->dest_apicid, ret);
	if (ret)
		pvchan_host_err("dev%u q%u: host refused irq route %#x/%u: %ld\n",
				q->dev->index, q->index, cfg->vector,
				cfg->dest_apicid, ret);
}

static int pvchan_irq_set_affinity(struct irq_data *d,
				   const struct cpumask *mask, bool force)
{
	int ret = irq_chip_set_affinity_parent(d, mask, force);

	if (ret >= 0)
		pvchan_irq_route(d);
	return ret;
}

static struct irq_chip pvchan_irq_chip = {
	.name = "pvchan",
	.irq_ack = irq_chip_ack_parent,
	.irq_set_affinity = pvchan_irq_set_affinity,
	.irq_retrigger = irq_chip_retrigger_hierarchy,
	.flags = IRQCHIP_SKIP_SET_WAKE,
};

static int pvchan_irq_domain_alloc(struct irq_domain *domain,
				   unsigned int virq, unsigned int nr_irqs,
				   void *arg)
{
	struct irq_alloc_info info = {};
	unsigned int i;
	int ret;

	ret = irq_domain_alloc_irqs_parent(domain, virq, nr_irqs, &info);
	if (ret)
		return ret;
	for (i = 0; i < nr_irqs; i++)
		irq_domain_set_info(domain, virq + i, virq + i,
				    &pvchan_irq_chip, arg, handle_edge_irq,
				    NULL, "edge");
	return 0;
}

static int pvchan_irq_domain_activate(struct irq_domain *domain,
				      struct irq_data *d, bool reserve)
{
	/* The parent is active and has a vector: announce it. */
	if (!reserve)
		pvchan_irq_route(d);
	return 0;
}

static const struct irq_domain_ops pvchan_irq_domain_ops = {
	.alloc = pvchan_irq_domain_alloc,
	.free = irq_domain_free_irqs_common,
	.activate = pvchan_irq_domain_activate,
};

/**
 * pvchan_irq_setup() - allocate, route and request a queue's interrupt.
 * @q: queue, registered with the host.
 * @handler: its handler (@q is the cookie).
 *
 * Return: 0 or a negative errno.
 */
int pvchan_irq_setup(struct pvchan_gqueue *q, irq_handler_t handler)
{
	char *name;
	int virq, ret;

	if (q->dev->index == PVCHAN_EVENT_DEV)
		name = kasprintf(GFP_KERNEL, "pvchan-events");
	else
		name = kasprintf(GFP_KERNEL, "pvchan-dev%u-q%u", q->dev->index,
				 q->index);
	if (!name)
		return -ENOMEM;
	virq = irq_domain_alloc_irqs(pvchan_irq_domain, 1, NUMA_NO_NODE, q);
	if (virq <= 0) {
		ret = virq ?: -ENOSPC;
		goto out_free_name;
	}
	ret = irq_set_affinity_and_hint(virq, cpumask_of(q->cpu));
	if (ret)
		goto out_dispose;
	ret = request_irq(virq, handler, 0, name, q);
	if (ret)
		goto out_clear_hint;
	q->irq = virq;
	/* Route explicitly too: a reserved vector may have been replaced. */
	pvchan_irq_route(irq_get_irq_data(virq));
	return 0;

out_clear_hint:
	irq_update_affinity_hint(virq, NULL);
out_dispose:
	irq_dispose_mapping(virq);
out_free_name:
	kfree(name);
	return ret;
}

/**
 * pvchan_irq_reroute() - announce a queue's current route again (after the
 * host forgot it in a queue reset).
 * @q: queue with an interrupt.
 */
void pvchan_irq_reroute(struct pvchan_gqueue *q)
{
	if (q->irq)
		pvchan_irq_route(irq_get_irq_data(q->irq));
}

/**
 * pvchan_irq_teardown() - free a queue's interrupt.
 * @q: queue set up by pvchan_irq_setup().
 */
void pvchan_irq_teardown(struct pvchan_gqueue *q)
{
	const void *name;

	if (!q->irq)
		return;
	irq_update_affinity_hint(q->irq, NULL);
	name = free_irq(q->irq, q);
	/* irq_domain_free_irqs() is not exported; this frees the hierarchy. */
	irq_dispose_mapping(q->irq);
	kfree(name);
	q->irq = 0;
}

/**
 * pvchan_irq_init() - create the pvchan irq domain.
 *
 * Return: 0 or a negative errno.
 */
int pvchan_irq_init(void)
{
	pvchan_irq_fwnode = irq_domain_alloc_named_fwnode("pvchan");
	if (!pvchan_irq_fwnode)
		return -ENOMEM;
	pvchan_irq_domain = irq_domain_create_hierarchy(x86_vector_domain, 0,
							0, pvchan_irq_fwnode,
							&pvchan_irq_domain_ops,
							NULL);
	if (!pvchan_irq_domain) {
		irq_domain_free_fwnode(pvchan_irq_fwnode);
		return -ENOMEM;
	}
	return 0;
}

/** pvchan_irq_exit() - remove the irq domain; all its irqs are freed. */
void pvchan_irq_exit(void)
{
	irq_domain_remove(pvchan_irq_domain);
	irq_domain_free_fwnode(pvchan_irq_fwnode);
}
