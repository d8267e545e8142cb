/* Checks on untrusted strings, shared by every dialect and by pushctl.
 * Pure functions: no pools, no I/O, unit-tested in t/unit/test_validate.c. */
#ifndef PUSH_VALIDATE_H
#define PUSH_VALIDATE_H

#include <stddef.h>

/* Documented limits (README, "Limits"). */
#define PUSH_MAX_TOKEN      4096  /* a provider token or Web Push endpoint URL */
#define PUSH_MAX_ID         255   /* device ids, user ids, application ids */
#define PUSH_MAX_SHORT      255   /* bundle ids, sender ids, versions */
#define PUSH_MAX_KEY        512   /* Web Push p256dh / auth, base64url */

/* Well-formed UTF-8 without NUL, overlongs or surrogates. */
int push_valid_utf8(const char *s, size_t len);

/* A text field as the store accepts it: non-empty, at most max bytes, valid UTF-8. */
int push_valid_text(const char *s, size_t len, size_t max);

/* Exactly n hexadecimal digits (either case). */
int push_valid_hex(const char *s, size_t len, size_t n);

/* A dotted version such as "9", "9.0" or "12.4.1": digits and single dots. */
int push_valid_version(const char *s, size_t len);

/* The major number of a dotted version (push_valid_version must hold). */
long push_version_major(const char *s);

/* An application id: 1..PUSH_MAX_ID of [A-Za-z0-9._-]. */
int push_valid_app_id(const char *s, size_t len);

/* A base64url string (no padding needed) that decodes to exactly n bytes. */
int push_valid_b64url_len(const char *s, size_t len, size_t n);

/* An absolute http(s) URL with a host. */
int push_valid_https_url(const char *s, size_t len);

#endif
