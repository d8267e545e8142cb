#include "config.h"

#include "apr_optional.h"
#include "apr_uri.h"
#include "apr_strings.h"
#include "http_core.h"
#include "ap_listen.h"
#include "log.h"
#include "apr_dbd.h"
#include "mod_dbd.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/messages.h"
#include "core/scope.h"
#include "core/secret.h"
#include "core/validate.h"
#include "sender/egress.h"
#include "sender/sender.h"

extern module AP_MODULE_DECLARE_DATA push_module;

void *push_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    push_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    c->token_lifetime = PUSH_UNSET;
    c->sender = apr_pcalloc(p, sizeof(*c->sender));
    c->sender->enabled = PUSH_UNSET;
    c->sender->nice = PUSH_UNSET;   /* 0 is a value */
    (void)s;
    return c;
}

void *push_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const push_srv_conf_t *base = basev, *add = addv;
    push_srv_conf_t *c = apr_palloc(p, sizeof(*c));
    c->dbd_params = add->dbd_params ? add->dbd_params : base->dbd_params;
    if (base->oauth_clients && add->oauth_clients)
        c->oauth_clients = apr_hash_overlay(p, add->oauth_clients, base->oauth_clients);
    else
        c->oauth_clients = add->oauth_clients ? add->oauth_clients : base->oauth_clients;
    c->token_lifetime = add->token_lifetime != PUSH_UNSET ? add->token_lifetime
                                                          : base->token_lifetime;
    c->secret_key = add->secret_key ? add->secret_key : base->secret_key;
    c->public_url = add->public_url ? add->public_url : base->public_url;
    c->sender = base->sender;   /* one sender, configured globally */
    return c;
}

void *push_create_dir_conf(apr_pool_t *p, char *dir)
{
    push_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));
    if (dir && dir[0] == '/') {
        apr_size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            n--;
        c->mount = apr_pstrmemdup(p, dir, n);
    }
    c->user_device_limit = PUSH_UNSET;
    c->max_body = PUSH_UNSET;
    c->list_size_default = PUSH_UNSET;
    c->list_size_max = PUSH_UNSET;
    c->max_schedule = PUSH_UNSET;
    c->max_pending = PUSH_UNSET;
    c->max_per_minute = PUSH_UNSET;
    return c;
}

void *push_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const push_dir_conf_t *base = basev, *add = addv;
    push_dir_conf_t *c = apr_palloc(p, sizeof(*c));
#define MERGE_PTR(f) c->f = add->f ? add->f : base->f
#define MERGE_NUM(f) c->f = add->f != PUSH_UNSET ? add->f : base->f
    MERGE_PTR(mount);
    MERGE_PTR(app_id);
    MERGE_NUM(user_device_limit);
    MERGE_NUM(max_body);
    MERGE_NUM(list_size_default);
    MERGE_NUM(list_size_max);
    MERGE_NUM(max_schedule);
    MERGE_NUM(max_pending);
    MERGE_NUM(max_per_minute);
    if (add->session_source != PUSH_SESSION_UNSET) {
        c->session_source = add->session_source;
        c->session_label = add->session_label;
    } else {
        c->session_source = base->session_source;
        c->session_label = base->session_label;
    }
    if (base->navixy_apps && add->navixy_apps)
        c->navixy_apps = apr_table_overlay(p, add->navixy_apps, base->navixy_apps);
    else
        MERGE_PTR(navixy_apps);
#undef MERGE_PTR
#undef MERGE_NUM
    return c;
}

const push_srv_conf_t *push_srv_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &push_module);
}

const push_dir_conf_t *push_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &push_module);
}

const char *push_conf_subpath(const request_rec *r)
{
    /* The <Location> of our own directives, else the one core merged last (the one
     * holding SetHandler): a location may carry no mod_push directive at all. */
    const char *mount = push_dir_conf(r)->mount;
    apr_size_t n;
    if (!mount) {
        const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
        if (core && core->d && core->d[0] == '/' && !core->r) {
            n = strlen(core->d);
            while (n > 1 && core->d[n - 1] == '/')
                n--;
            mount = apr_pstrmemdup(r->pool, core->d, n);
        }
    }
    n = mount ? strlen(mount) : 0;
    if (n == 1 && mount[0] == '/')
        return r->uri;
    if (n && strncmp(r->uri, mount, n) == 0 && (r->uri[n] == '\0' || r->uri[n] == '/'))
        return r->uri + n;
    return r->path_info ? r->path_info : "";
}

const char *push_conf_app_id(const request_rec *r)
{
    return push_dir_conf(r)->app_id;
}

push_session_source_t push_conf_session_source(const request_rec *r)
{
    push_session_source_t s = push_dir_conf(r)->session_source;
    return s == PUSH_SESSION_UNSET ? PUSH_SESSION_BUILTIN : s;
}

const char *push_conf_session_label(const request_rec *r)
{
    return push_dir_conf(r)->session_label;
}

int push_conf_user_device_limit(const request_rec *r, int dialect_default)
{
    int n = push_dir_conf(r)->user_device_limit;
    return n == PUSH_UNSET ? dialect_default : n;
}

apr_off_t push_conf_max_body(const request_rec *r)
{
    apr_off_t n = push_dir_conf(r)->max_body;
    return n == PUSH_UNSET ? PUSH_DEFAULT_MAX_BODY : n;
}

const push_oauth_client_t *push_conf_oauth_client(const server_rec *s, const char *id)
{
    apr_hash_t *h = push_srv_conf(s)->oauth_clients;
    return h ? apr_hash_get(h, id, APR_HASH_KEY_STRING) : NULL;
}

int push_conf_token_lifetime(const server_rec *s)
{
    int n = push_srv_conf(s)->token_lifetime;
    return n == PUSH_UNSET ? 3600 : n;
}

const struct push_secret_key *push_conf_secret_key(const server_rec *s)
{
    return push_srv_conf(s)->secret_key;
}

const struct push_egress *push_conf_egress(const server_rec *s)
{
    return push_srv_conf(s)->sender->egress;
}

int push_conf_list_size_default(const request_rec *r)
{
    int n = push_dir_conf(r)->list_size_default;
    return n == PUSH_UNSET ? 50 : n;
}

int push_conf_list_size_max(const request_rec *r)
{
    int n = push_dir_conf(r)->list_size_max;
    return n == PUSH_UNSET ? 1000 : n;
}

apr_time_t push_conf_max_schedule(const request_rec *r)
{
    long long n = push_dir_conf(r)->max_schedule;
    return n == PUSH_UNSET ? PUSH_DEFAULT_SCHEDULE : apr_time_from_sec((apr_time_t)n);
}

long push_conf_max_pending(const request_rec *r)
{
    long n = push_dir_conf(r)->max_pending;
    return n == PUSH_UNSET ? PUSH_DEFAULT_MAX_PENDING : n;
}

int push_conf_max_per_minute(const request_rec *r)
{
    long n = push_dir_conf(r)->max_per_minute;
    return (int)(n == PUSH_UNSET ? PUSH_DEFAULT_MAX_PER_MINUTE : n);
}

const char *push_conf_public_url(const server_rec *s)
{
    return push_srv_conf(s)->public_url;
}

/* The standard Navixy applications; PushNavixyApplication adds to them. */
static const char *const navixy_builtin[][2] = {
    {"navixy_iphone_viewer", "apns"},
    {"navixy_android_viewer", "fcm"},
    {"w3c_pushapi", "webpush"},
};

const char *push_conf_navixy_platform(const request_rec *r, const char *application)
{
    const apr_table_t *t = push_dir_conf(r)->navixy_apps;
    const char *platform = t ? apr_table_get(t, application) : NULL;
    if (platform)
        return platform;
    for (size_t i = 0; i < sizeof(navixy_builtin) / sizeof(navixy_builtin[0]); i++)
        if (strcmp(navixy_builtin[i][0], application) == 0)
            return navixy_builtin[i][1];
    return NULL;
}

/* --- directive handlers --------------------------------------------------------- */

/* The servers (virtual hosts) each application is mounted in, in configuration order:
 * what the sender names as the server a Rocket.Chat app asks (push_conf_app_public_url).
 * app id -> apr_array_header_t of server_rec *, in pconf; forgotten with it. */
static apr_hash_t *app_servers;

static apr_status_t forget_app_servers(void *unused)
{
    (void)unused;
    app_servers = NULL;
    return APR_SUCCESS;
}

static void note_app_server(cmd_parms *cmd, const char *app_id)
{
    apr_array_header_t *list;
    if (!app_servers) {
        app_servers = apr_hash_make(cmd->pool);
        apr_pool_cleanup_register(cmd->pool, NULL, forget_app_servers, apr_pool_cleanup_null);
    }
    list = apr_hash_get(app_servers, app_id, APR_HASH_KEY_STRING);
    if (!list) {
        list = apr_array_make(cmd->pool, 1, sizeof(server_rec *));
        apr_hash_set(app_servers, app_id, APR_HASH_KEY_STRING, list);
    }
    for (int i = 0; i < list->nelts; i++)
        if (APR_ARRAY_IDX(list, i, server_rec *) == cmd->server)
            return;
    APR_ARRAY_PUSH(list, server_rec *) = cmd->server;
}

const char *push_conf_app_public_url(apr_pool_t *p, const char *app_id)
{
    apr_array_header_t *list = app_servers ? apr_hash_get(app_servers, app_id, APR_HASH_KEY_STRING) : NULL;
    const server_rec *s;
    const char *scheme, *host;
    apr_port_t port;
    if (!list || !list->nelts)
        return NULL;
    for (int i = 0; i < list->nelts; i++) {
        s = APR_ARRAY_IDX(list, i, server_rec *);
        if (push_srv_conf(s)->public_url)
            return apr_pstrcat(p, push_srv_conf(s)->public_url, "/", NULL);
    }
    /* as push_public_url without a request: the server's name and port, else the port of
     * its <VirtualHost> address or of the first Listen; https when ServerName says so or
     * the port is 443 (other TLS ports need PushPublicURL) */
    s = APR_ARRAY_IDX(list, 0, server_rec *);
    port = s->port;
    if (!port && s->addrs && s->addrs->host_port)
        port = s->addrs->host_port;
    if (!port && ap_listeners && ap_listeners->bind_addr)
        port = ap_listeners->bind_addr->port;
    scheme = s->server_scheme ? s->server_scheme : port == 443 ? "https" : "http";
    host = s->server_hostname ? s->server_hostname : "localhost";
    if (strchr(host, ':') && host[0] != '[')
        host = apr_pstrcat(p, "[", host, "]", NULL);   /* an IPv6 literal */
    if (!port || (port == 80 && strcmp(scheme, "http") == 0) || (port == 443 && strcmp(scheme, "https") == 0))
        return apr_pstrcat(p, scheme, "://", host, "/", NULL);
    return apr_psprintf(p, "%s://%s:%u/", scheme, host, (unsigned)port);
}

static const char *set_application(cmd_parms *cmd, void *dv, const char *arg)
{
    push_dir_conf_t *c = dv;
    if (!push_valid_app_id(arg, strlen(arg)))
        return apr_psprintf(cmd->pool, "%s: '%s' is not an application id "
                            "(1 to %d of A-Z a-z 0-9 . _ -)", cmd->cmd->name, arg, PUSH_MAX_ID);
    c->app_id = arg;
    note_app_server(cmd, arg);
    return NULL;
}

static int count_params(const char *q)
{
    int n = 0;
    for (const char *p = q; (p = strchr(p, '%')) != NULL; p += 2) {
        if (p[1] == 's')
            n++;
        else if (p[1] != '%')
            return -1;
    }
    return n;
}

static const char *set_session_source(cmd_parms *cmd, void *dv, const char *kind,
                                      const char *query)
{
    static unsigned int label_seq;
    push_dir_conf_t *c = dv;
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare;

    if (strcmp(kind, "builtin") == 0 || strcmp(kind, "remote-user") == 0) {
        if (query)
            return apr_psprintf(cmd->pool, "%s %s takes no query", cmd->cmd->name, kind);
        c->session_source = kind[0] == 'b' ? PUSH_SESSION_BUILTIN : PUSH_SESSION_REMOTE_USER;
        return NULL;
    }
    if (strcmp(kind, "sql") != 0)
        return apr_psprintf(cmd->pool, "%s: unknown source '%s'; accepted: builtin, "
                            "sql \"<query>\", remote-user", cmd->cmd->name, kind);
    if (!query || !*query)
        return apr_psprintf(cmd->pool, "%s sql needs a query, e.g. %s sql \"SELECT user_id "
                            "FROM sessions WHERE token = %%s\"", cmd->cmd->name, cmd->cmd->name);
    if (count_params(query) != 1)
        return apr_psprintf(cmd->pool, "%s sql: the query must take the session token as its "
                            "only parameter, written %%s (a literal percent sign is %%%%)",
                            cmd->cmd->name);
    prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    if (!prepare)
        return apr_psprintf(cmd->pool, "%s sql needs mod_dbd: load it before mod_push",
                            cmd->cmd->name);
    /* mod_dbd labels must be lower-case identifiers */
    c->session_label = apr_psprintf(cmd->pool, "push_session_sql_%u", ++label_seq);
    c->session_source = PUSH_SESSION_SQL;
    prepare(cmd->server, query, c->session_label);
    return NULL;
}

static const char *set_nonneg_int(cmd_parms *cmd, const char *arg, long max, long *out)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(arg, &end, 10);
    if (errno || end == arg || *end || n < 0 || n > max)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from 0 to %ld",
                            cmd->cmd->name, arg, max);
    *out = n;
    return NULL;
}

static const char *set_user_device_limit(cmd_parms *cmd, void *dv, const char *arg)
{
    long n;
    const char *err = set_nonneg_int(cmd, arg, 100000, &n);
    if (!err)
        ((push_dir_conf_t *)dv)->user_device_limit = (int)n;
    return err;
}

static const char *set_max_body(cmd_parms *cmd, void *dv, const char *arg)
{
    long n;
    const char *err = set_nonneg_int(cmd, arg, 64L * 1024 * 1024, &n);
    if (!err && n == 0)
        err = apr_psprintf(cmd->pool, "%s: the limit must be at least 1 byte", cmd->cmd->name);
    if (!err)
        ((push_dir_conf_t *)dv)->max_body = n;
    return err;
}

static const char *set_navixy_application(cmd_parms *cmd, void *dv, const char *id,
                                          const char *platform)
{
    push_dir_conf_t *c = dv;
    static const char *const platforms[] = {"apns", "fcm", "webpush", "wns", NULL};
    int ok = 0;
    for (int i = 0; platforms[i]; i++)
        ok |= strcmp(platforms[i], platform) == 0;
    if (!ok)
        return apr_psprintf(cmd->pool, "%s %s: unknown platform '%s'; accepted: apns, fcm, "
                            "webpush, wns", cmd->cmd->name, id, platform);
    if (!push_valid_app_id(id, strlen(id)))
        return apr_psprintf(cmd->pool, "%s: '%s' is not an application id", cmd->cmd->name, id);
    if (!c->navixy_apps)
        c->navixy_apps = apr_table_make(cmd->pool, 4);
    apr_table_setn(c->navixy_apps, id, platform);
    return NULL;
}

static const char *set_oauth_client(cmd_parms *cmd, void *dv, const char *id, const char *hash,
                                    const char *scopes)
{
    push_srv_conf_t *c = ap_get_module_config(cmd->server->module_config, &push_module);
    push_oauth_client_t *client = apr_palloc(cmd->pool, sizeof(*client));
    char *lower;
    if (!push_valid_app_id(id, strlen(id)))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a client id (A-Z a-z 0-9 . _ -)",
                            cmd->cmd->name, id);
    if (!push_valid_hex(hash, strlen(hash), 64))
        return apr_psprintf(cmd->pool, "%s %s: the secret must be given as its SHA-256 in 64 hex "
                            "digits (printf %%s SECRET | sha256sum)", cmd->cmd->name, id);
    if (!push_scope_list_valid(scopes))
        return apr_psprintf(cmd->pool, "%s %s: the scopes must be a space-separated list such as "
                            "\"apps.read devices.* push.application.*\"", cmd->cmd->name, id);
    lower = apr_pstrdup(cmd->pool, hash);
    ap_str_tolower(lower);
    client->secret_hash = lower;
    client->scopes = scopes;
    if (!c->oauth_clients)
        c->oauth_clients = apr_hash_make(cmd->pool);
    if (apr_hash_get(c->oauth_clients, id, APR_HASH_KEY_STRING))
        return apr_psprintf(cmd->pool, "%s %s: this client is configured twice", cmd->cmd->name, id);
    apr_hash_set(c->oauth_clients, id, APR_HASH_KEY_STRING, client);
    return NULL;
}

static const char *set_token_lifetime(cmd_parms *cmd, void *dv, const char *arg)
{
    long n;
    const char *err = set_nonneg_int(cmd, arg, 86400 * 30, &n);
    push_srv_conf_t *c = ap_get_module_config(cmd->server->module_config, &push_module);
    if (!err && n < 60)
        err = apr_psprintf(cmd->pool, "%s: tokens must live at least 60 seconds", cmd->cmd->name);
    if (!err)
        c->token_lifetime = (int)n;
    return err;
}

static const char *set_secret_key(cmd_parms *cmd, void *dv, const char *arg)
{
    push_srv_conf_t *c = ap_get_module_config(cmd->server->module_config, &push_module);
    const char *path = ap_server_root_relative(cmd->pool, arg), *error = NULL, *warning = NULL;
    /* one key per httpd: the sender opens with it what any virtual host sealed */
    const char *ctx = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (ctx)
        return ctx;
    if (!path)
        return apr_psprintf(cmd->pool, "%s: bad path '%s'", cmd->cmd->name, arg);
    c->secret_key = push_secret_key_load(cmd->pool, path, &error, &warning);
    if (!c->secret_key)
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, error);
    if (warning)
        PUSH_SLOG(APLOG_WARNING, 0, cmd->server, "PUSH0401", "%s: %s",
                     cmd->cmd->name, warning);
    return NULL;
}

/* --- the sender (global directives) --- */

static push_sender_conf_t *sender_conf(cmd_parms *cmd)
{
    push_srv_conf_t *c = ap_get_module_config(cmd->server->module_config, &push_module);
    return c->sender;
}

static const char *set_sender(cmd_parms *cmd, void *dv, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)dv;
    if (err)
        return err;
    sender_conf(cmd)->enabled = on;
    return NULL;
}

/* PushSenderThreads, PushSenderBatch, PushSenderLease, PushSenderMaxAttempts,
 * PushSenderChunk, PushSenderTimeout, PushSenderWatchdog, PushSenderNice: the field and
 * its range are in the table below. */
typedef struct { const char *name; long min, max; apr_size_t offset; } sender_int_t;
static const sender_int_t sender_ints[] = {
    {"PushSenderThreads", 1, 64, APR_OFFSETOF(push_sender_conf_t, threads)},
    {"PushSenderBatch", 1, 10000, APR_OFFSETOF(push_sender_conf_t, batch)},
    {"PushSenderLease", 5, 3600, APR_OFFSETOF(push_sender_conf_t, lease)},
    {"PushSenderMaxAttempts", 1, 100, APR_OFFSETOF(push_sender_conf_t, max_attempts)},
    {"PushSenderChunk", 10, 100000, APR_OFFSETOF(push_sender_conf_t, chunk)},
    {"PushSenderTimeout", 1, 600, APR_OFFSETOF(push_sender_conf_t, timeout_ms)},
    {"PushSenderWatchdog", 5, 3600, APR_OFFSETOF(push_sender_conf_t, watchdog)},
    {"PushSenderNice", 0, 19, APR_OFFSETOF(push_sender_conf_t, nice)},   /* unset: PUSH_UNSET */
    {NULL, 0, 0, 0}};

static const char *set_sender_int(cmd_parms *cmd, void *dv, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long n;
    (void)dv;
    if (err)
        return err;
    for (const sender_int_t *d = sender_ints; d->name; d++) {
        if (strcasecmp(d->name, cmd->cmd->name) != 0)
            continue;
        if ((err = set_nonneg_int(cmd, arg, d->max, &n)))
            return err;
        if (n < d->min)
            return apr_psprintf(cmd->pool, "%s: '%s' is below the minimum %ld", cmd->cmd->name, arg,
                                d->min);
        if (d->offset == APR_OFFSETOF(push_sender_conf_t, timeout_ms))
            n *= 1000;   /* given in seconds */
        *(int *)((char *)sender_conf(cmd) + d->offset) = (int)n;
        return NULL;
    }
    return "mod_push: unknown sender directive";
}

static const char *set_sender_backoff(cmd_parms *cmd, void *dv, const char *base, const char *cap)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long b, c;
    (void)dv;
    if (err || (err = set_nonneg_int(cmd, base, 3600000, &b)) || (err = set_nonneg_int(cmd, cap, 86400000, &c)))
        return err;
    if (b < 1 || c < b)
        return apr_psprintf(cmd->pool, "%s: BASE_MS must be at least 1 and CAP_MS at least BASE_MS",
                            cmd->cmd->name);
    sender_conf(cmd)->backoff_base_ms = (int)b;
    sender_conf(cmd)->backoff_cap_ms = (int)c;
    return NULL;
}

static const char *set_retention(cmd_parms *cmd, void *dv, const char *age, const char *every)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    long long a, e = 60;
    (void)dv;
    if (err)
        return err;
    if (!push_duration_parse(age, 10LL * 366 * 86400, &a))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration up to 3660d (digits with s, m, h, "
                            "d or w, e.g. 7d; 0 keeps everything)", cmd->cmd->name, age);
    if (every && (!push_duration_parse(every, 86400, &e) || e < 1))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration from 1s to 1d", cmd->cmd->name, every);
    sender_conf(cmd)->retention = a ? (int)a : -1;
    sender_conf(cmd)->retention_every = (int)e;
    return NULL;
}

static const char *set_provider_endpoint(cmd_parms *cmd, void *dv, const char *name, const char *url)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)dv;
    if (err)
        return err;
    for (int i = 0; i < PUSH_EP__COUNT; i++) {
        if (strcasecmp(push_endpoint_names[i], name) != 0)
            continue;
        if (!push_valid_https_url(url, strlen(url)))
            return apr_psprintf(cmd->pool, "%s %s: '%s' is not an http:// or https:// URL", cmd->cmd->name,
                                name, url);
        {
            char *u = apr_pstrdup(cmd->pool, url);
            apr_size_t n = strlen(u);
            while (n > 8 && u[n - 1] == '/')
                u[--n] = '\0';   /* paths are appended to it */
            sender_conf(cmd)->endpoint[i] = u;
        }
        return NULL;
    }
    return apr_psprintf(cmd->pool, "%s: unknown provider '%s' (apns, apns-sandbox, fcm, fcm-token, "
                        "webhook-proxy, wns-token)", cmd->cmd->name, name);
}

static const char *set_provider_ca(cmd_parms *cmd, void *dv, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;
    apr_finfo_t fi;
    BIO *in;
    X509 *x;
    int certs = 0;
    (void)dv;
    if (err)
        return err;
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS || fi.filetype != APR_REG ||
        !(in = BIO_new_file(path, "r")))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a readable file", cmd->cmd->name, arg);
    /* libcurl would only find out at the first provider connection, in the sender, with
     * every delivery failing its TLS handshake */
    while ((x = PEM_read_bio_X509_AUX(in, NULL, NULL, NULL))) {   /* TRUSTED CERTIFICATE too */
        X509_free(x);
        certs++;
    }
    BIO_free(in);
    ERR_clear_error();
    if (!certs)
        return apr_psprintf(cmd->pool, "%s: '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                            cmd->cmd->name, arg);
    {
        /* read as libcurl's OpenSSL will (SSL_CTX_load_verify_locations): one damaged
         * block after good certificates fails the whole file there */
        X509_STORE *st = X509_STORE_new();
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
        int ok = st && X509_STORE_load_file(st, path) == 1;
#else
        int ok = st && X509_STORE_load_locations(st, path, NULL) == 1;
#endif
        X509_STORE_free(st);
        ERR_clear_error();
        if (!ok)
            return apr_psprintf(cmd->pool, "%s: '%s' does not load as a list of trusted certificates "
                                "(a damaged or unknown PEM block in it?)", cmd->cmd->name, arg);
    }
    sender_conf(cmd)->ca_file = path;
    return NULL;
}

/* PushEgressAllow ADDRESS[/PREFIX][:PORT] ...: one list for the whole server, added to by
 * every occurrence. */
static const char *set_egress_allow(cmd_parms *cmd, void *dv, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    push_sender_conf_t *sc = sender_conf(cmd);
    push_egress_t *g;
    (void)dv;
    if (err)
        return err;
    /* the list is built here, at config time, and only read afterwards */
    g = sc->egress ? (push_egress_t *)sc->egress : push_egress_make(cmd->pool);
    if ((err = push_egress_allow(cmd->pool, g, arg)))
        return apr_psprintf(cmd->pool, "%s: '%s': %s; accepted: ADDRESS[/PREFIX][:PORT], IPv6 in "
                            "brackets when a port follows, e.g. 10.0.0.0/8, 127.0.0.1:8443, [::1]:8443",
                            cmd->cmd->name, arg, err);
    sc->egress = g;
    return NULL;
}

static const char *set_list_size(cmd_parms *cmd, void *dv, const char *def, const char *max)
{
    push_dir_conf_t *c = dv;
    long d, m = 1000;
    const char *err = set_nonneg_int(cmd, def, 100000, &d);
    if (!err && max)
        err = set_nonneg_int(cmd, max, 100000, &m);
    if (!err && (d < 1 || m < d))
        err = apr_psprintf(cmd->pool, "%s: the default must be at least 1 and at most the maximum",
                           cmd->cmd->name);
    if (err)
        return err;
    c->list_size_default = (int)d;
    c->list_size_max = (int)m;
    return NULL;
}

static const char *set_max_schedule(cmd_parms *cmd, void *dv, const char *arg)
{
    long long n;
    /* ten years: past that a schedule is a mistake, not a plan */
    if (!push_duration_parse(arg, 10LL * 366 * 86400, &n) || n < 1)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a duration from 1s to 3660d "
                            "(digits with s, m, h, d or w, e.g. 365d)", cmd->cmd->name, arg);
    ((push_dir_conf_t *)dv)->max_schedule = n;
    return NULL;
}

/* PushMaxPendingDeliveries, PushMaxMessagesPerMinute: 0 is no limit. */
static const char *set_quota(cmd_parms *cmd, void *dv, const char *arg)
{
    push_dir_conf_t *c = dv;
    long n;
    const char *err = set_nonneg_int(cmd, arg, 1000000000L, &n);
    if (err)
        return err;
    if (strcasecmp(cmd->cmd->name, "PushMaxPendingDeliveries") == 0)
        c->max_pending = n;
    else
        c->max_per_minute = n;
    return NULL;
}

static const char *set_public_url(cmd_parms *cmd, void *dv, const char *arg)
{
    push_srv_conf_t *c = ap_get_module_config(cmd->server->module_config, &push_module);
    apr_uri_t u;
    apr_size_t n = strlen(arg);
    (void)dv;
    if (!push_valid_https_url(arg, n) || apr_uri_parse(cmd->pool, arg, &u) != APR_SUCCESS ||
        !u.hostname || !*u.hostname || u.query || u.fragment || u.user || u.password ||
        (u.port_str && (strspn(u.port_str, "0123456789") != strlen(u.port_str) || strlen(u.port_str) > 5 ||
                        atoi(u.port_str) < 1 || atoi(u.port_str) > 65535)))
        return apr_psprintf(cmd->pool, "%s: '%s' is not an http(s) URL of a host (and a port from 1 to "
                            "65535), with an optional path and no query (e.g. https://push.example.com)",
                            cmd->cmd->name, arg);
    while (n > 0 && arg[n - 1] == '/')
        n--;
    c->public_url = apr_pstrmemdup(cmd->pool, arg, n);
    return NULL;
}

/* mod_push reads the database's conninfo for its own diagnostics (and, later, the
 * sender) from DBDParams, so that it is configured once. It looks and passes the
 * directive on to mod_dbd; this works when mod_push is loaded after mod_dbd. */
static const char *peek_dbd_params(cmd_parms *cmd, void *dv, const char *arg)
{
    push_srv_conf_t *c = ap_get_module_config(cmd->server->module_config, &push_module);
    c->dbd_params = arg;
    return DECLINE_CMD;
}

const command_rec push_cmds[] = {
    AP_INIT_TAKE1("PushApplication", set_application, NULL, ACCESS_CONF,
                  "the application whose devices this location registers"),
    AP_INIT_TAKE12("PushSessionSource", set_session_source, NULL, ACCESS_CONF,
                   "builtin | sql \"<query with one %s>\" | remote-user"),
    AP_INIT_TAKE1("PushUserDeviceLimit", set_user_device_limit, NULL, ACCESS_CONF,
                  "devices kept per user; the least recently used go first (0 = no limit)"),
    AP_INIT_TAKE1("PushMaxBodySize", set_max_body, NULL, ACCESS_CONF,
                  "largest request body accepted, in bytes (default 65536)"),
    AP_INIT_TAKE2("PushNavixyApplication", set_navixy_application, NULL, ACCESS_CONF,
                  "a Navixy application id and its platform (apns, fcm, webpush, wns)"),
    AP_INIT_TAKE3("PushOAuthClient", set_oauth_client, NULL, RSRC_CONF,
                  "an OAuth client: ID, the SHA-256 hex of its secret, \"allowed scopes\""),
    AP_INIT_TAKE1("PushOAuthTokenLifetime", set_token_lifetime, NULL, RSRC_CONF,
                  "seconds an issued access token lives (default 3600)"),
    AP_INIT_TAKE1("PushSecretKey", set_secret_key, NULL, RSRC_CONF,
                  "a file of 32 random bytes (raw, hex or base64) that seals provider secrets"),
    AP_INIT_TAKE12("PushListSize", set_list_size, NULL, ACCESS_CONF,
                   "page size of lists: default [maximum] (default 50 1000)"),
    AP_INIT_TAKE1("PushMaxSchedule", set_max_schedule, NULL, RSRC_CONF | ACCESS_CONF,
                  "how far ahead a message may be scheduled (sendAt), e.g. 365d (the default)"),
    AP_INIT_TAKE1("PushMaxPendingDeliveries", set_quota, NULL, RSRC_CONF | ACCESS_CONF,
                  "deliveries an application may have pending before messages are refused "
                  "(default 1000000, 0 = no limit)"),
    AP_INIT_TAKE1("PushMaxMessagesPerMinute", set_quota, NULL, RSRC_CONF | ACCESS_CONF,
                  "messages an application may send per minute (default 6000, 0 = no limit)"),
    AP_INIT_TAKE1("PushPublicURL", set_public_url, NULL, RSRC_CONF,
                  "the scheme, host and port clients reach this server at, for the links answers carry"),
    AP_INIT_TAKE12("PushRetention", set_retention, NULL, RSRC_CONF,
                   "how long finished deliveries, messages and events are kept, and how often the "
                   "sender sweeps (default 7d 60s; 0 = keep forever)"),
    AP_INIT_FLAG("PushSender", set_sender, NULL, RSRC_CONF,
                 "On|Off: run the sender process that delivers messages (default On)"),
    AP_INIT_TAKE1("PushSenderThreads", set_sender_int, NULL, RSRC_CONF,
                  "delivery threads of the sender (1-64, default 2)"),
    AP_INIT_TAKE1("PushSenderBatch", set_sender_int, NULL, RSRC_CONF,
                  "deliveries a thread has under way at once (1-10000, default 250)"),
    AP_INIT_TAKE1("PushSenderLease", set_sender_int, NULL, RSRC_CONF,
                  "seconds a claim holds before another sender may take it (5-3600, default 60)"),
    AP_INIT_TAKE1("PushSenderMaxAttempts", set_sender_int, NULL, RSRC_CONF,
                  "attempts per delivery before it fails (1-100, default 8)"),
    AP_INIT_TAKE1("PushSenderChunk", set_sender_int, NULL, RSRC_CONF,
                  "devices of an audience expanded per transaction (10-100000, default 5000)"),
    AP_INIT_TAKE1("PushSenderTimeout", set_sender_int, NULL, RSRC_CONF,
                  "seconds one provider request may take (1-600, default 30)"),
    AP_INIT_TAKE1("PushSenderWatchdog", set_sender_int, NULL, RSRC_CONF,
                  "seconds without a heartbeat before the sender is killed and forked again "
                  "(5-3600, default 60)"),
    AP_INIT_TAKE1("PushSenderNice", set_sender_int, NULL, RSRC_CONF,
                  "nice levels the sender runs below httpd's own priority (0-19, default 10)"),
    AP_INIT_TAKE2("PushSenderBackoff", set_sender_backoff, NULL, RSRC_CONF,
                  "retry backoff: BASE_MS CAP_MS (default 1000 3600000)"),
    AP_INIT_TAKE2("PushProviderEndpoint", set_provider_endpoint, NULL, RSRC_CONF,
                  "apns|apns-sandbox|fcm|fcm-token|webhook-proxy|wns-token URL"),
    AP_INIT_ITERATE("PushEgressAllow", set_egress_allow, NULL, RSRC_CONF,
                    "destinations tenant URLs may reach although internal: ADDRESS[/PREFIX][:PORT] ..."),
    AP_INIT_TAKE1("PushProviderCA", set_provider_ca, NULL, RSRC_CONF,
                  "a PEM file of the CAs that provider certificates must chain to"),
    AP_INIT_TAKE1("DBDParams", peek_dbd_params, NULL, RSRC_CONF, "seen by mod_push, set by mod_dbd"),
    {NULL}
};

/* --- configuration checks at start (check_config) ---------------------------------- */

/* Handlers that register devices into the application PushApplication names; the others
 * (push-mobilefirst: the application is in the URL; push-oauth; push-metrics) need none. */
static int needs_application(const char *handler)
{
    return strcasecmp(handler, "push-layer") == 0 || strcasecmp(handler, "push-navixy") == 0 ||
           strcasecmp(handler, "push-rocketchat") == 0;
}

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *apps;       /* push_conf_app_t */
    int errors;
    int no_dbd;                     /* mod_dbd's absence was reported */
} check_t;

static apr_array_header_t *conf_apps;   /* of the current configuration (in pconf) */

static const char *first_arg(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    char *a = ap_getword_conf(p, &args);
    apr_size_t n = strlen(a);
    if (d->first_child || (d->directive[0] == '<' && n && a[n - 1] == '>'))
        while (n && a[n - 1] == '>')
            a[--n] = '\0';   /* a section's arguments end with its '>' */
    return a;
}

static int is_section(const ap_directive_t *d, const char *name)
{
    return d->directive[0] == '<' && strcasecmp(d->directive + 1, name) == 0;
}

/* Whether PushApplication occurs in d's list or below it. */
static int has_application(const ap_directive_t *d)
{
    for (; d; d = d->next)
        if (strcasecmp(d->directive, "PushApplication") == 0 || has_application(d->first_child))
            return 1;
    return 0;
}

/* The path of a plain <Location PATH>, or NULL (regular expressions, other sections). */
static const char *location_path(apr_pool_t *p, const ap_directive_t *d)
{
    const char *path;
    if (!is_section(d, "Location"))
        return NULL;
    path = first_arg(p, d);
    return path[0] == '/' ? path : NULL;
}

/* Whether some <Location> among list (one level: a server's sections), over path or a
 * parent of it, sets PushApplication: httpd merges such sections into path's. */
static int inherited(apr_pool_t *p, const ap_directive_t *list, const char *path)
{
    for (const ap_directive_t *d = list; d; d = d->next) {
        const char *lp = location_path(p, d);
        apr_size_t n;
        if (!lp || !has_application(d->first_child))
            continue;
        n = strlen(lp);
        while (n > 1 && lp[n - 1] == '/')
            n--;
        if (strncmp(path, lp, n) == 0 && (n == 1 || path[n] == '\0' || path[n] == '/'))
            return 1;
    }
    return 0;
}

/* d: a SetHandler of a handler that needs an application; top: the server's list (the
 * main server's, or a <VirtualHost>'s children); global: the main server's list. */
static void check_handler(check_t *c, const ap_directive_t *d, const ap_directive_t *top,
                          const ap_directive_t *global, const char *handler)
{
    const ap_directive_t *sec = d->parent, *outer = NULL;
    const char *path = NULL;
    /* the enclosing sections up to the server: any of them may set it */
    for (const ap_directive_t *a = sec; a && !is_section(a, "VirtualHost"); a = a->parent) {
        outer = a;
        if (!path)
            path = location_path(c->p, a);
    }
    if (outer ? has_application(outer->first_child) : has_application(top))
        return;
    if (path && (inherited(c->p, top, path) || (top != global && inherited(c->p, global, path))))
        return;
    if (!path && outer && !is_section(outer, "Location") && has_application(top))
        return;   /* <Directory>, <Files>, <LocationMatch>...: merged in ways not followed here */
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL,
                 "PUSH0013: %s:%d: SetHandler %s in %s%s%s has no PushApplication: name the "
                 "application whose devices it registers (PushApplication ID in the same section)",
                 d->filename, d->line_num, handler, sec ? sec->directive : "the server configuration",
                 sec ? " " : "", sec ? sec->args : "");
    c->errors++;
}

/* The last directive called name in list or in its sections but <VirtualHost>'s (the
 * directives of one server), else NULL: mod_dbd keeps the last DBDriver and DBDParams of
 * a server. */
static const ap_directive_t *find_directive(const ap_directive_t *list, const char *name)
{
    const ap_directive_t *found = NULL;
    for (const ap_directive_t *d = list; d; d = d->next) {
        const ap_directive_t *f;
        if (strcasecmp(d->directive, name) == 0)
            found = d;
        if (d->first_child && !is_section(d, "VirtualHost") && (f = find_directive(d->first_child, name)))
            found = f;
    }
    return found;
}

/* What the server whose directives are top (the main server's: global) lacks for
 * mod_dbd to give mod_push a PostgreSQL connection, or NULL: a virtual host without its
 * own DBDriver or DBDParams has the main server's. */
static const char *dbd_missing(check_t *c, const ap_directive_t *top, const ap_directive_t *global)
{
    const ap_directive_t *params = find_directive(top, "DBDParams"),
                         *driver = find_directive(top, "DBDriver");
    if (!params && top != global)
        params = find_directive(global, "DBDParams");
    if (!driver && top != global)
        driver = find_directive(global, "DBDriver");
    if (!driver)
        return "no DBDriver";
    if (strcasecmp(first_arg(c->p, driver), "pgsql") != 0)
        return apr_psprintf(c->p, "DBDriver %s (%s:%d) where mod_push needs pgsql",
                            first_arg(c->p, driver), driver->filename, driver->line_num);
    if (!params)
        return "no DBDParams";
    return NULL;
}

/* Whether some <VirtualHost> in list has all it needs (dbd_missing). */
static int some_vhost_has_dbd(check_t *c, const ap_directive_t *list, const ap_directive_t *global)
{
    for (const ap_directive_t *d = list; d; d = d->next) {
        if (is_section(d, "VirtualHost")) {
            if (!dbd_missing(c, d->first_child, global))
                return 1;
        } else if (d->first_child && some_vhost_has_dbd(c, d->first_child, global)) {
            return 1;
        }
    }
    return 0;
}

/* d: a SetHandler of one of mod_push's handlers that use the database (all but the
 * metrics). Every one of them answers 503 without mod_dbd and DBDriver pgsql with
 * DBDParams for its server (its virtual host's or the main server's; for a section of
 * the main server, which every virtual host merges, any server's will do): the
 * configuration test fails rather than say Syntax OK for what cannot work. */
static void check_dbd(check_t *c, const ap_directive_t *d, const ap_directive_t *top,
                      const ap_directive_t *global, const char *handler)
{
    const char *missing;
    if (!ap_find_linked_module("mod_dbd.c")) {
        if (!c->no_dbd++) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL,
                         "PUSH0017: %s:%d: SetHandler %s needs mod_dbd, which is not loaded: mod_push "
                         "keeps its data in PostgreSQL through mod_dbd's pool (a2enmod dbd, or "
                         "LoadModule dbd_module before mod_push)", d->filename, d->line_num, handler);
            c->errors++;
        }
        return;
    }
    missing = dbd_missing(c, top, global);
    if (!missing || (top == global && some_vhost_has_dbd(c, global, global)))
        return;
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_ERR, 0, NULL,
                 "PUSH0018: %s:%d: SetHandler %s has %s for its server: mod_push keeps its data in "
                 "PostgreSQL through mod_dbd (DBDriver pgsql and DBDParams \"host=... dbname=... "
                 "user=...\", in the same virtual host or the main server)",
                 d->filename, d->line_num, handler, missing);
    c->errors++;
}

static void walk(check_t *c, const ap_directive_t *list, const ap_directive_t *top,
                 const ap_directive_t *global)
{
    for (const ap_directive_t *d = list; d; d = d->next) {
        if (strcasecmp(d->directive, "SetHandler") == 0) {
            const char *h = first_arg(c->p, d);
            if (needs_application(h))
                check_handler(c, d, top, global, h);
            /* handler names are not case-sensitive (SetHandler lowers them) */
            if (strncasecmp(h, "push-", 5) == 0 && strcasecmp(h, "push-metrics") != 0)
                check_dbd(c, d, top, global, h);
        } else if (strcasecmp(d->directive, "PushApplication") == 0) {
            push_conf_app_t *a;
            const char *id = first_arg(c->p, d);
            int seen = 0;
            for (int i = 0; i < c->apps->nelts && !seen; i++)
                seen = strcmp(APR_ARRAY_IDX(c->apps, i, push_conf_app_t *)->app_id, id) == 0;
            if (!seen) {
                a = apr_pcalloc(c->p, sizeof(*a));
                a->app_id = id;
                a->file = d->filename;
                a->line = d->line_num;
                APR_ARRAY_PUSH(c->apps, push_conf_app_t *) = a;
            }
        }
        if (d->first_child)
            walk(c, d->first_child, is_section(d, "VirtualHost") ? d->first_child : top, global);
    }
}

int push_conf_check(apr_pool_t *pconf)
{
    check_t c = {pconf, apr_array_make(pconf, 8, sizeof(push_conf_app_t *)), 0, 0};
    walk(&c, ap_conftree, ap_conftree, ap_conftree);
    conf_apps = c.apps;
    return c.errors ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

const apr_array_header_t *push_conf_apps(void)
{
    return conf_apps;
}

push_conf_app_t *push_conf_app_find(const char *app_id)
{
    for (int i = 0; conf_apps && app_id && i < conf_apps->nelts; i++) {
        push_conf_app_t *a = APR_ARRAY_IDX(conf_apps, i, push_conf_app_t *);
        if (strcmp(a->app_id, app_id) == 0)
            return a;
    }
    return NULL;
}
