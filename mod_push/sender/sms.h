/* The SMS gateway of MobileFirst's smsConf, as far as the settings API and the sender
 * both need it: the gateway's address and the fixed parameters, checked the same way
 * when the settings are stored and when a credential is opened. */
#ifndef PUSH_SMS_H
#define PUSH_SMS_H

#include <apr_pools.h>
#include <json-c/json.h>

/* The parameter names that carry the phone number and the text (Kannel's sendsms). */
#define PUSH_SMS_TO   "to"
#define PUSH_SMS_TEXT "text"

/* The gateway's URL without a query, http(s)://host:port/programName, from an smsConf
 * object (host, port, programName, https), or NULL and *why names the property at fault
 * ("host", "port", "programName", "https"). The egress guard is not asked here. */
const char *push_sms_gateway_url(apr_pool_t *p, json_object *conf, const char **why);

/* Whether a parameter value sent as it is (encode false) is fit for a query: printable
 * ASCII, no space, '#' or '&' (it is one value, already encoded). */
int push_sms_raw_value_ok(const char *v);

#endif
