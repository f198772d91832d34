/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel version shims for pvchan_host.  Each shim is chosen by probing the
 * target kernel's headers in Kbuild (PVCHAN_HAVE_* defines), not by version
 * number, and names the upstream change it follows.
 */
#ifndef _PVCHAN_HOST_COMPAT_H
#define _PVCHAN_HOST_COMPAT_H

#include <linux/version.h>

#if KERNEL_VERSION(6, 1, 0) > LINUX_VERSION_CODE
#error "pvchan_host needs Linux 6.1 or later"
#endif

#ifndef CONFIG_X86_64
#error "pvchan_host supports x86_64 KVM hosts only"
#endif

/*
 * ftrace_instruction_pointer_set() was renamed
 * ftrace_regs_set_instruction_pointer() in v6.9
 * (commit "ftrace: rename ftrace_instruction_pointer_set()").
 */
#ifdef PVCHAN_HAVE_FTRACE_REGS_SET_IP
#define pvchan_ftrace_set_ip(fregs, ip) \
	ftrace_regs_set_instruction_pointer(fregs, ip)
#else
#define pvchan_ftrace_set_ip(fregs, ip) \
	ftrace_instruction_pointer_set(fregs, ip)
#endif

#endif /* _PVCHAN_HOST_COMPAT_H */
