# A database without the mod_push schema: 503 in each dialect's format and a clear
# line in the error log, never a crash.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $mark = error_log_size();
my $res = layer(POST => '/push_tokens', random_hex(32), {token => 'a', type => 'apns', device_id => 'b'},
                module => 'noschema');
is $res->code, 503, 'Layer answers 503';
my $b = json_body($res);
is $b && $b->{code}, 1, 'code 1';
is $b && $b->{id}, 'service_unavailable', 'id service_unavailable';

$res = nvx(POST => '/user/session/push_token/bind', 'json',
           {hash => random_hex(32), application => 'navixy_android_viewer', token => 'x'}, module => 'noschema');
is $res->code, 503, 'Navixy answers 503';
$b = json_body($res);
is $b && $b->{status}{code}, 14, 'code 14';
is $b && $b->{status}{description}, 'Database unavailable', 'Database unavailable';

my $log;
for (1 .. 20) {
    $log = error_log_since($mark);
    last if $log =~ /PUSH0006/;
    select undef, undef, undef, 0.1;
}
like $log, qr/PUSH0006: database 'push_empty' has no mod_push schema .*run 'pushctl migrate'/,
     'the error log says what is wrong and what to do';

is layer(POST => '/push_tokens', random_hex(32), {token => 'a', type => 'apns', device_id => 'b'})->code, 401,
    'the server with the schema is unaffected';
done_testing;
