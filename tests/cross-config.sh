#!/usr/bin/env bash
# cross.toml as cross-rs itself reads it, without Docker: installs cross 0.2.5 (cached in
# ~/.cache/edgellm/cross), runs `cross build --profile dist --target aarch64-unknown-linux-gnu`
# with a stand-in `docker` that records its calls, and checks that cross found the
# configuration (through the Cross.toml link), builds its image from
# deploy/cross/aarch64.Dockerfile, and runs the build in that image with RUSTFLAGS passed
# through. The image's packages must exist in Debian 12 (apt-cache). Whether the image then
# builds is what tests/aarch64.sh shows: it builds with the image's ENV on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${EDGELLM_CACHE:-$HOME/.cache/edgellm}/cross"
[ -x "$root/bin/cross" ] || cargo install --quiet cross --version 0.2.5 --locked --root "$root"
# `--install`: only that (.ci/run does it in the background, beside the tests).
[ "${1:-}" = "--install" ] && exit 0
work=$(mktemp -d /tmp/edgellm-cross.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/docker" <<'SH'
#!/bin/sh
printf '%s\n' "$*" >> "$(dirname "$0")/calls"
exit 0
SH
# cross 0.2.5 misreads rustup 1.28's `toolchain list` ("(active, default)") and then runs
# `rustup toolchain add stable`, which would update this machine's toolchain: the stand-in
# rustup skips that call and passes every other one to the real rustup.
real_rustup=$(command -v rustup)
cat > "$work/rustup" <<SH
#!/bin/sh
case " \$* " in *" toolchain add "*|*" toolchain install "*) exit 0 ;; esac
exec "$real_rustup" "\$@"
SH
chmod +x "$work/docker" "$work/rustup"
fail() { echo "cross: $*" >&2; exit 1; }
out=$(PATH="$work:$root/bin:$PATH" CROSS_CONTAINER_ENGINE="$work/docker" timeout 300 \
    cross build --profile dist --target aarch64-unknown-linux-gnu 2>&1) || { echo "$out" >&2; fail "cross failed"; }
if grep -qi "unused key" <<<"$out"; then echo "$out" >&2; fail "cross ignores part of cross.toml"; fi
build=$(grep '^build ' "$work/calls" || true)
run=$(grep '^run ' "$work/calls" || true)
[ -n "$build" ] || fail "cross built no image (did it read cross.toml?): $(cat "$work/calls")"
grep -q -- "--file deploy/cross/aarch64.Dockerfile deploy/cross$" <<<"$build" || fail "not our Dockerfile: $build"
tag=$(grep -oE -- '--tag [^ ]+' <<<"$build" | cut -d' ' -f2)
grep -q " $tag sh -c .*cargo build --profile dist --target aarch64-unknown-linux-gnu" <<<"$run" || fail "the build does not run in that image: $run"
grep -q -- "-e RUSTFLAGS " <<<"$run" || fail "RUSTFLAGS is not passed through: $run"
pkgs=$(sed -n '/apt-get install/,/rm -rf/p' deploy/cross/aarch64.Dockerfile | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vxE 'apt-get|install|rm|rf|&&' || true)
for p in $pkgs; do
    apt-cache show --no-all-versions "$p" >/dev/null 2>&1 || fail "the image installs $p, which Debian 12 does not have"
done
echo "cross: reads cross.toml, builds deploy/cross/aarch64.Dockerfile ($(wc -w <<<"$pkgs") Debian packages) and runs cargo build in it"
