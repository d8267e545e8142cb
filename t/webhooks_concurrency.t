# Webhook events go out concurrently and per webhook: while one application's receivers
# hang (accept, never answer), another application's event still arrives within
# seconds; and a retry goes only to the webhook that failed (A answers 500 then 200, B
# 200: A gets the event twice, B once).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait);
use PushSender qw(wait_for);

my ($token) = oauth_token('*');
my $hook = $ENV{PUSH_MOCK_HTTP};
mock_reset();

sub app_with_hooks {
    my ($app, @hooks) = @_;
    is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, "application $app";
    for my $h (@hooks) {
        is mf(POST => "/apps/$app/webhooks", $token, {name => $h, url => "$hook/hook/$app-$h", eventTypes => 'onDeviceRegister'})->code,
           201, "its webhook $h";
    }
}
sub register {
    my ($app, $device) = @_;
    my $res = mf(POST => "/apps/$app/devices", $token, {deviceId => $device, token => random_hex(64), platform => 'A'});
    die "device $device of $app: " . $res->as_string unless $res->code =~ /^20[01]$/;
}

# --- head of line: a hanging application does not hold up another ----------------------------------
my $slow = 'hang-' . random_hex(6);
my $fast = 'quick-' . random_hex(6);
app_with_hooks($slow, qw(a b));
app_with_hooks($fast, 'x');
mock_script('webhook', "/hook/$slow-$_", {delayMs => 60000, times => -1}) for qw(a b);
register($slow, "s$_") for 1 .. 12;   # 24 POSTs that hang, more than the sender runs at once
ok wait_for(10, sub { @{ mock_requests('webhook', key => "/hook/$slow-a") } >= 2 }), 'the hanging receivers are being POSTed to';
my $t0 = time;
register($fast, 'f1');
my @got = mock_wait('webhook', 1, key => "/hook/$fast-x", timeout => 10);
my $took = time - $t0;
is scalar(@got), 1, "the other application's event arrived";
diag sprintf 'it took %.2f s', $took;
ok $took < 3, 'within 3 s, while the first application\'s receivers hang';
is_deeply [map { $_->{status} } @got], [200], 'answered 200';
my $pending = psql("SELECT count(*) FROM push_event_hook WHERE app_id = '$slow'");
ok $pending > 0, "the hanging application's POSTs are still pending ($pending)";
# the hanging application goes: its rows with it, and what is under way finishes on nothing
psql("DELETE FROM push_application WHERE app_id = '$slow'");

# --- a retry goes to the failing webhook only -------------------------------------------------------------
my $rapp = 'retry1-' . random_hex(6);
app_with_hooks($rapp, qw(a b));
mock_script('webhook', "/hook/$rapp-a", {status => 500});
register($rapp, 'r1');
my $eid = psql("SELECT event_id FROM push_event WHERE app_id = '$rapp'");
my @a = mock_wait('webhook', 2, key => "/hook/$rapp-a", timeout => 15);
is_deeply [map { $_->{status} } @a], [500, 200], 'A answered 500, then 200 to the retry';
ok wait_for(10, sub { psql("SELECT state FROM push_event WHERE event_id = $eid") eq 'done' }), 'the event ends done';
sleep 1;   # anything more would have come by now
my @b = @{ mock_requests('webhook', key => "/hook/$rapp-b") };
is scalar(@b), 1, 'B got the event exactly once';
is scalar(@{ mock_requests('webhook', key => "/hook/$rapp-a") }), 2, 'A exactly twice';
is_deeply [map { $_->{headers}{'x-push-event-id'} } @a, @b], [($eid) x 3], 'always with the same X-Push-Event-Id';
is psql("SELECT attempts FROM push_event WHERE event_id = $eid"), 2, 'the event counts the most attempts a webhook took: 2';
is psql("SELECT count(*) FROM push_event_hook WHERE event_id = $eid"), 0, 'no row of it is left (sent rows go)';

mock_reset();
psql("DELETE FROM push_application WHERE app_id IN ('$fast', '$rapp')") if Test::More->builder->is_passing;
done_testing;
