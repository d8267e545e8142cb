/* MobileFirst messages: accepting them (one statement: the rows and the NOTIFY that
 * wakes the senders), their delivery summaries, cancelling. Nothing here waits on a
 * provider: the sender process does the delivering. */
#include "api/mobilefirst.h"

#include "apr_strings.h"
#include <string.h>
#include "http_protocol.h"

#include "config.h"
#include "core/messages.h"
#include "core/metrics.h"
#include "sender/payload.h"
#include "http_util.h"
#include "log.h"
#include "store/store.h"

#define MAX_BULK 1000   /* messages in one bulk request */

/* 429 with Retry-After: which limit, with its directive and value. */
static int mf_quota_error(mf_req_t *q, const push_quota_t *quota, const push_quota_refusal_t *why)
{
    int rate = why->which && strcmp(why->which, "rate") == 0;
    apr_table_setn(q->r->err_headers_out, "Retry-After",
                   apr_itoa(q->r->pool, why->retry_after > 0 ? why->retry_after : 1));
    return mf_error(q, HTTP_TOO_MANY_REQUESTS, PUSH_MSG_QUOTA,
                    rate ? apr_psprintf(q->r->pool, "PushMaxMessagesPerMinute %d", quota->max_per_minute)
                         : apr_psprintf(q->r->pool, "PushMaxPendingDeliveries %ld", quota->max_pending));
}

/* Checks one message body; 0 after answering 400 (prefix names its place in a bulk). */
static int check(mf_req_t *q, json_object *body, const char *prefix, json_object *list)
{
    json_object *rec;
    int unknown;
    const char *bad = push_message_check(q->r->pool, body, apr_time_now(), push_conf_max_schedule(q->r),
                                         &rec, &unknown);
    if (!bad && (bad = push_payload_problem(q->r->pool, body)))
        json_object_put(rec);
    if (bad) {
        mf_error(q, HTTP_BAD_REQUEST, unknown ? PUSH_MSG_UNKNOWN_PROPERTY : PUSH_MSG_PROPERTY_INVALID,
                 prefix ? apr_pstrcat(q->r->pool, prefix, bad, NULL) : bad);
        return 0;
    }
    json_object_array_add(list, rec);
    return 1;
}

static int accept_list(mf_req_t *q, json_object *list, apr_array_header_t **ids)
{
    push_quota_t quota = {push_conf_max_pending(q->r), push_conf_max_per_minute(q->r)};
    push_quota_refusal_t refusal = {NULL, 0};
    push_status_t rv = push_store_message_accept(q->db, q->app_id,
                                                 json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN),
                                                 &quota, ids, &refusal);
    if (rv == PUSH_ELIMIT) {
        mf_quota_error(q, &quota, &refusal);
        return 0;
    }
    if (rv != PUSH_OK) {
        mf_store_error(q, rv);
        return 0;
    }
    if ((*ids)->nelts != (int)json_object_array_length(list)) {
        PUSH_RLOG(APLOG_ERR, 0, q->r, "PUSH0501", "accepting %d messages returned %d ids",
                  (int)json_object_array_length(list), (*ids)->nelts);
        mf_store_error(q, PUSH_EDB);
        return 0;
    }
    push_metrics_accepted(push_metrics_shm, q->app_id, (unsigned int)(*ids)->nelts);
    return 1;
}

/* POST /apps/{app}/messages → 202 {"messageId", "message"}. */
int mf_message_send(mf_req_t *q)
{
    json_object *body = mf_body(q), *list, *out;
    apr_array_header_t *ids;
    const char *id;
    if (!body)
        return OK;
    if (!q->app_enabled)
        return mf_error(q, HTTP_FORBIDDEN, PUSH_MSG_PUSH_DISABLED, NULL);
    list = push_json_pool_own(q->r->pool, json_object_new_array());
    if (!check(q, body, NULL, list) || !accept_list(q, list, &ids))
        return OK;
    id = APR_ARRAY_IDX(ids, 0, const char *);
    out = json_object_new_object();
    json_object_object_add(out, "messageId", json_object_new_string(id));
    json_object_object_add(out, "message", json_object_get(body));
    json_object_object_add(out, "href", mf_str(mf_href(q, "apps", q->app_id, "messages", id, NULL)));
    apr_table_setn(q->r->headers_out, "Location", mf_href(q, "apps", q->app_id, "messages", id, NULL));
    return mf_send(q, HTTP_ACCEPTED, out);
}

/* POST /apps/{app}/messages/bulk: an array of message bodies → 202 [{"messageId"}]. */
int mf_message_bulk(mf_req_t *q)
{
    json_object *body = mf_body_as(q, json_type_array), *list, *out;
    apr_array_header_t *ids;
    size_t n;
    if (!body)
        return OK;
    if (!q->app_enabled)
        return mf_error(q, HTTP_FORBIDDEN, PUSH_MSG_PUSH_DISABLED, NULL);
    n = json_object_array_length(body);
    if (n == 0 || n > MAX_BULK)
        return mf_error(q, HTTP_BAD_REQUEST, PUSH_MSG_PROPERTY_INVALID, "messages");
    list = push_json_pool_own(q->r->pool, json_object_new_array());
    for (size_t i = 0; i < n; i++)
        if (!check(q, json_object_array_get_idx(body, i),
                   apr_psprintf(q->r->pool, "[%" APR_SIZE_T_FMT "].", i), list))
            return OK;
    if (!accept_list(q, list, &ids))
        return OK;
    out = json_object_new_array();
    for (int i = 0; i < ids->nelts; i++) {
        json_object *o = json_object_new_object();
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        json_object_object_add(o, "messageId", json_object_new_string(id));
        json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "messages", id, NULL)));
        json_object_array_add(out, o);
    }
    return mf_send(q, HTTP_ACCEPTED, out);
}

/* GET /apps/{app}/messages/{id}: the message as accepted and how its delivery stands. */
int mf_message_get(mf_req_t *q)
{
    push_message_summary_t msg;
    push_status_t rv = push_store_message_get(q->db, q->app_id, q->id, &msg);
    json_object *o, *body = NULL, *summary, *alert = NULL, *m;
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_RESOURCE_MISSING,
                        apr_pstrcat(q->r->pool, "message ", q->id, NULL));
    if (rv != PUSH_OK)
        return mf_store_error(q, rv);
    body = push_json_pool_own(q->r->pool, json_tokener_parse(msg.body ? msg.body : "{}"));
    o = json_object_new_object();
    json_object_object_add(o, "messageId", json_object_new_string(q->id));
    if (body && json_object_object_get_ex(body, "message", &m) && json_object_object_get_ex(m, "alert", &alert))
        json_object_object_add(o, "alert", json_object_get(alert));
    if (body) {
        json_object_object_foreach(body, k, v)
            json_object_object_add(o, k, json_object_get(v));
    }
    json_object_object_add(o, "status", mf_str(msg.state));
    json_object_object_add(o, "createdAt", mf_str(msg.created_at));
    json_object_object_add(o, "sendAt", mf_str(msg.send_at));
    json_object_object_add(o, "expiresAt", mf_str(msg.expires_at));
    summary = json_object_new_object();
    json_object_object_add(summary, "targeted", json_object_new_int(msg.targeted));
    json_object_object_add(summary, "sent", json_object_new_int(msg.sent));
    json_object_object_add(summary, "failed", json_object_new_int(msg.failed));
    json_object_object_add(summary, "invalidToken", json_object_new_int(msg.invalid));
    json_object_object_add(summary, "filtered", json_object_new_int(msg.filtered));
    json_object_object_add(summary, "expired", json_object_new_int(msg.expired));
    json_object_object_add(summary, "cancelled", json_object_new_int(msg.cancelled));
    json_object_object_add(summary, "pending", json_object_new_int(msg.pending));
    json_object_object_add(o, "summary", summary);
    if (msg.paused)
        json_object_object_add(o, "credentialErrors", json_object_new_string(msg.paused));
    json_object_object_add(o, "href", mf_str(mf_href(q, "apps", q->app_id, "messages", q->id, NULL)));
    return mf_send(q, HTTP_OK, o);
}

/* DELETE /apps/{app}/messages/{id} → 204; what is not yet sent is cancelled. */
int mf_message_cancel(mf_req_t *q)
{
    push_status_t rv = push_store_message_cancel(q->db, q->app_id, q->id);
    if (rv == PUSH_NOTFOUND)
        return mf_error(q, HTTP_NOT_FOUND, PUSH_MSG_RESOURCE_MISSING,
                        apr_pstrcat(q->r->pool, "message ", q->id, NULL));
    return rv == PUSH_OK ? mf_no_content(q) : mf_store_error(q, rv);
}
