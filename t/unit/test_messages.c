/* Message bodies as the message API checks them, and ISO 8601 times. */
#include <apr_general.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "core/messages.h"
#include "unit.h"

static apr_pool_t *pool;
static const apr_time_t NOW = APR_INT64_C(1800000000) * APR_USEC_PER_SEC;

/* The offending property for body (JSON text), or "ok"; *out gets the record. */
static const char *check(const char *text, json_object **out, int *unknown)
{
    json_object *body = json_tokener_parse(text), *rec = NULL;
    int u = 0;
    const char *bad = push_message_check(pool, body, NOW, PUSH_DEFAULT_SCHEDULE, &rec, &u);
    if (unknown)
        *unknown = u;
    if (out)
        *out = rec;
    else
        json_object_put(rec);
    json_object_put(body);
    return bad ? bad : "ok";
}

static const char *field(json_object *rec, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(rec, k, &v) ? json_object_get_string(v) : "(none)";
}

int main(void)
{
    json_object *rec;
    apr_time_t t;
    int unknown;

    apr_initialize();
    apr_pool_create(&pool, NULL);

    CHECK(strcmp(check("{\"message\":{\"alert\":\"hi\"}}", &rec, NULL), "ok") == 0, "a plain message");
    CHECK(strlen(field(rec, "id")) == 36, "gets a UUID");
    CHECK(strcmp(field(rec, "sendAt"), "2027-01-15T08:00:00.000Z") == 0, "sendAt defaults to now");
    CHECK(strcmp(field(rec, "expiresAt"), "(none)") == 0, "no expiry unless asked");
    CHECK(strcmp(field(rec, "type"), "1") == 0, "notificationType 1 by default");
    json_object_put(rec);

    CHECK(strcmp(check("{\"message\":{\"alert\":\"hi\"},\"expiration\":60,\"priority\":\"normal\","
                       "\"collapseKey\":\"k\",\"category\":\"alarms\",\"target\":{\"tagNames\":[\"a\"]}}",
                       &rec, NULL), "ok") == 0, "every mod_push addition");
    CHECK(strcmp(field(rec, "expiresAt"), "2027-01-15T08:01:00.000Z") == 0, "expiration in seconds from now");
    CHECK(strcmp(field(rec, "category"), "alarms") == 0, "category kept");
    CHECK(strcmp(field(rec, "priority"), "normal") == 0, "priority kept");
    json_object_put(rec);
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"sendAt\":\"2027-01-15T10:00:00+02:00\"}", &rec, NULL),
                 "ok") == 0, "sendAt with an offset");
    CHECK(strcmp(field(rec, "sendAt"), "2027-01-15T08:00:00.000Z") == 0, "... normalized to UTC");
    json_object_put(rec);

    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"colour\":1}", NULL, &unknown), "colour") == 0 && unknown,
          "an unknown property is named, as unknown");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\",\"body\":1}}", NULL, &unknown), "message.body") == 0 &&
          unknown, "an unknown member of message");
    CHECK(strcmp(check("{\"message\":{\"alert\":5}}", NULL, &unknown), "message.alert") == 0 && !unknown,
          "alert must be text");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"\"}}", NULL, NULL), "message.alert") == 0, "an empty alert");
    CHECK(strcmp(check("{}", NULL, NULL), "message") == 0, "message is required");
    CHECK(strcmp(check("[1]", NULL, NULL), "message") == 0, "not an object");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"target\":{\"deviceIds\":[\"a\"],\"userIds\":[\"b\"]}}",
                       NULL, NULL), "target") == 0, "one kind of target only");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"target\":{\"deviceIds\":[]}}", NULL, NULL),
                 "target.deviceIds") == 0, "an empty list");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"target\":{\"deviceIds\":[1]}}", NULL, NULL),
                 "target.deviceIds") == 0, "ids are strings");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"target\":{\"platforms\":[\"Q\"]}}", NULL, NULL),
                 "target.platforms") == 0, "platform codes A G W B");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"target\":{\"groups\":[\"a\"]}}", NULL, NULL),
                 "target.groups") == 0, "unknown target kind");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"notificationType\":4}", NULL, NULL),
                 "notificationType") == 0, "notificationType 1..3");
    CHECK(strcmp(check("{\"message\":{},\"notificationType\":2}", NULL, NULL), "message.alert") == 0,
          "an SMS needs a text");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"category\":\"a,b\"}", NULL, NULL), "category") == 0,
          "one category, not a filter");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"priority\":\"urgent\"}", NULL, NULL), "priority") == 0,
          "priority high|normal");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"collapseKey\":\"0123456789012345678901234567890123456789"
                       "012345678901234567890123456789\"}", NULL, NULL), "collapseKey") == 0,
          "collapseKey at most 64 bytes");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"collapseKey\":\"k\\r\\nx-evil: 1\"}", NULL, NULL),
                 "collapseKey") == 0, "collapseKey becomes apns-collapse-id: no CR LF");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"collapseKey\":\"sc\\u00f6re\"}", NULL, NULL),
                 "collapseKey") == 0, "collapseKey is ASCII");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"collapseKey\":\"score 1\"}", NULL, NULL), "ok") == 0,
          "collapseKey may hold a space");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"gcm\":{\"collapseKey\":\"a\\nb\"}}}",
                       NULL, NULL), "settings.gcm.collapseKey") == 0, "settings.gcm.collapseKey: no LF");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"gcm\":{\"collapseKey\":7}}}",
                       NULL, NULL), "settings.gcm.collapseKey") == 0, "settings.gcm.collapseKey is a string");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"gcm\":{\"collapseKey\":\"\"}}}",
                       NULL, NULL), "ok") == 0, "an empty settings.gcm.collapseKey means none");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"line 1\\nline 2\\tend\"}}", NULL, NULL), "ok") == 0,
          "an alert may hold LF and TAB");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"a\\u0000b\"}}", NULL, NULL), "message.alert") == 0,
          "an alert refuses NUL");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"a\\u001bb\"}}", NULL, NULL), "message.alert") == 0,
          "an alert refuses ESC");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"target\":{\"deviceIds\":[\"a\\tb\"]}}", NULL, NULL),
                 "target.deviceIds") == 0, "target ids are identifiers: no TAB");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"expiration\":0}", NULL, NULL), "expiration") == 0,
          "expiration must be in the future");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"expiration\":\"2020-01-01T00:00:00Z\"}", NULL, NULL),
                 "expiration") == 0, "an expiration in the past");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"sendAt\":\"2028-01-01T00:00:00Z\","
                       "\"expiration\":\"2027-06-01T00:00:00Z\"}", NULL, NULL), "expiration") == 0,
          "an expiration before sendAt");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"apns\":{\"badge\":\"1\"}}}", NULL, NULL),
                 "settings.apns.badge") == 0, "badge is a number");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"apns\":{\"type\":\"LOUD\"}}}", NULL, NULL),
                 "settings.apns.type") == 0, "type DEFAULT|MIXED|SILENT");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"gcm\":{\"payload\":[1]}}}", NULL, NULL),
                 "settings.gcm.payload") == 0, "payload is an object");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"mpns\":{}}}", NULL, NULL),
                 "settings.mpns") == 0, "unknown settings family");

    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"apns\":{\"badge\":2147483647}}}",
                       NULL, NULL), "ok") == 0, "badge up to 2^31-1");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"apns\":{\"badge\":2147483648}}}",
                       NULL, NULL), "settings.apns.badge") == 0, "badge 2^31 is refused");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"apns\":{\"badge\":-1}}}",
                       NULL, NULL), "settings.apns.badge") == 0, "a negative badge is refused");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"apns\":"
                       "{\"badge\":99999999999999999999999}}}", NULL, NULL), "settings.apns.badge") == 0,
          "a badge past 64 bits is refused");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"settings\":{\"wns\":{\"badge\":{\"value\":4294967296}}}}",
                       NULL, NULL), "settings.wns.badge") == 0, "a WNS badge past 32 bits is refused");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"notificationType\":4294967297}", NULL, NULL),
                 "notificationType") == 0, "notificationType is not taken modulo 2^32");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"sendAt\":\"2027-02-29T00:00:00Z\"}", NULL, NULL),
                 "sendAt") == 0, "an impossible date (2027 is no leap year)");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"sendAt\":\"2028-01-14T08:00:00Z\"}", NULL, NULL),
                 "ok") == 0, "sendAt just within a year");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"sendAt\":\"2028-01-16T08:00:00Z\"}", NULL, NULL),
                 "sendAt") == 0, "sendAt more than a year ahead");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"sendAt\":\"9999-12-31T23:59:59Z\"}", NULL, NULL),
                 "sendAt") == 0, "sendAt in year 9999");
    CHECK(strcmp(check("{\"message\":{\"alert\":\"x\"},\"expiration\":\"9999-12-31T23:59:59Z\"}", NULL, NULL),
                 "expiration") == 0, "an expiration more than a year after the sending");
    {
        json_object *b = json_tokener_parse("{\"message\":{\"alert\":\"x\"},\"sendAt\":\"2027-01-15T09:00:00Z\"}");
        json_object *r2 = NULL;
        int u2;
        CHECK(push_message_check(pool, b, NOW, apr_time_from_sec(60), &r2, &u2) != NULL,
              "a shorter horizon (PushMaxSchedule 1m) refuses an hour ahead");
        CHECK(push_message_check(pool, b, NOW, apr_time_from_sec(7200), &r2, &u2) == NULL, "... 2h takes it");
        json_object_put(r2);
        json_object_put(b);
    }
    {
        json_object *b = json_tokener_parse("{\"message\":{\"alert\":\"x\"},\"settings\":{\"apns\":"
                                            "{\"payload\":{\"list\":[\"ok\",{\"k\":\"a\\u0000b\"}]}}}}");
        const char *where = push_json_nul_path(pool, b);
        CHECK(where && strcmp(where, "settings.apns.payload.list[1].k") == 0, "a NUL is found and named");
        json_object_put(b);
        b = json_tokener_parse("[{\"a\":1},{\"b\":\"\\u0000\"}]");
        where = push_json_nul_path(pool, b);
        CHECK(where && strcmp(where, "[1].b") == 0, "... in an array of objects");
        json_object_put(b);
        b = json_tokener_parse("{\"a\":1,\"n\":[0,{\"k\":NaN}]}");
        where = push_json_number_path(pool, b);
        CHECK(where && strcmp(where, "n[1].k") == 0, "NaN is found and named");
        json_object_put(b);
        b = json_tokener_parse("{\"big\":99999999999999999999999}");
        where = push_json_number_path(pool, b);
        CHECK(where && strcmp(where, "big") == 0, "an integer beyond 64 bits is found");
        json_object_put(b);
        b = json_tokener_parse("[-Infinity]");
        where = push_json_number_path(pool, b);
        CHECK(where && strcmp(where, "[0]") == 0, "-Infinity is found");
        json_object_put(b);
        b = json_tokener_parse("{\"a\":1e400,\"b\":2}");
        CHECK((where = push_json_number_path(pool, b)) && strcmp(where, "a") == 0, "1e400 is found");
        json_object_put(b);
        b = json_tokener_parse("{\"a\":1e-400}");
        CHECK((where = push_json_number_path(pool, b)) && strcmp(where, "a") == 0, "1e-400 (read as 0) is found");
        json_object_put(b);
        b = json_tokener_parse("{\"a\":0.0,\"b\":-0,\"c\":1.5e-300,\"d\":9223372036854775806,"
                               "\"e\":-9223372036854775807,\"f\":0e10,\"g\":1e18}");
        CHECK(push_json_number_path(pool, b) == NULL, "ordinary numbers and the 64-bit range pass");
        json_object_put(b);
        b = json_tokener_parse("{\"a\":[1.5, 1.]}");
        CHECK((where = push_json_number_path(pool, b)) && strcmp(where, "a[1]") == 0, "1. (no digit after the point)");
        json_object_put(b);
        b = json_tokener_parse("{\"a\":1.e3}");
        CHECK(b == NULL || push_json_number_path(pool, b) != NULL, "1.e3");
        json_object_put(b);
        b = json_tokener_parse("7");
        CHECK(push_json_number_path(pool, b) == NULL, "a bare number passes");
        json_object_put(b);
        b = json_tokener_parse("{\"a\":\"no nul \\\\u0000 here\"}");
        CHECK(push_json_nul_path(pool, b) == NULL, "an escaped backslash before u0000 is no NUL");
        json_object_put(b);
    }
    CHECK(push_json_text_has_nul("{\"a\\u0000b\":1}", 15), "a NUL in a property name");
    CHECK(!push_json_text_has_nul("{\"a\\\\u0000\":1}", 15), "a backslash, then u0000");
    CHECK(push_json_text_has_nul("[\"\\\\\\u0000\"]", 13), "three backslashes: the third escapes");
    CHECK(!push_json_text_has_nul("u0000", 5), "u0000 alone");

    CHECK(push_iso_time_parse("2028-02-29T00:00:00Z", &t), "February 29th of a leap year");
    CHECK(!push_iso_time_parse("2026-12-31T23:59:60Z", &t), "a leap second is refused");
    CHECK(!push_iso_time_parse("2027-01-01T12:34:60Z", &t), "... and so is :60 at any other time");
    CHECK(!push_iso_time_parse("2027-01-01T-1:00:00Z", &t), "a signed hour");
    CHECK(!push_iso_time_parse("2027-01-01T10:00:-1Z", &t), "a signed second");
    CHECK(!push_iso_time_parse("2027-01-01T10:00: 5Z", &t), "a space for a digit");
    CHECK(!push_iso_time_parse("2027-01-01T10:00:+5Z", &t), "a plus for a digit");
    CHECK(!push_iso_time_parse("2027-01-01T10:00:00+05:-3", &t), "a signed offset minute");
    CHECK(push_iso_time_parse("2027-01-01T10:00:00.5+05:30", &t), "a fraction and an offset");
    CHECK(!push_iso_time_parse("2030-02-31T00:00:00Z", &t), "February 31st");
    CHECK(!push_iso_time_parse("2100-02-29T00:00:00Z", &t), "2100 is no leap year");
    CHECK(push_iso_time_parse("2000-02-29T00:00:00Z", &t), "2000 is");
    CHECK(!push_iso_time_parse("2027-04-31T00:00:00Z", &t), "April 31st");
    CHECK(push_iso_time_parse("2027-01-15T08:00:00Z", &t) && t == NOW, "ISO time, Z");
    CHECK(push_iso_time_parse("2027-01-15T08:00:00.5Z", &t) && t == NOW + 500000, "fractions");
    CHECK(push_iso_time_parse("2027-01-15T09:30:00+01:30", &t) && t == NOW, "an offset");
    CHECK(!push_iso_time_parse("2027-01-15 08:00:00Z", &t), "a space instead of T");
    CHECK(!push_iso_time_parse("2027-01-15T08:00:00", &t), "no zone");
    CHECK(!push_iso_time_parse("2027-13-15T08:00:00Z", &t), "month 13");
    CHECK(!push_iso_time_parse("2027-01-15T08:00:00Zjunk", &t), "trailing bytes");
    CHECK(!push_iso_time_parse("2027-01-15T08:00:00.Z", &t), "a dot without digits");
    CHECK(strcmp(push_iso_time(pool, NOW + 1234), "2027-01-15T08:00:00.001Z") == 0, "formatting");

    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
