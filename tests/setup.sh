#!/usr/bin/env bash
# Install what building and testing edgellm needs on Debian/Ubuntu, if missing:
# cmake + clang/libclang (llama.cpp and its bindgen), promtool (from prometheus, to check
# /metrics), pebble (a test ACME CA), systemd (systemd-analyze), rustfmt and clippy.
# Safe to run repeatedly.
set -euo pipefail

packages=(cmake clang libclang-dev pkg-config ca-certificates prometheus pebble systemd)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
