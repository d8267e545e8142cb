/* Web Push without httpd (see webpush_core.h). The key schedule is RFC 8291 section 3.4:
 * HKDF(auth, ECDH secret, "WebPush: info" || 0 || ua_public || as_public) gives the input
 * key, from which HKDF with the salt gives the content key and the nonce (RFC 8188). */
#include "sender/webpush_core.h"

#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sender/jwt.h"

#define CURVE "prime256v1"

/* --- base64url ------------------------------------------------------------------------ */

int push_webpush_b64_decode(const char *s, unsigned char *out, apr_size_t n)
{
    apr_size_t len = s ? strlen(s) : 0, pad;
    unsigned char *std, buf[PUSH_WEBPUSH_RECORD];
    int got;

    while (len > 0 && s[len - 1] == '=')
        len--;
    pad = (4 - len % 4) % 4;
    if (!s || len == 0 || pad == 3 || len + pad > sizeof(buf) || (len + pad) / 4 * 3 > sizeof(buf))
        return 0;
    std = buf;   /* the standard alphabet, padded, for EVP_DecodeBlock */
    for (apr_size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return 0;
        std[i] = (unsigned char)c;
    }
    memset(std + len, '=', pad);
    {
        unsigned char dec[PUSH_WEBPUSH_RECORD];
        got = EVP_DecodeBlock(dec, std, (int)(len + pad));
        if (got < 0 || (apr_size_t)got - pad != n)
            return 0;
        memcpy(out, dec, n);
    }
    return 1;
}

/* --- keys ----------------------------------------------------------------------------- */

static int point_ok(const unsigned char pt[PUSH_WEBPUSH_POINT])
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    int ok = q && pt[0] == 0x04 && EC_POINT_oct2point(g, q, pt, PUSH_WEBPUSH_POINT, NULL) == 1 &&
             !EC_POINT_is_at_infinity(g, q);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return ok;
}

/* check_point 0: the sender's reading of a stored key, which the encryption's import of
 * the point checks anyway (8 us saved per delivery) */
static const char *keys_read(const char *p256dh, const char *auth, int check_point, push_webpush_sub_t *sub)
{
    int ok = 1;
    if (!p256dh || !push_webpush_b64_decode(p256dh, sub->p256dh, PUSH_WEBPUSH_POINT))
        return "keys.p256dh must be the base64url encoding of 65 bytes";
    if (check_point) {
        ERR_set_mark();
        ok = point_ok(sub->p256dh);
        ERR_pop_to_mark();
    }
    if (!ok)
        return "keys.p256dh is not an uncompressed P-256 point";
    if (!auth || !push_webpush_b64_decode(auth, sub->auth, PUSH_WEBPUSH_AUTH))
        return "keys.auth must be the base64url encoding of 16 bytes";
    return NULL;
}

const char *push_webpush_keys(const char *p256dh, const char *auth, push_webpush_sub_t *sub)
{
    return keys_read(p256dh, auth, 1, sub);
}

const char *push_webpush_keys_stored(const char *p256dh, const char *auth, push_webpush_sub_t *sub)
{
    return keys_read(p256dh, auth, 0, sub);
}

/* A string member, or NULL when absent, of another type, or holding a NUL (an escaped
 * one in the JSON text: C would read the string only up to it). */
static const char *str_member(json_object *o, const char *k)
{
    json_object *v;
    const char *s;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

static const char *sub_read(apr_pool_t *p, const char *json, int check_point, push_webpush_sub_t *sub)
{
    json_object *o = json ? json_tokener_parse(json) : NULL, *keys = NULL;
    const char *endpoint, *why = NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return "must be the JSON text of a PushSubscription {\"endpoint\", \"keys\": {\"p256dh\", \"auth\"}}";
    }
    endpoint = str_member(o, "endpoint");
    if (!endpoint || strncmp(endpoint, "https://", 8) != 0 || strlen(endpoint) > 2048)
        why = "endpoint must be an https URL of at most 2048 bytes";
    else if (!json_object_object_get_ex(o, "keys", &keys) || !json_object_is_type(keys, json_type_object))
        why = "keys must be an object with p256dh and auth";
    else if (!(why = keys_read(str_member(keys, "p256dh"), str_member(keys, "auth"), check_point, sub)))
        sub->endpoint = apr_pstrdup(p, endpoint);
    json_object_put(o);
    return why;
}

const char *push_webpush_sub_parse(apr_pool_t *p, const char *json, push_webpush_sub_t *sub)
{
    return sub_read(p, json, 1, sub);
}

const char *push_webpush_sub_stored(apr_pool_t *p, const char *json, push_webpush_sub_t *sub)
{
    return sub_read(p, json, 0, sub);
}

/* A P-256 EVP_PKEY from its parts (priv may be NULL: a public key). */
static EVP_PKEY *pkey_from(const BIGNUM *priv, const unsigned char pub[PUSH_WEBPUSH_POINT])
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *k = NULL;
    if (b && c && OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, CURVE, 0) &&
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, PUSH_WEBPUSH_POINT) &&
        (!priv || OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv)) &&
        (params = OSSL_PARAM_BLD_to_param(b)) && EVP_PKEY_fromdata_init(c) == 1)
        EVP_PKEY_fromdata(c, &k, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(c);
    return k;
}

EVP_PKEY *push_webpush_key_from_private(const unsigned char d[PUSH_WEBPUSH_SCALAR],
                                        unsigned char pub[PUSH_WEBPUSH_POINT], const char **error)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *bn = BN_bin2bn(d, PUSH_WEBPUSH_SCALAR, NULL);
    EC_POINT *q = g ? EC_POINT_new(g) : NULL;
    EVP_PKEY *k = NULL;
    ERR_set_mark();
    if (!g || !bn || !q)
        *error = "OpenSSL failed";
    else if (BN_is_zero(bn) || BN_cmp(bn, EC_GROUP_get0_order(g)) >= 0)
        *error = "the private key is not a P-256 scalar (it must be from 1 to the group order - 1)";
    else if (EC_POINT_mul(g, q, bn, NULL, NULL, NULL) != 1 ||
             EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, PUSH_WEBPUSH_POINT, NULL) !=
                 PUSH_WEBPUSH_POINT ||
             !(k = pkey_from(bn, pub)))
        *error = "OpenSSL failed to make the key";
    ERR_pop_to_mark();
    EC_POINT_free(q);
    BN_clear_free(bn);
    EC_GROUP_free(g);
    return k;
}

int push_webpush_key_generate(unsigned char d[PUSH_WEBPUSH_SCALAR], unsigned char pub[PUSH_WEBPUSH_POINT])
{
    EVP_PKEY *k;
    BIGNUM *bn = NULL;
    size_t n = 0;
    int ok;
    ERR_set_mark();
    k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", CURVE);
    ok = k && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
         BN_bn2binpad(bn, d, PUSH_WEBPUSH_SCALAR) == PUSH_WEBPUSH_SCALAR &&
         EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, PUSH_WEBPUSH_POINT, &n) == 1 &&
         n == PUSH_WEBPUSH_POINT && pub[0] == 0x04;
    ERR_pop_to_mark();
    BN_clear_free(bn);
    EVP_PKEY_free(k);
    return ok;
}

/* --- the record --------------------------------------------------------------------------- */

static int hkdf(const unsigned char *salt, size_t salt_len, const unsigned char *ikm, size_t ikm_len,
                const unsigned char *info, size_t info_len, unsigned char *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    int ok;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[4] = OSSL_PARAM_construct_end();
    ok = c && EVP_KDF_derive(c, out, out_len, params) == 1;
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(kdf);
    return ok;
}

/* The browser's key is not validated again here: importing it (EC_POINT_oct2point) refuses
 * a point off the curve, and on P-256, whose cofactor is 1, every other point but infinity
 * (refused too: it has no uncompressed form) has the group's order. The full check that
 * EVP_PKEY_derive_set_peer adds is a scalar multiplication of its own: 30 % of an
 * encryption. */
static int ecdh(EVP_PKEY *mine, const unsigned char peer_pub[PUSH_WEBPUSH_POINT], unsigned char secret[32])
{
    EVP_PKEY *peer = pkey_from(NULL, peer_pub);
    EVP_PKEY_CTX *c = peer ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
    size_t n = 32;
    int ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer_ex(c, peer, 0) == 1 &&
             EVP_PKEY_derive(c, secret, &n) == 1 && n == 32;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(peer);
    return ok;
}

static int aes128gcm(const unsigned char key[16], const unsigned char nonce[12], const unsigned char *in,
                     size_t n, unsigned char *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    int ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
             EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1 &&
             EVP_EncryptUpdate(c, out, &len, in, (int)n) == 1 &&
             EVP_EncryptFinal_ex(c, out + len, &fin) == 1 && (size_t)(len + fin) == n &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + n) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

int push_webpush_encrypt_with(apr_pool_t *p, const unsigned char ua_public[PUSH_WEBPUSH_POINT],
                              const unsigned char auth[PUSH_WEBPUSH_AUTH],
                              const unsigned char salt[PUSH_WEBPUSH_SALT], EVP_PKEY *as_key,
                              const unsigned char as_public[PUSH_WEBPUSH_POINT],
                              const unsigned char *plain, apr_size_t n, unsigned char **out,
                              apr_size_t *out_len, const char **error)
{
    static const char key_label[] = "WebPush: info";   /* with its NUL */
    static const char cek_label[] = "Content-Encoding: aes128gcm";
    static const char nonce_label[] = "Content-Encoding: nonce";
    unsigned char secret[32], ikm[32], cek[16], nonce[12];
    unsigned char key_info[sizeof(key_label) + 2 * PUSH_WEBPUSH_POINT];
    unsigned char *msg, *padded;
    int ok;

    if (n > PUSH_WEBPUSH_MAX_PLAIN) {
        *error = "too large";
        return 0;
    }
    memcpy(key_info, key_label, sizeof(key_label));
    memcpy(key_info + sizeof(key_label), ua_public, PUSH_WEBPUSH_POINT);
    memcpy(key_info + sizeof(key_label) + PUSH_WEBPUSH_POINT, as_public, PUSH_WEBPUSH_POINT);
    msg = apr_palloc(p, PUSH_WEBPUSH_HEADER + n + 1 + 16);
    padded = apr_palloc(p, n + 1);
    if (n)
        memcpy(padded, plain, n);
    padded[n] = 0x02;   /* the last (and only) record's delimiter, no padding */
    /* header: salt, rs (uint32, network order), idlen, keyid = the sender's public key */
    memcpy(msg, salt, PUSH_WEBPUSH_SALT);
    msg[16] = (unsigned char)(PUSH_WEBPUSH_RECORD >> 24);
    msg[17] = (unsigned char)(PUSH_WEBPUSH_RECORD >> 16);
    msg[18] = (unsigned char)(PUSH_WEBPUSH_RECORD >> 8);
    msg[19] = (unsigned char)PUSH_WEBPUSH_RECORD;
    msg[20] = PUSH_WEBPUSH_POINT;
    memcpy(msg + 21, as_public, PUSH_WEBPUSH_POINT);

    ERR_set_mark();
    ok = ecdh(as_key, ua_public, secret) &&
         hkdf(auth, PUSH_WEBPUSH_AUTH, secret, sizeof(secret), key_info, sizeof(key_info), ikm, sizeof(ikm)) &&
         hkdf(salt, PUSH_WEBPUSH_SALT, ikm, sizeof(ikm), (const unsigned char *)cek_label, sizeof(cek_label),
              cek, sizeof(cek)) &&
         hkdf(salt, PUSH_WEBPUSH_SALT, ikm, sizeof(ikm), (const unsigned char *)nonce_label,
              sizeof(nonce_label), nonce, sizeof(nonce)) &&
         aes128gcm(cek, nonce, padded, n + 1, msg + PUSH_WEBPUSH_HEADER);
    ERR_pop_to_mark();
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(ikm, sizeof(ikm));
    OPENSSL_cleanse(cek, sizeof(cek));
    OPENSSL_cleanse(padded, n + 1);
    if (!ok) {
        *error = "the payload could not be encrypted (OpenSSL failed, or the p256dh key is not usable)";
        return 0;
    }
    *out = msg;
    *out_len = PUSH_WEBPUSH_HEADER + n + 1 + 16;
    return 1;
}

EVP_PKEY_CTX *push_webpush_keygen_new(void)
{
    EVP_PKEY_CTX *c;
    ERR_set_mark();
    c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (c && (EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_CTX_set_group_name(c, CURVE) != 1)) {
        EVP_PKEY_CTX_free(c);
        c = NULL;
    }
    ERR_pop_to_mark();
    return c;
}

int push_webpush_encrypt(apr_pool_t *p, EVP_PKEY_CTX *keygen, const push_webpush_sub_t *sub,
                         const unsigned char *plain, apr_size_t n, unsigned char **out,
                         apr_size_t *out_len, const char **error)
{
    unsigned char salt[PUSH_WEBPUSH_SALT], as_public[PUSH_WEBPUSH_POINT];
    size_t len = 0;
    EVP_PKEY *k = NULL;
    int ok;
    ERR_set_mark();
    if (keygen) {
        if (EVP_PKEY_generate(keygen, &k) != 1)
            k = NULL;
    } else {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", CURVE);
    }
    ok = k && RAND_bytes(salt, sizeof(salt)) == 1 &&
         EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, as_public, sizeof(as_public), &len) == 1 &&
         len == sizeof(as_public);
    ERR_pop_to_mark();
    if (!ok) {
        EVP_PKEY_free(k);
        *error = "no ephemeral key (OpenSSL failed)";
        return 0;
    }
    ok = push_webpush_encrypt_with(p, sub->p256dh, sub->auth, salt, k, as_public, plain, n, out, out_len, error);
    EVP_PKEY_free(k);
    return ok;
}

/* --- VAPID -------------------------------------------------------------------------------- */

const char *push_webpush_origin(apr_pool_t *p, const char *url)
{
    apr_uri_t u;
    char *scheme, *host;
    int https;
    if (!url || apr_uri_parse(p, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname || !*u.hostname)
        return NULL;
    scheme = apr_pstrdup(p, u.scheme);
    host = apr_pstrdup(p, u.hostname);
    for (char *c = scheme; *c; c++)
        *c = (char)apr_tolower(*c);
    for (char *c = host; *c; c++)
        *c = (char)apr_tolower(*c);
    https = strcmp(scheme, "https") == 0;
    if (!https && strcmp(scheme, "http") != 0)
        return NULL;
    if (strchr(host, ':'))
        host = apr_pstrcat(p, "[", host, "]", NULL);
    if (u.port_str && *u.port_str && u.port != (https ? 443 : 80))
        return apr_psprintf(p, "%s://%s:%u", scheme, host, (unsigned)u.port);
    return apr_pstrcat(p, scheme, "://", host, NULL);
}

const char *push_webpush_jwt(apr_pool_t *p, EVP_PKEY *key, const char *origin, apr_int64_t exp,
                             const char *subject, const char **error)
{
    json_object *claims = json_object_new_object();
    json_object_object_add(claims, "aud", json_object_new_string(origin ? origin : ""));
    json_object_object_add(claims, "exp", json_object_new_int64(exp));
    json_object_object_add(claims, "sub", json_object_new_string(subject ? subject : ""));
    return push_jwt_es256_claims(p, key, claims, error);
}

/* --- headers and payload ---------------------------------------------------------------- */

const char *push_webpush_topic(apr_pool_t *p, const char *key)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    const char *b64;
    size_t n = key ? strlen(key) : 0, i;
    if (n == 0)
        return NULL;
    for (i = 0; i < n; i++)
        if (!apr_isalnum(key[i]) && key[i] != '-' && key[i] != '_')
            break;
    if (i == n && n <= PUSH_WEBPUSH_TOPIC_MAX)
        return key;
    SHA256((const unsigned char *)key, n, md);
    if (!push_b64url(p, md, sizeof(md), &b64))
        return NULL;
    return apr_pstrndup(p, b64, PUSH_WEBPUSH_TOPIC_MAX);
}

/* The member k of o when it is a string or absent ("" and null count as absent); *bad
 * names it otherwise. */
static const char *opt_str(json_object *o, const char *where, const char *k, apr_pool_t *p, const char **bad)
{
    json_object *v;
    if (*bad || !o || !json_object_object_get_ex(o, k, &v) || !v)
        return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        *bad = apr_pstrcat(p, where, k, NULL);
        return NULL;
    }
    return json_object_get_string_len(v) ? json_object_get_string(v) : NULL;
}

static json_object *opt_obj(json_object *o, const char *where, const char *k, apr_pool_t *p, const char **bad)
{
    json_object *v;
    if (*bad || !o || !json_object_object_get_ex(o, k, &v) || !v)
        return NULL;
    if (!json_object_is_type(v, json_type_object)) {
        *bad = apr_pstrcat(p, where, k, NULL);
        return NULL;
    }
    return v;
}

static void add_str(json_object *o, const char *k, const char *v)
{
    if (v)
        json_object_object_add(o, k, json_object_new_string(v));
}

int push_webpush_map(apr_pool_t *p, json_object *msg, const char *message_id,
                     const push_private_t *priv, push_webpush_request_t *out, const char **error)
{
    json_object *m, *s, *wp, *apns, *gcm, *payload, *o;
    const char *bad = NULL, *alert, *title, *icon, *url, *prio, *collapse, *text;
    size_t len = 0;

    memset(out, 0, sizeof(*out));
    if (!msg || !json_object_is_type(msg, json_type_object)) {
        *error = "message";
        return 0;
    }
    m = opt_obj(msg, "", "message", p, &bad);
    s = opt_obj(msg, "", "settings", p, &bad);
    wp = opt_obj(s, "settings.", "webpush", p, &bad);
    apns = opt_obj(s, "settings.", "apns", p, &bad);
    gcm = opt_obj(s, "settings.", "gcm", p, &bad);
    alert = opt_str(m, "message.", "alert", p, &bad);
    title = opt_str(wp, "settings.webpush.", "title", p, &bad);
    if (!title)
        title = opt_str(apns, "settings.apns.", "title", p, &bad);
    icon = opt_str(wp, "settings.webpush.", "icon", p, &bad);
    url = opt_str(wp, "settings.webpush.", "url", p, &bad);
    payload = opt_obj(wp, "settings.webpush.", "payload", p, &bad);
    if (!payload)
        payload = opt_obj(gcm, "settings.gcm.", "payload", p, &bad);
    if (!payload)
        payload = opt_obj(apns, "settings.apns.", "payload", p, &bad);
    prio = opt_str(msg, "", "priority", p, &bad);
    collapse = opt_str(msg, "", "collapseKey", p, &bad);
    if (!collapse)
        collapse = opt_str(gcm, "settings.gcm.", "collapseKey", p, &bad);
    if (bad) {
        *error = bad;
        return 0;
    }
    o = json_object_new_object();
    if (priv) {
        add_str(o, "alert", PUSH_PRIVATE_ALERT);
        add_str(o, "messageId", priv->id);
        add_str(o, "ejson", push_private_ejson(p, priv));
    } else {
        if (!alert && !title && !payload) {
            json_object_put(o);
            *error = "empty";
            return 0;
        }
        add_str(o, "alert", alert);
        add_str(o, "title", title);
        add_str(o, "icon", icon);
        add_str(o, "url", url);
        if (payload)
            json_object_object_add(o, "payload", json_object_get(payload));
        add_str(o, "messageId", message_id);
    }
    text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    out->body = text ? apr_pstrmemdup(p, text, len) : NULL;
    out->body_len = len;
    json_object_put(o);
    if (!out->body) {
        *error = "message";
        return 0;
    }
    if (out->body_len > PUSH_WEBPUSH_MAX_PLAIN) {
        *error = "too large";
        return 0;
    }
    out->urgency = prio && strcmp(prio, "high") == 0 ? "high" : prio && strcmp(prio, "normal") == 0 ? "normal" : NULL;
    out->topic = push_webpush_topic(p, collapse);
    return 1;
}

void push_classify_webpush(apr_pool_t *p, long status, const char *retry_after, push_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    o->retry_after = -1;
    o->reason = status ? apr_psprintf(p, "HTTP %ld", status) : "no answer";
    if (status >= 200 && status < 300)
        o->kind = PUSH_OUT_SENT;
    else if (status == 404 || status == 410)
        o->kind = PUSH_OUT_DEVICE_GONE;
    else if (status == 0 || status == 408 || status == 429 || status >= 500) {
        o->kind = PUSH_OUT_RETRY;
        o->retry_after = push_retry_after(retry_after, apr_time_now());
    } else
        o->kind = PUSH_OUT_MESSAGE_BAD;
}
