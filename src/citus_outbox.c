/*
 * citus_outbox.c — handoff notifications from shards (doc/scale-out.md,
 * "Handoff notifications").
 *
 * NOTIFY reaches the listeners connected to the node that sends it.  A
 * trigger firing on a Citus shard runs on the worker that holds the shard,
 * where no application listens, so there a handoff is queued instead: a row
 * in the shard of lead_scoring.handoff_outbox colocated with the lead's shard
 * (the same node, written in the same local transaction as the lead).  On the
 * coordinator, lead_scoring.relay_handoffs() deletes the queued rows and sends
 * their NOTIFY there, in the order the handoffs happened.  On a table that is
 * not distributed the NOTIFY is sent directly, as always.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "attachment.h"
#include "citus_outbox.h"
#include "citus_shards.h"
#include "catalog.h"
#include "clock.h"
#include "spi_glue.h"

#define OUTBOX_TABLE "handoff_outbox"

void
LsNotifyHandoff(Relation rel, const LeadsAttachment *leads, Datum lead_id, const char *channel,
				const char *payload)
{
	Oid outbox;
	Oid shard;
	Oid argtypes[3] = {InvalidOid, TEXTOID, TIMESTAMPTZOID};
	Datum args[3];
	LsSavedUser saved;
	int rc;

	if (!LsIsShard(RelationGetRelid(rel)))
	{
		Async_Notify(channel, payload);
		return;
	}
	outbox = LsRelid(OUTBOX_TABLE, true);
	shard = OidIsValid(outbox) ? LsColocatedShard(RelationGetRelid(rel), outbox) : InvalidOid;
	if (!OidIsValid(shard))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("handoff of lead %s on shard \"%s\" cannot be relayed to the coordinator",
						LsLeadIdText(leads, lead_id), RelationGetRelationName(rel)),
				 errdetail("No shard of lead_scoring.handoff_outbox is colocated with it."),
				 errhint("Run SELECT lead_scoring.citus_setup(); on the coordinator after "
						 "distributing the leads table.")));

	argtypes[0] = leads->id_type;
	args[0] = lead_id;
	args[1] = CStringGetTextDatum(payload);
	args[2] = TimestampTzGetDatum(LsNow());
	LsBecomeExtensionOwner(&saved);
	LsSpiConnect();
	/* the colocated shard itself: a local insert, no distributed query from inside the trigger */
	rc = SPI_execute_with_args(
		psprintf("INSERT INTO %s (lead_id, payload, queued_at) VALUES ($1, $2, $3)",
				 quote_qualified_identifier(get_namespace_name(get_rel_namespace(shard)),
											get_rel_name(shard))),
		3, argtypes, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not queue a handoff notification: %s", SPI_result_code_string(rc));
	SPI_finish();
	LsRestoreUser(&saved);
}
