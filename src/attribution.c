/*
 * attribution.c — the SQL-callable attribution functions (doc/attribution.md):
 * argument parsing and validation, then a run of the readers
 * (attribution_read.c) into one of the outputs (attribution_output.c,
 * attribution_ci.c).  The layers share attribution_int.h.
 *
 * C symbols named by released SQL keep their argument lists:
 * attribution_rows (0.1.0: model, conversion, lookback, half_life
 * [, from, to]) and markov_removal_effects; 0.2.0's options come through new
 * symbols (attribution_rows_0_2, attribution_totals, removal_effects,
 * attribution_ci).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "attribution_int.h"
#include "settings.h"

static const char *const split_names[SPLIT_COUNT] = {"path", "aggregate"};
static const char *const level_names[] = {"channel", "campaign", "keyword"};

const char *
AttributionSplitName(AttributionSplit split)
{
	return (split >= 0 && split < SPLIT_COUNT) ? split_names[split] : "?";
}

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
	if (JOURNEY_MODEL(model))
		ereport(
			ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("the %s model has no weights for a single path", AttributionModelName(model)),
			 errdetail("Its weights depend on every lead's journey."),
			 errhint("Use lead_scoring.attribution('%s', ...)%s.", AttributionModelName(model),
					 model == AM_MARKOV ? " or lead_scoring.removal_effects()" : "")));
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
	run->split = SPLIT_PATH;
	run->markov_order = 1;
}

/* A report level (channel, campaign, keyword) as a depth 1..3; ERROR otherwise. */
static int
ParseLevel(const char *level)
{
	int i = LookUpName(level, level_names, lengthof(level_names));

	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown report level \"%s\"", level),
				 errhint("Valid levels are: %s.", NameList(level_names, lengthof(level_names)))));
	return i + 1;
}

/*
 * The journey options: split ('path' or 'aggregate', NULL = 'path') and
 * markov_order (1 to MARKOV_MAX_ORDER, NULL = 1); both are options of the
 * markov model, and any other model refuses values other than the defaults.
 */
static void
ParseJourneyArguments(FunctionCallInfo fcinfo, AttributionRun *run, int split_arg, int order_arg)
{
	char *split = split_arg >= 0 ? ArgText(fcinfo, split_arg) : NULL;

	if (split)
	{
		int i = LookUpName(split, split_names, SPLIT_COUNT);

		if (i < 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("unknown split \"%s\"", split),
							errhint("Valid splits are: %s.", NameList(split_names, SPLIT_COUNT))));
		run->split = (AttributionSplit) i;
	}
	if (order_arg >= 0 && !PG_ARGISNULL(order_arg))
	{
		int32 order = PG_GETARG_INT32(order_arg);

		if (order < 1 || order > MARKOV_MAX_ORDER)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("markov_order must be between 1 and %d", MARKOV_MAX_ORDER),
							errdetail("The markov_order given is %d.", order),
							errhint("Give 1 for a first-order chain, up to %d for states of that "
									"many consecutive channels.",
									MARKOV_MAX_ORDER)));
		run->markov_order = order;
	}
	if (run->model != AM_MARKOV && (run->split != SPLIT_PATH || run->markov_order != 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("split and markov_order are options of the markov model"),
				 errdetail("The model is %s; split is %s, markov_order %d.",
						   AttributionModelName(run->model), AttributionSplitName(run->split),
						   run->markov_order),
				 errhint("Use model 'markov', or leave split as 'path' and markov_order as 1.")));
}

/* Connect to SPI in a work context of its own; returns the work context. */
static MemoryContext
BeginRun(void)
{
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring attribution",
											   ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(work);
	return work;
}

/* Leave SPI and free the run's memory. */
static void
EndRun(MemoryContext caller, MemoryContext work)
{
	MemoryContextSwitchTo(caller);
	SPI_finish();
	MemoryContextDelete(work);
}

/* The conversions' period: [from, to) from two timestamptz arguments (NULL: open). */
static void
ParsePeriod(FunctionCallInfo fcinfo, AttributionRun *run, int from_arg, int to_arg)
{
	if (PG_NARGS() > to_arg)
	{
		run->has_from = !PG_ARGISNULL(from_arg);
		run->from = run->has_from ? PG_GETARG_TIMESTAMPTZ(from_arg) : 0;
		run->has_to = !PG_ARGISNULL(to_arg);
		run->to = run->has_to ? PG_GETARG_TIMESTAMPTZ(to_arg) : 0;
	}
}

/* The attribution rows of a parsed run, in the caller's column list. */
static void
AttributionRows(FunctionCallInfo fcinfo, AttributionRun *run)
{
	run->lead_type = LeadIdType();
	MapOutputColumns(run);
	RunAttribution(run);
}

PG_FUNCTION_INFO_V1(attribution_rows);

/*
 * attribution_rows(model, conversion, lookback, half_life [, from, to]) →
 * setof record: one row per touch of every conversion (conversions in
 * [from, to) when given), with the columns the caller's column list names
 * (see out_columns).  0.1.0's lead_scoring.attribution() is this function.
 */
Datum
attribution_rows(PG_FUNCTION_ARGS)
{
	AttributionRun run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;

	memset(&run, 0, sizeof(run));
	run.out = MaterializeOutput(fcinfo, &run.out_desc);
	ParsePeriod(fcinfo, &run, 4, 5);
	work = BeginRun();
	ParseRunArguments(fcinfo, &run, 0, 1, 2, 3);
	AttributionRows(fcinfo, &run);
	EndRun(caller, work);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(attribution_rows_0_2);

/*
 * attribution_rows_0_2(model, conversion, lookback, half_life, split,
 * markov_order [, from, to]) → setof record: attribution_rows with the
 * journey options.  The typed lead_scoring.attribution() of 0.2.0.
 */
Datum
attribution_rows_0_2(PG_FUNCTION_ARGS)
{
	AttributionRun run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;

	memset(&run, 0, sizeof(run));
	run.out = MaterializeOutput(fcinfo, &run.out_desc);
	ParsePeriod(fcinfo, &run, 6, 7);
	work = BeginRun();
	ParseRunArguments(fcinfo, &run, 0, 1, 2, 3);
	ParseJourneyArguments(fcinfo, &run, 4, 5);
	AttributionRows(fcinfo, &run);
	EndRun(caller, work);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(attribution_totals);

/*
 * attribution_totals(model, conversion, lookback, half_life, from, to, level,
 * split, markov_order) → table(channel, campaign, keyword, conversions,
 * credit, cost): the attribution summed per channel (campaign, keyword) in
 * C, without a row per touch.  channel_report reads it.
 */
Datum
attribution_totals(PG_FUNCTION_ARGS)
{
	AttributionRun run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;
	Tuplestorestate *store;
	TupleDesc desc;
	char *level = ArgText(fcinfo, 6);

	memset(&run, 0, sizeof(run));
	store = MaterializeOutput(fcinfo, &desc);
	ParsePeriod(fcinfo, &run, 4, 5);
	work = BeginRun();
	ParseRunArguments(fcinfo, &run, 0, 1, 2, 3);
	ParseJourneyArguments(fcinfo, &run, 7, 8);
	run.depth = ParseLevel(level ? level : "channel");
	run.totals = GroupTableCreate(run.depth);
	run.want[OC_CREDIT] = run.want[OC_COST] = true;
	run.lead_type = LeadIdType();
	RunAttribution(&run);
	PutTotals(&run, store, desc);
	EndRun(caller, work);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(markov_removal_effects);

/*
 * markov_removal_effects(conversion, lookback) → table(channel, paths,
 * converting_paths, p_with, p_without, removal_effect): the first-order
 * chain, channel by channel (0.1.0; removal_effects() has the options).
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
	work = BeginRun();
	ParseRunArguments(fcinfo, &run, -1, 0, 1, -1);
	run.chain_only = true;
	RunAttribution(&run);
	nchannels = MarkovChannelCount(run.chain);
	p = run.p_conversion;
	for (c = 0; c < nchannels; c++)
	{
		Datum v[6];
		bool nulls[6] = {false, false, false, false, false, false};
		int len;
		const char *name = MarkovChannelName(run.chain, c, &len);
		MarkovItem item = {1, {c}};

		v[0] = PointerGetDatum(cstring_to_text_with_len(name, len));
		v[1] = Int64GetDatum(MarkovItemPaths(run.chain, &item, false));
		v[2] = Int64GetDatum(MarkovItemPaths(run.chain, &item, true));
		v[3] = Float8GetDatum(p);
		v[4] = Float8GetDatum(p * (1.0 - run.removal_effect[c]));
		v[5] = Float8GetDatum(run.removal_effect[c]);
		tuplestore_putvalues(store, desc, v, nulls);
	}
	EndRun(caller, work);
	return (Datum) 0;
}

/* Separator of the channels of a sequence, as ChannelAttribution writes paths. */
#define SEQUENCE_SEPARATOR " > "

/*
 * Parse one sequence "a > b > c" into an item; a channel no journey has gets
 * id -1 (its removal effect is 0).  ERROR for an empty channel or a sequence
 * longer than the chain's order.
 */
static void
ParseSequence(const MarkovChain *chain, const char *text, int order, MarkovItem *item)
{
	const char *p = text;

	item->len = 0;
	for (;;)
	{
		const char *end = strstr(p, SEQUENCE_SEPARATOR);
		int len = end ? (int) (end - p) : (int) strlen(p);

		if (len == 0)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							errmsg("channel sequence \"%s\" has an empty channel", text),
							errhint("Write a sequence as channels separated by \" > \", such as "
									"'email > paid_search'.")));
		if (item->len == order)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("channel sequence \"%s\" is longer than markov_order %d", text, order),
					 errdetail("A state of a chain of order %d holds at most %d channels.", order,
							   order),
					 errhint("Raise markov_order to the length of the longest sequence.")));
		item->ids[item->len++] = MarkovChannelLookUp(chain, p, len);
		if (!end)
			break;
		p = end + strlen(SEQUENCE_SEPARATOR);
	}
}

PG_FUNCTION_INFO_V1(removal_effects);

/*
 * removal_effects(markov_order, conversion, lookback, sequences text[]) →
 * table(sequence, length, paths, converting_paths, p_with, p_without,
 * removal_effect): every channel's removal effect in the chain of that
 * order, then each sequence asked for ("a > b", at most markov_order
 * channels): the effect of sending every state holding it to null.
 */
Datum
removal_effects(PG_FUNCTION_ARGS)
{
	AttributionRun run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;
	Tuplestorestate *store;
	TupleDesc desc;
	int nchannels;
	int nseq = 0;
	char **seq_text = NULL;
	MarkovItem *items;
	double *re;
	double p;
	int i;

	memset(&run, 0, sizeof(run));
	store = MaterializeOutput(fcinfo, &desc);
	work = BeginRun();
	run.model = AM_MARKOV;
	ParseRunArguments(fcinfo, &run, -1, 1, 2, -1);
	ParseJourneyArguments(fcinfo, &run, -1, 0);
	if (!PG_ARGISNULL(3))
	{
		ArrayType *arr = PG_GETARG_ARRAYTYPE_P(3);
		Datum *elems;
		bool *nulls;

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
							errmsg("sequences must be a one-dimensional array")));
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nseq);
		seq_text = palloc(sizeof(char *) * Max(nseq, 1));
		for (i = 0; i < nseq; i++)
		{
			if (nulls[i])
				ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
								errmsg("sequences[%d] is NULL", i + 1),
								errhint("Write each sequence as channels separated by \" > \".")));
			seq_text[i] = TextDatumGetCString(elems[i]);
		}
	}
	run.chain_only = true;
	run.lead_type = LeadIdType();
	RunAttribution(&run);

	nchannels = MarkovChannelCount(run.chain);
	items = palloc(sizeof(MarkovItem) * Max(nchannels + nseq, 1));
	for (i = 0; i < nchannels; i++)
	{
		items[i].len = 1;
		items[i].ids[0] = i;
	}
	for (i = 0; i < nseq; i++)
		ParseSequence(run.chain, seq_text[i], run.markov_order, &items[nchannels + i]);
	re = palloc0(sizeof(double) * Max(nchannels + nseq, 1));
	MarkovSolve(run.chain, run.markov_order, NULL, nchannels + nseq, items, &p, re);
	for (i = 0; i < nchannels + nseq; i++)
	{
		Datum v[7];
		bool nulls[7] = {false, false, false, false, false, false, false};
		MarkovItem *item = &items[i];
		bool known = true;
		int k;

		if (i < nchannels)
		{
			int len;
			const char *name = MarkovChannelName(run.chain, i, &len);

			v[0] = PointerGetDatum(cstring_to_text_with_len(name, len));
		}
		else
			v[0] = CStringGetTextDatum(seq_text[i - nchannels]);
		for (k = 0; k < item->len; k++)
			if (item->ids[k] < 0)
				known = false;
		v[1] = Int32GetDatum(item->len);
		v[2] = Int64GetDatum(known ? MarkovItemPaths(run.chain, item, false) : 0);
		v[3] = Int64GetDatum(known ? MarkovItemPaths(run.chain, item, true) : 0);
		v[4] = Float8GetDatum(p);
		v[5] = Float8GetDatum(p * (1.0 - re[i]));
		v[6] = Float8GetDatum(re[i]);
		tuplestore_putvalues(store, desc, v, nulls);
	}
	EndRun(caller, work);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(attribution_ci);

/*
 * attribution_ci(model, samples, level, seed, conversion, lookback,
 * half_life, detail, split, markov_order) → table(channel, campaign, keyword,
 * credit, lower, upper): each group's credit and its bootstrap percentile
 * interval, leads resampled with replacement (attribution_ci.c).
 */
Datum
attribution_ci(PG_FUNCTION_ARGS)
{
	AttributionRun run;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work;
	Tuplestorestate *store;
	TupleDesc desc;
	int32 samples;
	double level;
	int64 seed;
	char *detail = ArgText(fcinfo, 7);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("samples, level and seed must not be NULL"),
						errhint("Leave them out for 1000 samples, level 0.95 and seed 0.")));
	samples = PG_GETARG_INT32(1);
	level = PG_GETARG_FLOAT8(2);
	seed = PG_GETARG_INT64(3);
	if (samples < 1 || samples > 100000)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("samples must be between 1 and 100000"),
						errdetail("The samples given are %d.", samples),
						errhint("1000 samples give stable 95 %% intervals.")));
	if (!(level > 0 && level < 1))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("level must lie strictly between 0 and 1"),
						errdetail("The level given is %g.", level),
						errhint("Give 0.95 for a 95 %% interval.")));

	memset(&run, 0, sizeof(run));
	store = MaterializeOutput(fcinfo, &desc);
	work = BeginRun();
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("model must not be NULL"),
						errhint("Name an attribution model, such as 'linear' or 'markov'.")));
	ParseRunArguments(fcinfo, &run, 0, 4, 5, 6);
	ParseJourneyArguments(fcinfo, &run, 8, 9);
	run.depth = ParseLevel(detail ? detail : "channel");
	run.want[OC_CREDIT] = true;
	run.lead_type = LeadIdType();
	run.ci = CiCollectorCreate(&run);
	RunAttribution(&run);
	CiRun(&run, samples, level, seed, store, desc);
	EndRun(caller, work);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(channel_report_level);

/* channel_report_level(level) → 1 (channel), 2 (campaign) or 3 (keyword); ERROR otherwise. */
Datum
channel_report_level(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(ParseLevel(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}
