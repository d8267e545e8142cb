/* WNS without the network: XML escaping, the mapping of each type, the headers beside
 * it, channel URIs accepted and refused, tenant ids, and the answers classified. */
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "sender/egress.h"
#include "sender/wnsmap.h"
#include "unit.h"

static apr_pool_t *pool;

static push_wns_request_t req;
static const char *err;

/* Maps the JSON text; 1 when it mapped. */
static int map(const char *json)
{
    json_object *o = json_tokener_parse(json);
    int ok;
    err = NULL;
    if (!o) {
        err = "bad test JSON";
        return 0;
    }
    ok = push_wns_map(pool, o, &req, &err);
    json_object_put(o);
    return ok;
}

static const char *channel(const char *uri, const push_egress_t *g)
{
    const char *why = push_wns_channel_problem(pool, uri, g);
    return why ? why : "ok";
}

static push_outcome_t answer(long status, const char *wns_status, const char *retry_after)
{
    push_outcome_t o;
    push_classify_wns(pool, status, wns_status, retry_after, "Timeout was reached", &o);
    return o;
}

int main(void)
{
    push_egress_t *g;
    push_outcome_t o;

    apr_initialize();
    apr_pool_create(&pool, NULL);

    /* --- escaping --- */
    CHECK(strcmp(push_xml_escape(pool, "a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;") == 0,
          "the five entities are escaped");
    CHECK(strcmp(push_xml_escape(pool, "plain \xc3\xa9t\xc3\xa9\n\ttab"), "plain \xc3\xa9t\xc3\xa9\n\ttab") == 0,
          "text without entities (UTF-8, tab, newline) is unchanged");
    CHECK(strcmp(push_xml_escape(pool, ""), "") == 0, "the empty string stays empty");
    CHECK(push_xml_escape(pool, "bell\x07") == NULL, "a control character XML cannot carry is refused");
    CHECK(strcmp(push_xml_escape(pool, "&amp;"), "&amp;amp;") == 0, "an entity given is escaped, not kept");

    /* --- toast --- */
    CHECK(map("{\"message\":{\"alert\":\"Hi <b> & \\\"you\\\" 'there'\"}}"), "an alert maps to a toast");
    CHECK(strcmp(req.type, "wns/toast") == 0 && strcmp(req.content_type, "text/xml") == 0, "... wns/toast, text/xml");
    CHECK(strcmp(req.body, "<toast><visual><binding template=\"ToastGeneric\"><text id=\"1\">Hi &lt;b&gt; &amp; "
                           "&quot;you&quot; &apos;there&apos;</text></binding></visual></toast>") == 0,
          "... the alert escaped in ToastGeneric");
    CHECK(req.ttl == -1 && !req.cache_policy && !req.tag, "... no TTL, cache policy or tag unless asked");
    CHECK(map("{\"message\":{\"alert\":\"body\"},\"collapseKey\":\"news\",\"settings\":{\"wns\":{\"toast\":"
              "{\"title\":\"T&C\",\"launch\":\"page=\\\"1\\\"\",\"duration\":\"long\",\"audio\":{\"src\":"
              "\"ms-winsoundevent:Notification.Mail\",\"loop\":false}},\"expirationTime\":120,\"cachePolicy\":false}}}"),
          "a toast with title, launch, duration and audio maps");
    CHECK(strcmp(req.body, "<toast launch=\"page=&quot;1&quot;\" duration=\"long\"><visual><binding template="
                           "\"ToastGeneric\"><text id=\"1\">T&amp;C</text><text id=\"2\">body</text></binding>"
                           "</visual><audio src=\"ms-winsoundevent:Notification.Mail\" loop=\"false\"/></toast>") == 0,
          "... title first, attributes escaped");
    CHECK(req.ttl == 120 && strcmp(req.cache_policy, "no-cache") == 0 && strcmp(req.tag, "news") == 0,
          "... TTL, cache policy and tag");
    CHECK(map("{\"message\":{\"alert\":\"x\"},\"settings\":{\"wns\":{\"toast\":{\"visual\":{\"lang\":\"de\",\"binding\":"
              "{\"template\":\"ToastImageAndText02\",\"text\":[{\"id\":1,\"content\":\"A\"},\"B\"],\"image\":"
              "[{\"id\":1,\"src\":\"https://x/a.png?a=1&b=2\",\"alt\":\"<pic>\"}]}}}}}}"),
          "MobileFirst's visual.binding maps");
    CHECK(strcmp(req.body, "<toast><visual lang=\"de\"><binding template=\"ToastImageAndText02\"><text id=\"1\">A</text>"
                           "<text id=\"2\">B</text><image id=\"1\" src=\"https://x/a.png?a=1&amp;b=2\" alt=\"&lt;pic&gt;\"/>"
                           "</binding></visual></toast>") == 0,
          "... texts and images in order, escaped");
    CHECK(!map("{\"settings\":{\"wns\":{}}}") && strstr(err, "no alert"), "a toast with nothing to show is refused");
    CHECK(!map("{\"message\":{\"alert\":\"a\"},\"settings\":{\"wns\":{\"toast\":{\"title\":5}}}}") &&
              strcmp(err, "settings.wns.toast.title has the wrong type") == 0,
          "a title that is not a string names the field");
    CHECK(!map("{\"message\":{\"alert\":\"a\"},\"settings\":{\"wns\":{\"toast\":{\"duration\":\"forever\"}}}}"),
          "a duration other than short or long is refused");
    CHECK(!map("{\"message\":{\"alert\":\"a\x01\"}}") && strstr(err, "XML cannot carry"),
          "an alert XML cannot carry is refused");
    CHECK(!map("{\"message\":{\"alert\":\"a\"},\"collapseKey\":\"seventeen-chars-x\"}") && strstr(err, "16"),
          "a collapse key longer than a WNS tag is refused");
    CHECK(map("{\"message\":{\"alert\":\"a\"},\"collapseKey\":\"sixteen-chars-xx\"}") && strlen(req.tag) == 16,
          "... sixteen characters are a tag");

    /* --- tile, badge, raw --- */
    CHECK(map("{\"message\":{\"alert\":\"Score 2:1\"},\"collapseKey\":\"score\",\"settings\":{\"wns\":{\"tile\":{}}}}"),
          "settings.wns.tile maps to a tile");
    CHECK(strcmp(req.type, "wns/tile") == 0 &&
              strcmp(req.body, "<tile><visual><binding template=\"TileMedium\"><text id=\"1\">Score 2:1</text>"
                               "</binding></visual></tile>") == 0 && strcmp(req.tag, "score") == 0,
          "... the alert on a TileMedium, tagged");
    CHECK(map("{\"settings\":{\"wns\":{\"tile\":{\"visual\":{\"binding\":[{\"template\":\"TileSmall\",\"text\":\"s\"},"
              "{\"template\":\"TileWide\",\"text\":[\"w1\",\"w2\"]}]}}}}}"),
          "a tile with a binding per size maps");
    CHECK(strcmp(req.body, "<tile><visual><binding template=\"TileSmall\"><text id=\"1\">s</text></binding>"
                           "<binding template=\"TileWide\"><text id=\"1\">w1</text><text id=\"2\">w2</text></binding>"
                           "</visual></tile>") == 0,
          "... both bindings");
    CHECK(map("{\"message\":{\"alert\":\"a\"},\"collapseKey\":\"k\",\"settings\":{\"wns\":{\"badge\":{\"value\":\"7\","
              "\"version\":2}}}}"),
          "settings.wns.badge maps to a badge");
    CHECK(strcmp(req.type, "wns/badge") == 0 && strcmp(req.body, "<badge value=\"7\" version=\"2\"/>") == 0 && !req.tag,
          "... value and version, never a tag");
    CHECK(map("{\"settings\":{\"wns\":{\"badge\":{\"value\":12}}}}") && strcmp(req.body, "<badge value=\"12\"/>") == 0,
          "a numeric badge value");
    CHECK(map("{\"settings\":{\"wns\":{\"badge\":{\"value\":\"newMessage\"}}}}") &&
              strcmp(req.body, "<badge value=\"newMessage\"/>") == 0,
          "a glyph");
    CHECK(!map("{\"settings\":{\"wns\":{\"badge\":{\"value\":\"\\\"/><x\"}}}}"), "any other badge value is refused");
    CHECK(!map("{\"settings\":{\"wns\":{\"badge\":{}}}}"), "a badge without a value is refused");
    CHECK(map("{\"message\":{\"alert\":\"a\"},\"collapseKey\":\"k\",\"settings\":{\"wns\":{\"raw\":{\"payload\":"
              "\"<not xml & raw>\"}}}}"),
          "settings.wns.raw maps to raw");
    CHECK(strcmp(req.type, "wns/raw") == 0 && strcmp(req.content_type, "application/octet-stream") == 0 &&
              strcmp(req.body, "<not xml & raw>") == 0 && !req.tag,
          "... the payload as it is, octet-stream, no tag");
    CHECK(map("{\"settings\":{\"wns\":{\"raw\":{\"payload\":{\"custom\":\"data\"}}}}}") &&
              strcmp(req.body, "{\"custom\":\"data\"}") == 0,
          "a JSON raw payload is sent as its JSON text");
    CHECK(!map("{\"settings\":{\"wns\":{\"raw\":{}}}}"), "raw without a payload is refused");
    CHECK(map("{\"message\":{\"alert\":\"a\"},\"settings\":{\"wns\":{\"raw\":{\"payload\":\"r\"},\"badge\":{\"value\":1},"
              "\"toast\":{}}}}") && strcmp(req.type, "wns/raw") == 0,
          "raw wins over tile, badge and toast");
    CHECK(!map("{\"message\":{\"alert\":\"a\"},\"settings\":{\"wns\":{\"cachePolicy\":\"maybe\"}}}"),
          "an unknown cache policy is refused");
    CHECK(map("{\"message\":{\"alert\":\"a\"},\"settings\":{\"wns\":{\"cachePolicy\":true}}}") &&
              strcmp(req.cache_policy, "cache") == 0,
          "cachePolicy true is cache");
    CHECK(!map("{\"message\":{\"alert\":\"a\"},\"settings\":{\"wns\":{\"expirationTime\":-1}}}"),
          "a negative expirationTime is refused");
    {
        char big[6000], json[6200];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        apr_snprintf(json, sizeof(json), "{\"settings\":{\"wns\":{\"raw\":{\"payload\":\"%s\"}}}}", big);
        CHECK(!map(json) && strstr(err, "5000"), "a payload over 5000 bytes is refused");
    }

    /* --- channel URIs --- */
    g = push_egress_make(pool);
    CHECK(strcmp(channel("https://db5.notify.windows.com/?token=AwYAAAB%2b", NULL), "ok") == 0, "a WNS channel");
    CHECK(strcmp(channel("https://AM3P.Notify.Windows.COM./?token=x", NULL), "ok") == 0,
          "... the host in any case, with a trailing dot");
    CHECK(strcmp(channel("http://db5.notify.windows.com/?token=x", NULL), "a WNS channel URI must be https") == 0,
          "http is refused");
    CHECK(strstr(channel("https://notify.windows.com.evil.example/?token=x", NULL), "notify.windows.com") != NULL,
          "a host that only starts like WNS is refused");
    CHECK(strstr(channel("https://evilnotify.windows.com/", NULL), "notify.windows.com") != NULL,
          "a host that only ends like WNS is refused");
    CHECK(strstr(channel("https://notify.windows.com/", NULL), "notify.windows.com") != NULL,
          "the bare suffix is not a channel host");
    CHECK(strstr(channel("https://10.0.0.1/?token=x", NULL), "refused address") != NULL,
          "an internal address is refused");
    CHECK(strstr(channel("https://user:pw@db5.notify.windows.com/", NULL), "credentials") != NULL,
          "credentials in the URI are refused");
    CHECK(strstr(channel("ftp://db5.notify.windows.com/", NULL), "scheme") != NULL, "another scheme is refused");
    CHECK(strstr(channel("http://127.0.0.1:4000/wns/x", g), "refused address") != NULL,
          "loopback is refused when PushEgressAllow does not name it");
    CHECK(push_egress_allow(pool, g, "127.0.0.1:4000") == NULL, "(PushEgressAllow 127.0.0.1:4000)");
    CHECK(strcmp(channel("http://127.0.0.1:4000/wns/x", g), "ok") == 0, "a destination PushEgressAllow names");
    CHECK(strstr(channel("http://127.0.0.1:4001/wns/x", g), "refused") != NULL, "... on its port only");
    CHECK(strstr(channel("https://8.8.8.8/wns/x", g), "notify.windows.com") != NULL,
          "a public address PushEgressAllow does not name is refused");

    /* --- tenants --- */
    CHECK(push_wns_tenant_ok("72f988bf-86f1-41af-91ab-2d7cd011db47"), "a GUID tenant");
    CHECK(push_wns_tenant_ok("contoso.onmicrosoft.com"), "a domain tenant");
    CHECK(!push_wns_tenant_ok("") && !push_wns_tenant_ok("a/b") && !push_wns_tenant_ok("..") &&
              !push_wns_tenant_ok("x?y") && !push_wns_tenant_ok(".a") && !push_wns_tenant_ok("a b"),
          "anything else is refused");

    /* --- answers --- */
    o = answer(200, "received", NULL);
    CHECK(o.kind == PUSH_OUT_SENT, "200 is sent");
    o = answer(200, "channelthrottled", NULL);
    CHECK(o.kind == PUSH_OUT_RETRY, "X-WNS-Status channelthrottled retries");
    o = answer(406, NULL, "7");
    CHECK(o.kind == PUSH_OUT_RETRY && o.retry_after == 7, "406 retries, with Retry-After");
    o = answer(404, "", NULL);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE, "404: the channel is gone");
    o = answer(410, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_DEVICE_GONE, "410: the channel is gone");
    o = answer(401, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_CREDENTIALS && strcmp(o.reason, PUSH_WNS_UNAUTHORIZED) == 0,
          "401 is the access token (renewed by the caller)");
    o = answer(403, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_CREDENTIALS, "403 is credentials");
    o = answer(413, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_MESSAGE_BAD, "413: the message is bad");
    o = answer(400, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_MESSAGE_BAD && o.retry_after == -1, "400: the message is bad");
    o = answer(503, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_RETRY && o.retry_after == -1, "503 retries");
    o = answer(0, NULL, NULL);
    CHECK(o.kind == PUSH_OUT_RETRY && strcmp(o.reason, "Timeout was reached") == 0, "no answer retries");

    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
