# Scope enforcement on every MobileFirst call: the operation scope and the application's
# scope are both needed; a token for one application never reaches another.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my ($admin) = oauth_token('*');
my $app = 'scope-' . random_hex(6);
my $other = 'scope-other-' . random_hex(6);
for my $a ($app, $other) {
    mf(POST => '/apps', $admin, {applicationId => $a});
    mf(POST => "/apps/$a/devices", $admin, {deviceId => 'dev1', token => 'tok1', platform => 'A'});
    mf(POST => "/apps/$a/tags", $admin, {name => 'tag1'});
}
my $sub = json_body(mf(POST => "/apps/$app/subscriptions", $admin, {deviceId => 'dev1', tagName => 'tag1'}))->{subscriptionId};

# [method, path, operation scope, body]
my @calls = (
    [GET => "/apps/$app", 'apps.read'],
    [GET => "/apps/$app/status", 'apps.read'],
    [PUT => "/apps/$app/status", 'apps.write', {enabled => JSON::PP::true()}],
    [GET => "/apps/$app/devices", 'devices.read'],
    [POST => "/apps/$app/devices", 'devices.write', {deviceId => 'dev2', token => 'tok2', platform => 'G'}],
    [GET => "/apps/$app/devices/dev1", 'devices.read'],
    [PUT => "/apps/$app/devices/dev1", 'devices.write', {userId => 'u'}],
    [GET => "/apps/$app/tags", 'tags.read'],
    [POST => "/apps/$app/tags", 'tags.write', {name => 'tag2'}],
    [GET => "/apps/$app/tags/tag1", 'tags.read'],
    [PUT => "/apps/$app/tags/tag1", 'tags.write', {description => 'd'}],
    [GET => "/apps/$app/subscriptions", 'subscriptions.read'],
    [POST => "/apps/$app/subscriptions", 'subscriptions.write', {deviceId => 'dev1', tagName => 'tag2'}],
    [GET => "/apps/$app/subscriptions/$sub", 'subscriptions.read'],
    [DELETE => "/apps/$app/subscriptions?deviceId=dev1&tagName=tag2", 'subscriptions.write'],
    [DELETE => "/apps/$app/devices/dev2", 'devices.write'],
    [DELETE => "/apps/$app/tags/tag2", 'tags.write'],
    [GET => "/apps/$app/settings", 'settings.read'],
    [PUT => "/apps/$app/settings/smsConf", 'smsConf.write', {name => 'g', host => 'sms.example.net'}],
    [GET => "/apps/$app/settings/smsConf", 'smsConf.read'],
    [PUT => "/apps/$app/settings/gcmConf", 'gcmConf.write', {apiKey => 'k', senderId => '1'}],
    [GET => "/apps/$app/settings/gcmConf", 'gcmConf.read'],
    [GET => "/apps/$app/settings/gcmConfPublic", 'gcmConfPublic.read'],
    [PUT => "/apps/$app/settings/wnsConf", 'wnsConf.write', {clientSecret => 's', packageSID => 'p'}],
    [GET => "/apps/$app/settings/wnsConf", 'wnsConf.read'],
    [DELETE => "/apps/$app/settings/wnsConf", 'wnsConf.write'],
    [GET => "/apps/$app/settings/apnsConf", 'apnsConf.read', undef, 404],
    [POST => "/apps/$app/webhooks", 'webhooks.write', {name => 'h', url => 'https://h.example/', eventTypes => 'onSubscribe'}],
    [GET => "/apps/$app/webhooks", 'webhooks.read'],
    [GET => "/apps/$app/webhooks/h", 'webhooks.read'],
    [PUT => "/apps/$app/webhooks/h", 'webhooks.write', {url => 'https://h2.example/'}],
    [DELETE => "/apps/$app/webhooks/h", 'webhooks.write'],
);
my %read_only = ('apps.read' => 'apps.write', 'devices.read' => 'devices.write', 'tags.read' => 'tags.write',
                 'subscriptions.read' => 'subscriptions.write', 'smsConf.read' => 'smsConf.write',
                 'gcmConf.read' => 'gcmConf.write', 'wnsConf.read' => 'wnsConf.write', 'apnsConf.read' => 'apnsConf.write',
                 'webhooks.read' => 'webhooks.write', 'settings.read' => 'apps.read',
                 'gcmConfPublic.read' => 'gcmConf.read');
my %swap = (reverse(%read_only), %read_only);

for my $c (@calls) {
    my ($method, $path, $scope, $body, $expect) = @$c;
    my $name = "$method $path";
    my $res = mf($method => $path, undef, $body);
    is $res->code, 401, "$name without a token: 401";
    like $res->header('WWW-Authenticate') // '', qr/^Bearer/, '... with a Bearer challenge';
    $res = mf($method => $path, random_hex(64), $body);
    like $res->header('WWW-Authenticate') // '', qr/error="invalid_token"/, "$name with an unknown token: invalid_token";

    my ($wrong_op) = oauth_token("$swap{$scope} push.application.$app");
    $res = mf($method => $path, $wrong_op, $body);
    is $res->code, 403, "$name with $swap{$scope} instead of $scope: 403";
    like $res->header('WWW-Authenticate') // '', qr/error="insufficient_scope", scope="\Q$scope push.application.$app\E"/,
        '... naming the scopes it needs';

    my ($wrong_app) = oauth_token("$scope push.application.$other");
    $res = mf($method => $path, $wrong_app, $body);
    is $res->code, 403, "$name with a token for another application: 403";

    my ($right) = oauth_token("$scope push.application.$app");
    $res = mf($method => $path, $right, $body);
    if ($expect) {
        is $res->code, $expect, "$name with $scope and push.application.$app passes the scope check";
    } else {
        ok $res->code =~ /^2/, "$name with $scope and push.application.$app succeeds" or diag $res->as_string;
    }
}

# the list of applications needs push.application.*
my ($one_app) = oauth_token("apps.read push.application.$app");
is mf(GET => '/apps', $one_app)->code, 403, 'GET /apps with one application scope: 403';
my ($all_apps) = oauth_token('apps.read push.application.*');
is mf(GET => '/apps', $all_apps)->code, 200, 'GET /apps with push.application.*: 200';
{
    # '*' stays within a segment: push.application.* covers an application "a", not "a.b"
    my $dotted = 'dot.' . random_hex(6);
    is mf(POST => '/apps', $admin, {applicationId => $dotted})->code, 201, 'an application whose id has a dot';
    my $ids = sub {
        my $b = json_body(mf(GET => "/apps?filter=applicationId==$dotted", $_[0]));
        return join ',', map { $_->{applicationId} } @{ $b && $b->{applications} || [] };
    };
    is $ids->($all_apps), '', 'push.application.* does not list it';
    my ($two) = oauth_token('apps.read push.application.* push.application.*.*');
    is $ids->($two), $dotted, 'with push.application.*.* beside it, it is listed';
    is $ids->($admin), $dotted, '* lists it';
    is mf(GET => "/apps/$dotted", $all_apps)->code, 403, 'and push.application.* cannot read it';
}
my ($star) = oauth_token('apps.* push.application.*');
is mf(GET => "/apps/$app/status", $star)->code, 200, 'a wildcard operation scope (apps.*) works';

# '*' stays within one dot-separated segment: "*.*" is every operation scope
# (apps.read, devices.write, ...) but no application's scope
{
    my ($id, $secret) = oauth_client("*.* push.application.$other");
    my ($narrow, $res) = oauth_token(undef, $id, $secret);
    ok $narrow, 'a client allowed "*.* push.application.<appb>" gets a token';
    is json_body($res)->{scope}, "*.* push.application.$other", '... for what it is allowed';
    is mf(GET => "/apps/$other", $narrow)->code, 200, '... which reads its own application';
    is mf(GET => "/apps/$other/devices/dev1", $narrow)->code, 200, '... and its devices';
    is mf(GET => "/apps/$app", $narrow)->code, 403, '... but not another application';
    is mf(GET => "/apps/$app/devices/dev1", $narrow)->code, 403, "... nor that application's devices";
    is mf(GET => '/apps', $narrow)->code, 403, '... nor the list of every application';
    my ($asked, $r2) = oauth_token("apps.read push.application.$app", $id, $secret);
    is $asked, undef, "asking for another application's scope";
    is $r2->code, 400, '... is 400';
    is json_body($r2)->{error}, 'invalid_scope', '... invalid_scope';
    (undef, $r2) = oauth_token('apps.read push.application.*', $id, $secret);
    is json_body($r2)->{error}, 'invalid_scope', 'asking for push.application.* too';
}
{
    my ($id, $secret) = oauth_client('apps.read push.application.*');
    my ($each) = oauth_token(undef, $id, $secret);
    is mf(GET => "/apps/$app", $each)->code, 200, '"push.application.*" reaches every application';
    is mf(GET => '/apps', $each)->code, 200, '... and lists them';
    is mf(GET => "/apps/$app/devices/dev1", $each)->code, 403, '... with no more operations than apps.read';
    ($id, $secret) = oauth_client('*');
    my ($all) = oauth_token(undef, $id, $secret);
    is mf(GET => "/apps/$app/devices/dev1", $all)->code, 200, '"*" alone is every scope';
    is mf(GET => '/apps', $all)->code, 200, '... the list of applications too';
}

# creating and deleting applications
my $new = 'scope-new-' . random_hex(6);
my ($no_app_scope) = oauth_token("apps.write push.application.$app");
is mf(POST => '/apps', $no_app_scope, {applicationId => $new})->code, 403,
   "creating an application needs that application's scope";
my ($create) = oauth_token("apps.write push.application.$new");
is mf(POST => '/apps', $create, {applicationId => $new})->code, 201, '... and succeeds with it';
is mf(DELETE => "/apps/$new", $no_app_scope)->code, 403, 'deleting another application: 403';
is mf(DELETE => "/apps/$new", $create)->code, 204, 'deleting with its scope: 204';
my ($read) = oauth_token("apps.read push.application.$app");
is mf(DELETE => "/apps/$app", $read)->code, 403, 'apps.read cannot delete';
is psql("SELECT count(*) FROM push_application WHERE app_id = '$app'"), 1, 'the application is still there';
done_testing;
