/*
 * refresh.h — the walk of refresh_scores() and CALL refresh_online() (src/refresh.c), which
 * refresh_scores() runs in the refresh worker (src/refresh_worker.c) or in the caller's
 * transaction.
 */
#ifndef REFRESH_H
#define REFRESH_H

#include "postgres.h"

/* leads per batch of refresh_scores() (and refresh_online()'s default) */
#define REFRESH_BATCH 2000

/* Called between two batches of the walk: commits the batch (SPI connected non-atomic). */
typedef void (*RefreshBetweenBatches)(void);

/*
 * Walk every lead in id order, a batch at a time, rewriting those whose score, stage or state
 * changes; 'between' runs after each batch but the last (NULL: one transaction).  Returns how
 * many leads were rewritten.
 */
extern int64 RefreshWalk(int batch_size, RefreshBetweenBatches between);

/* An error unless the leads table has its engagement state column (0.2.0 schema). */
extern void RefreshCheckable(void);

#endif /* REFRESH_H */
