# MobileFirst messages end to end: accepted in one transaction, delivered by the sender
# process to the mock APNs and FCM (t/mock/providers.js), summaries, every target type,
# categories, scheduling, expiry, cancel, and each class of provider answer.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait);

sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!"; my $s = <$f>; $s }
my $keys = $ENV{PUSH_TEST_KEYS};
my ($token) = oauth_token('*');
my $app = 'msg-' . random_hex(6);
sub mf_err {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    ok $res->code == $status && $b && $b->{code} eq $code, "$name: $status $code" or diag $res->as_string;
}
sub apns_settings {
    my ($a, %o) = @_;
    return mf(PUT => "/apps/$a/settings/apnsConf", $token,
              {keyId => 'MOCKKEY001', teamId => 'MOCKTEAM01', bundleId => 'com.example.push',
               p8 => slurp("$keys/apns.p8"), isSandBox => $o{sandbox} ? JSON::PP::true() : JSON::PP::false()});
}
sub fcm_settings {
    my $a = shift;
    return mf(PUT => "/apps/$a/settings/gcmConf", $token,
              {serviceAccount => JSON::PP->new->decode(slurp("$keys/fcm-account.json"))});
}
sub apns_token { random_hex(64) }
sub device {
    my ($a, $id, $platform, $tok, %o) = @_;
    my $res = mf(POST => "/apps/$a/devices", $token,
                 {deviceId => $id, token => $tok, platform => $platform, %o});
    die "device $id: " . $res->as_string unless $res->code =~ /^20[01]$/;
}
sub send_msg {
    my ($a, $body) = @_;
    my $res = mf(POST => "/apps/$a/messages", $token, $body);
    die "send: " . $res->as_string unless $res->code == 202;
    return json_body($res)->{messageId};
}
# Polls a message until its status is one of the final ones (or the time runs out).
sub settled {
    my ($a, $id, $timeout) = @_;
    my $until = time + ($timeout || 20);
    my $b;
    while (time < $until) {
        $b = json_body(mf(GET => "/apps/$a/messages/$id", $token));
        return $b if $b && $b->{status} =~ /^(done|cancelled|expired)$/;
        sleep 0.1;
    }
    diag explain $b;
    return $b;
}
sub summary { my $s = $_[0]{summary}; join ' ', map { "$_=$s->{$_}" } sort keys %$s }

mock_reset();
is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'application';
is apns_settings($app)->code, 200, 'APNs token-auth settings';
is fcm_settings($app)->code, 200, 'FCM service-account settings';

my %tok = (a1 => apns_token(), a2 => apns_token(), g1 => 'fcm-' . random_hex(20), g2 => 'fcm-' . random_hex(20));
device($app, 'a1', 'A', $tok{a1}, userId => 'ann');
device($app, 'a2', 'A', $tok{a2}, userId => 'bob');
device($app, 'g1', 'G', $tok{g1}, userId => 'ann');
device($app, 'g2', 'G', $tok{g2}, userId => 'cid');
is mf(POST => "/apps/$app/tags", $token, {name => 'news'})->code, 201, 'a tag';
is mf(POST => "/apps/$app/subscriptions", $token, {deviceId => 'a2', tagName => 'news'})->code, 201, 'a2 subscribes';
is mf(POST => "/apps/$app/subscriptions", $token, {deviceId => 'g2', tagName => 'news'})->code, 201, 'g2 subscribes';

# --- accepting -----------------------------------------------------------------------------
my $t0 = time;
my $res = mf(POST => "/apps/$app/messages", $token,
             {message => {alert => 'Hello everyone'}, settings => {apns => {badge => 3, sound => 'ping.aiff'}}});
is $res->code, 202, 'POST messages: 202';
my $b = json_body($res);
like $b->{messageId}, qr/^[0-9a-f-]{36}$/, 'a message id';
is $b->{message}{message}{alert}, 'Hello everyone', 'the message as accepted';
like $res->header('Location'), qr{/apps/\Q$app\E/messages/\Q$b->{messageId}\E$}, 'Location';
is psql("SELECT count(*) FROM push_message WHERE app_id = '$app'"), 1, 'committed before the answer';

# --- broadcast: every device, both providers ----------------------------------------------------
my $s = settled($app, $b->{messageId});
is $s->{status}, 'done', 'the broadcast is done';
is summary($s), 'cancelled=0 expired=0 failed=0 filtered=0 invalidToken=0 pending=0 sent=4 targeted=4',
   'summary: four targeted, four sent';
is $s->{alert}, 'Hello everyone', 'GET shows the alert';
my ($r) = @{ mock_requests('apns', key => $tok{a1}) };
ok $r, 'APNs received the message for a1';
is $r->{headers}{'apns-topic'}, 'com.example.push', 'apns-topic is the bundle id';
is $r->{headers}{'apns-push-type'}, 'alert', 'apns-push-type alert';
is $r->{headers}{'apns-priority'}, '10', 'apns-priority 10';
like $r->{headers}{authorization}, qr/^bearer [\w-]+\.[\w-]+\.[\w-]+$/, 'a provider token (the mock verified its ES256 signature)';
is $r->{status}, 200, 'the mock accepted it';
is_deeply $r->{json}{aps}, {alert => {body => 'Hello everyone'}, badge => 3, sound => 'ping.aiff'}, 'aps payload';
my ($f) = @{ mock_requests('fcm', key => $tok{g1}) };
ok $f, 'FCM received the message for g1';
is $f->{path}, '/v1/projects/mock-project/messages:send', 'FCM v1 path with the project';
is $f->{json}{message}{token}, $tok{g1}, 'FCM message token';
is $f->{json}{message}{notification}{body}, 'Hello everyone', 'FCM notification body';
like $f->{headers}{authorization}, qr/^Bearer \S+$/, 'FCM access token';
ok scalar(@{ mock_requests('fcm-token') }) >= 1, 'the access token came from the token endpoint (RS256 assertion)';
# the sender maps a message for FCM once and puts each device's token in
my ($f2) = @{ mock_requests('fcm', key => $tok{g2}) };
is $f2 && $f2->{json}{message}{token}, $tok{g2}, "g2's request names g2's token";
{
    my %one = %{ $f->{json}{message} };
    my %two = %{ $f2 ? $f2->{json}{message} : {} };
    delete $one{token};
    delete $two{token};
    is_deeply \%two, \%one, 'and is otherwise the same message';
}
is $f2 && $f2->{headers}{'content-type'}, 'application/json', 'FCM content-type';
my $odd = 'fcm"odd/' . random_hex(4);   # not a token FCM gives out: the body is mapped for it alone
psql("INSERT INTO push_device (app_id, device_id, platform, token, source_family)
      VALUES ('$app', 'g3', 'fcm', '$odd', 'mobilefirst')");
my $odd_id = send_msg($app, {message => {alert => 'odd token'}, target => {deviceIds => ['g1', 'g3']}});
settled($app, $odd_id);
my ($o) = grep { ($_->{json}{message}{notification}{body} // '') eq 'odd token' } @{ mock_requests('fcm', key => $odd) };
is $o && $o->{json}{message}{token}, $odd, 'a token with characters JSON escapes arrives as it is';
($o) = grep { ($_->{json}{message}{notification}{body} // '') eq 'odd token' } @{ mock_requests('fcm', key => $tok{g1}) };
ok $o, 'and so does the same message to a plain token';
psql("DELETE FROM push_device WHERE app_id = '$app' AND device_id = 'g3'");
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$b->{messageId}'"), 0,
   'sent deliveries leave the outbox (the message counts them)';

# --- targets ----------------------------------------------------------------------------------
# the alert is the message's own name, so that requests can be told apart
sub targeted {
    my ($name, $target) = @_;
    my $id = send_msg($app, {message => {alert => $name}, target => $target});
    settled($app, $id);
    my %who;
    for my $k (qw(apns fcm)) {
        for my $q (@{ mock_requests($k) }) {
            my $j = $q->{json} or next;
            my $alert = $k eq 'apns' ? ($j->{aps}{alert}{body} // '') : ($j->{message}{notification}{body} // '');
            next unless $alert eq $name;
            my ($dev) = grep { $tok{$_} eq $q->{key} } keys %tok;
            $who{$dev}++ if $dev;
        }
    }
    return join ',', sort keys %who;
}
is targeted('by-device', {deviceIds => ['a2', 'g1', 'nobody']}), 'a2,g1', 'target deviceIds';
is targeted('by-user', {userIds => ['ann']}), 'a1,g1', 'target userIds';
is targeted('by-platform', {platforms => ['G']}), 'g1,g2', 'target platforms';
is targeted('by-tag', {tagNames => ['news']}), 'a2,g2', 'target tagNames';

# --- categories ---------------------------------------------------------------------------------
psql("UPDATE push_device SET category_filter = 'alarms', categories = '{alarms}' WHERE app_id = '$app' AND device_id = 'a1'");
psql("UPDATE push_device SET category_filter = '-alarms', categories = '{alarms}', categories_exclude = true WHERE app_id = '$app' AND device_id = 'g1'");
my $id = send_msg($app, {message => {alert => 'cat-alarm'}, category => 'alarms'});
$s = settled($app, $id);
is summary($s), 'cancelled=0 expired=0 failed=0 filtered=1 invalidToken=0 pending=0 sent=3 targeted=4',
   'a category: the device that excludes it is counted as filtered';
$id = send_msg($app, {message => {alert => 'cat-other'}, category => 'weather'});
is summary(settled($app, $id)), 'cancelled=0 expired=0 failed=0 filtered=1 invalidToken=0 pending=0 sent=3 targeted=4',
   'another category: the device that only takes alarms is filtered';
$id = send_msg($app, {message => {alert => 'cat-none'}});
is settled($app, $id)->{summary}{filtered}, 0, 'no category: nobody is filtered';
psql("UPDATE push_device SET category_filter = NULL, categories = '{}', categories_exclude = false WHERE app_id = '$app'");

# --- mapping of settings, priority, collapse key, expiration -----------------------------------------
$id = send_msg($app, {message => {alert => 'mapped'}, target => {deviceIds => ['a1', 'g1']}, collapseKey => 'score',
                      priority => 'normal', expiration => 3600,
                      settings => {apns => {title => 'T', subtitle => 'S', payload => {match => 7}, interactiveCategory => 'goal'},
                                   gcm => {payload => {match => 7, half => 'second'}, sound => 'whistle', visibility => 'private'}}});
settled($app, $id);
($r) = grep { ($_->{json}{aps}{alert}{body} // '') eq 'mapped' } @{ mock_requests('apns', key => $tok{a1}) };
is $r->{headers}{'apns-collapse-id'}, 'score', 'apns-collapse-id from collapseKey';
is $r->{headers}{'apns-priority'}, '5', 'priority normal: apns-priority 5';
ok $r->{headers}{'apns-expiration'} > time + 3000 && $r->{headers}{'apns-expiration'} < time + 3700, 'apns-expiration from expiration';
is_deeply [@{ $r->{json}{aps}{alert} }{qw(title subtitle body)}], ['T', 'S', 'mapped'], 'title and subtitle';
is $r->{json}{aps}{category}, 'goal', 'interactiveCategory becomes aps.category';
is $r->{json}{match}, 7, 'the custom payload at the top level';
($f) = grep { ($_->{json}{message}{notification}{body} // '') eq 'mapped' } @{ mock_requests('fcm', key => $tok{g1}) };
is_deeply $f->{json}{message}{data}, {match => '7', half => 'second'}, 'FCM data, values as strings';
is $f->{json}{message}{android}{collapse_key}, 'score', 'android.collapse_key';
is $f->{json}{message}{android}{priority}, 'NORMAL', 'android.priority';
like $f->{json}{message}{android}{ttl}, qr/^3[56]\d\ds$/, 'android.ttl from the expiration';
is $f->{json}{message}{android}{notification}{sound}, 'whistle', 'android.notification.sound';

$id = send_msg($app, {message => {alert => 'quiet'}, target => {deviceIds => ['a1']}, settings => {apns => {type => 'SILENT'}}});
settled($app, $id);
($r) = grep { $_->{json}{aps}{'content-available'} } @{ mock_requests('apns', key => $tok{a1}) };
is $r->{headers}{'apns-push-type'}, 'background', 'SILENT: apns-push-type background';
is $r->{headers}{'apns-priority'}, '5', 'SILENT: apns-priority 5';
ok !exists $r->{json}{aps}{alert}, 'SILENT: no alert';

# --- bulk, validation --------------------------------------------------------------------------
$res = mf(POST => "/apps/$app/messages/bulk", $token, [{message => {alert => 'bulk-1'}, target => {deviceIds => ['a1']}},
                                                     {message => {alert => 'bulk-2'}, target => {deviceIds => ['g1']}}]);
is $res->code, 202, 'bulk: 202';
$b = json_body($res);
is scalar(@$b), 2, 'two message ids, in order';
is settled($app, $b->[1]{messageId})->{summary}{sent}, 1, 'the second bulk message is delivered';
mf_err(mf(POST => "/apps/$app/messages/bulk", $token, [{message => {alert => 'x'}}, {message => {alert => 'y'}, color => 1}]),
       400, 'FPWSE0006E', 'bulk: one bad message refuses all');
is psql("SELECT count(*) FROM push_message WHERE app_id = '$app' AND body->'message'->>'alert' = 'x'"), 0,
   'nothing of a refused bulk is stored';
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, target => {deviceIds => ['a'], userIds => ['b']}}),
       400, 'FPWSE0005E', 'two kinds of target');
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, target => {platforms => ['Z']}}),
       400, 'FPWSE0005E', 'an unknown platform');
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, target => {deviceIds => []}}),
       400, 'FPWSE0005E', 'an empty target list');
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, priority => 'urgent'}),
       400, 'FPWSE0005E', 'a bad priority');
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, sendAt => 'tomorrow'}),
       400, 'FPWSE0005E', 'a bad sendAt');
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, category => '-a,b'}),
       400, 'FPWSE0005E', 'a category filter is not a category');
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, colour => 'red'}),
       400, 'FPWSE0006E', 'an unknown property');
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 5}}), 400, 'FPWSE0005E', 'alert not a string');
# what no device could ever get is refused before it is accepted, naming the field
sub refused {
    my ($body, $field, $name) = @_;
    my $res = mf(POST => "/apps/$app/messages", $token, $body);
    my $b = json_body($res);
    ok $res->code == 400 && $b && $b->{code} eq 'FPWSE0005E' && ($b->{message} // '') =~ /\Q$field\E/,
       "$name: 400 FPWSE0005E naming $field" or diag $res->as_string;
}
refused({message => {alert => 'x'}, settings => {apns => {locArgs => [1, 2]}}}, 'settings.apns.locArgs',
        'locArgs not strings');
refused({message => {alert => 'x'}, settings => {apns => {titleLocArgs => 'x'}}}, 'settings.apns.titleLocArgs',
        'titleLocArgs not an array');
refused({message => {alert => 'x'}, settings => {apns => {title => 7}}}, 'settings.apns.title', 'a number for a title');
refused({message => {alert => 'x'}, settings => {apns => {badge => -1}}}, 'settings.apns.badge', 'a negative badge');
refused({message => {alert => 'x'}, settings => {gcm => {payload => {from => 'x'}}}}, 'settings.gcm.payload',
        "a data key FCM reserves");
refused({message => {alert => 'x'}, settings => {gcm => {visibility => 'loud'}}}, 'settings.gcm.visibility',
        'an unknown visibility');
refused({message => {}}, 'message.alert', 'an empty message');
refused({message => {alert => undef}}, 'message.alert', 'a null alert and nothing else');
refused({message => {alert => ''}, settings => {gcm => {sound => 'x'}}}, 'message.alert', 'nothing any platform shows');
is psql("SELECT count(*) FROM push_message WHERE app_id = '$app' AND body->'settings' ? 'apns' "
        . "AND body->'settings'->'apns' ? 'locArgs'"), 0, 'none of them was stored';
is mf(POST => "/apps/$app/messages", $token, {message => {}, settings => {apns => {type => 'SILENT'}}})->code, 202,
   'a SILENT push needs no text';
is mf(POST => "/apps/$app/messages", $token, {message => {}, settings => {gcm => {payload => {k => 'v'}}}})->code, 202,
   'nor an FCM data message';
is mf(POST => "/apps/$app/messages", $token, {message => {}, settings => {apns => {title => 'T'}}})->code, 202,
   'nor one with a title';
mf_err(mf(POST => "/apps/$app/messages", $token, '{"message":'), 400, 'FPWSE0004E', 'broken JSON');
mf_err(mf(GET => "/apps/$app/messages/00000000-0000-0000-0000-000000000000", $token), 404, 'FPWSE0001E',
       'an unknown message');
my ($reader) = oauth_token('messages.read push.application.' . $app);
is mf(POST => "/apps/$app/messages", $reader, {message => {alert => 'x'}})->code, 403, 'messages.write is needed to send';
is mf(GET => "/apps/$app/messages/$id", $reader)->code, 200, 'messages.read reads';
is mf(PUT => "/apps/$app/status", $token, {enabled => JSON::PP::false()})->code, 200, 'disable the application';
mf_err(mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}}), 403, 'FPWSE1007E',
       'a disabled application accepts no messages');
mf(PUT => "/apps/$app/status", $token, {enabled => JSON::PP::true()});

# --- scheduled, cancelled, expired ------------------------------------------------------------------
my $at = time + 2;
my @t = gmtime int $at;
my $iso = sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0];
$id = send_msg($app, {message => {alert => 'scheduled'}, target => {deviceIds => ['a1']}, sendAt => $iso});
is json_body(mf(GET => "/apps/$app/messages/$id", $token))->{status}, 'pending', 'scheduled: pending at first';
settled($app, $id);
($r) = grep { ($_->{json}{aps}{alert}{body} // '') eq 'scheduled' } @{ mock_requests('apns', key => $tok{a1}) };
ok $r && $r->{time} / 1000 >= int($at) - 0.05 && $r->{time} / 1000 < int($at) + 1.5,
   'scheduled: delivered on time' or diag(($r->{time} // 0) / 1000 - int $at);

@t = gmtime(int(time) + 30);
$iso = sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0];
$id = send_msg($app, {message => {alert => 'never'}, sendAt => $iso});
is mf(DELETE => "/apps/$app/messages/$id", $token)->code, 204, 'DELETE a scheduled message';
is json_body(mf(GET => "/apps/$app/messages/$id", $token))->{status}, 'cancelled', 'it is cancelled';
mf_err(mf(DELETE => "/apps/$app/messages/00000000-0000-0000-0000-000000000000", $token), 404, 'FPWSE0001E',
       'DELETE an unknown message');

mock_script('apns', $tok{a2}, {status => 503, reason => 'ServiceUnavailable', times => 50});
$id = send_msg($app, {message => {alert => 'short-lived'}, target => {deviceIds => ['a2']}, expiration => 2});
$s = settled($app, $id, 10);
is $s->{status}, 'done', 'a message that cannot get through before its expiry ends';
is $s->{summary}{expired}, 1, 'and counts as expired';
my $before = scalar @{ mock_requests('apns', key => $tok{a2}) };
sleep 1;
is scalar @{ mock_requests('apns', key => $tok{a2}) }, $before, 'no attempt after the expiry';
mock_reset();

# --- provider answers ------------------------------------------------------------------------------
# 410 Unregistered: the device is disabled with the provider's timestamp
my $gone = apns_token();
device($app, 'gone', 'A', $gone);
mock_script('apns', $gone, {status => 410, reason => 'Unregistered', timestamp => int(time * 1000) + 60000});
$id = send_msg($app, {message => {alert => '410'}, target => {deviceIds => ['gone']}});
is settled($app, $id)->{summary}{invalidToken}, 1, '410: counted as an invalid token';
is psql("SELECT invalid_since IS NOT NULL FROM push_device WHERE app_id = '$app' AND device_id = 'gone'"), 't',
   '410: the device is disabled';
is psql("SELECT error FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"), 'Unregistered', 'with the reason';

# 410 with a timestamp older than the device's last registration: the device stays
my $back = apns_token();
device($app, 'back', 'A', $back);
mock_script('apns', $back, {status => 410, reason => 'Unregistered', timestamp => 1000});
$id = send_msg($app, {message => {alert => '410-old'}, target => {deviceIds => ['back']}});
settled($app, $id);
is psql("SELECT invalid_since IS NULL FROM push_device WHERE app_id = '$app' AND device_id = 'back'"), 't',
   '410 older than the registration: the device stays live';

# 400 BadDeviceToken: disabled; 400 BadTopic-like: the message's fault, not retried
my $bad = apns_token();
device($app, 'bad', 'A', $bad);
mock_script('apns', $bad, {status => 400, reason => 'BadDeviceToken'});
$id = send_msg($app, {message => {alert => '400'}, target => {deviceIds => ['bad']}});
is settled($app, $id)->{summary}{invalidToken}, 1, 'BadDeviceToken: invalid token';
my $topic = apns_token();
device($app, 'topic', 'A', $topic);
mock_script('apns', $topic, {status => 400, reason => 'TopicDisallowed'});
$id = send_msg($app, {message => {alert => 'topic'}, target => {deviceIds => ['topic']}});
is settled($app, $id)->{summary}{failed}, 1, 'another 400: failed';
sleep 0.5;
is scalar @{ mock_requests('apns', key => $topic) }, 1, 'and not retried';
is psql("SELECT invalid_since IS NULL FROM push_device WHERE app_id = '$app' AND device_id = 'topic'"), 't',
   'the device stays';

# an answer with a body far longer than any provider's (3 MB): read up to the sender's
# buffer, the transfer ended there, the status counts as it would have
my $long = apns_token();
device($app, 'long', 'A', $long);
mock_script('apns', $long, {status => 200, body => 'x' x 3_000_000});
$id = send_msg($app, {message => {alert => 'long answer'}, target => {deviceIds => ['long']}});
is settled($app, $id)->{summary}{sent}, 1, 'a 200 with a 3 MB body: sent';
my $long_gone = apns_token();
device($app, 'long-gone', 'A', $long_gone);
mock_script('apns', $long_gone, {status => 400, body => '{"reason": "BadDeviceToken"}' . (' ' x 3_000_000)});
$id = send_msg($app, {message => {alert => 'long 400'}, target => {deviceIds => ['long-gone']}});
is settled($app, $id)->{summary}{invalidToken}, 1, 'a 400 BadDeviceToken with 3 MB of padding: invalid token';

# 500 then success: retried with backoff
my $flaky = apns_token();
device($app, 'flaky', 'A', $flaky);
mock_script('apns', $flaky, {status => 500, reason => 'InternalServerError', times => 2});
$id = send_msg($app, {message => {alert => '500'}, target => {deviceIds => ['flaky']}});
$s = settled($app, $id);
is $s->{summary}{sent}, 1, '500 twice, then sent';
my @q = @{ mock_requests('apns', key => $flaky) };
is scalar @q, 3, 'three attempts';
ok $q[2]{time} - $q[1]{time} >= $q[1]{time} - $q[0]{time} - 200, 'backoff does not shrink';

# 429 with Retry-After: 2 s: the next attempt waits at least that long
my $busy = apns_token();
device($app, 'busy', 'A', $busy);
mock_script('apns', $busy, {status => 429, reason => 'TooManyRequests', retryAfter => 2});
$id = send_msg($app, {message => {alert => '429'}, target => {deviceIds => ['busy']}});
is settled($app, $id)->{summary}{sent}, 1, '429, then sent';
@q = @{ mock_requests('apns', key => $busy) };
ok @q == 2 && $q[1]{time} - $q[0]{time} >= 1950, 'Retry-After is honoured' or diag explain [map { $_->{time} } @q];

# always 500: stops at the attempt limit (PushSenderMaxAttempts 4)
my $down = apns_token();
device($app, 'down', 'A', $down);
mock_script('apns', $down, {status => 500, reason => 'InternalServerError', times => 100});
$id = send_msg($app, {message => {alert => 'down'}, target => {deviceIds => ['down']}});
$s = settled($app, $id, 30);
is $s->{summary}{failed}, 1, 'always 500: failed in the end';
is scalar @{ mock_requests('apns', key => $down) }, 4, 'after PushSenderMaxAttempts attempts';

# a dropped connection is retried
my $drop = apns_token();
device($app, 'drop', 'A', $drop);
mock_script('apns', $drop, {drop => JSON::PP::true()});
$id = send_msg($app, {message => {alert => 'drop'}, target => {deviceIds => ['drop']}});
is settled($app, $id)->{summary}{sent}, 1, 'a dropped connection: retried, then sent';

# FCM: UNREGISTERED disables, QUOTA_EXCEEDED retries
my $fgone = 'fcm-' . random_hex(20);
device($app, 'fgone', 'G', $fgone);
mock_script('fcm', $fgone, {status => 404, reason => 'UNREGISTERED'});
$id = send_msg($app, {message => {alert => 'fcm-404'}, target => {deviceIds => ['fgone']}});
is settled($app, $id)->{summary}{invalidToken}, 1, 'FCM UNREGISTERED: invalid token';
is psql("SELECT invalid_since IS NOT NULL FROM push_device WHERE app_id = '$app' AND device_id = 'fgone'"), 't',
   'FCM UNREGISTERED: the device is disabled';
my $fbusy = 'fcm-' . random_hex(20);
device($app, 'fbusy', 'G', $fbusy);
mock_script('fcm', $fbusy, {status => 503, reason => 'UNAVAILABLE', retryAfter => 1});
$id = send_msg($app, {message => {alert => 'fcm-503'}, target => {deviceIds => ['fbusy']}});
is settled($app, $id)->{summary}{sent}, 1, 'FCM UNAVAILABLE: retried, then sent';

# --- credentials rejected: the application's APNs sends pause until its settings change ---------------
my $cred = apns_token();
device($app, 'cred', 'A', $cred);
mock_script('apns', $cred, {status => 403, reason => 'InvalidProviderToken'});
my $log = error_log_size();
$id = send_msg($app, {message => {alert => '403'}, target => {deviceIds => ['cred']}});
$s = settled($app, $id);
is $s->{summary}{failed}, 1, '403: failed';
like $s->{credentialErrors}, qr/apns: InvalidProviderToken/, 'the summary names the credential problem';
like error_log_since($log), qr/PUSH0623.*InvalidProviderToken/, 'and the error log';
$id = send_msg($app, {message => {alert => 'paused'}, target => {deviceIds => ['a1']}});
$s = settled($app, $id);
is $s->{summary}{failed}, 1, 'while paused, APNs sends fail without a request';
ok !grep({ ($_->{json}{aps}{alert}{body} // '') eq 'paused' } @{ mock_requests('apns') }), 'nothing reached APNs';
is apns_settings($app)->code, 200, 'new settings';
sleep 11;   # the sender trusts what it read for 10 s
$id = send_msg($app, {message => {alert => 'resumed'}, target => {deviceIds => ['a1']}});
is settled($app, $id)->{summary}{sent}, 1, 'after the settings changed, sends resume';

# --- sandbox: APNs as h2c (production went over TLS, the mock's certificate being the PushProviderCA) ---
my $sbx = 'sbx-' . random_hex(6);
mf(POST => '/apps', $token, {applicationId => $sbx});
is apns_settings($sbx, sandbox => 1)->code, 200, 'a sandbox application';
my $st = apns_token();
device($sbx, 's1', 'A', $st);
$id = send_msg($sbx, {message => {alert => 'sandbox'}});
is settled($sbx, $id)->{summary}{sent}, 1, 'sandbox: sent';
($r) = @{ mock_requests('apns', key => $st) };
ok $r && !$r->{tls}, 'through the sandbox endpoint (h2c)';
($r) = @{ mock_requests('apns', key => $tok{a1}) };
ok $r->{tls}, 'production went over TLS';

# --- devices without credentials ---------------------------------------------------------------------
my $bare = 'bare-' . random_hex(6);
mf(POST => '/apps', $token, {applicationId => $bare});
device($bare, 'b1', 'A', apns_token());
$id = send_msg($bare, {message => {alert => 'nocreds'}});
$s = settled($bare, $id);
is $s->{summary}{failed}, 1, 'no APNs credentials: failed';
is psql("SELECT error FROM push_delivery WHERE app_id = '$bare'"), 'no apns credentials', 'with a reason';

done_testing;
