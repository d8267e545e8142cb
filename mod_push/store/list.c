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
    apr_dbd_prepared_t *st = NULL;
    int rc = apr_dbd_prepare(db->driver, db->pool, db->handle, sql, NULL, &st);
    if (rc == 0)
        rc = apr_dbd_pselect(db->driver, db->pool, db->handle, res, st, 1, args->nelts,
                             (const char **)args->elts);
    if (rc != 0) {
        const char *msg = apr_dbd_error(db->driver, db->handle, rc);
        db->error = apr_psprintf(db->pool, "list: %s", msg ? msg : "unknown error");
        return PUSH_EDB;
    }
    return PUSH_OK;
}

push_status_t push_store_list(push_db_t *db, const push_list_spec_t *spec, const char *scope_arg,
                              const push_list_query_t *q, push_list_page_t *out)
{
    apr_pool_t *p = db->pool;
    apr_array_header_t *args = apr_array_make(p, 8, sizeof(const char *));
    const char *where = spec->scope, *count_sql, *page_sql, *v;
    apr_array_header_t *page_args;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row;
    push_status_t rv;
    int reverse = 0;

    if (scope_arg)
        APR_ARRAY_PUSH(args, const char *) = scope_arg;
    for (int i = 0; q->clauses && i < q->clauses->nelts; i++) {
        const push_filter_clause_t *c = APR_ARRAY_IDX(q->clauses, i, const push_filter_clause_t *);
        const char *col = column_of(spec, c->field);
        if (!col) {
            db->error = apr_psprintf(p, "list: no column for field %s", c->field);
            return PUSH_EDB;
        }
        where = apr_pstrcat(p, where, " AND ", clause_sql(p, col, c, args), NULL);
    }

    count_sql = apr_pstrcat(p, "SELECT count(*) FROM ", spec->from, " WHERE ", where, NULL);
    if ((rv = run(db, count_sql, args, &res)) != PUSH_OK)
        return rv;
    row = NULL;
    out->total = apr_dbd_get_row(db->driver, p, res, &row, 1) == 0 &&
                 (v = apr_dbd_get_entry(db->driver, row, 0)) ? atol(v) : 0;

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
    out->res = res;
    out->rows = apr_array_make(p, q->size, sizeof(apr_dbd_row_t *));
    /* asking the pgsql driver for a row past the end frees the whole result: count first */
    for (int n = 1, last = apr_dbd_num_tuples(db->driver, res); n <= last; n++) {
        row = NULL;
        if (apr_dbd_get_row(db->driver, p, res, &row, n) != 0)
            break;
        APR_ARRAY_PUSH(out->rows, apr_dbd_row_t *) = row;
    }
    if (reverse)
        for (int i = 0, j = out->rows->nelts - 1; i < j; i++, j--) {
            apr_dbd_row_t *t = APR_ARRAY_IDX(out->rows, i, apr_dbd_row_t *);
            APR_ARRAY_IDX(out->rows, i, apr_dbd_row_t *) = APR_ARRAY_IDX(out->rows, j, apr_dbd_row_t *);
            APR_ARRAY_IDX(out->rows, j, apr_dbd_row_t *) = t;
        }
    return PUSH_OK;
}
