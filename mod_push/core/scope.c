#include "scope.h"

#include <apr_strings.h>
#include <string.h>

/* One dot-free segment against a pattern segment: '*' matches any run of characters.
 * Iterative glob with one backtrack point: linear, no recursion. */
static int segment_match(const char *pattern, const char *pend, const char *scope, const char *send)
{
    const char *star = NULL, *resume = NULL;
    while (scope < send) {
        if (pattern < pend && *pattern == '*') {
            star = pattern++;
            resume = scope;
        } else if (pattern < pend && *pattern == *scope) {
            pattern++;
            scope++;
        } else if (star) {
            pattern = star + 1;
            scope = ++resume;
        } else {
            return 0;
        }
    }
    while (pattern < pend && *pattern == '*')
        pattern++;
    return pattern == pend;
}

int push_scope_match(const char *pattern, const char *scope)
{
    /* "*" alone is every scope (MobileFirst's administrator); otherwise a '*' stays
     * within its dot-separated segment, so "*.*" is not "push.application.demo" */
    if (strcmp(pattern, "*") == 0)
        return 1;
    for (;;) {
        const char *pend = pattern + strcspn(pattern, ".");
        const char *send = scope + strcspn(scope, ".");
        if (!segment_match(pattern, pend, scope, send))
            return 0;
        if (*pend == '\0' || *send == '\0')
            return *pend == *send; /* as many segments on both sides */
        pattern = pend + 1;
        scope = send + 1;
    }
}

int push_scope_list_covers(const char *patterns, const char *scope)
{
    const char *p = patterns;
    char one[256];
    while (p && *p) {
        size_t n;
        while (*p == ' ')
            p++;
        n = strcspn(p, " ");
        if (n > 0 && n < sizeof(one)) {
            memcpy(one, p, n);
            one[n] = '\0';
            if (push_scope_match(one, scope))
                return 1;
        }
        p += n;
    }
    return 0;
}

int push_scope_list_all_covered(apr_pool_t *p, const char *allowed, const char *wanted,
                                const char **missing)
{
    char *copy = apr_pstrdup(p, wanted), *state = NULL, *scope;
    for (scope = apr_strtok(copy, " ", &state); scope; scope = apr_strtok(NULL, " ", &state)) {
        if (!push_scope_list_covers(allowed, scope)) {
            *missing = scope;
            return 0;
        }
    }
    return 1;
}

int push_scope_list_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    int any = 0;
    if (n == 0 || n > 2048)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by spaces */
        if (c == ' ')
            continue;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
        any = 1;
    }
    return any;
}
