/*
 * score.c — the scoring formula.  (Placeholder until the rule engine lands:
 * every lead scores 0.)
 */
#include "postgres.h"

#include "score.h"

int32
ScoreLead(LeadsAttachment *leads, HeapTuple lead_row, TupleDesc desc, TimestampTz at)
{
	return 0;
}
