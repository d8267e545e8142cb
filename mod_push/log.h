/* Logging through httpd's error log. APLOGNO numbers belong to httpd's own modules;
 * ours carry a PUSHnnnn tag, unique per message, so that operators can grep for it. */
#ifndef PUSH_LOG_H
#define PUSH_LOG_H

#include "httpd.h"
#include "http_log.h"

APLOG_USE_MODULE(push);

#define PUSH_RLOG(level, status, r, tag, ...) \
    ap_log_rerror(APLOG_MARK, (level), (status), (r), tag ": " __VA_ARGS__)
#define PUSH_SLOG(level, status, s, tag, ...) \
    ap_log_error(APLOG_MARK, (level), (status), (s), tag ": " __VA_ARGS__)

#endif
