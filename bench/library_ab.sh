#!/usr/bin/env bash
# bench/library_ab.sh — two builds of the shared library compared on E2's and E3's statements
# (bench/engine.sh) in one cluster: the library file is swapped between rounds (each psql is a new
# backend, which loads the file installed at that moment), the order rotated by round, and the
# backend's CPU time (log_statement_stats) of each statement recorded beside the plain table's.
# Prints medians of per-round ratios new / old and each / plain (doc/benchmarks.md, "The scoring
# engine").
#
#   L2 COPY of events into leads without history (BEGIN; COPY; ROLLBACK — every round rewrites
#      the same leads; a VACUUM of the tables before each measured statement)
#   L3 one INSERT ... SELECT into leads holding 1,000 events each (rolled back)
#
#   LIB_OLD=/path/old.so LIB_NEW=/path/new.so bash bench/library_ab.sh
# ENGINE_SCALE=0.3 (as bench/engine.sh), BENCH_ROUNDS=6, AB_ONLY="2 3".  The library installed in
# $PG_CONFIG's pkglibdir is restored at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ab_common.sh"
ab_cluster ab_data "-c work_mem=64MB"
ab_library_swap

scale=${ENGINE_SCALE:-0.3}
rounds=${BENCH_ROUNDS:-6}
only=${AB_ONLY:-2 3}
want() { [[ " $only " == *" $1 "* ]]; }
sz() { awk -v s="$scale" -v n="$1" 'BEGIN { v = int(n * s); print (v < 100 ? 100 : v) }'; }
use() { case $1 in old) lib_use "$LIB_OLD" ;; new) lib_use "$LIB_NEW" ;; esac; }
schema() { [ "$1" = plain ] && echo e_plain || echo e_ext; }
order() { case $(($1 % 3)) in 0) echo "plain old new" ;; 1) echo "old new plain" ;; 2) echo "new plain old" ;; esac; }
use old
ab_tables

if want 2; then
	n=$(sz 100000)
	e=$(sz 1000000)
	ab_load "$n" 0
	q -c "COPY (SELECT * FROM e2_events($n, $e)) TO '$data/events.csv' (FORMAT csv)"
	for ((r = 1; r <= rounds; r++)); do
		for v in $(order $r); do
			use "$v"
			q -c "VACUUM $(schema $v).leads, lead_scoring.stage_change"
			cpu=$(statement_cpu_ms 2 -c "BEGIN" -c "COPY $(schema $v).events (lead_id, event_type, occurred_at, channel, page_url) FROM '$data/events.csv' (FORMAT csv)" -c "ROLLBACK")
			record L2 $v $r "$cpu"
			ls_log "   L2 round $r, $v: $cpu ms CPU"
		done
	done
fi

if want 3; then
	n=$(sz 2000)
	m=$(sz 100000)
	use old
	ab_load "$n" 1000
	for ((r = 1; r <= rounds; r++)); do
		for v in $(order $r); do
			use "$v"
			q -c "VACUUM $(schema $v).leads"
			cpu=$(statement_cpu_ms 2 -c "BEGIN" -c "INSERT INTO $(schema $v).events (lead_id, event_type, occurred_at, channel, page_url)
				SELECT 1 + g % $n, (ARRAY['page_view', 'email_open', 'email_click', 'ad_click'])[1 + g % 4],
				       now() - (g % 1000) * interval '1 minute', 'organic', '/pricing' FROM generate_series(1, $m) g" -c "ROLLBACK")
			record L3 $v $r "$cpu"
			ls_log "   L3 round $r, $v: $cpu ms CPU"
		done
	done
fi

q -c "WITH r AS (
        SELECT bench, round, max(value) FILTER (WHERE variant = 'old') AS old, max(value) FILTER (WHERE variant = 'new') AS new,
               max(value) FILTER (WHERE variant = 'plain') AS plain FROM result GROUP BY bench, round)
      SELECT bench, count(*) AS rounds,
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY new / old)::numeric, 3) AS \"new / old\",
             string_agg(round((new / old)::numeric, 2)::text, ' ' ORDER BY round) AS \"rounds new / old\",
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY old / plain)::numeric, 3) AS \"old / plain\",
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY new / plain)::numeric, 3) AS \"new / plain\",
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY old)::numeric) AS \"old ms\",
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY new)::numeric) AS \"new ms\",
             round(percentile_cont(0.5) WITHIN GROUP (ORDER BY plain)::numeric) AS \"plain ms\"
        FROM r GROUP BY bench ORDER BY bench"
