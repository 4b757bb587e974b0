/*
 * crm_time.h — reading the time columns of attached CRM tables.
 *
 * A timestamptz column is an instant.  A naive timestamp or a date is read in
 * the zone declared at attach (time_zone => ...), else in the session's
 * TimeZone as 0.1.0 did.  doc/crm_schemas.md, "Time zones", has the rules.
 */
#ifndef CRM_TIME_H
#define CRM_TIME_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "pgtime.h"

/* A declared zone, resolved once (per attachment cache build). */
typedef struct LsZone
{
	text *name;	 /* as declared */
	bool is_utc; /* a zero-offset abbreviation (UTC, GMT, Z): naive values are UTC as they are */
	pg_tz *tz;	 /* a full zone name (Europe/Brussels), or NULL: timezone() decides each value */
} LsZone;

/* The zone named at attach, or NULL for none (the session's). */
extern LsZone *LsResolveZone(const char *name);

/* A value of a time column (timestamptz, timestamp or date) as an instant; zone NULL: the
 * session's. */
extern TimestampTz LsColumnTime(Oid type, Datum value, const LsZone *zone);

/* SQL for the same conversion of the expression expr (a column reference). */
extern char *LsColumnTimeSql(const char *expr, Oid type, const char *zone);

#endif /* CRM_TIME_H */
