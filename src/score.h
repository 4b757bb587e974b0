/*
 * score.h — the scoring formula of SPEC §3.
 */
#ifndef SCORE_H
#define SCORE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"

#include "attachment.h"

/* The score of the lead whose row is given, at time 'at' (fit rules on the row, engagement from its
 * events). */
extern int32 ScoreLead(LeadsAttachment *leads, HeapTuple lead_row, TupleDesc desc, TimestampTz at);

#endif /* SCORE_H */
