/*
 * rules_in_flight_check.c — the check at commit of a writer whose events were filtered under rules
 * that another session changed before they commit: the lock that orders it with rule changes, the
 * leads held on a Citus shard, the rescore of the leads its statements did not lock
 * (rules_in_flight_check.h; what the writer remembered is in rules_in_flight.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "lib/qunique.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "attachment.h"
#include "citus_rules.h"
#include "citus_shards.h"
#include "lead_locks.h"
#include "lead_touch.h"
#include "rescore_batch.h"
#include "rules_in_flight.h"
#include "rules_in_flight_check.h"
#include "spi_glue.h"

/* The lock that serialises rule changes' commits with writers' checks (until the end). */
static void
LockRulesCommit(LOCKMODE mode)
{
	LOCKTAG tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, RULES_LOCK_CLASS);
	(void) LockAcquire(&tag, mode, false, false);
}

/* An uncounted row's lead and the leads relation its statement addressed for it. */
typedef struct HeldLead
{
	Datum id;
	Oid rel;
} HeldLead;

static int
CompareHeldLeads(const void *a, const void *b, void *arg)
{
	return LsCompareLeadIds((const LeadsAttachment *) arg, ((const HeldLead *) a)->id,
							((const HeldLead *) b)->id);
}

/*
 * On Citus shards, before the rules are compared: hold the leads of the uncounted rows until this
 * transaction ends — the bucket of each lead id (an insert of the lead waits, lead_locks.h), then
 * the row of each lead held on this node (a rewrite of it waits).  A rule change reaches a worker
 * as its own part of a distributed transaction (the configuration applied there, doc/scale-out.md,
 * "Configuration on every node"), which takes no lock on this node against the check: it may even
 * be another part of this same transaction (the rule change written through another connection to
 * this worker).  So it may commit here after the check compared the rules and before this
 * transaction commits — a part of a distributed transaction waits, prepared, for the coordinator's
 * COMMIT PREPARED.  A session rebuilding one of these leads under the new rules meanwhile would not
 * see this transaction's rows; with the leads held, it waits for this commit and then sees them
 * (doc/scale-out.md, "The check at commit on a shard").  Colocated placements are written through
 * one connection per distributed transaction, so no other part of this transaction holds them.
 */
static void
HoldUncountedLeads(void)
{
	const InFlight *in_flight = RulesInFlightRecord();
	LeadsAttachment *leads = LsAttachments()->leads;
	HeldLead *held;
	bool *done;
	int n = in_flight->n;
	int i;
	int j;
	LsSavedUser saved;

	if (leads == NULL || leads->relid != in_flight->leads_relid || n == 0)
		return;
	held = palloc(sizeof(HeldLead) * n);
	for (i = 0; i < n; i++)
	{
		held[i].id = in_flight->ids[i];
		held[i].rel = in_flight->rels[i];
	}
	qsort_arg(held, n, sizeof(HeldLead), CompareHeldLeads, leads);
	n = qunique_arg(held, n, sizeof(HeldLead), CompareHeldLeads, leads);
	for (i = 0; i < n; i++)
		LockLeadIdBucket(leads, held[i].id, RowExclusiveLock);
	LsBecomeExtensionOwner(&saved);
	/* the lead's shard: the colocated leads shard its statement addressed, else looked up */
	for (i = 0; i < n; i++)
		if (held[i].rel == leads->relid)
			held[i].rel = LsLocalLeadShard(held[i].id);
	/* each shard's leads with one lock query, in id order (LockPlan); the rule set looked up for
	 * each, after the look-ups and queries before it (which may have processed invalidations) */
	done = palloc0(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		Datum *mine;
		int m = 0;
		Datum array;
		RuleSet *near;

		if (done[i] || !OidIsValid(held[i].rel))
			continue;
		mine = palloc(sizeof(Datum) * (n - i));
		for (j = i; j < n; j++)
			if (!done[j] && held[j].rel == held[i].rel)
			{
				mine[m++] = held[j].id;
				done[j] = true;
			}
		near = LsRulesNear(LsRules(), held[i].rel);
		array = PointerGetDatum(LsLeadIdArray(near->leads, mine, m));
		LsSpiConnect();
		if (SPI_execute_plan(LockPlan(near), &array, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "locking leads failed");
		SPI_finish();
		pfree(mine);
	}
	LsRestoreUser(&saved);
}

/*
 * How long the check may wait for a lock while a Citus worker prepares its part of a distributed
 * transaction: the transaction's parts that prepared already hold their locks without a backend,
 * so Citus's distributed deadlock detection cannot see a cycle through them (doc/scale-out.md,
 * "The check at commit on a shard").
 */
#define PREPARE_LOCK_TIMEOUT "5s"

static void CheckAtCommit(void);

/*
 * The check of a transaction being prepared (on a Citus worker, its part of a distributed
 * transaction): with a bounded wait, a wait that times out failing as a deadlock (to be retried)
 * instead of hanging.  Elsewhere (PREPARE TRANSACTION on one node) as at commit.
 */
static void
CheckAtPrepare(void)
{
	LeadsAttachment *leads;
	MemoryContext cxt = CurrentMemoryContext;
	bool citus;

	/* at commit no statement is running: the lookups run in a snapshot of their own */
	PushActiveSnapshot(GetTransactionSnapshot());
	leads = LsAttachments()->leads;
	citus = leads != NULL && LsIsCitusTable(leads->relid);
	PopActiveSnapshot();
	if (!citus)
	{
		CheckAtCommit();
		return;
	}
	(void) set_config_option("lock_timeout", PREPARE_LOCK_TIMEOUT, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	PG_TRY();
	{
		CheckAtCommit();
	}
	PG_CATCH();
	{
		ErrorData *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		ereport(
			ERROR,
			(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
			 errmsg("lead_scoring's check at commit waited too long for a lock while this worker "
					"prepared its part of a distributed transaction"),
			 errdetail("The check serialises rule changes with writers of events that count for no "
					   "rule; it waited %s for another transaction (%s).",
					   PREPARE_LOCK_TIMEOUT, edata->message),
			 errhint("Retry the transaction, as after a deadlock.")));
	}
	PG_END_TRY();
}

/* At commit: rescore the uncounted rows' leads when the engagement rules are no longer the ones
 * they were filtered with. */
static void
CheckAtCommit(void)
{
	const InFlight *in_flight = RulesInFlightRecord();
	bool uncounted = in_flight->filtered && (in_flight->n > 0 || in_flight->overflow);
	RuleSet *rs;
	LsSavedUser saved;

	if (in_flight->changes_rules)
		LockRulesCommit(ExclusiveLock);
	if (!uncounted)
		return;
	LockRulesCommit(ShareLock);
	/* at commit no statement is running: the lookups, locks and rescores run in a snapshot of their
	 * own */
	if (in_flight->on_shard && !in_flight->overflow)
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		HoldUncountedLeads();
		PopActiveSnapshot();
	}
	/* rule changes committed before the locks were granted: the rules are loaded after them */
	AcceptInvalidationMessages();
	PushActiveSnapshot(GetTransactionSnapshot());
	rs = LsRules();
	if ((in_flight->several || rs->eng_fingerprint != in_flight->eng_fp) && rs->leads != NULL)
	{
		LsBecomeExtensionOwner(&saved);
		if (in_flight->overflow || rs->leads->relid != in_flight->leads_relid)
			(void) RescoreAll();
		else
			RescoreLeadsFromEvents(rs, in_flight->ids, in_flight->n, in_flight->on_shard);
		LsRestoreUser(&saved);
	}
	PopActiveSnapshot();
}

static void
RulesInFlightXactCallback(XactEvent event, void *arg)
{
	const InFlight *in_flight = RulesInFlightRecord();

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (in_flight->changes_rules || in_flight->filtered)
				CheckAtCommit();
			RulesInFlightForget();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (in_flight->changes_rules || in_flight->filtered)
				CheckAtPrepare();
			RulesInFlightForget();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			RulesInFlightForget();
			break;
		default:
			break;
	}
}

void
RulesInFlightCheckInit(void)
{
	RegisterXactCallback(RulesInFlightXactCallback, NULL);
}
