/* MobileFirst provider settings: apnsConf (token auth, JSON), gcmConf (legacy key or an
 * FCM service account), wnsConf and smsConf. What may be shown is kept as JSON; the
 * secret part is sealed with AES-256-GCM under PushSecretKey and never answered. */
#include "api/mobilefirst.h"

#include "apr_base64.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "config.h"
#include "core/multipart.h"
#include "core/p12.h"
#include "core/secret.h"
#include "core/validate.h"
#include "http_util.h"
#include "log.h"
#include "sender/egress.h"
#include "sender/sender.h"
#include "sender/sms.h"
#include "sender/wnsmap.h"
#include "sender/jwt.h"
#include "sender/webpush_core.h"
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
static int parse_webpush(mf_req_t *q, json_object *body, json_object *config, const char **secret);

static const mf_provider_t providers[] = {
    {"apnsConf", "apns", "APNs", parse_apns},
    {"gcmConf", "fcm", "GCM", parse_gcm},
    {"wnsConf", "wns", "WNS", parse_wns},
    {"smsConf", "sms", "SMS", parse_sms},
    {"webpushConf", "webpush", "Web Push", parse_webpush},
    {NULL, NULL, NULL, NULL}
};

static const mf_provider_t *provider_of(const char *conf)
{
    for (const mf_provider_t *p = providers; p->conf; p++)
        if (strcmp(p->conf, conf) == 0)
            return p;
    return providers; /* routes only name the ones above */
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
    const char *p8 = NULL, *why = NULL, *bundle = NULL;
    if (!mf_known_properties(q, body, props) ||
        !copy_string(q, body, config, "keyId", 64, 1, NULL) ||
        !copy_string(q, body, config, "teamId", 64, 1, NULL) ||
        !copy_string(q, body, config, "bundleId", PUSH_MAX_SHORT, 1, &bundle) ||
        !copy_string(q, body, NULL, "p8", 8192, 1, &p8))
        return 0;
    /* the bundle id is the apns-topic header of every push */
    if (!push_valid_topic(bundle, strlen(bundle)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "bundleId"), 0;
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
        /* project_id is a segment of the send URL's path */
        if (push_json_string(account, *f, &v, &len) != 1 || !push_valid_text(v, len, len) ||
            (strcmp(*f, "project_id") == 0 && !push_valid_fcm_project(v, len)))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID,
                            apr_pstrcat(q->r->pool, "serviceAccount.", *f, NULL)), 0;
        if (strcmp(*f, "private_key") != 0)
            json_object_object_add(config, strcmp(*f, "project_id") == 0 ? "projectId" : "clientEmail",
                                   json_object_new_string(v));
    }
    {
        /* token_uri is where the sender would post the signed assertion: only Google's,
         * unless the operator named the token endpoint (PushProviderEndpoint fcm-token) */
        const push_sender_conf_t *sc = push_srv_conf(q->r->server)->sender;
        const char *uri;
        apr_size_t len;
        int has = push_json_string(account, "token_uri", &uri, &len);
        if (has < 0 || (has == 1 && strcmp(uri, PUSH_GOOGLE_TOKEN_URI) != 0 &&
                        !(sc && sc->endpoint[PUSH_EP_FCM_TOKEN])))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "serviceAccount.token_uri"), 0;
    }
    json_object_object_add(config, "api", json_object_new_string("v1"));
    *secret = json_object_to_json_string_ext(account, JSON_C_TO_STRING_PLAIN);
    return 1;
}

static int parse_wns(mf_req_t *q, json_object *body, json_object *config, const char **secret)
{
    /* tenantId (a mod_push addition): a Windows App SDK app registered in Entra ID, whose
     * tokens come from that tenant's endpoint; packageSID then holds its application id */
    static const char *const props[] = {"clientSecret", "packageSID", "tenantId", NULL};
    const char *tenant = NULL;
    if (!mf_known_properties(q, body, props) || !copy_string(q, body, config, "packageSID", 512, 1, NULL) ||
        !copy_string(q, body, NULL, "clientSecret", 1024, 1, secret) ||
        !copy_string(q, body, NULL, "tenantId", 253, 0, &tenant))
        return 0;
    if (tenant && !push_wns_tenant_ok(tenant))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "tenantId"), 0;
    if (tenant)
        json_object_object_add(config, "tenantId", json_object_new_string(tenant));
    return 1;
}

/* One entry of smsConf.parameters: {"name", "value", "encode"}; a value sent as it is
 * (encode false) must already be fit for a query. */
static int sms_parameter_ok(json_object *p)
{
    json_object *v = NULL, *enc = NULL;
    const char *s;
    apr_size_t len;
    int encode = 1;
    if (!json_object_is_type(p, json_type_object) || push_json_string(p, "name", &s, &len) != 1 ||
        !push_valid_text(s, len, 255))
        return 0;
    if (json_object_object_get_ex(p, "encode", &enc) && enc) {
        if (json_object_is_type(enc, json_type_boolean))
            encode = json_object_get_boolean(enc);
        else if (json_object_is_type(enc, json_type_string) &&
                 (!strcmp(json_object_get_string(enc), "true") || !strcmp(json_object_get_string(enc), "false")))
            encode = strcmp(json_object_get_string(enc), "true") == 0;
        else
            return 0;
    }
    if (!json_object_object_get_ex(p, "value", &v) || !v)
        return 1;
    if (json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);
        len = (apr_size_t)json_object_get_string_len(v);
        return push_valid_text(s, len, 1024) && (encode || push_sms_raw_value_ok(s));
    }
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_boolean);
}

static int parse_sms(mf_req_t *q, json_object *body, json_object *config, const char **secret)
{
    /* method and https are mod_push's: a form POST instead of a GET, TLS to the gateway */
    static const char *const props[] = {"name", "host", "port", "programName", "parameters", "method",
                                        "https", NULL};
    json_object *port = NULL, *params = NULL, *https = NULL;
    const char *method = NULL, *url, *why = NULL;
    if (!mf_known_properties(q, body, props) || !copy_string(q, body, config, "name", 255, 1, NULL) ||
        !copy_string(q, body, config, "host", 255, 1, NULL) ||
        !copy_string(q, body, config, "programName", 1024, 0, NULL) ||
        !copy_string(q, body, config, "method", 8, 0, &method))
        return 0;
    if (method && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "method"), 0;
    if (json_object_object_get_ex(body, "https", &https) && https) {
        if (!json_object_is_type(https, json_type_boolean))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "https"), 0;
        json_object_object_add(config, "https", json_object_get(https));
    }
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
        json_object *shown = json_object_new_array();
        json_object_object_add(config, "parameters", shown);
        for (size_t i = 0; i < json_object_array_length(params); i++) {
            json_object *one = json_object_array_get_idx(params, i), *part, *v;
            if (!sms_parameter_ok(one))
                return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "parameters"), 0;
            /* the values are where a gateway's account and password go: sealed with the
             * rest of the secrets, shown by name only */
            part = json_object_new_object();
            json_object_array_add(shown, part);
            if (json_object_object_get_ex(one, "name", &v))
                json_object_object_add(part, "name", json_object_get(v));
            if (json_object_object_get_ex(one, "encode", &v))
                json_object_object_add(part, "encode", json_object_get(v));
        }
        if (json_object_array_length(params) > 0)
            *secret = json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN);
    }
    /* the gateway is the tenant's: never an internal address (the sender checks the
     * address it connects to as well) */
    if (!(url = push_sms_gateway_url(q->r->pool, config, &why)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, why), 0;
    if ((why = push_egress_url_problem(q->r->pool, url, push_conf_egress(q->r->server))))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_HOST_REFUSED, why), 0;
    return 1;
}

/* APNs certificate auth: MobileFirst's multipart upload of a .p12 with its password. The
 * sealed secret holds the file (base64) and the password as JSON. 0 after answering. */
static int parse_apns_p12(mf_req_t *q, json_object *config, const char **secret)
{
    const char *error = NULL, *boundary, *subject, *not_after, *password = "";
    const push_multipart_part_t *cert, *pass, *sandbox;
    apr_array_header_t *parts;
    char *buf;
    apr_size_t len;

    boundary = push_multipart_boundary(q->r->pool, apr_table_get(q->r->headers_in, "Content-Type"),
                                       &error);
    if (!boundary)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_CERT_INVALID, error), 0;
    switch (push_read_body(q->r, &buf, &len)) {
    case PUSH_BODY_OK:
        break;
    case PUSH_BODY_TOO_LARGE:
        return mf_error(q, HTTP_REQUEST_ENTITY_TOO_LARGE, PUSH_MSG_CERT_INVALID,
                        "the upload is larger than PushMaxBodySize"), 0;
    default:
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_CERT_INVALID, "the upload could not be read"), 0;
    }
    parts = push_multipart_parse(q->r->pool, (const unsigned char *)buf, len, boundary, &error);
    if (!parts)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_CERT_INVALID, error), 0;
    cert = push_multipart_get(parts, "certificate");
    if (!cert || cert->len == 0)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "certificate"), 0;
    /* the iteration counts first: a file may ask for seconds of key derivation */
    if (!push_p12_check(q->r->pool, cert->data, cert->len, &error))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_CERT_INVALID, error), 0;
    if ((pass = push_multipart_get(parts, "password")) != NULL) {
        password = apr_pstrmemdup(q->r->pool, (const char *)pass->data, pass->len);
        if (strlen(password) != pass->len || !push_valid_utf8(password, pass->len))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "password"), 0;
    }
    sandbox = push_multipart_get(parts, "isSandBox");
    if (sandbox && !(sandbox->len == 4 && !memcmp(sandbox->data, "true", 4)) &&
        !(sandbox->len == 5 && !memcmp(sandbox->data, "false", 5)))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "isSandBox"), 0;
    if (!push_p12_inspect(q->r->pool, cert->data, cert->len, password, &subject, &not_after, &error))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_CERT_INVALID, error), 0;

    json_object_object_add(config, "authType", json_object_new_string("certificate"));
    json_object_object_add(config, "certificate",
                           json_object_new_string(cert->filename && push_valid_utf8(cert->filename,
                                                  strlen(cert->filename)) ? cert->filename : subject));
    json_object_object_add(config, "subject", json_object_new_string(subject));
    json_object_object_add(config, "validUntil", json_object_new_string(not_after));
    json_object_object_add(config, "isSandBox", json_object_new_boolean(sandbox && sandbox->len == 4));
    *secret = push_p12_stored(q->r->pool, cert->data, cert->len, password);
    return 1;
}

/* --- routes ----------------------------------------------------------------------------------------- */

int mf_settings_put(mf_req_t *q)
{
    const mf_provider_t *p = provider_of(q->id);
    /* APNs also takes its certificate as multipart/form-data */
    int upload = strcmp(p->provider, "apns") == 0 &&
                 strcmp(push_content_type(q->r), "multipart/form-data") == 0;
    json_object *body = upload ? NULL : mf_body(q), *config;
    const char *secret = NULL, *sealed_text = NULL;
    push_status_t rv;

    if (!body && !upload)
        return OK;
    config = push_json_pool_own(q->r->pool, json_object_new_object());
    if (!(body ? p->parse(q, body, config, &secret) : parse_apns_p12(q, config, &secret)))
        return OK;
    if (secret) {
        const push_secret_key_t *key = push_conf_secret_key(q->r->server);
        if (!key) {
            PUSH_RLOG(APLOG_ERR, 0, q->r, "PUSH0402", "cannot store %s credentials: PushSecretKey "
                      "is not set", p->label);
            return mf_store_error(q, PUSH_EUNAVAIL);
        }
        sealed_text = push_secret_seal_text(q->r->pool, key, secret,
                                            push_secret_aad_credential(q->r->pool, q->app_id, p->provider));
        if (!sealed_text)
            return mf_store_error(q, PUSH_EUNAVAIL);
    }
    rv = push_store_credential_put(q->db, q->app_id, p->provider,
                                   json_object_to_json_string_ext(config, JSON_C_TO_STRING_PLAIN),
                                   sealed_text);
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    return mf_send(q, HTTP_OK, json_object_get(config));
}

/* The stored config, or NULL after answering (404 when none). */
static json_object *stored_config(mf_req_t *q, const mf_provider_t *p)
{
    const char *text = NULL, *sealed = NULL;
    push_status_t rv = push_store_credential_get(q->db, q->app_id, p->provider, &text, &sealed);
    json_object *config;
    if (rv == PUSH_NOTFOUND) {
        mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SETTINGS_MISSING, p->label);
        return NULL;
    }
    if (rv != PUSH_OK) {
        mf_store_error(q, rv);
        return NULL;
    }
    config = text ? json_tokener_parse(text) : NULL;
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
    /* the device SDKs register with FCM under this id and take an answer without one for
     * a broken backend: settings with a service account and no senderId are not there yet
     * for them */
    if (!json_object_object_get_ex(config, "senderId", &sender) || !json_object_is_type(sender, json_type_string) ||
        !json_object_get_string_len(sender)) {
        json_object_put(config);
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SETTINGS_MISSING, "GCM");
    }
    o = json_object_new_object();
    json_object_object_add(o, "senderId", json_object_get(sender));
    json_object_put(config);
    return mf_send(q, HTTP_OK, o);
}

int mf_settings_delete(mf_req_t *q)
{
    const mf_provider_t *p = provider_of(q->id);
    push_status_t rv = push_store_credential_delete(q->db, q->app_id, p->provider);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SETTINGS_MISSING, p->label);
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}

int mf_settings_summary(mf_req_t *q)
{
    apr_table_t *all = apr_table_make(q->r->pool, 4);
    push_status_t rv = push_store_credential_list(q->db, q->app_id, all);
    json_object *o, *apns, *sandbox = NULL;
    const char *text;
    int is_sandbox = 0;
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    o = json_object_new_object();
    json_object_object_add(o, "applicationId", json_object_new_string(q->app_id));
    if ((text = apr_table_get(all, "apns")) != NULL &&
        (apns = push_json_pool_own(q->r->pool, json_tokener_parse(text))) != NULL &&
        json_object_object_get_ex(apns, "isSandBox", &sandbox))
        is_sandbox = json_object_get_boolean(sandbox);
    json_object_object_add(o, "mode", json_object_new_string(is_sandbox ? "SANDBOX" : "PRODUCTION"));
    for (const mf_provider_t *p = providers; p->conf; p++)
        json_object_object_add(o, p->conf, json_object_new_string(
            apr_table_get(all, p->provider) ? mf_href(q, "apps", q->app_id, "settings", p->conf, NULL)
                                               : ""));
    return mf_send(q, HTTP_OK, o);
}

/* GET settings/apnsCert: the uploaded .p12 itself, for the holders of apnsCert.read. */
int mf_apns_cert(mf_req_t *q)
{
    const push_secret_key_t *key = push_conf_secret_key(q->r->server);
    const char *text = NULL, *sealed_text = NULL;
    push_status_t rv = push_store_credential_get(q->db, q->app_id, "apns", &text, &sealed_text);
    unsigned char *plain, *der;
    apr_size_t plain_len;
    size_t der_len;
    const char *error, *password;

    json_object *config, *auth;

    if (rv != PUSH_OK && rv != PUSH_NOTFOUND)
        return mf_store_error(q, rv);
    config = rv == PUSH_OK && text ? push_json_pool_own(q->r->pool, json_tokener_parse(text)) : NULL;
    if (!config || !json_object_object_get_ex(config, "authType", &auth) ||
        strcmp(json_object_get_string(auth), "certificate") != 0)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_SETTINGS_MISSING, "APNs certificate");
    if (!key || !push_secret_open_text(q->r->pool, key, sealed_text,
                                       push_secret_aad_credential(q->r->pool, q->app_id, "apns"),
                                       &plain, &plain_len, &error)) {
        PUSH_RLOG(APLOG_ERR, 0, q->r, "PUSH0404", "cannot open the APNs certificate of %s: %s",
                  q->app_id, key ? "wrong PushSecretKey or damaged data" : "PushSecretKey is not set");
        return mf_store_error(q, PUSH_EUNAVAIL);
    }
    if (!push_p12_stored_read(q->r->pool, (const char *)plain, &der, &der_len, &password))
        return mf_store_error(q, PUSH_EDB);
    q->r->status = HTTP_OK;
    ap_set_content_type(q->r, "application/x-pkcs12");
    apr_table_setn(q->r->headers_out, "Content-Disposition", "attachment; filename=\"apns.p12\"");
    apr_table_setn(q->r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(q->r, (apr_off_t)der_len);
    if (!q->r->header_only)
        ap_rwrite(der, (int)der_len, q->r);
    return OK;
}

/* --- Web Push (a mod_push addition) ------------------------------------------------------ */

/* The VAPID private key already stored for the application, so that a PUT that only
 * changes the subject keeps the key every browser subscribed with. 1 and d, or 0. */
static int stored_vapid_key(mf_req_t *q, unsigned char d[PUSH_WEBPUSH_SCALAR])
{
    const push_secret_key_t *key = push_conf_secret_key(q->r->server);
    const char *text = NULL, *sealed_text = NULL, *error = NULL;
    unsigned char *plain;
    apr_size_t plen;
    if (!key || push_store_credential_get(q->db, q->app_id, "webpush", &text, &sealed_text) != PUSH_OK ||
        !push_secret_open_text(q->r->pool, key, sealed_text,
                               push_secret_aad_credential(q->r->pool, q->app_id, "webpush"),
                               &plain, &plen, &error))
        return 0;
    return push_webpush_b64_decode((const char *)plain, d, PUSH_WEBPUSH_SCALAR);
}

/* The subject goes into a token in a header: printable ASCII only. */
static int printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* webpushConf: {"subject": "mailto:..." | "https://...", "privateKey"?: base64url of the
 * 32-byte P-256 scalar}. Without privateKey the stored key is kept, or one is made. The
 * public key is shown (the browser's applicationServerKey); the private key is sealed. */
static int parse_webpush(mf_req_t *q, json_object *body, json_object *config, const char **secret)
{
    static const char *const props[] = {"subject", "privateKey", NULL};
    unsigned char d[PUSH_WEBPUSH_SCALAR], pub[PUSH_WEBPUSH_POINT];
    const char *subject = NULL, *priv = NULL, *why = NULL, *pub64 = NULL;
    EVP_PKEY *k;
    int ok;

    if (!mf_known_properties(q, body, props) || !copy_string(q, body, NULL, "subject", 1024, 1, &subject) ||
        !copy_string(q, body, NULL, "privateKey", 128, 0, &priv))
        return 0;
    if (!((strncmp(subject, "mailto:", 7) == 0 && strlen(subject) > 7 && strchr(subject, '@')) ||
          (strncmp(subject, "https://", 8) == 0 && push_valid_https_url(subject, strlen(subject)))) ||
        !printable_ascii(subject))
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID,
                        "subject (a mailto: address or an https: URL)"), 0;
    if (priv) {
        if (!push_webpush_b64_decode(priv, d, sizeof(d)))
            return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID,
                            "privateKey (the base64url encoding of a 32-byte P-256 private key)"), 0;
        ok = 1;
    } else {
        ok = stored_vapid_key(q, d) || push_webpush_key_generate(d, pub);
    }
    if (!ok)
        return mf_store_error(q, PUSH_EUNAVAIL), 0;
    k = push_webpush_key_from_private(d, pub, &why);
    EVP_PKEY_free(k);
    if (!k)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID,
                        apr_pstrcat(q->r->pool, "privateKey (", why, ")", NULL)), 0;
    if (!push_b64url(q->r->pool, d, sizeof(d), secret) || !push_b64url(q->r->pool, pub, sizeof(pub), &pub64))
        return mf_store_error(q, PUSH_EUNAVAIL), 0;
    OPENSSL_cleanse(d, sizeof(d));
    json_object_object_add(config, "subject", json_object_new_string(subject));
    json_object_object_add(config, "publicKey", json_object_new_string(pub64));
    return 1;
}
