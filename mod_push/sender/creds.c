/* Provider credentials inside the sender: read from push_credential, opened with the
 * PushSecretKey, cached briefly, and turned into what a request carries (the APNs
 * provider token, the FCM access token, the TLS client certificate). */
#include "sender/internal.h"

#include <stdlib.h>

#include <apr_base64.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "core/secret.h"
#include "sender/jwt.h"


#define CRED_TTL          apr_time_from_sec(10)    /* how long a read credential is trusted */
#define APNS_TOKEN_RENEW  apr_time_from_sec(30 * 60)  /* Apple: between 20 and 60 minutes */
#define FCM_SCOPE         "https://www.googleapis.com/auth/firebase.messaging"

static void cred_cleanup_key(push_cred_t *cr)
{
    if (cr->pkey)
        EVP_PKEY_free(cr->pkey);
    cr->pkey = NULL;
}

static apr_status_t cred_cleanup(void *data)
{
    cred_cleanup_key(data);
    return APR_SUCCESS;
}

static const char *json_str(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

/* Opens the sealed secret and prepares the key the provider needs. */
static void cred_prepare(push_sender_t *sd, push_cred_t *cr, const char *sealed_hex)
{
    unsigned char *sealed, *plain;
    apr_size_t n, plen;
    const char *err = NULL, *api;
    if (!sealed_hex) {
        cr->error = "no secret stored";
        return;
    }
    if (!sd->c->key) {
        cr->error = "PushSecretKey is not set";
        return;
    }
    if (!push_bytea_decode(cr->pool, sealed_hex, &sealed, &n) ||
        !push_secret_open(cr->pool, sd->c->key, sealed, n,
                          apr_pstrcat(cr->pool, cr->app_id, "/", cr->provider, NULL), &plain, &plen,
                          &err)) {
        cr->error = apr_pstrcat(cr->pool, "cannot open the stored secret: ",
                                err ? err : "bad value", NULL);
        return;
    }
    cr->secret = (const char *)plain;
    cr->secret_len = plen;
    if (strcmp(cr->provider, "apns") == 0) {
        const char *auth = json_str(cr->config, "authType");
        if (auth && strcmp(auth, "certificate") == 0) {
            /* the .p12 goes to libcurl as it is (a blob), decoded once here */
            json_object *sealed = json_tokener_parse(cr->secret);
            const char *b64 = json_str(sealed, "p12"), *pass = json_str(sealed, "password");
            if (b64) {
                unsigned char *der = apr_palloc(cr->pool, apr_base64_decode_len(b64));
                cr->p12_len = (apr_size_t)apr_base64_decode_binary(der, b64);
                cr->p12 = der;
                cr->p12_password = pass ? apr_pstrdup(cr->pool, pass) : NULL;
            } else {
                cr->error = "the stored certificate is unreadable";
            }
            json_object_put(sealed);
            return;
        }
        if (!(cr->pkey = push_pem_private_key(cr->secret, cr->secret_len, &err)))
            cr->error = apr_pstrcat(cr->pool, "APNs key: ", err, NULL);
    } else if (strcmp(cr->provider, "fcm") == 0) {
        json_object *account;
        api = json_str(cr->config, "api");
        if (!api || strcmp(api, "v1") != 0) {
            cr->error = "the legacy FCM API (apiKey) no longer sends: configure a service account";
            return;
        }
        account = json_tokener_parse(cr->secret);
        if (account) {
            const char *pk = json_str(account, "private_key");
            if (pk && !(cr->pkey = push_pem_private_key(pk, strlen(pk), &err)))
                cr->error = apr_pstrcat(cr->pool, "service account key: ", err, NULL);
            json_object_object_add(cr->config, "tokenUri",
                                   json_str(account, "token_uri")
                                       ? json_object_new_string(json_str(account, "token_uri")) : NULL);
            json_object_put(account);
        } else {
            cr->error = "the stored service account is not JSON";
        }
    }
    if (cr->pkey)
        apr_pool_cleanup_register(cr->pool, cr, cred_cleanup, apr_pool_cleanup_null);
}

push_cred_t *push_cred_get(push_sender_t *sd, PGconn **db, const char *app_id, const char *provider)
{
    char key[300];
    push_cred_t *cr, *old;
    const char *params[2] = {app_id, provider};
    PGresult *res;
    apr_time_t now = apr_time_now();

    /* every thread reads this cache: sd->cred_pool and the hash change only under sd->lock */
    apr_snprintf(key, sizeof(key), "%s/%s", app_id, provider);
    apr_thread_mutex_lock(sd->lock);
    old = apr_hash_get(sd->creds, key, APR_HASH_KEY_STRING);
    apr_thread_mutex_unlock(sd->lock);
    if (old && now - old->fetched < CRED_TTL)
        return old;

    res = push_pg_exec(sd, db,
                       "SELECT config::text, secret::text, paused_reason, "
                       "extract(epoch FROM updated_at)::text FROM push_credential "
                       "WHERE app_id = $1 AND provider = $2", 2, params);
    if (!res)
        return old;   /* the database hiccupped: keep what we had */
    if (PQntuples(res) == 0) {
        PQclear(res);
        return NULL;
    }
    if (old && old->config) {
        json_object *stamp;
        if (json_object_object_get_ex(old->config, "_updated", &stamp) &&
            strcmp(json_object_get_string(stamp), PQgetvalue(res, 0, 3)) == 0) {
            /* unchanged: keep the keys and tokens, refresh the pause */
            apr_thread_mutex_lock(old->lock);   /* cr->lock guards cr->pool */
            old->paused = PQgetisnull(res, 0, 2) ? NULL
                                                 : apr_pstrdup(old->pool, PQgetvalue(res, 0, 2));
            old->fetched = now;
            apr_thread_mutex_unlock(old->lock);
            PQclear(res);
            return old;
        }
    }
    /* new or changed: a fresh entry. The old one stays valid for threads that hold it
     * (a settings change is rare; its memory is the price of not counting references). */
    apr_thread_mutex_lock(sd->lock);
    cr = apr_pcalloc(sd->cred_pool, sizeof(*cr));
    apr_thread_mutex_unlock(sd->lock);
    /* its own pool under the global one (whose allocator is thread-safe): it is used
     * by whichever worker renews a token */
    apr_pool_create(&cr->pool, NULL);
    cr->app_id = apr_pstrdup(cr->pool, app_id);
    cr->provider = apr_pstrdup(cr->pool, provider);
    cr->config = json_tokener_parse(PQgetvalue(res, 0, 0));
    if (!cr->config || !json_object_is_type(cr->config, json_type_object)) {
        json_object_put(cr->config);
        cr->config = json_object_new_object();
    }
    apr_pool_cleanup_register(cr->pool, cr->config, (apr_status_t (*)(void *))json_object_put,
                              apr_pool_cleanup_null);
    json_object_object_add(cr->config, "_updated", json_object_new_string(PQgetvalue(res, 0, 3)));
    cr->paused = PQgetisnull(res, 0, 2) ? NULL : apr_pstrdup(cr->pool, PQgetvalue(res, 0, 2));
    apr_thread_mutex_create(&cr->lock, APR_THREAD_MUTEX_DEFAULT, cr->pool);
    cred_prepare(sd, cr, PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
    cr->fetched = now;
    PQclear(res);
    if (cr->error)
        SLOG(sd, APLOG_ERR, "PUSH0621", "sender: %s credentials of %s cannot be used: %s", provider,
             app_id, cr->error);
    apr_thread_mutex_lock(sd->lock);
    old = apr_hash_get(sd->creds, key, APR_HASH_KEY_STRING);
    if (old && old != cr && old->config && cr->config) {
        json_object *a, *b;
        if (json_object_object_get_ex(old->config, "_updated", &a) &&
            json_object_object_get_ex(cr->config, "_updated", &b) &&
            strcmp(json_object_get_string(a), json_object_get_string(b)) == 0) {
            /* another thread loaded the same version meanwhile: one entry, one provider
             * token (Apple frowns on needless token updates) */
            apr_thread_mutex_unlock(sd->lock);
            apr_pool_destroy(cr->pool);
            return old;
        }
    }
    apr_hash_set(sd->creds, apr_pstrdup(sd->cred_pool, key), APR_HASH_KEY_STRING, cr);
    apr_thread_mutex_unlock(sd->lock);
    return cr;
}

/* Exchanges a service-account assertion for an access token (RFC 7523). */
static const char *fcm_token(push_sender_t *sd, push_cred_t *cr, const char **error)
{
    const char *email = json_str(cr->config, "clientEmail");
    const char *uri = sd->c->endpoint[PUSH_EP_FCM_TOKEN] ? sd->c->endpoint[PUSH_EP_FCM_TOKEN]
                                                          : json_str(cr->config, "tokenUri");
    apr_int64_t now = apr_time_sec(apr_time_now());
    const char *jwt, *form, *tok;
    char answer[8192] = "";
    push_body_buf_t body = {answer, sizeof(answer), 0};
    CURL *e;
    CURLcode rc;
    long status = 0;
    json_object *o, *v;

    if (!uri)
        uri = "https://oauth2.googleapis.com/token";
    if (!email || !(jwt = push_jwt_rs256(cr->pool, cr->pkey, email, FCM_SCOPE, uri, now, now + 3600,
                                         error)))
        return *error = *error ? *error : "service account without client_email", NULL;
    e = curl_easy_init();
    if (!e)
        return *error = "libcurl", NULL;
    form = apr_pstrcat(cr->pool, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                                 "&assertion=", jwt, NULL);
    push_curl_common(sd, e, uri, 0);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, push_curl_keep);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (rc != CURLE_OK)
        return *error = apr_pstrcat(cr->pool, "token endpoint: ", curl_easy_strerror(rc), NULL), NULL;
    o = json_tokener_parse(answer);
    if (status != 200 || !o || !(tok = json_str(o, "access_token"))) {
        *error = apr_psprintf(cr->pool, "token endpoint answered %ld: %.200s", status, answer);
        json_object_put(o);
        return NULL;
    }
    tok = apr_pstrdup(cr->pool, tok);
    cr->bearer_until = apr_time_now() +
        apr_time_from_sec(json_object_object_get_ex(o, "expires_in", &v) ? json_object_get_int(v) : 3600);
    json_object_put(o);
    return tok;
}

const char *push_cred_bearer(push_sender_t *sd, push_cred_t *cr, const char **error)
{
    const char *out;
    apr_time_t now = apr_time_now();
    *error = NULL;
    if (!cr->pkey)
        return *error = cr->error ? cr->error : "no key", NULL;
    apr_thread_mutex_lock(cr->lock);
    if (cr->bearer && (strcmp(cr->provider, "apns") == 0 ? now - cr->bearer_at < APNS_TOKEN_RENEW
                                                         : now < cr->bearer_until - apr_time_from_sec(60))) {
        out = cr->bearer;
        apr_thread_mutex_unlock(cr->lock);
        return out;
    }
    if (strcmp(cr->provider, "apns") == 0)
        out = push_jwt_es256(cr->pool, cr->pkey, json_str(cr->config, "keyId"),
                             json_str(cr->config, "teamId"), apr_time_sec(now), error);
    else
        out = fcm_token(sd, cr, error);
    if (out) {
        cr->bearer = out;
        cr->bearer_at = now;
    }
    apr_thread_mutex_unlock(cr->lock);
    if (!out)
        SLOG(sd, APLOG_ERR, "PUSH0622", "sender: no %s token for %s: %s", cr->provider, cr->app_id, *error);
    return out;
}

void push_cred_renew(push_cred_t *cr, const char *old)
{
    apr_thread_mutex_lock(cr->lock);
    if (cr->bearer == old)
        cr->bearer = NULL;
    apr_thread_mutex_unlock(cr->lock);
}

void push_cred_pause(push_sender_t *sd, PGconn **db, push_cred_t *cr, const char *reason)
{
    const char *params[3] = {cr->app_id, cr->provider, reason};
    apr_thread_mutex_lock(cr->lock);
    if (cr->paused) {
        apr_thread_mutex_unlock(cr->lock);
        return;
    }
    cr->paused = apr_pstrdup(cr->pool, reason);
    apr_thread_mutex_unlock(cr->lock);
    SLOG(sd, APLOG_ERR, "PUSH0623", "sender: %s rejected the credentials of %s (%s): its sends stop "
         "until its settings change", cr->provider, cr->app_id, reason);
    PQclear(push_pg_exec(sd, db, "UPDATE push_credential SET paused_at = now(), paused_reason = $3 "
                                 "WHERE app_id = $1 AND provider = $2 AND paused_at IS NULL",
                         3, params));
}
