/* Delivery workers. Each takes chunks of a broadcast the expander leased, or claims due
 * deliveries from the outbox (FOR UPDATE SKIP LOCKED, with a lease), sends them through
 * one libcurl multi handle per credential — HTTP/2, many streams on one connection, as
 * Apple and Google ask — and writes each unit's outcomes back in one statement. A unit's
 * memory is one pool, cleared after it: the sender's size does not depend on the
 * audience. */

#include "sender/provider.h"

#include <stdlib.h>

#include <apr_strings.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "core/metrics.h"
#include "sender/egress.h"



#define MSG_CACHE_MAX 256   /* messages a worker keeps that no held delivery uses */
#define MAX_INFLIGHT  250   /* requests of one application a worker has under way */
#define INFLIGHT_MAX  1000  /* requests a worker has under way, all applications */
#define GATHER        1000  /* us: see push_deliver_thread */
#define LINK_IDLE     apr_time_from_sec(30)   /* a connection set unused this long closes */

/* The connections of one credential version: a multi handle of its own, since each
 * credential may present its own client certificate. Holds a reference to it. */
typedef struct link {
    struct link *next;
    push_cred_t *cr;
    CURLM *multi;
    int running;
    apr_time_t used;
    int fds[4];                   /* sockets of its connections (TCP_CORK) */
    int nfds;
    int fresh;                    /* requests were added since the last perform */
} link_t;

/* What one application has in a worker: the worker's capacity is shared out by
 * application, so that one whose endpoints are slow (a request lasts up to
 * PushSenderTimeout) or that sends a lot fills its own share and no other's. */
typedef struct share {
    struct share *next;
    int held;                     /* deliveries in the worker's units */
    int units;                    /* chunks held */
    int inflight;                 /* requests under way */
    char app[1];                  /* allocated to the id's length */
} share_t;

/* Deliveries a worker took at once: a chunk, or a claim from the outbox. */
typedef struct unit {
    struct unit *next_spare;
    apr_pool_t *pool;             /* its memory, cleared when it is finished */
    push_req_t *jobs;
    int rows;
    int next;                     /* the first job not started */
    int pending;                  /* requests under way */
    int blocked;                  /* its next job's application has its requests under way */
    share_t *share;               /* a chunk's application (NULL: a claim from the outbox) */
    push_qjob_t *queued;          /* a chunk's entries (NULL: a claim from the outbox) */
    char chunk[24];
    unsigned long seq;            /* the order in which the worker took its units */
} push_unit_t;

/* A worker's limits, per application (a share) and in all. One application alone has
 * what a worker had before shares: a batch of deliveries (two half-batch chunks of a
 * broadcast), UNITS_PER_APP chunks, MAX_INFLIGHT requests. */
#define UNITS_PER_APP 64
#define UNITS_MAX     512
#define SPARE_UNITS   64          /* finished units kept, with their pools, for the next */
#define HELD_MAX(w)   (8 * (w)->sd->c->batch)

typedef struct {
    push_sender_t *sd;
    PGconn *db;
    apr_pool_t *cache_pool;
    apr_hash_t *messages;         /* "app/msg" -> push_msg_t */
    link_t *links;
    unsigned int rnd;
    CURL *idle[MAX_INFLIGHT];     /* easy handles kept for reuse */
    int idle_count;
    apr_time_t last_claim;        /* the last claim from the outbox */
    push_unit_t *units[UNITS_MAX];   /* held: units[0 .. nunits) */
    int nunits;
    push_unit_t *spare;           /* finished units, for reuse */
    int nspare;
    share_t *shares;              /* applications with deliveries held */
    int held;                     /* deliveries held, all units */
    unsigned int trim_at;         /* messages_trim looks again at this many */
    unsigned long seq;
} worker_t;

static share_t *share_find(worker_t *w, const char *app)
{
    for (share_t *s = w->shares; s; s = s->next)
        if (strcmp(s->app, app) == 0)
            return s;
    return NULL;
}

static share_t *share_get(worker_t *w, const char *app)
{
    share_t *s = share_find(w, app);
    size_t len;
    if (s)
        return s;
    len = strlen(app);
    if (!(s = calloc(1, sizeof(*s) + len)))
        return NULL;
    memcpy(s->app, app, len + 1);
    s->next = w->shares;
    w->shares = s;
    return s;
}

/* An application with nothing held and nothing under way gives its share back. */
static void share_drop_idle(worker_t *w)
{
    for (share_t **pp = &w->shares, *s; (s = *pp);) {
        if (!s->held && !s->units && !s->inflight) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

/* Whether the worker takes a chunk of n deliveries of app now (push_queue_take's fit):
 * while the application's share has room (a chunk larger than a batch, taken over from
 * another sender, only when it holds nothing) and the worker's. */
static int chunk_fits(void *ctx, const char *app, int n)
{
    worker_t *w = ctx;
    share_t *s = share_find(w, app);
    int held = s ? s->held : 0;
    if (w->nunits >= UNITS_MAX || (w->held > 0 && w->held + n > HELD_MAX(w)))
        return 0;
    if (s && s->units >= UNITS_PER_APP)
        return 0;
    return held == 0 || held + n <= w->sd->c->batch;
}

/* Message cache entries no held delivery uses go once there are MSG_CACHE_MAX of them
 * (looked at again once 32 more were added, when held deliveries use most of them). */
static void messages_trim(worker_t *w)
{
    if (apr_hash_count(w->messages) < MSG_CACHE_MAX || apr_hash_count(w->messages) < w->trim_at)
        return;
    for (apr_hash_index_t *hi = apr_hash_first(NULL, w->messages); hi; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;
        push_msg_t *m;
        apr_hash_this(hi, &key, NULL, &val);
        m = val;
        if (m->refs == 0) {
            apr_hash_set(w->messages, key, APR_HASH_KEY_STRING, NULL);   /* (safe while iterating) */
            apr_pool_destroy(m->pool);
        }
    }
    w->trim_at = apr_hash_count(w->messages) + 32;
}

static push_msg_t *message(worker_t *w, apr_pool_t *p, push_req_t *j)
{
    /* the lookup key lives in the batch's pool: only a new entry copies it */
    const char *key = apr_pstrcat(p, j->app, "/", j->msg, NULL);
    push_msg_t *m = apr_hash_get(w->messages, key, APR_HASH_KEY_STRING);
    const char *params[2] = {j->app, j->msg};
    PGresult *res;
    if (m)
        return m;
    res = push_pg_exec(w->sd, &w->db,
                       "SELECT m.body::text, coalesce((extract(epoch FROM m.expires_at) * 1000000)::bigint, 0), "
                       "m.state NOT IN ('cancelled', 'expired'), "
                       "coalesce((a.settings->>'idOnly')::boolean, false), a.settings->>'host', "
                       "(extract(epoch FROM greatest(m.created_at, m.send_at)) * 1000000)::bigint "
                       "FROM push_message m JOIN push_application a ON a.app_id = m.app_id "
                       "WHERE m.app_id = $1 AND m.message_id = $2", 2, params);
    if (!res)
        return NULL;
    {
        apr_pool_t *mp;
        if (apr_pool_create(&mp, w->cache_pool) != APR_SUCCESS) {
            PQclear(res);
            return NULL;
        }
        m = apr_pcalloc(mp, sizeof(*m));
        m->pool = mp;
    }
    if (PQntuples(res) == 1) {
        apr_pool_t *mp = m->pool;
        m->body = json_tokener_parse(PQgetvalue(res, 0, 0));
        if (m->body)
            apr_pool_cleanup_register(mp, m->body, (apr_status_t (*)(void *))json_object_put,
                                      apr_pool_cleanup_null);
        /* the host Rocket.Chat's apps match a push against: the application's own
         * (pushctl), else the server it is mounted in, as push.get names it */
        const char *host = PQgetisnull(res, 0, 4) ? push_conf_app_public_url(mp, j->app)
                                                  : apr_pstrdup(mp, PQgetvalue(res, 0, 4));
        if (PQgetvalue(res, 0, 3)[0] == 't') {
            push_private_t *v = apr_pcalloc(mp, sizeof(*v));
            v->id = apr_pstrdup(mp, j->msg);
            v->host = host;
            m->priv = v;
        }
        m->rc.id = apr_pstrdup(mp, j->msg);
        m->rc.host = host;
        m->rc.private_mode = m->priv != NULL;
        if (m->body) {
            json_object *s, *a, *v;
            m->voip = json_object_object_get_ex(m->body, "settings", &s) &&
                      json_object_object_get_ex(s, "apns", &a) && json_object_object_get_ex(a, "voip", &v) &&
                      json_object_get_boolean(v);
        }
        m->expires = (apr_time_t)apr_atoi64(PQgetvalue(res, 0, 1));
        m->due = (apr_time_t)apr_atoi64(PQgetvalue(res, 0, 5));
        m->state_ok = PQgetvalue(res, 0, 2)[0] == 't' && m->body;
        m->ended = PQgetvalue(res, 0, 2)[0] != 't';
    }
    PQclear(res);
    apr_hash_set(w->messages, apr_pstrdup(m->pool, key), APR_HASH_KEY_STRING, m);
    return m;
}

static void header_value(char *dst, size_t cap, const char *line, size_t len, size_t skip)
{
    size_t k = 0;
    for (line += skip, len -= skip; len && (*line == ' ' || *line == '\t'); line++, len--)
        ;
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    for (; k < len && k + 1 < cap; k++)
        dst[k] = line[k];
    dst[k] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
    push_req_t *j = ctx;
    size_t len = size * n;
    if (len > 8 && strncasecmp(line, "apns-id:", 8) == 0)
        header_value(j->id_header, sizeof(j->id_header), line, len, 8);
    else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0)
        header_value(j->retry_after, sizeof(j->retry_after), line, len, 12);
    else if (len > 13 && strncasecmp(line, "x-wns-msg-id:", 13) == 0)
        header_value(j->id_header, sizeof(j->id_header), line, len, 13);
    else if (len > 13 && strncasecmp(line, "x-wns-status:", 13) == 0)
        header_value(j->wns_status, sizeof(j->wns_status), line, len, 13);
    return len;
}

/* The sockets of a link's connections, known from their creation to their close, so that
 * a burst of new requests leaves as few, full segments (link_cork) rather than two small
 * TLS records and two segments per request: about a fifth of the sender's and of the
 * receiver's CPU per request on loopback. The egress guard's check runs here as well,
 * since this callback replaces the one push_egress_attach installs. */
static int link_sockopt(void *data, curl_socket_t s, curlsocktype purpose)
{
    push_req_t *j = data;
    link_t *l = j->link;
    (void)purpose;
    if (push_egress_socket_refused(s)) {
        j->refused = 1;
        return CURL_SOCKOPT_ERROR;
    }
    if (l->nfds < (int)(sizeof(l->fds) / sizeof(l->fds[0])))
        l->fds[l->nfds++] = s;
    return CURL_SOCKOPT_OK;
}

static int link_closesocket(void *data, curl_socket_t s)
{
    link_t *l = data;
    for (int i = 0; i < l->nfds; i++)
        if (l->fds[i] == s) {
            l->fds[i] = l->fds[--l->nfds];
            break;
        }
    return close(s);
}

/* Corked while libcurl writes the new requests, uncorked (sent) right after. */
static void link_cork(link_t *l, int on)
{
    for (int i = 0; i < l->nfds; i++)
        setsockopt(l->fds[i], IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static link_t *link_for(worker_t *w, push_cred_t *cr, const char *url)
{
    link_t *l;
    for (l = w->links; l; l = l->next)
        if (l->cr == cr)
            return l;
    if (!(l = calloc(1, sizeof(*l))) || !(l->multi = curl_multi_init())) {
        free(l);
        return NULL;
    }
    l->cr = cr;
    push_cred_hold(cr);
    curl_multi_setopt(l->multi, CURLMOPT_PIPELINING,
                      push_curl_h2c_broken && strncmp(url, "http://", 7) == 0 ? CURLPIPE_NOTHING
                                                                              : CURLPIPE_MULTIPLEX);
    curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 2L);
    /* keep idle connections between batches (the default cache follows the number of
     * handles added, which is none between batches) */
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 8L);
    curl_multi_setopt(l->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    l->next = w->links;
    w->links = l;
    return l;
}

static void link_close(link_t *l)
{
    curl_multi_cleanup(l->multi);
    push_cred_release(l->cr);
    free(l);
}

/* Closes the connections of credentials superseded, deleted or unused for a while:
 * descriptors follow the credentials in use, not every version ever seen. */
static void links_sweep(worker_t *w, int all)
{
    apr_time_t now = apr_time_now();
    for (link_t **pp = &w->links, *l; (l = *pp);) {
        if (all || (!l->running && (apr_atomic_read32(&l->cr->retired) || now - l->used > LINK_IDLE))) {
            *pp = l->next;
            link_close(l);
        } else {
            pp = &l->next;
        }
    }
}

/* The outcome as push_delivery_finish takes it: the one place that names the states. */
static const char *outcome_state(push_outcome_kind_t kind)
{
    switch (kind) {
    case PUSH_OUT_SENT:
        return "sent";
    case PUSH_OUT_DEVICE_GONE:
        return "invalid";
    case PUSH_OUT_RETRY:
        return "retry";
    case PUSH_OUT_WAIT:
        return "wait";
    case PUSH_OUT_EXPIRED:
        return "expired";
    case PUSH_OUT_MESSAGE_BAD:
    case PUSH_OUT_CREDENTIALS:
        break;
    }
    return "failed";
}

/* chunk: a delivery of a chunk, whose app and message the chunk names */
static json_object *outcome_json(const push_req_t *j, int chunk)
{
    json_object *o = json_object_new_object();
    if (!chunk) {
        json_object_object_add(o, "a", json_object_new_string(j->app));
        json_object_object_add(o, "m", json_object_new_string(j->msg));
    }
    json_object_object_add(o, "d", json_object_new_string(j->dev));
    /* the channel: a device may have a push and an SMS delivery of one message */
    json_object_object_add(o, "c", json_object_new_string(j->provider));
    json_object_object_add(o, "s", json_object_new_string(outcome_state(j->out.kind)));
    if (j->out.kind != PUSH_OUT_SENT && j->out.reason)
        json_object_object_add(o, "e", json_object_new_string(j->out.reason));
    if (j->provider_id)
        json_object_object_add(o, "p", json_object_new_string(j->provider_id));
    if (j->out.kind == PUSH_OUT_RETRY || j->out.kind == PUSH_OUT_WAIT)
        json_object_object_add(o, "r", json_object_new_int64(j->out.delay_ms));
    if (j->out.gone_at_ms)
        json_object_object_add(o, "g", json_object_new_int64(j->out.gone_at_ms));
    return o;
}

/* The metrics of a decided delivery: its outcome, and the message's first delivery. */
static void record(push_req_t *j)
{
    static const int mo[] = {
        [PUSH_OUT_SENT] = PUSH_MO_SENT, [PUSH_OUT_DEVICE_GONE] = PUSH_MO_INVALID,
        [PUSH_OUT_RETRY] = PUSH_MO_RETRY, [PUSH_OUT_WAIT] = PUSH_MO_WAIT,
        [PUSH_OUT_EXPIRED] = PUSH_MO_EXPIRED, [PUSH_OUT_MESSAGE_BAD] = PUSH_MO_FAILED,
        [PUSH_OUT_CREDENTIALS] = PUSH_MO_FAILED};
    int kind = (int)j->out.kind;
    push_metrics_delivery(push_metrics_shm, j->app, push_metrics_provider(j->provider),
                          kind >= 0 && kind < (int)(sizeof(mo) / sizeof(mo[0])) ? mo[kind] : PUSH_MO_FAILED);
    if (j->out.kind == PUSH_OUT_SENT && j->m && !j->m->first_sent && j->m->due) {
        j->m->first_sent = 1;   /* the shared table keeps other workers' repeats out */
        push_metrics_first_delivery(push_metrics_shm, j->app, j->msg, apr_time_now() - j->m->due);
    }
}

/* What an outcome leads to beyond itself: the credentials paused, the retry's wait, or
 * a retry the attempt limit or the message's expiry rules out. */
static void settle(worker_t *w, apr_pool_t *p, push_req_t *j)
{
    push_outcome_t *o = &j->out;
    if (o->kind == PUSH_OUT_CREDENTIALS) {
        push_cred_pause(w->sd, &w->db, j->cr, o->reason);
        o->reason = apr_pstrcat(p, "credentials: ", o->reason, NULL);
        return;
    }
    if (o->kind == PUSH_OUT_RETRY) {
        if (j->attempts >= w->sd->c->max_attempts) {
            o->kind = PUSH_OUT_MESSAGE_BAD;
            return;
        }
        o->delay_ms = push_backoff_ms(j->attempts, w->sd->c->backoff_base_ms, w->sd->c->backoff_cap_ms,
                                      o->retry_after, (w->rnd = w->rnd * 1103515245u + 12345u));
    }
    if ((o->kind == PUSH_OUT_RETRY || o->kind == PUSH_OUT_WAIT) && j->m && j->m->expires &&
        apr_time_now() + apr_time_from_msec(o->delay_ms) >= j->m->expires) {
        o->kind = PUSH_OUT_EXPIRED;
        o->reason = apr_pstrcat(p, "expired after ", o->reason ? o->reason : "a failure", NULL);
    }
    record(j);
    if (o->kind == PUSH_OUT_WAIT)
        SLOG(w->sd, APLOG_DEBUG, "PUSH0632", "sender: delivery of message %s of application %s to "
             "device %s by %s waits (%s)", j->msg, j->app, j->dev, j->provider, o->reason ? o->reason : "");
    else if (o->kind != PUSH_OUT_SENT)
        SLOG(w->sd, APLOG_INFO, "PUSH0634", "sender: delivery of message %s of application %s to "
             "device %s by %s: %s (%s)", j->msg, j->app, j->dev, j->provider,
             o->kind == PUSH_OUT_RETRY ? "will be retried" : outcome_state(o->kind),
             o->reason ? o->reason : "no reason given");
}

/* One provider request ended: its duration for the metrics, a debug line for the log. */
static void request_done(worker_t *w, push_req_t *j, long status, CURLcode result)
{
    curl_off_t us = 0;
    curl_easy_getinfo(j->easy, CURLINFO_TOTAL_TIME_T, &us);
    push_metrics_request(push_metrics_shm, push_metrics_provider(j->provider), (apr_int64_t)us);
    if (result == CURLE_OK)
        SLOG(w->sd, APLOG_DEBUG, "PUSH0633", "sender: %s request for message %s of application %s to "
             "device %s: HTTP %ld in %.1f ms, attempt %d, %s", j->provider, j->msg, j->app, j->dev, status,
             us / 1000.0, j->attempts, j->out.kind == PUSH_OUT_SENT ? "accepted" : j->out.reason ? j->out.reason : "refused");
    else
        SLOG(w->sd, APLOG_DEBUG, "PUSH0633", "sender: %s request for message %s of application %s to "
             "device %s: no answer (%s) after %.1f ms, attempt %d", j->provider, j->msg, j->app, j->dev,
             curl_easy_strerror(result), us / 1000.0, j->attempts);
}

/* An answer's body is kept up to resp's size, and the transfer ends there: a provider's
 * answers are small, and an endpoint a tenant named must not make the sender read a
 * gigabyte to the end (the status is known by then; links_run reads it). */
static size_t keep_then_stop(char *data, size_t size, size_t n, void *ctx)
{
    push_req_t *j = ctx;
    size_t all = size * n;
    if (push_curl_keep(data, size, n, &j->body) == all && j->body.len + 1 < j->body.cap)
        return all;
    j->body_cut = 1;
    return 0;
}

/* Easy handles are kept for the next request (curl_easy_reset) rather than made anew,
 * with libcurl's default buffer sizes: libcurl 7.88 frees a transfer's receive and upload
 * buffers only when its connection has no other transfer (never, on a busy HTTP/2
 * connection), so a reused handle keeps both and allocates neither; it also refuses
 * CURLOPT_BUFFERSIZE on a handle that still holds its buffer, and with a smaller size set
 * every handle had become a one-transfer handle (perf: curl_easy_init and
 * curl_easy_cleanup 8.6 % of the sender; 27.4 -> 20 us per delivery in bench/delivery,
 * VmHWM unchanged at 26 MB: of a buffer only the pages written are resident). */
static CURL *easy_get(worker_t *w)
{
    return w->idle_count ? w->idle[--w->idle_count] : curl_easy_init();
}

static void easy_release(worker_t *w, CURL *e)
{
    if (w->idle_count < MAX_INFLIGHT) {
        curl_easy_reset(e);
        w->idle[w->idle_count++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

static void job_end_request(worker_t *w, push_req_t *j)
{
    if (j->easy)
        easy_release(w, j->easy);
    if (!j->headers_shared)
        curl_slist_free_all(j->headers);
    j->easy = NULL;
    j->headers = NULL;
    j->headers_shared = 0;
}

/* Decides a job without a request, or starts its request; returns 1 when it went out. */
static int start_job(worker_t *w, apr_pool_t *p, push_req_t *j)
{
    const push_provider_t *prov;
    link_t *l;
    const char *url = NULL;

    if ((j->m = message(w, p, j)))
        j->m->refs++;   /* until the unit is finished (settle reads it) */
    if (!j->m || !j->m->state_ok) {
        /* a message that was cancelled or expired: given back unsent, the outbox ends the
         * delivery as the message ended (push_delivery_finish reads its state) */
        push_req_decide(j, !j->m || j->m->ended ? PUSH_OUT_WAIT : PUSH_OUT_MESSAGE_BAD,
                        !j->m ? "database" : j->m->ended ? "the message has ended" : "the message is gone");
        j->out.delay_ms = j->m ? 0 : 1000;
        return 0;
    }
    if (j->m->expires && apr_time_now() >= j->m->expires)
        return push_req_decide(j, PUSH_OUT_EXPIRED, "expired"), 0;
    if (!j->token)
        return push_req_decide(j, PUSH_OUT_MESSAGE_BAD, "the device was removed or its token is dead"), 0;
    if (!(prov = push_provider_find(j->provider)))
        return push_req_decide(j, PUSH_OUT_MESSAGE_BAD,
                               apr_pstrcat(p, "this sender does not deliver to ", j->provider, NULL)), 0;
    if (!(j->cr = push_cred_get(w->sd, &w->db, j->app, j->provider)))
        return push_req_decide(j, PUSH_OUT_MESSAGE_BAD, apr_pstrcat(p, "no ", j->provider, " credentials", NULL)), 0;
    if (j->cr->error)
        return push_req_decide(j, PUSH_OUT_MESSAGE_BAD, j->cr->error), 0;
    if (j->cr->paused)
        return push_req_decide(j, PUSH_OUT_MESSAGE_BAD, apr_pstrcat(p, "credentials: ", j->cr->paused, NULL)), 0;
    j->db = &w->db;
    if (!(j->easy = easy_get(w))) {
        push_req_decide(j, PUSH_OUT_WAIT, "libcurl");
        j->out.delay_ms = 1000;
        return 0;
    }
    if (!prov->build(w->sd, p, j)) {
        job_end_request(w, j);
        return 0;
    }
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
    j->body.buf = j->resp;
    j->body.cap = sizeof(j->resp);
    j->body.len = 0;
    j->body_cut = 0;
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, keep_then_stop);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    curl_easy_getinfo(j->easy, CURLINFO_EFFECTIVE_URL, &url);
    if (!(l = link_for(w, j->cr, url ? url : ""))) {
        job_end_request(w, j);
        push_req_decide(j, PUSH_OUT_WAIT, "libcurl");
        j->out.delay_ms = 1000;
        return 0;
    }
    l->used = apr_time_now();
    j->link = l;
    curl_easy_setopt(j->easy, CURLOPT_SOCKOPTFUNCTION, link_sockopt);
    curl_easy_setopt(j->easy, CURLOPT_SOCKOPTDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_CLOSESOCKETFUNCTION, link_closesocket);
    curl_easy_setopt(j->easy, CURLOPT_CLOSESOCKETDATA, l);
    l->fresh = 1;
    curl_multi_add_handle(l->multi, j->easy);
    return 1;
}

/* A worker keeps deliveries of several units under way — chunks the expander leased, or
 * a claim from the outbox — so that the next chunk's requests go out while the last
 * answers of the previous one come in and while its outcomes are written: the provider's
 * connection never waits for the worker. A broadcast's chunks are half a batch, so two
 * of them fill an application's share; messages to one device each are chunks of one,
 * and an application holds up to UNITS_PER_APP of them at once (with two units in all,
 * 4 requests were under way, about 13 messages a second at a provider answering in
 * 300 ms). An application's units never add up to more than a batch (a larger chunk
 * taken over from another sender only alone), which bounds what a crash sends twice:
 * threads x batch per application with deliveries under way. */

/* Takes a chunk from the queue whose application's share has room, or (when the
 * worker may ask the outbox) a claim of due deliveries. Returns the deliveries taken
 * (0: none, -1: the database failed). */
static int unit_take(worker_t *w, push_unit_t *u)
{
    char n[16], lease[16], skip[8192];
    const char *params[4] = {w->sd->owner, n, lease, skip};
    PGresult *res;
    push_qjob_t *queued;
    apr_pool_t *p = u->pool;
    share_t *sh;

    /* first a chunk the expander leased for us, then what is due in the outbox (retries,
     * deliveries that waited) */
    if ((queued = push_queue_take(w->sd, chunk_fits, w))) {
        push_qjob_t *q;
        int i = 0;
        if (!(sh = share_get(w, queued->app))) {
            /* no memory for its share: the chunk is given back, sent again later */
            push_chunk_orphan(w->sd, queued->chunk);
            for (push_qjob_t *next; queued; queued = next) {
                next = queued->next;
                free(queued);
            }
            return 0;
        }
        for (u->rows = 0, q = queued; q; q = q->next)
            u->rows++;
        apr_snprintf(u->chunk, sizeof(u->chunk), "%" APR_INT64_T_FMT, queued->chunk);
        u->queued = queued;
        u->share = sh;
        sh->units++;
        u->jobs = apr_pcalloc(p, sizeof(*u->jobs) * u->rows);
        /* the strings stay in the queue's blocks, freed after the unit */
        for (q = queued; q; q = q->next, i++) {
            push_req_t *j = &u->jobs[i];
            j->app = q->app;
            j->msg = q->msg;
            j->dev = q->dev;
            j->provider = q->provider;
            j->attempts = 1;
            j->token = q->token;
            j->topic = q->topic;
            j->unit = u;
            j->share = sh;
        }
        sh->held += u->rows;
    } else {
        /* The outbox for an idle worker whenever it looks, else at most once a second
         * (and so while the expander feeds the queue, which it is about to refill),
         * since a claim walks the due index past every row sent since its lease began;
         * never for the applications whose share is full: their deliveries are under
         * way here already, and another's retry is not kept waiting behind theirs. */
        apr_time_t now = apr_time_now();
        size_t at = 1;
        int room = HELD_MAX(w) - w->held;
        if (room <= 0 || ((w->nunits > 0 || apr_atomic_read32(&w->sd->feeding)) &&
                          now - w->last_claim < apr_time_from_sec(1)))
            return 0;
        w->last_claim = now;
        skip[0] = '{';
        for (share_t *s = w->shares; s; s = s->next)
            if (s->held >= w->sd->c->batch)
                push_pg_array_add(skip, sizeof(skip), &at, s->app);
        push_pg_array_end(skip, at);
        apr_snprintf(n, sizeof(n), "%d", room < w->sd->c->batch ? room : w->sd->c->batch);
        apr_snprintf(lease, sizeof(lease), "%d", w->sd->c->lease);
        res = push_pg_exec(w->sd, &w->db,
                           "SELECT app_id, message_id, device_id, provider, attempts, token, topic "
                           "FROM push_delivery_claim($1, $2::integer, $3::integer, $4::text[])", 4, params);
        if (!res)
            return -1;
        if (PQntuples(res) == 0) {
            PQclear(res);
            return 0;
        }
        u->rows = PQntuples(res);
        u->jobs = apr_pcalloc(p, sizeof(*u->jobs) * u->rows);
        u->share = NULL;
        for (int i = 0; i < u->rows; i++) {
            push_req_t *j = &u->jobs[i];
            j->app = apr_pstrdup(p, PQgetvalue(res, i, 0));
            j->msg = apr_pstrdup(p, PQgetvalue(res, i, 1));
            j->dev = apr_pstrdup(p, PQgetvalue(res, i, 2));
            j->provider = apr_pstrdup(p, PQgetvalue(res, i, 3));
            j->attempts = atoi(PQgetvalue(res, i, 4));
            j->token = PQgetisnull(res, i, 5) ? NULL : apr_pstrdup(p, PQgetvalue(res, i, 5));
            j->topic = PQgetisnull(res, i, 6) ? NULL : apr_pstrdup(p, PQgetvalue(res, i, 6));
            j->unit = u;
            /* a delivery whose share cannot be had is decided without a request (it
             * waits a second: no memory) */
            if ((j->share = share_get(w, j->app)))
                ((share_t *)j->share)->held++;
        }
        PQclear(res);
    }
    u->next = u->pending = u->blocked = 0;
    u->seq = ++w->seq;
    w->held += u->rows;
    return u->rows;
}

/* Every delivery of the unit is decided: its outcomes are written (a chunk's sent
 * deliveries as a count, only the others named), and the unit is emptied. */
static void unit_finish(worker_t *w, push_unit_t *u)
{
    apr_pool_t *p = u->pool;
    const char *params[2] = {w->sd->owner, NULL};
    json_object *results = json_object_new_array_ext(u->queued ? 16 : u->rows);
    PGresult *res;
    int sent = 0;

    for (int i = 0; i < u->rows; i++) {
        settle(w, p, &u->jobs[i]);
        if (u->queued && u->jobs[i].out.kind == PUSH_OUT_SENT)
            sent++;
        else
            json_object_array_add(results, outcome_json(&u->jobs[i], u->queued != NULL));
    }
    if (u->queued) {
        char nsent[16];
        const char *cp[4] = {w->sd->owner, u->chunk, nsent, NULL};
        apr_snprintf(nsent, sizeof(nsent), "%d", sent);
        cp[3] = json_object_to_json_string_ext(results, JSON_C_TO_STRING_PLAIN);
        res = push_pg_exec(w->sd, &w->db, "SELECT push_chunk_finish($1, $2::bigint, $3::integer, $4::jsonb)",
                           4, cp);
        if (!res)
            push_chunk_orphan(w->sd, apr_atoi64(u->chunk));
        else if (atoi(PQgetvalue(res, 0, 0)) < 0)
            SLOG(w->sd, APLOG_WARNING, "PUSH0635", "sender: chunk %s was taken over by another sender "
                 "before its %d outcomes were written; it is delivered again", u->chunk, u->rows);
    } else {
        params[1] = json_object_to_json_string_ext(results, JSON_C_TO_STRING_PLAIN);
        res = push_pg_exec(w->sd, &w->db, "SELECT push_delivery_finish($1, $2::jsonb)", 2, params);
    }
    if (!res)
        SLOG(w->sd, APLOG_ERR, "PUSH0631", "sender: %d outcomes not written; their leases run out (a "
             "chunk's is given back) and they are delivered again", u->rows);
    PQclear(res);
    json_object_put(results);
    for (int i = 0; i < u->rows; i++) {
        push_req_t *j = &u->jobs[i];
        push_cred_release(j->cr);
        if (j->m)
            j->m->refs--;
        if (j->share)
            ((share_t *)j->share)->held--;
    }
    if (u->share)
        u->share->units--;
    w->held -= u->rows;
    for (push_qjob_t *nextq, *q = u->queued; q; q = nextq) {
        nextq = q->next;
        free(q);
    }
    u->queued = NULL;
    u->share = NULL;
    u->jobs = NULL;
    u->rows = u->next = u->pending = 0;
    apr_pool_clear(p);
}

/* A free unit, with a pool; NULL when none can be had. */
static push_unit_t *unit_new(worker_t *w)
{
    push_unit_t *u = w->spare;
    if (u) {
        w->spare = u->next_spare;
        w->nspare--;
        return u;
    }
    if (!(u = calloc(1, sizeof(*u))))
        return NULL;
    if (apr_pool_create(&u->pool, NULL) != APR_SUCCESS) {
        free(u);
        return NULL;
    }
    return u;
}

static void unit_free(worker_t *w, push_unit_t *u)
{
    if (w->nspare < SPARE_UNITS) {
        u->next_spare = w->spare;
        w->spare = u;
        w->nspare++;
    } else {
        apr_pool_destroy(u->pool);
        free(u);
    }
}

/* Runs every connection and settles the requests libcurl finished (inflight counts them
 * down); active: the connections with requests still under way. */
static void links_run(worker_t *w, int *inflight, int *active)
{
    *active = 0;
    for (link_t *l = w->links; l; l = l->next) {
        CURLMsg *msg;
        int left, cork = l->fresh && l->nfds;
        if (cork)
            link_cork(l, 1);
        curl_multi_perform(l->multi, &l->running);
        if (cork)
            link_cork(l, 0);
        l->fresh = 0;
        while ((msg = curl_multi_info_read(l->multi, &left))) {
            push_req_t *j;
            push_unit_t *u;
            long status = 0;
            CURLcode rc;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            /* a body cut at resp's size (keep_then_stop) is an answer like any other */
            rc = msg->data.result == CURLE_WRITE_ERROR && j->body_cut ? CURLE_OK : msg->data.result;
            if (rc == CURLE_OK)
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            u = j->unit;
            j->cr->prov->classify(w->sd, u->pool, j, status, rc);
            request_done(w, j, status, rc);
            curl_multi_remove_handle(l->multi, j->easy);
            job_end_request(w, j);
            u->pending--;
            ((share_t *)j->share)->inflight--;
            (*inflight)--;
        }
        if (l->running)
            (*active)++;
    }
}

void *APR_THREAD_FUNC push_deliver_thread(apr_thread_t *t, void *data)
{
    worker_t w;
    apr_uint32_t seen = 0;
    int inflight = 0, failed = 0, window;

    memset(&w, 0, sizeof(w));
    w.sd = data;
    w.rnd = (unsigned int)apr_time_now() ^ (unsigned int)(apr_uintptr_t)t;
    apr_pool_create(&w.cache_pool, NULL);
    w.messages = apr_hash_make(w.cache_pool);
    window = w.sd->c->batch < MAX_INFLIGHT ? w.sd->c->batch : MAX_INFLIGHT;

    for (;;) {
        int active, progress = 0;
        messages_trim(&w);
        /* more work while the shares leave room */
        failed = 0;
        while (!SENDER_STOPPING(w.sd) && w.nunits < UNITS_MAX) {
            push_unit_t *u = unit_new(&w);
            int n;
            if (!u)
                break;
            n = unit_take(&w, u);
            if (n <= 0) {
                unit_free(&w, u);
                failed = n < 0;
                break;
            }
            w.units[w.nunits++] = u;
            progress = 1;
        }
        if (w.nunits == 0) {
            share_drop_idle(&w);
            links_sweep(&w, 0);
            if (SENDER_STOPPING(w.sd))
                break;
            if (failed && !w.db)
                continue;   /* connecting again */
            push_sender_wait(w.sd, &seen, 500);
            continue;
        }
        /* start requests, the older unit's first, at most MAX_INFLIGHT of an application
         * and INFLIGHT_MAX in all under way: each costs libcurl buffers, and the sender's
         * memory must not grow with the batch (nor, ever, with the audience). A unit
         * whose next delivery's application has its requests under way waits; the
         * next unit goes first meanwhile. */
        for (int k = 0; k < w.nunits; k++)
            w.units[k]->blocked = 0;
        while (inflight < INFLIGHT_MAX) {
            push_unit_t *u = NULL;
            for (int k = 0; k < w.nunits; k++) {
                push_unit_t *c = w.units[k];
                if (!c->blocked && c->next < c->rows && (!u || c->seq < u->seq))
                    u = c;
            }
            if (!u)
                break;
            while (u->next < u->rows && inflight < INFLIGHT_MAX) {
                push_req_t *j = &u->jobs[u->next];
                share_t *sh = j->share;
                int out;
                if (!sh) {
                    push_req_decide(j, PUSH_OUT_WAIT, "no memory");
                    j->out.delay_ms = 1000;
                    u->next++;
                    continue;
                }
                if (sh->inflight >= MAX_INFLIGHT) {
                    u->blocked = 1;
                    break;
                }
                u->next++;
                out = start_job(&w, u->pool, j);
                u->pending += out;
                sh->inflight += out;
                inflight += out;
                progress = 1;
            }
        }
        links_run(&w, &inflight, &active);
        for (int k = 0; k < w.nunits; k++) {
            push_unit_t *u = w.units[k];
            if (u->next == u->rows && u->pending == 0) {
                unit_finish(&w, u);
                w.units[k--] = w.units[--w.nunits];
                unit_free(&w, u);
                links_sweep(&w, 0);
                progress = 1;
            }
        }
        if (!progress && inflight > 0) {
            int waited = 0;
            /* one wait, on the first connection set with requests under way: the others
             * are read by the next round's perform */
            for (link_t *l = w.links; l && !waited; l = l->next)
                if (l->running) {
                    curl_multi_poll(l->multi, NULL, 0, active > 1 ? 5 : 100, NULL);
                    waited = 1;
                }
            /* With most of the window under way, the answers are read a moment after the
             * first one arrives: libcurl 7.88's perform visits every transfer of the
             * multi handle, so fewer rounds of more answers each cost less per answer,
             * here and at the provider, which then gets the next requests in bursts too
             * (bench/delivery, 300,000 devices: sender 50 -> 45 us, mock 63 -> 55 us per
             * request). A lone message is never held back. */
            if (inflight > window / 2 && active <= 1)
                apr_sleep(GATHER);
        }
    }
    links_sweep(&w, 1);
    while (w.idle_count)
        curl_easy_cleanup(w.idle[--w.idle_count]);
    PQfinish(w.db);
    for (int i = 0; i < w.nunits; i++)
        unit_free(&w, w.units[i]);
    while (w.spare) {
        push_unit_t *u = w.spare;
        w.spare = u->next_spare;
        apr_pool_destroy(u->pool);
        free(u);
    }
    while (w.shares) {
        share_t *sh = w.shares;
        w.shares = sh->next;
        free(sh);
    }
    apr_pool_destroy(w.cache_pool);
    return NULL;   /* counted_thread (run.c) ends it */
}
