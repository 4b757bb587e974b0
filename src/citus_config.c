/*
 * citus_config.c — the configuration replicated to Citus workers
 * (doc/scale-out.md, "Configuration on every node").
 *
 * lead_scoring.config_apply() replaces a worker's configuration rows with the
 * coordinator's snapshot while the tables' own triggers are off (the rows
 * were validated on the coordinator), then calls config_invalidate(), which
 * sends the relcache invalidations those triggers would have sent: every
 * backend of the worker rebuilds its caches before its next use.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/inval.h"

#include "lead_scoring.h"

static const char *const config_tables[] = {"attachment", "settings", "event_type",
											"threshold",  "rule",	  "transition_override"};

PG_FUNCTION_INFO_V1(ls_config_invalidate);
Datum
ls_config_invalidate(PG_FUNCTION_ARGS)
{
	int i;

	for (i = 0; i < lengthof(config_tables); i++)
		CacheInvalidateRelcacheByRelid(LsRelid(config_tables[i], false));
	PG_RETURN_VOID();
}
