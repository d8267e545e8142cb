/* Webhook events: the rows the registry and the delivery outcomes write into push_event
 * reach every webhook of the application that listens for their type, each webhook on
 * its own (push_event_hook, one row per event and webhook): a webhook that fails is sent
 * the event again, with backoff, and the others are not. Delivery is at least once, with
 * the same X-Push-Event-Id each time for receivers to recognize a repeat.
 *
 * One thread has many POSTs under way at once through one libcurl multi handle, each
 * bounded by a short timeout. Claims take due rows across applications in turn, and no
 * application has more than APP_TRANSFERS of them under way here: a hanging receiver
 * or one application's backlog delays nobody else's events. A claim's lease covers one
 * POST; rows are claimed only when a transfer can start at once. */
#include "sender/internal.h"

#include <stdlib.h>

#include <apr_strings.h>
#include <curl/curl.h>

#include "core/metrics.h"
#include "sender/classify.h"
#include "sender/webhook.h"

#define MAX_TRANSFERS 32       /* POSTs under way at once */
#define APP_TRANSFERS 4        /* of them for one application */
#define CLAIM_EVERY_MS 250     /* due rows are looked for this often while POSTs run */
#define IDLE_WAIT_MS 500       /* and this often when nothing is under way */

typedef struct {
    int used;
    apr_pool_t *pool;          /* the strings of this POST */
    const char *app, *event_id, *hook, *kind;
    int attempts;
    push_webhook_post_t w;
} slot_t;

typedef struct {
    push_sender_t *sd;
    PGconn *db;
    CURLM *multi;
    slot_t slot[MAX_TRANSFERS];
    int used;
    unsigned int rnd;
} events_t;

/* The application ids with POSTs under way and how many, as PostgreSQL arrays. App ids
 * are plain ([A-Za-z0-9._-]), quoted all the same. */
static void busy_arrays(events_t *ev, apr_pool_t *p, const char **apps, const char **counts)
{
    apr_hash_t *n = apr_hash_make(p);
    const char *a = NULL, *c = NULL;
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        int *k;
        if (!ev->slot[i].used)
            continue;
        if (!(k = apr_hash_get(n, ev->slot[i].app, APR_HASH_KEY_STRING))) {
            k = apr_pcalloc(p, sizeof(*k));
            apr_hash_set(n, ev->slot[i].app, APR_HASH_KEY_STRING, k);
        }
        (*k)++;
    }
    for (apr_hash_index_t *hi = apr_hash_first(p, n); hi; hi = apr_hash_next(hi)) {
        const void *key;
        void *val;
        apr_hash_this(hi, &key, NULL, &val);
        a = apr_pstrcat(p, a ? a : "", a ? "," : "", "\"", (const char *)key, "\"", NULL);
        c = apr_psprintf(p, "%s%s%d", c ? c : "", c ? "," : "", *(int *)val);
    }
    *apps = apr_pstrcat(p, "{", a ? a : "", "}", NULL);
    *counts = apr_pstrcat(p, "{", c ? c : "", "}", NULL);
}

/* Writes the outcome of one POST. */
static void finish(events_t *ev, const slot_t *s, const push_outcome_t *o)
{
    push_sender_t *sd = ev->sd;
    const char *state = "done", *params[7];
    char delay[32] = "0";
    if (o->kind == PUSH_OUT_RETRY) {
        state = "retry";
        if (s->attempts >= sd->c->max_attempts) {
            state = "failed";
            SLOG(sd, APLOG_ERR, "PUSH0643", "sender: event %s (%s of %s) given up after %d attempts for "
                 "webhook %s", s->event_id, s->kind, s->app, s->attempts, s->hook);
        }
        ev->rnd = ev->rnd * 1103515245u + 12345u;
        apr_snprintf(delay, sizeof(delay), "%" APR_INT64_T_FMT,
                     push_backoff_ms(s->attempts, sd->c->backoff_base_ms, sd->c->backoff_cap_ms, o->retry_after,
                                     ev->rnd));
    } else if (o->kind != PUSH_OUT_SENT) {
        state = "failed";
    }
    push_metrics_delivery(push_metrics_shm, s->app, PUSH_MP_WEBHOOK,
                          state[0] == 'd' ? PUSH_MO_SENT : state[0] == 'r' ? PUSH_MO_RETRY : PUSH_MO_FAILED);
    params[0] = s->app;
    params[1] = s->event_id;
    params[2] = s->hook;
    params[3] = sd->owner;
    params[4] = state;
    params[5] = delay;
    params[6] = strcmp(state, "done") == 0 ? NULL : o->reason;
    PQclear(push_pg_exec(sd, &ev->db, "SELECT push_event_hook_finish($1, $2::bigint, $3, $4, $5, $6::bigint, $7)",
                         7, params));
}

static void release(events_t *ev, slot_t *s)
{
    if (s->w.easy)
        curl_multi_remove_handle(ev->multi, s->w.easy);
    push_webhook_release(&s->w);
    apr_pool_clear(s->pool);
    s->used = 0;
    ev->used--;
}

/* Claims what there is room for and starts the POSTs. Returns the rows claimed, -1
 * when the claim failed. */
static int claim(events_t *ev, apr_pool_t *p)
{
    push_sender_t *sd = ev->sd;
    char n[16], per_app[16], lease[16];
    const char *params[6] = {sd->owner, n, per_app, lease, NULL, NULL};
    PGresult *res;
    int rows, k = 0;

    apr_snprintf(n, sizeof(n), "%d", MAX_TRANSFERS - ev->used);
    apr_snprintf(per_app, sizeof(per_app), "%d", APP_TRANSFERS);
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease + push_webhook_timeout_ms(sd) / 1000 + 1);
    busy_arrays(ev, p, &params[4], &params[5]);
    res = push_pg_exec(sd, &ev->db,
                       "SELECT event_id, app_id, hook_name, kind, payload, attempts, created_ms, url, secret "
                       "FROM push_event_hook_claim($1, $2::integer, $3::integer, $4::integer, $5::text[], "
                       "$6::integer[])", 6, params);
    if (!res)
        return -1;
    rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        slot_t *s;
        const char *body;
        push_outcome_t o;
        while (ev->slot[k].used)
            k++;
        s = &ev->slot[k];
        s->used = 1;
        ev->used++;
        s->event_id = apr_pstrdup(s->pool, PQgetvalue(res, i, 0));
        s->app = apr_pstrdup(s->pool, PQgetvalue(res, i, 1));
        s->hook = apr_pstrdup(s->pool, PQgetvalue(res, i, 2));
        s->kind = apr_pstrdup(s->pool, PQgetvalue(res, i, 3));
        s->attempts = atoi(PQgetvalue(res, i, 5));
        body = push_webhook_body(s->pool, s->app, s->kind, PQgetvalue(res, i, 4),
                                 PQgetvalue(res, i, 6));
        if (!push_webhook_prepare(sd, s->pool, &s->w, s->app, s->hook, apr_pstrdup(s->pool, PQgetvalue(res, i, 7)),
                                  PQgetisnull(res, i, 8) ? NULL : apr_pstrdup(s->pool, PQgetvalue(res, i, 8)),
                                  s->event_id, s->kind, body, &o)) {
            finish(ev, s, &o);
            release(ev, s);
            continue;
        }
        curl_easy_setopt(s->w.easy, CURLOPT_PRIVATE, s);
        curl_multi_add_handle(ev->multi, s->w.easy);
    }
    PQclear(res);
    return rows;
}

/* Writes the outcomes of the POSTs that ended. */
static void reap(events_t *ev)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(ev->multi, &left))) {
        slot_t *s = NULL;
        push_outcome_t o;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        {
            curl_off_t us = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME_T, &us);
            push_metrics_request(push_metrics_shm, PUSH_MP_WEBHOOK, (apr_int64_t)us);
        }
        push_webhook_outcome(ev->sd, s->pool, &s->w, (int)m->data.result, &o);
        finish(ev, s, &o);
        release(ev, s);
    }
}

/* On the way out: what is under way goes back to the outbox, due at once (it may have
 * reached its receiver: at least once). */
static void give_back(events_t *ev)
{
    for (int i = 0; i < MAX_TRANSFERS; i++) {
        slot_t *s = &ev->slot[i];
        const char *params[7] = {s->app, s->event_id, s->hook, ev->sd->owner, "retry", "0", "the sender stopped"};
        if (!s->used)
            continue;
        PQclear(push_pg_exec(ev->sd, &ev->db, "SELECT push_event_hook_finish($1, $2::bigint, $3, $4, $5, "
                             "$6::bigint, $7)", 7, params));
        release(ev, s);
    }
}

void *APR_THREAD_FUNC push_events_thread(apr_thread_t *t, void *data)
{
    events_t *ev = calloc(1, sizeof(*ev));
    push_sender_t *sd = data;
    apr_pool_t *p;
    apr_uint32_t seen = 0;
    apr_time_t last_claim = 0;
    int more = 1;

    ev->sd = sd;
    ev->rnd = (unsigned int)apr_time_now();
    ev->multi = curl_multi_init();
    apr_pool_create(&p, NULL);
    for (int i = 0; i < MAX_TRANSFERS; i++)
        apr_pool_create(&ev->slot[i].pool, p);
    while (!SENDER_STOPPING(sd)) {
        int running = 0;
        apr_time_t now = apr_time_now();
        if (ev->used < MAX_TRANSFERS && (more || now - last_claim >= apr_time_from_msec(CLAIM_EVERY_MS))) {
            apr_pool_t *cp;
            int room = MAX_TRANSFERS - ev->used, n;
            apr_pool_create(&cp, p);
            n = claim(ev, cp);
            apr_pool_destroy(cp);
            last_claim = now;
            /* a full claim may leave more due; a failed one waits for the connection */
            more = n == room;
            if (n < 0 && !ev->db && !ev->used) {
                push_sender_wait_notified(sd, &seen, IDLE_WAIT_MS);
                continue;
            }
        }
        if (!ev->used) {
            push_sender_wait_notified(sd, &seen, IDLE_WAIT_MS);
            more = 1;
            continue;
        }
        curl_multi_perform(ev->multi, &running);
        reap(ev);
        if (ev->used)
            curl_multi_poll(ev->multi, NULL, 0, 100, NULL);
    }
    give_back(ev);
    curl_multi_cleanup(ev->multi);
    PQfinish(ev->db);
    apr_pool_destroy(p);
    free(ev);
    return NULL;   /* counted_thread (run.c) ends it */
}
