/* libFuzzer target: the multipart/form-data parser. The input is a Content-Type value,
 * a newline, then the body. An accepted boundary is 1..70 bchars; an accepted body
 * has 1..32 parts, each named, in order, inside the body without overlap, and no part
 * contains a delimiter. Every refusal gets a printable ASCII message. */
#include <apr_general.h>
#include <apr_strings.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/multipart.h"

static apr_pool_t *pool;

static void check_message(const char *err)
{
    if (!err || !*err)
        abort();
    for (const char *s = err; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            abort();
}

static int contains(const unsigned char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    const unsigned char *body, *end, *prev;
    const char *ct, *boundary, *err = NULL, *delim;
    apr_array_header_t *parts;
    size_t blen;

    if (!pool) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    if (!nl)
        return 0;
    ct = apr_pstrmemdup(pool, (const char *)data, (apr_size_t)(nl - data));
    /* The body stays at the end of libFuzzer's buffer, so ASan sees any over-read. */
    body = nl + 1;
    blen = size - (size_t)(nl + 1 - data);
    end = body + blen;

    boundary = push_multipart_boundary(pool, ct, &err);
    if (!boundary) {
        check_message(err);
        boundary = "b";
    } else {
        size_t n = strlen(boundary);
        if (err || n < 1 || n > PUSH_MULTIPART_MAX_BOUNDARY || boundary[n - 1] == ' ')
            abort();
        for (const char *s = boundary; *s; s++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "'()+_,-./:=? ", *s))
                abort();
    }

    parts = push_multipart_parse(pool, body, blen, boundary, &err);
    if (!parts) {
        check_message(err);
    } else {
        if (err || parts->nelts < 1 || parts->nelts > PUSH_MULTIPART_MAX_PARTS)
            abort();
        delim = apr_pstrcat(pool, "\r\n--", boundary, NULL);
        prev = body;
        for (int i = 0; i < parts->nelts; i++) {
            const push_multipart_part_t *part = &APR_ARRAY_IDX(parts, i, push_multipart_part_t);
            const push_multipart_part_t *got;
            if (!part->name || !*part->name || !part->data)
                abort();
            if (part->data < prev || part->data > end || part->len > (size_t)(end - part->data))
                abort();
            if (contains(part->data, part->len, delim, strlen(delim)))
                abort();
            prev = part->data + part->len;
            got = push_multipart_get(parts, part->name);
            if (!got || got > part || strcmp(got->name, part->name) != 0)
                abort();
            /* Touch every string so ASan checks its terminator. */
            if (strlen(part->name) + (part->filename ? strlen(part->filename) : 0) +
                    (part->content_type ? strlen(part->content_type) : 0) == 0)
                abort();
        }
    }
    apr_pool_clear(pool);
    return 0;
}
