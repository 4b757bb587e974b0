/*
 * deals.c — deal triggers moving leads to opportunity, customer or lost.
 *
 * deals_changed (AFTER INSERT OR UPDATE, per row, on every attached deals
 * table) works out the deal's outcome — won when its status is one of
 * settings.won_statuses and its close time is set, lost when its status is
 * one of settings.lost_statuses, open otherwise — and, when a deal is
 * inserted or its outcome or lead changes, moves the lead:
 *   open → opportunity, won → customer,
 *   lost → lost unless another deal of the lead is open or won.
 * The move is an UPDATE of the leads table's stage column made as the
 * extension owner, announced to StageForWrite (stages.c) as a deal move, so
 * that a move can_transition refuses is skipped (the deal is saved, the lead
 * stays where it is) and the log says why the lead moved.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "catalog/pg_am.h"
#include "executor/tuptable.h"
#include "parser/parse_coerce.h"
#include "spi_glue.h"
#include "trigger_call.h"
#include "utils/snapmgr.h"
#include "access/table.h"
#include "access/tupconvert.h"
#include "catalog/partition.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "attachment.h"
#include "citus_shards.h"
#include "funnel_stage.h"
#include "lead_locks.h"
#include "row_filter.h"
#include "run_as.h"
#include "settings.h"
#include "stages.h"

typedef enum DealOutcome
{
	DEAL_OPEN,
	DEAL_WON,
	DEAL_LOST
} DealOutcome;

/* Whether a (lower-case, trimmed) status is in a settings list. */
static bool
StatusIn(const char *status, char **list, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(status, list[i]) == 0)
			return true;
	return false;
}

/* The outcome of a deal with this (non-NULL) status text and whether its close time is set. */
static DealOutcome
OutcomeOfStatus(const char *status, bool closed)
{
	const LsSettings *settings = LsGetSettings();
	const char *start;
	const char *end;
	char *lower;

	/* btrim(status) with its default argument trims spaces only */
	for (start = status; *start == ' '; start++)
		;
	for (end = start + strlen(start); end > start && end[-1] == ' '; end--)
		;
	lower = str_tolower(start, end - start, DEFAULT_COLLATION_OID);
	if (closed && StatusIn(lower, settings->won_statuses, settings->nwon))
		return DEAL_WON;
	if (StatusIn(lower, settings->lost_statuses, settings->nlost))
		return DEAL_LOST;
	return DEAL_OPEN;
}

/* The outcome of a deal row, as the canonical view lead_scoring.deals computes it. */
static DealOutcome
OutcomeOf(const DealsAttachment *deals, HeapTuple row, TupleDesc desc)
{
	bool isnull;
	Datum d;
	Oid output;
	bool varlena;
	char *status;
	bool closed = true;

	/* attach_deals' won_filter and lost_filter, besides the status lists */
	if (deals->closed_att != InvalidAttrNumber)
	{
		(void) heap_getattr(row, deals->closed_att, desc, &isnull);
		closed = !isnull;
	}
	if (deals->won_filter != NULL && closed && LsRowPasses(deals->won_filter, desc, row))
		return DEAL_WON;
	if (deals->status_att == InvalidAttrNumber)
		return deals->lost_filter != NULL && LsRowPasses(deals->lost_filter, desc, row) ? DEAL_LOST
																						: DEAL_OPEN;
	d = heap_getattr(row, deals->status_att, desc, &isnull);
	if (isnull)
		return deals->lost_filter != NULL && LsRowPasses(deals->lost_filter, desc, row) ? DEAL_LOST
																						: DEAL_OPEN;
	getTypeOutputInfo(deals->status_type, &output, &varlena);
	status = OidOutputFunctionCall(output, d);
	/* without a close column (closed_column => NULL) the won status alone decides */
	if (OutcomeOfStatus(status, closed) == DEAL_OPEN && deals->lost_filter != NULL &&
		LsRowPasses(deals->lost_filter, desc, row))
		return DEAL_LOST;
	return OutcomeOfStatus(status, closed);
}

/* The funnel stage attach_deals' stage_map gives a deal's own stage (its text), or NULL. */
static const FunnelStage *
MappedStageOf(const DealsAttachment *deals, const char *status)
{
	int i;

	if (status == NULL)
		return NULL;
	for (i = 0; i < deals->stage_count; i++)
		if (strcmp(deals->stage_values[i], status) == 0)
			return &deals->stage_targets[i];
	return NULL;
}

/* The funnel stage attach_deals' stage_map gives the deal's own stage, or NULL when not mapped. */
static const FunnelStage *
MappedStage(const DealsAttachment *deals, HeapTuple row, TupleDesc desc)
{
	bool isnull;
	Datum d;
	Oid output;
	bool varlena;

	if (deals->status_att == InvalidAttrNumber)
		return NULL;
	d = heap_getattr(row, deals->status_att, desc, &isnull);
	if (isnull)
		return NULL;
	getTypeOutputInfo(deals->status_type, &output, &varlena);
	return MappedStageOf(deals, OidOutputFunctionCall(output, d));
}

/*
 * Cached plans, addressed to one leads relation — the table, or a Citus shard of it with the deals
 * shards colocated with it (doc/scale-out.md, "The shard-local write path") — and rebuilt when the
 * attachments change or another leads relation is addressed.
 */
static SPIPlanPtr lock_plan = NULL;		/* lock the lead row */
static SPIPlanPtr outcomes_plan = NULL; /* the lead's deals (see PreparePlans) */
static SPIPlanPtr move_plan = NULL;		/* move the lead */
static uint64 plans_generation = 0;
static Oid plans_leads = InvalidOid;
static List *plans_deals = NIL; /* DealsAttachment *: each deals table, or its colocated shard */

/* Prepare and keep one plan. */
static SPIPlanPtr
KeepPlan(const char *sql, int nargs, Oid *argtypes)
{
	return LsKeepPlan(sql, nargs, argtypes, false);
}

/* Each attached deals table as addressed beside `leads`: itself, or its shard colocated with it. */
static List *
DealsBeside(const LeadsAttachment *leads)
{
	List *result = NIL;
	ListCell *lc;

	foreach (lc, LsAttachments()->deals)
	{
		DealsAttachment *d = lfirst(lc);

		if (LsIsShard(leads->relid))
		{
			Oid shard = LsColocatedShard(leads->relid, d->relid);

			if (!OidIsValid(shard))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("deals table \"%s\" is not colocated with the leads table \"%s\"",
								get_rel_name(d->relid), get_rel_name(LsLogicalRelid(leads->relid))),
						 errdetail("This node holds leads shard \"%s\" but no shard of the deals "
								   "table with the same hash range.",
								   get_rel_name(leads->relid)),
						 errhint("Distribute it by its lead column with colocate_with => '%s'.",
								 get_rel_name(LsLogicalRelid(leads->relid)))));
			d = LsDealsShardAttachment(shard);
		}
		result = lappend(result, d);
	}
	return result;
}

/* Make the cached plans current for these attachments and this leads relation (SPI connected). */
static void
PreparePlans(const LeadsAttachment *leads)
{
	uint64 generation = LsAttachments()->generation;
	Oid stage_type;
	Oid args[3];
	MemoryContext old;
	StringInfoData sql;
	int i;

	if (move_plan != NULL && plans_generation == generation && plans_leads == leads->relid)
		return;
	if (move_plan != NULL)
	{
		SPI_freeplan(lock_plan);
		if (outcomes_plan != NULL)
			SPI_freeplan(outcomes_plan);
		SPI_freeplan(move_plan);
		lock_plan = outcomes_plan = move_plan = NULL;
	}
	list_free(plans_deals);
	old = MemoryContextSwitchTo(TopMemoryContext);
	plans_deals = DealsBeside(leads);
	MemoryContextSwitchTo(old);
	stage_type = get_atttype(leads->relid, leads->stage_att);

	args[0] = leads->id_type;
	lock_plan = KeepPlan(psprintf("SELECT 1 FROM %s WHERE %s %s $1 FOR NO KEY UPDATE",
								  leads->qualname, leads->id_col, leads->id_eq),
						 1, args);
	/*
	 * The lead's deals straight from the deals tables (through their lead index), not the view:
	 * every lead insert and every lost deal runs it.  Names come from the attached table (a
	 * shard has the same), rows from the relation addressed.
	 */
	initStringInfo(&sql);
	for (i = 0; i < list_length(plans_deals); i++)
	{
		DealsAttachment *t = list_nth(LsAttachments()->deals, i); /* the table */
		DealsAttachment *d = list_nth(plans_deals, i);			  /* the relation addressed */

		char *closed =
			t->closed_att == InvalidAttrNumber
				? "true"
				: psprintf("d.%s IS NOT NULL",
						   quote_identifier(get_attname(t->relid, t->closed_att, false)));

		/* the status text, closed, the table, the outcome won_filter/lost_filter give, and the
		 * deal's id as text; a table without a close column: the won status alone decides; rows
		 * outside the row filter are no deals (doc/crm_schemas.md) */
		appendStringInfo(
			&sql,
			"%sSELECT %s, %s, %u::pg_catalog.oid, CASE WHEN %s AND %s THEN 'won' WHEN %s THEN "
			"'lost' END, d.%s::pg_catalog.text FROM %s d WHERE d.%s %s $1%s",
			sql.len > 0 ? " UNION ALL " : "",
			t->status_att == InvalidAttrNumber
				? "NULL::pg_catalog.text"
				: psprintf("d.%s::pg_catalog.text",
						   quote_identifier(get_attname(t->relid, t->status_att, false))),
			closed, t->relid,
			t->won_filter ? LsRowFilterSql(t->relid, t->won_filter, "d") : "false", closed,
			t->lost_filter ? LsRowFilterSql(t->relid, t->lost_filter, "d") : "false",
			quote_identifier(get_attname(t->relid, t->id_att, false)), d->qualname,
			quote_identifier(get_attname(t->relid, t->lead_att, false)), leads->id_eq,
			t->row_filter ? psprintf(" AND %s", LsRowFilterSql(t->relid, t->row_filter, "d")) : "");
	}
	outcomes_plan = sql.len > 0 ? KeepPlan(sql.data, 1, args) : NULL;
	/* no name in the schema lead_scoring: the plan may be replanned as the leads table's owner */
	args[1] = stage_type;
	args[2] = TEXTOID;
	move_plan = KeepPlan(psprintf("UPDATE %s SET %s = $2 WHERE %s %s $1 AND %s::pg_catalog.text "
								  "OPERATOR(pg_catalog.<>) $3",
								  leads->qualname, leads->stage_col, leads->id_col, leads->id_eq,
								  leads->stage_col),
						 3, args);
	plans_generation = generation;
	plans_leads = leads->relid;
}

/*
 * The outcome of a row of outcomes_plan: won_filter and lost_filter decide first (column 4), then
 * the status (a NULL status is an open deal, as in OutcomeOf).
 */
static DealOutcome
OutcomeOfRow(HeapTuple tup, TupleDesc desc)
{
	bool isnull;
	bool closed = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
	char *status = SPI_getvalue(tup, desc, 1);
	char *by_filter = SPI_getvalue(tup, desc, 4);
	DealOutcome outcome;

	if (by_filter != NULL && strcmp(by_filter, "won") == 0)
		return DEAL_WON;
	outcome = status == NULL ? DEAL_OPEN : OutcomeOfStatus(status, closed);
	if (outcome == DEAL_OPEN && by_filter != NULL)
		outcome = DEAL_LOST;
	return outcome;
}

/*
 * Lock the lead's row; false when there is no such lead.  A lead not found may
 * be being inserted by another transaction: wait for such inserts (lead_locks.h)
 * and look again, so that the deal moves it once it exists.
 */
static bool
LockLead(const LeadsAttachment *leads, Datum lead_id)
{
	if (SPI_execute_plan(lock_plan, &lead_id, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the lead of a deal");
	if (SPI_processed > 0)
		return true;
	LockLeadIdBucket(leads, lead_id, RowExclusiveLock);
	if (SPI_execute_plan(lock_plan, &lead_id, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the lead of a deal");
	if (SPI_processed > 0)
		return true;
	RefuseUnseenLead(leads, lead_id);
	return false;
}

/* Does the lead have a deal, other than this one, that is open or won? */
static bool
LeadHasOtherLiveDeal(Datum lead_id, Oid deals_relid, const char *deal_ref)
{
	uint64 i;

	/* lock the lead first: a concurrent loss of its other deal then waits and sees ours */
	if (SPI_execute_plan(lock_plan, &lead_id, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock the lead of a deal");
	if (outcomes_plan == NULL)
		return false;
	if (SPI_execute_plan(outcomes_plan, &lead_id, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the other deals of a lead");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool isnull;
		Oid table = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		char *ref = SPI_getvalue(tup, desc, 5);

		/* this deal (a deal without an id: every deal of its table, as SQL's NULL comparison) */
		if (table == deals_relid && (deal_ref == NULL || ref == NULL || strcmp(ref, deal_ref) == 0))
			continue;
		if (OutcomeOfRow(tup, desc) != DEAL_LOST)
			return true;
	}
	return false;
}

/*
 * Move the lead of a deal according to the deal's outcome, or to crm_target, the funnel stage of
 * the deal's own stage (attach_deals' stage_map) when it has one.
 */
static void
MoveLead(const LeadsAttachment *leads, Oid deals_relid, Datum lead_id, const char *deal_ref,
		 DealOutcome outcome, const FunnelStage *crm_target, bool enforce)
{
	DealMove move;
	const DealMove *previous;
	Datum args[3];
	LsSavedUser saved;

	memset(&move, 0, sizeof(move));
	move.lead_id = lead_id;
	if (crm_target != NULL)
	{
		move.target = *crm_target;
		move.reason = REASON_CRM_STAGE;
		move.crm_stage = true;
		move.enforce = enforce;
		outcome = *crm_target == FS_LOST ? DEAL_LOST : DEAL_OPEN;
	}
	else
		switch (outcome)
		{
			case DEAL_OPEN:
				move.target = FS_OPPORTUNITY;
				move.reason = REASON_DEAL_OPENED;
				break;
			case DEAL_WON:
				move.target = FS_CUSTOMER;
				move.reason = REASON_DEAL_WON;
				break;
			default:
				move.target = FS_LOST;
				move.reason = REASON_DEAL_LOST;
				break;
		}

	LsSpiConnect();
	PreparePlans(leads);
	if (!LockLead(leads, lead_id))
	{
		SPI_finish();
		return; /* no such lead: nothing to move */
	}
	if (outcome != DEAL_LOST || !LeadHasOtherLiveDeal(lead_id, deals_relid, deal_ref))
	{
		args[0] = lead_id;
		args[1] = FunnelStageGetDatum(move.target);
		args[2] = CStringGetTextDatum(FunnelStageLabel(move.target));
		previous = StageSetDealMove(&move);
		/* the leads table's own triggers run beneath: as its owner (src/run_as.h) */
		LsBeginTableWrite(leads->relid, &saved);
		PG_TRY();
		{
			if (SPI_execute_plan(move_plan, args, NULL, false, 0) != SPI_OK_UPDATE)
				elog(ERROR, "could not move the lead of a deal");
		}
		PG_FINALLY();
		{
			StageSetDealMove(previous);
		}
		PG_END_TRY();
		LsEndTableWrite(&saved);
	}
	SPI_finish();
}

/*
 * Probe one deals table's lead index for a row of the lead (latest snapshot).
 * Returns false when the table has no usable index (the caller then asks SQL).
 */
static bool
ProbeLeadIndex(const LeadsAttachment *leads, const DealsAttachment *d, Relation rel, Datum lead_id,
			   Snapshot snapshot, bool *found)
{
	List *indexes = RelationGetIndexList(rel);
	ListCell *ic;
	bool probed = false;

	foreach (ic, indexes)
	{
		Relation ir = index_open(lfirst_oid(ic), AccessShareLock);
		Oid op = InvalidOid;

		if (ir->rd_rel->relam == BTREE_AM_OID && ir->rd_index->indisvalid &&
			ir->rd_index->indkey.values[0] == d->lead_att && RelationGetIndexPredicate(ir) == NIL &&
			IsBinaryCoercible(leads->id_type, ir->rd_opcintype[0]))
			op = get_opfamily_member(ir->rd_opfamily[0], ir->rd_opcintype[0], ir->rd_opcintype[0],
									 BTEqualStrategyNumber);
		if (OidIsValid(op))
		{
			ScanKeyData key;
			IndexScanDesc scan;
			TupleTableSlot *slot = table_slot_create(rel, NULL);

			ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, ir->rd_opcintype[0],
								   ir->rd_indcollation[0], get_opcode(op), lead_id);
			scan = index_beginscan(rel, ir, snapshot, 1, 0);
			index_rescan(scan, &key, 1, NULL, 0);
			*found = index_getnext_slot(scan, ForwardScanDirection, slot);
			index_endscan(scan);
			ExecDropSingleTupleTableSlot(slot);
			probed = true;
		}
		index_close(ir, AccessShareLock);
		if (probed)
			break;
	}
	list_free(indexes);
	return probed;
}

/*
 * Whether any attached deals table may hold a deal of the lead: a probe of
 * each table's lead index, so that the common case (a new lead without deals)
 * costs no query.  Partitioned tables and tables without such an index answer
 * "maybe".
 */
static bool
MayHaveDeals(const LeadsAttachment *leads, Datum lead_id)
{
	Snapshot snapshot = RegisterSnapshot(GetLatestSnapshot());
	bool found = false;
	ListCell *lc;

	foreach (lc, plans_deals)
	{
		DealsAttachment *d = lfirst(lc);
		Relation rel = table_open(d->relid, AccessShareLock);

		if (rel->rd_rel->relkind != RELKIND_RELATION ||
			!ProbeLeadIndex(leads, d, rel, lead_id, snapshot, &found))
			found = true;
		table_close(rel, AccessShareLock);
		if (found)
			break;
	}
	UnregisterSnapshot(snapshot);
	return found;
}

/*
 * How far a deal takes its lead, for a new lead with several deals: customer
 * furthest, then the funnel's order back to new, then recycled and
 * disqualified, lost only when no deal is live (as extension/parts/40_attach.sql's
 * backfill_deals ranks them).
 */
static int
StageRank(FunnelStage stage)
{
	if (stage <= FS_CUSTOMER)
		return (int) stage + 3;
	return stage == FS_RECYCLED ? 2 : (stage == FS_DISQUALIFIED ? 1 : 0);
}

/* The attached deals table relid, or NULL. */
static const DealsAttachment *
DealsAttachmentById(Oid relid)
{
	ListCell *lc;

	foreach (lc, LsAttachments()->deals)
		if (((DealsAttachment *) lfirst(lc))->relid == relid)
			return lfirst(lc);
	return NULL;
}

/*
 * A lead just inserted whose deals were written before it (while it did not
 * exist, or while its insert was in progress: lead_locks.h) moves as the best
 * of them would have moved it: won → customer, else open → opportunity, else
 * lost → lost (doc/funnel.md, "Deals").  A deal whose own stage is mapped by
 * attach_deals' stage_map counts as that funnel stage instead (the furthest of
 * them, lost only when every deal is lost), as the same deal inserted after
 * the lead would have moved it (doc/crm_schemas.md, "The CRM's own stage").
 * Called by leads_after, as the extension owner, after the lead's creation is
 * logged.
 */
void
DealsMoveNewLead(const LeadsAttachment *leads, Datum lead_id)
{
	bool won = false;
	bool open = false;
	bool mapped = false;
	FunnelStage best = FS_LOST;
	uint64 count;
	uint64 i;

	LsSpiConnect();
	PreparePlans(leads);
	if (!MayHaveDeals(leads, lead_id))
	{
		SPI_finish();
		return;
	}
	/* the latest snapshot, as the probe: under REPEATABLE READ too, the deals it waited for count
	 */
	if (outcomes_plan == NULL ||
		SPI_execute_snapshot(outcomes_plan, &lead_id, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the deals of a new lead");
	count = SPI_processed;
	for (i = 0; i < count; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		bool isnull;
		char *status = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
		DealOutcome outcome = OutcomeOfRow(tup, SPI_tuptable->tupdesc);
		const DealsAttachment *d = DealsAttachmentById(
			DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull)));
		const FunnelStage *target = d != NULL ? MappedStageOf(d, status) : NULL;
		FunnelStage stage;

		stage = target != NULL ? *target
							   : (outcome == DEAL_WON	 ? FS_CUSTOMER
								  : outcome == DEAL_OPEN ? FS_OPPORTUNITY
														 : FS_LOST);

		mapped |= (target != NULL);
		won |= (outcome == DEAL_WON);
		open |= (outcome == DEAL_OPEN);
		if (StageRank(stage) > StageRank(best))
			best = stage;
	}
	SPI_finish();
	if (count > 0 && mapped)
		MoveLead(leads, InvalidOid, lead_id, NULL, best == FS_LOST ? DEAL_LOST : DEAL_OPEN, &best,
				 false);
	else if (count > 0)
		MoveLead(leads, InvalidOid, lead_id, NULL, won ? DEAL_WON : (open ? DEAL_OPEN : DEAL_LOST),
				 NULL, false);
}

/*
 * The attachment a deals row belongs to: its own table's, or, for a partition
 * (whose row triggers are clones of the partitioned table's), the attached
 * ancestor's.  The rows are converted to the attached table's row type when
 * the partition's columns are laid out differently.
 */
static DealsAttachment *
DealsAttachmentFor(Relation rel, HeapTuple *row, HeapTuple *old_row, TupleDesc *desc)
{
	DealsAttachment *deals = LsDealsAttachmentOf(rel); /* the table, or a Citus shard of it */
	ListCell *lc;

	*desc = RelationGetDescr(rel);
	if (deals != NULL || !rel->rd_rel->relispartition)
		return deals;
	foreach (lc, get_partition_ancestors(RelationGetRelid(rel)))
	{
		deals = LsDealsAttachment(lfirst_oid(lc));
		if (deals != NULL)
		{
			Relation root = table_open(deals->relid, AccessShareLock);
			TupleConversionMap *map = convert_tuples_by_name(*desc, RelationGetDescr(root));

			*desc = RelationGetDescr(root);
			if (map != NULL)
			{
				*row = execute_attr_map_tuple(*row, map);
				if (*old_row != NULL)
					*old_row = execute_attr_map_tuple(*old_row, map);
			}
			table_close(root, NoLock);
			return deals;
		}
	}
	return NULL;
}

/* deals_changed(): move the lead of a deal that was inserted, or whose outcome or lead changed. */
PG_FUNCTION_INFO_V1(deals_changed);
Datum
deals_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation rel;
	TupleDesc desc;
	DealsAttachment *deals;
	LeadsAttachment *leads;
	HeapTuple row;
	HeapTuple old_row;
	DealOutcome outcome;
	Datum lead_id;
	bool isnull;
	bool moves = true;
	const FunnelStage *crm_target;
	LsSavedUser saved;

	(void) LsTriggerCall(fcinfo, "deals_changed", false, true, 0);
	/* deleting a deal is not a business event: the lead stays where it is */
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) && !TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		return PointerGetDatum(NULL);
	rel = td->tg_relation;
	row = TRIGGER_FIRED_BY_INSERT(td->tg_event) ? td->tg_trigtuple : td->tg_newtuple;
	old_row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_trigtuple : NULL;
	deals = DealsAttachmentFor(rel, &row, &old_row, &desc);
	if (deals == NULL)
		ereport(
			ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("deals_changed() fired on table \"%s\", which is not an attached deals table",
					RelationGetRelationName(rel)),
			 errhint("Use lead_scoring.attach_deals() and lead_scoring.detach().")));
	leads = LsLeadsAttachmentNear(rel); /* the table, or its shard beside this deals shard */
	lead_id = heap_getattr(row, deals->lead_att, desc, &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	/* a row outside attach's row_filter is no deal (soft-deleted, say): like a delete, it moves
	 * nothing; a row coming back into the filter counts as new (doc/crm_schemas.md, "Row filters")
	 */
	if (deals->row_filter != NULL)
	{
		if (!LsRowPasses(deals->row_filter, desc, row))
			return PointerGetDatum(NULL);
		if (old_row != NULL && !LsRowPasses(deals->row_filter, desc, old_row))
			old_row = NULL;
	}

	/* the settings, the leads table and the other deals are read and written as the extension owner
	 */
	LsBecomeExtensionOwner(&saved);
	outcome = OutcomeOf(deals, row, desc);
	crm_target = deals->stage_count > 0 ? MappedStage(deals, row, desc) : NULL;
	if (old_row != NULL)
	{
		bool old_null;
		Datum old_lead = heap_getattr(old_row, deals->lead_att, desc, &old_null);

		/* the lead moves only when the deal changed its lead or its outcome, or (mapped) its stage
		 */
		moves = old_null || LsCompareLeadIds(leads, old_lead, lead_id) != 0 ||
				(crm_target != NULL ? (MappedStage(deals, old_row, desc) == NULL ||
									   *MappedStage(deals, old_row, desc) != *crm_target)
									: OutcomeOf(deals, old_row, desc) != outcome);
	}
	if (moves)
	{
		bool id_null;
		Datum deal_id = heap_getattr(row, deals->id_att, desc, &id_null);
		char *deal_ref = NULL;

		if (!id_null)
		{
			Oid output;
			bool varlena;

			getTypeOutputInfo(TupleDescAttr(desc, deals->id_att - 1)->atttypid, &output, &varlena);
			deal_ref = OidOutputFunctionCall(output, deal_id);
		}
		MoveLead(leads, LsLogicalRelid(deals->relid), lead_id, deal_ref, outcome, crm_target,
				 deals->stage_enforce);
	}
	LsRestoreUser(&saved);
	return PointerGetDatum(NULL);
}
