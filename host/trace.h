/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvchan_host tracepoints.  Request events carry the guest's 64-bit request
 * id, so one request can be followed from the guest's pvchan_guest events
 * through these.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pvchan_host

#if !defined(_PVCHAN_HOST_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PVCHAN_HOST_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(pvchan_hypercall_enter,
	TP_PROTO(u32 vm, u32 vcpu, unsigned long nr, unsigned long a0,
		 unsigned long a1, unsigned long a2, unsigned long a3),
	TP_ARGS(vm, vcpu, nr, a0, a1, a2, a3),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(unsigned long, nr)
		__field(unsigned long, a0)
		__field(unsigned long, a1)
		__field(unsigned long, a2)
		__field(unsigned long, a3)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->vcpu = vcpu;
		__entry->nr = nr;
		__entry->a0 = a0;
		__entry->a1 = a1;
		__entry->a2 = a2;
		__entry->a3 = a3;
	),
	TP_printk("vm%u vcpu%u nr=%#lx a0=%#lx a1=%#lx a2=%#lx a3=%#lx",
		  __entry->vm, __entry->vcpu, __entry->nr, __entry->a0,
		  __entry->a1, __entry->a2, __entry->a3)
);

TRACE_EVENT(pvchan_hypercall_exit,
	TP_PROTO(u32 vm, u32 vcpu, unsigned long nr, long ret),
	TP_ARGS(vm, vcpu, nr, ret),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, vcpu)
		__field(unsigned long, nr)
		__field(long, ret)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->vcpu = vcpu;
		__entry->nr = nr;
		__entry->ret = ret;
	),
	TP_printk("vm%u vcpu%u nr=%#lx ret=%ld", __entry->vm, __entry->vcpu,
		  __entry->nr, __entry->ret)
);

DECLARE_EVENT_CLASS(pvchan_req_class,
	TP_PROTO(u32 vm, u32 dev, u32 q, u64 req_id, u32 val, u32 len),
	TP_ARGS(vm, dev, q, req_id, val, len),
	TP_STRUCT__entry(
		__field(u64, req_id)
		__field(u32, vm)
		__field(u32, dev)
		__field(u32, q)
		__field(u32, val)
		__field(u32, len)
	),
	TP_fast_assign(
		__entry->req_id = req_id;
		__entry->vm = vm;
		__entry->dev = dev;
		__entry->q = q;
		__entry->val = val;
		__entry->len = len;
	),
	TP_printk("vm%u dev%u q%u req=%llu val=%u len=%u", __entry->vm,
		  __entry->dev, __entry->q, __entry->req_id, __entry->val,
		  __entry->len)
);

/* val = opcode */
DEFINE_EVENT(pvchan_req_class, pvchan_req_submit,
	TP_PROTO(u32 vm, u32 dev, u32 q, u64 req_id, u32 val, u32 len),
	TP_ARGS(vm, dev, q, req_id, val, len));

/* val = status */
DEFINE_EVENT(pvchan_req_class, pvchan_req_complete,
	TP_PROTO(u32 vm, u32 dev, u32 q, u64 req_id, u32 val, u32 len),
	TP_ARGS(vm, dev, q, req_id, val, len));

/* One HELLO: the guest's ABI version and features; ret 0 or a reject. */
TRACE_EVENT(pvchan_hello,
	TP_PROTO(u32 vm, u16 major, u16 minor, u64 guest_features,
		 u64 features, int ret),
	TP_ARGS(vm, major, minor, guest_features, features, ret),
	TP_STRUCT__entry(
		__field(u64, guest_features)
		__field(u64, features)
		__field(u32, vm)
		__field(int, ret)
		__field(u16, major)
		__field(u16, minor)
	),
	TP_fast_assign(
		__entry->guest_features = guest_features;
		__entry->features = features;
		__entry->vm = vm;
		__entry->ret = ret;
		__entry->major = major;
		__entry->minor = minor;
	),
	TP_printk("vm%u guest_abi=%u.%u guest_features=%#llx features=%#llx ret=%d",
		  __entry->vm, __entry->major, __entry->minor,
		  __entry->guest_features, __entry->features, __entry->ret)
);

TRACE_EVENT(pvchan_irq_inject,
	TP_PROTO(u32 vm, u32 dev, u32 q, u8 vector, u32 apic_id),
	TP_ARGS(vm, dev, q, vector, apic_id),
	TP_STRUCT__entry(
		__field(u32, vm)
		__field(u32, dev)
		__field(u32, q)
		__field(u32, apic_id)
		__field(u8, vector)
	),
	TP_fast_assign(
		__entry->vm = vm;
		__entry->dev = dev;
		__entry->q = q;
		__entry->apic_id = apic_id;
		__entry->vector = vector;
	),
	TP_printk("vm%u dev%u q%u vector=%#x apic=%u", __entry->vm,
		  __entry->dev, __entry->q, __entry->vector, __entry->apic_id)
);

#endif /* _PVCHAN_HOST_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
