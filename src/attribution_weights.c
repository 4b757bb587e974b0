/*
 * attribution_weights.c — the weight math of every attribution model.
 *
 * Pure: arrays of touch times, milestone positions or channel ids in, weights
 * out; no catalog access (doc/attribution.md, "The models").
 *
 * Models, for a conversion at time T whose path has touches t_1 <= ... <= t_n
 * (the lead's touchpoints at or before T inside the lookback window):
 *
 *   first_touch     t_1 gets 1.
 *   last_touch      t_n gets 1.
 *   linear          1/n each.
 *   time_decay      w_i proportional to 0.5^((T - t_i) / half_life); with a
 *                   half-life of 0 the touches at the latest time share 1.
 *   position_based  40 % first, 40 % last, 20 % over the touches in between.
 *   w_shaped        30 % each to the first, lead-creation and
 *                   opportunity-creation touches, 10 % over the others.
 *   full_path       22.5 % each to the first, lead-creation,
 *                   opportunity-creation and closing (last) touches, 10 % over
 *                   the others.
 *   markov          see MarkovWeights and markov.c.
 *   shapley         see attribution_shapley.c.
 *
 * Milestones: the lead-creation touch is the last touch at or before the
 * lead's creation; the opportunity-creation touch the last one at or before
 * the moment the lead first reached opportunity, or at or before T when it has
 * not reached it by then; the closing touch is t_n.  When no touch is as early
 * as the milestone (the lead was created before its first touch in the
 * window), the milestone touch is t_1.  A lead whose creation time is unknown
 * counts as created before every touch.
 *
 * Where milestone touches coincide their shares add up.  When every touch is a
 * milestone there is nobody left for the "others" share: the milestone shares
 * are then scaled to sum to 1 (position_based with one touch: 100 %, two
 * touches 50/50; w_shaped with three distinct milestone touches 1/3 each).
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"

#include "attribution_weights.h"

static const char *const model_names[AM_COUNT] = {"first_touch", "last_touch",	   "linear",
												  "time_decay",	 "position_based", "w_shaped",
												  "full_path",	 "markov",		   "shapley"};
static const char *const conversion_names[CK_COUNT] = {"deal", "lead",		  "mql",	 "sal",
													   "sql",  "opportunity", "customer"};

const char *
AttributionModelName(AttributionModel model)
{
	return (model >= 0 && model < AM_COUNT) ? model_names[model] : "?";
}

const char *
ConversionKindName(ConversionKind kind)
{
	return (kind >= 0 && kind < CK_COUNT) ? conversion_names[kind] : "?";
}

/* "a, b, c" for an error hint. */
char *
NameList(const char *const *names, int count)
{
	StringInfoData buf;
	int i;

	initStringInfo(&buf);
	for (i = 0; i < count; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", names[i]);
	return buf.data;
}

/* Index of name in names[] ignoring case and surrounding white space, or -1. */
int
LookUpName(const char *name, const char *const *names, int count)
{
	int len;
	int i;

	while (*name == ' ' || *name == '\t' || *name == '\n' || *name == '\r')
		name++;
	len = strlen(name);
	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t' || name[len - 1] == '\n' ||
					   name[len - 1] == '\r'))
		len--;
	for (i = 0; i < count; i++)
		if ((int) strlen(names[i]) == len && pg_strncasecmp(name, names[i], len) == 0)
			return i;
	return -1;
}

AttributionModel
AttributionModelParse(const char *name)
{
	int i = LookUpName(name, model_names, AM_COUNT);

	if (i < 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("unknown attribution model \"%s\"", name),
						errhint("Valid models are: %s.", NameList(model_names, AM_COUNT))));
	return (AttributionModel) i;
}

ConversionKind
ConversionKindParse(const char *name)
{
	int i = LookUpName(name, conversion_names, CK_COUNT);

	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown conversion \"%s\"", name),
				 errhint("Valid conversions are: %s.", NameList(conversion_names, CK_COUNT))));
	return (ConversionKind) i;
}

/* Microseconds in an interval, months counted as extract(epoch) counts them. */
double
IntervalMicroseconds(const Interval *span)
{
	return (double) span->time + (double) span->day * USECS_PER_DAY +
		   (double) span->month * (DAYS_PER_YEAR / MONTHS_PER_YEAR) * USECS_PER_DAY;
}

/* ------------------------------------------------------------------------
 * The weight math
 * ------------------------------------------------------------------------ */

/* Index of the last touch at or before `at`; 0 when no touch is that early. */
int
LastTouchAtOrBefore(const TimestampTz *times, int n, TimestampTz at)
{
	int lo = 0, hi = n; /* first index with times[i] > at, in [lo, hi] */

	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (times[mid] <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? lo - 1 : 0;
}

/*
 * Milestone models: shares[j] goes to touch milestones[j] (coinciding
 * milestones add up), rest_share is spread equally over the touches that are
 * no milestone; without such touches the milestone shares are scaled to 1.
 */
static void
MilestoneWeights(int n, const int *milestones, const double *shares, int count, double rest_share,
				 double *w)
{
	int others = n;
	double total = 0.0;
	int i;

	for (i = 0; i < n; i++)
		w[i] = 0.0;
	for (i = 0; i < count; i++)
	{
		Assert(milestones[i] >= 0 && milestones[i] < n);
		if (w[milestones[i]] == 0.0)
			others--;
		w[milestones[i]] += shares[i];
		total += shares[i];
	}
	if (others > 0)
	{
		double each = rest_share / others;

		for (i = 0; i < n; i++)
			if (w[i] == 0.0)
				w[i] = each;
	}
	else
	{
		for (i = 0; i < n; i++)
			w[i] /= total;
	}
}

/* Weights of a rule-based model for one path; they sum to 1. */
void
RuleBasedWeights(AttributionModel model, const TouchPath *path, double half_life_usecs, double *w)
{
	int n = path->n;
	int i;

	Assert(n >= 1);
	switch (model)
	{
		case AM_FIRST_TOUCH:
		case AM_LAST_TOUCH:
			for (i = 0; i < n; i++)
				w[i] = 0.0;
			w[model == AM_FIRST_TOUCH ? 0 : n - 1] = 1.0;
			break;
		case AM_LINEAR:
			for (i = 0; i < n; i++)
				w[i] = 1.0 / n;
			break;
		case AM_TIME_DECAY:
		{
			/*
			 * 0.5^((T - t_i)/h) = 0.5^((T - t_n)/h) * 0.5^((t_n - t_i)/h):
			 * the first factor is common to every touch and cancels, so
			 * the latest touch has raw weight 1 and nothing underflows to
			 * an all-zero path.
			 */
			TimestampTz latest = path->times[n - 1];
			double sum = 0.0;

			for (i = 0; i < n; i++)
			{
				/* equal times (equal infinities too) are 0 apart; an infinite time is
				 * infinitely far from any other (doc/attribution.md, "Edge cases") */
				double age = latest == path->times[i] ? 0.0
							 : TIMESTAMP_NOT_FINITE(latest) || TIMESTAMP_NOT_FINITE(path->times[i])
								 ? INFINITY
								 : (double) latest - (double) path->times[i];

				if (half_life_usecs > 0)
					w[i] = pow(0.5, age / half_life_usecs);
				else
					w[i] = (age == 0.0) ? 1.0 : 0.0;
				sum += w[i];
			}
			for (i = 0; i < n; i++)
				w[i] /= sum;
			break;
		}
		case AM_POSITION_BASED:
		{
			int m[2] = {0, n - 1};
			double s[2] = {0.4, 0.4};

			MilestoneWeights(n, m, s, 2, 0.2, w);
			break;
		}
		case AM_W_SHAPED:
		{
			int m[3] = {0, path->created_index, path->opportunity_index};
			double s[3] = {0.3, 0.3, 0.3};

			MilestoneWeights(n, m, s, 3, 0.1, w);
			break;
		}
		case AM_FULL_PATH:
		{
			int m[4] = {0, path->created_index, path->opportunity_index, n - 1};
			double s[4] = {0.225, 0.225, 0.225, 0.225};

			MilestoneWeights(n, m, s, 4, 0.1, w);
			break;
		}
		default:
			elog(ERROR, "attribution model %d is not rule-based", (int) model);
	}
}

/*
 * Markov weights for one path: the path's distinct channels share the
 * conversion in proportion to their removal effects, each channel's share
 * split equally over its touches; linear when they all have removal effect 0.
 */
void
MarkovWeights(int n, const int *channel_ids, const double *removal_effect, int *counts, double *w)
{
	double sum = 0.0;
	int i;

	for (i = 0; i < n; i++)
		if (counts[channel_ids[i]]++ == 0)
			sum += removal_effect[channel_ids[i]];
	for (i = 0; i < n; i++)
	{
		if (sum > 0)
			w[i] = removal_effect[channel_ids[i]] / sum / counts[channel_ids[i]];
		else
			w[i] = 1.0 / n;
	}
	for (i = 0; i < n; i++)
		counts[channel_ids[i]] = 0;
}
