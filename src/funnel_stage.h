/*
 * funnel_stage.h — the funnel stage type: one byte holding the stage's rank.
 */
#ifndef FUNNEL_STAGE_H
#define FUNNEL_STAGE_H

#include "postgres.h"

typedef enum FunnelStage
{
	FS_NEW = 0,
	FS_IQL,
	FS_MQL,
	FS_SAL,
	FS_SQL,
	FS_OPPORTUNITY,
	FS_CUSTOMER,
	FS_RECYCLED,
	FS_DISQUALIFIED,
	FS_LOST,
	FS_COUNT
} FunnelStage;

/* Who works a lead while it sits in a stage. */
typedef enum StageOwner
{
	OWNER_MARKETING,
	OWNER_SALES,
	OWNER_CLOSED
} StageOwner;

#define DatumGetFunnelStage(d)	  ((FunnelStage) DatumGetChar(d))
#define FunnelStageGetDatum(s)	  CharGetDatum((char) (s))
#define PG_GETARG_FUNNEL_STAGE(n) DatumGetFunnelStage(PG_GETARG_DATUM(n))
#define PG_RETURN_FUNNEL_STAGE(s) return FunnelStageGetDatum(s)

extern const char *FunnelStageLabel(FunnelStage stage);
extern StageOwner FunnelStageOwner(FunnelStage stage);
extern const char *StageOwnerName(StageOwner owner);
extern bool FunnelStageIsTerminal(FunnelStage stage);
extern bool FunnelStageParse(const char *input, FunnelStage *result);

/* Transition rules: the built-in matrix, and the matrix with overrides applied. */
extern bool TransitionBuiltin(FunnelStage from, FunnelStage to);
extern bool TransitionAllowed(FunnelStage from, FunnelStage to);
/* Registers the transition overrides' cache (from _PG_init). */
extern void TransitionsInit(void);

#endif /* FUNNEL_STAGE_H */
