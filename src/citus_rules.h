/*
 * citus_rules.h — the rule set addressed to the shards of one node (doc/scale-out.md, "The
 * shard-local write path").
 *
 * The compiled rules (rules.h) name the attached tables: their SQL (the plans of score.c) reads and
 * writes "crm.leads" and "crm.events", their column numbers are the tables'.  Inside a trigger
 * firing on a Citus shard those names are distributed tables, which a shard may not query.  The
 * copy returned here is the same rule set addressed to a shard of the leads table and the
 * colocated shards of the events tables — the same hash range, on the same node: their names,
 * their column numbers, their lead indexes, plans of its own — so that every statement of the
 * write path (events read, leads locked and rewritten) is plain SQL or an index scan on local
 * relations.  Without Citus the rule set itself is returned after one comparison.
 */
#ifndef CITUS_RULES_H
#define CITUS_RULES_H

#include "postgres.h"

#include "rules.h"

/*
 * The rule set addressed to the leads shard that `relid` is, or is colocated with (a shard of an
 * events or deals table); `rs` itself when `relid` is not a Citus shard.  Cached per leads shard
 * for the rule set's lifetime (and forgotten when one of its shards is invalidated).
 */
extern RuleSet *LsRulesNear(RuleSet *rs, Oid relid);

extern void CitusRulesInit(void);

#endif /* CITUS_RULES_H */
