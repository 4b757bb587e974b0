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
citus_crm_cluster $COORD $W1 $W2

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

# The check at commit of a part of a distributed transaction, staged (doc/scale-out.md, "The check at commit
# on a shard"): a writer's part prepared on worker 1 holds events that count for no rule, for lead 1 and for
# lead 5, which does not exist yet (both on one shard of worker 1); its check at commit ran when it prepared.
# A rule that counts them commits then (a rule change reaches the workers as a part of its own distributed
# transaction, which takes no lock on the worker against that check).  Until the writer's part commits, a
# rewrite of lead 1 or an insert of lead 5 must wait for it (here: fail on lock_timeout), so that no state
# is rebuilt under the new rules without its rows; after the commit both go through, and every stored
# score equals score() after refresh_scores().  Without the wait, lead 1's state and the new lead 5's claim
# the new rules and miss the rows (stored 0 where score() gives 7).  A user's PREPARE TRANSACTION on the
# worker stands for Citus's: the coordinator prepares each part with the same command.
shard=$(citus_psql $COORD -At -c "SELECT shard_name('crm.events', get_shard_id_for_distribution_column('crm.events', 1))")
citus_psql $COORD -c "INSERT INTO crm.leads (id, email, company_size, owner, created_at)
	VALUES (1, 'lead1@example.com', 10, 'alice', '2026-02-01 08:00+00')" >/dev/null
citus_psql $W1 -c "BEGIN" -c "INSERT INTO $shard (id, lead_id, event_type, occurred_at)
	VALUES (501, 1, 'whitepaper', '2026-02-01 09:00+00'), (505, 5, 'whitepaper', '2026-02-01 09:00+00')" \
	-c "PREPARE TRANSACTION 'ls_writer_part'" >/dev/null
citus_psql $COORD -c "INSERT INTO lead_scoring.rule (name, kind, event_type, points)
	VALUES ('whitepaper', 'engagement', 'whitepaper', 7)" >/dev/null
# with the timeout of each command on worker 1 (the leads wait there)
waited() {
	PGOPTIONS="-c citus.propagate_set_commands=local" citus_psql $COORD -c "BEGIN" \
		-c "SET LOCAL lock_timeout = '1s'" -c "$1" -c "COMMIT" 2>&1 | grep -c 'lock timeout' || true
}
rewrite="UPDATE crm.leads SET owner = 'bob' WHERE id = 1"
insert="INSERT INTO crm.leads (id, email, company_size, owner, created_at)
	VALUES (5, 'lead5@example.com', 10, 'alice', '2026-02-01 08:00+00')"
waits="$(waited "$rewrite") $(waited "$insert")"
citus_psql $W1 -c "COMMIT PREPARED 'ls_writer_part'" >/dev/null
citus_psql $COORD -c "$rewrite" -c "$insert" >/dev/null 2>&1 || true
exact=$(citus_psql $COORD -At -c "BEGIN" -c "SELECT lead_scoring.refresh_scores() >= 0" \
	-c "SELECT string_agg(format('%s:%s=%s', id, score, lead_scoring.score(id)), ' ' ORDER BY id) FROM crm.leads" \
	-c "ROLLBACK" | sed -n 2p)
citus_psql $COORD -c "DELETE FROM crm.events" -c "DELETE FROM crm.deals" -c "DELETE FROM crm.leads" -c "DELETE FROM lead_scoring.rule WHERE name = 'whitepaper'" >/dev/null
if [ "$waits" != "1 1" ] || [ "$exact" != "1:7=7 5:7=7" ]; then
	echo "FAILED: the check at commit of a prepared part: rewrite and insert waited: $waits (expected 1 1);" \
		"stored:score() $exact (expected 1:7=7 5:7=7)"
	echo "logs: $CITUS_DIR (LS_KEEP=1 keeps them)"
	exit 1
fi
echo "ok: Citus isolation specs, the check at commit of a prepared part"
