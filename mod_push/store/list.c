#include "store/list.h"

#include <apr_strings.h>
#include <stdlib.h>

static const char *column_of(const push_list_spec_t *spec, const char *api)
{
    for (const push_list_column_t *c = spec->columns; c->api; c++)
        if (strcmp(c->api, api) == 0)
            return c->column;
    return NULL;
}

/* "(col = %s OR col = %s)" or "(strpos(col, %s) > 0 OR ...)", pushing the values. */
static const char *clause_sql(apr_pool_t *p, const char *col, const push_filter_clause_t *c,
                              apr_array_header_t *args)
{
    const char *sql = "(";
    for (int i = 0; i < c->values->nelts; i++) {
        sql = apr_pstrcat(p, sql, i ? " OR " : "",
                          c->op == PUSH_FILTER_EQ ? apr_pstrcat(p, col, " = %s", NULL)
                                                  : apr_pstrcat(p, "strpos(", col, ", %s) > 0", NULL),
                          NULL);
        APR_ARRAY_PUSH(args, const char *) = APR_ARRAY_IDX(c->values, i, const char *);
    }
    return apr_pstrcat(p, sql, ")", NULL);
}

static push_status_t run(push_db_t *db, const char *sql, apr_array_header_t *args,
                         apr_dbd_results_t **res)
{
    return push_db_select_sql(db, sql, res, args->nelts, (const char **)args->elts);
}

push_status_t push_store_list(push_db_t *db, const push_list_spec_t *spec, const char *scope_arg,
                              const push_list_query_t *q, push_list_page_t *out)
{
    apr_pool_t *p = db->pool;
    apr_array_header_t *args = apr_array_make(p, 8, sizeof(const char *));
    const char *where = spec->scope, *count_sql, *page_sql, *v;
    apr_array_header_t *page_args;
    apr_dbd_results_t *res = NULL;
    apr_array_header_t *rows;
    apr_dbd_row_t *row;
    push_status_t rv;
    int reverse = 0;

    if (scope_arg)
        APR_ARRAY_PUSH(args, const char *) = scope_arg;
    for (int i = 0; q->clauses && i < q->clauses->nelts; i++) {
        const push_filter_clause_t *c = APR_ARRAY_IDX(q->clauses, i, const push_filter_clause_t *);
        const char *col = column_of(spec, c->field);
        if (!col)
            return PUSH_EINVAL; /* the dialect offered a field the list does not have */
        where = apr_pstrcat(p, where, " AND ", clause_sql(p, col, c, args), NULL);
    }

    count_sql = apr_pstrcat(p, "SELECT count(*) FROM ", spec->from, " WHERE ", where, NULL);
    if ((rv = run(db, count_sql, args, &res)) != PUSH_OK)
        return rv;
    out->total = (v = push_db_first_value(db, res)) ? atol(v) : 0;

    page_args = apr_array_copy(p, args);
    if (q->after) {
        APR_ARRAY_PUSH(page_args, const char *) = q->after;
        page_sql = apr_psprintf(p, "SELECT %s FROM %s WHERE %s AND %s > %%s ORDER BY %s LIMIT %d",
                                spec->projection, spec->from, where, spec->key, spec->key, q->size);
    } else if (q->before) {
        APR_ARRAY_PUSH(page_args, const char *) = q->before;
        page_sql = apr_psprintf(p, "SELECT %s FROM %s WHERE %s AND %s < %%s ORDER BY %s DESC LIMIT %d",
                                spec->projection, spec->from, where, spec->key, spec->key, q->size);
        reverse = 1;
    } else if (q->offset > 0) {
        /* A bare offset: find the page's first key over the key alone (an index-only
         * walk), then read just the page, instead of building every skipped row. */
        apr_array_cat(page_args, args);
        page_sql = apr_psprintf(p, "SELECT %s FROM %s WHERE %s AND %s >= (SELECT %s FROM %s WHERE %s "
                                "ORDER BY %s OFFSET %ld LIMIT 1) ORDER BY %s LIMIT %d",
                                spec->projection, spec->from, where, spec->key, spec->key, spec->from,
                                where, spec->key, q->offset, spec->key, q->size);
    } else {
        page_sql = apr_psprintf(p, "SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d", spec->projection,
                                spec->from, where, spec->key, q->size);
    }
    res = NULL;
    if ((rv = run(db, page_sql, page_args, &res)) != PUSH_OK)
        return rv;
    rows = apr_array_make(p, q->size, sizeof(apr_dbd_row_t *));
    for (int n = 1; (row = push_db_row(db, res, n)); n++)
        APR_ARRAY_PUSH(rows, apr_dbd_row_t *) = row;
    /* a previous page was read backwards */
    out->items = apr_array_make(p, rows->nelts ? rows->nelts : 1, spec->item_size);
    out->first_key = out->last_key = NULL;
    for (int i = 0; i < rows->nelts; i++) {
        row = APR_ARRAY_IDX(rows, reverse ? rows->nelts - 1 - i : i, apr_dbd_row_t *);
        spec->decode(db, row, apr_array_push(out->items));
        out->last_key = push_db_col(db, row, 0);
        if (i == 0)
            out->first_key = out->last_key;
    }
    return PUSH_OK;
}
