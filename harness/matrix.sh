#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the series in every configuration that matters and at every patch,
# with small kernels (tinyconfig plus the options under test) so that the
# whole matrix takes minutes:
#
#   configs    vmlinux with CONFIG_LIVEUPDATE_EVENTFD=y, with it =n, with
#              CONFIG_LIVEUPDATE=n and with CONFIG_EVENTFD=n
#   warnings   W=1 and sparse on the series' C files; warnings in a file
#              that the base commit already has count only if it lacks them
#   bisect     vmlinux, and the selftests touched so far, at every commit
#   kerneldoc  scripts/kernel-doc -Wall on the series' C files and headers,
#              with the same rule for files that the base already has
#
# Usage: matrix.sh [configs|warnings|bisect|kerneldoc|clean]
# Without an argument it runs the four checks. It prints PASS, FAIL or SKIP
# per check and exits with 1 if a check failed, with 4 (a SKIP for
# check.sh) if none failed but one was skipped, and with 0 otherwise.
#
# Everything happens in build/matrix/. There, linux/ is a git worktree of
# the composed tree that moves through the series and rests at its last
# commit, linux-base/ is one at the base commit ($BASE_TAG from lib.sh),
# and out/ has one kernel build per configuration. The composed tree and
# build/kernel are only read.
#
# Settings:
#   SPARSE=PATH          the sparse binary (default: sparse from Debian)
#   MATRIX_KEEP_EDITS=1  keep uncommitted edits in the matrix worktrees
#                        instead of resetting them to the commit under test

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

MATRIX_DIR=$BUILD_DIR/matrix
SERIES_TREE=$MATRIX_DIR/linux
BASE_TREE=$MATRIX_DIR/linux-base
OUT_DIR=$MATRIX_DIR/out
OBJ_DIR=$MATRIX_DIR/obj
CONFIG_CACHE=$MATRIX_DIR/configs
LOG_DIR=$MATRIX_DIR/logs
SPARSE=${SPARSE:-sparse}
MATRIX_KEEP_EDITS=${MATRIX_KEEP_EDITS:-0}

# The configurations, in build order. Each is tinyconfig with the options
# of CONFIG_REQUEST set, then olddefconfig, after which .config must have
# every value of CONFIG_REQUEST and CONFIG_EXPECT. The first one enables all the
# code of the series and is the one that the other checks build.
#
# KUNIT=y is in all of them because include/linux/sched.h tests
# CONFIG_KUNIT: a configuration that differs in it recompiles nearly every
# object when it starts from a copy of another one's build (see
# use_build_dir). CONFIG_EVENTFD is tested there too, so eventfd-n costs
# about a full build anyway.
CONFIG_NAMES=(liveupdate-eventfd-y liveupdate-eventfd-n liveupdate-n eventfd-n)
FULL_CONFIG=liveupdate-eventfd-y
BASE_OPTIONS="64BIT=y KEXEC_FILE=y KEXEC_HANDOVER=y KUNIT=y"
declare -A CONFIG_TITLE=(
	[liveupdate-eventfd-y]="LIVEUPDATE_EVENTFD=y"
	[liveupdate-eventfd-n]="LIVEUPDATE_EVENTFD=n (LIVEUPDATE=y)"
	[liveupdate-n]="LIVEUPDATE=n"
	[eventfd-n]="EVENTFD=n (EXPERT=y, LIVEUPDATE=y)"
)
declare -A CONFIG_REQUEST=(
	[liveupdate-eventfd-y]="$BASE_OPTIONS EVENTFD=y LIVEUPDATE=y LIVEUPDATE_EVENTFD=y LIVEUPDATE_EVENTFD_KUNIT_TEST=y"
	[liveupdate-eventfd-n]="$BASE_OPTIONS EVENTFD=y LIVEUPDATE=y LIVEUPDATE_EVENTFD=n"
	[liveupdate-n]="$BASE_OPTIONS EVENTFD=y LIVEUPDATE=n"
	[eventfd-n]="$BASE_OPTIONS EXPERT=y EVENTFD=n LIVEUPDATE=y"
)
# LIVEUPDATE_EVENTFD defaults to the value of LIVEUPDATE, so with
# EVENTFD=n only its "depends on EVENTFD" keeps it off.
declare -A CONFIG_EXPECT=(
	[liveupdate-eventfd-y]=""
	[liveupdate-eventfd-n]=""
	[liveupdate-n]="LIVEUPDATE_EVENTFD=n"
	[eventfd-n]="LIVEUPDATE_EVENTFD=n"
)

passed=0
failed=0
skipped=0
current_build=

usage() {
	echo "usage: $0 [configs|warnings|bisect|kerneldoc|clean]"
	echo "Without an argument, runs configs, bisect, warnings and kerneldoc."
}

# run_check NAME COMMAND... runs one check and records its result. Status
# 0 is a pass, 4 a skip and anything else a failure.
run_check() {
	local name=$1
	local start=$SECONDS
	local status=0

	shift
	log "RUN  $name"
	"$@" || status=$?
	release_build_dir
	case $status in
	0) passed=$((passed + 1)); log "PASS $name ($((SECONDS - start))s)" ;;
	4) skipped=$((skipped + 1)); log "SKIP $name ($((SECONDS - start))s)" ;;
	*) failed=$((failed + 1)); log "FAIL $name ($((SECONDS - start))s)" ;;
	esac
}

check_tree() {
	[[ -d $TREE_DIR ]] || die "$TREE_DIR not found; run make compose first"
	git -C "$TREE_DIR" rev-parse -q --verify "$BASE_TAG^{commit}" >/dev/null ||
		die "$TREE_DIR has no $BASE_TAG; run make compose to compose the series again"
	if ! git -C "$TREE_DIR" cat-file -e "$BASE_TAG:Makefile" 2>/dev/null ||
	   ! git -C "$TREE_DIR" cat-file -e "$BASE_TAG:kernel/fork.c" 2>/dev/null ||
	   ! git -C "$TREE_DIR" cat-file -e "$BASE_TAG:arch/x86/Kconfig" 2>/dev/null; then
		die "$TREE_DIR at $BASE_TAG is not a Linux kernel tree with arch/x86; run make clean and make compose"
	fi
	[[ -n $(git -C "$TREE_DIR" rev-list "$BASE_TAG..HEAD") ]] ||
		die "$TREE_DIR has no commit after $BASE_TAG; run make compose to apply the series"
}

# Take the lock that keeps two runs from sharing the worktrees and builds.
lock_matrix() {
	exec {lock_fd}>"$MATRIX_DIR/lock"
	flock -n "$lock_fd" ||
		die "another matrix.sh is running on $MATRIX_DIR; wait for it to finish"
}

# same_repository DIR succeeds when DIR is a worktree of the composed
# tree's repository. Composing the tree from a new base replaces that
# repository, and then the old worktrees point nowhere.
same_repository() {
	local common

	common=$(git -C "$1" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) ||
		return 1
	[[ $common == "$(git -C "$TREE_DIR" rev-parse --path-format=absolute --git-common-dir)" ]]
}

# checkout_commit DIR COMMIT moves a matrix worktree to COMMIT. Git
# rewrites only the files that differ, so the builds stay incremental.
checkout_commit() {
	local dir=$1 commit=$2
	local edits

	if [[ $MATRIX_KEEP_EDITS != 1 ]]; then
		git -C "$dir" checkout -q -f --detach "$commit" ||
			die "git checkout $commit failed in $dir; remove $dir and run again"
		return 0
	fi

	git -C "$dir" checkout -q --detach "$commit" ||
		die "git checkout $commit in $dir conflicts with its uncommitted edits; drop them or run without MATRIX_KEEP_EDITS=1"
	edits=$(git -C "$dir" status --porcelain --untracked-files=no | awk '{ print $2 }' | paste -sd ' ')
	[[ -z $edits ]] || log "     MATRIX_KEEP_EDITS=1: $dir has uncommitted edits in $edits"
}

ensure_worktree() {
	local dir=$1 commit=$2

	if [[ -e $dir ]] && ! same_repository "$dir"; then
		log "removing $dir: it is not a worktree of $TREE_DIR (the tree was composed from a new base)"
		rm -rf "$dir"
	fi
	if [[ ! -e $dir ]]; then
		git -C "$TREE_DIR" worktree prune
		log "adding the worktree $dir at $(git -C "$TREE_DIR" rev-parse --short "$commit")"
		git -C "$TREE_DIR" worktree add -q --detach "$dir" "$commit" ||
			die "git worktree add $dir failed; check the space in $MATRIX_DIR and run again"
		return 0
	fi
	checkout_commit "$dir" "$commit"
}

# Kbuild always runs in one directory, $OBJ_DIR, and each configuration's
# build is moved there and back. objtool's build records its absolute
# output path, so a build directory at a new path rebuilds objtool and
# then every object. At one fixed path, a new configuration can start from
# a copy of another configuration's build, and kbuild recompiles only what
# the changed options affect.
# NOTE: such a build is incremental, not clean. A generated file that
# kbuild does not track could hide an error that a clean build would show.
#
# use_build_dir NAME [SEED] moves out/NAME to $OBJ_DIR, first copying
# out/SEED to out/NAME when NAME has no build yet.
use_build_dir() {
	local name=$1 seed=${2:-}

	[[ ! -e $OBJ_DIR ]] || die "$OBJ_DIR is in use; remove it and run again"
	if [[ ! -d $OUT_DIR/$name && -n $seed && -d $OUT_DIR/$seed ]]; then
		log "     starting the $name build from a copy of the $seed build"
		cp -a "$OUT_DIR/$seed" "$OUT_DIR/$name" || die "cp -a $OUT_DIR/$seed failed"
	fi
	mkdir -p "$OUT_DIR/$name"
	mv "$OUT_DIR/$name" "$OBJ_DIR" || die "mv $OUT_DIR/$name $OBJ_DIR failed"
	echo "$name" >"$OBJ_DIR/.matrix-build"
	current_build=$name
}

release_build_dir() {
	[[ -n $current_build ]] || return 0
	mv "$OBJ_DIR" "$OUT_DIR/$current_build" ||
		die "mv $OBJ_DIR $OUT_DIR/$current_build failed"
	current_build=
}

# A run that was killed can leave a build in $OBJ_DIR, so move it back.
recover_build_dir() {
	local name

	[[ -e $OBJ_DIR ]] || return 0
	name=$(cat "$OBJ_DIR/.matrix-build" 2>/dev/null || true)
	if [[ -n $name && ! -e $OUT_DIR/$name ]]; then
		log "moving the $name build left by an interrupted run back to $OUT_DIR"
		mv "$OBJ_DIR" "$OUT_DIR/$name"
	else
		rm -rf "$OBJ_DIR"
	fi
}

# make_kernel TREE ARGUMENT... runs make for TREE in the build in $OBJ_DIR.
make_kernel() {
	local tree=$1

	shift
	make -C "$tree" O="$OBJ_DIR" ARCH=x86 -j"$JOBS" "$@"
}

# defined_symbols TREE SYMBOL... prints, on one line, the SYMBOLs that a
# Kconfig file of TREE defines as checked out. One git grep serves all of
# them, because each one takes about 0.3 s on a kernel tree.
defined_symbols() {
	local tree=$1 symbol
	local patterns=()

	shift
	for symbol in "$@"; do
		patterns+=(-e "^[[:space:]]*(menu)?config ${symbol}[[:space:]]*$")
	done
	git -C "$tree" grep -h -E "${patterns[@]}" -- ':(glob)**/Kconfig*' |
		awk '{ print $2 }' | sort -u | paste -sd ' ' || true
}

# check_config_values CONFIG DEFINED NAME=VALUE... compares .config with
# the expected values. An =y option must be set and an =n one must not.
# Symbols missing from the list DEFINED, as in the commits before the one
# that adds them, are skipped.
check_config_values() {
	local config=$1 defined=$2
	local option symbol value actual status=0

	shift 2
	for option in "$@"; do
		symbol=${option%=*}
		value=${option#*=}
		if [[ " $defined " != *" $symbol "* ]]; then
			log "     CONFIG_$symbol is not defined at this commit, so its value is not checked"
			continue
		fi
		actual=$(grep -E "^(# )?CONFIG_${symbol}[= ]" "$config" || true)
		case $value in
		y) [[ $actual == "CONFIG_$symbol=y" ]] ;;
		n) [[ $actual != "CONFIG_$symbol="* ]] ;;
		*) die "invalid value in $option in harness/matrix.sh; use y or n" ;;
		esac || {
			echo "CONFIG_$symbol: expected $value, actual: ${actual:-no line, because a dependency is not met}; check its dependencies in Kconfig" >&2
			status=1
		}
	done
	return "$status"
}

# make_config CONFIG TREE writes the .config of configuration CONFIG for
# TREE into $OBJ_DIR and checks its values. The result is cached by the
# content of TREE, the options and the toolchain, so that a rerun skips
# the Kconfig runs.
make_config() {
	local name=$1 tree=$2
	local log=$LOG_DIR/kconfig.log
	local request=() expect=() args=()
	local key cached option symbol defined

	read -r -a request <<<"${CONFIG_REQUEST[$name]}"
	read -r -a expect <<<"${CONFIG_EXPECT[$name]}"
	defined=$(defined_symbols "$tree" "${request[@]%=*}" "${expect[@]%=*}")
	key=$({
		echo "${request[*]}"
		git -C "$tree" rev-parse 'HEAD^{tree}'
		git -C "$tree" diff HEAD
		gcc --version | head -n 1
		ld --version | head -n 1
	} | sha256sum | cut -c 1-16)
	cached=$CONFIG_CACHE/$name-$key.config

	if [[ -f $cached ]]; then
		cmp -s "$cached" "$OBJ_DIR/.config" || cp "$cached" "$OBJ_DIR/.config"
	else
		if ! make_kernel "$tree" tinyconfig >"$log" 2>&1; then
			tail -n 20 "$log" >&2
			echo "make tinyconfig failed (log: $log)" >&2
			return 1
		fi
		for option in "${request[@]}"; do
			symbol=${option%=*}
			[[ " $defined " == *" $symbol "* ]] || continue
			case ${option#*=} in
			y) args+=(--enable "$symbol") ;;
			n) args+=(--disable "$symbol") ;;
			esac
		done
		"$tree/scripts/config" --file "$OBJ_DIR/.config" "${args[@]}"
		if ! make_kernel "$tree" olddefconfig >>"$log" 2>&1; then
			tail -n 20 "$log" >&2
			echo "make olddefconfig failed (log: $log)" >&2
			return 1
		fi
		mkdir -p "$CONFIG_CACHE"
		cp "$OBJ_DIR/.config" "$cached"
	fi
	check_config_values "$OBJ_DIR/.config" "$defined" "${request[@]}" "${expect[@]}"
}

# build_vmlinux TREE LOG builds vmlinux in $OBJ_DIR. The link fails on any
# symbol that the configuration leaves undefined.
build_vmlinux() {
	local tree=$1 log=$2
	local status=0

	log "     building vmlinux (log: $log)"
	make_kernel "$tree" vmlinux >"$log" 2>&1 || status=$?
	if [[ $status -ne 0 ]]; then
		grep -E 'error:|undefined reference|\*\*\* ' "$log" | head -n 20 >&2
		echo "expected vmlinux to build, but make vmlinux exited with status $status (log: $log)" >&2
		return 1
	fi
	log "     vmlinux built, $(grep -cE '^  (CC|AS) ' "$log") objects compiled"
}

# Every Kconfig symbol that the series adds must be enabled by the full
# configuration, or the code behind it would go unbuilt and unchecked.
check_series_symbols() {
	local symbol status=0

	while read -r symbol; do
		[[ " ${CONFIG_REQUEST[$FULL_CONFIG]} " == *" $symbol=y "* ]] && continue
		echo "the series adds CONFIG_$symbol: expected $symbol=y in CONFIG_REQUEST[$FULL_CONFIG] of harness/matrix.sh, actual: not requested; add it there" >&2
		status=1
	done < <(git -C "$TREE_DIR" diff "$BASE_COMMIT" "$HEAD_COMMIT" -- ':(glob)**/Kconfig*' |
		 sed -n -E 's/^\+[[:space:]]*(menu)?config[[:space:]]+([A-Za-z0-9_]+).*/\2/p')
	return "$status"
}

# check_config CONFIG [SEED] builds vmlinux in one configuration at the
# last commit of the series.
check_config() {
	local name=$1 seed=${2:-}
	local status=0

	checkout_commit "$SERIES_TREE" "$HEAD_COMMIT"
	if [[ $name == "$FULL_CONFIG" ]]; then
		check_series_symbols || status=1
	fi
	use_build_dir "$name" "$seed"
	make_config "$name" "$SERIES_TREE" || return 1
	build_vmlinux "$SERIES_TREE" "$LOG_DIR/config-$name.log" || return 1
	return "$status"
}

run_configs() {
	local name seed=

	for name in "${CONFIG_NAMES[@]}"; do
		run_check "config ${CONFIG_TITLE[$name]}" check_config "$name" "$seed"
		seed=$name
	done
}

# build_selftests TREE COMMIT LOG builds every selftest directory that the
# series has touched up to COMMIT against the headers of the build in
# $OBJ_DIR. The selftest Makefiles leave their .o files in the worktree.
build_selftests() {
	local tree=$1 commit=$2 log=$3
	local dirs=() dir status=0

	mapfile -t dirs < <(git -C "$TREE_DIR" diff --name-only "$BASE_COMMIT" "$commit" -- tools/testing/selftests/ |
			    cut -d / -f 4 | sort -u)
	[[ ${#dirs[@]} -gt 0 ]] || return 0
	make_kernel "$tree" headers >"$log" 2>&1 || status=$?
	if [[ $status -ne 0 ]]; then
		tail -n 20 "$log" >&2
		echo "make headers failed with status $status (log: $log)" >&2
		return 1
	fi
	for dir in "${dirs[@]}"; do
		[[ -d $tree/tools/testing/selftests/$dir ]] || continue
		log "     building the $dir selftests (log: $log)"
		make -C "$tree/tools/testing/selftests/$dir" -j"$JOBS" \
			OUTPUT="$MATRIX_DIR/selftests/$dir" \
			KHDR_INCLUDES="-isystem $OBJ_DIR/usr/include" >>"$log" 2>&1 || status=$?
		if [[ $status -ne 0 ]]; then
			grep -E 'error:|undefined reference|\*\*\* ' "$log" | head -n 20 >&2
			echo "expected the $dir selftests to build, but make exited with status $status (log: $log)" >&2
			return 1
		fi
	done
}

# check_commit COMMIT builds vmlinux in the full configuration with the
# worktree at COMMIT, then the selftests touched so far.
check_commit() {
	local commit=$1
	local short

	short=$(git -C "$TREE_DIR" rev-parse --short "$commit")
	checkout_commit "$SERIES_TREE" "$commit"
	use_build_dir "$FULL_CONFIG"
	make_config "$FULL_CONFIG" "$SERIES_TREE" || return 1
	build_vmlinux "$SERIES_TREE" "$LOG_DIR/bisect-$short.log" || return 1
	build_selftests "$SERIES_TREE" "$commit" "$LOG_DIR/bisect-$short-selftests.log"
}

run_bisect() {
	local commit index=0

	for commit in "${SERIES_COMMITS[@]}"; do
		index=$((index + 1))
		run_check "bisect $index/${#SERIES_COMMITS[@]} $(git -C "$TREE_DIR" log -1 --format='%h %s' "$commit")" \
			check_commit "$commit"
	done
}

# series_files PATHSPEC... prints the files that the series adds or
# changes, outside tools/ (the selftests build with their own flags).
series_files() {
	git -C "$TREE_DIR" diff --name-only --diff-filter=d "$BASE_COMMIT" "$HEAD_COMMIT" -- \
		"$@" ':(exclude)tools/'
}

exists_in_base() {
	git -C "$TREE_DIR" cat-file -e "$BASE_COMMIT:$1" 2>/dev/null
}

# series_objects prints the objects that compile the series' C files in
# the build in $OBJ_DIR. A C file that another one includes, as a KUnit
# test can be, maps to the objects whose dependency lists name it.
series_objects() {
	local file cmd found
	local objects=()

	while read -r file; do
		if [[ -f $OBJ_DIR/${file%.c}.o ]]; then
			objects+=("${file%.c}.o")
			continue
		fi
		found=0
		while read -r cmd; do
			cmd=${cmd#"$OBJ_DIR"/}
			objects+=("$(dirname "$cmd")/$(basename "$cmd" .cmd | sed 's/^\.//')")
			found=1
		done < <(grep -rlF --include='.*.o.cmd' -e "$SERIES_TREE/$file" "$OBJ_DIR" || true)
		if [[ $found -eq 0 ]]; then
			echo "expected $file to be compiled in the $FULL_CONFIG configuration, but no object includes it; request the option that builds it in CONFIG_REQUEST[$FULL_CONFIG] of harness/matrix.sh" >&2
			return 1
		fi
	done < <(series_files '*.c')
	printf '%s\n' "${objects[@]}" | sort -u
}

# touched_warnings TREE LOG prints the warning and error lines of LOG that
# name a file of the series, with paths relative to TREE and without line
# and column numbers, so that the base and HEAD compare line by line.
# objtool names the object, which counts for its C file.
touched_warnings() {
	local tree=$1 log=$2

	grep -E '(warning|error):' "$log" |
		awk -v prefix="$tree/" '{
			while ((i = index($0, prefix)) > 0)
				$0 = substr($0, 1, i - 1) substr($0, i + length(prefix))
			print
		}' |
		sed -E -e 's#([A-Za-z0-9_./-]+\.[ch]):[0-9]+(:[0-9]+)?:#\1:#g' \
		       -e 's#^([A-Za-z0-9_./-]+)\.o: #\1.c: #' |
		awk -F ': ' 'NR == FNR { series[$0] = 1; next } $1 in series' \
			<(series_files '*.c' '*.h') - || true
}

# compare_warnings KIND HEAD_LOG BASE_LOG reports, per file of the series,
# the warnings at the base and at HEAD, and fails on any that the base
# does not have. A file that the series adds must have none.
compare_warnings() {
	local kind=$1 head_log=$2 base_log=$3
	local file head base new status=0

	while read -r file; do
		head=$(touched_warnings "$SERIES_TREE" "$head_log" | awk -F ': ' -v f="$file" '$1 == f' | sort)
		if exists_in_base "$file"; then
			base=$(touched_warnings "$BASE_TREE" "$base_log" | awk -F ': ' -v f="$file" '$1 == f' | sort)
			new=$(comm -13 <(echo "$base") <(echo "$head") | sed '/^$/d')
			log "     $file: $(count_lines "$base") $kind warnings at $BASE_TAG, $(count_lines "$head") at HEAD, $(count_lines "$new") new"
		else
			new=$head
			log "     $file (new): $(count_lines "$new") $kind warnings"
		fi
		if [[ -n $new ]]; then
			printf '%s\n' "$new" >&2
			status=1
		fi
	done < <(series_files '*.c' '*.h')
	if [[ $status -ne 0 ]]; then
		echo "expected no $kind warning in the series' files beyond those at $BASE_TAG; actual: the warnings above (logs: $head_log, $base_log)" >&2
	fi
	return "$status"
}

count_lines() {
	if [[ -z $1 ]]; then
		echo 0
	else
		printf '%s\n' "$1" | wc -l
	fi
}

# prepare_head_build moves the series worktree to HEAD and brings the full
# configuration's vmlinux up to date, so that its objects show which ones
# compile the series' files. The build stays in $OBJ_DIR.
prepare_head_build() {
	checkout_commit "$SERIES_TREE" "$HEAD_COMMIT"
	use_build_dir "$FULL_CONFIG"
	make_config "$FULL_CONFIG" "$SERIES_TREE" || return 1
	build_vmlinux "$SERIES_TREE" "$LOG_DIR/warnings-vmlinux.log"
}

# prepare_base_build moves the base worktree to the base and configures
# its build like the full configuration. The build stays in $OBJ_DIR.
prepare_base_build() {
	ensure_worktree "$BASE_TREE" "$BASE_COMMIT"
	use_build_dir base
	make_config "$FULL_CONFIG" "$BASE_TREE"
}

# compile_objects TREE LOG KIND OBJECT... compiles the objects in $OBJ_DIR
# with W=1 and checks that make compiled (KIND gcc) or checked (KIND
# sparse) every one of them. Objects are deleted first for gcc, because
# warnings appear only when a file is compiled. C=2 runs sparse on every
# object named, whether make compiles it or not.
# NOTE: past the kernel's version gate, the sparse path has not been run,
# because this kernel rejects sparse 0.6.4, the one Debian 12 ships.
compile_objects() {
	local tree=$1 log=$2 kind=$3
	local object source status=0
	local args=(W=1)

	shift 3
	if [[ $kind == gcc ]]; then
		for object in "$@"; do
			rm -f "$OBJ_DIR/$object"
		done
	else
		make_kernel "$tree" W=1 "$@" >"$log.compile" 2>&1 || true
		args+=(C=2 CHECK="$SPARSE")
	fi
	make_kernel "$tree" "${args[@]}" "$@" >"$log" 2>&1 || status=$?
	if [[ $status -ne 0 ]]; then
		grep -E 'error:|undefined reference|\*\*\* ' "$log" | head -n 20 >&2
		echo "expected make ${args[*]} $* to succeed, but it exited with status $status (log: $log)" >&2
		return 1
	fi
	[[ $kind == sparse ]] && grep -q 'is not available or not up to date' "$log" && return 4

	for object in "$@"; do
		if [[ $kind == gcc ]]; then
			grep -qxF "  CC      $object" "$log" && continue
		else
			source=${object%.o}.c
			grep -qxF "  CHECK   $source" "$log" && continue
		fi
		echo "expected make ${args[*]} to process $object, but its log has no line for it (log: $log)" >&2
		return 1
	done
	if [[ $kind == sparse ]] && grep -q 'too many errors' "$log"; then
		echo "sparse stopped early with \"too many errors\", so its result is incomplete (log: $log)" >&2
		return 1
	fi
}

# check_warnings KIND compiles the series' objects at HEAD and, for the
# files that the base has, at the base, with W=1 for KIND gcc and with
# W=1 C=2 for KIND sparse, and compares the warnings.
check_warnings() {
	local kind=$1
	local head_log=$LOG_DIR/warnings-$kind-head.log
	local base_log=$LOG_DIR/warnings-$kind-base.log
	local objects=() base_objects=() object status=0

	prepare_head_build || return 1
	mapfile -t objects < <(series_objects)
	[[ ${#objects[@]} -gt 0 ]] || return 1
	log "     $kind on ${objects[*]} at HEAD (log: $head_log)"
	compile_objects "$SERIES_TREE" "$head_log" "$kind" "${objects[@]}" || status=$?
	release_build_dir
	if [[ $status -eq 4 ]]; then
		grep 'is not available or not up to date' "$head_log" >&2
		echo "the kernel's scripts/checker-valid.sh rejects $SPARSE $("$SPARSE" --version 2>&1 | head -n 1): it needs a sparse that parses __typeof_unqual__; set SPARSE to such a sparse to run this check" >&2
		return 4
	fi
	[[ $status -eq 0 ]] || return 1

	for object in "${objects[@]}"; do
		exists_in_base "${object%.o}.c" && base_objects+=("$object")
	done
	: >"$base_log"
	if [[ ${#base_objects[@]} -gt 0 ]]; then
		prepare_base_build || return 1
		log "     $kind on ${base_objects[*]} at $BASE_TAG (log: $base_log)"
		compile_objects "$BASE_TREE" "$base_log" "$kind" "${base_objects[@]}" || return 1
		release_build_dir
	fi
	compare_warnings "$kind" "$head_log" "$base_log"
}

run_warnings() {
	if [[ $SPARSE == sparse ]]; then
		need_tools sparse:sparse
	else
		command -v "$SPARSE" >/dev/null ||
			die "SPARSE=$SPARSE is not an executable; point it at a sparse binary"
	fi
	run_check "warnings W=1" check_warnings gcc
	run_check "warnings sparse" check_warnings sparse
}

# kernel_doc TREE FILE runs kernel-doc from the series worktree on FILE in
# TREE and prints its output without line numbers.
kernel_doc() {
	local tree=$1 file=$2

	(cd "$tree" && "$SERIES_TREE/scripts/kernel-doc" -Wall -none "$file" 2>&1) |
		sed -E 's#([A-Za-z0-9_./-]+\.[ch]):[0-9]+(:[0-9]+)?#\1#g' | sort || true
}

# check_kerneldoc runs kernel-doc on every C file and header that the
# series adds or changes, tools/ included. The base's version of a file
# is read with git show, so no worktree is needed for it.
check_kerneldoc() {
	local base_dir=$MATRIX_DIR/kerneldoc-base
	local file head base new status=0

	checkout_commit "$SERIES_TREE" "$HEAD_COMMIT"
	rm -rf "$base_dir"
	while read -r file; do
		head=$(kernel_doc "$SERIES_TREE" "$file")
		if exists_in_base "$file"; then
			mkdir -p "$base_dir/$(dirname "$file")"
			git -C "$TREE_DIR" show "$BASE_COMMIT:$file" >"$base_dir/$file"
			base=$(kernel_doc "$base_dir" "$file")
			new=$(comm -13 <(echo "$base") <(echo "$head") | sed '/^$/d')
			log "     $file: $(count_lines "$base") kernel-doc lines at $BASE_TAG, $(count_lines "$head") at HEAD, $(count_lines "$new") new"
		else
			new=$head
			log "     $file (new): $(count_lines "$new") kernel-doc lines"
		fi
		if [[ -n $new ]]; then
			printf '%s\n' "$new" >&2
			status=1
		fi
	done < <(git -C "$TREE_DIR" diff --name-only --diff-filter=d "$BASE_COMMIT" "$HEAD_COMMIT" -- '*.c' '*.h')
	if [[ $status -ne 0 ]]; then
		echo "expected scripts/kernel-doc -Wall -none to print nothing for the series beyond its output at $BASE_TAG; actual: the lines above" >&2
	fi
	return "$status"
}

run_kerneldoc() {
	run_check "kerneldoc" check_kerneldoc
}

clean_matrix() {
	local dir

	if [[ -d $TREE_DIR ]]; then
		for dir in "$SERIES_TREE" "$BASE_TREE"; do
			[[ -e $dir ]] || continue
			git -C "$TREE_DIR" worktree remove --force "$dir" 2>/dev/null || rm -rf "$dir"
		done
		git -C "$TREE_DIR" worktree prune
	fi
	rm -rf "$MATRIX_DIR"
	log "removed $MATRIX_DIR"
}

summary() {
	log "matrix: $passed passed, $failed failed, $skipped skipped"
	if [[ $failed -gt 0 ]]; then
		exit 1
	elif [[ $skipped -gt 0 ]]; then
		exit 4
	fi
}

main() {
	local part=${1:-all}

	case $part in
	all | configs | warnings | bisect | kerneldoc | clean) ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown part '$part'; use one of configs, warnings, bisect, kerneldoc or clean" ;;
	esac
	[[ $# -le 1 ]] || { usage >&2; die "too many arguments: $*"; }
	if [[ $part == clean ]]; then
		clean_matrix
		return
	fi

	need_build_tools
	need_tools flock:util-linux
	check_tree
	mkdir -p "$MATRIX_DIR" "$OUT_DIR" "$LOG_DIR"
	lock_matrix
	recover_build_dir
	trap release_build_dir EXIT

	# The commits are fixed here, so that a compose during the run does
	# not mix two versions of the series.
	BASE_COMMIT=$(git -C "$TREE_DIR" rev-parse "$BASE_TAG^{commit}")
	HEAD_COMMIT=$(git -C "$TREE_DIR" rev-parse 'HEAD^{commit}')
	mapfile -t SERIES_COMMITS < <(git -C "$TREE_DIR" rev-list --reverse "$BASE_COMMIT..$HEAD_COMMIT")
	log "matrix of ${#SERIES_COMMITS[@]} commits on $BASE_TAG in $MATRIX_DIR"
	ensure_worktree "$SERIES_TREE" "$HEAD_COMMIT"

	case $part in
	configs) run_configs ;;
	warnings) run_warnings ;;
	bisect) run_bisect ;;
	kerneldoc) run_kerneldoc ;;
	all)
		run_configs
		run_bisect
		run_warnings
		run_kerneldoc
		;;
	esac
	summary
}

main "$@"
