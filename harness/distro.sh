#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that the series applies to what distributions ship: git am the
# kernel and documentation patches onto Debian's newest linux-source-7.2
# (suite sid) and build the objects they touch there.
#
# The selftest patch is left out: it builds on the LUO selftest harness
# (vmtest.sh, lib/, run-vmtests.sh) that first shipped in 7.3, and 7.2's
# tools/testing/selftests/liveupdate/ has none of it. So is the LUO patch
# (kernel/liveupdate/luo_*.c): it is a change to LUO for mainline, and
# 7.2's luo_session_alloc() differs in the lines it touches. The eventfd
# patches do not need it; without it, LUO's lookups stay O(N) per file.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

DISTRO_PACKAGE=linux-source-7.2
DISTRO_SUITE=sid
DISTRO_TREE=$BUILD_DIR/linux-7.2
DISTRO_KBUILD=$BUILD_DIR/kernel-7.2

main() {
	local tarball patches=() patch objects opt log=$BUILD_DIR/kernel-7.2-build.log

	need_build_tools
	[[ -d $SERIES_OUT ]] || die "$SERIES_OUT not found; run make series first"

	tarball=$(BASE_PACKAGE=$DISTRO_PACKAGE BASE_SUITE=$DISTRO_SUITE \
		  BASE_VERSION=${DISTRO_VERSION:-latest} "$REPO_DIR/harness/fetch.sh")
	if [[ ! -f $DISTRO_TREE/.git/luo-base.id ||
	      $(cat "$DISTRO_TREE/.git/luo-base.id") != "$tarball" ]] ||
	   ! git -C "$DISTRO_TREE" rev-parse -q --verify "$BASE_TAG^{commit}" >/dev/null; then
		unpack_debian_tree "$tarball" "$DISTRO_PACKAGE" "$DISTRO_TREE"
		echo "$tarball" >"$DISTRO_TREE/.git/luo-base.id"
	fi

	for patch in "$SERIES_OUT"/[0-9][0-9][0-9][0-9]-*.patch; do
		[[ $patch == */0000-cover-letter.patch ]] && continue
		grep -q -e '^diff --git a/tools/testing/selftests/' \
			-e '^diff --git a/kernel/liveupdate/luo_' "$patch" && continue
		patches+=("$patch")
	done

	git -C "$DISTRO_TREE" am --abort >/dev/null 2>&1 || true
	git -C "$DISTRO_TREE" checkout -q -f --detach "$BASE_TAG"
	log "git am ${#patches[@]} patches onto $(basename "$tarball" .tar.xz)"
	if ! git -C "$DISTRO_TREE" am -q "${patches[@]}" >"$BUILD_DIR/git-am-7.2.log" 2>&1; then
		cat "$BUILD_DIR/git-am-7.2.log" >&2
		git -C "$DISTRO_TREE" am --abort >/dev/null 2>&1 || true
		die "the series does not apply to $(basename "$tarball" .tar.xz) with git am"
	fi

	# The objects of the C files that the applied patches touch. A file
	# that another one includes, such as a KUnit suite, has no object of
	# its own and no line in its directory's Makefile.
	objects=$(git -C "$DISTRO_TREE" diff --name-only "$BASE_TAG..HEAD" -- '*.c' |
		  while read -r file; do
			  grep -qw "$(basename "$file" .c)\.o" "$DISTRO_TREE/$(dirname "$file")/Makefile" &&
				  echo "${file%.c}.o"
		  done || true)
	mkdir -p "$DISTRO_KBUILD"
	# KUnit too, so that the eventfd_luo suite is compiled into its object.
	{
		cat "$DISTRO_TREE/$SELFTEST_DIR/config"
		printf '%s\n' CONFIG_LIVEUPDATE_EVENTFD=y CONFIG_KUNIT=y \
			CONFIG_LIVEUPDATE_EVENTFD_KUNIT_TEST=y
	} >"$DISTRO_KBUILD/.config"
	make -s -C "$DISTRO_TREE" O="$DISTRO_KBUILD" olddefconfig >"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; die "make olddefconfig failed in $DISTRO_TREE (log: $log)"; }
	for opt in CONFIG_LIVEUPDATE_EVENTFD CONFIG_LIVEUPDATE_EVENTFD_KUNIT_TEST; do
		grep -qx "$opt=y" "$DISTRO_KBUILD/.config" ||
			die "$opt is not set in $DISTRO_KBUILD/.config; check its dependencies there"
	done

	log "building $(echo "$objects" | tr '\n' ' ')in $DISTRO_KBUILD"
	# shellcheck disable=SC2086 # one word per object
	if ! make -C "$DISTRO_TREE" O="$DISTRO_KBUILD" -j"$JOBS" W=1 $objects >>"$log" 2>&1; then
		grep -E 'error|warning' "$log" | head -n 20 >&2
		die "the series does not build on $(basename "$tarball" .tar.xz) (log: $log)"
	fi
	if grep -E '(warning|error):' "$log" | grep -F -e fs/eventfd >&2; then
		die "the series builds with warnings on $(basename "$tarball" .tar.xz) (log: $log)"
	fi
	log "applied and built on $(basename "$tarball" .tar.xz)"
}

main "$@"
