/* HTTP helpers shared by the dialects: the request body (read once, under
 * PushMaxBodySize, as bytes, JSON or a form), and JSON responses. Dialects decide what
 * to answer for each push_body_t; these only do I/O. */
#ifndef PUSH_HTTP_UTIL_H
#define PUSH_HTTP_UTIL_H

#include "httpd.h"
#include <json-c/json.h>

typedef enum {
    PUSH_BODY_OK = 0,
    PUSH_BODY_TOO_LARGE,   /* over PushMaxBodySize or LimitRequestBody */
    PUSH_BODY_READ_ERROR,  /* the client went away or sent broken chunking */
    PUSH_BODY_NOT_JSON,    /* not parseable JSON, or trailing bytes */
    PUSH_BODY_NOT_OBJECT,  /* valid JSON but not an object (not the type asked for) */
    PUSH_BODY_BAD_UTF8,    /* bytes that are not UTF-8 */
    PUSH_BODY_UNSTORABLE   /* JSON with a value that cannot be stored as sent: a NUL in a string,
                              a number not finite or beyond 64 bits (push_body_bad_property
                              names it, push_body_bad_reason says why) */
} push_body_t;

/* Registers the output filter that lets a dialect answer a body httpd's HTTP_IN filter
 * refuses (broken chunk framing, over LimitRequestBody) in its own format (register_hooks). */
void push_http_util_register(void);

/* Reads the whole request body (at most the location's PushMaxBodySize) into r->pool,
 * NUL-terminated. The body is read once: later calls answer what the first one found. */
push_body_t push_read_body(request_rec *r, char **buf, apr_size_t *len);

/* The most bytes a body may have here: PushMaxBodySize, or LimitRequestBody when smaller
 * (what PUSH_BODY_TOO_LARGE answers, for the error text). */
apr_off_t push_body_limit(request_rec *r);

/* Takes the body off the wire now, for a handler that needs the database before it
 * looks at the body: the request's pooled connection then never waits on a slow
 * client. What it finds is answered where the body is used (push_read_*). */
void push_read_body_early(request_rec *r);

/* Reads the body and parses it as one JSON value of type (json_type_object, an array
 * for bulk requests, ...); released with r->pool. */
push_body_t push_read_json(request_rec *r, json_type type, json_object **out);

/* Reads an application/x-www-form-urlencoded body into form (a NUL byte in it is
 * PUSH_BODY_NOT_JSON: malformed, like a bad escape). */
push_body_t push_read_form(request_rec *r, apr_table_t *form);

/* Parses buf as one JSON value of any type; released with r->pool. A string holding
 * U+0000 (which PostgreSQL can store neither as text nor in jsonb), or a number json-c does
 * not keep as written (NaN, Infinity, an integer beyond 64 bits, a double out of range),
 * is PUSH_BODY_UNSTORABLE. */
push_body_t push_parse_json(request_rec *r, const char *buf, apr_size_t len, json_object **out);

/* Parses buf as one JSON object; the object is released with r->pool. */
push_body_t push_parse_json_object(request_rec *r, const char *buf, apr_size_t len,
                                   json_object **out);

/* After PUSH_BODY_UNSTORABLE: the property that holds the value ("settings.apns.payload.k",
 * "[2].message.alert"), or "(a property name)". */
const char *push_body_bad_property(request_rec *r);

/* After PUSH_BODY_UNSTORABLE: what is wrong with it, to follow the property's name
 * ("must not hold a NUL character", "must be a finite number within 64 bits"). */
const char *push_body_bad_reason(request_rec *r);

/* An absolute URL of path on this server for the links answers carry (href, Location,
 * pageInfo): PushPublicURL when set, else the scheme, ServerName and port of the server
 * that answers. Never the request's Host header, whatever UseCanonicalName says. */
const char *push_public_url(request_rec *r, const char *path);

/* Parses application/x-www-form-urlencoded text (a body or r->args) into t.
 * Returns PUSH_BODY_BAD_UTF8 or PUSH_BODY_NOT_JSON (malformed escapes) on failure. */
push_body_t push_parse_form(apr_pool_t *p, const char *s, apr_size_t len, apr_table_t *t);

/* The request's media type, lower-cased, without parameters ("" when absent). */
const char *push_content_type(request_rec *r);

/* A string member of obj: 1 and *s, *len when present and a string, 0 when absent or
 * JSON null, -1 when present with another type. */
int push_json_string(json_object *obj, const char *key, const char **s, apr_size_t *len);

/* Gives obj to pool: json_object_put runs when the pool is cleared. */
json_object *push_json_pool_own(apr_pool_t *p, json_object *obj);

/* Answers status with obj serialized as the body (obj is released). Returns OK, the
 * value a handler returns after writing its own response. */
int push_send_json(request_rec *r, int status, const char *content_type, json_object *obj);

/* Answers status with no body. */
int push_send_empty(request_rec *r, int status);

#endif
