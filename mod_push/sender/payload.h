/* A stored message (the body the MobileFirst message API accepted) turned into what
 * APNs and FCM HTTP v1 receive. Pure translation: which devices get it, and when, is
 * decided elsewhere. An error here is permanent for the message: the same input will
 * never map. msg is only read, and nothing returned points into it, so one message
 * may be mapped by several threads at once and released after. No httpd headers;
 * json-c builds the JSON.
 *
 * The fields read (JSON null and "" count as absent; any other wrong type is an error
 * that names the field):
 *   message.alert                    the text shown (body)
 *   collapseKey, priority            "high" | "normal", for every platform
 *   settings.apns  type (DEFAULT | MIXED | SILENT), title, subtitle, badge, sound,
 *                  iosActionKey, interactiveCategory / category, attachmentUrl,
 *                  launchImage, locKey, locArgs, titleLocKey, titleLocArgs, payload
 *   settings.gcm   collapseKey, priority, timeToLive, sound, visibility, payload */
#ifndef PUSH_PAYLOAD_H
#define PUSH_PAYLOAD_H

#include <apr_pools.h>
#include <json-c/json.h>

#define PUSH_APNS_MAX_PAYLOAD    4096   /* bytes of JSON body, VoIP aside */
#define PUSH_APNS_MAX_PAYLOAD_VOIP 5120
#define PUSH_APNS_MAX_COLLAPSE   64     /* bytes of apns-collapse-id */
#define PUSH_FCM_MAX_TTL         2419200 /* four weeks, FCM's longest */
/* What a device shows in privacy mode, where the text never passes through Apple. */
#define PUSH_PRIVATE_ALERT       "You have a new message"

/* Privacy ("id only") mode: the push says only that something arrived and how the app
 * fetches it (Rocket.Chat's push.get): the message id and, as "ejson", the JSON text
 * {"host", "messageId", "notificationType": "message-id-only"}. */
typedef struct {
    const char *id;            /* the message id */
    const char *host;          /* the server the app asks, or NULL */
} push_private_t;

typedef struct {
    const char *body;          /* JSON text, NUL-terminated */
    apr_size_t body_len;
    const char *push_type;     /* "alert" | "background": apns-push-type */
    int priority;              /* 10 or 5: apns-priority */
    const char *collapse_id;   /* apns-collapse-id, or NULL */
    apr_int64_t expiration;    /* apns-expiration, epoch seconds, 0 = none/do not store */
    const char *topic;         /* apns-topic: the bundle id passed in */
} push_apns_request_t;

/* Maps msg to an APNs request for topic:
 *   aps.alert {title, subtitle, body = message.alert, loc-key, loc-args, title-loc-key,
 *   title-loc-args, action-loc-key = iosActionKey, launch-image}, always the object form;
 *   aps.badge, aps.sound, aps.category (interactiveCategory, else category);
 *   aps.mutable-content 1 and a top-level attachmentUrl when attachmentUrl is set;
 *   the members of settings.apns.payload at top level, except "aps", and except
 *   "attachmentUrl" when the setting gives one.
 * type SILENT: aps holds only content-available 1 (no alert, sound, badge, category or
 * mutable-content; the custom payload and attachmentUrl stay), push type background,
 * priority 5. MIXED: the alert plus content-available 1. Otherwise priority 10, or 5
 * when the message's priority is "normal"; push type alert.
 * priv non-NULL is privacy mode: no text leaves the server. The payload is
 * {"aps": {"alert": {"body": PUSH_PRIVATE_ALERT}, "mutable-content": 1},
 *  "messageId": id, "ejson": "{...}"} so that the app's service extension fetches the
 * content; the type still counts: MIXED adds content-available 1, and a SILENT message
 * becomes {"aps": {"content-available": 1}, "messageId": id, "ejson": "{...}"}.
 * expires_at (epoch seconds, 0 none; negative counts as 0) becomes the expiration.
 * Returns 1 and fills *out, or 0 and *error: a field of the wrong type, nothing to show
 * (no body, title, subtitle or loc-key: "empty"), a collapseKey over 64 bytes, or a
 * payload over 4096 bytes ("too large"). */
int push_apns_map(apr_pool_t *p, json_object *msg, const char *topic, apr_int64_t expires_at,
                  const push_private_t *priv, push_apns_request_t *out, const char **error);

/* Maps msg to an FCM HTTP v1 body {"message": {...}} for token:
 *   notification {body = message.alert}, left out when the alert is empty;
 *   data: the members of settings.gcm.payload, strings as they are and other values as
 *   their JSON text (FCM's reserved keys "from", "message_type", "google…", "gcm…"
 *   are an error);
 *   android.collapse_key: settings.gcm.collapseKey, else the message's collapseKey;
 *   android.priority: the message's priority ("high" HIGH, "normal" NORMAL), else
 *   settings.gcm.priority (max and high HIGH, other values NORMAL), else left out;
 *   android.ttl "<n>s": the smaller of settings.gcm.timeToLive and ttl_seconds (-1
 *   none), at most four weeks;
 *   android.notification {sound, visibility: PUBLIC | PRIVATE | SECRET from
 *   public | private | secret}, only with a notification.
 * A message with neither an alert nor data is "empty".
 * priv non-NULL is privacy mode: no notification, data {"messageId", "ejson"} as for
 * APNs; the android delivery options stay.
 * Returns 1 and *body (NUL-terminated JSON), or 0 and *error. */
int push_fcm_map(apr_pool_t *p, json_object *msg, const char *token, apr_int64_t ttl_seconds,
                 const push_private_t *priv, const char **body, const char **error);

/* What the message API refuses before it accepts msg, since no device could ever get it:
 * the first field the mappings above read with a value of the wrong type or one they do
 * not know ("settings.apns.locArgs", "priority", ...), or "message.alert" when there is
 * nothing to show on any platform (no text for APNs, nothing for FCM, no settings for
 * Web Push or WNS, not a SILENT push); NULL when it maps. Limits that depend on the
 * device (APNs' 4 KiB, the collapse id's 64 bytes) are the sender's. */
const char *push_payload_problem(apr_pool_t *p, json_object *msg);

/* The "ejson" text of privacy mode for priv. */
const char *push_private_ejson(apr_pool_t *p, const push_private_t *priv);

/* Rocket.Chat's shape, for devices registered through Rocket.Chat's push.token: what
 * Rocket.Chat's own server sends (apps/meteor/app/push/server/apn.ts and fcm.ts; the
 * mapping is in docs/rocketchat.md), so that its apps read our pushes unchanged.
 *   APNs: aps {alert {title, body}, badge, sound, category (MESSAGE unless the message
 *         names one), thread-id = notId, mutable-content 1}, and at top level ejson,
 *         messageFrom "push", notId (a number);
 *   FCM:  notification {title, body}; data {ejson, title, message, notId, msgcnt (the
 *         badge), soundname, style "inbox", image (attachmentUrl)}, all strings; android
 *         {priority HIGH, or NORMAL for a "normal" message; collapse_key; ttl}.
 * title = settings.apns.title, text = message.alert, badge and sound from settings.apns
 * (sound else settings.gcm), ejson = the JSON text of {host, messageId, notificationType
 * "message", and the members of the custom payload (settings.apns.payload, else
 * settings.gcm.payload)}. Privacy mode: text PUSH_PRIVATE_ALERT, title "", ejson
 * {host, messageId, notificationType "message-id-only"}, no badge, sound or image.
 * voip: to the device's VoIP token, apns-push-type voip, topic "<topic>.voip". */
typedef struct {
    const char *id;            /* the message id */
    const char *host;          /* the server the app asks, or NULL */
    int private_mode;
} push_rc_t;

/* Rocket.Chat's notId: a positive 31-bit number, the same for every push of a message. */
unsigned int push_rc_notid(const char *message_id);
int push_rc_apns_map(apr_pool_t *p, json_object *msg, const char *topic, apr_int64_t expires_at,
                     const push_rc_t *rc, int voip, push_apns_request_t *out, const char **error);
int push_rc_fcm_map(apr_pool_t *p, json_object *msg, const char *token, apr_int64_t ttl_seconds,
                    const push_rc_t *rc, const char **body, const char **error);

#endif
