/* A device as a dialect hands it to the registry, and the rules every dialect's
 * registration passes (pure: no httpd, no store). Dialects map the outcome to their own
 * answers; the orchestration is service/registry.c, the storage rules the store's. */
#ifndef PUSH_DEVICE_H
#define PUSH_DEVICE_H

#include <apr_pools.h>

/* A device as the registry hands it to the store. */
typedef struct {
    const char *app_id;
    const char *device_id;
    const char *platform;        /* apns, fcm, wns, webpush, sms */
    const char *token;
    const char *user_id;
    const char *family;          /* layer, navixy, rocketchat, mobilefirst */
    const char *session_ref;     /* token hash of a built-in session, or NULL */
    const char *category_filter; /* canonical text, or NULL */
    const char *categories;      /* text[] literal */
    int categories_exclude;
    const char *extra;           /* JSON object text, or NULL */
    const char *user_agent;
} push_device_t;

typedef struct {
    const char *field;   /* the dialect-neutral field at fault: token, device_id, ... */
    const char *reason;  /* what is wrong with it, for the error message */
} push_invalid_t;

/* Checks d (category_filter is raw text, or NULL for "*") and fills in its canonical
 * filter; 0 with *why when it is refused. Dialects call it before registering. */
int push_registry_validate(apr_pool_t *p, push_device_t *d, push_invalid_t *why);

#endif
