#include "service/registry.h"

#include "core/token.h"
#include "store/store.h"

push_status_t push_registry_register(request_rec *r, const push_device_t *d, int limit)
{
    push_db_t *db;
    int created;
    push_status_t rv = push_db_acquire(r, &db);
    return rv != PUSH_OK ? rv : push_store_device_register(db, d, limit, &created);
}

push_status_t push_registry_register_session(request_rec *r, const char *token, push_device_t *d,
                                             int limit, int bind_session)
{
    const char *user_id = NULL;
    push_db_t *db;
    push_status_t rv;
    if (!token || !*token)
        return PUSH_NOTFOUND;
    if ((rv = push_db_acquire(r, &db)) != PUSH_OK)
        return rv;
    rv = push_store_session_register(db, push_token_hash(r->pool, token, strlen(token)), d,
                                     bind_session, limit, &user_id);
    d->user_id = user_id;
    return rv;
}

push_status_t push_registry_unregister(request_rec *r, const char *app_id, const char *device_id,
                                       const char *user_id)
{
    push_db_t *db;
    push_status_t rv = push_db_acquire(r, &db);
    return rv != PUSH_OK ? rv : push_store_device_delete(db, app_id, device_id, user_id);
}

push_status_t push_registry_register_rocketchat(request_rec *r, const push_device_t *d,
                                                const char *id, const char *new_id,
                                                const char *app_name, const char *voip_token,
                                                int limit, push_rc_record_t *out)
{
    push_db_t *db;
    push_status_t rv = push_db_acquire(r, &db);
    return rv != PUSH_OK ? rv : push_store_rocketchat_register(db, d, id, new_id, app_name,
                                                                voip_token, limit, out);
}

push_status_t push_registry_unregister_rocketchat(request_rec *r, const char *app_id,
                                                  const char *token, const char *user_id)
{
    push_db_t *db;
    push_status_t rv = push_db_acquire(r, &db);
    return rv != PUSH_OK ? rv : push_store_rocketchat_delete(db, app_id, token, user_id);
}
