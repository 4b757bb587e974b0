/*
 * events_trigger.h — what the events statement trigger offers the check at commit of
 * src/rules_in_flight.c.
 */
#ifndef EVENTS_TRIGGER_H
#define EVENTS_TRIGGER_H

#include "postgres.h"

#include "rules.h"

/*
 * Rescore the given leads (any order, duplicates allowed) from their events under their row locks,
 * as an events statement does, leads not found included (lead_locks.h).  Runs as the extension
 * owner; 'one_by_one' on a Citus node: each lead through the rule set addressed to its shard there
 * (src/citus_rules.h).
 */
extern void RescoreLeadsFromEvents(RuleSet *rs, Datum *ids, int n, bool one_by_one);

#endif /* EVENTS_TRIGGER_H */
