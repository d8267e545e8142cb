# The egress guard on tenants' webhook URLs. At creation (and update), a URL whose host is
# a literal internal address in any spelling, that carries credentials, or that is not
# http(s) is a 400 naming why. A host name is accepted, and the address it resolves to is
# checked when the sender connects: a loopback listener whose port is not in
# PushEgressAllow (t/conf/extra.conf.in allows only the mock receiver's) is never
# connected to, the event fails with "refused by the egress guard", and the error log
# names the application and the webhook. The same name on the allowed port is delivered.
use strict;
use warnings;
use Test::More;
use IO::Select ();
use IO::Socket::INET ();
use IO::Socket::IP ();
use Socket qw(getaddrinfo getnameinfo AF_INET AF_INET6 SOCK_STREAM NI_NUMERICHOST NIx_NOSERV);
use Sys::Hostname ();
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_requests);
use PushSender qw(wait_for);

my ($token) = oauth_token('*');
my $app = 'egress-' . random_hex(6);
is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'an application';
my $hooks = "/apps/$app/webhooks";
mock_reset();

# A listener on loopback that nothing may reach: it records whoever connects.
my $trap = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
    or die "no loopback listener: $!";
my $tport = $trap->sockport;
sub connections {
    my $sel = IO::Select->new($trap);
    my $n = 0;
    while ($sel->can_read(0.2)) {
        my $c = $trap->accept or last;
        $n++;
        close $c;
    }
    return $n;
}

sub refused_at_creation {
    my ($url, $why, $name) = @_;
    my $res = mf(POST => $hooks, $token, {name => 'h' . random_hex(4), url => $url, eventTypes => 'onDeviceRegister'});
    my $b = json_body($res);
    ok $res->code == 400 && $b && $b->{code} eq 'FPWSE0005E' && $b->{message} =~ $why,
       "$name: 400 FPWSE0005E naming why" or diag $res->as_string;
}

my $pg = $ENV{PUSH_TEST_PGPORT};
refused_at_creation("http://127.0.0.1:$tport/hook", qr/url is not accepted: the host is a refused address: loopback/,
                    'a loopback listener not in PushEgressAllow');
refused_at_creation("http://[::1]:$tport/hook", qr/refused address: loopback/, '[::1]');
refused_at_creation("http://localhost:$tport/hook", qr/refused address: loopback \(localhost\)/, 'localhost');
refused_at_creation("http://LocalHost.:$tport/hook", qr/localhost/, 'LocalHost. (case, trailing dot)');
refused_at_creation("http://hooks.localhost/hook", qr/localhost/, 'a name under .localhost');
refused_at_creation("http://2130706433:$tport/hook", qr/refused address: loopback/, '2130706433 (decimal)');
refused_at_creation("http://0x7f000001:$tport/hook", qr/refused address: loopback/, '0x7f000001 (hex)');
refused_at_creation("http://0x7f.1:$tport/hook", qr/refused address: loopback/, '0x7f.1');
refused_at_creation("http://017700000001:$tport/hook", qr/refused address: loopback/, '017700000001 (octal)');
refused_at_creation("http://127.1:$tport/hook", qr/refused address: loopback/, '127.1');
refused_at_creation("http://[::ffff:127.0.0.1]:$tport/hook", qr/refused address: loopback/, '[::ffff:127.0.0.1]');
refused_at_creation("http://[64:ff9b::7f00:1]:$tport/hook", qr/refused address: loopback/, 'NAT64 of 127.0.0.1');
refused_at_creation('http://169.254.169.254/latest/meta-data/', qr/refused address: link-local/, 'the cloud metadata address');
refused_at_creation('http://10.0.0.1/', qr/private \(RFC 1918\)/, '10.0.0.1');
refused_at_creation('http://[fd00::1]/', qr/unique local/, 'an IPv6 ULA');
refused_at_creation('http://0.0.0.0/', qr/unspecified/, '0.0.0.0');
refused_at_creation("http://127.0.0.1:$pg/", qr/refused address: loopback/, "PostgreSQL's port");
refused_at_creation('http://user:pass@hooks.example.net/', qr/credentials/, 'user:pass@');
refused_at_creation('http://hooks.example.net@127.0.0.1/', qr/credentials/, 'a host hidden after @');
refused_at_creation('gopher://hooks.example.net/', qr/not accepted: the scheme must be http or https/, 'gopher://');
refused_at_creation('file:///etc/passwd', qr/the scheme must be http or https/, 'file://');
refused_at_creation("http://127.0.0.1:$ENV{PUSH_MOCK_HTTP_PORT}x/", qr/./, 'a port that is no number');
is psql("SELECT count(*) FROM push_webhook WHERE app_id = '$app'"), 0, 'none of them was stored';

# an update is checked the same way
is mf(POST => $hooks, $token, {name => 'ok', url => "$ENV{PUSH_MOCK_HTTP}/hook/$app-ok", eventTypes => 'onDeviceUnregister'})->code,
   201, 'the mock receiver, on its allowed address and port, is accepted';
my $res = mf(PUT => "$hooks/ok", $token, {url => "http://127.0.0.1:$tport/"});
is $res->code, 400, 'changing its URL to the loopback listener is a 400';
like json_body($res) && json_body($res)->{message}, qr/refused address: loopback/, '... naming why';
is json_body(mf(GET => "$hooks/ok", $token))->{url}, "$ENV{PUSH_MOCK_HTTP}/hook/$app-ok", 'the URL is unchanged';
like json_body(mf(POST => $hooks, $token, {name => 'de', url => 'http://localhost/', eventTypes => 'onSubscribe'},
                  headers => ['Accept-Language' => 'de']))->{message},
     qr/^Die Eigenschaft url wird nicht akzeptiert: .*localhost/, 'in the language asked for';

is connections(), 0, 'the loopback listener saw no connection';

# --- a host name that resolves to an internal address: accepted, then refused at connect ---
# This machine's own name resolves through /etc/hosts (127.0.1.1 on Debian, 127.0.0.1 or
# the container's private address elsewhere); ip6-localhost is ::1 on Debian.
my ($name, $addr);
for my $n (Sys::Hostname::hostname(), 'ip6-localhost', 'ip6-loopback') {
    my ($err, @ai) = getaddrinfo($n, undef, {socktype => SOCK_STREAM});
    next if $err || !@ai || $n =~ /^(.*\.)?localhost\.?$/i;
    my (undef, $ip) = getnameinfo($ai[0]{addr}, NI_NUMERICHOST, NIx_NOSERV);
    next unless defined $ip && $ip =~ /^(127\.|10\.|172\.(1[6-9]|2\d|3[01])\.|192\.168\.|::1$)/;
    ($name, $addr) = ($n, $ip);
    last;
}
SKIP: {
    skip 'no host name here resolves to an internal address', 10 unless $name;
    diag "$name resolves to $addr";
    # the listener on that address (the port not allowed)
    my $far = $addr =~ /:/
        ? IO::Socket::IP->new(Listen => 16, LocalHost => $addr, LocalPort => 0, ReuseAddr => 1)
        : IO::Socket::INET->new(Listen => 16, LocalAddr => $addr, LocalPort => 0, ReuseAddr => 1);
    skip "cannot listen on $addr", 10 unless $far;
    my $fport = $far->sockport;
    $res = mf(POST => $hooks, $token, {name => 'named', url => "http://$name:$fport/hook", eventTypes => 'onDeviceRegister'});
    is $res->code, 201, "http://$name:$fport/ is accepted: the name is not an address" or diag $res->as_string;
    my $allowed_too = $addr eq '127.0.0.1';
    if ($allowed_too) {
        is mf(POST => $hooks, $token, {name => 'named-mock', url => "http://$name:$ENV{PUSH_MOCK_HTTP_PORT}/hook/$app-named",
                                       eventTypes => 'onDeviceRegister'})->code, 201, 'and the same name on the allowed port';
    }
    my $log = error_log_size();
    $res = mf(POST => "/apps/$app/devices", $token, {deviceId => 'd1', token => random_hex(64), platform => 'A'});
    ok $res->code =~ /^20[01]$/, 'a device: an onDeviceRegister event';
    my $eid = psql("SELECT event_id FROM push_event WHERE app_id = '$app' AND kind = 'onDeviceRegister'");
    ok wait_for(15, sub { psql("SELECT state FROM push_event_hook WHERE app_id = '$app' AND hook_name = 'named'") eq 'failed' }),
       'the POST to the name failed';
    is psql("SELECT last_error FROM push_event_hook WHERE app_id = '$app' AND hook_name = 'named'"), 'refused by the egress guard',
       'its reason: refused by the egress guard';
    is psql("SELECT attempts FROM push_event_hook WHERE app_id = '$app' AND hook_name = 'named'"), 1, 'and it is not retried';
    ok wait_for(15, sub { psql("SELECT state FROM push_event WHERE event_id = $eid") eq 'failed' }), 'the event ends failed';
    is psql("SELECT failure_reason FROM push_event WHERE event_id = $eid"), 'named: refused by the egress guard',
       "the event's failure reason names the webhook and the guard";
    like error_log_since($log), qr/PUSH0644: sender: webhook named of \Q$app\E refused by the egress guard/,
         'PUSH0644 in the error log names the webhook and the application';
    my $sel = IO::Select->new($far);
    ok !$sel->can_read(0.5), "nothing connected to the listener on $addr";
    if ($allowed_too) {
        my @got = PushMock::mock_wait('webhook', 1, key => "/hook/$app-named", timeout => 10);
        is scalar(@got), 1, 'the same name on the allowed port got the event (the address connected is what counts)';
    } else {
        pass '(the name is not 127.0.0.1: no allowed port to try)';
    }
}

# --- a URL stored before the guard (here: written straight into the table) ---------------------
psql("INSERT INTO push_webhook (app_id, name, url, events) VALUES ('$app', 'old', 'http://127.0.0.1:$tport/old', '{onDeviceUnregister}')");
my $log = error_log_size();
mf(POST => "/apps/$app/devices", $token, {deviceId => 'd9', token => random_hex(64), platform => 'A'});
is mf(DELETE => "/apps/$app/devices/d9", $token)->code, 204, 'a device deleted: an onDeviceUnregister event';
ok wait_for(15, sub { psql("SELECT coalesce(string_agg(state || ':' || coalesce(last_error, ''), ','), '')
                              FROM push_event_hook WHERE app_id = '$app' AND hook_name = 'old'") eq 'failed:refused by the egress guard' }),
   'the stored URL to the loopback listener is refused when it is used';
like error_log_since($log), qr/PUSH0644: sender: webhook old of \Q$app\E refused by the egress guard: the host is a refused address: loopback/,
     'PUSH0644 says why';
ok scalar(mock_requests('webhook', key => "/hook/$app-ok")) >= 1 || wait_for(10, sub { @{ mock_requests('webhook', key => "/hook/$app-ok") } >= 1 }),
   'the allowed webhook got the same event';
is connections(), 0, 'and still nothing connected to the loopback listener';

psql("DELETE FROM push_application WHERE app_id = '$app'") if Test::More->builder->is_passing;
done_testing;
