/*
 * lead_scoring.c — module initialisation, settings (GUCs) and catalog look-ups
 * shared by the other modules.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "attachment.h"
#include "lead_scoring.h"
#include "rules.h"
#include "settings.h"

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
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("lead_scoring");
#else
	EmitWarningsOnPlaceholders("lead_scoring");
#endif
	TransitionsInit();
	AttachmentInit();
	SettingsInit();
	RulesInit();
}

Oid
LsSchemaOid(void)
{
	return get_namespace_oid(LS_SCHEMA, true);
}

Oid
LsRelid(const char *relname, bool missing_ok)
{
	Oid nsp = LsSchemaOid();
	Oid relid = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
						errmsg("relation \"%s.%s\" does not exist", LS_SCHEMA, relname),
						errhint("Is the lead_scoring extension installed in this database?")));
	return relid;
}
