/* A database connection as the store sees it: an apr_dbd handle and its prepared
 * statements. The glue fills one from mod_dbd; the store never includes httpd.h. */
#ifndef PUSH_DB_H
#define PUSH_DB_H

#include <apr_dbd.h>
#include <apr_hash.h>

#include "core/status.h"

typedef struct {
    apr_pool_t *pool;                 /* the request's pool: results live here */
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared;             /* label -> apr_dbd_prepared_t */
    const char *error;                /* the last failure, for the log */
    int stale_statements;             /* the server no longer knows our statements */
} push_db_t;

/* Runs a prepared select; *res holds all rows (random access). */
push_status_t push_db_select(push_db_t *db, const char *label, apr_dbd_results_t **res,
                             int nargs, const char **args);

/* Runs a prepared statement that returns no rows; *nrows gets the affected count. */
push_status_t push_db_exec(push_db_t *db, const char *label, int *nrows, int nargs,
                           const char **args);

/* The first column of the first row, copied into db->pool; NULL when there is no row
 * or the value is NULL. */
const char *push_db_first_value(push_db_t *db, apr_dbd_results_t *res);

#endif
