/*
 * rewrite_cache.c — what the executor-level rewrite of lead rows keeps across statements in a
 * backend: the leads table's row UPDATE triggers' WHEN conditions, compiled once, and the table's
 * id index (src/rewrite_cache.h; doc/internals.md, "What the rewrite keeps across statements").
 */
#include "postgres.h"

#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/pg_list.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteManip.h"
#include "rewrite/prs2lock.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "config_cache.h"
#include "rewrite_cache.h"

/* One compiled condition: its own memory context, a child of the cache's. */
typedef struct WhenEntry
{
	Oid relid;
	Oid tgoid;
	ExprState *qual; /* NULL: the condition folded to true (PostgreSQL then compiles it itself) */
	MemoryContext cxt;
} WhenEntry;

static MemoryContext when_cxt = NULL; /* under CacheMemoryContext: the list and the entries */
static List *when_entries = NIL;
static bool in_use = false; /* a rewrite is using the entries' ExprStates */
static Oid stale_relid = InvalidOid;
static bool stale_some = false; /* entries of stale_relid (all when InvalidOid) to drop */

/* The id index of each leads relation the rewrite found one for (a table, or Citus shards). */
typedef struct ShapeEntry
{
	Oid relid;
	RewriteShape shape;
} ShapeEntry;

static List *shapes = NIL; /* in when_cxt */
static uint64 shape_generation = 0;

/* The cache's memory, created on first use (CacheMemoryContext exists by then). */
static MemoryContext
CacheContext(void)
{
	if (when_cxt == NULL)
		when_cxt = AllocSetContextCreate(CacheMemoryContext, "lead_scoring rewrite cache",
										 ALLOCSET_SMALL_SIZES);
	return when_cxt;
}

/* Forget the shapes of relid (InvalidOid: all of them). */
static void
ForgetShapes(Oid relid)
{
	ListCell *lc;

	foreach (lc, shapes)
	{
		ShapeEntry *e = lfirst(lc);

		if (!OidIsValid(relid) || e->relid == relid)
		{
			shapes = foreach_delete_current(shapes, lc);
			pfree(e);
		}
	}
}

bool
RewriteShapeGet(Oid relid, RewriteShape *shape)
{
	ListCell *lc;

	foreach (lc, shapes)
	{
		ShapeEntry *e = lfirst(lc);

		if (e->relid == relid)
		{
			*shape = e->shape;
			return true;
		}
	}
	return false;
}

uint64
RewriteShapeGeneration(void)
{
	return shape_generation;
}

void
RewriteShapeSet(Oid relid, const RewriteShape *shape, uint64 generation)
{
	MemoryContext old;
	ShapeEntry *e;

	if (generation != shape_generation)
		return; /* found while an invalidation arrived */
	ForgetShapes(relid);
	old = MemoryContextSwitchTo(CacheContext());
	e = palloc(sizeof(ShapeEntry));
	e->relid = relid;
	e->shape = *shape;
	shapes = lappend(shapes, e);
	MemoryContextSwitchTo(old);
}

/* Drop the entries an invalidation made stale (never while they are in use). */
static void
DropStale(void)
{
	List *kept = NIL;
	ListCell *lc;
	MemoryContext old;

	if (!stale_some || in_use)
		return;
	old = MemoryContextSwitchTo(CacheContext());
	foreach (lc, when_entries)
	{
		WhenEntry *e = lfirst(lc);

		if (!OidIsValid(stale_relid) || e->relid == stale_relid)
			MemoryContextDelete(e->cxt); /* e is in it */
		else
			kept = lappend(kept, e);
	}
	list_free(when_entries);
	when_entries = kept;
	MemoryContextSwitchTo(old);
	stale_some = false;
	stale_relid = InvalidOid;
}

/* Mark the entries of relid (InvalidOid: all) stale; dropped at once unless in use. */
static void
MarkStale(Oid relid)
{
	if (when_entries == NIL)
		return;
	if (stale_some && stale_relid != relid)
		relid = InvalidOid; /* two relations: drop everything */
	stale_relid = relid;
	stale_some = true;
	DropStale();
}

static void
RewriteRelcacheCallback(Oid relid)
{
	MarkStale(relid);
	shape_generation++;
	ForgetShapes(relid);
}

static void
RewriteSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	MarkStale(InvalidOid);
	shape_generation++;
	ForgetShapes(InvalidOid);
}

void
RewriteCacheInit(void)
{
	RelcacheListen(RewriteRelcacheCallback);
	CacheRegisterSyscacheCallback(PROCOID, RewriteSyscacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, RewriteSyscacheCallback, (Datum) 0);
}

/*
 * Compile a trigger's WHEN condition as TriggerEnabled() does (OLD as the inner tuple, NEW as
 * the outer one, implicit AND, planned, initialised without a parent), into its own context,
 * which joins the cache only once the compilation succeeded.
 */
static WhenEntry *
CompileWhen(Oid relid, const Trigger *trigger)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring WHEN condition",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Node *qual = stringToNode(trigger->tgqual);
	WhenEntry *e;

	ChangeVarNodes(qual, PRS2_OLD_VARNO, INNER_VAR, 0);
	ChangeVarNodes(qual, PRS2_NEW_VARNO, OUTER_VAR, 0);
	qual = (Node *) make_ands_implicit((Expr *) qual);
	qual = (Node *) expression_planner((Expr *) qual);
	e = palloc(sizeof(WhenEntry));
	e->relid = relid;
	e->tgoid = trigger->tgoid;
	e->qual = ExecInitQual((List *) qual, NULL);
	e->cxt = cxt;
	MemoryContextSwitchTo(CacheContext());
	MemoryContextSetParent(cxt, CacheContext());
	when_entries = lappend(when_entries, e);
	MemoryContextSwitchTo(old);
	return e;
}

static WhenEntry *
FindWhen(Oid relid, Oid tgoid)
{
	ListCell *lc;

	foreach (lc, when_entries)
	{
		WhenEntry *e = lfirst(lc);

		if (e->relid == relid && e->tgoid == tgoid)
			return e;
	}
	return NULL;
}

bool
TriggerWhenCacheUse(ResultRelInfo *rri)
{
	TriggerDesc *trig = rri->ri_TrigDesc;
	Oid relid = RelationGetRelid(rri->ri_RelationDesc);
	int i;

	if (in_use || trig == NULL)
		return false;
	DropStale();
	/* in use from here: an invalidation processed while compiling waits for the end */
	in_use = true;
	PG_TRY();
	{
		for (i = 0; i < trig->numtriggers; i++)
		{
			Trigger *t = &trig->triggers[i];
			WhenEntry *e;

			if (t->tgqual == NULL || !TRIGGER_FOR_ROW(t->tgtype) ||
				!TRIGGER_FOR_UPDATE(t->tgtype) || rri->ri_TrigWhenExprs[i] != NULL)
				continue;
			e = FindWhen(relid, t->tgoid);
			if (e == NULL)
				e = CompileWhen(relid, t);
			rri->ri_TrigWhenExprs[i] = e->qual;
		}
	}
	PG_CATCH();
	{
		in_use = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
	return true;
}

void
TriggerWhenCacheDone(void)
{
	in_use = false;
	DropStale();
}
