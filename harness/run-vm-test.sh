#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run one LUO selftest under QEMU with the upstream vmtest.sh of the
# composed tree: boot, run stage 1, kexec, run stage 2.
#
# Usage: run-vm-test.sh TEST_NAME
#
# The serial log is kept in build/vm/TEST_NAME/qemu.serial. Exit status is
# vmtest.sh's: 0 passed, 4 skipped, anything else failed. vmtest.sh stops
# QEMU after 30 seconds and then reports a failure.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

main() {
	local name=${1:?usage: run-vm-test.sh TEST_NAME}
	local work=$BUILD_DIR/vm/$name
	local log=$work.log
	local status=0

	need_build_tools
	[[ -f $TREE_DIR/$SELFTEST_DIR/$name.c ]] ||
		die "$TREE_DIR/$SELFTEST_DIR/$name.c not found; run make compose first"

	rm -rf "$work" "$log"
	mkdir -p "$(dirname "$work")"
	"$TREE_DIR/$SELFTEST_DIR/vmtest.sh" -d "$KBUILD_DIR" -j "$JOBS" \
		-T "$name" -w "$work" -k >"$log" 2>&1 || status=$?

	if [[ $status -ne 0 && $status -ne 4 ]]; then
		echo "--- $name: vmtest.sh exited $status; last lines of $log:" >&2
		tail -n 5 "$log" >&2
		if [[ -f $work/qemu.serial ]]; then
			echo "--- last lines of the serial log $work/qemu.serial:" >&2
			grep -v '^\s*$' "$work/qemu.serial" | tail -n 25 >&2
		fi
	fi
	return "$status"
}

main "$@"
