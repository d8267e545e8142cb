/* APNs: token auth (an ES256 provider token made here from the team's .p8 key) or
 * certificate auth (the uploaded .p12, opened once per credential version, as the TLS
 * client certificate), one HTTP/2
 * request per device to /3/device/<token>, the payload mapped once per message and
 * topic (payload.c), the answer classified by Apple's reasons (classify.c). */
#include "sender/provider.h"

#include <stdlib.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_escape.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "core/p12.h"
#include "sender/jwt.h"


#define APNS_TOKEN_RENEW apr_time_from_sec(30 * 60)   /* Apple: between 20 and 60 minutes */

typedef struct {
    EVP_PKEY *key;                  /* token auth */
    const char *key_id, *team_id;
    const char *bundle_id;          /* the topic when the device names none */
    int sandbox;
    int certificate;                /* certificate auth: the blobs below */
    struct curl_blob cert, cert_key;   /* PEM: the .p12 is opened once per credential version */
} apns_cred_t;

/* A message mapped for one topic and shape, kept with the message (a few of them). */
typedef struct apns_mapped {
    struct apns_mapped *next;
    const char *topic;
    int shape;                      /* SHAPE_* */
    push_apns_request_t req;
    const char *error;
    /* the request headers, built once per mapping and bearer token (the provider token
     * changes every half hour: a mapping older than that builds its headers per request) */
    struct curl_slist *headers;
    char *headers_bearer;           /* malloc'd; NULL for certificate auth */
    int headers_made;               /* 1: headers are kept; -1: never (a reused mapping) */
} apns_mapped_t;

static apr_status_t free_headers(void *data)
{
    apns_mapped_t *am = data;
    curl_slist_free_all(am->headers);
    free(am->headers_bearer);
    am->headers = NULL;
    am->headers_bearer = NULL;
    return APR_SUCCESS;
}

enum { SHAPE_MF, SHAPE_RC, SHAPE_RC_VOIP };
#define MAPPED_MAX 4

static const char *str_at(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static apr_status_t free_key(void *data)
{
    EVP_PKEY_free(((apns_cred_t *)data)->key);
    return APR_SUCCESS;
}

static const char *apns_cred_open(push_sender_t *sd, push_cred_t *cr)
{
    apns_cred_t *a = apr_pcalloc(cr->pool, sizeof(*a));
    const char *auth = str_at(cr->config, "authType"), *err = NULL;
    json_object *v;
    cr->state = a;
    a->bundle_id = str_at(cr->config, "bundleId");
    a->sandbox = json_object_object_get_ex(cr->config, "isSandBox", &v) && json_object_get_boolean(v);
    if (a->bundle_id && !push_header_safe(a->bundle_id))
        return "the bundle id holds characters a header cannot carry";
    if (auth && strcmp(auth, "certificate") == 0) {
        /* opened here, once: a .p12 given to libcurl as it is would be decrypted again,
         * key derivation and all, on every TLS connection */
        json_object *sealed = json_tokener_parse(cr->secret);
        const char *b64 = str_at(sealed, "p12"), *pass = str_at(sealed, "password");
        const char *cert = NULL, *key = NULL, *chain = NULL;
        int ok = 0;
        if (b64) {
            unsigned char *der = apr_palloc(cr->pool, apr_base64_decode_len(b64));
            size_t n = (size_t)apr_base64_decode_binary(der, b64);
            ok = push_p12_open(cr->pool, der, n, pass, &cert, &key, &chain, &err);
        }
        json_object_put(sealed);
        if (!b64)
            return "the stored certificate is unreadable";
        if (!ok)
            return apr_pstrcat(cr->pool, "APNs certificate: ", err, NULL);
        cert = chain ? apr_pstrcat(cr->pool, cert, chain, NULL) : cert;
        a->cert.data = (void *)cert;
        a->cert.len = strlen(cert);
        a->cert.flags = CURL_BLOB_NOCOPY;   /* the credential outlives its requests */
        a->cert_key.data = (void *)key;
        a->cert_key.len = strlen(key);
        a->cert_key.flags = CURL_BLOB_NOCOPY;
        SLOG(sd, APLOG_DEBUG, "PUSH0624", "sender: the APNs certificate of %s is opened (version %s)",
             cr->app_id, cr->version);
        a->certificate = 1;
        cr->bearer_kind = PUSH_BEARER_NONE;
        return NULL;
    }
    if (!(a->key = push_pem_private_key(cr->secret, cr->secret_len, &err)))
        return apr_pstrcat(cr->pool, "APNs key: ", err, NULL);
    apr_pool_cleanup_register(cr->pool, a, free_key, apr_pool_cleanup_null);
    a->key_id = str_at(cr->config, "keyId");
    a->team_id = str_at(cr->config, "teamId");
    cr->bearer_kind = PUSH_BEARER_LOCAL;
    return NULL;
}

static const char *apns_bearer(push_sender_t *sd, push_cred_t *cr, apr_time_t *until, const char **error)
{
    apns_cred_t *a = cr->state;
    apr_time_t now = apr_time_now();
    const char *jwt = push_jwt_es256(cr->pool, a->key, a->key_id, a->team_id, apr_time_sec(now), error);
    (void)sd;
    *until = now + APNS_TOKEN_RENEW + apr_time_from_sec(60);
    return jwt;
}

static apns_mapped_t *mapped_for(push_msg_t *m, const char *topic, int shape)
{
    apns_mapped_t *am, **head = (apns_mapped_t **)&m->mapped[push_provider_apns.slot];
    const char *err = NULL;
    int n = 0, ok;
    for (am = *head; am; am = am->next, n++)
        if (am->shape == shape && strcmp(am->topic, topic) == 0)
            return am;
    if (n >= MAPPED_MAX) {
        /* many topics in one message (Rocket.Chat apps): reuse the first; its headers may
         * be on requests under way, so they stay until the cache is cleared */
        am = *head;
        am->headers_made = -1;
    } else {
        am = apr_pcalloc(m->pool, sizeof(*am));
        am->next = *head;
        *head = am;
    }
    am->error = NULL;
    am->shape = shape;
    ok = shape == SHAPE_MF
             ? push_apns_map(m->pool, m->body, topic, apr_time_sec(m->expires), m->priv, &am->req, &err)
             : push_rc_apns_map(m->pool, m->body, topic, apr_time_sec(m->expires), &m->rc,
                                shape == SHAPE_RC_VOIP, &am->req, &err);
    if (!ok)
        am->error = apr_pstrdup(m->pool, err);
    else if (am->req.collapse_id && !push_header_safe(am->req.collapse_id))
        am->error = "the collapse key holds characters a header cannot carry";
    am->topic = apr_pstrdup(m->pool, topic);
    return am;
}

/* The device's VoIP token, when it registered one (Rocket.Chat's newer iOS apps). */
static const char *voip_token(push_sender_t *sd, apr_pool_t *p, push_req_t *rq)
{
    const char *params[2] = {rq->app, rq->dev}, *tok = NULL;
    PGresult *res = push_pg_exec(sd, rq->db, "SELECT extra->>'voipToken' FROM push_device "
                                             "WHERE app_id = $1 AND device_id = $2", 2, params);
    if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        tok = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    PQclear(res);
    return tok;
}

static struct curl_slist *apns_headers(apr_pool_t *p, const apns_mapped_t *am, struct curl_slist *h);

static int apns_build(push_sender_t *sd, apr_pool_t *p, push_req_t *rq)
{
    apns_cred_t *a = rq->cr->state;
    const char *topic = rq->topic ? rq->topic : a->bundle_id ? a->bundle_id : "";
    const char *token = rq->token;
    apns_mapped_t *am;
    struct curl_slist *h = NULL;
    int shape = rq->topic ? SHAPE_RC : SHAPE_MF;

    if (!push_header_safe(topic))
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, "the APNs topic holds characters a header "
                               "cannot carry"), 0;
    if (shape == SHAPE_RC && rq->m->voip) {
        const char *v = voip_token(sd, p, rq);
        if (v) {
            token = v;
            shape = SHAPE_RC_VOIP;
        }
    }
    am = mapped_for(rq->m, topic, shape);
    if (am->error)
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, am->error), 0;
    push_curl_common(sd, rq->easy,
                     apr_pstrcat(p, sd->c->endpoint[a->sandbox ? PUSH_EP_APNS_SANDBOX : PUSH_EP_APNS],
                                 "/3/device/", apr_pescape_path_segment(p, token), NULL), 1);
    if (a->certificate) {
        curl_easy_setopt(rq->easy, CURLOPT_SSLCERT_BLOB, &a->cert);
        curl_easy_setopt(rq->easy, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(rq->easy, CURLOPT_SSLKEY_BLOB, &a->cert_key);
        curl_easy_setopt(rq->easy, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (!push_req_bearer(sd, rq)) {
        return 0;
    }
    if (am->headers_made == 1 && (a->certificate ? !am->headers_bearer
                                            : am->headers_bearer && strcmp(am->headers_bearer, rq->bearer) == 0)) {
        rq->headers = am->headers;
        rq->headers_shared = 1;
    } else {
        if (!a->certificate)
            h = curl_slist_append(h, apr_pstrcat(p, "authorization: bearer ", rq->bearer, NULL));
        h = apns_headers(p, am, h);
        if (h && !am->headers_made) {
            /* the first of this mapping: kept for the next requests */
            am->headers = h;
            am->headers_bearer = a->certificate ? NULL : strdup(rq->bearer);
            am->headers_made = a->certificate || am->headers_bearer;
            if (am->headers_made) {
                apr_pool_cleanup_register(rq->m->pool, am, free_headers, apr_pool_cleanup_null);
                rq->headers_shared = 1;
            } else {
                am->headers = NULL;
            }
        }
        rq->headers = h;
    }
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDS, am->req.body);
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDSIZE, (long)am->req.body_len);
    return 1;
}

/* The headers of an APNs request after the authorization (in h, or none). */
static struct curl_slist *apns_headers(apr_pool_t *p, const apns_mapped_t *am, struct curl_slist *h)
{
    if (*am->req.topic)
        h = curl_slist_append(h, apr_pstrcat(p, "apns-topic: ", am->req.topic, NULL));
    h = curl_slist_append(h, apr_pstrcat(p, "apns-push-type: ", am->req.push_type, NULL));
    h = curl_slist_append(h, apr_psprintf(p, "apns-priority: %d", am->req.priority));
    h = curl_slist_append(h, apr_psprintf(p, "apns-expiration: %" APR_INT64_T_FMT, am->req.expiration));
    if (am->req.collapse_id)
        h = curl_slist_append(h, apr_pstrcat(p, "apns-collapse-id: ", am->req.collapse_id, NULL));
    h = curl_slist_append(h, "content-type: application/json");
    return h;
}

static void apns_classify(push_sender_t *sd, apr_pool_t *p, push_req_t *rq, long status, CURLcode rc)
{
    push_classify_apns(p, status, status ? rq->resp : curl_easy_strerror(rc), rq->retry_after, &rq->out);
    if (rq->out.kind == PUSH_OUT_SENT && rq->id_header[0])
        rq->provider_id = apr_pstrdup(p, rq->id_header);
    else if (rq->out.kind == PUSH_OUT_CREDENTIALS && strcmp(rq->out.reason, "ExpiredProviderToken") == 0) {
        /* our token aged: a new one, and this delivery again */
        push_cred_renew(sd, rq->cr, rq->bearer);
        rq->out.kind = PUSH_OUT_RETRY;
    }
}

const push_provider_t push_provider_apns = {
    "apns", 0, apns_cred_open, apns_bearer, NULL, NULL, apns_build, apns_classify,
};
