/* Forking and watching the sender process (httpd glue). */
#ifndef PUSH_SENDER_PROCESS_H
#define PUSH_SENDER_PROCESS_H

#include "httpd.h"
#include "sender/sender.h"

/* Forks the sender; call from post_config (not on the dry pass). */
int push_sender_start(apr_pool_t *pconf, server_rec *s, push_sender_conf_t *conf);

/* The monitor hook: kills a sender whose heartbeat stopped (PushSenderWatchdog). */
int push_sender_monitor(apr_pool_t *p, server_rec *s);

#endif
