/* The MobileFirst message catalogs and Accept-Language negotiation: every message in
 * every language, placeholders that agree, arguments taken verbatim, and the header
 * forms browsers and SDKs actually send. */
#include <apr_general.h>

#include "core/i18n.h"
#include "core/validate.h"
#include "unit.h"

static apr_pool_t *pool;

static const char *const langs[] = { "en-US", "de", "fr", "es", "ja" };
#define N_LANGS ((int)(sizeof(langs) / sizeof(langs[0])))

/* A marker no catalog text contains: counting it in the output counts the placeholders
 * that were filled. */
#define MARK "\x01" "ARG" "\x01"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *s = strstr(hay, needle); s; s = strstr(s + strlen(needle), needle))
        n++;
    return n;
}

static int lang_is(const char *header, const char *want)
{
    const char *got = push_i18n_language(header);
    if (strcmp(got, want) != 0)
        printf("# Accept-Language \"%s\" gave %s, expected %s\n", header ? header : "(null)",
               got, want);
    return strcmp(got, want) == 0;
}

static int code_ok(const char *c)
{
    if (!c || strlen(c) != 10 || strncmp(c, "FPWSE", 5) != 0 || c[9] != 'E')
        return 0;
    for (int i = 5; i < 9; i++)
        if (c[i] < '0' || c[i] > '9')
            return 0;
    return 1;
}

static void catalog(void)
{
    int all_present = 1, all_utf8 = 1, all_marked = 1, no_stray = 1, all_translated = 1;
    int all_codes = 1, null_arg_ok = 1;

    for (int m = 0; m < PUSH_MSG__COUNT; m++) {
        const char *en = push_i18n_text(pool, (push_msg_t)m, "en-US", MARK);
        int holes = count(en, MARK);

        if (!code_ok(push_i18n_code((push_msg_t)m))) {
            all_codes = 0;
            printf("# message %d has a malformed code\n", m);
        }
        if (holes > 1) {
            all_marked = 0;
            printf("# message %d has %d placeholders in English\n", m, holes);
        }
        for (int l = 0; l < N_LANGS; l++) {
            const char *t = push_i18n_text(pool, (push_msg_t)m, langs[l], MARK);
            const char *bare = push_i18n_text(pool, (push_msg_t)m, langs[l], NULL);

            if (!t || !*t || !bare || strlen(t) <= strlen(MARK) * (size_t)holes) {
                all_present = 0;
                printf("# message %d is missing in %s\n", m, langs[l]);
                continue;
            }
            if (!push_valid_utf8(bare, strlen(bare))) {
                all_utf8 = 0;
                printf("# message %d is not valid UTF-8 in %s\n", m, langs[l]);
            }
            if (count(t, MARK) != holes) {
                all_marked = 0;
                printf("# message %d: %s has %d placeholders, English %d\n", m, langs[l],
                       count(t, MARK), holes);
            }
            /* Once filled, no '%' may be left: neither a second placeholder nor a stray
             * format character that would betray printf-style handling. */
            if (strchr(t, '%') || strchr(bare, '%')) {
                no_stray = 0;
                printf("# message %d in %s keeps a '%%': %s\n", m, langs[l], t);
            }
            if (strstr(bare, "(null)") || strlen(bare) + strlen(MARK) * (size_t)holes
                                          != strlen(t)) {
                null_arg_ok = 0;
                printf("# message %d in %s: a NULL argument is not an empty one\n", m,
                       langs[l]);
            }
            if (l > 0 && strcmp(t, en) == 0) {
                all_translated = 0;
                printf("# message %d in %s is the English text\n", m, langs[l]);
            }
        }
    }
    CHECK(all_codes, "every message has a code of the form FPWSEnnnnE");
    CHECK(all_present, "every message exists and is non-empty in every language");
    CHECK(all_utf8, "every text is valid UTF-8");
    CHECK(all_marked, "every language has as many placeholders as English, at most one");
    CHECK(no_stray, "no '%' survives substitution");
    CHECK(null_arg_ok, "a NULL argument leaves the place empty");
    CHECK(all_translated, "no language silently falls back to English");
}

static void codes(void)
{
    static const struct { push_msg_t m; const char *code; } want[] = {
        { PUSH_MSG_RESOURCE_MISSING, "FPWSE0001E" },     { PUSH_MSG_APP_MISSING, "FPWSE0001E" },
        { PUSH_MSG_DEVICE_MISSING, "FPWSE0001E" },       { PUSH_MSG_TAG_MISSING, "FPWSE0001E" },
        { PUSH_MSG_WEBHOOK_MISSING, "FPWSE0001E" },      { PUSH_MSG_SETTINGS_MISSING, "FPWSE0001E" },
        { PUSH_MSG_ALREADY_EXISTS, "FPWSE0002E" },       { PUSH_MSG_PREREQ_MISSING, "FPWSE0003E" },
        { PUSH_MSG_INVALID_JSON, "FPWSE0004E" },         { PUSH_MSG_PROPERTY_INVALID, "FPWSE0005E" },
        { PUSH_MSG_UNKNOWN_PROPERTY, "FPWSE0006E" },     { PUSH_MSG_UNKNOWN_QUERY_PARAM, "FPWSE0007E" },
        { PUSH_MSG_QUERY_PARAM_MISSING, "FPWSE0008E" },  { PUSH_MSG_NO_DEVICES, "FPWSE0009E" },
        { PUSH_MSG_INTERNAL, "FPWSE0010E" },             { PUSH_MSG_SUBSCRIPTION_EXISTS, "FPWSE0011E" },
        { PUSH_MSG_SUBSCRIPTION_MISSING, "FPWSE0012E" }, { PUSH_MSG_UNAVAILABLE, "FPWSE0025E" },
        { PUSH_MSG_PUSH_DISABLED, "FPWSE1007E" },        { PUSH_MSG_BAD_OFFSET, "FPWSE1079E" },
        { PUSH_MSG_BAD_SIZE, "FPWSE1080E" },             { PUSH_MSG_BAD_FILTER, "FPWSE0005E" },
        { PUSH_MSG_NOT_ACCEPTABLE, "FPWSE0005E" },       { PUSH_MSG_UNSUPPORTED_MEDIA, "FPWSE0005E" },
        { PUSH_MSG_METHOD_NOT_ALLOWED, "FPWSE0005E" },   { PUSH_MSG_USER_ID_TOO_LONG, "FPWSE0005E" },
        { PUSH_MSG_CERT_INVALID, "FPWSE0005E" },       { PUSH_MSG_URL_REFUSED, "FPWSE0005E" },
        { PUSH_MSG_WEBHOOK_LIMIT, "FPWSE0005E" },        { PUSH_MSG_HOST_REFUSED, "FPWSE0005E" },
        { PUSH_MSG_QUOTA, "FPWSE0429E" },                { PUSH_MSG_BODY_TOO_LARGE, "FPWSE0005E" },
    };
    int ok = (int)(sizeof(want) / sizeof(want[0])) == PUSH_MSG__COUNT;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strcmp(push_i18n_code(want[i].m), want[i].code) != 0) {
            ok = 0;
            printf("# message %d has code %s, expected %s\n", (int)want[i].m,
                   push_i18n_code(want[i].m), want[i].code);
        }
    CHECK(ok, "every message carries the code the API documents");
    CHECK(!strcmp(push_i18n_code((push_msg_t)PUSH_MSG__COUNT), "FPWSE0010E"),
          "a key out of range answers as an internal error");
    CHECK(!strcmp(push_i18n_text(pool, (push_msg_t)-1, "de", NULL),
                  push_i18n_text(pool, PUSH_MSG_INTERNAL, "de", NULL)),
          "a negative key gives the internal error text");
}

static void texts(void)
{
    const char *t;

    t = push_i18n_text(pool, PUSH_MSG_DEVICE_MISSING, "en-US", "dev-1");
    CHECK(!strcmp(t, "The device dev-1 does not exist."), "the argument lands in place");
    t = push_i18n_text(pool, PUSH_MSG_APP_MISSING, "en-US", NULL);
    CHECK(!strcmp(t, "The application does not exist."), "the documented 404 text");
    t = push_i18n_text(pool, PUSH_MSG_APP_MISSING, "en-US", "ignored");
    CHECK(!strcmp(t, "The application does not exist."), "a text without a place drops arg");
    t = push_i18n_text(pool, PUSH_MSG_DEVICE_MISSING, "de", "dev-1");
    CHECK(!strcmp(t, "Das Gerät dev-1 ist nicht vorhanden."), "German");
    t = push_i18n_text(pool, PUSH_MSG_DEVICE_MISSING, "ja", "dev-1");
    CHECK(!strcmp(t, "デバイス dev-1 は存在しません。"), "Japanese");

    t = push_i18n_text(pool, PUSH_MSG_TAG_MISSING, "en-US", "%s%n%d%%%x");
    CHECK(!strcmp(t, "The tag %s%n%d%%%x does not exist."), "'%' in an argument is literal");
    t = push_i18n_text(pool, PUSH_MSG_BAD_FILTER, "fr", "100% %s");
    CHECK(!strcmp(t, "Le filtre n'est pas valide : 100% %s"),
          "'%' at the end of a text is literal too");
    t = push_i18n_text(pool, PUSH_MSG_BAD_SIZE, "es", "");
    CHECK(t && strstr(t, "%") == NULL, "an empty argument leaves no placeholder");

    CHECK(!strcmp(push_i18n_text(pool, PUSH_MSG_INTERNAL, NULL, NULL),
                  "An internal error occurred."), "a NULL language is English");
    CHECK(!strcmp(push_i18n_text(pool, PUSH_MSG_INTERNAL, "pt-BR", NULL),
                  "An internal error occurred."), "an unknown language is English");
    CHECK(!strcmp(push_i18n_text(pool, PUSH_MSG_INTERNAL, "DE-at", NULL),
                  push_i18n_text(pool, PUSH_MSG_INTERNAL, "de", NULL)),
          "a regional tag finds its language");
    CHECK(!strcmp(push_i18n_text(pool, PUSH_MSG_INTERNAL, "", NULL),
                  "An internal error occurred."), "an empty language is English");
}

static void negotiation(void)
{
    /* The cases the API must get right. */
    CHECK(lang_is("de", "de"), "de");
    CHECK(lang_is("de-DE,de;q=0.9", "de"), "de-DE reaches de");
    CHECK(lang_is("fr;q=0.5, ja;q=0.8", "ja"), "the higher q wins over header order");
    CHECK(lang_is("pt-BR", "en-US"), "an unsupported language gives the default");
    CHECK(lang_is("*", "en-US"), "* gives the default");
    CHECK(lang_is("ja;q=0", "en-US"), "q=0 is not a request for ja");
    CHECK(lang_is("es-419", "es"), "a numeric region reaches its language");
    CHECK(lang_is("", "en-US"), "empty header");
    CHECK(lang_is(NULL, "en-US"), "no header");
    CHECK(lang_is("!!garbage;;;", "en-US"), "garbage");
    CHECK(lang_is("EN-us", "en-US"), "ranges are case-insensitive");
    CHECK(lang_is("zz, fr", "fr"), "an unsupported range is passed over");

    /* Weights and ties. */
    CHECK(lang_is("fr, es", "fr"), "equal weights keep header order");
    CHECK(lang_is("es;q=0.7, fr;q=0.7", "es"), "equal explicit weights keep header order");
    CHECK(lang_is("fr;q=0.5, *", "en-US"), "* at q=1 beats fr at q=0.5");
    CHECK(lang_is("*;q=0.9, fr", "fr"), "fr at q=1 beats * at q=0.9");
    CHECK(lang_is("ja;q=0, *", "en-US"), "q=0 with * still gives the default");
    CHECK(lang_is("*;q=0, de;q=0.1", "de"), "*;q=0 does not hide a named language");
    CHECK(lang_is("ja;q=0.001", "ja"), "the smallest non-zero weight counts");
    CHECK(lang_is("de;q=0.3, de-AT;q=0.9, fr;q=0.5", "de"),
          "a language takes the best weight of the ranges that reach it");
    CHECK(lang_is("de-CH, fr;q=0.95, de;q=0.9", "de"),
          "a regional range counts at its own weight");
    CHECK(lang_is("de;q=0, de-AT", "en-US"), "de;q=0 rules German out even for de-AT");
    CHECK(lang_is("de-AT;q=0, de", "de"), "de-AT;q=0 does not rule out plain de");
    CHECK(lang_is("en-US;q=0, ja;q=0.2", "ja"), "the default can be ruled out too");
    CHECK(lang_is("en-GB, fr", "en-US"), "another English reaches en-US");
    CHECK(lang_is("ja-JP-x-kansai", "ja"), "extra subtags are fine");

    /* Syntax: whitespace, case, empty elements, and what is skipped. */
    CHECK(lang_is(" fr ;\tQ=0.8 , es;q=0.7", "fr"), "OWS around ';' and an upper-case Q");
    CHECK(lang_is(",,de,,", "de"), "empty list elements are ignored");
    CHECK(lang_is("de;q=1.000", "de"), "q=1.000");
    CHECK(lang_is("de;q=1.001, fr;q=0.1", "fr"), "q above 1 is malformed");
    CHECK(lang_is("de;q=2, fr;q=0.1", "fr"), "q=2 is malformed");
    CHECK(lang_is("de;q=.5, fr;q=0.1", "fr"), "a q without its leading digit is malformed");
    CHECK(lang_is("de;q=0.5555, fr;q=0.1", "fr"), "more than three decimals is malformed");
    CHECK(lang_is("de;q=0.5;level=1, fr;q=0.1", "fr"), "another parameter is malformed");
    CHECK(lang_is("de;q = 0.5, fr;q=0.1", "fr"), "spaces inside the weight are malformed");
    CHECK(lang_is("de;, fr;q=0.1", "fr"), "an empty parameter is malformed");
    CHECK(lang_is("deutschland, fr;q=0.1", "fr"), "a primary subtag over 8 letters");
    CHECK(lang_is("de-, fr;q=0.1", "fr"), "an empty subtag is malformed");
    CHECK(lang_is("de-abcdefghi, fr;q=0.1", "fr"), "a subtag over 8 characters");
    CHECK(lang_is("de_DE, fr;q=0.1", "fr"), "an underscore is not a separator");
    CHECK(lang_is("d\xc3\xa9, fr;q=0.1", "fr"), "non-ASCII is malformed");
    CHECK(lang_is("**, fr;q=0.1", "fr"), "a doubled star is malformed");
    CHECK(lang_is("ja fr", "en-US"), "two ranges without a comma are malformed");
    CHECK(lang_is(";q=1", "en-US"), "a weight without a range");
    CHECK(lang_is("de;q=0.0001", "en-US"), "a malformed lone element gives the default");

    {
        /* A long header: every element is looked at, in one pass. */
        char big[64 * 1024];
        size_t n = 0;
        while (n + 16 < sizeof(big)) {
            memcpy(big + n, "zz-ZZ;q=0.9, ", 13);
            n += 13;
        }
        memcpy(big + n, "ja;q=0.95", 10);
        CHECK(lang_is(big, "ja"), "the last element of a long header still counts");
    }

    {
        const char *r = push_i18n_language("fr");
        CHECK(r == push_i18n_language("FR;q=0.4"), "the answer is a static string");
    }
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    catalog();
    codes();
    texts();
    negotiation();

    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
