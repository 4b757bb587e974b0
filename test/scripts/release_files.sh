#!/usr/bin/env bash
# The release files agree with each other and with history:
#   - lead_scoring.control's default_version is the version of META.json (and of what it provides),
#     of debian/changelog's newest entry and of a CHANGELOG.md section;
#   - every frozen install script under extension/ has an upgrade path to the current version;
#   - 0.1.0's frozen script is byte for byte the parts of commit a14abcb (when that history is here);
#   - `make dist` builds lead_scoring-<version>.zip holding the sources and META.json, no build products.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
failed=0
fail() {
	echo "FAILED: $*"
	failed=1
}
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$root/lead_scoring.control")
echo "control: $version"

meta=$(grep -oE '"version" *: *"[^"]*"' "$root/META.json" | grep -v '1\.0\.0' | sed 's/.*"\([^"]*\)"$/\1/' | sort -u)
[ "$meta" = "$version" ] || fail "META.json versions ($meta) differ from the control file's $version"
grep -q '"license": "postgresql"' "$root/META.json" || fail "META.json names no PostgreSQL license"
grep -q '"PostgreSQL": "15' "$root/META.json" || fail "META.json has no prerequisite on PostgreSQL 15"
deb=$(sed -n '1s/^lead-scoring (\(.*\)-[0-9]*) .*/\1/p' "$root/debian/changelog")
[ "$deb" = "$version" ] || fail "debian/changelog is at $deb, not $version"
grep -q "^## $version" "$root/CHANGELOG.md" || fail "CHANGELOG.md has no section for $version"

# upgrade paths: each frozen version reaches the current one through the steps under extension/
for f in "$root"/extension/lead_scoring--*.sql; do
	v=$(basename "$f" | sed -n 's/^lead_scoring--\([0-9.]*\)\.sql$/\1/p')
	[ -n "$v" ] || continue
	grep -q "^## $v" "$root/CHANGELOG.md" || fail "CHANGELOG.md has no section for released $v"
	at=$v
	while [ "$at" != "$version" ]; do
		next=$(ls "$root"/extension/lead_scoring--"$at"--*.sql 2>/dev/null | sed -n 's/.*--\([0-9.]*\)\.sql$/\1/p' | sort -V | tail -1)
		[ -n "$next" ] || { fail "no upgrade step from $at (on the way from $v to $version)"; break; }
		at=$next
	done
done
[ ! -e "$root/extension/lead_scoring--$version.sql" ] ||
	fail "extension/lead_scoring--$version.sql exists: the development version is assembled from extension/parts"

if git -C "$root" cat-file -e a14abcb 2>/dev/null; then
	want=$(for p in $(git -C "$root" ls-tree --name-only a14abcb extension/parts/ | sort); do
		git -C "$root" show "a14abcb:$p"; done | sha256sum)
	have=$(sha256sum <"$root/extension/lead_scoring--0.1.0.sql")
	[ "$want" = "$have" ] || fail "extension/lead_scoring--0.1.0.sql is not the 0.1.0 release (a14abcb's parts)"
	echo "0.1.0 frozen script: identical to a14abcb's parts"
fi

if git -C "$root" rev-parse HEAD >/dev/null 2>&1; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	make -s -C "$work" -f "$root/Makefile" dist >/dev/null
	zip="$work/lead_scoring-$version.zip"
	if [ -f "$zip" ]; then
		list=$(unzip -Z1 "$zip")
		for want in META.json Makefile lead_scoring.control LICENSE "extension/lead_scoring--0.1.0.sql" src/score.c; do
			grep -qx "lead_scoring-$version/$want" <<<"$list" || fail "make dist: the archive lacks $want"
		done
		! grep -qE '\.(o|so|bc)$' <<<"$list" || fail "make dist: the archive holds build products"
		echo "make dist: lead_scoring-$version.zip, $(wc -l <<<"$list") entries"
	else
		fail "make dist built no lead_scoring-$version.zip"
	fi
fi
exit $failed
