/* Rocket.Chat's REST API for push: POST and DELETE /api/v1/push.token, GET
 * /api/v1/push.info, POST /api/v1/push.test and GET /api/v1/push.get (docs/rocketchat.md). */
#include "core/metrics.h"
#include "api/api.h"

#include "apr_strings.h"
#include "apr_uuid.h"
#include "http_core.h"
#include "http_protocol.h"

#include "config.h"
#include "core/token.h"
#include "core/validate.h"
#include "http_util.h"
#include "log.h"
#include "sender/payload.h"
#include "sender/sender.h"
#include "service/registry.h"
#include "service/session.h"
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
    json_object *body;
    switch (push_read_json(r, json_type_object, &body)) {
    case PUSH_BODY_OK:
        return body;
    case PUSH_BODY_TOO_LARGE:
        rc_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "The request body is too large", NULL);
        return NULL;
    case PUSH_BODY_READ_ERROR:
        rc_error(r, HTTP_BAD_REQUEST, "The request body could not be read", NULL);
        return NULL;
    case PUSH_BODY_UNSTORABLE:
        rc_error(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool, "The parameter '%s' %s",
                 push_body_bad_property(r), push_body_bad_reason(r)), "error-invalid-param");
        return NULL;
    default:
        rc_error(r, HTTP_BAD_REQUEST, "The request body must be a JSON object", NULL);
        return NULL;
    }
}

/* A non-empty string of at most max bytes of UTF-8. */
static int text_ok(json_object *obj, const char *name, apr_size_t max, const char **out)
{
    apr_size_t len;
    return push_json_string(obj, name, out, &len) == 1 && push_valid_text(*out, len, max);
}

static int push_token_post(request_rec *r, const push_principal_t *who)
{
    json_object *body = rc_body(r), *id, *result, *tok;
    const char *type = NULL, *value = NULL, *app_name = NULL, *given_id = NULL, *new_id, *voip = NULL;
    push_device_t d = {0};
    push_rc_record_t rec;
    push_invalid_t why;
    push_status_t rv;

    if (!body)
        return OK;
    /* Rocket.Chat's order of checks: the first that fails decides */
    if (json_object_object_get_ex(body, "id", &id) && id) {
        apr_size_t len;
        if (push_json_string(body, "id", &given_id, &len) != 1 || !push_valid_id(given_id, len, PUSH_MAX_ID))
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
        if (push_json_string(body, "voipToken", &voip, &len) != 1 || len == 0 || len > PUSH_MAX_TOKEN ||
            strspn(voip, "0123456789abcdefABCDEF") != len)
            return rc_error(r, HTTP_BAD_REQUEST, "The \"voipToken\" body param is invalid.",
                            "error-voipToken-param-not-valid");
    }
    new_id = push_token_meteor_id(r->pool);
    if (!new_id)
        return rc_unavailable(r);
    d.app_id = push_conf_app_id(r);
    d.device_id = given_id ? given_id : new_id;
    d.platform = type[0] == 'a' ? "apns" : "fcm";
    d.token = value;
    d.user_id = who->user_id;
    d.family = "rocketchat";
    d.session_ref = who->session_ref;
    d.user_agent = apr_table_get(r->headers_in, "User-Agent");
    if (!push_registry_validate(r->pool, &d, &why))
        return rc_error(r, HTTP_BAD_REQUEST, apr_psprintf(r->pool, "The %s is invalid: %s",
                        why.field, why.reason), "error-invalid-param");
    rv = push_registry_register_rocketchat(r, &d, given_id, new_id, app_name, voip,
                                           push_conf_user_device_limit(r, RC_DEVICE_LIMIT), &rec);
    if (rv == PUSH_EFORBIDDEN)
        return rc_error(r, HTTP_FORBIDDEN, "The push token record belongs to another user",
                        "error-not-allowed");
    if (rv != PUSH_OK)
        return rc_unavailable(r);

    result = json_object_new_object();
    json_object_object_add(result, "_id", json_object_new_string(rec.id));
    tok = json_object_new_object();
    json_object_object_add(tok, type, json_object_new_string(value));
    json_object_object_add(result, "token", tok);
    json_object_object_add(result, "appName", json_object_new_string(app_name));
    /* the record as stored: a voipToken registered before stays when this call gave none */
    if (rec.voip_token)
        json_object_object_add(result, "voipToken", json_object_new_string(rec.voip_token));
    json_object_object_add(result, "userId", json_object_new_string(who->user_id));
    json_object_object_add(result, "enabled", json_object_new_boolean(1));
    json_object_object_add(result, "createdAt", json_object_new_string(rec.created_at));
    json_object_object_add(result, "updatedAt", json_object_new_string(rec.updated_at));
    body = json_object_new_object();
    json_object_object_add(body, "result", result);
    json_object_object_add(body, "success", json_object_new_boolean(1));
    return rc_send(r, HTTP_OK, body);
}

static int push_token_delete(request_rec *r, const push_principal_t *who)
{
    json_object *body = rc_body(r), *o;
    const char *token = NULL;
    push_status_t rv;
    if (!body)
        return OK;
    if (!text_ok(body, "token", PUSH_MAX_TOKEN, &token))
        return rc_error(r, HTTP_BAD_REQUEST, "The required \"token\" body param is missing or invalid.",
                        "error-token-param-not-valid");
    rv = push_registry_unregister_rocketchat(r, push_conf_app_id(r), token, who->user_id);
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

/* A test push to every device of the caller, sent through the sender like any message. */
static int push_test(request_rec *r, const push_principal_t *who)
{
    json_object *msg, *m, *settings, *apns, *o;
    push_quota_t quota = {push_conf_max_pending(r), push_conf_max_per_minute(r)};
    push_quota_refusal_t refusal = {NULL, 0};
    push_db_t *db;
    int tokens = 0;
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
    rv = push_db_acquire(r, &db);
    if (rv == PUSH_OK)
        rv = push_store_rocketchat_test(db, push_conf_app_id(r), who->user_id, id,
                                        json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN),
                                        &quota, &tokens, &refusal);
    if (rv == PUSH_ELIMIT)
        return rc_too_many(r, refusal.retry_after);
    if (rv != PUSH_OK)
        return rc_unavailable(r);
    if (tokens < 0) {
        apr_table_setn(r->err_headers_out, "Retry-After", "1");
        return rc_error(r, HTTP_TOO_MANY_REQUESTS, "Too many requests", NULL);
    }
    if (tokens == 0)
        return rc_error(r, HTTP_BAD_REQUEST, "There are no tokens for this user", "error-no-tokens-for-this-user");
    push_metrics_accepted(push_metrics_shm, push_conf_app_id(r), 1);
    o = json_object_new_object();
    json_object_object_add(o, "tokensCount", json_object_new_int(tokens));
    json_object_object_add(o, "success", json_object_new_boolean(1));
    return rc_send(r, HTTP_OK, o);
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
    const char *id, *alert, *host, *v;
    push_rc_message_t stored;
    push_db_t *db;
    push_status_t rv;
    json_object *body, *msg, *apns, *gcm, *custom, *out, *data, *m, *n, *payload, *o;

    if (r->args && push_parse_form(r->pool, r->args, strlen(r->args), q) != PUSH_BODY_OK)
        return rc_error(r, HTTP_BAD_REQUEST, "Match error: Missing key 'id'", NULL);
    id = apr_table_get(q, "id");
    if (!id || !*id)
        return rc_error(r, HTTP_BAD_REQUEST, "Match error: Missing key 'id'", NULL);
    if (!push_valid_id(id, strlen(id), PUSH_MAX_ID))
        return rc_error(r, HTTP_BAD_REQUEST, "error-message-not-found", NULL);
    rv = push_db_acquire(r, &db);
    if (rv == PUSH_OK)
        rv = push_store_rocketchat_message(db, push_conf_app_id(r), id, who->user_id, &stored);
    if (rv == PUSH_NOTFOUND)
        return rc_error(r, HTTP_BAD_REQUEST, "error-message-not-found", NULL);
    if (rv != PUSH_OK)
        return rc_unavailable(r);
    if (!stored.allowed)
        return rc_error(r, HTTP_BAD_REQUEST, "error-not-allowed", NULL);
    body = push_json_pool_own(r->pool, stored.body ? json_tokener_parse(stored.body) : NULL);
    host = stored.host;
    if (!host)
        host = push_public_url(r, "/");
    msg = member(body, "message");
    apns = member(member(body, "settings"), "apns");
    gcm = member(member(body, "settings"), "gcm");
    custom = member(apns, "payload") ? member(apns, "payload") : member(gcm, "payload");
    alert = member_str(msg, "alert");

    m = json_object_new_object();
    json_object_object_add(m, "_id", json_object_new_string(id));
    if ((v = member_str(custom, "rid")))
        json_object_object_add(m, "rid", json_object_new_string(v));
    json_object_object_add(m, "msg", json_object_new_string(alert ? alert : ""));
    json_object_object_add(m, "ts", json_object_new_string(stored.created_at));
    if ((o = member(custom, "sender")) && json_object_is_type(o, json_type_object))
        json_object_object_add(m, "u", json_object_get(o));
    json_object_object_add(m, "urls", json_object_new_array());
    json_object_object_add(m, "mentions", json_object_new_array());
    json_object_object_add(m, "channels", json_object_new_array());
    json_object_object_add(m, "_updatedAt", json_object_new_string(stored.updated_at));

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
    json_object_object_add(payload, "messageId", json_object_new_string(id));
    json_object_object_add(payload, "notificationType", json_object_new_string("message"));
    if (custom && json_object_is_type(custom, json_type_object)) {
        json_object_object_foreach(custom, k, cv) {
            if (strcmp(k, "host") && strcmp(k, "messageId") && strcmp(k, "notificationType"))
                json_object_object_add(payload, k, json_object_get(cv));
        }
    }
    json_object_object_add(n, "payload", payload);
    json_object_object_add(n, "userId", json_object_new_string(who->user_id));
    json_object_object_add(n, "notId", json_object_new_int64(push_rc_notid(id)));
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
    /* the session's lookup takes the request's connection: the body is in first */
    if (token_route)
        push_read_body_early(r);
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
