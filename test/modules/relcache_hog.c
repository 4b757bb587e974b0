/*
 * relcache_hog.c — a stand-in for extensions that register relcache
 * invalidation callbacks (Citus registers five).  Loaded with LOAD by
 * test/scripts/relcache_callbacks.sh, it takes relcache_hog.count slots of the
 * ten PostgreSQL gives a backend, so that lead_scoring must make do with what
 * is left.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"
#include "utils/inval.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static int hog_count = 0;
static uint64 hog_calls = 0;

static void
HogCallback(Datum arg, Oid relid)
{
	hog_calls++;
}

void
_PG_init(void)
{
	int i;

	DefineCustomIntVariable("relcache_hog.count", "Relcache callbacks registered at load.", NULL,
							&hog_count, 0, 0, 100, PGC_USERSET, 0, NULL, NULL, NULL);
	for (i = 0; i < hog_count; i++)
		CacheRegisterRelcacheCallback(HogCallback, Int32GetDatum(i));
}
