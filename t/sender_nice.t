# PushSenderNice (default 10): every thread of the sender runs that many nice levels
# below httpd's parent, so that httpd's request threads and PostgreSQL get the CPU first;
# the start line says at which. The directive's values are checked in t/directives.t.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;
use PushSender qw(slurp wait_for live_senders httpd_pid);
use SecondHttpd;

plan skip_all => 'Linux only (/proc, nice per thread)' unless $^O eq 'linux';

# /proc/PID[/task/TID]/stat: the command may hold spaces and parentheses, so the fields
# are counted from the last ')'; nice is field 19, the 17th after it
sub nice_of {
    my ($file) = @_;
    my $stat = eval { slurp($file) } // return;   # a thread may end meanwhile
    $stat =~ s/^.*\)\s+//s;
    return (split /\s+/, $stat)[16];
}

sub ppid_of {
    my $stat = eval { slurp("/proc/$_[0]/stat") } // return 0;
    return ($stat =~ /^\d+ \(.*\) \S (\d+)/s)[0] // 0;
}

my $parent = httpd_pid();
my ($sender) = grep { ppid_of($_->{pid}) == $parent } live_senders();
ok $sender, "the test httpd's sender process" or BAIL_OUT('no sender');
my $pid = $sender->{pid};

my $base = nice_of("/proc/$parent/stat");
my $want = $base + 10 > 19 ? 19 : $base + 10;
my %nice;
opendir(my $d, "/proc/$pid/task") or BAIL_OUT("/proc/$pid/task: $!");
for my $tid (grep { /^\d+$/ } readdir $d) {
    my $n = nice_of("/proc/$pid/task/$tid/stat");
    $nice{$tid} = $n if defined $n;
}
# the main thread, the expander, the events and credentials threads and two workers
cmp_ok scalar(keys %nice), '>=', 6, scalar(keys %nice) . ' threads in the sender';
my @off = grep { $nice{$_} != $want } sort keys %nice;
is scalar(@off), 0, "every thread of the sender runs at nice $want (httpd's parent: $base)"
    or diag join ', ', map { "$_: nice $nice{$_}" } @off;

my $log = error_log_since(0);
my @started = $log =~ /PUSH0605: sender \S+:$pid:\S+ started: [^\n]*/g;
like $started[-1] // '', qr/, nice $want$/, 'the start line names the nice level';
unlike $log, qr/PUSH0617/, 'no warning that the priority could not be lowered';

# httpd's own processes keep theirs: only the sender lowers its priority
is nice_of("/proc/$parent/stat"), $base, "httpd's parent keeps its nice level";
my @children = grep { $_ != $pid && ppid_of($_) == $parent } map { m{^/proc/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';
ok @children, 'httpd has children that serve requests' or diag 'none found';
my @lowered = grep { (nice_of("/proc/$_/stat") // $base) != $base } @children;
is scalar(@lowered), 0, "httpd's request children keep httpd's nice level"
    or diag join ', ', map { "$_: nice " . nice_of("/proc/$_/stat") } @lowered;

# PushSenderNice 0: a second node's sender stays at httpd's level; 19 is the ceiling,
# whatever httpd's own
for my $case ([0, $base], [19, 19]) {
    my ($n, $expect) = @$case;
    my $h = SecondHttpd->new(name => "nice$n", lines => ["PushSenderNice $n"]);
    ok $h->start, "a second httpd with PushSenderNice $n" or diag $h->{out};
    my $spid = wait_for(20, sub { $h->error_log =~ /PUSH0605: sender [^:\s]+:(\d+):\S* started[^\n]*, nice $expect\n/ ? $1 : undef });
    ok $spid, "its sender started at nice $expect (PUSH0605)" or diag $h->error_log;
    my @t = $spid ? map { nice_of($_) } glob "/proc/$spid/task/*/stat" : ();
    ok @t && !grep({ !defined $_ || $_ != $expect } @t), "all its threads at nice $expect"
        or diag join ' ', map { $_ // '?' } @t;
    $h->stop;
}

done_testing;
