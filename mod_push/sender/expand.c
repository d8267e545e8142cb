/* Audience expansion: claims due messages and walks their audience in chunks, each a
 * range of device ids leased to this sender (push_chunk) and handed to one worker as a
 * whole. The cursor commits with each chunk; the deliveries themselves get no outbox
 * row unless they need one (a retry, a failure, a filter). A sender killed in the
 * middle of a broadcast leaves the chunks its workers had under way: once their leases
 * run out, any sender walks their ranges again (push_chunk_reclaim), and the message's
 * expansion resumes at the first device no chunk has covered. */
#include "sender/internal.h"

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>


#define MAX_CHUNKS 8   /* chunks walked in one statement */

/* One block for the entry and its strings (the worker frees it with one free). */
static push_qjob_t *qjob(const char *app, const char *msg, apr_int64_t chunk, PGresult *res, int i,
                         int col)
{
    const char *src[6] = {app, msg, PQgetvalue(res, i, col), PQgetvalue(res, i, col + 1),
                          PQgetisnull(res, i, col + 2) ? NULL : PQgetvalue(res, i, col + 2),
                          PQgetisnull(res, i, col + 3) ? NULL : PQgetvalue(res, i, col + 3)};
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
    j->chunk = chunk;
    return j;
}

/* Waits until at least half of the hand-over queue is free, for at most max_ms. Returns
 * the free slots. */
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

/* Hands the deliveries of one chunk (rows first .. first + rows - 1 of res: the chunk id
 * in column ccol, the delivery from dcol on) to the workers. Returns the deliveries queued; 0 when the chunk had none, -1 when they could
 * not be queued (no memory, or the sender stops): the chunk stays leased to this sender,
 * and it is given back at the stop, or its lease runs out, and it is sent from scratch
 * either way since no worker started it. */
static int queue_chunk(push_sender_t *sd, PGresult *res, int first, int rows, const char *app,
                       const char *msg, int ccol, int dcol)
{
    push_qjob_t *head = NULL, *tail = NULL;
    int n = 0;
    apr_int64_t chunk;
    if (rows == 0 || PQgetisnull(res, first, ccol) || PQgetisnull(res, first, dcol))
        return 0;
    chunk = apr_atoi64(PQgetvalue(res, first, ccol));
    for (int i = first; i < first + rows; i++) {
        push_qjob_t *j = qjob(app, msg, chunk, res, i, dcol);
        if (!j)
            break;
        if (tail)
            tail->next = j;
        else
            head = j;
        tail = j;
        n++;
    }
    if (n == rows && push_queue_put(sd, head, tail, n)) {
        push_sender_wake_workers(sd);
        return n;
    }
    for (push_qjob_t *next; head; head = next) {
        next = head->next;
        free(head);
    }
    if (!SENDER_STOPPING(sd))
        push_chunk_orphan(sd, chunk);   /* no memory: given back, sent later */
    return -1;
}

/* Takes over one chunk whose sender died or gave it back. Returns 1 when there was one. */
static int reclaim_chunk(push_sender_t *sd, PGconn **db)
{
    char lease[16];
    const char *params[2] = {sd->owner, lease};
    PGresult *res;
    int got;
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);
    res = push_pg_exec(sd, db, "SELECT app_id, message_id, chunk_id, device_id, provider, token, topic "
                               "FROM push_chunk_reclaim($1, $2::integer)", 2, params);
    if (!res || PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    got = queue_chunk(sd, res, 0, PQntuples(res), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), 2, 3);
    if (got > 0)
        SLOG(sd, APLOG_INFO, "PUSH0613", "sender: took over chunk %s of message %s/%s (%d deliveries)",
             PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), got);
    PQclear(res);
    return 1;
}

/* Walks a claimed message's audience chunk by chunk, as the workers take them: each
 * chunk is at most half a worker's batch (PushSenderBatch, PushSenderChunk) and the room in
 * the hand-over queue. Other senders may take chunks of the same message meanwhile; the
 * one that finds the audience complete says so (PUSH0611). Returns 0 when it stopped on
 * an error. */
static int expand_message(push_sender_t *sd, PGconn **db, const char *app, const char *msg)
{
    char chunk[16], chunks[16], lease[16];
    const char *params[6] = {app, msg, sd->owner, chunk, chunks, lease};
    int ok = 1;
    long total = 0;
    apr_time_t last_reclaim = apr_time_now();
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);
    apr_atomic_set32(&sd->feeding, 1);
    while (!SENDER_STOPPING(sd)) {
        PGresult *res;
        /* half a batch: a worker holds two chunks (deliver.c) */
        int half = sd->c->batch / 2 > 0 ? sd->c->batch / 2 : 1;
        int room, size = sd->c->chunk < half ? sd->c->chunk : half;
        room = queue_room(sd, sd->c->lease * 1000 / 3);
        if (room <= 0)
            continue;
        if (room < size)
            size = room;
        /* chunks of senders that died come before the rest of a long broadcast */
        if (apr_time_now() - last_reclaim > apr_time_from_sec(1)) {
            last_reclaim = apr_time_now();
            if (reclaim_chunk(sd, db))
                continue;
        }
        apr_snprintf(chunk, sizeof(chunk), "%d", size);
        /* as many chunks as the queue has room for, at most MAX_CHUNKS, walked together */
        apr_snprintf(chunks, sizeof(chunks), "%d", room / size < 1 ? 1 : room / size > MAX_CHUNKS ? MAX_CHUNKS : room / size);
        res = push_pg_exec(sd, db, "SELECT chunk_id, device_id, provider, token, topic "
                                   "FROM push_message_next_chunk($1, $2, $3, $4::integer, $5::integer, "
                                   "$6::integer)", 6, params);
        if (!res) {
            ok = 0;
            break;    /* logged; the expansion resumes later */
        }
        if (PQntuples(res) == 0) {
            PQclear(res);
            break;    /* not expanding any more: cancelled, or another sender completed it */
        }
        if (PQgetisnull(res, 0, 0)) {
            PQclear(res);
            SLOG(sd, APLOG_DEBUG, "PUSH0611", "sender: message %s/%s expanded (%ld deliveries "
                 "handed out by this sender)", app, msg, total);
            break;
        }
        /* the rows come chunk by chunk: each goes to the queue as a whole */
        for (int first = 0, rows = PQntuples(res), i = 1; i <= rows; i++) {
            int n;
            if (i < rows && strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, first, 0)) == 0)
                continue;
            if ((n = queue_chunk(sd, res, first, i - first, app, msg, 0, 1)) > 0)
                total += n;
            first = i;
        }
        PQclear(res);
    }
    apr_atomic_set32(&sd->feeding, 0);
    push_sender_wake_workers(sd);   /* workers waiting for the queue: the outbox is theirs again */
    return ok;
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
            } else if (!expand_message(sd, &db, app, msg)) {
                push_sender_wait(sd, &seen, 250);   /* a statement failed: not in a loop */
            }
            continue;   /* there may be more due */
        }
        if (!res && !db) {
            PQclear(res);
            continue;
        }
        PQclear(res);
        if (reclaim_chunk(sd, &db))
            continue;
        /* scheduled messages become due without a NOTIFY: look again soon */
        push_sender_wait(sd, &seen, 250);
    }
    PQfinish(db);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}
