/*
 * row_filter.c — attach's row_filter: parsed, checked and deparsed (also as the FROM item of a
 * table's filtered rows).
 *
 * Odoo keeps the messages of every model in mail_message (model = 'crm.lead'),
 * Twenty soft-deletes with "deletedAt", Odoo archives with active = false: only
 * some rows of an attached table are the CRM rows the extension should see.
 * The filter the DBA names at attach is parsed here with pg_catalog as the only
 * schema, under the rules of a CHECK constraint (no subqueries, aggregates or
 * set-returning functions), and must use immutable pg_catalog functions only:
 * the triggers evaluate it inside maintenance queries, where user code must not
 * run.  It is deparsed with no schema visible at all, so every function,
 * operator and type comes out schema-qualified.  doc/crm_schemas.md, "Row
 * filters".
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "row_filter.h"

/* Push a search path of pg_catalog alone (with_catalog) or of no schema at all. */
static void
PushPath(bool with_catalog)
{
	OverrideSearchPath path;

	path.schemas = NIL;
	path.addCatalog = with_catalog;
	path.addTemp = false;
	path.generation = 0;
	PushOverrideSearchPath(&path);
}

static bool
FunctionIsForeign(Oid funcid, void *context)
{
	return get_func_namespace(funcid) != PG_CATALOG_NAMESPACE;
}

/* Whether any function or operator of the expression lives outside pg_catalog. */
static bool
HasForeignFunction(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, FunctionIsForeign, context))
		return true;
	return expression_tree_walker(node, HasForeignFunction, context);
}

/* Nodes that would run code the checks above do not see (domain constraints). */
static bool
HasDomainCoercion(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, CoerceToDomain))
		return true;
	return expression_tree_walker(node, HasDomainCoercion, context);
}

static void
RefuseFilter(Oid relid, const char *filter, const char *detail)
{
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("row_filter %s of table %s is not accepted", quote_literal_cstr(filter),
						   get_rel_name(relid)),
					errdetail("%s", detail),
					errhint("Write a boolean expression over the table's own columns with built-in "
							"functions and operators, such as model = 'crm.lead', active or "
							"\"deletedAt\" IS NULL.")));
}

/* Errors while parsing point into the filter's text, as errors in a function body do. */
static void
RowFilterErrorCallback(void *arg)
{
	const char *query = arg;
	int position = geterrposition();

	if (position > 0)
	{
		errposition(0);
		internalerrposition(position);
		internalerrquery(query);
	}
	errcontext("row_filter of an attached table");
}

Node *
LsParseRowFilter(Oid relid, const char *filter)
{
	ErrorContextCallback callback;
	char *query = psprintf("SELECT (%s)", filter);
	List *raw;
	SelectStmt *select;
	ResTarget *target;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	Relation rel;
	Node *expr;

	callback.callback = RowFilterErrorCallback;
	callback.arg = query;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	PushPath(true);
	PG_TRY();
	{
		raw = raw_parser(query, RAW_PARSE_DEFAULT);
		select = (SelectStmt *) ((RawStmt *) linitial(raw))->stmt;
		if (list_length(raw) != 1 || !IsA(select, SelectStmt) || select->op != SETOP_NONE ||
			select->fromClause != NIL || select->whereClause != NULL ||
			list_length(select->targetList) != 1 || select->groupClause != NIL ||
			select->havingClause != NULL || select->sortClause != NIL ||
			select->limitCount != NULL || select->withClause != NULL ||
			select->distinctClause != NIL)
			RefuseFilter(relid, filter, "A row filter is one expression, not a query.");
		target = linitial(select->targetList);

		rel = table_open(relid, AccessShareLock);
		pstate = make_parsestate(NULL);
		pstate->p_sourcetext = query;
		nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock, NULL, false, true);
		addNSItemToQuery(pstate, nsitem, true, true, true);
		/* the rules of a CHECK constraint: no subqueries, aggregates, window or set-returning
		 * functions */
		expr = transformExpr(pstate, target->val, EXPR_KIND_CHECK_CONSTRAINT);
		expr = coerce_to_boolean(pstate, expr, "row_filter");
		assign_expr_collations(pstate, expr);
		free_parsestate(pstate);
		table_close(rel, NoLock);
	}
	PG_FINALLY();
	{
		PopOverrideSearchPath();
	}
	PG_END_TRY();
	/* after PG_END_TRY, which restores the stack as PG_TRY found it (with the callback) */
	error_context_stack = callback.previous;

	if (HasForeignFunction(expr, NULL))
		RefuseFilter(relid, filter, "It calls a function or operator outside pg_catalog.");
	if (contain_mutable_functions(expr))
		RefuseFilter(relid, filter, "It calls a function that is not immutable.");
	if (HasDomainCoercion(expr, NULL))
		RefuseFilter(relid, filter,
					 "It coerces to a domain, whose constraints are not checked here.");
	return expr;
}

bool
LsRowPasses(Node *expr, TupleDesc desc, HeapTuple tuple)
{
	EState *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	ExprState *qual;
	bool passes;

	ExecStoreHeapTuple(tuple, slot, false);
	econtext->ecxt_scantuple = slot;
	qual = ExecPrepareQual(list_make1(expr), estate);
	passes = ExecQual(qual, econtext);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	return passes;
}

char *
LsRowFilterSql(Oid relid, Node *expr, const char *alias)
{
	char *sql;

	PushPath(false);
	PG_TRY();
	{
		sql = deparse_expression(expr,
								 deparse_context_for(alias ? alias : get_rel_name(relid), relid),
								 alias != NULL, false);
	}
	PG_FINALLY();
	{
		PopOverrideSearchPath();
	}
	PG_END_TRY();
	return sql;
}

PG_FUNCTION_INFO_V1(row_filter_sql);

/*
 * row_filter_sql(tbl regclass, filter text, alias text): the filter checked and written as fully
 * qualified SQL, its columns prefixed with alias when given.  attach_* store it without alias.
 */
Datum
row_filter_sql(PG_FUNCTION_ARGS)
{
	Oid relid;
	char *filter;
	char *alias;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	filter = text_to_cstring(PG_GETARG_TEXT_PP(1));
	alias = PG_NARGS() > 2 && !PG_ARGISNULL(2) ? text_to_cstring(PG_GETARG_TEXT_PP(2)) : NULL;

	PG_RETURN_TEXT_P(
		cstring_to_text(LsRowFilterSql(relid, LsParseRowFilter(relid, filter), alias)));
}

char *
LsFilteredRows(const char *table, Oid relid, const char *filter, const char *alias)
{
	if (filter == NULL)
		return pstrdup(table);
	return psprintf("(SELECT * FROM %s %s WHERE %s)", table, alias,
					LsRowFilterSql(relid, LsParseRowFilter(relid, filter), alias));
}
