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

/* One pattern segment as a regular expression: '*' is a run within the segment, every
 * other character itself (escaped: a backslash before a non-alphanumeric is the literal). */
static const char *segment_regex(apr_pool_t *p, const char *seg, size_t n)
{
    char *out = apr_palloc(p, n * 5 + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        char c = seg[i];
        if (c == '*') {
            memcpy(o, "[^.]*", 5);
            o += 5;
        } else {
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                *o++ = '\\';
            *o++ = c;
        }
    }
    *o = '\0';
    return out;
}

const char *push_scope_app_regex(apr_pool_t *p, const char *patterns)
{
    const char *alts = NULL;
    char *copy = apr_pstrdup(p, patterns ? patterns : ""), *state = NULL;
    for (char *pat = apr_strtok(copy, " ", &state); pat; pat = apr_strtok(NULL, " ", &state)) {
        const char *first = pat, *second, *rest, *re = NULL;
        if (strcmp(pat, "*") == 0)
            return NULL;   /* every application */
        /* push.application.<id>: the pattern's first two segments must cover "push" and
         * "application", and the segments after them make the id */
        second = strchr(first, '.');
        rest = second ? strchr(second + 1, '.') : NULL;
        if (!rest || !push_scope_match(apr_pstrmemdup(p, first, (apr_size_t)(second - first)), "push") ||
            !push_scope_match(apr_pstrmemdup(p, second + 1, (apr_size_t)(rest - second - 1)), "application"))
            continue;
        for (const char *seg = rest + 1;;) {
            size_t n = strcspn(seg, ".");
            const char *one = segment_regex(p, seg, n);
            re = re ? apr_pstrcat(p, re, "\\.", one, NULL) : one;
            if (!seg[n])
                break;
            seg += n + 1;
        }
        alts = alts ? apr_pstrcat(p, alts, "|", re, NULL) : re;
    }
    return alts ? apr_pstrcat(p, "^(", alts, ")$", NULL) : "^$";
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
