/* Web Push without httpd: a browser's subscription read and checked, the application's
 * VAPID key pair (RFC 8292), the aes128gcm record that carries the payload (RFC 8291,
 * RFC 8188), the VAPID token, the RFC 8030 headers and the classification of the push
 * service's answer. Shared by the MobileFirst settings and registry (keys and
 * subscriptions checked at the door), the sender (webpush.c) and the unit tests.
 * OpenSSL does every cryptographic step; json-c reads and writes the JSON. */
#ifndef PUSH_WEBPUSH_CORE_H
#define PUSH_WEBPUSH_CORE_H

#include <apr_pools.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "sender/classify.h"
#include "sender/payload.h"

#define PUSH_WEBPUSH_POINT      65     /* an uncompressed P-256 point: 0x04 || x || y */
#define PUSH_WEBPUSH_AUTH       16     /* the subscription's auth secret */
#define PUSH_WEBPUSH_SALT       16
#define PUSH_WEBPUSH_SCALAR     32     /* a P-256 private key */
#define PUSH_WEBPUSH_RECORD     4096   /* rs, and the most octets one message may take */
#define PUSH_WEBPUSH_HEADER     (PUSH_WEBPUSH_SALT + 4 + 1 + PUSH_WEBPUSH_POINT)   /* 86 */
/* what fits in one record: the header, the padding delimiter and the GCM tag aside */
#define PUSH_WEBPUSH_MAX_PLAIN  (PUSH_WEBPUSH_RECORD - PUSH_WEBPUSH_HEADER - 1 - 16)  /* 3993 */
#define PUSH_WEBPUSH_TOPIC_MAX  32
#define PUSH_WEBPUSH_TTL_MAX    2419200  /* four weeks when the message does not expire */
#define PUSH_WEBPUSH_JWT_LIFE   (12 * 3600)   /* VAPID tokens live 12 h (RFC 8292: at most 24 h) */

/* A browser's PushSubscription. */
typedef struct {
    const char *endpoint;
    unsigned char p256dh[PUSH_WEBPUSH_POINT];
    unsigned char auth[PUSH_WEBPUSH_AUTH];
} push_webpush_sub_t;

/* base64url (padding optional) that decodes to exactly n bytes into out; 1 or 0. */
int push_webpush_b64_decode(const char *s, unsigned char *out, apr_size_t n);

/* Checks the keys (p256dh a point on P-256, auth 16 bytes, both base64url) into sub; NULL
 * or what is wrong. */
const char *push_webpush_keys(const char *p256dh, const char *auth, push_webpush_sub_t *sub);

/* Reads the JSON text of a PushSubscription {"endpoint", "keys": {"p256dh", "auth"}}
 * (other members, such as expirationTime, are ignored). Only the form is checked here:
 * an https endpoint; the egress guard judges its host. NULL or what is wrong. */
const char *push_webpush_sub_parse(apr_pool_t *p, const char *json, push_webpush_sub_t *sub);

/* The same for what the registration checked and stored, read by the sender: all but the
 * point's place on the curve, which push_webpush_encrypt's import of it checks (and
 * refuses). */
const char *push_webpush_keys_stored(const char *p256dh, const char *auth, push_webpush_sub_t *sub);
const char *push_webpush_sub_stored(apr_pool_t *p, const char *json, push_webpush_sub_t *sub);

/* A VAPID key from its private scalar (32 bytes): the key, which the caller frees with
 * EVP_PKEY_free, and its public point into pub; NULL and *error when d is not a
 * scalar of P-256 (0, or not below the group order). */
EVP_PKEY *push_webpush_key_from_private(const unsigned char d[PUSH_WEBPUSH_SCALAR],
                                        unsigned char pub[PUSH_WEBPUSH_POINT], const char **error);

/* A fresh P-256 key pair: the private scalar and the public point. 1 or 0. */
int push_webpush_key_generate(unsigned char d[PUSH_WEBPUSH_SCALAR], unsigned char pub[PUSH_WEBPUSH_POINT]);

/* The aes128gcm message for the subscription's keys ua_public and auth: one record of
 * plain (at most PUSH_WEBPUSH_MAX_PLAIN octets), encrypted under a key agreed between
 * as_key (the sender's ephemeral P-256 key; its public point as_public goes into the
 * header) and ua_public, with salt. This is the pure step, so RFC 8291's example can be
 * checked with its own salt and key. Returns 1 with *out (in p) and *out_len, or 0 and
 * *error. */
int push_webpush_encrypt_with(apr_pool_t *p, const unsigned char ua_public[PUSH_WEBPUSH_POINT],
                              const unsigned char auth[PUSH_WEBPUSH_AUTH],
                              const unsigned char salt[PUSH_WEBPUSH_SALT], EVP_PKEY *as_key,
                              const unsigned char as_public[PUSH_WEBPUSH_POINT],
                              const unsigned char *plain, apr_size_t n, unsigned char **out,
                              apr_size_t *out_len, const char **error);

/* A context that generates P-256 keys, for push_webpush_encrypt (made once and kept by a
 * thread: EVP_PKEY_Q_keygen looks the algorithm up and parses its parameters for every
 * key, 10 of the 72 us an encryption took). NULL when OpenSSL fails. Free with
 * EVP_PKEY_CTX_free; not to be shared between threads. */
EVP_PKEY_CTX *push_webpush_keygen_new(void);

/* The same with a random salt and a new ephemeral key, as every message must have, made
 * with keygen (from push_webpush_keygen_new; NULL: a context for this key alone). */
int push_webpush_encrypt(apr_pool_t *p, EVP_PKEY_CTX *keygen, const push_webpush_sub_t *sub,
                         const unsigned char *plain, apr_size_t n, unsigned char **out,
                         apr_size_t *out_len, const char **error);

/* The origin of an endpoint, as the VAPID audience: scheme://host[:port], lower case, the
 * port only when it is not the scheme's default. NULL when url is not one. */
const char *push_webpush_origin(apr_pool_t *p, const char *url);

/* A VAPID token: header {"typ":"JWT","alg":"ES256"}, claims {"aud": origin, "exp": exp,
 * "sub": subject}, signed with key (P-256). NULL and *error otherwise. */
const char *push_webpush_jwt(apr_pool_t *p, EVP_PKEY *key, const char *origin, apr_int64_t exp,
                             const char *subject, const char **error);

/* RFC 8030's Topic for a collapse key: the key itself when it is 1 to 32 characters of
 * the base64url alphabet, else the first 32 characters of base64url(SHA-256(key)), so
 * that one collapse key always gives one topic. NULL for an empty key. */
const char *push_webpush_topic(apr_pool_t *p, const char *collapse_key);

/* A message mapped for Web Push: the JSON text the browser's service worker reads, and
 * the headers that do not depend on the device. */
typedef struct {
    const char *body;          /* JSON text */
    apr_size_t body_len;
    const char *urgency;       /* "high" | "normal", or NULL (the push service's default) */
    const char *topic;         /* or NULL */
} push_webpush_request_t;

/* Maps msg: {"alert": message.alert, "title", "icon", "url", "payload": {...},
 * "messageId": id}; title from settings.webpush.title, else settings.apns.title; icon
 * and url from settings.webpush; payload from settings.webpush.payload, else
 * settings.gcm.payload, else settings.apns.payload. Absent values are left out.
 * priv non-NULL (privacy mode): {"alert": PUSH_PRIVATE_ALERT, "messageId", "ejson"}.
 * Urgency from the message's priority; Topic from collapseKey (else
 * settings.gcm.collapseKey). Returns 1 and *out, or 0 and *error: a field of the wrong
 * type, nothing to show ("empty"), or more than PUSH_WEBPUSH_MAX_PLAIN octets ("too
 * large"). */
int push_webpush_map(apr_pool_t *p, json_object *msg, const char *message_id,
                     const push_private_t *priv, push_webpush_request_t *out, const char **error);

/* The push service's answer: 2xx sent; 404 and 410 the subscription is gone; 0, 408,
 * 429 (honouring Retry-After) and 5xx retry; 413 and anything else the message is bad
 * (401/403: the VAPID key does not match the one the browser subscribed with, which no
 * retry mends). Reasons: "HTTP <status>", or "no answer". */
void push_classify_webpush(apr_pool_t *p, long status, const char *retry_after, push_outcome_t *o);

#endif
