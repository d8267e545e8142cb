# A start as on Debian: the main server and a <VirtualHost *:PORT> without DBD directives
# of their own (Debian's 000-default), plus a virtual host with a pool of its own. mod_dbd
# warns "AH02653: conflicting SQL statements" for each statement registered twice on one
# server record: there must be none, at start or after a graceful restart, and the
# statements must work in every host. A PushApplication the database does not know is
# logged at start (file:line) and at its first refused session in the process, once.
use strict;
use warnings;
use Test::More;
use LWP::UserAgent ();
use JSON::PP ();
use lib 't/lib';
use PushTest;
use SecondHttpd;
use PushSender qw(wait_for slurp);

my $ghost = 'ghost-' . random_hex(6);
my $h = SecondHttpd->new(name => 'startup', keep => qr/^(DBD\w+|PushSecretKey)\s/, lines => []);
my $port = $h->{port};
my $conf_file = "$h->{dir}/httpd.conf";
{
    # what Debian's default site looks like, after the module's own configuration
    open my $fh, '>>', $conf_file or die $!;
    print $fh <<"CONF";
LoadModule authn_core_module "$ENV{PUSH_TEST_MODDIR}/mod_authn_core.so"
LoadModule authz_core_module "$ENV{PUSH_TEST_MODDIR}/mod_authz_core.so"
PushSender Off
<Location /push_tokens>
    SetHandler push-layer
    PushApplication test-layer
</Location>
<Location /ghost/push_tokens>
    SetHandler push-layer
    PushApplication $ghost
</Location>
<Location /ghost/api/v1>
    SetHandler push-rocketchat
    PushApplication $ghost-rc
</Location>
<Location /ghost/user/session/push_token>
    SetHandler push-navixy
    PushApplication $ghost-nvx
</Location>
<VirtualHost *:$port>
    ServerName default.example
    <Location /vhost/push_tokens>
        SetHandler push-layer
        PushApplication test-layer
    </Location>
</VirtualHost>
<VirtualHost *:$port>
    ServerName own-pool.example
    DBDMax 2
    <Location /own/push_tokens>
        SetHandler push-layer
        PushApplication test-layer
    </Location>
</VirtualHost>
CONF
    close $fh;
}
ok $h->start, 'httpd with two virtual hosts starts' or diag $h->{out};
ok wait_for(15, sub { $h->error_log =~ /resuming normal operations/ }), '... and serves';

my $ua = LWP::UserAgent->new(timeout => 15, env_proxy => 0);
$ua->proxy([qw(http https)], undef);
my $user = 'startup-' . random_hex(6);
my $session = new_session($user, 'test-layer');
sub register {
    my ($host, $path, $token) = @_;
    my $body = JSON::PP->new->encode({token => random_hex(64), type => 'apns', device_id => random_hex(8)});
    return $ua->post($h->url($path), Host => $host, Accept => 'application/vnd.layer+json; version=1.0',
                     Authorization => qq{Layer session-token="$token"}, 'Content-Type' => 'application/json',
                     Content => $body);
}
sub all_hosts_work {
    my $label = shift;
    is register('default.example', '/vhost/push_tokens', $session)->code, 202, "$label: the default virtual host registers a device";
    is register('own-pool.example', '/own/push_tokens', $session)->code, 202, "$label: the virtual host with its own pool too";
    is register('127.0.0.1', '/push_tokens', $session)->code, 202, "$label: and the main server (first name-based host)";
}
all_hosts_work('at start');

my $log = $h->error_log;
unlike $log, qr/AH02653/, 'no AH02653 (conflicting SQL statements) at start';
like $log, qr/PUSH0014: PushApplication \Q$ghost\E \(\Q$conf_file\E:\d+\) is not in the database 'push': every session for it is refused/,
     'an unknown PushApplication is logged at start, with its file and line';
unlike $log, qr/PUSH0014: PushApplication test-layer/, '... a known one is not';

# first use: the 401 is logged once per process, not per request
for (1 .. 3) {
    is register('127.0.0.1', '/ghost/push_tokens', $session)->code, 401, "a session for $ghost is refused ($_)";
}
$log = $h->error_log;
my @first = $log =~ /(PUSH0015: PushApplication \Q$ghost\E \(\Q$conf_file\E:\d+\) is not in the database: \/ghost\/push_tokens refuses every session)/g;
is scalar(@first), 1, '... and logged once, at the first refusal' or diag $log;
# the other dialects that take sessions: Rocket.Chat (401) and Navixy (code 4)
for (1 .. 2) {
    my $res = $ua->post($h->url('/ghost/api/v1/push.token'), 'X-User-Id' => $user, 'X-Auth-Token' => $session,
                        'Content-Type' => 'application/json',
                        Content => '{"type": "gcm", "value": "fcm-token-1", "appName": "chat.rocket.android"}');
    is $res->code, 401, "Rocket.Chat: a session for $ghost-rc is refused ($_)";
    $res = $ua->post($h->url('/ghost/user/session/push_token/bind'), 'Content-Type' => 'application/json',
                     Content => '{"hash": "' . random_hex(32) . '", "application": "navixy_android_viewer", "token": "t1"}');
    like $res->content, qr/"code"\s*:\s*4/, "Navixy: a session for $ghost-nvx is refused ($_)";
}
$log = $h->error_log;
for my $app ("$ghost-rc", "$ghost-nvx") {
    my @l = $log =~ /(PUSH0015: PushApplication \Q$app\E \()/g;
    is scalar(@l), 1, "... $app logged once";
}

# a graceful restart registers the statements again, without warnings
my $starts = () = $log =~ /resuming normal operations/g;
my $out = `'$h->{httpd}' -d '$h->{dir}' -f '$conf_file' -k graceful 2>&1`;
is $?, 0, 'graceful restart' or diag $out;
ok wait_for(20, sub { my $n = () = $h->error_log =~ /resuming normal operations/g; $n > $starts }), '... done';
all_hosts_work('after a graceful restart');
$log = $h->error_log;
unlike $log, qr/AH02653/, 'no AH02653 after a graceful restart either';
my @start_lines = $log =~ /(PUSH0014: PushApplication \Q$ghost\E \()/g;
is scalar(@start_lines), 2, 'the unknown application is logged again at the restart';

$h->stop;

# DBDriver and DBDParams only inside a virtual host (a sites-available layout), the sender
# on: it serves that database. A virtual host with another database is named at start.
{
    my $v = SecondHttpd->new(name => 'vhost-db', keep => qr/^(PushSender\w*|PushProvider\w+|PushEgressAllow|PushSecretKey)\s/,
                             lines => []);
    my @dbd = grep { /^DBD\w+\s/ } @{ SecondHttpd->new(name => 'vhost-db-lines')->{same} };
    ok scalar(grep { /^DBDParams/ } @dbd), 'the test DBD lines';
    my $other = join "\n", map { /^DBDParams/ ? 'DBDParams "host=127.0.0.1 port=1 dbname=elsewhere"' : $_ } @dbd;
    open my $fh, '>>', "$v->{dir}/httpd.conf" or die $!;
    print $fh "<VirtualHost *:$v->{port}>\n    ServerName db.example\n" . join("\n", @dbd) . "\n</VirtualHost>\n"
        . "<VirtualHost *:$v->{port}>\n    ServerName elsewhere.example\n$other\n</VirtualHost>\n";
    close $fh;
    ok $v->start, 'httpd with the DBD lines in a virtual host only' or diag $v->{out};
    ok wait_for(20, sub { $v->error_log =~ /PUSH0605: sender \S+ started/ }), '... starts its sender'
        or diag $v->error_log;
    like $v->error_log, qr/PUSH0008: database 'push' has mod_push schema version/, '... checks that database';
    like $v->error_log, qr/PUSH0023: virtual host elsewhere\.example \(\S+:\d+\) has the DBDParams of another database/,
         '... and names the virtual host that reaches another one';
    $v->stop;
}
done_testing;
