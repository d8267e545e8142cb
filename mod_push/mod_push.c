/* mod_push: the module record, hooks and handlers' registration. Glue only: the
 * directives live in config.c, the dialects in api/, the rules in core/. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_main.h"
#include "http_core.h"

#include "api/api.h"
#include "config.h"
#include "core/schema.h"
#include "core/version.h"
#include "dbd.h"
#include "sender/process.h"

static int push_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *s)
{
    /* Statements must reach mod_dbd before its own post_config opens connections. */
    push_db_prepare_all(s, ptemp);
    push_metrics_setup(s);
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    /* once per start and restart, in the error log (not for apachectl -t) */
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "PUSH0020: mod_push %s (schema version %d) "
                     "configured", PUSH_VERSION, PUSH_SCHEMA_VERSION);
    push_db_diagnose(s, ptemp, APLOG_NOTICE, 1);
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL) {
        const push_srv_conf_t *c = push_srv_conf(s);
        push_sender_conf_t *sc = c->sender;
        push_sender_conf_defaults(sc);
        sc->conninfo = c->dbd_params;
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

static void push_register_hooks(apr_pool_t *p)
{
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};
    ap_hook_check_config(push_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(push_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    ap_hook_handler(push_layer_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_navixy_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_mobilefirst_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_oauth_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_rocketchat_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(push_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
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
