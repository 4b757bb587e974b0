/*
 * leads_trigger.c — leads_before(), the leads table's BEFORE INSERT OR UPDATE row trigger: the one
 * place a score is written.  It scores the row being written and settles its stage, carrying the
 * engagement state forward where it can (doc/scoring.md, "The engagement state"); the UPDATEs this
 * module issues (touches, src/lead_touch.h) tell it what they already know.
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
#include "citus_rules.h"
#include "citus_shards.h"
#include "clock.h"
#include "lead_locks.h"
#include "lead_state.h"
#include "lead_touch.h"
#include "leads_trigger.h"
#include "rules.h"
#include "run_as.h"
#include "score.h"
#include "stages.h"

/*
 * Whether an UPDATE sets the score column and nothing else (as the touches do).  The updated
 * columns the trigger is given include the stored generated columns computed from the score: they
 * are not set by the statement.
 */
static bool
SetsOnlyScore(TriggerData *td, const LeadsAttachment *leads)
{
#if PG_VERSION_NUM >= 130000
	const Bitmapset *cols = td->tg_updatedcols;
	TupleDesc desc = RelationGetDescr(td->tg_relation);
	bool score = false;
	int m = -1;

	while ((m = bms_next_member(cols, m)) >= 0)
	{
		AttrNumber att = m + FirstLowInvalidHeapAttributeNumber;

		if (att == leads->score_att)
			score = true;
		else if (att <= 0 || att > desc->natts ||
				 TupleDescAttr(desc, att - 1)->attgenerated == '\0')
			return false;
	}
	return score;
#else
	return true;
#endif
}

/*
 * The columns of a row version the trigger was given (values[att - 1]), each unpacked once: from
 * the trigger's slot when it holds that very tuple (the executor's slots do, and keep what they
 * unpacked), else unpacked here.  Reading them one at a time with heap_getattr walks the row from
 * its first variable-length column again for each (doc/benchmarks.md, "COPY and the bulk INSERT
 * after the direct rewrite").
 */
typedef struct RowColumns
{
	Datum *values;
	bool *nulls;
} RowColumns;

static RowColumns
ColumnsOf(TupleTableSlot *slot, HeapTuple row, TupleDesc desc)
{
	RowColumns c;

	if (slot != NULL && (TTS_IS_HEAPTUPLE(slot) || TTS_IS_BUFFERTUPLE(slot)) &&
		((HeapTupleTableSlot *) slot)->tuple == row &&
		slot->tts_tupleDescriptor->natts == desc->natts)
	{
		slot_getallattrs(slot);
		c.values = slot->tts_values;
		c.nulls = slot->tts_isnull;
	}
	else
	{
		c.values = palloc(sizeof(Datum) * Max(desc->natts, 1));
		c.nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
		heap_deform_tuple(row, desc, c.values, c.nulls);
	}
	return c;
}

/*
 * The row being written with some columns replaced, formed from its columns as already unpacked
 * (heap_modify_tuple_by_cols would unpack the row once more), with the header fields
 * heap_modify_tuple_by_cols keeps.
 */
static HeapTuple
RowWithColumns(HeapTuple row, TupleDesc desc, const RowColumns *row_cols, int ncols,
			   const int *cols, const Datum *values, const bool *nulls)
{
	Datum *v = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool *n = palloc(sizeof(bool) * Max(desc->natts, 1));
	HeapTuple result;
	int i;

	memcpy(v, row_cols->values, sizeof(Datum) * desc->natts);
	memcpy(n, row_cols->nulls, sizeof(bool) * desc->natts);
	for (i = 0; i < ncols; i++)
	{
		v[cols[i] - 1] = values[i];
		n[cols[i] - 1] = nulls[i];
	}
	result = heap_form_tuple(desc, v, n);
	result->t_data->t_ctid = row->t_data->t_ctid;
	result->t_self = row->t_self;
	result->t_tableOid = row->t_tableOid;
	pfree(v);
	pfree(n);
	return result;
}

/*
 * Whether an UPDATE leaves the columns the fit rules read as they were (same
 * bytes): then the fit points computed from the locked row still hold.
 */
static bool
FitColumnsUnchanged(RuleSet *rs, const RowColumns *old_cols, const RowColumns *new_cols,
					TupleDesc desc)
{
	int i;

	for (i = 0; i < rs->nfit_atts; i++)
	{
		int k = rs->fit_atts[i] - 1;
		Form_pg_attribute att = TupleDescAttr(desc, k);
		bool old_null = old_cols->nulls[k];

		if (old_null != new_cols->nulls[k] ||
			(!old_null &&
			 !datumIsEqual(old_cols->values[k], new_cols->values[k], att->attbyval, att->attlen)))
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
 * (doc/scoring.md, "The engagement state"), else from the lead's events.  'fresh' (or NULL): the
 * statement's new events of the lead, lead fresh_index there, to carry into the state; 'rebuild':
 * re-read the events, the state cannot be carried.  The new state keeps the row's fit points
 * 'fit' under key 'fit_key' (0: none).
 */
static double
RowEngagement(RuleSet *rs, const RowColumns *old_cols, Datum lead_id, bool is_insert,
			  const NewEvents *fresh, int fresh_index, bool rebuild, int64 fit, uint64 fit_key,
			  Datum *state_out)
{
	LeadsAttachment *leads = rs->leads;
	TimestampTz at = LsNow();
	LeadState st;
	double engagement;

	*state_out = (Datum) 0;
	if (leads->state_att == InvalidAttrNumber)
		return LeadEngagement(rs, lead_id, at, true, NULL, NULL);
	if (!is_insert && !rebuild)
	{
		bool isnull = old_cols->nulls[leads->state_att - 1];
		Datum d = old_cols->values[leads->state_att - 1];

		if (LeadStateDecode(rs, d, isnull, &st))
		{
			TimestampTz cutoff = WriteCutoff(at);

			/* a state this transaction counted from the events may hold the new rows already */
			if ((fresh == NULL || (!LeadStateBuiltHere(&st) &&
								   ApplyNewEvents(rs, &st, fresh, fresh_index, cutoff))) &&
				LeadStateEngagement(rs, &st, at, cutoff, &engagement) &&
				!LeadStateNearRounding((double) fit + engagement))
			{
				st.fit = fit;
				st.fit_key = fit_key;
				*state_out = PointerGetDatum(LeadStateEncode(rs, &st));
				return engagement;
			}
		}
	}
	engagement = LeadEngagement(rs, lead_id, at, true, NULL, &st);
	st.fit = fit;
	st.fit_key = fit_key;
	*state_out = PointerGetDatum(LeadStateEncode(rs, &st));
	return engagement;
}

/* Whether the locked row already holds this state (bytea, or 0 for none). */
static bool
SameState(const LeadsAttachment *leads, const RowColumns *old_cols, Datum state)
{
	bool isnull;
	Datum d;

	if (leads->state_att == InvalidAttrNumber)
		return true;
	isnull = old_cols->nulls[leads->state_att - 1];
	d = old_cols->values[leads->state_att - 1];
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

/* What leads_before is given: the row being written and, for an UPDATE, the version it replaces. */
typedef struct RowWrite
{
	Relation rel;
	bool is_insert;
	HeapTuple row;		 /* the row being written */
	HeapTuple old_row;	 /* (UPDATE) the version it replaces */
	RowColumns cols;	 /* row's columns */
	RowColumns old_cols; /* (UPDATE) old_row's columns */
	TriggerData *td; /* the trigger's data, or NULL: a direct call, which sets the score alone */
} RowWrite;

/* What leads_before sets in the row: score, stage and, where the table has it, the state. */
typedef struct RowChange
{
	int n;
	int cols[3];
	Datum values[3];
	bool nulls[3];
	bool stage_kept; /* (UPDATE) the row had a stage and keeps it: leads_after has nothing to log */
} RowChange;

static void
ChangeColumn(RowChange *change, int att, Datum value, bool isnull)
{
	change->cols[change->n] = att;
	change->values[change->n] = value;
	change->nulls[change->n] = isnull;
	change->n++;
}

/* The score and the stage the write stores. */
static void
ChangeScoreAndStage(RowChange *change, const LeadWrite *write, const RowWrite *w, FunnelStage stage)
{
	const LeadsAttachment *leads = write->leads;

	ChangeColumn(change, leads->score_att, Int32GetDatum(write->new_score), false);
	ChangeColumn(change, leads->stage_att, FunnelStageGetDatum(stage), false);
	change->stage_kept =
		!write->is_insert && !w->old_cols.nulls[leads->stage_att - 1] && stage == write->old_stage;
}

/*
 * leads_before for a row outside the leads row filter: not scored (the stored score stays), not
 * promoted (StageForWrite keeps the stage unless the write moves it itself); a touch of it changes
 * nothing.
 */
static bool
FrozenLead(LeadWrite *write, const RowWrite *w, int touched, RowChange *change)
{
	FunnelStage stage;
	LsSavedUser saved;

	if (touched >= 0)
	{
		current_touch->seen = true;
		current_touch->score = write->old_score;
		return false;
	}
	if (write->is_insert)
	{
		int k = write->leads->score_att - 1;

		write->new_score = w->cols.nulls[k] ? 0 : DatumGetInt32(w->cols.values[k]);
	}
	else
		write->new_score = write->old_score;
	LsBecomeExtensionOwner(&saved);
	stage = StageForWrite(write);
	LsRestoreUser(&saved);
	ChangeScoreAndStage(change, write, w, stage);
	return true;
}

/*
 * The fit points of the row being written (touched: its index in the current touch, or < 0), and
 * in *key the key to store them under in its state (0 on a schema without the state column): the
 * touch's, computed under the same rules from the locked row, when the write leaves the fit
 * columns as they were; those the replaced version's state holds for the same key; else computed
 * from the row (doc/scoring.md, "The engagement state").
 */
static int64
RowFit(RuleSet *rs, const RowWrite *w, int touched, bool same_rules, uint64 *key)
{
	AttrNumber state_att = rs->leads->state_att;
	Datum *values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
	bool *nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
	int64 fit;
	int i;

	for (i = 0; i < rs->nfit_atts; i++)
	{
		values[i] = w->cols.values[rs->fit_atts[i] - 1];
		nulls[i] = w->cols.nulls[rs->fit_atts[i] - 1];
	}
	*key = LeadStateFitKey(rs, values, nulls);
	if (same_rules && current_touch->fit != NULL &&
		FitColumnsUnchanged(rs, &w->old_cols, &w->cols, RelationGetDescr(w->rel)))
		fit = current_touch->fit[touched];
	else if (w->is_insert || *key == 0 || /* (a key: the table has the state column) */
			 !LeadStateStoredFit(w->old_cols.values[state_att - 1],
								 w->old_cols.nulls[state_att - 1], *key, &fit))
		fit = FitPoints(rs, values, nulls, NULL);
	pfree(values);
	pfree(nulls);
	return fit;
}

/*
 * Score the row being written and settle its stage: the columns to set in 'change', or false for a
 * touch that changes nothing (the row is kept as it is, and locked).
 */
static bool
ScoreWrite(const RowWrite *w, RowChange *change)
{
	Relation rel = w->rel;
	TupleDesc desc = RelationGetDescr(rel);
	LeadsAttachment *leads;
	RuleSet *rs;
	LeadWrite write;
	bool isnull;
	Datum d;
	Datum state = (Datum) 0;
	LsSavedUser saved;
	int touched = -1;
	bool same_rules = false;
	int64 fit;
	uint64 fit_key;
	double engagement;
	FunnelStage stage;

	/* on a Citus shard: addressed to it and the colocated events shards (src/citus_rules.h) */
	rs = LsRulesNear(LsRules(), RelationGetRelid(rel));
	leads = LsLeadsAttachmentOf(rel); /* the table, or a Citus shard of it */
	if (leads == NULL)
		ereport(
			ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("leads_before() fired on table \"%s\", which is not the attached leads table",
					RelationGetRelationName(rel))));

	change->n = 0;
	change->stage_kept = false;
	memset(&write, 0, sizeof(write));
	write.leads = leads;
	write.is_insert = w->is_insert;
	write.lead_id = w->cols.values[leads->id_att - 1];
	if (w->cols.nulls[leads->id_att - 1])
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("a lead's id must not be NULL"),
						errdetail("Column \"%s\" of table \"%s\" identifies leads.",
								  NameStr(TupleDescAttr(desc, leads->id_att - 1)->attname),
								  RelationGetRelationName(rel))));
	d = w->cols.values[leads->stage_att - 1];
	isnull = w->cols.nulls[leads->stage_att - 1];
	if (isnull && !write.is_insert)
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
						errmsg("the stage of lead %s must not be NULL",
							   LsLeadIdText(leads, write.lead_id))));
	write.new_stage = isnull ? FS_NEW : DatumGetFunnelStage(d);
	if (!write.is_insert)
	{
		RefuseLeadIdChange(leads, w->old_row, write.lead_id, desc, rel);
		d = w->old_cols.values[leads->stage_att - 1];
		write.old_stage = w->old_cols.nulls[leads->stage_att - 1] ? FS_NEW : DatumGetFunnelStage(d);
		d = w->old_cols.values[leads->score_att - 1];
		write.old_score = w->old_cols.nulls[leads->score_att - 1] ? 0 : DatumGetInt32(d);
		if (current_touch != NULL && (w->td == NULL || SetsOnlyScore(w->td, leads)))
			touched = TouchedLead(leads, write.lead_id);
	}

	if (leads->crm_stage_att != InvalidAttrNumber)
		CrmStageMove(leads, &write, w->old_row, w->row, desc);

	/* events written meanwhile for this id by uncommitted transactions: wait for them
	 * (lead_locks.h) */
	if (write.is_insert)
		LockLeadIdBucket(leads, write.lead_id, ShareLock);

	/* a row outside the row filter (archived, soft-deleted, merged away) is no lead: its score,
	 * engagement state and stage stay as they are, but for moves the write makes itself; one coming
	 * back is rescored from its events (doc/crm_schemas.md, "Row filters") */
	write.outside = LsLeadOutsideFilter(leads, desc, w->row);
	if (write.outside)
		return FrozenLead(&write, w, touched, change);
	if (!write.is_insert && LsLeadOutsideFilter(leads, desc, w->old_row))
		touched = -2; /* back: RowEngagement reads its events, not the frozen state */

	/*
	 * What a touch hands over was computed under the rules its statement loaded.  When another
	 * session's rule change committed meanwhile, this command's rules (rs) are newer: the rules
	 * are numbered otherwise, so nothing computed under the old ones is used, and the lead's
	 * events are re-read — the statement's new events, or all of them when the statement had
	 * re-read them (its precomputed engagement), for the stored state may count events it has
	 * changed or deleted (doc/scoring.md, "Concurrency").
	 */
	if (touched >= 0)
		same_rules = current_touch->rules_fp == rs->all_fingerprint;

	/* scoring reads the lead's events and the configuration, which the writing role need not see */
	LsBecomeExtensionOwner(&saved);
	fit = RowFit(rs, w, touched, same_rules, &fit_key);
	if (same_rules && current_touch->engagement != NULL)
	{
		engagement = current_touch->engagement[touched];
		if (current_touch->states != NULL)
			state = current_touch->states[touched];
	}
	else if (touched >= 0)
		engagement = RowEngagement(
			rs, &w->old_cols, write.lead_id, write.is_insert,
			same_rules ? current_touch->fresh : NULL, current_touch->fresh_base + touched,
			current_touch->rebuild || (!same_rules && (current_touch->fresh != NULL ||
													   current_touch->engagement != NULL)),
			fit, fit_key, &state);
	else
		engagement = RowEngagement(rs, &w->old_cols, write.lead_id, write.is_insert, NULL, 0,
								   touched == -2, fit, fit_key, &state);
	write.new_score = FinalScore((double) fit + engagement);
	stage = StageForWrite(&write);
	LsRestoreUser(&saved);

	if (touched >= 0)
	{
		current_touch->seen = true;
		current_touch->score = write.new_score;
		/* a touch that changes nothing keeps the row as it is (and locked) */
		if (write.new_score == write.old_score && stage == write.old_stage &&
			SameState(leads, &w->old_cols, state))
			return false;
	}
	ChangeScoreAndStage(change, &write, w, stage);
	if (leads->state_att != InvalidAttrNumber)
		ChangeColumn(change, leads->state_att, state, state == (Datum) 0);
	return true;
}

PG_FUNCTION_INFO_V1(leads_before);
Datum
leads_before(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc desc;
	RowWrite w;
	RowChange change;

	(void) LsTriggerCall(fcinfo, "leads_before", true, true, LS_ON_INSERT | LS_ON_UPDATE);
	memset(&w, 0, sizeof(w));
	w.td = td;
	w.rel = td->tg_relation;
	desc = RelationGetDescr(w.rel);
	w.is_insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	w.row = w.is_insert ? td->tg_trigtuple : td->tg_newtuple;
	w.cols = ColumnsOf(w.is_insert ? td->tg_trigslot : td->tg_newslot, w.row, desc);
	if (!w.is_insert)
	{
		w.old_row = td->tg_trigtuple;
		w.old_cols = ColumnsOf(td->tg_trigslot, td->tg_trigtuple, desc);
	}
	if (!ScoreWrite(&w, &change))
		return PointerGetDatum(NULL);
	return PointerGetDatum(
		RowWithColumns(w.row, desc, &w.cols, change.n, change.cols, change.values, change.nulls));
}

bool
LeadsBeforeDirect(Relation rel, TupleTableSlot *locked, TupleTableSlot *newslot, bool *after_idle)
{
	TupleDesc desc = RelationGetDescr(rel);
	RowWrite w;
	RowChange change;
	int i;

	memset(&w, 0, sizeof(w));
	w.rel = rel;
	w.row = w.old_row = ExecFetchSlotHeapTuple(locked, false, NULL);
	w.cols = w.old_cols = ColumnsOf(locked, w.row, desc);
	*after_idle = false;
	if (!ScoreWrite(&w, &change))
		return false;
	/* the locked row with the columns set: formed once, when the new version is written */
	ExecClearTuple(newslot);
	memcpy(newslot->tts_values, w.cols.values, sizeof(Datum) * desc->natts);
	memcpy(newslot->tts_isnull, w.cols.nulls, sizeof(bool) * desc->natts);
	for (i = 0; i < change.n; i++)
	{
		newslot->tts_values[change.cols[i] - 1] = change.values[i];
		newslot->tts_isnull[change.cols[i] - 1] = change.nulls[i];
	}
	ExecStoreVirtualTuple(newslot);
	/* leads_after logs stage changes alone (src/stages.c) */
	*after_idle = change.stage_kept;
	return true;
}
