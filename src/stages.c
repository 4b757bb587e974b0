/*
 * stages.c — stage policy and the stage_change log.  (Placeholder until the
 * stage engine lands: stages are stored as written and nothing is logged.)
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"

#include "stages.h"

FunnelStage
StageForWrite(const LeadWrite *write)
{
	return write->new_stage;
}

PG_FUNCTION_INFO_V1(leads_after);
Datum
leads_after(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("leads_after() must be called as a trigger")));
	return PointerGetDatum(NULL);
}
