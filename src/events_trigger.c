/*
 * events_trigger.c — events_changed(), the events tables' AFTER statement trigger: rescore the
 * leads whose events a statement changed, one by one or in batches (src/lead_touch.h describes the
 * write paths).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
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
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "attachment.h"
#include "citus_rules.h"
#include "citus_shards.h"
#include "clock.h"
#include "lead_touch.h"
#include "rescore_batch.h"
#include "rules_in_flight.h"
#include "rules.h"
#include "score.h"
#include "stages.h"

/* The leads whose events a statement wrote, keyed by id. */
typedef struct StatementLead
{
	Datum id;	  /* the hash key */
	int32 nrows;  /* (INSERT) the statement's rows for the lead */
	int32 first;  /* (INSERT) first of its new events that match a rule, -1 if none */
	bool matters; /* a row of the lead matches an engagement rule */
} StatementLead;

/* Hashing lead ids with the id type's hash function and btree equality. */
static const LeadsAttachment *hashed_leads;
static FmgrInfo *lead_hash_fn;

static uint32
LeadIdHash(const void *key, Size keysize)
{
	return DatumGetUInt32(
		FunctionCall1Coll(lead_hash_fn, hashed_leads->id_collation, *(const Datum *) key));
}

static int
LeadIdMatch(const void *a, const void *b, Size keysize)
{
	return LsCompareLeadIds(hashed_leads, *(const Datum *) a, *(const Datum *) b) != 0;
}

/*
 * Whether lead ids are plain integers (int2, int4, int8): then equal ids are
 * equal Datums, and the statement's leads are hashed on the Datum's bytes
 * without calling the type's hash and comparison functions for every row.
 */
static bool
IntegerLeadIds(const LeadsAttachment *leads)
{
	return leads->id_byval &&
		   (leads->id_type == INT8OID || leads->id_type == INT4OID || leads->id_type == INT2OID);
}

/*
 * The leads of a statement: an array indexed by id (integer ids in a range no wider than the
 * statement's rows), a hash table, or (id types without a hash function) a list.
 */
typedef struct StatementLeads
{
	int64 dense_limit;	  /* > 0: the array may cover this many ids (it is in use, or not begun) */
	StatementLead *dense; /* entry id - dense_min, dense_n entries; nrows 0: no lead */
	int64 dense_min;
	int64 dense_n;
	HTAB *hash;
	long hash_size;
	Datum *ids; /* without hash: the ids of the rows that matter, with duplicates */
	int n;
	int cap;
	NewEvents fresh; /* (INSERT) the new rows that match a rule */
	bool keep_events;
} StatementLeads;

/* An integer lead id's value. */
static int64
IntegerLeadId(const LeadsAttachment *leads, Datum id)
{
	switch (leads->id_type)
	{
		case INT8OID:
			return DatumGetInt64(id);
		case INT4OID:
			return DatumGetInt32(id);
		default:
			return DatumGetInt16(id);
	}
}

/* Statements of fewer rows hash their leads, but for one row: an array of one entry. */
#define DENSE_MIN_ROWS 64
/* At most this many entries in the array (24 bytes each). */
#define DENSE_MAX_ENTRIES (1 << 21)
/* The array's first size, and its least growth. */
#define DENSE_FIRST 1024

/* The hash table of a statement's leads (made when the leads turn out not to fit an array). */
static void
HashStatementLeads(StatementLeads *sl, const LeadsAttachment *leads)
{
	HASHCTL ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Datum);
	ctl.entrysize = sizeof(StatementLead);
	ctl.hcxt = CurrentMemoryContext;
	/* sized for the statement: small for one row, no repeated growth for a COPY */
	if (IntegerLeadIds(leads))
		sl->hash = hash_create("lead_scoring statement leads", sl->hash_size, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	else
	{
		ctl.hash = LeadIdHash;
		ctl.match = LeadIdMatch;
		sl->hash = hash_create("lead_scoring statement leads", sl->hash_size, &ctl,
							   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	}
}

/*
 * Make the array cover id v: grown (at least doubled, within dense_limit) towards v.  False when
 * the ids seen so far and v span more than dense_limit ids: then the leads go to a hash table.
 */
static bool
DenseCover(StatementLeads *sl, int64 v)
{
	int64 lo = sl->dense_min;
	int64 hi = sl->dense_min + sl->dense_n - 1;
	int64 span;
	int64 size;
	int64 new_min;
	StatementLead *grown;

	if (sl->dense == NULL)
	{
		size = Min(sl->dense_limit, DENSE_FIRST);
		/* room on both sides of the first id */
		sl->dense_min = v < PG_INT64_MIN + size / 2 ? PG_INT64_MIN : v - size / 2;
		if (sl->dense_min > PG_INT64_MAX - (size - 1))
			sl->dense_min = PG_INT64_MAX - (size - 1);
		sl->dense_n = size;
		sl->dense = palloc0(sizeof(StatementLead) * size);
		return true;
	}
	/* the span lo..v or v..hi, without overflowing */
	if (v < lo ? pg_sub_s64_overflow(hi, v, &span) : pg_sub_s64_overflow(v, lo, &span))
		return false;
	if (span >= sl->dense_limit)
		return false;
	size = Min(sl->dense_limit, Max(span + 1, 2 * sl->dense_n));
	/* grow towards v: below lo, the new entries go first */
	if (v < lo)
		new_min = hi < PG_INT64_MIN + (size - 1) ? PG_INT64_MIN : hi - (size - 1);
	else
		new_min = lo > PG_INT64_MAX - (size - 1) ? PG_INT64_MAX - (size - 1) : lo;
	grown = palloc0(sizeof(StatementLead) * size);
	memcpy(grown + (lo - new_min), sl->dense, sizeof(StatementLead) * sl->dense_n);
	pfree(sl->dense);
	sl->dense = grown;
	sl->dense_min = new_min;
	sl->dense_n = size;
	return true;
}

/* Move the leads of the array into a hash table (their ids span too many ids for an array). */
static void
DenseToHash(StatementLeads *sl, const LeadsAttachment *leads)
{
	int64 k;

	HashStatementLeads(sl, leads);
	for (k = 0; sl->dense != NULL && k < sl->dense_n; k++)
		if (sl->dense[k].nrows > 0)
		{
			bool found;
			StatementLead *entry = hash_search(sl->hash, &sl->dense[k].id, HASH_ENTER, &found);

			*entry = sl->dense[k];
		}
	if (sl->dense != NULL)
		pfree(sl->dense);
	sl->dense = NULL;
	sl->dense_limit = 0;
}

/*
 * The entry of a lead of the statement, made when new.  With integer lead ids spanning no more ids
 * than the statement has rows (a COPY of events for leads numbered in sequence), the entries are
 * kept in an array indexed by id: one memory access per row instead of a hash look-up, and the
 * leads come out in id order without a sort (doc/benchmarks.md, "Bulk loads, per row and per
 * lead"); the array grows as ids arrive, and is given up for a hash table when they span more.
 */
static StatementLead *
StatementLeadFor(StatementLeads *sl, const LeadsAttachment *leads, Datum id)
{
	StatementLead *entry;
	bool found;

	if (sl->dense_limit > 0)
	{
		int64 v = IntegerLeadId(leads, id);

		/* (unsigned: the difference of two int8 ids can overflow int8) */
		if (sl->dense != NULL && v >= sl->dense_min &&
			(uint64) v - (uint64) sl->dense_min < (uint64) sl->dense_n)
			entry = &sl->dense[v - sl->dense_min];
		else if (DenseCover(sl, v))
			entry = &sl->dense[v - sl->dense_min];
		else
		{
			DenseToHash(sl, leads);
			entry = hash_search(sl->hash, &id, HASH_ENTER, &found);
		}
		if (sl->dense_limit > 0)
			found = entry->nrows > 0;
	}
	else
		entry = hash_search(sl->hash, &id, HASH_ENTER, &found);
	if (!found)
	{
		entry->id = datumCopy(id, leads->id_byval, leads->id_len);
		entry->nrows = 0;
		entry->first = -1;
		entry->matters = false;
	}
	return entry;
}

/* Read a transition table: which leads have rows that match an engagement rule (and, for an
 * INSERT, each lead's row count and its new matching events). */
static void
CollectLeads(RuleSet *rs, int source, StatementLeads *sl, Tuplestorestate *ts, TupleDesc desc)
{
	EventsAttachment *events = rs->sources[source].events;
	LeadsAttachment *leads = rs->leads;
	TupleTableSlot *slot;
	MemoryContext scratch;
	uint64 *bits = palloc(sizeof(uint64) * rs->nwords);

	if (ts == NULL)
		return;
	scratch =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring event row", ALLOCSET_SMALL_SIZES);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool isnull;
		Datum id = slot_getattr(slot, events->lead_att, &isnull);
		TimestampTz time;
		bool matters;
		StatementLead *entry = NULL;

		if (isnull)
			continue;
		matters = EventRowRules(rs, source, slot, scratch, bits, &time);
		if ((sl->hash != NULL || sl->dense_limit > 0) && (matters || sl->keep_events))
		{
			entry = StatementLeadFor(sl, leads, id);
			entry->nrows++;
			entry->matters |= matters;
		}
		if (!matters)
		{
			/* not locked: rescored at commit if the rules change meanwhile (rules_in_flight.h) */
			RulesInFlightUncounted(leads, id);
			continue;
		}
		if (sl->hash == NULL && sl->dense_limit == 0)
		{
			if (sl->n == sl->cap)
			{
				sl->cap = sl->cap ? sl->cap * 2 : 64;
				sl->ids = sl->ids ? repalloc_huge(sl->ids, sizeof(Datum) * sl->cap)
								  : palloc(sizeof(Datum) * sl->cap);
			}
			sl->ids[sl->n++] = datumCopy(id, leads->id_byval, leads->id_len);
		}
		else if (sl->keep_events)
		{
			NewEvents *f = &sl->fresh;

			if (f->n == f->cap)
			{
				f->cap = f->cap ? f->cap * 2 : 256;
				f->events = f->events ? repalloc_huge(f->events, sizeof(NewEvent) * f->cap)
									  : palloc(sizeof(NewEvent) * f->cap);
				f->bits = f->bits ? repalloc_huge(f->bits, sizeof(uint64) * f->cap * rs->nwords)
								  : palloc(sizeof(uint64) * f->cap * rs->nwords);
			}
			f->events[f->n].time = time;
			f->events[f->n].next = entry->first;
			memcpy(&f->bits[(int64) f->n * rs->nwords], bits, sizeof(uint64) * rs->nwords);
			entry->first = f->n++;
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	MemoryContextDelete(scratch);
}

static int
CompareStatementLeads(const void *a, const void *b, void *arg)
{
	return LsCompareLeadIds((const LeadsAttachment *) arg, (*(StatementLead *const *) a)->id,
							(*(StatementLead *const *) b)->id);
}

/* Remember the leads of every row of a transition table as not locked (no rule counts events). */
static void
RememberUncounted(const LeadsAttachment *leads, const EventsAttachment *events, Tuplestorestate *ts,
				  TupleDesc desc)
{
	TupleTableSlot *slot;

	if (ts == NULL)
		return;
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool isnull;
		Datum id = slot_getattr(slot, events->lead_att, &isnull);

		if (!isnull)
			RulesInFlightUncounted(leads, id);
	}
	ExecDropSingleTupleTableSlot(slot);
}

PG_FUNCTION_INFO_V1(events_changed);
Datum
events_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation rel;
	RuleSet *rs;
	LeadsAttachment *leads;
	MemoryContext cxt;
	MemoryContext old;
	StatementLeads sl;
	FmgrInfo *hash_fn;
	Datum *ids;
	int n;
	LsSavedUser saved;
	int source;
	bool on_shard;

	(void) LsTriggerCall(fcinfo, "events_changed", false, false, 0);
	rel = td->tg_relation;
	if (LsEventsAttachmentOf(rel) == NULL) /* the table, or a Citus shard of it */
		ereport(
			ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("events_changed() fired on table \"%s\", which is not an attached events table",
					RelationGetRelationName(rel)),
			 errhint("Use lead_scoring.attach_events() and lead_scoring.detach().")));
	leads = LsLeadsAttachment();

	/*
	 * Hold the leads table in ROW SHARE mode even when no lead turns out to need rescoring: a
	 * rule change rescores every lead under an EXCLUSIVE lock, which then waits for this
	 * transaction and sees its events.  Taking the lock also processes a committed rule
	 * change's invalidation, so the rules are loaded after it.
	 */
	LockRelationOid(leads->relid, RowShareLock);
	rs = LsRules();
	source = RuleSetSource(rs, LsLogicalRelid(RelationGetRelid(rel)));
	if (source < 0)
		elog(ERROR, "events table \"%s\" is missing from the rule cache",
			 RelationGetRelationName(rel));

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		LsBecomeExtensionOwner(&saved);
		RescoreAll();
		LsRestoreUser(&saved);
		return PointerGetDatum(NULL);
	}
	/*
	 * On a Citus shard: addressed to the colocated leads and events shards (src/citus_rules.h).
	 * The rows no rule counts leave their leads unlocked: a rule change committing before this
	 * transaction does makes it rescore them (rules_in_flight.h), each through its shard.
	 */
	on_shard = LsIsShard(RelationGetRelid(rel));
	rs = LsRulesNear(rs, RelationGetRelid(rel));
	RulesInFlightFiltered(rs, on_shard);
	if (rs->neng == 0)
	{
		/* no rule counts events */
		RememberUncounted(rs->leads, rs->sources[source].events, td->tg_newtable,
						  RelationGetDescr(rel));
		RememberUncounted(rs->leads, rs->sources[source].events, td->tg_oldtable,
						  RelationGetDescr(rel));
		return PointerGetDatum(NULL);
	}

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring events_changed",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	memset(&sl, 0, sizeof(sl));
	hash_fn = &lookup_type_cache(leads->id_type, TYPECACHE_HASH_PROC_FINFO)->hash_proc_finfo;
	if (OidIsValid(hash_fn->fn_oid))
	{
		int64 rows = (td->tg_newtable ? tuplestore_tuple_count(td->tg_newtable) : 0) +
					 (td->tg_oldtable ? tuplestore_tuple_count(td->tg_oldtable) : 0);

		hashed_leads = leads;
		lead_hash_fn = hash_fn;
		sl.hash_size = (long) Min(Max(rows, 8), 1 << 17);
		/* integer ids: an array while the ids seen span no more ids than the statement's rows */
		if (IntegerLeadIds(leads) && (rows >= DENSE_MIN_ROWS || rows == 1))
			sl.dense_limit = Min(rows, DENSE_MAX_ENTRIES);
		else
			HashStatementLeads(&sl, leads);
		/* an INSERT: keep the new rows' events, to carry them into the leads' states (or, on a
		 * schema without states, to skip reading leads whose only events they are) */
		sl.keep_events =
			TRIGGER_FIRED_BY_INSERT(td->tg_event) &&
			(leads->state_att != InvalidAttrNumber || OidIsValid(rs->sources[source].index_oid));
		/* rows outside attach's row_filter are no events: the leads are re-read through it */
		if (rs->sources[source].events->row_filter != NULL)
			sl.keep_events = false;
		sl.fresh.source = source;
	}
	CollectLeads(rs, source, &sl, td->tg_newtable, RelationGetDescr(rel));
	CollectLeads(rs, source, &sl, td->tg_oldtable, RelationGetDescr(rel));

	/* the leads to rescore, sorted (locks are taken in this order), with their new events */
	if (sl.dense_limit > 0)
	{
		int64 k;

		n = 0;
		for (k = 0; k < sl.dense_n; k++)
			n += sl.dense[k].nrows > 0 && sl.dense[k].matters;
		ids = palloc(sizeof(Datum) * Max(n, 1));
		sl.fresh.nrows = palloc(sizeof(int32) * Max(n, 1));
		sl.fresh.first = palloc(sizeof(int32) * Max(n, 1));
		n = 0;
		for (k = 0; k < sl.dense_n; k++)
			if (sl.dense[k].nrows > 0 && sl.dense[k].matters)
			{
				ids[n] = sl.dense[k].id;
				sl.fresh.nrows[n] = sl.dense[k].nrows;
				sl.fresh.first[n] = sl.dense[k].first;
				n++;
			}
	}
	else if (sl.hash != NULL)
	{
		HASH_SEQ_STATUS seq;
		StatementLead *entry;
		StatementLead **sorted =
			palloc(sizeof(StatementLead *) * Max(hash_get_num_entries(sl.hash), 1));
		int i;

		n = 0;
		hash_seq_init(&seq, sl.hash);
		while ((entry = hash_seq_search(&seq)) != NULL)
			if (entry->matters)
				sorted[n++] = entry;
		qsort_arg(sorted, n, sizeof(StatementLead *), CompareStatementLeads, leads);
		ids = palloc(sizeof(Datum) * Max(n, 1));
		sl.fresh.nrows = palloc(sizeof(int32) * Max(n, 1));
		sl.fresh.first = palloc(sizeof(int32) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			ids[i] = sorted[i]->id;
			sl.fresh.nrows[i] = sorted[i]->nrows;
			sl.fresh.first[i] = sorted[i]->first;
		}
	}
	else
	{
		ids = sl.ids;
		n = LsSortLeadIds(leads, sl.ids, sl.n);
	}
	MemoryContextSwitchTo(old);

	LsBecomeExtensionOwner(&saved);
	/* UPDATE and DELETE (and INSERTs whose rows were not kept) re-read the leads' events */
	RescoreStatementLeads(rs, ids, n, sl.keep_events ? &sl.fresh : NULL, !sl.keep_events, false);
	LsRestoreUser(&saved);
	MemoryContextDelete(cxt);
	return PointerGetDatum(NULL);
}
