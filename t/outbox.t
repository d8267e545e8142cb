# The outbox holds exceptions only (schema 11): a broadcast is walked in chunks of device
# ids leased to the sender (push_chunk), and a delivery gets a push_delivery row only when
# it needs one — a retry, a failure, an invalid token, a filter. Watched while a slowed
# broadcast runs: no row for what is sent, chunks under way, each chunk at most a batch;
# then the exceptions on record with their reasons, a retried delivery's row gone once it
# is sent, a given-back chunk taken over and sent once, a cancel and an expiry in the
# middle that add up, and retries in flight at a cancel that end cancelled.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_script mock_stats);
use PushSender qw(wait_for apns_app bulk_devices device_tokens send_broadcast summary summary_text
                  apns_tally);

my $N = 3000;
my $BATCH = 200;   # PushSenderBatch (t/conf/extra.conf.in)
my ($token) = oauth_token('*');
my $app = 'outbox-' . random_hex(6);

mock_reset();
apns_app($token, $app);
is bulk_devices($app, $N), $N, "$N APNs devices";
my $tokens = device_tokens($app);
my %dev = reverse %$tokens;

# three exceptions: a dead token, a refused one, a retry that then goes through
my ($gone, $bad, $flaky) = map { sprintf 'dev-%06d', $_ } 17, 1500, 2999;
mock_script('apns', $dev{$gone}, {status => 410, reason => 'Unregistered', timestamp => int(time * 1000) + 60000});
mock_script('apns', $dev{$bad}, {status => 400, reason => 'BadDeviceToken'});
mock_script('apns', $dev{$flaky}, {status => 503, reason => 'ServiceUnavailable', times => 1});
mock_script('apns', '*', {delayMs => 50, times => -1});

my $id = send_broadcast($token, $app, 'outbox ' . random_hex(4));
my ($max_rows, $max_chunks, $max_size, $sent_rows) = (0, 0, 0, 0);
my $s = wait_for(120, sub {
    my ($rows, $sent) = split /\|/, psql("SELECT count(*), count(*) FILTER (WHERE state = 'sent') FROM push_delivery
                                          WHERE app_id = '$app' AND message_id = '$id'");
    my ($chunks, $size) = split /\|/, psql("SELECT count(*), coalesce(max(size), 0) FROM push_chunk
                                            WHERE app_id = '$app' AND message_id = '$id'");
    $max_rows = $rows if $rows > $max_rows;
    $sent_rows += $sent;
    $max_chunks = $chunks if $chunks > $max_chunks;
    $max_size = $size if $size > $max_size;
    my $x = summary($app, $id);
    $x->{state} eq 'done' ? $x : undef }, 0.05) || summary($app, $id);
is summary_text($s), "state=done targeted=$N sent=" . ($N - 2) . " failed=0 invalid=2 filtered=0 expired=0 cancelled=0 pending=0",
   'the broadcast completes: two invalid tokens, the rest sent (the retry too)';
ok $max_chunks >= 1, "chunks of the audience were under way (at most $max_chunks at once)";
ok $max_size <= $BATCH, "no chunk held more than a batch ($max_size <= $BATCH)";
ok $max_rows <= 3, "at most the exceptions had outbox rows while it ran ($max_rows <= 3), not one per device";
is $sent_rows, 0, 'no row of a sent delivery was ever seen';
is psql("SELECT count(*) FROM push_chunk WHERE app_id = '$app' AND message_id = '$id'"), 0, 'no chunk is left';
is psql("SELECT device_id || ':' || state || ':' || error FROM push_delivery WHERE app_id = '$app' AND message_id = '$id'
         ORDER BY device_id"), "$gone:invalid:Unregistered\n$bad:invalid:BadDeviceToken",
   'the outbox keeps the two exceptions, with their reasons (the retried delivery left once sent)';
is psql("SELECT string_agg(device_id, ',' ORDER BY device_id) FROM push_device WHERE app_id = '$app'
         AND invalid_since IS NOT NULL"), join(",", sort $gone, $bad), 'both devices are disabled';
my $tally = apns_tally(keys => $tokens);
is scalar(grep { !$tally->{key}{$_} } keys %$tokens), 0, 'every device got a request';
is $tally->{key}{$dev{$flaky}}, 2, 'the retried one twice (503, then 200)';
is scalar(grep { $tally->{key}{$_} > 1 && $_ ne $dev{$flaky} } keys %{ $tally->{key} }), 0, 'every other one once';

# --- a chunk given back (as a sender that stops does with the chunks it did not start) --------
# the message's audience is complete; a chunk row of its range that nobody holds any more
# is taken over at once: its devices are sent to, except those with a row already
mock_reset();
my $app2 = 'outbox-back-' . random_hex(6);
apns_app($token, $app2);
is bulk_devices($app2, 10), 10, 'ten devices';
my $tok2 = device_tokens($app2);
psql("INSERT INTO push_message (app_id, message_id, body, state, expand_cursor, targeted, sent)
      VALUES ('$app2', 'given-back', '{\"message\": {\"alert\": \"given back\"}}', 'sending', 'dev-000010', 10, 0)");
psql("INSERT INTO push_delivery (app_id, message_id, device_id, provider, state, error)
      VALUES ('$app2', 'given-back', 'dev-000004', 'apns', 'failed', 'an earlier outcome')");
psql("UPDATE push_message SET failed = 1 WHERE app_id = '$app2' AND message_id = 'given-back'");
psql("INSERT INTO push_chunk (app_id, message_id, after_id, upto_id, size, owner, lease_until)
      VALUES ('$app2', 'given-back', 'dev-000002', 'dev-000007', 4, NULL, now() - interval '1 second'),
             ('$app2', 'given-back', '', 'dev-000002', 2, 'vm:1:dead', now() - interval '1 second'),
             ('$app2', 'given-back', 'dev-000007', 'dev-000010', 3, NULL, now() - interval '1 second')");
$s = wait_for(30, sub { my $x = summary($app2, 'given-back'); $x->{state} eq 'done' ? $x : undef }, 0.1)
     || summary($app2, 'given-back');
is summary_text($s), 'state=done targeted=10 sent=9 failed=1 invalid=0 filtered=0 expired=0 cancelled=0 pending=0',
   'the chunks were taken over: the message adds up';
my $t2 = apns_tally(keys => $tok2);
my %dev2 = reverse %$tok2;
is join(',', map { $t2->{key}{$dev2{sprintf 'dev-%06d', $_}} // 0 } 1 .. 10), '1,1,1,0,1,1,1,1,1,1',
   'each device of their ranges once, the one with a row not again';
is psql("SELECT count(*) FROM push_chunk WHERE app_id = '$app2'"), 0, 'no chunk is left';

# --- cancelled in the middle ------------------------------------------------------------------
mock_reset();
mock_script('apns', '*', {delayMs => 200, times => -1});
my $id3 = send_broadcast($token, $app, 'outbox cancel ' . random_hex(4));
ok wait_for(30, sub { (mock_stats()->{apns}{requests} // 0) >= 200 }, 0.02), 'a second broadcast is under way';
is mf(DELETE => "/apps/$app/messages/$id3", $token)->code, 204, 'and cancelled';
is summary($app, $id3)->{state}, 'cancelled', 'it is cancelled at once, with requests still in flight';
$s = wait_for(60, sub { my $x = summary($app, $id3); !$x->{pending} ? $x : undef }, 0.1)
     || summary($app, $id3);
is $s->{state}, 'cancelled', 'and stays cancelled once they have ended';
is $s->{pending}, 0, 'nothing pending';
is $s->{targeted}, $s->{sent} + $s->{failed} + $s->{invalid} + $s->{filtered} + $s->{expired} + $s->{cancelled},
   'the summary adds up: ' . summary_text($s);
ok $s->{sent} < $N - 2, "not everyone got it ($s->{sent} sent)";
is psql("SELECT count(*) FROM push_chunk WHERE app_id = '$app'"), 0, 'no chunk is left';

# --- cancelled with retries in flight: they end cancelled, not failed -------------------------
# Every answer is a 503 that comes late: the chunks in flight at the cancel end with
# deliveries to retry (push_chunk_finish), and so do the retries a sender holds then
# (push_delivery_finish). Each ends as its message did; none is a failure.
mock_reset();
mock_script('apns', '*', {status => 503, reason => 'ServiceUnavailable', delayMs => 300, times => -1});
my $id5 = send_broadcast($token, $app, 'outbox cancel retries ' . random_hex(4));
ok wait_for(30, sub { (mock_stats()->{apns}{requests} // 0) >= 200 }, 0.02), 'a broadcast that is refused for now';
is mf(DELETE => "/apps/$app/messages/$id5", $token)->code, 204, 'cancelled with chunks in flight';
$s = wait_for(60, sub { my $x = summary($app, $id5); !$x->{pending} ? $x : undef }, 0.1)
     || summary($app, $id5);
is $s->{state}, 'cancelled', 'it ends cancelled';
is $s->{failed}, 0, 'no delivery is counted failed: ' . summary_text($s);
ok $s->{cancelled} > 0, "what was in flight is cancelled ($s->{cancelled})";
is $s->{targeted}, $s->{sent} + $s->{failed} + $s->{invalid} + $s->{filtered} + $s->{expired} + $s->{cancelled},
   'the summary adds up';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id5' AND state <> 'cancelled'"), 0,
   'every row it left is cancelled';

my $app3 = 'outbox3-' . random_hex(6);
apns_app($token, $app3);
is bulk_devices($app3, 20), 20, '20 more devices';
mock_reset();
mock_script('apns', '*', {status => 503, reason => 'ServiceUnavailable', delayMs => 1000, times => -1});
my $id6 = send_broadcast($token, $app3, 'outbox cancel a retry ' . random_hex(4));
ok wait_for(30, sub { psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app3' AND message_id = '$id6'
                            AND state = 'pending' AND lease_owner IS NOT NULL") > 0 }, 0.05),
   'its retries are in flight';
is mf(DELETE => "/apps/$app3/messages/$id6", $token)->code, 204, 'and it is cancelled';
$s = wait_for(60, sub { my $x = summary($app3, $id6); !$x->{pending} ? $x : undef }, 0.1)
     || summary($app3, $id6);
is summary_text($s), 'state=cancelled targeted=20 sent=0 failed=0 invalid=0 filtered=0 expired=0 cancelled=20 pending=0',
   'the retries in flight ended cancelled';
is psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app3' AND message_id = '$id6' AND state <> 'cancelled'"), 0,
   'and so did their rows';

# --- expired in the middle: the rest of the audience is not walked -----------------------------
mock_reset();
mock_script('apns', '*', {delayMs => 1000, times => -1});
my $res = mf(POST => "/apps/$app/messages", $token, {message => {alert => 'outbox expiry'}, expiration => 2});
is $res->code, 202, 'a broadcast that expires in 2 s';
my $id4 = json_body($res)->{messageId};
$s = wait_for(60, sub { my $x = summary($app, $id4); $x->{state} =~ /^(done|expired)$/ && !$x->{pending} ? $x : undef }, 0.2)
     || summary($app, $id4);
is $s->{state}, 'expired', 'it ends expired';
is $s->{targeted}, $s->{sent} + $s->{failed} + $s->{invalid} + $s->{filtered} + $s->{expired} + $s->{cancelled},
   'the summary adds up: ' . summary_text($s);
ok $s->{targeted} < $N - 2, "the audience was not walked to its end ($s->{targeted} targeted)";
is psql("SELECT count(*) FROM push_chunk WHERE app_id = '$app'"), 0, 'no chunk is left';
ok psql("SELECT count(*) FROM push_delivery WHERE app_id = '$app' AND message_id = '$id4'") <= $s->{expired},
   'rows only for deliveries that expired';

# --- many messages to one device each, a slow provider: they are under way together ---------------
# (each is a chunk of one; a worker used to hold two at a time, 4 requests in all)
mock_reset();
mock_script('apns', '*', {delayMs => 300, times => -1});
my @one = map { sprintf 'dev-%06d', $_ } 100 .. 139;
my $t_one = time;
my @ids = map { json_body(mf(POST => "/apps/$app/messages", $token,
                             {message => {alert => "one $_"}, target => {deviceIds => [$_]}}))->{messageId} } @one;
is scalar(grep { defined } @ids), 40, '40 messages to one device each';
my $all = wait_for(60, sub { (grep { summary($app, $_)->{state} ne 'done' } @ids) ? undef : 1 }, 0.1);
ok $all, 'all delivered';
my $st = mock_stats()->{apns};
diag sprintf '40 one-device messages at 300 ms each: %.1f s, at most %d streams on one connection',
             time - $t_one, $st->{maxStreams};
ok $st->{maxStreams} > 4, "many under way on one connection at once ($st->{maxStreams} > 4)";

mock_reset();
if (Test::More->builder->is_passing) {
    psql("DELETE FROM push_application WHERE app_id IN ('$app', '$app2')");
}
done_testing;
