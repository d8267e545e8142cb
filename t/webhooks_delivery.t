# Webhook events as the sender POSTs them to the mock receiver (t/mock/providers.js):
# registration, update and deletion of devices, a message's status changes and a failed
# delivery; the JSON body, X-Push-Event, X-Push-Event-Id, the HMAC-SHA256 signature of a
# webhook with a secret (and none without); retries with backoff after 500s, to the failing
# webhook only; and event types a webhook does not listen to never reach it.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait);
use PushSender qw(wait_for apns_app summary summary_text);

my ($token) = oauth_token('*');
my $app = 'whd-' . random_hex(6);
my $secret = 'hmac-' . random_hex(16);
my $hook = $ENV{PUSH_MOCK_HTTP};
my %path = (signed => "/hook/$app-signed", plain => "/hook/$app-plain");
my $JSON = JSON::PP->new->utf8;

mock_reset();
apns_app($token, $app);
my $res = mf(POST => "/apps/$app/webhooks", $token,
             {name => 'signed', url => "$hook$path{signed}", secret => $secret,
              eventTypes => 'onDeviceRegister,onDeviceUnregister,onSubscribe,onNotificationStatusChange,onNotificationFailure'});
is $res->code, 201, 'a webhook with a secret' or diag $res->as_string;
$res = mf(POST => "/apps/$app/webhooks", $token,
          {name => 'plain', url => "$hook$path{plain}", eventTypes => 'onDeviceRegister,onDeviceUpdate'});
is $res->code, 201, 'a webhook without one' or diag $res->as_string;

# what a receiver got: [{type, id, body (raw), json, headers, status, time}] in arrival order
sub got {
    my ($name, %o) = @_;
    my @r;
    for my $q (@{ mock_requests('webhook', key => $path{$name}) }) {
        my $raw = $q->{body};
        utf8::encode($raw);   # the mock hands the body back as text
        push @r, {type => $q->{headers}{'x-push-event'}, id => $q->{headers}{'x-push-event-id'}, raw => $raw,
                  json => $q->{json}, headers => $q->{headers}, status => $q->{status}, time => $q->{time},
                  method => $q->{method}};
    }
    return grep { !$o{type} || ($_->{type} // '') eq $o{type} } @r;
}
# waits until the receiver got $n events (of a type); returns them
sub wait_events {
    my ($name, $n, %o) = @_;
    my @r;
    wait_for($o{timeout} || 15, sub { @r = got($name, %o); @r >= $n }, 0.1);
    return @r;
}
sub event_id {
    my ($kind, $where) = @_;
    return psql("SELECT string_agg(event_id::text, ',' ORDER BY event_id) FROM push_event
                  WHERE app_id = '$app' AND kind = '$kind'" . ($where ? " AND $where" : ''));
}

# --- registration -------------------------------------------------------------------------
my %tok = map { $_ => random_hex(64) } qw(d1 d2 d3);
my $t0 = time;
for my $d (qw(d1 d2 d3)) {
    $res = mf(POST => "/apps/$app/devices", $token, {deviceId => $d, token => $tok{$d}, platform => 'A', userId => "u-$d"});
    die "device $d: " . $res->as_string unless $res->code =~ /^20[01]$/;
}
my @reg = wait_events('signed', 3, type => 'onDeviceRegister');
is scalar(@reg), 3, 'the signed webhook got onDeviceRegister for each of three devices';
my ($e) = grep { $_->{json} && $_->{json}{entity}{deviceId} eq 'd1' } @reg;
ok $e, 'the one of d1';
$e ||= {json => {}, headers => {}, raw => ''};
is $e->{method}, 'POST', 'POSTed';
is $e->{headers}{'content-type'}, 'application/json', 'Content-Type: application/json';
is_deeply [sort keys %{ $e->{json} }], [qw(applicationId entity eventTimeStamp type)],
          'the body: type, applicationId, eventTimeStamp, entity';
is $e->{json}{type}, 'onDeviceRegister', 'type';
is $e->{json}{applicationId}, $app, 'applicationId';
like $e->{json}{eventTimeStamp}, qr/^\d{13}$/, 'eventTimeStamp in milliseconds';
ok abs($e->{json}{eventTimeStamp} / 1000 - $t0) < 30, 'eventTimeStamp is about now'
   or diag "$e->{json}{eventTimeStamp} vs $t0";
is_deeply $e->{json}{entity}, {deviceId => 'd1', userId => 'u-d1', token => $tok{d1}, platform => 'A'},
          'entity: the device';
is $e->{headers}{'x-push-event'}, 'onDeviceRegister', 'X-Push-Event';
is $e->{headers}{'x-push-event-id'}, event_id('onDeviceRegister', "payload->>'deviceId' = 'd1'"),
   'X-Push-Event-Id is the event row';
is $e->{headers}{'x-push-signature'}, 'sha256=' . hmac_sha256_hex($e->{raw}, $secret),
   'X-Push-Signature: HMAC-SHA256 of the raw body with the secret';
isnt $e->{headers}{'x-push-signature'}, 'sha256=' . hmac_sha256_hex($e->{raw}, "$secret-other"),
     '(which another secret does not give)';
is scalar(grep { ($_->{headers}{'x-push-signature'} // '') ne 'sha256=' . hmac_sha256_hex($_->{raw}, $secret) } @reg),
   0, 'every event to it is signed';

my @sub = wait_events('signed', 3, type => 'onSubscribe');
is scalar(@sub), 3, 'onSubscribe (Push.all) for each device';
is_deeply [sort map { "$_->{json}{entity}{device}:$_->{json}{entity}{tagName}" } @sub],
          ['d1:Push.all', 'd2:Push.all', 'd3:Push.all'], 'entity: device and tag';

my @plain = wait_events('plain', 3, type => 'onDeviceRegister');
is scalar(@plain), 3, 'the plain webhook got onDeviceRegister too';
($e) = grep { $_->{json} && $_->{json}{entity}{deviceId} eq 'd1' } @plain;
ok $e && !exists $e->{headers}{'x-push-signature'}, 'without X-Push-Signature (no secret)';
is $e && $e->{headers}{'x-push-event-id'}, event_id('onDeviceRegister', "payload->>'deviceId' = 'd1'"),
   'the same X-Push-Event-Id as the signed webhook got';
ok !grep({ ($_->{type} // '') eq 'onSubscribe' } got('plain')), 'and no onSubscribe, which it does not listen to';

# --- an update: only the webhook that listens for onDeviceUpdate gets it -------------------------
is mf(PUT => "/apps/$app/devices/d1", $token, {userId => 'ann'})->code, 200, 'update d1';
my @upd = wait_events('plain', 1, type => 'onDeviceUpdate');
is scalar(@upd), 1, 'the plain webhook got onDeviceUpdate';
is @upd && $upd[0]{json}{entity}{userId}, 'ann', 'with the new userId';

# --- a message: one device answers 400 BadDeviceToken ------------------------------------------------
mock_script('apns', $tok{d3}, {status => 400, reason => 'BadDeviceToken'});
$res = mf(POST => "/apps/$app/messages", $token, {message => {alert => 'hooked'}});
is $res->code, 202, 'a broadcast to the three devices';
my $msg = json_body($res)->{messageId};
my $s = wait_for(20, sub { my $x = summary($app, $msg); $x->{state} eq 'done' ? $x : undef }) || summary($app, $msg);
is summary_text($s), 'state=done targeted=3 sent=2 failed=0 invalid=1 filtered=0 expired=0 cancelled=0 pending=0',
   'the message is done: two sent, one invalid token';

my @fail = wait_events('signed', 1, type => 'onNotificationFailure');
is scalar(@fail), 1, 'onNotificationFailure, once';
is_deeply $fail[0] && $fail[0]{json}{entity},
          {messageId => $msg, deviceIds => ['d3'], platform => 'A', msgStatus => 'invalid', failureReason => 'BadDeviceToken'},
          'entity: the message, the device, the platform, the outcome and the reason';
is $fail[0] && $fail[0]{headers}{'x-push-signature'}, 'sha256=' . hmac_sha256_hex($fail[0] ? $fail[0]{raw} : '', $secret),
   'signed';

my @chg;
wait_for(15, sub { @chg = got('signed', type => 'onNotificationStatusChange');
                   grep { $_->{json}{entity}{msgStatus} eq 'done' } @chg });
my ($done) = grep { $_->{json}{entity}{msgStatus} eq 'done' } @chg;
ok $done, 'onNotificationStatusChange with msgStatus done' or diag explain [map { $_->{json} } @chg];
is_deeply $done && $done->{json}{entity},
          {messageId => $msg, msgStatus => 'done', targeted => 3, sent => 2, failed => 0, invalidToken => 1,
           filtered => 0, expired => 0, cancelled => 0},
          'entity: the counts at the end';
my @statuses = map { $_->{json}{entity}{msgStatus} } sort { $a->{id} <=> $b->{id} } @chg;
diag "status changes: @statuses";
is $statuses[-1], 'done', 'done is the last status change';
ok !grep({ $_ eq 'expanding' } @statuses), 'expanding is not reported';
my %ids;
$ids{$_->{id}}++ for @chg;
is scalar(keys %ids), scalar(@chg), 'each status change is its own event (its own id)';
is join(',', sort { $a <=> $b } keys %ids), event_id('onNotificationStatusChange'), 'as in push_event';

# --- deletion -----------------------------------------------------------------------------------
is mf(DELETE => "/apps/$app/devices/d1", $token)->code, 204, 'delete d1';
my @unreg = wait_events('signed', 1, type => 'onDeviceUnregister');
is scalar(@unreg), 1, 'onDeviceUnregister';
is_deeply @unreg && $unreg[0]{json}{entity}, {deviceId => 'd1', userId => 'ann', token => $tok{d1}, platform => 'A'},
          'entity: the deleted device';
is $unreg[0] && $unreg[0]{headers}{'x-push-signature'}, 'sha256=' . hmac_sha256_hex($unreg[0] ? $unreg[0]{raw} : '', $secret),
   'signed';

# every event sent, and what nobody listens for was never POSTed
ok wait_for(15, sub { psql("SELECT count(*) FROM push_event WHERE app_id = '$app' AND state <> 'done'") == 0 }),
   'every event row of the application ends done';
my %signed_types;
$signed_types{$_->{type}}++ for got('signed');
ok !$signed_types{onDeviceUpdate}, 'the signed webhook never got onDeviceUpdate (it does not listen to it)';
ok !$signed_types{onUnsubscribe}, 'nor onUnsubscribe';
my %plain_types;
$plain_types{$_->{type}}++ for got('plain');
is_deeply \%plain_types, {onDeviceRegister => 3, onDeviceUpdate => 1},
          'the plain webhook got exactly its two types, each event once';
is_deeply \%signed_types, {onDeviceRegister => 3, onSubscribe => 3, onNotificationFailure => 1,
                           onNotificationStatusChange => scalar(@chg), onDeviceUnregister => 1},
          'the signed webhook got each of its events once';
is psql("SELECT count(*) FROM push_event WHERE app_id = '$app' AND kind IN ('onUnsubscribe')"), 0,
   'no event row is written for a type no webhook listens to';
is scalar(grep { $_->{status} != 200 } got('signed'), got('plain')), 0, 'the receiver answered every POST 200';

# --- a receiver that fails twice: the event comes again with backoff, then ends done ---------------
my $rapp = 'whr-' . random_hex(6);
apns_app($token, $rapp);
$path{x} = "/hook/$rapp-x";
$path{y} = "/hook/$rapp-y";
mock_script('webhook', $path{x}, {status => 500, times => 2});
is mf(POST => "/apps/$rapp/webhooks", $token,
      {name => 'x', url => "$hook$path{x}", eventTypes => 'onDeviceRegister', secret => $secret})->code, 201,
   'a webhook whose receiver answers 500 twice';
is mf(POST => "/apps/$rapp/webhooks", $token, {name => 'y', url => "$hook$path{y}", eventTypes => 'onDeviceRegister'})->code,
   201, 'and a second webhook for the same events';
$res = mf(POST => "/apps/$rapp/devices", $token, {deviceId => 'r1', token => random_hex(64), platform => 'A'});
ok $res->code =~ /^20[01]$/, 'a device: one onDeviceRegister event';
my @x = wait_events('x', 3, timeout => 20);
is_deeply [map { $_->{status} } @x], [500, 500, 200], 'POSTed three times: 500, 500, then 200';
my $rid = psql("SELECT event_id FROM push_event WHERE app_id = '$rapp' AND kind = 'onDeviceRegister'");
is_deeply [map { $_->{id} } @x], [($rid) x 3], 'each time with the same X-Push-Event-Id';
is scalar(grep { $_->{headers}{'x-push-signature'} eq 'sha256=' . hmac_sha256_hex($_->{raw}, $secret) } @x), 3,
   'each time signed';
is scalar(keys %{ {map { $_->{raw} => 1 } @x} }), 1, 'each time the same body';
if (@x == 3) {
    my ($g1, $g2) = ($x[1]{time} - $x[0]{time}, $x[2]{time} - $x[1]{time});
    diag sprintf 'gaps between the attempts: %.0f ms, %.0f ms', $g1, $g2;
    ok $g1 >= 140, 'the first retry waits (PushSenderBackoff 300: at least 150 ms)';
    ok $g2 >= 290, 'the second waits longer (at least 300 ms)';
}
ok wait_for(10, sub { psql("SELECT state || ':' || attempts FROM push_event WHERE event_id = $rid") eq 'done:3' }),
   'the event row ends state done after 3 attempts'
   or diag psql("SELECT state, attempts FROM push_event WHERE event_id = $rid");
my @y = got('y');
is scalar(@y), 1, 'the other webhook got the event once: retries go only to the webhook that failed';
is scalar(grep { $_->{id} ne $rid } @y), 0, '(with the same X-Push-Event-Id)';

# --- a receiver that always fails: given up after PushSenderMaxAttempts (4) ---------------------------
my $fapp = 'whf-' . random_hex(6);
apns_app($token, $fapp);
$path{z} = "/hook/$fapp-z";
mock_script('webhook', $path{z}, {status => 503, times => -1});
is mf(POST => "/apps/$fapp/webhooks", $token, {name => 'z', url => "$hook$path{z}", eventTypes => 'onDeviceRegister'})->code,
   201, 'a webhook whose receiver always answers 503';
my $log = error_log_size();
$res = mf(POST => "/apps/$fapp/devices", $token, {deviceId => 'f1', token => random_hex(64), platform => 'A'});
ok $res->code =~ /^20[01]$/, 'a device: one event';
my $fid = psql("SELECT event_id FROM push_event WHERE app_id = '$fapp'");
ok wait_for(30, sub { psql("SELECT state FROM push_event WHERE event_id = $fid") eq 'failed' }),
   'the event ends failed';
is psql("SELECT attempts FROM push_event WHERE event_id = $fid"), 4, 'after 4 attempts';
like error_log_since($log), qr/PUSH0643: sender: event $fid \(onDeviceRegister of \Q$fapp\E\) given up after 4 attempts/,
     'PUSH0643 in the error log';
sleep 1.5;
is scalar(got('z')), 4, 'the receiver got it 4 times, and no more';

# leave nothing behind for the next test files
mock_reset();
psql("DELETE FROM push_application WHERE app_id IN ('$app', '$rapp', '$fapp')") if Test::More->builder->is_passing;
done_testing;
