#!/usr/bin/env bash
# The Debian package: from a clean copy of the tracked files, `dpkg-buildpackage -us -uc -b` builds
# postgresql-15-lead-scoring_<version>-1_amd64.deb (its build runs the regression suite against the
# built files with pg_buildext installcheck); `apt-get install ./that.deb` installs it; CREATE EXTENSION
# then works from the package's files; the package's autopkgtest passes.  Afterwards the package is
# removed and the tree's build installed again, for the tests that follow.
# Needs root (it installs packages) and a test run against Debian's own PostgreSQL 15 (the package
# installs there); otherwise it says it skipped itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
system_pg_config=/usr/lib/postgresql/15/bin/pg_config
if [ "$(id -u)" -ne 0 ]; then
	echo "skipped: building and installing a Debian package needs root"
	exit 0
fi
if [ "$("${PG_CONFIG:-$system_pg_config}" --pkglibdir)" != /usr/lib/postgresql/15/lib ]; then
	echo "skipped: the tests run against another PostgreSQL than Debian's (PG_CONFIG=$PG_CONFIG)"
	exit 0
fi
BIN=$("${PG_CONFIG:-$system_pg_config}" --bindir)
version=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$root/lead_scoring.control")
deb_version=$(sed -n '1s/^lead-scoring (\(.*\)) .*/\1/p' "$root/debian/changelog")
[ "${deb_version%-*}" = "$version" ] ||
	{ echo "debian/changelog is at $deb_version, lead_scoring.control at $version"; exit 1; }

WORK=$(mktemp -d /tmp/ls_deb.XXXXXX)
# the build's test cluster runs as an unprivileged user and reads the extension files under the build tree
chmod 755 "$WORK"
restore() {
	dpkg -r postgresql-15-lead-scoring >/dev/null 2>&1 || true
	# the tests that follow use the tree's own build
	make -s -C "$root" PG_CONFIG="${PG_CONFIG:-$system_pg_config}" install >/dev/null
	"$BIN/dropdb" --if-exists ls_package >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap restore EXIT

export DEBIAN_FRONTEND=noninteractive
need=()
for p in debhelper postgresql-server-dev-all dpkg-dev fakeroot autopkgtest; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# a clean checkout: the tracked files only (no build products, no test results)
mkdir "$WORK/src"
(cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$WORK/src")
(cd "$WORK/src" && pg_buildext checkcontrol)
(cd "$WORK/src" && dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1) ||
	{
		echo "dpkg-buildpackage failed:"
		grep -E '\.\.\. FAILED|tests? failed' "$WORK/build.log" || true
		cat "$WORK"/src/build-*/results_*/regression.diffs 2>/dev/null | head -150
		tail -20 "$WORK/build.log"
		exit 1
	}
grep -E 'tests passed|tests failed' "$WORK/build.log" | sed 's/^ */build-time installcheck: /'
deb="$WORK/postgresql-15-lead-scoring_${deb_version}_amd64.deb"
[ -f "$deb" ] || { echo "no $(basename "$deb") was built:"; ls "$WORK"; exit 1; }
echo "built $(basename "$deb")"

apt-get install -y -qq --no-install-recommends "$deb" >/dev/null 2>&1
# the list is read once: `dpkg -L | grep -q` under pipefail fails at random (grep exits on the first match,
# dpkg gets SIGPIPE)
files=$(dpkg -L postgresql-15-lead-scoring)
grep -qx /usr/lib/postgresql/15/lib/lead_scoring.so <<<"$files" || { echo "the package lacks lead_scoring.so"; exit 1; }
for v in $(ls "$root"/extension/lead_scoring--*.sql | xargs -n1 basename); do
	grep -qx "/usr/share/postgresql/15/extension/$v" <<<"$files" || { echo "the package lacks $v"; exit 1; }
done
echo "installed: $(dpkg-query -W postgresql-15-lead-scoring)"

# the running test cluster is Debian's PostgreSQL: CREATE EXTENSION now uses the package's files
"$BIN/createdb" ls_package
got=$("$BIN/psql" -X -q -At -d ls_package -c "CREATE EXTENSION lead_scoring" \
	-c "SELECT extversion FROM pg_extension WHERE extname = 'lead_scoring'" \
	-c "SELECT 'MQL'::lead_scoring.funnel_stage")
[ "$got" = "$version"$'\n'"mql" ] || { echo "CREATE EXTENSION from the package gave: $got"; exit 1; }
echo "CREATE EXTENSION lead_scoring from the package: version $version"

# the package's own test (debian/tests): the regression suite against the installed package
autopkgtest --no-built-binaries "$deb" "$WORK/src" -- null >"$WORK/autopkgtest.log" 2>&1 ||
	{ echo "autopkgtest failed:"; tail -60 "$WORK/autopkgtest.log"; exit 1; }
grep -m1 -E "^installcheck +(PASS|FAIL)" "$WORK/autopkgtest.log" || true
grep -qE '^installcheck +PASS' "$WORK/autopkgtest.log"
