# SPDX-License-Identifier: GPL-2.0
#
# kvm-soc top-level Makefile.  The two commands the README starts with:
#
#   make run     the main job: boot the rig and run the demo through kvm-soc
#   make check   every test: static gates, userspace tests, fuzz, rig suite
#
# Kernel modules are built out of tree in build/k<ver>/ (a copy of the
# sources, so several kernels can be built side by side).

TOP := $(CURDIR)
BUILD := $(TOP)/build

# Heavy results (rig kernel, linux-source extract, patched QEMU) are cached
# in $(KVM_SOC_CACHE), default /var/cache/kvm-soc.  Under CI (CI=true) every
# run starts from a new, empty cache of its own, so a warm cache can never
# hide a broken first-run step: each landing proves the README's commands
# from zero.  Only the newest CI cache is kept.
CI_CACHES := /var/cache/kvm-soc-ci
ifeq ($(CI),true)
ifndef KVM_SOC_CACHE
KVM_SOC_CACHE := $(CI_CACHES)/run-$(shell date +%Y%m%d-%H%M%S)-$(shell echo $$$$)
$(info >>> CI=true: starting from an empty cache, $(KVM_SOC_CACHE))
$(shell rm -rf $(CI_CACHES)/run-* 2>/dev/null)
endif
endif
KVM_SOC_CACHE ?= /var/cache/kvm-soc
export KVM_SOC_CACHE
CACHE := $(KVM_SOC_CACHE)

-include $(CACHE)/deps.mk

KDIR ?= $(KDIR_612)
CC ?= gcc
CLANG ?= clang

# The module sources copied into each per-kernel build directory.
KSRC := Kbuild include common host-kvm soc-kvm transport selftests/rig

HARNESS := $(CACHE)/linux-src/tools/testing/selftests
USER_CFLAGS := -O2 -g -Wall -Wextra -Werror -Wno-sign-compare -Wno-unused-parameter -Wno-clobbered -Iinclude/uapi -Icommon -I$(HARNESS)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer

SELFTESTS := $(patsubst selftests/kvm-soc/%.c,$(BUILD)/selftests/%,\
		$(wildcard selftests/kvm-soc/*.c))
RIGTESTS := $(patsubst selftests/rig/%.c,$(BUILD)/selftests/rig/%,\
		$(filter-out selftests/rig/ksoc_rig_fault.c,$(wildcard selftests/rig/*.c)))

.PHONY: all check-full deps run-libvirt modules modules-61 static kbuild-static checkpatch bench header unit fuzz fuzz-rig coverage qemu \
	selftests rig rig-selftest rig-ivshmem check run clean

all: modules selftests

deps:
	@bash tools/deps.sh

# $(call kbuild,<kdir>,<outdir>,<extra make args>)
define kbuild
	@test -d "$(1)" || { echo "no kernel headers at '$(1)': run 'make deps'"; exit 1; }
	@mkdir -p $(2)
	@cd $(TOP) && rsync -aR --delete --include='*/' --include='Kbuild' \
		--include='*.c' --include='*.h' --exclude='*' $(KSRC) $(2)/
	$(MAKE) -C $(1) M=$(2) KSOC_RIG_TEST=m $(3) modules
endef

modules:
	$(call kbuild,$(KDIR),$(BUILD)/k612,)

modules-61:
	$(call kbuild,$(KDIR_61),$(BUILD)/k61,)

# W=1 and sparse on every file (C=2), checkpatch --strict.  Any warning fails.
static:
	@rm -rf $(BUILD)/static
	@{ $(MAKE) --no-print-directory kbuild-static 2>&1; echo "exit $$?"; } | tee $(BUILD)/static.log
	@if ! grep -q '^exit 0$$' $(BUILD)/static.log || grep -E 'warning:|error:' $(BUILD)/static.log; then \
		echo "static: the W=1/sparse build failed or warned (above)"; exit 1; fi
	@grep -c '  CHECK ' $(BUILD)/static.log | xargs printf 'static: W=1 and sparse clean (%s files checked)\n'
	@$(MAKE) --no-print-directory checkpatch

kbuild-static:
	$(call kbuild,$(KDIR),$(BUILD)/static,W=1 C=2)

checkpatch:
	@bash tools/checkpatch.sh

header:
	@bash tests/header/check.sh

$(BUILD)/unit/test_chan: tests/unit/test_chan.c common/ksoc_chan.c common/*.h include/uapi/linux/kvm_soc.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN) -pthread -o $@ tests/unit/test_chan.c common/ksoc_chan.c

$(BUILD)/unit/test_ivshmem_server: tests/ivshmem/test_server.c include/uapi/linux/kvm_soc_ivshmem.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN) -o $@ tests/ivshmem/test_server.c

$(BUILD)/tools/kvm-soc-ivshmem-server: tools/kvm-soc-ivshmem-server.c include/uapi/linux/kvm_soc_ivshmem.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) $(SAN) -o $@ $<

# The same tests under ThreadSanitizer (the two-thread and hostile-peer
# tests are the ones it watches).
$(BUILD)/unit/test_chan_tsan: tests/unit/test_chan.c common/ksoc_chan.c common/*.h include/uapi/linux/kvm_soc.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -fsanitize=thread -pthread -o $@ tests/unit/test_chan.c common/ksoc_chan.c

unit: $(BUILD)/unit/test_chan $(BUILD)/unit/test_chan_tsan $(BUILD)/unit/test_ivshmem_server $(BUILD)/tools/kvm-soc-ivshmem-server
	python3 tools/kvm-coverage.py $(LINUX_SRC) --check
	$(BUILD)/unit/test_chan
	TSAN_OPTIONS=halt_on_error=1 $(BUILD)/unit/test_chan_tsan
	KSOC_IVSHMEM_SERVER=$(BUILD)/tools/kvm-soc-ivshmem-server $(BUILD)/unit/test_ivshmem_server
	bash tests/ivshmem/qemu_interop.sh $(BUILD)/tools/kvm-soc-ivshmem-server

$(BUILD)/fuzz/fuzz_chan: tests/fuzz/fuzz_chan.c common/ksoc_chan.c common/*.h include/uapi/linux/kvm_soc.h
	@mkdir -p $(@D)
	$(CLANG) -O1 -g -Iinclude/uapi -Icommon -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ tests/fuzz/fuzz_chan.c common/ksoc_chan.c

# make fuzz-rig [FUZZ_RIG_SECONDS=500]: the ioctl fuzzer (selftests/kvm-soc/
# ioctl_fuzz.c, 20 s in make check) for longer, in a rig boot of its own.
FUZZ_RIG_SECONDS ?= 500
fuzz-rig: modules selftests
	@printf '#!/bin/bash\n# rig: one CPU\nKSOC_FUZZ_SECONDS=%s exec %s/selftests/ioctl_fuzz\n' \
		$(FUZZ_RIG_SECONDS) $(BUILD) > $(BUILD)/ioctl_fuzz_long.sh
	@chmod +x $(BUILD)/ioctl_fuzz_long.sh
	@RIG_TIMEOUT=$$(( $(FUZZ_RIG_SECONDS) + 600 )) bash tools/rig run $(BUILD)/ioctl_fuzz_long.sh

FUZZ_SECONDS ?= 30
fuzz: $(BUILD)/fuzz/fuzz_chan
	@bash tests/fuzz/run.sh $(BUILD)/fuzz/fuzz_chan $(FUZZ_SECONDS)

$(BUILD)/selftests/%: selftests/kvm-soc/%.c selftests/kvm-soc/guest_code.S \
		selftests/kvm-soc/vm_lib.h include/uapi/linux/kvm_soc.h
	@test -f $(HARNESS)/kselftest_harness.h || { echo "no kselftest harness: run 'make deps'"; exit 1; }
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Werror -D_GNU_SOURCE -Iinclude/uapi -I$(HARNESS) $(CONF_INC) -pthread -o $@ \
		$< selftests/kvm-soc/guest_code.S

# The KVM coverage table (docs/kvm-coverage.md) as rows for conformance.c.
LINUX_SRC := $(CACHE)/linux-src
$(BUILD)/selftests/kvm_coverage_rows.h: tools/kvm-coverage.py tools/kvm-coverage.rows \
		common/ksoc_kvm_ioctl.c $(wildcard selftests/kvm-soc/*.c selftests/kvm-soc/*.sh)
	@test -f $(LINUX_SRC)/Documentation/virt/kvm/api.rst || { echo "no api.rst: run 'make deps'"; exit 1; }
	@mkdir -p $(@D)
	@python3 tools/kvm-coverage.py $(LINUX_SRC) --c-table $@

$(BUILD)/selftests/conformance: $(BUILD)/selftests/kvm_coverage_rows.h
$(BUILD)/selftests/conformance: CONF_INC := -I$(BUILD)/selftests

# docs/kvm-coverage.md is current and agrees with the module's tables.
coverage:
	@python3 tools/kvm-coverage.py $(LINUX_SRC) --check

$(BUILD)/selftests/rig/%: selftests/rig/%.c
	@test -f $(HARNESS)/kselftest_harness.h || { echo "no kselftest harness: run 'make deps'"; exit 1; }
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Werror -D_GNU_SOURCE -I$(HARNESS) -o $@ $<

$(BUILD)/tools/%: tools/%.c include/uapi/linux/kvm_soc.h
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Werror -Iinclude/uapi -o $@ $<

# The host helper, a usermode helper, is static: it needs nothing from the root it starts in.
$(BUILD)/tools/kvm-soc-vmctx: tools/kvm-soc-vmctx.c common/ksoc_vmctx.h
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Werror -static -pthread -Icommon -o $@ $<

# Programs that run guests from guest_code.S.
$(BUILD)/tools/kvm-soc-demo $(BUILD)/tools/kvm-soc-bench: $(BUILD)/tools/%: tools/%.c \
		selftests/kvm-soc/guest_code.S selftests/kvm-soc/vm_lib.h
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Werror -pthread -Iinclude/uapi -o $@ $< selftests/kvm-soc/guest_code.S

TOOLS := $(addprefix $(BUILD)/tools/,kvm-soc-info kvm-soc-vmctx kvm-soc-demo kvm-soc-bench kvm-soc-ivshmem-server \
	   ksoc-udp)

selftests: $(SELFTESTS) $(RIGTESTS) $(TOOLS)

# make qemu: qemu-system-x86_64 with qemu-patches/ applied (cached by
# source and series hash), and the rig's Linux guest initramfs.
qemu: deps
	@mkdir -p $(BUILD)
	@bash tools/qemu-build.sh > $(BUILD)/qemu-path.tmp && mv $(BUILD)/qemu-path.tmp $(BUILD)/qemu-path
	@bash tools/guest-initrd.sh > $(BUILD)/guest-initrd-path
	@echo ">>> patched QEMU: $$(cat $(BUILD)/qemu-path)"
	@if [ "$$(id -u)" = 0 ]; then bash tools/libvirt-setup.sh "$$(cat $(BUILD)/qemu-path)"; \
	 else echo ">>> not root: libvirt's pieces not installed (tools/libvirt-setup.sh)"; fi

# make rig [T="test ..."]: boot the rig and run the suite (or the named tests).
rig: modules selftests
	@bash tools/rig run $(T)

rig-selftest: modules selftests
	@bash tools/rig-selftest.sh

# make rig-ivshmem: the two-machine topology (host VM + SoC VM joined by
# ivshmem, tools/kvm-soc-ivshmem-server between them).
rig-ivshmem: modules selftests
	@bash tools/rig ivshmem

# make check: the long Linux-guest tests (migration, the I/O backends,
# Hyper-V) run their focused set (RIG_FOCUS=1; 49 minutes after make run
# on 2026-12-07, 22 on a faster machine on 2026-12-08, the QEMU build
# about 7 more from an empty cache); make
# check-full runs all of them.
RIG_FOCUS ?= 1
check: deps
	@echo ">>> [1/10] build (6.12) and selftests"
	@$(MAKE) --no-print-directory modules selftests
	@echo ">>> [2/10] build against 6.1 headers"
	@$(MAKE) --no-print-directory modules-61
	@echo ">>> [3/10] static gates: W=1, sparse, checkpatch"
	@$(MAKE) --no-print-directory static
	@echo ">>> [4/10] UAPI header: C89, C99, C11, C++ and wire asserts"
	@$(MAKE) --no-print-directory header
	@echo ">>> [5/10] unit tests: channel helpers, ivshmem server (with QEMU's ivshmem-doorbell)"
	@$(MAKE) --no-print-directory unit
	@echo ">>> [6/10] fuzz smoke run ($(FUZZ_SECONDS) s)"
	@$(MAKE) --no-print-directory fuzz
	@echo ">>> [7/10] patched QEMU (qemu-patches/ on QEMU 10.0.2)"
	@$(MAKE) --no-print-directory qemu
	@echo ">>> [8/10] rig self-test: the rig must catch failures"
	@bash tools/rig-selftest.sh
	@echo ">>> [9/10] rig: every selftest$(if $(filter 1,$(RIG_FOCUS)), (focused set: make check-full runs all))"
	@RIG_FOCUS=$(RIG_FOCUS) bash tools/rig run
	@echo ">>> [10/10] rig, ivshmem topology: a host machine and a SoC machine"
	@RIG_FOCUS=$(RIG_FOCUS) bash tools/rig ivshmem

check-full:
	@RIG_TIMEOUT=$${RIG_TIMEOUT:-5400} $(MAKE) --no-print-directory check RIG_FOCUS=0

# make run [TOPOLOGY=loop|ivshmem]: the main job; loop (one kernel) by default.
TOPOLOGY ?= loop
run: deps
	@case "$(TOPOLOGY)" in loop|ivshmem) ;; *) echo "make run: TOPOLOGY must be loop or ivshmem, not '$(TOPOLOGY)'" >&2; exit 2 ;; esac
	@$(MAKE) --no-print-directory modules selftests qemu
	@bash tools/rig $(if $(filter ivshmem,$(TOPOLOGY)),ivshmem-demo,demo)

# make run-libvirt: the same guest under Debian's libvirt, unmodified
# (virsh define, start, console, suspend/resume, reboot, shutdown, destroy).
run-libvirt: deps
	@$(MAKE) --no-print-directory modules selftests qemu
	@bash tools/rig run libvirt

# make bench: exit round trips and idle-VM costs, kvm-soc vs native KVM,
# measured in the rig; the tables end up in build/rig/bench/tests/bench.log,
# build/rig/bench-vhost-user/one-cpu/tests/io-bench-vu.log (DPDK vhost-user,
# in a one-CPU boot) and build/rig/ivshmem-bench/bench.txt.
bench: deps
	@$(MAKE) --no-print-directory modules selftests qemu
	@bash tools/rig bench
	@RIG_OUT=$(BUILD)/rig/bench-vhost-user bash tools/rig run tools/io-bench-vu.sh
	@bash tools/rig ivshmem-bench

clean:
	rm -rf $(BUILD)
