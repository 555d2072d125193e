#!/usr/bin/env bash
# Install what building and testing edgellm needs on Debian/Ubuntu, if missing:
# cmake + clang/libclang (llama.cpp and its bindgen), BIND9 (ACME DNS-01 tests), promtool (from prometheus, to check
# /metrics), pebble (a test ACME CA), systemd (systemd-analyze), chromium + playwright-core
# (the chat page), haproxy (several boards behind a balancer), the aarch64 cross compilers, a venv with the openai and
# ollama Python clients, LangChain and kubernetes-validate, rustfmt and clippy, bitbake's
# host tools and locale.
# `tests/setup.sh build` installs only what building and running the daemon needs.
# Safe to run repeatedly.
set -euo pipefail
mode="${1:-all}"

packages=(cmake clang libclang-dev pkg-config ca-certificates prometheus pebble systemd chromium haproxy)
# ACME DNS-01 tests: BIND9 (named, tsig-keygen, dig); curl for the example DNS hooks.
packages+=(bind9 bind9-utils bind9-dnsutils curl)
# qemu-x86_64 plays an older CPU (no AVX2) in tests/cli.rs; tests/aarch64.sh uses qemu-aarch64.
packages+=(qemu-user)
# tests/aarch64.sh: Debian's aarch64 cross compilers and OpenMP (installed here so that
# .ci/run's background aarch64 build never runs apt beside anything else).
packages+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libgomp1-arm64-cross)
# bitbake's host tools and its en_US.UTF-8 locale (tests/check-bitbake.sh).
packages+=(chrpath cpio diffstat gawk lz4 zstd file locales)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
# node/npm usually come with the machine; only install Debian's when missing.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
[ "$mode" = build ] && packages=(cmake clang libclang-dev pkg-config ca-certificates)
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
[ "$mode" = build ] && exit 0
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true

if ! locale -a 2>/dev/null | grep -qi '^en_US.utf8$'; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen 2>/dev/null || echo 'en_US.UTF-8 UTF-8' | $sudo tee -a /etc/locale.gen >/dev/null
    $sudo locale-gen >/dev/null
fi

# The official Python clients (openai, ollama, anthropic) and LangChain, for the client compatibility tests;
# python-zeroconf, a DNS-SD browser for the --mdns test; jsonschema and PyYAML for the
# spec-conformance test.
venv="${EDGELLM_TEST_VENV:-$HOME/.cache/edgellm/venv}"
if ! "$venv/bin/python" -c "import openai.types.responses, ollama, anthropic, langchain_openai, kubernetes_validate, zeroconf, jsonschema, yaml" >/dev/null 2>&1; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openai>=1.66" "ollama>=0.4" "anthropic>=0.40" "jsonschema>=4.18" "pyyaml>=6" \
        "langchain-openai>=0.3" "kubernetes-validate>=1.30" "zeroconf>=0.130" >&2
fi
# playwright-core drives the system Chromium; it downloads no browser.
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$here/web/node_modules/playwright-core" ]; then
    (cd "$here/web" && npm ci --no-audit --no-fund --silent) >&2
fi
