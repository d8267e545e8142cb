/* MobileFirst routes for applications, devices, tags and subscriptions: each parses
 * its request, calls the store on the request's connection (q->db), and writes
 * MobileFirst's JSON from the records the store returns. */
#include "api/mobilefirst.h"

#include "apr_strings.h"
#include "http_protocol.h"

#include "config.h"
#include "core/scope.h"
#include "core/validate.h"
#include "http_util.h"
#include "log.h"
#include "sender/wnsmap.h"
#include "sender/egress.h"
#include "sender/webpush_core.h"
#include "store/lists.h"
#include "store/store.h"

#define MF_MAX_USER_ID 254   /* MobileFirst's own limit on userId */
#define MF_LIST_PARAMS "offset", "size", "filter", "expand", "after", "before"

/* --- push.mobileclient: a device client reaches only the devices it registered -------------- */

/* 1 when q may act on device_id; else 0 after answering (another client's device reads as
 * absent, so a device client learns nothing of the others). */
static int own_device(mf_req_t *q, const char *device_id)
{
    const char *owner = NULL;
    push_status_t rv;
    if (!q->device_client)
        return 1;
    rv = push_store_mf_device_owner(q->db, q->app_id, device_id, &owner);
    if (rv == PUSH_OK && owner && strcmp(owner, q->device_client) == 0)
        return 1;
    if (rv == PUSH_OK || rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, device_id), 0;
    return mf_store_error(q, rv), 0;
}

/* 1 when q may give device_id the token; else 0 after answering. A token is one device's:
 * registering it moves it from the device that held it, which then goes. A backend may do
 * that; a device client only to a device it registered itself, so that an app cannot
 * remove another installation's, a backend's or another dialect's registration by
 * naming its token (409, as for a deviceId taken). */
static int own_token(mf_req_t *q, const char *platform, const char *token, const char *device_id)
{
    const char *owner = NULL;
    push_status_t rv;
    if (!q->device_client || !platform || !token)
        return 1;
    rv = push_store_mf_token_owner(q->db, q->app_id, platform, token, device_id, &owner);
    if (rv == PUSH_NOTFOUND || (rv == PUSH_OK && strcmp(owner, q->device_client) == 0))
        return 1;
    if (rv == PUSH_OK)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, "token"), 0;
    return mf_store_error(q, rv), 0;
}

/* --- JSON shapes -------------------------------------------------------------------------- */

static json_object *device_json(mf_req_t *q, const push_mf_device_t *d, int full)
{
    json_object *o = json_object_new_object();
    if (full) {
        json_object_object_add(o, "createdMode", mf_str(d->created_mode));
        json_object_object_add(o, "createdTime", mf_str(d->created_at));
    }
    json_object_object_add(o, "deviceId", mf_str(d->device_id));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "devices", d->device_id, NULL)));
    if (full)
        json_object_object_add(o, "lastUpdatedTime", mf_str(d->updated_at));
    json_object_object_add(o, "phoneNumber", mf_str(d->phone));
    json_object_object_add(o, "platform", mf_str(d->platform));
    json_object_object_add(o, "token", mf_str(d->token));
    if (full)
        json_object_object_add(o, "userAgent", mf_str(d->user_agent));
    json_object_object_add(o, "userId", mf_str(d->user_id));
    return o;
}

static json_object *tag_json(mf_req_t *q, const push_tag_t *t, int full, int counted)
{
    json_object *o = json_object_new_object();
    if (full) {
        json_object_object_add(o, "createdMode", mf_str(t->created_mode));
        json_object_object_add(o, "createdTime", mf_str(t->created_at));
    }
    json_object_object_add(o, "description", mf_str(t->description));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "tags", t->name, NULL)));
    if (full)
        json_object_object_add(o, "lastUpdatedTime", mf_str(t->updated_at));
    json_object_object_add(o, "name", mf_str(t->name));
    if (counted)
        json_object_object_add(o, "subscriptionCount", json_object_new_int64(t->subscriptions));
    return o;
}

static json_object *subscription_json(mf_req_t *q, const push_subscription_t *sub, int full)
{
    json_object *o = json_object_new_object();
    if (full)
        json_object_object_add(o, "createdTime", mf_str(sub->created_at));
    json_object_object_add(o, "deviceId", mf_str(sub->device_id));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "subscriptions", sub->id, NULL)));
    json_object_object_add(o, "subscriptionId", mf_str(sub->id));
    json_object_object_add(o, "tagName", mf_str(sub->tag));
    json_object_object_add(o, "userId", mf_str(sub->user_id));
    return o;
}

static json_object *app_json(mf_req_t *q, const char *app_id, int enabled)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "applicationId", json_object_new_string(app_id));
    json_object_object_add(o, "enabled", json_object_new_boolean(enabled));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", app_id, NULL)));
    return o;
}

/* --- lists --------------------------------------------------------------------------------- */

/* Runs a list; NULL after answering. */
static push_list_page_t *run_list(mf_req_t *q, const push_list_spec_t *spec, const char *scope_arg,
                                  const push_list_query_t *lq)
{
    push_list_page_t *page = apr_pcalloc(q->r->pool, sizeof(*page));
    push_status_t rv = push_store_list(q->db, spec, scope_arg, lq, page);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv), NULL;
    return page;
}

/* {"<name>": items, "pageInfo": {...}} */
static int answer_list(mf_req_t *q, const char *name, json_object *items, const push_list_query_t *lq,
                       const push_list_page_t *page)
{
    json_object *body = json_object_new_object();
    json_object_object_add(body, name, items);
    json_object_object_add(body, "pageInfo", mf_page_info(q, lq, page->items->nelts, page->total,
                                                          page->first_key, page->last_key));
    return mf_send(q, HTTP_OK, body);
}

int mf_devices_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, "userId", NULL};
    static const char *const extra[] = {"userId", NULL};
    static const push_filter_field_t fields[] = {
        {"platform", 1}, {"deviceId", 0}, {"userId", 0}, {"token", 0}, {"phoneNumber", 0}, {NULL, 0}};
    push_list_query_t lq;
    push_list_page_t *page;
    json_object *items;
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, extra, &lq))
        return OK;
    if (!(page = run_list(q, &push_list_devices, q->app_id, &lq)))
        return OK;
    items = json_object_new_array();
    for (int i = 0; i < page->items->nelts; i++)
        json_object_array_add(items, device_json(q, &APR_ARRAY_IDX(page->items, i, push_mf_device_t),
                                                 mf_expand(q)));
    return answer_list(q, "devices", items, &lq, page);
}

int mf_tags_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, "subscriptionCount", NULL};
    static const push_filter_field_t fields[] = {{"name", 0}, {"description", 0}, {NULL, 0}};
    const char *counted_param = apr_table_get(q->query, "subscriptionCount");
    int counted = counted_param && strcmp(counted_param, "true") == 0;
    push_list_query_t lq;
    push_list_page_t *page;
    json_object *items;
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, NULL, &lq))
        return OK;
    if (!(page = run_list(q, counted ? &push_list_tags_counted : &push_list_tags, q->app_id, &lq)))
        return OK;
    items = json_object_new_array();
    for (int i = 0; i < page->items->nelts; i++)
        json_object_array_add(items, tag_json(q, &APR_ARRAY_IDX(page->items, i, push_tag_t),
                                              mf_expand(q), counted));
    return answer_list(q, "tags", items, &lq, page);
}

int mf_subscriptions_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, "deviceId", "tagName", "userId", NULL};
    static const char *const extra[] = {"deviceId", "tagName", "userId", NULL};
    static const push_filter_field_t fields[] = {
        {"tagName", 0}, {"deviceId", 0}, {"userId", 0}, {NULL, 0}};
    const char *device = apr_table_get(q->query, "deviceId");
    push_list_query_t lq;
    push_list_page_t *page;
    json_object *items;
    if (!mf_known_params(q, params))
        return OK;
    /* a device client lists its own device's subscriptions only */
    if (q->device_client && !device)
        return mf_insufficient_scope(q, "subscriptions.read");
    if ((device && !own_device(q, device)) || !mf_list_query(q, fields, extra, &lq))
        return OK;
    if (!(page = run_list(q, &push_list_subscriptions, q->app_id, &lq)))
        return OK;
    items = json_object_new_array();
    for (int i = 0; i < page->items->nelts; i++)
        json_object_array_add(items, subscription_json(q, &APR_ARRAY_IDX(page->items, i, push_subscription_t),
                                                       mf_expand(q)));
    return answer_list(q, "subscriptions", items, &lq, page);
}

int mf_apps_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, NULL};
    static const push_filter_field_t fields[] = {{"applicationId", 0}, {NULL, 0}};
    push_list_query_t lq;
    push_list_page_t *page;
    json_object *items;
    /* only the applications the token's push.application.* patterns cover: "*" stays
     * within a segment, so push.application.* does not list an application x.y */
    const char *covered = push_scope_app_regex(q->r->pool, apr_table_get(q->r->notes, "push-scopes"));
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, NULL, &lq))
        return OK;
    page = run_list(q, covered ? &push_list_applications_matching : &push_list_applications, covered, &lq);
    if (!page)
        return OK;
    items = json_object_new_array();
    for (int i = 0; i < page->items->nelts; i++) {
        const push_app_t *a = &APR_ARRAY_IDX(page->items, i, push_app_t);
        json_object_array_add(items, app_json(q, a->app_id, a->enabled));
    }
    return answer_list(q, "applications", items, &lq, page);
}

/* --- applications --------------------------------------------------------------------------- */

int mf_app_create(mf_req_t *q)
{
    static const char *const props[] = {"applicationId", "enabled", NULL};
    json_object *body = mf_body(q), *enabled = NULL;
    const char *scopes = apr_table_get(q->r->notes, "push-scopes"), *id = NULL;
    int on = 1;
    push_status_t rv;
    int has;

    if (!body || !mf_known_properties(q, body, props))
        return OK;
    /* mf_string has answered when it returns -1: a second answer would follow the first */
    if ((has = mf_string(q, body, "applicationId", PUSH_MAX_ID, &id)) < 0)
        return OK;
    if (!has || !push_valid_app_id(id, strlen(id)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "applicationId");
    if (json_object_object_get_ex(body, "enabled", &enabled) && enabled) {
        if (!json_object_is_type(enabled, json_type_boolean))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "enabled");
        on = json_object_get_boolean(enabled);
    }
    /* creating needs the new application's scope too */
    if (!push_scope_list_covers(scopes, apr_pstrcat(q->r->pool, "push.application.", id, NULL))) {
        apr_table_setn(q->r->err_headers_out, "WWW-Authenticate",
                       apr_psprintf(q->r->pool, "Bearer realm=\"imfpush\", error=\"insufficient_scope\", "
                                    "scope=\"apps.write push.application.%s\"", id));
        q->r->status = HTTP_FORBIDDEN;
        ap_set_content_length(q->r, 0);
        return OK;
    }
    rv = push_store_app_create(q->db, id, on);
    if (rv == PUSH_EINVAL)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, id);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", id, NULL));
    return mf_send(q, HTTP_CREATED, app_json(q, id, on));
}

int mf_app_get(mf_req_t *q)
{
    static const char *const none[] = {NULL};
    if (!mf_known_params(q, none))
        return OK;
    return mf_send(q, HTTP_OK, app_json(q, q->app_id, q->app_enabled));
}

int mf_app_delete(mf_req_t *q)
{
    push_status_t rv = push_store_app_delete(q->db, q->app_id);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_APP_MISSING, NULL);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

int mf_app_status_get(mf_req_t *q)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "enabled", json_object_new_boolean(q->app_enabled));
    return mf_send(q, HTTP_OK, o);
}

int mf_app_status_put(mf_req_t *q)
{
    static const char *const props[] = {"enabled", NULL};
    json_object *body = mf_body(q), *enabled = NULL, *o;
    push_status_t rv;
    int on;
    if (!body || !mf_known_properties(q, body, props))
        return OK;
    if (!json_object_object_get_ex(body, "enabled", &enabled) || !enabled ||
        !json_object_is_type(enabled, json_type_boolean))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "enabled");
    on = json_object_get_boolean(enabled);
    rv = push_store_app_set_enabled(q->db, q->app_id, on);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_APP_MISSING, NULL);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    o = json_object_new_object();
    json_object_object_add(o, "enabled", json_object_new_boolean(on));
    return mf_send(q, HTTP_OK, o);
}

/* --- devices ----------------------------------------------------------------------------------- */

static const char *platform_name(const char *code)
{
    static const char *const map[][2] = {{"A", "apns"}, {"G", "fcm"}, {"W", "wns"}, {"B", "webpush"}};
    for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i][0], code) == 0)
            return map[i][1];
    return NULL;
}

/* A Windows device's token is its channel URI, where the sender will POST: https under
 * notify.windows.com only (or a destination PushEgressAllow names). 0 after answering. */
static int channel_ok(mf_req_t *q, const char *platform, const char *token)
{
    const char *why;
    if (!platform || strcmp(platform, "wns") != 0 || !token)
        return 1;
    if (!(why = push_wns_channel_problem(q->r->pool, token, push_conf_egress(q->r->server))))
        return 1;
    PUSH_RLOG(APLOG_INFO, 0, q->r, "PUSH0662", "WNS channel URI refused: %s", why);
    return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "token"), 0;
}

/* A browser's token is the JSON text of its PushSubscription: checked here, its endpoint
 * by the egress guard too, so that a bad one is a 400 now rather than failed deliveries
 * later. 0 after answering. */
static int webpush_token_ok(mf_req_t *q, const char *token)
{
    push_webpush_sub_t sub;
    const char *why = push_webpush_sub_parse(q->r->pool, token, &sub);
    if (!why && (why = push_egress_url_problem(q->r->pool, sub.endpoint, push_conf_egress(q->r->server))))
        why = apr_pstrcat(q->r->pool, "the endpoint is not accepted: ", why, NULL);
    if (why)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID,
                        apr_pstrcat(q->r->pool, "token (", why, ")", NULL)), 0;
    return 1;
}

/* userId: a string of at most 254 characters (MobileFirst's rule). 0 after answering. */
static int user_id_ok(mf_req_t *q, json_object *body, const char **user, int *present)
{
    apr_size_t len = 0;
    int has = push_json_string(body, "userId", user, &len);
    json_object *v;
    *present = json_object_object_get_ex(body, "userId", &v);
    if (has < 0 || (has > 0 && len > 0 && !push_valid_id(*user, len, len)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "userId"), 0;
    if (has > 0 && len > MF_MAX_USER_ID)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_USER_ID_TOO_LONG, NULL), 0;
    if (has > 0 && len == 0)
        *user = NULL;
    return 1;
}

static int phone_ok(mf_req_t *q, json_object *body, const char **phone, int *present)
{
    json_object *v;
    *present = json_object_object_get_ex(body, "phoneNumber", &v);
    /* the Windows SDK sends the number as a JSON number; it is stored as its digits */
    if (*present && json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n < 0 || n == INT64_MAX)
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "phoneNumber"), 0;
        *phone = apr_psprintf(q->r->pool, "%" APR_INT64_T_FMT, (apr_int64_t)n);
        return 1;
    }
    return mf_id(q, body, "phoneNumber", 32, phone) >= 0;
}

/* A device client cannot name the user: that takes a backend with devices.write. */
static int user_allowed(mf_req_t *q, int present)
{
    if (present && q->device_client)
        return mf_insufficient_scope(q, "devices.write"), 0;
    return 1;
}

int mf_device_register(mf_req_t *q)
{
    static const char *const props[] = {"deviceId", "token", "platform", "phoneNumber", "userId", NULL};
    json_object *body = mf_body(q);
    const char *platform = NULL, *phone = NULL, *owner = NULL;
    push_device_t dev = {0};
    push_mf_device_t stored;
    int present, has;
    push_status_t rv;

    if (!body || !mf_known_properties(q, body, props))
        return OK;
    if ((has = mf_segment_id(q, body, "deviceId", PUSH_MAX_ID, &dev.device_id)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "deviceId");
    if ((has = mf_string(q, body, "token", PUSH_MAX_TOKEN, &dev.token)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "token");
    if (mf_string(q, body, "platform", 1, &platform) < 0)
        return OK;
    if (!(dev.platform = platform_name(platform)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "platform");
    if (!push_valid_device_token(dev.platform, dev.token, strlen(dev.token)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "token");
    if (!channel_ok(q, dev.platform, dev.token) ||
        (strcmp(dev.platform, "webpush") == 0 && !webpush_token_ok(q, dev.token)))
        return OK;
    if (!phone_ok(q, body, &phone, &present) || !user_id_ok(q, body, &dev.user_id, &present) ||
        !user_allowed(q, present))
        return OK;
    dev.app_id = q->app_id;
    dev.family = "mobilefirst";
    dev.user_agent = apr_table_get(q->r->headers_in, "User-Agent");
    if (dev.user_agent && (strlen(dev.user_agent) > 1024 ||
                              !push_valid_utf8(dev.user_agent, strlen(dev.user_agent))))
        dev.user_agent = NULL;
    if (q->device_client) {
        /* a device client registers a new device or its own one, never another's */
        rv = push_store_mf_device_owner(q->db, q->app_id, dev.device_id, &owner);
        if (rv == PUSH_OK && strcmp(owner, q->device_client) != 0)
            return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, dev.device_id);
        if (rv != PUSH_OK && rv != PUSH_NOTFOUND)
            return mf_store_error(q, rv);
        if (!own_token(q, dev.platform, dev.token, dev.device_id))
            return OK;
    }
    rv = push_store_mf_register(q->db, &dev, phone, &stored);
    if (rv == PUSH_OK && q->device_client)
        rv = push_store_mf_device_claim(q->db, q->app_id, dev.device_id, q->device_client);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    apr_table_setn(q->r->headers_out, "Location",
                   mf_href(q, "apps", q->app_id, "devices", dev.device_id, NULL));
    return mf_send(q, HTTP_CREATED, device_json(q, &stored, 1));
}

int mf_device_get(mf_req_t *q)
{
    push_mf_device_t d;
    push_status_t rv;
    if (!own_device(q, q->id))
        return OK;
    rv = push_store_mf_device_get(q->db, q->app_id, q->id, &d);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, device_json(q, &d, 1)) : mf_store_error(q, rv);
}

int mf_device_update(mf_req_t *q)
{
    static const char *const props[] = {"deviceId", "token", "platform", "phoneNumber", "userId", NULL};
    json_object *body = mf_body(q);
    const char *same = NULL, *platform = NULL, *token = NULL, *user = NULL, *phone = NULL, *agent;
    int set_user = 0, set_phone = 0;
    push_mf_device_t d;
    push_status_t rv;

    if (!body || !mf_known_properties(q, body, props) || !own_device(q, q->id))
        return OK;
    /* deviceId and platform may be repeated but not changed */
    if (mf_id(q, body, "deviceId", PUSH_MAX_ID, &same) < 0)
        return OK;
    if (same && strcmp(same, q->id) != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "deviceId");
    if (mf_string(q, body, "platform", 1, &platform) < 0)
        return OK;
    if (platform && !platform_name(platform))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "platform");
    if (mf_string(q, body, "token", PUSH_MAX_TOKEN, &token) < 0 ||
        !phone_ok(q, body, &phone, &set_phone) || !user_id_ok(q, body, &user, &set_user) ||
        !user_allowed(q, set_user))
        return OK;
    agent = apr_table_get(q->r->headers_in, "User-Agent");
    if (agent && (strlen(agent) > 1024 || !push_valid_utf8(agent, strlen(agent))))
        agent = NULL;
    if (token) {
        /* a new token is checked as the kind of the stored device (an update never
         * changes the platform): a browser's subscription, a Windows channel URI, or the
         * token rule of its platform */
        const char *stored_platform;
        rv = push_store_mf_device_get(q->db, q->app_id, q->id, &d);
        if (rv == PUSH_NOTFOUND)
            return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id);
        if (rv != PUSH_OK)
            return mf_store_error(q, rv);
        /* the record shows MobileFirst's letter */
        if (d.platform && strcmp(d.platform, "B") == 0 && !webpush_token_ok(q, token))
            return OK;
        stored_platform = platform_name(d.platform);
        if (!channel_ok(q, stored_platform, token))
            return OK;
        if (!push_valid_device_token(stored_platform ? stored_platform : "sms", token, strlen(token)))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "token");
        if (!own_token(q, stored_platform, token, q->id))
            return OK;
    }
    rv = push_store_mf_device_update(q->db, q->app_id, q->id, token, set_user, user, set_phone, phone,
                                     agent, &d);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, device_json(q, &d, 1)) : mf_store_error(q, rv);
}

int mf_device_delete(mf_req_t *q)
{
    push_status_t rv;
    if (!own_device(q, q->id))
        return OK;
    rv = push_store_device_remove(q->db, q->app_id, q->id);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

/* --- tags -------------------------------------------------------------------------------------- */

int mf_tag_create(mf_req_t *q)
{
    static const char *const props[] = {"name", "description", NULL};
    json_object *body = mf_body(q);
    const char *name = NULL, *description = NULL;
    push_tag_t tag;
    push_status_t rv;
    int has;
    if (!body || !mf_known_properties(q, body, props))
        return OK;
    if ((has = mf_segment_id(q, body, "name", PUSH_MAX_ID, &name)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (mf_string(q, body, "description", 1024, &description) < 0)
        return OK;
    rv = push_store_tag_create(q->db, q->app_id, name, description, &tag);
    if (rv == PUSH_EINVAL)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, name);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", q->app_id, "tags", name, NULL));
    return mf_send(q, HTTP_CREATED, tag_json(q, &tag, 1, 0));
}

int mf_tag_get(mf_req_t *q)
{
    push_tag_t tag;
    push_status_t rv = push_store_tag_get(q->db, q->app_id, q->id, &tag);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_TAG_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, tag_json(q, &tag, 1, 0)) : mf_store_error(q, rv);
}

int mf_tag_update(mf_req_t *q)
{
    static const char *const props[] = {"name", "description", NULL};
    json_object *body = mf_body(q);
    const char *name = NULL, *description = NULL;
    push_tag_t tag;
    push_status_t rv;
    if (!body || !mf_known_properties(q, body, props))
        return OK;
    /* the name never changes */
    if (mf_id(q, body, "name", PUSH_MAX_ID, &name) < 0)
        return OK;
    if (name && strcmp(name, q->id) != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (mf_string(q, body, "description", 1024, &description) < 0)
        return OK;
    rv = push_store_tag_update(q->db, q->app_id, q->id, description, &tag);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_TAG_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, tag_json(q, &tag, 1, 0)) : mf_store_error(q, rv);
}

int mf_tag_delete(mf_req_t *q)
{
    push_status_t rv;
    if (strcmp(q->id, "Push.all") == 0) /* the broadcast tag is reserved */
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "Push.all");
    rv = push_store_tag_delete(q->db, q->app_id, q->id);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_TAG_MISSING, q->id);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

/* --- subscriptions ------------------------------------------------------------------------------ */

#define MF_MAX_TAGS 100   /* tags in one tagNames array */

/* The tags of a subscription body: "tagName" (a string) and/or "tagNames" (an array of
 * strings, as the device SDKs send). NULL after answering 400. */
static apr_array_header_t *body_tags(mf_req_t *q, json_object *body)
{
    apr_array_header_t *tags = apr_array_make(q->r->pool, 4, sizeof(const char *));
    json_object *list = NULL;
    const char *one = NULL;
    if (mf_id(q, body, "tagName", PUSH_MAX_ID, &one) < 0)
        return NULL;
    if (one)
        APR_ARRAY_PUSH(tags, const char *) = one;
    if (json_object_object_get_ex(body, "tagNames", &list) && list) {
        size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
        if (n == 0 || n > MF_MAX_TAGS)
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "tagNames"), NULL;
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(list, i);
            const char *v = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
            apr_size_t len = v ? (apr_size_t)json_object_get_string_len(e) : 0;
            if (!v || !push_valid_id(v, len, PUSH_MAX_ID) || strlen(v) != len)
                return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "tagNames"), NULL;
            APR_ARRAY_PUSH(tags, const char *) = apr_pstrmemdup(q->r->pool, v, len);
        }
    }
    if (tags->nelts == 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "tagName"), NULL;
    return tags;
}

static json_object *subscribed_json(mf_req_t *q, const push_subscription_t *sub)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "createdTime", mf_str(sub->created_at));
    json_object_object_add(o, "deviceId", json_object_new_string(sub->device_id));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "subscriptions", sub->id, NULL)));
    json_object_object_add(o, "subscriptionId", mf_str(sub->id));
    json_object_object_add(o, "tagName", json_object_new_string(sub->tag));
    json_object_object_add(o, "userId", mf_str(sub->user_id));
    return o;
}

/* Removes the device's subscriptions to tags; strict (one tagName): 404 when it was not
 * there. A tag array takes missing subscriptions as done. */
static int unsubscribe(mf_req_t *q, const char *device_id, apr_array_header_t *tags, int strict)
{
    const char *owner;
    int missing = 0;
    push_status_t rv = push_store_mf_device_owner(q->db, q->app_id, device_id, &owner);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, device_id);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    for (int i = 0; i < tags->nelts; i++) {
        rv = push_store_subscription_delete_pair(q->db, q->app_id, device_id,
                                                 APR_ARRAY_IDX(tags, i, const char *));
        missing = rv == PUSH_NOTFOUND && strict;
        if (rv != PUSH_OK && rv != PUSH_NOTFOUND)
            return mf_store_error(q, rv);
    }
    return missing ? mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL) : mf_no_content(q);
}

/* POST /subscriptions {"deviceId", "tagName"} (201, the subscription) or {"deviceId",
 * "tagNames": [...]} (201, {"subscriptions": [...]}); with ?action=delete, the device SDKs'
 * unsubscribe: the same bodies, 204. */
int mf_subscribe(mf_req_t *q)
{
    static const char *const props[] = {"deviceId", "tagName", "tagNames", NULL};
    static const char *const params[] = {"action", NULL};
    const char *action = apr_table_get(q->query, "action"), *device_id = NULL;
    json_object *body, *list, *tag_names = NULL;
    apr_array_header_t *tags, *subs;
    int has, strict;

    if (!mf_known_params(q, params))
        return OK;
    if (action && strcmp(action, "delete") != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "action");
    if (!(body = mf_body(q)) || !mf_known_properties(q, body, props))
        return OK;
    if ((has = mf_id(q, body, "deviceId", PUSH_MAX_ID, &device_id)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "deviceId");
    if (!(tags = body_tags(q, body)) || !own_device(q, device_id))
        return OK;
    /* strict: one tagName, whose outcome is the answer */
    strict = !json_object_object_get_ex(body, "tagNames", &tag_names) || !tag_names;
    if (action)
        return unsubscribe(q, device_id, tags, strict);
    /* a tag array stops at the first unknown tag and takes existing subscriptions as done */
    subs = apr_array_make(q->r->pool, tags->nelts, sizeof(push_subscription_t));
    for (int i = 0; i < tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(tags, i, const char *);
        push_subscription_t sub;
        push_sub_outcome_t outcome;
        push_status_t rv = push_store_subscribe(q->db, q->app_id, device_id, tag, &outcome, &sub);
        if (rv != PUSH_OK)
            return mf_store_error(q, rv);
        if (outcome == PUSH_SUB_NO_DEVICE)
            return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, device_id);
        if (outcome == PUSH_SUB_NO_TAG)
            return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_TAG_MISSING, tag);
        if (outcome == PUSH_SUB_EXISTS && strict)
            return mf_error(q, HTTP_CONFLICT, PUSH_MSG_SUBSCRIPTION_EXISTS, NULL);
        APR_ARRAY_PUSH(subs, push_subscription_t) = sub;
    }
    if (strict) {
        const push_subscription_t *sub = &APR_ARRAY_IDX(subs, 0, push_subscription_t);
        apr_table_setn(q->r->headers_out, "Location",
                       mf_href(q, "apps", q->app_id, "subscriptions", sub->id, NULL));
        return mf_send(q, HTTP_CREATED, subscribed_json(q, sub));
    }
    list = json_object_new_array();
    for (int i = 0; i < subs->nelts; i++)
        json_object_array_add(list, subscribed_json(q, &APR_ARRAY_IDX(subs, i, push_subscription_t)));
    body = json_object_new_object();
    json_object_object_add(body, "subscriptions", list);
    return mf_send(q, HTTP_CREATED, body);
}

int mf_subscription_get(mf_req_t *q)
{
    push_subscription_t sub;
    push_status_t rv = push_store_subscription_get(q->db, q->app_id, q->id, &sub);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, subscription_json(q, &sub, 1)) : mf_store_error(q, rv);
}

int mf_subscription_delete(mf_req_t *q)
{
    push_status_t rv = push_store_subscription_delete(q->db, q->app_id, q->id);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

/* DELETE /subscriptions?deviceId=&tagName= (the later documents' form). */
int mf_subscriptions_delete(mf_req_t *q)
{
    static const char *const params[] = {"deviceId", "tagName", NULL};
    const char *device, *tag;
    push_status_t rv;
    if (!mf_known_params(q, params))
        return OK;
    device = apr_table_get(q->query, "deviceId");
    tag = apr_table_get(q->query, "tagName");
    if (!device || !*device)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_QUERY_PARAM_MISSING, "deviceId");
    if (!tag || !*tag)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_QUERY_PARAM_MISSING, "tagName");
    if (!own_device(q, device))
        return OK;
    rv = push_store_subscription_delete_pair(q->db, q->app_id, device, tag);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

/* --- health -------------------------------------------------------------------------------------- */

/* GET /health/status, without a token: the state of each part mod_push has so far. */
int mf_health(mf_req_t *q)
{
    int version = 0, senders = 0;
    long queued = 0;
    double oldest = 0;
    json_object *o = json_object_new_object();
    push_status_t rv = push_db_acquire(q->r, &q->db);
    if (rv == PUSH_OK)
        rv = push_store_schema_version(q->db, &version);
    if (rv == PUSH_OK)
        rv = push_store_sender_health(q->db, &senders, &queued, &oldest);
    const char *db = rv == PUSH_OK ? "ok" : rv == PUSH_ESCHEMA ? "schema mismatch" : "unavailable";
    /* the sender counts as alive when one wrote its heartbeat in the last 30 s, on any
     * node sharing the database */
    int sender_ok = rv == PUSH_OK && senders > 0;
    json_object_object_add(o, "status", json_object_new_string(rv == PUSH_OK && sender_ok ? "ok" : "error"));
    json_object_object_add(o, "database", json_object_new_string(db));
    json_object_object_add(o, "sender", json_object_new_string(rv != PUSH_OK ? "unknown" : sender_ok ? "ok" : "down"));
    if (rv == PUSH_OK) {
        json_object_object_add(o, "senders", json_object_new_int(senders));
        json_object_object_add(o, "queued", json_object_new_int64(queued));
        /* milliseconds are what the count knows: 5.108, not 5.1079999999999997 */
        json_object_object_add(o, "oldestPendingSeconds",
                               json_object_new_double_s(oldest, apr_psprintf(q->r->pool, "%.3f", oldest)));
    }
    apr_table_setn(q->r->headers_out, "Cache-Control", "no-store");
    return mf_send(q, rv == PUSH_OK && sender_ok ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, o);
}
