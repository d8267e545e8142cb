# A node with PushSender Off: Rocket.Chat's push.info says the gateway is off and
# push.test answers 400 error-push-disabled, as Rocket.Chat does when push is disabled;
# registrations still work there. A second httpd on the test database (its sender lines
# replaced by PushSender Off), stopped at the end.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use LWP::UserAgent ();
use lib 't/lib';
use PushTest;
use SecondHttpd;
use PushSender qw(live_senders);

my $off = SecondHttpd->new(name => 'nosender', keep => qr/^(DBD\w+|PushProvider\w+|PushSecretKey)\s/,
                           lines => ["LoadModule authn_core_module \"$ENV{PUSH_TEST_MODDIR}/mod_authn_core.so\"",
                                     "LoadModule authz_core_module \"$ENV{PUSH_TEST_MODDIR}/mod_authz_core.so\"",
                                     'PushSender Off', '<Location /api/v1>', '    SetHandler push-rocketchat',
                                     '    PushApplication test-rc', '</Location>']);
my $senders = () = live_senders();
ok $off->start, 'an httpd with PushSender Off starts' or diag $off->{out};
my $ua = LWP::UserAgent->new(timeout => 10);
my $user = 'rc-off-' . random_hex(6);
my $tok = new_session($user, 'test-rc');

sub rc {
    my ($method, $path, $body) = @_;
    my @h = ('X-User-Id' => $user, 'X-Auth-Token' => $tok);
    push @h, 'Content-Type' => 'application/json' if $body;
    return $ua->request(HTTP::Request->new($method, $off->url("/api/v1/$path"), \@h,
                                           $body ? JSON::PP->new->utf8->encode($body) : undef));
}

my $res = rc(GET => 'push.info');
is_deeply [$res->code, json_body($res)], [200, {pushGatewayEnabled => JSON::PP::false(),
          defaultPushGateway => JSON::PP::true(), success => JSON::PP::true()}],
    'push.info: the gateway is off';
$res = rc(POST => 'push.token', {type => 'apn', value => random_hex(32), appName => 'com.example.off'});
is $res->code, 200, 'push.token still registers' or diag $res->as_string;
$res = rc(POST => 'push.test');
is $res->code, 400, 'push.test: 400';
is_deeply json_body($res), {success => JSON::PP::false(), errorType => 'error-push-disabled',
                            error => 'Push is disabled [error-push-disabled]'},
    'error-push-disabled';
is psql("SELECT count(*) FROM push_message WHERE app_id = 'test-rc' AND target->'userIds' ? '$user'"), 0,
   'and no message was accepted';
is scalar(() = live_senders()), $senders, 'no sender of its own';
unlike $off->error_log, qr/PUSH0605/, 'its error log shows no sender starting';

$off->stop;
if (Test::More->builder->is_passing) {
    system('rm', '-rf', $off->{dir});
} else {
    diag "the second httpd's files: $off->{dir}";
    diag $off->error_log;
}
psql("DELETE FROM push_device WHERE app_id = 'test-rc' AND user_id = '$user'");

done_testing;
