#!/usr/bin/env bash
# lead_scoring registers one relcache invalidation callback in all (src/config_cache.c), so it
# loads next to extensions that take most of the ten slots PostgreSQL gives a backend.
# The helper module test/modules/relcache_hog.c registers relcache_hog.count callbacks when
# loaded; core PostgreSQL takes two (plan cache, type cache).  With 7 taken by the hog, exactly
# one slot is left: a lead_scoring that registers two or more ends the connection with
# "FATAL: out of relcache_callback_list slots".  Every cache must still hear invalidations:
# a rule change and an attach made by another session are seen by the loaded backend.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DB=ls_relcache
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; "$BIN/dropdb" --if-exists $DB' EXIT
psql() { command "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

cp "$ROOT/test/modules/relcache_hog.c" "$ROOT/test/modules/Makefile" "$WORK/"
make -s -C "$WORK" PG_CONFIG="$PG_CONFIG" >/dev/null
chmod -R a+rX "$WORK"

"$BIN/dropdb" --if-exists $DB 2>/dev/null
"$BIN/createdb" $DB
psql -d $DB <<'SQL'
CREATE EXTENSION lead_scoring;
CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text);
CREATE TABLE crm.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                         event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now());
SQL

# one session: load the hog first, then use every cache (attachments, rules, settings, thresholds,
# transition overrides); a background writer changes the configuration between its statements
out=$(psql -d $DB -At 2>&1 <<SQL
SET client_min_messages = warning;
SET relcache_hog.count = 7;
LOAD '$WORK/relcache_hog.so';
SELECT lead_scoring.attach_leads('crm.leads') \\g /dev/null
INSERT INTO crm.leads VALUES (1, 'ann@example.com');
SELECT lead_scoring.can_transition('new', 'customer');
\! PGOPTIONS="-c client_min_messages=warning" "$BIN/psql" -X -q -d $DB -c "SELECT lead_scoring.attach_events('crm.events')" -c "INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('webinar', 'engagement', 'webinar', 25)" -c "INSERT INTO lead_scoring.transition_override VALUES ('new', 'customer', false)" -c "INSERT INTO lead_scoring.threshold VALUES ('mql', 20)" >/dev/null
INSERT INTO crm.events (lead_id, event_type) VALUES (1, 'webinar');
SELECT 'after', score, stage FROM crm.leads;
SELECT lead_scoring.can_transition('new', 'customer');
SQL
) || { echo "$out"; echo "FAILED: the session with the hog loaded failed"; exit 1; }
echo "$out"
expected="t
after|25|mql
f"
if [ "$out" != "$expected" ]; then
	echo "FAILED: expected"; echo "$expected"; exit 1
fi
echo "ok: lead_scoring works with 7 foreign relcache callbacks loaded"
