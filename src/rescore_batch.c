/*
 * rescore_batch.c — rescoring many leads at once: a set of leads (an events statement's, or those
 * of the check at commit of src/rules_in_flight_check.c), one by one or in batches of leads locked
 * in id order; and every lead under a table lock (rescore_all(), rule changes).
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
#include "spi_glue.h"
#include "storage/lmgr.h"
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
#include "lead_locks.h"
#include "lead_state.h"
#include "lead_touch.h"
#include "rescore_batch.h"
#include "rules.h"
#include "score.h"
#include "stages.h"

/* Leads locked, read and rewritten together in a batch. */
#define BATCH_LEADS 2000
/* Rows fetched at a time from a cursor. */
#define FETCH_ROWS 2000

/* ---------------------------------------------------------------------------
 * Batches
 * ---------------------------------------------------------------------------
 */

/* Leads whose stored score or stage must be rewritten, collected in id order. */
typedef struct Rewrites
{
	MemoryContext cxt;
	int n;
	int cap;
	Datum *ids;
	double *engagement;
	int64 *fit;
	int32 *scores;
	Datum *states; /* bytea, or 0 on a schema without the state column */
	int64 total;   /* rewritten so far */
} Rewrites;

/* The arrays of w->cap leads, in w->cxt. */
static void
RewritesAlloc(Rewrites *w)
{
	w->ids = MemoryContextAlloc(w->cxt, sizeof(Datum) * w->cap);
	w->engagement = MemoryContextAlloc(w->cxt, sizeof(double) * w->cap);
	w->fit = MemoryContextAlloc(w->cxt, sizeof(int64) * w->cap);
	w->scores = MemoryContextAlloc(w->cxt, sizeof(int32) * w->cap);
	w->states = MemoryContextAlloc(w->cxt, sizeof(Datum) * w->cap);
}

static void
RewritesInit(Rewrites *w, int cap)
{
	w->cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring rewrites",
								   ALLOCSET_DEFAULT_SIZES);
	w->n = 0;
	w->cap = cap;
	RewritesAlloc(w);
	w->total = 0;
}

/* Rewrite the collected leads with one UPDATE (SPI connected). */
static void
RewritesFlush(RuleSet *rs, Rewrites *w)
{
	LeadsAttachment *leads = rs->leads;
	Datum args[2];
	Touch t;
	int i;
	MemoryContext old = CurrentMemoryContext;
	LeadRewriteArgs direct;
	uint64 rewritten;

	if (w->n == 0)
		return;
	TouchInit(&t, rs, w->ids, w->n);
	t.engagement = w->engagement;
	t.fit = w->fit;
	t.states = leads->state_att != InvalidAttrNumber ? w->states : NULL;
	memset(&direct, 0, sizeof(direct));
	direct.ids = w->ids;
	direct.n = w->n;
	direct.scores = w->scores;
	if (RewriteTouch(&t, leads, &direct, &rewritten))
		goto done;
	MemoryContextSwitchTo(w->cxt); /* the arrays go with the rewrites, reset below */
	args[0] = PointerGetDatum(LsLeadIdArray(leads, w->ids, w->n));
	{
		Datum *scores = palloc(sizeof(Datum) * w->n);

		for (i = 0; i < w->n; i++)
			scores[i] = Int32GetDatum(w->scores[i]);
		args[1] = PointerGetDatum(construct_array(scores, w->n, INT4OID, 4, true, TYPALIGN_INT));
	}
	MemoryContextSwitchTo(old);
	ExecuteTouch(&t, UpdatePlan(rs), args);
done:
	w->total += w->n;
	w->n = 0;
	MemoryContextReset(w->cxt);
	RewritesAlloc(w);
}

/*
 * Compute a lead's engagement at 'at' from the events collected in es (counting those up to
 * 'cutoff'), with its state on a schema with the state column, in memory of 'cxt'; then decide
 * whether the lead must be rewritten, given its stored and its new score, and its stored and its
 * new state.
 */
static void
ConsiderLead(RuleSet *rs, Rewrites *w, EventSet *es, TimestampTz at, TimestampTz cutoff,
			 MemoryContext cxt, Datum id, int32 old_score, FunnelStage old_stage, int64 fit,
			 uint64 fit_key, Datum old_state, bool old_state_null)
{
	LeadsAttachment *leads = rs->leads;
	bool with_state = leads->state_att != InvalidAttrNumber;
	double engagement = 0;
	LeadState state_new;
	LeadState *st = with_state ? &state_new : NULL;
	LeadWrite write;
	Datum state = (Datum) 0;

	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		if (rs->neng > 0)
			EventSetEngagement(es, 1, at, cutoff, &engagement, NULL, st);
		else if (with_state)
			LeadStateInit(st, rs);
		MemoryContextSwitchTo(old);
	}
	memset(&write, 0, sizeof(write));
	write.leads = leads;
	write.lead_id = id;
	write.is_insert = false;
	write.old_stage = old_stage;
	write.new_stage = old_stage;
	write.old_score = old_score;
	write.new_score = FinalScore((double) fit + engagement);
	if (st != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(w->cxt);

		/* the fit points, kept with the key of the columns they came from (lead_state.h) */
		st->fit = fit;
		st->fit_key = fit_key;
		state = PointerGetDatum(LeadStateEncode(rs, st));
		MemoryContextSwitchTo(old);
	}
	/* what the stage policy would do with the same write: a change of stage needs the write too */
	if (write.new_score == old_score && StageForWrite(&write) == old_stage &&
		(st == NULL || (!old_state_null && LeadStateSame(old_state, state))))
		return;
	{
		MemoryContext old = MemoryContextSwitchTo(w->cxt);

		w->ids[w->n] = datumCopy(id, leads->id_byval, leads->id_len);
		MemoryContextSwitchTo(old);
	}
	w->states[w->n] = state;
	w->engagement[w->n] = engagement;
	w->fit[w->n] = fit;
	w->scores[w->n] = write.new_score;
	w->n++;
}

/* A cursor over the events of one source, read a batch of rows at a time. */
typedef struct EventStream
{
	Portal portal;
	SPITupleTable *tt;
	uint64 pos;
	bool done;
} EventStream;

static HeapTuple
StreamPeek(EventStream *st)
{
	if (st->done)
		return NULL;
	if (st->tt == NULL || st->pos >= st->tt->numvals)
	{
		if (st->tt != NULL)
			SPI_freetuptable(st->tt);
		SPI_cursor_fetch(st->portal, true, FETCH_ROWS);
		st->tt = SPI_tuptable;
		st->pos = 0;
		if (SPI_processed == 0)
		{
			SPI_freetuptable(st->tt);
			st->tt = NULL;
			st->done = true;
			SPI_cursor_close(st->portal);
			st->portal = NULL;
			return NULL;
		}
	}
	return st->tt->vals[st->pos];
}

static void
StreamClose(EventStream *st)
{
	if (st->tt != NULL)
		SPI_freetuptable(st->tt);
	if (st->portal != NULL)
		SPI_cursor_close(st->portal);
	st->tt = NULL;
	st->portal = NULL;
	st->done = true;
}

/* The leads of a chunk not found: events of leads that do not exist (yet), the caller looks again.
 */
static void
NoteMissing(const Datum *ids, const bool *found, int m, Datum *missing, int *nmissing)
{
	int k;

	for (k = 0; k < m && missing != NULL; k++)
		if (!found[k])
			missing[(*nmissing)++] = ids[k];
}

/*
 * Rescore leads given in id order (unique): lock them in that order, read
 * their events after the locks, rewrite those that change.  Runs in chunks of
 * BATCH_LEADS leads so that memory stays bounded.
 */
int64
RescoreBatch(RuleSet *rs, Datum *ids, int n, TimestampTz at, const NewEvents *fresh, Datum *missing,
			 int *nmissing)
{
	LeadsAttachment *leads = rs->leads;
	EventSet es;
	Rewrites w;
	EventStream *streams;
	DirectReader *readers;
	Snapshot snapshot;
	TimestampTz cutoff;
	MemoryContext chunk_cxt;
	int lo;

	/* made before SPI_connect: they outlive SPI_finish */
	EventSetInit(&es, rs);
	RewritesInit(&w, BATCH_LEADS);
	streams = palloc0(sizeof(EventStream) * Max(rs->nsources, 1));
	readers = palloc0(sizeof(DirectReader) * Max(rs->nsources, 1));
	chunk_cxt =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring batch", ALLOCSET_DEFAULT_SIZES);
	LsSpiConnect();

	for (lo = 0; lo < n; lo += BATCH_LEADS)
	{
		int m = Min(BATCH_LEADS, n - lo);
		MemoryContext old = MemoryContextSwitchTo(chunk_cxt);
		Datum array = PointerGetDatum(LsLeadIdArray(leads, ids + lo, m));
		bool *found = palloc0(sizeof(bool) * m);
		int32 *old_score = palloc(sizeof(int32) * m);
		FunnelStage *old_stage = palloc(sizeof(FunnelStage) * m);
		Datum *old_state = palloc0(sizeof(Datum) * m);
		bool *old_state_null = palloc(sizeof(bool) * m);
		int64 *fit = palloc(sizeof(int64) * m);
		uint64 *fit_key = palloc0(sizeof(uint64) * m);
		Datum *values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
		bool *nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
		int rc;
		uint64 i;
		int k;
		int s;

		MemoryContextSwitchTo(old);
		if (fresh != NULL && leads->state_att != InvalidAttrNumber)
		{
			/* leads_before carries the statement's new events into the leads' states, each lead
			 * locked and rewritten in turn, in id order, where that needs no UPDATE */
			Touch t;
			LeadRewriteArgs direct;
			uint64 rewritten;

			TouchInit(&t, rs, ids + lo, m);
			t.fresh = fresh;
			t.fresh_base = lo;
			memset(&direct, 0, sizeof(direct));
			direct.ids = ids + lo;
			direct.n = m;
			direct.found = found;
			if (RewriteTouch(&t, leads, &direct, &rewritten))
			{
				NoteMissing(ids + lo, found, m, missing, nmissing);
				w.total += rewritten;
				MemoryContextReset(chunk_cxt);
				continue;
			}
		}
		/* lock the leads, in id order */
		rc = SPI_execute_plan(LockPlan(rs), &array, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "locking leads failed: %s", SPI_result_code_string(rc));
		if (fresh != NULL && leads->state_att != InvalidAttrNumber)
		{
			/* leads_before carries the statement's new events into the locked leads' states */
			Touch t;

			for (i = 0; i < SPI_processed; i++)
			{
				bool isnull;

				found[DatumGetInt64(
						  SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull)) -
					  1] = true;
			}
			NoteMissing(ids + lo, found, m, missing, nmissing);
			SPI_freetuptable(SPI_tuptable);
			TouchInit(&t, rs, ids + lo, m);
			t.fresh = fresh;
			t.fresh_base = lo;
			ExecuteTouch(&t, TouchManyPlan(rs), &array);
			w.total += SPI_processed;
			MemoryContextReset(chunk_cxt);
			continue;
		}
		old = MemoryContextSwitchTo(chunk_cxt);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple tup = SPI_tuptable->vals[i];
			TupleDesc desc = SPI_tuptable->tupdesc;
			bool isnull;
			int idx = (int) DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)) - 1;
			int c;

			found[idx] = true;
			old_score[idx] = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
			old_stage[idx] = DatumGetFunnelStage(SPI_getbinval(tup, desc, 3, &isnull));
			old_state[idx] = SPI_getbinval(tup, desc, 4, &old_state_null[idx]);
			if (!old_state_null[idx])
				old_state[idx] = PointerGetDatum(PG_DETOAST_DATUM_COPY(old_state[idx]));
			for (c = 0; c < rs->nfit_atts; c++)
				values[c] = SPI_getbinval(tup, desc, 5 + c, &nulls[c]);
			fit[idx] = FitPoints(rs, values, nulls, NULL);
			fit_key[idx] = LeadStateFitKey(rs, values, nulls);
		}
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);

		/* their events, read with a snapshot taken after the locks: straight from the lead
		 * index where the table has one, else with SQL */
		snapshot = RegisterSnapshot(GetTransactionSnapshot());
		cutoff = WriteCutoff(at);
		for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		{
			Datum args[2];
			char argnulls[2] = {' ', ' '};

			memset(&streams[s], 0, sizeof(EventStream));
			if (DirectReaderOpen(&readers[s], &es, s, snapshot))
				continue;
			args[0] = array;
			args[1] = EventTypesArg(rs, &argnulls[1]);
			streams[s].portal =
				SPI_cursor_open(NULL, BatchEventsPlan(rs, s), args, argnulls, false);
		}
		for (k = 0; k < m; k++)
		{
			EventSetClear(&es);
			for (s = 0; s < rs->nsources && rs->neng > 0; s++)
			{
				HeapTuple tup;
				int64 seq = 0;

				if (readers[s].scan != NULL)
				{
					if (!found[k])
						continue;
					/*
					 * When the lead index holds no entry for this lead but the statement's own
					 * rows, its events in this table are the new rows, already read from the
					 * transition table: no heap access.
					 */
					if (fresh != NULL && s == fresh->source &&
						DirectReaderCount(&readers[s], ids[lo + k]) == fresh->nrows[lo + k])
					{
						int e;

						for (e = fresh->first[lo + k]; e >= 0; e = fresh->events[e].next)
							EventSetAppend(&es, 0, s, seq++, fresh->events[e].time,
										   &fresh->bits[(int64) e * rs->nwords]);
					}
					else
						DirectReaderRead(&readers[s], 0, ids[lo + k]);
					continue;
				}
				while ((tup = StreamPeek(&streams[s])) != NULL)
				{
					bool isnull;
					int idx =
						(int) DatumGetInt64(heap_getattr(tup, 1, streams[s].tt->tupdesc, &isnull)) -
						1;

					if (idx != k)
						break;
					EventSetAdd(&es, 0, s, seq++, tup, streams[s].tt->tupdesc, 2);
					streams[s].pos++;
				}
			}
			if (!found[k])
			{
				/* events of a lead that does not exist (yet): the caller looks again */
				if (missing != NULL)
					missing[(*nmissing)++] = ids[lo + k];
				continue;
			}
			ConsiderLead(rs, &w, &es, at, cutoff, chunk_cxt, ids[lo + k], old_score[k],
						 old_stage[k], fit[k], fit_key[k], old_state[k], old_state_null[k]);
		}
		for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		{
			StreamClose(&streams[s]);
			DirectReaderClose(&readers[s]);
		}
		UnregisterSnapshot(snapshot);
		RewritesFlush(rs, &w);
		MemoryContextReset(chunk_cxt);
	}
	SPI_finish();
	EventSetFree(&es);
	MemoryContextDelete(w.cxt);
	MemoryContextDelete(chunk_cxt);
	return w.total;
}

/* ---------------------------------------------------------------------------
 * A set of leads: one by one or in batches
 * ---------------------------------------------------------------------------
 */

/* Sets of at most this many leads are rescored one by one. */
#define TOUCH_ONE_BY_ONE 4

/*
 * RescoreBatch under a resource owner of its own, a child of the current one, released into it at
 * the end (the locks taken pass to it): doc/internals.md, "The resource owner of a batch rewrite".
 * Under COPY the current owner holds a pin on the events table's descriptor for each of the
 * statement's buffered rows (1,000), which PostgreSQL's resource arrays hash to one run of slots:
 * every descriptor pin taken meanwhile (a slot of the unique check of each non-HOT lead version)
 * probed through it.
 */
static void
RescoreBatchOwned(RuleSet *rs, Datum *ids, int n, const NewEvents *fresh, Datum *missing,
				  int *nmissing)
{
	ResourceOwner parent = CurrentResourceOwner;
	ResourceOwner own = ResourceOwnerCreate(parent, "lead_scoring batch rewrite");

	CurrentResourceOwner = own;
	PG_TRY();
	{
		(void) RescoreBatch(rs, ids, n, LsNow(), fresh, missing, nmissing);
	}
	PG_CATCH();
	{
		/* the owner is released with its parent by the (sub)transaction's abort */
		CurrentResourceOwner = parent;
		PG_RE_THROW();
	}
	PG_END_TRY();
	CurrentResourceOwner = parent;
	ResourceOwnerRelease(own, RESOURCE_RELEASE_BEFORE_LOCKS, true, false);
	ResourceOwnerRelease(own, RESOURCE_RELEASE_LOCKS, true, false);
	ResourceOwnerRelease(own, RESOURCE_RELEASE_AFTER_LOCKS, true, false);
	ResourceOwnerDelete(own);
}

/*
 * Rescore the leads of a statement (ids unique, in id order) through leads_before: with 'fresh',
 * carrying the statement's new events into their states, else re-reading their events ('rebuild'
 * says so for the one-by-one path; a batch without 'fresh' re-reads them).  A lead not found may
 * be being inserted: wait for such inserts (lead_locks.h), then look again.  'one_by_one': lead by
 * lead whatever their number.  On a Citus shard, rs is addressed to the shards (src/citus_rules.h).
 * Runs as the extension owner.
 */
void
RescoreStatementLeads(RuleSet *rs, Datum *ids, int n, const NewEvents *fresh, bool rebuild,
					  bool one_by_one)
{
	LeadsAttachment *leads = rs->leads;
	Datum *missing = palloc(sizeof(Datum) * Max(n, 1));
	int nmissing = 0;
	int i;
	int32 score;

	if (n <= TOUCH_ONE_BY_ONE || one_by_one)
	{
		for (i = 0; i < n; i++)
			if (!TouchLead(rs, ids[i], &score, fresh, i, rebuild))
				missing[nmissing++] = ids[i];
	}
	else
		RescoreBatchOwned(rs, ids, n, fresh, missing, &nmissing);
	for (i = 0; i < nmissing; i++)
		LockLeadIdBucket(leads, missing[i], RowExclusiveLock);
	/* a lead inserted meanwhile did not see this statement's events: re-read them */
	if (nmissing <= TOUCH_ONE_BY_ONE || one_by_one)
	{
		for (i = 0; i < nmissing; i++)
			if (!TouchLead(rs, missing[i], &score, NULL, 0, true))
				RefuseUnseenLead(rs->leads, missing[i]);
	}
	else
	{
		Datum *unseen = palloc(sizeof(Datum) * nmissing);
		int nunseen = 0;

		RescoreBatchOwned(rs, missing, nmissing, NULL, unseen, &nunseen);
		for (i = 0; i < nunseen; i++)
			RefuseUnseenLead(rs->leads, unseen[i]);
	}
}

void
RescoreLeadsFromEvents(RuleSet *rs, Datum *ids, int n, bool one_by_one)
{
	Datum *sorted = palloc(sizeof(Datum) * Max(n, 1));
	int i;

	memcpy(sorted, ids, sizeof(Datum) * n);
	n = LsSortLeadIds(rs->leads, sorted, n);
	if (one_by_one)
	{
		/* written on Citus shards: each lead through the rule set addressed to its shard here */
		for (i = 0; i < n; i++)
		{
			Oid shard = LsLocalLeadShard(sorted[i]);

			RescoreStatementLeads(OidIsValid(shard) ? LsRulesNear(rs, shard) : rs, &sorted[i], 1,
								  NULL, true, true);
		}
	}
	else
		RescoreStatementLeads(rs, sorted, n, NULL, true, false);
	pfree(sorted);
}

/* ---------------------------------------------------------------------------
 * Every lead
 * ---------------------------------------------------------------------------
 */

/* "COLLATE schema.name" for the lead id's collation, or "". */
char *
IdCollateClause(const LeadsAttachment *leads)
{
	HeapTuple tup;
	Form_pg_collation form;
	char *result;

	if (!OidIsValid(leads->id_collation))
		return "";
	tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(leads->id_collation));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for collation %u", leads->id_collation);
	form = (Form_pg_collation) GETSTRUCT(tup);
	result =
		psprintf(" COLLATE %s", quote_qualified_identifier(get_namespace_name(form->collnamespace),
														   NameStr(form->collname)));
	ReleaseSysCache(tup);
	return result;
}

/*
 * Lock the leads table against writers (EXCLUSIVE: reads go on), then load
 * the configuration.  In this order a rescore that waited for another
 * transaction holding the lock (another full rescore, or on a 0.1.0 database
 * a rule change's rescore at commit) uses what that transaction committed:
 * taking the lock processes its invalidations (doc/scoring.md, "Concurrency").
 */
static RuleSet *
LockLeadsForRescore(void)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	Oid relid = leads->relid;
	RuleSet *rs;

	LockRelationOid(relid, ExclusiveLock);
	rs = LsRules();
	if (rs->leads == NULL || rs->leads->relid != relid)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("the attached leads table changed while its scores were rescored"),
						errhint("Run lead_scoring.rescore_all() again.")));
	return rs;
}

/*
 * Rescore every lead: lock the leads table and load the rules
 * (LockLeadsForRescore), then one ordered pass over the leads and one over
 * each events table, merged by lead id; rewrite the leads whose score or stage
 * changes.
 */
int64
RescoreAll(void)
{
	RuleSet *rs = LockLeadsForRescore();
	LeadsAttachment *leads = rs->leads;
	TimestampTz at = LsNow();
	TimestampTz cutoff;
	EventSet es;
	Rewrites w;
	EventStream lead_stream;
	EventStream *streams;
	Datum *values = palloc(sizeof(Datum) * Max(rs->nfit_atts, 1));
	bool *nulls = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
	char *collate = IdCollateClause(leads);
	MemoryContext row_cxt;
	int s;

	/* made before SPI_connect: they outlive SPI_finish */
	EventSetInit(&es, rs);
	RewritesInit(&w, BATCH_LEADS);
	row_cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring rescore row",
									ALLOCSET_SMALL_SIZES);
	LsSpiConnect();
	memset(&lead_stream, 0, sizeof(lead_stream));
	lead_stream.portal = SPI_cursor_open_with_args(
		NULL,
		psprintf("SELECT l.%s, l.%s, l.%s, %s, %s FROM %s l ORDER BY l.%s", leads->id_col,
				 leads->score_col, leads->stage_col, LsStateSelect(leads), rs->fit_select,
				 leads->qualname, leads->id_col),
		0, NULL, NULL, NULL, false, 0);
	streams = palloc0(sizeof(EventStream) * Max(rs->nsources, 1));
	for (s = 0; s < rs->nsources && rs->neng > 0; s++)
	{
		EventSource *src = &rs->sources[s];
		Oid argtype = TEXTARRAYOID;
		Datum arg = rs->event_types;

		streams[s].portal = SPI_cursor_open_with_args(
			NULL,
			psprintf("SELECT e.%s, %s FROM %s e WHERE true%s ORDER BY e.%s%s",
					 src->events->lead_col, src->select_list, src->events->from_item,
					 rs->any_type ? ""
								  : psprintf(" AND %s OPERATOR(pg_catalog.=) ANY ($1)",
											 src->events->type_text),
					 src->events->lead_col, collate),
			rs->any_type ? 0 : 1, &argtype, &arg, NULL, false, 0);
	}

	/* the cursors' snapshot was taken after the table lock; events up to now count */
	cutoff = WriteCutoff(at);
	for (;;)
	{
		HeapTuple lead_tup = StreamPeek(&lead_stream);
		TupleDesc lead_desc;
		Datum id;
		bool id_null;
		bool isnull;
		int32 old_score;
		FunnelStage old_stage;
		int64 fit;
		uint64 fit_key;
		Datum old_state;
		bool old_state_null;
		MemoryContext old;
		int c;

		if (lead_tup == NULL)
			break;
		lead_desc = lead_stream.tt->tupdesc;
		id = SPI_getbinval(lead_tup, lead_desc, 1, &id_null);
		if (id_null)
		{
			/* sorted last; such a row cannot be written by the triggers and is left alone */
			lead_stream.pos++;
			continue;
		}
		old_score = DatumGetInt32(SPI_getbinval(lead_tup, lead_desc, 2, &isnull));
		old_stage = DatumGetFunnelStage(SPI_getbinval(lead_tup, lead_desc, 3, &isnull));
		old_state = SPI_getbinval(lead_tup, lead_desc, 4, &old_state_null);
		old = MemoryContextSwitchTo(row_cxt);
		for (c = 0; c < rs->nfit_atts; c++)
			values[c] = SPI_getbinval(lead_tup, lead_desc, 5 + c, &nulls[c]);
		fit = FitPoints(rs, values, nulls, NULL);
		fit_key = LeadStateFitKey(rs, values, nulls);
		MemoryContextSwitchTo(old);

		EventSetClear(&es);
		for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		{
			HeapTuple tup;
			int64 seq = 0;

			while ((tup = StreamPeek(&streams[s])) != NULL)
			{
				Datum lead = heap_getattr(tup, 1, streams[s].tt->tupdesc, &isnull);
				int cmp = isnull ? 1 : LsCompareLeadIds(leads, lead, id);

				if (cmp > 0)
					break;
				if (cmp == 0)
					EventSetAdd(&es, 0, s, seq++, tup, streams[s].tt->tupdesc, 2);
				streams[s].pos++; /* cmp < 0: events of a lead that does not exist */
			}
		}
		ConsiderLead(rs, &w, &es, at, cutoff, row_cxt, id, old_score, old_stage, fit, fit_key,
					 old_state, old_state_null);
		lead_stream.pos++;
		MemoryContextReset(row_cxt);
		if (w.n == w.cap)
			RewritesFlush(rs, &w);
	}
	RewritesFlush(rs, &w);
	for (s = 0; s < rs->nsources && rs->neng > 0; s++)
		StreamClose(&streams[s]);
	StreamClose(&lead_stream);
	SPI_finish();
	EventSetFree(&es);
	MemoryContextDelete(w.cxt);
	MemoryContextDelete(row_cxt);
	return w.total;
}
