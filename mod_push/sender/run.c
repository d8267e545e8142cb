/* The sender process: its threads, the LISTEN connection, the heartbeat that health
 * reads, and an orderly stop on SIGTERM. */
#include "sender/internal.h"
#include "core/metrics.h"

#include <errno.h>
#include <poll.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <apr_signal.h>
#include <apr_strings.h>
#include <curl/curl.h>


const char *const push_endpoint_names[PUSH_EP__COUNT] = {
    "apns", "apns-sandbox", "fcm", "fcm-token", "webhook-proxy",
    "wns-token"};

static const char *const endpoint_defaults[PUSH_EP__COUNT] = {
    "https://api.push.apple.com", "https://api.sandbox.push.apple.com",
    "https://fcm.googleapis.com", NULL, NULL,
    NULL};

void push_sender_conf_defaults(push_sender_conf_t *c)
{
    if (c->enabled < 0)
        c->enabled = 1;
    if (c->threads <= 0)
        c->threads = 2;
    if (c->batch <= 0)
        c->batch = 250;
    if (c->lease <= 0)
        c->lease = 60;
    if (c->max_attempts <= 0)
        c->max_attempts = 8;
    if (c->backoff_base_ms <= 0)
        c->backoff_base_ms = 1000;
    if (c->backoff_cap_ms <= 0)
        c->backoff_cap_ms = 3600 * 1000;
    if (c->chunk <= 0)
        c->chunk = 5000;
    if (c->timeout_ms <= 0)
        c->timeout_ms = 30000;
    if (c->watchdog <= 0)
        c->watchdog = 60;
    if (c->nice < 0)
        c->nice = 10;
    if (c->retention == 0)
        c->retention = 7 * 86400;
    if (c->retention_every <= 0)
        c->retention_every = 60;
    for (int i = 0; i < PUSH_EP__COUNT; i++)
        if (!c->endpoint[i])
            c->endpoint[i] = endpoint_defaults[i];
}

int push_curl_h2c_broken;

static push_sender_t *the_sender;

static void on_term(int sig)
{
    (void)sig;
    if (the_sender)
        apr_atomic_set32(&the_sender->stop, 1);
}

void push_sender_beat(push_sender_t *sd)
{
    apr_os_thread_t me = apr_os_thread_current();
    if (apr_os_thread_equal(me, sd->main_thread))
        push_metrics_sender_beat(push_metrics_shm, (int)getpid());
}

/* The sender's other threads: counted while they run, so that the main thread can beat
 * while it waits for them to finish their work at a stop. */
typedef struct {
    push_sender_t *sd;
    void *(APR_THREAD_FUNC *fn)(apr_thread_t *, void *);
} thread_start_t;

static void *APR_THREAD_FUNC counted_thread(apr_thread_t *t, void *data)
{
    thread_start_t *ts = data;
    ts->fn(t, ts->sd);
    apr_atomic_dec32(&ts->sd->running);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void start_thread(push_sender_t *sd, apr_thread_t **t, void *(APR_THREAD_FUNC *fn)(apr_thread_t *, void *))
{
    thread_start_t *ts = apr_palloc(sd->pool, sizeof(*ts));
    ts->sd = sd;
    ts->fn = fn;
    apr_atomic_inc32(&sd->running);
    if (apr_thread_create(t, NULL, counted_thread, ts, sd->pool) != APR_SUCCESS) {
        apr_atomic_dec32(&sd->running);
        SLOG(sd, APLOG_CRIT, "PUSH0615", "sender: cannot create its threads");
        _exit(1);
    }
}

void push_sender_wait(push_sender_t *sd, apr_uint32_t *seen, int ms)
{
    apr_thread_mutex_lock(sd->lock);
    if (*seen == sd->generation && !SENDER_STOPPING(sd))
        apr_thread_cond_timedwait(sd->wake, sd->lock, apr_time_from_msec(ms));
    *seen = sd->generation;
    apr_thread_mutex_unlock(sd->lock);
}

void push_sender_wait_notified(push_sender_t *sd, apr_uint32_t *seen, int ms)
{
    apr_time_t until = apr_time_now() + apr_time_from_msec(ms), left;
    apr_thread_mutex_lock(sd->lock);
    while (*seen == sd->notified && !SENDER_STOPPING(sd) && (left = until - apr_time_now()) > 0)
        apr_thread_cond_timedwait(sd->wake, sd->lock, left);
    *seen = sd->notified;
    apr_thread_mutex_unlock(sd->lock);
}

void push_sender_wake(push_sender_t *sd)
{
    apr_thread_mutex_lock(sd->lock);
    sd->generation++;
    sd->notified++;
    apr_thread_cond_broadcast(sd->wake);
    apr_thread_mutex_unlock(sd->lock);
    push_queue_wake(sd);   /* an expander waiting for a lane may claim the new message */
}

void push_sender_wake_workers(push_sender_t *sd)
{
    apr_thread_mutex_lock(sd->lock);
    sd->generation++;
    apr_thread_cond_broadcast(sd->wake);
    apr_thread_mutex_unlock(sd->lock);
}

size_t push_curl_keep(char *data, size_t size, size_t n, void *ctx)
{
    push_body_buf_t *b = ctx;
    size_t take = size * n;
    if (b->len + take >= b->cap)
        take = b->cap - 1 - b->len;
    memcpy(b->buf + b->len, data, take);
    b->len += take;
    b->buf[b->len] = '\0';
    return size * n;
}

static push_lane_t *lane_of(push_sender_t *sd, const char *app)
{
    for (push_lane_t *l = sd->lanes; l; l = l->next)
        if (strcmp(l->app, app) == 0)
            return l;
    return NULL;
}

int push_queue_put(push_sender_t *sd, push_qjob_t *head, push_qjob_t *tail, int n)
{
    push_lane_t *l;
    apr_thread_mutex_lock(sd->qlock);
    if (SENDER_STOPPING(sd)) {
        apr_thread_mutex_unlock(sd->qlock);
        return 0;
    }
    if (!(l = lane_of(sd, head->app))) {
        size_t len = strlen(head->app);
        if (!(l = calloc(1, sizeof(*l) + len))) {
            apr_thread_mutex_unlock(sd->qlock);
            return 0;
        }
        memcpy(l->app, head->app, len + 1);
        l->next = sd->lanes;
        sd->lanes = l;
    }
    tail->next = NULL;
    if (l->tail)
        l->tail->next = head;
    else
        l->head = head;
    l->tail = tail;
    l->count += n;
    sd->qcount += n;
    apr_thread_mutex_unlock(sd->qlock);
    return 1;
}

int push_queue_room(push_sender_t *sd, const char *app)
{
    push_lane_t *l;
    int room;
    apr_thread_mutex_lock(sd->qlock);
    l = lane_of(sd, app);
    room = sd->qcap - (l ? l->count : 0);
    apr_thread_mutex_unlock(sd->qlock);
    return room;
}

void push_queue_wait_room(push_sender_t *sd, const char *const *apps, int n, int min, int ms)
{
    int ready = 0;
    apr_thread_mutex_lock(sd->qlock);
    for (int i = 0; i < n && !ready; i++) {
        push_lane_t *l = lane_of(sd, apps[i]);
        ready = sd->qcap - (l ? l->count : 0) >= min;
    }
    if (!ready && !SENDER_STOPPING(sd))
        apr_thread_cond_timedwait(sd->qspace, sd->qlock, apr_time_from_msec(ms));
    apr_thread_mutex_unlock(sd->qlock);
}

void push_queue_wake(push_sender_t *sd)
{
    apr_thread_mutex_lock(sd->qlock);
    apr_thread_cond_broadcast(sd->qspace);
    apr_thread_mutex_unlock(sd->qlock);
}

push_qjob_t *push_queue_take(push_sender_t *sd, push_queue_fit_fn fit, void *ctx)
{
    push_qjob_t *first = NULL, *last = NULL;
    push_lane_t *l, **pp;
    int k = 0;
    apr_thread_mutex_lock(sd->qlock);
    /* the lanes from the turn on, then those before it */
    for (push_lane_t *start = l = sd->turn ? sd->turn : sd->lanes; l;) {
        int c = 1;
        push_qjob_t *e;
        for (e = l->head; e->next && e->next->chunk == l->head->chunk; c++)
            e = e->next;
        if (!fit || fit(ctx, l->app, c)) {
            first = l->head;
            last = e;
            k = c;
            break;
        }
        if ((l = l->next ? l->next : sd->lanes) == start)
            l = NULL;
    }
    if (!first) {
        apr_thread_mutex_unlock(sd->qlock);
        return NULL;
    }
    l->head = last->next;
    last->next = NULL;
    l->count -= k;
    sd->qcount -= k;
    /* the next take starts at the following lane; an emptied lane goes */
    sd->turn = l->next;
    if (!l->head) {
        for (pp = &sd->lanes; *pp != l; pp = &(*pp)->next)
            ;
        *pp = l->next;
        free(l);
    }
    if (!sd->turn)
        sd->turn = sd->lanes;
    apr_thread_cond_broadcast(sd->qspace);
    apr_thread_mutex_unlock(sd->qlock);
    return first;
}

void push_curl_common(push_sender_t *sd, void *easy, const char *url, int h2)
{
    CURL *e = easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)sd->c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mod_push");
    if (sd->c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, sd->c->ca_file);
    if (h2) {
        /* http:// endpoints (mocks, proxies) are spoken as h2c with prior knowledge */
        int h2c = strncmp(url, "http://", 7) == 0;
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, h2c ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                                                      : (long)CURL_HTTP_VERSION_2TLS);
        if (h2c && push_curl_h2c_broken) {
            /* this libcurl fails every request on a reused h2c connection: one
             * connection per request (TLS endpoints multiplex as they should) */
            curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        } else {
            curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        }
    }
}

void push_chunk_orphan(push_sender_t *sd, apr_int64_t chunk)
{
    apr_thread_mutex_lock(sd->lock);
    if (sd->norphans < (int)(sizeof(sd->orphans) / sizeof(sd->orphans[0])))
        sd->orphans[sd->norphans++] = chunk;
    apr_thread_mutex_unlock(sd->lock);
}

/* Gives back the chunks this sender will not finish (they are sent again from scratch,
 * by whichever sender takes them); those the list has no room for stay leased until the
 * sender stops. */
static void give_back_orphans(push_sender_t *sd, PGconn **db)
{
    char ids[64 * 24 + 4];
    const char *params[2] = {sd->owner, ids};
    size_t at = 0;
    int n;
    PGresult *res;
    apr_thread_mutex_lock(sd->lock);
    n = sd->norphans;
    ids[at++] = '{';
    for (int i = 0; i < n; i++)
        at += apr_snprintf(ids + at, sizeof(ids) - at, "%s%" APR_INT64_T_FMT, i ? "," : "", sd->orphans[i]);
    apr_thread_mutex_unlock(sd->lock);
    if (n == 0)
        return;
    apr_cpystrn(ids + at, "}", sizeof(ids) - at);
    res = push_pg_exec(sd, db, "UPDATE push_chunk SET owner = NULL, lease_until = now() - interval '1 second' "
                               "WHERE chunk_id = ANY ($2::bigint[]) AND owner = $1", 2, params);
    if (res) {
        apr_thread_mutex_lock(sd->lock);
        memmove(sd->orphans, sd->orphans + n, sizeof(sd->orphans[0]) * (size_t)(sd->norphans - n));
        sd->norphans -= n;
        apr_thread_mutex_unlock(sd->lock);
        SLOG(sd, APLOG_INFO, "PUSH0614", "sender: gave back %d chunk(s) whose outcomes were not written", n);
    }
    PQclear(res);
}

/* Writes this sender's row (health reads it), gives back orphaned chunks and renews the
 * leases of the others. */
static void heartbeat(push_sender_t *sd, PGconn **db, int gone)
{
    char pid[32], host[256] = "";
    const char *params[3];
    PGresult *res;
    gethostname(host, sizeof(host) - 1);
    apr_snprintf(pid, sizeof(pid), "%d", (int)getpid());
    params[0] = sd->owner;
    params[1] = host;
    params[2] = pid;
    res = gone ? push_pg_exec(sd, db, "DELETE FROM push_sender WHERE owner = $1", 1, params)
               : push_pg_exec(sd, db,
                              "INSERT INTO push_sender (owner, host, pid) VALUES ($1, $2, $3) "
                              "ON CONFLICT (owner) DO UPDATE SET seen_at = now()", 3, params);
    PQclear(res);
    if (!gone) {
        char lease[16];
        const char *p2[2] = {sd->owner, lease};
        apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease);
        give_back_orphans(sd, db);
        PQclear(push_pg_exec(sd, db, "UPDATE push_chunk SET lease_until = now() + make_interval(secs => $2::integer) "
                                     "WHERE owner = $1", 2, p2));
        /* rows of senders long gone would only confuse health */
        res = push_pg_exec(sd, db, "DELETE FROM push_sender WHERE seen_at < now() - interval '1 hour'",
                           0, NULL);
        PQclear(res);
    }
}

/* Periodic upkeep on the listener's connection, between notifications: the quota deltas
 * the outbox wrote are folded into push_quota each second, and every retention_every
 * seconds finished rows past the retention go, a batch at a time (the next batch a second
 * later while a batch came back full, so that PostgreSQL is never held for long). */
#define SWEEP_BATCH 1000
typedef struct {
    apr_time_t folded, swept;
    int more;   /* the last sweep removed a full batch */
} upkeep_t;

static void upkeep(push_sender_t *sd, PGconn **db, upkeep_t *u)
{
    apr_time_t now = push_metrics_clock();
    PGresult *res;
    if (now - u->folded >= apr_time_from_sec(1)) {
        u->folded = now;
        PQclear(push_pg_exec(sd, db, "SELECT push_quota_fold(10000)", 0, NULL));
    }
    if (sd->c->retention > 0 && *db &&
        now - u->swept >= (u->more ? apr_time_from_sec(1) : apr_time_from_sec(sd->c->retention_every))) {
        char age[32], batch[32];
        const char *params[2] = {age, batch};
        u->swept = now;
        u->more = 0;
        apr_snprintf(age, sizeof(age), "%d", sd->c->retention);
        apr_snprintf(batch, sizeof(batch), "%d", SWEEP_BATCH);
        res = push_pg_exec(sd, db, "SELECT deliveries, messages, events FROM push_retention_sweep($1, $2)",
                           2, params);
        if (res && PQntuples(res) == 1) {
            int d = atoi(PQgetvalue(res, 0, 0)), m = atoi(PQgetvalue(res, 0, 1)),
                e = atoi(PQgetvalue(res, 0, 2));
            u->more = d >= SWEEP_BATCH || m >= SWEEP_BATCH || e >= SWEEP_BATCH;
            if (d || m || e)
                SLOG(sd, APLOG_DEBUG, "PUSH0610", "sender: retention removed %d deliveries, %d messages, "
                     "%d events", d, m, e);
        }
        PQclear(res);
    }
}

/* LISTEN push_sender on its own connection; returns 0 when the connection failed. */
static int listen_on(push_sender_t *sd, PGconn **db)
{
    PGresult *res = push_pg_exec(sd, db, "LISTEN push_sender", 0, NULL);
    PQclear(res);
    return res != NULL;
}

/* PushSenderNice: the sender runs N nice levels below httpd (default 10, what nice(1)
 * gives). Delivery is background work; httpd's request threads, which share the sender's
 * scheduling group (its cgroup, or its session's autogroup), get the CPU first when they
 * want it, and the sender has all that is left. Set before the threads exist: on Linux
 * the value is per thread and inherited by the threads created after it. bench/delivery,
 * 6 alternated pairs of 300,000-device broadcasts: httpd's requests during the broadcast
 * faster, and 8.6 % more deliveries per second (there the mock shares the group too;
 * bench/README.md). Returns the niceness in force. */
static int lower_priority(push_sender_t *sd, int by)
{
    int base, want;
    errno = 0;
    base = getpriority(PRIO_PROCESS, 0);
    if (base == -1 && errno != 0)
        base = 0;
    want = base + by > 19 ? 19 : base + by;
    if (want != base && setpriority(PRIO_PROCESS, 0, want) != 0) {
        SLOG(sd, APLOG_WARNING, "PUSH0617", "sender: cannot lower its priority to nice %d (%s); it "
             "runs at httpd's nice %d", want, strerror(errno), base);
        return base;
    }
    return want;
}

void push_sender_main(apr_pool_t *p, const push_sender_conf_t *c)
{
    push_sender_t *sd = apr_pcalloc(p, sizeof(*sd));
    apr_thread_t **threads;
    int nthreads = c->threads + 3, i;
    PGconn *db = NULL;
    apr_time_t last_beat = 0;
    unsigned int listening = 0;   /* main_connects when LISTEN last succeeded */
    upkeep_t up = {0, 0, 0};
    /* the heartbeat also renews the leases of the chunks this sender holds: at least
     * three times per lease */
    apr_time_t beat = apr_time_from_msec(c->lease * 1000 / 3 < 5000 ? c->lease * 1000 / 3 : 5000);
    char rnd[8];

    sd->pool = p;
    sd->c = c;
    sd->s = c->server;
    sd->main_thread = apr_os_thread_current();
    apr_generate_random_bytes((unsigned char *)rnd, sizeof(rnd));
    {
        char host[200] = "";
        gethostname(host, sizeof(host) - 1);
        sd->owner = apr_psprintf(p, "%s:%d:%02x%02x%02x%02x", host, (int)getpid(),
                                 (unsigned char)rnd[0], (unsigned char)rnd[1],
                                 (unsigned char)rnd[2], (unsigned char)rnd[3]);
    }
    apr_thread_mutex_create(&sd->lock, APR_THREAD_MUTEX_DEFAULT, p);
    apr_thread_cond_create(&sd->wake, p);
    apr_thread_cond_create(&sd->cred_wake, p);
    apr_thread_mutex_create(&sd->qlock, APR_THREAD_MUTEX_DEFAULT, p);
    apr_thread_cond_create(&sd->qspace, p);
    /* claimed deliveries of one application waiting for a worker (its lane): four
     * batches per worker, so that the expander walks up to eight half-batch chunks per
     * statement (its cost per delivery falls with the walk's length: 14 -> 12 us of
     * PostgreSQL per delivery in bench/delivery), and still far less than a lease's worth */
    sd->qcap = 4 * c->threads * c->batch;
    sd->creds = apr_hash_make(p);
    the_sender = sd;
    apr_signal(SIGTERM, on_term);
    apr_signal(SIGINT, on_term);
    apr_signal(SIGHUP, SIG_IGN);
    apr_signal(SIGUSR1, SIG_IGN);
    apr_signal(SIGPIPE, SIG_IGN);
    apr_signal(SIGCHLD, SIG_DFL);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        SLOG(sd, APLOG_CRIT, "PUSH0604", "sender: libcurl did not initialize");
        _exit(1);
    }
    {
        /* libcurl 7.87 and 7.88.x cannot reuse an h2c (prior knowledge) connection:
         * curl issue 10634, fixed in 8.0 */
        const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
        push_curl_h2c_broken = v->version_num >= 0x075700 && v->version_num < 0x080000;
        if (push_curl_h2c_broken)
            SLOG(sd, APLOG_INFO, "PUSH0607", "sender: libcurl %s cannot reuse h2c connections: "
                 "http:// provider endpoints get one connection per request", v->version);
    }
#ifdef PUSH_H2RESET
    if (!push_h2reset_enable())
        SLOG(sd, APLOG_WARNING, "PUSH0608", "sender: libcurl's resets of finished HTTP/2 "
             "streams cannot be filtered here (libcurl's relocations for nghttp2 were not found "
             "or not writable); providers may close connections every ~1000 requests");
#else
    if (curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
        SLOG(sd, APLOG_WARNING, "PUSH0609", "sender: mod_push was built without the filter of "
             "HTTP/2 stream resets (for libcurl >= 8.0) but runs with libcurl %s, which resets "
             "every finished stream; providers may close connections every ~1000 requests. "
             "Rebuild mod_push against this libcurl", curl_version_info(CURLVERSION_NOW)->version);
#endif
    i = lower_priority(sd, c->nice);
    SLOG(sd, APLOG_NOTICE, "PUSH0605", "sender %s started: %d delivery threads, batch %d, lease %d s, "
         "nice %d", sd->owner, c->threads, c->batch, c->lease, i);

    threads = apr_pcalloc(p, sizeof(*threads) * nthreads);
    start_thread(sd, &threads[0], push_expand_thread);
    start_thread(sd, &threads[1], push_events_thread);
    start_thread(sd, &threads[2], push_creds_thread);
    for (i = 3; i < nthreads; i++)
        start_thread(sd, &threads[i], push_deliver_thread);

    /* this thread: NOTIFY listener and heartbeat */
    while (!SENDER_STOPPING(sd)) {
        struct pollfd pfd;
        PGnotify *n;
        int woke = 0;
        /* alive for the status page and push_sender_up, with or without a database */
        push_sender_beat(sd);
        if (c->parent && (long)getppid() != c->parent) {
            /* httpd's parent is gone (where no parent-death signal exists): stop, in order */
            SLOG(sd, APLOG_ERR, "PUSH0654", "sender: httpd's parent process %ld is gone; stopping",
                 c->parent);
            apr_atomic_set32(&sd->stop, 1);
            break;
        }
        if (!db || PQstatus(db) != CONNECTION_OK || sd->main_connects != listening) {
            /* also when a statement below connected again by itself (push_pg_exec) */
            if (db && PQstatus(db) != CONNECTION_OK) {
                PQfinish(db);
                db = NULL;
            }
            if (!listen_on(sd, &db)) {
                apr_sleep(apr_time_from_msec(500));
                continue;
            }
            listening = sd->main_connects;
            push_sender_wake(sd);   /* something may have arrived meanwhile */
        }
        if (push_metrics_clock() - last_beat > beat) {
            heartbeat(sd, &db, 0);
            last_beat = push_metrics_clock();
            if (!db)
                continue;
        }
        upkeep(sd, &db, &up);
        if (!db)
            continue;
        pfd.fd = PQsocket(db);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 1000) > 0) {
            if (!PQconsumeInput(db)) {
                PQfinish(db);
                db = NULL;
                continue;
            }
        }
        while ((n = PQnotifies(db))) {
            woke = 1;
            PQfreemem(n);
        }
        if (woke)
            push_sender_wake(sd);
    }

    push_sender_wake(sd);
    apr_thread_mutex_lock(sd->lock);
    apr_thread_cond_broadcast(sd->cred_wake);
    apr_thread_mutex_unlock(sd->lock);
    /* the workers end what they have under way (each request has PushSenderTimeout)
     * and write its outcomes: alive meanwhile, for the watchdog and the status */
    while (apr_atomic_read32(&sd->running)) {
        push_sender_beat(sd);
        apr_sleep(apr_time_from_msec(100));
    }
    for (i = 0; i < nthreads; i++) {
        apr_status_t trv;
        apr_thread_join(&trv, threads[i]);
    }
    push_creds_clear(sd);
    /* what is still queued was never started: its chunks are given back below */
    for (push_qjob_t *j; (j = push_queue_take(sd, NULL, NULL));) {
        for (push_qjob_t *next; j; j = next) {
            next = j->next;
            free(j);
        }
    }
    if (db && PQstatus(db) != CONNECTION_OK) {
        PQfinish(db);
        db = NULL;
    }
    if (!db)   /* one try to say goodbye; the row ages out otherwise, and the chunks' leases */
        db = push_pg_connect_once(sd, 0);
    if (db) {
        const char *params[1] = {sd->owner};
        /* every worker wrote the outcomes of its chunk: the chunks still held were not
         * started, nobody received them, and any sender may take them at once */
        PQclear(push_pg_exec(sd, &db, "UPDATE push_chunk SET owner = NULL, lease_until = now() - interval '1 second' "
                                      "WHERE owner = $1", 1, params));
        PQclear(push_pg_exec(sd, &db, "DELETE FROM push_sender WHERE owner = $1", 1, params));
    }
    if (db)
        PQfinish(db);
    curl_global_cleanup();
#ifdef PUSH_H2RESET
    SLOG(sd, APLOG_NOTICE, "PUSH0606", "sender %s stopped (%u resets of closed HTTP/2 streams "
         "not sent)", sd->owner, push_h2reset_dropped());
#else
    SLOG(sd, APLOG_NOTICE, "PUSH0606", "sender %s stopped", sd->owner);
#endif
    _exit(0);
}
