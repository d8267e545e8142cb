# A sender that stops showing a heartbeat (here: stopped with SIGSTOP, as a process stuck
# where no timeout reaches would be) is killed by httpd's parent after PushSenderWatchdog
# seconds (8 in t/conf/extra.conf.in) and forked again (PUSH0655, then PUSH0651); the
# message sent while it was stopped is delivered by the next one. httpd's parent runs its
# monitor hook about every 10 s (mpm_common.c, INTERVAL_OF_WRITABLE_PROBES), so the kill
# comes between 8 and about 19 s after the last heartbeat. A sender whose statements wait
# for PostgreSQL is not killed.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset);
use PushSender qw(wait_for apns_app bulk_devices send_broadcast summary summary_text
                  live_senders pid_alive apns_tally);

my $WATCHDOG = 8;
my ($token) = oauth_token('*');
my $app = 'watchdog-' . random_hex(6);

sub metric {
    my ($name) = @_;
    my ($v) = request(GET => '/push-metrics')->content =~ /^\Q$name\E (\S+)$/m;
    return $v;
}

mock_reset();
apns_app($token, $app);
is bulk_devices($app, 1), 1, 'one APNs device';
my @live = @{ wait_for(20, sub { my @l = live_senders(); @l ? \@l : undef }) || [] };
is scalar(@live), 1, 'one sender is alive';
my $old = $live[0];
ok wait_for(15, sub { (metric('push_sender_up') // '') eq '1' }), 'push_sender_up is 1';
my $restarts = metric('push_sender_restarts_total') // 0;

my $log = error_log_size();
ok kill('STOP', $old->{pid}), "SIGSTOP to the sender (pid $old->{pid})";
my $stopped = time;
my $id = send_broadcast($token, $app, 'watchdog ' . random_hex(4));
ok $id, 'a message is accepted while the sender is stopped';
sleep 1;
is summary($app, $id)->{sent} // 0, 0, '... and not sent while it is stopped';

my $killed = wait_for($WATCHDOG + 20, sub { error_log_since($log) =~ /PUSH0655: the sender process \(pid $old->{pid}\) has shown no heartbeat/ ? time : undef }, 0.2);
ok $killed, 'the parent kills it: PUSH0655';
if ($killed) {
    my $after = $killed - $stopped;
    diag sprintf 'killed %.1f s after SIGSTOP', $after;
    ok $after >= $WATCHDOG - 1.5 && $after <= $WATCHDOG + 12,
       "after PushSenderWatchdog ($WATCHDOG) seconds without a heartbeat, at the next monitor round";
}
my $new = wait_for(20, sub { (grep { $_->{pid} != $old->{pid} } live_senders())[0] });
ok $new, 'httpd forked another sender';
ok wait_for(10, sub { !pid_alive($old->{pid}) }), 'the stopped one is gone (killed and reaped)';
like error_log_since($log), qr/PUSH0651: the sender process \(pid $old->{pid}\) is gone; starting another/,
     'PUSH0651: the parent starts another';
is metric('push_sender_restarts_total'), $restarts + 1, 'the metrics count the restart';
ok wait_for(15, sub { (metric('push_sender_up') // '') eq '1' }), '... and the new sender is up';

my $s = wait_for(30, sub { my $x = summary($app, $id); $x->{state} eq 'done' ? $x : undef }, 0.2)
        || summary($app, $id);
is summary_text($s), 'state=done targeted=1 sent=1 failed=0 invalid=0 filtered=0 expired=0 cancelled=0 pending=0',
   'the message sent while the sender was stopped is delivered by the next one';
is apns_tally()->{count}, 1, 'the mock APNs received it once';

# A sender that waits for PostgreSQL is alive, not stuck: its heartbeat statement held
# behind a lock for two watchdog periods and a monitor round keeps it beating, and it is not
# killed (it was, when its libpq calls blocked without a beat).
my $log2 = error_log_size();
my $HOLD = 2 * $WATCHDOG + 11;
my $locker = fork();
die "fork: $!" unless defined $locker;
if (!$locker) {
    exec $ENV{PUSH_TEST_PSQL}, '-X', '-qAt', '-d', $ENV{PUSH_TEST_PG}, '-c',
         "BEGIN; LOCK TABLE push_sender IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($HOLD); COMMIT;";
    exit 1;
}
my $waiting = wait_for(15, sub {
    psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
       . "AND query LIKE 'INSERT INTO push_sender%'") > 0 }, 0.2);
ok $waiting, "the sender's heartbeat statement waits for the lock";
waitpid $locker, 0;
is $?, 0, "the lock was held for $HOLD s";
unlike error_log_since($log2), qr/PUSH0655/, 'a sender waiting for PostgreSQL is not killed';
ok pid_alive($new->{pid}), 'the new sender still runs' if $new;
ok wait_for(15, sub { (metric('push_sender_up') // '') eq '1' }), '... and is up';
my $id2 = send_broadcast($token, $app, 'after the lock ' . random_hex(4));
my $s2 = wait_for(30, sub { my $x = summary($app, $id2); $x->{state} eq 'done' ? $x : undef }, 0.2)
         || summary($app, $id2);
is summary_text($s2), 'state=done targeted=1 sent=1 failed=0 invalid=0 filtered=0 expired=0 cancelled=0 pending=0',
   '... and delivers the next message';

# A server that vanishes without a word is not waited for two hours: the sender's
# connections to PostgreSQL probe it after 20 s idle (TCP keepalive; the system's default is
# 7200 s), seen in the kernel's table of the sender's sockets (timer 2: keepalive, due in
# centiseconds).
SKIP: {
    my ($pg_port) = $ENV{PUSH_TEST_PG} =~ /\bport=(\d+)/;
    skip 'PostgreSQL is not reached over TCP', 1 unless $pg_port && $new && -r "/proc/$new->{pid}/fd";
    my %inode;
    for my $fd (glob "/proc/$new->{pid}/fd/*") {
        my $l = readlink($fd) // next;
        $inode{$1} = 1 if $l =~ /^socket:\[(\d+)\]$/;
    }
    my $probed = wait_for(15, sub {
        my $n = 0;
        for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
            open my $fh, '<', $f or next;
            while (<$fh>) {
                my @c = split;
                next unless @c > 9 && $inode{$c[9]};
                my ($rport) = $c[2] =~ /:([0-9A-F]{4})$/;
                my ($tr, $when) = split /:/, $c[5];
                $n++ if hex($rport) == $pg_port && $tr eq '02' && hex($when) <= 2100;
            }
        }
        $n || undef;
    }, 0.5);
    ok $probed, sprintf "the sender's connections to PostgreSQL are probed after 20 s idle (%d sockets)", $probed // 0;
}

mock_reset();
psql("DELETE FROM push_sender WHERE owner = '$old->{owner}'");
psql("DELETE FROM push_application WHERE app_id = '$app'") if Test::More->builder->is_passing;
done_testing;
