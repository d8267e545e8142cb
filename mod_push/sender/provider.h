/* A channel of the sender. APNs and FCM (and WNS, Web Push and SMS next) each give the
 * delivery loop one table of functions: what their credentials hold, how a bearer token
 * is made, how one delivery becomes a request and how its answer becomes an outcome.
 * deliver.c and creds.c drive any of them without naming one; a new channel is a new
 * file and one line in provider.c. */
#ifndef PUSH_PROVIDER_H
#define PUSH_PROVIDER_H

#include <curl/curl.h>

#include "sender/internal.h"
#include "sender/classify.h"
#include "sender/payload.h"

#define PUSH_PROVIDER_SLOTS 8   /* room in push_msg_t for each provider's mapping */

/* A message as a worker caches it across batches. */
typedef struct push_msg {
    json_object *body;
    apr_time_t expires;             /* 0: none */
    int state_ok;                   /* not cancelled, expired or gone */
    int ended;                      /* there, but cancelled or expired */
    const push_private_t *priv;     /* privacy mode, or NULL */
    push_rc_t rc;                   /* for Rocket.Chat's shape: id, host, privacy */
    int voip;                       /* settings.apns.voip: VoIP pushes where a device has a token */
    apr_time_t due;                 /* accepted, or scheduled for later: the delay metric's start */
    int first_sent;                 /* this worker has sent one of its deliveries */
    apr_pool_t *pool;               /* the entry's pool: mappings kept per message live here */
    int refs;                       /* deliveries held that use it: the cache keeps it */
    void *mapped[PUSH_PROVIDER_SLOTS];
} push_msg_t;

/* One delivery on its way: what the outbox gave, the request, the answer, the outcome.
 * topic is the appName a Rocket.Chat registration named (only Rocket.Chat's push.token
 * names one): such a device gets Rocket.Chat's payload shape, APNs with that topic. */
typedef struct push_req {
    const char *app, *msg, *dev, *provider, *token, *topic;
    PGconn **db;                    /* the worker's connection, for what a provider looks up */
    int attempts;
    push_msg_t *m;
    push_cred_t *cr;
    CURL *easy;
    struct curl_slist *headers;
    int headers_shared;             /* headers belong to the message's mapping: not freed */
    const char *bearer;             /* the token the request carries */
    char resp[2048];
    push_body_buf_t body;           /* writes into resp */
    int body_cut;                   /* the answer was longer than resp: its transfer ended there */
    char id_header[80];             /* apns-id of the answer */
    char retry_after[80];
    char wns_status[40];            /* X-WNS-Status of the answer */
    int refused;                    /* the egress guard refused the address */
    void *link;                     /* deliver.c: the connections the request goes out on */
    void *unit, *share;             /* deliver.c: the unit that holds it, its application's share */
    push_outcome_t out;
    const char *provider_id;        /* the provider's id of what it accepted */
} push_req_t;

struct push_provider {
    const char *name;               /* as push_delivery.provider names it */
    int slot;                       /* its index in push_msg_t.mapped */
    /* Prepares a credential just read, from cr->config and the opened cr->secret: keys
     * and certificates into cr->pool, cr->state, cr->bearer_kind. NULL, or why the
     * credential cannot be used (the sends fail with it). */
    const char *(*cred_open)(push_sender_t *sd, push_cred_t *cr);
    /* Makes a bearer token for cr (pool: cr->pool, under cr->lock for LOCAL tokens; on the
     * credential thread for REMOTE ones, which fill a request on easy and are finished by
     * bearer_done). NULL when bearer_kind is NONE. */
    const char *(*bearer_local)(push_sender_t *sd, push_cred_t *cr, apr_time_t *until,
                                const char **error);
    int (*bearer_start)(push_sender_t *sd, push_cred_t *cr, apr_pool_t *p, CURL *easy,
                        push_body_buf_t *answer, const char **error);
    /* The answer to bearer_start: the token and its expiry, or NULL and *error, with
     * *refused set when the credentials themselves were refused (not worth retrying). */
    const char *(*bearer_done)(push_cred_t *cr, apr_pool_t *p, long status, CURLcode rc,
                               const char *answer, apr_time_t *until, const char **error,
                               int *refused);
    /* Builds rq's request on rq->easy; 0 when rq->out is decided without one. */
    int (*build)(push_sender_t *sd, apr_pool_t *p, push_req_t *rq);
    /* Turns the answer into rq->out and rq->provider_id; status 0 when there was none
     * (rc says why). */
    void (*classify)(push_sender_t *sd, apr_pool_t *p, push_req_t *rq, long status, CURLcode rc);
    /* 1: its settings may have no sealed part (an SMS gateway without parameters); cred_open
     * is then called with cr->secret NULL. 0 (the default of a table that leaves it out): no
     * secret, no sends. */
    int secretless;
};

extern const push_provider_t push_provider_apns;
extern const push_provider_t push_provider_fcm;
extern const push_provider_t push_provider_sms;
extern const push_provider_t push_provider_wns;
extern const push_provider_t push_provider_webpush;

/* The provider of that name, or NULL when this sender does not deliver to it. */
const push_provider_t *push_provider_find(const char *name);

/* The outcome helpers every provider uses. */
void push_req_decide(push_req_t *rq, push_outcome_kind_t kind, const char *reason);
/* The bearer of rq->cr for rq's request, or NULL with rq->out decided (wait for it, or
 * the credentials failed). */
const char *push_req_bearer(push_sender_t *sd, push_req_t *rq);
/* Whether s is fit for an HTTP header value: printable ASCII, nothing else. */
int push_header_safe(const char *s);

#endif
