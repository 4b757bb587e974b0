/*
 * clock.h — the time the extension takes as now (src/clock.c), and how old a time is at another
 * (AgeSeconds, the age every path decays an event by).
 */
#ifndef CLOCK_H
#define CLOCK_H

#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "datatype/timestamp.h"

/* The time the extension takes as now: lead_scoring.now when set, else the transaction's start. */
extern TimestampTz LsNow(void);
/* Whether lead_scoring.now is set (a simulated clock). */
extern bool LsNowIsSet(void);

/* Defines the lead_scoring.now setting (from _PG_init). */
extern void ClockInit(void);

/*
 * Seconds from an event's time to 'at': 0 when the event is not earlier
 * (equal infinities included), infinite when either time is infinite, so that
 * decay takes an event dated -infinity, or anything scored at +infinity, to 0
 * points, never to an overflow (doc/scoring.md, "Infinite times").  The
 * difference of two finite timestamps can exceed int64: then it is computed
 * in double.
 */
static inline double
AgeSeconds(TimestampTz at, TimestampTz time)
{
	int64 diff;

	if (time >= at)
		return 0;
	if (TIMESTAMP_NOT_FINITE(at) || TIMESTAMP_NOT_FINITE(time))
		return INFINITY;
	/* exact in int64 where it fits: a double holds a timestamp only to 128 us, and the engagement
	 * state carries ages split in two (doc/scoring.md, "The engagement state": rounding) */
	if (!pg_sub_s64_overflow(at, time, &diff))
		return (double) diff / USECS_PER_SEC;
	return ((double) at - (double) time) / USECS_PER_SEC;
}

#endif /* CLOCK_H */
