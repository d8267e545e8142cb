/* The device registry shared by the end-user dialects: a device that passed
 * push_registry_validate (core/device.h) registered or removed through the store on the
 * request's connection. Dialects map the outcome to their own answers; the rules (one
 * token per device, one live row per token, the per-user limit) live here and in the
 * store's function. */
#ifndef PUSH_SERVICE_REGISTRY_H
#define PUSH_SERVICE_REGISTRY_H

#include "httpd.h"
#include "core/status.h"
#include "core/device.h"
#include "store/store.h"

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

/* Rocket.Chat's push.token: the record found by id (or by token, platform and appName,
 * else new_id) registered for d->user_id, its user trimmed to limit devices;
 * PUSH_EFORBIDDEN when that record or the token is another user's. */
push_status_t push_registry_register_rocketchat(request_rec *r, const push_device_t *d,
                                                const char *id, const char *new_id,
                                                const char *app_name, const char *voip_token,
                                                int limit, push_rc_record_t *out);

/* Removes the caller's APNs and FCM records with this token; PUSH_NOTFOUND when none. */
push_status_t push_registry_unregister_rocketchat(request_rec *r, const char *app_id,
                                                  const char *token, const char *user_id);

#endif
