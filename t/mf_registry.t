# MobileFirst's applications, devices, tags and subscriptions: each endpoint with its
# success and its documented errors.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my ($token) = oauth_token('*');
my $app = 'mf-' . random_hex(8);

sub ok_json {
    my ($res, $status, $name) = @_;
    is $res->code, $status, "$name: $status";
    return json_body($res) || {};
}
sub mf_err {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        is $b && $b->{code}, $code, "code $code";
        ok $b && length $b->{message}, 'a message';
    };
}

# --- applications ------------------------------------------------------------------------------
my $b = ok_json(mf(POST => '/apps', $token, {applicationId => $app, enabled => JSON::PP::true()}), 201, 'POST /apps');
is $b->{applicationId}, $app, 'the application id';
is $b->{enabled}, JSON::PP::true(), 'enabled';
like $b->{href}, qr{^http://[^/]+/imfpush/v1/apps/\Q$app\E$}, 'href is its own URL';
mf_err(mf(POST => '/apps', $token, {applicationId => $app}), 409, 'FPWSE0002E', 'creating it again is 409');
mf_err(mf(POST => '/apps', $token, {applicationId => 'bad id!'}), 400, 'FPWSE0005E', 'a bad application id');
my $once = mf(POST => '/apps', $token, {applicationId => 5});
is_deeply [$once->code, json_body($once)], [400, {code => 'FPWSE0005E', message => 'The property applicationId is missing or invalid.'}],
    'a number for applicationId: 400, answered once (one JSON body)';
mf_err(mf(POST => '/apps', $token, {enabled => JSON::PP::true()}), 400, 'FPWSE0005E', 'no application id');
mf_err(mf(POST => '/apps', $token, {applicationId => 'x' . random_hex(4), colour => 'red'}), 400, 'FPWSE0006E',
       'an unknown property');
$b = ok_json(mf(GET => "/apps/$app", $token), 200, 'GET /apps/{app}');
is_deeply [$b->{applicationId}, $b->{enabled}], [$app, JSON::PP::true()], 'answers the application';
mf_err(mf(GET => '/apps/no-such-app', $token), 404, 'FPWSE0001E', 'an unknown application');
is ok_json(mf(GET => "/apps/$app/status", $token), 200, 'GET status')->{enabled}, JSON::PP::true(), 'enabled';
is ok_json(mf(PUT => "/apps/$app/status", $token, {enabled => JSON::PP::false()}), 200, 'PUT status')->{enabled},
   JSON::PP::false(), 'disabled';
is ok_json(mf(GET => "/apps/$app", $token), 200, 'GET again')->{enabled}, JSON::PP::false(), 'stays disabled';
mf_err(mf(PUT => "/apps/$app/status", $token, {enabled => 'yes'}), 400, 'FPWSE0005E', 'enabled must be a boolean');
mf(PUT => "/apps/$app/status", $token, {enabled => JSON::PP::true()});
$b = ok_json(mf(GET => '/apps?filter=applicationId==' . $app, $token), 200, 'GET /apps with a filter');
is_deeply [map { $_->{applicationId} } @{ $b->{applications} }], [$app], 'finds the application';
is $b->{pageInfo}{totalCount}, 1, 'totalCount 1';
is psql("SELECT count(*) FROM push_tag WHERE app_id = '$app' AND name = 'Push.all'"), 1,
   'a new application has the Push.all tag';

# --- devices ----------------------------------------------------------------------------------------
my %dev = (deviceId => 'd-' . random_hex(6), token => 'tok-' . random_hex(16), platform => 'A',
           phoneNumber => '123456789', userId => 'admin');
my $res = mf(POST => "/apps/$app/devices", $token, \%dev, headers => ['User-Agent' => 'TestUserAgent']);
$b = ok_json($res, 201, 'POST devices');
is $b->{$_}, $dev{$_}, "$_ is answered" for qw(deviceId token platform phoneNumber userId);
is $b->{createdMode}, 'API', 'createdMode API';
like $b->{createdTime}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'createdTime is ISO 8601 UTC';
like $b->{lastUpdatedTime}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'lastUpdatedTime too';
is $b->{userAgent}, 'TestUserAgent', 'userAgent is the request User-Agent';
like $b->{href}, qr{/imfpush/v1/apps/\Q$app\E/devices/\Q$dev{deviceId}\E$}, 'href';
is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app' AND device_id = '$dev{deviceId}' AND tag_name = 'Push.all'"),
   1, 'a new device is subscribed to Push.all';
$b = ok_json(mf(POST => "/apps/$app/devices", $token, {%dev, token => 'tok-new'}), 201, 'registering the deviceId again');
is $b->{token}, 'tok-new', 'updates it';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$app' AND device_id = '$dev{deviceId}'"), 1, 'one row';
is psql("SELECT phone_number FROM push_device WHERE app_id = '$app' AND device_id = '$dev{deviceId}'"), '123456789',
   'the phone number is stored';
$b = ok_json(mf(GET => "/apps/$app/devices/$dev{deviceId}", $token), 200, 'GET device');
is $b->{token}, 'tok-new', 'answers the device';
$b = ok_json(mf(PUT => "/apps/$app/devices/$dev{deviceId}", $token, {userId => 'someone'}), 200, 'PUT device');
is_deeply [$b->{userId}, $b->{token}, $b->{phoneNumber}], ['someone', 'tok-new', '123456789'],
    'PUT changes only what it names';
mf_err(mf(PUT => "/apps/$app/devices/$dev{deviceId}", $token, {deviceId => 'other'}), 400, 'FPWSE0005E',
       'PUT cannot change the deviceId');
mf_err(mf(PUT => "/apps/$app/devices/nope", $token, {userId => 'x'}), 404, 'FPWSE0001E', 'PUT on an unknown device');
mf_err(mf(GET => "/apps/$app/devices/nope", $token), 404, 'FPWSE0001E', 'GET an unknown device');
mf_err(mf(POST => "/apps/$app/devices", $token, {%dev, userId => 'u' x 255}), 400, 'FPWSE0005E',
       'a userId of 255 characters');
is mf(POST => "/apps/$app/devices", $token, {%dev, userId => 'u' x 254})->code, 201, 'a userId of 254 is fine';
mf_err(mf(POST => "/apps/$app/devices", $token, {%dev, platform => 'X'}), 400, 'FPWSE0005E', 'an unknown platform');
mf_err(mf(POST => "/apps/$app/devices", $token, {%dev, token => undef}), 400, 'FPWSE0005E', 'no token');
mf_err(mf(POST => "/apps/$app/devices", $token, {%dev, deviceId => 7}), 400, 'FPWSE0005E', 'a number for deviceId');
mf_err(mf(POST => "/apps/$app/devices", $token, {%dev, extra => 1}), 400, 'FPWSE0006E', 'an unknown property');
mf_err(mf(POST => '/apps/no-such-app/devices', $token, \%dev), 404, 'FPWSE0001E', 'an unknown application');
# a browser's token is its PushSubscription (docs/webpush.md; t/webpush.t has the rest)
my %tok = (G => 't-G', W => 'https://db5.notify.windows.com/?token=t-W',
           B => '{"endpoint":"https://push.example.net/wp/1","keys":{"p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-'
                . 'JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4","auth":"BTBZMqHH6r4Tts7J_aSIgg"}}');
for my $p (qw(G W B)) {
    is mf(POST => "/apps/$app/devices", $token, {deviceId => "p-$p", token => $tok{$p}, platform => $p})->code, 201,
       "platform $p registers";
}
mf_err(mf(POST => "/apps/$app/devices", $token, {deviceId => 'p-B2', token => 't-B', platform => 'B'}), 400, 'FPWSE0005E',
       'platform B with a token that is no PushSubscription');

# --- tags -----------------------------------------------------------------------------------------------
$b = ok_json(mf(POST => "/apps/$app/tags", $token, {name => 'news', description => 'The news'}), 201, 'POST tags');
is_deeply [@$b{qw(name description createdMode)}], ['news', 'The news', 'API'], 'answers the tag';
like $b->{href}, qr{/apps/\Q$app\E/tags/news$}, 'href';
mf_err(mf(POST => "/apps/$app/tags", $token, {name => 'news'}), 409, 'FPWSE0002E', 'the same tag again');
$b = ok_json(mf(PUT => "/apps/$app/tags/news", $token, {description => 'Daily news'}), 200, 'PUT tag');
is $b->{description}, 'Daily news', 'the description changes';
mf_err(mf(PUT => "/apps/$app/tags/news", $token, {name => 'other'}), 400, 'FPWSE0005E', 'the name never changes');
is ok_json(mf(GET => "/apps/$app/tags/news", $token), 200, 'GET tag')->{description}, 'Daily news', 'answers it';
mf_err(mf(GET => "/apps/$app/tags/none", $token), 404, 'FPWSE0001E', 'an unknown tag');
mf_err(mf(DELETE => "/apps/$app/tags/Push.all", $token), 400, 'FPWSE0005E', 'Push.all cannot be deleted');

# --- subscriptions ---------------------------------------------------------------------------------
$b = ok_json(mf(POST => "/apps/$app/subscriptions", $token, {deviceId => $dev{deviceId}, tagName => 'news'}), 201,
             'POST subscriptions');
my $sub = $b->{subscriptionId};
ok $sub, 'a subscriptionId';
is_deeply [@$b{qw(deviceId tagName userId)}], [$dev{deviceId}, 'news', 'u' x 254], 'answers the subscription';
like $b->{href}, qr{/subscriptions/\Q$sub\E$}, 'href';
mf_err(mf(POST => "/apps/$app/subscriptions", $token, {deviceId => $dev{deviceId}, tagName => 'news'}), 409,
       'FPWSE0011E', 'subscribing again is 409');
mf_err(mf(POST => "/apps/$app/subscriptions", $token, {deviceId => 'ghost', tagName => 'news'}), 404, 'FPWSE0001E',
       'an unknown device');
mf_err(mf(POST => "/apps/$app/subscriptions", $token, {deviceId => $dev{deviceId}, tagName => 'ghost'}), 404,
       'FPWSE0001E', 'an unknown tag');
is ok_json(mf(GET => "/apps/$app/subscriptions/$sub", $token), 200, 'GET subscription')->{tagName}, 'news', 'answers it';
$b = ok_json(mf(GET => "/apps/$app/tags?subscriptionCount=true&filter=name==news", $token), 200, 'tags with counts');
is $b->{tags}[0]{subscriptionCount}, 1, 'subscriptionCount';
$b = ok_json(mf(GET => "/apps/$app/subscriptions?tagName=news", $token), 200, 'subscriptions of a tag');
is_deeply [map { $_->{subscriptionId} } @{ $b->{subscriptions} }], [$sub], 'lists it';
is mf(DELETE => "/apps/$app/subscriptions/$sub", $token)->code, 204, 'DELETE by subscriptionId';
mf_err(mf(DELETE => "/apps/$app/subscriptions/$sub", $token), 404, 'FPWSE0012E', 'deleting it again');
mf(POST => "/apps/$app/subscriptions", $token, {deviceId => $dev{deviceId}, tagName => 'news'});
is mf(DELETE => "/apps/$app/subscriptions?deviceId=$dev{deviceId}&tagName=news", $token)->code, 204,
   'DELETE by deviceId and tagName';
mf_err(mf(DELETE => "/apps/$app/subscriptions?deviceId=$dev{deviceId}&tagName=news", $token), 404, 'FPWSE0012E',
       'again');
mf_err(mf(DELETE => "/apps/$app/subscriptions?deviceId=$dev{deviceId}", $token), 400, 'FPWSE0008E', 'without tagName');
mf(POST => "/apps/$app/subscriptions", $token, {deviceId => $dev{deviceId}, tagName => 'news'});
is mf(DELETE => "/apps/$app/tags/news", $token)->code, 204, 'DELETE tag';
is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app' AND tag_name = 'news'"), 0,
   'takes its subscriptions with it';
is mf(DELETE => "/apps/$app/devices/$dev{deviceId}", $token)->code, 204, 'DELETE device';
is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app' AND device_id = '$dev{deviceId}'"), 0,
   'takes its subscriptions with it';
mf_err(mf(DELETE => "/apps/$app/devices/$dev{deviceId}", $token), 404, 'FPWSE0001E', 'deleting it again');

# --- Push.all: every device of every dialect ---------------------------------------------------
# "Every device is subscribed to the reserved tag Push.all (a broadcast tag) unless it
# unsubscribes" (shared/docs/api-mobilefirst.md): devices registered through Rocket.Chat,
# Layer and Navixy too, read and counted through this API, and reached by a message to it.
{
    sub rc_post {
        my ($user, $tok, $body) = @_;
        return request(POST => '/api/v1/push.token', content => JSON::PP->new->utf8->encode($body),
                       headers => ['X-User-Id' => $user, 'X-Auth-Token' => $tok, 'Content-Type' => 'application/json']);
    }
    sub tags_of {
        my ($a, $device) = @_;
        my $b = json_body(mf(GET => "/apps/$a/subscriptions?deviceId=$device", $token)) || {};
        return join ',', sort map { $_->{tagName} } @{ $b->{subscriptions} || [] };
    }
    sub push_all_count {
        my $a = shift;
        my $b = json_body(mf(GET => "/apps/$a/tags?subscriptionCount=true&filter=name==Push.all", $token)) || {};
        return $b->{tags} && $b->{tags}[0] ? $b->{tags}[0]{subscriptionCount} : undef;
    }
    # the devices a message targeted, once its audience is walked
    sub targeted_by {
        my ($a, $target) = @_;
        my $res = mf(POST => "/apps/$a/messages", $token,
                     {message => {alert => 'to everyone'}, ($target ? (target => $target) : ())});
        my $id = json_body($res) && json_body($res)->{messageId} or return 'refused: ' . $res->code;
        my $until = time + 30;
        while (time < $until) {
            my $m = json_body(mf(GET => "/apps/$a/messages/$id", $token));
            return $m->{summary}{targeted} if $m && $m->{status} =~ /^(sending|done)$/;
            select undef, undef, undef, 0.1;
        }
        return 'not walked';
    }

    my %dialect = (
        'Rocket.Chat' => ['test-rc', sub {
            my ($user, $tok, $id) = @_;
            my $res = rc_post($user, $tok, {type => 'gcm', value => 'fcm-' . random_hex(20),
                                            appName => 'chat.rocket.android', (defined $id ? (id => $id) : ())});
            my $b = json_body($res);
            return $res->code == 200 && $b->{success} ? $b->{result}{_id} : undef;
        }],
        Layer => ['test-layer', sub {
            my ($user, $tok, $id) = @_;
            $id //= 'pa-layer-' . random_hex(10);
            return layer(POST => '/push_tokens', $tok, {token => random_hex(64), type => 'apns', device_id => $id})->code == 202
                ? $id : undef;
        }],
        Navixy => ['test-navixy', sub {
            my ($user, $tok) = @_;   # the session names the device
            my $res = nvx(POST => '/user/session/push_token/bind', 'json',
                          {hash => $tok, application => 'navixy_android_viewer', token => 'nvx-' . random_hex(20)});
            return undef unless $res->code == 200;
            return psql("SELECT device_id FROM push_device WHERE app_id = 'test-navixy' AND user_id = '$user'");
        }],
    );
    for my $name (sort keys %dialect) {
        my ($a, $register) = @{ $dialect{$name} };
        my $user = 'pa-' . lc(substr $name, 0, 3) . '-' . random_hex(6);
        my $tok = new_session($user, $a);
        my $count = push_all_count($a);
        my $id = $register->($user, $tok);
        ok $id, "$name: a device registers" or next;
        is tags_of($a, $id), 'Push.all', "$name: GET subscriptions?deviceId= answers its Push.all";
        is push_all_count($a), $count + 1, "$name: Push.all's subscriptionCount counts it";
        my $all = targeted_by($a, undef);
        ok $all >= 1, "$name: a broadcast targets the application's devices ($all)";
        is targeted_by($a, {tagNames => ['Push.all']}), $all, "$name: a message to tagNames [\"Push.all\"] targets as many";

        # unsubscribed, it stays out when it registers again
        is mf(DELETE => "/apps/$a/subscriptions?deviceId=$id&tagName=Push.all", $token)->code, 204,
           "$name: the device unsubscribes from Push.all";
        is $register->($user, $tok, $id), $id, "$name: ... and registers again";
        is tags_of($a, $id), '', "$name: ... still unsubscribed";
        is push_all_count($a), $count, "$name: ... and not counted";
        is targeted_by($a, {tagNames => ['Push.all']}), $all - 1, "$name: ... nor reached through Push.all";
    }

    # an eviction at the limit: the new device has its own Push.all, whether it takes the
    # evicted device's row (nothing but Push.all refers to it) or not (another tag does)
    my $u = 'pa-lru-' . random_hex(6);
    my $t = new_session($u, 'test-layer');
    my @ids = map { "pa-lru-$u-$_" } 1 .. 5;
    for my $i (0 .. 2) {
        is layer(POST => '/limit3/push_tokens', $t, {token => random_hex(64), type => 'apns', device_id => $ids[$i]})->code,
           202, "Layer, limit 3: device " . ($i + 1);
        psql("UPDATE push_device SET last_used_at = now() - interval '1 hour' * (3 - $i)
               WHERE app_id = 'test-layer' AND device_id = '$ids[$i]'");
    }
    # a mark a rewritten row keeps (the owner does not change) and an inserted one lacks
    psql("UPDATE push_device SET owner_since = '2001-02-03T00:00:00Z' WHERE app_id = 'test-layer' AND device_id = '$ids[0]'");
    is layer(POST => '/limit3/push_tokens', $t, {token => random_hex(64), type => 'apns', device_id => $ids[3]})->code, 202,
       'Layer, limit 3: a fourth device evicts the least recently used';
    is psql("SELECT owner_since = '2001-02-03T00:00:00Z' FROM push_device WHERE app_id = 'test-layer' AND device_id = '$ids[3]'"),
       't', '... taking its row (only its Push.all referred to it)';
    is tags_of('test-layer', $ids[3]), 'Push.all', '... subscribed to Push.all';
    is psql("SELECT count(*) FROM push_subscription WHERE app_id = 'test-layer' AND device_id = '$ids[0]'"), 0,
       '... the evicted device\'s Push.all is gone';
    psql("INSERT INTO push_tag (app_id, name) VALUES ('test-layer', 'pa-tag') ON CONFLICT DO NOTHING");
    is mf(POST => '/apps/test-layer/subscriptions', $token, {deviceId => $ids[1], tagName => 'pa-tag'})->code, 201,
       'the next least recently used device subscribes to another tag';
    is layer(POST => '/limit3/push_tokens', $t, {token => random_hex(64), type => 'apns', device_id => $ids[4]})->code, 202,
       'Layer, limit 3: a fifth device evicts it';
    is psql("SELECT count(*) FROM push_device WHERE app_id = 'test-layer' AND device_id = '$ids[1]'")
       . psql("SELECT count(*) FROM push_device WHERE app_id = 'test-layer' AND user_id = '$u'"), '03',
       '... which is gone, 3 devices kept';
    is tags_of('test-layer', $ids[4]), 'Push.all', '... and the new device is subscribed to Push.all';
}

# --- MobileFirst: unsubscribed from Push.all, registered again, still out -------------------------
{
    my $d = 'mf-pa-' . random_hex(6);
    is mf(POST => "/apps/$app/devices", $token, {deviceId => $d, token => random_hex(64), platform => 'A'})->code, 201,
       'a MobileFirst device';
    is mf(DELETE => "/apps/$app/subscriptions?deviceId=$d&tagName=Push.all", $token)->code, 204, '... unsubscribes from Push.all';
    is mf(POST => "/apps/$app/devices", $token, {deviceId => $d, token => random_hex(64), platform => 'A'})->code, 201,
       '... registers again';
    is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app' AND device_id = '$d'"), 0, '... and stays out';
}

# --- application delete cascades ------------------------------------------------------------------
is mf(DELETE => "/apps/$app", $token)->code, 204, 'DELETE /apps/{app}';
is psql("SELECT (SELECT count(*) FROM push_device WHERE app_id = '$app') + (SELECT count(*) FROM push_tag WHERE app_id = '$app')"),
   0, 'its devices and tags are gone';
mf_err(mf(GET => "/apps/$app", $token), 404, 'FPWSE0001E', 'and so is it');

# --- health ---------------------------------------------------------------------------------------------
$res = mf(GET => '/health/status');
is $res->code, 200, 'GET /health/status needs no token';
my $h = json_body($res);
is_deeply [@$h{qw(status database sender)}], ['ok', 'ok', 'ok'], 'and reports the database and the sender';
ok $h->{senders} >= 1, 'a live sender';
ok defined $h->{queued} && defined $h->{oldestPendingSeconds}, 'the queue depth and the oldest pending age';
# no sender has written a heartbeat lately: 503, naming the sender
psql("UPDATE push_sender SET seen_at = now() - interval '1 hour'");
$res = mf(GET => '/health/status');
is $res->code, 503, 'no live sender: 503';
is json_body($res)->{sender}, 'down', 'naming the sender';
my $until = time + 10;
sleep 1 while time < $until && mf(GET => '/health/status')->code != 200;
is mf(GET => '/health/status')->code, 200, 'the sender\'s next heartbeat brings it back';
done_testing;
