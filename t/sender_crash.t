# The sender process killed with SIGKILL in the middle of a 20,000-device broadcast:
# httpd forks another one (PUSH0651), the leases of what the dead one held run out, and
# the broadcast completes: every device gets the message, the summary adds up. Delivery
# is at least once: what was in flight at the kill may reach a device twice, but never
# more than the in-flight window (PushSenderThreads 2 x PushSenderBatch 200).
use strict;
use warnings;
use Test::More;
use List::Util qw(max sum0);
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_stats);
use PushSender qw(wait_for apns_app bulk_devices device_tokens send_broadcast summary summary_text
                  senders live_senders pid_alive apns_tally);

my $N = 20000;
my $WINDOW = 2 * 200;   # PushSenderThreads x PushSenderBatch (t/conf/extra.conf.in)
my ($token) = oauth_token('*');
my $app = 'crash-' . random_hex(6);
my $old;

mock_reset();
apns_app($token, $app);
my $t = time;
is bulk_devices($app, $N), $N, "$N APNs devices, inserted with SQL";
diag sprintf 'devices inserted in %.1f s', time - $t;
my $tokens = device_tokens($app);
is scalar(keys %$tokens), $N, 'each with its own token';

my @live = @{ wait_for(20, sub { my @l = live_senders(); @l ? \@l : undef }) || [] };
is scalar(@live), 1, 'one sender is alive (its push_sender row, its pid)' or diag explain [senders()];
$old = $live[0];

# what /push-metrics says of the sender (restarts counted by the httpd parent)
sub metric {
    my ($name) = @_;
    my ($v) = request(GET => '/push-metrics')->content =~ /^\Q$name\E (\S+)$/m;
    return $v;
}
my $restarts_before = metric('push_sender_restarts_total');
ok defined $restarts_before, "push_sender_restarts_total before the kill: " . ($restarts_before // 'none');

# every APNs answer waits a little, so that the broadcast lasts several seconds
mock_script('apns', '*', {delayMs => 100, times => -1});
my $log = error_log_size();
my $t0 = time;
my $id = send_broadcast($token, $app, 'crash ' . random_hex(4));

# the kill: once the mock has seen a good part of the broadcast, but not all of it
my $seen = wait_for(90, sub { my $n = mock_stats()->{apns}{requests}; $n >= 5000 ? $n : 0 }, 0.02);
my $at_kill = summary($app, $id);
ok $seen && $seen < $N && $at_kill->{state} ne 'done',
   'the broadcast is under way: the mock has seen some, not all' or diag "seen $seen; " . summary_text($at_kill);
ok kill('KILL', $old->{pid}), "kill -9 the sender (pid $old->{pid})";
my $killed = time;
diag sprintf 'killed %.1f s after the send, the mock had seen %d; %s', $killed - $t0, $seen // 0,
     summary_text($at_kill);

my $new = wait_for(30, sub { (grep { $_->{pid} != $old->{pid} } live_senders())[0] });
ok $new, 'httpd forked another sender (a new push_sender row with a live pid)' or diag explain [senders()];
diag sprintf 'new sender pid %d, %.1f s after the kill', $new->{pid}, time - $killed if $new;
ok !pid_alive($old->{pid}), 'the killed sender is gone (reaped)';
is metric('push_sender_restarts_total'), ($restarts_before // 0) + 1, 'the metrics count the restart';
ok wait_for(15, sub { metric('push_sender_up') eq '1' }), '... and the new sender is up';
like request(GET => '/server-status?auto')->content, qr/^PushSenderPid: $new->{pid}$/m,
     'the status page shows the new pid' if $new;
like error_log_since($log), qr/PUSH0651: the sender process \(pid $old->{pid}\) is gone; starting another/,
     'the error log says so: PUSH0651';
ok wait_for(10, sub { error_log_since($log) =~ /PUSH0605: sender \S+:$new->{pid}:\S+ started/ }),
   'and the new sender started (PUSH0605)' if $new;

# the broadcast completes
my $s = wait_for(180, sub { my $x = summary($app, $id); $x->{state} eq 'done' ? $x : undef }, 0.5)
        || summary($app, $id);
diag sprintf 'done %.1f s after the send', time - $t0;
is $s->{state}, 'done', 'the broadcast is done';
is summary_text($s), "state=done targeted=$N sent=$N failed=0 invalid=0 filtered=0 expired=0 cancelled=0 pending=0",
   'the summary adds up: every device targeted and sent, nothing pending';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"), 0,
   'the outbox holds nothing of it any more: every delivery was sent';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id' AND lease_owner IS NOT NULL"),
   0, 'no delivery is left leased';

my $tally = apns_tally(keys => $tokens);
my @missing = grep { !$tally->{key}{$_} } keys %$tokens;
is scalar(@missing), 0, 'every device received the message at least once' or diag "missing: @missing[0 .. 4]";
my @twice = grep { $tally->{key}{$_} > 1 } keys %{ $tally->{key} };
my $extra = sum0(map { $tally->{key}{$_} - 1 } @twice);
diag sprintf '%d requests for %d devices: %d devices got it twice or more (%d extra requests), at most %d times',
     $tally->{count}, scalar(keys %{ $tally->{key} }), scalar(@twice), $extra, max(0, values %{ $tally->{key} });
ok $extra <= $WINDOW, "duplicates stay within the in-flight window ($extra <= $WINDOW)";
ok max(0, values %{ $tally->{key} }) <= 2, 'no device got it more than twice';
is_deeply $tally->{status}, {200 => $tally->{count}}, 'the mock answered every request 200';
is scalar(grep { $_ ne '-' } keys %{ $tally->{auth} }) >= 2 ? 1 : 0, 1,
   'requests came with the provider tokens of two sender processes' or diag explain $tally->{auth};

# leave things as they were: no mock script, no stale row of the killed sender, no 20,000 devices
mock_reset();
psql("DELETE FROM push_sender WHERE owner = '$old->{owner}'");
psql("DELETE FROM push_application WHERE app_id = '$app'") if Test::More->builder->is_passing;
done_testing;
