#include "service/session.h"

#include "apr_strings.h"

#include "config.h"
#include "core/token.h"
#include "store/store.h"

push_status_t push_auth_session(request_rec *r, const char *token, apr_size_t len,
                                push_principal_t *out)
{
    const char *hash, *user_id = NULL;
    push_db_t *db;
    push_status_t rv;

    memset(out, 0, sizeof(*out));
    if (push_conf_session_source(r) == PUSH_SESSION_REMOTE_USER) {
        if (!r->user || !*r->user)
            return PUSH_NOTFOUND;
        out->user_id = r->user;
        out->session_key = push_token_hash(r->pool, r->user, strlen(r->user));
        return PUSH_OK;
    }
    if (!token || len == 0)
        return PUSH_NOTFOUND;
    if (!(hash = push_token_hash(r->pool, token, len)))
        return PUSH_EUNAVAIL;
    if ((rv = push_db_acquire(r, &db)) != PUSH_OK)
        return rv;
    if (push_conf_session_source(r) == PUSH_SESSION_SQL)
        rv = push_store_session_sql(db, push_conf_session_label(r), token, &user_id);
    else
        rv = push_store_session_user(db, hash, push_conf_app_id(r), &user_id);
    if (rv != PUSH_OK)
        return rv;
    out->user_id = user_id;
    out->session_key = hash;
    if (push_conf_session_source(r) == PUSH_SESSION_BUILTIN)
        out->session_ref = hash;
    return PUSH_OK;
}
