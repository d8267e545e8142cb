/* The device registry shared by every dialect: validation of what a dialect has
 * translated, then upsert and delete through the store. Dialects map the outcome to
 * their own answers; the rules (one token per device, one live row per token, the
 * per-user limit) live here and in the store's function. */
#ifndef PUSH_REGISTRY_H
#define PUSH_REGISTRY_H

#include "httpd.h"
#include "core/status.h"
#include "store/store.h"

typedef struct {
    const char *field;   /* the dialect-neutral field at fault: token, device_id, ... */
    const char *reason;  /* what is wrong with it, for the error message */
} push_invalid_t;

/* Validates d (category_filter is raw text, or NULL for "*"), fills in its canonical
 * filter, then registers it. PUSH_EINVAL fills *why. */
push_status_t push_registry_register(request_rec *r, push_device_t *d, int limit, int *created,
                                     push_invalid_t *why);

/* Removes a device of the caller's; PUSH_NOTFOUND when there was none. */
push_status_t push_registry_unregister(request_rec *r, const char *app_id, const char *device_id,
                                       const char *user_id);

#endif
