# SPDX-License-Identifier: GPL-2.0
#
# famfs-rs. The two commands a developer needs (see README.md):
#
#   make run     build kernel + module, boot the VM, show the module at work
#                (make run-multihost: two VMs sharing CXL memory)
#   make check   every test: host checks, module lints, KUnit, kselftests
#
# Other targets: toolchain, kernel, module, clippy, tests (kselftests and
# the other test programs), kselftests (tests/Makefile), host-check,
# vm-check, check-debug (the debug kernel), bench (the fault-path
# benchmark, Documentation/benchmark.rst), profile (its time by function,
# on a kernel with ftrace), anchor (a device removal under
# a pinned page: famfs_rs, raw device_dax, ext4 -o dax), clean. KDIR=/path/to/built/tree
# uses your own kernel instead of the cached Debian 7.3 one; FAMFS_CACHE
# moves the cache (default ~/.cache/famfs-rs); FAMFS_DEBUG=1 selects the
# debug kernel variant for any target.

TOP := $(CURDIR)
SHELL := /bin/bash

FAMFS_CACHE ?= $(HOME)/.cache/famfs-rs
FAMFS_TOOLS ?= $(FAMFS_CACHE)/tools
RUSTC := /usr/bin/rustc
BINDGEN ?= $(FAMFS_TOOLS)/bin/bindgen
LIBCLANG_PATH ?= $(FAMFS_TOOLS)/py/clang/native
export FAMFS_CACHE FAMFS_TOOLS RUSTC BINDGEN LIBCLANG_PATH

# KDIR given by the user: use that tree as it is. Otherwise the cached
# tree, which `kernel` builds; FAMFS_OWN_KERNEL carries that choice into
# sub-makes and scripts, where KDIR arrives from the environment.
ifeq ($(origin KDIR),undefined)
KDIR := $(shell $(TOP)/scripts/build-kernel.sh --print-kdir)
FAMFS_OWN_KERNEL := 1
endif
ifeq ($(FAMFS_OWN_KERNEL),1)
OWN_KERNEL := 1
endif
export KDIR FAMFS_OWN_KERNEL

KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) ARCH=x86_64 CONFIG_FAMFS_RS=m \
	RUSTC=$(RUSTC) HOSTRUSTC=$(RUSTC) BINDGEN=$(BINDGEN) \
	CLIPPY_DRIVER=/usr/bin/clippy-driver RUSTFMT=/usr/bin/rustfmt

# The exported uapi headers of the kernel under test (`make headers` in
# KDIR, which scripts/build-kernel.sh runs for the cached kernel): every
# test program's <linux/fuse.h>. tests/Makefile checks they are there.
KHDR_INCLUDES ?= -isystem $(KDIR)/usr/include

.PHONY: all toolchain kernel module clippy tests kselftests host-check vm-check check bench \
	profile profile-run anchor fuzz fuzz-run check-debug run run-multihost multihost clean

all: module

toolchain:
	@scripts/setup-toolchain.sh

kernel: toolchain
ifdef OWN_KERNEL
	@scripts/build-kernel.sh
endif

module: kernel
	$(KMAKE) modules

# The module built by clippy-driver with W=1: any warning fails.
clippy: kernel
	@scripts/build-module.sh

BENCH_BIN := tests/out/bench/famfs_bench
PIN_BIN := tests/out/bench/famfs_pin_unbind
XHOST_BIN := tests/out/multihost/famfs_xhost
FUZZ_BIN := tests/out/fuzz/famfs_fuzz

tests: kselftests $(XHOST_BIN) $(FUZZ_BIN)

# The kselftests (tests/Makefile, on the kernel's lib.mk): the tests in
# tests/out (/famfs/tests in the guest), what they start, the test fuse
# server and famfs_peek, in tests/out/server (/famfs/bin), and the same
# installed for the kernel's runner in tests/out/kselftest (run_kselftest.sh
# and the famfs_rs collection; /famfs/kselftest in the guest).
kselftests: kernel
	@$(MAKE) --no-print-directory -C tests OUTPUT=$(TOP)/tests/out \
		install INSTALL_PATH=$(TOP)/tests/out/kselftest

# The randomized hostile server with its clients and events (make fuzz;
# not a kselftest: a campaign, /famfs/bin in the guest). It speaks the
# fuse protocol of the kernel under test: its exported <linux/fuse.h>.
$(FUZZ_BIN): tests/fuzz/famfs_fuzz.c tests/famfs_test.h tests/server/famfs_server.h \
		include/uapi/linux/famfs_fmap.h | kselftests
	@mkdir -p tests/out/fuzz
	gcc -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE $(KHDR_INCLUDES) \
		-Itests -Iinclude/uapi -o $@ $<

# The cross-host test's program (scripts/multihost.sh; not a kselftest:
# it runs in two guests at once, /famfs/bin in each).
$(XHOST_BIN): tests/multihost/famfs_xhost.c tests/famfs_test.h tests/server/famfs_server.h \
		tests/server/famfs_log.h | kselftests
	@mkdir -p tests/out/multihost
	gcc -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE $(KHDR_INCLUDES) \
		-Itests -Iinclude/uapi -o $@ $<

host-check: toolchain
	@scripts/check.sh host

vm-check: clippy tests
	@scripts/check.sh vm

check: toolchain
	@scripts/check.sh all

# The kernel-dependent part of check (scripts/check.sh vm: kernel, module,
# VM runs) on the debug kernel; the host checks do not depend on the
# kernel and are make check's. check.sh's makes see FAMFS_DEBUG=1 and no
# KDIR, so their KDIR is the debug tree (computed at parse time).
check-debug: toolchain
	@env -u KDIR FAMFS_DEBUG=1 scripts/check.sh vm

run: clippy tests
	@scripts/demo.sh

# Two guests sharing CXL memory: a line written on one, read on the other.
run-multihost: clippy tests
	@scripts/demo-multihost.sh

# The cross-host test alone (make check runs it too): two guests sharing
# CXL memory (Documentation/multihost.rst).
multihost: clippy tests
	@scripts/multihost.sh

# The fuzzer (Documentation/fuzz.rst) on the debug kernel: MINUTES of
# rounds from SEED, or round ROUND of SEED alone (a replay); a failure is
# saved and shrunk (scripts/fuzz.sh).
MINUTES ?= 5
SEED ?= 1
fuzz: toolchain
	@env -u KDIR FAMFS_DEBUG=1 $(MAKE) --no-print-directory fuzz-run

fuzz-run: clippy tests
	@scripts/fuzz.sh --seconds $$(($(MINUTES) * 60)) --seed $(SEED) $(if $(ROUND),--round $(ROUND))

# The fault-path benchmark in the VM (FAMFS_BENCH_REPS, default 11).
bench: clippy tests $(BENCH_BIN)
	@scripts/bench.sh

# The fault path's time by function (Documentation/benchmark.rst): the
# benchmark's patterns under ftrace's function profiler, on the profile
# kernel variant (a make of its own, so that KDIR is that tree).
profile: toolchain
	@env -u KDIR FAMFS_PROFILE=1 $(MAKE) --no-print-directory profile-run

profile-run: clippy tests $(BENCH_BIN)
	@scripts/bench.sh --profile

# A device removal under a page held by a pipe: famfs_rs, raw device_dax
# and ext4 -o dax (Documentation/design.rst, "Device removal").
anchor: clippy tests $(BENCH_BIN) $(PIN_BIN)
	@scripts/anchor.sh

$(PIN_BIN): tests/bench/famfs_pin_unbind.c
	@mkdir -p tests/out/bench
	gcc -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

$(BENCH_BIN): tests/bench/famfs_bench.c tests/famfs_test.h tests/server/famfs_server.h \
		| kselftests
	@mkdir -p tests/out/bench
	gcc -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE $(KHDR_INCLUDES) \
		-Itests -Iinclude/uapi -o $@ $<

clean:
	-$(KMAKE) clean
	rm -rf tests/out rust/host/target
