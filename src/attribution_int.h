/*
 * attribution_int.h — private header of the attribution layers
 * (doc/attribution.md, "How it runs"):
 *
 *   attribution.c             entry points: SQL-callable functions, argument parsing
 *   attribution_read.c        the queries, the lookback window, choosing a reader,
 *                             attributing one conversion (shared by both readers)
 *   attribution_read_sorted.c reader of one query ordered by lead (markov, shapley,
 *                             PostgreSQL 13, id types without hashing)
 *   attribution_read_fast.c   reader of conversions, then unsorted touchpoints (the
 *                             rule-based models)
 *   attribution_weights.c     the weight math of every model (pure)
 *   attribution_shapley.c     the Shapley game on channel sets
 *   attribution_output.c      splitting amounts, result rows, per-group totals,
 *                             conversions held back until the journeys are known
 *   attribution_ci.c          bootstrap confidence intervals
 */
#ifndef ATTRIBUTION_INT_H
#define ATTRIBUTION_INT_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "tcop/dest.h"
#include "utils/tuplestore.h"

#include "attribution_weights.h"
#include "markov.h"

/* How a journey-based model (markov) spreads conversions over channels. */
typedef enum AttributionSplit
{
	SPLIT_PATH,		 /* each conversion over the channels of its own path */
	SPLIT_AGGREGATE, /* every conversion over every channel, RE(c) / sum RE */
	SPLIT_COUNT
} AttributionSplit;

/* Columns of the sorted reader's query, in order. */
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
	bool at_null;	/* an aggregate-split row: a channel, no touch */
	int channel_id; /* journey-based models only */
} Touch;

/* One row of the sorted reader's query, copied into the lead context and deformed. */
typedef struct QueryRow
{
	HeapTuple tup;
	Datum v[Q_NCOLS]; /* point into tup */
	bool n[Q_NCOLS];
} QueryRow;

typedef struct GroupTable GroupTable;
typedef struct ShapleyGame ShapleyGame;
typedef struct CiCollector CiCollector;

typedef struct AttributionRun
{
	AttributionModel model;
	ConversionKind kind;
	Interval lookback;
	double half_life_usecs;
	AttributionSplit split;
	int markov_order;
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

	/* output: rows (out), per-group totals (totals) or bootstrap input (ci); none: the chain only
	 */
	Tuplestorestate *out;
	TupleDesc out_desc;
	int *out_map; /* per output attribute: OutColumn */
	bool want[OC_COUNT];
	Datum *out_values;
	bool *out_nulls;
	GroupTable *totals;
	CiCollector *ci;
	int depth;		 /* groups: 1 channel, 2 + campaign, 3 + keyword */
	bool chain_only; /* read the journeys for the Markov chain, emit nothing */
	bool lead_null;	 /* the conversions emitted now have no lead (AttributeLeadlessDeals) */

	/* journey-based models: the journeys, conversions held back, the model's parameters */
	MarkovChain *chain;
	Tuplestorestate *stash;
	TupleDesc stash_desc;
	int64 conversion_seq;
	int lead_seq; /* leads seen so far (the current lead's number + 1) */
	double *removal_effect;
	double p_conversion; /* P of the chain */
	ShapleyGame *shapley;

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
	int *counts; /* per-channel scratch, all zero between uses */
	Datum *credits;
	Datum *costs;
	int64 *units;

	/* numeric constants */
	Datum fast_limit; /* 2^52 */

	/* the last amount split, as units (see AmountUnits) */
	char last_amount[32];
	Size last_amount_len;
	int last_scale;
	bool last_units_ok;
	int64 last_units;
} AttributionRun;

/* True for the models whose weights depend on every lead's journey. */
#define JOURNEY_MODEL(model) ((model) == AM_MARKOV || (model) == AM_SHAPLEY)

/* attribution.c */
extern const char *AttributionSplitName(AttributionSplit split);

/* attribution_read.c */
extern Oid LeadIdType(void);
extern void RunAttribution(AttributionRun *run);
extern bool WindowStart(const AttributionRun *run, TimestampTz t, TimestampTz *start);
extern void WindowTouches(const AttributionRun *run, const TimestampTz *times, int n, TimestampTz t,
						  int *lo, int *hi);
extern const char *TextBytes(Datum d, int *len);
extern int CompareRefs(Datum a, bool a_null, Datum b, bool b_null);
extern bool SameLead(const AttributionRun *run, Datum a, Datum b);
extern char *BuildConversionQuery(const AttributionRun *run, bool bound_conv_from, bool bound_to);
extern char *BuildQuery(const AttributionRun *run, bool journeys, bool bound_touch_from,
						bool bound_conv_from, bool bound_to, bool bound_lookback);
extern void StreamQuery(const char *query, Oid *argtypes, Datum *args, const char *argnulls,
						DestReceiver *dest);
extern void AttributeConversion(AttributionRun *run, Datum lead_id, const Conversion *conv,
								int ntouch, bool created_null, TimestampTz created,
								bool opportunity_null, TimestampTz opportunity, bool whole_path);

/* attribution_read_sorted.c */
extern void ReadRows(AttributionRun *run, const char *query, Oid *argtypes, Datum *args,
					 const char *argnulls);
extern void FinishLead(AttributionRun *run);

/* attribution_read_fast.c */
extern void RunFastAttribution(AttributionRun *run, bool bound_touch_from, bool bound_conv_from,
							   bool bound_to, Oid *argtypes, Datum *args, const char *argnulls);

/* attribution_output.c */
extern void EnsureTouchCapacity(AttributionRun *run, int n);
extern Tuplestorestate *MaterializeOutput(FunctionCallInfo fcinfo, TupleDesc *desc);
extern void MapOutputColumns(AttributionRun *run);
extern void EmitConversion(AttributionRun *run, Datum lead_id, const Conversion *conv,
						   const Touch *touches, int n, const double *w);
extern void StashCreate(AttributionRun *run);
extern void StashConversion(AttributionRun *run, Datum lead_id, const Conversion *conv,
							const Touch *touches, int n);
extern void EmitStash(AttributionRun *run);
extern void JourneyWeights(AttributionRun *run, int n, const int *channel_ids, double *w);
extern GroupTable *GroupTableCreate(int depth);
extern void SlotsFill(int *slots, int nslots, const void *entries, Size entry_size,
					  Size hash_offset, int n);
extern int GroupId(GroupTable *g, Datum channel, bool campaign_null, Datum campaign,
				   bool keyword_null, Datum keyword);
extern int GroupCount(const GroupTable *g);
extern void GroupKey(const GroupTable *g, int id, Datum *values, bool *nulls);
extern void PutTotals(AttributionRun *run, Tuplestorestate *store, TupleDesc desc);

/* attribution_shapley.c */
extern ShapleyGame *ShapleyGameCreate(const MarkovChain *chain, const int *weight);
extern void ShapleyWeights(ShapleyGame *game, int n, const int *channel_ids, int *counts,
						   double *w);
extern void ShapleyValues(ShapleyGame *game, int m, const int *channels, double *phi);

/* attribution_ci.c */
extern CiCollector *CiCollectorCreate(AttributionRun *run);
extern void CiAddLead(AttributionRun *run, int journey);
extern void CiAddConversion(AttributionRun *run, const Conversion *conv, const Touch *touches,
							int n, const double *w);
extern void CiRun(AttributionRun *run, int samples, double level, int64 seed,
				  Tuplestorestate *store, TupleDesc desc);

#endif /* ATTRIBUTION_INT_H */
