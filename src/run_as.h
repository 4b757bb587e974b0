/*
 * run_as.h — which role the extension's work runs as, and with which
 * search_path (doc/security.md, "What runs as whom").
 *
 * - The extension's own tables (configuration, attachment, stage_change) are
 *   read and written as the extension owner (LsBecomeExtensionOwner, in
 *   attachment.h): no user code runs there.
 * - Writes to a CRM table, which fire the table's own triggers and evaluate
 *   its CHECK constraints, index expressions and defaults, run as that table's
 *   owner in a security-restricted operation, as PostgreSQL's foreign-key
 *   triggers and maintenance commands do: user code never gets the extension
 *   owner's rights.
 * - Those writes see the caller's search_path, not the pinned one of the SQL
 *   function (attach_*, detach, rescore) that led to them.
 */
#ifndef RUN_AS_H
#define RUN_AS_H

#include "postgres.h"

#include "attachment.h"

/* Write a CRM table (relid) as its owner; LsEndTableWrite undoes it. */
extern void LsBeginTableWrite(Oid relid, LsSavedUser *saved);
extern void LsEndTableWrite(const LsSavedUser *saved);

/*
 * For a SQL entry point called from the extension's own functions, whose
 * search_path is pinned to "pg_catalog, pg_temp": make the CRM writes under it
 * use the search_path in force outside those functions.  Returns the previous
 * setting, to be given back to LsPopCallerSearchPath (also on error).
 */
extern const char *LsPushCallerSearchPath(void);
extern void LsPopCallerSearchPath(const char *previous);

#endif /* RUN_AS_H */
