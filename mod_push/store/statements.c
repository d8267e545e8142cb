#include "statements.h"

#include <stddef.h>

/* %s parameters arrive as varchar; casts say what they are. */
const push_statement_t push_statements[] = {
    {PUSH_ST_SCHEMA_VERSION,
     "SELECT coalesce(max(version), 0) FROM push_schema_version"},
    {PUSH_ST_SESSION_USER,
     "SELECT user_id FROM push_session WHERE token_hash = %s AND app_id = %s "
     "AND (expires_at IS NULL OR expires_at > now())"},
    {PUSH_ST_DEVICE_REGISTER,
     "SELECT push_device_register(%s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s::boolean, "
     "%s::jsonb, %s, %s::integer)"},
    {PUSH_ST_SESSION_REGISTER,
     "SELECT user_id, registered::text FROM push_session_register(%s, %s, %s, %s, %s, %s, "
     "%s::boolean, %s, %s::text[], %s::boolean, %s::jsonb, %s, %s::integer)"},
    {PUSH_ST_RC_REGISTER,
     "SELECT device_id, created_at, updated_at, voip_token "
     "FROM push_rocketchat_register(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::integer)"},
    {PUSH_ST_RC_DELETE,
     "DELETE FROM push_device WHERE app_id = %s AND token = %s AND user_id = %s "
     "AND platform IN ('apns', 'fcm')"},
    {PUSH_ST_DEVICE_DELETE,
     "DELETE FROM push_device WHERE app_id = %s AND device_id = %s AND user_id = %s"},
    {PUSH_ST_OAUTH_CLIENT,
     "SELECT secret_hash, scopes FROM push_oauth_client WHERE client_id = %s"},
    /* issuing a token also sweeps a few long-expired ones, so the table stays small */
    {PUSH_ST_TOKEN_INSERT,
     "WITH swept AS (DELETE FROM push_access_token WHERE token_hash IN (SELECT token_hash "
     "FROM push_access_token WHERE expires_at < now() - interval '1 hour' LIMIT 10)) "
     "INSERT INTO push_access_token (token_hash, client_id, scopes, expires_at) "
     "VALUES (%s, %s, %s, now() + make_interval(secs => %s::integer))"},
    {PUSH_ST_TOKEN_GET,
     "SELECT client_id, scopes FROM push_access_token WHERE token_hash = %s AND expires_at > now()"},
    /* the bearer token and the application of the path, in one round trip */
    {PUSH_ST_TOKEN_APP,
     "SELECT t.scopes, a.enabled, t.client_id FROM push_access_token t LEFT JOIN push_application a "
     "ON a.app_id = %s WHERE t.token_hash = %s AND t.expires_at > now()"},
    {PUSH_ST_APP_CREATE,
     "INSERT INTO push_application (app_id, enabled) VALUES (%s, %s::boolean) ON CONFLICT DO NOTHING"},
    {PUSH_ST_APP_DELETE, "DELETE FROM push_application WHERE app_id = %s"},
    {PUSH_ST_APP_STATUS,
     "UPDATE push_application SET enabled = %s::boolean, updated_at = now() WHERE app_id = %s"},
    {PUSH_ST_APP_GET, "SELECT app_id, enabled FROM push_application WHERE app_id = %s"},
    {PUSH_ST_MF_REGISTER,
     "SELECT " PUSH_DEVICE_COLS " FROM push_device_register_mf(%s, %s, %s, %s, %s, %s, %s) d"},
    {PUSH_ST_MF_DEVICE_GET,
     "SELECT " PUSH_DEVICE_COLS " FROM push_device d WHERE d.app_id = %s AND d.device_id = %s"},
    {PUSH_ST_MF_UPDATE,
     "SELECT " PUSH_DEVICE_COLS " FROM push_device_update_mf(%s, %s, %s, %s::boolean, %s, "
     "%s::boolean, %s, %s) d"},
    {PUSH_ST_DEVICE_REMOVE, "DELETE FROM push_device WHERE app_id = %s AND device_id = %s"},
    /* the OAuth client a push.mobileclient token registered the device with ('' for none) */
    {PUSH_ST_MF_OWNER,
     "SELECT coalesce(extra->>'mfClient', '') FROM push_device WHERE app_id = %s AND device_id = %s"},
    {PUSH_ST_MF_TOKEN_OWNER,
     "SELECT coalesce(extra->>'mfClient', '') FROM push_device WHERE app_id = %s AND platform = %s "
     "AND token = %s AND device_id <> %s AND invalid_since IS NULL LIMIT 1"},
    {PUSH_ST_MF_CLAIM,
     "UPDATE push_device SET extra = extra || jsonb_build_object('mfClient', %s::text) "
     "WHERE app_id = %s AND device_id = %s"},
    {PUSH_ST_TAG_CREATE,
     "INSERT INTO push_tag AS t (app_id, name, description) VALUES (%s, %s, %s) "
     "ON CONFLICT DO NOTHING RETURNING " PUSH_TAG_COLS},
    {PUSH_ST_TAG_GET, "SELECT " PUSH_TAG_COLS " FROM push_tag t WHERE t.app_id = %s AND t.name = %s"},
    {PUSH_ST_TAG_UPDATE,
     "UPDATE push_tag t SET description = %s, updated_at = now() WHERE t.app_id = %s AND t.name = %s "
     "RETURNING " PUSH_TAG_COLS},
    {PUSH_ST_TAG_DELETE, "DELETE FROM push_tag WHERE app_id = %s AND name = %s"},
    {PUSH_ST_SUBSCRIBE,
     "SELECT outcome, subscription_id, user_id, " PUSH_ISO("created_at")
     " FROM push_subscribe(%s, %s, %s)"},
    {PUSH_ST_SUB_GET,
     "SELECT " PUSH_SUB_COLS " FROM push_subscription s JOIN push_device d USING (app_id, device_id) "
     "WHERE s.app_id = %s AND s.subscription_id = %s"},
    {PUSH_ST_SUB_DELETE, "DELETE FROM push_subscription WHERE app_id = %s AND subscription_id = %s"},
    {PUSH_ST_SUB_DELETE_PAIR,
     "DELETE FROM push_subscription WHERE app_id = %s AND device_id = %s AND tag_name = %s"},
    {PUSH_ST_CRED_PUT,
     "INSERT INTO push_credential (app_id, provider, config, secret) "
     "VALUES (%s, %s, %s::jsonb, %s::bytea) ON CONFLICT (app_id, provider) DO UPDATE "
     "SET config = EXCLUDED.config, secret = EXCLUDED.secret, updated_at = now()"},
    {PUSH_ST_CRED_GET,
     "SELECT config::text, secret::text FROM push_credential WHERE app_id = %s AND provider = %s"},
    {PUSH_ST_CRED_DELETE, "DELETE FROM push_credential WHERE app_id = %s AND provider = %s"},
    {PUSH_ST_CRED_LIST,
     "SELECT provider, config::text FROM push_credential WHERE app_id = %s ORDER BY provider"},
    {PUSH_ST_HOOK_CREATE,
     "SELECT name, url, events, signed, outcome "
     "FROM push_webhook_add(%s, %s, %s, %s, %s::bytea, %s::integer)"},
    {PUSH_ST_HOOK_UPDATE,
     "UPDATE push_webhook w SET url = coalesce(%s, w.url), "
     "events = coalesce(string_to_array(%s, ','), w.events), "
     "secret = CASE WHEN %s::boolean THEN %s::bytea ELSE w.secret END, updated_at = now() "
     "WHERE w.app_id = %s AND w.name = %s RETURNING " PUSH_HOOK_COLS},
    {PUSH_ST_HOOK_GET, "SELECT " PUSH_HOOK_COLS " FROM push_webhook w WHERE w.app_id = %s AND w.name = %s"},
    {PUSH_ST_HOOK_DELETE, "DELETE FROM push_webhook WHERE app_id = %s AND name = %s"},
    {PUSH_ST_MSG_ACCEPT,
     "SELECT id, refused, retry_after::text FROM push_message_accept(%s, %s::jsonb, %s::bigint, %s::integer)"},
    {PUSH_ST_MSG_SUMMARY,
     "SELECT body, target, state, category, send_at, expires_at, created_at, targeted::text, "
     "sent::text, failed::text, invalid::text, filtered::text, expired::text, cancelled::text, "
     "pending::text, paused FROM push_message_summary(%s, %s)"},
    {PUSH_ST_RC_TEST,
     "SELECT n::text, retry_after::text FROM push_rocketchat_test(%s, %s, %s, %s::jsonb, %s::bigint, %s::integer)"},
    {PUSH_ST_RC_MESSAGE,
     "SELECT body, created_at, updated_at, allowed::text, host FROM push_rocketchat_message(%s, %s, %s)"},
    {PUSH_ST_MSG_CANCEL, "SELECT push_message_cancel(%s, %s)::text"},
    {PUSH_ST_SENDER_HEALTH,
     "SELECT senders::text, queued::text, round(coalesce(oldest_seconds, 0)::numeric, 3)::text "
     "FROM push_sender_health()"},
    {NULL, NULL}
};
