// SPDX-License-Identifier: GPL-2.0
/*
 * clock_test - checks for the pvchan clock, run in the guest (static).
 *
 *   clock_test mono N      N CLOCK_MONOTONIC reads on every online CPU at
 *                          once, each checked against the latest any CPU
 *                          saw: prints "reads R backwards B ns_per_read X"
 *   clock_test cost N      N CLOCK_MONOTONIC reads on this CPU alone:
 *                          prints "ns_per_read X syscalls_per_read S"
 *                          (S: system calls per read, -1 if they could
 *                          not be counted)
 *   clock_test ptp DEV     host time from the PTP clock DEV
 *                          (PTP_SYS_OFFSET): prints "offset_ns O" (PTP
 *                          minus CLOCK_REALTIME, best of 5 samples)
 *   clock_test precise DEV host time from DEV by PTP_SYS_OFFSET_PRECISE:
 *                          prints "offset_ns O" (PTP minus realtime, at
 *                          the same TSC value)
 *   clock_test step DEV    set CLOCK_REALTIME from DEV (as phc2sys -O 0
 *                          would; again, up to 5 steps, while the offset
 *                          after it is 100 us or more), then print
 *                          "offset_ns O steps N"
 *
 * Exit status 0 when the measurement could be made (backwards reads are
 * reported, not judged: the caller does).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <linux/ptp_clock.h>

static _Atomic int64_t latest;
static _Atomic uint64_t backwards;
static long nreads;

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void *mono_thread(void *arg)
{
	long cpu = (long)arg, i;
	cpu_set_t set;
	struct timespec t;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (i = 0; i < nreads; i++) {
		int64_t seen = atomic_load(&latest), now;

		clock_gettime(CLOCK_MONOTONIC, &t);
		now = ns(&t);
		/* Read after another CPU published seen: must not be older. */
		if (now < seen)
			atomic_fetch_add(&backwards, 1);
		while (now > seen &&
		       !atomic_compare_exchange_weak(&latest, &seen, now))
			;
	}
	return NULL;
}

static int mono(long n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), c;
	pthread_t th[256];
	struct timespec a, b;

	if (cpus < 1 || cpus > 256)
		return 1;
	nreads = n;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (c = 0; c < cpus; c++)
		if (pthread_create(&th[c], NULL, mono_thread, (void *)c))
			return 1;
	for (c = 0; c < cpus; c++)
		pthread_join(th[c], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("reads %ld backwards %llu ns_per_read %.1f\n", n * cpus,
	       (unsigned long long)atomic_load(&backwards),
	       (double)(ns(&b) - ns(&a)) / n);
	return 0;
}

/*
 * A counter of this thread's system calls (the raw_syscalls:sys_enter
 * tracepoint, by perf), or -1 without tracefs or perf events.
 */
static int syscall_counter(void)
{
	static const char *const ids[] = {
		"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
		"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
		NULL,
	};
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.disabled = 1,
	};
	unsigned long long id;
	unsigned int i;
	FILE *f;

	for (i = 0; ids[i]; i++) {
		f = fopen(ids[i], "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &id) != 1)
			id = 0;
		fclose(f);
		if (!id)
			continue;
		attr.config = id;
		return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	}
	return -1;
}

/*
 * The cost of one read on the current clocksource, on one CPU, and the
 * system calls it makes (0 when the vDSO serves it; -1: not counted).
 */
static int cost(long n)
{
	struct timespec a, b, t;
	long long calls = -1;
	int fd = syscall_counter();
	long i;

	if (fd >= 0)
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		clock_gettime(CLOCK_MONOTONIC, &t);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (fd >= 0) {
		ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(fd, &calls, sizeof(calls)) != sizeof(calls))
			calls = -1;
		close(fd);
	}
	printf("ns_per_read %.1f syscalls_per_read %.3f\n",
	       (double)(ns(&b) - ns(&a)) / n,
	       calls < 0 ? -1.0 : (double)calls / (n + 2));
	return 0;
}

/*
 * PTP minus CLOCK_REALTIME, from the sample with the narrowest window (the
 * most the kernel takes: a vCPU the emulator stops mid-sample widens a
 * window by milliseconds).
 */
static int ptp_offset(const char *dev, int64_t *off)
{
	struct ptp_sys_offset so = { .n_samples = PTP_MAX_SAMPLES };
	int64_t best = INT64_MAX;
	unsigned int i;
	int fd = open(dev, O_RDONLY);

	if (fd < 0 || ioctl(fd, PTP_SYS_OFFSET, &so)) {
		fprintf(stderr, "clock_test: %s: %s\n", dev, strerror(errno));
		return -1;
	}
	close(fd);
	for (i = 0; i < so.n_samples; i++) {
		const struct ptp_clock_time *t1 = &so.ts[2 * i];
		const struct ptp_clock_time *p = &so.ts[2 * i + 1];
		const struct ptp_clock_time *t2 = &so.ts[2 * i + 2];
		int64_t s1 = t1->sec * 1000000000LL + t1->nsec;
		int64_t s2 = t2->sec * 1000000000LL + t2->nsec;
		int64_t ph = p->sec * 1000000000LL + p->nsec;

		if (s2 - s1 < best) {
			best = s2 - s1;
			*off = ph - (s1 + (s2 - s1) / 2);
		}
	}
	return 0;
}

static int precise(const char *dev)
{
	struct ptp_sys_offset_precise p;
	int fd = open(dev, O_RDONLY);

	memset(&p, 0, sizeof(p));
	if (fd < 0 || ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p)) {
		fprintf(stderr, "clock_test: %s: PTP_SYS_OFFSET_PRECISE: %s\n",
			dev, strerror(errno));
		return 1;
	}
	close(fd);
	printf("offset_ns %lld\n",
	       (long long)((p.device.sec - p.sys_realtime.sec) * 1000000000LL +
			   p.device.nsec - p.sys_realtime.nsec));
	return 0;
}

int main(int argc, char **argv)
{
	int64_t off;

	if (argc == 3 && !strcmp(argv[1], "mono"))
		return mono(atol(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "precise"))
		return precise(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "cost"))
		return cost(atol(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "ptp")) {
		if (ptp_offset(argv[2], &off))
			return 1;
		printf("offset_ns %lld\n", (long long)off);
		return 0;
	}
	/*
	 * Step until the offset is under 100 us, at most 5 times, as phc2sys
	 * would keep correcting: a step is a read and a set, and the emulator
	 * may stop the vCPU between them.
	 */
	if (argc == 3 && !strcmp(argv[1], "step")) {
		struct timespec now;
		int i;

		for (i = 1; i <= 5; i++) {
			if (ptp_offset(argv[2], &off))
				return 1;
			clock_gettime(CLOCK_REALTIME, &now);
			off += ns(&now);
			now.tv_sec = off / 1000000000;
			now.tv_nsec = off % 1000000000;
			if (clock_settime(CLOCK_REALTIME, &now)) {
				perror("clock_test: clock_settime");
				return 1;
			}
			if (ptp_offset(argv[2], &off))
				return 1;
			if (llabs((long long)off) < 100000)
				break;
		}
		printf("offset_ns %lld steps %d\n", (long long)off, i > 5 ? 5 : i);
		return 0;
	}
	fprintf(stderr, "usage: clock_test mono N | cost N | ptp DEV | precise DEV | step DEV\n");
	return 2;
}
