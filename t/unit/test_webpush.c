/* Web Push: RFC 8291's worked example (Appendix A) reproduced byte for byte, a record
 * decrypted again with the browser's key, the size limit, subscriptions and keys
 * checked, the VAPID token verified, topics, the payload and the answers classified.
 * "bench N" as the first argument times N encryptions instead (bench/delivery). */
#include <stdlib.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include <json-c/json.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include "sender/jwt.h"
#include "sender/webpush_core.h"
#include "unit.h"

/* RFC 8291, Appendix A */
#define A_PLAIN     "When I grow up, I want to be a watermelon"
#define A_AS_PUBLIC "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
#define A_AS_PRIV   "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
#define A_UA_PUBLIC "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
#define A_UA_PRIV   "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
#define A_SALT      "DGv6ra1nlYgDCS1FRnbzlw"
#define A_AUTH      "BTBZMqHH6r4Tts7J_aSIgg"
#define A_MESSAGE   "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYW" \
                    "AmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgS" \
                    "xsj_Qulcy4a-fN"

static int eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static const char *b64(apr_pool_t *p, const unsigned char *in, apr_size_t n)
{
    const char *s = NULL;
    return push_b64url(p, in, n, &s) ? s : NULL;
}

static EVP_PKEY *key_of(const char *priv_b64, unsigned char pub[PUSH_WEBPUSH_POINT])
{
    unsigned char d[PUSH_WEBPUSH_SCALAR];
    const char *err = NULL;
    if (!push_webpush_b64_decode(priv_b64, d, sizeof(d)))
        return NULL;
    return push_webpush_key_from_private(d, pub, &err);
}

/* The receiving side, written out here as the test's own: ECDH with the browser's key,
 * the same key schedule, AES-128-GCM open. Returns the plaintext length, or -1. */
static int hkdf(const unsigned char *salt, size_t sl, const unsigned char *ikm, size_t il,
                const unsigned char *info, size_t nl, unsigned char *out, size_t ol)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *c = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM prm[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sl),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, il),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, nl),
        OSSL_PARAM_construct_end()};
    int ok = EVP_KDF_derive(c, out, ol, prm) == 1;
    EVP_KDF_CTX_free(c);
    EVP_KDF_free(kdf);
    return ok;
}

static int decrypt(EVP_PKEY *ua, const unsigned char ua_pub[65], const unsigned char auth[16],
                   const unsigned char *msg, size_t n, unsigned char *plain)
{
    unsigned char secret[32], ikm[32], cek[16], nonce[12], info[14 + 130];
    EVP_PKEY *as = NULL;
    EVP_PKEY_CTX *c;
    EVP_CIPHER_CTX *x;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *prm;
    size_t sl = 32;
    int len = 0, fin = 0, ok, clen;

    if (n < PUSH_WEBPUSH_HEADER + 17 || msg[20] != 65)
        return -1;
    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, msg + 21, 65);
    prm = OSSL_PARAM_BLD_to_param(b);
    c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY_fromdata_init(c);
    EVP_PKEY_fromdata(c, &as, EVP_PKEY_PUBLIC_KEY, prm);
    EVP_PKEY_CTX_free(c);
    OSSL_PARAM_free(prm);
    OSSL_PARAM_BLD_free(b);
    c = EVP_PKEY_CTX_new(ua, NULL);
    ok = as && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, as) == 1 &&
         EVP_PKEY_derive(c, secret, &sl) == 1;
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(as);
    memcpy(info, "WebPush: info", 14);
    memcpy(info + 14, ua_pub, 65);
    memcpy(info + 79, msg + 21, 65);
    ok = ok && hkdf(auth, 16, secret, 32, info, sizeof(info), ikm, 32) &&
         hkdf(msg, 16, ikm, 32, (const unsigned char *)"Content-Encoding: aes128gcm", 28, cek, 16) &&
         hkdf(msg, 16, ikm, 32, (const unsigned char *)"Content-Encoding: nonce", 24, nonce, 12);
    if (!ok)
        return -1;
    clen = (int)(n - PUSH_WEBPUSH_HEADER - 16);
    x = EVP_CIPHER_CTX_new();
    ok = EVP_DecryptInit_ex(x, EVP_aes_128_gcm(), NULL, cek, nonce) == 1 &&
         EVP_DecryptUpdate(x, plain, &len, msg + PUSH_WEBPUSH_HEADER, clen) == 1 &&
         EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, (void *)(msg + n - 16)) == 1 &&
         EVP_DecryptFinal_ex(x, plain + len, &fin) == 1;
    EVP_CIPHER_CTX_free(x);
    if (!ok || len + fin < 1 || plain[len + fin - 1] != 0x02)
        return -1;
    return len + fin - 1;
}

static void test_rfc8291(apr_pool_t *p)
{
    unsigned char ua_pub[65], as_pub[65], as_pub_given[65], salt[16], auth[16], ua_pub2[65];
    unsigned char *out = NULL, plain[4096];
    apr_size_t n = 0;
    const char *err = NULL;
    EVP_PKEY *as = key_of(A_AS_PRIV, as_pub), *ua = key_of(A_UA_PRIV, ua_pub2);

    CHECK(as && ua, "Appendix A's private keys are P-256 scalars");
    CHECK(push_webpush_b64_decode(A_AS_PUBLIC, as_pub_given, 65) && !memcmp(as_pub, as_pub_given, 65),
          "the application server's public key is derived from its private key");
    CHECK(push_webpush_b64_decode(A_UA_PUBLIC, ua_pub, 65) && !memcmp(ua_pub, ua_pub2, 65),
          "the user agent's public key is derived from its private key");
    CHECK(push_webpush_b64_decode(A_SALT, salt, 16) && push_webpush_b64_decode(A_AUTH, auth, 16),
          "salt and auth secret decode to 16 bytes");
    CHECK(push_webpush_encrypt_with(p, ua_pub, auth, salt, as, as_pub, (const unsigned char *)A_PLAIN,
                                    strlen(A_PLAIN), &out, &n, &err),
          "Appendix A's plaintext encrypts");
    CHECK(n == 144, "the message is 144 octets (86 header, 41 + 1 + 16 record)");
    CHECK(eq(b64(p, out, n), A_MESSAGE), "the message is Appendix A's, byte for byte");
    {
        int m = decrypt(ua, ua_pub, auth, out, n, plain);
        CHECK(m == (int)strlen(A_PLAIN) && !memcmp(plain, A_PLAIN, (size_t)m),
              "the user agent's private key decrypts it again");
    }
    EVP_PKEY_free(as);
    EVP_PKEY_free(ua);
}

static void test_random_and_limit(apr_pool_t *p)
{
    push_webpush_sub_t sub;
    unsigned char d[32], *out = NULL, *out2 = NULL, plain[4096], big[PUSH_WEBPUSH_MAX_PLAIN + 1];
    apr_size_t n = 0, n2 = 0;
    const char *err = NULL;
    EVP_PKEY *ua;
    int m;

    CHECK(push_webpush_key_generate(d, sub.p256dh), "a key pair is generated");
    ua = push_webpush_key_from_private(d, plain, &err);
    CHECK(ua && !memcmp(plain, sub.p256dh, 65), "its public point is the one derived from the scalar");
    memset(sub.auth, 7, 16);
    memset(big, 'x', sizeof(big));
    CHECK(push_webpush_encrypt(p, NULL, &sub, big, PUSH_WEBPUSH_MAX_PLAIN, &out, &n, &err),
          "3993 octets of plaintext encrypt");
    CHECK(n == PUSH_WEBPUSH_RECORD, "... into exactly 4096 octets on the wire");
    m = decrypt(ua, sub.p256dh, sub.auth, out, n, plain);
    CHECK(m == PUSH_WEBPUSH_MAX_PLAIN && !memcmp(plain, big, (size_t)m), "... which decrypt again");
    CHECK(push_webpush_encrypt(p, NULL, &sub, big, PUSH_WEBPUSH_MAX_PLAIN, &out2, &n2, &err) &&
              memcmp(out, out2, 16) != 0 && memcmp(out + 21, out2 + 21, 65) != 0,
          "each message has its own salt and ephemeral key");
    err = NULL;
    CHECK(!push_webpush_encrypt(p, NULL, &sub, big, sizeof(big), &out, &n, &err) && eq(err, "too large"),
          "3994 octets are refused: too large");
    {
        /* the derivation itself refuses a browser key off the curve (the import checks it;
         * set_peer's own check is skipped), whatever the registration let through */
        push_webpush_sub_t off = sub;
        EVP_PKEY_CTX *kg = push_webpush_keygen_new();
        CHECK(kg != NULL, "a key generation context");
        CHECK(push_webpush_encrypt(p, kg, &sub, big, 10, &out, &n, &err) &&
                  decrypt(ua, sub.p256dh, sub.auth, out, n, plain) == 10 && !memcmp(plain, big, 10),
              "a message encrypted with a kept key generation context decrypts");
        CHECK(push_webpush_encrypt(p, kg, &sub, big, PUSH_WEBPUSH_MAX_PLAIN, &out2, &n2, &err) &&
                  memcmp(out + 21, out2 + 21, 65) != 0,
              "... and the next message from it has another ephemeral key");
        memset(off.p256dh + 1, 1, 64);
        err = NULL;
        CHECK(!push_webpush_encrypt(p, kg, &off, big, 10, &out, &n, &err) && err,
              "a p256dh off the curve does not encrypt");
        off.p256dh[0] = 0;
        memset(off.p256dh + 1, 0, 64);
        err = NULL;
        CHECK(!push_webpush_encrypt(p, kg, &off, big, 10, &out, &n, &err) && err,
              "nor does the point at infinity");
        EVP_PKEY_CTX_free(kg);
    }
    EVP_PKEY_free(ua);
    memset(d, 0, sizeof(d));
    err = NULL;
    CHECK(!push_webpush_key_from_private(d, plain, &err) && err, "a zero scalar is not a key");
    memset(d, 0xff, sizeof(d));
    CHECK(!push_webpush_key_from_private(d, plain, &err), "a scalar above the group order is not a key");
}

static void test_subscription(apr_pool_t *p)
{
    push_webpush_sub_t s;
    unsigned char *out = NULL;
    apr_size_t n = 0;
    const char *err = NULL;
    const char *good = "{\"endpoint\":\"https://push.example.net/wpush/v2/abc\",\"expirationTime\":null,"
                       "\"keys\":{\"p256dh\":\"" A_UA_PUBLIC "\",\"auth\":\"" A_AUTH "\"}}";
    CHECK(push_webpush_sub_parse(p, good, &s) == NULL && eq(s.endpoint, "https://push.example.net/wpush/v2/abc"),
          "a PushSubscription's JSON is read");
    CHECK(push_webpush_sub_parse(p, "not json", &s) != NULL, "text that is not JSON is refused");
    CHECK(push_webpush_sub_parse(p, "{\"endpoint\":\"http://push.example.net/x\",\"keys\":{\"p256dh\":\"" A_UA_PUBLIC
                                    "\",\"auth\":\"" A_AUTH "\"}}", &s) != NULL,
          "an http endpoint is refused");
    CHECK(push_webpush_sub_parse(p, "{\"endpoint\":\"https://push.example.net/x\"}", &s) != NULL,
          "a subscription without keys is refused");
    CHECK(push_webpush_sub_parse(p, "{\"endpoint\":\"https://push.example.net/x\\u0000.evil\",\"keys\":{\"p256dh\":\""
                                    A_UA_PUBLIC "\",\"auth\":\"" A_AUTH "\"}}", &s) != NULL,
          "an endpoint holding an escaped NUL is refused");
    CHECK(push_webpush_sub_parse(p, "{\"endpoint\":\"https://push.example.net/x\",\"keys\":{\"p256dh\":\""
                                    A_UA_PUBLIC "\\u0000garbage\",\"auth\":\"" A_AUTH "\"}}", &s) != NULL,
          "keys holding an escaped NUL are refused");
    CHECK(push_webpush_keys(A_UA_PUBLIC, "BTBZMqHH6r4Tts7J_aSI", &s) != NULL, "an auth of 15 bytes is refused");
    CHECK(push_webpush_keys(A_AUTH, A_AUTH, &s) != NULL, "a p256dh of 16 bytes is refused");
    {
        /* 65 bytes, 0x04 first, but not on the curve */
        unsigned char bad[65];
        memset(bad, 1, sizeof(bad));
        bad[0] = 4;
        CHECK(push_webpush_keys(b64(p, bad, 65), A_AUTH, &s) != NULL, "a p256dh off the curve is refused");
        CHECK(push_webpush_keys_stored(b64(p, bad, 65), A_AUTH, &s) == NULL,
              "... though read as stored it is not looked at (the encryption refuses it)");
        CHECK(!push_webpush_encrypt(p, NULL, &s, (const unsigned char *)"x", 1, &out, &n, &err) && err,
              "... and it does not encrypt");
    }
    CHECK(push_webpush_keys(A_UA_PUBLIC, A_AUTH "==", &s) == NULL, "padding is accepted");
    CHECK(push_webpush_keys("BCVxsr7N+eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                            A_AUTH, &s) != NULL, "the standard alphabet's + is refused");
}

static void test_vapid(apr_pool_t *p)
{
    unsigned char d[32], pub[65];
    const char *err = NULL, *jwt, *dot1, *dot2;
    EVP_PKEY *k;
    unsigned char sig[64], *der = NULL;
    char *header, *claims;
    json_object *c, *v;
    ECDSA_SIG *s;
    EVP_MD_CTX *md;
    int len, ok;
    apr_size_t hl, cl;

    CHECK(eq(push_webpush_origin(p, "https://FCM.googleapis.com/fcm/send/abc"), "https://fcm.googleapis.com"),
          "the origin of an endpoint: scheme and host, lower case");
    CHECK(eq(push_webpush_origin(p, "https://push.example.net:443/x"), "https://push.example.net"),
          "the default port is left out");
    CHECK(eq(push_webpush_origin(p, "https://127.0.0.1:8443/x?y"), "https://127.0.0.1:8443"),
          "another port is kept");
    CHECK(push_webpush_origin(p, "ftp://x/") == NULL, "ftp has no origin here");

    push_webpush_key_generate(d, pub);
    k = push_webpush_key_from_private(d, pub, &err);
    jwt = push_webpush_jwt(p, k, "https://push.example.net", 1700043200, "mailto:ops@example.net", &err);
    CHECK(jwt != NULL, "a VAPID token is signed");
    dot1 = jwt ? strchr(jwt, '.') : NULL;
    dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    CHECK(dot1 && dot2 && !strchr(dot2 + 1, '.'), "it has three parts");
    if (!dot2) {
        EVP_PKEY_free(k);
        return;
    }
    hl = (apr_size_t)(dot1 - jwt);
    cl = (apr_size_t)(dot2 - dot1 - 1);
    header = apr_palloc(p, hl + 1);
    claims = apr_palloc(p, cl + 1);
    {
        /* decode through the module's decoder: exact lengths are not known, so try them */
        unsigned char buf[512];
        apr_size_t n;
        char *h64 = apr_pstrndup(p, jwt, hl), *c64 = apr_pstrndup(p, dot1 + 1, cl);
        for (n = 1; n < sizeof(buf) && !push_webpush_b64_decode(h64, buf, n); n++)
            ;
        memcpy(header, buf, n);
        header[n] = '\0';
        for (n = 1; n < sizeof(buf) && !push_webpush_b64_decode(c64, buf, n); n++)
            ;
        memcpy(claims, buf, n);
        claims[n] = '\0';
    }
    CHECK(eq(header, "{\"typ\":\"JWT\",\"alg\":\"ES256\"}"), "header {typ JWT, alg ES256}");
    c = json_tokener_parse(claims);
    CHECK(c && json_object_object_get_ex(c, "aud", &v) && eq(json_object_get_string(v), "https://push.example.net"),
          "aud is the origin");
    CHECK(c && json_object_object_get_ex(c, "exp", &v) && json_object_get_int64(v) == 1700043200, "exp as given");
    CHECK(c && json_object_object_get_ex(c, "sub", &v) && eq(json_object_get_string(v), "mailto:ops@example.net"),
          "sub is the subject");
    json_object_put(c);
    CHECK(push_webpush_b64_decode(dot2 + 1, sig, 64), "the signature is 64 bytes (r || s)");
    s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    len = i2d_ECDSA_SIG(s, &der);
    md = EVP_MD_CTX_new();
    ok = len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
         EVP_DigestVerify(md, der, (size_t)len, (const unsigned char *)jwt, (size_t)(dot2 - jwt)) == 1;
    CHECK(ok, "the signature verifies with the public key");
    sig[5] ^= 1;
    ECDSA_SIG_set0(s, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    OPENSSL_free(der);
    der = NULL;
    len = i2d_ECDSA_SIG(s, &der);
    EVP_MD_CTX_free(md);
    md = EVP_MD_CTX_new();
    ok = len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
         EVP_DigestVerify(md, der, (size_t)len, (const unsigned char *)jwt, (size_t)(dot2 - jwt)) == 1;
    CHECK(!ok, "a changed signature does not");
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    EVP_PKEY_free(k);
}

static void test_topic_payload_classify(apr_pool_t *p)
{
    push_webpush_request_t r;
    push_outcome_t o;
    push_private_t priv = {"m-1", "https://chat.example.net"};
    const char *err = NULL, *t;
    json_object *msg, *body;

    CHECK(eq(push_webpush_topic(p, "chat-42_x"), "chat-42_x"), "a short url-safe collapse key is the topic");
    t = push_webpush_topic(p, "room 42: new messages");
    CHECK(t && strlen(t) == 32 && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 32,
          "another key becomes 32 characters of the base64url alphabet");
    CHECK(eq(t, push_webpush_topic(p, "room 42: new messages")), "... the same each time");
    CHECK(strlen(push_webpush_topic(p, "abcdefghijklmnopqrstuvwxyz0123456789")) == 32, "a long key is hashed too");
    CHECK(push_webpush_topic(p, "") == NULL, "no topic for an empty key");

    msg = json_tokener_parse("{\"message\":{\"alert\":\"Hi\"},\"priority\":\"high\",\"collapseKey\":\"c1\","
                             "\"settings\":{\"apns\":{\"title\":\"T-apns\"},\"webpush\":{\"title\":\"T\",\"icon\":"
                             "\"https://x/i.png\",\"url\":\"https://x/\",\"payload\":{\"k\":1}}}}");
    CHECK(push_webpush_map(p, msg, "m-1", NULL, &r, &err), "a message maps");
    body = json_tokener_parse(r.body);
    CHECK(eq(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
             "{\"alert\":\"Hi\",\"title\":\"T\",\"icon\":\"https://x/i.png\",\"url\":\"https://x/\","
             "\"payload\":{\"k\":1},\"messageId\":\"m-1\"}"),
          "alert, title, icon, url, payload and messageId");
    CHECK(eq(r.urgency, "high") && eq(r.topic, "c1"), "Urgency from priority, Topic from collapseKey");
    json_object_put(body);
    CHECK(push_webpush_map(p, msg, "m-1", &priv, &r, &err) && strstr(r.body, "\"ejson\"") && !strstr(r.body, "Hi"),
          "privacy mode carries no text");
    json_object_put(msg);
    msg = json_tokener_parse("{\"message\":{\"alert\":\"Hi\"},\"settings\":{\"apns\":{\"title\":\"T-apns\"},"
                             "\"gcm\":{\"payload\":{\"g\":true}}}}");
    CHECK(push_webpush_map(p, msg, "m-2", NULL, &r, &err) && strstr(r.body, "\"title\":\"T-apns\"") &&
              strstr(r.body, "\"payload\":{\"g\":true}") && !r.urgency && !r.topic,
          "title and payload fall back to settings.apns / settings.gcm");
    json_object_put(msg);
    msg = json_tokener_parse("{\"message\":{},\"settings\":{}}");
    CHECK(!push_webpush_map(p, msg, "m-3", NULL, &r, &err) && eq(err, "empty"), "nothing to show: empty");
    json_object_put(msg);
    msg = json_tokener_parse("{\"message\":{\"alert\":\"Hi\"},\"settings\":{\"webpush\":{\"icon\":7}}}");
    CHECK(!push_webpush_map(p, msg, "m-4", NULL, &r, &err) && eq(err, "settings.webpush.icon"),
          "a field of the wrong type is named");
    json_object_put(msg);
    {
        char *big = apr_palloc(p, 5000);
        memset(big, 'a', 4000);
        strcpy(big + 4000, "");
        msg = json_object_new_object();
        body = json_object_new_object();
        json_object_object_add(body, "alert", json_object_new_string(big));
        json_object_object_add(msg, "message", body);
        CHECK(!push_webpush_map(p, msg, "m-5", NULL, &r, &err) && eq(err, "too large"),
              "a payload over 3993 octets: too large");
        json_object_put(msg);
    }

    push_classify_webpush(p, 201, NULL, &o);
    CHECK(o.kind == PUSH_OUT_SENT, "201 sent");
    push_classify_webpush(p, 410, NULL, &o);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE && eq(o.reason, "HTTP 410"), "410 the subscription is gone");
    push_classify_webpush(p, 404, NULL, &o);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE, "404 too");
    push_classify_webpush(p, 413, NULL, &o);
    CHECK(o.kind == PUSH_OUT_MESSAGE_BAD, "413 the message is bad");
    push_classify_webpush(p, 429, "7", &o);
    CHECK(o.kind == PUSH_OUT_RETRY && o.retry_after == 7, "429 retries after Retry-After");
    push_classify_webpush(p, 503, NULL, &o);
    CHECK(o.kind == PUSH_OUT_RETRY && o.retry_after == -1, "503 retries");
    push_classify_webpush(p, 0, NULL, &o);
    CHECK(o.kind == PUSH_OUT_RETRY && eq(o.reason, "no answer"), "no answer retries");
    push_classify_webpush(p, 403, NULL, &o);
    CHECK(o.kind == PUSH_OUT_MESSAGE_BAD, "403 (another VAPID key) is not retried");
}

/* bench/delivery: the cost of one message's encryption (new key, ECDH, HKDF, GCM). */
static int bench(apr_pool_t *p, int n)
{
    push_webpush_sub_t sub;
    unsigned char d[32], *out;
    apr_size_t len;
    const char *err;
    const char plain[] = "{\"alert\":\"benchmark message\",\"title\":\"mod_push\",\"messageId\":"
                         "\"0b9f5e0e-7c1d-4a57-9d0c-3f0f6f5d2a11\"}";
    apr_time_t t0;
    EVP_PKEY_CTX *kg = push_webpush_keygen_new();   /* as each sender worker keeps one */
    push_webpush_key_generate(d, sub.p256dh);
    memset(sub.auth, 3, sizeof(sub.auth));
    t0 = apr_time_now();
    for (int i = 0; i < n; i++) {
        apr_pool_t *q;
        apr_pool_create(&q, p);
        if (!push_webpush_encrypt(q, kg, &sub, (const unsigned char *)plain, sizeof(plain) - 1, &out, &len, &err))
            return 1;
        apr_pool_destroy(q);
    }
    printf("encrypt %d messages of %d octets: %.1f us each\n", n, (int)(sizeof(plain) - 1),
           (double)(apr_time_now() - t0) / n);
    EVP_PKEY_CTX_free(kg);
    return 0;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    int rc = 0;
    apr_initialize();
    apr_pool_create(&p, NULL);
    if (argc > 2 && strcmp(argv[1], "bench") == 0) {
        rc = bench(p, atoi(argv[2]) > 0 ? atoi(argv[2]) : 1000);
        apr_pool_destroy(p);
        apr_terminate();
        return rc;
    }
    test_rfc8291(p);
    test_random_and_limit(p);
    test_subscription(p);
    test_vapid(p);
    test_topic_payload_classify(p);
    apr_pool_destroy(p);
    apr_terminate();
    UNIT_DONE();
}
