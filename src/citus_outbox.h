/*
 * citus_outbox.h — send a handoff notification from wherever the leads
 * trigger fired: NOTIFY on the attached table, a row of the outbox the
 * coordinator relays on a Citus shard (doc/scale-out.md, "Handoff notifications").
 */
#ifndef CITUS_OUTBOX_H
#define CITUS_OUTBOX_H

#include "postgres.h"

#include "utils/rel.h"

#include "attachment.h"

extern void LsNotifyHandoff(Relation rel, const LeadsAttachment *leads, Datum lead_id,
							const char *channel, const char *payload);

#endif /* CITUS_OUTBOX_H */
