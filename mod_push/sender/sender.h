/* The sender: a process of its own under httpd that delivers what the outbox holds.
 * This header is what the glue (config.c, mod_push.c) and the sender share; the sender
 * itself speaks to PostgreSQL through libpq and to providers through libcurl, never
 * through httpd. */
#ifndef PUSH_SENDER_H
#define PUSH_SENDER_H

#include <apr_pools.h>
#include <apr_time.h>

struct push_secret_key;

/* The only token endpoint a service account may name (its token_uri is tenant input). */
#define PUSH_GOOGLE_TOKEN_URI "https://oauth2.googleapis.com/token"

/* Provider endpoints a directive may replace (tests and staging point them at mocks). */
typedef enum {
    PUSH_EP_APNS = 0,       /* https://api.push.apple.com */
    PUSH_EP_APNS_SANDBOX,   /* https://api.sandbox.push.apple.com */
    PUSH_EP_FCM,            /* https://fcm.googleapis.com */
    PUSH_EP_FCM_TOKEN,      /* unset: the token_uri of the service account */
    PUSH_EP_WEBHOOK_PROXY,  /* unset: webhooks are POSTed directly */
    PUSH_EP_WNS_TOKEN,      /* unset: login.live.com, or the Entra tenant's token endpoint */
    PUSH_EP__COUNT
} push_endpoint_t;

typedef struct push_sender_conf {
    int enabled;              /* PushSender On|Off (default On when DBDParams is set) */
    int threads;              /* PushSenderThreads: delivery workers */
    int batch;                /* PushSenderBatch: deliveries a worker has under way at once */
    int lease;                /* PushSenderLease: seconds a claim holds */
    int max_attempts;         /* PushSenderMaxAttempts */
    int backoff_base_ms;      /* PushSenderBackoff BASE CAP */
    int backoff_cap_ms;
    int chunk;                /* devices expanded per transaction */
    int timeout_ms;           /* one provider request, end to end */
    int watchdog;             /* PushSenderWatchdog: seconds without a heartbeat before SIGKILL */
    int nice;                 /* PushSenderNice: nice levels below httpd's own (0-19; -1 unset) */
    int retention;            /* PushRetention AGE, seconds; -1: keep everything; 0: unset (7 days) */
    int retention_every;      /* PushRetention ... EVERY, seconds between sweeps (default 60) */
    const char *endpoint[PUSH_EP__COUNT];
    const char *ca_file;      /* PushProviderCA */
    const char *conninfo;     /* libpq conninfo: the main server's DBDParams */
    const struct push_secret_key *key;
    const struct push_egress *egress;   /* PushEgressAllow: destinations exempt from the egress guard */
    void *server;             /* server_rec, for logging (opaque here) */
    long parent;              /* httpd's parent process: the sender stops when it is gone */
} push_sender_conf_t;

/* Names of the endpoints as PushProviderEndpoint takes them, index = push_endpoint_t. */
extern const char *const push_endpoint_names[PUSH_EP__COUNT];

/* Defaults for every field a directive did not set. */
void push_sender_conf_defaults(push_sender_conf_t *c);

/* Runs the sender until SIGTERM: never returns; exits the process. */
void push_sender_main(apr_pool_t *p, const push_sender_conf_t *c);

#endif
