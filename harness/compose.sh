#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compose the kernel tree that everything else builds and tests: the base
# tree as one commit, then one commit per entry of series/, then the
# mailable series from git format-patch in build/series/.
#
# Each file in series/ named NNNN-*.txt is one patch: the repository paths
# it takes, one per line, then a blank line, then its commit message. A
# path ending in .patch is a diff against an existing kernel file and is
# applied with git apply; any other path is a new file copied whole.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

series_entries() {
	ls "$REPO_DIR"/series/[0-9][0-9][0-9][0-9]-*.txt 2>/dev/null ||
		die "no patches in $REPO_DIR/series/"
}

entry_paths() {
	sed '/^$/q' "$1" | sed '/^$/d'
}

entry_message() {
	sed '1,/^$/d' "$1"
}

# Every kernel file stored in this repository must belong to exactly one
# entry of series/, so that nothing is left out of the mailed series.
check_series_paths() {
	local listed stored entry

	listed=$(for entry in $(series_entries); do entry_paths "$entry"; done | sort)
	if [[ -n $(uniq -d <<<"$listed") ]]; then
		die "series/: $(uniq -d <<<"$listed" | head -n 1) is listed by two patches; list it once"
	fi
	stored=$(cd "$REPO_DIR" && git ls-files --cached --others --exclude-standard -- \
			fs include kernel mm tools Documentation MAINTAINERS.patch | sort)
	for path in $(comm -13 <(echo "$listed") <(echo "$stored")); do
		die "$path is not listed in any series/ entry; add it to the patch it belongs to"
	done
	for path in $listed; do
		[[ -f $REPO_DIR/$path ]] || die "series/ lists $path, which does not exist"
	done
}

tree_git() {
	git -C "$TREE_DIR" "$@"
}

base_id() {
	if [[ -n $LINUX_SRC ]]; then
		git -C "$LINUX_SRC" rev-parse -q --verify "${LINUX_REF:-HEAD}^{commit}" ||
			die "LINUX_REF=${LINUX_REF:-HEAD} is not a commit in $LINUX_SRC; set LINUX_REF to a branch, tag or commit there"
	else
		echo "$BASE_PACKAGE $BASE_VERSION"
	fi
}

make_debian_base() {
	local tarball

	tarball=$("$REPO_DIR/harness/fetch.sh")
	unpack_debian_tree "$tarball" "$BASE_PACKAGE" "$TREE_DIR"
	base_id >"$TREE_DIR/.git/luo-base.id"
}

# Check that the user's tree is a kernel with LUO and add a worktree of it
# with a detached HEAD.
make_user_worktree() {
	local src ref commit

	git -C "$LINUX_SRC" rev-parse --git-dir >/dev/null 2>&1 ||
		die "LINUX_SRC=$LINUX_SRC is not a git repository; point it at a kernel git tree"
	src=$(git -C "$LINUX_SRC" rev-parse --show-toplevel)
	ref=${LINUX_REF:-HEAD}
	commit=$(git -C "$src" rev-parse -q --verify "$ref^{commit}") ||
		die "LINUX_REF=$ref is not a commit in $src; set LINUX_REF to a branch, tag or commit there"
	if ! git -C "$src" cat-file -e "$commit:Makefile" 2>/dev/null ||
	   ! git -C "$src" cat-file -e "$commit:kernel/fork.c" 2>/dev/null; then
		die "LINUX_SRC=$LINUX_SRC at $ref is not a Linux kernel tree; point it at one"
	fi
	git -C "$src" cat-file -e "$commit:kernel/liveupdate" 2>/dev/null ||
		die "LINUX_SRC=$LINUX_SRC at $ref has no kernel/liveupdate/: it predates the Live Update Orchestrator (Linux 6.19); use a newer tree"

	if [[ -d $TREE_DIR ]]; then
		git -C "$src" worktree remove --force "$TREE_DIR" 2>/dev/null || rm -rf "$TREE_DIR"
	fi
	git -C "$src" worktree prune
	log "adding a worktree of $src at $ref in $TREE_DIR"
	git -C "$src" worktree add -q --detach "$TREE_DIR" "$commit"
	git -C "$src" update-ref "$BASE_TAG" "$commit"
	base_id >"$(git -C "$TREE_DIR" rev-parse --absolute-git-dir)/luo-base.id"
}

ensure_base() {
	local id_file

	# Fails with one message when LINUX_REF is not a commit.
	[[ -z $LINUX_SRC ]] || base_id >/dev/null

	if [[ -d $TREE_DIR ]]; then
		id_file=$(git -C "$TREE_DIR" rev-parse --absolute-git-dir 2>/dev/null)/luo-base.id
		if [[ -f $id_file && $(cat "$id_file") == "$(base_id)" ]] &&
		   git -C "$TREE_DIR" rev-parse -q --verify "$BASE_TAG^{commit}" >/dev/null; then
			return
		fi
	fi

	if [[ -n $LINUX_SRC ]]; then
		make_user_worktree
	else
		make_debian_base
	fi
}

# The identity that signs off every patch.
check_identity() {
	tree_git var GIT_COMMITTER_IDENT >/dev/null 2>&1 ||
		die "git has no identity to sign off the patches with; set it with git config --global user.name 'Your Name' and git config --global user.email you@example.org"
}

# A hash of everything that goes into the composed commits.
series_inputs_hash() {
	local entry

	{
		base_id
		tree_git var GIT_COMMITTER_IDENT | sed 's/>.*/>/'
		for entry in $(series_entries); do
			echo "$entry"
			cat "$entry"
			entry_paths "$entry" | while read -r path; do
				cat "$REPO_DIR/$path"
			done
		done
	} | sha256sum | cut -d' ' -f1
}

apply_entry() {
	local entry=$1
	local path target

	while read -r path; do
		if [[ $path == *.patch ]]; then
			target=${path%.patch}
			if ! tree_git apply --index "$REPO_DIR/$path" 2>"$BUILD_DIR/apply.log"; then
				cat "$BUILD_DIR/apply.log" >&2
				tree_git reset -q --hard "$BASE_TAG"
				die "$path no longer applies to $target in $(base_id); update the diff against that tree"
			fi
		else
			mkdir -p "$TREE_DIR/$(dirname "$path")"
			cp "$REPO_DIR/$path" "$TREE_DIR/$path"
			tree_git add -f -- "$path"
		fi
	done < <(entry_paths "$entry")

	entry_message "$entry" >"$BUILD_DIR/commit-message"
	tree_git commit -q -s --cleanup=strip -F "$BUILD_DIR/commit-message"
}

# get_maintainers OPTIONS... prints the addresses that get_maintainer.pl
# names for the patches in $SERIES_OUT, one per line.
get_maintainers() {
	(cd "$TREE_DIR" && perl scripts/get_maintainer.pl --no-git --no-git-fallback \
		--no-rolestats --no-multiline "$@" "$SERIES_OUT"/*.patch) | tr ',' '\n' |
		sed 's/^ *//' | grep . || true
}

format_series() {
	local version prefix cover subject
	local to=() cc=()

	version=$(cat "$REPO_DIR/series/version" 2>/dev/null || echo 1)
	prefix=PATCH
	[[ $version == 1 ]] || prefix="PATCH v$version"

	# The whole series goes to everyone get_maintainer.pl names for any of
	# its patches: maintainers in To, reviewers and lists in Cc.
	rm -rf "$SERIES_OUT"
	tree_git format-patch -q -o "$SERIES_OUT" "$BASE_TAG..HEAD"
	mapfile -t to < <(get_maintainers --m --no-r --no-l)
	mapfile -t cc < <(get_maintainers --no-m --r --l)

	rm -rf "$SERIES_OUT"
	tree_git format-patch -q --cover-letter --base="$BASE_TAG" \
		--subject-prefix="$prefix" -o "$SERIES_OUT" \
		"${to[@]/#/--to=}" "${cc[@]/#/--cc=}" "$BASE_TAG..HEAD"

	cover=$(ls "$SERIES_OUT"/0000-cover-letter.patch)
	if [[ -f $REPO_DIR/series/cover-letter ]]; then
		subject=$(head -n 1 "$REPO_DIR/series/cover-letter")
		sed '1,2d' "$REPO_DIR/series/cover-letter" >"$BUILD_DIR/cover-body"
		sed -i -e "s|\*\*\* SUBJECT HERE \*\*\*|$subject|" \
		       -e "/\*\*\* BLURB HERE \*\*\*/{r $BUILD_DIR/cover-body
d}" "$cover"
	fi
}

main() {
	local hash stamp

	need_tools git:git
	check_series_paths
	ensure_base
	check_identity

	# A failed compose must not leave an older series behind for git am.
	rm -rf "$SERIES_OUT"

	hash=$(series_inputs_hash)
	stamp=$(tree_git rev-parse --absolute-git-dir)/luo-series.id
	if [[ -f $stamp && $(cat "$stamp") == "$hash $(tree_git rev-parse HEAD)" &&
	      -z $(tree_git status --porcelain --untracked-files=no) ]]; then
		log "composed tree is up to date ($(tree_git rev-list --count "$BASE_TAG..HEAD") patches on $(base_id))"
	else
		rm -f "$stamp"
		log "composing the series on $(base_id)"
		tree_git checkout -q -f --detach "$BASE_TAG"
		for entry in $(series_entries); do
			apply_entry "$entry"
			log "  $(tree_git log -1 --format=%s)"
		done
		echo "$hash $(tree_git rev-parse HEAD)" >"$stamp"
	fi

	format_series
	log "series written to $SERIES_OUT/ ($(find "$SERIES_OUT" -name '*.patch' | wc -l) files)"
}

main "$@"
