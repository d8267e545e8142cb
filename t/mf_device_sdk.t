# MobileFirst's device SDKs: a token with the fixed scope push.mobileclient, then the calls
# the Cordova plug-in (cordova-plugin-mfp-push, its Windows proxy in particular) makes on
# its own device, written as it sends them: compact JSON.stringify bodies, a trailing
# slash on "devices/", phoneNumber as a JSON number, tagNames arrays, POST
# subscriptions?action=delete. And what push.mobileclient must not reach.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my ($admin) = oauth_token('*');
my $app = 'sdk-' . random_hex(6);
my $other_app = 'sdk-other-' . random_hex(6);
for my $a ($app, $other_app) {
    mf(POST => '/apps', $admin, {applicationId => $a});
    mf(POST => "/apps/$a/tags", $admin, {name => $_}) for qw(news sports);
}
mf(PUT => "/apps/$app/settings/gcmConf", $admin, {apiKey => 'k', senderId => '184460713254'});

# a client per app installation, allowed push.mobileclient on one application
sub device_client {
    my ($id, $secret) = oauth_client("push.mobileclient push.application.$app");
    my ($token, $res) = oauth_token('push.mobileclient', $id, $secret);
    return ($token, $res);
}
my ($dev_token, $token_res) = device_client();
ok $dev_token, 'a client allowed push.mobileclient gets a token for scope=push.mobileclient';
is json_body($token_res)->{scope}, "push.mobileclient push.application.$app",
   "the token carries the client's application scope too";

# the requests as the SDK sends them
sub sdk {
    my ($method, $path, $token, $json) = @_;
    return mf($method, $path, $token, $json,
              headers => ['Accept-Language' => 'en-US', 'User-Agent' => 'MFPPush-Cordova-Windows-test',
                          (defined $json ? ('Content-Type' => 'application/json; charset=UTF-8') : ())]);
}
sub mf_err {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        is $b && $b->{code}, $code, "code $code";
    };
}

my $dev = 'win-' . random_hex(8);
my $wns = 'https://db5.notify.windows.com/?token=' . random_hex(20);

# --- the registration flow ----------------------------------------------------------------
my $res = sdk(GET => "/apps/$app/settings/gcmConfPublic", $dev_token);
is $res->code, 200, 'GET settings/gcmConfPublic with push.mobileclient';
is json_body($res)->{senderId}, '184460713254', '... answers the sender id';
mf_err(sdk(GET => "/apps/$app/devices/$dev", $dev_token), 404, 'FPWSE0001E',
       'verifying an unregistered device: 404 (the SDK then registers)');
$res = sdk(POST => "/apps/$app/devices/", $dev_token,
           qq({"deviceId":"$dev","token":"$wns","platform":"W","phoneNumber":15551234567}));
is $res->code, 201, 'POST devices/ (trailing slash) registers the device' or diag $res->as_string;
my $b = json_body($res) || {};
is $b->{phoneNumber}, '15551234567', 'a phoneNumber sent as a JSON number is stored as its digits';
is_deeply [@$b{qw(deviceId token platform)}], [$dev, $wns, 'W'], 'answers the device';
is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app' AND device_id = '$dev' AND tag_name = 'Push.all'"),
   1, 'the new device is subscribed to Push.all';
is sdk(GET => "/apps/$app/devices/$dev", $dev_token)->code, 200, 'GET its own device: 200';
my $wns2 = $wns . 'x';
$res = sdk(PUT => "/apps/$app/devices/$dev", $dev_token, qq({"deviceId":"$dev","token":"$wns2","platform":"W"}));
is $res->code, 200, 'PUT its own device (a new channel URI): 200';
is json_body($res)->{token}, $wns2, '... the token changes';
is sdk(POST => "/apps/$app/devices/", $dev_token, qq({"deviceId":"$dev","token":"$wns2","platform":"W"}))->code, 201,
   'registering its own device again: 201';

# --- tags and subscriptions -------------------------------------------------------------------
$res = sdk(GET => "/apps/$app/tags", $dev_token);
is $res->code, 200, 'GET tags with push.mobileclient';
is_deeply [sort map { $_->{name} } @{ json_body($res)->{tags} }], [qw(Push.all news sports)], '... lists the tags';
$res = sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagNames":["news","sports"]}));
is $res->code, 201, 'POST subscriptions with tagNames' or diag $res->as_string;
is_deeply [map { $_->{tagName} } @{ (json_body($res) || {})->{subscriptions} || [] }], [qw(news sports)],
          '... answers a subscription per tag';
is sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagNames":["news"]}))->code, 201,
   'subscribing to a tag it has already: 201 (tagNames is idempotent)';
$res = sdk(GET => "/apps/$app/subscriptions?deviceId=$dev", $dev_token);
is $res->code, 200, 'GET subscriptions?deviceId= of its own device';
is_deeply [sort map { $_->{tagName} } @{ json_body($res)->{subscriptions} }], [qw(Push.all news sports)],
          '... lists its subscriptions';
$res = sdk(POST => "/apps/$app/subscriptions?action=delete", $dev_token, qq({"deviceId":"$dev","tagNames":["news"]}));
is $res->code, 204, 'POST subscriptions?action=delete with tagNames unsubscribes';
is psql("SELECT string_agg(tag_name, ',' ORDER BY tag_name) FROM push_subscription WHERE app_id = '$app' AND device_id = '$dev'"),
   'Push.all,sports', '... from that tag only';
is sdk(POST => "/apps/$app/subscriptions?action=delete", $dev_token, qq({"deviceId":"$dev","tagNames":["news"]}))->code,
   204, 'unsubscribing again with tagNames: 204';
$res = sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagName":"news"}));
is $res->code, 201, 'the tagName form subscribes';
is json_body($res)->{tagName}, 'news', '... answering the subscription';
mf_err(sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagName":"news"})), 409,
       'FPWSE0011E', 'the tagName form keeps its 409');
is sdk(POST => "/apps/$app/subscriptions?action=delete", $dev_token, qq({"deviceId":"$dev","tagName":"news"}))->code, 204,
   'the tagName form unsubscribes with ?action=delete';
mf_err(sdk(POST => "/apps/$app/subscriptions?action=delete", $dev_token, qq({"deviceId":"$dev","tagName":"news"})), 404,
       'FPWSE0012E', '... and answers 404 when that subscription is missing');
is sdk(DELETE => "/apps/$app/subscriptions?deviceId=$dev&tagName=sports", $dev_token)->code, 204,
   'DELETE subscriptions?deviceId=&tagName= on its own device';

# bad subscription bodies
mf_err(sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagNames":[]})), 400, 'FPWSE0005E',
       'an empty tagNames');
mf_err(sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagNames":["news",7]})), 400,
       'FPWSE0005E', 'a number in tagNames');
mf_err(sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagNames":"news"})), 400,
       'FPWSE0005E', 'a string for tagNames');
mf_err(sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev"})), 400, 'FPWSE0005E',
       'neither tagName nor tagNames');
mf_err(sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$dev","tagNames":["ghost"]})), 404,
       'FPWSE0001E', 'an unknown tag in tagNames');
mf_err(sdk(POST => "/apps/$app/subscriptions?action=remove", $dev_token, qq({"deviceId":"$dev","tagName":"news"})), 400,
       'FPWSE0005E', 'another action');
mf_err(sdk(POST => "/apps/$app/subscriptions?mode=x", $dev_token, qq({"deviceId":"$dev","tagName":"news"})), 400,
       'FPWSE0007E', 'an unknown query parameter');
mf_err(mf(POST => "/apps/$app/subscriptions?action=delete", $admin, {deviceId => 'ghost', tagNames => ['news']}), 404,
       'FPWSE0001E', 'unsubscribing an unknown device');

# --- only its own devices --------------------------------------------------------------------
my ($other_token) = device_client();
my $theirs = 'win-theirs-' . random_hex(6);
is sdk(POST => "/apps/$app/devices", $other_token, qq({"deviceId":"$theirs","token":"https://db5.notify.windows.com/?token=t-$theirs","platform":"W"}))->code,
   201, 'a second installation registers its own device';
mf_err(sdk(GET => "/apps/$app/devices/$theirs", $dev_token), 404, 'FPWSE0001E', "GET another client's device: 404");
mf_err(sdk(PUT => "/apps/$app/devices/$theirs", $dev_token, qq({"token":"stolen"})), 404, 'FPWSE0001E',
       "PUT another client's device: 404");
mf_err(sdk(DELETE => "/apps/$app/devices/$theirs", $dev_token), 404, 'FPWSE0001E', "DELETE another client's device: 404");
mf_err(sdk(POST => "/apps/$app/subscriptions", $dev_token, qq({"deviceId":"$theirs","tagNames":["news"]})), 404,
       'FPWSE0001E', "subscribing another client's device: 404");
mf_err(sdk(POST => "/apps/$app/subscriptions?action=delete", $dev_token, qq({"deviceId":"$theirs","tagNames":["Push.all"]})),
       404, 'FPWSE0001E', "unsubscribing another client's device: 404");
mf_err(sdk(GET => "/apps/$app/subscriptions?deviceId=$theirs", $dev_token), 404, 'FPWSE0001E',
       "listing another client's subscriptions: 404");
mf_err(sdk(DELETE => "/apps/$app/subscriptions?deviceId=$theirs&tagName=Push.all", $dev_token), 404, 'FPWSE0001E',
       "DELETE subscriptions?deviceId= of another client's device: 404");
mf_err(sdk(POST => "/apps/$app/devices", $dev_token, qq({"deviceId":"$theirs","token":"https://db5.notify.windows.com/?token=stolen","platform":"W"})), 409,
       'FPWSE0002E', "registering another client's deviceId: 409");
is psql("SELECT token FROM push_device WHERE app_id = '$app' AND device_id = '$theirs'"), "https://db5.notify.windows.com/?token=t-$theirs",
   '... and that device keeps its token';
is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app' AND device_id = '$theirs'"), 1,
   '... and its subscriptions';
my $backend_dev = 'backend-' . random_hex(6);
mf(POST => "/apps/$app/devices", $admin, {deviceId => $backend_dev, token => "t-$backend_dev", platform => 'G'});
mf_err(sdk(GET => "/apps/$app/devices/$backend_dev", $dev_token), 404, 'FPWSE0001E',
       'a device a backend registered is not a device client\'s');
is mf(GET => "/apps/$app/devices/$theirs", $admin)->code, 200, 'a backend token still reaches every device';
# a token is one device's, and registering it elsewhere removes the device that held it:
# a device client may do that only to a device it registered itself
my $their_wns = "https://db5.notify.windows.com/?token=t-$theirs";
my $mine2 = 'win-mine2-' . random_hex(6);
mf_err(sdk(POST => "/apps/$app/devices", $dev_token, qq({"deviceId":"$mine2","token":"$their_wns","platform":"W"})), 409,
       'FPWSE0002E', "registering another client's token under a new deviceId: 409");
mf_err(sdk(POST => "/apps/$app/devices", $dev_token, qq({"deviceId":"$mine2","token":"t-$backend_dev","platform":"G"})), 409,
       'FPWSE0002E', "registering a backend device's token: 409");
mf_err(sdk(PUT => "/apps/$app/devices/$dev", $dev_token, qq({"token":"$their_wns"})), 409, 'FPWSE0002E',
       "giving its own device another client's token: 409");
is psql("SELECT count(*) FROM push_device WHERE app_id = '$app' AND device_id IN ('$theirs', '$backend_dev')"), 2,
   '... both devices are still there';
is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app' AND device_id = '$theirs'"), 1,
   '... with their subscriptions';
my $mine_tok = "https://db5.notify.windows.com/?token=t-$mine2";
is sdk(POST => "/apps/$app/devices", $dev_token, qq({"deviceId":"$mine2","token":"$mine_tok","platform":"W"}))->code, 201,
   'a second device of its own';
my $mine3 = 'win-mine3-' . random_hex(6);
is sdk(POST => "/apps/$app/devices", $dev_token, qq({"deviceId":"$mine3","token":"$mine_tok","platform":"W"}))->code, 201,
   'its own token under a new deviceId (a reinstall): 201';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$app' AND device_id = '$mine2'"), 0,
   '... the device that held it goes, as before';
is mf(POST => "/apps/$app/devices", $admin, {deviceId => "b2-$backend_dev", token => "t-$backend_dev", platform => 'G'})->code,
   201, 'a backend may still move a token';
sdk(DELETE => "/apps/$app/devices/$mine3", $dev_token);
$res = sdk(POST => "/apps/$app/devices", $dev_token, qq({"deviceId":"$dev","token":"$wns2","platform":"W","userId":"alice"}));
is $res->code, 403, 'a device client cannot name the userId';
like $res->header('WWW-Authenticate') // '', qr/insufficient_scope", scope="devices.write push.application.\Q$app\E"/,
     '... that needs devices.write';
is sdk(PUT => "/apps/$app/devices/$dev", $dev_token, qq({"userId":"alice"}))->code, 403, '... on PUT too';

# --- nothing administrative -----------------------------------------------------------------
for my $c ([GET => "/apps/$app/devices"], [GET => "/apps/$app/subscriptions"], [GET => "/apps/$app"],
           [GET => "/apps/$app/status"], [PUT => "/apps/$app/status", {enabled => JSON::PP::false()}],
           [DELETE => "/apps/$app"], [GET => '/apps'], [GET => "/apps/$app/settings"],
           [GET => "/apps/$app/settings/gcmConf"], [PUT => "/apps/$app/settings/gcmConf", {apiKey => 'k', senderId => '1'}],
           [DELETE => "/apps/$app/settings/gcmConf"], [PUT => "/apps/$app/settings/apnsConf", {keyId => 'k'}],
           [GET => "/apps/$app/settings/wnsConf"], [POST => "/apps/$app/tags", {name => 'mine'}],
           [PUT => "/apps/$app/tags/news", {description => 'x'}], [DELETE => "/apps/$app/tags/news"],
           [GET => "/apps/$app/tags/news"],
           [POST => "/apps/$app/messages", {message => {alert => 'hi'}}], [POST => "/apps/$app/messages/bulk", []],
           [GET => "/apps/$app/messages/x"], [POST => "/apps/$app/webhooks", {name => 'h', url => 'https://h.example/',
                                                                            eventTypes => 'onSubscribe'}],
           [GET => "/apps/$app/webhooks"], [GET => "/apps/$app/subscriptions/x"],
           [DELETE => "/apps/$app/subscriptions/x"]) {
    my ($method, $path, $body) = @$c;
    $res = mf($method => $path, $dev_token, $body);
    is $res->code, 403, "push.mobileclient: $method $path is 403";
}
is psql("SELECT count(*) FROM push_message WHERE app_id = '$app'"), 0, 'no message was accepted';
is mf(GET => "/apps/$app/settings/gcmConf", $admin)->code, 200, 'the GCM settings are still there';
$res = sdk(POST => "/apps/$other_app/devices", $dev_token, qq({"deviceId":"$dev","token":"$wns","platform":"W"}));
is $res->code, 403, "push.mobileclient for one application does not reach another";

# --- unregister -------------------------------------------------------------------------------
is sdk(DELETE => "/apps/$app/devices/$dev", $dev_token)->code, 204, 'DELETE its own device: 204';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$app' AND device_id = '$dev'"), 0, '... it is gone';
is sdk(POST => "/apps/$app/devices/", $dev_token, qq({"deviceId":"$dev","token":"$wns","platform":"W"}))->code, 201,
   'and the same installation can register it again';
done_testing;
