/*
 * Keeps libcurl from resetting HTTP/2 streams that are already closed.
 *
 * libcurl before 8.0 (Debian 12's 7.88 among them) forgets, once a response has been read
 * to its end, that the stream was closed, and sends RST_STREAM (STREAM_CLOSED) for every
 * finished request; 8.0.0 no longer does (curl commit 544a7f8). configure builds this file
 * only for a libcurl older than 8.0 (PUSH_H2RESET; --enable-h2reset forces it).
 * The frame is harmless by itself, but HTTP/2 servers count incoming resets since the
 * "rapid reset" attack (CVE-2023-44487): nghttp2-based servers, Node among them, end
 * the connection with GOAWAY once about a thousand have arrived in a burst. A sender
 * that keeps hundreds of requests in flight then loses its connection every thousand
 * notifications, and the requests the server had taken but not yet answered come back
 * as failures, to be sent again.
 *
 * The sender process defines nghttp2_submit_rst_stream itself. libcurl's calls reach
 * this definition when mod_push is loaded before anything else that links libnghttp2
 * (mod_http2): the module comes first in the lookup scope of its own dependencies. A
 * reset is dropped only when all of these hold:
 *   - it is the sender process (httpd's children may use nghttp2 through mod_http2);
 *   - its code is STREAM_CLOSED, the code libcurl uses when it is done with a stream;
 *   - nghttp2 no longer knows the stream, i.e. the stream is closed: nghttp2 frees a
 *     client stream when it closes;
 *   - the stream is not a request still waiting to be sent. nghttp2 accepts stream user
 *     data for such a request (and only for it), so setting it to NULL tells the two
 *     apart; libcurl is done with the request and would clear it anyway. A waiting
 *     request is reset as asked: that is how nghttp2 cancels it.
 * Everything else goes to libnghttp2 unchanged. A libcurl without the bug never asks
 * to reset a closed stream, so the filter then has nothing to do (libcurl 8.14 with
 * --enable-h2reset: 0 dropped over t/sender_h2.t's 6,000 requests).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>

#include "sender/internal.h"

/* The few declarations of nghttp2's public API used here (nghttp2/nghttp2.h). */
typedef struct nghttp2_session nghttp2_session;
typedef struct nghttp2_stream nghttp2_stream;
#define PUSH_NGHTTP2_STREAM_CLOSED 0x5
#define PUSH_NGHTTP2_ERR_INVALID_STATE (-519)

typedef int (*rst_fn)(nghttp2_session *, uint8_t, int32_t, uint32_t);
typedef nghttp2_stream *(*find_fn)(nghttp2_session *, int32_t);
typedef int (*setud_fn)(nghttp2_session *, int32_t, void *);

static rst_fn real_rst;
static find_fn real_find;
static setud_fn real_setud;
static volatile apr_uint32_t filter_on;
static volatile apr_uint32_t dropped;

/* Resolved when the module is loaded, before any thread exists. */
__attribute__((constructor)) static void push_h2reset_resolve(void)
{
    real_rst = (rst_fn)dlsym(RTLD_NEXT, "nghttp2_submit_rst_stream");
    real_find = (find_fn)dlsym(RTLD_NEXT, "nghttp2_session_find_stream");
    real_setud = (setud_fn)dlsym(RTLD_NEXT, "nghttp2_session_set_stream_user_data");
}

__attribute__((visibility("default")))
int nghttp2_submit_rst_stream(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                              uint32_t error_code);

int nghttp2_submit_rst_stream(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                              uint32_t error_code)
{
    if (real_rst == NULL) {
        /* libnghttp2 arrived after mod_push (a libcurl without HTTP/2, and mod_http2
         * loaded later): its callers still reach the real function */
        real_rst = (rst_fn)dlsym(RTLD_NEXT, "nghttp2_submit_rst_stream");
        if (real_rst == NULL)
            return PUSH_NGHTTP2_ERR_INVALID_STATE;
    }
    if (apr_atomic_read32(&filter_on) && error_code == PUSH_NGHTTP2_STREAM_CLOSED
        && stream_id > 0 && real_find != NULL && real_setud != NULL
        && real_find(session, stream_id) == NULL
        && real_setud(session, stream_id, NULL) != 0) {
        apr_atomic_inc32(&dropped);
        return 0;
    }
    return real_rst(session, flags, stream_id, error_code);
}

int push_h2reset_enable(void)
{
    void *bound = dlsym(RTLD_DEFAULT, "nghttp2_submit_rst_stream");

    if (real_rst == NULL || real_find == NULL || real_setud == NULL)
        return 0;
    /* libcurl's calls were bound to the first definition in the global scope; if that
     * is libnghttp2's (loaded earlier by another module), the filter is never called. */
    if (bound != NULL && bound != (void *)nghttp2_submit_rst_stream)
        return 0;
    apr_atomic_set32(&filter_on, 1);
    return 1;
}

apr_uint32_t push_h2reset_dropped(void)
{
    return apr_atomic_read32(&dropped);
}
