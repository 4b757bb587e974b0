/*
 * lead_id_retype.c — the CRM's migration of its lead ids to another integer type: Rails'
 * change_column :leads, :id, :bigint, Odoo's integer ids widened (doc/crm_schemas.md, "The CRM's
 * migrations").
 *
 * The lead id type is held by the leads table's id column, by the lead column of every events and
 * deals table, and by the extension's tables that log lead ids (stage_change, and on Citus
 * handoff_outbox).  The CRM changes its own columns one ALTER at a time, usually in one
 * transaction; each ALTER keeps its table locked until the transaction ends, so no other session
 * ever sees the state between them.  After each ALTER TABLE of an attached table (ddl_command_end,
 * src/ddl_follow.c):
 *
 *   - when every lead id column of the attached tables has the same type again, the extension's
 *     logs take that type (as their owner, with a NOTICE) and the generated views are created again
 *     with it (the lead-typed functions score(), explain() ... get the new argument type);
 *   - while the types differ, the generated views stay released, the engine refuses to write with
 *     them (src/attachment.c), and the transaction cannot commit: PRE_COMMIT raises an ERROR naming
 *     the columns, so a migration split over several transactions is refused at its first commit.
 *
 * Which new types are accepted is retype_problem()'s business (extension/parts/40_attach.sql):
 * smallint, integer and bigint, from one another.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "catalog/pg_class.h"

#include "attachment.h"
#include "catalog.h"
#include "lead_id_retype.h"

/* The lead id columns found differing in this transaction, for the check at commit. */
static Oid *mixed_relids = NULL;
static AttrNumber *mixed_atts = NULL;
static int nmixed = 0;
static LocalTransactionId mixed_lxid = InvalidLocalTransactionId;
static bool callback_registered = false;
static bool busy = false;

bool
LeadIdRetypeBusy(void)
{
	return busy;
}

/* "crm.lead.id bigint, crm.event.lead_id integer": the columns as they are now. */
static char *
DescribeColumns(const Oid *relids, const AttrNumber *atts, int n, bool *differ)
{
	StringInfoData s;
	Oid first = InvalidOid;
	int i;

	initStringInfo(&s);
	*differ = false;
	for (i = 0; i < n; i++)
	{
		Oid type = get_atttype(relids[i], atts[i]);
		char *rel = get_rel_name(relids[i]);

		if (!OidIsValid(type) || rel == NULL)
			continue; /* dropped meanwhile: the sql_drop trigger detaches it */
		if (!OidIsValid(first))
			first = type;
		else if (type != first)
			*differ = true;
		appendStringInfo(&s, "%s%s.%s.%s %s", s.len ? ", " : "",
						 quote_identifier(get_namespace_name(get_rel_namespace(relids[i]))),
						 quote_identifier(rel),
						 quote_identifier(get_attname(relids[i], atts[i], false)),
						 format_type_be(type));
	}
	return s.data;
}

static void
CheckAtCommit(XactEvent event, void *arg)
{
	bool differ;
	char *columns;

	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PRE_PREPARE)
		return;
	if (mixed_lxid != MyProc->lxid || nmixed == 0)
		return;
	/* a savepoint rolled back may have taken an ALTER back: ask the catalog */
	columns = DescribeColumns(mixed_relids, mixed_atts, nmixed, &differ);
	nmixed = 0;
	if (differ)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot commit: the lead id columns of the tables attached to lead_scoring "
						"have different types"),
				 errdetail("The columns: %s.", columns),
				 errhint("Change the leads table's id and the lead column of every attached events "
						 "and deals table to the same type in one transaction (one migration); or "
						 "detach the tables first.")));
}

/* Run one statement of ours as the owner of relation relid (the logs are the attaching role's). */
static void
RunAsRelOwner(Oid relid, const char *sql)
{
	Oid saved_user;
	int saved_context;
	HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE);
	busy = true;
	PG_TRY();
	{
		if (SPI_execute(sql, false, 0) < 0)
			elog(ERROR, "could not run \"%s\"", sql);
	}
	PG_FINALLY();
	{
		busy = false;
	}
	PG_END_TRY();
	SetUserIdAndSecContext(saved_user, saved_context);
}

/* The extension's log relname holds lead ids of type type from now on. */
static void
FollowLog(const char *relname, Oid type)
{
	Oid relid = LsRelid(relname, true);
	AttrNumber att;

	if (!OidIsValid(relid) || (att = get_attnum(relid, "lead_id")) == InvalidAttrNumber ||
		get_atttype(relid, att) == type)
		return;
	RunAsRelOwner(relid, psprintf("ALTER TABLE %s.%s ALTER COLUMN lead_id TYPE %s", LS_SCHEMA,
								  quote_identifier(relname), format_type_be_qualified(type)));
	ereport(NOTICE, (errmsg("lead_scoring: the lead ids of %s.%s are now %s", LS_SCHEMA, relname,
							format_type_be(type))));
}

bool
LeadIdRetypeFollow(Oid owner)
{
	LsSavedUser saved;
	int rc;
	uint64 n;
	uint64 i;
	Oid *relids;
	AttrNumber *atts;
	bool differ;
	Oid type;
	MemoryContext old;

	/* the configuration is the extension owner's to read (as in ddl_follow.c) */
	LsBecomeOwner(owner, &saved);
	rc = SPI_execute("SELECT a.relid::pg_catalog.oid, t.attnum FROM lead_scoring.attachment a"
					 " JOIN pg_catalog.pg_attribute t ON t.attrelid OPERATOR(pg_catalog.=) a.relid"
					 " AND t.attname OPERATOR(pg_catalog.=) CASE WHEN a.kind OPERATOR(pg_catalog.=)"
					 " 'leads' THEN a.id_column ELSE a.lead_column END AND NOT t.attisdropped"
					 " ORDER BY a.kind OPERATOR(pg_catalog.<>) 'leads', a.relid::pg_catalog.text",
					 true, 0);
	LsRestoreUser(&saved);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "could not read the lead id columns of the attached tables");
	n = SPI_processed;
	if (n == 0)
		return true;
	relids = palloc(sizeof(Oid) * n);
	atts = palloc(sizeof(AttrNumber) * n);
	for (i = 0; i < n; i++)
	{
		bool isnull;

		relids[i] = DatumGetObjectId(
			SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		atts[i] =
			DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	(void) DescribeColumns(relids, atts, (int) n, &differ);
	if (differ)
	{
		/* remembered for the check at commit */
		if (!callback_registered)
		{
			RegisterXactCallback(CheckAtCommit, NULL);
			callback_registered = true;
		}
		old = MemoryContextSwitchTo(TopTransactionContext);
		mixed_relids = palloc(sizeof(Oid) * n);
		mixed_atts = palloc(sizeof(AttrNumber) * n);
		memcpy(mixed_relids, relids, sizeof(Oid) * n);
		memcpy(mixed_atts, atts, sizeof(AttrNumber) * n);
		nmixed = (int) n;
		mixed_lxid = MyProc->lxid;
		MemoryContextSwitchTo(old);
		return false;
	}
	if (mixed_lxid == MyProc->lxid)
		nmixed = 0;
	/* one type again (the leads table's id comes first): the logs follow it */
	type = get_atttype(relids[0], atts[0]);
	FollowLog("stage_change", type);
	FollowLog("handoff_outbox", type);
	return true;
}
