/* A provider's answer to one delivery, turned into what the sender does next: done,
 * disable the device, give up on the message, stop the application until its
 * credentials change, or try again later (and when). The rules follow each provider's
 * own documentation (docs providers.md). No httpd headers; json-c reads the bodies. */
#ifndef PUSH_CLASSIFY_H
#define PUSH_CLASSIFY_H

#include <apr_pools.h>
#include <apr_time.h>

typedef enum {
    PUSH_OUT_SENT,          /* accepted */
    PUSH_OUT_DEVICE_GONE,   /* the token is dead: disable the device */
    PUSH_OUT_MESSAGE_BAD,   /* our payload or request: record it, never retry it */
    PUSH_OUT_CREDENTIALS,   /* stop sending for the application, report it */
    PUSH_OUT_RETRY,         /* transient: back off and try again */
    PUSH_OUT_WAIT,          /* not tried: the credential's token is not there yet; does
                             * not count as an attempt */
    PUSH_OUT_EXPIRED        /* the message expired before it could be delivered */
} push_outcome_kind_t;

typedef struct {
    push_outcome_kind_t kind;
    /* The provider's own word, to store and to act on: the APNs reason
     * ("BadDeviceToken", "ExpiredProviderToken": renew the token and retry), the FCM
     * errorCode ("UNREGISTERED", "UNAUTHENTICATED": renew the access token), else
     * "HTTP <status>"; for status 0 the transport error given as the body, else
     * "no answer". Never NULL. */
    const char *reason;
    apr_int64_t gone_at_ms;   /* APNs 410 timestamp (ms since the epoch), 0 if none */
    int retry_after;          /* seconds, -1 none; set only for PUSH_OUT_RETRY */
    apr_int64_t delay_ms;     /* PUSH_OUT_WAIT: when to look again */
} push_outcome_t;

/* A Retry-After value, delta-seconds or an HTTP date (counted from now), as seconds
 * (0 for a date past, at most INT_MAX), or -1 when absent or unreadable. */
int push_retry_after(const char *value, apr_time_t now);

/* APNs: status 0 (no answer: transport error, timeout, GOAWAY) and 429 and 5xx retry;
 * 200 sent; 400 BadDeviceToken or DeviceTokenNotForTopic, and 410 (with its timestamp),
 * the device is gone; other 400s, 404, 405 and 413 the message is bad; 403 is
 * credentials, ExpiredProviderToken included (the caller renews the token and may
 * retry). body is the answer's JSON, or NULL. */
void push_classify_apns(apr_pool_t *p, long status, const char *body, const char *retry_after,
                        push_outcome_t *o);

/* FCM HTTP v1, by error.details[].errorCode, else error.status, else the HTTP status:
 * 200 sent; UNREGISTERED, SENDER_ID_MISMATCH and an INVALID_ARGUMENT about the
 * registration token, the device is gone; other INVALID_ARGUMENTs the message is bad;
 * THIRD_PARTY_AUTH_ERROR, UNAUTHENTICATED, PERMISSION_DENIED and a 404 without
 * UNREGISTERED (a wrong project) are credentials; QUOTA_EXCEEDED retries after 60
 * seconds when Retry-After is absent; UNAVAILABLE, INTERNAL, 5xx and status 0 retry. */
void push_classify_fcm(apr_pool_t *p, long status, const char *body, const char *retry_after,
                       push_outcome_t *o);

/* Webhooks and the SMS gateway: 2xx sent; 0, 408, 429 and 5xx retry; anything else
 * (other 4xx, redirects, which are not followed) the message is bad. */
void push_classify_http(apr_pool_t *p, long status, const char *retry_after, push_outcome_t *o);

/* The wait before retry number attempt (1-based): exponential from base_ms, doubling
 * each attempt up to cap_ms, with equal jitter: between half of that and all of it,
 * chosen by rnd (any random value). Below the cap a later wait is never shorter than
 * an earlier one, whatever rnd was. When retry_after >= 0 the wait is at least
 * retry_after seconds, even past cap_ms. */
apr_int64_t push_backoff_ms(int attempt, apr_int64_t base_ms, apr_int64_t cap_ms,
                            int retry_after, unsigned int rnd);

#endif
