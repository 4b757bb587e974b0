/*
 * config_cache.c — freshness of per-backend caches of configuration tables
 * (see config_cache.h) and the module's one relcache invalidation callback.
 * The invalidations these caches listen for are sent by the statement
 * triggers of src/config_changed.c.
 *
 * PostgreSQL gives a backend room for ten relcache callbacks, shared by every
 * loaded library (core takes two; Citus alone takes five).  lead_scoring
 * registers exactly one, here, and dispatches each invalidation to every
 * ConfigCache and to the other caches that listen (the attachment cache).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "spi_glue.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "config_cache.h"
#include "catalog.h"

/* a handful of caches: the arrays are sized for all of them with room to spare */
#define MAX_CONFIG_CACHES 16
#define MAX_LISTENERS	  8

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

/*
 * Process the invalidations other backends have committed, once per command.
 * PostgreSQL processes them only when a lock is acquired anew, so a statement
 * of an open transaction that takes no new lock (SELECT can_transition(...),
 * an INSERT into a table the transaction already wrote) would go on using a
 * configuration another session has changed and committed.  The documented
 * promise is "every other session's next statement" (README, "Settings").
 */
void
ConfigCacheAcceptChanges(void)
{
	static LocalTransactionId seen_lxid = InvalidLocalTransactionId;
	static TimestampTz seen_statement = 0;
	static CommandId seen_command = InvalidCommandId;
	TimestampTz statement = GetCurrentStatementStartTimestamp();
	CommandId command = GetCurrentCommandId(false);

	if (MyProc->lxid == seen_lxid && statement == seen_statement && command == seen_command)
		return;
	seen_lxid = MyProc->lxid;
	seen_statement = statement;
	seen_command = command;
	AcceptInvalidationMessages();
}

void
ConfigCacheEnsure(ConfigCache *cache, void (*load)(void))
{
	ConfigCacheAcceptChanges();
	while (!cache->valid)
	{
		uint64 seen = cache->inval_count;

		cache->relid = LsRelid(cache->relname, false);
		load();
		/* an invalidation that arrived while loading means the load may be stale */
		cache->valid = (seen == cache->inval_count);
	}
}

/*
 * Run a cache's load query (SPI connected) with the latest snapshot, not the
 * transaction's: a repeatable-read transaction that rebuilds a cache after
 * another session's change must load that change, or the stale rebuild would
 * be kept as valid after the transaction ends.  The latest snapshot includes
 * this transaction's own earlier commands.
 */
int
ConfigCacheQuery(const char *sql)
{
	return LsExecuteLatest(sql, 0, NULL, NULL, NULL, false, 0);
}

void
ConfigCacheKeep(MemoryContext *current, MemoryContext built)
{
	MemoryContextSetParent(built, CacheMemoryContext);
	if (*current != NULL)
		MemoryContextSetParent(*current, TopTransactionContext);
	*current = built;
}
