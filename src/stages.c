/*
 * stages.c — the stage policy applied to every write of a lead, and the
 * stage_change log.
 *
 * StageForWrite (called by the leads BEFORE trigger after scoring) settles
 * the stage a row is stored with, in this order:
 *   1. a deal-driven move (set by deals.c around its UPDATE): taken when
 *      can_transition allows it, otherwise skipped silently;
 *   2. the writer's own change of the stage: checked by can_transition
 *      unless lead_scoring.enforce_transitions is off, raising when refused;
 *   3. otherwise, for a lead in a marketing-owned stage: disqualify_below
 *      (new leads only), then promotion to the highest threshold stage its
 *      score meets that can_transition allows.
 * A write makes at most one change, so it logs at most one stage_change row.
 *
 * The AFTER trigger (leads_after, fired for every INSERT and for UPDATEs
 * that changed the stage) writes that row.  It learns why the change was
 * made from a per-transaction "reason stash" that StageForWrite fills for
 * changes it made itself (threshold, disqualify_below, deals); anything not
 * in the stash was the writer's own doing ('created' or 'manual').
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "spi_glue.h"
#include "trigger_call.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "attachment.h"
#include "catalog.h"
#include "citus_outbox.h"
#include "citus_shards.h"
#include "config_cache.h"
#include "clock.h"
#include "row_filter.h"
#include "settings.h"
#include "stage_log_batch.h"
#include "stages.h"

#define HANDOFF_CHANNEL "lead_scoring_handoff"
/* Async_Notify refuses payloads of this many bytes or more (async.c, not exported) */
#define NOTIFY_PAYLOAD_LIMIT 8000

/* ---------------------------------------------------------------------------
 * Threshold cache: lead_scoring.threshold as an array indexed by stage.
 * ---------------------------------------------------------------------------
 */
static ConfigCache threshold_cache = CONFIG_CACHE("threshold");
static bool threshold_set[FS_COUNT];
static int32 threshold_min[FS_COUNT];

/* lead_scoring.enforce_transitions, lead_scoring.actor, lead_scoring.reason */
static bool ls_enforce_transitions = true;
static char *ls_actor = NULL;
static char *ls_reason = NULL;

void
StagesDefineSettings(void)
{
	DefineCustomBoolVariable(
		"lead_scoring.enforce_transitions",
		"Refuses stage changes that can_transition() does not allow.",
		"Superusers, or roles granted SET on this parameter, may turn it off to "
		"repair data; every change is still logged.",
		&ls_enforce_transitions, true, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable(
		"lead_scoring.actor",
		"Who is recorded as making stage changes (default: the session user).", NULL, &ls_actor, "",
		PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable(
		"lead_scoring.reason",
		"The reason recorded with stage changes (default: derived from the cause).", NULL,
		&ls_reason, "", PGC_USERSET, 0, NULL, NULL, NULL);
}

void
StagesInit(void)
{
	ConfigCacheRegister(&threshold_cache);
}

/* Read lead_scoring.threshold; the cache takes the result only when the whole read succeeded. */
static void
LoadThresholds(void)
{
	bool set[FS_COUNT];
	int32 min[FS_COUNT];
	uint64 i;

	memset(set, 0, sizeof(set));
	memset(min, 0, sizeof(min));
	LsSpiConnect();
	if (ConfigCacheQuery(
			"SELECT lead_scoring.stage_rank(stage), min_score FROM lead_scoring.threshold") !=
		SPI_OK_SELECT)
		elog(ERROR, "could not read lead_scoring.threshold");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool isnull;
		int32 rank = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		int32 score = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));

		if (rank >= 0 && rank < FS_COUNT)
		{
			set[rank] = true;
			min[rank] = score;
		}
	}
	SPI_finish();
	memcpy(threshold_set, set, sizeof(set));
	memcpy(threshold_min, min, sizeof(min));
}

/*
 * The stage a score promotes a lead to from 'from', or 'from' itself: the
 * highest threshold stage met whose transition can_transition allows, moving
 * forward only (from recycled, whatever can_transition allows: mql or sal).
 * Only marketing-owned stages are left by scores.  A recycled lead must earn
 * its way back: it is promoted only when this write lifts its score across
 * the threshold (prior_score below it), never merely because the score it
 * was recycled with still meets it.
 */
static FunnelStage
PromotionTarget(FunnelStage from, int32 score, bool has_prior, int32 prior_score)
{
	int s;

	if (FunnelStageOwner(from) != OWNER_MARKETING)
		return from;
	ConfigCacheEnsure(&threshold_cache, LoadThresholds);
	for (s = FS_COUNT - 1; s >= 0; s--)
	{
		if (!threshold_set[s] || score < threshold_min[s] || s == (int) from)
			continue;
		if (from != FS_RECYCLED && s < (int) from)
			continue;
		if (from == FS_RECYCLED && has_prior && prior_score >= threshold_min[s])
			continue;
		if (TransitionAllowed(from, (FunnelStage) s))
			return (FunnelStage) s;
	}
	return from;
}

/* ---------------------------------------------------------------------------
 * The reason stash: why StageForWrite changed a lead's stage, until
 * leads_after logs it.  A hash table keyed by the lead id's binary image,
 * living in the transaction's memory; a later write of the same lead
 * replaces the entry, so entries of writes that never reached the AFTER
 * trigger (INSERT ... ON CONFLICT, errors caught by savepoints) go stale
 * harmlessly.
 * ---------------------------------------------------------------------------
 */
typedef struct StashedReason
{
	struct StashedReason *next;
	Datum lead_id; /* copied into the stash's memory */
	FunnelStage to;
	const char *reason; /* a string constant */
} StashedReason;

typedef struct StashBucket
{
	uint32 hash; /* the key */
	StashedReason *chain;
} StashBucket;

static MemoryContext stash_cxt = NULL;
static HTAB *stash = NULL;
static long stash_entries = 0;
static bool stash_callback_registered = false;

/* At the end of a transaction the stash's memory goes away with it. */
static void
StashXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			stash_cxt = NULL;
			stash = NULL;
			stash_entries = 0;
			break;
		default:
			break;
	}
}

/* A hash of the lead id's binary image (equal images hash equally). */
static uint32
LeadIdHash(const LeadsAttachment *leads, Datum id)
{
	uint32 h;

	if (leads->id_byval)
		return hash_bytes((const unsigned char *) &id, sizeof(Datum));
	if (leads->id_len > 0)
		return hash_bytes((const unsigned char *) DatumGetPointer(id), leads->id_len);
	if (leads->id_len == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(id);

		h = hash_bytes((const unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
		if ((Pointer) v != DatumGetPointer(id))
			pfree(v);
		return h;
	}
	return hash_bytes((const unsigned char *) DatumGetCString(id), strlen(DatumGetCString(id)));
}

/* The stash's bucket for a hash, created when asked to. */
static StashBucket *
StashBucketFor(uint32 hash, bool create)
{
	bool found;
	StashBucket *bucket;

	if (stash == NULL)
	{
		HASHCTL ctl;

		if (!create)
			return NULL;
		if (!stash_callback_registered)
		{
			RegisterXactCallback(StashXactCallback, NULL);
			stash_callback_registered = true;
		}
		stash_cxt = AllocSetContextCreate(TopTransactionContext, "lead_scoring stage reasons",
										  ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(StashBucket);
		ctl.hcxt = stash_cxt;
		stash = hash_create("lead_scoring stage reasons", 256, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	bucket = hash_search(stash, &hash, create ? HASH_ENTER : HASH_FIND, &found);
	if (create && !found)
		bucket->chain = NULL;
	return bucket;
}

/* Remove the lead's entry from the stash; returns its reason when it was for a change to 'to'. */
static const char *
StashTake(const LeadsAttachment *leads, Datum id, bool match_to, FunnelStage to)
{
	StashBucket *bucket;
	StashedReason **link;
	const char *reason = NULL;

	if (stash_entries == 0)
		return NULL;
	bucket = StashBucketFor(LeadIdHash(leads, id), false);
	if (bucket == NULL)
		return NULL;
	for (link = &bucket->chain; *link != NULL; link = &(*link)->next)
	{
		StashedReason *entry = *link;

		if (datum_image_eq(entry->lead_id, id, leads->id_byval, leads->id_len))
		{
			if (!match_to || entry->to == to)
				reason = entry->reason;
			*link = entry->next;
			if (!leads->id_byval)
				pfree(DatumGetPointer(entry->lead_id));
			pfree(entry);
			stash_entries--;
			break;
		}
	}
	return reason;
}

/* Record why the lead is moving to 'to' (replacing any earlier entry for the lead). */
static void
StashPut(const LeadsAttachment *leads, Datum id, FunnelStage to, const char *reason)
{
	StashBucket *bucket;
	StashedReason *entry;
	MemoryContext old;

	StashTake(leads, id, false, to);
	bucket = StashBucketFor(LeadIdHash(leads, id), true);
	old = MemoryContextSwitchTo(stash_cxt);
	entry = palloc(sizeof(StashedReason));
	entry->lead_id = datumCopy(id, leads->id_byval, leads->id_len);
	entry->to = to;
	entry->reason = reason;
	entry->next = bucket->chain;
	bucket->chain = entry;
	stash_entries++;
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------------------
 * The stage policy.
 * ---------------------------------------------------------------------------
 */
static const DealMove *deal_move = NULL;

const DealMove *
StageSetDealMove(const DealMove *move)
{
	const DealMove *previous = deal_move;

	deal_move = move;
	return previous;
}

/* Why the built-in rules (or an override) refuse from → to, as a sentence. */
static const char *
RefusalReason(FunnelStage from, FunnelStage to)
{
	if (TransitionBuiltin(from, to))
		return "lead_scoring.transition_override removes this transition.";
	if (from == FS_CUSTOMER || from == FS_DISQUALIFIED)
		return psprintf("\"%s\" is a closed stage.", FunnelStageLabel(from));
	if (from == FS_LOST)
		return "A lost lead can only be recycled (re-engaged).";
	if (to == FS_RECYCLED)
		return "Only sales-owned stages (sal, sql, opportunity) and lost can be recycled.";
	if (from == FS_RECYCLED)
		return "A recycled lead returns to mql or sal, or is closed as disqualified or lost.";
	if (to < from && to <= FS_CUSTOMER)
		return "Stages move forward only along new, iql, mql, sal, sql, opportunity, customer; "
			   "sales returns a lead to marketing through recycled.";
	return "The transition is not among the built-in rules.";
}

/* The stages can_transition allows from 'from', as a list for a hint. */
static char *
AllowedFrom(FunnelStage from)
{
	StringInfoData buf;
	int s;

	initStringInfo(&buf);
	for (s = 0; s < FS_COUNT; s++)
		if (TransitionAllowed(from, (FunnelStage) s))
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", FunnelStageLabel(s));
	if (buf.len == 0)
		appendStringInfoString(&buf, "none");
	return buf.data;
}

/* Raise the error for a refused stage change of a lead. */
static void
RefuseTransition(const LeadsAttachment *leads, Datum id, FunnelStage from, FunnelStage to)
{
	ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
					errmsg("lead %s cannot move from stage \"%s\" to \"%s\"",
						   LsLeadIdText(leads, id), FunnelStageLabel(from), FunnelStageLabel(to)),
					errdetail("%s", RefusalReason(from, to)),
					errhint("Allowed from \"%s\": %s.  To force the change, a superuser can SET "
							"lead_scoring.enforce_transitions = off; it is logged all the same.",
							FunnelStageLabel(from), AllowedFrom(from))));
}

bool
LsLeadOutsideFilter(const LeadsAttachment *leads, TupleDesc desc, HeapTuple row)
{
	return leads->row_filter_expr != NULL && !LsRowPasses(leads->row_filter_expr, desc, row);
}

FunnelStage
StageForWrite(const LeadWrite *write)
{
	const LeadsAttachment *leads = write->leads;
	FunnelStage result;
	const char *reason = NULL; /* set when this write changes the stage by itself */
	bool changes;
	LsSavedUser saved;

	/* the rules and settings are the extension owner's tables */
	LsBecomeExtensionOwner(&saved);

	if (!write->is_insert && deal_move != NULL && write->new_stage == deal_move->target &&
		write->new_stage != write->old_stage &&
		LsCompareLeadIds(leads, deal_move->lead_id, write->lead_id) == 0)
	{
		/* a deal moves the lead; a move the rules refuse is skipped, never raised, except a move of
		 * the deal's own CRM stage, which is followed (a backwards drag too) unless enforced */
		if (deal_move->crm_stage && deal_move->enforce && ls_enforce_transitions &&
			!TransitionAllowed(write->old_stage, deal_move->target))
			RefuseTransition(leads, write->lead_id, write->old_stage, deal_move->target);
		if (TransitionAllowed(write->old_stage, deal_move->target) || deal_move->crm_stage)
		{
			result = deal_move->target;
			reason = deal_move->reason;
		}
		else if (write->outside)
			result = write->old_stage;
		else
		{
			result = PromotionTarget(write->old_stage, write->new_score, !write->is_insert,
									 write->old_score);
			if (result != write->old_stage)
				reason = REASON_THRESHOLD;
		}
	}
	else if (write->crm_move)
	{
		/* the CRM's own stage moved (a card dragged either way): followed and logged, checked
		 * against the transition rules only when the attachment asks for it */
		if (!write->is_insert && leads->crm_stage_enforce && ls_enforce_transitions &&
			!TransitionAllowed(write->old_stage, write->new_stage))
			RefuseTransition(leads, write->lead_id, write->old_stage, write->new_stage);
		result = write->new_stage;
		if (write->is_insert || result != write->old_stage)
			reason = REASON_CRM_STAGE;
	}
	else if (!write->is_insert && write->new_stage != write->old_stage)
	{
		/* the writer's own change: checked, and never overridden by scores in the same write */
		if (ls_enforce_transitions && !TransitionAllowed(write->old_stage, write->new_stage))
			RefuseTransition(leads, write->lead_id, write->old_stage, write->new_stage);
		result = write->new_stage;
	}
	else
	{
		const LsSettings *settings = LsGetSettings();

		result = write->new_stage;
		if (write->outside)
			; /* no lead while outside the row filter: nothing is promoted or disqualified */
		else if (write->is_insert && settings->has_disqualify_below &&
				 write->new_score < settings->disqualify_below &&
				 FunnelStageOwner(write->new_stage) == OWNER_MARKETING)
		{
			result = FS_DISQUALIFIED;
			reason = REASON_DISQUALIFY_BELOW;
		}
		else
		{
			result = PromotionTarget(write->new_stage, write->new_score, !write->is_insert,
									 write->old_score);
			if (result != write->new_stage)
				reason = REASON_THRESHOLD;
		}
	}

	/* leads_after runs for inserts and for updates that change the stage */
	changes = write->is_insert || result != write->old_stage;
	if (changes && reason != NULL)
		StashPut(leads, write->lead_id, result, reason);
	else
		StashTake(leads, write->lead_id, false, result);

	LsRestoreUser(&saved);
	return result;
}

/* ---------------------------------------------------------------------------
 * The log and the handoff notification.
 * ---------------------------------------------------------------------------
 */
/* The plans inserting one stage_change row, by the relation they write (the log, or a Citus shard
 * of it), made anew when the attachments change. */
typedef struct LogPlanEntry
{
	Oid target; /* hash key */
	SPIPlanPtr plan;
} LogPlanEntry;

static HTAB *log_plans = NULL;
static uint64 log_plans_generation = 0;

/*
 * The relation a lead's stage change is logged in: stage_change, or, for a lead written on a Citus
 * shard of the leads table, the shard of stage_change colocated with it (on the same node:
 * doc/scale-out.md, "The stage log").
 */
static Oid
LogTarget(const LeadsAttachment *leads)
{
	Oid log = LsRelid("stage_change", false);
	Oid shard;

	if (!LsIsShard(leads->relid))
		return log;
	shard = LsColocatedShard(leads->relid, log);
	if (!OidIsValid(shard))
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("the stage change of a lead on shard \"%s\" cannot be logged",
							   get_rel_name(leads->relid)),
						errdetail("No shard of lead_scoring.stage_change is colocated with it."),
						errhint("Run SELECT lead_scoring.citus_setup(); on the coordinator after "
								"distributing the leads table.")));
	return shard;
}

/* The cached plan inserting one stage_change row for a lead of `leads` (the table or a shard). */
static SPIPlanPtr
LogPlan(const LeadsAttachment *leads, Oid stage_type)
{
	uint64 generation = LsAttachments()->generation;
	Oid target = LogTarget(leads);
	Oid log = LsRelid("stage_change", false);
	LogPlanEntry *entry;
	bool found;

	if (log_plans == NULL || log_plans_generation != generation)
	{
		HASHCTL ctl;

		if (log_plans != NULL)
		{
			HASH_SEQ_STATUS seq;

			hash_seq_init(&seq, log_plans);
			while ((entry = hash_seq_search(&seq)) != NULL)
				SPI_freeplan(entry->plan);
			hash_destroy(log_plans);
		}
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(LogPlanEntry);
		ctl.hcxt = CacheMemoryContext;
		log_plans =
			hash_create("lead_scoring log plans", 8, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		log_plans_generation = generation;
	}
	entry = hash_search(log_plans, &target, HASH_FIND, NULL);
	if (entry == NULL)
	{
		Oid argtypes[8] = {leads->id_type, stage_type, stage_type, INT4OID,
						   TEXTOID,		   TEXTOID,	   TEXTOID,	   TIMESTAMPTZOID};
		const char *sql;
		SPIPlanPtr plan;

		if (target == log)
			sql = "INSERT INTO lead_scoring.stage_change"
				  " (lead_id, from_stage, to_stage, score, actor, reason, owner, changed_at)"
				  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
		else
			/* the shard has no identity: change_id drawn from the log's sequence, whose range on
			 * this node Citus set (as a routed insert would draw it) */
			sql = psprintf("INSERT INTO %s"
						   " (change_id, lead_id, from_stage, to_stage, score, actor, reason, "
						   "owner, changed_at)"
						   " VALUES (pg_catalog.nextval(%u::pg_catalog.oid::pg_catalog.regclass),"
						   " $1, $2, $3, $4, $5, $6, $7, $8)",
						   quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)),
													  get_rel_name(target)),
						   getIdentitySequence(log, get_attnum(log, "change_id"), false));
		plan = LsKeepPlan(sql, 8, argtypes, false);
		entry = hash_search(log_plans, &target, HASH_ENTER, &found);
		entry->plan = plan;
	}
	return entry->plan;
}

/* A column of the row as text, or NULL. */
/* The owner's label (attach's owner_label: a user's login for its id), or NULL. */
static char *
OwnerLabel(const LeadsAttachment *leads, HeapTuple row, TupleDesc desc)
{
	bool isnull;
	Datum key = heap_getattr(row, leads->owner_att, desc, &isnull);
	Oid type = TupleDescAttr(desc, leads->owner_att - 1)->atttypid;
	char *label = NULL;
	LsSavedUser saved;

	LsBecomeExtensionOwner(&saved);
	LsSpiConnect();
	if (SPI_execute_with_args(leads->owner_label_query, 1, &type, &key, NULL, true, 1) ==
			SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		char *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		label = value ? MemoryContextStrdup(CurTransactionContext, value) : NULL;
	}
	SPI_finish();
	LsRestoreUser(&saved);
	return label;
}

static char *
ColumnText(HeapTuple row, TupleDesc desc, AttrNumber att)
{
	bool isnull;
	Datum d;
	Oid output;
	bool varlena;

	if (att == InvalidAttrNumber)
		return NULL;
	d = heap_getattr(row, att, desc, &isnull);
	if (isnull)
		return NULL;
	getTypeOutputInfo(TupleDescAttr(desc, att - 1)->atttypid, &output, &varlena);
	return OidOutputFunctionCall(output, d);
}

/*
 * leads_after(): AFTER INSERT, and AFTER UPDATE when the stage changed, per
 * row.  Writes the stage_change row (as the extension owner: the log is
 * append-only for everyone else) and notifies listeners of handoffs.
 */
PG_FUNCTION_INFO_V1(leads_after);
Datum
leads_after(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation rel;
	TupleDesc desc;
	LeadsAttachment *leads;
	HeapTuple row;
	bool is_insert;
	bool isnull;
	Datum id;
	FunnelStage from = FS_NEW;
	FunnelStage to;
	int32 score;
	const char *reason;
	const char *actor;
	char *owner;
	Datum values[8];
	char nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	LsSavedUser saved;
	int rc;

	(void) LsTriggerCall(fcinfo, "leads_after", false, true, LS_ON_INSERT | LS_ON_UPDATE);
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	leads = LsLeadsAttachmentOf(rel); /* the table, or a Citus shard of it */
	if (leads == NULL)
		ereport(
			ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("leads_after() fired on table \"%s\", which is not the attached leads table",
					RelationGetRelationName(rel))));

	is_insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
	row = is_insert ? td->tg_trigtuple : td->tg_newtuple;
	id = heap_getattr(row, leads->id_att, desc, &isnull);
	if (isnull)
		return PointerGetDatum(NULL); /* the BEFORE trigger refuses NULL ids */
	to = DatumGetFunnelStage(heap_getattr(row, leads->stage_att, desc, &isnull));
	if (isnull)
		return PointerGetDatum(NULL);
	if (!is_insert)
	{
		bool old_null;

		from =
			DatumGetFunnelStage(heap_getattr(td->tg_trigtuple, leads->stage_att, desc, &old_null));
		if (!old_null && from == to)
			return PointerGetDatum(NULL); /* not a change */
	}
	score = DatumGetInt32(heap_getattr(row, leads->score_att, desc, &isnull));
	if (isnull)
		nulls[3] = 'n';

	reason = StashTake(leads, id, true, to);
	if (ls_reason != NULL && ls_reason[0] != '\0')
		reason = ls_reason;
	else if (reason == NULL)
		reason = is_insert ? REASON_CREATED : REASON_MANUAL;
	if (ls_actor != NULL && ls_actor[0] != '\0')
		actor = ls_actor;
	else
		actor = GetUserNameFromId(GetSessionUserId(), false);
	owner = ColumnText(row, desc, leads->owner_att);
	if (owner != NULL && leads->owner_label_query != NULL)
		owner = OwnerLabel(leads, row, desc);

	values[0] = id;
	values[1] = FunnelStageGetDatum(from);
	if (is_insert)
		nulls[1] = 'n';
	values[2] = FunnelStageGetDatum(to);
	values[3] = Int32GetDatum(score);
	values[4] = CStringGetTextDatum(actor);
	values[5] = CStringGetTextDatum(reason);
	values[6] = owner != NULL ? CStringGetTextDatum(owner) : (Datum) 0;
	if (owner == NULL)
		nulls[6] = 'n';
	/* the transaction's start, or lead_scoring.now when a superuser replays history */
	values[7] = TimestampTzGetDatum(LsNow());

	/* a lead of a batch rewrite: its row is inserted with the batch's (src/stage_log_batch.h) */
	if (!StageLogBatchAdd(td, leads, id, from, to, DatumGetInt32(values[3]), nulls[3] == 'n', actor,
						  reason, owner, DatumGetTimestampTz(values[7])))
	{
		LsBecomeExtensionOwner(&saved);
		LsSpiConnect();
		rc = SPI_execute_plan(LogPlan(leads, TupleDescAttr(desc, leads->stage_att - 1)->atttypid),
							  values, nulls, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "could not write lead_scoring.stage_change: %s",
				 SPI_result_code_string(rc));
		SPI_finish();
		/* deals written for the lead before it existed move it now */
		if (is_insert)
			DealsMoveNewLead(leads, id);
		LsRestoreUser(&saved);
	}

	/* a handoff: marketing (or nothing, at creation) hands the lead to sales; what attach finds
	 * already happened is the CRM's past, not a handoff to announce */
	if (FunnelStageOwner(to) == OWNER_SALES && strcmp(reason, REASON_ATTACHED) != 0 &&
		(is_insert || FunnelStageOwner(from) == OWNER_MARKETING) &&
		!LsLeadOutsideFilter(leads, desc, row))
	{
		char *payload = LsLeadIdText(leads, id);

		if (strlen(payload) < NOTIFY_PAYLOAD_LIMIT)
			LsNotifyHandoff(rel, leads, id, HANDOFF_CHANNEL, payload);
		else
			ereport(WARNING, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							  errmsg("lead id too long for a NOTIFY payload: handoff not notified"),
							  errdetail("NOTIFY payloads are limited to %d bytes.",
										NOTIFY_PAYLOAD_LIMIT - 1)));
	}
	return PointerGetDatum(NULL);
}
