#!/usr/bin/env bash
# Compare edgellm with llama.cpp's own tools on this machine, in one run.
#
#   bash tests/compare-llama.sh            # 2 threads, the test model
#   THREADS=4 ROUNDS=5 MODEL=/path/to.gguf bash tests/compare-llama.sh
#
# Not part of CI (it builds llama.cpp's tools and takes ~20 minutes cold).
#
# What it does:
#  1. Copies the llama.cpp source vendored in the exact `llama-cpp-sys-2` version our
#     Cargo.lock pins (from the local cargo registry). The crate strips the sources of
#     llama.cpp's tools, so those (tools/llama-bench, tools/server, tools/ui and
#     scripts/ui-assets.cmake) come from the llama-cpp-python sdist on PyPI, which vendors
#     a llama.cpp of nearly the same date; small API drift is patched below.
#     libllama, ggml and common are the crate's own, so the engine code under test is the
#     same as ours.
#  2. Builds llama-bench and llama-server with the CMake settings llama-cpp-sys-2 used for
#     our build (read back from its CMakeCache.txt: compiler flags and every GGML_* option;
#     Release, static), so both use the same CPU kernels.
#  3. Runs, one process at a time on the same model and thread count:
#       llama-bench (pp512, tg128)      vs  edgellm bench (pp, tg)
#       llama-server over plain HTTP    vs  edgellm over HTTPS: TTFT and streamed tok/s
#       llama-server -np 4              vs  edgellm --parallel 4: 4-stream aggregate tok/s
#     and the peak RSS of both servers; prints a table of figures and ratios.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${EDGELLM_CACHE:-$HOME/.cache/edgellm}
WORK=$CACHE/compare
THREADS=${THREADS:-2}
MODEL=${MODEL:-${EDGELLM_TEST_MODEL:-$CACHE/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}}
SDIST_VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
export OMP_WAIT_POLICY=PASSIVE
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}

mkdir -p "$WORK"
log() { printf '== %s\n' "$*" >&2; }

[ -f "$MODEL" ] || bash "$ROOT/tests/fetch-model.sh"

# --- 1. sources ------------------------------------------------------------------------
SYS_DIR=$(cd "$ROOT" && cargo metadata --format-version 1 --locked 2>/dev/null |
    python3 -c 'import json,sys,os
m=json.load(sys.stdin)
p=[p for p in m["packages"] if p["name"]=="llama-cpp-sys-2"][0]
print(os.path.dirname(p["manifest_path"]))')
SYS_VERSION=$(basename "$SYS_DIR")
log "llama.cpp from $SYS_DIR"

SDIST=$WORK/llama_cpp_python-$SDIST_VERSION
if [ ! -d "$SDIST" ]; then
    log "fetching the llama-cpp-python $SDIST_VERSION sdist for the tool sources"
    (cd "$WORK" && python3 -m pip download --quiet --no-deps --no-binary :all: \
        "llama-cpp-python==$SDIST_VERSION" -d . && tar xzf "llama_cpp_python-$SDIST_VERSION.tar.gz")
fi
TOOLS_SRC=$SDIST/vendor/llama.cpp

SRC=$WORK/src-$SYS_VERSION
if [ ! -f "$SRC/.prepared" ]; then
    rm -rf "$SRC"
    cp -a "$SYS_DIR/llama.cpp" "$SRC"
    chmod -R u+w "$SRC"
    for d in tools/llama-bench tools/server tools/ui; do
        rm -rf "${SRC:?}/$d"
        cp -a "$TOOLS_SRC/$d" "$SRC/$d"
    done
    mkdir -p "$SRC/scripts"
    cp "$TOOLS_SRC/scripts/ui-assets.cmake" "$SRC/scripts/"
    # Only the tools we compare with; the crate ships the others without sources.
    cat >"$SRC/tools/CMakeLists.txt" <<'EOF'
find_package(Threads REQUIRED)
llama_add_compile_flags()
add_subdirectory(mtmd)
add_subdirectory(llama-bench)
add_subdirectory(ui)
add_subdirectory(server)
EOF
    # API drift between the sdist's server and the crate's newer libmtmd.
    sed -i 's/auto mmproj_mem = mtmd_get_memory_usage(mmproj_path.c_str(), mparams);/auto mmproj_mem = mtmd_get_memory_usage(mmproj_path.c_str(), mparams).backend_mem_usage;/' \
        "$SRC/tools/server/server-context.cpp"
    sed -i 's/std::ifstream f = fs_open_ifstream(params.mcp_servers_config, std::ios::in);/std::ifstream f(params.mcp_servers_config);/' \
        "$SRC/tools/server/server-mcp.cpp"
    touch "$SRC/.prepared"
fi

# --- 2. build --------------------------------------------------------------------------
log "building edgellm (release)"
(cd "$ROOT" && cargo build --release --locked --quiet)
# Our build's own CMake settings, read back from llama-cpp-sys-2's CMakeCache: the compiler
# flags and every GGML_* option (CPU features, OpenMP, repack, ...), so llama.cpp's tools
# get the same kernels as edgellm on this machine (x86 or aarch64).
OUR_CACHE=$(ls -t "$CARGO_TARGET_DIR"/release/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt | head -1)
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$OUR_CACHE" | head -1; }
mapfile -t GGML_OPTS < <(grep -E '^GGML_[A-Z0-9_]+:(BOOL|STRING)=' "$OUR_CACHE" |
    sed -E 's/^([A-Z0-9_]+):[A-Z]+=(.*)$/-D\1=\2/')
CFLAGS_OURS=$(cache_value CMAKE_C_FLAGS)
CXXFLAGS_OURS=$(cache_value CMAKE_CXX_FLAGS)
KEY=$(printf '%s\n' "$CFLAGS_OURS" "$CXXFLAGS_OURS" "${GGML_OPTS[@]}" | sha256sum | cut -c1-10)
BUILD=$WORK/build-$SYS_VERSION-$KEY
if [ ! -x "$BUILD/bin/llama-server" ] || [ ! -x "$BUILD/bin/llama-bench" ]; then
    log "building llama-bench and llama-server with our settings from $OUR_CACHE"
    cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        "${GGML_OPTS[@]}" -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
        -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_APP=OFF \
        -DCMAKE_C_FLAGS="$CFLAGS_OURS" -DCMAKE_CXX_FLAGS="$CXXFLAGS_OURS" \
        >"$WORK/cmake.log" 2>&1 || { tail -30 "$WORK/cmake.log"; exit 1; }
    cmake --build "$BUILD" --target llama-bench llama-server -j "$(nproc)" \
        >"$WORK/build.log" 2>&1 || { grep -m20 -B2 -A6 'error' "$WORK/build.log"; exit 1; }
fi
grep -E '^(GGML_NATIVE|GGML_AVX2|GGML_CPU_ARM_ARCH|GGML_OPENMP|CMAKE_C_FLAGS):' "$BUILD/CMakeCache.txt" >&2

# --- 3. measure ------------------------------------------------------------------------
RUN=$WORK/run
rm -rf "$RUN" && mkdir -p "$RUN"
python3 "$ROOT/tests/compare/measure.py" --edgellm "$CARGO_TARGET_DIR/release/edgellm" \
    --llama-server "$BUILD/bin/llama-server" --llama-bench "$BUILD/bin/llama-bench" \
    --model "$MODEL" --threads "$THREADS" --rounds "${ROUNDS:-4}" --work "$RUN"
