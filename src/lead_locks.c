/*
 * lead_locks.c — locks on lead id buckets that make a lead's insert and the
 * events or deals written for it meanwhile see each other (see lead_locks.h).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/typcache.h"

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
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, leads->relid, bucket, LEAD_LOCK_CLASS);
	(void) LockAcquire(&tag, mode, false, false);
}
