/* The request's database connection, in mod_authn_dbd's idiom: a handler acquires it
 * once (ap_dbd_acquire; the request pool's cleanup gives it back to mod_dbd's pool) and
 * calls store functions with it. Recovery lives here, below every store function: a
 * connection lost with a PostgreSQL restart is reset and its statements prepared again,
 * statements the server forgot are prepared again, and a deadlock or serialization
 * failure is retried, each a bounded number of times before the statement fails.
 *
 * Only db.c speaks to httpd and mod_dbd; the other store files see this header, which
 * names httpd's types without including httpd.h. */
#ifndef PUSH_DB_H
#define PUSH_DB_H

#include <apr_dbd.h>
#include <apr_hash.h>

#include "core/status.h"

struct request_rec;
struct server_rec;

typedef struct {
    apr_pool_t *pool;                 /* the request's pool: results live here */
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;             /* label -> apr_dbd_prepared_t */
    struct request_rec *r;            /* for the log */
    void *dbd;                        /* mod_dbd's ap_dbd_t */
} push_db_t;

/* The request's connection: the first call takes one from mod_dbd (and checks the
 * schema version once per process), later calls return the same one. PUSH_EUNAVAIL
 * when none could be had, PUSH_ESCHEMA when the database holds another schema version;
 * both are logged here, callers only choose their answer. */
push_status_t push_db_acquire(struct request_rec *r, push_db_t **db);

/* Runs a prepared select; *res holds all rows (random access). A failure that survives
 * the retries is logged and answered PUSH_EDB (PUSH_EUNAVAIL when the connection is
 * gone and cannot be reset). */
push_status_t push_db_select(push_db_t *db, const char *label, apr_dbd_results_t **res,
                             int nargs, const char **args);

/* Runs a prepared statement that returns no rows; *nrows gets the affected count. */
push_status_t push_db_exec(push_db_t *db, const char *label, int *nrows, int nargs,
                           const char **args);

/* Runs a select built at run time (the lists): prepared unnamed, values bound. */
push_status_t push_db_select_sql(push_db_t *db, const char *sql, apr_dbd_results_t **res,
                                 int nargs, const char **args);

/* Row n (1-based) of res, or NULL past the end. Never asks past the last row: the pgsql
 * driver frees the result there. */
apr_dbd_row_t *push_db_row(push_db_t *db, apr_dbd_results_t *res, int n);

/* Column i of a row, copied into db->pool; NULL for SQL NULL. */
const char *push_db_col(push_db_t *db, apr_dbd_row_t *row, int i);

/* The first column of the first row; NULL when there is no row or the value is NULL. */
const char *push_db_first_value(push_db_t *db, apr_dbd_results_t *res);

/* Registers every statement of statements.c with mod_dbd, once per mod_dbd server record
 * (virtual hosts without DBD directives share the main server's). */
void push_db_prepare_all(struct server_rec *s, apr_pool_t *ptemp);

/* Looks at the database behind s's DBDParams and logs what it finds: used at startup
 * and when no connection can be had; with apps, also the PushApplication ids that the
 * database does not know. Returns PUSH_OK, PUSH_EUNAVAIL or PUSH_ESCHEMA. */
push_status_t push_db_diagnose(struct server_rec *s, apr_pool_t *p, int level_ok, int apps);

#endif
