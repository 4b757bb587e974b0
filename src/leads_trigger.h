/*
 * leads_trigger.h — leads_before(), the leads table's BEFORE INSERT OR UPDATE row trigger, and the
 * same work called without the trigger manager by the executor-level rewrite of a lead row
 * (src/lead_rewrite.h; doc/internals.md, "Rewriting lead rows").
 */
#ifndef LEADS_TRIGGER_H
#define LEADS_TRIGGER_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/rel.h"

extern PGDLLEXPORT Datum leads_before(PG_FUNCTION_ARGS);

/*
 * What leads_before does for "UPDATE leads SET score = score" of the row version in 'locked'
 * (locked, of the leads table or a Citus shard of it), without a TriggerData: the new row in
 * 'newslot' (a virtual tuple, pointing into 'locked'), or false when the write is skipped (a touch
 * that changes nothing).  *after_idle: the row keeps its stage, so leads_after would do nothing for
 * it.  Run in a memory context reset after the row.
 */
extern bool LeadsBeforeDirect(Relation rel, TupleTableSlot *locked, TupleTableSlot *newslot,
							  bool *after_idle);

#endif /* LEADS_TRIGGER_H */
