#!/usr/bin/env bash
# test/run.sh — set up (packages, build, install, throwaway cluster) and run every test:
# pg_regress (sql/), isolation specs (test/specs/) and scripted tests (test/scripts/*.sh).
# Prints "N passed, M failed" and exits non-zero when anything failed.
set -euo pipefail
source "$(dirname "$0")/cluster.sh"
ls_setup
cd "$LS_ROOT"
# logs in a private directory: two runs at once on one machine must not share files
LS_LOGDIR=$(mktemp -d /tmp/ls_test_logs.XXXXXX)
trap 'rm -rf "$LS_LOGDIR"; ls_stop_cluster' EXIT

passed=0
failed=0
# Count pg_regress-style result lines of a suite's log; a suite that failed without
# reporting a failed test (it could not start, say) counts as one failure.
count() {
	local log=$1 status=$2 ok bad
	ok=$(grep -cE '\.\.\. ok' "$log" || true)
	bad=$(grep -cE '\.\.\. FAILED' "$log" || true)
	[ "$status" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
	passed=$((passed + ok))
	failed=$((failed + bad))
}
show_diffs() {
	for d in results_regress/regression.diffs results_isolation/regression.diffs; do
		[ -s "$d" ] && { echo "---- $d"; cat "$d"; }
	done
	return 0
}

ls_log "regression tests"
status=0
make -s PG_CONFIG="$PG_CONFIG" installcheck ISOLATION= >"$LS_LOGDIR/regress.log" 2>&1 || status=$?
cat "$LS_LOGDIR/regress.log"
count "$LS_LOGDIR/regress.log" $status

ls_log "isolation tests"
status=0
make -s PG_CONFIG="$PG_CONFIG" installcheck REGRESS= >"$LS_LOGDIR/isolation.log" 2>&1 || status=$?
cat "$LS_LOGDIR/isolation.log"
count "$LS_LOGDIR/isolation.log" $status

ls_log "scripted tests"
for t in test/scripts/*.sh; do
	[ -e "$t" ] || continue
	if bash "$t" >"$LS_LOGDIR/script.log" 2>&1; then
		if head -1 "$LS_LOGDIR/script.log" | grep -q '^skipped'; then
			echo "script $(basename "$t") ... $(head -1 "$LS_LOGDIR/script.log")"
			continue
		fi
		echo "script $(basename "$t") ... ok"
		passed=$((passed + 1))
	else
		echo "script $(basename "$t") ... FAILED"
		sed 's/^/    /' "$LS_LOGDIR/script.log" | tail -40
		failed=$((failed + 1))
	fi
done

[ "$failed" -eq 0 ] || show_diffs
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
