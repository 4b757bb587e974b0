/*
 * lead_rewrite.h — rewriting lead rows in id order through their triggers, at executor level
 * (doc/internals.md, "Rewriting lead rows").
 *
 * What "UPDATE leads SET score = score WHERE id = $1" (or "SET score = $2") does for each lead,
 * without an SQL statement: find the row by the unique id index with a statement snapshot, lock it
 * (following its update chain under READ COMMITTED, a serialization failure under REPEATABLE READ
 * and SERIALIZABLE when it changed after the snapshot), fire the table's BEFORE ROW UPDATE
 * triggers (leads_before among them; NULL skips the row), compute stored generated columns, check
 * constraints, write the new version, insert index entries when it is not HOT, and queue the
 * AFTER ROW UPDATE triggers, which fire when the rewrite ends, as after a statement.
 * What the rewrite keeps across statements (the triggers' compiled WHEN conditions, the id index)
 * is in src/rewrite_cache.h.
 *
 * Where that would differ from the UPDATE it replaces, LeadRewrite does nothing and returns false,
 * and the caller runs its SQL: a table that is not a plain heap table (partitioned, a partition, a
 * parent of inheritance children, another table access method, a Citus table seen from the
 * coordinator), one with rules, with statement-level UPDATE triggers or transition tables, with
 * row-level security in force for the writing role, or without a unique, immediate, non-partial
 * btree index on the id column alone; and everywhere when lead_scoring.direct_rewrite is off.
 */
#ifndef LEAD_REWRITE_H
#define LEAD_REWRITE_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/rel.h"

#include "attachment.h"

/* Called with each lead's row once it is locked, before its triggers fire. */
typedef void (*LeadLockedFn)(void *arg, int lead, TupleTableSlot *row);

typedef struct LeadRewriteArgs
{
	const Datum *ids; /* the leads, unique, in id order */
	int n;
	const int32 *scores; /* the score column's new values, or NULL: the score as it is */
	/* (or NULL) where the caller saw each lead's row (or an invalid tid): used when that version
	 * is still the one the statement's snapshot sees, else the lead is found by the id index */
	const ItemPointerData *tids;
	bool *found;		 /* (or NULL) set for each lead found and locked */
	LeadLockedFn locked; /* (or NULL) */
	void *arg;
} LeadRewriteArgs;

/* Defines the setting lead_scoring.direct_rewrite (from _PG_init). */
extern void LeadRewriteInit(void);

/*
 * The extension's own row triggers of the leads table (src/leads_trigger.h, src/stages.c), given
 * from _PG_init: 'before' and 'after' are their functions, by which they are recognised among the
 * table's triggers; 'direct' does the BEFORE trigger's work for a rewrite without the trigger
 * manager (see LeadsBeforeDirect), and says whether the AFTER trigger would do nothing for the row.
 * Where 'before' is the table's only row-level BEFORE UPDATE trigger, has no WHEN condition or
 * column list and fires in the session's replication role, a rewrite that keeps the score as it
 * is calls 'direct' instead of firing it: the new row is formed once, when it is written; and
 * where every row-level AFTER UPDATE trigger is 'after' with nothing to do, none is queued
 * (doc/internals.md, "Rewriting lead rows").
 */
typedef bool (*LeadBeforeDirectFn)(Relation rel, TupleTableSlot *locked, TupleTableSlot *newslot,
								   bool *after_idle);
extern void LeadRewriteOwnTriggers(PGFunction before, PGFunction after, LeadBeforeDirectFn direct);

/*
 * Rewrite the leads of 'leads' (the table, or the Citus shard a trigger fired on) as described
 * above, as the current user; *rewritten is how many rows were written (not skipped by a BEFORE
 * trigger).  False, having done nothing, where the rewrite must be an UPDATE statement.
 */
extern bool LeadRewrite(const LeadsAttachment *leads, const LeadRewriteArgs *args,
						uint64 *rewritten);

#endif /* LEAD_REWRITE_H */
