#!/usr/bin/env bash
# Build the aarch64 release binary with Debian's cross compilers, package it
# (deploy/dist/package.sh: binary + llama.cpp's libraries and CPU backend variants) and run
# the packaged binary under qemu-user with the real model, as a Pi 4 (cortex-a72: no
# dot-product, must load the armv8.0 variant) and as a Pi 5 (cortex-a76: dotprod + fp16,
# must load armv8.2_2): `edgellm generate` must name that variant and produce the same
# first words as the native build (NEON and AVX kernels round differently, so only a short
# prefix is compared). The dotprod variant must contain `sdot` instructions. A missing
# backend directory must be a one-line error. Prints the sizes. (qemu timings mean nothing
# for board speed and are not reported.)
#
#   bash tests/aarch64.sh           build, package and run the checks
#   bash tests/aarch64.sh --build   build and package only (.ci/run starts it in the
#                                   background at idle priority while the tests run)
set -euo pipefail
# The cargo profile built and packaged (Cargo.toml says why CI uses `cross-test`).
profile="${EDGELLM_AARCH64_PROFILE:-cross-test}"
build_only=""
[ "${1:-}" = "--build" ] && build_only=1
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
# The aarch64 llama.cpp comes as CPU variants up to armv9.2, which Debian 12's gcc 12 cannot
# compile: clang compiles llama.cpp (linking through the cross binutils); Rust code still
# links with aarch64-linux-gnu-gcc. The settings are the ENV of the image `cross build` uses
# (deploy/cross/aarch64.Dockerfile, Debian 12 like this machine), so CI builds as cross does.
cross_env=$(sed -n '/^ENV /,/[^\\]$/p' deploy/cross/aarch64.Dockerfile | sed -E 's/^ENV //; s/^ +//; s/ *\\$//; s/"//g')
grep -q '^CC_aarch64_unknown_linux_gnu=clang$' <<<"$cross_env" || { echo "aarch64: no clang in deploy/cross/aarch64.Dockerfile's ENV" >&2; exit 1; }
# llama-cpp-sys-2 hard-links its libraries into the target dir, symlinks included; after a
# rebuild those would dangle and its build script would fail on them: drop dangling ones.
find "$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu" -maxdepth 2 -xtype l -name 'lib*.so*' -delete 2>/dev/null || true
(
    while IFS='=' read -r name value; do export "$name=$value"; done <<<"$cross_env"
    cargo build --profile "$profile" --bin edgellm --target aarch64-unknown-linux-gnu
)
packaged=$(bash deploy/dist/package.sh aarch64-unknown-linux-gnu "$profile")
echo "$packaged"
if [ -n "$build_only" ]; then
    exit 0
fi
model="$(bash tests/fetch-model.sh | tail -n 1)"
# The native reference: .ci/run passes the binary its test phase just built from this tree
# (a separate `cargo build` resolves features without the dev-dependencies and so rebuilds
# the workspace, a minute of CI, for the same code).
native_bin="${EDGELLM_NATIVE_BIN:-}"
if [ -z "$native_bin" ]; then
    cargo build --release --bin edgellm
    native_bin="$CARGO_TARGET_DIR/release/edgellm"
fi
tree=$(sed -n 1p <<<"$packaged")
bin="$tree/usr/bin/edgellm"
libs="$tree/usr/lib/edgellm"
file "$bin" 2>/dev/null || true
echo "aarch64 binary: $(stat -c %s "$bin") bytes, libraries: $(du -sh "$libs" | cut -f1) ($profile profile; dist adds LTO and strip)"
ls "$libs"

# The dot-product kernels are in the Pi 5 variant and not in the Pi 4 one.
sdot() { aarch64-linux-gnu-objdump -d "$libs/libggml-cpu-$1.so" | grep -c $'\tsdot' || true; }
a76_sdot=$(sdot armv8.2_2)
a72_sdot=$(sdot armv8.0_1)
echo "sdot instructions: armv8.2_2 $a76_sdot, armv8.0_1 $a72_sdot"
[ "$a76_sdot" -gt 0 ] || { echo "the armv8.2_2 variant has no sdot instructions" >&2; exit 1; }
[ "$a72_sdot" -eq 0 ] || { echo "the armv8.0_1 variant uses sdot, which a Pi 4 lacks" >&2; exit 1; }

prompt="Write a haiku about the sea."
native=$("$native_bin" generate --model "$model" --prompt "$prompt" --max-tokens 6 --threads 2)
echo "native:  $native"
for board in "cortex-a72 armv8.0_1 Pi-4" "cortex-a76 armv8.2_2 Pi-5"; do
    read -r cpu variant name <<<"$board"
    err=$(mktemp)
    arm=$(OMP_WAIT_POLICY=PASSIVE timeout 900 qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$bin" generate \
        --model "$model" --prompt "$prompt" --max-tokens 6 --threads 2 2>"$err") || { cat "$err" >&2; exit 1; }
    picked=$(grep '^edgellm: ' "$err" || true)
    rm -f "$err"
    echo "aarch64 $name ($cpu): $arm"
    echo "  $picked"
    case "$picked" in
        *"run-time variant $variant "*) ;;
        *) echo "$name ($cpu) should run the $variant variant" >&2; exit 1 ;;
    esac
    [ -n "$arm" ] || { echo "aarch64: empty output" >&2; exit 1; }
    if [ "${native:0:12}" != "${arm:0:12}" ]; then
        echo "aarch64 output ($cpu) differs from native in its first 12 characters" >&2
        exit 1
    fi
done

# Without its backend libraries the daemon says where it looked, in one line.
if out=$(timeout 300 qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin" generate --model "$model" \
    --prompt x --max-tokens 1 --backend-dir /nonexistent 2>&1); then
    echo "a missing backend directory was not an error" >&2
    exit 1
fi
echo "$out" | tail -n 1
echo "$out" | tail -n 1 | grep -q "/nonexistent" || { echo "the error does not say where it looked" >&2; exit 1; }
echo "aarch64 tests passed"
