#!/usr/bin/env bash
# demo/run.sh — the lead_scoring demo, end to end, in under a minute:
#   set-up (packages, build, install, a throwaway cluster), a sample CRM (demo/schema.sql), lead_scoring
#   attached to it and configured as a marketing team would (demo/attach.sql), six months of seeded data
#   written through the CRM tables (demo/generate.sql), and the reports (demo/report.sql).
#
# Environment:
#   LS_KEEP=1        leave the cluster running afterwards; it prints how to connect (database lead_scoring_demo)
#   DEMO_LEADS=N     number of contacts (10000); DEMO_EVENTS=N activities (about 200000); DEMO_SEED=x (0.42)
#   DEMO_PLAIN=1     no extension: the plain CRM and the generator only (to test the generator by itself)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../test/cluster.sh"

started=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
# Run one step, then print how long it took (on stderr, so that stdout is the report alone).
step() {
	local what=$1 t0
	shift
	t0=$(date +%s.%N)
	"$@"
	ls_log "$(printf '%-44s %6s s' "$what" "$(elapsed "$t0")")"
}

step "set-up (build, install, start a cluster)" ls_setup
export PGDATABASE=lead_scoring_demo
"$LS_PGBIN/createdb" "$PGDATABASE"
run_sql() { "$LS_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

plain=${DEMO_PLAIN:-}
gen_vars=(-v leads="${DEMO_LEADS:-10000}" -v events="${DEMO_EVENTS:-200000}" -v seed="${DEMO_SEED:-0.42}")

step "the CRM schema" run_sql -f "$here/schema.sql"
if [ -n "$plain" ]; then
	# What attach_leads would add, so that the generator has the columns it writes.
	step "plain CRM: lifecycle and lead_score columns" run_sql -c \
		"ALTER TABLE crm.contacts ADD lifecycle text NOT NULL DEFAULT 'new', ADD lead_score integer NOT NULL DEFAULT 0"
	step "six months of data (no extension)" run_sql "${gen_vars[@]}" -v lead_scoring=false -f "$here/generate.sql"
	run_sql -c "SELECT (SELECT count(*) FROM crm.contacts) AS contacts, (SELECT count(*) FROM crm.activities) AS activities,
	                   (SELECT count(*) FROM crm.opportunities) AS deals, (SELECT sum(spend) FROM crm.ad_spend) AS spend"
else
	step "attach lead_scoring, rules, thresholds" run_sql -f "$here/attach.sql"
	step "six months of data through the triggers" run_sql "${gen_vars[@]}" -v lead_scoring=true -f "$here/generate.sql"
	step "reports" run_sql -f "$here/report.sql"
fi
ls_log "$(printf '%-44s %6s s' "demo total" "$(elapsed "$started")")"
