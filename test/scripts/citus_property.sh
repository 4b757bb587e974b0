#!/usr/bin/env bash
# The engine's property test (test/scripts/scoring_property.sh and .sql) on a Citus coordinator with two
# workers (doc/scale-out.md, "Tests"): a seeded random CRM attached and distributed by lead_scoring.citus_setup(),
# driven by random writes out of time order (single rows, batches, COPY, updates and deletes of events and
# leads), rule and settings changes mid-stream, transactions committed and rolled back; every stored score
# compared with score() after each operation, and with an independent SQL implementation of the formula at
# the end; then three concurrent writers and a session refreshing online and changing rules, after which
# every score must be exact.  The cluster comes from test/scripts/citus/nodes.sh; each run gets a database
# with Citus on every node (test/scripts/citus/property_hooks.sh).
#
# Reports itself skipped when Citus is not installed for $PG_CONFIG.  LS_PROPERTY_RUNS and LS_PROPERTY_OPS
# as for scoring_property.sh (fewer here by default: about two minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
source "$here/citus/nodes.sh"
citus_require

export COORD=6341 W1=6342 W2=6343 CITUS_SOCK CITUS_BIN
# four shards per table: several leads of a statement on one shard (the triggers' batch paths)
citus_start coord $COORD "-c citus.shard_count=4"
citus_start w1 $W1
citus_start w2 $W2

export PGHOST=$CITUS_SOCK PGPORT=$COORD PGUSER=postgres PATH=$CITUS_BIN:$PATH
export LS_PROPERTY_HOOKS=$here/citus/property_hooks.sh
export LS_PROPERTY_RUNS=${LS_PROPERTY_RUNS:-"0.42 text off,0.73 uuid on"}
export LS_PROPERTY_OPS=${LS_PROPERTY_OPS:-60}
status=0
bash "$here/scoring_property.sh" || status=$?
if [ $status -ne 0 ]; then
	echo "logs: $CITUS_DIR (LS_KEEP=1 keeps them)"
	exit 1
fi
echo "ok: property test on Citus"
