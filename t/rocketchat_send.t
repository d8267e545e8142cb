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
is_deeply [@$n{qw(from badge sound priority title text userId)}], ['push', '2', 'default', '10', '#vb', 'rodriq: fsfs', $erin],
   'notification from, badge, sound, priority, title, text, userId';
is_deeply [@{ $n->{payload} }{qw(messageId notificationType rid senderName type name)}],
   [$mid, 'message', 'iu7jtPAhvEeAS5tNq', 'rodriq', 'c', 'vb'], 'notification payload';
like $n->{payload}{host}, qr{^http://}, 'payload host: this server';
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
