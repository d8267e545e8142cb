#include "store/statements.h"
#include "store/store.h"

#include <apr_strings.h>

push_status_t push_store_device_register(push_db_t *db, const push_device_t *d, int limit,
                                         int *created)
{
    const char *args[] = {
        d->app_id, d->device_id, d->platform, d->token, d->user_id, d->family, d->session_ref,
        d->category_filter, d->categories ? d->categories : "{}",
        d->categories_exclude ? "true" : "false", d->extra ? d->extra : "{}", d->user_agent,
        apr_itoa(db->pool, limit)};
    apr_dbd_results_t *res;
    const char *v;
    push_status_t rv = push_db_select(db, PUSH_ST_DEVICE_REGISTER, &res, 13, args);
    if (rv != PUSH_OK)
        return rv;
    v = push_db_first_value(db, res);
    if (!v)
        return PUSH_EFORBIDDEN; /* NULL: another user's device or token */
    *created = v[0] == 't';
    return PUSH_OK;
}

push_status_t push_store_device_delete(push_db_t *db, const char *app_id, const char *device_id,
                                       const char *user_id)
{
    const char *args[] = {app_id, device_id, user_id};
    int n;
    push_status_t rv = push_db_exec(db, PUSH_ST_DEVICE_DELETE, &n, 3, args);
    if (rv != PUSH_OK)
        return rv;
    return n > 0 ? PUSH_OK : PUSH_NOTFOUND;
}

push_status_t push_store_session_register(push_db_t *db, const char *token_hash,
                                          const push_device_t *d, int bind, int limit,
                                          const char **user_id)
{
    const char *args[] = {
        token_hash, d->app_id, d->device_id, d->platform, d->token, d->family,
        bind ? "true" : "false", d->category_filter, d->categories ? d->categories : "{}",
        d->categories_exclude ? "true" : "false", d->extra ? d->extra : "{}", d->user_agent,
        apr_itoa(db->pool, limit)};
    apr_dbd_results_t *res;
    apr_dbd_row_t *row = NULL;
    const char *registered;
    push_status_t rv = push_db_select(db, PUSH_ST_SESSION_REGISTER, &res, 13, args);
    if (rv != PUSH_OK)
        return rv;
    *user_id = NULL;
    if (apr_dbd_get_row(db->driver, db->pool, res, &row, 1) != 0)
        return PUSH_EDB;
    *user_id = push_db_col(db, row, 0);
    registered = push_db_col(db, row, 1);
    if (!*user_id)
        return PUSH_NOTFOUND;
    return registered && registered[0] == 't' ? PUSH_OK : PUSH_EFORBIDDEN;
}

push_status_t push_store_rocketchat_register(push_db_t *db, const push_device_t *d, const char *id,
                                             const char *new_id, const char *app_name,
                                             const char *voip_token, int limit, push_rc_record_t *out)
{
    const char *args[] = {d->app_id, id, new_id, d->platform, d->token, app_name, d->user_id,
                          d->session_ref, d->user_agent, voip_token, apr_itoa(db->pool, limit)};
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    push_status_t rv = push_db_select(db, PUSH_ST_RC_REGISTER, &res, 11, args);
    if (rv != PUSH_OK)
        return rv;
    /* no row: the record or the token is another user's */
    if (!(row = push_db_row(db, res, 1)))
        return PUSH_EFORBIDDEN;
    out->id = push_db_col(db, row, 0);
    out->created_at = push_db_col(db, row, 1);
    out->updated_at = push_db_col(db, row, 2);
    out->voip_token = push_db_col(db, row, 3);
    return PUSH_OK;
}

push_status_t push_store_rocketchat_delete(push_db_t *db, const char *app_id, const char *token,
                                           const char *user_id)
{
    const char *args[] = {app_id, token, user_id};
    int n;
    push_status_t rv = push_db_exec(db, PUSH_ST_RC_DELETE, &n, 3, args);
    return rv != PUSH_OK ? rv : n > 0 ? PUSH_OK : PUSH_NOTFOUND;
}
