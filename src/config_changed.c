/*
 * config_changed.c — the statement triggers that announce a change of what the configuration
 * caches hold (src/config_cache.c; doc/internals.md, "Caches"): config_changed() on the
 * extension's configuration tables, labels_changed() on the CRM's lookup tables of event type
 * labels.  Each sends a relcache invalidation; a change of the rules is announced to the writers
 * in flight too (src/rules_in_flight.c).
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "catalog.h"
#include "rules_in_flight.h"
#include "trigger_call.h"

/*
 * config_changed(): statement trigger on the extension's configuration tables.
 * Sends a relcache invalidation for the table so every backend's cache of it
 * is rebuilt before its next use (this backend's at the next command, the
 * others' once the change commits).
 */
PG_FUNCTION_INFO_V1(config_changed);
Datum
config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	(void) LsTriggerCall(fcinfo, "config_changed", false, false, 0);
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	/* a rule change commits only between writers' checks of their uncounted events */
	if (RelationGetRelid(trigdata->tg_relation) == LsRelid("rule", true))
		RulesInFlightRuleChange();
	return PointerGetDatum(NULL);
}

/*
 * labels_changed(): statement trigger that attach puts on the lookup table an events table's types
 * are keys into (attach_events' labels; doc/crm_schemas.md, "CRM-native columns").  A change of the
 * lookup table is a change of the rules: the compiled rules, which map each key to its label, are
 * invalidated in every backend (this one at its next command, the others once the change commits),
 * and their fingerprint, which holds the labels, changes, so that the states counted under the old
 * labels are stale (doc/scoring.md, "The engagement state").  The transaction changes the rules for
 * the writers in flight too (rules_in_flight.h).
 */
PG_FUNCTION_INFO_V1(labels_changed);
Datum
labels_changed(PG_FUNCTION_ARGS)
{
	(void) LsTriggerCall(fcinfo, "labels_changed", false, false, 0);
	CacheInvalidateRelcacheByRelid(LsRelid("rule", false));
	RulesInFlightRuleChange();
	return PointerGetDatum(NULL);
}
