/* What the sender's parts share inside the sender process. */
#ifndef PUSH_SENDER_INTERNAL_H
#define PUSH_SENDER_INTERNAL_H

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_portable.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <libpq-fe.h>
#include <json-c/json.h>

#include "httpd.h"
#include "log.h"
#include "sender/sender.h"
#include "sender/classify.h"

typedef struct push_cred push_cred_t;

/* A delivery of a chunk the expander leased, on its way to a worker. One malloc'd
 * block holds the entry and its strings; the worker that takes it frees it. The
 * deliveries of a chunk are next to each other in the queue, and a worker takes them
 * together: a chunk's outcomes are written in one statement, which ends the chunk. */
typedef struct push_qjob {
    struct push_qjob *next;
    const char *app, *msg, *dev, *provider, *token, *topic;
    apr_int64_t chunk;                /* push_chunk.chunk_id */
} push_qjob_t;

typedef struct {
    apr_pool_t *pool;
    const push_sender_conf_t *c;
    server_rec *s;
    const char *owner;              /* host:pid:random, the lease owner of this sender */
    volatile apr_uint32_t stop;     /* set by SIGTERM */
    apr_thread_mutex_t *lock;       /* guards wake and the credential cache */
    apr_thread_cond_t *cred_wake;   /* a REMOTE token is wanted */
    apr_thread_cond_t *wake;        /* NOTIFY arrived, or a chunk was expanded */
    apr_uint32_t generation;        /* bumped on each wake */
    apr_uint32_t notified;          /* bumped on each wake but the workers' own */
    apr_hash_t *creds;              /* "app/provider" -> push_cred_t */
    apr_thread_mutex_t *qlock;      /* the hand-over queue from the expander to workers */
    apr_thread_cond_t *qspace;      /* a lane has room again, or a message was notified */
    struct push_lane *lanes;        /* one per application with deliveries queued */
    struct push_lane *turn;         /* the lane the workers look at first */
    int qcount;                     /* deliveries queued, all lanes */
    int qcap;                       /* deliveries one lane holds */
    volatile apr_uint32_t feeding;  /* the expander is feeding the queue as workers take */
    /* chunks this sender holds but will not finish (their outcomes could not be written):
     * the heartbeat gives them back rather than renew their leases (under lock) */
    apr_int64_t orphans[64];
    int norphans;
    apr_os_thread_t main_thread;    /* the listener's, whose passes are the heartbeat */
    volatile apr_uint32_t running;  /* threads besides it that have not ended */
    unsigned int main_connects;     /* connections the main thread made (pg.c) */
} push_sender_t;

#define SLOG(sd, level, tag, ...) PUSH_SLOG((level), 0, (sd)->s, tag, __VA_ARGS__)

/* --- pg.c: libpq with reconnects --- */
/* The sender's connections are non-blocking and waited on in slices of a second: the
 * main thread beats (push_sender_beat) in every slice, so that a sender waiting for
 * PostgreSQL (a lock, a slow or silent server) is not taken for a stuck one. */
/* A connection, retried until it works or the sender stops (then NULL). */
PGconn *push_pg_connect(push_sender_t *sd);
/* One attempt, given up after PUSH_PG_CONNECT_SECONDS; NULL when it failed (logged
 * when log is set). */
#define PUSH_PG_CONNECT_SECONDS 10
PGconn *push_pg_connect_once(push_sender_t *sd, int log);
/* Runs sql with text parameters; reconnects once on a broken connection. Returns a
 * result with status TUPLES_OK or COMMAND_OK, or NULL (logged). Free with PQclear. */
PGresult *push_pg_exec(push_sender_t *sd, PGconn **db, const char *sql, int n,
                       const char *const *params);

/* Adds an application id to the PostgreSQL array literal in buf, begun as "{" with *at
 * = 1 (ids are [A-Za-z0-9._-]: nothing to escape); one that does not fit in cap, with
 * the closing brace, is left out. push_pg_array_end closes it. */
void push_pg_array_add(char *buf, size_t cap, size_t *at, const char *app);
void push_pg_array_end(char *buf, size_t at);

/* --- run.c --- */
/* The heartbeat the parent's watchdog reads, when called on the main thread (other
 * threads' calls do nothing: a worker's progress does not show the main thread alive). */
void push_sender_beat(push_sender_t *sd);
/* Sleeps until woken (NOTIFY, expansion) or ms pass. */
void push_sender_wait(push_sender_t *sd, apr_uint32_t *seen, int ms);
/* Wakes every waiting thread. */
void push_sender_wake(push_sender_t *sd);
/* Wakes the delivery workers (a chunk was queued, the expansion ended): the threads that
 * wait with push_sender_wait_notified sleep on. */
void push_sender_wake_workers(push_sender_t *sd);
/* As push_sender_wait, for a thread the workers' wakes do not concern (the webhook
 * events): a broadcast queues a chunk every few milliseconds. */
void push_sender_wait_notified(push_sender_t *sd, apr_uint32_t *seen, int ms);
/* A chunk this sender leased and will not finish: the heartbeat gives it back. */
void push_chunk_orphan(push_sender_t *sd, apr_int64_t chunk);
#define SENDER_STOPPING(sd) (apr_atomic_read32(&(sd)->stop) != 0)

/* --- creds.c: credentials, provider tokens --- */
typedef struct push_provider push_provider_t;

typedef enum {
    PUSH_BEARER_NONE,               /* requests carry no token (APNs certificate auth) */
    PUSH_BEARER_LOCAL,              /* signed here, in a moment (the APNs provider token) */
    PUSH_BEARER_REMOTE              /* fetched from a token endpoint, on the credential thread */
} push_bearer_kind_t;

/* One version of an application's credential for one provider. Counted references: the
 * cache holds one, and so does each delivery and each worker's connection that uses it;
 * the last release frees its pool, keys and handles. */
struct push_cred {
    const push_provider_t *prov;
    const char *key;                /* "app/provider": the cache's key */
    const char *app_id, *provider;
    const char *version;            /* push_credential.updated_at */
    json_object *config;            /* what push_credential.config shows */
    const char *secret;             /* opened secret (NUL-terminated), or NULL */
    apr_size_t secret_len;
    const char *error;              /* unusable: why (sends fail with it) */
    const char *paused;             /* credential problem reported by the provider */
    void *state;                    /* the provider's: keys, certificates */
    push_bearer_kind_t bearer_kind;
    apr_uint32_t refs;
    volatile apr_uint32_t retired;  /* out of the cache: superseded, deleted or idle */
    apr_time_t fetched, used;
    apr_thread_mutex_t *lock;       /* guards what follows and cr->pool */
    const char *bearer;             /* the APNs provider token or the FCM access token */
    apr_time_t bearer_until;
    int wanted, fetching;           /* REMOTE: a token is asked for / being fetched */
    apr_time_t fetch_started;
    int failures;                   /* REMOTE fetches that failed in a row */
    apr_time_t next_fetch;          /* REMOTE: not before (backoff after failures) */
    const char *bearer_error;       /* why the last fetch failed (classified, no answer text) */
    apr_pool_t *pool;
};
/* The credential of app/provider, read again after a short while; NULL when none is
 * stored. A reference the caller gives back with push_cred_release. */
push_cred_t *push_cred_get(push_sender_t *sd, PGconn **db, const char *app_id, const char *provider);
void push_cred_hold(push_cred_t *cr);
void push_cred_release(push_cred_t *cr);
/* The bearer token for a request with cr, when one is at hand. Otherwise NULL and *o
 * says what the delivery does: wait for the credential thread (PUSH_OUT_WAIT, with the
 * delay), or fail (a LOCAL token that cannot be made, REMOTE fetches that kept failing). */
const char *push_cred_bearer(push_sender_t *sd, push_cred_t *cr, push_outcome_t *o);
/* Forgets the bearer (APNs ExpiredProviderToken, FCM 401) so that a new one is made. */
void push_cred_renew(push_sender_t *sd, push_cred_t *cr, const char *old);
/* Records a credential problem: sends for app/provider stop until its settings change. */
void push_cred_pause(push_sender_t *sd, PGconn **db, push_cred_t *cr, const char *reason);
/* The credential thread: fetches REMOTE tokens (many at once, each with a short timeout,
 * failures remembered with backoff) and retires credentials nobody used for a while. */
void *APR_THREAD_FUNC push_creds_thread(apr_thread_t *t, void *data);
/* Drops every cached credential (the sender stops). */
void push_creds_clear(push_sender_t *sd);

/* --- queue (run.c) --- */
/* The hand-over queue has a lane per application, each with room for qcap deliveries:
 * an application whose deliveries wait (its endpoints are slow, or it queued a lot)
 * fills its own lane, never another's. Workers serve the lanes in turn. */
typedef struct push_lane {
    struct push_lane *next;
    push_qjob_t *head, *tail;
    int count;
    char app[1];                    /* allocated to the id's length */
} push_lane_t;
/* Adds the n deliveries of a chunk (the list head..tail, all of head->app) to its lane.
 * Never waits: the expander asks push_queue_room first. Returns 0 (the caller keeps the
 * list) when no lane could be made or the sender stops. */
int push_queue_put(push_sender_t *sd, push_qjob_t *head, push_qjob_t *tail, int n);
/* Free room in app's lane (qcap when it has none). */
int push_queue_room(push_sender_t *sd, const char *app);
/* Whether a worker takes a chunk of n deliveries of app (push_queue_take's question). */
typedef int (*push_queue_fit_fn)(void *ctx, const char *app, int n);
/* Takes the deliveries of a chunk (a list): the oldest of the first lane, in turn after
 * the last one served, whose chunk fit accepts (fit NULL: any). NULL when none. */
push_qjob_t *push_queue_take(push_sender_t *sd, push_queue_fit_fn fit, void *ctx);
/* Waits (once: any wake ends it) for room of at least min in one of the n apps' lanes,
 * at most ms; returns at once when one has it. */
void push_queue_wait_room(push_sender_t *sd, const char *const *apps, int n, int min, int ms);
/* Wakes a thread waiting for room in a lane (the expander): a lane emptied, or a message
 * was notified that it may claim. */
void push_queue_wake(push_sender_t *sd);

/* --- deliver.c --- */
void *APR_THREAD_FUNC push_deliver_thread(apr_thread_t *t, void *data);
/* --- expand.c --- */
void *APR_THREAD_FUNC push_expand_thread(apr_thread_t *t, void *data);
/* --- events.c --- */
void *APR_THREAD_FUNC push_events_thread(apr_thread_t *t, void *data);

/* Set when this libcurl cannot reuse h2c connections (see run.c). */
extern int push_curl_h2c_broken;

/* --- h2reset.c (built for libcurl < 8.0 only: configure defines PUSH_H2RESET) --- */
/* Turns on, in the sender process, the filter that drops libcurl's resets of closed
 * HTTP/2 streams (libcurl's own slots for nghttp2_submit_rst_stream point at it); 0 when
 * they could not be found or written. push_h2reset_dropped counts the resets dropped. */
#ifdef PUSH_H2RESET
int push_h2reset_enable(void);
apr_uint32_t push_h2reset_dropped(void);
#endif

/* A response body kept up to cap - 1 bytes (the rest is read and dropped), always
 * NUL-terminated: the CURLOPT_WRITEFUNCTION of every sender request. */
typedef struct {
    char *buf;
    size_t cap, len;
} push_body_buf_t;
size_t push_curl_keep(char *data, size_t size, size_t n, void *ctx);

/* curl options every provider request carries (timeouts, CA, HTTP version). */
struct Curl_easy;
void push_curl_common(push_sender_t *sd, void *easy, const char *url, int h2);

#endif
