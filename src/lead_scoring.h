/*
 * lead_scoring.h — declarations shared by every module of the extension.
 */
#ifndef LEAD_SCORING_H
#define LEAD_SCORING_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* The extension lives in this schema (relocatable = false in the control file). */
#define LS_SCHEMA "lead_scoring"

/* GUCs, defined in lead_scoring.c */
extern bool ls_enforce_transitions;
extern char *ls_actor;
extern char *ls_reason;

/* The time the extension takes as now: lead_scoring.now when set, else the transaction's start. */
extern TimestampTz LsNow(void);
extern bool LsNowIsSet(void);

/* OID of the extension's schema, or InvalidOid when the extension is not installed. */
extern Oid LsSchemaOid(void);
/* OID of a relation in the extension's schema; errors when missing_ok is false. */
extern Oid LsRelid(const char *relname, bool missing_ok);

/* Module initialisers called from _PG_init. */
extern void TransitionsInit(void);

#endif /* LEAD_SCORING_H */
