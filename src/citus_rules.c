/*
 * citus_rules.c — the rule set addressed to a leads shard and the colocated events shards (see
 * citus_rules.h and doc/scale-out.md, "The shard-local write path").
 *
 * A copy of the rule set: the same compiled rules, fingerprints and event types; the leads and
 * events attachments replaced by their shards' (names, column numbers, rows to read), the column
 * numbers of the rules' columns resolved on the shards, the events tables' lead indexes replaced
 * by the shards' matching indexes (the direct index reads of score.c then work on shards too), and
 * no plans yet: each copy prepares its own.
 *
 * The copies live in a memory context under the rule set's, so they go with it; their plans are
 * freed when that context goes.  A copy whose shard is invalidated (a move or a split drops it) is
 * taken out of the cache but not freed: a trigger further up the stack may still be using it.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/index.h"
#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "attachment.h"
#include "citus_rules.h"
#include "citus_shards.h"
#include "config_cache.h"

typedef struct NearEntry
{
	Oid shard; /* hash key: the leads shard */
	RuleSet *rs;
} NearEntry;

/* The copies made from one rule set. */
typedef struct NearSets
{
	RuleSet *parent;
	MemoryContext cxt; /* under the parent's context */
	HTAB *entries;	   /* NearEntry */
	List *all;		   /* every copy made, cached or not: their plans are freed with cxt */
} NearSets;

static NearSets *near = NULL;

static void
FreePlan(SPIPlanPtr *p)
{
	if (*p != NULL)
		SPI_freeplan(*p);
	*p = NULL;
}

/* The copies' context is going (with their rule set): free their plans. */
static void
ForgetNearSets(void *arg)
{
	NearSets *sets = arg;
	ListCell *lc;

	foreach (lc, sets->all)
	{
		RuleSet *c = lfirst(lc);
		int s;

		FreePlan(&c->lead_row_plan);
		FreePlan(&c->lock_plan);
		FreePlan(&c->update_plan);
		FreePlan(&c->touch_plan);
		FreePlan(&c->touch_many_plan);
		FreePlan(&c->refresh_first_plan);
		FreePlan(&c->refresh_next_plan);
		for (s = 0; s < c->nsources; s++)
		{
			FreePlan(&c->sources[s].lead_plan);
			FreePlan(&c->sources[s].batch_plan);
		}
	}
	if (near == sets)
		near = NULL;
}

/* A shard invalidated: the copies addressed to it are made anew at their next use. */
static void
NearInvalCallback(Oid relid)
{
	HASH_SEQ_STATUS seq;
	NearEntry *e;

	if (near == NULL)
		return;
	hash_seq_init(&seq, near->entries);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		bool stale = (relid == InvalidOid || e->shard == relid);
		int s;

		for (s = 0; !stale && s < e->rs->nsources; s++)
			stale = (e->rs->sources[s].events->relid == relid);
		if (stale)
			hash_search(near->entries, &e->shard, HASH_REMOVE, NULL);
	}
}

void
CitusRulesInit(void)
{
	RelcacheListen(NearInvalCallback);
}

static NearSets *
NearSetsOf(RuleSet *rs)
{
	MemoryContext cxt;
	MemoryContextCallback *cb;
	HASHCTL ctl;
	NearSets *sets;

	if (near != NULL && near->parent == rs)
		return near;
	cxt = AllocSetContextCreate(rs->cxt, "lead_scoring shard rules", ALLOCSET_SMALL_SIZES);
	sets = MemoryContextAllocZero(cxt, sizeof(NearSets));
	sets->parent = rs;
	sets->cxt = cxt;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(NearEntry);
	ctl.hcxt = cxt;
	sets->entries =
		hash_create("lead_scoring shard rules", 8, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	cb->func = ForgetNearSets;
	cb->arg = sets;
	MemoryContextRegisterResetCallback(cxt, cb);
	near = sets;
	return sets;
}

/*
 * The index of a shard that is the shard's copy of a table's index: the same access method,
 * columns (by the shard's numbers), operator families and collations, with no expressions and no
 * predicate.  InvalidOid when there is none.
 */
static Oid
ShardIndex(Oid index, Oid table, Oid shard)
{
	Relation ix;
	Relation heap;
	List *indexes;
	ListCell *lc;
	Oid result = InvalidOid;

	if (!OidIsValid(index))
		return InvalidOid;
	ix = index_open(index, AccessShareLock);
	heap = table_open(shard, AccessShareLock);
	indexes = RelationGetIndexList(heap);
	foreach (lc, indexes)
	{
		Relation c = index_open(lfirst_oid(lc), AccessShareLock);
		bool same = c->rd_rel->relam == ix->rd_rel->relam && c->rd_index->indisvalid &&
					c->rd_index->indnatts == ix->rd_index->indnatts &&
					c->rd_index->indnkeyatts == ix->rd_index->indnkeyatts &&
					RelationGetIndexExpressions(c) == NIL && RelationGetIndexPredicate(c) == NIL;
		int j;

		for (j = 0; same && j < ix->rd_index->indnatts; j++)
			same = c->rd_index->indkey.values[j] ==
				   LsShardColumn(table, shard, ix->rd_index->indkey.values[j]);
		for (j = 0; same && j < ix->rd_index->indnkeyatts; j++)
			same = c->rd_opfamily[j] == ix->rd_opfamily[j] &&
				   c->rd_indcollation[j] == ix->rd_indcollation[j];
		index_close(c, AccessShareLock);
		if (same)
		{
			result = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	table_close(heap, AccessShareLock);
	index_close(ix, AccessShareLock);
	return result;
}

/* The copy of the rule set addressed to one leads shard (memory in the current context). */
static RuleSet *
CopyForShard(RuleSet *rs, Oid leads_shard)
{
	RuleSet *c = palloc(sizeof(RuleSet));
	Oid leads = rs->leads->relid;
	int i;
	int s;

	memcpy(c, rs, sizeof(RuleSet));
	c->leads = LsLeadsShardAttachment(leads_shard);
	c->fit_atts = palloc(sizeof(AttrNumber) * Max(rs->nfit_atts, 1));
	for (i = 0; i < rs->nfit_atts; i++)
		c->fit_atts[i] = LsShardColumn(leads, leads_shard, rs->fit_atts[i]);
	c->sources = palloc(sizeof(EventSource) * Max(rs->nsources, 1));
	for (s = 0; s < rs->nsources; s++)
	{
		EventSource *src = &rs->sources[s];
		EventSource *dst = &c->sources[s];
		Oid table = src->events->relid;
		Oid shard = LsColocatedShard(leads_shard, table);

		if (!OidIsValid(shard))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("events table \"%s\" is not colocated with the leads table \"%s\"",
							get_rel_name(table), get_rel_name(leads)),
					 errdetail("This node holds leads shard \"%s\" but no shard of the events "
							   "table with the same hash range.",
							   get_rel_name(leads_shard)),
					 errhint("Distribute it by its lead column with colocate_with => '%s'.",
							 get_rel_name(leads))));
		memcpy(dst, src, sizeof(EventSource));
		dst->events = LsEventsShardAttachment(shard);
		dst->atts = palloc(sizeof(AttrNumber) * Max(src->ncols, 1));
		for (i = 0; i < src->ncols; i++)
			dst->atts[i] = LsShardColumn(table, shard, src->atts[i]);
		dst->index_oid = ShardIndex(src->index_oid, table, shard);
		dst->lead_plan = NULL;
		dst->batch_plan = NULL;
	}
	c->lead_row_plan = NULL;
	c->lock_plan = NULL;
	c->update_plan = NULL;
	c->touch_plan = NULL;
	c->touch_many_plan = NULL;
	c->refresh_first_plan = NULL;
	c->refresh_next_plan = NULL;
	return c;
}

RuleSet *
LsRulesNear(RuleSet *rs, Oid relid)
{
	NearSets *sets;
	NearEntry *e;
	Oid leads_shard;
	bool found;
	MemoryContext old;
	RuleSet *c;

	if (rs->leads == NULL || relid == rs->leads->relid || !LsIsShard(relid))
		return rs;
	leads_shard = LsLogicalRelid(relid) == rs->leads->relid
					  ? relid
					  : LsLeadsAttachmentNearRelid(relid)->relid;
	sets = NearSetsOf(rs);
	e = hash_search(sets->entries, &leads_shard, HASH_FIND, NULL);
	if (e != NULL)
		return e->rs;
	old = MemoryContextSwitchTo(sets->cxt);
	c = CopyForShard(rs, leads_shard);
	sets->all = lappend(sets->all, c);
	MemoryContextSwitchTo(old);
	/* entered only now: building it may have processed invalidations */
	e = hash_search(sets->entries, &leads_shard, HASH_ENTER, &found);
	e->rs = c;
	return c;
}
