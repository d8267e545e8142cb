# PushSenderScheduling batch (the default): every thread of the sender runs under
# SCHED_BATCH, so that its wakeups do not preempt httpd's request threads or PostgreSQL;
# the start line says so. The directive's values are checked in t/directives.t.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;
use PushSender qw(slurp wait_for live_senders httpd_pid);

use constant SCHED_BATCH => 3;   # linux/sched.h

plan skip_all => 'Linux only (/proc and SCHED_BATCH)' unless $^O eq 'linux';

my $parent = httpd_pid();
my ($sender) = grep { (slurp("/proc/$_->{pid}/stat") =~ /^\d+ \(.*\) \S (\d+)/)[0] == $parent } live_senders();
ok $sender, "the test httpd's sender process" or BAIL_OUT('no sender');
my $pid = $sender->{pid};

# /proc/PID/task/TID/stat: the command may hold spaces and parentheses, so the fields are
# counted from the last ')'; the policy is field 41, the 39th after it
sub policies {
    my %p;
    opendir(my $d, "/proc/$pid/task") or return;
    for my $tid (grep { /^\d+$/ } readdir $d) {
        my $stat = eval { slurp("/proc/$pid/task/$tid/stat") } // next;   # a thread may end meanwhile
        $stat =~ s/^.*\)\s+//s;
        my @f = split /\s+/, $stat;
        $p{$tid} = $f[38];
    }
    return \%p;
}

my $p = policies();
my @tids = sort keys %$p;
# the main thread, the expander, the events and credentials threads and two workers
cmp_ok scalar(@tids), '>=', 6, scalar(@tids) . ' threads in the sender';
my @other = grep { ($p->{$_} // -1) != SCHED_BATCH } @tids;
is scalar(@other), 0, 'every thread of the sender runs under SCHED_BATCH'
    or diag join ', ', map { "$_: policy $p->{$_}" } @other;

my $log = error_log_since(0);
my @started = $log =~ /PUSH0605: sender \S+:$pid:\S+ started: [^\n]*/g;
like $started[-1] // '', qr/, batch scheduling$/, 'the start line names the policy';
unlike $log, qr/PUSH0616/, 'no warning that the policy could not be set';

# httpd's own processes keep the normal policy: only the sender asks for batch
my $httpd = slurp("/proc/$parent/stat");
$httpd =~ s/^.*\)\s+//s;
is +(split /\s+/, $httpd)[38], 0, "httpd's parent keeps the normal policy";

done_testing;
