#include "core/auth.h"

#include "apr_atomic.h"
#include "apr_strings.h"

#include "config.h"
#include "core/token.h"
#include "dbd.h"
#include "log.h"
#include "store/store.h"

typedef struct {
    const char *app_id, *label, *token, *hash;
    const char *user_id;
} lookup_t;

static push_status_t lookup_builtin(push_db_t *db, void *ctx)
{
    lookup_t *l = ctx;
    return push_store_session_user(db, l->hash, l->app_id, &l->user_id);
}

static push_status_t app_exists(push_db_t *db, void *ctx)
{
    int enabled;
    return push_store_app_get(db, ctx, &enabled);
}

void push_auth_refused(request_rec *r)
{
    push_conf_app_t *a;
    if (push_conf_session_source(r) != PUSH_SESSION_BUILTIN)
        return;
    a = push_conf_app_find(push_conf_app_id(r));
    if (!a || apr_atomic_read32(&a->checked) || apr_atomic_cas32(&a->checked, 1, 0) != 0)
        return;
    if (push_db_with(r, app_exists, (void *)a->app_id) == PUSH_NOTFOUND)
        PUSH_RLOG(APLOG_WARNING, 0, r, "PUSH0015", "PushApplication %s (%s:%d) is not in the database: "
                  "%s refuses every session until it is created (pushctl app add %s)",
                  a->app_id, a->file, a->line, r->uri, a->app_id);
    apr_atomic_set32(&a->checked, 2);
}

static push_status_t lookup_sql(push_db_t *db, void *ctx)
{
    lookup_t *l = ctx;
    return push_store_session_sql(db, l->label, l->token, &l->user_id);
}

push_status_t push_auth_session(request_rec *r, const char *token, apr_size_t len,
                                push_principal_t *out)
{
    lookup_t l = {push_conf_app_id(r), push_conf_session_label(r), token, NULL, NULL};
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
    l.hash = push_token_hash(r->pool, token, len);
    if (!l.hash)
        return PUSH_EUNAVAIL;
    rv = push_db_with(r, push_conf_session_source(r) == PUSH_SESSION_SQL ? lookup_sql
                                                                         : lookup_builtin, &l);
    if (rv != PUSH_OK)
        return rv;
    out->user_id = l.user_id;
    out->session_key = l.hash;
    if (push_conf_session_source(r) == PUSH_SESSION_BUILTIN)
        out->session_ref = l.hash;
    return PUSH_OK;
}
