#include "store/db.h"

#include "httpd.h"
#include "http_log.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "apr_dbd.h"
#include "mod_dbd.h"
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/schema.h"
#include "core/version.h"
#include "log.h"
#include "store/statements.h"
#include "store/store.h"

/* How often one statement runs before its failure stands: once, and again after each
 * of a reset connection, re-prepared statements or a deadlock/serialization failure. */
#define PUSH_DB_ATTEMPTS 4
/* How many connections the request tries when mod_dbd hands out none. */
#define PUSH_DB_ACQUIRE_TRIES 3

static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire;
static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare;

/* Per process: whether a connection has shown the expected schema version, and when
 * we last looked at a failing database (diagnosis is throttled). */
static volatile int schema_ok;
static volatile apr_time_t last_diagnosis;

static int bind_dbd(void)
{
    if (!dbd_acquire) {
        dbd_acquire = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
        dbd_prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    }
    return dbd_acquire && dbd_prepare;
}

void push_db_prepare_all(server_rec *s, apr_pool_t *ptemp)
{
    if (!bind_dbd()) {
        PUSH_SLOG(APLOG_ERR, 0, s, "PUSH0001", "mod_dbd is not loaded; mod_push needs it "
                  "(LoadModule dbd_module before mod_push)");
        return;
    }
    /* A virtual host without DBD directives of its own shares the main server's mod_dbd
     * record (httpd merges only the modules configured in it), and mod_dbd warns
     * (AH02653) for every label registered twice on one record: register once per
     * record. Records that differ but share a pool are merged by mod_dbd itself. */
    {
        module *dbd_mod = ap_find_linked_module("mod_dbd.c");
        apr_array_header_t *seen = apr_array_make(ptemp, 4, sizeof(void *));
        for (; s; s = s->next) {
            void *rec = dbd_mod ? ap_get_module_config(s->module_config, dbd_mod) : (void *)s;
            int dup = 0;
            for (int i = 0; i < seen->nelts && !dup; i++)
                dup = APR_ARRAY_IDX(seen, i, void *) == rec;
            if (dup)
                continue;
            APR_ARRAY_PUSH(seen, void *) = rec;
            for (const push_statement_t *st = push_statements; st->label; st++)
                dbd_prepare(s, st->sql, st->label);
        }
    }
}

/* The applications PushApplication names that the database does not know: logged at
 * start, since every session of theirs is refused. One query, the ids bound as an
 * array (they are [A-Za-z0-9._-], so they need no quoting inside it). */
static void check_apps(server_rec *s, apr_pool_t *p, PGconn *conn)
{
    const apr_array_header_t *apps = push_conf_apps();
    apr_array_header_t *ids;
    const char *param;
    PGresult *res;
    if (!apps || apps->nelts == 0)
        return;
    ids = apr_array_make(p, apps->nelts, sizeof(const char *));
    for (int i = 0; i < apps->nelts; i++)
        APR_ARRAY_PUSH(ids, const char *) = APR_ARRAY_IDX(apps, i, push_conf_app_t *)->app_id;
    param = apr_pstrcat(p, "{", apr_array_pstrcat(p, ids, ','), "}", NULL);
    res = PQexecParams(conn, "SELECT a FROM unnest($1::text[]) a WHERE NOT EXISTS "
                       "(SELECT 1 FROM push_application WHERE app_id = a)", 1, NULL, &param, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int i = 0; i < PQntuples(res); i++) {
            const push_conf_app_t *a = push_conf_app_find(PQgetvalue(res, i, 0));
            if (a)
                PUSH_SLOG(APLOG_WARNING, 0, s, "PUSH0014", "PushApplication %s (%s:%d) is not in the "
                          "database '%s': every session for it is refused until it is created "
                          "(pushctl app add %s)", a->app_id, a->file, a->line, PQdb(conn), a->app_id);
        }
    }
    PQclear(res);
}

push_status_t push_db_diagnose(server_rec *s, apr_pool_t *p, int level_ok, int apps)
{
    const char *params = push_srv_conf(s)->dbd_params;
    PGconn *conn;
    PGresult *res;
    push_status_t rv = PUSH_OK;
    char *conninfo;

    if (!params) {
        PUSH_SLOG(APLOG_WARNING, 0, s, "PUSH0004", "no DBDParams seen for this server (load "
                  "mod_push after mod_dbd and before DBDParams); cannot check the database");
        return PUSH_OK;
    }
    conninfo = apr_pstrcat(p, params, " connect_timeout=3", NULL);
    conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        PUSH_SLOG(APLOG_ERR, 0, s, "PUSH0005", "PostgreSQL is unreachable: %s",
                  PQerrorMessage(conn));
        PQfinish(conn);
        return PUSH_EUNAVAIL;
    }
    res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM push_schema_version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PUSH_SLOG(APLOG_ERR, 0, s, "PUSH0006", "database '%s' has no mod_push schema (%s); run "
                  "'pushctl migrate'; answering 503 until then", PQdb(conn),
                  PQresultErrorMessage(res));
        rv = PUSH_ESCHEMA;
    } else if (atoi(PQgetvalue(res, 0, 0)) != PUSH_SCHEMA_VERSION) {
        PUSH_SLOG(APLOG_ERR, 0, s, "PUSH0007", "database '%s' has mod_push schema version %s, "
                  "this build needs %d: run 'pushctl migrate'; answering 503 until then",
                  PQdb(conn), PQgetvalue(res, 0, 0), PUSH_SCHEMA_VERSION);
        rv = PUSH_ESCHEMA;
    } else {
        PUSH_SLOG(level_ok, 0, s, "PUSH0008", "database '%s' has mod_push schema version %d "
                  "(mod_push %s)", PQdb(conn), PUSH_SCHEMA_VERSION, PUSH_VERSION);
        if (apps)
            check_apps(s, p, conn);
    }
    PQclear(res);
    PQfinish(conn);
    return rv;
}

/* No connection for this request: says why, looking at the database itself at most
 * every ten seconds. */
static push_status_t unavailable(request_rec *r)
{
    apr_time_t now = apr_time_now();
    if (now - last_diagnosis > apr_time_from_sec(10)) {
        push_status_t rv;
        last_diagnosis = now;
        rv = push_db_diagnose(r->server, r->pool, APLOG_DEBUG, 0);
        if (rv == PUSH_OK)
            PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0012", "PostgreSQL answers and has the expected schema "
                      "version, yet mod_dbd opens no connection: see mod_dbd's messages (a statement "
                      "that fails to prepare means the schema was changed by hand)");
        return rv == PUSH_ESCHEMA ? PUSH_ESCHEMA : PUSH_EUNAVAIL;
    }
    PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0009", "no database connection for %s", r->uri);
    return PUSH_EUNAVAIL;
}

/* After PQreset the server has forgotten every prepared statement; mod_dbd does not
 * prepare them again, so we do, under the same labels. */
static int reprepare(push_db_t *db)
{
    for (const push_statement_t *st = push_statements; st->label; st++) {
        apr_dbd_prepared_t *tmp = NULL;
        if (apr_dbd_prepare(db->driver, db->pool, db->handle, st->sql, st->label, &tmp) != 0) {
            PUSH_RLOG(APLOG_ERR, 0, db->r, "PUSH0002", "preparing %s again failed: %s", st->label,
                      apr_dbd_error(db->driver, db->handle, 0));
            return 0;
        }
    }
    return 1;
}

static push_status_t check_schema(push_db_t *db)
{
    int version = 0;
    push_status_t rv = push_store_schema_version(db, &version);
    if (rv != PUSH_OK)
        return rv;
    if (version != PUSH_SCHEMA_VERSION) {
        PUSH_RLOG(APLOG_ERR, 0, db->r, "PUSH0003", "the database has mod_push schema version %d, "
                  "this build needs %d: run 'pushctl migrate' (or install the matching mod_push); "
                  "answering 503 until then", version, PUSH_SCHEMA_VERSION);
        return PUSH_ESCHEMA;
    }
    schema_ok = 1;
    return PUSH_OK;
}

push_status_t push_db_acquire(request_rec *r, push_db_t **out)
{
    push_db_t *db = NULL;
    push_status_t rv;

    *out = NULL;
    apr_pool_userdata_get((void **)&db, "push-db", r->pool);
    if (db) {
        *out = db;
        return PUSH_OK;
    }
    if (!bind_dbd())
        return PUSH_EUNAVAIL;
    /* ap_dbd_acquire keeps the connection for the request and registers the cleanup
     * that gives it back; when mod_dbd has none (a dead one was just dropped from the
     * pool) it answers NULL and the next call opens another. */
    for (int i = 0; i < PUSH_DB_ACQUIRE_TRIES; i++) {
        ap_dbd_t *dbd = dbd_acquire(r);
        if (!dbd)
            continue;
        db = apr_palloc(r->pool, sizeof(*db));
        *db = (push_db_t){r->pool, dbd->driver, dbd->handle, dbd->prepared, r, dbd};
        /* the SQLSTATE in every message: what tells a deadlock, whatever the server's language */
        PQsetErrorVerbosity(apr_dbd_native_handle(dbd->driver, dbd->handle), PQERRORS_VERBOSE);
        if (!schema_ok && (rv = check_schema(db)) != PUSH_OK)
            return rv;
        apr_pool_userdata_setn(db, "push-db", NULL, r->pool);
        *out = db;
        return PUSH_OK;
    }
    return unavailable(r);
}

/* --- statements, with their recovery --------------------------------------------------- */

typedef enum { FAIL_OTHER, FAIL_LOST, FAIL_STALE, FAIL_CONFLICT } failure_t;

/* The SQLSTATE of a verbose libpq message ("ERROR:  40P01: deadlock detected"). */
static int sqlstate_is(const char *msg, const char *code)
{
    const char *p = msg ? strstr(msg, ":  ") : NULL;
    return p && strncmp(p + 3, code, 5) == 0 && p[8] == ':';
}

static failure_t classify(push_db_t *db, const char *msg)
{
    PGconn *conn = apr_dbd_native_handle(db->driver, db->handle);
    if (PQstatus(conn) != CONNECTION_OK)
        return FAIL_LOST;
    /* invalid_sql_statement_name: the server forgot what mod_dbd prepared (a reset) */
    if (sqlstate_is(msg, "26000"))
        return FAIL_STALE;
    if (sqlstate_is(msg, "40P01") || sqlstate_is(msg, "40001"))
        return FAIL_CONFLICT;
    return FAIL_OTHER;
}

/* The message without libpq's LOCATION line (the server's source file). */
static const char *for_log(apr_pool_t *p, const char *msg)
{
    const char *loc;
    if (!msg)
        return "unknown error";
    loc = strstr(msg, "\nLOCATION:");
    return loc ? apr_pstrmemdup(p, msg, loc - msg) : msg;
}

/* Runs one statement (a prepared label, or sql prepared unnamed) until it succeeds or
 * its failure stands. Every statement is a transaction of its own, so running it again
 * after a deadlock, a serialization failure or a lost connection repeats nothing that
 * had taken effect. */
static push_status_t run(push_db_t *db, const char *label, const char *sql, int select,
                         apr_dbd_results_t **res, int *nrows, int nargs, const char **args)
{
    const char *name = label ? label : "list";
    for (int attempt = 1;; attempt++) {
        apr_dbd_prepared_t *st = NULL;
        const char *msg;
        failure_t why;
        int rc = 0;

        if (res)
            *res = NULL;
        if (nrows)
            *nrows = 0;
        if (label) {
            st = apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING);
            if (!st) {
                PUSH_RLOG(APLOG_ERR, 0, db->r, "PUSH0011", "database error: statement %s is not "
                          "prepared on this connection", label);
                return PUSH_EDB;
            }
        } else {
            rc = apr_dbd_prepare(db->driver, db->pool, db->handle, sql, NULL, &st);
        }
        if (rc == 0)
            rc = select ? apr_dbd_pselect(db->driver, db->pool, db->handle, res, st, 1, nargs, args)
                        : apr_dbd_pquery(db->driver, db->pool, db->handle, nrows, st, nargs, args);
        if (rc == 0)
            return PUSH_OK;
        msg = for_log(db->pool, apr_dbd_error(db->driver, db->handle, rc));
        why = classify(db, msg);
        if (why == FAIL_LOST) {
            PGconn *conn = apr_dbd_native_handle(db->driver, db->handle);
            PUSH_RLOG(APLOG_WARNING, 0, db->r, "PUSH0010", "database connection lost (%s: %s); "
                      "reconnecting", name, msg);
            PQreset(conn);
            if (PQstatus(conn) != CONNECTION_OK)
                return unavailable(db->r);
            PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
            if (!reprepare(db) || attempt >= PUSH_DB_ATTEMPTS)
                return unavailable(db->r);
            continue;
        }
        if (attempt < PUSH_DB_ATTEMPTS && why == FAIL_STALE && reprepare(db))
            continue;
        if (attempt < PUSH_DB_ATTEMPTS && why == FAIL_CONFLICT) {
            /* the other transaction has gone on or been rolled back: a short, spread wait */
            PUSH_RLOG(APLOG_INFO, 0, db->r, "PUSH0016", "%s: %s; running it again", name, msg);
            apr_sleep(apr_time_from_msec(5 * attempt) + apr_time_now() % 5000);
            continue;
        }
        PUSH_RLOG(APLOG_ERR, 0, db->r, "PUSH0011", "database error: %s: %s", name, msg);
        return PUSH_EDB;
    }
}

push_status_t push_db_select(push_db_t *db, const char *label, apr_dbd_results_t **res,
                             int nargs, const char **args)
{
    return run(db, label, NULL, 1, res, NULL, nargs, args);
}

push_status_t push_db_exec(push_db_t *db, const char *label, int *nrows, int nargs,
                           const char **args)
{
    return run(db, label, NULL, 0, NULL, nrows, nargs, args);
}

push_status_t push_db_select_sql(push_db_t *db, const char *sql, apr_dbd_results_t **res,
                                 int nargs, const char **args)
{
    return run(db, NULL, sql, 1, res, NULL, nargs, args);
}

apr_dbd_row_t *push_db_row(push_db_t *db, apr_dbd_results_t *res, int n)
{
    apr_dbd_row_t *row = NULL;
    if (!res || n < 1 || n > apr_dbd_num_tuples(db->driver, res))
        return NULL;
    return apr_dbd_get_row(db->driver, db->pool, res, &row, n) == 0 ? row : NULL;
}

const char *push_db_col(push_db_t *db, apr_dbd_row_t *row, int i)
{
    /* apr_dbd_get_entry gives "" for SQL NULL on pgsql; datum_get tells them apart */
    char *v = NULL;
    if (!row || apr_dbd_datum_get(db->driver, row, i, APR_DBD_TYPE_STRING, &v) != APR_SUCCESS || !v)
        return NULL;
    return apr_pstrdup(db->pool, v);
}

const char *push_db_first_value(push_db_t *db, apr_dbd_results_t *res)
{
    return push_db_col(db, push_db_row(db, res, 1), 0);
}
