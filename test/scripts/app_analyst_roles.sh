#!/usr/bin/env bash
# The demo CRM run the way it runs in production: the DBA (superuser) installs and attaches, the CRM
# schema belongs to its own owner role, an application role without superuser rights replays six
# months of history through the triggers, and an analyst role reads the reports.  Oracle: the same
# demo run entirely as the superuser, in another database, gives the same log and the same reports
# (doc/security.md, "The roles").  The application's grants are what a CRM application has (DML on
# its tables) plus what this history load needs: INSERT on marketing_cost, EXECUTE on refresh_scores
# and SET on lead_scoring.now.  Needs a running cluster (PGHOST/PGPORT) with lead_scoring installed.
set -euo pipefail
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
BIN=$("$PG_CONFIG" --bindir)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUPER=ls_roles_super PAIR=ls_roles_pair
WORK=$(mktemp -d /tmp/ls_roles.XXXXXX)
cleanup() {
	rm -rf "$WORK"
	"$BIN/dropdb" --if-exists $SUPER >/dev/null 2>&1 || true
	"$BIN/dropdb" --if-exists $PAIR >/dev/null 2>&1 || true
	drop_roles >/dev/null 2>&1 || true
}
# (a privilege on a parameter is the cluster's, not the database's: revoke it before dropping the role)
drop_roles() {
	PGOPTIONS="-c client_min_messages=warning" psql -d postgres <<'SQL'
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ls_roles_app') THEN
        REVOKE SET ON PARAMETER lead_scoring.now FROM ls_roles_app;
    END IF;
END $$;
DROP ROLE IF EXISTS ls_roles_owner, ls_roles_app, ls_roles_analyst;
SQL
}
trap cleanup EXIT
psql() { command "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
gen=(-v leads="${LS_ROLES_LEADS:-600}" -v events="${LS_ROLES_EVENTS:-12000}" -v seed=0.42 -v lead_scoring=true)
# a role that is not a superuser may not LOAD a library by name: the first call to the extension loads it
sed "s/^LOAD 'lead_scoring';/SELECT lead_scoring.clock() \\\\g \\/dev\\/null/" "$ROOT/demo/generate.sql" >"$WORK/generate.sql"
grep -q "^LOAD 'lead_scoring'" "$WORK/generate.sql" && { echo "FAILED: could not adapt the LOAD"; exit 1; }

# what is compared: the log (its actor is the writing role, so it is left out), the stages, and the
# reports over the generated half-year
cat >"$WORK/compare.sql" <<'SQL'
SET client_min_messages = warning;
SELECT date_trunc('hour', now()) - interval '182 days' AS report_from, date_trunc('hour', now()) AS report_to \gset
SELECT 'log', lead_id, from_stage, to_stage, changed_at, score, reason, owner
  FROM lead_scoring.stage_change ORDER BY change_id;
SELECT 'funnel', * FROM lead_scoring.funnel;
SELECT 'handoff', lead_id, owner, handed_off_at, status FROM lead_scoring.handoffs ORDER BY 2, 3, 4;
SELECT 'feedback', * FROM lead_scoring.handoff_feedback ORDER BY 2;
SELECT 'channel', * FROM lead_scoring.channel_report('last_touch', :'report_from'::date, :'report_to'::date) ORDER BY 2;
SELECT 'markov', * FROM lead_scoring.channel_report('markov', :'report_from'::date, :'report_to'::date) ORDER BY 2;
SELECT 'manager', * FROM lead_scoring.manager_report(:'report_from'::timestamptz, :'report_to'::timestamptz) ORDER BY 2;
SQL

drop_roles
psql -d postgres -c "CREATE ROLE ls_roles_owner" -c "CREATE ROLE ls_roles_app LOGIN" -c "CREATE ROLE ls_roles_analyst LOGIN" >/dev/null

for attempt in 1 2; do
	hour=$(psql -d postgres -Atc "SELECT date_trunc('hour', now())")
	for db in $SUPER $PAIR; do
		"$BIN/dropdb" --if-exists $db 2>/dev/null
		"$BIN/createdb" $db
		psql -d $db -f "$ROOT/demo/schema.sql"
	done

	# the oracle: everything as the superuser
	psql -d $SUPER -f "$ROOT/demo/attach.sql" >/dev/null
	psql -d $SUPER "${gen[@]}" -f "$WORK/generate.sql" >/dev/null
	psql -d $SUPER -At -f "$WORK/compare.sql" >"$WORK/super.out"

	# production: the CRM belongs to its owner; the DBA attaches and grants
	psql -d $PAIR >/dev/null <<'SQL'
ALTER SCHEMA crm OWNER TO ls_roles_owner;
DO $$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT oid FROM pg_class WHERE relnamespace = 'crm'::regnamespace AND relkind = 'r' LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO ls_roles_owner', t);
    END LOOP;
END $$;
SQL
	psql -d $PAIR -f "$ROOT/demo/attach.sql" >/dev/null
	psql -d $PAIR >/dev/null <<'SQL'
SET ROLE ls_roles_owner;
GRANT USAGE ON SCHEMA crm TO ls_roles_app, ls_roles_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crm TO ls_roles_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA crm TO ls_roles_app;
GRANT SELECT ON ALL TABLES IN SCHEMA crm TO ls_roles_analyst;
RESET ROLE;
GRANT USAGE ON SCHEMA lead_scoring TO ls_roles_app, ls_roles_analyst;
GRANT INSERT ON lead_scoring.marketing_cost TO ls_roles_app;
GRANT EXECUTE ON FUNCTION lead_scoring.refresh_scores() TO ls_roles_app;
GRANT SET ON PARAMETER lead_scoring.now TO ls_roles_app;
GRANT SELECT ON ALL TABLES IN SCHEMA lead_scoring TO ls_roles_analyst;
SQL
	# the application: no superuser, no rights on the log or the configuration
	psql -d $PAIR -U ls_roles_app -At -c "SELECT rolsuper, has_table_privilege('lead_scoring.stage_change', 'SELECT'),
	        has_table_privilege('lead_scoring.rule', 'UPDATE') FROM pg_roles WHERE rolname = current_user" >"$WORK/app_rights"
	[ "$(cat "$WORK/app_rights")" = "f|f|f" ] || { echo "FAILED: the application role has too many rights: $(cat "$WORK/app_rights")"; exit 1; }
	# (its closing ANALYZE skips the tables the application does not own, with a warning)
	psql -d $PAIR -U ls_roles_app "${gen[@]}" -f "$WORK/generate.sql" >/dev/null 2>"$WORK/gen.err" ||
		{ cat "$WORK/gen.err"; exit 1; }
	# the analyst reads the reports, the demo's own included
	psql -d $PAIR -U ls_roles_analyst -At -f "$WORK/compare.sql" >"$WORK/pair.out"
	psql -d $PAIR -U ls_roles_analyst -f "$ROOT/demo/report.sql" >"$WORK/report.out"
	# the analyst cannot write anything of lead_scoring's
	if psql -d $PAIR -U ls_roles_analyst -c "DELETE FROM lead_scoring.stage_change" >/dev/null 2>&1; then
		echo "FAILED: the analyst deleted log rows"; exit 1
	fi

	[ "$(psql -d postgres -Atc "SELECT date_trunc('hour', now())")" = "$hour" ] && break
	echo "the hour changed during the run (the generator's clock): again"
done

rows=$(wc -l <"$WORK/super.out")
if ! diff "$WORK/super.out" "$WORK/pair.out" >"$WORK/diff"; then
	echo "FAILED: the application/analyst run differs from the superuser run:"
	head -40 "$WORK/diff"
	exit 1
fi
[ "$rows" -gt 100 ] || { echo "FAILED: only $rows rows compared"; exit 1; }
grep -q "The managers" "$WORK/report.out" || { echo "FAILED: the demo report did not run to its end"; exit 1; }
echo "ok: $rows rows of log and reports identical; the demo report runs as the analyst"
