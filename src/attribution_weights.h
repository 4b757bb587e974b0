/*
 * attribution_weights.h — multi-touch attribution: the models, the conversion kinds,
 * and the weight math over one conversion's path of touchpoints.
 *
 * The weight functions are pure: arrays in, weights out, no catalog access,
 * so that the SQL-callable attribution_weights() and the per-lead loop of
 * attribution_rows() share them and the tests can check them by hand.
 */
#ifndef ATTRIBUTION_WEIGHTS_H
#define ATTRIBUTION_WEIGHTS_H

#include "postgres.h"

#include "datatype/timestamp.h"

typedef enum AttributionModel
{
	AM_FIRST_TOUCH,
	AM_LAST_TOUCH,
	AM_LINEAR,
	AM_TIME_DECAY,
	AM_POSITION_BASED,
	AM_W_SHAPED,
	AM_FULL_PATH,
	AM_MARKOV,
	AM_SHAPLEY,
	AM_COUNT
} AttributionModel;

typedef enum ConversionKind
{
	CK_DEAL,
	CK_LEAD,
	CK_MQL,
	CK_SAL,
	CK_SQL,
	CK_OPPORTUNITY,
	CK_CUSTOMER,
	CK_COUNT
} ConversionKind;

/*
 * One conversion's touchpoints, in time order (ties already broken), all at or
 * before the conversion and inside the lookback window.
 */
typedef struct TouchPath
{
	int n;					  /* number of touches, >= 1 */
	const TimestampTz *times; /* touch times, ascending */
	TimestampTz converted_at; /* the conversion time T */
	int created_index;		  /* lead-creation touch, 0-based */
	int opportunity_index;	  /* opportunity-creation touch, 0-based */
} TouchPath;

/* Names as written in SQL; error hints list them. */
extern const char *AttributionModelName(AttributionModel model);
extern const char *ConversionKindName(ConversionKind kind);
/* Parse a model or conversion name (case-insensitive); ERROR listing the valid names. */
extern AttributionModel AttributionModelParse(const char *name);
extern ConversionKind ConversionKindParse(const char *name);
/* "a, b, c" for an error hint; the index of a name in names[] (case and white space aside), or -1.
 */
extern char *NameList(const char *const *names, int count);
extern int LookUpName(const char *name, const char *const *names, int count);

/*
 * Index of the last touch at or before `at`; 0 (the first touch) when no touch
 * is that early.  Milestone touches are found with it.
 */
extern int LastTouchAtOrBefore(const TimestampTz *times, int n, TimestampTz at);

/*
 * Weights of a rule-based model (every model but markov) for one path.
 * half_life_usecs matters for time_decay only (0 = all weight on the latest
 * touches).  weights[] receives n values summing to 1.
 */
extern void RuleBasedWeights(AttributionModel model, const TouchPath *path, double half_life_usecs,
							 double *weights);

/*
 * Markov weights for one path: each distinct channel of the path gets a share
 * of the conversion proportional to its removal effect, split equally over its
 * touches; linear when every channel of the path has removal effect 0.
 * channel_ids[i] indexes removal_effect[]; counts is scratch space of
 * nchannels ints, all zero on entry and on return.
 */
extern void MarkovWeights(int n, const int *channel_ids, const double *removal_effect, int *counts,
						  double *weights);

/* Microseconds in an interval, months counted as extract(epoch) counts them. */
extern double IntervalMicroseconds(const Interval *span);

#endif /* ATTRIBUTION_WEIGHTS_H */
