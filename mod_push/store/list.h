/* Paged, filtered lists (MobileFirst's offset/size/filter), built as SQL with bound
 * parameters from whitelisted columns. Pages follow the list's key: a page reached by a
 * next/previous link carries the key it continues from, so deep pages cost what the
 * first one costs instead of a growing OFFSET scan. */
#ifndef PUSH_LIST_H
#define PUSH_LIST_H

#include "core/filter.h"
#include "store/db.h"

typedef struct {
    const char *api;      /* the API's field name */
    const char *column;   /* its SQL expression */
} push_list_column_t;

typedef struct {
    const char *projection;          /* what a row holds: "t.a, t.b" */
    const char *from;                /* "push_tag t" (joins included) */
    const char *scope;               /* "t.app_id = %s": the base condition */
    const char *key;                 /* the unique sort key, e.g. "t.device_id" */
    const push_list_column_t *columns; /* filterable fields, ending with {NULL, NULL} */
    /* inside the store: reads a row (key first) into a record of item_size bytes */
    void (*decode)(push_db_t *db, apr_dbd_row_t *row, void *out);
    size_t item_size;
} push_list_spec_t;

typedef struct {
    long offset;
    int size;
    const char *after;               /* continue after this key (a next link) */
    const char *before;              /* continue before this key (a previous link) */
    apr_array_header_t *clauses;     /* push_filter_clause_t *, ANDed */
} push_list_query_t;

typedef struct {
    apr_array_header_t *items;       /* the list's records (lists.h says which), in key order */
    const char *first_key, *last_key; /* of this page, for the links; NULL when it is empty */
    long total;                      /* rows matching, all pages */
} push_list_page_t;

/* Runs the count and the page; scope_arg binds the base condition's %s. */
push_status_t push_store_list(push_db_t *db, const push_list_spec_t *spec, const char *scope_arg,
                              const push_list_query_t *q, push_list_page_t *out);

#endif
