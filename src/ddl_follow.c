/*
 * ddl_follow.c — the CRM's own migrations on attached tables.
 *
 * A CRM migrates its tables while they are attached: it renames columns, adds
 * and drops them, and replaces a column by renaming it away, adding a new one
 * under the old name, copying the data and dropping the old one (Twenty does
 * this to add an option to an enum).  Two event triggers keep the attachments
 * true to the table (doc/crm_schemas.md, "The CRM's migrations"):
 *
 *   follow_ddl_start (ddl_command_start, ALTER TABLE) reads the statement
 *   before it runs.  A DROP COLUMN of a column the extension reads — a mapped
 *   column, a key column, a column of the row filter or of a rule — is refused
 *   there, with a message naming the attachment and the way out.  A RENAME
 *   COLUMN of such a column is remembered, with the row filter parsed while the
 *   old name still resolves.
 *
 *   follow_ddl_end (ddl_command_end, ALTER TABLE) applies what was remembered:
 *   the attachment's mapping, the rules' column names and the row filter take
 *   the new name.  When a later statement of the transaction adds a column
 *   under a name that was renamed away, the mapping and the rules move to the
 *   new column (the replacement pattern) and the generated views are rebuilt,
 *   so that they no longer pin the old column, which the migration then drops.
 *
 * Nothing is ever changed silently: each change raises a NOTICE naming it.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "lead_scoring.h"
#include "row_filter.h"

/* A column rename of an attached table seen at ddl_command_start. */
typedef struct PendingRename
{
	Oid relid;
	char *kind; /* "leads", "events" or "deals" */
	Oid owner;	/* the extension's owner, who may change the configuration */
	char *old_name;
	char *new_name;
	Node *filter; /* the table's row filter parsed before the rename, or NULL */
	bool applied; /* follow_ddl_end has applied it */
} PendingRename;

/* The renames of the current transaction (in TopTransactionContext). */
static List *renames = NIL;
static LocalTransactionId renames_lxid = InvalidLocalTransactionId;

static List *
CurrentRenames(void)
{
	if (renames_lxid != MyProc->lxid)
	{
		renames = NIL; /* the memory went with the previous transaction */
		renames_lxid = MyProc->lxid;
	}
	return renames;
}

/* The extension's owner, read from the catalog (the attachment cache may be stale mid-ALTER). */
static Oid
ExtensionOwner(void)
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

/*
 * Run one query with text arguments as the extension owner, who owns the configuration (as the RI
 * triggers run as the table owner); returns SPI_processed.  The queries are ours and qualified.
 */
static uint64
RunAsOwner(Oid owner, const char *sql, int nargs, const char **args, bool read_only)
{
	Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum values[4];
	char nulls[4];
	Oid saved_user;
	int saved_context;
	uint64 processed;
	int i;

	for (i = 0; i < nargs; i++)
	{
		values[i] = args[i] ? CStringGetTextDatum(args[i]) : (Datum) 0;
		nulls[i] = args[i] ? ' ' : 'n';
	}
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(owner,
						   saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0) < 0)
		elog(ERROR, "could not run \"%s\"", sql);
	processed = SPI_processed;
	SetUserIdAndSecContext(saved_user, saved_context);
	return processed;
}

/*
 * What of the extension reads column col of the attached table relid: a phrase for the error
 * message, or NULL when nothing does (the row filter is checked by the caller).
 */
static char *
ColumnUse(Oid owner, Oid relid, const char *kind, const char *col)
{
	const char *args[3] = {psprintf("%u", relid), col, kind};

	if (RunAsOwner(owner,
				   "SELECT m.arg FROM lead_scoring.attachment a,"
				   " LATERAL (VALUES ('id_column', a.id_column), ('stage_column', a.stage_column),"
				   " ('score_column', a.score_column), ('owner_column', a.owner_column),"
				   " ('created_column', a.created_column), ('lead_column', a.lead_column),"
				   " ('type_column', a.type_column), ('time_column', a.time_column),"
				   " ('channel_column', a.channel_column), ('campaign_column', a.campaign_column),"
				   " ('keyword_column', a.keyword_column), ('amount_column', a.amount_column),"
				   " ('status_column', a.status_column), ('closed_column', a.closed_column),"
				   " ('cost_column', a.cost_column), ('crm_stage_column', a.crm_stage_column))"
				   " AS m(arg, col)"
				   " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
				   " AND m.col OPERATOR(pg_catalog.=) $2::pg_catalog.name"
				   " UNION ALL SELECT 'primary key' FROM lead_scoring.attachment a"
				   " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
				   " AND $2::pg_catalog.name OPERATOR(pg_catalog.=) ANY (a.key_columns) LIMIT 1",
				   2, args, true) > 0)
		return psprintf("it is the %s of the %s attachment",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), kind);
	if (strcmp(kind, "deals") != 0 &&
		RunAsOwner(owner,
				   "SELECT pg_catalog.string_agg(pg_catalog.quote_literal(r.name), ', '"
				   " ORDER BY r.name) FROM lead_scoring.rule r"
				   " WHERE r.column_name OPERATOR(pg_catalog.=) $2"
				   " AND r.kind OPERATOR(pg_catalog.=) CASE WHEN $3 OPERATOR(pg_catalog.=) 'leads' "
				   "THEN 'fit'"
				   " ELSE 'engagement' END HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0",
				   3, args, true) > 0)
		return psprintf("the scoring rules %s read it",
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	return NULL;
}

/* The stored row filter of an attached table, or NULL. */
static char *
StoredFilter(Oid owner, Oid relid)
{
	const char *args[1] = {psprintf("%u", relid)};

	if (RunAsOwner(owner,
				   "SELECT a.row_filter FROM lead_scoring.attachment a"
				   " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
				   1, args, true) == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* Whether the parsed filter reads attribute att. */
static bool
FilterReads(Node *filter, AttrNumber att)
{
	Bitmapset *atts = NULL;

	pull_varattnos(filter, 1, &atts);
	return bms_is_member(att - FirstLowInvalidHeapAttributeNumber, atts);
}

static char *
TableName(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* ALTER TABLE ... DROP COLUMN of a column the extension reads: refused before it runs. */
static void
CheckDropColumn(Oid owner, Oid relid, const char *kind, const char *col)
{
	char *use = ColumnUse(owner, relid, kind, col);
	char *filter;

	if (use == NULL && (filter = StoredFilter(owner, relid)) != NULL &&
		FilterReads(LsParseRowFilter(relid, filter), get_attnum(relid, col)))
		use = psprintf("the row_filter of the %s attachment reads it", kind);
	if (use == NULL)
		return;
	ereport(
		ERROR,
		(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
		 errmsg("cannot drop column \"%s\" of table %s: %s", col, TableName(relid), use),
		 errdetail("lead_scoring reads the table, attached with attach_%s(); dropping the "
				   "column would break every later write.",
				   kind),
		 strncmp(use, "the scoring rules", 17) == 0
			 ? errhint("Delete the rules or point them at another column first; renaming the "
					   "column, or replacing it by a new column of the same name, is followed.")
			 : errhint("Detach the table first (SELECT lead_scoring.detach('%s');) and attach it "
					   "again without this column; renaming the column, or replacing it by a new "
					   "column of the same name, is followed.",
					   TableName(relid))));
}

/* The attached table a statement's RangeVar names (and its kind), or InvalidOid. */
static Oid
AttachedRelid(Oid owner, RangeVar *rv, char **kind)
{
	Oid relid;
	const char *args[1];

	if (rv == NULL)
		return InvalidOid;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return InvalidOid;
	args[0] = psprintf("%u", relid);
	if (RunAsOwner(owner,
				   "SELECT a.kind FROM lead_scoring.attachment a"
				   " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
				   1, args, true) == 0)
		return InvalidOid;
	*kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return relid;
}

/* Whether the extension is installed and not running an install or update script. */
static bool
ExtensionReady(void)
{
	return !creating_extension && OidIsValid(LsSchemaOid()) &&
		   OidIsValid(LsRelid("attachment", true));
}

/* Remember a column rename of an attached table, with its row filter parsed under the old names. */
static void
RememberRename(Oid owner, RenameStmt *stmt)
{
	char *kind = NULL;
	Oid relid = AttachedRelid(owner, stmt->relation, &kind);
	char *filter;
	Node *parsed;
	MemoryContext old;
	PendingRename *r;

	if (!OidIsValid(relid) || get_attnum(relid, stmt->subname) == InvalidAttrNumber)
		return;
	filter = StoredFilter(owner, relid);
	parsed = filter ? LsParseRowFilter(relid, filter) : NULL;
	old = MemoryContextSwitchTo(TopTransactionContext);
	r = palloc0(sizeof(PendingRename));
	r->relid = relid;
	r->kind = pstrdup(kind);
	r->owner = owner;
	r->old_name = pstrdup(stmt->subname);
	r->new_name = pstrdup(stmt->newname);
	r->filter = parsed ? copyObject(parsed) : NULL;
	renames = lappend(CurrentRenames(), r);
	MemoryContextSwitchTo(old);
}

PG_FUNCTION_INFO_V1(follow_ddl_start);
Datum
follow_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid owner;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("follow_ddl_start() must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!ExtensionReady())
		PG_RETURN_VOID();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	owner = ExtensionOwner();
	if (OidIsValid(owner) && IsA(trigdata->parsetree, RenameStmt) &&
		((RenameStmt *) trigdata->parsetree)->renameType == OBJECT_COLUMN)
		RememberRename(owner, (RenameStmt *) trigdata->parsetree);
	else if (OidIsValid(owner) && IsA(trigdata->parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) trigdata->parsetree;
		char *kind = NULL;
		Oid relid = AttachedRelid(owner, stmt->relation, &kind);
		ListCell *lc;

		foreach (lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);

			if (OidIsValid(relid) && cmd->subtype == AT_DropColumn && cmd->name != NULL &&
				get_attnum(relid, cmd->name) != InvalidAttrNumber)
				CheckDropColumn(owner, relid, kind, cmd->name);
		}
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/* The mapping, the rules and the row filter of r's table follow column from to column to. */
static bool
FollowColumn(const PendingRename *r, const char *from, const char *to, const char *filter_sql)
{
	const char *args[4] = {psprintf("%u", r->relid), from, to, r->kind};
	StringInfoData sql;
	uint64 mapped;
	uint64 rules = 0;
	static const char *const fields[] = {
		"id_column",	  "stage_column",	 "score_column",   "owner_column",
		"created_column", "lead_column",	 "type_column",	   "time_column",
		"channel_column", "campaign_column", "keyword_column", "amount_column",
		"status_column",  "closed_column",	 "cost_column",	   "crm_stage_column"};
	int i;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "UPDATE lead_scoring.attachment a SET");
	for (i = 0; i < lengthof(fields); i++)
		appendStringInfo(&sql,
						 " %s = CASE WHEN a.%s OPERATOR(pg_catalog.=) $2::pg_catalog.name"
						 " THEN $3::pg_catalog.name ELSE a.%s END,",
						 fields[i], fields[i], fields[i]);
	appendStringInfoString(&sql,
						   " labels = CASE WHEN a.labels OPERATOR(pg_catalog.?) $2 THEN"
						   " (a.labels OPERATOR(pg_catalog.-) $2) OPERATOR(pg_catalog.||)"
						   " pg_catalog.jsonb_build_object($3, a.labels OPERATOR(pg_catalog.->) $2)"
						   " ELSE a.labels END,");
	appendStringInfoString(&sql, " key_columns = pg_catalog.array_replace(a.key_columns,"
								 " $2::pg_catalog.name, $3::pg_catalog.name)"
								 " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
								 " AND $2::pg_catalog.name OPERATOR(pg_catalog.=) ANY (ARRAY[");
	for (i = 0; i < lengthof(fields); i++)
		appendStringInfo(&sql, "%sa.%s", i ? ", " : "", fields[i]);
	appendStringInfoString(&sql, "] OPERATOR(pg_catalog.||) a.key_columns)");
	mapped = RunAsOwner(r->owner, sql.data, 3, args, false);
	if (mapped > 0)
		ereport(NOTICE,
				(errmsg("lead_scoring: the %s attachment of %s now maps column \"%s\" (was \"%s\")",
						r->kind, TableName(r->relid), to, from)));
	if (strcmp(r->kind, "deals") != 0)
	{
		rules = RunAsOwner(r->owner,
						   "UPDATE lead_scoring.rule r SET column_name = $3"
						   " WHERE r.column_name OPERATOR(pg_catalog.=) $2"
						   " AND r.kind OPERATOR(pg_catalog.=) CASE WHEN $4 OPERATOR(pg_catalog.=) "
						   "'leads' THEN 'fit'"
						   " ELSE 'engagement' END",
						   4, args, false);
		if (rules > 0)
			ereport(
				NOTICE,
				(errmsg(
					"lead_scoring: %llu scoring rule(s) now read column \"%s\" of %s (was \"%s\")",
					(unsigned long long) rules, to, TableName(r->relid), from)));
	}
	if (filter_sql != NULL)
	{
		const char *fargs[2] = {args[0], filter_sql};

		if (RunAsOwner(r->owner,
					   "UPDATE lead_scoring.attachment a SET row_filter = $2"
					   " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					   " AND (a.row_filter IS NULL OR a.row_filter OPERATOR(pg_catalog.<>) $2)",
					   2, fargs, false) > 0)
			ereport(NOTICE, (errmsg("lead_scoring: the row_filter of %s is now %s",
									TableName(r->relid), filter_sql)));
	}
	return mapped > 0 || rules > 0;
}

PG_FUNCTION_INFO_V1(follow_ddl_end);
Datum
follow_ddl_end(PG_FUNCTION_ARGS)
{
	ListCell *lc;
	Oid rebuild_as = InvalidOid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("follow_ddl_end() must be called as an event trigger")));
	if (CurrentRenames() == NIL || !ExtensionReady())
		PG_RETURN_VOID();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	foreach (lc, renames)
	{
		PendingRename *r = lfirst(lc);

		if (!r->applied)
		{
			/* the rename itself: the column now has the new name */
			r->applied = true;
			if (get_attnum(r->relid, r->new_name) != InvalidAttrNumber)
				FollowColumn(r, r->old_name, r->new_name,
							 r->filter ? LsRowFilterSql(r->relid, r->filter, NULL) : NULL);
		}
		else if (get_attnum(r->relid, r->old_name) != InvalidAttrNumber &&
				 get_attnum(r->relid, r->new_name) != InvalidAttrNumber &&
				 FollowColumn(r, r->new_name, r->old_name, NULL))
			rebuild_as = r->owner; /* a new column took the old name: it replaces the renamed one */
	}
	/* the generated views referred to the replaced column: they must let it go */
	if (OidIsValid(rebuild_as))
		RunAsOwner(rebuild_as, "SELECT lead_scoring.rebuild_views()", 0, NULL, false);
	SPI_finish();
	PG_RETURN_VOID();
}
