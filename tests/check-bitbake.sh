#!/usr/bin/env bash
# bitbake against the real layers, offline: extract the Yocto 6.0.2 LTS snapshots (bitbake,
# openembedded-core, meta-clang, meta-raspberrypi; see ../shared/yocto/README.md) into a
# temporary directory next to a copy of yocto/meta-edgellm, then, as an unprivileged user
# (bitbake refuses root):
#   1. `bitbake -p` with MACHINE=raspberrypi5: no error, and no warning naming our layer;
#   2. `bitbake -n edgellm-image` (dry run of the whole task graph) for raspberrypi5 and
#      raspberrypi4-64;
#   3. `bitbake -e edgellm`: SRC_URI and SRCREV of the release, the Pi 5 tune, our files.
# The snapshots are looked for in $EDGELLM_YOCTO_SNAPSHOTS, ../shared/yocto, /work/shared/yocto.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
snap=""
for d in "${EDGELLM_YOCTO_SNAPSHOTS:-}" "$repo/../shared/yocto" /work/shared/yocto; do
    if [ -n "$d" ] && [ -f "$d/bitbake-yocto-6.0.2.tar.gz" ]; then snap=$d; break; fi
done
if [ -z "$snap" ]; then
    echo "bitbake: SKIPPED: no Yocto snapshots found (set EDGELLM_YOCTO_SNAPSHOTS)" >&2
    exit 0
fi
started=$(date +%s)
work=$(mktemp -d /tmp/edgellm-bitbake.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/layers" "$work/build/conf"
for f in "$snap"/*.tar.gz; do tar -xzf "$f" -C "$work/layers"; done
cp -r yocto/meta-edgellm "$work/layers/"
L="$work/layers"
cat > "$work/build/conf/bblayers.conf" <<CONF
BBPATH = "\${TOPDIR}"
BBFILES ?= ""
BBLAYERS = "$L/openembedded-core/meta $L/meta-clang $L/meta-raspberrypi $L/meta-edgellm"
CONF
cat > "$work/build/conf/local.conf" <<CONF
MACHINE ??= "raspberrypi5"
DISTRO ?= "nodistro"
# Dry-run tasks only wait on the server; more of them at once shortens the check.
BB_NUMBER_THREADS = "16"
BB_NUMBER_PARSE_THREADS = "2"
LICENSE_FLAGS_ACCEPTED += "synaptics-killswitch"
# Offline: nothing is fetched by a parse or a dry run.
BB_NO_NETWORK = "1"
CONF
user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
    user=edgellm-bb
    id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
    chown -R "$user" "$work"
fi
bb() {
    local machine=$1
    shift
    local cmd="cd '$work/build' && PATH='$L/bitbake/bin:/usr/local/bin:/usr/bin:/bin' MACHINE=$machine BB_ENV_PASSTHROUGH_ADDITIONS=MACHINE LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 bitbake $*"
    if [ "$user" = "$(id -un)" ]; then bash -c "$cmd"; else runuser -u "$user" -- bash -c "$cmd"; fi
}
fail() { echo "bitbake: $*" >&2; exit 1; }

out=$(bb raspberrypi5 -p 2>&1) || { echo "$out" | tail -40 >&2; fail "parse failed"; }
if echo "$out" | grep -E "^(ERROR|WARNING):" | grep -q "meta-edgellm\|edgellm"; then
    echo "$out" | grep -E "^(ERROR|WARNING):" >&2
    fail "warnings or errors from meta-edgellm while parsing"
fi
echo "bitbake: parse clean ($(echo "$out" | grep -cE '^WARNING:' || true) warnings from other layers)"

for machine in raspberrypi5 raspberrypi4-64; do
    out=$(bb "$machine" -n edgellm-image 2>&1) || { echo "$out" | tail -40 >&2; fail "dry run failed for $machine"; }
    tasks=$(echo "$out" | grep -oE "Tasks Summary: Attempted [0-9]+ tasks" | grep -oE "[0-9]+" || echo "?")
    echo "bitbake: dry run of edgellm-image for $machine: $tasks tasks resolve"
done

env_out=$(bb raspberrypi5 -e edgellm 2>&1) || { echo "$env_out" | tail -20 >&2; fail "bitbake -e edgellm failed"; }
get() { echo "$env_out" | grep -E "^$1=" | head -n1 | cut -d= -f2- | tr -d '"'; }
srcrev=$(grep -oE '^SRCREV = "[0-9a-f]{40}"' yocto/meta-edgellm/recipes-ai/edgellm/edgellm_0.1.0.bb | grep -oE '[0-9a-f]{40}')
[ "$(get SRCREV)" = "$srcrev" ] || fail "SRCREV is '$(get SRCREV)', expected $srcrev"
[ "$srcrev" != "0000000000000000000000000000000000000000" ] || fail "SRCREV is all zeros"
get SRC_URI | grep -q "git://github.com/edgellm/edgellm.git;.*tag=v" || fail "SRC_URI lacks the release tag: $(get SRC_URI | cut -c1-200)"
get TUNE_CCARGS | grep -q "cortex-a76" || fail "the Pi 5 tune is not cortex-a76: $(get TUNE_CCARGS)"
echo "$env_out" | grep -E '^FILES:edgellm=' | grep -q "sysusers.d" || fail "FILES:edgellm lacks sysusers.d"
echo "bitbake: edgellm builds $(get EDGELLM_TAG) ($srcrev) with$(get TUNE_CCARGS | grep -oE ' -mcpu=[^ ]+')"
echo "bitbake: checks passed in $(( $(date +%s) - started )) s"
