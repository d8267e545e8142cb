# Bad input that reaches storage, in every dialect: a NUL (\u0000) anywhere in a JSON body is
# a 400 in the dialect's format that names the property (never a PostgreSQL error, and the
# content stays out of the log); numbers out of range, impossible dates and schedules past
# PushMaxSchedule are 400s. Links (href, Location, pageInfo) come from PushPublicURL or the
# server's own name, never from a hostile Host header.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my ($token) = oauth_token('*');
my $app = 'input-' . random_hex(6);
my $mark = error_log_size();
my $SECRET = 'do-not-log-' . random_hex(8);

# raw JSON text, so that the escapes are exactly as written
sub raw_mf {
    my ($method, $path, $text, %o) = @_;
    return request($method, ($o{prefix} // '') . "/imfpush/v1$path",
                   headers => [Authorization => "Bearer $token", 'Content-Type' => 'application/json',
                               @{ $o{headers} || [] }],
                   content => $text, module => $o{module});
}
sub mf_400 {
    my ($res, $code, $needle, $name) = @_;
    my $b = json_body($res);
    ok $res->code == 400 && $b && $b->{code} eq $code && index($b->{message}, $needle) >= 0, $name
        or diag $res->as_string;
}

is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'an application';

# --- NUL --------------------------------------------------------------------------------------
mf_400(raw_mf(POST => "/apps/$app/messages",
              qq({"message":{"alert":"hi"},"settings":{"apns":{"payload":{"k":"$SECRET\\u0000x"}}}})),
       'FPWSE0005E', 'settings.apns.payload.k', 'MobileFirst message: a NUL in the custom payload is a 400 naming it');
mf_400(raw_mf(POST => "/apps/$app/messages/bulk",
              qq([{"message":{"alert":"ok"}},{"message":{"alert":"hi"},"settings":{"gcm":{"payload":{"list":["a","\\u0000"]}}}}])),
       'FPWSE0005E', '[1].settings.gcm.payload.list[1]', 'a bulk names the message and the place');
mf_400(raw_mf(PUT => "/apps/$app/settings/smsConf",
              qq({"name":"gw","host":"sms.example.com","port":443,"parameters":[{"name":"to$SECRET\\u0000","value":"x"}]})),
       'FPWSE0005E', 'parameters[0].name', 'smsConf: a NUL in a parameter');
mf_400(raw_mf(POST => "/apps/$app/messages", qq({"message":{"alert":"hi"},"settings":{"apns":{"payload":{"a\\u0000b":1}}}})),
       'FPWSE0005E', '(a property name)', 'a NUL in a property name');
is mf(POST => "/apps/$app/messages", $token,
      {message => {alert => 'a backslash and u0000 is text'}, settings => {apns => {payload => {k => "\\u0000"}}}})->code,
   202, 'an escaped backslash before u0000 is no NUL';

my $user = 'in-' . random_hex(6);
my $ls = new_session($user, 'test-layer');
my $res = layer(POST => '/push_tokens', $ls,
                qq({"token":"t1","type":"apns","device_id":"dev-$user","apns_bundle_id":"com.x$SECRET\\u0000"}));
my $b = json_body($res);
ok $res->code == 400 && $b && $b->{id} eq 'invalid_request' && ($b->{data}{property} // '') eq 'apns_bundle_id',
   'Layer: 400 invalid_request naming apns_bundle_id' or diag $res->as_string;

my $rs = new_session($user, 'test-rc');
$res = request(POST => '/api/v1/push.token', headers => ['X-User-Id' => $user, 'X-Auth-Token' => $rs,
                                                        'Content-Type' => 'application/json'],
               content => qq({"type":"apn","value":"$SECRET\\u0000","appName":"chat.rocket.ios"}));
$b = json_body($res);
ok $res->code == 400 && $b && !$b->{success} && $b->{errorType} eq 'error-invalid-param' && $b->{error} =~ /'value'/,
   'Rocket.Chat: 400 error-invalid-param naming value' or diag $res->as_string;

my $ns = new_session($user, 'test-navixy');
$res = request(POST => '/user/session/push_token/bind', headers => ['Content-Type' => 'application/json'],
               content => qq({"hash":"$ns","application":"navixy_android_viewer","token":"$SECRET\\u0000"}));
$b = json_body($res);
ok $res->code == 400 && $b && $b->{status}{code} == 7 && $b->{errors}[0]{parameter} eq 'token',
   'Navixy: 400 code 7 naming token' or diag $res->as_string;

my $log = error_log_since($mark);
unlike $log, qr/\Q$SECRET\E/, 'no content in the error log';
unlike $log, qr/unsupported Unicode escape|invalid byte sequence|PUSH0603|PUSH0501/, 'and no PostgreSQL error';

# --- numbers and dates ------------------------------------------------------------------------
sub msg_400 {
    my ($body, $prop, $name, %o) = @_;
    mf_400(raw_mf(POST => "/apps/$app/messages", JSON::PP->new->encode($body), %o), 'FPWSE0005E', $prop, $name);
}
sub later { my $s = shift; my @t = gmtime(time + $s); sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0] }
msg_400({message => {alert => 'x'}, settings => {apns => {badge => 2147483648}}}, 'settings.apns.badge', 'badge 2^31: 400');
msg_400({message => {alert => 'x'}, settings => {apns => {badge => -1}}}, 'settings.apns.badge', 'badge -1: 400');
is mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, settings => {apns => {badge => 2147483647}}})->code,
   202, 'badge 2^31-1: 202';
msg_400({message => {alert => 'x'}, notificationType => 4294967297}, 'notificationType', 'notificationType past 32 bits');
msg_400({message => {alert => 'x'}, sendAt => '2030-02-31T00:00:00Z'}, 'sendAt', 'sendAt 2030-02-31: 400');
msg_400({message => {alert => 'x'}, sendAt => '9999-12-31T00:00:00Z'}, 'sendAt', 'sendAt in year 9999: 400');
msg_400({message => {alert => 'x'}, sendAt => later(366 * 86400)}, 'sendAt', 'sendAt more than a year ahead: 400');
msg_400({message => {alert => 'x'}, expiration => '9999-12-31T00:00:00Z'}, 'expiration', 'an expiration in year 9999: 400');
is mf(POST => "/apps/$app/messages", $token, {message => {alert => 'x'}, sendAt => later(300 * 86400)})->code, 202,
   'sendAt in 300 days: 202';
msg_400({message => {alert => 'x'}, sendAt => later(3 * 3600)}, 'sendAt', 'PushMaxSchedule 2h refuses 3 hours ahead',
        prefix => '/rate');
is raw_mf(POST => "/apps/$app/messages", JSON::PP->new->encode({message => {alert => 'x'}, sendAt => later(3600)}),
          prefix => '/rate')->code, 202, '... and takes 1 hour';
is psql("SELECT count(*) FROM push_message WHERE app_id = '$app' AND send_at > now() + interval '1 year'"), 0,
   'nothing stored past the horizon';

# --- links ------------------------------------------------------------------------------------
my $evil = ['Host' => 'evil.example.com'];
my $base = Apache::TestRequest::resolve_url('/imfpush/v1');
my $lapp = 'links-' . random_hex(6);
$res = raw_mf(POST => '/apps', JSON::PP->new->encode({applicationId => $lapp}), headers => $evil);
is $res->code, 201, 'an application, asked for with Host: evil.example.com';
is json_body($res)->{href}, "$base/apps/$lapp", 'its href is on the server\'s own name';
is $res->header('Location'), "$base/apps/$lapp", 'and so is Location';
$res = raw_mf(POST => "/apps/$lapp/messages", JSON::PP->new->encode({message => {alert => 'x'}, sendAt => later(600)}),
              headers => $evil);
like $res->header('Location') // '', qr{^\Q$base\E/apps/\Q$lapp\E/messages/[0-9a-f-]{36}$}, 'a message\'s Location';
unlike $res->content, qr/evil/, 'nothing in the body names the Host';
for my $d (1 .. 2) {
    mf(POST => "/apps/$lapp/devices", $token, {deviceId => "d$d", token => random_hex(64), platform => 'A'});
}
$res = request(GET => "/imfpush/v1/apps/$lapp/devices?size=1", headers => [Authorization => "Bearer $token", @$evil]);
$b = json_body($res);
like $b && $b->{pageInfo}{next}, qr{^\Q$base\E/apps/\Q$lapp\E/devices\?}, 'pageInfo links too' or diag $res->as_string;
like $b && $b->{devices}[0]{href}, qr{^\Q$base\E/}, 'and the hrefs of a list';

# PushPublicURL
my $papp = 'public-' . random_hex(6);
$res = raw_mf(POST => '/apps', JSON::PP->new->encode({applicationId => $papp}), module => 'publicurl', headers => $evil);
is $res->code, 201, 'an application through the virtual host with PushPublicURL';
is json_body($res)->{href}, "https://push.example.com/base/imfpush/v1/apps/$papp", 'its href is on PushPublicURL';
is $res->header('Location'), "https://push.example.com/base/imfpush/v1/apps/$papp", 'and so is Location';
done_testing;
