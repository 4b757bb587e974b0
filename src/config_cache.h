/*
 * config_cache.h — freshness of per-backend caches of configuration tables.
 *
 * Each configuration table carries the statement trigger config_changed(),
 * which sends a relcache invalidation for the table.  A ConfigCache watches
 * one table: the invalidation marks it stale, and ConfigCacheEnsure() reloads
 * it until a load completes without an invalidation arriving meanwhile.  The
 * table's OID is looked up at every load, so a table dropped and created again
 * (DROP EXTENSION, CREATE EXTENSION in one session) is watched under its new OID.
 */
#ifndef CONFIG_CACHE_H
#define CONFIG_CACHE_H

#include "postgres.h"

typedef struct ConfigCache
{
	const char *relname; /* the table, in the extension's schema */
	Oid relid;
	bool valid;
	uint64 inval_count;
} ConfigCache;

#define CONFIG_CACHE(name)                                                                         \
	{                                                                                              \
		(name), InvalidOid, false, 0                                                               \
	}

/* Make the cache hear relcache invalidations (once per backend, from _PG_init). */
extern void ConfigCacheRegister(ConfigCache *cache);

/* Process other sessions' committed changes, once per command (every cache use calls it). */
extern void ConfigCacheAcceptChanges(void);

/*
 * Other caches hear invalidations through a listener, called with the
 * invalidated relation's OID (InvalidOid: all of them).  The module registers
 * one relcache callback in all, which calls every cache and listener.
 */
typedef void (*RelcacheListener)(Oid relid);
extern void RelcacheListen(RelcacheListener listener);

/* Make the cache current, calling load() as often as needed. */
extern void ConfigCacheEnsure(ConfigCache *cache, void (*load)(void));

/* Run a load query with the latest snapshot (SPI connected); returns SPI_execute's result code. */
extern int ConfigCacheQuery(const char *sql);

/*
 * A cache's new build, made in its own context 'built' (under the current context, so that a failed
 * build leaks nothing), becomes the cache's: 'built' moves under CacheMemoryContext and replaces
 * *current, whose build stays readable until the end of the transaction (pointers a caller still
 * holds stay valid).
 */
extern void ConfigCacheKeep(MemoryContext *current, MemoryContext built);

#endif /* CONFIG_CACHE_H */
