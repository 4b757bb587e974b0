/*
 * catalog.c — look-ups of the extension's own objects in the catalog.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
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

Oid
LsExtensionOwner(void)
{
	bool isnull;

	if (SPI_execute("SELECT e.extowner FROM pg_catalog.pg_extension e"
					" WHERE e.extname OPERATOR(pg_catalog.=) 'lead_scoring'",
					true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		return InvalidOid;
	return DatumGetObjectId(
		SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}
