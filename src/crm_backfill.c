/*
 * crm_backfill.c — the writes attach makes to the CRM's past (doc/crm_schemas.md, "Attaching a CRM
 * with history"): leads moved to the stage their CRM stage or their deals give them.
 *
 * The leads table is written as every write of the extension writes a CRM table (run_as.h): as the
 * table's owner in a security-restricted operation, with the search_path of the attach call's
 * caller, so that the CRM's own triggers run as they always do and never with the rights of the
 * DBA who attaches.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "attachment.h"
#include "run_as.h"
#include "spi_glue.h"

PG_FUNCTION_INFO_V1(backfill_stages);

/*
 * backfill_stages(ids text[], stages text[]): set each lead (its id as text) to the stage at the
 * same position; returns how many rows were written.  Internal to attach_leads and attach_deals.
 */
Datum
backfill_stages(PG_FUNCTION_ARGS)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	Datum args[2];
	Oid types[2] = {TEXTARRAYOID, TEXTARRAYOID};
	const char *previous;
	LsSavedUser saved;
	uint64 written = 0;
	char *sql;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_INT64(0);
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	/* the stage is assigned from text (an assignment cast): no name of the extension's schema */
	sql = psprintf(
		"UPDATE %s l SET %s = v.stage FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))"
		" AS v(id, stage)"
		" WHERE l.%s::pg_catalog.text OPERATOR(pg_catalog.=) v.id",
		leads->qualname, leads->stage_col, leads->id_col);
	previous = LsPushCallerSearchPath();
	PG_TRY();
	{
		LsBeginTableWrite(leads->relid, &saved);
		LsSpiConnect();
		if (SPI_execute_with_args(sql, 2, types, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not write the stages found at attach");
		written = SPI_processed;
		SPI_finish();
		LsEndTableWrite(&saved);
	}
	PG_FINALLY();
	{
		LsPopCallerSearchPath(previous);
	}
	PG_END_TRY();
	PG_RETURN_INT64((int64) written);
}
