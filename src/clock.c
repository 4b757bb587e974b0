/*
 * clock.c — the time the extension takes as now: lead_scoring.now when set (replaying history,
 * tests), else the transaction's start (doc/scoring.md, "Decay: the refresh": the time a write
 * scores at).
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "clock.h"

static char *ls_now_text = NULL;
static bool ls_now_is_set = false;
static TimestampTz ls_now_value;

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
ClockInit(void)
{
	DefineCustomStringVariable(
		"lead_scoring.now",
		"The time the triggers and functions take as now (default: the transaction's start).",
		"For replaying history and for tests; superuser-only so that nobody backdates the "
		"handoff log.",
		&ls_now_text, "", PGC_SUSET, 0, CheckNow, AssignNow, NULL);
}
