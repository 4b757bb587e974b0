/*
 * extension_drop.c — what DROP EXTENSION lead_scoring does to the tables it
 * leaves behind (doc/security.md, "Dropping tables and the extension").
 *
 * The stage log lead_scoring.stage_change and the CRM's stage columns are not
 * members of the extension, but their columns have its type funnel_stage.
 * Left alone, PostgreSQL would refuse a plain DROP EXTENSION because of them,
 * and drop the columns — the log's stages — under CASCADE.  A ddl_command_start
 * event trigger runs first: it refuses while tables are attached (unless
 * CASCADE, which detaches them), then turns every remaining funnel_stage
 * column into text, each as its table's owner, so the log is kept whole and
 * readable.  Attaching again after CREATE EXTENSION turns them back.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "spi_glue.h"
#include "tcop/dest.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "attachment.h"
#include "catalog.h"
#include "run_as.h"
#include "trigger_call.h"

/* Whether a DROP statement drops this extension. */
static bool
DropsThisExtension(Node *parsetree, bool *cascade)
{
	DropStmt *stmt;
	ListCell *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	*cascade = (stmt->behavior == DROP_CASCADE);
	foreach (lc, stmt->objects)
		if (strcmp(strVal(lfirst(lc)), "lead_scoring") == 0)
			return true;
	return false;
}

/* Run one SPI command as a table's owner (SPI connected). */
static void
ExecuteAsOwner(Oid relid, const char *sql)
{
	LsSavedUser saved;
	int rc;

	LsBeginTableWrite(relid, &saved);
	rc = SPI_execute(sql, false, 0);
	LsEndTableWrite(&saved);
	if (rc < 0)
		elog(ERROR, "\"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/*
 * Turn every funnel_stage column of a table that is not a member of the
 * extension into text (SPI connected).  A default that is a stage label stays
 * as that text; another default is dropped.
 */
static void
StageColumnsToText(void)
{
	uint64 i;
	uint64 n;
	SPITupleTable *tt;

	if (SPI_execute(
			"SELECT a.attrelid::pg_catalog.oid, a.attrelid::pg_catalog.regclass::pg_catalog.text,"
			" pg_catalog.quote_ident(a.attname),"
			" pg_catalog.substring(pg_catalog.pg_get_expr(d.adbin, d.adrelid),"
			"  '^''([a-z]+)''::(?:lead_scoring\\.)?funnel_stage$'), d.adbin IS NOT NULL, a.attname"
			" FROM pg_catalog.pg_attribute a"
			" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid"
			" LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid"
			"  AND d.adnum OPERATOR(pg_catalog.=) a.attnum"
			" WHERE a.atttypid OPERATOR(pg_catalog.=) "
			"'lead_scoring.funnel_stage'::pg_catalog.regtype"
			"  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped"
			"  AND a.attinhcount OPERATOR(pg_catalog.=) 0"
			"  AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::\"char\"[])"
			"  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend e"
			"   WHERE e.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
			"   AND e.objid OPERATOR(pg_catalog.=) c.oid AND e.deptype OPERATOR(pg_catalog.=) 'e')"
			" ORDER BY a.attrelid, a.attnum",
			false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the funnel_stage columns");
	tt = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple tup = tt->vals[i];
		TupleDesc desc = tt->tupdesc;
		bool isnull;
		Oid relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		char *table = SPI_getvalue(tup, desc, 2);
		char *column = SPI_getvalue(tup, desc, 3);
		char *label = SPI_getvalue(tup, desc, 4);
		bool has_default = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfo(&sql, "ALTER TABLE %s ", table);
		if (has_default)
			appendStringInfo(&sql, "ALTER COLUMN %s DROP DEFAULT, ", column);
		appendStringInfo(&sql, "ALTER COLUMN %s TYPE pg_catalog.text USING %s::pg_catalog.text",
						 column, column);
		if (label != NULL)
			appendStringInfo(&sql, ", ALTER COLUMN %s SET DEFAULT %s", column,
							 quote_literal_cstr(label));
		ExecuteAsOwner(relid, sql.data);
		ereport(NOTICE,
				(errmsg("column %s of table %s now holds its stages as text", column, table)));
		if (relid != LsRelid("stage_change", true))
		{
			Oid argtypes[2] = {OIDOID, TEXTOID};
			Datum args[2] = {
				ObjectIdGetDatum(relid),
				CStringGetTextDatum(NameStr(*DatumGetName(SPI_getbinval(tup, desc, 6, &isnull))))};

			/* the CRM's stage columns kept as text, for attach_leads() after CREATE EXTENSION */
			if (!OidIsValid(LsRelid("kept_stage_column", true)) &&
				SPI_execute(
					"CREATE TABLE lead_scoring.kept_stage_column (relid pg_catalog.oid,"
					" column_name pg_catalog.name, PRIMARY KEY (relid, column_name));"
					" COMMENT ON TABLE lead_scoring.kept_stage_column IS 'Stage columns that"
					" DROP EXTENSION lead_scoring turned into text; attach_leads() turns them"
					" back'",
					false, 0) != SPI_OK_UTILITY)
				elog(ERROR, "could not create lead_scoring.kept_stage_column");
			if (SPI_execute_with_args("INSERT INTO lead_scoring.kept_stage_column VALUES ($1, $2) "
									  "ON CONFLICT DO NOTHING",
									  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not record a kept stage column");
		}
	}
}

/*
 * extension_drop_guard(): ddl_command_start event trigger for DROP EXTENSION.
 * Acts only when the statement drops lead_scoring.
 */
PG_FUNCTION_INFO_V1(extension_drop_guard);
Datum
extension_drop_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	bool cascade = false;
	Oid argtype = BOOLOID;
	Datum arg;

	trigdata = LsEventTriggerCall(fcinfo, "extension_drop_guard");
	if (!DropsThisExtension(trigdata->parsetree, &cascade) || !OidIsValid(LsSchemaOid()))
		PG_RETURN_NULL();

	LsSpiConnect();
	/* refuse while tables are attached (CASCADE detaches them); drop the generated objects */
	arg = BoolGetDatum(cascade);
	if (SPI_execute_with_args("SELECT lead_scoring.release_for_drop($1)", 1, &argtype, &arg, NULL,
							  false, 0) != SPI_OK_SELECT)
		elog(ERROR, "lead_scoring.release_for_drop() failed");
	StageColumnsToText();
	SPI_finish();
	PG_RETURN_NULL();
}

/*
 * stage_column_from_text(tbl regclass, col name): turn a text or varchar stage
 * column (left by DROP EXTENSION) back into funnel_stage, as the table's
 * owner.  The statement is built as a parse tree that names the type by OID:
 * the owner needs no rights in the schema lead_scoring.
 */
PG_FUNCTION_INFO_V1(stage_column_from_text);
Datum
stage_column_from_text(PG_FUNCTION_ARGS)
{
	Oid relid = PG_GETARG_OID(0);
	char *column = NameStr(*PG_GETARG_NAME(1));
	Oid stage_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("funnel_stage"),
									 ObjectIdGetDatum(LsSchemaOid()));
	char *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											 get_rel_name(relid));
	const char *col = quote_identifier(column);
	char *sql = psprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT, ALTER COLUMN %s TYPE "
						 "pg_catalog.text USING %s::pg_catalog.text, ALTER COLUMN %s SET DEFAULT "
						 "'new'::pg_catalog.text",
						 table, col, col, col, col);
	List *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	RawStmt *rs = linitial_node(RawStmt, raw);
	AlterTableStmt *stmt = castNode(AlterTableStmt, rs->stmt);
	ListCell *lc;
	PlannedStmt *wrapper;
	LsSavedUser saved;

	/* pg_catalog.text stands for funnel_stage everywhere in the statement */
	foreach (lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AlterColumnType)
		{
			ColumnDef *def = castNode(ColumnDef, cmd->def);

			def->typeName = makeTypeNameFromOid(stage_type, -1);
			castNode(TypeCast, def->raw_default)->typeName = makeTypeNameFromOid(stage_type, -1);
		}
		else if (cmd->subtype == AT_ColumnDefault && cmd->def != NULL) /* SET, not DROP */
			castNode(TypeCast, cmd->def)->typeName = makeTypeNameFromOid(stage_type, -1);
	}
	wrapper = makeNode(PlannedStmt);
	wrapper->commandType = CMD_UTILITY;
	wrapper->canSetTag = false;
	wrapper->utilityStmt = (Node *) stmt;
	wrapper->stmt_location = rs->stmt_location;
	wrapper->stmt_len = rs->stmt_len;

	LsBeginTableWrite(relid, &saved);
	ProcessUtility(wrapper, sql, false, PROCESS_UTILITY_SUBCOMMAND, NULL, NULL, None_Receiver,
				   NULL);
	LsEndTableWrite(&saved);
	CommandCounterIncrement();
	PG_RETURN_VOID();
}
