package PushMock;
# Client for the mock push providers in t/mock/providers.js: where they listen,
# scripting their answers, and reading back what mod_push sent them.
#
#   use PushMock qw(mock_url mock_reset mock_script mock_requests mock_wait);
#   mock_reset();
#   mock_script(apns => $token, { status => 410, reason => 'Unregistered' });
#   ... make mod_push send ...
#   my @got = mock_wait(apns => 1, key => $token);
#
# The ports come from the JSON file named by $ENV{PUSH_MOCK_PORTS}, which the
# mock writes once it listens. mock_start() can run a private mock for a test
# that has none.
use strict;
use warnings;

use Exporter 'import';
use HTTP::Request ();
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes ();
use URI::Escape ();

our @EXPORT_OK = qw(mock_url mock_ports mock_reset mock_script mock_requests mock_stats
                    mock_wait mock_config mock_start mock_stop mock_webpush_keys);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

my $JSON = JSON::PP->new->utf8->canonical;
my $UA;
my $STARTED;    # { pid, dir } of a mock that mock_start ran

sub _ua {
    return $UA if $UA;
    $UA = LWP::UserAgent->new(timeout => 10, keep_alive => 1, env_proxy => 0,
                              agent => 'PushMock/1');
    $UA->no_proxy('127.0.0.1', 'localhost');
    $UA->proxy([qw(http https)], undef);
    return $UA;
}

# The decoded ports file: { apns, apns_tls, fcm, http, pid }. Read every time,
# as the mock may have been restarted on other ports.
sub mock_ports {
    my $file = $ENV{PUSH_MOCK_PORTS};
    die "PushMock: PUSH_MOCK_PORTS is not set\n" unless defined $file && length $file;
    open(my $fh, '<', $file) or die "PushMock: cannot read $file: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $JSON->decode($text);
}

# mock_url('apns' | 'apns_tls' | 'fcm' | 'http') -> base URL, no trailing slash
sub mock_url {
    my $kind = shift;
    my $ports = mock_ports();
    die "PushMock: no such mock server '$kind'\n" unless exists $ports->{$kind};
    my $port = $ports->{$kind};
    die "PushMock: mock server '$kind' is not running (no TLS certificate given?)\n" unless defined $port;
    my $scheme = $kind =~ /_tls$/ || $kind eq 'webpush' ? 'https' : 'http';
    return "$scheme://127.0.0.1:$port";
}

# A control call: _control(METHOD, 'what', [\%query], [$data]) -> decoded JSON
sub _control {
    my ($method, $what, $query, $data) = @_;
    my $url = mock_url('http') . "/__mock/$what";
    if ($query && %$query) {
        $url .= '?' . join '&', map { URI::Escape::uri_escape($_) . '=' . URI::Escape::uri_escape($query->{$_}) }
                                grep { defined $query->{$_} } sort keys %$query;
    }
    my $req = HTTP::Request->new($method => $url);
    if (defined $data) {
        $req->header('Content-Type' => 'application/json');
        $req->content($JSON->encode($data));
    }
    my $res = _ua()->request($req);
    die "PushMock: $method /__mock/$what: " . $res->status_line . "\n" . $res->decoded_content . "\n"
        unless $res->is_success;
    return $JSON->decode($res->content);
}

# Forget recordings, scripts and counters. mock_reset(tokens => 1) also forgets
# the FCM access tokens handed out, so the next FCM send gets a 401.
sub mock_reset {
    my %opts = @_;
    return _control(POST => 'reset', { $opts{tokens} ? (tokens => 1) : () });
}

# mock_script($kind, $key, {status => 410, reason => 'Unregistered'}, ...)
# $key is a device token (apns, fcm), a path (webhook, sms: '/hook/x'), a
# service account (fcm-token) or '*'. Answers queue behind earlier ones.
sub mock_script {
    my ($kind, $key, @responses) = @_;
    return _control(POST => 'script', undef,
                    { kind => $kind, key => (defined $key ? $key : '*'), responses => \@responses });
}

# mock_requests($kind, key => K, since => SEQ) -> [ {seq, kind, key, method, path,
# headers, body, json, time, status, conn, tls, clientCert, ...}, ... ]
# $kind may be undef (every kind) or a comma-separated list.
sub mock_requests {
    my ($kind, %opts) = @_;
    return _control(GET => 'requests', { kind => $kind, key => $opts{key}, since => $opts{since} });
}

sub mock_stats { return _control(GET => 'stats') }

# mock_config(fcmTokenExpiresIn => 5, record => 1) -> the configuration now
sub mock_config {
    my %set = @_;
    return _control(%set ? 'POST' : 'GET', 'config', undef, %set ? \%set : undef);
}

# The mock Web Push service's test subscription: { p256dh, auth, endpoint } (append a
# key to endpoint: each key is a subscription of its own, all with these keys).
sub mock_webpush_keys { _control('GET', 'webpush') }

# mock_wait($kind, $count, key => K, since => SEQ, timeout => seconds)
# Polls every 50 ms until $count requests are recorded or the timeout (15 s by
# default) passes. Returns what was recorded by then: the list in list context,
# an array ref otherwise.
sub mock_wait {
    my ($kind, $count, %opts) = @_;
    my $timeout = defined $opts{timeout} ? $opts{timeout} : 15;
    my $deadline = Time::HiRes::time() + $timeout;
    my $got;
    while (1) {
        $got = mock_requests($kind, key => $opts{key}, since => $opts{since});
        last if @$got >= $count || Time::HiRes::time() >= $deadline;
        Time::HiRes::sleep(0.05);
    }
    return wantarray ? @$got : $got;
}

# mock_start(args => [...extra providers.js options...], node => 'node')
# Runs a mock of our own, points PUSH_MOCK_PORTS at its ports file and returns
# the decoded ports. mock_stop() (also run at exit) ends it.
sub mock_start {
    my %opts = @_;
    require File::Basename;
    require File::Spec;
    require File::Temp;
    require POSIX;
    die "PushMock: a mock is already running (pid $STARTED->{pid})\n" if $STARTED;
    my $script = $opts{script}
        || File::Spec->catfile(File::Basename::dirname(File::Spec->rel2abs(__FILE__)), '..', 'mock', 'providers.js');
    my $dir = File::Temp::tempdir('push-mock-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $file = "$dir/ports.json";
    my @cmd = ($opts{node} || 'node', $script, '--ports-file', $file, @{ $opts{args} || [] });
    my $pid = fork;
    die "PushMock: fork: $!\n" unless defined $pid;
    if (!$pid) {
        open(STDOUT, '>', "$dir/stdout") or POSIX::_exit(127);
        open(STDERR, '>', "$dir/stderr") or POSIX::_exit(127);
        exec @cmd or POSIX::_exit(127);
    }
    $STARTED = { pid => $pid, dir => $dir, owner => $$ };
    my $deadline = Time::HiRes::time() + 15;
    until (-s $file) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid || Time::HiRes::time() > $deadline) {
            my $err = do { local (@ARGV, $/) = ("$dir/stderr"); <> } // '';
            kill 'TERM', $pid;
            undef $STARTED;
            die "PushMock: the mock did not start: $err\n";
        }
        Time::HiRes::sleep(0.05);
    }
    $ENV{PUSH_MOCK_PORTS} = $file;
    return mock_ports();
}

sub mock_stop {
    return unless $STARTED && $STARTED->{owner} == $$;   # not from a forked child
    my $pid = $STARTED->{pid};
    undef $STARTED;
    kill 'TERM', $pid;
    waitpid($pid, 0);
    return 1;
}

END { local $?; mock_stop() }

1;
