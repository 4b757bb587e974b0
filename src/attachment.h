/*
 * attachment.h — the attached CRM tables as the C code sees them.
 *
 * Built from lead_scoring.attachment on first use and cached per backend;
 * rebuilt after the attachment table or an attached table changes.  Column
 * numbers are resolved from the recorded names at build time.
 */
#ifndef ATTACHMENT_H
#define ATTACHMENT_H

#include "postgres.h"

#include "access/attnum.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "utils/array.h"

#include "funnel_stage.h"

/* The column attach_leads adds for the engagement state (doc/scoring.md, "The engagement state").
 */
#define LS_STATE_COLUMN "lead_scoring_state"

typedef struct LeadsAttachment
{
	Oid relid;
	char *qualname; /* quoted, schema-qualified table name */
	AttrNumber id_att;
	AttrNumber stage_att;
	AttrNumber score_att;
	AttrNumber owner_att;	 /* InvalidAttrNumber when not mapped */
	AttrNumber created_att;	 /* InvalidAttrNumber when not mapped */
	char *time_zone;		 /* zone of naive time columns (attach's time_zone), or NULL */
	struct LsZone *zone;	 /* the same, resolved for LsColumnTime */
	char *row_filter;		 /* attach's row_filter as stored (bare columns), or NULL */
	Node *row_filter_expr;	 /* the same, parsed (Vars of the leads table), or NULL */
	char *owner_label_query; /* attach's owner_label: SQL giving the label of owner $1, or NULL */
	/* the CRM's own stage (attach's crm_stage_column) and its map onto funnel stages */
	AttrNumber crm_stage_att; /* InvalidAttrNumber when not mapped */
	int crm_stage_count;
	char **crm_stage_values;		/* the CRM stage values, as their text output */
	FunnelStage *crm_stage_targets; /* the funnel stage of each */
	bool crm_stage_enforce;			/* check CRM moves against the transition rules */
	char *id_col;					/* quoted column names, for SPI queries */
	char *stage_col;
	char *score_col;
	/* the engagement state column (doc/scoring.md), InvalidAttrNumber on a 0.1.0 schema */
	AttrNumber state_att;
	char *state_col; /* quoted, or NULL */
	/* the lead id's type: every lead id the extension handles has it */
	Oid id_type;
	int16 id_len;
	bool id_byval;
	char id_align;
	Oid id_collation;
	FmgrInfo id_cmp; /* btree comparison support function */
	char *id_eq;	 /* the type's equality operator as OPERATOR(schema.=) */
	char *id_gt;	 /* its btree > operator, the same way */
} LeadsAttachment;

typedef struct EventsAttachment
{
	Oid relid;
	char *qualname;
	AttrNumber lead_att;
	AttrNumber type_att;
	AttrNumber time_att;
	AttrNumber channel_att; /* InvalidAttrNumber when not mapped */
	AttrNumber campaign_att;
	AttrNumber keyword_att;
	int nkeys; /* primary key columns, in key order */
	AttrNumber *key_atts;
	char *lead_col; /* quoted column names */
	char *type_col;
	char *time_col;
	char *type_text;	  /* the type column of alias "e" as text, in SQL that runs no user code */
	char *type_label;	  /* attach's labels for the type column ("name.en_US"), or NULL */
	char *type_label_map; /* then: SQL giving every key (as text) and its label */
	Oid type_type;		  /* types of the mapped columns */
	Oid time_type;
	char *time_zone;	 /* zone of naive time columns (attach's time_zone), or NULL */
	struct LsZone *zone; /* the same, resolved for LsColumnTime */
	char *row_filter;	 /* attach's row_filter as stored (bare columns), or NULL */
	char *from_item;	 /* what queries read events FROM: the table, or its filtered rows */
} EventsAttachment;

typedef struct DealsAttachment
{
	Oid relid;
	char *qualname;
	AttrNumber id_att;
	AttrNumber lead_att;
	AttrNumber amount_att;
	AttrNumber status_att; /* InvalidAttrNumber: the outcome comes from won_filter/lost_filter */
	AttrNumber closed_att; /* InvalidAttrNumber: a won status alone is a won deal */
	AttrNumber owner_att;  /* InvalidAttrNumber when not mapped */
	AttrNumber cost_att;   /* InvalidAttrNumber when not mapped */
	Oid amount_type;
	Oid status_type;
	Oid closed_type;
	char *time_zone;	 /* zone of naive time columns (attach's time_zone), or NULL */
	struct LsZone *zone; /* the same, resolved for LsColumnTime */
	Node *row_filter;	 /* attach's row_filter, parsed (Vars of the deals table), or NULL */
	Node *won_filter;	 /* attach_deals' won_filter and lost_filter, parsed, or NULL */
	Node *lost_filter;
	/* attach_deals' stage_map: the deal's own stage values and the funnel stage of each */
	int stage_count;
	char **stage_values;
	FunnelStage *stage_targets;
	bool stage_enforce;
} DealsAttachment;

typedef struct Attachments
{
	LeadsAttachment *leads; /* NULL when no leads table is attached */
	List *events;			/* of EventsAttachment * */
	List *deals;			/* of DealsAttachment * */
	Oid extension_owner;
	uint64 generation; /* changes at every rebuild: lets dependent caches notice */
} Attachments;

/* The current attachments (cached; valid until the next invalidation is processed). */
extern Attachments *LsAttachments(void);
extern EventsAttachment *LsEventsAttachment(Oid relid);
extern DealsAttachment *LsDealsAttachment(Oid relid);
/* The leads attachment, or an error saying that no leads table is attached. */
extern LeadsAttachment *LsLeadsAttachment(void);
/* Memory context that lives as long as the current attachment cache: put derived caches here. */
extern MemoryContext LsAttachmentContext(void);

extern void AttachmentInit(void);

/* Run maintenance as the extension owner, as the RI triggers run as the table owner. */
typedef struct LsSavedUser
{
	Oid userid;
	int sec_context;
	int guc_nest; /* (LsBeginTableWrite) the GUC nesting level to pop, or 0 */
} LsSavedUser;

extern void LsBecomeExtensionOwner(LsSavedUser *saved);
/* The same with the extension owner's OID at hand (read without the attachment cache). */
extern void LsBecomeOwner(Oid owner, LsSavedUser *saved);
extern void LsRestoreUser(const LsSavedUser *saved);

/* A lead id as text, for messages and NOTIFY payloads. */
extern char *LsLeadIdText(const LeadsAttachment *leads, Datum id);

/* Compare two lead ids with the id type's btree order. */
extern int LsCompareLeadIds(const LeadsAttachment *leads, Datum a, Datum b);
/* Sort lead ids in that order and drop duplicates; returns how many are left. */
extern int LsSortLeadIds(const LeadsAttachment *leads, Datum *ids, int n);

/*
 * An array of lead ids (a plan's parameter), made in the current memory context from a copy of
 * `ids`: construct_array() replaces the varlena elements it is given by copies made in the current
 * memory context (short headers expanded), which would leave the caller's ids pointing into memory
 * freed with that context.
 */
extern ArrayType *LsLeadIdArray(const LeadsAttachment *leads, const Datum *ids, int n);
/* The array type of lead ids (ERROR when the id type has none). */
extern Oid LsLeadIdArrayType(const LeadsAttachment *leads);

#endif /* ATTACHMENT_H */
