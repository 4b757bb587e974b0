/*
 * triggers.h — what the scoring triggers offer the other write paths (src/refresh.c).
 */
#ifndef TRIGGERS_H
#define TRIGGERS_H

#include "postgres.h"

#include "rules.h"

/*
 * Lock the given leads (ids unique, in id order) and rewrite each through leads_before, which
 * carries its engagement state forward (or rebuilds it) and skips leads that would not change.
 * SPI must be connected.  Returns how many leads were rewritten.
 */
extern uint64 TouchLeads(RuleSet *rs, Datum *ids, int n);

/* " COLLATE schema.name" for the lead id's collation, or "": lead ids compare in it. */
extern char *IdCollateClause(const LeadsAttachment *leads);

#endif /* TRIGGERS_H */
