# A graceful restart of httpd (SIGUSR1 to the parent) in the middle of a broadcast: the
# sender of the old configuration stops in order (SIGTERM: it finishes its batches, writes
# their outcomes and removes its push_sender row), the new configuration forks a new one,
# and the broadcast completes: every device served once, the summary adding up. Runs
# late (zz_): it restarts the server.
use strict;
use warnings;
use Test::More;
use List::Util qw(max sum0);
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_stats);
use PushSender qw(wait_for apns_app bulk_devices device_tokens send_broadcast summary summary_text
                  senders live_senders httpd_pid pid_alive apns_tally);

my $N = 5000;
my ($token) = oauth_token('*');
my $app = 'grace-' . random_hex(6);

mock_reset();
apns_app($token, $app);
is bulk_devices($app, $N), $N, "$N APNs devices";
my $tokens = device_tokens($app);

my $parent = httpd_pid();
ok pid_alive($parent), "the httpd parent (pid $parent)";
my @live = @{ wait_for(20, sub { my @l = live_senders(); @l ? \@l : undef }) || [] };
is scalar(@live), 1, 'one sender is alive' or diag explain [senders()];
my $old = $live[0] || {pid => 0, owner => ''};
sub ppid_of {
    my $pid = shift;
    return undef unless $pid && -r "/proc/$pid/stat";
    my ($pp) = PushSender::slurp("/proc/$pid/stat") =~ /^\d+ \(.*\) \S+ (\d+)/;
    return $pp;
}
my $ppid = ppid_of($old->{pid});
is $ppid, $parent, 'a child of the httpd parent';

mock_script('apns', '*', {delayMs => 200, times => -1});
my $log = error_log_size();
my $t0 = time;
my $id = send_broadcast($token, $app, 'graceful ' . random_hex(4));
my $seen = wait_for(60, sub { my $n = mock_stats()->{apns}{requests}; $n >= 1000 ? $n : 0 }, 0.02);
my $at = summary($app, $id);
ok $seen && $seen < $N && $at->{state} ne 'done', 'the broadcast is under way'
   or diag "seen $seen; " . summary_text($at);
ok kill('USR1', $parent), 'graceful restart: SIGUSR1 to the httpd parent';
my $restarted = time;
diag sprintf 'restart %.1f s after the send, the mock had seen %d; %s', $restarted - $t0, $seen // 0, summary_text($at);

# who holds leases of the broadcast's deliveries from now on: the chunks of the audience under
# way (push_chunk.owner) and deliveries claimed from the outbox (lease_owner), only in flight
my %held;
sub sample_leases {
    for (split /\n/, psql("SELECT lease_owner, count(*) FROM push_delivery WHERE app_id = '$app'
                            AND message_id = '$id' AND lease_owner IS NOT NULL GROUP BY 1
                          UNION ALL
                          SELECT owner, sum(size) FROM push_chunk WHERE app_id = '$app'
                            AND message_id = '$id' AND owner IS NOT NULL GROUP BY 1")) {
        my ($owner, $n) = split /\|/;
        $held{$owner} = $n if $n > ($held{$owner} // 0);
    }
}
my $new = wait_for(30, sub { sample_leases(); (grep { $_->{pid} != $old->{pid} } live_senders())[0] }, 0.02);
ok $new, 'a new sender runs (a new push_sender row, a live pid)' or diag explain [senders()];
diag sprintf 'new sender pid %d, %.1f s after the restart', $new->{pid}, time - $restarted if $new;
ok wait_for(10, sub { !pid_alive($old->{pid}) }), 'the old sender is gone';
ok !grep({ $_->{owner} eq $old->{owner} } senders()), 'and removed its push_sender row on the way out';
is httpd_pid(), $parent, 'the same httpd parent';
is ppid_of($new && $new->{pid}), $parent, 'the new sender is its child too';
my $since = error_log_since($log);
like $since, qr/PUSH0606: sender \Q$old->{owner}\E stopped/, 'the old sender stopped in order (PUSH0606)';
like $since, qr/PUSH0605: sender \S+:$new->{pid}:\S+ started/, 'the new one started (PUSH0605)' if $new;
unlike $since, qr/PUSH0651/, 'the stop of the old sender was not taken for a crash (no PUSH0651)';
is scalar(() = $since =~ /PUSH0605: sender/g), 1, 'exactly one sender started';
is request(GET => '/imfpush/v1/health/status')->code, 200, 'httpd answers after the restart';

my $s = wait_for(120, sub {
    sample_leases();
    my $x = summary($app, $id);
    $x->{state} eq 'done' ? $x : undef }, 0.02) || summary($app, $id);
diag sprintf 'done %.1f s after the send', time - $t0;
is summary_text($s), "state=done targeted=$N sent=$N failed=0 invalid=0 filtered=0 expired=0 cancelled=0 pending=0",
   'the broadcast completes: the summary adds up';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"), 0,
   "all $N deliveries sent: none left in the outbox";

my $tally = apns_tally(keys => $tokens);
my @missing = grep { !$tally->{key}{$_} } keys %$tokens;
is scalar(@missing), 0, 'every device received the message';
my @twice = grep { $tally->{key}{$_} > 1 } keys %{ $tally->{key} };
diag sprintf '%d requests for %d devices, %d devices more than once', $tally->{count},
     scalar(keys %{ $tally->{key} }), scalar(@twice);
is scalar(@twice), 0, 'none twice: the old sender wrote the outcomes of what it had sent before it stopped';
ok $new && $held{$new->{owner}}, 'the new sender delivered the rest' or diag explain \%held;

# A graceful restart just after a slow provider (4.2 s per answer, inside PushSenderTimeout)
# got the requests: the old sender is not killed after a grace period (it was, after 3 s);
# it ends what it has under way and writes the outcomes while the new one starts. Nothing
# is sent twice.
{
    my $n = 600;
    my $slow = 'grace-slow-' . random_hex(6);
    apns_app($token, $slow);
    is bulk_devices($slow, $n), $n, "$n more APNs devices";
    my $keys = device_tokens($slow);
    mock_reset();
    mock_script('apns', '*', {delayMs => 4200, times => -1});
    my @before = live_senders();
    my $old2 = $before[0] || {pid => 0, owner => ''};
    my $id2 = send_broadcast($token, $slow, 'slow graceful ' . random_hex(4));
    ok wait_for(30, sub { mock_stats()->{apns}{requests} >= 1 || psql("SELECT count(*) FROM push_chunk
        WHERE app_id = '$slow' AND owner IS NOT NULL") > 0 }, 0.05), 'its requests are under way';
    my $t1 = time;
    ok kill('USR1', $parent), 'graceful restart while the provider takes 4.2 s to answer';
    ok wait_for(30, sub { (grep { $_->{pid} != $old2->{pid} } live_senders())[0] }, 0.1), 'a new sender runs';
    ok wait_for(30, sub { !pid_alive($old2->{pid}) }, 0.1), 'the old one ends by itself';
    diag sprintf 'the old sender ended %.1f s after the restart', time - $t1;
    my $s2 = wait_for(120, sub { my $x = summary($slow, $id2); $x->{state} eq 'done' ? $x : undef }, 0.2)
             || summary($slow, $id2);
    is summary_text($s2), "state=done targeted=$n sent=$n failed=0 invalid=0 filtered=0 expired=0 cancelled=0 pending=0",
       'the broadcast completes';
    my $t2 = apns_tally(keys => $keys);
    my @again = grep { $t2->{key}{$_} > 1 } keys %{ $t2->{key} };
    is scalar(@again), 0, 'none twice: the old sender was let finish' or diag "$t2->{count} requests for $n devices";
    psql("DELETE FROM push_application WHERE app_id = '$slow'") if Test::More->builder->is_passing;
}

mock_reset();
psql("DELETE FROM push_application WHERE app_id = '$app'") if Test::More->builder->is_passing;
done_testing;
