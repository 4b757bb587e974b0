/*
 * triggers.c — the triggers and functions that keep stored lead scores exact.
 *
 * Every score that is stored is computed after the lead's row is locked, from
 * a snapshot taken after the lock: two transactions that add events to the
 * same lead serialise on the row lock, and the second one sees the first
 * one's events.  Three write paths, all going through the leads BEFORE
 * trigger (so the stage policy, StageForWrite, sees every write):
 *
 * - leads_before (BEFORE INSERT OR UPDATE, per row) scores the row being
 *   written: fit rules on the row, engagement from the lead's events (read
 *   after the row lock, which the executor took before firing the trigger).
 * - touching one lead: "UPDATE leads SET score = score WHERE id = $1" marked
 *   as a touch, so leads_before may skip the write (return NULL, keeping only
 *   the row lock) when neither score nor stage would change.  Used by
 *   rescore(lead) and by statements that affect a few leads.
 * - batches: lock the leads in id order (SELECT ... ORDER BY ... FOR NO KEY
 *   UPDATE), read all their events with one ordered query per events table,
 *   compute the scores in C and rewrite only the leads whose score or stage
 *   changes, with one UPDATE whose leads_before takes the computed engagement
 *   instead of reading the events again.  Used by statements that affect many
 *   leads (multi-row INSERT, COPY) and, with a table lock instead of row
 *   locks and one pass over all events, by rescore_all() and refresh_scores().
 *
 * Events that match no engagement rule cannot change any score: the events
 * trigger drops them before anything is locked or read.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/qunique.h"
#include "nodes/bitmapset.h"
#include "spi_glue.h"
#include "storage/lmgr.h"
#include "trigger_call.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "attachment.h"
#include "citus_shards.h"
#include "lead_locks.h"
#include "clock.h"
#include "lead_state.h"
#include "rules.h"
#include "run_as.h"
#include "score.h"
#include "stages.h"
#include "triggers.h"

/* Statements that affect at most this many leads rescore them one by one. */
#define TOUCH_ONE_BY_ONE 4
/* Leads locked, read and rewritten together in a batch. */
#define BATCH_LEADS 2000
/* Rows fetched at a time from a cursor. */
#define FETCH_ROWS 2000

/* ---------------------------------------------------------------------------
 * Touches: UPDATEs of lead rows issued by this module
 * ---------------------------------------------------------------------------
 */

/* The rows an INSERT statement added that match a rule, per lead (in the batch's id order). */
typedef struct NewEvent
{
	TimestampTz time;
	int32 next; /* the lead's next new event, -1 at the end */
} NewEvent;

typedef struct NewEvents
{
	int source; /* the events table the statement wrote */
	NewEvent *events;
	uint64 *bits; /* the rules each event matches, rs->nwords words each */
	int n;
	int cap;
	int32 *nrows; /* per lead of the batch: the statement's rows for the lead, */
	int32 *first; /* and its first new event */
} NewEvents;

/* The leads an UPDATE issued by this module rewrites, in id order. */
typedef struct Touch
{
	int n;
	Datum *ids;
	double *engagement; /* computed under the row lock, or NULL: leads_before reads the events */
	int64 *fit;			/* fit points of the locked rows, or NULL: leads_before computes them */
	Datum *states;		/* with engagement: the states counted with it (bytea), or NULL */
	bool rebuild;		/* re-read the leads' events: the state cannot be carried */
	const NewEvents *fresh; /* the statement's new events of the leads, carried into their states */
	int fresh_base;			/* lead i of the touch is lead fresh_base + i of fresh */
	bool seen;				/* (one lead) leads_before ran for it */
	int32 score;			/* (one lead) the score it computed */
	Oid leads_relid;		/* the leads table, written as its owner */
} Touch;

static Touch *touch = NULL;

/* The index of a lead in the current touch, or -1. */
static int
TouchedLead(const LeadsAttachment *leads, Datum id)
{
	int lo = 0;
	int hi;

	if (touch == NULL)
		return -1;
	hi = touch->n - 1;
	while (lo <= hi)
	{
		int mid = (lo + hi) / 2;
		int c = LsCompareLeadIds(leads, touch->ids[mid], id);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Run a prepared UPDATE of lead rows as a touch (SPI connected).  The leads
 * table's own triggers, constraints and index expressions run beneath it, so
 * it runs as the table's owner (src/run_as.h), never as the extension owner.
 */
static void
ExecuteTouch(Touch *t, SPIPlanPtr plan, Datum *args)
{
	Touch *outer = touch;
	LsSavedUser saved;

	touch = t;
	LsBeginTableWrite(t->leads_relid, &saved);
	PG_TRY();
	{
		int rc = SPI_execute_plan(plan, args, NULL, false, 0);

		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "rewriting lead scores failed: %s", SPI_result_code_string(rc));
	}
	PG_FINALLY();
	{
		touch = outer;
	}
	PG_END_TRY();
	LsEndTableWrite(&saved);
}

/*
 * Rescore one lead through leads_before; false when there is no such lead.  With 'fresh', the
 * statement's new events of the lead (its index there is fresh_index) are carried into its state;
 * with 'rebuild', its events are re-read.
 */
static bool
TouchLead(RuleSet *rs, Datum id, int32 *score, const NewEvents *fresh, int fresh_index,
		  bool rebuild)
{
	Touch t;

	memset(&t, 0, sizeof(t));
	t.n = 1;
	t.ids = &id;
	t.rebuild = rebuild;
	t.fresh = fresh;
	t.fresh_base = fresh_index;
	t.leads_relid = rs->leads->relid;

	LsSpiConnect();
	ExecuteTouch(&t, TouchPlan(rs), &id);
	SPI_finish();
	*score = t.score;
	return t.seen;
}

uint64
TouchLeads(RuleSet *rs, Datum *ids, int n)
{
	LeadsAttachment *leads = rs->leads;
	Datum array = PointerGetDatum(
		construct_array(ids, n, leads->id_type, leads->id_len, leads->id_byval, leads->id_align));
	Touch t;
	int rc;

	/* lock in id order first: the UPDATE's own order is the plan's */
	rc = SPI_execute_plan(LockPlan(rs), &array, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "locking leads failed: %s", SPI_result_code_string(rc));
	SPI_freetuptable(SPI_tuptable);
	memset(&t, 0, sizeof(t));
	t.n = n;
	t.ids = ids;
	t.leads_relid = leads->relid;
	ExecuteTouch(&t, TouchManyPlan(rs), &array);
	return SPI_processed;
}

/* Whether an UPDATE sets the score column and nothing else (as the touches do). */
static bool
SetsOnlyScore(TriggerData *td, const LeadsAttachment *leads)
{
#if PG_VERSION_NUM >= 130000
	const Bitmapset *cols = td->tg_updatedcols;

	return cols != NULL && bms_num_members(cols) == 1 &&
		   bms_is_member(leads->score_att - FirstLowInvalidHeapAttributeNumber, cols);
#else
	return true;
#endif
}

/*
 * Whether an UPDATE leaves the columns the fit rules read as they were (same
 * bytes): then the fit points computed from the locked row still hold.
 */
static bool
FitColumnsUnchanged(RuleSet *rs, HeapTuple old_row, HeapTuple new_row, TupleDesc desc)
{
	int i;

	for (i = 0; i < rs->nfit_atts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, rs->fit_atts[i] - 1);
		bool old_null;
		bool new_null;
		Datum a = heap_getattr(old_row, rs->fit_atts[i], desc, &old_null);
		Datum b = heap_getattr(new_row, rs->fit_atts[i], desc, &new_null);

		if (old_null != new_null || (!old_null && !datumIsEqual(a, b, att->attbyval, att->attlen)))
			return false;
	}
	return true;
}

/* Carry the statement's new events of one lead (in time order) into its state. */
static bool
ApplyNewEvents(RuleSet *rs, LeadState *st, const NewEvents *fresh, int lead, TimestampTz cutoff)
{
	int n = 0;
	int e;
	int *order;
	int i;

	for (e = fresh->first[lead]; e >= 0; e = fresh->events[e].next)
		n++;
	order = palloc(sizeof(int) * Max(n, 1));
	n = 0;
	for (e = fresh->first[lead]; e >= 0; e = fresh->events[e].next)
	{
		/* insertion sort by time: a statement brings few events per lead */
		for (i = n; i > 0 && fresh->events[order[i - 1]].time > fresh->events[e].time; i--)
			order[i] = order[i - 1];
		order[i] = e;
		n++;
	}
	for (i = 0; i < n; i++)
		if (!LeadStateApply(rs, st, fresh->events[order[i]].time,
							&fresh->bits[(int64) order[i] * rs->nwords], cutoff))
			return false;
	return true;
}

/*
 * The engagement of the lead being written, at LsNow(), and its new state (bytea, or 0 on a schema
 * without the state column): carried from the state of the locked row when it can be
 * (doc/scoring.md, "The engagement state"), else from the lead's events.
 */
static double
RowEngagement(RuleSet *rs, TriggerData *td, Datum lead_id, bool is_insert, int touched, int64 fit,
			  Datum *state_out)
{
	LeadsAttachment *leads = rs->leads;
	TimestampTz at = LsNow();
	LeadState st;
	double engagement;

	*state_out = (Datum) 0;
	if (leads->state_att == InvalidAttrNumber)
		return LeadEngagement(rs, lead_id, at, true, NULL, NULL);
	if (!is_insert && !(touched >= 0 && touch->rebuild))
	{
		bool isnull;
		Datum d = heap_getattr(td->tg_trigtuple, leads->state_att,
							   RelationGetDescr(td->tg_relation), &isnull);

		if (LeadStateDecode(rs, d, isnull, &st))
		{
			TimestampTz cutoff = WriteCutoff(at);

			/* a state this transaction counted from the events may hold the new rows already */
			if ((touched < 0 || touch->fresh == NULL ||
				 (!LeadStateBuiltHere(&st) &&
				  ApplyNewEvents(rs, &st, touch->fresh, touch->fresh_base + touched, cutoff))) &&
				LeadStateEngagement(rs, &st, at, cutoff, &engagement) &&
				!LeadStateNearRounding((double) fit + engagement))
			{
				*state_out = PointerGetDatum(LeadStateEncode(rs, &st));
				return engagement;
			}
		}
	}
	engagement = LeadEngagement(rs, lead_id, at, true, NULL, &st);
	*state_out = PointerGetDatum(LeadStateEncode(rs, &st));
	return engagement;
}

/* Whether the locked row already holds this state (bytea, or 0 for none). */
static bool
SameState(const LeadsAttachment *leads, HeapTuple old_row, TupleDesc desc, Datum state)
{
	bool isnull;
	Datum d;

	if (leads->state_att == InvalidAttrNumber)
		return true;
	d = heap_getattr(old_row, leads->state_att, desc, &isnull);
	if (isnull || state == (Datum) 0)
		return isnull && state == (Datum) 0;
	return LeadStateSame(d, state);
}

/*
 * A lead's id never changes: its events, deals, handoffs and stage_change rows
 * name it by id, and following a change would rewrite the append-only log
 * (doc/scoring.md, "Lead ids").  An UPDATE that changes it is refused.
 */
static void
RefuseLeadIdChange(const LeadsAttachment *leads, HeapTuple old_row, Datum new_id, TupleDesc desc,
				   Relation rel)
{
	bool isnull;
	Datum old_id = heap_getattr(old_row, leads->id_att, desc, &isnull);

	if (isnull || LsCompareLeadIds(leads, old_id, new_id) == 0)
		return;
	ereport(
		ERROR,
		(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		 errmsg("cannot change the id of lead %s to %s", LsLeadIdText(leads, old_id),
				LsLeadIdText(leads, new_id)),
		 errdetail("The lead's events, deals, handoffs and stage_change rows refer to it by column "
				   "\"%s\" of table \"%s\".",
				   NameStr(TupleDescAttr(desc, leads->id_att - 1)->attname),
				   RelationGetRelationName(rel)),
		 errhint("Insert a new lead with the new id instead.")));
}

/* ---------------------------------------------------------------------------
 * leads_before(): score the row being written and settle its stage
 * ---------------------------------------------------------------------------
 */
/* The text of a column of a row, or NULL. */
static char *
ColumnValueText(HeapTuple row, TupleDesc desc, AttrNumber att)
{
	bool isnull;
	Datum d = heap_getattr(row, att, desc, &isnull);
	Oid output;
	bool varlena;

	if (isnull)
		return NULL;
	getTypeOutputInfo(TupleDescAttr(desc, att - 1)->atttypid, &output, &varlena);
	return OidOutputFunctionCall(output, d);
}

/*
 * A write that sets or changes the CRM's own stage (attach's crm_stage_column) to a mapped value
 * moves the lead to that value's funnel stage (doc/crm_schemas.md, "The CRM's own stage").
 */
static void
CrmStageMove(const LeadsAttachment *leads, LeadWrite *write, HeapTuple old_row, HeapTuple row,
			 TupleDesc desc)
{
	char *value = ColumnValueText(row, desc, leads->crm_stage_att);
	char *old_value = old_row ? ColumnValueText(old_row, desc, leads->crm_stage_att) : NULL;
	int i;

	if (value == NULL || (old_row != NULL && old_value != NULL && strcmp(value, old_value) == 0))
		return;
	for (i = 0; i < leads->crm_stage_count; i++)
		if (strcmp(leads->crm_stage_values[i], value) == 0)
		{
			write->new_stage = leads->crm_stage_targets[i];
			write->crm_move = true;
			return;
		}
}

/*
 * leads_before for a row outside the leads row filter: not scored (the stored score stays), not
 * promoted (StageForWrite keeps the stage unless the write moves it itself); a touch of it changes
 * nothing.
 */
static Datum
FrozenLead(LeadWrite *write, TriggerData *td, HeapTuple row, TupleDesc desc, int touched)
{
	bool isnull;
	Datum d;
	int cols[2];
	Datum values[2];
	bool nulls[2] = {false, false};
	FunnelStage stage;
	LsSavedUser saved;

	if (touched >= 0)
	{
		touch->seen = true;
		touch->score = write->old_score;
		return PointerGetDatum(NULL);
	}
	if (write->is_insert)
	{
		d = heap_getattr(row, write->leads->score_att, desc, &isnull);
		write->new_score = isnull ? 0 : DatumGetInt32(d);
	}
	else
		write->new_score = write->old_score;
	LsBecomeExtensionOwner(&saved);
	stage = StageForWrite(write);
	LsRestoreUser(&saved);
	cols[0] = write->leads->score_att;
	values[0] = Int32GetDatum(write->new_score);
	cols[1] = write->leads->stage_att;
	values[1] = FunnelStageGetDatum(stage);
	return PointerGetDatum(heap_modify_tuple_by_cols(row, desc, 2, cols, values, nulls));
}

PG_FUNCTION_INFO_V1(leads_before);
Datum
leads_before(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation rel;
	TupleDesc desc;
	LeadsAttachment *leads;
	RuleSet *rs;
	HeapTuple row;
	LeadWrite write;
	bool isnull;
	Datum d;
	int cols[3];
	Datum values[3];
	bool nulls[3] = {false, false, false};
	int ncols;
	Datum state = (Datum) 0;
	LsSavedUser saved;
	int touched = -1;
	int64 fit;
	double engagement;
	FunnelStage stage;

	(void) LsTriggerCall(fcinfo, "leads_before", true, true, LS_ON_INSERT | LS_ON_UPDATE);
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	rs = LsRules();
	leads = LsLeadsAttachmentOf(rel); /* the table, or a Citus shard of it */
	if (leads == NULL)
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
		RefuseLeadIdChange(leads, td->tg_trigtuple, write.lead_id, desc, rel);
		d = heap_getattr(td->tg_trigtuple, leads->stage_att, desc, &isnull);
		write.old_stage = isnull ? FS_NEW : DatumGetFunnelStage(d);
		d = heap_getattr(td->tg_trigtuple, leads->score_att, desc, &isnull);
		write.old_score = isnull ? 0 : DatumGetInt32(d);
		if (touch != NULL && SetsOnlyScore(td, leads))
			touched = TouchedLead(leads, write.lead_id);
	}

	if (leads->crm_stage_att != InvalidAttrNumber)
		CrmStageMove(leads, &write, write.is_insert ? NULL : td->tg_trigtuple, row, desc);

	/* events written meanwhile for this id by uncommitted transactions: wait for them
	 * (lead_locks.h) */
	if (write.is_insert)
		LockLeadIdBucket(leads, write.lead_id, ShareLock);

	/* a row outside the row filter (archived, soft-deleted, merged away) is no lead: its score,
	 * engagement state and stage stay as they are, but for moves the write makes itself; one coming
	 * back is rescored from its events (doc/crm_schemas.md, "Row filters") */
	write.outside = LsLeadOutsideFilter(leads, desc, row);
	if (write.outside)
		return FrozenLead(&write, td, row, desc, touched);
	if (!write.is_insert && LsLeadOutsideFilter(leads, desc, td->tg_trigtuple))
		touched = -2; /* back: RowEngagement reads its events, not the frozen state */

	/* scoring reads the lead's events and the configuration, which the writing role need not see */
	LsBecomeExtensionOwner(&saved);
	if (touched >= 0 && touch->fit != NULL && FitColumnsUnchanged(rs, td->tg_trigtuple, row, desc))
		fit = touch->fit[touched];
	else
		fit = FitPointsOfRow(rs, row, desc);
	if (touched >= 0 && touch->engagement != NULL)
	{
		engagement = touch->engagement[touched];
		if (touch->states != NULL)
			state = touch->states[touched];
	}
	else
		engagement = RowEngagement(rs, td, write.lead_id, write.is_insert || touched == -2,
								   Max(touched, -1), fit, &state);
	write.new_score = FinalScore((double) fit + engagement);
	stage = StageForWrite(&write);
	LsRestoreUser(&saved);

	if (touched >= 0)
	{
		touch->seen = true;
		touch->score = write.new_score;
		/* a touch that changes nothing keeps the row as it is (and locked) */
		if (write.new_score == write.old_score && stage == write.old_stage &&
			SameState(leads, td->tg_trigtuple, desc, state))
			return PointerGetDatum(NULL);
	}
	cols[0] = leads->score_att;
	values[0] = Int32GetDatum(write.new_score);
	cols[1] = leads->stage_att;
	values[1] = FunnelStageGetDatum(stage);
	ncols = 2;
	if (leads->state_att != InvalidAttrNumber)
	{
		cols[2] = leads->state_att;
		values[2] = state;
		nulls[2] = (state == (Datum) 0);
		ncols = 3;
	}
	return PointerGetDatum(heap_modify_tuple_by_cols(row, desc, ncols, cols, values, nulls));
}

/* ---------------------------------------------------------------------------
 * Batches
 * ---------------------------------------------------------------------------
 */

/* Leads whose stored score or stage must be rewritten, collected in id order. */
typedef struct Rewrites
{
	MemoryContext cxt;
	int n;
	int cap;
	Datum *ids;
	double *engagement;
	int64 *fit;
	int32 *scores;
	Datum *states; /* bytea, or 0 on a schema without the state column */
	int64 total;   /* rewritten so far */
} Rewrites;

static void
RewritesInit(Rewrites *w, int cap)
{
	w->cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring rewrites",
								   ALLOCSET_DEFAULT_SIZES);
	w->n = 0;
	w->cap = cap;
	w->ids = MemoryContextAlloc(w->cxt, sizeof(Datum) * cap);
	w->engagement = MemoryContextAlloc(w->cxt, sizeof(double) * cap);
	w->fit = MemoryContextAlloc(w->cxt, sizeof(int64) * cap);
	w->scores = MemoryContextAlloc(w->cxt, sizeof(int32) * cap);
	w->states = MemoryContextAlloc(w->cxt, sizeof(Datum) * cap);
	w->total = 0;
}

/* Rewrite the collected leads with one UPDATE (SPI connected). */
static void
RewritesFlush(RuleSet *rs, Rewrites *w)
{
	LeadsAttachment *leads = rs->leads;
	Datum args[2];
	Touch t;
	int i;
	MemoryContext old = CurrentMemoryContext;

	if (w->n == 0)
		return;
	MemoryContextSwitchTo(w->cxt); /* the arrays go with the rewrites, reset below */
	args[0] = PointerGetDatum(construct_array(w->ids, w->n, leads->id_type, leads->id_len,
											  leads->id_byval, leads->id_align));
	{
		Datum *scores = palloc(sizeof(Datum) * w->n);

		for (i = 0; i < w->n; i++)
			scores[i] = Int32GetDatum(w->scores[i]);
		args[1] = PointerGetDatum(construct_array(scores, w->n, INT4OID, 4, true, TYPALIGN_INT));
	}
	MemoryContextSwitchTo(old);
	memset(&t, 0, sizeof(t));
	t.n = w->n;
	t.ids = w->ids;
	t.engagement = w->engagement;
	t.fit = w->fit;
	t.states = leads->state_att != InvalidAttrNumber ? w->states : NULL;
	t.leads_relid = leads->relid;
	ExecuteTouch(&t, UpdatePlan(rs), args);
	w->total += w->n;
	w->n = 0;
	MemoryContextReset(w->cxt);
	w->ids = MemoryContextAlloc(w->cxt, sizeof(Datum) * w->cap);
	w->engagement = MemoryContextAlloc(w->cxt, sizeof(double) * w->cap);
	w->fit = MemoryContextAlloc(w->cxt, sizeof(int64) * w->cap);
	w->scores = MemoryContextAlloc(w->cxt, sizeof(int32) * w->cap);
	w->states = MemoryContextAlloc(w->cxt, sizeof(Datum) * w->cap);
}

/*
 * Decide whether a lead must be rewritten, given its stored and its new score, and its stored and
 * its new state (st NULL on a schema without the state column).
 */
static void
ConsiderLead(RuleSet *rs, Rewrites *w, Datum id, int32 old_score, FunnelStage old_stage, int64 fit,
			 double engagement, Datum old_state, bool old_state_null, LeadState *st)
{
	LeadsAttachment *leads = rs->leads;
	LeadWrite write;
	Datum state = (Datum) 0;

	memset(&write, 0, sizeof(write));
	write.leads = leads;
	write.lead_id = id;
	write.is_insert = false;
	write.old_stage = old_stage;
	write.new_stage = old_stage;
	write.old_score = old_score;
	write.new_score = FinalScore((double) fit + engagement);
	if (st != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(w->cxt);

		state = PointerGetDatum(LeadStateEncode(rs, st));
		MemoryContextSwitchTo(old);
	}
	/* what the stage policy would do with the same write: a change of stage needs the write too */
	if (write.new_score == old_score && StageForWrite(&write) == old_stage &&
		(st == NULL || (!old_state_null && LeadStateSame(old_state, state))))
		return;
	{
		MemoryContext old = MemoryContextSwitchTo(w->cxt);

		w->ids[w->n] = datumCopy(id, leads->id_byval, leads->id_len);
		MemoryContextSwitchTo(old);
	}
	w->states[w->n] = state;
	w->engagement[w->n] = engagement;
	w->fit[w->n] = fit;
	w->scores[w->n] = write.new_score;
	w->n++;
}

/* A cursor over the events of one source, read a batch of rows at a time. */
typedef struct EventStream
{
	Portal portal;
	SPITupleTable *tt;
	uint64 pos;
	bool done;
} EventStream;

static HeapTuple
StreamPeek(EventStream *st)
{
	if (st->done)
		return NULL;
	if (st->tt == NULL || st->pos >= st->tt->numvals)
	{
		if (st->tt != NULL)
			SPI_freetuptable(st->tt);
		SPI_cursor_fetch(st->portal, true, FETCH_ROWS);
		st->tt = SPI_tuptable;
		st->pos = 0;
		if (SPI_processed == 0)
		{
			SPI_freetuptable(st->tt);
			st->tt = NULL;
			st->done = true;
			SPI_cursor_close(st->portal);
			st->portal = NULL;
			return NULL;
		}
	}
	return st->tt->vals[st->pos];
}

static void
StreamClose(EventStream *st)
{
	if (st->tt != NULL)
		SPI_freetuptable(st->tt);
	if (st->portal != NULL)
		SPI_cursor_close(st->portal);
	st->tt = NULL;
	st->portal = NULL;
	st->done = true;
}

/*
 * Rescore leads given in id order (unique): lock them in that order, read
 * their events after the locks, rewrite those that change.  Runs in chunks of
 * BATCH_LEADS leads so that memory stays bounded.
 */
static int64
RescoreBatch(RuleSet *rs, Datum *ids, int n, TimestampTz at, const NewEvents *fresh, Datum *missing,
			 int *nmissing)
{
	LeadsAttachment *leads = rs->leads;
	EventSet es;
	Rewrites w;
	EventStream *streams;
	DirectReader *readers;
	Snapshot snapshot;
	TimestampTz cutoff;
	MemoryContext chunk_cxt;
	int lo;

	/* made before SPI_connect: they outlive SPI_finish */
	EventSetInit(&es, rs);
	RewritesInit(&w, BATCH_LEADS);
	streams = palloc0(sizeof(EventStream) * Max(rs->nsources, 1));
	readers = palloc0(sizeof(DirectReader) * Max(rs->nsources, 1));
	chunk_cxt =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring batch", ALLOCSET_DEFAULT_SIZES);
	LsSpiConnect();

	for (lo = 0; lo < n; lo += BATCH_LEADS)
	{
		int m = Min(BATCH_LEADS, n - lo);
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		Datum array = PointerGetDatum(construct_array(ids + lo, m, leads->id_type, leads->id_len,
													  leads->id_byval, leads->id_align));
		bool *found = palloc0(sizeof(bool) * m);
		int32 *old_score = palloc(sizeof(int32) * m);
		FunnelStage *old_stage = palloc(sizeof(FunnelStage) * m);
		Datum *old_state = palloc0(sizeof(Datum) * m);
		bool *old_state_null = palloc(sizeof(bool) * m);
		int64 *fit = palloc(sizeof(int64) * m);
		Datum *values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
		bool *nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
		int rc;
		uint64 i;
		int k;
		int s;

		MemoryContextSwitchTo(old);
		/* lock the leads, in id order */
		rc = SPI_execute_plan(LockPlan(rs), &array, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "locking leads failed: %s", SPI_result_code_string(rc));
		if (fresh != NULL && leads->state_att != InvalidAttrNumber)
		{
			/* leads_before carries the statement's new events into the locked leads' states */
			Touch t;

			for (i = 0; i < SPI_processed; i++)
			{
				bool isnull;

				found[DatumGetInt64(
						  SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)) -
					  1] = true;
			}
			/* events of a lead that does not exist (yet): the caller looks again */
			for (k = 0; k < m && missing != NULL; k++)
				if (!found[k])
					missing[(*nmissing)++] = ids[lo + k];
			SPI_freetuptable(SPI_tuptable);
			memset(&t, 0, sizeof(t));
			t.n = m;
			t.ids = ids + lo;
			t.fresh = fresh;
			t.fresh_base = lo;
			t.leads_relid = leads->relid;
			ExecuteTouch(&t, TouchManyPlan(rs), &array);
			w.total += SPI_processed;
			MemoryContextReset(chunk_cxt);
			continue;
		}
		old = MemoryContextSwitchTo(chunk_cxt);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple tup = SPI_tuptable->vals[i];
			TupleDesc desc = SPI_tuptable->tupdesc;
			bool isnull;
			int idx = (int) DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)) - 1;
			int c;

			found[idx] = true;
			old_score[idx] = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			old_stage[idx] = DatumGetFunnelStage(SPI_getbinval(tup, desc, 3, &isnull));
			old_state[idx] = SPI_getbinval(tup, desc, 4, &old_state_null[idx]);
			if (!old_state_null[idx])
				old_state[idx] = PointerGetDatum(PG_DETOAST_DATUM_COPY(old_state[idx]));
			for (c = 0; c < rs->nfit_atts; c++)
				values[c] = SPI_getbinval(tup, desc, 5 + c, &nulls[c]);
			fit[idx] = FitPoints(rs, values, nulls, NULL);
		}
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);

		/* their events, read with a snapshot taken after the locks: straight from the lead
		 * index where the table has one, else with SQL */
		snapshot = RegisterSnapshot(GetTransactionSnapshot());
		cutoff = WriteCutoff(at);
		for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		{
			Datum args[2];
			char argnulls[2] = {' ', ' '};

			memset(&streams[s], 0, sizeof(EventStream));
			if (DirectReaderOpen(&readers[s], &es, s, snapshot))
				continue;
			args[0] = array;
			args[1] = EventTypesArg(rs, &argnulls[1]);
			streams[s].portal =
				SPI_cursor_open(NULL, BatchEventsPlan(rs, s), args, argnulls, false);
		}
		for (k = 0; k < m; k++)
		{
			double engagement = 0;
			LeadState st;
			bool with_state = leads->state_att != InvalidAttrNumber;

			EventSetClear(&es);
			for (s = 0; s < rs->nsources && rs->neng > 0; s++)
			{
				HeapTuple tup;
				int64 seq = 0;

				if (readers[s].scan != NULL)
				{
					if (!found[k])
						continue;
					/*
					 * When the lead index holds no entry for this lead but the statement's own
					 * rows, its events in this table are the new rows, already read from the
					 * transition table: no heap access.
					 */
					if (fresh != NULL && s == fresh->source &&
						DirectReaderCount(&readers[s], ids[lo + k]) == fresh->nrows[lo + k])
					{
						int e;

						for (e = fresh->first[lo + k]; e >= 0; e = fresh->events[e].next)
							EventSetAppend(&es, 0, s, seq++, fresh->events[e].time,
										   &fresh->bits[(int64) e * rs->nwords]);
					}
					else
						DirectReaderRead(&readers[s], 0, ids[lo + k]);
					continue;
				}
				while ((tup = StreamPeek(&streams[s])) != NULL)
				{
					bool isnull;
					int idx =
						(int) DatumGetInt64(heap_getattr(tup, 1, streams[s].tt->tupdesc, &isnull)) -
						1;

					if (idx != k)
						break;
					EventSetAdd(&es, 0, s, seq++, tup, streams[s].tt->tupdesc, 2);
					streams[s].pos++;
				}
			}
			if (!found[k])
			{
				/* events of a lead that does not exist (yet): the caller looks again */
				if (missing != NULL)
					missing[(*nmissing)++] = ids[lo + k];
				continue;
			}
			old = MemoryContextSwitchTo(chunk_cxt);
			if (rs->neng > 0)
				EventSetEngagement(&es, 1, at, cutoff, &engagement, NULL, with_state ? &st : NULL);
			else if (with_state)
				LeadStateInit(&st, rs);
			MemoryContextSwitchTo(old);
			ConsiderLead(rs, &w, ids[lo + k], old_score[k], old_stage[k], fit[k], engagement,
						 old_state[k], old_state_null[k], with_state ? &st : NULL);
		}
		for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		{
			StreamClose(&streams[s]);
			DirectReaderClose(&readers[s]);
		}
		UnregisterSnapshot(snapshot);
		RewritesFlush(rs, &w);
		MemoryContextReset(chunk_cxt);
	}
	SPI_finish();
	EventSetFree(&es);
	MemoryContextDelete(w.cxt);
	MemoryContextDelete(chunk_cxt);
	return w.total;
}

/* "COLLATE schema.name" for the lead id's collation, or "". */
char *
IdCollateClause(const LeadsAttachment *leads)
{
	HeapTuple tup;
	Form_pg_collation form;
	char *result;

	if (!OidIsValid(leads->id_collation))
		return "";
	tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(leads->id_collation));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for collation %u", leads->id_collation);
	form = (Form_pg_collation) GETSTRUCT(tup);
	result =
		psprintf(" COLLATE %s", quote_qualified_identifier(get_namespace_name(form->collnamespace),
														   NameStr(form->collname)));
	ReleaseSysCache(tup);
	return result;
}

/*
 * Lock the leads table against writers (EXCLUSIVE: reads go on), then load
 * the configuration.  In this order a rescore that waited for another
 * transaction's rule or settings change (whose own rescore holds the lock
 * while it commits) uses the committed rules: taking the lock processes the
 * change's invalidations (doc/scoring.md, "Concurrency").
 */
static RuleSet *
LockLeadsForRescore(void)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	Oid relid = leads->relid;
	RuleSet *rs;

	LockRelationOid(relid, ExclusiveLock);
	rs = LsRules();
	if (rs->leads == NULL || rs->leads->relid != relid)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("the attached leads table changed while its scores were rescored"),
						errhint("Run lead_scoring.rescore_all() again.")));
	return rs;
}

/*
 * Rescore every lead: lock the leads table and load the rules
 * (LockLeadsForRescore), then one ordered pass over the leads and one over
 * each events table, merged by lead id; rewrite the leads whose score or stage
 * changes.
 */
static int64
RescoreAll(void)
{
	RuleSet *rs = LockLeadsForRescore();
	LeadsAttachment *leads = rs->leads;
	TimestampTz at = LsNow();
	TimestampTz cutoff;
	EventSet es;
	Rewrites w;
	EventStream lead_stream;
	EventStream *streams;
	Datum *values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
	bool *nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
	char *collate = IdCollateClause(leads);
	MemoryContext row_cxt;
	int s;

	/* made before SPI_connect: they outlive SPI_finish */
	EventSetInit(&es, rs);
	RewritesInit(&w, BATCH_LEADS);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring rescore row",
									ALLOCSET_SMALL_SIZES);
	LsSpiConnect();
	memset(&lead_stream, 0, sizeof(lead_stream));
	lead_stream.portal = SPI_cursor_open_with_args(
		NULL,
		psprintf("SELECT l.%s, l.%s, l.%s, %s, %s FROM %s l ORDER BY l.%s", leads->id_col,
				 leads->score_col, leads->stage_col, LsStateSelect(leads), rs->fit_select,
				 leads->qualname, leads->id_col),
		0, NULL, NULL, NULL, false, 0);
	streams = palloc0(sizeof(EventStream) * Max(rs->nsources, 1));
	for (s = 0; s < rs->nsources && rs->neng > 0; s++)
	{
		EventSource *src = &rs->sources[s];
		Oid argtype = TEXTARRAYOID;
		Datum arg = rs->event_types;

		streams[s].portal = SPI_cursor_open_with_args(
			NULL,
			psprintf("SELECT e.%s, %s FROM %s e WHERE true%s ORDER BY e.%s%s",
					 src->events->lead_col, src->select_list, src->events->from_item,
					 rs->any_type ? ""
								  : psprintf(" AND %s OPERATOR(pg_catalog.=) ANY ($1)",
											 src->events->type_text),
					 src->events->lead_col, collate),
			rs->any_type ? 0 : 1, &argtype, &arg, NULL, false, 0);
	}

	/* the cursors' snapshot was taken after the table lock; events up to now count */
	cutoff = WriteCutoff(at);
	for (;;)
	{
		HeapTuple lead_tup = StreamPeek(&lead_stream);
		TupleDesc lead_desc;
		Datum id;
		bool id_null;
		bool isnull;
		int32 old_score;
		FunnelStage old_stage;
		int64 fit;
		double engagement = 0;
		Datum old_state;
		bool old_state_null;
		LeadState st;
		bool with_state = leads->state_att != InvalidAttrNumber;
		MemoryContext old;
		int c;

		if (lead_tup == NULL)
			break;
		lead_desc = lead_stream.tt->tupdesc;
		id = SPI_getbinval(lead_tup, lead_desc, 1, &id_null);
		if (id_null)
		{
			/* sorted last; such a row cannot be written by the triggers and is left alone */
			lead_stream.pos++;
			continue;
		}
		old_score = DatumGetInt32(SPI_getbinval(lead_tup, lead_desc, 2, &isnull));
		old_stage = DatumGetFunnelStage(SPI_getbinval(lead_tup, lead_desc, 3, &isnull));
		old_state = SPI_getbinval(lead_tup, lead_desc, 4, &old_state_null);
		old = MemoryContextSwitchTo(row_cxt);
		for (c = 0; c < rs->nfit_atts; c++)
			values[c] = SPI_getbinval(lead_tup, lead_desc, 5 + c, &nulls[c]);
		fit = FitPoints(rs, values, nulls, NULL);
		MemoryContextSwitchTo(old);

		EventSetClear(&es);
		for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		{
			HeapTuple tup;
			int64 seq = 0;

			while ((tup = StreamPeek(&streams[s])) != NULL)
			{
				Datum lead = heap_getattr(tup, 1, streams[s].tt->tupdesc, &isnull);
				int cmp = isnull ? 1 : LsCompareLeadIds(leads, lead, id);

				if (cmp > 0)
					break;
				if (cmp == 0)
					EventSetAdd(&es, 0, s, seq++, tup, streams[s].tt->tupdesc, 2);
				streams[s].pos++; /* cmp < 0: events of a lead that does not exist */
			}
		}
		old = MemoryContextSwitchTo(row_cxt);
		if (rs->neng > 0)
			EventSetEngagement(&es, 1, at, cutoff, &engagement, NULL, with_state ? &st : NULL);
		else if (with_state)
			LeadStateInit(&st, rs);
		MemoryContextSwitchTo(old);
		ConsiderLead(rs, &w, id, old_score, old_stage, fit, engagement, old_state, old_state_null,
					 with_state ? &st : NULL);
		lead_stream.pos++;
		MemoryContextReset(row_cxt);
		if (w.n == w.cap)
			RewritesFlush(rs, &w);
	}
	RewritesFlush(rs, &w);
	for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		StreamClose(&streams[s]);
	StreamClose(&lead_stream);
	SPI_finish();
	EventSetFree(&es);
	MemoryContextDelete(w.cxt);
	MemoryContextDelete(row_cxt);
	return w.total;
}

/* ---------------------------------------------------------------------------
 * events_changed(): rescore the leads whose events a statement changed
 * ---------------------------------------------------------------------------
 */

/* The leads whose events a statement wrote, keyed by id. */
typedef struct StatementLead
{
	Datum id;	  /* the hash key */
	int32 nrows;  /* (INSERT) the statement's rows for the lead */
	int32 first;  /* (INSERT) first of its new events that match a rule, -1 if none */
	bool matters; /* a row of the lead matches an engagement rule */
} StatementLead;

/* Hashing lead ids with the id type's hash function and btree equality. */
static const LeadsAttachment *hashed_leads;
static FmgrInfo *lead_hash_fn;

static uint32
LeadIdHash(const void *key, Size keysize)
{
	return DatumGetUInt32(
		FunctionCall1Coll(lead_hash_fn, hashed_leads->id_collation, *(const Datum *) key));
}

static int
LeadIdMatch(const void *a, const void *b, Size keysize)
{
	return LsCompareLeadIds(hashed_leads, *(const Datum *) a, *(const Datum *) b) != 0;
}

static int
CompareLeadIds(const void *a, const void *b, void *arg)
{
	return LsCompareLeadIds((const LeadsAttachment *) arg, *(const Datum *) a, *(const Datum *) b);
}

/*
 * Whether lead ids are plain integers (int2, int4, int8): then equal ids are
 * equal Datums, and the statement's leads are hashed on the Datum's bytes
 * without calling the type's hash and comparison functions for every row.
 */
static bool
IntegerLeadIds(const LeadsAttachment *leads)
{
	return leads->id_byval &&
		   (leads->id_type == INT8OID || leads->id_type == INT4OID || leads->id_type == INT2OID);
}

/* The leads of a statement: a hash table, or (id types without a hash function) a list. */
typedef struct StatementLeads
{
	HTAB *hash;
	Datum *ids; /* without hash: the ids of the rows that matter, with duplicates */
	int n;
	int cap;
	NewEvents fresh; /* (INSERT) the new rows that match a rule */
	bool keep_events;
} StatementLeads;

static StatementLead *
StatementLeadFor(StatementLeads *sl, const LeadsAttachment *leads, Datum id)
{
	StatementLead *entry;
	bool found;

	entry = hash_search(sl->hash, &id, HASH_ENTER, &found);
	if (!found)
	{
		entry->id = datumCopy(id, leads->id_byval, leads->id_len);
		entry->nrows = 0;
		entry->first = -1;
		entry->matters = false;
	}
	return entry;
}

/* Read a transition table: which leads have rows that match an engagement rule (and, for an
 * INSERT, each lead's row count and its new matching events). */
static void
CollectLeads(RuleSet *rs, int source, StatementLeads *sl, Tuplestorestate *ts, TupleDesc desc)
{
	EventsAttachment *events = rs->sources[source].events;
	LeadsAttachment *leads = rs->leads;
	TupleTableSlot *slot;
	MemoryContext scratch;
	uint64 *bits = palloc(sizeof(uint64) * rs->nwords);

	if (ts == NULL)
		return;
	scratch =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring event row", ALLOCSET_SMALL_SIZES);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool isnull;
		Datum id = slot_getattr(slot, events->lead_att, &isnull);
		TimestampTz time;
		bool matters;
		StatementLead *entry = NULL;

		if (isnull)
			continue;
		matters = EventRowRules(rs, source, slot, scratch, bits, &time);
		if (sl->hash != NULL && (matters || sl->keep_events))
		{
			entry = StatementLeadFor(sl, leads, id);
			entry->nrows++;
			entry->matters |= matters;
		}
		if (!matters)
			continue;
		if (sl->hash == NULL)
		{
			if (sl->n == sl->cap)
			{
				sl->cap = sl->cap ? sl->cap * 2 : 64;
				sl->ids = sl->ids ? repalloc_huge(sl->ids, sizeof(Datum) * sl->cap)
								  : palloc(sizeof(Datum) * sl->cap);
			}
			sl->ids[sl->n++] = datumCopy(id, leads->id_byval, leads->id_len);
		}
		else if (sl->keep_events)
		{
			NewEvents *f = &sl->fresh;

			if (f->n == f->cap)
			{
				f->cap = f->cap ? f->cap * 2 : 256;
				f->events = f->events ? repalloc_huge(f->events, sizeof(NewEvent) * f->cap)
									  : palloc(sizeof(NewEvent) * f->cap);
				f->bits = f->bits ? repalloc_huge(f->bits, sizeof(uint64) * f->cap * rs->nwords)
								  : palloc(sizeof(uint64) * f->cap * rs->nwords);
			}
			f->events[f->n].time = time;
			f->events[f->n].next = entry->first;
			memcpy(&f->bits[(int64) f->n * rs->nwords], bits, sizeof(uint64) * rs->nwords);
			entry->first = f->n++;
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(scratch);
}

static int
CompareStatementLeads(const void *a, const void *b, void *arg)
{
	return LsCompareLeadIds((const LeadsAttachment *) arg, (*(StatementLead *const *) a)->id,
							(*(StatementLead *const *) b)->id);
}

PG_FUNCTION_INFO_V1(events_changed);
Datum
events_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation rel;
	RuleSet *rs;
	LeadsAttachment *leads;
	MemoryContext cxt;
	MemoryContext old;
	StatementLeads sl;
	FmgrInfo *hash_fn;
	Datum *ids;
	int n;
	LsSavedUser saved;
	int source;

	(void) LsTriggerCall(fcinfo, "events_changed", false, false, 0);
	rel = td->tg_relation;
	if (LsEventsAttachmentOf(rel) == NULL) /* the table, or a Citus shard of it */
		ereport(
			ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("events_changed() fired on table \"%s\", which is not an attached events table",
					RelationGetRelationName(rel)),
			 errhint("Use lead_scoring.attach_events() and lead_scoring.detach().")));
	leads = LsLeadsAttachment();

	/*
	 * Hold the leads table in ROW SHARE mode even when no lead turns out to need rescoring: a
	 * rule change rescores every lead under an EXCLUSIVE lock, which then waits for this
	 * transaction and sees its events.  Taking the lock also processes a committed rule
	 * change's invalidation, so the rules are loaded after it.
	 */
	LockRelationOid(leads->relid, RowShareLock);
	rs = LsRules();
	source = RuleSetSource(rs, LsLogicalRelid(RelationGetRelid(rel)));
	if (source < 0)
		elog(ERROR, "events table \"%s\" is missing from the rule cache",
			 RelationGetRelationName(rel));

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		LsBecomeExtensionOwner(&saved);
		RescoreAll();
		LsRestoreUser(&saved);
		return PointerGetDatum(NULL);
	}
	if (rs->neng == 0)
		return PointerGetDatum(NULL); /* no rule counts events */

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring events_changed",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	memset(&sl, 0, sizeof(sl));
	hash_fn = &lookup_type_cache(leads->id_type, TYPECACHE_HASH_PROC_FINFO)->hash_proc_finfo;
	if (OidIsValid(hash_fn->fn_oid))
	{
		HASHCTL ctl;
		int64 rows = (td->tg_newtable ? tuplestore_tuple_count(td->tg_newtable) : 0) +
					 (td->tg_oldtable ? tuplestore_tuple_count(td->tg_oldtable) : 0);

		hashed_leads = leads;
		lead_hash_fn = hash_fn;
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Datum);
		ctl.entrysize = sizeof(StatementLead);
		ctl.hcxt = cxt;
		/* sized for the statement: small for one row, no repeated growth for a COPY */
		if (IntegerLeadIds(leads))
			sl.hash = hash_create("lead_scoring statement leads", (long) Min(Max(rows, 8), 1 << 17),
								  &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		else
		{
			ctl.hash = LeadIdHash;
			ctl.match = LeadIdMatch;
			sl.hash = hash_create("lead_scoring statement leads", (long) Min(Max(rows, 8), 1 << 17),
								  &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
		}
		/* an INSERT: keep the new rows' events, to carry them into the leads' states (or, on a
		 * schema without states, to skip reading leads whose only events they are) */
		sl.keep_events =
			TRIGGER_FIRED_BY_INSERT(td->tg_event) &&
			(leads->state_att != InvalidAttrNumber || OidIsValid(rs->sources[source].index_oid));
		/* rows outside attach's row_filter are no events: the leads are re-read through it */
		if (rs->sources[source].events->row_filter != NULL)
			sl.keep_events = false;
		sl.fresh.source = source;
	}
	CollectLeads(rs, source, &sl, td->tg_newtable, RelationGetDescr(rel));
	CollectLeads(rs, source, &sl, td->tg_oldtable, RelationGetDescr(rel));

	/* the leads to rescore, sorted (locks are taken in this order), with their new events */
	if (sl.hash != NULL)
	{
		HASH_SEQ_STATUS seq;
		StatementLead *entry;
		StatementLead **sorted =
			palloc(sizeof(StatementLead *) * Max(hash_get_num_entries(sl.hash), 1));
		int i;

		n = 0;
		hash_seq_init(&seq, sl.hash);
		while ((entry = hash_seq_search(&seq)) != NULL)
			if (entry->matters)
				sorted[n++] = entry;
		qsort_arg(sorted, n, sizeof(StatementLead *), CompareStatementLeads, leads);
		ids = palloc(sizeof(Datum) * Max(n, 1));
		sl.fresh.nrows = palloc(sizeof(int32) * Max(n, 1));
		sl.fresh.first = palloc(sizeof(int32) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			ids[i] = sorted[i]->id;
			sl.fresh.nrows[i] = sorted[i]->nrows;
			sl.fresh.first[i] = sorted[i]->first;
		}
	}
	else
	{
		ids = sl.ids;
		n = sl.n;
		if (n > 1)
		{
			qsort_arg(ids, n, sizeof(Datum), CompareLeadIds, leads);
			n = qunique_arg(ids, n, sizeof(Datum), CompareLeadIds, leads);
		}
	}
	MemoryContextSwitchTo(old);

	LsBecomeExtensionOwner(&saved);
	{
		/* leads not found: maybe being inserted; wait for such inserts, then look again */
		Datum *missing = palloc(sizeof(Datum) * Max(n, 1));
		int nmissing = 0;
		int i;
		int32 score;
		/*
		 * On a Citus shard, lead by lead: the batch queries take the ids as an array, which Citus
		 * cannot route to the lead's shard from inside a trigger (doc/scale-out.md, "The
		 * shard-local write path").
		 */
		bool one_by_one = LsIsShard(RelationGetRelid(rel));

		/* UPDATE and DELETE (and INSERTs whose rows were not kept) re-read the leads' events */
		if (n <= TOUCH_ONE_BY_ONE || one_by_one)
		{
			for (i = 0; i < n; i++)
				if (!TouchLead(rs, ids[i], &score, sl.keep_events ? &sl.fresh : NULL, i,
							   !sl.keep_events))
					missing[nmissing++] = ids[i];
		}
		else
			(void) RescoreBatch(rs, ids, n, LsNow(), sl.keep_events ? &sl.fresh : NULL, missing,
								&nmissing);
		for (i = 0; i < nmissing; i++)
			LockLeadIdBucket(leads, missing[i], RowExclusiveLock);
		/* a lead inserted meanwhile did not see this statement's events: re-read them */
		if (nmissing <= TOUCH_ONE_BY_ONE || one_by_one)
		{
			for (i = 0; i < nmissing; i++)
				if (!TouchLead(rs, missing[i], &score, NULL, 0, true))
					RefuseUnseenLead(leads, missing[i]);
		}
		else
		{
			Datum *unseen = palloc(sizeof(Datum) * nmissing);
			int nunseen = 0;

			(void) RescoreBatch(rs, missing, nmissing, LsNow(), NULL, unseen, &nunseen);
			for (i = 0; i < nunseen; i++)
				RefuseUnseenLead(leads, unseen[i]);
		}
	}
	LsRestoreUser(&saved);
	MemoryContextDelete(cxt);
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------------
 */

/* rescore_all(): recompute every lead's score now; returns how many leads were rewritten. */
PG_FUNCTION_INFO_V1(rescore_all);
Datum
rescore_all(PG_FUNCTION_ARGS)
{
	LsSavedUser saved;
	int64 n;
	const char *search_path;

	LsLeadsAttachment();
	/* called from attach_* or detach: the leads table's triggers see the caller's search_path */
	search_path = LsPushCallerSearchPath();
	PG_TRY();
	{
		LsBecomeExtensionOwner(&saved);
		n = RescoreAll();
		LsRestoreUser(&saved);
	}
	PG_FINALLY();
	{
		LsPopCallerSearchPath(search_path);
	}
	PG_END_TRY();
	PG_RETURN_INT64(n);
}

/* rescore_lead(lead anyelement): behind the generated rescore(lead); the new score, or NULL. */
PG_FUNCTION_INFO_V1(rescore_lead);
Datum
rescore_lead(PG_FUNCTION_ARGS)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	Oid argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	RuleSet *rs;
	LsSavedUser saved;
	int32 score;
	bool found;
	const char *search_path;

	if (!OidIsValid(argtype) || getBaseType(argtype) != getBaseType(leads->id_type))
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("rescore() takes a lead id of type %s, not %s",
							   format_type_be(leads->id_type),
							   OidIsValid(argtype) ? format_type_be(argtype) : "unknown")));
	rs = LsRules();
	/* called from the generated rescore(): the leads table's triggers see the caller's search_path
	 */
	search_path = LsPushCallerSearchPath();
	PG_TRY();
	{
		LsBecomeExtensionOwner(&saved);
		found = TouchLead(rs, PG_GETARG_DATUM(0), &score, NULL, 0, true);
		LsRestoreUser(&saved);
	}
	PG_FINALLY();
	{
		LsPopCallerSearchPath(search_path);
	}
	PG_END_TRY();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT32(score);
}

/* ---------------------------------------------------------------------------
 * Rule and settings changes: rescore every lead once, when the transaction commits
 * ---------------------------------------------------------------------------
 */

static TransactionId rescore_requested_xid = InvalidTransactionId;

/* rules_changed(): AFTER statement trigger on lead_scoring.rule (and row trigger on settings). */
PG_FUNCTION_INFO_V1(rules_changed);
Datum
rules_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("rules_changed() must be fired AFTER a change")));
	rescore_requested_xid = GetTopTransactionId();
	/* TRUNCATE fires no row triggers, so nothing is deferred: rescore now */
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) && LsAttachments()->leads != NULL)
	{
		LsSavedUser saved;

		CommandCounterIncrement();
		LsBecomeExtensionOwner(&saved);
		RescoreAll();
		LsRestoreUser(&saved);
		rescore_requested_xid = InvalidTransactionId;
	}
	return PointerGetDatum(NULL);
}

/* rescore_after_rule_change(): deferred constraint trigger; the first one to fire rescores. */
PG_FUNCTION_INFO_V1(rescore_after_rule_change);
Datum
rescore_after_rule_change(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("rescore_after_rule_change() must be fired AFTER a change")));
	if (TransactionIdIsValid(rescore_requested_xid) &&
		TransactionIdEquals(rescore_requested_xid, GetTopTransactionIdIfAny()))
	{
		rescore_requested_xid = InvalidTransactionId;
		/* deferred triggers fire before the last command's cache invalidations are processed */
		CommandCounterIncrement();
		if (LsAttachments()->leads != NULL)
		{
			LsSavedUser saved;

			LsBecomeExtensionOwner(&saved);
			RescoreAll();
			LsRestoreUser(&saved);
		}
	}
	return PointerGetDatum(NULL);
}
