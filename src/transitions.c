/*
 * transitions.c — which stage changes are allowed.
 *
 * The built-in matrix encodes the funnel's rules; rows of
 * lead_scoring.transition_override add or remove edges.  The effective matrix
 * is cached per backend and rebuilt after the override table changes: a
 * statement trigger on the table (config_changed) sends a relcache
 * invalidation for it, which reaches this backend's callback at the next
 * command and every other backend when the change commits.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/inval.h"

#include "config_cache.h"
#include "funnel_stage.h"
#include "lead_scoring.h"

static ConfigCache overrides = CONFIG_CACHE("transition_override");
static bool effective[FS_COUNT][FS_COUNT];

bool
TransitionBuiltin(FunnelStage from, FunnelStage to)
{
	if (from == to)
		return false;
	/* any forward move along new → … → customer, skipping allowed */
	if (from <= FS_CUSTOMER && to <= FS_CUSTOMER && from < to)
		return true;
	/* sales returns the lead to marketing */
	if (to == FS_RECYCLED)
		return from == FS_SAL || from == FS_SQL || from == FS_OPPORTUNITY || from == FS_LOST;
	if (from == FS_RECYCLED && (to == FS_MQL || to == FS_SAL))
		return true;
	/* any open lead can be closed as junk or lost */
	if ((to == FS_DISQUALIFIED || to == FS_LOST) && !FunnelStageIsTerminal(from))
		return true;
	return false;
}

void
TransitionsInit(void)
{
	ConfigCacheRegister(&overrides);
}

/* Rebuild the effective matrix from the built-in rules and the override table. */
static void
LoadOverrides(void)
{
	uint64 i;
	int f, t;

	for (f = 0; f < FS_COUNT; f++)
		for (t = 0; t < FS_COUNT; t++)
			effective[f][t] = TransitionBuiltin(f, t);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (ConfigCacheQuery(
			"SELECT lead_scoring.stage_rank(from_stage), lead_scoring.stage_rank(to_stage), allowed"
			" FROM lead_scoring.transition_override") != SPI_OK_SELECT)
		elog(ERROR, "could not read lead_scoring.transition_override");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool isnull;
		int32 from = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		int32 to = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		bool allowed = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));

		if (!isnull && from >= 0 && from < FS_COUNT && to >= 0 && to < FS_COUNT && from != to)
			effective[from][to] = allowed;
	}
	SPI_finish();
}

bool
TransitionAllowed(FunnelStage from, FunnelStage to)
{
	if (from == to)
		return false;
	ConfigCacheEnsure(&overrides, LoadOverrides);
	return effective[from][to];
}

PG_FUNCTION_INFO_V1(can_transition);
Datum
can_transition(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(TransitionAllowed(PG_GETARG_FUNNEL_STAGE(0), PG_GETARG_FUNNEL_STAGE(1)));
}

/*
 * config_changed(): statement trigger on the extension's configuration tables.
 * Sends a relcache invalidation for the table so every backend's cache of it
 * is rebuilt before its next use (this backend's at the next command, the
 * others' once the change commits).
 */
PG_FUNCTION_INFO_V1(config_changed);
Datum
config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("config_changed() must be called as a trigger")));
	if (!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("config_changed() must be fired AFTER ... FOR EACH STATEMENT")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}
