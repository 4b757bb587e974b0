/*
 * crm_time.c — the time columns of attached CRM tables as instants.
 *
 * Many CRMs (Odoo, Rails applications) store UTC in timestamp without time
 * zone.  Casting such a value to timestamptz reads it in the session's
 * TimeZone, so scores, SLA verdicts and reports would follow the reader's
 * settings.  An attachment may therefore declare the zone its naive columns
 * are written in; the C readers and the generated SQL both convert with it,
 * the same way timezone(zone, timestamp) does.  doc/crm_schemas.md, "Time zones".
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "parser/scansup.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "crm_time.h"

/*
 * The conversion is timezone(zone, timestamp) itself, so the C readers and the generated SQL
 * agree on every zone spelling (abbreviations included) and on infinities.  Two cases are
 * resolved once instead of per value, as timezone() resolves them: a zero-offset abbreviation
 * (UTC, the common case) leaves the value as it is, and a full zone name's pg_tz is kept.
 */
LsZone *
LsResolveZone(const char *name)
{
	LsZone *zone;
	char *lower;
	int offset;
	pg_tz *abbrev_tz;
	int kind;

	if (name == NULL)
		return NULL;
	zone = palloc0(sizeof(LsZone));
	zone->name = cstring_to_text(name);
	lower = downcase_truncate_identifier(name, strlen(name), false);
	kind = DecodeTimezoneAbbrev(0, lower, &offset, &abbrev_tz);
	if (kind == TZ || kind == DTZ)
		zone->is_utc = (offset == 0);
	else if (kind != DYNTZ)
		zone->tz = pg_tzset(name);
	return zone;
}

/* A naive timestamp read in a full zone name, as timezone(zone, ts) reads it. */
static TimestampTz
NaiveInZone(Timestamp ts, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t fsec;
	int offset;
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	offset = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, fsec, &offset, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
	return result;
}

TimestampTz
LsColumnTime(Oid type, Datum value, const LsZone *zone)
{
	if (type == TIMESTAMPTZOID)
		return DatumGetTimestampTz(value);
	if (type == DATEOID)
	{
		if (zone == NULL)
			return DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, value));
		value = DirectFunctionCall1(date_timestamp, value);
	}
	else if (zone == NULL)
		return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, value));
	if (zone->is_utc)
		return DatumGetTimestamp(value);
	if (zone->tz != NULL)
		return NaiveInZone(DatumGetTimestamp(value), zone->tz);
	return DatumGetTimestampTz(
		DirectFunctionCall2(timestamp_zone, PointerGetDatum(zone->name), value));
}

char *
LsColumnTimeSql(const char *expr, Oid type, const char *zone)
{
	if (type == TIMESTAMPTZOID)
		return psprintf("%s", expr);
	if (zone == NULL)
		return psprintf("%s::pg_catalog.timestamptz", expr);
	if (type == TIMESTAMPOID)
		return psprintf("pg_catalog.timezone(%s, %s)", quote_literal_cstr(zone), expr);
	return psprintf("pg_catalog.timezone(%s, %s::pg_catalog.timestamp)", quote_literal_cstr(zone),
					expr);
}
