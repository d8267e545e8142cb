/* libFuzzer target: the category filter parser. Whatever it accepts must print in a
 * canonical form that parses back to the same filter. */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/category.h"

static apr_pool_t *pool;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    push_category_filter_t *f, *again;
    const char *canon, *canon2;

    if (!pool) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    if (push_category_parse(pool, (const char *)data, size, &f) == NULL) {
        canon = push_category_canonical(pool, f);
        if (push_category_parse(pool, canon, strlen(canon), &again) != NULL)
            abort();
        canon2 = push_category_canonical(pool, again);
        if (strcmp(canon, canon2) != 0 || again->exclude != f->exclude || again->all != f->all)
            abort();
        push_category_pg_array(pool, f);
        push_category_allows(f, "chat_message");
    }
    apr_pool_clear(pool);
    return 0;
}
