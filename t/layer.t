# Layer's /push_tokens: every row of docs/api/layer.md (shared/docs/api-layer.md).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $APP = 'test-layer';
my $user = 'layer-' . random_hex(8);
my $token = new_session($user, $APP);

sub register {
    my ($tok, %f) = @_;
    my %body = (token => random_hex(64), type => 'apns', device_id => 'dev-' . random_hex(12), %f);
    delete $body{$_} for grep { !defined $body{$_} } keys %body;
    return (layer(POST => '/push_tokens', $tok, \%body), \%body);
}

sub device { psql_row("SELECT platform, token, user_id, extra::text FROM push_device WHERE app_id = '$APP' AND device_id = '$_[0]'") }

sub is_layer_error {
    my ($res, $status, $code, $id, $name, $property) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        like $res->header('Content-Type'), qr{^application/json}, 'a JSON body';
        is $b && $b->{code}, $code, "code $code";
        is $b && $b->{id}, $id, "id $id";
        ok $b && length $b->{message}, 'a message';
        ok $b && $b->{url}, 'a url';
        is $b && $b->{data}{property}, $property, "data.property $property" if $property;
    };
    return $b;
}

# --- register ------------------------------------------------------------------------
{
    my ($res, $b) = register($token, apns_bundle_id => 'com.example.app', ios_version => '9.0');
    is $res->code, 202, 'POST /push_tokens answers 202 Accepted';
    is $res->content, '', 'with an empty body';
    my ($platform, $tok, $owner, $extra) = device($b->{device_id});
    is $platform, 'apns', 'type apns is stored as platform apns';
    is $tok, $b->{token}, 'the token is stored';
    is $owner, $user, 'the device belongs to the session user';
    like $extra, qr/"apns_bundle_id": "com.example.app"/, 'apns_bundle_id is kept';
    like $extra, qr/"ios_version": "9.0"/, 'ios_version is kept';
    unlike $extra, qr/legacy_payload/, 'iOS 9 gets the current payload format';
}
{
    my ($res, $b) = register($token, type => 'gcm', gcm_sender_id => '1234567890');
    is $res->code, 202, 'a gcm token registers';
    my ($platform, undef, undef, $extra) = device($b->{device_id});
    is $platform, 'fcm', 'type gcm is stored as platform fcm';
    like $extra, qr/"gcm_sender_id": "1234567890"/, 'gcm_sender_id is kept';
}
{
    my ($res, $b) = register($token, ios_version => '7.1');
    my (undef, undef, undef, $extra) = device($b->{device_id});
    like $extra, qr/"legacy_payload": true/, 'iOS before 8 is marked for the small legacy payload';
}
{
    my $id = 'dev-replace-' . random_hex(6);
    register($token, device_id => $id, token => 'aaaa' . random_hex(60));
    my $new = 'bbbb' . random_hex(60);
    my ($res) = register($token, device_id => $id, token => $new);
    is $res->code, 202, 're-registering a device answers 202';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$id'"), 1,
        're-registration keeps one row per device';
    is((device($id))[1], $new, 're-registration replaces the token');
}
{
    my $tok = random_hex(64);
    my ($r1, $b1) = register($token, token => $tok);
    my ($r2, $b2) = register($token, token => $tok);
    is psql("SELECT string_agg(device_id, ',') FROM push_device WHERE app_id = '$APP' AND token = '$tok'"),
        $b2->{device_id}, 'a token registered under a new device id leaves its old device';
}
{
    my $other = 'layer-other-' . random_hex(6);
    my $t2 = new_session($other, $APP);
    my $id = 'dev-handover-' . random_hex(6);
    register($token, device_id => $id);
    my ($res) = register($t2, device_id => $id);
    is_layer_error($res, 403, 101, 'access_denied', "another user registering the device of a live session's user",
                   'device_id');
    is((device($id))[2], $user, '... leaves it with its owner');
    # the documented hand-over: once the owner's session ends, the device moves
    my $u3 = 'layer-leaving-' . random_hex(6);
    my $t3 = new_session($u3, $APP);
    my $id3 = 'dev-handover-' . random_hex(6);
    register($t3, device_id => $id3);
    pushctl('session', 'rm', $t3);
    ($res) = register($t2, device_id => $id3);
    is $res->code, 202, 'after its owner logged out, another user registering the same device id';
    is((device($id3))[2], $other, 'takes the device over (it now belongs to the new user)');
}

# --- per-user limit: 25 devices, least recently used out first --------------------------
{
    my $u = 'layer-lru-' . random_hex(6);
    my $t = new_session($u, $APP);
    my @ids = map { sprintf 'lru-%s-%02d', $u, $_ } 1 .. 26;
    register($t, device_id => $_) for @ids[0 .. 24];
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND user_id = '$u'"), 25,
        '25 devices are kept';
    register($t, device_id => $ids[0], token => random_hex(64));   # device 1 is used again
    my ($res) = register($t, device_id => $ids[25]);
    is $res->code, 202, 'the 26th device registers';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND user_id = '$u'"), 25,
        'the user still has 25 devices';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$ids[1]'"), 0,
        'the least recently used device was dropped';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id IN ('$ids[0]', '$ids[25]')"), 2,
        'the recently re-registered and the new device stay';
    # schema 12: the new device took the evicted one's row; it must be the new device in full
    is join('|', psql_row("SELECT platform, user_id, extra::text, source_family, session_ref IS NULL,
                                  created_at > now() - interval '1 minute', length(token)
                             FROM push_device WHERE app_id = '$APP' AND device_id = '$ids[25]'")),
        "apns|$u|{}|layer|t|t|64", '... stored as registered, with its own creation time';

    # an evicted device with subscriptions goes with them
    psql("INSERT INTO push_tag (app_id, name) VALUES ('$APP', 'lru-tag') ON CONFLICT DO NOTHING");
    psql("INSERT INTO push_subscription (app_id, subscription_id, device_id, tag_name)
          VALUES ('$APP', 'sub-$u', '$ids[2]', 'lru-tag')");
    my ($r2) = register($t, device_id => "$u-next");
    is $r2->code, 202, 'a device evicting a subscribed one registers';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$ids[2]'")
       . psql("SELECT count(*) FROM push_subscription WHERE app_id = '$APP' AND subscription_id = 'sub-$u'")
       . psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND user_id = '$u'"), '0025',
        '... the evicted device and its subscription are gone, 25 devices kept';

    # the registry's events of an eviction: the old device unregistered, the new one registered
    psql("INSERT INTO push_webhook (app_id, name, url, events) VALUES ('$APP', 'lru-hook',
          'https://hooks.example.invalid/h', '{onDeviceRegister,onDeviceUnregister,onDeviceUpdate}')");
    my $before = psql("SELECT coalesce(max(event_id), 0) FROM push_event");
    my ($r3) = register($t, device_id => "$u-evented");
    is $r3->code, 202, 'an eviction with a webhook listening registers';
    is psql("SELECT string_agg(kind || ':' || (payload->>'deviceId'), ',' ORDER BY event_id) FROM push_event
              WHERE app_id = '$APP' AND event_id > $before"), "onDeviceUnregister:$ids[3],onDeviceRegister:$u-evented",
        '... onDeviceUnregister for the evicted device, onDeviceRegister for the new one';
    register($t, device_id => "$u-evented", token => random_hex(64));
    is psql("SELECT count(*) FROM push_event WHERE app_id = '$APP' AND event_id > $before"), 3,
        '... and a new token for it is one onDeviceUpdate';
    psql("DELETE FROM push_webhook WHERE app_id = '$APP' AND name = 'lru-hook'");
}
{
    my $u = 'layer-lim3-' . random_hex(6);
    my $t = new_session($u, $APP);
    layer(POST => '/limit3/push_tokens', $t, {token => random_hex(64), type => 'apns', device_id => "$u-$_"}) for 1 .. 4;
    is psql("SELECT string_agg(device_id, ',' ORDER BY device_id) FROM push_device WHERE app_id = '$APP' AND user_id = '$u'"),
        "$u-2,$u-3,$u-4", 'PushUserDeviceLimit 3 keeps the three most recent';
}

# --- delete --------------------------------------------------------------------------
{
    my (undef, $b) = register($token);
    my $res = layer(DELETE => "/push_tokens/$b->{device_id}", $token);
    is $res->code, 202, 'DELETE /push_tokens/:device_id answers 202';
    is $res->content, '', 'with an empty body';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$b->{device_id}'"), 0,
        'the device is gone';
    is layer(DELETE => "/push_tokens/$b->{device_id}", $token)->code, 202, 'deleting again is 202 (idempotent)';
    is layer(DELETE => '/push_tokens/never-registered', $token)->code, 202, 'deleting an unknown device is 202';

    my $other = new_session('layer-victim-' . random_hex(6), $APP);
    my (undef, $theirs) = register($other);
    is layer(DELETE => "/push_tokens/$theirs->{device_id}", $token)->code, 202,
        "deleting another user's device answers 202";
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$theirs->{device_id}'"), 1,
        "but the other user's device stays";
    my $enc = 'dev%20with%20space';
    register($token, device_id => 'dev with space');
    is layer(DELETE => "/push_tokens/$enc", $token)->code, 202, 'a percent-encoded device id';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = 'dev with space'"), 0,
        'is decoded before the delete';
}

# --- Accept header -------------------------------------------------------------------
# Client API versions 1.0 (Web SDK 1.x and 2.x), 2.0 (Web SDK 3.x) and 3.0 (Web XDK 1.x-4.x)
# all register push tokens the same way.
for my $accept ('application/vnd.layer+json; version=1.0', 'application/vnd.layer+json;version=1.0',
                'application/vnd.layer+json; version="1.0"', 'Application/VND.Layer+JSON; Version=1.0',
                'text/html, application/vnd.layer+json; version=1.0',
                'application/vnd.layer+json; charset=utf-8; version=1.0',
                'application/vnd.layer+json; version=2.0', 'application/vnd.layer+json; version=3.0') {
    my $res = layer(POST => '/push_tokens', $token, {token => random_hex(64), type => 'apns', device_id => random_hex(8)},
                    accept => $accept);
    is $res->code, 202, "Accept: $accept is accepted";
}
my $accept_message = 'Invalid Accept header; send application/vnd.layer+json with version 1.0, 2.0 or 3.0, '
                   . 'e.g. Accept: application/vnd.layer+json; version=2.0';
for my $accept (undef, 'application/json', '*/*', 'application/vnd.layer+json', 'application/vnd.layer+json; version=4.0',
                'application/vnd.layer+json; version=1', 'application/vnd.layer+json; version=2',
                'application/vnd.layer+xml; version=1.0') {
    my $res = layer(POST => '/push_tokens', $token, {token => random_hex(64), type => 'apns', device_id => random_hex(8)},
                    accept => $accept);
    my $b = is_layer_error($res, 406, 107, 'invalid_header', 'Accept: ' . ($accept // '(none)') . ' is refused');
    is $b && $b->{message}, $accept_message, '... with a message naming the versions accepted';
    is $b && $b->{data}{header}, 'Accept', '... naming the header';
}

# --- the Web SDK 3.x as it sends: lower-case header names, Accept version=2.0,
# content-type application/json on every call (DELETE too, without a body), JSON.stringify
# bodies that leave out what the caller did not give --------------------------------------
{
    my @sdk3 = (accept => 'application/vnd.layer+json; version=2.0', 'content-type' => 'application/json',
                authorization => qq{Layer session-token="$token"});
    my $ios = 'sdk3-ios-' . random_hex(8);
    my $apns = random_hex(64);
    my $res = request(POST => '/push_tokens', headers => \@sdk3,
                      content => qq({"token":"$apns","type":"apns","device_id":"$ios","ios_version":"10.3"}));
    is $res->code, 202, 'Web SDK 3.x registerIOSPushToken (no bundleId) answers 202';
    is((device($ios))[1], $apns, '... and stores the token');
    my $android = 'sdk3-android-' . random_hex(8);
    $res = request(POST => '/push_tokens', headers => \@sdk3,
                   content => qq({"token":"fcm-$android","type":"gcm","device_id":"$android","gcm_sender_id":"184460713254"}));
    is $res->code, 202, 'Web SDK 3.x registerAndroidPushToken answers 202';
    like((device($android))[3], qr/"gcm_sender_id": "184460713254"/, '... keeping the sender id');
    $res = request(DELETE => "/push_tokens/$android", headers => \@sdk3);
    is $res->code, 202, 'Web SDK 3.x unregisterPushToken answers 202';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$android'"), 0, '... and removes it';
    my @xdk = (@sdk3[2 .. 5], accept => 'application/vnd.layer+json; version=3.0');
    $res = request(POST => '/push_tokens', headers => \@xdk,
                   content => qq({"token":"xdk-$android","type":"gcm","device_id":"$android"}));
    is $res->code, 202, 'the Web XDK (version=3.0) registers too';
    is request(DELETE => "/push_tokens/$android", headers => \@xdk)->code, 202, '... and unregisters';
    my $sdk1 = layer(POST => '/push_tokens', $token, {token => random_hex(64), type => 'apns', device_id => $ios});
    is $sdk1->code, 202, 'SDK 1.x (version=1.0) still works on the same device';
}
is_layer_error(layer(DELETE => '/push_tokens/x', $token, undef, accept => 'application/json'), 406, 107,
               'invalid_header', 'DELETE checks Accept too');

# --- authentication ------------------------------------------------------------------
{
    my $body = {token => random_hex(64), type => 'apns', device_id => random_hex(8)};
    my $b1 = is_layer_error(layer(POST => '/push_tokens', undef, $body), 401, 4, 'authentication_required',
                            'no Authorization header is 401');
    like $b1 && $b1->{data}{nonce}, qr/^[0-9a-f]{32,}$/, 'the 401 carries a nonce';
    my $b2 = is_layer_error(layer(POST => '/push_tokens', random_hex(32), $body), 401, 4, 'authentication_required',
                            'an unknown session token is 401');
    isnt $b1->{data}{nonce}, $b2->{data}{nonce}, 'each 401 has a fresh nonce';
    is layer(POST => '/push_tokens', undef, $body, auth => "Layer session-token='$token'")->code, 202,
        'single quotes around the token are accepted';
    is layer(POST => '/push_tokens', undef, $body, auth => "Layer session-token=$token")->code, 202,
        'an unquoted token is accepted';
    is_layer_error(layer(POST => '/push_tokens', undef, $body, auth => "Bearer $token"), 401, 4,
                   'authentication_required', 'another scheme is 401');
    is_layer_error(layer(POST => '/push_tokens', undef, $body, auth => 'Layer session-token="unterminated'), 401, 4,
                   'authentication_required', 'a broken header is 401');

    my $short = new_session('layer-expiring-' . random_hex(6), $APP, 1);
    is layer(POST => '/push_tokens', $short, {%$body, device_id => random_hex(8), token => random_hex(64)})->code, 202,
        'a live session works';
    sleep 2;
    is_layer_error(layer(POST => '/push_tokens', $short, {%$body, device_id => random_hex(8)}), 401, 4,
                   'authentication_required', 'an expired session is refused');

    my $gone = new_session('layer-removed-' . random_hex(6), $APP);
    pushctl('session', 'rm', $gone);
    is_layer_error(layer(POST => '/push_tokens', $gone, $body), 401, 4, 'authentication_required',
                   'a removed session is refused');
    is_layer_error(layer(DELETE => '/push_tokens/x', $gone), 401, 4, 'authentication_required',
                   'DELETE with a removed session is refused');

    my $elsewhere = new_session('layer-other-app', 'test-navixy');
    is_layer_error(layer(POST => '/push_tokens', $elsewhere, $body), 401, 4, 'authentication_required',
                   "another application's session is refused");
}

# --- methods and endpoints -----------------------------------------------------------
{
    my $res = layer(GET => '/push_tokens', $token);
    is_layer_error($res, 405, 109, 'method_not_allowed', 'GET /push_tokens is 405');
    is $res->header('Allow'), 'POST', 'with Allow: POST';
    $res = layer(PUT => '/push_tokens/abc', $token, {});
    is_layer_error($res, 405, 109, 'method_not_allowed', 'PUT /push_tokens/:id is 405');
    is $res->header('Allow'), 'DELETE', 'with Allow: DELETE';
    is_layer_error(layer(POST => '/push_tokens/abc', $token, {}), 405, 109, 'method_not_allowed',
                   'POST /push_tokens/:id is 405');
    is_layer_error(layer(DELETE => '/push_tokens/a/b', $token), 404, 106, 'invalid_endpoint',
                   'a deeper path is 404 invalid_endpoint');
}

done_testing;
