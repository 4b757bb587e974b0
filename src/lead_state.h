/*
 * lead_state.h — the per-lead engagement state carried in the leads row's lead_scoring_state
 * column (doc/scoring.md, "The engagement state").
 *
 * Per engagement rule (in the rule set's order): how many events it counted, the time of the
 * latest one and the decayed sum anchored at that time; per lead: the earliest matching event
 * not yet counted because it lies in the future, the fingerprints of the rules the state was
 * counted under and of the configuration the stored score was computed under, and the lead's fit
 * points with the key of the row's fit columns they were computed from.
 */
#ifndef LEAD_STATE_H
#define LEAD_STATE_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "rules.h"

/* A carried value closer than this to a rounding boundary (x.5) is recomputed from the events. */
#define LS_STATE_ROUNDING_GUARD 1e-6

typedef struct RuleState
{
	int32 hits;
	TimestampTz last; /* time of the latest counted event (when hits > 0) */
	double sum;		  /* sum of points * 0.5^((last - t) / half_life) over the counted events */
} RuleState;

typedef struct LeadState
{
	uint64 rules_fp;	 /* RuleSet.eng_fingerprint the state was counted under */
	uint64 config_fp;	 /* LsConfigFingerprint() of the stored score */
	TimestampTz pending; /* earliest matching event after the state's cutoff, DT_NOEND if none */
	TransactionId built_xid; /* the transaction that counted it from the events (full re-read) */
	int64 fit;				 /* the lead's fit points, valid when fit_key is not 0, */
	uint64 fit_key;			 /* LeadStateFitKey of the row and configuration they came from */
	int nrules;
	RuleState *rules;
} LeadState;

/* An empty state for the current rules, to be counted from the lead's events by this transaction
 * (rules allocated in the current memory context). */
extern void LeadStateInit(LeadState *st, RuleSet *rs);
/* Decode a stored state; false when NULL, malformed or counted under other rules. */
extern bool LeadStateDecode(RuleSet *rs, Datum value, bool isnull, LeadState *st);
/* The stored form, with the current configuration's fingerprint. */
extern bytea *LeadStateEncode(RuleSet *rs, const LeadState *st);

/* Count an event of rule r at time t (events in time order when building); false when the state
 * cannot take it (it displaces an event counted under max_hits). */
extern bool LeadStateCount(RuleSet *rs, LeadState *st, int r, TimestampTz t);
/* Apply a new event matching the rules in bits, for a write whose cutoff is 'cutoff'. */
extern bool LeadStateApply(RuleSet *rs, LeadState *st, TimestampTz t, const uint64 *bits,
						   TimestampTz cutoff);
/* The engagement at 'at' (events up to 'cutoff' count); false when the state cannot say. */
extern bool LeadStateEngagement(RuleSet *rs, const LeadState *st, TimestampTz at,
								TimestampTz cutoff, double *engagement);
/* Whether an unrounded score carried forward is too close to a rounding boundary to round. */
extern bool LeadStateNearRounding(double unrounded);

/* Whether the state was counted from the events by the current transaction: its new events may
 * already be in it (a statement's rows seen by a re-read that ran before its trigger). */
extern bool LeadStateBuiltHere(const LeadState *st);
/* Whether two stored states are the same but for the transaction that built them. */
extern bool LeadStateSame(Datum a, Datum b);

/*
 * The key of a row's fit columns (values/nulls in the order of rs->fit_atts) under the current
 * configuration: a 64-bit hash of their bytes and of LsConfigFingerprint, never 0; 0 when a
 * column's value is toasted (its bytes are not its value) and on a leads table without the state
 * column.
 */
extern uint64 LeadStateFitKey(RuleSet *rs, const Datum *values, const bool *nulls);
/* The fit points a stored state (may be NULL) holds for the row whose key is 'key' (not 0). */
extern bool LeadStateStoredFit(Datum value, bool isnull, uint64 key, int64 *fit);

/* The fingerprint of everything a stored score depends on besides the lead's data. */
extern uint64 LsConfigFingerprint(RuleSet *rs);
/* Whether a stored state (may be NULL) belongs to a score computed under the current config. */
extern bool LeadStateIsCurrent(RuleSet *rs, Datum value, bool isnull);

#endif /* LEAD_STATE_H */
