/*
 * stage_log_batch.h — the stage changes of a batch rewrite of lead rows logged with one INSERT per
 * batch instead of one per lead (src/stage_log_batch.c; doc/internals.md, "The stage log of a
 * batch rewrite").
 */
#ifndef STAGE_LOG_BATCH_H
#define STAGE_LOG_BATCH_H

#include "postgres.h"

#include "commands/trigger.h"
#include "utils/timestamp.h"

#include "attachment.h"
#include "funnel_stage.h"

typedef struct StageLogBatch StageLogBatch;

/* Whether a lead is one of the batch's (the rewrite's own leads: src/lead_touch.h). */
typedef bool (*StageLogBatchLead)(const LeadsAttachment *leads, Datum id);

/*
 * Collect the stage_change rows of the rewrite about to run (of the leads in_batch accepts)
 * instead of inserting them one by one; returns the batch collecting before, to hand to
 * StageLogBatchEnd.
 */
extern StageLogBatch *StageLogBatchBegin(StageLogBatchLead in_batch);

/* Insert the rows collected since StageLogBatchBegin (with 'flush'), and collect as before it. */
extern void StageLogBatchEnd(StageLogBatch *outer, bool flush);

/*
 * leads_after's row for an UPDATE of a lead that changed its stage from 'from' to 'to': collected
 * (true), or false when it must be inserted now.  Strings are copied.
 */
extern bool StageLogBatchAdd(TriggerData *td, const LeadsAttachment *leads, Datum id,
							 FunnelStage from, FunnelStage to, int32 score, bool score_null,
							 const char *actor, const char *reason, const char *owner,
							 TimestampTz at);

#endif /* STAGE_LOG_BATCH_H */
