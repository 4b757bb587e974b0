/*
 * rules_in_flight.c — events written under rules that another session changes before the events
 * commit: what a writer remembers for its check at commit (see rules_in_flight.h; the check is in
 * rules_in_flight_check.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/datum.h"
#include "utils/memutils.h"

#include "attachment.h"
#include "citus_shards.h"
#include "rules_in_flight.h"

/* Past this many leads the writer rescores every lead instead (rule change and writer at once). */
#define MAX_REMEMBERED 100000

static InFlight in_flight;

const InFlight *
RulesInFlightRecord(void)
{
	return &in_flight;
}

void
RulesInFlightForget(void)
{
	/* the memory goes with TopTransactionContext */
	memset(&in_flight, 0, sizeof(in_flight));
}

static MemoryContext
InFlightContext(void)
{
	if (in_flight.cxt == NULL)
		in_flight.cxt = AllocSetContextCreate(TopTransactionContext, "lead_scoring rules in flight",
											  ALLOCSET_SMALL_SIZES);
	return in_flight.cxt;
}

void
RulesInFlightFiltered(RuleSet *rs, bool on_shard)
{
	if (in_flight.filtered && in_flight.eng_fp != rs->eng_fingerprint)
		in_flight.several = true;
	in_flight.filtered = true;
	in_flight.eng_fp = rs->eng_fingerprint;
	in_flight.on_shard |= on_shard;
}

void
RulesInFlightUncounted(const LeadsAttachment *leads, Datum id)
{
	/*
	 * the leads table, not the shard a statement on a Citus shard addressed: the statements of one
	 * transaction write several shards, and the check at commit rescores each lead through its own
	 * (doc/scale-out.md, "The shard-local write path")
	 */
	Oid relid = LsLogicalRelid(leads->relid);

	if (in_flight.overflow)
		return;
	if (in_flight.leads_relid != relid)
	{
		if (in_flight.n > 0)
		{
			/* another leads table in one transaction (detach, attach): remember none of either */
			in_flight.overflow = true;
			return;
		}
		in_flight.leads_relid = relid;
	}
	/* rows of one lead often come together */
	if (in_flight.n > 0 && LsCompareLeadIds(leads, in_flight.ids[in_flight.n - 1], id) == 0)
		return;
	if (in_flight.n >= MAX_REMEMBERED)
	{
		in_flight.overflow = true;
		return;
	}
	if (in_flight.n == in_flight.cap)
	{
		in_flight.cap = in_flight.cap ? Min(in_flight.cap * 2, MAX_REMEMBERED) : 64;
		in_flight.ids = in_flight.ids
							? repalloc(in_flight.ids, sizeof(Datum) * in_flight.cap)
							: MemoryContextAlloc(InFlightContext(), sizeof(Datum) * in_flight.cap);
		in_flight.rels = in_flight.rels
							 ? repalloc(in_flight.rels, sizeof(Oid) * in_flight.cap)
							 : MemoryContextAlloc(InFlightContext(), sizeof(Oid) * in_flight.cap);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(InFlightContext());

		in_flight.rels[in_flight.n] = leads->relid;
		in_flight.ids[in_flight.n++] = datumCopy(id, leads->id_byval, leads->id_len);
		MemoryContextSwitchTo(old);
	}
}

void
RulesInFlightRuleChange(void)
{
	in_flight.changes_rules = true;
}

bool
RulesInFlightChangesRules(void)
{
	return in_flight.changes_rules;
}
