# test/scripts/citus/nodes.sh — start and stop throwaway Citus clusters on one machine (sourced by
# test/scripts/citus.sh and bench/citus.sh).  Every node listens on a Unix socket in one private
# directory (no TCP), each on its own port; Citus reaches the other nodes through that directory,
# which is the node name it is given (libpq takes a host starting with "/" as a socket directory).
#
#   citus_installed                  true when Citus is installed for $PG_CONFIG
#   citus_start NAME PORT [opts]     initdb and start a node with shared_preload_libraries=citus
#   citus_psql PORT [psql args]      psql on a node, as postgres, stopping at the first error
#   citus_stop_all                   stop every node started here and remove its directory
#   citus_crm_cluster COORD W1 W2    on started nodes: Citus, the workers added, and the test CRM
#                                    (citus/schema.sql) distributed, attached and set up
#
# LS_CORE_FILES=1 starts the nodes with core files allowed (pg_ctl -c), for backtraces of a crash
# (with LS_KEEP=1 and a kernel.core_pattern that writes somewhere kept).

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
CITUS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CITUS_BIN=$("$PG_CONFIG" --bindir)
CITUS_DIR=${CITUS_DIR:-$(mktemp -d /tmp/ls_citus.XXXXXX)}
CITUS_SOCK=$CITUS_DIR/sock
CITUS_NODES=()
mkdir -p "$CITUS_SOCK"
[ "$(id -u)" -eq 0 ] && chown postgres: "$CITUS_DIR" "$CITUS_SOCK"

citus_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

citus_installed() {
	local lib share
	lib=$("$PG_CONFIG" --pkglibdir)
	share=$("$PG_CONFIG" --sharedir)
	[ -f "$lib/citus.so" ] && [ -f "$share/extension/citus.control" ]
}

citus_start() {
	local name=$1 port=$2 opts=${3:-}
	citus_as_pg "$CITUS_BIN/initdb" -D "$CITUS_DIR/$name" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
	citus_as_pg "$CITUS_BIN/pg_ctl" -D "$CITUS_DIR/$name" -l "$CITUS_DIR/$name.log" -w ${LS_CORE_FILES:+-c} \
		-o "-k $CITUS_SOCK -p $port -c listen_addresses='' -c fsync=off -c max_connections=60 \
			-c shared_preload_libraries=citus -c citus.local_hostname=$CITUS_SOCK \
			-c max_worker_processes=16 -c citus.log_remote_commands=off $opts" \
		start >/dev/null
	CITUS_NODES+=("$name")
}

citus_psql() {
	local port=$1
	shift
	command "$CITUS_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CITUS_SOCK" -p "$port" -U postgres "$@"
}

# A test script's start: report the script skipped (first line "skipped ...") and exit when Citus is not
# installed for $PG_CONFIG, else stop every node when the script exits.
citus_require() {
	if ! citus_installed; then
		echo "skipped: Citus is not installed for $PG_CONFIG (bash ../shared/tools/build-citus.sh installs it)"
		rm -rf "$CITUS_DIR"
		exit 0
	fi
	trap citus_stop_all EXIT
}

citus_crm_cluster() {
	local coord=$1 w1=$2 w2=$3 p
	for p in "$coord" "$w1" "$w2"; do citus_psql "$p" -c "CREATE EXTENSION citus" >/dev/null; done
	citus_psql "$coord" -c "SELECT citus_set_coordinator_host('$CITUS_SOCK', $coord)" \
		-c "SELECT citus_add_node('$CITUS_SOCK', $w1)" -c "SELECT citus_add_node('$CITUS_SOCK', $w2)" >/dev/null
	citus_psql "$coord" -c "CREATE EXTENSION lead_scoring" >/dev/null
	citus_psql "$coord" -f "$CITUS_HERE/schema.sql" >/dev/null
	citus_psql "$coord" -f "$CITUS_HERE/distribute.sql" >/dev/null
	citus_psql "$coord" -c "SET citus.enable_unsafe_triggers = on" -c "SET citus.multi_shard_modify_mode = sequential" \
		-f "$CITUS_HERE/attach.sql" >/dev/null 2>&1
	citus_psql "$coord" -c "SET client_min_messages = warning" -c "SELECT lead_scoring.citus_setup()" >/dev/null
}

citus_stop_all() {
	local n
	for n in "${CITUS_NODES[@]}"; do
		citus_as_pg "$CITUS_BIN/pg_ctl" -D "$CITUS_DIR/$n" -m immediate stop >/dev/null 2>&1 || true
	done
	CITUS_NODES=()
	[ -n "${LS_KEEP:-}" ] || rm -rf "$CITUS_DIR"
}
