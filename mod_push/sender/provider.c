/* The channels this sender delivers to. */
#include "sender/provider.h"

#include <string.h>

static const push_provider_t *const providers[] = {
    &push_provider_apns,
    &push_provider_fcm,
    &push_provider_wns,
    &push_provider_webpush,
    &push_provider_sms,
};

const push_provider_t *push_provider_find(const char *name)
{
    for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
        if (strcmp(providers[i]->name, name) == 0)
            return providers[i];
    return NULL;
}

void push_req_decide(push_req_t *rq, push_outcome_kind_t kind, const char *reason)
{
    memset(&rq->out, 0, sizeof(rq->out));
    rq->out.kind = kind;
    rq->out.reason = reason;
    rq->out.retry_after = -1;
}

const char *push_req_bearer(push_sender_t *sd, push_req_t *rq)
{
    return rq->bearer = push_cred_bearer(sd, rq->cr, &rq->out);
}

int push_header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}
