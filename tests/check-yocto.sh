#!/usr/bin/env bash
# Offline checks of yocto/meta-edgellm: crates.inc matches Cargo.lock, and oelint-adv finds
# no warnings or errors (the generated crates.inc's spacing rule and the HOMEPAGE ping,
# which needs the internet, are suppressed, as public layers do).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 tests/yocto-crates.py --check
venv="${EDGELLM_TEST_VENV:-$HOME/.cache/edgellm/venv}"
"$venv/bin/python" -c "import oelint_adv" 2>/dev/null || "$venv/bin/pip" install --quiet --disable-pip-version-check oelint-adv >&2
out=$(cd yocto/meta-edgellm && "$venv/bin/oelint-adv" --quiet \
    --suppress oelint.vars.inconspaces --suppress oelint.vars.homepageping \
    $(find . -name "*.bb" -o -name "*.bbappend") 2>&1 | grep -v ":info:" || true)
if [ -n "$out" ]; then
    echo "$out" >&2
    exit 1
fi
echo "yocto: oelint-adv clean"
