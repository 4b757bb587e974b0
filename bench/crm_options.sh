#!/usr/bin/env bash
# bench/crm_options.sh — what attach's CRM options cost, measured side by side in one run, printed as
# ratios against the same table attached without them (doc/benchmarks.md, "CRM options").
#
#   1 INSERT ... SELECT of events in batches of 1,000 into an events table attached with
#     row_filter => 'model = ''crm.lead''': every row a lead's (filter_all: the cost of reading a
#     filtered table through SQL instead of the lead index), half of them other models' (filter_half),
#     against the same rows attached without a filter (plain)
#   2 the same with naive timestamps and time_zone => 'UTC' against timestamptz
#   3 rescore_all() over the loaded leads, same variants
#   4 an UPDATE of every lead (its BEFORE trigger scores the row), same variants
#   and, against plain: the leads attached with row_filter => 'active' (lead_filter: the filter is
#   evaluated on every written lead row, twice for an UPDATE), and the event type kept as an integer
#   key into a lookup table, attached with labels (type_labels: the key read from the index is
#   mapped to its label)
#
# Environment: BENCH_SCALE=1 (20,000 leads, 200,000 events), BENCH_ROUNDS=3, LS_KEEP=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../test/cluster.sh"
ls_setup
scale=${BENCH_SCALE:-1}
rounds=${BENCH_ROUNDS:-3}
leads=$(awk -v s="$scale" 'BEGIN { printf "%d", 20000 * s }')
events=$(awk -v s="$scale" 'BEGIN { printf "%d", 200000 * s }')
export PGDATABASE=bench
"$LS_PGBIN/createdb" bench
q() { "$LS_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
timed_ms() { q -c '\timing on' "$@" | awk '/^Time:/ { t = $2 } END { print t }'; }

# One variant: a fresh schema attached with the given options; prints load_ms rescore_ms update_ms.
variant() {
	local name=$1 time_type=$2 opts=$3 other_model=$4 lead_opts=${5:-} typed=${6:-false}
	local type_decl="message_type varchar NOT NULL" type_value="CASE WHEN g % 3 = 0 THEN 'comment' ELSE 'email' END"
	if [ "$typed" = true ]; then
		type_decl="message_type integer NOT NULL REFERENCES b.message_type"
		type_value="CASE WHEN g % 3 = 0 THEN 2 ELSE 1 END"
		opts="$opts, labels => '{\"message_type\": \"name\"}'"
	fi
	q <<SQL >/dev/null
DO \$\$ BEGIN
  PERFORM lead_scoring.detach(relid) FROM lead_scoring.attachment WHERE kind <> 'leads';
  PERFORM lead_scoring.detach(relid) FROM lead_scoring.attachment;
END \$\$;
DROP SCHEMA IF EXISTS b CASCADE;
DROP TABLE IF EXISTS lead_scoring.stage_change;
CREATE SCHEMA b;
CREATE TABLE b.lead (id integer PRIMARY KEY, email text, active boolean NOT NULL DEFAULT true);
CREATE TABLE b.message_type (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO b.message_type VALUES (1, 'email'), (2, 'comment');
CREATE TABLE b.message (id serial PRIMARY KEY, model varchar NOT NULL, res_id integer NOT NULL,
                        $type_decl, date $time_type NOT NULL);
INSERT INTO b.lead SELECT g, 'u' || g || '@example.com' FROM generate_series(1, $leads) g;
SELECT lead_scoring.attach_leads('b.lead' $lead_opts);
SELECT lead_scoring.attach_events('b.message', lead_column => 'res_id', type_column => 'message_type',
                                  time_column => 'date' $opts);
SQL
	local load=0 t i batches=$((events / 1000))
	for ((i = 0; i < batches; i++)); do
		t=$(timed_ms -c "INSERT INTO b.message (model, res_id, message_type, date)
			SELECT CASE WHEN $other_model AND g % 2 = 0 THEN 'res.partner' ELSE 'crm.lead' END,
			       1 + (g * 7919) % $leads, $type_value,
			       TIMESTAMP '2026-01-01' + g * INTERVAL '1 minute'
			  FROM generate_series($((i * 1000)), $((i * 1000 + 999))) g")
		load=$(awk -v a="$load" -v b="$t" 'BEGIN { print a + b }')
	done
	local rescore update
	rescore=$(timed_ms -c "SELECT lead_scoring.rescore_all()")
	update=$(timed_ms -c "UPDATE b.lead SET email = email")
	echo "$name $load $rescore $update"
}

q -c "CREATE EXTENSION lead_scoring" -c "INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_points)
      VALUES ('emails', 'engagement', 'email', 5, 50), ('comments', 'engagement', 'comment', 2, NULL)" >/dev/null
results=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
	ls_log "round $r of $rounds"
	variant plain timestamptz "" false >>"$results"
	variant filter_all timestamptz ", row_filter => \$f\$model = 'crm.lead'\$f\$" false >>"$results"
	variant filter_half timestamptz ", row_filter => \$f\$model = 'crm.lead'\$f\$" true >>"$results"
	variant naive_utc timestamp ", time_zone => 'UTC'" false >>"$results"
	variant lead_filter timestamptz "" false ", row_filter => 'active'" >>"$results"
	variant type_labels timestamptz "" false "" true >>"$results"
done
awk -v events="$events" '
	{ load[$1] += $2; rescore[$1] += $3; update[$1] += $4; n[$1]++ }
	END {
		printf "%-11s %14s %14s %14s %8s %10s %9s\n", "variant", "load ms/1k ev", "rescore_all ms", "update ms",
		       "load ×", "rescore ×", "update ×"
		for (v in n) {
			l = load[v] / n[v]; s = rescore[v] / n[v]; u = update[v] / n[v]
			printf "%-11s %14.1f %14.1f %14.1f %8.2f %10.2f %9.2f\n", v, l / (events / 1000), s, u,
			       l / (load["plain"] / n["plain"]), s / (rescore["plain"] / n["plain"]),
			       u / (update["plain"] / n["plain"])
		}
	}' "$results" | sort
rm -f "$results"
