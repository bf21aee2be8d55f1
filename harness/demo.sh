#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Show the series at work: compose and build the kernel, boot it under
# QEMU, preserve eventfds in several states with LUO, kexec into the same
# kernel, retrieve them and print each eventfd's state before and after.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

TEST=luo_kexec_eventfd

# Turn the test's "# eventfd-before ..." and "# eventfd-after ..." lines
# into one table row per token.
print_table() {
	local serial=$1

	awk '
	function field(name,    i, kv) {
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == name)
				return substr($i, length(name) + 2)
		}
		return "-"
	}
	# The serial console ends lines with CR LF.
	{ sub(/\r$/, "") }
	$2 == "eventfd-before" {
		tok = field("token")
		if (!(tok in name)) order[n++] = tok
		name[tok] = field("case"); mode_b[tok] = field("mode"); count_b[tok] = field("count")
	}
	$2 == "eventfd-after" {
		tok = field("token")
		if (!(tok in name)) { order[n++] = tok; name[tok] = field("case") }
		mode_a[tok] = field("mode"); count_a[tok] = field("count"); verdict[tok] = field("verdict")
	}
	END {
		fmt = "%-7s %-21s %-19s %-19s %-19s %-19s %s\n"
		printf fmt, "token", "case", "mode before", "mode after", "count before", "count after", "verdict"
		for (i = 0; i < n; i++) {
			t = order[i]
			printf fmt, t, name[t], mode_b[t], (t in mode_a ? mode_a[t] : "-"),
			       count_b[t], (t in count_a ? count_a[t] : "-"),
			       (t in verdict ? verdict[t] : "MISSING")
		}
	}' "$serial"
}

main() {
	local serial=$BUILD_DIR/vm/$TEST/qemu.serial
	local status=0

	"$REPO_DIR/harness/compose.sh"
	"$REPO_DIR/harness/build.sh"

	log "booting the VM: preserve eventfds, kexec, retrieve (vmtest.sh -T $TEST)"
	"$REPO_DIR/harness/run-vm-test.sh" "$TEST" || status=$?
	[[ -f $serial ]] || die "no serial log at $serial; see $BUILD_DIR/vm/$TEST.log"

	echo
	echo "What happened in the VM (from its serial console):"
	tr -d '\r' <"$serial" |
		grep -E '^INIT: Starting|^# \[STAGE [12]\] (Creating session|Preserving|Changing|Retrieving|Bulk|Finishing session)|^luo: Retrieved|Starting new kernel|^# eventfd preservation:' |
		sed -e 's/^# //' -e 's/^INIT: Starting Stage 1/first kernel: stage 1 (test program)/' \
		-e 's/^.*Starting new kernel$/kexec: the first kernel jumps into the new one/' \
		-e 's/^luo: Retrieved/new kernel boots: luo: Retrieved/' \
		-e 's/^INIT: Starting Stage 2/new kernel: stage 2 (test program)/' -e 's/^/  /'
	echo
	echo "Each eventfd before the reboot and after its retrieve in the new kernel"
	echo "(counts from fdinfo, before anything reads them; verdict from the test's"
	echo "checks of read values, EAGAIN, F_GETFL and poll; never-retrieved is left"
	echo "in the session and released when the session is finished):"
	echo
	print_table "$serial"
	echo
	echo "The series that ran, in $SERIES_OUT/:"
	git -C "$TREE_DIR" log --reverse --format='  %s' "$BASE_TAG..HEAD"
	echo "  (apply it to your tree with: git am $SERIES_OUT/000[1-9]-*.patch)"
	echo

	if [[ $status -eq 0 ]]; then
		echo "demo: every eventfd came back with its count and mode (serial log: $serial)"
	else
		echo "demo: FAILED, see the serial log $serial"
	fi
	return "$status"
}

main "$@"
