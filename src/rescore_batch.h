/*
 * rescore_batch.h — rescoring many leads at once: a set of leads (one by one, or in batches locked
 * in id order), or every lead under a table lock (src/lead_touch.h describes the write paths).
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

/*
 * Rescore the leads of a statement (ids unique, in id order) through leads_before, one by one or
 * in batches: with 'fresh', carrying the statement's new events into their states, else
 * re-reading their events ('rebuild' says so for the one-by-one path).  A lead not found may be
 * being inserted: wait for such inserts (lead_locks.h), then look again.  'one_by_one': lead by
 * lead whatever their number.  Runs as the extension owner.
 */
extern void RescoreStatementLeads(RuleSet *rs, Datum *ids, int n, const NewEvents *fresh,
								  bool rebuild, bool one_by_one);

/*
 * Rescore the given leads (any order, duplicates allowed) from their events under their row locks,
 * as an events statement does, leads not found included (lead_locks.h).  Runs as the extension
 * owner; 'one_by_one' on a Citus node: each lead through the rule set addressed to its shard there
 * (src/citus_rules.h).
 */
extern void RescoreLeadsFromEvents(RuleSet *rs, Datum *ids, int n, bool one_by_one);

/* Rescore every lead under an EXCLUSIVE lock on the leads table; returns how many were rewritten.
 */
extern int64 RescoreAll(void);

/* " COLLATE schema.name" for the lead id's collation, or "": lead ids compare in it. */
extern char *IdCollateClause(const LeadsAttachment *leads);

#endif /* RESCORE_BATCH_H */
