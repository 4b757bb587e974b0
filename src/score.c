/*
 * score.c — the scoring formula, evaluated in C.
 *
 * Fit points come from the lead's row; engagement from the lead's events,
 * read with one indexed query per events table that returns only the
 * columns the rules need, in (time, primary key) order.  Events that match
 * no rule are dropped as they are read; the others are kept with a bitmap
 * of the rules they match, sorted by (lead, time, table, position) and
 * summed rule by rule with max_hits, half-life decay and max_points.
 *
 * The same EventSet serves one lead (score, explain, the leads trigger) and
 * thousands (statement triggers, rescore_all), so every path adds the same
 * numbers in the same order.
 *
 * The plans here read what a score is computed from (a lead's row, its events,
 * the events of a batch of leads); the plans that lock and rewrite lead rows
 * are the touches' (src/lead_touch.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "spi_glue.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "attachment.h"
#include "citus_rules.h"
#include "citus_shards.h"
#include "clock.h"
#include "crm_time.h"
#include "rules.h"
#include "lead_state.h"
#include "score.h"
#include "settings.h"

/* ---------------------------------------------------------------------------
 * Plans reading leads and events
 * ---------------------------------------------------------------------------
 */

/* Prepare a plan in the rule set's lifetime (freed with it): always the generic plan. */
static SPIPlanPtr
KeepPlan(const char *sql, int nargs, Oid *argtypes)
{
	return LsKeepPlan(sql, nargs, argtypes, true);
}

/* " AND e.type::text = ANY ($2)" when the rules match only some event types. */
static const char *
TypeFilter(RuleSet *rs, const EventSource *src)
{
	if (rs->any_type)
		return "";
	return psprintf(" AND %s OPERATOR(pg_catalog.=) ANY ($2)", src->events->type_text);
}

Datum
EventTypesArg(RuleSet *rs, char *null)
{
	*null = rs->any_type ? 'n' : ' ';
	return rs->event_types;
}

static SPIPlanPtr
LeadEventsPlan(RuleSet *rs, int s)
{
	EventSource *src = &rs->sources[s];

	if (src->lead_plan == NULL)
	{
		Oid argtypes[2] = {rs->leads->id_type, TEXTARRAYOID};
		char *sql = psprintf("SELECT %s FROM %s e WHERE e.%s %s $1%s", src->select_list,
							 src->events->from_item, src->events->lead_col, rs->leads->id_eq,
							 TypeFilter(rs, src));

		src->lead_plan = KeepPlan(sql, 2, argtypes);
	}
	return src->lead_plan;
}

SPIPlanPtr
BatchEventsPlan(RuleSet *rs, int s)
{
	EventSource *src = &rs->sources[s];

	if (src->batch_plan == NULL)
	{
		Oid argtypes[2] = {LsLeadIdArrayType(rs->leads), TEXTARRAYOID};
		/* LATERAL ... OFFSET 0: one index probe per lead, in the array's order (never a hash join
		 * over the whole table for a few thousand leads) */
		char *sql =
			psprintf("SELECT k.n, e.* FROM pg_catalog.unnest($1) WITH ORDINALITY AS k(id, n),"
					 " LATERAL (SELECT %s FROM %s e WHERE e.%s %s k.id%s OFFSET 0) e ORDER BY k.n",
					 src->select_list, src->events->from_item, src->events->lead_col,
					 rs->leads->id_eq, TypeFilter(rs, src));

		src->batch_plan = KeepPlan(sql, 2, argtypes);
	}
	return src->batch_plan;
}

SPIPlanPtr
LeadRowPlan(RuleSet *rs)
{
	if (rs->lead_row_plan == NULL)
	{
		LeadsAttachment *l = rs->leads;
		Oid argtype = l->id_type;

		rs->lead_row_plan = KeepPlan(psprintf("SELECT %s FROM %s l WHERE l.%s %s $1",
											  rs->fit_select, l->qualname, l->id_col, l->id_eq),
									 1, &argtype);
	}
	return rs->lead_row_plan;
}

int
RuleSetSource(RuleSet *rs, Oid relid)
{
	int s;

	for (s = 0; s < rs->nsources; s++)
		if (rs->sources[s].events->relid == relid)
			return s;
	return -1;
}

/* ---------------------------------------------------------------------------
 * Events
 * ---------------------------------------------------------------------------
 */

void
EventSetInit(EventSet *es, RuleSet *rs)
{
	memset(es, 0, sizeof(*es));
	es->rs = rs;
	es->cxt =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring events", ALLOCSET_DEFAULT_SIZES);
	es->scratch = AllocSetContextCreate(es->cxt, "lead_scoring event row", ALLOCSET_SMALL_SIZES);
}

void
EventSetClear(EventSet *es)
{
	es->n = 0;
}

void
EventSetFree(EventSet *es)
{
	MemoryContextDelete(es->cxt);
	es->cxt = NULL;
}

/* A predicate evaluated for a row of a table that lacks its column: the column reads NULL. */
static bool
MissingColumnMatches(RuleOp op)
{
	return op == RULE_OP_IS_NULL || op == RULE_OP_INVALID_EMAIL || op == RULE_OP_INVALID_PHONE;
}

/* A value of one of a source's predicate columns (index into EventSource.atts). */
typedef Datum (*ColumnGetter)(void *arg, int col, bool *isnull);

/* Whether an event (of a type the rule matches) matches engagement rule r. */
static inline bool
MatchRule(RuleSet *rs, int r, int source, ColumnGetter get, void *arg)
{
	Rule *rule = rs->eng[r];
	bool isnull;
	Datum d;

	if (rule->column_name == NULL)
		return true;
	if (rule->event_col[source] < 0)
		return MissingColumnMatches(rule->op);
	d = get(arg, rule->event_col[source], &isnull);
	return RulePredicateMatches(rule->event_pred[source], d, isnull);
}

/*
 * Set the bits of the engagement rules an event matches; false when it matches none.  Only the
 * rules of the event's type and those of every type are tested (RuleSet.type_names).
 */
static bool
MatchRules(RuleSet *rs, int source, const char *type_str, int type_len, ColumnGetter get, void *arg,
		   uint64 *bits)
{
	bool any = false;
	int t = RuleSetEventType(rs, type_str, type_len);
	int k;
	int r;

	memset(bits, 0, sizeof(uint64) * rs->nwords);
	if (t >= 0)
		for (k = rs->type_first[t]; k < rs->type_first[t + 1]; k++)
		{
			r = rs->type_rules[k];
			if (MatchRule(rs, r, source, get, arg))
			{
				bits[r / 64] |= UINT64CONST(1) << (r % 64);
				any = true;
			}
		}
	for (k = 0; k < rs->nany_type; k++)
	{
		r = rs->any_type_rules[k];
		if (MatchRule(rs, r, source, get, arg))
		{
			bits[r / 64] |= UINT64CONST(1) << (r % 64);
			any = true;
		}
	}
	return any;
}

/* Append an event with its rule bitmap. */
static void
AppendEvent(EventSet *es, int lead, int source, int64 seq, TimestampTz time, const uint64 *bits)
{
	int nwords = es->rs->nwords;
	ScoredEvent *ev;

	if (es->n == es->cap)
	{
		es->cap = es->cap ? es->cap * 2 : 64;
		if (es->ev == NULL)
		{
			es->ev = MemoryContextAllocHuge(es->cxt, sizeof(ScoredEvent) * es->cap);
			es->bits = MemoryContextAllocHuge(es->cxt, sizeof(uint64) * es->cap * nwords);
		}
		else
		{
			es->ev = repalloc_huge(es->ev, sizeof(ScoredEvent) * es->cap);
			es->bits = repalloc_huge(es->bits, sizeof(uint64) * es->cap * nwords);
		}
	}
	ev = &es->ev[es->n];
	ev->lead = lead;
	ev->source = source;
	ev->seq = seq;
	ev->time = time;
	ev->bits = es->n * nwords;
	memcpy(&es->bits[ev->bits], bits, sizeof(uint64) * nwords);
	es->n++;
}

typedef struct TupleColumns
{
	HeapTuple tup;
	TupleDesc desc;
	int first; /* attribute number of the first predicate column */
} TupleColumns;

static Datum
TupleColumn(void *arg, int col, bool *isnull)
{
	TupleColumns *t = arg;

	return heap_getattr(t->tup, t->first + col, t->desc, isnull);
}

void
EventSetAdd(EventSet *es, int lead, int source, int64 seq, HeapTuple tup, TupleDesc desc,
			int type_col)
{
	RuleSet *rs = es->rs;
	MemoryContext old = MemoryContextSwitchTo(es->scratch);
	uint64 *bits = palloc(sizeof(uint64) * rs->nwords);
	TupleColumns cols = {tup, desc, type_col + 2};
	bool isnull;
	Datum d;
	text *type;
	Datum time;

	d = heap_getattr(tup, type_col, desc, &isnull);
	if (!isnull)
	{
		type = DatumGetTextPP(d);
		time = heap_getattr(tup, type_col + 1, desc,
							&isnull); /* an event without a time never happened */
		if (!isnull && MatchRules(rs, source, VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type),
								  TupleColumn, &cols, bits))
			AppendEvent(es, lead, source, seq, DatumGetTimestampTz(time), bits);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(es->scratch);
}

static Datum
SlotColumn(void *arg, int col, bool *isnull)
{
	void **a = arg;

	return slot_getattr((TupleTableSlot *) a[0], ((EventSource *) a[1])->atts[col], isnull);
}

/*
 * Reading the events of leads from one events table straight from its lead
 * index, without SQL (the trigger paths).  The scan is opened once and
 * restarted for each lead.
 */
bool
DirectReaderOpen(DirectReader *dr, EventSet *es, int s, Snapshot snapshot)
{
	EventSource *src = &es->rs->sources[s];
	MemoryContext old;

	memset(dr, 0, sizeof(*dr));
	if (!OidIsValid(src->index_oid))
		return false;
	/* row-level security applies to the current role (score(), explain()): read through SQL */
	if (check_enable_rls(src->events->relid, InvalidOid, true) == RLS_ENABLED)
		return false;
	/* a Citus table's rows are in its shards: read through SQL, which Citus routes */
	if (LsIsCitusTable(src->events->relid))
		return false;
	dr->heap = table_open(src->events->relid, AccessShareLock);
	dr->index = try_relation_open(src->index_oid, AccessShareLock);
	if (dr->index == NULL)
	{
		table_close(dr->heap, AccessShareLock);
		return false;
	}
	dr->es = es;
	dr->source = s;
	dr->cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring index scan",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(dr->cxt);
	dr->bits = palloc(sizeof(uint64) * es->rs->nwords);
	dr->scan = index_beginscan(dr->heap, dr->index, snapshot, 1, 0);
	dr->scan->xs_want_itup = src->index_only;
	dr->vmbuffer = InvalidBuffer;
	dr->ivalues = palloc(sizeof(Datum) * INDEX_MAX_KEYS);
	dr->inulls = palloc(sizeof(bool) * INDEX_MAX_KEYS);
	dr->slot = table_slot_create(dr->heap, NULL);
	MemoryContextSwitchTo(old);
	return true;
}

/* Predicate column values of an index tuple, by the source's column number. */
static Datum
IndexTupleColumn(void *arg, int col, bool *isnull)
{
	DirectReader *dr = arg;
	int pos = dr->es->rs->sources[dr->source].index_pred_cols[col] - 1;

	*isnull = dr->inulls[pos];
	return dr->ivalues[pos];
}

/* Add the matching events of one lead to the event set, as lead number 'lead'. */
void
DirectReaderRead(DirectReader *dr, int lead, Datum lead_id)
{
	EventSet *es = dr->es;
	RuleSet *rs = es->rs;
	int s = dr->source;
	EventSource *src = &rs->sources[s];
	EventsAttachment *e = src->events;
	MemoryContext old = CurrentMemoryContext;
	ScanKeyData key;
	void *slot_arg[2];
	int64 seq = 0;

	slot_arg[0] = dr->slot;
	slot_arg[1] = src;
	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid, src->lead_eq_coll,
						   src->lead_eq_proc, lead_id);
	/* the scan keeps state in dr->cxt; the rows are evaluated in es->scratch */
	MemoryContextSwitchTo(dr->cxt);
	index_rescan(dr->scan, &key, 1, NULL, 0);
	for (;;)
	{
		bool from_heap = true;
		bool type_null;
		bool time_null;
		Datum type;
		Datum time;
		char *type_str;
		int type_len;
		bool match;

		MemoryContextSwitchTo(dr->cxt);
		MemoryContextReset(es->scratch);
		if (src->index_only)
		{
			/* as an index-only scan does: the heap is read only for pages not all-visible */
			ItemPointer tid = index_getnext_tid(dr->scan, ForwardScanDirection);

			if (tid == NULL)
				break;
			if (VM_ALL_VISIBLE(dr->heap, ItemPointerGetBlockNumber(tid), &dr->vmbuffer))
			{
				from_heap = false;
				index_deform_tuple(dr->scan->xs_itup, dr->scan->xs_itupdesc, dr->ivalues,
								   dr->inulls);
				PredicateLockPage(dr->heap, ItemPointerGetBlockNumber(tid), dr->scan->xs_snapshot);
			}
			else if (!index_fetch_heap(dr->scan, dr->slot))
				continue; /* not visible */
		}
		else if (!index_getnext_slot(dr->scan, ForwardScanDirection, dr->slot))
			break;

		MemoryContextSwitchTo(es->scratch); /* per-row work */
		if (from_heap)
		{
			type = slot_getattr(dr->slot, e->type_att, &type_null);
			time = slot_getattr(dr->slot, e->time_att, &time_null);
		}
		else
		{
			type = dr->ivalues[src->index_type_col - 1];
			type_null = dr->inulls[src->index_type_col - 1];
			time = dr->ivalues[src->index_time_col - 1];
			time_null = dr->inulls[src->index_time_col - 1];
		}
		if (type_null || time_null)
			continue;
		type_str = (char *) LsEventTypeText(src, type, &type_len);
		if (type_str == NULL)
			continue; /* a key without a label matches no rule */
		if (from_heap)
			match = MatchRules(rs, s, type_str, type_len, SlotColumn, slot_arg, dr->bits);
		else
			match = MatchRules(rs, s, type_str, type_len, IndexTupleColumn, dr, dr->bits);
		if (match)
			AppendEvent(es, lead, s, seq++, LsColumnTime(src->time_type, time, src->time_zone),
						dr->bits);
	}
	MemoryContextReset(es->scratch);
	MemoryContextSwitchTo(old);
}

void
DirectReaderClose(DirectReader *dr)
{
	if (dr->scan == NULL)
		return;
	if (BufferIsValid(dr->vmbuffer))
		ReleaseBuffer(dr->vmbuffer);
	index_endscan(dr->scan);
	ExecDropSingleTupleTableSlot(dr->slot);
	index_close(dr->index, AccessShareLock);
	table_close(dr->heap, AccessShareLock);
	MemoryContextDelete(dr->cxt);
	dr->scan = NULL;
}

bool
EventRowRules(RuleSet *rs, int source, TupleTableSlot *slot, MemoryContext scratch, uint64 *bits,
			  TimestampTz *time)
{
	EventSource *src = &rs->sources[source];
	MemoryContext old = MemoryContextSwitchTo(scratch);
	void *slot_arg[2];
	bool type_null;
	bool time_null;
	Datum type = slot_getattr(slot, src->events->type_att, &type_null);
	Datum t = slot_getattr(slot, src->events->time_att, &time_null);
	bool result = false;

	slot_arg[0] = slot;
	slot_arg[1] = src;
	if (!type_null && !time_null)
	{
		char *type_str;
		int type_len;

		type_str = (char *) LsEventTypeText(src, type, &type_len);
		result = type_str != NULL &&
				 MatchRules(rs, source, type_str, type_len, SlotColumn, slot_arg, bits);
		if (result)
			*time = LsColumnTime(src->time_type, t, src->time_zone);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(scratch);
	return result;
}

void
EventSetAppend(EventSet *es, int lead, int source, int64 seq, TimestampTz time, const uint64 *bits)
{
	AppendEvent(es, lead, source, seq, time, bits);
}

int64
DirectReaderCount(DirectReader *dr, Datum lead_id)
{
	EventSource *src = &dr->es->rs->sources[dr->source];
	MemoryContext old = MemoryContextSwitchTo(dr->cxt);
	ScanKeyData key;
	int64 n = 0;

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid, src->lead_eq_coll,
						   src->lead_eq_proc, lead_id);
	index_rescan(dr->scan, &key, 1, NULL, 0);
	while (index_getnext_tid(dr->scan, ForwardScanDirection) != NULL)
		n++;
	MemoryContextSwitchTo(old);
	return n;
}

static int
CompareScoredEvents(const void *a, const void *b)
{
	const ScoredEvent *x = a;
	const ScoredEvent *y = b;

	if (x->lead != y->lead)
		return x->lead < y->lead ? -1 : 1;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return 0;
}

void
EventSetEngagement(EventSet *es, int nleads, TimestampTz at, TimestampTz cutoff, double *engagement,
				   RuleOutcome *outcomes, LeadState *states)
{
	RuleSet *rs = es->rs;
	int neng = rs->neng;
	int32 *hits;
	double *sum;
	int i = 0;
	int lead;

	if (es->n > 1)
		qsort(es->ev, es->n, sizeof(ScoredEvent), CompareScoredEvents);
	hits = MemoryContextAlloc(es->scratch, sizeof(int32) * Max(neng, 1));
	sum = MemoryContextAlloc(es->scratch, sizeof(double) * Max(neng, 1));
	for (lead = 0; lead < nleads; lead++)
	{
		double total = 0;
		int r;

		memset(hits, 0, sizeof(int32) * Max(neng, 1));
		memset(sum, 0, sizeof(double) * Max(neng, 1));
		if (states != NULL)
			LeadStateInit(&states[lead], rs);
		for (; i < es->n && es->ev[i].lead == lead; i++)
		{
			ScoredEvent *ev = &es->ev[i];
			uint64 *bits = &es->bits[ev->bits];
			double age;

			if (ev->time > cutoff)
			{
				/* not happened yet; the state is rebuilt when it has */
				if (states != NULL && ev->time < states[lead].pending)
					states[lead].pending = ev->time;
				continue;
			}
			/* an event after 'at' but before the cutoff (a write's own moment) counts in full */
			age = AgeSeconds(at, ev->time);
			for (r = 0; r < neng; r++)
			{
				Rule *rule;

				if (!(bits[r / 64] & (UINT64CONST(1) << (r % 64))))
					continue;
				rule = rs->eng[r];
				if (rule->has_max_hits && hits[r] >= rule->max_hits)
					continue;
				hits[r]++;
				/* the state counts the same events in the same (time) order: it never refuses */
				if (states != NULL)
					(void) LeadStateCount(rs, &states[lead], r, ev->time);
				if (rule->has_half_life)
					sum[r] += rule->points * pow(0.5, age / rule->half_life);
				else
					sum[r] += rule->points;
			}
		}
		for (r = 0; r < neng; r++)
		{
			Rule *rule = rs->eng[r];
			double points = LsCapPoints(rule, sum[r]);

			total += points;
			if (outcomes != NULL)
			{
				outcomes[r].hits = hits[r];
				outcomes[r].points = points;
			}
		}
		engagement[lead] = total;
	}
	MemoryContextReset(es->scratch);
}

/* ---------------------------------------------------------------------------
 * Fit and the final score
 * ---------------------------------------------------------------------------
 */

int64
FitPoints(RuleSet *rs, const Datum *values, const bool *nulls, RuleOutcome *outcomes)
{
	int64 total = 0;
	int r;

	for (r = 0; r < rs->nfit; r++)
	{
		Rule *rule = rs->fit[r];
		bool match =
			RulePredicateMatches(rule->fit_pred, values[rule->fit_col], nulls[rule->fit_col]);

		if (match)
			total += rule->points;
		if (outcomes != NULL)
		{
			outcomes[r].hits = match ? 1 : 0;
			outcomes[r].points = match ? rule->points : 0;
		}
	}
	return total;
}

int32
FinalScore(double unrounded)
{
	const LsSettings *s = LsGetSettings();
	double score = round(unrounded); /* half away from zero */

	if (s->has_score_floor && score < s->score_floor)
		score = s->score_floor;
	if (s->has_score_ceiling && score > s->score_ceiling)
		score = s->score_ceiling;
	if (isnan(score) || score < PG_INT32_MIN || score > PG_INT32_MAX)
		ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						errmsg("lead score %g is out of the range of integer", unrounded),
						errhint("Lower the rules' points, or set lead_scoring.settings.score_floor "
								"and score_ceiling.")));
	return (int32) score;
}

/* ---------------------------------------------------------------------------
 * One lead
 * ---------------------------------------------------------------------------
 */

TimestampTz
WriteCutoff(TimestampTz at)
{
	TimestampTz now = GetCurrentTimestamp();

	/* a simulated clock (lead_scoring.now) is the cutoff itself: history is replayed in its order
	 */
	if (LsNowIsSet())
		return at;
	return now > at ? now : at;
}

double
LeadEngagement(RuleSet *rs, Datum lead_id, TimestampTz at, bool fresh, RuleOutcome *outcomes,
			   LeadState *state)
{
	EventSet es;
	double engagement = 0;
	Snapshot snapshot;
	bool *direct = palloc(sizeof(bool) * Max(rs->nsources, 1));
	bool connected = false;
	TimestampTz cutoff;
	int s;

	if (rs->neng == 0 || rs->nsources == 0)
	{
		if (outcomes != NULL && rs->neng > 0)
			memset(outcomes, 0, sizeof(RuleOutcome) * rs->neng);
		if (state != NULL)
			LeadStateInit(state, rs);
		return 0;
	}
	EventSetInit(&es, rs);
	/*
	 * The latest snapshot (the trigger paths, after the lead's row or id bucket is locked: also
	 * under REPEATABLE READ, whose transaction snapshot would miss the events committed by the
	 * transactions it waited for; doc/scoring.md, "Concurrency"), or the query's.
	 */
	snapshot = RegisterSnapshot(fresh ? GetLatestSnapshot() : GetActiveSnapshot());
	cutoff = fresh ? WriteCutoff(at) : at;
	for (s = 0; s < rs->nsources; s++)
	{
		DirectReader dr;

		direct[s] = DirectReaderOpen(&dr, &es, s, snapshot);
		if (direct[s])
		{
			DirectReaderRead(&dr, 0, lead_id);
			DirectReaderClose(&dr);
		}
	}
	UnregisterSnapshot(snapshot);
	for (s = 0; s < rs->nsources; s++)
	{
		Datum args[2];
		char nulls[2] = {' ', ' '};
		uint64 i;
		int rc;

		if (direct[s])
			continue;
		if (!connected)
			LsSpiConnect();
		connected = true;
		args[0] = lead_id;
		args[1] = EventTypesArg(rs, &nulls[1]);
		rc = SPI_execute_plan(LeadEventsPlan(rs, s), args, nulls, !fresh, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading the events of a lead failed: %s", SPI_result_code_string(rc));
		for (i = 0; i < SPI_processed; i++)
			EventSetAdd(&es, 0, s, (int64) i, SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		SPI_freetuptable(SPI_tuptable);
	}
	if (connected)
		SPI_finish();
	EventSetEngagement(&es, 1, at, cutoff, &engagement, outcomes, state);
	EventSetFree(&es);
	return engagement;
}

/* ---------------------------------------------------------------------------
 * SQL-callable functions behind the generated score, explain and grade wrappers
 * ---------------------------------------------------------------------------
 */

/* The leads attachment, after checking that the argument has the lead id's type. */
static LeadsAttachment *
CheckLeadArgument(FunctionCallInfo fcinfo, const char *fname)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	Oid argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);

	if (!OidIsValid(argtype) || getBaseType(argtype) != getBaseType(leads->id_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s() takes a lead id of type %s, not %s", fname,
						format_type_be(leads->id_type),
						OidIsValid(argtype) ? format_type_be(argtype) : "unknown"),
				 errhint("Call lead_scoring.%s(lead) with a value of the leads table's id column.",
						 fname)));
	return leads;
}

/* The caller must be able to read the leads and events tables whose data the result reveals. */
static void
CheckCanRead(RuleSet *rs)
{
	int s;
	AclResult acl = pg_class_aclcheck(rs->leads->relid, GetUserId(), ACL_SELECT);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(rs->leads->relid));
	for (s = 0; s < rs->nsources; s++)
	{
		acl = pg_class_aclcheck(rs->sources[s].events->relid, GetUserId(), ACL_SELECT);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, get_rel_name(rs->sources[s].events->relid));
	}
}

/* Fit and engagement of a lead at 'at', with per-rule outcomes; false when the lead does not exist.
 */
static bool
ComputeLead(RuleSet *rs, Datum lead_id, TimestampTz at, int64 *fit, double *engagement,
			RuleOutcome *fit_outcomes, RuleOutcome *eng_outcomes)
{
	Datum *values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
	bool *nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
	int rc;
	int i;
	bool found;

	/*
	 * On Citus, a lead whose shard is on this node is read from that shard and the colocated
	 * events shards: inside a query over the leads, Citus runs this on the lead's shard, where a
	 * query of the distributed tables would be refused (doc/scale-out.md, "score() in a query").
	 */
	Oid shard = LsLocalLeadShard(lead_id);

	if (OidIsValid(shard))
		rs = LsRulesNear(rs, shard);
	LsSpiConnect();
	rc = SPI_execute_plan(LeadRowPlan(rs), &lead_id, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading a lead failed: %s", SPI_result_code_string(rc));
	found = (SPI_processed == 1);
	if (found)
	{
		/* fit is evaluated here, while the row's values are still in SPI memory */
		for (i = 0; i < rs->nfit_atts; i++)
			values[i] =
				SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &nulls[i]);
		*fit = FitPoints(rs, values, nulls, fit_outcomes);
	}
	SPI_finish();
	if (found)
		*engagement = LeadEngagement(rs, lead_id, at, false, eng_outcomes, NULL);
	return found;
}

/* score_lead(lead anyelement, at timestamptz): behind the generated score(lead, at). */
PG_FUNCTION_INFO_V1(score_lead);
Datum
score_lead(PG_FUNCTION_ARGS)
{
	RuleSet *rs;
	int64 fit;
	double engagement;
	bool found;

	CheckLeadArgument(fcinfo, "score");
	rs = LsRules();
	CheckCanRead(rs);
	/* as the caller: row-level security shows what the caller may see (doc/security.md) */
	found = ComputeLead(rs, PG_GETARG_DATUM(0), PG_GETARG_TIMESTAMPTZ(1), &fit, &engagement, NULL,
						NULL);
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT32(FinalScore((double) fit + engagement));
}

/* grade_lead(lead anyelement): fit band A-D and engagement band 1-4, from the settings' bands. */
PG_FUNCTION_INFO_V1(grade_lead);
Datum
grade_lead(PG_FUNCTION_ARGS)
{
	const LsSettings *s;
	RuleSet *rs;
	int64 fit;
	double engagement;
	double eng_rounded;
	char grade[3];
	bool found;
	int band;

	CheckLeadArgument(fcinfo, "grade");
	rs = LsRules();
	CheckCanRead(rs);
	/* as the caller: row-level security shows what the caller may see (doc/security.md) */
	found = ComputeLead(rs, PG_GETARG_DATUM(0), LsNow(), &fit, &engagement, NULL, NULL);
	if (!found)
		PG_RETURN_NULL();
	s = LsGetSettings();
	for (band = 0; band < 3 && fit < s->fit_grade_bands[band]; band++)
		;
	grade[0] = 'A' + band;
	eng_rounded = round(engagement);
	for (band = 0; band < 3 && eng_rounded < s->engagement_grade_bands[band]; band++)
		;
	grade[1] = '1' + band;
	grade[2] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(grade));
}

/* explain_lead(lead anyelement, at timestamptz): the rules that contribute to the score. */
PG_FUNCTION_INFO_V1(explain_lead);
Datum
explain_lead(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc tupdesc;
	Tuplestorestate *store;
	MemoryContext old;
	RuleSet *rs;
	RuleOutcome *fit_out;
	RuleOutcome *eng_out;
	int64 fit;
	double engagement;
	bool found;
	int r;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || !(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("explain() must be called in a context that accepts a set")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "explain_lead() must return a row type");
	CheckLeadArgument(fcinfo, "explain");
	rs = LsRules();
	CheckCanRead(rs);
	fit_out = palloc0(sizeof(RuleOutcome) * Max(rs->nfit, 1));
	eng_out = palloc0(sizeof(RuleOutcome) * Max(rs->neng, 1));
	/* as the caller: row-level security shows what the caller may see (doc/security.md) */
	found = ComputeLead(rs, PG_GETARG_DATUM(0), PG_GETARG_TIMESTAMPTZ(1), &fit, &engagement,
						fit_out, eng_out);

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	store = tuplestore_begin_heap(rsinfo->allowedModes & SFRM_Materialize_Random, false, work_mem);
	MemoryContextSwitchTo(old);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	if (!found)
		return (Datum) 0;

	for (r = 0; r < rs->nfit + rs->neng; r++)
	{
		bool is_fit = r < rs->nfit;
		Rule *rule = is_fit ? rs->fit[r] : rs->eng[r - rs->nfit];
		RuleOutcome *o = is_fit ? &fit_out[r] : &eng_out[r - rs->nfit];
		Datum values[4];
		bool nulls[4] = {false, false, false, false};

		if (o->hits == 0)
			continue;
		values[0] = CStringGetTextDatum(rule->name);
		values[1] = CStringGetTextDatum(is_fit ? "fit" : "engagement");
		values[2] = Int32GetDatum(o->hits);
		values[3] = Float8GetDatum(o->points);
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	return (Datum) 0;
}
