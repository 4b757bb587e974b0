/*
 * rules.h — scoring rules as the C code evaluates them.
 *
 * The active rows of lead_scoring.rule are compiled once per backend into a
 * RuleSet: each predicate's value is parsed in the type of the column it is
 * compared with, regular expressions are checked, and the columns each rule
 * reads are mapped to the attached leads and events tables.  The set is
 * rebuilt after the rule table, the attachments or an attached table change.
 */
#ifndef RULES_H
#define RULES_H

#include "postgres.h"

#include "access/attnum.h"
#include "executor/spi.h"
#include "fmgr.h"

#include "attachment.h"
#include "contact.h"

typedef enum RuleOp
{
	RULE_OP_NONE = 0, /* no predicate: an engagement rule on the event type alone */
	RULE_OP_EQ,
	RULE_OP_NE,
	RULE_OP_LT,
	RULE_OP_LE,
	RULE_OP_GT,
	RULE_OP_GE,
	RULE_OP_IN,
	RULE_OP_CONTAINS,
	RULE_OP_PREFIX,
	RULE_OP_REGEX,
	RULE_OP_IS_NULL,
	RULE_OP_NOT_NULL,
	RULE_OP_VALID_EMAIL,
	RULE_OP_INVALID_EMAIL,
	RULE_OP_VALID_PHONE,
	RULE_OP_INVALID_PHONE
} RuleOp;

/* A predicate "column op value", compiled for one column of one table. */
typedef struct RulePredicate
{
	RuleOp op;
	Oid typid;	   /* the column's type */
	Oid collation; /* for comparisons, lower-casing and regular expressions */
	bool is_text;  /* text or varchar: read the bytes without the output function */
	FmgrInfo cmp;  /* btree comparison support (comparison operators and in) */
	FmgrInfo out;  /* output function (text operators) */
	int nvalues;   /* parsed values: one, or the elements of an in list */
	Datum *values;
	char *lower_value; /* contains, prefix: the value lower-cased */
	int lower_len;
	struct varlena *pattern; /* regex: the pattern as text */
	int nliterals;			 /* regex of literal alternatives only: their number, else 0 */
	char **literals;		 /* ... matched as substrings of the text (rules.c, RegexLiterals) */
	int *literal_lens;
	char *country; /* valid_phone, invalid_phone: explicit default country, or NULL */
	const PhoneCountry *country_rules;
} RulePredicate;

typedef struct Rule
{
	int32 rule_id;
	char *name;
	bool engagement;
	char *event_type; /* engagement: the event type matched, "*" for any */
	bool any_type;
	char *column_name; /* NULL: no predicate */
	RuleOp op;
	int32 points;
	bool has_max_points;
	int32 max_points;
	bool has_max_hits;
	int32 max_hits;
	bool has_half_life;
	double half_life; /* seconds */
	/* fit rules */
	int fit_col; /* index into RuleSet.fit_atts */
	RulePredicate *fit_pred;
	/* engagement rules, one entry per events source */
	RulePredicate **event_pred; /* NULL where the table lacks the column */
	int *event_col; /* 0-based index into the source's predicate columns, -1 if absent */
} Rule;

/* One attached events table as scoring reads it. */
typedef struct EventSource
{
	EventsAttachment *events;
	int ncols;			   /* distinct columns the rules' predicates read */
	AttrNumber *atts;	   /* their attribute numbers in the table */
	char *select_list;	   /* "e.type::text, e.time::timestamptz, e.col..." */
	SPIPlanPtr lead_plan;  /* events of one lead: $1 lead id, $2 event types */
	SPIPlanPtr batch_plan; /* events of many leads: $1 lead id array, $2 event types */
	/* reading one lead's events straight from an index (plain tables only) */
	Oid index_oid; /* btree index whose first column is the lead column, or InvalidOid */
	RegProcedure lead_eq_proc; /* its equality support for the first column */
	Oid lead_eq_coll;
	bool index_only; /* the index holds every column read: all-visible pages need no heap fetch */
	int index_type_col;	  /* (index_only) positions in the index, 1-based, of the type column, */
	int index_time_col;	  /* the time column, */
	int *index_pred_cols; /* and of each predicate column */
	bool type_is_text;	  /* the type column is text or varchar, else: */
	FmgrInfo type_out;	  /* its output function */
	struct HTAB *type_labels; /* a key into a lookup table: key text -> label (attach's labels) */
	char *type_labels_text;	  /* the same as "key=label|...", for the engagement fingerprint */
	Oid time_type;			  /* timestamptz, timestamp or date */
	const struct LsZone *time_zone; /* the zone naive times are read in, or NULL: the session's */
} EventSource;

/*
 * The text engagement rules match for an event's type: the type column's text, or, for a key into a
 * lookup table (attach_events' labels), the label of the row it references; NULL (matches no rule)
 * for a key without a row.  Allocated in the current memory context when it is not the datum's.
 */
extern const char *LsEventTypeText(const EventSource *src, Datum type, int *len);

typedef struct RuleSet
{
	LeadsAttachment *leads; /* NULL when no leads table is attached */
	int nfit;
	Rule **fit;
	int neng;
	Rule **eng;
	int nfit_atts; /* distinct leads columns the fit rules read */
	AttrNumber *fit_atts;
	int16 *fit_typlen; /* their types' lengths */
	bool *fit_typbyval;
	char *fit_select; /* "l.col1, l.col2" (or "NULL") */
	int nsources;
	EventSource *sources;
	bool any_type;	   /* an engagement rule matches every event type */
	Datum event_types; /* text[] of the types engagement rules match (when !any_type) */
	int nwords;		   /* 64-bit words in a per-event bitmap of engagement rules */
	/* the engagement rules by event type (an event is tested against its type's rules only) */
	int ntypes; /* distinct event types the rules name (not "*") */
	const char **type_names;
	int *type_lens;
	int *type_first; /* rules of type t: eng[type_rules[type_first[t] .. type_first[t + 1] - 1]] */
	int *type_rules;
	int nany_type;
	int *any_type_rules;		   /* the rules of every type ("*") */
	SPIPlanPtr lead_row_plan;	   /* fit columns of one lead: $1 lead id */
	SPIPlanPtr lock_plan;		   /* lock leads in order: $1 lead id array */
	SPIPlanPtr update_plan;		   /* rewrite leads' scores: $1 ids, $2 scores */
	SPIPlanPtr touch_plan;		   /* rewrite one lead's score: $1 id */
	SPIPlanPtr touch_many_plan;	   /* touch leads: $1 id array */
	SPIPlanPtr refresh_first_plan; /* the first leads in id order: $1 limit */
	SPIPlanPtr refresh_next_plan;  /* the next leads after $1: $2 limit */
	uint64 eng_fingerprint; /* the engagement rules and the columns they read (lead_state.c) */
	uint64 all_fingerprint; /* every active rule */
	MemoryContext cxt;
} RuleSet;

/* The compiled active rules (cached; rebuilt when stale). */
extern RuleSet *LsRules(void);

/* Whether a predicate holds for a column value. */
extern bool RulePredicateMatches(const RulePredicate *pred, Datum value, bool isnull);

/* Whether an event type (as text) is one an engagement rule matches. */
extern bool RuleMatchesType(const Rule *rule, const char *type, int len);

/* The index in rs->type_names of an event type (as text), or -1 when no rule names it. */
extern int RuleSetEventType(const RuleSet *rs, const char *type, int len);

/* The text form of an event type value of the given type (no copy for text/varchar). */
extern char *EventTypeText(Oid typid, Datum value, int *len);

extern void RulesInit(void);

/* An engagement rule's total points within its cap (max_points bounds both signs). */
static inline double
LsCapPoints(const Rule *rule, double points)
{
	if (!rule->has_max_points)
		return points;
	if (points > rule->max_points)
		return rule->max_points;
	if (points < -(double) rule->max_points)
		return -(double) rule->max_points;
	return points;
}

#endif /* RULES_H */
