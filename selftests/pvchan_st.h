/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the pvchan selftests share: the names of the host's debugfs
 * counters, in the host's order, and the timeout handler.
 */
#ifndef _PVCHAN_ST_H
#define _PVCHAN_ST_H

#include <unistd.h>

#include "kselftest.h"
#include "pvchan_abi.h"

/* Reject reasons (vm<N>/rejects): PVCHAN_ENOSYS.. first, in order. */
static const char * const reject_names[] = {
	"nosys", "notready", "version", "inval", "nodev", "noqueue",
	"fault", "align", "busy", "nomem", "ring_index", "ring_desc", "noclock",
};

#define REJ_FAULT	6
#define REJ_RING_INDEX	10
#define REJ_RING_DESC	11
#define REJ_NOCLOCK	12

/* Hypercall counters (vm<N>/hypercalls), by number - PVCHAN_HC_BASE. */
static const char * const hc_names[PVCHAN_HC_COUNT + 1] = {
	"hello", "dev_info", "dev_config", "queue_setup", "queue_reset",
	"kick", "irq_route", "dev_map", "clock_pair", "clock_record",
	"unknown",
};

/*
 * The guest's entry point, for vm_create_with_vcpus(): the 6.1 library
 * enters guest code with RSP 16-byte aligned, 8 bytes off the ABI's
 * alignment after a call, so SSE spills would fault.  guest_code aligns
 * the stack and calls the test's guest_main() (static, "used").
 */
asm(".pushsection .text\n"
	"guest_code:\n"
	"	and $-16, %rsp\n"
	"	call guest_main\n"
	"	ud2\n"
	".popsection\n");
extern char guest_code[];

/* SIGALRM: a guest or the host is stuck; bail out of the TAP stream. */
static inline void pvchan_st_alarm(int sig)
{
	static const char msg[] = "Bail out! timeout: guest or host stuck\n";

	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(KSFT_FAIL);
}

#endif /* _PVCHAN_ST_H */
