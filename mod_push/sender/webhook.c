/* One webhook POST (see webhook.h). The URL is a tenant's: it is checked again before
 * each POST (it may have been stored before the guard, or the allow list changed) and the
 * connection goes through the egress guard. Neither the receiver's answer body nor
 * libcurl's error text is kept where a tenant could read it: the outcome's reason is the
 * HTTP status, "no answer", "timed out" or the guard's refusal; the details go to the
 * error log. */
#include "sender/webhook.h"

#include <apr_strings.h>
#include <curl/curl.h>

#include "core/secret.h"
#include "sender/egress.h"
#include "sender/jwt.h"

#define HOOK_TIMEOUT_MS 5000

int push_webhook_timeout_ms(const push_sender_t *sd)
{
    return sd->c->timeout_ms < HOOK_TIMEOUT_MS ? sd->c->timeout_ms : HOOK_TIMEOUT_MS;
}

const char *push_webhook_body(apr_pool_t *p, const char *app, const char *kind, const char *entity,
                              const char *created_ms)
{
    json_object *ev = json_object_new_object();
    const char *body;
    json_object_object_add(ev, "type", json_object_new_string(kind));
    json_object_object_add(ev, "applicationId", json_object_new_string(app));
    json_object_object_add(ev, "eventTimeStamp", json_object_new_int64(apr_atoi64(created_ms)));
    json_object_object_add(ev, "entity", json_tokener_parse(entity));
    body = apr_pstrdup(p, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
    json_object_put(ev);
    return body;
}

static size_t discard(char *d, size_t s, size_t n, void *c)
{
    (void)d;
    (void)c;
    return s * n;
}

static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
    push_webhook_post_t *w = ctx;
    size_t len = size * n;
    if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
        size_t k = 0;
        const char *v = line + 12;
        while (v < line + len && *v == ' ')
            v++;
        while (k + 1 < sizeof(w->retry_after) && v + k < line + len && v[k] != '\r' && v[k] != '\n')
            k++;
        memcpy(w->retry_after, v, k);
        w->retry_after[k] = '\0';
    }
    return len;
}

static void cannot_send(push_outcome_t *o, const char *reason)
{
    o->kind = PUSH_OUT_MESSAGE_BAD;
    o->reason = reason;
    o->gone_at_ms = 0;
    o->retry_after = -1;
}

/* The X-Push-Signature value, or NULL (logged) when the secret cannot be opened. */
static const char *signature(push_sender_t *sd, apr_pool_t *p, const char *app, const char *hook,
                             const char *sealed, const char *body)
{
    unsigned char *key;
    apr_size_t keylen;
    const char *err = NULL;
    if (sd->c->key &&
        push_secret_open_text(p, sd->c->key, sealed, push_secret_aad_webhook(p, app, hook), &key, &keylen, &err))
        return apr_pstrcat(p, "X-Push-Signature: sha256=", push_hmac_sha256_hex(p, key, keylen, body, strlen(body)),
                           NULL);
    /* never send unsigned what the receiver expects signed */
    SLOG(sd, APLOG_ERR, "PUSH0641", "sender: cannot sign events for webhook %s of %s: %s", hook, app,
         err ? err : "no PushSecretKey");
    return NULL;
}

int push_webhook_prepare(push_sender_t *sd, apr_pool_t *p, push_webhook_post_t *w, const char *app,
                         const char *hook, const char *url, const char *sealed, const char *event_id,
                         const char *kind, const char *body, push_outcome_t *o)
{
    const char *proxy = sd->c->endpoint[PUSH_EP_WEBHOOK_PROXY], *problem, *sig = NULL;
    CURL *e;

    memset(w, 0, sizeof(*w));
    w->app = app;
    w->hook = hook;
    if ((problem = push_egress_url_problem(p, url, sd->c->egress))) {
        SLOG(sd, APLOG_WARNING, "PUSH0644", "sender: webhook %s of %s refused by the egress guard: %s", hook,
             app, problem);
        cannot_send(o, PUSH_EGRESS_REFUSED);
        return 0;
    }
    if (sealed && !(sig = signature(sd, p, app, hook, sealed, body))) {
        cannot_send(o, "cannot sign");
        return 0;
    }
    e = curl_easy_init();
    push_curl_common(sd, e, url, 0);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)push_webhook_timeout_ms(sd));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)push_webhook_timeout_ms(sd));
    if (proxy) {
        /* the operator's proxy is trusted with the connection (and resolves the name) */
        curl_easy_setopt(e, CURLOPT_PROXY, proxy);
    } else {
        push_egress_attach(e, sd->c->egress, &w->refused);
    }
    w->headers = curl_slist_append(w->headers, "Content-Type: application/json");
    w->headers = curl_slist_append(w->headers, apr_pstrcat(p, "X-Push-Event: ", kind, NULL));
    w->headers = curl_slist_append(w->headers, apr_pstrcat(p, "X-Push-Event-Id: ", event_id, NULL));
    if (sig)
        w->headers = curl_slist_append(w->headers, sig);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, w);
    w->easy = e;
    return 1;
}

void push_webhook_outcome(push_sender_t *sd, apr_pool_t *p, push_webhook_post_t *w, int rc,
                          push_outcome_t *o)
{
    long status = 0;
    /* refused is set when any address was refused; it is the reason only when no other
     * address could be connected to */
    if (w->refused && (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_COULDNT_CONNECT)) {
        SLOG(sd, APLOG_WARNING, "PUSH0644", "sender: webhook %s of %s refused by the egress guard: its "
             "host is an internal address", w->hook, w->app);
        cannot_send(o, PUSH_EGRESS_REFUSED);
        return;
    }
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
    push_classify_http(p, rc == CURLE_OK ? status : 0, w->retry_after, o);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        o->reason = "timed out";
    if (o->kind != PUSH_OUT_SENT)
        SLOG(sd, APLOG_WARNING, "PUSH0642", "sender: webhook %s of %s: %s%s%s", w->hook, w->app, o->reason,
             rc == CURLE_OK ? "" : ": ", rc == CURLE_OK ? "" : curl_easy_strerror((CURLcode)rc));
}

void push_webhook_release(push_webhook_post_t *w)
{
    if (w->easy)
        curl_easy_cleanup(w->easy);
    curl_slist_free_all(w->headers);
    w->easy = NULL;
    w->headers = NULL;
}
