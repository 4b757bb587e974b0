/*
 * funnel_stage.c — the lead_scoring.funnel_stage base type.
 *
 * A stage is stored as one byte holding its rank (0 = new … 9 = lost), so
 * comparison is by rank and the type is as cheap as "char" on disk.  Text
 * input is case-insensitive, trims surrounding white space and accepts the
 * aliases CRM systems use; output is always the canonical label.  Binary I/O
 * sends the rank as an int4 and validates it on receipt.
 */
#include "postgres.h"

#include "access/hash.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "funnel_stage.h"
#include "lead_scoring.h"

/* Longest input we try to match; every label and alias is shorter. */
#define STAGE_INPUT_MAX 64
/* How much of a rejected input we quote back in the error message. */
#define STAGE_QUOTE_MAX 64

static const char *const stage_labels[FS_COUNT] = {
	"new",		   "iql",	   "mql",	   "sal",		   "sql",
	"opportunity", "customer", "recycled", "disqualified", "lost",
};

static const StageOwner stage_owners[FS_COUNT] = {
	OWNER_MARKETING, OWNER_MARKETING, OWNER_MARKETING, OWNER_SALES,	 OWNER_SALES,
	OWNER_SALES,	 OWNER_CLOSED,	  OWNER_MARKETING, OWNER_CLOSED, OWNER_CLOSED,
};

typedef struct StageAlias
{
	const char *alias;
	FunnelStage stage;
} StageAlias;

/* Aliases accepted on input (compared after trimming and lower-casing). */
static const StageAlias stage_aliases[] = {
	{"inquiry", FS_NEW},
	{"subscriber", FS_IQL},
	{"information qualified lead", FS_IQL},
	{"information-qualified lead", FS_IQL},
	{"nql", FS_IQL},
	{"non-qualified lead", FS_IQL},
	{"marketing qualified lead", FS_MQL},
	{"sales accepted lead", FS_SAL},
	{"sales qualified lead", FS_SQL},
	{"sqo", FS_OPPORTUNITY},
	{"opp", FS_OPPORTUNITY},
	{"won", FS_CUSTOMER},
	{"closed won", FS_CUSTOMER},
	{"junk", FS_DISQUALIFIED},
	{"unqualified", FS_DISQUALIFIED},
	{"closed lost", FS_LOST},
	{"nurture", FS_RECYCLED},
};

#define VALID_LABELS_HINT                                                                          \
	"Valid labels are new, iql, mql, sal, sql, opportunity, customer, recycled, disqualified and " \
	"lost (case-insensitive; aliases such as inquiry, nurture, won or closed lost are accepted "   \
	"too)."

/* A stored byte out of range means corruption: say so rather than read past a table. */
static inline int
CheckedRank(FunnelStage stage)
{
	int rank = (int) stage;

	if (rank < 0 || rank >= FS_COUNT)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
						errmsg("invalid funnel_stage rank %d in stored value", rank)));
	return rank;
}

const char *
FunnelStageLabel(FunnelStage stage)
{
	return stage_labels[CheckedRank(stage)];
}

StageOwner
FunnelStageOwner(FunnelStage stage)
{
	return stage_owners[CheckedRank(stage)];
}

const char *
StageOwnerName(StageOwner owner)
{
	switch (owner)
	{
		case OWNER_MARKETING:
			return "marketing";
		case OWNER_SALES:
			return "sales";
		case OWNER_CLOSED:
			return "closed";
	}
	return NULL; /* keep the compiler quiet */
}

bool
FunnelStageIsTerminal(FunnelStage stage)
{
	return FunnelStageOwner(stage) == OWNER_CLOSED;
}

/*
 * White space trimmed around stage input: space, tab, newline, carriage
 * return, form feed and vertical tab (README, "The funnel_stage type").
 * scanner_isspace() lacks the vertical tab.
 */
static bool
StageInputSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Parse a label or alias.  Returns false when the text names no stage.
 */
bool
FunnelStageParse(const char *input, FunnelStage *result)
{
	char buf[STAGE_INPUT_MAX + 1];
	const char *start = input;
	const char *end = input + strlen(input);
	int len;
	int i;

	while (start < end && StageInputSpace(*start))
		start++;
	while (end > start && StageInputSpace(end[-1]))
		end--;
	len = end - start;
	if (len == 0 || len > STAGE_INPUT_MAX)
		return false;
	for (i = 0; i < len; i++)
		buf[i] = pg_ascii_tolower((unsigned char) start[i]);
	buf[len] = '\0';

	for (i = 0; i < FS_COUNT; i++)
	{
		if (strcmp(buf, stage_labels[i]) == 0)
		{
			*result = (FunnelStage) i;
			return true;
		}
	}
	for (i = 0; i < lengthof(stage_aliases); i++)
	{
		if (strcmp(buf, stage_aliases[i].alias) == 0)
		{
			*result = stage_aliases[i].stage;
			return true;
		}
	}
	return false;
}

/* The rejected input as quoted in an error: clipped, on a character boundary, when overlong. */
static char *
QuotableInput(const char *input)
{
	int len = strlen(input);
	int clip;

	if (len <= STAGE_QUOTE_MAX)
		return pstrdup(input);
	clip = pg_mbcliplen(input, len, STAGE_QUOTE_MAX);
	return psprintf("%.*s...", clip, input);
}

/* Input errors are soft where the server supports it (PostgreSQL 16+: pg_input_is_valid). */
#if PG_VERSION_NUM >= 160000
#define SOFT_INPUT_ERROR(fcinfo, ...) ereturn((fcinfo)->context, (Datum) 0, __VA_ARGS__)
#else
#define SOFT_INPUT_ERROR(fcinfo, ...) ereport(ERROR, __VA_ARGS__)
#endif

PG_FUNCTION_INFO_V1(funnel_stage_in);
Datum
funnel_stage_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	FunnelStage stage;

	if (!FunnelStageParse(input, &stage))
		SOFT_INPUT_ERROR(fcinfo, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
								  errmsg("invalid input syntax for type funnel_stage: \"%s\"",
										 QuotableInput(input)),
								  errhint(VALID_LABELS_HINT)));
	PG_RETURN_FUNNEL_STAGE(stage);
}

PG_FUNCTION_INFO_V1(funnel_stage_out);
Datum
funnel_stage_out(PG_FUNCTION_ARGS)
{
	FunnelStage stage = PG_GETARG_FUNNEL_STAGE(0);

	PG_RETURN_CSTRING(pstrdup(FunnelStageLabel(stage)));
}

PG_FUNCTION_INFO_V1(funnel_stage_recv);
Datum
funnel_stage_recv(PG_FUNCTION_ARGS)
{
	StringInfo buf = (StringInfo) PG_GETARG_POINTER(0);
	int32 rank = (int32) pq_getmsgint(buf, 4);

	if (rank < 0 || rank >= FS_COUNT)
		ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						errmsg("invalid funnel_stage rank %d in binary input", rank),
						errdetail("Ranks run from 0 (new) to %d (lost).", FS_COUNT - 1)));
	PG_RETURN_FUNNEL_STAGE(rank);
}

PG_FUNCTION_INFO_V1(funnel_stage_send);
Datum
funnel_stage_send(PG_FUNCTION_ARGS)
{
	FunnelStage stage = PG_GETARG_FUNNEL_STAGE(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, (int32) stage);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Comparison by rank. */
#define STAGE_CMP_FN(name, op)                                                                     \
	PG_FUNCTION_INFO_V1(name);                                                                     \
	Datum name(PG_FUNCTION_ARGS)                                                                   \
	{                                                                                              \
		PG_RETURN_BOOL(PG_GETARG_FUNNEL_STAGE(0) op PG_GETARG_FUNNEL_STAGE(1));                    \
	}

STAGE_CMP_FN(funnel_stage_eq, ==)
STAGE_CMP_FN(funnel_stage_ne, !=)
STAGE_CMP_FN(funnel_stage_lt, <)
STAGE_CMP_FN(funnel_stage_le, <=)
STAGE_CMP_FN(funnel_stage_gt, >)
STAGE_CMP_FN(funnel_stage_ge, >=)

PG_FUNCTION_INFO_V1(funnel_stage_cmp);
Datum
funnel_stage_cmp(PG_FUNCTION_ARGS)
{
	FunnelStage a = PG_GETARG_FUNNEL_STAGE(0);
	FunnelStage b = PG_GETARG_FUNNEL_STAGE(1);

	PG_RETURN_INT32(a < b ? -1 : (a > b ? 1 : 0));
}

PG_FUNCTION_INFO_V1(funnel_stage_hash);
Datum
funnel_stage_hash(PG_FUNCTION_ARGS)
{
	return hash_uint32((uint32) PG_GETARG_FUNNEL_STAGE(0));
}

PG_FUNCTION_INFO_V1(funnel_stage_hash_extended);
Datum
funnel_stage_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_uint32_extended((uint32) PG_GETARG_FUNNEL_STAGE(0), PG_GETARG_INT64(1));
}

PG_FUNCTION_INFO_V1(funnel_stage_smaller);
Datum
funnel_stage_smaller(PG_FUNCTION_ARGS)
{
	FunnelStage a = PG_GETARG_FUNNEL_STAGE(0);
	FunnelStage b = PG_GETARG_FUNNEL_STAGE(1);

	PG_RETURN_FUNNEL_STAGE(a <= b ? a : b);
}

PG_FUNCTION_INFO_V1(funnel_stage_larger);
Datum
funnel_stage_larger(PG_FUNCTION_ARGS)
{
	FunnelStage a = PG_GETARG_FUNNEL_STAGE(0);
	FunnelStage b = PG_GETARG_FUNNEL_STAGE(1);

	PG_RETURN_FUNNEL_STAGE(a >= b ? a : b);
}

PG_FUNCTION_INFO_V1(stage_rank);
Datum
stage_rank(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) PG_GETARG_FUNNEL_STAGE(0));
}

PG_FUNCTION_INFO_V1(stage_owner);
Datum
stage_owner(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(StageOwnerName(FunnelStageOwner(PG_GETARG_FUNNEL_STAGE(0)))));
}

PG_FUNCTION_INFO_V1(stage_is_terminal);
Datum
stage_is_terminal(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(FunnelStageIsTerminal(PG_GETARG_FUNNEL_STAGE(0)));
}

/* funnel_stages(): every stage in rank order. */
PG_FUNCTION_INFO_V1(funnel_stages);
Datum
funnel_stages(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;

	if (SRF_IS_FIRSTCALL())
		funcctx = SRF_FIRSTCALL_INIT();
	funcctx = SRF_PERCALL_SETUP();
	if (funcctx->call_cntr < FS_COUNT)
	{
		/* SRF_RETURN_NEXT advances call_cntr before it evaluates its result argument */
		Datum stage = FunnelStageGetDatum(funcctx->call_cntr);

		SRF_RETURN_NEXT(funcctx, stage);
	}
	SRF_RETURN_DONE(funcctx);
}
