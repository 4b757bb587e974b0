/*
 * catalog.c — look-ups of the extension's own objects in the catalog.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/lsyscache.h"

#include "catalog.h"

Oid
LsSchemaOid(void)
{
	return get_namespace_oid(LS_SCHEMA, true);
}

Oid
LsRelid(const char *relname, bool missing_ok)
{
	Oid nsp = LsSchemaOid();
	Oid relid = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
						errmsg("relation \"%s.%s\" does not exist", LS_SCHEMA, relname),
						errhint("Is the lead_scoring extension installed in this database?")));
	return relid;
}
