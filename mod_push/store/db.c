#include "db.h"

#include <apr_strings.h>
#include <string.h>

static apr_dbd_prepared_t *statement(push_db_t *db, const char *label)
{
    apr_dbd_prepared_t *st = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
    if (!st)
        db->error = apr_psprintf(db->pool, "statement %s is not prepared on this connection",
                                 label);
    return st;
}

static push_status_t failed(push_db_t *db, const char *label, int rc)
{
    const char *msg = apr_dbd_error(db->driver, db->handle, rc);
    db->error = apr_psprintf(db->pool, "%s: %s", label, msg ? msg : "unknown error");
    /* after a reconnect the server has forgotten what mod_dbd prepared */
    if (msg && strstr(msg, "prepared statement") && strstr(msg, "does not exist"))
        db->stale_statements = 1;
    return PUSH_EDB;
}

push_status_t push_db_select(push_db_t *db, const char *label, apr_dbd_results_t **res,
                             int nargs, const char **args)
{
    apr_dbd_prepared_t *st = statement(db, label);
    int rc;
    *res = NULL;
    if (!st)
        return PUSH_EDB;
    rc = apr_dbd_pselect(db->driver, db->pool, db->handle, res, st, 1, nargs, args);
    return rc ? failed(db, label, rc) : PUSH_OK;
}

push_status_t push_db_exec(push_db_t *db, const char *label, int *nrows, int nargs,
                           const char **args)
{
    apr_dbd_prepared_t *st = statement(db, label);
    int rc;
    *nrows = 0;
    if (!st)
        return PUSH_EDB;
    rc = apr_dbd_pquery(db->driver, db->pool, db->handle, nrows, st, nargs, args);
    return rc ? failed(db, label, rc) : PUSH_OK;
}

const char *push_db_first_value(push_db_t *db, apr_dbd_results_t *res)
{
    apr_dbd_row_t *row = NULL;
    char *v = NULL;
    if (!res || apr_dbd_get_row(db->driver, db->pool, res, &row, 1) != 0)
        return NULL;
    if (apr_dbd_datum_get(db->driver, row, 0, APR_DBD_TYPE_STRING, &v) != APR_SUCCESS || !v)
        return NULL; /* SQL NULL: get_entry would say "" */
    return apr_pstrdup(db->pool, v);
}
