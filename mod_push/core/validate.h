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

/* Well-formed UTF-8 without NUL, overlongs or surrogates (whole bodies are checked with it:
 * it says nothing about control characters). */
int push_valid_utf8(const char *s, size_t len);

/* Three grades of string, from loose to strict. Control characters never reach a header
 * or a request line, and a value bound for one is refused at acceptance, not at sending.
 *
 * Free text (alert bodies, descriptions, names): non-empty, at most max bytes, valid
 * UTF-8, and no C0 control (U+0000-U+001F) other than TAB, LF and CR, no DEL. Text is
 * JSON-encoded wherever it goes, and a message body may hold line breaks. */
int push_valid_text(const char *s, size_t len, size_t max);

/* An identifier (device, user, tag and record ids): free text without any control
 * character: no C0 (TAB, LF and CR included), no DEL, no C1 (U+0080-U+009F). */
int push_valid_id(const char *s, size_t len, size_t max);

/* An identifier that later names a resource in a URL path (a device id, a tag or webhook
 * name): push_valid_id, without '/' and not "." or "..", which a stock httpd
 * could never route back to it (an encoded slash is refused, dot segments are removed). */
int push_valid_segment_id(const char *s, size_t len, size_t max);

/* A value a sender puts into a provider's request header (apns-collapse-id, a collapse
 * key): 1..max bytes of printable ASCII (space to '~'), not starting or ending with a
 * space (HTTP would trim it). */
int push_valid_header_value(const char *s, size_t len, size_t max);

/* An APNs topic: a bundle id (MobileFirst apnsConf, Layer apns_bundle_id) or Rocket.Chat's
 * appName, sent as apns-topic: 1..PUSH_MAX_SHORT bytes of printable ASCII without space. */
int push_valid_topic(const char *s, size_t len);

/* A device token as the sender will use it, by platform (the registry's names):
 *   apns  1..PUSH_MAX_TOKEN of [A-Za-z0-9._~-], not "." or "..": it becomes a path segment
 *         (/3/device/<token>). Real tokens are 64 hex digits; words such as "token" or
 *         "xyz" (the seeds' examples) pass, "x/../y", "a?b", "a#b", "a%2fb" do not.
 *   fcm   1..PUSH_MAX_TOKEN of [A-Za-z0-9._~:-] (FCM's alphabet: base64url with ':').
 *   wns, webpush, sms  identifiers (push_valid_id) up to PUSH_MAX_TOKEN; channel URIs and
 *         subscription endpoints get their own checks where they are registered.
 * Unknown platforms are refused. */
int push_valid_device_token(const char *platform, const char *s, size_t len);

/* What push_valid_device_token wants for platform, for an error message ("may hold only
 * ..."). */
const char *push_device_token_rule(const char *platform);

/* Whether s is a WNS badge value given as text: a count of at most nine digits, or
 * the name of a badge glyph ("alert", "newMessage", ...). */
int push_wns_badge_text_ok(const char *s);

/* An FCM project id, a path segment of the send URL (/v1/projects/<id>/messages:send):
 * 1..PUSH_MAX_SHORT of [A-Za-z0-9._~:-], not "." or "..". */
int push_valid_fcm_project(const char *s, size_t len);

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

/* A duration as the directives take it: digits with an optional unit, s (the default),
 * m, h, d or w ("90", "15m", "7d", "52w"). 1 and *seconds when it is at most max seconds,
 * else 0. */
int push_duration_parse(const char *s, long long max, long long *seconds);

#endif
