/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pvchan host control interface: ioctls on /dev/pvchan, used by pvchanctl.
 *
 * One open file binds at most one VM.  Closing the file unbinds the VM and
 * removes its devices; so does the VMM's address space going away.  Devices
 * can also be added, changed and removed through any other /dev/pvchan file
 * by a caller that holds the VM's fd (PVCHAN_IOC_HOT_ADD, _DEV_CHANGED,
 * _DEL_DEV).
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
 * @net_mtu: network devices: MTU offered to the guest (0: 1500).
 * @net_mac: network devices: MAC address (all zero: the guest picks a
 *	random one).
 * @pad: zero.
 * @net_queue_fds: network devices: user address of an array of
 *	num_queues / 2 - 1 more tap queue descriptors (IFF_MULTI_QUEUE), for
 *	queue pairs 1 and up; 0 with one queue pair.  backend_fd is pair 0's.
 *	Every tap must have IFF_VNET_HDR and a 12-byte vnet header
 *	(TUNSETVNETHDRSZ), the size of struct pvchan_net_hdr.
 * All fields a device type does not use must be zero.
 */
struct pvchan_ctl_dev {
	__u32 type;
	__u32 num_queues;
	__u32 queue_size;
	__s32 backend_fd;
	__u32 flags;
	__u32 dev_id;
	__u8 serial[20];
	__u16 net_mtu;
	__u8 net_mac[6];
	__u32 pad;
	__u64 net_queue_fds;
};

/*
 * struct pvchan_ctl_dev_ref - names a device of a bound VM, 24 bytes.
 * Used on any /dev/pvchan file, not only the one that bound the VM: the
 * caller proves its access to the VM with a VM file descriptor, as for
 * PVCHAN_IOC_BIND.
 * @vm_fd: a KVM VM file descriptor of the bound VM.
 * @dev_id: device index (pvchan_ctl_dev.dev_id).
 */
struct pvchan_ctl_dev_ref {
	__s32 vm_fd;
	__u32 dev_id;
	__u64 reserved[2];
};

/*
 * struct pvchan_ctl_hot_add - PVCHAN_IOC_HOT_ADD argument, 80 bytes: add a
 * device to a VM bound by another /dev/pvchan file, while the guest runs.
 * @vm_fd: a KVM VM file descriptor of the bound VM.
 * @dev: as for PVCHAN_IOC_ADD_DEV; @dev.dev_id is filled in.
 */
struct pvchan_ctl_hot_add {
	__s32 vm_fd;
	__u32 pad;
	__u64 reserved;
	struct pvchan_ctl_dev dev;
};

/* Block devices: read-only even if backend_fd is writable. */
#define PVCHAN_CTL_DEV_F_RO		0x1

#define PVCHAN_CTL_MAX_QUEUES		64
#define PVCHAN_CTL_MAX_DEVS		16

#define PVCHAN_IOC_BIND		_IOWR(PVCHAN_CTL_MAGIC, 1, struct pvchan_ctl_bind)
#define PVCHAN_IOC_ADD_DEV	_IOWR(PVCHAN_CTL_MAGIC, 2, struct pvchan_ctl_dev)
/*
 * The device's backend changed (a block backend was resized): announce its
 * new configuration to the guest.  Errors: ENOENT (VM not bound), ENODEV.
 */
#define PVCHAN_IOC_DEV_CHANGED	_IOW(PVCHAN_CTL_MAGIC, 3, struct pvchan_ctl_dev_ref)
/*
 * Hot-add a device to a bound VM (errors: ENOENT, VM not bound, and those
 * of PVCHAN_IOC_ADD_DEV), or hot-remove one (ENOENT, ENODEV).  The guest is
 * told through its event interrupt (ABI 1.2, PVCHAN_F_DEV_EVENTS); device
 * indices are not reused.
 */
#define PVCHAN_IOC_HOT_ADD	_IOWR(PVCHAN_CTL_MAGIC, 4, struct pvchan_ctl_hot_add)
#define PVCHAN_IOC_DEL_DEV	_IOW(PVCHAN_CTL_MAGIC, 5, struct pvchan_ctl_dev_ref)

#endif /* _PVCHAN_CTL_H */
