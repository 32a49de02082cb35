#!/bin/sh
# verify-unit.sh checks dist/disclosured.service with `systemd-analyze
# verify`, without a running systemd and without touching the host: the
# unit is checked inside a throwaway root directory holding the unit, a
# dummy /usr/local/bin/disclosured and the /bin/kill of ExecReload, so the
# unit is verified exactly as shipped (ExecStart path included). It also
# prints the offline `systemd-analyze security` exposure score and fails if
# it rises above MAX_EXPOSURE.
#
# Usage: dist/verify-unit.sh [UNIT]   (CI calls it from the repository root
# or anywhere else). Installs systemd with apt-get when systemd-analyze is
# missing and we are root.
set -eu

unit=${1:-$(dirname "$0")/disclosured.service}
name=$(basename "$unit")
# Exposure score of the unit as shipped is 1.x ("OK"); fail if a change
# weakens the sandbox noticeably.
max_exposure=${MAX_EXPOSURE:-2.5}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "verify-unit: installing systemd for systemd-analyze" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd >/dev/null ||
			{ apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd >/dev/null; }
	else
		echo "verify-unit: systemd-analyze not found (install systemd)" >&2
		exit 1
	fi
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT INT TERM
mkdir -p "$root/etc/systemd/system" "$root/usr/local/bin" "$root/bin" "$root/etc/disclosured"
cp "$unit" "$root/etc/systemd/system/$name"
printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/disclosured"
chmod 0755 "$root/usr/local/bin/disclosured"
cp "$(command -v kill)" "$root/bin/kill" 2>/dev/null || printf '#!/bin/sh\n' >"$root/bin/kill"
chmod 0755 "$root/bin/kill"

# verify prints warnings and errors on stderr and exits non-zero on errors.
# Any output at all is treated as a failure, so warnings (an unknown or
# misspelt directive, a bad specifier) cannot slip through CI.
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no --generators=no \
	--recursive-errors=no --root="$root" "$root/etc/systemd/system/$name" 2>&1) || {
	printf '%s\n' "$out" >&2
	echo "verify-unit: $name: systemd-analyze verify failed" >&2
	exit 1
}
if [ -n "$out" ]; then
	printf '%s\n' "$out" >&2
	echo "verify-unit: $name: systemd-analyze verify printed warnings" >&2
	exit 1
fi

sec=$(systemd-analyze security --offline=yes --root="$root" --threshold=0 \
	"$root/etc/systemd/system/$name" 2>&1 | tail -n 1) || true
score=$(printf '%s\n' "$sec" | sed -n 's/.*exposure level for .*: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
	echo "verify-unit: could not read the exposure score: $sec" >&2
	exit 1
fi
if awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s > m) }'; then
	echo "verify-unit: $name: exposure $score is above $max_exposure" >&2
	exit 1
fi
echo "verify-unit: $name OK (exposure $score)"
