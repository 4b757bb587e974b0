/*
 * lead_locks.h — making a lead's insert and the writes that name its id
 * before it exists see each other (doc/scoring.md, "Concurrency").
 *
 * Without a foreign key, an event (or deal) written for a lead id that another
 * transaction is inserting finds no lead row to rescore, and the insert cannot
 * see the uncommitted event.  Both sides take a transaction-scoped lock on the
 * lead id's bucket (a hash of the id, LEAD_LOCK_BUCKETS buckets per leads
 * table): the lead's insert in SHARE mode before it reads the lead's events;
 * an events or deals statement in ROW EXCLUSIVE mode when the lead it touches
 * does not exist, before looking again.  SHARE and ROW EXCLUSIVE conflict with
 * each other but not with themselves, so lead inserts never wait for lead
 * inserts, nor event writers for event writers; whichever commits first, the
 * other side waits for it and then sees its rows.
 */
#ifndef LEAD_LOCKS_H
#define LEAD_LOCKS_H

#include "postgres.h"

#include "storage/lockdefs.h"

#include "attachment.h"

/* Buckets per leads table: a transaction holds at most this many of these locks. */
#define LEAD_LOCK_BUCKETS 64
/* field4 of the advisory lock tag, telling these locks from pg_advisory_lock()'s (1 and 2). */
#define LEAD_LOCK_CLASS 0x4C53

/* Take the lock on the bucket of a lead id (until the transaction ends). */
extern void LockLeadIdBucket(const LeadsAttachment *leads, Datum id, LOCKMODE mode);

/* Under REPEATABLE READ: a serialization failure when a lead not seen by the snapshot exists now.
 */
extern void RefuseUnseenLead(const LeadsAttachment *leads, Datum id);

#endif /* LEAD_LOCKS_H */
