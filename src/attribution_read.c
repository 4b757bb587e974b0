/*
 * attribution_read.c — reading conversions and touchpoints for attribution:
 * the queries over the canonical views, the lookback window, the choice of
 * reader (attribution_read_fast.c for the rule-based models,
 * attribution_read_sorted.c for the others), attributing one conversion
 * from its lead's touches (both readers), and solving the journey-based
 * models once every lead is read (doc/attribution.md, "How it runs").
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "nodes/params.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "attribution_int.h"
#include "catalog.h"
#include "clock.h"

/*
 * Start of the lookback window before t; false when the window reaches back
 * beyond the earliest representable time (then it has no lower bound).
 */
bool
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
void
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
const char *
TextBytes(Datum d, int *len)
{
	text *t = (text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));

	*len = VARSIZE_ANY_EXHDR(t);
	return VARDATA_ANY(t);
}

/* Order of two texts: shorter first, then bytewise (integer keys sort numerically). */
int
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

/* ------------------------------------------------------------------------
 * The queries
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
Oid
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
char *
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
			/* deals of leads that left are AttributeLeadlessDeals' (doc/crm_schemas.md) */
			appendStringInfo(&q,
							 " WHERE d.outcome OPERATOR(pg_catalog.=) 'won'"
							 " AND d.lead_id IS NOT NULL AND d.closed_at IS NOT NULL"
							 " AND EXISTS (SELECT FROM " LS_SCHEMA ".leads x"
							 " WHERE x.lead_id %s d.lead_id)",
							 eq);
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
			/* the leads there are: a lead that left is in no report's counts (doc/crm_schemas.md,
			 * "Leads that leave") */
			appendStringInfo(&q,
							 " WHERE s.lead_id IS NOT NULL AND s.reached_at IS NOT NULL"
							 " AND EXISTS (SELECT FROM " LS_SCHEMA ".leads x"
							 " WHERE x.lead_id %s s.lead_id)",
							 eq);
			conv_at = "s.reached_at";
			break;
	}
	if (bound_conv_from)
		appendStringInfo(&q, " AND %s OPERATOR(pg_catalog.>=) $2", conv_at);
	if (bound_to)
		appendStringInfo(&q, " AND %s OPERATOR(pg_catalog.<) $3", conv_at);
	return q.data;
}

/*
 * The query: every conversion of the run's kind (kind 0) with the lead's
 * creation and first-opportunity times, and the touchpoints (kind 1), ordered
 * by lead only (ProcessLead orders each lead's few rows; a single sort key
 * keeps the big sort cheap).  For the rule-based models only
 * the touches inside some conversion's window are read (a semi-join, so each
 * touch comes once); the journey-based models need every touch.  Parameters:
 * $1 = earliest touch, $2 = earliest conversion, $3 = end (exclusive) of
 * both, $4 = the lookback; each used only when its flag says so.
 */
char *
BuildQuery(const AttributionRun *run, bool journeys, bool bound_touch_from, bool bound_conv_from,
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
	if (!journeys)
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
bool
SameLead(const AttributionRun *run, Datum a, Datum b)
{
	if (datumIsEqual(a, b, run->lead_byval, run->lead_typlen))
		return true;
	return DatumGetInt32(FunctionCall2Coll(run->lead_cmp, run->lead_collation, a, b)) == 0;
}

#if PG_VERSION_NUM >= 140000

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
void
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

#endif

/*
 * Attribute one conversion of a lead whose touches, in order, are
 * run->touches[0..ntouch) (times in run->times): cut out its lookback window
 * (the whole path when whole_path: the query read exactly that window), find
 * its milestones and weights and emit it; a journey-based model's conversion
 * is held back until every journey is known.  Both readers call this.
 */
void
AttributeConversion(AttributionRun *run, Datum lead_id, const Conversion *conv, int ntouch,
					bool created_null, TimestampTz created, bool opportunity_null,
					TimestampTz opportunity, bool whole_path)
{
	TouchPath path;
	int lo, hi;

	if ((run->has_from && conv->at < run->from) || (run->has_to && conv->at >= run->to))
		return;
	if (whole_path)
	{
		lo = 0;
		hi = ntouch;
	}
	else
		WindowTouches(run, run->times, ntouch, conv->at, &lo, &hi);
	if (hi <= lo)
	{
		EmitConversion(run, lead_id, conv, NULL, 0, NULL);
		return;
	}
	if (JOURNEY_MODEL(run->model))
	{
		if (run->ci)
			CiAddConversion(run, conv, run->touches + lo, hi - lo, NULL);
		else
			StashConversion(run, lead_id, conv, run->touches + lo, hi - lo);
		return;
	}
	path.n = hi - lo;
	path.times = run->times + lo;
	path.converted_at = conv->at;
	path.created_index =
		LastTouchAtOrBefore(path.times, path.n, created_null ? DT_NOBEGIN : created);
	path.opportunity_index = LastTouchAtOrBefore(
		path.times, path.n, opportunity_null ? conv->at : Min(opportunity, conv->at));
	RuleBasedWeights(run->model, &path, run->half_life_usecs, run->weights);
	EmitConversion(run, lead_id, conv, run->touches + lo, path.n, run->weights);
}

/*
 * Won deals no lead can be credited for — without a lead (none, or deleted with ON DELETE SET NULL)
 * or whose lead left (not in lead_scoring.leads: outside the leads table's row filter, archived,
 * soft-deleted, merged away) — are conversions without touches: one row under "(none)" with the
 * whole value, so that the credits of every model sum to the won revenue of the period, as
 * manager_report counts it (doc/crm_schemas.md, "Leads that leave").  The bootstrap intervals
 * resample leads and leave them out.
 */
static void
AttributeLeadlessDeals(AttributionRun *run, bool bound_conv_from, bool bound_to, Oid *argtypes,
					   Datum *args, const char *argnulls)
{
	StringInfoData q;
	MemoryContext work = CurrentMemoryContext;
	uint64 i;

	if (run->kind != CK_DEAL || run->chain_only || run->ci)
		return;
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT %s, d.closed_at, d.amount, d.cost FROM " LS_SCHEMA ".deals d"
					 " WHERE d.outcome OPERATOR(pg_catalog.=) 'won' AND d.closed_at IS NOT NULL"
					 " AND (d.lead_id IS NULL OR NOT EXISTS (SELECT FROM " LS_SCHEMA ".leads x"
					 " WHERE x.lead_id %s d.lead_id))",
					 run->several_deal_tables
						 ? "d.source::pg_catalog.text OPERATOR(pg_catalog.||) ':' "
						   "OPERATOR(pg_catalog.||) d.deal_ref"
						 : "d.deal_ref",
					 QualifiedEqualityOperator(run->lead_type));
	if (bound_conv_from)
		appendStringInfoString(&q, " AND d.closed_at OPERATOR(pg_catalog.>=) $2");
	if (bound_to)
		appendStringInfoString(&q, " AND d.closed_at OPERATOR(pg_catalog.<) $3");
	appendStringInfoString(&q, " ORDER BY 1");
	if (SPI_execute_with_args(q.data, 4, argtypes, args, argnulls, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the won deals without a lead");
	MemoryContextSwitchTo(work);
	run->lead_null = true;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		Conversion conv;
		bool isnull;

		conv.id = SPI_getbinval(tup, desc, 1, &isnull);
		conv.at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		conv.value = SPI_getbinval(tup, desc, 3, &conv.value_null);
		conv.cost = SPI_getbinval(tup, desc, 4, &conv.cost_null);
		AttributeConversion(run, (Datum) 0, &conv, 0, true, 0, true, 0, true);
	}
	run->lead_null = false;
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Read the conversions and touchpoints and attribute them lead by lead; for
 * the journey-based models (and when only the chain is wanted) read every
 * lead's journey with one ordered query, then solve the model and emit the
 * conversions held back.
 */
void
RunAttribution(AttributionRun *run)
{
	MemoryContext work = CurrentMemoryContext;
	TypeCacheEntry *tc;
	Oid argtypes[4] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID};
	Datum args[4] = {0, 0, 0, IntervalPGetDatum(&run->lookback)};
	char argnulls[4] = {'n', 'n', 'n', ' '};
	bool journeys = JOURNEY_MODEL(run->model) || run->chain_only;
	bool bound_touch_from = false;
	bool bound_conv_from = false;
	bool bound_to = false;
	bool bound_lookback;
	char *query;
	int guc_level;

	run->lead_type = LeadIdType();
	if (run->kind == CK_DEAL && !run->chain_only)
	{
		bool isnull;

		if (SPI_execute("SELECT pg_catalog.count(*) FROM " LS_SCHEMA ".attachment"
						" WHERE kind OPERATOR(pg_catalog.=) 'deals' OR amount_column IS NOT NULL",
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
	 * The journeys need every lead's path whatever the period; the other
	 * models read only the conversions of the period and the touches that can
	 * be in their windows.
	 */
	if (!journeys)
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
	run->units = palloc(sizeof(int64) * run->touch_cap);
	run->fast_limit = NumericGetDatum(int64_to_numeric(INT64CONST(1) << 52));
	if (journeys)
		run->chain = MarkovChainCreate();
	if (journeys && !run->chain_only && !run->ci)
		StashCreate(run);

#if PG_VERSION_NUM >= 140000
	if (!journeys)
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
			AttributeLeadlessDeals(run, bound_conv_from, bound_to, argtypes, args, argnulls);
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
	query = BuildQuery(run, journeys, bound_touch_from, bound_conv_from, bound_to, bound_lookback);
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
	AttributeLeadlessDeals(run, bound_conv_from, bound_to, argtypes, args, argnulls);
	MemoryContextSwitchTo(work);

	if (run->chain)
	{
		int nchannels = Max(MarkovChannelCount(run->chain), 1);

		run->counts = palloc0(sizeof(int) * nchannels);
		run->removal_effect = palloc0(sizeof(double) * nchannels);
		if (run->model == AM_SHAPLEY && !run->chain_only)
			run->shapley = ShapleyGameCreate(run->chain, NULL);
		else
			MarkovRemovalEffects(run->chain, run->markov_order, NULL, &run->p_conversion,
								 run->removal_effect);
		if (run->stash)
		{
			EmitStash(run);
			tuplestore_end(run->stash);
			run->stash = NULL;
		}
	}
}
