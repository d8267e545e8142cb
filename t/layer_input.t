# Bad input on Layer's /push_tokens: each answered in Layer's error format, never a 500
# or an HTML page, and SQL metacharacters stored verbatim.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $APP = 'test-layer';
my $token = new_session('layer-input-' . random_hex(6), $APP);

sub refused {
    my ($res, $status, $code, $id, $name, $property) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        like $res->header('Content-Type') // '', qr{^application/json}, 'JSON, not an HTML page';
        is $b && $b->{code}, $code, "code $code";
        is $b && $b->{id}, $id, "id $id";
        is $b && $b->{data}{property}, $property, "names $property" if $property;
    };
}

sub post { layer(POST => $_[0] // '/push_tokens', $token, $_[1], %{ $_[2] || {} }) }
sub good { (token => random_hex(64), type => 'apns', device_id => 'in-' . random_hex(10), @_) }

refused(post(undef, 'this is not json'), 400, 10, 'invalid_request', 'a body that is not JSON');
refused(post(undef, '{"token": "abc", '), 400, 10, 'invalid_request', 'truncated JSON');
refused(post(undef, '{"token": "abc"} trailing'), 400, 10, 'invalid_request', 'JSON followed by garbage');
refused(post(undef, '[{"token": "abc", "type": "apns", "device_id": "x"}]'), 400, 10, 'invalid_request',
        'a JSON array');
refused(post(undef, '"just a string"'), 400, 10, 'invalid_request', 'a JSON string');
refused(post(undef, ''), 400, 10, 'invalid_request', 'an empty body');
refused(post(undef, qq({"token": "ab\xff\xfe", "type": "apns", "device_id": "x"})), 400, 10, 'invalid_request',
        'invalid UTF-8');
refused(post(undef, '{"a":1}', {type => 'text/plain'}), 400, 10, 'invalid_request', 'a body that is not application/json');
refused(layer(POST => '/small/push_tokens', $token, {good(), apns_bundle_id => 'x' x 300}), 413, 10, 'invalid_request',
        'a body over PushMaxBodySize');

refused(post(undef, {good(token => undef)}), 422, 104, 'missing_property', 'token missing', 'token');
refused(post(undef, {good(type => undef)}), 422, 104, 'missing_property', 'type missing', 'type');
refused(post(undef, {good(device_id => undef)}), 422, 104, 'missing_property', 'device_id missing', 'device_id');
refused(post(undef, {good(token => undef, type => undef)}), 422, 104, 'missing_property',
        'the first missing property is named', 'token');
refused(post(undef, '{"token": null, "type": "apns", "device_id": "x"}'), 422, 104, 'missing_property',
        'null counts as missing', 'token');
refused(post(undef, {good(type => 'wns')}), 422, 105, 'invalid_property', 'type other than apns or gcm', 'type');
refused(post(undef, {good(type => 'APNS')}), 422, 105, 'invalid_property', 'type is case-sensitive', 'type');
refused(post(undef, '{"token": 12345, "type": "apns", "device_id": "x"}'), 422, 105, 'invalid_property',
        'a number for token', 'token');
refused(post(undef, '{"token": "abc", "type": ["apns"], "device_id": "x"}'), 422, 105, 'invalid_property',
        'an array for type', 'type');
refused(post(undef, '{"token": "abc", "type": "apns", "device_id": {"id": 1}}'), 422, 105, 'invalid_property',
        'an object for device_id', 'device_id');
refused(post(undef, '{"token": "abc", "type": "apns", "device_id": "x", "ios_version": 9}'), 422, 105,
        'invalid_property', 'a number for ios_version', 'ios_version');
refused(post(undef, {good(token => '')}), 422, 105, 'invalid_property', 'an empty token', 'token');
refused(post(undef, {good(token => 'x' x 4097)}), 422, 105, 'invalid_property', 'a token over 4096 bytes', 'token');
refused(post(undef, {good(device_id => 'd' x 256)}), 422, 105, 'invalid_property', 'a device_id over 255 bytes',
        'device_id');
refused(post(undef, {good(apns_bundle_id => 'b' x 256)}), 422, 105, 'invalid_property',
        'an apns_bundle_id over 255 bytes', 'apns_bundle_id');
refused(post(undef, {good(ios_version => 'nine')}), 422, 105, 'invalid_property', 'ios_version not a version',
        'ios_version');
# a NUL anywhere in a body is refused before any property is looked at (PostgreSQL stores none)
refused(post(undef, '{"token": "ab\u0000cd", "type": "apns", "device_id": "x"}'), 400, 10, 'invalid_request',
        'a NUL character in the token', 'token');

is post(undef, {good(token => 'x' x 4096)})->code, 202, 'a token of exactly 4096 bytes is accepted';
is post(undef, {good(), unknown_field => [1, 2, 3]})->code, 202, 'unknown properties are ignored';
{
    my $evil_id = q{x'); DROP TABLE push_device; --};
    my $tok = random_hex(64);
    is post(undef, {good(device_id => $evil_id, token => $tok)})->code, 202,
        'SQL metacharacters are accepted as data';
    (my $q = $evil_id) =~ s/'/''/g;
    is psql("SELECT token FROM push_device WHERE app_id = '$APP' AND device_id = '$q'"), $tok,
        '... and stored verbatim';
    refused(post(undef, {good(token => q{'; DELETE FROM push_session WHERE '1'='1})}), 422, 105, 'invalid_property',
            'a token of SQL is refused: an APNs token holds no quotes or spaces', 'token');
    is psql("SELECT count(*) > 0 FROM push_session"), 't', 'the session table is intact';
}
{
    my $unicode = "\x{1F600}-d\x{e9}vice";
    my $res = layer(POST => '/push_tokens', $token, {good(device_id => $unicode)});
    is $res->code, 202, 'a non-ASCII device id registers';
    is layer(DELETE => '/push_tokens/%F0%9F%98%80-d%C3%A9vice', $token)->code, 202, 'and deletes by its URL form';
    is psql("SELECT count(*) FROM push_device WHERE device_id LIKE '%-d\x{e9}vice'"), 0, 'it is gone';
}
refused(layer(DELETE => '/push_tokens/%FF%FE', $token), 422, 105, 'invalid_property',
        'a device id in the URL that is not UTF-8', 'device_id');
refused(layer(DELETE => '/push_tokens/' . ('d' x 300), $token), 422, 105, 'invalid_property',
        'a device id in the URL over 255 bytes', 'device_id');

done_testing;
