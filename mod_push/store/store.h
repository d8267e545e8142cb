/* The store: one function per query, over a push_db_t. All SQL values are bound
 * parameters of the statements in statements.c. */
#ifndef PUSH_STORE_H
#define PUSH_STORE_H

#include "store/db.h"

/* A device as the registry hands it to the store. */
typedef struct {
    const char *app_id;
    const char *device_id;
    const char *platform;        /* apns, fcm, wns, webpush, sms */
    const char *token;
    const char *user_id;
    const char *family;          /* layer, navixy, rocketchat, mobilefirst */
    const char *session_ref;     /* token hash of a built-in session, or NULL */
    const char *category_filter; /* canonical text, or NULL */
    const char *categories;      /* text[] literal */
    int categories_exclude;
    const char *extra;           /* JSON object text, or NULL */
    const char *user_agent;
} push_device_t;

push_status_t push_store_schema_version(push_db_t *db, int *version);

/* The user of a live built-in session of app_id, by token hash. */
push_status_t push_store_session_user(push_db_t *db, const char *token_hash,
                                      const char *app_id, const char **user_id);

/* The user that an operator's PushSessionSource query returns for a raw token. */
push_status_t push_store_session_sql(push_db_t *db, const char *label, const char *token,
                                     const char **user_id);

/* Upserts d and trims its user to limit devices (0 = no limit). */
push_status_t push_store_device_register(push_db_t *db, const push_device_t *d, int limit,
                                         int *created);

/* Deletes app_id's device_id if user_id owns it; PUSH_NOTFOUND when nothing went. */
push_status_t push_store_device_delete(push_db_t *db, const char *app_id, const char *device_id,
                                       const char *user_id);

#endif
