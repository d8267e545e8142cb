# Navixy's /user/session/push_token/bind and /delete: every row of docs/api/navixy.md
# (shared/docs/api-navixy.md), in all three parameter styles and hash locations.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $APP = 'test-navixy';
my $BIND = '/user/session/push_token/bind';
my $DELETE = '/user/session/push_token/delete';
# a point of P-256 (RFC 8291's example user agent key): the sender must be able to use it
my $P256DH = 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4';
my $AUTH = 'q1dXpw3UpT5VOmu_cf_v6g';

sub user_devices {
    my $u = shift;
    return [map { [split /\|/, $_, -1] } grep { length } split /\n/,
            psql("SELECT platform, token, coalesce(category_filter, ''), array_to_string(categories, ','), "
                 . "categories_exclude, extra::text, (session_ref IS NOT NULL)::text "
                 . "FROM push_device WHERE app_id = '$APP' AND user_id = '$u' ORDER BY token")];
}

sub ok_success {
    my ($res, $name) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, 200, 'status 200';
        like $res->header('Content-Type') // '', qr{^application/json}, 'JSON';
        is_deeply $b, {success => JSON::PP::true()}, '{"success": true}';
    };
}

sub nvx_refused {
    my ($res, $status, $code, $description, $name, $parameter) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        like $res->header('Content-Type') // '', qr{^application/json}, 'JSON, not an HTML page';
        ok $b && !$b->{success}, 'success is false';
        is $b && $b->{status}{code}, $code, "code $code";
        is $b && $b->{status}{description}, $description, 'the documented description';
        is $b && $b->{errors}[0]{parameter}, $parameter, "names $parameter" if $parameter;
    };
}

# --- the three parameter styles and the three places for the hash -----------------------
for my $style (qw(json form query)) {
    my $u = "nvx-$style-" . random_hex(6);
    my $hash = new_session($u, $APP);
    my $method = $style eq 'query' ? 'GET' : 'POST';
    ok_success(nvx($method => $BIND, $style, {hash => $hash, application => 'navixy_android_viewer', token => "fcm-$style"}),
               "bind with $style parameters");
    is_deeply user_devices($u), [['fcm', "fcm-$style", '*', '', 'f', '{"application": "navixy_android_viewer"}', 'true']],
        "$style: one FCM device, filter *, bound to the session";
    ok_success(nvx($method => $DELETE, $style, {hash => $hash}), "delete with $style parameters");
    is_deeply user_devices($u), [], "$style: the token is gone";
}
{
    my $u = 'nvx-header-' . random_hex(6);
    my $hash = new_session($u, $APP);
    ok_success(nvx(POST => $BIND, 'json', {application => 'navixy_iphone_viewer', token => 'apns-h'},
                   headers => [Authorization => "NVX $hash"]), 'the hash in Authorization: NVX');
    is user_devices($u)->[0][0], 'apns', 'navixy_iphone_viewer is an APNs device';
    ok_success(nvx(GET => $DELETE, 'query', {}, headers => [Authorization => "NVX $hash"]),
               'delete with the hash in the header');
    is_deeply user_devices($u), [], 'the token is gone';
}
{
    my $u = 'nvx-order-' . random_hex(6);
    my $hash = new_session($u, $APP);
    my $wrong = random_hex(32);
    ok_success(nvx(POST => "$BIND?hash=$wrong", 'json', {hash => $hash, application => 'navixy_android_viewer', token => 't1'},
                   headers => [Authorization => "NVX $wrong"]), "the body's hash comes first");
    ok_success(nvx(POST => "$BIND?hash=$hash", 'form', {application => 'navixy_android_viewer', token => 't2'},
                   headers => [Authorization => "NVX $wrong"]), "then the query's");
    nvx_refused(nvx(POST => "$BIND?hash=$hash", 'json', {hash => $wrong, application => 'navixy_android_viewer', token => 't3'}),
                400, 4, 'User or API key not found or session ended', 'a wrong body hash is not overridden by the query');
    ok_success(nvx(POST => $BIND, 'form', {hash => uc $hash, application => 'navixy_android_viewer', token => 't4'}),
               'upper-case hex is the same hash');
}

# --- one token per session ---------------------------------------------------------------
{
    my $u = 'nvx-rebind-' . random_hex(6);
    my $s1 = new_session($u, $APP);
    my $s2 = new_session($u, $APP);
    nvx(POST => $BIND, 'json', {hash => $s1, application => 'navixy_android_viewer', token => 'first'});
    ok_success(nvx(POST => $BIND, 'json', {hash => $s1, application => 'navixy_iphone_viewer', token => 'second'}),
               'binding again on the same session');
    is_deeply [map { "$_->[0]:$_->[1]" } @{ user_devices($u) }], ['apns:second'], 'replaces the previous token';
    nvx(POST => $BIND, 'json', {hash => $s2, application => 'navixy_android_viewer', token => 'third'});
    is_deeply [map { $_->[1] } @{ user_devices($u) }], ['second', 'third'], 'another session of the user binds its own token';
    ok_success(nvx(POST => $DELETE, 'json', {hash => $s1}), 'delete on one session');
    is_deeply [map { $_->[1] } @{ user_devices($u) }], ['third'], "leaves the other session's token";
    ok_success(nvx(POST => $DELETE, 'json', {hash => $s1}), 'delete with nothing bound still succeeds');
}

# --- applications --------------------------------------------------------------------------
{
    my $u = 'nvx-apps-' . random_hex(6);
    my $s = new_session($u, $APP);
    ok_success(nvx(POST => $BIND, 'json', {hash => $s, application => 'w3c_pushapi', token => 'https://push.example.net/send/abc',
                                            parameters => {p256dh => $P256DH, auth => $AUTH}}),
               'w3c_pushapi with its keys in a JSON body');
    my $d = user_devices($u)->[0];
    is $d->[0], 'webpush', 'is a Web Push device';
    like $d->[5], qr/"p256dh": "\Q$P256DH\E"/, 'p256dh is stored';
    like $d->[5], qr/"auth": "\Q$AUTH\E"/, 'auth is stored';
    ok_success(nvx(POST => $BIND, 'form', {hash => $s, application => 'w3c_pushapi', token => 'https://push.example.net/send/def',
                                            parameters => qq({"p256dh": "$P256DH", "auth": "$AUTH"})}),
               'w3c_pushapi with its keys as JSON text in a form');
    is user_devices($u)->[0][1], 'https://push.example.net/send/def', 'the endpoint is the token';
    ok_success(nvx(POST => $BIND, 'json', {hash => $s, application => 'acme_viewer',
                                           token => 'https://db5.notify.windows.com/?token=nvx'}),
               'an application configured with PushNavixyApplication');
    is user_devices($u)->[0][0], 'wns', 'gets its configured platform';
}

# --- category_filter forms -----------------------------------------------------------------
{
    my $u = 'nvx-cat-' . random_hex(6);
    my $s = new_session($u, $APP);
    my @forms = (
        ['*', '*', '', 'f'],
        ['chat_message,history_rule', 'chat_message,history_rule', 'chat_message,history_rule', 'f'],
        ['-history_task,history_rule', '-history_task,history_rule', 'history_task,history_rule', 't'],
        [' chat_message , history_info ', 'chat_message,history_info', 'chat_message,history_info', 'f'],
        ['history_work_status', 'history_work_status', 'history_work_status', 'f'],
        ['-chat_message', '-chat_message', 'chat_message', 't'],
        ['a,b,a', 'a,b', 'a,b', 'f'],
    );
    for my $f (@forms) {
        for my $style (qw(json form query)) {
            my $res = nvx($style eq 'query' ? 'GET' : 'POST', $BIND, $style,
                          {hash => $s, application => 'navixy_android_viewer', token => 'cat', category_filter => $f->[0]});
            my $d = user_devices($u)->[0];
            ok $res->code == 200 && $d->[2] eq $f->[1] && $d->[3] eq $f->[2] && $d->[4] eq $f->[3],
                "category_filter '$f->[0]' ($style) is stored as '$f->[1]'";
        }
    }
    for my $bad ('', ',', 'a,,b', '-', '-*', '*,a', 'a;b', 'has space', "caf\x{e9}", 'x' x 65) {
        nvx_refused(nvx(POST => $BIND, 'json', {hash => $s, application => 'navixy_android_viewer', token => 'cat',
                                                  category_filter => $bad}),
                    400, 7, 'Invalid parameters', "category_filter '$bad' is refused", 'category_filter');
    }
    nvx_refused(nvx(POST => $BIND, 'json', {hash => $s, application => 'navixy_android_viewer', token => 'cat',
                                              category_filter => 5}),
                400, 7, 'Invalid parameters', 'a number for category_filter is refused', 'category_filter');
    is user_devices($u)->[0][2], 'a,b', 'a refused filter leaves the stored one alone';
}

# --- errors --------------------------------------------------------------------------------
{
    my $u = 'nvx-err-' . random_hex(6);
    my $s = new_session($u, $APP);
    my %ok = (hash => $s, application => 'navixy_android_viewer', token => 'tok');
    nvx_refused(nvx(POST => $BIND, 'json', {application => 'navixy_android_viewer', token => 'x'}), 400, 3, 'Wrong hash',
                'no hash');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, hash => substr($s, 0, 31)}), 400, 3, 'Wrong hash', 'a 31-digit hash');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, hash => 'z' x 32}), 400, 3, 'Wrong hash', 'a hash that is not hex');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, hash => 12345}), 400, 3, 'Wrong hash', 'a number for hash');
    nvx_refused(nvx(GET => $BIND, 'query', {application => 'x'}, headers => [Authorization => 'NVX short']), 400, 3,
                'Wrong hash', 'a malformed NVX header');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, hash => random_hex(32)}), 400, 4,
                'User or API key not found or session ended', 'an unknown session');
    my $short = new_session($u, $APP, 1);
    sleep 2;
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, hash => $short}), 400, 4, 'User or API key not found or session ended',
                'an expired session');
    my $gone = new_session($u, $APP);
    pushctl('session', 'rm', $gone);
    nvx_refused(nvx(POST => $DELETE, 'json', {hash => $gone}), 400, 4, 'User or API key not found or session ended',
                'a removed session');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, hash => new_session($u, 'test-layer')}), 400, 4,
                'User or API key not found or session ended', "another application's session");

    nvx_refused(nvx(POST => $BIND, 'json', {%ok, application => undef}), 400, 7, 'Invalid parameters',
                'application missing', 'application');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, application => 'navixy_blackberry_viewer'}), 400, 7,
                'Invalid parameters', 'an unknown application', 'application');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, token => undef}), 400, 7, 'Invalid parameters', 'token missing', 'token');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, token => ''}), 400, 7, 'Invalid parameters', 'an empty token', 'token');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, application => 'w3c_pushapi', token => 'https://push.example.net/x'}),
                400, 7, 'Invalid parameters', 'w3c_pushapi without keys', 'parameters');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, application => 'w3c_pushapi', token => 'https://push.example.net/x',
                                              parameters => {p256dh => 'short', auth => $AUTH}}),
                400, 7, 'Invalid parameters', 'w3c_pushapi with a bad p256dh', 'parameters');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, application => 'w3c_pushapi', token => 'https://push.example.net/x',
                                              parameters => {p256dh => $P256DH}}),
                400, 7, 'Invalid parameters', 'w3c_pushapi without auth', 'parameters');
    nvx_refused(nvx(POST => $BIND, 'form', {%ok, application => 'w3c_pushapi', token => 'https://push.example.net/x',
                                              parameters => 'not json'}),
                400, 7, 'Invalid parameters', 'w3c_pushapi keys that are not JSON', 'parameters');
    nvx_refused(nvx(POST => $BIND, 'json', {%ok, application => 'w3c_pushapi', token => 'not-a-url',
                                              parameters => {p256dh => $P256DH, auth => $AUTH}}),
                400, 7, 'Invalid parameters', 'w3c_pushapi with a token that is not a URL', 'token');

    nvx_refused(request(PUT => $BIND, content => ''), 400, 112, 'Wrong method', 'PUT is a wrong method');
    nvx_refused(request(DELETE => $DELETE), 400, 112, 'Wrong method', 'DELETE is a wrong method');
    nvx_refused(nvx(POST => '/user/session/push_token/list', 'json', {hash => $s}), 400, 5, 'Wrong request format',
                'an unknown action');
    nvx_refused(nvx(POST => '/user/session/push_token', 'json', {hash => $s}), 400, 5, 'Wrong request format',
                'no action');
    is_deeply user_devices($u), [], 'no failed call bound anything';
}

{   # the access log never shows a session token: mod_push drops the query string of the
    # requests it serves from %r and %q, whatever the LogFormat (here Apache::Test's)
    my $log = Apache::Test::vars('t_logs') . '/access_log';
    my $lines = sub { open my $fh, '<', $log or return (); my @l = <$fh>; @l };
    my $before = () = $lines->();
    my $secret = 'feedfacefeedfacefeedfacefeedface';
    nvx(POST => "$BIND?hash=$secret", 'form', {application => 'navixy_android_viewer', token => 'logged'});
    my @new;
    for (1 .. 50) {   # written just after the answer
        @new = ($lines->())[$before .. 10_000];
        @new = grep { defined } @new;
        last if @new;
        select undef, undef, undef, 0.1;
    }
    is(scalar(@new), 1, 'the request is in the access log');
    unlike(join('', @new), qr/\Q$secret\E|hash=/, 'without the session token from ?hash=');
    like(join('', @new), qr{"POST /user/session/push_token/bind HTTP/1.1"}, 'the request line without its query string');
}

{   # nor does mod_status, which shows each worker's request line (its last one too)
    my $secret = 'deadbeefdeadbeefdeadbeefdeadbeef';
    nvx(POST => "$BIND?hash=$secret", 'form', {application => 'navixy_android_viewer', token => 'status'})
        for 1 .. 4;
    my $status = request(GET => '/server-status');
    is $status->code, 200, 'server-status answers';
    unlike $status->content, qr/\Q@{[substr $secret, 0, 16]}\E/, 'without the session token from ?hash=';
}

done_testing;
