#!/usr/bin/env bash
# bench/crm_currency.sh — what dated exchange rates cost the reports, measured side by side in one run and
# printed as ratios against the same deals without a currency (doc/benchmarks.md, "Dated exchange rates").
#
# Three deals tables with the same rows (BENCH_SCALE=1: 100,000 deals over three years, in USD, EUR and GBP):
#   plain    attached without currency_column (amounts summed as they are)
#   one_rate with currency_column, one rate per currency (valid_from -infinity)
#   monthly  with currency_column and 36 monthly rates per currency
# Each query: the won revenue of one deals table through lead_scoring.deals (every revenue report reads it),
# and the amount of all its deals; monthly_subquery is the monthly table read through the per-deal subquery
# the view used before its lateral join (a view written by hand), the baseline for that choice.
#
# Environment: BENCH_SCALE=1, BENCH_ROUNDS=3, LS_KEEP=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../test/cluster.sh"
ls_setup
scale=${BENCH_SCALE:-1}
rounds=${BENCH_ROUNDS:-3}
deals=$(awk -v s="$scale" 'BEGIN { printf "%d", 100000 * s }')
export PGDATABASE=bench
"$LS_PGBIN/createdb" bench
q() { "$LS_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
# the longest statement's time (the query, not BEGIN, the set-up or ROLLBACK)
timed_ms() { q -c '\timing on' "$@" | awk '/^Time:/ && $2 > t { t = $2 } END { print t }'; }

q <<SQL >/dev/null
CREATE EXTENSION lead_scoring;
CREATE SCHEMA b;
CREATE TABLE b.lead (id integer PRIMARY KEY);
INSERT INTO b.lead SELECT g FROM generate_series(1, 10000) g;
SELECT lead_scoring.attach_leads('b.lead');
SET lead_scoring.enforce_transitions = off;
DO \$\$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['plain', 'one_rate', 'monthly'] LOOP
    EXECUTE format('CREATE TABLE b.%I (id integer PRIMARY KEY, lead_id integer, amount numeric, currency text,
                                       status text, closed_at timestamptz, created_at timestamptz)', t);
  END LOOP;
END \$\$;
SELECT lead_scoring.attach_deals('b.plain', created_column => 'created_at');
SELECT lead_scoring.attach_deals('b.one_rate', currency_column => 'currency', created_column => 'created_at');
SELECT lead_scoring.attach_deals('b.monthly', currency_column => 'currency', created_column => 'created_at');
-- rows written after attach would move leads: the rows are loaded with the triggers off
ALTER TABLE b.plain DISABLE TRIGGER USER;
ALTER TABLE b.one_rate DISABLE TRIGGER USER;
ALTER TABLE b.monthly DISABLE TRIGGER USER;
INSERT INTO b.plain SELECT g, 1 + g % 10000, 100 + g % 900, (ARRAY['USD', 'EUR', 'GBP'])[1 + g % 3],
       CASE WHEN g % 4 = 0 THEN 'open' WHEN g % 4 = 1 THEN 'lost' ELSE 'won' END,
       TIMESTAMPTZ '2024-01-01 00:00+00' + (g % 1095) * INTERVAL '1 day',
       TIMESTAMPTZ '2023-12-01 00:00+00' + (g % 1095) * INTERVAL '1 day'
  FROM generate_series(1, $deals) g;
INSERT INTO b.one_rate SELECT * FROM b.plain;
INSERT INTO b.monthly SELECT * FROM b.plain;
-- the rates: one per currency for one_rate (valid_from -infinity) and 36 months' for monthly, in one table:
-- one_rate's rows are the only ones before 2023, monthly's start then; both read the same table
INSERT INTO lead_scoring.currency_rate (currency, rate) VALUES ('USD', 1), ('EUR', 1.08), ('GBP', 1.25);
INSERT INTO lead_scoring.currency_rate (currency, valid_from, rate)
SELECT c, TIMESTAMPTZ '2023-01-01 00:00+00' + m * INTERVAL '1 month', r + m * 0.001
  FROM (VALUES ('USD', 1.0), ('EUR', 1.08), ('GBP', 1.25)) v(c, r), generate_series(0, 47) m;
-- the per-deal subquery the deals view used before its lateral join, by hand on the monthly table
CREATE VIEW b.monthly_subquery AS
SELECT q.amount * (SELECT r.rate FROM lead_scoring.currency_rate r
                    WHERE r.currency = q.currency
                      AND r.valid_from <= coalesce(CASE WHEN q.outcome = 'open' THEN q.created_at ELSE q.closed_at END,
                                                   lead_scoring.clock())
                    ORDER BY r.valid_from DESC LIMIT 1) AS amount, q.outcome
  FROM (SELECT d.amount::numeric AS amount, upper(btrim(d.currency)) AS currency, d.created_at, d.closed_at,
               CASE WHEN lower(btrim(d.status)) = ANY (s.won_statuses) AND d.closed_at IS NOT NULL THEN 'won'
                    WHEN lower(btrim(d.status)) = ANY (s.lost_statuses) THEN 'lost' ELSE 'open' END AS outcome
          FROM b.monthly d CROSS JOIN lead_scoring.settings s) q;
ANALYZE;
SQL
# one_rate: its rates must be the only ones in force, so its run sees the table with the monthly rows
# removed (in a transaction rolled back)
# each variant twice: the won revenue (outcome = 'won') and the amount of every deal (no filter)
measure() {
	local name=$1 pre=$2 from="lead_scoring.deals WHERE source = 'b.$1'::regclass" t
	[ "$name" = monthly_subquery ] && from="b.monthly_subquery WHERE true"
	t=$(timed_ms -c "BEGIN" -c "$pre" -c "SELECT sum(amount) FROM $from AND outcome = 'won'" -c "ROLLBACK")
	echo "$name $t" >>"$results"
	t=$(timed_ms -c "BEGIN" -c "$pre" -c "SELECT sum(amount) FROM $from" -c "ROLLBACK")
	echo "$name $t" >>"$results_all"
}
results=$(mktemp)
results_all=$(mktemp)
for ((r = 1; r <= rounds; r++)); do
	ls_log "round $r of $rounds"
	measure plain "SELECT 1"
	measure one_rate "DELETE FROM lead_scoring.currency_rate WHERE valid_from > '-infinity'"
	measure monthly "SELECT 1"
	measure monthly_subquery "SELECT 1"
done
report() {
	awk -v title="$2" '{ n[$1]++; d[$1] += $2 }
	     END {
	       printf "%-17s %14s %8s\n", "variant", title " ms", "× plain"
	       split("plain one_rate monthly monthly_subquery", order, " ")
	       for (i = 1; i <= 4; i++) { v = order[i]
	         printf "%-17s %14.1f %8.2f\n", v, d[v] / n[v], (d[v] / n[v]) / (d["plain"] / n["plain"]) }
	     }' "$1"
}
report "$results" "won sum"
report "$results_all" "all sum"
rm -f "$results" "$results_all"
