#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Remove build/. With LINUX_SRC, also remove what the tooling added to that
# repository: the worktrees under build/ and the ref that marks the base.

# shellcheck source=harness/lib.sh
source "$(dirname "$0")/lib.sh"

rm -rf "$BUILD_DIR"
if [[ -n $LINUX_SRC ]]; then
	git -C "$LINUX_SRC" worktree prune
	git -C "$LINUX_SRC" update-ref -d "$BASE_TAG" 2>/dev/null || true
fi
log "removed $BUILD_DIR"
