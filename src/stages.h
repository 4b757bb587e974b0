/*
 * stages.h — stage policy applied to every write of a lead row.
 */
#ifndef STAGES_H
#define STAGES_H

#include "postgres.h"

#include "attachment.h"
#include "funnel_stage.h"

/* A write of a lead row as the leads BEFORE trigger sees it, after scoring. */
typedef struct LeadWrite
{
	LeadsAttachment *leads;
	Datum lead_id;
	bool is_insert;
	FunnelStage old_stage; /* valid when !is_insert */
	FunnelStage new_stage; /* the stage the row is being written with */
	int32 old_score;	   /* valid when !is_insert */
	int32 new_score;	   /* the freshly computed score */
} LeadWrite;

/*
 * The stage to store: threshold promotion, disqualify_below for new leads and the
 * transition check.  Raises when the change is refused.
 */
extern FunnelStage StageForWrite(const LeadWrite *write);

#endif /* STAGES_H */
