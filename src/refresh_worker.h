/*
 * refresh_worker.h — refresh_scores()'s walk run by a background worker that commits after each
 * batch (src/refresh_worker.c; doc/scoring.md, "Decay: the refresh").
 */
#ifndef REFRESH_WORKER_H
#define REFRESH_WORKER_H

#include "postgres.h"

#include "fmgr.h"

/*
 * Run the refresh walk (batches of 'batch_size') in a background worker that commits after each
 * batch, wait for it and set *rewritten; an error in the worker is raised here.  Returns false,
 * having done nothing, where the walk must run in the caller's transaction: inside a transaction
 * block, after the transaction wrote or locked rows, in a background worker, on a Citus
 * coordinator's distributed leads table, or when no background worker slot is free.
 */
extern bool RefreshInWorker(int batch_size, int64 *rewritten);

/* The worker's entry point (bgw_function_name). */
extern PGDLLEXPORT void RefreshWorkerMain(Datum main_arg);

#endif /* REFRESH_WORKER_H */
