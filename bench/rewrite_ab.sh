#!/usr/bin/env bash
# bench/rewrite_ab.sh — the executor-level rewrite of lead rows against the UPDATE statements it
# replaces (lead_scoring.direct_rewrite on / off), alternated in one cluster and printed as ratios
# (doc/benchmarks.md, "Rewriting lead rows without UPDATE statements").  The tables and data are
# bench/engine.sh's.
#
#   A1 single-row event INSERTs (pgbench, 2 clients), leads holding 10 events: tps on / off, and
#      each against the plain table; A1c the same 10,000 INSERTs one after the other in one session:
#      the backend's CPU time (from /proc, in clock ticks), steadier than tps on a shared machine
#   A2 COPY of events into leads without history: the backend's CPU time on / off (and / plain)
#   A3 one INSERT ... SELECT into leads holding 1,000 events: CPU time on / off (and / plain)
#   A4 refresh_scores() after the clock moved 3 days (rolled back, so every round rewrites the
#      same leads), leads holding 100 events: CPU time on / off
#
# ENGINE_SCALE=0.3 (as bench/engine.sh), BENCH_ROUNDS=5, BENCH_PGBENCH_SECONDS=10, LS_KEEP=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ab_common.sh"
ab_cluster ab_data "-c work_mem=64MB"

scale=${ENGINE_SCALE:-0.3}
rounds=${BENCH_ROUNDS:-5}
secs=${BENCH_PGBENCH_SECONDS:-10}
sz() { awk -v s="$scale" -v n="$1" 'BEGIN { v = int(n * s); print (v < 100 ? 100 : v) }'; }
# variant: plain, on, off -> schema and the setting the connection gets
schema() { [ "$1" = plain ] && echo e_plain || echo e_ext; }
opts() { [ "$1" = off ] && echo "-c lead_scoring.direct_rewrite=off" || echo ""; }
# the CPU time of the n-th statement (statement_cpu_ms) with the variant's setting
cpu_ms() {
	local v=$1
	shift
	PGOPTIONS="$(opts "$v")" statement_cpu_ms "$@"
}
ab_tables
# the variants of round r, in a rotating order
order() { case $(($1 % 3)) in 0) echo "$2 $3 $4" ;; 1) echo "$3 $4 $2" ;; 2) echo "$4 $2 $3" ;; esac; }

# A1
n=$(sz 2000)
ab_load "$n" 10
for s in e_plain e_ext; do
	cat >"$data/insert_$s.sql" <<-EOS
		\\set lead random(1, $n)
		\\set kind random(1, 10)
		INSERT INTO $s.events (lead_id, event_type, occurred_at, channel, campaign, page_url)
		VALUES (:lead, (ARRAY['page_view', 'page_view', 'page_view', 'email_open', 'email_open', 'email_click',
		                      'ad_click', 'content_download', 'webinar_attended', 'page_view'])[:kind],
		        now(), 'organic', 'organic-1', CASE WHEN :kind = 10 THEN '/pricing' ELSE '/features' END);
	EOS
done
for ((r = 1; r <= rounds; r++)); do
	for v in $(order $r plain on off); do
		PGOPTIONS="$(opts $v)" "$LS_PGBIN/pgbench" -n -c 2 -j 2 -M prepared -T "$secs" -f "$data/insert_$(schema $v).sql" >"$data/pgbench.out" 2>&1
		t=$(awk '/^tps = / { print $3 }' "$data/pgbench.out")
		record A1 $v $r "$t"
		ls_log "   A1 round $r, $v: $t tps"
	done
done

# A1c: the backend's CPU time (user + system clock ticks, /proc/<pid>/stat) for the same INSERTs
python3 - "$n" "$data" <<'PY'
import random, sys
n, data = int(sys.argv[1]), sys.argv[2]
random.seed(1)
kinds = ['page_view', 'page_view', 'page_view', 'email_open', 'email_open', 'email_click', 'ad_click',
         'content_download', 'webinar_attended', 'page_view']
for s in ('e_plain', 'e_ext'):
    rnd = random.Random(1)
    with open('%s/inserts_%s.sql' % (data, s), 'w') as f:
        for i in range(10000):
            k = rnd.randint(1, 10)
            f.write("INSERT INTO %s.events (lead_id, event_type, occurred_at, channel, campaign, page_url) "
                    "VALUES (%d, '%s', now(), 'organic', 'organic-1', '%s');\n"
                    % (s, rnd.randint(1, n), kinds[k - 1], '/pricing' if k == 10 else '/features'))
PY
ticks() {
	local v=$1 f=$data/ticks.$$
	{
		echo "\\o $f.pid"
		echo "SELECT pg_backend_pid();"
		echo "\\o"
		echo "\\! awk '{ print \$14 + \$15 }' /proc/\$(tr -dc 0-9 < $f.pid)/stat > $f.0"
		cat "$data/inserts_$(schema $v).sql"
		echo "\\! awk '{ print \$14 + \$15 }' /proc/\$(tr -dc 0-9 < $f.pid)/stat > $f.1"
	} | PGOPTIONS="$(opts $v)" q -At >/dev/null
	echo $(($(cat $f.1) - $(cat $f.0)))
}
for ((r = 1; r <= rounds; r++)); do
	for v in $(order $r plain on off); do
		q -c "VACUUM $(schema $v).leads, $(schema $v).events"
		t=$(ticks $v)
		record A1c $v $r "$t"
		ls_log "   A1c round $r, $v: $t ticks of CPU for 10,000 inserts"
	done
done

# A3 (leads with 1,000 events)
n=$(sz 2000)
m=$(sz 100000)
ab_load "$n" 1000
for ((r = 1; r <= rounds; r++)); do
	for v in $(order $r plain on off); do
		q -c "VACUUM $(schema $v).leads, $(schema $v).events"
		cpu=$(cpu_ms $v 2 -c "BEGIN" -c "INSERT INTO $(schema $v).events (lead_id, event_type, occurred_at, channel, page_url)
			SELECT 1 + g % $n, (ARRAY['page_view', 'email_open', 'email_click', 'ad_click'])[1 + g % 4],
			       now() - (g % 1000) * interval '1 minute', 'organic', '/pricing' FROM generate_series(1, $m) g" -c "ROLLBACK")
		record A3 $v $r "$cpu"
		ls_log "   A3 round $r, $v: $cpu ms CPU"
	done
done

# A2
n=$(sz 100000)
e=$(sz 1000000)
ab_load "$n" 0
q -c "COPY (SELECT * FROM e2_events($n, $e)) TO '$data/events.csv' (FORMAT csv)"
for ((r = 1; r <= rounds; r++)); do
	for v in $(order $r plain on off); do
		q -c "TRUNCATE $(schema $v).events"
		q -c "VACUUM $(schema $v).leads"
		cpu=$(cpu_ms $v 1 -c "COPY $(schema $v).events (lead_id, event_type, occurred_at, channel, page_url) FROM '$data/events.csv' (FORMAT csv)")
		record A2 $v $r "$cpu"
		ls_log "   A2 round $r, $v: $cpu ms CPU"
	done
done

# A4
n=$(sz 100000)
ab_load "$n" 100
for ((r = 1; r <= rounds; r++)); do
	for v in $( ((r % 2)) && echo on off || echo off on); do
		q -c "VACUUM e_ext.leads"
		cpu=$(cpu_ms $v 3 -c "BEGIN" -c "SET LOCAL lead_scoring.now = '$(date -u -d '+3 days' '+%Y-%m-%d %H:%M+00')'" \
			-c "SELECT lead_scoring.refresh_scores()" -c "ROLLBACK")
		record A4 $v $r "$cpu"
		ls_log "   A4 round $r, $v: $cpu ms CPU"
	done
done

echo
echo "lead_scoring rewrite A/B — scale $scale, $rounds rounds, pgbench ${secs}s, $(date -u '+%Y-%m-%d %H:%M UTC')"
q <<'EOF'
\pset footer off
SELECT * FROM medians ORDER BY 1, 2;
WITH ratio AS (
    SELECT a.bench || CASE a.bench WHEN 'A1' THEN ' tps ' ELSE ' CPU time ' END || b.variant || ' / ' || a.variant AS measure,
           a.round, b.value / a.value AS r
      FROM result a JOIN result b USING (bench, round)
     WHERE (a.variant, b.variant) IN (('off', 'on'), ('plain', 'on'), ('plain', 'off')))
SELECT measure, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY r))::numeric, 3) AS median,
       string_agg(round(r::numeric, 2)::text, ' ' ORDER BY round) AS rounds
  FROM ratio GROUP BY measure ORDER BY measure;
EOF
