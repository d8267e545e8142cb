/* Lower-case hex, the one encoder of the module: token hashes, key ids, bytea text and
 * webhook signatures all print bytes with it. */
#ifndef PUSH_HEX_H
#define PUSH_HEX_H

#include <apr_pools.h>

/* n bytes as 2n hex digits and a NUL, written to out (2n + 1 bytes). */
void push_hex_into(char *out, const unsigned char *in, apr_size_t n);

/* The same, allocated in p. */
char *push_hex(apr_pool_t *p, const unsigned char *in, apr_size_t n);

#endif
