/* The signed tokens the sender presents: APNs provider tokens (ES256 with the team's .p8
 * key), Google service-account assertions (RS256, exchanged for an FCM access token),
 * and the HMAC-SHA256 that signs webhook bodies. No httpd headers; OpenSSL signs and
 * json-c writes the JSON. */
#ifndef PUSH_JWT_H
#define PUSH_JWT_H

#include <apr_pools.h>
#include <openssl/evp.h>

/* base64url without padding (RFC 7515 section 2) of n bytes. Returns 1 and *out, or 0
 * when n is too large to encode. */
int push_b64url(apr_pool_t *p, const unsigned char *in, apr_size_t n, const char **out);

/* Reads an unencrypted PEM private key (PKCS#8 or traditional; EC or RSA) of n bytes.
 * Returns the key, which the caller frees with EVP_PKEY_free, or NULL and *error. An
 * encrypted key is refused, never prompted for. */
EVP_PKEY *push_pem_private_key(const char *pem, apr_size_t n, const char **error);

/* An APNs provider token: header {"alg":"ES256","kid":kid}, claims {"iss":iss,"iat":iat},
 * signed with key (EC P-256) and the signature in JOSE's raw r||s form. Returns the
 * compact JWT, or NULL and *error (empty kid or iss, another kind of key, OpenSSL
 * failure). */
const char *push_jwt_es256(apr_pool_t *p, EVP_PKEY *key, const char *kid, const char *iss,
                           apr_int64_t iat, const char **error);

/* A JWT {"typ":"JWT","alg":"ES256"} over claims (which it releases), signed with key
 * (EC P-256), the signature as raw r||s: Web Push's VAPID tokens. NULL and *error
 * otherwise. */
struct json_object;
const char *push_jwt_es256_claims(apr_pool_t *p, EVP_PKEY *key, struct json_object *claims,
                                  const char **error);

/* A service-account assertion for Google's token endpoint: header
 * {"alg":"RS256","typ":"JWT"}, claims {"iss","scope","aud","iat","exp"}, signed with key
 * (RSA). Returns the compact JWT, or NULL and *error. */
const char *push_jwt_rs256(apr_pool_t *p, EVP_PKEY *key, const char *iss, const char *scope,
                           const char *aud, apr_int64_t iat, apr_int64_t exp,
                           const char **error);

/* HMAC-SHA256 of data (n bytes) under key (keylen bytes, may be 0) as 64 lower-case hex
 * digits, or NULL if OpenSSL fails. */
const char *push_hmac_sha256_hex(apr_pool_t *p, const unsigned char *key, apr_size_t keylen,
                                 const char *data, apr_size_t n);

#endif
