#include "core/metrics.h"

#include <sched.h>
#include <string.h>
#include <time.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_tables.h>

#define MAGIC        0x70757368u   /* "push" */
#define ID_MAX       255           /* PUSH_MAX_ID */
#define PROBES       64            /* slots tried before an application counts as "(other)" */
#define RECENT       4096          /* messages whose first delivery was seen lately */
#define OTHER_APP    "(other)"     /* not an application id: ( and ) are not allowed in one */

/* Histogram bounds in microseconds (rendered in seconds). */
static const apr_uint64_t latency_us[] = {5000, 10000, 25000, 50000, 100000, 250000, 500000,
                                          1000000, 2500000, 5000000, 10000000};
static const apr_uint64_t delay_us[] = {50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
                                        10000000, 30000000, 60000000, 300000000, 1800000000};
#define NLAT (sizeof(latency_us) / sizeof(latency_us[0]))
#define NDEL (sizeof(delay_us) / sizeof(delay_us[0]))

typedef struct {
    volatile apr_uint64_t count, sum_us;
    volatile apr_uint64_t bucket[NDEL + 1];   /* per bucket, not cumulative; the last is +Inf */
} hist_t;

typedef struct {
    volatile apr_uint32_t state;              /* 0 free, 1 being named, 2 named */
    apr_uint32_t hash;
    char id[ID_MAX + 1];
    volatile apr_uint64_t accepted;
    volatile apr_uint64_t deliveries[PUSH_MP__COUNT][PUSH_MO__COUNT];
} app_slot_t;

struct push_metrics {
    apr_uint32_t magic;
    apr_uint32_t size;                        /* sizeof(push_metrics_t): the layout */
    volatile apr_uint32_t sender_pid, sender_restarts;
    volatile apr_uint64_t sender_started, sender_beat;
    hist_t latency[PUSH_MP__COUNT];
    hist_t delay;
    volatile apr_uint64_t recent[RECENT];
    app_slot_t apps[PUSH_METRICS_APPS + 1];   /* the last one: "(other)" */
};

static const char *const provider_names[PUSH_MP__COUNT] = {"apns", "fcm", "wns", "webpush", "sms",
                                                           "webhook", "other"};
static const char *const outcome_names[PUSH_MO__COUNT] = {"sent", "invalid", "retry", "wait",
                                                          "expired", "failed"};

push_metrics_t *push_metrics_shm;

apr_size_t push_metrics_size(void)
{
    return sizeof(push_metrics_t);
}

push_metrics_t *push_metrics_init(void *mem)
{
    push_metrics_t *m = mem;
    memset(m, 0, sizeof(*m));
    strcpy(m->apps[PUSH_METRICS_APPS].id, OTHER_APP);
    m->apps[PUSH_METRICS_APPS].state = 2;
    m->size = (apr_uint32_t)sizeof(*m);
    m->magic = MAGIC;
    return m;
}

int push_metrics_valid(const void *mem, apr_size_t size)
{
    const push_metrics_t *m = mem;
    return m && size >= sizeof(*m) && m->magic == MAGIC && m->size == sizeof(*m);
}

int push_metrics_provider(const char *name)
{
    for (int i = 0; i < PUSH_MP_OTHER; i++)
        if (strcmp(provider_names[i], name) == 0)
            return i;
    return PUSH_MP_OTHER;
}

int push_metrics_outcome(const char *state)
{
    for (int i = 0; i < PUSH_MO__COUNT; i++)
        if (strcmp(outcome_names[i], state) == 0)
            return i;
    return PUSH_MO_FAILED;
}

const char *push_metrics_provider_name(int provider)
{
    return provider >= 0 && provider < PUSH_MP__COUNT ? provider_names[provider] : "other";
}

const char *push_metrics_outcome_name(int outcome)
{
    return outcome >= 0 && outcome < PUSH_MO__COUNT ? outcome_names[outcome] : "failed";
}

static apr_uint64_t fnv64(const char *a, const char *b)
{
    apr_uint64_t h = 1469598103934665603ULL;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ '/') * 1099511628211ULL;
    for (; b && *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h ? h : 1;
}

/* The slot of app_id, named on first use (open addressing; a slot once named keeps its
 * application until httpd stops). */
static app_slot_t *slot(push_metrics_t *m, const char *app_id)
{
    apr_size_t len = app_id ? strlen(app_id) : 0;
    apr_uint32_t h;
    if (!len || len > ID_MAX)
        return &m->apps[PUSH_METRICS_APPS];
    h = (apr_uint32_t)fnv64(app_id, NULL);
    for (unsigned int k = 0; k < PROBES; k++) {
        app_slot_t *s = &m->apps[(h + k) % PUSH_METRICS_APPS];
        apr_uint32_t st = apr_atomic_read32(&s->state);
        if (st == 0 && apr_atomic_cas32(&s->state, 1, 0) == 0) {
            memcpy(s->id, app_id, len + 1);
            s->hash = h;
            apr_atomic_set32(&s->state, 2);
            return s;
        }
        /* another writer is naming it: a moment (a writer that died meanwhile leaves it
         * unnamed; after a while we look further) */
        for (int spin = 0; spin < 1000 && (st = apr_atomic_read32(&s->state)) == 1; spin++)
            sched_yield();
        if (st == 2 && s->hash == h && strcmp(s->id, app_id) == 0)
            return s;
    }
    return &m->apps[PUSH_METRICS_APPS];
}

static void observe(hist_t *hh, const apr_uint64_t *bounds, apr_size_t n, apr_uint64_t v)
{
    apr_size_t b = 0;
    while (b < n && v > bounds[b])
        b++;
    apr_atomic_inc64(&hh->bucket[b]);
    apr_atomic_add64(&hh->sum_us, v);
    apr_atomic_inc64(&hh->count);
}

void push_metrics_accepted(push_metrics_t *m, const char *app_id, unsigned int n)
{
    if (m && n)
        apr_atomic_add64(&slot(m, app_id)->accepted, n);
}

void push_metrics_delivery(push_metrics_t *m, const char *app_id, int provider, int outcome)
{
    if (!m)
        return;
    if (provider < 0 || provider >= PUSH_MP__COUNT)
        provider = PUSH_MP_OTHER;
    if (outcome < 0 || outcome >= PUSH_MO__COUNT)
        outcome = PUSH_MO_FAILED;
    apr_atomic_inc64(&slot(m, app_id)->deliveries[provider][outcome]);
}

void push_metrics_request(push_metrics_t *m, int provider, apr_int64_t latency)
{
    if (!m)
        return;
    if (provider < 0 || provider >= PUSH_MP__COUNT)
        provider = PUSH_MP_OTHER;
    observe(&m->latency[provider], latency_us, NLAT, latency > 0 ? (apr_uint64_t)latency : 0);
}

void push_metrics_first_delivery(push_metrics_t *m, const char *app_id, const char *msg_id,
                                 apr_int64_t delay)
{
    apr_uint64_t key, old;
    volatile apr_uint64_t *cell;
    if (!m)
        return;
    key = fnv64(app_id ? app_id : "", msg_id);
    cell = &m->recent[key % RECENT];
    old = apr_atomic_read64(cell);
    if (old == key || apr_atomic_cas64(cell, key, old) != old)
        return;   /* seen already, or another worker records it right now */
    observe(&m->delay, delay_us, NDEL, delay > 0 ? (apr_uint64_t)delay : 0);
}

apr_time_t push_metrics_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

void push_metrics_sender_forked(push_metrics_t *m, int pid, int is_restart)
{
    if (!m)
        return;
    apr_atomic_set32(&m->sender_pid, (apr_uint32_t)pid);   /* first: the last one's beats stop */
    apr_atomic_set64(&m->sender_beat, 0);
    apr_atomic_set64(&m->sender_started, (apr_uint64_t)push_metrics_clock());
    if (is_restart)
        apr_atomic_inc32(&m->sender_restarts);
}

void push_metrics_sender_beat(push_metrics_t *m, int pid)
{
    if (m && apr_atomic_read32(&m->sender_pid) == (apr_uint32_t)pid)
        apr_atomic_set64(&m->sender_beat, (apr_uint64_t)push_metrics_clock());
}

void push_metrics_sender_state(const push_metrics_t *cm, apr_time_t now, push_metrics_sender_t *out)
{
    push_metrics_t *m = (push_metrics_t *)cm;   /* APR's atomic reads take non-const */
    memset(out, 0, sizeof(*out));
    if (!m)
        return;
    out->pid = (int)apr_atomic_read32(&m->sender_pid);
    out->restarts = apr_atomic_read32(&m->sender_restarts);
    out->started = (apr_time_t)apr_atomic_read64(&m->sender_started);
    out->beat = (apr_time_t)apr_atomic_read64(&m->sender_beat);
    out->alive = out->pid && out->beat && now - out->beat < apr_time_from_sec(10);
}

void push_metrics_provider_totals(const push_metrics_t *cm, int provider, apr_uint64_t out[PUSH_MO__COUNT])
{
    push_metrics_t *m = (push_metrics_t *)cm;
    memset(out, 0, sizeof(apr_uint64_t) * PUSH_MO__COUNT);
    if (!m || provider < 0 || provider >= PUSH_MP__COUNT)
        return;
    for (int i = 0; i <= PUSH_METRICS_APPS; i++) {
        if (apr_atomic_read32(&m->apps[i].state) != 2)
            continue;
        for (int o = 0; o < PUSH_MO__COUNT; o++)
            out[o] += apr_atomic_read64(&m->apps[i].deliveries[provider][o]);
    }
}

char *push_metrics_label_escape(apr_pool_t *p, const char *v)
{
    apr_size_t n = 0;
    char *out, *o;
    for (const char *c = v; *c; c++)
        n += (*c == '\\' || *c == '"' || *c == '\n') ? 2 : 1;
    o = out = apr_palloc(p, n + 1);
    for (const char *c = v; *c; c++) {
        if (*c == '\\' || *c == '"' || *c == '\n') {
            *o++ = '\\';
            *o++ = *c == '\n' ? 'n' : *c;
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

/* --- rendering ------------------------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *parts;
} out_t;

static void put(out_t *o, const char *s)
{
    APR_ARRAY_PUSH(o->parts, const char *) = s;
}

static void head(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, apr_psprintf(o->p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type));
}

static const char *seconds(apr_pool_t *p, apr_uint64_t us)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT, us / 1000000, us % 1000000);
}

/* A bucket bound as Prometheus' clients write it: 0.005, 0.25, 1, 10 */
static const char *bound(apr_pool_t *p, apr_uint64_t us)
{
    char *s = (char *)seconds(p, us);
    apr_size_t n = strlen(s);
    while (s[n - 1] == '0')
        s[--n] = '\0';
    if (s[n - 1] == '.')
        s[--n] = '\0';
    return s;
}

static void hist(out_t *o, const char *name, const char *labels, hist_t *hh, const apr_uint64_t *bounds,
                 apr_size_t n)
{
    apr_uint64_t cum = 0;
    const char *sep = *labels ? "," : "";
    for (apr_size_t b = 0; b <= n; b++) {
        cum += apr_atomic_read64(&hh->bucket[b]);
        put(o, apr_psprintf(o->p, "%s_bucket{%s%sle=\"%s\"} %" APR_UINT64_T_FMT "\n", name, labels, sep,
                            b < n ? bound(o->p, bounds[b]) : "+Inf", cum));
    }
    /* _count is the +Inf bucket: the two agree although writers run meanwhile */
    put(o, apr_psprintf(o->p, "%s_sum%s%s%s %s\n%s_count%s%s%s %" APR_UINT64_T_FMT "\n", name,
                        *labels ? "{" : "", labels, *labels ? "}" : "",
                        seconds(o->p, apr_atomic_read64(&hh->sum_us)), name, *labels ? "{" : "", labels,
                        *labels ? "}" : "", cum));
}

char *push_metrics_render(apr_pool_t *p, const push_metrics_t *cm, const push_metrics_queue_t *q,
                          apr_time_t now)
{
    push_metrics_t *m = (push_metrics_t *)cm;
    out_t o = {p, apr_array_make(p, 256, sizeof(const char *))};
    push_metrics_sender_t st;

    head(&o, "push_messages_accepted_total", "counter", "Messages accepted into the outbox, by application.");
    for (int i = 0; m && i <= PUSH_METRICS_APPS; i++) {
        app_slot_t *s = &m->apps[i];
        apr_uint64_t v;
        if (apr_atomic_read32(&s->state) != 2 || !(v = apr_atomic_read64(&s->accepted)))
            continue;
        put(&o, apr_psprintf(p, "push_messages_accepted_total{application=\"%s\"} %" APR_UINT64_T_FMT "\n",
                             push_metrics_label_escape(p, s->id), v));
    }
    head(&o, "push_deliveries_total", "counter",
         "Deliveries decided, by application, provider and outcome (retry and wait are attempts "
         "that come again).");
    for (int i = 0; m && i <= PUSH_METRICS_APPS; i++) {
        app_slot_t *s = &m->apps[i];
        const char *app;
        if (apr_atomic_read32(&s->state) != 2)
            continue;
        app = push_metrics_label_escape(p, s->id);
        for (int pr = 0; pr < PUSH_MP__COUNT; pr++)
            for (int oc = 0; oc < PUSH_MO__COUNT; oc++) {
                apr_uint64_t v = apr_atomic_read64(&s->deliveries[pr][oc]);
                if (v)
                    put(&o, apr_psprintf(p, "push_deliveries_total{application=\"%s\",provider=\"%s\","
                                         "outcome=\"%s\"} %" APR_UINT64_T_FMT "\n",
                                         app, provider_names[pr], outcome_names[oc], v));
            }
    }
    head(&o, "push_provider_request_duration_seconds", "histogram",
         "Duration of provider requests (connection, TLS and answer), by provider.");
    for (int pr = 0; m && pr < PUSH_MP__COUNT; pr++)
        hist(&o, "push_provider_request_duration_seconds",
             apr_psprintf(p, "provider=\"%s\"", provider_names[pr]), &m->latency[pr], latency_us, NLAT);
    head(&o, "push_first_delivery_delay_seconds", "histogram",
         "Time from a message's acceptance to its first delivery sent by this server's sender.");
    if (m)
        hist(&o, "push_first_delivery_delay_seconds", "", &m->delay, delay_us, NDEL);

    push_metrics_sender_state(m, now, &st);
    head(&o, "push_sender_up", "gauge", "1 when this server's sender process has shown a heartbeat "
         "in the last 10 seconds.");
    put(&o, apr_psprintf(p, "push_sender_up %d\n", st.alive));
    head(&o, "push_sender_restarts_total", "counter", "Times this server's sender was forked again "
         "after it died.");
    put(&o, apr_psprintf(p, "push_sender_restarts_total %u\n", st.restarts));
    head(&o, "push_database_up", "gauge", "1 when the queue gauges below could be read from PostgreSQL.");
    put(&o, apr_psprintf(p, "push_database_up %d\n", q && q->have));
    if (q && q->have) {
        head(&o, "push_senders_alive", "gauge", "Senders (of every node) with a heartbeat in the "
             "database in the last 30 seconds.");
        put(&o, apr_psprintf(p, "push_senders_alive %" APR_INT64_T_FMT "\n", q->senders));
        head(&o, "push_queue_depth", "gauge", "Deliveries pending plus messages due that are not "
             "expanded yet.");
        put(&o, apr_psprintf(p, "push_queue_depth %" APR_INT64_T_FMT "\n", q->queued));
        head(&o, "push_queue_oldest_pending_seconds", "gauge", "Age of the oldest due message not "
             "finished yet (0 when none).");
        put(&o, apr_psprintf(p, "push_queue_oldest_pending_seconds %.3f\n", q->oldest_seconds));
    }
    return apr_array_pstrcat(p, o.parts, 0);
}
