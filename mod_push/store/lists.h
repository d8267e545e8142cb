/* The lists of the MobileFirst dialect, and the record each page's items hold. */
#ifndef PUSH_LISTS_H
#define PUSH_LISTS_H

#include "store/list.h"

extern const push_list_spec_t push_list_devices;        /* push_mf_device_t */
extern const push_list_spec_t push_list_tags;           /* push_tag_t */
extern const push_list_spec_t push_list_tags_counted;   /* push_tag_t with subscriptions */
extern const push_list_spec_t push_list_subscriptions;  /* push_subscription_t */
extern const push_list_spec_t push_list_applications;   /* push_app_t; no scope parameter */
/* the same, of the ids matching a regular expression (the scope parameter) */
extern const push_list_spec_t push_list_applications_matching;
extern const push_list_spec_t push_list_webhooks;       /* push_webhook_t */

#endif
