/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pvchan host control interface: ioctls on /dev/pvchan, used by pvchanctl.
 *
 * One open file binds at most one VM.  Closing the file unbinds the VM and
 * removes its devices; so does the VMM's address space going away.
 */
#ifndef _PVCHAN_CTL_H
#define _PVCHAN_CTL_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define PVCHAN_CTL_MAGIC		0xb7

/*
 * struct pvchan_ctl_bind - PVCHAN_IOC_BIND argument, 16 bytes.
 * @vm_fd: a KVM VM file descriptor (anon_inode:kvm-vm) valid in the caller.
 * @vm_id: out, the host's id for the bound VM (debugfs directory vm<id>).
 */
struct pvchan_ctl_bind {
	__s32 vm_fd;
	__u32 vm_id;
	__u64 reserved;
};

/*
 * struct pvchan_ctl_dev - PVCHAN_IOC_ADD_DEV argument, 64 bytes.
 * @type: PVCHAN_DEV_* from pvchan_abi.h.
 * @num_queues: queues offered to the guest (1..PVCHAN_CTL_MAX_QUEUES).
 * @queue_size: maximum ring entries, power of two (0: default 256).
 * @backend_fd: backing file or tap (-1 when the type needs none).
 * @flags: PVCHAN_CTL_DEV_F_*.
 * @dev_id: out, device index seen by the guest.
 * @serial: block devices: serial number shown to the guest (NUL padded).
 */
struct pvchan_ctl_dev {
	__u32 type;
	__u32 num_queues;
	__u32 queue_size;
	__s32 backend_fd;
	__u32 flags;
	__u32 dev_id;
	__u8 serial[20];
	__u8 reserved[20];
};

/* Block devices: read-only even if backend_fd is writable. */
#define PVCHAN_CTL_DEV_F_RO		0x1

#define PVCHAN_CTL_MAX_QUEUES		64
#define PVCHAN_CTL_MAX_DEVS		16

#define PVCHAN_IOC_BIND		_IOWR(PVCHAN_CTL_MAGIC, 1, struct pvchan_ctl_bind)
#define PVCHAN_IOC_ADD_DEV	_IOWR(PVCHAN_CTL_MAGIC, 2, struct pvchan_ctl_dev)

#endif /* _PVCHAN_CTL_H */
