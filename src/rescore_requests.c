/*
 * rescore_requests.c — the rescores asked for in SQL: rescore_all(), rescore(lead), and, for
 * databases still on 0.1.0 (its rules_changed and rescore_after_rule_change symbols), the rescore
 * of every lead once when a transaction that changed the rules or settings commits.  0.2.0 rescores
 * nothing at commit: doc/scoring.md, "The engagement state".
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/qunique.h"
#include "nodes/bitmapset.h"
#include "storage/lmgr.h"
#include "trigger_call.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "attachment.h"
#include "lead_touch.h"
#include "rescore_batch.h"
#include "rules.h"
#include "run_as.h"

/* rescore_all(): recompute every lead's score now; returns how many leads were rewritten. */
PG_FUNCTION_INFO_V1(rescore_all);
Datum
rescore_all(PG_FUNCTION_ARGS)
{
	LsSavedUser saved;
	int64 n = 0;
	const char *search_path;

	LsLeadsAttachment();
	/* called from attach_* or detach: the leads table's triggers see the caller's search_path */
	search_path = LsPushCallerSearchPath();
	PG_TRY();
	{
		LsBecomeExtensionOwner(&saved);
		n = RescoreAll();
		LsRestoreUser(&saved);
	}
	PG_FINALLY();
	{
		LsPopCallerSearchPath(search_path);
	}
	PG_END_TRY();
	PG_RETURN_INT64(n);
}

/* rescore_lead(lead anyelement): behind the generated rescore(lead); the new score, or NULL. */
PG_FUNCTION_INFO_V1(rescore_lead);
Datum
rescore_lead(PG_FUNCTION_ARGS)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	Oid argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	RuleSet *rs;
	LsSavedUser saved;
	int32 score;
	bool found;
	const char *search_path;

	if (!OidIsValid(argtype) || getBaseType(argtype) != getBaseType(leads->id_type))
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("rescore() takes a lead id of type %s, not %s",
							   format_type_be(leads->id_type),
							   OidIsValid(argtype) ? format_type_be(argtype) : "unknown")));
	rs = LsRules();
	/* called from the generated rescore(): the leads table's triggers see the caller's search_path
	 */
	search_path = LsPushCallerSearchPath();
	PG_TRY();
	{
		LsBecomeExtensionOwner(&saved);
		found = TouchLead(rs, PG_GETARG_DATUM(0), &score, NULL, 0, true);
		LsRestoreUser(&saved);
	}
	PG_FINALLY();
	{
		LsPopCallerSearchPath(search_path);
	}
	PG_END_TRY();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT32(score);
}

/* ---------------------------------------------------------------------------
 * 0.1.0's rule and settings changes: rescore every lead once, when the transaction commits (the
 * 0.1.0 SQL names these symbols; 0.2.0's triggers do not: doc/internals.md, "Upgrades")
 * ---------------------------------------------------------------------------
 */

static TransactionId rescore_requested_xid = InvalidTransactionId;

/* rules_changed(): AFTER statement trigger on lead_scoring.rule (and row trigger on settings). */
PG_FUNCTION_INFO_V1(rules_changed);
Datum
rules_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = LsAfterTriggerCall(fcinfo, "rules_changed");

	rescore_requested_xid = GetTopTransactionId();
	/* TRUNCATE fires no row triggers, so nothing is deferred: rescore now */
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) && LsAttachments()->leads != NULL)
	{
		LsSavedUser saved;

		CommandCounterIncrement();
		LsBecomeExtensionOwner(&saved);
		RescoreAll();
		LsRestoreUser(&saved);
		rescore_requested_xid = InvalidTransactionId;
	}
	return PointerGetDatum(NULL);
}

/* rescore_after_rule_change(): deferred constraint trigger; the first one to fire rescores. */
PG_FUNCTION_INFO_V1(rescore_after_rule_change);
Datum
rescore_after_rule_change(PG_FUNCTION_ARGS)
{
	(void) LsAfterTriggerCall(fcinfo, "rescore_after_rule_change");

	if (TransactionIdIsValid(rescore_requested_xid) &&
		TransactionIdEquals(rescore_requested_xid, GetTopTransactionIdIfAny()))
	{
		rescore_requested_xid = InvalidTransactionId;
		/* deferred triggers fire before the last command's cache invalidations are processed */
		CommandCounterIncrement();
		if (LsAttachments()->leads != NULL)
		{
			LsSavedUser saved;

			LsBecomeExtensionOwner(&saved);
			RescoreAll();
			LsRestoreUser(&saved);
		}
	}
	return PointerGetDatum(NULL);
}
