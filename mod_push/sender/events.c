/* Webhook events: the rows the registry and the delivery outcomes write into push_event
 * are POSTed to every webhook of the application that listens for their type, as
 * {"type", "applicationId", "eventTimeStamp", "entity"}, signed with HMAC-SHA256 when the
 * webhook has a secret, and retried with backoff. Delivery is at least once: an event
 * retried because one webhook failed reaches the others again, with the same
 * X-Push-Event-Id for them to recognize it. */
#include "sender/internal.h"

#include <stdlib.h>

#include <apr_strings.h>
#include <curl/curl.h>

#include "core/secret.h"
#include "sender/classify.h"
#include "sender/jwt.h"


/* One event per claim: its lease must cover POSTing it to every webhook that listens,
 * and a batch of slow receivers would outlast any lease (see run_events). */
#define EVENT_BATCH 1
#define HOOK_TIMEOUT_MS 10000
#define MAX_HOOKS_COVERED 6   /* the lease covers this many receivers at their timeout */

static int hook_timeout(const push_sender_t *sd)
{
    return sd->c->timeout_ms < HOOK_TIMEOUT_MS ? sd->c->timeout_ms : HOOK_TIMEOUT_MS;
}

static size_t discard(char *d, size_t s, size_t n, void *c)
{
    (void)d;
    (void)c;
    return s * n;
}

typedef struct {
    char retry_after[80];
} hook_answer_t;

static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
    hook_answer_t *a = ctx;
    size_t len = size * n;
    if (len > 12 && strncasecmp(line, "retry-after:", 12) == 0) {
        size_t k = 0;
        const char *v = line + 12;
        while (*v == ' ')
            v++;
        while (k + 1 < sizeof(a->retry_after) && v + k < line + len && v[k] != '\r' && v[k] != '\n')
            k++;
        memcpy(a->retry_after, v, k);
        a->retry_after[k] = '\0';
    }
    return len;
}

/* POSTs body to one webhook; fills o. */
static void post(push_sender_t *sd, apr_pool_t *p, const char *app, const char *name,
                 const char *url, const char *sealed, const char *event_id, const char *kind,
                 const char *body, push_outcome_t *o)
{
    CURL *e = curl_easy_init();
    struct curl_slist *h = NULL;
    hook_answer_t a = {""};
    CURLcode rc;
    long status = 0;

    push_curl_common(sd, e, url, 0);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)hook_timeout(sd));
    if (sd->c->endpoint[PUSH_EP_WEBHOOK_PROXY])
        curl_easy_setopt(e, CURLOPT_PROXY, sd->c->endpoint[PUSH_EP_WEBHOOK_PROXY]);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, apr_pstrcat(p, "X-Push-Event: ", kind, NULL));
    h = curl_slist_append(h, apr_pstrcat(p, "X-Push-Event-Id: ", event_id, NULL));
    if (sealed) {
        unsigned char *raw, *key;
        apr_size_t n, keylen;
        const char *err = NULL, *sig = NULL;
        if (sd->c->key && push_bytea_decode(p, sealed, &raw, &n) &&
            push_secret_open(p, sd->c->key, raw, n, apr_pstrcat(p, app, "/webhook/", name, NULL), &key,
                             &keylen, &err))
            sig = push_hmac_sha256_hex(p, key, keylen, body, strlen(body));
        if (!sig) {
            /* never send unsigned what the receiver expects signed */
            SLOG(sd, APLOG_ERR, "PUSH0641", "sender: cannot sign events for webhook %s of %s: %s", name,
                 app, err ? err : "no PushSecretKey");
            curl_slist_free_all(h);
            curl_easy_cleanup(e);
            o->kind = PUSH_OUT_MESSAGE_BAD;
            o->reason = "cannot sign";
            o->retry_after = -1;
            return;
        }
        h = curl_slist_append(h, apr_pstrcat(p, "X-Push-Signature: sha256=", sig, NULL));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &a);
    rc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    push_classify_http(p, rc == CURLE_OK ? status : 0, a.retry_after, o);
    if (o->kind != PUSH_OUT_SENT)
        SLOG(sd, APLOG_WARNING, "PUSH0642", "sender: webhook %s of %s: %s %s", name, app, o->reason,
             rc == CURLE_OK ? "" : curl_easy_strerror(rc));
}

static int run_events(push_sender_t *sd, PGconn **db, apr_pool_t *p, unsigned int *rnd)
{
    char n[16], lease[16];
    const char *params[3] = {sd->owner, n, lease};
    PGresult *res, *hooks;
    int rows;
    apr_snprintf(n, sizeof(n), "%d", EVENT_BATCH);
    apr_snprintf(lease, sizeof(lease), "%d", sd->c->lease + MAX_HOOKS_COVERED * hook_timeout(sd) / 1000);
    res = push_pg_exec(sd, db, "SELECT event_id, app_id, kind, payload, attempts, created_ms "
                               "FROM push_event_claim($1, $2::integer, $3::integer)", 3, params);
    if (!res)
        return -1;
    rows = PQntuples(res);
    for (int i = 0; i < rows && !SENDER_STOPPING(sd); i++) {
        const char *id = PQgetvalue(res, i, 0), *app = PQgetvalue(res, i, 1), *kind = PQgetvalue(res, i, 2);
        const char *hp[2] = {app, kind}, *state = "done", *fp[4];
        int attempts = atoi(PQgetvalue(res, i, 4)), retry_after = -1;
        json_object *ev = json_object_new_object();
        const char *body;
        char delay[32];

        json_object_object_add(ev, "type", json_object_new_string(kind));
        json_object_object_add(ev, "applicationId", json_object_new_string(app));
        json_object_object_add(ev, "eventTimeStamp", json_object_new_int64(apr_atoi64(PQgetvalue(res, i, 5))));
        json_object_object_add(ev, "entity", json_tokener_parse(PQgetvalue(res, i, 3)));
        body = apr_pstrdup(p, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
        json_object_put(ev);

        hooks = push_pg_exec(sd, db, "SELECT name, url, secret::text FROM push_webhook "
                                     "WHERE app_id = $1 AND $2 = ANY (events) ORDER BY name", 2, hp);
        for (int k = 0; hooks && k < PQntuples(hooks); k++) {
            push_outcome_t o;
            post(sd, p, app, PQgetvalue(hooks, k, 0), PQgetvalue(hooks, k, 1),
                 PQgetisnull(hooks, k, 2) ? NULL : PQgetvalue(hooks, k, 2), id, kind, body, &o);
            if (o.kind == PUSH_OUT_RETRY) {
                state = "retry";
                if (o.retry_after > retry_after)
                    retry_after = o.retry_after;
            }
        }
        if (!hooks)
            state = "retry";
        PQclear(hooks);
        if (strcmp(state, "retry") == 0 && attempts >= sd->c->max_attempts) {
            state = "failed";
            SLOG(sd, APLOG_ERR, "PUSH0643", "sender: event %s (%s of %s) given up after %d attempts", id,
                 kind, app, attempts);
        }
        apr_snprintf(delay, sizeof(delay), "%" APR_INT64_T_FMT,
                     push_backoff_ms(attempts, sd->c->backoff_base_ms, sd->c->backoff_cap_ms, retry_after,
                                     (*rnd = *rnd * 1103515245u + 12345u)));
        fp[0] = id;
        fp[1] = sd->owner;
        fp[2] = state;
        fp[3] = delay;
        PQclear(push_pg_exec(sd, db, "SELECT push_event_finish($1::bigint, $2, $3, $4::bigint)", 4, fp));
        apr_pool_clear(p);
    }
    PQclear(res);
    return rows;
}

void *APR_THREAD_FUNC push_events_thread(apr_thread_t *t, void *data)
{
    push_sender_t *sd = data;
    PGconn *db = NULL;
    apr_pool_t *p;
    apr_uint32_t seen = 0;
    unsigned int rnd = (unsigned int)apr_time_now();
    apr_pool_create(&p, NULL);
    while (!SENDER_STOPPING(sd)) {
        int n = run_events(sd, &db, p, &rnd);
        apr_pool_clear(p);
        if (n > 0 || (n < 0 && !db))
            continue;
        push_sender_wait(sd, &seen, 500);
    }
    PQfinish(db);
    apr_pool_destroy(p);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}
