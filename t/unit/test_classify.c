/* Provider answers (APNs, FCM, plain HTTP) to outcomes, Retry-After, and the backoff. */
#include <limits.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "sender/classify.h"
#include "unit.h"

static apr_pool_t *pool;

static int eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static push_outcome_t apns(long status, const char *body, const char *retry_after)
{
    push_outcome_t o;
    memset(&o, 0xa5, sizeof(o));   /* every field must be set */
    push_classify_apns(pool, status, body, retry_after, &o);
    return o;
}

static push_outcome_t fcm(long status, const char *body, const char *retry_after)
{
    push_outcome_t o;
    memset(&o, 0xa5, sizeof(o));
    push_classify_fcm(pool, status, body, retry_after, &o);
    return o;
}

static push_outcome_t http(long status, const char *retry_after)
{
    push_outcome_t o;
    memset(&o, 0xa5, sizeof(o));
    push_classify_http(pool, status, retry_after, &o);
    return o;
}

static int is(push_outcome_t o, push_outcome_kind_t kind, const char *reason)
{
    return o.kind == kind && eq(o.reason, reason)
           && (kind == PUSH_OUT_DEVICE_GONE || o.gone_at_ms == 0)
           && (kind == PUSH_OUT_RETRY || o.retry_after == -1);
}

/* An FCM error body as FCM v1 writes it. */
static const char *fcm_error(int code, const char *status, const char *error_code,
                             const char *message)
{
    return apr_psprintf(pool,
                        "{\"error\": {\"code\": %d, \"message\": \"%s\", \"status\": \"%s\","
                        " \"details\": [{\"@type\": \"type.googleapis.com/google.firebase.fcm.v1."
                        "FcmError\", \"errorCode\": \"%s\"}]}}",
                        code, message, status, error_code);
}

static void test_retry_after(void)
{
    apr_time_t now = apr_time_from_sec(784111777);   /* Sun, 06 Nov 1994 08:49:37 GMT */

    CHECK(push_retry_after(NULL, now) == -1, "absent: -1");
    CHECK(push_retry_after("", now) == -1 && push_retry_after("  ", now) == -1, "empty: -1");
    CHECK(push_retry_after("120", now) == 120, "delta-seconds");
    CHECK(push_retry_after(" 7 ", now) == 7, "blanks around are ignored");
    CHECK(push_retry_after("0", now) == 0, "zero");
    CHECK(push_retry_after("99999999999999999999", now) == INT_MAX, "huge values stop at INT_MAX");
    CHECK(push_retry_after("-5", now) == -1, "negative is unreadable");
    CHECK(push_retry_after("1.5", now) == -1, "a fraction is unreadable");
    CHECK(push_retry_after("12abc", now) == -1, "trailing junk is unreadable");
    CHECK(push_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now) == 120, "an HTTP date two minutes on");
    CHECK(push_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now) == 60, "an RFC 850 date");
    CHECK(push_retry_after("Sun, 06 Nov 1994 08:49:38 GMT", now + 1) == 1,
          "a fraction of a second rounds up");
    CHECK(push_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == 0, "a date past: 0");
    CHECK(push_retry_after("tomorrow", now) == -1, "not a date: -1");
}

static void test_apns(void)
{
    push_outcome_t o;

    o = apns(200, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_SENT && o.retry_after == -1 && o.gone_at_ms == 0, "200: sent");
    o = apns(0, NULL, NULL);
    CHECK(is(o, PUSH_OUT_RETRY, "no answer") && o.retry_after == -1, "0: retry, no answer");
    o = apns(0, "Connection timed out after 10000 milliseconds", NULL);
    CHECK(is(o, PUSH_OUT_RETRY, "Connection timed out after 10000 milliseconds"),
          "0: retry, the transport error is the reason");

    CHECK(is(apns(400, "{\"reason\": \"BadDeviceToken\"}", NULL), PUSH_OUT_DEVICE_GONE,
             "BadDeviceToken"), "400 BadDeviceToken: device gone");
    CHECK(is(apns(400, "{\"reason\": \"DeviceTokenNotForTopic\"}", NULL), PUSH_OUT_DEVICE_GONE,
             "DeviceTokenNotForTopic"), "400 DeviceTokenNotForTopic: device gone");
    CHECK(is(apns(400, "{\"reason\": \"BadTopic\"}", NULL), PUSH_OUT_MESSAGE_BAD, "BadTopic"),
          "400 BadTopic: message bad");
    CHECK(is(apns(400, "{\"reason\": \"PayloadEmpty\"}", NULL), PUSH_OUT_MESSAGE_BAD, "PayloadEmpty"),
          "400 PayloadEmpty: message bad");
    CHECK(is(apns(400, "not json", NULL), PUSH_OUT_MESSAGE_BAD, "HTTP 400"),
          "400 without a reason: message bad, HTTP 400");

    CHECK(is(apns(403, "{\"reason\": \"InvalidProviderToken\"}", NULL), PUSH_OUT_CREDENTIALS,
             "InvalidProviderToken"), "403 InvalidProviderToken: credentials");
    CHECK(is(apns(403, "{\"reason\": \"ExpiredProviderToken\"}", NULL), PUSH_OUT_CREDENTIALS,
             "ExpiredProviderToken"), "403 ExpiredProviderToken: credentials, reason kept for renewal");
    CHECK(is(apns(403, "{\"reason\": \"BadCertificateEnvironment\"}", NULL), PUSH_OUT_CREDENTIALS,
             "BadCertificateEnvironment"), "403 BadCertificateEnvironment: credentials");
    CHECK(is(apns(403, "", NULL), PUSH_OUT_CREDENTIALS, "HTTP 403"), "403 without a body: credentials");

    o = apns(410, "{\"reason\": \"Unregistered\", \"timestamp\": 1700000000123}", NULL);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE && eq(o.reason, "Unregistered")
          && o.gone_at_ms == APR_INT64_C(1700000000123) && o.retry_after == -1,
          "410 Unregistered: device gone, with the timestamp");
    o = apns(410, "{\"reason\": \"Unregistered\", \"timestamp\": \"1700000000456\"}", NULL);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE && o.gone_at_ms == APR_INT64_C(1700000000456),
          "410 with the timestamp as a string");
    o = apns(410, "{\"reason\": \"ExpiredToken\"}", NULL);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE && o.gone_at_ms == 0, "410 without a timestamp: 0");
    o = apns(410, "{\"reason\": \"Unregistered\", \"timestamp\": true}", NULL);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE && o.gone_at_ms == 0, "410 with a nonsense timestamp: 0");

    CHECK(is(apns(413, "{\"reason\": \"PayloadTooLarge\"}", NULL), PUSH_OUT_MESSAGE_BAD,
             "PayloadTooLarge"), "413: message bad");
    CHECK(is(apns(404, "{\"reason\": \"BadPath\"}", NULL), PUSH_OUT_MESSAGE_BAD, "BadPath"),
          "404 BadPath: message bad");

    o = apns(429, "{\"reason\": \"TooManyRequests\"}", NULL);
    CHECK(is(o, PUSH_OUT_RETRY, "TooManyRequests") && o.retry_after == -1, "429 TooManyRequests: retry");
    CHECK(is(apns(429, "{\"reason\": \"TooManyProviderTokenUpdates\"}", NULL), PUSH_OUT_RETRY,
             "TooManyProviderTokenUpdates"), "429 TooManyProviderTokenUpdates: retry");
    o = apns(429, "{\"reason\": \"TooManyRequests\"}", "30");
    CHECK(o.kind == PUSH_OUT_RETRY && o.retry_after == 30, "429 honours Retry-After");
    CHECK(is(apns(500, "{\"reason\": \"InternalServerError\"}", NULL), PUSH_OUT_RETRY,
             "InternalServerError"), "500: retry");
    o = apns(503, "{\"reason\": \"ServiceUnavailable\"}", "5");
    CHECK(is(o, PUSH_OUT_RETRY, "ServiceUnavailable") && o.retry_after == 5,
          "503: retry, with Retry-After");
    CHECK(is(apns(502, "<html>Bad Gateway</html>", NULL), PUSH_OUT_RETRY, "HTTP 502"),
          "502 from a proxy: retry");
    CHECK(is(apns(200, "[]", NULL), PUSH_OUT_SENT, "HTTP 200"), "a body that is not an object is ignored");
}

static void test_fcm(void)
{
    push_outcome_t o;

    o = fcm(200, "{\"name\": \"projects/p/messages/0:123\"}", NULL);
    CHECK(o.kind == PUSH_OUT_SENT && o.retry_after == -1, "200: sent");
    o = fcm(0, NULL, "3");
    CHECK(is(o, PUSH_OUT_RETRY, "no answer") && o.retry_after == 3, "0: retry");

    CHECK(is(fcm(404, fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
                 NULL), PUSH_OUT_DEVICE_GONE, "UNREGISTERED"), "404 UNREGISTERED: device gone");
    CHECK(is(fcm(403, fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH",
                                "SenderId mismatch"), NULL),
             PUSH_OUT_DEVICE_GONE, "SENDER_ID_MISMATCH"), "403 SENDER_ID_MISMATCH: device gone");
    CHECK(is(fcm(404, "{\"error\": {\"code\": 404, \"message\": \"Requested entity was not found.\","
                      " \"status\": \"NOT_FOUND\"}}", NULL), PUSH_OUT_CREDENTIALS, "NOT_FOUND"),
          "404 without UNREGISTERED (wrong project): credentials, no device disabled");

    CHECK(is(fcm(400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                                "The registration token is not a valid FCM registration token"),
                 NULL), PUSH_OUT_DEVICE_GONE, "INVALID_ARGUMENT"),
          "400 INVALID_ARGUMENT about the registration token: device gone");
    CHECK(is(fcm(400, "{\"error\": {\"code\": 400, \"message\": \"Invalid value at 'message.token'\","
                      " \"status\": \"INVALID_ARGUMENT\", \"details\": [{\"@type\": "
                      "\"type.googleapis.com/google.rpc.BadRequest\", \"fieldViolations\": "
                      "[{\"field\": \"message.token\", \"description\": \"Invalid\"}]}]}}", NULL),
             PUSH_OUT_DEVICE_GONE, "INVALID_ARGUMENT"),
          "400 with a field violation on message.token: device gone (error.status as the code)");
    CHECK(is(fcm(400, fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                                "Invalid JSON payload received. Unknown name \\\"foo\\\""), NULL),
             PUSH_OUT_MESSAGE_BAD, "INVALID_ARGUMENT"), "400 INVALID_ARGUMENT otherwise: message bad");
    CHECK(is(fcm(400, "{\"error\": {\"code\": 400, \"status\": \"INVALID_ARGUMENT\", \"details\": "
                      "[{\"@type\": \"type.googleapis.com/google.rpc.BadRequest\", \"fieldViolations\": "
                      "[{\"field\": \"message.android.ttl\"}]}]}}", NULL),
             PUSH_OUT_MESSAGE_BAD, "INVALID_ARGUMENT"), "a field violation elsewhere: message bad");
    CHECK(is(fcm(400, "oops", NULL), PUSH_OUT_MESSAGE_BAD, "HTTP 400"), "400 without JSON: message bad");

    CHECK(is(fcm(401, fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error"), NULL),
             PUSH_OUT_CREDENTIALS, "THIRD_PARTY_AUTH_ERROR"), "401 THIRD_PARTY_AUTH_ERROR: credentials");
    CHECK(is(fcm(401, "{\"error\": {\"code\": 401, \"message\": \"Request had invalid authentication "
                      "credentials.\", \"status\": \"UNAUTHENTICATED\"}}", NULL),
             PUSH_OUT_CREDENTIALS, "UNAUTHENTICATED"), "401 UNAUTHENTICATED: credentials, by error.status");
    CHECK(is(fcm(403, "{\"error\": {\"code\": 403, \"status\": \"PERMISSION_DENIED\"}}", NULL),
             PUSH_OUT_CREDENTIALS, "PERMISSION_DENIED"), "403 PERMISSION_DENIED: credentials");
    CHECK(is(fcm(401, NULL, NULL), PUSH_OUT_CREDENTIALS, "HTTP 401"), "401 without a body: credentials");

    o = fcm(429, fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded"), NULL);
    CHECK(is(o, PUSH_OUT_RETRY, "QUOTA_EXCEEDED") && o.retry_after == 60,
          "429 QUOTA_EXCEEDED: retry after 60 s when Retry-After is absent");
    o = fcm(429, fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded"), "120");
    CHECK(o.kind == PUSH_OUT_RETRY && o.retry_after == 120, "429 QUOTA_EXCEEDED honours Retry-After");
    o = fcm(429, NULL, NULL);
    CHECK(is(o, PUSH_OUT_RETRY, "HTTP 429") && o.retry_after == 60, "a bare 429: retry after 60 s");

    o = fcm(503, fcm_error(503, "UNAVAILABLE", "UNAVAILABLE", "The service is unavailable"), "10");
    CHECK(is(o, PUSH_OUT_RETRY, "UNAVAILABLE") && o.retry_after == 10, "503 UNAVAILABLE: retry with Retry-After");
    o = fcm(500, fcm_error(500, "INTERNAL", "INTERNAL", "Internal error"), NULL);
    CHECK(is(o, PUSH_OUT_RETRY, "INTERNAL") && o.retry_after == -1, "500 INTERNAL: retry");
    CHECK(is(fcm(502, "<html></html>", NULL), PUSH_OUT_RETRY, "HTTP 502"), "502 from a proxy: retry");
    CHECK(is(fcm(413, NULL, NULL), PUSH_OUT_MESSAGE_BAD, "HTTP 413"), "another 4xx: message bad");
    CHECK(is(fcm(400, "{\"error\": \"x\"}", NULL), PUSH_OUT_MESSAGE_BAD, "HTTP 400"),
          "an error that is not an object is ignored");
}

static void test_http(void)
{
    push_outcome_t o;

    CHECK(http(200, NULL).kind == PUSH_OUT_SENT && http(204, NULL).kind == PUSH_OUT_SENT
          && http(201, NULL).retry_after == -1, "2xx: sent");
    o = http(0, "4");
    CHECK(is(o, PUSH_OUT_RETRY, "no answer") && o.retry_after == 4, "0: retry");
    CHECK(is(http(408, NULL), PUSH_OUT_RETRY, "HTTP 408"), "408: retry");
    o = http(429, "Sun, 06 Nov 2094 08:49:37 GMT");
    CHECK(is(o, PUSH_OUT_RETRY, "HTTP 429") && o.retry_after > 86400, "429: retry, Retry-After as a date");
    CHECK(is(http(500, NULL), PUSH_OUT_RETRY, "HTTP 500") && is(http(503, NULL), PUSH_OUT_RETRY, "HTTP 503"),
          "5xx: retry");
    CHECK(is(http(400, NULL), PUSH_OUT_MESSAGE_BAD, "HTTP 400")
          && is(http(404, "9"), PUSH_OUT_MESSAGE_BAD, "HTTP 404")
          && is(http(410, NULL), PUSH_OUT_MESSAGE_BAD, "HTTP 410"),
          "other 4xx: message bad, Retry-After ignored");
    CHECK(is(http(301, NULL), PUSH_OUT_MESSAGE_BAD, "HTTP 301"), "a redirect: message bad (not followed)");
}

static void test_backoff(void)
{
    apr_int64_t prev = -1, prev_hi = -1, w;
    int grows = 1, bounded = 1, capped = 1, spread = 1;

    /* The same rnd at every attempt: never shorter. */
    for (int a = 1; a <= 40; a++) {
        w = push_backoff_ms(a, 1000, 3600000, -1, 12345u);
        if (w < prev)
            grows = 0;
        prev = w;
    }
    CHECK(grows, "with the same rnd the wait never shrinks");

    /* Any rnd: each attempt's shortest wait is at least the last one's longest, to the cap. */
    for (int a = 1; a <= 12; a++) {
        apr_int64_t ceiling = APR_INT64_C(1000) << (a - 1), lo = ceiling, hi = 0;
        if (ceiling > 3600000)
            ceiling = 3600000;
        for (unsigned int r = 0; r < 5000; r++) {
            unsigned int rnd = r * 2654435761u;
            w = push_backoff_ms(a, 1000, 3600000, -1, rnd);
            if (w < ceiling / 2 || w > ceiling)
                bounded = 0;
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
        if (ceiling < 3600000 && lo < prev_hi)
            spread = 0;
        prev_hi = hi;
    }
    CHECK(bounded, "jitter stays between half the step and the step");
    CHECK(spread, "below the cap, a later attempt never waits less than an earlier one");
    CHECK(push_backoff_ms(1, 1000, 3600000, -1, 0) == 500
          && push_backoff_ms(1, 1000, 3600000, -1, 500) == 1000
          && push_backoff_ms(1, 1000, 3600000, -1, 501) == 500,
          "attempt 1: rnd picks from [500, 1000]");
    CHECK(push_backoff_ms(3, 1000, 3600000, -1, 0) == 2000
          && push_backoff_ms(3, 1000, 3600000, -1, 2000) == 4000, "attempt 3: [2000, 4000]");
    CHECK(push_backoff_ms(20, 1000, 60000, -1, 0) == 30000
          && push_backoff_ms(20, 1000, 60000, -1, 30000) == 60000, "at the cap: [30000, 60000]");

    for (int a = 1; a <= 1000; a += 37)
        for (unsigned int r = 0; r < 50; r++)
            if (push_backoff_ms(a, 1000, 60000, -1, r * 7919u) > 60000)
                capped = 0;
    CHECK(capped, "never past the cap");
    CHECK(push_backoff_ms(INT_MAX, 1000, 60000, -1, ~0u) <= 60000
          && push_backoff_ms(INT_MAX, 1000, 60000, -1, 0) == 30000,
          "a huge attempt number does not overflow");
    CHECK(push_backoff_ms(5, APR_INT64_C(4000000000000000000), APR_INT64_MAX, -1, 0) > 0,
          "a huge base does not overflow");
    CHECK(push_backoff_ms(1, 5000, 2000, -1, 0) == 1000, "a cap below the base wins");
    CHECK(push_backoff_ms(1, 0, 60000, -1, 99) == 0 && push_backoff_ms(0, 1000, 60000, -1, 0) == 500,
          "base 0 waits 0; attempt 0 counts as the first");

    CHECK(push_backoff_ms(1, 1000, 60000, 30, 0) == 30000, "Retry-After is a floor");
    CHECK(push_backoff_ms(1, 1000, 60000, 600, 0) == 600000, "Retry-After wins over the cap");
    CHECK(push_backoff_ms(10, 1000, 60000, 1, 0) == 30000, "a short Retry-After does not shorten backoff");
    CHECK(push_backoff_ms(1, 1000, 60000, 0, 0) == 500, "Retry-After 0 changes nothing");
    CHECK(push_backoff_ms(1, 1000, 60000, INT_MAX, 0) == (apr_int64_t)INT_MAX * 1000,
          "the largest Retry-After does not overflow");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    test_retry_after();
    test_apns();
    test_fcm();
    test_http();
    test_backoff();

    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
