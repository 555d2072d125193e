#!/usr/bin/env bash
# Build the aarch64 release binary with Debian's cross compilers and run it under
# qemu-user with the real model: `edgellm generate` must load the model and produce the
# same first words as the native build (NEON and AVX kernels round differently, so only a
# short prefix is compared). Prints the binary's size.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgellm/target}"
packages=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libgomp1-arm64-cross qemu-user)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
rustup target add aarch64-unknown-linux-gnu >/dev/null
model="$(bash tests/fetch-model.sh | tail -n 1)"
cargo build --release --bin edgellm
cargo build --release --bin edgellm --target aarch64-unknown-linux-gnu
bin="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/release/edgellm"
file "$bin" 2>/dev/null || true
echo "aarch64 binary: $(stat -c %s "$bin") bytes (release profile; the dist profile adds LTO and strip)"
prompt="Write a haiku about the sea."
native=$("$CARGO_TARGET_DIR/release/edgellm" generate --model "$model" --prompt "$prompt" --max-tokens 6 --threads 2)
arm=$(OMP_WAIT_POLICY=PASSIVE timeout 600 qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin" generate --model "$model" --prompt "$prompt" --max-tokens 6 --threads 2)
echo "native:  $native"
echo "aarch64: $arm"
[ -n "$arm" ] || { echo "aarch64: empty output" >&2; exit 1; }
if [ "${native:0:12}" != "${arm:0:12}" ]; then
    echo "aarch64 output differs from native in its first 12 characters" >&2
    exit 1
fi
echo "aarch64 smoke test passed"
