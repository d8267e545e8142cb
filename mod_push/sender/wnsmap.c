/* WNS without the network (see wnsmap.h). The XML is assembled from escaped pieces only:
 * every text and attribute value a tenant gave passes through push_xml_escape. */
#include "sender/wnsmap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_uri.h>

#include "core/validate.h"
#include "sender/egress.h"

const char *push_xml_escape(apr_pool_t *p, const char *s)
{
    apr_size_t n = 0;
    char *out, *o;
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 && u != '\t' && u != '\n' && u != '\r')
            return NULL;
        n += *c == '&' ? 5 : *c == '<' || *c == '>' ? 4 : *c == '"' || *c == '\'' ? 6 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    for (const char *c = s; *c; c++) {
        const char *e = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;"
                      : *c == '"' ? "&quot;" : *c == '\'' ? "&apos;" : NULL;
        if (e) {
            memcpy(o, e, strlen(e));
            o += strlen(e);
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

/* --- building the XML ---------------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *parts;
    const char *error;          /* the first field that could not be used */
} xml_t;

static void put(xml_t *x, const char *s)
{
    *(const char **)apr_array_push(x->parts) = s;
}

/* Escaped text; a value XML cannot carry is the field's error. */
static void text(xml_t *x, const char *s, const char *field)
{
    const char *e = push_xml_escape(x->p, s);
    if (!e && !x->error)
        x->error = apr_pstrcat(x->p, field, " holds a character XML cannot carry", NULL);
    put(x, e ? e : "");
}

/* name="value", escaped (nothing when value is NULL). */
static void attr(xml_t *x, const char *name, const char *value, const char *field)
{
    if (!value)
        return;
    put(x, apr_pstrcat(x->p, " ", name, "=\"", NULL));
    text(x, value, field);
    put(x, "\"");
}

static void wrong(xml_t *x, const char *field)
{
    if (!x->error)
        x->error = apr_pstrcat(x->p, field, " has the wrong type", NULL);
}

/* A member; JSON null and "" count as absent. */
static json_object *member(json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &v) || !v)
        return NULL;
    if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0)
        return NULL;
    return v;
}

/* A string member, or NULL (absent); another type is an error. */
static const char *str_member(xml_t *x, json_object *o, const char *k, const char *field)
{
    json_object *v = member(o, k);
    if (!v)
        return NULL;
    if (!json_object_is_type(v, json_type_string)) {
        wrong(x, apr_pstrcat(x->p, field, ".", k, NULL));
        return NULL;
    }
    return json_object_get_string(v);
}

/* A boolean member as "true"/"false", or NULL. */
static const char *bool_member(xml_t *x, json_object *o, const char *k, const char *field)
{
    json_object *v = member(o, k);
    if (!v)
        return NULL;
    if (!json_object_is_type(v, json_type_boolean)) {
        wrong(x, apr_pstrcat(x->p, field, ".", k, NULL));
        return NULL;
    }
    return json_object_get_boolean(v) ? "true" : "false";
}

/* An id attribute: the element's own (a number or a string), else its position. */
static const char *id_of(xml_t *x, json_object *e, int pos, const char *field)
{
    json_object *v = member(e, "id");
    if (!v)
        return apr_itoa(x->p, pos);
    if (json_object_is_type(v, json_type_int))
        return apr_psprintf(x->p, "%" APR_INT64_T_FMT, (apr_int64_t)json_object_get_int64(v));
    return str_member(x, e, "id", field);
}

/* <text> elements: the binding's "text" array (strings, or {content, id}), else the
 * defaults given (NULLs skipped). */
static void texts(xml_t *x, json_object *binding, const char *const *defaults, int ndefaults,
                  const char *field)
{
    json_object *arr = member(binding, "text");
    const char *f = apr_pstrcat(x->p, field, ".text", NULL);
    int pos = 0;
    if (!arr) {
        for (int i = 0; i < ndefaults; i++)
            if (defaults[i]) {
                put(x, apr_psprintf(x->p, "<text id=\"%d\">", ++pos));
                text(x, defaults[i], f);
                put(x, "</text>");
            }
        return;
    }
    if (json_object_is_type(arr, json_type_string)) {
        put(x, "<text id=\"1\">");
        text(x, json_object_get_string(arr), f);
        put(x, "</text>");
        return;
    }
    if (!json_object_is_type(arr, json_type_array)) {
        wrong(x, f);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        const char *content = NULL;
        if (e && json_object_is_type(e, json_type_string))
            content = json_object_get_string(e);
        else if (e && json_object_is_type(e, json_type_object))
            content = str_member(x, e, "content", f);
        else {
            wrong(x, f);
            return;
        }
        put(x, "<text");
        attr(x, "id", id_of(x, e, (int)i + 1, f), f);
        put(x, ">");
        text(x, content ? content : "", f);
        put(x, "</text>");
    }
}

/* <image> elements from the binding's "image" array (src strings, or {src, alt, id}). */
static void images(xml_t *x, json_object *binding, const char *field)
{
    json_object *arr = member(binding, "image");
    const char *f = apr_pstrcat(x->p, field, ".image", NULL);
    if (!arr)
        return;
    if (!json_object_is_type(arr, json_type_array)) {
        wrong(x, f);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        const char *src = NULL;
        if (e && json_object_is_type(e, json_type_string))
            src = json_object_get_string(e);
        else if (e && json_object_is_type(e, json_type_object))
            src = str_member(x, e, "src", f);
        else {
            wrong(x, f);
            return;
        }
        if (!src) {
            if (!x->error)
                x->error = apr_pstrcat(x->p, f, " needs a src", NULL);
            return;
        }
        put(x, "<image");
        attr(x, "id", id_of(x, e, (int)i + 1, f), f);
        attr(x, "src", src, f);
        if (json_object_is_type(e, json_type_object))
            attr(x, "alt", str_member(x, e, "alt", f), f);
        put(x, "/>");
    }
}

static void binding(xml_t *x, json_object *b, const char *template_default, const char *const *defaults,
                    int ndefaults, const char *field)
{
    const char *t = str_member(x, b, "template", field);
    if (b && !json_object_is_type(b, json_type_object)) {
        wrong(x, field);
        return;
    }
    put(x, "<binding");
    attr(x, "template", t ? t : template_default, field);
    put(x, ">");
    texts(x, b, defaults, ndefaults, field);
    images(x, b, field);
    put(x, "</binding>");
}

/* <visual> with its binding(s): settings' visual.binding (one, or an array for tiles of
 * several sizes), else one binding of the default template with the default texts. */
static void visual(xml_t *x, json_object *conf, const char *template_default, const char *const *defaults,
                   int ndefaults, const char *field)
{
    json_object *v = member(conf, "visual"), *b;
    const char *vf = apr_pstrcat(x->p, field, ".visual", NULL), *bf = apr_pstrcat(x->p, vf, ".binding", NULL);
    if (v && !json_object_is_type(v, json_type_object)) {
        wrong(x, vf);
        return;
    }
    put(x, "<visual");
    attr(x, "lang", str_member(x, v, "lang", vf), vf);
    put(x, ">");
    b = member(v, "binding");
    if (b && json_object_is_type(b, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(b); i++)
            binding(x, json_object_array_get_idx(b, i), template_default, defaults, ndefaults, bf);
    } else {
        binding(x, b, template_default, defaults, ndefaults, bf);
    }
    put(x, "</visual>");
}

static void toast(xml_t *x, json_object *conf, const char *alert)
{
    const char *f = "settings.wns.toast", *dur = str_member(x, conf, "duration", f);
    const char *defaults[2];
    json_object *audio = member(conf, "audio");
    defaults[0] = str_member(x, conf, "title", f);
    defaults[1] = str_member(x, conf, "text", f);
    if (!defaults[1])
        defaults[1] = alert;
    if (!member(member(member(conf, "visual"), "binding"), "text") && !defaults[0] && !defaults[1] && !x->error)
        x->error = "the message has no alert and settings.wns.toast no text to show";
    if (dur && strcmp(dur, "short") != 0 && strcmp(dur, "long") != 0)
        wrong(x, "settings.wns.toast.duration");
    put(x, "<toast");
    attr(x, "launch", str_member(x, conf, "launch", f), f);
    attr(x, "duration", dur, f);
    put(x, ">");
    visual(x, conf, "ToastGeneric", defaults, 2, f);
    if (audio) {
        const char *af = "settings.wns.toast.audio";
        if (!json_object_is_type(audio, json_type_object)) {
            wrong(x, af);
            return;
        }
        put(x, "<audio");
        attr(x, "src", str_member(x, audio, "src", af), af);
        attr(x, "loop", bool_member(x, audio, "loop", af), af);
        attr(x, "silent", bool_member(x, audio, "silent", af), af);
        put(x, "/>");
    }
    put(x, "</toast>");
}

static void tile(xml_t *x, json_object *conf, const char *alert)
{
    const char *f = "settings.wns.tile", *defaults[2];
    defaults[0] = str_member(x, conf, "title", f);
    defaults[1] = str_member(x, conf, "text", f);
    if (!defaults[1])
        defaults[1] = alert;
    put(x, "<tile>");
    visual(x, conf, "TileMedium", defaults, 2, f);
    put(x, "</tile>");
}

static void badge(xml_t *x, json_object *conf)
{
    json_object *v = member(conf, "value"), *ver = member(conf, "version");
    const char *value = NULL;
    if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
        value = apr_psprintf(x->p, "%" APR_INT64_T_FMT, (apr_int64_t)json_object_get_int64(v));
    } else if (v && json_object_is_type(v, json_type_string) &&
               push_wns_badge_text_ok(json_object_get_string(v))) {
        value = json_object_get_string(v);
    }
    if (!value) {
        if (!x->error)
            x->error = "settings.wns.badge.value must be a number from 0 or a badge glyph name";
        return;
    }
    put(x, "<badge");
    attr(x, "value", value, "settings.wns.badge.value");
    if (ver) {
        if (json_object_is_type(ver, json_type_int) || json_object_is_type(ver, json_type_string))
            attr(x, "version", json_object_get_string(ver), "settings.wns.badge.version");
        else
            wrong(x, "settings.wns.badge.version");
    }
    put(x, "/>");
}

int push_wns_map(apr_pool_t *p, json_object *msg, push_wns_request_t *out, const char **error)
{
    json_object *settings = member(member(msg, "settings"), "wns"), *v;
    json_object *message = member(msg, "message");
    xml_t x = {p, apr_array_make(p, 32, sizeof(const char *)), NULL};
    const char *alert, *collapse;

    memset(out, 0, sizeof(*out));
    out->ttl = -1;
    if (settings && !json_object_is_type(settings, json_type_object))
        return *error = "settings.wns has the wrong type", 0;
    alert = str_member(&x, message, "alert", "message");
    collapse = str_member(&x, msg, "collapseKey", "collapseKey");
    out->content_type = "text/xml";
    if ((v = member(settings, "raw"))) {
        json_object *payload = member(v, "payload");
        out->type = "wns/raw";
        out->content_type = "application/octet-stream";
        if (!json_object_is_type(v, json_type_object) || !payload)
            return *error = "settings.wns.raw needs a payload", 0;
        put(&x, json_object_is_type(payload, json_type_string)
                    ? json_object_get_string(payload)
                    : json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
        collapse = NULL;   /* WNS tags toasts and tiles only */
    } else if ((v = member(settings, "tile"))) {
        out->type = "wns/tile";
        if (!json_object_is_type(v, json_type_object))
            return *error = "settings.wns.tile has the wrong type", 0;
        tile(&x, v, alert);
    } else if ((v = member(settings, "badge"))) {
        out->type = "wns/badge";
        if (!json_object_is_type(v, json_type_object))
            return *error = "settings.wns.badge has the wrong type", 0;
        badge(&x, v);
        collapse = NULL;
    } else {
        v = member(settings, "toast");
        out->type = "wns/toast";
        if (v && !json_object_is_type(v, json_type_object))
            return *error = "settings.wns.toast has the wrong type", 0;
        toast(&x, v, alert);
    }
    if ((v = member(settings, "expirationTime"))) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
            return *error = "settings.wns.expirationTime must be a number of seconds", 0;
        out->ttl = json_object_get_int64(v);
    }
    if ((v = member(settings, "cachePolicy"))) {
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (json_object_is_type(v, json_type_boolean))
            out->cache_policy = json_object_get_boolean(v) ? "cache" : "no-cache";
        else if (s && (strcmp(s, "cache") == 0 || strcmp(s, "no-cache") == 0))
            out->cache_policy = apr_pstrdup(p, s);
        else
            return *error = "settings.wns.cachePolicy must be true, false, \"cache\" or \"no-cache\"", 0;
    }
    if (x.error)
        return *error = x.error, 0;
    if (collapse) {
        for (const char *c = collapse; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
                return *error = "the collapse key holds characters a header cannot carry", 0;
        if (strlen(collapse) > PUSH_WNS_MAX_TAG)
            return *error = apr_psprintf(p, "the collapse key is %" APR_SIZE_T_FMT " characters, more than "
                                         "the %d WNS allows for a tag", strlen(collapse), PUSH_WNS_MAX_TAG), 0;
        out->tag = apr_pstrdup(p, collapse);
    }
    out->body = apr_array_pstrcat(p, x.parts, 0);
    out->body_len = strlen(out->body);
    if (out->body_len > PUSH_WNS_MAX_PAYLOAD)
        return *error = apr_psprintf(p, "the WNS payload is %" APR_SIZE_T_FMT " bytes, more than the %d "
                                     "WNS allows", out->body_len, PUSH_WNS_MAX_PAYLOAD), 0;
    return 1;
}

/* --- channel URIs -------------------------------------------------------------------- */

/* Whether host (a literal address) and port are a destination PushEgressAllow names. */
static int exempt(const char *host, int port, const struct push_egress *g)
{
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    memset(&in, 0, sizeof(in));
    memset(&in6, 0, sizeof(in6));
    if (inet_pton(AF_INET, host, &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        in.sin_port = htons((unsigned short)port);
        return push_egress_exempt((struct sockaddr *)&in, g);
    }
    if (inet_pton(AF_INET6, host, &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons((unsigned short)port);
        return push_egress_exempt((struct sockaddr *)&in6, g);
    }
    return 0;
}

const char *push_wns_channel_problem(apr_pool_t *p, const char *uri, const struct push_egress *g)
{
    apr_uri_t u;
    const char *why = push_egress_url_problem(p, uri, g);
    char *host;
    apr_size_t n, k = strlen(PUSH_WNS_HOST_SUFFIX);
    int https;

    if (why)
        return why;
    if (apr_uri_parse(p, uri, &u) != APR_SUCCESS || !u.hostname)
        return "not a URL";
    https = strcasecmp(u.scheme, "https") == 0;
    host = apr_pstrdup(p, u.hostname);
    if (exempt(host, u.port_str ? u.port : (https ? 443 : 80), g))
        return NULL;
    if (!https)
        return "a WNS channel URI must be https";
    for (char *c = host; *c; c++)
        *c = (char)apr_tolower(*c);
    n = strlen(host);
    while (n > 0 && host[n - 1] == '.')
        host[--n] = '\0';
    if (n <= k || strcmp(host + n - k, PUSH_WNS_HOST_SUFFIX) != 0)
        return "a WNS channel URI's host must be under notify.windows.com";
    return NULL;
}

int push_wns_tenant_ok(const char *s)
{
    apr_size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-' ||
        strstr(s, ".."))
        return 0;
    for (const char *c = s; *c; c++)
        if (!apr_isalnum(*c) && *c != '-' && *c != '.')
            return 0;
    return 1;
}

/* --- answers ------------------------------------------------------------------------- */

static void decide(push_outcome_t *o, push_outcome_kind_t kind, const char *reason)
{
    memset(o, 0, sizeof(*o));
    o->kind = kind;
    o->reason = reason;
    o->retry_after = -1;
}

void push_classify_wns(apr_pool_t *p, long status, const char *wns_status, const char *retry_after,
                       const char *transport, push_outcome_t *o)
{
    int throttled = wns_status && strcasecmp(wns_status, "channelthrottled") == 0;
    if (status == 0)
        decide(o, PUSH_OUT_RETRY, transport && *transport ? apr_pstrdup(p, transport) : "no answer");
    else if (throttled)
        decide(o, PUSH_OUT_RETRY, "channel throttled");
    else if (status == 200)
        decide(o, PUSH_OUT_SENT, "HTTP 200");
    else if (status == 401)
        decide(o, PUSH_OUT_CREDENTIALS, PUSH_WNS_UNAUTHORIZED);
    else if (status == 403)
        decide(o, PUSH_OUT_CREDENTIALS, "HTTP 403 (not authorized for this channel)");
    else if (status == 404)
        decide(o, PUSH_OUT_DEVICE_GONE, "HTTP 404 (channel not found)");
    else if (status == 410)
        decide(o, PUSH_OUT_DEVICE_GONE, "HTTP 410 (channel expired)");
    else if (status == 406)
        decide(o, PUSH_OUT_RETRY, "HTTP 406 (throttled)");
    else if (status == 413)
        decide(o, PUSH_OUT_MESSAGE_BAD, "HTTP 413 (payload too large)");
    else if (status == 429 || status >= 500)
        decide(o, PUSH_OUT_RETRY, apr_psprintf(p, "HTTP %ld", status));
    else
        decide(o, PUSH_OUT_MESSAGE_BAD, apr_psprintf(p, "HTTP %ld", status));
    if (o->kind == PUSH_OUT_RETRY)
        o->retry_after = push_retry_after(retry_after, apr_time_now());
}
