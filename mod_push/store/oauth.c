#include "store/statements.h"
#include "store/store.h"

#include <apr_strings.h>

static push_status_t two_columns(push_db_t *db, apr_dbd_results_t *res, const char **a,
                                 const char **b)
{
    apr_dbd_row_t *row = push_db_row(db, res, 1);
    if (!row)
        return PUSH_NOTFOUND;
    *a = apr_pstrdup(db->pool, apr_dbd_get_entry(db->driver, row, 0));
    *b = apr_pstrdup(db->pool, apr_dbd_get_entry(db->driver, row, 1));
    return PUSH_OK;
}

push_status_t push_store_oauth_client(push_db_t *db, const char *client_id,
                                      const char **secret_hash, const char **scopes)
{
    const char *args[] = {client_id};
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, PUSH_ST_OAUTH_CLIENT, &res, 1, args);
    return rv == PUSH_OK ? two_columns(db, res, secret_hash, scopes) : rv;
}

push_status_t push_store_token_insert(push_db_t *db, const char *token_hash, const char *client_id,
                                      const char *scopes, int lifetime)
{
    const char *args[] = {token_hash, client_id, scopes, apr_itoa(db->pool, lifetime)};
    int n;
    return push_db_exec(db, PUSH_ST_TOKEN_INSERT, &n, 4, args);
}

push_status_t push_store_token_get(push_db_t *db, const char *token_hash, const char **client_id,
                                   const char **scopes)
{
    const char *args[] = {token_hash};
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, PUSH_ST_TOKEN_GET, &res, 1, args);
    return rv == PUSH_OK ? two_columns(db, res, client_id, scopes) : rv;
}
