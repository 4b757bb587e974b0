#!/usr/bin/env bash
# bench/copy_instructions.sh — the instructions (callgrind) of E2's COPY (bench/engine.sh) at a small
# size, for builds of the shared library given as arguments, and for the plain table: deterministic
# where CPU time on a shared machine is not (doc/benchmarks.md, "Bulk loads, per row and per lead").
# Each build runs in a single-user backend on a fresh copy of the same data directory (a COPY rolled
# back twice, both counted: CopyFrom's inclusive instructions, the library loaded in the first).
#
#   bash bench/copy_instructions.sh /path/old.so /path/new.so ...     (needs valgrind)
# COPY_LEADS=2000, COPY_EVENTS=20000 (E2's 10 events per lead).  The library installed in
# $PG_CONFIG's pkglibdir is restored at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ab_common.sh"
[ $# -ge 1 ] || { echo "usage: $0 lib.so ..." >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is missing" >&2; exit 2; }
leads=${COPY_LEADS:-2000}
events=${COPY_EVENTS:-20000}
ab_cluster instructions
work=$data
ab_library_save
ab_tables
ab_load "$leads" 0
q -c "COPY (SELECT * FROM e2_events($leads, $events)) TO '$work/events.csv' (FORMAT csv)"
q -c "CHECKPOINT"
ls_as_pg "$LS_PGBIN/pg_ctl" -D "$LS_PGDIR/data" -m fast stop >/dev/null
ls_as_pg cp -a "$LS_PGDIR/data" "$work/pristine"

# count build label schema: CopyFrom's inclusive instructions
runs=0
count() {
	local lib=$1 label=$2 schema=$3 out
	runs=$((runs + 1))
	out=$work/callgrind.$runs
	lib_use "$lib"
	rm -rf "$work/data"
	ls_as_pg cp -a "$work/pristine" "$work/data"
	printf "BEGIN;\nCOPY %s.events (lead_id, event_type, occurred_at, channel, page_url) FROM '%s' (FORMAT csv);\nROLLBACK;\n" \
		"$schema" "$work/events.csv" >"$work/in.sql"
	cat "$work/in.sql" "$work/in.sql" >"$work/in2.sql"
	ls_as_pg valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect=CopyFrom \
		"$LS_PGBIN/postgres" --single -D "$work/data" -c fsync=off engine <"$work/in2.sql" >"$work/out.$runs" 2>&1
	printf '%-40s %s\n' "$label" "$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
		awk '/:CopyFrom / { gsub(/,/, "", $1); print $1; exit }')"
}
count "$1" "plain table (with $(basename "$1"))" e_plain
for lib in "$@"; do
	count "$lib" "$(basename "$lib")" e_ext
done
