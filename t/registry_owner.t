# Devices belong to their users: each takeover an end user could try (another user's
# device id or token through Layer, Rocket.Chat and Navixy; a device the back end
# registered through MobileFirst) is refused in the dialect's format while the owner is
# logged in, the documented hand-over after a logout works, a device that changes owner
# loses the deliveries queued for the previous one, and push.get reads a message only for
# the user it was delivered to.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_wait);

sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!"; my $s = <$f>; $s }
my ($admin) = oauth_token('*');

sub owner { psql("SELECT coalesce(user_id, '-') FROM push_device WHERE app_id = '$_[0]' AND device_id = '$_[1]'") }

# --- Layer ---------------------------------------------------------------------------------------
{
    my $APP = 'test-layer';
    my ($u1, $u2) = map { "own-layer-$_-" . random_hex(6) } 1, 2;
    my ($t1, $t2) = map { new_session($_, $APP) } $u1, $u2;
    my ($dev, $tok) = ('own-' . random_hex(10), random_hex(64));
    is layer(POST => '/push_tokens', $t1, {token => $tok, type => 'apns', device_id => $dev})->code, 202,
        'Layer: a user registers a device';

    my $res = layer(POST => '/push_tokens', $t2, {token => random_hex(64), type => 'apns', device_id => $dev});
    is $res->code, 403, "Layer: another user re-registering that device id: 403";
    is json_body($res)->{id}, 'access_denied', '... access_denied (101)';
    is json_body($res)->{code}, 101, '... code 101';
    $res = layer(POST => '/push_tokens', $t2, {token => $tok, type => 'apns', device_id => 'own-' . random_hex(10)});
    is $res->code, 403, "Layer: another user registering that device's token under a new id: 403";
    is psql("SELECT user_id || ' ' || token FROM push_device WHERE app_id = '$APP' AND device_id = '$dev'"), "$u1 $tok",
        '... the device keeps its owner and token';

    # a device of the back end's (MobileFirst API) is never an end user's, even without a session
    my $mfdev = 'own-mf-' . random_hex(8);
    is mf(POST => "/apps/$APP/devices", $admin, {deviceId => $mfdev, token => random_hex(64), platform => 'A',
                                                   userId => 'back-end-user'})->code, 201,
        'the back end registers a device through MobileFirst';
    is layer(POST => '/push_tokens', $t2, {token => random_hex(64), type => 'apns', device_id => $mfdev})->code, 403,
        'Layer: an end user re-registering it: 403';
    is owner($APP, $mfdev), 'back-end-user', '... it stays as the back end made it';
    my $mftok = psql("SELECT token FROM push_device WHERE app_id = '$APP' AND device_id = '$mfdev'");
    is layer(POST => '/push_tokens', $t2, {token => $mftok, type => 'apns', device_id => 'own-' . random_hex(8)})->code,
        403, "Layer: taking its token under another id: 403";

    # a delivery waiting for its retry, queued for u1 on the device
    my $msg = 'own-msg-' . random_hex(8);
    psql("INSERT INTO push_message (app_id, message_id, body, state, targeted) "
         . "VALUES ('$APP', '$msg', '{\"alert\": \"for u1\"}', 'sending', 1)");
    psql("INSERT INTO push_delivery (app_id, message_id, device_id, provider, next_attempt_at) "
         . "VALUES ('$APP', '$msg', '$dev', 'apns', now() + interval '1 hour')");
    is psql("SELECT string_agg(user_id, ',') FROM push_message_recipient WHERE app_id = '$APP' AND message_id = '$msg'"),
        $u1, 'the message records the user its delivery was made for';

    # the hand-over: u1 logs out, u2 registers the device
    pushctl('session', 'rm', $t1);
    is layer(POST => '/push_tokens', $t2, {token => random_hex(64), type => 'apns', device_id => $dev})->code, 202,
        'Layer: after its owner logged out, another user takes the device over';
    is owner($APP, $dev), $u2, '... it belongs to the new user';
    is psql("SELECT state FROM push_delivery WHERE app_id = '$APP' AND message_id = '$msg'"), 'cancelled',
        "the delivery queued for the previous owner is cancelled";
    is psql("SELECT cancelled || ' ' || state FROM push_message WHERE app_id = '$APP' AND message_id = '$msg'"),
        '1 done', '... the message counts it and is done';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND user_id = '$u1'"), 0,
        "the previous owner holds no device any more";

    # MobileFirst's own update may change the owner (the back end decides), and that too
    # cancels what was queued for the previous one
    my $msg2 = 'own-msg-' . random_hex(8);
    psql("INSERT INTO push_message (app_id, message_id, body, state, targeted) "
         . "VALUES ('$APP', '$msg2', '{\"alert\": \"for the back end user\"}', 'sending', 1)");
    psql("INSERT INTO push_delivery (app_id, message_id, device_id, provider, next_attempt_at) "
         . "VALUES ('$APP', '$msg2', '$mfdev', 'apns', now() + interval '1 hour')");
    is mf(PUT => "/apps/$APP/devices/$mfdev", $admin, {userId => 'another-back-end-user'})->code, 200,
        'MobileFirst moves its device to another user';
    is psql("SELECT state FROM push_delivery WHERE app_id = '$APP' AND message_id = '$msg2'"), 'cancelled',
        '... and the delivery queued for the previous one is cancelled';
}

# --- a device removed takes its queued deliveries with it (schema 19) ----------------------------
{
    my $APP = 'test-layer';
    my $queue = sub {
        my $m = 'gone-msg-' . random_hex(8);
        psql("INSERT INTO push_message (app_id, message_id, body, state, targeted) "
             . "VALUES ('$APP', '$m', '{\"alert\": \"private\"}', 'sending', 1)");
        psql("INSERT INTO push_delivery (app_id, message_id, device_id, provider, next_attempt_at) "
             . "VALUES ('$APP', '$m', '$_[0]', 'apns', now() + interval '1 hour')");
        return $m;
    };
    my $state = sub {
        psql("SELECT state || ': ' || coalesce(error, '') FROM push_delivery WHERE app_id = '$APP' AND message_id = '$_[0]'")
    };
    my ($u1, $u2, $u3) = map { "gone-$_-" . random_hex(6) } 1 .. 3;
    my ($t1, $t2, $t3) = map { new_session($_, $APP) } $u1, $u2, $u3;

    my $dev = 'gone-' . random_hex(10);
    is layer(POST => '/push_tokens', $t1, {token => random_hex(64), type => 'apns', device_id => $dev})->code, 202,
        'a user registers a device';
    my $m = $queue->($dev);
    is layer(DELETE => "/push_tokens/$dev", $t1)->code, 202, '... and deletes it with a delivery queued';
    is $state->($m), 'cancelled: the device was removed', 'the queued delivery is cancelled';
    is psql("SELECT cancelled || ' ' || state FROM push_message WHERE app_id = '$APP' AND message_id = '$m'"),
        '1 done', '... the message counts it and is done';
    is layer(POST => '/push_tokens', $t2, {token => random_hex(64), type => 'apns', device_id => $dev})->code, 202,
        'another user registers the freed device id';
    is $state->($m), 'cancelled: the device was removed', '... and inherits nothing';

    # a token moving to another device id removes the device that held it
    my ($dev2, $tok2) = ('gone-' . random_hex(10), random_hex(64));
    is layer(POST => '/push_tokens', $t3, {token => $tok2, type => 'apns', device_id => $dev2})->code, 202,
        'a device of a third user';
    my $m2 = $queue->($dev2);
    is layer(POST => '/push_tokens', $t3, {token => $tok2, type => 'apns', device_id => 'gone-' . random_hex(10)})->code,
        202, '... whose token moves to a new device id';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$dev2'"), 0, '... removing the old one';
    is $state->($m2), 'cancelled: the device was removed', '... and its queued delivery';

    # an eviction gives the least recently used device's row to the new device
    my @devs = map { 'gone-lru-' . random_hex(10) } 1 .. 25;
    for my $d (@devs) {
        layer(POST => '/push_tokens', $t3, {token => random_hex(64), type => 'apns', device_id => $d});
    }
    psql("UPDATE push_device SET last_used_at = now() - interval '1 day' WHERE app_id = '$APP' AND device_id = '$devs[0]'");
    my $m3 = $queue->($devs[0]);
    is layer(POST => '/push_tokens', $t3, {token => random_hex(64), type => 'apns', device_id => 'gone-lru-new'})->code,
        202, 'a registration beyond the 25-device limit';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND device_id = '$devs[0]'"), 0,
        '... evicts the least recently used device';
    is $state->($m3), 'cancelled: the device was removed', '... and cancels what was queued for it';

    # a delivery a sender holds while its device is removed: the retry it is left to ends
    # cancelled, even when the device id is registered anew before the sender finishes
    for my $again (0, 1) {
        my $d = 'gone-held-' . random_hex(10);
        is layer(POST => '/push_tokens', $t1, {token => random_hex(64), type => 'apns', device_id => $d})->code, 202,
            'a device' . ($again ? ' (to be registered again)' : '');
        my $mh = 'gone-msg-' . random_hex(8);
        psql("INSERT INTO push_message (app_id, message_id, body, state, targeted) "
             . "VALUES ('$APP', '$mh', '{\"alert\": \"private\"}', 'sending', 1)");
        psql("INSERT INTO push_delivery (app_id, message_id, device_id, provider, next_attempt_at, lease_owner, "
             . "lease_until, updated_at) VALUES ('$APP', '$mh', '$d', 'apns', now() + interval '1 minute', "
             . "'held-by-test', now() + interval '1 minute', now() - interval '1 second')");
        is layer(DELETE => "/push_tokens/$d", $t1)->code, 202, '... deleted while a sender holds its delivery';
        is layer(POST => '/push_tokens', $t2, {token => random_hex(64), type => 'apns', device_id => $d})->code, 202,
            '... and registered again by another user' if $again;
        psql(qq{SELECT push_delivery_finish('held-by-test', '[{"a":"$APP","m":"$mh","d":"$d","c":"apns","s":"retry","e":"503","r":1000}]')});
        is $state->($mh), 'cancelled: the device was removed', '... the retry the sender leaves ends cancelled';
    }
    # and a change of owner while a sender holds the delivery (the hand-over after a logout)
    {
        my ($u4, $u5) = map { "gone-hand-$_-" . random_hex(6) } 1, 2;
        my ($t4, $t5) = map { new_session($_, $APP) } $u4, $u5;
        my $d = 'gone-hand-' . random_hex(10);
        is layer(POST => '/push_tokens', $t4, {token => random_hex(64), type => 'apns', device_id => $d})->code, 202,
            'a device to be handed over';
        my $mh = 'gone-msg-' . random_hex(8);
        psql("INSERT INTO push_message (app_id, message_id, body, state, targeted) "
             . "VALUES ('$APP', '$mh', '{\"alert\": \"private\"}', 'sending', 1)");
        psql("INSERT INTO push_delivery (app_id, message_id, device_id, provider, next_attempt_at, lease_owner, "
             . "lease_until, updated_at) VALUES ('$APP', '$mh', '$d', 'apns', now() + interval '1 minute', "
             . "'held-by-test', now() + interval '1 minute', now() - interval '1 second')");
        pushctl('session', 'rm', $t4);
        is layer(POST => '/push_tokens', $t5, {token => random_hex(64), type => 'apns', device_id => $d})->code, 202,
            '... taken over by another user while a sender holds its delivery';
        is owner($APP, $d), $u5, '... who owns it now';
        psql(qq{SELECT push_delivery_finish('held-by-test', '[{"a":"$APP","m":"$mh","d":"$d","c":"apns","s":"retry","e":"503","r":1000}]')});
        is $state->($mh), 'cancelled: the device changed owner', '... the retry the sender leaves ends cancelled';
    }
    # the same for a delivery of a chunk the walk handed out
    {
        my $d = 'gone-chunk-' . random_hex(10);
        is layer(POST => '/push_tokens', $t1, {token => random_hex(64), type => 'apns', device_id => $d})->code, 202,
            'a device in a walked chunk';
        my $mc = 'gone-msg-' . random_hex(8);
        psql("INSERT INTO push_message (app_id, message_id, body, state, targeted) "
             . "VALUES ('$APP', '$mc', '{\"alert\": \"private\"}', 'sending', 1)");
        my $chunk = psql("INSERT INTO push_chunk (app_id, message_id, after_id, upto_id, size, owner, lease_until, "
                         . "created_at) VALUES ('$APP', '$mc', '', '$d', 1, 'held-by-test', now() + interval '1 minute', "
                         . "now() - interval '1 second') RETURNING chunk_id");
        is layer(DELETE => "/push_tokens/$d", $t1)->code, 202, '... deleted while the chunk is out';
        is layer(POST => '/push_tokens', $t2, {token => random_hex(64), type => 'apns', device_id => $d})->code, 202,
            '... and registered again by another user';
        psql(qq{SELECT push_chunk_finish('held-by-test', $chunk, 0, '[{"d":"$d","c":"apns","s":"retry","e":"503","r":1000}]')});
        is $state->($mc), 'cancelled: the device was removed', '... the chunk\'s retry ends cancelled';
        is psql("SELECT cancelled || ' ' || state FROM push_message WHERE app_id = '$APP' AND message_id = '$mc'"),
            '1 done', '... counted, the message done';
    }
    # a chunk out while its device is handed over (the row kept): the retry the chunk leaves
    # would be claimed with the new owner's token; it ends cancelled. The previous owner's
    # token refreshed meanwhile is no hand-over: that retry stays.
    for my $handed (1, 0) {
        my ($u6, $u7) = map { "chunk-hand-$_-" . random_hex(6) } 1, 2;
        my ($t6, $t7) = map { new_session($_, $APP) } $u6, $u7;
        my $d = 'chunk-hand-' . random_hex(10);
        is layer(POST => '/push_tokens', $t6, {token => random_hex(64), type => 'apns', device_id => $d})->code, 202,
            'a device in a walked chunk' . ($handed ? ', to be handed over' : ', its token to be refreshed');
        # made before the walk below (which is dated a second ago)
        psql("UPDATE push_device SET created_at = created_at - interval '1 minute' "
             . "WHERE app_id = '$APP' AND device_id = '$d'");
        my $mc = 'hand-msg-' . random_hex(8);
        psql("INSERT INTO push_message (app_id, message_id, body, state, targeted) "
             . "VALUES ('$APP', '$mc', '{\"alert\": \"private\"}', 'sending', 1)");
        my $chunk = psql("INSERT INTO push_chunk (app_id, message_id, after_id, upto_id, size, owner, lease_until, "
                         . "created_at) VALUES ('$APP', '$mc', '', '$d', 1, 'held-by-test', now() + interval '1 minute', "
                         . "now() - interval '1 second') RETURNING chunk_id");
        if ($handed) {
            pushctl('session', 'rm', $t6);
            is layer(POST => '/push_tokens', $t7, {token => random_hex(64), type => 'apns', device_id => $d})->code,
                202, '... taken over by another user while the chunk is out';
            is owner($APP, $d), $u7, '... who owns it now';
        } else {
            is layer(POST => '/push_tokens', $t6, {token => random_hex(64), type => 'apns', device_id => $d})->code,
                202, '... its owner registers a new token while the chunk is out';
        }
        psql(qq{SELECT push_chunk_finish('held-by-test', $chunk, 0, '[{"d":"$d","c":"apns","s":"retry","e":"503","r":1000}]')});
        is $state->($mc), $handed ? 'cancelled: the device changed owner' : 'pending: 503',
            $handed ? '... the chunk\'s retry ends cancelled' : '... the chunk\'s retry stays, for the new token';
        is psql("SELECT cancelled || ' ' || state FROM push_message WHERE app_id = '$APP' AND message_id = '$mc'"),
            $handed ? '1 done' : '0 sending', '... counted';
    }
}

# --- Navixy: bind with another user's token ------------------------------------------------------
{
    my $APP = 'test-navixy';
    my ($h1, $h2) = map { new_session("own-nvx-$_-" . random_hex(6), $APP) } 1, 2;
    my $tok = 'own-nvx-' . random_hex(20);
    is nvx(POST => '/user/session/push_token/bind', 'json',
           {hash => $h1, application => 'navixy_android_viewer', token => $tok})->code, 200, 'Navixy: a user binds a token';
    my $res = nvx(POST => '/user/session/push_token/bind', 'json',
                  {hash => $h2, application => 'navixy_android_viewer', token => $tok});
    is $res->code, 403, "Navixy: another user binding the same token: 403";
    is json_body($res)->{status}{code}, 11, '... code 11, Access denied';
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND token = '$tok'"), 1, '... one device holds it';
    pushctl('session', 'rm', $h1);
    is nvx(POST => '/user/session/push_token/bind', 'json',
           {hash => $h2, application => 'navixy_android_viewer', token => $tok})->code, 200,
        'after the first session ended, the token moves to the new session';
}

# --- Rocket.Chat: push.token, and push.get against the audience ---------------------------------
{
    my $APP = 'test-rc';
    my $keys = $ENV{PUSH_TEST_KEYS};
    is mf(PUT => "/apps/$APP/settings/apnsConf", $admin,
          {keyId => 'MOCKKEY001', teamId => 'MOCKTEAM01', bundleId => 'com.example.default',
           p8 => slurp("$keys/apns.p8")})->code, 200, 'APNs settings for the Rocket.Chat application';
    my ($alice, $bob) = map { "own-rc-$_-" . random_hex(6) } qw(alice bob);
    my ($ta, $tb) = map { new_session($_, $APP) } $alice, $bob;
    sub rc {
        my ($method, $path, $user, $tok, $body) = @_;
        return request($method, "/api/v1/$path",
                       headers => ['X-User-Id' => $user, 'X-Auth-Token' => $tok,
                                   defined $body ? ('Content-Type' => 'application/json') : ()],
                       content => defined $body ? JSON::PP->new->encode($body) : undef);
    }
    my $apn = random_hex(64);
    my $res = rc(POST => 'push.token', $alice, $ta, {type => 'apn', value => $apn, appName => 'chat.rocket.ios'});
    is $res->code, 200, 'Rocket.Chat: alice registers';
    my $rid = json_body($res)->{result}{_id};

    $res = rc(POST => 'push.token', $bob, $tb, {type => 'apn', value => random_hex(64), appName => 'chat.rocket.ios', id => $rid});
    is $res->code, 403, "Rocket.Chat: bob naming alice's record by id: 403";
    is json_body($res)->{errorType}, 'error-not-allowed', '... error-not-allowed';
    $res = rc(POST => 'push.token', $bob, $tb, {type => 'apn', value => $apn, appName => 'chat.rocket.ios'});
    is $res->code, 403, "Rocket.Chat: bob sending alice's token value: 403";
    is owner($APP, $rid), $alice, '... the record stays alice\'s';

    # a message to alice's device, delivered while it is hers
    my $mid = json_body(mf(POST => "/apps/$APP/messages", $admin,
                           {message => {alert => 'for alice only'}, target => {deviceIds => [$rid]}}))->{messageId};
    ok mock_wait('apns', 1, key => $apn), 'the message reaches alice\'s device';
    my $s;
    for (1 .. 100) {
        $s = psql("SELECT state FROM push_message WHERE app_id = '$APP' AND message_id = '$mid'");
        last if $s eq 'done';
        sleep 0.1;
    }
    is $s, 'done', '... and the message is done';
    is rc(GET => "push.get?id=$mid", $alice, $ta)->code, 200, 'push.get: alice reads it';
    is rc(GET => "push.get?id=$mid", $bob, $tb)->code, 400, 'push.get: bob does not';

    # alice logs out; bob takes the record over (the documented hand-over)
    pushctl('session', 'rm', $ta);
    my $bapn = random_hex(64);
    $res = rc(POST => 'push.token', $bob, $tb, {type => 'apn', value => $bapn, appName => 'chat.rocket.ios', id => $rid});
    is $res->code, 200, 'Rocket.Chat: after alice logged out, bob takes her record over';
    is owner($APP, $rid), $bob, '... it is his';
    $res = rc(GET => "push.get?id=$mid", $bob, $tb);
    is $res->code, 400, "push.get: bob, the device's owner now, still cannot read what was sent to alice";
    is json_body($res)->{error}, 'error-not-allowed', '... error-not-allowed';

    my $mid2 = json_body(mf(POST => "/apps/$APP/messages", $admin,
                            {message => {alert => 'for bob'}, target => {deviceIds => [$rid]}}))->{messageId};
    ok mock_wait('apns', 1, key => $bapn), 'a message sent to the device now reaches bob';
    for (1 .. 100) {
        last if psql("SELECT state FROM push_message WHERE app_id = '$APP' AND message_id = '$mid2'") eq 'done';
        sleep 0.1;
    }
    is rc(GET => "push.get?id=$mid2", $bob, $tb)->code, 200, 'push.get: bob reads that one';
}

done_testing;
