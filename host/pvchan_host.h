/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvchan host module: private definitions shared by its files.
 *
 * Object lifetime, in short (Documentation/locking.rst has the full rules):
 *  - a struct pvchan_vm is owned by the /dev/pvchan file that bound it and
 *    holds a KVM reference (kvm_get_kvm) until it is unbound;
 *  - hypercall handlers find it through pvchan_vm_lookup() inside a
 *    pvchan_srcu read section; unbinding unlinks it and waits for that SRCU
 *    before anything is torn down;
 *  - devices and queues are added to a VM and live until the VM is
 *    unbound or the device is hot-removed (pvchan_dev_remove(): unlinked
 *    under pvchan_vm.lock, freed after a pvchan_srcu grace period).
 */
#ifndef _PVCHAN_HOST_H
#define _PVCHAN_HOST_H

#include <linux/atomic.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "pvchan_abi.h"
#include "pvchan_ctl.h"
#include "pvchan_hist.h"

struct kvm;
struct dentry;
struct pvchan_vm;
struct pvchan_dev;

/* Why a guest request was refused; counted per VM, shown in debugfs. */
enum pvchan_reject {
	PVCHAN_REJ_NOSYS,
	PVCHAN_REJ_NOTREADY,
	PVCHAN_REJ_VERSION,
	PVCHAN_REJ_INVAL,
	PVCHAN_REJ_NODEV,
	PVCHAN_REJ_NOQUEUE,
	PVCHAN_REJ_FAULT,
	PVCHAN_REJ_ALIGN,
	PVCHAN_REJ_BUSY,
	PVCHAN_REJ_NOMEM,
	PVCHAN_REJ_RING_INDEX,	/* sq_prod/cq_cons beyond the ring */
	PVCHAN_REJ_RING_DESC,	/* malformed submission entry */
	PVCHAN_REJ_NOCLOCK,	/* CLOCK_PAIR without a TSC-based host clock */
	PVCHAN_REJ_NR
};

#define PVCHAN_STATS_OPS	8	/* requests counted by opcode below this */

/* Per-queue counters; lock free, read by debugfs. */
struct pvchan_queue_stats {
	atomic64_t kicks;
	atomic64_t requests;
	atomic64_t batches;	/* worker runs that took requests */
	atomic64_t ops[PVCHAN_STATS_OPS];
	atomic64_t completions;
	atomic64_t errors;
	atomic64_t bytes;
	atomic64_t irqs;
	atomic64_t irq_suppressed;
	atomic64_t kick_suppressed;	/* batches with the kick requested off */
	atomic64_t cq_full;
	atomic64_t backend_waits;	/* batches stopped by &pvchan_dev_ops.ready */
	atomic64_t poll_hits;	/* polls that found a submission: no kick */
	atomic64_t poll_misses;	/* polls that timed out: kick re-armed */
	atomic64_t fault_dropped;
	atomic64_t fault_io_errors;
	atomic64_t fault_corrupted;
	atomic64_t fault_dups;
	atomic64_t fault_irqs_dropped;
	atomic64_t fault_kicks_dropped;
	atomic64_t max_depth;
	atomic64_t depth;
	struct pvchan_hist latency;	/* pickup to completion posted */
	struct pvchan_hist stage_backend;	/* pickup to backend done */
	struct pvchan_hist stage_post;	/* backend done to posted */
};

/**
 * struct pvchan_queue - one guest ring and its host processing state.
 * @dev: owning device.
 * @index: queue number within the device.
 * @lock: serialises ring processing against setup and reset; taken by the
 *	queue worker for one batch, and by QUEUE_SETUP/QUEUE_RESET/HELLO.
 * @active: ring set up and being served (written under @lock, read without).
 * @broken: the guest corrupted the ring; serving stops until reset.
 * @resetting: a reset of the active ring waits for its I/O with @lock
 *	dropped; QUEUE_SETUP is refused (busy) and other resets wait on
 *	@idle until it has freed the queue's state.  Under @lock.
 * @ring_gpa: guest physical address of the ring.
 * @size: ring entries (power of two).
 * @sq_cons: next submission entry the host will consume.
 * @cq_prod: next completion slot the host will fill.
 * @irq_route: 0, or PVCHAN_ROUTE_VALID | apic_id << 8 | vector.
 * @last_cqe: the completion posted last (fault_dup_completions posts it
 *	again); under @lock.
 * @inflight: requests consumed from the ring and not completed on it yet
 *	(backend I/O in progress, or completed and not posted); under @lock.
 *	Consumption stops while it could overflow the completion ring.
 * @poll_ns: how long the worker polls an empty ring before it asks for a
 *	kick, adapted to the guest's pace (0 to poll_max_us); under @lock.
 * @idle_since: when the worker last asked for a kick, 0 once a batch ran
 *	after it; under @lock.
 * @done_lock: protects @done and @aio; taken in any context.
 * @done: asynchronous requests completed by the backend, to be posted by
 *	the worker.
 * @aio: asynchronous requests the backend has not completed yet.
 * @idle: woken when @aio drops to 0 and when @resetting ends (queue resets
 *	wait for both).
 * @work: the queue worker's work, run on @worker (pvchan_queue_wake()).
 * @worker: the device's worker thread that serves this queue.
 * @priv: device-type state for the queue.
 * @stats: counters.
 * @dbg: debugfs directory.
 */
struct pvchan_queue {
	struct pvchan_dev *dev;
	u16 index;
	struct mutex lock;	/* see @lock above */
	bool active;
	bool broken;
	bool resetting;
	u64 ring_gpa;
	u32 size;
	u32 sq_cons;
	u32 cq_prod;
	u64 irq_route;
	struct pvchan_cqe last_cqe;
	u32 inflight;
	u32 poll_ns;
	u64 idle_since;
	spinlock_t done_lock;	/* see @done_lock above */
	struct list_head done;
	u32 aio;
	wait_queue_head_t idle;
	struct kthread_work work;
	struct kthread_worker *worker;
	void *priv;
	struct pvchan_queue_stats stats;
	struct dentry *dbg;
};

#define PVCHAN_ROUTE_VALID	BIT_ULL(63)

/*
 * @handle's return value when the backend completes the request later, with
 * pvchan_queue_complete().
 */
#define PVCHAN_ASYNC		(-2)

/**
 * struct pvchan_req - a request a backend completes asynchronously.
 * @node: on the queue's done list.
 * @cqe: the completion to post; req_id is set by pvchan_req_start().
 * @start_ns: when the queue worker picked the request up.
 * @done_ns: when the backend completed it.
 * @release: frees the request (unpins its pages); called by the queue worker
 *	or reset, in process context, before or instead of posting @cqe.
 */
struct pvchan_req {
	struct list_head node;
	struct pvchan_cqe cqe;
	u64 start_ns;
	u64 done_ns;
	void (*release)(struct pvchan_req *req);
};

/**
 * struct pvchan_dev_ops - a device type's backend.
 * @type: PVCHAN_DEV_*.
 * @name: for logs and debugfs.
 * @op_names: debugfs names of the opcodes below PVCHAN_STATS_OPS (NULL
 *	entries are not shown).
 * @create: set up @dev from the user's request and backend file (may be
 *	NULL: no backend); fills @dev->features, @dev->max_segs and
 *	@dev->config_len.  Returns 0 or a negative errno for the user.
 * @destroy: undo @create, after every queue was reset (may be NULL).
 * @get_config: write the device's current config (config_len bytes).
 * @debugfs: add device-type files to @dev->dbg (may be NULL).
 * @reset: may be NULL; the guest started over (HELLO): forget what it
 *	registered besides queues.  Called with the VM's lock held.
 * @queue_init: allocate per-queue state (may be NULL).
 * @queue_free: free it (may be NULL).
 * @ready: may be NULL; false if the backend cannot serve the next request
 *	yet (a receive buffer waiting for a frame): the worker leaves it on
 *	the ring and the backend queues the queue's work when it can.  When
 *	true, @handle is called next, in the same worker run, for that entry.
 * @handle: serve one request; fills @cqe (req_id is set by the caller).
 *	Runs in the queue worker with the VMM's mm in use; may sleep.
 *	Returns a PVCHAN_REJ_* value if the entry was malformed, -1 when
 *	@cqe is complete, or PVCHAN_ASYNC after pvchan_req_start(): the
 *	backend then calls pvchan_queue_complete() once, from any context.
 */
struct pvchan_dev_ops {
	u32 type;
	const char *name;
	const char *op_names[PVCHAN_STATS_OPS];
	int (*create)(struct pvchan_dev *dev, const struct pvchan_ctl_dev *cfg,
		      struct file *backend);
	void (*destroy)(struct pvchan_dev *dev);
	void (*get_config)(struct pvchan_dev *dev, void *buf);
	void (*debugfs)(struct pvchan_dev *dev);
	void (*reset)(struct pvchan_dev *dev);
	int (*queue_init)(struct pvchan_queue *q);
	void (*queue_free)(struct pvchan_queue *q);
	bool (*ready)(struct pvchan_queue *q);
	int (*handle)(struct pvchan_queue *q, const struct pvchan_sqe *sqe,
		      struct pvchan_cqe *cqe);
};

/**
 * struct pvchan_dev - a device offered to one VM.
 * @vm: owner.
 * @ops: backend.
 * @index: device index seen by the guest.
 * @num_queues: number of queues.
 * @max_queue_size: largest ring the guest may set up.
 * @fault_drop: fault injection (debugfs fault_drop_completions, off by
 *	default): the next this many requests are consumed and never
 *	completed, as if the backend lost them.
 * @fault_delay_us: fault injection (debugfs fault_delay_us, 0 by default):
 *	the queue worker waits this long (at most a second) before serving
 *	each request, as a slow backend would.
 * @fault_io_error: fault injection (debugfs fault_io_errors): the next
 *	this many requests complete with PVCHAN_ST_IOERR, the backend not
 *	called, as after a backend I/O error.
 * @fault_corrupt: fault injection (debugfs fault_corrupt_descriptors): the
 *	next this many requests are read with their opcode garbled, as if
 *	the descriptor was corrupted on the way: refused as malformed.
 * @fault_dup: fault injection (debugfs fault_dup_completions): the last
 *	completion is posted again, this many times, when there is room.
 * @fault_drop_irq: fault injection (debugfs fault_drop_irqs): the next
 *	this many interrupts of the device are not sent.
 * @fault_drop_kick: fault injection (debugfs fault_drop_kicks): the next
 *	this many kicks of the device are ignored (reported successful).
 * @config_gen: configuration generation shown in DEV_INFO; incremented by
 *	pvchan_dev_changed().
 * @max_segs: segments per request offered to the guest.
 * @features: device-type feature bits offered to the guest.
 * @config_len: bytes of device config (DEV_CONFIG).
 * @priv: device-type state.
 * @dbg: debugfs directory.
 * @num_workers: threads in @workers.
 * @workers: the threads serving the queues (queue i on worker i %
 *	@num_workers), one per queue up to one per CPU.
 * @queues: the queues.
 */
struct pvchan_dev {
	struct pvchan_vm *vm;
	const struct pvchan_dev_ops *ops;
	u32 index;
	u16 num_queues;
	u16 max_queue_size;
	u16 max_segs;
	atomic_t fault_drop;
	atomic_t fault_delay_us;
	atomic_t fault_io_error;
	atomic_t fault_corrupt;
	atomic_t fault_dup;
	atomic_t fault_drop_irq;
	atomic_t fault_drop_kick;
	atomic_t config_gen;
	u64 features;
	u32 config_len;
	void *priv;
	struct dentry *dbg;
	unsigned int num_workers;
	struct kthread_worker **workers;
	struct pvchan_queue queues[];
};

/**
 * struct pvchan_vm - a VM bound to the host module.
 * @node: in pvchan_vms, RCU/SRCU protected, under pvchan_vms_lock.
 * @kvm: the VM; referenced while bound.
 * @mm: the VMM's mm (not referenced; used under mmget_not_zero()).
 * @id: host-wide id, names the debugfs directory.
 * @pid: tgid of the process that bound it (for status).
 * @vmm_pid: pid of the VMM that created the VM.
 * @lock: serialises device addition and removal, HELLO, and readers of
 *	@devs outside hypercall handlers (debugfs).
 * @hello_done: the guest has negotiated (read locklessly by handlers).
 * @features: negotiated channel features.
 * @guest_major: ABI major version of the guest's last HELLO (under @lock).
 * @guest_minor: its minor version: what the guest driver knows.
 * @event_route: 0, or the event interrupt (PVCHAN_ROUTE_VALID | apic_id << 8
 *	| vector), set by IRQ_ROUTE on PVCHAN_EVENT_DEV, cleared by HELLO.
 * @events: event interrupts raised.
 * @num_devs: number of entries in @devs, published with release semantics.
 * @devs: devices by index; indices are never reused, a hot-removed device's
 *	entry becomes NULL (under @lock) and the device is freed after an
 *	SRCU grace period.
 * @mn: notifier on @mm: its release unbinds the VM.
 * @release_work: runs the unbind after the VMM's address space is gone.
 * @bound: still in pvchan_vms (under pvchan_vms_lock).
 * @hc_count: hypercalls by number (last slot: unknown pvchan numbers).
 * @hc_lat: latency histogram per hypercall.
 * @rejects: refused requests by reason.
 * @dbg: debugfs directory.
 */
struct pvchan_vm {
	struct list_head node;
	struct kvm *kvm;
	struct mm_struct *mm;
	u32 id;
	pid_t pid;
	pid_t vmm_pid;
	struct mutex lock;	/* devices, HELLO; see @lock above */
	bool hello_done;
	u64 features;
	u16 guest_major;
	u16 guest_minor;
	u64 event_route;
	atomic64_t events;
	u32 num_devs;
	struct pvchan_dev *devs[PVCHAN_CTL_MAX_DEVS];
	struct mmu_notifier mn;
	struct work_struct release_work;
	bool bound;
	atomic64_t hc_count[PVCHAN_HC_COUNT + 1];
	struct pvchan_hist hc_lat[PVCHAN_HC_COUNT + 1];
	atomic64_t rejects[PVCHAN_REJ_NR];
	struct dentry *dbg;
};

/* Internal helpers reached by the KUnit suites (kunit/host_test.c). */
#if IS_ENABLED(CONFIG_KUNIT)
int pvchan_hello_negotiate(struct pvchan_hello *h, u32 num_devs,
			   u64 *features);
int pvchan_ring_check(u32 size, u32 sq_prod, u32 sq_cons, u32 cq_prod,
		      u32 cq_cons, u32 *pending);
bool pvchan_blk_in_range(u64 cap, u64 sector, u64 count);
void pvchan_clock_rate(u64 ns, u64 ticks, u32 *mul, u8 *shift);
u32 pvchan_poll_adapt(u32 poll_ns, u64 gap_ns, u32 max_ns);
size_t pvchan_blk_seg_bytes(const struct pvchan_seg *segs,
			    unsigned int nsegs);
#endif

/* main.c */
extern struct srcu_struct pvchan_srcu;
extern struct workqueue_struct *pvchan_wq;
struct pvchan_vm *pvchan_vm_lookup(struct kvm *kvm);

/* hypercall.c */
long pvchan_hypercall(struct pvchan_vm *vm, u32 vcpu_id, unsigned long nr,
		      const unsigned long *a);
void pvchan_reject(struct pvchan_vm *vm, enum pvchan_reject why);
const char *pvchan_reject_name(enum pvchan_reject why);
const char *pvchan_hc_name(unsigned int idx);

/* ring.c */
struct bio_vec;
unsigned int pvchan_segs_nr_pages(const struct pvchan_seg *segs,
				  unsigned int nsegs);
int pvchan_pin_segs(struct pvchan_queue *q, const struct pvchan_seg *segs,
		    unsigned int nsegs, bool write, struct page **pages,
		    struct bio_vec *bvec, unsigned int max_pages);
void pvchan_queue_work(struct kthread_work *work);
void pvchan_queue_wake(struct pvchan_queue *q);
void pvchan_queue_cancel(struct pvchan_queue *q);
int pvchan_queue_setup(struct pvchan_queue *q, u64 gpa, u32 size);
void pvchan_queue_reset(struct pvchan_queue *q);
void pvchan_queue_init(struct pvchan_queue *q, struct pvchan_dev *dev,
		       u16 index);
void pvchan_req_start(struct pvchan_queue *q, struct pvchan_req *req,
		      const struct pvchan_cqe *cqe);
void pvchan_queue_complete(struct pvchan_queue *q, struct pvchan_req *req);

/* device.c */
int pvchan_dev_add(struct pvchan_vm *vm, struct pvchan_ctl_dev *cfg);
void pvchan_dev_free(struct pvchan_dev *dev);
int pvchan_dev_remove(struct pvchan_vm *vm, u32 index);
void pvchan_dev_changed(struct pvchan_dev *dev);
void pvchan_vm_event(struct pvchan_vm *vm);
extern const struct pvchan_dev_ops pvchan_echo_ops;
extern const struct pvchan_dev_ops pvchan_blk_ops;
extern const struct pvchan_dev_ops pvchan_net_ops;
extern const struct pvchan_dev_ops pvchan_clock_ops;
long pvchan_clock_pair(struct pvchan_dev *dev, u32 vcpu_id, u64 gpa,
		       u64 size);
long pvchan_clock_record(struct pvchan_dev *dev, u32 vcpu_id, u64 gpa,
			 u64 size);

#define PVCHAN_DEV_CONFIG_MAX	64	/* largest config block of any type */

/* debugfs.c */
int pvchan_debugfs_init(void);
void pvchan_debugfs_exit(void);
void pvchan_debugfs_vm_add(struct pvchan_vm *vm);
void pvchan_debugfs_dev_add(struct pvchan_dev *dev);
void pvchan_debugfs_vm_remove(struct pvchan_vm *vm);

/* kvm_glue.c: every use of KVM internals is in that file */
int pvchan_kvm_hook_install(void);
void pvchan_kvm_hook_remove(void);
struct kvm *pvchan_kvm_get_from_fd(int fd);
void pvchan_kvm_put(struct kvm *kvm);
struct mm_struct *pvchan_kvm_mm(struct kvm *kvm);
pid_t pvchan_kvm_vmm_pid(struct kvm *kvm);
int pvchan_kvm_check_range(struct kvm *kvm, u64 gpa, u64 len, bool write);
int pvchan_kvm_pin(struct kvm *kvm, u64 gpa, u32 len, bool write,
		   struct page **pages, unsigned int max_pages);
int pvchan_kvm_read(struct kvm *kvm, u64 gpa, void *buf, u32 len);
int pvchan_kvm_write(struct kvm *kvm, u64 gpa, const void *buf, u32 len);
bool pvchan_kvm_apic_id_valid(struct kvm *kvm, u32 apic_id);
int pvchan_kvm_inject(struct kvm *kvm, u8 vector, u32 apic_id);
u32 pvchan_kvm_tsc_khz(struct kvm *kvm);
bool pvchan_kvm_tsc_stable(struct kvm *kvm);
struct timespec64;
int pvchan_kvm_clock_pair(struct kvm *kvm, u32 vcpu_id,
			  struct timespec64 *real, u64 *tsc);
int pvchan_kvm_vcpu_time(struct kvm *kvm, u32 vcpu_id, u64 *ns, u64 *tsc);

/* Guest-caused conditions: debug level and rate limited, never pr_err. */
#define pvchan_guest_dbg(vm, fmt, ...)					\
	pr_debug_ratelimited("vm%u: " fmt, (vm)->id, ##__VA_ARGS__)

#endif /* _PVCHAN_HOST_H */
