/* The queries of the MobileFirst dialect's registry: applications, devices, tags and
 * subscriptions (the lists are in lists.c). */
#include "store/rows.h"
#include "store/statements.h"
#include "store/store.h"

#include <apr_strings.h>
#include <stdlib.h>

/* --- rows into records ------------------------------------------------------------------- */

void push_row_device(push_db_t *db, apr_dbd_row_t *row, void *out)
{
    push_mf_device_t *d = out;
    d->device_id = push_db_col(db, row, PUSH_DEV_ID);
    d->platform = push_db_col(db, row, PUSH_DEV_PLATFORM);
    d->token = push_db_col(db, row, PUSH_DEV_TOKEN);
    d->user_id = push_db_col(db, row, PUSH_DEV_USER);
    d->phone = push_db_col(db, row, PUSH_DEV_PHONE);
    d->user_agent = push_db_col(db, row, PUSH_DEV_AGENT);
    d->created_mode = push_db_col(db, row, PUSH_DEV_MODE);
    d->created_at = push_db_col(db, row, PUSH_DEV_CREATED);
    d->updated_at = push_db_col(db, row, PUSH_DEV_UPDATED);
}

void push_row_tag(push_db_t *db, apr_dbd_row_t *row, void *out)
{
    push_tag_t *t = out;
    t->name = push_db_col(db, row, PUSH_TAG_NAME);
    t->description = push_db_col(db, row, PUSH_TAG_DESCRIPTION);
    t->created_mode = push_db_col(db, row, PUSH_TAG_MODE);
    t->created_at = push_db_col(db, row, PUSH_TAG_CREATED);
    t->updated_at = push_db_col(db, row, PUSH_TAG_UPDATED);
    t->subscriptions = 0;
}

void push_row_tag_counted(push_db_t *db, apr_dbd_row_t *row, void *out)
{
    const char *n = push_db_col(db, row, PUSH_TAG_SUBSCRIPTIONS);
    push_row_tag(db, row, out);
    ((push_tag_t *)out)->subscriptions = n ? atol(n) : 0;
}

void push_row_subscription(push_db_t *db, apr_dbd_row_t *row, void *out)
{
    push_subscription_t *sub = out;
    sub->id = push_db_col(db, row, PUSH_SUBCOL_ID);
    sub->device_id = push_db_col(db, row, PUSH_SUBCOL_DEVICE);
    sub->tag = push_db_col(db, row, PUSH_SUBCOL_TAG);
    sub->user_id = push_db_col(db, row, PUSH_SUBCOL_USER);
    sub->created_at = push_db_col(db, row, PUSH_SUBCOL_CREATED);
}

void push_row_app(push_db_t *db, apr_dbd_row_t *row, void *out)
{
    push_app_t *a = out;
    const char *enabled = push_db_col(db, row, 1);
    a->app_id = push_db_col(db, row, 0);
    a->enabled = enabled && enabled[0] == 't';
}

void push_row_webhook(push_db_t *db, apr_dbd_row_t *row, void *out)
{
    push_webhook_t *w = out;
    const char *signed_ = push_db_col(db, row, PUSH_HOOK_SIGNED);
    w->name = push_db_col(db, row, PUSH_HOOK_NAME);
    w->url = push_db_col(db, row, PUSH_HOOK_URL);
    w->events = push_db_col(db, row, PUSH_HOOK_EVENTS);
    w->is_signed = signed_ && signed_[0] == 't';
}

/* The first row of a select, or PUSH_NOTFOUND. */
static push_status_t first_row(push_db_t *db, const char *label, int nargs, const char **args,
                               apr_dbd_row_t **row)
{
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, label, &res, nargs, args);
    if (rv != PUSH_OK)
        return rv;
    return (*row = push_db_row(db, res, 1)) ? PUSH_OK : PUSH_NOTFOUND;
}

/* The first row of a select read by decode into out, or PUSH_NOTFOUND. */
static push_status_t first_record(push_db_t *db, const char *label, int nargs, const char **args,
                                  void (*decode)(push_db_t *, apr_dbd_row_t *, void *), void *out)
{
    apr_dbd_row_t *row;
    push_status_t rv = first_row(db, label, nargs, args, &row);
    if (rv == PUSH_OK)
        decode(db, row, out);
    return rv;
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
        const char *v = push_db_col(db, row, 1);
        *enabled = v && v[0] == 't';
    }
    return rv;
}

push_status_t push_store_mf_register(push_db_t *db, const push_device_t *d, const char *phone,
                                     push_mf_device_t *out)
{
    const char *args[] = {d->app_id, d->device_id, d->platform, d->token, d->user_id, phone,
                          d->user_agent};
    return first_record(db, PUSH_ST_MF_REGISTER, 7, args, push_row_device, out);
}

push_status_t push_store_mf_device_get(push_db_t *db, const char *app_id, const char *device_id,
                                       push_mf_device_t *out)
{
    const char *args[] = {app_id, device_id};
    return first_record(db, PUSH_ST_MF_DEVICE_GET, 2, args, push_row_device, out);
}

push_status_t push_store_mf_device_update(push_db_t *db, const char *app_id, const char *device_id,
                                          const char *token, int set_user, const char *user,
                                          int set_phone, const char *phone, const char *agent,
                                          push_mf_device_t *out)
{
    const char *args[] = {app_id, device_id, token, set_user ? "true" : "false", user,
                          set_phone ? "true" : "false", phone, agent};
    return first_record(db, PUSH_ST_MF_UPDATE, 8, args, push_row_device, out);
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

push_status_t push_store_mf_token_owner(push_db_t *db, const char *app_id, const char *platform,
                                        const char *token, const char *device_id, const char **client_id)
{
    const char *args[] = {app_id, platform, token, device_id};
    apr_dbd_row_t *row;
    push_status_t rv = first_row(db, PUSH_ST_MF_TOKEN_OWNER, 4, args, &row);
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
                                    const char *description, push_tag_t *out)
{
    const char *args[] = {app_id, name, description};
    push_status_t rv = first_record(db, PUSH_ST_TAG_CREATE, 3, args, push_row_tag, out);
    return rv == PUSH_NOTFOUND ? PUSH_EINVAL : rv;
}

push_status_t push_store_tag_get(push_db_t *db, const char *app_id, const char *name,
                                 push_tag_t *out)
{
    const char *args[] = {app_id, name};
    return first_record(db, PUSH_ST_TAG_GET, 2, args, push_row_tag, out);
}

push_status_t push_store_tag_update(push_db_t *db, const char *app_id, const char *name,
                                    const char *description, push_tag_t *out)
{
    const char *args[] = {description, app_id, name};
    return first_record(db, PUSH_ST_TAG_UPDATE, 3, args, push_row_tag, out);
}

push_status_t push_store_tag_delete(push_db_t *db, const char *app_id, const char *name)
{
    const char *args[] = {app_id, name};
    return changed(db, PUSH_ST_TAG_DELETE, 2, args);
}

push_status_t push_store_subscribe(push_db_t *db, const char *app_id, const char *device_id,
                                   const char *tag, push_sub_outcome_t *outcome,
                                   push_subscription_t *out)
{
    const char *args[] = {app_id, device_id, tag};
    apr_dbd_row_t *row;
    const char *o;
    push_status_t rv = first_row(db, PUSH_ST_SUBSCRIBE, 3, args, &row);
    if (rv != PUSH_OK)
        return rv == PUSH_NOTFOUND ? PUSH_EDB : rv;
    o = push_db_col(db, row, 0);
    *outcome = !o ? PUSH_SUB_NO_TAG : !strcmp(o, "created") ? PUSH_SUB_CREATED
             : !strcmp(o, "exists") ? PUSH_SUB_EXISTS
             : !strcmp(o, "no-device") ? PUSH_SUB_NO_DEVICE : PUSH_SUB_NO_TAG;
    /* columns: outcome, subscription_id, user_id, created time */
    out->id = push_db_col(db, row, 1);
    out->device_id = device_id;
    out->tag = tag;
    out->user_id = push_db_col(db, row, 2);
    out->created_at = push_db_col(db, row, 3);
    return PUSH_OK;
}

push_status_t push_store_subscription_get(push_db_t *db, const char *app_id, const char *id,
                                          push_subscription_t *out)
{
    const char *args[] = {app_id, id};
    return first_record(db, PUSH_ST_SUB_GET, 2, args, push_row_subscription, out);
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
    apr_dbd_row_t *row;
    push_status_t rv = push_db_select(db, PUSH_ST_CRED_LIST, &res, 1, args);
    if (rv != PUSH_OK)
        return rv;
    for (int n = 1; (row = push_db_row(db, res, n)); n++)
        apr_table_setn(out, push_db_col(db, row, 0), push_db_col(db, row, 1));
    return PUSH_OK;
}

push_status_t push_store_webhook_create(push_db_t *db, const char *app_id, const char *name,
                                        const char *url, const char *events, const char *secret,
                                        int max_hooks, int *over_limit, push_webhook_t *out)
{
    const char *max = apr_itoa(db->pool, max_hooks);
    const char *args[] = {app_id, name, url, events, secret, max}, *outcome;
    apr_dbd_row_t *row;
    push_status_t rv = first_row(db, PUSH_ST_HOOK_CREATE, 6, args, &row);
    *over_limit = 0;
    if (rv != PUSH_OK)
        return rv == PUSH_NOTFOUND ? PUSH_EINVAL : rv;
    push_row_webhook(db, row, out);
    outcome = push_db_col(db, row, PUSH_HOOK_OUTCOME);
    if (outcome && strcmp(outcome, "created") == 0)
        return PUSH_OK;
    *over_limit = outcome && strcmp(outcome, "limit") == 0;
    return PUSH_EINVAL;
}

push_status_t push_store_webhook_update(push_db_t *db, const char *app_id, const char *name,
                                        const char *url, const char *events, int set_secret,
                                        const char *secret, push_webhook_t *out)
{
    const char *args[] = {url, events, set_secret ? "true" : "false", secret, app_id, name};
    return first_record(db, PUSH_ST_HOOK_UPDATE, 6, args, push_row_webhook, out);
}

push_status_t push_store_webhook_get(push_db_t *db, const char *app_id, const char *name,
                                     push_webhook_t *out)
{
    const char *args[] = {app_id, name};
    return first_record(db, PUSH_ST_HOOK_GET, 2, args, push_row_webhook, out);
}

push_status_t push_store_webhook_delete(push_db_t *db, const char *app_id, const char *name)
{
    const char *args[] = {app_id, name};
    return changed(db, PUSH_ST_HOOK_DELETE, 2, args);
}
