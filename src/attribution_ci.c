/*
 * attribution_ci.c — bootstrap confidence intervals of attribution credits
 * (doc/attribution.md, "Confidence intervals").
 *
 * The resampled unit is the lead: its journey and all its conversions.  Each
 * of the B samples draws as many leads as were read, uniformly with
 * replacement, with a PRNG of its own (xoshiro256**, seeded by splitmix64 from
 * the seed argument), so that a seed gives the same samples on every run and
 * platform.  The journey-based models are solved again on every sample (the
 * chain, or the Shapley game, of the sampled journeys, each counted as often
 * as it was drawn); the rule-based models' weights do not depend on other
 * leads and are computed once.  A group's interval is the percentile
 * interval of its B sample totals: the (1 - level) / 2 and (1 + level) / 2
 * quantiles, interpolated linearly between order statistics as
 * percentile_cont does.  Credits are summed as float8.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "attribution_int.h"

/* Sample totals kept at most (groups times samples; 8 bytes each). */
#define CI_MAX_DRAWS (64 * 1024 * 1024)

struct CiCollector
{
	GroupTable *groups;
	int none_group;

	/* leads in reading order: their journey, -1 for none */
	int nleads;
	int leads_cap;
	int *journey;

	/* conversions: lead, value, touches [start, start + n) */
	int nconv;
	int conv_cap;
	int *conv_lead;
	double *conv_value;
	int *conv_start;
	int *conv_n;

	/* touches: group, channel id (journey models), fixed weight (rule-based) */
	int ntouch;
	int touch_cap;
	int *t_group;
	int *t_channel;
	double *t_weight;
};

/* A collector for the run, its groups at the run's depth. */
CiCollector *
CiCollectorCreate(AttributionRun *run)
{
	CiCollector *ci = palloc0(sizeof(CiCollector));

	ci->groups = GroupTableCreate(run->depth);
	ci->none_group = GroupId(ci->groups, CStringGetTextDatum("(none)"), true, 0, true, 0);
	ci->leads_cap = 1024;
	ci->journey = palloc(sizeof(int) * ci->leads_cap);
	ci->conv_cap = 1024;
	ci->conv_lead = palloc(sizeof(int) * ci->conv_cap);
	ci->conv_value = palloc(sizeof(double) * ci->conv_cap);
	ci->conv_start = palloc(sizeof(int) * ci->conv_cap);
	ci->conv_n = palloc(sizeof(int) * ci->conv_cap);
	ci->touch_cap = 4096;
	ci->t_group = palloc(sizeof(int) * ci->touch_cap);
	ci->t_channel = palloc(sizeof(int) * ci->touch_cap);
	ci->t_weight = palloc(sizeof(double) * ci->touch_cap);
	return ci;
}

/* The next lead (run->lead_seq), with its journey number or -1. */
void
CiAddLead(AttributionRun *run, int journey)
{
	CiCollector *ci = run->ci;
	MemoryContext old = MemoryContextSwitchTo(run->work_cxt);

	Assert(ci->nleads == run->lead_seq - 1);
	if (ci->nleads == ci->leads_cap)
	{
		ci->leads_cap *= 2;
		ci->journey = repalloc_huge(ci->journey, sizeof(int) * ci->leads_cap);
	}
	ci->journey[ci->nleads++] = journey;
	MemoryContextSwitchTo(old);
}

/*
 * Keep one conversion of the current lead: its touches' groups, channels and
 * (rule-based models) weights; n = 0 is a conversion without touchpoint.  A
 * conversion without value adds nothing.
 */
void
CiAddConversion(AttributionRun *run, const Conversion *conv, const Touch *touches, int n,
				const double *w)
{
	CiCollector *ci = run->ci;
	MemoryContext old;
	int c;
	int i;

	if (conv->value_null)
		return;
	old = MemoryContextSwitchTo(run->work_cxt);
	if (ci->nconv == ci->conv_cap)
	{
		ci->conv_cap *= 2;
		ci->conv_lead = repalloc_huge(ci->conv_lead, sizeof(int) * ci->conv_cap);
		ci->conv_value = repalloc_huge(ci->conv_value, sizeof(double) * ci->conv_cap);
		ci->conv_start = repalloc_huge(ci->conv_start, sizeof(int) * ci->conv_cap);
		ci->conv_n = repalloc_huge(ci->conv_n, sizeof(int) * ci->conv_cap);
	}
	while (ci->ntouch + Max(n, 1) > ci->touch_cap)
	{
		ci->touch_cap *= 2;
		ci->t_group = repalloc_huge(ci->t_group, sizeof(int) * ci->touch_cap);
		ci->t_channel = repalloc_huge(ci->t_channel, sizeof(int) * ci->touch_cap);
		ci->t_weight = repalloc_huge(ci->t_weight, sizeof(double) * ci->touch_cap);
	}
	c = ci->nconv++;
	ci->conv_lead[c] = run->lead_seq - 1;
	ci->conv_value[c] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, conv->value));
	ci->conv_start[c] = ci->ntouch;
	ci->conv_n[c] = Max(n, 1);
	if (n == 0)
	{
		ci->t_group[ci->ntouch] = ci->none_group;
		ci->t_channel[ci->ntouch] = -1;
		ci->t_weight[ci->ntouch] = 1.0;
		ci->ntouch++;
	}
	for (i = 0; i < n; i++)
	{
		const Touch *t = &touches[i];

		ci->t_group[ci->ntouch] = GroupId(ci->groups, t->channel, t->campaign_null, t->campaign,
										  t->keyword_null, t->keyword);
		ci->t_channel[ci->ntouch] = t->channel_id;
		ci->t_weight[ci->ntouch] = w ? w[i] : 0.0;
		ci->ntouch++;
	}
	MemoryContextSwitchTo(old);
}

/* xoshiro256** (Blackman and Vigna), seeded with splitmix64. */
typedef struct Prng
{
	uint64 s[4];
} Prng;

static uint64
SplitMix64(uint64 *x)
{
	uint64 z = (*x += UINT64CONST(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64CONST(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
PrngSeed(Prng *r, int64 seed)
{
	uint64 x = (uint64) seed;
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = SplitMix64(&x);
}

static inline uint64
Rotl(uint64 x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64
PrngNext(Prng *r)
{
	uint64 result = Rotl(r->s[1] * 5, 7) * 9;
	uint64 t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = Rotl(r->s[3], 45);
	return result;
}

/* A uniform integer in [0, n). */
static int
PrngBelow(Prng *r, int n)
{
	return (int) ((double) (PrngNext(r) >> 11) * (1.0 / 9007199254740992.0) * n);
}

/*
 * The totals per group of one sample: lead l counted mult[l] times (its
 * journey jweight[j] times).  The journey-based models are solved on the
 * sample first.
 */
static void
SampleTotals(AttributionRun *run, const int *mult, const int *jweight, int *channel_group,
			 double *totals)
{
	CiCollector *ci = run->ci;
	int ngroups = GroupCount(ci->groups);
	int nchannels = run->chain ? MarkovChannelCount(run->chain) : 0;
	double *re = NULL;
	double re_sum = 0.0;
	double aggregate_value = 0.0;
	ShapleyGame *game = NULL;
	double p;
	int c, i;

	for (i = 0; i < ngroups; i++)
		totals[i] = 0.0;
	if (run->model == AM_MARKOV)
	{
		re = palloc0(sizeof(double) * Max(nchannels, 1));
		MarkovRemovalEffects(run->chain, run->markov_order, jweight, &p, re);
		for (c = 0; c < nchannels; c++)
			re_sum += re[c];
	}
	else if (run->model == AM_SHAPLEY)
		game = ShapleyGameCreate(run->chain, jweight);

	for (c = 0; c < ci->nconv; c++)
	{
		int m = mult[ci->conv_lead[c]];
		int start = ci->conv_start[c];
		int n = ci->conv_n[c];
		double amount;
		const double *w = ci->t_weight + start;

		if (m == 0)
			continue;
		amount = m * ci->conv_value[c];
		if (ci->t_channel[start] < 0 && JOURNEY_MODEL(run->model))
		{
			/* a conversion without touchpoint */
			totals[ci->t_group[start]] += amount;
			continue;
		}
		if (run->model == AM_MARKOV && run->split == SPLIT_AGGREGATE && re_sum > 0)
		{
			aggregate_value += amount;
			continue;
		}
		if (JOURNEY_MODEL(run->model))
		{
			EnsureTouchCapacity(run, n);
			if (game)
				ShapleyWeights(game, n, ci->t_channel + start, run->counts, run->weights);
			else
				MarkovWeights(n, ci->t_channel + start, re, run->counts, run->weights);
			w = run->weights;
		}
		for (i = 0; i < n; i++)
			totals[ci->t_group[start + i]] += amount * w[i];
	}
	if (aggregate_value > 0)
		for (c = 0; c < nchannels; c++)
			if (re[c] > 0)
				totals[channel_group[c]] += aggregate_value * re[c] / re_sum;
}

/* The q-quantile of sorted[0..n), interpolated linearly (percentile_cont). */
static double
Quantile(const double *sorted, int n, double q)
{
	double pos = q * (n - 1);
	int lo = (int) floor(pos);
	double frac = pos - lo;

	if (lo >= n - 1)
		return sorted[n - 1];
	return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

static int
CompareDoubles(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * Draw the samples and write one row per group: channel, campaign, keyword,
 * credit (all leads once), lower, upper.
 */
void
CiRun(AttributionRun *run, int samples, double level, int64 seed, Tuplestorestate *store,
	  TupleDesc desc)
{
	CiCollector *ci = run->ci;
	MemoryContext sample_cxt = AllocSetContextCreate(
		CurrentMemoryContext, "lead_scoring bootstrap sample", ALLOCSET_DEFAULT_SIZES);
	int nchannels = run->chain ? MarkovChannelCount(run->chain) : 0;
	int njourneys = run->chain ? MarkovJourneyCount(run->chain) : 0;
	int *channel_group = palloc(sizeof(int) * Max(nchannels, 1));
	int *mult = palloc(sizeof(int) * Max(ci->nleads, 1));
	int *jweight = palloc0(sizeof(int) * Max(njourneys, 1));
	int ngroups;
	double *point;
	double *draws; /* [group][sample] */
	double *column;
	Prng prng;
	int b, g, l;

	/* the aggregate split credits channels, whether or not a path of the sample has them */
	for (g = 0; g < nchannels; g++)
	{
		int len;
		const char *name = MarkovChannelName(run->chain, g, &len);

		channel_group[g] = GroupId(ci->groups, PointerGetDatum(cstring_to_text_with_len(name, len)),
								   true, 0, true, 0);
	}
	if (run->counts == NULL)
		run->counts = palloc0(sizeof(int) * Max(nchannels, 1));
	ngroups = GroupCount(ci->groups);
	if ((double) ngroups * samples > (double) CI_MAX_DRAWS)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("attribution_ci would keep %.0f sample totals, more than %d",
							   (double) ngroups * samples, CI_MAX_DRAWS),
						errdetail("%d groups times %d samples.", ngroups, samples),
						errhint("Use fewer samples or a coarser detail level.")));
	point = palloc(sizeof(double) * ngroups);
	draws = palloc_extended(sizeof(double) * ngroups * samples, MCXT_ALLOC_HUGE);
	column = palloc(sizeof(double) * ngroups);

	/* the point estimate: every lead once */
	for (l = 0; l < ci->nleads; l++)
	{
		mult[l] = 1;
		if (ci->journey[l] >= 0)
			jweight[ci->journey[l]] = 1;
	}
	{
		MemoryContext old = MemoryContextSwitchTo(sample_cxt);

		SampleTotals(run, mult, jweight, channel_group, point);
		MemoryContextSwitchTo(old);
		MemoryContextReset(sample_cxt);
	}

	PrngSeed(&prng, seed);
	for (b = 0; b < samples; b++)
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		memset(mult, 0, sizeof(int) * Max(ci->nleads, 1));
		memset(jweight, 0, sizeof(int) * Max(njourneys, 1));
		for (l = 0; l < ci->nleads; l++)
			mult[PrngBelow(&prng, ci->nleads)]++;
		for (l = 0; l < ci->nleads; l++)
			if (ci->journey[l] >= 0)
				jweight[ci->journey[l]] = mult[l];
		old = MemoryContextSwitchTo(sample_cxt);
		SampleTotals(run, mult, jweight, channel_group, column);
		MemoryContextSwitchTo(old);
		MemoryContextReset(sample_cxt);
		for (g = 0; g < ngroups; g++)
			draws[(Size) g * samples + b] = column[g];
	}

	for (g = 0; g < ngroups; g++)
	{
		double *d = draws + (Size) g * samples;
		Datum v[6];
		bool nulls[6];
		bool used = point[g] != 0.0;

		for (b = 0; b < samples && !used; b++)
			used = d[b] != 0.0;
		if (!used)
			continue; /* a group no conversion credits (the (none) group, say) */
		qsort(d, samples, sizeof(double), CompareDoubles);
		GroupKey(ci->groups, g, v, nulls);
		v[3] = Float8GetDatum(point[g]);
		v[4] = Float8GetDatum(Quantile(d, samples, (1.0 - level) / 2));
		v[5] = Float8GetDatum(Quantile(d, samples, (1.0 + level) / 2));
		nulls[3] = nulls[4] = nulls[5] = false;
		tuplestore_putvalues(store, desc, v, nulls);
	}
	MemoryContextDelete(sample_cxt);
}
