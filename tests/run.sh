#!/usr/bin/env bash
# The whole test suite: set-up, the test model, then every test against the real binary.
# Build output is cached under ~/.cache/edgellm/target (llama.cpp takes minutes to build).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgellm/target}"
bash tests/setup.sh
bash tests/check-systemd.sh
EDGELLM_TEST_MODEL="$(bash tests/fetch-model.sh | tail -n 1)"
export EDGELLM_TEST_MODEL
# One model-serving test at a time (the harness also serialises servers); OpenMP threads
# sleep instead of spinning while they wait.
export OMP_WAIT_POLICY=PASSIVE
cargo test --release --workspace --no-fail-fast "$@"
