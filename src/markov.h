/*
 * markov.h — Markov chains of order 1 to 4 over attribution journeys, and the
 * exact removal effect of channels and channel sequences (doc/attribution.md,
 * "The Markov model").
 */
#ifndef MARKOV_H
#define MARKOV_H

#include "postgres.h"

/* Channels the exact solve accepts (the linear system is dense). */
#define MARKOV_MAX_CHANNELS 1000
/* Highest order of chain. */
#define MARKOV_MAX_ORDER 4
/* Transient states (windows of channels) of a chain of order 2 or more. */
#define MARKOV_MAX_STATES 1000

typedef struct MarkovChain MarkovChain;

/*
 * A channel, or a sequence of up to MARKOV_MAX_ORDER consecutive channels,
 * whose removal effect is wanted.
 */
typedef struct MarkovItem
{
	int len;
	int ids[MARKOV_MAX_ORDER];
} MarkovItem;

/* A chain with no channel and no journey, allocated in the current memory context. */
extern MarkovChain *MarkovChainCreate(void);

/* Number of the channel named by the bytes name[0..len), added when new. */
extern int MarkovChannelId(MarkovChain *chain, const char *name, int len);
/* Number of the channel, or -1 when no journey has it. */
extern int MarkovChannelLookUp(const MarkovChain *chain, const char *name, int len);
extern int MarkovChannelCount(const MarkovChain *chain);
extern const char *MarkovChannelName(const MarkovChain *chain, int id, int *len);

/*
 * Keep one lead's journey: channel ids in time order (repeated consecutive
 * channels are collapsed), ending in conversion or not.  Returns the
 * journey's number, or -1 for an empty path (ignored).
 */
extern int MarkovAddPath(MarkovChain *chain, const int *channel_ids, int n, bool converted);

/* Journeys kept, and a journey's channels (collapsed) and outcome. */
extern int MarkovJourneyCount(const MarkovChain *chain);
extern const int *MarkovJourney(const MarkovChain *chain, int j, int *n, bool *converted);

/* Journeys, and journeys that hold the item's channels consecutively (converting ones when
 * converted). */
extern int64 MarkovPathCount(const MarkovChain *chain, bool converted);
extern int64 MarkovItemPaths(const MarkovChain *chain, const MarkovItem *item, bool converted);

/*
 * Solve the chain of the given order over the kept journeys, journey j counted
 * weight[j] times (NULL: once each): *p_conversion receives P, the probability
 * of reaching the conversion from the start, and removal_effect[i] the removal
 * effect of items[i], 1 - P_i / P, where P_i is P once every state holding the
 * item goes to null.  Every removal effect is 0 when P is 0.  ERROR when the
 * chain has more states than MARKOV_MAX_STATES.
 */
extern void MarkovSolve(const MarkovChain *chain, int order, const int *weight, int nitems,
						const MarkovItem *items, double *p_conversion, double *removal_effect);

/* MarkovSolve with one item per channel (removal_effect[c] for channel c). */
extern void MarkovRemovalEffects(const MarkovChain *chain, int order, const int *weight,
								 double *p_conversion, double *removal_effect);

#endif /* MARKOV_H */
