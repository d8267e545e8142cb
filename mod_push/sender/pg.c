/* libpq for the sender: its own connections (mod_dbd's pool lives in the children),
 * reconnected when PostgreSQL restarts. */
#include "sender/internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <apr_strings.h>

#include "core/metrics.h"


/* Waits until db's socket is ready for events, in slices of a second with a beat in
 * each; gives up at deadline (0: never) or on a poll error. 1 ready, 0 not. */
static int pg_wait(push_sender_t *sd, PGconn *db, short events, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd = {PQsocket(db), events, 0};
        int ms = 1000, rc;
        if (pfd.fd < 0)
            return 0;
        if (deadline) {
            apr_time_t left = deadline - push_metrics_clock();
            if (left <= 0)
                return 0;
            if (left < apr_time_from_msec(ms))
                ms = (int)apr_time_as_msec(left) + 1;
        }
        rc = poll(&pfd, 1, ms);
        push_sender_beat(sd);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return 0;
    }
}

/* A server that vanishes without a word (its host down, a failover to another address)
 * leaves a waiting statement waiting until TCP gives up, two hours and more with the
 * system's defaults, while the main thread beats: the sender's sockets give up after
 * about 40 s without an answer from the peer's kernel instead (keepalive probes, and a
 * limit on unacknowledged data), unless DBDParams sets keepalives or tcp_user_timeout
 * itself. A statement waiting for a lock keeps its connection: the peer answers the
 * probes. */
static void dead_peer_limits(PGconn *db)
{
    PQconninfoOption *opts = PQconninfo(db);
    int own = 0, fd = PQsocket(db);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val && *o->val && (strcmp(o->keyword, "keepalives") == 0 || strncmp(o->keyword, "keepalives_", 11) == 0 ||
                                  strcmp(o->keyword, "tcp_user_timeout") == 0))
            own = 1;
    PQconninfoFree(opts);
    if (own || fd < 0)
        return;
#if defined(TCP_KEEPIDLE) && defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
    {
        int on = 1, idle = 20, intvl = 5, cnt = 4;
        if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        }
    }
#endif
#ifdef TCP_USER_TIMEOUT
    {
        unsigned int ms = 40000;
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
    }
#endif
}

PGconn *push_pg_connect_once(push_sender_t *sd, int log)
{
    apr_time_t deadline = 0;
    PGconn *db = PQconnectStart(sd->c->conninfo);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int fd = -1;
    if (!db)
        return NULL;   /* out of memory */
    while (PQstatus(db) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (PQsocket(db) != fd) {
            /* each address (host=a,b; a name with several) has its own time */
            fd = PQsocket(db);
            deadline = push_metrics_clock() + apr_time_from_sec(PUSH_PG_CONNECT_SECONDS);
        }
        if (!pg_wait(sd, db, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
            if (log)
                SLOG(sd, APLOG_ERR, "PUSH0601", "sender: cannot connect to the database: no answer "
                     "within %d s", PUSH_PG_CONNECT_SECONDS);
            PQfinish(db);
            return NULL;
        }
        st = PQconnectPoll(db);
    }
    if (PQstatus(db) != CONNECTION_OK || PQsetnonblocking(db, 1) != 0) {
        if (log)
            SLOG(sd, APLOG_ERR, "PUSH0601", "sender: cannot connect to the database: %s",
                 PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    dead_peer_limits(db);
    if (apr_os_thread_equal(apr_os_thread_current(), sd->main_thread))
        sd->main_connects++;   /* a new connection listens to nothing yet */
    return db;
}

/* Sends sql and waits for its last result (NULL when the connection failed). */
static PGresult *pg_run(push_sender_t *sd, PGconn *db, const char *sql, int n, const char *const *params)
{
    PGresult *res = NULL, *r;
    int f;
    /* without parameters the simple protocol, which also runs a list of statements */
    if (!(n ? PQsendQueryParams(db, sql, n, NULL, params, NULL, NULL, 0) : PQsendQuery(db, sql)))
        return NULL;
    while ((f = PQflush(db)) == 1) {
        /* the server may be sending while it reads: take that in as well */
        if (!pg_wait(sd, db, POLLOUT | POLLIN, 0) || !PQconsumeInput(db))
            return NULL;
    }
    if (f < 0)
        return NULL;
    for (;;) {
        while (PQisBusy(db)) {
            if (!pg_wait(sd, db, POLLIN, 0) || !PQconsumeInput(db)) {
                PQclear(res);
                return NULL;
            }
        }
        if (!(r = PQgetResult(db)))
            return res;
        /* a result per statement, then NULL: the first failure, else the last (PQexec's) */
        if (res && PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
            PQclear(r);
            continue;
        }
        PQclear(res);
        res = r;
    }
}

PGconn *push_pg_connect(push_sender_t *sd)
{
    int delay = 100, logged = 0;
    while (!SENDER_STOPPING(sd)) {
        PGconn *db = push_pg_connect_once(sd, !logged++);
        if (db) {
            /* the sender's statements are short and repeated: no JIT, and the plans
             * PL/pgSQL caches (the claim, whose LIMIT needs a plan for its value, plans
             * itself with EXECUTE). Its commits need not wait for the disk: what a crash
             * of PostgreSQL could lose (a claim, an expanded chunk with its cursor, a
             * batch of outcomes) is done again, as after a crash of the sender —
             * delivery is at least once anyway. */
            static volatile apr_uint32_t warned;
            int ok;
            PGresult *res = pg_run(sd, db, "SET synchronous_commit = off", 0, NULL), *jit = NULL;
            /* one statement each (a list runs in one transaction, which a failure undoes
             * whole); a server without jit (before PostgreSQL 11) refuses that one: the
             * sender works without it; said once */
            if (res && !(jit = pg_run(sd, db, "SET jit = off", 0, NULL))) {
                PQclear(res);
                res = NULL;
            }
            if (res && (PQresultStatus(res) != PGRES_COMMAND_OK || PQresultStatus(jit) != PGRES_COMMAND_OK) &&
                !apr_atomic_xchg32(&warned, 1))
                SLOG(sd, APLOG_WARNING, "PUSH0603", "sender: a session setting failed (the sender "
                     "works without it): %s", PQresultErrorMessage(PQresultStatus(res) != PGRES_COMMAND_OK ? res : jit));
            ok = res != NULL;
            PQclear(jit);
            PQclear(res);
            if (ok) {
                if (logged > 1)
                    SLOG(sd, APLOG_NOTICE, "PUSH0602", "sender: database connection is back");
                return db;
            }
            PQfinish(db);
        }
        push_sender_beat(sd);   /* waiting, not dead */
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
        res = pg_run(sd, *db, sql, n, params);
        st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
            return res;
        if (!res || PQstatus(*db) != CONNECTION_OK) {
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
