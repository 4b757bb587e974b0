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
#include "utils/date.h"
#include "utils/timestamp.h"

#include "crm_time.h"

/*
 * The conversion is timezone(zone, timestamp) itself, so the C readers and the generated
 * SQL agree on every zone spelling (abbreviations included) and on infinities.
 */
TimestampTz
LsColumnTime(Oid type, Datum value, text *zone)
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
	return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, PointerGetDatum(zone), value));
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
