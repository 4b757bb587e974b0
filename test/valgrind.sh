#!/usr/bin/env bash
# test/valgrind.sh — the regression suite (sql/*.sql) once under valgrind (memcheck), against a
# throwaway cluster whose server processes all run under valgrind.  Not part of test/run.sh (about
# 20 times slower); run it after changing C code:
#   PG_CONFIG=/path/to/pg_config bash test/valgrind.sh          # all regression files
#   PG_CONFIG=... bash test/valgrind.sh drop user_code             # some of them
# Exits non-zero when valgrind reports an error in any backend (the logs are kept and named), or
# when a test fails.  Reports from PostgreSQL itself that are not errors of this extension are
# suppressed in test/valgrind.supp.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" >/dev/null
make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null

DIR=$(mktemp -d /tmp/ls_valgrind.XXXXXX)
LOGS=$DIR/valgrind
mkdir -p "$LOGS"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres: "$DIR" "$LOGS"
as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
PORT=${LS_VALGRIND_PORT:-5499}
cleanup() {
	as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
# the postmaster under valgrind: every backend it forks is checked too
as_pg bash -c "valgrind --quiet --trace-children=yes --track-origins=yes --error-exitcode=0 \
	--suppressions='$ROOT/test/valgrind.supp' --gen-suppressions=all --log-file='$LOGS/%p.log' \
	'$BIN/postgres' -D '$DIR/data' -k '$DIR' -p $PORT -c listen_addresses='' -c fsync=off \
	-c max_connections=20 -c shared_buffers=32MB >'$DIR/server.log' 2>&1 &"
for _ in $(seq 1 120); do
	ls "$LOGS"/*.log >/dev/null 2>&1 && grep -q "FATAL" "$LOGS"/*.log && { cat "$LOGS"/*.log; exit 1; }
	"$BIN/pg_isready" -q -h "$DIR" -p $PORT && break
	sleep 1
done
export PGHOST=$DIR PGPORT=$PORT PGUSER=postgres
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls "$ROOT"/sql/*.sql | xargs -n1 basename | sed 's/\.sql$//')
status=0
(cd "$ROOT" && "$($PG_CONFIG --pgxs | xargs dirname)/../test/regress/pg_regress" --inputdir=. \
	--outputdir="$DIR/results" --bindir="$BIN" --dbname=contrib_regression "${tests[@]}") || status=$?
as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
sleep 2
errors=$(grep -l "^==[0-9]*== [A-Z]" "$LOGS"/*.log 2>/dev/null || true)
if [ -n "$errors" ]; then
	echo "valgrind reported errors; logs:"
	echo "$errors"
	grep -h -A30 "^==[0-9]*== [A-Z]" $errors | head -120
	trap - EXIT
	exit 1
fi
[ $status -eq 0 ] || { echo "regression tests failed under valgrind: $DIR/results/regression.diffs"; trap - EXIT; exit 1; }
echo "valgrind: no errors in $(ls "$LOGS" | wc -l) processes, ${#tests[@]} regression files"
rm -rf "$DIR"
