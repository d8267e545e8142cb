#include "http_util.h"

#include "apr_strings.h"
#include "http_core.h"
#include "http_protocol.h"
#include "util_filter.h"

#include "config.h"
#include "core/messages.h"
#include "core/validate.h"
#include "log.h"

typedef struct {
    push_body_t rv;
    char *buf;
    apr_size_t len;
} body_t;

static push_body_t read_body(request_rec *r, char **buf, apr_size_t *len);

/* httpd's HTTP_IN filter answers a broken body itself (bad chunk framing, a chunk over
 * LimitRequestBody): it sends an error bucket down the output filters, where HTTP_HEADER turns it into an HTML page. While mod_push reads a
 * body this filter, ahead of HTTP_HEADER, takes the error bucket (and the EOS after it)
 * off instead, so that the dialect answers in its own format. */
static ap_filter_rec_t *body_error_filter;

static apr_status_t take_body_error(ap_filter_t *f, apr_bucket_brigade *bb)
{
    int *status = f->ctx;
    for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b))
        if (AP_BUCKET_IS_ERROR(b)) {
            *status = ((ap_bucket_error *)b->data)->status;
            apr_brigade_cleanup(bb);
            /* ap_pass_brigade marked the response ended when it saw the EOS that came
             * with the error; it never got further, and the dialect's answer follows */
            f->r->eos_sent = 0;
            return APR_SUCCESS;
        }
    return ap_pass_brigade(f->next, bb);
}

void push_http_util_register(void)
{
    body_error_filter = ap_register_output_filter("PUSH_BODY_ERROR", take_body_error, NULL,
                                                  AP_FTYPE_CONTENT_SET);
}

push_body_t push_read_body(request_rec *r, char **buf, apr_size_t *len)
{
    body_t *b = NULL;
    apr_pool_userdata_get((void **)&b, "push-body", r->pool);
    if (!b) {
        b = apr_palloc(r->pool, sizeof(*b));
        b->rv = read_body(r, &b->buf, &b->len);
        apr_pool_userdata_setn(b, "push-body", NULL, r->pool);
    }
    *buf = b->buf;
    *len = b->len;
    return b->rv;
}

void push_read_body_early(request_rec *r)
{
    char *buf;
    apr_size_t len;
    (void)push_read_body(r, &buf, &len);
}

apr_off_t push_body_limit(request_rec *r)
{
    apr_off_t limit = push_conf_max_body(r), core = ap_get_limit_req_body(r);
    return core > 0 && core < limit ? core : limit;
}

static push_body_t read_body(request_rec *r, char **buf, apr_size_t *len)
{
    const apr_off_t limit = push_conf_max_body(r);
    apr_bucket_brigade *bb;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_size_t cap, used = 0;
    char *out;
    int seen_eos = 0;

    *buf = NULL;
    *len = 0;
    if (cl) {
        apr_off_t n;
        if (apr_strtoff(&n, cl, NULL, 10) != APR_SUCCESS || n < 0)
            return PUSH_BODY_READ_ERROR;
        if (n > limit) {
            /* refuse without reading: the connection cannot be reused */
            r->connection->keepalive = AP_CONN_CLOSE;
            return PUSH_BODY_TOO_LARGE;
        }
        cap = (apr_size_t)n;
    } else {
        cap = 1024;
    }
    out = apr_palloc(r->pool, cap + 1);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!seen_eos) {
        int refused = 0;
        ap_filter_t *catcher = ap_add_output_filter_handle(body_error_filter, &refused, r, r->connection);
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, HUGE_STRING_LEN);
        ap_remove_output_filter(catcher);
        if (refused) {
            apr_brigade_cleanup(bb);
            r->connection->keepalive = AP_CONN_CLOSE;
            return refused == HTTP_REQUEST_ENTITY_TOO_LARGE ? PUSH_BODY_TOO_LARGE : PUSH_BODY_READ_ERROR;
        }
        if (rv != APR_SUCCESS) {
            r->connection->keepalive = AP_CONN_CLOSE;
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST) == HTTP_REQUEST_ENTITY_TOO_LARGE
                       ? PUSH_BODY_TOO_LARGE : PUSH_BODY_READ_ERROR;
        }
        for (apr_bucket *b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb);
             b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS)
                return PUSH_BODY_READ_ERROR;
            if ((apr_off_t)(used + n) > limit) {
                r->connection->keepalive = AP_CONN_CLOSE;
                return PUSH_BODY_TOO_LARGE;
            }
            if (used + n > cap) {
                char *bigger;
                while (used + n > cap)
                    cap *= 2;
                bigger = apr_palloc(r->pool, cap + 1);
                memcpy(bigger, out, used);
                out = bigger;
            }
            memcpy(out + used, data, n);
            used += n;
        }
        apr_brigade_cleanup(bb);
    }
    out[used] = '\0';
    *buf = out;
    *len = used;
    return PUSH_BODY_OK;
}

static apr_status_t json_release(void *obj)
{
    json_object_put(obj);
    return APR_SUCCESS;
}

json_object *push_json_pool_own(apr_pool_t *p, json_object *obj)
{
    if (obj)
        apr_pool_cleanup_register(p, obj, json_release, apr_pool_cleanup_null);
    return obj;
}

push_body_t push_parse_json(request_rec *r, const char *buf, apr_size_t len, json_object **out)
{
    json_tokener *tok;
    json_object *obj;
    enum json_tokener_error jerr;
    apr_size_t parsed;

    *out = NULL;
    if (!push_valid_utf8(buf, len))
        return memchr(buf, '\0', len) ? PUSH_BODY_NOT_JSON : PUSH_BODY_BAD_UTF8;
    tok = json_tokener_new_ex(32);
    if (!tok)
        return PUSH_BODY_READ_ERROR;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    obj = json_tokener_parse_ex(tok, buf, (int)len);
    jerr = json_tokener_get_error(tok);
    parsed = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success || !obj) {
        json_object_put(obj);
        return PUSH_BODY_NOT_JSON;
    }
    push_json_pool_own(r->pool, obj);
    for (; parsed < len; parsed++)
        if (!strchr(" \t\r\n", buf[parsed]))
            return PUSH_BODY_NOT_JSON;
    if (push_json_text_has_nul(buf, len)) {
        const char *where = push_json_nul_path(r->pool, obj);
        apr_table_setn(r->notes, "push-bad-property", where ? where : "(a property name)");
        apr_table_setn(r->notes, "push-bad-reason", "must not hold a NUL character");
        return PUSH_BODY_UNSTORABLE;
    }
    {
        const char *where = push_json_number_path(r->pool, obj);
        if (where) {
            apr_table_setn(r->notes, "push-bad-property", where);
            apr_table_setn(r->notes, "push-bad-reason", "must be a finite number within 64 bits");
            return PUSH_BODY_UNSTORABLE;
        }
    }
    *out = obj;
    return PUSH_BODY_OK;
}

const char *push_body_bad_property(request_rec *r)
{
    const char *where = apr_table_get(r->notes, "push-bad-property");
    return where ? where : "(a property name)";
}

const char *push_body_bad_reason(request_rec *r)
{
    const char *why = apr_table_get(r->notes, "push-bad-reason");
    return why ? why : "must not hold a NUL character";
}

const char *push_public_url(request_rec *r, const char *path)
{
    const char *base = push_conf_public_url(r->server), *scheme, *host;
    apr_port_t port, dflt;
    if (base)
        return apr_pstrcat(r->pool, base, path, NULL);
    /* ap_construct_url would do, but with UseCanonicalName Off (the default) it names the
     * host the client asked for: the server's own name and port instead, the local port
     * when the configuration gives none */
    scheme = ap_run_http_scheme(r);
    if (!scheme)
        scheme = "http";
    dflt = ap_run_default_port(r);
    port = r->server->port ? r->server->port
                           : (r->connection->local_addr ? r->connection->local_addr->port : dflt);
    host = r->server->server_hostname ? r->server->server_hostname : "localhost";
    if (strchr(host, ':') && host[0] != '[')
        host = apr_pstrcat(r->pool, "[", host, "]", NULL);   /* an IPv6 literal */
    if (port == dflt)
        return apr_pstrcat(r->pool, scheme, "://", host, path, NULL);
    return apr_psprintf(r->pool, "%s://%s:%u%s", scheme, host, (unsigned)port, path);
}

push_body_t push_parse_json_object(request_rec *r, const char *buf, apr_size_t len,
                                   json_object **out)
{
    push_body_t rv = push_parse_json(r, buf, len, out);
    if (rv == PUSH_BODY_OK && !json_object_is_type(*out, json_type_object)) {
        *out = NULL;
        return PUSH_BODY_NOT_OBJECT;
    }
    return rv;
}

push_body_t push_parse_form(apr_pool_t *p, const char *s, apr_size_t len, apr_table_t *t)
{
    char *copy = apr_pstrmemdup(p, s, len), *state = NULL, *pair;
    for (pair = apr_strtok(copy, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '=');
        char *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
        }
        if (ap_unescape_urlencoded(pair) != OK || ap_unescape_urlencoded(val) != OK)
            return PUSH_BODY_NOT_JSON;
        if (!push_valid_utf8(pair, strlen(pair)) || !push_valid_utf8(val, strlen(val)))
            return PUSH_BODY_BAD_UTF8;
        if (*pair)
            apr_table_addn(t, pair, val); /* repeated names stay: MobileFirst's filter */
    }
    return PUSH_BODY_OK;
}

const char *push_content_type(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    char *type, *semi;
    if (!ct)
        return "";
    type = apr_pstrdup(r->pool, ct);
    if ((semi = strchr(type, ';')) != NULL)
        *semi = '\0';
    ap_str_tolower(type);
    apr_collapse_spaces(type, type); /* returns the end, not the start */
    return type;
}

int push_json_string(json_object *obj, const char *key, const char **s, apr_size_t *len)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *s = json_object_get_string(v);
    *len = (apr_size_t)json_object_get_string_len(v);
    return 1;
}

int push_send_json(request_rec *r, int status, const char *content_type, json_object *obj)
{
    size_t n = 0;
    const char *text = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    r->status = status;
    ap_set_content_type(r, content_type ? content_type : "application/json");
    ap_set_content_length(r, (apr_off_t)n);
    if (!r->header_only)
        ap_rwrite(text, (int)n, r);
    json_object_put(obj);
    return OK;
}

int push_send_empty(request_rec *r, int status)
{
    r->status = status;
    ap_set_content_length(r, 0);
    return OK;
}

push_body_t push_read_json(request_rec *r, json_type type, json_object **out)
{
    char *buf;
    apr_size_t len;
    push_body_t rv = push_read_body(r, &buf, &len);
    *out = NULL;
    if (rv != PUSH_BODY_OK)
        return rv;
    if ((rv = push_parse_json(r, buf, len, out)) != PUSH_BODY_OK)
        return rv;
    if (!json_object_is_type(*out, type)) {
        *out = NULL;
        return PUSH_BODY_NOT_OBJECT;
    }
    return PUSH_BODY_OK;
}

push_body_t push_read_form(request_rec *r, apr_table_t *form)
{
    char *buf;
    apr_size_t len;
    push_body_t rv = push_read_body(r, &buf, &len);
    if (rv != PUSH_BODY_OK)
        return rv;
    if (memchr(buf, '\0', len))
        return PUSH_BODY_NOT_JSON;
    return push_parse_form(r->pool, buf, len, form);
}
