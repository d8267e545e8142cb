# Sixteen clients registering at once for one user, through each dialect that registers
# devices (Layer, Rocket.Chat, Navixy, MobileFirst): every answer is a 2xx, the user ends
# with no more devices than the limit allows, and the error log shows no deadlock
# (sql/009_registry.sql: one lock order for everything a registration touches). Forty
# Rocket.Chat ids at once for one token end with one record (sql/023_rc_token.sql).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes ();
use HTTP::Request;
use LWP::UserAgent;
use JSON::PP;
use lib 't/lib';
use PushTest;

my $CLIENTS = 16;
my $EACH = 30;   # registrations per client: 480 per dialect, far over the 25-device limit
my $POOL = 40;   # device ids drawn from: re-registrations, new devices and evictions mixed,
                 # as apps re-registering on start and new installs give them (the mix that
                 # deadlocked before schema 9)
my $dir = tempdir(CLEANUP => 1);

# POST of a JSON body with headers, as an HTTP::Request for a storm client's own
# keep-alive connection (the clients must be quick enough to overlap in the database)
sub post {
    my ($path, $body, @headers) = @_;
    Apache::TestRequest::module('registry');   # DBDMax 16 (t/conf/extra.conf.in)
    my $req = HTTP::Request->new(POST => Apache::TestRequest::resolve_url($path),
                                 [@headers, 'Content-Type' => 'application/json'], encode_json($body));
    $req->header('Content-Length' => length $req->content);
    return $req;
}

# runs $CLIENTS children, each sending $EACH requests made by $register->($client, $n)
# on one keep-alive connection; returns the statuses they saw, counted
sub storm {
    my ($name, $register) = @_;
    my @pids;
    for my $c (1 .. $CLIENTS) {
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if (!$pid) {
            # a seed of its own: $$ ^ time repeats when pids and seconds differ by one
            # (two children drawing the same tokens move a token between their devices)
            open my $rnd, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
            read($rnd, my $seed, 4) == 4 or die "/dev/urandom: short read";
            close $rnd;
            srand(unpack 'L', $seed);
            open my $out, '>', "$dir/$name.$c" or die "$dir/$name.$c: $!";
            my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 30);
            my @reqs = map { $register->($c, $_) } 1 .. $EACH;
            for my $req (@reqs) {
                my $res = eval { $ua->request($req) };
                print $out ($res ? $res->code : 'died'), "\n";
            }
            close $out;
            exit 0;   # POSIX::_exit would skip the flush; exit runs no Test::More ending in a child
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my %seen;
    for my $c (1 .. $CLIENTS) {
        open my $in, '<', "$dir/$name.$c" or next;
        chomp(my @codes = <$in>);
        $seen{$_}++ for @codes;
    }
    return \%seen;
}

sub statuses { my $s = shift; join ', ', map { "$_ x $s->{$_}" } sort keys %$s }

sub all_2xx {
    my ($seen, $name) = @_;
    my $total = 0;
    $total += $_ for values %$seen;
    my $ok = 0;
    $ok += $seen->{$_} for grep { /^2\d\d$/ } keys %$seen;
    is $total, $CLIENTS * $EACH, "$name: every request was answered";
    is $ok, $total, "$name: every answer is a 2xx" or diag statuses($seen);
}

my $log_from = error_log_size();

# --- Layer: POST /push_tokens, the default limit of 25 ------------------------------------
{
    my $APP = 'test-layer';
    my $user = 'storm-layer-' . random_hex(6);
    my $token = new_session($user, $APP);
    my $seen = storm(layer => sub {
        my ($c, $n) = @_;
        post('/push_tokens', {token => random_hex(64), type => 'apns', device_id => "storm-$user-" . int(rand $POOL)},
             Accept => 'application/vnd.layer+json; version=1.0', Authorization => qq{Layer session-token="$token"});
    });
    all_2xx($seen, 'Layer, 16 clients for one user');
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND user_id = '$user'"), 25,
        'Layer: the user keeps 25 devices';
    is psql("SELECT count(DISTINCT token) FROM push_device WHERE app_id = '$APP' AND user_id = '$user'"), 25,
        "Layer: each of them with its own token";
}

# --- Rocket.Chat: push.token, the same limit --------------------------------------------------
{
    my $APP = 'test-rc';
    my $user = 'storm-rc-' . random_hex(6);
    my $token = new_session($user, $APP);
    my $seen = storm(rocketchat => sub {
        post('/api/v1/push.token', {type => 'gcm', value => 'storm-' . random_hex(40), appName => 'chat.rocket.android',
                                    id => "storm-$user-" . int(rand $POOL)},
             'X-User-Id' => $user, 'X-Auth-Token' => $token);
    });
    all_2xx($seen, 'Rocket.Chat, 16 clients for one user');
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND user_id = '$user'"), 25,
        'Rocket.Chat: the user keeps 25 devices (PushUserDeviceLimit applies)';
    is psql("SELECT count(DISTINCT token) FROM push_device WHERE app_id = '$APP' AND user_id = '$user'"), 25,
        "Rocket.Chat: each of them with its own token";
}

# --- Rocket.Chat: forty ids at once for one token ----------------------------------------------
# Each call names an id not stored yet. From nothing: exactly one record holds the token in the
# end. With a record holding it: every call finds that record by token and appName and
# updates it under its id (Rocket.Chat's pushUpdate), none replaces it.
{
    my $APP = 'test-rc';
    my $N = 40;
    my $user = 'burst-rc-' . random_hex(6);
    my $token = new_session($user, $APP);
    my $value = 'burst-' . random_hex(40);
    # $N children, one request each, sent at the same moment; the answers, [code, body] each
    my $burst = sub {
        my ($name) = @_;
        my $start = Time::HiRes::time() + 1;
        my @pids;
        for my $i (1 .. $N) {
            my $pid = fork;
            die "fork: $!" unless defined $pid;
            if (!$pid) {
                my $req = post('/api/v1/push.token', {type => 'gcm', value => $value, appName => 'chat.rocket.android',
                                                      id => "$name-devid$i"},
                               'X-User-Id' => $user, 'X-Auth-Token' => $token);
                my $ua = LWP::UserAgent->new(timeout => 30);
                my $wait = $start - Time::HiRes::time();
                Time::HiRes::sleep($wait) if $wait > 0;
                my $res = eval { $ua->request($req) };
                open my $out, '>', "$dir/$name.$i" or die "$dir/$name.$i: $!";
                print $out ($res ? $res->code . "\n" . $res->content : "died\n");
                close $out;
                exit 0;
            }
            push @pids, $pid;
        }
        waitpid $_, 0 for @pids;
        return [map {
            open my $in, '<', "$dir/$name.$_" or die "$dir/$name.$_: $!";
            local $/;
            my ($code, $body) = split /\n/, <$in>, 2;
            [$code, $body]
        } 1 .. $N];
    };
    my $count = sub { psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND token = '$value'") };

    my $answers = $burst->('first');
    my %codes;
    $codes{$_->[0]}++ for @$answers;
    is_deeply \%codes, {200 => $N}, "Rocket.Chat, $N ids at once for a new token: every answer is a 200"
        or diag explain \%codes;
    is $count->(), 1, '... and exactly one record holds the token';
    my $kept = psql("SELECT device_id || ' ' || created_at FROM push_device WHERE app_id = '$APP' AND token = '$value'");
    my ($id) = split / /, $kept;
    like $id, qr/^first-devid\d+$/, '... under one of the ids';

    $answers = $burst->('again');
    %codes = ();
    $codes{$_->[0]}++ for @$answers;
    is_deeply \%codes, {200 => $N}, "$N new ids at once for the token that record holds: every answer is a 200"
        or diag explain \%codes;
    my %ids;
    $ids{eval { decode_json($_->[1])->{result}{_id} } // 'none'}++ for @$answers;
    is_deeply \%ids, {$id => $N}, '... each answers that record'
        or diag explain \%ids;
    is psql("SELECT device_id || ' ' || created_at FROM push_device WHERE app_id = '$APP' AND token = '$value'"), $kept,
        '... which stays, one record, created when it was';
}

# --- Navixy: bind, sixteen sessions of one user rebinding new tokens ----------------------------
{
    my $APP = 'test-navixy';
    my $user = 'storm-nvx-' . random_hex(6);
    my @hashes = map { new_session($user, $APP) } 1 .. $CLIENTS;
    my $seen = storm(navixy => sub {
        my ($c, $n) = @_;
        post('/user/session/push_token/bind',
             {hash => $hashes[$c - 1], application => 'navixy_android_viewer', token => "storm-$c-$n-" . random_hex(32)});
    });
    all_2xx($seen, 'Navixy, 16 sessions of one user');
    is psql("SELECT count(*) FROM push_device WHERE app_id = '$APP' AND user_id = '$user'"), $CLIENTS,
        'Navixy: one device per session';
}

# --- MobileFirst: device registration for one userId --------------------------------------------
{
    my ($admin) = oauth_token('*');
    my $app = 'storm-mf-' . random_hex(6);
    is mf(POST => '/apps', $admin, {applicationId => $app})->code, 201, 'a MobileFirst application';
    my $user = 'storm-mf-user';
    my $seen = storm(mobilefirst => sub {
        my ($c, $n) = @_;
        post("/imfpush/v1/apps/$app/devices",
             {deviceId => 'storm-' . int(rand $POOL), token => random_hex(64), platform => 'A', userId => $user},
             Authorization => "Bearer $admin");
    });
    all_2xx($seen, 'MobileFirst, 16 clients registering for one userId');
    my $n = psql("SELECT count(*) FROM push_device WHERE app_id = '$app' AND user_id = '$user'");
    ok $n > 25 && $n <= $POOL, "MobileFirst: every device id stored ($n; the back end has no per-user limit)";
    is psql("SELECT count(*) FROM push_subscription s JOIN push_device d USING (app_id, device_id)
              WHERE d.app_id = '$app' AND d.user_id = '$user' AND s.tag_name = 'Push.all'"), $n,
        "MobileFirst: each of them subscribed to Push.all";
}

# --- MobileFirst: a subscription racing an eviction of its device -------------------------------
# An eviction rewrites the least recently used device's row for the new device under its
# owner's lock, when no subscription refers to it. Here a transaction does that by hand,
# holding the lock for a second before the rewrite; a subscription to the device arrives
# meanwhile. It must wait for the lock and then find the device gone (404), not insert a
# subscription that makes the rewrite fail, nor fail itself on the foreign key.
{
    my ($admin) = oauth_token('*');
    my $app = 'race-mf-' . random_hex(6);
    my $user = 'race-user';
    is mf(POST => '/apps', $admin, {applicationId => $app})->code, 201, 'an application for the race';
    is mf(POST => "/apps/$app/tags", $admin, {name => 'news'})->code, 201, 'a tag';
    is mf(POST => "/apps/$app/devices", $admin,
          {deviceId => 'race-old', token => random_hex(64), platform => 'A', userId => $user})->code, 201,
        "a device of $user";
    psql("DELETE FROM push_subscription WHERE app_id = '$app' AND device_id = 'race-old'");
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $ok = eval {
            psql("SELECT pg_advisory_xact_lock(1886745346, hashtext('$app/u/$user')); SELECT pg_sleep(1.5);
                  UPDATE push_device SET device_id = 'race-new' WHERE app_id = '$app' AND device_id = 'race-old'");
            1;
        };
        exit($ok ? 0 : 1);
    }
    select undef, undef, undef, 0.5;
    my $res = mf(POST => "/apps/$app/subscriptions", $admin, {deviceId => 'race-old', tagName => 'news'});
    waitpid $pid, 0;
    is $? >> 8, 0, 'the eviction went through';
    is $res->code, 404, 'the subscription waited for it and found the device gone';
    is psql("SELECT count(*) FROM push_subscription WHERE app_id = '$app'"), 0, 'no subscription was stored';
}

my $log = error_log_since($log_from);
unlike $log, qr/deadlock/i, 'no deadlock in the error log';
unlike $log, qr/PUSH\d+.*(push_session_register|push_device_register|push_rocketchat_register).*ERROR/,
    'no failed registration statement in the error log';
done_testing;
