# SMS through the tenant's gateway (smsConf), end to end with the mock gateway of
# t/mock/providers.js: the settings and the egress guard, notificationType 2 (SMS only)
# and 3 (push and SMS), the phone number and the text encoded in the query or a form
# POST, retries, failures, expiry, the summary and the webhook events that name the
# SMS platform ("S").
use strict;
use warnings;
use utf8;
use Test::More;
use Encode ();
use JSON::PP ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait);
use PushSender qw(wait_for apns_app);

my ($token) = oauth_token('*');
my $app = 'sms-' . random_hex(6);
my ($mock_port) = $ENV{PUSH_MOCK_HTTP} =~ /:(\d+)$/;
my $path = "/sms/$app";
my $hook = "/hook/$app";

sub mf_err {
    my ($res, $status, $code, $name, $like) = @_;
    my $b = json_body($res);
    ok $res->code == $status && $b && $b->{code} eq $code && (!$like || $b->{message} =~ $like),
       "$name: $status $code" or diag $res->as_string;
}
sub sms_conf {
    my (%o) = @_;
    return {name => 'gateway', host => '127.0.0.1', port => $mock_port + 0, programName => $path,
            parameters => [{name => 'user', value => 'tenant-1', encode => JSON::PP::true()},
                           {name => 'pass word', value => 'p&ss=w+rd', encode => JSON::PP::true()},
                           {name => 'from', value => '%2B4930', encode => JSON::PP::false()}],
            %o};
}
sub put_sms { mf(PUT => "/apps/$app/settings/smsConf", $token, sms_conf(@_)) }
sub device {
    my ($id, %o) = @_;
    my $res = mf(POST => "/apps/$app/devices", $token, {deviceId => $id, platform => 'A', token => random_hex(64), %o});
    die "device $id: " . $res->as_string unless $res->code =~ /^20[01]$/;
    return json_body($res)->{token};
}
sub send_msg {
    my ($body) = @_;
    my $res = mf(POST => "/apps/$app/messages", $token, $body);
    die "send: " . $res->as_string unless $res->code == 202;
    return json_body($res)->{messageId};
}
sub settled {
    my ($id, $timeout) = @_;
    my $b;
    wait_for($timeout || 20, sub {
        $b = json_body(mf(GET => "/apps/$app/messages/$id", $token));
        $b && $b->{status} =~ /^(done|cancelled|expired)$/;
    });
    return $b;
}
sub summary { my $s = $_[0]{summary}; join ' ', map { "$_=$s->{$_}" } sort keys %$s }
# the gateway's requests for one text (the text decoded from the query or the form)
sub sms_for {
    my $text = shift;
    return grep { ($_->{params}{text} // '') eq $text } @{ mock_requests('sms', key => $path) };
}
sub apns_for {
    my $text = shift;
    return grep { ($_->{json}{aps}{alert}{body} // '') eq $text } @{ mock_requests('apns') };
}

mock_reset();
apns_app($token, $app);

# --- settings: the gateway is the tenant's, so the egress guard looks at it -------------------
my $res = put_sms();
is $res->code, 200, 'PUT smsConf: the mock gateway (allowed by PushEgressAllow)' or diag $res->as_string;
# the values are the gateway's account and password: sealed, shown by name only
my $shown = sms_conf();
$shown->{parameters} = [map { {name => $_->{name}, encode => $_->{encode}} } @{ $shown->{parameters} }];
is_deeply json_body($res), $shown, 'the PUT answers the parameters without their values';
is_deeply json_body(mf(GET => "/apps/$app/settings/smsConf", $token)), $shown, 'and so does GET';
is psql("SELECT count(*) FROM push_credential WHERE app_id = '$app' AND provider = 'sms' "
        . "AND (config::text LIKE '%p&ss=w+rd%' OR config::text LIKE '%tenant-1%')"), 0,
   'the values are not in the stored settings in the clear';
for my $host ('10.1.2.3', '169.254.169.254', 'localhost', 'gw.localhost', '2130706433', '0x7f.1', '[::1]',
              '[::ffff:127.0.0.1]', '192.168.1.1') {
    mf_err(put_sms(host => $host, port => 80), 400, 'FPWSE0005E', "an internal host ($host) is refused",
           qr/^The property host is not accepted: /);
}
mf_err(put_sms(host => '0x7f.1', port => $mock_port + 1), 400, 'FPWSE0005E', 'loopback on a port PushEgressAllow does not name',
       qr/host is not accepted/);
is put_sms(host => '2130706433')->code, 200, 'the address PushEgressAllow names, in any spelling';
for my $host ('evil.example/x?', 'user@gw.example', 'gw.example:81', 'gw example', '') {
    mf_err(put_sms(host => $host), 400, 'FPWSE0005E', "not a host name ('$host')", qr/property host is missing or invalid/);
}
mf_err(put_sms(programName => '/send?x=1'), 400, 'FPWSE0005E', 'programName with a query', qr/programName/);
mf_err(put_sms(method => 'PUT'), 400, 'FPWSE0005E', 'method is GET or POST', qr/method/);
mf_err(put_sms(https => 'yes'), 400, 'FPWSE0005E', 'https is a boolean', qr/https/);
mf_err(put_sms(parameters => [{name => 'k', value => 'a b', encode => JSON::PP::false()}]), 400, 'FPWSE0005E',
       'a value sent unencoded must be fit for a query', qr/parameters/);
mf_err(put_sms(parameters => [{value => 'x'}]), 400, 'FPWSE0005E', 'a parameter without a name', qr/parameters/);
mf_err(put_sms(color => 'red'), 400, 'FPWSE0006E', 'an unknown property');
is put_sms()->code, 200, 'the good settings again';

my $wh = mf(POST => "/apps/$app/webhooks", $token,
            {name => 'events', url => "$ENV{PUSH_MOCK_HTTP}$hook",
             eventTypes => 'onNotificationStatusChange,onNotificationFailure'});
is $wh->code, 201, 'a webhook on the mock' or diag $wh->as_string;

my %tok = (p1 => device('p1', phoneNumber => '+15550001'), p2 => device('p2', phoneNumber => '+15550002'),
           np => device('np'));

# --- notificationType 2: SMS only -------------------------------------------------------------
my $text = 'Tor: 2 & 3 = 5 + 1 ü';
my $id = send_msg({message => {alert => $text}, notificationType => 2, target => {deviceIds => ['p1', 'np']}});
my $s = settled($id);
is $s->{status}, 'done', 'type 2: done';
is summary($s), 'cancelled=0 expired=0 failed=0 filtered=1 invalidToken=0 pending=0 sent=1 targeted=2',
   'type 2: the device with a phone number sent, the one without filtered';
my @got = sms_for($text);
is scalar(@got), 1, 'the gateway got one SMS';
my $r = $got[0] || {};
is $r->{method}, 'GET', 'a GET';
is $r->{params}{to}, '+15550001', 'to: the phone number';
is_deeply [@{ $r->{params} }{'user', 'pass word', 'from'}], ['tenant-1', 'p&ss=w+rd', '+4930'],
          'the configured parameters, encoded where encode is true';
like $r->{path}, qr{^\Q$path\E\?user=tenant-1&pass%20word=p%26ss%3Dw%2Brd&from=%2B4930&to=%2B15550001&text=},
     'in their order, the phone number and the text last';
like $r->{path}, qr{&text=Tor%3A%202%20%26%203%20%3D%205%20%2B%201%20%C3%BC$}, 'the text percent-encoded as UTF-8';
is scalar(apns_for($text)), 0, 'type 2 sends no push';

# --- notificationType 3: push and SMS --------------------------------------------------------------
$id = send_msg({message => {alert => 'both'}, notificationType => 3, target => {deviceIds => ['p1', 'p2', 'np']}});
$s = settled($id);
is summary($s), 'cancelled=0 expired=0 failed=0 filtered=1 invalidToken=0 pending=0 sent=5 targeted=6',
   'type 3: three pushes and two SMS sent, the SMS of the device without a phone number filtered';
is join(',', sort map { $_->{params}{to} } sms_for('both')), '+15550001,+15550002', 'an SMS to each phone number';
my %push = map { $_->{key} => 1 } apns_for('both');
is_deeply \%push, {map { $tok{$_} => 1 } qw(p1 np p2)}, 'a push to every device, the one without a phone number too';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id' AND provider = 'sms'
          AND device_id = 'np' AND state = 'filtered'"), 1, 'the filtered SMS is on record';

$id = send_msg({message => {alert => 'push only'}, target => {deviceIds => ['p1']}});
is summary(settled($id)), 'cancelled=0 expired=0 failed=0 filtered=0 invalidToken=0 pending=0 sent=1 targeted=1',
   'type 1 stays push only';
is scalar(sms_for('push only')), 0, 'and sends no SMS';

# --- a form POST ----------------------------------------------------------------------------------
is put_sms(method => 'POST')->code, 200, 'smsConf with method POST';
sleep 11;   # the sender trusts the credential it read for 10 s
$id = send_msg({message => {alert => 'posted &='}, notificationType => 2, target => {deviceIds => ['p2']}});
is settled($id)->{summary}{sent}, 1, 'POST: sent';
($r) = sms_for('posted &=');
is $r && $r->{method}, 'POST', 'the gateway got a POST';
is $r && $r->{path}, $path, 'with nothing in the query';
is_deeply $r && $r->{form}, {user => 'tenant-1', 'pass word' => 'p&ss=w+rd', from => '+4930', to => '+15550002',
                             text => 'posted &='}, 'the parameters as a form';
is put_sms()->code, 200, 'back to GET';
sleep 11;

# --- the gateway's answers ------------------------------------------------------------------------
mock_script('sms', $path, {status => 500, reason => 'gateway-secret-500'});
$id = send_msg({message => {alert => 'flaky'}, notificationType => 2, target => {deviceIds => ['p1']}});
is settled($id)->{summary}{sent}, 1, '500, then 200: retried and sent';
is scalar(sms_for('flaky')), 2, 'two requests';

mock_script('sms', $path, {status => 400, reason => 'gateway-secret-400'});
$id = send_msg({message => {alert => 'refused'}, notificationType => 2, target => {deviceIds => ['p1']}});
$s = settled($id);
is $s->{summary}{failed}, 1, '400: failed';
sleep 0.5;
is scalar(sms_for('refused')), 1, 'and not retried';
is psql("SELECT error FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"), 'HTTP 400',
   'the reason is the status, not what the gateway said';
is psql("SELECT invalid_since IS NULL FROM push_device WHERE app_id = '$app' AND device_id = 'p1'"), 't',
   'a failed SMS leaves the device alone';
my $failed_id = $id;

mock_script('sms', $path, {status => 503, reason => 'busy', times => 50});
$id = send_msg({message => {alert => 'short-lived'}, notificationType => 2, target => {deviceIds => ['p2']},
                expiration => 2});
$s = settled($id, 10);
is $s->{status}, 'done', 'a gateway that stays down past the expiry: the message ends';
is $s->{summary}{expired}, 1, 'and the SMS counts as expired';
my $n = scalar sms_for('short-lived');
sleep 1;
is scalar(sms_for('short-lived')), $n, 'no attempt after the expiry';
mock_script('sms', $path, {status => 200, replace => JSON::PP::true()});

# --- webhook events name the SMS platform ------------------------------------------------------------
my @ev;
wait_for(15, sub {
    @ev = grep { ($_->{json}{type} // '') eq 'onNotificationFailure' && $_->{json}{entity}{messageId} eq $failed_id }
          @{ mock_requests('webhook', key => $hook) };
});
is_deeply $ev[0] && $ev[0]{json}{entity},
          {messageId => $failed_id, deviceIds => ['p1'], platform => 'S', msgStatus => 'failed', failureReason => 'HTTP 400'},
          'onNotificationFailure: platform S, the classified reason';
wait_for(15, sub {
    @ev = grep { ($_->{json}{type} // '') eq 'onNotificationFailure' && $_->{json}{entity}{messageId} eq $id }
          @{ mock_requests('webhook', key => $hook) };
});
is $ev[0] && "$ev[0]{json}{entity}{platform} $ev[0]{json}{entity}{msgStatus}", 'S expired',
   'onNotificationFailure for the expired SMS';
my ($done) = grep { ($_->{json}{type} // '') eq 'onNotificationStatusChange' && $_->{json}{entity}{msgStatus} eq 'done'
                    && $_->{json}{entity}{messageId} eq $failed_id } @{ mock_requests('webhook', key => $hook) };
is_deeply $done && $done->{json}{entity},
          {messageId => $failed_id, msgStatus => 'done', targeted => 1, sent => 0, failed => 1, invalidToken => 0,
           filtered => 0, expired => 0, cancelled => 0},
          'onNotificationStatusChange counts the SMS';
my $all = join "\n", map { $_->{body} // '' } @{ mock_requests('webhook', key => $hook) };
unlike $all, qr/gateway-secret/, "no event carries the gateway's answer";
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND error LIKE '%gateway-secret%'"), 0,
   "nor does any delivery's error";

# --- a gateway that became internal after it was stored: refused by the sender -------------------------
psql("UPDATE push_credential SET config = jsonb_set(config, '{host}', '\"10.9.8.7\"'), updated_at = now()
       WHERE app_id = '$app' AND provider = 'sms'");
sleep 11;
$id = send_msg({message => {alert => 'inside'}, notificationType => 2, target => {deviceIds => ['p1']}});
$s = settled($id);
is $s->{summary}{failed}, 1, 'an internal gateway address stored behind the API: failed';
is psql("SELECT error FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"), 'refused by the egress guard',
   'refused by the egress guard';

# --- no gateway configured -------------------------------------------------------------------------------
is mf(DELETE => "/apps/$app/settings/smsConf", $token)->code, 204, 'DELETE smsConf';
sleep 11;
$id = send_msg({message => {alert => 'nogw'}, notificationType => 2, target => {deviceIds => ['p1']}});
is settled($id)->{summary}{failed}, 1, 'without smsConf an SMS fails';
is psql("SELECT error FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"), 'no sms credentials', 'with a reason';

done_testing;
