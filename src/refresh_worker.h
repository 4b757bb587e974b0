/*
 * refresh_worker.h — refresh_scores()'s walk run by a background worker that commits after each
 * batch (src/refresh_worker.c; doc/scoring.md, "Decay: the refresh"): the worker's entry point.
 */
#ifndef REFRESH_WORKER_H
#define REFRESH_WORKER_H

#include "postgres.h"

#include "fmgr.h"

/* The worker's entry point (bgw_function_name). */
extern PGDLLEXPORT void RefreshWorkerMain(Datum main_arg);

#endif /* REFRESH_WORKER_H */
