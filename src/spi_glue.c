/*
 * spi_glue.c — connecting to SPI, keeping plans, running a statement with the latest snapshot
 * (see spi_glue.h).
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/snapmgr.h"

#include "spi_glue.h"

void
LsSpiConnect(void)
{
	LsSpiConnectExt(0);
}

void
LsSpiConnectExt(int options)
{
	if (SPI_connect_ext(options) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

SPIPlanPtr
LsKeepPlan(const char *sql, int nargs, Oid *argtypes, bool generic)
{
	return LsKeepPlanWith(sql, nargs, argtypes, generic ? CURSOR_OPT_GENERIC_PLAN : 0);
}

SPIPlanPtr
LsKeepPlanWith(const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	SPIPlanPtr plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%s\"", sql);
	return plan;
}

int
LsExecuteLatest(const char *sql, int nargs, Oid *argtypes, Datum *values, const char *nulls,
				bool read_only, long count)
{
	SPIPlanPtr plan = SPI_prepare(sql, nargs, argtypes);
	int rc;

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(), InvalidSnapshot, read_only,
							  false, count);
	SPI_freeplan(plan);
	return rc;
}
