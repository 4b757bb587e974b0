/*
 * rewrite_cache.h — what the executor-level rewrite of lead rows keeps across statements and
 * transactions in a backend (doc/internals.md, "What the rewrite keeps across statements"): the
 * WHEN conditions of the leads table's row UPDATE triggers, compiled once, and the table's id
 * index with the lock mode of its rewrites.
 *
 * WHEN conditions.  PostgreSQL compiles a trigger's WHEN condition (stringToNode,
 * expression_planner, ExecInitQual) into the memory of each executor state, so a rewrite that
 * starts an executor state per statement compiled the stage log trigger's condition for every
 * single-row event INSERT.  The cache keeps the compiled conditions, keyed by relation and trigger
 * OID, and hands them to a ResultRelInfo before its triggers fire; PostgreSQL uses a condition
 * already present as it uses the one it compiled for the first row of a statement.
 *
 * Freshness: an invalidation of the relation (trigger created, replaced, dropped, enabled or
 * disabled; ALTER TABLE; DROP EXTENSION) drops the relation's conditions, any change to pg_proc
 * or pg_type (a function the condition calls replaced, a type's functions changed) drops all of
 * them.  Invalidations arriving while a condition is being evaluated take effect when the
 * rewrite that uses it ends.  A rewrite nested inside another's trigger (a WHEN condition or
 * trigger writing events) leaves its conditions to PostgreSQL: an ExprState is not re-entrant.
 */
#ifndef REWRITE_CACHE_H
#define REWRITE_CACHE_H

#include "postgres.h"

#include "nodes/execnodes.h"
#include "nodes/lockoptions.h"

/* Register the invalidation callbacks (from _PG_init). */
extern void RewriteCacheInit(void);

/*
 * Give rri's row UPDATE triggers their compiled WHEN conditions (compiling those not cached
 * yet).  True when rri now uses the cache: TriggerWhenCacheDone() must follow once rri's
 * triggers have fired (also after an error); false (nested use, or the cache switched off)
 * leaves rri as it was.
 */
extern bool TriggerWhenCacheUse(ResultRelInfo *rri);
extern void TriggerWhenCacheDone(void);

/*
 * The id index.  Finding it needs every index of the table opened and the id type's btree
 * equality looked up; the cache keeps which index it was (a hint: the caller opens that index
 * alone and checks it again from the relcache before using it), the operator family and its
 * equality, and the lock mode of the rewrite's row locks (the UPDATE's: key columns updated or
 * not).  The other indexes are opened only when a rewrite is not HOT and needs their entries.
 * Dropped, as the WHEN conditions, on an invalidation of the relation and on any change to
 * pg_proc or pg_type; a shape found while an invalidation arrived is not kept.
 */
typedef struct RewriteShape
{
	Oid index;	/* the unique btree index on the id column alone */
	Oid family; /* the id type's default btree operator family */
	Oid subtype;
	RegProcedure eqproc; /* its equality */
	LockTupleMode lockmode;
	/* the extension's own row triggers (src/lead_rewrite.h): the index in the relation's trigger
	 * descriptor of its only row-level BEFORE UPDATE trigger when it is the extension's (else -1)
	 * and that trigger's OID; whether every row-level AFTER UPDATE trigger is the extension's */
	int own_before;
	Oid own_before_oid;
	bool own_after_only;
} RewriteShape;

/* The shape of relid as last stored, if still valid. */
extern bool RewriteShapeGet(Oid relid, RewriteShape *shape);
/* The invalidation count to pass to RewriteShapeSet, read before looking the shape up. */
extern uint64 RewriteShapeGeneration(void);
extern void RewriteShapeSet(Oid relid, const RewriteShape *shape, uint64 generation);

#endif /* REWRITE_CACHE_H */
