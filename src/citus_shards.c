/*
 * citus_shards.c — map the relation a trigger fired on to its attachment,
 * whether it is the attached table or one of its Citus shards (see
 * citus_shards.h and doc/scale-out.md, "Triggers on shards").
 *
 * A shard is recognised by its name (<table>_<shardid>) and confirmed with
 * Citus's metadata on the node (pg_dist_shard, which Citus keeps on every node
 * that holds shards).  Answers are cached per backend by relation OID and
 * forgotten when the relation is invalidated (a shard dropped by a move or a
 * split); the per-shard copies of an attachment live as long as the
 * attachment cache they were made from.  Without Citus the first comparison
 * answers and nothing is looked up.
 */
#include "postgres.h"

#include "access/attmap.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "rewrite/rewriteManip.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/varlena.h"

#include "attachment.h"
#include "citus_shards.h"
#include "config_cache.h"
#include "row_filter.h"
#include "spi_glue.h"

typedef struct ShardEntry
{
	Oid relid;	 /* hash key: a relation a trigger fired on */
	Oid logical; /* the table it is a shard of, or relid itself */
	int64 shardid;
	bool distributed; /* a Citus table (distributed or reference): its rows are in its shards */
} ShardEntry;

typedef struct ColocatedKey
{
	Oid shard;
	Oid target;
} ColocatedKey;

typedef struct ColocatedEntry
{
	ColocatedKey key;
	Oid result;
} ColocatedEntry;

typedef struct CopyEntry
{
	Oid relid; /* hash key: the shard */
	void *attachment;
} CopyEntry;

static HTAB *shards = NULL;	   /* ShardEntry, in CacheMemoryContext */
static HTAB *colocated = NULL; /* ColocatedEntry, in CacheMemoryContext */
static HTAB *copies = NULL;	   /* CopyEntry, in the attachment cache's context */
static uint64 copies_generation = 0;

static void
ShardsInvalCallback(Oid relid)
{
	HASH_SEQ_STATUS seq;
	ColocatedEntry *c;

	if (shards == NULL)
		return;
	if (relid == InvalidOid)
	{
		ShardEntry *s;

		hash_seq_init(&seq, shards);
		while ((s = hash_seq_search(&seq)) != NULL)
			hash_search(shards, &s->relid, HASH_REMOVE, NULL);
	}
	else
		hash_search(shards, &relid, HASH_REMOVE, NULL);
	hash_seq_init(&seq, colocated);
	while ((c = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || c->key.shard == relid || c->key.target == relid ||
			c->result == relid)
			hash_search(colocated, &c->key, HASH_REMOVE, NULL);
}

void
CitusShardsInit(void)
{
	HASHCTL ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ShardEntry);
	ctl.hcxt = CacheMemoryContext;
	shards = hash_create("lead_scoring shards", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(ColocatedKey);
	ctl.entrysize = sizeof(ColocatedEntry);
	ctl.hcxt = CacheMemoryContext;
	colocated = hash_create("lead_scoring colocated shards", 64, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	RelcacheListen(ShardsInvalCallback);
}

/* The shard id a relation name ends with ("_<digits>"), or 0. */
static int64
ShardIdOfName(const char *relname)
{
	const char *us = strrchr(relname, '_');
	const char *p;
	int64 id = 0;

	if (us == NULL || us[1] == '\0')
		return 0;
	for (p = us + 1; *p; p++)
	{
		if (*p < '0' || *p > '9' || id > (PG_INT64_MAX - 9) / 10)
			return 0;
		id = id * 10 + (*p - '0');
	}
	return id;
}

static bool
CitusInstalled(void)
{
	return OidIsValid(get_extension_oid("citus", true)) &&
		   OidIsValid(get_relname_relid("pg_dist_shard", PG_CATALOG_NAMESPACE));
}

/* Whether a relation is a Citus table (in pg_dist_partition). */
static bool
LookUpCitusTable(Oid relid)
{
	Oid argtypes[1] = {OIDOID};
	Datum args[1] = {ObjectIdGetDatum(relid)};
	bool result;

	LsSpiConnect();
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_dist_partition p"
							  " WHERE p.logicalrelid::pg_catalog.oid OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_dist_partition");
	result = (SPI_processed > 0);
	SPI_finish();
	return result;
}

/* Look a relation up in Citus's metadata: the table it is a shard of (InvalidOid when none). */
static Oid
LookUpShard(Oid relid, int64 shardid)
{
	char *relname = get_rel_name(relid);
	char *nspname = get_namespace_name(get_rel_namespace(relid));
	Oid argtypes[4] = {INT8OID, OIDOID, TEXTOID, TEXTOID};
	Datum args[4];
	Oid logical = InvalidOid;

	if (relname == NULL || nspname == NULL)
		return InvalidOid;
	args[0] = Int64GetDatum(shardid);
	args[1] = ObjectIdGetDatum(get_rel_namespace(relid));
	/* shard_name() qualifies the name unless the schema is public */
	args[2] = CStringGetTextDatum(quote_identifier(relname));
	args[3] = CStringGetTextDatum(quote_qualified_identifier(nspname, relname));
	LsSpiConnect();
	if (SPI_execute_with_args(
			"SELECT s.logicalrelid::pg_catalog.oid FROM pg_catalog.pg_dist_shard s"
			" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
			" WHERE s.shardid OPERATOR(pg_catalog.=) $1"
			" AND c.relnamespace OPERATOR(pg_catalog.=) $2"
			" AND pg_catalog.shard_name(s.logicalrelid, s.shardid) IN ($3, $4)",
			4, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_dist_shard");
	if (SPI_processed == 1)
	{
		bool isnull;

		logical = DatumGetObjectId(
			SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return logical;
}

static ShardEntry *
ShardOf(Oid relid)
{
	ShardEntry *s;
	bool found;
	int64 shardid;
	Oid logical = InvalidOid;
	bool citus;
	bool distributed = false;

	s = hash_search(shards, &relid, HASH_FIND, NULL);
	if (s != NULL)
		return s;
	citus = CitusInstalled();

	shardid = ShardIdOfName(get_rel_name(relid) ? get_rel_name(relid) : "");
	if (shardid > 0 && citus)
		logical = LookUpShard(relid, shardid);
	if (citus && !OidIsValid(logical))
		distributed = LookUpCitusTable(relid);
	/* entered only now: the look-ups may have processed invalidations */
	s = hash_search(shards, &relid, HASH_ENTER, &found);
	s->logical = OidIsValid(logical) ? logical : relid;
	s->shardid = OidIsValid(logical) ? shardid : 0;
	s->distributed = distributed;
	return s;
}

Oid
LsLogicalRelid(Oid relid)
{
	return ShardOf(relid)->logical;
}

bool
LsIsShard(Oid relid)
{
	return ShardOf(relid)->shardid != 0;
}

bool
LsIsCitusTable(Oid relid)
{
	return ShardOf(relid)->distributed;
}

Oid
LsColocatedShard(Oid shard, Oid target)
{
	ColocatedKey key;
	ColocatedEntry *c;
	ShardEntry *s = ShardOf(shard);
	Oid result = InvalidOid;
	bool found;

	if (s->shardid == 0)
		return InvalidOid;
	memset(&key, 0, sizeof(key));
	key.shard = shard;
	key.target = target;
	c = hash_search(colocated, &key, HASH_FIND, NULL);
	if (c != NULL)
		return c->result;
	{
		Oid argtypes[2] = {INT8OID, OIDOID};
		Datum args[2] = {Int64GetDatum(s->shardid), ObjectIdGetDatum(target)};

		LsSpiConnect();
		if (SPI_execute_with_args(
				/* the shard's relation name: shard_name() quotes it and may qualify it */
				"SELECT q.n[pg_catalog.array_upper(q.n, 1)] FROM (SELECT"
				" pg_catalog.parse_ident(pg_catalog.shard_name(t.logicalrelid, t.shardid)) AS n"
				" FROM pg_catalog.pg_dist_shard s"
				" JOIN pg_catalog.pg_dist_partition ps ON ps.logicalrelid OPERATOR(pg_catalog.=)"
				"  s.logicalrelid"
				" JOIN pg_catalog.pg_dist_partition pt ON pt.logicalrelid::pg_catalog.oid"
				"  OPERATOR(pg_catalog.=) $2"
				" JOIN pg_catalog.pg_dist_shard t ON t.logicalrelid OPERATOR(pg_catalog.=)"
				"  pt.logicalrelid"
				" WHERE s.shardid OPERATOR(pg_catalog.=) $1"
				" AND (pt.partmethod OPERATOR(pg_catalog.=) 'n'"
				"  OR (pt.colocationid OPERATOR(pg_catalog.=) ps.colocationid"
				"      AND t.shardminvalue OPERATOR(pg_catalog.=) s.shardminvalue))) q",
				2, argtypes, args, NULL, true, 2) != SPI_OK_SELECT)
			elog(ERROR, "could not read pg_dist_shard");
		if (SPI_processed == 1)
		{
			char *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			if (name != NULL)
				result = get_relname_relid(name, get_rel_namespace(target));
		}
		SPI_finish();
	}
	c = hash_search(colocated, &key, HASH_ENTER, &found);
	c->result = result;
	return result;
}

/* The cache of per-shard attachment copies, made anew with every attachment cache. */
static HTAB *
Copies(void)
{
	Attachments *a = LsAttachments();

	if (copies == NULL || copies_generation != a->generation)
	{
		HASHCTL ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CopyEntry);
		ctl.hcxt = LsAttachmentContext();
		copies = hash_create("lead_scoring shard attachments", 16, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		copies_generation = a->generation;
	}
	return copies;
}

AttrNumber
LsShardColumn(Oid table, Oid shard, AttrNumber att)
{
	char *name;
	AttrNumber result;

	if (att == InvalidAttrNumber)
		return InvalidAttrNumber;
	name = get_attname(table, att, false);
	result = get_attnum(shard, name);
	if (result == InvalidAttrNumber)
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
						errmsg("column \"%s\" of table \"%s\" is missing from its shard \"%s\"",
							   name, get_rel_name(table), get_rel_name(shard))));
	return result;
}

static char *
ShardQualifiedName(Oid shard)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(shard)),
									  get_rel_name(shard));
}

/*
 * The cached copy for a shard, or NULL; `entry` receives the slot to fill.  A copy is made of the
 * table's attachment as looked up after this call (and LsAttachmentContext()), which process no
 * invalidation in between: from the build the cache belongs to.  An attachment a caller read
 * before a catalog or Citus metadata lookup may be from an older build (an invalidation processed
 * meanwhile, a configuration change on a worker invalidates the attachments), whose memory goes at
 * the end of the transaction, while the copy would stay cached with the new build pointing into it.
 */
static void *
CachedCopy(Oid shard, CopyEntry **entry)
{
	bool found;

	*entry = hash_search(Copies(), &shard, HASH_ENTER, &found);
	if (!found)
		(*entry)->attachment = NULL;
	return (*entry)->attachment;
}

/* A filter parsed against the table (Vars of its columns), its Vars numbered as in the shard. */
static Node *
ShardFilter(Node *filter, Oid table, Oid shard)
{
	Relation t;
	Relation s;
	AttrMap *map;
	bool whole_row;
	Node *result;

	if (filter == NULL)
		return NULL;
	t = table_open(table, AccessShareLock);
	s = table_open(shard, AccessShareLock);
	/* for each column of the table, its number in the shard */
	map = build_attrmap_by_name(RelationGetDescr(s), RelationGetDescr(t));
	result = map_variable_attnos(copyObject(filter), 1, 0, map, InvalidOid, &whole_row);
	free_attrmap(map);
	table_close(s, AccessShareLock);
	table_close(t, AccessShareLock);
	return result;
}

/* The table's attachment a copy is made of, looked up after CachedCopy() (see there). */
static void
CheckCopySource(const void *source, Oid shard)
{
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the table of shard \"%s\" was detached meanwhile", get_rel_name(shard)),
				 errhint("Retry the statement.")));
}

static LeadsAttachment *
LeadsCopy(Oid shard)
{
	CopyEntry *entry;
	LeadsAttachment *l = CachedCopy(shard, &entry);
	LeadsAttachment *leads;
	MemoryContext old;

	if (l != NULL)
		return l;
	old = MemoryContextSwitchTo(LsAttachmentContext());
	leads = LsAttachments()->leads;
	CheckCopySource(leads, shard);
	l = palloc(sizeof(LeadsAttachment));
	memcpy(l, leads, sizeof(LeadsAttachment));
	l->relid = shard;
	l->qualname = ShardQualifiedName(shard);
	l->id_att = LsShardColumn(leads->relid, shard, leads->id_att);
	l->stage_att = LsShardColumn(leads->relid, shard, leads->stage_att);
	l->score_att = LsShardColumn(leads->relid, shard, leads->score_att);
	l->owner_att = LsShardColumn(leads->relid, shard, leads->owner_att);
	l->created_att = LsShardColumn(leads->relid, shard, leads->created_att);
	l->crm_stage_att = LsShardColumn(leads->relid, shard, leads->crm_stage_att);
	l->state_att = LsShardColumn(leads->relid, shard, leads->state_att);
	/* the row filter evaluated on the shard's rows: its columns by the shard's numbers */
	l->row_filter_expr = ShardFilter(leads->row_filter_expr, leads->relid, shard);
	MemoryContextSwitchTo(old);
	entry->attachment = l;
	return l;
}

static EventsAttachment *
EventsCopy(Oid table, Oid shard)
{
	CopyEntry *entry;
	EventsAttachment *e = CachedCopy(shard, &entry);
	EventsAttachment *events;
	MemoryContext old;
	int i;

	if (e != NULL)
		return e;
	old = MemoryContextSwitchTo(LsAttachmentContext());
	events = LsEventsAttachment(table);
	CheckCopySource(events, shard);
	e = palloc(sizeof(EventsAttachment));
	memcpy(e, events, sizeof(EventsAttachment));
	e->relid = shard;
	e->qualname = ShardQualifiedName(shard);
	e->lead_att = LsShardColumn(events->relid, shard, events->lead_att);
	e->type_att = LsShardColumn(events->relid, shard, events->type_att);
	e->time_att = LsShardColumn(events->relid, shard, events->time_att);
	e->channel_att = LsShardColumn(events->relid, shard, events->channel_att);
	e->campaign_att = LsShardColumn(events->relid, shard, events->campaign_att);
	e->keyword_att = LsShardColumn(events->relid, shard, events->keyword_att);
	e->key_atts = palloc(sizeof(AttrNumber) * events->nkeys);
	for (i = 0; i < events->nkeys; i++)
		e->key_atts[i] = LsShardColumn(events->relid, shard, events->key_atts[i]);
	/* the shard's rows, filtered as the table's (the filter names columns, the same in the shard)
	 */
	e->from_item = LsFilteredRows(e->qualname, events->relid, events->row_filter, "e");
	MemoryContextSwitchTo(old);
	entry->attachment = e;
	return e;
}

static DealsAttachment *
DealsCopy(Oid table, Oid shard)
{
	CopyEntry *entry;
	DealsAttachment *d = CachedCopy(shard, &entry);
	DealsAttachment *deals;
	MemoryContext old;

	if (d != NULL)
		return d;
	old = MemoryContextSwitchTo(LsAttachmentContext());
	deals = LsDealsAttachment(table);
	CheckCopySource(deals, shard);
	d = palloc(sizeof(DealsAttachment));
	memcpy(d, deals, sizeof(DealsAttachment));
	d->relid = shard;
	d->qualname = ShardQualifiedName(shard);
	d->id_att = LsShardColumn(deals->relid, shard, deals->id_att);
	d->lead_att = LsShardColumn(deals->relid, shard, deals->lead_att);
	d->amount_att = LsShardColumn(deals->relid, shard, deals->amount_att);
	d->status_att = LsShardColumn(deals->relid, shard, deals->status_att);
	d->closed_att = LsShardColumn(deals->relid, shard, deals->closed_att);
	d->owner_att = LsShardColumn(deals->relid, shard, deals->owner_att);
	d->cost_att = LsShardColumn(deals->relid, shard, deals->cost_att);
	d->row_filter = ShardFilter(deals->row_filter, deals->relid, shard);
	d->won_filter = ShardFilter(deals->won_filter, deals->relid, shard);
	d->lost_filter = ShardFilter(deals->lost_filter, deals->relid, shard);
	MemoryContextSwitchTo(old);
	entry->attachment = d;
	return d;
}

LeadsAttachment *
LsLeadsAttachmentOf(Relation rel)
{
	Oid relid = RelationGetRelid(rel);
	LeadsAttachment *leads = LsAttachments()->leads;

	if (leads == NULL)
		return NULL;
	if (leads->relid == relid)
		return leads;
	if (LsLogicalRelid(relid) != leads->relid)
		return NULL;
	return LeadsCopy(relid);
}

EventsAttachment *
LsEventsAttachmentOf(Relation rel)
{
	Oid relid = RelationGetRelid(rel);
	EventsAttachment *events = LsEventsAttachment(relid);

	if (events != NULL)
		return events;
	events = LsEventsAttachment(LsLogicalRelid(relid));
	return events == NULL ? NULL : EventsCopy(events->relid, relid);
}

DealsAttachment *
LsDealsAttachmentOf(Relation rel)
{
	Oid relid = RelationGetRelid(rel);
	DealsAttachment *deals = LsDealsAttachment(relid);

	if (deals != NULL)
		return deals;
	deals = LsDealsAttachment(LsLogicalRelid(relid));
	return deals == NULL ? NULL : DealsCopy(deals->relid, relid);
}

LeadsAttachment *
LsLeadsAttachmentNear(Relation rel)
{
	return LsLeadsAttachmentNearRelid(RelationGetRelid(rel));
}

LeadsAttachment *
LsLeadsAttachmentNearRelid(Oid relid)
{
	LeadsAttachment *leads = LsLeadsAttachment();
	Oid shard;

	if (!LsIsShard(relid))
		return leads;
	shard = LsColocatedShard(relid, leads->relid);
	if (!OidIsValid(shard))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" is not colocated with the leads table \"%s\"",
						get_rel_name(LsLogicalRelid(relid)), get_rel_name(leads->relid)),
				 errdetail("Trigger fired on shard \"%s\", whose node holds no leads shard of the "
						   "same hash range.",
						   get_rel_name(relid)),
				 errhint("Distribute it by its lead column with colocate_with => '%s'.",
						 get_rel_name(leads->relid))));
	return LeadsCopy(shard);
}

EventsAttachment *
LsEventsShardAttachment(Oid shard)
{
	EventsAttachment *events = LsEventsAttachment(LsLogicalRelid(shard));

	if (events == NULL || events->relid == shard)
		return events;
	return EventsCopy(events->relid, shard);
}

DealsAttachment *
LsDealsShardAttachment(Oid shard)
{
	DealsAttachment *deals = LsDealsAttachment(LsLogicalRelid(shard));

	if (deals == NULL || deals->relid == shard)
		return deals;
	return DealsCopy(deals->relid, shard);
}

LeadsAttachment *
LsLeadsShardAttachment(Oid shard)
{
	LeadsAttachment *leads = LsAttachments()->leads;

	if (leads == NULL || leads->relid == shard || LsLogicalRelid(shard) != leads->relid)
		return leads;
	return LeadsCopy(shard);
}

Oid
LsLocalLeadShard(Datum lead_id)
{
	LeadsAttachment *leads = LsAttachments()->leads;
	Oid argtypes[2] = {OIDOID, InvalidOid};
	Datum args[2];
	Oid result = InvalidOid;

	if (leads == NULL || !LsIsCitusTable(leads->relid))
		return InvalidOid;
	argtypes[1] = leads->id_type;
	args[0] = ObjectIdGetDatum(leads->relid);
	args[1] = lead_id;
	LsSpiConnect();
	/* the lead's shard from the hash of its id, when this node holds a placement of it */
	if (SPI_execute_with_args(
			"SELECT q.n[pg_catalog.array_upper(q.n, 1)] FROM (SELECT"
			" pg_catalog.parse_ident(pg_catalog.shard_name($1::pg_catalog.regclass, s.id)) AS n"
			" FROM (SELECT pg_catalog.get_shard_id_for_distribution_column("
			"  $1::pg_catalog.regclass, $2) AS id) s"
			" WHERE EXISTS (SELECT FROM pg_catalog.pg_dist_placement p"
			"  WHERE p.shardid OPERATOR(pg_catalog.=) s.id AND p.groupid OPERATOR(pg_catalog.=)"
			"  (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g))) q",
			2, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_dist_shard");
	if (SPI_processed == 1)
	{
		char *name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (name != NULL)
			result = get_relname_relid(name, get_rel_namespace(leads->relid));
	}
	SPI_finish();
	return result;
}

/* shard_table(regclass): the table a relation stands for (see citus_shards.h). */
PG_FUNCTION_INFO_V1(ls_shard_table);
Datum
ls_shard_table(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(LsLogicalRelid(PG_GETARG_OID(0)));
}
