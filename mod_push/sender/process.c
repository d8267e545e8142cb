/* The sender's life under httpd: forked by the parent after configuration (mod_cgid's
 * pattern), watched with apr_proc_other_child_register so that it is forked again if
 * it dies, killed by the parent's monitor hook when its heartbeat stops (stopped, or
 * stuck), and sent SIGTERM with the configuration pool on shutdown and on every
 * restart, graceful or not (the next configuration forks a new one; leases make two at
 * once harmless). */
#include "sender/process.h"

#include <signal.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "ap_mpm.h"
#include "http_main.h"
#include "apr_signal.h"
#include "http_config.h"
#include "mpm_common.h"
#include "unixd.h"

#include "core/metrics.h"
#include "log.h"
#include "sender/internal.h"


typedef struct {
    apr_pool_t *pconf;
    server_rec *s;
    push_sender_conf_t *conf;
    apr_proc_t *proc;
    int restarts;
    apr_time_t last_start;   /* push_metrics_clock */
    int killed;   /* SIGKILL sent by the watchdog to this process */
} sender_proc_t;

/* this generation's sender, for the monitor hook; NULL once its configuration is gone */
static sender_proc_t *watched;

static apr_status_t fork_sender(sender_proc_t *sp, int is_restart);

static void maintenance(int reason, void *data, apr_wait_t status)
{
    sender_proc_t *sp = data;
    int stopping = 0;
    (void)status;
    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        apr_proc_other_child_unregister(data);
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &stopping) == APR_SUCCESS && stopping == AP_MPMQ_STOPPING)
            break;
        PUSH_SLOG(APLOG_ERR, 0, sp->s, "PUSH0651", "the sender process (pid %d) is gone; starting "
                  "another", (int)sp->proc->pid);
        if (push_metrics_clock() - sp->last_start < apr_time_from_sec(1))
            apr_sleep(apr_time_from_sec(1));   /* a sender that dies at once must not spin */
        fork_sender(sp, 1);
        break;
    case APR_OC_REASON_RESTART:
        apr_proc_other_child_unregister(data);
        break;
    case APR_OC_REASON_UNREGISTER:
        kill(sp->proc->pid, SIGTERM);
        break;
    case APR_OC_REASON_UNWRITABLE:
    case APR_OC_REASON_RUNNING:
    default:
        break;
    }
}

static apr_status_t fork_sender(sender_proc_t *sp, int is_restart)
{
    apr_status_t rv;
    sp->proc = apr_pcalloc(sp->pconf, sizeof(*sp->proc));
    sp->last_start = push_metrics_clock();
    sp->killed = 0;
    rv = apr_proc_fork(sp->proc, sp->pconf);
    if (rv == APR_INCHILD) {
        apr_pool_t *p;
        /* the parent's signal dispositions do not belong here */
        apr_signal(SIGCHLD, SIG_DFL);
        /* the sender serves no requests: a next httpd can bind its ports even while this
         * one is still stopping */
        ap_close_listeners();
        apr_pool_create(&p, sp->pconf);
        if (ap_run_drop_privileges(p, ap_server_conf) != 0) {
            PUSH_SLOG(APLOG_CRIT, 0, sp->s, "PUSH0652", "the sender could not drop privileges");
            _exit(1);
        }
#ifdef __linux__
        /* a parent killed outright (kill -9) takes the sender with it: SIGTERM, its orderly
         * stop. After the change of user, which clears the setting. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
        if ((long)getppid() != sp->conf->parent)
            _exit(0);   /* the parent was gone before that */
        push_sender_main(p, sp->conf);   /* does not return */
        _exit(0);
    }
    if (rv != APR_INPARENT) {
        PUSH_SLOG(APLOG_ERR, rv, sp->s, "PUSH0653", "cannot fork the sender process");
        return rv;
    }
    push_metrics_sender_forked(push_metrics_shm, (int)sp->proc->pid, is_restart);
    /* Stopped with the configuration: SIGTERM when the registration goes (maintenance,
     * APR_OC_REASON_UNREGISTER), and no SIGKILL after it. The sender then ends what it has
     * under way and writes the outcomes, however slow the provider (each request has
     * PushSenderTimeout), while the next configuration's sender starts beside it; killed
     * after a grace period it left up to threads x batch requests sent and unrecorded, to
     * be sent again (500 duplicates at each graceful restart with a provider answering in
     * 15 s). The parent reaps it whenever it ends. */
    apr_proc_other_child_register(sp->proc, maintenance, sp, NULL, sp->pconf);
    return APR_SUCCESS;
}

static apr_status_t unwatch(void *data)
{
    if (watched == data)
        watched = NULL;
    return APR_SUCCESS;
}

int push_sender_start(apr_pool_t *pconf, server_rec *s, push_sender_conf_t *conf)
{
    sender_proc_t *sp = apr_pcalloc(pconf, sizeof(*sp));
    sp->pconf = pconf;
    sp->s = s;
    sp->conf = conf;
    conf->server = s;
    conf->parent = (long)getpid();
    watched = sp;
    apr_pool_cleanup_register(pconf, sp, unwatch, apr_pool_cleanup_null);
    return fork_sender(sp, 0) == APR_SUCCESS ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

/* The parent's monitor hook (httpd runs it about every 10 s): the sender's main thread writes its
 * heartbeat into the shared metrics at least once a second while it runs: in each pass of
 * its loop, in every second it waits for PostgreSQL (pg.c waits on non-blocking
 * connections in slices of a second, also behind a lock or a silent server) and while it
 * waits for its workers at a stop. Times are CLOCK_MONOTONIC (push_metrics_clock). A
 * sender that has shown none for PushSenderWatchdog seconds since it started is stopped
 * (SIGSTOP), or stuck where no timeout reaches (a deadlock of its main thread): it gets
 * SIGKILL, and its death forks another (maintenance above). What it had under way is sent
 * again after its leases, as after a crash. */
int push_sender_monitor(apr_pool_t *p, server_rec *s)
{
    sender_proc_t *sp = watched;
    push_metrics_sender_t st;
    apr_time_t now = push_metrics_clock(), last;
    (void)p;
    (void)s;
    if (!sp || !sp->proc || sp->proc->pid <= 0 || sp->killed || sp->conf->watchdog <= 0)
        return DECLINED;
    push_metrics_sender_state(push_metrics_shm, now, &st);
    if (st.pid != (int)sp->proc->pid)
        return DECLINED;   /* not forked yet, or not this one's figures */
    last = st.beat > sp->last_start ? st.beat : sp->last_start;
    if (now - last < apr_time_from_sec(sp->conf->watchdog))
        return DECLINED;
    PUSH_SLOG(APLOG_ERR, 0, sp->s, "PUSH0655", "the sender process (pid %d) has shown no heartbeat "
              "for %" APR_TIME_T_FMT " s (PushSenderWatchdog %d): killing it",
              (int)sp->proc->pid, apr_time_sec(now - last), sp->conf->watchdog);
    sp->killed = 1;
    kill(sp->proc->pid, SIGKILL);
    return DECLINED;
}
