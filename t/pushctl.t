# pushctl: each command, its help, its usage errors (exit 2), and secrets kept only as hashes.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;

sub run_ctl {
    my @args = @_;
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec $ENV{PUSHCTL}, @args or exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}
my @d = ('-d', $ENV{PUSH_TEST_PG});

my ($rc, $out) = run_ctl('--help');
is $rc, 0, 'pushctl --help exits 0';
like $out, qr/usage: pushctl .*migrate.*app add.*session add.*client add/s, 'and lists every command';
for my $cmd (qw(migrate app session client)) {
    ($rc, $out) = run_ctl($cmd, '--help');
    is $rc, 0, "pushctl $cmd --help exits 0";
    like $out, qr/^usage: pushctl \[-d CONNINFO\] \Q$cmd\E/, "and prints the $cmd usage";
}
for my $bad (['frobnicate'], [], ['app'], ['app', 'add'], ['app', 'add', 'bad id'], ['session', 'add', '--user', 'u'],
             ['session', 'add', '--user', 'u', '--app', 'test-layer', '--ttl', 'soon'], ['session', 'add', '--colour', 'x'],
             ['client', 'add', 'c1'], ['migrate', 'extra']) {
    ($rc, $out) = run_ctl(@d, @$bad);
    is $rc, 2, "pushctl @$bad exits 2";
    like $out, qr/usage: pushctl/, '... with a usage line';
}

($rc, $out) = run_ctl(@d, 'migrate');
is $rc, 0, 'migrate on a migrated database succeeds';
like $out, qr/schema version \d+ \(0 migrations applied\)/, 'and applies nothing';

my $app = 'ctl-' . random_hex(6);
($rc, $out) = run_ctl(@d, 'app', 'add', $app);
is $rc, 0, 'app add';
($rc, $out) = run_ctl(@d, 'app', 'list');
like $out, qr/^\Q$app\E\tenabled\t0 devices$/m, 'app list shows it';

($rc, $out) = run_ctl(@d, 'session', 'add', '--user', 'ctl-user', '--app', $app, '--ttl', '60');
is $rc, 0, 'session add';
my ($session) = $out =~ /^([0-9a-f]+)$/m;
like $session // '', qr/^[0-9a-f]{32}$/, 'prints a 32-hex-digit token';
is psql("SELECT count(*) FROM push_session WHERE token_hash = '$session' OR user_id = '$session'"), 0,
   'the token itself is not stored';
is psql("SELECT count(*) FROM push_session WHERE token_hash = encode(sha256('$session'), 'hex') "
        . "AND expires_at BETWEEN now() + interval '50 seconds' AND now() + interval '70 seconds'"), 1,
   'its SHA-256 is, with the expiry asked for';
($rc, $out) = run_ctl(@d, 'session', 'add', '--user', 'u', '--app', 'no-such-app');
is $rc, 1, 'session add for an unknown application fails';
($rc) = run_ctl(@d, 'session', 'rm', $session);
is $rc, 0, 'session rm';
($rc) = run_ctl(@d, 'session', 'rm', $session);
is $rc, 1, 'session rm of a removed session fails';

my $client = 'client-' . random_hex(6);
($rc, $out) = run_ctl(@d, 'client', 'add', $client, '--scope', 'apps.read push.application.*');
is $rc, 0, 'client add';
my ($secret) = $out =~ /^([0-9a-f]+)$/m;
ok $secret && length $secret >= 32, 'prints a secret';
is psql("SELECT scopes FROM push_oauth_client WHERE client_id = '$client' AND secret_hash = encode(sha256('$secret'), 'hex')"),
   'apps.read push.application.*', 'stores its hash and the scopes';
is psql("SELECT count(*) FROM push_oauth_client WHERE secret_hash = '$secret'"), 0, 'never the secret';
($rc) = run_ctl(@d, 'client', 'rm', $client);
is $rc, 0, 'client rm';

psql("INSERT INTO push_device (app_id, device_id, platform, token, source_family)
      VALUES ('$app', 'rm-me', 'apns', 'rm-me-token', 'mobilefirst')");
($rc) = run_ctl(@d, 'app', 'rm', $app);
is $rc, 0, 'app rm';
is psql("SELECT count(*) FROM push_device WHERE app_id = '$app'"), 0, "... and the application's devices go with it";
($rc) = run_ctl(@d, 'app', 'rm', $app);
is $rc, 1, 'app rm of a missing application fails';
($rc, $out) = run_ctl('-d', 'host=127.0.0.1 port=1 connect_timeout=2', 'app', 'list');
is $rc, 1, 'an unreachable database fails with exit 1';
like $out, qr/cannot connect/, '... and says so';
done_testing;
