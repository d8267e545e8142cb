package SecondHttpd;
# A second httpd with mod_push on the test database, for the tests that need another node
# or other global settings: a minimal configuration written into the test tree (so that
# it stays there under PUSH_CHECK_KEEP=1), with the MPM, User and Group of the test httpd
# and the DBD, PushSender*, PushProvider*, PushEgressAllow and PushSecretKey lines of t/conf/extra.conf
# (httpd expands their ${PUSH_...} variables from the environment the test inherited).
#
#   my $h = SecondHttpd->new(name => 'two-senders', lines => [...], keep => qr/.../);
#   $h->start or diag $h->{out};  ... $h->{port}, $h->{dir}, $h->{pid}, $h->error_log ...
#   $h->stop;                      (also when the object goes away)
use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET ();
use Apache::Test ();

use PushSender qw(slurp wait_for pid_alive);

sub _free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    return $s->sockport;
}

# name: part of the directory name; lines: more configuration lines; keep: which lines of
# extra.conf to take (default the DBD, sender, provider and secret-key lines).
sub new {
    my ($class, %o) = @_;
    my $top = $ENV{PUSH_TEST_TOP};
    my $conf = slurp("$top/t/conf/httpd.conf");
    my $keep = $o{keep} || qr/^(DBD\w+|PushSender\w*|PushProvider\w+|PushEgressAllow|PushSecretKey)\s/;
    my $self = bless {
        httpd => eval { Apache::Test::vars('httpd') } || '/usr/sbin/apache2',
        dir   => tempdir(($o{name} || 'second') . '-httpd-XXXXXX', DIR => "$top/t", CLEANUP => 0),
        port  => _free_port(),
        same  => [grep { /$keep/ } split /\n/, slurp("$top/t/conf/extra.conf")],
    }, $class;
    ($self->{mpm}) = $conf =~ /^\s*(LoadModule\s+mpm_\w+_module\s+\S+)/m;
    ($self->{user}) = $conf =~ /^User\s+(.+)$/m;
    ($self->{group}) = $conf =~ /^Group\s+(.+)$/m;
    my $dir = $self->{dir};
    open my $fh, '>', "$dir/httpd.conf" or die "$dir/httpd.conf: $!";
    print $fh <<"CONF";
# a second mod_push node on the test database (written by $0)
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:$self->{port}
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
DefaultRuntimeDir "$dir"
LogLevel info push:debug
$self->{mpm}
User $self->{user}
Group $self->{group}
<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 1
    ThreadsPerChild 4
    MaxRequestWorkers 4
    MinSpareThreads 1
    MaxSpareThreads 4
</IfModule>
LoadModule dbd_module "$ENV{PUSH_TEST_MODDIR}/mod_dbd.so"
LoadModule push_module "$ENV{PUSH_TEST_MODULE}"
@{[ join "\n", @{ $self->{same} }, @{ $o{lines} || [] } ]}
CONF
    close $fh;
    return $self;
}

# Starts it and waits for its parent's pid; false (with the output in $self->{out}) if not.
sub start {
    my $self = shift;
    my ($httpd, $dir) = @$self{qw(httpd dir)};
    $self->{out} = `'$httpd' -d '$dir' -f '$dir/httpd.conf' -k start 2>&1`;
    return 0 if $?;
    $self->{pid} = wait_for(15, sub { -s "$dir/httpd.pid" && slurp("$dir/httpd.pid") =~ /(\d+)/ ? $1 : undef });
    return $self->{pid} && pid_alive($self->{pid});
}

sub url { "http://127.0.0.1:$_[0]{port}$_[1]" }

sub error_log { -r "$_[0]{dir}/error_log" ? slurp("$_[0]{dir}/error_log") : '' }

sub stop {
    my $self = shift;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    wait_for(15, sub { !pid_alive($pid) }, 0.1);
    kill 'KILL', $pid if pid_alive($pid);
}

sub DESTROY { local $?; $_[0]->stop }

1;
