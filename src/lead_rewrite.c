/*
 * lead_rewrite.c — rewriting lead rows in id order through their triggers, at executor level
 * (src/lead_rewrite.h; doc/internals.md, "Rewriting lead rows").
 *
 * The steps are those of an UPDATE's ModifyTable for one row, in PostgreSQL's order, and of
 * logical replication's apply (execReplication.c), with the row found and locked as the UPDATE's
 * scan and its BEFORE trigger's row fetch would: under the statement's snapshot, then locked,
 * following the update chain only under READ COMMITTED.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "citus_shards.h"
#include "lead_rewrite.h"
#include "rewrite_cache.h"

/* lead_scoring.direct_rewrite: off makes every rewrite an UPDATE statement (to compare the two). */
static bool direct_rewrite = true;

void
LeadRewriteInit(void)
{
	DefineCustomBoolVariable(
		"lead_scoring.direct_rewrite",
		"Rewrites lead rows at executor level instead of with UPDATE statements where the two "
		"cannot differ.",
		"Off: every rewrite of a lead row by the scoring engine is an UPDATE statement, as before "
		"0.2.0; for comparisons and diagnosis (doc/internals.md, \"Rewriting lead rows\").",
		&direct_rewrite, true, PGC_USERSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	RewriteCacheInit();
}

static PGFunction own_before = NULL;
static PGFunction own_after = NULL;
static LeadBeforeDirectFn own_direct = NULL;

void
LeadRewriteOwnTriggers(PGFunction before, PGFunction after, LeadBeforeDirectFn direct)
{
	own_before = before;
	own_after = after;
	own_direct = direct;
}

/* Whether a trigger is a row-level UPDATE one, BEFORE or AFTER. */
static bool
RowUpdate(const Trigger *t, bool before)
{
	return TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_UPDATE(t->tgtype) &&
		   (TRIGGER_FOR_BEFORE(t->tgtype) != 0) == before;
}

/* Whether a function's C code is 'fn'. */
static bool
FunctionIs(Oid foid, PGFunction fn)
{
	FmgrInfo finfo;

	fmgr_info(foid, &finfo);
	return finfo.fn_addr == fn;
}

/*
 * Which of the relation's row UPDATE triggers are the extension's own, kept in the rewrite's shape
 * (which goes when the relation's triggers change): the index in its trigger descriptor of its
 * only row-level BEFORE UPDATE trigger when that runs own_before for every row (no WHEN condition,
 * no column list), else -1; and whether every row-level AFTER UPDATE trigger runs own_after.
 */
static void
OwnTriggers(Relation rel, RewriteShape *shape)
{
	TriggerDesc *trig = rel->trigdesc;
	int before = -1;
	int nbefore = 0;
	int i;

	shape->own_before = -1;
	shape->own_before_oid = InvalidOid;
	shape->own_after_only = true;
	if (own_before == NULL || trig == NULL)
		return;
	for (i = 0; i < trig->numtriggers; i++)
	{
		const Trigger *t = &trig->triggers[i];

		if (RowUpdate(t, true))
		{
			before = i;
			nbefore++;
		}
		else if (RowUpdate(t, false) && !FunctionIs(t->tgfoid, own_after))
			shape->own_after_only = false;
	}
	if (nbefore == 1 && trig->triggers[before].tgqual == NULL &&
		trig->triggers[before].tgnattr == 0 &&
		FunctionIs(trig->triggers[before].tgfoid, own_before))
	{
		shape->own_before = before;
		shape->own_before_oid = trig->triggers[before].tgoid;
	}
}

/*
 * Whether the rewrite calls the extension's trigger directly (see LeadRewriteOwnTriggers): the
 * shape's trigger is still the one found (the same trigger at the same place in rri's descriptor, a
 * copy of the relation's) and would fire now, in the session's replication role.
 */
static bool
OwnBeforeFires(const ResultRelInfo *rri, const RewriteShape *shape)
{
	TriggerDesc *trig = rri->ri_TrigDesc;
	const Trigger *t;

	if (shape->own_before < 0 || trig == NULL || shape->own_before >= trig->numtriggers)
		return false;
	t = &trig->triggers[shape->own_before];
	if (t->tgoid != shape->own_before_oid)
		return false;
	/* TriggerEnabled's rule for the session's replication role */
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return t->tgenabled == TRIGGER_FIRES_ON_REPLICA || t->tgenabled == TRIGGER_FIRES_ALWAYS;
	return t->tgenabled == TRIGGER_FIRES_ON_ORIGIN || t->tgenabled == TRIGGER_FIRES_ALWAYS;
}

/* Whether an UPDATE of the relation is one of its rows at a time, with nothing else to run. */
static bool
RewritableRelation(Relation rel)
{
	Form_pg_class form = rel->rd_rel;
	TriggerDesc *trig = rel->trigdesc;

	/* partitioned tables, partitions, inheritance parents: an UPDATE may route or reach more */
	if (form->relkind != RELKIND_RELATION || form->relispartition || form->relhassubclass)
		return false;
	/* rules rewrite the UPDATE itself */
	if (form->relhasrules || rel->rd_rules != NULL)
		return false;
	if (rel->rd_tableam != GetHeapamTableAmRoutine())
		return false;
	/* statement triggers and transition tables see the statement as a whole */
	if (trig != NULL && (trig->trig_update_before_statement || trig->trig_update_after_statement ||
						 trig->trig_update_old_table || trig->trig_update_new_table))
		return false;
	/* policies would filter and check the rows (not for the owner, without FORCE) */
	if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		return false;
	/* a distributed table seen from the coordinator: its rows are in its shards */
	if (LsIsCitusTable(RelationGetRelid(rel)))
		return false;
	return true;
}

/* The id index: what "WHERE id = $1" with the id type's equality finds, one row at most. */
typedef struct IdIndex
{
	Relation index;
	bool own; /* opened alone (closed by LeadRewrite), not among the result relation's indexes */
	Oid subtype;
	Oid collation;
	RegProcedure eqproc;
	FmgrInfo eq;
} IdIndex;

/* Whether an index is what "WHERE id = $1" with the id type's equality (of 'family') uses. */
static bool
IdIndexFits(Relation index, const LeadsAttachment *leads, Oid family)
{
	Form_pg_index form = index->rd_index;

	return index->rd_rel->relam == BTREE_AM_OID && form->indisunique && form->indimmediate &&
		   form->indisvalid && form->indislive && form->indnkeyatts == 1 &&
		   form->indkey.values[0] == leads->id_att && index->rd_opfamily[0] == family &&
		   index->rd_indcollation[0] == leads->id_collation &&
		   heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL) &&
		   heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs, NULL);
}

static void
UseIdIndex(IdIndex *id, Relation index, bool own, const LeadsAttachment *leads,
		   const RewriteShape *shape)
{
	id->index = index;
	id->own = own;
	id->subtype = shape->subtype;
	id->collation = leads->id_collation;
	id->eqproc = shape->eqproc;
	fmgr_info(id->eqproc, &id->eq);
}

/*
 * Find the id index among the result relation's indexes, opening them all, and the lock mode of
 * the rewrite; remember both (src/rewrite_cache.h).
 */
static bool
FindIdIndex(EState *estate, ResultRelInfo *rri, const LeadsAttachment *leads, IdIndex *found,
			RewriteShape *out)
{
	uint64 generation = RewriteShapeGeneration();
	/* the id type's default btree operator family and its equality (cached by PostgreSQL) */
	TypeCacheEntry *type = lookup_type_cache(leads->id_type, TYPECACHE_BTREE_OPFAMILY);
	RewriteShape shape;
	Oid opno;
	int i;

	if (!OidIsValid(type->btree_opf))
		return false;
	shape.family = type->btree_opf;
	shape.subtype = type->btree_opintype;
	opno = get_opfamily_member(shape.family, shape.subtype, shape.subtype, BTEqualStrategyNumber);
	if (!OidIsValid(opno))
		return false;
	shape.eqproc = get_opcode(opno);
	shape.lockmode = ExecUpdateLockMode(estate, rri);
	OwnTriggers(rri->ri_RelationDesc, &shape);
	ExecOpenIndices(rri, false);
	for (i = 0; i < rri->ri_NumIndices; i++)
	{
		Relation index = rri->ri_IndexRelationDescs[i];

		if (!IdIndexFits(index, leads, shape.family))
			continue;
		shape.index = RelationGetRelid(index);
		RewriteShapeSet(RelationGetRelid(rri->ri_RelationDesc), &shape, generation);
		UseIdIndex(found, index, false, leads, &shape);
		*out = shape;
		return true;
	}
	return false;
}

/*
 * The id index and the rewrite's shape: the index found by an earlier rewrite of the relation,
 * opened alone and checked again, else found among all the relation's indexes.
 */
static bool
OpenIdIndex(EState *estate, ResultRelInfo *rri, const LeadsAttachment *leads, IdIndex *id,
			RewriteShape *shape)
{
	Relation rel = rri->ri_RelationDesc;

	if (RewriteShapeGet(RelationGetRelid(rel), shape))
	{
		/* as ExecOpenIndices would lock it; gone (dropped meanwhile): look again */
		Relation index = try_relation_open(shape->index, RowExclusiveLock);

		if (index != NULL)
		{
			if (index->rd_rel->relkind == RELKIND_INDEX && index->rd_index != NULL &&
				index->rd_index->indrelid == RelationGetRelid(rel) &&
				IdIndexFits(index, leads, shape->family))
			{
				UseIdIndex(id, index, true, leads, shape);
				return true;
			}
			relation_close(index, NoLock);
		}
	}
	return FindIdIndex(estate, rri, leads, id, shape);
}

/* The range table entry of "UPDATE leads SET score = ... WHERE id = ...", for permissions and for
 * the triggers' view of the updated columns. */
static RangeTblEntry *
UpdateRte(Relation rel, const LeadsAttachment *leads, bool score_read)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->inh = false;
	rte->requiredPerms = ACL_SELECT | ACL_UPDATE;
	rte->checkAsUser = InvalidOid;
	rte->selectedCols = bms_make_singleton(leads->id_att - FirstLowInvalidHeapAttributeNumber);
	if (score_read)
		rte->selectedCols = bms_add_member(rte->selectedCols,
										   leads->score_att - FirstLowInvalidHeapAttributeNumber);
	rte->updatedCols = bms_make_singleton(leads->score_att - FirstLowInvalidHeapAttributeNumber);
	return rte;
}

/* A row this command modified: an error unless by this very command id (ExecUpdate's rule). */
static void
CheckSelfModified(const TM_FailureData *tmfd, const EState *estate)
{
	if (tmfd->cmax != estate->es_output_cid)
		ereport(ERROR, (errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
						errmsg("tuple to be updated was already modified by an operation "
							   "triggered by the current command"),
						errhint("Consider using an AFTER trigger instead of a BEFORE "
								"trigger to propagate changes to other rows.")));
}

/*
 * Lock the row version 'tid' points to as the UPDATE's BEFORE trigger fetch would
 * (GetTupleForTrigger): true with the locked version in 'slot', false when the row is gone (or
 * was already rewritten by this command).
 */
static bool
LockLeadRow(Relation rel, EState *estate, ItemPointer tid, LockTupleMode mode, TupleTableSlot *slot,
			bool *traversed)
{
	TM_FailureData tmfd;
	TM_Result res;
	int flags = IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION;

	res = table_tuple_lock(rel, tid, estate->es_snapshot, slot, estate->es_output_cid, mode,
						   LockWaitBlock, flags, &tmfd);
	*traversed = tmfd.traversed;
	switch (res)
	{
		case TM_Ok:
			return true;
		case TM_SelfModified:
			CheckSelfModified(&tmfd, estate);
			return false;
		case TM_Updated:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
								errmsg("could not serialize access due to concurrent update")));
			elog(ERROR, "unexpected table_tuple_lock status: %u", res);
			break;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
								errmsg("could not serialize access due to concurrent delete")));
			return false;
		case TM_Invisible:
			elog(ERROR, "attempted to lock invisible tuple");
			break;
		default:
			elog(ERROR, "unrecognized table_tuple_lock status: %u", res);
	}
	return false;
}

/*
 * Write one locked lead row (its version at 'tid', in 'locked'): the steps of ExecUpdate.  True
 * when a new version was written.
 */
static bool
RewriteRow(EState *estate, ResultRelInfo *rri, EPQState *epq, ItemPointer tid,
		   TupleTableSlot *locked, TupleTableSlot *newslot, const LeadsAttachment *leads,
		   const int32 *score, bool direct, bool own_after_only)
{
	Relation rel = rri->ri_RelationDesc;
	TupleDesc desc = RelationGetDescr(rel);
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool update_indexes;
	List *recheck = NIL;
	TM_Result res;
	bool after_idle = false;

	if (direct)
	{
		/* the extension's trigger, called as ExecCallTriggerFunc would: in the row's memory */
		MemoryContext old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
		bool write = own_direct(rel, locked, newslot, &after_idle);

		MemoryContextSwitchTo(old);
		if (!write)
			return false; /* skipped, as when the trigger returns NULL */
	}
	else
	{
		/*
		 * The new row: the locked one (SET score = score: the locked version itself, copied as
		 * it is when the triggers ask for a tuple, not formed again from its columns), or with the
		 * score given (SET score = $2).
		 */
		if (score == NULL)
			ExecCopySlot(newslot, locked);
		else
		{
			slot_getallattrs(locked);
			ExecClearTuple(newslot);
			memcpy(newslot->tts_values, locked->tts_values, sizeof(Datum) * desc->natts);
			memcpy(newslot->tts_isnull, locked->tts_isnull, sizeof(bool) * desc->natts);
			newslot->tts_values[leads->score_att - 1] = Int32GetDatum(*score);
			newslot->tts_isnull[leads->score_att - 1] = false;
			ExecStoreVirtualTuple(newslot);
		}

		if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_update_before_row)
		{
			bool should_free;
			/*
			 * The BEFORE triggers see the version LockLeadRow locked, handed over as the old row
			 * (the argument foreign tables use) instead of by its tid, which would lock it again
			 * (GetTupleForTrigger): the row is locked, no other version can come.
			 */
			HeapTuple old = ExecFetchSlotHeapTuple(locked, false, &should_free);

			if (!ExecBRUpdateTriggers(estate, epq, rri, NULL, old, newslot, NULL))
				return false; /* a trigger skipped it */
			Assert(!should_free);
		}
	}

	ExecMaterializeSlot(newslot);
	newslot->tts_tableOid = RelationGetRelid(rel);
	if (desc->constr != NULL && desc->constr->has_generated_stored)
		ExecComputeStoredGenerated(rri, estate, newslot, CMD_UPDATE);
	if (desc->constr != NULL)
		ExecConstraints(rri, newslot, estate);

	res =
		table_tuple_update(rel, tid, newslot, estate->es_output_cid, estate->es_snapshot,
						   estate->es_crosscheck_snapshot, true, &tmfd, &lockmode, &update_indexes);
	switch (res)
	{
		case TM_Ok:
			break;
		case TM_SelfModified:
			/* a BEFORE trigger updated the row itself: ExecUpdate's rule */
			CheckSelfModified(&tmfd, estate);
			return false;
		default:
			/* the row is locked: nothing else can change it */
			elog(ERROR, "unexpected table_tuple_update status: %u", res);
	}

	if (update_indexes)
	{
		/* not HOT: every index gets an entry (opened now when the id index was opened alone) */
		if (rri->ri_IndexRelationDescs == NULL)
			ExecOpenIndices(rri, false);
		if (rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(rri, newslot, estate, true, false, NULL, NIL);
	}
	/* the AFTER triggers, unless they are the extension's own with nothing to do */
	if (!(after_idle && own_after_only))
		ExecARUpdateTriggers(estate, rri, NULL, NULL, tid, NULL, newslot, recheck, NULL, false);
	list_free(recheck);
	return true;
}

/* What LeadRewrite's steps for one row share. */
typedef struct RewriteRun
{
	const LeadsAttachment *leads;
	const LeadRewriteArgs *args;
	EState *estate;
	ResultRelInfo *rri;
	EPQState *epq;
	IdIndex *id;
	LockTupleMode lockmode;
	TupleTableSlot *locked;
	TupleTableSlot *newslot;
	bool direct;		 /* the extension's BEFORE trigger called directly (OwnBeforeFires) */
	bool own_after_only; /* the row AFTER UPDATE triggers are the extension's own (OwnTriggers) */
	uint64 *rewritten;
} RewriteRun;

/*
 * The row version lead 'lead' was seen at (args->tids), in 'slot', when it is still the version
 * the snapshot sees and still that lead's: what the id index would find.  'nblocks' is the
 * relation's size (it cannot shrink while the rewrite holds its lock).
 */
static bool
FetchSeenRow(RewriteRun *run, int lead, BlockNumber nblocks, TupleTableSlot *slot)
{
	ItemPointerData tid = run->args->tids[lead];
	Relation rel = run->rri->ri_RelationDesc;
	bool isnull;
	Datum d;

	if (!ItemPointerIsValid(&tid) || ItemPointerGetBlockNumber(&tid) >= nblocks ||
		!table_tuple_fetch_row_version(rel, &tid, run->estate->es_snapshot, slot))
		return false;
	d = slot_getattr(slot, run->leads->id_att, &isnull);
	return !isnull && DatumGetBool(FunctionCall2Coll(&run->id->eq, run->id->collation, d,
													 run->args->ids[lead]));
}

/* Lock and rewrite lead 'lead', found at 'found' (a version the snapshot sees). */
static void
RewriteFound(RewriteRun *run, int lead, ItemPointer found)
{
	const LeadRewriteArgs *args = run->args;
	Relation rel = run->rri->ri_RelationDesc;
	ItemPointerData tid = *found;
	bool traversed;

	if (!LockLeadRow(rel, run->estate, &tid, run->lockmode, run->locked, &traversed))
		return;
	tid = run->locked->tts_tid;
	if (traversed)
	{
		/* a newer version: still this lead? (the UPDATE rechecks its WHERE) */
		bool isnull;
		Datum d = slot_getattr(run->locked, run->leads->id_att, &isnull);

		if (isnull ||
			!DatumGetBool(FunctionCall2Coll(&run->id->eq, run->id->collation, d, args->ids[lead])))
			return;
	}
	if (args->found != NULL)
		args->found[lead] = true;
	if (args->locked != NULL)
		args->locked(args->arg, lead, run->locked);
	if (RewriteRow(run->estate, run->rri, run->epq, &tid, run->locked, run->newslot, run->leads,
				   args->scores != NULL ? &args->scores[lead] : NULL, run->direct,
				   run->own_after_only))
		(*run->rewritten)++;
	ResetPerTupleExprContext(run->estate);
}

bool
LeadRewrite(const LeadsAttachment *leads, const LeadRewriteArgs *args, uint64 *rewritten)
{
	Relation rel;
	RangeTblEntry *rte;
	EState *estate;
	ResultRelInfo *rri;
	EPQState epq;
	IdIndex id;
	IndexScanDesc scan;
	TupleTableSlot *found_slot;
	TupleTableSlot *locked;
	TupleTableSlot *newslot;
	RewriteShape shape;
	PlannedStmt *stmt;
	RewriteRun run;
	BlockNumber nblocks;
	bool when_cached;
	int i;

	*rewritten = 0;
	if (!direct_rewrite)
		return false;
	rel = table_open(leads->relid, RowExclusiveLock);
	if (!RewritableRelation(rel))
	{
		table_close(rel, NoLock);
		return false;
	}

	/* as SPI runs an UPDATE: a new snapshot (under READ COMMITTED) and command id */
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();

	estate = CreateExecutorState();
	rte = UpdateRte(rel, leads, args->scores == NULL);
	ExecCheckRTPerms(list_make1(rte), true);
	ExecInitRangeTable(estate, list_make1(rte));
	stmt = makeNode(PlannedStmt);
	stmt->commandType = CMD_UPDATE;
	stmt->rtable = estate->es_range_table;
	estate->es_plannedstmt = stmt;
	estate->es_snapshot = GetActiveSnapshot();
	estate->es_crosscheck_snapshot = InvalidSnapshot;
	estate->es_output_cid = GetCurrentCommandId(true);
	rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, rri, 1);
	CheckValidResultRel(rri, CMD_UPDATE);
	if (!OpenIdIndex(estate, rri, leads, &id, &shape))
	{
		ExecCloseResultRelations(estate);
		ExecCloseRangeTableRelations(estate);
		FreeExecutorState(estate);
		PopActiveSnapshot();
		table_close(rel, NoLock);
		return false;
	}

	AfterTriggerBeginQuery();
	EvalPlanQualInit(&epq, estate, NULL, NIL, -1);
	found_slot = table_slot_create(rel, &estate->es_tupleTable);
	locked = found_slot; /* the version found, then the version locked */
	newslot = table_slot_create(rel, &estate->es_tupleTable);
	scan = index_beginscan(rel, id.index, estate->es_snapshot, 1, 0);
	run.leads = leads;
	run.args = args;
	run.estate = estate;
	run.rri = rri;
	run.epq = &epq;
	run.id = &id;
	run.lockmode = shape.lockmode;
	run.direct = args->scores == NULL && own_direct != NULL && OwnBeforeFires(rri, &shape);
	run.own_after_only = shape.own_after_only;
	run.locked = locked;
	run.newslot = newslot;
	run.rewritten = rewritten;
	nblocks = args->tids != NULL ? RelationGetNumberOfBlocks(rel) : 0;
	/* the WHEN conditions of the table's triggers, compiled once per backend */
	when_cached = TriggerWhenCacheUse(rri);
	PG_TRY();
	{
		for (i = 0; i < args->n; i++)
		{
			ScanKeyData key;

			CHECK_FOR_INTERRUPTS();
			/* where the caller saw the row, if that version is still the one: no index descent */
			if (args->tids != NULL && FetchSeenRow(&run, i, nblocks, found_slot))
			{
				ItemPointerData tid = found_slot->tts_tid;

				RewriteFound(&run, i, &tid);
				continue;
			}
			ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, id.subtype, id.collation,
								   id.eqproc, args->ids[i]);
			index_rescan(scan, &key, 1, NULL, 0);
			while (index_getnext_slot(scan, ForwardScanDirection, found_slot))
			{
				ItemPointerData tid = found_slot->tts_tid;

				RewriteFound(&run, i, &tid);
			}
		}

		index_endscan(scan);
		/* the AFTER triggers, as at the end of the statement */
		AfterTriggerEndQuery(estate);
	}
	PG_FINALLY();
	{
		if (when_cached)
			TriggerWhenCacheDone();
	}
	PG_END_TRY();
	EvalPlanQualEnd(&epq);
	if (id.own)
		index_close(id.index, NoLock);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	PopActiveSnapshot();
	CommandCounterIncrement();
	table_close(rel, NoLock);
	return true;
}
