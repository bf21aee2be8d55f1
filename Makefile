# SPDX-License-Identifier: GPL-2.0
#
# Front door of the eventfd live update series. See README.md.

HARNESS := harness

.PHONY: help demo check check-systemd bench series compose build fetch clean distclean

help:
	@echo "make demo       compose, build, kexec a VM and show eventfds before and after"
	@echo "make check      compose, checkpatch --strict, build, run every VM test"
	@echo "make check-systemd  Debian's systemd keeps eventfds in its FD store across systemctl kexec"
	@echo "make bench      per-file cost of eventfds and empty memfds, in build/bench/"
	@echo "make series     write the mailable series to build/series/"
	@echo "make build      compose and build the kernel in build/kernel/"
	@echo "make fetch      download and verify the pinned base kernel source"
	@echo "make clean      remove build/ (the download cache is kept)"
	@echo "make distclean  remove build/ and the download cache"
	@echo "Variables: LINUX_SRC=<kernel git tree>, BASE_VERSION=<Debian version>, JOBS=<n>, BENCH_N=<n,n,...>, BENCH_BASELINE=1"

demo:
	@$(HARNESS)/demo.sh

check:
	@$(HARNESS)/check.sh

check-systemd: compose
	@$(HARNESS)/systemd.sh

bench: build
	@$(HARNESS)/bench.sh

series compose:
	@$(HARNESS)/compose.sh

build: compose
	@$(HARNESS)/build.sh

fetch:
	@$(HARNESS)/fetch.sh >/dev/null

clean:
	@$(HARNESS)/clean.sh

distclean: clean
	rm -rf "$${EVENTFD_LUO_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/eventfd-luo}"
