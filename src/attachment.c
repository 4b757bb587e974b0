/*
 * attachment.c — per-backend cache of lead_scoring.attachment.
 *
 * The cache is built with one SPI query and resolves the recorded column
 * names to attribute numbers.  A relcache invalidation of the attachment
 * table, of any attached table, or a full reset marks it stale; the next
 * LsAttachments() call rebuilds it.  The previous build's memory is handed
 * to the current transaction, so pointers a caller still holds stay valid
 * until the transaction ends.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/qunique.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "spi_glue.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "attachment.h"
#include "config_cache.h"
#include "catalog.h"
#include "crm_time.h"
#include "row_filter.h"

static MemoryContext attachment_cxt = NULL;
static Attachments *attachments = NULL;
static bool attachments_valid = false;
static uint64 attachments_inval_count = 0;
static uint64 attachments_generation = 0;

/* Relations whose invalidation makes the cache stale (kept outside the cache's memory). */
#define MAX_WATCHED 64
static Oid watched[MAX_WATCHED];
static int nwatched = 0;
static bool watch_all = false; /* more attached tables than slots: any invalidation counts */

static void
AttachmentInvalCallback(Oid relid)
{
	int i;
	bool hit = (relid == InvalidOid || watch_all);

	for (i = 0; !hit && i < nwatched; i++)
		hit = (watched[i] == relid);
	if (hit)
	{
		attachments_valid = false;
		attachments_inval_count++;
		if (relid == InvalidOid)
			nwatched = 0; /* OIDs may have been reassigned: look them up again */
	}
}

void
AttachmentInit(void)
{
	RelcacheListen(AttachmentInvalCallback);
}

static void
Watch(Oid relid)
{
	if (nwatched < MAX_WATCHED)
		watched[nwatched++] = relid;
	else
		watch_all = true;
}

/* Attribute number of a mapped column; NULL name means "not mapped". */
static AttrNumber
MappedColumn(Oid relid, HeapTuple tup, TupleDesc desc, const char *field, bool required)
{
	int fno = SPI_fnumber(desc, field);
	char *name = SPI_getvalue(tup, desc, fno);
	AttrNumber att;

	if (name == NULL)
	{
		if (required)
			elog(ERROR, "lead_scoring.attachment.%s is NULL for %s", field, get_rel_name(relid));
		return InvalidAttrNumber;
	}
	att = get_attnum(relid, name);
	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of attached table \"%s\" no longer exists", name,
						get_rel_name(relid)),
				 errhint("Detach the table with lead_scoring.detach() and attach it again with the "
						 "current column names.")));
	return att;
}

static char *
QualifiedName(Oid relid)
{
	char *nspname = get_namespace_name(get_rel_namespace(relid));
	char *relname = get_rel_name(relid);

	if (nspname == NULL || relname == NULL)
		elog(ERROR, "attached table with OID %u does not exist", relid);
	return quote_qualified_identifier(nspname, relname);
}

static char *
QuotedColumn(Oid relid, AttrNumber att)
{
	return pstrdup(quote_identifier(get_attname(relid, att, false)));
}

/* An operator as SQL names it unambiguously: OPERATOR(schema.name). */
static char *
QualifiedOperator(Oid opr)
{
	HeapTuple tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opr));
	Form_pg_operator form;
	char *result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opr);
	form = (Form_pg_operator) GETSTRUCT(tup);
	result = psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(form->oprnamespace)),
					  NameStr(form->oprname));
	ReleaseSysCache(tup);
	return result;
}

/* The zone declared for the table's naive time columns (NULL: none, the session's). */
static char *
TimeZoneOf(HeapTuple tup, TupleDesc desc, struct LsZone **zone)
{
	char *name = SPI_getvalue(tup, desc, SPI_fnumber(desc, "time_zone"));

	*zone = LsResolveZone(name);
	return name;
}

/*
 * The single-column foreign key of column att of relid: the referenced table, its key column and
 * the foreign key's equality operator.  False when there is none.
 */
static bool
LabelKey(Oid relid, AttrNumber att, Oid *confrelid, AttrNumber *confkey, Oid *eqop)
{
	Relation rel = table_open(relid, AccessShareLock);
	List *fkeys = RelationGetFKeyList(rel);
	ListCell *lc;
	bool found = false;

	foreach (lc, fkeys)
	{
		ForeignKeyCacheInfo *fk = lfirst(lc);

		if (fk->nkeys != 1 || fk->conkey[0] != att)
			continue;
		*confrelid = fk->confrelid;
		*confkey = fk->confkey[0];
		*eqop = fk->conpfeqop[0];
		found = true;
		break;
	}
	table_close(rel, AccessShareLock);
	return found;
}

/* The items of a label list "a, b": split at the commas, blanks around each trimmed. */
static List *
LabelItems(const char *label)
{
	List *items = NIL;
	char *copy = pstrdup(label);
	char *part;
	char *save = NULL;

	for (part = strtok_r(copy, ",", &save); part != NULL; part = strtok_r(NULL, ",", &save))
	{
		char *end;

		while (*part == ' ')
			part++;
		end = part + strlen(part);
		while (end > part && end[-1] == ' ')
			*--end = '\0';
		items = lappend(items, part);
	}
	return items;
}

/*
 * What a label path is built into (LabelWalk): one builder for each kind of step.  alias is the
 * alias of the row the step reads (r, then r1, r2, ... along a path), col a quoted column of it.
 */
typedef struct LabelBuilder
{
	/* the label is column col */
	char *(*column)(const char *alias, const char *col);
	/* the label is the key `key` (a quoted literal) of jsonb column col */
	char *(*json_key)(const char *alias, const char *col, const char *key);
	/* the label is `inner` of the row a foreign key references, read FROM `from` (that table, its
	 * alias, and WHERE its key is the key of row alias) */
	char *(*reference)(const char *alias, const char *inner, const char *from);
	/* the label is the list of these items ("a, b": each one built, joined with ", ") */
	char *(*list)(const char *items);
} LabelBuilder;

/*
 * Walk the label of row alias of table relid (doc/crm_schemas.md, "CRM-native columns"), as
 * label_expr_sql() in extension/parts/40_attach.sql reads it, and build it with b: a column;
 * "column.rest", when column is jsonb, its key rest, when it is a key with a single-column foreign
 * key, the label rest of the row it references (a path: Odoo's "partner_id.name"); "a,b" the list
 * of the labels a and b (Twenty's "nameFirstName,nameLastName").  NULL when the label does not
 * resolve.
 */
static char *
LabelWalk(const LabelBuilder *b, Oid relid, const char *label, int depth)
{
	const char *dot = strchr(label, '.');
	char *alias = depth == 0 ? pstrdup("r") : psprintf("r%d", depth);
	AttrNumber att = get_attnum(relid, label);

	if (att != InvalidAttrNumber)
		return b->column(alias, QuotedColumn(relid, att));
	if (dot != NULL && (att = get_attnum(relid, pnstrdup(label, dot - label))) != InvalidAttrNumber)
	{
		Oid ref;
		AttrNumber refkey;
		Oid eqop;
		char *inner;

		if (get_atttype(relid, att) == JSONBOID)
			return b->json_key(alias, QuotedColumn(relid, att), quote_literal_cstr(dot + 1));
		if (!LabelKey(relid, att, &ref, &refkey, &eqop) ||
			(inner = LabelWalk(b, ref, dot + 1, depth + 1)) == NULL)
			return NULL;
		return b->reference(alias, inner,
							psprintf("%s r%d WHERE r%d.%s %s %s.%s", QualifiedName(ref), depth + 1,
									 depth + 1, QuotedColumn(ref, refkey), QualifiedOperator(eqop),
									 alias, QuotedColumn(relid, att)));
	}
	if (strchr(label, ',') != NULL)
	{
		StringInfoData items;
		ListCell *lc;

		initStringInfo(&items);
		foreach (lc, LabelItems(label))
		{
			char *item;

			if ((item = LabelWalk(b, relid, lfirst(lc), depth)) == NULL)
				return NULL;
			appendStringInfo(&items, "%s%s", items.len > 0 ? ", " : "", item);
		}
		return b->list(items.data);
	}
	return NULL;
}

/*
 * The label as an SQL text expression (LabelExpr): a column's text, a jsonb key's text, a
 * referenced row's label (a scalar subquery), a list's labels joined with a space, empty and NULL
 * ones left out.
 */
static char *
ExprOfColumn(const char *alias, const char *col)
{
	return psprintf("%s.%s::pg_catalog.text", alias, col);
}

static char *
ExprOfJsonKey(const char *alias, const char *col, const char *key)
{
	return psprintf("(%s.%s OPERATOR(pg_catalog.->>) %s)", alias, col, key);
}

static char *
ExprOfReference(const char *alias, const char *inner, const char *from)
{
	return psprintf("(SELECT %s FROM %s)", inner, from);
}

static char *
ExprOfList(const char *items)
{
	return psprintf("(SELECT pg_catalog.string_agg(p.v, ' ' ORDER BY p.n) FROM "
					"pg_catalog.unnest(ARRAY[%s]) WITH ORDINALITY p(v, n) "
					"WHERE p.v OPERATOR(pg_catalog.<>) '')",
					items);
}

static const LabelBuilder label_expr = {ExprOfColumn, ExprOfJsonKey, ExprOfReference, ExprOfList};

/*
 * The version of the rows the label reads (LabelVersion), as an SQL text expression: the xmin of
 * row alias, and along a path of foreign keys the versions of the rows it steps into ('-' for a key
 * without a row), so that a change anywhere on the path changes it (the rules' fingerprint holds
 * it, rules.c; doc/crm_schemas.md, "Event type labels").
 */
static char *
VersionOfColumn(const char *alias, const char *col)
{
	return psprintf("%s.xmin::pg_catalog.text", alias);
}

static char *
VersionOfJsonKey(const char *alias, const char *col, const char *key)
{
	return VersionOfColumn(alias, col);
}

static char *
VersionOfReference(const char *alias, const char *inner, const char *from)
{
	return psprintf("pg_catalog.concat_ws('/', %s.xmin::pg_catalog.text, COALESCE((SELECT %s FROM "
					"%s), '-'))",
					alias, inner, from);
}

static char *
VersionOfList(const char *items)
{
	return psprintf("pg_catalog.concat_ws(',', %s)", items);
}

static const LabelBuilder label_version = {VersionOfColumn, VersionOfJsonKey, VersionOfReference,
										   VersionOfList};

/* The label of row r of table relid as an SQL expression; NULL when it does not resolve. */
static char *
LabelExpr(Oid relid, const char *label)
{
	return LabelWalk(&label_expr, relid, label, 0);
}

/* The version of the rows LabelExpr(relid, label) reads; NULL when the label does not resolve. */
static char *
LabelVersion(Oid relid, const char *label)
{
	return LabelWalk(&label_version, relid, label, 0);
}

/*
 * How the label of a key column's row is read in the table its single-column foreign key references
 * (attach's owner_label and labels: Odoo's user_id -> res_users.login, activity_type_id ->
 * mail_activity_type.name): the referenced table, its key column, the foreign key's equality
 * operator, and the label as an expression of alias r (LabelExpr).  False when the key column has
 * no such foreign key or the label does not resolve.
 */
static bool
LabelParts(Oid relid, AttrNumber att, const char *label, char **ref, char **refcol, char **op,
		   char **expr)
{
	Oid confrelid;
	AttrNumber confkey;
	Oid eqop;

	if (!LabelKey(relid, att, &confrelid, &confkey, &eqop) ||
		(*expr = LabelExpr(confrelid, label)) == NULL)
		return false;
	*ref = QualifiedName(confrelid);
	*refcol = QuotedColumn(confrelid, confkey);
	*op = QualifiedOperator(eqop);
	return true;
}

/* The label of a key column no longer resolves: the foreign key or the label column went away. */
static void
LabelGone(Oid relid, const char *what, const char *label)
{
	ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
					errmsg("%s \"%s\" of attached table \"%s\" no longer resolves", what, label,
						   get_rel_name(relid)),
					errhint("The key column must keep its foreign key to a table with that "
							"column; detach and attach again.")));
}

/*
 * The query giving the label of a key column's row in the table its foreign key references
 * (attach's owner_label: Odoo's user_id -> res_users.login): $1 is the key.
 */
static char *
LabelQuery(Oid relid, AttrNumber att, const char *label)
{
	char *ref, *refcol, *op, *expr;

	if (!LabelParts(relid, att, label, &ref, &refcol, &op, &expr))
		LabelGone(relid, "owner_label", label);
	return psprintf("SELECT %s FROM %s r WHERE r.%s %s $1", expr, ref, refcol, op);
}

/*
 * A CRM stage map (attach_leads' crm_stage_map, attach_deals' stage_map) as parallel arrays of the
 * CRM's values and their funnel stages; returns how many.
 */
static int
StageMap(const char *qualname, HeapTuple tup, TupleDesc desc, char ***values, FunnelStage **targets,
		 bool *enforce)
{
	bool isnull;
	Datum keys = SPI_getbinval(tup, desc, SPI_fnumber(desc, "crm_stage_keys"), &isnull);
	Datum stages = SPI_getbinval(tup, desc, SPI_fnumber(desc, "crm_stage_stages"), &isnull);
	char *enforced = SPI_getvalue(tup, desc, SPI_fnumber(desc, "crm_stage_enforce"));
	Datum *k;
	Datum *v;
	int nk;
	int nv;
	int i;

	*enforce = enforced != NULL && strcmp(enforced, "true") == 0;
	if (isnull)
		return 0;
	deconstruct_array(DatumGetArrayTypeP(keys), TEXTOID, -1, false, TYPALIGN_INT, &k, NULL, &nk);
	deconstruct_array(DatumGetArrayTypeP(stages), TEXTOID, -1, false, TYPALIGN_INT, &v, NULL, &nv);
	nk = Min(nk, nv);
	*values = palloc(sizeof(char *) * Max(nk, 1));
	*targets = palloc(sizeof(FunnelStage) * Max(nk, 1));
	for (i = 0; i < nk; i++)
	{
		char *label = TextDatumGetCString(v[i]);

		(*values)[i] = TextDatumGetCString(k[i]);
		if (!FunnelStageParse(label, &(*targets)[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("the stage map of %s maps %s to \"%s\", which is no funnel stage",
							qualname, quote_literal_cstr((*values)[i]), label)));
	}
	return nk;
}

static LeadsAttachment *
BuildLeads(Oid relid, HeapTuple tup, TupleDesc desc)
{
	LeadsAttachment *l = palloc0(sizeof(LeadsAttachment));
	TypeCacheEntry *tce;

	l->relid = relid;
	l->qualname = QualifiedName(relid);
	l->id_att = MappedColumn(relid, tup, desc, "id_column", true);
	l->stage_att = MappedColumn(relid, tup, desc, "stage_column", true);
	l->score_att = MappedColumn(relid, tup, desc, "score_column", true);
	l->owner_att = MappedColumn(relid, tup, desc, "owner_column", false);
	l->created_att = MappedColumn(relid, tup, desc, "created_column", false);
	l->time_zone = TimeZoneOf(tup, desc, &l->zone);
	l->row_filter = SPI_getvalue(tup, desc, SPI_fnumber(desc, "row_filter"));
	l->row_filter_expr = l->row_filter ? LsParseRowFilter(relid, l->row_filter) : NULL;
	{
		char *label = SPI_getvalue(tup, desc, SPI_fnumber(desc, "owner_label"));

		l->owner_label_query =
			label && l->owner_att ? LabelQuery(relid, l->owner_att, label) : NULL;
	}
	l->crm_stage_att = MappedColumn(relid, tup, desc, "crm_stage_column", false);
	if (l->crm_stage_att != InvalidAttrNumber)
		l->crm_stage_count = StageMap(l->qualname, tup, desc, &l->crm_stage_values,
									  &l->crm_stage_targets, &l->crm_stage_enforce);
	l->id_col = QuotedColumn(relid, l->id_att);
	l->stage_col = QuotedColumn(relid, l->stage_att);
	l->score_col = QuotedColumn(relid, l->score_att);
	l->state_att = get_attnum(relid, LS_STATE_COLUMN);
	if (l->state_att != InvalidAttrNumber && get_atttype(relid, l->state_att) != BYTEAOID)
		l->state_att = InvalidAttrNumber;
	l->state_col = l->state_att != InvalidAttrNumber ? QuotedColumn(relid, l->state_att) : NULL;
	{
		int32 typmod;

		get_atttypetypmodcoll(relid, l->id_att, &l->id_type, &typmod, &l->id_collation);
	}
	get_typlenbyvalalign(l->id_type, &l->id_len, &l->id_byval, &l->id_align);
	tce = lookup_type_cache(l->id_type, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(tce->cmp_proc_finfo.fn_oid))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
						errmsg("type %s of the lead id has no btree comparison function",
							   format_type_be(l->id_type))));
	fmgr_info_copy(&l->id_cmp, &tce->cmp_proc_finfo, CurrentMemoryContext);
	tce = lookup_type_cache(l->id_type, TYPECACHE_EQ_OPR | TYPECACHE_GT_OPR);
	l->id_eq = QualifiedOperator(tce->eq_opr);
	l->id_gt = OidIsValid(tce->gt_opr) ? QualifiedOperator(tce->gt_opr) : NULL;
	return l;
}

static EventsAttachment *
BuildEvents(Oid relid, HeapTuple tup, TupleDesc desc)
{
	EventsAttachment *e = palloc0(sizeof(EventsAttachment));
	bool isnull;
	Datum keys = SPI_getbinval(tup, desc, SPI_fnumber(desc, "key_columns"), &isnull);
	Datum *elems;
	int i;

	e->relid = relid;
	e->qualname = QualifiedName(relid);
	e->lead_att = MappedColumn(relid, tup, desc, "lead_column", true);
	e->type_att = MappedColumn(relid, tup, desc, "type_column", true);
	e->time_att = MappedColumn(relid, tup, desc, "time_column", true);
	e->channel_att = MappedColumn(relid, tup, desc, "channel_column", false);
	e->campaign_att = MappedColumn(relid, tup, desc, "campaign_column", false);
	e->keyword_att = MappedColumn(relid, tup, desc, "keyword_column", false);
	e->lead_col = QuotedColumn(relid, e->lead_att);
	e->type_col = QuotedColumn(relid, e->type_att);
	e->time_col = QuotedColumn(relid, e->time_att);
	e->type_type = get_atttype(relid, e->type_att);
	e->time_type = get_atttype(relid, e->time_att);
	e->time_zone = TimeZoneOf(tup, desc, &e->zone);
	e->row_filter = SPI_getvalue(tup, desc, SPI_fnumber(desc, "row_filter"));
	/* rows outside the filter are not events: every query reads the filtered rows */
	e->from_item = LsFilteredRows(e->qualname, relid, e->row_filter, "e");
	/*
	 * An enum's owner may create a cast of it to text, which "::text" would call as whoever reads
	 * the events (the extension owner): its output function runs no user code.
	 */
	e->type_label = SPI_getvalue(tup, desc, SPI_fnumber(desc, "type_label"));
	if (e->type_label != NULL)
	{
		/* a key into a lookup table: the event type is the label of the row it references */
		char *ref, *refcol, *op, *expr;
		Oid lookup;
		AttrNumber lookup_key;
		Oid lookup_eq;
		char *version;

		if (!LabelParts(relid, e->type_att, e->type_label, &ref, &refcol, &op, &expr) ||
			!LabelKey(relid, e->type_att, &lookup, &lookup_key, &lookup_eq) ||
			(version = LabelVersion(lookup, e->type_label)) == NULL)
			LabelGone(relid, "the type label", e->type_label);
		e->type_text = psprintf("(SELECT %s FROM %s r WHERE r.%s %s e.%s)", expr, ref, refcol, op,
								e->type_col);
		/*
		 * each row's xmin too, and along a path the xmins of the rows it steps into: labels changed
		 * and changed back are other labels (rules.c)
		 */
		e->type_label_map = psprintf("SELECT r.%s::pg_catalog.text, %s, %s FROM %s r ORDER BY 1",
									 refcol, expr, version, ref);
	}
	else if (get_typtype(getBaseType(e->type_type)) == TYPTYPE_ENUM)
		e->type_text = psprintf("pg_catalog.textin(pg_catalog.enum_out(e.%s))", e->type_col);
	else
		e->type_text = psprintf("e.%s::pg_catalog.text", e->type_col);
	if (isnull)
		elog(ERROR, "lead_scoring.attachment.key_columns is NULL for %s", get_rel_name(relid));
	deconstruct_array(DatumGetArrayTypeP(keys), TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL,
					  &e->nkeys);
	e->key_atts = palloc(sizeof(AttrNumber) * e->nkeys);
	for (i = 0; i < e->nkeys; i++)
	{
		char *name = TextDatumGetCString(elems[i]);

		e->key_atts[i] = get_attnum(relid, name);
		if (e->key_atts[i] == InvalidAttrNumber)
			ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
							errmsg("key column \"%s\" of attached table \"%s\" no longer exists",
								   name, get_rel_name(relid))));
	}
	return e;
}

static DealsAttachment *
BuildDeals(Oid relid, HeapTuple tup, TupleDesc desc)
{
	DealsAttachment *d = palloc0(sizeof(DealsAttachment));

	d->relid = relid;
	d->qualname = QualifiedName(relid);
	d->id_att = MappedColumn(relid, tup, desc, "id_column", true);
	d->lead_att = MappedColumn(relid, tup, desc, "lead_column", true);
	d->amount_att = MappedColumn(relid, tup, desc, "amount_column", true);
	d->status_att = MappedColumn(relid, tup, desc, "status_column", false);
	d->closed_att = MappedColumn(relid, tup, desc, "closed_column", false);
	d->owner_att = MappedColumn(relid, tup, desc, "owner_column", false);
	d->cost_att = MappedColumn(relid, tup, desc, "cost_column", false);
	d->amount_type = get_atttype(relid, d->amount_att);
	d->status_type = d->status_att ? get_atttype(relid, d->status_att) : InvalidOid;
	d->closed_type = d->closed_att ? get_atttype(relid, d->closed_att) : InvalidOid;
	d->time_zone = TimeZoneOf(tup, desc, &d->zone);
	{
		char *filter = SPI_getvalue(tup, desc, SPI_fnumber(desc, "row_filter"));

		d->row_filter = filter ? LsParseRowFilter(relid, filter) : NULL;
		filter = SPI_getvalue(tup, desc, SPI_fnumber(desc, "won_filter"));
		d->won_filter = filter ? LsParseRowFilter(relid, filter) : NULL;
		filter = SPI_getvalue(tup, desc, SPI_fnumber(desc, "lost_filter"));
		d->lost_filter = filter ? LsParseRowFilter(relid, filter) : NULL;
	}
	d->stage_count =
		StageMap(d->qualname, tup, desc, &d->stage_values, &d->stage_targets, &d->stage_enforce);
	return d;
}

/*
 * Every events and deals table's lead column has the type of the leads table's id: attach requires
 * it, and it differs only in the middle of a migration that changes the lead ids' type, which the
 * engine does not write in (src/lead_id_retype.c; doc/crm_schemas.md, "The CRM's migrations").
 */
static void
CheckLeadColumnTypes(Attachments *a)
{
	ListCell *lc;
	List *tables = NIL;

	foreach (lc, a->events)
		tables = lappend(tables, list_make2_oid(((EventsAttachment *) lfirst(lc))->relid,
												((EventsAttachment *) lfirst(lc))->lead_att));
	foreach (lc, a->deals)
		tables = lappend(tables, list_make2_oid(((DealsAttachment *) lfirst(lc))->relid,
												((DealsAttachment *) lfirst(lc))->lead_att));
	foreach (lc, tables)
	{
		Oid relid = linitial_oid((List *) lfirst(lc));
		AttrNumber att = (AttrNumber) lsecond_oid((List *) lfirst(lc));
		Oid type = get_atttype(relid, att);

		if (type != a->leads->id_type)
			ereport(
				ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the lead column \"%s\" of %s is of type %s, the id of the leads table %s "
						"of type %s",
						get_attname(relid, att, false), QualifiedName(relid), format_type_be(type),
						QualifiedName(a->leads->relid), format_type_be(a->leads->id_type)),
				 errdetail("A migration changing the type of the lead ids is under way."),
				 errhint("Change the leads table's id and the lead column of every attached "
						 "events and deals table to the same type in this transaction before "
						 "writing to them.")));
	}
}

/* Read lead_scoring.attachment into a new cache context. */
static void
BuildAttachments(void)
{
	MemoryContext cxt;
	MemoryContext old;
	Attachments *a;
	uint64 i;
	Oid attachment_relid = LsRelid("attachment", false);
	LsSavedUser saved;

	/* built under the current context, so a failed build leaks nothing; kept only on success */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring attachments",
								ALLOCSET_SMALL_SIZES);
	nwatched = 0;
	watch_all = false;
	Watch(attachment_relid);

	LsSpiConnect();
	old = MemoryContextSwitchTo(cxt);
	a = palloc0(sizeof(Attachments));
	MemoryContextSwitchTo(old);

	a->extension_owner = LsExtensionOwner();
	if (!OidIsValid(a->extension_owner))
		elog(ERROR, "extension lead_scoring is not installed");

	/* the attachment table is read as the extension owner: any role's writes fire the triggers */
	LsBecomeOwner(a->extension_owner, &saved);
	/* not read-only: a new snapshot sees changes made by earlier commands of this transaction,
	 * even when the cache is rebuilt from a deferred trigger or inside a statement */
	if (SPI_execute(
			"SELECT relid::pg_catalog.oid AS relid, kind, id_column, stage_column, score_column,"
			" owner_column, created_column, lead_column, type_column, time_column, channel_column,"
			" campaign_column, keyword_column, key_columns::text[] AS key_columns, amount_column,"
			" status_column, closed_column, cost_column,"
			/* read by name through jsonb: a database still on 0.1.0 has no such column */
			" pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'time_zone' AS time_zone,"
			" pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'row_filter' AS row_filter,"
			" pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'crm_stage_column' AS "
			"crm_stage_column,"
			" pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'owner_label' AS owner_label,"
			" pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'crm_stage_enforce' AS "
			"crm_stage_enforce,"
			" (SELECT pg_catalog.array_agg(m.key ORDER BY m.key) FROM pg_catalog.jsonb_each_text("
			"   pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(a)) OPERATOR(pg_catalog.->)"
			"   'crm_stage_map') AS m) AS crm_stage_keys,"
			" (SELECT pg_catalog.array_agg(m.value ORDER BY m.key) FROM pg_catalog.jsonb_each_text("
			"   pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(a)) OPERATOR(pg_catalog.->)"
			"   'crm_stage_map') AS m) AS crm_stage_stages,"
			" (pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->) 'labels') OPERATOR(pg_catalog.->>)"
			"   a.type_column::pg_catalog.text AS type_label,"
			" pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'won_filter' AS won_filter,"
			" pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'lost_filter' AS lost_filter"
			" FROM lead_scoring.attachment a ORDER BY relid::pg_catalog.oid",
			false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read lead_scoring.attachment");
	LsRestoreUser(&saved);

	old = MemoryContextSwitchTo(cxt);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple tup = SPI_tuptable->vals[i];
		TupleDesc desc = SPI_tuptable->tupdesc;
		bool isnull;
		Oid relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		char *kind = SPI_getvalue(tup, desc, 2);

		/*
		 * A table dropped while event triggers were off (the sql_drop trigger detaches the
		 * others): it is not attached any more, whatever its row says.
		 */
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		{
			ereport(
				WARNING,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the attached %s table with OID %u no longer exists: ignored", kind, relid),
				 errhint("Remove its record with: DELETE FROM lead_scoring.attachment WHERE "
						 "relid = %u;",
						 relid)));
			continue;
		}
		Watch(relid);
		if (strcmp(kind, "leads") == 0)
			a->leads = BuildLeads(relid, tup, desc);
		else if (strcmp(kind, "events") == 0)
			a->events = lappend(a->events, BuildEvents(relid, tup, desc));
		else
			a->deals = lappend(a->deals, BuildDeals(relid, tup, desc));
	}
	if (a->leads != NULL)
		CheckLeadColumnTypes(a);
	a->generation = ++attachments_generation;
	MemoryContextSwitchTo(old);
	SPI_finish();

	/* the previous build stays readable until the end of this transaction */
	ConfigCacheKeep(&attachment_cxt, cxt);
	attachments = a;
}

Attachments *
LsAttachments(void)
{
	while (!attachments_valid)
	{
		uint64 seen = attachments_inval_count;

		BuildAttachments();
		/* an invalidation that arrived while building means the build may be stale */
		if (seen == attachments_inval_count)
			attachments_valid = true;
	}
	return attachments;
}

MemoryContext
LsAttachmentContext(void)
{
	LsAttachments();
	return attachment_cxt;
}

LeadsAttachment *
LsLeadsAttachment(void)
{
	Attachments *a = LsAttachments();

	if (a->leads == NULL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("no leads table is attached"),
						errhint("Call lead_scoring.attach_leads('your_leads_table') first.")));
	return a->leads;
}

EventsAttachment *
LsEventsAttachment(Oid relid)
{
	ListCell *lc;

	foreach (lc, LsAttachments()->events)
	{
		EventsAttachment *e = lfirst(lc);

		if (e->relid == relid)
			return e;
	}
	return NULL;
}

DealsAttachment *
LsDealsAttachment(Oid relid)
{
	ListCell *lc;

	foreach (lc, LsAttachments()->deals)
	{
		DealsAttachment *d = lfirst(lc);

		if (d->relid == relid)
			return d;
	}
	return NULL;
}

void
LsBecomeExtensionOwner(LsSavedUser *saved)
{
	LsBecomeOwner(LsAttachments()->extension_owner, saved);
}

void
LsBecomeOwner(Oid owner, LsSavedUser *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
									  SECURITY_NOFORCE_RLS);
}

void
LsRestoreUser(const LsSavedUser *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

int
LsCompareLeadIds(const LeadsAttachment *leads, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll((FmgrInfo *) &leads->id_cmp, leads->id_collation, a, b));
}

static int
CompareLeadIds(const void *a, const void *b, void *arg)
{
	return LsCompareLeadIds((const LeadsAttachment *) arg, *(const Datum *) a, *(const Datum *) b);
}

int
LsSortLeadIds(const LeadsAttachment *leads, Datum *ids, int n)
{
	if (n > 1)
	{
		qsort_arg(ids, n, sizeof(Datum), CompareLeadIds, (void *) leads);
		n = qunique_arg(ids, n, sizeof(Datum), CompareLeadIds, (void *) leads);
	}
	return n;
}

ArrayType *
LsLeadIdArray(const LeadsAttachment *leads, const Datum *ids, int n)
{
	Datum *elems = palloc(sizeof(Datum) * Max(n, 1));
	ArrayType *array;

	memcpy(elems, ids, sizeof(Datum) * n);
	array =
		construct_array(elems, n, leads->id_type, leads->id_len, leads->id_byval, leads->id_align);
	pfree(elems);
	return array;
}

Oid
LsLeadIdArrayType(const LeadsAttachment *leads)
{
	Oid t = get_array_type(leads->id_type);

	if (!OidIsValid(t))
		elog(ERROR, "type %s has no array type", format_type_be(leads->id_type));
	return t;
}

char *
LsLeadIdText(const LeadsAttachment *leads, Datum id)
{
	Oid output;
	bool varlena;

	getTypeOutputInfo(leads->id_type, &output, &varlena);
	return OidOutputFunctionCall(output, id);
}
