# Bad directive values fail `apachectl -t` with a message naming the directive and
# what it accepts.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Apache::Test ();

my $httpd = Apache::Test::vars('httpd');
my $dir = tempdir(CLEANUP => 1);

# config_test(body[, dbd => lines instead of DBDriver and DBDParams][, no_dbd_module => 1])
sub config_test {
    my ($body, %o) = @_;
    my $dbd = $o{dbd} // qq{DBDriver pgsql\nDBDParams "dbname=push"};
    my $load_dbd = $o{no_dbd_module} ? '' : qq{LoadModule dbd_module "$ENV{PUSH_TEST_MODDIR}/mod_dbd.so"};
    open my $fh, '>', "$dir/httpd.conf" or die $!;
    print $fh <<"CONF";
ServerRoot "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error_log"
Listen 127.0.0.1:1
LoadModule mpm_event_module "$ENV{PUSH_TEST_MODDIR}/mod_mpm_event.so"
LoadModule authz_core_module "$ENV{PUSH_TEST_MODDIR}/mod_authz_core.so"
$load_dbd
LoadModule push_module "$ENV{PUSH_TEST_MODULE}"
$dbd
$body
CONF
    close $fh;
    my $out = `"$httpd" -t -f "$dir/httpd.conf" 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = config_test("<Location /p>\nSetHandler push-layer\nPushApplication demo\n</Location>");
is $rc, 0, 'a good configuration passes' or diag $out;
($rc, $out) = config_test("PushPublicURL https://push.example.com/\nPushRetention 30d 5m\nPushMaxSchedule 30d\n"
                          . "PushMaxPendingDeliveries 50000\n<Location /p>\nSetHandler push-mobilefirst\n"
                          . "PushMaxSchedule 52w\nPushMaxPendingDeliveries 0\nPushMaxMessagesPerMinute 600\n</Location>");
is $rc, 0, 'the quota, schedule, retention and public URL directives with good values pass' or diag $out;
($rc, $out) = config_test("PushEgressAllow 10.0.0.0/8 127.0.0.1:8080 [::1]:8443 fd00::/8 [fe80::/64]:9000\nPushEgressAllow 192.168.1.5");
is $rc, 0, 'PushEgressAllow with good values passes' or diag $out;
for my $n (0, 10, 19) {
    ($rc, $out) = config_test("PushSenderNice $n");
    is $rc, 0, "PushSenderNice $n passes" or diag $out;
}

# a good certificate followed by a damaged block: libcurl refuses the whole file
# (curl: (77) error setting certificate file), so the configuration does too
my $ca_bad = "$dir/ca-damaged.pem";
{
    open my $in, '<', "$ENV{PUSH_TEST_KEYS}/tls.crt" or die $!;
    open my $out, '>', $ca_bad or die $!;
    my @pem = <$in>;
    print $out @pem, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n";
}
($rc, $out) = config_test(qq{PushProviderCA "$ENV{PUSH_TEST_KEYS}/tls.crt"});
is $rc, 0, 'PushProviderCA with a PEM certificate passes' or diag $out;
my @bad = (
    ['PushApplication "has space"', qr/PushApplication: 'has space' is not an application id/],
    ['PushSessionSource cookie', qr/PushSessionSource: unknown source 'cookie'; accepted: builtin, sql "<query>", remote-user/],
    ['PushSessionSource sql', qr/PushSessionSource sql needs a query/],
    ['PushSessionSource sql "SELECT user_id FROM s"', qr/PushSessionSource sql: the query must take the session token as its only parameter/],
    ['PushSessionSource sql "SELECT u FROM s WHERE a = %s AND b = %s"', qr/only parameter, written %s/],
    ['PushSessionSource builtin "SELECT 1"', qr/PushSessionSource builtin takes no query/],
    ['PushUserDeviceLimit -1', qr/PushUserDeviceLimit: '-1' is not a whole number from 0 to 100000/],
    ['PushUserDeviceLimit many', qr/PushUserDeviceLimit: 'many' is not a whole number/],
    ['PushMaxBodySize 0', qr/PushMaxBodySize: the limit must be at least 1 byte/],
    ['PushMaxBodySize 1k', qr/PushMaxBodySize: '1k' is not a whole number/],
    ['PushNavixyApplication acme_viewer blackberry', qr/PushNavixyApplication acme_viewer: unknown platform 'blackberry'; accepted: apns, fcm, webpush, wns/],
    ['PushNavixyApplication acme_viewer', qr/PushNavixyApplication takes two arguments/],
);
my @bad_server = (
    ['PushSecretKey /nonexistent/push.key', qr/PushSecretKey: .*nonexistent/],
    ['PushOAuthClient c1 abc "apps.read"', qr/PushOAuthClient c1: the secret must be given as its SHA-256 in 64 hex digits/],
    ['PushOAuthClient c1 ' . ('a' x 64) . ' "bad\"scope"', qr/PushOAuthClient c1: the scopes must be a space-separated list/],
    ["PushOAuthClient c1 " . ('a' x 64) . " \"apps.read\"\nPushOAuthClient c1 " . ('b' x 64) . " \"apps.read\"",
     qr/PushOAuthClient c1: this client is configured twice/],
    ['PushOAuthTokenLifetime 10', qr/PushOAuthTokenLifetime: tokens must live at least 60 seconds/],
    ['PushOAuthTokenLifetime soon', qr/PushOAuthTokenLifetime: 'soon' is not a whole number/],
    ['PushSender maybe', qr/PushSender must be On or Off/],
    ['PushSenderThreads 0', qr/PushSenderThreads: '0' is below the minimum 1/],
    ['PushSenderThreads 65', qr/PushSenderThreads: '65' is not a whole number from 0 to 64/],
    ['PushSenderBatch lots', qr/PushSenderBatch: 'lots' is not a whole number/],
    ['PushSenderNice 20', qr/PushSenderNice: '20' is not a whole number from 0 to 19/],
    ['PushSenderNice -5', qr/PushSenderNice: '-5' is not a whole number from 0 to 19/],
    ['PushSenderNice', qr/PushSenderNice takes one argument/],
    ['PushSenderLease 1', qr/PushSenderLease: '1' is below the minimum 5/],
    ['PushSenderBackoff 500 100', qr/PushSenderBackoff: BASE_MS must be at least 1 and CAP_MS at least BASE_MS/],
    ['PushProviderEndpoint apple https://x.example', qr/PushProviderEndpoint: unknown provider 'apple' \(apns, apns-sandbox, fcm, fcm-token, webhook-proxy, wns-token\)/],
    ['PushProviderEndpoint apns ftp://x.example', qr/PushProviderEndpoint apns: 'ftp:\/\/x.example' is not an http:\/\/ or https:\/\/ URL/],
    ['PushProviderCA /nonexistent/ca.pem', qr/PushProviderCA: '\/nonexistent\/ca.pem' is not a readable file/],
    ['PushProviderCA /etc/hostname', qr/PushProviderCA: '\/etc\/hostname' holds no PEM certificate/],
    ["PushProviderCA $ca_bad", qr/PushProviderCA: '\Q$ca_bad\E' does not load as a list of trusted certificates/],
    ["<VirtualHost *:1>\nPushSenderThreads 2\n</VirtualHost>", qr/PushSenderThreads cannot occur within <VirtualHost> section/],
    ["<VirtualHost *:1>\nPushSenderNice 5\n</VirtualHost>", qr/PushSenderNice cannot occur within <VirtualHost> section/],
    ["<VirtualHost *:1>\nPushSecretKey /etc/hostname\n</VirtualHost>", qr/PushSecretKey cannot occur within <VirtualHost> section/],
    ['PushEgressAllow localhost', qr/PushEgressAllow: 'localhost': 'localhost' is not an IPv4 or IPv6 address; accepted: ADDRESS\[\/PREFIX\]\[:PORT\]/],
    ['PushEgressAllow 10.0.0.0/33', qr/PushEgressAllow: '10.0.0.0\/33': '\/33' is not a prefix length from 0 to 32/],
    ['PushEgressAllow 127.0.0.1:99999', qr/PushEgressAllow: '127.0.0.1:99999': ':99999' is not a port from 1 to 65535/],
    ['PushEgressAllow [::1', qr/PushEgressAllow: '\[::1': an IPv6 address opened with '\[' must close with '\]'/],
    ['PushEgressAllow 10.0.0.1 [::1]:8443 fd00::/7 bad', qr/PushEgressAllow: 'bad': 'bad' is not an IPv4 or IPv6 address/],
    ["<VirtualHost *:1>\nPushEgressAllow 10.0.0.0/8\n</VirtualHost>", qr/PushEgressAllow cannot occur within <VirtualHost> section/],
    ['PushPublicURL push.example.com', qr/PushPublicURL: 'push.example.com' is not an http\(s\) URL of a host/],
    ['PushPublicURL https://push.example.com/?a=1', qr/PushPublicURL: .* no query/],
    ['PushPublicURL http://push.example.com:99999', qr/PushPublicURL: .* a port from 1 to 65535/],
    ['PushPublicURL http://push.example.com:0/x', qr/PushPublicURL: .* a port from 1 to 65535/],
    ['PushRetention forever', qr/PushRetention: 'forever' is not a duration up to 3660d/],
    ['PushRetention 7d 0', qr/PushRetention: '0' is not a duration from 1s to 1d/],
    ["<VirtualHost *:1>\nPushRetention 7d\n</VirtualHost>", qr/PushRetention cannot occur within <VirtualHost> section/],
);
for my $case (@bad_server) {
    my ($line, $want) = @$case;
    my ($rc, $out) = config_test($line);
    isnt $rc, 0, "'$line' fails the configuration test";
    like $out, $want, '... naming the directive and what it accepts';
}
push @bad, ['PushMaxSchedule 1y', qr/PushMaxSchedule: '1y' is not a duration from 1s to 3660d/],
           ['PushMaxSchedule 0', qr/PushMaxSchedule: '0' is not a duration/],
           ['PushMaxSchedule 9999d', qr/PushMaxSchedule: '9999d' is not a duration/],
           ['PushMaxPendingDeliveries -5', qr/PushMaxPendingDeliveries: '-5' is not a whole number from 0 to 1000000000/],
           ['PushMaxMessagesPerMinute fast', qr/PushMaxMessagesPerMinute: 'fast' is not a whole number/],
           ['PushMaxMessagesPerMinute 1000000001', qr/PushMaxMessagesPerMinute: '1000000001' is not a whole number from 0 to 1000000000/];
push @bad, ['PushListSize 0', qr/PushListSize: the default must be at least 1 and at most the maximum/],
           ['PushListSize 100 10', qr/PushListSize: the default must be at least 1 and at most the maximum/];
for my $case (@bad) {
    my ($line, $want) = @$case;
    my ($rc, $out) = config_test("<Location /p>\nSetHandler push-layer\n$line\n</Location>");
    isnt $rc, 0, "'$line' fails the configuration test";
    like $out, $want, '... naming the directive and what it accepts';
}
# A location of a dialect that registers into one application must say which: the
# configuration check fails, naming the file and line. MobileFirst (the application is in
# the URL), the OAuth token endpoint and the metrics need none.
for my $h (qw(push-layer push-navixy push-rocketchat)) {
    my ($rc, $out) = config_test("<Location /p>\nSetHandler $h\n</Location>");
    isnt $rc, 0, "SetHandler $h without PushApplication fails the configuration test";
    like $out, qr{PUSH0013: \Q$dir\E/httpd\.conf:\d+: SetHandler $h in <Location /p> has no PushApplication},
         '... naming the file, line and location' or diag $out;
}
($rc, $out) = config_test("<VirtualHost *:1>\n<Location /v>\nSetHandler \"push-layer\"\n</Location>\n</VirtualHost>");
isnt $rc, 0, 'also inside a virtual host, and with a quoted handler';
like $out, qr{PUSH0013: .*SetHandler push-layer in <Location /v> has no PushApplication}, '... named' or diag $out;
($rc, $out) = config_test("<Location /p>\n<If \"true\">\nSetHandler push-layer\n</If>\n</Location>");
isnt $rc, 0, 'also in an <If> inside the location';
# Without mod_dbd, DBDriver pgsql or DBDParams for its server, no handler but the metrics can
# work: the configuration test fails, naming the file and line (PUSH0017, PUSH0018).
my $layer = "<Location /p>\nSetHandler push-layer\nPushApplication demo\n</Location>";
($rc, $out) = config_test($layer, no_dbd_module => 1, dbd => '');
isnt $rc, 0, 'a push handler without mod_dbd fails the configuration test';
like $out, qr{PUSH0017: \Q$dir\E/httpd\.conf:\d+: SetHandler push-layer needs mod_dbd, which is not loaded}, '... naming it' or diag $out;
($rc, $out) = config_test($layer, dbd => 'DBDriver pgsql');
isnt $rc, 0, '... and without DBDParams';
like $out, qr{PUSH0018: \Q$dir\E/httpd\.conf:\d+: SetHandler push-layer has no DBDParams for its server}, '... naming it' or diag $out;
($rc, $out) = config_test($layer, dbd => 'DBDParams "dbname=push"');
isnt $rc, 0, '... and without DBDriver';
like $out, qr{PUSH0018: .*SetHandler push-layer has no DBDriver for its server}, '... naming it' or diag $out;
($rc, $out) = config_test("<Location /imfpush/v1>\nSetHandler push-mobilefirst\n</Location>",
                          dbd => qq{DBDriver sqlite3\nDBDParams "/tmp/x.db"});
isnt $rc, 0, '... and with another driver';
# (mod_dbd itself refuses a driver whose apr-util module is not installed, as sqlite3 is not
# on a stock Debian with only libaprutil1-dbd-pgsql)
like $out, qr{PUSH0018: .*SetHandler push-mobilefirst has DBDriver sqlite3 \(\Q$dir\E/httpd\.conf:\d+\) where mod_push needs pgsql|Can't load driver file apr_dbd_sqlite3},
     '... naming it (or mod_dbd refuses the driver)' or diag $out;
($rc, $out) = config_test("<VirtualHost *:1>\nDBDParams \"dbname=push\"\n$layer\n</VirtualHost>\n"
                          . "<VirtualHost *:2>\n<Location /t>\nSetHandler push-oauth\n</Location>\n</VirtualHost>",
                          dbd => 'DBDriver pgsql');
isnt $rc, 0, "a virtual host's handler does not borrow another virtual host's DBDParams";
like $out, qr{PUSH0018: .*SetHandler push-oauth has no DBDParams}, '... named' or diag $out;
unlike $out, qr{SetHandler push-layer has}, '... while the one with its own passes';
($rc, $out) = config_test("<Location /p>\nSetHandler Push-Layer\nPushApplication demo\n</Location>", dbd => 'DBDriver pgsql');
isnt $rc, 0, 'handler names are not case-sensitive: SetHandler Push-Layer without DBDParams fails';
like $out, qr{PUSH0018: .*SetHandler Push-Layer has no DBDParams}, '... named' or diag $out;
($rc, $out) = config_test($layer, dbd => qq{DBDriver pgsql\nDBDParams "dbname=push"\nDBDriver sqlite3});
isnt $rc, 0, "mod_dbd keeps a server's last DBDriver: pgsql then sqlite3 fails";
like $out, qr{PUSH0018: .*SetHandler push-layer has DBDriver sqlite3|Can't load driver file apr_dbd_sqlite3},
     '... naming the last (or mod_dbd refuses the driver)' or diag $out;
for my $good (
    ["<Location /m>\nSetHandler push-metrics\n</Location>", 'the metrics alone need no database', dbd => ''],
    ["<VirtualHost *:1>\nDBDParams \"dbname=push\"\n</VirtualHost>\n$layer", "a main server's handler may use a virtual host's DBDParams", dbd => 'DBDriver pgsql'],
    ["<VirtualHost *:1>\n$layer\n</VirtualHost>", "a virtual host's handler, the main server's DBDParams"],
    ["<Location /imfpush/v1>\nSetHandler push-mobilefirst\n</Location>\n<Location /t>\nSetHandler push-oauth\n</Location>\n"
       . "<Location /m>\nSetHandler push-metrics\n</Location>", 'MobileFirst, OAuth and metrics need no PushApplication'],
    ["<Location /api>\nPushApplication demo\n</Location>\n<Location /api/v1>\nSetHandler push-rocketchat\n</Location>",
     'PushApplication of a location above is merged in'],
    ["<Location />\nPushApplication demo\n</Location>\n<VirtualHost *:1>\n<Location /p>\nSetHandler push-layer\n</Location>\n</VirtualHost>",
     "... also the main server's, in a virtual host"],
    ["<Location /p>\nSetHandler push-layer\n<If \"true\">\nPushApplication demo\n</If>\n</Location>",
     'PushApplication in an <If> of the location'],
) {
    my ($body, $name, %o) = @$good;
    my ($rc, $out) = config_test($body, %o);
    is $rc, 0, $name or diag $out;
}
($rc, $out) = config_test("<Location /apix>\nPushApplication demo\n</Location>\n<Location /api/v1>\nSetHandler push-rocketchat\n</Location>");
isnt $rc, 0, 'a location that is not a parent path gives it no PushApplication';
done_testing;
