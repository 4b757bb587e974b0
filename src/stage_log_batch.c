/*
 * stage_log_batch.c — the stage changes of a batch rewrite of lead rows logged with one INSERT per
 * batch instead of one per lead (doc/internals.md, "The stage log of a batch rewrite").
 *
 * leads_after writes one stage_change row for each lead whose stage a write changed, with one
 * INSERT each: for a COPY of events that promotes 100,000 leads that is 100,000 INSERT statements,
 * each started and ended by the executor.  While the scoring engine rewrites a batch of leads
 * (RewriteTouch of more than one lead), leads_after hands its rows here instead, and they are
 * inserted with one INSERT ... SELECT FROM unnest(...) when the batch's rewrite is over — the same
 * rows, in the same order (change_id), with the same values, through the same INSERT into the
 * same table (its own triggers, constraints and policies apply as before).
 *
 * What could tell the difference is something that reads stage_change between the rewrite of a
 * batch's lead and the end of the batch's rewrite: another AFTER row trigger on the leads table
 * (fired in the same queue as leads_after), or a statement run by a BEFORE row trigger on it.  So
 * rows are collected only when the leads table has no row triggers for UPDATE but the extension's
 * own (and PostgreSQL's internal ones, foreign keys); else each is inserted at once, as before.
 */
#include "postgres.h"

#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "catalog.h"
#include "citus_shards.h"
#include "spi_glue.h"
#include "stage_log_batch.h"

/* The rows collected for one batch's rewrite. */
struct StageLogBatch
{
	MemoryContext cxt;
	StageLogBatchLead in_batch; /* whether a lead is one of the batch's */
	int checked; /* 0: the leads table's triggers not looked at yet; 1 rows collected; -1 not */
	Oid leads_relid;
	Oid id_type;
	Oid stage_type;
	int n;
	int cap;
	Datum *ids;
	Datum *from;
	Datum *to;
	Datum *score;
	bool *score_null;
	Datum *actor;
	Datum *reason;
	Datum *owner;
	bool *owner_null;
	Datum *at;
};

static StageLogBatch *collecting = NULL;

StageLogBatch *
StageLogBatchBegin(StageLogBatchLead in_batch)
{
	StageLogBatch *outer = collecting;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring stage log batch",
											  ALLOCSET_DEFAULT_SIZES);
	StageLogBatch *b = MemoryContextAllocZero(cxt, sizeof(StageLogBatch));

	b->cxt = cxt;
	b->in_batch = in_batch;
	collecting = b;
	return outer;
}

/*
 * Whether the leads table's row triggers for UPDATE are the extension's own (leads_before,
 * leads_after) and PostgreSQL's internal ones only: then nothing else runs between the rewrite of
 * a lead and the end of the batch's rewrite that could read stage_change.
 */
static bool
OnlyOwnRowTriggers(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;
	Oid schema = LsSchemaOid();
	int i;

	if (trig == NULL)
		return true;
	for (i = 0; i < trig->numtriggers; i++)
	{
		const Trigger *t = &trig->triggers[i];
		char *name;

		if (!TRIGGER_FOR_ROW(t->tgtype) || !TRIGGER_FOR_UPDATE(t->tgtype) || t->tgisinternal)
			continue;
		if (get_func_namespace(t->tgfoid) != schema)
			return false;
		name = get_func_name(t->tgfoid);
		if (name == NULL || (strcmp(name, "leads_before") != 0 && strcmp(name, "leads_after") != 0))
			return false;
	}
	return true;
}

/* Make room for one more row. */
static void
Grow(StageLogBatch *b)
{
	MemoryContext old;

	if (b->n < b->cap)
		return;
	old = MemoryContextSwitchTo(b->cxt);
	b->cap = b->cap ? b->cap * 2 : 256;
#define GROW(f)                                                                                    \
	(b->f = b->f ? repalloc(b->f, sizeof(*b->f) * b->cap) : palloc(sizeof(*b->f) * b->cap))
	GROW(ids);
	GROW(from);
	GROW(to);
	GROW(score);
	GROW(score_null);
	GROW(actor);
	GROW(reason);
	GROW(owner);
	GROW(owner_null);
	GROW(at);
#undef GROW
	MemoryContextSwitchTo(old);
}

bool
StageLogBatchAdd(TriggerData *td, const LeadsAttachment *leads, Datum id, FunnelStage from,
				 FunnelStage to, int32 score, bool score_null, const char *actor,
				 const char *reason, const char *owner, TimestampTz at)
{
	StageLogBatch *b = collecting;
	Relation rel = td->tg_relation;
	MemoryContext old;
	int16 len;
	bool byval;
	int i;

	if (b == NULL || !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return false;
	if (b->checked == 0)
	{
		Oid stage_type = TupleDescAttr(RelationGetDescr(rel), leads->stage_att - 1)->atttypid;

		/* a Citus shard logs into its colocated shard of the log (stages.c): not collected */
		b->checked =
			(OnlyOwnRowTriggers(rel) && !LsIsShard(leads->relid) &&
			 OidIsValid(get_array_type(leads->id_type)) && OidIsValid(get_array_type(stage_type)))
				? 1
				: -1;
		b->leads_relid = RelationGetRelid(rel);
		b->id_type = leads->id_type;
		b->stage_type = stage_type;
	}
	/* only the batch's own leads, written by the rewrite to the table it was checked for */
	if (b->checked < 0 || RelationGetRelid(rel) != b->leads_relid || !b->in_batch(leads, id))
		return false;

	Grow(b);
	old = MemoryContextSwitchTo(b->cxt);
	i = b->n++;
	get_typlenbyval(leads->id_type, &len, &byval);
	b->ids[i] = datumCopy(id, byval, len);
	b->from[i] = FunnelStageGetDatum(from);
	b->to[i] = FunnelStageGetDatum(to);
	b->score[i] = Int32GetDatum(score);
	b->score_null[i] = score_null;
	b->actor[i] = CStringGetTextDatum(actor);
	b->reason[i] = CStringGetTextDatum(reason);
	b->owner[i] = owner != NULL ? CStringGetTextDatum(owner) : (Datum) 0;
	b->owner_null[i] = owner == NULL;
	b->at[i] = TimestampTzGetDatum(at);
	MemoryContextSwitchTo(old);
	return true;
}

/* The plan of the batch's INSERT, kept for the backend's life (per id and stage type). */
static SPIPlanPtr
BatchPlan(Oid id_type, Oid stage_type)
{
	static SPIPlanPtr plan = NULL;
	static Oid plan_types[2];
	Oid argtypes[8];

	if (plan != NULL && plan_types[0] == id_type && plan_types[1] == stage_type)
		return plan;
	if (plan != NULL)
		SPI_freeplan(plan);
	plan = NULL;
	argtypes[0] = get_array_type(id_type);
	argtypes[1] = argtypes[2] = get_array_type(stage_type);
	argtypes[3] = INT4ARRAYOID;
	argtypes[4] = argtypes[5] = argtypes[6] = TEXTARRAYOID;
	argtypes[7] = get_array_type(TIMESTAMPTZOID);
	/* ROWS FROM returns the rows in the arrays' order: change_id is drawn in that order */
	plan = LsKeepPlan("INSERT INTO lead_scoring.stage_change"
					  " (lead_id, from_stage, to_stage, score, actor, reason, owner, changed_at)"
					  " SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
					  " pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
					  " pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8))",
					  8, argtypes, true);
	plan_types[0] = id_type;
	plan_types[1] = stage_type;
	return plan;
}

/* An array of n values of a type. */
static Datum
ArrayOf(Datum *values, bool *nulls, int n, Oid type)
{
	int16 len;
	bool byval;
	char align;
	int dims[1];
	int lbs[1] = {1};

	dims[0] = n;
	get_typlenbyvalalign(type, &len, &byval, &align);
	return PointerGetDatum(
		construct_md_array(values, nulls, 1, dims, lbs, type, len, byval, align));
}

/* Insert the collected rows, as leads_after would have: as the extension owner. */
static void
Flush(StageLogBatch *b)
{
	Datum args[8];
	LsSavedUser saved;
	MemoryContext old;
	int rc;

	if (b->n == 0)
		return;
	old = MemoryContextSwitchTo(b->cxt);
	args[0] = ArrayOf(b->ids, NULL, b->n, b->id_type);
	args[1] = ArrayOf(b->from, NULL, b->n, b->stage_type);
	args[2] = ArrayOf(b->to, NULL, b->n, b->stage_type);
	args[3] = ArrayOf(b->score, b->score_null, b->n, INT4OID);
	args[4] = ArrayOf(b->actor, NULL, b->n, TEXTOID);
	args[5] = ArrayOf(b->reason, NULL, b->n, TEXTOID);
	args[6] = ArrayOf(b->owner, b->owner_null, b->n, TEXTOID);
	args[7] = ArrayOf(b->at, NULL, b->n, TIMESTAMPTZOID);
	MemoryContextSwitchTo(old);

	LsBecomeExtensionOwner(&saved);
	LsSpiConnect();
	rc = SPI_execute_plan(BatchPlan(b->id_type, b->stage_type), args, NULL, false, 0);
	if (rc != SPI_OK_INSERT || SPI_processed != (uint64) b->n)
		elog(ERROR, "could not write lead_scoring.stage_change: %s", SPI_result_code_string(rc));
	SPI_finish();
	LsRestoreUser(&saved);
}

void
StageLogBatchEnd(StageLogBatch *outer, bool flush)
{
	StageLogBatch *b = collecting;

	collecting = outer;
	if (b == NULL)
		return;
	if (flush)
		Flush(b);
	MemoryContextDelete(b->cxt);
}
