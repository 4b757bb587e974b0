#!/usr/bin/env bash
# Worker caches under configuration changes (doc/scale-out.md, "What is left"): on a coordinator with two
# workers, four sessions write events (counted and uncounted) for leads on every shard while a fifth changes
# the configuration without pause (each change reaches every worker and invalidates the caches of every
# backend there) and a sixth analyzes the tables (each ANALYZE invalidates the shards, so the triggers look
# their shards up again).  Every write must succeed: a worker's copy of an attachment for a shard made from a
# build of the attachment cache older than the one it was cached with pointed into freed memory, and the
# queries built from it failed ("syntax error at or near \"\"") within seconds here.  Afterwards every stored
# score equals score() after refresh_scores().
#
# Reports itself skipped when Citus is not installed for $PG_CONFIG.  LS_STRESS_WRITES: writes per session
# (default 1500).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
source "$here/citus/nodes.sh"
citus_require

COORD=6351 W1=6352 W2=6353
citus_start coord $COORD "-c citus.shard_count=8"
citus_start w1 $W1
citus_start w2 $W2
citus_crm_cluster $COORD $W1 $W2
citus_psql $COORD -c "INSERT INTO crm.leads (id, email, company_size, owner, created_at)
	SELECT i, 'lead' || i || '@example.com', i, 'alice', '2026-02-01 08:00+00' FROM generate_series(1, 64) i" >/dev/null

cat >"$CITUS_DIR/write.sql" <<'SQL'
\set id random(1, 2000000000)
\set lead random(1, 64)
\set k random(1, 3)
INSERT INTO crm.events (id, lead_id, event_type, occurred_at)
VALUES (:id, :lead, (ARRAY['webinar', 'noise', 'page_view'])[:k], now() - interval '1 hour');
SQL
echo "UPDATE lead_scoring.threshold SET min_score = min_score WHERE stage = 'mql';" >"$CITUS_DIR/configure.sql"
printf 'ANALYZE crm.leads;\nANALYZE crm.events;\n' >"$CITUS_DIR/analyze.sql"
bench() {
	"$CITUS_BIN/pgbench" -n -h "$CITUS_SOCK" -p $COORD -U postgres "$@" postgres
}
version() { citus_psql $COORD -At -c "SELECT version FROM lead_scoring.config_replica"; }
first=$(version)
bench -T 600 -c 1 -f "$CITUS_DIR/configure.sql" >"$CITUS_DIR/configure.out" 2>&1 &
configure=$!
bench -T 600 -c 1 -f "$CITUS_DIR/analyze.sql" >"$CITUS_DIR/analyze.out" 2>&1 &
analyze=$!
status=0
bench -t "${LS_STRESS_WRITES:-1500}" -c 4 -j 2 -f "$CITUS_DIR/write.sql" >"$CITUS_DIR/write.out" 2>&1 || status=$?
kill "$configure" "$analyze" 2>/dev/null || true
wait "$configure" "$analyze" 2>/dev/null || true
written=$(awk '/number of transactions actually processed/ { print $6 }' "$CITUS_DIR/write.out")
changes=$(($(version) - first))
stale=$(citus_psql $COORD -At -c "BEGIN" -c "SELECT lead_scoring.refresh_scores() >= 0" \
	-c "SELECT count(*) FROM crm.leads WHERE score <> lead_scoring.score(id)" -c "ROLLBACK" | sed -n 2p)
echo "writes: ${written:-?}, configuration changes meanwhile: $changes, scores differing after refresh_scores(): $stale"
if [ $status -ne 0 ] || [ "$stale" != 0 ] || grep -q 'ERROR' "$CITUS_DIR/write.out"; then
	echo "FAILED"
	grep -h 'ERROR' "$CITUS_DIR/write.out" | sort | uniq -c | head -5
	echo "logs: $CITUS_DIR (LS_KEEP=1 keeps them)"
	exit 1
fi
echo "ok: Citus workers' caches under configuration changes"
