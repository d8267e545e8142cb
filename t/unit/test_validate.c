/* Validators for untrusted strings, and the token helpers. */
#include <apr_general.h>

#include "core/token.h"
#include "core/validate.h"
#include "unit.h"

#define U(s) push_valid_utf8(s, sizeof(s) - 1)

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
    apr_pool_destroy(p);
    apr_terminate();
    UNIT_DONE();
}
