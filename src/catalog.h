/*
 * catalog.h — the extension's schema, its relations and its owner (src/catalog.c).
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

/*
 * The extension's owner, read from pg_extension (SPI connected), or InvalidOid when it is not
 * installed: what the attachment cache is built with, and what event triggers read while that cache
 * may be stale (mid-ALTER).
 */
extern Oid LsExtensionOwner(void);

#endif /* LS_CATALOG_H */
