# The sender keeps its HTTP/2 connections to a provider: a broadcast to 6,000 devices
# goes over at most two connections per delivery thread (CURLMOPT_MAX_HOST_CONNECTIONS),
# every device gets it exactly once.
#
# The mock APNs runs Node's HTTP/2 server, which (like other nghttp2-based servers since
# the "rapid reset" attack) ends a connection with GOAWAY after about a thousand
# RST_STREAM frames in a burst. libcurl < 8.0 resets every stream it finishes; built
# against such a libcurl, the sender filters those resets (mod_push/sender/h2reset.c).
# Without the filter this broadcast needs about six connections on libcurl 7.88, and
# requests in flight when one closes are sent again. libcurl 8.0 and later need no filter
# (none is built; 8.14: 2-4 connections, scripts/try-libcurl).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset mock_stats);
use PushSender qw(wait_for apns_app bulk_devices send_broadcast summary summary_text apns_tally
                  device_tokens);

my $N = 6000;
my $THREADS = 2;   # PushSenderThreads (t/conf/extra.conf.in)
my ($token) = oauth_token('*');
my $app = 'h2-' . random_hex(6);

apns_app($token, $app);
is bulk_devices($app, $N), $N, "$N APNs devices";
my $tokens = device_tokens($app);
mock_reset();
my $log = error_log_size();
my $t0 = time;
my $id = send_broadcast($token, $app, 'h2 ' . random_hex(4));
my $s = wait_for(120, sub { my $x = summary($app, $id); $x->{state} eq 'done' ? $x : undef }, 0.2)
        || summary($app, $id);
diag sprintf 'done in %.1f s', time - $t0;
is summary_text($s), "state=done targeted=$N sent=$N failed=0 invalid=0 filtered=0 expired=0 cancelled=0 pending=0",
   'every device sent';

my $st = mock_stats()->{apns};
is $st->{requests}, $N, "the mock APNs saw exactly $N requests: none sent twice";
is $st->{ok}, $N, 'all answered 200';
ok $st->{connections} <= 2 * $THREADS,
   "over at most two connections per delivery thread ($st->{connections} <= " . 2 * $THREADS . ')';
my $tally = apns_tally(keys => $tokens);
is scalar(grep { $tally->{key}{$_} != 1 } keys %$tokens), 0, 'each device exactly once';
my $elog = error_log_since($log);
unlike $elog, qr/PUSH0608/, 'no PUSH0608 (the reset filter is in place, or not built: libcurl >= 8.0)';
unlike $elog, qr/PUSH0609/, 'no PUSH0609 (built for the libcurl it runs with)';

done_testing;
