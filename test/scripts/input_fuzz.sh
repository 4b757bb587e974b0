#!/usr/bin/env bash
# Bounded mutation fuzz of every input function and rule value (test/scripts/input_fuzz.sql): a few
# seeds, LS_FUZZ_N mutations per seed input (default 150; about 20 s).  Fails on an internal error
# (SQLSTATE class XX), a round trip that does not hold, a stale score, or a server crash.
# A longer run: LS_FUZZ_N=2000 LS_FUZZ_SEEDS="0.1 0.2 0.3 0.4" bash test/scripts/input_fuzz.sh
# Needs a running cluster (PGHOST/PGPORT, as test/run.sh provides) with lead_scoring installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
db=ls_input_fuzz
out=$(mktemp /tmp/ls_input_fuzz.XXXXXX)
copyfile=/tmp/ls_input_fuzz_copy.$$
trap 'rm -f "$out" "$copyfile"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
failed=0
for seed in ${LS_FUZZ_SEEDS:-0.17 0.58}; do
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	if ! PGOPTIONS="-c fuzz.n=${LS_FUZZ_N:-150} -c fuzz.copyfile=$copyfile" \
		psql -X -q -d "$db" -v seed="$seed" -f "$here/input_fuzz.sql" >"$out" 2>&1; then
		echo "seed $seed: the run failed"
		tail -20 "$out"
		failed=1
		continue
	fi
	bad=$(grep -E '^ *VERDICT' "$out" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
	echo "seed $seed: $(grep -c '' "$out") lines, bad outcomes: ${bad:-?}"
	sed -n '/target/,/rows)/p' "$out"
	if [ "${bad:-1}" != 0 ]; then
		failed=1
	fi
done
psql -X -q -d postgres -c 'SELECT 1' >/dev/null || { echo "the server is down"; failed=1; }
exit $failed
