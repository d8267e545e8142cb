/* mod_push configuration: per-server and per-directory records, the directive
 * table, and typed accessors. Handlers read settings only through the accessors. */
#ifndef PUSH_CONFIG_H
#define PUSH_CONFIG_H

#include "httpd.h"
#include "http_config.h"
#include "apr_hash.h"

#define PUSH_UNSET (-1)

typedef enum {
    PUSH_SESSION_UNSET = 0,
    PUSH_SESSION_BUILTIN,     /* the push_session table */
    PUSH_SESSION_SQL,         /* an operator query through mod_dbd */
    PUSH_SESSION_REMOTE_USER  /* r->user, set by another auth module */
} push_session_source_t;

typedef struct {
    const char *secret_hash;      /* SHA-256 hex of the client's secret */
    const char *scopes;           /* allowed scope patterns, space-separated */
} push_oauth_client_t;

typedef struct {
    const char *dbd_params;   /* DBDParams of this server, seen on its way to mod_dbd */
    apr_hash_t *oauth_clients;    /* PushOAuthClient: id -> push_oauth_client_t */
    int token_lifetime;           /* PushOAuthTokenLifetime, seconds; PUSH_UNSET: 3600 */
    struct push_secret_key *secret_key;   /* PushSecretKey, loaded at configuration time */
    struct push_sender_conf *sender;      /* the sender's directives (global, shared) */
    const char *public_url;       /* PushPublicURL, without a trailing '/'; NULL: ServerName */
} push_srv_conf_t;

typedef struct {
    const char *mount;            /* the <Location> this record was made for */
    const char *app_id;
    push_session_source_t session_source;
    const char *session_label;    /* prepared statement of PushSessionSource sql */
    int user_device_limit;        /* PUSH_UNSET: the dialect's own default */
    apr_off_t max_body;           /* PUSH_UNSET: PUSH_DEFAULT_MAX_BODY */
    apr_table_t *navixy_apps;     /* application id -> platform */
    int list_size_default;        /* PushListSize; PUSH_UNSET: 50 */
    int list_size_max;            /* PUSH_UNSET: 1000 */
    long long max_schedule;       /* PushMaxSchedule, seconds; PUSH_UNSET: a year */
    long max_pending;             /* PushMaxPendingDeliveries; PUSH_UNSET: the default */
    long max_per_minute;          /* PushMaxMessagesPerMinute; PUSH_UNSET: the default */
} push_dir_conf_t;

#define PUSH_DEFAULT_MAX_BODY 65536
#define PUSH_DEFAULT_MAX_PENDING 1000000L   /* deliveries pending per application */
#define PUSH_DEFAULT_MAX_PER_MINUTE 6000L   /* messages accepted per application and minute */

extern const command_rec push_cmds[];
void *push_create_srv_conf(apr_pool_t *p, server_rec *s);
void *push_merge_srv_conf(apr_pool_t *p, void *base, void *add);
void *push_create_dir_conf(apr_pool_t *p, char *dir);
void *push_merge_dir_conf(apr_pool_t *p, void *base, void *add);

const push_srv_conf_t *push_srv_conf(const server_rec *s);
const push_dir_conf_t *push_dir_conf(const request_rec *r);

/* Accessors with defaults applied. */
const char *push_conf_app_id(const request_rec *r);
push_session_source_t push_conf_session_source(const request_rec *r);
const char *push_conf_session_label(const request_rec *r);
int push_conf_user_device_limit(const request_rec *r, int dialect_default);
apr_off_t push_conf_max_body(const request_rec *r);
/* The part of r->uri below the handler's <Location> ("" or starting with '/'). */
const char *push_conf_subpath(const request_rec *r);
/* An OAuth client declared in httpd.conf, or NULL. */
const push_oauth_client_t *push_conf_oauth_client(const server_rec *s, const char *id);
int push_conf_token_lifetime(const server_rec *s);
/* The key that seals provider secrets, or NULL when PushSecretKey is not set. */
const struct push_secret_key *push_conf_secret_key(const server_rec *s);
/* PushEgressAllow: what the egress guard lets tenant URLs reach (NULL: nothing internal). */
const struct push_egress *push_conf_egress(const server_rec *s);
int push_conf_list_size_default(const request_rec *r);
int push_conf_list_size_max(const request_rec *r);
/* PushMaxSchedule: how far ahead a message may be scheduled. */
apr_time_t push_conf_max_schedule(const request_rec *r);
/* PushMaxPendingDeliveries and PushMaxMessagesPerMinute (0: no limit). */
long push_conf_max_pending(const request_rec *r);
int push_conf_max_per_minute(const request_rec *r);
/* PushPublicURL ("https://push.example.com", no trailing '/'), or NULL when not set. */
const char *push_conf_public_url(const server_rec *s);
/* The platform of a Navixy application id, or NULL when it is not known. */
const char *push_conf_navixy_platform(const request_rec *r, const char *application);

/* Checks made once the whole configuration is read (check_config): a SetHandler of
 * push-layer, push-navixy or push-rocketchat with no PushApplication fails the start
 * (and apachectl -t), naming its file and line. Also collects every PushApplication. */
int push_conf_check(apr_pool_t *pconf);
typedef struct {
    const char *app_id, *file;    /* the first PushApplication naming it */
    int line;
    volatile apr_uint32_t checked; /* per process: 0 not yet, 1 being looked up, 2 done */
} push_conf_app_t;
/* The applications PushApplication names (push_conf_app_t *), or NULL before the check. */
const apr_array_header_t *push_conf_apps(void);
push_conf_app_t *push_conf_app_find(const char *app_id);
/* The URL (with a trailing '/') of the server an application is mounted in (PushApplication):
 * the first such server's PushPublicURL, else its scheme, ServerName and port; NULL when
 * no PushApplication names it. What Rocket.Chat's pushes name as their host when the
 * application sets none (pushctl app set APP id-only ... HOST). */
const char *push_conf_app_public_url(apr_pool_t *p, const char *app_id);

#endif
