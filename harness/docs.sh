#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the documentation pages that the series adds or changes with the
# kernel's own Sphinx configuration and kernel-doc extension, and fail on
# any warning that names one of the series' files.
#
# A full "make htmldocs" takes far longer than the rest of the check, and
# "make SPHINXDIRS=..." builds each directory alone, so every link between
# core-api/ and filesystems/ turns into a warning. Instead the pages are
# linked into build/docs/Documentation/ together with the pages they link
# to, and that small tree is built as one Sphinx project.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

# Pages that the series' pages link to.
LINKED_PAGES=(
	core-api/liveupdate.rst
	core-api/kho/index.rst
	mm/memfd_preservation.rst
	userspace-api/liveupdate.rst
)

main() {
	local docs=$BUILD_DIR/docs
	local src=$docs/Documentation
	local log=$docs/sphinx.log
	local changed pages page warnings

	need_tools /usr/bin/sphinx-build:python3-sphinx \
		/usr/lib/python3/dist-packages/yaml:python3-yaml
	[[ -d $TREE_DIR/Documentation ]] || die "$TREE_DIR has no Documentation/; run make compose first"

	changed=$(git -C "$TREE_DIR" diff --name-only "$BASE_TAG..HEAD")
	mapfile -t pages < <({ printf '%s\n' "${LINKED_PAGES[@]}"
			      grep '^Documentation/.*\.rst$' <<<"$changed" | sed 's|^Documentation/||'
			    } | sort -u)

	rm -rf "$docs"
	mkdir -p "$src"
	ln -s "$TREE_DIR/MAINTAINERS" "$docs/MAINTAINERS"
	{
		printf 'Pages changed by the series\n===========================\n\n'
		printf '.. toctree::\n\n'
	} >"$src/index.rst"
	for page in "${pages[@]}"; do
		mkdir -p "$src/$(dirname "$page")"
		ln -s "$TREE_DIR/Documentation/$page" "$src/$page"
		printf '   %s\n' "${page%.rst}" >>"$src/index.rst"
	done

	log "building ${#pages[@]} documentation pages with sphinx-build (log: $log)"
	# Debian's sphinx-build runs with Debian's python3, which has yaml.
	if ! (cd "$TREE_DIR" && PATH=/usr/bin:/bin:$PATH srctree=$TREE_DIR \
		sphinx-build -q -b html -c "$TREE_DIR/Documentation" \
			-d "$docs/doctrees" -D kerneldoc_srctree="$TREE_DIR" \
			"$src" "$docs/html") >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		die "sphinx-build failed (log: $log)"
	fi

	# Warnings about the series' own files: its pages, and the sources whose
	# kernel-doc the pages include.
	warnings=$(grep -F -f <(printf '%s\n' "${changed//Documentation\//}") "$log" || true)
	if [[ -n $warnings ]]; then
		printf '%s\n' "$warnings" >&2
		echo "documentation warnings in the series' files (log: $log)" >&2
		return 1
	fi
	log "documentation built without warnings from the series' files: $docs/html/index.html"
}

main "$@"
