# MobileFirst webhooks: create, update, get, list, delete; the registry events written
# in the transaction of each change, only for the event types a webhook listens to; and at
# most 20 webhooks per application (t/egress.t has the URLs refused).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my ($token) = oauth_token('*');
my $app = 'hooks-' . random_hex(6);
mf(POST => '/apps', $token, {applicationId => $app});
sub mf_err {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    ok $res->code == $status && $b && $b->{code} eq $code, "$name: $status $code" or diag $res->as_string;
}
sub events { psql("SELECT string_agg(kind || ':' || coalesce(payload->>'deviceId', payload->>'device'), ' ' ORDER BY event_id) FROM push_event WHERE app_id = '$app'") }

my $hooks = "/apps/$app/webhooks";
my $res = mf(POST => $hooks, $token, {name => 'audit', url => 'https://hooks.example.net/push',
                                      eventTypes => 'onDeviceRegister, onSubscribe,onUnsubscribe,onDeviceUnregister',
                                      secret => 'hmac-' . random_hex(10)});
is $res->code, 201, 'POST webhooks';
my $b = json_body($res);
is_deeply [@$b{qw(name url eventTypes)}], ['audit', 'https://hooks.example.net/push',
          'onDeviceRegister,onSubscribe,onUnsubscribe,onDeviceUnregister'], 'answers the webhook';
is $b->{signed}, JSON::PP::true(), 'says it is signed';
ok !exists $b->{secret}, 'without the secret';
like $b->{href}, qr{/apps/\Q$app\E/webhooks/audit$}, 'href';
mf_err(mf(POST => $hooks, $token, {name => 'audit', url => 'https://x.example/', eventTypes => 'onSubscribe'}), 409,
       'FPWSE0002E', 'the same name again');
mf_err(mf(POST => $hooks, $token, {name => 'x', url => 'ftp://x.example/', eventTypes => 'onSubscribe'}), 400,
       'FPWSE0005E', 'a URL that is not http(s)');
mf_err(mf(POST => $hooks, $token, {name => 'x', url => 'https://x.example/', eventTypes => 'onEverything'}), 400,
       'FPWSE0005E', 'an unknown event type');
mf_err(mf(POST => $hooks, $token, {name => 'x', url => 'https://x.example/'}), 400, 'FPWSE0005E', 'no eventTypes');
is json_body(mf(GET => "$hooks/audit", $token))->{url}, 'https://hooks.example.net/push', 'GET webhook';
$b = json_body(mf(GET => $hooks, $token));
is_deeply [map { $_->{name} } @{ $b->{webhooks} }], ['audit'], 'GET webhooks lists it';
mf_err(mf(GET => "$hooks/none", $token), 404, 'FPWSE0001E', 'an unknown webhook');

# events, written with the change
is events(), '', 'no events yet';
mf(POST => "/apps/$app/devices", $token, {deviceId => 'd1', token => 't1', platform => 'A'});
is events(), 'onDeviceRegister:d1 onSubscribe:d1', 'registering writes onDeviceRegister (and Push.all subscribe)';
mf(PUT => "/apps/$app/devices/d1", $token, {userId => 'bob'});
is events(), 'onDeviceRegister:d1 onSubscribe:d1', 'onDeviceUpdate is not listened to: nothing written';
mf(DELETE => "/apps/$app/devices/d1", $token);
like events(), qr/onUnsubscribe:d1.*onDeviceUnregister:d1|onDeviceUnregister:d1.*onUnsubscribe:d1/,
     'deleting writes onDeviceUnregister and onUnsubscribe';
is psql("SELECT payload->>'platform' FROM push_event WHERE app_id = '$app' AND kind = 'onDeviceRegister'"), 'A',
   'the entity carries the platform code';

is mf(PUT => "$hooks/audit", $token, {eventTypes => 'onDeviceUpdate'})->code, 200, 'PUT webhook';
is json_body(mf(GET => "$hooks/audit", $token))->{eventTypes}, 'onDeviceUpdate', 'changes its event types';
mf(POST => "/apps/$app/devices", $token, {deviceId => 'd2', token => 't2', platform => 'G'});
mf(PUT => "/apps/$app/devices/d2", $token, {token => 't2-new'});
like events(), qr/onDeviceUpdate:d2$/, 'now updates are written';
mf_err(mf(PUT => "$hooks/audit", $token, {name => 'other'}), 400, 'FPWSE0005E', 'the name never changes');
is mf(DELETE => "$hooks/audit", $token)->code, 204, 'DELETE webhook';
mf_err(mf(DELETE => "$hooks/audit", $token), 404, 'FPWSE0001E', 'DELETE again');
my $before = events();
mf(PUT => "/apps/$app/devices/d2", $token, {token => 't2-newer'});
is events(), $before, 'without webhooks nothing is written';
is psql("SELECT count(*) FROM push_event WHERE app_id LIKE 'mf-%' OR app_id LIKE 'list-%'"), 0,
   'applications without webhooks have no events';

# at most 20 webhooks per application: each event is POSTed to every one that listens
my $many = "/apps/$app/webhooks";
for my $i (1 .. 20) {
    $res = mf(POST => $many, $token, {name => "h$i", url => "https://h$i.example.net/", eventTypes => 'onSubscribe'});
    last unless $res->code == 201;
}
is $res->code, 201, 'twenty webhooks' or diag $res->as_string;
$res = mf(POST => $many, $token, {name => 'h21', url => 'https://h21.example.net/', eventTypes => 'onSubscribe'});
mf_err($res, 400, 'FPWSE0005E', 'the 21st');
like json_body($res)->{message}, qr/at most 20 webhooks/, '... saying the limit';
mf_err(mf(POST => $many, $token, {name => 'h20', url => 'https://x.example/', eventTypes => 'onSubscribe'}), 409,
       'FPWSE0002E', 'a name taken is still a 409 at the limit');
is mf(DELETE => "$many/h20", $token)->code, 204, 'one deleted';
is mf(POST => $many, $token, {name => 'h21', url => 'https://h21.example.net/', eventTypes => 'onSubscribe'})->code, 201,
   'makes room for another';
is psql("SELECT count(*) FROM push_webhook WHERE app_id = '$app'"), 20, 'twenty stored';
done_testing;
