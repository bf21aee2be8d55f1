#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The full verdict, in suites:
#   series:     compose, checkpatch --strict on every patch, git am of the
#               mailed series onto the base, shellcheck of the tooling, the
#               documentation pages, git am and build on Debian's 7.2.y
#   matrix:     the build matrix, W=1 and sparse, bisection, kernel-doc
#   kernel:     the kernel build
#   kexec:      kexec tests through the upstream vmtest.sh, ours and the
#               upstream LUO tests
#   kselftest:  tests that need a LUO kernel but no kexec, in one VM each
#   debug:      the debug kernel (KASAN, KMEMLEAK, lockdep, KUnit) through a
#               kexec with damaged handover slots
#   systemd:    Debian sid's systemd keeps a service's eventfds in its file
#               descriptor store across systemctl kexec (harness/systemd.sh)
# Prints the pass and fail count of each suite, then the line
# "N passed, M failed[, K skipped]", and exits non-zero on any failure.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

KEXEC_TESTS=(luo_kexec_eventfd luo_kexec_eventfd_many luo_kexec_eventfd_writers
	     luo_kexec_simple luo_multi_session luo_stress_files luo_stress_sessions)
KSELFTESTS=(liveupdate/luo_eventfd liveupdate/liveupdate filesystems/eventfd/eventfd_test)
SUITES=(series matrix kernel kexec kselftest debug systemd)

passed=0
failed=0
skipped=0
declare -A suite_passed suite_failed suite_skipped

# run_step SUITE NAME COMMAND... runs one check and records its result.
run_step() {
	local suite=$1 name=$2
	local start=$SECONDS
	local status=0

	shift 2
	log "RUN  $name"
	"$@" || status=$?
	case $status in
	0)
		passed=$((passed + 1))
		suite_passed[$suite]=$((${suite_passed[$suite]:-0} + 1))
		log "PASS $name ($((SECONDS - start))s)" ;;
	4)
		skipped=$((skipped + 1))
		suite_skipped[$suite]=$((${suite_skipped[$suite]:-0} + 1))
		log "SKIP $name ($((SECONDS - start))s)" ;;
	*)
		failed=$((failed + 1))
		suite_failed[$suite]=$((${suite_failed[$suite]:-0} + 1))
		log "FAIL $name ($((SECONDS - start))s)" ;;
	esac
	return "$status"
}

# not_run SUITE COUNT REASON counts checks that could not run as failed.
not_run() {
	failed=$((failed + $2))
	suite_failed[$1]=$((${suite_failed[$1]:-0} + $2))
	log "FAIL $2 checks of suite $1 not run: $3"
}

# Print the files that a commit of the composed tree adds.
added_files() {
	git -C "$TREE_DIR" show --diff-filter=A --name-only --format= "$1"
}

# A file is covered when a MAINTAINERS section other than the catch-all
# "THE REST" matches it.
is_covered() {
	(cd "$TREE_DIR" && perl scripts/get_maintainer.pl --no-git \
		--no-git-fallback --sections -f "$1" 2>/dev/null) |
		grep -v -e '^[A-Z]:' -e '^$' -e '^THE REST$' | grep -q .
}

# checkpatch_patch PATCH COMMIT runs checkpatch.pl --strict on one patch.
# It passes when checkpatch reports nothing, or when its only finding is
# FILE_PATH_CHANGES ("does MAINTAINERS need updating?") and an existing
# MAINTAINERS section already covers every file the patch adds.
checkpatch_patch() {
	local patch=$1 commit=$2
	local out types file

	# checkpatch.pl runs scripts/spdxcheck.py with the first python3 on
	# PATH; Debian's python3 is the one that has ply and git.
	out=$(cd "$TREE_DIR" && PATH=/usr/bin:/bin:$PATH perl scripts/checkpatch.pl \
		--strict --show-types --quiet "$patch" 2>&1) || true
	[[ -z $out ]] && return 0

	types=$(grep -oE '^(ERROR|WARNING|CHECK):[A-Z_]+' <<<"$out" | sort -u)
	if [[ $types == WARNING:FILE_PATH_CHANGES ]]; then
		while read -r file; do
			is_covered "$file" || {
				printf '%s\n' "$out" >&2
				echo "$file is not covered by any MAINTAINERS section" >&2
				return 1
			}
		done < <(added_files "$commit")
		log "     every file added by $(basename "$patch") is covered by MAINTAINERS already"
		return 0
	fi

	printf '%s\n' "$out" >&2
	return 1
}

# Apply the mailed series with git am onto the base, in a worktree of the
# composed tree, as a maintainer would.
git_am_on_base() {
	local dir=$BUILD_DIR/am-check
	local log=$BUILD_DIR/am-check.log

	if ! git -C "$dir" rev-parse --git-dir >/dev/null 2>&1; then
		rm -rf "$dir"
		git -C "$TREE_DIR" worktree prune
		git -C "$TREE_DIR" worktree add -q --detach "$dir" "$BASE_TAG"
	fi
	git -C "$dir" am --abort >/dev/null 2>&1 || true
	git -C "$dir" checkout -q -f --detach "$BASE_TAG"
	# The cover letter has no diff, and git am stops on it.
	if ! git -C "$dir" am -q "$SERIES_OUT"/000[1-9]-*.patch >"$log" 2>&1; then
		cat "$log" >&2
		git -C "$dir" am --abort >/dev/null 2>&1 || true
		echo "git am of $SERIES_OUT onto the base failed" >&2
		return 1
	fi
	if [[ -n $(git -C "$dir" diff HEAD "$(git -C "$TREE_DIR" rev-parse HEAD)") ]]; then
		echo "git am of $SERIES_OUT gives a tree that differs from the composed one" >&2
		return 1
	fi
	log "     git am applied $(git -C "$dir" rev-list --count "$BASE_TAG..HEAD") patches; the tree equals the composed one"
}

summary() {
	local suite line

	log "make check finished"
	for suite in "${SUITES[@]}"; do
		line="${suite_passed[$suite]:-0} passed, ${suite_failed[$suite]:-0} failed"
		[[ -z ${suite_skipped[$suite]:-} ]] || line+=", ${suite_skipped[$suite]} skipped"
		printf '  %-10s %s\n' "$suite:" "$line"
	done
	line="$passed passed, $failed failed"
	[[ $skipped -eq 0 ]] || line+=", $skipped skipped"
	echo "$line"
}

main() {
	local patch name index
	local commits=()

	need_build_tools

	if ! run_step series compose "$REPO_DIR/harness/compose.sh"; then
		summary
		exit 1
	fi

	mapfile -t commits < <(git -C "$TREE_DIR" rev-list --reverse "$BASE_TAG..HEAD")
	index=0
	for patch in "$SERIES_OUT"/[0-9][0-9][0-9][0-9]-*.patch; do
		name=$(basename "$patch")
		[[ $name == 0000-cover-letter.patch ]] && continue
		run_step series "checkpatch --strict $name" \
			checkpatch_patch "$patch" "${commits[index]}" || true
		index=$((index + 1))
	done
	run_step series "git am onto the base" git_am_on_base || true
	run_step series "shellcheck harness" shellcheck -x -P "$REPO_DIR" \
		"$REPO_DIR"/harness/*.sh "$REPO_DIR/.ci/run" || true
	run_step series "documentation (sphinx-build)" "$REPO_DIR/harness/docs.sh" || true
	run_step series "git am and build on Debian 7.2.y" "$REPO_DIR/harness/distro.sh" || true

	if run_step kernel "kernel build" "$REPO_DIR/harness/build.sh"; then
		for name in "${KEXEC_TESTS[@]}"; do
			run_step kexec "vmtest $name" "$REPO_DIR/harness/run-vm-test.sh" "$name" || true
		done
		for name in "${KSELFTESTS[@]}"; do
			run_step kselftest "kselftest $name" \
				"$REPO_DIR/harness/run-vm-kselftests.sh" "$name" || true
		done
	else
		not_run kexec ${#KEXEC_TESTS[@]} "the kernel build failed"
		not_run kselftest ${#KSELFTESTS[@]} "the kernel build failed"
	fi

	run_step matrix "build matrix: four configurations" "$REPO_DIR/harness/matrix.sh" configs || true
	run_step matrix "build matrix: every patch on its own" "$REPO_DIR/harness/matrix.sh" bisect || true
	run_step matrix "build matrix: W=1 and sparse warnings" "$REPO_DIR/harness/matrix.sh" warnings || true
	run_step matrix "build matrix: kernel-doc -Wall" "$REPO_DIR/harness/matrix.sh" kerneldoc || true

	if run_step debug "debug kernel build" "$REPO_DIR/harness/debug.sh" build; then
		run_step debug "debug kernel kexec with damaged slots" \
			"$REPO_DIR/harness/debug.sh" run || true
	else
		not_run debug 1 "the debug kernel build failed"
	fi

	if run_step systemd "systemd test kernel build" "$REPO_DIR/harness/systemd.sh" build &&
	   run_step systemd "systemd root file system (debootstrap sid)" "$REPO_DIR/harness/systemd.sh" rootfs; then
		run_step systemd "systemd FD store across systemctl kexec" \
			"$REPO_DIR/harness/systemd.sh" run || true
	else
		not_run systemd 1 "the systemd test kernel or root file system could not be made"
	fi

	summary
	[[ $failed -eq 0 ]]
}

main "$@"
