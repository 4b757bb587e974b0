#!/usr/bin/env bash
# bench/citus.sh — lead_scoring on a Citus coordinator with two workers against lead_scoring on one plain
# PostgreSQL node, same CRM and configuration (test/scripts/citus/), measured side by side in one run with the
# two alternated, printed as ratios (doc/benchmarks.md, "Citus").  All three Citus nodes and the plain node
# run on this machine, so the ratio measures what distribution costs per write (routing, the shard-local
# triggers, two-phase commit), not what more machines would add.
#
#   1 single-row event inserts: pgbench -c 2 -j 2, tps on the cluster / tps on one node
#   2 COPY of events for existing leads: time on the cluster / time on one node
#
# Needs Citus installed for $PG_CONFIG (../shared/tools/build-citus.sh).  Environment:
#   BENCH_SCALE=1      2,000 leads with 20 events each, 50,000 events per COPY, 10 s per pgbench run
#   BENCH_ROUNDS=3     rounds (the two variants alternate within each round)
#   LS_KEEP=1          keep the clusters' directory afterwards
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
source "$here/../test/scripts/citus/nodes.sh"
citus_installed || { echo "Citus is not installed for $PG_CONFIG (bash ../shared/tools/build-citus.sh)"; exit 1; }
trap citus_stop_all EXIT

scale=${BENCH_SCALE:-1}
rounds=${BENCH_ROUNDS:-3}
leads=$(awk -v s="$scale" 'BEGIN { printf "%d", 2000 * s }')
history=$((leads * 20))
copy_rows=$(awk -v s="$scale" 'BEGIN { printf "%d", 50000 * s }')
seconds=$(awk -v s="$scale" 'BEGIN { d = int(10 * s + 0.5); print (d < 2 ? 2 : d) }')
PLAIN=6501 COORD=6511 W1=6512 W2=6513
opts="-c shared_buffers=128MB -c max_wal_size=4GB -c checkpoint_timeout=1h"
log() { printf '== %s\n' "$*" >&2; }

log "scale $scale: $leads leads, $history events of history, COPY of $copy_rows events, $rounds rounds"
citus_start plain $PLAIN "$opts"
citus_start coord $COORD "$opts"
citus_start w1 $W1 "$opts"
citus_start w2 $W2 "$opts"
for p in $COORD $W1 $W2; do citus_psql $p -c "CREATE EXTENSION citus" >/dev/null; done
citus_psql $COORD -c "SELECT citus_set_coordinator_host('$CITUS_SOCK', $COORD)" \
	-c "SELECT citus_add_node('$CITUS_SOCK', $W1)" -c "SELECT citus_add_node('$CITUS_SOCK', $W2)" >/dev/null
for p in $PLAIN $COORD; do
	citus_psql $p -c "CREATE EXTENSION lead_scoring" >/dev/null
	citus_psql $p -f "$here/../test/scripts/citus/schema.sql" >/dev/null
	citus_psql $p -f "$here/../test/scripts/citus/attach.sql" >/dev/null 2>&1
	citus_psql $p -c "SET client_min_messages = warning" -c "SET lead_scoring.now = '2026-01-01'" \
		-c "INSERT INTO crm.leads (id, email, phone, company_size, owner, created_at)
		    SELECT i, 'lead' || i || '@example.com', NULL, i % 200, 'alice', '2026-01-01' FROM generate_series(1, $leads) i" >/dev/null
done
citus_psql $COORD -c "SET client_min_messages = warning" -c "SELECT lead_scoring.citus_setup()" >/dev/null
for p in $PLAIN $COORD; do
	citus_psql $p -c "SET citus.propagate_set_commands = 'local'" -c "BEGIN" -c "SET LOCAL lead_scoring.now = '2026-01-01'" \
		-c "INSERT INTO crm.events (id, lead_id, event_type, occurred_at, channel, url)
		    SELECT i, 1 + i % $leads, (ARRAY['page_view', 'webinar', 'ad_click', 'page_view'])[1 + i % 4],
		           '2025-12-01'::timestamptz + i * interval '1 second', 'seo', '/pricing'
		      FROM generate_series(1, $history) i" -c "COMMIT" >/dev/null
done

cat >"$CITUS_DIR/insert.sql" <<EOF
\\set lead random(1, $leads)
\\set id random(1000000000, 9000000000000)
INSERT INTO crm.events (id, lead_id, event_type, occurred_at, channel, url)
VALUES (:id, :lead, 'page_view', now(), 'seo', '/pricing');
EOF
declare -A total
ms() { # milliseconds of the COPY on a port
	citus_psql "$1" -c '\timing on' -c "\\copy crm.events FROM '$2' WITH (FORMAT csv)" |
		awk '/^Time:/ { t = $2 } END { print t }'
}
for ((r = 1; r <= rounds; r++)); do
	order="$PLAIN $COORD"
	[ $((r % 2)) = 0 ] && order="$COORD $PLAIN"
	for p in $order; do
		tps=$("$CITUS_BIN/pgbench" -n -h "$CITUS_SOCK" -p "$p" -U postgres -c 2 -j 2 -T "$seconds" \
			-f "$CITUS_DIR/insert.sql" postgres 2>&1 | awk '/^tps = / { print $3; exit }')
		log "round $r inserts on $([ $p = $PLAIN ] && echo 'one node' || echo 'cluster'): $tps tps"
		echo "inserts $p $r $tps" >>"$CITUS_DIR/results"
	done
	# each round's COPY brings new event ids for the existing leads
	awk -v n="$copy_rows" -v l="$leads" -v r="$r" 'BEGIN { for (i = 1; i <= n; i++)
		printf "%d,%d,page_view,2026-01-02 00:00:00+00,seo,,/pricing\n", 100000000 * r + i, 1 + i % l }' \
		>"$CITUS_DIR/copy_$r.csv"
	chmod a+r "$CITUS_DIR/copy_$r.csv"
	for p in $order; do
		t=$(ms "$p" "$CITUS_DIR/copy_$r.csv")
		log "round $r COPY on $([ $p = $PLAIN ] && echo 'one node' || echo 'cluster'): $t ms"
		echo "copy $p $r $t" >>"$CITUS_DIR/results"
	done
done

# per round: cluster / one node; the median of the rounds
awk -v plain=$PLAIN -v coord=$COORD '
	{ v[$1, $2, $3] = $4; rounds[$3] = 1 }
	function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	END {
		n = 0; for (r in rounds) { n++; ins[n] = v["inserts", coord, r] / v["inserts", plain, r]; cp[n] = v["copy", coord, r] / v["copy", plain, r] }
		printf "single-row event inserts, tps on coordinator + 2 workers / one node: %.2f (median of %d rounds)\n", median(ins, n), n
		printf "COPY of events, time on coordinator + 2 workers / one node: %.2f (median of %d rounds)\n", median(cp, n), n
	}' "$CITUS_DIR/results"
