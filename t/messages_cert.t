# APNs certificate auth end to end: a .p12 uploaded through the settings API is presented by
# the sender as its TLS client certificate to the mock APNs (production endpoint, TLS), with
# no provider token; and the sender's privacy of what it stored.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use HTTP::Request::Common ();
use lib 't/lib';
use PushTest;
use PushMock qw(mock_wait mock_script mock_reset);

my ($token) = oauth_token('*');
my $app = 'cert-' . random_hex(6);
is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'application';
my $dir = tempdir(CLEANUP => 1);
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=com.example.certapp "
       . "-days 30 -keyout $dir/k.pem -out $dir/c.pem >/dev/null 2>&1") == 0 or BAIL_OUT('openssl req');
system("openssl pkcs12 -export -inkey $dir/k.pem -in $dir/c.pem -passout pass:pw-" . "123 -out $dir/apns.p12") == 0
    or BAIL_OUT('openssl pkcs12');
my $p12 = do { local $/; open my $fh, '<:raw', "$dir/apns.p12" or die; <$fh> };
my $req = HTTP::Request::Common::POST('http://x/', Content_Type => 'form-data',
    Content => [certificate => [undef, 'apns.p12', Content => $p12], password => 'pw-123', isSandBox => 'false']);
is mf(PUT => "/apps/$app/settings/apnsConf", $token, $req->content,
      headers => ['Content-Type' => scalar $req->header('Content-Type')])->code, 200, 'a .p12 for production';

my $tok = random_hex(64);
is mf(POST => "/apps/$app/devices", $token, {deviceId => 'c1', token => $tok, platform => 'A'})->code, 201, 'a device';
my $res = mf(POST => "/apps/$app/messages", $token, {message => {alert => 'by certificate'}});
is $res->code, 202, 'a message';
my ($r) = mock_wait('apns', 1, key => $tok);
ok $r, 'APNs received it';
ok $r->{tls}, 'over TLS';
is $r->{clientCert}, 'com.example.certapp', 'the sender presented the uploaded certificate';
ok !exists $r->{headers}{authorization}, 'and no provider token';
is $r->{status}, 200, 'the mock accepted it';
ok !exists $r->{headers}{'apns-topic'} || $r->{headers}{'apns-topic'} ne '', 'no empty apns-topic header';
my $id = json_body($res)->{messageId};
my $s;
for (1 .. 100) {
    $s = json_body(mf(GET => "/apps/$app/messages/$id", $token));
    last if $s->{status} eq 'done';
    sleep 0.1;
}
is $s->{summary}{sent}, 1, 'the summary counts it sent';

# the .p12 is opened once per credential version, not on every TLS connection: each
# answer closes the connection (GOAWAY), so each of these pushes opens a new one
my $mark = error_log_size();
my @toks = map { random_hex(64) } 1 .. 4;
mf(POST => "/apps/$app/devices", $token, {deviceId => "g$_", token => $toks[$_ - 1], platform => 'A'}) for 1 .. 4;
mock_script('apns', $_, {status => 200, goaway => JSON::PP::true()}) for @toks;
for my $i (1 .. 4) {
    is mf(POST => "/apps/$app/messages", $token, {message => {alert => "again $i"}, target => {deviceIds => ["g$i"]}})->code,
       202, "message $i";
    ok scalar(mock_wait('apns', 1, key => $toks[$i - 1])), "... arrives by certificate";
}
my $log = error_log_since($mark);
is scalar(() = $log =~ /PUSH0624: .* of \Q$app\E is opened/g), 0,
   'four more connections, the certificate not opened again' or diag $log;
my $conns = () = grep { $_->{clientCert} } map { @{ PushMock::mock_requests('apns', key => $_) } } @toks;
is $conns, 4, 'each with the certificate';
is mf(PUT => "/apps/$app/settings/apnsConf", $token, $req->content,
      headers => ['Content-Type' => scalar $req->header('Content-Type')])->code, 200, 'the settings again';
sleep 11;   # a read credential is trusted for 10 s
my $tn = random_hex(64);
mf(POST => "/apps/$app/devices", $token, {deviceId => 'n1', token => $tn, platform => 'A'});
mf(POST => "/apps/$app/messages", $token, {message => {alert => 'new version'}, target => {deviceIds => ['n1']}});
ok scalar(mock_wait('apns', 1, key => $tn)), 'a push after the change arrives';
like error_log_since($mark), qr/PUSH0624: .* of \Q$app\E is opened/, 'the new version is opened once';
mf(DELETE => "/apps/$app", $token);
done_testing;
