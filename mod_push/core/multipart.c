#include "multipart.h"

#include <apr_strings.h>
#include <string.h>

#define DELIMITER_HINT "a line of \"--\" and the boundary from Content-Type"

static int ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 token characters. */
static int tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars. */
static int bchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

static int ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* s[0..n) equals lit, ASCII letters compared without case (no locale). */
static int ieq(const char *s, apr_size_t n, const char *lit)
{
    for (apr_size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)lit[i];
        if (b == '\0')
            return 0;
        if (a >= 'A' && a <= 'Z')
            a += 'a' - 'A';
        if (b >= 'A' && b <= 'Z')
            b += 'a' - 'A';
        if (a != b)
            return 0;
    }
    return lit[n] == '\0';
}

static const char *check_boundary(const char *b)
{
    apr_size_t n;

    if (!b)
        return "no multipart boundary was given";
    n = strlen(b);
    if (n == 0)
        return "the multipart boundary is empty";
    if (n > PUSH_MULTIPART_MAX_BOUNDARY)
        return "the multipart boundary is longer than 70 characters";
    for (apr_size_t i = 0; i < n; i++)
        if (!bchar((unsigned char)b[i]))
            return "the multipart boundary has a character RFC 2046 does not allow (it "
                   "allows letters, digits, space and '()+_,-./:=?)";
    if (b[n - 1] == ' ')
        return "the multipart boundary ends with a space";
    return NULL;
}

/* The next parameter of a "; name=value" list at *at in s[0..len) (RFC 9110 rules,
 * which allow empty list elements). Returns NULL with *name NULL at the end of the
 * list, NULL with the parameter, or a phrase saying what is wrong. A quoted value is
 * unescaped into the pool; a bare value is a non-empty token. */
static const char *next_param(apr_pool_t *p, const char *s, apr_size_t len, apr_size_t *at,
                              const char **name, apr_size_t *nlen, const char **value)
{
    apr_size_t i = *at, n0, v0;

    *name = NULL;
    for (;;) {
        while (i < len && ws((unsigned char)s[i]))
            i++;
        if (i == len) {
            *at = i;
            return NULL;
        }
        if (s[i] != ';')
            return "parameters must be separated by ';'";
        i++;
        while (i < len && ws((unsigned char)s[i]))
            i++;
        if (i < len && s[i] != ';')
            break;
    }

    n0 = i;
    while (i < len && tchar((unsigned char)s[i]))
        i++;
    if (i == n0 || i == len || s[i] != '=')
        return "a parameter is not name=value";
    *name = s + n0;
    *nlen = i - n0;
    i++;

    if (i < len && s[i] == '"') {
        char *buf = apr_palloc(p, len - i), *w = buf;
        for (i++;; i++) {
            unsigned char c;
            if (i == len)
                return "a quoted string is not closed";
            c = (unsigned char)s[i];
            if (c == '"')
                break;
            /* Only \" and \\ are escapes: browsers once sent C:\path\file unescaped. */
            if (c == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
                c = (unsigned char)s[++i];
            else if (ctl(c))
                return "a quoted string contains a control character";
            *w++ = (char)c;
        }
        *w = '\0';
        *value = buf;
        *at = i + 1;
        return NULL;
    }
    v0 = i;
    while (i < len && tchar((unsigned char)s[i]))
        i++;
    if (i == v0)
        return "a parameter value is neither a token nor a quoted string";
    *value = apr_pstrmemdup(p, s + v0, i - v0);
    *at = i;
    return NULL;
}

/* A token at *at, or 0 bytes when there is none. */
static apr_size_t token(const char *s, apr_size_t len, apr_size_t *at)
{
    apr_size_t i = *at;
    while (i < len && tchar((unsigned char)s[i]))
        i++;
    len = i - *at;
    *at = i;
    return len;
}

const char *push_multipart_boundary(apr_pool_t *p, const char *content_type,
                                    const char **error)
{
    const char *s = content_type, *type, *subtype, *name, *value, *boundary = NULL, *err;
    const char *dummy;
    apr_size_t len, i = 0, tlen, slen, nlen;

    if (!error)
        error = &dummy;
    *error = NULL;
    if (!s) {
        *error = "the request has no Content-Type; send multipart/form-data";
        return NULL;
    }
    len = strlen(s);
    while (i < len && ws((unsigned char)s[i]))
        i++;
    type = s + i;
    tlen = token(s, len, &i);
    if (i < len && s[i] == '/')
        i++;
    else
        tlen = 0;
    subtype = s + i;
    slen = token(s, len, &i);
    if (!ieq(type, tlen, "multipart") || !ieq(subtype, slen, "form-data")) {
        *error = "the Content-Type is not multipart/form-data";
        return NULL;
    }
    for (;;) {
        if ((err = next_param(p, s, len, &i, &name, &nlen, &value)) != NULL) {
            *error = apr_pstrcat(p, "the Content-Type is malformed: ", err, NULL);
            return NULL;
        }
        if (!name)
            break;
        if (!ieq(name, nlen, "boundary"))
            continue;
        if (boundary) {
            *error = "the Content-Type has more than one boundary parameter";
            return NULL;
        }
        boundary = value;
    }
    if (!boundary) {
        *error = "the Content-Type multipart/form-data has no boundary parameter";
        return NULL;
    }
    if ((err = check_boundary(boundary)) != NULL) {
        *error = err;
        return NULL;
    }
    return boundary;
}

/* The first n-byte needle at or after from, as an offset in *at. */
static int find(const unsigned char *b, apr_size_t len, apr_size_t from, const char *needle,
                apr_size_t n, apr_size_t *at)
{
    while (from <= len && len - from >= n) {
        const unsigned char *hit = memchr(b + from, needle[0], len - from - n + 1);
        if (!hit)
            return 0;
        from = (apr_size_t)(hit - b);
        if (memcmp(hit, needle, n) == 0) {
            *at = from;
            return 1;
        }
        from++;
    }
    return 0;
}

static const char *disposition(apr_pool_t *p, const char *s, apr_size_t len, int n,
                               push_multipart_part_t *part)
{
    const char *name, *value, *err;
    apr_size_t i = 0, tlen, nlen;

    tlen = token(s, len, &i);
    if (!ieq(s, tlen, "form-data"))
        return apr_psprintf(p, "the Content-Disposition of part %d is not form-data", n);
    for (;;) {
        if ((err = next_param(p, s, len, &i, &name, &nlen, &value)) != NULL)
            return apr_psprintf(p, "the Content-Disposition of part %d is malformed: %s",
                                n, err);
        if (!name)
            return NULL;
        if (ieq(name, nlen, "name")) {
            if (part->name)
                return apr_psprintf(p, "the Content-Disposition of part %d has more than "
                                    "one name parameter", n);
            if (!*value)
                return apr_psprintf(p, "the Content-Disposition of part %d has an empty "
                                    "name", n);
            part->name = value;
        } else if (ieq(name, nlen, "filename")) {
            if (part->filename)
                return apr_psprintf(p, "the Content-Disposition of part %d has more than "
                                    "one filename parameter", n);
            part->filename = value;
        }
        /* Anything else (filename* included, which RFC 7578 forbids) is ignored. */
    }
}

/* The header block of part n, from *pos through its empty line. */
static const char *headers(apr_pool_t *p, const unsigned char *b, apr_size_t len,
                           apr_size_t *pos, const char *dash, apr_size_t dlen, int n,
                           push_multipart_part_t *part)
{
    apr_size_t start = *pos, i = *pos;
    int line = 0, seen_disposition = 0;

    for (;;) {
        apr_size_t s = i, e, k, v0, v1;
        const char *name, *err;

        line++;
        for (;; i++) {
            /* Every line still needs its CRLF: stop as soon as that cannot fit. */
            if (i - start + 2 > PUSH_MULTIPART_MAX_HEADERS)
                return apr_psprintf(p, "the headers of part %d are longer than %d bytes", n,
                                    PUSH_MULTIPART_MAX_HEADERS);
            if (i == len || (b[i] == '\r' && i + 1 == len))
                return apr_psprintf(p, "the body ends inside the headers of part %d", n);
            if (b[i] == '\r' && b[i + 1] == '\n')
                break;
            if (b[i] == '\r')
                return apr_psprintf(p, "header line %d of part %d has a CR that does not "
                                    "end the line", line, n);
            if (b[i] == '\n')
                return apr_psprintf(p, "header line %d of part %d ends with a bare LF; "
                                    "lines must end with CRLF", line, n);
        }
        e = i;
        i += 2;
        if (e == s)
            break;

        if (e - s >= dlen && memcmp(b + s, dash, dlen) == 0)
            return apr_psprintf(p, "the headers of part %d are not ended by an empty line",
                                n);
        if (ws(b[s]))
            return apr_psprintf(p, "header line %d of part %d is folded (starts with a space "
                                "or tab), which form-data does not allow", line, n);
        for (k = s; k < e && tchar(b[k]); k++)
            ;
        if (k == s || k == e || b[k] != ':')
            return apr_psprintf(p, "header line %d of part %d is not \"Name: value\"", line,
                                n);
        name = (const char *)b + s;
        for (v0 = k + 1; v0 < e && ws(b[v0]); v0++)
            ;
        for (v1 = e; v1 > v0 && ws(b[v1 - 1]); v1--)
            ;
        for (apr_size_t j = v0; j < v1; j++)
            if (ctl(b[j]))
                return apr_psprintf(p, "header line %d of part %d has a control character",
                                    line, n);

        if (ieq(name, k - s, "Content-Disposition")) {
            if (seen_disposition)
                return apr_psprintf(p, "part %d has more than one Content-Disposition "
                                    "header", n);
            seen_disposition = 1;
            err = disposition(p, (const char *)b + v0, v1 - v0, n, part);
            if (err)
                return err;
        } else if (ieq(name, k - s, "Content-Type")) {
            if (part->content_type)
                return apr_psprintf(p, "part %d has more than one Content-Type header", n);
            if (v1 == v0)
                return apr_psprintf(p, "part %d has an empty Content-Type", n);
            part->content_type = apr_pstrmemdup(p, (const char *)b + v0, v1 - v0);
        } else if (ieq(name, k - s, "Content-Transfer-Encoding")) {
            /* The data is handed over as sent: an encoded part would be misread. */
            const char *v = (const char *)b + v0;
            if (!ieq(v, v1 - v0, "binary") && !ieq(v, v1 - v0, "8bit") &&
                !ieq(v, v1 - v0, "7bit"))
                return apr_psprintf(p, "part %d has a Content-Transfer-Encoding other than "
                                    "binary, 8bit or 7bit; send the data unencoded", n);
        }
    }
    if (!seen_disposition)
        return apr_psprintf(p, "part %d has no Content-Disposition header", n);
    if (!part->name)
        return apr_psprintf(p, "the Content-Disposition of part %d has no name parameter",
                            n);
    *pos = i;
    return NULL;
}

static apr_array_header_t *fail(const char **error, const char *msg)
{
    *error = msg;
    return NULL;
}

apr_array_header_t *push_multipart_parse(apr_pool_t *p, const unsigned char *body,
                                         apr_size_t len, const char *boundary,
                                         const char **error)
{
    apr_array_header_t *parts;
    const char *delim, *dash, *err, *dummy;
    apr_size_t dlen, pos, at;

    if (!error)
        error = &dummy;
    *error = NULL;
    if ((err = check_boundary(boundary)) != NULL)
        return fail(error, err);
    if (!body)
        len = 0;
    /* A delimiter is CRLF "--" boundary; dash is the same without the CRLF. */
    delim = apr_pstrcat(p, "\r\n--", boundary, NULL);
    dash = delim + 2;
    dlen = strlen(dash);

    /* The first delimiter opens the body or ends the preamble. */
    if (len >= dlen && memcmp(body, dash, dlen) == 0)
        pos = 0;
    else if (find(body, len, 0, delim, dlen + 2, &at))
        pos = at + 2;
    else if (find(body, len, 0, apr_pstrcat(p, "\n", dash, NULL), dlen + 1, &at))
        return fail(error, "the body's lines end with a bare LF; multipart lines must end "
                           "with CRLF");
    else
        return fail(error, "the body has no first delimiter (" DELIMITER_HINT ")");

    parts = apr_array_make(p, 4, sizeof(push_multipart_part_t));
    for (;;) {
        push_multipart_part_t *part;
        int n;

        /* pos is at "--" boundary, which the caller matched in full. */
        pos += dlen;
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-') {
            for (pos += 2; pos < len && ws(body[pos]); pos++)
                ;
            if (pos != len && (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n'))
                return fail(error, "the closing delimiter is followed by something other "
                                   "than a line end");
            /* RFC 2046 wants at least one part; this also catches a missing first
             * delimiter, where the closing one would be taken for it. */
            if (parts->nelts == 0)
                return fail(error, "the body has no part: its first delimiter is already "
                                   "the closing one");
            return parts;
        }
        for (; pos < len && ws(body[pos]); pos++)
            ;
        /* Nothing after the line, or a lone "-" or CR: a cut closing delimiter. */
        if (pos == len || (len - pos == 1 && (body[pos] == '-' || body[pos] == '\r')) ||
            (len - pos == 2 && body[pos] == '\r' && body[pos + 1] == '\n'))
            return fail(error, "the body ends after a delimiter line, without the closing "
                               "delimiter (" DELIMITER_HINT " and \"--\")");
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n') {
            if (body[pos] == '\n')
                return fail(error, "a delimiter line ends with a bare LF; multipart lines "
                                   "must end with CRLF");
            return fail(error, "a line starts with the boundary but is not a delimiter; "
                               "the boundary must not begin any line of a part");
        }
        pos += 2;

        if (parts->nelts == PUSH_MULTIPART_MAX_PARTS)
            return fail(error, apr_psprintf(p, "the body has more than %d parts",
                                            PUSH_MULTIPART_MAX_PARTS));
        part = apr_array_push(parts);
        memset(part, 0, sizeof(*part));
        n = parts->nelts;
        if ((err = headers(p, body, len, &pos, dash, dlen, n, part)) != NULL)
            return fail(error, err);

        /* A part may have no body section at all: the CRLF that ended its headers was
         * then the start of the next delimiter. */
        if (len - pos >= dlen && memcmp(body + pos, dash, dlen) == 0) {
            part->data = body + pos;
            part->len = 0;
            continue;
        }
        /* RFC 2046 keeps the delimiter out of the data, so the first CRLF "--" boundary
         * ends this part, whatever bytes come before it. */
        if (!find(body, len, pos, delim, dlen + 2, &at))
            return fail(error, apr_psprintf(p, "the body ends inside part %d, without the "
                                            "closing delimiter (" DELIMITER_HINT " and "
                                            "\"--\")", n));
        part->data = body + pos;
        part->len = at - pos;
        pos = at + 2;
    }
}

const push_multipart_part_t *push_multipart_get(const apr_array_header_t *parts,
                                                 const char *name)
{
    if (!parts || !name)
        return NULL;
    for (int i = 0; i < parts->nelts; i++) {
        const push_multipart_part_t *part = &APR_ARRAY_IDX(parts, i, push_multipart_part_t);
        if (strcmp(part->name, name) == 0)
            return part;
    }
    return NULL;
}
