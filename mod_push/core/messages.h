/* Messages as the message API accepts them: checks a MobileFirst message body and turns
 * it into the record the store's push_message_accept takes. Pure (json-c, APR), shared
 * by every dialect that sends, unit-tested and fuzzed. */
#ifndef PUSH_MESSAGES_H
#define PUSH_MESSAGES_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#define PUSH_MAX_ALERT        4096   /* bytes of message.alert */
#define PUSH_MAX_TARGETS      10000  /* entries of one target list */
#define PUSH_MAX_COLLAPSE_KEY 64     /* APNs apns-collapse-id */
#define PUSH_MAX_FCM_COLLAPSE_KEY 255 /* settings.gcm.collapseKey (FCM only) */
#define PUSH_MAX_INT32        2147483647 /* badges and other counts stored or sent as int */
#define PUSH_MAX_EXPIRATION   31536000   /* seconds an expiration may lie after sendAt */
#define PUSH_DEFAULT_SCHEDULE apr_time_from_sec(31536000) /* PushMaxSchedule's default */

/* Checks body (a MobileFirst message object) at time now: sendAt at most horizon after
 * now (PushMaxSchedule), real calendar dates only, counts such as settings.apns.badge
 * from 0 to PUSH_MAX_INT32; message.alert is free text
 * (push_valid_text), target entries are identifiers (push_valid_id), collapseKey and
 * settings.gcm.collapseKey header values (push_valid_header_value). On success returns NULL and
 * sets *record to a new object {id, body, target, category, priority, collapseKey,
 * sendAt, expiresAt, type} (id: a fresh UUID; times as ISO 8601 UTC); the caller owns
 * it. Otherwise returns the name of the offending property ("target.deviceIds",
 * "expiration", ...), *record is NULL and *unknown says whether the property is one
 * a message does not have (rather than one with a bad value). */
const char *push_message_check(apr_pool_t *p, json_object *body, apr_time_t now,
                               apr_time_t horizon, json_object **record, int *unknown);

/* Where a JSON value holds a string with a NUL (PostgreSQL stores none, in text or jsonb):
 * the first such string's place as "settings.apns.payload.k" or "[2].message.alert"
 * ("(the body)" for a bare string), or NULL when there is none. */
const char *push_json_nul_path(apr_pool_t *p, json_object *o);

/* Where a JSON value holds a number that would not be stored and sent as written (json-c
 * reads NaN and Infinity, clamps integers beyond 64 bits, turns doubles out of range into
 * infinity or zero): the first one's place as push_json_nul_path names it, or NULL. */
const char *push_json_number_path(apr_pool_t *p, json_object *o);

/* Whether JSON text holds an escaped NUL (backslash-u0000) anywhere, in a property name too
 * (json-c cuts a name at its NUL, so the parsed value no longer shows it). */
int push_json_text_has_nul(const char *s, size_t len);

/* Parses an ISO 8601 / RFC 3339 time ("2026-01-02T03:04:05Z", fractions and +hh:mm
 * offsets allowed). Returns 1 and *t, or 0. */
int push_iso_time_parse(const char *s, apr_time_t *t);

/* t as "2026-01-02T03:04:05.678Z". */
const char *push_iso_time(apr_pool_t *p, apr_time_t t);

#endif
