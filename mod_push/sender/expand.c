/* Audience expansion: claims due messages and turns their target into deliveries, one
 * chunk per transaction. The cursor commits with each chunk, so a sender killed in the
 * middle of a broadcast leaves a message whose lease runs out and whose expansion the
 * next sender resumes at the first device not yet expanded. */
#include "sender/internal.h"

#include <stdlib.h>

#include <apr_strings.h>


#define FIRST_CHUNK 500   /* small, so that the first deliveries start at once */

static void expand_message(push_sender_t *sd, PGconn **db, const char *app, const char *msg)
{
    char chunk[16], lease[16];
    const char *params[5] = {app, msg, sd->owner, chunk, lease};
    int first = 1;
    long total = 0;
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);
    while (!SENDER_STOPPING(sd)) {
        PGresult *res;
        long seen;
        apr_snprintf(chunk, sizeof(chunk), "%d",
                     first && sd->c->chunk > FIRST_CHUNK ? FIRST_CHUNK : sd->c->chunk);
        first = 0;
        res = push_pg_exec(sd, db, "SELECT push_message_expand($1, $2, $3, $4::integer, $5::integer)",
                           5, params);
        if (!res)
            return;   /* logged; the lease runs out and the expansion resumes later */
        seen = atol(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (seen == 0)
            break;
        total += seen;
        push_sender_wake(sd);
    }
    SLOG(sd, APLOG_DEBUG, "PUSH0611", "sender: message %s/%s expanded (%ld devices looked at)",
         app, msg, total);
}

void *APR_THREAD_FUNC push_expand_thread(apr_thread_t *t, void *data)
{
    push_sender_t *sd = data;
    PGconn *db = NULL;
    apr_uint32_t seen = 0;
    char lease[16];
    const char *params[2] = {sd->owner, lease};
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);

    while (!SENDER_STOPPING(sd)) {
        PGresult *res = push_pg_exec(sd, &db, "SELECT app_id, message_id, expired "
                                              "FROM push_message_claim($1, $2::integer)", 2, params);
        if (res && PQntuples(res) == 1) {
            char app[256], msg[256];
            int expired = PQgetvalue(res, 0, 2)[0] == 't';
            apr_cpystrn(app, PQgetvalue(res, 0, 0), sizeof(app));
            apr_cpystrn(msg, PQgetvalue(res, 0, 1), sizeof(msg));
            PQclear(res);
            if (expired) {
                const char *p3[3] = {app, msg, sd->owner};
                PQclear(push_pg_exec(sd, &db, "SELECT push_message_expire($1, $2, $3)", 3, p3));
                SLOG(sd, APLOG_INFO, "PUSH0612", "sender: message %s/%s expired before it was sent",
                     app, msg);
            } else {
                expand_message(sd, &db, app, msg);
            }
            continue;   /* there may be more due */
        }
        PQclear(res);
        if (!res && !db)
            continue;
        /* scheduled messages become due without a NOTIFY: look again soon */
        push_sender_wait(sd, &seen, 250);
    }
    PQfinish(db);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}
