/*
 * lead_scoring.c — module initialisation, settings (GUCs) and catalog look-ups
 * shared by the other modules.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "attachment.h"
#include "citus_shards.h"
#include "lead_scoring.h"
#include "rules.h"
#include "settings.h"
#include "stages.h"

PG_MODULE_MAGIC;

bool ls_enforce_transitions = true;
char *ls_actor = NULL;
char *ls_reason = NULL;

static char *ls_now_text = NULL;
static bool ls_now_is_set = false;
static TimestampTz ls_now_value;

void _PG_init(void);

/* Parse lead_scoring.now without throwing: a check hook must report errors, not raise them. */
static bool
CheckNow(char **newval, void **extra, GucSource source)
{
	char workbuf[MAXDATELEN + MAXDATEFIELDS];
	char *field[MAXDATEFIELDS];
	int ftype[MAXDATEFIELDS];
	int nf;
	int dtype;
	int tz;
	struct pg_tm tt;
	fsec_t fsec;
	TimestampTz result;
	TimestampTz *parsed;
#if PG_VERSION_NUM >= 160000
	DateTimeErrorExtra dtextra;
#endif

	if (*newval == NULL || (*newval)[0] == '\0')
	{
		*extra = NULL;
		return true;
	}
	if (ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0 ||
#if PG_VERSION_NUM >= 160000
		DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz, &dtextra) != 0 ||
#else
		DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0 ||
#endif
		dtype != DTK_DATE || tm2timestamp(&tt, fsec, &tz, &result) != 0)
	{
		GUC_check_errdetail(
			"lead_scoring.now must be a timestamp with time zone, or empty for the real time.");
		return false;
	}
	parsed = malloc(sizeof(TimestampTz));
	if (parsed == NULL)
		return false;
	*parsed = result;
	*extra = parsed;
	return true;
}

static void
AssignNow(const char *newval, void *extra)
{
	ls_now_is_set = (extra != NULL);
	if (extra != NULL)
		ls_now_value = *(TimestampTz *) extra;
}

bool
LsNowIsSet(void)
{
	return ls_now_is_set;
}

TimestampTz
LsNow(void)
{
	return ls_now_is_set ? ls_now_value : GetCurrentTransactionStartTimestamp();
}

PG_FUNCTION_INFO_V1(ls_clock);
Datum
ls_clock(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(LsNow());
}

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
	DefineCustomStringVariable(
		"lead_scoring.now",
		"The time the triggers and functions take as now (default: the transaction's start).",
		"For replaying history and for tests; superuser-only so that nobody backdates the "
		"handoff log.",
		&ls_now_text, "", PGC_SUSET, 0, CheckNow, AssignNow, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("lead_scoring");
#else
	EmitWarningsOnPlaceholders("lead_scoring");
#endif
	TransitionsInit();
	AttachmentInit();
	CitusShardsInit();
	SettingsInit();
	RulesInit();
	StagesInit();
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
