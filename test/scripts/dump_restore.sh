#!/usr/bin/env bash
# pg_dump of a database using lead_scoring restores into an empty database with the same
# configuration, attachments, log and generated objects, and the restored triggers keep working.
# Oracle: a second dump of the restored database equals the first.
set -euo pipefail
BIN=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
SRC=ls_dump_src DST=ls_dump_dst
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; "$BIN/dropdb" --if-exists $SRC; "$BIN/dropdb" --if-exists $DST' EXIT
psql() { command "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

"$BIN/dropdb" --if-exists $SRC 2>/dev/null
"$BIN/dropdb" --if-exists $DST 2>/dev/null
"$BIN/createdb" $SRC
"$BIN/createdb" $DST

psql -d $SRC >/dev/null <<'SQL'
CREATE EXTENSION lead_scoring;
CREATE SCHEMA "CRM Data";
CREATE TABLE "CRM Data"."Leads" ("Lead Id" uuid PRIMARY KEY, email text, owner text,
                                 signed_up timestamptz NOT NULL DEFAULT now());
CREATE TABLE "CRM Data".events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead uuid NOT NULL,
                                kind text NOT NULL, at timestamptz NOT NULL, source text);
CREATE TABLE "CRM Data".deals (id serial PRIMARY KEY, lead uuid NOT NULL, amount numeric(12,2) NOT NULL,
                               status text NOT NULL DEFAULT 'open', closed_at timestamptz);
INSERT INTO "CRM Data"."Leads" ("Lead Id", email, owner)
SELECT ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid, 'lead' || i || '@example.com', 'ann'
FROM generate_series(1, 20) AS i;
SELECT lead_scoring.attach_leads('"CRM Data"."Leads"', id_column => 'Lead Id', owner_column => 'owner',
                                 created_column => 'signed_up');
SELECT lead_scoring.attach_events('"CRM Data".events', lead_column => 'lead', type_column => 'kind',
                                  time_column => 'at', channel_column => 'source');
SELECT lead_scoring.attach_deals('"CRM Data".deals', lead_column => 'lead');
INSERT INTO lead_scoring.transition_override VALUES ('customer', 'recycled', true);
UPDATE lead_scoring.settings SET sla = '2 hours', won_statuses = '{won,paid}';
INSERT INTO lead_scoring.threshold VALUES ('mql', 50), ('sal', 80);
INSERT INTO lead_scoring.event_type VALUES ('call', 'sales');
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_hits) VALUES
    ('valid email', 'fit', NULL, 'email', 'valid_email', NULL, 10, NULL),
    ('webinar', 'engagement', 'webinar', NULL, NULL, NULL, 25, 2);
INSERT INTO "CRM Data".events (lead, kind, at, source)
SELECT l."Lead Id", (ARRAY['visit', 'webinar', 'call'])[1 + i % 3], '2026-01-01'::timestamptz + i * interval '1 hour',
       (ARRAY['ads', 'email', NULL])[1 + i % 3]
FROM "CRM Data"."Leads" l, generate_series(1, 3) AS i;
SQL

"$BIN/pg_dump" -d $SRC -f "$WORK/first.sql"
psql -d $DST -f "$WORK/first.sql" >/dev/null
"$BIN/pg_dump" -d $DST -f "$WORK/second.sql"

# \restrict lines carry a random key per dump
if ! diff -u -I '^\\\(un\)\?restrict ' "$WORK/first.sql" "$WORK/second.sql" >"$WORK/dump.diff"; then
	echo "FAIL: the restored database dumps differently"
	head -50 "$WORK/dump.diff"
	exit 1
fi

# the restored configuration, attachments and log are there, and the triggers still work
psql -d $DST -At <<'SQL' >"$WORK/check.out"
SELECT 'attachments ' || string_agg(kind || ':' || relid::text, ', ' ORDER BY kind) FROM lead_scoring.attachment;
SELECT 'settings ' || sla || ' ' || won_statuses::text FROM lead_scoring.settings;
SELECT 'settings rows ' || count(*) FROM lead_scoring.settings;
SELECT 'overrides ' || count(*) FROM lead_scoring.transition_override;
SELECT 'thresholds ' || count(*) FROM lead_scoring.threshold;
SELECT 'log rows ' || count(*) FROM lead_scoring.stage_change;
SELECT 'events view ' || count(*) FROM lead_scoring.events;
SELECT 'override honoured ' || lead_scoring.can_transition('customer', 'recycled');
SELECT 'rules ' || string_agg(name, ', ' ORDER BY name) FROM lead_scoring.rule;
SELECT 'stored scores exact ' || bool_and(score = lead_scoring.score("Lead Id")) FROM "CRM Data"."Leads";
SELECT 'lead 1 before ' || stage || ' ' || score FROM "CRM Data"."Leads" WHERE "Lead Id" = '00000000-0000-0000-0000-000000000001';
-- the restored triggers work: two more webinars for lead 1 (capped at two) cross the mql threshold
INSERT INTO "CRM Data".events (lead, kind, at, source)
VALUES ('00000000-0000-0000-0000-000000000001', 'webinar', now(), 'email'),
       ('00000000-0000-0000-0000-000000000001', 'webinar', now(), 'email');
SELECT 'lead 1 after ' || stage || ' ' || score FROM "CRM Data"."Leads" WHERE "Lead Id" = '00000000-0000-0000-0000-000000000001';
SELECT 'logged ' || from_stage || ' -> ' || to_stage || ' ' || reason FROM lead_scoring.stage_change
 WHERE lead_id = '00000000-0000-0000-0000-000000000001' AND from_stage IS NOT NULL;
SQL
cat >"$WORK/check.expected" <<'OUT'
attachments deals:"CRM Data".deals, events:"CRM Data".events, leads:"CRM Data"."Leads"
settings 02:00:00 {won,paid}
settings rows 1
overrides 1
thresholds 2
log rows 20
events view 60
override honoured true
rules valid email, webinar
stored scores exact true
lead 1 before new 35
lead 1 after mql 60
logged new -> mql threshold
OUT
diff -u "$WORK/check.expected" "$WORK/check.out" || { echo "FAIL: restored state differs"; exit 1; }
echo "dump/restore: identical second dump, configuration and triggers intact"
