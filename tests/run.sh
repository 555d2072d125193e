#!/usr/bin/env bash
# The whole test suite: set-up, the test model, then every test against the real binary.
# Build output is cached under ~/.cache/edgellm/target (llama.cpp takes minutes to build).
#
#   bash tests/run.sh                  everything (what CI runs after fmt): the build with
#                                      clippy, the tests that need no model, then those that do
#   bash tests/run.sh --build          set-up and the build with clippy only (.ci/run's build phase)
#   bash tests/run.sh --test protect   one test file (any cargo test arguments)
#   bash tests/run.sh --quick          the developer loop: fmt, module cycles, the build with
#                                      clippy and every test that needs no model (unit tests,
#                                      router tests with a fake backend, the engine's fuzz
#                                      properties, the unit file)
#
# Clippy runs inside the build: the workspace's crates are compiled by clippy-driver (set as
# RUSTC_WORKSPACE_WRAPPER, as `cargo clippy` does, but building instead of only checking)
# with warnings denied, so a lint fails the build. `cargo test --no-run` compiles every
# target `cargo clippy --all-targets` lints (libraries, binaries, tests; there are no
# examples or benches), and the ~300 dependencies compile once, not once more in check
# mode for a separate clippy run (minutes on a cold cache). The code generated is rustc's.
# EDGELLM_PHASES=FILE appends each step's wall time to FILE (.ci/run's summary shows them).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgellm/target}"
mode=all
case "${1:-}" in
    --quick) mode=quick; shift ;;
    --build) mode=build; shift ;;
esac
step() {
    local name=$1
    shift
    local t0=$SECONDS rc=0
    echo "=== tests/run.sh: $name ===" >&2
    "$@" || rc=$?
    [ -z "${EDGELLM_PHASES:-}" ] || echo "  $name: $((SECONDS - t0)) s" >>"$EDGELLM_PHASES"
    return "$rc"
}
lint_in_build() {
    local driver
    driver=$(rustup which clippy-driver 2>/dev/null) || {
        echo "tests/run.sh: clippy-driver is missing: rustup component add clippy" >&2
        exit 1
    }
    export RUSTC_WORKSPACE_WRAPPER="$driver"
    export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}
build() {
    cargo test --release --workspace --no-run
}
# The tests that need no model and no daemon: every crate's own tests, the binary's unit tests.
model_free() {
    local rc=0
    cargo test --release --workspace --exclude edgellm --no-fail-fast "$@" || rc=$?
    cargo test --release -p edgellm --bins --no-fail-fast "$@" || rc=$?
    return "$rc"
}

if [ "$mode" = quick ]; then
    bash tests/setup.sh build
    lint_in_build
    cargo fmt --all --check
    python3 tests/check-module-cycles.py
    step "build with clippy" build
    if command -v systemd-analyze >/dev/null; then bash tests/check-systemd.sh; fi
    model_free "$@"
    exit 0
fi
bash tests/setup.sh
lint_in_build
step "build with clippy" build
[ "$mode" = build ] && exit 0
bash tests/check-systemd.sh
python3 tests/check-module-cycles.py
EDGELLM_TEST_MODEL="$(bash tests/fetch-model.sh | tail -n 1)"
export EDGELLM_TEST_MODEL
# One model-serving test at a time (the harness also serialises servers); OpenMP threads
# sleep instead of spinning while they wait.
export OMP_WAIT_POLICY=PASSIVE
if [ "$#" -gt 0 ]; then
    cargo test --release --workspace --no-fail-fast "$@"
    exit 0
fi
# Each end-to-end file on its own, so that its time shows (and the slow ones can be found);
# a failing file does not stop the others.
end_to_end() {
    local rc=0 f
    for f in tests/*.rs; do
        step "  $(basename "$f")" cargo test --release -p edgellm --test "$(basename "$f" .rs)" || rc=$?
    done
    return "$rc"
}
rc=0
step "tests without the model" model_free || rc=$?
step "tests with the model and the binary" end_to_end || rc=$?
exit "$rc"
