/*
 * settings.c — per-backend cache of lead_scoring.settings, rebuilt after the
 * table changes (its config_changed trigger sends a relcache invalidation).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "spi_glue.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "attachment.h"
#include "config_cache.h"
#include "settings.h"

static MemoryContext settings_cxt = NULL;
static LsSettings *settings = NULL;
static ConfigCache settings_cache = CONFIG_CACHE("settings");

void
SettingsInit(void)
{
	ConfigCacheRegister(&settings_cache);
}

static char **
TextArrayValues(Datum array, int *n)
{
	Datum *elems;
	bool *nulls;
	char **result;
	int i;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
					  n);
	result = palloc(sizeof(char *) * (*n + 1));
	for (i = 0; i < *n; i++)
		result[i] = nulls[i] ? pstrdup("") : TextDatumGetCString(elems[i]);
	result[*n] = NULL;
	return result;
}

static void
IntArrayValues(Datum array, int32 *out, int n)
{
	Datum *elems;
	bool *nulls;
	int count;
	int i;

	deconstruct_array(DatumGetArrayTypeP(array), INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls,
					  &count);
	for (i = 0; i < n; i++)
		out[i] = (i < count && !nulls[i]) ? DatumGetInt32(elems[i]) : 0;
}

static void
LoadSettings(void)
{
	MemoryContext cxt =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring settings", ALLOCSET_SMALL_SIZES);
	MemoryContext old;
	LsSettings *s;
	HeapTuple tup;
	TupleDesc desc;
	bool isnull;
	Datum d;
	LsSavedUser saved;
	static uint64 loads = 0;

	LsSpiConnect();
	/* read as the extension owner: triggers fired by any role need the settings */
	LsBecomeExtensionOwner(&saved);
	/* not read-only: see the changes of earlier commands even from a deferred trigger */
	if (ConfigCacheQuery(
			"SELECT disqualify_below, score_floor, score_ceiling, sla, default_phone_country,"
			" won_statuses, lost_statuses, attribution_model, attribution_lookback,"
			" attribution_half_life, fit_grade_bands, engagement_grade_bands"
			" FROM lead_scoring.settings") != SPI_OK_SELECT)
		elog(ERROR, "could not read lead_scoring.settings");
	LsRestoreUser(&saved);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("lead_scoring.settings must have exactly one row, it has " UINT64_FORMAT,
						SPI_processed)));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	old = MemoryContextSwitchTo(cxt);
	s = palloc0(sizeof(LsSettings));
	d = SPI_getbinval(tup, desc, 1, &isnull);
	s->has_disqualify_below = !isnull;
	s->disqualify_below = isnull ? 0 : DatumGetInt32(d);
	d = SPI_getbinval(tup, desc, 2, &isnull);
	s->has_score_floor = !isnull;
	s->score_floor = isnull ? 0 : DatumGetInt32(d);
	d = SPI_getbinval(tup, desc, 3, &isnull);
	s->has_score_ceiling = !isnull;
	s->score_ceiling = isnull ? 0 : DatumGetInt32(d);
	s->sla = *DatumGetIntervalP(SPI_getbinval(tup, desc, 4, &isnull));
	d = SPI_getbinval(tup, desc, 5, &isnull);
	s->default_phone_country = isnull ? NULL : TextDatumGetCString(d);
	s->won_statuses = TextArrayValues(SPI_getbinval(tup, desc, 6, &isnull), &s->nwon);
	s->lost_statuses = TextArrayValues(SPI_getbinval(tup, desc, 7, &isnull), &s->nlost);
	s->attribution_model = TextDatumGetCString(SPI_getbinval(tup, desc, 8, &isnull));
	s->attribution_lookback = *DatumGetIntervalP(SPI_getbinval(tup, desc, 9, &isnull));
	s->attribution_half_life = *DatumGetIntervalP(SPI_getbinval(tup, desc, 10, &isnull));
	IntArrayValues(SPI_getbinval(tup, desc, 11, &isnull), s->fit_grade_bands, 3);
	IntArrayValues(SPI_getbinval(tup, desc, 12, &isnull), s->engagement_grade_bands, 3);
	s->load = ++loads;
	MemoryContextSwitchTo(old);
	SPI_finish();

	ConfigCacheKeep(&settings_cxt, cxt);
	settings = s;
}

const LsSettings *
LsGetSettings(void)
{
	ConfigCacheEnsure(&settings_cache, LoadSettings);
	return settings;
}
