/* Navixy's backend API: /user/session/push_token/bind and /delete
 * (docs/api/navixy.md). Parameters come from a JSON body, a form body or the query. */
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
#include "sender/wnsmap.h"
#include "sender/egress.h"
#include "sender/webpush_core.h"

typedef struct {
    int code;
    int status;
    const char *description;
} nvx_err_t;

static const nvx_err_t E_WRONG_HASH = {3, HTTP_BAD_REQUEST, "Wrong hash"};
static const nvx_err_t E_NO_SESSION = {4, HTTP_BAD_REQUEST,
                                       "User or API key not found or session ended"};
static const nvx_err_t E_FORMAT = {5, HTTP_BAD_REQUEST, "Wrong request format"};
static const nvx_err_t E_PARAMS = {7, HTTP_BAD_REQUEST, "Invalid parameters"};
static const nvx_err_t E_TOO_LARGE = {9, HTTP_PRECONDITION_FAILED, "Too large request"};
static const nvx_err_t E_DENIED = {11, HTTP_FORBIDDEN, "Access denied"};
static const nvx_err_t E_DB_DOWN = {14, HTTP_SERVICE_UNAVAILABLE, "Database unavailable"};
static const nvx_err_t E_METHOD = {112, HTTP_BAD_REQUEST, "Wrong method"};

/* parameter: the offending parameter for code 7, else NULL. */
static int nvx_error(request_rec *r, const nvx_err_t *e, const char *parameter,
                     const char *reason)
{
    json_object *body = json_object_new_object(), *status = json_object_new_object();
    json_object_object_add(body, "success", json_object_new_boolean(0));
    json_object_object_add(status, "code", json_object_new_int(e->code));
    json_object_object_add(status, "description", json_object_new_string(e->description));
    json_object_object_add(body, "status", status);
    if (parameter) {
        json_object *errors = json_object_new_array(), *one = json_object_new_object();
        json_object_object_add(one, "parameter", json_object_new_string(parameter));
        json_object_object_add(one, "error", json_object_new_string(reason));
        json_object_array_add(errors, one);
        json_object_object_add(body, "errors", errors);
    }
    return push_send_json(r, e->status, NULL, body);
}

static int nvx_success(request_rec *r)
{
    json_object *body = json_object_new_object();
    json_object_object_add(body, "success", json_object_new_boolean(1));
    return push_send_json(r, HTTP_OK, NULL, body);
}

/* Answers e and returns 0, for the readers below that return 1 on success. */
static int refuse(request_rec *r, const nvx_err_t *e)
{
    nvx_error(r, e, NULL, NULL);
    return 0;
}

/* The request's parameters: a JSON body, or a form body, then the query string. */
typedef struct {
    json_object *json;
    apr_table_t *form;
    apr_table_t *query;
} nvx_params_t;

/* 1: *s is the parameter's text; 0: absent; -1: present but not text. */
static int param(const nvx_params_t *p, const char *name, const char **s)
{
    apr_size_t len;
    int has = 0;
    if (p->json && (has = push_json_string(p->json, name, s, &len)) != 0)
        return has < 0 || strlen(*s) != len ? -1 : 1;
    if (p->form && (*s = apr_table_get(p->form, name)) != NULL)
        return 1;
    if ((*s = apr_table_get(p->query, name)) != NULL)
        return 1;
    return 0;
}

/* Reads the parameters; returns 1, or 0 after answering with an error. */
static int read_params(request_rec *r, nvx_params_t *p)
{
    const char *ct;
    push_body_t rv;

    memset(p, 0, sizeof(*p));
    p->query = apr_table_make(r->pool, 4);
    if (r->args && push_parse_form(r->pool, r->args, strlen(r->args), p->query) != PUSH_BODY_OK)
        return refuse(r, &E_FORMAT);
    if (r->method_number != M_POST)
        return 1;
    ct = push_content_type(r);
    if (strcmp(ct, "application/json") == 0) {
        rv = push_read_json(r, json_type_object, &p->json);
        if (rv == PUSH_BODY_UNSTORABLE) {
            nvx_error(r, &E_PARAMS, push_body_bad_property(r), push_body_bad_reason(r));
            return 0;
        }
    } else if (strcmp(ct, "application/x-www-form-urlencoded") == 0) {
        p->form = apr_table_make(r->pool, 8);
        rv = push_read_form(r, p->form);
    } else {
        /* no media type: an empty body only (a POST of query parameters) */
        char *buf;
        apr_size_t len;
        rv = push_read_body(r, &buf, &len);
        if (rv == PUSH_BODY_OK && (*ct || len > 0))
            rv = PUSH_BODY_NOT_JSON;
        if (rv == PUSH_BODY_OK)
            p->form = apr_table_make(r->pool, 8);
    }
    if (rv == PUSH_BODY_TOO_LARGE)
        return refuse(r, &E_TOO_LARGE);
    return rv == PUSH_BODY_OK ? 1 : refuse(r, &E_FORMAT);
}

/* hash: the body's, then the query's, then Authorization: NVX <hash>. */
static int session_hash(request_rec *r, const nvx_params_t *p, const char **hash)
{
    const char *h;
    apr_size_t len;
    if (p->json && push_json_string(p->json, "hash", hash, &len) != 0)
        return push_valid_hex(*hash, len, 32);
    if (p->json && json_object_object_get_ex(p->json, "hash", NULL))
        return 0;
    if ((p->form && (*hash = apr_table_get(p->form, "hash")) != NULL) ||
        (*hash = apr_table_get(p->query, "hash")) != NULL)
        return push_valid_hex(*hash, strlen(*hash), 32);
    h = apr_table_get(r->headers_in, "Authorization");
    if (h && strncasecmp(h, "NVX", 3) == 0 && apr_isspace(h[3])) {
        for (h += 3; apr_isspace(*h); h++)
            ;
        *hash = h;
        return push_valid_hex(h, strlen(h), 32);
    }
    return 0;
}

/* Web Push keys: a JSON object in a JSON body, or its JSON text in a form or query. */
static int webpush_keys(request_rec *r, const nvx_params_t *p, json_object *extra,
                        const char **why)
{
    json_object *keys = NULL;
    static const struct { const char *name; apr_size_t bytes; } want[] = {
        {"p256dh", 65}, {"auth", 16}};
    const char *text;

    if (p->json && json_object_object_get_ex(p->json, "parameters", &keys) && keys &&
        json_object_is_type(keys, json_type_object)) {
        /* keys belongs to the body */
    } else if (param(p, "parameters", &text) == 1) {
        keys = push_json_pool_own(r->pool, json_tokener_parse(text));
        if (!keys || !json_object_is_type(keys, json_type_object)) {
            *why = "must be a JSON object with p256dh and auth";
            return 0;
        }
    } else {
        *why = "is required for w3c_pushapi: {\"p256dh\": ..., \"auth\": ...}";
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        const char *v;
        apr_size_t len;
        if (push_json_string(keys, want[i].name, &v, &len) != 1 ||
            !push_valid_b64url_len(v, len, want[i].bytes)) {
            *why = apr_psprintf(r->pool, "%s must be the base64url encoding of %d bytes",
                                want[i].name, (int)want[i].bytes);
            return 0;
        }
        json_object_object_add(extra, want[i].name, json_object_new_string_len(v, (int)len));
    }
    {
        /* and p256dh a point of the curve, as the sender will need it */
        push_webpush_sub_t sub;
        json_object *k, *a;
        json_object_object_get_ex(extra, "p256dh", &k);
        json_object_object_get_ex(extra, "auth", &a);
        *why = push_webpush_keys(json_object_get_string(k), json_object_get_string(a), &sub);
    }
    return *why == NULL;
}

static const char *device_id_for(request_rec *r, const push_principal_t *who)
{
    /* one token per session: the session names the device, without revealing it */
    const char *seed = apr_pstrcat(r->pool, "navixy-device:", who->session_key, NULL);
    return apr_pstrcat(r->pool, "navixy-",
                       apr_pstrndup(r->pool, push_token_hash(r->pool, seed, strlen(seed)), 40),
                       NULL);
}

static int nvx_store_error(request_rec *r, push_status_t rv)
{
    (void)rv; /* unreachable, wrong schema or failing: the client can only retry */
    return nvx_error(r, &E_DB_DOWN, NULL, NULL);
}

static int nvx_bind(request_rec *r, const nvx_params_t *p, const push_principal_t *who)
{
    const char *application, *token, *filter = NULL, *platform, *why = NULL;
    json_object *extra = push_json_pool_own(r->pool, json_object_new_object());
    push_device_t d = {0};
    push_invalid_t inv;
    push_status_t rv;
    int has;

    if (param(p, "application", &application) != 1 || !*application)
        return nvx_error(r, &E_PARAMS, "application", "is required");
    platform = push_conf_navixy_platform(r, application);
    if (!platform)
        return nvx_error(r, &E_PARAMS, "application",
                         apr_psprintf(r->pool, "unknown application '%s'", application));
    if (param(p, "token", &token) != 1 || !*token)
        return nvx_error(r, &E_PARAMS, "token", "is required");
    if (!push_valid_id(token, strlen(token), PUSH_MAX_TOKEN))
        return nvx_error(r, &E_PARAMS, "token", "must be 1 to 4096 bytes of text without control "
                         "characters");
    has = param(p, "category_filter", &filter);
    if (has < 0)
        return nvx_error(r, &E_PARAMS, "category_filter", "must be a string");
    if (strcmp(platform, "webpush") == 0) {
        if (!push_valid_https_url(token, strlen(token)) || strncmp(token, "https://", 8) != 0)
            return nvx_error(r, &E_PARAMS, "token", "must be the push subscription's https endpoint URL");
        if ((why = push_egress_url_problem(r->pool, token, push_conf_egress(r->server))))
            return nvx_error(r, &E_PARAMS, "token", apr_pstrcat(r->pool, "is not accepted: ", why, NULL));
        if (!webpush_keys(r, p, extra, &why))
            return nvx_error(r, &E_PARAMS, "parameters", why);
    }
    if (strcmp(platform, "wns") == 0 &&
        (why = push_wns_channel_problem(r->pool, token, push_conf_egress(r->server))))
        return nvx_error(r, &E_PARAMS, "token", apr_pstrcat(r->pool, "must be a WNS channel URI: ", why, NULL));
    json_object_object_add(extra, "application", json_object_new_string(application));

    d.app_id = push_conf_app_id(r);
    d.device_id = device_id_for(r, who);
    d.platform = platform;
    d.token = token;
    d.user_id = who->user_id;
    d.family = "navixy";
    d.session_ref = who->session_ref;
    d.category_filter = has == 1 ? filter : "*";
    d.extra = json_object_to_json_string_ext(extra, JSON_C_TO_STRING_PLAIN);
    d.user_agent = apr_table_get(r->headers_in, "User-Agent");
    if (!push_registry_validate(r->pool, &d, &inv))
        return nvx_error(r, &E_PARAMS, inv.field, inv.reason);
    rv = push_registry_register(r, &d, push_conf_user_device_limit(r, 0));
    if (rv == PUSH_EFORBIDDEN)
        return nvx_error(r, &E_DENIED, "token", "is registered to another user");
    if (rv != PUSH_OK)
        return nvx_store_error(r, rv);
    return nvx_success(r);
}

static int nvx_delete(request_rec *r, const push_principal_t *who)
{
    push_status_t rv = push_registry_unregister(r, push_conf_app_id(r), device_id_for(r, who),
                                                who->user_id);
    if (rv != PUSH_OK && rv != PUSH_NOTFOUND)
        return nvx_store_error(r, rv);
    return nvx_success(r);
}

int push_navixy_handler(request_rec *r)
{
    const char *sub, *hash = NULL;
    nvx_params_t p;
    push_principal_t who;
    push_status_t rv;
    int is_bind;

    if (strcmp(r->handler, "push-navixy") != 0)
        return DECLINED;
    if (r->method_number != M_GET && r->method_number != M_POST)
        return nvx_error(r, &E_METHOD, NULL, NULL);
    sub = push_conf_subpath(r);
    is_bind = strcmp(sub, "/bind") == 0;
    if (!is_bind && strcmp(sub, "/delete") != 0)
        return nvx_error(r, &E_FORMAT, NULL, NULL);
    if (!read_params(r, &p))
        return OK;
    if (!push_conf_app_id(r)) {
        PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0102", "no PushApplication for %s", r->uri);
        return nvx_store_error(r, PUSH_EUNAVAIL);
    }
    if (push_conf_session_source(r) != PUSH_SESSION_REMOTE_USER && !session_hash(r, &p, &hash))
        return nvx_error(r, &E_WRONG_HASH, NULL, NULL);
    if (hash) {
        char *lower = apr_pstrdup(r->pool, hash);
        ap_str_tolower(lower);
        hash = lower;
    }
    rv = push_auth_session(r, hash, hash ? strlen(hash) : 0, &who);
    if (rv == PUSH_NOTFOUND) {
        push_auth_refused(r);
        return nvx_error(r, &E_NO_SESSION, NULL, NULL);
    }
    if (rv != PUSH_OK)
        return nvx_store_error(r, rv);
    return is_bind ? nvx_bind(r, &p, &who) : nvx_delete(r, &who);
}
