/* libpq for the sender: its own connections (mod_dbd's pool lives in the children),
 * reconnected when PostgreSQL restarts. */
#include "sender/internal.h"

#include <apr_strings.h>

#include "core/metrics.h"


PGconn *push_pg_connect(push_sender_t *sd)
{
    int delay = 100, logged = 0;
    while (!SENDER_STOPPING(sd)) {
        PGconn *db = PQconnectdb(sd->c->conninfo);
        if (PQstatus(db) == CONNECTION_OK) {
            /* the sender's statements are short and repeated: no JIT, and the plans
             * PL/pgSQL caches (the claim, whose LIMIT needs a plan for its value, plans
             * itself with EXECUTE). Its commits need not wait for the disk: what a crash
             * of PostgreSQL could lose (a claim, an expanded chunk with its cursor, a
             * batch of outcomes) is done again, as after a crash of the sender —
             * delivery is at least once anyway. */
            PQclear(PQexec(db, "SET jit = off; SET synchronous_commit = off"));
            if (logged)
                SLOG(sd, APLOG_NOTICE, "PUSH0602", "sender: database connection is back");
            return db;
        }
        push_metrics_sender_beat(push_metrics_shm, apr_time_now());   /* waiting, not dead */
        if (!logged++)
            SLOG(sd, APLOG_ERR, "PUSH0601", "sender: cannot connect to the database: %s",
                 PQerrorMessage(db));
        PQfinish(db);
        apr_sleep(apr_time_from_msec(delay));
        delay = delay < 2000 ? delay * 2 : 2000;
    }
    return NULL;
}

PGresult *push_pg_exec(push_sender_t *sd, PGconn **db, const char *sql, int n,
                       const char *const *params)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *res;
        ExecStatusType st;
        if (!*db && !(*db = push_pg_connect(sd)))
            return NULL;
        res = PQexecParams(*db, sql, n, NULL, params, NULL, NULL, 0);
        st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
            return res;
        if (PQstatus(*db) != CONNECTION_OK) {
            PQclear(res);
            PQfinish(*db);
            *db = NULL;
            continue;   /* PostgreSQL went away: connect again and repeat once */
        }
        SLOG(sd, APLOG_ERR, "PUSH0603", "sender: statement failed: %s (%.60s...)",
             PQresultErrorMessage(res), sql);
        PQclear(res);
        return NULL;
    }
    return NULL;
}

void push_pg_array_add(char *buf, size_t cap, size_t *at, const char *app)
{
    size_t len = strlen(app);
    if (*at + len + 4 >= cap)
        return;
    if (*at > 1)
        buf[(*at)++] = ',';
    buf[(*at)++] = '"';
    memcpy(buf + *at, app, len);
    *at += len;
    buf[(*at)++] = '"';
}

void push_pg_array_end(char *buf, size_t at)
{
    buf[at] = '}';
    buf[at + 1] = '\0';
}
