/* Web Push (RFC 8030, 8291, 8292): the application's VAPID key from webpushConf, one
 * POST per subscription to the endpoint the browser's push service gave it, the payload
 * encrypted for that subscription alone (webpush_core.c). Endpoints are end-user input:
 * each is checked by the egress guard before use and its connection is guarded; these
 * transfers stay on the credential's own multi handle (deliver.c keeps one per
 * credential), which carries nothing unguarded. VAPID tokens are per push-service
 * origin, so they are cached here, per origin, rather than as the credential's one
 * bearer. */
#include "sender/provider.h"

#include <apr_hash.h>
#include <apr_strings.h>

#include "sender/egress.h"
#include "sender/jwt.h"
#include "sender/webpush_core.h"

#define JWT_RENEW   apr_time_from_sec(3600)  /* a cached token is replaced this long before exp */
#define JWT_CACHED  256                      /* origins remembered per credential */

typedef struct {
    const char *jwt;
    apr_time_t until;
} vapid_token_t;

typedef struct {
    EVP_PKEY *key;
    const char *public_b64;         /* k= of the Authorization header */
    const char *subject;
    apr_pool_t *tokens_pool;        /* under cr->lock: the tokens per origin */
    apr_hash_t *tokens;
} webpush_cred_t;

/* A message mapped once, kept with the message (in one worker's cache: the key generation
 * context is that worker's alone). */
typedef struct {
    push_webpush_request_t req;
    const char *error;
    EVP_PKEY_CTX *keygen;           /* the ephemeral keys of this message's deliveries */
} webpush_mapped_t;

static apr_status_t free_keygen(void *data)
{
    EVP_PKEY_CTX_free(((webpush_mapped_t *)data)->keygen);
    return APR_SUCCESS;
}

static apr_status_t free_key(void *data)
{
    EVP_PKEY_free(((webpush_cred_t *)data)->key);
    return APR_SUCCESS;
}

static const char *str_at(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static const char *webpush_cred_open(push_sender_t *sd, push_cred_t *cr)
{
    webpush_cred_t *w = apr_pcalloc(cr->pool, sizeof(*w));
    unsigned char d[PUSH_WEBPUSH_SCALAR], pub[PUSH_WEBPUSH_POINT];
    const char *err = NULL;
    (void)sd;
    cr->state = w;
    cr->bearer_kind = PUSH_BEARER_NONE;   /* the VAPID tokens are per origin: see vapid_for */
    w->subject = str_at(cr->config, "subject");
    if (!w->subject || !push_header_safe(w->subject))
        return "the Web Push subject is missing or holds characters a token cannot carry";
    if (!push_webpush_b64_decode(cr->secret, d, sizeof(d)))
        return "the stored VAPID private key is unreadable";
    w->key = push_webpush_key_from_private(d, pub, &err);
    OPENSSL_cleanse(d, sizeof(d));
    if (!w->key)
        return apr_pstrcat(cr->pool, "VAPID key: ", err, NULL);
    apr_pool_cleanup_register(cr->pool, w, free_key, apr_pool_cleanup_null);
    push_b64url(cr->pool, pub, sizeof(pub), &w->public_b64);
    apr_pool_create(&w->tokens_pool, cr->pool);
    w->tokens = apr_hash_make(w->tokens_pool);
    return NULL;
}

/* The VAPID token for origin, copied into p (another thread may start the cache over):
 * made once per origin and kept until an hour before it expires. NULL and *error when
 * it cannot be signed. */
static const char *vapid_for(push_cred_t *cr, apr_pool_t *p, const char *origin, const char **error)
{
    webpush_cred_t *w = cr->state;
    apr_time_t now = apr_time_now();
    vapid_token_t *t;
    const char *jwt = NULL;

    apr_thread_mutex_lock(cr->lock);
    t = apr_hash_get(w->tokens, origin, APR_HASH_KEY_STRING);
    if (t && now < t->until) {
        jwt = t->jwt;
    } else {
        apr_int64_t exp = apr_time_sec(now) + PUSH_WEBPUSH_JWT_LIFE;
        if (!t && apr_hash_count(w->tokens) >= JWT_CACHED) {
            /* many push services (or a flood of odd endpoints): start the cache over */
            apr_pool_clear(w->tokens_pool);
            w->tokens = apr_hash_make(w->tokens_pool);
        }
        if ((jwt = push_webpush_jwt(w->tokens_pool, w->key, origin, exp, w->subject, error))) {
            if (!(t = apr_hash_get(w->tokens, origin, APR_HASH_KEY_STRING))) {
                t = apr_palloc(w->tokens_pool, sizeof(*t));
                apr_hash_set(w->tokens, apr_pstrdup(w->tokens_pool, origin), APR_HASH_KEY_STRING, t);
            }
            t->jwt = jwt;
            t->until = apr_time_from_sec(exp) - JWT_RENEW;
        }
    }
    if (jwt)
        jwt = apr_pstrdup(p, jwt);
    apr_thread_mutex_unlock(cr->lock);
    return jwt;
}

static webpush_mapped_t *mapped_for(push_req_t *rq)
{
    push_msg_t *m = rq->m;
    webpush_mapped_t *wm = m->mapped[push_provider_webpush.slot];
    const char *err = NULL;
    if (wm)
        return wm;
    wm = apr_pcalloc(m->pool, sizeof(*wm));
    if (!push_webpush_map(m->pool, m->body, rq->msg, m->priv, &wm->req, &err))
        wm->error = apr_pstrdup(m->pool, err);
    else if ((wm->keygen = push_webpush_keygen_new()))
        apr_pool_cleanup_register(m->pool, wm, free_keygen, apr_pool_cleanup_null);
    m->mapped[push_provider_webpush.slot] = wm;
    return wm;
}

/* The device's subscription: MobileFirst devices carry its JSON text as their token;
 * Navixy's w3c_pushapi binding keeps the endpoint as the token and the keys beside it. */
static const char *subscription(push_sender_t *sd, apr_pool_t *p, push_req_t *rq, push_webpush_sub_t *sub)
{
    const char *params[2] = {rq->app, rq->dev}, *why;
    PGresult *res;
    if (rq->token[0] == '{')
        return push_webpush_sub_stored(p, rq->token, sub);
    if (strncmp(rq->token, "https://", 8) != 0)
        return "the endpoint is not an https URL";
    res = push_pg_exec(sd, rq->db, "SELECT extra->>'p256dh', extra->>'auth' FROM push_device "
                                   "WHERE app_id = $1 AND device_id = $2", 2, params);
    if (!res)
        return "database";
    why = PQntuples(res) == 1
              ? push_webpush_keys_stored(PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
                                  PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1), sub)
              : "the device was removed";
    PQclear(res);
    sub->endpoint = rq->token;
    return why;
}

static int webpush_build(push_sender_t *sd, apr_pool_t *p, push_req_t *rq)
{
    webpush_cred_t *w = rq->cr->state;
    webpush_mapped_t *wm = mapped_for(rq);
    push_webpush_sub_t sub;
    const char *why, *origin, *jwt, *err = NULL;
    unsigned char *body;
    apr_size_t body_len;
    apr_int64_t ttl = PUSH_WEBPUSH_TTL_MAX;
    struct curl_slist *h = NULL;

    if (wm->error)
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, wm->error), 0;
    if ((why = subscription(sd, p, rq, &sub))) {
        if (strcmp(why, "database") == 0) {
            push_req_decide(rq, PUSH_OUT_WAIT, why);
            rq->out.delay_ms = 1000;
            return 0;
        }
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, apr_pstrcat(p, "the subscription: ", why, NULL)), 0;
    }
    if ((why = push_egress_url_problem(p, sub.endpoint, sd->c->egress)))
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, apr_pstrcat(p, PUSH_EGRESS_REFUSED ": ", why, NULL)), 0;
    if (!(origin = push_webpush_origin(p, sub.endpoint)))
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, "the subscription: the endpoint has no origin"), 0;
    if (!(jwt = vapid_for(rq->cr, p, origin, &err)))
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, apr_pstrcat(p, "VAPID token: ", err, NULL)), 0;
    if (!push_webpush_encrypt(p, wm->keygen, &sub, (const unsigned char *)wm->req.body, wm->req.body_len,
                              &body, &body_len, &err))
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, err), 0;
    if (rq->m->expires) {
        ttl = apr_time_sec(rq->m->expires - apr_time_now());
        if (ttl < 0)
            ttl = 0;
        if (ttl > PUSH_WEBPUSH_TTL_MAX)
            ttl = PUSH_WEBPUSH_TTL_MAX;
    }
    push_curl_common(sd, rq->easy, sub.endpoint, 1);
    push_egress_attach(rq->easy, sd->c->egress, &rq->refused);
    h = curl_slist_append(h, apr_psprintf(p, "TTL: %" APR_INT64_T_FMT, ttl));
    h = curl_slist_append(h, "Content-Encoding: aes128gcm");
    h = curl_slist_append(h, "Content-Type: application/octet-stream");
    h = curl_slist_append(h, apr_pstrcat(p, "Authorization: vapid t=", jwt, ", k=", w->public_b64, NULL));
    if (wm->req.urgency)
        h = curl_slist_append(h, apr_pstrcat(p, "Urgency: ", wm->req.urgency, NULL));
    if (wm->req.topic)
        h = curl_slist_append(h, apr_pstrcat(p, "Topic: ", wm->req.topic, NULL));
    rq->headers = h;
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDSIZE, (long)body_len);
    return 1;
}

static void webpush_classify(push_sender_t *sd, apr_pool_t *p, push_req_t *rq, long status, CURLcode rc)
{
    (void)sd;
    if (status == 0 && rq->refused && (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_COULDNT_CONNECT)) {
        /* the name resolved to an address the guard refuses */
        push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, PUSH_EGRESS_REFUSED);
        return;
    }
    /* only our words: the push service's answer text and libcurl's stay out of it */
    push_classify_webpush(p, status, rq->retry_after, &rq->out);
    if (status == 0 && rc == CURLE_OPERATION_TIMEDOUT)
        rq->out.reason = "timed out";
}

const push_provider_t push_provider_webpush = {
    "webpush", 3, webpush_cred_open, NULL, NULL, NULL, webpush_build, webpush_classify,
};
