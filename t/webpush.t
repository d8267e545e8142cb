# Web Push end to end: an application's VAPID key (webpushConf: PUT, GET without the
# private key, kept across PUTs, sealed), browser devices (MobileFirst platform B, whose
# token is the PushSubscription's JSON; bad ones refused), messages delivered to the mock
# push service (t/mock/webpush.js), which decrypts each one with the test subscription's
# key and verifies the VAPID token: payload, TTL, Urgency, Topic; 410 and 404 disable the
# device, 429 is retried, an expired message is not sent, an endpoint on a refused address
# fails with the egress guard's reason, and a Navixy w3c_pushapi binding gets its push.
use strict;
use warnings;
use Test::More;
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait mock_webpush_keys);
use PushSender qw(wait_for);

my ($token) = oauth_token('*');
my $app = 'wp-' . random_hex(6);
sub mf_err {
    my ($res, $status, $code, $like, $name) = @_;
    my $b = json_body($res);
    ok $res->code == $status && $b && $b->{code} eq $code && $b->{message} =~ $like, "$name: $status $code"
        or diag $res->as_string;
}
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
sub send_msg {
    my ($a, $body) = @_;
    my $res = mf(POST => "/apps/$a/messages", $token, $body);
    die "send: " . $res->as_string unless $res->code == 202;
    return json_body($res)->{messageId};
}

is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'an application';
mock_reset();
my $keys = mock_webpush_keys();
ok $keys->{endpoint} =~ m{^https://127\.0\.0\.1:\d+/wp/$}, 'the mock push service is https on loopback';
my $origin = ($keys->{endpoint} =~ m{^(https://[^/]+)})[0];
sub subscription {
    my ($key, %o) = @_;
    return JSON::PP->new->canonical->encode({endpoint => $o{endpoint} // "$keys->{endpoint}$key", expirationTime => undef,
                                             keys => {p256dh => $o{p256dh} // $keys->{p256dh}, auth => $o{auth} // $keys->{auth}}});
}

# --- webpushConf ---------------------------------------------------------------------------------
my $conf = "/apps/$app/settings/webpushConf";
mf_err(mf(PUT => $conf, $token, {}), 400, 'FPWSE0005E', qr/subject/, 'no subject');
mf_err(mf(PUT => $conf, $token, {subject => 'ops@example.net'}), 400, 'FPWSE0005E', qr/subject/, 'a subject that is no URI');
mf_err(mf(PUT => $conf, $token, {subject => 'http://example.net/'}), 400, 'FPWSE0005E', qr/subject/, 'an http: subject');
mf_err(mf(PUT => $conf, $token, {subject => 'mailto:ops@example.net', privateKey => 'AAAA'}), 400, 'FPWSE0005E',
       qr/privateKey/, 'a private key that is not 32 bytes');
mf_err(mf(PUT => $conf, $token, {subject => 'mailto:ops@example.net', privateKey => '_' x 43}), 400, 'FPWSE0005E',
       qr/privateKey.*scalar/, 'a private key above the group order');
mf_err(mf(PUT => $conf, $token, {subject => 'mailto:ops@example.net', other => 1}), 400, 'FPWSE0006E', qr/other/,
       'an unknown property');
my $res = mf(PUT => $conf, $token, {subject => 'mailto:ops@example.net'});
is $res->code, 200, 'PUT with a subject: a key is made';
my $b = json_body($res);
ok $b && $b->{publicKey} =~ /^B[A-Za-z0-9_-]{86}$/, 'the answer shows the public key (65 bytes, base64url)';
my $public = $b->{publicKey};
$b = json_body(mf(GET => $conf, $token));
is_deeply $b, {subject => 'mailto:ops@example.net', publicKey => $public}, 'GET: the subject and the public key, nothing else';
unlike mf(GET => $conf, $token)->content, qr/privateKey|secret/i, 'no private key in the answer';
is json_body(mf(PUT => $conf, $token, {subject => 'https://example.net/contact'}))->{publicKey}, $public,
   'a PUT that changes only the subject keeps the key';
is psql("SELECT config->>'subject' FROM push_credential WHERE app_id = '$app' AND provider = 'webpush'"),
   'https://example.net/contact', 'the subject is stored';
is psql("SELECT secret IS NOT NULL AND config::text NOT LIKE '%privateKey%' FROM push_credential "
        . "WHERE app_id = '$app' AND provider = 'webpush'"), 't', 'the private key is sealed, not in the config';
# RFC 8291's example key pair: the public key is derived from the private one
is json_body(mf(PUT => $conf, $token, {subject => 'mailto:ops@example.net',
                                       privateKey => 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw'}))->{publicKey},
   'BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8',
   'a given private key: its public key';
my $hidden = psql("SELECT encode(secret, 'escape') FROM push_credential WHERE app_id = '$app' AND provider = 'webpush'");
unlike $hidden, qr/yfWPiYE/, 'the stored secret does not hold the key in clear';
$public = 'BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8';
like json_body(mf(GET => "/apps/$app/settings", $token))->{webpushConf}, qr{/settings/webpushConf$},
     'the settings summary links webpushConf';
{
    my ($read) = oauth_token("webpushConf.read push.application.$app");
    is mf(GET => $conf, $read)->code, 200, 'webpushConf.read reads';
    is mf(PUT => $conf, $read, {subject => 'mailto:x@example.net'})->code, 403, '... but does not write';
    my ($other) = oauth_token("gcmConf.read push.application.$app");
    is mf(GET => $conf, $other)->code, 403, 'gcmConf.read does not read webpushConf';
}
is mf(DELETE => $conf, $token)->code, 204, 'DELETE';
is mf(GET => $conf, $token)->code, 404, '... then GET is a 404';
is mf(PUT => $conf, $token, {subject => 'mailto:ops@example.net', privateKey => 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw'})->code,
   200, 'set again';

# --- devices ---------------------------------------------------------------------------------------
my $trap = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1) or die "$!";
my $tport = $trap->sockport;
sub device {
    my ($id, $tok) = @_;
    return mf(POST => "/apps/$app/devices", $token, {deviceId => $id, token => $tok, platform => 'B'});
}
mf_err(device('bad1', 'not json'), 400, 'FPWSE0005E', qr/token .*PushSubscription/, 'a token that is not a subscription');
mf_err(device('bad2', subscription('x', endpoint => 'http://push.example.net/x')), 400, 'FPWSE0005E', qr/token .*https/,
       'an http endpoint');
mf_err(device('bad3', subscription('x', endpoint => "https://127.0.0.1:$tport/wp/x")), 400, 'FPWSE0005E',
       qr/token .*refused address: loopback/, 'an endpoint on a loopback port not allowed');
mf_err(device('bad4', subscription('x', endpoint => 'https://10.1.2.3/wp/x')), 400, 'FPWSE0005E', qr/private/,
       'an endpoint on a private address');
mf_err(device('bad5', subscription('x', p256dh => 'BTBZMqHH6r4Tts7J_aSIgg')), 400, 'FPWSE0005E', qr/p256dh/, 'a short p256dh');
mf_err(device('bad6', subscription('x', auth => 'AAAA')), 400, 'FPWSE0005E', qr/auth/, 'a short auth');
is psql("SELECT count(*) FROM push_device WHERE app_id = '$app'"), 0, 'none of them was stored';

my $k1 = 'k1-' . random_hex(8);
$res = device('d1', subscription($k1));
is $res->code, 201, 'a browser registers its subscription';
is json_body($res)->{platform}, 'B', '... as platform B';
is psql("SELECT platform FROM push_device WHERE app_id = '$app' AND device_id = 'd1'"), 'webpush', 'stored as webpush';
$res = mf(PUT => "/apps/$app/devices/d1", $token, {token => subscription('x', endpoint => "https://127.0.0.1:$tport/x")});
mf_err($res, 400, 'FPWSE0005E', qr/refused address/, 'an update to a refused endpoint');

# --- a message: decrypted by the push service, with its headers --------------------------------------
my $id = send_msg($app, {message => {alert => 'Hello browser'}, target => {deviceIds => ['d1']}, priority => 'high',
                         collapseKey => 'news', expiration => 3600,
                         settings => {webpush => {title => 'Title', icon => 'https://example.net/i.png',
                                                  url => 'https://example.net/open', payload => {room => 42}}}});
my @got = mock_wait('webpush', 1, key => $k1);
is scalar @got, 1, 'the push service got one request';
my $r = $got[0] || {};
is $r->{status}, 201, '... and answered 201';
is_deeply $r->{payload}, {alert => 'Hello browser', title => 'Title', icon => 'https://example.net/i.png',
                          url => 'https://example.net/open', payload => {room => 42}, messageId => $id},
          'it decrypts to the documented payload' or diag explain $r;
ok $r->{ttl} >= 3500 && $r->{ttl} <= 3600, "TTL from the expiration ($r->{ttl})";
is $r->{urgency}, 'high', 'Urgency from the priority';
is $r->{topic}, 'news', 'Topic from the collapse key';
is $r->{headers}{'content-encoding'}, 'aes128gcm', 'Content-Encoding: aes128gcm';
is $r->{vapid}{claims}{aud}, $origin, 'the VAPID audience is the endpoint origin';
is $r->{vapid}{claims}{sub}, 'mailto:ops@example.net', 'its subject';
ok $r->{vapid}{claims}{exp} > time && $r->{vapid}{claims}{exp} <= time + 24 * 3600, 'it expires within 24 hours';
is $r->{vapid}{k}, $public, 'k is the application\'s public key';
is settled($app, $id)->{summary}{sent}, 1, 'the message counts it sent';

# a collapse key outside the topic alphabet is mapped; no priority, no expiration
$id = send_msg($app, {message => {alert => 'again'}, target => {deviceIds => ['d1']}, collapseKey => 'room 42: news'});
@got = mock_wait('webpush', 2, key => $k1);
$r = $got[1] || {};
ok defined $r->{topic} && $r->{topic} =~ /^[A-Za-z0-9_-]{32}$/, 'a collapse key with spaces becomes a 32-character topic';
ok !defined $r->{urgency}, 'no priority: no Urgency';
is $r->{ttl}, 2419200, 'no expiration: TTL four weeks';
is $r->{vapid}{header}{alg}, 'ES256', 'ES256';
is $got[0]{headers}{authorization}, $got[1]{headers}{authorization}, 'the same VAPID token was reused';

# --- answers -------------------------------------------------------------------------------------------
for my $status (410, 404) {
    my $k = "gone$status-" . random_hex(6);
    is device("g$status", subscription($k))->code, 201, "a device for $status";
    mock_script('webpush', $k, {status => $status});
    $id = send_msg($app, {message => {alert => "gone $status"}, target => {deviceIds => ["g$status"]}});
    is settled($app, $id)->{summary}{invalidToken}, 1, "$status: an invalid token";
    is psql("SELECT invalid_since IS NOT NULL FROM push_device WHERE app_id = '$app' AND device_id = 'g$status'"), 't',
       "$status: the device is disabled";
}
{
    my $k = 'busy-' . random_hex(6);
    device('busy', subscription($k));
    mock_script('webpush', $k, {status => 429, retryAfter => 1});
    my $t0 = time;
    $id = send_msg($app, {message => {alert => 'busy'}, target => {deviceIds => ['busy']}});
    is settled($app, $id)->{summary}{sent}, 1, '429: retried, then sent';
    my @req = @{ mock_requests('webpush', key => $k) };
    is scalar @req, 2, '... in two requests';
    ok @req == 2 && $req[1]{time} - $req[0]{time} >= 900, '... Retry-After honoured';
}
{
    my $k = 'big-' . random_hex(6);
    device('big', subscription($k));
    mock_script('webpush', $k, {status => 413});
    $id = send_msg($app, {message => {alert => 'big'}, target => {deviceIds => ['big']}});
    is settled($app, $id)->{summary}{failed}, 1, '413: failed, not retried';
    is scalar @{ mock_requests('webpush', key => $k) }, 1, '... one request';
}
{
    my $k = 'late-' . random_hex(6);
    device('late', subscription($k));
    mock_script('webpush', $k, {status => 503, times => -1});
    $id = send_msg($app, {message => {alert => 'late'}, target => {deviceIds => ['late']}, expiration => 2});
    my $s = settled($app, $id, 20);
    is $s->{summary}{expired}, 1, 'a message that expires while the service is down: expired';
    is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id' AND state = 'expired'"), 1,
       '... its delivery too';
}

# --- an endpoint stored before the guard refused it ---------------------------------------------------------
{
    my $sub = subscription('x', endpoint => "https://127.0.0.1:$tport/wp/x");
    $sub =~ s/'/''/g;
    psql("INSERT INTO push_device (app_id, device_id, platform, token, source_family) VALUES ('$app', 'inside', 'webpush', '$sub', 'mobilefirst')");
    $id = send_msg($app, {message => {alert => 'inside'}, target => {deviceIds => ['inside']}});
    is settled($app, $id)->{summary}{failed}, 1, 'a refused endpoint: failed';
    like psql("SELECT error FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"),
         qr/^refused by the egress guard: the host is a refused address: loopback$/, "... with the guard's reason";
    my $sel = IO::Select->new($trap);
    ok !$sel->can_read(0.3), 'nothing connected to the loopback listener';
}

# --- Navixy's w3c_pushapi ------------------------------------------------------------------------------------
{
    is mf(PUT => '/apps/test-navixy/settings/webpushConf', $token, {subject => 'mailto:ops@example.net'})->code, 200,
       'webpushConf for the Navixy application';
    my $u = 'nvx-wp-' . random_hex(6);
    my $s = new_session($u, 'test-navixy');
    my $k = 'nvx-' . random_hex(8);
    $res = nvx(POST => '/user/session/push_token/bind', 'json',
               {hash => $s, application => 'w3c_pushapi', token => "$keys->{endpoint}$k",
                parameters => {p256dh => $keys->{p256dh}, auth => $keys->{auth}}});
    is json_body($res)->{success}, JSON::PP::true(), 'a Navixy session binds its browser' or diag $res->as_string;
    $res = nvx(POST => '/user/session/push_token/bind', 'json',
               {hash => $s, application => 'w3c_pushapi', token => "https://127.0.0.1:$tport/wp/$k",
                parameters => {p256dh => $keys->{p256dh}, auth => $keys->{auth}}});
    is json_body($res)->{status}{code}, 7, 'an endpoint on a refused address: code 7';
    $id = send_msg('test-navixy', {message => {alert => 'to navixy'}, target => {userIds => [$u]}});
    @got = mock_wait('webpush', 1, key => $k);
    is scalar @got, 1, 'the w3c_pushapi binding gets the push';
    is $got[0] && $got[0]{payload}{alert}, 'to navixy', '... and it decrypts with its keys';
}

done_testing();
