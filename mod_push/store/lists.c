/* The lists of the MobileFirst dialect: what each selects, its key and its filters. */
#include "store/lists.h"
#include "store/rows.h"
#include "store/statements.h"

static const push_list_column_t device_columns[] = {
    {"platform", "push_platform_code(d.platform)"}, {"deviceId", "d.device_id"},
    {"userId", "d.user_id"}, {"token", "d.token"}, {"phoneNumber", "d.phone_number"},
    {NULL, NULL}};
const push_list_spec_t push_list_devices = {
    PUSH_DEVICE_COLS, "push_device d", "d.app_id = %s", "d.device_id", device_columns,
    push_row_device, sizeof(push_mf_device_t)};

static const push_list_column_t tag_columns[] = {
    {"name", "t.name"}, {"description", "t.description"}, {NULL, NULL}};
const push_list_spec_t push_list_tags = {
    PUSH_TAG_COLS, "push_tag t", "t.app_id = %s", "t.name", tag_columns,
    push_row_tag, sizeof(push_tag_t)};
const push_list_spec_t push_list_tags_counted = {
    PUSH_TAG_COLS ", (SELECT count(*) FROM push_subscription s WHERE s.app_id = t.app_id "
    "AND s.tag_name = t.name)",
    "push_tag t", "t.app_id = %s", "t.name", tag_columns, push_row_tag_counted, sizeof(push_tag_t)};

static const push_list_column_t subscription_columns[] = {
    {"tagName", "s.tag_name"}, {"deviceId", "s.device_id"}, {"userId", "d.user_id"}, {NULL, NULL}};
const push_list_spec_t push_list_subscriptions = {
    PUSH_SUB_COLS, "push_subscription s JOIN push_device d USING (app_id, device_id)",
    "s.app_id = %s", "s.subscription_id", subscription_columns,
    push_row_subscription, sizeof(push_subscription_t)};

static const push_list_column_t app_columns[] = {{"applicationId", "a.app_id"}, {NULL, NULL}};
const push_list_spec_t push_list_applications = {
    "a.app_id, a.enabled", "push_application a", "true", "a.app_id", app_columns,
    push_row_app, sizeof(push_app_t)};
const push_list_spec_t push_list_applications_matching = {
    "a.app_id, a.enabled", "push_application a", "a.app_id ~ %s", "a.app_id", app_columns,
    push_row_app, sizeof(push_app_t)};

static const push_list_column_t webhook_columns[] = {{"name", "w.name"}, {"url", "w.url"}, {NULL, NULL}};
const push_list_spec_t push_list_webhooks = {
    PUSH_HOOK_COLS, "push_webhook w", "w.app_id = %s", "w.name", webhook_columns,
    push_row_webhook, sizeof(push_webhook_t)};
