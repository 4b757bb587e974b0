# bench/ab_common.sh — what bench/engine.sh and the same-cluster A/B benchmarks (bench/library_ab.sh,
# bench/insert_ab.sh, bench/rewrite_ab.sh, bench/copy_instructions.sh) share: their throwaway cluster
# and database, the tables of bench/engine.sql with the result table, the load of both schemas, the CPU
# time of one statement, and the swap of the installed shared library between builds
# (doc/benchmarks.md, "Running").  Sourced by them after they set $here; uses test/cluster.sh.
source "$here/../test/cluster.sh"

# ab_cluster DIR [SERVER OPTIONS]: start the cluster (the benchmarks' settings and these), create the
# database "engine" and the scratch directory $data (named DIR, in the cluster's directory); q runs psql
ab_cluster() {
	LS_SERVER_OPTS="${LS_SERVER_OPTS:-} -c shared_buffers=256MB -c max_wal_size=8GB -c checkpoint_timeout=1h ${2:-}"
	ls_setup
	data=$LS_PGDIR/$1
	mkdir -p "$data"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$data"
	export PGDATABASE=engine
	"$LS_PGBIN/createdb" engine
}
q() { "$LS_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

# ab_tables: bench/engine.sql's schemas, load() and the table the rounds are recorded in (result)
ab_tables() { q -f "$here/engine.sql" >/dev/null; }
record() { q -c "INSERT INTO result VALUES ('$1', '$2', $3, $4)"; }

# ab_load LEADS EVENTS_PER_LEAD: the same leads and events in e_plain and e_ext
ab_load() {
	q -c "SELECT load('e_plain', $1, $2)" -c "SELECT load('e_ext', $1, $2)" >/dev/null
	q -c "VACUUM ANALYZE e_plain.leads, e_plain.events, e_ext.leads, e_ext.events"
	ls_log "   loaded $1 leads x $2 events into both schemas"
}

# statement_cpu_ms N ARGS...: the CPU time (ms, user + system, from log_statement_stats) of the N-th
# statement of one psql run with ARGS (-c ...); PGOPTIONS passes settings to its backend
statement_cpu_ms() {
	local n=$1
	shift
	q -c "SET client_min_messages = log" -c "SET log_statement_stats = on" "$@" 2>&1 |
		awk -v n="$n" '/s user,/ && !/\[/ { cn++; if (cn == n) { gsub(/!/, ""); c = ($1 + $4) * 1000 } }
			END { if (c == "") exit 1; print c }'
}

# ab_library_save: the installed library is restored at exit (and the cluster stopped); lib_use FILE
# installs another build meanwhile (each new backend loads the file installed at that moment)
ab_library_save() {
	libdir=$("$PG_CONFIG" --pkglibdir)
	saved=$(mktemp)
	cp "$libdir/lead_scoring.so" "$saved"
	trap 'lib_use "$saved"; rm -f "$saved"; ls_stop_cluster' EXIT
}
# ab_library_swap: the same for the two builds LIB_OLD and LIB_NEW, which are required
ab_library_swap() {
	: "${LIB_OLD:?the old build of lead_scoring.so}" "${LIB_NEW:?the new build of lead_scoring.so}"
	ab_library_save
}
# (mode 0755 whatever the copy's: the saved file is mktemp's 0600, which the server could not read)
lib_use() { install -m 0755 "$1" "$libdir/lead_scoring.so.tmp" && mv -f "$libdir/lead_scoring.so.tmp" "$libdir/lead_scoring.so"; }
