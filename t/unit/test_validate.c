/* Validators for untrusted strings, and the token helpers. */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "core/token.h"
#include "core/validate.h"
#include "unit.h"

#define U(s) push_valid_utf8(s, sizeof(s) - 1)
#define T(s) push_valid_text(s, sizeof(s) - 1, 255)
#define I(s) push_valid_id(s, sizeof(s) - 1, 255)
#define H(s) push_valid_header_value(s, sizeof(s) - 1, 64)
#define TOPIC(s) push_valid_topic(s, sizeof(s) - 1)
#define APNS(s) push_valid_device_token("apns", s, sizeof(s) - 1)
#define FCM(s) push_valid_device_token("fcm", s, sizeof(s) - 1)
#define TOK(p, s) push_valid_device_token(p, s, strlen(s))

int main(void)
{
    apr_pool_t *p;
    apr_initialize();
    apr_pool_create(&p, NULL);

    CHECK(U("plain ascii"), "ASCII is UTF-8");
    CHECK(U("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "2, 3 and 4 byte sequences");
    CHECK(!U("\xc3"), "a truncated sequence is refused");
    CHECK(!U("\xc0\xaf"), "an overlong slash is refused");
    CHECK(!U("\xe0\x80\xaf"), "a 3-byte overlong is refused");
    CHECK(!U("\xed\xa0\x80"), "a UTF-16 surrogate is refused");
    CHECK(!U("\xf4\x90\x80\x80"), "past U+10FFFF is refused");
    CHECK(!U("\xff"), "0xff is refused");
    CHECK(!U("a\0b"), "NUL is refused");
    CHECK(!U("\x80"), "a lone continuation byte is refused");

    CHECK(push_valid_text("x", 1, 1), "text at its limit");
    CHECK(!push_valid_text("xy", 2, 1), "text over its limit");
    CHECK(!push_valid_text("", 0, 10), "empty text");

    CHECK(T("line one\nline two\r\n\tindented"), "free text keeps TAB, LF and CR");
    CHECK(!T("a\x01" "b"), "free text refuses SOH");
    CHECK(!T("a\x1b[31m"), "free text refuses ESC");
    CHECK(!T("a\x7f"), "free text refuses DEL");
    CHECK(!T("a\x1f"), "free text refuses US");
    CHECK(!push_valid_text("a\0b", 3, 10), "free text refuses NUL");
    CHECK(T("caf\xc3\xa9 \xf0\x9f\x98\x80"), "free text is UTF-8");

    CHECK(I("d\xc3\xa9vice-1 x'); --"), "an identifier may hold spaces, quotes and UTF-8");
    CHECK(!I("a\tb"), "an identifier refuses TAB");
    CHECK(!I("a\nb"), "an identifier refuses LF");
    CHECK(!I("a\rb"), "an identifier refuses CR");
    CHECK(!I("a\x7f"), "an identifier refuses DEL");
    CHECK(!I("a\xc2\x85"), "an identifier refuses C1 (NEL)");
    CHECK(I("a\xc2\xa0"), "an identifier takes U+00A0, past C1");
    CHECK(!push_valid_id("", 0, 10), "an empty identifier");
    CHECK(!push_valid_id("abc", 3, 2), "an identifier over its limit");

    CHECK(H("score 1-2"), "a header value with a space inside");
    CHECK(!H("a\r\nx-evil: 1"), "a header value refuses CR LF");
    CHECK(!H("a\nb"), "a header value refuses LF");
    CHECK(!H("a\tb"), "a header value refuses TAB");
    CHECK(!H(" a"), "a header value refuses a leading space");
    CHECK(!H("a "), "a header value refuses a trailing space");
    CHECK(!H("caf\xc3\xa9"), "a header value refuses non-ASCII");
    CHECK(!H("a\x7f"), "a header value refuses DEL");
    CHECK(push_valid_header_value("k", 1, 1) && !push_valid_header_value("kk", 2, 1), "header value limit");

    CHECK(TOPIC("com.example.app") && TOPIC("chat.rocket.ios") && TOPIC("x") &&
          TOPIC("com.example.app.voip"), "bundle ids and appNames are topics");
    CHECK(!TOPIC("com.example\r\nx-evil: 1"), "a topic refuses CR LF");
    CHECK(!TOPIC("com example"), "a topic refuses spaces");
    CHECK(!TOPIC("com.ex\xc3\xa4mple"), "a topic refuses non-ASCII");
    CHECK(!push_valid_topic("", 0), "an empty topic");
    {
        char big[PUSH_MAX_SHORT + 1];
        memset(big, 'a', sizeof(big));
        CHECK(push_valid_topic(big, PUSH_MAX_SHORT) && !push_valid_topic(big, sizeof(big)),
              "a topic is at most PUSH_MAX_SHORT bytes");
    }

    CHECK(APNS("105ebe3fcb7e93efda22257caaf5b9c465043f6d0b2abf3bc8ae7c939655e949"), "a real APNs token");
    CHECK(APNS("token") && APNS("xyz") && APNS("apn-1a2b") && APNS("t_1.x~"), "the seeds' word tokens");
    CHECK(!APNS("x/../abc"), "an APNs token refuses a slash (path traversal)");
    CHECK(!APNS("a?b") && !APNS("a#b") && !APNS("a%2fb"), "an APNs token refuses ? # %");
    CHECK(!APNS("a b") && !APNS("a\tb") && !APNS("a\r\nb") && !APNS("a\x7f"),
          "an APNs token refuses whitespace and controls");
    CHECK(!APNS("t\xc3\xa9") && !APNS("<105ebe3f cb7e93ef>") && !APNS("a:b"), "an APNs token is URL-safe ASCII");
    CHECK(!APNS(".") && !APNS("..") && APNS("..."), "'.' and '..' would be path segments");
    CHECK(!push_valid_device_token("apns", "", 0), "an empty token");
    CHECK(!push_valid_device_token("apns", "a\0b", 3), "a token with NUL");
    CHECK(FCM("dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx8gVW1FNC5bTNnwN2-QxR6L4b_0cOzg"
              "WVWm6dQ2uPm1Mp5ZbZj7xl3hbzGCFEr5HUJB0NfdzT3mWpDkhZx-fgPhZ7QmBo0Yl5mpLOaV2C"),
          "a real-looking FCM token");
    CHECK(FCM("fcm-token-1") && FCM("f4be7b9d04da2ce1af111b"), "the README's FCM tokens");
    CHECK(!FCM("a/b") && !FCM("a?b") && !FCM("a#b") && !FCM("a%b") && !FCM("a b") && !FCM("a+b") &&
          !FCM("a=b") && !FCM("t\xc3\xa9") && !FCM("a\nb"), "an FCM token is FCM's alphabet");
    CHECK(TOK("wns", "https://db5p.notify.windows.com/?token=AwYAAA%2b") &&
          TOK("wns", "wns-channel"), "WNS channel URIs keep today's rule");
    CHECK(TOK("webpush", "https://push.example.net/send/abc"), "a Web Push endpoint");
    CHECK(!TOK("wns", "https://x/\r\n"), "but no controls for WNS either");
    CHECK(!push_valid_device_token("blackberry", "x", 1) && !push_valid_device_token(NULL, "x", 1),
          "an unknown platform has no valid token");
    {
        char *big = malloc(PUSH_MAX_TOKEN + 1);
        memset(big, 'a', PUSH_MAX_TOKEN + 1);
        CHECK(push_valid_device_token("apns", big, PUSH_MAX_TOKEN) &&
              !push_valid_device_token("apns", big, PUSH_MAX_TOKEN + 1) &&
              !push_valid_device_token("fcm", big, PUSH_MAX_TOKEN + 1) &&
              !push_valid_device_token("wns", big, PUSH_MAX_TOKEN + 1), "tokens are at most 4096 bytes");
        free(big);
    }
    CHECK(strstr(push_device_token_rule("apns"), "APNs") && strstr(push_device_token_rule("fcm"), "FCM") &&
          strstr(push_device_token_rule("wns"), "control"), "each platform's rule has words");

    CHECK(push_valid_fcm_project("demo-project", 12) && push_valid_fcm_project("example.com:proj-1", 18),
          "FCM project ids");
    CHECK(!push_valid_fcm_project("p/../other", 10) && !push_valid_fcm_project("p?x", 3) &&
          !push_valid_fcm_project("..", 2) && !push_valid_fcm_project("", 0), "a project id stays one path segment");

    CHECK(push_valid_hex("0123456789abcdefABCDEF0123456789", 32, 32), "32 hex digits");
    CHECK(!push_valid_hex("0123456789abcdefABCDEF012345678", 31, 32), "31 hex digits");
    CHECK(!push_valid_hex("0123456789abcdefABCDEF012345678g", 32, 32), "a non-hex digit");

    CHECK(push_valid_version("9.0", 3), "9.0 is a version");
    CHECK(push_valid_version("12", 2), "12 is a version");
    CHECK(push_valid_version("12.4.1", 6), "12.4.1 is a version");
    CHECK(!push_valid_version("9.", 2), "9. is not");
    CHECK(!push_valid_version(".9", 2), ".9 is not");
    CHECK(!push_valid_version("9..0", 4), "9..0 is not");
    CHECK(!push_valid_version("nine", 4), "nine is not");
    CHECK(push_version_major("7.1") == 7, "major of 7.1");

    CHECK(push_valid_app_id("chat-app.v2_x", 13), "an application id");
    CHECK(!push_valid_app_id("a b", 3), "spaces are not in application ids");
    CHECK(!push_valid_app_id("a'b", 3), "quotes are not in application ids");

    CHECK(push_valid_b64url_len("BOr8ZxRd_1ffvwkCNXmfBbZLVvpUCpgmuozeyCfVnKGxEYKoWlZ6Iqlpzd8MkKDOVTlP"
                                "9QWVaSaKmQfDmzSbb-M", 87, 65), "a p256dh key is 65 bytes");
    CHECK(push_valid_b64url_len("q1dXpw3UpT5VOmu_cf_v6g", 22, 16), "an auth secret is 16 bytes");
    CHECK(push_valid_b64url_len("q1dXpw3UpT5VOmu_cf_v6g==", 24, 16), "padding is tolerated");
    CHECK(!push_valid_b64url_len("q1dXpw3UpT5VOmu_cf_v6", 21, 16), "one character short");
    CHECK(!push_valid_b64url_len("q1dXpw3UpT5VOmu+cf/v6g", 22, 16), "the standard alphabet is not base64url");

    CHECK(push_valid_https_url("https://fcm.googleapis.com/fcm/send/abc", 39), "an endpoint URL");
    CHECK(!push_valid_https_url("ftp://x/y", 9), "another scheme");
    CHECK(!push_valid_https_url("https:///path", 13), "no host");
    CHECK(!push_valid_https_url("https://a b", 11), "a space");

    {
        const char *a = push_token_new(p, 16), *b = push_token_new(p, 16);
        CHECK(a && strlen(a) == 32 && push_valid_hex(a, 32, 32), "a new token is 32 hex digits");
        CHECK(a && b && strcmp(a, b) != 0, "two new tokens differ");
        CHECK(!strcmp(push_token_hash(p, "abc", 3),
                      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
              "the stored form is SHA-256 hex");
    }
    {
        const char *a = push_token_meteor_id(p), *b = push_token_meteor_id(p);
        int ok = a && strlen(a) == 17;
        for (int i = 0; ok && i < 17; i++)
            ok = strchr("23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz", a[i]) != NULL;
        CHECK(ok, "a Meteor id is 17 characters of its alphabet");
        CHECK(a && b && strcmp(a, b) != 0, "two Meteor ids differ");
    }
    {
        long long d = 0;
        CHECK(push_duration_parse("90", 1000, &d) && d == 90, "a duration in seconds");
        CHECK(push_duration_parse("15m", 100000, &d) && d == 900, "minutes");
        CHECK(push_duration_parse("7d", 10000000, &d) && d == 604800, "days");
        CHECK(push_duration_parse("2w", 10000000, &d) && d == 1209600, "weeks");
        CHECK(push_duration_parse("1h", 3600, &d) && d == 3600, "at the maximum");
        CHECK(!push_duration_parse("2h", 3600, &d), "over the maximum");
        CHECK(!push_duration_parse("99999999999999999999d", 3600, &d), "no overflow");
        CHECK(!push_duration_parse("7 d", 10000000, &d), "no space");
        CHECK(!push_duration_parse("7dd", 10000000, &d), "one unit");
        CHECK(!push_duration_parse("-1", 10000000, &d), "no sign");
        CHECK(!push_duration_parse("d", 10000000, &d), "digits first");
        CHECK(!push_duration_parse("", 10000000, &d), "empty");
    }
    apr_pool_destroy(p);
    apr_terminate();
    UNIT_DONE();
}
