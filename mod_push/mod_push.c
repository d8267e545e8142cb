/* mod_push: the module record, hooks and handlers' registration. Glue only: the
 * directives live in config.c, the dialects in api/, the rules in core/. */
#include "apr_strings.h"
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mpm_common.h"
#include "scoreboard.h"

#include "api/api.h"
#include "config.h"
#include "http_util.h"
#include "core/schema.h"
#include "core/version.h"
#include "store/db.h"
#include "sender/process.h"

/* The server whose DBDParams name the database this httpd's sender serves: the main
 * server's, or, where only virtual hosts set them (a sites-available layout), the first
 * of theirs. A virtual host that reaches another database is named at startup: nothing
 * accepted there would be delivered (one httpd serves one mod_push database). */
static server_rec *sender_db_server(server_rec *s)
{
    server_rec *db = push_srv_conf(s)->dbd_params ? s : NULL;
    const char *ci;
    /* httpd lists virtual hosts last defined first: the last one here came first */
    for (server_rec *v = s->next; v && db != s; v = v->next)
        if (push_srv_conf(v)->dbd_params)
            db = v;
    if (!db)
        return s;
    ci = push_srv_conf(db)->dbd_params;
    for (server_rec *v = s; v; v = v->next) {
        const char *p = push_srv_conf(v)->dbd_params;
        if (p && strcmp(p, ci) != 0)
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, v, "PUSH0023: virtual host %s (%s:%d) has the "
                         "DBDParams of another database than the sender's (%s:%d): messages accepted "
                         "there are not delivered; one httpd serves one mod_push database",
                         v->server_hostname ? v->server_hostname : "?", v->defn_name ? v->defn_name : "?",
                         v->defn_line_number, db->defn_name ? db->defn_name : "the main server",
                         db->defn_line_number);
    }
    return db;
}

static int push_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    server_rec *dbs;
    /* Statements must reach mod_dbd before its own post_config opens connections. */
    push_db_prepare_all(s, ptemp);
    push_metrics_setup(s);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    /* once per start and restart, in the error log (not for apachectl -t) */
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "PUSH0020: mod_push %s (schema version %d) "
                     "configured", PUSH_VERSION, PUSH_SCHEMA_VERSION);
    dbs = sender_db_server(s);
    push_db_diagnose(dbs, ptemp, APLOG_NOTICE, 1);
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL) {
        const push_srv_conf_t *c = push_srv_conf(s);
        push_sender_conf_t *sc = c->sender;
        push_sender_conf_defaults(sc);
        sc->conninfo = push_srv_conf(dbs)->dbd_params;
        sc->key = c->secret_key;
        if (sc->enabled && sc->conninfo)
            return push_sender_start(pconf, s, sc);
    }
    return OK;
}

static int push_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    (void)ptemp;
    (void)s;
    return push_conf_check(pconf);
}

/* The name SetHandler gives the request, read before httpd applies it (type_checker): the
 * <Location> configuration is already merged when translate_name runs. */
static const char *forced_handler(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *h;
    if (!d->expr_handler)
        return d->handler;
    h = ap_expr_str_exec(r, d->expr_handler, &err);
    return err ? NULL : h;
}

/* The request line without its query string; 1 when there was one. */
static int scrub_request_line(request_rec *r)
{
    const char *sp, *q, *end;
    if (!r->the_request)
        return 0;
    sp = strchr(r->the_request, ' ');
    q = sp ? strchr(sp + 1, '?') : NULL;
    end = sp ? strchr(sp + 1, ' ') : NULL;
    if (!q || (end && q > end))
        return 0;
    r->the_request = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, r->the_request, (apr_size_t)(q - r->the_request)),
                                 end ? end : "", NULL);
    return 1;
}

/* What mod_push's handlers answer is no file: the request skips httpd's walk of the
 * document root (map_to_storage), as mod_proxy's do. So a path segment longer than a file
 * name may be (a hostile device id of 5,000 bytes) gets the dialect's 404 rather than
 * core's HTML 403, no request pays a stat() per path component, and TRACE, which core
 * answers from map_to_storage by echoing the request's headers (a bearer or session token
 * among them), reaches the dialect, which refuses the method in its own format. */
static int push_translate_name(request_rec *r)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    const char *h;
    apr_size_t n;
    /* Only a prefix <Location> whose path the URI still lies under: a regex location has
     * no mount, and its routes are what core's walk leaves in path_info; a URI that an
     * earlier translator rewrote (RewriteRule [PT]) may now name a file, while the
     * configuration read here was merged for the URI before the rewrite. */
    if (!core->d || core->d[0] != '/' || core->r)
        return DECLINED;
    n = strlen(core->d);
    while (n > 1 && core->d[n - 1] == '/')
        n--;
    if (n > 1 && (strncmp(r->uri, core->d, n) != 0 || (r->uri[n] != '\0' && r->uri[n] != '/')))
        return DECLINED;
    h = forced_handler(r);
    if (!h || strncmp(h, "push-", 5) != 0)
        return DECLINED;
    /* after Alias and RewriteRule (they run before), instead of core's mapping onto the
     * document root, which refuses a path component longer than a file name may be */
    r->filename = apr_pstrcat(r->pool, "push:", r->uri, NULL);
    apr_table_setn(r->notes, "push-no-file", "1");
    /* what mod_status shows of this request while it runs: the line without its query
     * (a Navixy session token); the handler reads r->args */
    if (r->args && scrub_request_line(r))
        ap_update_child_status(r->connection->sbh, SERVER_BUSY_WRITE, r);
    return OK;
}

static int push_map_to_storage(request_rec *r)
{
    return apr_table_get(r->notes, "push-no-file") ? OK : DECLINED;
}

/* A query string can carry a secret: Navixy's clients send their session token as ?hash=,
 * MobileFirst's filters name users and devices. Before any access log is written, a
 * request that one of mod_push's handlers served loses its query string from the request
 * line (%r) and from %q, whatever LogFormat the server uses (Debian's "combined" among
 * them). The handlers read r->args long before this runs. */
static int push_scrub_log(request_rec *r)
{
    const char *h = r->handler;
    if (!h || strncmp(h, "push-", 5) != 0)
        return DECLINED;
    r->args = NULL;
    scrub_request_line(r);
    return DECLINED;
}

static void push_register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};
    ap_hook_check_config(push_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(push_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    ap_hook_monitor(push_sender_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    push_http_util_register();
    ap_hook_translate_name(push_translate_name, NULL, NULL, APR_HOOK_LAST);
    ap_hook_map_to_storage(push_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(push_layer_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_navixy_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_mobilefirst_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_oauth_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_rocketchat_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* before mod_log_config's (APR_HOOK_MIDDLE) */
    ap_hook_log_transaction(push_scrub_log, NULL, NULL, APR_HOOK_REALLY_FIRST);
    push_metrics_register_hooks();
}

AP_DECLARE_MODULE(push) = {
    STANDARD20_MODULE_STUFF,
    push_create_dir_conf,
    push_merge_dir_conf,
    push_create_srv_conf,
    push_merge_srv_conf,
    push_cmds,
    push_register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_NONE
#endif
};
