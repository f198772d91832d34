/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version shims for pvchan_guest, chosen by probing the target's
 * headers in Kbuild (PVCHAN_HAVE_* defines), not by version number.
 * Force-included into every file of the module.
 */
#ifndef _PVCHAN_GUEST_COMPAT_H
#define _PVCHAN_GUEST_COMPAT_H

#include <linux/version.h>

#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "pvchan_guest needs Linux 6.1 or later"
#endif

#ifndef CONFIG_X86_64
#error "pvchan_guest supports x86_64 KVM guests only"
#endif

#include <linux/clocksource.h>
#include <linux/timekeeping.h>

/*
 * A cross-timestamp's system counter value names its clocksource by
 * pointer (6.1) or, later, by ID (system_counterval_t.cs_id), the TSC's
 * being CSID_X86_TSC; a TSC clocksource then carries that ID.
 */
#ifdef PVCHAN_HAVE_COUNTERVAL_CS_PTR
#define PVCHAN_CSID_TSC		CSID_GENERIC

static inline void pvchan_counterval(struct system_counterval_t *sc,
				     u64 cycles, struct clocksource *cs)
{
	*sc = (struct system_counterval_t){ .cycles = cycles, .cs = cs };
}
#else
#define PVCHAN_CSID_TSC		CSID_X86_TSC

static inline void pvchan_counterval(struct system_counterval_t *sc,
				     u64 cycles, struct clocksource *cs)
{
	*sc = (struct system_counterval_t){ .cycles = cycles, .cs_id = cs->id };
}
#endif

#endif /* _PVCHAN_GUEST_COMPAT_H */
