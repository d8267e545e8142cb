/* Layer's Client API: POST /push_tokens, DELETE /push_tokens/:device_id
 * (docs/api/layer.md). */
#include "api/api.h"

#include "apr_lib.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "config.h"
#include "service/session.h"
#include "service/registry.h"
#include "core/token.h"
#include "core/validate.h"
#include "http_util.h"
#include "log.h"

#define LAYER_DEVICE_LIMIT 25
#define LAYER_MEDIA_TYPE "application/vnd.layer+json"
#define LAYER_ERROR_URL "https://developer.layer.com/docs/client/rest#full-list-of-error-codes"

typedef struct {
    int status;
    int code;
    const char *id;
} layer_err_t;

static const layer_err_t E_UNAVAILABLE = {HTTP_SERVICE_UNAVAILABLE, 1, "service_unavailable"};
static const layer_err_t E_AUTH = {HTTP_UNAUTHORIZED, 4, "authentication_required"};
static const layer_err_t E_INVALID_REQUEST = {HTTP_BAD_REQUEST, 10, "invalid_request"};
static const layer_err_t E_MISSING = {HTTP_UNPROCESSABLE_ENTITY, 104, "missing_property"};
static const layer_err_t E_INVALID = {HTTP_UNPROCESSABLE_ENTITY, 105, "invalid_property"};
static const layer_err_t E_DENIED = {HTTP_FORBIDDEN, 101, "access_denied"};
static const layer_err_t E_ENDPOINT = {HTTP_NOT_FOUND, 106, "invalid_endpoint"};
static const layer_err_t E_HEADER = {HTTP_NOT_ACCEPTABLE, 107, "invalid_header"};
static const layer_err_t E_METHOD = {HTTP_METHOD_NOT_ALLOWED, 109, "method_not_allowed"};
static const layer_err_t E_TOO_LARGE = {HTTP_REQUEST_ENTITY_TOO_LARGE, 10, "invalid_request"};

/* An error body; data_key/data_value fill "data" (NULL: no data). */
static int layer_error(request_rec *r, const layer_err_t *e, const char *message,
                       const char *data_key, const char *data_value)
{
    json_object *body = json_object_new_object();

    json_object_object_add(body, "id", json_object_new_string(e->id));
    json_object_object_add(body, "code", json_object_new_int(e->code));
    json_object_object_add(body, "message", json_object_new_string(message));
    json_object_object_add(body, "url", json_object_new_string(LAYER_ERROR_URL));
    if (data_key) {
        json_object *data = json_object_new_object();
        json_object_object_add(data, data_key, json_object_new_string(data_value));
        json_object_object_add(body, "data", data);
    }
    return push_send_json(r, e->status, NULL, body);
}

static int layer_status_error(request_rec *r, push_status_t rv)
{
    (void)rv; /* every store failure reads the same to a Layer client */
    return layer_error(r, &E_UNAVAILABLE, "The service is temporarily unavailable; "
                       "please retry later", NULL, NULL);
}

/* The Client API versions whose push_tokens calls are the same; the Web SDK sends 1.0
 * (1.x, 2.x), 2.0 (3.x) and the Web XDK 3.0 (docs/layer.md). */
static const char *const layer_versions[] = {"1.0", "2.0", "3.0", NULL};
#define LAYER_VERSIONS_TEXT "1.0, 2.0 or 3.0"

static int version_known(const char *v)
{
    for (const char *const *k = layer_versions; *k; k++)
        if (strcmp(*k, v) == 0)
            return 1;
    return 0;
}

/* One media range of Accept: application/vnd.layer+json with a version we serve. */
static int accept_range_ok(char *range)
{
    char *state = NULL, *part = apr_strtok(range, ";", &state);
    int version_ok = 0;
    if (!part)
        return 0;
    apr_collapse_spaces(part, part);
    if (strcasecmp(part, LAYER_MEDIA_TYPE) != 0)
        return 0;
    while ((part = apr_strtok(NULL, ";", &state)) != NULL) {
        char *eq = strchr(part, '='), *name = part, *value;
        if (!eq)
            continue;
        *eq = '\0';
        value = eq + 1;
        apr_collapse_spaces(name, name);
        apr_collapse_spaces(value, value);
        if (value[0] == '"' && strlen(value) >= 2 && value[strlen(value) - 1] == '"') {
            value[strlen(value) - 1] = '\0';
            value++;
        }
        if (strcasecmp(name, "version") == 0)
            version_ok = version_known(value);
    }
    return version_ok;
}

static int accept_ok(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    char *copy, *state = NULL, *range;
    if (!accept)
        return 0;
    copy = apr_pstrdup(r->pool, accept);
    for (range = apr_strtok(copy, ",", &state); range; range = apr_strtok(NULL, ",", &state))
        if (accept_range_ok(range))
            return 1;
    return 0;
}

/* Authorization: Layer session-token="T" (or 'T', or bare). */
static const char *session_token(request_rec *r)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    const char *v;
    char q;
    apr_size_t n;
    if (!h || strncasecmp(h, "Layer", 5) != 0 || !apr_isspace(h[5]))
        return NULL;
    for (v = h + 5; apr_isspace(*v); v++)
        ;
    if (strncasecmp(v, "session-token=", 14) != 0)
        return NULL;
    v += 14;
    q = *v;
    if (q == '"' || q == '\'') {
        const char *end = strchr(v + 1, q);
        if (!end)
            return NULL;
        return apr_pstrmemdup(r->pool, v + 1, (apr_size_t)(end - v - 1));
    }
    for (n = 0; v[n] && !apr_isspace(v[n]) && v[n] != ','; n++)
        ;
    return apr_pstrmemdup(r->pool, v, n);
}

static int unauthorized(request_rec *r)
{
    const char *nonce = push_token_new(r->pool, 24);
    push_auth_refused(r);
    /* RFC 9110 wants a challenge on every 401 */
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_psprintf(r->pool, "Layer nonce=\"%s\"", nonce ? nonce : ""));
    return layer_error(r, &E_AUTH, "Authentication is required: send a valid session token in "
                       "the Authorization header", "nonce", nonce ? nonce : "");
}

/* A refusal decided before the session is known: sent only once the caller has shown a
 * live session (an anonymous caller learns nothing about its body). */
typedef struct {
    const layer_err_t *e;
    const char *message;
    const char *property;
} layer_fail_t;

static int fail(layer_fail_t *f, const layer_err_t *e, const char *message, const char *property)
{
    f->e = e;
    f->message = message;
    f->property = property;
    return 0;
}

static int send_fail(request_rec *r, const layer_fail_t *f)
{
    return layer_error(r, f->e, f->message, f->property ? "property" : NULL, f->property);
}

/* A string property: 1 present, 0 absent (or null), -1 refused into f. */
static int string_prop(request_rec *r, json_object *body, const char *name, apr_size_t max,
                       const char **out, layer_fail_t *f)
{
    apr_size_t len = 0;
    int has = push_json_string(body, name, out, &len);
    if (has < 0 || (has > 0 && !push_valid_id(*out, len, max))) {
        fail(f, &E_INVALID, apr_psprintf(r->pool,
             has < 0 ? "The property '%s' must be a string"
                     : len == 0 ? "The property '%s' must not be empty"
                     : len > max ? "The property '%s' is longer than %d characters"
                     : !push_valid_utf8(*out, len) ? "The property '%s' is not valid UTF-8 text"
                                 : "The property '%s' must not hold control characters", name, (int)max),
             name);
        return -1;
    }
    return has;
}

/* Reads and checks the body into d; 0 with f filled when it is refused. */
static int read_device(request_rec *r, push_device_t *d, layer_fail_t *f)
{
    static const struct { const char *name; apr_size_t max; } required[] = {
        {"token", PUSH_MAX_TOKEN}, {"type", 16}, {"device_id", PUSH_MAX_ID}};
    static const char *const optional[] = {"apns_bundle_id", "gcm_sender_id", "ios_version"};
    const char *ct = push_content_type(r), *values[3], *opt[3] = {NULL, NULL, NULL};
    json_object *body, *extra;
    push_invalid_t why;

    if (*ct && strcmp(ct, "application/json") != 0)
        return fail(f, &E_INVALID_REQUEST, "The request body must be sent as "
                    "Content-Type: application/json", NULL);
    switch (push_read_json(r, json_type_object, &body)) {
    case PUSH_BODY_OK:
        break;
    case PUSH_BODY_TOO_LARGE:
        return fail(f, &E_TOO_LARGE, apr_psprintf(r->pool, "The request body is larger than %"
                    APR_OFF_T_FMT " bytes", push_conf_max_body(r)), NULL);
    case PUSH_BODY_READ_ERROR:
        return fail(f, &E_INVALID_REQUEST, "The request body could not be read", NULL);
    case PUSH_BODY_NOT_OBJECT:
        return fail(f, &E_INVALID_REQUEST, "The request body must be a JSON object", NULL);
    case PUSH_BODY_BAD_UTF8:
        return fail(f, &E_INVALID_REQUEST, "The request body is not valid UTF-8", NULL);
    case PUSH_BODY_UNSTORABLE:
        return fail(f, &E_INVALID_REQUEST, apr_psprintf(r->pool, "The property '%s' %s",
                    push_body_bad_property(r), push_body_bad_reason(r)), push_body_bad_property(r));
    default:
        return fail(f, &E_INVALID_REQUEST, "The request body is not valid JSON", NULL);
    }
    for (int i = 0; i < 3; i++) {
        int has = string_prop(r, body, required[i].name, required[i].max, &values[i], f);
        if (has < 0)
            return 0;
        if (has == 0)
            return fail(f, &E_MISSING, apr_psprintf(r->pool, "The property '%s' is required",
                        required[i].name), required[i].name);
    }
    if (strcmp(values[1], "apns") != 0 && strcmp(values[1], "gcm") != 0)
        return fail(f, &E_INVALID, "The property 'type' must be 'apns' or 'gcm'", "type");
    for (int i = 0; i < 3; i++)
        if (string_prop(r, body, optional[i], PUSH_MAX_SHORT, &opt[i], f) < 0)
            return 0;
    if (opt[0] && !push_valid_topic(opt[0], strlen(opt[0])))
        return fail(f, &E_INVALID, "The property 'apns_bundle_id' must be printable ASCII without "
                    "spaces (it is the APNs topic)", "apns_bundle_id");
    if (opt[2] && !push_valid_version(opt[2], strlen(opt[2])))
        return fail(f, &E_INVALID, "The property 'ios_version' must be a version number such as 9.0",
                    "ios_version");

    extra = push_json_pool_own(r->pool, json_object_new_object());
    for (int i = 0; i < 3; i++)
        if (opt[i])
            json_object_object_add(extra, optional[i], json_object_new_string(opt[i]));
    if (opt[2] && push_version_major(opt[2]) < 8) /* iOS before 8: small legacy payloads */
        json_object_object_add(extra, "legacy_payload", json_object_new_boolean(1));

    d->app_id = push_conf_app_id(r);
    d->token = values[0];
    d->platform = values[1][0] == 'a' ? "apns" : "fcm";
    d->device_id = values[2];
    d->family = "layer";
    d->extra = json_object_to_json_string_ext(extra, JSON_C_TO_STRING_PLAIN);
    d->user_agent = apr_table_get(r->headers_in, "User-Agent");
    if (!push_registry_validate(r->pool, d, &why))
        return fail(f, &E_INVALID, apr_psprintf(r->pool, "The property '%s' %s", why.field,
                    why.reason), why.field);
    return 1;
}

static int layer_register(request_rec *r, const char *token)
{
    layer_fail_t f = {NULL, NULL, NULL};
    push_device_t d = {0};
    push_principal_t who;
    push_status_t rv;
    int limit = push_conf_user_device_limit(r, LAYER_DEVICE_LIMIT);

    if (!read_device(r, &d, &f) || push_conf_session_source(r) != PUSH_SESSION_BUILTIN) {
        rv = push_auth_session(r, token, token ? strlen(token) : 0, &who);
        if (rv == PUSH_NOTFOUND)
            return unauthorized(r);
        if (rv != PUSH_OK)
            return layer_status_error(r, rv);
        if (f.e)
            return send_fail(r, &f);
        d.user_id = who.user_id;
        rv = push_registry_register(r, &d, limit);
    } else {
        /* the usual case: session and registration in one round trip */
        rv = push_registry_register_session(r, token, &d, limit, 0);
        if (rv == PUSH_NOTFOUND)
            return unauthorized(r);
    }
    if (rv == PUSH_EFORBIDDEN)
        return layer_error(r, &E_DENIED, "The device or its token is registered to another user",
                           "property", "device_id");
    if (rv != PUSH_OK)
        return layer_status_error(r, rv);
    return push_send_empty(r, HTTP_ACCEPTED);
}

static int layer_unregister(request_rec *r, const push_principal_t *who, const char *device_id)
{
    push_status_t rv;
    if (!push_valid_id(device_id, strlen(device_id), PUSH_MAX_ID))
        return layer_error(r, &E_INVALID, "The device id must be 1 to 255 characters of UTF-8 "
                           "without control characters",
                           "property", "device_id");
    rv = push_registry_unregister(r, push_conf_app_id(r), device_id, who->user_id);
    if (rv != PUSH_OK && rv != PUSH_NOTFOUND)
        return layer_status_error(r, rv);
    return push_send_empty(r, HTTP_ACCEPTED);
}

int push_layer_handler(request_rec *r)
{
    const char *sub, *device_id = NULL;
    push_principal_t who;
    push_status_t rv;
    const char *token;

    if (strcmp(r->handler, "push-layer") != 0)
        return DECLINED;
    sub = push_conf_subpath(r);
    if (sub[0] == '/' && sub[1]) {
        device_id = sub + 1;
        if (strchr(device_id, '/'))
            return layer_error(r, &E_ENDPOINT, "No such endpoint: push tokens are at "
                               "/push_tokens and /push_tokens/:device_id", NULL, NULL);
    }
    if (!accept_ok(r))
        return layer_error(r, &E_HEADER, "Invalid Accept header; send application/vnd.layer+json "
                           "with version " LAYER_VERSIONS_TEXT ", e.g. Accept: "
                           "application/vnd.layer+json; version=2.0", "header", "Accept");
    if ((device_id && r->method_number != M_DELETE) || (!device_id && r->method_number != M_POST)) {
        apr_table_setn(r->headers_out, "Allow", device_id ? "DELETE" : "POST");
        return layer_error(r, &E_METHOD, apr_psprintf(r->pool, "Method %s is not allowed here; "
                           "use %s", r->method, device_id ? "DELETE" : "POST"), NULL, NULL);
    }
    if (!push_conf_app_id(r)) {
        PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0101", "no PushApplication for %s", r->uri);
        return layer_status_error(r, PUSH_EUNAVAIL);
    }
    token = session_token(r);
    if (!device_id)
        return layer_register(r, token);
    rv = push_auth_session(r, token, token ? strlen(token) : 0, &who);
    if (rv == PUSH_NOTFOUND)
        return unauthorized(r);
    if (rv != PUSH_OK)
        return layer_status_error(r, rv);
    return layer_unregister(r, &who, device_id);
}
