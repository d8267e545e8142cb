/* Category filters (Navixy's category_filter, honoured for every device):
 *   "*"        every category
 *   "a,b,c"    only these
 *   "-a,b,c"   every category except these (the minus applies to the whole list)
 * Names are 1..PUSH_CATEGORY_MAX_NAME of [A-Za-z0-9_.]; spaces around names are
 * ignored; duplicates collapse. Parsed once at registration; the store keeps the
 * canonical text plus the list, so the sender can filter in SQL. */
#ifndef PUSH_CATEGORY_H
#define PUSH_CATEGORY_H

#include <apr_pools.h>
#include <apr_tables.h>

#define PUSH_CATEGORY_MAX_NAME  64
#define PUSH_CATEGORY_MAX_ITEMS 32

typedef struct {
    int all;                     /* "*" */
    int exclude;                 /* leading minus */
    apr_array_header_t *names;   /* const char *, in first-seen order */
} push_category_filter_t;

/* Parses in (len bytes, need not be NUL-terminated). Returns NULL and sets *out, or a
 * message naming what is wrong. */
const char *push_category_parse(apr_pool_t *p, const char *in, apr_size_t len,
                                push_category_filter_t **out);

/* "*", "a,b" or "-a,b". */
const char *push_category_canonical(apr_pool_t *p, const push_category_filter_t *f);

/* The names as a PostgreSQL text[] literal ("{a,b}"); names need no quoting. */
const char *push_category_pg_array(apr_pool_t *p, const push_category_filter_t *f);

/* Whether a message of this category reaches a device with this filter. A message
 * without a category reaches every device. */
int push_category_allows(const push_category_filter_t *f, const char *category);

#endif
