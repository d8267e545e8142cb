/* The MobileFirst list filter parser: both operators, alternatives, escapes, and every
 * way a filter is refused. */
#include <apr_general.h>
#include <apr_strings.h>

#include "core/filter.h"
#include "unit.h"

static apr_pool_t *pool;

/* platform is ==-only, as in MobileFirst. */
static const push_filter_field_t fields[] = {
    {"userId", 0}, {"deviceId", 0}, {"platform", 1}, {"tagName", 0}, {NULL, 0}};

static push_filter_clause_t *parse(const char *in)
{
    push_filter_clause_t *c = NULL;
    if (push_filter_parse(pool, in, strlen(in), fields, &c))
        return NULL;
    return c;
}

/* The values joined with '|', or NULL when refused. */
static const char *values(const char *in)
{
    push_filter_clause_t *c = parse(in);
    if (!c)
        return NULL;
    return apr_array_pstrcat(pool, c->values, '|');
}

static int eq(const char *got, const char *want)
{
    return got && strcmp(got, want) == 0;
}

/* The error message for in, or NULL when accepted. */
static const char *error(const char *in, apr_size_t len)
{
    push_filter_clause_t *c;
    return push_filter_parse(pool, in, len, fields, &c);
}

/* Refused, with a message that is printable ASCII (safe to show any client). */
static int refused(const char *in, apr_size_t len)
{
    const char *err = error(in, len);
    if (!err || !*err)
        return 0;
    for (const char *s = err; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

#define REFUSED(lit) refused(lit, sizeof(lit) - 1)

static int mentions(const char *in, const char *part)
{
    const char *err = error(in, strlen(in));
    return err && strstr(err, part) != NULL;
}

static int matches(const char *filter, const char *value)
{
    push_filter_clause_t *c = parse(filter);
    if (!c)
        return -1;
    return push_filter_matches(c, value);
}

/* A filter of n alternatives "v0,v1,...". */
static char *alternatives(int n)
{
    char *s = apr_pstrdup(pool, "userId==");
    for (int i = 0; i < n; i++)
        s = apr_psprintf(pool, "%s%sv%d", s, i ? "," : "", i);
    return s;
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    /* accepted */
    {
        push_filter_clause_t *c = parse("platform==A,G");
        CHECK(c && c->op == PUSH_FILTER_EQ && c->field == fields[2].name,
              "platform==A,G is an exact match on the allowed platform field");
        CHECK(eq(values("platform==A,G"), "A|G"), "a comma separates alternatives");
    }
    {
        push_filter_clause_t *c = parse("userId=@bob");
        CHECK(c && c->op == PUSH_FILTER_CONTAINS && !strcmp(c->field, "userId"),
              "=@ is contains");
        CHECK(eq(values("userId=@bob"), "bob"), "one value");
    }
    CHECK(eq(values("tagName==a\\,b"), "a,b"), "\\, is a literal comma inside one value");
    CHECK(parse("tagName==a\\,b") && parse("tagName==a\\,b")->values->nelts == 1,
          "an escaped comma does not split");
    CHECK(eq(values("deviceId==x\\\\y"), "x\\y"), "\\\\ is a literal backslash");
    CHECK(eq(values("tagName==\\\\,\\,"), "\\|,"), "escapes next to separators");
    CHECK(eq(values("userId==a\\\\\\,b"), "a\\,b"), "backslash then comma, both escaped");
    CHECK(eq(values("userId===x"), "=x"), "the value starts right after the operator");
    CHECK(eq(values("userId=@=@"), "=@"), "operator characters in a value are plain text");
    CHECK(eq(values("userId== bob "), " bob "), "spaces in a value are kept");
    CHECK(eq(values("userId==caf\xc3\xa9,\xe2\x82\xac"), "caf\xc3\xa9|\xe2\x82\xac"),
          "UTF-8 values");
    CHECK(eq(values("userId==a,a"), "a|a"), "duplicates are kept");
    CHECK(eq(values("deviceId=@x"), "x"), "=@ on a field that is not ==-only");
    {
        push_filter_clause_t *c = NULL;
        const char *err = push_filter_parse(pool, "userId==abcXYZ", 11, fields, &c);
        CHECK(!err && c && c->values->nelts == 1 &&
              !strcmp(APR_ARRAY_IDX(c->values, 0, const char *), "abc"),
              "input is read up to len, not up to a NUL");
    }

    /* syntax errors */
    CHECK(REFUSED(""), "an empty filter is refused");
    CHECK(REFUSED("userId"), "a field without operator is refused");
    CHECK(mentions("userId", "no operator"), "the message says the operator is missing");
    CHECK(REFUSED("userId!=a"), "!= is refused");
    CHECK(mentions("userId!=a", "unknown operator \"!=\""), "the message names !=");
    CHECK(REFUSED("userId<a"), "< is refused");
    CHECK(mentions("userId<a", "\"<\""), "the message names <");
    CHECK(REFUSED("userId=a"), "a single = is refused");
    CHECK(mentions("userId=a", "\"=\""), "the message names =");
    CHECK(REFUSED("userId=~a"), "=~ is refused");
    CHECK(mentions("userId=~a", "\"=~\""), "the message names =~");
    CHECK(REFUSED("userId<=a"), "<= is refused");
    CHECK(REFUSED("userId="), "a trailing = is refused");
    CHECK(REFUSED("==a"), "an operator without field is refused");
    CHECK(REFUSED("user id==a"), "a space in a field name is refused");
    CHECK(REFUSED("user-id==a"), "a dash in a field name is refused");
    CHECK(REFUSED("userId ==a"), "a space before the operator is refused");
    CHECK(REFUSED("us\xffr==a"), "a non-ASCII field name is refused with an ASCII message");
    CHECK(REFUSED("user\0Id==a"), "a NUL in a field name is refused");
    {
        char name[PUSH_FILTER_MAX_FIELD + 8];
        memset(name, 'f', PUSH_FILTER_MAX_FIELD + 1);
        strcpy(name + PUSH_FILTER_MAX_FIELD + 1, "==a");
        CHECK(refused(name, strlen(name)), "a field name over the limit is refused");
        CHECK(!mentions(name, "ffffffff"), "an overlong field name is not echoed");
    }

    /* fields and operators */
    CHECK(REFUSED("nope==a"), "an unknown field is refused");
    CHECK(mentions("nope==a", "\"nope\"") && mentions("nope==a", "userId, deviceId"),
          "the message names the field and lists the known ones");
    CHECK(REFUSED("UserId==a"), "field names are case-sensitive");
    {
        push_filter_clause_t *c;
        const push_filter_field_t none[] = {{NULL, 0}};
        CHECK(push_filter_parse(pool, "userId==a", 9, none, &c) != NULL,
              "with no allowed fields every field is unknown");
        CHECK(push_filter_parse(pool, "userId==a", 9, NULL, &c) != NULL,
              "a NULL field table allows nothing");
    }
    CHECK(REFUSED("platform=@A"), "=@ on an ==-only field is refused");
    CHECK(mentions("platform=@A", "\"platform\"") && mentions("platform=@A", "only =="),
          "the message names the field and the operator it allows");

    /* values */
    CHECK(REFUSED("userId=="), "an empty value is refused");
    CHECK(mentions("userId==", "no value"), "the message says the value is missing");
    CHECK(REFUSED("userId=@"), "an empty contains value is refused");
    CHECK(REFUSED("userId==a,,b"), "an empty middle alternative is refused");
    CHECK(mentions("userId==a,,b", "alternative 2"), "the message counts the alternative");
    CHECK(REFUSED("userId==a,"), "a trailing comma is refused");
    CHECK(REFUSED("userId==,a"), "a leading comma is refused");
    CHECK(REFUSED("userId==,"), "a lone comma is refused");
    CHECK(REFUSED("userId==a\\"), "a trailing lone backslash is refused");
    CHECK(mentions("userId==a\\", "lone backslash"), "the message names the backslash");
    CHECK(REFUSED("userId==a\\nb"), "an unknown escape is refused");
    CHECK(mentions("userId==a\\nb", "position 10"), "the message gives the escape's position");
    CHECK(REFUSED("userId==a\\\xc3\xa9"), "a backslash before a non-ASCII character is refused");
    CHECK(REFUSED("userId==\\\\\\"), "an escaped backslash then a lone one is refused");
    CHECK(REFUSED("userId==a\0b"), "a NUL in a value is refused");
    CHECK(mentions("userId==a\\q", "userId"), "value messages name the field");
    CHECK(REFUSED("userId==\xff"), "a 0xff byte is refused");
    CHECK(REFUSED("userId==caf\xc3"), "a truncated UTF-8 sequence is refused");
    CHECK(REFUSED("userId==\xc0\xaf"), "an overlong UTF-8 form is refused");
    CHECK(REFUSED("userId==\xed\xa0\x80"), "a UTF-16 surrogate is refused");
    CHECK(REFUSED("userId==a,\xff"), "invalid UTF-8 in a later alternative is refused");
    {
        char *in;
        apr_size_t n = strlen("userId==");
        in = apr_palloc(pool, n + PUSH_FILTER_MAX_VALUE + 2);
        memcpy(in, "userId==", n);
        memset(in + n, 'x', PUSH_FILTER_MAX_VALUE + 1);
        in[n + PUSH_FILTER_MAX_VALUE + 1] = '\0';
        CHECK(refused(in, strlen(in)), "a value over 4096 bytes is refused");
        in[n + PUSH_FILTER_MAX_VALUE] = '\0';
        CHECK(parse(in) != NULL, "a value of exactly 4096 bytes is accepted");
    }
    {
        const char *many = alternatives(PUSH_FILTER_MAX_VALUES);
        CHECK(parse(many) && parse(many)->values->nelts == PUSH_FILTER_MAX_VALUES,
              "100 alternatives are accepted");
        many = alternatives(PUSH_FILTER_MAX_VALUES + 1);
        CHECK(refused(many, strlen(many)), "101 alternatives are refused");
        CHECK(mentions(many, "more than 100"), "the message gives the limit");
    }

    /* matching */
    CHECK(matches("platform==A,G", "A") == 1, "== matches the first alternative");
    CHECK(matches("platform==A,G", "G") == 1, "== matches the second alternative");
    CHECK(matches("platform==A,G", "a") == 0, "== is case-sensitive");
    CHECK(matches("platform==A,G", "AG") == 0, "== is not contains");
    CHECK(matches("platform==A,G", "") == 0, "== does not match an empty value");
    CHECK(matches("platform==A,G", NULL) == 0, "an unset attribute matches nothing");
    CHECK(matches("userId=@bob", "bob") == 1, "=@ matches the whole value");
    CHECK(matches("userId=@bob", "jimbobby") == 1, "=@ matches inside a value");
    CHECK(matches("userId=@bob", "Bob") == 0, "=@ is case-sensitive");
    CHECK(matches("userId=@bob", "bo") == 0, "=@ needs the whole needle");
    CHECK(matches("userId=@bob", NULL) == 0, "=@ on an unset attribute matches nothing");
    CHECK(matches("userId=@zz,ob", "bob") == 1, "=@ matches any alternative");
    CHECK(matches("tagName==a\\,b", "a,b") == 1, "an escaped comma matches a comma");
    CHECK(matches("tagName==a\\,b", "a") == 0, "an escaped comma does not split");
    CHECK(matches("deviceId==x\\\\y", "x\\y") == 1, "an escaped backslash matches one");

    /* writing a clause back */
    CHECK(push_filter_op_name(PUSH_FILTER_EQ)[1] == '=' &&
          push_filter_op_name(PUSH_FILTER_CONTAINS)[1] == '@', "operator names");
    CHECK(eq(push_filter_format(pool, parse("platform==A,G")), "platform==A,G"),
          "a plain clause formats as written");
    CHECK(eq(push_filter_format(pool, parse("tagName=@\\\\,a\\,b")), "tagName=@\\\\,a\\,b"),
          "formatting escapes commas and backslashes");

    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
