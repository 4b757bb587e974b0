# Sourced by test/scripts/scoring_property.sh when test/scripts/citus_property.sh runs it: each run's
# database is created on the coordinator ($COORD) and both workers ($W1, $W2) with Citus, the workers added
# to the coordinator; the SQL script is told it runs on Citus (scoring_property.sql, variable citus).
create_db() {
	local p
	for p in $COORD $W1 $W2; do
		psql -X -q -p "$p" -d postgres -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
			-c "CREATE DATABASE $db"
		psql -X -q -p "$p" -d "$db" -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
			-c "CREATE EXTENSION citus"
	done
	psql -X -q -p "$COORD" -d "$db" -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
		-c "SELECT citus_set_coordinator_host('$CITUS_SOCK', $COORD)" \
		-c "SELECT citus_add_node('$CITUS_SOCK', $W1)" -c "SELECT citus_add_node('$CITUS_SOCK', $W2)" >/dev/null
}
sql_vars=(-v citus=on)
