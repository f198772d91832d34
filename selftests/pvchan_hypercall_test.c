// SPDX-License-Identifier: GPL-2.0
/*
 * pvchan_hypercall_test - the pvchan host module seen from a KVM guest.
 *
 * Binds a one-vCPU selftest VM to /dev/pvchan, adds an echo device with two
 * queues, and lets the guest walk a table of hypercalls (valid and invalid
 * arguments, before and after HELLO, from CPL0 and CPL3), echo round trips
 * through a ring, malformed requests, and a ring with a corrupt producer
 * index.  The host side checks each result, the blocks the host module
 * wrote into guest memory, and finally the module's debugfs counters.
 * Output is TAP, one line per table row.
 *
 * The guest walks rows[] and reports each result with a ucall; while the
 * guest is stopped there, the host checks that row and prepares the next
 * one (guest memory contents), so the guest code stays a plain loop.
 *
 * Needs /dev/kvm and /dev/pvchan (pvchan_host loaded) and skips without
 * them.  The debugfs checks need debugfs at /sys/kernel/debug.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "apic.h"

#include "pvchan_abi.h"
#include "pvchan_abi_check.h"
#include "pvchan_ctl.h"
#include "pvchan_st.h"

/*
 * Test memory: a second memslot, identity mapped, so that the table below
 * can name guest physical addresses as constants.
 */
#define TEST_SLOT	1
#define TEST_GPA	0xc0000000ULL
#define TEST_PAGES	64
#define TEST_END	(TEST_GPA + TEST_PAGES * 4096ULL)
#define HELLO_GPA	(TEST_GPA + 0x0000)
#define DESC_GPA	(TEST_GPA + 0x1000)
#define RING0_GPA	(TEST_GPA + 0x2000)	/* dev 0 queue 0, first ring */
#define RING1_GPA	(TEST_GPA + 0x3000)	/* dev 0 queue 0 after reset */
#define SRC_GPA		(TEST_GPA + 0x4800)	/* echo data, crosses pages */
#define DST_GPA		(TEST_GPA + 0x8800)
#define DATA_MAX	0x4000
#define BIG_RING_GPA	(TEST_GPA + 0x10000)	/* 256 entries: 7 pages */

#define RING_SIZE	8
#define ECHO_QSIZE	256	/* ADD_DEV queue_size 0: the default */
#define IRQ_VECTOR	0x40
#define NO_GPA		BIT_ULL(40)	/* no memslot there */
#define ROUTE_VALID	BIT_ULL(63)	/* debugfs irq_route: route set */

/* Ring-3 segments, after the library's code, data and TSS descriptors. */
#define USER_DS		(0x28 | 3)
#define USER_CS		(0x30 | 3)
#define KERNEL_CS	0x08
#define KERNEL_DS	0x10

#define KVM_ENOSYS_RET	(-1000L)	/* -KVM_ENOSYS: not a pvchan host */
#define KVM_EPERM_RET	(-1L)		/* -KVM_EPERM: from guest user mode */
#define EXPECT_POSITIVE	INT64_MIN	/* the row passes if result > 0 */

#define R_SUCCESS		((s64)PVCHAN_OK)
#define R_ENOSYS	(-(s64)PVCHAN_ENOSYS)
#define R_NOTREADY	(-(s64)PVCHAN_ENOTREADY)
#define R_EVERSION	(-(s64)PVCHAN_EVERSION)
#define R_EINVAL	(-(s64)PVCHAN_EINVAL)
#define R_ENODEV	(-(s64)PVCHAN_ENODEV)
#define R_ENOQUEUE	(-(s64)PVCHAN_ENOQUEUE)
#define R_EFAULT	(-(s64)PVCHAN_EFAULT)
#define R_EALIGN	(-(s64)PVCHAN_EALIGN)
#define R_EBUSY		(-(s64)PVCHAN_EBUSY)
#define R_ENOMEM	(-(s64)PVCHAN_ENOMEM)

/* Echo round-trip failures (OP_ECHO result, details in aux). */
enum echo_err {
	ECHO_OK,
	ECHO_KICK,	/* aux0: KICK result */
	ECHO_TIMEOUT,	/* aux0: cq_prod seen, aux1: cq_cons */
	ECHO_REQ_ID,	/* aux0: request, aux1: req_id seen */
	ECHO_STATUS,	/* aux0: request, aux1: status */
	ECHO_LEN,	/* aux0: request, aux1: len */
	ECHO_DATA,	/* aux0: request, aux1: first differing byte */
	ECHO_CRC,	/* aux0: request, aux1: cqe.value, aux2: expected */
};

/* Malformed requests (OP_BAD_SQE a2). */
enum bad_sqe {
	BAD_OPCODE,	/* opcode 7 */
	BAD_LEN0,	/* len 0 */
	BAD_LEN_BIG,	/* len PVCHAN_ECHO_MAX_LEN + 1 */
	BAD_FLAGS,	/* PVCHAN_SQE_F_INDIRECT, not negotiated for echo */
	BAD_SRC,	/* addr outside guest RAM */
	BAD_DST,	/* args[0] outside guest RAM */
};

/* OP_BAD_SQE results that are not a completion status. */
#define BAD_SQE_NO_CQE	0x100	/* | enum echo_err */

enum row_op {
	OP_HC,		/* kvm_hypercall(nr, a0..a3) at CPL0 */
	OP_HC_USER,	/* the same at CPL3 */
	OP_ECHO,	/* a0 ring, a1 ring size, a2 requests, a3 bytes each */
	OP_BAD_SQE,	/* a0 ring, a1 ring size, a2 enum bad_sqe: cqe status */
	OP_WILD,	/* a0 ring, a1 ring size: sq_prod = sq_cons + size + 5 */
	OP_IRQS,	/* interrupts counted on IRQ_VECTOR so far */
};

struct ctx;

/**
 * struct row - one step of the guest's walk, one TAP line.
 * @name: test name.
 * @op: what the guest does.
 * @nr: hypercall number (OP_HC, OP_HC_USER).
 * @a: arguments.
 * @expect: expected result: RAX for hypercalls, enum echo_err for OP_ECHO,
 *	a completion status for OP_BAD_SQE, or EXPECT_POSITIVE.
 * @prep: host, before the guest runs the row (fills guest memory).
 * @check: host, after the row: extra checks, false on failure.
 */
struct row {
	const char *name;
	enum row_op op;
	u64 nr;
	u64 a[4];
	s64 expect;
	void (*prep)(struct ctx *c);
	bool (*check)(struct ctx *c, const struct ucall *uc);
};

/* Host-side state shared by the prep and check hooks. */
struct ctx {
	struct kvm_vm *vm;
	u32 vm_id;
	bool have_dbg;		/* /sys/kernel/debug/pvchan readable */
	s64 ring_index_before;
};

static void prep_hello_v1(struct ctx *c);
static void prep_hello_v2(struct ctx *c);
static void prep_desc(struct ctx *c);
static void prep_wild(struct ctx *c);
static bool check_hello_ok(struct ctx *c, const struct ucall *uc);
static bool check_hello_short(struct ctx *c, const struct ucall *uc);
static bool check_hello_version(struct ctx *c, const struct ucall *uc);
static bool check_hello_untouched(struct ctx *c, const struct ucall *uc);
static bool check_desc(struct ctx *c, const struct ucall *uc);
static bool check_desc_untouched(struct ctx *c, const struct ucall *uc);
static bool check_desc_short(struct ctx *c, const struct ucall *uc);
static bool check_route(struct ctx *c, const struct ucall *uc);
static bool check_no_route(struct ctx *c, const struct ucall *uc);
static bool check_wild(struct ctx *c, const struct ucall *uc);

#define HC(n)	(PVCHAN_HC_##n)
#define ROW(_name, _nr, _a0, _a1, _a2, _a3, _exp, ...)			\
	{ .name = _name, .op = OP_HC, .nr = _nr,			\
	  .a = { _a0, _a1, _a2, _a3 }, .expect = _exp, ##__VA_ARGS__ }
#define ECHO(_name, _ring, _n, _len)					\
	{ .name = _name, .op = OP_ECHO,					\
	  .a = { _ring, RING_SIZE, _n, _len }, .expect = ECHO_OK }
#define BAD(_name, _kind, _status)					\
	{ .name = _name, .op = OP_BAD_SQE,				\
	  .a = { RING0_GPA, RING_SIZE, _kind }, .expect = _status }

/*
 * The walk.  Order matters: HELLO state, queue state and the irq route
 * carry over from row to row.
 */
static const struct row rows[] = {
	/* Before HELLO, every defined call but HELLO is refused. */
	ROW("pre-HELLO DEV_INFO -> ENOTREADY",
	    HC(DEV_INFO), 0, DESC_GPA, 64, 0, R_NOTREADY),
	ROW("pre-HELLO DEV_CONFIG -> ENOTREADY",
	    HC(DEV_CONFIG), 0, DESC_GPA, 0, 0, R_NOTREADY),
	ROW("pre-HELLO QUEUE_SETUP -> ENOTREADY",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA, RING_SIZE, R_NOTREADY),
	ROW("pre-HELLO QUEUE_RESET -> ENOTREADY",
	    HC(QUEUE_RESET), 0, 0, 0, 0, R_NOTREADY),
	ROW("pre-HELLO KICK -> ENOTREADY",
	    HC(KICK), 0, 0, 0, 0, R_NOTREADY),
	ROW("pre-HELLO IRQ_ROUTE -> ENOTREADY",
	    HC(IRQ_ROUTE), 0, 0, IRQ_VECTOR, 0, R_NOTREADY),
	ROW("pre-HELLO DEV_MAP -> ENOTREADY",
	    HC(DEV_MAP), 0, 0, 0, 0, R_NOTREADY),
	/* Unassigned numbers of pvchan's range, and numbers outside it. */
	ROW("pre-HELLO CLOCK_PAIR -> ENOTREADY",
	    HC(CLOCK_PAIR), 0, DESC_GPA, 32, 0, R_NOTREADY),
	ROW("pre-HELLO CLOCK_RECORD -> ENOTREADY",
	    HC(CLOCK_RECORD), 0, DESC_GPA, 64, 0, R_NOTREADY),
	ROW("unassigned BASE+10 -> ENOSYS",
	    PVCHAN_HC_BASE + 10, 0, 0, 0, 0, R_ENOSYS),
	ROW("unassigned HC_LAST -> ENOSYS",
	    PVCHAN_HC_LAST, 0, 0, 0, 0, R_ENOSYS),
	ROW("foreign 0x12345 -> -KVM_ENOSYS",
	    0x12345, 0, 0, 0, 0, KVM_ENOSYS_RET),
	ROW("foreign BASE-1 -> -KVM_ENOSYS",
	    PVCHAN_HC_BASE - 1, 0, 0, 0, 0, KVM_ENOSYS_RET),
	ROW("foreign HC_LAST+1 -> -KVM_ENOSYS",
	    PVCHAN_HC_LAST + 1, 0, 0, 0, 0, KVM_ENOSYS_RET),
	/* HELLO argument checks. */
	ROW("HELLO size 15 -> EINVAL",
	    HC(HELLO), HELLO_GPA, 15, 0, 0, R_EINVAL,
	    .prep = prep_hello_v1, .check = check_hello_untouched),
	ROW("HELLO size 4097 -> EINVAL",
	    HC(HELLO), HELLO_GPA, 4097, 0, 0, R_EINVAL,
	    .check = check_hello_untouched),
	ROW("HELLO size ~0 -> EINVAL",
	    HC(HELLO), HELLO_GPA, ~0ULL, 0, 0, R_EINVAL),
	ROW("HELLO gpa+4 (misaligned) -> EALIGN",
	    HC(HELLO), HELLO_GPA + 4, 64, 0, 0, R_EALIGN),
	ROW("HELLO gpa 1<<40 (no RAM) -> EFAULT",
	    HC(HELLO), NO_GPA, 64, 0, 0, R_EFAULT),
	ROW("HELLO gpa ~0-7 (gpa+len wraps) -> EFAULT",
	    HC(HELLO), ~0ULL - 7, 64, 0, 0, R_EFAULT),
	ROW("HELLO gpa ~0-8 (misaligned) -> EALIGN",
	    HC(HELLO), ~0ULL - 8, 64, 0, 0, R_EALIGN),
	ROW("HELLO block crossing the end of the slot -> EFAULT",
	    HC(HELLO), TEST_END - 32, 64, 0, 0, R_EFAULT),
	ROW("HELLO guest_major 2 -> EVERSION, host_major written",
	    HC(HELLO), HELLO_GPA, 64, 0, 0, R_EVERSION,
	    .prep = prep_hello_v2, .check = check_hello_version),
	ROW("after a refused HELLO, DEV_INFO -> ENOTREADY",
	    HC(DEV_INFO), 0, DESC_GPA, 64, 0, R_NOTREADY),
	ROW("HELLO size 16 (minimal block) -> OK, the rest untouched",
	    HC(HELLO), HELLO_GPA, 16, 0, 0, R_SUCCESS,
	    .prep = prep_hello_v1, .check = check_hello_short),
	ROW("HELLO v1.0 -> OK, features = guest & host",
	    HC(HELLO), HELLO_GPA, 64, 0, 0, R_SUCCESS,
	    .prep = prep_hello_v1, .check = check_hello_ok),
	ROW("HELLO size 4096 (larger block) -> OK, 64 bytes written",
	    HC(HELLO), HELLO_GPA, 4096, 0, 0, R_SUCCESS,
	    .prep = prep_hello_v1, .check = check_hello_ok),
	/* DEV_INFO. */
	ROW("DEV_INFO dev 0 -> OK, echo descriptor",
	    HC(DEV_INFO), 0, DESC_GPA, 64, 0, R_SUCCESS,
	    .prep = prep_desc, .check = check_desc),
	ROW("DEV_INFO size 16 -> OK, 16 bytes written",
	    HC(DEV_INFO), 0, DESC_GPA, 16, 0, R_SUCCESS,
	    .prep = prep_desc, .check = check_desc_short),
	ROW("DEV_INFO dev 1 -> ENODEV",
	    HC(DEV_INFO), 1, DESC_GPA, 64, 0, R_ENODEV,
	    .prep = prep_desc, .check = check_desc_untouched),
	ROW("DEV_INFO dev ~0 -> ENODEV",
	    HC(DEV_INFO), ~0ULL, DESC_GPA, 64, 0, R_ENODEV,
	    .check = check_desc_untouched),
	ROW("DEV_INFO gpa 1<<40 -> EFAULT",
	    HC(DEV_INFO), 0, NO_GPA, 64, 0, R_EFAULT),
	ROW("DEV_INFO gpa+4 -> EALIGN",
	    HC(DEV_INFO), 0, DESC_GPA + 4, 64, 0, R_EALIGN,
	    .check = check_desc_untouched),
	ROW("DEV_INFO size 8 -> EINVAL",
	    HC(DEV_INFO), 0, DESC_GPA, 8, 0, R_EINVAL,
	    .check = check_desc_untouched),
	/* DEV_CONFIG: no device type of ABI 1.0 has config space. */
	ROW("DEV_CONFIG len 0 -> OK",
	    HC(DEV_CONFIG), 0, DESC_GPA, 0, 0, R_SUCCESS),
	ROW("DEV_CONFIG len 8 -> EINVAL",
	    HC(DEV_CONFIG), 0, DESC_GPA, 8, 0, R_EINVAL),
	ROW("DEV_CONFIG offset 4 -> EINVAL",
	    HC(DEV_CONFIG), 0, DESC_GPA, 0, 4, R_EINVAL),
	ROW("DEV_CONFIG dev 1 -> ENODEV",
	    HC(DEV_CONFIG), 1, DESC_GPA, 0, 0, R_ENODEV),
	/* QUEUE_SETUP argument checks. */
	ROW("QUEUE_SETUP dev 1 -> ENODEV",
	    HC(QUEUE_SETUP), 1, 0, RING0_GPA, RING_SIZE, R_ENODEV),
	ROW("QUEUE_SETUP queue 2 -> ENOQUEUE",
	    HC(QUEUE_SETUP), 0, 2, RING0_GPA, RING_SIZE, R_ENOQUEUE),
	ROW("QUEUE_SETUP queue ~0 -> ENOQUEUE",
	    HC(QUEUE_SETUP), 0, ~0ULL, RING0_GPA, RING_SIZE, R_ENOQUEUE),
	ROW("QUEUE_SETUP size 0 -> EINVAL",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA, 0, R_EINVAL),
	ROW("QUEUE_SETUP size 3 -> EINVAL",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA, 3, R_EINVAL),
	ROW("QUEUE_SETUP size 512 (device max 256) -> EINVAL",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA, 512, R_EINVAL),
	ROW("QUEUE_SETUP gpa not page aligned -> EALIGN",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA + 0x800, RING_SIZE, R_EALIGN),
	ROW("QUEUE_SETUP ring at 1<<40 -> EFAULT",
	    HC(QUEUE_SETUP), 0, 0, NO_GPA, RING_SIZE, R_EFAULT),
	ROW("QUEUE_SETUP ring crossing the end of the slot -> EFAULT",
	    HC(QUEUE_SETUP), 0, 0, TEST_END - 0x1000, ECHO_QSIZE, R_EFAULT),
	ROW("KICK a never set-up queue -> ENOTREADY",
	    HC(KICK), 0, 0, 0, 0, R_NOTREADY),
	/* Setup, busy, reset, setup again. */
	ROW("QUEUE_SETUP q0 -> OK",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA, RING_SIZE, R_SUCCESS),
	ROW("QUEUE_SETUP q0 again -> EBUSY",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA, RING_SIZE, R_EBUSY),
	ROW("QUEUE_RESET q0 -> OK",
	    HC(QUEUE_RESET), 0, 0, 0, 0, R_SUCCESS),
	ROW("QUEUE_SETUP q0 after reset -> OK",
	    HC(QUEUE_SETUP), 0, 0, RING0_GPA, RING_SIZE, R_SUCCESS),
	ROW("QUEUE_SETUP q1 with 256 entries -> OK",
	    HC(QUEUE_SETUP), 0, 1, BIG_RING_GPA, ECHO_QSIZE, R_SUCCESS),
	ROW("QUEUE_RESET q1 -> OK",
	    HC(QUEUE_RESET), 0, 1, 0, 0, R_SUCCESS),
	ROW("QUEUE_RESET q1 while idle -> OK",
	    HC(QUEUE_RESET), 0, 1, 0, 0, R_SUCCESS),
	ROW("QUEUE_RESET queue 2 -> ENOQUEUE",
	    HC(QUEUE_RESET), 0, 2, 0, 0, R_ENOQUEUE),
	ROW("QUEUE_RESET dev 1 -> ENODEV",
	    HC(QUEUE_RESET), 1, 0, 0, 0, R_ENODEV),
	/* KICK. */
	ROW("KICK q0 (set up, empty) -> OK",
	    HC(KICK), 0, 0, 0, 0, R_SUCCESS),
	ROW("KICK q1 (reset) -> ENOTREADY",
	    HC(KICK), 0, 1, 0, 0, R_NOTREADY),
	ROW("KICK queue 2 -> ENOQUEUE",
	    HC(KICK), 0, 2, 0, 0, R_ENOQUEUE),
	ROW("KICK dev 1 -> ENODEV",
	    HC(KICK), 1, 0, 0, 0, R_ENODEV),
	/* IRQ_ROUTE. */
	ROW("IRQ_ROUTE vector 31 -> EINVAL",
	    HC(IRQ_ROUTE), 0, 0, 31, 0, R_EINVAL),
	ROW("IRQ_ROUTE vector 256 -> EINVAL",
	    HC(IRQ_ROUTE), 0, 0, 256, 0, R_EINVAL),
	ROW("IRQ_ROUTE apic id 1 (no such vCPU) -> EINVAL",
	    HC(IRQ_ROUTE), 0, 0, IRQ_VECTOR, 1, R_EINVAL),
	ROW("IRQ_ROUTE apic id 0xff (broadcast) -> EINVAL",
	    HC(IRQ_ROUTE), 0, 0, IRQ_VECTOR, 0xff, R_EINVAL),
	ROW("IRQ_ROUTE apic id 0xffffffff -> EINVAL",
	    HC(IRQ_ROUTE), 0, 0, IRQ_VECTOR, 0xffffffffULL, R_EINVAL),
	ROW("IRQ_ROUTE apic id 1<<32 -> EINVAL",
	    HC(IRQ_ROUTE), 0, 0, IRQ_VECTOR, BIT_ULL(32), R_EINVAL),
	ROW("IRQ_ROUTE queue 2 -> ENOQUEUE",
	    HC(IRQ_ROUTE), 0, 2, IRQ_VECTOR, 0, R_ENOQUEUE),
	/* The device map: bit i for device i; arguments ignored. */
	ROW("DEV_MAP -> 0x1 (device 0 present)",
	    HC(DEV_MAP), 0, 0, 0, 0, 1),
	ROW("DEV_MAP, junk arguments -> 0x1",
	    HC(DEV_MAP), ~0ULL, ~0ULL, ~0ULL, ~0ULL, 1),
	/* CLOCK_PAIR (ABI 1.4): device 0 is an echo device, not a clock. */
	ROW("CLOCK_PAIR on a non-clock device -> ENODEV",
	    HC(CLOCK_PAIR), 0, DESC_GPA, 32, 0, R_ENODEV),
	ROW("CLOCK_PAIR no such device -> ENODEV",
	    HC(CLOCK_PAIR), 1, DESC_GPA, 32, 0, R_ENODEV),
	ROW("CLOCK_PAIR size 31 -> EINVAL",
	    HC(CLOCK_PAIR), 0, DESC_GPA, 31, 0, R_EINVAL),
	ROW("CLOCK_PAIR size 4097 -> EINVAL",
	    HC(CLOCK_PAIR), 0, DESC_GPA, 4097, 0, R_EINVAL),
	/* CLOCK_RECORD (ABI 1.5): the same device rules. */
	ROW("CLOCK_RECORD on a non-clock device -> ENODEV",
	    HC(CLOCK_RECORD), 0, DESC_GPA, 64, 0, R_ENODEV),
	ROW("CLOCK_RECORD unregister on a non-clock device -> ENODEV",
	    HC(CLOCK_RECORD), 0, 0, 0, 0, R_ENODEV),
	ROW("CLOCK_RECORD no such device -> ENODEV",
	    HC(CLOCK_RECORD), 1, DESC_GPA, 64, 0, R_ENODEV),
	ROW("CLOCK_RECORD size 31 -> EINVAL",
	    HC(CLOCK_RECORD), 0, DESC_GPA, 31, 0, R_EINVAL),
	ROW("CLOCK_RECORD size 4097 -> EINVAL",
	    HC(CLOCK_RECORD), 0, DESC_GPA, 4097, 0, R_EINVAL),
	/* The VM's event interrupt (PVCHAN_F_DEV_EVENTS negotiated). */
	ROW("IRQ_ROUTE event device, queue 1 -> ENOQUEUE",
	    HC(IRQ_ROUTE), PVCHAN_EVENT_DEV, 1, IRQ_VECTOR, 0, R_ENOQUEUE),
	ROW("IRQ_ROUTE event device, vector 31 -> EINVAL",
	    HC(IRQ_ROUTE), PVCHAN_EVENT_DEV, 0, 31, 0, R_EINVAL),
	ROW("IRQ_ROUTE event device, apic id 1 -> EINVAL",
	    HC(IRQ_ROUTE), PVCHAN_EVENT_DEV, 0, IRQ_VECTOR, 1, R_EINVAL),
	ROW("IRQ_ROUTE event device -> OK",
	    HC(IRQ_ROUTE), PVCHAN_EVENT_DEV, 0, IRQ_VECTOR + 1, 0, R_SUCCESS),
	ROW("IRQ_ROUTE event device, vector 0 (remove) -> OK",
	    HC(IRQ_ROUTE), PVCHAN_EVENT_DEV, 0, 0, 0, R_SUCCESS),
	ROW("IRQ_ROUTE dev 0xfffffffe -> ENODEV",
	    HC(IRQ_ROUTE), 0xfffffffeULL, 0, IRQ_VECTOR, 0, R_ENODEV),
	ROW("IRQ_ROUTE vector 0x40 to apic 0 -> OK, route set",
	    HC(IRQ_ROUTE), 0, 0, IRQ_VECTOR, 0, R_SUCCESS,
	    .check = check_route),
	/* The echo device through the ring. */
	ECHO("echo: 1 request of 3000 bytes, data and crc32 match", RING0_GPA, 1, 3000),
	ECHO("echo: 5 requests of 1000 bytes", RING0_GPA, 5, 1000),
	ECHO("echo: 5 requests, indices wrap the 8-entry ring", RING0_GPA, 5, 17),
	/* Malformed requests complete with an error status. */
	BAD("echo: unknown opcode -> status UNSUPP", BAD_OPCODE, PVCHAN_ST_UNSUPP),
	BAD("echo: len 0 -> status INVAL", BAD_LEN0, PVCHAN_ST_INVAL),
	BAD("echo: len 65537 -> status INVAL", BAD_LEN_BIG, PVCHAN_ST_INVAL),
	BAD("echo: INDIRECT flag -> status INVAL", BAD_FLAGS, PVCHAN_ST_INVAL),
	BAD("echo: source outside RAM -> status FAULT", BAD_SRC, PVCHAN_ST_FAULT),
	BAD("echo: destination outside RAM -> status FAULT", BAD_DST, PVCHAN_ST_FAULT),
	ECHO("echo: the queue still serves after bad requests", RING0_GPA, 1, 100),
	{ .name = "echo: completions raised interrupts on vector 0x40",
	  .op = OP_IRQS, .expect = EXPECT_POSITIVE },
	/* A corrupt producer index stops the queue quietly. */
	{ .name = "wild sq_prod (cons + size + 5): KICK OK, queue stopped, ring_index counted",
	  .op = OP_WILD, .a = { RING0_GPA, RING_SIZE }, .expect = R_SUCCESS,
	  .prep = prep_wild, .check = check_wild },
	ROW("QUEUE_RESET the stopped q0 -> OK, irq route cleared",
	    HC(QUEUE_RESET), 0, 0, 0, 0, R_SUCCESS,
	    .check = check_no_route),
	ROW("IRQ_ROUTE on the reset queue -> OK",
	    HC(IRQ_ROUTE), 0, 0, IRQ_VECTOR, 0, R_SUCCESS,
	    .check = check_route),
	ROW("QUEUE_SETUP q0 on a fresh ring -> OK, route kept",
	    HC(QUEUE_SETUP), 0, 0, RING1_GPA, RING_SIZE, R_SUCCESS,
	    .check = check_route),
	ECHO("echo after the reset: the queue serves again", RING1_GPA, 2, 64),
	/* A new HELLO starts over: queues are reset. */
	ROW("HELLO again -> OK",
	    HC(HELLO), HELLO_GPA, 64, 0, 0, R_SUCCESS,
	    .prep = prep_hello_v1, .check = check_hello_ok),
	ROW("KICK q0 after the new HELLO -> ENOTREADY",
	    HC(KICK), 0, 0, 0, 0, R_NOTREADY),
	/* Guest user mode: KVM refuses before pvchan sees the call. */
	{ .name = "HELLO from CPL3 -> -KVM_EPERM, block untouched",
	  .op = OP_HC_USER, .nr = HC(HELLO), .a = { HELLO_GPA, 64 },
	  .expect = KVM_EPERM_RET,
	  .prep = prep_hello_v2, .check = check_hello_untouched },
	{ .name = "KICK from CPL3 -> -KVM_EPERM",
	  .op = OP_HC_USER, .nr = HC(KICK), .expect = KVM_EPERM_RET },
	ROW("DEV_INFO after the CPL3 calls -> OK (still negotiated)",
	    HC(DEV_INFO), 0, DESC_GPA, 64, 0, R_SUCCESS,
	    .prep = prep_desc, .check = check_desc),
};

#define NR_ROWS ARRAY_SIZE(rows)

/* ------------------------------------------------------------------ */
/* Shared by guest and host. */

/* The kernel's crc32_le(): reflected 0xEDB88320, given seed, no final xor. */
static u32 crc32_le(u32 crc, const u8 *p, u32 len)
{
	u32 i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320U & -(crc & 1));
	}
	return crc;
}

/* ------------------------------------------------------------------ */
/* Guest. */

/* Set by the host before the guest runs. */
u64 pvc_use_vmmcall;
u64 pvc_user_stack;
/* Guest private. */
u64 pvc_kernel_rsp;
u64 pvc_user_ud_rip;
static u64 guest_irqs;
static u64 guest_req_id = 1;
static u8 guest_pattern;

/*
 * Ring-3 stub: the hypercall in RAX/RBX/RCX/RDX/RSI, then ud2, whose #UD
 * brings the CPU back to ring 0 (guest_ud_handler).  RDI selects the
 * vendor's instruction: VMCALL on AMD would be emulated by KVM through
 * instruction patching, which cannot write a supervisor page from CPL3.
 */
asm(".pushsection .text\n"
	".balign 64\n"
	"pvc_user_stub:\n"
	"	test %rdi, %rdi\n"
	"	jz 1f\n"
	"	vmmcall\n"
	"pvc_user_ud_amd:\n"
	"	ud2\n"
	"1:	vmcall\n"
	"pvc_user_ud_intel:\n"
	"	ud2\n"
	"pvc_user_stub_end:\n"
	".popsection\n");
extern char pvc_user_stub[], pvc_user_stub_end[], pvc_user_return[];
extern char pvc_user_ud_amd[], pvc_user_ud_intel[];

/*
 * iretq to pvc_user_stub at CPL3 with the caller's registers, come back at
 * pvc_user_return with all registers but RAX as they were.  The test is
 * built with -mno-red-zone, so pushing below RSP is safe.
 */
static __attribute__((noipa)) u64 guest_user_hypercall(u64 nr, u64 a0,
							u64 a1, u64 a2, u64 a3)
{
	u64 ret = nr;

	asm volatile("push %%rbp\n\t"
		     "mov %%rsp, pvc_kernel_rsp(%%rip)\n\t"
		     "pushq %[ss]\n\t"
		     "pushq pvc_user_stack(%%rip)\n\t"
		     "pushq $2\n\t"		/* RFLAGS: IF clear */
		     "pushq %[cs]\n\t"
		     "pushq $pvc_user_stub\n\t"
		     "iretq\n"
		     "pvc_user_return:\n\t"
		     "pop %%rbp"
		     : "+a"(ret)
		     : "b"(a0), "c"(a1), "d"(a2), "S"(a3), "D"(pvc_use_vmmcall),
		       [ss] "i"(USER_DS), [cs] "i"(USER_CS)
		     : "cc", "memory");
	return ret;
}

static void guest_ud_handler(struct ex_regs *regs)
{
	/* The CPU pushed RIP, CS, RFLAGS, RSP, SS: RSP and SS follow. */
	u64 *frame = &regs->rflags;

	GUEST_ASSERT_2((regs->cs & 3) == 3, regs->rip, regs->cs);
	pvc_user_ud_rip = regs->rip;
	regs->rip = (u64)pvc_user_return;
	regs->cs = KERNEL_CS;
	frame[1] = pvc_kernel_rsp;
	frame[2] = KERNEL_DS;
}

static void guest_irq_handler(struct ex_regs *regs)
{
	WRITE_ONCE(guest_irqs, READ_ONCE(guest_irqs) + 1);
	x2apic_write_reg(APIC_EOI, 0);
}

/* About 10 s of TSC at 3 GHz; the host's alarm() is the backstop. */
#define POLL_TSC	30000000000ULL

/*
 * Publish @nreq entries already written at sq_prod, kick queue 0, wait for
 * their completions (interrupts enabled).  Returns ECHO_OK or ECHO_KICK /
 * ECHO_TIMEOUT with aux filled; aux[2] = polling iterations.
 */
static u64 guest_submit_wait(struct pvchan_ring_hdr *h, u32 nreq, u64 *aux)
{
	u32 prod = READ_ONCE(h->sq_prod), cons = READ_ONCE(h->cq_cons), seen;
	u64 ret, t0, loops;

	/* Interrupt at the next completion (EVENT_IDX is negotiated). */
	WRITE_ONCE(h->cq_event, cons);
	barrier();
	WRITE_ONCE(h->sq_prod, prod + nreq);
	ret = kvm_hypercall(PVCHAN_HC_KICK, 0, 0, 0, 0);
	if (ret) {
		aux[0] = ret;
		return ECHO_KICK;
	}

	t0 = rdtsc();
	asm volatile("sti" ::: "memory");
	for (loops = 0;; loops++) {
		seen = READ_ONCE(h->cq_prod);
		if ((u32)(seen - cons) >= nreq || rdtsc() - t0 > POLL_TSC)
			break;
		cpu_relax();
	}
	asm volatile("cli" ::: "memory");
	aux[2] = loops;
	if ((u32)(seen - cons) < nreq) {
		aux[0] = seen;
		aux[1] = cons;
		return ECHO_TIMEOUT;
	}
	barrier();
	return ECHO_OK;
}

static void guest_fill_sqe(struct pvchan_sqe *sqe, u64 src, u64 dst, u32 len)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->req_id = guest_req_id++;
	sqe->opcode = PVCHAN_ECHO_OP_COPY;
	sqe->len = len;
	sqe->addr = src;
	sqe->args[0] = dst;
}

static u64 guest_echo(const struct row *r, u64 *aux)
{
	u64 ring = r->a[0];
	u32 size = r->a[1], nreq = r->a[2], len = r->a[3];
	struct pvchan_ring_hdr *h = (void *)ring;
	struct pvchan_sqe *sq = (void *)(ring + PVCHAN_RING_SQ_OFF);
	struct pvchan_cqe *cq = (void *)(ring + PVCHAN_RING_CQ_OFF(size));
	u32 mask = size - 1;
	u32 prod = READ_ONCE(h->sq_prod), cons = READ_ONCE(h->cq_cons);
	u64 first_id = guest_req_id, ret;
	u32 n, i;

	GUEST_ASSERT(nreq <= size && (u64)nreq * len <= DATA_MAX);
	for (n = 0; n < nreq; n++) {
		u8 *src = (u8 *)SRC_GPA + n * len;
		u8 *dst = (u8 *)DST_GPA + n * len;

		for (i = 0; i < len; i++) {
			src[i] = guest_pattern + i * 7 + (i >> 8);
			dst[i] = 0;
		}
		guest_pattern += 29;
		guest_fill_sqe(&sq[(prod + n) & mask], (u64)src, (u64)dst, len);
	}
	ret = guest_submit_wait(h, nreq, aux);
	if (ret != ECHO_OK)
		return ret;

	for (n = 0; n < nreq; n++) {
		const u8 *src = (u8 *)SRC_GPA + n * len;
		const u8 *dst = (u8 *)DST_GPA + n * len;
		struct pvchan_cqe *cqe = &cq[(cons + n) & mask];
		u32 crc;

		aux[0] = n;
		if (cqe->req_id != first_id + n) {
			aux[1] = cqe->req_id;
			return ECHO_REQ_ID;
		}
		if (cqe->status != PVCHAN_ST_OK) {
			aux[1] = cqe->status;
			return ECHO_STATUS;
		}
		if (cqe->len != len) {
			aux[1] = cqe->len;
			return ECHO_LEN;
		}
		for (i = 0; i < len; i++)
			if (dst[i] != src[i])
				break;
		if (i < len) {
			aux[1] = i;
			return ECHO_DATA;
		}
		crc = crc32_le(~0U, src, len);
		if (cqe->value != crc) {
			aux[1] = cqe->value;
			aux[2] = crc;
			return ECHO_CRC;
		}
	}
	WRITE_ONCE(h->cq_cons, cons + nreq);
	aux[0] = 0;
	aux[1] = 0;
	return ECHO_OK;
}

/* One malformed request: returns its completion status. */
static u64 guest_bad_sqe(const struct row *r, u64 *aux)
{
	u64 ring = r->a[0];
	u32 size = r->a[1], mask = size - 1;
	struct pvchan_ring_hdr *h = (void *)ring;
	struct pvchan_sqe *sq = (void *)(ring + PVCHAN_RING_SQ_OFF);
	struct pvchan_cqe *cq = (void *)(ring + PVCHAN_RING_CQ_OFF(size));
	u32 prod = READ_ONCE(h->sq_prod), cons = READ_ONCE(h->cq_cons);
	struct pvchan_sqe *sqe = &sq[prod & mask];
	struct pvchan_cqe *cqe = &cq[cons & mask];
	u64 ret, id = guest_req_id;

	guest_fill_sqe(sqe, SRC_GPA, DST_GPA, 64);
	switch (r->a[2]) {
	case BAD_OPCODE:
		sqe->opcode = 7;
		break;
	case BAD_LEN0:
		sqe->len = 0;
		break;
	case BAD_LEN_BIG:
		sqe->len = PVCHAN_ECHO_MAX_LEN + 1;
		break;
	case BAD_FLAGS:
		sqe->flags = PVCHAN_SQE_F_INDIRECT;
		break;
	case BAD_SRC:
		sqe->addr = NO_GPA;
		break;
	case BAD_DST:
		sqe->args[0] = NO_GPA;
		break;
	}
	ret = guest_submit_wait(h, 1, aux);
	if (ret != ECHO_OK)
		return BAD_SQE_NO_CQE | ret;
	if (cqe->req_id != id) {
		aux[0] = 0;
		aux[1] = cqe->req_id;
		return BAD_SQE_NO_CQE | ECHO_REQ_ID;
	}
	aux[0] = cqe->len;
	WRITE_ONCE(h->cq_cons, cons + 1);
	return cqe->status;
}

static u64 guest_wild(const struct row *r)
{
	struct pvchan_ring_hdr *h = (void *)r->a[0];
	u32 size = r->a[1];

	WRITE_ONCE(h->sq_prod, READ_ONCE(h->sq_cons) + size + 5);
	return kvm_hypercall(PVCHAN_HC_KICK, 0, 0, 0, 0);
}

static __attribute__((used, noipa)) void guest_main(void)
{
	u64 ret, aux[3];
	unsigned int i;

	x2apic_enable();
	for (i = 0; i < NR_ROWS; i++) {
		const struct row *r = &rows[i];

		memset(aux, 0, sizeof(aux));
		switch (r->op) {
		case OP_HC:
			ret = kvm_hypercall(r->nr, r->a[0], r->a[1], r->a[2],
					    r->a[3]);
			break;
		case OP_HC_USER:
			pvc_user_ud_rip = 0;
			ret = guest_user_hypercall(r->nr, r->a[0], r->a[1],
						   r->a[2], r->a[3]);
			aux[0] = pvc_user_ud_rip - (u64)pvc_user_stub;
			break;
		case OP_ECHO:
			ret = guest_echo(r, aux);
			break;
		case OP_BAD_SQE:
			ret = guest_bad_sqe(r, aux);
			break;
		case OP_WILD:
			ret = guest_wild(r);
			break;
		case OP_IRQS:
			ret = READ_ONCE(guest_irqs);
			break;
		default:
			ret = ~0ULL;
		}
		GUEST_SYNC_ARGS(i, ret, aux[0], aux[1], aux[2]);
	}
	GUEST_DONE();
}

/* ------------------------------------------------------------------ */
/* Host. */

static const char *ret_name(s64 v)
{
	static char buf[32];

	switch (v) {
	case R_SUCCESS: return "OK";
	case KVM_ENOSYS_RET: return "-KVM_ENOSYS";
	case KVM_EPERM_RET: return "-KVM_EPERM";
	case R_ENOSYS: return "-ENOSYS";
	case R_NOTREADY: return "-ENOTREADY";
	case R_EVERSION: return "-EVERSION";
	case R_EINVAL: return "-EINVAL";
	case R_ENODEV: return "-ENODEV";
	case R_ENOQUEUE: return "-ENOQUEUE";
	case R_EFAULT: return "-EFAULT";
	case R_EALIGN: return "-EALIGN";
	case R_EBUSY: return "-EBUSY";
	case R_ENOMEM: return "-ENOMEM";
	}
	snprintf(buf, sizeof(buf), "%ld", v);
	return buf;
}

static const char *echo_err_name(u64 v)
{
	static const char * const names[] = {
		"ok", "kick failed", "timeout", "req_id", "status", "len",
		"data", "crc",
	};

	return v < ARRAY_SIZE(names) ? names[v] : "?";
}

/* Value of a "name value" line of a pvchan debugfs file, or -1. */
static s64 dbg_read(struct ctx *c, const char *file, const char *name)
{
	char path[128], key[64], val[32];
	s64 ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/pvchan/vm%u/%s",
		 c->vm_id, file);
	f = fopen(path, "r");
	if (!f) {
		ksft_print_msg("cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fscanf(f, "%63s %31s", key, val) == 2)
		if (!strcmp(key, name)) {
			/* Unsigned: irq_route has bit 63 set. */
			ret = (s64)strtoull(val, NULL, 0);
			break;
		}
	fclose(f);
	return ret;
}

static struct pvchan_hello *hello_block(struct ctx *c)
{
	return addr_gpa2hva(c->vm, HELLO_GPA);
}

static struct pvchan_dev_desc *desc_block(struct ctx *c)
{
	return addr_gpa2hva(c->vm, DESC_GPA);
}

/* Feature bits the guest offers; bit 40 is unknown to this ABI. */
#define GUEST_FEATURES	(BIT_ULL(PVCHAN_F_EVENT_IDX) | \
			 BIT_ULL(PVCHAN_F_INDIRECT) | \
			 BIT_ULL(PVCHAN_F_DEV_EVENTS) | BIT_ULL(40))

static void prep_hello(struct ctx *c, u16 major)
{
	struct pvchan_hello *h = hello_block(c);

	/* Poison the page: every byte the host owns must be rewritten. */
	memset(h, 0xa5, 4096);
	h->guest_major = major;
	h->guest_minor = 0;
	h->pad0 = 0;
	h->guest_features = GUEST_FEATURES;
}

static void prep_hello_v1(struct ctx *c)
{
	prep_hello(c, PVCHAN_ABI_MAJOR);
}

static void prep_hello_v2(struct ctx *c)
{
	prep_hello(c, PVCHAN_ABI_MAJOR + 1);
}

static void prep_desc(struct ctx *c)
{
	memset(desc_block(c), 0xa5, 4096);
}

static bool all_bytes(const void *p, u8 v, size_t len)
{
	const u8 *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != v)
			return false;
	return true;
}

static bool expect_field(const char *name, u64 got, u64 want)
{
	if (got == want)
		return true;
	ksft_print_msg("  %s = %#lx, expected %#lx\n", name, got, want);
	return false;
}

#define EXPECT_FIELD(got, want) expect_field(#got, got, want)

static bool check_hello_ok(struct ctx *c, const struct ucall *uc)
{
	struct pvchan_hello *h = hello_block(c);
	bool ok = true;

	ok &= EXPECT_FIELD(h->guest_major, PVCHAN_ABI_MAJOR);
	ok &= EXPECT_FIELD(h->guest_features, GUEST_FEATURES);
	ok &= EXPECT_FIELD(h->pad0, 0);
	ok &= EXPECT_FIELD(h->host_major, PVCHAN_ABI_MAJOR);
	ok &= EXPECT_FIELD(h->host_minor, PVCHAN_ABI_MINOR);
	ok &= EXPECT_FIELD(h->num_devices, 1);
	ok &= EXPECT_FIELD(h->host_features, PVCHAN_F_KNOWN_MASK);
	ok &= EXPECT_FIELD(h->features, GUEST_FEATURES & PVCHAN_F_KNOWN_MASK);
	ok &= EXPECT_FIELD(h->max_queues, PVCHAN_CTL_MAX_QUEUES);
	ok &= EXPECT_FIELD(h->max_queue_size, PVCHAN_RING_MAX_SIZE);
	ok &= EXPECT_FIELD(h->reserved[0], 0);
	ok &= EXPECT_FIELD(h->reserved[1], 0);
	/* The host writes sizeof(struct pvchan_hello) at most. */
	if (!all_bytes((u8 *)h + sizeof(*h), 0xa5, 4096 - sizeof(*h))) {
		ksft_print_msg("  host wrote past the 64-byte HELLO block\n");
		ok = false;
	}
	return ok;
}

static bool check_hello_short(struct ctx *c, const struct ucall *uc)
{
	struct pvchan_hello *h = hello_block(c);
	bool ok = true;

	ok &= EXPECT_FIELD(h->guest_major, PVCHAN_ABI_MAJOR);
	ok &= EXPECT_FIELD(h->guest_features, GUEST_FEATURES);
	if (!all_bytes(&h->host_major, 0xa5, 4096 - 16)) {
		ksft_print_msg("  host wrote past the 16 bytes it was given\n");
		ok = false;
	}
	return ok;
}

static bool check_hello_version(struct ctx *c, const struct ucall *uc)
{
	struct pvchan_hello *h = hello_block(c);
	bool ok = true;

	ok &= EXPECT_FIELD(h->guest_major, PVCHAN_ABI_MAJOR + 1);
	ok &= EXPECT_FIELD(h->host_major, PVCHAN_ABI_MAJOR);
	ok &= EXPECT_FIELD(h->host_minor, PVCHAN_ABI_MINOR);
	ok &= EXPECT_FIELD(h->features, 0);
	return ok;
}

static bool check_hello_untouched(struct ctx *c, const struct ucall *uc)
{
	struct pvchan_hello *h = hello_block(c);

	if (all_bytes(&h->host_major, 0xa5, 4096 - 16))
		return true;
	ksft_print_msg("  host wrote the HELLO block of a refused call\n");
	return false;
}

static bool check_desc(struct ctx *c, const struct ucall *uc)
{
	struct pvchan_dev_desc *d = desc_block(c);
	bool ok = true;
	size_t i;

	ok &= EXPECT_FIELD(d->type, PVCHAN_DEV_ECHO);
	ok &= EXPECT_FIELD(d->dev_id, 0);
	ok &= EXPECT_FIELD(d->num_queues, 2);
	ok &= EXPECT_FIELD(d->max_queue_size, ECHO_QSIZE);
	ok &= EXPECT_FIELD(d->max_segs, 1);
	ok &= EXPECT_FIELD(d->pad0, 0);
	ok &= EXPECT_FIELD(d->features, 0);
	ok &= EXPECT_FIELD(d->config_len, 0);
	ok &= EXPECT_FIELD(d->config_gen, 0);
	for (i = 0; i < sizeof(d->reserved); i++)
		ok &= EXPECT_FIELD(d->reserved[i], 0);
	if (!all_bytes((u8 *)d + sizeof(*d), 0xa5, 4096 - sizeof(*d))) {
		ksft_print_msg("  host wrote past the 64-byte descriptor\n");
		ok = false;
	}
	return ok;
}

static bool check_desc_untouched(struct ctx *c, const struct ucall *uc)
{
	if (all_bytes(desc_block(c), 0xa5, 4096))
		return true;
	ksft_print_msg("  host wrote the descriptor of a refused call\n");
	return false;
}

static bool check_desc_short(struct ctx *c, const struct ucall *uc)
{
	struct pvchan_dev_desc *d = desc_block(c);
	bool ok = true;

	ok &= EXPECT_FIELD(d->type, PVCHAN_DEV_ECHO);
	ok &= EXPECT_FIELD(d->num_queues, 2);
	if (!all_bytes(&d->features, 0xa5, 4096 - 16)) {
		ksft_print_msg("  host wrote past the 16 bytes it was given\n");
		ok = false;
	}
	return ok;
}

static bool expect_route(struct ctx *c, u64 want)
{
	s64 route;

	if (!c->have_dbg)
		return true;
	route = dbg_read(c, "dev0/q0/stats", "irq_route");
	if (route == (s64)want)
		return true;
	ksft_print_msg("  debugfs irq_route %#lx, expected %#lx\n", (u64)route,
		       want);
	return false;
}

static bool check_route(struct ctx *c, const struct ucall *uc)
{
	return expect_route(c, ROUTE_VALID | IRQ_VECTOR);
}

static bool check_no_route(struct ctx *c, const struct ucall *uc)
{
	return expect_route(c, 0);
}

/* OP_HC_USER: the hypercall instruction completed and ud2 came back. */
static bool check_user_ud(struct ctx *c, const struct ucall *uc)
{
	char *ud = pvc_use_vmmcall ? pvc_user_ud_amd : pvc_user_ud_intel;
	u64 want = ud - pvc_user_stub;

	if (uc->args[3] == want)
		return true;
	ksft_print_msg("  #UD at stub+%#lx, expected the ud2 at +%#lx\n",
		       uc->args[3], want);
	return false;
}

static void prep_wild(struct ctx *c)
{
	if (c->have_dbg)
		c->ring_index_before = dbg_read(c, "rejects", "ring_index");
}

/* The queue worker runs asynchronously: wait up to 10 s for it. */
static bool check_wild(struct ctx *c, const struct ucall *uc)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	s64 n = -1, broken = -1;
	int i;

	if (!c->have_dbg)
		return true;
	for (i = 0; i < 1000; i++) {
		n = dbg_read(c, "rejects", "ring_index");
		broken = dbg_read(c, "dev0/q0/stats", "broken");
		if (n > c->ring_index_before && broken == 1)
			break;
		nanosleep(&ts, NULL);
	}
	if (n == c->ring_index_before + 1 && broken == 1)
		return true;
	ksft_print_msg("  ring_index %ld -> %ld, broken %ld\n",
		       c->ring_index_before, n, broken);
	return false;
}

static void report_row(struct ctx *c, unsigned int i, const struct ucall *uc)
{
	const struct row *r = &rows[i];
	s64 ret = uc->args[2];
	bool ok;

	if (r->expect == EXPECT_POSITIVE)
		ok = ret > 0;
	else
		ok = ret == r->expect;
	if (!ok && r->op == OP_ECHO)
		ksft_print_msg("  got %s (aux %#lx %#lx %#lx)\n",
			       echo_err_name(ret), uc->args[3], uc->args[4],
			       uc->args[5]);
	else if (!ok && r->op == OP_BAD_SQE && ret >= BAD_SQE_NO_CQE)
		ksft_print_msg("  no completion: %s (aux %#lx %#lx %#lx)\n",
			       echo_err_name(ret & ~BAD_SQE_NO_CQE),
			       uc->args[3], uc->args[4], uc->args[5]);
	else if (!ok)
		ksft_print_msg("  got %s (%#lx), expected %s\n", ret_name(ret),
			       (u64)ret, ret_name(r->expect));
	if (r->op == OP_HC_USER)
		ok &= check_user_ud(c, uc);
	if (r->check)
		ok &= r->check(c, uc);
	if (r->op == OP_IRQS)
		ksft_print_msg("  %ld interrupts\n", ret);
	ksft_test_result(ok, "%s\n", r->name);
}

/* Run the guest through rows[]; returns the number of rows reported. */
static unsigned int run_guest(struct ctx *c, struct kvm_vcpu *vcpu)
{
	unsigned int next = 0;
	struct ucall uc;

	if (rows[0].prep)
		rows[0].prep(c);
	for (;;) {
		vcpu_run(vcpu);
		if (vcpu->run->exit_reason != KVM_EXIT_IO) {
			ksft_print_msg("guest stopped at row %u: exit %u (%s)\n",
				       next, vcpu->run->exit_reason,
				       exit_reason_str(vcpu->run->exit_reason));
			return next;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			TEST_ASSERT(uc.args[1] == next, "row %lu, expected %u",
				    uc.args[1], next);
			report_row(c, next, &uc);
			next++;
			if (next < NR_ROWS && rows[next].prep)
				rows[next].prep(c);
			break;
		case UCALL_DONE:
			return next;
		case UCALL_ABORT:
			ksft_print_msg("guest assert at row %u: %s at %s:%ld (%#lx %#lx)\n",
				       next, (const char *)uc.args[GUEST_ERROR_STRING],
				       (const char *)uc.args[GUEST_FILE],
				       uc.args[GUEST_LINE], GUEST_ASSERT_ARG(uc, 0),
				       GUEST_ASSERT_ARG(uc, 1));
			return next;
		case UCALL_UNHANDLED:
			ksft_print_msg("guest: unexpected exception %lu at row %u\n",
				       uc.args[0], next);
			return next;
		default:
			ksft_print_msg("guest: unknown ucall %lu\n", uc.cmd);
			return next;
		}
	}
}

/* Set the U/S bit at every level mapping @gva (4-level paging). */
static void make_user(struct kvm_vm *vm, vm_vaddr_t gva)
{
	u64 *table = addr_gpa2hva(vm, vm->pgd);
	int level;

	for (level = 3; level >= 0; level--) {
		u64 *e = &table[(gva >> (12 + 9 * level)) & 0x1ff];

		TEST_ASSERT(*e & PTE_PRESENT_MASK, "gva %#lx not mapped", gva);
		*e |= PTE_USER_MASK;
		if (!level || (*e & PTE_LARGE_MASK))
			break;
		table = addr_gpa2hva(vm, PTE_GET_PFN(*e) << vm->page_shift);
	}
}

/*
 * Ring 3 for OP_HC_USER: user code and data descriptors in the library's
 * GDT, a ring-0 stack in the TSS for the #UD that brings the guest back,
 * and the stub and a user stack made user accessible.
 */
static void setup_user_mode(struct kvm_vm *vm)
{
	u64 *gdt = addr_gva2hva(vm, vm->gdt);
	vm_vaddr_t kstack = vm_vaddr_alloc_pages(vm, 2);
	vm_vaddr_t ustack = vm_vaddr_alloc_page(vm);
	u64 rsp0 = kstack + 2 * vm->page_size;
	vm_vaddr_t p;

	gdt[USER_DS >> 3] = 0x00cff3000000ffffULL;	/* data, DPL 3 */
	gdt[USER_CS >> 3] = 0x00affb000000ffffULL;	/* 64-bit code, DPL 3 */
	/* 64-bit TSS: a 32-bit reserved field, then RSP0. */
	memcpy((u8 *)addr_gva2hva(vm, vm->tss) + 4, &rsp0, sizeof(rsp0));
	for (p = (vm_vaddr_t)pvc_user_stub & ~0xfffUL;
	     p < (vm_vaddr_t)pvc_user_stub_end; p += vm->page_size)
		make_user(vm, p);
	make_user(vm, ustack);
	pvc_user_stack = ustack + vm->page_size;
	pvc_use_vmmcall = !is_intel_cpu();
	sync_global_to_guest(vm, pvc_user_stack);
	sync_global_to_guest(vm, pvc_use_vmmcall);
}

/* ------------------------------------------------------------------ */
/* /dev/pvchan ioctls. */

static void expect_ioctl(int ret, int err, int want, const char *name)
{
	bool ok = want ? ret == -1 && err == want : ret == 0;

	if (!ok)
		ksft_print_msg("  ioctl returned %d, errno %d (%s), expected %s\n",
			       ret, ret ? err : 0, ret ? strerror(err) : "none",
			       want ? strerror(want) : "success");
	ksft_test_result(ok, "%s\n", name);
}

static int bind_fd(int pvfd, int vm_fd, u64 reserved, u32 *id)
{
	struct pvchan_ctl_bind b = { .vm_fd = vm_fd, .reserved = reserved };
	int ret = ioctl(pvfd, PVCHAN_IOC_BIND, &b);

	if (!ret && id)
		*id = b.vm_id;
	return ret;
}

static int add_dev(int pvfd, const struct pvchan_ctl_dev *in, u32 *id)
{
	struct pvchan_ctl_dev d = *in;
	int ret = ioctl(pvfd, PVCHAN_IOC_ADD_DEV, &d);

	if (!ret && id)
		*id = d.dev_id;
	return ret;
}

#define ECHO_DEV(...) { .type = PVCHAN_DEV_ECHO, .num_queues = 2,	\
			.queue_size = 0, .backend_fd = -1, ##__VA_ARGS__ }

struct dev_case {
	const char *name;
	struct pvchan_ctl_dev dev;
	int err;
};

static const struct dev_case dev_cases[] = {
	{ "ADD_DEV num_queues 0 -> EINVAL", ECHO_DEV(.num_queues = 0), EINVAL },
	{ "ADD_DEV num_queues 65 -> EINVAL", ECHO_DEV(.num_queues = 65), EINVAL },
	{ "ADD_DEV queue_size 3 -> EINVAL", ECHO_DEV(.queue_size = 3), EINVAL },
	{ "ADD_DEV queue_size 8192 (max 4096) -> EINVAL",
	  ECHO_DEV(.queue_size = 8192), EINVAL },
	{ "ADD_DEV unknown type 99 -> EOPNOTSUPP", ECHO_DEV(.type = 99), EOPNOTSUPP },
	{ "ADD_DEV type NET without a tap -> EBADF",
	  ECHO_DEV(.type = PVCHAN_DEV_NET), EBADF },
	{ "ADD_DEV pad nonzero -> EINVAL", ECHO_DEV(.pad = 1), EINVAL },
	{ "ADD_DEV echo with a network MTU -> EINVAL",
	  ECHO_DEV(.net_mtu = 1500), EINVAL },
	{ "ADD_DEV echo with network queue fds -> EINVAL",
	  ECHO_DEV(.net_queue_fds = 1), EINVAL },
	{ "ADD_DEV echo with flags 0x1 -> EINVAL", ECHO_DEV(.flags = 1), EINVAL },
	{ "ADD_DEV unknown flag 0x80 -> EINVAL", ECHO_DEV(.flags = 0x80), EINVAL },
	{ "ADD_DEV echo with a backend_fd -> EINVAL",
	  ECHO_DEV(.backend_fd = 0), EINVAL },
};

/* ioctl TAP lines before the guest runs (PRE) and after it (POST). */
#define NR_IOCTL_PRE	(10 + ARRAY_SIZE(dev_cases))
#define NR_IOCTL_POST	14

static void test_ioctls_pre(int pvfd, struct ctx *c)
{
	static const struct pvchan_ctl_dev echo = ECHO_DEV();
	int ret, other, nullfd;
	u32 dev_id = ~0U;
	unsigned int i;

	nullfd = open("/dev/null", O_RDWR);
	TEST_ASSERT(nullfd >= 0, "open /dev/null");
	ret = bind_fd(pvfd, nullfd, 0, NULL);
	expect_ioctl(ret, errno, EINVAL, "BIND a non-KVM fd -> EINVAL");
	ret = bind_fd(pvfd, pvfd, 0, NULL);
	expect_ioctl(ret, errno, EINVAL, "BIND the /dev/pvchan fd itself -> EINVAL");
	close(nullfd);
	ret = bind_fd(pvfd, nullfd, 0, NULL);
	expect_ioctl(ret, errno, EBADF, "BIND a closed fd -> EBADF");
	ret = bind_fd(pvfd, c->vm->fd, 1, NULL);
	expect_ioctl(ret, errno, EINVAL, "BIND reserved nonzero -> EINVAL");
	ret = add_dev(pvfd, &echo, NULL);
	expect_ioctl(ret, errno, ENOTCONN, "ADD_DEV before BIND -> ENOTCONN");
	ret = ioctl(pvfd, _IO(PVCHAN_CTL_MAGIC, 0x7f), 0);
	expect_ioctl(ret, errno, ENOTTY, "unknown ioctl -> ENOTTY");

	ret = bind_fd(pvfd, c->vm->fd, 0, &c->vm_id);
	expect_ioctl(ret, errno, 0, "BIND the VM -> OK");
	TEST_ASSERT(!ret, "cannot bind the VM, stopping");
	ksft_print_msg("bound as vm%u\n", c->vm_id);
	ret = bind_fd(pvfd, c->vm->fd, 0, NULL);
	expect_ioctl(ret, errno, EALREADY, "BIND twice on one file -> EALREADY");

	other = open("/dev/pvchan", O_RDWR);
	TEST_ASSERT(other >= 0, "second open of /dev/pvchan");
	ret = bind_fd(other, c->vm->fd, 0, NULL);
	expect_ioctl(ret, errno, EBUSY, "BIND the same VM from a second file -> EBUSY");
	close(other);

	for (i = 0; i < ARRAY_SIZE(dev_cases); i++) {
		ret = add_dev(pvfd, &dev_cases[i].dev, NULL);
		expect_ioctl(ret, errno, dev_cases[i].err, dev_cases[i].name);
	}

	ret = add_dev(pvfd, &echo, &dev_id);
	if (!ret && dev_id) {
		ksft_print_msg("  dev_id %u, expected 0\n", dev_id);
		ret = -2;
	}
	expect_ioctl(ret, errno, 0, "ADD_DEV echo, 2 queues -> OK, dev_id 0");
	TEST_ASSERT(!ret, "cannot add the echo device, stopping");
}

static int dev_ref(int pvfd, unsigned long cmd, int vm_fd, u32 dev_id,
		   u64 reserved)
{
	struct pvchan_ctl_dev_ref ref = {
		.vm_fd = vm_fd, .dev_id = dev_id, .reserved = { 0, reserved },
	};

	return ioctl(pvfd, cmd, &ref);
}

/* Hot-add, change and hot-remove (ABI 1.2) after the guest's HELLO. */
static void test_ioctls_post(int pvfd, struct ctx *c)
{
	struct pvchan_ctl_hot_add hot = { .dev = ECHO_DEV() };
	static const struct pvchan_ctl_dev echo = ECHO_DEV();
	int ret, other, nullfd;
	u32 dev_id = ~0U;

	ret = add_dev(pvfd, &echo, &dev_id);
	expect_ioctl(ret, errno, 0, "ADD_DEV after the guest's HELLO (hot-add) -> OK");
	ksft_test_result(dev_id == 1, "hot-added device gets index 1 (got %u)\n",
			 dev_id);

	other = open("/dev/pvchan", O_RDWR);
	TEST_ASSERT(other >= 0, "open /dev/pvchan");
	nullfd = open("/dev/null", O_RDWR);
	TEST_ASSERT(nullfd >= 0, "open /dev/null");
	hot.vm_fd = nullfd;
	ret = ioctl(other, PVCHAN_IOC_HOT_ADD, &hot);
	expect_ioctl(ret, errno, EINVAL, "HOT_ADD with a non-KVM fd -> EINVAL");
	hot.vm_fd = c->vm->fd;
	hot.reserved = 1;
	ret = ioctl(other, PVCHAN_IOC_HOT_ADD, &hot);
	expect_ioctl(ret, errno, EINVAL, "HOT_ADD reserved nonzero -> EINVAL");
	hot.reserved = 0;
	ret = ioctl(other, PVCHAN_IOC_HOT_ADD, &hot);
	expect_ioctl(ret, errno, 0, "HOT_ADD through another /dev/pvchan file -> OK");
	ksft_test_result(hot.dev.dev_id == 2, "it gets index 2 (got %u)\n",
			 hot.dev.dev_id);

	ret = dev_ref(other, PVCHAN_IOC_DEV_CHANGED, c->vm->fd, 2, 0);
	expect_ioctl(ret, errno, 0, "DEV_CHANGED dev 2 -> OK");
	ret = dev_ref(other, PVCHAN_IOC_DEV_CHANGED, c->vm->fd, 2, 1);
	expect_ioctl(ret, errno, EINVAL, "DEV_CHANGED reserved nonzero -> EINVAL");
	ret = dev_ref(other, PVCHAN_IOC_DEL_DEV, nullfd, 2, 0);
	expect_ioctl(ret, errno, EINVAL, "DEL_DEV with a non-KVM fd -> EINVAL");
	ret = dev_ref(other, PVCHAN_IOC_DEL_DEV, c->vm->fd, 99, 0);
	expect_ioctl(ret, errno, ENODEV, "DEL_DEV dev 99 -> ENODEV");
	ret = dev_ref(other, PVCHAN_IOC_DEL_DEV, c->vm->fd, 0xffffffff, 0);
	expect_ioctl(ret, errno, ENODEV, "DEL_DEV dev 0xffffffff -> ENODEV");
	ret = dev_ref(other, PVCHAN_IOC_DEL_DEV, c->vm->fd, 2, 0);
	expect_ioctl(ret, errno, 0, "DEL_DEV dev 2 -> OK");
	ret = dev_ref(other, PVCHAN_IOC_DEL_DEV, c->vm->fd, 2, 0);
	expect_ioctl(ret, errno, ENODEV, "DEL_DEV dev 2 again -> ENODEV");
	ret = dev_ref(other, PVCHAN_IOC_DEV_CHANGED, c->vm->fd, 2, 0);
	expect_ioctl(ret, errno, ENODEV, "DEV_CHANGED on the removed dev 2 -> ENODEV");
	close(nullfd);
	close(other);
}

/* ------------------------------------------------------------------ */
/* debugfs counters against what rows[] should have produced. */

#define NR_COUNTER_TESTS	(ARRAY_SIZE(reject_names) + 1)
#define HC_KICK_IDX		(PVCHAN_HC_KICK - PVCHAN_HC_BASE)

static int reject_index(s64 ret)
{
	if (ret >= 0 || -ret < PVCHAN_ENOSYS || -ret > PVCHAN_ERR_LAST)
		return -1;
	/* After ring_index and ring_desc, which no hypercall returns. */
	if (-ret == PVCHAN_ENOCLOCK)
		return REJ_NOCLOCK;
	return -ret - PVCHAN_ENOSYS;
}

static void expected_counts(s64 *rej, s64 *hc)
{
	unsigned int i;
	int k;

	for (i = 0; i < NR_ROWS; i++) {
		const struct row *r = &rows[i];

		switch (r->op) {
		case OP_HC:
			if (r->nr < PVCHAN_HC_BASE || r->nr > PVCHAN_HC_LAST)
				break;
			k = r->nr - PVCHAN_HC_BASE;
			hc[k < PVCHAN_HC_COUNT ? k : PVCHAN_HC_COUNT]++;
			k = reject_index(r->expect);
			if (k >= 0)
				rej[k]++;
			break;
		case OP_ECHO:
			hc[HC_KICK_IDX]++;
			break;
		case OP_BAD_SQE:
			hc[HC_KICK_IDX]++;
			rej[r->expect == PVCHAN_ST_FAULT ? REJ_FAULT : REJ_RING_DESC]++;
			break;
		case OP_WILD:
			hc[HC_KICK_IDX]++;
			rej[REJ_RING_INDEX]++;
			break;
		default:
			break;
		}
	}
}

static void test_counters(struct ctx *c)
{
	s64 want_rej[ARRAY_SIZE(reject_names)] = {};
	s64 want_hc[PVCHAN_HC_COUNT + 1] = {};
	bool ok = true;
	unsigned int i;
	s64 got;

	expected_counts(want_rej, want_hc);
	for (i = 0; i < ARRAY_SIZE(reject_names); i++) {
		got = dbg_read(c, "rejects", reject_names[i]);
		ksft_test_result(got == want_rej[i],
				 "debugfs rejects %s = %ld (expected %ld)\n",
				 reject_names[i], got, want_rej[i]);
	}
	for (i = 0; i <= PVCHAN_HC_COUNT; i++) {
		got = dbg_read(c, "hypercalls", hc_names[i]);
		if (got != want_hc[i]) {
			ksft_print_msg("  hypercalls %s = %ld, expected %ld\n",
				       hc_names[i], got, want_hc[i]);
			ok = false;
		}
	}
	ksft_test_result(ok, "debugfs hypercall counts match the calls made\n");
}

int main(void)
{
	static const u8 crc_vector[] = "123456789";
	struct kvm_vcpu *vcpu;
	struct ctx c = {};
	unsigned int done, i;
	int pvfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();

	if (access("/dev/kvm", R_OK | W_OK))
		ksft_exit_skip("/dev/kvm not available\n");
	pvfd = open("/dev/pvchan", O_RDWR);
	if (pvfd < 0)
		ksft_exit_skip("/dev/pvchan: %s (pvchan_host not loaded?)\n",
			       strerror(errno));
	c.have_dbg = !access("/sys/kernel/debug/pvchan", R_OK);

	ksft_set_plan(1 + NR_IOCTL_PRE + NR_ROWS + NR_IOCTL_POST +
		      NR_COUNTER_TESTS);
	signal(SIGALRM, pvchan_st_alarm);
	alarm(300);

	ksft_test_result(crc32_le(~0U, crc_vector, 9) == 0x340bc6d9,
			 "crc32_le(~0, \"123456789\") = 0x340bc6d9\n");

	c.vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	vm_init_descriptor_tables(c.vm);
	vcpu_init_descriptor_tables(vcpu);
	vm_install_exception_handler(c.vm, UD_VECTOR, guest_ud_handler);
	vm_install_exception_handler(c.vm, IRQ_VECTOR, guest_irq_handler);

	vm_userspace_mem_region_add(c.vm, VM_MEM_SRC_ANONYMOUS, TEST_GPA,
				    TEST_SLOT, TEST_PAGES, 0);
	virt_map(c.vm, TEST_GPA, TEST_GPA, TEST_PAGES);
	sparsebit_set_num(c.vm->vpages_mapped, TEST_GPA >> c.vm->page_shift,
			  TEST_PAGES);
	setup_user_mode(c.vm);

	test_ioctls_pre(pvfd, &c);

	done = run_guest(&c, vcpu);
	for (i = done; i < NR_ROWS; i++)
		ksft_test_result_fail("%s (not run)\n", rows[i].name);

	test_ioctls_post(pvfd, &c);

	if (c.have_dbg) {
		test_counters(&c);
	} else {
		for (i = 0; i < NR_COUNTER_TESTS; i++)
			ksft_test_result_skip("debugfs counters: %s not readable\n",
					      "/sys/kernel/debug/pvchan");
	}

	close(pvfd);
	kvm_vm_free(c.vm);
	ksft_finished();
	return 0;
}
