# Bad input on Navixy's bind/delete: each answered in Navixy's error format, never a
# 500 or an HTML page; SQL metacharacters stored verbatim.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $APP = 'test-navixy';
my $BIND = '/user/session/push_token/bind';
my $u = 'nvx-input-' . random_hex(6);
my $hash = new_session($u, $APP);

sub refused {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        like $res->header('Content-Type') // '', qr{^application/json}, 'JSON, not an HTML page';
        ok $b && $b->{success} eq JSON::PP::false(), 'success is false';
        is $b && $b->{status}{code}, $code, "code $code";
    };
}

sub raw { request(POST => $BIND, headers => ['Content-Type' => $_[1] // 'application/json'], content => $_[0]) }

refused(raw('not json at all'), 400, 5, 'a JSON body that is not JSON');
refused(raw('{"hash": "' . $hash . '", '), 400, 5, 'truncated JSON');
refused(raw('["' . $hash . '"]'), 400, 5, 'a JSON array');
refused(raw('42'), 400, 5, 'a JSON number');
refused(raw(qq({"hash": "$hash", "application": "navixy_android_viewer", "token": "\xff\xfe"})), 400, 5,
        'invalid UTF-8 in JSON');
refused(raw("hash=$hash&application=navixy_android_viewer&token=%FF%FE", 'application/x-www-form-urlencoded'), 400, 5,
        'invalid UTF-8 in a form');
refused(request(GET => "$BIND?hash=$hash&application=navixy_android_viewer&token=%FF"), 400, 5,
        'invalid UTF-8 in the query');
refused(raw("hash=$hash&token=%ZZ", 'application/x-www-form-urlencoded'), 400, 5, 'a broken percent escape');
refused(raw('hash=x', 'text/plain'), 400, 5, 'a text/plain body');
refused(request(POST => "/small$BIND", headers => ['Content-Type' => 'application/json'],
                content => '{"hash": "' . $hash . '", "token": "' . ('x' x 400) . '"}'), 412, 9,
        'a body over PushMaxBodySize is 412 Too large request');
refused(raw(qq({"hash": "$hash", "application": "navixy_android_viewer", "token": ["a"]})), 400, 7,
        'an array for token');
refused(raw(qq({"hash": "$hash", "application": {"id": 1}, "token": "a"})), 400, 7, 'an object for application');
refused(raw(qq({"hash": "$hash", "application": "navixy_android_viewer", "token": "a\\u0000b"})), 400, 7,
        'a NUL character in the token');
refused(nvx(POST => $BIND, 'json', {hash => $hash, application => 'navixy_android_viewer', token => 'x' x 4097}), 400, 7,
        'a token over 4096 bytes');
{
    my $evil = q{tok'); DELETE FROM push_device; --};
    refused(nvx(POST => $BIND, 'form', {hash => $hash, application => 'navixy_android_viewer', token => $evil}), 400, 7,
            'SQL in an FCM token is refused: quotes and spaces are not in its alphabet');
    is psql("SELECT count(*) > 0 FROM push_device"), 't', 'the device table is intact';
    refused(nvx(POST => $BIND, 'form', {hash => $hash, application => 'acme_viewer', token => $evil}), 400, 7,
            'SQL in a WNS token is refused: it is not a channel URI');
    my $uri = "https://db5.notify.windows.com/?token=a'b;--";
    my $res = nvx(POST => $BIND, 'form', {hash => $hash, application => 'acme_viewer', token => $uri});
    is $res->code, 200, 'SQL metacharacters inside a WNS channel URI are data';
    is psql("SELECT token FROM push_device WHERE app_id = '$APP' AND user_id = '$u'"), $uri, '... and stored verbatim';
}
refused(nvx(POST => $BIND, 'json', {hash => $hash, application => 'navixy_android_viewer', token => "\x{1F600}tok"}),
        400, 7, 'a non-ASCII FCM token is refused');
refused(nvx(POST => $BIND, 'json', {hash => $hash, application => 'acme_viewer', token => "\x{1F600}tok"}),
        400, 7, 'a non-ASCII WNS token is refused (it is not a channel URI)');
done_testing;
