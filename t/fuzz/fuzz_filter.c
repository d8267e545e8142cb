/* libFuzzer target: the MobileFirst list filter parser. Whatever it accepts names a
 * known field with an operator that field allows, and holds 1..100 non-empty UTF-8
 * values that match themselves and survive formatting and parsing again. Whatever it
 * refuses gets a printable ASCII message. */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/filter.h"
#include "core/validate.h"

static apr_pool_t *pool;

static const push_filter_field_t fields[] = {
    {"userId", 0}, {"deviceId", 0}, {"platform", 1}, {"tagName", 0}, {NULL, 0}};

static int known(const char *name)
{
    for (const push_filter_field_t *f = fields; f->name; f++)
        if (f->name == name)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    push_filter_clause_t *c, *again;
    const char *err, *text;

    if (!pool) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    err = push_filter_parse(pool, (const char *)data, size, fields, &c);
    if (err) {
        if (!*err)
            abort();
        for (const char *s = err; *s; s++)
            if (*s < 0x20 || *s > 0x7e)
                abort();
    } else {
        if (!known(c->field) || (c->op != PUSH_FILTER_EQ && c->op != PUSH_FILTER_CONTAINS))
            abort();
        if (c->op != PUSH_FILTER_EQ && !strcmp(c->field, "platform"))
            abort();
        if (c->values->nelts < 1 || c->values->nelts > PUSH_FILTER_MAX_VALUES)
            abort();
        for (int i = 0; i < c->values->nelts; i++) {
            const char *v = APR_ARRAY_IDX(c->values, i, const char *);
            size_t n = strlen(v);
            if (n == 0 || n > PUSH_FILTER_MAX_VALUE || !push_valid_utf8(v, n))
                abort();
            if (!push_filter_matches(c, v))
                abort();
        }
        text = push_filter_format(pool, c);
        if (push_filter_parse(pool, text, strlen(text), fields, &again) != NULL ||
            again->field != c->field || again->op != c->op ||
            again->values->nelts != c->values->nelts)
            abort();
        for (int i = 0; i < c->values->nelts; i++)
            if (strcmp(APR_ARRAY_IDX(c->values, i, const char *),
                       APR_ARRAY_IDX(again->values, i, const char *)) != 0)
                abort();
        push_filter_matches(c, NULL);
    }
    apr_pool_clear(pool);
    return 0;
}
