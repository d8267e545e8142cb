# Values that reach a provider's request (device tokens in the APNs path, appName and
# bundle ids as apns-topic, collapse keys as apns-collapse-id, the FCM project in its
# URL) are refused at registration and at acceptance, in each dialect's own error
# format, never with a 500; the tokens real clients register keep working.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $HEX = '105ebe3fcb7e93efda22257caaf5b9c465043f6d0b2abf3bc8ae7c939655e949';
my $FCM = 'dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx8gVW1FNC5bTNnwN2-QxR6L4b_0cOzgWVWm6dQ2uPm1Mp5Z'
        . 'bZj7xl3hbzGCFEr5HUJB0NfdzT3mWpDkhZx-fgPhZ7QmBo0Yl5mpLOaV2C';
my $WNS = 'https://db5p.notify.windows.com/?token=AwYAAAD8sZ%2bT0wSb9sQ';
# a browser's PushSubscription (t/webpush.t has the rules)
my $SUB = '{"endpoint":"https://push.example.net/wp/1","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-'
        . 'JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}}';
my $CRLF = "chat.rocket.ios\r\nx-evil: 1";

# Tokens no platform's sender may put into a request path.
my @bad_tokens = (
    ['x/../abc', 'a path traversal'], ['a?b', 'a query'], ['a#b', 'a fragment'], ['a%2fb', 'a percent escape'],
    ["a\tb", 'a tab'], ["a\0b", 'a NUL'], ["a\x7fb", 'a DEL'], ["a\r\nb", 'CR LF'], ['a b', 'a space'],
    ["t\x{e9}", 'non-ASCII'], ['..', 'a dot segment'],
);

# --- Layer: 422 invalid_property ---------------------------------------------------------------------
{
    my $APP = 'test-layer';
    my $s = new_session('inj-layer-' . random_hex(6), $APP);
    my $post = sub { layer(POST => '/push_tokens', $s, {type => 'apns', device_id => 'inj-' . random_hex(10), @_}) };
    my $refused = sub {
        my ($res, $property, $name) = @_;
        my $b = json_body($res);
        subtest "Layer: $name" => sub {
            is $res->code, 422, 'status 422';
            is $b && $b->{id}, 'invalid_property', 'invalid_property';
            is $b && $b->{code}, 105, 'code 105';
            is $b && $b->{data}{property}, $property, "names $property";
        };
        return $b;
    };
    for my $t (grep { $_->[0] !~ /\0/ } @bad_tokens) {
        $refused->($post->(token => $t->[0]), 'token', "an APNs token with $t->[1]");
    }
    # a NUL anywhere in a body is refused before the properties are: 400, naming it
    my $res = $post->(token => "a\0b");
    my $nb = json_body($res);
    ok $res->code == 400 && $nb && $nb->{id} eq 'invalid_request' && $nb->{data}{property} eq 'token',
       'Layer: an APNs token with a NUL: 400 invalid_request naming token';
    my $b = $refused->($post->(token => 'x/../abc'), 'token', 'the answer says what a token may hold');
    like $b->{message}, qr/letters, digits/, '... in its message';
    $refused->($post->(token => 'a/b', type => 'gcm'), 'token', 'an FCM token with a slash');
    $refused->($post->(token => 'a+b=', type => 'gcm'), 'token', 'an FCM token outside its alphabet');
    $refused->($post->(token => $HEX, apns_bundle_id => "com.example.app\r\nx-evil: 1"), 'apns_bundle_id',
              'CR LF in apns_bundle_id');
    $refused->($post->(token => $HEX, apns_bundle_id => 'com example'), 'apns_bundle_id', 'a space in apns_bundle_id');
    $refused->($post->(token => $HEX, device_id => "d\tx"), 'device_id', 'a tab in device_id');
    $refused->($post->(token => $HEX, device_id => "d\nx"), 'device_id', 'LF in device_id');
    for my $ok (['token', 'apns'], ['xyz', 'apns'], [$HEX, 'apns'], [$FCM, 'gcm'], ['fcm-token-1', 'gcm']) {
        is $post->(token => $ok->[0], type => $ok->[1], apns_bundle_id => 'com.example.app')->code, 202,
           "Layer: the $ok->[1] token '" . substr($ok->[0], 0, 16) . "' registers";
    }
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id LIKE 'inj-%' "
            . "AND (token ~ '[/?#% ]' OR device_id ~ '[[:cntrl:]]' OR extra->>'apns_bundle_id' ~ '[[:cntrl:] ]')"),
       0, 'Layer: nothing of the refused was stored';
}

# --- Navixy: code 7 with the parameter named -----------------------------------------------------------
{
    my $BIND = '/user/session/push_token/bind';
    my $refused = sub {
        my ($res, $name) = @_;
        my $b = json_body($res);
        subtest "Navixy: $name" => sub {
            is $res->code, 400, 'status 400';
            ok $b && $b->{success} eq JSON::PP::false(), 'success is false';
            is $b && $b->{status}{code}, 7, 'code 7';
            is $b && $b->{errors}[0]{parameter}, 'token', 'names token';
        };
    };
    my $bind = sub {
        my ($application, $token, $style) = @_;
        my $s = new_session('inj-nvx-' . random_hex(6), 'test-navixy');
        return nvx(POST => $BIND, $style // 'json', {hash => $s, application => $application, token => $token});
    };
    for my $t (@bad_tokens) {
        $refused->($bind->('navixy_iphone_viewer', $t->[0]), "an APNs token with $t->[1]");
    }
    $refused->($bind->('navixy_iphone_viewer', 'x/../abc', 'form'), 'a path traversal in a form');
    $refused->($bind->('navixy_android_viewer', 'a/b'), 'an FCM token with a slash');
    $refused->($bind->('navixy_android_viewer', "\x{1F600}tok"), 'a non-ASCII FCM token');
    $refused->($bind->('acme_viewer', "https://x.notify.windows.com/\r\nx-evil: 1"), 'CR LF in a WNS channel');
    for my $ok (['navixy_iphone_viewer', 'xyz'], ['navixy_iphone_viewer', $HEX], ['navixy_android_viewer', $FCM],
                ['acme_viewer', $WNS]) {
        is $bind->(@$ok)->code, 200, "Navixy: $ok->[0] binds '" . substr($ok->[1], 0, 16) . "'";
    }
}

# --- Rocket.Chat: 400 {"success": false, "error": ..., "errorType": ...} ------------------------------------
{
    my $user = 'inj-rc-' . random_hex(6);
    my $s = new_session($user, 'test-rc');
    my $rc = sub {
        request(POST => '/api/v1/push.token', content => JSON::PP->new->utf8->encode({@_}),
                headers => ['X-User-Id' => $user, 'X-Auth-Token' => $s, 'Content-Type' => 'application/json']);
    };
    my %reason = ('error-token-param-not-valid' => 'The required "value" body param is missing or invalid.',
                  'error-appName-param-not-valid' => 'The required "appName" body param is missing or invalid.',
                  'error-id-param-not-valid' => 'The required "id" body param is invalid.');
    my $refused = sub {
        my ($res, $type, $name) = @_;
        is_deeply [$res->code, json_body($res)],
            [400, {success => JSON::PP::false(), error => "$reason{$type} [$type]", errorType => $type}],
            "Rocket.Chat: $name";
    };
    my %good = (type => 'apn', value => $HEX, appName => 'chat.rocket.ios');
    $refused->($rc->(%good, appName => $CRLF), 'error-appName-param-not-valid', 'CR LF in appName (apns-topic)');
    $refused->($rc->(%good, appName => "chat.rocket.ios\n"), 'error-appName-param-not-valid', 'LF in appName');
    $refused->($rc->(%good, appName => 'chat rocket'), 'error-appName-param-not-valid', 'a space in appName');
    $refused->($rc->(%good, appName => "chat.r\x{f6}cket"), 'error-appName-param-not-valid', 'non-ASCII in appName');
    # a NUL anywhere in a body is refused before the parameters are: 400, naming it
    for my $p (['appName', {%good, appName => "a\0b"}], ['value', {%good, value => "a\0b"}]) {
        is_deeply [$rc->(%{ $p->[1] })->code, json_body($rc->(%{ $p->[1] }))],
            [400, {success => JSON::PP::false(), errorType => 'error-invalid-param',
                   error => "The parameter '$p->[0]' must not hold a NUL character [error-invalid-param]"}],
            "Rocket.Chat: NUL in $p->[0]";
    }
    for my $t (grep { $_->[0] !~ /\0/ } @bad_tokens) {
        $refused->($rc->(%good, value => $t->[0]), 'error-token-param-not-valid', "an apn value with $t->[1]");
    }
    $refused->($rc->(%good, type => 'gcm', value => 'a/b'), 'error-token-param-not-valid', 'a gcm value with a slash');
    $refused->($rc->(%good, id => "rec\n1"), 'error-id-param-not-valid', 'LF in the record id');
    for my $ok (['apn', 'token'], ['apn', 'xyz'], ['apn', $HEX], ['gcm', $FCM]) {
        my $res = $rc->(type => $ok->[0], value => $ok->[1], appName => 'chat.rocket.ios');
        is $res->code, 200, "Rocket.Chat: the $ok->[0] value '" . substr($ok->[1], 0, 16) . "' registers";
    }
    is psql("SELECT count(*) FROM push_device WHERE app_id = 'test-rc' AND user_id = '$user' "
            . "AND extra->>'appName' ~ '[[:cntrl:] ]'"), 0,
       'Rocket.Chat: no appName with controls or spaces was stored';
}

# --- MobileFirst: 400 FPWSE0005E naming the property ------------------------------------------------------
{
    my ($token) = oauth_token('*');
    my $app = 'inj-' . random_hex(6);
    mf(POST => '/apps', $token, {applicationId => $app});
    my $refused = sub {
        my ($res, $property, $name) = @_;
        my $b = json_body($res);
        subtest "MobileFirst: $name" => sub {
            is $res->code, 400, 'status 400';
            like $res->header('Content-Type') // '', qr{^application/json}, 'JSON';
            is $b && $b->{code}, 'FPWSE0005E', 'FPWSE0005E';
            like $b && $b->{message}, qr/\Q$property\E/, "names $property";
        };
    };
    my $dev = sub { {deviceId => 'd-' . random_hex(6), platform => 'A', @_} };
    my $path = "/apps/$app/devices";
    for my $t (@bad_tokens) {
        $refused->(mf(POST => $path, $token, $dev->(token => $t->[0])), 'token', "an APNs token with $t->[1]");
    }
    $refused->(mf(POST => $path, $token, $dev->(token => 'a/b', platform => 'G')), 'token', 'an FCM token with a slash');
    $refused->(mf(POST => $path, $token, $dev->(token => 'xyz', deviceId => "d\r\n")), 'deviceId', 'CR LF in deviceId');
    $refused->(mf(POST => $path, $token, $dev->(token => 'xyz', userId => "u\tx")), 'userId', 'a tab in userId');
    for my $ok (['xyz', 'A'], [$HEX, 'A'], [$FCM, 'G'], [$WNS, 'W'], [$SUB, 'B']) {
        is mf(POST => $path, $token, $dev->(token => $ok->[0], platform => $ok->[1]))->code, 201,
           "MobileFirst: platform $ok->[1] registers '" . substr($ok->[0], 0, 16) . "'";
    }
    my $id = 'upd-' . random_hex(6);
    mf(POST => $path, $token, {deviceId => $id, token => $HEX, platform => 'A'});
    $refused->(mf(PUT => "$path/$id", $token, {token => 'x/../abc'}), 'token', 'an update to a path traversal');
    $refused->(mf(PUT => "$path/$id", $token, {token => $WNS, platform => 'W'}), 'token',
               'an update naming another platform is checked against the stored one');
    is json_body(mf(GET => "$path/$id", $token))->{token}, $HEX, '... and the token is unchanged';
    is mf(PUT => "$path/$id", $token, {token => 'xyz'})->code, 200, 'an update to a good token';
    my $w = 'w-' . random_hex(6);
    mf(POST => $path, $token, {deviceId => $w, token => 'https://db5p.notify.windows.com/?token=first', platform => 'W'});
    is mf(PUT => "$path/$w", $token, {token => $WNS})->code, 200, 'a WNS device takes a channel URI';

    my $msgs = "/apps/$app/messages";
    my %m = (message => {alert => 'hi'}, target => {deviceIds => [$id]});
    $refused->(mf(POST => $msgs, $token, {%m, collapseKey => "k\r\napns-topic: evil"}), 'collapseKey',
               'CR LF in collapseKey (apns-collapse-id)');
    $refused->(mf(POST => $msgs, $token, {%m, collapseKey => 'k' x 65}), 'collapseKey', 'a collapseKey over 64 bytes');
    $refused->(mf(POST => $msgs, $token, {%m, collapseKey => "sc\x{f6}re"}), 'collapseKey', 'a non-ASCII collapseKey');
    $refused->(mf(POST => $msgs, $token, {%m, settings => {gcm => {collapseKey => "a\nb"}}}),
               'settings.gcm.collapseKey', 'LF in settings.gcm.collapseKey');
    $refused->(mf(POST => $msgs, $token, {%m, message => {alert => "a\0b"}}), 'message.alert', 'NUL in an alert');
    $refused->(mf(POST => $msgs, $token, {%m, message => {alert => "a\x1b[2Jb"}}), 'message.alert', 'ESC in an alert');
    $refused->(mf(POST => "$msgs/bulk", $token, [\%m, {%m, collapseKey => "k\nx"}]), '[1].collapseKey',
               'CR LF in a bulk message');
    is mf(POST => $msgs, $token, {%m, message => {alert => "line 1\nline 2\ttabbed"}, collapseKey => 'score 1'})->code,
       202, 'an alert with LF and TAB, a collapseKey with a space: accepted';

    my $p8 = `openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt 2>/dev/null`;
    my %apns = (keyId => 'ABC123DEFG', teamId => 'TEAM123456', bundleId => 'com.example.app', p8 => $p8);
    $refused->(mf(PUT => "/apps/$app/settings/apnsConf", $token, {%apns, bundleId => "com.example.app\r\nx-evil: 1"}),
               'bundleId', 'CR LF in apnsConf bundleId (apns-topic)');
    $refused->(mf(PUT => "/apps/$app/settings/apnsConf", $token, {%apns, bundleId => 'com example'}), 'bundleId',
               'a space in apnsConf bundleId');
    my %account = (type => 'service_account', project_id => 'demo-project', client_email => 'a@b.iam.gserviceaccount.com',
                   private_key => "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
    $refused->(mf(PUT => "/apps/$app/settings/gcmConf", $token, {serviceAccount => {%account, project_id => 'p/../other'}}),
               'serviceAccount.project_id', 'a project_id that leaves its path segment');
    $refused->(mf(PUT => "/apps/$app/settings/gcmConf", $token, {serviceAccount => {%account, project_id => "p\r\n"}}),
               'serviceAccount.project_id', 'CR LF in project_id');
}

done_testing;
