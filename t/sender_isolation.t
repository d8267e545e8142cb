# No tenant waits on another, and nothing a provider answers reaches a tenant: one
# application's token endpoint hangs (the FCM access token is fetched on the sender's
# credential thread, never in the delivery loop), and another application's APNs and FCM
# pushes still arrive within 3 s; the hanging fetch is not repeated for every waiting
# delivery (the failure is remembered with backoff) and those deliveries spend no
# attempts; a token endpoint's or APNs' answer text never reaches the delivery record,
# the message, or the failure webhook event; a token_uri other than Google's is refused.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait);
use PushSender qw(slurp wait_for apns_app);
use SecondHttpd;

my ($token) = oauth_token('*');
my $keys = $ENV{PUSH_TEST_KEYS};
my $account = JSON::PP->new->decode(slurp("$keys/fcm-account.json"));
mock_reset();

sub app_with_fcm {
    my ($app, $email, %extra) = @_;
    is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, "application $app";
    my $res = mf(PUT => "/apps/$app/settings/gcmConf", $token,
                 {serviceAccount => {%$account, client_email => $email, %extra}});
    is $res->code, 200, "FCM settings of $app" or diag $res->as_string;
}
sub device {
    my ($app, $id, $platform, $tok) = @_;
    my $res = mf(POST => "/apps/$app/devices", $token, {deviceId => $id, token => $tok, platform => $platform});
    die "device $id: " . $res->as_string unless $res->code =~ /^20[01]$/;
}
sub send_to {
    my ($app, $alert, @devs) = @_;
    my $res = mf(POST => "/apps/$app/messages", $token, {message => {alert => $alert}, target => {deviceIds => \@devs}});
    die "send: " . $res->as_string unless $res->code == 202;
    return json_body($res)->{messageId};
}
sub arrival {
    my ($kind, $key, $timeout) = @_;
    my $t0 = time;
    my @got = mock_wait($kind => 1, key => $key, timeout => $timeout);
    return @got ? time - $t0 : undef;
}

# --- a hanging token endpoint --------------------------------------------------------
my $slow = 'iso-slow-' . random_hex(4);
my $slow_email = "hang-$slow\@example.iam.gserviceaccount.com";
mock_script('fcm-token', $slow_email, {delayMs => 120000, times => -1});
app_with_fcm($slow, $slow_email);
my @slow_devs = map { "s$_" } 1 .. 20;
device($slow, $_, 'G', "fcm-$_-" . random_hex(16)) for @slow_devs;
my $slow_msg = send_to($slow, 'stuck behind a hanging token endpoint', @slow_devs);
ok wait_for(10, sub { @{ mock_requests('fcm-token', key => $slow_email) } >= 1 }),
   'the slow application\'s token fetch has begun (and hangs)';

my $other = 'iso-ok-' . random_hex(4);
apns_app($token, $other);
my $apns_tok = random_hex(64);
device($other, 'a1', 'A', $apns_tok);
my $t = time;
send_to($other, 'not held up', 'a1');
my $dt = arrival(apns => $apns_tok, 10);
ok defined $dt && $dt < 3, sprintf('another application\'s APNs push arrives in %.2f s (< 3 s)', $dt // -1);

my $fast = 'iso-fcm-' . random_hex(4);
app_with_fcm($fast, "ok-$fast\@example.iam.gserviceaccount.com");
my $fcm_tok = 'fcm-fast-' . random_hex(16);
device($fast, 'g1', 'G', $fcm_tok);
send_to($fast, 'own token endpoint answers', 'g1');
$dt = arrival(fcm => $fcm_tok, 10);
ok defined $dt && $dt < 3,
   sprintf('another application\'s FCM push (its own token fetched meanwhile) arrives in %.2f s (< 3 s)', $dt // -1);

sleep 5;
my $fetches = @{ mock_requests('fcm-token', key => $slow_email) };
ok $fetches <= 2, "20 waiting deliveries, $fetches token requests in 5 s: the failure is remembered";
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$slow' AND state = 'pending'"), 20,
   'the slow application\'s deliveries wait';
ok psql("SELECT max(attempts) FROM push_delivery WHERE app_id = '$slow'") <= 1,
   'without spending attempts (at most the one of a claim under way)';
is scalar(grep { $_->{key} =~ /^fcm-s\d+-/ } @{ mock_requests('fcm') }), 0, 'and nothing went to FCM without a token';

# the endpoint recovers: the waiting deliveries go out
PushMock::_control(POST => 'script', undef, {kind => 'fcm-token', key => $slow_email, replace => JSON::PP::true(),
                                              responses => [{status => 200}]});
ok wait_for(40, sub { psql("SELECT count(*) FROM push_delivery WHERE app_id = '$slow'") == 0 }),
   'once the token endpoint answers, every waiting delivery is sent';
my $s = json_body(mf(GET => "/apps/$slow/messages/$slow_msg", $token));
is $s->{summary}{sent}, 20, 'all 20 sent' or diag explain $s;

# --- answers stay inside ---------------------------------------------------------------
my $secret = 'INTERNAL-ANSWER-' . random_hex(6);
my $leak = 'iso-leak-' . random_hex(4);
my $leak_email = "refused-$leak\@example.iam.gserviceaccount.com";
mock_script('fcm-token', $leak_email, {status => 400, reason => 'invalid_grant', message => $secret,
                                       body => "<html>$secret</html>", times => -1});
app_with_fcm($leak, $leak_email);
is mf(POST => "/apps/$leak/webhooks", $token,
      {name => 'fail', url => PushMock::mock_url('http') . "/hook/$leak", eventTypes => 'onNotificationFailure'})->code,
   201, 'a failure webhook';
device($leak, 'l1', 'G', 'fcm-leak-' . random_hex(16));
my $leak_msg = send_to($leak, 'refused', 'l1');
my $err = wait_for(20, sub { psql("SELECT error FROM push_delivery WHERE app_id = '$leak' AND state = 'failed'") });
like $err, qr/refused the credentials \(HTTP 400\)/, "the delivery's error is our word: $err";
unlike $err, qr/\Q$secret\E/, 'not the answer';
my $body = mf(GET => "/apps/$leak/messages/$leak_msg", $token)->decoded_content;
unlike $body, qr/\Q$secret\E/, 'the message GET carries no answer text';
my @ev = mock_wait(webhook => 1, key => "/hook/$leak", timeout => 20);
ok @ev, 'the failure event arrives';
unlike join('', map { $_->{body} // '' } @ev), qr/\Q$secret\E/, 'the failure event carries no answer text';
like join('', map { $_->{body} // '' } @ev), qr/refused the credentials/, '... but the classified reason';
like psql("SELECT paused_reason FROM push_credential WHERE app_id = '$leak'"), qr/refused the credentials/,
     'the credential is paused until its settings change';
unlike slurp("$ENV{PUSH_TEST_TOP}/t/logs/error_log"), qr/\Q$secret\E/, 'nor does the log';

# an APNs answer whose reason is not one of Apple's words is recorded as the status
my $odd = random_hex(64);
device($other, 'a2', 'A', $odd);
mock_script('apns', $odd, {status => 400, reason => "<b>$secret</b>"});
send_to($other, 'odd answer', 'a2');
$err = wait_for(20, sub { psql("SELECT error FROM push_delivery WHERE app_id = '$other' AND device_id = 'a2'") });
is $err, 'HTTP 400', 'an APNs reason that is not an identifier is stored as "HTTP 400"';

# --- token_uri ---------------------------------------------------------------------------
# Here PushProviderEndpoint fcm-token names the (trusted) mock, so any token_uri is kept
# and never used; a server without it takes Google's token endpoint only.
my $node = SecondHttpd->new(name => 'googleonly',
    keep => qr/^(DBD\w+|PushSecretKey|PushOAuth\w+|PushProviderCA)\s/,
    lines => ["LoadModule authn_core_module \"$ENV{PUSH_TEST_MODDIR}/mod_authn_core.so\"",
              "LoadModule authz_core_module \"$ENV{PUSH_TEST_MODDIR}/mod_authz_core.so\"",
              'PushSender Off', '<Location /imfpush/v1>', '    SetHandler push-mobilefirst', '</Location>']);
ok $node->start, 'a node without PushProviderEndpoint fcm-token' or diag $node->{out};
my $ua = LWP::UserAgent->new(timeout => 10);
my $uapp = 'iso-uri-' . random_hex(4);
is mf(POST => '/apps', $token, {applicationId => $uapp})->code, 201, 'an application for token_uri';
for my $uri ('http://127.0.0.1:5432/token', 'https://oauth2.googleapis.com.evil.example/token',
             'http://169.254.169.254/computeMetadata/v1/') {
    my $res = $ua->request(HTTP::Request->new(PUT => $node->url("/imfpush/v1/apps/$uapp/settings/gcmConf"),
        ['Authorization' => "Bearer $token", 'Content-Type' => 'application/json'],
        JSON::PP->new->encode({serviceAccount => {%$account, token_uri => $uri}})));
    is $res->code, 400, "token_uri $uri: 400";
    like $res->decoded_content, qr/token_uri/, '... naming token_uri';
}
my $res = $ua->request(HTTP::Request->new(PUT => $node->url("/imfpush/v1/apps/$uapp/settings/gcmConf"),
    ['Authorization' => "Bearer $token", 'Content-Type' => 'application/json'],
    JSON::PP->new->encode({serviceAccount => {%$account, token_uri => 'https://oauth2.googleapis.com/token'}})));
is $res->code, 200, "Google's token_uri is accepted" or diag $res->as_string;
$node->stop;
done_testing;
