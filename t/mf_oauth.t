# The OAuth token endpoint: client credentials with HTTP Basic, wildcard scopes, RFC 6749
# error bodies, tokens stored only as hashes, expiry, and httpd.conf clients.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $TOKEN = '/mfp/api/az/v1/token';
my ($id, $secret) = oauth_client('apps.read devices.* push.application.*');

sub form_post {
    my ($body, %o) = @_;
    return request(POST => $TOKEN, headers => ['Content-Type' => 'application/x-www-form-urlencoded'],
                   content => $body, %o);
}

sub refused {
    my ($res, $status, $error, $name) = @_;
    my $b = json_body($res);
    subtest $name => sub {
        is $res->code, $status, "status $status";
        is $b && $b->{error}, $error, "error $error";
        is $res->header('Cache-Control'), 'no-store', 'Cache-Control: no-store';
        like $res->header('WWW-Authenticate') // '', qr/^Basic/, 'a Basic challenge' if $status == 401;
    };
}

my $res = form_post('grant_type=client_credentials&scope=devices.write+push.application.myapp',
                    basic => [$id, $secret]);
is $res->code, 200, 'a client gets a token';
my $b = json_body($res);
like $b->{access_token}, qr/^[0-9a-f]{64}$/, 'the token is 64 hex digits';
is $b->{token_type}, 'Bearer', 'token_type Bearer';
is $b->{expires_in}, 3600, 'expires_in 3600';
is $b->{scope}, 'devices.write push.application.myapp', 'the granted scope is the one asked for';
is $res->header('Cache-Control'), 'no-store', 'Cache-Control: no-store';
is psql("SELECT count(*) FROM push_access_token WHERE token_hash = '$b->{access_token}'"), 0,
   'the token itself is not stored';
is psql("SELECT scopes FROM push_access_token WHERE token_hash = encode(sha256('$b->{access_token}'), 'hex')"),
   'devices.write push.application.myapp', 'its hash is, with the scopes';
is psql("SELECT count(*) FROM push_access_token WHERE expires_at BETWEEN now() + interval '3590 seconds' "
        . "AND now() + interval '3610 seconds' AND client_id = '$id'"), 1, 'it expires in an hour';

$res = form_post('grant_type=client_credentials', basic => [$id, $secret]);
is json_body($res)->{scope}, 'apps.read devices.* push.application.*', 'no scope asked: all the client may have';
$res = form_post('grant_type=client_credentials&scope=push.application.*', basic => [$id, $secret]);
is $res->code, 200, 'a wildcard may be asked for when a wildcard allows it';

refused(form_post('grant_type=client_credentials&scope=messages.write', basic => [$id, $secret]), 400,
        'invalid_scope', 'a scope outside the allowed ones');
refused(form_post('grant_type=client_credentials&scope=apps.write', basic => [$id, $secret]), 400, 'invalid_scope',
        'apps.write is not apps.read');
refused(form_post('grant_type=client_credentials&scope=*', basic => [$id, $secret]), 400, 'invalid_scope',
        'asking for * needs *');
refused(form_post('grant_type=client_credentials', basic => [$id, 'wrong']), 401, 'invalid_client', 'a wrong secret');
refused(form_post('grant_type=client_credentials', basic => ['nobody-' . random_hex(4), $secret]), 401,
        'invalid_client', 'an unknown client');
refused(form_post('grant_type=client_credentials'), 401, 'invalid_client', 'no credentials');
refused(form_post('grant_type=client_credentials', headers => ['Content-Type' => 'application/x-www-form-urlencoded',
                                                               Authorization => 'Basic !!!']),
        401, 'invalid_client', 'malformed Basic credentials');
refused(form_post('grant_type=password&username=a&password=b', basic => [$id, $secret]), 400,
        'unsupported_grant_type', 'another grant type');
refused(form_post('scope=apps.read', basic => [$id, $secret]), 400, 'invalid_request', 'no grant_type');
refused(request(POST => $TOKEN, basic => [$id, $secret], headers => ['Content-Type' => 'application/json'],
                content => '{"grant_type": "client_credentials"}'), 400, 'invalid_request', 'a JSON body');
refused(request(GET => "$TOKEN?grant_type=client_credentials", basic => [$id, $secret]), 405, 'invalid_request',
        'GET');
is form_post("grant_type=client_credentials&client_id=$id&client_secret=$secret")->code, 200,
   'credentials in the body are accepted too (RFC 6749 2.3.1)';

# httpd.conf clients: PushOAuthClient conf-client <sha256 of conf-secret> "apps.read push.application.*"
$res = form_post('grant_type=client_credentials', basic => ['conf-client', 'conf-secret']);
is $res->code, 200, 'a client declared in httpd.conf gets a token';
is json_body($res)->{scope}, 'apps.read push.application.*', 'with its configured scopes';
refused(form_post('grant_type=client_credentials', basic => ['conf-client', 'nope']), 401, 'invalid_client',
        "a configured client's wrong secret");
my ($conf_token) = (json_body($res) || {})->{access_token};
is mf(GET => '/apps', $conf_token)->code, 200, "a configured client's token works";

# expiry and removal
my ($t) = oauth_token('apps.read push.application.*', $id, $secret);
is mf(GET => '/apps', $t)->code, 200, 'a fresh token works';
psql("UPDATE push_access_token SET expires_at = now() - interval '1 second' WHERE token_hash = encode(sha256('$t'), 'hex')");
$res = mf(GET => '/apps', $t);
is $res->code, 401, 'an expired token is refused';
like $res->header('WWW-Authenticate'), qr/error="invalid_token"/, '... as invalid_token';
($t) = oauth_token('apps.read push.application.*', $id, $secret);
pushctl('client', 'rm', $id);
is mf(GET => '/apps', $t)->code, 401, "removing a client ends its tokens";
refused(form_post('grant_type=client_credentials', basic => [$id, $secret]), 401, 'invalid_client',
        'and the client cannot get new ones');
done_testing;
