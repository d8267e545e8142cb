# Credentials have lifetimes: the sender's connections belong to a credential version,
# and a superseded version (a settings change) or a deleted application gives back its
# libcurl handles and sockets. Descriptors stay flat: 30 settings changes, each followed
# by a push, and 10 applications created, pushed to and deleted, grow the sender's
# descriptors by at most 10.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_wait);
use PushSender qw(slurp wait_for apns_app live_senders httpd_pid);

my ($token) = oauth_token('*');
my $keys = $ENV{PUSH_TEST_KEYS};
mock_reset();

# the sender process of the test httpd
my $parent = httpd_pid();
my ($sender) = grep { (slurp("/proc/$_->{pid}/stat") =~ /^\d+ \(.*\) \S (\d+)/)[0] == $parent } live_senders();
ok $sender, "the test httpd's sender process" or BAIL_OUT('no sender');
my $pid = $sender->{pid};
sub fds { opendir(my $d, "/proc/$pid/fd") or return -1; my $n = grep { /^\d+$/ } readdir $d; $n }

sub settings {
    my ($app, $bundle) = @_;
    return mf(PUT => "/apps/$app/settings/apnsConf", $token,
              {keyId => 'MOCKKEY001', teamId => 'MOCKTEAM01', bundleId => $bundle,
               p8 => slurp("$keys/apns.p8"), isSandBox => JSON::PP::false()})->code;
}
sub push_one {
    my ($app, $dev, $tok, $alert) = @_;
    my $res = mf(POST => "/apps/$app/messages", $token, {message => {alert => $alert}, target => {deviceIds => [$dev]}});
    return 0 unless $res->code == 202;
    return scalar grep { ($_->{json}{aps}{alert}{body} // '') eq $alert }
        mock_wait(apns => 1, key => $tok, timeout => 15);
}

my $app = 'fds-' . random_hex(4);
apns_app($token, $app);
my $tok = random_hex(64);
is mf(POST => "/apps/$app/devices", $token, {deviceId => 'd1', token => $tok, platform => 'A'})->code, 201, 'a device';
ok push_one($app, 'd1', $tok, 'warm-up'), 'a first push (the connection is open)';
sleep 1;
my $base = fds();
ok $base > 0, "the sender holds $base descriptors";

my $ok = 0;
for my $i (1 .. 30) {
    next unless settings($app, "com.example.push") == 200;
    mock_reset();
    $ok += push_one($app, 'd1', $tok, "after change $i") ? 1 : 0;
}
is $ok, 30, '30 settings changes, each followed by a push that arrives';

for my $i (1 .. 10) {
    my $a = "fds-gone-$i-" . random_hex(3);
    apns_app($token, $a);
    my $t = random_hex(64);
    mf(POST => "/apps/$a/devices", $token, {deviceId => 'g', token => $t, platform => 'A'});
    push_one($a, 'g', $t, "gone $i");
    mf(DELETE => "/apps/$a", $token);
}
my $after;
wait_for(25, sub { ($after = fds()) <= $base + 10 }, 0.5);
ok $after <= $base + 10, "descriptors after 30 changes and 10 deleted applications: $after (from $base, at most +10)";
done_testing;
