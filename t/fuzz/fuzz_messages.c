/* libFuzzer target: a message body as the API receives it, through the checks of
 * push_message_check and, when it passes, through the APNs and FCM mappings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <json-c/json.h>

#include "core/messages.h"
#include "sender/payload.h"

static apr_pool_t *root;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_tokener *tok;
    json_object *body, *rec = NULL, *stored;
    apr_pool_t *p;
    int unknown;
    const char *bad;

    if (!root) {
        apr_initialize();
        apr_pool_create(&root, NULL);
    }
    if (size > 65536)
        return 0;
    tok = json_tokener_new();
    body = json_tokener_parse_ex(tok, (const char *)data, (int)size);
    json_tokener_free(tok);
    if (!body)
        return 0;
    apr_pool_create(&p, root);
    bad = push_message_check(p, body, apr_time_now(), PUSH_DEFAULT_SCHEDULE, &rec, &unknown);
    (void)push_json_nul_path(p, body);
    (void)push_json_text_has_nul((const char *)data, size);
    if ((bad == NULL) != (rec != NULL))
        abort();   /* an answer is either an error or a record */
    if (rec) {
        push_apns_request_t req;
        push_private_t priv = {"id-1", "https://chat.example.com"};
        const char *out, *err;
        if (!json_object_object_get_ex(rec, "body", &stored) || !json_object_object_get_ex(rec, "id", NULL))
            abort();
        if (push_apns_map(p, stored, "com.example.app", 0, NULL, &req, &err) &&
            (req.body_len > PUSH_APNS_MAX_PAYLOAD || strlen(req.body) != req.body_len))
            abort();   /* a mapped payload is never over Apple's limit */
        push_apns_map(p, stored, NULL, 1700000000, &priv, &req, &err);
        push_fcm_map(p, stored, "token-1", 60, NULL, &out, &err);
        push_fcm_map(p, stored, "token-1", -1, &priv, &out, &err);
        json_object_put(rec);
    }
    json_object_put(body);
    apr_pool_destroy(p);
    return 0;
}
