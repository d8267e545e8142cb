package PushSender;
# Helpers for the tests of the sender process: applications with APNs settings and many
# devices written straight into the database, broadcasts, the push_sender rows, the
# httpd parent, and a fast tally of what the mock APNs received (20,000 records are
# too many for JSON::PP, so the raw answer is cut into records with regular expressions).
use strict;
use warnings;

use Exporter 'import';
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(time sleep);

use PushTest;
use PushMock qw(mock_url);

our @EXPORT_OK = qw(slurp wait_for apns_app bulk_devices device_tokens send_broadcast summary
                    summary_text senders live_senders httpd_pid pid_alive apns_tally);

sub slurp { local $/; open my $f, '<', $_[0] or die "$_[0]: $!"; my $s = <$f>; $s }

# wait_for(timeout seconds, sub[, poll interval]) -> the sub's first true value, or undef
sub wait_for {
    my ($timeout, $cond, $every) = @_;
    my $until = time + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return undef if time >= $until;
        sleep($every || 0.1);
    }
}

# An application with production APNs token-auth settings (the mock's TLS endpoint).
sub apns_app {
    my ($token, $app) = @_;
    my $res = mf(POST => '/apps', $token, {applicationId => $app});
    die "application $app: " . $res->as_string unless $res->code == 201;
    my $keys = $ENV{PUSH_TEST_KEYS};
    $res = mf(PUT => "/apps/$app/settings/apnsConf", $token,
              {keyId => 'MOCKKEY001', teamId => 'MOCKTEAM01', bundleId => 'com.example.push',
               p8 => slurp("$keys/apns.p8"), isSandBox => JSON::PP::false()});
    die "APNs settings of $app: " . $res->as_string unless $res->code == 200;
    return 1;
}

# $n APNs devices dev-000001 .. with valid 64-hex tokens, in one statement.
sub bulk_devices {
    my ($app, $n) = @_;
    psql("INSERT INTO push_device (app_id, device_id, platform, token, source_family)
          SELECT '$app', 'dev-' || lpad(i::text, 6, '0'), 'apns',
                 md5('a' || i || '$app') || md5('b' || i || '$app'), 'mobilefirst'
            FROM generate_series(1, $n) AS i");
    return psql("SELECT count(*) FROM push_device WHERE app_id = '$app'");
}

# { token => device id } of an application's devices
sub device_tokens {
    my $app = shift;
    my %t;
    for (split /\n/, psql("SELECT token, device_id FROM push_device WHERE app_id = '$app'")) {
        my ($tok, $dev) = split /\|/;
        $t{$tok} = $dev;
    }
    return \%t;
}

# A message to every device of the application; returns its id.
sub send_broadcast {
    my ($token, $app, $alert) = @_;
    my $res = mf(POST => "/apps/$app/messages", $token, {message => {alert => $alert}});
    die "send: " . $res->as_string unless $res->code == 202;
    return json_body($res)->{messageId};
}

# { state, targeted, sent, failed, invalid, filtered, expired, cancelled, pending } from the database
sub summary {
    my ($app, $id) = @_;
    my @f = qw(state targeted sent failed invalid filtered expired cancelled pending);
    my @v = psql_row("SELECT " . join(', ', @f) . " FROM push_message_summary('$app', '$id')");
    my %s;
    @s{@f} = @v;
    return \%s;
}

sub summary_text {
    my $s = shift;
    return join ' ', map { "$_=" . ($s->{$_} // '?') } qw(state targeted sent failed invalid filtered expired cancelled pending);
}

# The rows of push_sender: [{owner, pid, age}], oldest first
sub senders {
    my @rows;
    for (split /\n/, psql("SELECT owner, pid, extract(epoch FROM now() - seen_at)::integer
                             FROM push_sender ORDER BY started_at, owner")) {
        my ($owner, $pid, $age) = split /\|/;
        push @rows, {owner => $owner, pid => $pid, age => $age};
    }
    return @rows;
}

sub pid_alive {
    my $pid = shift;
    return 0 unless $pid && $pid > 1;
    return 0 unless kill 0, $pid;
    # a zombie answers kill 0 too
    if (open my $f, '<', "/proc/$pid/stat") {
        my $stat = <$f>;
        return 0 if $stat && $stat =~ /^\d+ \(.*\) Z /;
    }
    return 1;
}

# push_sender rows whose process is alive on this host
sub live_senders { grep { pid_alive($_->{pid}) } senders() }

sub httpd_pid {
    my $file = "$ENV{PUSH_TEST_TOP}/t/logs/httpd.pid";
    my $pid = slurp($file);
    $pid =~ s/\s+//g;
    return $pid;
}

# What the mock APNs recorded: apns_tally(since => seq, keys => {token => 1}) ->
#   { count, last_seq, key => {token => n}, auth => {bearer => n}, conn => {id => n},
#     conn_auth => {id => {bearer => n}}, status => {code => n} }
# Records of tokens not in keys (when given) are left out.
sub apns_tally {
    my %o = @_;
    my $url = mock_url('http') . '/__mock/requests?kind=apns' . ($o{since} ? "&since=$o{since}" : '');
    my $ua = LWP::UserAgent->new(timeout => 120, env_proxy => 0);
    $ua->proxy([qw(http https)], undef);
    my $res = $ua->get($url);
    die "GET $url: " . $res->status_line . "\n" unless $res->is_success;
    my $raw = $res->content;
    my %t = (count => 0, last_seq => $o{since} || 0, key => {}, auth => {}, conn => {}, conn_auth => {},
             status => {});
    # every record starts with {"seq":N,"kind":"apns","key":"<token>"; strings inside a record
    # are JSON-escaped, so {"seq": cannot occur in them
    for my $rec (split /\{"seq":/, $raw) {
        my ($seq) = $rec =~ /^(\d+),"kind":"apns"/ or next;
        my ($key) = $rec =~ /"key":"([^"]*)"/;
        next if $o{keys} && !($key && $o{keys}{$key});
        my ($conn) = $rec =~ /"conn":(\d+)/;
        my ($status) = $rec =~ /"status":(\d+|null)/;
        my ($auth) = $rec =~ /"authorization":"bearer ([^"]*)"/;
        $auth //= '-';
        $t{count}++;
        $t{last_seq} = $seq if $seq > $t{last_seq};
        $t{key}{$key // ''}++;
        $t{auth}{$auth}++;
        $t{conn}{$conn // 0}++;
        $t{conn_auth}{$conn // 0}{$auth}++;
        $t{status}{$status // 'null'}++;
    }
    return \%t;
}

1;
