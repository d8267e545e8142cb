#include "service/session.h"

#include "apr_atomic.h"
#include "apr_strings.h"

#include "config.h"
#include "core/token.h"
#include "core/validate.h"
#include "log.h"
#include "store/store.h"

push_status_t push_auth_session(request_rec *r, const char *token, apr_size_t len,
                                push_principal_t *out)
{
    const char *hash, *user_id = NULL;
    push_db_t *db;
    push_status_t rv;

    memset(out, 0, sizeof(*out));
    if (push_conf_session_source(r) == PUSH_SESSION_REMOTE_USER) {
        /* the user id is stored as text: one that is not UTF-8 (or holds control
         * characters) names no user mod_push can register devices for */
        if (!r->user || !*r->user || !push_valid_utf8(r->user, strlen(r->user)) ||
            !push_valid_id(r->user, strlen(r->user), PUSH_MAX_ID))
            return PUSH_NOTFOUND;
        out->user_id = r->user;
        out->session_key = push_token_hash(r->pool, r->user, strlen(r->user));
        return PUSH_OK;
    }
    if (!token || len == 0)
        return PUSH_NOTFOUND;
    if (!(hash = push_token_hash(r->pool, token, len)))
        return PUSH_EUNAVAIL;
    if (push_conf_session_source(r) == PUSH_SESSION_SQL && !push_valid_utf8(token, len))
        return PUSH_NOTFOUND;   /* the configured query takes it as text */
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

void push_auth_refused(request_rec *r)
{
    push_conf_app_t *a;
    push_db_t *db;
    int enabled;
    if (push_conf_session_source(r) != PUSH_SESSION_BUILTIN)
        return;
    a = push_conf_app_find(push_conf_app_id(r));
    if (!a || apr_atomic_read32(&a->checked) || apr_atomic_cas32(&a->checked, 1, 0) != 0)
        return;
    if (push_db_acquire(r, &db) == PUSH_OK &&
        push_store_app_get(db, a->app_id, &enabled) == PUSH_NOTFOUND)
        PUSH_RLOG(APLOG_WARNING, 0, r, "PUSH0015", "PushApplication %s (%s:%d) is not in the database: "
                  "%s refuses every session until it is created (pushctl app add %s)",
                  a->app_id, a->file, a->line, r->uri, a->app_id);
    apr_atomic_set32(&a->checked, 2);
}
