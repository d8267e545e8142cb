/* The queries of the MobileFirst dialect's registry: applications, devices, tags and
 * subscriptions (the lists are in lists.c). */
#include "store/statements.h"
#include "store/store.h"

#include <apr_strings.h>

const char *push_db_col(push_db_t *db, apr_dbd_row_t *row, int i)
{
    /* apr_dbd_get_entry gives "" for SQL NULL on pgsql; datum_get tells them apart */
    char *v = NULL;
    if (apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING, &v) != APR_SUCCESS || !v)
        return NULL;
    return apr_pstrdup(db->pool, v);
}

/* The first row of a select, or PUSH_NOTFOUND. */
static push_status_t first_row(push_db_t *db, const char *label, int nargs, const char **args,
                               apr_dbd_row_t **row)
{
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, label, &res, nargs, args);
    if (rv != PUSH_OK)
        return rv;
    *row = NULL;
    return apr_dbd_get_row(db->driver, db->pool, res, row, 1) == 0 ? PUSH_OK : PUSH_NOTFOUND;
}

/* A statement that changes rows: PUSH_NOTFOUND when it changed none. */
static push_status_t changed(push_db_t *db, const char *label, int nargs, const char **args)
{
    int n;
    push_status_t rv = push_db_exec(db, label, &n, nargs, args);
    return rv != PUSH_OK ? rv : n > 0 ? PUSH_OK : PUSH_NOTFOUND;
}

push_status_t push_store_token_app(push_db_t *db, const char *token_hash, const char *app_id,
                                   const char **scopes, const char **client_id, int *app_state)
{
    const char *args[] = {app_id ? app_id : "", token_hash};
    apr_dbd_row_t *row;
    const char *enabled;
    push_status_t rv = first_row(db, PUSH_ST_TOKEN_APP, 2, args, &row);
    if (rv != PUSH_OK)
        return rv;
    *scopes = push_db_col(db, row, 0);
    *client_id = push_db_col(db, row, 2);
    enabled = push_db_col(db, row, 1);
    *app_state = !enabled ? -1 : enabled[0] == 't';
    return PUSH_OK;
}

push_status_t push_store_app_create(push_db_t *db, const char *app_id, int enabled)
{
    const char *args[] = {app_id, enabled ? "true" : "false"};
    push_status_t rv = changed(db, PUSH_ST_APP_CREATE, 2, args);
    return rv == PUSH_NOTFOUND ? PUSH_EINVAL : rv;
}

push_status_t push_store_app_delete(push_db_t *db, const char *app_id)
{
    const char *args[] = {app_id};
    return changed(db, PUSH_ST_APP_DELETE, 1, args);
}

push_status_t push_store_app_set_enabled(push_db_t *db, const char *app_id, int enabled)
{
    const char *args[] = {enabled ? "true" : "false", app_id};
    return changed(db, PUSH_ST_APP_STATUS, 2, args);
}

push_status_t push_store_app_get(push_db_t *db, const char *app_id, int *enabled)
{
    const char *args[] = {app_id};
    apr_dbd_row_t *row;
    push_status_t rv = first_row(db, PUSH_ST_APP_GET, 1, args, &row);
    if (rv == PUSH_OK) {
        const char *v = apr_dbd_get_entry(db->driver, row, 1);
        *enabled = v && v[0] == 't';
    }
    return rv;
}

push_status_t push_store_mf_register(push_db_t *db, const push_device_t *d, const char *phone,
                                     apr_dbd_row_t **row)
{
    const char *args[] = {d->app_id, d->device_id, d->platform, d->token, d->user_id, phone,
                          d->user_agent};
    return first_row(db, PUSH_ST_MF_REGISTER, 7, args, row);
}

push_status_t push_store_mf_device_get(push_db_t *db, const char *app_id, const char *device_id,
                                       apr_dbd_row_t **row)
{
    const char *args[] = {app_id, device_id};
    return first_row(db, PUSH_ST_MF_DEVICE_GET, 2, args, row);
}

push_status_t push_store_mf_device_update(push_db_t *db, const char *app_id, const char *device_id,
                                          const char *token, int set_user, const char *user,
                                          int set_phone, const char *phone, const char *agent,
                                          apr_dbd_row_t **row)
{
    const char *args[] = {app_id, device_id, token, set_user ? "true" : "false", user,
                          set_phone ? "true" : "false", phone, agent};
    return first_row(db, PUSH_ST_MF_UPDATE, 8, args, row);
}

push_status_t push_store_mf_device_owner(push_db_t *db, const char *app_id, const char *device_id,
                                         const char **client_id)
{
    const char *args[] = {app_id, device_id};
    apr_dbd_row_t *row;
    push_status_t rv = first_row(db, PUSH_ST_MF_OWNER, 2, args, &row);
    if (rv == PUSH_OK)
        *client_id = push_db_col(db, row, 0);
    return rv;
}

push_status_t push_store_mf_device_claim(push_db_t *db, const char *app_id, const char *device_id,
                                         const char *client_id)
{
    const char *args[] = {client_id, app_id, device_id};
    return changed(db, PUSH_ST_MF_CLAIM, 3, args);
}

push_status_t push_store_device_remove(push_db_t *db, const char *app_id, const char *device_id)
{
    const char *args[] = {app_id, device_id};
    return changed(db, PUSH_ST_DEVICE_REMOVE, 2, args);
}

push_status_t push_store_tag_create(push_db_t *db, const char *app_id, const char *name,
                                    const char *description, apr_dbd_row_t **row)
{
    const char *args[] = {app_id, name, description};
    push_status_t rv = first_row(db, PUSH_ST_TAG_CREATE, 3, args, row);
    return rv == PUSH_NOTFOUND ? PUSH_EINVAL : rv;
}

push_status_t push_store_tag_get(push_db_t *db, const char *app_id, const char *name,
                                 apr_dbd_row_t **row)
{
    const char *args[] = {app_id, name};
    return first_row(db, PUSH_ST_TAG_GET, 2, args, row);
}

push_status_t push_store_tag_update(push_db_t *db, const char *app_id, const char *name,
                                    const char *description, apr_dbd_row_t **row)
{
    const char *args[] = {description, app_id, name};
    return first_row(db, PUSH_ST_TAG_UPDATE, 3, args, row);
}

push_status_t push_store_tag_delete(push_db_t *db, const char *app_id, const char *name)
{
    const char *args[] = {app_id, name};
    return changed(db, PUSH_ST_TAG_DELETE, 2, args);
}

push_status_t push_store_subscribe(push_db_t *db, const char *app_id, const char *device_id,
                                   const char *tag, push_sub_outcome_t *outcome, apr_dbd_row_t **row)
{
    const char *args[] = {app_id, device_id, tag};
    const char *o;
    push_status_t rv = first_row(db, PUSH_ST_SUBSCRIBE, 3, args, row);
    if (rv != PUSH_OK)
        return rv == PUSH_NOTFOUND ? PUSH_EDB : rv;
    o = apr_dbd_get_entry(db->driver, *row, 0);
    *outcome = !strcmp(o, "created") ? PUSH_SUB_CREATED : !strcmp(o, "exists") ? PUSH_SUB_EXISTS
             : !strcmp(o, "no-device") ? PUSH_SUB_NO_DEVICE : PUSH_SUB_NO_TAG;
    return PUSH_OK;
}

push_status_t push_store_subscription_get(push_db_t *db, const char *app_id, const char *id,
                                          apr_dbd_row_t **row)
{
    const char *args[] = {app_id, id};
    return first_row(db, PUSH_ST_SUB_GET, 2, args, row);
}

push_status_t push_store_subscription_delete(push_db_t *db, const char *app_id, const char *id)
{
    const char *args[] = {app_id, id};
    return changed(db, PUSH_ST_SUB_DELETE, 2, args);
}

push_status_t push_store_subscription_delete_pair(push_db_t *db, const char *app_id,
                                                  const char *device_id, const char *tag)
{
    const char *args[] = {app_id, device_id, tag};
    return changed(db, PUSH_ST_SUB_DELETE_PAIR, 3, args);
}

push_status_t push_store_credential_put(push_db_t *db, const char *app_id, const char *provider,
                                        const char *config, const char *secret)
{
    const char *args[] = {app_id, provider, config, secret};
    int n;
    return push_db_exec(db, PUSH_ST_CRED_PUT, &n, 4, args);
}

push_status_t push_store_credential_get(push_db_t *db, const char *app_id, const char *provider,
                                        const char **config, const char **secret)
{
    const char *args[] = {app_id, provider};
    apr_dbd_row_t *row;
    push_status_t rv = first_row(db, PUSH_ST_CRED_GET, 2, args, &row);
    if (rv == PUSH_OK) {
        *config = push_db_col(db, row, 0);
        *secret = push_db_col(db, row, 1);
    }
    return rv;
}

push_status_t push_store_credential_delete(push_db_t *db, const char *app_id, const char *provider)
{
    const char *args[] = {app_id, provider};
    return changed(db, PUSH_ST_CRED_DELETE, 2, args);
}

push_status_t push_store_credential_list(push_db_t *db, const char *app_id, apr_table_t *out)
{
    const char *args[] = {app_id};
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, PUSH_ST_CRED_LIST, &res, 1, args);
    if (rv != PUSH_OK)
        return rv;
    for (int n = 1, last = apr_dbd_num_tuples(db->driver, res); n <= last; n++) {
        apr_dbd_row_t *row = NULL;
        if (apr_dbd_get_row(db->driver, db->pool, res, &row, n) != 0)
            break;
        apr_table_setn(out, push_db_col(db, row, 0), push_db_col(db, row, 1));
    }
    return PUSH_OK;
}

push_status_t push_store_webhook_create(push_db_t *db, const char *app_id, const char *name,
                                        const char *url, const char *events, const char *secret,
                                        int max_hooks, int *over_limit, apr_dbd_row_t **row)
{
    const char *max = apr_itoa(db->pool, max_hooks);
    const char *args[] = {app_id, name, url, events, secret, max}, *outcome;
    push_status_t rv = first_row(db, PUSH_ST_HOOK_CREATE, 6, args, row);
    *over_limit = 0;
    if (rv != PUSH_OK)
        return rv == PUSH_NOTFOUND ? PUSH_EINVAL : rv;
    outcome = push_db_col(db, *row, PUSH_HOOK_OUTCOME);
    if (outcome && strcmp(outcome, "created") == 0)
        return PUSH_OK;
    *over_limit = outcome && strcmp(outcome, "limit") == 0;
    return PUSH_EINVAL;
}

push_status_t push_store_webhook_update(push_db_t *db, const char *app_id, const char *name,
                                        const char *url, const char *events, int set_secret,
                                        const char *secret, apr_dbd_row_t **row)
{
    const char *args[] = {url, events, set_secret ? "true" : "false", secret, app_id, name};
    return first_row(db, PUSH_ST_HOOK_UPDATE, 6, args, row);
}

push_status_t push_store_webhook_get(push_db_t *db, const char *app_id, const char *name,
                                     apr_dbd_row_t **row)
{
    const char *args[] = {app_id, name};
    return first_row(db, PUSH_ST_HOOK_GET, 2, args, row);
}

push_status_t push_store_webhook_delete(push_db_t *db, const char *app_id, const char *name)
{
    const char *args[] = {app_id, name};
    return changed(db, PUSH_ST_HOOK_DELETE, 2, args);
}
