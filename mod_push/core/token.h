/* Secrets handed to callers (session tokens, client secrets, nonces) and the
 * one-way form in which they are stored. Never store what push_token_new returns. */
#ifndef PUSH_TOKEN_H
#define PUSH_TOKEN_H

#include <apr_pools.h>

/* nbytes random bytes from OpenSSL's CSPRNG as lower-case hex (2*nbytes chars),
 * or NULL when the generator fails. */
char *push_token_new(apr_pool_t *p, apr_size_t nbytes);

/* The stored form of a secret: lower-case hex SHA-256 (64 chars). */
char *push_token_hash(apr_pool_t *p, const char *secret, apr_size_t len);

/* A record id as Meteor (and so Rocket.Chat) makes them: 17 characters of
 * [2-9A-HJ-NP-Za-km-z] without the look-alikes. NULL when the generator fails. */
char *push_token_meteor_id(apr_pool_t *p);

#endif
