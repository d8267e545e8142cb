/* MobileFirst provider settings: apnsConf (token auth, JSON), gcmConf (legacy key or an
 * FCM service account), wnsConf and smsConf. What may be shown is kept as JSON; the
 * secret part is sealed with AES-256-GCM under PushSecretKey and never answered. */
#include "api/mobilefirst.h"

#include "apr_strings.h"
#include "http_protocol.h"

#include "config.h"
#include "core/secret.h"
#include "core/validate.h"
#include "dbd.h"
#include "http_util.h"
#include "log.h"
#include "store/store.h"

typedef struct {
    const char *conf;       /* the path segment, e.g. "gcmConf" */
    const char *provider;   /* push_credential.provider */
    const char *label;      /* for messages */
    /* Validates body, fills config (shown) and *secret (sealed); 0 after answering. */
    int (*parse)(mf_req_t *q, json_object *body, json_object *config, const char **secret);
} mf_provider_t;

static int parse_apns(mf_req_t *q, json_object *body, json_object *config, const char **secret);
static int parse_gcm(mf_req_t *q, json_object *body, json_object *config, const char **secret);
static int parse_wns(mf_req_t *q, json_object *body, json_object *config, const char **secret);
static int parse_sms(mf_req_t *q, json_object *body, json_object *config, const char **secret);

static const mf_provider_t providers[] = {
    {"apnsConf", "apns", "APNs", parse_apns},
    {"gcmConf", "fcm", "GCM", parse_gcm},
    {"wnsConf", "wns", "WNS", parse_wns},
    {"smsConf", "sms", "SMS", parse_sms},
    {NULL, NULL, NULL, NULL}
};

static const mf_provider_t *provider_of(const char *conf)
{
    for (const mf_provider_t *p = providers; p->conf; p++)
        if (strcmp(p->conf, conf) == 0)
            return p;
    return providers; /* routes only name the four above */
}

/* Copies a required (or optional) string property into config; 0 after answering. */
static int copy_string(mf_req_t *q, json_object *body, json_object *config, const char *name,
                       apr_size_t max, int required, const char **out)
{
    const char *v = NULL;
    int has = mf_string(q, body, name, max, &v);
    if (has < 0)
        return 0;
    if (!has && required)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, name), 0;
    if (has && config)
        json_object_object_add(config, name, json_object_new_string(v));
    if (out)
        *out = v;
    return 1;
}

static int parse_apns(mf_req_t *q, json_object *body, json_object *config, const char **secret)
{
    static const char *const props[] = {"keyId", "teamId", "bundleId", "p8", "isSandBox", NULL};
    json_object *sandbox = NULL;
    const char *p8 = NULL, *why = NULL;
    if (!mf_known_properties(q, body, props) ||
        !copy_string(q, body, config, "keyId", 64, 1, NULL) ||
        !copy_string(q, body, config, "teamId", 64, 1, NULL) ||
        !copy_string(q, body, config, "bundleId", PUSH_MAX_SHORT, 1, NULL) ||
        !copy_string(q, body, NULL, "p8", 8192, 1, &p8))
        return 0;
    if (json_object_object_get_ex(body, "isSandBox", &sandbox) && sandbox &&
        !json_object_is_type(sandbox, json_type_boolean))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "isSandBox"), 0;
    if (!push_p8_check(q->r->pool, p8, strlen(p8), &why))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_CERT_INVALID, why), 0;
    json_object_object_add(config, "authType", json_object_new_string("token"));
    json_object_object_add(config, "isSandBox",
                           json_object_new_boolean(sandbox && json_object_get_boolean(sandbox)));
    *secret = p8;
    return 1;
}

static int parse_gcm(mf_req_t *q, json_object *body, json_object *config, const char **secret)
{
    static const char *const props[] = {"apiKey", "senderId", "serviceAccount", NULL};
    static const char *const account_fields[] = {"project_id", "private_key", "client_email", NULL};
    json_object *account = NULL, *type = NULL;
    const char *key = NULL;

    if (!mf_known_properties(q, body, props) ||
        !copy_string(q, body, config, "senderId", 64, 0, NULL) ||
        !copy_string(q, body, NULL, "apiKey", 4096, 0, &key))
        return 0;
    if (!json_object_object_get_ex(body, "serviceAccount", &account) || !account) {
        if (!key)
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "apiKey"), 0;
        json_object_object_add(config, "api", json_object_new_string("legacy"));
        *secret = key;
        return 1;
    }
    /* the FCM HTTP v1 API: a Firebase service-account key */
    if (!json_object_is_type(account, json_type_object) ||
        !json_object_object_get_ex(account, "type", &type) || !type ||
        strcmp(json_object_get_string(type), "service_account") != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "serviceAccount"), 0;
    for (const char *const *f = account_fields; *f; f++) {
        const char *v;
        apr_size_t len;
        if (push_json_string(account, *f, &v, &len) != 1 || len == 0 || !push_valid_utf8(v, len))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID,
                            apr_pstrcat(q->r->pool, "serviceAccount.", *f, NULL)), 0;
        if (strcmp(*f, "private_key") != 0)
            json_object_object_add(config, strcmp(*f, "project_id") == 0 ? "projectId" : "clientEmail",
                                   json_object_new_string(v));
    }
    json_object_object_add(config, "api", json_object_new_string("v1"));
    *secret = json_object_to_json_string_ext(account, JSON_C_TO_STRING_PLAIN);
    return 1;
}

static int parse_wns(mf_req_t *q, json_object *body, json_object *config, const char **secret)
{
    static const char *const props[] = {"clientSecret", "packageSID", NULL};
    return mf_known_properties(q, body, props) &&
           copy_string(q, body, config, "packageSID", 512, 1, NULL) &&
           copy_string(q, body, NULL, "clientSecret", 1024, 1, secret);
}

static int parse_sms(mf_req_t *q, json_object *body, json_object *config, const char **secret)
{
    static const char *const props[] = {"name", "host", "port", "programName", "parameters", NULL};
    json_object *port = NULL, *params = NULL;
    (void)secret;
    if (!mf_known_properties(q, body, props) || !copy_string(q, body, config, "name", 255, 1, NULL) ||
        !copy_string(q, body, config, "host", 255, 1, NULL) ||
        !copy_string(q, body, config, "programName", 1024, 0, NULL))
        return 0;
    if (json_object_object_get_ex(body, "port", &port) && port) {
        int n = json_object_get_int(port);
        if (!(json_object_is_type(port, json_type_int) ||
              (json_object_is_type(port, json_type_string) && n > 0)) || n < 1 || n > 65535)
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "port"), 0;
        json_object_object_add(config, "port", json_object_new_int(n));
    }
    if (json_object_object_get_ex(body, "parameters", &params) && params) {
        if (!json_object_is_type(params, json_type_array))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "parameters"), 0;
        for (size_t i = 0; i < json_object_array_length(params); i++) {
            json_object *p = json_object_array_get_idx(params, i);
            const char *v;
            apr_size_t len;
            if (!json_object_is_type(p, json_type_object) ||
                push_json_string(p, "name", &v, &len) != 1 || !push_valid_text(v, len, 255))
                return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "parameters"), 0;
        }
        json_object_object_add(config, "parameters", json_object_get(params));
    }
    return 1;
}

/* --- store calls --------------------------------------------------------------------------------- */

typedef struct {
    const char *app_id, *provider, *config, *secret;
    apr_table_t *all;
} cred_op_t;

static push_status_t op_put(push_db_t *db, void *ctx)
{
    cred_op_t *op = ctx;
    return push_store_credential_put(db, op->app_id, op->provider, op->config, op->secret);
}

static push_status_t op_get(push_db_t *db, void *ctx)
{
    cred_op_t *op = ctx;
    return push_store_credential_get(db, op->app_id, op->provider, &op->config, &op->secret);
}

static push_status_t op_delete(push_db_t *db, void *ctx)
{
    cred_op_t *op = ctx;
    return push_store_credential_delete(db, op->app_id, op->provider);
}

static push_status_t op_list(push_db_t *db, void *ctx)
{
    cred_op_t *op = ctx;
    return push_store_credential_list(db, op->app_id, op->all);
}

/* --- routes ----------------------------------------------------------------------------------------- */

int mf_settings_put(mf_req_t *q)
{
    const mf_provider_t *p = provider_of(q->id);
    json_object *body = mf_body(q), *config;
    cred_op_t op = {q->app_id, p->provider, NULL, NULL, NULL};
    const char *secret = NULL;
    push_status_t rv;

    if (!body)
        return OK;
    config = push_json_pool_own(q->r->pool, json_object_new_object());
    if (!p->parse(q, body, config, &secret))
        return OK;
    if (secret) {
        const push_secret_key_t *key = push_conf_secret_key(q->r->server);
        unsigned char *sealed;
        apr_size_t n;
        if (!key) {
            PUSH_RLOG(APLOG_ERR, 0, q->r, "PUSH0402", "cannot store %s credentials: PushSecretKey "
                      "is not set", p->label);
            return mf_store_error(q, PUSH_EUNAVAIL);
        }
        if (!push_secret_seal(q->r->pool, key, (const unsigned char *)secret, strlen(secret),
                              apr_pstrcat(q->r->pool, q->app_id, "/", p->provider, NULL), &sealed, &n))
            return mf_store_error(q, PUSH_EUNAVAIL);
        op.secret = push_bytea_encode(q->r->pool, sealed, n);
    }
    op.config = json_object_to_json_string_ext(config, JSON_C_TO_STRING_PLAIN);
    rv = push_db_with(q->r, op_put, &op);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    return mf_send(q, HTTP_OK, json_object_get(config));
}

/* The stored config, or NULL after answering (404 when none). */
static json_object *stored_config(mf_req_t *q, const mf_provider_t *p)
{
    cred_op_t op = {q->app_id, p->provider, NULL, NULL, NULL};
    push_status_t rv = push_db_with(q->r, op_get, &op);
    json_object *config;
    if (rv == PUSH_NOTFOUND) {
        mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SETTINGS_MISSING, p->label);
        return NULL;
    }
    if (rv != PUSH_OK) {
        mf_store_error(q, rv);
        return NULL;
    }
    config = json_tokener_parse(op.config);
    if (!config) {
        mf_store_error(q, PUSH_EDB);
        return NULL;
    }
    return config;
}

int mf_settings_get(mf_req_t *q)
{
    json_object *config = stored_config(q, provider_of(q->id));
    return config ? mf_send(q, HTTP_OK, config) : OK;
}

int mf_gcm_public(mf_req_t *q)
{
    json_object *config = stored_config(q, provider_of("gcmConf")), *sender, *o;
    if (!config)
        return OK;
    o = json_object_new_object();
    if (json_object_object_get_ex(config, "senderId", &sender))
        json_object_object_add(o, "senderId", json_object_get(sender));
    json_object_put(config);
    return mf_send(q, HTTP_OK, o);
}

int mf_settings_delete(mf_req_t *q)
{
    const mf_provider_t *p = provider_of(q->id);
    cred_op_t op = {q->app_id, p->provider, NULL, NULL, NULL};
    push_status_t rv = push_db_with(q->r, op_delete, &op);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SETTINGS_MISSING, p->label);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

int mf_settings_summary(mf_req_t *q)
{
    cred_op_t op = {q->app_id, NULL, NULL, NULL, apr_table_make(q->r->pool, 4)};
    push_status_t rv = push_db_with(q->r, op_list, &op);
    json_object *o, *apns, *sandbox = NULL;
    const char *text;
    int is_sandbox = 0;
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    o = json_object_new_object();
    json_object_object_add(o, "applicationId", json_object_new_string(q->app_id));
    if ((text = apr_table_get(op.all, "apns")) != NULL &&
        (apns = push_json_pool_own(q->r->pool, json_tokener_parse(text))) != NULL &&
        json_object_object_get_ex(apns, "isSandBox", &sandbox))
        is_sandbox = json_object_get_boolean(sandbox);
    json_object_object_add(o, "mode", json_object_new_string(is_sandbox ? "SANDBOX" : "PRODUCTION"));
    for (const mf_provider_t *p = providers; p->conf; p++)
        json_object_object_add(o, p->conf, json_object_new_string(
            apr_table_get(op.all, p->provider) ? mf_href(q, "apps", q->app_id, "settings", p->conf, NULL)
                                               : ""));
    return mf_send(q, HTTP_OK, o);
}
