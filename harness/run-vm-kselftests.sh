#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run kselftests that need a LUO kernel but no kexec: boot the kernel of
# build/kernel under QEMU with liveupdate=on and run each test program
# from the initramfs, then reboot, which ends QEMU.
#
# Usage: run-vm-kselftests.sh NAME...
#
# Each NAME is a path under tools/testing/selftests of the composed tree
# without the .c suffix, e.g. liveupdate/luo_eventfd. The programs are
# linked statically with glibc. Prints "PASS NAME", "SKIP NAME" or
# "FAIL NAME" per program (kselftest exit codes: 0 pass, 4 skip) and exits
# non-zero if any failed or the VM did not finish.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

WORK=$BUILD_DIR/vm/kselftests
QEMU_TIMEOUT=${QEMU_TIMEOUT:-300}

build_programs() {
	local hdrs=$WORK/usr
	local sel=$TREE_DIR/tools/testing/selftests
	local name src extra

	make -s -C "$TREE_DIR" O="$KBUILD_DIR" headers_install \
		INSTALL_HDR_PATH="$hdrs" >/dev/null
	mkdir -p "$WORK/tests"
	: >"$WORK/tests.list"
	for name in "$@"; do
		src=$sel/$name.c
		[[ -f $src ]] || die "$src not found; run make compose first"
		extra=()
		# The LUO tests share lib/lu_utils.c.
		[[ $name == liveupdate/* ]] &&
			extra=(-I "$sel/liveupdate/lib/include" "$sel/liveupdate/lib/lu_utils.c")
		gcc -static -O2 -Wall -D_GNU_SOURCE= -isystem "$hdrs/include" -I "$sel" \
			-o "$WORK/tests/${name//\//_}" "$src" "${extra[@]}" -lpthread ||
			die "cannot build $src"
		echo "/tests/${name//\//_}" >>"$WORK/tests.list"
	done
	gcc -static -O2 -Wall -o "$WORK/init" "$REPO_DIR/harness/testing/kselftest-init.c"

	{
		printf '%s\n' 'dir /dev 0755 0 0' 'nod /dev/console 0600 0 0 c 5 1' \
			'dir /proc 0755 0 0' 'dir /sys 0755 0 0' 'dir /tests 0755 0 0' \
			"file /init $WORK/init 0755 0 0" \
			"file /tests/list $WORK/tests.list 0644 0 0"
		for name in "$@"; do
			echo "file /tests/${name//\//_} $WORK/tests/${name//\//_} 0755 0 0"
		done
	} >"$WORK/initrd.list"
	"$KBUILD_DIR/usr/gen_init_cpio" "$WORK/initrd.list" >"$WORK/initrd.cpio"
}

main() {
	local serial=$WORK/qemu.serial
	local name exit_code failed=0 status=0

	[[ $# -gt 0 ]] || die "usage: run-vm-kselftests.sh NAME..."
	need_build_tools
	[[ -f $KBUILD_DIR/arch/x86/boot/bzImage ]] || die "no kernel in $KBUILD_DIR; run make build first"
	rm -rf "$WORK"
	mkdir -p "$WORK"
	build_programs "$@"

	timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -m 1G -smp 2 -no-reboot -nographic \
		-nodefaults -accel tcg -serial file:"$serial" \
		-append "console=ttyS0 liveupdate=on panic=-1" \
		-kernel "$KBUILD_DIR/arch/x86/boot/bzImage" \
		-initrd "$WORK/initrd.cpio" || status=$?
	if [[ $status -eq 124 ]]; then
		echo "QEMU timed out after ${QEMU_TIMEOUT}s; last lines of $serial:" >&2
		tail -n 25 "$serial" >&2
		return 1
	fi
	if ! grep -q KSELFTEST-DONE "$serial"; then
		echo "the VM stopped before its tests finished; last lines of $serial:" >&2
		tail -n 25 "$serial" >&2
		return 1
	fi

	for name in "$@"; do
		exit_code=$(tr -d '\r' <"$serial" |
			    sed -n "s|^KSELFTEST-EXIT /tests/${name//\//_} \([0-9-]*\)$|\1|p")
		case $exit_code in
		0) log "PASS $name" ;;
		4) log "SKIP $name" ;;
		*) log "FAIL $name (exit status ${exit_code:-missing})"
		   tr -d '\r' <"$serial" |
			sed -n "/^KSELFTEST-START \/tests\/${name//\//_}$/,/^KSELFTEST-EXIT/p" |
			grep -E '^(not ok|# )' | tail -n 20 >&2
		   failed=1 ;;
		esac
	done
	return "$failed"
}

main "$@"
