/*
 * rescore_batch.h — rescoring many leads at once: a batch of leads locked in id order, or every
 * lead under a table lock (src/lead_touch.h describes the write paths).
 */
#ifndef RESCORE_BATCH_H
#define RESCORE_BATCH_H

#include "postgres.h"

#include "lead_touch.h"
#include "rules.h"

/*
 * Rescore leads given in id order (unique): lock them in that order, read their events after the
 * locks, rewrite those that change.  With 'fresh', leads_before carries the statement's new events
 * into the leads' states.  Leads that do not exist go to missing (when not NULL).  Returns how
 * many leads were rewritten.
 */
extern int64 RescoreBatch(RuleSet *rs, Datum *ids, int n, TimestampTz at, const NewEvents *fresh,
						  Datum *missing, int *nmissing);

/* Rescore every lead under an EXCLUSIVE lock on the leads table; returns how many were rewritten.
 */
extern int64 RescoreAll(void);

/* " COLLATE schema.name" for the lead id's collation, or "": lead ids compare in it. */
extern char *IdCollateClause(const LeadsAttachment *leads);

#endif /* RESCORE_BATCH_H */
