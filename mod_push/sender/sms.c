/* SMS through the tenant's HTTP gateway (MobileFirst smsConf): one GET, or a form POST
 * when smsConf says "method": "POST", to http(s)://host:port/programName with the
 * configured parameters, the phone number as "to" and the text (message.alert) as
 * "text". The gateway is tenant input: its URL is checked by the egress guard when the
 * credential is opened and the address connected to on every request. 2xx is sent;
 * other answers are classified as webhooks' are (push_classify_http) and retried like
 * every channel. Nothing the gateway answers is kept: the outcome is the HTTP status. */
#include "sender/provider.h"
#include "sender/sms.h"

#include <apr_strings.h>

#include "sender/egress.h"


typedef struct {
    const char *url;        /* without the query */
    const char *fixed;      /* the configured parameters, encoded: "a=b&c=d", or "" */
    int post;
} sms_cred_t;

static const char *str_at(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

/* A host name or an IP literal: what may stand between "://" and ":port". */
static int host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253)
        return 0;
    if (h[0] == '[')
        return n > 2 && h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
    if (strchr(h, ':'))   /* IPv6 without brackets */
        return strspn(h, "0123456789abcdefABCDEF:.") == n;
    return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

/* A path: printable ASCII without a space, query, fragment or backslash. */
static int path_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '?' || *s == '#' || *s == '\\')
            return 0;
    return 1;
}

const char *push_sms_gateway_url(apr_pool_t *p, json_object *conf, const char **why)
{
    const char *host = str_at(conf, "host"), *path = str_at(conf, "programName");
    json_object *v;
    int https = 0, port;

    if (json_object_object_get_ex(conf, "https", &v) && v) {
        if (!json_object_is_type(v, json_type_boolean))
            return *why = "https", NULL;
        https = json_object_get_boolean(v);
    }
    port = https ? 443 : 80;
    if (json_object_object_get_ex(conf, "port", &v) && v) {
        port = json_object_get_int(v);
        if (port < 1 || port > 65535)
            return *why = "port", NULL;
    }
    if (!host || !host_ok(host))
        return *why = "host", NULL;
    if (!path)
        path = "/";
    if (!path_ok(path) || strlen(path) > 1024)
        return *why = "programName", NULL;
    return apr_psprintf(p, "%s://%s%s%s:%d%s%s", https ? "https" : "http",
                        strchr(host, ':') && host[0] != '[' ? "[" : "", host,
                        strchr(host, ':') && host[0] != '[' ? "]" : "", port, path[0] == '/' ? "" : "/", path);
}

int push_sms_raw_value_ok(const char *v)
{
    for (; *v; v++)
        if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f || *v == '#' || *v == '&')
            return 0;
    return 1;
}

static const char *escaped(apr_pool_t *p, CURL *easy, const char *s)
{
    char *e = curl_easy_escape(easy, s, 0);
    const char *out = e ? apr_pstrdup(p, e) : NULL;
    curl_free(e);
    return out;
}

/* The configured parameters, each name=value (the value encoded unless encode is false,
 * when it must already be fit for a query), joined with '&'. */
static const char *fixed_params(apr_pool_t *p, CURL *easy, json_object *params, const char **error)
{
    const char *out = "";
    for (size_t i = 0; params && i < json_object_array_length(params); i++) {
        json_object *o = json_object_array_get_idx(params, i), *enc = NULL;
        const char *name = str_at(o, "name"), *value = str_at(o, "value"), *n, *v;
        int encode = 1;
        if (!name)
            return *error = "an SMS gateway parameter has no name", NULL;
        if (json_object_object_get_ex(o, "encode", &enc) && enc)
            encode = json_object_is_type(enc, json_type_string) ? strcmp(json_object_get_string(enc), "false") != 0
                                                                : json_object_get_boolean(enc);
        if (!value && json_object_object_get_ex(o, "value", &enc) && enc)
            value = json_object_get_string(enc);   /* a number or a boolean, as JSON writes it */
        if (!value)
            value = "";
        if (!encode && !push_sms_raw_value_ok(value))
            return *error = apr_pstrcat(p, "the SMS gateway parameter ", name, " is not encoded but needs to be",
                                        NULL), NULL;
        if (!(n = escaped(p, easy, name)) || !(v = encode ? escaped(p, easy, value) : value))
            return *error = "libcurl could not encode the SMS gateway parameters", NULL;
        out = apr_pstrcat(p, out, *out ? "&" : "", n, "=", v, NULL);
    }
    return out;
}

static const char *sms_cred_open(push_sender_t *sd, push_cred_t *cr)
{
    sms_cred_t *s = apr_pcalloc(cr->pool, sizeof(*s));
    const char *why = NULL, *problem, *method = str_at(cr->config, "method"), *err = NULL;
    json_object *params = NULL, *sealed = NULL;
    CURL *easy;

    cr->state = s;
    cr->bearer_kind = PUSH_BEARER_NONE;
    if (!(s->url = push_sms_gateway_url(cr->pool, cr->config, &why)))
        return apr_pstrcat(cr->pool, "the SMS gateway's ", why, " is not usable", NULL);
    if ((problem = push_egress_url_problem(cr->pool, s->url, sd->c->egress))) {
        SLOG(sd, APLOG_WARNING, "PUSH0661", "sender: the SMS gateway of %s is refused by the egress guard: %s",
             cr->app_id, problem);
        return PUSH_EGRESS_REFUSED;
    }
    s->post = method && strcasecmp(method, "POST") == 0;
    /* the parameters with their values are the sealed part; settings stored before it was
     * sealed keep them in the shown one */
    if (cr->secret && *cr->secret) {
        sealed = json_tokener_parse(cr->secret);
        if (!json_object_is_type(sealed, json_type_array)) {
            json_object_put(sealed);
            return "the SMS gateway's sealed parameters are not a JSON array";
        }
        params = sealed;
    } else {
        json_object_object_get_ex(cr->config, "parameters", &params);
    }
    if (!(easy = curl_easy_init())) {
        json_object_put(sealed);
        return "libcurl";
    }
    s->fixed = fixed_params(cr->pool, easy, params, &err);
    curl_easy_cleanup(easy);
    json_object_put(sealed);
    return s->fixed ? NULL : err;
}

/* message.alert: the text of every SMS of the message. */
static const char *sms_text(const push_msg_t *m)
{
    json_object *msg;
    return json_object_object_get_ex(m->body, "message", &msg) ? str_at(msg, "alert") : NULL;
}

static int sms_build(push_sender_t *sd, apr_pool_t *p, push_req_t *rq)
{
    sms_cred_t *s = rq->cr->state;
    const char *text = sms_text(rq->m), *to, *body;

    if (!text || !*text)
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, "the message has no text for an SMS"), 0;
    if (!*rq->token)
        return push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, "the device has no phone number"), 0;
    if (!(to = escaped(p, rq->easy, rq->token)) || !(text = escaped(p, rq->easy, text)))
        return push_req_decide(rq, PUSH_OUT_RETRY, "libcurl"), 0;
    body = apr_pstrcat(p, s->fixed, *s->fixed ? "&" : "", PUSH_SMS_TO "=", to, "&" PUSH_SMS_TEXT "=", text, NULL);
    push_curl_common(sd, rq->easy, s->post ? s->url : apr_pstrcat(p, s->url, "?", body, NULL), 0);
    push_egress_attach(rq->easy, sd->c->egress, &rq->refused);
    if (s->post) {
        rq->headers = curl_slist_append(NULL, "content-type: application/x-www-form-urlencoded");
        curl_easy_setopt(rq->easy, CURLOPT_COPYPOSTFIELDS, body);
    }
    return 1;
}

static void sms_classify(push_sender_t *sd, apr_pool_t *p, push_req_t *rq, long status, CURLcode rc)
{
    /* refused is set when any address was; it is the reason only when none could be used */
    if (rq->refused && (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_COULDNT_CONNECT)) {
        SLOG(sd, APLOG_WARNING, "PUSH0661", "sender: the SMS gateway of %s is refused by the egress guard: "
             "its host is an internal address", rq->app);
        push_req_decide(rq, PUSH_OUT_MESSAGE_BAD, PUSH_EGRESS_REFUSED);
        return;
    }
    push_classify_http(p, status, rq->retry_after, &rq->out);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        rq->out.reason = "timed out";
}

/* slot 4: an SMS maps nothing per message (2 and 3 are left to WNS and Web Push) */
const push_provider_t push_provider_sms = {
    "sms", 4, sms_cred_open, NULL, NULL, NULL, sms_build, sms_classify, 1,
};
