/*
 * stages.h — stage policy applied to every write of a lead row, and the
 * deal-driven moves that go through it.
 */
#ifndef STAGES_H
#define STAGES_H

#include "postgres.h"

#include "fmgr.h"

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
	bool crm_move;		   /* new_stage comes from the CRM's own stage (crm_stage_column) */
	bool outside;		   /* the row is outside the leads row filter: no promotion */
} LeadWrite;

/*
 * Whether a row of the leads table is outside its row_filter (archived, soft-deleted, merged away):
 * such a row is not scored, promoted or announced (doc/crm_schemas.md, "Row filters").
 */
extern bool LsLeadOutsideFilter(const LeadsAttachment *leads, TupleDesc desc, HeapTuple row);

/*
 * The stage to store: a deal-driven move when allowed, else the writer's own
 * change checked by can_transition (raising when refused), else
 * disqualify_below for a new lead or threshold promotion.
 */
extern FunnelStage StageForWrite(const LeadWrite *write);

/*
 * A deal-driven move in progress.  deals.c sets it around its UPDATE of the
 * lead's stage, so that StageForWrite skips a refused move silently instead
 * of raising, and logs the deal's reason.
 */
typedef struct DealMove
{
	Datum lead_id;
	FunnelStage target;
	const char *reason; /* "deal opened", "deal won", "deal lost", "crm stage" */
	bool crm_stage;		/* the deal's own stage moved (attach_deals' stage_map): applied even when
						 * the transition rules refuse it, unless enforce */
	bool enforce;		/* refuse (with an error) a CRM stage move the rules do not allow */
} DealMove;

/* Make 'move' (or none, with NULL) the move in progress; returns the previous one. */
extern const DealMove *StageSetDealMove(const DealMove *move);

/* Move a lead just inserted according to the deals written for it before it existed (deals.c). */
extern void DealsMoveNewLead(const LeadsAttachment *leads, Datum lead_id);

/* Reasons recorded in lead_scoring.stage_change when lead_scoring.reason is not set. */
#define REASON_CREATED			"created"
#define REASON_MANUAL			"manual"
#define REASON_THRESHOLD		"threshold"
#define REASON_DISQUALIFY_BELOW "disqualify_below"
#define REASON_DEAL_OPENED		"deal opened"
#define REASON_DEAL_WON			"deal won"
#define REASON_DEAL_LOST		"deal lost"
/* changes made while a table is attached: the CRM's past, never a handoff (doc/crm_schemas.md) */
#define REASON_ATTACHED "attached"
/* a move of the CRM's own stage (a card dragged in its pipeline; doc/crm_schemas.md) */
#define REASON_CRM_STAGE "crm stage"

/*
 * leads_after(), the leads table's AFTER INSERT and AFTER UPDATE (WHEN the stage changes) row
 * trigger: logs the stage change in lead_scoring.stage_change; nothing for an UPDATE that keeps
 * the stage.
 */
extern PGDLLEXPORT Datum leads_after(PG_FUNCTION_ARGS);

/*
 * Define the settings of stage changes, lead_scoring.enforce_transitions, lead_scoring.actor and
 * lead_scoring.reason (from _PG_init, before the prefix is reserved).
 */
extern void StagesDefineSettings(void);
extern void StagesInit(void);

#endif /* STAGES_H */
