#!/usr/bin/env bash
# Cargo decides that a workspace crate is stale by its files' mtimes, and a fresh clone gives
# every file a new one: the whole workspace (and every test binary) was rebuilt on each CI
# run, two minutes for nothing. This keeps, per tracked file, its content hash and the mtime
# it had when the previous run built it:
#
#   bash .ci/mtimes.sh restore   a file whose content is unchanged gets its old mtime back
#   bash .ci/mtimes.sh save      record hash and mtime of every tracked file
#
# .ci/run does both at its start, before anything builds, so the record always describes
# the tree the latest run built from. A file gets an old mtime only when it holds the very
# bytes it held, with that mtime, in the previous run; every artifact newer than that mtime
# was then built from these bytes. A changed file keeps the clone's new mtime, so cargo
# rebuilds everything a change touches: this cannot make a broken tree pass.
set -euo pipefail
cd "$(dirname "$0")/.."
store="${EDGELLM_MTIME_STORE:-$HOME/.cache/edgellm/mtimes.tsv}"
case "${1:-}" in
    save)
        mkdir -p "$(dirname "$store")"
        git ls-files -z | xargs -0 sha256sum | while read -r sum path; do
            printf '%s\t%s\t%s\n' "$sum" "$(stat -c %Y "$path")" "$path"
        done >"$store.tmp"
        mv "$store.tmp" "$store"
        ;;
    restore)
        [ -f "$store" ] || { echo "mtimes: nothing recorded yet"; exit 0; }
        declare -A old
        while IFS=$'\t' read -r sum mtime path; do old["$sum $path"]=$mtime; done <"$store"
        kept=0
        changed=0
        while read -r sum path; do
            mtime=${old["$sum $path"]:-}
            if [ -n "$mtime" ]; then
                touch -m -d "@$mtime" "$path"
                kept=$((kept + 1))
            else
                changed=$((changed + 1))
            fi
        done < <(git ls-files -z | xargs -0 sha256sum)
        echo "mtimes: $kept files as the last run built them, $changed new or changed"
        ;;
    *)
        echo "usage: $0 save|restore" >&2
        exit 2
        ;;
esac
