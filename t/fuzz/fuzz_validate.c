/* libFuzzer target: the string validators, against each other's promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int utf8 = push_valid_utf8(s, size);

    if (utf8 && memchr(s, '\0', size))
        abort(); /* NUL is never valid text for the store */
    if (push_valid_text(s, size, PUSH_MAX_ID) && (!utf8 || size == 0 || size > PUSH_MAX_ID))
        abort();
    if (push_valid_app_id(s, size) && !utf8)
        abort();
    if (push_valid_hex(s, size, 32) && (size != 32 || !utf8))
        abort();
    if (push_valid_https_url(s, size) && !utf8)
        abort();
    push_valid_b64url_len(s, size, 16);
    if (size < 64) {
        char buf[64];
        memcpy(buf, s, size);
        buf[size] = '\0';
        if (push_valid_version(buf, size))
            (void)push_version_major(buf);
    }
    return 0;
}
