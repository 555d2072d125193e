#!/usr/bin/env bash
# The whole test suite: set-up, the test model, then every test against the real binary.
# Build output is cached under ~/.cache/edgellm/target (llama.cpp takes minutes to build).
#
#   bash tests/run.sh                  everything (what CI runs after fmt and clippy)
#   bash tests/run.sh --test protect   one test file (any cargo test arguments)
#   bash tests/run.sh --quick          the developer loop: fmt, module cycles, clippy and every test that
#                                      needs no model (unit tests, router tests with a fake
#                                      backend, the engine's fuzz properties, the unit file)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgellm/target}"
if [ "${1:-}" = "--quick" ]; then
    shift
    bash tests/setup.sh build
    cargo fmt --all --check
    python3 tests/check-module-cycles.py
    cargo clippy --release --workspace --all-targets -- -D warnings
    if command -v systemd-analyze >/dev/null; then bash tests/check-systemd.sh; fi
    cargo test --release --workspace --lib --bins "$@"
    cargo test --release -p edgellm-api -p edgellm-engine -p edgellm-tls -p edgellm-observe --tests "$@"
    exit 0
fi
bash tests/setup.sh
bash tests/check-systemd.sh
python3 tests/check-module-cycles.py
EDGELLM_TEST_MODEL="$(bash tests/fetch-model.sh | tail -n 1)"
export EDGELLM_TEST_MODEL
# One model-serving test at a time (the harness also serialises servers); OpenMP threads
# sleep instead of spinning while they wait.
export OMP_WAIT_POLICY=PASSIVE
cargo test --release --workspace --no-fail-fast "$@"
