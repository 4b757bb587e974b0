/*
 * attribution.c — multi-touch attribution (doc/attribution.md).
 *
 * The weight math (this file's first half) is pure: arrays of touch times and
 * milestone positions in, weights out.  The SQL-callable functions (second
 * half) read every touchpoint and conversion with one SPI cursor ordered by
 * lead, process the rows lead by lead in a memory context reset after each
 * lead, and return their rows through a tuplestore (materialize mode).
 *
 * Models, for a conversion at time T whose path has touches t_1 <= ... <= t_n
 * (the lead's touchpoints at or before T inside the lookback window):
 *
 *   first_touch     t_1 gets 1.
 *   last_touch      t_n gets 1.
 *   linear          1/n each.
 *   time_decay      w_i proportional to 0.5^((T - t_i) / half_life); with a
 *                   half-life of 0 the touches at the latest time share 1.
 *   position_based  40 % first, 40 % last, 20 % over the touches in between.
 *   w_shaped        30 % each to the first, lead-creation and
 *                   opportunity-creation touches, 10 % over the others.
 *   full_path       22.5 % each to the first, lead-creation,
 *                   opportunity-creation and closing (last) touches, 10 % over
 *                   the others.
 *   markov          see MarkovWeights and markov.c.
 *
 * Milestones: the lead-creation touch is the last touch at or before the
 * lead's creation; the opportunity-creation touch the last one at or before
 * the moment the lead first reached opportunity, or at or before T when it has
 * not reached it by then; the closing touch is t_n.  When no touch is as early
 * as the milestone (the lead was created before its first touch in the
 * window), the milestone touch is t_1.  A lead whose creation time is unknown
 * counts as created before every touch.
 *
 * Where milestone touches coincide their shares add up.  When every touch is a
 * milestone there is nobody left for the "others" share: the milestone shares
 * are then scaled to sum to 1 (position_based with one touch: 100 %, two
 * touches 50/50; w_shaped with three distinct milestone touches 1/3 each).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "common/hashfn.h"
#include "access/tupdesc.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "nodes/params.h"
#include "executor/tuptable.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "attribution.h"
#include "settings.h"
#include "lead_scoring.h"
#include "markov.h"

static const char *const model_names[AM_COUNT] = {"first_touch", "last_touch",	   "linear",
												  "time_decay",	 "position_based", "w_shaped",
												  "full_path",	 "markov"};
static const char *const conversion_names[CK_COUNT] = {"deal", "lead",		  "mql",	 "sal",
													   "sql",  "opportunity", "customer"};

const char *
AttributionModelName(AttributionModel model)
{
	return (model >= 0 && model < AM_COUNT) ? model_names[model] : "?";
}

const char *
ConversionKindName(ConversionKind kind)
{
	return (kind >= 0 && kind < CK_COUNT) ? conversion_names[kind] : "?";
}

/* "a, b, c" for an error hint. */
static char *
NameList(const char *const *names, int count)
{
	StringInfoData buf;
	int i;

	initStringInfo(&buf);
	for (i = 0; i < count; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", names[i]);
	return buf.data;
}

/* Index of name in names[] ignoring case and surrounding white space, or -1. */
static int
LookUpName(const char *name, const char *const *names, int count)
{
	int len;
	int i;

	while (*name == ' ' || *name == '\t' || *name == '\n' || *name == '\r')
		name++;
	len = strlen(name);
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t' || name[len - 1] == '\n' ||
					   name[len - 1] == '\r'))
		len--;
	for (i = 0; i < count; i++)
		if ((int) strlen(names[i]) == len && pg_strncasecmp(name, names[i], len) == 0)
			return i;
	return -1;
}

AttributionModel
AttributionModelParse(const char *name)
{
	int i = LookUpName(name, model_names, AM_COUNT);

	if (i < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unknown attribution model \"%s\"", name),
						errhint("Valid models are: %s.", NameList(model_names, AM_COUNT))));
	return (AttributionModel) i;
}

ConversionKind
ConversionKindParse(const char *name)
{
	int i = LookUpName(name, conversion_names, CK_COUNT);

	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown conversion \"%s\"", name),
				 errhint("Valid conversions are: %s.", NameList(conversion_names, CK_COUNT))));
	return (ConversionKind) i;
}

/* Microseconds in an interval, months counted as extract(epoch) counts them. */
double
IntervalMicroseconds(const Interval *span)
{
	return (double) span->time + (double) span->day * USECS_PER_DAY +
		   (double) span->month * (DAYS_PER_YEAR / MONTHS_PER_YEAR) * USECS_PER_DAY;
}

/* ------------------------------------------------------------------------
 * The weight math
 * ------------------------------------------------------------------------ */

/* Index of the last touch at or before `at`; 0 when no touch is that early. */
int
LastTouchAtOrBefore(const TimestampTz *times, int n, TimestampTz at)
{
	int lo = 0, hi = n; /* first index with times[i] > at, in [lo, hi] */

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (times[mid] <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? lo - 1 : 0;
}

/*
 * Milestone models: shares[j] goes to touch milestones[j] (coinciding
 * milestones add up), rest_share is spread equally over the touches that are
 * no milestone; without such touches the milestone shares are scaled to 1.
 */
static void
MilestoneWeights(int n, const int *milestones, const double *shares, int count, double rest_share,
				 double *w)
{
	int others = n;
	double total = 0.0;
	int i;

	for (i = 0; i < n; i++)
		w[i] = 0.0;
	for (i = 0; i < count; i++)
	{
		Assert(milestones[i] >= 0 && milestones[i] < n);
		if (w[milestones[i]] == 0.0)
			others--;
		w[milestones[i]] += shares[i];
		total += shares[i];
	}
	if (others > 0)
	{
		double each = rest_share / others;

		for (i = 0; i < n; i++)
			if (w[i] == 0.0)
				w[i] = each;
	}
	else
	{
		for (i = 0; i < n; i++)
			w[i] /= total;
	}
}

/* Weights of a rule-based model for one path; they sum to 1. */
void
RuleBasedWeights(AttributionModel model, const TouchPath *path, double half_life_usecs, double *w)
{
	int n = path->n;
	int i;

	Assert(n >= 1);
	switch (model)
	{
		case AM_FIRST_TOUCH:
		case AM_LAST_TOUCH:
			for (i = 0; i < n; i++)
				w[i] = 0.0;
			w[model == AM_FIRST_TOUCH ? 0 : n - 1] = 1.0;
			break;
		case AM_LINEAR:
			for (i = 0; i < n; i++)
				w[i] = 1.0 / n;
			break;
		case AM_TIME_DECAY:
		{
			/*
			 * 0.5^((T - t_i)/h) = 0.5^((T - t_n)/h) * 0.5^((t_n - t_i)/h):
			 * the first factor is common to every touch and cancels, so
			 * the latest touch has raw weight 1 and nothing underflows to
			 * an all-zero path.
			 */
			TimestampTz latest = path->times[n - 1];
			double sum = 0.0;

			for (i = 0; i < n; i++)
			{
				double age = (double) (latest - path->times[i]);

				if (half_life_usecs > 0)
					w[i] = pow(0.5, age / half_life_usecs);
				else
					w[i] = (age == 0.0) ? 1.0 : 0.0;
				sum += w[i];
			}
			for (i = 0; i < n; i++)
				w[i] /= sum;
			break;
		}
		case AM_POSITION_BASED:
		{
			int m[2] = {0, n - 1};
			double s[2] = {0.4, 0.4};

			MilestoneWeights(n, m, s, 2, 0.2, w);
			break;
		}
		case AM_W_SHAPED:
		{
			int m[3] = {0, path->created_index, path->opportunity_index};
			double s[3] = {0.3, 0.3, 0.3};

			MilestoneWeights(n, m, s, 3, 0.1, w);
			break;
		}
		case AM_FULL_PATH:
		{
			int m[4] = {0, path->created_index, path->opportunity_index, n - 1};
			double s[4] = {0.225, 0.225, 0.225, 0.225};

			MilestoneWeights(n, m, s, 4, 0.1, w);
			break;
		}
		default:
			elog(ERROR, "attribution model %d is not rule-based", (int) model);
	}
}

/*
 * Markov weights for one path: the path's distinct channels share the
 * conversion in proportion to their removal effects, each channel's share
 * split equally over its touches; linear when they all have removal effect 0.
 */
void
MarkovWeights(int n, const int *channel_ids, const double *removal_effect, int *counts, double *w)
{
	double sum = 0.0;
	int i;

	for (i = 0; i < n; i++)
		if (counts[channel_ids[i]]++ == 0)
			sum += removal_effect[channel_ids[i]];
	for (i = 0; i < n; i++)
	{
		if (sum > 0)
			w[i] = removal_effect[channel_ids[i]] / sum / counts[channel_ids[i]];
		else
			w[i] = 1.0 / n;
	}
	for (i = 0; i < n; i++)
		counts[channel_ids[i]] = 0;
}

/* ------------------------------------------------------------------------
 * SQL: attribution_weights — one path, any rule-based model
 * ------------------------------------------------------------------------ */

/* Datum -> text, or NULL for a NULL argument. */
static char *
ArgText(FunctionCallInfo fcinfo, int arg)
{
	if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

/* ERROR when an interval argument is negative. */
static void
CheckNotNegative(const Interval *span, const char *what)
{
	Interval zero = {0};

	if (DatumGetBool(
			DirectFunctionCall2(interval_lt, IntervalPGetDatum(span), IntervalPGetDatum(&zero))))
		ereport(
			ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s must not be negative", what),
			 errdetail("The %s given is %s.", what,
					   DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(span)))),
			 errhint("Give 0 or a positive interval, such as '7 days'.")));
}

PG_FUNCTION_INFO_V1(attribution_weights);

/*
 * attribution_weights(model, touched_at timestamptz[], converted_at,
 * created_at, opportunity_at, half_life) → float8[]: the weights a rule-based
 * model gives one path, in the order of touched_at (which must be ascending
 * and not after converted_at).
 */
Datum
attribution_weights(PG_FUNCTION_ARGS)
{
	AttributionModel model;
	ArrayType *arr;
	Datum *elems;
	bool *elem_nulls;
	int n;
	TimestampTz *times;
	TouchPath path;
	double *w;
	Datum *out;
	double half_life = 0.0;
	TimestampTz created;
	TimestampTz opportunity;
	int i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	model = AttributionModelParse(ArgText(fcinfo, 0));
	if (model == AM_MARKOV)
		ereport(
			ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("the markov model has no weights for a single path"),
			 errdetail(
				 "Markov weights depend on the removal effects computed over every lead's path."),
			 errhint("Use lead_scoring.attribution('markov', ...) or "
					 "lead_scoring.markov_removal_effects().")));
	arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
						errmsg("touched_at must be a one-dimensional array")));
	deconstruct_array(arr, TIMESTAMPTZOID, sizeof(TimestampTz), true, TYPALIGN_DOUBLE, &elems,
					  &elem_nulls, &n);
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT8OID));

	times = palloc(sizeof(TimestampTz) * n);
	for (i = 0; i < n; i++)
	{
		if (elem_nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
							errmsg("touched_at[%d] is NULL", i + 1),
							errhint("Every touch needs a time.")));
		times[i] = DatumGetTimestampTz(elems[i]);
		if (i > 0 && times[i] < times[i - 1])
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("touched_at is not in ascending order at element %d", i + 1),
							errhint("Pass the touches in time order.")));
	}

	path.n = n;
	path.times = times;
	path.converted_at = PG_ARGISNULL(2) ? times[n - 1] : PG_GETARG_TIMESTAMPTZ(2);
	if (times[n - 1] > path.converted_at)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("a touch is later than converted_at"),
						errhint("Only touches at or before the conversion count.")));
	created = PG_ARGISNULL(3) ? DT_NOBEGIN : PG_GETARG_TIMESTAMPTZ(3);
	opportunity =
		PG_ARGISNULL(4) ? path.converted_at : Min(PG_GETARG_TIMESTAMPTZ(4), path.converted_at);
	path.created_index = LastTouchAtOrBefore(times, n, created);
	path.opportunity_index = LastTouchAtOrBefore(times, n, opportunity);
	if (!PG_ARGISNULL(5))
	{
		Interval *h = PG_GETARG_INTERVAL_P(5);

		CheckNotNegative(h, "half_life");
		half_life = IntervalMicroseconds(h);
	}
	else if (model == AM_TIME_DECAY)
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("the time_decay model needs a half_life")));

	w = palloc(sizeof(double) * n);
	RuleBasedWeights(model, &path, half_life, w);
	out = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		out[i] = Float8GetDatum(w[i]);
	PG_RETURN_ARRAYTYPE_P(
		construct_array(out, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* ------------------------------------------------------------------------
 * SQL: attribution_rows — the attribution of every conversion
 * ------------------------------------------------------------------------ */

/* Columns of the SPI query, in order. */
enum
{
	Q_LEAD_ID,
	Q_KIND, /* 0 = conversion, 1 = touch */
	Q_AT,	/* conversion or touch time */
	Q_REF,	/* conversion id or event_ref */
	Q_CHANNEL,
	Q_CAMPAIGN,
	Q_KEYWORD,
	Q_VALUE,
	Q_COST,
	Q_CREATED_AT,
	Q_OPPORTUNITY_AT,
	Q_SOURCE,
	Q_NCOLS
};

/* Columns a caller may ask for, by name, in any subset and order. */
typedef enum OutColumn
{
	OC_CONVERSION_ID,
	OC_LEAD_ID,
	OC_CONVERTED_AT,
	OC_VALUE,
	OC_EVENT_REF,
	OC_CHANNEL,
	OC_CAMPAIGN,
	OC_KEYWORD,
	OC_TOUCHED_AT,
	OC_WEIGHT,
	OC_CREDIT,
	OC_COST,
	OC_COUNT
} OutColumn;

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

/* Markov stash: conversions waiting for the removal effects. */
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

/* One conversion, as the output needs it. */
typedef struct Conversion
{
	Datum id;
	TimestampTz at;
	Datum value;
	bool value_null;
	Datum cost;
	bool cost_null;
} Conversion;

/* One touch, as the output needs it. */
typedef struct Touch
{
	Datum ref;
	bool ref_null;
	Datum channel;
	Datum campaign;
	bool campaign_null;
	Datum keyword;
	bool keyword_null;
	TimestampTz at;
	int channel_id; /* markov only */
} Touch;

/* One row of the SPI query, copied into the lead context and deformed. */
typedef struct QueryRow
{
	HeapTuple tup;
	Datum v[Q_NCOLS]; /* point into tup */
	bool n[Q_NCOLS];
} QueryRow;

typedef struct AttributionRun
{
	AttributionModel model;
	ConversionKind kind;
	Interval lookback;
	double half_life_usecs;
	bool has_from; /* conversions at or after from */
	TimestampTz from;
	bool has_to; /* conversions before to */
	TimestampTz to;
	TimestampTz now;

	/* deal conversion ids are "table:key" when several deals tables are attached */
	bool several_deal_tables;

	/* the leads id type */
	Oid lead_type;
	int16 lead_typlen;
	bool lead_byval;
	FmgrInfo *lead_cmp;
	Oid lead_collation;
	bool row_type_checked;

	/* output: NULL when only the Markov chain is wanted */
	Tuplestorestate *out;
	TupleDesc out_desc;
	int *out_map; /* per output attribute: OutColumn */
	bool want[OC_COUNT];
	Datum *out_values;
	bool *out_nulls;

	/* markov */
	MarkovChain *chain;
	Tuplestorestate *stash;
	TupleDesc stash_desc;
	int64 conversion_seq;
	double *removal_effect;
	double p_conversion; /* P of the chain */

	/* lead-by-lead processing */
	MemoryContext lead_cxt; /* reset after each lead */
	QueryRow *rows;			/* the current lead's rows */
	int nrows;
	int rows_cap;
	MemoryContext work_cxt; /* the run's own allocations */
	int touch_cap;
	TimestampTz *times;
	Touch *touches;
	int *ids;
	double *weights;
	int *counts; /* markov scratch, one per channel */
	int counts_cap;
	Datum *credits;
	Datum *costs;

	/* numeric constants */
	Datum fast_limit; /* 2^52 */

	/* the last amount split, as units (see AmountUnits) */
	char last_amount[32];
	Size last_amount_len;
	int last_scale;
	bool last_units_ok;
	int64 last_units;
} AttributionRun;

/* Make room for n touches in the per-path scratch arrays. */
static void
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

	if (n == 1)
	{
		out[0] = amount;
		return;
	}
	for (i = 1; i < n; i++)
		if (w[i] > w[largest])
			largest = i;

	if (numeric_is_nan(num) || numeric_is_inf(num))
	{
		for (i = 0; i < n; i++)
			out[i] = DirectFunctionCall2(numeric_mul, amount,
										 DirectFunctionCall1(float8_numeric, Float8GetDatum(w[i])));
		return;
	}
	if (AmountUnits(run, num, &scale))
	{
		/* fast path: integer units of 10^-scale */
		int64 units = run->last_units;
		int64 sum = 0;
		int64 *parts = palloc(sizeof(int64) * n);

		for (i = 0; i < n; i++)
		{
			parts[i] = (int64) llround((double) units * w[i]);
			sum += parts[i];
		}
		parts[largest] += units - sum;
		for (i = 0; i < n; i++)
			out[i] = UnitsToNumeric(parts[i], scale);
		pfree(parts);
		return;
	}
	scale = Min(scale, 15);

	/* slow path: numeric arithmetic */
	{
		Datum rest = amount;

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
				isnull = touch == NULL;
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

/* Emit one conversion's rows: n touches with their weights, or "(none)" when n = 0. */
static void
EmitConversion(AttributionRun *run, Datum lead_id, const Conversion *conv, const Touch *touches,
			   int n, const double *w)
{
	bool credit = run->want[OC_CREDIT] && !conv->value_null;
	bool cost = run->want[OC_COST] && !conv->cost_null;
	int i;

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

/*
 * Start of the lookback window before t; false when the window reaches back
 * beyond the earliest representable time (then it has no lower bound).
 */
static bool
WindowStart(const AttributionRun *run, TimestampTz t, TimestampTz *start)
{
	double span = IntervalMicroseconds(&run->lookback);
	double margin = (double) Abs(run->lookback.month) * 2 * USECS_PER_DAY + 2 * USECS_PER_DAY;

	if (TIMESTAMP_NOT_FINITE(t))
	{
		*start = t;
		return true;
	}
	if ((double) t - span - margin <= (double) MIN_TIMESTAMP)
		return false;
	*start = DatumGetTimestampTz(DirectFunctionCall2(
		timestamptz_mi_interval, TimestampTzGetDatum(t), IntervalPGetDatum(&run->lookback)));
	return true;
}

/* First index in times[0..n) at or after start. */
static int
FirstTouchAtOrAfter(const TimestampTz *times, int n, TimestampTz start)
{
	int lo = 0, hi = n;

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (times[mid] < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Touches [*lo, *hi) of times[0..n) inside the lookback window ending at t. */
static void
WindowTouches(const AttributionRun *run, const TimestampTz *times, int n, TimestampTz t, int *lo,
			  int *hi)
{
	TimestampTz start;

	*hi = LastTouchAtOrBefore(times, n, t) + 1;
	if (*hi == 1 && (n == 0 || times[0] > t))
		*hi = 0;
	*lo = WindowStart(run, t, &start) ? FirstTouchAtOrAfter(times, *hi, start) : 0;
}

/* Channel text's bytes (detoasted in the current context). */
static const char *
TextBytes(Datum d, int *len)
{
	text *t = (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));

	*len = VARSIZE_ANY_EXHDR(t);
	return VARDATA_ANY(t);
}

/* Keep a conversion's touches until the Markov removal effects are known. */
static void
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

/* Order of two texts: shorter first, then bytewise (integer keys sort numerically). */
static int
CompareRefs(Datum a, bool a_null, Datum b, bool b_null)
{
	const char *pa, *pb;
	int la, lb;

	if (a_null || b_null)
		return (int) a_null - (int) b_null;
	pa = TextBytes(a, &la);
	pb = TextBytes(b, &lb);
	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(pa, pb, la);
}

/*
 * qsort comparator for one lead's rows: conversions before touches, then by
 * time, then by source table and key, so that ties in time are broken by the
 * event's primary key whatever order the query returned them in.
 */
static int
CompareRows(const void *a, const void *b)
{
	const QueryRow *x = *(QueryRow *const *) a;
	const QueryRow *y = *(QueryRow *const *) b;
	int32 kx = DatumGetInt32(x->v[Q_KIND]);
	int32 ky = DatumGetInt32(y->v[Q_KIND]);
	TimestampTz tx = DatumGetTimestampTz(x->v[Q_AT]);
	TimestampTz ty = DatumGetTimestampTz(y->v[Q_AT]);
	Oid sx = DatumGetObjectId(x->v[Q_SOURCE]);
	Oid sy = DatumGetObjectId(y->v[Q_SOURCE]);

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return CompareRefs(x->v[Q_REF], x->n[Q_REF], y->v[Q_REF], y->n[Q_REF]);
}

/* Attribute every conversion of one lead (rows[0..nrows), conversions first). */
static void
ProcessLead(AttributionRun *run, QueryRow *rows, int nrows)
{
	Datum lead_id = rows[0].v[Q_LEAD_ID];
	QueryRow **order = palloc(sizeof(QueryRow *) * nrows);
	bool sorted = true;
	int nconv = 0;
	int ntouch;
	int lo, hi, i, c;

	/* conversions first, then touches, each in time order (see CompareRows) */
	for (i = 0; i < nrows; i++)
	{
		order[i] = &rows[i];
		if (i > 0 && sorted && CompareRows(&order[i - 1], &order[i]) > 0)
			sorted = false;
	}
	if (!sorted)
		qsort(order, nrows, sizeof(QueryRow *), CompareRows);
	while (nconv < nrows && DatumGetInt32(order[nconv]->v[Q_KIND]) == 0)
		nconv++;
	ntouch = nrows - nconv;
	EnsureTouchCapacity(run, ntouch);
	for (i = 0; i < ntouch; i++)
	{
		QueryRow *r = order[nconv + i];
		Touch *t = &run->touches[i];

		t->at = run->times[i] = DatumGetTimestampTz(r->v[Q_AT]);
		t->ref = r->v[Q_REF];
		t->ref_null = r->n[Q_REF];
		t->channel = r->v[Q_CHANNEL];
		t->campaign = r->v[Q_CAMPAIGN];
		t->campaign_null = r->n[Q_CAMPAIGN];
		t->keyword = r->v[Q_KEYWORD];
		t->keyword_null = r->n[Q_KEYWORD];
		t->channel_id = -1;
	}

	if (run->chain)
	{
		/*
		 * The lead's one Markov path: its touches in the lookback window
		 * before its latest conversion, or before now() when it has none.
		 */
		TimestampTz end = nconv > 0 ? DatumGetTimestampTz(order[nconv - 1]->v[Q_AT]) : run->now;

		for (i = 0; i < ntouch; i++)
		{
			int len;
			const char *name = TextBytes(run->touches[i].channel, &len);

			run->touches[i].channel_id = run->ids[i] = MarkovChannelId(run->chain, name, len);
		}
		WindowTouches(run, run->times, ntouch, end, &lo, &hi);
		MarkovAddPath(run->chain, run->ids + lo, hi - lo, nconv > 0);
	}
	if (run->out == NULL)
		return;

	for (c = 0; c < nconv; c++)
	{
		QueryRow *r = order[c];
		Conversion conv;

		conv.id = r->v[Q_REF];
		conv.at = DatumGetTimestampTz(r->v[Q_AT]);
		conv.value = r->v[Q_VALUE];
		conv.value_null = r->n[Q_VALUE];
		conv.cost = r->v[Q_COST];
		conv.cost_null = r->n[Q_COST];
		if ((run->has_from && conv.at < run->from) || (run->has_to && conv.at >= run->to))
			continue;
		if (nconv == 1 && run->model != AM_MARKOV)
		{
			/* the query read exactly this conversion's window */
			lo = 0;
			hi = ntouch;
		}
		else
			WindowTouches(run, run->times, ntouch, conv.at, &lo, &hi);
		if (hi <= lo)
			EmitConversion(run, lead_id, &conv, NULL, 0, NULL);
		else if (run->model == AM_MARKOV)
			StashConversion(run, lead_id, &conv, run->touches + lo, hi - lo);
		else
		{
			TouchPath path;
			TimestampTz created =
				r->n[Q_CREATED_AT] ? DT_NOBEGIN : DatumGetTimestampTz(r->v[Q_CREATED_AT]);
			TimestampTz opportunity =
				r->n[Q_OPPORTUNITY_AT] ? conv.at
									   : Min(DatumGetTimestampTz(r->v[Q_OPPORTUNITY_AT]), conv.at);

			path.n = hi - lo;
			path.times = run->times + lo;
			path.converted_at = conv.at;
			path.created_index = LastTouchAtOrBefore(path.times, path.n, created);
			path.opportunity_index = LastTouchAtOrBefore(path.times, path.n, opportunity);
			RuleBasedWeights(run->model, &path, run->half_life_usecs, run->weights);
			EmitConversion(run, lead_id, &conv, run->touches + lo, path.n, run->weights);
		}
	}
}

/* Emit the stashed Markov conversions now that the removal effects are known. */
static void
EmitStash(AttributionRun *run)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(run->stash_desc, &TTSOpsMinimalTuple);
	HeapTuple *group = NULL;
	int group_cap = 0;
	int n = 0;
	int64 group_seq = 0;

	run->counts = palloc0(sizeof(int) * Max(MarkovChannelCount(run->chain), 1));
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
			MarkovWeights(n, run->ids, run->removal_effect, run->counts, run->weights);
			EmitConversion(run, lead_id, &conv, run->touches, n, run->weights);
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

/* ------------------------------------------------------------------------
 * Reading the data: one cursor ordered by lead
 * ------------------------------------------------------------------------ */

/* OPERATOR(schema.=) for the type's default btree equality, schema-qualified. */
static char *
QualifiedEqualityOperator(Oid type)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_EQ_OPR);
	HeapTuple tup;
	Form_pg_operator op;
	char *result;

	if (!OidIsValid(tc->eq_opr))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("lead id type %s has no default btree equality operator",
							   format_type_be(type))));
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(tc->eq_opr));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", tc->eq_opr);
	op = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tup);
	return result;
}

/* The type of lead_scoring.leads.lead_id; ERROR when no leads table is attached. */
static Oid
LeadIdType(void)
{
	Oid relid = LsRelid("leads", true);
	AttrNumber attnum = OidIsValid(relid) ? get_attnum(relid, "lead_id") : InvalidAttrNumber;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("no leads table is attached"),
						errhint("Call lead_scoring.attach_leads() first.")));
	return get_atttype(relid, attnum);
}

/*
 * The conversions of the run's kind: lead_id, at, ref, value, cost,
 * created_at, opportunity_at, source ($2 = earliest conversion, $3 = end,
 * exclusive, each used only when its flag says so).
 */
static char *BuildConversionQuery(const AttributionRun *run, bool bound_conv_from, bool bound_to);

/*
 * The query: every conversion of the run's kind (kind 0) with the lead's
 * creation and first-opportunity times, and the touchpoints (kind 1), ordered
 * by lead only (ProcessLead orders each lead's few rows; a single sort key
 * keeps the big sort cheap).  For the rule-based models only
 * the touches inside some conversion's window are read (a semi-join, so each
 * touch comes once); the Markov chain needs every touch.  Parameters:
 * $1 = earliest touch, $2 = earliest conversion, $3 = end (exclusive) of
 * both, $4 = the lookback; each used only when its flag says so.
 */
/* See the declaration above. */
static char *
BuildConversionQuery(const AttributionRun *run, bool bound_conv_from, bool bound_to)
{
	StringInfoData q;
	char *eq = QualifiedEqualityOperator(run->lead_type);
	bool milestones = run->model == AM_W_SHAPED || run->model == AM_FULL_PATH;
	const char *opportunity_at = milestones ? "s.opportunity_at" : "NULL::pg_catalog.timestamptz";
	const char *created_at = milestones ? "l.created_at" : "NULL::pg_catalog.timestamptz";
	const char *conv_at;
	StringInfoData stage;

	/*
	 * s: per lead, the first time it reached the run's stage (or beyond, up to
	 * customer) and the first time it reached opportunity (or customer).
	 */
	initStringInfo(&stage);
	appendStringInfoString(&stage, "(SELECT c.lead_id");
	if (run->kind != CK_DEAL && run->kind != CK_LEAD)
		appendStringInfo(&stage,
						 ", pg_catalog.min(c.changed_at) FILTER (WHERE c.to_stage"
						 " OPERATOR(" LS_SCHEMA ".>=) '%s'::" LS_SCHEMA ".funnel_stage"
						 " AND c.to_stage OPERATOR(" LS_SCHEMA ".<=) 'customer'::" LS_SCHEMA
						 ".funnel_stage)"
						 " AS reached_at",
						 ConversionKindName(run->kind));
	if (milestones)
		appendStringInfoString(&stage, ", pg_catalog.min(c.changed_at) FILTER (WHERE c.to_stage"
									   " OPERATOR(" LS_SCHEMA ".>=) 'opportunity'::" LS_SCHEMA
									   ".funnel_stage"
									   " AND c.to_stage OPERATOR(" LS_SCHEMA
									   ".<=) 'customer'::" LS_SCHEMA ".funnel_stage)"
									   " AS opportunity_at");
	appendStringInfoString(&stage, " FROM " LS_SCHEMA ".stage_change c GROUP BY c.lead_id) s");

	/*
	 * The conversions: lead_id, at, ref, value, cost, created_at,
	 * opportunity_at, source.  (Written out twice below rather than as a CTE:
	 * a CTE scan would keep the planner from using parallel workers.)
	 */
	initStringInfo(&q);
	switch (run->kind)
	{
		case CK_DEAL:
			appendStringInfo(&q,
							 "SELECT d.lead_id, d.closed_at AS at, %s AS ref, d.amount AS value,"
							 " d.cost, %s AS created_at, %s AS opportunity_at,"
							 " d.source::pg_catalog.oid AS source FROM " LS_SCHEMA ".deals d",
							 run->several_deal_tables
								 ? "d.source::pg_catalog.text OPERATOR(pg_catalog.||) ':' "
								   "OPERATOR(pg_catalog.||) d.deal_ref"
								 : "d.deal_ref",
							 created_at, opportunity_at);
			if (milestones)
			{
				appendStringInfo(&q, " LEFT JOIN " LS_SCHEMA ".leads l ON l.lead_id %s d.lead_id",
								 eq);
				appendStringInfo(&q, " LEFT JOIN %s ON s.lead_id %s d.lead_id", stage.data, eq);
			}
			appendStringInfoString(&q, " WHERE d.outcome OPERATOR(pg_catalog.=) 'won'"
									   " AND d.lead_id IS NOT NULL AND d.closed_at IS NOT NULL");
			conv_at = "d.closed_at";
			break;
		case CK_LEAD:
			appendStringInfo(
				&q,
				"SELECT l.lead_id, l.created_at AS at, CAST(l.lead_id AS pg_catalog.text) AS ref,"
				" 1::pg_catalog.numeric AS value, NULL::pg_catalog.numeric AS cost,"
				" l.created_at, %s AS opportunity_at, 0::pg_catalog.oid AS source"
				" FROM " LS_SCHEMA ".leads l",
				opportunity_at);
			if (milestones)
				appendStringInfo(&q, " LEFT JOIN %s ON s.lead_id %s l.lead_id", stage.data, eq);
			appendStringInfoString(&q, " WHERE l.lead_id IS NOT NULL AND l.created_at IS NOT NULL");
			conv_at = "l.created_at";
			break;
		default:
			appendStringInfo(
				&q,
				"SELECT s.lead_id, s.reached_at AS at, CAST(s.lead_id AS pg_catalog.text) AS ref,"
				" 1::pg_catalog.numeric AS value, NULL::pg_catalog.numeric AS cost,"
				" %s AS created_at, %s AS opportunity_at, 0::pg_catalog.oid AS source FROM %s",
				created_at, opportunity_at, stage.data);
			if (milestones)
				appendStringInfo(&q, " LEFT JOIN " LS_SCHEMA ".leads l ON l.lead_id %s s.lead_id",
								 eq);
			appendStringInfoString(&q, " WHERE s.lead_id IS NOT NULL AND s.reached_at IS NOT NULL");
			conv_at = "s.reached_at";
			break;
	}
	if (bound_conv_from)
		appendStringInfo(&q, " AND %s OPERATOR(pg_catalog.>=) $2", conv_at);
	if (bound_to)
		appendStringInfo(&q, " AND %s OPERATOR(pg_catalog.<) $3", conv_at);
	return q.data;
}

static char *
BuildQuery(const AttributionRun *run, bool markov, bool bound_touch_from, bool bound_conv_from,
		   bool bound_to, bool bound_lookback)
{
	StringInfoData q;
	char *eq = QualifiedEqualityOperator(run->lead_type);
	char *conv = BuildConversionQuery(run, bound_conv_from, bound_to);

	/* the touches */
	initStringInfo(&q);
	appendStringInfoString(
		&q, "SELECT q.* FROM ("
			"SELECT e.lead_id, 1, e.occurred_at, e.event_ref, e.channel, e.campaign, e.keyword,"
			" NULL::pg_catalog.numeric, NULL::pg_catalog.numeric,"
			" NULL::pg_catalog.timestamptz, NULL::pg_catalog.timestamptz,"
			" e.source::pg_catalog.oid"
			" FROM " LS_SCHEMA ".events e"
			" WHERE e.channel IS NOT NULL AND e.lead_id IS NOT NULL"
			" AND e.occurred_at IS NOT NULL");
	if (bound_touch_from)
		appendStringInfoString(&q, " AND e.occurred_at OPERATOR(pg_catalog.>=) $1");
	if (bound_to)
		appendStringInfoString(&q, " AND e.occurred_at OPERATOR(pg_catalog.<) $3");
	if (!markov)
	{
		/* only touches inside some conversion's window */
		appendStringInfo(
			&q,
			" AND EXISTS (SELECT FROM (SELECT c.lead_id, c.at, %s AS start FROM (%s) c) w"
			" WHERE w.lead_id %s e.lead_id AND e.occurred_at OPERATOR(pg_catalog.<=) w.at",
			bound_lookback ? "c.at OPERATOR(pg_catalog.-) $4" : "NULL::pg_catalog.timestamptz",
			conv, eq);
		if (bound_lookback)
			appendStringInfoString(&q, " AND e.occurred_at OPERATOR(pg_catalog.>=) w.start");
		appendStringInfoChar(&q, ')');
	}

	/* the conversions */
	appendStringInfo(&q,
					 " UNION ALL SELECT c.lead_id, 0, c.at, c.ref, NULL::pg_catalog.text,"
					 " NULL::pg_catalog.text, NULL::pg_catalog.text, c.value, c.cost, c.created_at,"
					 " c.opportunity_at, c.source FROM (%s) c",
					 conv);
	appendStringInfoString(&q,
						   ") AS q(lead_id, kind, at, ref, channel, campaign, keyword, value, cost,"
						   " created_at, opportunity_at, source)"
						   " ORDER BY q.lead_id");
	return q.data;
}

/* True when two lead ids are the same lead (btree equality of the id type). */
static bool
SameLead(const AttributionRun *run, Datum a, Datum b)
{
	if (datumIsEqual(a, b, run->lead_byval, run->lead_typlen))
		return true;
	return DatumGetInt32(FunctionCall2Coll(run->lead_cmp, run->lead_collation, a, b)) == 0;
}

/* Attribute the current lead's rows and forget them. */
static void
FinishLead(AttributionRun *run)
{
	MemoryContext old = MemoryContextSwitchTo(run->lead_cxt);

	ProcessLead(run, run->rows, run->nrows);
	MemoryContextSwitchTo(old);
	MemoryContextReset(run->lead_cxt);
	run->nrows = 0;
}

/*
 * Take one row of the ordered query: a new lead id first finishes the
 * previous lead; the row is copied into the lead context (the slot's data
 * lives only until the next row).
 */
static void
AcceptRow(AttributionRun *run, TupleTableSlot *slot)
{
	MemoryContext old;
	QueryRow *r;

	if (!run->row_type_checked)
	{
		Form_pg_attribute lead_att = TupleDescAttr(slot->tts_tupleDescriptor, Q_LEAD_ID);

		if (lead_att->atttypid != run->lead_type)
			ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
							errmsg("lead ids of the canonical views do not share one type"),
							errhint("Call lead_scoring.rebuild_views().")));
		run->lead_collation = lead_att->attcollation;
		run->row_type_checked = true;
	}
	slot_getallattrs(slot);
	if (run->nrows > 0 && !SameLead(run, run->rows[0].v[Q_LEAD_ID], slot->tts_values[Q_LEAD_ID]))
		FinishLead(run);
	if (run->nrows == run->rows_cap)
	{
		run->rows_cap *= 2;
		run->rows = repalloc_huge(run->rows, sizeof(QueryRow) * run->rows_cap);
	}
	r = &run->rows[run->nrows++];
	old = MemoryContextSwitchTo(run->lead_cxt);
	r->tup = ExecCopySlotHeapTuple(slot);
	MemoryContextSwitchTo(old);
	heap_deform_tuple(r->tup, slot->tts_tupleDescriptor, r->v, r->n);
}

#if PG_VERSION_NUM >= 140000

/* A DestReceiver that hands each row of the query to AcceptRow. */
typedef struct RowReceiver
{
	DestReceiver pub;
	AttributionRun *run;
} RowReceiver;

static bool
RowReceiverSlot(TupleTableSlot *slot, DestReceiver *self)
{
	AttributionRun *run = ((RowReceiver *) self)->run;
	MemoryContext old = MemoryContextSwitchTo(run->work_cxt);

	AcceptRow(run, slot);
	MemoryContextSwitchTo(old);
	return true;
}

static void
RowReceiverStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
RowReceiverNoop(DestReceiver *self)
{
}

/*
 * Run a query of four parameters, streaming its rows to dest: nothing is
 * materialized, and the planner may use parallel workers (a cursor could not).
 */
static void
StreamQuery(const char *query, Oid *argtypes, Datum *args, const char *argnulls, DestReceiver *dest)
{
	SPIExecuteOptions options;
	ParamListInfo params = makeParamList(4);
	int i;
	int rc;

	for (i = 0; i < 4; i++)
	{
		params->params[i].value = args[i];
		params->params[i].isnull = argnulls[i] == 'n';
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = argtypes[i];
	}
	dest->rStartup = RowReceiverStartup;
	dest->rShutdown = RowReceiverNoop;
	dest->rDestroy = RowReceiverNoop;
	dest->mydest = DestNone;
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	rc = SPI_execute_extended(query, &options);
	/* SPI reports a SELECT whose rows went to a DestNone receiver as a utility command */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "attribution query failed: %s", SPI_result_code_string(rc));
}

/* Run the query, handing each row to AcceptRow. */
static void
ReadRows(AttributionRun *run, const char *query, Oid *argtypes, Datum *args, const char *argnulls)
{
	RowReceiver receiver;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = RowReceiverSlot;
	receiver.run = run;
	StreamQuery(query, argtypes, args, argnulls, &receiver.pub);
}

/* ------------------------------------------------------------------------
 * The rule-based models without a big sort: conversions first (a small
 * query ordered by lead), then the touchpoints with a plain unsorted scan,
 * kept as compact records chained per lead and sorted per lead in C.
 * ------------------------------------------------------------------------ */

/* One conversion of the fast path, its datums copied into the run's context. */
typedef struct FastConv
{
	Conversion conv;
	Oid source;
	bool created_null;
	bool opportunity_null;
	TimestampTz created;
	TimestampTz opportunity;
	int next; /* the lead's next conversion, -1 at the end */
} FastConv;

/* One lead with conversions: the window its touches must fall in, its chains. */
typedef struct FastLead
{
	Datum lead_id;
	uint32 hash;
	bool unbounded;		   /* some window has no lower bound */
	TimestampTz min_start; /* earliest window start */
	TimestampTz max_at;	   /* latest conversion */
	int first_conv;		   /* chain of FastConv, -1 at the end */
	int first_touch;	   /* its touches: fs->touches[first_touch .. + ntouch) once grouped */
	int ntouch;
} FastLead;

/* Longest event_ref kept inside the touch record (as a 1-byte-header varlena). */
#define FAST_INLINE_REF 14

/* One touchpoint: time, interned ids and a short event_ref inline, 56 bytes. */
typedef struct FastTouch
{
	TimestampTz at;
	text *ref;		 /* a longer event_ref, in the arena */
	bool ref_null;	 /* event_ref is NULL */
	bool ref_inline; /* event_ref is in ref_short */
	char ref_short[FAST_INLINE_REF + 1];
	Oid source;
	int32 channel;
	int32 campaign; /* -1 for NULL */
	int32 keyword;	/* -1 for NULL */
	int32 lead;		/* index in fs->leads */
} FastTouch;

/* A dictionary of short texts (channel, campaign, keyword values) to small ids. */
typedef struct TextDict
{
	int n;
	int cap;
	Datum *texts; /* text datums, by id */
	uint32 *hashes;
	int *slots; /* open addressing, -1 empty */
	int nslots;
} TextDict;

typedef struct FastState
{
	AttributionRun *run;
	FmgrInfo *hash_proc;
	FastLead *leads;
	int nleads;
	int leads_cap;
	int *slots; /* lead hash table: index into leads, -1 empty */
	int nslots;
	FastConv *convs;
	int nconvs;
	int convs_cap;
	FastTouch *touches;
	int ntouches;
	int touches_cap;
	TextDict dict;
	char *arena; /* event_ref copies */
	Size arena_left;
	bool reading_touches;
} FastState;

/* Id of the text bytes in the dictionary, adding them when new. */
static int
TextDictId(TextDict *d, const char *bytes, int len)
{
	uint32 h = hash_bytes((const unsigned char *) bytes, len);
	int pos;
	int id;

	if (d->nslots == 0 || d->n * 2 >= d->nslots)
	{
		int nslots = d->nslots ? d->nslots * 2 : 256;
		int i;

		d->slots =
			d->slots ? repalloc(d->slots, sizeof(int) * nslots) : palloc(sizeof(int) * nslots);
		d->nslots = nslots;
		for (i = 0; i < nslots; i++)
			d->slots[i] = -1;
		for (i = 0; i < d->n; i++)
		{
			for (pos = d->hashes[i] & (nslots - 1); d->slots[pos] >= 0;
				 pos = (pos + 1) & (nslots - 1))
				;
			d->slots[pos] = i;
		}
	}
	for (pos = h & (d->nslots - 1); d->slots[pos] >= 0; pos = (pos + 1) & (d->nslots - 1))
	{
		int other = d->slots[pos];

		if (d->hashes[other] == h)
		{
			text *t = (text *) DatumGetPointer(d->texts[other]);

			if ((int) VARSIZE(t) - VARHDRSZ == len && memcmp(VARDATA(t), bytes, len) == 0)
				return other;
		}
	}
	if (d->n == d->cap)
	{
		d->cap = d->cap ? d->cap * 2 : 64;
		d->texts =
			d->texts ? repalloc(d->texts, sizeof(Datum) * d->cap) : palloc(sizeof(Datum) * d->cap);
		d->hashes = d->hashes ? repalloc(d->hashes, sizeof(uint32) * d->cap)
							  : palloc(sizeof(uint32) * d->cap);
	}
	id = d->n++;
	d->texts[id] = PointerGetDatum(cstring_to_text_with_len(bytes, len));
	d->hashes[id] = h;
	d->slots[pos] = id;
	return id;
}

/* Hash of a lead id with the type's default hash function. */
static uint32
FastLeadHash(FastState *fs, Datum lead_id)
{
	return DatumGetUInt32(FunctionCall1Coll(fs->hash_proc, fs->run->lead_collation, lead_id));
}

/* Index of the lead in fs->leads, or -1. */
static int
FastLeadLookUp(FastState *fs, Datum lead_id, uint32 h)
{
	int pos;

	if (fs->nslots == 0)
		return -1;
	for (pos = h & (fs->nslots - 1); fs->slots[pos] >= 0; pos = (pos + 1) & (fs->nslots - 1))
	{
		FastLead *l = &fs->leads[fs->slots[pos]];

		if (l->hash == h && SameLead(fs->run, l->lead_id, lead_id))
			return fs->slots[pos];
	}
	return -1;
}

/* Add a new lead (not yet in the table); returns its index. */
static int
FastLeadAdd(FastState *fs, Datum lead_id, uint32 h)
{
	int pos;
	int idx;

	if (fs->nslots == 0 || fs->nleads * 2 >= fs->nslots)
	{
		int nslots = fs->nslots ? fs->nslots * 2 : 1024;
		int i;

		fs->slots = fs->slots ? repalloc_huge(fs->slots, sizeof(int) * nslots)
							  : palloc(sizeof(int) * nslots);
		fs->nslots = nslots;
		for (i = 0; i < nslots; i++)
			fs->slots[i] = -1;
		for (i = 0; i < fs->nleads; i++)
		{
			for (pos = fs->leads[i].hash & (nslots - 1); fs->slots[pos] >= 0;
				 pos = (pos + 1) & (nslots - 1))
				;
			fs->slots[pos] = i;
		}
	}
	if (fs->nleads == fs->leads_cap)
	{
		fs->leads_cap = fs->leads_cap ? fs->leads_cap * 2 : 1024;
		fs->leads = fs->leads ? repalloc_huge(fs->leads, sizeof(FastLead) * fs->leads_cap)
							  : palloc(sizeof(FastLead) * fs->leads_cap);
	}
	for (pos = h & (fs->nslots - 1); fs->slots[pos] >= 0; pos = (pos + 1) & (fs->nslots - 1))
		;
	idx = fs->nleads++;
	fs->slots[pos] = idx;
	fs->leads[idx].lead_id = datumCopy(lead_id, fs->run->lead_byval, fs->run->lead_typlen);
	fs->leads[idx].hash = h;
	fs->leads[idx].unbounded = false;
	fs->leads[idx].min_start = DT_NOEND;
	fs->leads[idx].max_at = DT_NOBEGIN;
	fs->leads[idx].first_conv = -1;
	fs->leads[idx].first_touch = 0;
	fs->leads[idx].ntouch = 0;
	return idx;
}

/* Check the query's lead id column type (once per query). */
static void
FastCheckLeadType(FastState *fs, TupleTableSlot *slot)
{
	Form_pg_attribute lead_att = TupleDescAttr(slot->tts_tupleDescriptor, 0);

	if (lead_att->atttypid != fs->run->lead_type)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("lead ids of the canonical views do not share one type"),
						errhint("Call lead_scoring.rebuild_views().")));
	/* the conversions' collation hashes both queries' ids */
	if (!fs->reading_touches)
		fs->run->lead_collation = lead_att->attcollation;
}

/* Take one conversion row: lead_id, at, ref, value, cost, created_at, opportunity_at, source. */
static void
FastAcceptConversion(FastState *fs, TupleTableSlot *slot)
{
	AttributionRun *run = fs->run;
	Datum *v = slot->tts_values;
	bool *n = slot->tts_isnull;
	uint32 h;
	int li;
	FastLead *lead;
	FastConv *c;
	TimestampTz start;

	slot_getallattrs(slot);
	if (run->nrows++ == 0)
		FastCheckLeadType(fs, slot);
	h = FastLeadHash(fs, v[0]);
	li = FastLeadLookUp(fs, v[0], h);
	if (li < 0)
		li = FastLeadAdd(fs, v[0], h);
	lead = &fs->leads[li];
	if (fs->nconvs == fs->convs_cap)
	{
		fs->convs_cap = fs->convs_cap ? fs->convs_cap * 2 : 1024;
		fs->convs = fs->convs ? repalloc_huge(fs->convs, sizeof(FastConv) * fs->convs_cap)
							  : palloc(sizeof(FastConv) * fs->convs_cap);
	}
	c = &fs->convs[fs->nconvs];
	c->conv.at = DatumGetTimestampTz(v[1]);
	c->conv.id = n[2] ? (Datum) 0 : datumCopy(v[2], false, -1);
	c->conv.value_null = n[3];
	c->conv.value = n[3] ? (Datum) 0 : datumCopy(v[3], false, -1);
	c->conv.cost_null = n[4];
	c->conv.cost = n[4] ? (Datum) 0 : datumCopy(v[4], false, -1);
	c->created_null = n[5];
	c->created = n[5] ? 0 : DatumGetTimestampTz(v[5]);
	c->opportunity_null = n[6];
	c->opportunity = n[6] ? 0 : DatumGetTimestampTz(v[6]);
	c->source = DatumGetObjectId(v[7]);
	c->next = lead->first_conv;
	lead->first_conv = fs->nconvs++;
	if (c->conv.at > lead->max_at)
		lead->max_at = c->conv.at;
	if (WindowStart(run, c->conv.at, &start))
	{
		if (start < lead->min_start)
			lead->min_start = start;
	}
	else
		lead->unbounded = true;
}

/* Copy a text's bytes into the event_ref arena. */
static text *
FastCopyRef(FastState *fs, const char *bytes, int len)
{
	Size need = MAXALIGN(VARHDRSZ + len);
	text *t;

	if (need > fs->arena_left)
	{
		Size size = Max(need, 64 * 1024);

		fs->arena = palloc(size);
		fs->arena_left = size;
	}
	t = (text *) fs->arena;
	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), bytes, len);
	fs->arena += need;
	fs->arena_left -= need;
	return t;
}

/* Take one touch row: lead_id, occurred_at, event_ref, channel, campaign, keyword, source. */
static void
FastAcceptTouch(FastState *fs, TupleTableSlot *slot)
{
	Datum *v = slot->tts_values;
	bool *n = slot->tts_isnull;
	TimestampTz at;
	FastLead *lead;
	FastTouch *t;
	int li;
	const char *bytes;
	int len;

	slot_getallattrs(slot);
	if (fs->run->nrows++ == 0)
		FastCheckLeadType(fs, slot);
	li = FastLeadLookUp(fs, v[0], FastLeadHash(fs, v[0]));
	if (li < 0)
		return; /* a lead without conversions */
	lead = &fs->leads[li];
	at = DatumGetTimestampTz(v[1]);
	if (at > lead->max_at || (!lead->unbounded && at < lead->min_start))
		return; /* in no window */
	if (fs->ntouches == fs->touches_cap)
	{
		fs->touches_cap = fs->touches_cap ? fs->touches_cap * 2 : 4096;
		fs->touches = fs->touches ? repalloc_huge(fs->touches, sizeof(FastTouch) * fs->touches_cap)
								  : palloc(sizeof(FastTouch) * fs->touches_cap);
	}
	t = &fs->touches[fs->ntouches];
	t->at = at;
	t->ref = NULL;
	t->ref_null = n[2];
	t->ref_inline = false;
	if (!n[2])
	{
		bytes = TextBytes(v[2], &len);
		if (len <= FAST_INLINE_REF)
		{
			SET_VARSIZE_SHORT(t->ref_short, VARHDRSZ_SHORT + len);
			memcpy(t->ref_short + VARHDRSZ_SHORT, bytes, len);
			t->ref_inline = true;
		}
		else
			t->ref = FastCopyRef(fs, bytes, len);
	}
	bytes = TextBytes(v[3], &len);
	t->channel = TextDictId(&fs->dict, bytes, len);
	if (n[4])
		t->campaign = -1;
	else
	{
		bytes = TextBytes(v[4], &len);
		t->campaign = TextDictId(&fs->dict, bytes, len);
	}
	if (n[5])
		t->keyword = -1;
	else
	{
		bytes = TextBytes(v[5], &len);
		t->keyword = TextDictId(&fs->dict, bytes, len);
	}
	t->source = DatumGetObjectId(v[6]);
	t->lead = li;
	lead->ntouch++;
	fs->ntouches++;
}

/* A DestReceiver that hands each row to FastAcceptConversion or FastAcceptTouch. */
typedef struct FastReceiver
{
	DestReceiver pub;
	FastState *fs;
} FastReceiver;

static bool
FastReceiverSlot(TupleTableSlot *slot, DestReceiver *self)
{
	FastState *fs = ((FastReceiver *) self)->fs;
	MemoryContext old = MemoryContextSwitchTo(fs->run->work_cxt);

	if (fs->reading_touches)
		FastAcceptTouch(fs, slot);
	else
		FastAcceptConversion(fs, slot);
	MemoryContextSwitchTo(old);
	return true;
}

/* Run one query of the fast path, streaming its rows to fs. */
static void
FastReadRows(FastState *fs, const char *query, Oid *argtypes, Datum *args, const char *argnulls)
{
	FastReceiver receiver;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = FastReceiverSlot;
	receiver.fs = fs;
	fs->run->nrows = 0;
	StreamQuery(query, argtypes, args, argnulls, &receiver.pub);
	fs->run->nrows = 0;
}

/* A touch's event_ref as a text datum (only while the record does not move). */
static inline Datum
FastTouchRef(const FastTouch *t)
{
	return t->ref_inline ? PointerGetDatum(t->ref_short) : PointerGetDatum(t->ref);
}

/* Order of touches (time, source table, event_ref), as CompareRows orders them. */
static int
CompareFastTouches(const void *a, const void *b)
{
	const FastTouch *x = (const FastTouch *) a;
	const FastTouch *y = (const FastTouch *) b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return CompareRefs(FastTouchRef(x), x->ref_null, FastTouchRef(y), y->ref_null);
}

/* Order of conversions (time, source table, id), as CompareRows orders them. */
static int
CompareFastConvs(const void *a, const void *b)
{
	const FastConv *x = *(const FastConv *const *) a;
	const FastConv *y = *(const FastConv *const *) b;

	if (x->conv.at != y->conv.at)
		return x->conv.at < y->conv.at ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return CompareRefs(x->conv.id, false, y->conv.id, false);
}

/* Attribute every conversion of one lead of the fast path. */
static void
FastProcessLead(FastState *fs, FastLead *lead, FastConv ***cbuf, int *cbuf_cap)
{
	AttributionRun *run = fs->run;
	FastTouch *touches = fs->touches + lead->first_touch;
	int ntouch = lead->ntouch;
	int nconv = 0;
	int i, c, lo, hi;

	for (i = lead->first_conv; i >= 0; i = fs->convs[i].next)
	{
		if (nconv == *cbuf_cap)
		{
			*cbuf_cap *= 2;
			*cbuf = repalloc_huge(*cbuf, sizeof(FastConv *) * *cbuf_cap);
		}
		(*cbuf)[nconv++] = &fs->convs[i];
	}
	if (ntouch > 1)
		qsort(touches, ntouch, sizeof(FastTouch), CompareFastTouches);
	if (nconv > 1)
		qsort(*cbuf, nconv, sizeof(FastConv *), CompareFastConvs);
	EnsureTouchCapacity(run, ntouch);
	for (i = 0; i < ntouch; i++)
	{
		FastTouch *ft = &touches[i];
		Touch *t = &run->touches[i];

		t->at = run->times[i] = ft->at;
		t->ref = ft->ref_null ? (Datum) 0 : FastTouchRef(ft);
		t->ref_null = ft->ref_null;
		t->channel = fs->dict.texts[ft->channel];
		t->campaign = ft->campaign >= 0 ? fs->dict.texts[ft->campaign] : (Datum) 0;
		t->campaign_null = ft->campaign < 0;
		t->keyword = ft->keyword >= 0 ? fs->dict.texts[ft->keyword] : (Datum) 0;
		t->keyword_null = ft->keyword < 0;
		t->channel_id = -1;
	}
	for (c = 0; c < nconv; c++)
	{
		FastConv *fc = (*cbuf)[c];
		const Conversion *conv = &fc->conv;

		if ((run->has_from && conv->at < run->from) || (run->has_to && conv->at >= run->to))
			continue;
		WindowTouches(run, run->times, ntouch, conv->at, &lo, &hi);
		if (hi <= lo)
			EmitConversion(run, lead->lead_id, conv, NULL, 0, NULL);
		else
		{
			TouchPath path;
			TimestampTz created = fc->created_null ? DT_NOBEGIN : fc->created;
			TimestampTz opportunity =
				fc->opportunity_null ? conv->at : Min(fc->opportunity, conv->at);

			path.n = hi - lo;
			path.times = run->times + lo;
			path.converted_at = conv->at;
			path.created_index = LastTouchAtOrBefore(path.times, path.n, created);
			path.opportunity_index = LastTouchAtOrBefore(path.times, path.n, opportunity);
			RuleBasedWeights(run->model, &path, run->half_life_usecs, run->weights);
			EmitConversion(run, lead->lead_id, conv, run->touches + lo, path.n, run->weights);
		}
	}
}

/*
 * The rule-based models: read the conversions (ordered by lead, so that the
 * output comes lead by lead as before), then every touchpoint unsorted,
 * keeping only those of leads with a conversion and inside the span of their
 * windows, and attribute lead by lead.  Memory: about 40 bytes per kept touch
 * plus its event_ref.
 */
static void
RunFastAttribution(AttributionRun *run, bool bound_touch_from, bool bound_conv_from, bool bound_to,
				   Oid *argtypes, Datum *args, const char *argnulls)
{
	FastState fs;
	TypeCacheEntry *tc = lookup_type_cache(run->lead_type, TYPECACHE_HASH_PROC_FINFO);
	StringInfoData q;
	FastConv **cbuf;
	int cbuf_cap = 16;
	int li;
	int i;
	int *next;
	FastTouch *grouped;

	memset(&fs, 0, sizeof(fs));
	fs.run = run;
	fs.hash_proc = &tc->hash_proc_finfo;

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT c.lead_id, c.at, c.ref, c.value, c.cost, c.created_at,"
					 " c.opportunity_at, c.source FROM (%s) c ORDER BY c.lead_id",
					 BuildConversionQuery(run, bound_conv_from, bound_to));
	elog(DEBUG1, "lead_scoring attribution conversions: %s", q.data);
	FastReadRows(&fs, q.data, argtypes, args, argnulls);
	MemoryContextSwitchTo(run->work_cxt);
	if (fs.nleads == 0)
		return;

	resetStringInfo(&q);
	appendStringInfoString(
		&q, "SELECT e.lead_id, e.occurred_at, e.event_ref, e.channel, e.campaign, e.keyword,"
			" e.source::pg_catalog.oid FROM " LS_SCHEMA ".events e"
			" WHERE e.channel IS NOT NULL AND e.lead_id IS NOT NULL"
			" AND e.occurred_at IS NOT NULL");
	if (bound_touch_from)
		appendStringInfoString(&q, " AND e.occurred_at OPERATOR(pg_catalog.>=) $1");
	if (bound_to)
		appendStringInfoString(&q, " AND e.occurred_at OPERATOR(pg_catalog.<) $3");
	elog(DEBUG1, "lead_scoring attribution touches: %s", q.data);
	fs.reading_touches = true;
	FastReadRows(&fs, q.data, argtypes, args, argnulls);
	MemoryContextSwitchTo(run->work_cxt);

	/*
	 * Group the touches by lead with a counting sort: the scattered writes
	 * are independent, so that the cache misses overlap (walking a chain per
	 * lead would wait for each miss in turn).
	 */
	next = palloc(sizeof(int) * fs.nleads);
	for (li = 0, i = 0; li < fs.nleads; li++)
	{
		fs.leads[li].first_touch = next[li] = i;
		i += fs.leads[li].ntouch;
	}
	grouped = palloc_extended(sizeof(FastTouch) * Max(fs.ntouches, 1), MCXT_ALLOC_HUGE);
	for (i = 0; i < fs.ntouches; i++)
		grouped[next[fs.touches[i].lead]++] = fs.touches[i];
	if (fs.touches)
		pfree(fs.touches);
	pfree(next);
	fs.touches = grouped;

	cbuf = palloc(sizeof(FastConv *) * cbuf_cap);
	for (li = 0; li < fs.nleads; li++)
	{
		MemoryContext old = MemoryContextSwitchTo(run->lead_cxt);

		CHECK_FOR_INTERRUPTS();
		FastProcessLead(&fs, &fs.leads[li], &cbuf, &cbuf_cap);
		MemoryContextSwitchTo(old);
		MemoryContextReset(run->lead_cxt);
	}
}

#else

/* PostgreSQL 13: read the ordered query through a cursor. */
static void
ReadRows(AttributionRun *run, const char *query, Oid *argtypes, Datum *args, const char *argnulls)
{
	Portal portal = SPI_cursor_open_with_args(NULL, query, 4, argtypes, args, argnulls, true, 0);
	TupleTableSlot *slot = NULL;

	for (;;)
	{
		uint64 i;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		MemoryContextSwitchTo(run->work_cxt);
		if (slot == NULL)
			slot = MakeSingleTupleTableSlot(SPI_tuptable->tupdesc, &TTSOpsHeapTuple);
		for (i = 0; i < SPI_processed; i++)
		{
			ExecStoreHeapTuple(SPI_tuptable->vals[i], slot, false);
			AcceptRow(run, slot);
		}
		ExecClearTuple(slot);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (slot)
		ExecDropSingleTupleTableSlot(slot);
}

#endif

/*
 * Read every row with one ordered query and attribute lead by lead; afterwards solve
 * the Markov chain and emit the stashed Markov conversions.
 */
static void
RunAttribution(AttributionRun *run)
{
	MemoryContext work = CurrentMemoryContext;
	TypeCacheEntry *tc;
	Oid argtypes[4] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID};
	Datum args[4] = {0, 0, 0, IntervalPGetDatum(&run->lookback)};
	char argnulls[4] = {'n', 'n', 'n', ' '};
	bool markov = run->model == AM_MARKOV || run->out == NULL;
	bool bound_touch_from = false;
	bool bound_conv_from = false;
	bool bound_to = false;
	bool bound_lookback;
	char *query;
	int guc_level;

	run->lead_type = LeadIdType();
	if (run->kind == CK_DEAL && run->out != NULL)
	{
		bool isnull;

		if (SPI_execute("SELECT pg_catalog.count(*) FROM " LS_SCHEMA ".attachment"
						" WHERE kind OPERATOR(pg_catalog.=) 'deals'",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read " LS_SCHEMA ".attachment");
		run->several_deal_tables =
			DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) >
			1;
		MemoryContextSwitchTo(work);
	}
	get_typlenbyval(run->lead_type, &run->lead_typlen, &run->lead_byval);
	tc = lookup_type_cache(run->lead_type, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(tc->cmp_proc))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("lead id type %s has no default btree operator class",
							   format_type_be(run->lead_type))));
	run->lead_cmp = &tc->cmp_proc_finfo;
	run->now = LsNow();

	/*
	 * The Markov chain needs every lead's path whatever the period; the other
	 * models read only the conversions of the period and the touches that can
	 * be in their windows.
	 */
	if (!markov)
	{
		if (run->has_from)
		{
			TimestampTz start;

			bound_conv_from = true;
			args[1] = TimestampTzGetDatum(run->from);
			argnulls[1] = ' ';
			if (WindowStart(run, run->from, &start))
			{
				bound_touch_from = true;
				args[0] = TimestampTzGetDatum(start);
				argnulls[0] = ' ';
			}
		}
		if (run->has_to)
		{
			bound_to = true;
			args[2] = TimestampTzGetDatum(run->to);
			argnulls[2] = ' ';
		}
	}

	run->work_cxt = work;
	run->lead_cxt =
		AllocSetContextCreate(work, "lead_scoring attribution lead", ALLOCSET_DEFAULT_SIZES);
	run->rows_cap = 64;
	run->rows = palloc(sizeof(QueryRow) * run->rows_cap);
	run->touch_cap = 64;
	run->times = palloc(sizeof(TimestampTz) * run->touch_cap);
	run->touches = palloc(sizeof(Touch) * run->touch_cap);
	run->ids = palloc(sizeof(int) * run->touch_cap);
	run->weights = palloc(sizeof(double) * run->touch_cap);
	run->credits = palloc(sizeof(Datum) * run->touch_cap);
	run->costs = palloc(sizeof(Datum) * run->touch_cap);
	run->fast_limit = NumericGetDatum(int64_to_numeric(INT64CONST(1) << 52));
	if (markov)
		run->chain = MarkovChainCreate();
	if (markov && run->out)
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

#if PG_VERSION_NUM >= 140000
	if (!markov)
	{
		TypeCacheEntry *htc = lookup_type_cache(run->lead_type, TYPECACHE_HASH_PROC_FINFO);

		if (OidIsValid(htc->hash_proc))
		{
			guc_level = NewGUCNestLevel();
			(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
									 true, 0, false);
			RunFastAttribution(run, bound_touch_from, bound_conv_from, bound_to, argtypes, args,
							   argnulls);
			AtEOXact_GUC(true, guc_level);
			MemoryContextSwitchTo(work);
			return;
		}
	}
#endif

	/*
	 * In SQL the window start is c.at - lookback; a lookback of a thousand
	 * years or more is no bound there (and cannot overflow).  The exact
	 * window is applied in C either way.
	 */
	bound_lookback = IntervalMicroseconds(&run->lookback) < 1000.0 * DAYS_PER_YEAR * USECS_PER_DAY;
	query = BuildQuery(run, markov, bound_touch_from, bound_conv_from, bound_to, bound_lookback);
	elog(DEBUG1, "lead_scoring attribution query: %s", query);
	/*
	 * Plan the query with a hash semi-join for the window filter (the planner
	 * tends to prefer sorting every touchpoint for a merge join, which is
	 * twice as slow) and without JIT (the expressions are trivial, compiling
	 * them costs more than it saves).  The settings are restored right after,
	 * as RI_Initial_Check does for work_mem.
	 */
	guc_level = NewGUCNestLevel();
	(void) set_config_option("enable_mergejoin", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
							 false);
	ReadRows(run, query, argtypes, args, argnulls);
	AtEOXact_GUC(true, guc_level);
	MemoryContextSwitchTo(work);
	if (run->nrows > 0)
		FinishLead(run);

	if (run->chain)
	{
		run->removal_effect = palloc(sizeof(double) * Max(MarkovChannelCount(run->chain), 1));
		MarkovRemovalEffects(run->chain, &run->p_conversion, run->removal_effect);
		if (run->stash)
		{
			EmitStash(run);
			tuplestore_end(run->stash);
			run->stash = NULL;
		}
	}
}

/* Set up materialize-mode output for a set-returning function; returns the tuplestore. */
static Tuplestorestate *
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
static void
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

/*
 * Fill a run from the arguments (model, conversion, lookback, half_life);
 * NULL model, lookback and half-life take the settings' defaults, a NULL
 * conversion is 'deal'.
 */
static void
ParseRunArguments(FunctionCallInfo fcinfo, AttributionRun *run, int model_arg, int conversion_arg,
				  int lookback_arg, int half_life_arg)
{
	char *model = model_arg >= 0 ? ArgText(fcinfo, model_arg) : "markov";
	char *conversion = ArgText(fcinfo, conversion_arg);
	bool need_lookback = PG_ARGISNULL(lookback_arg);
	bool need_half_life = half_life_arg < 0 || PG_ARGISNULL(half_life_arg);
	Interval half_life;

	/* check what was given before reading the settings */
	if (model)
		run->model = AttributionModelParse(model);
	run->kind = ConversionKindParse(conversion ? conversion : "deal");
	if (!need_lookback)
	{
		run->lookback = *PG_GETARG_INTERVAL_P(lookback_arg);
		CheckNotNegative(&run->lookback, "lookback");
	}
	if (!need_half_life)
	{
		half_life = *PG_GETARG_INTERVAL_P(half_life_arg);
		CheckNotNegative(&half_life, "half_life");
	}
	if (model == NULL || need_lookback || need_half_life)
	{
		const LsSettings *settings = LsGetSettings();

		if (model == NULL)
			model = settings->attribution_model;
		if (need_lookback)
			run->lookback = settings->attribution_lookback;
		if (need_half_life)
			half_life = settings->attribution_half_life;
		run->model = AttributionModelParse(model);
		if (need_lookback)
			CheckNotNegative(&run->lookback, "settings.attribution_lookback");
		if (need_half_life)
			CheckNotNegative(&half_life, "settings.attribution_half_life");
	}
	run->half_life_usecs = IntervalMicroseconds(&half_life);
}

PG_FUNCTION_INFO_V1(attribution_rows);

/*
 * attribution_rows(model, conversion, lookback, half_life [, from, to]) →
 * setof record: one row per touch of every conversion (conversions in
 * [from, to) when given), with the columns the caller's column list names
 * (see out_columns).  The typed lead_scoring.attribution() wrappers are this
 * same C function.
 */
Datum
attribution_rows(PG_FUNCTION_ARGS)
{
	AttributionRun run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;

	memset(&run, 0, sizeof(run));
	run.out = MaterializeOutput(fcinfo, &run.out_desc);
	if (PG_NARGS() >= 6)
	{
		run.has_from = !PG_ARGISNULL(4);
		run.from = run.has_from ? PG_GETARG_TIMESTAMPTZ(4) : 0;
		run.has_to = !PG_ARGISNULL(5);
		run.to = run.has_to ? PG_GETARG_TIMESTAMPTZ(5) : 0;
	}

	work = AllocSetContextCreate(caller, "lead_scoring attribution", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(work);
	ParseRunArguments(fcinfo, &run, 0, 1, 2, 3);
	run.lead_type = LeadIdType();
	MapOutputColumns(&run);
	RunAttribution(&run);
	MemoryContextSwitchTo(caller);
	SPI_finish();
	MemoryContextDelete(work);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(markov_removal_effects);

/*
 * markov_removal_effects(conversion, lookback) → table(channel, paths,
 * converting_paths, p_with, p_without, removal_effect): the chain the markov
 * model uses, channel by channel.
 */
Datum
markov_removal_effects(PG_FUNCTION_ARGS)
{
	AttributionRun run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;
	Tuplestorestate *store;
	TupleDesc desc;
	double p;
	int nchannels;
	int c;

	memset(&run, 0, sizeof(run));
	store = MaterializeOutput(fcinfo, &desc);
	work = AllocSetContextCreate(caller, "lead_scoring markov", ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(work);
	ParseRunArguments(fcinfo, &run, -1, 0, 1, -1);
	RunAttribution(&run);
	nchannels = MarkovChannelCount(run.chain);
	p = run.p_conversion;
	for (c = 0; c < nchannels; c++)
	{
		Datum v[6];
		bool nulls[6] = {false, false, false, false, false, false};
		int len;
		const char *name = MarkovChannelName(run.chain, c, &len);

		v[0] = PointerGetDatum(cstring_to_text_with_len(name, len));
		v[1] = Int64GetDatum(MarkovChannelPaths(run.chain, c, false));
		v[2] = Int64GetDatum(MarkovChannelPaths(run.chain, c, true));
		v[3] = Float8GetDatum(p);
		v[4] = Float8GetDatum(p * (1.0 - run.removal_effect[c]));
		v[5] = Float8GetDatum(run.removal_effect[c]);
		tuplestore_putvalues(store, desc, v, nulls);
	}
	MemoryContextSwitchTo(caller);
	SPI_finish();
	MemoryContextDelete(work);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(channel_report_level);

/* channel_report_level(level) → 1 (channel), 2 (campaign) or 3 (keyword); ERROR otherwise. */
Datum
channel_report_level(PG_FUNCTION_ARGS)
{
	static const char *const levels[] = {"channel", "campaign", "keyword"};
	char *level = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int i = LookUpName(level, levels, lengthof(levels));

	if (i < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unknown report level \"%s\"", level),
						errhint("Valid levels are: %s.", NameList(levels, lengthof(levels)))));
	PG_RETURN_INT32(i + 1);
}
