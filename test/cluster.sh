# test/cluster.sh — shared set-up for demo/run.sh, test/run.sh and bench/run.sh.
# Source it, then call ls_setup: it installs missing Debian packages (as root), builds and
# installs the extension, and starts a throwaway PostgreSQL cluster that is removed on exit.
# Afterwards PGHOST/PGPORT/PGUSER/PGDATABASE point at it and LS_PGBIN holds its binaries.

LS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
LS_PACKAGES="postgresql-15 postgresql-client-15 postgresql-server-dev-15 make gcc libc6-dev git unzip"

ls_log() { printf '== %s\n' "$*" >&2; }

# Install what a fresh Debian 12 lacks.  Only root can; others must have the packages already.
ls_install_packages() {
	local missing=() p
	for p in $LS_PACKAGES ${LS_EXTRA_PACKAGES:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		ls_log "missing packages: ${missing[*]} (run as root, or install them)"
		return 1
	fi
	ls_log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ls_build_install() {
	ls_log "building and installing lead_scoring"
	make -s -C "$LS_ROOT" PG_CONFIG="$PG_CONFIG" >/dev/null
	make -s -C "$LS_ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null
}

# Run a server binary as the postgres user when we are root (initdb and postgres refuse root).
ls_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ls_start_cluster() {
	LS_PGBIN=$("$PG_CONFIG" --bindir)
	LS_PGDIR=$(mktemp -d /tmp/lead_scoring_pg.XXXXXX)
	[ "$(id -u)" -eq 0 ] && chown postgres: "$LS_PGDIR"
	ls_log "starting a throwaway cluster in $LS_PGDIR"
	ls_as_pg "$LS_PGBIN/initdb" -D "$LS_PGDIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
	# Unix socket only, in a private directory: nothing else on the machine can clash with it.
	LS_PORT=${LS_PORT:-5432}
	ls_as_pg "$LS_PGBIN/pg_ctl" -D "$LS_PGDIR/data" -l "$LS_PGDIR/server.log" -w \
		-o "-k $LS_PGDIR -p $LS_PORT -c listen_addresses='' -c fsync=off -c max_connections=50 ${LS_SERVER_OPTS:-}" \
		start >/dev/null
	export PGHOST=$LS_PGDIR PGPORT=$LS_PORT PGUSER=postgres PGDATABASE=postgres
	trap ls_stop_cluster EXIT
}

ls_stop_cluster() {
	[ -n "${LS_PGDIR:-}" ] || return 0
	if [ -n "${LS_KEEP:-}" ]; then
		ls_log "cluster left running: PGHOST=$LS_PGDIR PGPORT=$LS_PORT PGUSER=postgres psql"
		return 0
	fi
	ls_as_pg "$LS_PGBIN/pg_ctl" -D "$LS_PGDIR/data" -m fast stop >/dev/null 2>&1 || true
	rm -rf "$LS_PGDIR"
	LS_PGDIR=
}

ls_setup() {
	ls_install_packages
	ls_build_install
	ls_start_cluster
}
