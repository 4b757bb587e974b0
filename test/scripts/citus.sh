#!/usr/bin/env bash
# The Citus suite (doc/scale-out.md): the same CRM, configuration and history on plain PostgreSQL, on a
# single Citus node with shards, and on a coordinator with two workers (one machine, Unix sockets, private
# directories); the stored scores and stages, the stage log, the handoff notifications and the reports must
# be identical.  On Citus the history is written after lead_scoring.citus_setup(): attached first and
# distributed by citus_setup() on the single node, distributed first (empty) and attached afterwards on the
# coordinator with workers.  Besides the comparison, checks of the pieces that make it work: shards mapped
# to their tables on every node, the configuration replicated to the workers and their caches invalidated,
# session settings reaching the shards, handoffs relayed through the outbox.
#
# Reports itself skipped (first line "skipped ...") when Citus is not installed for $PG_CONFIG
# (../shared/tools/build-citus.sh installs it).  What does not work on Citus yet is listed in PENDING
# below: such a difference is reported, not failed, and a pending check that passes fails the suite until
# it is taken off the list.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
source "$here/citus/nodes.sh"
citus_require
OUT=$CITUS_DIR/out
mkdir -p "$OUT"

# What does not work on Citus yet (doc/scale-out.md, "What is left"), as " name name ": nothing.
PENDING=" "

failed=0
fail() {
	echo "FAILED: $*"
	failed=1
}
ok() { echo "ok: $*"; }

PLAIN=6301 SINGLE=6311 COORD=6321 W1=6322 W2=6323
# four shards per table: several leads of a statement land on one shard (the triggers' batch paths)
citus_start plain $PLAIN
citus_start single $SINGLE "-c citus.shard_count=4"
citus_start coord $COORD "-c citus.shard_count=4"
citus_start w1 $W1
citus_start w2 $W2

# psql without the server process ids that notifications print
run() {
	local port=$1
	shift
	citus_psql "$port" "$@" 2>&1 | sed -E 's/ received from server process with PID [0-9]+//'
}

# --- plain PostgreSQL: the reference --------------------------------------------------------------------
citus_psql $PLAIN -c "CREATE EXTENSION lead_scoring" >/dev/null
citus_psql $PLAIN -f "$here/citus/schema.sql" >/dev/null
citus_psql $PLAIN -f "$here/citus/attach.sql" >/dev/null
run $PLAIN -f "$here/citus/history.sql" >"$OUT/plain.history"

# --- Citus, single node with shards: attach first, citus_setup() distributes ----------------------------
citus_psql $SINGLE -c "CREATE EXTENSION citus" -c "SELECT citus_set_coordinator_host('$CITUS_SOCK', $SINGLE)" \
	-c "SELECT citus_set_node_property('$CITUS_SOCK', $SINGLE, 'shouldhaveshards', true)" >/dev/null
citus_psql $SINGLE -c "CREATE EXTENSION lead_scoring" >/dev/null
citus_psql $SINGLE -f "$here/citus/schema.sql" >/dev/null
citus_psql $SINGLE -f "$here/citus/attach.sql" >/dev/null 2>&1
citus_psql $SINGLE -c "SET client_min_messages = warning" -c "SELECT lead_scoring.citus_setup()" >/dev/null
run $SINGLE -f "$here/citus/history.sql" >"$OUT/single.history"

# --- Citus, coordinator and two workers: distribute the empty tables first, then attach -----------------
citus_crm_cluster $COORD $W1 $W2
run $COORD -f "$here/citus/history.sql" >"$OUT/cluster.history"

# --- checks of the pieces ---------------------------------------------------------------------------------
# every lead lives on a worker's shard, and the shards of every attached table map back to it on every node
where=$(citus_psql $COORD -At -c "SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'crm.leads'::regclass AND nodeport <> $COORD")
[ "$where" = 2 ] && ok "the leads are on both workers" || fail "leads shards on $where workers"
for p in $W1 $W2; do
	m=$(citus_psql $p -At -c "SET citus.override_table_visibility = off" -c "SELECT string_agg(DISTINCT lead_scoring.shard_table(c.oid)::text, ',' ORDER BY lead_scoring.shard_table(c.oid)::text)
	                            FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'r' AND c.relname ~ '_[0-9]+$'")
	[ "$m" = "crm.deals,crm.events,crm.leads" ] && ok "worker $p maps its shards to their tables" || fail "worker $p maps shards to: $m"
	m=$(citus_psql $p -At -c "SELECT lead_scoring.shard_table('crm.leads')::text")
	[ "$m" = "crm.leads" ] && ok "worker $p: a table maps to itself" || fail "worker $p: crm.leads maps to $m"
done
# configuration on the workers: attachments by name (their own OIDs), rules, settings, thresholds
want=$(citus_psql $COORD -At -c "SELECT lead_scoring.config_snapshot()")
for p in $W1 $W2; do
	got=$(citus_psql $p -At -c "SELECT lead_scoring.config_snapshot()")
	[ "$got" = "$want" ] && ok "worker $p has the coordinator's configuration" || fail "worker $p configuration differs: $got"
	bad=$(citus_psql $p -At -c "SELECT count(*) FROM lead_scoring.attachment a WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = a.relid)")
	[ "$bad" = 0 ] && ok "worker $p: attachments name its own tables" || fail "worker $p: $bad attachments name no table"
done
# a configuration change reaches a worker's running session (cache invalidation on the worker)
citus_psql $W1 -At >"$OUT/inval" <<SQL
SELECT lead_scoring.can_transition('customer', 'recycled');
\! "$CITUS_BIN/psql" -X -q -h "$CITUS_SOCK" -p $COORD -U postgres -c "DELETE FROM lead_scoring.transition_override" >/dev/null
SELECT lead_scoring.can_transition('customer', 'recycled');
\! "$CITUS_BIN/psql" -X -q -h "$CITUS_SOCK" -p $COORD -U postgres -c "INSERT INTO lead_scoring.transition_override VALUES ('customer', 'recycled', true)" >/dev/null
SELECT lead_scoring.can_transition('customer', 'recycled');
SQL
[ "$(tr '\n' ' ' <"$OUT/inval")" = "t f t " ] && ok "a worker's session sees configuration changes at once" ||
	fail "worker cache invalidation: $(tr '\n' ' ' <"$OUT/inval")"
# a configuration change that rolls back on the coordinator rolls back on the workers
v1=$(citus_psql $W2 -At -c "SELECT version FROM lead_scoring.config_replica")
citus_psql $COORD -c "BEGIN" -c "INSERT INTO lead_scoring.event_type VALUES ('demo', 'sales')" -c "ROLLBACK" >/dev/null
v2=$(citus_psql $W2 -At -c "SELECT version FROM lead_scoring.config_replica")
n=$(citus_psql $W2 -At -c "SELECT count(*) FROM lead_scoring.event_type WHERE name = 'demo'")
[ "$v1" = "$v2" ] && [ "$n" = 0 ] && ok "a rolled-back configuration change leaves the workers alone" ||
	fail "rollback reached a worker (version $v1 -> $v2, rows $n)"
# nothing waits in the outbox, and the log and the outbox are colocated with the leads
n=$(citus_psql $COORD -At -c "SELECT count(*) FROM lead_scoring.handoff_outbox")
[ "$n" = 0 ] && ok "the outbox was drained" || fail "$n handoffs left in the outbox"
n=$(citus_psql $COORD -At -c "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE logicalrelid IN
      ('crm.leads'::regclass, 'crm.events'::regclass, 'crm.deals'::regclass, 'lead_scoring.stage_change'::regclass,
       'lead_scoring.handoff_outbox'::regclass)")
[ "$n" = 1 ] && ok "leads, events, deals, the log and the outbox are colocated" || fail "$n colocation groups"

# the triggers address the shards themselves: Citus executes no statement of theirs (citus.log_local_commands
# reports each statement it runs on a local shard).  A batch of events for leads on every shard (the batch
# path: more than four leads per shard), promotions (the log, the outbox), an update of a lead, a deal lost
# and one opened, in a transaction rolled back; the only statements Citus runs are the application's.
citus_psql $SINGLE >"$OUT/local_commands" 2>&1 <<'SQL' || fail "the statements of the local-commands check failed: $(grep ERROR "$OUT/local_commands")"
SET citus.log_local_commands = on;
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-08 10:00+00';
INSERT INTO crm.events (id, lead_id, event_type, occurred_at)
SELECT 5000 + 2 * g + u.o, g, u.t, '2026-01-08 09:00+00'
  FROM generate_series(1, 24) g, unnest('{webinar,demo_request}'::text[]) WITH ORDINALITY AS u(t, o);
UPDATE crm.leads SET company_size = 120 WHERE id = 3;
INSERT INTO crm.deals (id, lead_id, amount, status) VALUES (900, 4, 10, 'lost'), (901, 5, 10, 'open');
ROLLBACK;
SQL
n=$(grep -c 'executing the' "$OUT/local_commands" || true)
other=$(grep 'executing the' "$OUT/local_commands" | grep -Ev 'executing the copy locally for shard|command locally: (UPDATE crm\.leads_[0-9]+ leads SET company_size|INSERT INTO crm\.deals_[0-9]+ )' || true)
[ "$n" -gt 0 ] && [ -z "$other" ] && ok "the triggers address the shards: Citus runs only the application's statements ($n)" ||
	fail "statements Citus ran for the triggers: $(echo "$other" | head -5)"

# --- the comparison -----------------------------------------------------------------------------------------
compare() { # name file-plain file-other label
	if cmp -s "$2" "$3"; then
		ok "$1 identical ($4)"
	elif [[ "$PENDING" == *" $1 "* ]]; then
		echo "pending: $1 differs ($4; waits for the rewrite in doc/scale-out.md):" \
			"$({ diff "$2" "$3" || true; } | grep '^>' | head -1 | cut -c1-160)"
		return 0
	else
		fail "$1 differs ($4)"
		{ diff "$2" "$3" || true; } | head -20
	fi
	if [[ "$PENDING" == *" $1 "* ]]; then
		fail "$1 now matches on $4: take it off PENDING in $0"
	fi
}
for topo in single cluster; do
	port=$([ $topo = single ] && echo $SINGLE || echo $COORD)
	compare history "$OUT/plain.history" "$OUT/$topo.history" $topo
	run $PLAIN -f "$here/citus/snapshot.sql" >"$OUT/plain.snapshot"
	run $port -f "$here/citus/snapshot.sql" >"$OUT/$topo.snapshot"
	compare "scores-stages-log" "$OUT/plain.snapshot" "$OUT/$topo.snapshot" $topo
	while IFS='|' read -r name query; do
		[ -z "$name" ] || [[ "$name" == --* ]] && continue
		for p in $PLAIN $port; do
			run $p -c "SET citus.propagate_set_commands = 'local'" -c "BEGIN" \
				-c "SET LOCAL lead_scoring.now = '2026-01-07 12:00+00'" -c "$query" -c "COMMIT" \
				>"$OUT/$name.$p" || true
		done
		compare "$name" "$OUT/$name.$PLAIN" "$OUT/$name.$port" $topo
	done <"$here/citus/reports.sql"
done
# a rule change made on the coordinator rescores every lead
for p in $PLAIN $SINGLE $COORD; do
	citus_psql $p -c "SET citus.propagate_set_commands = 'local'" -c "BEGIN" \
		-c "SET LOCAL lead_scoring.now = '2026-01-08 09:00+00'" \
		-c "UPDATE lead_scoring.rule SET points = 25 WHERE name = 'webinar'" -c "COMMIT" >/dev/null
	run $p -c "SELECT id, stage, score FROM crm.leads ORDER BY id" >"$OUT/rule_change.$p"
done
compare rule_change "$OUT/rule_change.$PLAIN" "$OUT/rule_change.$SINGLE" single
compare rule_change "$OUT/rule_change.$PLAIN" "$OUT/rule_change.$COORD" cluster

# two concurrent writers on the cluster (leads on every shard, one lead shared), the same writes one after the
# other on plain PostgreSQL: the same stored scores, each equal to score()
for w in 1 2; do citus_psql $PLAIN -v w=$w -v n=150 -f "$here/citus/concurrent.sql" >/dev/null; done
pids=()
for w in 1 2; do
	citus_psql $COORD -v w=$w -v n=150 -f "$here/citus/concurrent.sql" >"$OUT/writer$w" 2>&1 &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a concurrent writer failed: $(cat "$OUT"/writer*)"; done
for p in $PLAIN $COORD; do
	citus_psql $p -At -c "SELECT id, stage, score FROM crm.leads ORDER BY id" >"$OUT/concurrent.$p"
	# score() in a query over the leads: on Citus each call runs on the lead's shard
	citus_psql $p -At -c "SELECT id, lead_scoring.score(id, '2026-01-09 12:00+00') FROM crm.leads ORDER BY id" \
		>"$OUT/recomputed.$p"
done
compare concurrent "$OUT/concurrent.$PLAIN" "$OUT/concurrent.$COORD" cluster
paste -d'|' "$OUT/concurrent.$COORD" "$OUT/recomputed.$COORD" | awk -F'|' '$3 != $5 { bad++ } END { exit bad > 0 }' &&
	ok "stored scores equal score() after the concurrent writers" || fail "stored scores differ from score() after the concurrent writers"

# --- citus_setup() on a CRM that already holds scored leads and their events (another database, single node):
# the copy of the rows and the removal of the coordinator's local copy fire no trigger (the events' TRUNCATE
# trigger would rescore the leads through their shards before the nodes have the configuration)
"$CITUS_BIN/createdb" -h "$CITUS_SOCK" -p $SINGLE -U postgres with_rows
citus_psql $SINGLE -d with_rows -c "CREATE EXTENSION citus" -c "SELECT citus_set_coordinator_host('$CITUS_SOCK', $SINGLE)" \
	-c "SELECT citus_set_node_property('$CITUS_SOCK', $SINGLE, 'shouldhaveshards', true)" \
	-c "CREATE EXTENSION lead_scoring" -f "$here/citus/schema.sql" -f "$here/citus/attach.sql" >/dev/null 2>&1
citus_psql $SINGLE -d with_rows -c "SET lead_scoring.now = '2026-01-05 12:00+00'" \
	-c "INSERT INTO crm.leads (id, email, phone, company_size, created_at) SELECT g, 'p' || g || '@example.com', '+1 555 0100', 60, '2026-01-01' FROM generate_series(1, 8) g" \
	-c "INSERT INTO crm.events (id, lead_id, event_type, occurred_at, url) SELECT g, 1 + g % 8, 'page_view', '2026-01-05 10:00+00', '/pricing' FROM generate_series(1, 16) g" >/dev/null
citus_psql $SINGLE -d with_rows -At -c "SELECT id, score, stage FROM crm.leads ORDER BY id" >"$OUT/with_rows.before"
if citus_psql $SINGLE -d with_rows -c "SET client_min_messages = warning" -c "SELECT lead_scoring.citus_setup()" >"$OUT/with_rows.setup" 2>&1; then
	citus_psql $SINGLE -d with_rows -At -c "SELECT id, score, stage FROM crm.leads ORDER BY id" >"$OUT/with_rows.after"
	if [ "$(awk -F'|' '$2 > 30' "$OUT/with_rows.before" | wc -l)" = 8 ] && cmp -s "$OUT/with_rows.before" "$OUT/with_rows.after"; then
		ok "citus_setup() distributes leads already scored from their events, scores kept"
	else
		fail "citus_setup() with rows: scores before and after differ (or were not scored): $(paste -d' ' "$OUT/with_rows.before" "$OUT/with_rows.after" | tr '\n' ' ')"
	fi
else
	fail "citus_setup() on tables holding scored leads: $(grep -m1 ERROR "$OUT/with_rows.setup")"
fi

[ -s "$OUT/plain.history" ] && grep -c 'Asynchronous notification' "$OUT/plain.history" | sed 's/^/handoff notifications on plain PostgreSQL: /'

[ $failed -eq 0 ] || { echo "logs: $CITUS_DIR (LS_KEEP=1 keeps them)"; exit 1; }
echo "ok: Citus suite"
