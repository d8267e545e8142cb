/* Message catalogs for the MobileFirst error bodies {"code": "FPWSE....E", "message": ...},
 * and the Accept-Language negotiation that picks their language. The catalog is static
 * tables in i18n.c, one per language; en-US is the fallback for everything. */
#ifndef PUSH_I18N_H
#define PUSH_I18N_H

#include <apr_pools.h>

/* The language used when nothing better is asked for or known. */
#define PUSH_I18N_DEFAULT "en-US"

/* One key per message. Comments give the code and whether the text takes an argument. */
typedef enum {
    PUSH_MSG_RESOURCE_MISSING,    /* 0001, the resource */
    PUSH_MSG_APP_MISSING,         /* 0001 */
    PUSH_MSG_DEVICE_MISSING,      /* 0001, the deviceId */
    PUSH_MSG_TAG_MISSING,         /* 0001, the tag name */
    PUSH_MSG_WEBHOOK_MISSING,     /* 0001, the webhook name */
    PUSH_MSG_SETTINGS_MISSING,    /* 0001, the provider ("APNs", "GCM", "WNS", "SMS") */
    PUSH_MSG_ALREADY_EXISTS,      /* 0002, the resource */
    PUSH_MSG_PREREQ_MISSING,      /* 0003, the provider */
    PUSH_MSG_INVALID_JSON,        /* 0004 */
    PUSH_MSG_PROPERTY_INVALID,    /* 0005, the property */
    PUSH_MSG_UNKNOWN_PROPERTY,    /* 0006, the property */
    PUSH_MSG_UNKNOWN_QUERY_PARAM, /* 0007, the parameter */
    PUSH_MSG_QUERY_PARAM_MISSING, /* 0008, the parameter */
    PUSH_MSG_NO_DEVICES,          /* 0009 */
    PUSH_MSG_INTERNAL,            /* 0010 */
    PUSH_MSG_SUBSCRIPTION_EXISTS, /* 0011 */
    PUSH_MSG_SUBSCRIPTION_MISSING,/* 0012 */
    PUSH_MSG_UNAVAILABLE,         /* 0025 */
    PUSH_MSG_PUSH_DISABLED,       /* 1007 */
    PUSH_MSG_BAD_OFFSET,          /* 1079 */
    PUSH_MSG_BAD_SIZE,            /* 1080, the maximum size */
    PUSH_MSG_BAD_FILTER,          /* 0005, why */
    PUSH_MSG_NOT_ACCEPTABLE,      /* 0005 (406 has no code of its own) */
    PUSH_MSG_UNSUPPORTED_MEDIA,   /* 0005, the media type expected */
    PUSH_MSG_BODY_TOO_LARGE,      /* 0005, the most bytes a body may have */
    PUSH_MSG_METHOD_NOT_ALLOWED,  /* 0005 */
    PUSH_MSG_USER_ID_TOO_LONG,    /* 0005 */
    PUSH_MSG_CERT_INVALID,        /* 0005, why */
    PUSH_MSG_URL_REFUSED,         /* 0005, why (the egress guard's reason, in English) */
    PUSH_MSG_WEBHOOK_LIMIT,       /* 0005, the most webhooks an application may have */
    PUSH_MSG_HOST_REFUSED,        /* 0005, why (the egress guard's reason, in English) */
    PUSH_MSG_QUOTA,               /* 0429 (mod_push's own), the directive of the limit reached */
    PUSH_MSG__COUNT
} push_msg_t;

/* The best supported language for an Accept-Language value (RFC 9110 section 12.5.4):
 * q-values weigh the ranges, a range reaches a language through its primary subtag
 * ("de-DE" and "de" both give "de", "EN-us" gives "en-US"), "*" stands for the default,
 * q=0 on a range naming a language exactly ("ja;q=0") rules that language out, ties keep
 * header order, and malformed elements are skipped. NULL, "" or nothing usable gives
 * PUSH_I18N_DEFAULT. Returns one of the static strings "en-US", "de", "fr", "es", "ja". */
const char *push_i18n_language(const char *accept_language);

/* The FPWSE code of a message, e.g. "FPWSE0001E". Keys out of range answer as INTERNAL. */
const char *push_i18n_code(push_msg_t m);

/* The text of m in lang with arg put in place of its placeholder. arg is copied verbatim
 * (a '%' in it is just a character) and may be NULL, which leaves the place empty; it is
 * not escaped, so JSON encoding stays the caller's job. lang is normally what
 * push_i18n_language returned; another tag is looked up by its primary subtag, and an
 * unknown one or NULL gives en-US. The result lives in p, or is the static catalog text
 * when there is nothing to substitute. */
const char *push_i18n_text(apr_pool_t *p, push_msg_t m, const char *lang, const char *arg);

#endif
