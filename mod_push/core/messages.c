#include "core/messages.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_uuid.h>

#include "core/category.h"
#include "core/validate.h"

/* The top-level properties of a message, and which settings families exist. */
static const char *const message_props[] = {
    "message", "notificationType", "settings", "target", "category", "expiration", "sendAt",
    "collapseKey", "priority", NULL};
static const char *const settings_props[] = {"apns", "gcm", "wns", "webpush", NULL};
static const char *const target_props[] = {"deviceIds", "userIds", "platforms", "tagNames", NULL};
static const char *const platform_codes[] = {"A", "G", "W", "B", NULL};

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

static int string_ok(json_object *v, size_t max)
{
    return json_object_is_type(v, json_type_string) &&
           push_valid_text(json_object_get_string(v), (size_t)json_object_get_string_len(v), max);
}

static int id_ok(json_object *v, size_t max)
{
    return json_object_is_type(v, json_type_string) &&
           push_valid_id(json_object_get_string(v), (size_t)json_object_get_string_len(v), max);
}

/* A JSON integer from min to max. json-c keeps what does not fit 64 bits as a double (or
 * clamps it to INT64_MAX/UINT64_MAX), so the bounds are tested on the 64-bit value. */
static int int_in(json_object *v, int64_t min, int64_t max)
{
    int64_t n;
    if (!json_object_is_type(v, json_type_int))
        return 0;
    n = json_object_get_int64(v);
    return n >= min && n <= max;
}

/* A string the sender copies into a provider's header (or FCM's collapse_key). */
static int header_ok(json_object *v, size_t max)
{
    return json_object_is_type(v, json_type_string) &&
           push_valid_header_value(json_object_get_string(v),
                                   (size_t)json_object_get_string_len(v), max);
}

/* Days of month mo (1-12) of year y in the Gregorian calendar. */
static int days_in_month(int y, int mo)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return days[mo - 1];
}

/* Whether s starts with form, where each 'd' is a digit and every other character itself. */
static int digits_at(const char *s, const char *form)
{
    for (; *form; s++, form++)
        if (*form == 'd' ? !(*s >= '0' && *s <= '9') : *s != *form)
            return 0;
    return 1;
}

int push_iso_time_parse(const char *s, apr_time_t *t)
{
    int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
    long usec = 0;
    apr_time_exp_t x;
    apr_time_t base;
    const char *r;

    /* digits exactly where the form has them: sscanf's %d would also take a sign or a
     * space ("T-1:00:00Z" would become the previous day's 23:00) */
    if (!s || !digits_at(s, "dddd-dd-ddTdd:dd:dd") ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return 0;
    r = s + n;
    if (*r == '.') {
        long scale = 100000;
        if (!(r[1] >= '0' && r[1] <= '9'))
            return 0;
        for (r++; *r >= '0' && *r <= '9'; r++, scale /= 10)
            usec += scale > 0 ? (*r - '0') * scale : 0;
    }
    if (*r == 'Z' && r[1] == '\0') {
        /* UTC */
    } else if ((*r == '+' || *r == '-') && strlen(r) == 6 && digits_at(r + 1, "dd:dd") &&
               sscanf(r + 1, "%2d:%2d", &oh, &om) == 2 && oh <= 23 && om <= 59) {
        if (*r == '-')
            oh = -oh, om = -om;
    } else {
        return 0;
    }
    /* no leap second (:60): the time would silently become the next minute's first */
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return 0;
    memset(&x, 0, sizeof(x));
    x.tm_year = y - 1900;
    x.tm_mon = mo - 1;
    x.tm_mday = d;
    x.tm_hour = h;
    x.tm_min = mi;
    x.tm_sec = sec;
    if (apr_time_exp_gmt_get(&base, &x) != APR_SUCCESS)
        return 0;
    *t = base + usec - apr_time_from_sec((apr_time_t)oh * 3600 + (apr_time_t)om * 60);
    return 1;
}

const char *push_iso_time(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t x;
    apr_time_exp_gmt(&x, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", x.tm_year + 1900, x.tm_mon + 1,
                        x.tm_mday, x.tm_hour, x.tm_min, x.tm_sec, x.tm_usec / 1000);
}

/* A non-empty array of at most PUSH_MAX_TARGETS identifiers of at most max bytes. */
static int string_array_ok(json_object *v, size_t max, const char *const *allowed)
{
    size_t n;
    if (!json_object_is_type(v, json_type_array))
        return 0;
    n = json_object_array_length(v);
    if (n == 0 || n > PUSH_MAX_TARGETS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        if (!id_ok(e, max) || (allowed && !one_of(json_object_get_string(e), allowed)))
            return 0;
    }
    return 1;
}

static const char *check_target(apr_pool_t *p, json_object *target)
{
    const char *kind = NULL;
    if (!json_object_is_type(target, json_type_object))
        return "target";
    json_object_object_foreach(target, k, v) {
        if (!one_of(k, target_props))
            return apr_pstrcat(p, "target.", k, NULL);
        if (kind) /* one kind of target per message */
            return "target";
        kind = k;
        if (!string_array_ok(v, PUSH_MAX_ID, strcmp(k, "platforms") == 0 ? platform_codes : NULL))
            return apr_pstrcat(p, "target.", k, NULL);
    }
    return NULL;
}

/* A settings.wns tile or toast: an object whose shortcuts are strings, its visual an object. */
static int visual_ok(json_object *o)
{
    static const char *const strings[] = {"title", "text", "launch", "duration", NULL};
    json_object *v;
    if (!json_object_is_type(o, json_type_object))
        return 0;
    for (const char *const *f = strings; *f; f++)
        if (json_object_object_get_ex(o, *f, &v) && v && !json_object_is_type(v, json_type_string))
            return 0;
    return !json_object_object_get_ex(o, "visual", &v) || !v || json_object_is_type(v, json_type_object);
}

/* settings.wns: the types the WNS mapping relies on (the XML itself is built, and its
 * finer points refused, when it is sent). */
static const char *check_wns(json_object *w)
{
    json_object *x, *y;
    if (json_object_object_get_ex(w, "badge", &x) && x) {
        if (!json_object_is_type(x, json_type_object) || !json_object_object_get_ex(x, "value", &y) ||
            !((json_object_is_type(y, json_type_string) && push_wns_badge_text_ok(json_object_get_string(y))) ||
              int_in(y, 0, PUSH_MAX_INT32)))
            return "settings.wns.badge";
        if (json_object_object_get_ex(x, "version", &y) && y && !int_in(y, 0, PUSH_MAX_INT32) &&
            !json_object_is_type(y, json_type_string))
            return "settings.wns.badge.version";
    }
    if (json_object_object_get_ex(w, "cachePolicy", &x) && x && !json_object_is_type(x, json_type_boolean) &&
        !(json_object_is_type(x, json_type_string) && (strcmp(json_object_get_string(x), "cache") == 0 ||
                                                       strcmp(json_object_get_string(x), "no-cache") == 0)))
        return "settings.wns.cachePolicy";
    if (json_object_object_get_ex(w, "expirationTime", &x) && x && !int_in(x, 0, PUSH_MAX_INT32))
        return "settings.wns.expirationTime";
    if (json_object_object_get_ex(w, "raw", &x) && x &&
        (!json_object_is_type(x, json_type_object) || !json_object_object_get_ex(x, "payload", &y) ||
         !(json_object_is_type(y, json_type_string) || json_object_is_type(y, json_type_object) ||
           json_object_is_type(y, json_type_array))))
        return "settings.wns.raw";
    if (json_object_object_get_ex(w, "tile", &x) && x && !visual_ok(x))
        return "settings.wns.tile";
    if (json_object_object_get_ex(w, "toast", &x) && x && !visual_ok(x))
        return "settings.wns.toast";
    return NULL;
}

static const char *check_settings(apr_pool_t *p, json_object *settings)
{
    if (!json_object_is_type(settings, json_type_object))
        return "settings";
    json_object_object_foreach(settings, k, v) {
        json_object *x;
        const char *bad;
        if (!one_of(k, settings_props) || !json_object_is_type(v, json_type_object))
            return apr_pstrcat(p, "settings.", k, NULL);
        /* the fields whose type the mapping relies on */
        if (json_object_object_get_ex(v, "payload", &x) && !json_object_is_type(x, json_type_object))
            return apr_pstrcat(p, "settings.", k, ".payload", NULL);
        if (json_object_object_get_ex(v, "badge", &x) && strcmp(k, "apns") == 0 &&
            !int_in(x, 0, PUSH_MAX_INT32))
            return "settings.apns.badge";
        if (json_object_object_get_ex(v, "type", &x) && strcmp(k, "apns") == 0 &&
            !(json_object_is_type(x, json_type_string) &&
              (strcmp(json_object_get_string(x), "DEFAULT") == 0 ||
               strcmp(json_object_get_string(x), "MIXED") == 0 ||
               strcmp(json_object_get_string(x), "SILENT") == 0)))
            return "settings.apns.type";
        /* a mod_push addition: a VoIP push to the devices that registered a VoIP token */
        if (json_object_object_get_ex(v, "voip", &x) && strcmp(k, "apns") == 0 &&
            !json_object_is_type(x, json_type_boolean))
            return "settings.apns.voip";
        /* null and "" mean none to the mapping */
        if (json_object_object_get_ex(v, "collapseKey", &x) && x && strcmp(k, "gcm") == 0 &&
            !(json_object_is_type(x, json_type_string) && json_object_get_string_len(x) == 0) &&
            !header_ok(x, PUSH_MAX_FCM_COLLAPSE_KEY))
            return "settings.gcm.collapseKey";
        if (strcmp(k, "wns") == 0 && (bad = check_wns(v)))
            return bad;
        /* a mod_push addition: what a browser's notification shows (docs/webpush.md) */
        if (strcmp(k, "webpush") == 0) {
            static const char *const texts[] = {"title", "icon", "url", NULL};
            for (const char *const *t = texts; *t; t++)
                if (json_object_object_get_ex(v, *t, &x) && !string_ok(x, 2048))
                    return apr_pstrcat(p, "settings.webpush.", *t, NULL);
        }
        if (json_object_object_get_ex(v, "timeToLive", &x) && strcmp(k, "gcm") == 0 &&
            !int_in(x, 0, 2419200))
            return "settings.gcm.timeToLive";
    }
    return NULL;
}

/* expiration: an ISO time, or a number of seconds from now (number or digit string). */
static int expiration_of(json_object *v, apr_time_t now, apr_time_t *t)
{
    if (json_object_is_type(v, json_type_int)) {
        int64_t s = json_object_get_int64(v);
        if (s <= 0 || s > PUSH_MAX_EXPIRATION)
            return 0;
        *t = now + apr_time_from_sec(s);
        return 1;
    }
    if (!json_object_is_type(v, json_type_string))
        return 0;
    if (push_iso_time_parse(json_object_get_string(v), t))
        return 1;
    {
        const char *s = json_object_get_string(v);
        char *end;
        long long n = strtoll(s, &end, 10);
        if (!*s || *end || n <= 0 || n > PUSH_MAX_EXPIRATION || *s == '+' || *s == ' ')
            return 0;
        *t = now + apr_time_from_sec((apr_time_t)n);
        return 1;
    }
}

const char *push_message_check(apr_pool_t *p, json_object *body, apr_time_t now,
                               apr_time_t horizon, json_object **record, int *unknown)
{
    json_object *msg = NULL, *alert = NULL, *v, *rec;
    apr_time_t send_at = now, expires = 0;
    int type = 1;
    const char *bad;
    char uuid[APR_UUID_FORMATTED_LENGTH + 1];
    apr_uuid_t u;

    *record = NULL;
    *unknown = 0;
    if (!json_object_is_type(body, json_type_object))
        return "message";
    json_object_object_foreach(body, key, val) {
        (void)val;
        if (!one_of(key, message_props))
            return *unknown = 1, apr_pstrdup(p, key);   /* outlives body */
    }
    if (!json_object_object_get_ex(body, "message", &msg) || !json_object_is_type(msg, json_type_object))
        return "message";
    json_object_object_foreach(msg, mk, mv) {
        if (strcmp(mk, "alert") != 0)
            return *unknown = 1, apr_pstrcat(p, "message.", mk, NULL);
        alert = mv;
    }
    if (alert && !string_ok(alert, PUSH_MAX_ALERT))
        return "message.alert";
    if (json_object_object_get_ex(body, "notificationType", &v)) {
        if (!int_in(v, 1, 3))
            return "notificationType";
        type = json_object_get_int(v);
    }
    if (json_object_object_get_ex(body, "settings", &v) && (bad = check_settings(p, v)))
        return bad;
    if (json_object_object_get_ex(body, "target", &v) && (bad = check_target(p, v)))
        return bad;
    if (json_object_object_get_ex(body, "category", &v)) {
        push_category_filter_t *f;
        if (!json_object_is_type(v, json_type_string) ||
            push_category_parse(p, json_object_get_string(v), (apr_size_t)json_object_get_string_len(v), &f) ||
            f->all || f->exclude || f->names->nelts != 1)
            return "category";
    }
    if (json_object_object_get_ex(body, "collapseKey", &v) && !header_ok(v, PUSH_MAX_COLLAPSE_KEY))
        return "collapseKey";
    if (json_object_object_get_ex(body, "priority", &v) &&
        !(json_object_is_type(v, json_type_string) &&
          (strcmp(json_object_get_string(v), "high") == 0 || strcmp(json_object_get_string(v), "normal") == 0)))
        return "priority";
    if (json_object_object_get_ex(body, "sendAt", &v) &&
        !(json_object_is_type(v, json_type_string) && push_iso_time_parse(json_object_get_string(v), &send_at)))
        return "sendAt";
    if (send_at > now + horizon)
        return "sendAt";
    if (json_object_object_get_ex(body, "expiration", &v) && !expiration_of(v, now, &expires))
        return "expiration";
    /* what a relative expiration allows (a year), counted from the sending */
    if (expires && expires > (send_at > now ? send_at : now) + apr_time_from_sec(PUSH_MAX_EXPIRATION))
        return "expiration";
    if (expires && expires <= (send_at > now ? send_at : now))
        return "expiration";
    if (!alert && type != 1)
        return "message.alert";   /* an SMS needs a text */

    apr_uuid_get(&u);
    apr_uuid_format(uuid, &u);
    rec = json_object_new_object();
    json_object_object_add(rec, "id", json_object_new_string(uuid));
    json_object_object_add(rec, "body", json_object_get(body));
    if (json_object_object_get_ex(body, "target", &v))
        json_object_object_add(rec, "target", json_object_get(v));
    if (json_object_object_get_ex(body, "category", &v))
        json_object_object_add(rec, "category", json_object_get(v));
    if (json_object_object_get_ex(body, "priority", &v))
        json_object_object_add(rec, "priority", json_object_get(v));
    if (json_object_object_get_ex(body, "collapseKey", &v))
        json_object_object_add(rec, "collapseKey", json_object_get(v));
    json_object_object_add(rec, "sendAt", json_object_new_string(push_iso_time(p, send_at)));
    if (expires)
        json_object_object_add(rec, "expiresAt", json_object_new_string(push_iso_time(p, expires)));
    json_object_object_add(rec, "type", json_object_new_int(type));
    *record = rec;
    return NULL;
}

enum { FIND_NUL, FIND_NUMBER };

/* Whether a parsed number is one that is stored and sent as it was written. json-c reads
 * NaN and Infinity (which jsonb refuses), clamps an integer beyond 64 bits to the nearest
 * bound, and turns a double out of range into infinity or zero; jsonb keeps the digits,
 * so what was answered, what was stored and what is sent would differ. Integers keep
 * within 64 bits, fractions within the same magnitude. */
static int number_ok(json_object *o)
{
    if (json_object_is_type(o, json_type_int)) {
        int64_t v = json_object_get_int64(o);
        return v != INT64_MAX && v != INT64_MIN;
    }
    if (json_object_is_type(o, json_type_double)) {
        double d = json_object_get_double(o);
        /* json-c keeps the text of a parsed double */
        const char *c = json_object_to_json_string(o), *dot = strchr(c, '.');
        if (!isfinite(d) || fabs(d) >= 9223372036854775807.0)
            return 0;
        /* JSON wants a digit after the point; json-c takes "1." and "1.e3", jsonb does not */
        if (dot && !(dot[1] >= '0' && dot[1] <= '9'))
            return 0;
        if (d == 0) {
            /* 1e-400 reads as 0 */
            for (; *c && *c != 'e' && *c != 'E'; c++)
                if (*c >= '1' && *c <= '9')
                    return 0;
        }
    }
    return 1;
}

/* Whether o holds what is sought (FIND_NUL: a string with a NUL; FIND_NUMBER: a number
 * number_ok refuses); then *path is its place below o ("" for o itself), built only on
 * the way back up, so that a body without one allocates nothing. */
static int find_under(apr_pool_t *p, json_object *o, int what, int depth, const char **path)
{
    switch (json_object_get_type(o)) {
    case json_type_string:
        *path = "";
        return what == FIND_NUL &&
               memchr(json_object_get_string(o), '\0', (size_t)json_object_get_string_len(o));
    case json_type_int:
    case json_type_double:
        *path = "";
        return what == FIND_NUMBER && !number_ok(o);
    case json_type_object:
        if (depth > 64)   /* the parser's own limit is lower */
            return 0;
        {
            json_object_object_foreach(o, k, v) {
                if (v && find_under(p, v, what, depth + 1, path)) {
                    *path = apr_pstrcat(p, k, **path && **path != '[' ? "." : "", *path, NULL);
                    return 1;
                }
            }
        }
        return 0;
    case json_type_array:
        if (depth > 64)
            return 0;
        for (size_t i = 0, n = json_object_array_length(o); i < n; i++) {
            json_object *e = json_object_array_get_idx(o, i);
            if (e && find_under(p, e, what, depth + 1, path)) {
                *path = apr_psprintf(p, "[%" APR_SIZE_T_FMT "]%s%s", i,
                                     **path && **path != '[' ? "." : "", *path);
                return 1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

static const char *find_path(apr_pool_t *p, json_object *o, int what)
{
    const char *path = "";
    if (!find_under(p, o, what, 0, &path))
        return NULL;
    return *path ? path : "(the body)";
}

const char *push_json_nul_path(apr_pool_t *p, json_object *o)
{
    return find_path(p, o, FIND_NUL);
}

const char *push_json_number_path(apr_pool_t *p, json_object *o)
{
    return find_path(p, o, FIND_NUMBER);
}

int push_json_text_has_nul(const char *s, size_t len)
{
    /* backslash-u0000 escapes a NUL when an odd number of backslashes precedes the u:
     * outside strings JSON has no backslash at all */
    for (size_t i = 0; i + 5 <= len; i++) {
        size_t k = 0;
        if (memcmp(s + i, "u0000", 5) != 0 || i == 0)
            continue;
        while (k < i && s[i - 1 - k] == '\\')
            k++;
        if (k % 2 == 1)
            return 1;
    }
    return 0;
}
