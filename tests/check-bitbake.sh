#!/usr/bin/env bash
# bitbake against the real layers, offline: extract the Yocto 6.0.2 LTS snapshots (bitbake,
# openembedded-core, meta-clang, meta-raspberrypi; see ../shared/yocto/README.md) into a
# temporary directory next to a copy of yocto/meta-edgellm, then, as an unprivileged user
# (bitbake refuses root):
#   1. `bitbake -p` with MACHINE=raspberrypi5: no error, and no warning naming our layer;
#   2. `bitbake -g edgellm-image` for raspberrypi5: every task of the image resolves (providers,
#      DEPENDS/RDEPENDS and task dependencies, task signatures), written to task-depends.dot
#      (a dry run, `-n`, proves the same graph and then walks its ~6,000 runnable tasks as
#      no-ops: 6-15 minutes of CI for nothing more); `bitbake -e edgellm-image` for
#      raspberrypi4-64 (same image, Pi 4 tune);
#   3. `bitbake -e edgellm`: SRC_URI and SRCREV of the release, the Pi 5 tune, our files;
#   4. the recipe's expanded do_install run against tests/aarch64.sh's build (if there is one;
#      EDGELLM_REQUIRE_AARCH64=1 makes it required, EDGELLM_BITBAKE_SKIP_INSTALL=1 skips it).
# The snapshots are looked for in $EDGELLM_YOCTO_SNAPSHOTS, ../shared/yocto, /work/shared/yocto.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/edgellm/target}"
snap=""
for d in "${EDGELLM_YOCTO_SNAPSHOTS:-}" "$repo/../shared/yocto" /work/shared/yocto; do
    if [ -n "$d" ] && [ -f "$d/bitbake-yocto-6.0.2.tar.gz" ]; then snap=$d; break; fi
done
if [ -z "$snap" ]; then
    echo "bitbake: SKIPPED: no Yocto snapshots found (set EDGELLM_YOCTO_SNAPSHOTS)" >&2
    exit 0
fi
started=$(date +%s)
# The layers and bitbake's parse cache persist between runs in a fixed directory (bitbake
# keys its cache by file path): a warm parse takes seconds, not two minutes per machine.
# The cache is bitbake's own, checked per recipe against the mtimes of every file the
# recipe was parsed from and against the configuration's hash; meta-edgellm is copied in
# fresh each run (new mtimes), so our recipes and bbappends are always parsed again. The
# layers are re-extracted when the snapshots change.
# As root, bitbake runs as an unprivileged user (it refuses root), whose home holds the
# directory (root's home is closed to it).
user=$(id -un)
work="${EDGELLM_CACHE:-$HOME/.cache/edgellm}/bitbake"
if [ "$(id -u)" -eq 0 ]; then
    user=edgellm-bb
    id "$user" >/dev/null 2>&1 || useradd --system --create-home --shell /bin/bash "$user"
    work="$(getent passwd "$user" | cut -d: -f6)/.cache/edgellm-bitbake"
fi
work="${EDGELLM_BITBAKE_DIR:-$work}"
as_user() {
    if [ "$user" = "$(id -un)" ]; then bash -c "$1"; else runuser -u "$user" -- bash -c "$1"; fi
}
stop_server() {
    [ -d "$work/build/conf" ] || return 0
    as_user "cd '$work/build' && PATH='$work/layers/bitbake/bin:/usr/local/bin:/usr/bin:/bin' timeout 60 bitbake -m" >/dev/null 2>&1 || true
}
trap stop_server EXIT
stamp=$(cd "$snap" && sha256sum ./*.tar.gz | sha256sum | cut -c1-32)
if [ "$(cat "$work/snapshots.sha256" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$work"
    mkdir -p "$work/layers"
    for f in "$snap"/*.tar.gz; do tar -xzf "$f" -C "$work/layers"; done
    echo "$stamp" >"$work/snapshots.sha256"
    echo "bitbake: layers extracted from $snap (cold parse cache)"
fi
# A server left by an interrupted run would serve its old parse: stop it first.
stop_server
rm -rf "$work/layers/meta-edgellm" "$work/build/conf" "$work/build/tmp/work" \
    "$work/build/task-depends.dot" "$work/build/bitbake.lock" "$work/build/bitbake.sock" \
    "$work/do_install.log"
mkdir -p "$work/build/conf"
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
# One server for the commands of this check: a command for the same machine reuses its parse.
BB_SERVER_TIMEOUT = "120"
CONF
[ "$user" = "$(id -un)" ] || chown -R "$user" "$work"
bb() {
    local machine=$1
    shift
    local cmd="cd '$work/build' && PATH='$L/bitbake/bin:/usr/local/bin:/usr/bin:/bin' MACHINE=$machine BB_ENV_PASSTHROUGH_ADDITIONS=MACHINE LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 bitbake $*"
    as_user "$cmd"
}
fail() { echo "bitbake: $*" >&2; exit 1; }
at() { echo "at $(( $(date +%s) - started )) s"; }

out=$(bb raspberrypi5 -p 2>&1) || { echo "$out" | tail -40 >&2; fail "parse failed"; }
if echo "$out" | grep -E "^(ERROR|WARNING):" | grep -q "meta-edgellm\|edgellm"; then
    echo "$out" | grep -E "^(ERROR|WARNING):" >&2
    fail "warnings or errors from meta-edgellm while parsing"
fi
echo "bitbake: parse clean ($(echo "$out" | grep -cE '^WARNING:' || true) warnings from other layers; $(at))"

out=$(bb raspberrypi5 -g edgellm-image 2>&1) || { echo "$out" | tail -40 >&2; fail "the task graph of edgellm-image does not resolve for raspberrypi5"; }
graph="$work/build/task-depends.dot"
tasks=$(grep -c 'label=' "$graph" || echo 0)
[ "$tasks" -gt 1000 ] || fail "the task graph of edgellm-image has only $tasks tasks"
grep -q '"edgellm.do_install"' "$graph" || fail "the image's task graph lacks edgellm.do_install"
grep -q '"edgellm-image.do_rootfs" -> "edgellm.do_package_write' "$graph" \
    || grep -q '"edgellm-image.do_rootfs" -> "packagegroup-edgellm' "$graph" \
    || fail "the image's rootfs does not depend on the edgellm packages"
echo "bitbake: task graph of edgellm-image for raspberrypi5: $tasks tasks resolve ($(at))"
env_out=$(bb raspberrypi5 -e edgellm 2>&1) || { echo "$env_out" | tail -20 >&2; fail "bitbake -e edgellm failed"; }
get() { echo "$env_out" | grep -E "^$1=" | head -n1 | cut -d= -f2- | tr -d '"'; }
srcrev=$(grep -oE '^SRCREV = "[0-9a-f]{40}"' yocto/meta-edgellm/recipes-ai/edgellm/edgellm_0.1.0.bb | grep -oE '[0-9a-f]{40}')
[ "$(get SRCREV)" = "$srcrev" ] || fail "SRCREV is '$(get SRCREV)', expected $srcrev"
[ "$srcrev" != "0000000000000000000000000000000000000000" ] || fail "SRCREV is all zeros"
get SRC_URI | grep -q "git://github.com/edgellm/edgellm.git;.*tag=v" || fail "SRC_URI lacks the release tag: $(get SRC_URI | cut -c1-200)"
get TUNE_CCARGS | grep -q "cortex-a76" || fail "the Pi 5 tune is not cortex-a76: $(get TUNE_CCARGS)"
echo "$env_out" | grep -E '^FILES:edgellm=' | grep -q "sysusers.d" || fail "FILES:edgellm lacks sysusers.d"
echo "bitbake: edgellm builds $(get EDGELLM_TAG) ($srcrev) with$(get TUNE_CCARGS | grep -oE ' -mcpu=[^ ]+')"

# Last: another machine means another parse (~2 min).
# The Pi 4 image differs in machine settings only (the dry run resolved the same 5946 tasks,
# at ~15 min of CI each): check that its image is the same appliance with the Pi 4 tune.
pi4=$(bb raspberrypi4-64 -e edgellm-image 2>&1) || { echo "$pi4" | tail -20 >&2; fail "bitbake -e edgellm-image failed for raspberrypi4-64"; }
echo "$pi4" | grep -E '^IMAGE_INSTALL=' | grep -q "packagegroup-edgellm" || fail "the Pi 4 image lacks packagegroup-edgellm"
echo "$pi4" | grep -E '^IMAGE_INSTALL=' | grep -q "kernel-modules" || fail "the Pi 4 image lacks the rpi bbappend (kernel-modules)"
echo "$pi4" | grep -E '^TUNE_CCARGS=' | grep -q "cortex-a72" || fail "the Pi 4 tune is not cortex-a72"
echo "bitbake: raspberrypi4-64: edgellm-image with packagegroup-edgellm, cortex-a72 tune ($(at))"


# 4. The recipe's do_install, as bitbake expanded it (cargo.bbclass's part and ours), run
#    against the aarch64 build tests/aarch64.sh made and packaged: the image must get the
#    same binary, libraries and CPU variants as the package the qemu tests ran, in the same
#    layout (usr/bin + usr/lib/edgellm, which the binary's run path expects).
aarch64="$CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/${EDGELLM_AARCH64_PROFILE:-cross-test}"
package="$CARGO_TARGET_DIR/package/edgellm-$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)-aarch64"
if [ -n "${EDGELLM_BITBAKE_SKIP_INSTALL:-}" ]; then
    # .ci/run fills the parse cache in the background while the aarch64 build is not done.
    echo "bitbake: do_install not run (EDGELLM_BITBAKE_SKIP_INSTALL)"
elif [ ! -x "$aarch64/edgellm" ] || [ ! -d "$package" ]; then
    [ -z "${EDGELLM_REQUIRE_AARCH64:-}" ] || fail "no aarch64 build to install (run tests/aarch64.sh first)"
    echo "bitbake: do_install not run: no aarch64 build (tests/aarch64.sh makes one)"
else
    B=$(get B); D=$(get D); S=$(get S); sub=$(get CARGO_TARGET_SUBDIR)
    for v in B D S sub; do [ -n "${!v}" ] || fail "bitbake -e gave no $v"; done
    [ "$B" != "$S" ] || fail "B and S are the same directory: $B"
    # Only the task's own directories, all under the temporary build directory.
    case "$B$D$S" in *..*) fail "unexpected paths: $B $D $S" ;; esac
    for v in "$B" "$D" "$S"; do case "$v" in "$work"/*) ;; *) fail "$v is outside $work" ;; esac; done
    mkdir -p "$B/target/$(dirname "$sub")" "$D" "$(dirname "$S")"
    ln -s "$aarch64" "$B/target/$sub"
    ln -s "$repo" "$S"
    fns=$(echo "$env_out" | awk '/^(do_install|cargo_do_install)\(\) \{$/,/^\}$/')
    echo "$fns" | grep -q '^do_install() {$' || fail "bitbake -e printed no do_install"
    log="$work/do_install.log"
    # As bitbake runs a shell task: `set -e`, not `-u` (cargo_do_install tests bitbake
    # variables the recipe leaves unset, such as CARGO_INSTALL_LIBRARIES, which stay empty).
    if ! (cd "$B" && bash -ec 'die() { echo "ERROR: $*" >&2; exit 1; }; bbnote() { :; }; bbwarn() { echo "WARNING: $*" >&2; }
'"$fns"'
do_install' >"$log" 2>&1); then
        cat "$log" >&2
        fail "do_install failed"
    fi
    [ "$(ls "$D/usr/bin")" = "edgellm" ] || fail "do_install put more than edgellm into /usr/bin: $(ls "$D/usr/bin" | tr '\n' ' ')"
    for d in usr/bin usr/lib/edgellm; do
        diff -r "$package/$d" "$D/$d" >&2 || fail "the image's /$d differs from the package's"
    done
    unit=$(find "$D" -name edgellm.service)
    cmp "$unit" systemd/edgellm.service || fail "the image's unit is not systemd/edgellm.service"
    echo "bitbake: do_install into the image: /usr/bin/edgellm and $(ls "$D/usr/lib/edgellm" | wc -l) files in /usr/lib/edgellm, as in the package; unit ${unit#"$D"}"
fi
echo "bitbake: checks passed in $(( $(date +%s) - started )) s"
