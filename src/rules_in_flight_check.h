/*
 * rules_in_flight_check.h — the check at commit of a transaction whose events statements filtered
 * rows under rules that a rule change replaced before it commits (src/rules_in_flight.h describes
 * the whole; doc/scoring.md, "Concurrency"): a rule change's commit and a writer's check are
 * serialised by a lock taken only then, and the writer's uncounted leads are rescored when the
 * engagement rules it filtered with are no longer the current ones.
 */
#ifndef RULES_IN_FLIGHT_CHECK_H
#define RULES_IN_FLIGHT_CHECK_H

#include "postgres.h"

/* field4 of the advisory lock tag of that lock (lead_locks.h uses LEAD_LOCK_CLASS) */
#define RULES_LOCK_CLASS 0x4C54

/* Register the transaction callback that runs the check (once per backend, from _PG_init). */
extern void RulesInFlightCheckInit(void);

#endif /* RULES_IN_FLIGHT_CHECK_H */
