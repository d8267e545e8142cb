/* libFuzzer target: the string validators, against each other's promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"

/* Whether s holds one of the bytes of set (NUL never, as a set cannot hold it). */
static int has_byte(const char *s, size_t len, const char *set)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\0' && strchr(set, s[i]))
            return 1;
    return 0;
}

/* Printable ASCII only. */
static int ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

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
    if (push_valid_text(s, size, PUSH_MAX_TOKEN) && has_byte(s, size, "\x01\x1b\x7f"))
        abort(); /* free text keeps only TAB, LF and CR of the controls */
    if (push_valid_id(s, size, PUSH_MAX_TOKEN) && (!push_valid_text(s, size, PUSH_MAX_TOKEN) ||
                                                   has_byte(s, size, "\t\n\r")))
        abort(); /* an identifier is text without any control */
    if ((push_valid_header_value(s, size, PUSH_MAX_TOKEN) || push_valid_topic(s, size)) &&
        (has_byte(s, size, "\r\n\t\x7f") || !ascii(s, size)))
        abort(); /* nothing bound for a header may end it or start another */
    if ((push_valid_device_token("apns", s, size) || push_valid_device_token("fcm", s, size) ||
         push_valid_fcm_project(s, size)) &&
        (has_byte(s, size, "/?#% \t\r\n\x7f") || !ascii(s, size) ||
         (size == 1 && s[0] == '.') || (size == 2 && s[0] == '.' && s[1] == '.')))
        abort(); /* nothing bound for a request path may leave its segment */
    if (push_valid_device_token("wns", s, size) && !push_valid_id(s, size, PUSH_MAX_TOKEN))
        abort();
    push_valid_b64url_len(s, size, 16);
    if (size < 64) {
        char buf[64];
        memcpy(buf, s, size);
        buf[size] = '\0';
        if (push_valid_version(buf, size))
            (void)push_version_major(buf);
        {
            long long secs;
            if (push_duration_parse(buf, 86400, &secs) && (secs < 0 || secs > 86400))
                abort();   /* a duration stays within its maximum */
        }
    }
    return 0;
}
