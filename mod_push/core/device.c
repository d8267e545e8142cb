#include "core/device.h"

#include <apr_strings.h>
#include <string.h>

#include "core/category.h"
#include "core/validate.h"

static int invalid(push_invalid_t *why, const char *field, const char *reason)
{
    why->field = field;
    why->reason = reason;
    return 0;
}

static int check_text(push_invalid_t *why, const char *field, const char *s, size_t max,
                      int required)
{
    if (!s)
        return required ? invalid(why, field, "is required") : 1;
    if (!*s)
        return invalid(why, field, "must not be empty");
    if (strlen(s) > max)
        return invalid(why, field, "is too long");
    if (!push_valid_utf8(s, strlen(s)))
        return invalid(why, field, "is not valid UTF-8");
    if (!push_valid_id(s, strlen(s), max))
        return invalid(why, field, "must not hold control characters");
    return 1;
}

static int known_platform(const char *p)
{
    return p && (!strcmp(p, "apns") || !strcmp(p, "fcm") || !strcmp(p, "wns") ||
                 !strcmp(p, "webpush") || !strcmp(p, "sms"));
}

int push_registry_validate(apr_pool_t *p, push_device_t *d, push_invalid_t *why)
{
    push_category_filter_t *filter;
    const char *err;

    if (!check_text(why, "device_id", d->device_id, PUSH_MAX_ID, 1) ||
        !check_text(why, "token", d->token, PUSH_MAX_TOKEN, 1) ||
        !check_text(why, "user_id", d->user_id, PUSH_MAX_ID, 0))
        return 0;
    /* a device id is a path segment of the routes that read and delete it */
    if (!push_valid_segment_id(d->device_id, strlen(d->device_id), PUSH_MAX_ID))
        return invalid(why, "device_id", "must not hold '/' nor be \".\" or \"..\"");
    if (!known_platform(d->platform))
        return invalid(why, "platform", "is not a known platform");
    /* the sender puts it into a request path (APNs) or body: nothing that could change
     * the request it is sent with */
    if (!push_valid_device_token(d->platform, d->token, strlen(d->token)))
        return invalid(why, "token", push_device_token_rule(d->platform));
    if (d->user_agent && (strlen(d->user_agent) > 1024 ||
                          !push_valid_utf8(d->user_agent, strlen(d->user_agent))))
        d->user_agent = NULL; /* informational only: drop rather than refuse */
    if (!d->category_filter) {
        d->categories = "{}";
        d->categories_exclude = 0;
        return 1;
    }
    err = push_category_parse(p, d->category_filter, strlen(d->category_filter), &filter);
    if (err)
        return invalid(why, "category_filter", err);
    d->category_filter = push_category_canonical(p, filter);
    d->categories = push_category_pg_array(p, filter);
    d->categories_exclude = filter->exclude;
    return 1;
}

