/* One webhook POST: the request for one event to one webhook (body, X-Push-Event,
 * X-Push-Event-Id, the HMAC signature), its libcurl handle behind the egress guard, and
 * what its answer means. events.c drives many of them at once through a multi handle. */
#ifndef PUSH_SENDER_WEBHOOK_H
#define PUSH_SENDER_WEBHOOK_H

#include "sender/internal.h"
#include "sender/classify.h"

typedef struct {
    void *easy;                     /* CURL *, added to the caller's multi handle */
    struct curl_slist *headers;
    const char *app, *hook;         /* for the log */
    int refused;                    /* set by the egress guard */
    char retry_after[80];
} push_webhook_post_t;

/* The body of an event: {"type", "applicationId", "eventTimeStamp", "entity"}. */
const char *push_webhook_body(apr_pool_t *p, const char *app, const char *kind, const char *entity,
                              const char *created_ms);

/* Prepares w to POST body to url, signed with the webhook's sealed secret when it has one
 * (NULL: none). Returns 1 with w->easy ready for a multi handle, or 0 with *o saying why
 * it cannot be sent (the URL is refused, the secret cannot be opened); nothing to release
 * then. Strings must live in p until push_webhook_release. */
int push_webhook_prepare(push_sender_t *sd, apr_pool_t *p, push_webhook_post_t *w, const char *app,
                         const char *hook, const char *url, const char *sealed, const char *event_id,
                         const char *kind, const char *body, push_outcome_t *o);

/* The outcome of a finished transfer (rc is its CURLcode); logs failures. */
void push_webhook_outcome(push_sender_t *sd, apr_pool_t *p, push_webhook_post_t *w, int rc,
                          push_outcome_t *o);

/* Frees the handle and headers (the caller removed it from its multi handle first). */
void push_webhook_release(push_webhook_post_t *w);

/* The longest one POST may take: short, so that a hanging receiver costs little, and
 * never more than PushSenderTimeout. */
int push_webhook_timeout_ms(const push_sender_t *sd);

#endif
