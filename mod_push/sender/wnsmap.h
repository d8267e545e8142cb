/* WNS without the network: the XML (or raw bytes) a stored message becomes, the headers
 * beside it, which channel URIs a device may name, and what an answer means. wns.c sends;
 * the registration APIs check channel URIs with the same function the sender does. No
 * httpd headers: the unit tests link it alone.
 *
 * The fields read (docs/wns.md has the mapping in full):
 *   message.alert, collapseKey (X-WNS-Tag, toast and tile only, at most 16 characters)
 *   settings.wns   raw {payload}, tile {...}, badge {value, version}, toast {...} (the
 *                  first of these present picks the type, in that order; else a toast),
 *                  expirationTime (seconds: X-WNS-TTL), cachePolicy (X-WNS-Cache-Policy) */
#ifndef PUSH_WNSMAP_H
#define PUSH_WNSMAP_H

#include <apr_pools.h>
#include <json-c/json.h>

#include "sender/classify.h"

struct push_egress;

#define PUSH_WNS_MAX_PAYLOAD 5000    /* bytes, any type */
#define PUSH_WNS_MAX_TAG     16      /* characters of X-WNS-Tag */
#define PUSH_WNS_HOST_SUFFIX ".notify.windows.com"
/* Classic (Partner Center) apps: the package SID and its secret, at login.live.com. */
#define PUSH_WNS_TOKEN_URI   "https://login.live.com/accesstoken.srf"
#define PUSH_WNS_SCOPE       "notify.windows.com"
/* Windows App SDK apps registered in Entra ID: the tenant's v2.0 token endpoint. */
#define PUSH_WNS_ENTRA_TOKEN "https://login.microsoftonline.com/%s/oauth2/v2.0/token"
#define PUSH_WNS_ENTRA_SCOPE "https://wns.windows.com/.default"

typedef struct {
    const char *type;            /* X-WNS-Type: wns/toast, wns/tile, wns/badge, wns/raw */
    const char *content_type;    /* text/xml, or application/octet-stream for raw */
    const char *body;            /* NUL-terminated (raw bytes come from JSON text) */
    apr_size_t body_len;
    apr_int64_t ttl;             /* settings.wns.expirationTime in seconds, -1 none */
    const char *cache_policy;    /* "cache", "no-cache" or NULL */
    const char *tag;             /* X-WNS-Tag or NULL */
} push_wns_request_t;

/* s with the five XML entities escaped (& < > " '), fit for text and for attribute values
 * in double quotes; NULL when s holds a character XML 1.0 cannot carry (a control
 * character other than tab, line feed and carriage return). */
const char *push_xml_escape(apr_pool_t *p, const char *s);

/* Maps msg (the stored MobileFirst body) to a WNS request. 0 and *error (naming the field)
 * when it cannot be mapped: permanent for the message. */
int push_wns_map(apr_pool_t *p, json_object *msg, push_wns_request_t *out, const char **error);

/* NULL when uri may be a device's channel: https on a host under .notify.windows.com that
 * the egress guard accepts, or any http(s) URL whose host is a literal address
 * PushEgressAllow names (staging, the tests' mock). Else a short reason. */
const char *push_wns_channel_problem(apr_pool_t *p, const char *uri, const struct push_egress *g);

/* Whether s may be an Entra tenant: a GUID or a domain name (contoso.onmicrosoft.com),
 * placed in the token endpoint's path. */
int push_wns_tenant_ok(const char *s);

/* WNS's answer: 200 sent; 401 credentials with reason PUSH_WNS_UNAUTHORIZED (the caller
 * renews the token and retries); 403 credentials; 404 and 410 the channel is gone; 406,
 * 429, 5xx, X-WNS-Status channelthrottled and status 0 retry (Retry-After honoured);
 * 400, 405, 413 and other 4xx the message is bad. wns_status is the X-WNS-Status value,
 * or "" or NULL; transport is the reason for status 0. Reasons are our words only. */
#define PUSH_WNS_UNAUTHORIZED "HTTP 401 (access token refused)"
void push_classify_wns(apr_pool_t *p, long status, const char *wns_status, const char *retry_after,
                       const char *transport, push_outcome_t *o);

#endif
