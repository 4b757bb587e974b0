#!/usr/bin/env bash
# refresh_scores() outside a transaction block runs its walk in a background worker that commits
# after each batch (doc/scoring.md, "Decay: the refresh"; src/refresh_worker.c):
# - a single-row write to a lead the running refresh has already rewritten does not wait for the
#   rest of the walk (its lock_timeout bounds the wait); inside BEGIN ... COMMIT it does wait;
# - the result: every stored score equals score() at the caller's lead_scoring.now;
# - an error in the worker (a CHECK constraint violated by a rewrite) reaches the caller with its
#   SQLSTATE; the batches before it stay committed;
# - the caller's statement_timeout ends the worker, and the caller returns once it is gone;
# - the worker takes the caller's settings (lead_scoring.now, actor, reason);
# - it is in the caller's lock group: whoever holds a row it waits for is seen blocking the caller;
# - without a free background worker slot (max_worker_processes = 0, a cluster of its own), the
#   walk runs in the caller's transaction: a writer waits for the whole walk.
# The walk is slowed down by a BEFORE trigger sleeping on one lead of the last batch (4500 of 5000
# leads, 2000 per batch).  Needs a running cluster (PGHOST/PGPORT, as test/run.sh provides).
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
DB=ls_refresh_worker
WORK=$(mktemp -d /tmp/ls_refresh_worker.XXXXXX)
OWN_PGDIR=
cleanup() {
	# background sessions of this script, by their pids
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	if [ -n "$OWN_PGDIR" ]; then
		as_pg "$BIN/pg_ctl" -D "$OWN_PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$OWN_PGDIR"
	fi
	"$BIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql() { command "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -d $DB "$@"; }
q() { psql -At -c "$1"; }
failed=0
check() { # name, actual, expected
	if [ "$2" = "$3" ]; then
		echo "ok: $1"
	else
		echo "FAILED: $1: got '$2', expected '$3'"
		failed=1
	fi
}
# until a session of the database sleeps in the slow-down trigger (at most 60 s)
wait_sleeping() {
	local i
	for i in $(seq 1 300); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB' AND wait_event = 'PgSleep'")" -ge 1 ] && return 0
		sleep 0.2
	done
	echo "FAILED: the refresh never reached the slowed-down lead"
	exit 1
}
workers() { q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lead_scoring refresh'"; }
exact() { # the leads whose stored score is score() at the time given, in a range of ids
	q "SET lead_scoring.now = '$1'; SELECT count(*) FILTER (WHERE score = lead_scoring.score(id)) FROM leads WHERE id BETWEEN ${2:-1} AND ${3:-5000}"
}

setup_db() {
	"$BIN/psql" -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
	psql <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION lead_scoring;
SET lead_scoring.now = '2026-03-01 12:00+00';
CREATE TABLE leads (id bigint PRIMARY KEY, email text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL);
SELECT lead_scoring.attach_leads('leads') \g /dev/null
SELECT lead_scoring.attach_events('events') \g /dev/null
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_points, half_life)
     VALUES ('visits', 'engagement', 'visit', 10, 1000, '2 days');
INSERT INTO leads SELECT g, 'lead' || g || '@example.com' FROM generate_series(1, 5000) g;
INSERT INTO events (lead_id, event_type, occurred_at)
     SELECT g, 'visit', '2026-03-01 00:00+00' FROM generate_series(1, 5000) g, generate_series(1, 5);
-- the slow-down: a BEFORE trigger that sleeps when the refresh rewrites lead 4500 (third batch)
CREATE TABLE slow (lead bigint PRIMARY KEY, seconds float8 NOT NULL);
CREATE FUNCTION slow_down() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN PERFORM pg_catalog.pg_sleep(s.seconds) FROM public.slow s WHERE s.lead = NEW.id; RETURN NEW; END$$;
CREATE TRIGGER a_slow_down BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION slow_down();
SQL
}
# one visit for lead 1 at the time given, as a writer whose lock wait is bounded by 2 s
write_lead_1() {
	psql -c "SET lead_scoring.now = '$1'" -c "SET lock_timeout = '2s'" \
		-c "INSERT INTO events (lead_id, event_type, occurred_at) VALUES (1, 'visit', '$1')" 2>&1 && echo written
}

setup_db

# 1. standalone: a worker walks; lead 1 (first batch, committed) is written while it sleeps
T1='2026-03-03 12:00+00'
q "INSERT INTO slow VALUES (4500, 5)"
psql -At -c "SET lead_scoring.now = '$T1'" -c "SELECT lead_scoring.refresh_scores()" >"$WORK/a.out" 2>&1 &
a=$!
wait_sleeping
check "a background worker runs the standalone refresh_scores()" "$(workers)" 1
check "a write to a lead of a committed batch does not wait for the walk" "$(write_lead_1 "$T1" | tail -1)" written
wait $a || true
check "refresh_scores() returns the leads it rewrote" "$(cat "$WORK/a.out")" 5000
check "every stored score is score() at the caller's lead_scoring.now" "$(exact "$T1")" 5000
check "the worker is gone" "$(workers)" 0

# 2. inside BEGIN ... COMMIT: the walk runs in the caller's transaction, locks last until COMMIT
T2='2026-03-05 12:00+00'
psql -At -c "BEGIN" -c "SET LOCAL lead_scoring.now = '$T2'" -c "SELECT lead_scoring.refresh_scores()" \
	-c "COMMIT" >"$WORK/b.out" 2>&1 &
a=$!
wait_sleeping
check "no worker inside a transaction block" "$(workers)" 0
out=$(write_lead_1 "$T2" || true)
check "in a transaction block, a write to a rewritten lead waits (lock_timeout)" \
	"$(grep -c 'canceling statement due to lock timeout' <<<"$out")" 1
wait $a || true
check "refresh_scores() in a transaction block returns the leads it rewrote" "$(head -1 "$WORK/b.out")" 5000
check "after it, every stored score is score()" "$(exact "$T2")" 5000

# 3. an error in the worker: a CHECK constraint that rewrites after the first batch violate
T3='2026-03-07 12:00+00'
q "UPDATE slow SET seconds = 0"
q "ALTER TABLE leads ADD CONSTRAINT refresh_stops CHECK (id <= 2000 OR score = 999) NOT VALID"
out=$(psql -v VERBOSITY=verbose -c "SET lead_scoring.now = '$T3'" -c "SELECT lead_scoring.refresh_scores()" 2>&1 || true)
check "the worker's error reaches the caller with its SQLSTATE" \
	"$(grep -c 'ERROR:  23514: new row for relation "leads" violates check constraint "refresh_stops"' <<<"$out")" 1
check "the batch before the error is committed" "$(exact "$T3" 1 2000)" 2000
check "the leads after it are not" "$(exact "$T3" 2001 5000)" 0
q "ALTER TABLE leads DROP CONSTRAINT refresh_stops"

# 4. the caller's statement_timeout ends the worker; the caller returns once the worker is gone
T4='2026-03-09 12:00+00'
q "UPDATE slow SET seconds = 60"
start=$(date +%s)
out=$(psql -c "SET lead_scoring.now = '$T4'" -c "SET statement_timeout = '3s'" \
	-c "SELECT lead_scoring.refresh_scores()" 2>&1 || true)
check "statement_timeout cancels refresh_scores()" \
	"$(grep -c 'canceling statement due to statement timeout' <<<"$out")" 1
check "the worker is gone when the caller returns" "$(workers)" 0
check "the caller did not wait for the slowed-down lead" "$([ $(($(date +%s) - start)) -lt 30 ] && echo yes)" yes
q "UPDATE slow SET seconds = 0"
q "SET lead_scoring.now = '$T4'; SELECT lead_scoring.refresh_scores()" >/dev/null
check "a refresh after the cancel leaves every score exact" "$(exact "$T4")" 5000

# 5. the caller's other settings: lead_scoring.actor and reason in the stage log of the worker's
# promotions (a rule change lifts every score over the mql threshold)
q "INSERT INTO lead_scoring.threshold VALUES ('mql', 20)"
q "UPDATE lead_scoring.rule SET points = 100"
psql -c "SET lead_scoring.now = '$T4'" -c "SET lead_scoring.actor = 'decay job'" \
	-c "SET lead_scoring.reason = 'nightly refresh'" -c "SELECT lead_scoring.refresh_scores()" >/dev/null
check "the worker's stage changes carry the caller's lead_scoring.actor and reason" \
	"$(q "SELECT count(*) FILTER (WHERE actor = 'decay job' AND reason = 'nightly refresh') || '/' || count(*)
	        FROM lead_scoring.stage_change WHERE to_stage = 'mql'")" 5000/5000

# 6. the worker is in the caller's lock group: a session holding a row the worker waits for is
# seen blocking the caller (pg_blocking_pids(), which the isolation tester and monitoring use)
T6='2026-03-11 12:00+00'
PGAPPNAME=holder psql -c "BEGIN" -c "SELECT id FROM leads WHERE id = 4600 FOR UPDATE" -c "SELECT pg_sleep(8)" \
	-c "COMMIT" >/dev/null &
h=$!
sleep 1
PGAPPNAME=refresher psql -At -c "SET lead_scoring.now = '$T6'" -c "SELECT lead_scoring.refresh_scores()" >"$WORK/f.out" 2>&1 &
a=$!
for i in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'lead_scoring refresh' AND wait_event_type = 'Lock'")" -ge 1 ] && break
	sleep 0.1
done
check "the session holding a row the worker waits for blocks the caller" \
	"$(q "SELECT count(*) FROM pg_stat_activity r, pg_stat_activity h
	       WHERE r.application_name = 'refresher' AND r.backend_type = 'client backend'
	         AND h.application_name = 'holder'
	         AND h.pid = ANY (pg_blocking_pids(r.pid))")" 1
wait $h $a || true
check "after the holder commits, the refresh ends exact" "$(exact "$T6")" 5000

# 7. no free background worker slot: a cluster of its own with max_worker_processes = 0
"$BIN/psql" -X -q -d postgres -c "DROP DATABASE $DB"
OWN_PGDIR=$(mktemp -d /tmp/ls_refresh_worker_pg.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres: "$OWN_PGDIR"
as_pg "$BIN/initdb" -D "$OWN_PGDIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$BIN/pg_ctl" -D "$OWN_PGDIR/data" -l "$OWN_PGDIR/server.log" -w \
	-o "-k $OWN_PGDIR -p 5499 -c listen_addresses='' -c fsync=off -c max_worker_processes=0" start >/dev/null
export PGHOST=$OWN_PGDIR PGPORT=5499 PGUSER=postgres
setup_db
q "INSERT INTO slow VALUES (4500, 4)"
psql -At -c "SET lead_scoring.now = '$T1'" -c "SELECT lead_scoring.refresh_scores()" >"$WORK/e.out" 2>&1 &
a=$!
wait_sleeping
out=$(write_lead_1 "$T1" || true)
check "without a worker slot, a write to a rewritten lead waits for the whole walk" \
	"$(grep -c 'canceling statement due to lock timeout' <<<"$out")" 1
wait $a || true
check "without a worker slot, refresh_scores() returns the leads it rewrote" "$(cat "$WORK/e.out")" 5000
check "without a worker slot, every stored score is score()" "$(exact "$T1")" 5000

[ $failed -eq 0 ] && echo "all passed"
exit $failed
