/* OAuth 2 client credentials for the MobileFirst dialect: issuing access tokens to
 * confidential clients and resolving bearer tokens. Tokens and secrets are stored only
 * as SHA-256 hashes. */
#ifndef PUSH_SERVICE_OAUTH_H
#define PUSH_SERVICE_OAUTH_H

#include "httpd.h"
#include "core/status.h"

typedef enum {
    PUSH_OAUTH_OK = 0,
    PUSH_OAUTH_INVALID_CLIENT,   /* unknown client or wrong secret */
    PUSH_OAUTH_INVALID_SCOPE,    /* asked for more than the client may have */
    PUSH_OAUTH_UNAVAILABLE       /* the store could not answer */
} push_oauth_result_t;

typedef struct {
    const char *access_token;    /* shown once, never stored */
    const char *scope;           /* what was granted */
    int expires_in;
    const char *bad_scope;       /* with PUSH_OAUTH_INVALID_SCOPE */
} push_oauth_grant_t;

/* Authenticates client_id/secret (httpd.conf clients first, then the store) and issues
 * a token for scope (NULL or empty: everything the client may have). */
push_oauth_result_t push_oauth_issue(request_rec *r, const char *client_id, const char *secret,
                                     const char *scope, push_oauth_grant_t *out);

/* The granted scopes of a live bearer token; PUSH_NOTFOUND when unknown or expired. */
push_status_t push_oauth_token_scopes(request_rec *r, const char *token, const char **scopes);

#endif
