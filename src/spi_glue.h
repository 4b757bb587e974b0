/*
 * spi_glue.h — connecting to SPI, keeping plans and running a statement with the latest snapshot,
 * written once (src/spi_glue.c).
 */
#ifndef SPI_GLUE_H
#define SPI_GLUE_H

#include "postgres.h"

#include "executor/spi.h"

/* SPI_connect(), or an error. */
extern void LsSpiConnect(void);
extern void LsSpiConnectExt(int options); /* SPI_connect_ext's options (SPI_OPT_NONATOMIC) */

/*
 * Prepare a statement and keep its plan for the backend's life (until SPI_freeplan); with
 * 'generic', always the generic plan (the statements of the triggers take a batch of ids as an
 * array: a custom plan that sees its length can hash a whole table for a few thousand ids).
 */
extern SPIPlanPtr LsKeepPlan(const char *sql, int nargs, Oid *argtypes, bool generic);
/* The same with SPI_prepare_cursor's options (CURSOR_OPT_CUSTOM_PLAN: each execution planned). */
extern SPIPlanPtr LsKeepPlanWith(const char *sql, int nargs, Oid *argtypes, int cursor_options);

/*
 * Run a statement once (SPI connected) with the latest snapshot, not the transaction's: it sees
 * what other sessions committed since, and this transaction's own earlier commands.  Returns
 * SPI_execute_snapshot's result code.
 */
extern int LsExecuteLatest(const char *sql, int nargs, Oid *argtypes, Datum *values,
						   const char *nulls, bool read_only, long count);

#endif /* SPI_GLUE_H */
