#!/usr/bin/env bash
# bench/engine.sh — the scoring engine's benchmarks (doc/benchmarks.md, "The scoring engine"):
# lead_scoring against the same tables without triggers, alternated in one run, printed as ratios.
#
#   E1 single-row event inserts (pgbench, 2 clients) for leads holding 10 and 1,000 events each:
#      tps of lead_scoring / tps of the plain table, at each history, and the ratio of the two
#   E2 COPY of events into leads without history: time / the plain table's time; and the floor: the
#      plain COPY followed, in its transaction, by the set-based work any design storing the score in
#      the lead row must do (one UPDATE of every touched lead's score and stage, the stage_change rows of
#      the leads changing stage): ext/plain, floor/plain and ext/floor; and the write floor: the plain
#      COPY followed by only the writes (every touched lead's score, stage and engagement state set to
#      the values the extension wrote, given in a table, and the stage_change rows), no computation
#   E3 a bulk INSERT (one statement) into leads that already hold 1,000 events each: time / plain
#   E4 refresh_scores() on leads with 100 events each / the same with 10 events each, in all and
#      per lead rewritten (fewer leads change score at 10 events each), and the walk alone: a second
#      refresh_scores() at the same time, which rewrites no lead
#   E5 the longest wait of a single-row insert (pgbench, per-transaction latencies) while
#      refresh_scores() runs after the clock moved 3 days, and while CALL refresh_online() runs
#      after a rule change, against the same without maintenance
#      (and, for reference, while rescore_all() runs: one pass under an EXCLUSIVE lock)
#
# Sizes: ENGINE_SCALE=1 is the full size of the issue's table (E1: 2,000 leads, up to 2,000,000
# events; E2: 100,000 leads, 1,000,000 events; E3: 100,000 events into 2,000 leads;
# E4: 100,000 leads; E5: 1,000,000 leads, 10,000,000 events).  ENGINE_SCALE=0.1 divides the
# numbers of leads (and events) by ten, never the events per lead.
# BENCH_ROUNDS=3, BENCH_PGBENCH_SECONDS=10, ENGINE_ONLY="1 2 3 4 5", LS_KEEP=1 as in bench/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/ab_common.sh"
ab_cluster engine_data "-c work_mem=64MB"

scale=${ENGINE_SCALE:-1}
rounds=${BENCH_ROUNDS:-3}
secs=${BENCH_PGBENCH_SECONDS:-10}
only=" ${ENGINE_ONLY:-1 2 3 4 5} "
sz() { awk -v s="$scale" -v n="$1" 'BEGIN { v = int(n * s); print (v < 100 ? 100 : v) }'; }
want() { [[ "$only" == *" $1 "* ]]; }
timed_ms() { q -c '\timing on' "$@" | awk '/^Time:/ { t = $2 } END { if (t == "") exit 1; print t }'; }
# The wall time (ms) of the n-th statement of the commands given, and its backend's CPU time (ms, user
# + system, from log_statement_stats): on a shared machine CPU time is the steadier of the two.
timed_cpu() {
	local n=$1
	shift
	q -c "SET client_min_messages = log" -c "SET log_statement_stats = on" -c '\timing on' "$@" 2>&1 |
		awk -v n="$n" '/^Time:/ { tn++; if (tn == n) t = $2 }
			/s user,/ && !/\[/ { cn++; if (cn == n) { gsub(/!/, ""); c = ($1 + $4) * 1000 } }
			END { if (t == "" || c == "") exit 1; print t, c }'
}
# The same summed over all the statements given after the SETs (a transaction of several).
timed_cpu_all() {
	q -c "SET client_min_messages = log" -c "SET log_statement_stats = on" -c '\timing on' "$@" 2>&1 |
		awk '/^Time:/ { t += $2; tn++ }
			/s user,/ && !/\[/ { gsub(/!/, ""); c += ($1 + $4) * 1000; cn++ }
			END { if (tn == 0 || cn == 0) exit 1; print t, c }'
}
ab_tables
# load WHAT N K [SCHEMAS]: N leads with K events each, into both schemas unless told (E4 and E5 use
# only e_ext)
load() {
	local s
	for s in ${4:-e_plain e_ext}; do
		q -c "SELECT load('$s', $2, $3)" >/dev/null
		q -c "VACUUM ANALYZE $s.leads, $s.events"
	done
	ls_log "   loaded $2 leads x $3 events into ${4:-both schemas} ($1)"
}
pgbench_script() {
	cat >"$data/insert_$1.sql" <<-EOS
		\\set lead random(1, $2)
		\\set kind random(1, 10)
		INSERT INTO $1.events (lead_id, event_type, occurred_at, channel, campaign, page_url)
		VALUES (:lead, (ARRAY['page_view', 'page_view', 'page_view', 'email_open', 'email_open', 'email_click',
		                      'ad_click', 'content_download', 'webinar_attended', 'page_view'])[:kind],
		        now(), 'organic', 'organic-1', CASE WHEN :kind = 10 THEN '/pricing' ELSE '/features' END);
	EOS
}
# Rows of an events table read so far (index and sequential scans), from the statistics.
events_read() { q -At -c "SELECT pg_stat_force_next_flush()" -c "SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read FROM pg_stat_user_tables WHERE relid = '$1.events'::regclass" | tail -1; }
tps() {
	"$LS_PGBIN/pgbench" -n -c 2 -j 2 -M prepared -T "$secs" -f "$data/insert_$1.sql" >"$data/pgbench.out" 2>&1 || true
	awk '/^tps = / { print $3; found = 1; exit } END { if (!found) exit 1 }' "$data/pgbench.out" ||
		{ ls_log "pgbench failed:"; tail -20 "$data/pgbench.out" >&2; tail -20 "$LS_PGDIR/server.log" >&2; return 1; }
}

if want 1; then
	n=$(sz 2000)
	for k in 10 1000; do
		load "E1, $k events per lead" "$n" "$k"
		pgbench_script e_plain "$n"
		pgbench_script e_ext "$n"
		for ((r = 1; r <= rounds; r++)); do
			for v in $( ((r % 2)) && echo e_plain e_ext || echo e_ext e_plain); do
				before=$(events_read $v)
				t=$(tps $v)
				read=$(($(events_read $v) - before))
				n_tx=$(awk '/number of transactions actually processed/ { print $NF }' "$data/pgbench.out")
				record "E1 inserts, $k events/lead" $v $r "$t"
				[ $v = e_ext ] && record "E1 events read per insert, $k events/lead" $v $r "$(awk -v a="$read" -v b="$n_tx" 'BEGIN { printf "%.3f", a / b }')"
				ls_log "   E1 $k events/lead, round $r, $v: $t tps, $read event rows read for $n_tx inserts"
			done
		done
	done
fi

if want 3; then
	n=$(sz 2000)
	m=$(sz 100000)
	load "E3" "$n" 1000
	for ((r = 1; r <= rounds; r++)); do
		for v in $( ((r % 2)) && echo e_plain e_ext || echo e_ext e_plain); do
			read -r ms cpu < <(timed_cpu 2 -c "BEGIN" -c "INSERT INTO $v.events (lead_id, event_type, occurred_at, channel, page_url)
				SELECT 1 + g % $n, (ARRAY['page_view', 'email_open', 'email_click', 'ad_click'])[1 + g % 4],
				       now() - (g % 1000) * interval '1 minute', 'organic', '/pricing' FROM generate_series(1, $m) g" -c "ROLLBACK")
			record "E3 bulk insert into leads with 1,000 events" $v $r "$ms"
			record "E3 bulk insert, CPU ms" $v $r "$cpu"
			ls_log "   E3 round $r, $v: $ms ms ($cpu ms CPU)"
		done
	done
fi

if want 2; then
	n=$(sz 100000)
	e=$(sz 1000000)
	load "E2" "$n" 0
	q -c "COPY (SELECT * FROM e2_events($n, $e)) TO '$data/events.csv' (FORMAT csv)"
	# The floor: the rules of bench/config.sql in SQL, set-based — each lead's fit points (reset before
	# the round, as the extension's TRUNCATE trigger rescores its leads) plus the loaded events' engagement
	# points by rule with their max_points and max_hits (no decay), clamped; the stage by the thresholds.
	floor_reset="UPDATE e_plain.leads SET lead_scoring_state = NULL, (score, stage) = (SELECT f, CASE WHEN f >= 60 THEN 'sal' WHEN f >= 35 THEN 'mql' WHEN f >= 10 THEN 'iql' ELSE 'new' END
	        FROM (SELECT CASE WHEN employees >= 50 THEN 10 ELSE 0 END
	                   + CASE WHEN industry IN ('Software', 'Financial services', 'Healthcare') THEN 10 ELSE 0 END
	                   + CASE WHEN job_title ~ '(Head|Director|VP|Chief|Founder)' THEN 15 ELSE 0 END
	                   + CASE WHEN phone IS NULL THEN -10 ELSE 0 END AS f) x)"
	floor_sql="WITH a AS MATERIALIZED (
	        SELECT lead_id, engagement FROM (
	            SELECT lead_id,
	                   least(5, count(*) FILTER (WHERE event_type = 'email_open'))
	                 + least(15, 3 * count(*) FILTER (WHERE event_type = 'email_click'))
	                 + 2 * least(5, count(*) FILTER (WHERE event_type = 'ad_click'))
	                 + least(24, 8 * count(*) FILTER (WHERE event_type = 'content_download'))
	                 + 10 * least(3, count(*) FILTER (WHERE event_type = 'webinar_attended'))
	                 + least(20, 10 * count(*) FILTER (WHERE event_type = 'page_view' AND page_url LIKE '/pricing%'))
	                 + least(10, count(*) FILTER (WHERE event_type = 'page_view')) AS engagement
	              FROM e_plain.events GROUP BY lead_id) s),
	    n AS MATERIALIZED (
	        SELECT a.lead_id, l.stage AS old_stage, s.score,
	               CASE WHEN s.score >= 60 THEN 'sal' WHEN s.score >= 35 THEN 'mql' WHEN s.score >= 10 THEN 'iql' ELSE 'new' END AS stage
	          FROM a JOIN e_plain.leads l ON l.id = a.lead_id,
	               LATERAL (SELECT least(150, greatest(-50, l.score + a.engagement))::int AS score) s),
	    logged AS (INSERT INTO e_plain.stage_change (lead_id, from_stage, to_stage, score, actor, reason)
	               SELECT lead_id, old_stage, stage, score, 'lead_scoring', 'threshold' FROM n WHERE old_stage <> stage)
	    UPDATE e_plain.leads l SET score = n.score, stage = n.stage FROM n WHERE l.id = n.lead_id"
	# The write floor: the same writes with their values given (the extension's, from its first round)
	wfloor_sql="WITH logged AS (INSERT INTO e_plain.stage_change (lead_id, from_stage, to_stage, score, actor, reason)
	               SELECT n.id, l.stage, n.stage, n.score, 'lead_scoring', 'threshold'
	                 FROM e_plain.next_leads n JOIN e_plain.leads l USING (id) WHERE l.stage <> n.stage)
	    UPDATE e_plain.leads l SET score = n.score, stage = n.stage, lead_scoring_state = n.state
	      FROM e_plain.next_leads n WHERE l.id = n.id"
	q -c "ALTER TABLE e_plain.leads ADD COLUMN lead_scoring_state bytea"
	for ((r = 1; r <= rounds; r++)); do
		for v in e_plain e_ext e_floor e_wfloor; do
			[ $v = e_ext ] && t=e_ext || t=e_plain
			copy="COPY $t.events (lead_id, event_type, occurred_at, channel, page_url) FROM '$data/events.csv' (FORMAT csv)"
			if [ $v = e_floor ] || [ $v = e_wfloor ]; then
				q -c "TRUNCATE e_plain.events, e_plain.stage_change" -c "$floor_reset"
				[ $v = e_floor ] && sql=$floor_sql || sql=$wfloor_sql
				read -r ms cpu < <(timed_cpu_all -c "BEGIN" -c "$copy" -c "$sql" -c "COMMIT")
			else
				q -c "TRUNCATE $v.events"
				read -r ms cpu < <(timed_cpu 1 -c "$copy")
				[ $v = e_ext ] && [ $r = 1 ] && q -c "CREATE TABLE e_plain.next_leads AS
					SELECT id, score, stage::text AS stage, lead_scoring_state AS state FROM e_ext.leads" -c "ANALYZE e_plain.next_leads"
			fi
			record "E2 COPY into leads without history" $v $r "$ms"
			record "E2 COPY, CPU ms" $v $r "$cpu"
			ls_log "   E2 round $r, $v: $ms ms ($cpu ms CPU)"
		done
	done
fi

if want 4; then
	n=$(sz 100000)
	for k in 10 100; do
		load "E4, $k events per lead" "$n" "$k" e_ext
		for ((r = 1; r <= rounds; r++)); do
			# the clock moves 3 days: decay changes the scores of most leads (not all: a lead whose
			# events have decayed to nothing keeps its score, and more of them at 10 events per lead)
			read -r ms n_rw < <(q -At -c "SET lead_scoring.now = '$(date -u -d "+$((r * 3)) days" '+%Y-%m-%d %H:%M+00')'" -c '\timing on' \
				-c "SELECT lead_scoring.refresh_scores()" | awk '/^Time:/ { t = $2 } /^[0-9]+$/ { n = $1 } END { print t, n }')
			record "E4 refresh_scores(), $k events/lead" e_ext $r "$ms"
			record "E4 leads rewritten, $k events/lead" e_ext $r "$n_rw"
			record "E4 refresh per rewritten lead (us), $k events/lead" e_ext $r "$(awk -v a="$ms" -v b="$n_rw" 'BEGIN { printf "%.3f", a * 1000 / b }')"
			# the walk alone: the same clock again, no score changes
			read -r walk n_walk < <(q -At -c "SET lead_scoring.now = '$(date -u -d "+$((r * 3)) days" '+%Y-%m-%d %H:%M+00')'" -c '\timing on' \
				-c "SELECT lead_scoring.refresh_scores()" | awk '/^Time:/ { t = $2 } /^[0-9]+$/ { n = $1 } END { print t, n }')
			[ "$n_walk" = 0 ] || { ls_log "E4: a second refresh at the same time rewrote $n_walk leads"; exit 1; }
			record "E4 refresh walk alone, $k events/lead" e_ext $r "$walk"
			ls_log "   E4 $k events/lead, round $r: $ms ms, $n_rw leads rewritten; the walk alone $walk ms"
		done
	done
fi

if want 5; then
	n=$(sz 1000000)
	load "E5" "$n" 10 e_ext
	pgbench_script e_ext "$n"
	for what in none refresh_scores refresh_online rescore_all; do
		rm -f "$data"/pgbench_log.* "$data/maintenance.done"
		# the maintenance runs in the background; pgbench runs in slices of $secs s until it has
		# finished (at least one slice), so the longest wait covers the whole of it
		case $what in
		refresh_scores)
			# decay: the clock moved 3 days, most scores change
			(sleep 1; timed_ms -c "SET lead_scoring.now = '$(date -u -d '+3 days' '+%Y-%m-%d %H:%M+00')'" \
				-c "SELECT lead_scoring.refresh_scores()" >"$data/maintenance.ms"; touch "$data/maintenance.done") & ;;
		refresh_online)
			q -c "UPDATE lead_scoring.rule SET points = points + 1 WHERE name = 'Site visit'"
			(sleep 1; timed_ms -c "CALL lead_scoring.refresh_online()" >"$data/maintenance.ms"; touch "$data/maintenance.done") & ;;
		rescore_all)
			q -c "UPDATE lead_scoring.rule SET points = points - 1 WHERE name = 'Site visit'"
			(sleep 1; timed_ms -c "SELECT lead_scoring.rescore_all()" >"$data/maintenance.ms"; touch "$data/maintenance.done") & ;;
		none) echo 0 >"$data/maintenance.ms"; touch "$data/maintenance.done" ;;
		esac
		slices=0
		while [ $slices -eq 0 ] || [ ! -e "$data/maintenance.done" ]; do
			(cd "$data" && "$LS_PGBIN/pgbench" -n -c 2 -j 2 -M prepared -T "$secs" -l -f "$data/insert_e_ext.sql" >/dev/null 2>&1)
			slices=$((slices + 1))
		done
		wait
		ms=$(cat "$data/maintenance.ms")
		max=$(cat "$data"/pgbench_log.* | awk '{ if ($3 > m) m = $3 } END { printf "%.1f", m / 1000 }')
		record "E5 longest insert wait (ms)" "$what" 1 "$max"
		ls_log "   E5 during $what ($ms ms): longest single-row insert $max ms ($slices pgbench runs of ${secs}s)"
	done
fi

echo
echo "lead_scoring engine benchmarks — scale $scale, $rounds rounds, pgbench ${secs}s, $(date -u '+%Y-%m-%d %H:%M UTC')"
q <<'EOF'
\pset footer off
SELECT * FROM medians ORDER BY 1, 2;
WITH m AS (SELECT bench, variant, round, value FROM result),
ratio AS (
    SELECT 'E1 tps ext/plain, ' || split_part(a.bench, ', ', 2) AS measure, a.round, b.value / a.value AS r
      FROM m a JOIN m b USING (bench, round) WHERE a.bench LIKE 'E1%' AND a.variant = 'e_plain' AND b.variant = 'e_ext'
    UNION ALL
    SELECT 'E2 COPY time ext/plain', a.round, b.value / a.value
      FROM m a JOIN m b USING (bench, round) WHERE a.bench LIKE 'E2 COPY into%' AND a.variant = 'e_plain' AND b.variant = 'e_ext'
    UNION ALL
    SELECT 'E2 COPY CPU time ext/plain', a.round, b.value / a.value
      FROM m a JOIN m b USING (bench, round) WHERE a.bench LIKE 'E2 COPY, CPU%' AND a.variant = 'e_plain' AND b.variant = 'e_ext'
    UNION ALL
    SELECT 'E2 COPY ' || y.t || 'time ' || x.what, a.round, b.value / a.value
      FROM (VALUES ('floor/plain', 'e_plain', 'e_floor'), ('ext/floor', 'e_floor', 'e_ext'),
                   ('write floor/plain', 'e_plain', 'e_wfloor'), ('ext/write floor', 'e_wfloor', 'e_ext')) x(what, base, v),
           (VALUES ('E2 COPY into%', ''), ('E2 COPY, CPU%', 'CPU ')) y(bench, t),
           m a JOIN m b USING (bench, round)
     WHERE a.bench LIKE y.bench AND a.variant = x.base AND b.variant = x.v
    UNION ALL
    SELECT 'E3 bulk insert time ext/plain', a.round, b.value / a.value
      FROM m a JOIN m b USING (bench, round) WHERE a.bench LIKE 'E3 bulk insert into%' AND a.variant = 'e_plain' AND b.variant = 'e_ext'
    UNION ALL
    SELECT 'E3 bulk insert CPU time ext/plain', a.round, b.value / a.value
      FROM m a JOIN m b USING (bench, round) WHERE a.bench LIKE 'E3 bulk insert, CPU%' AND a.variant = 'e_plain' AND b.variant = 'e_ext'
    UNION ALL
    SELECT 'E4 refresh 100 events/lead / 10 events/lead', a.round, b.value / a.value
      FROM m a JOIN m b USING (round) WHERE a.bench = 'E4 refresh_scores(), 10 events/lead' AND b.bench = 'E4 refresh_scores(), 100 events/lead'
    UNION ALL
    SELECT 'E4 refresh walk alone, 100 events/lead / 10 events/lead', a.round, b.value / a.value
      FROM m a JOIN m b USING (round) WHERE a.bench = 'E4 refresh walk alone, 10 events/lead' AND b.bench = 'E4 refresh walk alone, 100 events/lead'
    UNION ALL
    SELECT 'E4 refresh per rewritten lead, 100 events/lead / 10 events/lead', a.round, b.value / a.value
      FROM m a JOIN m b USING (round) WHERE a.bench = 'E4 refresh per rewritten lead (us), 10 events/lead' AND b.bench = 'E4 refresh per rewritten lead (us), 100 events/lead'),
med AS (SELECT measure, percentile_cont(0.5) WITHIN GROUP (ORDER BY r) AS median FROM ratio GROUP BY measure)
SELECT measure, round(median::numeric, 3) AS ratio FROM med
UNION ALL
SELECT 'E1 (1,000 events/lead ratio) / (10 events/lead ratio)',
       round(((SELECT median FROM med WHERE measure = 'E1 tps ext/plain, 1000 events/lead') /
              (SELECT median FROM med WHERE measure = 'E1 tps ext/plain, 10 events/lead'))::numeric, 3)
ORDER BY 1;
EOF
