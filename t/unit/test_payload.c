/* A stored MobileFirst message mapped to the APNs payload and headers and to the FCM
 * HTTP v1 body; every result is parsed back with json-c. */
#include <apr_general.h>
#include <apr_strings.h>

#include <json-c/json.h>

#include "sender/payload.h"
#include "unit.h"

static apr_pool_t *pool;
static json_object *last;   /* the latest parsed result, released by the next */

static int has(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

static int eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* msg as JSON text; the parsed object is released at once, since the mapper keeps
 * nothing of it past the call. */
static json_object *msg_of(const char *text)
{
    json_object *m = json_tokener_parse(text);
    if (!m)
        fprintf(stderr, "# the test's JSON does not parse: %s\n", text);
    return m;
}

/* Privacy mode for message id (NULL: off), the host the tests use. */
static const push_private_t *private_of(const char *id)
{
    push_private_t *v;
    if (!id)
        return NULL;
    v = apr_pcalloc(pool, sizeof(*v));
    v->id = id;
    v->host = "https://chat.example.com";
    return v;
}

#define EJSON(id) "\"ejson\":\"{\\\"host\\\":\\\"https://chat.example.com\\\"," \
    "\\\"messageId\\\":\\\"" id "\\\",\\\"notificationType\\\":\\\"message-id-only\\\"}\""

static int apns(const char *text, const char *id_only, push_apns_request_t *out,
                const char **error)
{
    json_object *m = msg_of(text);
    int ok;
    memset(out, 0, sizeof(*out));
    *error = NULL;
    ok = push_apns_map(pool, m, "com.example.app", 1700000000, private_of(id_only), out, error);
    json_object_put(m);
    json_object_put(last);
    last = ok ? json_tokener_parse(out->body) : NULL;
    return ok && last && strlen(out->body) == out->body_len;
}

static int fcm(const char *text, apr_int64_t ttl, const char *id_only, const char **body,
               const char **error)
{
    json_object *m = msg_of(text);
    int ok;
    *body = NULL;
    *error = NULL;
    ok = push_fcm_map(pool, m, "tok-1", ttl, private_of(id_only), body, error);
    json_object_put(m);
    json_object_put(last);
    last = ok ? json_tokener_parse(*body) : NULL;
    return ok && last;
}

/* The value at a dotted path in the latest result, or NULL. */
static json_object *at(const char *path)
{
    char *copy = apr_pstrdup(pool, path), *state = NULL;
    json_object *o = last;
    for (char *k = apr_strtok(copy, ".", &state); k && o; k = apr_strtok(NULL, ".", &state))
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &o))
            return NULL;
    return o;
}

static const char *str_at(const char *path)
{
    json_object *o = at(path);
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static apr_int64_t int_at(const char *path)
{
    json_object *o = at(path);
    return o && json_object_is_type(o, json_type_int) ? json_object_get_int64(o) : -999;
}

static int members_at(const char *path)
{
    json_object *o = path ? at(path) : last;
    return o && json_object_is_type(o, json_type_object) ? json_object_object_length(o) : -1;
}

static void test_apns_basic(void)
{
    push_apns_request_t r;
    const char *err;

    CHECK(apns("{\"message\": {\"alert\": \"Hello\"}}", NULL, &r, &err)
          && eq(r.body, "{\"aps\":{\"alert\":{\"body\":\"Hello\"}}}"),
          "a plain alert is aps.alert in the object form, nothing else");
    CHECK(eq(r.push_type, "alert") && r.priority == 10 && !r.collapse_id
          && r.expiration == 1700000000 && eq(r.topic, "com.example.app"),
          "headers: alert, priority 10, no collapse id, the expiry and topic given");

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {"
               "\"title\": \"T\", \"subtitle\": \"S\", \"locKey\": \"LK\", \"locArgs\": [\"a\", \"b\"],"
               "\"titleLocKey\": \"TLK\", \"titleLocArgs\": [\"c\"], \"iosActionKey\": \"Open\","
               "\"launchImage\": \"launch.png\", \"badge\": 3, \"sound\": \"ding.caf\","
               "\"interactiveCategory\": \"reply\", \"category\": \"old\"}}}", NULL, &r, &err),
          "every alert field maps");
    CHECK(eq(str_at("aps.alert.title"), "T") && eq(str_at("aps.alert.subtitle"), "S")
          && eq(str_at("aps.alert.body"), "Hi") && eq(str_at("aps.alert.loc-key"), "LK")
          && eq(str_at("aps.alert.title-loc-key"), "TLK")
          && eq(str_at("aps.alert.action-loc-key"), "Open")
          && eq(str_at("aps.alert.launch-image"), "launch.png"), "alert strings");
    CHECK(at("aps.alert.loc-args") && json_object_array_length(at("aps.alert.loc-args")) == 2
          && json_object_array_length(at("aps.alert.title-loc-args")) == 1,
          "loc-args and title-loc-args are the arrays given");
    CHECK(int_at("aps.badge") == 3 && eq(str_at("aps.sound"), "ding.caf"), "badge and sound");
    CHECK(eq(str_at("aps.category"), "reply"), "interactiveCategory wins over category");
    CHECK(!at("aps.content-available") && !at("aps.mutable-content") && members_at(NULL) == 1,
          "a default message is not content-available and has only aps");

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"category\": \"old\","
               "\"badge\": 0}}}", NULL, &r, &err)
          && eq(str_at("aps.category"), "old") && int_at("aps.badge") == 0,
          "the deprecated category is used alone; badge 0 clears the badge");

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {"
               "\"attachmentUrl\": \"https://cdn.example.com/a/b.png\"}}}", NULL, &r, &err)
          && int_at("aps.mutable-content") == 1
          && eq(str_at("attachmentUrl"), "https://cdn.example.com/a/b.png")
          && has(r.body, "https://cdn.example.com/a/b.png"),
          "attachmentUrl: mutable-content 1 and the URL at top level, slashes unescaped");

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"title\": \"\","
               "\"sound\": null, \"badge\": null}, \"gcm\": null}}", NULL, &r, &err)
          && members_at("aps") == 1 && members_at("aps.alert") == 1,
          "null and empty strings count as absent");
    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": null}", NULL, &r, &err),
          "null settings count as absent");
    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"title\": \"T\"}}}",
               NULL, &r, &err) && members_at("aps.alert") == 2, "title and body together");
}

static void test_apns_types(void)
{
    push_apns_request_t r;
    const char *err;

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"type\": \"SILENT\","
               "\"badge\": 2, \"sound\": \"x\", \"title\": \"T\", \"interactiveCategory\": \"c\","
               "\"attachmentUrl\": \"https://x/y\", \"payload\": {\"k\": \"v\"}}}}", NULL, &r, &err),
          "SILENT maps");
    CHECK(members_at("aps") == 1 && int_at("aps.content-available") == 1,
          "SILENT: aps holds content-available 1 only (no alert, sound, badge, category)");
    CHECK(eq(str_at("k"), "v") && eq(str_at("attachmentUrl"), "https://x/y"),
          "SILENT keeps the custom payload and attachmentUrl");
    CHECK(eq(r.push_type, "background") && r.priority == 5, "SILENT: background, priority 5");
    CHECK(apns("{\"settings\": {\"apns\": {\"type\": \"SILENT\"}}, \"priority\": \"high\"}",
               NULL, &r, &err) && r.priority == 5 && members_at("aps") == 1,
          "SILENT needs no alert, and stays at priority 5 even when asked for high");

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"type\": \"MIXED\","
               "\"sound\": \"s\"}}}", NULL, &r, &err)
          && eq(str_at("aps.alert.body"), "Hi") && int_at("aps.content-available") == 1
          && eq(str_at("aps.sound"), "s") && eq(r.push_type, "alert") && r.priority == 10,
          "MIXED: the alert plus content-available 1, push type alert");
    CHECK(!apns("{\"settings\": {\"apns\": {\"type\": \"MIXED\"}}}", NULL, &r, &err)
          && has(err, "empty"), "MIXED without an alert is empty");
    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"type\": \"DEFAULT\"}}}",
               NULL, &r, &err) && !at("aps.content-available"), "DEFAULT is the default");
    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"type\": \"silent\"}}}",
               NULL, &r, &err) && eq(r.push_type, "background"), "the type ignores case");
    CHECK(!apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"type\": \"LOUD\"}}}",
                NULL, &r, &err) && has(err, "settings.apns.type") && has(err, "LOUD"),
          "an unknown type is refused by name");
}

static void test_apns_headers(void)
{
    push_apns_request_t r;
    const char *err;
    char key[80], *text;
    json_object *m;

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"priority\": \"normal\"}", NULL, &r, &err)
          && r.priority == 5 && eq(r.push_type, "alert"), "priority normal: 5");
    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"priority\": \"high\"}", NULL, &r, &err)
          && r.priority == 10, "priority high: 10");
    CHECK(!apns("{\"message\": {\"alert\": \"Hi\"}, \"priority\": \"urgent\"}", NULL, &r, &err)
          && has(err, "priority") && has(err, "urgent"), "an unknown priority is refused");

    memset(key, 'k', 64);
    key[64] = '\0';
    text = apr_psprintf(pool, "{\"message\": {\"alert\": \"Hi\"}, \"collapseKey\": \"%s\"}", key);
    CHECK(apns(text, NULL, &r, &err) && eq(r.collapse_id, key), "a 64-byte collapseKey is the collapse id");
    key[64] = 'k';
    key[65] = '\0';
    text = apr_psprintf(pool, "{\"message\": {\"alert\": \"Hi\"}, \"collapseKey\": \"%s\"}", key);
    CHECK(!apns(text, NULL, &r, &err) && has(err, "collapseKey") && has(err, "65 bytes"),
          "a 65-byte collapseKey is refused");
    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"collapseKey\": \"\"}", NULL, &r, &err)
          && !r.collapse_id, "an empty collapseKey is none");

    m = msg_of("{\"message\": {\"alert\": \"Hi\"}}");
    CHECK(push_apns_map(pool, m, "t", -3, NULL, &r, &err) && r.expiration == 0,
          "a negative expiry is 0");
    CHECK(push_apns_map(pool, m, "t", 0, NULL, &r, &err) && r.expiration == 0, "no expiry is 0");
    json_object_put(m);
}

static void test_apns_size(void)
{
    push_apns_request_t r;
    const char *err;
    apr_size_t overhead = strlen("{\"aps\":{\"alert\":{\"body\":\"\"}}}");
    char *alert = apr_palloc(pool, 5001);

    memset(alert, 'x', 5000);
    alert[5000] = '\0';
    CHECK(!apns(apr_psprintf(pool, "{\"message\": {\"alert\": \"%s\"}}", alert), NULL, &r, &err)
          && has(err, "too large") && has(err, "5029 bytes"),
          "a 5029-byte payload is too large, with its size");
    alert[PUSH_APNS_MAX_PAYLOAD - overhead] = '\0';
    CHECK(apns(apr_psprintf(pool, "{\"message\": {\"alert\": \"%s\"}}", alert), NULL, &r, &err)
          && r.body_len == PUSH_APNS_MAX_PAYLOAD, "exactly 4096 bytes is accepted");
    alert[PUSH_APNS_MAX_PAYLOAD - overhead] = 'x';
    alert[PUSH_APNS_MAX_PAYLOAD - overhead + 1] = '\0';
    CHECK(!apns(apr_psprintf(pool, "{\"message\": {\"alert\": \"%s\"}}", alert), NULL, &r, &err)
          && has(err, "too large"), "4097 bytes is too large");
    alert[PUSH_APNS_MAX_PAYLOAD - overhead - 20] = '\0';
    CHECK(!apns(apr_psprintf(pool, "{\"message\": {\"alert\": \"%s\"}, \"settings\": {\"apns\":"
                             "{\"payload\": {\"extra\": \"%s\"}}}}", alert, alert), NULL, &r, &err)
          && has(err, "too large"), "the custom payload counts toward the limit");
}

static void test_apns_custom(void)
{
    push_apns_request_t r;
    const char *err;

    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"payload\": {"
               "\"aps\": {\"alert\": \"evil\", \"badge\": 99}, \"k\": \"v\", \"n\": 3,"
               "\"o\": {\"deep\": [1, 2]}, \"attachmentUrl\": \"custom\"}}}}", NULL, &r, &err),
          "a custom payload maps");
    CHECK(eq(str_at("aps.alert.body"), "Hi") && !at("aps.badge") && members_at("aps") == 1,
          "the custom payload never overrides aps");
    CHECK(eq(str_at("k"), "v") && int_at("n") == 3 && at("o.deep"),
          "custom members sit at top level with their JSON types");
    CHECK(eq(str_at("attachmentUrl"), "custom") && !at("aps.mutable-content"),
          "a custom attachmentUrl stays when the setting gives none");
    CHECK(apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"payload\": {"
               "\"attachmentUrl\": \"custom\"}, \"attachmentUrl\": \"https://a/b\"}}}", NULL, &r, &err)
          && eq(str_at("attachmentUrl"), "https://a/b") && members_at(NULL) == 2,
          "the attachmentUrl setting wins over the custom one");
    CHECK(!apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"payload\": \"x\"}}}",
                NULL, &r, &err) && has(err, "settings.apns.payload") && has(err, "object"),
          "a payload that is not an object is refused");
}

static void test_apns_errors(void)
{
    push_apns_request_t r;
    const char *err;

    CHECK(!apns("{\"message\": {\"alert\": \"\"}}", NULL, &r, &err) && has(err, "empty"),
          "an empty alert is empty");
    CHECK(!apns("{\"message\": {}}", NULL, &r, &err) && has(err, "empty"), "no alert is empty");
    CHECK(!apns("{}", NULL, &r, &err) && has(err, "empty"), "no message is empty");
    CHECK(!apns("{\"settings\": {\"apns\": {\"badge\": 1, \"sound\": \"s\"}}}", NULL, &r, &err)
          && has(err, "empty"), "badge and sound alone are empty");
    CHECK(apns("{\"settings\": {\"apns\": {\"title\": \"T\"}}}", NULL, &r, &err)
          && eq(str_at("aps.alert.title"), "T") && !at("aps.alert.body"),
          "a title alone is something to show");
    CHECK(apns("{\"settings\": {\"apns\": {\"locKey\": \"K\"}}}", NULL, &r, &err),
          "a loc-key alone is something to show");
    CHECK(!apns("{\"message\": {\"alert\": 5}}", NULL, &r, &err) && has(err, "message.alert")
          && has(err, "string"), "a numeric alert is refused by name");
    CHECK(!apns("{\"message\": \"Hi\"}", NULL, &r, &err) && has(err, "message is not an object"),
          "a message that is a string is refused");
    CHECK(!apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"badge\": \"3\"}}}",
                NULL, &r, &err) && has(err, "settings.apns.badge") && has(err, "integer"),
          "a badge that is a string is refused by name");
    CHECK(!apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"badge\": -1}}}",
                NULL, &r, &err) && has(err, "negative"), "a negative badge is refused");
    CHECK(!apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": {\"locArgs\": [\"a\", 1]}}}",
                NULL, &r, &err) && has(err, "settings.apns.locArgs"),
          "loc-args with a number are refused");
    CHECK(!apns("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"apns\": []}}", NULL, &r, &err)
          && has(err, "settings.apns"), "settings.apns as an array is refused");
    CHECK(!apns("[1]", NULL, &r, &err) && has(err, "not a JSON object"), "an array message is refused");
    err = NULL;
    CHECK(!push_apns_map(pool, NULL, "t", 0, NULL, &r, &err) && has(err, "not a JSON object"),
          "no message is refused");
}

static void test_apns_private(void)
{
    push_apns_request_t r;
    const char *err;

    CHECK(apns("{\"message\": {\"alert\": \"Secret text\"}, \"collapseKey\": \"c\", \"settings\":"
               "{\"apns\": {\"title\": \"T\", \"badge\": 4, \"sound\": \"s\", \"payload\": {\"k\": 1},"
               "\"attachmentUrl\": \"https://x/y\"}}}", "m-42", &r, &err)
          && eq(r.body, "{\"aps\":{\"alert\":{\"body\":\"" PUSH_PRIVATE_ALERT "\"},"
                "\"mutable-content\":1},\"messageId\":\"m-42\"," EJSON("m-42") "}"),
          "privacy mode: the generic alert, mutable-content, the message id and its ejson only");
    CHECK(!has(r.body, "Secret") && !has(r.body, "https://x/y"), "no text of the message leaves");
    CHECK(eq(r.push_type, "alert") && r.priority == 10 && eq(r.collapse_id, "c"),
          "privacy mode keeps the delivery headers");
    CHECK(apns("{\"priority\": \"normal\"}", "m-1", &r, &err) && r.priority == 5,
          "privacy mode needs no alert of its own, and honours priority normal");
    CHECK(apns("{\"message\": {\"alert\": \"x\"}, \"settings\": {\"apns\": {\"type\": \"SILENT\"}}}",
               "m-43", &r, &err)
          && eq(r.body, "{\"aps\":{\"content-available\":1},\"messageId\":\"m-43\"," EJSON("m-43") "}")
          && eq(r.push_type, "background") && r.priority == 5,
          "a SILENT message in privacy mode stays silent");
    CHECK(apns("{\"message\": {\"alert\": \"x\"}, \"settings\": {\"apns\": {\"type\": \"MIXED\"}}}",
               "m-44", &r, &err)
          && eq(str_at("aps.alert.body"), PUSH_PRIVATE_ALERT) && int_at("aps.content-available") == 1
          && int_at("aps.mutable-content") == 1 && eq(r.push_type, "alert"),
          "a MIXED message in privacy mode stays content-available");
}

static void test_fcm_basic(void)
{
    const char *b, *err;

    CHECK(fcm("{\"message\": {\"alert\": \"Hello\"}}", -1, NULL, &b, &err)
          && eq(b, "{\"message\":{\"token\":\"tok-1\",\"notification\":{\"body\":\"Hello\"}}}"),
          "a plain alert: the token and notification.body, nothing else");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"payload\": {"
              "\"s\": \"x\", \"n\": 3, \"f\": 1.5, \"b\": true, \"o\": {\"a\": \"/\"}, \"arr\": [1, \"2\"],"
              "\"nul\": null}}}}", -1, NULL, &b, &err), "a custom payload maps");
    CHECK(eq(str_at("message.data.s"), "x") && eq(str_at("message.data.n"), "3")
          && eq(str_at("message.data.f"), "1.5") && eq(str_at("message.data.b"), "true")
          && eq(str_at("message.data.o"), "{\"a\":\"/\"}")
          && eq(str_at("message.data.arr"), "[1,\"2\"]") && eq(str_at("message.data.nul"), "null"),
          "data values are strings: strings as given, others as their JSON text");
    CHECK(members_at("message.data") == 7, "every payload member is in data");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"payload\": {"
               "\"from\": \"x\"}}}}", -1, NULL, &b, &err) && has(err, "\"from\"") && has(err, "reserve"),
          "the reserved key from is refused");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"payload\": {"
               "\"google.x\": \"x\"}}}}", -1, NULL, &b, &err) && has(err, "google.x"),
          "a key starting with google is refused");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"payload\": {"
               "\"gcm.n\": \"x\"}}}}", -1, NULL, &b, &err) && has(err, "gcm.n"),
          "a key starting with gcm is refused");
    CHECK(fcm("{\"settings\": {\"gcm\": {\"payload\": {\"k\": \"v\"}, \"sound\": \"s\"}}}", -1, NULL,
              &b, &err) && !at("message.notification") && eq(str_at("message.data.k"), "v")
          && !at("message.android.notification"),
          "no alert but data: a data message, without notification options");
    CHECK(!fcm("{\"message\": {\"alert\": \"\"}}", -1, NULL, &b, &err) && has(err, "empty"),
          "neither an alert nor data is empty");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"payload\": []}}}", -1,
               NULL, &b, &err) && has(err, "settings.gcm.payload"),
          "a payload that is not an object is refused");
    err = NULL;
    CHECK(!push_fcm_map(pool, NULL, "t", -1, NULL, &b, &err) && has(err, "not a JSON object"),
          "no message is refused");
}

static void test_fcm_android(void)
{
    const char *b, *err;

    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"collapseKey\": \"m\"}", -1, NULL, &b, &err)
          && eq(str_at("message.android.collapse_key"), "m"), "the message's collapseKey");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"collapseKey\": \"m\", \"settings\": {\"gcm\": {"
              "\"collapseKey\": \"g\"}}}", -1, NULL, &b, &err)
          && eq(str_at("message.android.collapse_key"), "g"), "settings.gcm.collapseKey wins");

    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"priority\": \"max\"}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.priority"), "HIGH"), "gcm max: HIGH");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"priority\": \"high\"}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.priority"), "HIGH"), "gcm high: HIGH");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"priority\": \"default\"}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.priority"), "NORMAL"),
          "gcm default: NORMAL");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"priority\": \"min\"}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.priority"), "NORMAL"), "gcm min: NORMAL");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"priority\": \"normal\", \"settings\": {\"gcm\": {"
              "\"priority\": \"max\"}}}", -1, NULL, &b, &err)
          && eq(str_at("message.android.priority"), "NORMAL"),
          "the message's priority normal wins over gcm max");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"priority\": \"high\"}", -1, NULL, &b, &err)
          && eq(str_at("message.android.priority"), "HIGH"), "the message's priority high: HIGH");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}}", -1, NULL, &b, &err) && !at("message.android"),
          "no priority, collapse key or ttl: no android block");

    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"timeToLive\": 3600}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.ttl"), "3600s"), "timeToLive: 3600s");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"timeToLive\": 3600}}}",
              100, NULL, &b, &err) && eq(str_at("message.android.ttl"), "100s"),
          "the message's expiry shortens timeToLive");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"timeToLive\": 60}}}",
              100, NULL, &b, &err) && eq(str_at("message.android.ttl"), "60s"),
          "a shorter timeToLive stays");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}}", 7200, NULL, &b, &err)
          && eq(str_at("message.android.ttl"), "7200s"), "ttl from the expiry alone");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}}", 0, NULL, &b, &err)
          && eq(str_at("message.android.ttl"), "0s"), "ttl 0: deliver now or drop");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"timeToLive\": 99999999}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.ttl"), "2419200s"),
          "ttl is at most four weeks");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"timeToLive\": -1}}}",
               -1, NULL, &b, &err) && has(err, "settings.gcm.timeToLive"), "a negative timeToLive is refused");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"timeToLive\": \"60\"}}}",
               -1, NULL, &b, &err) && has(err, "settings.gcm.timeToLive") && has(err, "integer"),
          "a timeToLive that is a string is refused");

    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"sound\": \"ding\","
              "\"visibility\": \"private\"}}}", -1, NULL, &b, &err)
          && eq(str_at("message.android.notification.sound"), "ding")
          && eq(str_at("message.android.notification.visibility"), "PRIVATE"),
          "sound and visibility private: PRIVATE");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"visibility\": \"public\"}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.notification.visibility"), "PUBLIC")
          && members_at("message.android.notification") == 1, "visibility public: PUBLIC");
    CHECK(fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"visibility\": \"SECRET\"}}}",
              -1, NULL, &b, &err) && eq(str_at("message.android.notification.visibility"), "SECRET"),
          "visibility secret: SECRET");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"settings\": {\"gcm\": {\"visibility\": \"hidden\"}}}",
               -1, NULL, &b, &err) && has(err, "settings.gcm.visibility") && has(err, "hidden"),
          "an unknown visibility is refused by name");
    CHECK(!fcm("{\"message\": {\"alert\": \"Hi\"}, \"priority\": \"low\"}", -1, NULL, &b, &err)
          && has(err, "priority"), "an unknown message priority is refused");
}

static void test_fcm_private(void)
{
    const char *b, *err;

    CHECK(fcm("{\"message\": {\"alert\": \"Secret text\"}, \"priority\": \"high\", \"settings\": {"
              "\"gcm\": {\"payload\": {\"k\": \"v\"}, \"sound\": \"s\", \"timeToLive\": 60}}}", -1, "m-7",
              &b, &err), "privacy mode maps");
    CHECK(!at("message.notification") && members_at("message.data") == 2
          && eq(str_at("message.data.messageId"), "m-7") && !has(b, "Secret"),
          "privacy mode: no notification, data holds the message id and its ejson only");
    CHECK(eq(str_at("message.android.priority"), "HIGH") && eq(str_at("message.android.ttl"), "60s")
          && !at("message.android.notification"), "privacy mode keeps the delivery options");
    CHECK(fcm("{}", -1, "m-8", &b, &err)
          && eq(b, "{\"message\":{\"token\":\"tok-1\",\"data\":{\"messageId\":\"m-8\","
                EJSON("m-8") "}}}"),
          "privacy mode needs no alert of its own");
    err = NULL;
    {
        json_object *m = msg_of("{\"message\": {\"alert\": \"Hi\"}}");
        CHECK(!push_fcm_map(pool, m, "", -1, NULL, &b, &err) && has(err, "token"),
              "an empty token is refused");
        json_object_put(m);
    }
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    test_apns_basic();
    test_apns_types();
    test_apns_headers();
    test_apns_size();
    test_apns_custom();
    test_apns_errors();
    test_apns_private();
    test_fcm_basic();
    test_fcm_android();
    test_fcm_private();

    json_object_put(last);
    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
