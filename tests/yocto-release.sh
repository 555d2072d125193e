#!/usr/bin/env bash
# Point the Yocto recipe at a release: `tests/yocto-release.sh v0.1.0` sets EDGELLM_TAG and
# SRCREV (the tag's commit) in recipes-ai/edgellm/edgellm_0.1.0.bb and regenerates
# edgellm-crates.inc from that commit's Cargo.lock. The tag must exist (git tag -a ...) and
# be pushed with the branch (git push --follow-tags).
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:?usage: tests/yocto-release.sh TAG}"
commit=$(git rev-parse --verify --quiet "$tag^{commit}") || { echo "yocto-release: no tag $tag" >&2; exit 1; }
recipe=yocto/meta-edgellm/recipes-ai/edgellm/edgellm_0.1.0.bb
sed -i -e "s/^EDGELLM_TAG = \".*\"/EDGELLM_TAG = \"$tag\"/" -e "s/^SRCREV = \".*\"/SRCREV = \"$commit\"/" "$recipe"
python3 tests/yocto-crates.py --rev "$commit"
echo "yocto-release: $recipe now builds $tag ($commit)"
