/*
 * deals.c — deal triggers moving leads to opportunity, customer or lost.
 * (Placeholder until the stage engine lands.)
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

PG_FUNCTION_INFO_V1(deals_changed);
Datum
deals_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("deals_changed() must be called as a trigger")));
	return PointerGetDatum(NULL);
}
