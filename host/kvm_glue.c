// SPDX-License-Identifier: GPL-2.0
/*
 * Every use of KVM internals by pvchan lives in this file, behind the small
 * interface declared at the end of pvchan_host.h: the hypercall hook, VM
 * binding, guest memory access and interrupt injection.  A kernel whose KVM
 * exports differ (6.18+) needs another implementation of this file only.
 *
 * The hypercall hook: KVM has no API to register hypercall handlers, so an
 * ftrace ops with IPMODIFY redirects kvm_emulate_hypercall() to
 * pvchan_hc_wrapper().  For a VM that is not bound, or a number outside
 * pvchan's range, the wrapper calls the original and changes nothing.  For
 * one of ours it lets KVM run a harmless built-in hypercall first
 * (KVM_HC_VAPIC_POLL_IRQ), so KVM does the CPL check and skips the
 * instruction, and only then runs pvchan's handler and writes RAX.
 *
 * This file is built with -fno-optimize-sibling-calls: a tail call from the
 * wrapper into kvm_emulate_hypercall() would leave no return address inside
 * this module, the recursion check in the ftrace callback would miss, and
 * the call would be redirected forever.
 */
#include <linux/file.h>
#include <linux/ftrace.h>
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <asm/apicdef.h>
#include <asm/msr.h>

#include "pvchan_host.h"

/* Exported by kvm.ko but declared in arch/x86/kvm/lapic.h, not installed. */
void kvm_apic_send_ipi(struct kvm_lapic *apic, u32 icr_low, u32 icr_high);

/*
 * With Hyper-V or Xen hypercall emulation active, kvm_emulate_hypercall()
 * hands every hypercall to that emulation (which reads other registers), so
 * pvchan cannot serve the VM: its numbers go to KVM unchanged.
 */
static bool pvchan_kvm_foreign_abi(struct kvm_vcpu *vcpu)
{
#ifdef CONFIG_KVM_XEN
	if (vcpu->kvm->arch.xen_hvm_config.flags &
	    KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL)
		return true;
#endif
	return vcpu->arch.hyperv_enabled &&
	       READ_ONCE(vcpu->kvm->arch.hyperv.hv_guest_os_id);
}

static int pvchan_hc_wrapper(struct kvm_vcpu *vcpu)
{
	unsigned long *regs = vcpu->arch.regs;
	unsigned long nr = regs[VCPU_REGS_RAX];
	unsigned long args[4];
	struct pvchan_vm *vm;
	int idx, ret;

	idx = srcu_read_lock(&pvchan_srcu);
	vm = NULL;
	if (nr >= PVCHAN_HC_BASE && nr <= PVCHAN_HC_LAST &&
	    !pvchan_kvm_foreign_abi(vcpu))
		vm = pvchan_vm_lookup(vcpu->kvm);
	if (!vm) {
		ret = kvm_emulate_hypercall(vcpu);
		srcu_read_unlock(&pvchan_srcu, idx);
		return ret;
	}

	args[0] = regs[VCPU_REGS_RBX];
	args[1] = regs[VCPU_REGS_RCX];
	args[2] = regs[VCPU_REGS_RDX];
	args[3] = regs[VCPU_REGS_RSI];
	regs[VCPU_REGS_RAX] = KVM_HC_VAPIC_POLL_IRQ;
	ret = kvm_emulate_hypercall(vcpu);
	/* 0: KVM accepted the call (CPL 0) and skipped the instruction. */
	if (regs[VCPU_REGS_RAX] == 0)
		regs[VCPU_REGS_RAX] = pvchan_hypercall(vm, vcpu->vcpu_id, nr,
						       args);
	srcu_read_unlock(&pvchan_srcu, idx);
	return ret;
}

static void notrace pvchan_ftrace_thunk(unsigned long ip,
					unsigned long parent_ip,
					struct ftrace_ops *ops,
					struct ftrace_regs *fregs)
{
	/* Our own call of the original must reach it. */
	if (!within_module(parent_ip, THIS_MODULE))
		pvchan_ftrace_set_ip(fregs, (unsigned long)pvchan_hc_wrapper);
}

static struct ftrace_ops pvchan_fops = {
	.func = pvchan_ftrace_thunk,
	.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_IPMODIFY |
		 FTRACE_OPS_FL_RECURSION,
};

/**
 * pvchan_kvm_hook_install() - divert KVM hypercalls to pvchan.
 *
 * Return: 0, or a negative errno after logging why (e.g. -EBUSY when
 * another ftrace IPMODIFY user such as a livepatch owns the function).
 */
int pvchan_kvm_hook_install(void)
{
	/* Writable: ftrace_set_filter() takes a non-const buffer. */
	char target[] = "kvm_emulate_hypercall";
	int ret;

	ret = ftrace_set_filter(&pvchan_fops, target,
				strlen(target), 0);
	if (ret) {
		pr_err("cannot trace %s (%d): is kvm loaded and ftrace enabled?\n",
		       target, ret);
		return ret;
	}
	ret = register_ftrace_function(&pvchan_fops);
	if (ret == -EBUSY)
		pr_err("cannot hook %s: another ftrace IPMODIFY user (livepatch or kprobe) owns it\n",
		       target);
	else if (ret)
		pr_err("cannot hook %s (%d)\n", target, ret);
	if (ret)
		ftrace_free_filter(&pvchan_fops);
	return ret;
}

/**
 * pvchan_kvm_hook_remove() - stop diverting hypercalls and wait until no
 * vCPU thread runs in the wrapper or a handler any more.
 */
void pvchan_kvm_hook_remove(void)
{
	unregister_ftrace_function(&pvchan_fops);
	ftrace_free_filter(&pvchan_fops);
	/* Handlers that may sleep run inside pvchan_srcu... */
	synchronize_srcu(&pvchan_srcu);
	/* ...and the few instructions around it can only be preempted. */
	synchronize_rcu_tasks();
}

/**
 * pvchan_kvm_get_from_fd() - take a reference to the VM behind a KVM VM fd.
 * @fd: file descriptor in the calling process.
 *
 * Return: the VM, or ERR_PTR(-EBADF) / ERR_PTR(-EINVAL) if @fd is not open
 * or not a KVM VM.
 */
struct kvm *pvchan_kvm_get_from_fd(int fd)
{
	struct file *file = fget(fd);
	struct kvm *kvm;

	if (!file)
		return ERR_PTR(-EBADF);
	if (!file_is_kvm(file)) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	kvm = file->private_data;
	kvm_get_kvm(kvm);
	fput(file);
	return kvm;
}

/**
 * pvchan_kvm_put() - drop a reference taken by pvchan_kvm_get_from_fd().
 * @kvm: the VM.
 */
void pvchan_kvm_put(struct kvm *kvm)
{
	kvm_put_kvm(kvm);
}

/**
 * pvchan_kvm_mm() - the address space of the VM's VMM.
 * @kvm: the VM.
 *
 * Return: the mm; the caller must not use it without mmget_not_zero().
 */
struct mm_struct *pvchan_kvm_mm(struct kvm *kvm)
{
	return kvm->mm;
}

/**
 * pvchan_kvm_vmm_pid() - the pid of the process that created the VM.
 * @kvm: the VM.
 *
 * Return: the pid, as shown in KVM's own debugfs directory name.
 */
pid_t pvchan_kvm_vmm_pid(struct kvm *kvm)
{
	return kvm->userspace_pid;
}

/*
 * Find the user address of a guest range that must lie in one visible RAM
 * slot.  Called with kvm->srcu held.  Returns 0 on error (never a valid hva
 * for a guest RAM slot).
 */
static unsigned long pvchan_gpa_to_hva(struct kvm *kvm, u64 gpa, u64 len,
				       bool write)
{
	struct kvm_memory_slot *slot;
	gfn_t first, last;

	if (!len || gpa + len < gpa)
		return 0;
	first = gpa >> PAGE_SHIFT;
	last = (gpa + len - 1) >> PAGE_SHIFT;
	slot = __gfn_to_memslot(kvm_memslots(kvm), first);
	if (!slot || !kvm_is_visible_memslot(slot))
		return 0;
	if (last >= slot->base_gfn + slot->npages)
		return 0;
	if (write && (slot->flags & KVM_MEM_READONLY))
		return 0;
	return __gfn_to_hva_memslot(slot, first) + offset_in_page(gpa);
}

/**
 * pvchan_kvm_check_range() - is a guest range ordinary RAM in one slot?
 * @kvm: the VM.
 * @gpa: start.
 * @len: length, non-zero.
 * @write: the host will write to it.
 *
 * Return: 0, or -EFAULT.
 */
int pvchan_kvm_check_range(struct kvm *kvm, u64 gpa, u64 len, bool write)
{
	unsigned long hva;
	int idx;

	idx = srcu_read_lock(&kvm->srcu);
	hva = pvchan_gpa_to_hva(kvm, gpa, len, write);
	srcu_read_unlock(&kvm->srcu, idx);
	return hva ? 0 : -EFAULT;
}

/*
 * Copy between the host and guest memory.  Must run with the VMM's mm in
 * use: in a vCPU thread, or in a worker between kthread_use_mm() and
 * kthread_unuse_mm().  The range may span pages but not slots.
 */
static int pvchan_kvm_copy(struct kvm *kvm, u64 gpa, void *buf, u32 len,
			   bool write)
{
	unsigned long hva, left;
	int idx;

	if (current->mm != kvm->mm)
		return -EFAULT;
	idx = srcu_read_lock(&kvm->srcu);
	hva = pvchan_gpa_to_hva(kvm, gpa, len, write);
	if (!hva)
		left = len;
	else if (write)
		left = copy_to_user((void __user *)hva, buf, len);
	else
		left = copy_from_user(buf, (const void __user *)hva, len);
	srcu_read_unlock(&kvm->srcu, idx);
	return left ? -EFAULT : 0;
}

/**
 * pvchan_kvm_read() - copy from guest memory.
 * @kvm: the VM (its VMM's mm must be current's mm).
 * @gpa: guest physical address.
 * @buf: destination.
 * @len: bytes; the range must lie in one RAM slot.
 *
 * Return: 0 or -EFAULT.
 */
int pvchan_kvm_read(struct kvm *kvm, u64 gpa, void *buf, u32 len)
{
	return pvchan_kvm_copy(kvm, gpa, buf, len, false);
}

/**
 * pvchan_kvm_write() - copy to guest memory.
 * @kvm: the VM (its VMM's mm must be current's mm).
 * @gpa: guest physical address.
 * @buf: source.
 * @len: bytes; the range must lie in one writable RAM slot.
 *
 * Return: 0 or -EFAULT.
 */
int pvchan_kvm_write(struct kvm *kvm, u64 gpa, const void *buf, u32 len)
{
	return pvchan_kvm_copy(kvm, gpa, (void *)buf, len, true);
}

/**
 * pvchan_kvm_pin() - pin the pages under a guest range for zero-copy I/O.
 * @kvm: the VM (its VMM's mm must be current's mm).
 * @gpa: start of the range.
 * @len: bytes, non-zero; the range must lie in one RAM slot.
 * @write: the host will write to the pages (guest reads from the device).
 * @pages: filled with the pinned pages; release with
 *	unpin_user_pages_dirty_lock().
 * @max_pages: room in @pages.
 *
 * Return: the number of pages pinned, -EFAULT, or -E2BIG if the range needs
 * more than @max_pages pages.
 */
int pvchan_kvm_pin(struct kvm *kvm, u64 gpa, u32 len, bool write,
		   struct page **pages, unsigned int max_pages)
{
	unsigned long hva;
	int idx, n, got;

	if (current->mm != kvm->mm)
		return -EFAULT;
	n = DIV_ROUND_UP(offset_in_page(gpa) + (u64)len, PAGE_SIZE);
	if (n > max_pages)
		return -E2BIG;
	idx = srcu_read_lock(&kvm->srcu);
	hva = pvchan_gpa_to_hva(kvm, gpa, len, write);
	srcu_read_unlock(&kvm->srcu, idx);
	if (!hva)
		return -EFAULT;
	got = pin_user_pages_fast(hva & PAGE_MASK, n, write ? FOLL_WRITE : 0,
				  pages);
	if (got == n)
		return n;
	if (got > 0)
		unpin_user_pages(pages, got);
	return -EFAULT;
}

/**
 * pvchan_kvm_apic_id_valid() - does @apic_id name one of the VM's vCPUs?
 * @kvm: the VM.
 * @apic_id: APIC id; vCPU ids are the initial APIC ids in QEMU, Firecracker
 *	and Cloud Hypervisor.  Broadcast ids never match.
 *
 * Return: true if a vCPU has that id.
 */
bool pvchan_kvm_apic_id_valid(struct kvm *kvm, u32 apic_id)
{
	if (apic_id > INT_MAX)
		return false;
	return !!kvm_get_vcpu_by_id(kvm, apic_id);
}

/**
 * pvchan_kvm_inject() - send a fixed, edge interrupt to a guest vCPU.
 * @kvm: the VM (in-kernel LAPIC required).
 * @vector: 32..255.
 * @apic_id: destination, physical mode.
 *
 * May be called from any process context.
 *
 * Return: 0, or -ENODEV if the VM has no vCPU or no in-kernel LAPIC.
 */
int pvchan_kvm_inject(struct kvm *kvm, u8 vector, u32 apic_id)
{
	struct kvm_vcpu *src = kvm_get_vcpu(kvm, 0);
	u32 icr_hi;

	if (!src || !src->arch.apic)
		return -ENODEV;
	/* kvm_apic_send_ipi() decodes the destination in the source's mode. */
	if (src->arch.apic_base & X2APIC_ENABLE)
		icr_hi = apic_id;
	else
		icr_hi = (apic_id & 0xff) << 24;
	kvm_apic_send_ipi(src->arch.apic,
			  APIC_DM_FIXED | APIC_INT_ASSERT | APIC_DEST_PHYSICAL |
			  vector, icr_hi);
	return 0;
}

/**
 * pvchan_kvm_tsc_khz() - the guest's TSC frequency as KVM set it up.
 * @kvm: the VM.
 *
 * Return: vCPU 0's TSC frequency in kHz (the VM's default before a vCPU
 * exists).
 */
u32 pvchan_kvm_tsc_khz(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu = kvm_get_vcpu(kvm, 0);

	return vcpu ? READ_ONCE(vcpu->arch.virtual_tsc_khz) :
		      READ_ONCE(kvm->arch.default_tsc_khz);
}

/**
 * pvchan_kvm_tsc_stable() - may the guest use its TSC as a clock?
 * @kvm: the VM.
 *
 * KVM's own rule for kvm-clock's PVCLOCK_TSC_STABLE_BIT: the VM runs on
 * KVM's master clock, which KVM uses only with a TSC-based, stable host
 * clock and every vCPU's TSC matched; the guest's TSCs then tick together
 * at pvchan_kvm_tsc_khz().
 */
bool pvchan_kvm_tsc_stable(struct kvm *kvm)
{
	return READ_ONCE(kvm->arch.use_master_clock);
}

/*
 * A vCPU's TSC when the host read its clock: @read runs between two host
 * TSC reads, interrupts off, and is paired with their midpoint (the window
 * is a few hundred cycles with a TSC-based host clock).
 */
static u64 pvchan_kvm_paired_tsc(struct kvm_vcpu *vcpu,
				 struct timespec64 *real, u64 *boot_ns)
{
	unsigned long flags;
	u64 t1, t2;

	local_irq_save(flags);
	t1 = rdtsc_ordered();
	if (real)
		ktime_get_real_ts64(real);
	else
		*boot_ns = ktime_get_boottime_ns();
	t2 = rdtsc_ordered();
	local_irq_restore(flags);
	return kvm_read_l1_tsc(vcpu, t1 + (t2 - t1) / 2);
}

static struct kvm_vcpu *pvchan_kvm_vcpu(struct kvm *kvm, u32 vcpu_id)
{
	return vcpu_id <= INT_MAX ? kvm_get_vcpu_by_id(kvm, vcpu_id) : NULL;
}

/**
 * pvchan_kvm_clock_pair() - host CLOCK_REALTIME and a vCPU's TSC at the
 * same instant.
 * @kvm: the VM.
 * @vcpu_id: the vCPU.
 * @real: out, host realtime.
 * @tsc: out, the vCPU's TSC.
 *
 * Only while KVM runs the VM on its master clock, which it does only with
 * a TSC-based host clock, so that the pair is exact.
 *
 * Return: 0; -ENOENT without a TSC-based host clock now; -ENODEV without
 * that vCPU.
 */
int pvchan_kvm_clock_pair(struct kvm *kvm, u32 vcpu_id,
			  struct timespec64 *real, u64 *tsc)
{
	struct kvm_vcpu *vcpu = pvchan_kvm_vcpu(kvm, vcpu_id);

	if (!vcpu)
		return -ENODEV;
	if (!READ_ONCE(kvm->arch.use_master_clock))
		return -ENOENT;
	*tsc = pvchan_kvm_paired_tsc(vcpu, real, NULL);
	return 0;
}

/**
 * pvchan_kvm_vcpu_time() - host CLOCK_BOOTTIME and a vCPU's TSC at the
 * same instant, whatever the host clocksource.
 * @kvm: the VM.
 * @vcpu_id: the vCPU.
 * @ns: out, host boot time in ns.
 * @tsc: out, the vCPU's TSC.
 *
 * Return: 0, or -ENODEV without that vCPU.
 */
int pvchan_kvm_vcpu_time(struct kvm *kvm, u32 vcpu_id, u64 *ns, u64 *tsc)
{
	struct kvm_vcpu *vcpu = pvchan_kvm_vcpu(kvm, vcpu_id);

	if (!vcpu)
		return -ENODEV;
	*tsc = pvchan_kvm_paired_tsc(vcpu, NULL, ns);
	return 0;
}
