/*
 * markov.c — Markov chains of order 1 to 4 over attribution journeys, solved
 * exactly (doc/attribution.md, "The Markov model").
 *
 * The chain keeps the journeys themselves (one per lead: channel ids in time
 * order, repeated consecutive channels collapsed, and whether it converted);
 * MarkovSolve builds the chain of the order asked for from them, each journey
 * counted with a weight (1, or its multiplicity in a bootstrap sample).
 *
 * States of order k (ChannelAttribution's definition): a journey c1 .. cn
 * visits its sliding windows of k channels, (c1..ck), (c2..ck+1), ...,
 * (cn-k+1..cn); a journey shorter than k is one state, itself.  State 0 is
 * "start"; "conversion" and "null" absorb.  Every journey adds the
 * transitions start -> w1 -> ... -> wm -> conversion|null; a transition's
 * probability is its count divided by the state's outgoing total.
 *
 * With Q the transient-to-transient probabilities and r those into
 * "conversion", the absorption probabilities x solve (I - Q) x = r, and
 * P = x[start].  N = (I - Q)^-1 is the fundamental matrix (N[i][j]: expected
 * visits to j from i).
 *
 * Removing an item (a channel, or a sequence of consecutive channels) sends
 * every state whose window holds it to null; C is that set of states.  By
 * the first entrance into C (strong Markov property), with H[s][j] the
 * probability that the first state of C entered from s is j:
 *     x[s] = P_C(s) + sum_j H[s][j] x[j],   N[s][C] = H[s][C] N[C][C],
 * so  P_C = P - N[start][C] N[C][C]^-1 x[C]  and  RE = 1 - P_C / P.
 * For order 1 and a single channel c this is P - N[start][c] / N[c][c] x[c].
 * One factorisation of I - Q serves every item; the columns of N are solved
 * as the items need them (at most one solve per state).
 *
 * Edge cases:
 * - I - Q is invertible: every state lies on some journey, every journey ends
 *   in an absorbing state, so absorption is reachable from every transient
 *   state and the spectral radius of Q is below 1.
 * - Cycles (A -> B -> A) count with every number of round trips: the linear
 *   system is exact where a simulation would cut them off.
 * - P = 0 (no converting journey): every removal effect is defined as 0.
 * - RE lies in [0, 1]; rounding noise outside that range is clamped.
 * - The system is dense, (S + 1)^2 doubles, solved by Gaussian elimination
 *   with partial pivoting: S, the number of states, is limited
 *   (MARKOV_MAX_CHANNELS channels for order 1, MARKOV_MAX_STATES windows
 *   above).
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "miscadmin.h"

#include "markov.h"

typedef struct ChannelEntry
{
	uint32 hash;
	int id; /* -1 = empty slot */
} ChannelEntry;

struct MarkovChain
{
	MemoryContext cxt; /* where the chain grows */

	/* channel names, interned: names[id] points to len[id] bytes */
	int nchannels;
	int capacity;
	char **names;
	int *name_len;
	ChannelEntry *slots; /* open addressing, slot_count a power of 2 */
	int slot_count;

	/* journeys: ids[start[j] .. start[j + 1]), converted[j] */
	int njourneys;
	int journey_cap;
	int *start;
	bool *converted;
	int *ids;
	int nids;
	int ids_cap;

	/* journeys, and journeys through each channel (all and converting) */
	int64 converting_paths;
	int64 *channel_paths;
	int64 *channel_converting_paths;
	int64 *seen_in_path; /* journey number + 1 that last saw the channel */
};

/* A chain with no channel and no journey; it lives and grows in the current memory context. */
MarkovChain *
MarkovChainCreate(void)
{
	MarkovChain *chain = palloc0(sizeof(MarkovChain));
	int i;

	chain->cxt = CurrentMemoryContext;
	chain->capacity = 8;
	chain->names = palloc0(sizeof(char *) * chain->capacity);
	chain->name_len = palloc0(sizeof(int) * chain->capacity);
	chain->slot_count = 32;
	chain->slots = palloc(sizeof(ChannelEntry) * chain->slot_count);
	for (i = 0; i < chain->slot_count; i++)
		chain->slots[i].id = -1;
	chain->channel_paths = palloc0(sizeof(int64) * chain->capacity);
	chain->channel_converting_paths = palloc0(sizeof(int64) * chain->capacity);
	chain->seen_in_path = palloc0(sizeof(int64) * chain->capacity);
	chain->journey_cap = 1024;
	chain->start = palloc(sizeof(int) * (chain->journey_cap + 1));
	chain->start[0] = 0;
	chain->converted = palloc(sizeof(bool) * chain->journey_cap);
	chain->ids_cap = 4096;
	chain->ids = palloc(sizeof(int) * chain->ids_cap);
	return chain;
}

/* Double the channel capacity. */
static void
GrowChannels(MarkovChain *chain)
{
	int oldcap = chain->capacity;
	int newcap = oldcap * 2;

	chain->names = repalloc(chain->names, sizeof(char *) * newcap);
	chain->name_len = repalloc(chain->name_len, sizeof(int) * newcap);
	chain->channel_paths = repalloc(chain->channel_paths, sizeof(int64) * newcap);
	chain->channel_converting_paths =
		repalloc(chain->channel_converting_paths, sizeof(int64) * newcap);
	chain->seen_in_path = repalloc(chain->seen_in_path, sizeof(int64) * newcap);
	memset(chain->channel_paths + oldcap, 0, sizeof(int64) * (newcap - oldcap));
	memset(chain->channel_converting_paths + oldcap, 0, sizeof(int64) * (newcap - oldcap));
	memset(chain->seen_in_path + oldcap, 0, sizeof(int64) * (newcap - oldcap));
	chain->capacity = newcap;
}

/* Double the hash table of channel names. */
static void
GrowSlots(MarkovChain *chain)
{
	int count = chain->slot_count * 2;
	ChannelEntry *slots = palloc(sizeof(ChannelEntry) * count);
	int i;

	for (i = 0; i < count; i++)
		slots[i].id = -1;
	for (i = 0; i < chain->slot_count; i++)
	{
		ChannelEntry *e = &chain->slots[i];
		int pos;

		if (e->id < 0)
			continue;
		for (pos = e->hash & (count - 1); slots[pos].id >= 0; pos = (pos + 1) & (count - 1))
			;
		slots[pos] = *e;
	}
	pfree(chain->slots);
	chain->slots = slots;
	chain->slot_count = count;
}

/* Slot of the channel named name[0..len), or of the empty slot where it would go. */
static int
ChannelSlot(const MarkovChain *chain, const char *name, int len, uint32 hash)
{
	int pos;

	for (pos = hash & (chain->slot_count - 1); chain->slots[pos].id >= 0;
		 pos = (pos + 1) & (chain->slot_count - 1))
	{
		const ChannelEntry *e = &chain->slots[pos];

		if (e->hash == hash && chain->name_len[e->id] == len &&
			memcmp(chain->names[e->id], name, len) == 0)
			break;
	}
	return pos;
}

/* Number of the channel, or -1. */
int
MarkovChannelLookUp(const MarkovChain *chain, const char *name, int len)
{
	uint32 hash = hash_bytes((const unsigned char *) name, len);

	return chain->slots[ChannelSlot(chain, name, len, hash)].id;
}

/* Number of the channel named by the bytes name[0..len), added when new. */
int
MarkovChannelId(MarkovChain *chain, const char *name, int len)
{
	uint32 hash = hash_bytes((const unsigned char *) name, len);
	int pos = ChannelSlot(chain, name, len, hash);
	int id;
	MemoryContext old;

	if (chain->slots[pos].id >= 0)
		return chain->slots[pos].id;
	if (chain->nchannels >= MARKOV_MAX_CHANNELS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the markov attribution model supports at most %d distinct channels",
						MARKOV_MAX_CHANNELS),
				 errdetail("The removal effects are computed exactly from a dense linear system."),
				 errhint("Use fewer distinct channel values (campaigns and keywords do not count), "
						 "or another attribution model.")));
	old = MemoryContextSwitchTo(chain->cxt);
	if (chain->nchannels == chain->capacity)
		GrowChannels(chain);
	id = chain->nchannels++;
	chain->names[id] = palloc(len + 1);
	memcpy(chain->names[id], name, len);
	chain->names[id][len] = '\0';
	chain->name_len[id] = len;
	chain->slots[pos].hash = hash;
	chain->slots[pos].id = id;
	if (chain->nchannels * 2 > chain->slot_count)
		GrowSlots(chain);
	MemoryContextSwitchTo(old);
	return id;
}

int
MarkovChannelCount(const MarkovChain *chain)
{
	return chain->nchannels;
}

const char *
MarkovChannelName(const MarkovChain *chain, int id, int *len)
{
	Assert(id >= 0 && id < chain->nchannels);
	*len = chain->name_len[id];
	return chain->names[id];
}

/* Keep one lead's journey, repeated consecutive channels collapsed. */
int
MarkovAddPath(MarkovChain *chain, const int *channel_ids, int n, bool converted)
{
	MemoryContext old;
	int j;
	int i;

	if (n <= 0)
		return -1;
	old = MemoryContextSwitchTo(chain->cxt);
	if (chain->njourneys == chain->journey_cap)
	{
		chain->journey_cap *= 2;
		chain->start = repalloc_huge(chain->start, sizeof(int) * (chain->journey_cap + 1));
		chain->converted = repalloc_huge(chain->converted, sizeof(bool) * chain->journey_cap);
	}
	if (chain->nids + n > chain->ids_cap)
	{
		while (chain->nids + n > chain->ids_cap)
			chain->ids_cap *= 2;
		chain->ids = repalloc_huge(chain->ids, sizeof(int) * chain->ids_cap);
	}
	MemoryContextSwitchTo(old);
	j = chain->njourneys++;
	for (i = 0; i < n; i++)
	{
		int c = channel_ids[i];

		Assert(c >= 0 && c < chain->nchannels);
		if (i > 0 && c == channel_ids[i - 1])
			continue;
		chain->ids[chain->nids++] = c;
		if (chain->seen_in_path[c] != j + 1)
		{
			chain->seen_in_path[c] = j + 1;
			chain->channel_paths[c]++;
			if (converted)
				chain->channel_converting_paths[c]++;
		}
	}
	chain->start[j + 1] = chain->nids;
	chain->converted[j] = converted;
	if (converted)
		chain->converting_paths++;
	return j;
}

int
MarkovJourneyCount(const MarkovChain *chain)
{
	return chain->njourneys;
}

const int *
MarkovJourney(const MarkovChain *chain, int j, int *n, bool *converted)
{
	Assert(j >= 0 && j < chain->njourneys);
	*n = chain->start[j + 1] - chain->start[j];
	*converted = chain->converted[j];
	return chain->ids + chain->start[j];
}

int64
MarkovPathCount(const MarkovChain *chain, bool converted)
{
	return converted ? chain->converting_paths : chain->njourneys;
}

/* Whether ids[0..n) holds the item's channels consecutively. */
static bool
HoldsItem(const int *ids, int n, const MarkovItem *item)
{
	int i, k;

	for (i = 0; i + item->len <= n; i++)
	{
		for (k = 0; k < item->len && ids[i + k] == item->ids[k]; k++)
			;
		if (k == item->len)
			return true;
	}
	return false;
}

int64
MarkovItemPaths(const MarkovChain *chain, const MarkovItem *item, bool converted)
{
	int64 count = 0;
	int j;

	if (item->len == 1 && item->ids[0] >= 0)
		return converted ? chain->channel_converting_paths[item->ids[0]]
						 : chain->channel_paths[item->ids[0]];
	for (j = 0; j < chain->njourneys; j++)
		if ((!converted || chain->converted[j]) &&
			HoldsItem(chain->ids + chain->start[j], chain->start[j + 1] - chain->start[j], item))
			count++;
	return count;
}

/*
 * LU factorisation with partial pivoting of the s x s matrix a (row-major), in
 * place; perm[i] is the original row now at row i.
 */
static void
LuFactor(double *a, int s, int *perm)
{
	int i, j, k;

	for (i = 0; i < s; i++)
		perm[i] = i;
	for (k = 0; k < s; k++)
	{
		int pivot = k;
		double best = fabs(a[(Size) k * s + k]);

		CHECK_FOR_INTERRUPTS();

		for (i = k + 1; i < s; i++)
		{
			double v = fabs(a[(Size) i * s + k]);

			if (v > best)
			{
				best = v;
				pivot = i;
			}
		}
		/* I - Q is nonsingular (see the header comment); guard anyway */
		if (best == 0.0)
			elog(ERROR, "markov chain matrix is singular at column %d", k);
		if (pivot != k)
		{
			int t = perm[k];

			perm[k] = perm[pivot];
			perm[pivot] = t;
			for (j = 0; j < s; j++)
			{
				double v = a[(Size) k * s + j];

				a[(Size) k * s + j] = a[(Size) pivot * s + j];
				a[(Size) pivot * s + j] = v;
			}
		}
		for (i = k + 1; i < s; i++)
		{
			double f = a[(Size) i * s + k] / a[(Size) k * s + k];
			double *ri = a + (Size) i * s;
			const double *rk = a + (Size) k * s;

			if (f == 0.0)
				continue;
			ri[k] = f;
			for (j = k + 1; j < s; j++)
				ri[j] -= f * rk[j];
		}
	}
}

/* Solve A x = b with the factors of LuFactor; b is overwritten by x. */
static void
LuSolve(const double *lu, int s, const int *perm, const double *b, double *x)
{
	int i, j;

	for (i = 0; i < s; i++)
	{
		double v = b[perm[i]];

		for (j = 0; j < i; j++)
			v -= lu[(Size) i * s + j] * x[j];
		x[i] = v;
	}
	for (i = s - 1; i >= 0; i--)
	{
		double v = x[i];

		for (j = i + 1; j < s; j++)
			v -= lu[(Size) i * s + j] * x[j];
		x[i] = v / lu[(Size) i * s + i];
	}
}

/* A state: a window of up to MARKOV_MAX_ORDER channels. */
typedef struct StateKey
{
	int len;
	int ids[MARKOV_MAX_ORDER];
} StateKey;

/* The states of a chain: keys by number (1..n; 0 is start) and an open-addressing table. */
typedef struct StateTable
{
	int n;
	int cap;
	StateKey *keys; /* keys[s - 1] for state s */
	uint32 *hashes;
	int *slots; /* state number, 0 = empty */
	int nslots;
	int limit;
} StateTable;

static uint32
StateHash(const int *ids, int len)
{
	return hash_bytes((const unsigned char *) ids, sizeof(int) * len) ^ (uint32) len;
}

/* Rebuild the slots at twice the size. */
static void
StateTableGrow(StateTable *t)
{
	int nslots = t->nslots ? t->nslots * 2 : 256;
	int s;

	t->slots = t->slots ? repalloc(t->slots, sizeof(int) * nslots) : palloc(sizeof(int) * nslots);
	memset(t->slots, 0, sizeof(int) * nslots);
	t->nslots = nslots;
	for (s = 1; s <= t->n; s++)
	{
		int pos;

		for (pos = t->hashes[s - 1] & (nslots - 1); t->slots[pos] != 0;
			 pos = (pos + 1) & (nslots - 1))
			;
		t->slots[pos] = s;
	}
}

/* Number of the state ids[0..len), added when new; ERROR beyond the limit. */
static int
StateId(StateTable *t, const int *ids, int len)
{
	uint32 h = StateHash(ids, len);
	int pos;
	int s;

	if (t->nslots == 0 || (t->n + 1) * 2 > t->nslots)
		StateTableGrow(t);
	for (pos = h & (t->nslots - 1); t->slots[pos] != 0; pos = (pos + 1) & (t->nslots - 1))
	{
		const StateKey *k = &t->keys[t->slots[pos] - 1];

		if (t->hashes[t->slots[pos] - 1] == h && k->len == len &&
			memcmp(k->ids, ids, sizeof(int) * len) == 0)
			return t->slots[pos];
	}
	if (t->n >= t->limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the markov chain has more than %d states", t->limit),
				 errdetail("A chain of order k has one state per distinct window of k consecutive "
						   "channels; the removal effects are computed exactly from a dense "
						   "linear system."),
				 errhint("Use a lower markov_order or fewer distinct channel values.")));
	if (t->n == t->cap)
	{
		t->cap = t->cap ? t->cap * 2 : 64;
		t->keys = t->keys ? repalloc(t->keys, sizeof(StateKey) * t->cap)
						  : palloc(sizeof(StateKey) * t->cap);
		t->hashes = t->hashes ? repalloc(t->hashes, sizeof(uint32) * t->cap)
							  : palloc(sizeof(uint32) * t->cap);
	}
	s = ++t->n;
	t->keys[s - 1].len = len;
	memcpy(t->keys[s - 1].ids, ids, sizeof(int) * len);
	t->hashes[s - 1] = h;
	t->slots[pos] = s;
	return s;
}

/* The state numbers a journey visits, in order; returns how many. */
static int
JourneyStates(StateTable *t, const int *ids, int n, int order, int *states)
{
	int m;
	int i;

	if (n <= order)
	{
		states[0] = StateId(t, ids, n);
		return 1;
	}
	m = n - order + 1;
	for (i = 0; i < m; i++)
		states[i] = StateId(t, ids + i, order);
	return m;
}

/* Solve the chain of the given order: P and each item's removal effect (see the header comment). */
void
MarkovSolve(const MarkovChain *chain, int order, const int *weight, int nitems,
			const MarkovItem *items, double *p_conversion, double *removal_effect)
{
	StateTable states;
	int *visits;
	int s;
	Size stride;
	double *counts;
	double *to_conversion;
	double *to_null;
	double *a;
	double *r;
	double *x;
	double *e;
	double **ncol; /* columns of N, solved when needed */
	int *perm;
	int *member;
	double *m;
	double *w;
	int *mperm;
	int i, j, q;
	double p;
	bool any_conversion = false;

	Assert(order >= 1 && order <= MARKOV_MAX_ORDER);
	for (i = 0; i < nitems; i++)
		removal_effect[i] = 0.0;
	*p_conversion = 0.0;

	/* the states: windows of `order` channels */
	memset(&states, 0, sizeof(states));
	states.limit = order == 1 ? MARKOV_MAX_CHANNELS : MARKOV_MAX_STATES;
	visits = palloc(sizeof(int) * 64);
	{
		int cap = 64;

		for (j = 0; j < chain->njourneys; j++)
		{
			int n = chain->start[j + 1] - chain->start[j];

			if (weight && weight[j] == 0)
				continue;
			if (n > cap)
			{
				while (n > cap)
					cap *= 2;
				visits = repalloc(visits, sizeof(int) * cap);
			}
			(void) JourneyStates(&states, chain->ids + chain->start[j], n, order, visits);
			if (chain->converted[j])
				any_conversion = true;
		}
	}
	if (!any_conversion || states.n == 0)
		return;

	/* transition counts; state 0 is start */
	s = states.n + 1;
	stride = (Size) s;
	counts = palloc0(sizeof(double) * stride * stride);
	to_conversion = palloc0(sizeof(double) * s);
	to_null = palloc0(sizeof(double) * s);
	for (j = 0; j < chain->njourneys; j++)
	{
		int n = chain->start[j + 1] - chain->start[j];
		double wj = weight ? weight[j] : 1.0;
		int from = 0;
		int nv;

		if (wj == 0)
			continue;
		nv = JourneyStates(&states, chain->ids + chain->start[j], n, order, visits);
		for (i = 0; i < nv; i++)
		{
			counts[from * stride + visits[i]] += wj;
			from = visits[i];
		}
		if (chain->converted[j])
			to_conversion[from] += wj;
		else
			to_null[from] += wj;
	}

	/* A = I - Q, r = probabilities of stepping into conversion */
	a = palloc(sizeof(double) * stride * stride);
	r = palloc(sizeof(double) * s);
	for (i = 0; i < s; i++)
	{
		double total = to_conversion[i] + to_null[i];

		for (j = 0; j < s; j++)
			total += counts[i * stride + j];
		for (j = 0; j < s; j++)
			a[i * stride + j] =
				(i == j ? 1.0 : 0.0) - (total > 0 ? counts[i * stride + j] / total : 0.0);
		r[i] = total > 0 ? to_conversion[i] / total : 0.0;
	}
	pfree(counts);

	perm = palloc(sizeof(int) * s);
	x = palloc(sizeof(double) * s);
	e = palloc0(sizeof(double) * s);
	LuFactor(a, s, perm);
	LuSolve(a, s, perm, r, x);
	p = x[0];
	*p_conversion = p < 0 ? 0.0 : (p > 1 ? 1.0 : p);
	if (p <= 0)
		return;

	/* each item: the states that hold it, then P_C from N[C][C] */
	ncol = palloc0(sizeof(double *) * s);
	member = palloc(sizeof(int) * s);
	w = palloc(sizeof(double) * s);
	mperm = palloc(sizeof(int) * s);
	for (q = 0; q < nitems; q++)
	{
		const MarkovItem *item = &items[q];
		int nc = 0;
		double lost = 0.0;
		double re;

		if (item->len < 1 || item->len > order)
			continue;
		for (i = 1; i < s; i++)
			if (HoldsItem(states.keys[i - 1].ids, states.keys[i - 1].len, item))
				member[nc++] = i;
		if (nc == 0)
			continue;
		for (i = 0; i < nc; i++)
		{
			int c = member[i];

			if (ncol[c] == NULL)
			{
				CHECK_FOR_INTERRUPTS();
				ncol[c] = palloc(sizeof(double) * s);
				e[c] = 1.0;
				LuSolve(a, s, perm, e, ncol[c]);
				e[c] = 0.0;
			}
		}
		/*
		 * M = N[C][C] (row i, column k = N[member i][member k] = ncol[member k][member i]): nc x
		 * nc, more than the s doubles of a column once a channel is held by more than sqrt(s)
		 * states
		 */
		m = palloc(sizeof(double) * nc * nc);
		for (i = 0; i < nc; i++)
			for (j = 0; j < nc; j++)
				m[(Size) i * nc + j] = ncol[member[j]][member[i]];
		if (nc == 1)
			w[0] = x[member[0]] / m[0];
		else
		{
			double *xc = palloc(sizeof(double) * nc);

			for (i = 0; i < nc; i++)
				xc[i] = x[member[i]];
			LuFactor(m, nc, mperm);
			LuSolve(m, nc, mperm, xc, w);
			pfree(xc);
		}
		pfree(m);
		for (i = 0; i < nc; i++)
			lost += ncol[member[i]][0] * w[i];
		re = lost / p;
		removal_effect[q] = re < 0 ? 0.0 : (re > 1 ? 1.0 : re);
	}
}

/* MarkovSolve with one item per channel. */
void
MarkovRemovalEffects(const MarkovChain *chain, int order, const int *weight, double *p_conversion,
					 double *removal_effect)
{
	int k = chain->nchannels;
	MarkovItem *items = palloc(sizeof(MarkovItem) * Max(k, 1));
	int c;

	for (c = 0; c < k; c++)
	{
		items[c].len = 1;
		items[c].ids[0] = c;
	}
	MarkovSolve(chain, order, weight, k, items, p_conversion, removal_effect);
	pfree(items);
}
