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
# kas files against the schema shipped in the kas package.
"$venv/bin/python" -c "import kas" 2>/dev/null || "$venv/bin/pip" install --quiet --disable-pip-version-check kas >&2
"$venv/bin/python" - yocto/meta-edgellm/kas/*.yml <<'PY'
import json, pathlib, sys
import jsonschema, kas, yaml
schema = json.loads((pathlib.Path(kas.__file__).parent / "schema-kas.json").read_text())
for f in sys.argv[1:]:
    jsonschema.validate(yaml.safe_load(pathlib.Path(f).read_text()), schema)
print(f"yocto: {len(sys.argv) - 1} kas files match the kas schema")
PY
# bitbake itself: parse, dry runs for Pi 5 and Pi 4, and the recipe's variables.
bash tests/check-bitbake.sh
