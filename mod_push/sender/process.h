/* Forking and watching the sender process (httpd glue). */
#ifndef PUSH_SENDER_PROCESS_H
#define PUSH_SENDER_PROCESS_H

#include "httpd.h"
#include "sender/sender.h"

/* Forks the sender; call from post_config (not on the dry pass). */
int push_sender_start(apr_pool_t *pconf, server_rec *s, push_sender_conf_t *conf);

#endif
