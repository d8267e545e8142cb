/* Delivery workers. Each claims a batch of due deliveries (FOR UPDATE SKIP LOCKED, with
 * a lease), sends them through one libcurl multi handle per credential — HTTP/2, many
 * streams on one connection, as Apple and Google ask — and writes the outcomes back in
 * one statement. A batch's memory is one pool, cleared after it: the sender's size does
 * not depend on the audience. */
#include "sender/internal.h"

#include <stdlib.h>

#include <apr_strings.h>
#include <curl/curl.h>

#include "sender/classify.h"
#include "sender/payload.h"


#define MSG_CACHE_MAX 256
#define MAX_INFLIGHT  250   /* requests one worker has under way */

/* A message as the worker needs it, cached across batches. */
typedef struct {
    json_object *body;
    apr_time_t expires;           /* 0: none */
    int state_ok;                 /* not cancelled, expired or gone */
    const char *apns_topic;       /* the topic apns_req was mapped for */
    push_apns_request_t apns_req; /* mapped once per message and topic */
    const char *apns_error;
} msg_t;

typedef struct {
    CURLM *multi;
    int running;
} link_t;

typedef struct {
    push_sender_t *sd;
    PGconn *db;
    apr_pool_t *cache_pool;
    apr_hash_t *messages;         /* "app/msg" -> msg_t */
    apr_pool_t *link_pool;
    apr_hash_t *links;            /* push_cred_t * -> link_t */
    unsigned int rnd;
    CURL *idle[MAX_INFLIGHT];     /* easy handles kept for reuse */
    int idle_count;
    apr_time_t last_claim;        /* the last claim from the outbox */
} worker_t;

typedef struct {
    const char *app, *msg, *dev, *provider, *token, *topic;
    int attempts;
    msg_t *m;
    push_cred_t *cr;
    const char *bearer;
    CURL *easy;
    struct curl_slist *headers;
    char resp[2048];
    push_body_buf_t body;         /* writes into resp */
    char apns_id[80];
    char retry_after[80];
    /* the outcome */
    const char *state, *error, *provider_id;
    apr_int64_t retry_ms, gone_ms;
} job_t;

static void job_outcome(job_t *j, const char *state, const char *error)
{
    j->state = state;
    j->error = error;
}

/* Privacy ("id only") mode: the push carries no content, only what the app needs to fetch
 * it (Rocket.Chat's push.get): "You have a new message" and, as the custom payload, the
 * message id and an ejson string {host, messageId, notificationType}. Takes the original
 * (and releases it); collapse key and priority are kept. */
static json_object *id_only_body(json_object *orig, const char *id, const char *host)
{
    json_object *b = json_object_new_object(), *m = json_object_new_object(), *ejson = json_object_new_object();
    json_object *settings = json_object_new_object(), *v;
    const char *ej;
    if (host)
        json_object_object_add(ejson, "host", json_object_new_string(host));
    json_object_object_add(ejson, "messageId", json_object_new_string(id));
    json_object_object_add(ejson, "notificationType", json_object_new_string("message-id-only"));
    ej = json_object_to_json_string_ext(ejson, JSON_C_TO_STRING_PLAIN);
    for (int i = 0; i < 2; i++) {
        json_object *fam = json_object_new_object(), *payload = json_object_new_object();
        json_object_object_add(payload, "ejson", json_object_new_string(ej));
        json_object_object_add(payload, "messageId", json_object_new_string(id));
        json_object_object_add(fam, "payload", payload);
        json_object_object_add(settings, i == 0 ? "apns" : "gcm", fam);
    }
    json_object_put(ejson);
    json_object_object_add(m, "alert", json_object_new_string(PUSH_PRIVATE_ALERT));
    json_object_object_add(b, "message", m);
    json_object_object_add(b, "settings", settings);
    if (json_object_object_get_ex(orig, "collapseKey", &v))
        json_object_object_add(b, "collapseKey", json_object_get(v));
    if (json_object_object_get_ex(orig, "priority", &v))
        json_object_object_add(b, "priority", json_object_get(v));
    json_object_put(orig);
    return b;
}

static msg_t *message(worker_t *w, apr_pool_t *p, job_t *j)
{
    /* the lookup key lives in the batch's pool: only a new entry copies it */
    const char *key = apr_pstrcat(p, j->app, "/", j->msg, NULL);
    msg_t *m = apr_hash_get(w->messages, key, APR_HASH_KEY_STRING);
    const char *params[2] = {j->app, j->msg};
    PGresult *res;
    if (m)
        return m;
    res = push_pg_exec(w->sd, &w->db,
                       "SELECT m.body::text, coalesce((extract(epoch FROM m.expires_at) * 1000000)::bigint, 0), "
                       "m.state NOT IN ('cancelled', 'expired'), "
                       "coalesce((a.settings->>'idOnly')::boolean, false), a.settings->>'host' "
                       "FROM push_message m JOIN push_application a ON a.app_id = m.app_id "
                       "WHERE m.app_id = $1 AND m.message_id = $2", 2, params);
    if (!res)
        return NULL;
    m = apr_pcalloc(w->cache_pool, sizeof(*m));
    if (PQntuples(res) == 1) {
        m->body = json_tokener_parse(PQgetvalue(res, 0, 0));
        if (m->body && PQgetvalue(res, 0, 3)[0] == 't')
            m->body = id_only_body(m->body, j->msg, PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4));
        if (m->body)
            apr_pool_cleanup_register(w->cache_pool, m->body, (apr_status_t (*)(void *))json_object_put,
                                      apr_pool_cleanup_null);
        m->expires = (apr_time_t)apr_atoi64(PQgetvalue(res, 0, 1));
        m->state_ok = PQgetvalue(res, 0, 2)[0] == 't' && m->body;
    }
    PQclear(res);
    apr_hash_set(w->messages, apr_pstrdup(w->cache_pool, key), APR_HASH_KEY_STRING, m);
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
    job_t *j = ctx;
    size_t len = size * n;
    if (len > 8 && strncasecmp(line, "apns-id:", 8) == 0)
        header_value(j->apns_id, sizeof(j->apns_id), line, len, 8);
    else if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0)
        header_value(j->retry_after, sizeof(j->retry_after), line, len, 12);
    return len;
}

static link_t *link_for(worker_t *w, push_cred_t *cr, const char *url)
{
    link_t *l = apr_hash_get(w->links, &cr, sizeof(cr));
    if (l)
        return l;
    l = apr_pcalloc(w->link_pool, sizeof(*l));
    l->multi = curl_multi_init();
    curl_multi_setopt(l->multi, CURLMOPT_PIPELINING,
                      push_curl_h2c_broken && strncmp(url, "http://", 7) == 0 ? CURLPIPE_NOTHING
                                                                              : CURLPIPE_MULTIPLEX);
    curl_multi_setopt(l->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 2L);
    /* keep idle connections between batches (the default cache follows the number of
     * handles added, which is none between batches) */
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 8L);
    curl_multi_setopt(l->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 1000L);
    apr_hash_set(w->links, apr_pmemdup(w->link_pool, &cr, sizeof(cr)), sizeof(cr), l);
    return l;
}

/* Builds the APNs request of a job; 0 when the job already has its outcome. */
static int prepare_apns(worker_t *w, apr_pool_t *p, job_t *j)
{
    push_cred_t *cr = j->cr;
    msg_t *m = j->m;
    json_object *v;
    const char *topic = j->topic, *base, *err, *auth;
    int sandbox = json_object_object_get_ex(cr->config, "isSandBox", &v) && json_object_get_boolean(v);

    if (!topic && json_object_object_get_ex(cr->config, "bundleId", &v))
        topic = json_object_get_string(v);
    if (!m->apns_topic || strcmp(m->apns_topic, topic ? topic : "") != 0) {
        /* mapped once per message and topic, in the cache's pool */
        m->apns_error = NULL;
        if (!push_apns_map(w->cache_pool, m->body, topic, apr_time_sec(m->expires), NULL, &m->apns_req,
                           &err))
            m->apns_error = apr_pstrdup(w->cache_pool, err);
        m->apns_topic = apr_pstrdup(w->cache_pool, topic ? topic : "");
    }
    if (m->apns_error)
        return job_outcome(j, "failed", m->apns_error), 0;
    base = w->sd->c->endpoint[sandbox ? PUSH_EP_APNS_SANDBOX : PUSH_EP_APNS];
    push_curl_common(w->sd, j->easy, apr_pstrcat(p, base, "/3/device/", j->token, NULL), 1);
    auth = json_object_object_get_ex(cr->config, "authType", &v) ? json_object_get_string(v) : "token";
    if (strcmp(auth, "certificate") == 0) {
        struct curl_blob blob;
        blob.data = (void *)cr->p12;
        blob.len = cr->p12_len;
        blob.flags = CURL_BLOB_NOCOPY;   /* the credential outlives the request */
        curl_easy_setopt(j->easy, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(j->easy, CURLOPT_SSLCERTTYPE, "P12");
        if (cr->p12_password)
            curl_easy_setopt(j->easy, CURLOPT_KEYPASSWD, cr->p12_password);
    } else {
        if (!(j->bearer = push_cred_bearer(w->sd, cr, &err)))
            return job_outcome(j, "failed", apr_pstrcat(p, "APNs provider token: ", err, NULL)), 0;
        j->headers = curl_slist_append(j->headers, apr_pstrcat(p, "authorization: bearer ", j->bearer, NULL));
    }
    if (m->apns_req.topic && *m->apns_req.topic)
        j->headers = curl_slist_append(j->headers, apr_pstrcat(p, "apns-topic: ", m->apns_req.topic, NULL));
    j->headers = curl_slist_append(j->headers, apr_pstrcat(p, "apns-push-type: ", m->apns_req.push_type, NULL));
    j->headers = curl_slist_append(j->headers, apr_psprintf(p, "apns-priority: %d", m->apns_req.priority));
    j->headers = curl_slist_append(j->headers, apr_psprintf(p, "apns-expiration: %" APR_INT64_T_FMT,
                                                            m->apns_req.expiration));
    if (m->apns_req.collapse_id)
        j->headers = curl_slist_append(j->headers,
                                       apr_pstrcat(p, "apns-collapse-id: ", m->apns_req.collapse_id, NULL));
    j->headers = curl_slist_append(j->headers, "content-type: application/json");
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, m->apns_req.body);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE, (long)m->apns_req.body_len);
    return 1;
}

static int prepare_fcm(worker_t *w, apr_pool_t *p, job_t *j)
{
    push_cred_t *cr = j->cr;
    json_object *v;
    const char *body, *err, *project;
    apr_int64_t ttl = -1;
    if (j->m->expires)
        ttl = apr_time_sec(j->m->expires - apr_time_now());
    if (!push_fcm_map(p, j->m->body, j->token, ttl < 0 ? -1 : ttl, NULL, &body, &err))
        return job_outcome(j, "failed", err), 0;
    if (!(j->bearer = push_cred_bearer(w->sd, cr, &err))) {
        job_outcome(j, "retry", apr_pstrcat(p, "FCM access token: ", err, NULL));
        return 0;
    }
    project = json_object_object_get_ex(cr->config, "projectId", &v) ? json_object_get_string(v) : "";
    push_curl_common(w->sd, j->easy,
                     apr_pstrcat(p, w->sd->c->endpoint[PUSH_EP_FCM], "/v1/projects/", project,
                                 "/messages:send", NULL), 1);
    j->headers = curl_slist_append(j->headers, apr_pstrcat(p, "authorization: Bearer ", j->bearer, NULL));
    j->headers = curl_slist_append(j->headers, "content-type: application/json");
    curl_easy_setopt(j->easy, CURLOPT_COPYPOSTFIELDS, body);
    return 1;
}

/* Turns a provider's answer into the job's outcome. */
static void conclude(worker_t *w, apr_pool_t *p, job_t *j, long status, CURLcode rc)
{
    push_outcome_t o;
    const char *body = rc == CURLE_OK ? j->resp : curl_easy_strerror(rc);
    if (strcmp(j->provider, "apns") == 0)
        push_classify_apns(p, rc == CURLE_OK ? status : 0, body, j->retry_after, &o);
    else
        push_classify_fcm(p, rc == CURLE_OK ? status : 0, body, j->retry_after, &o);
    switch (o.kind) {
    case PUSH_OUT_SENT:
        j->state = "sent";
        if (j->apns_id[0])
            j->provider_id = apr_pstrdup(p, j->apns_id);
        else {
            json_object *r = json_tokener_parse(j->resp), *name;
            if (r && json_object_object_get_ex(r, "name", &name))
                j->provider_id = apr_pstrdup(p, json_object_get_string(name));
            json_object_put(r);
        }
        return;
    case PUSH_OUT_DEVICE_GONE:
        j->state = "invalid";
        j->error = o.reason;
        j->gone_ms = o.gone_at_ms;
        return;
    case PUSH_OUT_MESSAGE_BAD:
        j->state = "failed";
        j->error = o.reason;
        return;
    case PUSH_OUT_CREDENTIALS:
        if (strcmp(o.reason, "ExpiredProviderToken") == 0 || strcmp(o.reason, "UNAUTHENTICATED") == 0) {
            /* our token aged or was revoked: a new one, and this delivery again */
            push_cred_renew(j->cr, j->bearer);
            j->state = "retry";
            j->error = o.reason;
            break;
        }
        push_cred_pause(w->sd, &w->db, j->cr, o.reason);
        j->state = "failed";
        j->error = apr_pstrcat(p, "credentials: ", o.reason, NULL);
        return;
    case PUSH_OUT_RETRY:
        j->state = "retry";
        j->error = o.reason;
        break;
    }
    j->retry_ms = push_backoff_ms(j->attempts, w->sd->c->backoff_base_ms, w->sd->c->backoff_cap_ms,
                                  o.retry_after, (w->rnd = w->rnd * 1103515245u + 12345u));
}

/* A retry that the attempt limit or the message's expiry rules out becomes final. */
static void settle_retry(worker_t *w, apr_pool_t *p, job_t *j)
{
    if (strcmp(j->state, "retry") != 0)
        return;
    if (j->attempts >= w->sd->c->max_attempts) {
        j->state = "failed";
        return;
    }
    if (j->m && j->m->expires && apr_time_now() + apr_time_from_msec(j->retry_ms) >= j->m->expires) {
        j->state = "expired";
        j->error = apr_pstrcat(p, "expired after ", j->error ? j->error : "a failure", NULL);
    }
}

/* Easy handles are kept for the next request (curl_easy_reset) rather than made anew. */
static CURL *easy_get(worker_t *w)
{
    CURL *e = w->idle_count ? w->idle[--w->idle_count] : curl_easy_init();
    if (e)
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);   /* answers are small */
    return e;
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

/* Decides a job without a request, or starts its request; returns 1 when it went out. */
static int start_job(worker_t *w, apr_pool_t *p, job_t *j)
{
    int ok;
    if (!(j->m = message(w, p, j)) || !j->m->state_ok) {
        job_outcome(j, j->m ? "failed" : "retry", j->m ? "the message is gone" : "database");
        j->retry_ms = 1000;
        return 0;
    }
    if (j->m->expires && apr_time_now() >= j->m->expires)
        return job_outcome(j, "expired", "expired"), 0;
    if (!j->token)
        return job_outcome(j, "failed", "the device was removed or its token is dead"), 0;
    if (strcmp(j->provider, "apns") != 0 && strcmp(j->provider, "fcm") != 0)
        return job_outcome(j, "failed", apr_pstrcat(p, "this sender does not deliver to ", j->provider, NULL)), 0;
    j->cr = push_cred_get(w->sd, &w->db, j->app, j->provider);
    if (!j->cr)
        return job_outcome(j, "failed", apr_pstrcat(p, "no ", j->provider, " credentials", NULL)), 0;
    if (j->cr->error)
        return job_outcome(j, "failed", j->cr->error), 0;
    if (j->cr->paused)
        return job_outcome(j, "failed", apr_pstrcat(p, "credentials: ", j->cr->paused, NULL)), 0;
    if (!(j->easy = easy_get(w))) {
        job_outcome(j, "retry", "libcurl");
        j->retry_ms = 1000;
        return 0;
    }
    ok = strcmp(j->provider, "apns") == 0 ? prepare_apns(w, p, j) : prepare_fcm(w, p, j);
    if (!ok) {
        easy_release(w, j->easy);
        curl_slist_free_all(j->headers);
        j->headers = NULL;
        j->easy = NULL;
        if (j->state && strcmp(j->state, "retry") == 0)
            j->retry_ms = push_backoff_ms(j->attempts, w->sd->c->backoff_base_ms, w->sd->c->backoff_cap_ms,
                                          -1, (w->rnd = w->rnd * 1103515245u + 12345u));
        return 0;
    }
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
    j->body.buf = j->resp;
    j->body.cap = sizeof(j->resp);
    j->body.len = 0;
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, push_curl_keep);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, &j->body);
    curl_easy_setopt(j->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(j->easy, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    {
        const char *url = NULL;
        curl_easy_getinfo(j->easy, CURLINFO_EFFECTIVE_URL, &url);
        curl_multi_add_handle(link_for(w, j->cr, url ? url : "")->multi, j->easy);
    }
    return 1;
}

static int run_batch(worker_t *w, apr_pool_t *p)
{
    char n[16], lease[16];
    const char *params[3] = {w->sd->owner, n, lease};
    PGresult *res;
    int rows;
    job_t *jobs;
    json_object *results;
    apr_hash_index_t *hi;
    int pending = 0, next = 0;
    push_qjob_t *queued;

    /* cached messages live across batches, never across the middle of one */
    if (apr_hash_count(w->messages) >= MSG_CACHE_MAX) {
        apr_pool_clear(w->cache_pool);
        w->messages = apr_hash_make(w->cache_pool);
    }
    /* first what the expander claimed for us, then what is due in the outbox (retries,
     * deliveries of a sender that died, expansions of other senders) */
    if ((queued = push_queue_take(w->sd, w->sd->c->batch))) {
        push_qjob_t *q, *nextq;
        for (rows = 0, q = queued; q; q = q->next)
            rows++;
        jobs = apr_pcalloc(p, sizeof(*jobs) * rows);
        for (int i = 0; (q = queued); queued = nextq, i++) {
            job_t *j = &jobs[i];
            nextq = q->next;
            j->app = apr_pstrdup(p, q->app);
            j->msg = apr_pstrdup(p, q->msg);
            j->dev = apr_pstrdup(p, q->dev);
            j->provider = apr_pstrdup(p, q->provider);
            j->attempts = 1;
            j->token = q->token ? apr_pstrdup(p, q->token) : NULL;
            j->topic = q->topic ? apr_pstrdup(p, q->topic) : NULL;
            free(q);
        }
    } else {
        /* While the expander feeds the queue, it is about to refill it: the outbox is
         * asked at most once a second (for retries and what other senders left), since
         * a claim walks the due index past every row sent since its lease began. */
        apr_time_t now = apr_time_now();
        if (apr_atomic_read32(&w->sd->feeding) && now - w->last_claim < apr_time_from_sec(1))
            return 0;
        w->last_claim = now;
        apr_snprintf(n, sizeof(n), "%d", w->sd->c->batch);
        apr_snprintf(lease, sizeof(lease), "%d", w->sd->c->lease);
        res = push_pg_exec(w->sd, &w->db,
                           "SELECT app_id, message_id, device_id, provider, attempts, token, topic "
                           "FROM push_delivery_claim($1, $2::integer, $3::integer)", 3, params);
        if (!res)
            return -1;
        rows = PQntuples(res);
        if (rows == 0) {
            PQclear(res);
            return 0;
        }
        jobs = apr_pcalloc(p, sizeof(*jobs) * rows);
        for (int i = 0; i < rows; i++) {
            job_t *j = &jobs[i];
            j->app = apr_pstrdup(p, PQgetvalue(res, i, 0));
            j->msg = apr_pstrdup(p, PQgetvalue(res, i, 1));
            j->dev = apr_pstrdup(p, PQgetvalue(res, i, 2));
            j->provider = apr_pstrdup(p, PQgetvalue(res, i, 3));
            j->attempts = atoi(PQgetvalue(res, i, 4));
            j->token = PQgetisnull(res, i, 5) ? NULL : apr_pstrdup(p, PQgetvalue(res, i, 5));
            j->topic = PQgetisnull(res, i, 6) ? NULL : apr_pstrdup(p, PQgetvalue(res, i, 6));
        }
        PQclear(res);
    }

    /* at most MAX_INFLIGHT streams at once: each costs libcurl buffers, and the sender's
     * memory must not grow with the batch (nor, ever, with the audience) */
    while (pending > 0 || next < rows) {
        int active = 0;
        while (next < rows && pending < MAX_INFLIGHT)
            pending += start_job(w, p, &jobs[next++]);
        if (pending == 0)
            break;
        for (hi = apr_hash_first(p, w->links); hi; hi = apr_hash_next(hi)) {
            link_t *l = apr_hash_this_val(hi);
            CURLMsg *msg;
            int left;
            curl_multi_perform(l->multi, &l->running);
            while ((msg = curl_multi_info_read(l->multi, &left))) {
                job_t *j;
                long status = 0;
                if (msg->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                conclude(w, p, j, status, msg->data.result);
                curl_multi_remove_handle(l->multi, j->easy);
                easy_release(w, j->easy);
                curl_slist_free_all(j->headers);
                j->easy = NULL;
                j->headers = NULL;
                pending--;
            }
            if (l->running)
                active++;
        }
        if (pending > 0 && (next >= rows || pending >= MAX_INFLIGHT)) {
            for (hi = apr_hash_first(p, w->links); hi; hi = apr_hash_next(hi)) {
                link_t *l = apr_hash_this_val(hi);
                if (l->running)
                    curl_multi_poll(l->multi, NULL, 0, active > 1 ? 5 : 100, NULL);
            }
        }
    }

    results = json_object_new_array_ext(rows);
    for (int i = 0; i < rows; i++) {
        job_t *j = &jobs[i];
        json_object *o = json_object_new_object();
        settle_retry(w, p, j);
        json_object_object_add(o, "a", json_object_new_string(j->app));
        json_object_object_add(o, "m", json_object_new_string(j->msg));
        json_object_object_add(o, "d", json_object_new_string(j->dev));
        json_object_object_add(o, "s", json_object_new_string(j->state));
        if (j->error)
            json_object_object_add(o, "e", json_object_new_string(j->error));
        if (j->provider_id)
            json_object_object_add(o, "p", json_object_new_string(j->provider_id));
        if (strcmp(j->state, "retry") == 0)
            json_object_object_add(o, "r", json_object_new_int64(j->retry_ms));
        if (j->gone_ms)
            json_object_object_add(o, "g", json_object_new_int64(j->gone_ms));
        json_object_array_add(results, o);
    }
    params[1] = json_object_to_json_string_ext(results, JSON_C_TO_STRING_PLAIN);
    res = push_pg_exec(w->sd, &w->db, "SELECT push_delivery_finish($1, $2::jsonb)", 2, params);
    if (!res)
        SLOG(w->sd, APLOG_ERR, "PUSH0631", "sender: %d outcomes not written; their leases run out and "
             "they are delivered again", rows);
    PQclear(res);
    json_object_put(results);
    return rows;
}

void *APR_THREAD_FUNC push_deliver_thread(apr_thread_t *t, void *data)
{
    worker_t w;
    apr_pool_t *batch;
    apr_uint32_t seen = 0;
    apr_hash_index_t *hi;

    memset(&w, 0, sizeof(w));
    w.sd = data;
    w.rnd = (unsigned int)apr_time_now() ^ (unsigned int)(apr_uintptr_t)t;
    apr_pool_create(&w.cache_pool, NULL);
    apr_pool_create(&w.link_pool, NULL);
    apr_pool_create(&batch, NULL);
    w.messages = apr_hash_make(w.cache_pool);
    w.links = apr_hash_make(w.link_pool);

    while (!SENDER_STOPPING(w.sd)) {
        int n = run_batch(&w, batch);
        apr_pool_clear(batch);
        if (n > 0)
            continue;
        if (n < 0 && !w.db)
            continue;   /* connecting again (or stopping) */
        push_sender_wait(w.sd, &seen, 500);
    }
    for (hi = apr_hash_first(w.link_pool, w.links); hi; hi = apr_hash_next(hi))
        curl_multi_cleanup(((link_t *)apr_hash_this_val(hi))->multi);
    while (w.idle_count)
        curl_easy_cleanup(w.idle[--w.idle_count]);
    PQfinish(w.db);
    apr_pool_destroy(batch);
    apr_pool_destroy(w.link_pool);
    apr_pool_destroy(w.cache_pool);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}
