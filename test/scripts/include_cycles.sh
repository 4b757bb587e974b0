#!/usr/bin/env bash
# test/scripts/include_cycles.sh — no dependency circle in src/ (doc/internals.md, "Source layout").
# The graph: module A (src/A.c, src/A.h) uses module B when A.c or A.h includes "B.h", a header of
# src/, B != A.  tsort fails on a circle and names its modules; the check fails then.
set -euo pipefail
cd "$(dirname "$0")/../../src"
edges=$(awk '
	FNR == 1 { mod = FILENAME; sub(/\.[ch]$/, "", mod); print mod, mod }
	/^[ \t]*#[ \t]*include[ \t]*"/ {
		h = $0; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h)
		if (h ~ /^[^\/]+\.h$/) { b = h; sub(/\.h$/, "", b); if (b != mod) print mod, b }
	}' *.c *.h | while read -r a b; do
	# only headers of src/ count (PostgreSQL's are not modules of this tree)
	if [ "$a" = "$b" ] || [ -f "$b.h" ]; then echo "$a $b"; fi
done | sort -u)
echo "$(printf '%s\n' "$edges" | awk '$1 != $2' | wc -l) uses between $(printf '%s\n' "$edges" | awk '{ print $1 }' | sort -u | wc -l) modules of src/"
if ! out=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
	printf '%s\n' "$out" | sed 's/^tsort: -: //; s/^tsort: /    /'
	echo "FAILED: src/ has a dependency circle (each 'loop' above lists modules that use one another in turn)"
	exit 1
fi
echo "ok: no dependency circle in src/"
