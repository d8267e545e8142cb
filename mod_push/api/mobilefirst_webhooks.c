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
#include "dbd.h"
#include "http_util.h"
#include "log.h"
#include "store/lists.h"
#include "store/statements.h"
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

typedef struct {
    const char *app_id, *name, *url, *events, *secret;
    int set_secret;
    int over_limit;                 /* creation refused: the application has MAX_HOOKS */
    push_db_t *db;
    apr_dbd_row_t *row;
    push_list_query_t lq;
    push_list_page_t page;
    push_status_t (*run)(push_db_t *db, void *op);
} hook_op_t;

static push_status_t run_hook(push_db_t *db, void *ctx)
{
    hook_op_t *op = ctx;
    op->db = apr_pmemdup(db->pool, db, sizeof(*db));
    return op->run(op->db, op);
}

static push_status_t op_create(push_db_t *db, void *ctx)
{
    hook_op_t *op = ctx;
    return push_store_webhook_create(db, op->app_id, op->name, op->url, op->events, op->secret, MAX_HOOKS,
                                     &op->over_limit, &op->row);
}

static push_status_t op_update(push_db_t *db, void *ctx)
{
    hook_op_t *op = ctx;
    return push_store_webhook_update(db, op->app_id, op->name, op->url, op->events, op->set_secret,
                                     op->secret, &op->row);
}

static push_status_t op_get(push_db_t *db, void *ctx)
{
    hook_op_t *op = ctx;
    return push_store_webhook_get(db, op->app_id, op->name, &op->row);
}

static push_status_t op_delete(push_db_t *db, void *ctx)
{
    hook_op_t *op = ctx;
    return push_store_webhook_delete(db, op->app_id, op->name);
}

static push_status_t op_list(push_db_t *db, void *ctx)
{
    hook_op_t *op = ctx;
    return push_store_list(db, &push_list_webhooks, op->app_id, &op->lq, &op->page);
}

static json_object *hook_json(mf_req_t *q, push_db_t *db, apr_dbd_row_t *row)
{
    json_object *o = json_object_new_object();
    const char *name = push_db_col(db, row, PUSH_HOOK_NAME), *signed_ = push_db_col(db, row, PUSH_HOOK_SIGNED);
    json_object_object_add(o, "eventTypes", mf_str(push_db_col(db, row, PUSH_HOOK_EVENTS)));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "webhooks", name, NULL)));
    json_object_object_add(o, "name", mf_str(name));
    json_object_object_add(o, "signed", json_object_new_boolean(signed_ && signed_[0] == 't'));
    json_object_object_add(o, "url", mf_str(push_db_col(db, row, PUSH_HOOK_URL)));
    return o;
}

/* url, eventTypes and the optional HMAC secret of a body; 0 after answering. */
static int read_hook(mf_req_t *q, json_object *body, hook_op_t *op, int required)
{
    static const char *const props[] = {"name", "url", "eventTypes", "secret", NULL};
    const char *events = NULL, *secret = NULL;
    int has;
    if (!mf_known_properties(q, body, props))
        return 0;
    if ((has = mf_string(q, body, "url", PUSH_MAX_TOKEN, &op->url)) < 0)
        return 0;
    if (required && !has)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "url"), 0;
    if (has) {
        /* a tenant's URL: http(s), no credentials, never one that reaches inside (the
         * connection is checked too) */
        const char *why = push_egress_url_problem(q->r->pool, op->url, push_conf_egress(q->r->server));
        if (why)
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_URL_REFUSED, why), 0;
        if (!push_valid_https_url(op->url, strlen(op->url)))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "url"), 0;
    }
    if ((has = mf_string(q, body, "eventTypes", 1024, &events)) < 0)
        return 0;
    if ((required && !has) || (has && !(op->events = normalize_events(q->r->pool, events))))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "eventTypes"), 0;
    if ((has = mf_string(q, body, "secret", 1024, &secret)) < 0)
        return 0;
    if (has) {
        const push_secret_key_t *key = push_conf_secret_key(q->r->server);
        unsigned char *sealed;
        apr_size_t n;
        if (!key || !push_secret_seal(q->r->pool, key, (const unsigned char *)secret, strlen(secret),
                                      apr_pstrcat(q->r->pool, q->app_id, "/webhook/", op->name, NULL),
                                      &sealed, &n)) {
            PUSH_RLOG(APLOG_ERR, 0, q->r, "PUSH0403", "cannot store a webhook secret: PushSecretKey "
                      "is not set");
            return mf_store_error(q, PUSH_EUNAVAIL), 0;
        }
        op->secret = push_bytea_encode(q->r->pool, sealed, n);
        op->set_secret = 1;
    }
    return 1;
}

int mf_webhook_create(mf_req_t *q)
{
    json_object *body = mf_body(q);
    hook_op_t op = {q->app_id, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, {0}, {0}, op_create};
    push_status_t rv;
    int has;
    if (!body)
        return OK;
    if ((has = mf_string(q, body, "name", PUSH_MAX_ID, &op.name)) <= 0)
        return has < 0 ? OK : mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (!read_hook(q, body, &op, 1))
        return OK;
    rv = push_db_with(q->r, run_hook, &op);
    if (rv == PUSH_EINVAL && op.over_limit)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_WEBHOOK_LIMIT, apr_itoa(q->r->pool, MAX_HOOKS));
    if (rv == PUSH_EINVAL)
        return mf_error(q, HTTP_CONFLICT, PUSH_MSG_ALREADY_EXISTS, op.name);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", q->app_id, "webhooks", op.name, NULL));
    return mf_send(q, HTTP_CREATED, hook_json(q, op.db, op.row));
}

int mf_webhook_update(mf_req_t *q)
{
    json_object *body = mf_body(q);
    const char *name = NULL;
    hook_op_t op = {q->app_id, q->id, NULL, NULL, NULL, 0, 0, NULL, NULL, {0}, {0}, op_update};
    push_status_t rv;
    if (!body)
        return OK;
    if (mf_string(q, body, "name", PUSH_MAX_ID, &name) < 0)
        return OK;
    if (name && strcmp(name, q->id) != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "name");
    if (!read_hook(q, body, &op, 0))
        return OK;
    rv = push_db_with(q->r, run_hook, &op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_WEBHOOK_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, hook_json(q, op.db, op.row)) : mf_store_error(q, rv);
}

int mf_webhook_get(mf_req_t *q)
{
    hook_op_t op = {q->app_id, q->id, NULL, NULL, NULL, 0, 0, NULL, NULL, {0}, {0}, op_get};
    push_status_t rv = push_db_with(q->r, run_hook, &op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_WEBHOOK_MISSING, q->id);
    return rv == PUSH_OK ? mf_send(q, HTTP_OK, hook_json(q, op.db, op.row)) : mf_store_error(q, rv);
}

int mf_webhook_delete(mf_req_t *q)
{
    hook_op_t op = {q->app_id, q->id, NULL, NULL, NULL, 0, 0, NULL, NULL, {0}, {0}, op_delete};
    push_status_t rv = push_db_with(q->r, run_hook, &op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_WEBHOOK_MISSING, q->id);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

int mf_webhooks_list(mf_req_t *q)
{
    static const char *const params[] = {"offset", "size", "filter", "after", "before", NULL};
    static const push_filter_field_t fields[] = {{"name", 0}, {"url", 0}, {NULL, 0}};
    hook_op_t op = {q->app_id, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, {0}, {0}, op_list};
    json_object *body, *items;
    const char *first = NULL, *last = NULL;
    push_status_t rv;
    if (!mf_known_params(q, params) || !mf_list_query(q, fields, NULL, &op.lq))
        return OK;
    rv = push_db_with(q->r, run_hook, &op);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    items = json_object_new_array();
    for (int i = 0; i < op.page.rows->nelts; i++) {
        apr_dbd_row_t *row = APR_ARRAY_IDX(op.page.rows, i, apr_dbd_row_t *);
        json_object_array_add(items, hook_json(q, op.db, row));
        last = push_db_col(op.db, row, PUSH_HOOK_NAME);
        if (i == 0)
            first = last;
    }
    body = json_object_new_object();
    json_object_object_add(body, "webhooks", items);
    json_object_object_add(body, "pageInfo", mf_page_info(q, &op.lq, op.page.rows->nelts,
                                                          op.page.total, first, last));
    return mf_send(q, HTTP_OK, body);
}
