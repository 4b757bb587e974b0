/*
 * lead_touch.c — touches: UPDATEs of lead rows issued by this module, run through leads_before,
 * and the plans of those UPDATEs and of the lock query before them (src/lead_touch.h describes the
 * write paths).
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
#include "lead_rewrite.h"
#include "lead_state.h"
#include "lead_touch.h"
#include "rules.h"
#include "run_as.h"
#include "score.h"
#include "stage_log_batch.h"

Touch *current_touch = NULL;

/* ---------------------------------------------------------------------------
 * The plans of the touches: the lock query of a batch and the UPDATEs, prepared and kept in the
 * rule set's lifetime (freed with it), always as generic plans.
 * ---------------------------------------------------------------------------
 */

/* The state column as a select-list item (NULL on a 0.1.0 schema). */
const char *
LsStateSelect(const LeadsAttachment *l)
{
	return l->state_col != NULL ? psprintf("l.%s", l->state_col) : "NULL::pg_catalog.bytea";
}

SPIPlanPtr
LockPlan(RuleSet *rs)
{
	if (rs->lock_plan == NULL)
	{
		LeadsAttachment *l = rs->leads;
		Oid argtype = LsLeadIdArrayType(l);

		/* LockRows runs above the sort: rows are locked in k.n order, which is the id order */
		rs->lock_plan =
			LsKeepPlan(psprintf("SELECT k.n, l.%s, l.%s, %s, %s FROM pg_catalog.unnest($1) WITH "
								"ORDINALITY AS k(id, n)"
								" JOIN %s l ON l.%s %s k.id ORDER BY k.n FOR NO KEY UPDATE OF l",
								l->score_col, l->stage_col, LsStateSelect(l), rs->fit_select,
								l->qualname, l->id_col, l->id_eq),
					   1, &argtype, true);
	}
	return rs->lock_plan;
}

SPIPlanPtr
UpdatePlan(RuleSet *rs)
{
	if (rs->update_plan == NULL)
	{
		LeadsAttachment *l = rs->leads;
		Oid argtypes[2] = {LsLeadIdArrayType(l), INT4ARRAYOID};

		rs->update_plan =
			LsKeepPlan(psprintf("UPDATE %s l SET %s = k.s FROM ROWS FROM (pg_catalog.unnest($1), "
								"pg_catalog.unnest($2)) AS k(id, s) WHERE l.%s %s k.id",
								l->qualname, l->score_col, l->id_col, l->id_eq),
					   2, argtypes, true);
	}
	return rs->update_plan;
}

/*
 * UPDATE leads SET score = score of lead $1, or of the leads = ANY ($1) ('many': the rows come in
 * index order, locked in id order).
 */
static SPIPlanPtr
SameScorePlan(RuleSet *rs, SPIPlanPtr *plan, bool many)
{
	if (*plan == NULL)
	{
		LeadsAttachment *l = rs->leads;
		Oid argtype = many ? LsLeadIdArrayType(l) : l->id_type;

		*plan = LsKeepPlan(psprintf("UPDATE %s l SET %s = l.%s WHERE l.%s %s %s", l->qualname,
									l->score_col, l->score_col, l->id_col, l->id_eq,
									many ? "ANY ($1)" : "$1"),
						   1, &argtype, true);
	}
	return *plan;
}

SPIPlanPtr
TouchPlan(RuleSet *rs)
{
	return SameScorePlan(rs, &rs->touch_plan, false);
}

SPIPlanPtr
TouchManyPlan(RuleSet *rs)
{
	return SameScorePlan(rs, &rs->touch_many_plan, true);
}

/* ---------------------------------------------------------------------------
 * Touches
 * ---------------------------------------------------------------------------
 */

/* A touch of n leads (ids) under the rule set rs, nothing else set. */
void
TouchInit(Touch *t, const RuleSet *rs, Datum *ids, int n)
{
	memset(t, 0, sizeof(*t));
	t->n = n;
	t->ids = ids;
	t->leads_relid = rs->leads->relid;
	t->rules_fp = rs->all_fingerprint;
	t->last = -1;
}

/* The index of a lead in the current touch, or -1. */
int
TouchedLead(const LeadsAttachment *leads, Datum id)
{
	int lo = 0;
	int hi;

	if (current_touch == NULL)
		return -1;
	/* the rewrite and its AFTER triggers take the leads in id order: try the next one first */
	lo = current_touch->last + 1;
	if (lo < current_touch->n && LsCompareLeadIds(leads, current_touch->ids[lo], id) == 0)
		return current_touch->last = lo;
	lo = 0;
	hi = current_touch->n - 1;
	while (lo <= hi)
	{
		int mid = (lo + hi) / 2;
		int c = LsCompareLeadIds(leads, current_touch->ids[mid], id);

		if (c == 0)
			return current_touch->last = mid;
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
void
ExecuteTouch(Touch *t, SPIPlanPtr plan, Datum *args)
{
	Touch *outer = current_touch;
	LsSavedUser saved;

	current_touch = t;
	LsBeginTableWrite(t->leads_relid, &saved);
	PG_TRY();
	{
		int rc = SPI_execute_plan(plan, args, NULL, false, 0);

		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "rewriting lead scores failed: %s", SPI_result_code_string(rc));
	}
	PG_FINALLY();
	{
		current_touch = outer;
	}
	PG_END_TRY();
	LsEndTableWrite(&saved);
}

/* Whether a lead is one of the current touch's (its stage changes are logged with the batch's). */
static bool
InCurrentTouch(const LeadsAttachment *leads, Datum id)
{
	return TouchedLead(leads, id) >= 0;
}

/*
 * Rewrite the touch's leads without an UPDATE statement (src/lead_rewrite.h), as the leads table's
 * owner like ExecuteTouch; false, having done nothing, where the rewrite must be the caller's
 * UPDATE.
 */
bool
RewriteTouch(Touch *t, const LeadsAttachment *leads, const LeadRewriteArgs *args, uint64 *rewritten)
{
	Touch *outer = current_touch;
	LsSavedUser saved;
	volatile bool done = false;
	/* a batch's stage changes are logged together after its rewrite (src/stage_log_batch.h) */
	volatile bool batch_log = t->n > 1;
	StageLogBatch *outer_log = batch_log ? StageLogBatchBegin(InCurrentTouch) : NULL;

	current_touch = t;
	LsBeginTableWrite(t->leads_relid, &saved);
	PG_TRY();
	{
		done = LeadRewrite(leads, args, rewritten);
		if (batch_log)
		{
			batch_log = false;
			StageLogBatchEnd(outer_log, true);
		}
	}
	PG_FINALLY();
	{
		current_touch = outer;
		if (batch_log)
			StageLogBatchEnd(outer_log, false);
	}
	PG_END_TRY();
	LsEndTableWrite(&saved);
	return done;
}

/*
 * Rescore one lead through leads_before; false when there is no such lead.  With 'fresh', the
 * statement's new events of the lead (its index there is fresh_index) are carried into its state;
 * with 'rebuild', its events are re-read.
 */
bool
TouchLead(RuleSet *rs, Datum id, int32 *score, const NewEvents *fresh, int fresh_index,
		  bool rebuild)
{
	Touch t;
	LeadRewriteArgs args;
	uint64 rewritten;

	TouchInit(&t, rs, &id, 1);
	t.rebuild = rebuild;
	t.fresh = fresh;
	t.fresh_base = fresh_index;

	memset(&args, 0, sizeof(args));
	args.ids = &id;
	args.n = 1;
	if (!RewriteTouch(&t, rs->leads, &args, &rewritten))
	{
		LsSpiConnect();
		ExecuteTouch(&t, TouchPlan(rs), &id);
		SPI_finish();
	}
	*score = t.score;
	return t.seen;
}

/*
 * The fit points of lead 'lead', whose locked row holds the fit columns values/nulls (attributes
 * atts): the walk's (known) where the row holds the columns they came from, byte for byte, else
 * computed from the row.
 */
static int64
FitOfLockedRow(RuleSet *rs, const KnownFit *known, int lead, const Datum *values, const bool *nulls,
			   Form_pg_attribute *atts)
{
	const Datum *kv = known->values + (Size) lead * rs->nfit_atts;
	const bool *kn = known->nulls + (Size) lead * rs->nfit_atts;
	int c;

	for (c = 0; c < rs->nfit_atts; c++)
		if (nulls[c] != kn[c] ||
			(!nulls[c] && !datumIsEqual(values[c], kv[c], atts[c]->attbyval, atts[c]->attlen)))
			return FitPoints(rs, values, nulls, NULL);
	return known->fit[lead];
}

/*
 * The fit points of the leads TouchLeads locked, from the lock query's rows (k.n, score, stage,
 * state, then the fit columns): the caller's where the locked row's fit columns are the ones it
 * computed them from, else computed here from the locked row (SPI_tuptable).
 */
static int64 *
LockedFit(RuleSet *rs, int n, const KnownFit *known)
{
	int64 *fit = palloc0(sizeof(int64) * Max(n, 1));
	Datum *values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
	bool *nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
	Form_pg_attribute *atts = palloc(sizeof(Form_pg_attribute) * Max(rs->nfit_atts, 1));
	TupleDesc desc = SPI_tuptable->tupdesc;
	uint64 i;
	int c;

	for (c = 0; c < rs->nfit_atts; c++)
		atts[c] = TupleDescAttr(desc, 4 + c);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		bool isnull;
		int idx = (int) DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)) - 1;

		for (c = 0; c < rs->nfit_atts; c++)
			values[c] = SPI_getbinval(tup, desc, 5 + c, &nulls[c]);
		fit[idx] = FitOfLockedRow(rs, known, idx, values, nulls, atts);
	}
	pfree(values);
	pfree(nulls);
	pfree(atts);
	return fit;
}

/* What KnownFitOfRow needs. */
typedef struct KnownFitCheck
{
	RuleSet *rs;
	const KnownFit *known;
	int64 *fit;
	Datum *values;
	bool *nulls;
	Form_pg_attribute *atts;
} KnownFitCheck;

/* LockedFit for one lead locked by LeadRewrite (a LeadLockedFn). */
static void
KnownFitOfRow(void *arg, int lead, TupleTableSlot *row)
{
	KnownFitCheck *c = arg;
	RuleSet *rs = c->rs;
	LsSavedUser saved;
	int i;

	slot_getallattrs(row);
	for (i = 0; i < rs->nfit_atts; i++)
	{
		c->atts[i] = TupleDescAttr(row->tts_tupleDescriptor, rs->fit_atts[i] - 1);
		c->values[i] = row->tts_values[rs->fit_atts[i] - 1];
		c->nulls[i] = row->tts_isnull[rs->fit_atts[i] - 1];
	}
	/* computed, if they are, as leads_before computes them: as the extension owner */
	LsBecomeExtensionOwner(&saved);
	c->fit[lead] = FitOfLockedRow(rs, c->known, lead, c->values, c->nulls, c->atts);
	LsRestoreUser(&saved);
}

uint64
TouchLeads(RuleSet *rs, Datum *ids, int n, const KnownFit *known)
{
	LeadsAttachment *leads = rs->leads;
	Datum array;
	Touch t;
	int rc;
	LeadRewriteArgs args;
	KnownFitCheck check;
	uint64 rewritten;

	/* lock and rewrite each lead in turn, in id order, where the rewrite needs no UPDATE */
	TouchInit(&t, rs, ids, n);
	memset(&args, 0, sizeof(args));
	args.ids = ids;
	args.n = n;
	if (known != NULL)
	{
		check.rs = rs;
		check.known = known;
		check.fit = palloc0(sizeof(int64) * Max(n, 1));
		check.values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
		check.nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
		check.atts = palloc(sizeof(Form_pg_attribute) * Max(rs->nfit_atts, 1));
		t.fit = check.fit;
		args.tids = known->tids;
		args.locked = KnownFitOfRow;
		args.arg = &check;
	}
	if (RewriteTouch(&t, leads, &args, &rewritten))
		return rewritten;
	t.fit = NULL;
	array = PointerGetDatum(LsLeadIdArray(leads, ids, n));

	/*
	 * lock in id order first: the UPDATE's own order is the plan's.  Not on a Citus coordinator
	 * (the refresh run there): Citus locks no rows of a query over several shards, and there the
	 * UPDATE runs on each shard by its id index, which is the id order (doc/scale-out.md, "The
	 * refresh and rule changes").
	 */
	if (!LsIsCitusTable(leads->relid))
	{
		rc = SPI_execute_plan(LockPlan(rs), &array, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "locking leads failed: %s", SPI_result_code_string(rc));
		/* leads_before takes them for rows whose fit columns the UPDATE leaves as they are (on
		 * Citus, with no locked rows to check them against, it computes them itself) */
		if (known != NULL)
			t.fit = LockedFit(rs, n, known);
		SPI_freetuptable(SPI_tuptable);
	}
	ExecuteTouch(&t, TouchManyPlan(rs), &array);
	return SPI_processed;
}
