# SPDX-License-Identifier: GPL-2.0
#
# pvchan top-level Makefile.
#   make            build both modules for the running kernel (or KDIR=...)
#                   and pvchanctl
#   make check      install what is missing, static checks, all suites in
#                   the nested VMs; prints "N passed, N failed, N skipped"
#   make demo       boot the sandbox, bind a guest, show the channel working
#   make check-long the same with long fuzz runs and the debug tier's
#                   end-to-end run
#   make bench      pvchan against virtio side by side in one L2
#                   (results/bench/bench.md)
#   make deb        Debian packages (pvchan-host-dkms, pvchan-guest-dkms,
#                   pvchanctl) in results/deb
#   make style      checkpatch --strict (part of check)
#   make sparse     W=1 C=2 build (part of check)
#   make clean

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build

.PHONY: all modules tools sparse check check-long style demo bench deb clean

all: modules tools

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=2 modules

tools:
	$(MAKE) -C tools/pvchanctl

check:
	scripts/check.sh

# The long run: 3 million fuzz operations on both kernels, the end-to-end
# I/O run under the debug kernel, and the whole 6.12 tier (net612, blk612 at
# full size).
check-long:
	PVCHAN_LONG=1 PVCHAN_FUZZ_CALLS=3000000 PVCHAN_DEBUG_E2E=1 scripts/check.sh

style:
	PVCHAN_SUITES=static scripts/check.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

deb:
	scripts/deb.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C tools/pvchanctl clean
	-$(MAKE) -C selftests clean
	rm -rf results
