#!/usr/bin/env bash
# bench/run.sh — lead_scoring against the baselines a user would pick instead, measured side by side
# in one run with the variants alternated, printed as ratios.  Numbers are never asserted by tests.
#
#   1 single-row event inserts (pgbench, 2 clients, -M prepared): plain table / lead_scoring /
#     PL/pgSQL row trigger / PL/pgSQL statement trigger
#   2 COPY of 1,000,000 events for 100,000 leads, same four variants
#   3 rescore_all() over 100,000 leads and 1,000,000 events vs one hand-written set-based UPDATE
#   4 attribution over 1,000,000 touchpoints: every model's time; linear, time_decay and
#     position_based against hand-written window-function SQL (and whether the weights agree), as
#     rows and as per-channel totals (attribution_totals() against the window SQL grouped by channel)
#   5 backend memory before and after loading 1,000,000 events, one statement per 1,000 rows
#
# Environment:
#   BENCH_SCALE=0.1     scale leads and events (and pgbench durations) down, for a smoke test in seconds
#   BENCH_ROUNDS=3      rounds per benchmark (variants alternate within each round)
#   BENCH_ONLY="2 4"    run only these benchmarks
#   BENCH_PGBENCH_SECONDS=10   length of one pgbench run (default 10 × scale, at least 2)
#   BENCH_COPY_PL_ROW_ROUNDS=1 rounds of benchmark 2 that include the PL/pgSQL row trigger (about
#                       100 µs per row: close to two minutes per full-size COPY)
#   LS_KEEP=1           leave the cluster running afterwards (database "bench")
# Without the lead_scoring engine (attach_* missing) the lead_scoring variants are skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../test/cluster.sh"
# A server sized for bulk loads: checkpoints must not land inside one variant's timing only.
LS_SERVER_OPTS="${LS_SERVER_OPTS:-} -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h -c work_mem=64MB"
ls_setup

scale=${BENCH_SCALE:-1}
rounds=${BENCH_ROUNDS:-3}
only=" ${BENCH_ONLY:-1 2 3 4 5} "
leads=$(awk -v s="$scale" 'BEGIN { printf "%d", 100000 * s }')
events=$(awk -v s="$scale" 'BEGIN { printf "%d", 1000000 * s }')
copy_pl_row_rounds=${BENCH_COPY_PL_ROW_ROUNDS:-1}
pgbench_seconds=${BENCH_PGBENCH_SECONDS:-$(awk -v s="$scale" 'BEGIN { d = int(10 * s + 0.5); print (d < 2 ? 2 : d) }')}
data=$LS_PGDIR/bench_data
mkdir -p "$data"
[ "$(id -u)" -eq 0 ] && chown postgres: "$data"

export PGDATABASE=bench
"$LS_PGBIN/createdb" bench
q() { "$LS_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
# Milliseconds taken by the last statement of the given SQL (psql's \timing).
timed_ms() {
	q -c '\timing on' "$@" | awk '/^Time:/ { t = $2 } END { if (t == "") exit 1; print t }'
}
record() { q -c "INSERT INTO bench_result VALUES ('$1', '$2', $3, $4, '$5')"; }
want() { [[ "$only" == *" $1 "* ]]; }
# The variants in round r's order: rotated, so that no variant always runs first.
rotate() {
	local r=$1
	shift
	local a=("$@") n=$# i
	for ((i = 0; i < n; i++)); do printf '%s ' "${a[$(((i + r) % n))]}"; done
}

ls_log "scale $scale: $leads leads, $events events, $rounds rounds"
q -f "$here/schema.sql"
q -f "$here/plpgsql_baseline.sql"
q -v target=b_pl -f "$here/config.sql"
if { q -f "$here/attach.sql" && q -v target=lead_scoring -f "$here/config.sql"; } >/dev/null 2>"$data/attach.err"; then
	variants=(plain ext pl_row pl_stmt)
	have_ext=1
else
	ls_log "lead_scoring cannot be attached and configured here (engine not complete?): its variants are skipped"
	sed 's/^/    /' "$data/attach.err" >&2
	variants=(plain pl_row pl_stmt)
	have_ext=
fi
q -v schema=b_plain -f "$here/rescore_sql.sql"
q -v schema=b_plain -f "$here/attribution_sql.sql"
[ -n "$have_ext" ] && q -v schema=b_ext -f "$here/rescore_sql.sql"

ls_log "generating data"
q -v leads="$leads" -v events="$events" -v leads_file="$data/leads.csv" -v events_file="$data/events.csv" \
	-v deals_file="$data/deals.csv" -f "$here/data.sql"
q -c "CREATE TABLE public.events_src (LIKE b_plain.events)" \
	-c "COPY public.events_src FROM '$data/events.csv' (FORMAT csv)"

schema_of() { case $1 in plain) echo b_plain ;; ext) echo b_ext ;; pl_*) echo b_pl ;; esac; }
# Which PL/pgSQL event trigger is on.
pl_mode() {
	if [ "$1" = pl_row ]; then
		q -c "ALTER TABLE b_pl.events ENABLE TRIGGER events_score_row, DISABLE TRIGGER events_score_stmt, DISABLE TRIGGER events_score_change"
	else
		q -c "ALTER TABLE b_pl.events DISABLE TRIGGER events_score_row, ENABLE TRIGGER events_score_stmt, ENABLE TRIGGER events_score_change"
	fi
}
# Empty a variant's tables and load its leads again (the triggers score them).
reset_variant() {
	local s
	s=$(schema_of "$1")
	q -c "TRUNCATE $s.events, $s.leads" \
		-c "COPY $s.leads (id, email, phone, job_title, employees, industry, country, created_at) FROM '$data/leads.csv' (FORMAT csv)"
	[ "$s" = b_pl ] && q -c "TRUNCATE b_pl.stage_change"
	q -c "VACUUM ANALYZE $s.leads"
}
copy_events_sql() { echo "COPY $(schema_of "$1").events (id, lead_id, event_type, occurred_at, channel, campaign, keyword, page_url) FROM '$data/events.csv' (FORMAT csv)"; }

# ---------------------------------------------------------------------------------------------
# 2. COPY (first: it also loads the data the later benchmarks use)
# ---------------------------------------------------------------------------------------------
if want 2; then
	ls_log "2. COPY $events events for $leads leads"
	for ((r = 1; r <= rounds; r++)); do
		for v in $(rotate "$r" "${variants[@]}"); do
			# The row trigger needs minutes for a full-size COPY: it runs in the first round(s) only.
			[ "$v" = pl_row ] && [ "$r" -gt "$copy_pl_row_rounds" ] && continue
			reset_variant "$v"
			[[ $v == pl_* ]] && pl_mode "$v"
			ms=$(timed_ms -c "$(copy_events_sql "$v")")
			record copy "$v" "$r" "$ms" ms
			ls_log "   round $r $v: $ms ms"
		done
	done
fi
# Make sure every variant holds exactly the bench data, then add the won deals.
for v in "${variants[@]}"; do
	s=$(schema_of "$v")
	n=$(q -At -c "SELECT count(*) FROM $s.events")
	if [ "$n" != "$events" ]; then
		reset_variant "$v"
		[[ $v == pl_* ]] && pl_mode pl_stmt
		q -c "$(copy_events_sql "$v")"
	fi
done
q -c "TRUNCATE b_plain.deals" -c "COPY b_plain.deals FROM '$data/deals.csv' (FORMAT csv)"
[ -n "$have_ext" ] && q -c "TRUNCATE b_ext.deals" -c "COPY b_ext.deals FROM '$data/deals.csv' (FORMAT csv)"
q -c "VACUUM ANALYZE"

# ---------------------------------------------------------------------------------------------
# 3. rescore_all() vs hand-written SQL
# ---------------------------------------------------------------------------------------------
if want 3; then
	ls_log "3. rescoring $leads leads over $events events"
	r3=(hand_update hand_select)
	[ -n "$have_ext" ] && r3=(ext_rescore_all hand_update hand_select)
	for ((r = 1; r <= rounds; r++)); do
		for v in $(rotate "$r" "${r3[@]}"); do
			case $v in
			ext_rescore_all) ms=$(timed_ms -c "SELECT lead_scoring.rescore_all()") ;;
			hand_update) ms=$(timed_ms -c "UPDATE b_plain.leads l SET score = h.score FROM b_plain.hand_scores h WHERE l.id = h.id") ;;
			hand_select) ms=$(timed_ms -c "SELECT count(*), sum(score) FROM b_plain.hand_scores") ;;
			esac
			record rescore "$v" "$r" "$ms" ms
			ls_log "   round $r $v: $ms ms"
		done
	done
	if [ -n "$have_ext" ]; then
		ls_log "   do rescore_all() and the hand-written SQL agree? (same transaction, same now())"
		q >&2 <<-'EOF'
			BEGIN;
			SELECT lead_scoring.rescore_all() \g /dev/null
			SELECT count(*) AS leads, count(*) FILTER (WHERE l.score <> h.score) AS differing,
			       max(abs(l.score - h.score)) AS max_difference
			FROM b_ext.leads l JOIN b_ext.hand_scores h USING (id);
			COMMIT;
		EOF
	fi
fi

# ---------------------------------------------------------------------------------------------
# 4. attribution
# ---------------------------------------------------------------------------------------------
if want 4; then
	ls_log "4. attribution over $events touchpoints"
	a4=(hand_linear hand_time_decay hand_position_based
		handtotal_linear handtotal_time_decay handtotal_position_based)
	[ -n "$have_ext" ] && a4+=(first_touch last_touch linear time_decay position_based w_shaped full_path markov
		shapley total_linear total_time_decay total_position_based total_markov)
	for ((r = 1; r <= rounds; r++)); do
		for v in $(rotate "$r" "${a4[@]}"); do
			case $v in
			hand_*) ms=$(timed_ms -c "SELECT count(*), sum(credit) FROM b_plain.$v") ;;
			# the per-channel totals an analyst asks for: conversions and revenue per channel
			handtotal_*) ms=$(timed_ms -c "SELECT channel, sum(weight), sum(credit) FROM b_plain.hand_${v#handtotal_} GROUP BY channel") ;;
			total_*) ms=$(timed_ms -c "SELECT channel, conversions, credit FROM lead_scoring.attribution_totals('${v#total_}', 'deal', '90 days', '7 days')") ;;
			*) ms=$(timed_ms -c "SELECT count(*), sum(credit) FROM lead_scoring.attribution('$v', 'deal', '90 days', '7 days')") ;;
			esac
			record attribution "$v" "$r" "$ms" ms
			ls_log "   round $r $v: $ms ms"
		done
	done
	if [ -n "$have_ext" ]; then
		ls_log "   do lead_scoring's weights equal the hand-written ones?"
		for m in linear time_decay position_based; do
			q -c "SELECT '$m' AS model, count(*) AS touchpoints,
			             count(*) FILTER (WHERE x.weight IS NULL OR h.weight IS NULL) AS unmatched,
			             max(abs(x.weight - h.weight)) AS max_weight_difference
			      FROM (SELECT conversion_id::text AS c, event_ref, weight
			              FROM lead_scoring.attribution('$m', 'deal', '90 days', '7 days')) x
			      FULL JOIN (SELECT conversion_id::text AS c, event_ref, weight FROM b_plain.hand_$m) h
			        USING (c, event_ref)" >&2
			q -c "SELECT '$m' AS model, count(*) AS channels,
			             max(abs(t.conversions - h.conversions)) AS max_conversions_difference,
			             max(abs(t.credit - h.credit)) AS max_credit_difference
			      FROM lead_scoring.attribution_totals('$m', 'deal', '90 days', '7 days') t
			      FULL JOIN (SELECT channel, sum(weight) AS conversions, sum(credit) AS credit
			                   FROM b_plain.hand_$m GROUP BY channel) h USING (channel)" >&2
		done
	fi
fi

# ---------------------------------------------------------------------------------------------
# 1. single-row inserts with pgbench (on tables already holding the bench data)
# ---------------------------------------------------------------------------------------------
if want 1; then
	ls_log "1. single-row inserts: pgbench -c 2 -j 2 -M prepared, $pgbench_seconds s per run"
	for v in "${variants[@]}"; do
		cat >"$data/insert_$v.sql" <<-EOF
			\\set lead random(1, $leads)
			\\set kind random(1, 10)
			INSERT INTO $(schema_of "$v").events (lead_id, event_type, occurred_at, channel, campaign, page_url)
			VALUES (:lead, (ARRAY['page_view', 'page_view', 'page_view', 'email_open', 'email_open', 'email_click',
			                      'ad_click', 'content_download', 'webinar_attended', 'page_view'])[:kind],
			        now(), 'organic', 'organic-1', CASE WHEN :kind = 10 THEN '/pricing' ELSE '/features' END);
		EOF
		q -c "SELECT setval(pg_get_serial_sequence('$(schema_of "$v").events', 'id'), $events + 1000000)" >/dev/null
	done
	for ((r = 1; r <= rounds; r++)); do
		for v in $(rotate "$r" "${variants[@]}"); do
			[[ $v == pl_* ]] && pl_mode "$v"
			tps=$("$LS_PGBIN/pgbench" -n -c 2 -j 2 -M prepared -T "$pgbench_seconds" -f "$data/insert_$v.sql" 2>&1 |
				awk '/^tps = / { print $3; exit }')
			record inserts "$v" "$r" "$tps" tps
			ls_log "   round $r $v: $tps tps"
		done
	done
fi

# ---------------------------------------------------------------------------------------------
# 5. backend memory over a long load, one statement per 1,000 rows
# ---------------------------------------------------------------------------------------------
if want 5; then
	ls_log "5. backend memory while loading $events events, 1,000 rows per statement"
	m5=(plain pl_stmt)
	[ -n "$have_ext" ] && m5=(plain ext pl_stmt)
	for v in "${m5[@]}"; do
		s=$(schema_of "$v")
		reset_variant "$v"
		[[ $v == pl_* ]] && pl_mode "$v"
		q -At -v schema="$s" -v batches=$((events / 1000)) >"$data/mem_$v.out" <<-'EOF'
			-- RssAnon: the backend's private memory (VmRSS also counts the shared buffers it touched).
			CREATE TEMP TABLE mem (at text, anon_kb bigint, contexts_kb bigint);
			CREATE TEMP VIEW mem_now AS
			SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]::bigint AS anon_kb,
			       (SELECT sum(total_bytes) / 1024 FROM pg_backend_memory_contexts)::bigint AS contexts_kb;
			-- warm-up: the first statement fills the caches every backend keeps
			INSERT INTO :schema.events SELECT * FROM public.events_src WHERE id BETWEEN 1 AND 1000;
			INSERT INTO mem SELECT 'before', * FROM mem_now;
			SELECT format('INSERT INTO %I.events SELECT * FROM public.events_src WHERE id BETWEEN %s AND %s',
			              :'schema', k * 1000 + 1, k * 1000 + 1000)
			FROM generate_series(1, :batches - 1) AS k \gexec
			INSERT INTO mem SELECT 'after', * FROM mem_now;
			SELECT a.anon_kb - b.anon_kb, a.contexts_kb - b.contexts_kb, b.anon_kb, a.anon_kb
			FROM mem a, mem b WHERE a.at = 'after' AND b.at = 'before';
		EOF
		IFS='|' read -r grow_kb ctx_kb before_kb after_kb <"$data/mem_$v.out"
		record memory "$v" 1 "$grow_kb" kB
		record memory_contexts "$v" 1 "$ctx_kb" kB
		ls_log "   $v: RssAnon $before_kb kB -> $after_kb kB (+$grow_kb kB), memory contexts +$ctx_kb kB"
	done
fi

echo
echo "lead_scoring benchmarks — scale $scale ($leads leads, $events events), $rounds rounds, $(date -u '+%Y-%m-%d %H:%M UTC')"
q -f "$here/summary.sql"
