/*
 * rules_in_flight.h — events written under rules that another session changes before the events
 * commit (doc/scoring.md, "Concurrency").
 *
 * An events statement decides with the rules it loaded which of its rows count; the leads of the
 * rows that count are locked and rescored at once.  The leads of the rows that count for no rule
 * are not touched.  If a rule change commits before the writer's transaction does, another session
 * may rebuild such a lead's engagement state under the new rules, from the events it can see —
 * not the writer's uncommitted rows, which the new rules may count — and the state would claim
 * the current rules while missing them.  So the writer remembers those leads, and when it commits
 * under other engagement rules than it filtered with, it rescores them from their events.  A rule
 * change and a writer's check at commit are serialised by a lock taken only then (EXCLUSIVE by the
 * rule change, SHARE by writers): no rule change commits between a writer's check and its commit.
 * On a Citus worker a rule change arrives as the configuration, which takes no such lock there, and
 * a writer's part of a distributed transaction may wait prepared after its check: there the check
 * holds the uncounted rows' leads (their id buckets and rows) until the writer commits, so that
 * nobody rebuilds their states without its rows meanwhile (doc/scale-out.md, "The check at commit
 * on a shard").
 *
 * This header is what the writer remembers (src/rules_in_flight.c), which the events trigger, the
 * rule changes and the engagement state use; the check at commit is in
 * src/rules_in_flight_check.h, above the rescoring it runs.
 */
#ifndef RULES_IN_FLIGHT_H
#define RULES_IN_FLIGHT_H

#include "postgres.h"

#include "rules.h"

/* What this transaction remembers for its check at commit (src/rules_in_flight_check.h). */
typedef struct InFlight
{
	MemoryContext cxt;	/* under TopTransactionContext */
	bool changes_rules; /* this transaction changed lead_scoring.rule */
	bool filtered;		/* an events statement filtered rows */
	bool several;		/* ... under more than one set of engagement rules */
	uint64 eng_fp;		/* RuleSet.eng_fingerprint it filtered with */
	bool on_shard;	 /* (Citus) the statement wrote a shard: each lead rescored through its shard */
	Oid leads_relid; /* the leads table of the remembered ids */
	Datum *ids;		 /* leads of uncounted rows, duplicates possible */
	Oid *rels; /* the relation each one's statement addressed for it: the table or its shard */
	int n;
	int cap;
	bool overflow; /* more leads than it remembers: every lead is rescored */
} InFlight;

/* The record (read by the check), and its end with the transaction. */
extern const InFlight *RulesInFlightRecord(void);
extern void RulesInFlightForget(void);

/* An events statement of this transaction filtered its rows with these rules. */
extern void RulesInFlightFiltered(RuleSet *rs, bool on_shard);

/* A row of that statement, of this lead, counted for no rule: its lead was not locked. */
extern void RulesInFlightUncounted(const LeadsAttachment *leads, Datum id);

/* This transaction changes lead_scoring.rule. */
extern void RulesInFlightRuleChange(void);
/* Whether it does (until it commits or aborts). */
extern bool RulesInFlightChangesRules(void);

#endif /* RULES_IN_FLIGHT_H */
