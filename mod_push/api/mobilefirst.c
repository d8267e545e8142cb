/* IBM MobileFirst's Push Service REST API (/imfpush/v1): routing, content negotiation,
 * bearer tokens and scopes, localized errors, links and paging. The routes themselves
 * are in mobilefirst_registry.c. */
#include "api/api.h"
#include "api/mobilefirst.h"

#include "apr_lib.h"
#include "apr_strings.h"
#include "http_protocol.h"
#include "http_core.h"

#include "config.h"
#include "core/scope.h"
#include "core/token.h"
#include "core/validate.h"
#include "http_util.h"
#include "log.h"
#include "store/store.h"

enum { SCOPE_NONE, SCOPE_APP, SCOPE_ALL_APPS, SCOPE_BODY_APP };

typedef struct {
    int method;
    const char *path;      /* segments; "{}" is a variable (the application, then the id) */
    const char *scope;     /* the operation scope; NULL: no token needed */
    int app_scope;         /* which push.application.* scope goes with it */
    int body;              /* 1: a JSON body; 2: JSON or multipart/form-data */
    int (*fn)(mf_req_t *);
    const char *arg;       /* handed to fn as q->id (the settings family) */
} mf_route_t;

#define SETTINGS(conf)                                                                       \
    {M_PUT, "apps/{}/settings/" conf, conf ".write", SCOPE_APP, 1, mf_settings_put, conf},   \
    {M_POST, "apps/{}/settings/" conf, conf ".write", SCOPE_APP, 1, mf_settings_put, conf},  \
    {M_GET, "apps/{}/settings/" conf, conf ".read", SCOPE_APP, 0, mf_settings_get, conf},    \
    {M_DELETE, "apps/{}/settings/" conf, conf ".write", SCOPE_APP, 0, mf_settings_delete, conf}

static const mf_route_t routes[] = {
    {M_GET, "health/status", NULL, SCOPE_NONE, 0, mf_health, NULL},
    {M_GET, "apps", "apps.read", SCOPE_ALL_APPS, 0, mf_apps_list},
    {M_POST, "apps", "apps.write", SCOPE_BODY_APP, 1, mf_app_create},
    {M_GET, "apps/{}", "apps.read", SCOPE_APP, 0, mf_app_get},
    {M_DELETE, "apps/{}", "apps.write", SCOPE_APP, 0, mf_app_delete},
    {M_GET, "apps/{}/status", "apps.read", SCOPE_APP, 0, mf_app_status_get},
    {M_PUT, "apps/{}/status", "apps.write", SCOPE_APP, 1, mf_app_status_put},
    {M_GET, "apps/{}/devices", "devices.read", SCOPE_APP, 0, mf_devices_list},
    {M_POST, "apps/{}/devices", "devices.write", SCOPE_APP, 1, mf_device_register},
    {M_GET, "apps/{}/devices/{}", "devices.read", SCOPE_APP, 0, mf_device_get},
    {M_PUT, "apps/{}/devices/{}", "devices.write", SCOPE_APP, 1, mf_device_update},
    {M_DELETE, "apps/{}/devices/{}", "devices.write", SCOPE_APP, 0, mf_device_delete},
    {M_GET, "apps/{}/tags", "tags.read", SCOPE_APP, 0, mf_tags_list},
    {M_POST, "apps/{}/tags", "tags.write", SCOPE_APP, 1, mf_tag_create},
    {M_GET, "apps/{}/tags/{}", "tags.read", SCOPE_APP, 0, mf_tag_get},
    {M_PUT, "apps/{}/tags/{}", "tags.write", SCOPE_APP, 1, mf_tag_update},
    {M_DELETE, "apps/{}/tags/{}", "tags.write", SCOPE_APP, 0, mf_tag_delete},
    {M_GET, "apps/{}/subscriptions", "subscriptions.read", SCOPE_APP, 0, mf_subscriptions_list},
    {M_POST, "apps/{}/subscriptions", "subscriptions.write", SCOPE_APP, 1, mf_subscribe},
    {M_DELETE, "apps/{}/subscriptions", "subscriptions.write", SCOPE_APP, 0, mf_subscriptions_delete},
    {M_GET, "apps/{}/subscriptions/{}", "subscriptions.read", SCOPE_APP, 0, mf_subscription_get},
    {M_DELETE, "apps/{}/subscriptions/{}", "subscriptions.write", SCOPE_APP, 0,
     mf_subscription_delete},
    {M_GET, "apps/{}/settings", "settings.read", SCOPE_APP, 0, mf_settings_summary, NULL},
    /* APNs takes its certificate as multipart (body 2) as well as the JSON token form */
    {M_PUT, "apps/{}/settings/apnsConf", "apnsConf.write", SCOPE_APP, 2, mf_settings_put, "apnsConf"},
    {M_POST, "apps/{}/settings/apnsConf", "apnsConf.write", SCOPE_APP, 2, mf_settings_put, "apnsConf"},
    {M_GET, "apps/{}/settings/apnsConf", "apnsConf.read", SCOPE_APP, 0, mf_settings_get, "apnsConf"},
    {M_DELETE, "apps/{}/settings/apnsConf", "apnsConf.write", SCOPE_APP, 0, mf_settings_delete, "apnsConf"},
    {M_GET, "apps/{}/settings/apnsCert", "apnsCert.read", SCOPE_APP, 0, mf_apns_cert, NULL},
    SETTINGS("gcmConf"),
    SETTINGS("wnsConf"),
    SETTINGS("smsConf"),
    SETTINGS("webpushConf"),
    {M_GET, "apps/{}/settings/gcmConfPublic", "gcmConfPublic.read", SCOPE_APP, 0, mf_gcm_public, NULL},
    {M_POST, "apps/{}/messages", "messages.write", SCOPE_APP, 1, mf_message_send, NULL},
    {M_POST, "apps/{}/messages/bulk", "messages.write", SCOPE_APP, 1, mf_message_bulk, NULL},
    {M_GET, "apps/{}/messages/{}", "messages.read", SCOPE_APP, 0, mf_message_get, NULL},
    {M_DELETE, "apps/{}/messages/{}", "messages.write", SCOPE_APP, 0, mf_message_cancel, NULL},
    {M_GET, "apps/{}/webhooks", "webhooks.read", SCOPE_APP, 0, mf_webhooks_list, NULL},
    {M_POST, "apps/{}/webhooks", "webhooks.write", SCOPE_APP, 1, mf_webhook_create, NULL},
    {M_GET, "apps/{}/webhooks/{}", "webhooks.read", SCOPE_APP, 0, mf_webhook_get, NULL},
    {M_PUT, "apps/{}/webhooks/{}", "webhooks.write", SCOPE_APP, 1, mf_webhook_update, NULL},
    {M_DELETE, "apps/{}/webhooks/{}", "webhooks.write", SCOPE_APP, 0, mf_webhook_delete, NULL},
    {0, NULL, NULL, 0, 0, NULL, NULL}
};

/* The calls that take query parameters check them themselves (mf_known_params); every
 * other call takes none: 400 FPWSE0007E names the first. */
static int names_its_params(int (*fn)(mf_req_t *))
{
    return fn == mf_apps_list || fn == mf_app_get || fn == mf_devices_list || fn == mf_tags_list ||
           fn == mf_subscriptions_list || fn == mf_subscribe || fn == mf_subscriptions_delete ||
           fn == mf_webhooks_list;
}

/* What push.mobileclient reaches (docs/mobilefirst.md): the calls the device SDKs make on
 * their own device. The routes check that the device is the token's client's own. */
static const struct {
    int method;
    const char *path;
} device_routes[] = {
    {M_GET, "apps/{}/settings/gcmConfPublic"},
    {M_GET, "apps/{}/tags"},
    {M_POST, "apps/{}/devices"},
    {M_GET, "apps/{}/devices/{}"},
    {M_PUT, "apps/{}/devices/{}"},
    {M_DELETE, "apps/{}/devices/{}"},
    {M_GET, "apps/{}/subscriptions"},
    {M_POST, "apps/{}/subscriptions"},
    {M_DELETE, "apps/{}/subscriptions"},
    {0, NULL}
};

static int device_route(const mf_route_t *route)
{
    for (int i = 0; device_routes[i].path; i++)
        if (device_routes[i].method == route->method && strcmp(device_routes[i].path, route->path) == 0)
            return 1;
    return 0;
}

/* --- answers ------------------------------------------------------------------------- */

json_object *mf_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

int mf_send(mf_req_t *q, int status, json_object *o)
{
    return push_send_json(q->r, status, "application/json", o);
}

int mf_no_content(mf_req_t *q)
{
    q->r->status = HTTP_NO_CONTENT;
    return OK;
}

int mf_error(mf_req_t *q, int status, push_msg_t m, const char *arg)
{
    json_object *body = json_object_new_object();
    json_object_object_add(body, "code", json_object_new_string(push_i18n_code(m)));
    json_object_object_add(body, "message",
                           json_object_new_string(push_i18n_text(q->r->pool, m, q->lang, arg)));
    apr_table_setn(q->r->err_headers_out, "Content-Language", q->lang);
    return mf_send(q, status, body);
}

int mf_store_error(mf_req_t *q, push_status_t rv)
{
    (void)rv; /* unreachable, unknown schema or a failed statement: all logged, all retryable */
    apr_table_setn(q->r->err_headers_out, "Retry-After", "5");
    return mf_error(q, HTTP_SERVICE_UNAVAILABLE, PUSH_MSG_UNAVAILABLE, NULL);
}

/* --- bodies -------------------------------------------------------------------------- */

json_object *mf_body(mf_req_t *q)
{
    return mf_body_as(q, json_type_object);
}

json_object *mf_body_as(mf_req_t *q, json_type type)
{
    json_object *obj;
    switch (push_read_json(q->r, type, &obj)) {
    case PUSH_BODY_OK:
        return obj;
    case PUSH_BODY_TOO_LARGE:
        mf_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, PUSH_MSG_BODY_TOO_LARGE,
                 apr_off_t_toa(q->r->pool, push_body_limit(q->r)));
        return NULL;
    case PUSH_BODY_UNSTORABLE:
        mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, push_body_bad_property(q->r));
        return NULL;
    default:
        mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_INVALID_JSON, NULL);
        return NULL;
    }
}

int mf_known_properties(mf_req_t *q, json_object *obj, const char *const *names)
{
    json_object_object_foreach(obj, key, val) {
        int known = 0;
        (void)val;
        for (const char *const *n = names; *n && !known; n++)
            known = strcmp(*n, key) == 0;
        if (!known) {
            mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_UNKNOWN_PROPERTY,
                     push_valid_app_id(key, strlen(key)) ? key : "(unprintable)");
            return 0;
        }
    }
    return 1;
}

static int string_of(mf_req_t *q, json_object *obj, const char *name, apr_size_t max,
                     int (*valid)(const char *, size_t, size_t), const char **out)
{
    apr_size_t len = 0;
    int has = push_json_string(obj, name, out, &len);
    if (has < 0 || (has > 0 && !valid(*out, len, max))) {
        mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, name);
        return -1;
    }
    return has;
}

int mf_string(mf_req_t *q, json_object *obj, const char *name, apr_size_t max, const char **out)
{
    return string_of(q, obj, name, max, push_valid_text, out);
}

int mf_id(mf_req_t *q, json_object *obj, const char *name, apr_size_t max, const char **out)
{
    return string_of(q, obj, name, max, push_valid_id, out);
}

int mf_segment_id(mf_req_t *q, json_object *obj, const char *name, apr_size_t max, const char **out)
{
    return string_of(q, obj, name, max, push_valid_segment_id, out);
}

/* --- queries, links and pages ---------------------------------------------------------- */

int mf_known_params(mf_req_t *q, const char *const *names)
{
    const apr_array_header_t *a = apr_table_elts(q->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)a->elts;
    for (int i = 0; i < a->nelts; i++) {
        int known = 0;
        for (const char *const *n = names; *n && !known; n++)
            known = strcmp(*n, e[i].key) == 0;
        if (!known) {
            mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_UNKNOWN_QUERY_PARAM,
                     push_valid_app_id(e[i].key, strlen(e[i].key)) ? e[i].key : "(unprintable)");
            return 0;
        }
    }
    return 1;
}

const char *mf_href(mf_req_t *q, ...)
{
    va_list ap;
    const char *seg, *url = q->mount;
    va_start(ap, q);
    while ((seg = va_arg(ap, const char *)) != NULL)
        url = apr_pstrcat(q->r->pool, url, "/", ap_escape_path_segment(q->r->pool, seg), NULL);
    va_end(ap);
    return url;
}

int mf_expand(mf_req_t *q)
{
    const char *v = apr_table_get(q->query, "expand");
    return v && strcmp(v, "true") == 0;
}

static int all_digits(const char *s)
{
    if (!*s || strlen(s) > 9)
        return 0;
    for (; *s; s++)
        if (!apr_isdigit(*s))
            return 0;
    return 1;
}

typedef struct {
    mf_req_t *q;
    const push_filter_field_t *fields;
    const char *const *extra;
    push_list_query_t *lq;
    const char *error;
} filter_walk_t;

static int collect_filter(void *ctx, const char *key, const char *value)
{
    filter_walk_t *w = ctx;
    push_filter_clause_t *c = NULL;
    if (strcmp(key, "filter") == 0) {
        w->error = push_filter_parse(w->q->r->pool, value, strlen(value), w->fields, &c);
    } else {
        for (const char *const *e = w->extra; e && *e && !c; e++) {
            if (strcmp(*e, key) != 0)
                continue;
            if (!push_valid_text(value, strlen(value), PUSH_MAX_TOKEN)) {
                w->error = apr_psprintf(w->q->r->pool, "the %s parameter must be non-empty UTF-8",
                                        key);
                return 0;
            }
            c = apr_pcalloc(w->q->r->pool, sizeof(*c));
            c->field = *e;
            c->op = PUSH_FILTER_EQ;
            c->values = apr_array_make(w->q->r->pool, 1, sizeof(const char *));
            APR_ARRAY_PUSH(c->values, const char *) = value;
        }
    }
    if (c)
        APR_ARRAY_PUSH(w->lq->clauses, push_filter_clause_t *) = c;
    return w->error == NULL;
}

int mf_list_query(mf_req_t *q, const push_filter_field_t *fields, const char *const *extra,
                  push_list_query_t *lq)
{
    const char *offset = apr_table_get(q->query, "offset");
    const char *size = apr_table_get(q->query, "size");
    int max = push_conf_list_size_max(q->r);
    filter_walk_t w = {q, fields, extra, lq, NULL};

    memset(lq, 0, sizeof(*lq));
    lq->size = push_conf_list_size_default(q->r);
    if (offset) {
        if (!all_digits(offset))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_BAD_OFFSET, NULL), 0;
        lq->offset = atol(offset);
    }
    if (size) {
        if (!all_digits(size) || atoi(size) < 1 || atoi(size) > max)
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_BAD_SIZE, apr_itoa(q->r->pool, max)), 0;
        lq->size = atoi(size);
    }
    lq->after = apr_table_get(q->query, "after");
    lq->before = apr_table_get(q->query, "before");
    if ((lq->after && !push_valid_utf8(lq->after, strlen(lq->after))) ||
        (lq->before && !push_valid_utf8(lq->before, strlen(lq->before))) || (lq->after && lq->before))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_BAD_FILTER,
                        "after and before are the page links' own parameters"), 0;
    lq->clauses = apr_array_make(q->r->pool, 4, sizeof(push_filter_clause_t *));
    apr_table_do(collect_filter, &w, q->query, NULL);
    if (w.error)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_BAD_FILTER, w.error), 0;
    return 1;
}

typedef struct {
    apr_pool_t *p;
    const char *qs;
} qs_walk_t;

static int keep_param(void *ctx, const char *key, const char *value)
{
    qs_walk_t *w = ctx;
    if (strcmp(key, "offset") && strcmp(key, "size") && strcmp(key, "after") &&
        strcmp(key, "before"))
        w->qs = apr_pstrcat(w->p, w->qs, ap_escape_urlencoded(w->p, key), "=",
                            ap_escape_urlencoded(w->p, value), "&", NULL);
    return 1;
}

static const char *page_link(mf_req_t *q, const push_list_query_t *lq, long offset,
                             const char *key_name, const char *key)
{
    apr_pool_t *p = q->r->pool;
    qs_walk_t w = {p, ""};
    apr_table_do(keep_param, &w, q->query, NULL);
    w.qs = apr_psprintf(p, "%soffset=%ld&size=%d", w.qs, offset, lq->size);
    if (key)
        w.qs = apr_pstrcat(p, w.qs, "&", key_name, "=", ap_escape_urlencoded(p, key), NULL);
    return apr_pstrcat(p, push_public_url(q->r, q->r->uri), "?", w.qs, NULL);
}

json_object *mf_page_info(mf_req_t *q, const push_list_query_t *lq, int count, long total,
                          const char *first_key, const char *last_key)
{
    json_object *o = json_object_new_object();
    long prev = lq->offset > lq->size ? lq->offset - lq->size : 0;
    json_object_object_add(o, "count", json_object_new_int(count));
    json_object_object_add(o, "next", json_object_new_string(
        count > 0 && lq->offset + count < total ? page_link(q, lq, lq->offset + count, "after", last_key)
                                                : ""));
    json_object_object_add(o, "previous", json_object_new_string(
        lq->offset > 0 ? page_link(q, lq, prev, "before", lq->offset > lq->size ? first_key : NULL)
                       : ""));
    json_object_object_add(o, "totalCount", json_object_new_int64(total));
    return o;
}

/* --- negotiation and authorization ------------------------------------------------------ */

/* Absent, or some range with q > 0 that admits application/json. */
static int accepts_json(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");
    char *copy, *state = NULL, *range;
    if (!accept || !*accept)
        return 1;
    copy = apr_pstrdup(r->pool, accept);
    for (range = apr_strtok(copy, ",", &state); range; range = apr_strtok(NULL, ",", &state)) {
        char *params = strchr(range, ';'), *param, *pstate = NULL;
        int refused = 0;
        if (params)
            *params++ = '\0';
        apr_collapse_spaces(range, range);
        ap_str_tolower(range);
        /* the weight is the parameter named q (RFC 9110 12.4.2), not any "q=" in the text */
        for (param = params ? apr_strtok(params, ";", &pstate) : NULL; param;
             param = apr_strtok(NULL, ";", &pstate)) {
            apr_collapse_spaces(param, param);
            if ((param[0] == 'q' || param[0] == 'Q') && param[1] == '=')
                refused = atof(param + 2) <= 0.0;
        }
        if (refused)
            continue;
        if (!strcmp(range, "*/*") || !strcmp(range, "application/*") ||
            !strcmp(range, "application/json"))
            return 1;
    }
    return 0;
}

static const char *bearer_token(request_rec *r)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    if (!h || strncasecmp(h, "Bearer", 6) != 0 || !apr_isspace(h[6]))
        return NULL;
    for (h += 6; apr_isspace(*h); h++)
        ;
    return *h ? h : NULL;
}

static int challenge(mf_req_t *q, int status, const char *header)
{
    apr_table_setn(q->r->err_headers_out, "WWW-Authenticate", header);
    q->r->status = status;
    ap_set_content_length(q->r, 0);
    return OK;
}

int mf_insufficient_scope(mf_req_t *q, const char *scope)
{
    return challenge(q, HTTP_FORBIDDEN,
                     apr_psprintf(q->r->pool, "Bearer realm=\"imfpush\", error=\"insufficient_scope\", "
                                  "scope=\"%s push.application.%s\"", scope, q->app_id));
}

/* Returns 0 when the caller may go on, else the answer already sent (OK). */
static int authorize(mf_req_t *q, const mf_route_t *route, int *answered)
{
    const char *token = bearer_token(q->r), *app_scope = NULL, *needed;
    const char *scopes = NULL, *client_id = NULL;
    int app_state = -1, op_ok;
    push_status_t rv;

    *answered = 1;
    if (!token)
        return challenge(q, HTTP_UNAUTHORIZED, "Bearer realm=\"imfpush\"");
    rv = push_db_acquire(q->r, &q->db);
    if (rv == PUSH_OK)
        rv = push_store_token_app(q->db, push_token_hash(q->r->pool, token, strlen(token)),
                                  q->app_id, &scopes, &client_id, &app_state);
    if (rv == PUSH_NOTFOUND)
        return challenge(q, HTTP_UNAUTHORIZED, "Bearer realm=\"imfpush\", error=\"invalid_token\", "
                         "error_description=\"the access token is unknown or expired\"");
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    if (route->app_scope == SCOPE_APP)
        app_scope = apr_pstrcat(q->r->pool, "push.application.", q->app_id, NULL);
    else if (route->app_scope == SCOPE_ALL_APPS)
        app_scope = "push.application.*";
    needed = app_scope ? apr_pstrcat(q->r->pool, route->scope, " ", app_scope, NULL) : route->scope;
    op_ok = push_scope_list_covers(scopes, route->scope);
    if (!op_ok && device_route(route) && push_scope_list_covers(scopes, PUSH_SCOPE_MOBILECLIENT)) {
        q->device_client = client_id ? client_id : "";
        op_ok = 1;
    }
    if (!op_ok || (app_scope && !push_scope_list_covers(scopes, app_scope)))
        return challenge(q, HTTP_FORBIDDEN,
                         apr_psprintf(q->r->pool, "Bearer realm=\"imfpush\", error=\"insufficient_scope\", "
                                      "scope=\"%s\"", needed));
    if (route->app_scope == SCOPE_APP && app_state < 0)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_APP_MISSING, NULL);
    q->app_enabled = app_state > 0;
    /* the token's scopes stay with the request for routes that check more (app creation) */
    apr_table_setn(q->r->notes, "push-scopes", scopes);
    *answered = 0;
    return 0;
}

static const char *method_name(int m)
{
    return m == M_GET ? "GET" : m == M_POST ? "POST" : m == M_PUT ? "PUT" : "DELETE";
}

/* --- routing --------------------------------------------------------------------------- */

/* Matches path segments against a route's pattern, filling the variables. */
static int match(const char *pattern, apr_array_header_t *segs, const char **vars)
{
    char buf[64], *state = NULL, *part;
    int i = 0, nvar = 0;
    apr_cpystrn(buf, pattern, sizeof(buf));
    for (part = apr_strtok(buf, "/", &state); part; part = apr_strtok(NULL, "/", &state), i++) {
        const char *seg;
        if (i >= segs->nelts)
            return 0;
        seg = APR_ARRAY_IDX(segs, i, const char *);
        if (strcmp(part, "{}") == 0)
            vars[nvar++] = seg;
        else if (strcmp(part, seg) != 0)
            return 0;
    }
    return i == segs->nelts;
}

static apr_array_header_t *segments(apr_pool_t *p, const char *sub)
{
    apr_array_header_t *a = apr_array_make(p, 6, sizeof(const char *));
    const char *s = sub;
    while (*s == '/')
        s++;
    while (*s) {
        const char *end = strchr(s, '/');
        apr_size_t n = end ? (apr_size_t)(end - s) : strlen(s);
        APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(p, s, n);
        s += n;
        while (*s == '/')
            s++;
    }
    return a;
}

int push_mobilefirst_handler(request_rec *r)
{
    mf_req_t q = {r, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL};
    const char *sub, *vars[2] = {NULL, NULL}, *allow = NULL;
    const mf_route_t *route = NULL;
    apr_array_header_t *segs;
    int answered;

    if (strcmp(r->handler, "push-mobilefirst") != 0)
        return DECLINED;
    q.lang = push_i18n_language(apr_table_get(r->headers_in, "Accept-Language"));
    sub = push_conf_subpath(r);
    q.mount = push_public_url(r, apr_pstrmemdup(r->pool, r->uri, strlen(r->uri) - strlen(sub)));
    q.query = apr_table_make(r->pool, 8);
    segs = segments(r->pool, sub);

    for (const mf_route_t *rt = routes; rt->path; rt++) {
        const char *v[2] = {NULL, NULL};
        if (!match(rt->path, segs, v))
            continue;
        if (rt->method == r->method_number) {
            route = rt;
            vars[0] = v[0];
            vars[1] = v[1];
        }
        allow = allow ? apr_pstrcat(r->pool, allow, ", ", method_name(rt->method), NULL)
                      : method_name(rt->method);
    }
    if (!allow)
        return mf_error(&q, HTTP_NOT_FOUND, PUSH_MSG_RESOURCE_MISSING, ap_escape_uri(r->pool, r->uri));
    if (!route) {
        apr_table_setn(r->err_headers_out, "Allow", allow);
        return mf_error(&q, HTTP_METHOD_NOT_ALLOWED, PUSH_MSG_METHOD_NOT_ALLOWED, NULL);
    }
    if (!accepts_json(r))
        return mf_error(&q, HTTP_NOT_ACCEPTABLE, PUSH_MSG_NOT_ACCEPTABLE, NULL);
    if (r->args && push_parse_form(r->pool, r->args, strlen(r->args), q.query) != PUSH_BODY_OK)
        return mf_error(&q, HTTP_BAD_REQUEST, PUSH_MSG_UNKNOWN_QUERY_PARAM, "(malformed query)");
    q.app_id = vars[0];
    q.id = route->arg ? route->arg : vars[1];
    if (q.app_id && !push_valid_app_id(q.app_id, strlen(q.app_id)))
        return route->scope ? mf_error(&q, HTTP_NOT_FOUND, PUSH_MSG_APP_MISSING, NULL) : OK;
    if (q.id && !push_valid_text(q.id, strlen(q.id), PUSH_MAX_ID))
        return mf_error(&q, HTTP_NOT_FOUND, PUSH_MSG_RESOURCE_MISSING, ap_escape_uri(r->pool, r->uri));
    if (route->scope) {
        /* the token's lookup takes the request's connection: the body is in first */
        if (route->body)
            push_read_body_early(r);
        authorize(&q, route, &answered);
        if (answered)
            return OK;
    }
    if (route->body && strcmp(push_content_type(r), "application/json") != 0 &&
        !(route->body == 2 && strcmp(push_content_type(r), "multipart/form-data") == 0))
        return mf_error(&q, HTTP_METHOD_NOT_ALLOWED, PUSH_MSG_UNSUPPORTED_MEDIA,
                        route->body == 2 ? "application/json or multipart/form-data" : "application/json");
    if (!names_its_params(route->fn)) {
        static const char *const none[] = {NULL};
        if (!mf_known_params(&q, none))
            return OK;
    }
    return route->fn(&q);
}
