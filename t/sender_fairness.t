# A tenant whose endpoints never answer takes none of another tenant's time. Tenant B's
# Web Push endpoints accept every request and never answer (each request ends only at
# PushSenderTimeout, 5 s here, and is retried); B sends a broadcast larger than both
# workers' batches (2 x 200 here) and a stream of one-device messages, more than the workers have units.
# Tenant A's one-device message, its broadcast, and a retry of A's still arrive within a
# second or two, while B's requests hang and are retried; and B's deliveries are not lost
# (they end when B's endpoints answer again). And a tenant's long broadcast does not hold up
# another tenant's message either.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait mock_webpush_keys);
use PushSender qw(wait_for apns_app bulk_devices send_broadcast summary summary_text);

my ($token) = oauth_token('*');
mock_reset();
my $keys = mock_webpush_keys();

sub send_to {
    my ($app, $alert, @devs) = @_;
    my $res = mf(POST => "/apps/$app/messages", $token,
                 {message => {alert => $alert}, @devs ? (target => {deviceIds => \@devs}) : ()});
    die "send: " . $res->as_string unless $res->code == 202;
    return json_body($res)->{messageId};
}
sub arrival {
    my ($kind, $key, $t0, $timeout) = @_;
    my @got = mock_wait($kind => 1, key => $key, timeout => $timeout);
    return @got ? time - $t0 : undef;
}

# --- tenant B: 600 browsers whose push service hangs -----------------------------------------
my $b = 'fair-slow-' . random_hex(4);
is mf(POST => '/apps', $token, {applicationId => $b})->code, 201, 'tenant B';
is mf(PUT => "/apps/$b/settings/webpushConf", $token, {subject => 'mailto:ops@example.net'})->code, 200,
   "B's VAPID key";
my $sub = sub {
    JSON::PP->new->canonical->encode({endpoint => "$keys->{endpoint}$_[0]", expirationTime => undef,
                                      keys => {p256dh => $keys->{p256dh}, auth => $keys->{auth}}});
};
my $first = mf(POST => "/apps/$b/devices", $token, {deviceId => 'b-0000', token => $sub->('hang-0000'), platform => 'B'});
is $first->code, 201, "B's first browser registers";
my $stored = psql("SELECT token FROM push_device WHERE app_id = '$b' AND device_id = 'b-0000'");
my $n_b = 600;
psql("INSERT INTO push_device (app_id, device_id, platform, token, source_family)
      SELECT app_id, 'b-' || lpad(i::text, 4, '0'), platform,
             replace(token, 'hang-0000', 'hang-' || lpad(i::text, 4, '0')), source_family
        FROM push_device, generate_series(1, $n_b - 1) AS i
       WHERE app_id = '$b' AND device_id = 'b-0000'");
is psql("SELECT count(*) FROM push_device WHERE app_id = '$b'"), $n_b, "B has $n_b browsers";
mock_script('webpush', '*', {delayMs => 600000, times => -1});

# --- tenant A: APNs, one device and a broadcast audience --------------------------------------
my $a = 'fair-ok-' . random_hex(4);
apns_app($token, $a);
bulk_devices($a, 300);
my $one = psql("SELECT token FROM push_device WHERE app_id = '$a' AND device_id = 'dev-000001'");

# B: a broadcast to all 600 (more than the 2 x 200 deliveries two workers hold here), then 200
# one-device messages (more than the units of two workers had, 2 x 64)
my $t0 = time;
my $bcast = send_broadcast($token, $b, 'hangs');
send_to($b, "hangs $_", sprintf('b-%04d', $_)) for 1 .. 200;
ok wait_for(15, sub { @{ mock_requests('webpush') } >= 500 }),
   sprintf("B's requests are out and hanging (%d of them)", scalar @{ mock_requests('webpush') });

# and B keeps sending: a one-device message every 50 ms for as long as A is measured
my $pid = fork // die "fork: $!";
if (!$pid) {
    my $i = 200;
    while (1) {
        $i = $i % $n_b + 1;
        eval { send_to($b, "keeps hanging $i", sprintf('b-%04d', $i)) };
        sleep 0.05;
    }
}
END { kill 'TERM', $pid if $pid }

# A, while B's requests hang
my $t = time;
my $m1 = send_to($a, 'not held up', 'dev-000001');
my $dt = arrival(apns => $one, $t, 20);
ok defined $dt && $dt < 2, sprintf("A's one-device message arrives in %.2f s (< 2 s) beside B's hanging requests",
                                   $dt // -1);
$t = time;
my $m2 = send_broadcast($token, $a, 'broadcast beside B');
my $done = wait_for(20, sub { my $s = summary($a, $m2); ($s->{sent} // 0) == 300 && $s->{state} eq 'done' });
ok $done && time - $t < 3, sprintf("A's broadcast to 300 devices is done in %.2f s (< 3 s)", time - $t)
    or diag summary_text(summary($a, $m2));

# a retry of A's: the first attempt is refused with 503, the retry comes from the outbox
my $two = random_hex(64);
is mf(POST => "/apps/$a/devices", $token, {deviceId => 'r1', token => $two, platform => 'A'})->code, 201,
   "A's device r1";
mock_script('apns', $two, {status => 503, reason => 'ServiceUnavailable'});
$t = time;
send_to($a, 'retried', 'r1');
ok wait_for(20, sub { grep { ($_->{status} // 0) == 200 } @{ mock_requests('apns', key => $two) } }),
   "A's retried delivery is sent";
ok time - $t < 8, sprintf("... %.2f s after the message (< 8 s: the backoff and a claim a second, not B's timeouts)", time - $t);
is scalar(@{ mock_requests('apns', key => $two) }), 2, '... at its second attempt';

# once B's hanging requests have timed out and are retried, A is still not held up
ok wait_for(30, sub { psql("SELECT count(*) FROM push_delivery WHERE app_id = '$b' AND attempts >= 2") > 0 }),
   "B's deliveries time out and are retried";
for my $k (1 .. 3) {
    my $tok = random_hex(64);
    mf(POST => "/apps/$a/devices", $token, {deviceId => "late$k", token => $tok, platform => 'A'});
    $t = time;
    send_to($a, "during the retries $k", "late$k");
    $dt = arrival(apns => $tok, $t, 20);
    ok defined $dt && $dt < 2, sprintf("A's message %d during B's retries arrives in %.2f s (< 2 s)", $k, $dt // -1);
    sleep 2;
}
kill 'TERM', $pid;
waitpid $pid, 0;
my $sent_b = psql("SELECT count(*) FROM push_message WHERE app_id = '$b'");
ok $sent_b > 250, "B sent $sent_b messages meanwhile";

# B's endpoints answer again: nothing of B's was lost
PushMock::_control(POST => 'script', undef, {kind => 'webpush', key => '*', replace => JSON::PP::true(),
                                              responses => [{status => 201}]});
ok wait_for(90, sub { my $s = summary($b, $bcast); $s->{state} eq 'done' }),
   "B's broadcast ends once its endpoints answer" or diag summary_text(summary($b, $bcast));
my $s = summary($b, $bcast);
is $s->{sent} + $s->{failed}, $n_b, "each of B's $n_b broadcast deliveries is sent or failed (attempts spent)"
    or diag summary_text($s);
ok $s->{sent} > 0, "... and those with attempts left are sent ($s->{sent})";
ok wait_for(90, sub { psql("SELECT count(*) FROM push_message WHERE app_id = '$b' AND state <> 'done'") == 0 }),
   "B's $sent_b messages all end" or diag psql("SELECT state, count(*) FROM push_message WHERE app_id = '$b' GROUP BY 1");

# --- a long broadcast of one tenant does not hold up another's message -----------------------
my $big = 'fair-big-' . random_hex(4);
apns_app($token, $big);
my $n_big = 40000;
bulk_devices($big, $n_big);
my $bb = send_broadcast($token, $big, 'a long broadcast');
ok wait_for(20, sub { (summary($big, $bb)->{sent} // 0) > 2000 }), 'a long broadcast of another tenant is under way';
my $tok = random_hex(64);
is mf(POST => "/apps/$a/devices", $token, {deviceId => 'late4', token => $tok, platform => 'A'})->code, 201,
   "A's device late4";
$t = time;
send_to($a, 'beside a long broadcast', 'late4');
$dt = arrival(apns => $tok, $t, 30);
my $left = $n_big - (summary($big, $bb)->{sent} // 0);
ok defined $dt && $dt < 1, sprintf("A's message arrives in %.2f s (< 1 s) while the broadcast goes on", $dt // -1);
ok $left > 0, "... with $left of the broadcast's deliveries still to go";
ok wait_for(120, sub { summary($big, $bb)->{state} eq 'done' }), 'the long broadcast ends';
is summary($big, $bb)->{sent}, $n_big, "... all $n_big sent";

is psql("SELECT count(*) FROM push_message WHERE app_id = '$a' AND state = 'done'"), 7, "A's 7 messages are done";
done_testing;
