/*
 * lead_scoring.c — module initialisation: each module's initialiser, the settings (GUCs) defined
 * by the modules they belong to (stages.c, clock.c, lead_rewrite.c) before the prefix is reserved,
 * and the leads triggers handed to the rewrite (src/lead_rewrite.h), which may not include it.
 * No module needs anything from this file: it has no header.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "attachment.h"
#include "citus_rules.h"
#include "citus_shards.h"
#include "clock.h"
#include "funnel_stage.h"
#include "lead_rewrite.h"
#include "leads_trigger.h"
#include "rules.h"
#include "rules_in_flight_check.h"
#include "settings.h"
#include "stages.h"

PG_MODULE_MAGIC;

void _PG_init(void);

void
_PG_init(void)
{
	StagesDefineSettings();
	ClockInit();
	LeadRewriteInit();
	LeadRewriteOwnTriggers(leads_before, leads_after, LeadsBeforeDirect);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("lead_scoring");
#else
	EmitWarningsOnPlaceholders("lead_scoring");
#endif
	TransitionsInit();
	AttachmentInit();
	CitusShardsInit();
	CitusRulesInit();
	SettingsInit();
	RulesInit();
	RulesInFlightCheckInit();
	StagesInit();
}
