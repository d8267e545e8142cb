# MobileFirst negotiation and bad input: 406 without JSON in Accept, 405 for a body that
# is not JSON, localized error bodies, and every kind of bad input answered as
# {"code", "message"} — never a 500 or an HTML page.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;
use URI::Escape ();

my ($token) = oauth_token('*');
my $app = 'input-' . random_hex(6);
mf(POST => '/apps', $token, {applicationId => $app});

sub mf_err {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        like $res->header('Content-Type') // '', qr{^application/json}, 'JSON, not an HTML page';
        is $b && $b->{code}, $code, "code $code";
        ok $b && length $b->{message}, 'a message';
    };
    return $b;
}
my $dev = sub { {deviceId => 'd-' . random_hex(6), token => 't-' . random_hex(8), platform => 'A', @_} };

# --- negotiation ----------------------------------------------------------------------------------
for my $accept ('text/html', 'application/xml', 'application/json;q=0', 'application/json; Q=0.0', 'text/*') {
    mf_err(mf(GET => "/apps/$app", $token, undef, headers => [Accept => $accept]), 406, 'FPWSE0005E',
           "Accept: $accept is 406");
}
for my $accept ('application/json', '*/*', 'application/*', 'text/html, application/json;q=0.5', '',
                 'application/json;nq=0', 'application/json;level=1;q=0.8') {
    is mf(GET => "/apps/$app", $token, undef, headers => [Accept => $accept])->code, 200, "Accept: '$accept' is fine";
}
for my $type ('text/plain', 'application/x-www-form-urlencoded', 'application/xml') {
    mf_err(mf(POST => "/apps/$app/devices", $token, '{"deviceId": "x", "token": "y", "platform": "A"}',
              headers => ['Content-Type' => $type]), 405, 'FPWSE0005E', "a $type body is 405");
}
is mf(POST => "/apps/$app/devices", $token, $dev->(), headers => ['Content-Type' => 'application/json; charset=utf-8'])->code,
   201, 'application/json with a charset is fine';

# --- languages ----------------------------------------------------------------------------------
my %texts;
for my $lang ('en-US', 'de', 'fr-FR', 'es', 'ja', 'pt-BR', 'de;q=0, fr') {
    my $res = mf(GET => '/apps/no-such-app-xyz', $token, undef, headers => ['Accept-Language' => $lang]);
    my $b = mf_err($res, 404, 'FPWSE0001E', "an unknown application in $lang");
    $texts{$lang} = $b->{message};
}
is $texts{'pt-BR'}, $texts{'en-US'}, 'an unsupported language falls back to en-US';
is $texts{'de;q=0, fr'}, $texts{'fr-FR'}, 'q-values pick the language';
my %distinct = map { $texts{$_} => 1 } 'en-US', 'de', 'fr-FR', 'es', 'ja';
is scalar(keys %distinct), 5, 'en-US, de, fr, es and ja each have their own text';
like $texts{ja}, qr/[^\x00-\x7f]/, 'the Japanese text is Japanese';
is mf(GET => '/apps/no-such-app-xyz', $token, undef, headers => ['Accept-Language' => 'de'])->header('Content-Language'),
   'de', 'Content-Language says which';

# --- routing ----------------------------------------------------------------------------------------
mf_err(mf(GET => '/nothing/here', $token), 404, 'FPWSE0001E', 'an unknown path');
my $res = mf(GET => "/apps/$app/messages", $token);
is $res->code, 405, 'GET on the messages collection (POST only): 405';
is $res->header('Allow'), 'POST', '... with Allow: POST';
$res = mf(PATCH => "/apps/$app", $token, {});
mf_err($res, 405, 'FPWSE0005E', 'PATCH on an application');
is $res->header('Allow'), 'GET, DELETE', 'Allow lists the methods';
mf_err(mf(GET => '/apps/bad%20app/devices', $token), 404, 'FPWSE0001E', 'an application id that cannot exist');

# --- bodies ------------------------------------------------------------------------------------------
my $path = "/apps/$app/devices";
mf_err(mf(POST => $path, $token, 'not json'), 400, 'FPWSE0004E', 'a body that is not JSON');
mf_err(mf(POST => $path, $token, '[{"deviceId": "x"}]'), 400, 'FPWSE0004E', 'a JSON array');
mf_err(mf(POST => $path, $token, '{"deviceId": "x", '), 400, 'FPWSE0004E', 'truncated JSON');
mf_err(mf(POST => $path, $token, ''), 400, 'FPWSE0004E', 'an empty body');
mf_err(mf(POST => $path, $token, qq({"deviceId": "\xff", "token": "t", "platform": "A"})), 400, 'FPWSE0004E',
       'invalid UTF-8');
mf_err(mf(POST => $path, $token, '{"deviceId": "' . ('x' x 70000) . '"}'), 413, 'FPWSE0005E',
       'a body over PushMaxBodySize');
mf_err(mf(POST => $path, $token, $dev->(deviceId => 'x' x 256)), 400, 'FPWSE0005E', 'a deviceId over 255 bytes');
mf_err(mf(POST => $path, $token, $dev->(token => 'x' x 4097)), 400, 'FPWSE0005E', 'a token over 4096 bytes');
mf_err(mf(POST => $path, $token, $dev->(deviceId => '')), 400, 'FPWSE0005E', 'an empty deviceId');
mf_err(mf(POST => $path, $token, '{"deviceId": "a\u0000b", "token": "t", "platform": "A"}'), 400, 'FPWSE0005E',
       'a NUL in deviceId');
mf_err(mf(POST => $path, $token, $dev->(platform => ['A'])), 400, 'FPWSE0005E', 'an array for platform');
mf_err(mf(POST => $path, $token, $dev->(phoneNumber => 5.5)), 400, 'FPWSE0005E', 'a fraction for phoneNumber');
mf_err(mf(POST => $path, $token, $dev->(phoneNumber => -5)), 400, 'FPWSE0005E', 'a negative phoneNumber');
mf_err(mf(POST => $path, $token, $dev->(phoneNumber => JSON::PP::true())), 400, 'FPWSE0005E', 'a boolean for phoneNumber');
mf_err(mf(POST => "/apps/$app/tags", $token, {name => 'x', description => 'd' x 1025}), 400, 'FPWSE0005E',
       'a description over 1024 bytes');
{
    my $evil = q{x'); DROP TABLE push_device; --};
    my $b = json_body(mf(POST => $path, $token, $dev->(deviceId => $evil)));
    is $b && $b->{deviceId}, $evil, 'SQL metacharacters are data';
    (my $q = $evil) =~ s/'/''/g;
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$app' AND device_id = '$q'"), 1, '... stored verbatim';
    $b = json_body(mf(GET => "/apps/$app/devices?filter=deviceId==" . URI::Escape::uri_escape($evil), $token));
    is $b && $b->{pageInfo}{totalCount}, 1, '... and found by a filter';
}
{
    my $id = "\x{1F600}-\x{e9}";
    my $res = mf(POST => $path, $token, $dev->(deviceId => $id));
    is $res->code, 201, 'a non-ASCII deviceId registers';
    like json_body($res)->{href}, qr{/devices/%F0%9F%98%80-%C3%A9$}i, 'its href is escaped';
    is mf(GET => '/apps/' . $app . '/devices/%F0%9F%98%80-%C3%A9', $token)->code, 200, 'and the href works';
}
done_testing;
