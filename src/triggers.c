/*
 * triggers.c — the triggers that keep lead scores current.
 *
 * leads_before (BEFORE INSERT OR UPDATE, per row) computes the score of the
 * row being written and applies the stage policy.  events_changed (AFTER
 * INSERT / UPDATE / DELETE per statement, with transition tables, and AFTER
 * TRUNCATE) collects the leads the statement touched, sorts them by the id
 * type's btree order and updates each lead row once, so leads_before
 * rescores it; the fixed order means two concurrent batches lock the same
 * leads in the same order and cannot deadlock.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/qunique.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "attachment.h"
#include "lead_scoring.h"
#include "score.h"
#include "stages.h"

static void
CheckTriggerCall(FunctionCallInfo fcinfo, const char *fname, bool before, bool row)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("%s() must be called as a trigger", fname)));
	if ((TRIGGER_FIRED_BEFORE(td->tg_event) != 0) != before ||
		(TRIGGER_FIRED_FOR_ROW(td->tg_event) != 0) != row)
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("%s() must be fired %s ... FOR EACH %s", fname,
							   before ? "BEFORE" : "AFTER", row ? "ROW" : "STATEMENT")));
}

/* leads_before(): score the row being written and settle its stage. */
PG_FUNCTION_INFO_V1(leads_before);
Datum
leads_before(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation rel;
	TupleDesc desc;
	LeadsAttachment *leads;
	HeapTuple row;
	LeadWrite write;
	bool isnull;
	Datum d;
	int cols[2];
	Datum values[2];
	bool nulls[2] = {false, false};
	LsSavedUser saved;

	CheckTriggerCall(fcinfo, "leads_before", true, true);
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("leads_before() must be fired for INSERT or UPDATE")));
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	leads = LsLeadsAttachment();
	if (RelationGetRelid(rel) != leads->relid)
		ereport(
			ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("leads_before() fired on table \"%s\", which is not the attached leads table",
					RelationGetRelationName(rel))));

	memset(&write, 0, sizeof(write));
	write.leads = leads;
	write.is_insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	row = write.is_insert ? td->tg_trigtuple : td->tg_newtuple;
	write.lead_id = heap_getattr(row, leads->id_att, desc, &isnull);
	if (isnull)
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("a lead's id must not be NULL"),
						errdetail("Column \"%s\" of table \"%s\" identifies leads.",
								  NameStr(TupleDescAttr(desc, leads->id_att - 1)->attname),
								  RelationGetRelationName(rel))));
	d = heap_getattr(row, leads->stage_att, desc, &isnull);
	if (isnull && !write.is_insert)
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
						errmsg("the stage of lead %s must not be NULL",
							   LsLeadIdText(leads, write.lead_id))));
	write.new_stage = isnull ? FS_NEW : DatumGetFunnelStage(d);
	if (!write.is_insert)
	{
		d = heap_getattr(td->tg_trigtuple, leads->stage_att, desc, &isnull);
		write.old_stage = isnull ? FS_NEW : DatumGetFunnelStage(d);
		d = heap_getattr(td->tg_trigtuple, leads->score_att, desc, &isnull);
		write.old_score = isnull ? 0 : DatumGetInt32(d);
	}

	/* scoring reads the lead's events, which the writing role need not see */
	LsBecomeExtensionOwner(&saved);
	write.new_score = ScoreLead(leads, row, desc, GetCurrentTransactionStartTimestamp());
	LsRestoreUser(&saved);

	cols[0] = leads->score_att;
	values[0] = Int32GetDatum(write.new_score);
	cols[1] = leads->stage_att;
	values[1] = FunnelStageGetDatum(StageForWrite(&write));
	return PointerGetDatum(heap_modify_tuple_by_cols(row, desc, 2, cols, values, nulls));
}

/* Sorting lead ids with the id type's comparison function. */
static int
CompareLeadIds(const void *a, const void *b, void *arg)
{
	return LsCompareLeadIds((const LeadsAttachment *) arg, *(const Datum *) a, *(const Datum *) b);
}

typedef struct LeadIdSet
{
	Datum *ids;
	int n;
	int cap;
} LeadIdSet;

/* Add the lead ids found in a transition table. */
static void
CollectLeadIds(LeadIdSet *set, Tuplestorestate *ts, TupleDesc desc, AttrNumber lead_att,
			   const LeadsAttachment *leads)
{
	TupleTableSlot *slot;

	if (ts == NULL)
		return;
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool isnull;
		Datum id = slot_getattr(slot, lead_att, &isnull);

		if (isnull)
			continue;
		if (set->n == set->cap)
		{
			set->cap = set->cap ? set->cap * 2 : 64;
			set->ids = set->ids ? repalloc_huge(set->ids, sizeof(Datum) * set->cap)
								: palloc(sizeof(Datum) * set->cap);
		}
		set->ids[set->n++] = datumCopy(id, leads->id_byval, leads->id_len);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* The cached plan that touches one lead row so that leads_before rescores it. */
static SPIPlanPtr touch_plan = NULL;
static uint64 touch_plan_generation = 0;

static SPIPlanPtr
TouchPlan(const LeadsAttachment *leads)
{
	uint64 generation = LsAttachments()->generation;

	if (touch_plan == NULL || touch_plan_generation != generation)
	{
		char *sql = psprintf("UPDATE %s SET %s = %s WHERE %s %s $1", leads->qualname,
							 leads->score_col, leads->score_col, leads->id_col, leads->id_eq);
		Oid argtype = leads->id_type;
		SPIPlanPtr plan = SPI_prepare(sql, 1, &argtype);

		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		if (touch_plan != NULL)
			SPI_freeplan(touch_plan);
		touch_plan = plan;
		touch_plan_generation = generation;
	}
	return touch_plan;
}

/* Rescore the given leads, in the order given, once each. */
static void
TouchLeads(const LeadsAttachment *leads, const Datum *ids, int n)
{
	SPIPlanPtr plan;
	int i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = TouchPlan(leads);
	for (i = 0; i < n; i++)
	{
		Datum arg = ids[i];
		int rc = SPI_execute_plan(plan, &arg, NULL, false, 0);

		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "rescoring a lead failed: %s", SPI_result_code_string(rc));
	}
	SPI_finish();
}

/* Rescore every lead, in id order. */
static void
RescoreAll(const LeadsAttachment *leads)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring rescore_all",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	LeadIdSet set = {NULL, 0, 0};
	char *sql;
	uint64 i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sql = psprintf("SELECT %s FROM %s ORDER BY 1", leads->id_col, leads->qualname);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the leads");
	old = MemoryContextSwitchTo(cxt);
	set.cap = Max(SPI_processed, 1);
	set.ids = palloc_extended(sizeof(Datum) * set.cap, MCXT_ALLOC_HUGE);
	for (i = 0; i < SPI_processed; i++)
	{
		bool isnull;
		Datum id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			set.ids[set.n++] = datumCopy(id, leads->id_byval, leads->id_len);
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
	TouchLeads(leads, set.ids, set.n);
	MemoryContextDelete(cxt);
}

/* events_changed(): rescore the leads whose events a statement inserted, updated or deleted. */
PG_FUNCTION_INFO_V1(events_changed);
Datum
events_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation rel;
	EventsAttachment *events;
	LeadsAttachment *leads;
	MemoryContext cxt;
	MemoryContext old;
	LeadIdSet set = {NULL, 0, 0};
	LsSavedUser saved;

	CheckTriggerCall(fcinfo, "events_changed", false, false);
	rel = td->tg_relation;
	events = LsEventsAttachment(RelationGetRelid(rel));
	if (events == NULL)
		ereport(
			ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("events_changed() fired on table \"%s\", which is not an attached events table",
					RelationGetRelationName(rel)),
			 errhint("Use lead_scoring.attach_events() and lead_scoring.detach().")));
	leads = LsLeadsAttachment();

	LsBecomeExtensionOwner(&saved);
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		RescoreAll(leads);
	else
	{
		cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring events_changed",
									ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(cxt);
		CollectLeadIds(&set, td->tg_newtable, RelationGetDescr(rel), events->lead_att, leads);
		CollectLeadIds(&set, td->tg_oldtable, RelationGetDescr(rel), events->lead_att, leads);
		if (set.n > 1)
		{
			qsort_arg(set.ids, set.n, sizeof(Datum), CompareLeadIds, leads);
			set.n = qunique_arg(set.ids, set.n, sizeof(Datum), CompareLeadIds, leads);
		}
		MemoryContextSwitchTo(old);
		TouchLeads(leads, set.ids, set.n);
		MemoryContextDelete(cxt);
	}
	LsRestoreUser(&saved);
	return PointerGetDatum(NULL);
}

/* rescore_all(): recompute every lead's score now. */
PG_FUNCTION_INFO_V1(rescore_all);
Datum
rescore_all(PG_FUNCTION_ARGS)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	LsSavedUser saved;

	LsBecomeExtensionOwner(&saved);
	RescoreAll(leads);
	LsRestoreUser(&saved);
	PG_RETURN_VOID();
}
