/* The MobileFirst dialect's shared pieces: the request as a route sees it, and the
 * helpers every route uses for errors, bodies, links and lists. */
#ifndef PUSH_MOBILEFIRST_H
#define PUSH_MOBILEFIRST_H

#include "httpd.h"
#include <json-c/json.h>

#include "core/filter.h"
#include "core/i18n.h"
#include "core/status.h"
#include "store/list.h"
#include "store/store.h"

typedef struct {
    request_rec *r;
    const char *lang;          /* from Accept-Language */
    const char *mount;         /* absolute URL of the API root, e.g. http://h/imfpush/v1 */
    const char *app_id;        /* {app} of the path, decoded */
    const char *id;            /* the resource id after it, decoded */
    int app_enabled;
    apr_table_t *query;        /* query parameters, repeated ones kept */
    const char *device_client; /* a push.mobileclient token's OAuth client: it reaches only
                                  the devices it registered; NULL for other tokens */
    push_db_t *db;             /* the request's connection, acquired with the token's lookup
                                  (health/status acquires its own) */
} mf_req_t;

/* An error body {"code", "message"} in the caller's language. Returns OK. */
int mf_error(mf_req_t *q, int status, push_msg_t m, const char *arg);
/* 403 with a Bearer insufficient_scope challenge naming scope. Returns OK. */
int mf_insufficient_scope(mf_req_t *q, const char *scope);
/* 503 (or the schema's 503) for a store failure. */
int mf_store_error(mf_req_t *q, push_status_t rv);
/* Sends a JSON answer. */
int mf_send(mf_req_t *q, int status, json_object *o);
/* 204, no body. */
int mf_no_content(mf_req_t *q);

/* The request body as a JSON object, or NULL after answering with an error. */
json_object *mf_body(mf_req_t *q);
/* The same for a body of another JSON type (an array for bulk messages). */
json_object *mf_body_as(mf_req_t *q, json_type type);
/* Checks that obj has only the named properties (NULL-terminated); answers 400 FPWSE0006E
 * and returns 0 otherwise. */
int mf_known_properties(mf_req_t *q, json_object *obj, const char *const *names);
/* A string property: 1 present, 0 absent or null; -1 after answering 400 FPWSE0005E
 * (wrong type, empty, over max, not free text: push_valid_text). */
int mf_string(mf_req_t *q, json_object *obj, const char *name, apr_size_t max, const char **out);
/* The same for an identifier (deviceId, tagName, phoneNumber): no control characters at
 * all (push_valid_id). */
int mf_id(mf_req_t *q, json_object *obj, const char *name, apr_size_t max, const char **out);
/* The same for an identifier that names a resource in URL paths from then on (a new
 * deviceId, tag or webhook name): no '/', not "." or ".." (push_valid_segment_id). */
int mf_segment_id(mf_req_t *q, json_object *obj, const char *name, apr_size_t max, const char **out);

/* Checks that the query holds only the named parameters; answers 400 FPWSE0007E. */
int mf_known_params(mf_req_t *q, const char *const *names);

/* The absolute URL of mount + each segment (escaped), NULL-terminated. */
const char *mf_href(mf_req_t *q, ...);

/* Reads offset, size, filter, after/before; answers 400 and returns 0 on a bad one.
 * extra: query parameters that are equality filters ("userId" -> the field "userId"). */
int mf_list_query(mf_req_t *q, const push_filter_field_t *fields, const char *const *extra,
                  push_list_query_t *lq);
/* {"count", "next", "previous", "totalCount"} with working links. */
json_object *mf_page_info(mf_req_t *q, const push_list_query_t *lq, int count, long total,
                          const char *first_key, const char *last_key);
/* Whether expand=true was asked. */
int mf_expand(mf_req_t *q);

/* JSON null or a string. */
json_object *mf_str(const char *s);

/* The routes. */
int mf_apps_list(mf_req_t *q);
int mf_app_create(mf_req_t *q);
int mf_app_get(mf_req_t *q);
int mf_app_delete(mf_req_t *q);
int mf_app_status_get(mf_req_t *q);
int mf_app_status_put(mf_req_t *q);
int mf_devices_list(mf_req_t *q);
int mf_device_register(mf_req_t *q);
int mf_device_get(mf_req_t *q);
int mf_device_update(mf_req_t *q);
int mf_device_delete(mf_req_t *q);
int mf_tags_list(mf_req_t *q);
int mf_tag_create(mf_req_t *q);
int mf_tag_get(mf_req_t *q);
int mf_tag_update(mf_req_t *q);
int mf_tag_delete(mf_req_t *q);
int mf_subscriptions_list(mf_req_t *q);
int mf_subscribe(mf_req_t *q);
int mf_subscription_get(mf_req_t *q);
int mf_subscription_delete(mf_req_t *q);
int mf_subscriptions_delete(mf_req_t *q);
int mf_health(mf_req_t *q);
int mf_settings_summary(mf_req_t *q);
int mf_settings_put(mf_req_t *q);
int mf_settings_get(mf_req_t *q);
int mf_settings_delete(mf_req_t *q);
int mf_gcm_public(mf_req_t *q);
int mf_apns_cert(mf_req_t *q);
int mf_message_send(mf_req_t *q);
int mf_message_bulk(mf_req_t *q);
int mf_message_get(mf_req_t *q);
int mf_message_cancel(mf_req_t *q);
int mf_webhooks_list(mf_req_t *q);
int mf_webhook_create(mf_req_t *q);
int mf_webhook_get(mf_req_t *q);
int mf_webhook_update(mf_req_t *q);
int mf_webhook_delete(mf_req_t *q);

#endif
