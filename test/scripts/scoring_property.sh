#!/usr/bin/env bash
# Property test of stored scores: a seeded random CRM driven by a random mix of writes and rule
# changes (see scoring_property.sql), for several seeds, lead id types and with or without decay;
# then concurrent writers (three sessions of random operations, one refreshing online and
# changing rules) on the same database, after which a refresh must leave every score exact
# (LS_PROPERTY_ROUNDS rounds of them, default 1).
# Needs a running cluster (PGHOST/PGPORT, as test/run.sh provides) with lead_scoring installed.
# LS_PROPERTY_RUNS: the runs to make (default: all five below); LS_PROPERTY_FROM: a released version to
# install and upgrade from after attaching (test/scripts/upgrade.sh); LS_PROPERTY_HOOKS: a file sourced
# here that may redefine create_db and add psql variables to sql_vars (test/scripts/citus_property.sh runs
# the test on a Citus cluster this way).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=ls_scoring_property${LS_PROPERTY_FROM:+_upgrade}
ops=$(mktemp /tmp/ls_property_ops.XXXXXX)
out=$(mktemp /tmp/ls_property_out.XXXXXX)
conc=$(mktemp -d /tmp/ls_property_conc.XXXXXX)
trap 'rm -rf "$ops" "$out" "$conc"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT

failed=0
# (re)create the database of a run
create_db() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
}
sql_vars=()
# shellcheck disable=SC1090
[ -n "${LS_PROPERTY_HOOKS:-}" ] && source "$LS_PROPERTY_HOOKS"
# seed, id type, decay
runs=${LS_PROPERTY_RUNS:-"0.11 bigint off,0.42 text off,0.73 uuid on,0.97 integer off,0.25 bigint on"}
from=()
[ -n "${LS_PROPERTY_FROM:-}" ] && from=(-v from_version="$LS_PROPERTY_FROM")
IFS=, read -ra runs <<<"$runs"
for run in "${runs[@]}"; do
	set -- $run
	create_db
	if ! psql -X -q -d "$db" -v seed="$1" -v idtype="$2" -v decay="$3" -v nops="${LS_PROPERTY_OPS:-150}" \
		-v opsfile="$ops" "${from[@]}" "${sql_vars[@]}" -f "$here/scoring_property.sql" >"$out" 2>&1; then
		echo "seed $1 ($2, decay $3): the run failed"
		tail -20 "$out"
		failed=1
		continue
	fi
	# stale scores without refresh (no-decay runs, after every operation), after refresh_scores(),
	# leads checked against the SQL oracle, scores and explain sums that differ from it
	read -r tag a b checked d e <<<"$(grep '^RESULT' "$out")"
	echo "seed $1 ($2, decay $3): $(grep -A2 'scores_vary' "$out" | tail -1 | tr -s ' ')| stale without refresh $a, after refresh $b, checked $checked against the oracle: $d scores and $e explain sums differ"
	# a hook may list seeds whose comparison with the oracle is known to differ (oracle_pending: reported,
	# not failed, and failing once it matches)
	if [[ " ${oracle_pending:-} " == *" $1 "* ]]; then
		if [ "$d" != 0 ] || [ "$e" != 0 ]; then
			echo "  pending: the comparison with the oracle differs (a known difference, not failed here)"
			d=0 e=0
		else
			echo "  FAILED: the comparison with the oracle now matches: take seed $1 off oracle_pending"
			failed=1
		fi
	fi
	if [ "$tag" != RESULT ] || [ "$a" != 0 ] || [ "$b" != 0 ] || [ "$d" != 0 ] || [ "$e" != 0 ] || [ "$checked" -lt 300 ]; then
		echo "  FAILED"
		grep -E 'stale_without_refresh|ERROR' "$out" || true
		failed=1
	fi

	# concurrent writers: three sessions of random operations (lead inserts and deletes among them),
	# a fourth refreshing online in small batches and changing rules (points, and rules switched
	# off and on, which renumbers the rules the writers loaded); deadlocks between the application's
	# own statements may abort some of them (their errors are ignored), the scores must be exact
	# afterwards whatever ran.  LS_PROPERTY_ROUNDS: how many such rounds, each with other operations.
	for round in $(seq 1 "${LS_PROPERTY_ROUNDS:-1}"); do
		for w in 1 2 3; do
			psql -X -q -At -d "$db" \
				-c "SELECT setseed(($1 * 1000 + $round * 7 + $w) / 100000.0); SELECT gen_op('$3', 1) FROM generate_series(1, 60)" \
				| grep -v '^$' >"$conc/ops$w.sql"
		done
		{
			for i in 1 2 3 4 5 6; do
				echo "CALL lead_scoring.refresh_online(batch_size => 25);"
				echo "UPDATE lead_scoring.rule SET points = points + $((i % 3 - 1)) WHERE rule_id % 4 = $(((i + round) % 4));"
				echo "UPDATE lead_scoring.rule SET active = NOT active WHERE rule_id % 7 = $(((i + round) % 7));"
			done
		} >"$conc/ops4.sql"
		for w in 1 2 3 4; do
			psql -X -q -d "$db" -v ON_ERROR_STOP=0 -f "$conc/ops$w.sql" >"$conc/out$w" 2>&1 &
		done
		wait
		# deadlocks and rows moved to another partition by a concurrent UPDATE are the application's
		# own concurrency errors (on Citus, deadlocks across nodes too): retried by applications, not counted here
		conflicts='deadlock detected|already moved to another partition due to concurrent update|involved in a distributed deadlock|check at commit waited too long for a lock'
		errors=$(grep -h 'ERROR' "$conc"/out* | grep -vcE "$conflicts" || true)
		deadlocks=$(grep -h 'ERROR' "$conc"/out* | grep -cE "$conflicts" || true)
		stale=$(psql -X -q -At -d "$db" -c "BEGIN" -c "SELECT lead_scoring.refresh_scores() >= 0" \
			-c "SELECT count(*) FROM leads WHERE score <> lead_scoring.score(id)" -c "COMMIT" | sed -n 2p)
		echo "seed $1 ($2, decay $3), concurrent round $round: $stale scores differ after refresh_scores(); errors other than deadlocks: $errors ($deadlocks deadlocks or moved rows)"
		if [ "$stale" != 0 ] || [ "$errors" != 0 ]; then
			echo "  FAILED"
			grep -h 'ERROR' "$conc"/out* | grep -vE "$conflicts" | head -5 || true
			psql -X -q -d "$db" -c "SELECT id, score, lead_scoring.score(id), xmin, lead_scoring_state FROM leads WHERE score <> lead_scoring.score(id)"
			failed=1
			break
		fi
	done
done
exit $failed
