#include "classify.h"

#include <limits.h>
#include <string.h>

#include <apr_date.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <json-c/json.h>

/* FCM's advice for QUOTA_EXCEEDED: wait at least a minute before the first retry. */
#define FCM_QUOTA_WAIT 60
/* "Sun, 06 Nov 1994 08:49:37 GMT" is 29 characters; the older forms are no longer. */
#define HTTP_DATE_MAX 64

int push_retry_after(const char *value, apr_time_t now)
{
    const char *s = value, *end;
    char date[HTTP_DATE_MAX];
    apr_int64_t n = 0;
    apr_time_t at;

    if (!s)
        return -1;
    while (apr_isspace(*s))
        s++;
    end = s + strlen(s);
    while (end > s && apr_isspace(end[-1]))
        end--;
    if (end == s)
        return -1;
    if (apr_isdigit(*s)) {
        for (const char *c = s; c < end; c++) {
            if (!apr_isdigit(*c))
                return -1;
            if (n <= INT_MAX)
                n = n * 10 + (*c - '0');
        }
        return n > INT_MAX ? INT_MAX : (int)n;
    }
    if ((apr_size_t)(end - s) >= sizeof(date))
        return -1;
    memcpy(date, s, (apr_size_t)(end - s));
    date[end - s] = '\0';
    at = apr_date_parse_http(date);
    if (at == APR_DATE_BAD)
        return -1;
    if (at <= now)
        return 0;
    /* Rounded up: a retry a fraction of a second early would be refused again. */
    n = (at - now + APR_USEC_PER_SEC - 1) / APR_USEC_PER_SEC;
    return n > INT_MAX ? INT_MAX : (int)n;
}

static void set(push_outcome_t *o, push_outcome_kind_t kind, const char *reason)
{
    o->kind = kind;
    o->reason = reason;
    o->gone_at_ms = 0;
    o->retry_after = -1;
    o->delay_ms = 0;
}

static void retry(push_outcome_t *o, const char *reason, const char *retry_after)
{
    set(o, PUSH_OUT_RETRY, reason);
    o->retry_after = push_retry_after(retry_after, apr_time_now());
}

/* No HTTP answer at all: the caller passes its transport error as the body. */
static void no_answer(apr_pool_t *p, const char *body, const char *retry_after,
                      push_outcome_t *o)
{
    retry(o, body && *body ? apr_pstrdup(p, body) : "no answer", retry_after);
}

static const char *http_reason(apr_pool_t *p, long status)
{
    return apr_psprintf(p, "HTTP %ld", status);
}

/* The answer as a JSON object, or NULL: error bodies from proxies are often HTML. */
static json_object *parse_object(const char *body)
{
    json_object *j = body && *body ? json_tokener_parse(body) : NULL;
    if (j && !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        j = NULL;
    }
    return j;
}

static json_object *member(json_object *obj, const char *key, json_type type)
{
    json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, type))
        return NULL;
    return v;
}

/* A provider's word (APNs reason, FCM errorCode or status): an identifier of at most 64
 * letters, digits and underscores, else NULL. Nothing else of an answer is kept, so that
 * no answer text reaches what a tenant can read. */
static const char *string_member(apr_pool_t *p, json_object *obj, const char *key)
{
    json_object *v = member(obj, key, json_type_string);
    const char *s = v ? json_object_get_string(v) : NULL;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!apr_isalnum(s[i]) && s[i] != '_')
            return NULL;
    return apr_pstrdup(p, s);
}

/* When Apple last saw the token valid, in ms: a number in Apple's docs; json-c reads a
 * string of digits the same way. 0 when absent. */
static apr_int64_t apns_timestamp(json_object *j)
{
    json_object *ts = NULL;
    apr_int64_t ms;
    if (!j || !json_object_object_get_ex(j, "timestamp", &ts)
        || !(json_object_is_type(ts, json_type_int) || json_object_is_type(ts, json_type_double)
             || json_object_is_type(ts, json_type_string)))
        return 0;
    ms = json_object_get_int64(ts);
    return ms > 0 ? ms : 0;
}

void push_classify_apns(apr_pool_t *p, long status, const char *body, const char *retry_after,
                        push_outcome_t *o)
{
    json_object *j;
    const char *reason;

    if (status == 0) {
        no_answer(p, body, retry_after, o);
        return;
    }
    j = parse_object(body);
    reason = string_member(p, j, "reason");
    if (!reason)
        reason = http_reason(p, status);

    if (status >= 200 && status < 300)
        set(o, PUSH_OUT_SENT, reason);
    else if (status == 400)
        set(o, !strcmp(reason, "BadDeviceToken") || !strcmp(reason, "DeviceTokenNotForTopic")
                   ? PUSH_OUT_DEVICE_GONE : PUSH_OUT_MESSAGE_BAD, reason);
    else if (status == 403)
        /* ExpiredProviderToken too: the caller sees the reason, renews and retries. */
        set(o, PUSH_OUT_CREDENTIALS, reason);
    else if (status == 410) {
        set(o, PUSH_OUT_DEVICE_GONE, reason);
        o->gone_at_ms = apns_timestamp(j);
    }
    else if (status == 429 || status >= 500)
        retry(o, reason, retry_after);
    else if (status >= 400)
        set(o, PUSH_OUT_MESSAGE_BAD, reason);
    else
        retry(o, reason, retry_after);
    json_object_put(j);
}

static int is(const char *code, const char *name)
{
    return code && !strcmp(code, name);
}

/* Whether a 400 is about the device's token rather than our payload. */
static int fcm_token_refused(apr_pool_t *p, json_object *error)
{
    json_object *details = member(error, "details", json_type_array);
    json_object *text = member(error, "message", json_type_string);   /* read, never kept */
    const char *message = text ? json_object_get_string(text) : NULL;
    size_t n = details ? json_object_array_length(details) : 0;

    if (message) {
        char *lower = apr_pstrdup(p, message);
        for (char *c = lower; *c; c++)
            *c = (char)apr_tolower(*c);
        if (strstr(lower, "registration token"))
            return 1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *v = member(json_object_array_get_idx(details, i), "fieldViolations",
                                json_type_array);
        size_t m = v ? json_object_array_length(v) : 0;
        for (size_t k = 0; k < m; k++) {
            json_object *f = member(json_object_array_get_idx(v, k), "field", json_type_string);
            if (f && !strcmp(json_object_get_string(f), "message.token"))
                return 1;
        }
    }
    return 0;
}

/* error.details[].errorCode (FCM's own), else error.status (Google's generic one). */
static const char *fcm_code(apr_pool_t *p, json_object *error)
{
    json_object *details = member(error, "details", json_type_array);
    size_t n = details ? json_object_array_length(details) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *code = string_member(p, json_object_array_get_idx(details, i), "errorCode");
        if (code)
            return code;
    }
    return string_member(p, error, "status");
}

static void fcm_retry(push_outcome_t *o, const char *reason, const char *retry_after,
                      int quota)
{
    retry(o, reason, retry_after);
    if (quota && o->retry_after < 0)
        o->retry_after = FCM_QUOTA_WAIT;
}

void push_classify_fcm(apr_pool_t *p, long status, const char *body, const char *retry_after,
                       push_outcome_t *o)
{
    json_object *j, *error;
    const char *code, *reason;

    if (status == 0) {
        no_answer(p, body, retry_after, o);
        return;
    }
    if (status >= 200 && status < 300) {
        set(o, PUSH_OUT_SENT, http_reason(p, status));
        return;
    }
    j = parse_object(body);
    error = member(j, "error", json_type_object);
    code = fcm_code(p, error);
    reason = code ? code : http_reason(p, status);

    if (is(code, "UNREGISTERED") || is(code, "SENDER_ID_MISMATCH"))
        set(o, PUSH_OUT_DEVICE_GONE, reason);
    else if (is(code, "INVALID_ARGUMENT") || (!code && status == 400))
        set(o, fcm_token_refused(p, error) ? PUSH_OUT_DEVICE_GONE : PUSH_OUT_MESSAGE_BAD, reason);
    else if (is(code, "THIRD_PARTY_AUTH_ERROR") || is(code, "UNAUTHENTICATED")
             || is(code, "PERMISSION_DENIED"))
        set(o, PUSH_OUT_CREDENTIALS, reason);
    else if (is(code, "QUOTA_EXCEEDED") || is(code, "RESOURCE_EXHAUSTED") || status == 429)
        fcm_retry(o, reason, retry_after, 1);
    else if (is(code, "UNAVAILABLE") || is(code, "INTERNAL") || status == 408 || status >= 500)
        fcm_retry(o, reason, retry_after, 0);
    else if (status == 401 || status == 403 || status == 404)
        /* A 404 that is not UNREGISTERED is a wrong project id or endpoint: disabling
         * every device it is sent to would be the wrong cure. */
        set(o, PUSH_OUT_CREDENTIALS, reason);
    else if (status >= 400)
        set(o, PUSH_OUT_MESSAGE_BAD, reason);
    else
        fcm_retry(o, reason, retry_after, 0);
    json_object_put(j);
}

void push_classify_http(apr_pool_t *p, long status, const char *retry_after, push_outcome_t *o)
{
    if (status == 0)
        no_answer(p, NULL, retry_after, o);
    else if (status >= 200 && status < 300)
        set(o, PUSH_OUT_SENT, http_reason(p, status));
    else if (status == 408 || status == 429 || status >= 500)
        retry(o, http_reason(p, status), retry_after);
    else
        set(o, PUSH_OUT_MESSAGE_BAD, http_reason(p, status));
}

apr_int64_t push_backoff_ms(int attempt, apr_int64_t base_ms, apr_int64_t cap_ms,
                            int retry_after, unsigned int rnd)
{
    apr_int64_t ceiling = base_ms > 0 ? base_ms : 0, half, wait;

    if (cap_ms < 0)
        cap_ms = 0;
    for (int i = 1; i < attempt && ceiling > 0 && ceiling < cap_ms; i++)
        ceiling = ceiling > cap_ms / 2 ? cap_ms : ceiling * 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    /* Equal jitter: spread retries apart, but never below half the step. */
    half = ceiling / 2;
    wait = half + (apr_int64_t)((apr_uint64_t)rnd % (apr_uint64_t)(ceiling - half + 1));
    if (retry_after >= 0 && wait < (apr_int64_t)retry_after * 1000)
        wait = (apr_int64_t)retry_after * 1000;
    return wait;
}
