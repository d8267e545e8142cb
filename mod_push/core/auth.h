/* Sessions of the host application, for the user-facing dialects (Layer, Navixy,
 * Rocket.Chat). The source is per location (PushSessionSource): the built-in
 * push_session table, an operator's SQL through mod_dbd, or r->user. */
#ifndef PUSH_AUTH_H
#define PUSH_AUTH_H

#include "httpd.h"
#include "core/status.h"

typedef struct {
    const char *user_id;
    /* The stored hash of a built-in session (devices remember it, so that they stop
     * receiving pushes when the session ends); NULL for the other sources. */
    const char *session_ref;
    /* Stable per session whatever the source: for dialects that bind one token to a
     * session (Navixy). Never the raw token. */
    const char *session_key;
} push_principal_t;

/* Resolves token (may be NULL with remote-user) for the location's application.
 * PUSH_NOTFOUND: no live session. */
push_status_t push_auth_session(request_rec *r, const char *token, apr_size_t len,
                                push_principal_t *out);

/* A session was refused (the dialect answers 401): the first time in this process for
 * an application of the configuration, whether it exists at all, since a PushApplication
 * naming none refuses every built-in session; logged once (PUSH0015). */
void push_auth_refused(request_rec *r);

#endif
