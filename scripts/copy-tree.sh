#!/bin/bash
# Copy the repository's tracked and new (not ignored) files, as they are in
# the working tree, to DIR, emptied first: a clean source tree to build in.
#
#   copy-tree.sh DIR
set -euo pipefail

dir=${1:?usage: copy-tree.sh DIR}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rm -rf "$dir"
mkdir -p "$dir"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
	cpio -0pdm --quiet "$dir"
