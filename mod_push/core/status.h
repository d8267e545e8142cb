/* Outcomes shared by the core, the store and the dialects. A dialect maps each to
 * its own status code and error body; nothing below the dialects writes HTTP. */
#ifndef PUSH_STATUS_H
#define PUSH_STATUS_H

typedef enum {
    PUSH_OK = 0,
    PUSH_NOTFOUND,    /* nothing matched */
    PUSH_EINVAL,      /* the caller sent something unacceptable */
    PUSH_EDB,         /* a statement failed on a live connection */
    PUSH_EUNAVAIL,    /* no database connection could be had */
    PUSH_ESCHEMA,     /* the database holds a schema this build does not know */
    PUSH_EFORBIDDEN,  /* it exists but is not the caller's (another user's device) */
    PUSH_ELIMIT       /* a quota refuses the request for now (push_quota_refusal_t says why) */
} push_status_t;

#endif
