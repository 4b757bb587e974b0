/*
 * lead_touch.h — touches: the UPDATEs of lead rows this module issues (and their plans), and what
 * leads_before (src/leads_trigger.c) is told about them.
 *
 * Every score that is stored is computed after the lead's row is locked, from
 * a snapshot taken after the lock: two transactions that add events to the
 * same lead serialise on the row lock, and the second one sees the first
 * one's events.  Three write paths, all going through the leads BEFORE
 * trigger (so the stage policy, StageForWrite, sees every write):
 *
 * - leads_before (BEFORE INSERT OR UPDATE, per row) scores the row being
 *   written: fit rules on the row, engagement from the lead's events (read
 *   after the row lock, which the executor took before firing the trigger).
 * - touching one lead: "UPDATE leads SET score = score WHERE id = $1" marked
 *   as a touch, so leads_before may skip the write (return NULL, keeping only
 *   the row lock) when neither score nor stage would change.  Used by
 *   rescore(lead) and by statements that affect a few leads.
 * - batches (src/rescore_batch.c): lock the leads in id order (SELECT ... ORDER BY ... FOR NO KEY
 *   UPDATE), read all their events with one ordered query per events table,
 *   compute the scores in C and rewrite only the leads whose score or stage
 *   changes, with one UPDATE whose leads_before takes the computed engagement
 *   instead of reading the events again.  Used by statements that affect many
 *   leads (multi-row INSERT, COPY) and, with a table lock instead of row
 *   locks and one pass over all events, by rescore_all() and refresh_scores().
 *
 * Events that match no engagement rule cannot change any score: the events
 * trigger (src/events_trigger.c) drops them before anything is locked or read.
 *
 * The touches rewrite their rows without an UPDATE statement where the two cannot differ
 * (RewriteTouch, src/lead_rewrite.h): each lead is found, locked and written in id order, through
 * the same row triggers; a touch that only locked and rewrote its leads (TouchLeads, a batch
 * carrying new events) needs no separate lock query then.  Elsewhere the UPDATE runs, after the
 * lock query where there is one.
 */
#ifndef LEAD_TOUCH_H
#define LEAD_TOUCH_H

#include "postgres.h"

#include "executor/spi.h"

#include "lead_rewrite.h"
#include "rules.h"

/* The rows an INSERT statement added that match a rule, per lead (in the batch's id order). */
typedef struct NewEvent
{
	TimestampTz time;
	int32 next; /* the lead's next new event, -1 at the end */
} NewEvent;

typedef struct NewEvents
{
	int source; /* the events table the statement wrote */
	NewEvent *events;
	uint64 *bits; /* the rules each event matches, rs->nwords words each */
	int n;
	int cap;
	int32 *nrows; /* per lead of the batch: the statement's rows for the lead, */
	int32 *first; /* and its first new event */
} NewEvents;

/* The leads an UPDATE issued by this module rewrites, in id order. */
typedef struct Touch
{
	int n;
	Datum *ids;
	double *engagement; /* computed under the row lock, or NULL: leads_before reads the events */
	int64 *fit;			/* fit points of the locked rows, or NULL: leads_before computes them */
	Datum *states;		/* with engagement: the states counted with it (bytea), or NULL */
	bool rebuild;		/* re-read the leads' events: the state cannot be carried */
	const NewEvents *fresh; /* the statement's new events of the leads, carried into their states */
	int fresh_base;			/* lead i of the touch is lead fresh_base + i of fresh */
	bool seen;				/* (one lead) leads_before ran for it */
	int32 score;			/* (one lead) the score it computed */
	Oid leads_relid;		/* the leads table, written as its owner */
	uint64 rules_fp;		/* RuleSet.all_fingerprint of the rules the above were computed under */
	int last;				/* the lead TouchedLead found last, or -1 */
} Touch;

/*
 * The plans of the touches, prepared and kept with the rule set (created on first use; SPI must be
 * connected): the lock query of a batch, SELECT k.n, score, stage, state, fit columns ... FOR NO
 * KEY UPDATE of the leads $1 (an array) in its order; UPDATE ... SET score = $2[i] of leads $1
 * (UpdatePlan), SET score = score of lead $1 (TouchPlan), of the leads = ANY ($1) (TouchManyPlan).
 */
extern SPIPlanPtr LockPlan(RuleSet *rs);
extern SPIPlanPtr UpdatePlan(RuleSet *rs);
extern SPIPlanPtr TouchPlan(RuleSet *rs);
extern SPIPlanPtr TouchManyPlan(RuleSet *rs);
/* The state column as a select-list item of the leads table aliased l (NULL on a 0.1.0 schema). */
extern const char *LsStateSelect(const LeadsAttachment *l);

/* A touch of n leads (ids) under the rule set rs, nothing else set. */
extern void TouchInit(Touch *t, const RuleSet *rs, Datum *ids, int n);

/* The touch being executed (leads_before reads it), or NULL. */
extern Touch *current_touch;

/* The index of a lead in the current touch, or -1. */
extern int TouchedLead(const LeadsAttachment *leads, Datum id);

/* Run a prepared UPDATE of lead rows as touch t (SPI connected). */
extern void ExecuteTouch(Touch *t, SPIPlanPtr plan, Datum *args);

/*
 * Rewrite the leads of touch t without an UPDATE statement (src/lead_rewrite.h); false, having done
 * nothing, where the caller must run its UPDATE.
 */
extern bool RewriteTouch(Touch *t, const LeadsAttachment *leads, const LeadRewriteArgs *args,
						 uint64 *rewritten);

/*
 * Rescore one lead through leads_before; false when there is no such lead.  With 'fresh', the
 * statement's new events of the lead (its index there is fresh_index) are carried into its state;
 * with 'rebuild', its events are re-read.
 */
extern bool TouchLead(RuleSet *rs, Datum id, int32 *score, const NewEvents *fresh, int fresh_index,
					  bool rebuild);

/*
 * The fit points a caller computed for the leads of TouchLeads from rows it read without a lock,
 * with the fit columns it computed them from (rs->nfit_atts per lead, in the order of
 * rs->fit_select): reused for each lead whose locked row still holds the same column values
 * (same bytes), recomputed from the locked row otherwise.
 */
typedef struct KnownFit
{
	const int64 *fit;
	const Datum *values;
	const bool *nulls;
	const ItemPointerData *tids; /* (or NULL) where the rows were read: LeadRewriteArgs.tids */
} KnownFit;

/*
 * Lock the given leads (ids unique, in id order) and rewrite each through leads_before, which
 * carries its engagement state forward (or rebuilds it) and skips leads that would not change.
 * 'known' (or NULL): fit points already computed for the leads.  SPI must be connected.
 * Returns how many leads were rewritten.
 */
extern uint64 TouchLeads(RuleSet *rs, Datum *ids, int n, const KnownFit *known);

#endif /* LEAD_TOUCH_H */
