/*
 * citus_shards.h — the physical relations a trigger fires on: an attached
 * table itself, or one of its shards when the table is distributed with Citus
 * (doc/scale-out.md, "Triggers on shards").
 *
 * On Citus, row and statement triggers of a distributed table fire on its
 * shards (relations named <table>_<shardid>, on whichever node holds them).
 * The attachment cache describes the distributed (logical) table; these
 * functions map a shard back to it and describe the shard as the triggers
 * must address it: its own OID, its own qualified name, and column numbers
 * resolved by name against the shard (a shard created after columns were
 * dropped from the table has no dropped columns, so its numbers differ).
 * Without Citus every function returns the table itself at the cost of one
 * comparison.
 */
#ifndef CITUS_SHARDS_H
#define CITUS_SHARDS_H

#include "postgres.h"

#include "utils/rel.h"

#include "attachment.h"

/* The table a relation stands for: the distributed table of a Citus shard, else the relation
 * itself. */
extern Oid LsLogicalRelid(Oid relid);

/* Whether a relation is a Citus shard (of any distributed or reference table). */
extern bool LsIsShard(Oid relid);

/*
 * Whether a relation is a Citus table (distributed or reference): on the node at hand its own
 * storage is empty, its rows are in its shards, so it is read through SQL (which Citus routes),
 * never scanned.
 */
extern bool LsIsCitusTable(Oid relid);

/*
 * The shard of table `target` colocated with shard `shard` (the same hash range, hence the same
 * node), or InvalidOid when `shard` is not a shard or `target` is not colocated with its table.  A
 * reference table's only shard is colocated with every shard.
 */
extern Oid LsColocatedShard(Oid shard, Oid target);

/*
 * The attachment of the relation a trigger fired on, as that physical relation: the cached
 * attachment itself for the attached table, a copy with the shard's OID, qualified name and column
 * numbers for a shard of it, NULL when the relation is neither.
 */
extern LeadsAttachment *LsLeadsAttachmentOf(Relation rel);
extern EventsAttachment *LsEventsAttachmentOf(Relation rel);
extern DealsAttachment *LsDealsAttachmentOf(Relation rel);

/*
 * The leads relation colocated with the relation a trigger fired on: the attached leads table, or
 * the leads shard colocated with a shard of an events or deals table.
 */
extern LeadsAttachment *LsLeadsAttachmentNear(Relation rel);
extern LeadsAttachment *LsLeadsAttachmentNearRelid(Oid relid);

/*
 * The attachment of a shard given by its OID (the table itself when it is not a shard): a copy with
 * the shard's OID, qualified name, column numbers and rows to read (from_item).
 */
extern EventsAttachment *LsEventsShardAttachment(Oid shard);
extern LeadsAttachment *LsLeadsShardAttachment(Oid shard);
extern DealsAttachment *LsDealsShardAttachment(Oid shard);

/* A column of a table, by its number there, as numbered in one of its shards (an ERROR when the
 * shard lacks it); InvalidAttrNumber stays so. */
extern AttrNumber LsShardColumn(Oid table, Oid shard, AttrNumber att);

/*
 * The shard of the (distributed) leads table that holds a lead, when it is on this node: found from
 * the hash of the lead's id, as Citus routes it.  InvalidOid when the leads table is not a Citus
 * table or the lead's shard is on another node.
 */
extern Oid LsLocalLeadShard(Datum lead_id);

extern void CitusShardsInit(void);

#endif /* CITUS_SHARDS_H */
