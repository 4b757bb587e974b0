/*
 * lead_state.c — the per-lead engagement state (doc/scoring.md, "The engagement state").
 *
 * A decayed sum moves in time exactly: sum over e of p * 0.5^((t - t_e) / h) equals
 * S * 0.5^((t - A) / h) for the sum S anchored at A, for t >= A.  So each engagement rule keeps
 * its count of events, the time of the latest counted one (the anchor) and the sum anchored
 * there; a new event updates them without the lead's history.  What cannot be carried (an event
 * that displaces a counted one under max_hits, a time before the anchor, a future event whose
 * time has come, other rules) makes the callers re-read the lead's events.
 *
 * Stored form (bytea, native byte order: the state is a cache of the events and is rebuilt from
 * them whenever it does not decode), only the rules that counted an event are written:
 *   uint8 version, uint8 padding, uint16 entries, int32 nrules, uint64 rules_fp,
 *   uint64 config_fp, int64 pending, uint32 built_xid, int64 fit, uint64 fit_key,
 *   then per entry: uint16 rule, uint16 padding, int32 hits, int64 last, float8 sum.
 *
 * The fit points ride along: an event cannot change them, and the rules' predicates on the row
 * cost more than the state's arithmetic.  They are used for a row whose fit columns and
 * configuration hash to the key stored with them, else computed again (LeadStateFitKey).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "clock.h"
#include "lead_state.h"
#include "rules_in_flight.h"
#include "settings.h"

#define STATE_VERSION  3
#define HEADER_SIZE	   52
#define XID_OFFSET	   32
#define FIT_OFFSET	   36
#define FIT_KEY_OFFSET 44
#define ENTRY_SIZE	   24

void
LeadStateInit(LeadState *st, RuleSet *rs)
{
	st->rules_fp = rs->eng_fingerprint;
	st->config_fp = 0;
	st->pending = DT_NOEND;
	st->built_xid = GetTopTransactionId();
	st->fit = 0;
	st->fit_key = 0;
	st->nrules = rs->neng;
	st->rules = palloc0(sizeof(RuleState) * Max(rs->neng, 1));
}

/* The bytes of a stored state of this version, its header complete (their length in *len), or NULL.
 */
static const char *
StoredBytes(Datum value, bool isnull, Size *len)
{
	bytea *b;

	if (isnull)
		return NULL;
	b = DatumGetByteaPP(value);
	*len = VARSIZE_ANY_EXHDR(b);
	if (*len < HEADER_SIZE || (uint8) VARDATA_ANY(b)[0] != STATE_VERSION)
		return NULL;
	return VARDATA_ANY(b);
}

bool
LeadStateDecode(RuleSet *rs, Datum value, bool isnull, LeadState *st)
{
	Size len;
	const char *p;
	uint16 entries;
	int32 nrules;
	int e;
	int prev = -1;

	p = StoredBytes(value, isnull, &len);
	if (p == NULL)
		return false;
	memcpy(&entries, p + 2, 2);
	memcpy(&nrules, p + 4, 4);
	if (nrules != rs->neng || len != HEADER_SIZE + (Size) entries * ENTRY_SIZE)
		return false;
	memcpy(&st->rules_fp, p + 8, 8);
	if (st->rules_fp != rs->eng_fingerprint)
		return false;
	memcpy(&st->config_fp, p + 16, 8);
	memcpy(&st->pending, p + 24, 8);
	memcpy(&st->built_xid, p + XID_OFFSET, 4);
	memcpy(&st->fit, p + FIT_OFFSET, 8);
	memcpy(&st->fit_key, p + FIT_KEY_OFFSET, 8);
	st->nrules = nrules;
	st->rules = palloc0(sizeof(RuleState) * Max(nrules, 1));
	for (e = 0; e < entries; e++)
	{
		const char *q = p + HEADER_SIZE + e * ENTRY_SIZE;
		uint16 r;

		memcpy(&r, q, 2);
		if ((int) r <= prev || r >= nrules)
			return false;
		prev = r;
		memcpy(&st->rules[r].hits, q + 4, 4);
		memcpy(&st->rules[r].last, q + 8, 8);
		memcpy(&st->rules[r].sum, q + 16, 8);
	}
	return true;
}

bytea *
LeadStateEncode(RuleSet *rs, const LeadState *st)
{
	uint16 entries = 0;
	Size len;
	bytea *b;
	char *p;
	uint64 config_fp = LsConfigFingerprint(rs);
	int r;

	for (r = 0; r < st->nrules; r++)
		if (st->rules[r].hits > 0)
			entries++;
	len = HEADER_SIZE + (Size) entries * ENTRY_SIZE;
	b = palloc0(VARHDRSZ + len);
	p = VARDATA(b);
	SET_VARSIZE(b, VARHDRSZ + len);
	p[0] = STATE_VERSION;
	memcpy(p + 2, &entries, 2);
	memcpy(p + 4, &st->nrules, 4);
	/*
	 * A transaction that changed the rules counts under rules nobody else sees yet: writers that
	 * commit before it checked their dropped rows against the old rules (rules_in_flight.h), so
	 * its states may miss their rows.  They are written as counted under no rule set: rebuilt
	 * from the events at their next use.
	 */
	if (RulesInFlightChangesRules())
	{
		uint64 none = ~st->rules_fp;

		memcpy(p + 8, &none, 8);
	}
	else
		memcpy(p + 8, &st->rules_fp, 8);
	memcpy(p + 16, &config_fp, 8);
	memcpy(p + 24, &st->pending, 8);
	memcpy(p + XID_OFFSET, &st->built_xid, 4);
	memcpy(p + FIT_OFFSET, &st->fit, 8);
	memcpy(p + FIT_KEY_OFFSET, &st->fit_key, 8);
	p += HEADER_SIZE;
	for (r = 0; r < st->nrules; r++)
	{
		uint16 rule = (uint16) r;

		if (st->rules[r].hits == 0)
			continue;
		memcpy(p, &rule, 2);
		memcpy(p + 4, &st->rules[r].hits, 4);
		memcpy(p + 8, &st->rules[r].last, 8);
		memcpy(p + 16, &st->rules[r].sum, 8);
		p += ENTRY_SIZE;
	}
	return b;
}

/* 0.5^(seconds between 'from' and 'to' / half-life), as the full computation ages an event. */
static double
Decay(const Rule *rule, TimestampTz from, TimestampTz to)
{
	double age = AgeSeconds(to, from); /* an infinite age decays to nothing */

	return pow(0.5, age / rule->half_life);
}

bool
LeadStateCount(RuleSet *rs, LeadState *st, int r, TimestampTz t)
{
	const Rule *rule = rs->eng[r];
	RuleState *rst = &st->rules[r];

	if (rule->has_max_hits && rst->hits >= rule->max_hits)
		return t >= rst->last; /* later (or tied): not among the first; earlier: displaces one */
	if (rst->hits == 0)
	{
		rst->sum = rule->points;
		rst->last = t;
	}
	else if (!rule->has_half_life)
	{
		rst->sum += rule->points;
		if (t > rst->last)
			rst->last = t;
	}
	else if (t >= rst->last)
	{
		rst->sum = rst->sum * Decay(rule, rst->last, t) + rule->points;
		rst->last = t;
	}
	else
		rst->sum += rule->points * Decay(rule, t, rst->last);
	rst->hits++;
	return true;
}

bool
LeadStateApply(RuleSet *rs, LeadState *st, TimestampTz t, const uint64 *bits, TimestampTz cutoff)
{
	int r;

	if (t > cutoff)
	{
		/* dated in the future: counted when its time has come (the state is then rebuilt) */
		if (t < st->pending)
			st->pending = t;
		return true;
	}
	for (r = 0; r < rs->neng; r++)
		if ((bits[r / 64] & (UINT64CONST(1) << (r % 64))) && !LeadStateCount(rs, st, r, t))
			return false;
	return true;
}

bool
LeadStateEngagement(RuleSet *rs, const LeadState *st, TimestampTz at, TimestampTz cutoff,
					double *engagement)
{
	double total = 0;
	int r;

	if (st->pending <= cutoff)
		return false;
	for (r = 0; r < rs->neng; r++)
	{
		const Rule *rule = rs->eng[r];
		const RuleState *rst = &st->rules[r];
		double points;

		if (rst->hits == 0)
			points = 0;
		else if (!rule->has_half_life)
		{
			if (rst->last > cutoff)
				return false;
			points = rst->sum;
		}
		else
		{
			/* before the anchor the events between 'at' and the anchor would count in full */
			if (rst->last > at)
				return false;
			points = rst->sum * Decay(rule, rst->last, at);
		}
		total += LsCapPoints(rule, points);
	}
	*engagement = total;
	return true;
}

bool
LeadStateBuiltHere(const LeadState *st)
{
	return TransactionIdIsValid(st->built_xid) &&
		   TransactionIdEquals(st->built_xid, GetTopTransactionIdIfAny());
}

bool
LeadStateSame(Datum a, Datum b)
{
	bytea *x = DatumGetByteaPP(a);
	bytea *y = DatumGetByteaPP(b);
	Size len = VARSIZE_ANY_EXHDR(x);
	const char *p = VARDATA_ANY(x);
	const char *q = VARDATA_ANY(y);

	if (len != VARSIZE_ANY_EXHDR(y))
		return false;
	if (len < HEADER_SIZE)
		return memcmp(p, q, len) == 0;
	return memcmp(p, q, XID_OFFSET) == 0 &&
		   memcmp(p + XID_OFFSET + 4, q + XID_OFFSET + 4, len - XID_OFFSET - 4) == 0;
}

bool
LeadStateNearRounding(double unrounded)
{
	return fabs(unrounded - floor(unrounded) - 0.5) < LS_STATE_ROUNDING_GUARD;
}

/* Room for the fit columns of a row, each as a marker, its length and its bytes (or their hash). */
#define FIT_KEY_BUFFER 256
#define FIT_KEY_INLINE 64

uint64
LeadStateFitKey(RuleSet *rs, const Datum *values, const bool *nulls)
{
	uint64 h;
	unsigned char buf[FIT_KEY_BUFFER];
	Size used = 0;
	int i;

	if (rs->leads == NULL || rs->leads->state_att == InvalidAttrNumber)
		return 0; /* no state to keep it in */
	h = LsConfigFingerprint(rs);

	for (i = 0; i < rs->nfit_atts; i++)
	{
		int16 typlen = rs->fit_typlen[i];
		Datum d = values[i];
		const void *bytes = NULL;
		uint32 len = 0;
		uint64 long_hash;
		unsigned char marker = 1;

		if (nulls[i])
			marker = 0;
		else if (rs->fit_typbyval[i])
		{
			bytes = &d;
			len = sizeof(Datum);
		}
		else if (typlen == -1)
		{
			if (VARATT_IS_EXTERNAL(DatumGetPointer(d)) || VARATT_IS_COMPRESSED(DatumGetPointer(d)))
				return 0;
			bytes = VARDATA_ANY(DatumGetPointer(d));
			len = VARSIZE_ANY_EXHDR(DatumGetPointer(d));
		}
		else if (typlen == -2)
		{
			bytes = DatumGetCString(d);
			len = strlen(DatumGetCString(d));
		}
		else
		{
			bytes = DatumGetPointer(d);
			len = typlen;
		}
		if (len > FIT_KEY_INLINE)
		{
			long_hash = hash_bytes_extended(bytes, len, 0);
			bytes = &long_hash;
			len = sizeof(long_hash);
			marker = 2;
		}
		/* one hash over the columns laid end to end, each told from the next by its length */
		if (used + 1 + sizeof(len) + len > FIT_KEY_BUFFER)
		{
			h = hash_combine64(h, hash_bytes_extended(buf, used, 0));
			used = 0;
		}
		buf[used++] = marker;
		memcpy(buf + used, &len, sizeof(len));
		used += sizeof(len);
		if (len > 0)
			memcpy(buf + used, bytes, len);
		used += len;
	}
	h = hash_combine64(h, hash_bytes_extended(buf, used, 0));
	return h != 0 ? h : 1;
}

bool
LeadStateStoredFit(Datum value, bool isnull, uint64 key, int64 *fit)
{
	Size len;
	const char *p = StoredBytes(value, isnull, &len);
	uint64 stored;

	if (p == NULL)
		return false;
	memcpy(&stored, p + FIT_KEY_OFFSET, 8);
	if (stored == 0 || stored != key)
		return false;
	memcpy(fit, p + FIT_OFFSET, 8);
	return true;
}

uint64
LsConfigFingerprint(RuleSet *rs)
{
	const LsSettings *s = LsGetSettings();
	/* the last one computed: for the same rules and the same load of the settings */
	static uint64 last_rules = 0;
	static uint64 last_load = 0;
	static uint64 last = 0;
	struct
	{
		uint64 rules;
		int32 floor;
		int32 ceiling;
		bool has_floor;
		bool has_ceiling;
	} key;
	uint64 h;

	if (last_load != 0 && last_load == s->load && last_rules == rs->all_fingerprint)
		return last;
	memset(&key, 0, sizeof(key));
	key.rules = rs->all_fingerprint;
	key.has_floor = s->has_score_floor;
	key.floor = s->has_score_floor ? s->score_floor : 0;
	key.has_ceiling = s->has_score_ceiling;
	key.ceiling = s->has_score_ceiling ? s->score_ceiling : 0;
	h = hash_bytes_extended((unsigned char *) &key, sizeof(key), 0);
	if (s->default_phone_country != NULL)
		h = hash_combine64(h, hash_bytes_extended((unsigned char *) s->default_phone_country,
												  strlen(s->default_phone_country), 0));
	last_rules = rs->all_fingerprint;
	last_load = s->load;
	last = h;
	return h;
}

bool
LeadStateIsCurrent(RuleSet *rs, Datum value, bool isnull)
{
	LeadState st;

	if (!LeadStateDecode(rs, value, isnull, &st))
		return false;
	pfree(st.rules);
	return st.config_fp == LsConfigFingerprint(rs);
}
