#!/usr/bin/env bash
# demo/run.sh — set up (packages, build, install, throwaway cluster) and run the demo.
# LS_KEEP=1 leaves the cluster running afterwards so you can explore it with psql.
set -euo pipefail
source "$(dirname "$0")/../test/cluster.sh"
ls_setup
psql -X -q -v ON_ERROR_STOP=1 -f "$LS_ROOT/demo/demo.sql"
