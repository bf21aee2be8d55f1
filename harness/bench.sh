#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark eventfd preservation against empty memfds, the in-tree peer
# handler, in one VM run: boot the test kernel, preserve N files of each kind
# in a session of their own, kexec, retrieve and finish them. See
# harness/testing/luo_bench.c for what is measured.
#
# Writes build/bench/results.md (a markdown table), build/bench/bench.png
# (gnuplot) and build/bench/raw.txt (the figures as the VM printed them).
#
# Settings:
#   BENCH_N=1,100,1000,10000   the file counts, at most 8 distinct values
#                              from 1 to 200000 (default adds 100000)
#   BENCH_BASELINE=1           also build and run the series without its
#                              first patch (the LUO token index), and show
#                              both tables
#   QEMU_TIMEOUT=<seconds>     per VM run (default 1800)

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

BENCH_DIR=$BUILD_DIR/bench
BENCH_N=${BENCH_N:-1,100,1000,10000,100000}
BENCH_BASELINE=${BENCH_BASELINE:-0}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-1800}
BASELINE_TREE=$BUILD_DIR/linux-baseline
BASELINE_KBUILD=$BUILD_DIR/kernel-baseline

# run_vm KBUILD TREE WORK boots KBUILD with the benchmark and leaves the
# BENCH lines of the serial log in WORK/raw.txt.
run_vm() {
	local kbuild=$1 tree=$2 work=$3
	local serial=$work/qemu.serial
	local status=0

	rm -rf "$work"
	mkdir -p "$work"
	make_kexec_initrd "$tree" "$kbuild" "$work" "$REPO_DIR/harness/testing/luo_bench.c"

	log "running the benchmark for N=$BENCH_N (timeout ${QEMU_TIMEOUT}s, serial log $serial)"
	timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -m 4G -smp 1 -no-reboot -nographic \
		-nodefaults -accel tcg -serial file:"$serial" \
		-append "console=ttyS0 liveupdate=on panic=-1 luo_bench.n=$BENCH_N" \
		-kernel "$kbuild/arch/x86/boot/bzImage" \
		-initrd "$work/initrd.cpio" || status=$?
	if [[ $status -eq 124 ]]; then
		tail -n 15 "$serial" >&2
		die "QEMU timed out after ${QEMU_TIMEOUT}s (serial log $serial); try a smaller BENCH_N"
	elif [[ $status -ne 0 ]]; then
		tail -n 15 "$serial" >&2
		die "QEMU failed with exit status $status (serial log $serial)"
	fi
	if ! grep -q 'benchmark complete' "$serial"; then
		grep -v '^\s*$' "$serial" | tail -n 20 >&2
		die "the benchmark did not complete (serial log $serial)"
	fi
	tr -d '\r' <"$serial" | grep '^BENCH ' >"$work/raw.txt"
}

# table RAW prints the markdown table of one run, and TSV data for the plot
# in RAW.dat.
table() {
	local raw=$1

	awk -v dat="$raw.dat" '
	{
		delete f
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			f[kv[1]] = kv[2]
		}
		kind = f["kind"]; n = f["n"]
		if (!(n in seen)) { seen[n] = 1; order[++count] = n }
		for (key in f)
			v[kind, n, key] = f[key]
	}
	function us(ns) { return sprintf("%.1f", ns / 1000) }
	function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
	END {
		print "| N | preserve us/file eventfd | memfd | ratio | retrieve us/file eventfd | memfd | ratio | finish us/file eventfd | memfd | free memory drop bytes/file eventfd | memfd | ratio |"
		print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= count; i++) {
			n = order[i]
			ep = v["eventfd", n, "preserve_ns"]; mp = v["memfd", n, "preserve_ns"]
			er = v["eventfd", n, "retrieve_ns"]; mr = v["memfd", n, "retrieve_ns"]
			ef = v["eventfd", n, "finish_ns"]; mf = v["memfd", n, "finish_ns"]
			eb = v["eventfd", n, "taken_bytes"]; mb = v["memfd", n, "taken_bytes"]
			printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s |\n",
				n, us(ep), us(mp), ratio(ep, mp), us(er), us(mr), ratio(er, mr),
				us(ef), us(mf), eb, mb, ratio(eb, mb)
			printf "%d\t%s\t%s\t%s\t%s\n", n, us(ep), us(mp), us(er), us(mr) >dat
		}
	}' "$raw"
}

# flatness RAW prints how the eventfd time per file at each N above 100
# compares with N=100.
flatness() {
	awk '
	{
		delete f
		for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		if (f["kind"] != "eventfd")
			next
		n = f["n"] + 0
		if (!(n in seen)) { seen[n] = 1; order[++count] = n }
		for (key in f)
			v[n, key] = f[key]
	}
	END {
		if (v[100, "preserve_ns"] <= 0 || v[100, "retrieve_ns"] <= 0) {
			print "(no flatness figures: N=100 was not measured)"
			exit
		}
		for (i = 1; i <= count; i++) {
			n = order[i]
			if (n <= 100 || !((n, "retrieve_ns") in v))
				continue
			printf "eventfd time per file at N=%d relative to N=100: preserve %.2fx, retrieve %.2fx\n",
				n, v[n, "preserve_ns"] / v[100, "preserve_ns"],
				v[n, "retrieve_ns"] / v[100, "retrieve_ns"]
		}
	}' "$1"
}

# plot PNG DAT [BASELINE_DAT] draws the time per file over N, both axes
# logarithmic, with the baseline's eventfd lines dashed when given.
plot() {
	local png=$1 dat=$2 base=${3:-}
	local extra=""

	if [[ -n $base ]]; then
		extra=", \"$base\" using 1:2 with linespoints dt 2 title \"eventfd preserve, without patch 1\", \"$base\" using 1:4 with linespoints dt 2 title \"eventfd retrieve, without patch 1\""
	fi
	gnuplot <<-EOF
	set terminal pngcairo size 900,540
	set output "$png"
	set title "LUO preserve and retrieve time per file, eventfd and empty memfd"
	set logscale xy
	set xlabel "files in the session (N)"
	set ylabel "microseconds per file"
	set key top right
	set grid
	plot "$dat" using 1:2 with linespoints title "eventfd preserve", \
	     "$dat" using 1:3 with linespoints title "memfd preserve", \
	     "$dat" using 1:4 with linespoints title "eventfd retrieve", \
	     "$dat" using 1:5 with linespoints title "memfd retrieve"$extra
	EOF
}

# Build the series without its first patch in a worktree of its own.
build_baseline() {
	local head first log=$BUILD_DIR/kernel-baseline-build.log
	local make_cmd=(make -C "$BASELINE_TREE" O="$BASELINE_KBUILD" ARCH=x86 -j"$JOBS")

	head=$(git -C "$TREE_DIR" rev-parse HEAD)
	first=$(git -C "$TREE_DIR" rev-list --reverse "$BASE_TAG..HEAD" | head -n 1)
	if ! git -C "$BASELINE_TREE" rev-parse --git-dir >/dev/null 2>&1; then
		rm -rf "$BASELINE_TREE"
		git -C "$TREE_DIR" worktree prune
		git -C "$TREE_DIR" worktree add -q --detach "$BASELINE_TREE" "$head"
	fi
	git -C "$BASELINE_TREE" checkout -q -f --detach "$head"
	git -C "$BASELINE_TREE" revert --no-commit "$first" >/dev/null ||
		die "cannot revert $(git -C "$TREE_DIR" log -1 --format=%s "$first") from the composed tree"
	log "baseline: the series without \"$(git -C "$TREE_DIR" log -1 --format=%s "$first")\""

	mkdir -p "$BASELINE_KBUILD"
	cp "$KBUILD_DIR/.config" "$BASELINE_KBUILD/.config"
	"${make_cmd[@]}" -s olddefconfig >"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; die "make olddefconfig failed (log: $log)"; }
	log "building the baseline kernel in $BASELINE_KBUILD (log: $log)"
	make_bzimage "$log" "baseline kernel" "${make_cmd[@]}"
}

report() {
	local title=$1 raw=$2

	echo "### $title"
	echo
	table "$raw"
	echo
	flatness "$raw"
}

# Check the settings before anything is installed, built or booted.
check_settings() {
	local n
	local -A seen=()

	[[ $BENCH_N =~ ^[1-9][0-9]{0,5}(,[1-9][0-9]{0,5}){0,7}$ ]] ||
		die "BENCH_N=$BENCH_N is not a comma-separated list of at most 8 file counts; use e.g. BENCH_N=1,100,1000"
	for n in ${BENCH_N//,/ }; do
		((n <= 200000)) || die "BENCH_N: $n is above 200000, the largest file count this benchmark supports"
		[[ -z ${seen[$n]:-} ]] || die "BENCH_N: $n is given twice; give each file count once"
		seen[$n]=1
	done
	[[ $BENCH_BASELINE == 0 || $BENCH_BASELINE == 1 ]] ||
		die "BENCH_BASELINE=$BENCH_BASELINE; use 0 or 1"
	[[ $QEMU_TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
		die "QEMU_TIMEOUT=$QEMU_TIMEOUT is not a number of seconds"
}

main() {
	local results=$BENCH_DIR/results.md

	check_settings
	need_build_tools
	need_tools gnuplot:gnuplot-nox
	[[ -f $KBUILD_DIR/arch/x86/boot/bzImage ]] || die "no test kernel; run make build first"

	mkdir -p "$BENCH_DIR"
	run_vm "$KBUILD_DIR" "$TREE_DIR" "$BENCH_DIR/series"
	if [[ $BENCH_BASELINE == 1 ]]; then
		build_baseline
		run_vm "$BASELINE_KBUILD" "$BASELINE_TREE" "$BENCH_DIR/baseline"
	fi

	{
		echo "Measured on $(date -u +%Y-%m-%d), $(nproc) host CPUs, QEMU $(qemu-system-x86_64 --version | head -n 1 | awk '{print $4}') without KVM (TCG), 4 GiB guest, one guest CPU. Times are per file; compare ratios, not absolute times."
		echo
		report "The series" "$BENCH_DIR/series/raw.txt"
		if [[ $BENCH_BASELINE == 1 ]]; then
			echo
			report "Without the LUO token index (first patch reverted)" "$BENCH_DIR/baseline/raw.txt"
		fi
	} >"$results"
	cp "$BENCH_DIR/series/raw.txt" "$BENCH_DIR/raw.txt"
	if [[ $BENCH_BASELINE == 1 ]]; then
		plot "$BENCH_DIR/bench.png" "$BENCH_DIR/series/raw.txt.dat" "$BENCH_DIR/baseline/raw.txt.dat"
	else
		plot "$BENCH_DIR/bench.png" "$BENCH_DIR/series/raw.txt.dat"
	fi

	cat "$results"
	echo
	log "table: $results, plot: $BENCH_DIR/bench.png"
}

main "$@"
