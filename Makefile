# lead_scoring — PGXS build.  The version comes from lead_scoring.control alone.
# Works in the source tree and in a separate build directory (make -f ../Makefile VPATH=..), which
# is how Debian's pg_buildext builds one directory per PostgreSQL version.
EXTENSION    = lead_scoring
SRC         := $(patsubst %/,%,$(dir $(firstword $(MAKEFILE_LIST))))
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(SRC)/$(EXTENSION).control)
# paths below are relative to the source directory
here         = $(patsubst $(SRC)/%,%,$(sort $(wildcard $(addprefix $(SRC)/,$(1)))))

MODULE_big   = $(EXTENSION)
OBJS         = $(patsubst %.c,%.o,$(call here,src/*.c))

# The development version's install script is assembled from one file per concern in
# extension/parts/.  Released versions are frozen: extension/lead_scoring--<version>.sql is the
# install script of a release, byte for byte, and extension/lead_scoring--A--B.sql the upgrade
# steps between them (doc/internals.md, "Upgrades").  All of them are installed.
EXTENSION_SQL = $(EXTENSION)--$(EXTVERSION).sql
DATA_built   = $(EXTENSION_SQL)
DATA         = $(call here,extension/$(EXTENSION)--*.sql)

REGRESS      = $(patsubst sql/%.sql,%,$(call here,sql/*.sql))
REGRESS_OPTS = --inputdir=$(SRC) --outputdir=results_regress
ISOLATION    = $(patsubst test/specs/%.spec,%,$(call here,test/specs/*.spec))
ISOLATION_OPTS = --inputdir=$(SRC)/test --outputdir=results_isolation

PG_CPPFLAGS  = -I$(SRC)/src
PG_CFLAGS    = -Werror
EXTRA_CLEAN  = results_regress results_isolation $(EXTENSION)-*.zip

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on every header: a stale object compiled against an old struct crashes the server
$(OBJS): $(call here,src/*.h) | objdir
.PHONY: objdir
objdir:
	@mkdir -p src

$(EXTENSION_SQL): $(call here,extension/parts/*.sql)
	cat $^ > $@

# The PGXN archive of the committed tree (make dist): lead_scoring-<version>.zip
.PHONY: dist
dist:
	git -C $(SRC) archive --format zip --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(CURDIR)/$(EXTENSION)-$(EXTVERSION).zip HEAD

.PHONY: format lint
format:
	clang-format -i $(SRC)/src/*.c $(SRC)/src/*.h

lint:
	clang-format --dry-run --Werror $(SRC)/src/*.c $(SRC)/src/*.h
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem --suppress='*:/usr/include/*' -I $(SRC)/src \
		-I $(shell $(PG_CONFIG) --includedir-server) $(SRC)/src/*.c
