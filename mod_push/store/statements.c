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
    {PUSH_ST_DEVICE_DELETE,
     "DELETE FROM push_device WHERE app_id = %s AND device_id = %s AND user_id = %s"},
    {NULL, NULL}
};
