/*
 * attribution_shapley.c — the shapley model: Shapley values of a cooperative
 * game on channel sets (doc/attribution.md, "The Shapley model").
 *
 * Journeys are those of the Markov model (one per lead).  The value of a
 * coalition S, a non-empty set of channels, is the conversion rate of the
 * journeys whose set of channels is exactly S (converting journeys / all
 * journeys with that set; 0 when no journey has it), and v(empty) = 0.
 *
 * A conversion whose path has the channel set N is split over N by the
 * Shapley values of the game restricted to the subsets of N,
 *     phi_i = sum over T in N \ {i} of |T|! (|N| - |T| - 1)! / |N|! (v(T + i) - v(T)),
 * computed exactly by enumerating the 2^|N| subsets: channel i gets
 * max(phi_i, 0) / sum_j max(phi_j, 0), split equally over its touches; when no
 * channel has a positive value the split is linear.
 *
 * Limits: SHAPLEY_MAX_CHANNELS distinct channels in all (coalitions are bit
 * masks) and SHAPLEY_MAX_PATH_CHANNELS distinct channels in one path (2^n
 * coalitions each); beyond them the model stops with an error.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "attribution_int.h"

/* Distinct channels the shapley model accepts in all, and in one path. */
#define SHAPLEY_MAX_CHANNELS	  64
#define SHAPLEY_MAX_PATH_CHANNELS 20

/* One coalition: its journeys and converting journeys, and the cached values of its channels. */
typedef struct Coalition
{
	uint64 mask; /* 0 = empty slot */
	double journeys;
	double converting;
	double *phi; /* Shapley values by channel (in id order), NULL until computed */
} Coalition;

struct ShapleyGame
{
	MemoryContext cxt; /* where the game and its cached values live */
	int nchannels;
	Coalition *slots; /* open addressing, nslots a power of 2 */
	int nslots;
	int n;
};

static uint32
MaskHash(uint64 mask)
{
	return hash_bytes_uint32((uint32) mask) ^ hash_bytes_uint32((uint32) (mask >> 32));
}

/* The coalition's slot, added (zero counts) when new and add is true; NULL when absent. */
static Coalition *
CoalitionFind(ShapleyGame *g, uint64 mask, bool add)
{
	int pos;

	if (add && (g->n + 1) * 2 > g->nslots)
	{
		Coalition *old = g->slots;
		int oldn = g->nslots;
		int i;

		g->nslots = g->nslots ? g->nslots * 2 : 256;
		g->slots = palloc0(sizeof(Coalition) * g->nslots);
		for (i = 0; i < oldn; i++)
		{
			if (old[i].mask == 0)
				continue;
			for (pos = MaskHash(old[i].mask) & (g->nslots - 1); g->slots[pos].mask != 0;
				 pos = (pos + 1) & (g->nslots - 1))
				;
			g->slots[pos] = old[i];
		}
		if (old)
			pfree(old);
	}
	if (g->nslots == 0)
		return NULL;
	for (pos = MaskHash(mask) & (g->nslots - 1); g->slots[pos].mask != 0;
		 pos = (pos + 1) & (g->nslots - 1))
		if (g->slots[pos].mask == mask)
			return &g->slots[pos];
	if (!add)
		return NULL;
	g->slots[pos].mask = mask;
	g->n++;
	return &g->slots[pos];
}

/* v(S): the conversion rate of the journeys whose channel set is S. */
static double
CoalitionValue(ShapleyGame *g, uint64 mask)
{
	Coalition *c = mask ? CoalitionFind(g, mask, false) : NULL;

	return c && c->journeys > 0 ? c->converting / c->journeys : 0.0;
}

/*
 * The game of the chain's journeys, journey j counted weight[j] times (NULL:
 * once).  ERROR beyond SHAPLEY_MAX_CHANNELS channels.
 */
ShapleyGame *
ShapleyGameCreate(const MarkovChain *chain, const int *weight)
{
	ShapleyGame *g = palloc0(sizeof(ShapleyGame));
	int nj = MarkovJourneyCount(chain);
	int j;

	g->cxt = CurrentMemoryContext;
	g->nchannels = MarkovChannelCount(chain);
	if (g->nchannels > SHAPLEY_MAX_CHANNELS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the shapley attribution model supports at most %d distinct channels",
						SHAPLEY_MAX_CHANNELS),
				 errdetail("The journeys have %d distinct channels.", g->nchannels),
				 errhint("Use fewer distinct channel values (campaigns and keywords do not count), "
						 "or the markov model.")));
	for (j = 0; j < nj; j++)
	{
		int n;
		bool converted;
		const int *ids = MarkovJourney(chain, j, &n, &converted);
		uint64 mask = 0;
		double w = weight ? weight[j] : 1.0;
		Coalition *c;
		int i;

		if (w == 0)
			continue;
		for (i = 0; i < n; i++)
			mask |= UINT64CONST(1) << ids[i];
		c = CoalitionFind(g, mask, true);
		c->journeys += w;
		if (converted)
			c->converting += w;
	}
	return g;
}

/*
 * Shapley values phi[0..m) of the channels channels[0..m) (distinct, in
 * ascending id order) in the game restricted to their subsets.
 */
void
ShapleyValues(ShapleyGame *g, int m, const int *channels, double *phi)
{
	int nsub = 1 << m;
	double *v = palloc(sizeof(double) * nsub);
	double *factor = palloc(sizeof(double) * m); /* |T|! (m - |T| - 1)! / m! by |T| */
	int t, i;

	if (m > SHAPLEY_MAX_PATH_CHANNELS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the shapley attribution model supports at most %d distinct channels in "
						"one path",
						SHAPLEY_MAX_PATH_CHANNELS),
				 errdetail("A path has %d distinct channels; the Shapley values are computed "
						   "exactly over all 2^%d coalitions.",
						   m, m),
				 errhint("Use a shorter lookback, fewer distinct channel values, or the markov "
						 "model.")));
	for (t = 0; t < nsub; t++)
	{
		uint64 mask = 0;

		for (i = 0; i < m; i++)
			if (t & (1 << i))
				mask |= UINT64CONST(1) << channels[i];
		v[t] = CoalitionValue(g, mask);
	}
	for (t = 0; t < m; t++)
	{
		/* t! (m - t - 1)! / m! = 1 / (m * C(m - 1, t)) */
		double binom = 1.0;
		int k;

		for (k = 1; k <= t; k++)
			binom = binom * (m - 1 - t + k) / k;
		factor[t] = 1.0 / (m * binom);
	}
	for (i = 0; i < m; i++)
	{
		double sum = 0.0;

		phi[i] = 0.0;
		for (t = 0; t < nsub; t++)
		{
			if (t & (1 << i))
				continue;
			sum += factor[__builtin_popcount(t)] * (v[t | (1 << i)] - v[t]);
		}
		phi[i] = sum;
	}
	pfree(v);
	pfree(factor);
}

/*
 * Shapley weights of one path: its distinct channels share the conversion in
 * proportion to their positive Shapley values, each channel's share split
 * equally over its touches; linear when no value is positive.  counts is
 * scratch space of one int per channel, all zero on entry and on return.
 */
void
ShapleyWeights(ShapleyGame *g, int n, const int *channel_ids, int *counts, double *w)
{
	int set[SHAPLEY_MAX_CHANNELS];
	double phi[SHAPLEY_MAX_CHANNELS] = {0};
	uint64 mask = 0;
	int m = 0;
	int i;
	double sum = 0.0;
	Coalition *c;
	MemoryContext old = MemoryContextSwitchTo(g->cxt);

	for (i = 0; i < n; i++)
	{
		if (counts[channel_ids[i]]++ == 0)
			mask |= UINT64CONST(1) << channel_ids[i];
	}
	for (i = 0; i < g->nchannels; i++)
		if (mask & (UINT64CONST(1) << i))
			set[m++] = i;

	/* the values of a channel set are computed once and kept with its coalition */
	c = CoalitionFind(g, mask, true);
	if (c->phi == NULL)
	{
		c->phi = palloc(sizeof(double) * Max(m, 1));
		ShapleyValues(g, m, set, c->phi);
	}
	for (i = 0; i < m; i++)
	{
		phi[set[i]] = c->phi[i] > 0 ? c->phi[i] : 0.0;
		sum += phi[set[i]];
	}
	for (i = 0; i < n; i++)
		w[i] = sum > 0 ? phi[channel_ids[i]] / sum / counts[channel_ids[i]] : 1.0 / n;
	for (i = 0; i < n; i++)
		counts[channel_ids[i]] = 0;
	MemoryContextSwitchTo(old);
}
