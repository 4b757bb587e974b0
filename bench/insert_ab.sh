#!/usr/bin/env bash
# bench/insert_ab.sh — two builds of the shared library compared on E1's statement (bench/engine.sh:
# one event INSERT for a random lead among 2,000 holding 10 events each, each its own transaction),
# in one cluster, beside the plain table (doc/benchmarks.md, "Fixed costs of a single-row event
# INSERT"):
#
#   I1 the CPU time of one backend (/proc/<pid>/schedstat) running INSERT_N single-row INSERTs after
#      1,000 to warm it; the library file swapped between runs (each psql is a new backend, which
#      loads the file installed at that moment), plain / old / new rotated by round
#   I2 (INSERT_CALLGRIND=1, needs valgrind) instructions per INSERT: a single-user backend on a copy
#      of the data directory, PortalStart, PortalRun and CommitTransactionCommand collected, the
#      difference between 1,100 and 100 INSERTs (the backend's first statements left out)
#
#   LIB_OLD=/path/old.so LIB_NEW=/path/new.so bash bench/insert_ab.sh
# The two builds must share the engagement state's stored form (src/lead_state.c): across a change of
# it, the build that cannot read the other's states re-reads every lead's events.  Then run each build
# alone (LIB_OLD = LIB_NEW), from a tree of its own version, on the data it loaded itself.
# BENCH_ROUNDS=16, INSERT_N=5000.  The library installed in $PG_CONFIG's pkglibdir is restored at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ab_common.sh"
ab_cluster insert_ab
ab_library_swap
rounds=${BENCH_ROUNDS:-16}
n=${INSERT_N:-5000}
ab_tables
ab_load 2000 10
python3 - "$data" "$n" <<'PY'
import random, sys
data, n = sys.argv[1], int(sys.argv[2])
kinds = ['page_view', 'page_view', 'page_view', 'email_open', 'email_open', 'email_click', 'ad_click',
         'content_download', 'webinar_attended', 'page_view']
for s in ('e_plain', 'e_ext'):
    rnd = random.Random(1)
    with open('%s/inserts_%s.sql' % (data, s), 'w') as f:
        for i in range(n + 1100):
            k = rnd.randint(1, 10)
            f.write("INSERT INTO %s.events (lead_id, event_type, occurred_at, channel, campaign, page_url) "
                    "VALUES (%d, '%s', now(), 'organic', 'organic-1', '%s');\n"
                    % (s, rnd.randint(1, 2000), kinds[k - 1], '/pricing' if k == 10 else '/features'))
PY
# I1: the backend's CPU time (ms) for n INSERTs after 1,000
cpu_ms() {
	local s=$1 f=$data/cpu
	{
		head -1000 "$data/inserts_$s.sql"
		echo "\\o $f.pid"
		echo "SELECT pg_backend_pid();"
		echo "\\o"
		echo "\\! awk '{ print \$1 }' /proc/\$(tr -dc 0-9 < $f.pid)/schedstat > $f.0"
		tail -n +1001 "$data/inserts_$s.sql" | head -"$n"
		echo "\\! awk '{ print \$1 }' /proc/\$(tr -dc 0-9 < $f.pid)/schedstat > $f.1"
	} | q -At >/dev/null
	echo $((($(cat $f.1) - $(cat $f.0)) / 1000000))
}
for ((r = 0; r < rounds; r++)); do
	case $((r % 3)) in 0) order="plain old new" ;; 1) order="old new plain" ;; 2) order="new plain old" ;; esac
	for v in $order; do
		s=e_ext
		case $v in plain) s=e_plain ;; old) lib_use "$LIB_OLD" ;; new) lib_use "$LIB_NEW" ;; esac
		q -c "VACUUM $s.leads, $s.events"
		ms=$(cpu_ms $s)
		record I1 "$v" "$r" "$ms"
		ls_log "   I1 round $r, $v: $ms ms CPU for $n inserts"
	done
done
# I2: instructions per INSERT (callgrind)
if [ -n "${INSERT_CALLGRIND:-}" ]; then
	ls_as_pg "$LS_PGBIN/pg_ctl" -D "$LS_PGDIR/data" -m fast stop >/dev/null
	instructions() {
		local lib=$1 s=$2 k=$3 copy=$data/cg_data
		rm -rf "$copy"
		cp -a "$LS_PGDIR/data" "$copy"
		[ "$lib" != none ] && lib_use "$lib"
		{ echo "SELECT 1"; head -"$k" "$data/inserts_$s.sql"; } >"$data/cg_in.sql"
		ls_as_pg valgrind --tool=callgrind --callgrind-out-file="$data/cg.out" --toggle-collect=PortalStart \
			--toggle-collect=PortalRun --toggle-collect=CommitTransactionCommand \
			"$LS_PGBIN/postgres" --single -D "$copy" engine <"$data/cg_in.sql" >/dev/null 2>&1
		callgrind_annotate "$data/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
	}
	for v in plain old new; do
		s=e_ext lib=none
		case $v in plain) s=e_plain ;; old) lib=$LIB_OLD ;; new) lib=$LIB_NEW ;; esac
		a=$(instructions "$lib" $s 100)
		b=$(instructions "$lib" $s 1100)
		echo "I2 $v $(((b - a) / 1000)) instructions per INSERT" >&2
		echo "$v $(((b - a) / 1000))" >>"$data/i2.txt"
	done
	ls_as_pg "$LS_PGBIN/pg_ctl" -D "$LS_PGDIR/data" -l "$LS_PGDIR/server.log" -w \
		-o "-k $LS_PGDIR -p $LS_PORT -c listen_addresses='' -c fsync=off" start >/dev/null
	while read -r v i; do record I2 "$v" 0 "$i"; done <"$data/i2.txt"
fi

echo
echo "lead_scoring single-row INSERT A/B — $rounds rounds, $n inserts, $(date -u '+%Y-%m-%d %H:%M UTC')"
q <<'SQL'
\pset footer off
SELECT * FROM medians ORDER BY 1, 2;
WITH ratio AS (
    SELECT a.bench || ' ' || b.variant || ' / ' || a.variant AS measure, a.round, b.value / a.value AS r
      FROM result a JOIN result b USING (bench, round)
     WHERE (a.variant, b.variant) IN (('old', 'new'), ('old', 'plain'), ('new', 'plain')))
SELECT measure, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY r))::numeric, 3) AS median,
       count(*) FILTER (WHERE r < 1) AS below_1, count(*) AS rounds
  FROM ratio GROUP BY measure ORDER BY measure;
SQL
