#include "jwt.h"

#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include <json-c/json.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "core/hex.h"

/* JWS (RFC 7518 section 3.4) wants the P-256 signature as r and s, 32 bytes each. */
#define ES256_HALF 32

int push_b64url(apr_pool_t *p, const unsigned char *in, apr_size_t n, const char **out)
{
    unsigned char *buf;
    int len;

    if (n > (apr_size_t)INT_MAX / 4 * 3)
        return 0;
    buf = apr_palloc(p, 4 * ((n + 2) / 3) + 1);
    len = EVP_EncodeBlock(buf, in ? in : (const unsigned char *)"", (int)n);
    while (len > 0 && buf[len - 1] == '=')
        len--;
    buf[len] = '\0';
    for (int i = 0; i < len; i++) {
        if (buf[i] == '+')
            buf[i] = '-';
        else if (buf[i] == '/')
            buf[i] = '_';
    }
    *out = (const char *)buf;
    return 1;
}

/* Never prompt on a terminal: record that a password was wanted and refuse. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    *(int *)u = 1;
    return -1;
}

EVP_PKEY *push_pem_private_key(const char *pem, apr_size_t n, const char **error)
{
    EVP_PKEY *k = NULL;
    BIO *b = NULL;
    int asked = 0;

    ERR_set_mark();
    if (!pem || n == 0 || n > INT_MAX || !(b = BIO_new_mem_buf(pem, (int)n)))
        *error = "the private key is empty";
    else if (!(k = PEM_read_bio_PrivateKey(b, NULL, no_password, &asked)))
        *error = asked ? "the private key is encrypted with a password"
                       : "the private key is not a PEM private key";
    BIO_free(b);
    ERR_pop_to_mark();
    return k;
}

/* Compact JSON text in p; releases o. Slashes stay unescaped so that URLs in claims
 * read as themselves. */
static const char *json_text(apr_pool_t *p, json_object *o)
{
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    const char *copy = s ? apr_pstrmemdup(p, s, len) : NULL;
    json_object_put(o);
    return copy;
}

/* base64url(header) "." base64url(claims); releases both objects. */
static const char *signing_input(apr_pool_t *p, json_object *header, json_object *claims)
{
    const char *h = json_text(p, header), *c = json_text(p, claims), *h64, *c64;
    if (!h || !c || !push_b64url(p, (const unsigned char *)h, strlen(h), &h64)
        || !push_b64url(p, (const unsigned char *)c, strlen(c), &c64))
        return NULL;
    return apr_pstrcat(p, h64, ".", c64, NULL);
}

/* SHA-256 signature of in with key, as OpenSSL gives it (DER for ECDSA). */
static int sign_sha256(apr_pool_t *p, EVP_PKEY *key, const char *in, unsigned char **sig,
                       size_t *siglen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t n = strlen(in), len = 0;
    unsigned char *s = NULL;
    int ok = c && EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) == 1
             && EVP_DigestSign(c, NULL, &len, (const unsigned char *)in, n) == 1 && len > 0;
    if (ok) {
        s = apr_palloc(p, len);
        ok = EVP_DigestSign(c, s, &len, (const unsigned char *)in, n) == 1;
    }
    EVP_MD_CTX_free(c);
    *sig = s;
    *siglen = len;
    return ok;
}

/* DER ECDSA-Sig-Value into raw r||s. */
static int ecdsa_raw(const unsigned char *der, size_t n, unsigned char *raw)
{
    const unsigned char *cur = der;
    ECDSA_SIG *s = n <= LONG_MAX ? d2i_ECDSA_SIG(NULL, &cur, (long)n) : NULL;
    const BIGNUM *r = NULL, *sv = NULL;
    int ok = 0;
    if (s) {
        ECDSA_SIG_get0(s, &r, &sv);
        ok = BN_bn2binpad(r, raw, ES256_HALF) == ES256_HALF
             && BN_bn2binpad(sv, raw + ES256_HALF, ES256_HALF) == ES256_HALF;
    }
    ECDSA_SIG_free(s);
    return ok;
}

static int is_p256(EVP_PKEY *key)
{
    char group[80];
    size_t glen = 0;
    return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC
           && EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) == 1
           && OBJ_sn2nid(group) == NID_X9_62_prime256v1;
}

const char *push_jwt_es256(apr_pool_t *p, EVP_PKEY *key, const char *kid, const char *iss,
                           apr_int64_t iat, const char **error)
{
    json_object *header, *claims;
    unsigned char *der = NULL, raw[2 * ES256_HALF];
    size_t derlen = 0;
    const char *input, *sig64 = NULL;
    int ok;

    if (!kid || !*kid) {
        *error = "the APNs key id (kid) is empty";
        return NULL;
    }
    if (!iss || !*iss) {
        *error = "the APNs team id (iss) is empty";
        return NULL;
    }
    if (!key || !is_p256(key)) {
        *error = "the APNs signing key is not an EC P-256 key";
        return NULL;
    }
    header = json_object_new_object();
    json_object_object_add(header, "alg", json_object_new_string("ES256"));
    json_object_object_add(header, "kid", json_object_new_string(kid));
    claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string(iss));
    json_object_object_add(claims, "iat", json_object_new_int64(iat));
    input = signing_input(p, header, claims);

    ERR_set_mark();
    ok = input && sign_sha256(p, key, input, &der, &derlen) && ecdsa_raw(der, derlen, raw)
         && push_b64url(p, raw, sizeof(raw), &sig64);
    ERR_pop_to_mark();
    if (!ok) {
        *error = "the APNs provider token could not be signed (OpenSSL failed)";
        return NULL;
    }
    return apr_pstrcat(p, input, ".", sig64, NULL);
}

const char *push_jwt_rs256(apr_pool_t *p, EVP_PKEY *key, const char *iss, const char *scope,
                           const char *aud, apr_int64_t iat, apr_int64_t exp,
                           const char **error)
{
    json_object *header, *claims;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    const char *input, *sig64 = NULL;
    int ok;

    if (!iss || !*iss || !scope || !*scope || !aud || !*aud) {
        *error = apr_psprintf(p, "the service-account assertion has an empty %s",
                              !iss || !*iss ? "issuer (client_email)"
                              : !scope || !*scope ? "scope" : "audience (token_uri)");
        return NULL;
    }
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        *error = "the service-account key is not an RSA key";
        return NULL;
    }
    header = json_object_new_object();
    json_object_object_add(header, "alg", json_object_new_string("RS256"));
    json_object_object_add(header, "typ", json_object_new_string("JWT"));
    claims = json_object_new_object();
    json_object_object_add(claims, "iss", json_object_new_string(iss));
    json_object_object_add(claims, "scope", json_object_new_string(scope));
    json_object_object_add(claims, "aud", json_object_new_string(aud));
    json_object_object_add(claims, "iat", json_object_new_int64(iat));
    json_object_object_add(claims, "exp", json_object_new_int64(exp));
    input = signing_input(p, header, claims);

    ERR_set_mark();
    ok = input && sign_sha256(p, key, input, &sig, &siglen)
         && push_b64url(p, sig, siglen, &sig64);
    ERR_pop_to_mark();
    if (!ok) {
        *error = "the service-account assertion could not be signed (OpenSSL failed)";
        return NULL;
    }
    return apr_pstrcat(p, input, ".", sig64, NULL);
}

const char *push_hmac_sha256_hex(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                                 const char *data, apr_size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int ok;

    if (keylen > INT_MAX)
        return NULL;
    ERR_set_mark();
    /* An empty key or body still needs a valid pointer. */
    ok = HMAC(EVP_sha256(), keylen ? key : (const unsigned char *)"", (int)keylen,
              n ? (const unsigned char *)data : (const unsigned char *)"", n, md, &mdlen)
         != NULL;
    ERR_pop_to_mark();
    if (!ok)
        return NULL;
    return push_hex(p, md, mdlen);
}

const char *push_jwt_es256_claims(apr_pool_t *p, EVP_PKEY *key, json_object *claims, const char **error)
{
    json_object *header;
    unsigned char *der = NULL, raw[2 * ES256_HALF];
    size_t derlen = 0;
    const char *input, *sig64 = NULL;
    int ok;

    if (!key || !is_p256(key)) {
        json_object_put(claims);
        *error = "the signing key is not an EC P-256 key";
        return NULL;
    }
    header = json_object_new_object();
    json_object_object_add(header, "typ", json_object_new_string("JWT"));
    json_object_object_add(header, "alg", json_object_new_string("ES256"));
    input = signing_input(p, header, claims);
    ERR_set_mark();
    ok = input && sign_sha256(p, key, input, &der, &derlen) && ecdsa_raw(der, derlen, raw)
         && push_b64url(p, raw, sizeof(raw), &sig64);
    ERR_pop_to_mark();
    if (!ok) {
        *error = "the token could not be signed (OpenSSL failed)";
        return NULL;
    }
    return apr_pstrcat(p, input, ".", sig64, NULL);
}
