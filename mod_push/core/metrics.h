/* Counters and histograms of mod_push in one block of shared memory: the parent creates
 * it (post_config, apr_shm) before it forks the sender and the children, so that all of
 * them write and read the same numbers. Writers only add with atomics: a delivery costs
 * a few compare-and-adds, no lock, no SQL. Pure logic (APR only, no httpd), so that the
 * unit tests drive it on a block of their own. */
#ifndef PUSH_METRICS_H
#define PUSH_METRICS_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct push_metrics push_metrics_t;

/* Delivery channels (push_delivery.provider) and outcomes, as the labels name them. */
enum { PUSH_MP_APNS, PUSH_MP_FCM, PUSH_MP_WNS, PUSH_MP_WEBPUSH, PUSH_MP_SMS, PUSH_MP_WEBHOOK,
       PUSH_MP_OTHER, PUSH_MP__COUNT };
enum { PUSH_MO_SENT, PUSH_MO_INVALID, PUSH_MO_RETRY, PUSH_MO_WAIT, PUSH_MO_EXPIRED,
       PUSH_MO_FAILED, PUSH_MO__COUNT };
/* Applications with counters of their own; the rest share application="(other)". */
#define PUSH_METRICS_APPS 512

/* The block of this httpd (set in post_config; NULL before, and in the unit tests). */
extern push_metrics_t *push_metrics_shm;

apr_size_t push_metrics_size(void);
/* Makes mem (push_metrics_size() bytes, zeroed or not) an empty block. */
push_metrics_t *push_metrics_init(void *mem);
/* Whether mem (of size bytes) is a block of this build's layout (a segment kept across a
 * restart that loaded another mod_push is not). */
int push_metrics_valid(const void *mem, apr_size_t size);

int push_metrics_provider(const char *name);   /* PUSH_MP_* (PUSH_MP_OTHER when unknown) */
int push_metrics_outcome(const char *state);   /* PUSH_MO_* of push_delivery_finish's state */

void push_metrics_accepted(push_metrics_t *m, const char *app_id, unsigned int n);
/* One delivery decided (whether or not a request went out). */
void push_metrics_delivery(push_metrics_t *m, const char *app_id, int provider, int outcome);
/* One provider request answered (or failed), latency_us after it started. */
void push_metrics_request(push_metrics_t *m, int provider, apr_int64_t latency_us);
/* The first delivery of message app_id/msg_id sent, delay_us after it was accepted:
 * observed once per message (a small table of recent messages keeps repeats out). */
void push_metrics_first_delivery(push_metrics_t *m, const char *app_id, const char *msg_id,
                                 apr_int64_t delay_us);

/* The sender process, as its parent and itself report it. Its times are on
 * push_metrics_clock (CLOCK_MONOTONIC, shared by every process of the machine), so
 * that a step of the wall clock neither kills a healthy sender nor hides a stuck one. */
apr_time_t push_metrics_clock(void);
void push_metrics_sender_forked(push_metrics_t *m, int pid, int is_restart);
/* A beat of process pid: ignored unless pid is the sender the parent forked last (an
 * older one still finishing its work after a graceful restart does not speak for it). */
void push_metrics_sender_beat(push_metrics_t *m, int pid);
typedef struct {
    int pid, alive;               /* alive: a heartbeat within the last 10 seconds */
    unsigned int restarts;        /* forked again after it died, since httpd started */
    apr_time_t started, beat;     /* push_metrics_clock; beat 0 before the first */
} push_metrics_sender_t;
/* now: push_metrics_clock() */
void push_metrics_sender_state(const push_metrics_t *m, apr_time_t now, push_metrics_sender_t *out);

/* Totals of one channel over every application: [outcome]. */
void push_metrics_provider_totals(const push_metrics_t *m, int provider, apr_uint64_t out[PUSH_MO__COUNT]);
const char *push_metrics_provider_name(int provider);
const char *push_metrics_outcome_name(int outcome);

/* What the database says (scrape time); have = 0 when it could not be asked. */
typedef struct {
    int have;
    apr_int64_t senders, queued;
    double oldest_seconds;
} push_metrics_queue_t;

/* The Prometheus text exposition (version 0.0.4) of everything; now: push_metrics_clock(). */
char *push_metrics_render(apr_pool_t *p, const push_metrics_t *m, const push_metrics_queue_t *q,
                          apr_time_t now);
/* A label value escaped as the exposition format asks (\\, \", \n). */
char *push_metrics_label_escape(apr_pool_t *p, const char *v);

#endif
