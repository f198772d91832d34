// SPDX-License-Identifier: GPL-2.0
/*
 * pvchan_fuzz_test - a hostile guest against the pvchan host module.
 *
 * Binds a VM with several vCPUs to /dev/pvchan with an echo, a block (an
 * image file), a network (a tap, down) and a clock device, and lets every
 * vCPU issue random and mutated hypercalls and ring contents at once:
 * random numbers in and around pvchan's range, arguments from a mix of
 * small integers, boundary values and addresses (in RAM, unaligned, in a
 * read-only slot, in no slot, at the APIC, across a slot's end), rings set
 * up, scribbled over and kicked while other vCPUs reset them, HELLOs that
 * restart the channel under everyone's feet.  The guest never hands the
 * host an address in the memory that holds its own code and page tables,
 * so the only thing that can break is the host.
 *
 * Pass: every vCPU finishes, a clean HELLO and DEV_MAP still work after
 * the storm, the host's per-hypercall counters equal the calls the guests
 * made, and its reject counters equal the errors the guests saw, reason by
 * reason (ring rejections, found by the queue workers, are printed).  A
 * second VM, bound at the same time with a device of its own, is the
 * isolation witness: its memory (at the same guest addresses) and its
 * counters must not change.  The
 * kernel log is judged by the caller (run-l1.sh; the debug tier runs this
 * under KASAN, lockdep and kmemleak).
 *
 *   PVCHAN_FUZZ_CALLS   operations in all (default 200000)
 *   PVCHAN_FUZZ_VCPUS   vCPUs (default 4)
 *   PVCHAN_FUZZ_SEED    PRNG seed (default: time); printed for replay
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
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

#define MAX_VCPUS	8

/* Fuzz memory: slot 1, identity mapped; slot 2 read-only, unmapped. */
#define FUZZ_SLOT	1
#define FUZZ_GPA	0xc0000000ULL
#define FUZZ_PAGES	256
#define FUZZ_SIZE	(FUZZ_PAGES * 4096ULL)
#define FUZZ_END	(FUZZ_GPA + FUZZ_SIZE)
#define RO_SLOT		2
#define RO_GPA		0xd0000000ULL
#define RO_PAGES	16
#define HOLE_GPA	0xe0000000ULL	/* no slot */
#define APIC_GPA	0xfee00000ULL	/* no slot either: MMIO */

/* Inside the fuzz slot: per-vCPU blocks, the rings, then data. */
#define BLOCK_GPA(v)	(FUZZ_GPA + (v) * 0x1000ULL)
#define SEG_GPA(v)	(BLOCK_GPA(v) + 0x800)
#define NR_DEVS		4	/* echo, blk, net, clock */
#define NR_QUEUES	2
#define RING_ENTRIES	16
#define RING_GPA(d, q)	(FUZZ_GPA + 0x10000ULL + ((d) * NR_QUEUES + (q)) * 0x4000ULL)
#define DATA_GPA	(FUZZ_GPA + 0x40000ULL)
#define CLOCK_DEV	3

#define NR_ERRS		(PVCHAN_ERR_LAST - PVCHAN_ENOSYS + 1)

/* Counted by the guest, read by the host after the run. */
static u64 g_calls[MAX_VCPUS][PVCHAN_HC_COUNT + 1];	/* in pvchan's range */
static u64 g_errs[MAX_VCPUS][NR_ERRS];			/* -PVCHAN_E* seen */
static u64 g_other[MAX_VCPUS];		/* numbers outside the range */
static u64 g_ring_ops[MAX_VCPUS];	/* ring entries scribbled */
static u64 g_progress[MAX_VCPUS];	/* operations done, read live */
static u64 g_ops_per_vcpu;
static u64 g_seed;
static u64 g_nr_vcpus;

/* ------------------------------------------------------------------ */
/* Guest. */

static u64 rnd(u64 *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static u64 pick(u64 *s, const u64 *v, unsigned int n)
{
	return v[rnd(s) % n];
}

static const u64 boundary[] = {
	0, 1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 255, 256, 4095, 4096,
	4097, 65535, 65536, 65537, 0x7fffffff, 0x80000000, 0xffffffff,
	0x100000000ULL, ~0ULL, ~0ULL - 1, 1ULL << 63, PVCHAN_EVENT_DEV,
};

/* An integer argument: indices, sizes, vectors, boundaries, noise. */
static u64 gen_int(u64 *s)
{
	switch (rnd(s) % 8) {
	case 0: case 1: case 2:
		return rnd(s) % 9;
	case 3: case 4:
		return pick(s, boundary, ARRAY_SIZE(boundary));
	case 5:
		return 1ULL << (rnd(s) % 64);
	case 6:
		return rnd(s) & 0xffff;
	default:
		return rnd(s);
	}
}

/*
 * A guest physical address for the host to read or write.  Never below
 * FUZZ_GPA in slot 0, where the guest's code, stack and tables live.
 */
static u64 gen_gpa(u64 *s)
{
	static const u64 bad[] = {
		RO_GPA, RO_GPA + 8, RO_GPA + RO_PAGES * 4096ULL - 8, HOLE_GPA,
		APIC_GPA, FUZZ_END - 8, FUZZ_END - 1, FUZZ_END, FUZZ_GPA - 8,
		1ULL << 40, (1ULL << 52) - 4096, ~0ULL & ~4095ULL, ~0ULL - 7,
	};
	u64 off = rnd(s) % FUZZ_SIZE;

	switch (rnd(s) % 10) {
	case 0: case 1: case 2:
		return FUZZ_GPA + (off & ~7ULL);
	case 3: case 4:
		return FUZZ_GPA + (off & ~4095ULL);
	case 5:
		return FUZZ_GPA + off;			/* unaligned */
	case 6: case 7:
		return pick(s, bad, ARRAY_SIZE(bad));
	case 8:
		return DATA_GPA + (rnd(s) % (FUZZ_END - DATA_GPA) & ~511ULL);
	default:
		return rnd(s) | (1ULL << 41);		/* far above RAM */
	}
}

static u64 gen_len(u64 *s)
{
	static const u64 lens[] = {
		0, 1, 8, 16, 32, 64, 511, 512, 4096, 4097, 65536, 65537,
		69632, 69633, 1 << 20, 0xffffffff,
	};

	return rnd(s) % 3 ? pick(s, lens, ARRAY_SIZE(lens)) : rnd(s) % 70000;
}

static u64 gen_nr(u64 *s)
{
	switch (rnd(s) % 10) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		return PVCHAN_HC_BASE + rnd(s) % (PVCHAN_HC_COUNT + 2);
	case 7:
		return PVCHAN_HC_BASE + rnd(s) % (PVCHAN_HC_LAST -
						   PVCHAN_HC_BASE + 1);
	case 8:
		/* Just outside the range: KVM's, which answers -KVM_ENOSYS. */
		return rnd(s) % 2 ? PVCHAN_HC_BASE - 1 - rnd(s) % 16 :
				    PVCHAN_HC_LAST + 1 + rnd(s) % 16;
	default:
		/* pvchan's numbers with high bits set: not pvchan's. */
		return PVCHAN_HC_BASE + rnd(s) % PVCHAN_HC_COUNT +
		       ((rnd(s) | 1) << 32);
	}
}

static u64 guest_hc(unsigned int v, u64 nr, u64 a0, u64 a1, u64 a2, u64 a3)
{
	u64 ret = kvm_hypercall(nr, a0, a1, a2, a3);
	s64 r = (s64)ret;

	if (nr < PVCHAN_HC_BASE || nr > PVCHAN_HC_LAST) {
		g_other[v]++;
		return ret;
	}
	if (nr - PVCHAN_HC_BASE < PVCHAN_HC_COUNT)
		g_calls[v][nr - PVCHAN_HC_BASE]++;
	else
		g_calls[v][PVCHAN_HC_COUNT]++;
	if (r < 0 && -r >= PVCHAN_ENOSYS && -r <= PVCHAN_ERR_LAST)
		g_errs[v][-r - PVCHAN_ENOSYS]++;
	return ret;
}

static void op_hello(unsigned int v, u64 *s)
{
	struct pvchan_hello *h = (void *)BLOCK_GPA(v);

	memset(h, 0, sizeof(*h));
	h->guest_major = rnd(s) % 16 ? PVCHAN_ABI_MAJOR : rnd(s);
	h->guest_minor = rnd(s);
	h->guest_features = rnd(s) % 2 ? PVCHAN_F_KNOWN_MASK : rnd(s);
	guest_hc(v, PVCHAN_HC_HELLO, BLOCK_GPA(v),
		 rnd(s) % 8 ? sizeof(*h) : gen_len(s), 0, 0);
}

/* Any pvchan hypercall, addresses where the host reads or writes. */
static void op_random_hc(unsigned int v, u64 *s)
{
	u64 nr = gen_nr(s), a[4];
	unsigned int i;

	for (i = 0; i < 4; i++)
		a[i] = gen_int(s);
	switch (nr) {
	case PVCHAN_HC_HELLO:
		/* Mostly a well-formed block: a channel that stays up. */
		if (rnd(s) % 4) {
			op_hello(v, s);
			return;
		}
		a[0] = gen_gpa(s);
		a[1] = gen_len(s);
		break;
	case PVCHAN_HC_DEV_INFO:
	case PVCHAN_HC_DEV_CONFIG:
	case PVCHAN_HC_CLOCK_PAIR:
	case PVCHAN_HC_CLOCK_RECORD:
		/* 0 unregisters a record; page 0 holds nothing of the guest. */
		a[1] = rnd(s) % 8 ? gen_gpa(s) : 0;
		a[2] = gen_len(s);
		break;
	case PVCHAN_HC_QUEUE_SETUP:
		a[2] = gen_gpa(s);
		a[3] = rnd(s) % 2 ? 1ULL << (rnd(s) % 14) : gen_int(s);
		break;
	default:
		/* Unknown numbers: the arguments mean nothing to the host. */
		break;
	}
	guest_hc(v, nr, a[0], a[1], a[2], a[3]);
}

/*
 * A submission entry for device @d.  The echo device writes its result at
 * args[0]: an address from gen_gpa() there, never slot 0.
 */
static void gen_sqe(unsigned int v, u64 *s, unsigned int d,
		    struct pvchan_sqe *sqe)
{
	struct pvchan_seg *seg = (void *)SEG_GPA(v);
	unsigned int i, n;

	sqe->req_id = rnd(s);
	sqe->opcode = rnd(s) % 8;
	sqe->flags = rnd(s) % 8 ? rnd(s) % 4 : rnd(s);
	sqe->len = gen_len(s);
	sqe->addr = gen_gpa(s);
	for (i = 0; i < 5; i++)
		sqe->args[i] = rnd(s) % 2 ? gen_int(s) : gen_gpa(s);
	if (d == 0)
		sqe->args[0] = gen_gpa(s);
	if (sqe->flags & PVCHAN_SQE_F_INDIRECT && rnd(s) % 2) {
		/* A segment table of this vCPU's own, often plausible. */
		n = rnd(s) % 130;
		for (i = 0; i < n && i < 128; i++) {
			seg[i].addr = rnd(s) % 4 ? DATA_GPA + (rnd(s) % 0x80000 &
							       ~511ULL) :
						   gen_gpa(s);
			seg[i].len = rnd(s) % 4 ? 512 * (1 + rnd(s) % 8) :
						  gen_len(s);
			seg[i].flags = rnd(s) % 8 ? 0 : rnd(s);
		}
		sqe->addr = SEG_GPA(v);
		sqe->len = rnd(s) % 4 ? n * sizeof(*seg) : gen_len(s);
	}
}

/* Scribble on a ring that may be live, then (usually) kick it. */
static void op_ring(unsigned int v, u64 *s)
{
	unsigned int d = rnd(s) % NR_DEVS, q = rnd(s) % NR_QUEUES, i, n;
	struct pvchan_ring_hdr *h = (void *)RING_GPA(d, q);
	struct pvchan_sqe *sq = (void *)(RING_GPA(d, q) + PVCHAN_RING_SQ_OFF);
	u32 prod = READ_ONCE(h->sq_prod);

	n = 1 + rnd(s) % 4;
	for (i = 0; i < n; i++) {
		gen_sqe(v, s, d, &sq[(prod + i) % RING_ENTRIES]);
		g_ring_ops[v]++;
	}
	switch (rnd(s) % 32) {
	case 0:
		WRITE_ONCE(h->sq_prod, (u32)rnd(s));		/* wild */
		break;
	case 1:
		WRITE_ONCE(h->cq_cons, (u32)rnd(s));
		break;
	case 2: case 3:
		WRITE_ONCE(h->cq_event, (u32)rnd(s));
		WRITE_ONCE(h->sq_prod, prod + n);
		break;
	default:
		WRITE_ONCE(h->cq_cons, READ_ONCE(h->cq_prod));
		WRITE_ONCE(h->sq_prod, prod + n);
		break;
	}
	if (rnd(s) % 8)
		guest_hc(v, PVCHAN_HC_KICK, d, q, 0, 0);
}

/* Keep rings coming and going: set up where op_ring writes, or reset. */
static void op_queue(unsigned int v, u64 *s)
{
	unsigned int d = rnd(s) % NR_DEVS, q = rnd(s) % NR_QUEUES;
	struct pvchan_ring_hdr *h = (void *)RING_GPA(d, q);

	if (rnd(s) % 3) {
		/* As a driver would, usually: indices from zero. */
		if (rnd(s) % 8)
			memset(h, 0, sizeof(*h));
		guest_hc(v, PVCHAN_HC_QUEUE_SETUP, d, q, RING_GPA(d, q),
			 RING_ENTRIES);
	} else {
		guest_hc(v, PVCHAN_HC_QUEUE_RESET, d, q, 0, 0);
	}
}

static void op_misc(unsigned int v, u64 *s)
{
	u64 dev = rnd(s) % (NR_DEVS + 1);

	switch (rnd(s) % 6) {
	case 0:
		guest_hc(v, PVCHAN_HC_IRQ_ROUTE, dev, rnd(s) % 3,
			 32 + rnd(s) % 224, rnd(s) % (g_nr_vcpus + 1));
		break;
	case 1:
		guest_hc(v, PVCHAN_HC_IRQ_ROUTE, PVCHAN_EVENT_DEV, 0,
			 rnd(s) % 4 ? 32 + rnd(s) % 224 : 0,
			 rnd(s) % (g_nr_vcpus + 1));
		break;
	case 2:
		guest_hc(v, PVCHAN_HC_CLOCK_RECORD, rnd(s) % 2 ? CLOCK_DEV : dev,
			 rnd(s) % 4 ? BLOCK_GPA(v) + 0x400 : 0, 64, 0);
		break;
	case 3:
		guest_hc(v, PVCHAN_HC_CLOCK_PAIR, CLOCK_DEV, BLOCK_GPA(v) + 0x480,
			 32, 0);
		break;
	case 4:
		guest_hc(v, PVCHAN_HC_DEV_INFO, dev, BLOCK_GPA(v) + 0x100, 64, 0);
		break;
	default:
		guest_hc(v, PVCHAN_HC_DEV_CONFIG, dev, BLOCK_GPA(v) + 0x200,
			 64 + rnd(s) % 32, 0);
		break;
	}
}

static __attribute__((used, noipa)) void guest_main(u64 v)
{
	u64 s = g_seed * 0x9e3779b97f4a7c15ULL + v + 1, i, ret, map;
	struct pvchan_hello *h = (void *)BLOCK_GPA(v);

	x2apic_enable();
	for (i = 0; i < g_ops_per_vcpu; i++) {
		u64 k = rnd(&s) % 128;

		if (k < 50)
			op_random_hc(v, &s);
		else if (k < 90)
			op_ring(v, &s);
		else if (k < 105)
			op_queue(v, &s);
		else if (k < 126)
			op_misc(v, &s);
		else
			op_hello(v, &s);
		WRITE_ONCE(g_progress[v], i + 1);
	}
	GUEST_SYNC_ARGS(0, v, 0, 0, 0);
	/* The storm is over (the host waits for every vCPU): still served? */
	if (!v) {
		memset(h, 0, sizeof(*h));
		h->guest_major = PVCHAN_ABI_MAJOR;
		h->guest_minor = PVCHAN_ABI_MINOR;
		ret = guest_hc(v, PVCHAN_HC_HELLO, BLOCK_GPA(v), sizeof(*h), 0, 0);
		map = guest_hc(v, PVCHAN_HC_DEV_MAP, 0, 0, 0, 0);
		GUEST_SYNC_ARGS(1, v, ret, map, h->num_devices);
	}
	GUEST_DONE();
}

/* ------------------------------------------------------------------ */
/* Host. */

struct vcpu_run_ctx {
	struct kvm_vcpu *vcpu;
	unsigned int index;
	bool done;		/* GUEST_DONE reached */
	bool storm_done;	/* the random phase finished */
	bool finished;		/* the thread is done with the vCPU */
	bool stuck;		/* the watchdog kicked it out of KVM_RUN */
	u64 hello_ret, map, num_devices;
	char why[256];
};

/* vCPUs still in the storm; vCPU 0's last phase starts at 0. */
static pthread_mutex_t storm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t storm_cond = PTHREAD_COND_INITIALIZER;
static unsigned int storm_left;

/* Once per vCPU, whether it finished the storm or died in it. */
static void storm_end(struct vcpu_run_ctx *r)
{
	if (r->storm_done)
		return;
	r->storm_done = true;
	pthread_mutex_lock(&storm_lock);
	if (!--storm_left)
		pthread_cond_broadcast(&storm_cond);
	while (storm_left)
		pthread_cond_wait(&storm_cond, &storm_lock);
	pthread_mutex_unlock(&storm_lock);
}

/* Where a vCPU stopped (or is stuck): enough to find it in the binary. */
static void vcpu_why(struct vcpu_run_ctx *r, const char *what)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	vcpu_regs_get(r->vcpu, &regs);
	vcpu_sregs_get(r->vcpu, &sregs);
	snprintf(r->why, sizeof(r->why),
		 "%s: rip %#llx rsp %#llx rflags %#llx cr0 %#llx cr2 %#llx cr3 %#llx",
		 what, regs.rip, regs.rsp, regs.rflags, sregs.cr0, sregs.cr2,
		 sregs.cr3);
}

static void vcpu_thread_kick(int sig)
{
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_run_ctx *r = arg;
	struct ucall uc;

	for (;;) {
		int rc = __vcpu_run(r->vcpu);

		if (rc && errno == EINTR && !READ_ONCE(r->stuck))
			continue;
		TEST_ASSERT(!rc || errno == EINTR, "KVM_RUN: %s",
			    strerror(errno));
		if (rc || r->vcpu->run->exit_reason != KVM_EXIT_IO) {
			vcpu_why(r, rc ? "no progress for a minute" :
				 exit_reason_str(r->vcpu->run->exit_reason));
			break;
		}
		switch (get_ucall(r->vcpu, &uc)) {
		case UCALL_SYNC:
			if (uc.args[1] == 0) {
				if (r->storm_done) {
					snprintf(r->why, sizeof(r->why),
						 "storm ended twice");
					break;
				}
				storm_end(r);
			} else {
				r->hello_ret = uc.args[3];
				r->map = uc.args[4];
				r->num_devices = uc.args[5];
			}
			continue;
		case UCALL_DONE:
			r->done = true;
			break;
		case UCALL_ABORT:
			snprintf(r->why, sizeof(r->why), "guest assert: %s at %s:%ld",
				 (const char *)uc.args[GUEST_ERROR_STRING],
				 (const char *)uc.args[GUEST_FILE],
				 uc.args[GUEST_LINE]);
			break;
		case UCALL_UNHANDLED:
			snprintf(r->why, sizeof(r->why), "guest exception %lu",
				 uc.args[0]);
			break;
		default:
			snprintf(r->why, sizeof(r->why), "unknown ucall %lu",
				 uc.cmd);
			break;
		}
		break;
	}
	/* Said now: a guest stuck for good leaves no other trace. */
	if (r->why[0])
		ksft_print_msg("vCPU %u stopped: %s\n", r->index, r->why);
	/* A vCPU that died must not leave the others waiting. */
	storm_end(r);
	WRITE_ONCE(r->finished, true);
	return NULL;
}

static u64 env_u64(const char *name, u64 def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* Every "name value" line of a pvchan debugfs file of VM @id. */
static int dbg_values(u32 id, const char *file, const char * const *names,
		      unsigned int n, s64 *vals)
{
	char path[128], key[64], val[32];
	unsigned int i;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/pvchan/vm%u/%s", id,
		 file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	for (i = 0; i < n; i++)
		vals[i] = -1;
	while (fscanf(f, "%63s %31s", key, val) == 2)
		for (i = 0; i < n; i++)
			if (!strcmp(key, names[i]))
				vals[i] = strtoll(val, NULL, 0);
	fclose(f);
	return 0;
}

/* Which error code a reject reason returns (-1: none, worker only). */
static int reject_err(unsigned int why)
{
	if (why == REJ_RING_INDEX || why == REJ_RING_DESC)
		return -1;
	if (why == REJ_NOCLOCK)
		return PVCHAN_ENOCLOCK - PVCHAN_ENOSYS;
	return why;
}

static int open_tap(const char *name)
{
	int hdr = sizeof(struct pvchan_net_hdr);
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR);

	TEST_ASSERT(fd >= 0, "open /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	TEST_ASSERT(!ioctl(fd, TUNSETIFF, &ifr), "TUNSETIFF %s: %s", name,
		    strerror(errno));
	TEST_ASSERT(!ioctl(fd, TUNSETVNETHDRSZ, &hdr), "TUNSETVNETHDRSZ");
	return fd;
}

/*
 * Until every vCPU thread is done: a vCPU whose guest made no progress for
 * a minute is kicked out of KVM_RUN (SIGUSR1) and reported where it is.
 */
static void watch_vcpus(struct kvm_vm *vm, struct vcpu_run_ctx *run,
			pthread_t *th, unsigned int n)
{
	u64 *progress = addr_gva2hva(vm, (vm_vaddr_t)g_progress);
	u64 last[MAX_VCPUS] = {};
	unsigned int i, idle[MAX_VCPUS] = {}, busy;

	do {
		sleep(1);
		busy = 0;
		for (i = 0; i < n; i++) {
			if (READ_ONCE(run[i].finished))
				continue;
			busy++;
			if (READ_ONCE(progress[i]) != last[i] ||
			    READ_ONCE(run[i].storm_done)) {
				last[i] = READ_ONCE(progress[i]);
				idle[i] = 0;
			} else if (++idle[i] == 60) {
				WRITE_ONCE(run[i].stuck, true);
				pthread_kill(th[i], SIGUSR1);
			}
		}
	} while (busy);
}

static u32 add_dev(int pvfd, u32 type, u32 queues, int backend)
{
	struct pvchan_ctl_dev d = {
		.type = type, .num_queues = queues, .backend_fd = backend,
	};

	TEST_ASSERT(!ioctl(pvfd, PVCHAN_IOC_ADD_DEV, &d),
		    "ADD_DEV type %u: %s", type, strerror(errno));
	return d.dev_id;
}

int main(void)
{
	u64 ops = env_u64("PVCHAN_FUZZ_CALLS", 200000);
	u64 nvcpus = env_u64("PVCHAN_FUZZ_VCPUS", 4);
	u64 seed = env_u64("PVCHAN_FUZZ_SEED", time(NULL));
	struct vcpu_run_ctx run[MAX_VCPUS] = {};
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	s64 host_hc[PVCHAN_HC_COUNT + 1], host_rej[ARRAY_SIZE(reject_names)];
	u64 calls[PVCHAN_HC_COUNT + 1] = {}, errs[NR_ERRS] = {};
	u64 other = 0, ring_ops = 0, total = 0, rejected = 0;
	pthread_t th[MAX_VCPUS];
	struct pvchan_ctl_bind b = {}, wb = {};
	s64 w_hc[PVCHAN_HC_COUNT + 1], w_rej[ARRAY_SIZE(reject_names)];
	struct kvm_vm *witness;
	struct kvm_vcpu *wvcpu;
	u64 w_sum = 0;
	u8 *wmem;
	int wfd;
	char img[] = "/tmp/pvchan-fuzz-XXXXXX";
	bool ok, all_done = true;
	struct kvm_vm *vm;
	struct timespec t0, t1;
	int pvfd, imgfd, tapfd;
	unsigned int i, j;
	double secs;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ksft_print_header();
	if (access("/dev/kvm", R_OK | W_OK))
		ksft_exit_skip("/dev/kvm not available\n");
	pvfd = open("/dev/pvchan", O_RDWR);
	if (pvfd < 0)
		ksft_exit_skip("/dev/pvchan: %s (pvchan_host not loaded?)\n",
			       strerror(errno));
	if (access("/sys/kernel/debug/pvchan", R_OK))
		ksft_exit_skip("/sys/kernel/debug/pvchan not readable\n");
	if (nvcpus < 1 || nvcpus > MAX_VCPUS)
		ksft_exit_fail_msg("PVCHAN_FUZZ_VCPUS: 1..%d\n", MAX_VCPUS);
	ksft_set_plan(6);
	signal(SIGALRM, pvchan_st_alarm);
	signal(SIGUSR1, vcpu_thread_kick);
	alarm(3000);

	vm = vm_create_with_vcpus(nvcpus, guest_code, vcpus);
	vm_init_descriptor_tables(vm);
	for (i = 0; i < nvcpus; i++) {
		vcpu_init_descriptor_tables(vcpus[i]);
		vcpu_args_set(vcpus[i], 1, (u64)i);
	}
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, FUZZ_GPA,
				    FUZZ_SLOT, FUZZ_PAGES, 0);
	virt_map(vm, FUZZ_GPA, FUZZ_GPA, FUZZ_PAGES);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, RO_GPA, RO_SLOT,
				    RO_PAGES, KVM_MEM_READONLY);
	g_ops_per_vcpu = (ops + nvcpus - 1) / nvcpus;
	g_seed = seed;
	g_nr_vcpus = nvcpus;
	sync_global_to_guest(vm, g_ops_per_vcpu);
	sync_global_to_guest(vm, g_seed);
	sync_global_to_guest(vm, g_nr_vcpus);

	/* The witness: same addresses, its own device, never run. */
	witness = vm_create_with_one_vcpu(&wvcpu, guest_code);
	vm_userspace_mem_region_add(witness, VM_MEM_SRC_ANONYMOUS, FUZZ_GPA,
				    FUZZ_SLOT, FUZZ_PAGES, 0);
	wmem = addr_gpa2hva(witness, FUZZ_GPA);
	for (i = 0; i < FUZZ_SIZE; i++)
		wmem[i] = i * 7 + 3;
	wfd = open("/dev/pvchan", O_RDWR);
	wb.vm_fd = witness->fd;
	TEST_ASSERT(wfd >= 0 && !ioctl(wfd, PVCHAN_IOC_BIND, &wb),
		    "BIND the witness: %s", strerror(errno));
	add_dev(wfd, PVCHAN_DEV_ECHO, NR_QUEUES, -1);

	/* The devices: indices 0..3 in this order. */
	b.vm_fd = vm->fd;
	TEST_ASSERT(!ioctl(pvfd, PVCHAN_IOC_BIND, &b), "BIND: %s",
		    strerror(errno));
	imgfd = mkstemp(img);
	TEST_ASSERT(imgfd >= 0 && !ftruncate(imgfd, 1 << 20), "image file");
	tapfd = open_tap("pvfuzz0");
	add_dev(pvfd, PVCHAN_DEV_ECHO, NR_QUEUES, -1);
	add_dev(pvfd, PVCHAN_DEV_BLK, NR_QUEUES, imgfd);
	add_dev(pvfd, PVCHAN_DEV_NET, NR_QUEUES, tapfd);
	add_dev(pvfd, PVCHAN_DEV_CLOCK, 1, -1);
	ksft_test_result_pass("vm%u: echo, block, network (tap down), clock; %lu vCPUs, seed %lu\n",
			      b.vm_id, nvcpus, seed);

	storm_left = nvcpus;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nvcpus; i++) {
		run[i].vcpu = vcpus[i];
		run[i].index = i;
		pthread_create(&th[i], NULL, vcpu_thread, &run[i]);
	}
	watch_vcpus(vm, run, th, nvcpus);
	for (i = 0; i < nvcpus; i++) {
		pthread_join(th[i], NULL);
		if (!run[i].done)
			all_done = false;	/* reported by its thread */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	sync_global_from_guest(vm, g_calls);
	sync_global_from_guest(vm, g_errs);
	sync_global_from_guest(vm, g_other);
	sync_global_from_guest(vm, g_ring_ops);
	for (i = 0; i < nvcpus; i++) {
		for (j = 0; j <= PVCHAN_HC_COUNT; j++)
			calls[j] += g_calls[i][j];
		for (j = 0; j < NR_ERRS; j++)
			errs[j] += g_errs[i][j];
		other += g_other[i];
		ring_ops += g_ring_ops[i];
	}
	for (j = 0; j <= PVCHAN_HC_COUNT; j++)
		total += calls[j];
	for (j = 0; j < NR_ERRS; j++)
		rejected += errs[j];
	ksft_print_msg("%lu pvchan hypercalls (%lu refused), %lu to KVM's, in %.1f s\n",
		       total, rejected, other, secs);
	for (j = 0; j <= PVCHAN_HC_COUNT; j++)
		ksft_print_msg("  calls %-13s %lu\n", hc_names[j], calls[j]);
	ksft_test_result(all_done,
			 "%lu vCPUs made %lu hypercalls and scribbled %lu ring entries, every vCPU finished\n",
			 nvcpus, total + other, ring_ops);
	ksft_test_result(run[0].hello_ret == 0 &&
			 run[0].map == (1 << NR_DEVS) - 1 &&
			 run[0].num_devices == NR_DEVS,
			 "after the storm: HELLO %ld, DEV_MAP %#lx, %lu devices\n",
			 (long)run[0].hello_ret, run[0].map, run[0].num_devices);

	TEST_ASSERT(!dbg_values(b.vm_id, "hypercalls", hc_names,
				PVCHAN_HC_COUNT + 1, host_hc) &&
		    !dbg_values(b.vm_id, "rejects", reject_names,
				ARRAY_SIZE(reject_names), host_rej),
		    "debugfs of vm%u", b.vm_id);
	ok = true;
	for (j = 0; j <= PVCHAN_HC_COUNT; j++)
		if (host_hc[j] != (s64)calls[j]) {
			ksft_print_msg("  host counted %ld %s calls, guests made %lu\n",
				       host_hc[j], hc_names[j], calls[j]);
			ok = false;
		}
	ksft_test_result(ok, "host hypercall counters equal the calls made, number by number\n");
	ok = true;
	for (j = 0; j < ARRAY_SIZE(reject_names); j++) {
		int e = reject_err(j);
		s64 seen = e < 0 ? 0 : (s64)errs[e];

		ksft_print_msg("  rejects %-10s host %ld, guests saw %ld\n",
			       reject_names[j], host_rej[j], seen);
		/* Queue workers add their own faults (bad segments). */
		if (e >= 0 && (j == REJ_FAULT ? host_rej[j] < seen :
						 host_rej[j] != seen))
			ok = false;
	}
	ksft_test_result(ok, "host rejects match errors seen (+%ld ring_index, %ld ring_desc)\n",
			 host_rej[REJ_RING_INDEX], host_rej[REJ_RING_DESC]);

	TEST_ASSERT(!dbg_values(wb.vm_id, "hypercalls", hc_names,
				PVCHAN_HC_COUNT + 1, w_hc) &&
		    !dbg_values(wb.vm_id, "rejects", reject_names,
				ARRAY_SIZE(reject_names), w_rej),
		    "debugfs of vm%u", wb.vm_id);
	ok = true;
	for (i = 0; i < FUZZ_SIZE; i++)
		ok &= wmem[i] == (u8)(i * 7 + 3);
	for (j = 0; j <= PVCHAN_HC_COUNT; j++)
		w_sum += w_hc[j];
	for (j = 0; j < ARRAY_SIZE(reject_names); j++)
		w_sum += w_rej[j];
	ksft_test_result(ok && !w_sum,
			 "isolation: vm%u, bound all along, untouched (memory %s, %lu hypercalls and rejects counted)\n",
			 wb.vm_id, ok ? "intact" : "CHANGED", w_sum);

	close(wfd);
	kvm_vm_free(witness);
	close(pvfd);
	kvm_vm_free(vm);
	close(tapfd);
	close(imgfd);
	unlink(img);
	ksft_finished();
	return 0;
}
