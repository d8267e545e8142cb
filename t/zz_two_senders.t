# Two httpd instances on one database, each with its sender: both senders are alive
# (two push_sender rows), a broadcast to 5,000 devices is shared between them (the mock
# slows every answer, so that both take part), every device gets the message exactly
# once (deliveries are claimed FOR UPDATE SKIP LOCKED) and the audience is expanded by
# one of them only. The second httpd is a minimal configuration (t/lib/SecondHttpd.pm), started
# with the same httpd binary, and stopped at the end (also on failure).
use strict;
use warnings;
use Test::More;
use List::Util qw(max sum0);
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use SecondHttpd;
use PushMock qw(mock_reset mock_script mock_stats mock_requests);
use PushSender qw(slurp wait_for apns_app bulk_devices device_tokens send_broadcast summary summary_text
                  senders live_senders httpd_pid pid_alive apns_tally);

my $N = 5000;
my $second_httpd = SecondHttpd->new(name => 'second');
my $dir = $second_httpd->{dir};
sub stop_second { $second_httpd->stop }

# --- the second instance ---------------------------------------------------------------------
ok $second_httpd->{mpm}, "the test httpd's MPM: $second_httpd->{mpm}";
my @same = @{ $second_httpd->{same} };
ok scalar(grep { /^PushSender On/ } @same) && scalar(grep { /^PushSecretKey/ } @same) && scalar(grep { /^DBDParams/ } @same),
   'the DBD, PushSender*, PushProvider* and PushSecretKey lines of t/conf/extra.conf';

my ($token) = oauth_token('*');
my $app = 'two-' . random_hex(6);
mock_reset();
apns_app($token, $app);
is bulk_devices($app, $N), $N, "$N APNs devices";
my $tokens = device_tokens($app);

my @first = live_senders();
is scalar(@first), 1, 'before: one sender alive' or diag explain [senders()];
my $first = $first[0] || {pid => 0, owner => ''};

ok $second_httpd->start, "a second httpd starts (-f $dir/httpd.conf), its parent runs"
   or diag $second_httpd->{out};
my $second_pid = $second_httpd->{pid};
isnt $second_pid, httpd_pid(), 'another parent than the test httpd';

my $both = wait_for(20, sub { my @l = live_senders(); @l == 2 ? \@l : undef });
ok $both, 'two push_sender rows, each with a live process' or diag explain [senders()];
my ($second) = grep { $_->{owner} ne $first->{owner} } @{ $both || [] };
$second ||= {pid => 0, owner => ''};
ok wait_for(10, sub { -r "$dir/error_log" && slurp("$dir/error_log") =~ /PUSH0605: sender \Q$second->{owner}\E started/ }),
   'the second sender started under the second httpd (PUSH0605 in its error log)';

# --- a broadcast both senders share ------------------------------------------------------------------
mock_script('apns', '*', {delayMs => 100, times => -1});
my $log = error_log_size();
my $t0 = time;
my $id = send_broadcast($token, $app, 'two ' . random_hex(4));
# while it runs, look at who holds the leases of its deliveries: the chunks of the audience
# under way (push_chunk.owner, gone when the chunk's outcomes are written) and deliveries
# claimed from the outbox (lease_owner), so it shows only in flight
my %held;
my $s = wait_for(120, sub {
    for (split /\n/, psql("SELECT lease_owner, count(*) FROM push_delivery WHERE app_id = '$app'
                            AND message_id = '$id' AND lease_owner IS NOT NULL GROUP BY 1
                          UNION ALL
                          SELECT owner, sum(size) FROM push_chunk WHERE app_id = '$app'
                            AND message_id = '$id' AND owner IS NOT NULL GROUP BY 1")) {
        my ($owner, $n) = split /\|/;
        $held{$owner} = $n if $n > ($held{$owner} // 0);
    }
    my $x = summary($app, $id);
    $x->{state} eq 'done' ? $x : undef }, 0.02) || summary($app, $id);
diag sprintf 'done in %.1f s', time - $t0;
is summary_text($s), "state=done targeted=$N sent=$N failed=0 invalid=0 filtered=0 expired=0 cancelled=0 pending=0",
   'the broadcast completes: the summary adds up';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'"), 0,
   "all $N deliveries sent: none left in the outbox";

my $tally = apns_tally(keys => $tokens);
my @missing = grep { !$tally->{key}{$_} } keys %$tokens;
is scalar(@missing), 0, 'every device received the message';
my @twice = grep { $tally->{key}{$_} > 1 } keys %{ $tally->{key} };
is scalar(@twice), 0, 'no device received it twice' or diag scalar(@twice) . ' devices more than once';
is $tally->{count}, $N, "$N requests in all";

diag 'deliveries in flight at once, most seen per sender: ' . join(', ', map { "$_=$held{$_}" } sort keys %held);
is_deeply [sort keys %held], [sort $first->{owner}, $second->{owner}],
          'both senders claimed deliveries of the broadcast (their lease_owner, seen in flight)';
# each sender process signs its own APNs provider token (two threads that first need the
# credential at the same moment may each sign one: push_cred_get has no check-and-insert
# under its lock), so at least two tokens
my %by = %{ $tally->{auth} };
diag 'requests per provider token: ' . join(', ', map { substr($_, -12) . "=$by{$_}" } sort keys %by);
ok keys(%by) >= 2, 'the mock saw the provider tokens of both senders' or diag explain \%by;
my $shared = grep { keys %{ $tally->{conn_auth}{$_} } > 1 } keys %{ $tally->{conn_auth} };
is $shared, 0, 'each connection to the mock carried one provider token';
diag sprintf '%d connections to the mock APNs', scalar(keys %{ $tally->{conn} });

my $expanded = (() = error_log_since($log) =~ /PUSH0611: sender: message \Q$app\E\//g)
             + (() = slurp("$dir/error_log") =~ /PUSH0611: sender: message \Q$app\E\//g);
is $expanded, 1, 'one of them expanded the audience (PUSH0611 once in the two logs)';
unlike slurp("$dir/error_log"), qr/PUSH06[0-9][0-9].*(statement failed|not written)|\[push:(error|crit)\]/,
       'the second httpd logged no sender error';

# --- webhook events with two senders and a slow receiver ---------------------------------------------
# A receiver that answers every POST 200 after 1.5 s. Ten events are written at once; each
# sender has a few of them under way at a time: each must still reach the receiver once,
# not a second time from the other sender (a claim's lease covers its POST, and only the
# owner of a claim can finish it).
my $happ = 'two-hooks-' . random_hex(6);
mf(POST => '/apps', $token, {applicationId => $happ});
my $hpath = "/hook/$happ-slow";
mock_script('webhook', $hpath, {delayMs => 1500, times => -1});
is mf(POST => "/apps/$happ/webhooks", $token,
      {name => 'slow', url => "$ENV{PUSH_MOCK_HTTP}$hpath", eventTypes => 'onDeviceRegister'})->code, 201,
   'a webhook whose receiver takes 1.5 s to answer';
# registered as the MobileFirst API registers (schema 12: push_device_put writes the event)
psql("SELECT count(*) FROM generate_series(1, 10) AS i,
             push_device_register_mf('$happ', 'h' || i, 'apns', md5('h' || i || '$happ') || md5('$happ' || i),
                                     NULL, NULL, NULL)");
is psql("SELECT count(*) FROM push_event WHERE app_id = '$happ'"), 10, 'ten onDeviceRegister events at once';
my $t1 = time;
ok wait_for(60, sub { psql("SELECT count(*) FROM push_event WHERE app_id = '$happ' AND state = 'done'") == 10 }, 0.5),
   'all ten end done';
diag sprintf 'the events were done in %.1f s', time - $t1;
sleep 2;   # a POST still under way
my %posts;
$posts{$_->{headers}{'x-push-event-id'}}++ for @{ mock_requests('webhook', key => $hpath) };
my @again = sort { $a <=> $b } grep { $posts{$_} > 1 } keys %posts;
is scalar(keys %posts), 10, 'the receiver got all ten';
is scalar(@again), 0,
   'a slow receiver gets no event twice when another sender runs'
   or diag sprintf 'events POSTed more than once: %s; attempts in push_event: %s', join(',', map { "$_ x$posts{$_}" } @again),
                   psql("SELECT string_agg(event_id || ':' || attempts, ' ' ORDER BY event_id) FROM push_event WHERE app_id = '$happ'");
psql("DELETE FROM push_application WHERE app_id = '$happ'");

# --- the second httpd stops: its sender goes with it ---------------------------------------------------
stop_second();
ok wait_for(15, sub { !pid_alive($second->{pid}) }), 'stopping the second httpd stops its sender';
ok wait_for(10, sub { !grep { $_->{owner} eq $second->{owner} } senders() }), 'which removed its push_sender row';
like slurp("$dir/error_log"), qr/PUSH0606: sender \Q$second->{owner}\E stopped/, 'PUSH0606 in its log';
my @after = live_senders();
is_deeply [map { $_->{owner} } @after], [$first->{owner}], 'the test httpd\'s sender runs on';

if (Test::More->builder->is_passing) {
    mock_reset();
    psql("DELETE FROM push_application WHERE app_id = '$app'");
    system('rm', '-rf', $dir);
} else {
    diag "the second httpd's files: $dir";
    diag slurp("$dir/error_log") if -r "$dir/error_log";
    mock_reset();
}
done_testing;
