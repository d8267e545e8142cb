/* multipart/form-data request bodies (RFC 7578 on top of RFC 2046), for uploads such
 * as the APNs .p12 certificate of MobileFirst's PUT .../settings/apnsConf. The body is
 * already in memory; parts point into it, so binary file data keeps every byte.
 *
 * Strict on purpose: lines end with CRLF, a delimiter is CRLF "--" boundary at the
 * start of a line followed only by spaces or tabs and CRLF (or "--" to close), and a
 * line in a part that starts with the boundary but is no delimiter is refused rather
 * than guessed at. The boundary text elsewhere (not after CRLF) is plain data.
 * Error messages are ASCII and never repeat the client's bytes: they name the part by
 * its position. */
#ifndef PUSH_MULTIPART_H
#define PUSH_MULTIPART_H

#include <apr_pools.h>
#include <apr_tables.h>

#define PUSH_MULTIPART_MAX_BOUNDARY 70    /* RFC 2046 */
#define PUSH_MULTIPART_MAX_HEADERS  8192  /* bytes of one part's header block */
#define PUSH_MULTIPART_MAX_PARTS    32

typedef struct {
    const char *name;          /* the name parameter of Content-Disposition, not empty */
    const char *filename;      /* the filename parameter (may be ""), or NULL */
    const char *content_type;  /* the part's Content-Type value, trimmed, or NULL */
    const unsigned char *data; /* into the body: no copy, not NUL-terminated */
    apr_size_t len;
} push_multipart_part_t;

/* The boundary of a request Content-Type "multipart/form-data; boundary=..." (value
 * quoted or not, 1..70 characters RFC 2046 allows, not ending in a space). The media
 * type is matched case-insensitively; other parameters are ignored. Returns NULL and
 * sets *error when the type is another one or the boundary is missing or invalid. */
const char *push_multipart_boundary(apr_pool_t *p, const char *content_type,
                                    const char **error);

/* Splits body (len bytes) into an array of push_multipart_part_t, in body order, at
 * least one (RFC 2046). Returns NULL and sets *error when the first or the closing
 * delimiter is missing, the body has no part, a line ends without CRLF, a
 * part's headers exceed PUSH_MULTIPART_MAX_HEADERS bytes, there are more than
 * PUSH_MULTIPART_MAX_PARTS parts, or a part lacks "Content-Disposition: form-data"
 * with a non-empty name. Header names are case-insensitive; name and filename may be
 * quoted (where \" and \\ are escapes and any other backslash is literal, as old
 * browsers sent Windows paths) or bare tokens. Folded header lines, duplicate
 * Content-Disposition or Content-Type headers, and a Content-Transfer-Encoding other
 * than 7bit, 8bit or binary are refused. The preamble and epilogue are ignored. */
apr_array_header_t *push_multipart_parse(apr_pool_t *p, const unsigned char *body,
                                         apr_size_t len, const char *boundary,
                                         const char **error);

/* The first part with this name (compared byte for byte), or NULL. */
const push_multipart_part_t *push_multipart_get(const apr_array_header_t *parts,
                                                 const char *name);

#endif
