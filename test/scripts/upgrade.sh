#!/usr/bin/env bash
# Upgrade test: from every released version (extension/lead_scoring--<version>.sql) to the current one.
# On a database with attached CRM tables, rules, thresholds, history in the log and grants to an
# application and an analyst role: install the old version, run the basics with the new library,
# ALTER EXTENSION lead_scoring UPDATE, then require
#   - the extension's catalog (test/scripts/upgrade/catalog.sql) identical to a fresh install's,
#   - the data (CRM tables, configuration, the log) untouched by the update,
#   - the basics working again (triggers score and promote) and the property test passing.
# Needs a running cluster (PGHOST/PGPORT, as test/run.sh provides) with lead_scoring installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BIN=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
OLD=ls_upgrade_old NEW=ls_upgrade_new
WORK=$(mktemp -d /tmp/ls_upgrade.XXXXXX)
cleanup() {
	rm -rf "$WORK"
	"$BIN/dropdb" --if-exists $OLD >/dev/null 2>&1 || true
	"$BIN/dropdb" --if-exists $NEW >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql() { command "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

current=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$root/lead_scoring.control")
# the released versions: frozen install scripts (no "--" between two versions)
released=$(ls "$root"/extension/lead_scoring--*.sql | sed -n 's/.*lead_scoring--\([0-9.]*\)\.sql$/\1/p' | sort -V)
[ -n "$released" ] || { echo "no released version under extension/"; exit 1; }

# the data an update must not touch (the update adds the leads' engagement state column, NULL)
snapshot() {
	psql -d "$1" -At <<'SQL'
SELECT 'lead ' || (to_jsonb(l) - 'lead_scoring_state')::text FROM crm.leads l ORDER BY id;
SELECT 'event ' || e::text FROM crm.events e ORDER BY id;
SELECT 'deal ' || d::text FROM crm.deals d ORDER BY id;
SELECT 'log ' || c::text FROM lead_scoring.stage_change c ORDER BY change_id;
SELECT 'rule ' || r::text FROM lead_scoring.rule r ORDER BY rule_id;
SELECT 'threshold ' || t::text FROM lead_scoring.threshold t ORDER BY stage;
SELECT 'settings ' || s::text FROM lead_scoring.settings s;
SELECT 'override ' || o::text FROM lead_scoring.transition_override o ORDER BY 1;
SELECT 'event_type ' || t::text FROM lead_scoring.event_type t ORDER BY 1;
SELECT 'cost ' || m::text FROM lead_scoring.marketing_cost m ORDER BY 1;
SELECT 'attachment ' || (a.relid, a.kind)::text FROM lead_scoring.attachment a ORDER BY 1;
SELECT 'grant ' || coalesce(c.relacl::text, '') || ' on ' || c.oid::regclass::text
  FROM pg_class c WHERE c.relnamespace IN ('crm'::regnamespace, 'lead_scoring'::regnamespace) ORDER BY 1;
SQL
}

failed=0
fail() {
	echo "FAILED: $*"
	failed=1
}

# every C function a released version's SQL names (its functions and its generated definitions)
# must still be exported by the new library, declared with PG_FUNCTION_INFO_V1
c_symbols() {
	perl -0777 -ne 'for my $s (split /(?=CREATE (?:OR REPLACE )?FUNCTION )/) {
		next unless $s =~ /^CREATE (?:OR REPLACE )?FUNCTION \@extschema\@\.(\w+)/; my $n = $1;
		print(($1 // $n), "\n") if $s =~ /\x27MODULE_PATHNAME\x27(?:\s*,\s*\x27(\w+)\x27)?/ }' "$1" | sort -u
}
library="$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --pkglibdir)/lead_scoring.so"
nm -D --defined-only "$library" | awk '{print $3}' | sort -u >"$WORK/exported"

for from in $released; do
	[ "$from" = "$current" ] && continue
	echo "== $from -> $current"
	symbols=$(c_symbols "$root/extension/lead_scoring--$from.sql")
	[ "$(echo "$symbols" | wc -l)" -gt 30 ] || fail "found only $(echo "$symbols" | wc -l) C functions in $from's script"
	for sym in $symbols; do
		grep -qx "pg_finfo_$sym" "$WORK/exported" || fail "$from's SQL calls C function $sym, which the library no longer has"
	done
	"$BIN/dropdb" --if-exists $OLD 2>/dev/null
	"$BIN/dropdb" --if-exists $NEW 2>/dev/null
	"$BIN/createdb" $OLD
	"$BIN/createdb" $NEW

	# the old version, used with the new library
	psql -d $OLD -c "CREATE EXTENSION lead_scoring VERSION '$from'"
	psql -d $OLD -f "$here/upgrade/setup.sql" >/dev/null
	psql -d $OLD -f "$here/upgrade/history.sql" >/dev/null
	psql -d $OLD -v round=1 -f "$here/upgrade/basics.sql" >"$WORK/basics_old.out" 2>&1 ||
		{ fail "the basics on $from with the new library"; cat "$WORK/basics_old.out"; }
	snapshot $OLD >"$WORK/data_before"

	psql -d $OLD -c "ALTER EXTENSION lead_scoring UPDATE" 2>"$WORK/update.err" ||
		{ fail "ALTER EXTENSION lead_scoring UPDATE from $from"; cat "$WORK/update.err"; continue; }
	version=$(psql -d $OLD -Atc "SELECT extversion FROM pg_extension WHERE extname = 'lead_scoring'")
	[ "$version" = "$current" ] || fail "the update from $from ended at $version, not $current"

	# relations the update creates (a new configuration table, its index) are new, not changed data:
	# the privileges compared are those of the relations that existed before
	snapshot $OLD | awk 'NR == FNR { if ($1 == "grant") seen[$NF] = 1; next }
		$1 != "grant" || ($NF in seen)' "$WORK/data_before" - >"$WORK/data_after"
	diff -u "$WORK/data_before" "$WORK/data_after" >"$WORK/data.diff" ||
		{ fail "the update changed data"; head -40 "$WORK/data.diff"; }
	# the engagement states are filled lazily (doc/scoring.md, "Upgrading from 0.1.0"): no lead
	# has one yet and count as pending until the refresh fills them
	read -r leads pending nostate <<<"$(psql -d $OLD -At -F ' ' -c "SELECT p.leads, p.pending,
		(SELECT count(*) FROM crm.leads WHERE lead_scoring_state IS NULL) FROM lead_scoring.rescore_progress() p")"
	{ [ "$nostate" -gt 0 ] && [ "$pending" -ge "$nostate" ]; } ||
		fail "after the update: $nostate leads without a state, $pending pending of $leads"

	# a fresh install of the current version, set up the same way
	psql -d $NEW -c "CREATE EXTENSION lead_scoring"
	psql -d $NEW -f "$here/upgrade/setup.sql" >/dev/null
	psql -d $NEW -f "$here/upgrade/history.sql" >/dev/null
	psql -d $OLD -f "$here/upgrade/catalog.sql" >"$WORK/catalog_upgraded"
	psql -d $NEW -f "$here/upgrade/catalog.sql" >"$WORK/catalog_fresh"
	lines=$(wc -l <"$WORK/catalog_fresh")
	[ "$lines" -gt 300 ] || fail "the catalog picture has only $lines lines"
	diff -u "$WORK/catalog_fresh" "$WORK/catalog_upgraded" >"$WORK/catalog.diff" ||
		{ fail "catalog after the update differs from a fresh install (- fresh, + upgraded)"; head -80 "$WORK/catalog.diff"; }
	echo "catalog: $lines facts compared"

	# after the update: the triggers still score and promote
	psql -d $OLD -v round=2 -f "$here/upgrade/basics.sql" >"$WORK/basics_new.out" 2>&1 ||
		{ fail "the basics after the update"; cat "$WORK/basics_new.out"; }
	psql -d $OLD -c "CALL lead_scoring.refresh_online()"
	read -r pending nostate stale <<<"$(psql -d $OLD -At -F ' ' -c "SELECT (lead_scoring.rescore_progress()).pending,
		(SELECT count(*) FROM crm.leads WHERE lead_scoring_state IS NULL),
		(SELECT count(*) FROM crm.leads WHERE score <> lead_scoring.score(id))")"
	[ "$pending" = 0 ] && [ "$nostate" = 0 ] && [ "$stale" = 0 ] ||
		fail "after the refresh: $pending pending, $nostate leads without a state, $stale scores differ"
	# the property test, on tables attached before the update
	LS_PROPERTY_FROM=$from LS_PROPERTY_RUNS="0.31 bigint on" bash "$here/scoring_property.sh" ||
		fail "the property test after updating from $from"
done
exit $failed
