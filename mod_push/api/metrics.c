/* Observability: the push-metrics handler (Prometheus text format) and mod_push's section
 * of mod_status. The counters live in shared memory (core/metrics.c), written by the
 * children and the sender; the queue gauges are one SQL query per scrape. */
#include "api/api.h"

#include "apr_shm.h"
#include "apr_strings.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "core/metrics.h"
#include "log.h"
#include "store/store.h"

#define SHM_KEY "mod_push_metrics"

int push_metrics_setup(server_rec *s)
{
    apr_pool_t *pp = s->process->pool;
    apr_shm_t *shm = NULL;
    apr_status_t rv;
    /* made once per httpd and kept in the process pool: the counters go on across
     * restarts, graceful or not (the module itself is loaded anew each time) */
    apr_pool_userdata_get((void **)&shm, SHM_KEY, pp);
    if (shm && push_metrics_valid(apr_shm_baseaddr_get(shm), apr_shm_size_get(shm))) {
        push_metrics_shm = apr_shm_baseaddr_get(shm);
        return OK;
    }
    rv = apr_shm_create(&shm, push_metrics_size(), NULL, pp);
    if (rv != APR_SUCCESS) {
        PUSH_SLOG(APLOG_ERR, rv, s, "PUSH0701", "no shared memory for the metrics (%" APR_SIZE_T_FMT
                  " bytes): /push-metrics and the status page show no counters", push_metrics_size());
        push_metrics_shm = NULL;
        return OK;
    }
    push_metrics_shm = push_metrics_init(apr_shm_baseaddr_get(shm));
    apr_pool_userdata_set(shm, SHM_KEY, apr_pool_cleanup_null, pp);
    return OK;
}

/* The queue gauges from the request's connection; q->have stays 0 without one. */
static void queue_state(request_rec *r, push_metrics_queue_t *q)
{
    int senders = 0;
    long queued = 0;
    double oldest = 0;
    push_db_t *db;
    memset(q, 0, sizeof(*q));
    if (push_db_acquire(r, &db) != PUSH_OK ||
        push_store_sender_health(db, &senders, &queued, &oldest) != PUSH_OK)
        return;
    q->have = 1;
    q->senders = senders;
    q->queued = queued;
    q->oldest_seconds = oldest;
}

int push_metrics_handler(request_rec *r)
{
    push_metrics_queue_t q;
    if (strcmp(r->handler, "push-metrics") != 0)
        return DECLINED;
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET)
        return HTTP_METHOD_NOT_ALLOWED;
    queue_state(r, &q);
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ap_rputs(push_metrics_render(r->pool, push_metrics_shm, &q, push_metrics_clock()), r);
    return OK;
}

/* mod_status: ?auto gets "Key: value" lines, the page a table. */
static int status_section(request_rec *r, int flags)
{
    push_metrics_sender_t st;
    push_metrics_queue_t q;
    apr_time_t now = push_metrics_clock();
    push_metrics_sender_state(push_metrics_shm, now, &st);
    queue_state(r, &q);
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "PushSenderPid: %d\nPushSenderAlive: %d\nPushSenderRestarts: %u\n", st.pid, st.alive,
                   st.restarts);
        if (q.have)
            ap_rprintf(r, "PushSendersAlive: %" APR_INT64_T_FMT "\nPushQueueDepth: %" APR_INT64_T_FMT
                       "\nPushQueueOldestSeconds: %.3f\n", q.senders, q.queued, q.oldest_seconds);
        for (int p = 0; p < PUSH_MP__COUNT; p++) {
            apr_uint64_t tot[PUSH_MO__COUNT];
            push_metrics_provider_totals(push_metrics_shm, p, tot);
            for (int o = 0; o < PUSH_MO__COUNT; o++)
                ap_rprintf(r, "PushDeliveries_%s_%s: %" APR_UINT64_T_FMT "\n", push_metrics_provider_name(p),
                           push_metrics_outcome_name(o), tot[o]);
        }
        return OK;
    }
    ap_rputs("<hr />\n<h2>mod_push</h2>\n<dl>\n", r);
    ap_rprintf(r, "<dt>Sender: pid %d, %s, restarted %u times", st.pid, st.alive ? "alive" : "not alive",
               st.restarts);
    if (st.started)
        ap_rprintf(r, ", started %" APR_TIME_T_FMT " s ago", apr_time_sec(now - st.started));
    ap_rputs("</dt>\n", r);
    if (q.have)
        ap_rprintf(r, "<dt>Queue: %" APR_INT64_T_FMT " pending, oldest %.3f s; %" APR_INT64_T_FMT
                   " senders alive</dt>\n", q.queued, q.oldest_seconds, q.senders);
    else
        ap_rputs("<dt>Queue: the database could not be asked</dt>\n", r);
    ap_rputs("</dl>\n<table border=\"0\"><tr><th>provider</th>", r);
    for (int o = 0; o < PUSH_MO__COUNT; o++)
        ap_rprintf(r, "<th>%s</th>", push_metrics_outcome_name(o));
    ap_rputs("</tr>\n", r);
    for (int p = 0; p < PUSH_MP__COUNT; p++) {
        apr_uint64_t tot[PUSH_MO__COUNT];
        push_metrics_provider_totals(push_metrics_shm, p, tot);
        ap_rprintf(r, "<tr><td>%s</td>", push_metrics_provider_name(p));
        for (int o = 0; o < PUSH_MO__COUNT; o++)
            ap_rprintf(r, "<td>%" APR_UINT64_T_FMT "</td>", tot[o]);
        ap_rputs("</tr>\n", r);
    }
    ap_rputs("</table>\n", r);
    return OK;
}

void push_metrics_register_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL, APR_HOOK_MIDDLE);
}
