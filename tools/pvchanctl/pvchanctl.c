// SPDX-License-Identifier: GPL-2.0
/*
 * pvchanctl - attach pvchan devices to a running KVM VM, show pvchan status.
 *
 *   pvchanctl attach --pid PID [--echo[=QUEUES]]... [--blk PATH[,OPT]...]...
 *             [--dev-node PATH]
 *   pvchanctl status [--debugfs DIR]
 *
 * attach copies the VMM's KVM VM file descriptor (anon_inode:kvm-vm) with
 * pidfd_getfd(), binds it on /dev/pvchan, adds the requested devices and then
 * stays in the foreground: the VM stays bound for as long as the /dev/pvchan
 * file is open.  It exits, unbinding, when the VMM exits or on
 * SIGTERM/SIGINT/SIGHUP.
 *
 * Device options are table driven (dev_types[] below): adding a device type
 * such as --blk PATH[,ro][,serial=S] or --net TAP[,mac=M][,mtu=N] means
 * writing a parse and a describe function and adding one table entry.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/if_tun.h>

#include "pvchan_abi.h"
#include "pvchan_abi_check.h"
#include "pvchan_ctl.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open		434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd		438
#endif

#define PROG			"pvchanctl"
#define EXIT_USAGE		2
#define KVM_VM_LINK		"anon_inode:kvm-vm"
#define DEFAULT_DEV_NODE	"/dev/pvchan"
#define DEFAULT_DEBUGFS		"/sys/kernel/debug/pvchan"

#define __printf(a, b)		__attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define STR_(x)			#x
#define STR(x)			STR_(x)

static void __printf(1, 2) msg(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void __printf(1, 2) info(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage:\n"
		"  " PROG " attach {--pid PID | --pid-file PATH}\n"
		"          [--echo[=QUEUES]]... [--blk PATH[,OPT]...]...\n"
		"          [--net TAP[,OPT]...]... [--clock] [--dev-node PATH]\n"
		"  " PROG " add {--pid PID | --pid-file PATH}\n"
		"          [--echo[=QUEUES]]... [--blk PATH[,OPT]...]...\n"
		"          [--net TAP[,OPT]...]... [--dev-node PATH]\n"
		"  " PROG " remove {--pid PID | --pid-file PATH} --dev N [--dev-node PATH]\n"
		"  " PROG " resize {--pid PID | --pid-file PATH} --dev N [--dev-node PATH]\n"
		"  " PROG " status [--debugfs DIR]\n"
		"  " PROG " --help | --version\n"
		"\n"
		"attach: bind the KVM VM of process PID to pvchan and add devices, then\n"
		"stay in the foreground; the VM is unbound when the VMM exits or on\n"
		"SIGTERM, SIGINT or SIGHUP.\n"
		"  --pid PID         process (VMM) owning the KVM VM\n"
		"  --pid-file PATH   the VMM's pid file instead of --pid\n"
		"  --echo[=QUEUES]   add an echo test device with QUEUES queues\n"
		"                    (1.." STR(PVCHAN_CTL_MAX_QUEUES)
		", default 1, --echo=N); may be repeated\n"
		"  --blk PATH[,ro][,serial=S][,queues=N]\n"
		"                    add a disk backed by an image file or a block\n"
		"                    device; ro: read-only; S: serial (1..20\n"
		"                    printable characters); N: queues (default 4, the\n"
		"                    guest uses at most one per vCPU); may be repeated\n"
		"  --net TAP[,mac=M][,mtu=N][,queues=N]\n"
		"                    add a network device on tap TAP (created if\n"
		"                    missing; configure it with ip(8)); M: MAC address\n"
		"                    (default: the guest picks a random one); N: MTU\n"
		"                    offered (" STR(PVCHAN_NET_MIN_MTU) ".."
		STR(PVCHAN_NET_MAX_MTU) ", default 1500); queues: queue pairs\n"
		"                    (default 1, the guest uses at most one per\n"
		"                    vCPU); may be repeated\n"
		"  --clock           add a clock device: the guest's exact TSC frequency\n"
		"                    and stability (a vDSO clocksource) and host time\n"
		"                    (a PTP clock)\n"
		"  --dev-node PATH   control device (default " DEFAULT_DEV_NODE ")\n"
		"\n"
		"add: add devices to a VM bound by a running attach, while the guest\n"
		"runs (hot-add); the same device options as attach.\n"
		"\n"
		"remove: remove device N from a VM bound by a running attach, while the\n"
		"guest runs (hot-remove); the guest's I/O in flight on it fails.\n"
		"  --dev N           device number, as printed by attach or add\n"
		"\n"
		"resize: announce to the guest the current size of device N's backing\n"
		"file or block device, after growing or shrinking it (truncate,\n"
		"lvextend); the VM must be bound by a running attach.\n"
		"  --dev N           device number, as printed by attach\n"
		"\n"
		"status: show bound VMs from debugfs.\n"
		"  --debugfs DIR     pvchan debugfs directory (default " DEFAULT_DEBUGFS ")\n");
}

static int bad_option(const char *opt)
{
	msg("bad option: %s", opt);
	usage(stderr);
	return EXIT_USAGE;
}

enum {
	OPT_PID = 256,
	OPT_PID_FILE,
	OPT_DEV_NODE,
	OPT_HELP,
	OPT_DEV,
	OPT_DEV_BASE = 512,		/* + index into dev_types[] */
};

/* Decimal only, no sign, no whitespace, no trailing junk, min..max. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max,
		       unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * --pid PID or --pid-file PATH (a VMM's pid file: one decimal PID, as QEMU's
 * -pidfile and libvirt write it) into *pid, given once.  Returns 0, or -1
 * with a message printed.
 */
static int parse_pid_opt(int opt, const char *arg, long *pid)
{
	char buf[32];
	unsigned long v;
	ssize_t len;
	int fd;

	if (*pid >= 0) {
		msg("--pid or --pid-file given more than once");
		return -1;
	}
	if (opt == OPT_PID) {
		if (parse_ulong(arg, 1, INT_MAX, &v)) {
			msg("invalid PID: '%s'", arg);
			return -1;
		}
		*pid = v;
		return 0;
	}
	fd = open(arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		msg("cannot open PID file %s: %s", arg, strerror(errno));
		return -1;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0) {
		msg("cannot read PID file %s: %s", arg, strerror(errno));
		return -1;
	}
	buf[len] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	if (parse_ulong(buf, 1, INT_MAX, &v)) {
		msg("PID file %s does not hold a PID", arg);
		return -1;
	}
	*pid = v;
	return 0;
}

/*
 * getopt_long() error handling shared by the subcommands: optstring starts
 * with "+:" so unknown options give '?', missing arguments ':', and we print
 * the offending word ourselves.
 */
static int getopt_error(char **argv, int opt)
{
	if (opt == ':') {
		msg("bad option: %s (needs an argument)", argv[optind - 1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return bad_option(argv[optind - 1]);
}

/* ---- device types -------------------------------------------------------- */

struct dev_spec;

struct dev_type {
	const char *name;		/* option name and label: --<name> */
	__u32 type;			/* PVCHAN_DEV_* */
	int has_arg;			/* getopt_long has_arg */
	/* Fill @spec from the option argument (NULL if none); 0 or -1. */
	int (*parse)(struct dev_spec *spec, const char *arg);
	/* Write a human readable description of @spec into @buf. */
	void (*describe)(const struct dev_spec *spec, char *buf, size_t len);
};

/*
 * One device requested on the command line.  Backend resources (a file
 * for a block device, a tap for a network device) would be opened by the
 * type's parse function into backend_fd and closed after ADD_DEV.
 */
struct dev_spec {
	const struct dev_type *dt;
	__u32 num_queues;
	__u32 queue_size;		/* 0: kernel default */
	__u32 flags;			/* PVCHAN_CTL_DEV_F_* */
	int backend_fd;			/* -1: none */
	char path[PATH_MAX];		/* backend, for messages */
	char serial[PVCHAN_BLK_SERIAL_LEN + 1];
	__u16 mtu;			/* network: 0 for the default */
	__u8 mac[6];			/* network: all zero for none */
	int queue_fds[PVCHAN_CTL_MAX_QUEUES / 2];	/* network: pairs 1.. */
};

static int echo_parse(struct dev_spec *spec, const char *arg)
{
	unsigned long q = 1;

	if (arg && parse_ulong(arg, 1, PVCHAN_CTL_MAX_QUEUES, &q)) {
		msg("bad queue count for --echo: '%s' (must be 1..%d)", arg,
		    PVCHAN_CTL_MAX_QUEUES);
		return -1;
	}
	spec->num_queues = q;
	return 0;
}

static void echo_describe(const struct dev_spec *spec, char *buf, size_t len)
{
	snprintf(buf, len, "echo, %u queues", spec->num_queues);
}

/* --blk PATH[,ro][,serial=S][,queues=N] */
static int blk_parse(struct dev_spec *spec, const char *arg)
{
	char *copy = strdup(arg), *opt, *save = NULL;
	unsigned long q = 4;
	struct stat st;
	int ret = -1;

	if (!copy) {
		msg("out of memory");
		return -1;
	}
	opt = strtok_r(copy, ",", &save);
	if (!opt || strlen(opt) >= sizeof(spec->path)) {
		msg("--blk needs a path: --blk PATH[,ro][,serial=S][,queues=N]");
		goto out;
	}
	strcpy(spec->path, opt);
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strcmp(opt, "ro")) {
			spec->flags |= PVCHAN_CTL_DEV_F_RO;
		} else if (!strncmp(opt, "serial=", 7)) {
			const char *s = opt + 7;
			size_t i, n = strlen(s);

			for (i = 0; i < n && isprint((unsigned char)s[i]); i++)
				;
			if (!n || n > PVCHAN_BLK_SERIAL_LEN || i != n) {
				msg("bad serial '%s': 1..%d printable characters",
				    s, PVCHAN_BLK_SERIAL_LEN);
				goto out;
			}
			strcpy(spec->serial, s);
		} else if (!strncmp(opt, "queues=", 7)) {
			if (parse_ulong(opt + 7, 1, PVCHAN_CTL_MAX_QUEUES, &q)) {
				msg("bad queue count '%s' (must be 1..%d)",
				    opt + 7, PVCHAN_CTL_MAX_QUEUES);
				goto out;
			}
		} else {
			msg("bad --blk option '%s' (ro, serial=S, queues=N)", opt);
			goto out;
		}
	}
	spec->num_queues = q;
	spec->backend_fd = open(spec->path, O_CLOEXEC |
				(spec->flags & PVCHAN_CTL_DEV_F_RO ?
				 O_RDONLY : O_RDWR));
	if (spec->backend_fd < 0) {
		if (errno == EROFS || errno == EACCES)
			msg("cannot open %s for writing: %s (use ,ro for a read-only disk)",
			    spec->path, strerror(errno));
		else
			msg("cannot open %s: %s", spec->path, strerror(errno));
		goto out;
	}
	if (fstat(spec->backend_fd, &st) ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		msg("%s is not a regular file or a block device", spec->path);
		close(spec->backend_fd);
		spec->backend_fd = -1;
		goto out;
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

static void blk_describe(const struct dev_spec *spec, char *buf, size_t len)
{
	snprintf(buf, len, "blk %s%s%s%s, %u queues", spec->path,
		 spec->flags & PVCHAN_CTL_DEV_F_RO ? ", read-only" : "",
		 spec->serial[0] ? ", serial " : "", spec->serial,
		 spec->num_queues);
}

/* Open one queue of tap @name; -1 (message printed) on error. */
static int open_tap(const char *name, bool multi_queue)
{
	int vnet_hdr_sz = sizeof(struct pvchan_net_hdr);
	struct ifreq ifr;
	int fd;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		msg("cannot open /dev/net/tun: %s (is the tun module loaded?)",
		    strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (multi_queue)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	strcpy(ifr.ifr_name, name);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		if (errno == EINVAL)
			msg("cannot attach to tap %s: exists with other flags (%s queue)",
			    name, multi_queue ? "single" : "multi");
		else if (errno == EBUSY)
			msg("cannot attach to tap %s: busy (another user has all its queues)",
			    name);
		else
			msg("cannot attach to tap %s: %s", name,
			    strerror(errno));
		close(fd);
		return -1;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &vnet_hdr_sz)) {
		msg("tap %s: cannot set the vnet header size: %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int parse_mac(const char *s, __u8 *mac)
{
	unsigned int b[6], i;
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	/* Unicast, not all zero. */
	if ((mac[0] & 1) || !(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
		return -1;
	return 0;
}

/* --net TAP[,mac=M][,mtu=N][,queues=N] */
static int net_parse(struct dev_spec *spec, const char *arg)
{
	char *copy = strdup(arg), *opt, *save = NULL;
	unsigned long pairs = 1, mtu = 0, i;
	int ret = -1;

	if (!copy) {
		msg("out of memory");
		return -1;
	}
	opt = strtok_r(copy, ",", &save);
	if (!opt || strlen(opt) >= IFNAMSIZ) {
		msg("--net needs a tap name of at most %d characters: %s",
		    IFNAMSIZ - 1, "--net TAP[,mac=M][,mtu=N][,queues=N]");
		goto out;
	}
	strcpy(spec->path, opt);
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strncmp(opt, "mac=", 4)) {
			if (parse_mac(opt + 4, spec->mac)) {
				msg("bad MAC address '%s' (unicast, like 52:54:00:12:34:56)",
				    opt + 4);
				goto out;
			}
		} else if (!strncmp(opt, "mtu=", 4)) {
			if (parse_ulong(opt + 4, PVCHAN_NET_MIN_MTU,
					PVCHAN_NET_MAX_MTU, &mtu)) {
				msg("bad MTU '%s' (must be %d..%d)", opt + 4,
				    PVCHAN_NET_MIN_MTU, PVCHAN_NET_MAX_MTU);
				goto out;
			}
		} else if (!strncmp(opt, "queues=", 7)) {
			if (parse_ulong(opt + 7, 1, PVCHAN_CTL_MAX_QUEUES / 2,
					&pairs)) {
				msg("bad queue pair count '%s' (must be 1..%d)",
				    opt + 7, PVCHAN_CTL_MAX_QUEUES / 2);
				goto out;
			}
		} else {
			msg("bad --net option '%s' (mac=M, mtu=N, queues=N)",
			    opt);
			goto out;
		}
	}
	spec->mtu = mtu;
	spec->num_queues = 2 * pairs;
	spec->backend_fd = open_tap(spec->path, pairs > 1);
	if (spec->backend_fd < 0)
		goto out;
	for (i = 1; i < pairs; i++) {
		spec->queue_fds[i - 1] = open_tap(spec->path, true);
		if (spec->queue_fds[i - 1] < 0) {
			while (--i)
				close(spec->queue_fds[i - 1]);
			close(spec->backend_fd);
			spec->backend_fd = -1;
			goto out;
		}
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

static void net_describe(const struct dev_spec *spec, char *buf, size_t len)
{
	char mac[24] = "";

	if (spec->mac[0] | spec->mac[1] | spec->mac[2] | spec->mac[3] |
	    spec->mac[4] | spec->mac[5])
		snprintf(mac, sizeof(mac), ", mac %02x:%02x:%02x:%02x:%02x:%02x",
			 spec->mac[0], spec->mac[1], spec->mac[2], spec->mac[3],
			 spec->mac[4], spec->mac[5]);
	snprintf(buf, len, "net tap %s%s, mtu %u, %u queue pairs", spec->path,
		 mac, spec->mtu ? spec->mtu : 1500, spec->num_queues / 2);
}

/* --clock */
static int clock_parse(struct dev_spec *spec, const char *arg)
{
	(void)arg;
	spec->num_queues = 1;
	return 0;
}

static void clock_describe(const struct dev_spec *spec, char *buf,
			   size_t len)
{
	(void)spec;
	snprintf(buf, len, "clock (TSC frequency and stability, host time)");
}

static const struct dev_type dev_types[] = {
	{
		.name = "echo",
		.type = PVCHAN_DEV_ECHO,
		.has_arg = optional_argument,
		.parse = echo_parse,
		.describe = echo_describe,
	},
	{
		.name = "blk",
		.type = PVCHAN_DEV_BLK,
		.has_arg = required_argument,
		.parse = blk_parse,
		.describe = blk_describe,
	},
	{
		.name = "net",
		.type = PVCHAN_DEV_NET,
		.has_arg = required_argument,
		.parse = net_parse,
		.describe = net_describe,
	},
	{
		.name = "clock",
		.type = PVCHAN_DEV_CLOCK,
		.has_arg = no_argument,
		.parse = clock_parse,
		.describe = clock_describe,
	},
};

/* ---- attach -------------------------------------------------------------- */

static const struct option attach_fixed_opts[] = {
	{ "pid",	required_argument,	NULL,	OPT_PID },
	{ "pid-file",	required_argument,	NULL,	OPT_PID_FILE },
	{ "dev-node",	required_argument,	NULL,	OPT_DEV_NODE },
	{ "help",	no_argument,		NULL,	OPT_HELP },
};

static void perm_denied(pid_t pid)
{
	msg("permission denied inspecting %d (need root / ptrace rights)",
	    (int)pid);
}

/*
 * Find the KVM VM fd number in /proc/PID/fd.  Returns the fd number, -1 with
 * a message printed on error.
 */
static int find_vm_fd(pid_t pid)
{
	char path[64], link[64];
	struct dirent *de;
	int found = -1, count = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d) {
		if (errno == EACCES || errno == EPERM)
			perm_denied(pid);
		else if (errno == ENOENT || errno == ESRCH)
			msg("no such process: %d", (int)pid);
		else
			msg("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	while ((errno = 0, de = readdir(d))) {
		unsigned long n;
		ssize_t len;

		if (parse_ulong(de->d_name, 0, INT_MAX, &n))
			continue;
		len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (len < 0) {
			if (errno == EACCES || errno == EPERM) {
				perm_denied(pid);
				closedir(d);
				return -1;
			}
			continue;	/* closed meanwhile */
		}
		link[len] = '\0';
		if (strcmp(link, KVM_VM_LINK))
			continue;
		if (!count++)
			found = n;
	}
	if (errno) {
		if (errno == EACCES || errno == EPERM)
			perm_denied(pid);
		else
			msg("cannot read %s: %s", path, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);

	if (found < 0) {
		msg("process %d has no KVM VM (no " KVM_VM_LINK " fd)", (int)pid);
		return -1;
	}
	if (count > 1)
		msg("warning: process %d has %d " KVM_VM_LINK " fds, using fd %d",
		    (int)pid, count, found);
	return found;
}

/* Check that our copy really is a KVM VM (the fd number could be reused). */
static int is_vm_fd(int fd)
{
	char path[64], link[64];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return 1;	/* no /proc for us: let the kernel decide */
	link[len] = '\0';
	return !strcmp(link, KVM_VM_LINK);
}

static int open_dev_node(const char *node)
{
	int fd = open(node, O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		msg("%s not found: is the pvchan_host module loaded?", node);
		break;
	case EACCES:
	case EPERM:
		msg("permission denied opening %s (need root)", node);
		break;
	default:
		msg("cannot open %s: %s", node, strerror(errno));
		break;
	}
	return -1;
}

static int bind_vm(int ctl_fd, int vm_fd, __u32 *vm_id)
{
	struct pvchan_ctl_bind bind;
	int ret, err;

	memset(&bind, 0, sizeof(bind));
	bind.vm_fd = vm_fd;
	ret = ioctl(ctl_fd, PVCHAN_IOC_BIND, &bind);
	err = errno;
	close(vm_fd);
	if (ret < 0) {
		switch (err) {
		case EBUSY:
			msg("bind failed: VM already bound");
			break;
		case EINVAL:
		case EBADF:
			msg("bind failed: not a KVM VM fd");
			break;
		default:
			msg("bind failed: %s", strerror(err));
			break;
		}
		return -1;
	}
	*vm_id = bind.vm_id;
	return 0;
}

/*
 * Add a device: to the VM bound by @ctl_fd, or, with @vm_fd >= 0, hot-add
 * it to the VM of @vm_fd bound by another pvchanctl.
 */
static int add_dev(int ctl_fd, int vm_fd, struct dev_spec *spec,
		   __u32 *dev_id)
{
	struct pvchan_ctl_hot_add hot;
	struct pvchan_ctl_dev *dev = &hot.dev;
	char desc[128];
	int ret, err;

	memset(&hot, 0, sizeof(hot));
	hot.vm_fd = vm_fd;
	dev->type = spec->dt->type;
	dev->num_queues = spec->num_queues;
	dev->queue_size = spec->queue_size;
	dev->backend_fd = spec->backend_fd;
	dev->flags = spec->flags;
	memcpy(dev->serial, spec->serial, strlen(spec->serial));
	dev->net_mtu = spec->mtu;
	memcpy(dev->net_mac, spec->mac, sizeof(dev->net_mac));
	if (spec->dt->type == PVCHAN_DEV_NET && spec->num_queues > 2)
		dev->net_queue_fds = (uintptr_t)spec->queue_fds;
	if (vm_fd >= 0)
		ret = ioctl(ctl_fd, PVCHAN_IOC_HOT_ADD, &hot);
	else
		ret = ioctl(ctl_fd, PVCHAN_IOC_ADD_DEV, dev);
	err = errno;
	if (spec->backend_fd >= 0) {
		close(spec->backend_fd);
		spec->backend_fd = -1;
	}
	if (spec->dt->type == PVCHAN_DEV_NET) {
		unsigned int i;

		for (i = 1; i < spec->num_queues / 2; i++)
			close(spec->queue_fds[i - 1]);
	}
	if (ret < 0) {
		spec->dt->describe(spec, desc, sizeof(desc));
		if (err == ENOENT && vm_fd >= 0)
			msg("adding device (%s) failed: VM not bound (no pvchanctl attach?)",
			    desc);
		else if (err == ENOSPC)
			msg("adding device (%s) failed: no device number left (%d per VM)",
			    desc, PVCHAN_CTL_MAX_DEVS);
		else
			msg("adding device (%s) failed: %s", desc,
			    strerror(err));
		return -1;
	}
	*dev_id = dev->dev_id;
	return 0;
}

/* Block the stop signals and return a signalfd for them, -1 on error. */
static int setup_signals(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL)) {
		msg("sigprocmask: %s", strerror(errno));
		return -1;
	}
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		msg("signalfd: %s", strerror(errno));
	return fd;
}

/* Wait for the VMM to exit or a stop signal. */
static int wait_for_end(pid_t pid, int pidfd, int sigfd)
{
	struct pollfd pfd[2] = {
		{ .fd = pidfd, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			msg("poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[0].revents) {
			info("VMM %d exited, unbinding", (int)pid);
			return 0;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) < 0 && errno == EINTR)
				continue;
			info("signal, unbinding");
			return 0;
		}
	}
}

/*
 * A copy of the KVM VM fd of process @pid, or -1 with a message printed.
 * *@pidfd is set to a pidfd for @pid (or -1); the caller closes it.
 */
static int get_vm_fd(long pid, int *pidfd)
{
	int vm_fd, remote_fd;
	char path[64];
	struct stat st;

	*pidfd = -1;
	snprintf(path, sizeof(path), "/proc/%ld", pid);
	if (stat(path, &st)) {
		if (errno == ENOENT)
			msg("no such process: %ld", pid);
		else if (errno == EACCES || errno == EPERM)
			perm_denied(pid);
		else
			msg("cannot stat %s: %s", path, strerror(errno));
		return -1;
	}

	/*
	 * Pin the process before scanning its fds, so that if it is still
	 * alive afterwards the fd numbers we saw are really its own.
	 */
	*pidfd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (*pidfd < 0) {
		switch (errno) {
		case ESRCH:
			msg("no such process: %ld", pid);
			break;
		case EINVAL:
		case ENOENT:
			msg("%ld is not a process id (a thread id?)", pid);
			break;
		case EPERM:
		case EACCES:
			perm_denied(pid);
			break;
		case ENOSYS:
			msg("kernel lacks pidfd_open (needs Linux 5.6 or newer)");
			break;
		default:
			msg("pidfd_open(%ld): %s", pid, strerror(errno));
			break;
		}
		return -1;
	}

	remote_fd = find_vm_fd(pid);
	if (remote_fd < 0)
		return -1;

	vm_fd = syscall(SYS_pidfd_getfd, *pidfd, remote_fd, 0);
	if (vm_fd < 0) {
		switch (errno) {
		case EPERM:
		case EACCES:
			perm_denied(pid);
			break;
		case ESRCH:
			msg("no such process: %ld", pid);
			break;
		case EBADF:
			msg("fd %d of process %ld went away", remote_fd, pid);
			break;
		case ENOSYS:
			msg("kernel lacks pidfd_getfd (needs Linux 5.6 or newer)");
			break;
		default:
			msg("pidfd_getfd(%ld, %d): %s", pid, remote_fd,
			    strerror(errno));
			break;
		}
		return -1;
	}
	if (!is_vm_fd(vm_fd)) {
		msg("fd %d of process %ld changed while inspecting it",
		    remote_fd, pid);
		close(vm_fd);
		return -1;
	}

	return vm_fd;
}

/* attach, and add (argv[0]): hot-add to a VM bound by a running attach. */
static int cmd_attach(int argc, char **argv)
{
	bool hot = !strcmp(argv[0], "add");
	struct option longopts[ARRAY_SIZE(attach_fixed_opts) +
				ARRAY_SIZE(dev_types) + 1];
	struct dev_spec devs[PVCHAN_CTL_MAX_DEVS];
	const char *node = DEFAULT_DEV_NODE;
	int ndevs = 0, pidfd = -1, sigfd = -1, ctl_fd = -1, vm_fd;
	int ret = 1, opt, i;
	long pid = -1;
	__u32 vm_id;

	memcpy(longopts, attach_fixed_opts, sizeof(attach_fixed_opts));
	for (i = 0; i < (int)ARRAY_SIZE(dev_types); i++) {
		struct option *o = &longopts[ARRAY_SIZE(attach_fixed_opts) + i];

		o->name = dev_types[i].name;
		o->has_arg = dev_types[i].has_arg;
		o->flag = NULL;
		o->val = OPT_DEV_BASE + i;
	}
	memset(&longopts[ARRAY_SIZE(longopts) - 1], 0, sizeof(longopts[0]));

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_PID:
		case OPT_PID_FILE:
			if (parse_pid_opt(opt, optarg, &pid))
				goto out_usage;
			break;
		case OPT_DEV_NODE:
			node = optarg;
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			ret = 0;
			goto out;
		case '?':
		case ':':
			ret = getopt_error(argv, opt);
			goto out;
		default:
			if (opt < OPT_DEV_BASE ||
			    opt >= OPT_DEV_BASE + (int)ARRAY_SIZE(dev_types)) {
				ret = bad_option(argv[optind - 1]);
				goto out;
			}
			if (ndevs == PVCHAN_CTL_MAX_DEVS) {
				msg("too many devices (at most %d)",
				    PVCHAN_CTL_MAX_DEVS);
				goto out_usage;
			}
			memset(&devs[ndevs], 0, sizeof(devs[0]));
			devs[ndevs].dt = &dev_types[opt - OPT_DEV_BASE];
			devs[ndevs].backend_fd = -1;
			if (devs[ndevs].dt->parse(&devs[ndevs], optarg))
				goto out_usage;
			ndevs++;
			break;
		}
	}
	if (optind < argc) {
		msg("bad option: %s", argv[optind]);
		/* "--echo 4": optional values must be attached with '='. */
		for (i = 0; optind > 1 && i < (int)ARRAY_SIZE(dev_types); i++) {
			const char *prev = argv[optind - 1];

			if (dev_types[i].has_arg == optional_argument &&
			    !strncmp(prev, "--", 2) &&
			    !strcmp(prev + 2, dev_types[i].name))
				msg("note: write --%s=%s, not --%s %s",
				    dev_types[i].name, argv[optind],
				    dev_types[i].name, argv[optind]);
		}
		usage(stderr);
		goto out_usage;
	}
	if (pid < 0 || (hot && !ndevs)) {
		msg(hot ? "add needs --pid PID (or --pid-file) and a device" :
			  "attach needs --pid PID (or --pid-file PATH)");
		usage(stderr);
		goto out_usage;
	}

	if (hot) {
		vm_fd = get_vm_fd(pid, &pidfd);
		ctl_fd = vm_fd < 0 ? -1 : open_dev_node(node);
		for (i = 0; ctl_fd >= 0 && i < ndevs; i++) {
			char desc[128];
			__u32 dev_id;

			if (add_dev(ctl_fd, vm_fd, &devs[i], &dev_id))
				break;
			devs[i].dt->describe(&devs[i], desc, sizeof(desc));
			info("device %u added: %s", dev_id, desc);
		}
		if (vm_fd >= 0)
			close(vm_fd);
		if (ctl_fd >= 0 && i == ndevs)
			ret = 0;
		goto out;
	}

	/* Block the stop signals early so a signal is never lost. */
	sigfd = setup_signals();
	if (sigfd < 0)
		goto out;

	vm_fd = get_vm_fd(pid, &pidfd);
	if (vm_fd < 0)
		goto out;

	ctl_fd = open_dev_node(node);
	if (ctl_fd < 0) {
		close(vm_fd);
		goto out;
	}

	if (bind_vm(ctl_fd, vm_fd, &vm_id))	/* closes vm_fd */
		goto out;

	if (!ndevs)
		info("VM %u bound (pid %ld)", vm_id, pid);
	for (i = 0; i < ndevs; i++) {
		char desc[128];
		__u32 dev_id;

		if (add_dev(ctl_fd, -1, &devs[i], &dev_id))
			goto out;
		devs[i].dt->describe(&devs[i], desc, sizeof(desc));
		info("VM %u bound (pid %ld), device %u: %s", vm_id, pid,
		     dev_id, desc);
	}

	info("attached");

	if (wait_for_end(pid, pidfd, sigfd))
		goto out;
	ret = 0;
	goto out;

out_usage:
	ret = EXIT_USAGE;
out:
	for (i = 0; i < ndevs; i++)
		if (devs[i].backend_fd >= 0)
			close(devs[i].backend_fd);
	if (ctl_fd >= 0)
		close(ctl_fd);		/* unbinds the VM */
	if (pidfd >= 0)
		close(pidfd);
	if (sigfd >= 0)
		close(sigfd);
	return ret;
}

/* ---- resize, remove ------------------------------------------------------ */

/* resize and remove (argv[0]): one device of a bound VM. */
static int cmd_dev_ref(int argc, char **argv)
{
	bool remove = !strcmp(argv[0], "remove");
	static const struct option opts[] = {
		{ "pid",	required_argument,	NULL,	OPT_PID },
		{ "pid-file",	required_argument,	NULL,	OPT_PID_FILE },
		{ "dev",	required_argument,	NULL,	OPT_DEV },
		{ "dev-node",	required_argument,	NULL,	OPT_DEV_NODE },
		{ "help",	no_argument,		NULL,	OPT_HELP },
		{ NULL,		0,			NULL,	0 },
	};
	const char *node = DEFAULT_DEV_NODE;
	struct pvchan_ctl_dev_ref ref;
	int opt, pidfd = -1, ctl_fd, vm_fd, ret, err;
	unsigned long dev = ULONG_MAX;
	long pid = -1;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_PID:
		case OPT_PID_FILE:
			if (parse_pid_opt(opt, optarg, &pid)) {
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case OPT_DEV:
			if (parse_ulong(optarg, 0, PVCHAN_CTL_MAX_DEVS - 1, &dev)) {
				msg("invalid device number: '%s' (0..%d)", optarg,
				    PVCHAN_CTL_MAX_DEVS - 1);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case OPT_DEV_NODE:
			node = optarg;
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			return getopt_error(argv, opt);
		}
	}
	if (optind < argc)
		return bad_option(argv[optind]);
	if (pid < 0 || dev == ULONG_MAX) {
		msg("%s needs --pid PID (or --pid-file) and --dev N", argv[0]);
		usage(stderr);
		return EXIT_USAGE;
	}

	vm_fd = get_vm_fd(pid, &pidfd);
	if (pidfd >= 0)
		close(pidfd);
	if (vm_fd < 0)
		return 1;
	ctl_fd = open_dev_node(node);
	if (ctl_fd < 0) {
		close(vm_fd);
		return 1;
	}
	memset(&ref, 0, sizeof(ref));
	ref.vm_fd = vm_fd;
	ref.dev_id = dev;
	ret = ioctl(ctl_fd, remove ? PVCHAN_IOC_DEL_DEV :
				     PVCHAN_IOC_DEV_CHANGED, &ref);
	err = errno;
	close(ctl_fd);
	close(vm_fd);
	if (ret < 0) {
		if (err == ENOENT)
			msg("the VM of process %ld is not bound (no pvchanctl attach?)",
			    pid);
		else if (err == ENODEV)
			msg("the VM of process %ld has no device %lu", pid, dev);
		else
			msg("%s failed: %s", argv[0], strerror(err));
		return 1;
	}
	info(remove ? "device %lu removed" :
		      "device %lu: new size announced to the guest", dev);
	return 0;
}

/* ---- status -------------------------------------------------------------- */

/* Files shown by status, in this order, in a vm* dir and its subdirs. */
static const char *const status_files[] = {
	"info", "stats", "hypercalls", "rejects",
};

/* Copy an open file to stdout, each line prefixed with @indent. */
static void print_indented(int fd, const char *indent)
{
	char buf[4096];
	int bol = 1;
	ssize_t n, i;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (!bol)
				putchar('\n');
			printf("%s<read error: %s>\n", indent, strerror(errno));
			return;
		}
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			if (bol)
				fputs(indent, stdout);
			putchar(buf[i]);
			bol = buf[i] == '\n';
		}
	}
	if (!bol)
		putchar('\n');
}

/*
 * Print file @name in @dfd if it is a regular file.  With @rel (the path of
 * @dfd relative to the debugfs dir), print "  rel/name:" first and indent the
 * content more.
 */
static void print_status_file(int dfd, const char *name, const char *rel)
{
	struct stat st;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT && errno != ELOOP)
			printf("  %s%s%s: <%s>\n", rel ? rel : "", rel ? "/" : "",
			       name, strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	if (rel) {
		printf("  %s/%s:\n", rel, name);
		print_indented(fd, "    ");
	} else {
		print_indented(fd, "  ");
	}
	close(fd);
}

/* Print the known files of directory @dfd named @rel (relative path). */
static void print_status_dir(int dfd, const char *rel, int skip_info)
{
	size_t i;

	for (i = skip_info ? 1 : 0; i < ARRAY_SIZE(status_files); i++)
		print_status_file(dfd, status_files[i], rel);
}

static int filter_vm(const struct dirent *de)
{
	return !strncmp(de->d_name, "vm", 2);
}

static int filter_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
}

static int is_subdir(int dfd, const char *name)
{
	struct stat st;

	return !fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) &&
	       S_ISDIR(st.st_mode);
}

/* Print the status files of every subdirectory of @dfd (named @rel), depth first. */
static void print_subdirs(int dfd, const char *rel, int depth)
{
	struct dirent **subs;
	char sub_rel[PATH_MAX];
	int n, i, sub_fd;

	n = scandirat(dfd, ".", &subs, filter_dots, versionsort);
	if (n < 0) {
		printf("  %s: <%s>\n", rel, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = subs[i]->d_name;

		if (depth > 0 && is_subdir(dfd, name)) {
			sub_fd = openat(dfd, name, O_RDONLY | O_DIRECTORY |
					O_NOFOLLOW | O_CLOEXEC);
			if (sub_fd >= 0) {
				snprintf(sub_rel, sizeof(sub_rel), "%s/%s", rel,
					 name);
				print_status_dir(sub_fd, sub_rel, 0);
				print_subdirs(sub_fd, sub_rel, depth - 1);
				close(sub_fd);
			}
		}
		free(subs[i]);
	}
	free(subs);
}

/* vm<N>/ holds dev<N>/q<N>/stats: two levels below the VM directory. */
#define STATUS_DEPTH	2

static void print_vm(int top_fd, const char *vm)
{
	int vm_fd;

	vm_fd = openat(top_fd, vm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		       O_CLOEXEC);
	if (vm_fd < 0)
		return;		/* unbound meanwhile */

	printf("%s\n", vm);
	print_status_file(vm_fd, "info", NULL);
	print_status_dir(vm_fd, vm, 1);
	print_subdirs(vm_fd, vm, STATUS_DEPTH);
	close(vm_fd);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "debugfs",	required_argument,	NULL,	'd' },
		{ "help",	no_argument,		NULL,	'h' },
		{ NULL,		0,			NULL,	0 },
	};
	const char *dir = DEFAULT_DEBUGFS;
	struct dirent **vms;
	int top_fd, n, i, shown = 0, opt;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return getopt_error(argv, opt);
		}
	}
	if (optind < argc)
		return bad_option(argv[optind]);

	top_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top_fd < 0) {
		switch (errno) {
		case ENOENT:
			msg("%s not found: is debugfs mounted and pvchan_host loaded?",
			    dir);
			break;
		case EACCES:
		case EPERM:
			msg("permission denied reading %s (need root)", dir);
			break;
		default:
			msg("cannot open %s: %s", dir, strerror(errno));
			break;
		}
		return 1;
	}

	n = scandirat(top_fd, ".", &vms, filter_vm, versionsort);
	if (n < 0) {
		msg("cannot read %s: %s", dir, strerror(errno));
		close(top_fd);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (is_subdir(top_fd, vms[i]->d_name)) {
			print_vm(top_fd, vms[i]->d_name);
			shown++;
		}
		free(vms[i]);
	}
	free(vms);
	close(top_fd);

	if (!shown)
		printf("no VMs bound\n");
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "attach",	cmd_attach },
	{ "add",	cmd_attach },
	{ "resize",	cmd_dev_ref },
	{ "remove",	cmd_dev_ref },
	{ "status",	cmd_status },
};

int main(int argc, char **argv)
{
	size_t i;
	int ret;

	if (argc < 2) {
		msg("missing command");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf(PROG " %d.%d\n", PVCHAN_ABI_MAJOR, PVCHAN_ABI_MINOR);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			/* The subcommand sees its name as argv[0]. */
			ret = commands[i].fn(argc - 1, argv + 1);
			if (fflush(stdout) && !ret)
				ret = 1;
			return ret;
		}
	}
	return bad_option(argv[1]);
}
