/* The category filter parser: every form Navixy documents, and what it must refuse. */
#include <apr_general.h>

#include "core/category.h"
#include "unit.h"

static apr_pool_t *pool;

static const char *canon(const char *in)
{
    push_category_filter_t *f;
    const char *err = push_category_parse(pool, in, strlen(in), &f);
    return err ? NULL : push_category_canonical(pool, f);
}

static int refused(const char *in, apr_size_t len)
{
    push_category_filter_t *f;
    return push_category_parse(pool, in, len, &f) != NULL;
}

static int allows(const char *filter, const char *category)
{
    push_category_filter_t *f;
    if (push_category_parse(pool, filter, strlen(filter), &f))
        return -1;
    return push_category_allows(f, category);
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);

    CHECK(canon("*") && !strcmp(canon("*"), "*"), "star means every category");
    CHECK(canon(" * ") && !strcmp(canon(" * "), "*"), "spaces around star are ignored");
    CHECK(!strcmp(canon("chat_message,history_rule"), "chat_message,history_rule"),
          "a list keeps its order");
    CHECK(!strcmp(canon("-history_task,history_rule"), "-history_task,history_rule"),
          "a leading minus excludes the whole list");
    CHECK(!strcmp(canon(" chat_message , history_rule "), "chat_message,history_rule"),
          "spaces around names are ignored");
    CHECK(!strcmp(canon("a,b,a"), "a,b"), "duplicates collapse");
    CHECK(!strcmp(canon("single"), "single"), "one name is a list of one");

    CHECK(refused("", 0), "empty filter is refused");
    CHECK(refused("   ", 3), "blank filter is refused");
    CHECK(refused("-", 1), "a lone minus is refused");
    CHECK(refused("a,,b", 4), "an empty name is refused");
    CHECK(refused("a,", 2), "a trailing comma is refused");
    CHECK(refused(",a", 2), "a leading comma is refused");
    CHECK(refused("-*", 2), "minus star is refused");
    CHECK(refused("*,a", 3), "star inside a list is refused");
    CHECK(refused("a;b", 3), "other separators are refused");
    CHECK(refused("a b", 3), "names with spaces inside are refused");
    CHECK(refused("--a", 3), "a second minus is refused");
    CHECK(refused("a\0b", 3), "a NUL byte is refused");
    CHECK(refused("caf\xc3\xa9", 5), "non-ASCII names are refused");
    {
        char name[PUSH_CATEGORY_MAX_NAME + 2];
        memset(name, 'x', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        CHECK(refused(name, strlen(name)), "a name over the length limit is refused");
        name[PUSH_CATEGORY_MAX_NAME] = '\0';
        CHECK(!refused(name, strlen(name)), "a name at the length limit is accepted");
    }
    {
        char many[PUSH_CATEGORY_MAX_ITEMS * 4 + 8] = "";
        for (int i = 0; i <= PUSH_CATEGORY_MAX_ITEMS; i++)
            sprintf(many + strlen(many), "%sc%d", i ? "," : "", i);
        CHECK(refused(many, strlen(many)), "more names than the limit are refused");
    }

    CHECK(allows("*", "chat_message") == 1, "star allows any category");
    CHECK(allows("chat_message", "chat_message") == 1, "a list allows its names");
    CHECK(allows("chat_message", "history_rule") == 0, "a list refuses other names");
    CHECK(allows("-history_task,history_rule", "history_rule") == 0,
          "an exclusion refuses its names");
    CHECK(allows("-history_task,history_rule", "chat_message") == 1,
          "an exclusion allows other names");
    CHECK(allows("chat_message", NULL) == 1, "a message without category reaches everyone");

    {
        push_category_filter_t *f;
        push_category_parse(pool, "-a,b", 4, &f);
        CHECK(!strcmp(push_category_pg_array(pool, f), "{a,b}"), "names as a text[] literal");
        push_category_parse(pool, "*", 1, &f);
        CHECK(!strcmp(push_category_pg_array(pool, f), "{}"), "star as an empty text[]");
    }
    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
