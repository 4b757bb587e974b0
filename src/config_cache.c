/*
 * config_cache.c — freshness of per-backend caches of configuration tables
 * (see config_cache.h).
 */
#include "postgres.h"

#include "utils/inval.h"

#include "config_cache.h"
#include "lead_scoring.h"

static void
ConfigCacheCallback(Datum arg, Oid relid)
{
	ConfigCache *cache = (ConfigCache *) DatumGetPointer(arg);

	if (relid == InvalidOid || relid == cache->relid)
	{
		cache->valid = false;
		cache->inval_count++;
	}
}

void
ConfigCacheRegister(ConfigCache *cache)
{
	CacheRegisterRelcacheCallback(ConfigCacheCallback, PointerGetDatum(cache));
}

void
ConfigCacheEnsure(ConfigCache *cache, void (*load)(void))
{
	while (!cache->valid)
	{
		uint64 seen = cache->inval_count;

		cache->relid = LsRelid(cache->relname, false);
		load();
		/* an invalidation that arrived while loading means the load may be stale */
		cache->valid = (seen == cache->inval_count);
	}
}
