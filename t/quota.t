# Per-application quotas and retention: pending deliveries (PushMaxPendingDeliveries 1000
# on /quota/imfpush/v1), messages per minute (5 on /rate/imfpush/v1, 1 on the Rocket.Chat
# location /quota/api/v1), each answered 429 in the dialect's format with Retry-After; and
# the sender's retention sweep (PushRetention 1h 2s in the test configuration).
use strict;
use warnings;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;

my $JSON = JSON::PP->new->utf8->canonical;

my ($token) = oauth_token('*');
sub q_mf {
    my ($prefix, $method, $path, $body) = @_;
    my @h = (Authorization => "Bearer $token");
    my $content;
    if (defined $body) {
        $content = $JSON->encode($body);
        push @h, 'Content-Type' => 'application/json';
    }
    return request($method, "$prefix/imfpush/v1$path", headers => \@h, content => $content);
}
sub later { my $s = shift; my @t = gmtime(time + $s); sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0] }
# The pending count the next request sees: the row plus the deltas not folded yet.
sub pending {
    my $app = shift;
    return psql("SELECT q.pending + coalesce((SELECT sum(d.delta) FROM push_quota_delta d WHERE d.app_id = q.app_id), 0) "
                . "FROM push_quota q WHERE q.app_id = '$app'");
}
sub wait_for {
    my ($cond, $secs) = @_;
    my $until = time + ($secs || 20);
    while (time < $until) { return 1 if $cond->(); sleep 0.2 }
    return 0;
}

# --- pending deliveries -----------------------------------------------------------------------
my $app = 'quota-' . random_hex(6);
is mf(POST => '/apps', $token, {applicationId => $app})->code, 201, 'an application';
my $made = 0;
for my $i (1 .. 100) {
    $made++ if mf(POST => "/apps/$app/devices", $token,
                  {deviceId => sprintf('d%03d', $i), token => random_hex(64), platform => 'A'})->code == 201;
}
is $made, 100, '100 devices';

# two bulk requests of 1000 broadcasts: 200,000 deliveries between them
my $later = later(3600);
my @bulk = map { {message => {alert => "flood $_"}, sendAt => $later} } 1 .. 1000;
for my $n (1, 2) {
    my $res = q_mf('/quota', POST => "/apps/$app/messages/bulk", \@bulk);
    is $res->code, 429, "bulk request $n of 1000 broadcasts to 100 devices: 429";
    my $b = json_body($res);
    is $b && $b->{code}, 'FPWSE0429E', '... in MobileFirst\'s format';
    like $b && $b->{message}, qr/PushMaxPendingDeliveries 1000/, '... naming the limit';
    like $res->header('Retry-After') // '', qr/^[1-9][0-9]*$/, '... with Retry-After';
}
is psql("SELECT count(*) FROM push_message WHERE app_id = '$app'"), 0, 'nothing of them was stored';

my $res = q_mf('/quota', POST => "/apps/$app/messages/bulk", [@bulk[0 .. 9]]);
is $res->code, 202, '10 broadcasts (1000 deliveries, the limit) are accepted';
my @ids = map { $_->{messageId} } @{ json_body($res) || [] };
is scalar @ids, 10, '... 10 ids';
is pending($app), 1000, 'they reserve 1000 deliveries until expanded';
$res = q_mf('/quota', POST => "/apps/$app/messages", {message => {alert => 'one more'}, target => {deviceIds => ['d001']}});
is $res->code, 429, 'one more delivery is over the limit: 429';
$res = q_mf('', POST => "/apps/$app/messages", {message => {alert => 'elsewhere'}, sendAt => $later});
is $res->code, 202, 'the same application under the default limit is not refused';
my $elsewhere = json_body($res)->{messageId};
is pending($app), 1100, '... and its reservation counts too';
is q_mf('', DELETE => "/apps/$app/messages/$ids[0]")->code, 204, 'cancelling a scheduled broadcast';
ok wait_for(sub { pending($app) == 1000 }, 5), 'gives its 100 back' or diag pending($app);
is q_mf('', DELETE => "/apps/$app/messages/$elsewhere")->code, 204, 'and another';
ok wait_for(sub { pending($app) == 900 }, 5), '900 left' or diag pending($app);
$res = q_mf('/quota', POST => "/apps/$app/messages", {message => {alert => 'now'}, target => {deviceIds => ['d001', 'd002']}});
is $res->code, 202, 'a message to 2 devices fits again';
my $now_id = json_body($res)->{messageId};
# no APNs settings: the sender finishes both deliveries (as failed) and the count goes down
ok wait_for(sub { psql("SELECT state FROM push_message WHERE app_id = '$app' AND message_id = '$now_id'") =~ /^(done|cancelled|expired)$/ }, 30),
   'the sender settles it';
ok wait_for(sub { pending($app) == 900 }, 10), 'its deliveries no longer count once finished' or diag pending($app);
# every message cancelled: nothing is left pending
q_mf('', DELETE => "/apps/$app/messages/$_") for @ids[1 .. 9];
my ($other) = psql("SELECT message_id FROM push_message WHERE app_id = '$app' AND state = 'pending'");
q_mf('', DELETE => "/apps/$app/messages/$other") if $other;
ok wait_for(sub { pending($app) == 0 }, 10), 'all cancelled: 0 pending' or diag pending($app);

# 20 broadcasts of 100 deliveries at once against the limit of 1000: exactly 10 get in
my %kids;
for my $i (1 .. 20) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $r = q_mf('/quota', POST => "/apps/$app/messages", {message => {alert => "race $i"}, sendAt => $later});
        POSIX::_exit($r->code == 202 ? 0 : $r->code == 429 ? 1 : 2);
    }
    $kids{$pid} = 1;
}
my %codes;
for my $pid (keys %kids) { waitpid $pid, 0; $codes{$? >> 8}++ }
is_deeply \%codes, {0 => 10, 1 => 10}, '20 concurrent broadcasts: 10 accepted, 10 refused with 429';
is pending($app), 1000, '... and exactly the limit is pending';
q_mf('', DELETE => "/apps/$app/messages/$_")
    for split /\n/, psql("SELECT message_id FROM push_message WHERE app_id = '$app' AND state = 'pending'");
ok wait_for(sub { pending($app) == 0 }, 10), 'cancelled again: 0 pending' or diag pending($app);
$res = q_mf('/quota', POST => "/apps/$app/messages", {message => {alert => 'big'}, sendAt => $later,
                                                     notificationType => 3});
is $res->code, 202, 'with nothing pending, a single message is taken even when larger than the limit';

# --- messages per minute ----------------------------------------------------------------------
my $rapp = 'rate-' . random_hex(6);
is mf(POST => '/apps', $token, {applicationId => $rapp})->code, 201, 'another application';
my @t = gmtime;
sleep 61 - $t[0] if $t[0] > 50;   # five requests inside one minute
my $ok = 0;
$ok += q_mf('/rate', POST => "/apps/$rapp/messages", {message => {alert => "m$_"}, sendAt => $later})->code == 202 for 1 .. 5;
is $ok, 5, '5 messages in a minute: accepted';
$res = q_mf('/rate', POST => "/apps/$rapp/messages", {message => {alert => 'm6'}, sendAt => $later});
is $res->code, 429, 'the sixth: 429';
my $b = json_body($res);
is $b && $b->{code}, 'FPWSE0429E', '... FPWSE0429E';
like $b && $b->{message}, qr/PushMaxMessagesPerMinute 5/, '... naming the limit';
my $after = $res->header('Retry-After') // 0;
ok $after >= 1 && $after <= 60, "... Retry-After $after: the rest of the minute";
is q_mf('/rate', POST => "/apps/$rapp/messages/bulk", [{message => {alert => 'b1'}}])->code, 429, 'a bulk of one too';
is psql("SELECT count(*) FROM push_message WHERE app_id = '$rapp'"), 5, 'five stored';

# Rocket.Chat's push.test
my $rc_app = 'test-rc-quota';
eval { pushctl('app', 'add', $rc_app) };
my $user = 'rcq-' . random_hex(6);
my $tok = new_session($user, $rc_app);
sub rc {
    my ($path, $body) = @_;
    return request(POST => "/quota/api/v1/$path",
                   headers => ['X-User-Id' => $user, 'X-Auth-Token' => $tok, 'Content-Type' => 'application/json'],
                   content => $JSON->encode($body || {}));
}
is rc('push.token', {type => 'apn', value => random_hex(64), appName => 'chat.rocket.ios'})->code, 200, 'a Rocket.Chat token';
@t = gmtime;
sleep 61 - $t[0] if $t[0] > 55;
is rc('push.test')->code, 200, 'push.test: 200';
sleep 1.1;   # past push.test's own one-per-second rule
$res = rc('push.test');
is $res->code, 429, 'a second message in the minute (PushMaxMessagesPerMinute 1): 429';
$b = json_body($res);
is $b && $b->{errorType}, 'too-many-requests', '... in Rocket.Chat\'s format';
ok $b && !$b->{success}, '... success false';
like $res->header('Retry-After') // '', qr/^[1-9][0-9]*$/, '... with Retry-After';
is $b && $b->{details}{seconds}, $res->header('Retry-After'), '... the same seconds in details';

# --- retention --------------------------------------------------------------------------------
my $kapp = 'keep-' . random_hex(6);
is mf(POST => '/apps', $token, {applicationId => $kapp})->code, 201, 'an application for the sweep';
my $ins_msg = sub {
    my ($id, $state, $age) = @_;
    psql("INSERT INTO push_message (app_id, message_id, body, state, send_at, finished_at, updated_at, created_at) "
         . "VALUES ('$kapp', '$id', '{}', '$state', now() - interval '$age', "
         . ($state =~ /done|cancelled|expired/ ? "now() - interval '$age'" : 'NULL')
         . ", now() - interval '$age', now() - interval '$age')");
};
my $ins_del = sub {
    my ($msg, $dev, $state, $age) = @_;
    psql("INSERT INTO push_delivery (app_id, message_id, device_id, provider, state, updated_at, next_attempt_at) "
         . "VALUES ('$kapp', '$msg', '$dev', 'apns', '$state', now() - interval '$age', now() + interval '1 day')");
};
$ins_msg->('old-done', 'done', '2 hours');
$ins_del->('old-done', 'x1', 'failed', '2 hours');
$ins_del->('old-done', 'x2', 'invalid', '2 hours');
$ins_msg->('new-done', 'done', '10 minutes');
$ins_del->('new-done', 'x1', 'failed', '10 minutes');
$ins_msg->('old-sending', 'sending', '2 hours');
$ins_del->('old-sending', 'x1', 'failed', '2 hours');
$ins_del->('old-sending', 'x2', 'pending', '2 hours');   # not due for a day: no sender takes it
$ins_msg->('old-scheduled', 'pending', '2 hours');
psql("UPDATE push_message SET send_at = now() + interval '1 day' WHERE app_id = '$kapp' AND message_id = 'old-scheduled'");
psql("INSERT INTO push_event (app_id, kind, payload, state, created_at) VALUES "
     . "('$kapp', 'old', '{}', 'done', now() - interval '2 hours'), ('$kapp', 'old', '{}', 'failed', now() - interval '2 hours'), "
     . "('$kapp', 'new', '{}', 'done', now() - interval '5 minutes')");
psql("UPDATE push_event SET state = 'done' WHERE app_id = '$kapp' AND kind = 'new'");

ok wait_for(sub { psql("SELECT count(*) FROM push_message WHERE app_id = '$kapp' AND message_id = 'old-done'") == 0 }, 30),
   'the sweep removes an old finished message';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$kapp' AND message_id = 'old-done'"), 0, '... after its deliveries';
is psql("SELECT count(*) FROM push_message WHERE app_id = '$kapp' AND message_id = 'new-done'"), 1, 'a recent one stays';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$kapp' AND message_id = 'new-done'"), 1, '... with its delivery';
is psql("SELECT string_agg(device_id || ':' || state, ',') FROM push_delivery WHERE app_id = '$kapp' AND message_id = 'old-sending'"),
   'x2:pending', 'of a message still sending, the finished delivery goes and the pending one stays';
is psql("SELECT count(*) FROM push_message WHERE app_id = '$kapp' AND message_id IN ('old-sending', 'old-scheduled')"), 2,
   'messages not finished stay, however old';
is psql("SELECT string_agg(kind, ',') FROM push_event WHERE app_id = '$kapp'"), 'new', 'old settled events go, recent ones stay';

# The sweep reads finished_at alone (schema 13): a move to a final state that does not
# say when, as a cancellation settled by its last chunk, is dated on the way.
$ins_msg->('late-cancel', 'sending', '2 hours');
psql("UPDATE push_message SET state = 'cancelled' WHERE app_id = '$kapp' AND message_id = 'late-cancel'");
is psql("SELECT finished_at > now() - interval '1 minute' FROM push_message WHERE app_id = '$kapp' "
        . "AND message_id = 'late-cancel'"), 't', 'a message cancelled without a time gets finished_at now';
$ins_msg->('late-done', 'sending', '2 hours');
psql("UPDATE push_message SET state = 'done', finished_at = now() - interval '3 hours' WHERE app_id = '$kapp' "
     . "AND message_id = 'late-done'");
ok wait_for(sub { psql("SELECT count(*) FROM push_message WHERE app_id = '$kapp' AND message_id = 'late-done'") == 0 }, 30),
   'one finished long ago (its own finished_at) is swept';
is psql("SELECT count(*) FROM push_message WHERE app_id = '$kapp' AND message_id = 'late-cancel'"), 1,
   '... and the one cancelled just now stays';

# A broadcast updates its message row twice per chunk (cursor, counters): those updates
# stay heap-only as long as no index of push_message covers a column they write.
(my $defs = psql("SELECT string_agg(pg_get_indexdef(indexrelid), ' ') FROM pg_index "
                 . "WHERE indrelid = 'push_message'::regclass")) =~ s/'[^']*'//g;
unlike $defs, qr/\b(updated_at|sent|targeted|filtered|failed|invalid|expired|cancelled|expand_cursor|lease_owner|lease_until)\b/,
       "no index of push_message covers a counter, the cursor, the lease or updated_at ($defs)";
done_testing;
