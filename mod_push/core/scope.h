/* OAuth scopes as MobileFirst uses them: space-separated lists whose entries may hold
 * '*' wildcards ("push.application.*", "messages.*", "*"). A client's allowed scope is
 * a list of patterns; a token carries what it was granted, patterns included. */
#ifndef PUSH_SCOPE_H
#define PUSH_SCOPE_H

#include <apr_pools.h>

/* The fixed scope MobileFirst's device SDKs ask for: their own device's registration,
 * subscriptions, the tag list and gcmConfPublic, nothing administrative. */
#define PUSH_SCOPE_MOBILECLIENT "push.mobileclient"

/* Whether one pattern covers a scope: '*' matches any run of characters within one
 * dot-separated segment, and pattern and scope have as many segments ("*.*" covers
 * "devices.read", not "push.application.demo"); the pattern "*" alone covers every scope. */
int push_scope_match(const char *pattern, const char *scope);

/* Whether any pattern of the space-separated list covers scope. A pattern in the list
 * also covers a narrower pattern given as scope ("push.application.*" covers
 * "push.application.*" and "push.application.x"; "*" covers everything). */
int push_scope_list_covers(const char *patterns, const char *scope);

/* The application ids a scope list covers ("push.application.<id>"), as a PostgreSQL
 * regular expression for listing them ("push.application.*" covers "demo", not "x.y"),
 * or NULL when it covers every application ("*" alone). "^$" when it covers none. */
const char *push_scope_app_regex(apr_pool_t *p, const char *patterns);

/* Whether every scope of the space-separated list wanted is covered by allowed. On
 * failure *missing is the first uncovered scope. */
int push_scope_list_all_covered(apr_pool_t *p, const char *allowed, const char *wanted,
                                const char **missing);

/* A well-formed scope list: 1..2048 bytes of printable ASCII scopes separated by spaces
 * (RFC 6749 scope-token characters). */
int push_scope_list_valid(const char *s);

#endif
