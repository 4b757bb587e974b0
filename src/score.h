/*
 * score.h — the scoring formula of doc/scoring.md ("The score") and the reading of a lead's row and
 * events.
 *
 *   fit(L)          = sum of the points of the active fit rules that match L's row
 *   engagement(L,t) = sum over engagement rules r of clamp(sum over the first max_hits events e
 *                     of L matching r with e.time <= t of points * 0.5^((t - e.time) / half_life),
 *                     -max_points, max_points)
 *   score(L,t)      = clamp(round(fit + engagement), score_floor, score_ceiling)
 *
 * Events are taken in the order (time, events table, primary key), so the sums are computed in
 * the same order on every path and a stored score equals the score recomputed later.
 */
#ifndef SCORE_H
#define SCORE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "storage/buf.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#include "attachment.h"
#include "rules.h"

struct LeadState;

/* What one rule contributed to a lead's score (for explain). */
typedef struct RuleOutcome
{
	int32 hits;
	double points;
} RuleOutcome;

/* One event that matched at least one engagement rule. */
typedef struct ScoredEvent
{
	int32 lead;	  /* index of the lead in the batch */
	int32 source; /* index of the events table in the rule set */
	int64 seq;	  /* position in that table's (time, primary key) order */
	TimestampTz time;
	int32 bits; /* offset of the event's rule bitmap */
} ScoredEvent;

/* The matching events of a batch of leads, collected from any number of queries. */
typedef struct EventSet
{
	RuleSet *rs;
	MemoryContext cxt;	   /* the arrays */
	MemoryContext scratch; /* per-row evaluation, reset after each row */
	int n;
	int cap;
	ScoredEvent *ev;
	uint64 *bits;
} EventSet;

extern void EventSetInit(EventSet *es, RuleSet *rs);
extern void EventSetClear(EventSet *es);
extern void EventSetFree(EventSet *es);
/* Add an event row: columns type_col, type_col + 1 are its type (text) and time (timestamptz),
 * the next ones the source's predicate columns. */
extern void EventSetAdd(EventSet *es, int lead, int source, int64 seq, HeapTuple tup,
						TupleDesc desc, int type_col);
/*
 * The engagement of leads 0 .. nleads-1 at 'at', counting the events up to 'cutoff' (events
 * between 'at' and 'cutoff' count in full); outcomes (rs->neng entries) for a single lead.
 */
extern void EventSetEngagement(EventSet *es, int nleads, TimestampTz at, TimestampTz cutoff,
							   double *engagement, RuleOutcome *outcomes, struct LeadState *states);

/*
 * The cutoff of a write: the later of 'at' and the current time, read after the lead's row is
 * locked and the snapshot taken.  A transaction that started before another one's event (stamped
 * with that one's now()) but writes after it committed counts that event.
 */
extern TimestampTz WriteCutoff(TimestampTz at);

/* Reading events straight from a lead index (plain tables with one). */
typedef struct DirectReader
{
	EventSet *es;
	int source;
	Relation heap;
	Relation index;
	struct IndexScanDescData *scan;
	TupleTableSlot *slot;
	Buffer vmbuffer; /* visibility map page, for index-only reading */
	Datum *ivalues;	 /* an index tuple's values */
	bool *inulls;
	MemoryContext cxt;
	uint64 *bits;
} DirectReader;

/* False when the source cannot be read this way (then SQL reads it). */
extern bool DirectReaderOpen(DirectReader *dr, EventSet *es, int source, Snapshot snapshot);
extern void DirectReaderRead(DirectReader *dr, int lead, Datum lead_id);
extern void DirectReaderClose(DirectReader *dr);

/* Whether an events-table row (of the table's own row type) matches an engagement rule; if so,
 * the rules it matches (rs->nwords words) and its time. */
extern bool EventRowRules(RuleSet *rs, int source, TupleTableSlot *slot, MemoryContext scratch,
						  uint64 *bits, TimestampTz *time);
/* Add an event whose rules are known. */
extern void EventSetAppend(EventSet *es, int lead, int source, int64 seq, TimestampTz time,
						   const uint64 *bits);
/* How many entries the lead index has for a lead (live or not; no heap access). */
extern int64 DirectReaderCount(DirectReader *dr, Datum lead_id);

/* Fit points from the values of rs->fit_atts (in that order). */
extern int64 FitPoints(RuleSet *rs, const Datum *values, const bool *nulls, RuleOutcome *outcomes);

/* The engagement of one lead at 'at', reading its events: with a new snapshot and the write's
 * cutoff when fresh (the trigger paths), else with the query's snapshot up to 'at'; with the
 * lead's engagement state built from them when state is not NULL. */
extern double LeadEngagement(RuleSet *rs, Datum lead_id, TimestampTz at, bool fresh,
							 RuleOutcome *outcomes, struct LeadState *state);

/* round half away from zero, then score_floor and score_ceiling. */
extern int32 FinalScore(double unrounded);

/* The source index of an events table in the rule set, or -1. */
extern int RuleSetSource(RuleSet *rs, Oid relid);

/*
 * Prepared and kept plans of the rule set that read what a score is computed from (created on
 * first use; SPI must be connected); the plans that lock and rewrite lead rows are the touches'
 * (src/lead_touch.h).  The fit columns of lead $1:
 */
extern SPIPlanPtr LeadRowPlan(RuleSet *rs);
/* the events of leads $1 (an array, k.n their position): k.n, the select list of the source */
extern SPIPlanPtr BatchEventsPlan(RuleSet *rs, int source);
/* Arguments $2 of the event queries: the event types to read. */
extern Datum EventTypesArg(RuleSet *rs, char *null);

#endif /* SCORE_H */
