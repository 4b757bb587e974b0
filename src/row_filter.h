/*
 * row_filter.h — attach's row_filter: which rows of an attached table are CRM rows.
 *
 * A filter is a boolean expression over the table's own columns, built from
 * immutable pg_catalog functions and operators only (doc/crm_schemas.md,
 * "Row filters").  It is stored as text with bare column names and turned into
 * fully schema-qualified SQL wherever it is used, so no search_path can
 * redirect it.
 */
#ifndef ROW_FILTER_H
#define ROW_FILTER_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "nodes/primnodes.h"

/* Parse and check a filter on the table; the expression (Vars of varno 1). ERROR when refused. */
extern Node *LsParseRowFilter(Oid relid, const char *filter);

/* Whether a row of the table passes the parsed filter (a NULL result does not). */
extern bool LsRowPasses(Node *expr, TupleDesc desc, HeapTuple tuple);

/* The expression as fully qualified SQL; columns prefixed with alias when alias is not NULL. */
extern char *LsRowFilterSql(Oid relid, Node *expr, const char *alias);

/*
 * What a query reads FROM for the rows of table relid that pass filter (as stored; NULL: every
 * row), read in 'table' (the table's quoted name, or one of its Citus shards'): 'table' itself, or
 * "(SELECT * FROM table alias WHERE filter)".
 */
extern char *LsFilteredRows(const char *table, Oid relid, const char *filter, const char *alias);

#endif /* ROW_FILTER_H */
