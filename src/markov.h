/*
 * markov.h — the first-order Markov chain of attribution paths and the exact
 * removal effect of each channel.
 */
#ifndef MARKOV_H
#define MARKOV_H

#include "postgres.h"

/* Channels the exact solve accepts (the linear system is dense). */
#define MARKOV_MAX_CHANNELS 1000

typedef struct MarkovChain MarkovChain;

/* A chain with no channel and no path, allocated in the current memory context. */
extern MarkovChain *MarkovChainCreate(void);

/* Number of the channel named by the bytes name[0..len), added when new. */
extern int MarkovChannelId(MarkovChain *chain, const char *name, int len);
extern int MarkovChannelCount(const MarkovChain *chain);
extern const char *MarkovChannelName(const MarkovChain *chain, int id, int *len);

/*
 * Count one lead's path: channel ids in time order (repeats allowed, repeated
 * consecutive channels count once), ending in conversion or not.  An empty path
 * is ignored.
 */
extern void MarkovAddPath(MarkovChain *chain, const int *channel_ids, int n, bool converted);

/* Paths counted so far, and paths through a channel (converting ones when converted). */
extern int64 MarkovPathCount(const MarkovChain *chain, bool converted);
extern int64 MarkovChannelPaths(const MarkovChain *chain, int id, bool converted);

/*
 * Solve the chain: *p_conversion receives P, the probability of reaching the
 * conversion from the start state, and removal_effect[c] (one per channel)
 * RE(c) = 1 - P_c / P, where P_c is P once every transition into c goes to
 * null.  All removal effects are 0 when P is 0.
 */
extern void MarkovRemovalEffects(const MarkovChain *chain, double *p_conversion,
								 double *removal_effect);

#endif /* MARKOV_H */
