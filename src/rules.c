/*
 * rules.c — the rule cache, rule validation and predicate evaluation.
 *
 * A rule row is compiled against the attached tables: the column it names is
 * looked up, its value is parsed with the column type's input function (so
 * comparisons happen in that type, with its btree order and collation), an
 * in list is split and each element parsed, a regular expression is compiled
 * once to check it, a phone country is looked up.  The BEFORE trigger on
 * lead_scoring.rule compiles every row written, so a rule that cannot be
 * evaluated is refused with an error naming it; the per-backend cache
 * compiles the active rules again whenever the rule table, the attachments
 * or an attached table change.
 */
#include "postgres.h"

#include "utils/hsearch.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "regex/regex.h"
#include "spi_glue.h"
#include "trigger_call.h"
#include "utils/array.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/datum.h"
#include "utils/formatting.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif

#include "attachment.h"
#include "config_cache.h"
#include "contact.h"
#include "catalog.h"
#include "crm_time.h"
#include "rules.h"
#include "settings.h"

/* The rule row as read from lead_scoring.rule. */
typedef struct RuleFields
{
	int32 rule_id;
	char *name;
	char *kind;
	char *event_type;
	char *column_name;
	char *op;
	char *value;
	bool has_points;
	int32 points;
	bool has_max_points;
	int32 max_points;
	bool has_max_hits;
	int32 max_hits;
	bool has_half_life;
	Interval half_life;
} RuleFields;

typedef enum ValueUse
{
	VALUE_REQUIRED,
	VALUE_FORBIDDEN,
	VALUE_OPTIONAL
} ValueUse;

static const struct
{
	const char *name;
	RuleOp op;
	ValueUse value;
} rule_ops[] = {
	{"=", RULE_OP_EQ, VALUE_REQUIRED},
	{"<>", RULE_OP_NE, VALUE_REQUIRED},
	{"<", RULE_OP_LT, VALUE_REQUIRED},
	{"<=", RULE_OP_LE, VALUE_REQUIRED},
	{">", RULE_OP_GT, VALUE_REQUIRED},
	{">=", RULE_OP_GE, VALUE_REQUIRED},
	{"in", RULE_OP_IN, VALUE_REQUIRED},
	{"contains", RULE_OP_CONTAINS, VALUE_REQUIRED},
	{"prefix", RULE_OP_PREFIX, VALUE_REQUIRED},
	{"regex", RULE_OP_REGEX, VALUE_REQUIRED},
	{"is_null", RULE_OP_IS_NULL, VALUE_FORBIDDEN},
	{"not_null", RULE_OP_NOT_NULL, VALUE_FORBIDDEN},
	{"valid_email", RULE_OP_VALID_EMAIL, VALUE_FORBIDDEN},
	{"invalid_email", RULE_OP_INVALID_EMAIL, VALUE_FORBIDDEN},
	{"valid_phone", RULE_OP_VALID_PHONE, VALUE_OPTIONAL},
	{"invalid_phone", RULE_OP_INVALID_PHONE, VALUE_OPTIONAL},
};

#define RULE_OPS_HINT                                                                              \
	"Operators: =, <>, <, <=, >, >=, in, contains, prefix, regex, is_null, not_null, "             \
	"valid_email, "                                                                                \
	"invalid_email, valid_phone, invalid_phone."

/* ---------------------------------------------------------------------------
 * Reading and checking a rule row
 * ---------------------------------------------------------------------------
 */

static char *
TextField(HeapTuple tup, TupleDesc desc, const char *field)
{
	bool isnull;
	Datum d = SPI_getbinval(tup, desc, SPI_fnumber(desc, field), &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static bool
IntField(HeapTuple tup, TupleDesc desc, const char *field, int32 *value)
{
	bool isnull;
	Datum d = SPI_getbinval(tup, desc, SPI_fnumber(desc, field), &isnull);

	*value = isnull ? 0 : DatumGetInt32(d);
	return !isnull;
}

/* The fields of a rule row (a row of lead_scoring.rule, or a query result with its column names).
 */
static void
ReadRuleFields(HeapTuple tup, TupleDesc desc, RuleFields *f)
{
	bool isnull;
	Datum d;

	memset(f, 0, sizeof(*f));
	IntField(tup, desc, "rule_id", &f->rule_id);
	f->name = TextField(tup, desc, "name");
	f->kind = TextField(tup, desc, "kind");
	f->event_type = TextField(tup, desc, "event_type");
	f->column_name = TextField(tup, desc, "column_name");
	f->op = TextField(tup, desc, "op");
	f->value = TextField(tup, desc, "value");
	f->has_points = IntField(tup, desc, "points", &f->points);
	f->has_max_points = IntField(tup, desc, "max_points", &f->max_points);
	f->has_max_hits = IntField(tup, desc, "max_hits", &f->max_hits);
	d = SPI_getbinval(tup, desc, SPI_fnumber(desc, "half_life"), &isnull);
	f->has_half_life = !isnull;
	if (!isnull)
		f->half_life = *DatumGetIntervalP(d);
}

/*
 * Refuse a pattern with back-references (\1 ...): matching one can take time
 * exponential in the length of the text (seconds to minutes for one event of
 * a few hundred characters), and a rule runs for every event written.  Without
 * them PostgreSQL matches with automata whose time grows with the text's
 * length only (doc/scoring.md, "Rules").  Checked when a rule is written.
 */
static void
CheckRegexBounded(const RuleFields *f)
{
	regex_t *re =
		RE_compile_and_cache(cstring_to_text(f->value), REG_ADVANCED, DEFAULT_COLLATION_OID);

	if (re->re_info & REG_UBACKREF)
		ereport(
			ERROR,
			(errcode(ERRCODE_INVALID_REGULAR_EXPRESSION),
			 errmsg("rule \"%s\": the regular expression %s uses back-references", f->name,
					quote_literal_cstr(f->value)),
			 errdetail("Matching back-references can take time exponential in the length of the "
					   "text, for every event or lead written."),
			 errhint("Rewrite the pattern without \\1-style back-references, or use in, "
					 "contains or prefix.")));
}

/* A character that is itself in every regular expression flavour, outside brackets. */
static bool
RegexLiteralChar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
		   c == '_' || c == '-' || c == ',' || c == '/';
}

/*
 * A regular expression made of literal words only — "Head|Director|VP", or the same in one pair of
 * parentheses — matches a text exactly when one of the words occurs in it: case-sensitive, as `~`,
 * and the words are ASCII, whose bytes never occur inside another character in a server encoding.
 * Such a pattern (the common keyword rule) is matched by looking for its words instead of running
 * the regular expression engine, which took 9,000 instructions per title (doc/scoring.md, "Rules";
 * doc/benchmarks.md, "COPY and the bulk INSERT after the direct rewrite").  Anything else — an
 * empty alternative, any other character — leaves nliterals 0 and the pattern to the engine.
 */
static void
RegexLiterals(RulePredicate *p, const char *pattern)
{
	int len = strlen(pattern);
	const char *start = pattern;
	const char *end = pattern + len;
	const char *c;
	int n = 1;

	p->nliterals = 0;
	if (len >= 2 && pattern[0] == '(' && pattern[len - 1] == ')')
	{
		start++;
		end--;
	}
	if (start == end)
		return;
	for (c = start; c < end; c++)
	{
		if (*c == '|')
		{
			if (c == start || c + 1 == end || c[1] == '|')
				return; /* an empty alternative matches every text */
			n++;
		}
		else if (!RegexLiteralChar(*c))
			return;
	}
	p->literals = palloc(sizeof(char *) * n);
	p->literal_lens = palloc(sizeof(int) * n);
	for (c = start; c < end;)
	{
		const char *bar = memchr(c, '|', end - c);
		int wlen = (bar ? bar : end) - c;

		p->literals[p->nliterals] = pnstrdup(c, wlen);
		p->literal_lens[p->nliterals++] = wlen;
		c += wlen + 1;
	}
}

/* Whether one of the literal words of a pattern occurs in str (len bytes). */
static bool
RegexLiteralsMatch(const RulePredicate *p, const char *str, int len)
{
	int i;

	for (i = 0; i < p->nliterals; i++)
	{
		const char *w = p->literals[i];
		int wlen = p->literal_lens[i];
		int at;

		for (at = 0; at <= len - wlen; at++)
			if (str[at] == w[0] && memcmp(str + at, w, wlen) == 0)
				return true;
	}
	return false;
}

/* The rule row's active column (NULL reads as active: the column is NOT NULL). */
static bool
RuleRowActive(HeapTuple tup, TupleDesc desc)
{
	bool isnull;
	Datum d = heap_getattr(tup, SPI_fnumber(desc, "active"), desc, &isnull);

	return isnull || DatumGetBool(d);
}

/* Seconds in an interval, as EXTRACT(epoch FROM interval) counts them. */
static double
IntervalSeconds(const Interval *iv)
{
	return iv->time / (double) USECS_PER_SEC +
		   ((double) DAYS_PER_YEAR * SECS_PER_DAY) * (iv->month / MONTHS_PER_YEAR) +
		   ((double) DAYS_PER_MONTH * SECS_PER_DAY) * (iv->month % MONTHS_PER_YEAR) +
		   ((double) SECS_PER_DAY) * iv->day;
}

/*
 * The hint for a column name that does not exist: a name written with SQL's double quotes
 * ('"jobTitle"') is told to drop them, as column_name holds the name itself.
 */
static const char *
QuotedNameHint(const char *name, const char *otherwise)
{
	size_t len = strlen(name);

	if (len >= 2 && name[0] == '"' && name[len - 1] == '"')
		return psprintf("column_name holds the column's name as it is, without SQL quoting: write "
						"%s, not %s.",
						quote_literal_cstr(pnstrdup(name + 1, len - 2)), quote_literal_cstr(name));
	return otherwise;
}

static void
RuleError(const RuleFields *f, int sqlstate, const char *message, const char *hint)
{
	ereport(ERROR, (errcode(sqlstate), errmsg("rule \"%s\": %s", f->name, message),
					hint ? errhint("%s", hint) : 0));
}

/*
 * Whether a row of the lookup table an events table's type column references has this label; else
 * *near is set to a label that differs only in case, when there is one.
 */
static bool
LookupHasLabel(const EventsAttachment *e, const char *label, const char **near)
{
	Oid argtype = TEXTOID;
	Datum arg = CStringGetTextDatum(label);
	MemoryContext cxt = CurrentMemoryContext;
	LsSavedUser saved;
	bool found = false;

	LsSpiConnect();
	LsBecomeExtensionOwner(&saved);
	if (SPI_execute_with_args(psprintf("SELECT m.l FROM (%s) m(k, l)"
									   " WHERE pg_catalog.lower(m.l) OPERATOR(pg_catalog.=)"
									   " pg_catalog.lower($1)"
									   " ORDER BY (m.l OPERATOR(pg_catalog.=) $1) DESC LIMIT 1",
									   e->type_label_map),
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the labels of the event types of %s", e->qualname);
	LsRestoreUser(&saved);
	if (SPI_processed > 0)
	{
		char *l = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		found = strcmp(l, label) == 0;
		if (!found && *near == NULL)
			*near = MemoryContextStrdup(cxt, l);
	}
	SPI_finish();
	return found;
}

/*
 * An engagement rule's event type must be able to match: when every attached events table keeps
 * its type in an enum and no enum has the label, the rule would never fire ('demo_request' on
 * Twenty's 'DEMO_REQUEST').  Refused, as a fit rule's value that the column cannot hold is.
 */
static void
CheckEnumEventType(const RuleFields *f, Attachments *a)
{
	ListCell *lc;
	const char *near = NULL;
	bool lookups = false;

	if (a->events == NIL)
		return;
	foreach (lc, a->events)
	{
		EventsAttachment *e = lfirst(lc);
		Oid type = getBaseType(e->type_type);
		CatCList *labels;
		int i;

		if (e->type_label_map != NULL)
		{
			/* a key into a lookup table (attach_events' labels): the labels are its rows' */
			lookups = true;
			if (LookupHasLabel(e, f->event_type, &near))
				return;
			continue;
		}
		if (!type_is_enum(type))
			return; /* a text type column may hold anything */
		labels = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(type));
		for (i = 0; i < labels->n_members; i++)
		{
			Form_pg_enum label = (Form_pg_enum) GETSTRUCT(&labels->members[i]->tuple);

			if (strcmp(NameStr(label->enumlabel), f->event_type) == 0)
			{
				ReleaseSysCacheList(labels);
				return;
			}
			if (near == NULL && pg_strcasecmp(NameStr(label->enumlabel), f->event_type) == 0)
				near = pstrdup(NameStr(label->enumlabel));
		}
		ReleaseSysCacheList(labels);
	}
	RuleError(
		f, ERRCODE_INVALID_PARAMETER_VALUE,
		psprintf("event_type %s is not a label of the attached events tables' type %s",
				 quote_literal_cstr(f->event_type), lookups ? "enums or lookup tables" : "enums"),
		near	  ? psprintf("Event types are compared as written: the label is %s.",
							 quote_literal_cstr(near))
		: lookups ? "The rule would never fire: name one of the labels (an enum's, or a row's "
					"of the lookup table attach_events' labels name), or '*' for every type."
				  : "The rule would never fire: name one of the enum's labels, or '*' for every "
					"type.");
}

/* Checks that do not depend on the attached tables. */
static RuleOp
CheckRuleShape(const RuleFields *f, ValueUse *value_use)
{
	bool engagement;
	int i;

	if (f->name == NULL || f->name[0] == '\0')
		ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION), errmsg("a rule must have a name"),
						errhint("Give every row of lead_scoring.rule a unique name.")));
	if (f->kind == NULL || (strcmp(f->kind, "fit") != 0 && strcmp(f->kind, "engagement") != 0))
		RuleError(
			f, ERRCODE_INVALID_PARAMETER_VALUE,
			psprintf("kind must be 'fit' or 'engagement', not %s",
					 f->kind ? quote_literal_cstr(f->kind) : "NULL"),
			"A fit rule tests a column of the lead; an engagement rule counts the lead's events.");
	engagement = (strcmp(f->kind, "engagement") == 0);
	if (!f->has_points)
		RuleError(f, ERRCODE_NOT_NULL_VIOLATION, "points must not be NULL", NULL);

	if (engagement)
	{
		if (f->event_type == NULL || f->event_type[0] == '\0')
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE, "an engagement rule needs an event_type",
					  "Name the event type it counts, or '*' for every type.");
		if (f->has_max_hits && f->max_hits < 1)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("max_hits must be at least 1, not %d", f->max_hits),
					  "max_hits counts at most that many events per lead; NULL means no limit.");
		if (f->has_max_points && f->max_points < 0)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("max_points must not be negative, not %d", f->max_points),
					  "max_points caps the size of the rule's contribution: with negative points, "
					  "max_points 20 keeps it at or above -20.");
		if (f->has_half_life && !(IntervalSeconds(&f->half_life) > 0))
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE, "half_life must be positive",
					  "NULL means the points never decay.");
		if (f->column_name == NULL && (f->op != NULL || f->value != NULL))
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE, "op and value need a column_name",
					  "Leave op and value NULL to count every event of the type.");
	}
	else
	{
		if (f->event_type != NULL)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE, "a fit rule has no event_type",
					  "Fit rules test the lead's own row; use kind 'engagement' to count events.");
		if (f->has_max_hits || f->has_max_points || f->has_half_life)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
					  "max_hits, max_points and half_life apply to engagement rules only", NULL);
		if (f->column_name == NULL)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE, "a fit rule needs a column_name",
					  "Name the column of the leads table that the rule tests.");
	}
	if (f->column_name == NULL)
	{
		*value_use = VALUE_FORBIDDEN;
		return RULE_OP_NONE;
	}
	if (f->op == NULL)
		RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE, "a rule with a column_name needs an op",
				  RULE_OPS_HINT);
	for (i = 0; i < lengthof(rule_ops); i++)
	{
		if (strcmp(f->op, rule_ops[i].name) != 0)
			continue;
		*value_use = rule_ops[i].value;
		if (rule_ops[i].value == VALUE_REQUIRED && f->value == NULL)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("operator %s needs a value", f->op),
					  "Use is_null or not_null to test for NULL.");
		if (rule_ops[i].value == VALUE_FORBIDDEN && f->value != NULL)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
					  psprintf("operator %s takes no value", f->op), "Set value to NULL.");
		return rule_ops[i].op;
	}
	RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
			  psprintf("unknown operator %s", quote_literal_cstr(f->op)), RULE_OPS_HINT);
	return RULE_OP_NONE; /* not reached */
}

/* ---------------------------------------------------------------------------
 * Compiling predicates
 * ---------------------------------------------------------------------------
 */

/* Parse a value with the column type's input function; a failure names the rule. */
static Datum
ParseValue(const RuleFields *f, const char *value, Oid typid, int32 typmod, const char *column,
		   const char *table)
{
	Oid input;
	Oid ioparam;
	Datum result = (Datum) 0;

	getTypeInputInfo(typid, &input, &ioparam);
#if PG_VERSION_NUM >= 160000
	{
		ErrorSaveContext escontext = {T_ErrorSaveContext};

		escontext.details_wanted = true;
		if (!OidInputFunctionCallSafe(input, (char *) value, ioparam, typmod, (Node *) &escontext,
									  &result))
			ereport(
				ERROR,
				(errcode(escontext.error_data->sqlerrcode),
				 errmsg("rule \"%s\": value %s is not a valid %s for column \"%s\" of %s", f->name,
						quote_literal_cstr(value), format_type_be(typid), column, table),
				 errdetail("%s", escontext.error_data->message),
				 errhint("Predicates compare in the column's own type.")));
	}
#else
	{
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			result = OidInputFunctionCall(input, (char *) value, ioparam, typmod);
		}
		PG_CATCH();
		{
			ErrorData *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			ereport(
				ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("rule \"%s\": value %s is not a valid %s for column \"%s\" of %s", f->name,
						quote_literal_cstr(value), format_type_be(typid), column, table),
				 errdetail("%s", edata->message),
				 errhint("Predicates compare in the column's own type.")));
		}
		PG_END_TRY();
	}
#endif
	return result;
}

/* Split an in list: comma-separated, white space around elements ignored, "double quotes" for
 * elements that hold commas ("" for a quote). */
static List *
SplitInList(const RuleFields *f, const char *list)
{
	List *result = NIL;
	const char *p = list;

	for (;;)
	{
		StringInfoData item;
		bool quoted = false;

		initStringInfo(&item);
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (*p == '"')
		{
			quoted = true;
			p++;
			for (;;)
			{
				if (*p == '\0')
					RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
							  "unterminated quoted element in the in list",
							  "Write \"\" for a double quote inside a quoted element.");
				if (*p == '"' && p[1] == '"')
				{
					appendStringInfoChar(&item, '"');
					p += 2;
				}
				else if (*p == '"')
				{
					p++;
					break;
				}
				else
					appendStringInfoChar(&item, *p++);
			}
			while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				p++;
			if (*p != ',' && *p != '\0')
				RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE,
						  "text after a quoted element in the in list", NULL);
		}
		else
		{
			while (*p != ',' && *p != '\0')
				appendStringInfoChar(&item, *p++);
			while (item.len > 0 &&
				   (item.data[item.len - 1] == ' ' || item.data[item.len - 1] == '\t' ||
					item.data[item.len - 1] == '\n' || item.data[item.len - 1] == '\r'))
				item.data[--item.len] = '\0';
		}
		if (!quoted && item.len == 0)
			RuleError(f, ERRCODE_INVALID_PARAMETER_VALUE, "empty element in the in list",
					  "Separate the values with single commas, e.g. 'DE, FR, NL'.");
		result = lappend(result, item.data);
		if (*p == '\0')
			break;
		p++; /* the comma */
	}
	return result;
}

/* Compile "column op value" for a column of a table, in the current memory context. */
static RulePredicate *
CompilePredicate(const RuleFields *f, RuleOp op, Oid relid, AttrNumber att, const char *table)
{
	RulePredicate *p = palloc0(sizeof(RulePredicate));
	int32 typmod;
	Oid coll;
	Oid base;
	Oid outfn;
	bool varlena;
	const char *column = f->column_name;

	p->op = op;
	get_atttypetypmodcoll(relid, att, &p->typid, &typmod, &coll);
	base = getBaseType(p->typid);
	p->is_text = (base == TEXTOID || base == VARCHAROID);
	p->collation = OidIsValid(coll) ? coll : DEFAULT_COLLATION_OID;
	getTypeOutputInfo(p->typid, &outfn, &varlena);
	fmgr_info(outfn, &p->out);

	switch (op)
	{
		case RULE_OP_EQ:
		case RULE_OP_NE:
		case RULE_OP_LT:
		case RULE_OP_LE:
		case RULE_OP_GT:
		case RULE_OP_GE:
		case RULE_OP_IN:
		{
			TypeCacheEntry *tce = lookup_type_cache(p->typid, TYPECACHE_CMP_PROC_FINFO);
			int16 typlen;
			bool typbyval;

			if (!OidIsValid(tce->cmp_proc_finfo.fn_oid))
				RuleError(f, ERRCODE_UNDEFINED_FUNCTION,
						  psprintf("column \"%s\" of %s has type %s, which has no ordering for "
								   "operator %s",
								   column, table, format_type_be(p->typid), f->op),
						  "Use contains, prefix or regex, which compare the column's text.");
			fmgr_info_copy(&p->cmp, &tce->cmp_proc_finfo, CurrentMemoryContext);
			get_typlenbyval(p->typid, &typlen, &typbyval);
			if (op == RULE_OP_IN)
			{
				List *items = SplitInList(f, f->value);
				ListCell *lc;

				p->values = palloc(sizeof(Datum) * list_length(items));
				foreach (lc, items)
					p->values[p->nvalues++] =
						datumCopy(ParseValue(f, lfirst(lc), p->typid, typmod, column, table),
								  typbyval, typlen);
			}
			else
			{
				p->values = palloc(sizeof(Datum));
				p->values[0] = datumCopy(ParseValue(f, f->value, p->typid, typmod, column, table),
										 typbyval, typlen);
				p->nvalues = 1;
			}
			break;
		}
		case RULE_OP_CONTAINS:
		case RULE_OP_PREFIX:
			p->lower_value = str_tolower(f->value, strlen(f->value), p->collation);
			p->lower_len = strlen(p->lower_value);
			break;
		case RULE_OP_REGEX:
		{
			MemoryContext cxt = CurrentMemoryContext;

			p->pattern = (struct varlena *) cstring_to_text(f->value);
			PG_TRY();
			{
				(void) RE_compile_and_cache((text *) p->pattern, REG_ADVANCED, p->collation);
			}
			PG_CATCH();
			{
				ErrorData *edata;

				MemoryContextSwitchTo(cxt);
				edata = CopyErrorData();
				FlushErrorState();
				ereport(
					ERROR,
					(errcode(edata->sqlerrcode),
					 errmsg("rule \"%s\": %s is not a valid regular expression", f->name,
							quote_literal_cstr(f->value)),
					 errdetail("%s", edata->message),
					 errhint(
						 "Rules use PostgreSQL's regular expressions, as the ~ operator does.")));
			}
			PG_END_TRY();
			RegexLiterals(p, f->value);
			break;
		}
		case RULE_OP_VALID_PHONE:
		case RULE_OP_INVALID_PHONE:
			if (f->value != NULL)
			{
				p->country = pstrdup(f->value);
				p->country_rules = LsPhoneCountry(f->value, true);
				if (p->country_rules == NULL)
					RuleError(
						f, ERRCODE_INVALID_PARAMETER_VALUE,
						psprintf("unknown phone country %s", quote_literal_cstr(f->value)),
						"The value of valid_phone and invalid_phone is the country assumed for "
						"numbers without an international prefix: a calling code such as '44' "
						"or an ISO code such as 'GB'; NULL uses settings.default_phone_country.");
			}
			break;
		default:
			break;
	}
	return p;
}

static int
AddColumn(AttrNumber **atts, int *n, AttrNumber att)
{
	int i;

	for (i = 0; i < *n; i++)
		if ((*atts)[i] == att)
			return i;
	*atts = *n == 0 ? palloc(sizeof(AttrNumber)) : repalloc(*atts, sizeof(AttrNumber) * (*n + 1));
	(*atts)[*n] = att;
	return (*n)++;
}

/* The attribute number of a user column, or InvalidAttrNumber. */
static AttrNumber
UserColumn(Oid relid, const char *name)
{
	AttrNumber att = get_attnum(relid, name);

	return att > 0 ? att : InvalidAttrNumber;
}

/*
 * Compile a rule against the attachments.  With rs NULL it is only checked
 * (the trigger on lead_scoring.rule); otherwise its columns are registered in
 * the rule set.  Raises an error naming the rule when it cannot be evaluated.
 */
static Rule *
CompileRule(const RuleFields *f, Attachments *a, RuleSet *rs)
{
	ValueUse value_use;
	RuleOp op = CheckRuleShape(f, &value_use);
	Rule *r = palloc0(sizeof(Rule));
	ListCell *lc;
	int s;

	r->rule_id = f->rule_id;
	r->name = pstrdup(f->name);
	r->engagement = (strcmp(f->kind, "engagement") == 0);
	r->column_name = f->column_name ? pstrdup(f->column_name) : NULL;
	r->op = op;
	r->points = f->points;
	r->has_max_points = f->has_max_points;
	r->max_points = f->max_points;
	r->has_max_hits = f->has_max_hits;
	r->max_hits = f->max_hits;
	r->has_half_life = f->has_half_life;
	r->half_life = f->has_half_life ? IntervalSeconds(&f->half_life) : 0;
	r->fit_col = -1;

	if (!r->engagement)
	{
		LeadsAttachment *leads = a->leads;
		AttrNumber att;
		char *table;

		if (leads == NULL)
			return r; /* checked again when a leads table is attached */
		table = psprintf("the leads table %s", leads->qualname);
		att = UserColumn(leads->relid, f->column_name);
		if (att == InvalidAttrNumber)
			RuleError(f, ERRCODE_UNDEFINED_COLUMN,
					  psprintf("column \"%s\" does not exist in %s", f->column_name, table),
					  QuotedNameHint(f->column_name,
									 "A fit rule tests a column of the attached leads table."));
		if (att == leads->score_att || att == leads->stage_att)
			RuleError(
				f, ERRCODE_INVALID_PARAMETER_VALUE,
				psprintf("column \"%s\" of %s is maintained by lead_scoring", f->column_name,
						 table),
				"A fit rule cannot test the lead's score or stage, which are computed from the "
				"rules.");
		r->fit_pred = CompilePredicate(f, op, leads->relid, att, table);
		if (rs != NULL)
			r->fit_col = AddColumn(&rs->fit_atts, &rs->nfit_atts, att);
		return r;
	}

	r->event_type = pstrdup(f->event_type);
	r->any_type = (strcmp(f->event_type, "*") == 0);
	if (rs == NULL && !r->any_type)
		CheckEnumEventType(f, a);
	if (r->column_name == NULL)
		return r;
	r->event_pred = palloc0(sizeof(RulePredicate *) * Max(list_length(a->events), 1));
	r->event_col = palloc(sizeof(int) * Max(list_length(a->events), 1));
	s = 0;
	foreach (lc, a->events)
	{
		EventsAttachment *e = lfirst(lc);
		AttrNumber att = UserColumn(e->relid, f->column_name);

		r->event_col[s] = -1;
		if (att != InvalidAttrNumber)
		{
			r->event_pred[s] = CompilePredicate(f, op, e->relid, att,
												psprintf("the events table %s", e->qualname));
			if (rs != NULL)
				r->event_col[s] = AddColumn(&rs->sources[s].atts, &rs->sources[s].ncols, att);
		}
		s++;
	}
	/* a rule is checked against the events tables attached when it is written */
	if (rs == NULL && a->events != NIL)
	{
		bool found = false;

		for (s = 0; s < list_length(a->events); s++)
			found |= (r->event_pred[s] != NULL);
		if (!found)
			RuleError(
				f, ERRCODE_UNDEFINED_COLUMN,
				psprintf("column \"%s\" does not exist in any attached events table",
						 f->column_name),
				QuotedNameHint(f->column_name,
							   "An engagement rule's predicate tests a column of the event row."));
	}
	return r;
}

/* ---------------------------------------------------------------------------
 * Predicate evaluation
 * ---------------------------------------------------------------------------
 */

/* The default phone country of the settings, looked up again when the settings change. */
static const PhoneCountry *
DefaultPhoneCountry(void)
{
	static const LsSettings *seen = NULL;
	static const PhoneCountry *country = NULL;
	const LsSettings *s = LsGetSettings();

	if (s != seen)
	{
		country = s->default_phone_country ? LsPhoneCountry(s->default_phone_country, true) : NULL;
		seen = s;
	}
	return country;
}

/* The bytes of a value as text: the value itself for text and varchar, else its output. */
static char *
ValueText(const RulePredicate *p, Datum value, int *len)
{
	char *str;

	if (p->is_text)
	{
		text *t = DatumGetTextPP(value);

		*len = VARSIZE_ANY_EXHDR(t);
		return VARDATA_ANY(t);
	}
	str = OutputFunctionCall((FmgrInfo *) &p->out, value);
	*len = strlen(str);
	return str;
}

/* Whether a text is ASCII only and holds no capital letter (then lower-casing changes nothing). */
static bool
AsciiWithoutCapitals(const char *str, int len)
{
	int i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) str[i];

		if (c >= 0x80 || (c >= 'A' && c <= 'Z') || c == '\0')
			return false;
	}
	return true;
}

bool
RulePredicateMatches(const RulePredicate *p, Datum value, bool isnull)
{
	char *str;
	int len;
	int i;

	switch (p->op)
	{
		case RULE_OP_NONE:
			return true;
		case RULE_OP_IS_NULL:
			return isnull;
		case RULE_OP_NOT_NULL:
			return !isnull;
		case RULE_OP_VALID_EMAIL:
		case RULE_OP_INVALID_EMAIL:
		{
			bool valid = false;

			if (!isnull)
			{
				str = ValueText(p, value, &len);
				valid = (LsNormalizeEmail(str, len) != NULL);
			}
			return (p->op == RULE_OP_VALID_EMAIL) == valid;
		}
		case RULE_OP_VALID_PHONE:
		case RULE_OP_INVALID_PHONE:
		{
			bool valid = false;

			if (!isnull)
			{
				str = ValueText(p, value, &len);
				valid = (LsNormalizePhone(str, len,
										  p->country_rules ? p->country_rules
														   : DefaultPhoneCountry()) != NULL);
			}
			return (p->op == RULE_OP_VALID_PHONE) == valid;
		}
		default:
			break;
	}
	if (isnull)
		return false;
	switch (p->op)
	{
		case RULE_OP_EQ:
		case RULE_OP_NE:
		case RULE_OP_LT:
		case RULE_OP_LE:
		case RULE_OP_GT:
		case RULE_OP_GE:
		{
			int c = DatumGetInt32(
				FunctionCall2Coll((FmgrInfo *) &p->cmp, p->collation, value, p->values[0]));

			switch (p->op)
			{
				case RULE_OP_EQ:
					return c == 0;
				case RULE_OP_NE:
					return c != 0;
				case RULE_OP_LT:
					return c < 0;
				case RULE_OP_LE:
					return c <= 0;
				case RULE_OP_GT:
					return c > 0;
				default:
					return c >= 0;
			}
		}
		case RULE_OP_IN:
			for (i = 0; i < p->nvalues; i++)
				if (DatumGetInt32(FunctionCall2Coll((FmgrInfo *) &p->cmp, p->collation, value,
													p->values[i])) == 0)
					return true;
			return false;
		case RULE_OP_CONTAINS:
		case RULE_OP_PREFIX:
		{
			char *lower;

			str = ValueText(p, value, &len);
			/* ASCII text without capitals is its own lower case in every collation (URLs
			 * usually are): no conversion */
			if (AsciiWithoutCapitals(str, len))
			{
				if (p->op == RULE_OP_PREFIX)
					return len >= p->lower_len && memcmp(str, p->lower_value, p->lower_len) == 0;
				lower = pnstrdup(str, len);
			}
			else
				lower = str_tolower(str, len, p->collation);
			if (p->op == RULE_OP_PREFIX)
				return strncmp(lower, p->lower_value, p->lower_len) == 0;
			return strstr(lower, p->lower_value) != NULL;
		}
		case RULE_OP_REGEX:
			str = ValueText(p, value, &len);
			if (p->nliterals > 0)
				return RegexLiteralsMatch(p, str, len);
			return RE_compile_and_execute((text *) p->pattern, str, len, REG_ADVANCED, p->collation,
										  0, NULL);
		default:
			elog(ERROR, "unexpected rule operator %d", (int) p->op);
			return false;
	}
}

/* Group the engagement rules by the event type they name (RuleSet.type_names and after). */
static void
IndexRulesByType(RuleSet *rs)
{
	int *type_of = palloc(sizeof(int) * Max(rs->neng, 1));
	int *fill;
	int r;
	int t;

	rs->ntypes = 0;
	rs->nany_type = 0;
	rs->type_names = palloc(sizeof(char *) * Max(rs->neng, 1));
	rs->type_lens = palloc(sizeof(int) * Max(rs->neng, 1));
	rs->type_first = palloc0(sizeof(int) * (rs->neng + 1));
	rs->type_rules = palloc(sizeof(int) * Max(rs->neng, 1));
	rs->any_type_rules = palloc(sizeof(int) * Max(rs->neng, 1));
	for (r = 0; r < rs->neng; r++)
	{
		const Rule *rule = rs->eng[r];

		if (rule->any_type)
		{
			rs->any_type_rules[rs->nany_type++] = r;
			type_of[r] = -1;
			continue;
		}
		t = RuleSetEventType(rs, rule->event_type, strlen(rule->event_type));
		if (t < 0)
		{
			t = rs->ntypes++;
			rs->type_names[t] = rule->event_type;
			rs->type_lens[t] = strlen(rule->event_type);
		}
		type_of[r] = t;
		rs->type_first[t + 1]++;
	}
	for (t = 0; t < rs->ntypes; t++)
		rs->type_first[t + 1] += rs->type_first[t];
	/* each type's rules in rule order */
	fill = palloc(sizeof(int) * Max(rs->ntypes, 1));
	memcpy(fill, rs->type_first, sizeof(int) * rs->ntypes);
	for (r = 0; r < rs->neng; r++)
		if (type_of[r] >= 0)
			rs->type_rules[fill[type_of[r]]++] = r;
	pfree(fill);
	pfree(type_of);
}

int
RuleSetEventType(const RuleSet *rs, const char *type, int len)
{
	int t;

	for (t = 0; t < rs->ntypes; t++)
		if (rs->type_lens[t] == len && memcmp(rs->type_names[t], type, len) == 0)
			return t;
	return -1;
}

bool
RuleMatchesType(const Rule *rule, const char *type, int len)
{
	return rule->any_type ||
		   (strncmp(rule->event_type, type, len) == 0 && rule->event_type[len] == '\0');
}

char *
EventTypeText(Oid typid, Datum value, int *len)
{
	Oid base = getBaseType(typid);
	Oid outfn;
	bool varlena;
	char *str;

	if (base == TEXTOID || base == VARCHAROID)
	{
		text *t = DatumGetTextPP(value);

		*len = VARSIZE_ANY_EXHDR(t);
		return VARDATA_ANY(t);
	}
	getTypeOutputInfo(typid, &outfn, &varlena);
	str = OidOutputFunctionCall(outfn, value);
	*len = strlen(str);
	return str;
}

/* ---------------------------------------------------------------------------
 * The per-backend cache
 * ---------------------------------------------------------------------------
 */

static RuleSet *rules = NULL;
static uint64 rules_generation = 0; /* attachments generation the rules were compiled for */
static ConfigCache rules_cache = CONFIG_CACHE("rule");

void
RulesInit(void)
{
	ConfigCacheRegister(&rules_cache);
}

/* Frees the saved plans of a rule set when its memory goes away. */
static void
FreeRuleSetPlans(void *arg)
{
	RuleSet *rs = (RuleSet *) arg;
	int s;

#define FREE_PLAN(p)                                                                               \
	do                                                                                             \
	{                                                                                              \
		if ((p) != NULL)                                                                           \
			SPI_freeplan(p);                                                                       \
		(p) = NULL;                                                                                \
	} while (0)
	FREE_PLAN(rs->lead_row_plan);
	FREE_PLAN(rs->lock_plan);
	FREE_PLAN(rs->update_plan);
	FREE_PLAN(rs->touch_plan);
	FREE_PLAN(rs->touch_many_plan);
	FREE_PLAN(rs->refresh_first_plan);
	FREE_PLAN(rs->refresh_next_plan);
	for (s = 0; s < rs->nsources; s++)
	{
		FREE_PLAN(rs->sources[s].lead_plan);
		FREE_PLAN(rs->sources[s].batch_plan);
	}
#undef FREE_PLAN
}

/* "e.a, e.b" for the given columns of a relation (quoted), or "" */
static char *
ColumnList(Oid relid, const char *alias, const AttrNumber *atts, int n, const char *prefix)
{
	StringInfoData buf;
	int i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s.%s", (i == 0 && prefix == NULL) ? "" : ", ", alias,
						 quote_identifier(get_attname(relid, atts[i], false)));
	return buf.data;
}

/* The 1-based position of a table column in an index (key or INCLUDE, same type), or 0. */
static int
IndexColumn(Relation index, Relation heap, AttrNumber att)
{
	Form_pg_index ix = index->rd_index;
	int j;

	for (j = 0; j < ix->indnatts; j++)
		if (ix->indkey.values[j] == att &&
			IsBinaryCoercible(TupleDescAttr(RelationGetDescr(heap), att - 1)->atttypid,
							  TupleDescAttr(RelationGetDescr(index), j)->atttypid) &&
			IsBinaryCoercible(TupleDescAttr(RelationGetDescr(index), j)->atttypid,
							  TupleDescAttr(RelationGetDescr(heap), att - 1)->atttypid))
			return j + 1;
	return 0;
}

/*
 * The btree index to read one lead's events with: its first column is the
 * lead column, it is valid and not partial.  Preferred: one that holds every
 * column the rules read (key or INCLUDE columns: then all-visible heap pages
 * are not read at all), then one whose second column is the time column.
 * InvalidOid for partitioned tables (their events are read with SQL).
 */
static void
FindLeadIndex(EventSource *src, Oid id_type)
{
	EventsAttachment *e = src->events;
	Relation rel = table_open(e->relid, AccessShareLock);
	List *indexes;
	ListCell *lc;
	int best = 0;

	src->index_oid = InvalidOid;
	src->index_only = false;
	/* a filtered table is read through SQL, which applies the filter */
	if (rel->rd_rel->relkind != RELKIND_RELATION || src->events->row_filter != NULL)
	{
		table_close(rel, AccessShareLock);
		return;
	}
	indexes = RelationGetIndexList(rel);
	foreach (lc, indexes)
	{
		Relation ir = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index ix = ir->rd_index;
		int quality;
		Oid op;

		if (ir->rd_rel->relam == BTREE_AM_OID && ix->indisvalid && ix->indisready &&
			ix->indislive && ix->indkey.values[0] == e->lead_att &&
			RelationGetIndexPredicate(ir) == NIL &&
			OidIsValid(op = get_opfamily_member(ir->rd_opfamily[0], ir->rd_opcintype[0],
												ir->rd_opcintype[0], BTEqualStrategyNumber)) &&
			IsBinaryCoercible(id_type, ir->rd_opcintype[0]))
		{
			int type_col = IndexColumn(ir, rel, e->type_att);
			int time_col = IndexColumn(ir, rel, e->time_att);
			int *pred_cols = palloc(sizeof(int) * Max(src->ncols, 1));
			bool covering = (type_col > 0 && time_col > 0);
			int i;

			for (i = 0; i < src->ncols; i++)
			{
				pred_cols[i] = IndexColumn(ir, rel, src->atts[i]);
				covering &= (pred_cols[i] > 0);
			}
			quality = (covering ? 4 : 0) +
					  ((ix->indnkeyatts > 1 && ix->indkey.values[1] == e->time_att) ? 2 : 1);
			if (quality > best)
			{
				best = quality;
				src->index_oid = RelationGetRelid(ir);
				src->lead_eq_proc = get_opcode(op);
				src->lead_eq_coll = ir->rd_indcollation[0];
				src->index_only = covering;
				src->index_type_col = type_col;
				src->index_time_col = time_col;
				src->index_pred_cols = pred_cols;
			}
		}
		index_close(ir, AccessShareLock);
	}
	table_close(rel, AccessShareLock);
}

/* Keys of a lookup table longer than this are never labels (ids and uuids are far shorter). */
#define TYPE_KEY_MAX 64

/* A key of a lookup table and its label (attach_events' labels for the type column). */
typedef struct TypeLabel
{
	char key[TYPE_KEY_MAX];
	char *label;
} TypeLabel;

/*
 * Read every key of the lookup table the type column references, with its label, into the rule
 * set's memory (the current context), as the extension owner.  Read when the rules are compiled,
 * which a change of the lookup table makes them be again (labels_changed() in config_cache.c); the
 * labels, with each row's xmin, are part of the engagement fingerprint, so that a label renamed,
 * or renamed and renamed back, makes the states counted before stale, as a rule change does
 * (doc/crm_schemas.md, "CRM-native columns").
 */
static void
LoadTypeLabels(EventSource *src)
{
	MemoryContext cxt = CurrentMemoryContext;
	HASHCTL ctl;
	LsSavedUser saved;
	StringInfoData text;
	uint64 i;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = TYPE_KEY_MAX;
	ctl.entrysize = sizeof(TypeLabel);
	ctl.hcxt = cxt;
	src->type_labels =
		hash_create("lead_scoring type labels", 64, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	initStringInfo(&text);
	LsBecomeExtensionOwner(&saved);
	/* with the latest snapshot, as the rules: a change committed meanwhile is never missed */
	if (ConfigCacheQuery(src->events->type_label_map) != SPI_OK_SELECT)
		elog(ERROR, "could not read the labels of the event types of %s", src->events->qualname);
	LsRestoreUser(&saved);
	MemoryContextSwitchTo(cxt);
	for (i = 0; i < SPI_processed; i++)
	{
		char *key = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char *label = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		TypeLabel *entry;

		if (key == NULL || label == NULL || strlen(key) >= TYPE_KEY_MAX)
			continue;
		entry = hash_search(src->type_labels, key, HASH_ENTER, NULL);
		entry->label = pstrdup(label);
		appendStringInfo(&text, "%s=%s@%s|", key, label,
						 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3));
	}
	src->type_labels_text = text.data;
}

const char *
LsEventTypeText(const EventSource *src, Datum type, int *len)
{
	const char *str;

	if (src->type_is_text && src->type_labels == NULL)
	{
		text *t = DatumGetTextPP(type);

		*len = VARSIZE_ANY_EXHDR(t);
		return VARDATA_ANY(t);
	}
	str = OutputFunctionCall((FmgrInfo *) &src->type_out, type);
	if (src->type_labels != NULL)
	{
		TypeLabel *entry =
			strlen(str) < TYPE_KEY_MAX ? hash_search(src->type_labels, str, HASH_FIND, NULL) : NULL;

		if (entry == NULL)
			return NULL;
		str = entry->label;
	}
	*len = strlen(str);
	return str;
}

/* SQL text shared by the queries that read events (the select list), and the direct path. */
static void
DescribeSource(EventSource *src, Oid id_type)
{
	EventsAttachment *e = src->events;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s, %s", e->type_text,
					 LsColumnTimeSql(psprintf("e.%s", e->time_col), e->time_type, e->time_zone));
	appendStringInfoString(&buf, ColumnList(e->relid, "e", src->atts, src->ncols, ""));
	src->select_list = buf.data;

	/* what reading events straight from the index needs */
	FindLeadIndex(src, id_type);
	{
		Oid base = getBaseType(e->type_type);
		Oid outfn;
		bool varlena;

		src->type_is_text = (base == TEXTOID || base == VARCHAROID);
		getTypeOutputInfo(e->type_type, &outfn, &varlena);
		fmgr_info(outfn, &src->type_out);
	}
	src->time_type = e->time_type;
	src->time_zone = e->zone;
	if (e->type_label_map != NULL)
		LoadTypeLabels(src);
}

/* Append a rule row's text form to the fingerprint texts (engagement rules to both). */
static void
RuleText(HeapTuple tup, TupleDesc desc, StringInfo eng, StringInfo all)
{
	int c;

	for (c = 1; c <= desc->natts; c++)
	{
		char *v;

		/* an interval's text depends on IntervalStyle: its fields instead */
		if (TupleDescAttr(desc, c - 1)->atttypid == INTERVALOID)
		{
			bool isnull;
			Datum d = SPI_getbinval(tup, desc, c, &isnull);
			Interval *iv = isnull ? NULL : DatumGetIntervalP(d);

			v = iv == NULL ? NULL
						   : psprintf("%d %d %" INT64_MODIFIER "d", iv->month, iv->day, iv->time);
		}
		else
			v = SPI_getvalue(tup, desc, c);

		if (eng != NULL)
			appendStringInfo(eng, "%c%s", v == NULL ? '~' : '|', v == NULL ? "" : v);
		appendStringInfo(all, "%c%s", v == NULL ? '~' : '|', v == NULL ? "" : v);
	}
	if (eng != NULL)
		appendStringInfoChar(eng, '\n');
	appendStringInfoChar(all, '\n');
}

static RuleSet *
BuildRuleSet(Attachments *a)
{
	StringInfoData eng_text;
	StringInfoData all_text;
	MemoryContext cxt =
		AllocSetContextCreate(CurrentMemoryContext, "lead_scoring rules", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	RuleSet *rs;
	LsSavedUser saved;
	uint64 i;
	int s;
	ListCell *lc;
	List *types = NIL;

	old = MemoryContextSwitchTo(cxt);
	rs = palloc0(sizeof(RuleSet));
	rs->cxt = cxt;
	rs->leads = a->leads;
	rs->nsources = list_length(a->events);
	rs->sources = palloc0(sizeof(EventSource) * Max(rs->nsources, 1));
	s = 0;
	foreach (lc, a->events)
		rs->sources[s++].events = lfirst(lc);
	MemoryContextSwitchTo(old);

	LsSpiConnect();
	LsBecomeExtensionOwner(&saved);
	/*
	 * Not read-only: see the changes of earlier commands even from a deferred trigger.  The rows'
	 * xmin is part of the fingerprints: a rule switched off and on again (or changed and changed
	 * back) is another rule set, for while it was off the writers dropped the events it counts,
	 * and a state counted before must not pass for current again (doc/scoring.md, "Concurrency").
	 */
	if (ConfigCacheQuery(
			"SELECT rule_id, name, kind, event_type, column_name, op, value, points,"
			" max_points, max_hits, half_life, xmin FROM lead_scoring.rule WHERE active"
			" ORDER BY rule_id") != SPI_OK_SELECT)
		elog(ERROR, "could not read lead_scoring.rule");
	LsRestoreUser(&saved);

	old = MemoryContextSwitchTo(cxt);
	initStringInfo(&eng_text);
	initStringInfo(&all_text);
	rs->fit = palloc(sizeof(Rule *) * Max(SPI_processed, 1));
	rs->eng = palloc(sizeof(Rule *) * Max(SPI_processed, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		RuleFields f;
		Rule *r;

		ReadRuleFields(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &f);
		r = CompileRule(&f, a, rs);
		RuleText(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, r->engagement ? &eng_text : NULL,
				 &all_text);
		if (!r->engagement)
			rs->fit[rs->nfit++] = r;
		else
		{
			rs->eng[rs->neng++] = r;
			if (r->any_type)
				rs->any_type = true;
			else
				types = lappend(types, r->event_type);
		}
	}
	rs->nwords = (rs->neng + 63) / 64;
	IndexRulesByType(rs);
	{
		Datum *elems = palloc(sizeof(Datum) * Max(list_length(types), 1));
		int n = 0;

		foreach (lc, types)
			elems[n++] = CStringGetTextDatum(lfirst(lc));
		rs->event_types =
			PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	}
	if (rs->leads != NULL)
	{
		int c;

		rs->fit_select = rs->nfit_atts > 0
							 ? ColumnList(rs->leads->relid, "l", rs->fit_atts, rs->nfit_atts, NULL)
							 : pstrdup("NULL");
		rs->fit_typlen = palloc(sizeof(int16) * Max(rs->nfit_atts, 1));
		rs->fit_typbyval = palloc(sizeof(bool) * Max(rs->nfit_atts, 1));
		for (c = 0; c < rs->nfit_atts; c++)
			get_typlenbyval(get_atttype(rs->leads->relid, rs->fit_atts[c]), &rs->fit_typlen[c],
							&rs->fit_typbyval[c]);
		for (s = 0; s < rs->nsources; s++)
			DescribeSource(&rs->sources[s], rs->leads->id_type);
	}
	/* the sources and the columns the rules read there are part of what a state was counted from */
	for (s = 0; s < rs->nsources; s++)
	{
		EventSource *src = &rs->sources[s];
		int c;

		appendStringInfo(&eng_text, "|source %u %d %d %d", src->events->relid,
						 src->events->lead_att, src->events->type_att, src->events->time_att);
		if (src->type_labels_text != NULL)
			appendStringInfo(&eng_text, " labels %s", src->type_labels_text);
		for (c = 0; c < src->ncols; c++)
			appendStringInfo(&eng_text, " %d", src->atts[c]);
	}
	rs->eng_fingerprint = hash_bytes_extended((unsigned char *) eng_text.data, eng_text.len, 0);
	appendStringInfo(&all_text, "|%016" INT64_MODIFIER "x", rs->eng_fingerprint);
	rs->all_fingerprint = hash_bytes_extended((unsigned char *) all_text.data, all_text.len, 0);
	MemoryContextSwitchTo(old);
	SPI_finish();
	return rs;
}

/* Compile the rules against the current attachments; the previous set lives until the transaction
 * ends. */
static void
LoadRules(void)
{
	Attachments *a = LsAttachments();
	RuleSet *rs = BuildRuleSet(a);
	MemoryContextCallback *cb;
	MemoryContext previous;

	cb = MemoryContextAlloc(rs->cxt, sizeof(MemoryContextCallback));
	cb->func = FreeRuleSetPlans;
	cb->arg = rs;
	MemoryContextRegisterResetCallback(rs->cxt, cb);
	previous = rules != NULL ? rules->cxt : NULL;
	ConfigCacheKeep(&previous, rs->cxt);
	rules = rs;
	rules_generation = a->generation;
}

RuleSet *
LsRules(void)
{
	ConfigCacheAcceptChanges();
	/* rules are compiled against the attached tables: rebuild when those change too */
	while (!rules_cache.valid || rules_generation != LsAttachments()->generation)
	{
		rules_cache.valid = false;
		ConfigCacheEnsure(&rules_cache, LoadRules);
	}
	return rules;
}

/* ---------------------------------------------------------------------------
 * rule_validate(): BEFORE INSERT OR UPDATE trigger on lead_scoring.rule
 * ---------------------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(rule_validate);
Datum
rule_validate(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	HeapTuple row;
	RuleFields f;
	MemoryContext cxt;
	MemoryContext old;

	(void) LsTriggerCall(fcinfo, "rule_validate", true, true, LS_ON_INSERT | LS_ON_UPDATE);
	LsTriggerOnTable(td, "rule_validate", LsRelid("rule", false), "lead_scoring.rule", NULL);
	row = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "lead_scoring rule_validate",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	ReadRuleFields(row, RelationGetDescr(td->tg_relation), &f);
	if (RuleRowActive(row, RelationGetDescr(td->tg_relation)))
	{
		(void) CompileRule(&f, LsAttachments(), NULL);
		if (f.op != NULL && strcmp(f.op, "regex") == 0 && f.value != NULL)
			CheckRegexBounded(&f);
	}
	else
	{
		/*
		 * An inactive rule is not compiled: deactivating is the remedy for a rule whose column
		 * was dropped or changed (doc/scoring.md, "Rules").  Its shape is still checked, and
		 * activating it again compiles it.
		 */
		ValueUse value_use;

		(void) CheckRuleShape(&f, &value_use);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return PointerGetDatum(row);
}
