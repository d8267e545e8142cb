/* The store: one function per query, over a push_db_t. All SQL values are bound
 * parameters of the statements in statements.c. */
#ifndef PUSH_STORE_H
#define PUSH_STORE_H

#include "core/device.h"
#include "store/db.h"
#include <apr_tables.h>

push_status_t push_store_schema_version(push_db_t *db, int *version);

/* The user of a live built-in session of app_id, by token hash. */
push_status_t push_store_session_user(push_db_t *db, const char *token_hash,
                                      const char *app_id, const char **user_id);

/* The user that an operator's PushSessionSource query returns for a raw token. */
push_status_t push_store_session_sql(push_db_t *db, const char *label, const char *token,
                                     const char **user_id);

/* Upserts d and trims its user to limit devices (0 = no limit); PUSH_EFORBIDDEN when an
 * end user's registration would take another user's device or token (sql/009). */
push_status_t push_store_device_register(push_db_t *db, const push_device_t *d, int limit,
                                         int *created);

/* Registers d for the owner of the live built-in session token_hash, in one statement;
 * PUSH_NOTFOUND when the session is not live, PUSH_EFORBIDDEN when the device or token is
 * another user's. bind: record the session on the device. */
push_status_t push_store_session_register(push_db_t *db, const char *token_hash,
                                          const push_device_t *d, int bind, int limit,
                                          const char **user_id);

/* A Rocket.Chat token record as push.token answers it (times: ISO, ms; voip_token NULL
 * when the record has none). */
typedef struct {
    const char *id, *created_at, *updated_at, *voip_token;
} push_rc_record_t;

/* Rocket.Chat's push.token: the record found by id, else by token, platform and appName
 * (kept under its own id), else a new one under id or new_id, registered for d->user_id,
 * its user trimmed to limit devices.
 * PUSH_EFORBIDDEN when that record or the token is another user's. */
push_status_t push_store_rocketchat_register(push_db_t *db, const push_device_t *d, const char *id,
                                             const char *new_id, const char *app_name,
                                             const char *voip_token, int limit, push_rc_record_t *out);
/* Removes the caller's APNs and FCM records with this token; PUSH_NOTFOUND when none. */
push_status_t push_store_rocketchat_delete(push_db_t *db, const char *app_id, const char *token,
                                           const char *user_id);

/* Deletes app_id's device_id if user_id owns it; PUSH_NOTFOUND when nothing went. */
push_status_t push_store_device_delete(push_db_t *db, const char *app_id, const char *device_id,
                                       const char *user_id);

/* An OAuth client stored by pushctl: its secret's hash and allowed scopes. */
push_status_t push_store_oauth_client(push_db_t *db, const char *client_id,
                                      const char **secret_hash, const char **scopes);

/* Stores an issued token by hash, live for lifetime seconds. */
push_status_t push_store_token_insert(push_db_t *db, const char *token_hash, const char *client_id,
                                      const char *scopes, int lifetime);

/* The client and granted scopes of a live token; PUSH_NOTFOUND when unknown or expired. */
push_status_t push_store_token_get(push_db_t *db, const char *token_hash, const char **client_id,
                                   const char **scopes);

/* --- MobileFirst: rows come back as typed records, strings in db->pool --- */

/* A device as the MobileFirst API shows it. */
typedef struct {
    const char *device_id;
    const char *platform;        /* MobileFirst's letter: A, G, W, B, S */
    const char *token, *user_id, *phone, *user_agent, *created_mode, *created_at, *updated_at;
} push_mf_device_t;

typedef struct {
    const char *name, *description, *created_mode, *created_at, *updated_at;
    long subscriptions;          /* with push_list_tags_counted only */
} push_tag_t;

typedef struct {
    const char *id, *device_id, *tag, *user_id, *created_at;
} push_subscription_t;

typedef struct {
    const char *app_id;
    int enabled;
} push_app_t;

/* The granted scopes and the client of a live token, and whether the application exists
 * and is enabled (*app_state: -1 no such application, 0 disabled, 1 enabled). */
push_status_t push_store_token_app(push_db_t *db, const char *token_hash, const char *app_id,
                                   const char **scopes, const char **client_id, int *app_state);

/* PUSH_EINVAL when the application exists already. */
push_status_t push_store_app_create(push_db_t *db, const char *app_id, int enabled);
push_status_t push_store_app_delete(push_db_t *db, const char *app_id);
push_status_t push_store_app_set_enabled(push_db_t *db, const char *app_id, int enabled);
/* *enabled: 1 or 0; PUSH_NOTFOUND when there is no such application. */
push_status_t push_store_app_get(push_db_t *db, const char *app_id, int *enabled);

/* MobileFirst registration; *out is the device as stored. */
push_status_t push_store_mf_register(push_db_t *db, const push_device_t *d, const char *phone,
                                     push_mf_device_t *out);
push_status_t push_store_mf_device_get(push_db_t *db, const char *app_id, const char *device_id,
                                       push_mf_device_t *out);
/* token NULL: unchanged; set_user/set_phone say whether user/phone are to be set. */
push_status_t push_store_mf_device_update(push_db_t *db, const char *app_id, const char *device_id,
                                          const char *token, int set_user, const char *user,
                                          int set_phone, const char *phone, const char *agent,
                                          push_mf_device_t *out);
/* The OAuth client that registered the device through push.mobileclient ("" for none);
 * PUSH_NOTFOUND when there is no such device. */
push_status_t push_store_mf_device_owner(push_db_t *db, const char *app_id, const char *device_id,
                                         const char **client_id);
/* The OAuth client ("" for none) of another live device of the application holding token
 * on platform (the one a registration of device_id would take it from); PUSH_NOTFOUND when
 * no other device holds it. */
push_status_t push_store_mf_token_owner(push_db_t *db, const char *app_id, const char *platform,
                                        const char *token, const char *device_id, const char **client_id);
/* Marks the device as registered by that client. */
push_status_t push_store_mf_device_claim(push_db_t *db, const char *app_id, const char *device_id,
                                         const char *client_id);
/* Deletes a device whoever owns it; PUSH_NOTFOUND when there was none. */
push_status_t push_store_device_remove(push_db_t *db, const char *app_id, const char *device_id);

/* PUSH_EINVAL when the tag exists already. */
push_status_t push_store_tag_create(push_db_t *db, const char *app_id, const char *name,
                                    const char *description, push_tag_t *out);
push_status_t push_store_tag_get(push_db_t *db, const char *app_id, const char *name,
                                 push_tag_t *out);
push_status_t push_store_tag_update(push_db_t *db, const char *app_id, const char *name,
                                    const char *description, push_tag_t *out);
push_status_t push_store_tag_delete(push_db_t *db, const char *app_id, const char *name);

typedef enum { PUSH_SUB_CREATED, PUSH_SUB_EXISTS, PUSH_SUB_NO_DEVICE, PUSH_SUB_NO_TAG } push_sub_outcome_t;
/* out (when created): the subscription, device and tag as given. */
push_status_t push_store_subscribe(push_db_t *db, const char *app_id, const char *device_id,
                                   const char *tag, push_sub_outcome_t *outcome,
                                   push_subscription_t *out);
push_status_t push_store_subscription_get(push_db_t *db, const char *app_id, const char *id,
                                          push_subscription_t *out);
push_status_t push_store_subscription_delete(push_db_t *db, const char *app_id, const char *id);
push_status_t push_store_subscription_delete_pair(push_db_t *db, const char *app_id,
                                                  const char *device_id, const char *tag);

/* Provider credentials: config is JSON text that may be shown; secret is sealed bytes in
 * bytea text form ("\\x..."), or NULL. */
push_status_t push_store_credential_put(push_db_t *db, const char *app_id, const char *provider,
                                        const char *config, const char *secret);
push_status_t push_store_credential_get(push_db_t *db, const char *app_id, const char *provider,
                                        const char **config, const char **secret);
push_status_t push_store_credential_delete(push_db_t *db, const char *app_id, const char *provider);
/* provider -> config JSON text, for the settings summary. */
push_status_t push_store_credential_list(push_db_t *db, const char *app_id, apr_table_t *out);

/* Webhooks; events is a comma-separated list; secret is sealed bytea text or NULL.
 * Creating one: PUSH_EINVAL when the name is taken; *over_limit (and PUSH_EINVAL) when
 * the application has max_hooks already. */
typedef struct {
    const char *name, *url, *events; /* events: comma-separated */
    int is_signed;                   /* a secret is stored */
} push_webhook_t;

push_status_t push_store_webhook_create(push_db_t *db, const char *app_id, const char *name,
                                        const char *url, const char *events, const char *secret,
                                        int max_hooks, int *over_limit, push_webhook_t *out);
/* url/events NULL: unchanged; set_secret says whether secret replaces the stored one. */
push_status_t push_store_webhook_update(push_db_t *db, const char *app_id, const char *name,
                                        const char *url, const char *events, int set_secret,
                                        const char *secret, push_webhook_t *out);
push_status_t push_store_webhook_get(push_db_t *db, const char *app_id, const char *name,
                                     push_webhook_t *out);
push_status_t push_store_webhook_delete(push_db_t *db, const char *app_id, const char *name);

/* An application's quotas (PushMaxPendingDeliveries, PushMaxMessagesPerMinute; 0: none)
 * and, when one refuses, which ("pending" or "rate") and in how many seconds to retry. */
typedef struct {
    long max_pending;
    int max_per_minute;
} push_quota_t;
typedef struct {
    const char *which;
    int retry_after;
} push_quota_refusal_t;

/* Messages. list is a JSON array of records from push_message_check; *ids receives the
 * message ids (const char *) in order. One statement: the quota check, the messages and
 * the NOTIFY that wakes the senders commit together. PUSH_ELIMIT: a quota refused them
 * all (*refusal says why). */
push_status_t push_store_message_accept(push_db_t *db, const char *app_id, const char *list,
                                        const push_quota_t *quota, apr_array_header_t **ids,
                                        push_quota_refusal_t *refusal);
/* A message as accepted (body: the JSON text kept) and how its delivery stands. */
typedef struct {
    const char *body, *target, *state, *category, *send_at, *expires_at, *created_at;
    const char *paused;          /* the credential errors holding it back, or NULL */
    int targeted, sent, failed, invalid, filtered, expired, cancelled, pending;
} push_message_summary_t;

/* PUSH_NOTFOUND if there is no such message. */
push_status_t push_store_message_get(push_db_t *db, const char *app_id, const char *id,
                                     push_message_summary_t *out);
/* Cancels what is not yet sent; PUSH_NOTFOUND if there is no such message. */
push_status_t push_store_message_cancel(push_db_t *db, const char *app_id, const char *id);
/* Rocket.Chat's push.test: sends body to every device of user unless the user called
 * within the last second (*tokens = -1) or has no tokens (*tokens = 0); PUSH_ELIMIT when a
 * quota refuses it (*refusal says why). */
push_status_t push_store_rocketchat_test(push_db_t *db, const char *app_id, const char *user,
                                         const char *id, const char *body, const push_quota_t *quota,
                                         int *tokens, push_quota_refusal_t *refusal);
/* Rocket.Chat's push.get: a message, or PUSH_NOTFOUND. */
typedef struct {
    const char *body, *created_at, *updated_at, *host;
    int allowed;                 /* the caller may read it */
} push_rc_message_t;

push_status_t push_store_rocketchat_message(push_db_t *db, const char *app_id, const char *id,
                                            const char *user, push_rc_message_t *out);
/* Live senders, queued work and the age in seconds of the oldest due message. */
push_status_t push_store_sender_health(push_db_t *db, int *senders, long *queued, double *oldest);

#endif
