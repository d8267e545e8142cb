# httpd's parent killed outright (kill -9): its sender must not live on as an orphan that
# keeps delivering, holds database connections and httpd's listening socket, so that the
# next httpd cannot bind its port. On Linux the parent's death sends the sender SIGTERM
# (PR_SET_PDEATHSIG), and it stops in order (PUSH0606); it never holds the listeners.
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use lib 't/lib';
use PushTest;
use SecondHttpd;
use PushSender qw(wait_for pid_alive);

my $h = SecondHttpd->new(name => 'parentkill');
ok $h->start, 'a second httpd starts' or diag $h->{out};
my $parent = $h->{pid};
my $sender = wait_for(20, sub { $h->error_log =~ /PUSH0605: sender [^:\s]+:(\d+):\S* started/ ? $1 : undef });
ok $sender && pid_alive($sender), "its sender runs (pid " . ($sender // '?') . ')';

my @children = grep { $_ != ($sender // 0) } map { /(\d+)/ ? $1 : () } split /\n/, `pgrep -P $parent`;
my $port_inodes = `cat /proc/net/tcp /proc/net/tcp6 2>/dev/null`;
my $hexport = sprintf '%04X', $h->{port};
my ($inode) = $port_inodes =~ /^\s*\d+: [0-9A-F]+:$hexport [0-9A-F]+:0000 0A (?:\S+\s+){5}(\d+)/m;
ok $inode, "httpd listens on port $h->{port}";
ok !grep({ $_ eq "socket:[$inode]" } map { readlink($_) // '' } glob("/proc/$sender/fd/*")),
   'the sender does not hold the listening socket';

ok kill('KILL', $parent), "kill -9 the parent (pid $parent)";
delete $h->{pid};
kill 'KILL', @children if @children;   # httpd's own children: not what is tested here
ok wait_for(15, sub { !pid_alive($sender) }, 0.2), 'the sender stops by itself'
    or kill 'KILL', $sender;
like $h->error_log, qr/PUSH0606: sender \S+ stopped/, '... in order (PUSH0606)';

my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $h->{port}, Listen => 1, ReuseAddr => 1);
ok $s, "port $h->{port} can be bound again";

done_testing;
