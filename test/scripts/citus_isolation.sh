#!/usr/bin/env bash
# Isolation specs on a Citus cluster (doc/scale-out.md, "Concurrency"): a coordinator and two workers on
# one machine (test/scripts/citus/nodes.sh), the CRM of the Citus suite distributed and attached, then
# pg_isolation_regress runs test/scripts/citus/specs/*.spec against the coordinator.
#
# isolationtester finds a blocked step by asking its server whether the session's backend waits for one of
# the other sessions' backends (pg_isolation_test_session_is_blocked).  On Citus the triggers run on the
# workers, where the waits are: the coordinator's backend only waits for its workers' results.  As
# Citus's own isolation tests do, the run first swaps that function for Citus's
# (citus_internal.replace_isolation_tester_func(): citus_isolation_test_session_is_blocked, which also
# looks at the distributed wait graph, on every node), so a step waiting on a worker shows as waiting.
#
# Reports itself skipped when Citus is not installed for $PG_CONFIG.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
source "$here/citus/nodes.sh"
citus_require
REGRESS=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress

COORD=6331 W1=6332 W2=6333
citus_start coord $COORD "-c citus.shard_count=4"
citus_start w1 $W1
citus_start w2 $W2
for p in $COORD $W1 $W2; do citus_psql $p -c "CREATE EXTENSION citus" >/dev/null; done
citus_psql $COORD -c "SELECT citus_set_coordinator_host('$CITUS_SOCK', $COORD)" \
	-c "SELECT citus_add_node('$CITUS_SOCK', $W1)" -c "SELECT citus_add_node('$CITUS_SOCK', $W2)" >/dev/null
citus_psql $COORD -c "CREATE EXTENSION lead_scoring" >/dev/null
citus_psql $COORD -f "$here/citus/schema.sql" >/dev/null
citus_psql $COORD -f "$here/citus/distribute.sql" >/dev/null
citus_psql $COORD -c "SET citus.enable_unsafe_triggers = on" -c "SET citus.multi_shard_modify_mode = sequential" \
	-f "$here/citus/attach.sql" >/dev/null 2>&1
citus_psql $COORD -c "SET client_min_messages = warning" -c "SELECT lead_scoring.citus_setup()" >/dev/null

# the placement the specs are written for: which leads share a shard, and which worker holds it
placement=$(citus_psql $COORD -At -c "
	SELECT string_agg(g.ids || '@' || g.port, ' ' ORDER BY g.ids)
	  FROM (SELECT string_agg(i::text, ',' ORDER BY i) AS ids, min(s.nodeport) AS port
	          FROM generate_series(1, 16) i
	          JOIN citus_shards s ON s.shardid = get_shard_id_for_distribution_column('crm.leads', i)
	         GROUP BY s.shardid) g")
want="1,5,8,10,15@$W1 2,9,11,12@$W2 3,4,7,14,16@$W2 6,13@$W1"
if [ "$placement" != "$want" ]; then
	echo "FAILED: the leads are not placed as the specs expect: $placement (expected $want)"
	exit 1
fi

# isolationtester's wait check sees the waits on the workers (as in Citus's own isolation runs)
citus_psql $COORD -c "SELECT citus_internal.replace_isolation_tester_func()" >/dev/null

specs=$(cd "$here/citus/specs" && ls ./*.spec | sed 's|^\./||; s|\.spec$||')
status=0
# shellcheck disable=SC2086
"$REGRESS" --use-existing --dbname=postgres --host="$CITUS_SOCK" --port=$COORD --user=postgres \
	--bindir="$CITUS_BIN" --inputdir="$here/citus" --outputdir="$CITUS_DIR/isolation" $specs || status=$?
if [ $status -ne 0 ]; then
	cat "$CITUS_DIR/isolation/regression.diffs" 2>/dev/null || true
	echo "logs: $CITUS_DIR (LS_KEEP=1 keeps them)"
	exit 1
fi
echo "ok: Citus isolation specs"
