/* Messages: accepting them into the outbox, their summaries, cancelling. The work
 * itself is plpgsql in sql/004_messages.sql, shared with the sender. */
#include <stdlib.h>

#include <apr_strings.h>

#include "store/statements.h"
#include "store/store.h"

push_status_t push_store_message_accept(push_db_t *db, const char *app_id, const char *list,
                                        const push_quota_t *quota, apr_array_header_t **ids,
                                        push_quota_refusal_t *refusal)
{
    const char *args[] = {app_id, list, apr_ltoa(db->pool, quota->max_pending),
                          apr_itoa(db->pool, quota->max_per_minute)};
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    push_status_t rv = push_db_select(db, PUSH_ST_MSG_ACCEPT, &res, 4, args);
    if (rv != PUSH_OK)
        return rv;
    *ids = apr_array_make(db->pool, 1, sizeof(const char *));
    for (int i = 1; (row = push_db_row(db, res, i)); i++) {
        const char *id = push_db_col(db, row, 0), *which = push_db_col(db, row, 1),
                   *after = push_db_col(db, row, 2);
        if (!id && which) {
            refusal->which = which;
            refusal->retry_after = after ? atoi(after) : 60;
            rv = PUSH_ELIMIT;
            continue;
        }
        APR_ARRAY_PUSH(*ids, const char *) = id;
    }
    return rv;
}

/* push_message_summary's columns, in the order of PUSH_ST_MSG_SUMMARY */
enum { MSG_BODY, MSG_TARGET, MSG_STATE, MSG_CATEGORY, MSG_SEND_AT, MSG_EXPIRES_AT, MSG_CREATED_AT,
       MSG_TARGETED, MSG_SENT, MSG_FAILED, MSG_INVALID, MSG_FILTERED, MSG_EXPIRED, MSG_CANCELLED,
       MSG_PENDING, MSG_PAUSED };

static int count_of(push_db_t *db, apr_dbd_row_t *row, int col)
{
    const char *v = push_db_col(db, row, col);
    return v ? atoi(v) : 0;
}

push_status_t push_store_message_get(push_db_t *db, const char *app_id, const char *id,
                                     push_message_summary_t *out)
{
    const char *args[] = {app_id, id};
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    push_status_t rv = push_db_select(db, PUSH_ST_MSG_SUMMARY, &res, 2, args);
    if (rv != PUSH_OK)
        return rv;
    if (!(row = push_db_row(db, res, 1)))
        return PUSH_NOTFOUND;
    out->body = push_db_col(db, row, MSG_BODY);
    out->target = push_db_col(db, row, MSG_TARGET);
    out->state = push_db_col(db, row, MSG_STATE);
    out->category = push_db_col(db, row, MSG_CATEGORY);
    out->send_at = push_db_col(db, row, MSG_SEND_AT);
    out->expires_at = push_db_col(db, row, MSG_EXPIRES_AT);
    out->created_at = push_db_col(db, row, MSG_CREATED_AT);
    out->targeted = count_of(db, row, MSG_TARGETED);
    out->sent = count_of(db, row, MSG_SENT);
    out->failed = count_of(db, row, MSG_FAILED);
    out->invalid = count_of(db, row, MSG_INVALID);
    out->filtered = count_of(db, row, MSG_FILTERED);
    out->expired = count_of(db, row, MSG_EXPIRED);
    out->cancelled = count_of(db, row, MSG_CANCELLED);
    out->pending = count_of(db, row, MSG_PENDING);
    out->paused = push_db_col(db, row, MSG_PAUSED);
    return PUSH_OK;
}

push_status_t push_store_message_cancel(push_db_t *db, const char *app_id, const char *id)
{
    const char *args[] = {app_id, id}, *found;
    apr_dbd_results_t *res;
    push_status_t rv = push_db_select(db, PUSH_ST_MSG_CANCEL, &res, 2, args);
    if (rv != PUSH_OK)
        return rv;
    found = push_db_first_value(db, res);
    return found && found[0] == 't' ? PUSH_OK : PUSH_NOTFOUND;
}

push_status_t push_store_sender_health(push_db_t *db, int *senders, long *queued, double *oldest)
{
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    push_status_t rv = push_db_select(db, PUSH_ST_SENDER_HEALTH, &res, 0, NULL);
    if (rv != PUSH_OK)
        return rv;
    if (!(row = push_db_row(db, res, 1)))
        return PUSH_EUNAVAIL;
    *senders = atoi(push_db_col(db, row, 0));
    *queued = atol(push_db_col(db, row, 1));
    *oldest = atof(push_db_col(db, row, 2));
    return PUSH_OK;
}

push_status_t push_store_rocketchat_test(push_db_t *db, const char *app_id, const char *user,
                                         const char *id, const char *body, const push_quota_t *quota,
                                         int *tokens, push_quota_refusal_t *refusal)
{
    const char *args[] = {app_id, user, id, body, apr_ltoa(db->pool, quota->max_pending),
                          apr_itoa(db->pool, quota->max_per_minute)}, *n, *after;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    push_status_t rv = push_db_select(db, PUSH_ST_RC_TEST, &res, 6, args);
    if (rv != PUSH_OK)
        return rv;
    if (!(row = push_db_row(db, res, 1)))
        return PUSH_EDB;
    n = push_db_col(db, row, 0);
    after = push_db_col(db, row, 1);
    *tokens = n ? atoi(n) : 0;
    if (*tokens == -2) {
        refusal->which = "quota";
        refusal->retry_after = after ? atoi(after) : 60;
        return PUSH_ELIMIT;
    }
    return PUSH_OK;
}

push_status_t push_store_rocketchat_message(push_db_t *db, const char *app_id, const char *id,
                                            const char *user, push_rc_message_t *out)
{
    const char *args[] = {app_id, id, user}, *allowed;
    apr_dbd_results_t *res;
    apr_dbd_row_t *row;
    push_status_t rv = push_db_select(db, PUSH_ST_RC_MESSAGE, &res, 3, args);
    if (rv != PUSH_OK)
        return rv;
    if (!(row = push_db_row(db, res, 1)))
        return PUSH_NOTFOUND;
    out->body = push_db_col(db, row, 0);
    out->created_at = push_db_col(db, row, 1);
    out->updated_at = push_db_col(db, row, 2);
    allowed = push_db_col(db, row, 3);
    out->allowed = allowed && allowed[0] == 't';
    out->host = push_db_col(db, row, 4);
    return PUSH_OK;
}
