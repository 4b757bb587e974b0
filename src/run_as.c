/*
 * run_as.c — which role the extension's work runs as, and with which
 * search_path (see run_as.h and doc/security.md).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "run_as.h"

/* The search_path the extension's SQL functions pin (their SET clause). */
#define PINNED_SEARCH_PATH "pg_catalog, pg_temp"

/* The search_path CRM writes use, or NULL: the current one. */
static const char *write_search_path = NULL;

static Oid
RelationOwner(Oid relid)
{
	HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
						errmsg("attached table with OID %u does not exist", relid),
						errhint("Detach it with lead_scoring.detach(%u).", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

void
LsBeginTableWrite(Oid relid, LsSavedUser *saved)
{
	Oid owner = RelationOwner(relid);

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	saved->guc_nest = 0;
	if (write_search_path != NULL)
	{
		saved->guc_nest = NewGUCNestLevel();
		(void) set_config_option("search_path", write_search_path, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
	/* as RI triggers and VACUUM do: the owner's rights, no role changes, no FORCE RLS */
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
									  SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
}

void
LsEndTableWrite(const LsSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
	if (saved->guc_nest > 0)
		AtEOXact_GUC(true, saved->guc_nest);
}

/* The search_path variable's description, with its stack of saved values. */
static struct config_generic *
SearchPathVariable(void)
{
	static struct config_generic *found = NULL;

	if (found == NULL)
	{
#if PG_VERSION_NUM >= 160000
		found = find_option("search_path", false, false, ERROR);
#else
		struct config_generic **vars = get_guc_variables();
		int n = GetNumConfigOptions();
		int i;

		for (i = 0; i < n; i++)
			if (strcmp(vars[i]->name, "search_path") == 0)
				found = vars[i];
		if (found == NULL)
			elog(ERROR, "search_path is not a known setting");
#endif
	}
	return found;
}

/*
 * The search_path outside the innermost functions that pinned it: each
 * function-level SET search_path saved the value it replaced (GUC_SAVE).
 */
static const char *
SearchPathOutsidePins(void)
{
	const char *value = namespace_search_path;
	GucStack *st;

	for (st = SearchPathVariable()->stack; st != NULL && st->state == GUC_SAVE && value != NULL &&
										   strcmp(value, PINNED_SEARCH_PATH) == 0;
		 st = st->prev)
		value = st->prior.val.stringval;
	return value;
}

const char *
LsPushCallerSearchPath(void)
{
	const char *previous = write_search_path;
	const char *outside = SearchPathOutsidePins();

	if (outside != NULL && strcmp(outside, namespace_search_path) != 0)
		write_search_path = MemoryContextStrdup(TopTransactionContext, outside);
	return previous;
}

void
LsPopCallerSearchPath(const char *previous)
{
	write_search_path = previous;
}
