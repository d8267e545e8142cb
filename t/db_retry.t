# The store runs a statement again when PostgreSQL ends it with a serialization failure or
# a deadlock (SQLSTATE 40001/40P01), a bounded number of times, below every handler: the
# session queries of these locations fail on purpose (functions made by scripts/check;
# their sequences count the runs, which a rolled-back statement cannot undo).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

my $token = 'retry-' . random_hex(20);
my $user = 'retry-user-' . random_hex(6);
psql("INSERT INTO host_sessions (token, user_name) VALUES ('$token', '$user')");
my %dev = (token => random_hex(64), type => 'apns', device_id => 'retry-' . random_hex(8));

# the flaky query fails when it draws an even number: the next draw is made even
my $first = 2 * int(psql('SELECT last_value FROM push_test_flaky_runs') / 2) + 2;
psql("SELECT setval('push_test_flaky_runs', $first, false)");
my $log = error_log_size();
my $res = layer(POST => '/flaky/push_tokens', $token, \%dev);
is $res->code, 202, 'a statement ended by a serialization failure is run again and the request succeeds';
is psql("SELECT user_id FROM push_device WHERE device_id = '$dev{device_id}'"), $user,
    'with the user the second run returned';
is psql('SELECT last_value FROM push_test_flaky_runs'), $first + 1, 'the query ran twice (one failure, one success)';
like error_log_since($log), qr/PUSH0016: push_session_sql_[^:]*: ERROR:  40001: /,
    'the retry is logged (info) with its SQLSTATE';

psql("SELECT setval('push_test_deadlock_runs', 100)");
$log = error_log_size();
$res = layer(POST => '/deadlocked/push_tokens', $token, {%dev, device_id => 'retry-d-' . random_hex(8)});
is $res->code, 503, 'a statement that deadlocks every time ends in 503';
is json_body($res) && json_body($res)->{id}, 'service_unavailable', "in Layer's format";
is psql('SELECT last_value FROM push_test_deadlock_runs'), 104, 'after four runs, no more';
like error_log_since($log), qr/PUSH0011: database error: push_session_sql_[^:]*: ERROR:  40P01: /,
    'the failure that stands is logged once as an error';
done_testing;
