# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034  # the settings are used by the scripts that source this file
#
# Shared settings and helpers for the eventfd live update tooling. Every
# script in this directory sources this file.

set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO_DIR/build}
CACHE_DIR=${EVENTFD_LUO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eventfd-luo}

# The pinned base: Debian's linux-source-7.3 binary package.
BASE_PACKAGE=${BASE_PACKAGE:-linux-source-7.3}
BASE_SUITE=${BASE_SUITE:-trixie-backports}
BASE_PINNED_VERSION=7.3.4-1~bpo13+1
BASE_VERSION=${BASE_VERSION:-$BASE_PINNED_VERSION}
BASE_PINNED_DEB_SHA256=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
BASE_PINNED_TAR_SHA256=76df1affb19f24926949369be1d74b60071c963c598ce8780bddd4bbf0fc3bc4

# The composed kernel tree, its kernel build directory and the mailable
# series. LINUX_SRC switches to a worktree of the user's own kernel tree.
LINUX_SRC=${LINUX_SRC:-}
if [[ -n $LINUX_SRC ]]; then
	TREE_DIR=$BUILD_DIR/linux-src
	KBUILD_DIR=$BUILD_DIR/kernel-src
else
	TREE_DIR=$BUILD_DIR/linux
	KBUILD_DIR=$BUILD_DIR/kernel
fi
SERIES_OUT=$BUILD_DIR/series
# The base commit is marked with a ref outside refs/heads and refs/tags, so
# that no branch or tag of a LINUX_SRC repository is created or moved. Its
# name carries a hash of BUILD_DIR there, so two checkouts of this
# repository can use the same LINUX_SRC. The series commits stay on a
# detached HEAD.
if [[ -n $LINUX_SRC ]]; then
	BASE_TAG=refs/eventfd-luo/$(printf '%s' "$BUILD_DIR" | sha1sum | cut -c1-12)/base
else
	BASE_TAG=refs/eventfd-luo/base
fi
SELFTEST_DIR=tools/testing/selftests/liveupdate

JOBS=${JOBS:-$(nproc)}

# Step timings count from the start of the first script of a make target.
if [[ -z ${LUO_START:-} ]]; then
	printf -v LUO_START '%(%s)T' -1
	export LUO_START
fi

log() {
	local now

	printf -v now '%(%s)T' -1
	printf '[%4ds] %s\n' "$((now - LUO_START))" "$*" >&2
}

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# need_tools NAME:PACKAGE... installs the Debian packages of missing tools
# when running as root, and otherwise prints the one apt-get line to run. A
# NAME starting with / is a file that the package provides, any other NAME
# a command.
need_tools() {
	local spec name pkg
	local missing=()

	for spec in "$@"; do
		name=${spec%%:*}
		pkg=${spec#*:}
		if [[ $name == /* ]]; then
			[[ -e $name ]] || missing+=("$pkg")
		else
			command -v "$name" >/dev/null 2>&1 || missing+=("$pkg")
		fi
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0

	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	if [[ $(id -u) -ne 0 ]]; then
		die "missing host tools; install them with: sudo apt-get install ${missing[*]}"
	fi

	log "installing host packages: ${missing[*]}"
	if ! { apt-get update -qq &&
	       DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${missing[@]}"; } >"$BUILD_DIR/apt-install.log" 2>&1; then
		tail -n 20 "$BUILD_DIR/apt-install.log" >&2
		die "apt-get install ${missing[*]} failed (log: $BUILD_DIR/apt-install.log); fix the machine's apt sources and run again"
	fi
}

# Host tools for building the kernel (headers_install needs rsync), running
# the VM tests and checking the series with checkpatch.pl, whose
# spdxcheck.py needs ply and git for Debian's python3.
need_build_tools() {
	need_tools gcc:gcc make:make flex:flex bison:bison bc:bc \
		perl:perl python3:python3 cpio:cpio git:git xz:xz-utils \
		pahole:dwarves openssl:openssl timeout:coreutils \
		qemu-system-x86_64:qemu-system-x86 \
		/usr/include/libelf.h:libelf-dev \
		/usr/include/openssl/ssl.h:libssl-dev \
		/usr/lib/python3/dist-packages/ply:python3-ply \
		/usr/lib/python3/dist-packages/git:python3-git \
		shellcheck:shellcheck rsync:rsync
}

# make_config TREE KBUILD LOG FRAGMENT... writes KBUILD/.config from the
# config fragments and runs olddefconfig. Fragments only request options,
# so it then checks that Kconfig granted each one, "is not set" lines too.
make_config() {
	local tree=$1 kbuild=$2 log=$3
	local opt

	shift 3
	mkdir -p "$kbuild"
	cat "$@" >"$kbuild/.config"
	make -C "$tree" O="$kbuild" ARCH=x86 -s olddefconfig >"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; die "make olddefconfig failed (log: $log)"; }
	while read -r opt; do
		[[ $opt == CONFIG_* || $opt == '# CONFIG_'*' is not set' ]] || continue
		grep -qx -- "$opt" "$kbuild/.config" ||
			die "$opt is requested by the config fragments but not set in $kbuild/.config; check its dependencies"
	done < <(cat "$@")
}

# make_bzimage LOG WHAT MAKE_COMMAND... builds bzImage, appends make's output
# to LOG and prints a progress line every 500 compiled objects. It fails
# with the first error lines and names WHAT in the message.
make_bzimage() {
	local log=$1 what=$2

	shift 2
	if ! "$@" bzImage 2>&1 | tee -a "$log" |
		awk '/^  (CC|LD|AR|AS) / { n++; if (n % 500 == 0) { printf "[build] %d objects compiled\n", n; fflush() } }' >&2
	then
		grep -E 'error|Error' "$log" | head -n 20 >&2
		die "$what build failed (log: $log)"
	fi
}

# make_kexec_initrd TREE KBUILD WORK SOURCE... builds WORK/initrd.cpio for
# a two-stage LUO test: the upstream selftest init.c, the test program
# compiled with nolibc from SOURCE... and the selftest library, and the
# kernel of KBUILD with an inner initrd for the kexec. Headers come from
# TREE, which must be the tree KBUILD was built from.
make_kexec_initrd() {
	local tree=$1 kbuild=$2 work=$3
	local sel=$tree/$SELFTEST_DIR
	local hdrs=$work/usr
	local nolibc

	shift 3
	nolibc=(-static -nostdinc -nostdlib -I "$hdrs/include" -I "$tree/tools/include/nolibc")
	make -s -C "$tree" O="$kbuild" headers_install INSTALL_HDR_PATH="$hdrs" >/dev/null
	gcc "${nolibc[@]}" -O2 -I "$sel/lib/include" -I "$sel" -o "$work/test_binary" \
		"$@" "$sel/lib/lu_utils.c"
	gcc "${nolibc[@]}" -s -Os -fno-asynchronous-unwind-tables -fno-ident \
		-fno-stack-protector -o "$work/init" "$sel/init.c"

	# The layout that the upstream init.c expects: the inner initrd is
	# what the kexec'd kernel boots with.
	printf '%s\n' 'dir /dev 0755 0 0' 'dir /proc 0755 0 0' 'dir /debugfs 0755 0 0' \
		'nod /dev/console 0600 0 0 c 5 1' \
		"file /init $work/init 0755 0 0" \
		"file /test_binary $work/test_binary 0755 0 0" >"$work/inner.list"
	"$kbuild/usr/gen_init_cpio" "$work/inner.list" >"$work/inner.cpio"
	{
		cat "$work/inner.list"
		echo "file /kernel $kbuild/arch/x86/boot/bzImage 0644 0 0"
		echo "file /initrd.img $work/inner.cpio 0644 0 0"
	} >"$work/outer.list"
	"$kbuild/usr/gen_init_cpio" "$work/outer.list" >"$work/initrd.cpio"
}

# unpack_debian_tree TARBALL PACKAGE DIR unpacks a linux-source tarball into
# DIR as a git repository with one commit, marked by $BASE_TAG. The commit's
# identity and date are fixed so that its id is the same on every machine.
unpack_debian_tree() {
	local tarball=$1 package=$2 dir=$3
	local tmp=$dir.unpack

	rm -rf "$tmp" "$dir"
	mkdir -p "$tmp"
	log "unpacking $(basename "$tarball")"
	if ! tar -xf "$tarball" -C "$tmp"; then
		rm -rf "$tmp" "$tarball"
		die "$tarball is damaged and was removed; run again to download it anew"
	fi
	mv "$tmp/$package" "$dir"
	rmdir "$tmp"

	log "recording $(basename "$dir") as one git commit"
	git -C "$dir" init -q -b luo-base-branch
	# Debian's top-level .gitignore ignores everything at the top level, so
	# files are added with -f here and in every composed commit.
	git -C "$dir" add -f -A
	GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@localhost \
	GIT_COMMITTER_NAME=base GIT_COMMITTER_EMAIL=base@localhost \
	GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' \
		git -C "$dir" commit -q -m "Debian $(basename "$tarball" .tar.xz)"
	git -C "$dir" update-ref "$BASE_TAG" HEAD
}

mkdir -p "$BUILD_DIR"
