/* MobileFirst webhooks: where registry and notification events are POSTed. The events
 * themselves are written by the store in the transaction of each change; delivering them
 * is the sender's work. */
#include "api/mobilefirst.h"

#include "apr_strings.h"
#include "http_protocol.h"

#include "config.h"
#include "core/secret.h"
#include "core/validate.h"
#include "sender/egress.h"
#include "http_util.h"
#include "log.h"
#include "store/lists.h"
#include "store/store.h"

/* Webhooks an application may have: each event is POSTed to every one that listens. */
#define MAX_HOOKS 20

static const char *const event_types[] = {
    "onDeviceRegister", "onDeviceUpdate", "onDeviceUnregister", "onSubscribe", "onUnsubscribe",
    "onNotificationStatusChange", "onNotificationFailure", NULL};

/* eventTypes: a comma-separated list of known types, spaces allowed around them.
 * Returns the normalized list, or NULL. */
static const char *normalize_events(apr_pool_t *p, const char *in)
{
    char *copy = apr_pstrdup(p, in), *state = NULL, *t;
    const char *out = NULL;
    for (t = apr_strtok(copy, ",", &state); t; t = apr_strtok(NULL, ",", &state)) {
        int known = 0;
        apr_collapse_spaces(t, t);
        for (const char *const *e = event_types; *e && !known; e++)
            known = strcmp(*e, t) == 0;
        if (!known)
            return NULL;
        if (!out || !ap_find_token(p, out, t))
            out = out ? apr_pstrcat(p, out, ",", t, NULL) : t;
    }
    return out;
}

/* What a body asks to store. */
typedef struct {
    const char *name, *url, *events, *secret;  /* secret: sealed, bytea text */
    int set_secret;
} hook_t;

static json_object *hook_json(mf_req_t *q, const push_webhook_t *w)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "eventTypes", mf_str(w->events));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "webhooks", w->name, NULL)));
    json_object_object_add(o, "name", mf_str(w->name));
    json_object_object_add(o, "signed", json_object_new_boolean(w->is_signed));
    json_object_object_add(o, "url", mf_str(w->url));
    return o;
}

/* url, eventTypes and the optional HMAC secret of a body; 0 after answering. */
static int read_hook(mf_req_t *q, json_object *body, hook_t *h, int required)
{
    static const char *const props[] = {"name", "url", "eventTypes", "secret", NULL};
    const char *events = NULL, *secret = NULL;
    int has;
    if (!mf_known_properties(q, body, props))
        return 0;
    if ((has = mf_string(q, body, "url", PUSH_MAX_TOKEN, &h->url)) < 0)
        return 0;
    if (required && !has)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "url"), 0;
    if (has) {
        /* a tenant's URL: http(s), no credentials, never one that reaches inside (the
         * connection is checked too) */
        const char *why = push_egress_url_problem(q->r->pool, h->url, push_conf_egress(q->r->server));
        if (why)
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_URL_REFUSED, why), 0;
        if (!push_valid_https_url(h->url, strlen(h->url)))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "url"), 0;
    }
    if ((has = mf_string(q, body, "eventTypes", 1024, &events)) < 0)
        return 0;
    if ((required && !has) || (has && !(h->events = normalize_events(q->r->pool, events))))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "eventTypes"), 0;
    if ((has = mf_string(q, body, "secret", 1024, &secret)) < 0)
        return 0;
    if (has) {
        const push_secret_key_t *key = push_conf_secret_key(q->r->server);
        if (!key || !(h->secret = push_secret_seal_text(q->r->pool, key, secret,
                                                        push_secret_aad_webhook(q->r->pool, q->app_id,
                                                                                h->name)))) {
            PUSH_RLOG(APLOG_ERR, 0, q->r, "PUSH0403", "cannot store a webhook secret: PushSecretKey "
                      "is not set");
            return mf_store_error(q, PUSH_EUNAVAIL), 0;
        }
        h->set_secret = 1;
    }
    return 1;
}

int mf_webhook_create(mf_req_t *q)
{
    json_object *body = mf_body(q);
    hook_t h = {NULL, NULL, NULL, NULL, 0};
    push_webhook_t w;
    int has, over_limit;
    push_status_t rv;
    if (!body)
        return OK;
    if ((has = mf_segment_id(q, body, "name", PUSH_MAX_ID, &h.name)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (!read_hook(q, body, &h, 1))
        return OK;
    rv = push_store_webhook_create(q->db, q->app_id, h.name, h.url, h.events, h.secret, MAX_HOOKS,
                                   &over_limit, &w);
    if (rv == PUSH_EINVAL && over_limit)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_WEBHOOK_LIMIT, apr_itoa(q->r->pool, MAX_HOOKS));
    if (rv == PUSH_EINVAL)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, h.name);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", q->app_id, "webhooks", h.name, NULL));
    return mf_send(q, HTTP_CREATED, hook_json(q, &w));
}

int mf_webhook_update(mf_req_t *q)
{
    json_object *body = mf_body(q);
    const char *name = NULL;
    hook_t h = {q->id, NULL, NULL, NULL, 0};
    push_webhook_t w;
    push_status_t rv;
    if (!body)
        return OK;
    if (mf_string(q, body, "name", PUSH_MAX_ID, &name) < 0)
        return OK;
    if (name && strcmp(name, q->id) != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (!read_hook(q, body, &h, 0))
        return OK;
    rv = push_store_webhook_update(q->db, q->app_id, q->id, h.url, h.events, h.set_secret, h.secret, &w);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_WEBHOOK_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, hook_json(q, &w)) : mf_store_error(q, rv);
}

int mf_webhook_get(mf_req_t *q)
{
    push_webhook_t w;
    push_status_t rv = push_store_webhook_get(q->db, q->app_id, q->id, &w);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_WEBHOOK_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, hook_json(q, &w)) : mf_store_error(q, rv);
}

int mf_webhook_delete(mf_req_t *q)
{
    push_status_t rv = push_store_webhook_delete(q->db, q->app_id, q->id);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_WEBHOOK_MISSING, q->id);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

int mf_webhooks_list(mf_req_t *q)
{
    static const char *const params[] = {"offset", "size", "filter", "after", "before", NULL};
    static const push_filter_field_t fields[] = {{"name", 0}, {"url", 0}, {NULL, 0}};
    push_list_query_t lq;
    push_list_page_t page;
    json_object *body, *items;
    push_status_t rv;
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, NULL, &lq))
        return OK;
    if ((rv = push_store_list(q->db, &push_list_webhooks, q->app_id, &lq, &page)) != PUSH_OK)
        return mf_store_error(q, rv);
    items = json_object_new_array();
    for (int i = 0; i < page.items->nelts; i++)
        json_object_array_add(items, hook_json(q, &APR_ARRAY_IDX(page.items, i, push_webhook_t)));
    body = json_object_new_object();
    json_object_object_add(body, "webhooks", items);
    json_object_object_add(body, "pageInfo", mf_page_info(q, &lq, page.items->nelts, page.total,
                                                          page.first_key, page.last_key));
    return mf_send(q, HTTP_OK, body);
}
