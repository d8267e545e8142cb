# Values that parse but cannot be kept as written, and identifiers no URL could name
# again: each refused with 400 in the dialect's own format, never a 503 from PostgreSQL
# or a number silently changed. NaN and Infinity (json-c reads them, jsonb refuses them),
# integers beyond 64 bits (json-c clamps them), doubles out of range, leap seconds, WNS
# badge texts, Web Push subscriptions holding a NUL, a client id that is not UTF-8 at the
# token endpoint, and '/' in device ids, tag and webhook names.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;
use MIME::Base64 ();
use IO::Socket::INET;
use URI;

my ($token) = oauth_token('*');
my $app = 'values-' . random_hex(6);
is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'an application';

sub mf_400 {
    my ($res, $name, $property) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, 400, 'status 400';
        like $res->header('Content-Type') // '', qr{^application/json}, 'JSON, not an HTML page';
        is $b && $b->{code}, 'FPWSE0005E', 'code FPWSE0005E';
        like $b && $b->{message}, qr/\Q$property\E/, "names $property" if $property;
    };
}
my $size = error_log_size();

# --- numbers: MobileFirst messages ----------------------------------------------------------------
my $msg = sub { '{"message":{"alert":"hi"},"target":{"deviceIds":["d1"]},' . $_[0] . '}' };
for my $case (['NaN', 'NaN'], ['Infinity', 'Infinity'], ['-Infinity', '-Infinity'],
              ['99999999999999999999999', 'an integer beyond 64 bits'],
              ['-99999999999999999999999', 'a negative integer beyond 64 bits'],
              ['1e400', 'a double beyond range'], ['1e-400', 'a double that underflows to 0'],
              ['[1, NaN]', 'NaN in an array'], ['1.', 'a point with no digit after it'],
              ['-0.', 'minus zero point'], ['1.e3', 'a point before the exponent']) {
    my ($v, $what) = @$case;
    mf_400(mf(POST => "/apps/$app/messages", $token, $msg->(qq("settings":{"apns":{"payload":{"k":$v}}}))),
           "$what in settings.apns.payload", 'settings.apns.payload.k');
}
mf_400(mf(POST => "/apps/$app/messages", $token, $msg->('"settings":{"gcm":{"payload":{"k":NaN}}}')),
       'NaN in settings.gcm.payload', 'settings.gcm.payload.k');
mf_400(mf(POST => "/apps/$app/messages/bulk", $token, '[' . $msg->('"settings":{"apns":{"payload":{"k":1}}}') . ','
                                                   . $msg->('"settings":{"apns":{"payload":{"k":NaN}}}') . ']'),
       'NaN in the second message of a bulk', '[1].settings.apns.payload.k');
{
    my $res = mf(POST => "/apps/$app/messages", $token,
                 $msg->('"settings":{"apns":{"payload":{"a":9223372036854775806,"b":-0.5,"c":1.5e-300,"d":0}}}'));
    is $res->code, 202, 'numbers within 64 bits are accepted';
    is psql("SELECT body->'settings'->'apns'->'payload'->>'a' FROM push_message WHERE app_id = '$app'"),
       '9223372036854775806', '... and stored as written';
}
mf_400(mf(PUT => "/apps/$app/settings/gcmConf", $token, '{"senderId": "1", "apiKey": "k", "x": NaN}'),
       'NaN in a settings body');

# --- leap seconds -----------------------------------------------------------------------------------
mf_400(mf(POST => "/apps/$app/messages", $token, $msg->('"sendAt":"2027-01-01T12:34:60Z"')),
       'a leap second in sendAt (:60)', 'sendAt');
mf_400(mf(POST => "/apps/$app/messages", $token, $msg->('"sendAt":"2026-12-31T23:59:60Z"')),
       '... also at the end of a year', 'sendAt');
for my $when ('2027-01-01T-1:00:00Z', '2027-01-01T10:00:-1Z', '2027-01-01T10:-5:00Z', '2027-01-01T10:00: 5Z',
              '2027-01-01T10:00:00+05:-3') {
    mf_400(mf(POST => "/apps/$app/messages", $token, $msg->(qq("sendAt":"$when"))), "a sign or space for a digit: $when",
           'sendAt');
}

# --- WNS badge texts ------------------------------------------------------------------------------------
for my $v ('"99999999999"', '"-1"', '"1.5"', '""', '"Alert"') {
    mf_400(mf(POST => "/apps/$app/messages", $token, $msg->(qq("settings":{"wns":{"badge":{"value":$v}}}))),
           "a WNS badge value $v", 'settings.wns.badge');
}
for my $v ('"12"', '"alert"', '"newMessage"', '7') {
    is mf(POST => "/apps/$app/messages", $token, $msg->(qq("settings":{"wns":{"badge":{"value":$v}}})))->code, 202,
       "a WNS badge value $v is accepted";
}

# --- Web Push subscriptions holding a NUL -------------------------------------------------------------
{
    my $p256dh = 'BH80UxdCKcLF-si3LKxfVDGNH9ncRI0pBtgJrSTEqL2GyKrf8Qa3R39W-XxxE8buub4yYBCaYNGHlyj1zADuPd0';
    my $auth = 'YhtqrBKMHILngsrq_7TREw';
    my $sub = sub { my ($e, $p, $a) = @_; qq({"endpoint":"$e","keys":{"p256dh":"$p","auth":"$a"}}) };
    for my $case ([$sub->('https://push.example.net/wp/x\\u0000.evil', $p256dh, $auth), 'the endpoint'],
                  [$sub->('https://push.example.net/wp/x', $p256dh . '\\u0000garbage', $auth), 'keys.p256dh'],
                  [$sub->('https://push.example.net/wp/x', $p256dh, $auth . '\\u0000'), 'keys.auth']) {
        my ($text, $where) = @$case;
        mf_400(mf(POST => "/apps/$app/devices", $token,
                  {deviceId => 'wp-' . random_hex(6), platform => 'B', token => $text}),
               "a NUL in a Web Push subscription's $where", 'token');
    }
}

# --- identifiers that become path segments ----------------------------------------------------------
mf_400(mf(POST => "/apps/$app/devices", $token, {deviceId => "a/$_", token => 't-' . random_hex(8), platform => 'A'}),
       "a deviceId with '/' ($_)", 'deviceId') for 'g', 'b/c';
mf_400(mf(POST => "/apps/$app/devices", $token, {deviceId => $_, token => 't-' . random_hex(8), platform => 'A'}),
       "the deviceId '$_'", 'deviceId') for '.', '..';
mf_400(mf(POST => "/apps/$app/tags", $token, {name => 'a/b'}), "a tag name with '/'", 'name');
mf_400(mf(POST => "/apps/$app/webhooks", $token, {name => 'h/1', url => 'https://hooks.example.net/x',
                                                eventTypes => ['onDeviceRegister']}),
       "a webhook name with '/'", 'name');
is mf(POST => "/apps/$app/devices", $token, {deviceId => 'a.b..c', token => 't-' . random_hex(8), platform => 'A'})->code,
   201, 'dots inside a deviceId are fine';

# --- the other dialects -----------------------------------------------------------------------------------
{
    my $lt = new_session('values-layer-' . random_hex(6), 'test-layer');
    my $good = sub { {token => random_hex(64), type => 'apns', device_id => 'v-' . random_hex(8), @_} };
    my $res = layer(POST => '/push_tokens', $lt, '{"token":"' . random_hex(64) . '","type":"apns","device_id":"x","n":NaN}');
    my $b = json_body($res);
    subtest 'Layer: NaN' => sub {
        is $res->code, 400, 'status 400';
        is $b && $b->{code}, 10, 'code 10';
        is $b && $b->{data}{property}, 'n', 'names n';
        like $b && $b->{message}, qr/finite number/, 'says why';
    };
    $res = layer(POST => '/push_tokens', $lt, $good->(device_id => 'x/y'));
    $b = json_body($res);
    subtest "Layer: a device_id with '/'" => sub {
        ok $res->code == 400 || $res->code == 422, 'refused (' . $res->code . ')';
        is $b && $b->{data}{property}, 'device_id', 'names device_id';
    };
}
{
    my $user = 'values-rc-' . random_hex(6);
    my $t = new_session($user, 'test-rc');
    my $res = request(POST => '/api/v1/push.token',
                      headers => ['X-User-Id' => $user, 'X-Auth-Token' => $t, 'Content-Type' => 'application/json'],
                      content => '{"type":"gcm","value":"' . random_hex(40) . '","appName":"a","n":Infinity}');
    my $b = json_body($res);
    subtest 'Rocket.Chat: Infinity' => sub {
        is $res->code, 400, 'status 400';
        is $b && $b->{errorType}, 'error-invalid-param', 'error-invalid-param';
        is $b && $b->{success}, JSON::PP::false(), 'success false';
    };
}
{
    my $hash = new_session('values-nvx-' . random_hex(6), 'test-navixy');
    my $res = request(POST => '/user/session/push_token/bind', headers => ['Content-Type' => 'application/json'],
                      content => qq({"hash":"$hash","application":"navixy_android_viewer","token":"x","n":NaN}));
    my $b = json_body($res);
    subtest 'Navixy: NaN' => sub {
        is $res->code, 400, 'status 400';
        is $b && $b->{status}{code}, 7, 'code 7';
        is $b && $b->{errors}[0]{parameter}, 'n', 'names n';
    };
}

# --- the token endpoint: a client id that is not UTF-8 ------------------------------------------------
for my $id ("\xff", "\xc3(", "ok\xfe") {
    my $res = request(POST => '/mfp/api/az/v1/token',
                      headers => ['Authorization' => 'Basic ' . MIME::Base64::encode_base64("$id:secret", ''),
                                  'Content-Type' => 'application/x-www-form-urlencoded'],
                      content => 'grant_type=client_credentials');
    my $b = json_body($res);
    subtest 'a client id of bytes that are not UTF-8 (' . unpack('H*', $id) . ')' => sub {
        is $res->code, 401, 'status 401';
        is $b && $b->{error}, 'invalid_client', 'invalid_client';
    };
}

# --- a body httpd's HTTP_IN refuses: answered in the dialect's format, not as an HTML page ----------
sub raw_request {
    my ($path, $headers, $body) = @_;
    my $url = URI->new(Apache::TestRequest::resolve_url($path));
    my $sock = IO::Socket::INET->new(PeerAddr => $url->host, PeerPort => $url->port, Timeout => 10) or die "connect: $!";
    print $sock "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" . join('', map { "$_\r\n" } @$headers)
        . "Transfer-Encoding: chunked\r\n\r\n" . $body;
    local $/;
    my $text = <$sock>;
    return HTTP::Response->parse($text // '');
}
{
    my $lt = new_session('values-chunk-' . random_hex(6), 'test-layer');
    my @layer = ('Accept: application/vnd.layer+json; version=1.0', qq{Authorization: Layer session-token="$lt"},
                 'Content-Type: application/json');
    my @mf = ("Authorization: Bearer $token", 'Content-Type: application/json');
    for my $case (["zz\r\nabc\r\n0\r\n\r\n", 400, 'a chunk size that is not hex'],
                  ["ffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 413, 'a chunk size beyond 64 bits']) {
        my ($body, $status, $what) = @$case;
        my $res = raw_request('/push_tokens', \@layer, $body);
        my $b = json_body($res);
        subtest "Layer: $what" => sub {
            is $res->code, $status, "status $status";
            like $res->header('Content-Type') // '', qr{^application/}, 'JSON, not an HTML page';
            is $b && $b->{code}, 10, 'code 10';
        };
        $res = raw_request("/imfpush/v1/apps/$app/devices", \@mf, $body);
        $b = json_body($res);
        subtest "MobileFirst: $what" => sub {
            is $res->code, $status, "status $status";
            like $res->header('Content-Type') // '', qr{^application/json}, 'JSON, not an HTML page';
            like $b && $b->{code}, qr/^FPWSE/, 'a MobileFirst code';
        };
    }
}

# --- the handlers serve no files: no filesystem mapping, no TRACE echo ---------------------------------
{
    my $long = 'a' x 5000;
    my $res = mf(GET => "/apps/$app/devices/$long", $token);
    my $b = json_body($res);
    subtest 'a path segment longer than a file name' => sub {
        is $res->code, 404, 'status 404, not core\'s 403';
        is $b && $b->{code}, 'FPWSE0001E', 'in MobileFirst\'s format';
    };
    $res = mf(TRACE => "/apps/$app", $token);
    subtest 'TRACE on MobileFirst' => sub {
        is $res->code, 405, 'status 405';
        like $res->header('Content-Type') // '', qr{^application/json}, 'in MobileFirst\'s format';
        unlike $res->content, qr/\Q$token\E/, 'the bearer token is not echoed';
    };
    my $lt = new_session('values-trace-' . random_hex(6), 'test-layer');
    $res = layer(TRACE => '/push_tokens', $lt);
    subtest 'TRACE on Layer' => sub {
        is $res->code, 405, 'status 405';
        unlike $res->content, qr/\Q$lt\E/, 'the session token is not echoed';
    };
}

# --- what mod_push does not claim: regex locations and URIs rewritten onto files ------------------
{
    my $user = 'values-match-' . random_hex(6);
    my $t = new_session($user, 'test-rc');
    my $res = request(GET => '/rcmatch/push.info', headers => ['X-User-Id' => $user, 'X-Auth-Token' => $t]);
    is $res->code, 200, 'Rocket.Chat under a <LocationMatch> still routes';
    is request(GET => '/mfmatch/health/status')->code, 200, 'MobileFirst under a <LocationMatch> still routes';
    my $root = Apache::Test::vars('documentroot');
    open my $f, '>', "$root/push-readme.txt" or die "$root: $!";
    print $f "a file\n";
    close $f;
    $res = request(GET => '/imfpush/v1/readme');
    is $res->code, 200, 'a RewriteRule [PT] from a push location onto a file serves the file';
    like $res->content, qr/a file/, '... its content';
    unlink "$root/push-readme.txt";
}

my $log = error_log_since($size);
unlike $log, qr/PUSH0011|invalid byte sequence|is invalid\./, 'nothing reached PostgreSQL as an error';
done_testing;
