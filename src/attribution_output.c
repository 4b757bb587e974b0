/*
 * attribution_output.c — what attribution produces: credits split exactly
 * (SplitAmount), result rows in the caller's column list, per-group totals
 * (channel, campaign, keyword) summed in C so that a report needs no row per
 * touch, and the conversions of the journey-based models held back until
 * every journey is known (doc/attribution.md, "How it runs").
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "attribution_int.h"

/* Markov stash: conversions waiting for the journeys. */
enum
{
	S_SEQ,
	S_LEAD_ID,
	S_CONVERSION_ID,
	S_CONVERTED_AT,
	S_VALUE,
	S_COST,
	S_EVENT_REF,
	S_CHANNEL,
	S_CAMPAIGN,
	S_KEYWORD,
	S_TOUCHED_AT,
	S_CHANNEL_ID,
	S_NCOLS
};

static const struct
{
	const char *name;
	Oid type; /* InvalidOid: the leads id type */
} out_columns[OC_COUNT] = {
	{"conversion_id", TEXTOID}, {"lead_id", InvalidOid}, {"converted_at", TIMESTAMPTZOID},
	{"value", NUMERICOID},		{"event_ref", TEXTOID},	 {"channel", TEXTOID},
	{"campaign", TEXTOID},		{"keyword", TEXTOID},	 {"touched_at", TIMESTAMPTZOID},
	{"weight", FLOAT8OID},		{"credit", NUMERICOID},	 {"cost", NUMERICOID},
};

static void AddTotals(AttributionRun *run, const Conversion *conv, const Touch *touches, int n,
					  const double *w);

/* Make room for n touches in the per-path scratch arrays. */
void
EnsureTouchCapacity(AttributionRun *run, int n)
{
	int cap = run->touch_cap;

	if (n <= cap)
		return;
	while (cap < n)
		cap *= 2;
	run->times = repalloc_huge(run->times, sizeof(TimestampTz) * cap);
	run->touches = repalloc_huge(run->touches, sizeof(Touch) * cap);
	run->ids = repalloc_huge(run->ids, sizeof(int) * cap);
	run->weights = repalloc_huge(run->weights, sizeof(double) * cap);
	run->credits = repalloc_huge(run->credits, sizeof(Datum) * cap);
	run->costs = repalloc_huge(run->costs, sizeof(Datum) * cap);
	run->units = repalloc_huge(run->units, sizeof(int64) * cap);
	run->touch_cap = cap;
}

/* Numeric 10^scale, scale <= 18. */
static Datum
PowerOfTen(int scale)
{
	int64 p = 1;

	while (scale-- > 0)
		p *= 10;
	return NumericGetDatum(int64_to_numeric(p));
}

/* Numeric units / 10^scale. */
static Datum
UnitsToNumeric(int64 units, int scale)
{
#if PG_VERSION_NUM >= 140000
	return NumericGetDatum(int64_div_fast_to_numeric(units, scale));
#else
	return DirectFunctionCall2(numeric_div, DirectFunctionCall1(int8_numeric, Int64GetDatum(units)),
							   PowerOfTen(scale));
#endif
}

/*
 * The amount as integer units of 10^-scale, scale = max(6, the amount's
 * scale), when that is exact and small enough for double arithmetic (below
 * 2^52).  The last amount is remembered: stage conversions all have value 1.
 */
static bool
AmountUnits(AttributionRun *run, Numeric num, int *scale)
{
	Size len = VARSIZE(num);
	Datum amount = NumericGetDatum(num);
	Datum scaled;
	int s;

	if (run->last_amount_len == len && memcmp(run->last_amount, num, len) == 0)
	{
		*scale = run->last_scale;
		return run->last_units_ok;
	}
	s = Max(DatumGetInt32(DirectFunctionCall1(numeric_scale, amount)), 6);
	run->last_units_ok = false;
	if (s <= 15)
	{
		scaled = DirectFunctionCall2(numeric_mul, amount, PowerOfTen(s));
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, DirectFunctionCall1(numeric_abs, scaled),
											  run->fast_limit)) < 0)
		{
			run->last_units = DatumGetInt64(DirectFunctionCall1(numeric_int8, scaled));
			run->last_units_ok = true;
		}
	}
	run->last_scale = s;
	if (len <= sizeof(run->last_amount))
	{
		memcpy(run->last_amount, num, len);
		run->last_amount_len = len;
	}
	else
		run->last_amount_len = 0;
	*scale = s;
	return run->last_units_ok;
}

/*
 * Split amount over n rows by weight as integer units of 10^-scale:
 * parts[i] = amount * w[i] rounded, the rounding residue given to the largest
 * weight so that the parts add up to amount exactly.  False when the amount
 * is not exact in such units (NaN, infinite, too large or too fine): then
 * SplitAmount uses numeric arithmetic.
 */
static bool
SplitUnits(AttributionRun *run, Numeric num, const double *w, int n, int64 *parts, int *scale)
{
	int largest = 0;
	int64 units;
	int64 sum = 0;
	int i;

	if (numeric_is_nan(num) || numeric_is_inf(num) || !AmountUnits(run, num, scale))
		return false;
	units = run->last_units;
	for (i = 1; i < n; i++)
		if (w[i] > w[largest])
			largest = i;
	for (i = 0; i < n; i++)
	{
		parts[i] = (int64) llround((double) units * w[i]);
		sum += parts[i];
	}
	parts[largest] += units - sum;
	return true;
}

/*
 * Split amount over n rows by weight: out[i] = amount * w[i], rounded to at
 * least 6 decimals, the rounding residue given to the largest weight so that
 * the parts add up to amount exactly.
 */
static void
SplitAmount(AttributionRun *run, Datum amount, const double *w, int n, Datum *out)
{
	Numeric num = DatumGetNumeric(amount);
	int largest = 0;
	int scale;
	int i;
	Datum rest = amount;

	if (n == 1)
	{
		out[0] = amount;
		return;
	}
	if (SplitUnits(run, num, w, n, run->units, &scale))
	{
		/* equal parts (linear: all but the residue) share one numeric */
		for (i = 0; i < n; i++)
			out[i] = i > 0 && run->units[i] == run->units[i - 1]
						 ? out[i - 1]
						 : UnitsToNumeric(run->units[i], scale);
		return;
	}
	if (numeric_is_nan(num) || numeric_is_inf(num))
	{
		for (i = 0; i < n; i++)
			out[i] = DirectFunctionCall2(numeric_mul, amount,
										 DirectFunctionCall1(float8_numeric, Float8GetDatum(w[i])));
		return;
	}
	scale = Min(scale, 15);

	/* numeric arithmetic */
	for (i = 1; i < n; i++)
		if (w[i] > w[largest])
			largest = i;
	for (i = 0; i < n; i++)
	{
		if (i == largest)
			continue;
		out[i] = DirectFunctionCall2(
			numeric_round,
			DirectFunctionCall2(numeric_mul, amount,
								DirectFunctionCall1(float8_numeric, Float8GetDatum(w[i]))),
			Int32GetDatum(scale));
		rest = DirectFunctionCall2(numeric_sub, rest, out[i]);
	}
	out[largest] = rest;
}

/* Put one output row, filling the requested columns. */
static void
PutRow(AttributionRun *run, Datum lead_id, const Conversion *conv, const Touch *touch,
	   double weight, Datum credit, bool credit_null, Datum cost, bool cost_null)
{
	int natts = run->out_desc->natts;
	int a;

	for (a = 0; a < natts; a++)
	{
		Datum v = (Datum) 0;
		bool isnull = false;

		switch (run->out_map[a])
		{
			case OC_CONVERSION_ID:
				v = conv->id;
				break;
			case OC_LEAD_ID:
				v = lead_id;
				isnull = run->lead_null;
				break;
			case OC_CONVERTED_AT:
				v = TimestampTzGetDatum(conv->at);
				break;
			case OC_VALUE:
				v = conv->value;
				isnull = conv->value_null;
				break;
			case OC_EVENT_REF:
				v = touch ? touch->ref : (Datum) 0;
				isnull = touch ? touch->ref_null : true;
				break;
			case OC_CHANNEL:
				v = touch ? touch->channel : CStringGetTextDatum("(none)");
				break;
			case OC_CAMPAIGN:
				v = touch ? touch->campaign : (Datum) 0;
				isnull = touch ? touch->campaign_null : true;
				break;
			case OC_KEYWORD:
				v = touch ? touch->keyword : (Datum) 0;
				isnull = touch ? touch->keyword_null : true;
				break;
			case OC_TOUCHED_AT:
				v = touch ? TimestampTzGetDatum(touch->at) : (Datum) 0;
				isnull = touch == NULL || touch->at_null;
				break;
			case OC_WEIGHT:
				v = Float8GetDatum(weight);
				break;
			case OC_CREDIT:
				v = credit;
				isnull = credit_null;
				break;
			case OC_COST:
				v = cost;
				isnull = cost_null;
				break;
		}
		run->out_values[a] = v;
		run->out_nulls[a] = isnull;
	}
	tuplestore_putvalues(run->out, run->out_desc, run->out_values, run->out_nulls);
}

/*
 * Emit one conversion: n touches with their weights, or "(none)" when n = 0,
 * as result rows, as per-group totals or as bootstrap input.
 */
void
EmitConversion(AttributionRun *run, Datum lead_id, const Conversion *conv, const Touch *touches,
			   int n, const double *w)
{
	bool credit = run->want[OC_CREDIT] && !conv->value_null;
	bool cost = run->want[OC_COST] && !conv->cost_null;
	int i;

	if (run->ci)
	{
		CiAddConversion(run, conv, touches, n, w);
		return;
	}
	if (run->totals)
	{
		AddTotals(run, conv, touches, n, w);
		return;
	}
	if (n == 0)
	{
		PutRow(run, lead_id, conv, NULL, 1.0, conv->value, conv->value_null, conv->cost,
			   conv->cost_null);
		return;
	}
	if (credit)
		SplitAmount(run, conv->value, w, n, run->credits);
	if (cost)
		SplitAmount(run, conv->cost, w, n, run->costs);
	for (i = 0; i < n; i++)
		PutRow(run, lead_id, conv, &touches[i], w[i], credit ? run->credits[i] : (Datum) 0, !credit,
			   cost ? run->costs[i] : (Datum) 0, !cost);
}

/* The tuplestore that holds conversions back until the journeys are known. */
void
StashCreate(AttributionRun *run)
{
	TupleDesc d = CreateTemplateTupleDesc(S_NCOLS);

	TupleDescInitEntry(d, S_SEQ + 1, "seq", INT8OID, -1, 0);
	TupleDescInitEntry(d, S_LEAD_ID + 1, "lead_id", run->lead_type, -1, 0);
	TupleDescInitEntry(d, S_CONVERSION_ID + 1, "conversion_id", TEXTOID, -1, 0);
	TupleDescInitEntry(d, S_CONVERTED_AT + 1, "converted_at", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(d, S_VALUE + 1, "value", NUMERICOID, -1, 0);
	TupleDescInitEntry(d, S_COST + 1, "cost", NUMERICOID, -1, 0);
	TupleDescInitEntry(d, S_EVENT_REF + 1, "event_ref", TEXTOID, -1, 0);
	TupleDescInitEntry(d, S_CHANNEL + 1, "channel", TEXTOID, -1, 0);
	TupleDescInitEntry(d, S_CAMPAIGN + 1, "campaign", TEXTOID, -1, 0);
	TupleDescInitEntry(d, S_KEYWORD + 1, "keyword", TEXTOID, -1, 0);
	TupleDescInitEntry(d, S_TOUCHED_AT + 1, "touched_at", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(d, S_CHANNEL_ID + 1, "channel_id", INT4OID, -1, 0);
	run->stash_desc = d;
	run->stash = tuplestore_begin_heap(true, false, work_mem);
}

/* Keep a conversion's touches until the journeys are known (markov, shapley). */
void
StashConversion(AttributionRun *run, Datum lead_id, const Conversion *conv, const Touch *touches,
				int n)
{
	Datum v[S_NCOLS];
	bool isnull[S_NCOLS];
	int i;

	run->conversion_seq++;
	memset(isnull, 0, sizeof(isnull));
	v[S_SEQ] = Int64GetDatum(run->conversion_seq);
	v[S_LEAD_ID] = lead_id;
	v[S_CONVERSION_ID] = conv->id;
	v[S_CONVERTED_AT] = TimestampTzGetDatum(conv->at);
	v[S_VALUE] = conv->value;
	isnull[S_VALUE] = conv->value_null;
	v[S_COST] = conv->cost;
	isnull[S_COST] = conv->cost_null;
	for (i = 0; i < n; i++)
	{
		v[S_EVENT_REF] = touches[i].ref;
		isnull[S_EVENT_REF] = touches[i].ref_null;
		v[S_CHANNEL] = touches[i].channel;
		v[S_CAMPAIGN] = touches[i].campaign;
		isnull[S_CAMPAIGN] = touches[i].campaign_null;
		v[S_KEYWORD] = touches[i].keyword;
		isnull[S_KEYWORD] = touches[i].keyword_null;
		v[S_TOUCHED_AT] = TimestampTzGetDatum(touches[i].at);
		v[S_CHANNEL_ID] = Int32GetDatum(touches[i].channel_id);
		tuplestore_putvalues(run->stash, run->stash_desc, v, isnull);
	}
}

/*
 * The weights a journey-based model gives one path: markov (path split) and
 * shapley split the conversion over the path's distinct channels, each
 * channel's share equally over its touches.
 */
void
JourneyWeights(AttributionRun *run, int n, const int *channel_ids, double *w)
{
	if (run->model == AM_SHAPLEY)
		ShapleyWeights(run->shapley, n, channel_ids, run->counts, w);
	else
		MarkovWeights(n, channel_ids, run->removal_effect, run->counts, w);
}

/*
 * Sum of the removal effects of every channel; the aggregate split gives
 * channel c the share RE(c) / sum.
 */
static double
RemovalEffectSum(const AttributionRun *run)
{
	double sum = 0.0;
	int c;

	for (c = 0; c < MarkovChannelCount(run->chain); c++)
		sum += run->removal_effect[c];
	return sum;
}

/*
 * Emit one conversion of a journey-based model.  The aggregate split gives
 * every channel with a positive removal effect the share RE(c) / sum RE,
 * whatever the conversion's own path: one row per channel, without touch
 * (event_ref, touched_at, campaign and keyword NULL).  When every removal
 * effect is 0 it falls back to the path split.
 */
static void
EmitJourneyConversion(AttributionRun *run, Datum lead_id, const Conversion *conv,
					  const Touch *touches, int n)
{
	double sum;
	int nchannels;
	int c, k;
	Touch *rows;
	double *w;

	if (run->model != AM_MARKOV || run->split != SPLIT_AGGREGATE ||
		(sum = RemovalEffectSum(run)) <= 0)
	{
		int i;

		for (i = 0; i < n; i++)
			run->ids[i] = touches[i].channel_id;
		JourneyWeights(run, n, run->ids, run->weights);
		EmitConversion(run, lead_id, conv, touches, n, run->weights);
		return;
	}
	nchannels = MarkovChannelCount(run->chain);
	EnsureTouchCapacity(run, nchannels);
	rows = palloc0(sizeof(Touch) * nchannels);
	w = palloc(sizeof(double) * nchannels);
	for (c = 0, k = 0; c < nchannels; c++)
	{
		int len;
		const char *name;

		if (run->removal_effect[c] <= 0)
			continue;
		name = MarkovChannelName(run->chain, c, &len);
		rows[k].ref_null = true;
		rows[k].channel = PointerGetDatum(cstring_to_text_with_len(name, len));
		rows[k].campaign_null = true;
		rows[k].keyword_null = true;
		rows[k].at_null = true;
		rows[k].channel_id = c;
		w[k] = run->removal_effect[c] / sum;
		k++;
	}
	EmitConversion(run, lead_id, conv, rows, k, w);
}

/* Emit the held-back conversions now that the model knows every journey. */
void
EmitStash(AttributionRun *run)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(run->stash_desc, &TTSOpsMinimalTuple);
	HeapTuple *group = NULL;
	int group_cap = 0;
	int n = 0;
	int64 group_seq = 0;

	tuplestore_rescan(run->stash);
	for (;;)
	{
		bool more = tuplestore_gettupleslot(run->stash, true, false, slot);
		bool isnull;
		int64 seq = more ? DatumGetInt64(slot_getattr(slot, S_SEQ + 1, &isnull)) : -1;

		/* a new conversion, or the end: emit the conversion collected so far */
		if (n > 0 && seq != group_seq)
		{
			MemoryContext old = MemoryContextSwitchTo(run->lead_cxt);
			Datum v[S_NCOLS];
			bool nulls[S_NCOLS];
			Conversion conv = {0};
			Datum lead_id = (Datum) 0;
			int i;

			EnsureTouchCapacity(run, n);
			for (i = 0; i < n; i++)
			{
				Touch *t = &run->touches[i];

				heap_deform_tuple(group[i], run->stash_desc, v, nulls);
				if (i == 0)
				{
					lead_id = v[S_LEAD_ID];
					conv.id = v[S_CONVERSION_ID];
					conv.at = DatumGetTimestampTz(v[S_CONVERTED_AT]);
					conv.value = v[S_VALUE];
					conv.value_null = nulls[S_VALUE];
					conv.cost = v[S_COST];
					conv.cost_null = nulls[S_COST];
				}
				t->ref = v[S_EVENT_REF];
				t->ref_null = nulls[S_EVENT_REF];
				t->channel = v[S_CHANNEL];
				t->campaign = v[S_CAMPAIGN];
				t->campaign_null = nulls[S_CAMPAIGN];
				t->keyword = v[S_KEYWORD];
				t->keyword_null = nulls[S_KEYWORD];
				t->at = DatumGetTimestampTz(v[S_TOUCHED_AT]);
				t->channel_id = run->ids[i] = DatumGetInt32(v[S_CHANNEL_ID]);
			}
			EmitJourneyConversion(run, lead_id, &conv, run->touches, n);
			MemoryContextSwitchTo(old);
			MemoryContextReset(run->lead_cxt);
			n = 0;
		}
		if (!more)
			break;
		if (n == group_cap)
		{
			group_cap = group_cap ? group_cap * 2 : 64;
			group = group ? repalloc_huge(group, sizeof(HeapTuple) * group_cap)
						  : palloc(sizeof(HeapTuple) * group_cap);
		}
		{
			MemoryContext old = MemoryContextSwitchTo(run->lead_cxt);

			group[n++] = ExecCopySlotHeapTuple(slot);
			MemoryContextSwitchTo(old);
		}
		group_seq = seq;
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* Set up materialize-mode output for a set-returning function; returns the tuplestore. */
Tuplestorestate *
MaterializeOutput(FunctionCallInfo fcinfo, TupleDesc *desc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old;
	TupleDesc tupdesc;
	Tuplestorestate *store;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(
			ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("function returning record called in context that cannot accept type record"),
			 errhint("Give a column definition list, as lead_scoring.attribution() does.")));
	tupdesc = CreateTupleDescCopy(tupdesc);
	store = tuplestore_begin_heap(rsinfo->allowedModes & SFRM_Materialize_Random, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = tupdesc;
	MemoryContextSwitchTo(old);
	*desc = tupdesc;
	return store;
}

/* Index of the output column called name, or -1. */
static int
OutColumnIndex(const char *name)
{
	int c;

	for (c = 0; c < OC_COUNT; c++)
		if (strcmp(name, out_columns[c].name) == 0)
			return c;
	return -1;
}

/* Map the output columns by name, checking their types. */
void
MapOutputColumns(AttributionRun *run)
{
	TupleDesc desc = run->out_desc;
	int a;

	run->out_map = palloc(sizeof(int) * Max(desc->natts, 1));
	for (a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);
		int c = OutColumnIndex(NameStr(att->attname));
		Oid expected;

		if (c < 0)
		{
			StringInfoData names;

			initStringInfo(&names);
			for (c = 0; c < OC_COUNT; c++)
				appendStringInfo(&names, "%s%s", c ? ", " : "", out_columns[c].name);
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
							errmsg("attribution has no column \"%s\"", NameStr(att->attname)),
							errhint("Columns are: %s.", names.data)));
		}
		else
		{
			expected = OidIsValid(out_columns[c].type) ? out_columns[c].type : run->lead_type;
			if (att->atttypid != expected)
				ereport(
					ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("attribution column \"%s\" must have type %s, not %s",
							NameStr(att->attname), format_type_be(expected),
							format_type_be(att->atttypid)),
					 errhint("Call lead_scoring.rebuild_views() if the leads id type changed.")));
			run->out_map[a] = c;
			run->want[c] = true;
		}
	}
	run->out_values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	run->out_nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
}

/* ------------------------------------------------------------------------
 * Per-group totals
 * ------------------------------------------------------------------------ */

/* A sum of numerics: exact units of 10^-6 while they fit, the rest as numeric. */
typedef struct NumericSum
{
	bool any;
	int scale;	   /* the largest scale of the numbers added */
	int64 units;   /* 10^-6 */
	Datum numeric; /* 0 while unused */
} NumericSum;

/* One group: its key and its sums. */
typedef struct GroupEntry
{
	uint32 hash;
	Datum key[3]; /* channel, campaign, keyword (text) */
	bool null[3];
	double weight;
	NumericSum credit;
	NumericSum cost;
} GroupEntry;

struct GroupTable
{
	MemoryContext cxt;
	int depth;
	int n;
	int cap;
	GroupEntry *entries;
	int *slots; /* open addressing: entry index, -1 empty */
	int nslots;
};

/*
 * The slots of an open-addressing table (nslots, a power of two), refilled after it grew: -1 in
 * each, then the index of each of the n entries at the first free slot from its hash (a uint32 at
 * hash_offset in each entry of entry_size bytes).  The group table's, and the fast reader's tables
 * of leads and of texts (attribution_read_fast.c).
 */
void
SlotsFill(int *slots, int nslots, const void *entries, Size entry_size, Size hash_offset, int n)
{
	int pos;
	int i;

	for (i = 0; i < nslots; i++)
		slots[i] = -1;
	for (i = 0; i < n; i++)
	{
		uint32 h = *(const uint32 *) ((const char *) entries + i * entry_size + hash_offset);

		for (pos = h & (nslots - 1); slots[pos] >= 0; pos = (pos + 1) & (nslots - 1))
			;
		slots[pos] = i;
	}
}

/* An empty table of groups at the given depth, in the current memory context. */
GroupTable *
GroupTableCreate(int depth)
{
	GroupTable *g = palloc0(sizeof(GroupTable));

	g->cxt = CurrentMemoryContext;
	g->depth = depth;
	return g;
}

int
GroupCount(const GroupTable *g)
{
	return g->n;
}

/* The group's key columns (channel, campaign, keyword; NULL beyond the depth). */
void
GroupKey(const GroupTable *g, int id, Datum *values, bool *nulls)
{
	int k;

	for (k = 0; k < 3; k++)
	{
		values[k] = g->entries[id].key[k];
		nulls[k] = g->entries[id].null[k];
	}
}

/* Whether two texts hold the same bytes. */
static bool
SameText(Datum a, Datum b)
{
	int la, lb;
	const char *pa = TextBytes(a, &la);
	const char *pb = TextBytes(b, &lb);

	return la == lb && memcmp(pa, pb, la) == 0;
}

/* Number of the group of (channel, campaign, keyword) cut to the table's depth, added when new. */
int
GroupId(GroupTable *g, Datum channel, bool campaign_null, Datum campaign, bool keyword_null,
		Datum keyword)
{
	Datum key[3] = {channel, campaign, keyword};
	bool null[3] = {false, campaign_null || g->depth < 2, keyword_null || g->depth < 3};
	uint32 h = 0;
	int pos;
	int k;
	int id;
	MemoryContext old;

	for (k = 0; k < 3; k++)
	{
		int len;
		const char *bytes;

		if (null[k])
		{
			h = hash_combine(h, 0x9e3779b9);
			continue;
		}
		bytes = TextBytes(key[k], &len);
		h = hash_combine(h, hash_bytes((const unsigned char *) bytes, len));
	}
	if (g->nslots == 0 || (g->n + 1) * 2 > g->nslots)
	{
		int nslots = g->nslots ? g->nslots * 2 : 256;

		old = MemoryContextSwitchTo(g->cxt);
		g->slots =
			g->slots ? repalloc(g->slots, sizeof(int) * nslots) : palloc(sizeof(int) * nslots);
		MemoryContextSwitchTo(old);
		g->nslots = nslots;
		SlotsFill(g->slots, nslots, g->entries, sizeof(GroupEntry), offsetof(GroupEntry, hash),
				  g->n);
	}
	for (pos = h & (g->nslots - 1); g->slots[pos] >= 0; pos = (pos + 1) & (g->nslots - 1))
	{
		GroupEntry *e = &g->entries[g->slots[pos]];

		if (e->hash != h)
			continue;
		for (k = 0; k < 3; k++)
			if (e->null[k] != null[k] || (!null[k] && !SameText(e->key[k], key[k])))
				break;
		if (k == 3)
			return g->slots[pos];
	}
	old = MemoryContextSwitchTo(g->cxt);
	if (g->n == g->cap)
	{
		g->cap = g->cap ? g->cap * 2 : 64;
		g->entries = g->entries ? repalloc(g->entries, sizeof(GroupEntry) * g->cap)
								: palloc(sizeof(GroupEntry) * g->cap);
	}
	id = g->n++;
	memset(&g->entries[id], 0, sizeof(GroupEntry));
	g->entries[id].hash = h;
	for (k = 0; k < 3; k++)
	{
		g->entries[id].null[k] = null[k];
		if (!null[k])
		{
			int len;
			const char *bytes = TextBytes(key[k], &len);

			g->entries[id].key[k] = PointerGetDatum(cstring_to_text_with_len(bytes, len));
		}
	}
	MemoryContextSwitchTo(old);
	g->slots[pos] = id;
	return id;
}

/* Add a numeric to a sum (its copy lives in cxt). */
static void
NumericSumAddNumeric(NumericSum *s, Datum v, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	s->any = true;
	s->numeric =
		s->numeric ? DirectFunctionCall2(numeric_add, s->numeric, v) : datumCopy(v, false, -1);
	/* the result keeps the largest scale added (a whole amount of 866.02 is not rounded to 866) */
	if (!numeric_is_nan(DatumGetNumeric(v)) && !numeric_is_inf(DatumGetNumeric(v)))
		s->scale = Max(s->scale, DatumGetInt32(DirectFunctionCall1(numeric_scale, v)));
	MemoryContextSwitchTo(old);
}

/* Add units of 10^-scale to a sum. */
static void
NumericSumAddUnits(NumericSum *s, int64 units, int scale, MemoryContext cxt)
{
	if (scale == 6 && !pg_add_s64_overflow(s->units, units, &s->units))
	{
		s->any = true;
		s->scale = Max(s->scale, 6);
		return;
	}
	NumericSumAddNumeric(s, UnitsToNumeric(units, scale), cxt);
}

/*
 * The sum as a numeric at the largest scale of the numbers added (exact: each
 * was exact at its own scale), as sum() over the rows would show it; false
 * when nothing was added.
 */
static bool
NumericSumResult(const NumericSum *s, Datum *result)
{
	Datum v;

	if (!s->any)
		return false;
	v = UnitsToNumeric(s->units, 6);
	if (s->numeric)
		v = DirectFunctionCall2(numeric_add, v, s->numeric);
	*result = DirectFunctionCall2(numeric_round, v, Int32GetDatum(s->scale));
	return true;
}

/* Add one amount split by weight over n groups to their sums. */
static void
AddSplit(AttributionRun *run, NumericSum **sums, Datum amount, const double *w, int n)
{
	MemoryContext cxt = run->totals->cxt;
	int scale;
	int i;

	if (n == 1)
	{
		NumericSumAddNumeric(sums[0], amount, cxt);
		return;
	}
	if (SplitUnits(run, DatumGetNumeric(amount), w, n, run->units, &scale))
	{
		for (i = 0; i < n; i++)
			NumericSumAddUnits(sums[i], run->units[i], scale, cxt);
		return;
	}
	SplitAmount(run, amount, w, n, run->credits);
	for (i = 0; i < n; i++)
		NumericSumAddNumeric(sums[i], run->credits[i], cxt);
}

/* Add one conversion to the totals of its touches' groups. */
static void
AddTotals(AttributionRun *run, const Conversion *conv, const Touch *touches, int n, const double *w)
{
	GroupTable *g = run->totals;
	static const double one = 1.0;
	int *ids;
	NumericSum **credit;
	NumericSum **cost;
	int i;

	if (n == 0)
	{
		int id = GroupId(g, CStringGetTextDatum("(none)"), true, 0, true, 0);

		g->entries[id].weight += 1.0;
		if (!conv->value_null)
			NumericSumAddNumeric(&g->entries[id].credit, conv->value, g->cxt);
		if (!conv->cost_null)
			NumericSumAddNumeric(&g->entries[id].cost, conv->cost, g->cxt);
		return;
	}
	ids = palloc(sizeof(int) * n);
	credit = palloc(sizeof(NumericSum *) * n);
	cost = palloc(sizeof(NumericSum *) * n);
	for (i = 0; i < n; i++)
	{
		const Touch *t = &touches[i];

		ids[i] = GroupId(g, t->channel, t->campaign_null, t->campaign, t->keyword_null, t->keyword);
		g->entries[ids[i]].weight += w ? w[i] : one;
	}
	/* only now: a group added for a later touch may have moved the entries (repalloc) */
	for (i = 0; i < n; i++)
	{
		credit[i] = &g->entries[ids[i]].credit;
		cost[i] = &g->entries[ids[i]].cost;
	}
	if (!conv->value_null)
		AddSplit(run, credit, conv->value, w, n);
	if (!conv->cost_null)
		AddSplit(run, cost, conv->cost, w, n);
	pfree(ids);
	pfree(credit);
	pfree(cost);
}

/* Write the totals: channel, campaign, keyword, conversions (sum of weights), credit, cost. */
void
PutTotals(AttributionRun *run, Tuplestorestate *store, TupleDesc desc)
{
	GroupTable *g = run->totals;
	int i;

	for (i = 0; i < g->n; i++)
	{
		GroupEntry *e = &g->entries[i];
		Datum v[6];
		bool nulls[6];

		GroupKey(g, i, v, nulls);
		v[3] = Float8GetDatum(e->weight);
		nulls[3] = false;
		nulls[4] = !NumericSumResult(&e->credit, &v[4]);
		nulls[5] = !NumericSumResult(&e->cost, &v[5]);
		tuplestore_putvalues(store, desc, v, nulls);
	}
}
