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
 *   A column of any table that an attachment's label reads along its path of
 *   foreign keys (owner_label, labels: res_partner.name) is treated alike: its
 *   DROP is refused, its RENAME remembered with the labels written anew.
 *
 *   follow_ddl_end (ddl_command_end, ALTER TABLE) applies what was remembered:
 *   the attachment's mapping, the rules' column names and the row filter take
 *   the new name, and so do the labels (the generated views are rebuilt).
 *   When a later statement of the transaction adds a column under a name that
 *   was renamed away, the mapping and the rules move to the new column (the
 *   replacement pattern) and the generated views are rebuilt, so that they no
 *   longer pin the old column, which the migration then drops.
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
#include "parser/parse_type.h"
#include "utils/resowner.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "attachment.h"
#include "catalog.h"
#include "lead_id_retype.h"
#include "row_filter.h"
#include "spi_glue.h"
#include "trigger_call.h"

/* A column rename of an attached table seen at ddl_command_start. */
typedef struct PendingRename
{
	Oid relid;
	char *kind; /* "leads", "events" or "deals" */
	Oid owner;	/* the extension's owner, who may change the configuration */
	char *old_name;
	char *new_name;
	Node *filter;	  /* the table's row filter parsed before the rename, or NULL */
	char *filter_sql; /* the same, as stored before the rename */
	Node *others[3];  /* its won_filter, lost_filter and deal_filter, parsed before it, or NULL */
	char *others_sql[3]; /* the same, as stored before the rename */
	bool applied;		 /* follow_ddl_end has applied it */
} PendingRename;

/* A label rewritten by a column rename along its path, seen at ddl_command_start. */
typedef struct PendingLabel
{
	Oid relid;		  /* the attached table */
	char *kind;		  /* its attachment's kind */
	Oid owner;		  /* the extension's owner */
	char *key_column; /* the key column the label is read for */
	bool is_owner;	  /* owner_label (else a value of labels) */
	char *label;	  /* the label before the rename */
	char *renamed;	  /* the label after it */
	bool applied;	  /* follow_ddl_end has applied it */
} PendingLabel;

/* The renames of the current transaction (in TopTransactionContext). */
static List *renames = NIL;
static List *label_renames = NIL;
static LocalTransactionId renames_lxid = InvalidLocalTransactionId;

static char *ReparseFilter(Oid relid, const char *filter_sql, char **problem);
static char *TableName(Oid relid);

static List *
CurrentRenames(void)
{
	if (renames_lxid != MyProc->lxid)
	{
		renames = NIL; /* the memory went with the previous transaction */
		label_renames = NIL;
		renames_lxid = MyProc->lxid;
	}
	return renames;
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
	LsSavedUser saved;
	uint64 processed;
	int i;

	for (i = 0; i < nargs; i++)
	{
		values[i] = args[i] ? CStringGetTextDatum(args[i]) : (Datum) 0;
		nulls[i] = args[i] ? ' ' : 'n';
	}
	LsBecomeOwner(owner, &saved);
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0) < 0)
		elog(ERROR, "could not run \"%s\"", sql);
	processed = SPI_processed;
	LsRestoreUser(&saved);
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
				   " ('cost_column', a.cost_column), ('crm_stage_column', a.crm_stage_column),"
				   " ('currency_column', a.currency_column))"
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

/*
 * A field of the attachment of relid as text, read by name (NULL when the table is not attached,
 * the field is NULL, or a schema has no such column).
 */
static char *
AttachmentField(Oid owner, Oid relid, const char *field)
{
	const char *args[2] = {psprintf("%u", relid), field};

	if (RunAsOwner(owner,
				   "SELECT pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) $2 FROM "
				   "lead_scoring.attachment a"
				   " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid",
				   2, args, true) == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* The stored row filter of an attached table, or NULL. */
static char *
StoredFilter(Oid owner, Oid relid)
{
	return AttachmentField(owner, relid, "row_filter");
}

/* The attachment's filters besides row_filter, each as stored SQL over the table's columns. */
static const char *const other_filters[3] = {"won_filter", "lost_filter", "deal_filter"};

/* One of other_filters of an attached table, or NULL (also on a schema without the column). */
static char *
StoredOtherFilter(Oid owner, Oid relid, int i)
{
	return AttachmentField(owner, relid, other_filters[i]);
}

/* Store other_filters[i] of r's table as sql, with a NOTICE; whether it changed. */
static bool
StoreOtherFilter(const PendingRename *r, int i, const char *sql)
{
	const char *args[2] = {psprintf("%u", r->relid), sql};

	/* other_filters are our column names: no quoting needed */
	if (RunAsOwner(r->owner,
				   psprintf("UPDATE lead_scoring.attachment a SET %s = $2"
							" WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
							" AND a.%s OPERATOR(pg_catalog.<>) $2",
							other_filters[i], other_filters[i]),
				   2, args, false) == 0)
		return false;
	ereport(NOTICE, (errmsg("lead_scoring: the %s of %s is now %s", other_filters[i],
							TableName(r->relid), sql)));
	return true;
}

/* After a rename: the other filters, parsed before it, stored again with the column's new name. */
static void
FollowOtherFilters(const PendingRename *r)
{
	int i;

	for (i = 0; i < lengthof(other_filters); i++)
		if (r->others[i] != NULL)
			StoreOtherFilter(r, i, LsRowFilterSql(r->relid, r->others[i], NULL));
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

	bool deals_part = false;
	int i;

	if (use == NULL && (filter = StoredFilter(owner, relid)) != NULL &&
		FilterReads(LsParseRowFilter(relid, filter), get_attnum(relid, col)))
		use = psprintf("the row_filter of the %s attachment reads it", kind);
	for (i = 0; use == NULL && i < lengthof(other_filters); i++)
		if ((filter = StoredOtherFilter(owner, relid, i)) != NULL &&
			FilterReads(LsParseRowFilter(relid, filter), get_attnum(relid, col)))
		{
			/* on a leads table, these are of the deals part (attach_deals on the leads table) */
			deals_part = strcmp(kind, "leads") == 0;
			use = psprintf("the %s of the %s attachment reads it", other_filters[i],
						   deals_part ? "deals part of the leads" : kind);
		}
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
		 : deals_part
			 ? errhint("Detach the deals part first (SELECT lead_scoring.detach_deals('%s');) and "
					   "attach it again without this column; renaming the column, or replacing it "
					   "by a new column of the same name, is followed.",
					   TableName(relid))
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

	if (rv == NULL)
		return InvalidOid;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid) || (*kind = AttachmentField(owner, relid, "kind")) == NULL)
		return InvalidOid;
	return relid;
}

/*
 * The generated views released at ddl_command_start of an ALTER COLUMN ... TYPE in this
 * transaction: the statements that give their privileges back (release_views()), to create them
 * again at ddl_command_end (in TopTransactionContext).
 */
static char *released_grants = NULL;
static bool released = false;
static List *retyped = NIL; /* OIDs of attached tables whose columns changed type */
static LocalTransactionId released_lxid = InvalidLocalTransactionId;

static void
CurrentRelease(void)
{
	if (released_lxid != MyProc->lxid)
	{
		released = false;
		released_grants = NULL;
		retyped = NIL;
		released_lxid = MyProc->lxid;
	}
}

/* Whether a view in the extension's schema reads column att of table tbl. */
static bool
ViewsRead(Oid owner, Oid tbl, AttrNumber att)
{
	const char *args[2] = {psprintf("%u", tbl), psprintf("%d", att)};

	return RunAsOwner(
			   owner,
			   "SELECT FROM pg_catalog.pg_depend d"
			   " JOIN pg_catalog.pg_rewrite r ON r.oid OPERATOR(pg_catalog.=) d.objid"
			   " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) r.ev_class"
			   " WHERE d.classid OPERATOR(pg_catalog.=) "
			   "'pg_catalog.pg_rewrite'::pg_catalog.regclass"
			   " AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
			   " AND d.refobjid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
			   " AND d.refobjsubid OPERATOR(pg_catalog.=) $2::pg_catalog.int4"
			   " AND c.relnamespace OPERATOR(pg_catalog.=) (SELECT e.extnamespace"
			   " FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) "
			   "'lead_scoring')"
			   " LIMIT 1",
			   2, args, true) > 0;
}

/*
 * ALTER TABLE ... ALTER COLUMN ... TYPE (doc/crm_schemas.md, "The CRM's migrations").  On an
 * attached table (relid valid), a new type the extension cannot read is refused before anything
 * runs, naming the attachment and the way out.  When a generated view reads the column (of an
 * attached table, or of a table a label is looked up in), the generated objects are dropped now and
 * created again at ddl_command_end, so that PostgreSQL's own check (0A000: a view uses the column)
 * does not fail the CRM's migration.
 */
static void
PrepareRetype(Oid owner, Oid tbl, Oid relid, const char *kind, AlterTableCmd *cmd)
{
	ColumnDef *def = (ColumnDef *) cmd->def;
	Oid typid;
	int32 typmod;
	MemoryContext old;

	CurrentRelease();
	if (OidIsValid(relid) && def != NULL && IsA(def, ColumnDef) && def->typeName != NULL)
	{
		const char *args[3];

		typenameTypeIdAndMod(NULL, def->typeName, &typid, &typmod);
		args[0] = psprintf("%u", relid);
		args[1] = cmd->name;
		args[2] = psprintf("%u", typid);
		if (RunAsOwner(owner,
					   "SELECT lead_scoring.retype_problem($1::pg_catalog.oid::pg_catalog.regclass,"
					   " $2::pg_catalog.name, $3::pg_catalog.oid::pg_catalog.regtype)",
					   3, args, true) > 0 &&
			SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) != NULL)
			ereport(
				ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot change the type of column \"%s\" of table %s to %s: %s", cmd->name,
						TableName(relid), format_type_be(typid),
						SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errdetail("lead_scoring reads the table, attached with attach_%s(), and could not "
						   "read the column with the new type.",
						   kind),
				 errhint("Detach the table first (SELECT lead_scoring.detach('%s');), change the "
						 "type, and attach it again; a type the extension reads (a wider integer, "
						 "a longer varchar, text) is followed without detaching.",
						 TableName(relid))));
		old = MemoryContextSwitchTo(TopTransactionContext);
		retyped = list_append_unique_oid(retyped, relid);
		MemoryContextSwitchTo(old);
	}
}

/*
 * The generated objects reading a column an ALTER COLUMN ... TYPE changes are dropped now and
 * created again by FinishRetype at ddl_command_end (see PrepareRetype).
 */
static void
ReleaseForRetype(Oid owner, Oid tbl, AlterTableCmd *cmd)
{
	MemoryContext old;

	/* (asked of the catalog each time: a release rolled back to a savepoint left the views there)
	 */
	if (!ViewsRead(owner, tbl, get_attnum(tbl, cmd->name)))
		return;
	if (RunAsOwner(owner, "SELECT lead_scoring.release_views()::pg_catalog.text", 0, NULL, false) !=
		1)
		elog(ERROR, "could not release the generated views");
	old = MemoryContextSwitchTo(TopTransactionContext);
	released_grants = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	released = true;
	MemoryContextSwitchTo(old);
	ereport(NOTICE, (errmsg("lead_scoring: the generated views are created again after the type of "
							"column \"%s\" of %s changes",
							cmd->name, TableName(tbl))));
}

/*
 * After an ALTER COLUMN ... TYPE: the row filters of the retyped tables still parse (else the
 * statement fails, naming the attachment), and the generated objects released at ddl_command_start
 * are created again.
 */
static void
FinishRetype(Oid owner, bool create)
{
	ListCell *lc;

	CurrentRelease();
	foreach (lc, retyped)
	{
		Oid relid = lfirst_oid(lc);
		char *filter = StoredFilter(owner, relid);
		char *problem = NULL;

		int i;

		if (filter != NULL && ReparseFilter(relid, filter, &problem) == NULL)
			ereport(
				ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot change the type of a column of table %s: the row_filter of its "
						"attachment no longer applies",
						TableName(relid)),
				 errdetail("The row_filter is %s: %s", filter, problem),
				 errhint("Detach the table first (SELECT lead_scoring.detach('%s');), change the "
						 "type, and attach it again with a row_filter for the new type.",
						 TableName(relid))));
		/* so must won_filter, lost_filter and the opportunities' row filter */
		for (i = 0; i < lengthof(other_filters); i++)
			if ((filter = StoredOtherFilter(owner, relid, i)) != NULL &&
				ReparseFilter(relid, filter, &problem) == NULL)
				ereport(
					ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("cannot change the type of a column of table %s: the %s of its "
							"attachment no longer applies",
							TableName(relid), other_filters[i]),
					 errdetail("The %s is %s: %s", other_filters[i], filter, problem),
					 errhint("Detach the deals first (SELECT lead_scoring.detach_deals('%s');), "
							 "change the type, and attach them again with a %s for the new type.",
							 TableName(relid), other_filters[i])));
	}
	retyped = NIL;
	/* (not while the lead id columns differ in type: lead_id_retype.c) */
	if (released && create)
	{
		const char *args[1] = {released_grants};

		released = false;
		released_grants = NULL;
		/* unless a savepoint rolled the release back, and the views with it */
		RunAsOwner(owner,
				   "SELECT lead_scoring.create_views($1::pg_catalog.text[])"
				   " WHERE pg_catalog.to_regclass('lead_scoring.leads') IS NULL",
				   1, args, false);
	}
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
	int i;

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
	r->filter_sql = filter ? pstrdup(filter) : NULL;
	MemoryContextSwitchTo(old);
	for (i = 0; i < lengthof(other_filters); i++)
	{
		char *other = StoredOtherFilter(owner, relid, i);
		Node *node = other ? LsParseRowFilter(relid, other) : NULL;

		old = MemoryContextSwitchTo(TopTransactionContext);
		r->others[i] = node ? copyObject(node) : NULL;
		r->others_sql[i] = other ? pstrdup(other) : NULL;
		MemoryContextSwitchTo(old);
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	renames = lappend(CurrentRenames(), r);
	MemoryContextSwitchTo(old);
}

/*
 * A column of table tbl renamed from old_name to new_name: the labels that read it along their path
 * (lead_scoring.labels_reading()) are remembered, written with the new name.
 */
static void
RememberLabelRenames(Oid owner, Oid tbl, const char *old_name, const char *new_name)
{
	const char *args[3] = {psprintf("%u", tbl), old_name, new_name};
	uint64 n;
	uint64 i;

	(void) CurrentRenames();
	n = RunAsOwner(
		owner,
		"SELECT r.relid::pg_catalog.oid::pg_catalog.text, r.kind, r.key_column, r.is_owner,"
		" r.label, r.renamed FROM lead_scoring.labels_reading($1::pg_catalog.oid,"
		" $2::pg_catalog.name, $3::pg_catalog.name) r",
		3, args, true);
	for (i = 0; i < n; i++)
	{
		HeapTuple row = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		PendingLabel *l = palloc0(sizeof(PendingLabel));

		l->relid = (Oid) strtoul(SPI_getvalue(row, desc, 1), NULL, 10);
		l->kind = SPI_getvalue(row, desc, 2);
		l->owner = owner;
		l->key_column = SPI_getvalue(row, desc, 3);
		l->is_owner = strcmp(SPI_getvalue(row, desc, 4), "t") == 0;
		l->label = SPI_getvalue(row, desc, 5);
		l->renamed = SPI_getvalue(row, desc, 6);
		label_renames = lappend(label_renames, l);
		MemoryContextSwitchTo(old);
		/* a label's list is split at its commas: it cannot name such a column */
		if (strchr(new_name, ',') != NULL)
			ereport(
				ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot rename column \"%s\" of table %s to \"%s\": the %s attachment of "
						"%s reads the labels of column \"%s\" through it",
						old_name, TableName(tbl), new_name, l->kind, TableName(l->relid),
						l->key_column),
				 errdetail("Its label %s cannot name a column whose name holds a comma (a label "
						   "is split at its commas).",
						   l->label),
				 errhint("Rename the column to a name without a comma, or detach the table first "
						 "(SELECT lead_scoring.detach('%s');), rename, and attach it again with "
						 "another label.",
						 TableName(l->relid))));
	}
}

/* ALTER TABLE ... DROP COLUMN of a column a label reads along its path: refused before it runs. */
static void
CheckLabelDrop(Oid owner, Oid tbl, const char *col)
{
	const char *args[3] = {psprintf("%u", tbl), col, NULL};
	char *attached;

	if (RunAsOwner(owner,
				   "SELECT r.relid::pg_catalog.oid::pg_catalog.text, r.kind, r.key_column, r.label"
				   " FROM lead_scoring.labels_reading($1::pg_catalog.oid, $2::pg_catalog.name,"
				   " $3::pg_catalog.name) r LIMIT 1",
				   3, args, true) == 0)
		return;
	attached = TableName(
		(Oid) strtoul(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), NULL, 10));
	ereport(
		ERROR,
		(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
		 errmsg("cannot drop column \"%s\" of table %s: the %s attachment of %s reads the "
				"labels of column \"%s\" through it",
				col, TableName(tbl), SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
				attached, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)),
		 errdetail("Its label %s reads the column; without it every later write would fail.",
				   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4)),
		 errhint("Detach the table first (SELECT lead_scoring.detach('%s');) and attach it again "
				 "with a label that does not read the column; renaming the column is followed.",
				 attached)));
}

/* The labels remembered by RememberLabelRenames() stored; whether any was. */
static bool
FollowLabels(void)
{
	ListCell *lc;
	bool changed = false;

	foreach (lc, label_renames)
	{
		PendingLabel *l = lfirst(lc);
		const char *args[4] = {psprintf("%u", l->relid), l->key_column, l->label, l->renamed};

		if (l->applied)
			continue;
		l->applied = true;
		if (RunAsOwner(
				l->owner,
				l->is_owner
					? "UPDATE lead_scoring.attachment a SET owner_label = $4::pg_catalog.name"
					  " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  " AND a.owner_column OPERATOR(pg_catalog.=) $2::pg_catalog.name"
					  " AND a.owner_label OPERATOR(pg_catalog.=) $3::pg_catalog.name"
					: "UPDATE lead_scoring.attachment a SET labels = pg_catalog.jsonb_set(a.labels,"
					  " ARRAY[$2], pg_catalog.to_jsonb($4))"
					  " WHERE a.relid OPERATOR(pg_catalog.=) $1::pg_catalog.oid"
					  " AND a.labels OPERATOR(pg_catalog.->>) $2 OPERATOR(pg_catalog.=) $3",
				4, args, false) > 0)
		{
			ereport(NOTICE,
					(errmsg("lead_scoring: the %s attachment of %s now reads the %s of column "
							"\"%s\" as \"%s\" (was \"%s\")",
							l->kind, TableName(l->relid), l->is_owner ? "owner_label" : "label",
							l->key_column, l->renamed, l->label)));
			changed = true;
		}
	}
	return changed;
}

PG_FUNCTION_INFO_V1(follow_ddl_start);
Datum
follow_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid owner;

	trigdata = LsEventTriggerCall(fcinfo, "follow_ddl_start");
	if (!ExtensionReady() || LeadIdRetypeBusy())
		PG_RETURN_VOID();
	LsSpiConnect();
	owner = LsExtensionOwner();
	if (OidIsValid(owner) && IsA(trigdata->parsetree, RenameStmt) &&
		((RenameStmt *) trigdata->parsetree)->renameType == OBJECT_COLUMN)
	{
		RenameStmt *stmt = (RenameStmt *) trigdata->parsetree;
		Oid tbl = stmt->relation ? RangeVarGetRelid(stmt->relation, NoLock, true) : InvalidOid;

		RememberRename(owner, stmt);
		if (OidIsValid(tbl) && get_attnum(tbl, stmt->subname) != InvalidAttrNumber)
			RememberLabelRenames(owner, tbl, stmt->subname, stmt->newname);
	}
	else if (OidIsValid(owner) && IsA(trigdata->parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) trigdata->parsetree;
		char *kind = NULL;
		Oid relid = AttachedRelid(owner, stmt->relation, &kind);
		ListCell *lc;

		Oid tbl = stmt->relation ? RangeVarGetRelid(stmt->relation, NoLock, true) : InvalidOid;

		foreach (lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);

			if (OidIsValid(relid) && cmd->subtype == AT_DropColumn && cmd->name != NULL &&
				get_attnum(relid, cmd->name) != InvalidAttrNumber)
				CheckDropColumn(owner, relid, kind, cmd->name);
			if (OidIsValid(tbl) && cmd->subtype == AT_DropColumn && cmd->name != NULL &&
				get_attnum(tbl, cmd->name) != InvalidAttrNumber)
				CheckLabelDrop(owner, tbl, cmd->name);
			if (OidIsValid(tbl) && cmd->subtype == AT_AlterColumnType && cmd->name != NULL &&
				get_attnum(tbl, cmd->name) != InvalidAttrNumber)
				PrepareRetype(owner, tbl, relid, kind, cmd);
		}
		/* nothing is released before every subcommand passed the checks above */
		foreach (lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);

			if (OidIsValid(tbl) && cmd->subtype == AT_AlterColumnType && cmd->name != NULL &&
				get_attnum(tbl, cmd->name) != InvalidAttrNumber)
				ReleaseForRetype(owner, tbl, cmd);
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
	bool filtered = false;
	static const char *const fields[] = {
		"id_column",		"stage_column",	  "score_column",  "owner_column",	 "created_column",
		"lead_column",		"type_column",	  "time_column",   "channel_column", "campaign_column",
		"keyword_column",	"amount_column",  "status_column", "closed_column",	 "cost_column",
		"crm_stage_column", "currency_column"};
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
		{
			ereport(NOTICE, (errmsg("lead_scoring: the row_filter of %s is now %s",
									TableName(r->relid), filter_sql)));
			filtered = true;
		}
	}
	return mapped > 0 || rules > 0 || filtered;
}

/*
 * The row filter filter_sql parsed again on the table as it is now, as stored SQL; NULL, with the
 * parser's message in *problem, when it no longer parses (the error is caught in a subtransaction).
 */
static char *
ReparseFilter(Oid relid, const char *filter_sql, char **problem)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char *volatile sql = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		sql = LsRowFilterSql(relid, LsParseRowFilter(relid, filter_sql), NULL);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		*problem = edata->message;
		sql = NULL;
	}
	PG_END_TRY();
	return sql;
}

/*
 * A column renamed away and replaced by a new column under its old name (the replacement pattern):
 * the row filter that read the renamed column, as stored before the rename, parsed again so that it
 * reads the new column; NULL when the filter did not read it.  When the new column's type does not
 * fit the filter, the filter keeps reading the renamed column (a WARNING says so; dropping that
 * column is then refused, naming the filter).
 */
static const char *
ReplacedFilter(const PendingRename *r)
{
	char *problem = NULL;
	char *sql;

	if (r->filter == NULL || r->filter_sql == NULL ||
		!FilterReads(r->filter, get_attnum(r->relid, r->new_name)))
		return NULL;
	sql = ReparseFilter(r->relid, r->filter_sql, &problem);
	if (sql == NULL)
		ereport(
			WARNING,
			(errmsg("lead_scoring: the row_filter of %s keeps reading column \"%s\": it does not "
					"apply to the new column \"%s\"",
					TableName(r->relid), r->new_name, r->old_name),
			 errdetail("%s", problem),
			 errhint(
				 "Detach the table and attach it again with a row_filter for the new column.")));
	return sql;
}

/*
 * The replacement pattern for won_filter, lost_filter and deal_filter (doc/crm_schemas.md, "The
 * CRM's migrations"): each that read the renamed column, as stored before the rename, is parsed
 * again so that it reads the new column, and stored; one that does not apply to the new column's
 * type keeps reading the renamed column, with a WARNING.  Whether any changed.
 */
static bool
ReplaceOtherFilters(const PendingRename *r)
{
	bool changed = false;
	int i;

	for (i = 0; i < lengthof(other_filters); i++)
	{
		char *problem = NULL;
		char *sql;

		if (r->others[i] == NULL || r->others_sql[i] == NULL ||
			!FilterReads(r->others[i], get_attnum(r->relid, r->new_name)))
			continue;
		sql = ReparseFilter(r->relid, r->others_sql[i], &problem);
		if (sql == NULL)
		{
			ereport(WARNING,
					(errmsg("lead_scoring: the %s of %s keeps reading column \"%s\": it does not "
							"apply to the new column \"%s\"",
							other_filters[i], TableName(r->relid), r->new_name, r->old_name),
					 errdetail("%s", problem),
					 errhint("Detach the table and attach it again with a %s for the new column.",
							 other_filters[i])));
			continue;
		}
		if (StoreOtherFilter(r, i, sql))
			changed = true;
	}
	return changed;
}

PG_FUNCTION_INFO_V1(follow_ddl_end);
Datum
follow_ddl_end(PG_FUNCTION_ARGS)
{
	ListCell *lc;
	Oid rebuild_as = InvalidOid;

	(void) LsEventTriggerCall(fcinfo, "follow_ddl_end");
	CurrentRelease();
	if ((CurrentRenames() == NIL && label_renames == NIL && !released && retyped == NIL) ||
		!ExtensionReady() || LeadIdRetypeBusy())
		PG_RETURN_VOID();
	LsSpiConnect();
	if (released || retyped != NIL)
	{
		Oid owner = LsExtensionOwner();

		/* an attached table's column changed type: perhaps its lead ids (lead_id_retype.c) */
		if (OidIsValid(owner))
			FinishRetype(owner, retyped == NIL || LeadIdRetypeFollow(owner));
	}
	foreach (lc, renames)
	{
		PendingRename *r = lfirst(lc);

		if (!r->applied)
		{
			/* the rename itself: the column now has the new name */
			r->applied = true;
			if (get_attnum(r->relid, r->new_name) != InvalidAttrNumber)
			{
				FollowColumn(r, r->old_name, r->new_name,
							 r->filter ? LsRowFilterSql(r->relid, r->filter, NULL) : NULL);
				FollowOtherFilters(r);
			}
		}
		else if (get_attnum(r->relid, r->old_name) != InvalidAttrNumber &&
				 get_attnum(r->relid, r->new_name) != InvalidAttrNumber)
		{
			/* a new column took the old name: it replaces the renamed one */
			bool followed = FollowColumn(r, r->new_name, r->old_name, ReplacedFilter(r));

			if (ReplaceOtherFilters(r) || followed)
				rebuild_as = r->owner;
		}
	}
	/* a label renamed along its path: the generated views read it anew */
	if (FollowLabels())
		rebuild_as = LsExtensionOwner();
	/* the generated views referred to the replaced column: they must let it go */
	if (OidIsValid(rebuild_as))
		RunAsOwner(rebuild_as, "SELECT lead_scoring.rebuild_views()", 0, NULL, false);
	SPI_finish();
	PG_RETURN_VOID();
}
