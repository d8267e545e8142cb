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

/* Checks d (category_filter is raw text, or NULL for "*") and fills in its canonical
 * filter; 0 with *why when it is refused. Dialects call it before registering. */
int push_registry_validate(apr_pool_t *p, push_device_t *d, push_invalid_t *why);

/* Registers a validated device (one token per device, one live row per token, the user
 * trimmed to limit devices). */
push_status_t push_registry_register(request_rec *r, const push_device_t *d, int limit);

/* The same for the owner of a live built-in session, found in the same round trip;
 * PUSH_NOTFOUND when the session is not live. d->user_id is set from the session;
 * bind_session records the session on the device (its pushes end with it). */
push_status_t push_registry_register_session(request_rec *r, const char *token, push_device_t *d,
                                             int limit, int bind_session);

/* Removes a device of the caller's; PUSH_NOTFOUND when there was none. */
push_status_t push_registry_unregister(request_rec *r, const char *app_id, const char *device_id,
                                       const char *user_id);

#endif
