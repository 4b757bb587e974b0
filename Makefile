# lead_scoring — PGXS build.  The version comes from lead_scoring.control alone.
EXTENSION    = lead_scoring
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big   = $(EXTENSION)
OBJS         = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The development version's install script is assembled from one file per concern in
# extension/parts/.  Released versions are frozen: extension/lead_scoring--<version>.sql is the
# install script of a release, byte for byte, and extension/lead_scoring--A--B.sql the upgrade
# steps between them (doc/internals.md, "Upgrades").  All of them are installed.
EXTENSION_SQL = $(EXTENSION)--$(EXTVERSION).sql
DATA_built   = $(EXTENSION_SQL)
DATA         = $(sort $(wildcard extension/$(EXTENSION)--*.sql))

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --outputdir=results_regress
ISOLATION    = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=results_isolation

PG_CPPFLAGS  = -I$(srcdir)/src
PG_CFLAGS    = -Werror
EXTRA_CLEAN  = results_regress results_isolation

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on every header: a stale object compiled against an old struct crashes the server
$(OBJS): $(wildcard src/*.h)

$(EXTENSION_SQL): $(sort $(wildcard extension/parts/*.sql))
	cat $^ > $@

.PHONY: format lint
format:
	clang-format -i src/*.c src/*.h

lint:
	clang-format --dry-run --Werror src/*.c src/*.h
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem --suppress='*:/usr/include/*' -I src \
		-I $(shell $(PG_CONFIG) --includedir-server) src/*.c
