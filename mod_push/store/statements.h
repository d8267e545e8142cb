/* Every SQL statement the module runs, by label. They are registered with mod_dbd
 * at configuration time (prepared once per connection) and looked up by label.
 * Labels are lower-case identifiers (mod_dbd's pgsql driver needs that). */
#ifndef PUSH_STATEMENTS_H
#define PUSH_STATEMENTS_H

#define PUSH_ST_SCHEMA_VERSION  "push_schema_version_get"
#define PUSH_ST_SESSION_USER    "push_session_user"
#define PUSH_ST_DEVICE_REGISTER "push_device_register"
#define PUSH_ST_DEVICE_DELETE   "push_device_delete_own"

typedef struct {
    const char *label;
    const char *sql;
} push_statement_t;

/* The table, ended by a {NULL, NULL} entry. */
extern const push_statement_t push_statements[];

#endif
