#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Download the pinned base kernel source (Debian's linux-source-7.3 package)
# with apt-get through a private apt configuration, verify it, and keep the
# source tarball in the cache directory. Prints the tarball's path.
#
# The archive URI is read from this machine's own apt sources, so nothing in
# this repository names a mirror. Nothing is written to the system's apt
# configuration, lists or cache.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

APT_DIR=$CACHE_DIR/apt
# Download directory, removed on exit whether or not the fetch succeeded.
tmp=
index_updated=

# Print the first Debian archive URI in the machine's apt sources. The
# security archive carries no linux-source packages, so it is skipped.
archive_uri() {
	local uri

	if [[ -n ${APT_ARCHIVE_URI:-} ]]; then
		echo "$APT_ARCHIVE_URI"
		return
	fi

	uri=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
		 sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' \
			/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	       } | grep -E '/debian/?$' | grep -v -- '-security' | head -n 1 || true)
	[[ -n $uri ]] || die "no Debian archive found in /etc/apt/sources.list or /etc/apt/sources.list.d/; set APT_ARCHIVE_URI to the archive's URI"
	echo "$uri"
}

apt_private() {
	local cmd=$1
	shift
	"$cmd" -o Dir::Etc::sourcelist="$APT_DIR/sources.list" \
		-o Dir::Etc::sourceparts=/nonexistent \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" \
		-o APT::Sandbox::User=root \
		-o Debug::NoLocking=true \
		"$@"
}

update_index() {
	local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	local uri

	[[ -z $index_updated ]] || return 0

	need_tools "$keyring:debian-archive-keyring"
	uri=$(archive_uri)
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	echo "deb [signed-by=$keyring] $uri $BASE_SUITE main" >"$APT_DIR/sources.list"

	log "updating the package index for $BASE_SUITE"
	if ! apt_private apt-get -q update >"$APT_DIR/update.log" 2>&1 ||
	   grep -q '^\(E:\|Err:\)' "$APT_DIR/update.log"; then
		grep '^\(E:\|Err:\|W:\)' "$APT_DIR/update.log" >&2 || true
		if [[ -n ${APT_ARCHIVE_URI:-} ]]; then
			die "cannot read the package index of $BASE_SUITE from $uri (set by APT_ARCHIVE_URI); check that URI or unset APT_ARCHIVE_URI (log: $APT_DIR/update.log)"
		fi
		die "cannot read the package index of $BASE_SUITE from $uri, the Debian archive in the machine's apt sources; check the network and /etc/apt/sources.list.d/ (log: $APT_DIR/update.log)"
	fi
	index_updated=1
}

# Fail with the available versions when the requested one has left the
# archive.
check_version_available() {
	local versions

	versions=$(apt_private apt-cache madison "$BASE_PACKAGE" 2>/dev/null |
		   awk -F'|' '{ gsub(/ /, "", $2); print $2 }')
	if [[ $BASE_VERSION == latest ]]; then
		BASE_VERSION=$(head -n 1 <<<"$versions")
		[[ -n $BASE_VERSION ]] || die "$BASE_PACKAGE is not in $BASE_SUITE; check BASE_PACKAGE and BASE_SUITE"
		log "the newest $BASE_PACKAGE in $BASE_SUITE is $BASE_VERSION"
		return
	fi
	if ! grep -qxF -- "$BASE_VERSION" <<<"$versions"; then
		die "$BASE_PACKAGE $BASE_VERSION is not in $BASE_SUITE (available: ${versions//$'\n'/ }); run again with BASE_VERSION=<available version> to use another one"
	fi
}

verify_sha256() {
	local file=$1 expected=$2 what=$3
	local actual

	actual=$(sha256sum "$file" | cut -d' ' -f1)
	if [[ $actual != "$expected" ]]; then
		rm -f "$file"
		die "$what: sha256 is $actual, expected $expected; the download was removed, run again to fetch it anew"
	fi
}

main() {
	local tarball deb inner

	# "latest" is resolved from a fresh package index, never from the cache.
	if [[ $BASE_VERSION == latest ]]; then
		need_tools apt-get:apt
		mkdir -p "$CACHE_DIR"
		update_index
		check_version_available
	fi

	tarball=$CACHE_DIR/${BASE_PACKAGE}_${BASE_VERSION}.tar.xz
	if [[ -s $tarball ]]; then
		[[ $BASE_VERSION == "$BASE_PINNED_VERSION" ]] &&
			verify_sha256 "$tarball" "$BASE_PINNED_TAR_SHA256" "cached $tarball"
		echo "$tarball"
		return
	fi

	need_tools apt-get:apt dpkg-deb:dpkg sha256sum:coreutils xz:xz-utils
	mkdir -p "$CACHE_DIR"
	update_index
	check_version_available

	tmp=$(mktemp -d "$CACHE_DIR/download.XXXXXX")
	trap '[[ -z $tmp ]] || rm -rf "$tmp"' EXIT

	log "downloading $BASE_PACKAGE $BASE_VERSION from $BASE_SUITE (about 170 MB)"
	if ! (cd "$tmp" && apt_private apt-get -q download "$BASE_PACKAGE=$BASE_VERSION") \
			>"$tmp/download.log" 2>&1; then
		tail -n 5 "$tmp/download.log" >&2
		die "apt-get download $BASE_PACKAGE=$BASE_VERSION failed; check the network and run again"
	fi
	deb=$(ls "$tmp"/*.deb)
	log "downloaded $(du -h "$deb" | cut -f1)"

	if [[ $BASE_VERSION == "$BASE_PINNED_VERSION" ]]; then
		verify_sha256 "$deb" "$BASE_PINNED_DEB_SHA256" "$(basename "$deb")"
	else
		log "no pinned checksum for $BASE_PACKAGE $BASE_VERSION; apt checked it against the archive's signed index"
	fi

	inner=./usr/src/${BASE_PACKAGE}.tar.xz
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "$inner" ||
		die "$(basename "$deb") has no $inner; is BASE_PACKAGE a linux-source package?"
	[[ $BASE_VERSION == "$BASE_PINNED_VERSION" ]] &&
		verify_sha256 "$tmp/$inner" "$BASE_PINNED_TAR_SHA256" "$inner in $(basename "$deb")"

	mv "$tmp/$inner" "$tarball"
	log "verified and cached $tarball"
	echo "$tarball"
}

# "fetch.sh archive-uri" prints the archive URI for other scripts.
if [[ ${1:-} == archive-uri ]]; then
	archive_uri
	exit 0
fi
main "$@"
