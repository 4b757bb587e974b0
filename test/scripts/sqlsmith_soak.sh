#!/usr/bin/env bash
# Bounded sqlsmith soak as an unprivileged application role: random queries over an attached CRM
# (leads, events, deals, rules, the extension's views and functions), with statement_timeout 1 s.
# Passes when the server never crashed and no internal error (SQLSTATE XX000) was logged.
# Default: LS_SMITH_QUERIES=4000 queries for each of LS_SMITH_SEEDS (two seeds; about a minute).
# A longer soak: LS_SMITH_QUERIES=100000 LS_SMITH_SEEDS="1 2 3 4 5 6" bash test/scripts/sqlsmith_soak.sh
# Needs sqlsmith (Debian package sqlsmith; installed when run as root) and a running cluster whose
# socket directory holds server.log (PGHOST from test/run.sh or test/cluster.sh).
set -euo pipefail
source "$(dirname "$0")/../cluster.sh"
LS_PACKAGES=sqlsmith ls_install_packages || { echo "sqlsmith is not installed"; exit 1; }
BIN=$("$PG_CONFIG" --bindir)
db=ls_sqlsmith
log=$PGHOST/server.log
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS ls_smith" >/dev/null 2>&1 || true' EXIT
psql() { command "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS ls_smith" -c "CREATE DATABASE $db" \
	-c "CREATE ROLE ls_smith LOGIN" >/dev/null
psql -d $db >/dev/null <<'SQL'
ALTER DATABASE ls_sqlsmith SET log_error_verbosity = verbose;
ALTER ROLE ls_smith SET statement_timeout = '1s';
CREATE EXTENSION lead_scoring;
CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text, phone text, company_size int, country text,
                        owner text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                         event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now(),
                         channel text, campaign text, url text);
CREATE TABLE crm.deals (id bigint PRIMARY KEY, lead_id bigint NOT NULL, amount numeric NOT NULL,
                        status text NOT NULL DEFAULT 'open', closed_at timestamptz, owner text, cost numeric);
SELECT lead_scoring.attach_leads('crm.leads', owner_column => 'owner', created_column => 'created_at');
SELECT lead_scoring.attach_events('crm.events', channel_column => 'channel', campaign_column => 'campaign');
SELECT lead_scoring.attach_deals('crm.deals', owner_column => 'owner', cost_column => 'cost');
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points, max_hits, half_life) VALUES
  ('valid email', 'fit', NULL, 'email', 'valid_email', NULL, 10, NULL, NULL, NULL),
  ('no phone', 'fit', NULL, 'phone', 'is_null', NULL, -10, NULL, NULL, NULL),
  ('mid-size', 'fit', NULL, 'company_size', '>=', '50', 20, NULL, NULL, NULL),
  ('EU', 'fit', NULL, 'country', 'in', 'DE, FR, NL', 5, NULL, NULL, NULL),
  ('pricing', 'engagement', 'page_view', 'url', 'regex', '/pricing($|/)', 15, 30, NULL, '14 days'),
  ('webinar', 'engagement', 'webinar', NULL, NULL, NULL, 20, NULL, 1, NULL);
INSERT INTO lead_scoring.threshold VALUES ('mql', 30), ('sal', 60);
INSERT INTO lead_scoring.marketing_cost (spend_date, channel, amount)
SELECT d::date, c, 100 FROM generate_series(now() - interval '30 days', now(), interval '1 day') d,
       unnest(ARRAY['paid_search', 'email']) c;
INSERT INTO crm.leads (id, email, phone, company_size, country, owner)
SELECT g, 'lead' || g || '@example.com', CASE WHEN g % 3 = 0 THEN NULL ELSE '+1 415 555 ' || lpad(g::text, 4, '0') END,
       g % 200, (ARRAY['DE', 'US', 'FR', 'GB'])[1 + g % 4], (ARRAY['ann', 'bob'])[1 + g % 2]
  FROM generate_series(1, 200) g;
INSERT INTO crm.events (lead_id, event_type, occurred_at, channel, campaign, url)
SELECT 1 + g % 200, (ARRAY['page_view', 'webinar', 'call', 'ad_click'])[1 + g % 4],
       now() - (g % 60) * interval '1 day', (ARRAY['paid_search', 'email', NULL])[1 + g % 3], 'c' || g % 5,
       (ARRAY['/pricing', '/blog', '/pricing/team'])[1 + g % 3]
  FROM generate_series(1, 2000) g;
INSERT INTO crm.deals (id, lead_id, amount, status, closed_at, owner, cost)
SELECT g, g * 7, 1000 * g, (ARRAY['open', 'won', 'lost'])[1 + g % 3], CASE WHEN g % 3 = 1 THEN now() END, 'ann', 10
  FROM generate_series(1, 25) g;
-- the application role: its CRM tables, read access to the extension's schema
GRANT USAGE ON SCHEMA crm, lead_scoring TO ls_smith;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crm TO ls_smith;
GRANT SELECT ON ALL TABLES IN SCHEMA lead_scoring TO ls_smith;
SQL

start=$(stat -c %s "$log")
failed=0
for seed in ${LS_SMITH_SEEDS:-11 29}; do
	# sqlsmith ends non-zero when it loses the connection; the log says why
	if ! timeout "${LS_SMITH_TIMEOUT:-120}" sqlsmith --target="host=$PGHOST port=$PGPORT dbname=$db user=ls_smith" \
		--seed="$seed" --max-queries="${LS_SMITH_QUERIES:-4000}" --exclude-catalog --verbose >/tmp/ls_sqlsmith.$$ 2>&1; then
		status=$?
		[ "$status" -eq 124 ] || { echo "seed $seed: sqlsmith ended with status $status"; tail -5 /tmp/ls_sqlsmith.$$; }
	fi
	echo "seed $seed: $(grep -oE 'queries: [0-9]+' /tmp/ls_sqlsmith.$$ | tail -1 || true)"
	grep -E '^error rate' -A12 /tmp/ls_sqlsmith.$$ | head -12 || true
	rm -f /tmp/ls_sqlsmith.$$
done
crashes=$(tail -c +"$((start + 1))" "$log" | grep -cE 'terminated by signal|was terminated by exception|TRAP:' || true)
# internal errors with where they were raised ("message @ function, file:line")
internal=$(tail -c +"$((start + 1))" "$log" |
	awk '/ERROR:  XX000: / {sub(/.*ERROR:  XX000: /, ""); msg = $0; next}
	     msg != "" && /LOCATION:/ {sub(/.*LOCATION:  /, ""); print msg " @ " $0; msg = ""}')
# Internal errors of PostgreSQL itself that sqlsmith reaches without the extension (its parser on
# CASE/COALESCE over the unknown type; interval typmod functions called with a random integer, as
# in SELECT intervaltypmodout(36)): reported, not counted.
core='^failed to find conversion function from unknown to .* @ coerce_type, parse_coerce.c|^(invalid|unrecognized) (INTERVAL|interval) typmod: .* @ (intervaltypmod[a-z]*|AdjustIntervalForTypmod), timestamp.c'
ours=$(printf '%s\n' "$internal" | grep -vE "$core" | grep . || true)
echo "server crashes: $crashes; internal errors (XX000): $(printf '%s\n' "$ours" | grep -c . || true)" \
	"(and $(printf '%s\n' "$internal" | grep -cE "$core" || true) of PostgreSQL's parser, not counted)"
[ -z "$ours" ] || { printf '%s\n' "$ours" | sort | uniq -c | sort -rn | head -20; failed=1; }
[ "$crashes" -eq 0 ] || failed=1
psql -d postgres -c 'SELECT 1' >/dev/null || { echo "the server is down"; failed=1; }
exit $failed
