/* Provider credentials at rest (APNs .p12 and its password, APNs .p8, FCM service
 * account JSON, WNS client secret): sealed with AES-256-GCM under the operator's key
 * (PushSecretKey FILE) before they reach push_credential.secret, plus the checks that
 * an APNs key is usable before it is stored (the .p12 checks are in p12.h). No httpd
 * headers; OpenSSL does the crypto. */
#ifndef PUSH_SECRET_H
#define PUSH_SECRET_H

#include <apr_pools.h>

#define PUSH_SECRET_KEY_LEN   32  /* AES-256 */
#define PUSH_SECRET_VERSION   1   /* first byte of every sealed value */
#define PUSH_SECRET_NONCE_LEN 12
#define PUSH_SECRET_TAG_LEN   16
/* What sealing adds to a plaintext: version byte, nonce and tag. */
#define PUSH_SECRET_OVERHEAD  (1 + PUSH_SECRET_NONCE_LEN + PUSH_SECRET_TAG_LEN)

/* 32 key bytes and a short id; wiped when its pool is destroyed. */
typedef struct push_secret_key push_secret_key_t;

/* Loads a key file holding exactly 32 raw bytes, or 64 hex digits, or 44 characters of
 * standard base64; the text forms may end in one newline. Returns NULL and sets *error
 * (naming the file and the problem) on failure. A file that group or others may
 * access is still loaded, with *warning saying so (else *warning is NULL; warning may
 * be NULL). */
push_secret_key_t *push_secret_key_load(apr_pool_t *p, const char *path, const char **error,
                                        const char **warning);

/* A key from 32 raw bytes (tests, pushctl). */
push_secret_key_t *push_secret_key_from_bytes(apr_pool_t *p, const unsigned char *key32);

/* 16 hex digits derived one-way from the key: lets an operator tell keys apart in logs
 * and pushctl output without revealing them. */
const char *push_secret_key_id(const push_secret_key_t *k);

/* Seals plain (n bytes) into *out: version (1) | 12-byte random nonce | ciphertext |
 * 16-byte tag, *outlen = n + PUSH_SECRET_OVERHEAD. aad (NULL counts as "") is
 * authenticated, not stored: bind the value to its row, e.g. "app_id/provider", so
 * that it cannot be copied to another one. Returns 1, or 0 if OpenSSL fails. */
int push_secret_seal(apr_pool_t *p, const push_secret_key_t *k, const unsigned char *plain,
                     apr_size_t n, const char *aad, unsigned char **out, apr_size_t *outlen);

/* Opens what push_secret_seal made with the same key and aad. Returns 1 with *plain
 * (NUL-terminated for convenience, *plainlen without it), or 0 and *error for a short
 * value, an unknown version, or anything that fails authentication (wrong key, wrong
 * aad, altered bytes). */
int push_secret_open(apr_pool_t *p, const push_secret_key_t *k, const unsigned char *sealed,
                     apr_size_t n, const char *aad, unsigned char **plain, apr_size_t *plainlen,
                     const char **error);

/* PostgreSQL's hex text form of bytea ("\x" then lower-case hex), which is how the
 * store binds and reads bytea. */
const char *push_bytea_encode(apr_pool_t *p, const unsigned char *b, apr_size_t n);

/* The reverse: "\x" and an even number of hex digits (either case), nothing else.
 * Returns 1 with *b (n bytes), or 0. The escape form (bytea_output = 'escape') is
 * refused. */
int push_bytea_decode(apr_pool_t *p, const char *text, unsigned char **b, apr_size_t *n);

/* What a stored secret is sealed to (its aad): the row it lives in, so that a sealed
 * value copied to another application, provider or webhook does not open there. The
 * settings API seals and the sender opens with these, never with strings of their own. */
const char *push_secret_aad_credential(apr_pool_t *p, const char *app_id, const char *provider);
const char *push_secret_aad_webhook(apr_pool_t *p, const char *app_id, const char *name);

/* push_secret_seal of a NUL-terminated plain text, as the bytea text the store binds;
 * NULL when OpenSSL fails. */
const char *push_secret_seal_text(apr_pool_t *p, const push_secret_key_t *k, const char *plain,
                                  const char *aad);

/* push_secret_open of a value as the store reads it (bytea text). Returns 1 with *plain
 * (NUL-terminated) and *plainlen, or 0 and *error (also for text that is not bytea). */
int push_secret_open_text(apr_pool_t *p, const push_secret_key_t *k, const char *text,
                          const char *aad, unsigned char **plain, apr_size_t *plainlen,
                          const char **error);

/* Checks an APNs auth key (.p8): an unencrypted PEM private key on P-256. Returns 1,
 * or 0 and *error. */
int push_p8_check(apr_pool_t *p, const char *pem, apr_size_t n, const char **error);

#endif
