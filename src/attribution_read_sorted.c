/*
 * attribution_read_sorted.c — the reader of one query ordered by lead: every
 * conversion and touchpoint of a lead arrives together, is kept in a memory
 * context reset after the lead, sorted in C and attributed.  The
 * journey-based models (markov, shapley) use it, since they need every
 * lead's journey; so do the rule-based models on PostgreSQL 13 and for lead
 * id types without a hash function (doc/attribution.md, "How it runs").
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "attribution_int.h"

/*
 * qsort comparator for one lead's rows: conversions before touches, then by
 * time, then by source table and key, so that ties in time are broken by the
 * event's primary key whatever order the query returned them in.
 */
static int
CompareRows(const void *a, const void *b)
{
	const QueryRow *x = *(QueryRow *const *) a;
	const QueryRow *y = *(QueryRow *const *) b;
	int32 kx = DatumGetInt32(x->v[Q_KIND]);
	int32 ky = DatumGetInt32(y->v[Q_KIND]);
	TimestampTz tx = DatumGetTimestampTz(x->v[Q_AT]);
	TimestampTz ty = DatumGetTimestampTz(y->v[Q_AT]);
	Oid sx = DatumGetObjectId(x->v[Q_SOURCE]);
	Oid sy = DatumGetObjectId(y->v[Q_SOURCE]);

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return CompareRefs(x->v[Q_REF], x->n[Q_REF], y->v[Q_REF], y->n[Q_REF]);
}

/* Attribute every conversion of one lead (rows[0..nrows), conversions first). */
static void
ProcessLead(AttributionRun *run, QueryRow *rows, int nrows)
{
	Datum lead_id = rows[0].v[Q_LEAD_ID];
	QueryRow **order = palloc(sizeof(QueryRow *) * nrows);
	bool sorted = true;
	int nconv = 0;
	int ntouch;
	int lo, hi, i, c;

	run->lead_seq++;

	/* conversions first, then touches, each in time order (see CompareRows) */
	for (i = 0; i < nrows; i++)
	{
		order[i] = &rows[i];
		if (i > 0 && sorted && CompareRows(&order[i - 1], &order[i]) > 0)
			sorted = false;
	}
	if (!sorted)
		qsort(order, nrows, sizeof(QueryRow *), CompareRows);
	while (nconv < nrows && DatumGetInt32(order[nconv]->v[Q_KIND]) == 0)
		nconv++;
	ntouch = nrows - nconv;
	EnsureTouchCapacity(run, ntouch);
	for (i = 0; i < ntouch; i++)
	{
		QueryRow *r = order[nconv + i];
		Touch *t = &run->touches[i];

		t->at = run->times[i] = DatumGetTimestampTz(r->v[Q_AT]);
		t->ref = r->v[Q_REF];
		t->ref_null = r->n[Q_REF];
		t->channel = r->v[Q_CHANNEL];
		t->campaign = r->v[Q_CAMPAIGN];
		t->campaign_null = r->n[Q_CAMPAIGN];
		t->keyword = r->v[Q_KEYWORD];
		t->keyword_null = r->n[Q_KEYWORD];
		t->at_null = false;
		t->channel_id = -1;
	}

	if (run->chain)
	{
		/*
		 * The lead's one journey: its touches in the lookback window before
		 * its latest conversion, or before now() when it has none.
		 */
		TimestampTz end = nconv > 0 ? DatumGetTimestampTz(order[nconv - 1]->v[Q_AT]) : run->now;
		int journey;

		for (i = 0; i < ntouch; i++)
		{
			int len;
			const char *name = TextBytes(run->touches[i].channel, &len);

			run->touches[i].channel_id = run->ids[i] = MarkovChannelId(run->chain, name, len);
		}
		WindowTouches(run, run->times, ntouch, end, &lo, &hi);
		journey = MarkovAddPath(run->chain, run->ids + lo, hi - lo, nconv > 0);
		if (run->ci)
			CiAddLead(run, journey);
	}
	else if (run->ci)
		CiAddLead(run, -1);
	if (run->chain_only)
		return;

	for (c = 0; c < nconv; c++)
	{
		QueryRow *r = order[c];
		Conversion conv;

		conv.id = r->v[Q_REF];
		conv.at = DatumGetTimestampTz(r->v[Q_AT]);
		conv.value = r->v[Q_VALUE];
		conv.value_null = r->n[Q_VALUE];
		conv.cost = r->v[Q_COST];
		conv.cost_null = r->n[Q_COST];
		/* with one conversion the rule-based query read exactly its window */
		AttributeConversion(run, lead_id, &conv, ntouch, r->n[Q_CREATED_AT],
							r->n[Q_CREATED_AT] ? 0 : DatumGetTimestampTz(r->v[Q_CREATED_AT]),
							r->n[Q_OPPORTUNITY_AT],
							r->n[Q_OPPORTUNITY_AT] ? 0
												   : DatumGetTimestampTz(r->v[Q_OPPORTUNITY_AT]),
							nconv == 1 && !JOURNEY_MODEL(run->model));
	}
}

/* Attribute the current lead's rows and forget them. */
void
FinishLead(AttributionRun *run)
{
	MemoryContext old = MemoryContextSwitchTo(run->lead_cxt);

	ProcessLead(run, run->rows, run->nrows);
	MemoryContextSwitchTo(old);
	MemoryContextReset(run->lead_cxt);
	run->nrows = 0;
}

/*
 * Take one row of the ordered query: a new lead id first finishes the
 * previous lead; the row is copied into the lead context (the slot's data
 * lives only until the next row).
 */
static void
AcceptRow(AttributionRun *run, TupleTableSlot *slot)
{
	MemoryContext old;
	QueryRow *r;

	if (!run->row_type_checked)
	{
		Form_pg_attribute lead_att = TupleDescAttr(slot->tts_tupleDescriptor, Q_LEAD_ID);

		if (lead_att->atttypid != run->lead_type)
			ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
							errmsg("lead ids of the canonical views do not share one type"),
							errhint("Call lead_scoring.rebuild_views().")));
		run->lead_collation = lead_att->attcollation;
		run->row_type_checked = true;
	}
	slot_getallattrs(slot);
	if (run->nrows > 0 && !SameLead(run, run->rows[0].v[Q_LEAD_ID], slot->tts_values[Q_LEAD_ID]))
		FinishLead(run);
	if (run->nrows == run->rows_cap)
	{
		run->rows_cap *= 2;
		run->rows = repalloc_huge(run->rows, sizeof(QueryRow) * run->rows_cap);
	}
	r = &run->rows[run->nrows++];
	old = MemoryContextSwitchTo(run->lead_cxt);
	r->tup = ExecCopySlotHeapTuple(slot);
	MemoryContextSwitchTo(old);
	heap_deform_tuple(r->tup, slot->tts_tupleDescriptor, r->v, r->n);
}

#if PG_VERSION_NUM >= 140000

/* A DestReceiver that hands each row of the query to AcceptRow. */
typedef struct RowReceiver
{
	DestReceiver pub;
	AttributionRun *run;
} RowReceiver;

static bool
RowReceiverSlot(TupleTableSlot *slot, DestReceiver *self)
{
	AttributionRun *run = ((RowReceiver *) self)->run;
	MemoryContext old = MemoryContextSwitchTo(run->work_cxt);

	AcceptRow(run, slot);
	MemoryContextSwitchTo(old);
	return true;
}

/* Run the query, handing each row to AcceptRow. */
void
ReadRows(AttributionRun *run, const char *query, Oid *argtypes, Datum *args, const char *argnulls)
{
	RowReceiver receiver;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = RowReceiverSlot;
	receiver.run = run;
	StreamQuery(query, argtypes, args, argnulls, &receiver.pub);
}

#else

/* PostgreSQL 13: read the ordered query through a cursor. */
void
ReadRows(AttributionRun *run, const char *query, Oid *argtypes, Datum *args, const char *argnulls)
{
	Portal portal = SPI_cursor_open_with_args(NULL, query, 4, argtypes, args, argnulls, true, 0);
	TupleTableSlot *slot = NULL;

	for (;;)
	{
		uint64 i;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		MemoryContextSwitchTo(run->work_cxt);
		if (slot == NULL)
			slot = MakeSingleTupleTableSlot(SPI_tuptable->tupdesc, &TTSOpsHeapTuple);
		for (i = 0; i < SPI_processed; i++)
		{
			ExecStoreHeapTuple(SPI_tuptable->vals[i], slot, false);
			AcceptRow(run, slot);
		}
		ExecClearTuple(slot);
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (slot)
		ExecDropSingleTupleTableSlot(slot);
}

#endif
