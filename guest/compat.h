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

#endif /* _PVCHAN_GUEST_COMPAT_H */
