/* Audience expansion: claims due messages and turns their target into deliveries, one
 * chunk per transaction. The cursor commits with each chunk, so a sender killed in the
 * middle of a broadcast leaves a message whose lease runs out and whose expansion the
 * next sender resumes at the first device not yet expanded. */
#include "sender/internal.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>


#define FIRST_CHUNK 500   /* small, so that the first deliveries start at once */

/* One block for the entry and its strings (the worker frees it with one free). */
static push_qjob_t *qjob(const char *app, const char *msg, PGresult *res, int i)
{
    const char *src[6] = {app, msg, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                          PQgetvalue(res, i, 3), PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4)};
    size_t len[6], total = sizeof(push_qjob_t);
    push_qjob_t *j;
    char *at;
    const char **dst[6];
    for (int k = 0; k < 6; k++)
        total += src[k] ? (len[k] = strlen(src[k])) + 1 : (len[k] = 0);
    if (!(j = malloc(total)))
        return NULL;
    dst[0] = &j->app, dst[1] = &j->msg, dst[2] = &j->dev, dst[3] = &j->provider, dst[4] = &j->token,
    dst[5] = &j->topic;
    at = (char *)(j + 1);
    for (int k = 0; k < 6; k++) {
        if (!src[k]) {
            *dst[k] = NULL;
            continue;
        }
        memcpy(at, src[k], len[k] + 1);
        *dst[k] = at;
        at += len[k] + 1;
    }
    j->next = NULL;
    return j;
}

/* Whether another sender is alive: then the audience is expanded ahead of this
 * sender's workers, and what they cannot take stays due for every sender. */
static int others_alive(push_sender_t *sd, PGconn **db)
{
    const char *params[1] = {sd->owner};
    PGresult *res = push_pg_exec(sd, db, "SELECT count(*) FROM push_sender WHERE owner <> $1 "
                                         "AND seen_at > now() - interval '30 seconds'", 1, params);
    int n = res && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 1;
    PQclear(res);
    return n > 0;
}

/* Waits until at least half of the hand-over queue is free, for at most max_ms (the
 * message's lease is renewed by each chunk). Returns the free slots. */
static int queue_room(push_sender_t *sd, int max_ms)
{
    apr_time_t until = apr_time_now() + apr_time_from_msec(max_ms);
    int room;
    apr_thread_mutex_lock(sd->qlock);
    while (sd->qcap - sd->qcount < sd->qcap / 2 && !SENDER_STOPPING(sd)
           && apr_time_now() < until)
        apr_thread_cond_timedwait(sd->qspace, sd->qlock, apr_time_from_msec(100));
    room = sd->qcap - sd->qcount;
    apr_thread_mutex_unlock(sd->qlock);
    return room;
}

/* Expands a claimed message chunk by chunk. Alone, the sender expands as its workers
 * take deliveries: each chunk is the room in the hand-over queue, and all of it is
 * claimed as it is inserted, so a delivery costs the outbox one insert and one delete.
 * With other senders alive, chunks run ahead and only the queue's room is claimed:
 * the rest is there for the others' claims. */
static void expand_message(push_sender_t *sd, PGconn **db, const char *app, const char *msg)
{
    char chunk[16], lease[16], claim[16];
    const char *params[6] = {app, msg, sd->owner, chunk, lease, claim};
    int first = 1, chunks = 0, shared = others_alive(sd, db);
    long total = 0;
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);
    apr_atomic_set32(&sd->feeding, !shared);
    while (!SENDER_STOPPING(sd)) {
        PGresult *res;
        long seen;
        int rows, room, size = sd->c->chunk;
        if (first && size > FIRST_CHUNK)
            size = FIRST_CHUNK;
        first = 0;
        if (++chunks % 20 == 0) {
            shared = others_alive(sd, db);
            apr_atomic_set32(&sd->feeding, !shared);
        }
        if (shared) {
            apr_thread_mutex_lock(sd->qlock);
            room = sd->qcap - sd->qcount;
            apr_thread_mutex_unlock(sd->qlock);
        } else {
            room = queue_room(sd, sd->c->lease * 1000 / 3);
            if (room > 0 && room < size)
                size = room;
        }
        apr_snprintf(chunk, sizeof(chunk), "%d", size);
        apr_snprintf(claim, sizeof(claim), "%d", room);
        res = push_pg_exec(sd, db, "SELECT seen, device_id, provider, token, topic "
                                   "FROM push_message_expand($1, $2, $3, $4::integer, $5::integer, "
                                   "$6::integer)", 6, params);
        if (!res)
            break;    /* logged; the lease runs out and the expansion resumes later */
        rows = PQntuples(res);
        seen = rows ? atol(PQgetvalue(res, 0, 0)) : 0;
        /* the chunk's deliveries are claimed already: straight to the workers */
        for (int i = 0; i < rows; i++) {
            push_qjob_t *j;
            if (PQgetisnull(res, i, 1) || !(j = qjob(app, msg, res, i)))
                continue;   /* nothing claimed; or no memory: its lease runs out, a claim takes it */
            if (!push_queue_put(sd, j)) {
                free(j);
                break;
            }
            if (i % 200 == 199)
                push_sender_wake(sd);
        }
        PQclear(res);
        if (seen == 0)
            break;
        total += seen;
        push_sender_wake(sd);
    }
    apr_atomic_set32(&sd->feeding, 0);
    push_sender_wake(sd);   /* workers waiting for the queue: the outbox is theirs again */
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
