/*
 * refresh.c — bringing stored scores up to date without reading events: the walk of
 * refresh_scores() (src/refresh_worker.c) and CALL refresh_online(), and the progress of a rescore
 * after a rule change (doc/scoring.md, "Decay: the refresh" and "Rule changes: rescored online").
 *
 * The leads are walked in id order, a batch at a time, without locks: each lead's score is
 * computed from its row (fit) and its engagement state.  Only the leads whose score, stage or
 * state would change are rewritten, through TouchLeads (row locks in id order; leads_before
 * recomputes from the locked row, so a write that came in between is never lost).  A state the
 * current rules cannot use is rebuilt there from the lead's events.  refresh_scores() runs the
 * walk in a background worker that commits after each batch where it can (src/refresh_worker.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "storage/itemptr.h"
#include "spi_glue.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "attachment.h"
#include "citus_shards.h"
#include "funnel_stage.h"
#include "clock.h"
#include "lead_state.h"
#include "rules.h"
#include "score.h"
#include "stages.h"
#include "lead_touch.h"
#include "refresh.h"
#include "rescore_batch.h"

/*
 * Prepare and keep a plan (SPI connected) reading the leads table `relid`: always generic, as in
 * score.c, except on a Citus coordinator, where the table is distributed: Citus plans a query over
 * every shard only with its parameters' values (a generic plan with the batch's LIMIT $1 fails to
 * plan), so there each execution is planned with its values (doc/scale-out.md, "The refresh and
 * rule changes").
 */
static SPIPlanPtr
RefreshPlan(const char *sql, int nargs, Oid *argtypes, Oid relid)
{
	return LsKeepPlanWith(sql, nargs, argtypes,
						  LsIsCitusTable(relid) ? CURSOR_OPT_CUSTOM_PLAN : CURSOR_OPT_GENERIC_PLAN);
}

/*
 * The next leads in id order: id, score, stage, state, fit columns, and where the row was read
 * (ctid; NULL on a Citus coordinator, where the rows are the shards'); after $1 when 'next'.
 */
static SPIPlanPtr
BatchPlan(RuleSet *rs, bool next)
{
	LeadsAttachment *l = rs->leads;
	const char *ctid = LsIsCitusTable(l->relid) ? "NULL::tid" : "l.ctid";

	if (!next && rs->refresh_first_plan == NULL)
	{
		Oid argtypes[1] = {INT4OID};

		rs->refresh_first_plan = RefreshPlan(
			psprintf("SELECT l.%s, l.%s, l.%s, l.%s, %s, %s FROM %s l ORDER BY l.%s LIMIT $1",
					 l->id_col, l->score_col, l->stage_col, l->state_col, rs->fit_select, ctid,
					 l->qualname, l->id_col),
			1, argtypes, l->relid);
	}
	if (next && rs->refresh_next_plan == NULL)
	{
		Oid argtypes[2] = {l->id_type, INT4OID};
		/* compared in the id column's collation: the order of the first batch's ORDER BY */
		char *collate = IdCollateClause(l);

		rs->refresh_next_plan = RefreshPlan(
			psprintf("SELECT l.%s, l.%s, l.%s, l.%s, %s, %s FROM %s l WHERE l.%s %s $1%s"
					 " ORDER BY l.%s LIMIT $2",
					 l->id_col, l->score_col, l->stage_col, l->state_col, rs->fit_select, ctid,
					 l->qualname, l->id_col, l->id_gt, collate, l->id_col),
			2, argtypes, l->relid);
	}
	return next ? rs->refresh_next_plan : rs->refresh_first_plan;
}

/* Where BatchPlan read a row (column 'col'), or an invalid tid where it cannot say. */
static void
ReadTid(HeapTuple tup, TupleDesc desc, int col, ItemPointer tid)
{
	bool isnull;
	Datum d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		ItemPointerSetInvalid(tid);
	else
		ItemPointerCopy((ItemPointer) DatumGetPointer(d), tid);
}

/* Whether a lead row read by BatchPlan needs leads_before: its stored score, stage or state
 * differs from what its state gives now (or the state cannot say).  When it does and its fit
 * points were computed, *fit holds them, computed from the fit columns left in values/nulls. */
static bool
NeedsRewrite(RuleSet *rs, HeapTuple tup, TupleDesc desc, Datum *values, bool *nulls, TimestampTz at,
			 TimestampTz cutoff, uint64 config_fp, int64 *fit_out, bool *fit_known)
{
	LeadState st;
	LeadWrite write;
	bool isnull;
	Datum state = SPI_getbinval(tup, desc, 4, &isnull);
	double engagement;
	int64 fit;
	int c;

	*fit_known = false;
	if (!LeadStateDecode(rs, state, isnull, &st) || st.config_fp != config_fp ||
		!LeadStateEngagement(rs, &st, at, cutoff, &engagement))
		return true;
	for (c = 0; c < rs->nfit_atts; c++)
		values[c] = SPI_getbinval(tup, desc, 5 + c, &nulls[c]);
	/* the fit points the state keeps for these columns (lead_state.h), else computed */
	if (!LeadStateStoredFit(state, isnull, LeadStateFitKey(rs, values, nulls), &fit))
		fit = FitPoints(rs, values, nulls, NULL);
	*fit_out = fit;
	*fit_known = true;
	if (LeadStateNearRounding((double) fit + engagement))
		return true;
	memset(&write, 0, sizeof(write));
	write.leads = rs->leads;
	write.lead_id = SPI_getbinval(tup, desc, 1, &isnull);
	write.old_score = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	write.old_stage = DatumGetFunnelStage(SPI_getbinval(tup, desc, 3, &isnull));
	write.new_stage = write.old_stage;
	write.new_score = FinalScore((double) fit + engagement);
	/* what the stage policy would do with the same write: a change of stage needs the write too */
	return write.new_score != write.old_score || StageForWrite(&write) != write.old_stage;
}

/*
 * Walk every lead; after each batch but the last, call 'between' (which commits: CALL outside a
 * transaction block, the refresh worker) when given, else run as one transaction.  Returns how
 * many leads were rewritten.
 */
int64
RefreshWalk(int batch_size, RefreshBetweenBatches between)
{
	MemoryContext walk_cxt =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring refresh", ALLOCSET_DEFAULT_SIZES);
	MemoryContext batch_cxt =
		AllocSetContextCreate(walk_cxt, "lead_scoring refresh batch", ALLOCSET_DEFAULT_SIZES);
	bool have_last = false;
	bool done = false;
	Datum last = (Datum) 0;
	int64 total = 0;

	LsSpiConnectExt(between != NULL ? SPI_OPT_NONATOMIC : 0);
	for (;;)
	{
		RuleSet *rs = LsRules();
		LeadsAttachment *leads = rs->leads;
		LsSavedUser saved;
		TimestampTz at = LsNow();
		TimestampTz cutoff = WriteCutoff(at);
		uint64 config_fp = LsConfigFingerprint(rs);
		Datum args[2];
		Datum *ids;
		Datum *values;
		bool *nulls;
		KnownFit known;
		int64 *fits;
		Datum *fit_values;
		bool *fit_nulls;
		ItemPointerData *tids;
		int nids = 0;
		int c;
		uint64 nrows;
		uint64 i;
		int rc;
		MemoryContext old;

		LsBecomeExtensionOwner(&saved);
		if (have_last)
		{
			args[0] = last;
			args[1] = Int32GetDatum(batch_size);
		}
		else
			args[0] = Int32GetDatum(batch_size);
		rc = SPI_execute_plan(BatchPlan(rs, have_last), args, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading leads failed: %s", SPI_result_code_string(rc));
		nrows = SPI_processed;
		old = MemoryContextSwitchTo(batch_cxt);
		ids = palloc(sizeof(Datum) * Max(nrows, 1));
		values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
		nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
		fits = palloc(sizeof(int64) * Max(nrows, 1));
		fit_values = palloc(sizeof(Datum) * Max(nrows * rs->nfit_atts, 1));
		fit_nulls = palloc(sizeof(bool) * Max(nrows * rs->nfit_atts, 1));
		tids = palloc(sizeof(ItemPointerData) * Max(nrows, 1));
		for (i = 0; i < nrows; i++)
		{
			HeapTuple tup = SPI_tuptable->vals[i];
			TupleDesc desc = SPI_tuptable->tupdesc;
			bool isnull;
			bool fit_known;
			Datum id = SPI_getbinval(tup, desc, 1, &isnull);

			if (isnull)
			{
				/* sorted last: every lead with an id has been seen; such a row cannot be written
				 * by the triggers */
				done = true;
				break;
			}
			if (!NeedsRewrite(rs, tup, desc, values, nulls, at, cutoff, config_fp, &fits[nids],
							  &fit_known))
				continue;
			/* the fit points go to leads_before with the columns they came from: reused if the
			 * locked row still holds them (the row was read without a lock) */
			for (c = 0; c < rs->nfit_atts; c++)
			{
				Form_pg_attribute att = TupleDescAttr(desc, 4 + c);
				Size at_lead = (Size) nids * rs->nfit_atts + c;

				if (!fit_known)
					values[c] = SPI_getbinval(tup, desc, 5 + c, &nulls[c]);
				fit_nulls[at_lead] = nulls[c];
				fit_values[at_lead] =
					nulls[c] ? (Datum) 0 : datumCopy(values[c], att->attbyval, att->attlen);
			}
			if (!fit_known)
				fits[nids] = FitPoints(rs, values, nulls, NULL);
			ReadTid(tup, desc, 5 + rs->nfit_atts, &tids[nids]);
			ids[nids++] = datumCopy(id, leads->id_byval, leads->id_len);
		}
		/* the next batch starts after the last lead with an id (the first batch's ORDER BY) */
		if (i > 0)
		{
			bool isnull;
			Datum id = SPI_getbinval(SPI_tuptable->vals[i - 1], SPI_tuptable->tupdesc, 1, &isnull);
			MemoryContext keep = MemoryContextSwitchTo(walk_cxt);

			last = datumCopy(id, leads->id_byval, leads->id_len);
			have_last = true;
			MemoryContextSwitchTo(keep);
		}
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(old);
		known.fit = fits;
		known.values = fit_values;
		known.nulls = fit_nulls;
		known.tids = tids;
		if (nids > 0)
			total += TouchLeads(rs, ids, nids, &known);
		LsRestoreUser(&saved);
		MemoryContextReset(batch_cxt);
		if (done || nrows < (uint64) batch_size)
			break;
		if (between != NULL)
			between(); /* the batch's row locks go: a writer waits for one batch at most */
	}
	SPI_finish();
	MemoryContextDelete(walk_cxt);
	return total;
}

void
RefreshCheckable(void)
{
	LeadsAttachment *leads = LsLeadsAttachment();

	if (leads->state_att == InvalidAttrNumber)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("the leads table %s has no column \"%s\"", leads->qualname,
							   LS_STATE_COLUMN),
						errhint("Run ALTER EXTENSION lead_scoring UPDATE, which adds it.")));
}

/* refresh_online(batch_size integer): the same walk, committing after each batch (CALL). */
PG_FUNCTION_INFO_V1(refresh_online);
Datum
refresh_online(PG_FUNCTION_ARGS)
{
	int32 batch_size = PG_ARGISNULL(0) ? REFRESH_BATCH : PG_GETARG_INT32(0);
	bool nonatomic = fcinfo->context != NULL && IsA(fcinfo->context, CallContext) &&
					 !castNode(CallContext, fcinfo->context)->atomic;

	if (batch_size < 1)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("batch_size must be at least 1, not %d", batch_size)));
	RefreshCheckable();
	(void) RefreshWalk(batch_size, nonatomic ? SPI_commit : NULL);
	PG_RETURN_VOID();
}

/* state_is_current(state bytea): whether a stored score was computed under the current rules. */
PG_FUNCTION_INFO_V1(state_is_current);
Datum
state_is_current(PG_FUNCTION_ARGS)
{
	RuleSet *rs = LsRules();

	PG_RETURN_BOOL(LeadStateIsCurrent(rs, PG_GETARG_DATUM(0), PG_ARGISNULL(0)));
}
