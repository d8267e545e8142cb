/* Every SQL statement the module runs, by label. They are registered with mod_dbd
 * at configuration time (prepared once per connection) and looked up by label.
 * Labels are lower-case identifiers (mod_dbd's pgsql driver needs that). */
#ifndef PUSH_STATEMENTS_H
#define PUSH_STATEMENTS_H

#define PUSH_ST_SCHEMA_VERSION  "push_schema_version_get"
#define PUSH_ST_SESSION_USER    "push_session_user"
#define PUSH_ST_DEVICE_REGISTER "push_device_register"
#define PUSH_ST_DEVICE_DELETE   "push_device_delete_own"
#define PUSH_ST_OAUTH_CLIENT    "push_oauth_client_get"
#define PUSH_ST_TOKEN_INSERT    "push_access_token_insert"
#define PUSH_ST_TOKEN_GET       "push_access_token_get"

#define PUSH_ST_SESSION_REGISTER "push_session_register"
#define PUSH_ST_RC_REGISTER     "push_rocketchat_register"
#define PUSH_ST_RC_DELETE       "push_rocketchat_delete"
#define PUSH_ST_TOKEN_APP       "push_access_token_app"
#define PUSH_ST_APP_CREATE      "push_app_create"
#define PUSH_ST_APP_DELETE      "push_app_delete"
#define PUSH_ST_APP_STATUS      "push_app_status"
#define PUSH_ST_APP_GET         "push_app_get"
#define PUSH_ST_MF_REGISTER     "push_device_register_mf"
#define PUSH_ST_MF_DEVICE_GET   "push_device_get_mf"
#define PUSH_ST_MF_UPDATE       "push_device_update_mf"
#define PUSH_ST_DEVICE_REMOVE   "push_device_remove"
#define PUSH_ST_MF_OWNER        "push_device_owner_mf"
#define PUSH_ST_MF_CLAIM        "push_device_claim_mf"
#define PUSH_ST_MF_TOKEN_OWNER  "push_device_token_owner_mf"
#define PUSH_ST_TAG_CREATE      "push_tag_create"
#define PUSH_ST_TAG_GET         "push_tag_get"
#define PUSH_ST_TAG_UPDATE      "push_tag_update"
#define PUSH_ST_TAG_DELETE      "push_tag_delete"
#define PUSH_ST_SUBSCRIBE       "push_subscribe"
#define PUSH_ST_SUB_GET         "push_subscription_get"
#define PUSH_ST_SUB_DELETE      "push_subscription_delete"
#define PUSH_ST_SUB_DELETE_PAIR "push_subscription_delete_pair"

#define PUSH_ST_CRED_PUT        "push_credential_put"
#define PUSH_ST_CRED_GET        "push_credential_get"
#define PUSH_ST_CRED_DELETE     "push_credential_delete"
#define PUSH_ST_CRED_LIST       "push_credential_list"
#define PUSH_ST_HOOK_CREATE     "push_webhook_create"
#define PUSH_ST_HOOK_UPDATE     "push_webhook_update"
#define PUSH_ST_HOOK_GET        "push_webhook_get"
#define PUSH_ST_HOOK_DELETE     "push_webhook_delete"
#define PUSH_ST_HOOK_LIST       "push_webhook_list"

#define PUSH_ST_MSG_ACCEPT      "push_message_accept"
#define PUSH_ST_MSG_SUMMARY     "push_message_summary"
#define PUSH_ST_MSG_CANCEL      "push_message_cancel"
#define PUSH_ST_SENDER_HEALTH   "push_sender_health"
#define PUSH_ST_RC_TEST         "push_rocketchat_test"
#define PUSH_ST_RC_MESSAGE      "push_rocketchat_message"

/* Column lists shared by point queries and lists, so that both read rows alike. */
#define PUSH_ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define PUSH_DEVICE_COLS                                                                  \
    "d.device_id, push_platform_code(d.platform), d.token, d.user_id, d.phone_number, "  \
    "d.user_agent, d.created_mode, " PUSH_ISO("d.created_at") ", " PUSH_ISO("d.updated_at")
enum { PUSH_DEV_ID, PUSH_DEV_PLATFORM, PUSH_DEV_TOKEN, PUSH_DEV_USER, PUSH_DEV_PHONE,
       PUSH_DEV_AGENT, PUSH_DEV_MODE, PUSH_DEV_CREATED, PUSH_DEV_UPDATED };
#define PUSH_TAG_COLS                                                                      \
    "t.name, t.description, t.created_mode, " PUSH_ISO("t.created_at") ", " PUSH_ISO("t.updated_at")
enum { PUSH_TAG_NAME, PUSH_TAG_DESCRIPTION, PUSH_TAG_MODE, PUSH_TAG_CREATED, PUSH_TAG_UPDATED,
       PUSH_TAG_SUBSCRIPTIONS };
#define PUSH_SUB_COLS "s.subscription_id, s.device_id, s.tag_name, d.user_id, " PUSH_ISO("s.created_at")
enum { PUSH_SUBCOL_ID, PUSH_SUBCOL_DEVICE, PUSH_SUBCOL_TAG, PUSH_SUBCOL_USER, PUSH_SUBCOL_CREATED };

#define PUSH_HOOK_COLS "w.name, w.url, array_to_string(w.events, ','), (w.secret IS NOT NULL)::text"
/* push_message_summary's columns */
enum { PUSH_MSG_BODY, PUSH_MSG_TARGET, PUSH_MSG_STATE, PUSH_MSG_CATEGORY, PUSH_MSG_SEND_AT,
       PUSH_MSG_EXPIRES_AT, PUSH_MSG_CREATED_AT, PUSH_MSG_TARGETED, PUSH_MSG_SENT, PUSH_MSG_FAILED,
       PUSH_MSG_INVALID, PUSH_MSG_FILTERED, PUSH_MSG_EXPIRED, PUSH_MSG_CANCELLED, PUSH_MSG_PENDING,
       PUSH_MSG_PAUSED };
enum { PUSH_HOOK_NAME, PUSH_HOOK_URL, PUSH_HOOK_EVENTS, PUSH_HOOK_SIGNED, PUSH_HOOK_OUTCOME };

typedef struct {
    const char *label;
    const char *sql;
} push_statement_t;

/* The table, ended by a {NULL, NULL} entry. */
extern const push_statement_t push_statements[];

#endif
