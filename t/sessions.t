# Session sources other than the built-in table: an operator's SQL through mod_dbd,
# and the user another auth module set (remote-user).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $host_token = 'host-' . random_hex(20);
my $host_user = 'host-user-' . random_hex(6);
psql("INSERT INTO host_sessions (token, user_name) VALUES ('$host_token', '$host_user')");

my %dev = (token => random_hex(64), type => 'apns', device_id => 'sql-' . random_hex(8));
is layer(POST => '/sql/push_tokens', $host_token, \%dev)->code, 202,
    "PushSessionSource sql: a token from the host application's table";
is psql("SELECT user_id FROM push_device WHERE device_id = '$dev{device_id}'"), $host_user,
    'the device belongs to the user the query returned';
is psql("SELECT session_ref IS NULL FROM push_device WHERE device_id = '$dev{device_id}'"), 't',
    'no built-in session is referenced';
my $res = layer(POST => '/sql/push_tokens', 'unknown-token', {%dev, device_id => 'sql-x'});
is $res->code, 401, 'a token the query does not know is 401';
is json_body($res)->{id}, 'authentication_required', "in Layer's format";
psql("UPDATE host_sessions SET valid = false WHERE token = '$host_token'");
is layer(POST => '/sql/push_tokens', $host_token, {%dev, device_id => 'sql-y'})->code, 401,
    'a session the host application ended is refused at once';
psql("UPDATE host_sessions SET valid = true WHERE token = '$host_token'");
is layer(POST => '/push_tokens', $host_token, \%dev)->code, 401,
    'the host token is not a built-in session';

my $nvx_hash = random_hex(32);
psql("INSERT INTO host_sessions (token, user_name) VALUES ('$nvx_hash', 'nvx-host-user')");
$res = nvx(POST => '/sql/user/session/push_token/bind', 'json',
           {hash => $nvx_hash, application => 'navixy_android_viewer', token => 'host-bound'});
is $res->code, 200, 'Navixy with PushSessionSource sql';
is psql("SELECT user_id FROM push_device WHERE token = 'host-bound'"), 'nvx-host-user', 'binds for the host user';
is nvx(POST => '/sql/user/session/push_token/delete', 'json', {hash => $nvx_hash})->code, 200, 'and deletes';
is psql("SELECT count(*) FROM push_device WHERE token = 'host-bound'"), 0, 'the token is gone';

my %sso = (token => random_hex(64), type => 'gcm', device_id => 'sso-' . random_hex(8));
$res = layer(POST => '/sso/push_tokens', undef, \%sso, basic => ['alice', 'wonderland']);
is $res->code, 202, 'PushSessionSource remote-user: the user mod_auth_basic set';
is psql("SELECT user_id FROM push_device WHERE device_id = '$sso{device_id}'"), 'alice', 'owns the device';
is layer(DELETE => "/sso/push_tokens/$sso{device_id}", undef, undef, basic => ['alice', 'wonderland'])->code, 202,
    'and can delete it';
is layer(POST => '/sso/push_tokens', undef, \%sso, basic => ['alice', 'wrong'])->code, 401,
    'a failed login never reaches mod_push';

done_testing;
