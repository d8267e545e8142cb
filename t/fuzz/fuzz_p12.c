/* libFuzzer target: the .p12 checks, which read untrusted ASN.1 (any holder of an
 * application's settings scope uploads a file). The input is the file. push_p12_check
 * either accepts it or names a reason in printable ASCII; a file it accepts is opened
 * with the empty password (what the seeds use), which either yields PEM text for a
 * certificate and an unencrypted key, or a reason. */
#include <apr_general.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/p12.h"

static apr_pool_t *pool;

static void check_message(const char *err)
{
    if (!err || !*err)
        abort();
    for (const char *s = err; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            abort();
}

static void check_pem(const char *pem, const char *begin)
{
    if (!pem || strncmp(pem, begin, strlen(begin)) != 0 || !strstr(pem, "-----END "))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL, *cert = NULL, *key = NULL, *chain = NULL;

    if (!pool) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    if (!push_p12_check(pool, data, size, &err)) {
        check_message(err);
    } else if (err) {
        abort();
    } else if (!push_p12_open(pool, data, size, "", &cert, &key, &chain, &err)) {
        check_message(err);
        if (key)
            abort();
    } else {
        check_pem(cert, "-----BEGIN CERTIFICATE-----\n");
        check_pem(key, "-----BEGIN PRIVATE KEY-----\n");
        if (chain)
            check_pem(chain, "-----BEGIN CERTIFICATE-----\n");
    }
    apr_pool_clear(pool);
    return 0;
}
