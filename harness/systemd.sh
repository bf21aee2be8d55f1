#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end test with a real client: Debian's systemd keeps a service's
# eventfds in its file descriptor store across a "systemctl kexec" live
# update, with no change to systemd.
#
# Usage: systemd.sh [build|rootfs|run|all]   (default: all)
#
#   build   the composed kernel plus harness/testing/systemd/kernel.config
#           (what systemd needs to boot) in build/kernel-systemd
#   rootfs  a Debian sid root file system with systemd, udev and
#           kexec-tools, made with debootstrap and cached in the download
#           cache; remove $CACHE_DIR/debian-sid-systemd to make it anew
#   run     boot it under QEMU: fdstore-eventfd.service stores eventfds in
#           known states and a memfd as a control, systemctl kexec loads
#           the same kernel, and the service checks what it gets back
#
# "run" passes when the service reports every eventfd and the memfd
# intact after the kexec. Otherwise it prints the service's checks and
# the log lines of systemd and the kernel about LUO. The serial log is
# build/vm/systemd/qemu.serial.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

SYSTEMD_KBUILD=$BUILD_DIR/kernel-systemd
SYSTEMD_WORK=$BUILD_DIR/vm/systemd
TESTING_DIR=$REPO_DIR/harness/testing/systemd
ROOTFS_SUITE=sid
ROOTFS_PACKAGES=systemd,systemd-sysv,udev,kexec-tools
ROOTFS_DIR=$CACHE_DIR/debian-$ROOTFS_SUITE-systemd
# Both boots and the kexec took under a minute under TCG on 2 cores; the
# timeout leaves room for slower machines.
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}
CMDLINE="console=ttyS0 root=/dev/vda rw liveupdate=on panic=-1 printk.devkmsg=on systemd.firstboot=off systemd.show_status=1"

need_systemd_tools() {
	need_build_tools
	need_tools debootstrap:debootstrap mkfs.ext4:e2fsprogs \
		/usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring \
		/usr/include/systemd/sd-daemon.h:libsystemd-dev
}

build() {
	local frags=$TREE_DIR/$SELFTEST_DIR
	local log=$BUILD_DIR/kernel-systemd-build.log
	local make_cmd=(make -C "$TREE_DIR" O="$SYSTEMD_KBUILD" ARCH=x86 -j"$JOBS")

	need_systemd_tools
	[[ -d $TREE_DIR/.git ]] || die "$TREE_DIR not found; run make compose first"
	make_config "$TREE_DIR" "$SYSTEMD_KBUILD" "$log" "$frags/config.x86_64" \
		"$frags/config" "$TESTING_DIR/kernel.config"

	log "building the systemd test kernel in $SYSTEMD_KBUILD (log: $log; from scratch this takes minutes)"
	make_bzimage "$log" "systemd test kernel" "${make_cmd[@]}"
	log "built $SYSTEMD_KBUILD/arch/x86/boot/bzImage"
}

# Make the root file system with debootstrap, once. The package list is
# stored next to it, so that a change of ROOTFS_PACKAGES makes it anew.
rootfs() {
	local uri tmp

	need_systemd_tools
	if [[ -f $ROOTFS_DIR.packages && $(cat "$ROOTFS_DIR.packages") == "$ROOTFS_PACKAGES" &&
	      -x $ROOTFS_DIR/usr/lib/systemd/systemd ]]; then
		log "using the cached root file system $ROOTFS_DIR (systemd $(systemd_version))"
		return 0
	fi
	[[ $(id -u) -eq 0 ]] || die "debootstrap needs root; run make check-systemd as root"

	uri=$("$REPO_DIR/harness/fetch.sh" archive-uri)
	mkdir -p "$CACHE_DIR"
	tmp=$(mktemp -d "$ROOTFS_DIR.XXXXXX")
	log "debootstrap $ROOTFS_SUITE with $ROOTFS_PACKAGES into $ROOTFS_DIR (about 200 MB of packages)"
	if ! debootstrap --variant=minbase --include="$ROOTFS_PACKAGES" \
			--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
			"$ROOTFS_SUITE" "$tmp/root" "$uri" >"$tmp.log" 2>&1; then
		grep -E '^(E|W):' "$tmp.log" | tail -n 10 >&2 || tail -n 10 "$tmp.log" >&2
		rm -rf "$tmp"
		die "debootstrap of $ROOTFS_SUITE from $uri failed (log: $tmp.log); check the network and the machine's apt sources, or set APT_ARCHIVE_URI"
	fi
	rm -rf "$ROOTFS_DIR" "$ROOTFS_DIR.packages"
	mv "$tmp/root" "$ROOTFS_DIR"
	rmdir "$tmp"
	rm -f "$tmp.log"
	echo "$ROOTFS_PACKAGES" >"$ROOTFS_DIR.packages"
	log "made $ROOTFS_DIR with systemd $(systemd_version)"
}

systemd_version() {
	dpkg-query --admindir="$ROOTFS_DIR/var/lib/dpkg" -W -f '${Version}' systemd
}

# Copy the cached root file system, add the kernel, the test service and
# the driver, and make an ext4 image of it.
make_image() {
	local root=$SYSTEMD_WORK/root
	local wants=$root/etc/systemd/system/multi-user.target.wants
	local unit

	gcc -O2 -Wall -Wextra -o "$SYSTEMD_WORK/fdstore-eventfd" \
		"$TESTING_DIR/fdstore-eventfd.c" -lsystemd ||
		die "cannot build $TESTING_DIR/fdstore-eventfd.c"

	cp -a "$ROOTFS_DIR" "$root"
	install -D -m 0755 "$SYSTEMD_WORK/fdstore-eventfd" "$root/usr/local/lib/eventfd-luo/fdstore-eventfd"
	install -D -m 0755 "$TESTING_DIR/live-update-test" "$root/usr/local/lib/eventfd-luo/live-update-test"
	install -m 0644 "$SYSTEMD_KBUILD/arch/x86/boot/bzImage" "$root/boot/vmlinuz"
	mkdir -p "$wants" "$root/var/lib/eventfd-luo"
	for unit in fdstore-eventfd.service live-update-test.service; do
		install -m 0644 "$TESTING_DIR/$unit" "$root/etc/systemd/system/$unit"
		ln -sf "../$unit" "$wants/$unit"
	done
	# A machine ID makes this boot not a first boot, so nothing prompts on
	# the console.
	echo 6576656e7466646c756f73797374656d >"$root/etc/machine-id"
	echo eventfd-luo >"$root/etc/hostname"

	mkfs.ext4 -q -F -L root -d "$root" "$SYSTEMD_WORK/root.img" 1G >"$SYSTEMD_WORK/mkfs.log" 2>&1 ||
		{ cat "$SYSTEMD_WORK/mkfs.log" >&2; die "mkfs.ext4 -d $root failed"; }
	rm -rf "$root"
}

# Remove terminal escapes and the "name[pid]: " prefix of the journal's
# console lines, keeping the name of systemd's own programs.
strip_serial() {
	sed -E -e 's/\x1b(\[[0-9;?]*[a-zA-Z]|\][^\\]*\\)//g' \
		-e 's/^.*(fdstore-eventfd|live-update-test)\[[0-9]+\]: //' \
		-e 's/^.*(systemd[a-z-]*)\[[0-9]+\]: /\1: /'
}

# Print the lines that explain a failure: every check of the service, the
# driver's report and the lines of systemd and the kernel about LUO.
show_failure() {
	local serial=$1

	echo "--- the checks of fdstore-eventfd.service, and the lines of systemd and the kernel about LUO, from $serial:" >&2
	tr -d '\r' <"$serial" | grep -v '^live-update-test\[[0-9]*\]:    ' |
		grep -E 'fdstore-eventfd: |live-update-test: [A-Z]|LUO|liveupdate|luo|KHO|kexec' |
		grep -v 'ommand line:' |
		strip_serial | tail -n 60 >&2 || true
	echo "--- last lines of $serial:" >&2
	tr -d '\r' <"$serial" | grep -v '^\s*$' | tail -n 15 >&2
}

# Print what was stored, what systemd did with it and the service's verdict.
show_summary() {
	local serial=$1

	tr -d '\r' <"$serial" | grep -v '^live-update-test\[[0-9]*\]:    ' |
		grep -E 'fdstore-eventfd: (stored|received|PASS)|systemd-shutdown.*LUO|live-update-test: [A-Z]' |
		strip_serial >&2 || true
}

run() {
	local serial=$SYSTEMD_WORK/qemu.serial
	local status=0 boots

	need_systemd_tools
	[[ -f $SYSTEMD_KBUILD/arch/x86/boot/bzImage ]] ||
		die "no systemd test kernel; run harness/systemd.sh build first"
	[[ -x $ROOTFS_DIR/usr/lib/systemd/systemd ]] ||
		die "no root file system in $ROOTFS_DIR; run harness/systemd.sh rootfs first"
	rm -rf "$SYSTEMD_WORK"
	mkdir -p "$SYSTEMD_WORK"
	make_image

	log "booting Debian sid's systemd $(systemd_version) on the patched kernel, systemctl kexec included (timeout ${QEMU_TIMEOUT}s, serial log $serial)"
	timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -m 2G -smp 2 -no-reboot -nographic \
		-nodefaults -accel tcg -serial file:"$serial" \
		-drive file="$SYSTEMD_WORK/root.img",format=raw,if=virtio \
		-append "$CMDLINE" \
		-kernel "$SYSTEMD_KBUILD/arch/x86/boot/bzImage" || status=$?
	if [[ $status -eq 124 ]]; then
		echo "FAIL: QEMU timed out after ${QEMU_TIMEOUT}s" >&2
		show_failure "$serial"
		return 1
	fi

	# The driver's journal excerpts also contain "Linux version"; count
	# the kernel's own lines only.
	boots=$(tr -d '\r' <"$serial" | grep -v '^live-update-test\[' | grep -c 'Linux version' || true)
	if ! grep -q 'live-update-test: KEXEC' "$serial"; then
		echo "FAIL: the first boot did not reach systemctl kexec ($boots kernel boots seen)" >&2
		show_failure "$serial"
		return 1
	fi
	if [[ $boots -ne 2 ]]; then
		echo "FAIL: expected 2 kernel boots (one kexec), got $boots" >&2
		show_failure "$serial"
		return 1
	fi
	if ! grep -q 'live-update-test: PASS' "$serial"; then
		echo "FAIL: the service did not get its eventfds and the memfd back intact" >&2
		show_failure "$serial"
		return 1
	fi
	show_summary "$serial"
	log "systemd $(systemd_version) kept 4 eventfds and a memfd across systemctl kexec"
}

case ${1:-all} in
build) build ;;
rootfs) rootfs ;;
run) run ;;
all) build && rootfs && run ;;
*) die "usage: systemd.sh [build|rootfs|run|all]" ;;
esac
