# Rocket.Chat's push.test, sent through the sender to the mock APNs and FCM: the test
# message reaches every device of the caller (APNs topic = the appName registered), one call
# per second per user, the documented 400s; and a session that ends stops its devices'
# pushes.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_requests mock_wait);

sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!"; my $s = <$f>; $s }
my $APP = 'test-rc';
my $keys = $ENV{PUSH_TEST_KEYS};
my ($token) = oauth_token('*');
is mf(PUT => "/apps/$APP/settings/apnsConf", $token,
      {keyId => 'MOCKKEY001', teamId => 'MOCKTEAM01', bundleId => 'com.example.default', p8 => slurp("$keys/apns.p8")})->code,
   200, 'APNs settings for the Rocket.Chat application';
is mf(PUT => "/apps/$APP/settings/gcmConf", $token,
      {serviceAccount => JSON::PP->new->decode(slurp("$keys/fcm-account.json"))})->code, 200, 'FCM settings';

my $carol = 'rc-carol-' . random_hex(6);
my $dave = 'rc-dave-' . random_hex(6);
my $tc = new_session($carol, $APP);
my $td = new_session($dave, $APP);
sub rc {
    my ($method, $path, $user, $tok, $body) = @_;
    my @h = ('X-User-Id' => $user, 'X-Auth-Token' => $tok);
    my $content;
    if (defined $body) {
        $content = JSON::PP->new->utf8->encode($body);
        push @h, 'Content-Type' => 'application/json';
    }
    return request($method, "/api/v1/$path", headers => \@h, content => $content);
}

my $apn = random_hex(64);
my $gcm = 'fcm-' . random_hex(24);
is rc(POST => 'push.token', $carol, $tc, {type => 'apn', value => $apn, appName => 'chat.rocket.ios'})->code, 200,
   'carol registers an APNs token';
is rc(POST => 'push.token', $carol, $tc, {type => 'gcm', value => $gcm, appName => 'chat.rocket.android'})->code, 200,
   'and an FCM token';

my $res = rc(POST => 'push.test', $carol, $tc);
is $res->code, 200, 'push.test: 200';
is_deeply json_body($res), {tokensCount => 2, success => JSON::PP::true()}, 'tokensCount';
my ($a) = mock_wait('apns', 1, key => $apn);
ok $a, 'the test push reached APNs';
is $a->{json}{aps}{alert}{body}, 'This is a push test message', 'its text';
is $a->{json}{aps}{alert}{title}, "\@$carol", 'its title is @user';
is $a->{headers}{'apns-topic'}, 'chat.rocket.ios', 'the APNs topic is the appName of the registration';
my ($g) = mock_wait('fcm', 1, key => $gcm);
ok $g && $g->{json}{message}{notification}{body} eq 'This is a push test message', 'and FCM';

$res = rc(POST => 'push.test', $carol, $tc);
is $res->code, 429, 'again within a second: 429';
is_deeply json_body($res), {success => JSON::PP::false(), error => 'Too many requests'}, 'Too many requests';
sleep 1.1;
is rc(POST => 'push.test', $carol, $tc)->code, 200, 'a second later: 200 again';

$res = rc(POST => 'push.test', $dave, $td);
is $res->code, 400, 'a user without tokens: 400';
is_deeply json_body($res), {success => JSON::PP::false(), errorType => 'error-no-tokens-for-this-user',
                            error => 'There are no tokens for this user [error-no-tokens-for-this-user]'},
   'error-no-tokens-for-this-user';
is rc(POST => 'push.test', $carol, 'wrong')->code, 401, 'push.test needs a session';

# --- push.get, and privacy ("id only") mode ------------------------------------------------------------
my $erin = 'rc-erin-' . random_hex(6);
my $frank = 'rc-frank-' . random_hex(6);
my $te = new_session($erin, $APP);
my $tf = new_session($frank, $APP);
my $eapn = random_hex(64);
rc(POST => 'push.token', $erin, $te, {type => 'apn', value => $eapn, appName => 'chat.rocket.ios'});
rc(POST => 'push.token', $frank, $tf, {type => 'apn', value => random_hex(64), appName => 'chat.rocket.ios'});
my ($mt) = oauth_token('*');
my $room = {rid => 'iu7jtPAhvEeAS5tNq', sender => {_id => 'd26x6zSkaPSe5gCyy', username => 'rodriq', name => 'Rodriq'},
            senderName => 'rodriq', type => 'c', name => 'vb'};
sub rc_message {
    my ($text) = @_;
    my $res = mf(POST => "/apps/$APP/messages", $mt,
                 {message => {alert => $text}, target => {userIds => [$erin]},
                  settings => {apns => {title => '#vb', badge => 2, sound => 'default', payload => $room}}});
    return json_body($res)->{messageId};
}
my $mid = rc_message('rodriq: fsfs');
($a) = mock_wait('apns', 1, key => $eapn);
is $a->{json}{aps}{alert}{body}, 'rodriq: fsfs', 'without privacy mode the push carries the text';
$res = rc(GET => "push.get?id=$mid", $erin, $te);
is $res->code, 200, 'push.get: 200';
my $d = json_body($res)->{data};
is_deeply [@{ $d->{message} }{qw(_id rid msg)}], [$mid, 'iu7jtPAhvEeAS5tNq', 'rodriq: fsfs'], 'message _id, rid, msg';
is_deeply $d->{message}{u}, $room->{sender}, 'message u: the sender';
like $d->{message}{ts}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ts with milliseconds';
is_deeply [map { ref $d->{message}{$_} } qw(urls mentions channels)], ['ARRAY', 'ARRAY', 'ARRAY'], 'urls, mentions, channels';
my $n = $d->{notification};
is_deeply [@$n{qw(from badge sound priority title text userId)}], ['push', 2, 'default', 10, '#vb', 'rodriq: fsfs', $erin],
   'notification from, badge, sound, priority, title, text, userId';
is_deeply [@{ $n->{payload} }{qw(messageId notificationType rid senderName type name)}],
   [$mid, 'message', 'iu7jtPAhvEeAS5tNq', 'rodriq', 'c', 'vb'], 'notification payload';
like $n->{payload}{host}, qr{^http://}, 'payload host: this server';
# Rocket.Chat's apps open the room only for a push whose host they know: with no host set
# for the application, the push names the same server push.get does
is(JSON::PP->new->decode($a->{json}{ejson} // '{}')->{host}, $n->{payload}{host},
   'the push\'s ejson names that host too');
like $n->{notId}, qr/^\d+$/, 'notId: a number';
is $n->{apn}{category}, 'MESSAGE', 'apn category';
is $n->{gcm}{style}, 'inbox', 'gcm style';
is_deeply [$res = rc(GET => "push.get?id=$mid", $frank, $tf), json_body($res)]->[1],
   {success => JSON::PP::false(), error => 'error-not-allowed'}, 'another user: 400 error-not-allowed';
is $res->code, 400, '... a 400';
$res = rc(GET => 'push.get?id=nope', $erin, $te);
is_deeply [$res->code, json_body($res)], [400, {success => JSON::PP::false(), error => 'error-message-not-found'}],
   'an unknown message: 400 error-message-not-found';
$res = rc(GET => 'push.get', $erin, $te);
is_deeply [$res->code, json_body($res)], [400, {success => JSON::PP::false(), error => "Match error: Missing key 'id'"}],
   'no id: 400 Match error';
is rc(GET => "push.get?id=$mid", $erin, 'wrong')->code, 401, 'push.get needs a session';

like pushctl('app', 'set', $APP, 'id-only', 'on', 'https://chat.example.com'), qr/id-only on/, 'pushctl: privacy mode on';
$mid = rc_message('a secret text');
my @got;
for (1 .. 100) {
    @got = grep { ($_->{body} // '') =~ /\Q$mid\E/ } @{ mock_requests('apns', key => $eapn) };
    last if @got;
    sleep 0.1;
}
ok @got == 1, 'privacy mode: the push arrives';
is $got[0]{json}{aps}{alert}{body}, 'You have a new message', 'with the generic text';
unlike $got[0]{body}, qr/secret text/, 'and none of the content';
is_deeply(JSON::PP->new->decode($got[0]{json}{ejson}),
          {host => 'https://chat.example.com', messageId => $mid, notificationType => 'message-id-only'},
          'ejson: host, messageId, notificationType');
$d = json_body(rc(GET => "push.get?id=$mid", $erin, $te))->{data};
is $d->{message}{msg}, 'a secret text', 'push.get gives the content';
is $d->{notification}{payload}{host}, 'https://chat.example.com', 'and the configured host';
pushctl('app', 'set', $APP, 'id-only', 'off');

# the first request for key whose body matches re, waiting for it
sub arrived {
    my ($kind, $key, $re) = @_;
    for (1 .. 150) {
        my ($r) = grep { ($_->{body} // '') =~ $re } @{ mock_requests($kind, key => $key) };
        return $r if $r;
        sleep 0.1;
    }
    return undef;
}

# --- Rocket.Chat's shape (apps/meteor/app/push/server/apn.ts, fcm.ts) ---------------------------------
my $graw = rc(GET => "push.get?id=$mid", $erin, $te)->decoded_content;
like $graw, qr/"notId":\d+[,}]/, 'push.get: notId is a number';
like $graw, qr/"priority":10[,}]/, 'priority is a number';
my $egcm = 'fcm-' . random_hex(24);
rc(POST => 'push.token', $erin, $te, {type => 'gcm', value => $egcm, appName => 'chat.rocket.android'});
$mid = rc_message('rodriq: shaped');
my $sa = arrived('apns', $eapn, qr/shaped/);
my $sg = arrived('fcm', $egcm, qr/shaped/);
$graw = rc(GET => "push.get?id=$mid", $erin, $te)->decoded_content;
my ($notid) = $graw =~ /"notId":(\d+)/;
like $graw, qr/"badge":2[,}]/, 'push.get: badge is a number';
ok $sa, 'APNs got the shaped push';
my $aps = $sa->{json}{aps};
is_deeply [@{ $aps->{alert} }{qw(title body)}], ['#vb', 'rodriq: shaped'], 'aps.alert title and body';
is_deeply [@$aps{qw(badge sound category mutable-content)}], [2, 'default', 'MESSAGE', 1],
   'aps badge, sound, category MESSAGE, mutable-content 1 (the notification service extension runs)';
is $aps->{'thread-id'}, $notid, 'aps thread-id is the notId';
is $sa->{json}{notId}, $notid, 'notId at top level: the number push.get answers';
like $sa->{body}, qr/"notId":\d+[,}]/, '... as a JSON number';
is $sa->{json}{messageFrom}, 'push', 'messageFrom';
my $ej = JSON::PP->new->decode($sa->{json}{ejson});
is_deeply [@$ej{qw(host messageId notificationType rid type name senderName)}],
          ['https://chat.example.com', $mid, 'message', 'iu7jtPAhvEeAS5tNq', 'c', 'vb', 'rodriq'],
          'ejson: host, messageId, notificationType, and the custom payload';
is_deeply $ej->{sender}, $room->{sender}, 'ejson sender';
ok $sg, 'FCM got the shaped push';
my $fm = $sg->{json}{message};
is_deeply [@{ $fm->{notification} }{qw(title body)}], ['#vb', 'rodriq: shaped'], 'FCM notification title and body';
is_deeply [@{ $fm->{data} }{qw(title message notId msgcnt soundname style)}],
          ['#vb', 'rodriq: shaped', "$notid", '2', 'default', 'inbox'],
          'FCM data: title, message, notId, msgcnt, soundname, style (the Android app needs notId)';
is(JSON::PP->new->decode($fm->{data}{ejson})->{messageId}, $mid, 'FCM data ejson');
is $fm->{android}{priority}, 'HIGH', 'android priority HIGH';
my $mid2 = rc_message('rodriq: again');
my $sa2 = arrived('apns', $eapn, qr/again/);
ok $sa2 && $sa2->{json}{notId} != $notid, 'another message, another notId';

pushctl('app', 'set', $APP, 'id-only', 'on', 'https://chat.example.com');
$mid = rc_message('a private text');
my $pg = arrived('fcm', $egcm, qr/\Q$mid\E/);
ok $pg, 'privacy mode: FCM gets the push';
unlike $pg->{body}, qr/private text/, 'without the text';
is $pg->{json}{message}{data}{message}, 'You have a new message', 'the generic text';
is(JSON::PP->new->decode($pg->{json}{message}{data}{ejson})->{notificationType}, 'message-id-only',
   'ejson says message-id-only');
like $pg->{json}{message}{data}{notId}, qr/^\d+$/, 'with a notId';
pushctl('app', 'set', $APP, 'id-only', 'off');

# VoIP: newer iOS apps also register a PushKit token
my $voip = random_hex(64);
$res = rc(POST => 'push.token', $erin, $te, {type => 'apn', value => $eapn, appName => 'chat.rocket.ios', voipToken => $voip});
is $res->code, 200, 'push.token with a voipToken';
is json_body($res)->{result}{voipToken}, $voip, 'kept';
is rc(POST => 'push.token', $erin, $te, {type => 'apn', value => $eapn, appName => 'chat.rocket.ios', voipToken => "a\r\nb"})->code,
   400, 'a voipToken with CR/LF: 400';
$res = mf(POST => "/apps/$APP/messages", $mt, {message => {alert => 'incoming call'}, target => {userIds => [$erin]},
                                                settings => {apns => {voip => JSON::PP::true()}}});
is $res->code, 202, 'a message asking for VoIP';
my $v = arrived('apns', $voip, qr/incoming call/);
ok $v, 'it goes to the VoIP token';
is $v->{headers}{'apns-push-type'}, 'voip', 'apns-push-type voip';
is $v->{headers}{'apns-topic'}, 'chat.rocket.ios.voip', 'topic <appName>.voip';
is mf(POST => "/apps/$APP/messages", $mt, {message => {alert => 'x'}, settings => {apns => {voip => 'yes'}}})->code, 400,
   'settings.apns.voip must be a boolean';

# the session that registered the tokens ends: its devices receive nothing more
pushctl('session', 'rm', $tc);
$res = mf(POST => "/apps/$APP/messages", $mt, {message => {alert => 'after logout'}, target => {userIds => [$carol]}});
is $res->code, 202, 'a message to carol after her session ended';
my $id = json_body($res)->{messageId};
my $s;
for (1 .. 100) {
    $s = json_body(mf(GET => "/apps/$APP/messages/$id", $mt));
    last if $s->{status} eq 'done';
    sleep 0.1;
}
is $s->{status}, 'done', 'is done';
is $s->{summary}{targeted}, 0, 'with nobody targeted: the ended session took its devices out of the audience';
ok !grep({ ($_->{json}{aps}{alert}{body} // '') eq 'after logout' } @{ mock_requests('apns', key => $apn) }),
   'APNs received nothing for them';
done_testing;
