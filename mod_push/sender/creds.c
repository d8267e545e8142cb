/* Provider credentials inside the sender: read from push_credential, opened with the
 * PushSecretKey, prepared once per version by their provider, and counted so that a
 * superseded, deleted or idle version gives back its keys, handles and sockets. Bearer
 * tokens fetched from a token endpoint (FCM's OAuth, WNS's next) are fetched here, on a
 * thread of their own with a libcurl multi handle, never in a delivery loop: a token
 * endpoint that hangs delays only its own application's deliveries, which wait (without
 * counting an attempt) while the failure is retried with backoff. */
#include "sender/provider.h"

#include <stdlib.h>

#include <apr_strings.h>

#include "core/secret.h"


#define CRED_TTL          apr_time_from_sec(10)    /* how long a read credential is trusted */
#define CRED_IDLE         apr_time_from_sec(60)    /* unused this long: retired */
#define CRED_CHECK        apr_time_from_sec(10)    /* cached versions checked against the table */
#define BEARER_MARGIN     apr_time_from_sec(60)    /* renewed this long before it expires */
#define BEARER_AHEAD      apr_time_from_sec(300)   /* REMOTE: fetched ahead while in use */
#define FETCH_TIMEOUT_MS  5000L                    /* one token request, end to end */
#define FETCH_BACKOFF_MIN apr_time_from_sec(1)
#define FETCH_BACKOFF_MAX apr_time_from_sec(300)
#define WAIT_FIRST_MS     200                      /* a delivery waiting for a first token */

void push_cred_hold(push_cred_t *cr)
{
    apr_atomic_inc32(&cr->refs);
}

void push_cred_release(push_cred_t *cr)
{
    if (cr && apr_atomic_dec32(&cr->refs) == 0)
        apr_pool_destroy(cr->pool);   /* the provider's cleanups free keys and handles */
}

/* Takes cr out of the cache (under sd->lock) and gives back the cache's reference. */
static void retire_locked(push_sender_t *sd, push_cred_t *cr)
{
    if (apr_hash_get(sd->creds, cr->key, APR_HASH_KEY_STRING) == cr)
        apr_hash_set(sd->creds, cr->key, APR_HASH_KEY_STRING, NULL);
    apr_atomic_set32(&cr->retired, 1);
}

/* Opens the sealed secret; the provider prepares the rest. */
static void cred_prepare(push_sender_t *sd, push_cred_t *cr, const char *sealed_hex)
{
    unsigned char *plain;
    apr_size_t plen;
    const char *err = NULL;
    if (!sealed_hex && cr->prov->secretless) {
        cr->error = cr->prov->cred_open(sd, cr);
        return;
    }
    if (!sealed_hex) {
        cr->error = "no secret stored";
        return;
    }
    if (!sd->c->key) {
        cr->error = "PushSecretKey is not set";
        return;
    }
    if (!push_secret_open_text(cr->pool, sd->c->key, sealed_hex,
                               push_secret_aad_credential(cr->pool, cr->app_id, cr->provider), &plain, &plen,
                               &err)) {
        cr->error = apr_pstrcat(cr->pool, "cannot open the stored secret: ", err ? err : "bad value", NULL);
        return;
    }
    cr->secret = (const char *)plain;
    cr->secret_len = plen;
    cr->error = cr->prov->cred_open(sd, cr);
}

/* A new entry for the row res holds. */
static push_cred_t *cred_new(push_sender_t *sd, const push_provider_t *prov, const char *key,
                             PGresult *res, apr_time_t now)
{
    apr_pool_t *pool;
    push_cred_t *cr;
    /* its own pool under the global one (whose allocator is thread-safe): whichever
     * thread releases the last reference frees it */
    apr_pool_create(&pool, NULL);
    cr = apr_pcalloc(pool, sizeof(*cr));
    cr->pool = pool;
    cr->prov = prov;
    cr->key = apr_pstrdup(pool, key);
    cr->app_id = apr_pstrndup(pool, key, strcspn(key, "/"));
    cr->provider = prov->name;
    cr->version = apr_pstrdup(pool, PQgetvalue(res, 0, 3));
    cr->config = json_tokener_parse(PQgetvalue(res, 0, 0));
    if (!cr->config || !json_object_is_type(cr->config, json_type_object)) {
        json_object_put(cr->config);
        cr->config = json_object_new_object();
    }
    apr_pool_cleanup_register(pool, cr->config, (apr_status_t (*)(void *))json_object_put,
                              apr_pool_cleanup_null);
    cr->paused = PQgetisnull(res, 0, 2) ? NULL : apr_pstrdup(pool, PQgetvalue(res, 0, 2));
    apr_thread_mutex_create(&cr->lock, APR_THREAD_MUTEX_DEFAULT, pool);
    cr->refs = 1;
    cr->fetched = cr->used = now;
    cred_prepare(sd, cr, PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1));
    if (cr->error)
        SLOG(sd, APLOG_ERR, "PUSH0621", "sender: %s credentials of %s cannot be used: %s", prov->name,
             cr->app_id, cr->error);
    return cr;
}

push_cred_t *push_cred_get(push_sender_t *sd, PGconn **db, const char *app_id, const char *provider)
{
    char key[300];
    push_cred_t *cr, *old, *cur;
    const push_provider_t *prov = push_provider_find(provider);
    const char *params[2] = {app_id, provider};
    PGresult *res;
    apr_time_t now = apr_time_now();

    if (!prov)
        return NULL;
    apr_snprintf(key, sizeof(key), "%s/%s", app_id, provider);
    apr_thread_mutex_lock(sd->lock);
    if ((old = apr_hash_get(sd->creds, key, APR_HASH_KEY_STRING))) {
        push_cred_hold(old);
        old->used = now;
    }
    apr_thread_mutex_unlock(sd->lock);
    if (old && now - old->fetched < CRED_TTL)
        return old;

    res = push_pg_exec(sd, db,
                       "SELECT config::text, secret::text, paused_reason, "
                       "extract(epoch FROM updated_at)::text FROM push_credential "
                       "WHERE app_id = $1 AND provider = $2", 2, params);
    if (!res)
        return old;   /* the database hiccupped: keep what we had */
    if (PQntuples(res) == 0) {
        PQclear(res);
        if (old) {
            apr_thread_mutex_lock(sd->lock);
            if (!old->retired) {
                retire_locked(sd, old);
                push_cred_release(old);   /* the cache's */
            }
            apr_thread_mutex_unlock(sd->lock);
            push_cred_release(old);       /* ours */
        }
        return NULL;
    }
    if (old && strcmp(old->version, PQgetvalue(res, 0, 3)) == 0) {
        /* unchanged: keep the keys and tokens, refresh the pause */
        apr_thread_mutex_lock(old->lock);
        old->paused = PQgetisnull(res, 0, 2) ? NULL : apr_pstrdup(old->pool, PQgetvalue(res, 0, 2));
        old->fetched = now;
        apr_thread_mutex_unlock(old->lock);
        PQclear(res);
        return old;
    }
    cr = cred_new(sd, prov, key, res, now);
    PQclear(res);

    apr_thread_mutex_lock(sd->lock);
    cur = apr_hash_get(sd->creds, key, APR_HASH_KEY_STRING);
    if (cur && strcmp(cur->version, cr->version) == 0) {
        /* another thread read the same version meanwhile: one entry, one provider token
         * (Apple frowns on needless token updates) */
        push_cred_hold(cur);
        apr_thread_mutex_unlock(sd->lock);
        push_cred_release(cr);
        push_cred_release(old);
        return cur;
    }
    if (cur) {
        retire_locked(sd, cur);
        push_cred_release(cur);      /* the cache's: the version is superseded */
    }
    push_cred_hold(cr);              /* the cache's */
    apr_hash_set(sd->creds, cr->key, APR_HASH_KEY_STRING, cr);
    apr_thread_mutex_unlock(sd->lock);
    push_cred_release(old);
    return cr;
}

static void wake_cred_thread(push_sender_t *sd)
{
    apr_thread_mutex_lock(sd->lock);
    apr_thread_cond_signal(sd->cred_wake);
    apr_thread_mutex_unlock(sd->lock);
}

const char *push_cred_bearer(push_sender_t *sd, push_cred_t *cr, push_outcome_t *o)
{
    const char *out = NULL, *err = NULL;
    apr_time_t now = apr_time_now(), until = 0;
    int wake = 0;

    memset(o, 0, sizeof(*o));
    o->retry_after = -1;
    apr_thread_mutex_lock(cr->lock);
    if (cr->bearer && now < cr->bearer_until - BEARER_MARGIN) {
        out = cr->bearer;
    } else if (cr->bearer_kind == PUSH_BEARER_LOCAL) {
        if ((out = cr->prov->bearer_local(sd, cr, &until, &err))) {
            cr->bearer = out;
            cr->bearer_until = until;
        } else {
            o->kind = PUSH_OUT_MESSAGE_BAD;
            o->reason = apr_pstrcat(cr->pool, cr->provider, " token: ", err, NULL);
        }
    } else if (cr->failures >= sd->c->max_attempts && cr->bearer_error) {
        /* it kept failing: the deliveries count their attempts again */
        o->kind = PUSH_OUT_RETRY;
        o->reason = cr->bearer_error;
        o->retry_after = (int)apr_time_sec(cr->next_fetch - now + APR_USEC_PER_SEC - 1);
        wake = !cr->fetching;
        cr->wanted = 1;
    } else {
        o->kind = PUSH_OUT_WAIT;
        o->reason = cr->bearer_error ? cr->bearer_error : "waiting for the access token";
        /* a first token usually comes within milliseconds; a slow fetch is not asked
         * about five times a second by every delivery that waits for it */
        if (cr->next_fetch > now)
            o->delay_ms = apr_time_as_msec(cr->next_fetch - now);
        else
            o->delay_ms = cr->fetching && now - cr->fetch_started > apr_time_from_sec(1) ? 1000 : WAIT_FIRST_MS;
        if (o->delay_ms < WAIT_FIRST_MS)
            o->delay_ms = WAIT_FIRST_MS;
        wake = !cr->wanted && !cr->fetching;
        cr->wanted = 1;
    }
    apr_thread_mutex_unlock(cr->lock);
    if (wake)
        wake_cred_thread(sd);
    if (!out && o->kind == PUSH_OUT_MESSAGE_BAD)
        SLOG(sd, APLOG_ERR, "PUSH0622", "sender: no %s token for %s: %s", cr->provider, cr->app_id, err);
    return out;
}

void push_cred_renew(push_sender_t *sd, push_cred_t *cr, const char *old)
{
    int wake = 0;
    apr_thread_mutex_lock(cr->lock);
    if (cr->bearer == old) {
        cr->bearer = NULL;
        if (cr->bearer_kind == PUSH_BEARER_REMOTE && !cr->fetching) {
            wake = !cr->wanted;
            cr->wanted = 1;
        }
    }
    apr_thread_mutex_unlock(cr->lock);
    if (wake)
        wake_cred_thread(sd);
}

void push_cred_pause(push_sender_t *sd, PGconn **db, push_cred_t *cr, const char *reason)
{
    const char *params[3] = {cr->app_id, cr->provider, reason};
    apr_thread_mutex_lock(cr->lock);
    if (cr->paused) {
        apr_thread_mutex_unlock(cr->lock);
        return;
    }
    cr->paused = apr_pstrdup(cr->pool, reason);
    apr_thread_mutex_unlock(cr->lock);
    SLOG(sd, APLOG_ERR, "PUSH0623", "sender: %s rejected the credentials of %s (%s): its sends stop "
         "until its settings change", cr->provider, cr->app_id, reason);
    PQclear(push_pg_exec(sd, db, "UPDATE push_credential SET paused_at = now(), paused_reason = $3 "
                                 "WHERE app_id = $1 AND provider = $2 AND paused_at IS NULL",
                         3, params));
}

/* --- the credential thread --- */

typedef struct fetch {
    struct fetch *next;
    push_cred_t *cr;                /* a reference */
    apr_pool_t *pool;
    CURL *easy;
    char answer[8192];
    push_body_buf_t body;
} fetch_t;

typedef struct {
    push_sender_t *sd;
    PGconn *db;
    CURLM *multi;
    fetch_t *running;
    apr_time_t checked;
} keeper_t;

/* Whether cr needs a REMOTE token fetched now (under cr->lock). */
static int fetch_due(const push_cred_t *cr, apr_time_t now)
{
    if (cr->bearer_kind != PUSH_BEARER_REMOTE || cr->fetching || cr->error || cr->paused ||
        now < cr->next_fetch)
        return 0;
    if (cr->wanted)
        return 1;
    /* in use and about to expire: fetched ahead, so that deliveries never wait */
    return cr->bearer && now > cr->bearer_until - BEARER_AHEAD && now - cr->used < CRED_IDLE;
}

static void fetch_start(keeper_t *k, push_cred_t *cr)
{
    fetch_t *f = calloc(1, sizeof(*f));
    const char *err = NULL;
    if (!f)
        return;
    apr_pool_create(&f->pool, NULL);
    f->cr = cr;
    f->body.buf = f->answer;
    f->body.cap = sizeof(f->answer);
    f->easy = curl_easy_init();
    if (f->easy && cr->prov->bearer_start(k->sd, cr, f->pool, f->easy, &f->body, &err)) {
        curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS,
                         k->sd->c->timeout_ms < FETCH_TIMEOUT_MS ? (long)k->sd->c->timeout_ms : FETCH_TIMEOUT_MS);
        curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
        curl_multi_add_handle(k->multi, f->easy);
        f->next = k->running;
        k->running = f;
        return;
    }
    /* nothing to ask with (the assertion could not be signed): a credential problem */
    apr_thread_mutex_lock(cr->lock);
    cr->fetching = 0;
    cr->wanted = 0;
    cr->failures = k->sd->c->max_attempts;
    cr->bearer_error = apr_pstrcat(cr->pool, cr->provider, " token: ", err ? err : "libcurl", NULL);
    cr->next_fetch = apr_time_now() + FETCH_BACKOFF_MAX;
    apr_thread_mutex_unlock(cr->lock);
    if (f->easy)
        curl_easy_cleanup(f->easy);
    apr_pool_destroy(f->pool);
    free(f);
    push_cred_release(cr);
}

static void fetch_done(keeper_t *k, fetch_t *f, CURLcode rc)
{
    push_cred_t *cr = f->cr;
    long status = 0;
    apr_time_t until = 0, now = apr_time_now();
    const char *err = NULL, *tok;
    int refused = 0;

    if (rc == CURLE_OK)
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    tok = cr->prov->bearer_done(cr, f->pool, status, rc, f->answer, &until, &err, &refused);
    apr_thread_mutex_lock(cr->lock);
    cr->fetching = 0;
    cr->wanted = 0;
    if (tok) {
        cr->bearer = apr_pstrdup(cr->pool, tok);
        cr->bearer_until = until;
        cr->failures = 0;
        cr->bearer_error = NULL;
        cr->next_fetch = 0;
    } else {
        apr_time_t wait = FETCH_BACKOFF_MIN << (cr->failures < 10 ? cr->failures : 10);
        cr->failures++;
        cr->next_fetch = now + (wait > FETCH_BACKOFF_MAX ? FETCH_BACKOFF_MAX : wait);
        cr->bearer_error = apr_pstrcat(cr->pool, cr->provider, " access token: ", err, NULL);
    }
    apr_thread_mutex_unlock(cr->lock);
    if (!tok) {
        SLOG(k->sd, APLOG_ERR, "PUSH0622", "sender: no %s token for %s (failure %d, next try in %d s): %s",
             cr->provider, cr->app_id, cr->failures, (int)apr_time_sec(cr->next_fetch - now), err);
        if (refused)
            push_cred_pause(k->sd, &k->db, cr, err);
    }
    curl_multi_remove_handle(k->multi, f->easy);
    curl_easy_cleanup(f->easy);
    apr_pool_destroy(f->pool);
    free(f);
    push_cred_release(cr);
    push_sender_wake(k->sd);   /* waiting deliveries may go */
}

/* Starts the fetches that are due and retires what nobody used for a while. */
static void keeper_scan(keeper_t *k)
{
    push_sender_t *sd = k->sd;
    apr_time_t now = apr_time_now();
    apr_hash_index_t *hi;
    push_cred_t *start[64], *drop[64];
    int ns = 0, nd = 0;

    apr_thread_mutex_lock(sd->lock);
    for (hi = apr_hash_first(NULL, sd->creds); hi; hi = apr_hash_next(hi)) {
        push_cred_t *cr = apr_hash_this_val(hi);
        if (now - cr->used > CRED_IDLE && nd < 64) {
            drop[nd++] = cr;
            continue;
        }
        apr_thread_mutex_lock(cr->lock);
        if (ns < 64 && fetch_due(cr, now)) {
            cr->fetching = 1;
            cr->fetch_started = now;
            push_cred_hold(cr);
            start[ns++] = cr;
        }
        apr_thread_mutex_unlock(cr->lock);
    }
    for (int i = 0; i < nd; i++)
        retire_locked(sd, drop[i]);   /* (not while iterating) */
    apr_thread_mutex_unlock(sd->lock);
    for (int i = 0; i < nd; i++)
        push_cred_release(drop[i]);
    for (int i = 0; i < ns; i++)
        fetch_start(k, start[i]);
}

/* Retires cached credentials whose row is gone (the application was deleted) or changed,
 * even when no delivery asks for them: their connections close within a sweep. One
 * query for the whole cache. */
static void keeper_check(keeper_t *k)
{
    push_sender_t *sd = k->sd;
    json_object *keys = json_object_new_array();
    apr_hash_index_t *hi;
    apr_hash_t *live;
    apr_pool_t *p;
    const char *params[1];
    PGresult *res;

    apr_thread_mutex_lock(sd->lock);
    for (hi = apr_hash_first(NULL, sd->creds); hi; hi = apr_hash_next(hi))
        json_object_array_add(keys, json_object_new_string(((push_cred_t *)apr_hash_this_val(hi))->key));
    apr_thread_mutex_unlock(sd->lock);
    if (json_object_array_length(keys) == 0) {
        json_object_put(keys);
        return;
    }
    params[0] = json_object_to_json_string_ext(keys, JSON_C_TO_STRING_PLAIN);
    res = push_pg_exec(sd, &k->db,
                       "SELECT c.app_id || '/' || c.provider, extract(epoch FROM c.updated_at)::text "
                       "FROM jsonb_array_elements_text($1::jsonb) AS k(key) "
                       "JOIN push_credential c ON c.app_id = split_part(k.key, '/', 1) "
                       "AND c.provider = split_part(k.key, '/', 2)", 1, params);
    json_object_put(keys);
    if (!res)
        return;
    apr_pool_create(&p, NULL);
    live = apr_hash_make(p);
    for (int i = 0; i < PQntuples(res); i++)
        apr_hash_set(live, PQgetvalue(res, i, 0), APR_HASH_KEY_STRING, PQgetvalue(res, i, 1));
    {
        push_cred_t *drop[64];
        int nd = 0;
        apr_thread_mutex_lock(sd->lock);
        for (hi = apr_hash_first(NULL, sd->creds); hi && nd < 64; hi = apr_hash_next(hi)) {
            push_cred_t *cr = apr_hash_this_val(hi);
            const char *v = apr_hash_get(live, cr->key, APR_HASH_KEY_STRING);
            if (!v || strcmp(v, cr->version) != 0)
                drop[nd++] = cr;
        }
        for (int i = 0; i < nd; i++)
            retire_locked(sd, drop[i]);
        apr_thread_mutex_unlock(sd->lock);
        for (int i = 0; i < nd; i++)
            push_cred_release(drop[i]);
    }
    PQclear(res);
    apr_pool_destroy(p);
}

void *APR_THREAD_FUNC push_creds_thread(apr_thread_t *t, void *data)
{
    keeper_t k;
    memset(&k, 0, sizeof(k));
    k.sd = data;
    k.multi = curl_multi_init();
    while (!SENDER_STOPPING(k.sd)) {
        int running = 0, left;
        CURLMsg *msg;
        if (apr_time_now() - k.checked > CRED_CHECK) {
            keeper_check(&k);
            k.checked = apr_time_now();
        }
        keeper_scan(&k);
        if (k.running) {
            curl_multi_perform(k.multi, &running);
            while ((msg = curl_multi_info_read(k.multi, &left))) {
                fetch_t *f, **pp;
                if (msg->msg != CURLMSG_DONE)
                    continue;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
                for (pp = &k.running; *pp; pp = &(*pp)->next)
                    if (*pp == f) {
                        *pp = f->next;
                        break;
                    }
                fetch_done(&k, f, msg->data.result);
            }
            if (k.running)
                curl_multi_poll(k.multi, NULL, 0, 100, NULL);
            continue;
        }
        apr_thread_mutex_lock(k.sd->lock);
        if (!SENDER_STOPPING(k.sd))
            apr_thread_cond_timedwait(k.sd->cred_wake, k.sd->lock, apr_time_from_msec(1000));
        apr_thread_mutex_unlock(k.sd->lock);
    }
    while (k.running) {
        fetch_t *f = k.running;
        k.running = f->next;
        apr_thread_mutex_lock(f->cr->lock);
        f->cr->fetching = 0;
        apr_thread_mutex_unlock(f->cr->lock);
        curl_multi_remove_handle(k.multi, f->easy);
        curl_easy_cleanup(f->easy);
        apr_pool_destroy(f->pool);
        push_cred_release(f->cr);
        free(f);
    }
    curl_multi_cleanup(k.multi);
    PQfinish(k.db);
    return NULL;   /* counted_thread (run.c) ends it */
}

void push_creds_clear(push_sender_t *sd)
{
    apr_hash_index_t *hi;
    apr_thread_mutex_lock(sd->lock);
    for (hi = apr_hash_first(NULL, sd->creds); hi; hi = apr_hash_first(NULL, sd->creds)) {
        push_cred_t *cr = apr_hash_this_val(hi);
        retire_locked(sd, cr);
        push_cred_release(cr);
    }
    apr_thread_mutex_unlock(sd->lock);
}
