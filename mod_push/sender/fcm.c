/* FCM HTTP v1: a service account's assertion (RS256) exchanged for an access token at
 * Google's token endpoint, on the credential thread; one request per device to
 * /v1/projects/<project>/messages:send; the answer classified by FCM's error codes.
 * Only Google's token endpoint is spoken to, unless the operator names another with
 * PushProviderEndpoint fcm-token: a service account's token_uri is tenant input. */
#include "sender/provider.h"

#include <apr_escape.h>
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

static int fcm_build(push_sender_t *sd, apr_pool_t *p, push_req_t *rq)
{
    fcm_cred_t *f = rq->cr->state;
    const char *body, *err;
    apr_int64_t ttl = -1;
    struct curl_slist *h = NULL;

    if (rq->m->expires)
        ttl = apr_time_sec(rq->m->expires - apr_time_now());
    if (!(rq->topic ? push_rc_fcm_map(p, rq->m->body, rq->token, ttl < 0 ? -1 : ttl, &rq->m->rc, &body, &err)
                    : push_fcm_map(p, rq->m->body, rq->token, ttl < 0 ? -1 : ttl, rq->m->priv, &body, &err)))
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, err), 0;
    if (!push_req_bearer(sd, rq))
        return 0;
    push_curl_common(sd, rq->easy,
                     apr_pstrcat(p, sd->c->endpoint[PUSH_EP_FCM], "/v1/projects/",
                                 apr_pescape_path_segment(p, f->project), "/messages:send", NULL), 1);
    h = curl_slist_append(h, apr_pstrcat(p, "authorization: Bearer ", rq->bearer, NULL));
    h = curl_slist_append(h, "content-type: application/json");
    rq->headers = h;
    curl_easy_setopt(rq->easy, CURLOPT_COPYPOSTFIELDS, body);
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
