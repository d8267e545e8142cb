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
#define ACTIVE     16  /* messages walked at once, in turn */
#define PER_APP    2   /* of them, of one application */
#define CLAIM_EVERY apr_time_from_msec(250)   /* scheduled messages become due unnotified */

/* A message this expander walks. */
typedef struct {
    char app[256], msg[256];
    long total;     /* deliveries this sender handed out */
} active_t;

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

/* One statement of a claimed message's walk: as many chunks as its application's lane
 * has room for (room), at most MAX_CHUNKS, each at most half a worker's batch
 * (PushSenderBatch, PushSenderChunk). Other senders may take chunks of the same message
 * meanwhile; the one that finds the audience complete says so (PUSH0611). Returns 1
 * when there is more to walk, 0 when the walk is over (complete, cancelled, or completed
 * by another sender), -1 when the statement failed (the walk resumes later). */
static int walk(push_sender_t *sd, PGconn **db, active_t *a, int room)
{
    char chunk[16], chunks[16], lease[16];
    const char *params[6] = {a->app, a->msg, sd->owner, chunk, chunks, lease};
    PGresult *res;
    /* half a batch: a worker holds two chunks (deliver.c) */
    int half = sd->c->batch / 2 > 0 ? sd->c->batch / 2 : 1;
    int size = sd->c->chunk < half ? sd->c->chunk : half;
    if (room < size)
        size = room;
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);
    apr_snprintf(chunk, sizeof(chunk), "%d", size);
    apr_snprintf(chunks, sizeof(chunks), "%d", room / size < 1 ? 1 : room / size > MAX_CHUNKS ? MAX_CHUNKS : room / size);
    res = push_pg_exec(sd, db, "SELECT chunk_id, device_id, provider, token, topic "
                               "FROM push_message_next_chunk($1, $2, $3, $4::integer, $5::integer, "
                               "$6::integer)", 6, params);
    if (!res)
        return -1;   /* logged */
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;    /* not expanding any more: cancelled, or another sender completed it */
    }
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        SLOG(sd, APLOG_DEBUG, "PUSH0611", "sender: message %s/%s expanded (%ld deliveries "
             "handed out by this sender)", a->app, a->msg, a->total);
        return 0;
    }
    /* the rows come chunk by chunk: each goes to the queue as a whole */
    for (int first = 0, rows = PQntuples(res), i = 1; i <= rows; i++) {
        int n;
        if (i < rows && strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, first, 0)) == 0)
            continue;
        if ((n = queue_chunk(sd, res, first, i - first, a->app, a->msg, 0, 1)) > 0)
            a->total += n;
        first = i;
    }
    PQclear(res);
    return 1;
}

/* Claims a due message for the walk: messages of applications that have nothing under
 * way here come first (an application with a long queue of its own does not keep another
 * waiting), and none of an application already walked PER_APP times or whose lane is
 * over half full. Returns 1 when one was claimed (walked from now on, or expired), 0
 * when none is due, -1 when the statement failed. */
static int claim(push_sender_t *sd, PGconn **db, active_t *act, int *nact)
{
    char lease[16], skip[8192], busy[8192];
    size_t ns = 1, nb = 1;
    const char *params[4] = {sd->owner, lease, skip, busy};
    PGresult *res;
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);
    skip[0] = busy[0] = '{';
    for (int i = 0; i < *nact; i++) {
        int same = 0;
        for (int k = 0; k < *nact; k++)
            same += strcmp(act[k].app, act[i].app) == 0;
        if (same >= PER_APP || push_queue_room(sd, act[i].app) < sd->qcap / 2)
            push_pg_array_add(skip, sizeof(skip), &ns, act[i].app);
        else
            push_pg_array_add(busy, sizeof(busy), &nb, act[i].app);
    }
    apr_thread_mutex_lock(sd->qlock);
    for (push_lane_t *l = sd->lanes; l; l = l->next)
        push_pg_array_add(busy, sizeof(busy), &nb, l->app);
    apr_thread_mutex_unlock(sd->qlock);
    push_pg_array_end(skip, ns);
    push_pg_array_end(busy, nb);
    res = push_pg_exec(sd, db, "SELECT app_id, message_id, expired "
                               "FROM push_message_claim($1, $2::integer, $3::text[], $4::text[])", 4, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 1) {
        const char *app = PQgetvalue(res, 0, 0), *msg = PQgetvalue(res, 0, 1);
        int known = 0;
        for (int i = 0; i < *nact; i++)
            known |= strcmp(act[i].app, app) == 0 && strcmp(act[i].msg, msg) == 0;
        if (PQgetvalue(res, 0, 2)[0] == 't') {
            const char *p3[3] = {app, msg, sd->owner};
            PQclear(push_pg_exec(sd, db, "SELECT push_message_expire($1, $2, $3)", 3, p3));
            SLOG(sd, APLOG_INFO, "PUSH0612", "sender: message %s/%s expired before it was sent", app, msg);
        } else if (!known && *nact < ACTIVE) {
            active_t *a = &act[(*nact)++];
            apr_cpystrn(a->app, app, sizeof(a->app));
            apr_cpystrn(a->msg, msg, sizeof(a->msg));
            a->total = 0;
        }
        PQclear(res);
        return 1;
    }
    PQclear(res);
    return 0;
}

/* How many notifications (and other wakes but the workers') there have been. */
static apr_uint32_t notified(push_sender_t *sd)
{
    apr_uint32_t g;
    apr_thread_mutex_lock(sd->lock);
    g = sd->notified;
    apr_thread_mutex_unlock(sd->lock);
    return g;
}

/* The expander: claims due messages and walks up to ACTIVE of them in turn, one
 * statement each, skipping those whose application's lane is over half full (its
 * deliveries wait for the workers). A long broadcast, or an application whose endpoints
 * never answer, never holds up another application's message. */
void *APR_THREAD_FUNC push_expand_thread(apr_thread_t *t, void *data)
{
    push_sender_t *sd = data;
    PGconn *db = NULL;
    apr_uint32_t seen = 0;
    active_t *act = calloc(ACTIVE, sizeof(*act));
    int nact = 0, turn = 0, more = 1;
    apr_time_t last_claim = 0, last_reclaim = 0;

    while (act && !SENDER_STOPPING(sd)) {
        apr_time_t now = apr_time_now();
        apr_uint32_t g = notified(sd);
        int worked = 0, failed = 0;
        /* a claim while there is room for another message and one may be due: after a
         * claim or the end of a walk, on a notification, and every CLAIM_EVERY */
        if (nact < ACTIVE && (more || g != seen || now - last_claim >= CLAIM_EVERY)) {
            int r = claim(sd, &db, act, &nact);
            seen = g;
            last_claim = now;
            more = r > 0;
            worked |= r > 0;
            failed |= r < 0;
        }
        /* a statement of the next message in turn whose lane has room */
        for (int i = 0; i < nact; i++) {
            int k = (turn + i) % nact, room = push_queue_room(sd, act[k].app), r;
            if (room < sd->qcap / 2)
                continue;
            r = walk(sd, &db, &act[k], room);
            worked = 1;
            failed |= r < 0;
            turn = k + 1;
            if (r == 0) {
                act[k] = act[--nact];   /* over: its slot takes the last message */
                more = 1;
                turn = k;
            }
            break;
        }
        if (apr_atomic_read32(&sd->feeding) != (nact > 0)) {
            apr_atomic_set32(&sd->feeding, nact > 0);
            if (nact == 0)
                push_sender_wake_workers(sd);   /* workers waiting for the queue: the outbox is theirs again */
        }
        /* chunks of senders that died come before the rest of a long broadcast: once a
         * second while walking, at once otherwise; while the queue has room */
        if ((nact == 0 && !worked) || now - last_reclaim > apr_time_from_sec(1)) {
            int queued;
            last_reclaim = now;
            apr_thread_mutex_lock(sd->qlock);
            queued = sd->qcount;
            apr_thread_mutex_unlock(sd->qlock);
            if (queued < sd->qcap && reclaim_chunk(sd, &db)) {
                worked = 1;
                last_reclaim = 0;   /* there may be more */
            }
        }
        if (!db && failed)
            continue;   /* connecting again */
        if (failed) {
            apr_uint32_t before = seen;
            push_sender_wait_notified(sd, &before, 250);   /* a statement failed: not in a loop */
            more = 1;
        } else if (!worked && nact > 0) {
            /* every lane of the messages walked is full: until a worker takes a chunk or
             * a message is notified */
            const char *apps[ACTIVE];
            for (int i = 0; i < nact; i++)
                apps[i] = act[i].app;
            push_queue_wait_room(sd, apps, nact, sd->qcap / 2, 100);
        } else if (!worked) {
            apr_uint32_t before = seen;
            push_sender_wait_notified(sd, &before, 250);
        }
    }
    apr_atomic_set32(&sd->feeding, 0);
    free(act);
    PQfinish(db);
    return NULL;   /* counted_thread (run.c) ends it */
}
