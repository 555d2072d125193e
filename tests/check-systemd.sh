#!/usr/bin/env bash
# Offline checks of the unit: `systemd-analyze verify` (any output fails) and an exposure
# score of at most 1.5 from `systemd-analyze security --offline`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/etc/systemd/system" "$root/usr/share/edgellm/models"
printf '#!/bin/sh\nexit 0\n' > "$root/usr/bin/edgellm"
chmod +x "$root/usr/bin/edgellm"
mkdir -p "$root/usr/lib/systemd"
cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/" 2>/dev/null || cp -r /lib/systemd/system "$root/usr/lib/systemd/"
cp systemd/edgellm.service "$root/etc/systemd/system/"
out=$(systemd-analyze verify --man=no --root="$root" /etc/systemd/system/edgellm.service 2>&1 || true)
if [ -n "$out" ]; then
    echo "systemd-analyze verify:" >&2
    echo "$out" >&2
    exit 1
fi
systemd-analyze security --offline=yes --root="$root" --threshold=15 /etc/systemd/system/edgellm.service >/dev/null 2>&1 || true
score=$(systemd-analyze security --offline=yes --root="$root" /etc/systemd/system/edgellm.service 2>/dev/null | grep 'Overall exposure level' | grep -oE '[0-9]+\.[0-9]+' | head -n1)
echo "systemd: verify clean; exposure $score"
awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 1.5) }' || { echo "exposure $score is above 1.5" >&2; exit 1; }
grep -q "^LimitNOFILE=" systemd/edgellm.service || { echo "the unit must set LimitNOFILE deliberately" >&2; exit 1; }
