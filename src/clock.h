/*
 * clock.h — the time the extension takes as now (src/clock.c).
 */
#ifndef CLOCK_H
#define CLOCK_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* The time the extension takes as now: lead_scoring.now when set, else the transaction's start. */
extern TimestampTz LsNow(void);
/* Whether lead_scoring.now is set (a simulated clock). */
extern bool LsNowIsSet(void);

/* Defines the lead_scoring.now setting (from _PG_init). */
extern void ClockInit(void);

#endif /* CLOCK_H */
