/* The list specifications of the MobileFirst dialect (column orders: statements.h). */
#ifndef PUSH_LISTS_H
#define PUSH_LISTS_H

#include "store/list.h"

extern const push_list_spec_t push_list_devices;
extern const push_list_spec_t push_list_tags;
extern const push_list_spec_t push_list_tags_counted;  /* + the subscription count */
extern const push_list_spec_t push_list_subscriptions;
extern const push_list_spec_t push_list_applications;
extern const push_list_spec_t push_list_webhooks;  /* scope has no parameter */

#endif
