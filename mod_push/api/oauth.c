/* The OAuth 2 token endpoint (RFC 6749 §4.4, client credentials), as MobileFirst's
 * confidential clients call it: POST /mfp/api/az/v1/token with HTTP Basic. */
#include "api/api.h"

#include "apr_base64.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "http_protocol.h"

#include "config.h"
#include "service/oauth.h"
#include "core/scope.h"
#include "core/validate.h"
#include "http_util.h"
#include "log.h"

/* RFC 6749 §5.2 error answers. */
static int oauth_error(request_rec *r, int status, const char *error, const char *description)
{
    json_object *body = json_object_new_object();
    json_object_object_add(body, "error", json_object_new_string(error));
    if (description)
        json_object_object_add(body, "error_description", json_object_new_string(description));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "Pragma", "no-cache");
    if (status == HTTP_UNAUTHORIZED)
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", "Basic realm=\"push\"");
    return push_send_json(r, status, NULL, body);
}

/* client_id and secret from Authorization: Basic (RFC 6749 §2.3.1, form-encoded parts). */
static int basic_credentials(request_rec *r, const char **id, const char **secret)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    char *decoded, *colon;
    int n;
    if (!h || strncasecmp(h, "Basic", 5) != 0 || !apr_isspace(h[5]))
        return 0;
    for (h += 5; apr_isspace(*h); h++)
        ;
    decoded = apr_palloc(r->pool, apr_base64_decode_len(h) + 1);
    n = apr_base64_decode(decoded, h);
    decoded[n < 0 ? 0 : n] = '\0';
    if (n <= 0 || (int)strlen(decoded) != n || !(colon = strchr(decoded, ':')))
        return -1;
    *colon = '\0';
    if (ap_unescape_urlencoded(decoded) != OK || ap_unescape_urlencoded(colon + 1) != OK)
        return -1;
    *id = decoded;
    *secret = colon + 1;
    return 1;
}

int push_oauth_handler(request_rec *r)
{
    apr_table_t *form;
    const char *id = NULL, *secret = NULL, *grant, *scope;
    push_oauth_grant_t out;
    json_object *body;
    int basic;

    if (strcmp(r->handler, "push-oauth") != 0)
        return DECLINED;
    if (r->method_number != M_POST) {
        apr_table_setn(r->err_headers_out, "Allow", "POST");
        return oauth_error(r, HTTP_METHOD_NOT_ALLOWED, "invalid_request",
                           "the token endpoint takes POST");
    }
    if (strcmp(push_content_type(r), "application/x-www-form-urlencoded") != 0)
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                           "the body must be application/x-www-form-urlencoded");
    form = apr_table_make(r->pool, 8);
    switch (push_read_form(r, form)) {
    case PUSH_BODY_OK:
        break;
    case PUSH_BODY_TOO_LARGE:
        return oauth_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, "invalid_request", "the body is too large");
    case PUSH_BODY_READ_ERROR:
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request", "the body could not be read");
    default:
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request", "the body is not a valid form");
    }

    basic = basic_credentials(r, &id, &secret);
    if (basic < 0)
        return oauth_error(r, HTTP_UNAUTHORIZED, "invalid_client", "malformed Basic credentials");
    if (basic == 0) {
        /* RFC 6749 §2.3.1 allows the credentials in the body as well */
        id = apr_table_get(form, "client_id");
        secret = apr_table_get(form, "client_secret");
        if (!id || !secret)
            return oauth_error(r, HTTP_UNAUTHORIZED, "invalid_client",
                               "client authentication is required (HTTP Basic)");
    }
    /* the client id is looked up as text: bytes that are not UTF-8 name no client */
    if (!push_valid_utf8(id, strlen(id)) || !push_valid_utf8(secret, strlen(secret)))
        return oauth_error(r, HTTP_UNAUTHORIZED, "invalid_client", "unknown client or wrong secret");
    grant = apr_table_get(form, "grant_type");
    if (!grant || !*grant)
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_request", "grant_type is required");
    if (strcmp(grant, "client_credentials") != 0)
        return oauth_error(r, HTTP_BAD_REQUEST, "unsupported_grant_type",
                           "only client_credentials is supported");
    scope = apr_table_get(form, "scope");
    if (scope && *scope && !push_scope_list_valid(scope))
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_scope", "the scope is malformed");

    switch (push_oauth_issue(r, id, secret, scope, &out)) {
    case PUSH_OAUTH_OK:
        break;
    case PUSH_OAUTH_INVALID_CLIENT:
        PUSH_RLOG(APLOG_INFO, 0, r, "PUSH0301", "token refused: unknown client or wrong secret");
        return oauth_error(r, HTTP_UNAUTHORIZED, "invalid_client", "unknown client or wrong secret");
    case PUSH_OAUTH_INVALID_SCOPE:
        return oauth_error(r, HTTP_BAD_REQUEST, "invalid_scope",
                           "a requested scope is outside what the client may have");
    default:
        return oauth_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                           "the token store is unavailable; retry later");
    }
    body = json_object_new_object();
    json_object_object_add(body, "access_token", json_object_new_string(out.access_token));
    json_object_object_add(body, "token_type", json_object_new_string("Bearer"));
    json_object_object_add(body, "expires_in", json_object_new_int(out.expires_in));
    json_object_object_add(body, "scope", json_object_new_string(out.scope));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "Pragma", "no-cache");
    return push_send_json(r, HTTP_OK, NULL, body);
}
