/*
 * attribution_read_fast.c — the rule-based models without a big sort:
 * conversions first (a small query ordered by lead) into a hash table keyed
 * by lead, then the touchpoints with a plain unsorted scan, kept as compact
 * records (interned channel, campaign and keyword ids), grouped per lead with
 * a counting sort and sorted per lead in C (doc/attribution.md, "How it
 * runs").  PostgreSQL 14 or later, lead id types with a hash function.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "attachment.h"
#include "attribution_int.h"
#include "catalog.h"
#include "citus_shards.h"
#include "crm_time.h"

#if PG_VERSION_NUM >= 140000

/* One conversion of the fast path, its datums copied into the run's context. */
typedef struct FastConv
{
	Conversion conv;
	Oid source;
	bool created_null;
	bool opportunity_null;
	TimestampTz created;
	TimestampTz opportunity;
	int next; /* the lead's next conversion, -1 at the end */
} FastConv;

/* One lead with conversions: the window its touches must fall in, its chains. */
typedef struct FastLead
{
	Datum lead_id;
	uint32 hash;
	bool unbounded;		   /* some window has no lower bound */
	TimestampTz min_start; /* earliest window start */
	TimestampTz max_at;	   /* latest conversion */
	int first_conv;		   /* chain of FastConv, -1 at the end */
	int first_touch;	   /* its touches: fs->touches[first_touch .. + ntouch) once grouped */
	int ntouch;
} FastLead;

/* Longest event_ref kept inside the touch record (as a 1-byte-header varlena). */
#define FAST_INLINE_REF 14

/* One touchpoint: time, interned ids and a short event_ref inline, 56 bytes. */
typedef struct FastTouch
{
	TimestampTz at;
	text *ref;		 /* a longer event_ref, in the arena */
	bool ref_null;	 /* event_ref is NULL */
	bool ref_inline; /* event_ref is in ref_short */
	char ref_short[FAST_INLINE_REF + 1];
	Oid source;
	int32 channel;
	int32 campaign; /* -1 for NULL */
	int32 keyword;	/* -1 for NULL */
	int32 lead;		/* index in fs->leads */
} FastTouch;

/* A dictionary of short texts (channel, campaign, keyword values) to small ids. */
typedef struct TextDict
{
	int n;
	int cap;
	Datum *texts; /* text datums, by id */
	uint32 *hashes;
	int *slots; /* open addressing, -1 empty */
	int nslots;
} TextDict;

/* The times a lead's touches must fall between (its windows' span), compact for the scan. */
typedef struct FastSpan
{
	TimestampTz lo; /* DT_NOBEGIN when some window has no lower bound */
	TimestampTz hi;
} FastSpan;

typedef struct FastState
{
	AttributionRun *run;
	FmgrInfo *hash_proc;
	FastLead *leads;
	int nleads;
	int leads_cap;
	int *slots; /* lead hash table: index into leads, -1 empty */
	int nslots;
	FastConv *convs;
	int nconvs;
	int convs_cap;
	FastTouch *touches;
	int ntouches;
	int touches_cap;
	TextDict dict;
	char *arena; /* event_ref copies */
	Size arena_left;
	bool reading_touches;
	bool int_ids;	 /* the lead id is an int4 or int8 */
	FastSpan *spans; /* per lead, read while the touches stream in */
	int32 *ntouch;	 /* per lead, counted while the touches stream in */
	int32 *dense;	 /* int ids: lead index by id - dense_min, -1 for none; or NULL */
	int64 dense_min;
	int64 dense_n;
} FastState;

/* Id of the text bytes in the dictionary, adding them when new. */
static int
TextDictId(TextDict *d, const char *bytes, int len)
{
	uint32 h = hash_bytes((const unsigned char *) bytes, len);
	int pos;
	int id;

	if (d->nslots == 0 || d->n * 2 >= d->nslots)
	{
		int nslots = d->nslots ? d->nslots * 2 : 256;

		d->slots =
			d->slots ? repalloc(d->slots, sizeof(int) * nslots) : palloc(sizeof(int) * nslots);
		d->nslots = nslots;
		SlotsFill(d->slots, nslots, d->hashes, sizeof(uint32), 0, d->n);
	}
	for (pos = h & (d->nslots - 1); d->slots[pos] >= 0; pos = (pos + 1) & (d->nslots - 1))
	{
		int other = d->slots[pos];

		if (d->hashes[other] == h)
		{
			text *t = (text *) DatumGetPointer(d->texts[other]);

			if ((int) VARSIZE(t) - VARHDRSZ == len && memcmp(VARDATA(t), bytes, len) == 0)
				return other;
		}
	}
	if (d->n == d->cap)
	{
		d->cap = d->cap ? d->cap * 2 : 64;
		d->texts =
			d->texts ? repalloc(d->texts, sizeof(Datum) * d->cap) : palloc(sizeof(Datum) * d->cap);
		d->hashes = d->hashes ? repalloc(d->hashes, sizeof(uint32) * d->cap)
							  : palloc(sizeof(uint32) * d->cap);
	}
	id = d->n++;
	d->texts[id] = PointerGetDatum(cstring_to_text_with_len(bytes, len));
	d->hashes[id] = h;
	d->slots[pos] = id;
	return id;
}

/* Hash of a lead id with the type's default hash function. */
static inline uint32
FastLeadHash(FastState *fs, Datum lead_id)
{
	/* integer ids: hashed and compared as the datum itself (the table is private to the call) */
	if (fs->int_ids)
		return murmurhash32((uint32) lead_id ^ (uint32) ((uint64) lead_id >> 32));
	return DatumGetUInt32(FunctionCall1Coll(fs->hash_proc, fs->run->lead_collation, lead_id));
}

/* Index of the lead in fs->leads, or -1. */
static int
FastLeadLookUp(FastState *fs, Datum lead_id, uint32 h)
{
	int pos;

	if (fs->nslots == 0)
		return -1;
	for (pos = h & (fs->nslots - 1); fs->slots[pos] >= 0; pos = (pos + 1) & (fs->nslots - 1))
	{
		FastLead *l = &fs->leads[fs->slots[pos]];

		if (l->hash == h &&
			(fs->int_ids ? l->lead_id == lead_id : SameLead(fs->run, l->lead_id, lead_id)))
			return fs->slots[pos];
	}
	return -1;
}

/*
 * Integer lead ids that are dense (serial keys, the common case): a plain
 * array from id to lead index replaces the hash look-up of every touchpoint,
 * and stays small enough for the cache.  Int4 datums are sign-extended, so
 * both types compare as int64.
 */
static void
FastDenseLeads(FastState *fs)
{
	int64 lo = PG_INT64_MAX;
	int64 hi = PG_INT64_MIN;
	int i;

	for (i = 0; i < fs->nleads; i++)
	{
		int64 id = DatumGetInt64(fs->leads[i].lead_id);

		lo = Min(lo, id);
		hi = Max(hi, id);
	}
	/* at most 4 slots per converting lead (16 bytes), and no overflow of hi - lo */
	if ((hi >= 0 && lo < 0 && hi > PG_INT64_MAX + lo) ||
		(uint64) (hi - lo) >= (uint64) fs->nleads * 4 + 1024)
		return;
	fs->dense_min = lo;
	fs->dense_n = hi - lo + 1;
	fs->dense = palloc_extended(sizeof(int32) * fs->dense_n, MCXT_ALLOC_HUGE);
	memset(fs->dense, -1, sizeof(int32) * fs->dense_n);
	for (i = 0; i < fs->nleads; i++)
		fs->dense[DatumGetInt64(fs->leads[i].lead_id) - lo] = i;
}

/* Add a new lead (not yet in the table); returns its index. */
static int
FastLeadAdd(FastState *fs, Datum lead_id, uint32 h)
{
	int pos;
	int idx;

	if (fs->nslots == 0 || fs->nleads * 2 >= fs->nslots)
	{
		int nslots = fs->nslots ? fs->nslots * 2 : 1024;

		fs->slots = fs->slots ? repalloc_huge(fs->slots, sizeof(int) * nslots)
							  : palloc(sizeof(int) * nslots);
		fs->nslots = nslots;
		SlotsFill(fs->slots, nslots, fs->leads, sizeof(FastLead), offsetof(FastLead, hash),
				  fs->nleads);
	}
	if (fs->nleads == fs->leads_cap)
	{
		fs->leads_cap = fs->leads_cap ? fs->leads_cap * 2 : 1024;
		fs->leads = fs->leads ? repalloc_huge(fs->leads, sizeof(FastLead) * fs->leads_cap)
							  : palloc(sizeof(FastLead) * fs->leads_cap);
	}
	for (pos = h & (fs->nslots - 1); fs->slots[pos] >= 0; pos = (pos + 1) & (fs->nslots - 1))
		;
	idx = fs->nleads++;
	fs->slots[pos] = idx;
	fs->leads[idx].lead_id = datumCopy(lead_id, fs->run->lead_byval, fs->run->lead_typlen);
	fs->leads[idx].hash = h;
	fs->leads[idx].unbounded = false;
	fs->leads[idx].min_start = DT_NOEND;
	fs->leads[idx].max_at = DT_NOBEGIN;
	fs->leads[idx].first_conv = -1;
	fs->leads[idx].first_touch = 0;
	fs->leads[idx].ntouch = 0;
	return idx;
}

/* Check the query's lead id column type (once per query). */
static void
FastCheckLeadType(FastState *fs, TupleTableSlot *slot)
{
	Form_pg_attribute lead_att = TupleDescAttr(slot->tts_tupleDescriptor, 0);

	if (lead_att->atttypid != fs->run->lead_type)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("lead ids of the canonical views do not share one type"),
						errhint("Call lead_scoring.rebuild_views().")));
	/* the conversions' collation hashes both queries' ids */
	if (!fs->reading_touches)
		fs->run->lead_collation = lead_att->attcollation;
}

/* Take one conversion row: lead_id, at, ref, value, cost, created_at, opportunity_at, source. */
static void
FastAcceptConversion(FastState *fs, TupleTableSlot *slot)
{
	AttributionRun *run = fs->run;
	Datum *v = slot->tts_values;
	bool *n = slot->tts_isnull;
	uint32 h;
	int li;
	FastLead *lead;
	FastConv *c;
	TimestampTz start;

	slot_getallattrs(slot);
	if (run->nrows++ == 0)
		FastCheckLeadType(fs, slot);
	h = FastLeadHash(fs, v[0]);
	li = FastLeadLookUp(fs, v[0], h);
	if (li < 0)
		li = FastLeadAdd(fs, v[0], h);
	lead = &fs->leads[li];
	if (fs->nconvs == fs->convs_cap)
	{
		fs->convs_cap = fs->convs_cap ? fs->convs_cap * 2 : 1024;
		fs->convs = fs->convs ? repalloc_huge(fs->convs, sizeof(FastConv) * fs->convs_cap)
							  : palloc(sizeof(FastConv) * fs->convs_cap);
	}
	c = &fs->convs[fs->nconvs];
	c->conv.at = DatumGetTimestampTz(v[1]);
	c->conv.id = n[2] ? (Datum) 0 : datumCopy(v[2], false, -1);
	c->conv.value_null = n[3];
	c->conv.value = n[3] ? (Datum) 0 : datumCopy(v[3], false, -1);
	c->conv.cost_null = n[4];
	c->conv.cost = n[4] ? (Datum) 0 : datumCopy(v[4], false, -1);
	c->created_null = n[5];
	c->created = n[5] ? 0 : DatumGetTimestampTz(v[5]);
	c->opportunity_null = n[6];
	c->opportunity = n[6] ? 0 : DatumGetTimestampTz(v[6]);
	c->source = DatumGetObjectId(v[7]);
	c->next = lead->first_conv;
	lead->first_conv = fs->nconvs++;
	if (c->conv.at > lead->max_at)
		lead->max_at = c->conv.at;
	if (WindowStart(run, c->conv.at, &start))
	{
		if (start < lead->min_start)
			lead->min_start = start;
	}
	else
		lead->unbounded = true;
}

/* Copy a text's bytes into the event_ref arena. */
static text *
FastCopyRef(FastState *fs, const char *bytes, int len)
{
	Size need = MAXALIGN(VARHDRSZ + len);
	text *t;

	if (need > fs->arena_left)
	{
		Size size = Max(need, 64 * 1024);

		fs->arena = palloc(size);
		fs->arena_left = size;
	}
	t = (text *) fs->arena;
	SET_VARSIZE(t, VARHDRSZ + len);
	memcpy(VARDATA(t), bytes, len);
	fs->arena += need;
	fs->arena_left -= need;
	return t;
}

/*
 * Keep one touchpoint when its lead has a conversion and its time falls in
 * the span of the lead's windows.  The texts are bytes (not necessarily
 * 0-terminated); ref_bytes NULL is a NULL event_ref.
 */
static void
FastAddTouch(FastState *fs, Datum lead_id, TimestampTz at, const char *ref_bytes, int ref_len,
			 const char *channel, int channel_len, const char *campaign, int campaign_len,
			 const char *keyword, int keyword_len, Oid source)
{
	FastSpan *span;
	FastTouch *t;
	int li;

	if (fs->dense)
	{
		uint64 off = (uint64) DatumGetInt64(lead_id) - (uint64) fs->dense_min;

		li = off < (uint64) fs->dense_n ? fs->dense[off] : -1;
	}
	else
		li = FastLeadLookUp(fs, lead_id, FastLeadHash(fs, lead_id));
	if (li < 0)
		return; /* a lead without conversions */
	span = &fs->spans[li];
	if (at > span->hi || at < span->lo)
		return; /* in no window */
	if (fs->ntouches == fs->touches_cap)
	{
		fs->touches_cap = fs->touches_cap ? fs->touches_cap * 2 : 4096;
		fs->touches = fs->touches ? repalloc_huge(fs->touches, sizeof(FastTouch) * fs->touches_cap)
								  : palloc(sizeof(FastTouch) * fs->touches_cap);
	}
	t = &fs->touches[fs->ntouches];
	t->at = at;
	t->ref = NULL;
	t->ref_null = ref_bytes == NULL;
	t->ref_inline = false;
	if (ref_bytes)
	{
		if (ref_len <= FAST_INLINE_REF)
		{
			SET_VARSIZE_SHORT(t->ref_short, VARHDRSZ_SHORT + ref_len);
			memcpy(t->ref_short + VARHDRSZ_SHORT, ref_bytes, ref_len);
			t->ref_inline = true;
		}
		else
			t->ref = FastCopyRef(fs, ref_bytes, ref_len);
	}
	t->channel = TextDictId(&fs->dict, channel, channel_len);
	t->campaign = campaign ? TextDictId(&fs->dict, campaign, campaign_len) : -1;
	t->keyword = keyword ? TextDictId(&fs->dict, keyword, keyword_len) : -1;
	t->source = source;
	t->lead = li;
	fs->ntouch[li]++;
	fs->ntouches++;
}

/* Take one touch row: lead_id, occurred_at, event_ref, channel, campaign, keyword, source. */
static void
FastAcceptTouch(FastState *fs, TupleTableSlot *slot)
{
	Datum *v = slot->tts_values;
	bool *n = slot->tts_isnull;
	const char *texts[4] = {NULL, NULL, NULL, NULL};
	int lens[4] = {0, 0, 0, 0};
	int i;

	slot_getallattrs(slot);
	if (fs->run->nrows++ == 0)
		FastCheckLeadType(fs, slot);
	for (i = 0; i < 4; i++)
		if (!n[2 + i])
			texts[i] = TextBytes(v[2 + i], &lens[i]);
	FastAddTouch(fs, v[0], DatumGetTimestampTz(v[1]), texts[0], lens[0], texts[1], lens[1],
				 texts[2], lens[2], texts[3], lens[3], DatumGetObjectId(v[6]));
}

/* A DestReceiver that hands each row to FastAcceptConversion or FastAcceptTouch. */
typedef struct FastReceiver
{
	DestReceiver pub;
	FastState *fs;
} FastReceiver;

static bool
FastReceiverSlot(TupleTableSlot *slot, DestReceiver *self)
{
	FastState *fs = ((FastReceiver *) self)->fs;
	MemoryContext old = MemoryContextSwitchTo(fs->run->work_cxt);

	if (fs->reading_touches)
		FastAcceptTouch(fs, slot);
	else
		FastAcceptConversion(fs, slot);
	MemoryContextSwitchTo(old);
	return true;
}

/* Run one query of the fast path, streaming its rows to fs. */
static void
FastReadRows(FastState *fs, const char *query, Oid *argtypes, Datum *args, const char *argnulls)
{
	FastReceiver receiver;

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = FastReceiverSlot;
	receiver.fs = fs;
	fs->run->nrows = 0;
	StreamQuery(query, argtypes, args, argnulls, &receiver.pub);
	fs->run->nrows = 0;
}

/* One events table read straight from its heap: what the events view computes, in C. */
typedef struct DirectSource
{
	EventsAttachment *e;
	Relation rel;
	Oid time_type;
	Oid key_type; /* InvalidOid when event_ref is not read */
	AttrNumber max_att;
} DirectSource;

/*
 * A channel, campaign or keyword column as the view gives it,
 * NULLIF(btrim(column::text), ''), for text and varchar columns (whose cast
 * to text is their bytes); NULL for NULL.
 */
static inline const char *
DirectText(TupleTableSlot *slot, AttrNumber att, int *len)
{
	const char *bytes;
	int n;

	if (att == InvalidAttrNumber || slot->tts_isnull[att - 1])
		return NULL;
	bytes = TextBytes(slot->tts_values[att - 1], &n);
	while (n > 0 && bytes[0] == ' ')
	{
		bytes++;
		n--;
	}
	while (n > 0 && bytes[n - 1] == ' ')
		n--;
	*len = n;
	return n > 0 ? bytes : NULL;
}

/*
 * True when some attachment makes the events view more than a plain read of
 * the events tables: a row filter or labels on an events table, or UTM
 * columns on the leads table (its leads are touchpoints too).
 */
static bool
EventsViewIsDerived(void)
{
	MemoryContext old = CurrentMemoryContext;
	Oid attachment = get_relname_relid("attachment", LsSchemaOid());
	bool derived;

	/* a database still on 0.1.0 (until ALTER EXTENSION UPDATE) has the view of 0.1.0: read it */
	if (!OidIsValid(attachment) || get_attnum(attachment, "row_filter") == InvalidAttrNumber ||
		get_attnum(attachment, "labels") == InvalidAttrNumber)
		return true;
	if (SPI_execute(
			"SELECT 1 FROM " LS_SCHEMA ".attachment a"
			" WHERE (a.kind OPERATOR(pg_catalog.=) 'events'"
			" AND (a.row_filter IS NOT NULL OR a.labels IS NOT NULL))"
			" OR (a.kind OPERATOR(pg_catalog.=) 'leads' AND pg_catalog.num_nonnulls("
			"a.channel_column, a.campaign_column, a.keyword_column) OPERATOR(pg_catalog.>) 0)",
			true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read " LS_SCHEMA ".attachment");
	derived = SPI_processed > 0;
	MemoryContextSwitchTo(old);
	return derived;
}

/* True when the column's type casts to text as its bytes (text, varchar). */
static bool
DirectTextColumn(Relation rel, AttrNumber att)
{
	Oid type;

	if (att == InvalidAttrNumber)
		return true;
	type = TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid;
	return type == TEXTOID || type == VARCHAROID;
}

/*
 * Can the touchpoints be read straight from the attached events tables,
 * giving exactly the rows of the events view?  Only when every attached
 * table is plainly readable: the caller may read the view, its owner the
 * table, no row-level security applies, and every column the query uses has
 * a type whose cast in the view is its plain value (doc/attribution.md, "How
 * it runs").  Opens the tables into src (closed again when false).
 */
static bool
DirectSourcesOpen(FastState *fs, bool need_ref, DirectSource **srcs, int *nsrcs)
{
	List *events = LsAttachments()->events;
	Oid view = get_relname_relid("events", LsSchemaOid());
	HeapTuple tup;
	Oid view_owner;
	ListCell *lc;
	int n = 0;
	int i;
	bool readable = true;

	if (!OidIsValid(view) || list_length(events) == 0 || EventsViewIsDerived())
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(view));
	if (!HeapTupleIsValid(tup))
		return false;
	view_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	if (pg_class_aclcheck(view, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return false; /* the query reports the error */
	*srcs = palloc0(sizeof(DirectSource) * list_length(events));
	foreach (lc, events)
	{
		EventsAttachment *e = lfirst(lc);
		DirectSource *d = &(*srcs)[n];
		Relation rel;
		bool ok;

		/* a Citus table's rows are in its shards: only SQL reads them (doc/scale-out.md) */
		if (pg_class_aclcheck(e->relid, view_owner, ACL_SELECT) != ACLCHECK_OK ||
			check_enable_rls(e->relid, view_owner, true) != RLS_NONE || LsIsCitusTable(e->relid))
		{
			readable = false;
			break;
		}
		rel = table_open(e->relid, AccessShareLock);
		d->e = e;
		d->rel = rel;
		d->time_type = TupleDescAttr(RelationGetDescr(rel), e->time_att - 1)->atttypid;
		d->key_type = InvalidOid;
		ok =
			rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relhassubclass &&
			TupleDescAttr(RelationGetDescr(rel), e->lead_att - 1)->atttypid == fs->run->lead_type &&
			(d->time_type == TIMESTAMPTZOID || d->time_type == TIMESTAMPOID ||
			 d->time_type == DATEOID) &&
			DirectTextColumn(rel, e->channel_att) && DirectTextColumn(rel, e->campaign_att) &&
			DirectTextColumn(rel, e->keyword_att);
		if (ok && need_ref)
		{
			ok = e->nkeys == 1;
			if (ok)
			{
				d->key_type = TupleDescAttr(RelationGetDescr(rel), e->key_atts[0] - 1)->atttypid;
				ok = d->key_type == INT2OID || d->key_type == INT4OID || d->key_type == INT8OID ||
					 d->key_type == TEXTOID || d->key_type == VARCHAROID;
			}
		}
		n++;
		if (!ok)
		{
			readable = false;
			break;
		}
		d->max_att = Max(Max(e->lead_att, e->time_att),
						 Max(Max(e->channel_att, e->campaign_att), e->keyword_att));
		if (OidIsValid(d->key_type))
			d->max_att = Max(d->max_att, e->key_atts[0]);
	}
	if (readable && n == list_length(events))
	{
		/*
		 * Room for every row at once (address space only until written):
		 * growing by doubling would copy the records and fault fresh pages.
		 */
		double rows = 0;

		for (i = 0; i < n; i++)
			rows += Max((*srcs)[i].rel->rd_rel->reltuples, 0);
		rows = Min(rows, 16 * 1024 * 1024);
		if (fs->touches == NULL && rows > 4096)
		{
			fs->touches_cap = (int) rows + 1;
			fs->touches = palloc_extended(sizeof(FastTouch) * fs->touches_cap, MCXT_ALLOC_HUGE);
		}
		*nsrcs = n;
		return true;
	}
	for (i = 0; i < n; i++)
		table_close((*srcs)[i].rel, AccessShareLock);
	pfree(*srcs);
	return false;
}

/*
 * Read every touchpoint of one events table with a sequential heap scan,
 * applying the touch query's conditions in C; event_ref is formed only for
 * the touches kept.
 */
static void
DirectSourceRead(FastState *fs, DirectSource *d, bool has_from, TimestampTz from, bool has_to,
				 TimestampTz to)
{
	EventsAttachment *e = d->e;
	TableScanDesc scan = table_beginscan(d->rel, GetActiveSnapshot(), 0, NULL);
	TupleTableSlot *slot = table_slot_create(d->rel, NULL);
	MemoryContext scratch = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring touch scan",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	uint32 count = 0;
	Oid source = RelationGetRelid(d->rel);

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		Datum *v = slot->tts_values;
		bool *nulls = slot->tts_isnull;
		TimestampTz at;
		const char *channel, *campaign, *keyword, *ref = NULL;
		int channel_len = 0, campaign_len = 0, keyword_len = 0, ref_len = 0;
		char buf[MAXINT8LEN + 1];

		if ((++count & 1023) == 0)
		{
			CHECK_FOR_INTERRUPTS();
			MemoryContextReset(scratch);
		}
		slot_getsomeattrs(slot, d->max_att);
		if (nulls[e->lead_att - 1] || nulls[e->time_att - 1])
			continue;
		old = MemoryContextSwitchTo(scratch);
		channel = DirectText(slot, e->channel_att, &channel_len);
		if (channel == NULL)
		{
			MemoryContextSwitchTo(old);
			continue;
		}
		at = LsColumnTime(d->time_type, v[e->time_att - 1], e->zone);
		if ((has_from && at < from) || (has_to && at >= to))
		{
			MemoryContextSwitchTo(old);
			continue;
		}
		campaign = DirectText(slot, e->campaign_att, &campaign_len);
		keyword = DirectText(slot, e->keyword_att, &keyword_len);
		if (OidIsValid(d->key_type) && !nulls[e->key_atts[0] - 1])
		{
			Datum k = v[e->key_atts[0] - 1];

			switch (d->key_type)
			{
				case INT2OID:
					ref_len = pg_ltoa(DatumGetInt16(k), buf);
					ref = buf;
					break;
				case INT4OID:
					ref_len = pg_ltoa(DatumGetInt32(k), buf);
					ref = buf;
					break;
				case INT8OID:
					ref_len = pg_lltoa(DatumGetInt64(k), buf);
					ref = buf;
					break;
				default:
					ref = TextBytes(k, &ref_len);
					break;
			}
		}
		MemoryContextSwitchTo(old);
		FastAddTouch(fs, v[e->lead_att - 1], at, ref, ref_len, channel, channel_len, campaign,
					 campaign_len, keyword, keyword_len, source);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	MemoryContextDelete(scratch);
}

/* A touch's event_ref as a text datum (only while the record does not move). */
static inline Datum
FastTouchRef(const FastTouch *t)
{
	return t->ref_inline ? PointerGetDatum(t->ref_short) : PointerGetDatum(t->ref);
}

/* Order of touches (time, source table, event_ref), as CompareRows orders them. */
static int
CompareFastTouches(const void *a, const void *b)
{
	const FastTouch *x = (const FastTouch *) a;
	const FastTouch *y = (const FastTouch *) b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return CompareRefs(FastTouchRef(x), x->ref_null, FastTouchRef(y), y->ref_null);
}

/* Order of conversions (time, source table, id), as CompareRows orders them. */
static int
CompareFastConvs(const void *a, const void *b)
{
	const FastConv *x = *(const FastConv *const *) a;
	const FastConv *y = *(const FastConv *const *) b;

	if (x->conv.at != y->conv.at)
		return x->conv.at < y->conv.at ? -1 : 1;
	if (x->source != y->source)
		return x->source < y->source ? -1 : 1;
	return CompareRefs(x->conv.id, false, y->conv.id, false);
}

/* Attribute every conversion of one lead of the fast path. */
static void
FastProcessLead(FastState *fs, FastLead *lead, FastConv ***cbuf, int *cbuf_cap)
{
	AttributionRun *run = fs->run;
	FastTouch *touches = fs->touches + lead->first_touch;
	int ntouch = lead->ntouch;
	int nconv = 0;
	int i, c;

	run->lead_seq++;

	for (i = lead->first_conv; i >= 0; i = fs->convs[i].next)
	{
		if (nconv == *cbuf_cap)
		{
			*cbuf_cap *= 2;
			*cbuf = repalloc_huge(*cbuf, sizeof(FastConv *) * *cbuf_cap);
		}
		(*cbuf)[nconv++] = &fs->convs[i];
	}
	if (ntouch > 16)
		qsort(touches, ntouch, sizeof(FastTouch), CompareFastTouches);
	else
	{
		/* a lead's few touches: insertion sort, the comparison inlined */
		for (i = 1; i < ntouch; i++)
		{
			FastTouch x = touches[i];
			int j = i;

			while (j > 0 && CompareFastTouches(&touches[j - 1], &x) > 0)
			{
				touches[j] = touches[j - 1];
				j--;
			}
			touches[j] = x;
		}
	}
	if (nconv > 1)
		qsort(*cbuf, nconv, sizeof(FastConv *), CompareFastConvs);
	EnsureTouchCapacity(run, ntouch);
	for (i = 0; i < ntouch; i++)
	{
		FastTouch *ft = &touches[i];
		Touch *t = &run->touches[i];

		t->at = run->times[i] = ft->at;
		t->ref = ft->ref_null ? (Datum) 0 : FastTouchRef(ft);
		t->ref_null = ft->ref_null;
		t->channel = fs->dict.texts[ft->channel];
		t->campaign = ft->campaign >= 0 ? fs->dict.texts[ft->campaign] : (Datum) 0;
		t->campaign_null = ft->campaign < 0;
		t->keyword = ft->keyword >= 0 ? fs->dict.texts[ft->keyword] : (Datum) 0;
		t->keyword_null = ft->keyword < 0;
		t->at_null = false;
		t->channel_id = -1;
	}
	if (run->ci)
		CiAddLead(run, -1);
	for (c = 0; c < nconv; c++)
	{
		FastConv *fc = (*cbuf)[c];

		AttributeConversion(run, lead->lead_id, &fc->conv, ntouch, fc->created_null, fc->created,
							fc->opportunity_null, fc->opportunity, false);
	}
}

/*
 * The rule-based models: read the conversions (ordered by lead, so that the
 * output comes lead by lead as before), then every touchpoint unsorted,
 * keeping only those of leads with a conversion and inside the span of their
 * windows, and attribute lead by lead.  Memory: about 40 bytes per kept touch
 * plus its event_ref.
 */
void
RunFastAttribution(AttributionRun *run, bool bound_touch_from, bool bound_conv_from, bool bound_to,
				   Oid *argtypes, Datum *args, const char *argnulls)
{
	FastState fs;
	TypeCacheEntry *tc = lookup_type_cache(run->lead_type, TYPECACHE_HASH_PROC_FINFO);
	StringInfoData q;
	FastConv **cbuf;
	int cbuf_cap = 16;
	int li;
	int i;
	int *next;
	FastTouch *grouped;
	bool need_ref;
	bool need_campaign;
	bool need_keyword;
	DirectSource *direct;
	int ndirect;

	memset(&fs, 0, sizeof(fs));
	fs.run = run;
	fs.hash_proc = &tc->hash_proc_finfo;
	fs.int_ids = run->lead_type == INT4OID || run->lead_type == INT8OID;

	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT c.lead_id, c.at, c.ref, c.value, c.cost, c.created_at,"
					 " c.opportunity_at, c.source FROM (%s) c ORDER BY c.lead_id",
					 BuildConversionQuery(run, bound_conv_from, bound_to));
	elog(DEBUG1, "lead_scoring attribution conversions: %s", q.data);
	FastReadRows(&fs, q.data, argtypes, args, argnulls);
	MemoryContextSwitchTo(run->work_cxt);
	if (fs.nleads == 0)
		return;
	if (fs.int_ids)
		FastDenseLeads(&fs);
	fs.spans = palloc_extended(sizeof(FastSpan) * fs.nleads, MCXT_ALLOC_HUGE);
	fs.ntouch = palloc_extended(sizeof(int32) * fs.nleads, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (li = 0; li < fs.nleads; li++)
	{
		fs.spans[li].lo = fs.leads[li].unbounded ? DT_NOBEGIN : fs.leads[li].min_start;
		fs.spans[li].hi = fs.leads[li].max_at;
	}

	/*
	 * Read only the columns the output needs: event_ref orders touches at
	 * the same time, which changes no weight of linear and time_decay; the
	 * per-group outputs need campaign and keyword only at their levels.
	 * (Converting every primary key to text is a good part of the scan.)
	 */
	need_ref = (run->out && run->want[OC_EVENT_REF]) ||
			   (run->model != AM_LINEAR && run->model != AM_TIME_DECAY);
	need_campaign = run->out ? run->want[OC_CAMPAIGN] : run->depth >= 2;
	need_keyword = run->out ? run->want[OC_KEYWORD] : run->depth >= 3;
	resetStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT e.lead_id, e.occurred_at, %s, e.channel, %s, %s,"
					 " e.source::pg_catalog.oid FROM " LS_SCHEMA ".events e"
					 " WHERE e.channel IS NOT NULL AND e.lead_id IS NOT NULL"
					 " AND e.occurred_at IS NOT NULL",
					 need_ref ? "e.event_ref" : "NULL::pg_catalog.text",
					 need_campaign ? "e.campaign" : "NULL::pg_catalog.text",
					 need_keyword ? "e.keyword" : "NULL::pg_catalog.text");
	if (bound_touch_from)
		appendStringInfoString(&q, " AND e.occurred_at OPERATOR(pg_catalog.>=) $1");
	if (bound_to)
		appendStringInfoString(&q, " AND e.occurred_at OPERATOR(pg_catalog.<) $3");
	fs.reading_touches = true;
	if (DirectSourcesOpen(&fs, need_ref, &direct, &ndirect))
	{
		/* the touch query's conditions, in C ($1 and $3 as the query takes them) */
		bool has_from = bound_touch_from && argnulls[0] != 'n';
		bool has_to = bound_to && argnulls[2] != 'n';

		elog(DEBUG1, "lead_scoring attribution touches: read from %d events tables", ndirect);
		for (i = 0; i < ndirect; i++)
		{
			DirectSourceRead(&fs, &direct[i], has_from, has_from ? DatumGetTimestampTz(args[0]) : 0,
							 has_to, has_to ? DatumGetTimestampTz(args[2]) : 0);
			table_close(direct[i].rel, AccessShareLock);
		}
	}
	else
	{
		elog(DEBUG1, "lead_scoring attribution touches: %s", q.data);
		FastReadRows(&fs, q.data, argtypes, args, argnulls);
	}
	MemoryContextSwitchTo(run->work_cxt);

	/*
	 * Group the touches by lead with a counting sort: the scattered writes
	 * are independent, so that the cache misses overlap (walking a chain per
	 * lead would wait for each miss in turn).
	 */
	next = palloc(sizeof(int) * fs.nleads);
	for (li = 0, i = 0; li < fs.nleads; li++)
	{
		fs.leads[li].ntouch = fs.ntouch[li];
		fs.leads[li].first_touch = next[li] = i;
		i += fs.leads[li].ntouch;
	}
	grouped = palloc_extended(sizeof(FastTouch) * Max(fs.ntouches, 1), MCXT_ALLOC_HUGE);
	for (i = 0; i < fs.ntouches; i++)
		grouped[next[fs.touches[i].lead]++] = fs.touches[i];
	if (fs.touches)
		pfree(fs.touches);
	pfree(next);
	fs.touches = grouped;

	cbuf = palloc(sizeof(FastConv *) * cbuf_cap);
	for (li = 0; li < fs.nleads; li++)
	{
		MemoryContext old = MemoryContextSwitchTo(run->lead_cxt);

		CHECK_FOR_INTERRUPTS();
		FastProcessLead(&fs, &fs.leads[li], &cbuf, &cbuf_cap);
		MemoryContextSwitchTo(old);
		MemoryContextReset(run->lead_cxt);
	}
}

#endif
