/* The metrics block: counts exact under concurrent writers (threads, and a forked process
 * writing into the same apr_shm segment, as the sender and httpd's children do), the
 * exposition text, label escaping, the "(other)" overflow, and what a delivery costs. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "core/metrics.h"
#include "unit.h"

#define PER_THREAD 200000
#define THREADS 4

static push_metrics_t *m;

static void *APR_THREAD_FUNC writer(apr_thread_t *t, void *data)
{
    const char *app = data;
    for (int i = 0; i < PER_THREAD; i++)
    {
        push_metrics_delivery(m, app, PUSH_MP_APNS, i % 2 ? PUSH_MO_SENT : PUSH_MO_RETRY);
        push_metrics_request(m, PUSH_MP_APNS, 1000 + i % 50000);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static int has(const char *text, const char *line)
{
    const char *p = text;
    size_t n = strlen(line);
    while ((p = strstr(p, line))) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
        p += n;
    }
    return 0;
}

int main(void)
{
    apr_pool_t *p;
    apr_shm_t *shm;
    apr_thread_t *th[THREADS];
    const char *apps[THREADS] = {"app-a", "app-b", "app-a", "app-b"};
    char *text;
    push_metrics_queue_t q = {1, 2, 17, 1.5};
    push_metrics_sender_t st;
    apr_uint64_t tot[PUSH_MO__COUNT];
    apr_time_t t0;
    pid_t pid;
    int status;

    apr_initialize();
    apr_pool_create(&p, NULL);
    CHECK(apr_shm_create(&shm, push_metrics_size(), NULL, p) == APR_SUCCESS, "an anonymous segment");
    CHECK(!push_metrics_valid(apr_shm_baseaddr_get(shm), push_metrics_size()), "a fresh segment is no block yet");
    m = push_metrics_init(apr_shm_baseaddr_get(shm));
    CHECK(push_metrics_valid(m, push_metrics_size()) && !push_metrics_valid(m, push_metrics_size() - 1),
          "an initialized one is, of its size");

    /* an empty block renders every family, with no series of counters */
    text = push_metrics_render(p, m, NULL, push_metrics_clock());
    CHECK(strstr(text, "# TYPE push_deliveries_total counter\n") != NULL, "families are declared when empty");
    CHECK(has(text, "push_database_up 0"), "no queue gauges without the database");
    CHECK(strstr(text, "push_queue_depth") == NULL, "... and none of them shown");
    CHECK(has(text, "push_sender_up 0"), "no sender before one is forked");

    /* threads */
    t0 = apr_time_now();
    for (int i = 0; i < THREADS; i++)
        apr_thread_create(&th[i], NULL, writer, (void *)apps[i], p);
    for (int i = 0; i < THREADS; i++) {
        apr_status_t rv;
        apr_thread_join(&rv, th[i]);
    }
    t0 = apr_time_now() - t0;
    printf("# %d deliveries recorded by %d threads in %" APR_TIME_T_FMT " us: %.1f ns each (wall, "
           "contended)\n", THREADS * PER_THREAD, THREADS, t0, t0 * 1000.0 / (THREADS * PER_THREAD));
    push_metrics_provider_totals(m, PUSH_MP_APNS, tot);
    CHECK(tot[PUSH_MO_SENT] == THREADS * PER_THREAD / 2 && tot[PUSH_MO_RETRY] == THREADS * PER_THREAD / 2,
          "concurrent writers lose no count");

    /* a forked process writes into the same segment */
    pid = fork();
    if (pid == 0) {
        push_metrics_accepted(m, "app-c", 5);
        push_metrics_delivery(m, "app-c", push_metrics_provider("fcm"), push_metrics_outcome("failed"));
        push_metrics_sender_forked(m, 4242, 1);
        push_metrics_sender_beat(m, 4243);   /* not the sender forked last: no beat */
        _exit(0);
    }
    waitpid(pid, &status, 0);
    push_metrics_sender_state(m, push_metrics_clock(), &st);
    CHECK(st.pid == 4242 && !st.beat && !st.alive, "a beat of another process than the sender forked last "
          "does not count");
    pid = fork();
    if (pid == 0) {
        push_metrics_sender_beat(m, 4242);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    push_metrics_sender_state(m, push_metrics_clock(), &st);
    CHECK(st.pid == 4242 && st.restarts == 1 && st.alive, "the sender's state, written by another process");
    push_metrics_sender_state(m, push_metrics_clock() + apr_time_from_sec(11), &st);
    CHECK(!st.alive, "a sender without a heartbeat for 10 s is not alive");

    push_metrics_first_delivery(m, "app-c", "m1", 1200000);
    push_metrics_first_delivery(m, "app-c", "m1", 9000000);   /* a second delivery of m1 */
    push_metrics_first_delivery(m, "app-c", "m2", 20000);
    push_metrics_delivery(m, "app-c", PUSH_MP_FCM, PUSH_MO_SENT);
    push_metrics_request(m, PUSH_MP_FCM, 30000);

    text = push_metrics_render(p, m, &q, push_metrics_clock());
    CHECK(has(text, "push_messages_accepted_total{application=\"app-c\"} 5"), "accepted, counted in the child");
    CHECK(has(text, "push_deliveries_total{application=\"app-c\",provider=\"fcm\",outcome=\"failed\"} 1"),
          "a delivery by application, provider and outcome");
    CHECK(has(text, "push_deliveries_total{application=\"app-a\",provider=\"apns\",outcome=\"sent\"} 200000"),
          "per application");
    CHECK(has(text, "push_provider_request_duration_seconds_bucket{provider=\"fcm\",le=\"0.025\"} 0") &&
          has(text, "push_provider_request_duration_seconds_bucket{provider=\"fcm\",le=\"0.05\"} 1") &&
          has(text, "push_provider_request_duration_seconds_bucket{provider=\"fcm\",le=\"+Inf\"} 1") &&
          has(text, "push_provider_request_duration_seconds_count{provider=\"fcm\"} 1") &&
          has(text, "push_provider_request_duration_seconds_sum{provider=\"fcm\"} 0.030000"),
          "the latency histogram: cumulative buckets, sum and count");
    CHECK(has(text, "push_first_delivery_delay_seconds_count 2") &&
          has(text, "push_first_delivery_delay_seconds_sum 1.220000") &&
          has(text, "push_first_delivery_delay_seconds_bucket{le=\"0.05\"} 1"),
          "the first delivery of a message is observed once");
    CHECK(has(text, "push_queue_depth 17") && has(text, "push_senders_alive 2") &&
          has(text, "push_queue_oldest_pending_seconds 1.500") && has(text, "push_database_up 1"),
          "the queue gauges");
    CHECK(has(text, "# TYPE push_provider_request_duration_seconds histogram"), "histograms are typed");

    /* label escaping, and more applications than slots */
    CHECK(strcmp(push_metrics_label_escape(p, "a\\b\"c\nd"), "a\\\\b\\\"c\\nd") == 0, "label escaping");
    for (int i = 0; i < PUSH_METRICS_APPS + 100; i++)
        push_metrics_accepted(m, apr_psprintf(p, "bulk-%d", i), 1);
    text = push_metrics_render(p, m, &q, push_metrics_clock());
    {
        unsigned long long other = 0;
        const char *o = strstr(text, "push_messages_accepted_total{application=\"(other)\"} ");
        if (o)
            other = strtoull(o + strlen("push_messages_accepted_total{application=\"(other)\"} "), NULL, 10);
        CHECK(other >= 100 + 3 && other <= 100 + 3 + PUSH_METRICS_APPS / 2,
              "applications beyond the slots count as (other)");
    }
    CHECK(has(text, "push_messages_accepted_total{application=\"app-c\"} 5"), "named slots keep their counts");

    /* the cost of one delivery on one thread, uncontended */
    t0 = apr_time_now();
    for (int i = 0; i < 1000000; i++) {
        push_metrics_delivery(m, "app-c", PUSH_MP_FCM, PUSH_MO_SENT);
        push_metrics_request(m, PUSH_MP_FCM, 20000);
    }
    t0 = apr_time_now() - t0;
    printf("# 1000000 deliveries on one thread in %" APR_TIME_T_FMT " us: %.1f ns each\n", t0,
           t0 * 1000.0 / 1000000);
    CHECK(t0 < apr_time_from_sec(5), "a delivery costs well under a microsecond or so (sanitizers on)");

    apr_shm_destroy(shm);
    apr_pool_destroy(p);
    apr_terminate();
    UNIT_DONE();
}
