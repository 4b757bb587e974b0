/*
 * config_cache.c — freshness of per-backend caches of configuration tables
 * (see config_cache.h), and the module's one relcache invalidation callback.
 *
 * PostgreSQL gives a backend room for ten relcache callbacks, shared by every
 * loaded library (core takes two; Citus alone takes five).  lead_scoring
 * registers exactly one, here, and dispatches each invalidation to every
 * ConfigCache and to the other caches that listen (the attachment cache).
 */
#include "postgres.h"

#include "utils/inval.h"

#include "config_cache.h"
#include "lead_scoring.h"

/* a handful of caches: the arrays are sized for all of them with room to spare */
#define MAX_CONFIG_CACHES 16
#define MAX_LISTENERS	  4

static ConfigCache *config_caches[MAX_CONFIG_CACHES];
static int nconfig_caches = 0;
static RelcacheListener listeners[MAX_LISTENERS];
static int nlisteners = 0;
static bool callback_registered = false;

/* The module's only relcache callback: every cache hears every invalidation. */
static void
LsRelcacheCallback(Datum arg, Oid relid)
{
	int i;

	for (i = 0; i < nconfig_caches; i++)
	{
		ConfigCache *cache = config_caches[i];

		if (relid == InvalidOid || relid == cache->relid)
		{
			cache->valid = false;
			cache->inval_count++;
		}
	}
	for (i = 0; i < nlisteners; i++)
		listeners[i](relid);
}

static void
RegisterCallbackOnce(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(LsRelcacheCallback, (Datum) 0);
		callback_registered = true;
	}
}

void
ConfigCacheRegister(ConfigCache *cache)
{
	if (nconfig_caches >= MAX_CONFIG_CACHES)
		elog(ERROR, "too many lead_scoring configuration caches");
	config_caches[nconfig_caches++] = cache;
	RegisterCallbackOnce();
}

void
RelcacheListen(RelcacheListener listener)
{
	if (nlisteners >= MAX_LISTENERS)
		elog(ERROR, "too many lead_scoring relcache listeners");
	listeners[nlisteners++] = listener;
	RegisterCallbackOnce();
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
