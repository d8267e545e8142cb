/* base64url, PEM keys, the APNs (ES256) and Google (RS256) JWTs, and webhook HMACs. */
#include <apr_general.h>
#include <apr_strings.h>

#include <json-c/json.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sender/jwt.h"
#include "unit.h"

static int has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

static int eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static int url_safe(const char *s)
{
    return s && !strpbrk(s, "+/=");
}

/* base64url back to bytes (the test's own decoder: padding restored, alphabet
 * translated, then OpenSSL's standard decoder). Returns the length, or -1. */
static int b64url_decode(apr_pool_t *p, const char *in, apr_size_t n, unsigned char **out)
{
    apr_size_t padded = (n + 3) / 4 * 4;
    char *std = apr_palloc(p, padded + 1);
    unsigned char *raw = apr_palloc(p, padded / 4 * 3 + 1);
    int len;

    if (n % 4 == 1)
        return -1;
    for (apr_size_t i = 0; i < padded; i++) {
        char c = i < n ? in[i] : '=';
        if (c == '+' || c == '/')
            return -1;
        std[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    std[padded] = '\0';
    len = EVP_DecodeBlock(raw, (const unsigned char *)std, (int)padded);
    if (len < 0)
        return -1;
    len -= (int)(padded - n);   /* EVP_DecodeBlock counts the padding as zero bytes */
    raw[len] = '\0';
    *out = raw;
    return len;
}

typedef struct {
    const char *header, *claims;    /* JSON text */
    const char *input;              /* header64.claims64 */
    unsigned char *sig;
    int siglen;
} jwt_parts_t;

static int split_jwt(apr_pool_t *p, const char *jwt, jwt_parts_t *j)
{
    const char *dot1 = jwt ? strchr(jwt, '.') : NULL;
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    unsigned char *h, *c;
    if (!dot2 || strchr(dot2 + 1, '.') || !url_safe(jwt))
        return 0;
    if (b64url_decode(p, jwt, (apr_size_t)(dot1 - jwt), &h) < 0
        || b64url_decode(p, dot1 + 1, (apr_size_t)(dot2 - dot1 - 1), &c) < 0)
        return 0;
    j->header = (const char *)h;
    j->claims = (const char *)c;
    j->input = apr_pstrmemdup(p, jwt, (apr_size_t)(dot2 - jwt));
    j->siglen = b64url_decode(p, dot2 + 1, strlen(dot2 + 1), &j->sig);
    return j->siglen > 0;
}

static int verify(EVP_PKEY *k, const char *input, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k) == 1
             && EVP_DigestVerify(c, sig, siglen, (const unsigned char *)input,
                                 strlen(input)) == 1;
    EVP_MD_CTX_free(c);
    return ok;
}

/* JOSE's raw r||s back to the DER that OpenSSL verifies. */
static int verify_es256(apr_pool_t *p, EVP_PKEY *k, const jwt_parts_t *j)
{
    ECDSA_SIG *s;
    BIGNUM *r, *sv;
    unsigned char *der = NULL;
    int len, ok;
    if (j->siglen != 64)
        return 0;
    s = ECDSA_SIG_new();
    r = BN_bin2bn(j->sig, 32, NULL);
    sv = BN_bin2bn(j->sig + 32, 32, NULL);
    if (!s || !r || !sv || !ECDSA_SIG_set0(s, r, sv)) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(s);
        return 0;
    }
    len = i2d_ECDSA_SIG(s, &der);
    ok = len > 0 && verify(k, j->input, der, (size_t)len);
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    return ok;
}

/* A string member of the JSON text, or NULL. */
static const char *json_str(apr_pool_t *p, const char *text, const char *key)
{
    json_object *o = json_tokener_parse(text), *v;
    const char *s = NULL;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
        s = apr_pstrdup(p, json_object_get_string(v));
    json_object_put(o);
    return s;
}

static apr_int64_t json_int(const char *text, const char *key)
{
    json_object *o = json_tokener_parse(text), *v;
    apr_int64_t n = -1;
    if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int))
        n = json_object_get_int64(v);
    json_object_put(o);
    return n;
}

static int json_members(const char *text)
{
    json_object *o = json_tokener_parse(text);
    int n = o && json_object_is_type(o, json_type_object) ? json_object_object_length(o) : -1;
    json_object_put(o);
    return n;
}

static const char *key_pem(apr_pool_t *p, EVP_PKEY *k, int traditional, const char *password)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    const char *out = NULL;
    long len;
    int ok;
    if (!b || !k)
        return NULL;
    if (password)
        ok = PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL,
                                           (void *)password);
    else if (traditional)
        ok = PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
    else
        ok = PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    if (ok && (len = BIO_get_mem_data(b, &data)) > 0)
        out = apr_pstrmemdup(p, data, (apr_size_t)len);
    BIO_free(b);
    return out;
}

static void test_b64url(apr_pool_t *p)
{
    static const unsigned char high[] = {0xfb, 0xff, 0xbf, 0xfe};
    unsigned char all[256], *back = NULL;
    const char *s = NULL;
    int ok = 1;

    CHECK(push_b64url(p, (const unsigned char *)"", 0, &s) && !strcmp(s, ""), "empty input");
    CHECK(push_b64url(p, NULL, 0, &s) && !strcmp(s, ""), "NULL with no bytes");
    CHECK(push_b64url(p, (const unsigned char *)"f", 1, &s) && !strcmp(s, "Zg"),
          "one byte: two characters, no padding");
    CHECK(push_b64url(p, (const unsigned char *)"fo", 2, &s) && !strcmp(s, "Zm8"),
          "two bytes: three characters, no padding");
    CHECK(push_b64url(p, (const unsigned char *)"foo", 3, &s) && !strcmp(s, "Zm9v"), "three bytes");
    CHECK(push_b64url(p, (const unsigned char *)"foobar", 6, &s) && !strcmp(s, "Zm9vYmFy"),
          "six bytes (RFC 4648 vector)");
    CHECK(push_b64url(p, high, 3, &s) && !strcmp(s, "-_-_"),
          "'+' and '/' become '-' and '_'");
    CHECK(push_b64url(p, high, 4, &s) && !strcmp(s, "-_-__g"), "both at once, unpadded");

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)(255 - i);
    for (apr_size_t n = 0; n <= sizeof(all); n++) {
        if (!push_b64url(p, all, n, &s) || !url_safe(s) || strlen(s) != (4 * n + 2) / 3
            || b64url_decode(p, s, strlen(s), &back) != (int)n || memcmp(back, all, n)) {
            ok = 0;
            break;
        }
    }
    CHECK(ok, "every length 0..256 round-trips, url-safe, unpadded");
}

static void test_pem(apr_pool_t *p)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256"), *got;
    const char *pem, *err;

    CHECK(ec != NULL, "the test made an EC key");
    pem = key_pem(p, ec, 0, NULL);
    err = NULL;
    got = pem ? push_pem_private_key(pem, strlen(pem), &err) : NULL;
    CHECK(got && EVP_PKEY_eq(got, ec) == 1 && !err, "a PKCS#8 PEM key is read");
    EVP_PKEY_free(got);
    pem = key_pem(p, ec, 1, NULL);
    got = pem ? push_pem_private_key(pem, strlen(pem), &err) : NULL;
    CHECK(got && EVP_PKEY_eq(got, ec) == 1, "a traditional PEM key is read");
    EVP_PKEY_free(got);

    err = NULL;
    pem = key_pem(p, ec, 0, "pw");
    got = pem ? push_pem_private_key(pem, strlen(pem), &err) : NULL;
    CHECK(!got && has(err, "encrypted"), "an encrypted key is refused without prompting");
    EVP_PKEY_free(got);
    err = NULL;
    got = push_pem_private_key("garbage", 7, &err);
    CHECK(!got && has(err, "not a PEM private key"), "garbage is refused");
    EVP_PKEY_free(got);
    err = NULL;
    pem = key_pem(p, ec, 0, NULL);
    got = pem ? push_pem_private_key(pem, strlen(pem) / 2, &err) : NULL;
    CHECK(!got && err, "half a PEM key is refused");
    EVP_PKEY_free(got);
    err = NULL;
    got = push_pem_private_key("", 0, &err);
    CHECK(!got && has(err, "empty"), "nothing is refused");
    EVP_PKEY_free(got);
    err = NULL;
    got = push_pem_private_key(NULL, 10, &err);
    CHECK(!got && has(err, "empty"), "NULL is refused");
    EVP_PKEY_free(got);
    EVP_PKEY_free(ec);
}

static void test_es256(apr_pool_t *p)
{
    EVP_PKEY *k = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    EVP_PKEY *p384 = EVP_EC_gen("P-384"), *rsa = EVP_RSA_gen(2048);
    const char *jwt, *jwt2, *err = NULL;
    jwt_parts_t j = {0}, j2 = {0};
    char *tampered;

    CHECK(k && other && p384 && rsa, "the test made its keys");
    jwt = push_jwt_es256(p, k, "ABC123DEFG", "DEF123GHIJ", 1700000000, &err);
    CHECK(jwt && split_jwt(p, jwt, &j), "three url-safe base64url parts");
    CHECK(eq(j.header, "{\"alg\":\"ES256\",\"kid\":\"ABC123DEFG\"}"),
          "header is exactly {alg: ES256, kid}");
    CHECK(eq(j.claims, "{\"iss\":\"DEF123GHIJ\",\"iat\":1700000000}"),
          "claims are exactly {iss, iat}");
    CHECK(j.siglen == 64 && strlen(strrchr(jwt, '.') + 1) == 86,
          "the signature is raw r||s: 64 bytes, 86 characters");
    CHECK(verify_es256(p, k, &j), "the signature verifies with the public key");
    CHECK(!verify_es256(p, other, &j), "and not with another key");

    tampered = apr_pstrdup(p, j.input);
    tampered[strlen(tampered) - 2] ^= 1;
    j.input = tampered;
    CHECK(!verify_es256(p, k, &j), "an altered claim fails verification");

    jwt2 = push_jwt_es256(p, k, "ABC123DEFG", "DEF123GHIJ", 1700000000, &err);
    CHECK(jwt2 && split_jwt(p, jwt2, &j2) && verify_es256(p, k, &j2) && strcmp(jwt, jwt2),
          "a second token differs (random nonce) and verifies too");

    jwt = push_jwt_es256(p, k, "K\"ey/\\", "T\xc3\xa9", -5, &err);
    CHECK(jwt && split_jwt(p, jwt, &j) && eq(json_str(p, j.header, "kid"), "K\"ey/\\")
          && eq(json_str(p, j.claims, "iss"), "T\xc3\xa9") && json_int(j.claims, "iat") == -5
          && verify_es256(p, k, &j), "quotes, backslashes and UTF-8 are escaped by json-c");

    err = NULL;
    CHECK(!push_jwt_es256(p, rsa, "kid", "team", 1, &err) && has(err, "P-256"),
          "an RSA key is refused");
    err = NULL;
    CHECK(!push_jwt_es256(p, p384, "kid", "team", 1, &err) && has(err, "P-256"),
          "a P-384 key is refused");
    err = NULL;
    CHECK(!push_jwt_es256(p, NULL, "kid", "team", 1, &err) && err, "no key is refused");
    err = NULL;
    CHECK(!push_jwt_es256(p, k, "", "team", 1, &err) && has(err, "kid"), "an empty kid is refused");
    err = NULL;
    CHECK(!push_jwt_es256(p, k, NULL, "team", 1, &err) && has(err, "kid"), "a NULL kid is refused");
    err = NULL;
    CHECK(!push_jwt_es256(p, k, "kid", "", 1, &err) && has(err, "iss"), "an empty team is refused");

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(other);
    EVP_PKEY_free(k);
}

static void test_rs256(apr_pool_t *p)
{
    static const char scope[] = "https://www.googleapis.com/auth/firebase.messaging";
    static const char aud[] = "https://oauth2.googleapis.com/token";
    static const char iss[] = "push@project.iam.gserviceaccount.com";
    EVP_PKEY *k = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
    const char *jwt, *err = NULL;
    jwt_parts_t j = {0};

    CHECK(k && ec, "the test made its keys");
    jwt = push_jwt_rs256(p, k, iss, scope, aud, 1700000000, 1700003600, &err);
    CHECK(jwt && split_jwt(p, jwt, &j), "three url-safe base64url parts");
    CHECK(eq(j.header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"),
          "header is exactly {alg: RS256, typ: JWT}");
    CHECK(j.claims && json_members(j.claims) == 5 && eq(json_str(p, j.claims, "iss"), iss)
          && eq(json_str(p, j.claims, "scope"), scope)
          && eq(json_str(p, j.claims, "aud"), aud)
          && json_int(j.claims, "iat") == 1700000000 && json_int(j.claims, "exp") == 1700003600,
          "claims are iss, scope, aud, iat, exp");
    CHECK(has(j.claims, scope), "slashes in URLs are not escaped");
    CHECK(j.siglen == 256, "a 2048-bit key makes a 256-byte signature");
    CHECK(verify(k, j.input, j.sig, (size_t)j.siglen), "the signature verifies");

    err = NULL;
    CHECK(!push_jwt_rs256(p, ec, iss, scope, aud, 1, 2, &err) && has(err, "RSA"),
          "an EC key is refused");
    err = NULL;
    CHECK(!push_jwt_rs256(p, k, "", scope, aud, 1, 2, &err) && has(err, "client_email"),
          "an empty issuer is refused by name");
    err = NULL;
    CHECK(!push_jwt_rs256(p, k, iss, NULL, aud, 1, 2, &err) && has(err, "scope"),
          "a missing scope is refused by name");
    err = NULL;
    CHECK(!push_jwt_rs256(p, k, iss, scope, "", 1, 2, &err) && has(err, "token_uri"),
          "an empty audience is refused by name");

    EVP_PKEY_free(ec);
    EVP_PKEY_free(k);
}

static void test_hmac(apr_pool_t *p)
{
    static const char case2[] = "what do ya want for nothing?";
    unsigned char key1[20];
    const char *h;

    h = push_hmac_sha256_hex(p, (const unsigned char *)"Jefe", 4, case2, sizeof(case2) - 1);
    CHECK(h && !strcmp(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
          "RFC 4231 test case 2");
    memset(key1, 0x0b, sizeof(key1));
    h = push_hmac_sha256_hex(p, key1, sizeof(key1), "Hi There", 8);
    CHECK(h && !strcmp(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
          "RFC 4231 test case 1");
    h = push_hmac_sha256_hex(p, NULL, 0, NULL, 0);
    CHECK(h && !strcmp(h, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
          "empty key and empty data");
}

int main(void)
{
    apr_pool_t *p;
    apr_initialize();
    apr_pool_create(&p, NULL);

    test_b64url(p);
    test_pem(p);
    test_es256(p);
    test_rs256(p);
    test_hmac(p);

    apr_pool_destroy(p);
    apr_terminate();
    UNIT_DONE();
}
