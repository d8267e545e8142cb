#include "store/statements.h"
#include "store/store.h"

#include <stdlib.h>

push_status_t push_store_schema_version(push_db_t *db, int *version)
{
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, PUSH_ST_SCHEMA_VERSION, &res, 0, NULL);
    const char *v;
    if (rv != PUSH_OK)
        return rv;
    v = push_db_first_value(db, res);
    *version = v ? atoi(v) : 0;
    return PUSH_OK;
}

static push_status_t user_from(push_db_t *db, push_status_t rv, apr_dbd_results_t *res,
                               const char **user_id)
{
    if (rv != PUSH_OK)
        return rv;
    *user_id = push_db_first_value(db, res);
    return *user_id && **user_id ? PUSH_OK : PUSH_NOTFOUND;
}

push_status_t push_store_session_user(push_db_t *db, const char *token_hash,
                                      const char *app_id, const char **user_id)
{
    const char *args[] = {token_hash, app_id};
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, PUSH_ST_SESSION_USER, &res, 2, args);
    return user_from(db, rv, res, user_id);
}

push_status_t push_store_session_sql(push_db_t *db, const char *label, const char *token,
                                     const char **user_id)
{
    const char *args[] = {token};
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, label, &res, 1, args);
    return user_from(db, rv, res, user_id);
}
