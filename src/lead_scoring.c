/*
 * lead_scoring.c — module initialisation: the settings (GUCs) and each module's initialiser.
 * No module includes this file's header for anything but the settings it declares; the helpers
 * the modules share live in their own files (clock.c, catalog.c).
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
#include "lead_scoring.h"
#include "rules.h"
#include "rules_in_flight.h"
#include "settings.h"
#include "stages.h"

PG_MODULE_MAGIC;

bool ls_enforce_transitions = true;
char *ls_actor = NULL;
char *ls_reason = NULL;

void _PG_init(void);

void
_PG_init(void)
{
	DefineCustomBoolVariable(
		"lead_scoring.enforce_transitions",
		"Refuses stage changes that can_transition() does not allow.",
		"Superusers, or roles granted SET on this parameter, may turn it off to "
		"repair data; every change is still logged.",
		&ls_enforce_transitions, true, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable(
		"lead_scoring.actor",
		"Who is recorded as making stage changes (default: the session user).", NULL, &ls_actor, "",
		PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable(
		"lead_scoring.reason",
		"The reason recorded with stage changes (default: derived from the cause).", NULL,
		&ls_reason, "", PGC_USERSET, 0, NULL, NULL, NULL);
	ClockInit();
	LeadRewriteInit();
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
	RulesInFlightInit();
	StagesInit();
}
