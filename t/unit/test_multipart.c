/* The multipart/form-data parser: the body curl sends for the APNs certificate upload,
 * binary data kept byte for byte, the boundary in Content-Type, and every way a body is
 * refused. */
#include <apr_general.h>
#include <apr_strings.h>
#include <stdlib.h>

#include "core/multipart.h"
#include "unit.h"

static apr_pool_t *pool;

/* curl 7.88's boundary for one upload; the delimiter lines carry two more dashes. */
#define CURL_BOUNDARY "------------------------619c1523a8496643"
#define CURL_TYPE "multipart/form-data; boundary=" CURL_BOUNDARY
#define B "XyZ"  /* a short boundary for hand-written bodies */

/* A .p12 look-alike with every byte that could confuse a parser: NULs, bare CR, bare
 * LF, CRLF, "--" at line starts, and the boundary itself not preceded by CRLF. It ends
 * with CRLF, which is data: only the CRLF before the delimiter belongs to it. */
static const unsigned char cert[] =
    "0\x82\x00\x01\r\n--\r\n--not\n--x\r\r\n\x00--\xff\xfe"
    "\n--" CURL_BOUNDARY "\r\n"
    "x--" CURL_BOUNDARY "--\r\n"
    "\r--" CURL_BOUNDARY "\r\n"
    "\x00\r\n";
#define CERT_LEN (sizeof(cert) - 1)

typedef struct {
    unsigned char *b;
    apr_size_t len;
} buf_t;

static void put(buf_t *b, const void *s, apr_size_t n)
{
    unsigned char *grown = apr_palloc(pool, b->len + n + 1);
    if (b->len)
        memcpy(grown, b->b, b->len);
    memcpy(grown + b->len, s, n);
    b->b = grown;
    b->len += n;
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* The bytes of curl -F certificate=@cert.p12 -F password=x -F isSandBox=true, as
 * captured from curl 7.88.1. */
static buf_t curl_body(void)
{
    buf_t b = {NULL, 0};
    puts_(&b, "--" CURL_BOUNDARY "\r\n"
              "Content-Disposition: form-data; name=\"certificate\"; filename=\"cert.p12\"\r\n"
              "Content-Type: application/octet-stream\r\n"
              "\r\n");
    put(&b, cert, CERT_LEN);
    puts_(&b, "\r\n--" CURL_BOUNDARY "\r\n"
              "Content-Disposition: form-data; name=\"password\"\r\n"
              "\r\n"
              "x\r\n"
              "--" CURL_BOUNDARY "\r\n"
              "Content-Disposition: form-data; name=\"isSandBox\"\r\n"
              "\r\n"
              "true\r\n"
              "--" CURL_BOUNDARY "--\r\n");
    return b;
}

static const char *last_error;

static apr_array_header_t *parse_n(const void *body, apr_size_t len, const char *boundary)
{
    return push_multipart_parse(pool, body, len, boundary, &last_error);
}

#define PARSE(lit) parse_n(lit, sizeof(lit) - 1, B)

/* Printable ASCII, and none of the client's words that the bodies below use. */
static int clean(const char *err)
{
    if (!err || !*err)
        return 0;
    for (const char *s = err; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return !strstr(err, B) && !strstr(err, "619c15") && !strstr(err, "secret");
}

/* Refused with a clean message that mentions part (or any message when part is ""). */
static int refused_n(const void *body, apr_size_t len, const char *part)
{
    return parse_n(body, len, B) == NULL && clean(last_error) && strstr(last_error, part);
}

#define REFUSED(lit, part) refused_n(lit, sizeof(lit) - 1, part)

static const push_multipart_part_t *nth(const apr_array_header_t *parts, int i)
{
    return &APR_ARRAY_IDX(parts, i, push_multipart_part_t);
}

static int data_is(const push_multipart_part_t *part, const char *want)
{
    return part && part->len == strlen(want) && memcmp(part->data, want, part->len) == 0;
}

static int str_is(const char *got, const char *want)
{
    return got && strcmp(got, want) == 0;
}

/* The boundary of ct, or NULL; the message goes to last_error. */
static const char *boundary(const char *ct)
{
    return push_multipart_boundary(pool, ct, &last_error);
}

static int boundary_refused(const char *ct, const char *part)
{
    return boundary(ct) == NULL && clean(last_error) && strstr(last_error, part);
}

/* n parts named f0, f1, ... each holding "v". */
static buf_t many(int n)
{
    buf_t b = {NULL, 0};
    for (int i = 0; i < n; i++)
        puts_(&b, apr_psprintf(pool, "--" B "\r\nContent-Disposition: form-data; "
                               "name=f%d\r\n\r\nv\r\n", i));
    puts_(&b, "--" B "--\r\n");
    return b;
}

/* One part whose header block is exactly size bytes, padded in an X-Pad header. */
static buf_t header_block(apr_size_t size)
{
    const char *cd = "Content-Disposition: form-data; name=a\r\n";
    const char *pad = "X-Pad: ";
    apr_size_t fill = size - strlen(cd) - strlen(pad) - 2 - 2;
    buf_t b = {NULL, 0};
    char *x = apr_palloc(pool, fill);

    memset(x, 'p', fill);
    puts_(&b, "--" B "\r\n");
    puts_(&b, cd);
    puts_(&b, pad);
    put(&b, x, fill);
    puts_(&b, "\r\n\r\nv\r\n--" B "--\r\n");
    return b;
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    /* the boundary in Content-Type */
    CHECK(str_is(boundary(CURL_TYPE), CURL_BOUNDARY), "curl's unquoted boundary");
    CHECK(str_is(boundary("multipart/form-data; boundary=\"----WebKitFormBoundary7MA4\""),
                 "----WebKitFormBoundary7MA4"), "a quoted boundary");
    CHECK(str_is(boundary("multipart/form-data; boundary=\"a b:c/d=e?(f)\""), "a b:c/d=e?(f)"),
          "a quoted boundary with space and the other non-token bchars");
    CHECK(str_is(boundary("Multipart/Form-Data;BOUNDARY=abc"), "abc"),
          "the type and parameter names are case-insensitive, no space is needed");
    CHECK(str_is(boundary("  multipart/form-data ; charset=utf-8;; boundary=abc ;"), "abc"),
          "other parameters, spaces and empty list elements are allowed");
    CHECK(str_is(boundary("multipart/form-data; boundary=AbC"), "AbC"),
          "the boundary value keeps its case");
    {
        char ct[128], *want;
        strcpy(ct, "multipart/form-data; boundary=");
        want = ct + strlen(ct);
        memset(want, 'b', PUSH_MULTIPART_MAX_BOUNDARY);
        want[PUSH_MULTIPART_MAX_BOUNDARY] = '\0';
        CHECK(str_is(boundary(ct), want), "a 70-character boundary is accepted");
        strcat(ct, "b");
        CHECK(boundary_refused(ct, "longer than 70"), "a 71-character boundary is refused");
    }
    CHECK(boundary_refused(NULL, "no Content-Type"), "no Content-Type is refused");
    CHECK(boundary_refused("application/json", "not multipart/form-data"),
          "another media type is refused");
    CHECK(boundary_refused("multipart/mixed; boundary=abc", "not multipart/form-data"),
          "multipart/mixed is refused");
    CHECK(boundary_refused("multipart/form-data", "no boundary"), "a missing boundary");
    CHECK(boundary_refused("multipart/form-data; charset=utf-8", "no boundary"),
          "only other parameters");
    CHECK(boundary_refused("multipart/form-data; boundary=\"\"", "empty"),
          "an empty quoted boundary is refused");
    CHECK(boundary_refused("multipart/form-data; boundary=", "malformed"),
          "an empty bare boundary is refused");
    CHECK(boundary_refused("multipart/form-data; boundary=\"secret \"", "space"),
          "a boundary ending in a space is refused");
    CHECK(boundary_refused("multipart/form-data; boundary=\"secret@\"", "RFC 2046"),
          "a boundary with a character outside bchars is refused");
    CHECK(boundary_refused("multipart/form-data; boundary=\"secret", "not closed"),
          "an unclosed quote is refused");
    CHECK(boundary_refused("multipart/form-data; boundary=a; boundary=b", "more than one"),
          "two boundaries are refused");
    CHECK(boundary_refused("multipart/form-data; boundary = abc", "malformed"),
          "spaces around = are refused");
    CHECK(boundary_refused("multipart/form-data; boundary=a/b", "malformed"),
          "a bare boundary must be a token");
    CHECK(boundary_refused("multipart/form-data x", "separated by ';'"),
          "text after the media type is refused");
    CHECK(boundary_refused("multipart/form-data; boundary=\"a\x01\"", "control character"),
          "a control character in a quoted value is refused");
    CHECK(push_multipart_boundary(pool, "text/plain", NULL) == NULL,
          "a NULL error pointer is allowed");

    /* what curl sends */
    {
        buf_t b = curl_body();
        const char *bd = boundary(CURL_TYPE);
        apr_array_header_t *parts = bd ? parse_n(b.b, b.len, bd) : NULL;
        const push_multipart_part_t *c, *pw, *sb;

        CHECK(parts && parts->nelts == 3, "curl's three parts");
        c = push_multipart_get(parts, "certificate");
        pw = push_multipart_get(parts, "password");
        sb = push_multipart_get(parts, "isSandBox");
        CHECK(c && c == nth(parts, 0) && str_is(c->filename, "cert.p12") &&
              str_is(c->content_type, "application/octet-stream"),
              "the certificate part has its file name and type");
        CHECK(c && c->len == CERT_LEN && memcmp(c->data, cert, CERT_LEN) == 0,
              "the binary file is kept byte for byte (NUL, CR, LF, --, the boundary "
              "without CRLF before it, a trailing CRLF)");
        CHECK(c && c->data >= b.b && c->data + c->len <= b.b + b.len,
              "the data points into the body");
        CHECK(pw && data_is(pw, "x") && !pw->filename && !pw->content_type,
              "password is a plain field");
        CHECK(sb && data_is(sb, "true") && sb == nth(parts, 2), "isSandBox is true");
        CHECK(push_multipart_get(parts, "Password") == NULL, "get compares names exactly");
        CHECK(push_multipart_get(parts, "nope") == NULL, "get of an absent name is NULL");
        CHECK(push_multipart_get(NULL, "x") == NULL, "get on no parts is NULL");

        CHECK(parse_n(b.b, b.len, CURL_BOUNDARY "0") == NULL && clean(last_error),
              "a longer boundary than the body's finds no delimiter");
        CHECK(parse_n(b.b, b.len, "------------------------619c1523a849664") == NULL,
              "a shorter boundary is a prefix of every delimiter line, which is refused");
        CHECK(parse_n(b.b, b.len - 2, CURL_BOUNDARY) != NULL,
              "the closing delimiter needs no CRLF after it");
        CHECK(parse_n(b.b, b.len - 3, CURL_BOUNDARY) == NULL && clean(last_error) &&
              strstr(last_error, "without the closing"), "a cut closing delimiter is missing");
        CHECK(parse_n(b.b, 40, CURL_BOUNDARY) == NULL && clean(last_error),
              "a body cut inside the first delimiter");
        CHECK(parse_n(b.b, 200, CURL_BOUNDARY) == NULL && clean(last_error) &&
              strstr(last_error, "inside part 1"), "a body cut inside the file");
        {
            /* Each prefix in a buffer of its own size, so ASan sees any over-read. */
            int all = 1;
            for (apr_size_t n = 0; n < b.len - 2 && all; n++) {
                unsigned char *cut = malloc(n ? n : 1);
                memcpy(cut, b.b, n);
                all = parse_n(cut, n, CURL_BOUNDARY) == NULL && clean(last_error);
                free(cut);
            }
            CHECK(all, "every shorter prefix of curl's body is refused cleanly");
        }
    }

    /* preamble, epilogue, padding */
    {
        apr_array_header_t *parts =
            PARSE("preamble --" B " text\r\nmore\r\n--" B "\r\n"
                  "Content-Disposition: form-data; name=a\r\n\r\nv\r\n"
                  "--" B "--\r\nepilogue\r\n--" B "\r\nnot a part");
        CHECK(parts && parts->nelts == 1 && data_is(nth(parts, 0), "v"),
              "the preamble and the epilogue are ignored");
    }
    {
        apr_array_header_t *parts =
            PARSE("--" B " \t\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n"
                  "--" B "-- \t");
        CHECK(parts && parts->nelts == 1 && data_is(nth(parts, 0), "v"),
              "spaces and tabs may follow a delimiter");
    }
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n"
                  "--" B "--epilogue", "closing delimiter"),
          "text right after the closing delimiter is refused");

    /* the boundary text that is not a delimiter */
    {
        apr_array_header_t *parts =
            PARSE("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                  "a--" B "\r\n\n--" B "--\r\nx--" B "\r\n\r--" B "\r\n-" B "\r\n"
                  "--" B "--\r\n");
        CHECK(parts && parts->nelts == 1 &&
              data_is(nth(parts, 0),
                      "a--" B "\r\n\n--" B "--\r\nx--" B "\r\n\r--" B "\r\n-" B),
              "the boundary text is data unless CRLF comes right before it");
    }
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                  "v\r\n--" B "x\r\n--" B "--\r\n", "not a delimiter"),
          "a data line that starts with the boundary is refused");
    CHECK(REFUSED("--" B "x\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                  "v\r\n--" B "--\r\n", "not a delimiter"),
          "a first line that starts with the boundary is refused");

    /* empty parts */
    {
        apr_array_header_t *parts =
            PARSE("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
                  "--" B "\r\nContent-Disposition: form-data; name=b; filename=\"\"\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n\r\n--" B "--\r\n");
        CHECK(parts && parts->nelts == 2 && nth(parts, 0)->len == 0 &&
              nth(parts, 1)->len == 0 && str_is(nth(parts, 1)->filename, ""),
              "empty fields and an empty file (no file chosen) are accepted");
    }
    {
        apr_array_header_t *parts =
            PARSE("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                  "--" B "\r\nContent-Disposition: form-data; name=b\r\n\r\nv\r\n--" B "--");
        CHECK(parts && parts->nelts == 2 && nth(parts, 0)->len == 0 &&
              data_is(nth(parts, 1), "v"),
              "a part without a body section (RFC 2046 allows it) is empty");
    }
    CHECK(REFUSED("--" B "--\r\n", "no part"),
          "a body of only the closing delimiter is refused (RFC 2046 wants one part)");
    {
        apr_array_header_t *parts = PARSE("--" B "\r\nContent-Disposition: form-data; "
                                          "name=a\r\n\r\n\r\n\r\n--" B "--");
        CHECK(parts && data_is(nth(parts, 0), "\r\n"), "a CRLF alone is data");
    }

    /* header syntax */
    {
        apr_array_header_t *parts =
            PARSE("--" B "\r\ncontent-disposition: Form-Data; NAME=\"a\"; FileName=f.p12\r\n"
                  "CONTENT-TYPE:application/x-pkcs12  \r\nX-Other: ignored\r\n\r\nv\r\n"
                  "--" B "--\r\n");
        const push_multipart_part_t *a = parts ? push_multipart_get(parts, "a") : NULL;
        CHECK(a && str_is(a->filename, "f.p12") && str_is(a->content_type,
              "application/x-pkcs12"), "header and parameter names are case-insensitive, "
              "bare values and values without space are accepted, unknown headers ignored");
    }
    {
        apr_array_header_t *parts =
            PARSE("--" B "\r\nContent-Disposition: form-data;name=\"a \\\"q\\\" ;b\";"
                  "filename=\"C:\\dir\\x.p12\";filename*=UTF-8''x\r\n\r\nv\r\n--" B "--");
        CHECK(parts && str_is(nth(parts, 0)->name, "a \"q\" ;b"),
              "a quoted name with escaped quotes and a semicolon");
        CHECK(parts && str_is(nth(parts, 0)->filename, "C:\\dir\\x.p12"),
              "a backslash before other characters is literal; filename* is ignored");
    }
    {
        apr_array_header_t *parts =
            PARSE("--" B "\r\nContent-Disposition: form-data; name=\"caf\xc3\xa9\"\r\n"
                  "Content-Transfer-Encoding: binary\r\n\r\nv\r\n--" B "--");
        CHECK(parts && str_is(nth(parts, 0)->name, "caf\xc3\xa9"),
              "UTF-8 names; Content-Transfer-Encoding binary is accepted");
    }
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\ndg==\r\n--" B "--",
                  "Content-Transfer-Encoding"), "a base64 part is refused");
    CHECK(REFUSED("--" B "\r\nContent-Type: text/plain\r\n\r\nv\r\n--" B "--",
                  "part 1 has no Content-Disposition"), "a part without Content-Disposition");
    CHECK(REFUSED("--" B "\r\n\r\nv\r\n--" B "--", "no Content-Disposition"),
          "a part without headers");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--" B
                  "\r\nContent-Disposition: form-data; filename=\"secret\"\r\n\r\nv\r\n"
                  "--" B "--", "part 2 has no name"), "a part without a name");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n--" B "--",
                  "empty name"), "an empty name");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--" B "--",
                  "not form-data"), "a disposition other than form-data");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: name=a\r\n\r\nv\r\n--" B "--",
                  "not form-data"), "a disposition without a type");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n"
                  "--" B "--", "more than one name"), "two names");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a; filename=x; "
                  "filename=y\r\n\r\nv\r\n--" B "--", "more than one filename"),
          "two file names");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n"
                  "content-disposition: form-data; name=b\r\n\r\nv\r\n--" B "--",
                  "more than one Content-Disposition"), "two Content-Disposition headers");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\nContent-Type: a/b\r\n"
                  "Content-Type: c/d\r\n\r\nv\r\n--" B "--", "more than one Content-Type"),
          "two Content-Type headers");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\nContent-Type: \r\n"
                  "\r\nv\r\n--" B "--", "empty Content-Type"), "an empty Content-Type");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=\"secret\r\n\r\nv\r\n"
                  "--" B "--", "not closed"), "an unclosed quoted name");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=secret name\r\n\r\nv\r\n"
                  "--" B "--", "malformed"), "a bare name with a space");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=\r\n\r\nv\r\n--" B "--",
                  "malformed"), "a bare empty name");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nv\r\n--" B "--",
                  "line 2 of part 1 is folded"), "a folded header line");
    CHECK(REFUSED("--" B "\r\nContent-Disposition : form-data; name=a\r\n\r\nv\r\n--" B "--",
                  "Name: value"), "a space before the colon");
    CHECK(REFUSED("--" B "\r\nsecret\r\n\r\nv\r\n--" B "--", "Name: value"),
          "a header line without a colon");
    CHECK(REFUSED("--" B "\r\n: x\r\n\r\nv\r\n--" B "--", "Name: value"),
          "a header without a name");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\nX: a\x00z\r\n\r\nv\r\n"
                  "--" B "--", "control character"), "a NUL in a header");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\nX: a\rz\r\n\r\nv\r\n"
                  "--" B "--", "CR that does not end"), "a bare CR in a header");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n--" B "--\r\n",
                  "not ended by an empty line"), "headers followed by the delimiter");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n", "inside the headers"),
          "a body that ends inside the headers");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r", "inside the headers"),
          "a body that ends on a CR inside the headers");

    /* line ends */
    CHECK(REFUSED("--" B "\nContent-Disposition: form-data; name=a\n\nv\n--" B "--\n",
                  "bare LF"), "an LF-only body is refused");
    CHECK(REFUSED("preamble\n--" B "\nContent-Disposition: form-data; name=a\n\nv\n--" B "--\n",
                  "bare LF"), "an LF-only body with a preamble is refused");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\n\r\nv\r\n--" B "--\r\n",
                  "line 1 of part 1 ends with a bare LF"), "an LF-only header line");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--" B "\n"
                  "Content-Disposition: form-data; name=b\r\n\r\nv\r\n--" B "--\r\n",
                  "bare LF"), "an LF-only delimiter line");

    /* missing delimiters */
    CHECK(REFUSED("", "no first delimiter"), "an empty body");
    CHECK(parse_n(NULL, 0, B) == NULL && clean(last_error), "a NULL body");
    CHECK(REFUSED("Content-Disposition: form-data; name=a\r\n\r\nv\r\n--" B "--\r\n",
                  "no part"), "no first delimiter: the closing one is not taken for it");
    CHECK(REFUSED("just text", "no first delimiter"), "a body without delimiters");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n",
                  "without the closing delimiter"), "no closing delimiter");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--" B "\r\n",
                  "ends after a delimiter line"), "a last delimiter that does not close");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--" B,
                  "ends after a delimiter line"), "a body that stops at the boundary");
    CHECK(REFUSED("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv--" B "--",
                  "without the closing delimiter"),
          "a closing delimiter without CRLF before it");

    /* limits */
    {
        buf_t b = many(PUSH_MULTIPART_MAX_PARTS);
        apr_array_header_t *parts = parse_n(b.b, b.len, B);
        CHECK(parts && parts->nelts == PUSH_MULTIPART_MAX_PARTS &&
              str_is(nth(parts, 31)->name, "f31") && data_is(nth(parts, 31), "v"),
              "32 parts are accepted");
        b = many(PUSH_MULTIPART_MAX_PARTS + 1);
        CHECK(refused_n(b.b, b.len, "more than 32 parts"), "33 parts are refused");
    }
    {
        buf_t b = header_block(PUSH_MULTIPART_MAX_HEADERS);
        apr_array_header_t *parts = parse_n(b.b, b.len, B);
        CHECK(parts && parts->nelts == 1 && data_is(nth(parts, 0), "v"),
              "a header block of exactly 8192 bytes is accepted");
        b = header_block(PUSH_MULTIPART_MAX_HEADERS + 1);
        CHECK(refused_n(b.b, b.len, "longer than 8192"),
              "a header block of 8193 bytes is refused");
    }
    {
        buf_t b = {NULL, 0};
        char *junk = apr_palloc(pool, 20000);
        memset(junk, 'j', 20000);
        puts_(&b, "--" B "\r\n");
        put(&b, junk, 20000);
        CHECK(refused_n(b.b, b.len, "longer than 8192"),
              "a header line that never ends is refused at the limit");
    }

    /* the boundary given to the parser */
    {
        const char *in = "--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\n"
                         "\r\n--" B "--";
        CHECK(push_multipart_parse(pool, (const unsigned char *)in, 5, NULL, &last_error) ==
              NULL && clean(last_error), "a NULL boundary is refused");
        CHECK(push_multipart_parse(pool, (const unsigned char *)in, 5, "", &last_error) ==
              NULL && clean(last_error), "an empty boundary is refused");
        CHECK(push_multipart_parse(pool, (const unsigned char *)in, 5, "a\r\nb", NULL) == NULL,
              "a boundary with CRLF is refused, a NULL error pointer is allowed");
        CHECK(push_multipart_parse(pool, (const unsigned char *)in, strlen(in), B, &last_error)
              && last_error == NULL, "success clears the error");
    }

    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
