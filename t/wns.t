# WNS end to end: wnsConf (with an Entra tenantId), Windows devices whose channel URIs are
# checked when they register (MobileFirst and Navixy), each notification type with its
# headers and XML delivered to the mock (t/mock/wns.js), the access token fetched, reused
# and renewed on 401, channels gone (404, 410), throttling backed off, and expiry.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_requests mock_wait mock_config);

my ($token) = oauth_token('*');
my $app = 'wns-' . random_hex(6);
my $sid = 'ms-app://s-1-15-2-' . random_hex(8);
my $secret = 'wns+secret/' . random_hex(12);   # characters a form must escape
my $mock = $ENV{PUSH_MOCK_HTTP};

sub mf_code {
    my ($res, $status, $name) = @_;
    my $b = json_body($res);
    ok $res->code == $status && (!$b || !ref $b || !$b->{code} || $b->{code} =~ /^FPWSE/), "$name: $status"
        or diag $res->as_string;
}
sub channel { "$mock/wns/$_[0]?token=" . random_hex(16) }
sub device {
    my ($a, $id, $uri) = @_;
    return mf(POST => "/apps/$a/devices", $token, {deviceId => $id, token => $uri, platform => 'W'});
}
sub send_msg {
    my ($a, $body) = @_;
    my $res = mf(POST => "/apps/$a/messages", $token, $body);
    die "send: " . $res->as_string unless $res->code == 202;
    return json_body($res)->{messageId};
}
sub settled {
    my ($a, $id, $timeout) = @_;
    my $until = time + ($timeout || 20);
    my $b;
    while (time < $until) {
        $b = json_body(mf(GET => "/apps/$a/messages/$id", $token));
        return $b if $b && $b->{status} =~ /^(done|cancelled|expired)$/;
        sleep 0.1;
    }
    diag explain $b;
    return $b;
}
sub key_of { my ($uri) = @_; $uri =~ m{^\Q$mock\E(/wns/[^?]+)} ? $1 : die "not a mock channel: $uri" }
sub one {
    my ($uri, %o) = @_;
    my @got = mock_wait(wns => $o{count} || 1, key => key_of($uri), since => $o{since}, timeout => 15);
    return wantarray ? @got : $got[-1];
}
sub error_of {
    my ($id) = @_;
    return psql("SELECT coalesce(error, '') FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'");
}

mock_reset();
mock_config(wnsClientId => $sid, wnsClientSecret => $secret);
is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'application';

# --- wnsConf -----------------------------------------------------------------------------------
my $conf = "/apps/$app/settings/wnsConf";
mf_code(mf(PUT => $conf, $token, {packageSID => $sid}), 400, 'wnsConf without a clientSecret');
mf_code(mf(PUT => $conf, $token, {packageSID => $sid, clientSecret => $secret, tenantId => 'a/b'}), 400,
        'a tenantId that is not one');
mf_code(mf(PUT => $conf, $token, {packageSID => $sid, clientSecret => $secret, tenantId => 7}), 400,
        'a tenantId that is not a string');
mf_code(mf(PUT => $conf, $token, {packageSID => $sid, clientSecret => $secret, tenant => 'x'}), 400,
        'an unknown property');
is mf(PUT => $conf, $token, {packageSID => $sid, clientSecret => $secret})->code, 200, 'PUT wnsConf';
is_deeply json_body(mf(GET => $conf, $token)), {packageSID => $sid}, 'GET wnsConf hides the secret';

# --- channel URIs at registration ------------------------------------------------------------------
my %ch = map { $_ => channel($_) } qw(toast tile badge raw gone404 gone410 renew throttle status expire);
is device($app, $_, $ch{$_})->code, 201, "a W device on the mock channel ($_)" for sort keys %ch;
for my $bad (['http://db5.notify.windows.com/?token=abc', 'http://'],
             ['https://db5.notify.windows.com.evil.example/?token=abc', 'a host not under notify.windows.com'],
             ['https://evil.example.com/?token=abc', 'another host'],
             ['https://10.1.2.3/?token=abc', 'an internal address'],
             ['https://169.254.169.254/latest/meta-data', 'the metadata address'],
             ['http://127.0.0.1:1/wns/x', 'loopback on a port PushEgressAllow does not name'],
             ['https://u:p@db5.notify.windows.com/', 'credentials in the URI'],
             ['not a url', 'not a URL']) {
    mf_code(device($app, 'bad-' . random_hex(4), $bad->[0]), 400, "refused at registration: $bad->[1]");
}
is psql("SELECT count(*) FROM push_device WHERE app_id = '$app' AND device_id LIKE 'bad-%'"), 0,
   'no refused device was stored';
mf_code(mf(PUT => "/apps/$app/devices/toast", $token, {token => 'https://10.0.0.1/x'}), 400,
        'PUT a refused channel URI on a W device');
is psql("SELECT token FROM push_device WHERE app_id = '$app' AND device_id = 'toast'"), $ch{toast},
   '... the device keeps its channel';
is mf(POST => "/apps/$app/devices", $token, {deviceId => 'apple', token => 'f' x 64, platform => 'A'})->code,
   201, 'the channel check is for W devices only';
mf(DELETE => "/apps/$app/devices/apple", $token);
{
    my $u = 'wns-nvx-' . random_hex(6);
    my $hash = new_session($u, 'test-navixy');
    my $res = nvx(POST => '/user/session/push_token/bind', 'json',
                  {hash => $hash, application => 'acme_viewer', token => 'https://10.0.0.1/wns'});
    my $b = json_body($res);
    ok $res->code == 400 && $b && $b->{status}{code} == 7, 'Navixy: a wns binding to an internal address: 400, code 7'
        or diag $res->as_string;
    is $b->{errors}[0]{parameter}, 'token', '... naming the token';
    like $b->{errors}[0]{error} // '', qr/WNS channel URI: the host is a refused address/, '... and why';
    $res = nvx(POST => '/user/session/push_token/bind', 'json',
               {hash => $hash, application => 'acme_viewer', token => 'https://db5.notify.windows.com/?token=ok'});
    is $res->code, 200, 'Navixy: a WNS channel binds';
}

# --- settings.wns at the API ------------------------------------------------------------------------
for my $bad ([{badge => 5}, 'badge not an object'], [{badge => {value => JSON::PP::true()}}, 'badge value a boolean'],
             [{cachePolicy => 'sometimes'}, 'cachePolicy'], [{expirationTime => -5}, 'expirationTime negative'],
             [{raw => {payload => 5}}, 'raw payload a number'], [{toast => {title => [1]}}, 'toast title not a string'],
             [{tile => 'big'}, 'tile not an object']) {
    mf_code(mf(POST => "/apps/$app/messages", $token,
               {message => {alert => 'x'}, settings => {wns => $bad->[0]}, target => {deviceIds => ['toast']}}),
            400, "settings.wns refused: $bad->[1]");
}

# --- a toast -------------------------------------------------------------------------------------------
my $alert = q{Tom & Jerry say "<hi>" it's};
my $id = send_msg($app, {message => {alert => $alert}, collapseKey => 'cartoons', expiration => 3600,
                         settings => {wns => {toast => {title => 'A<B>'}, cachePolicy => JSON::PP::false()}},
                         target => {deviceIds => ['toast']}});
my $s = settled($app, $id);
is $s->{summary}{sent}, 1, 'the toast is sent';
my $r = one($ch{toast});
my $h = $r->{headers};
like $h->{authorization} // '', qr{^Bearer EgAcAQMAAAAALYAAY/mock-}, 'with the access token';
is $h->{'x-wns-type'}, 'wns/toast', 'X-WNS-Type wns/toast';
like $h->{'content-type'} // '', qr{^text/xml}, 'Content-Type text/xml';
ok $h->{'x-wns-ttl'} >= 3590 && $h->{'x-wns-ttl'} <= 3600, 'X-WNS-TTL from the expiration' or diag $h->{'x-wns-ttl'};
is $h->{'x-wns-tag'}, 'cartoons', 'X-WNS-Tag from the collapse key';
is $h->{'x-wns-cache-policy'}, 'no-cache', 'X-WNS-Cache-Policy';
is $r->{body}, '<toast><visual><binding template="ToastGeneric"><text id="1">A&lt;B&gt;</text>'
             . '<text id="2">Tom &amp; Jerry say &quot;&lt;hi&gt;&quot; it&apos;s</text></binding></visual></toast>',
   'the XML, title and alert escaped';
is $r->{xmlError}, undef, 'well formed, says the mock';
is $r->{status}, 200, 'the mock accepted it';

my @tok = @{ mock_requests('wns-token') };
is scalar @tok, 1, 'one token request';
is $tok[0]{form}{grant_type}, 'client_credentials', '... client credentials';
is $tok[0]{form}{client_id}, $sid, '... the package SID as client_id';
is $tok[0]{form}{client_secret}, $secret, '... its secret, escaped in the form and intact';
is $tok[0]{form}{scope}, 'notify.windows.com', '... scope notify.windows.com';

# --- tile, badge, raw ------------------------------------------------------------------------------------
my %want = (
    tile  => [{tile => {visual => {binding => {template => 'TileWide', text => ['Score', '2 & 1']}}}}, 'wns/tile',
              qr{^text/xml}, '<tile><visual><binding template="TileWide"><text id="1">Score</text><text id="2">2 &amp; 1</text></binding></visual></tile>'],
    badge => [{badge => {value => '7'}}, 'wns/badge', qr{^text/xml}, '<badge value="7"/>'],
    raw   => [{raw => {payload => '{"k":"<v>"}'}, expirationTime => 60}, 'wns/raw', qr{^application/octet-stream},
              '{"k":"<v>"}'],
);
for my $type (sort keys %want) {
    my ($settings, $wns_type, $ct, $body) = @{ $want{$type} };
    my $mid = send_msg($app, {message => {alert => 'ignored for badge and raw'}, settings => {wns => $settings},
                              target => {deviceIds => [$type]}});
    is settled($app, $mid)->{summary}{sent}, 1, "$type: sent";
    my $got = one($ch{$type});
    is $got->{headers}{'x-wns-type'}, $wns_type, "$type: X-WNS-Type $wns_type";
    like $got->{headers}{'content-type'} // '', $ct, "$type: Content-Type";
    is $got->{body}, $body, "$type: the body";
}
is one($ch{raw})->{headers}{'x-wns-ttl'}, 60, 'raw: X-WNS-TTL from settings.wns.expirationTime';
is scalar @{ mock_requests('wns-token') }, 1, 'the access token was reused';

# --- channels gone ---------------------------------------------------------------------------------------
for my $code (404, 410) {
    my $dev = "gone$code";
    mock_script(wns => key_of($ch{$dev}), {status => $code});
    my $mid = send_msg($app, {message => {alert => "gone $code"}, target => {deviceIds => [$dev]}});
    is settled($app, $mid)->{summary}{invalidToken}, 1, "$code: an invalid token";
    is psql("SELECT invalid_since IS NOT NULL FROM push_device WHERE app_id = '$app' AND device_id = '$dev'"), 't',
       "$code: the device is disabled";
}

# --- 401: a new token, and the delivery again --------------------------------------------------------------
my $since = mock_requests('wns-token')->[-1]{seq};
mock_script(wns => key_of($ch{renew}), {status => 401});
$id = send_msg($app, {message => {alert => 'renew'}, target => {deviceIds => ['renew']}});
is settled($app, $id)->{summary}{sent}, 1, '401: sent in the end';
my @renew = one($ch{renew}, count => 2);
is_deeply [map { $_->{status} } @renew], [401, 200], '401, then 200';
isnt $renew[1]{headers}{authorization}, $renew[0]{headers}{authorization}, '... with another token';
is scalar @{ mock_requests('wns-token', since => $since) }, 1, '... fetched once more';

# --- throttling backs off --------------------------------------------------------------------------------
mock_script(wns => key_of($ch{throttle}), {status => 406});
$id = send_msg($app, {message => {alert => 'throttled'}, target => {deviceIds => ['throttle']}});
is settled($app, $id)->{summary}{sent}, 1, '406: sent in the end';
my @thr = one($ch{throttle}, count => 2);
is_deeply [map { $_->{status} } @thr], [406, 200], '406, then 200';
ok(($thr[1]{time} - $thr[0]{time}) >= 100, '... after a backoff') or diag $thr[1]{time} - $thr[0]{time};

mock_script(wns => key_of($ch{status}), {status => 200, headers => {'X-WNS-Status' => 'channelthrottled'}});
$id = send_msg($app, {message => {alert => 'status'}, target => {deviceIds => ['status']}});
is settled($app, $id)->{summary}{sent}, 1, 'X-WNS-Status channelthrottled: sent in the end';
is scalar @{ mock_requests('wns', key => key_of($ch{status})) }, 2, '... on the second attempt';

# --- expiry ------------------------------------------------------------------------------------------------
mock_script(wns => key_of($ch{expire}), {status => 406, retryAfter => 30});
$id = send_msg($app, {message => {alert => 'soon stale'}, expiration => 3, target => {deviceIds => ['expire']}});
is settled($app, $id)->{summary}{expired}, 1, 'a retry past the expiry: expired';
is scalar @{ mock_requests('wns', key => key_of($ch{expire})) }, 1, '... and not tried again';

# --- a message WNS cannot take ------------------------------------------------------------------------------
$id = send_msg($app, {message => {alert => 'x'}, collapseKey => 'longer-than-sixteen', target => {deviceIds => ['toast']}});
is settled($app, $id)->{summary}{failed}, 1, 'a collapse key longer than a WNS tag: failed';
like error_of($id), qr/16/, '... saying why';

# --- Entra ID: the tenant's endpoint and scope -------------------------------------------------------------------
{
    my $entra = 'wns-entra-' . random_hex(6);
    my $tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    is mf(POST => '/apps', $token, {applicationId => $entra})->code, 201, 'an Entra application';
    is mf(PUT => "/apps/$entra/settings/wnsConf", $token, {packageSID => $sid, clientSecret => $secret, tenantId => $tenant})->code,
       200, 'wnsConf with a tenantId';
    is json_body(mf(GET => "/apps/$entra/settings/wnsConf", $token))->{tenantId}, $tenant, '... shown';
    my $uri = channel('entra');
    is device($entra, 'e1', $uri)->code, 201, 'a device';
    my $since = @{ mock_requests('wns-token') } ? mock_requests('wns-token')->[-1]{seq} : 0;
    my $mid = send_msg($entra, {message => {alert => 'from Entra'}, target => {deviceIds => ['e1']}});
    is settled($entra, $mid)->{summary}{sent}, 1, 'sent';
    my ($t) = @{ mock_requests('wns-token', since => $since) };
    is $t->{form}{scope}, 'https://wns.windows.com/.default', 'the Entra scope';
    mf(DELETE => "/apps/$entra", $token);
}

# --- the credentials refused ---------------------------------------------------------------------------------
{
    my $bad = 'wns-bad-' . random_hex(6);
    is mf(POST => '/apps', $token, {applicationId => $bad})->code, 201, 'an application with a wrong secret';
    is mf(PUT => "/apps/$bad/settings/wnsConf", $token, {packageSID => $sid, clientSecret => 'wrong'})->code, 200,
       '... its wnsConf';
    is device($bad, 'b1', channel('bad'))->code, 201, '... a device';
    my $mid = send_msg($bad, {message => {alert => 'never'}, target => {deviceIds => ['b1']}});
    is settled($bad, $mid)->{summary}{failed}, 1, 'the token endpoint refused the credentials: failed';
    like psql("SELECT paused_reason FROM push_credential WHERE app_id = '$bad' AND provider = 'wns'"),
         qr/refused the credentials \(HTTP 400\)/, '... and the credentials are paused, in our words';
    unlike psql("SELECT coalesce(error, '') FROM push_delivery WHERE app_id = '$bad'"), qr/invalid_client|Invalid client/,
           "... none of the endpoint's own text reaches the tenant";
    mf(DELETE => "/apps/$bad", $token);
}

mock_config(wnsClientId => undef, wnsClientSecret => undef);
mf(DELETE => "/apps/$app", $token);
done_testing;
