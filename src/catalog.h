/*
 * catalog.h — the extension's schema and its relations (src/catalog.c).
 */
#ifndef LS_CATALOG_H
#define LS_CATALOG_H

#include "postgres.h"

/* The extension lives in this schema (relocatable = false in the control file). */
#define LS_SCHEMA "lead_scoring"

/* OID of the extension's schema, or InvalidOid when the extension is not installed. */
extern Oid LsSchemaOid(void);
/* OID of a relation in the extension's schema; errors when missing_ok is false. */
extern Oid LsRelid(const char *relname, bool missing_ok);

#endif /* LS_CATALOG_H */
