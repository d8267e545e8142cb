#include "payload.h"

#include <string.h>
#include <strings.h>

#include <apr_strings.h>

/* The first problem found wins; later lookups keep going so the code reads straight. */
typedef struct {
    apr_pool_t *p;
    const char *error;
    const char *field;  /* the field of the first problem when it is one field's value */
    int empty;          /* the first problem is that there is nothing to show */
} reader_t;

static void fail(reader_t *r, const char *error)
{
    if (!r->error)
        r->error = error;
}

/* A problem with the value of one field, named for the message API's 400. */
static void bad(reader_t *r, const char *name, const char *error)
{
    if (!r->field)
        r->field = name;
    fail(r, error);
}

static void nothing_to_show(reader_t *r, const char *error)
{
    r->empty = 1;
    fail(r, error);
}

static const char *field(reader_t *r, const char *where, const char *key)
{
    return *where ? apr_pstrcat(r->p, where, ".", key, NULL) : key;
}

/* A member of obj (which may itself be absent), NULL when absent or JSON null. */
static json_object *member(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return v;
}

static json_object *typed(reader_t *r, json_object *obj, const char *where, const char *key,
                          json_type type, const char *what)
{
    json_object *v = member(obj, key);
    if (v && !json_object_is_type(v, type)) {
        const char *name = field(r, where, key);
        bad(r, name, apr_psprintf(r->p, "%s is not %s", name, what));
        return NULL;
    }
    return v;
}

/* A string member; "" counts as absent, like null. */
static const char *str_of(reader_t *r, json_object *obj, const char *where, const char *key)
{
    json_object *v = typed(r, obj, where, key, json_type_string, "a string");
    const char *s = v ? json_object_get_string(v) : NULL;
    return s && *s ? s : NULL;
}

static json_object *obj_of(reader_t *r, json_object *obj, const char *where, const char *key)
{
    return typed(r, obj, where, key, json_type_object, "an object");
}

/* A non-negative integer member: 1 and *n when present. */
static int count_of(reader_t *r, json_object *obj, const char *where, const char *key,
                    apr_int64_t *n)
{
    json_object *v = typed(r, obj, where, key, json_type_int, "an integer");
    if (!v)
        return 0;
    *n = json_object_get_int64(v);
    if (*n < 0) {
        const char *name = field(r, where, key);
        bad(r, name, apr_psprintf(r->p, "%s is negative", name));
        return 0;
    }
    return 1;
}

/* APNs wants loc-args as strings only. */
static json_object *strings_of(reader_t *r, json_object *obj, const char *where,
                               const char *key)
{
    json_object *v = typed(r, obj, where, key, json_type_array, "an array of strings");
    size_t n = v ? json_object_array_length(v) : 0;
    for (size_t i = 0; i < n; i++)
        if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string)) {
            const char *name = field(r, where, key);
            bad(r, name, apr_psprintf(r->p, "%s is not an array of strings", name));
            return NULL;
        }
    return v;
}

static void add_str(json_object *o, const char *key, const char *s)
{
    if (s)
        json_object_object_add(o, key, json_object_new_string(s));
}

/* A copy of v: sharing it would touch its reference count and serializing it would
 * fill its print buffer, and msg may be mapped by several threads at once. */
static json_object *copy_of(json_object *v)
{
    json_object *c = NULL;
    if (v && json_object_deep_copy(v, &c, NULL) != 0)
        c = NULL;
    return c;
}

static void add_copy(json_object *o, const char *key, json_object *v)
{
    if (v)
        json_object_object_add(o, key, copy_of(v));
}

/* The serialized text in p, or NULL with the size in *len when over max (0: no
 * limit). Releases o. */
static const char *finish(apr_pool_t *p, json_object *o, apr_size_t max, apr_size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    const char *copy = s && (max == 0 || n <= max) ? apr_pstrmemdup(p, s, n) : NULL;
    json_object_put(o);
    *len = n;
    return copy;
}

/* What the message says for every platform. */
typedef struct {
    const char *alert;      /* message.alert */
    const char *collapse;   /* collapseKey */
    int normal;             /* priority "normal" */
    int high;               /* priority "high" */
} common_t;

static void read_common(reader_t *r, json_object *msg, common_t *c)
{
    const char *prio;
    c->alert = str_of(r, obj_of(r, msg, "", "message"), "message", "alert");
    c->collapse = str_of(r, msg, "", "collapseKey");
    prio = str_of(r, msg, "", "priority");
    c->normal = prio && !strcmp(prio, "normal");
    c->high = prio && !strcmp(prio, "high");
    if (prio && !c->normal && !c->high)
        bad(r, "priority", apr_psprintf(r->p, "priority is \"%s\", not \"high\" or \"normal\"", prio));
}

static int not_object(json_object *msg, const char **error)
{
    if (msg && json_object_is_type(msg, json_type_object))
        return 0;
    *error = "the message is not a JSON object";
    return 1;
}

enum { APNS_DEFAULT, APNS_MIXED, APNS_SILENT };

static int apns_type(reader_t *r, json_object *apns)
{
    const char *t = str_of(r, apns, "settings.apns", "type");
    if (!t || !strcasecmp(t, "DEFAULT"))
        return APNS_DEFAULT;
    if (!strcasecmp(t, "MIXED"))
        return APNS_MIXED;
    if (!strcasecmp(t, "SILENT"))
        return APNS_SILENT;
    bad(r, "settings.apns.type", apr_psprintf(r->p, "settings.apns.type is \"%s\", not DEFAULT, MIXED or SILENT", t));
    return APNS_DEFAULT;
}

/* aps.alert from the message, or NULL when it would show nothing. */
static json_object *apns_alert(reader_t *r, const common_t *c, json_object *apns)
{
    static const char w[] = "settings.apns";
    json_object *a = json_object_new_object();
    add_str(a, "title", str_of(r, apns, w, "title"));
    add_str(a, "subtitle", str_of(r, apns, w, "subtitle"));
    add_str(a, "body", c->alert);
    add_str(a, "loc-key", str_of(r, apns, w, "locKey"));
    add_copy(a, "loc-args", strings_of(r, apns, w, "locArgs"));
    add_str(a, "title-loc-key", str_of(r, apns, w, "titleLocKey"));
    add_copy(a, "title-loc-args", strings_of(r, apns, w, "titleLocArgs"));
    /* Only the keys with text make something to show; the rest decorate it. */
    if (!member(a, "title") && !member(a, "subtitle") && !member(a, "body")
        && !member(a, "loc-key") && !member(a, "title-loc-key")) {
        json_object_put(a);
        return NULL;
    }
    add_str(a, "action-loc-key", str_of(r, apns, w, "iosActionKey"));
    add_str(a, "launch-image", str_of(r, apns, w, "launchImage"));
    return a;
}

/* The top level around aps: the custom payload, then attachmentUrl. */
static void apns_custom(reader_t *r, json_object *root, json_object *apns, const char *attachment)
{
    json_object *custom = obj_of(r, apns, "settings.apns", "payload");
    if (custom) {
        json_object_object_foreach(custom, key, val) {
            if (strcmp(key, "aps") && !(attachment && !strcmp(key, "attachmentUrl")))
                json_object_object_add(root, key, copy_of(val));
        }
    }
    add_str(root, "attachmentUrl", attachment);
}

const char *push_private_ejson(apr_pool_t *p, const push_private_t *priv)
{
    json_object *e = json_object_new_object();
    const char *text;
    add_str(e, "host", priv->host);
    add_str(e, "messageId", priv->id);
    add_str(e, "notificationType", "message-id-only");
    text = apr_pstrdup(p, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(e);
    return text;
}

static int apns_map(reader_t *r, apr_pool_t *p, json_object *msg, const char *topic, apr_int64_t expires_at,
                    const push_private_t *priv, push_apns_request_t *out, const char **error)
{
    static const char w[] = "settings.apns";
    common_t c;
    json_object *apns, *root, *aps, *alert = NULL;
    const char *attachment, *body;
    apr_size_t len = 0;
    apr_int64_t badge = 0;
    int type, has_badge;

    if (not_object(msg, error))
        return 0;
    read_common(r, msg, &c);
    apns = obj_of(r, obj_of(r, msg, "", "settings"), "settings", "apns");
    type = apns_type(r, apns);
    attachment = str_of(r, apns, w, "attachmentUrl");
    has_badge = count_of(r, apns, w, "badge", &badge);
    if (c.collapse && strlen(c.collapse) > PUSH_APNS_MAX_COLLAPSE)
        fail(r, apr_psprintf(p, "collapseKey is %" APR_SIZE_T_FMT " bytes, longer than the "
                              "%d APNs allows", strlen(c.collapse), PUSH_APNS_MAX_COLLAPSE));

    root = json_object_new_object();
    aps = json_object_new_object();
    json_object_object_add(root, "aps", aps);
    if (type == APNS_SILENT) {
        /* A background push only wakes the app: Apple refuses anything it would show. */
        json_object_object_add(aps, "content-available", json_object_new_int(1));
    }
    else {
        if (priv) {
            alert = json_object_new_object();
            add_str(alert, "body", PUSH_PRIVATE_ALERT);
        }
        else if (!(alert = apns_alert(r, &c, apns))) {
            nothing_to_show(r, "the message is empty: no message.alert, settings.apns.title, subtitle "
                     "or locKey");
        }
        if (alert)
            json_object_object_add(aps, "alert", alert);
        if (!priv) {
            if (has_badge)
                json_object_object_add(aps, "badge", json_object_new_int64(badge));
            add_str(aps, "sound", str_of(r, apns, w, "sound"));
            add_str(aps, "category", str_of(r, apns, w, "interactiveCategory"));
            if (!member(aps, "category"))
                add_str(aps, "category", str_of(r, apns, w, "category"));
        }
        if (type == APNS_MIXED)
            json_object_object_add(aps, "content-available", json_object_new_int(1));
        /* The service extension fetches the attachment, or in privacy mode the text. */
        if (attachment || priv)
            json_object_object_add(aps, "mutable-content", json_object_new_int(1));
    }
    if (priv) {
        add_str(root, "messageId", priv->id);
        add_str(root, "ejson", push_private_ejson(p, priv));
    }
    else
        apns_custom(r, root, apns, attachment);

    if (r->error) {
        json_object_put(root);
        *error = r->error;
        return 0;
    }
    if (!(body = finish(p, root, PUSH_APNS_MAX_PAYLOAD, &len))) {
        *error = apr_psprintf(p, "the APNs payload is %" APR_SIZE_T_FMT " bytes, too large "
                              "(at most %d)", len, PUSH_APNS_MAX_PAYLOAD);
        return 0;
    }
    out->body = body;
    out->body_len = len;
    out->push_type = type == APNS_SILENT ? "background" : "alert";
    out->priority = type == APNS_SILENT || c.normal ? 5 : 10;
    /* msg may be released before the request is sent: nothing may point into it. */
    out->collapse_id = c.collapse ? apr_pstrdup(p, c.collapse) : NULL;
    out->expiration = expires_at > 0 ? expires_at : 0;
    out->topic = topic;
    return 1;
}

int push_apns_map(apr_pool_t *p, json_object *msg, const char *topic, apr_int64_t expires_at,
                  const push_private_t *priv, push_apns_request_t *out, const char **error)
{
    reader_t r = {p, NULL, NULL, 0};
    return apns_map(&r, p, msg, topic, expires_at, priv, out, error);
}

/* FCM refuses these data keys (its own message fields). */
static int fcm_reserved(const char *key)
{
    return !strcmp(key, "from") || !strcmp(key, "message_type") || !strncmp(key, "google", 6)
           || !strncmp(key, "gcm", 3);
}

/* v's JSON text as a JSON string. */
static json_object *json_text(json_object *v)
{
    json_object *c = copy_of(v);
    json_object *s = json_object_new_string(json_object_to_json_string_ext(
        c, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(c);
    return s;
}

/* FCM data: a flat map of strings. */
static json_object *fcm_data(reader_t *r, json_object *gcm)
{
    json_object *custom = obj_of(r, gcm, "settings.gcm", "payload");
    json_object *data = json_object_new_object();
    if (!custom)
        return data;
    json_object_object_foreach(custom, key, val) {
        if (fcm_reserved(key))
            bad(r, "settings.gcm.payload", apr_psprintf(r->p, "settings.gcm.payload has the key \"%s\", which FCM "
                                 "reserves", key));
        else if (json_object_is_type(val, json_type_string))
            add_copy(data, key, val);
        else
            json_object_object_add(data, key, json_text(val));
    }
    return data;
}

static const char *fcm_visibility(reader_t *r, json_object *gcm)
{
    const char *v = str_of(r, gcm, "settings.gcm", "visibility");
    if (!v)
        return NULL;
    if (!strcasecmp(v, "public"))
        return "PUBLIC";
    if (!strcasecmp(v, "private"))
        return "PRIVATE";
    if (!strcasecmp(v, "secret"))
        return "SECRET";
    bad(r, "settings.gcm.visibility", apr_psprintf(r->p, "settings.gcm.visibility is \"%s\", not public, private or "
                         "secret", v));
    return NULL;
}

/* android {collapse_key, priority, ttl}: how FCM delivers, whatever the content. */
static json_object *fcm_android(reader_t *r, const common_t *c, json_object *gcm,
                                apr_int64_t ttl_seconds)
{
    static const char w[] = "settings.gcm";
    json_object *android = json_object_new_object();
    const char *collapse = str_of(r, gcm, w, "collapseKey");
    const char *prio = str_of(r, gcm, w, "priority");
    apr_int64_t ttl = -1;

    add_str(android, "collapse_key", collapse ? collapse : c->collapse);
    /* settings.gcm.priority is MobileFirst's display priority; the message's own
     * priority says how urgently to deliver, so it wins. */
    if (c->high || c->normal)
        add_str(android, "priority", c->high ? "HIGH" : "NORMAL");
    else if (prio)
        add_str(android, "priority",
                !strcasecmp(prio, "max") || !strcasecmp(prio, "high") ? "HIGH" : "NORMAL");
    count_of(r, gcm, w, "timeToLive", &ttl);
    if (ttl_seconds >= 0 && (ttl < 0 || ttl_seconds < ttl))
        ttl = ttl_seconds;
    if (ttl > PUSH_FCM_MAX_TTL)
        ttl = PUSH_FCM_MAX_TTL;
    if (ttl >= 0)
        add_str(android, "ttl", apr_psprintf(r->p, "%" APR_INT64_T_FMT "s", ttl));
    return android;
}

static int fcm_map(reader_t *r, apr_pool_t *p, json_object *msg, const char *token, apr_int64_t ttl_seconds,
                   const push_private_t *priv, const char **body, const char **error)
{
    common_t c;
    json_object *gcm, *root, *m, *data, *android, *note;
    const char *visibility, *sound;
    apr_size_t len = 0;

    if (not_object(msg, error))
        return 0;
    if (!token || !*token) {
        *error = "the device token is empty";
        return 0;
    }
    read_common(r, msg, &c);
    gcm = obj_of(r, obj_of(r, msg, "", "settings"), "settings", "gcm");
    root = json_object_new_object();
    m = json_object_new_object();
    json_object_object_add(root, "message", m);
    add_str(m, "token", token);

    if (priv) {
        /* The app fetches the content itself: nothing readable passes through Google. */
        data = json_object_new_object();
        add_str(data, "messageId", priv->id);
        add_str(data, "ejson", push_private_ejson(p, priv));
    }
    else {
        data = fcm_data(r, gcm);
        if (c.alert) {
            note = json_object_new_object();
            add_str(note, "body", c.alert);
            json_object_object_add(m, "notification", note);
        }
        else if (json_object_object_length(data) == 0) {
            nothing_to_show(r, "the message is empty: no message.alert and no settings.gcm.payload");
        }
    }
    if (json_object_object_length(data) > 0)
        json_object_object_add(m, "data", data);
    else
        json_object_put(data);

    android = fcm_android(r, &c, gcm, ttl_seconds);
    sound = str_of(r, gcm, "settings.gcm", "sound");
    visibility = fcm_visibility(r, gcm);
    if (member(m, "notification") && (sound || visibility)) {
        note = json_object_new_object();
        add_str(note, "sound", sound);
        add_str(note, "visibility", visibility);
        json_object_object_add(android, "notification", note);
    }
    if (json_object_object_length(android) > 0)
        json_object_object_add(m, "android", android);
    else
        json_object_put(android);

    if (r->error) {
        json_object_put(root);
        *error = r->error;
        return 0;
    }
    *body = finish(p, root, 0, &len);
    if (!*body) {
        *error = "the FCM message could not be serialized";
        return 0;
    }
    return 1;
}

int push_fcm_map(apr_pool_t *p, json_object *msg, const char *token, apr_int64_t ttl_seconds,
                 const push_private_t *priv, const char **body, const char **error)
{
    reader_t r = {p, NULL, NULL, 0};
    return fcm_map(&r, p, msg, token, ttl_seconds, priv, body, error);
}

/* --- Rocket.Chat's shape -------------------------------------------------------------- */

unsigned int push_rc_notid(const char *message_id)
{
    apr_uint32_t h = 2166136261u;   /* FNV-1a: the same message always gets the same number */
    for (; *message_id; message_id++)
        h = (h ^ (unsigned char)*message_id) * 16777619u;
    return (unsigned int)(h & 0x7fffffffu);
}

/* What Rocket.Chat's notification holds, read from a message of our API. */
typedef struct {
    const char *title, *text, *sound, *category, *image, *ejson;
    apr_int64_t badge;
    int has_badge;
    unsigned int notid;
} rc_note_t;

static void rc_read(reader_t *r, json_object *msg, const common_t *c, const push_rc_t *rc, rc_note_t *n)
{
    static const char w[] = "settings.apns";
    json_object *settings = obj_of(r, msg, "", "settings");
    json_object *apns = obj_of(r, settings, "settings", "apns");
    json_object *gcm = obj_of(r, settings, "settings", "gcm");
    json_object *custom = obj_of(r, apns, w, "payload");
    json_object *payload = json_object_new_object();

    if (!custom)
        custom = obj_of(r, gcm, "settings.gcm", "payload");
    memset(n, 0, sizeof(*n));
    n->notid = push_rc_notid(rc->id);
    if (rc->private_mode) {
        /* Rocket.Chat's "id only": the app fetches the rest with push.get */
        n->text = PUSH_PRIVATE_ALERT;
        n->title = "";
        add_str(payload, "host", rc->host);
        add_str(payload, "messageId", rc->id);
        add_str(payload, "notificationType", "message-id-only");
    } else {
        n->text = c->alert ? c->alert : "";
        n->title = str_of(r, apns, w, "title");
        if (!n->title)
            n->title = "";
        n->has_badge = count_of(r, apns, w, "badge", &n->badge);
        n->sound = str_of(r, apns, w, "sound");
        if (!n->sound)
            n->sound = str_of(r, gcm, "settings.gcm", "sound");
        n->image = str_of(r, apns, w, "attachmentUrl");
        add_str(payload, "host", rc->host);
        add_str(payload, "messageId", rc->id);
        add_str(payload, "notificationType", "message");
        if (custom) {
            json_object_object_foreach(custom, key, val) {
                if (strcmp(key, "host") && strcmp(key, "messageId") && strcmp(key, "notificationType"))
                    json_object_object_add(payload, key, copy_of(val));
            }
        }
    }
    n->category = str_of(r, apns, w, "interactiveCategory");
    if (!n->category)
        n->category = str_of(r, apns, w, "category");
    if (!n->category)
        n->category = "MESSAGE";
    n->ejson = apr_pstrdup(r->p, json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN
                                                                         | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(payload);
}

int push_rc_apns_map(apr_pool_t *p, json_object *msg, const char *topic, apr_int64_t expires_at,
                     const push_rc_t *rc, int voip, push_apns_request_t *out, const char **error)
{
    reader_t r = {p, NULL, NULL, 0};
    common_t c;
    rc_note_t n;
    json_object *root, *aps, *alert;
    apr_size_t len = 0;
    const char *body;

    if (not_object(msg, error))
        return 0;
    read_common(&r, msg, &c);
    rc_read(&r, msg, &c, rc, &n);
    root = json_object_new_object();
    aps = json_object_new_object();
    alert = json_object_new_object();
    add_str(alert, "title", n.title);
    add_str(alert, "body", n.text);
    json_object_object_add(aps, "alert", alert);
    if (n.has_badge)
        json_object_object_add(aps, "badge", json_object_new_int64(n.badge));
    add_str(aps, "sound", n.sound);
    add_str(aps, "category", n.category);
    add_str(aps, "thread-id", apr_psprintf(p, "%u", n.notid));
    /* the app's notification service extension runs only with mutable-content */
    json_object_object_add(aps, "mutable-content", json_object_new_int(1));
    json_object_object_add(root, "aps", aps);
    add_str(root, "ejson", n.ejson);
    add_str(root, "messageFrom", "push");
    json_object_object_add(root, "notId", json_object_new_int64(n.notid));
    if (r.error) {
        json_object_put(root);
        *error = r.error;
        return 0;
    }
    if (!(body = finish(p, root, voip ? PUSH_APNS_MAX_PAYLOAD_VOIP : PUSH_APNS_MAX_PAYLOAD, &len))) {
        *error = apr_psprintf(p, "the APNs payload is %" APR_SIZE_T_FMT " bytes, too large", len);
        return 0;
    }
    out->body = body;
    out->body_len = len;
    out->push_type = voip ? "voip" : "alert";
    out->priority = c.normal && !voip ? 5 : 10;
    out->collapse_id = c.collapse ? apr_pstrdup(p, c.collapse) : NULL;
    if (out->collapse_id && strlen(out->collapse_id) > PUSH_APNS_MAX_COLLAPSE) {
        *error = "collapseKey is longer than the 64 bytes APNs allows";
        return 0;
    }
    out->expiration = expires_at > 0 ? expires_at : 0;
    out->topic = voip ? apr_pstrcat(p, topic, ".voip", NULL) : topic;
    return 1;
}

int push_rc_fcm_map(apr_pool_t *p, json_object *msg, const char *token, apr_int64_t ttl_seconds,
                    const push_rc_t *rc, const char **body, const char **error)
{
    reader_t r = {p, NULL, NULL, 0};
    common_t c;
    rc_note_t n;
    json_object *root, *m, *note, *data, *android;
    apr_size_t len = 0;

    if (not_object(msg, error))
        return 0;
    if (!token || !*token) {
        *error = "the device token is empty";
        return 0;
    }
    read_common(&r, msg, &c);
    rc_read(&r, msg, &c, rc, &n);
    root = json_object_new_object();
    m = json_object_new_object();
    json_object_object_add(root, "message", m);
    add_str(m, "token", token);
    note = json_object_new_object();
    add_str(note, "title", n.title);
    add_str(note, "body", n.text);
    json_object_object_add(m, "notification", note);
    /* data values are strings: FCM refuses anything else */
    data = json_object_new_object();
    add_str(data, "ejson", n.ejson);
    add_str(data, "title", n.title);
    add_str(data, "message", n.text);
    add_str(data, "notId", apr_psprintf(p, "%u", n.notid));
    if (n.has_badge)
        add_str(data, "msgcnt", apr_psprintf(p, "%" APR_INT64_T_FMT, n.badge));
    add_str(data, "soundname", n.sound);
    add_str(data, "style", "inbox");
    add_str(data, "image", n.image);
    json_object_object_add(m, "data", data);
    android = json_object_new_object();
    add_str(android, "priority", c.normal ? "NORMAL" : "HIGH");
    add_str(android, "collapse_key", c.collapse);
    if (ttl_seconds >= 0)
        add_str(android, "ttl", apr_psprintf(p, "%" APR_INT64_T_FMT "s",
                                             ttl_seconds > PUSH_FCM_MAX_TTL ? PUSH_FCM_MAX_TTL : ttl_seconds));
    json_object_object_add(m, "android", android);
    if (r.error) {
        json_object_put(root);
        *error = r.error;
        return 0;
    }
    *body = finish(p, root, 0, &len);
    if (!*body) {
        *error = "the FCM message could not be serialized";
        return 0;
    }
    return 1;
}

const char *push_payload_problem(apr_pool_t *p, json_object *msg)
{
    reader_t a = {p, NULL, NULL, 0}, f = {p, NULL, NULL, 0};
    push_apns_request_t req;
    const char *body, *error;
    json_object *settings = member(msg, "settings");
    if (!json_object_is_type(msg, json_type_object))
        return "message";
    if (!apns_map(&a, p, msg, "topic", 0, NULL, &req, &error) && a.field)
        return a.field;
    if (!fcm_map(&f, p, msg, "token", -1, NULL, &body, &error) && f.field)
        return f.field;
    /* a browser's or a Windows device's mapping may still find something to show */
    if (a.empty && f.empty && !member(settings, "webpush") && !member(settings, "wns"))
        return "message.alert";
    return NULL;
}
