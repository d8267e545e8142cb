/* Rocket.Chat's REST API for push: POST and DELETE /api/v1/push.token, GET
 * /api/v1/push.info, POST /api/v1/push.test and GET /api/v1/push.get (docs/rocketchat.md). */
#include "core/metrics.h"
#include "api/api.h"

#include "apr_strings.h"
#include "apr_uuid.h"
#include "http_core.h"
#include "http_protocol.h"

#include "config.h"
#include "core/auth.h"
#include "core/registry.h"
#include "core/token.h"
#include "core/validate.h"
#include "dbd.h"
#include "http_util.h"
#include "log.h"
#include "sender/payload.h"
#include "sender/sender.h"
#include "store/store.h"

#define RC_LOGIN_REQUIRED "You must be logged in to do this."
#define RC_DEVICE_LIMIT 25 /* PushUserDeviceLimit's default here, as Layer's */

static int rc_send(request_rec *r, int status, json_object *body)
{
    return push_send_json(r, status, "application/json", body);
}

/* {"success": false, "error": text} plus, for validation, "errorType". */
static int rc_error(request_rec *r, int status, const char *error, const char *error_type)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(
        error_type ? apr_psprintf(r->pool, "%s [%s]", error, error_type) : error));
    if (error_type)
        json_object_object_add(o, "errorType", json_object_new_string(error_type));
    return rc_send(r, status, o);
}

static int rc_unauthorized(request_rec *r)
{
    json_object *o = json_object_new_object();
    push_auth_refused(r);
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(RC_LOGIN_REQUIRED));
    json_object_object_add(o, "status", json_object_new_string("error"));
    json_object_object_add(o, "message", json_object_new_string(RC_LOGIN_REQUIRED));
    return rc_send(r, HTTP_UNAUTHORIZED, o);
}

static int rc_unavailable(request_rec *r)
{
    return rc_error(r, HTTP_SERVICE_UNAVAILABLE, "The service is temporarily unavailable", NULL);
}

/* X-User-Id and X-Auth-Token must name a live session of that very user. */
static push_status_t rc_authenticate(request_rec *r, push_principal_t *who)
{
    const char *user = apr_table_get(r->headers_in, "X-User-Id");
    const char *token = apr_table_get(r->headers_in, "X-Auth-Token");
    push_status_t rv;
    if (!user || !*user || ((!token || !*token) &&
                            push_conf_session_source(r) != PUSH_SESSION_REMOTE_USER))
        return PUSH_NOTFOUND;
    rv = push_auth_session(r, token, token ? strlen(token) : 0, who);
    if (rv == PUSH_OK && strcmp(who->user_id, user) != 0)
        return PUSH_NOTFOUND;
    return rv;
}

/* The body as a JSON object, or NULL after answering. */
static json_object *rc_body(request_rec *r)
{
    char *buf;
    apr_size_t len;
    json_object *body;
    switch (push_read_body(r, push_conf_max_body(r), &buf, &len)) {
    case PUSH_BODY_OK:
        break;
    case PUSH_BODY_TOO_LARGE:
        rc_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "The request body is too large", NULL);
        return NULL;
    default:
        rc_error(r, HTTP_BAD_REQUEST, "The request body could not be read", NULL);
        return NULL;
    }
    switch (push_parse_json_object(r, buf, len, &body)) {
    case PUSH_BODY_OK:
        break;
    case PUSH_BODY_NUL:
        rc_error(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool, "The parameter '%s' must not hold a NUL "
                 "character", push_body_nul_property(r)), "error-invalid-param");
        return NULL;
    default:
        rc_error(r, HTTP_BAD_REQUEST, "The request body must be a JSON object", NULL);
        return NULL;
    }
    return body;
}

/* A non-empty string of at most max bytes of UTF-8. */
static int text_ok(json_object *obj, const char *name, apr_size_t max, const char **out)
{
    apr_size_t len;
    return push_json_string(obj, name, out, &len) == 1 && push_valid_text(*out, len, max);
}

typedef struct {
    push_device_t d;
    const char *id, *new_id, *app_name, *token, *voip;
    int limit;
    apr_dbd_row_t *row;
    push_db_t db;
} rc_op_t;

static push_status_t op_register(push_db_t *db, void *ctx)
{
    rc_op_t *op = ctx;
    op->db = *db;
    return push_store_rocketchat_register(db, &op->d, op->id, op->new_id, op->app_name, op->voip,
                                          op->limit, &op->row);
}

static push_status_t op_delete(push_db_t *db, void *ctx)
{
    rc_op_t *op = ctx;
    return push_store_rocketchat_delete(db, op->d.app_id, op->token, op->d.user_id);
}

static int push_token_post(request_rec *r, const push_principal_t *who)
{
    json_object *body = rc_body(r), *id, *result, *tok;
    const char *type = NULL, *value = NULL, *app_name = NULL;
    rc_op_t op;
    push_invalid_t why;
    push_status_t rv;

    if (!body)
        return OK;
    memset(&op, 0, sizeof(op));
    /* Rocket.Chat's order of checks: the first that fails decides */
    if (json_object_object_get_ex(body, "id", &id) && id) {
        apr_size_t len;
        if (push_json_string(body, "id", &op.id, &len) != 1 || !push_valid_id(op.id, len, PUSH_MAX_ID))
            return rc_error(r, HTTP_BAD_REQUEST, "The required \"id\" body param is invalid.",
                            "error-id-param-not-valid");
    }
    if (!text_ok(body, "type", 8, &type) || (strcmp(type, "apn") != 0 && strcmp(type, "gcm") != 0))
        return rc_error(r, HTTP_BAD_REQUEST, "The required \"type\" body param is missing or invalid.",
                        "error-type-param-not-valid");
    /* the token becomes part of a provider's request (the APNs path), the appName its
     * apns-topic header: both are refused here rather than sent */
    if (!text_ok(body, "value", PUSH_MAX_TOKEN, &value) ||
        !push_valid_device_token(type[0] == 'a' ? "apns" : "fcm", value, strlen(value)))
        return rc_error(r, HTTP_BAD_REQUEST, "The required \"value\" body param is missing or invalid.",
                        "error-token-param-not-valid");
    if (!text_ok(body, "appName", PUSH_MAX_SHORT, &app_name) ||
        !push_valid_topic(app_name, strlen(app_name)))
        return rc_error(r, HTTP_BAD_REQUEST, "The required \"appName\" body param is missing or invalid.",
                        "error-appName-param-not-valid");

    /* the PushKit token of newer iOS apps (optional): VoIP pushes go to it, in the
     * request path, so only visible ASCII that cannot change the path */
    if (json_object_object_get_ex(body, "voipToken", &id) && id) {
        apr_size_t len;
        if (push_json_string(body, "voipToken", &op.voip, &len) != 1 || len == 0 || len > PUSH_MAX_TOKEN ||
            strspn(op.voip, "0123456789abcdefABCDEF") != len)
            return rc_error(r, HTTP_BAD_REQUEST, "The \"voipToken\" body param is invalid.",
                            "error-voipToken-param-not-valid");
    }
    op.new_id = push_token_meteor_id(r->pool);
    if (!op.new_id)
        return rc_unavailable(r);
    op.d.app_id = push_conf_app_id(r);
    op.d.device_id = op.id ? op.id : op.new_id;
    op.d.platform = type[0] == 'a' ? "apns" : "fcm";
    op.d.token = value;
    op.d.user_id = who->user_id;
    op.d.family = "rocketchat";
    op.d.session_ref = who->session_ref;
    op.d.user_agent = apr_table_get(r->headers_in, "User-Agent");
    if (!push_registry_validate(r->pool, &op.d, &why))
        return rc_error(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool, "The %s is invalid: %s",
                        why.field, why.reason), "error-invalid-param");
    op.app_name = app_name;
    op.limit = push_conf_user_device_limit(r, RC_DEVICE_LIMIT);
    rv = push_db_with(r, op_register, &op);
    if (rv == PUSH_EFORBIDDEN)
        return rc_error(r, HTTP_FORBIDDEN, "The push token record belongs to another user",
                        "error-not-allowed");
    if (rv != PUSH_OK)
        return rc_unavailable(r);

    result = json_object_new_object();
    json_object_object_add(result, "_id", json_object_new_string(push_db_col(&op.db, op.row, 0)));
    tok = json_object_new_object();
    json_object_object_add(tok, type, json_object_new_string(value));
    json_object_object_add(result, "token", tok);
    json_object_object_add(result, "appName", json_object_new_string(app_name));
    if (op.voip)
        json_object_object_add(result, "voipToken", json_object_new_string(op.voip));
    json_object_object_add(result, "userId", json_object_new_string(who->user_id));
    json_object_object_add(result, "enabled", json_object_new_boolean(1));
    json_object_object_add(result, "createdAt", json_object_new_string(push_db_col(&op.db, op.row, 1)));
    json_object_object_add(result, "updatedAt", json_object_new_string(push_db_col(&op.db, op.row, 2)));
    body = json_object_new_object();
    json_object_object_add(body, "result", result);
    json_object_object_add(body, "success", json_object_new_boolean(1));
    return rc_send(r, HTTP_OK, body);
}

static int push_token_delete(request_rec *r, const push_principal_t *who)
{
    json_object *body = rc_body(r), *o;
    rc_op_t op;
    push_status_t rv;
    if (!body)
        return OK;
    memset(&op, 0, sizeof(op));
    if (!text_ok(body, "token", PUSH_MAX_TOKEN, &op.token))
        return rc_error(r, HTTP_BAD_REQUEST, "The required \"token\" body param is missing or invalid.",
                        "error-token-param-not-valid");
    op.d.app_id = push_conf_app_id(r);
    op.d.user_id = who->user_id;
    rv = push_db_with(r, op_delete, &op);
    if (rv == PUSH_NOTFOUND)
        return rc_error(r, HTTP_NOT_FOUND, "Resource not found", NULL);
    if (rv != PUSH_OK)
        return rc_unavailable(r);
    o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    return rc_send(r, HTTP_OK, o);
}

/* Whether this server sends pushes: its sender is on (PushSender). */
static int push_enabled(request_rec *r)
{
    const push_srv_conf_t *c = push_srv_conf(r->server);
    return c->sender && c->sender->enabled > 0;
}

static int push_info(request_rec *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "pushGatewayEnabled", json_object_new_boolean(push_enabled(r)));
    json_object_object_add(o, "defaultPushGateway", json_object_new_boolean(1));
    json_object_object_add(o, "success", json_object_new_boolean(1));
    return rc_send(r, HTTP_OK, o);
}

typedef struct {
    const char *app_id, *user, *id, *body;
    int tokens;
    push_quota_t quota;
    push_quota_refusal_t refusal;
} rc_test_t;

/* 429 as Rocket.Chat's rate limiter words it, with Retry-After. */
static int rc_too_many(request_rec *r, int seconds)
{
    json_object *o, *details;
    if (seconds < 1)
        seconds = 1;
    apr_table_setn(r->err_headers_out, "Retry-After", apr_itoa(r->pool, seconds));
    o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(apr_psprintf(r->pool,
        "Error, too many requests. Please slow down. You must wait %d seconds before trying this "
        "endpoint again. [too-many-requests]", seconds)));
    json_object_object_add(o, "errorType", json_object_new_string("too-many-requests"));
    details = json_object_new_object();
    json_object_object_add(details, "timeToReset", json_object_new_int64((int64_t)seconds * 1000));
    json_object_object_add(details, "seconds", json_object_new_int(seconds));
    json_object_object_add(o, "details", details);
    return rc_send(r, HTTP_TOO_MANY_REQUESTS, o);
}

static push_status_t op_test(push_db_t *db, void *ctx)
{
    rc_test_t *t = ctx;
    return push_store_rocketchat_test(db, t->app_id, t->user, t->id, t->body, &t->quota, &t->tokens,
                                      &t->refusal);
}

/* A test push to every device of the caller, sent through the sender like any message. */
static int push_test(request_rec *r, const push_principal_t *who)
{
    rc_test_t t;
    json_object *msg, *m, *settings, *apns, *o;
    char id[APR_UUID_FORMATTED_LENGTH + 1];
    apr_uuid_t u;
    push_status_t rv;

    if (!push_enabled(r))
        return rc_error(r, HTTP_BAD_REQUEST, "Push is disabled", "error-push-disabled");
    apr_uuid_get(&u);
    apr_uuid_format(id, &u);
    msg = push_json_pool_own(r->pool, json_object_new_object());
    m = json_object_new_object();
    json_object_object_add(m, "alert", json_object_new_string("This is a push test message"));
    json_object_object_add(msg, "message", m);
    settings = json_object_new_object();
    apns = json_object_new_object();
    json_object_object_add(apns, "title", json_object_new_string(apr_pstrcat(r->pool, "@", who->user_id, NULL)));
    json_object_object_add(settings, "apns", apns);
    json_object_object_add(msg, "settings", settings);
    t.app_id = push_conf_app_id(r);
    t.user = who->user_id;
    t.id = id;
    t.body = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
    t.tokens = 0;
    t.quota.max_pending = push_conf_max_pending(r);
    t.quota.max_per_minute = push_conf_max_per_minute(r);
    rv = push_db_with(r, op_test, &t);
    if (rv == PUSH_ELIMIT)
        return rc_too_many(r, t.refusal.retry_after);
    if (rv != PUSH_OK)
        return rc_unavailable(r);
    if (t.tokens < 0) {
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return rc_error(r, HTTP_TOO_MANY_REQUESTS, "Too many requests", NULL);
    }
    if (t.tokens == 0)
        return rc_error(r, HTTP_BAD_REQUEST, "There are no tokens for this user", "error-no-tokens-for-this-user");
    push_metrics_accepted(push_metrics_shm, t.app_id, 1);
    o = json_object_new_object();
    json_object_object_add(o, "tokensCount", json_object_new_int(t.tokens));
    json_object_object_add(o, "success", json_object_new_boolean(1));
    return rc_send(r, HTTP_OK, o);
}

typedef struct {
    const char *app_id, *id, *user;
    apr_dbd_row_t *row;
    push_db_t db;
} rc_get_t;

static push_status_t op_get(push_db_t *db, void *ctx)
{
    rc_get_t *g = ctx;
    g->db = *db;
    return push_store_rocketchat_message(db, g->app_id, g->id, g->user, &g->row);
}

static json_object *member(json_object *o, const char *k)
{
    json_object *v = NULL;
    return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *member_str(json_object *o, const char *k)
{
    json_object *v = member(o, k);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* GET push.get?id=: the message and the notification as Rocket.Chat renders them, for a
 * message sent to the caller (privacy mode apps fetch the content this way). */
static int push_get(request_rec *r, const push_principal_t *who)
{
    apr_table_t *q = apr_table_make(r->pool, 4);
    rc_get_t g;
    push_status_t rv;
    json_object *body, *msg, *apns, *gcm, *custom, *out, *data, *m, *n, *payload, *o;
    const char *alert, *created, *updated, *host, *allowed, *v;

    if (r->args && push_parse_form(r->pool, r->args, strlen(r->args), q) != PUSH_BODY_OK)
        return rc_error(r, HTTP_BAD_REQUEST, "Match error: Missing key 'id'", NULL);
    memset(&g, 0, sizeof(g));
    g.id = apr_table_get(q, "id");
    if (!g.id || !*g.id)
        return rc_error(r, HTTP_BAD_REQUEST, "Match error: Missing key 'id'", NULL);
    if (!push_valid_id(g.id, strlen(g.id), PUSH_MAX_ID))
        return rc_error(r, HTTP_BAD_REQUEST, "error-message-not-found", NULL);
    g.app_id = push_conf_app_id(r);
    g.user = who->user_id;
    rv = push_db_with(r, op_get, &g);
    if (rv == PUSH_NOTFOUND)
        return rc_error(r, HTTP_BAD_REQUEST, "error-message-not-found", NULL);
    if (rv != PUSH_OK)
        return rc_unavailable(r);
    allowed = push_db_col(&g.db, g.row, 3);
    if (!allowed || allowed[0] != 't')
        return rc_error(r, HTTP_BAD_REQUEST, "error-not-allowed", NULL);
    body = push_json_pool_own(r->pool, json_tokener_parse(push_db_col(&g.db, g.row, 0)));
    created = push_db_col(&g.db, g.row, 1);
    updated = push_db_col(&g.db, g.row, 2);
    host = push_db_col(&g.db, g.row, 4);
    if (!host)
        host = push_public_url(r, "/");
    msg = member(body, "message");
    apns = member(member(body, "settings"), "apns");
    gcm = member(member(body, "settings"), "gcm");
    custom = member(apns, "payload") ? member(apns, "payload") : member(gcm, "payload");
    alert = member_str(msg, "alert");

    m = json_object_new_object();
    json_object_object_add(m, "_id", json_object_new_string(g.id));
    if ((v = member_str(custom, "rid")))
        json_object_object_add(m, "rid", json_object_new_string(v));
    json_object_object_add(m, "msg", json_object_new_string(alert ? alert : ""));
    json_object_object_add(m, "ts", json_object_new_string(created));
    if ((o = member(custom, "sender")) && json_object_is_type(o, json_type_object))
        json_object_object_add(m, "u", json_object_get(o));
    json_object_object_add(m, "urls", json_object_new_array());
    json_object_object_add(m, "mentions", json_object_new_array());
    json_object_object_add(m, "channels", json_object_new_array());
    json_object_object_add(m, "_updatedAt", json_object_new_string(updated));

    n = json_object_new_object();
    json_object_object_add(n, "from", json_object_new_string("push"));
    if ((o = member(apns, "badge")) && json_object_is_type(o, json_type_int))
        json_object_object_add(n, "badge", json_object_new_int64(json_object_get_int64(o)));
    json_object_object_add(n, "sound", json_object_new_string(member_str(apns, "sound") ? member_str(apns, "sound")
                                                                                          : "default"));
    v = member_str(body, "priority");
    json_object_object_add(n, "priority", json_object_new_int(v && strcmp(v, "normal") == 0 ? 5 : 10));
    json_object_object_add(n, "title", json_object_new_string(member_str(apns, "title") ? member_str(apns, "title") : ""));
    json_object_object_add(n, "text", json_object_new_string(alert ? alert : ""));
    payload = json_object_new_object();
    json_object_object_add(payload, "host", json_object_new_string(host));
    json_object_object_add(payload, "messageId", json_object_new_string(g.id));
    json_object_object_add(payload, "notificationType", json_object_new_string("message"));
    if (custom && json_object_is_type(custom, json_type_object)) {
        json_object_object_foreach(custom, k, cv) {
            if (strcmp(k, "host") && strcmp(k, "messageId") && strcmp(k, "notificationType"))
                json_object_object_add(payload, k, json_object_get(cv));
        }
    }
    json_object_object_add(n, "payload", payload);
    json_object_object_add(n, "userId", json_object_new_string(who->user_id));
    json_object_object_add(n, "notId", json_object_new_int64(push_rc_notid(g.id)));
    o = json_object_new_object();
    json_object_object_add(o, "style", json_object_new_string("inbox"));
    if ((v = member_str(apns, "attachmentUrl")))
        json_object_object_add(o, "image", json_object_new_string(v));
    json_object_object_add(n, "gcm", o);
    o = json_object_new_object();
    v = member_str(apns, "interactiveCategory") ? member_str(apns, "interactiveCategory") : member_str(apns, "category");
    json_object_object_add(o, "category", json_object_new_string(v ? v : "MESSAGE"));
    json_object_object_add(n, "apn", o);

    data = json_object_new_object();
    json_object_object_add(data, "message", m);
    json_object_object_add(data, "notification", n);
    out = json_object_new_object();
    json_object_object_add(out, "data", data);
    json_object_object_add(out, "success", json_object_new_boolean(1));
    return rc_send(r, HTTP_OK, out);
}

int push_rocketchat_handler(request_rec *r)
{
    const char *sub;
    push_principal_t who;
    push_status_t rv;
    int token_route, info_route, test_route, get_route;

    if (strcmp(r->handler, "push-rocketchat") != 0)
        return DECLINED;
    sub = push_conf_subpath(r);
    token_route = strcmp(sub, "/push.token") == 0;
    info_route = strcmp(sub, "/push.info") == 0;
    test_route = strcmp(sub, "/push.test") == 0;
    get_route = strcmp(sub, "/push.get") == 0;
    if (!token_route && !info_route && !test_route && !get_route)
        return rc_error(r, HTTP_NOT_FOUND, "Resource not found", NULL);
    if ((token_route && r->method_number != M_POST && r->method_number != M_DELETE) ||
        ((info_route || get_route) && r->method_number != M_GET) ||
        (test_route && r->method_number != M_POST)) {
        apr_table_setn(r->err_headers_out, "Allow", token_route ? "POST, DELETE" : test_route ? "POST" : "GET");
        return rc_error(r, HTTP_METHOD_NOT_ALLOWED, "Method not allowed", NULL);
    }
    if (!push_conf_app_id(r)) {
        PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0103", "no PushApplication for %s", r->uri);
        return rc_unavailable(r);
    }
    rv = rc_authenticate(r, &who);
    if (rv == PUSH_NOTFOUND)
        return rc_unauthorized(r);
    if (rv != PUSH_OK)
        return rc_unavailable(r);
    if (info_route)
        return push_info(r);
    if (test_route)
        return push_test(r, &who);
    if (get_route)
        return push_get(r, &who);
    return r->method_number == M_POST ? push_token_post(r, &who) : push_token_delete(r, &who);
}
