/* OAuth scope patterns: '*' stays within one dot-separated segment, "*" alone is every
 * scope, and lists cover what their patterns cover. */
#include <apr_general.h>
#include <string.h>

#include "core/scope.h"
#include "unit.h"

int main(void)
{
    apr_pool_t *pool;
    const char *missing = NULL;
    apr_initialize();
    apr_pool_create(&pool, NULL);

    /* "*" alone: MobileFirst's administrator scope, everything */
    CHECK(push_scope_match("*", "push.application.demo"), "* covers an application's scope");
    CHECK(push_scope_match("*", "devices.read"), "* covers an operation scope");
    CHECK(push_scope_match("*", "push.application.*"), "* covers the list-all-applications scope");

    /* "*.*": two segments, each any run of characters without a dot */
    CHECK(push_scope_match("*.*", "devices.read"), "*.* covers devices.read");
    CHECK(push_scope_match("*.*", "apps.write"), "*.* covers apps.write");
    CHECK(!push_scope_match("*.*", "push.application.demo"), "*.* does not cover push.application.demo");
    CHECK(!push_scope_match("*.*", "push.application.*"), "*.* does not cover push.application.*");
    CHECK(!push_scope_match("*.*", "push.mobileclient.x"), "*.* does not cover three segments");
    CHECK(!push_scope_match("*.*", "devices"), "*.* does not cover one segment");

    /* "push.application.*": one application, any name without a dot */
    CHECK(push_scope_match("push.application.*", "push.application.demo"), "push.application.* covers demo");
    CHECK(push_scope_match("push.application.*", "push.application.*"), "push.application.* covers itself");
    CHECK(!push_scope_match("push.application.*", "push.application.demo.x"),
          "push.application.* does not reach a fourth segment");
    CHECK(!push_scope_match("push.application.*", "push.application"), "push.application.* needs its third segment");
    CHECK(!push_scope_match("push.*", "push.application.demo"), "push.* does not cover push.application.demo");

    /* a star inside a segment */
    CHECK(push_scope_match("devices.*read", "devices.read"), "devices.*read covers devices.read");
    CHECK(push_scope_match("*Conf.write", "smsConf.write"), "*Conf.write covers smsConf.write");
    CHECK(!push_scope_match("*Conf.write", "smsConf.read"), "*Conf.write does not cover smsConf.read");
    CHECK(!push_scope_match("push.app*", "push.application.demo"), "a star does not swallow a dot");
    CHECK(push_scope_match("push.application.a*b", "push.application.aXXb"), "a*b within a segment");
    CHECK(!push_scope_match("push.application.a*b", "push.application.a.b"), "a*b does not cross a dot");
    CHECK(push_scope_match("push.application.appb", "push.application.appb"), "a literal scope covers itself");
    CHECK(!push_scope_match("push.application.appb", "push.application.appbx"), "... and nothing longer");
    CHECK(!push_scope_match("", "devices.read"), "an empty pattern covers nothing");
    CHECK(push_scope_match("**.read", "devices.read"), "stars in a row");

    /* the attack of the issue: "*.* push.application.appb" */
    CHECK(push_scope_list_covers("*.* push.application.appb", "push.application.appb"), "the list covers appb");
    CHECK(!push_scope_list_covers("*.* push.application.appb", "push.application.demo"), "but not demo");
    CHECK(!push_scope_list_covers("*.* push.application.appb", "push.application.*"), "nor every application");
    /* the applications a list covers, for listing them */
    CHECK(push_scope_app_regex(pool, "apps.read *") == NULL, "* lists every application");
    CHECK(strcmp(push_scope_app_regex(pool, "apps.read push.application.*"), "^([^.]*)$") == 0,
          "push.application.* lists the one-segment ids");
    CHECK(strcmp(push_scope_app_regex(pool, "push.application.app-* push.application.x.y"),
                 "^(app\\-[^.]*|x\\.y)$") == 0, "patterns and literal ids, escaped");
    CHECK(strcmp(push_scope_app_regex(pool, "push.*.* *.*.*.*"), "^([^.]*|[^.]*\\.[^.]*)$") == 0,
          "wildcards in the first two segments");
    CHECK(strcmp(push_scope_app_regex(pool, "devices.read *.*"), "^$") == 0, "no application at all");
    CHECK(strcmp(push_scope_app_regex(pool, NULL), "^$") == 0, "no scopes");
    CHECK(push_scope_list_all_covered(pool, "*.* push.application.appb", "devices.read push.application.appb",
                                      &missing), "devices.read of appb is covered");
    CHECK(!push_scope_list_all_covered(pool, "*.* push.application.appb", "apps.read push.application.demo",
                                       &missing) && missing && strcmp(missing, "push.application.demo") == 0,
          "apps.read of demo is not, and push.application.demo is what is missing");

    apr_pool_destroy(pool);
    apr_terminate();
    UNIT_DONE();
}
