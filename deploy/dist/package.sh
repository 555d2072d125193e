#!/usr/bin/env bash
# Package a built edgellm into an installable tree and tarball:
#
#   cargo build --profile dist --target aarch64-unknown-linux-gnu
#   bash deploy/dist/package.sh [TARGET] [PROFILE]     # defaults: aarch64-unknown-linux-gnu dist
#
# Writes $CARGO_TARGET_DIR/package/edgellm-<version>-<arch>/ and the .tar.gz of it:
#   usr/bin/edgellm                    the daemon (finds its libraries in ../lib/edgellm)
#   usr/lib/edgellm/                   llama.cpp's shared libraries and, on aarch64, its CPU
#                                      backend variants libggml-cpu-armv8.0_1.so ... (the best
#                                      for the CPU is loaded at start)
#   lib/systemd/system/edgellm.service, usr/lib/sysusers.d, usr/lib/tmpfiles.d, etc/edgellm
# Install on the board with `sudo tar -xzf edgellm-*.tar.gz -C /`.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${1:-aarch64-unknown-linux-gnu}"
profile="${2:-dist}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgellm/target}"
out="$CARGO_TARGET_DIR/$target/$profile"
bin="$out/edgellm"
[ -x "$bin" ] || { echo "package: $bin is missing; run: cargo build --profile $profile --target $target" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
arch="${target%%-*}"
name="edgellm-$version-$arch"
tree="$CARGO_TARGET_DIR/package/$name"
rm -rf "$tree"
install -d "$tree/usr/bin" "$tree/usr/lib/edgellm" "$tree/lib/systemd/system" \
    "$tree/usr/lib/sysusers.d" "$tree/usr/lib/tmpfiles.d" "$tree/etc/edgellm"
install -m 0755 "$bin" "$tree/usr/bin/edgellm"
# llama.cpp's build output of this target and profile: the newest one with libraries.
build=$(ls -td "$out"/build/llama-cpp-sys-2-*/out 2>/dev/null | while read -r d; do
    if ls "$d"/lib/libllama.so* >/dev/null 2>&1 || ls "$d"/lib/libllama.a >/dev/null 2>&1; then echo "$d"; break; fi
done)
[ -n "$build" ] || { echo "package: no llama.cpp build output under $out/build" >&2; exit 1; }
# Shared libraries by their sonames (what the binary and the backends ask for).
for lib in "$build"/lib/lib*.so.*; do
    [ -e "$lib" ] || continue
    case "$lib" in *.so.*.*) continue ;; esac # the versioned file; keep its soname link
    cp -L "$lib" "$tree/usr/lib/edgellm/$(basename "$lib")"
done
if [ -d "$build/backends" ]; then
    install -m 0644 "$build"/backends/libggml-cpu-*.so "$tree/usr/lib/edgellm/"
fi
# Every library the binary needs that is not a system one must be in the tree.
if command -v readelf >/dev/null; then
    for need in $(readelf -d "$tree/usr/bin/edgellm" | sed -n 's/.*(NEEDED).*\[\(lib\(llama\|ggml\)[^]]*\)\]/\1/p'); do
        [ -e "$tree/usr/lib/edgellm/$need" ] || { echo "package: $need (needed by edgellm) is missing" >&2; exit 1; }
    done
fi
install -m 0644 systemd/edgellm.service "$tree/lib/systemd/system/"
install -m 0644 systemd/edgellm.sysusers "$tree/usr/lib/sysusers.d/edgellm.conf"
install -m 0644 systemd/edgellm.tmpfiles "$tree/usr/lib/tmpfiles.d/edgellm.conf"
install -m 0644 systemd/edgellm.env.example systemd/config.toml.example "$tree/etc/edgellm/"
tar -C "$tree" -czf "$CARGO_TARGET_DIR/package/$name.tar.gz" .
echo "$tree"
echo "$CARGO_TARGET_DIR/package/$name.tar.gz ($(du -sh "$tree" | cut -f1) unpacked; $(ls "$tree/usr/lib/edgellm" | wc -l) libraries)"
