/* FCM HTTP v1: a service account's assertion (RS256) exchanged for an access token at
 * Google's token endpoint, on the credential thread; one request per device to
 * /v1/projects/<project>/messages:send; the answer classified by FCM's error codes.
 * Only Google's token endpoint is spoken to, unless the operator names another with
 * PushProviderEndpoint fcm-token: a service account's token_uri is tenant input. */
#include "sender/provider.h"

#include <apr_escape.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "sender/jwt.h"


#define FCM_SCOPE     "https://www.googleapis.com/auth/firebase.messaging"
#define GOOGLE_TOKEN  PUSH_GOOGLE_TOKEN_URI

typedef struct {
    EVP_PKEY *key;
    const char *email, *project;
    const char *token_uri;          /* where the assertion goes (and its audience) */
} fcm_cred_t;

static const char *str_at(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static apr_status_t free_key(void *data)
{
    EVP_PKEY_free(((fcm_cred_t *)data)->key);
    return APR_SUCCESS;
}

static const char *fcm_cred_open(push_sender_t *sd, push_cred_t *cr)
{
    fcm_cred_t *f = apr_pcalloc(cr->pool, sizeof(*f));
    const char *api = str_at(cr->config, "api"), *pk, *uri, *err = NULL;
    json_object *account;

    cr->state = f;
    cr->bearer_kind = PUSH_BEARER_REMOTE;
    if (!api || strcmp(api, "v1") != 0)
        return "the legacy FCM API (apiKey) no longer sends: configure a service account";
    if (!(account = json_tokener_parse(cr->secret)))
        return "the stored service account is not JSON";
    pk = str_at(account, "private_key");
    uri = str_at(account, "token_uri");
    f->email = str_at(account, "client_email") ? apr_pstrdup(cr->pool, str_at(account, "client_email"))
                                               : str_at(cr->config, "clientEmail");
    f->project = str_at(cr->config, "projectId");
    if (pk && (f->key = push_pem_private_key(pk, strlen(pk), &err)))
        apr_pool_cleanup_register(cr->pool, f, free_key, apr_pool_cleanup_null);
    json_object_put(account);
    if (sd->c->endpoint[PUSH_EP_FCM_TOKEN])
        f->token_uri = sd->c->endpoint[PUSH_EP_FCM_TOKEN];
    else if (!uri || strcmp(uri, GOOGLE_TOKEN) == 0)
        f->token_uri = GOOGLE_TOKEN;
    else
        return "the service account's token_uri is not " GOOGLE_TOKEN;
    if (!f->key)
        return apr_pstrcat(cr->pool, "service account key: ", err ? err : "no private_key", NULL);
    if (!f->email)
        return "the service account has no client_email";
    if (!f->project || !*f->project)
        return "no projectId";
    return NULL;
}

static int fcm_bearer_start(push_sender_t *sd, push_cred_t *cr, apr_pool_t *p, CURL *easy,
                            push_body_buf_t *answer, const char **error)
{
    fcm_cred_t *f = cr->state;
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *jwt = push_jwt_rs256(p, f->key, f->email, FCM_SCOPE, f->token_uri, now, now + 3600, error);
    if (!jwt)
        return 0;
    push_curl_common(sd, easy, f->token_uri, 0);
    curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS,
                     apr_pstrcat(p, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                                    "&assertion=", jwt, NULL));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, push_curl_keep);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, answer);
    return 1;
}

/* What the token endpoint said, in our words: its answer text stays inside. */
static const char *fcm_bearer_done(push_cred_t *cr, apr_pool_t *p, long status, CURLcode rc,
                                   const char *answer, apr_time_t *until, const char **error,
                                   int *refused)
{
    json_object *o, *v;
    const char *tok = NULL;
    (void)cr;
    if (status == 0) {
        *error = apr_pstrcat(p, "no answer from the FCM token endpoint (", curl_easy_strerror(rc), ")", NULL);
        return NULL;
    }
    if (status == 400 || status == 401 || status == 403) {
        *error = apr_psprintf(p, "the FCM token endpoint refused the credentials (HTTP %ld)", status);
        *refused = 1;
        return NULL;
    }
    o = status == 200 ? json_tokener_parse(answer) : NULL;
    if (o && (tok = str_at(o, "access_token")) && *tok && push_header_safe(tok)) {
        int secs = json_object_object_get_ex(o, "expires_in", &v) ? json_object_get_int(v) : 3600;
        tok = apr_pstrdup(p, tok);
        *until = apr_time_now() + apr_time_from_sec(secs > 0 ? secs : 60);
    } else {
        tok = NULL;
        *error = status == 200 ? "the FCM token endpoint answered without an access token"
                               : apr_psprintf(p, "the FCM token endpoint answered HTTP %ld", status);
    }
    json_object_put(o);
    return tok;
}

/* A message as FCM gets it, mapped once per message and shape rather than per device:
 * both mappings begin with the token, {"message":{"token":"...", so the body of one
 * device is that opening, its token and the rest of the text, for a token that needs
 * no escaping (FCM's do not). The time to live counts down: the rest is mapped again
 * when its second changes. The headers are kept with it, for one bearer token. */
#define FCM_OPENING "{\"message\":{\"token\":\""
#define FCM_PROBE   "t"

typedef struct {
    apr_int64_t ttl;                /* what the rest says; -2: not mapped yet */
    const char *rest;               /* after the token's closing quote; NULL: map per device */
    apr_size_t rest_len;
    const char *error;              /* the message cannot be mapped */
    struct curl_slist *headers;
    char *headers_bearer;           /* malloc'd */
} fcm_mapped_t;

static apr_status_t free_headers(void *data)
{
    fcm_mapped_t *fm = data;
    curl_slist_free_all(fm->headers);
    free(fm->headers_bearer);
    fm->headers = NULL;
    fm->headers_bearer = NULL;
    return APR_SUCCESS;
}

static int fcm_map(apr_pool_t *p, push_msg_t *m, int rc, const char *token, apr_int64_t ttl,
                   const char **body, const char **err)
{
    return rc ? push_rc_fcm_map(p, m->body, token, ttl, &m->rc, body, err)
              : push_fcm_map(p, m->body, token, ttl, m->priv, body, err);
}

static fcm_mapped_t *mapped_for(push_msg_t *m, int rc, apr_int64_t ttl)
{
    fcm_mapped_t **pair = (fcm_mapped_t **)&m->mapped[push_provider_fcm.slot], *fm;
    const char *body, *err;
    apr_size_t n = sizeof(FCM_OPENING FCM_PROBE "\"") - 1;
    if (!*pair) {
        *pair = apr_pcalloc(m->pool, 2 * sizeof(**pair));
        (*pair)[0].ttl = (*pair)[1].ttl = -2;
        apr_pool_cleanup_register(m->pool, &(*pair)[0], free_headers, apr_pool_cleanup_null);
        apr_pool_cleanup_register(m->pool, &(*pair)[1], free_headers, apr_pool_cleanup_null);
    }
    fm = &(*pair)[rc ? 1 : 0];
    if (fm->ttl == ttl)
        return fm;
    fm->ttl = ttl;
    fm->rest = fm->error = NULL;
    if (!fcm_map(m->pool, m, rc, FCM_PROBE, ttl, &body, &err))
        fm->error = err;
    else if (strncmp(body, FCM_OPENING FCM_PROBE "\"", n) == 0) {
        fm->rest = body + n;
        fm->rest_len = strlen(fm->rest);
    }
    return fm;
}

/* FCM's tokens: letters, digits and -_:. , nothing a JSON string escapes */
static int token_plain(const char *t)
{
    if (!*t)
        return 0;
    for (; *t; t++)
        if (!apr_isalnum(*t) && *t != '-' && *t != '_' && *t != ':' && *t != '.')
            return 0;
    return 1;
}

static int fcm_build(push_sender_t *sd, apr_pool_t *p, push_req_t *rq)
{
    fcm_cred_t *f = rq->cr->state;
    const char *body, *err;
    apr_int64_t ttl = -1;
    apr_size_t len;
    fcm_mapped_t *fm;

    if (rq->m->expires) {
        ttl = apr_time_sec(rq->m->expires - apr_time_now());
        if (ttl < 0)
            ttl = -1;
    }
    fm = mapped_for(rq->m, rq->topic != NULL, ttl);
    if (fm->error)
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, fm->error), 0;
    if (fm->rest && rq->token && token_plain(rq->token)) {
        apr_size_t t = strlen(rq->token), o = sizeof(FCM_OPENING) - 1;
        char *b = apr_palloc(p, o + t + 1 + fm->rest_len + 1);
        memcpy(b, FCM_OPENING, o);
        memcpy(b + o, rq->token, t);
        b[o + t] = '"';
        memcpy(b + o + t + 1, fm->rest, fm->rest_len + 1);
        body = b;
        len = o + t + 1 + fm->rest_len;
    } else if (fcm_map(p, rq->m, rq->topic != NULL, rq->token, ttl, &body, &err)) {
        len = strlen(body);
    } else {
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, err), 0;
    }
    if (!push_req_bearer(sd, rq))
        return 0;
    push_curl_common(sd, rq->easy,
                     apr_pstrcat(p, sd->c->endpoint[PUSH_EP_FCM], "/v1/projects/",
                                 apr_pescape_path_segment(p, f->project), "/messages:send", NULL), 1);
    if (fm->headers_bearer && strcmp(fm->headers_bearer, rq->bearer) == 0) {
        rq->headers = fm->headers;
        rq->headers_shared = 1;
    } else {
        struct curl_slist *h = curl_slist_append(NULL, apr_pstrcat(p, "authorization: Bearer ", rq->bearer, NULL));
        h = h ? curl_slist_append(h, "content-type: application/json") : NULL;
        rq->headers = h;
        if (h && !fm->headers_bearer && (fm->headers_bearer = strdup(rq->bearer))) {
            /* the first with this mapping: kept for the next requests (the message's
             * cache, and these, are cleared only with no request under way) */
            fm->headers = h;
            rq->headers_shared = 1;
        }
    }
    /* the body lives in the unit's pool until the request has ended */
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDSIZE, (long)len);
    return 1;
}

static void fcm_classify(push_sender_t *sd, apr_pool_t *p, push_req_t *rq, long status, CURLcode rc)
{
    push_classify_fcm(p, status, status ? rq->resp : curl_easy_strerror(rc), rq->retry_after, &rq->out);
    if (rq->out.kind == PUSH_OUT_SENT) {
        json_object *r = json_tokener_parse(rq->resp);
        const char *name = str_at(r, "name");
        if (name)
            rq->provider_id = apr_pstrdup(p, name);
        json_object_put(r);
    } else if (rq->out.kind == PUSH_OUT_CREDENTIALS && strcmp(rq->out.reason, "UNAUTHENTICATED") == 0) {
        /* the access token was revoked or aged: a new one, and this delivery again */
        push_cred_renew(sd, rq->cr, rq->bearer);
        rq->out.kind = PUSH_OUT_RETRY;
    }
}

const push_provider_t push_provider_fcm = {
    "fcm", 1, fcm_cred_open, NULL, fcm_bearer_start, fcm_bearer_done, fcm_build, fcm_classify,
};
