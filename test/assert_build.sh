#!/usr/bin/env bash
# test/assert_build.sh — the whole suite (test/run.sh) against a PostgreSQL 15 built with assertions
# (--enable-cassert: freed memory clobbered, allocated memory randomized), which a release build hides:
# a use of freed memory, a tuple slot or snapshot used out of turn, a lock or buffer pin leaked.  Not
# part of test/run.sh or CI (the server build takes about 15 minutes on 2 cores, once; the suite then runs
# longer than on a release build).  README.md, "Development".
#   bash test/assert_build.sh                     # build the server once, then run the suite
#   LS_PG_SRC=/path/postgresql-15.x bash test/assert_build.sh   # from this source tree (or .tar.bz2)
#   LS_ASSERT_PREFIX=/somewhere bash test/assert_build.sh      # where the server is installed
# Without LS_PG_SRC the source comes from Debian (apt-get source postgresql-15, with deb-src lines of
# the machine's own Debian sources, kept in a private list): the installed server's version when the
# archive still has it, else another 15.x it has.  The extension is built and tested in a copy of this
# tree, so the objects here (built for the release server) are left alone.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${LS_ASSERT_PREFIX:-/tmp/ls_pg_assert}
WORK=${LS_ASSERT_WORK:-$PREFIX.build}
PG_CONFIG=$PREFIX/bin/pg_config
mkdir -p "$WORK"

# apt-get with deb-src entries for the machine's Debian sources, in private lists (nothing under /etc changes)
apt_src() {
	local d=$WORK/apt
	mkdir -p "$d/lists/partial" "$d/parts"
	if [ ! -f "$d/parts/debian-src.sources" ]; then
		sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$d/parts/debian-src.sources"
		apt-get -qq -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$d/parts" \
			-o Dir::State::Lists="$d/lists" update
	fi
	apt-get -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$d/parts" \
		-o Dir::State::Lists="$d/lists" "$@"
}
apt_cache_src() {
	local d=$WORK/apt
	apt-cache -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$d/parts" \
		-o Dir::State::Lists="$d/lists" "$@"
}

source_tree() {
	local src=${LS_PG_SRC:-} installed v
	if [ -n "$src" ] && [ -d "$src" ]; then
		echo "$src"
		return
	fi
	if [ -n "$src" ]; then
		tar -xf "$src" -C "$WORK"
	else
		(
			cd "$WORK"
			apt_src --version >/dev/null
			installed=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
			for v in $installed $(apt_cache_src showsrc postgresql-15 | sed -n 's/^Version: //p' | sort -rV); do
				apt_src source --download-only "postgresql-15=$v" >/dev/null 2>&1 && break
			done
			tarball=$(ls postgresql-15_*.orig.tar.* 2>/dev/null | head -1)
			[ -n "$tarball" ] || { echo "assert_build.sh: no postgresql-15 source from apt; set LS_PG_SRC" >&2; exit 1; }
			tar -xf "$tarball"
		)
	fi
	ls -d "$WORK"/postgresql-15.*/ | head -1
}

if [ ! -x "$PG_CONFIG" ]; then
	src=$(source_tree)
	echo "== building PostgreSQL from $src into $PREFIX (assertions on)" >&2
	icu=--without-icu
	dpkg -s libicu-dev >/dev/null 2>&1 && icu=--with-icu # sql/lead_ids.sql makes an ICU collation
	# --enable-cassert defines CLOBBER_FREED_MEMORY itself; a -D for it too would be a redefinition,
	# which fails the extension's -Werror build
	(cd "$src" && ./configure --prefix="$PREFIX" --enable-cassert --enable-debug $icu \
		CFLAGS="-O1 -g -DRANDOMIZE_ALLOCATED_MEMORY" >"$WORK/configure.log" &&
		nice -n 19 make -j2 -s world-bin >"$WORK/make.log" 2>&1 &&
		make -s install-world-bin >"$WORK/install.log" 2>&1) ||
		{ echo "assert_build.sh: the server build failed; logs in $WORK" >&2; exit 1; }
fi
# a server built with CFLAGS=-DCLOBBER_FREED_MEMORY as well: the extension builds without the repeat
sed -i 's/ -DCLOBBER_FREED_MEMORY//g' "$PREFIX/lib/postgresql/pgxs/src/Makefile.global"
"$PG_CONFIG" --configure | grep -q -- --enable-cassert ||
	{ echo "assert_build.sh: $PG_CONFIG is not an assert-enabled build" >&2; exit 1; }

tree=$(mktemp -d /tmp/ls_assert_tree.XXXXXX)
trap 'rm -rf "$tree"' EXIT
tar -C "$ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude='results_*' -cf - . | tar -C "$tree" -xf -
chmod 755 "$tree" # as the worktree: the server (user postgres) may read files of the tree
# a failed assertion is a crash; without the restart every later test fails too, none hides it
PG_CONFIG=$PG_CONFIG LS_SERVER_OPTS="-c restart_after_crash=off ${LS_SERVER_OPTS:-}" bash "$tree/test/run.sh"
