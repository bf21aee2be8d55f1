#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the composed kernel the way the LUO selftests' vmtest.sh does: the
# selftest config fragments (which enable CONFIG_LIVEUPDATE_EVENTFD), then
# olddefconfig, then bzImage. vmtest.sh later finds the build up to date.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

main() {
	local frag_dir=$TREE_DIR/$SELFTEST_DIR
	local log=$BUILD_DIR/kernel-build.log
	local make_cmd=(make -C "$TREE_DIR" O="$KBUILD_DIR" ARCH=x86 -j"$JOBS")

	need_build_tools
	[[ -f $frag_dir/config ]] ||
		die "$frag_dir/config not found; run make compose first"
	make_config "$TREE_DIR" "$KBUILD_DIR" "$log" "$frag_dir/config.x86_64" "$frag_dir/config"

	log "building bzImage in $KBUILD_DIR (log: $log; a build from scratch takes minutes)"
	make_bzimage "$log" "kernel" "${make_cmd[@]}"
	# vmtest.sh and run-vmtests.sh build in .luo_test_build.x86 of the tree
	# when no -d is given; point it here so that they reuse this build.
	ln -sfn "$KBUILD_DIR" "$TREE_DIR/.luo_test_build.x86"
	log "built $KBUILD_DIR/arch/x86/boot/bzImage"
}

main "$@"
