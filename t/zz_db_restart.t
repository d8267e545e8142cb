# PostgreSQL stopped under a running httpd: 503 in each dialect's format; started
# again: requests succeed without restarting httpd. Runs last: it stops the database.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $layer_token = new_session('restart-' . random_hex(6), 'test-layer');
my $nvx_hash = new_session('restart-nvx-' . random_hex(6), 'test-navixy');
my $dev = sub { {token => random_hex(64), type => 'apns', device_id => 'restart-' . random_hex(8)} };
my $bind = sub { nvx(POST => '/user/session/push_token/bind', 'json',
                     {hash => $nvx_hash, application => 'navixy_android_viewer', token => 'restart-' . random_hex(8)}) };

# warm the pool so that stale connections exist when the server goes away
is layer(POST => '/push_tokens', $layer_token, $dev->())->code, 202, 'Layer works before the stop' for 1 .. 3;
is $bind->()->code, 200, 'Navixy works before the stop';

my @pg = ($ENV{PUSH_TEST_PGCTL}, '-D', $ENV{PUSH_TEST_PGDATA}, '-w');
system(@pg, '-m', 'fast', 'stop') == 0 or BAIL_OUT('pg_ctl stop failed');

my $res = layer(POST => '/push_tokens', $layer_token, $dev->());
is $res->code, 503, 'Layer: 503 while PostgreSQL is down';
is json_body($res) && json_body($res)->{id}, 'service_unavailable', "in Layer's format";
$res = $bind->();
is $res->code, 503, 'Navixy: 503 while PostgreSQL is down';
is json_body($res) && json_body($res)->{status}{code}, 14, "in Navixy's format (code 14)";
$res = layer(DELETE => '/push_tokens/x', $layer_token);
is $res->code, 503, 'Layer DELETE: 503 too';
$res = request(GET => '/imfpush/v1/health/status');
is $res->code, 503, 'MobileFirst health: 503 while PostgreSQL is down';
is_deeply json_body($res), {status => 'error', database => 'unavailable', sender => 'unknown'},
    '... naming the database';
my ($mf_dead) = (json_body(request(GET => '/imfpush/v1/apps', headers => [Authorization => 'Bearer ' . ('0' x 64)])) || {});
is $mf_dead->{code}, 'FPWSE0025E', "MobileFirst calls answer 503 in MobileFirst's format";

system(@pg, '-o', "-p $ENV{PUSH_TEST_PGPORT} -c listen_addresses=127.0.0.1 -k $ENV{PUSH_TEST_PGDATA} -c fsync=off",
       '-l', "$ENV{PUSH_TEST_PGDATA}/server.log", 'start') == 0 or BAIL_OUT('pg_ctl start failed');

is layer(POST => '/push_tokens', $layer_token, $dev->())->code, 202, 'Layer: the first request after the restart succeeds';
is $bind->()->code, 200, 'Navixy: the first request after the restart succeeds';
is request(GET => '/imfpush/v1/health/status')->code, 200, 'MobileFirst health: 200 again';
my @codes = map { layer(POST => '/push_tokens', $layer_token, $dev->())->code } 1 .. 10;
is_deeply \@codes, [(202) x 10], 'and so do the following ones';
done_testing;
