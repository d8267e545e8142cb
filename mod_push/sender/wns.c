/* WNS: an OAuth client-credentials token (the package SID and its secret at login.live.com,
 * or an Entra app's at its tenant's v2.0 endpoint), fetched on the credential thread; one
 * POST per device to its channel URI, with the XML wnsmap.c builds. Channel URIs are end
 * users' input: each is checked again before use and every request goes through the
 * egress guard. A credential's requests share one multi handle in deliver.c, and every
 * request of a WNS credential is guarded: guarded and unguarded transfers never share
 * connections. The token endpoint is ours or the operator's (PushProviderEndpoint
 * wns-token), never a tenant's: a tenantId only fills the path of Microsoft's. */
#include "sender/provider.h"

#include <apr_escape.h>
#include <apr_strings.h>

#include "sender/egress.h"
#include "sender/wnsmap.h"

typedef struct {
    const char *client_id;          /* the package SID (or the Entra application id) */
    const char *token_uri, *scope;
} wns_cred_t;

/* A message mapped once for every WNS device it goes to. */
typedef struct {
    push_wns_request_t req;
    const char *error;
} wns_mapped_t;

static const char *str_at(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

static const char *wns_cred_open(push_sender_t *sd, push_cred_t *cr)
{
    wns_cred_t *w = apr_pcalloc(cr->pool, sizeof(*w));
    const char *tenant = str_at(cr->config, "tenantId");
    cr->state = w;
    cr->bearer_kind = PUSH_BEARER_REMOTE;
    w->client_id = str_at(cr->config, "packageSID");
    if (!w->client_id || !*w->client_id)
        return "no packageSID";
    if (!cr->secret || !*cr->secret)
        return "no client secret";
    if (tenant) {
        if (!push_wns_tenant_ok(tenant))
            return "the tenantId is not an Entra tenant id or domain";
        w->token_uri = apr_psprintf(cr->pool, PUSH_WNS_ENTRA_TOKEN, tenant);
        w->scope = PUSH_WNS_ENTRA_SCOPE;
    } else {
        w->token_uri = PUSH_WNS_TOKEN_URI;
        w->scope = PUSH_WNS_SCOPE;
    }
    if (sd->c->endpoint[PUSH_EP_WNS_TOKEN])
        w->token_uri = sd->c->endpoint[PUSH_EP_WNS_TOKEN];
    return NULL;
}

static int wns_bearer_start(push_sender_t *sd, push_cred_t *cr, apr_pool_t *p, CURL *easy,
                            push_body_buf_t *answer, const char **error)
{
    wns_cred_t *w = cr->state;
    (void)error;
    push_curl_common(sd, easy, w->token_uri, 0);
    curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS,
                     apr_pstrcat(p, "grant_type=client_credentials&client_id=",
                                 apr_pescape_urlencoded(p, w->client_id),
                                 "&client_secret=", apr_pescape_urlencoded(p, cr->secret),
                                 "&scope=", apr_pescape_urlencoded(p, w->scope), NULL));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, push_curl_keep);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, answer);
    return 1;
}

/* What the token endpoint said, in our words: its answer text stays inside. */
static const char *wns_bearer_done(push_cred_t *cr, apr_pool_t *p, long status, CURLcode rc,
                                   const char *answer, apr_time_t *until, const char **error,
                                   int *refused)
{
    json_object *o, *v;
    const char *tok = NULL;
    (void)cr;
    if (status == 0) {
        *error = apr_pstrcat(p, "no answer from the WNS token endpoint (", curl_easy_strerror(rc), ")", NULL);
        return NULL;
    }
    if (status == 400 || status == 401 || status == 403) {
        *error = apr_psprintf(p, "the WNS token endpoint refused the credentials (HTTP %ld)", status);
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
        *error = status == 200 ? "the WNS token endpoint answered without an access token"
                               : apr_psprintf(p, "the WNS token endpoint answered HTTP %ld", status);
    }
    json_object_put(o);
    return tok;
}

static const wns_mapped_t *mapped(push_msg_t *m)
{
    wns_mapped_t *wm = m->mapped[push_provider_wns.slot];
    const char *err = NULL;
    if (wm)
        return wm;
    wm = apr_pcalloc(m->pool, sizeof(*wm));
    if (!push_wns_map(m->pool, m->body, &wm->req, &err))
        wm->error = apr_pstrdup(m->pool, err);
    m->mapped[push_provider_wns.slot] = wm;
    return wm;
}

static int wns_build(push_sender_t *sd, apr_pool_t *p, push_req_t *rq)
{
    const wns_mapped_t *wm = mapped(rq->m);
    const char *why;
    apr_int64_t ttl = wm->req.ttl;
    struct curl_slist *h = NULL;

    if (wm->error)
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, wm->error), 0;
    /* stored before this check existed, or the allow list changed since */
    if ((why = push_wns_channel_problem(p, rq->token, sd->c->egress)))
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, apr_pstrcat(p, "the channel URI is refused: ", why, NULL)), 0;
    if (rq->m->expires) {
        apr_int64_t left = apr_time_sec(rq->m->expires - apr_time_now());
        if (ttl < 0 || left < ttl)
            ttl = left > 0 ? left : 1;
    }
    if (!push_req_bearer(sd, rq))
        return 0;
    push_curl_common(sd, rq->easy, rq->token, 0);
    push_egress_attach(rq->easy, sd->c->egress, &rq->refused);
    h = curl_slist_append(h, apr_pstrcat(p, "Authorization: Bearer ", rq->bearer, NULL));
    h = curl_slist_append(h, apr_pstrcat(p, "Content-Type: ", wm->req.content_type, NULL));
    h = curl_slist_append(h, apr_pstrcat(p, "X-WNS-Type: ", wm->req.type, NULL));
    if (ttl >= 0)
        h = curl_slist_append(h, apr_psprintf(p, "X-WNS-TTL: %" APR_INT64_T_FMT, ttl));
    if (wm->req.cache_policy)
        h = curl_slist_append(h, apr_pstrcat(p, "X-WNS-Cache-Policy: ", wm->req.cache_policy, NULL));
    if (wm->req.tag)
        h = curl_slist_append(h, apr_pstrcat(p, "X-WNS-Tag: ", wm->req.tag, NULL));
    h = curl_slist_append(h, "Expect:");
    rq->headers = h;
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDS, wm->req.body);
    curl_easy_setopt(rq->easy, CURLOPT_POSTFIELDSIZE, (long)wm->req.body_len);
    return 1;
}

static void wns_classify(push_sender_t *sd, apr_pool_t *p, push_req_t *rq, long status, CURLcode rc)
{
    if (rq->refused && (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_COULDNT_CONNECT)) {
        SLOG(sd, APLOG_WARNING, "PUSH0663", "sender: the WNS channel of device %s of %s refused by the "
             "egress guard: its host is an internal address", rq->dev, rq->app);
        push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, PUSH_EGRESS_REFUSED);
        return;
    }
    push_classify_wns(p, status, rq->wns_status, rq->retry_after, status ? NULL : curl_easy_strerror(rc),
                      &rq->out);
    if (rq->out.kind == PUSH_OUT_SENT && rq->id_header[0])
        rq->provider_id = apr_pstrdup(p, rq->id_header);
    else if (rq->out.kind == PUSH_OUT_CREDENTIALS && strcmp(rq->out.reason, PUSH_WNS_UNAUTHORIZED) == 0) {
        /* the access token expired or was revoked: a new one, and this delivery again */
        push_cred_renew(sd, rq->cr, rq->bearer);
        rq->out.kind = PUSH_OUT_RETRY;
    }
}

const push_provider_t push_provider_wns = {
    "wns", 2, wns_cred_open, NULL, wns_bearer_start, wns_bearer_done, wns_build, wns_classify,
};
