#!/usr/bin/env bash
# Property test of stored scores: a seeded random CRM driven by a random mix of writes and rule
# changes (see scoring_property.sql), for several seeds, lead id types and with or without decay.
# Needs a running cluster (PGHOST/PGPORT, as test/run.sh provides) with lead_scoring installed.
# LS_PROPERTY_RUNS: the runs to make (default: all five below); LS_PROPERTY_FROM: a released version to
# install and upgrade from after attaching (test/scripts/upgrade.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=ls_scoring_property${LS_PROPERTY_FROM:+_upgrade}
ops=$(mktemp /tmp/ls_property_ops.XXXXXX)
out=$(mktemp /tmp/ls_property_out.XXXXXX)
trap 'rm -f "$ops" "$out"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT

failed=0
# seed, id type, decay
runs=${LS_PROPERTY_RUNS:-"0.11 bigint off,0.42 text off,0.73 uuid on,0.97 integer off,0.25 bigint on"}
from=()
[ -n "${LS_PROPERTY_FROM:-}" ] && from=(-v from_version="$LS_PROPERTY_FROM")
IFS=, read -ra runs <<<"$runs"
for run in "${runs[@]}"; do
	set -- $run
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	if ! psql -X -q -d "$db" -v seed="$1" -v idtype="$2" -v decay="$3" -v nops="${LS_PROPERTY_OPS:-150}" \
		-v opsfile="$ops" "${from[@]}" -f "$here/scoring_property.sql" >"$out" 2>&1; then
		echo "seed $1 ($2, decay $3): the run failed"
		tail -20 "$out"
		failed=1
		continue
	fi
	# stale scores without refresh (no-decay runs, after every operation), after refresh_scores(),
	# leads checked against the SQL oracle, scores and explain sums that differ from it
	read -r tag a b checked d e <<<"$(grep '^RESULT' "$out")"
	echo "seed $1 ($2, decay $3): $(grep -A2 'scores_vary' "$out" | tail -1 | tr -s ' ')| stale without refresh $a, after refresh $b, checked $checked against the oracle: $d scores and $e explain sums differ"
	if [ "$tag" != RESULT ] || [ "$a" != 0 ] || [ "$b" != 0 ] || [ "$d" != 0 ] || [ "$e" != 0 ] || [ "$checked" -lt 300 ]; then
		echo "  FAILED"
		grep -E 'stale_without_refresh|ERROR' "$out" || true
		failed=1
	fi
done
exit $failed
