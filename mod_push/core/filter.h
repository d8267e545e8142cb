/* List filters of the MobileFirst Push REST API: one "filter" query parameter,
 * already URL-decoded, reads
 *   <field>==<value>   exact match
 *   <field>=@<value>   the attribute contains the value
 * A comma in the value separates alternatives, any of which may match
 * ("platform==A,G"); "\," is a literal comma and "\\" a literal backslash, and no
 * other escape exists. Several filter parameters are ANDed: the caller parses each
 * one on its own and keeps the clauses in a list. Field names are case-sensitive and
 * must be among those the caller allows. Error messages are ASCII and never repeat
 * the client's bytes, except a field name already checked to be [A-Za-z0-9_]. */
#ifndef PUSH_FILTER_H
#define PUSH_FILTER_H

#include <apr_pools.h>
#include <apr_tables.h>

#define PUSH_FILTER_MAX_FIELD   64    /* bytes in a field name */
#define PUSH_FILTER_MAX_VALUE   4096  /* bytes after the operator, before unescaping */
#define PUSH_FILTER_MAX_VALUES  100   /* alternatives in one clause */

typedef enum { PUSH_FILTER_EQ, PUSH_FILTER_CONTAINS } push_filter_op_t;

typedef struct {
    const char *field;            /* one of the allowed names */
    push_filter_op_t op;
    apr_array_header_t *values;   /* const char *, unescaped, NUL-terminated; ORed */
} push_filter_clause_t;

typedef struct {
    const char *name;             /* field name as the API spells it, e.g. "userId" */
    int eq_only;                  /* 1: only == is allowed */
} push_filter_field_t;

/* Parses in (len bytes, need not be NUL-terminated). fields ends with {NULL, 0}.
 * Returns NULL and sets *out, or a message naming what is wrong. Values keep their
 * order; duplicates are kept. clause->field points into fields. */
const char *push_filter_parse(apr_pool_t *p, const char *in, apr_size_t len,
                              const push_filter_field_t *fields, push_filter_clause_t **out);

/* Whether a clause matches a value (for tests and for callers that filter in
 * memory): == compares bytes exactly, =@ looks for a byte substring, both
 * case-sensitive. A NULL value (the attribute is unset) matches nothing. */
int push_filter_matches(const push_filter_clause_t *c, const char *value);

/* "==" or "=@". */
const char *push_filter_op_name(push_filter_op_t op);

/* The clause written back as filter text, escaped so that it parses to the same
 * clause: "tagName==a\,b,c". */
const char *push_filter_format(apr_pool_t *p, const push_filter_clause_t *c);

#endif
