#include "validate.h"

#include <stdlib.h>
#include <string.h>

int push_valid_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n;
        unsigned long cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else return 0;
        if (i + n >= len)
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* overlong forms, UTF-16 surrogates and values past U+10FFFF */
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

/* Whether s holds a control character: C0 (less TAB, LF and CR when text), DEL, and with
 * c1 the C1 range U+0080-U+009F (0xc2 0x80..0x9f in UTF-8). */
static int has_control(const char *s, size_t len, int text, int c1)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == 0x7f || (c1 && p[i] == 0xc2 && i + 1 < len && p[i + 1] < 0xa0))
            return 1;
        if (p[i] < 0x20 && !(text && (p[i] == '\t' || p[i] == '\n' || p[i] == '\r')))
            return 1;
    }
    return 0;
}

int push_valid_text(const char *s, size_t len, size_t max)
{
    return s && len > 0 && len <= max && push_valid_utf8(s, len) && !has_control(s, len, 1, 0);
}

int push_valid_id(const char *s, size_t len, size_t max)
{
    return s && len > 0 && len <= max && push_valid_utf8(s, len) && !has_control(s, len, 0, 1);
}

int push_valid_segment_id(const char *s, size_t len, size_t max)
{
    return push_valid_id(s, len, max) && !memchr(s, '/', len) &&
           !(len == 1 && s[0] == '.') && !(len == 2 && s[0] == '.' && s[1] == '.');
}

int push_valid_header_value(const char *s, size_t len, size_t max)
{
    if (!s || len == 0 || len > max || s[0] == ' ' || s[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

int push_valid_topic(const char *s, size_t len)
{
    if (!s || len == 0 || len > PUSH_MAX_SHORT)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* 1..max of letters, digits and the characters of extra; never "." or "..", which a
 * URL path would resolve. */
static int path_safe(const char *s, size_t len, size_t max, const char *extra)
{
    if (!s || len == 0 || len > max || (len == 1 && s[0] == '.') ||
        (len == 2 && s[0] == '.' && s[1] == '.'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr(extra, c))))
            return 0;
    }
    return 1;
}

#define APNS_TOKEN_EXTRA "-._~"
#define FCM_TOKEN_EXTRA  "-._~:"

int push_valid_device_token(const char *platform, const char *s, size_t len)
{
    if (!platform)
        return 0;
    if (strcmp(platform, "apns") == 0)
        return path_safe(s, len, PUSH_MAX_TOKEN, APNS_TOKEN_EXTRA);
    if (strcmp(platform, "fcm") == 0)
        return path_safe(s, len, PUSH_MAX_TOKEN, FCM_TOKEN_EXTRA);
    if (strcmp(platform, "wns") == 0 || strcmp(platform, "webpush") == 0 ||
        strcmp(platform, "sms") == 0)
        return push_valid_id(s, len, PUSH_MAX_TOKEN);
    return 0;
}

const char *push_device_token_rule(const char *platform)
{
    if (platform && strcmp(platform, "apns") == 0)
        return "may hold only letters, digits, '-', '.', '_' and '~' (an APNs device token)";
    if (platform && strcmp(platform, "fcm") == 0)
        return "may hold only letters, digits, '-', '.', '_', '~' and ':' (an FCM registration token)";
    return "must not hold control characters";
}

int push_wns_badge_text_ok(const char *s)
{
    /* the glyphs a badge may show instead of a number */
    static const char *const glyphs[] = {"none", "activity", "alarm", "alert", "attention", "available",
                                         "away", "busy", "error", "newMessage", "paused", "playing",
                                         "unavailable", NULL};
    size_t len = strlen(s);
    int digits = len > 0 && len <= 9;   /* a count, below 2^31 */
    for (size_t i = 0; digits && i < len; i++)
        digits = s[i] >= '0' && s[i] <= '9';
    if (digits)
        return 1;
    for (const char *const *g = glyphs; *g; g++)
        if (strcmp(*g, s) == 0)
            return 1;
    return 0;
}

int push_valid_fcm_project(const char *s, size_t len)
{
    return path_safe(s, len, PUSH_MAX_SHORT, FCM_TOKEN_EXTRA);
}

int push_valid_hex(const char *s, size_t len, size_t n)
{
    if (!s || len != n)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

int push_valid_version(const char *s, size_t len)
{
    int digits = 0;
    if (!s || len == 0 || len > 32)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.' && digits > 0)
            digits = 0;
        else
            return 0;
    }
    return digits > 0;
}

long push_version_major(const char *s)
{
    return strtol(s, NULL, 10);
}

int push_valid_app_id(const char *s, size_t len)
{
    if (!s || len == 0 || len > PUSH_MAX_ID)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int push_valid_b64url_len(const char *s, size_t len, size_t n)
{
    if (!s)
        return 0;
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return len * 3 / 4 == n;
}

int push_valid_https_url(const char *s, size_t len)
{
    size_t skip;
    if (!s || len > PUSH_MAX_TOKEN || !push_valid_utf8(s, len))
        return 0;
    if (len > 8 && strncmp(s, "https://", 8) == 0)
        skip = 8;
    else if (len > 7 && strncmp(s, "http://", 7) == 0)
        skip = 7;
    else
        return 0;
    /* a host must follow the scheme, and URLs carry no spaces or controls */
    if (s[skip] == '/' || s[skip] == '\0')
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

int push_duration_parse(const char *s, long long max, long long *seconds)
{
    long long n = 0, unit = 1;
    const char *p = s;
    if (!s || !(*p >= '0' && *p <= '9'))
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (max + 9) / 10)
            return 0;
        n = n * 10 + (*p - '0');
    }
    switch (*p) {
    case '\0': case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return 0;
    }
    if (*p && p[1] != '\0')
        return 0;
    if (n > max / unit)
        return 0;
    *seconds = n * unit;
    return 1;
}
