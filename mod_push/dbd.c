#include "dbd.h"

#include "apr_optional.h"
#include "apr_strings.h"
#include "http_log.h"
#include "apr_dbd.h"
#include "mod_dbd.h"
#include <libpq-fe.h>

#include "config.h"
#include "core/schema.h"
#include "core/version.h"
#include "log.h"
#include "store/statements.h"
#include "store/store.h"

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close;
static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare;

/* Per process: whether a connection has shown the expected schema version, and when
 * we last looked at a failing database (diagnosis is throttled). */
static volatile int schema_ok;
static volatile apr_time_t last_diagnosis;

static int bind_dbd(void)
{
    if (!dbd_open) {
        dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
        dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
        dbd_prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    }
    return dbd_open && dbd_close && dbd_prepare;
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

/* After PQreset the server has forgotten every prepared statement; mod_dbd does not
 * prepare them again, so we do, under the same labels. */
static int reprepare(request_rec *r, ap_dbd_t *dbd)
{
    for (const push_statement_t *st = push_statements; st->label; st++) {
        apr_dbd_prepared_t *tmp = NULL;
        if (apr_dbd_prepare(dbd->driver, r->pool, dbd->handle, st->sql, st->label, &tmp) != 0) {
            PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0002", "preparing %s again failed: %s", st->label,
                      apr_dbd_error(dbd->driver, dbd->handle, 0));
            return 0;
        }
    }
    return 1;
}

static push_status_t check_schema(request_rec *r, push_db_t *db)
{
    int version = 0;
    push_status_t rv = push_store_schema_version(db, &version);
    if (rv != PUSH_OK)
        return rv;
    if (version != PUSH_SCHEMA_VERSION) {
        PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0003", "the database has mod_push schema version %d, "
                  "this build needs %d: run 'pushctl migrate' (or install the matching mod_push); "
                  "answering 503 until then", version, PUSH_SCHEMA_VERSION);
        return PUSH_ESCHEMA;
    }
    schema_ok = 1;
    return PUSH_OK;
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

push_status_t push_db_with(request_rec *r, push_db_fn fn, void *ctx)
{
    push_status_t rv = PUSH_EUNAVAIL;

    if (!bind_dbd())
        return PUSH_EUNAVAIL;
    /* A pooled connection may have died with a PostgreSQL restart: mod_dbd then hands
     * out another or none; a few turns cover a pool of stale connections. */
    for (int attempt = 0; attempt < 4; attempt++) {
        ap_dbd_t *dbd = dbd_open(r->pool, r->server);
        push_db_t db;
        PGconn *conn;

        if (!dbd) {
            rv = PUSH_EUNAVAIL;
            continue;
        }
        db = (push_db_t){r->pool, dbd->driver, dbd->handle, dbd->prepared, NULL, 0};
        rv = schema_ok ? PUSH_OK : check_schema(r, &db);
        if (rv == PUSH_OK)
            rv = fn(&db, ctx);
        if (rv != PUSH_EDB) {
            dbd_close(r->server, dbd);
            if (rv == PUSH_ESCHEMA)
                return rv;
            if (rv == PUSH_EUNAVAIL)
                continue;
            return rv;
        }
        conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
        if (PQstatus(conn) != CONNECTION_OK) {
            PUSH_RLOG(APLOG_WARNING, 0, r, "PUSH0010", "database connection lost (%s); "
                      "reconnecting", db.error);
            PQreset(conn);
            if (PQstatus(conn) == CONNECTION_OK)
                reprepare(r, dbd);
            dbd_close(r->server, dbd);
            rv = PUSH_EUNAVAIL;
            continue;
        }
        if (db.stale_statements && reprepare(r, dbd)) {
            dbd_close(r->server, dbd);
            continue;
        }
        dbd_close(r->server, dbd);
        PUSH_RLOG(APLOG_ERR, 0, r, "PUSH0011", "database error: %s", db.error);
        return PUSH_EDB;
    }
    return unavailable(r);
}
