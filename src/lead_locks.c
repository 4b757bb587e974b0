/*
 * lead_locks.c — locks on lead id buckets that make a lead's insert and the
 * events or deals written for it meanwhile see each other (see lead_locks.h).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "spi_glue.h"
#include "storage/lock.h"
#include "utils/typcache.h"

#include "citus_shards.h"
#include "lead_locks.h"

void
LockLeadIdBucket(const LeadsAttachment *leads, Datum id, LOCKMODE mode)
{
	TypeCacheEntry *tce = lookup_type_cache(leads->id_type, TYPECACHE_HASH_PROC_FINFO);
	uint32 bucket = 0;
	LOCKTAG tag;

	/* an id type without a hash function has one bucket: correct, with more waiting */
	if (OidIsValid(tce->hash_proc_finfo.fn_oid))
		bucket = DatumGetUInt32(FunctionCall1Coll(&tce->hash_proc_finfo, leads->id_collation, id)) %
				 LEAD_LOCK_BUCKETS;
	/* keyed by the table, also when the caller addresses a Citus shard of it (its lead's
	 * events and deals are on the same node) */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, LsLogicalRelid(leads->relid), bucket, LEAD_LOCK_CLASS);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * After waiting for a lead id's bucket without finding the lead: under
 * REPEATABLE READ or SERIALIZABLE the transaction's snapshot cannot see a lead
 * that another transaction inserted and committed meanwhile, so the event or
 * deal would miss it.  Such a transaction fails with a serialization failure
 * (to be retried, as PostgreSQL's own conflicts are) when the lead exists now.
 */
void
RefuseUnseenLead(const LeadsAttachment *leads, Datum id)
{
	Oid argtype = leads->id_type;
	bool exists;

	if (!IsolationUsesXactSnapshot())
		return;
	LsSpiConnect();
	if (LsExecuteLatest(psprintf("SELECT 1 FROM %s WHERE %s %s $1", leads->qualname, leads->id_col,
								 leads->id_eq),
						1, &argtype, &id, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up lead %s", LsLeadIdText(leads, id));
	exists = SPI_processed > 0;
	SPI_finish();
	if (exists)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent insert of lead %s",
						LsLeadIdText(leads, id)),
				 errdetail("The lead was inserted by a transaction that committed after this "
						   "transaction's snapshot was taken."),
				 errhint("The transaction might succeed if retried.")));
}
