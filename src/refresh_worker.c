/*
 * refresh_worker.c — refresh_scores() in a background worker (doc/scoring.md, "Decay: the
 * refresh").
 *
 * refresh_scores() is a function: it cannot commit the caller's transaction, so its walk would
 * keep the row locks of every rewritten lead until the caller commits.  Where committing per batch
 * changes nothing the caller sees — not in a transaction block, and the caller's transaction has
 * written or locked nothing (no xid) — the walk runs instead in a dynamic background worker that
 * commits after each batch, as CALL refresh_online() does, and the caller waits for it:
 *
 * - the worker connects to the caller's database as the caller's authenticated user, then takes
 *   the caller's libraries, settings (every GUC: lead_scoring.now, actor, reason, search_path...),
 *   role and security context, as a parallel worker does;
 * - its messages (errors, notices) come back through a shm_mq and are raised in the caller with
 *   their SQLSTATE, message, detail and hint; the count of rewritten leads comes back in the
 *   shared segment;
 * - the worker joins the caller's lock group, as a parallel worker does: a session waiting for the
 *   worker's row locks, or holding a row it waits for, is seen waiting for or blocking the caller
 *   (pg_blocking_pids(), the deadlock detector);
 * - an error in the caller while it waits (cancel, statement_timeout) terminates the worker, and
 *   the caller waits until it is gone; so does the caller's exit (when the segment is detached).
 *
 * Without a free background worker slot (max_worker_processes), the walk runs in the caller's
 * transaction, as it does inside a transaction block.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "attachment.h"
#include "citus_shards.h"
#include "refresh.h"
#include "refresh_worker.h"

#define REFRESH_MAGIC	   0x4c535246 /* "LSRF" */
#define REFRESH_QUEUE_SIZE 16384

/* the keys of the shared segment's table of contents */
#define REFRESH_KEY_SHARED	  1
#define REFRESH_KEY_GUCS	  2
#define REFRESH_KEY_LIBRARIES 3
#define REFRESH_KEY_QUEUE	  4

/* What the caller hands the worker, and what the worker hands back. */
typedef struct RefreshShared
{
	Oid database_id;
	Oid authenticated_user_id;
	Oid outer_user_id;
	Oid current_user_id;
	int sec_context;
	/* the caller, whose lock group the worker joins */
	PGPROC *leader_proc;
	pid_t leader_pid;
	int batch_size;
	/* set by the worker: attached to the queue; finished the walk, and its count */
	bool started;
	bool done;
	int64 rewritten;
} RefreshShared;

/* Whether the walk may commit per batch without the caller seeing a difference (see top). */
static bool
WorkerMayRun(void)
{
	if (IsTransactionBlock() || TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return false;
	if (IsBackgroundWorker)
		return false;
	/* a Citus coordinator's distributed leads: the walk stays in the caller's transaction */
	return !LsIsCitusTable(LsLeadsAttachment()->relid);
}

/* on_dsm_detach of the caller (its error or exit): the worker must not outlive the wait. */
static void
TerminateOnDetach(dsm_segment *seg, Datum arg)
{
	BackgroundWorkerHandle *handle = (BackgroundWorkerHandle *) DatumGetPointer(arg);

	TerminateBackgroundWorker(handle);
	pfree(handle);
}

/* Raise in the caller an error or notice the worker sent (never above ERROR). */
static void
RaiseWorkerMessage(const char *data, Size nbytes)
{
	StringInfoData msg;
	char msgtype;

	initStringInfo(&msg);
	appendBinaryStringInfo(&msg, data, nbytes);
	msgtype = pq_getmsgbyte(&msg);
	if (msgtype == 'E' || msgtype == 'N')
	{
		ErrorData edata;

		pq_parse_errornotice(&msg, &edata);
		/* the worker's FATAL (it was terminated) is the caller's ERROR */
		edata.elevel = Min(edata.elevel, ERROR);
		edata.context = edata.context != NULL
							? psprintf("%s\n%s", edata.context, "lead_scoring refresh worker")
							: pstrdup("lead_scoring refresh worker");
		ThrowErrorData(&edata);
	}
	pfree(msg.data);
}

/* Raise the worker's messages as they come, until it detaches from the queue (it exited). */
static void
ReadWorkerMessages(shm_mq_handle *mqh)
{
	for (;;)
	{
		Size nbytes;
		void *data;
		shm_mq_result res;

		CHECK_FOR_INTERRUPTS();
		res = shm_mq_receive(mqh, &nbytes, &data, true);
		if (res == SHM_MQ_DETACHED)
			return;
		if (res == SHM_MQ_WOULD_BLOCK)
		{
			/* the queue sets the latch for a message, the postmaster when the worker exits */
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			continue;
		}
		RaiseWorkerMessage(data, nbytes);
	}
}

/*
 * Run the refresh walk (batches of 'batch_size') in a background worker that commits after each
 * batch, wait for it and set *rewritten; an error in the worker is raised here.  Returns false,
 * having done nothing, where the walk must run in the caller's transaction: inside a transaction
 * block, after the transaction wrote or locked rows, in a background worker, on a Citus
 * coordinator's distributed leads table, or when no background worker slot is free.
 */
static bool
RefreshInWorker(int batch_size, int64 *rewritten)
{
	Size guc_len;
	Size library_len;
	Size size;
	shm_toc_estimator e;
	dsm_segment *seg;
	shm_toc *toc;
	RefreshShared *shared;
	char *space;
	shm_mq *mq;
	shm_mq_handle *mqh;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	bool registered;

	if (!WorkerMayRun())
		return false;

	guc_len = EstimateGUCStateSpace();
	library_len = EstimateLibraryStateSpace();
	shm_toc_initialize_estimator(&e);
	shm_toc_estimate_chunk(&e, sizeof(RefreshShared));
	shm_toc_estimate_chunk(&e, guc_len);
	shm_toc_estimate_chunk(&e, library_len);
	shm_toc_estimate_chunk(&e, REFRESH_QUEUE_SIZE);
	shm_toc_estimate_keys(&e, 4);
	size = shm_toc_estimate(&e);

	seg = dsm_create(size, 0);
	toc = shm_toc_create(REFRESH_MAGIC, dsm_segment_address(seg), size);

	shared = shm_toc_allocate(toc, sizeof(RefreshShared));
	memset(shared, 0, sizeof(RefreshShared));
	shared->database_id = MyDatabaseId;
	shared->authenticated_user_id = GetAuthenticatedUserId();
	shared->outer_user_id = GetOuterUserId();
	GetUserIdAndSecContext(&shared->current_user_id, &shared->sec_context);
	shared->batch_size = batch_size;
	shared->leader_proc = MyProc;
	shared->leader_pid = MyProcPid;
	shm_toc_insert(toc, REFRESH_KEY_SHARED, shared);

	space = shm_toc_allocate(toc, guc_len);
	SerializeGUCState(guc_len, space);
	shm_toc_insert(toc, REFRESH_KEY_GUCS, space);
	space = shm_toc_allocate(toc, library_len);
	SerializeLibraryState(library_len, space);
	shm_toc_insert(toc, REFRESH_KEY_LIBRARIES, space);

	mq = shm_mq_create(shm_toc_allocate(toc, REFRESH_QUEUE_SIZE), REFRESH_QUEUE_SIZE);
	shm_toc_insert(toc, REFRESH_KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "lead_scoring");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "RefreshWorkerMain");
	snprintf(worker.bgw_name, BGW_MAXLEN, "lead_scoring refresh for PID %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "lead_scoring refresh");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	/*
	 * The worker joins the caller's lock group, as parallel workers do: the caller's locks do not
	 * block it, the deadlock detector sees the two as one, and pg_locks / pg_blocking_pids() show
	 * the caller blocked by whoever holds a row the worker waits for.
	 */
	BecomeLockGroupLeader(); /* before the worker can look for the group */

	/* the handle lives until the segment is detached, also on the way out of an error */
	old = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		/* every slot is taken (max_worker_processes): the caller walks */
		ereport(DEBUG1, (errmsg("no background worker slot is free: refresh_scores() runs in the "
								"caller's transaction")));
		dsm_detach(seg);
		return false;
	}
	on_dsm_detach(seg, TerminateOnDetach, PointerGetDatum(handle));
	shm_mq_set_handle(mqh, handle);

	PG_TRY();
	{
		ReadWorkerMessages(mqh);
	}
	PG_CATCH();
	{
		/* a cancel, statement_timeout, or the worker's error: the worker is gone before we go on */
		HOLD_INTERRUPTS();
		TerminateBackgroundWorker(handle);
		(void) WaitForBackgroundWorkerShutdown(handle);
		RESUME_INTERRUPTS();
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		ereport(FATAL, (errcode(ERRCODE_ADMIN_SHUTDOWN),
						errmsg("postmaster exited during refresh_scores()")));
	pg_read_barrier();
	if (!shared->started)
	{
		/* it never ran (the postmaster could not start it): the caller walks */
		dsm_detach(seg);
		return false;
	}
	if (!shared->done)
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
						errmsg("the refresh_scores() background worker exited before the end of "
							   "the walk"),
						errdetail("The batches it finished are committed."),
						errhint("Check the server log; run refresh_scores() again.")));
	*rewritten = shared->rewritten;
	dsm_detach(seg);
	return true;
}

/*
 * refresh_scores(): every lead's score at now, from its state; the leads rewritten.  Called where
 * committing per batch changes nothing the caller sees, the walk runs in a background worker that
 * commits after each batch (RefreshInWorker); elsewhere in the caller's transaction
 * (doc/scoring.md, "Decay: the refresh").
 */
PG_FUNCTION_INFO_V1(refresh_scores);
Datum
refresh_scores(PG_FUNCTION_ARGS)
{
	int64 rewritten;

	RefreshCheckable();
	if (RefreshInWorker(REFRESH_BATCH, &rewritten))
		PG_RETURN_INT64(rewritten);
	PG_RETURN_INT64(RefreshWalk(REFRESH_BATCH, NULL));
}

/* Between two batches of the worker's walk: commit, and take a snapshot for the next batch. */
static void
CommitBatch(void)
{
	PopActiveSnapshot();
	SPI_commit();
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
RefreshWorkerMain(Datum main_arg)
{
	MemoryContext worker_cxt;
	dsm_segment *seg;
	shm_toc *toc;
	RefreshShared *shared;
	shm_mq *mq;
	bool outer_is_superuser;
	int64 rewritten;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "lead_scoring refresh worker",
									   ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(worker_cxt);

	/* no resource owner yet: the mapping stays until the worker exits */
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("could not map the refresh_scores() shared memory segment")));
	toc = shm_toc_attach(REFRESH_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("invalid magic number in the refresh_scores() shared memory "
							   "segment")));
	shared = shm_toc_lookup(toc, REFRESH_KEY_SHARED, false);

	/* from here on, every message goes to the caller */
	mq = shm_toc_lookup(toc, REFRESH_KEY_QUEUE, false);
	shm_mq_set_sender(mq, MyProc);
	pq_redirect_to_shm_mq(seg, shm_mq_attach(mq, seg, NULL));
	shared->started = true;
	/* before any heavyweight lock (see RefreshInWorker); the caller gone, nothing is left to do */
	if (!BecomeLockGroupMember(shared->leader_proc, shared->leader_pid))
		return;

	/* the caller's database, user, libraries, settings, role and security context */
	BackgroundWorkerInitializeConnectionByOid(shared->database_id, shared->authenticated_user_id,
											  0);
	/* messages travel in the database encoding: the caller converts them for its client */
	SetClientEncoding(GetDatabaseEncoding());
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	RestoreLibraryState(shm_toc_lookup(toc, REFRESH_KEY_LIBRARIES, false));
	RestoreGUCState(shm_toc_lookup(toc, REFRESH_KEY_GUCS, false));
	outer_is_superuser = superuser_arg(shared->outer_user_id);
	CommitTransactionCommand();
	SetClientEncoding(GetDatabaseEncoding()); /* again: the caller's client_encoding was restored */
	SetCurrentRoleId(shared->outer_user_id, outer_is_superuser);
	SetUserIdAndSecContext(shared->current_user_id, shared->sec_context);
	pgstat_report_activity(STATE_RUNNING, "SELECT lead_scoring.refresh_scores()");

	/*
	 * the walk, committing after each batch: its memory and SPI's non-atomic contexts (which hang
	 * from PortalContext) must outlive the transactions
	 */
	SetCurrentStatementStartTimestamp(); /* now(): the first batch's; the next ones take theirs */
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PortalContext = worker_cxt;
	MemoryContextSwitchTo(worker_cxt);
	rewritten = RefreshWalk(shared->batch_size, CommitBatch);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	shared->rewritten = rewritten;
	pg_write_barrier();
	shared->done = true;
}
