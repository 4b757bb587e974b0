/*
 * trigger_when_cache.h — the WHEN conditions of the leads table's row UPDATE triggers, compiled
 * once per backend and kept across statements and transactions for the executor-level rewrite
 * (doc/internals.md, "Rewriting lead rows").
 *
 * PostgreSQL compiles a trigger's WHEN condition (stringToNode, expression_planner, ExecInitQual)
 * into the memory of each executor state, so a rewrite that starts an executor state per
 * statement compiled the stage log trigger's condition for every single-row event INSERT.  The
 * cache keeps the compiled conditions, keyed by relation and trigger OID, and hands them to a
 * ResultRelInfo before its triggers fire; PostgreSQL uses a condition already present as it uses
 * the one it compiled for the first row of a statement.
 *
 * Freshness: an invalidation of the relation (trigger created, replaced, dropped, enabled or
 * disabled; ALTER TABLE; DROP EXTENSION) drops the relation's conditions, any change to pg_proc
 * or pg_type (a function the condition calls replaced, a type's functions changed) drops all of
 * them.  Invalidations arriving while a condition is being evaluated take effect when the
 * rewrite that uses it ends.  A rewrite nested inside another's trigger (a WHEN condition or
 * trigger writing events) leaves its conditions to PostgreSQL: an ExprState is not re-entrant.
 */
#ifndef TRIGGER_WHEN_CACHE_H
#define TRIGGER_WHEN_CACHE_H

#include "postgres.h"

#include "nodes/execnodes.h"

/* Register the invalidation callbacks (from _PG_init). */
extern void TriggerWhenCacheInit(void);

/*
 * Give rri's row UPDATE triggers their compiled WHEN conditions (compiling those not cached
 * yet).  True when rri now uses the cache: TriggerWhenCacheDone() must follow once rri's
 * triggers have fired (also after an error); false (nested use, or the cache switched off)
 * leaves rri as it was.
 */
extern bool TriggerWhenCacheUse(ResultRelInfo *rri);
extern void TriggerWhenCacheDone(void);

#endif /* TRIGGER_WHEN_CACHE_H */
