/* The dialects: one handler per URL family. Each translates its own request and
 * error formats to and from the core; none holds SQL or business rules. */
#ifndef PUSH_API_H
#define PUSH_API_H

#include "httpd.h"

int push_layer_handler(request_rec *r);
int push_navixy_handler(request_rec *r);
int push_oauth_handler(request_rec *r);
int push_rocketchat_handler(request_rec *r);
int push_mobilefirst_handler(request_rec *r);
/* api/metrics.c: SetHandler push-metrics, and mod_push's section of mod_status. */
int push_metrics_handler(request_rec *r);
/* Maps the metrics' shared memory (made once per httpd); post_config, before the sender forks. */
int push_metrics_setup(server_rec *s);
void push_metrics_register_hooks(void);

#endif
