/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvchan_guest tracepoints.  Request events carry the same 64-bit request
 * id as the host's pvchan_host:pvchan_req_* events.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pvchan_guest

#if !defined(_PVCHAN_GUEST_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PVCHAN_GUEST_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(pvchan_guest_hypercall,
	TP_PROTO(unsigned int nr, unsigned long a0, unsigned long a1, long ret),
	TP_ARGS(nr, a0, a1, ret),
	TP_STRUCT__entry(
		__field(unsigned int, nr)
		__field(unsigned long, a0)
		__field(unsigned long, a1)
		__field(long, ret)
	),
	TP_fast_assign(
		__entry->nr = nr;
		__entry->a0 = a0;
		__entry->a1 = a1;
		__entry->ret = ret;
	),
	TP_printk("nr=%#x a0=%#lx a1=%#lx ret=%ld", __entry->nr, __entry->a0,
		  __entry->a1, __entry->ret)
);

DECLARE_EVENT_CLASS(pvchan_guest_req_class,
	TP_PROTO(u32 dev, u32 q, u64 req_id, u32 val),
	TP_ARGS(dev, q, req_id, val),
	TP_STRUCT__entry(
		__field(u64, req_id)
		__field(u32, dev)
		__field(u32, q)
		__field(u32, val)
	),
	TP_fast_assign(
		__entry->req_id = req_id;
		__entry->dev = dev;
		__entry->q = q;
		__entry->val = val;
	),
	TP_printk("dev%u q%u req=%llu val=%u", __entry->dev, __entry->q,
		  __entry->req_id, __entry->val)
);

/* val = opcode */
DEFINE_EVENT(pvchan_guest_req_class, pvchan_guest_req_submit,
	TP_PROTO(u32 dev, u32 q, u64 req_id, u32 val),
	TP_ARGS(dev, q, req_id, val));

/* val = status */
DEFINE_EVENT(pvchan_guest_req_class, pvchan_guest_req_complete,
	TP_PROTO(u32 dev, u32 q, u64 req_id, u32 val),
	TP_ARGS(dev, q, req_id, val));

TRACE_EVENT(pvchan_guest_irq_route,
	TP_PROTO(u32 dev, u32 q, u32 vector, u32 apic_id, long ret),
	TP_ARGS(dev, q, vector, apic_id, ret),
	TP_STRUCT__entry(
		__field(u32, dev)
		__field(u32, q)
		__field(u32, vector)
		__field(u32, apic_id)
		__field(long, ret)
	),
	TP_fast_assign(
		__entry->dev = dev;
		__entry->q = q;
		__entry->vector = vector;
		__entry->apic_id = apic_id;
		__entry->ret = ret;
	),
	TP_printk("dev%u q%u vector=%#x apic=%u ret=%ld", __entry->dev,
		  __entry->q, __entry->vector, __entry->apic_id, __entry->ret)
);

/*
 * Clock events (clock.c, enum pvchan_guest_clock_event): stability (val 1
 * stable, 0 not), frequency (val Hz), pair (val host realtime, s), record
 * (val the CPU whose record the host now keeps).
 */
TRACE_EVENT(pvchan_guest_clock_event,
	TP_PROTO(u32 dev, u32 event, u64 val),
	TP_ARGS(dev, event, val),
	TP_STRUCT__entry(
		__field(u64, val)
		__field(u32, dev)
		__field(u32, event)
	),
	TP_fast_assign(
		__entry->val = val;
		__entry->dev = dev;
		__entry->event = event;
	),
	TP_printk("dev%u %s %llu", __entry->dev,
		  __print_symbolic(__entry->event, { 0, "stability" },
				   { 1, "frequency" }, { 2, "pair" },
				   { 3, "record" }),
		  __entry->val)
);

#endif /* _PVCHAN_GUEST_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
