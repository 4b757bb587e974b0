/*
 * markov.c — the first-order Markov chain over attribution paths, solved exactly.
 *
 * States: 0 is "start", 1..K are the channels, and two absorbing states,
 * "conversion" and "null".  Each lead's path (its touchpoints' channels in time
 * order, repeated consecutive channels counted once) adds the transitions
 * start -> c1 -> ... -> ck -> conversion|null.  Transition probabilities are the
 * counts divided by the state's outgoing total.
 *
 * With Q the transient-to-transient probabilities and r the probabilities of
 * stepping into "conversion", the absorption probabilities x solve
 *     (I - Q) x = r,        P = x[start].
 * N = (I - Q)^-1 is the fundamental matrix: N[i][j] is the expected number of
 * visits to j starting from i, so the probability of ever visiting c from the
 * start is h_c = N[start][c] / N[c][c].  Sending every transition into c to
 * "null" loses exactly the paths that visit c, so (strong Markov property)
 *     P_c = P - h_c * x[c],     RE(c) = 1 - P_c / P = h_c * x[c] / P.
 * This is the same number as solving one linear system per removed channel
 * (a rank-one change of I - Q, Sherman-Morrison), from one factorisation.
 *
 * Edge cases:
 * - I - Q is invertible: every channel occurs in some path, every path ends in
 *   an absorbing state, so absorption is reachable from every transient state
 *   (no closed class of channels) and the spectral radius of Q is below 1.
 * - Cycles between channels (A -> B -> A) are fine: the linear system accounts
 *   for every number of round trips exactly, where a simulation would have to
 *   cut them off.  Self-loops do not occur: consecutive repeats are merged.
 * - P = 0 (no converting path): every removal effect is defined as 0, and the
 *   attribution then splits each conversion linearly (doc/attribution.md).
 * - RE(c) lies in [0, 1]; rounding noise outside that range is clamped.
 * - The system is dense, (K + 1)^2 doubles, solved by Gaussian elimination with
 *   partial pivoting: K is limited to MARKOV_MAX_CHANNELS.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"

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
	int capacity; /* channels the arrays below can hold */
	char **names;
	int *name_len;
	ChannelEntry *slots; /* open addressing, slot_count a power of 2 */
	int slot_count;

	/*
	 * Transition counts between transient states, (capacity + 1)^2 doubles
	 * row-major, state 0 = start; counts into the absorbing states.
	 */
	double *trans;
	double *to_conversion;
	double *to_null;

	/* paths, and paths through each channel (all and converting) */
	int64 paths;
	int64 converting_paths;
	int64 *channel_paths;
	int64 *channel_converting_paths;
	int64 *seen_in_path; /* path number that last saw the channel */
};

#define STATES(cap) ((Size) (cap) + 1)

/* A chain with no channel and no path; it lives and grows in the current memory context. */
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
	chain->trans = palloc0(sizeof(double) * STATES(chain->capacity) * STATES(chain->capacity));
	chain->to_conversion = palloc0(sizeof(double) * STATES(chain->capacity));
	chain->to_null = palloc0(sizeof(double) * STATES(chain->capacity));
	chain->channel_paths = palloc0(sizeof(int64) * chain->capacity);
	chain->channel_converting_paths = palloc0(sizeof(int64) * chain->capacity);
	chain->seen_in_path = palloc0(sizeof(int64) * chain->capacity);
	return chain;
}

/* Double the channel capacity, keeping every count in place. */
static void
GrowChannels(MarkovChain *chain)
{
	int oldcap = chain->capacity;
	int newcap = oldcap * 2;
	double *trans = palloc0(sizeof(double) * STATES(newcap) * STATES(newcap));
	Size row;

	for (row = 0; row < STATES(oldcap); row++)
		memcpy(trans + row * STATES(newcap), chain->trans + row * STATES(oldcap),
			   sizeof(double) * STATES(oldcap));
	pfree(chain->trans);
	chain->trans = trans;
	chain->names = repalloc(chain->names, sizeof(char *) * newcap);
	chain->name_len = repalloc(chain->name_len, sizeof(int) * newcap);
	chain->to_conversion = repalloc(chain->to_conversion, sizeof(double) * STATES(newcap));
	chain->to_null = repalloc(chain->to_null, sizeof(double) * STATES(newcap));
	chain->channel_paths = repalloc(chain->channel_paths, sizeof(int64) * newcap);
	chain->channel_converting_paths =
		repalloc(chain->channel_converting_paths, sizeof(int64) * newcap);
	chain->seen_in_path = repalloc(chain->seen_in_path, sizeof(int64) * newcap);
	memset(chain->to_conversion + STATES(oldcap), 0, sizeof(double) * (newcap - oldcap));
	memset(chain->to_null + STATES(oldcap), 0, sizeof(double) * (newcap - oldcap));
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

/* Number of the channel named by the bytes name[0..len), added when new. */
int
MarkovChannelId(MarkovChain *chain, const char *name, int len)
{
	uint32 hash = hash_bytes((const unsigned char *) name, len);
	int pos;
	int id;
	MemoryContext old;

	for (pos = hash & (chain->slot_count - 1); chain->slots[pos].id >= 0;
		 pos = (pos + 1) & (chain->slot_count - 1))
	{
		ChannelEntry *e = &chain->slots[pos];

		if (e->hash == hash && chain->name_len[e->id] == len &&
			memcmp(chain->names[e->id], name, len) == 0)
			return e->id;
	}

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

/* Count one lead's path; repeated consecutive channels count once. */
void
MarkovAddPath(MarkovChain *chain, const int *channel_ids, int n, bool converted)
{
	Size stride = STATES(chain->capacity);
	int from = 0; /* start */
	int i;

	if (n <= 0)
		return;
	chain->paths++;
	if (converted)
		chain->converting_paths++;
	for (i = 0; i < n; i++)
	{
		int c = channel_ids[i];
		int to = c + 1;

		Assert(c >= 0 && c < chain->nchannels);
		if (to == from)
			continue;
		chain->trans[from * stride + to] += 1.0;
		from = to;
		if (chain->seen_in_path[c] != chain->paths)
		{
			chain->seen_in_path[c] = chain->paths;
			chain->channel_paths[c]++;
			if (converted)
				chain->channel_converting_paths[c]++;
		}
	}
	if (converted)
		chain->to_conversion[from] += 1.0;
	else
		chain->to_null[from] += 1.0;
}

int64
MarkovPathCount(const MarkovChain *chain, bool converted)
{
	return converted ? chain->converting_paths : chain->paths;
}

int64
MarkovChannelPaths(const MarkovChain *chain, int id, bool converted)
{
	Assert(id >= 0 && id < chain->nchannels);
	return converted ? chain->channel_converting_paths[id] : chain->channel_paths[id];
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

/* Solve the chain: P and every channel's removal effect (see the header comment). */
void
MarkovRemovalEffects(const MarkovChain *chain, double *p_conversion, double *removal_effect)
{
	int k = chain->nchannels;
	int s = k + 1;
	Size stride = STATES(chain->capacity);
	double *a;
	double *r;
	double *x;
	double *e;
	double *col;
	double *row_start; /* N[start][c] */
	double *diag;	   /* N[c][c] */
	int *perm;
	int i, j;
	double p;

	for (i = 0; i < k; i++)
		removal_effect[i] = 0.0;
	*p_conversion = 0.0;
	if (chain->converting_paths == 0 || k == 0)
		return;

	a = palloc(sizeof(double) * s * s);
	r = palloc(sizeof(double) * s);
	x = palloc(sizeof(double) * s);
	e = palloc(sizeof(double) * s);
	col = palloc(sizeof(double) * s);
	row_start = palloc(sizeof(double) * s);
	diag = palloc(sizeof(double) * s);
	perm = palloc(sizeof(int) * s);

	/* A = I - Q, r = probabilities of stepping into conversion */
	for (i = 0; i < s; i++)
	{
		double total = chain->to_conversion[i] + chain->to_null[i];

		for (j = 0; j < s; j++)
			total += chain->trans[i * stride + j];
		for (j = 0; j < s; j++)
			a[(Size) i * s + j] =
				(i == j ? 1.0 : 0.0) - (total > 0 ? chain->trans[i * stride + j] / total : 0.0);
		r[i] = total > 0 ? chain->to_conversion[i] / total : 0.0;
	}

	LuFactor(a, s, perm);
	LuSolve(a, s, perm, r, x);
	p = x[0];

	/* columns of N = A^-1, keeping row "start" and the diagonal */
	for (j = 0; j < s; j++)
	{
		memset(e, 0, sizeof(double) * s);
		e[j] = 1.0;
		LuSolve(a, s, perm, e, col);
		row_start[j] = col[0];
		diag[j] = col[j];
	}

	if (p > 0)
	{
		for (i = 0; i < k; i++)
		{
			int c = i + 1;
			double hit = diag[c] > 0 ? row_start[c] / diag[c] : 0.0;
			double re = hit * x[c] / p;

			removal_effect[i] = re < 0 ? 0.0 : (re > 1 ? 1.0 : re);
		}
	}
	*p_conversion = p < 0 ? 0.0 : (p > 1 ? 1.0 : p);

	pfree(a);
	pfree(r);
	pfree(x);
	pfree(e);
	pfree(col);
	pfree(row_start);
	pfree(diag);
	pfree(perm);
}
