/* MobileFirst routes for applications, devices, tags and subscriptions: each parses
 * its request, calls the store through push_db_with, and writes MobileFirst's JSON. */
#include "api/mobilefirst.h"

#include "apr_strings.h"
#include "http_protocol.h"

#include "config.h"
#include "core/scope.h"
#include "core/validate.h"
#include "dbd.h"
#include "http_util.h"
#include "log.h"
#include "sender/wnsmap.h"
#include "sender/egress.h"
#include "sender/webpush_core.h"
#include "store/lists.h"
#include "store/statements.h"
#include "store/store.h"

#define MF_MAX_USER_ID 254   /* MobileFirst's own limit on userId */
#define MF_LIST_PARAMS "offset", "size", "filter", "expand", "after", "before"

/* One store call per route: the route fills an op, a callback runs it on a connection. */
typedef struct mf_op mf_op_t;
struct mf_op {
    mf_req_t *q;
    push_status_t (*run)(push_db_t *db, mf_op_t *op);
    const char *a, *b, *c, *d;
    int flag, flag2;
    push_device_t dev;
    apr_dbd_row_t *row;
    push_list_page_t page;
    const push_list_spec_t *spec;
    push_list_query_t lq;
    push_sub_outcome_t outcome;
    push_db_t *db;                /* rows outlive the connection: they live in r->pool */
    long queued;                  /* health: work waiting for the sender */
    double oldest;
};

static push_status_t run_op(push_db_t *db, void *ctx)
{
    mf_op_t *op = ctx;
    /* results are in the request pool, so rows stay readable after the connection goes back */
    op->db = apr_pmemdup(op->q->r->pool, db, sizeof(*db));
    return op->run(op->db, op);
}

static push_status_t with(mf_op_t *op)
{
    return push_db_with(op->q->r, run_op, op);
}

/* --- push.mobileclient: a device client reaches only the devices it registered -------------- */

typedef struct {
    const char *app_id, *device_id, *owner;
} owner_op_t;

static push_status_t op_owner(push_db_t *db, void *ctx)
{
    owner_op_t *o = ctx;
    return push_store_mf_device_owner(db, o->app_id, o->device_id, &o->owner);
}

/* 1 when q may act on device_id; else 0 after answering (another client's device reads as
 * absent, so a device client learns nothing of the others). */
static int own_device(mf_req_t *q, const char *device_id)
{
    owner_op_t o = {q->app_id, device_id, NULL};
    push_status_t rv;
    if (!q->device_client)
        return 1;
    rv = push_db_with(q->r, op_owner, &o);
    if (rv == PUSH_OK && o.owner && strcmp(o.owner, q->device_client) == 0)
        return 1;
    if (rv == PUSH_OK || rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, device_id), 0;
    return mf_store_error(q, rv), 0;
}

/* --- JSON shapes -------------------------------------------------------------------------- */

static json_object *device_json(mf_req_t *q, push_db_t *db, apr_dbd_row_t *row, int full)
{
    json_object *o = json_object_new_object();
    const char *id = push_db_col(db, row, PUSH_DEV_ID);
    if (full) {
        json_object_object_add(o, "createdMode", mf_str(push_db_col(db, row, PUSH_DEV_MODE)));
        json_object_object_add(o, "createdTime", mf_str(push_db_col(db, row, PUSH_DEV_CREATED)));
    }
    json_object_object_add(o, "deviceId", mf_str(id));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "devices", id, NULL)));
    if (full)
        json_object_object_add(o, "lastUpdatedTime", mf_str(push_db_col(db, row, PUSH_DEV_UPDATED)));
    json_object_object_add(o, "phoneNumber", mf_str(push_db_col(db, row, PUSH_DEV_PHONE)));
    json_object_object_add(o, "platform", mf_str(push_db_col(db, row, PUSH_DEV_PLATFORM)));
    json_object_object_add(o, "token", mf_str(push_db_col(db, row, PUSH_DEV_TOKEN)));
    if (full)
        json_object_object_add(o, "userAgent", mf_str(push_db_col(db, row, PUSH_DEV_AGENT)));
    json_object_object_add(o, "userId", mf_str(push_db_col(db, row, PUSH_DEV_USER)));
    return o;
}

static json_object *tag_json(mf_req_t *q, push_db_t *db, apr_dbd_row_t *row, int full, int counted)
{
    json_object *o = json_object_new_object();
    const char *name = push_db_col(db, row, PUSH_TAG_NAME);
    if (full) {
        json_object_object_add(o, "createdMode", mf_str(push_db_col(db, row, PUSH_TAG_MODE)));
        json_object_object_add(o, "createdTime", mf_str(push_db_col(db, row, PUSH_TAG_CREATED)));
    }
    json_object_object_add(o, "description", mf_str(push_db_col(db, row, PUSH_TAG_DESCRIPTION)));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "tags", name, NULL)));
    if (full)
        json_object_object_add(o, "lastUpdatedTime", mf_str(push_db_col(db, row, PUSH_TAG_UPDATED)));
    json_object_object_add(o, "name", mf_str(name));
    if (counted)
        json_object_object_add(o, "subscriptionCount",
                               json_object_new_int64(atol(push_db_col(db, row, PUSH_TAG_SUBSCRIPTIONS))));
    return o;
}

static json_object *subscription_json(mf_req_t *q, push_db_t *db, apr_dbd_row_t *row, int full)
{
    json_object *o = json_object_new_object();
    const char *id = push_db_col(db, row, PUSH_SUBCOL_ID);
    if (full)
        json_object_object_add(o, "createdTime", mf_str(push_db_col(db, row, PUSH_SUBCOL_CREATED)));
    json_object_object_add(o, "deviceId", mf_str(push_db_col(db, row, PUSH_SUBCOL_DEVICE)));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "subscriptions", id, NULL)));
    json_object_object_add(o, "subscriptionId", mf_str(id));
    json_object_object_add(o, "tagName", mf_str(push_db_col(db, row, PUSH_SUBCOL_TAG)));
    json_object_object_add(o, "userId", mf_str(push_db_col(db, row, PUSH_SUBCOL_USER)));
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

static push_status_t op_list(push_db_t *db, mf_op_t *op)
{
    return push_store_list(db, op->spec, op->a, &op->lq, &op->page);
}

typedef json_object *(*row_json_fn)(mf_op_t *op, apr_dbd_row_t *row);

/* Runs a list and answers {"<name>": [...], "pageInfo": {...}}. key_col: the key's column. */
static int answer_list(mf_op_t *op, const char *name, int key_col, row_json_fn to_json)
{
    mf_req_t *q = op->q;
    json_object *body, *items;
    const char *first = NULL, *last = NULL;
    push_status_t rv;
    op->run = op_list;
    rv = with(op);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    body = json_object_new_object();
    items = json_object_new_array();
    for (int i = 0; i < op->page.rows->nelts; i++) {
        apr_dbd_row_t *row = APR_ARRAY_IDX(op->page.rows, i, apr_dbd_row_t *);
        json_object_array_add(items, to_json(op, row));
        last = push_db_col(op->db, row, key_col);
        if (i == 0)
            first = last;
    }
    json_object_object_add(body, name, items);
    json_object_object_add(body, "pageInfo", mf_page_info(q, &op->lq, op->page.rows->nelts,
                                                          op->page.total, first, last));
    return mf_send(q, HTTP_OK, body);
}

static json_object *device_row(mf_op_t *op, apr_dbd_row_t *row)
{
    return device_json(op->q, op->db, row, op->flag);
}

static json_object *tag_row(mf_op_t *op, apr_dbd_row_t *row)
{
    return tag_json(op->q, op->db, row, op->flag, op->flag2);
}

static json_object *subscription_row(mf_op_t *op, apr_dbd_row_t *row)
{
    return subscription_json(op->q, op->db, row, op->flag);
}

static json_object *app_row(mf_op_t *op, apr_dbd_row_t *row)
{
    const char *enabled = push_db_col(op->db, row, 1);
    return app_json(op->q, push_db_col(op->db, row, 0), enabled && enabled[0] == 't');
}

int mf_devices_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, "userId", NULL};
    static const char *const extra[] = {"userId", NULL};
    static const push_filter_field_t fields[] = {
        {"platform", 1}, {"deviceId", 0}, {"userId", 0}, {"token", 0}, {"phoneNumber", 0}, {NULL, 0}};
    mf_op_t op = {.q = q, .a = q->app_id, .spec = &push_list_devices};
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, extra, &op.lq))
        return OK;
    op.flag = mf_expand(q);
    return answer_list(&op, "devices", PUSH_DEV_ID, device_row);
}

int mf_tags_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, "subscriptionCount", NULL};
    static const push_filter_field_t fields[] = {{"name", 0}, {"description", 0}, {NULL, 0}};
    const char *counted = apr_table_get(q->query, "subscriptionCount");
    mf_op_t op = {.q = q, .a = q->app_id};
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, NULL, &op.lq))
        return OK;
    op.flag = mf_expand(q);
    op.flag2 = counted && strcmp(counted, "true") == 0;
    op.spec = op.flag2 ? &push_list_tags_counted : &push_list_tags;
    return answer_list(&op, "tags", PUSH_TAG_NAME, tag_row);
}

int mf_subscriptions_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, "deviceId", "tagName", "userId", NULL};
    static const char *const extra[] = {"deviceId", "tagName", "userId", NULL};
    static const push_filter_field_t fields[] = {
        {"tagName", 0}, {"deviceId", 0}, {"userId", 0}, {NULL, 0}};
    mf_op_t op = {.q = q, .a = q->app_id, .spec = &push_list_subscriptions};
    const char *device = apr_table_get(q->query, "deviceId");
    if (!mf_known_params(q, params))
        return OK;
    /* a device client lists its own device's subscriptions only */
    if (q->device_client && !device)
        return mf_insufficient_scope(q, "subscriptions.read");
    if ((device && !own_device(q, device)) || !mf_list_query(q, fields, extra, &op.lq))
        return OK;
    op.flag = mf_expand(q);
    return answer_list(&op, "subscriptions", PUSH_SUBCOL_ID, subscription_row);
}

int mf_apps_list(mf_req_t *q)
{
    static const char *const params[] = {MF_LIST_PARAMS, NULL};
    static const push_filter_field_t fields[] = {{"applicationId", 0}, {NULL, 0}};
    mf_op_t op = {.q = q, .a = NULL, .spec = &push_list_applications};
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, NULL, &op.lq))
        return OK;
    return answer_list(&op, "applications", 0, app_row);
}

/* --- applications --------------------------------------------------------------------------- */

static push_status_t op_app_create(push_db_t *db, mf_op_t *op)
{
    return push_store_app_create(db, op->a, op->flag);
}

int mf_app_create(mf_req_t *q)
{
    static const char *const props[] = {"applicationId", "enabled", NULL};
    json_object *body = mf_body(q), *enabled = NULL;
    const char *scopes = apr_table_get(q->r->notes, "push-scopes"), *id = NULL;
    mf_op_t op = {.q = q, .run = op_app_create, .flag = 1};
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
        op.flag = json_object_get_boolean(enabled);
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
    op.a = id;
    rv = with(&op);
    if (rv == PUSH_EINVAL)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, id);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", id, NULL));
    return mf_send(q, HTTP_CREATED, app_json(q, id, op.flag));
}

int mf_app_get(mf_req_t *q)
{
    static const char *const none[] = {NULL};
    if (!mf_known_params(q, none))
        return OK;
    return mf_send(q, HTTP_OK, app_json(q, q->app_id, q->app_enabled));
}

static push_status_t op_app_delete(push_db_t *db, mf_op_t *op)
{
    return push_store_app_delete(db, op->a);
}

int mf_app_delete(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_app_delete, .a = q->app_id};
    push_status_t rv = with(&op);
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

static push_status_t op_app_status(push_db_t *db, mf_op_t *op)
{
    return push_store_app_set_enabled(db, op->a, op->flag);
}

int mf_app_status_put(mf_req_t *q)
{
    static const char *const props[] = {"enabled", NULL};
    json_object *body = mf_body(q), *enabled = NULL, *o;
    mf_op_t op = {.q = q, .run = op_app_status, .a = q->app_id};
    push_status_t rv;
    if (!body || !mf_known_properties(q, body, props))
        return OK;
    if (!json_object_object_get_ex(body, "enabled", &enabled) || !enabled ||
        !json_object_is_type(enabled, json_type_boolean))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "enabled");
    op.flag = json_object_get_boolean(enabled);
    rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_APP_MISSING, NULL);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    o = json_object_new_object();
    json_object_object_add(o, "enabled", json_object_new_boolean(op.flag));
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

static push_status_t op_register(push_db_t *db, mf_op_t *op)
{
    const char *owner = NULL;
    push_status_t rv;
    if (op->c) {
        /* a device client registers a new device or its own one, never another's */
        rv = push_store_mf_device_owner(db, op->dev.app_id, op->dev.device_id, &owner);
        if (rv == PUSH_OK && strcmp(owner, op->c) != 0) {
            op->flag = 1;
            return PUSH_OK;
        }
        if (rv != PUSH_OK && rv != PUSH_NOTFOUND)
            return rv;
    }
    rv = push_store_mf_register(db, &op->dev, op->b, &op->row);
    if (rv == PUSH_OK && op->c)
        rv = push_store_mf_device_claim(db, op->dev.app_id, op->dev.device_id, op->c);
    return rv;
}

int mf_device_register(mf_req_t *q)
{
    static const char *const props[] = {"deviceId", "token", "platform", "phoneNumber", "userId", NULL};
    json_object *body = mf_body(q);
    const char *platform = NULL, *phone = NULL;
    mf_op_t op = {.q = q, .run = op_register};
    int present, has;
    push_status_t rv;

    if (!body || !mf_known_properties(q, body, props))
        return OK;
    if ((has = mf_id(q, body, "deviceId", PUSH_MAX_ID, &op.dev.device_id)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "deviceId");
    if ((has = mf_string(q, body, "token", PUSH_MAX_TOKEN, &op.dev.token)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "token");
    if (mf_string(q, body, "platform", 1, &platform) < 0)
        return OK;
    if (!(op.dev.platform = platform_name(platform)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "platform");
    if (!push_valid_device_token(op.dev.platform, op.dev.token, strlen(op.dev.token)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "token");
    if (!channel_ok(q, op.dev.platform, op.dev.token) ||
        (strcmp(op.dev.platform, "webpush") == 0 && !webpush_token_ok(q, op.dev.token)))
        return OK;
    if (!phone_ok(q, body, &phone, &present) || !user_id_ok(q, body, &op.dev.user_id, &present) ||
        !user_allowed(q, present))
        return OK;
    op.dev.app_id = q->app_id;
    op.c = q->device_client;
    op.dev.family = "mobilefirst";
    op.dev.user_agent = apr_table_get(q->r->headers_in, "User-Agent");
    if (op.dev.user_agent && (strlen(op.dev.user_agent) > 1024 ||
                              !push_valid_utf8(op.dev.user_agent, strlen(op.dev.user_agent))))
        op.dev.user_agent = NULL;
    op.b = phone;
    rv = with(&op);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    if (op.flag)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, op.dev.device_id);
    apr_table_setn(q->r->headers_out, "Location",
                   mf_href(q, "apps", q->app_id, "devices", op.dev.device_id, NULL));
    return mf_send(q, HTTP_CREATED, device_json(q, op.db, op.row, 1));
}

static push_status_t op_device_get(push_db_t *db, mf_op_t *op)
{
    return push_store_mf_device_get(db, op->a, op->b, &op->row);
}

int mf_device_get(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_device_get, .a = q->app_id, .b = q->id};
    push_status_t rv;
    if (!own_device(q, q->id))
        return OK;
    rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, device_json(q, op.db, op.row, 1))
                         : mf_store_error(q, rv);
}

/* A new token for a browser's device is checked as at registration. 0 after answering
 * (also when the device does not exist: 404). */
static int webpush_update_ok(mf_req_t *q, const char *token)
{
    mf_op_t get = {.q = q, .run = op_device_get, .a = q->app_id, .b = q->id};
    push_status_t rv = with(&get);
    const char *platform;
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id), 0;
    if (rv != PUSH_OK)
        return mf_store_error(q, rv), 0;
    platform = push_db_col(get.db, get.row, PUSH_DEV_PLATFORM);
    /* the row shows MobileFirst's letter */
    return !platform || strcmp(platform, "B") != 0 || webpush_token_ok(q, token);
}

/* A new token is checked against the platform the device is stored with (an update
 * never changes it); PUSH_EINVAL when the token does not suit it. */
static push_status_t op_device_update(push_db_t *db, mf_op_t *op)
{
    if (op->dev.token) {
        apr_dbd_row_t *row;
        const char *platform;
        push_status_t rv = push_store_mf_device_get(db, op->a, op->b, &row);
        if (rv != PUSH_OK)
            return rv;
        platform = platform_name(push_db_col(db, row, PUSH_DEV_PLATFORM));
        if (!push_valid_device_token(platform ? platform : "sms", op->dev.token,
                                     strlen(op->dev.token)))
            return PUSH_EINVAL;
    }
    return push_store_mf_device_update(db, op->a, op->b, op->dev.token, op->flag, op->dev.user_id,
                                       op->flag2, op->c, op->d, &op->row);
}

int mf_device_update(mf_req_t *q)
{
    static const char *const props[] = {"deviceId", "token", "platform", "phoneNumber", "userId", NULL};
    json_object *body = mf_body(q);
    const char *same = NULL, *platform = NULL;
    mf_op_t op = {.q = q, .run = op_device_update, .a = q->app_id, .b = q->id};
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
    if (mf_string(q, body, "token", PUSH_MAX_TOKEN, &op.dev.token) < 0 ||
        !phone_ok(q, body, &op.c, &op.flag2) || !user_id_ok(q, body, &op.dev.user_id, &op.flag) ||
        !user_allowed(q, op.flag))
        return OK;
    if (op.dev.token && !webpush_update_ok(q, op.dev.token))
        return OK;
    op.d = apr_table_get(q->r->headers_in, "User-Agent");
    if (op.d && (strlen(op.d) > 1024 || !push_valid_utf8(op.d, strlen(op.d))))
        op.d = NULL;
    if (op.dev.token) {
        /* the platform is the stored device's: a new token is checked as its kind */
        mf_op_t get = {.q = q, .run = op_device_get, .a = q->app_id, .b = q->id};
        if (with(&get) == PUSH_OK &&
            !channel_ok(q, platform_name(push_db_col(get.db, get.row, PUSH_DEV_PLATFORM)), op.dev.token))
            return OK;
    }
    rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id);
    if (rv == PUSH_EINVAL)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "token");
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, device_json(q, op.db, op.row, 1))
                         : mf_store_error(q, rv);
}

static push_status_t op_device_delete(push_db_t *db, mf_op_t *op)
{
    return push_store_device_remove(db, op->a, op->b);
}

int mf_device_delete(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_device_delete, .a = q->app_id, .b = q->id};
    push_status_t rv;
    if (!own_device(q, q->id))
        return OK;
    rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, q->id);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

/* --- tags -------------------------------------------------------------------------------------- */

static push_status_t op_tag_create(push_db_t *db, mf_op_t *op)
{
    return push_store_tag_create(db, op->a, op->b, op->c, &op->row);
}

int mf_tag_create(mf_req_t *q)
{
    static const char *const props[] = {"name", "description", NULL};
    json_object *body = mf_body(q);
    mf_op_t op = {.q = q, .run = op_tag_create, .a = q->app_id};
    push_status_t rv;
    int has;
    if (!body || !mf_known_properties(q, body, props))
        return OK;
    if ((has = mf_id(q, body, "name", PUSH_MAX_ID, &op.b)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (mf_string(q, body, "description", 1024, &op.c) < 0)
        return OK;
    rv = with(&op);
    if (rv == PUSH_EINVAL)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, op.b);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", q->app_id, "tags", op.b, NULL));
    return mf_send(q, HTTP_CREATED, tag_json(q, op.db, op.row, 1, 0));
}

static push_status_t op_tag_get(push_db_t *db, mf_op_t *op)
{
    return push_store_tag_get(db, op->a, op->b, &op->row);
}

int mf_tag_get(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_tag_get, .a = q->app_id, .b = q->id};
    push_status_t rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_TAG_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, tag_json(q, op.db, op.row, 1, 0))
                         : mf_store_error(q, rv);
}

static push_status_t op_tag_update(push_db_t *db, mf_op_t *op)
{
    return push_store_tag_update(db, op->a, op->b, op->c, &op->row);
}

int mf_tag_update(mf_req_t *q)
{
    static const char *const props[] = {"name", "description", NULL};
    json_object *body = mf_body(q);
    const char *name = NULL;
    mf_op_t op = {.q = q, .run = op_tag_update, .a = q->app_id, .b = q->id};
    push_status_t rv;
    if (!body || !mf_known_properties(q, body, props))
        return OK;
    /* the name never changes */
    if (mf_id(q, body, "name", PUSH_MAX_ID, &name) < 0)
        return OK;
    if (name && strcmp(name, q->id) != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (mf_string(q, body, "description", 1024, &op.c) < 0)
        return OK;
    rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_TAG_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, tag_json(q, op.db, op.row, 1, 0))
                         : mf_store_error(q, rv);
}

static push_status_t op_tag_delete(push_db_t *db, mf_op_t *op)
{
    return push_store_tag_delete(db, op->a, op->b);
}

int mf_tag_delete(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_tag_delete, .a = q->app_id, .b = q->id};
    push_status_t rv;
    if (strcmp(q->id, "Push.all") == 0) /* the broadcast tag is reserved */
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "Push.all");
    rv = with(&op);
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

typedef struct {
    mf_req_t *q;
    const char *device_id;
    apr_array_header_t *tags;
    int remove, strict;          /* strict: one tagName, whose outcome is the answer */
    int missing;                 /* removing: the one subscription named was not there */
    push_sub_outcome_t outcome;
    const char *failed_tag;
    apr_array_header_t *rows;    /* subscribed: apr_dbd_row_t * per tag */
    push_db_t *db;
} subs_op_t;

/* Every tag of the body in one visit to the store; a tag array stops at the first unknown
 * tag and takes existing subscriptions (or missing ones, to remove) as done. */
static push_status_t op_subscriptions(push_db_t *db, void *ctx)
{
    subs_op_t *o = ctx;
    const char *owner;
    push_status_t rv;
    o->db = apr_pmemdup(o->q->r->pool, db, sizeof(*db));
    if (o->remove) {
        rv = push_store_mf_device_owner(o->db, o->q->app_id, o->device_id, &owner);
        if (rv == PUSH_NOTFOUND)
            o->outcome = PUSH_SUB_NO_DEVICE;
        if (rv != PUSH_OK)
            return rv == PUSH_NOTFOUND ? PUSH_OK : rv;
    }
    for (int i = 0; i < o->tags->nelts; i++) {
        const char *tag = APR_ARRAY_IDX(o->tags, i, const char *);
        apr_dbd_row_t *row = NULL;
        if (o->remove) {
            rv = push_store_subscription_delete_pair(o->db, o->q->app_id, o->device_id, tag);
            o->missing = rv == PUSH_NOTFOUND && o->strict;
            if (rv != PUSH_OK && rv != PUSH_NOTFOUND)
                return rv;
            continue;
        }
        rv = push_store_subscribe(o->db, o->q->app_id, o->device_id, tag, &o->outcome, &row);
        if (rv != PUSH_OK)
            return rv;
        if (o->outcome == PUSH_SUB_NO_DEVICE || o->outcome == PUSH_SUB_NO_TAG ||
            (o->outcome == PUSH_SUB_EXISTS && o->strict)) {
            o->failed_tag = tag;
            return PUSH_OK;
        }
        APR_ARRAY_PUSH(o->rows, apr_dbd_row_t *) = row;
    }
    o->outcome = PUSH_SUB_CREATED;
    return PUSH_OK;
}

static json_object *subscribed_json(mf_req_t *q, push_db_t *db, apr_dbd_row_t *row,
                                    const char *device_id, const char *tag)
{
    const char *id = push_db_col(db, row, 1);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "createdTime", mf_str(push_db_col(db, row, 3)));
    json_object_object_add(o, "deviceId", json_object_new_string(device_id));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "subscriptions", id, NULL)));
    json_object_object_add(o, "subscriptionId", mf_str(id));
    json_object_object_add(o, "tagName", json_object_new_string(tag));
    json_object_object_add(o, "userId", mf_str(push_db_col(db, row, 2)));
    return o;
}

/* POST /subscriptions {"deviceId", "tagName"} (201, the subscription) or {"deviceId",
 * "tagNames": [...]} (201, {"subscriptions": [...]}); with ?action=delete, the device SDKs'
 * unsubscribe: the same bodies, 204. */
int mf_subscribe(mf_req_t *q)
{
    static const char *const props[] = {"deviceId", "tagName", "tagNames", NULL};
    static const char *const params[] = {"action", NULL};
    const char *action = apr_table_get(q->query, "action");
    json_object *body, *list, *tag_names = NULL;
    subs_op_t o = {q, NULL, NULL, 0, 0, 0, PUSH_SUB_CREATED, NULL, NULL, NULL};
    push_status_t rv;
    int has;

    if (!mf_known_params(q, params))
        return OK;
    if (action && strcmp(action, "delete") != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "action");
    if (!(body = mf_body(q)) || !mf_known_properties(q, body, props))
        return OK;
    if ((has = mf_id(q, body, "deviceId", PUSH_MAX_ID, &o.device_id)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "deviceId");
    if (!(o.tags = body_tags(q, body)) || !own_device(q, o.device_id))
        return OK;
    o.remove = action != NULL;
    o.strict = !json_object_object_get_ex(body, "tagNames", &tag_names) || !tag_names;
    o.rows = apr_array_make(q->r->pool, o.tags->nelts, sizeof(apr_dbd_row_t *));
    rv = push_db_with(q->r, op_subscriptions, &o);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    if (o.remove && o.outcome != PUSH_SUB_NO_DEVICE)
        return o.missing ? mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL)
                         : mf_no_content(q);
    switch (o.outcome) {
    case PUSH_SUB_NO_DEVICE:
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_DEVICE_MISSING, o.device_id);
    case PUSH_SUB_NO_TAG:
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_TAG_MISSING, o.failed_tag);
    case PUSH_SUB_EXISTS:
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_SUBSCRIPTION_EXISTS, NULL);
    default:
        break;
    }
    if (o.strict) {
        apr_dbd_row_t *row = APR_ARRAY_IDX(o.rows, 0, apr_dbd_row_t *);
        apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", q->app_id, "subscriptions",
                                                              push_db_col(o.db, row, 1), NULL));
        return mf_send(q, HTTP_CREATED, subscribed_json(q, o.db, row, o.device_id,
                                                        APR_ARRAY_IDX(o.tags, 0, const char *)));
    }
    list = json_object_new_array();
    for (int i = 0; i < o.rows->nelts; i++)
        json_object_array_add(list, subscribed_json(q, o.db, APR_ARRAY_IDX(o.rows, i, apr_dbd_row_t *),
                                                    o.device_id, APR_ARRAY_IDX(o.tags, i, const char *)));
    body = json_object_new_object();
    json_object_object_add(body, "subscriptions", list);
    return mf_send(q, HTTP_CREATED, body);
}

static push_status_t op_subscription_get(push_db_t *db, mf_op_t *op)
{
    return push_store_subscription_get(db, op->a, op->b, &op->row);
}

int mf_subscription_get(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_subscription_get, .a = q->app_id, .b = q->id};
    push_status_t rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, subscription_json(q, op.db, op.row, 1))
                         : mf_store_error(q, rv);
}

static push_status_t op_subscription_delete(push_db_t *db, mf_op_t *op)
{
    return op->c ? push_store_subscription_delete_pair(db, op->a, op->b, op->c)
                 : push_store_subscription_delete(db, op->a, op->b);
}

int mf_subscription_delete(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_subscription_delete, .a = q->app_id, .b = q->id};
    push_status_t rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

/* DELETE /subscriptions?deviceId=&tagName= (the later documents' form). */
int mf_subscriptions_delete(mf_req_t *q)
{
    static const char *const params[] = {"deviceId", "tagName", NULL};
    mf_op_t op = {.q = q, .run = op_subscription_delete, .a = q->app_id};
    push_status_t rv;
    if (!mf_known_params(q, params))
        return OK;
    op.b = apr_table_get(q->query, "deviceId");
    op.c = apr_table_get(q->query, "tagName");
    if (!op.b || !*op.b)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_QUERY_PARAM_MISSING, "deviceId");
    if (!op.c || !*op.c)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_QUERY_PARAM_MISSING, "tagName");
    if (!own_device(q, op.b))
        return OK;
    rv = with(&op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SUBSCRIPTION_MISSING, NULL);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

/* --- health -------------------------------------------------------------------------------------- */

static push_status_t op_health(push_db_t *db, mf_op_t *op)
{
    int version = 0;
    push_status_t rv = push_store_schema_version(db, &version);
    op->flag = version;
    if (rv == PUSH_OK)
        rv = push_store_sender_health(db, &op->flag2, &op->queued, &op->oldest);
    return rv;
}

/* GET /health/status, without a token: the state of each part mod_push has so far. */
int mf_health(mf_req_t *q)
{
    mf_op_t op = {.q = q, .run = op_health};
    push_status_t rv = with(&op);
    json_object *o = json_object_new_object();
    const char *db = rv == PUSH_OK ? "ok" : rv == PUSH_ESCHEMA ? "schema mismatch" : "unavailable";
    /* the sender counts as alive when one wrote its heartbeat in the last 30 s, on any
     * node sharing the database */
    int sender_ok = rv == PUSH_OK && op.flag2 > 0;
    json_object_object_add(o, "status", json_object_new_string(rv == PUSH_OK && sender_ok ? "ok" : "error"));
    json_object_object_add(o, "database", json_object_new_string(db));
    json_object_object_add(o, "sender", json_object_new_string(rv != PUSH_OK ? "unknown" : sender_ok ? "ok" : "down"));
    if (rv == PUSH_OK) {
        json_object_object_add(o, "senders", json_object_new_int(op.flag2));
        json_object_object_add(o, "queued", json_object_new_int64(op.queued));
        json_object_object_add(o, "oldestPendingSeconds", json_object_new_double(op.oldest));
    }
    apr_table_setn(q->r->headers_out, "Cache-Control", "no-store");
    return mf_send(q, rv == PUSH_OK && sender_ok ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, o);
}
