# Observability: /push-metrics (Prometheus text format, read by a strict parser below)
# moves with real deliveries to the mock APNs and with a delivery that fails for want of
# credentials; that failure is logged at info with its message and application; the
# provider requests at debug; mod_status shows mod_push's section.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;
use PushMock qw(mock_reset);
use PushSender qw(wait_for apns_app bulk_devices send_broadcast summary summary_text);

# --- a strict reader of the text exposition format (version 0.0.4) ---------------------------
# Returns ({series => value}, {family => type}) or dies naming the first bad line.
sub parse_metrics {
    my $text = shift;
    die "the exposition does not end with a newline\n" unless $text =~ /\n\z/;
    my (%value, %type, %help, %seen_family_samples);
    my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
    my $n = 0;
    for my $line (split /\n/, $text) {
        $n++;
        next if $line eq '';
        if ($line =~ /^#/) {
            if ($line =~ /^# HELP ($name_re) (.*)$/) {
                die "line $n: a second HELP for $1\n" if $help{$1}++;
                die "line $n: HELP text with a bad escape\n" if $2 =~ /\\[^\\n]/;
            } elsif ($line =~ /^# TYPE ($name_re) (counter|gauge|histogram|summary|untyped)$/) {
                die "line $n: a second TYPE for $1\n" if $type{$1};
                die "line $n: TYPE of $1 after its samples\n" if $seen_family_samples{$1};
                $type{$1} = $2;
            } elsif ($line =~ /^# (HELP|TYPE)/) {
                die "line $n: malformed $1 line: $line\n";
            }
            next;
        }
        $line =~ /^($name_re)(\{.*\})? (\S+)( -?\d+)?$/ or die "line $n: not a sample: $line\n";
        my ($name, $labels, $v) = ($1, $2 // '', $3);
        die "line $n: '$v' is not a number\n"
            unless $v =~ /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
        my @pairs;
        if ($labels ne '') {
            my $body = substr($labels, 1, -1);
            while ($body ne '') {
                $body =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"// or die "line $n: bad labels $labels\n";
                push @pairs, [$1, $2];
                last if $body eq '';
                $body =~ s/^,// or die "line $n: labels not separated by commas: $labels\n";
            }
            my %u;
            $u{$_->[0]}++ and die "line $n: label $_->[0] twice\n" for @pairs;
        }
        my $family = $name;
        if (!$type{$family}) {
            ($family = $name) =~ s/_(bucket|sum|count)$//;
            die "line $n: $name has no TYPE\n" unless $type{$family} && $type{$family} =~ /histogram|summary/;
        }
        die "line $n: a counter must not be negative\n" if $type{$family} eq 'counter' && $v =~ /^-/;
        $seen_family_samples{$family} = 1;
        my $key = $name . '{' . join(',', map { "$_->[0]=\"$_->[1]\"" } sort { $a->[0] cmp $b->[0] } @pairs) . '}';
        die "line $n: series $key twice\n" if exists $value{$key};
        $value{$key} = $v;
    }
    # histograms: cumulative buckets ending in +Inf, which equals _count
    for my $h (grep { $type{$_} eq 'histogram' } keys %type) {
        my %by;
        for my $k (grep { /^\Q$h\E_bucket\{/ } keys %value) {
            (my $rest = $k) =~ s/le="([^"]*)"//;
            my $le = $1;
            $rest =~ s/\{,/{/;
            $rest =~ s/,,/,/;
            $rest =~ s/,\}/}/;
            push @{ $by{$rest} }, [$le, $value{$k}];
        }
        for my $rest (keys %by) {
            my @b = sort { ($a->[0] eq '+Inf' ? 9**9**9 : $a->[0]) <=> ($b->[0] eq '+Inf' ? 9**9**9 : $b->[0]) } @{ $by{$rest} };
            die "$h: the last bucket of $rest is not +Inf\n" unless $b[-1][0] eq '+Inf';
            for my $i (1 .. $#b) { die "$h: buckets of $rest are not cumulative\n" if $b[$i][1] < $b[$i - 1][1] }
            (my $count = $rest) =~ s/^\Q$h\E_bucket/${h}_count/;
            die "$h: +Inf of $rest differs from $count\n" unless defined $value{$count} && $value{$count} == $b[-1][1];
        }
    }
    return (\%value, \%type);
}

# the parser refuses what it must
for my $bad ("# TYPE x counter\nx{a=\"b} 1\n", "x 1\n", "# TYPE x counter\nx one\n",
             "# TYPE x counter\nx{a=\"1\",a=\"2\"} 1\n", "# TYPE x gauge\nx 1", "# TYPE x counter\nx{a=\"\\q\"} 1\n",
             "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n") {
    ok !eval { parse_metrics($bad); 1 }, 'the parser refuses ' . ($bad =~ s/\n/\\n/gr);
}

sub scrape {
    my $res = request(GET => '/push-metrics');
    is $res->code, 200, 'GET /push-metrics' or diag $res->as_string;
    like $res->header('Content-Type'), qr{^text/plain; version=0\.0\.4}, '... in the text format';
    my ($v, $t) = eval { parse_metrics($res->content) };
    ok $v, '... which parses' or diag $@, $res->content;
    return ($v || {}, $t || {});
}
sub val { my ($v, $k) = @_; return $v->{$k} // 0 }

my ($before, $types) = scrape();
is $types->{push_deliveries_total}, 'counter', 'deliveries are a counter';
is $types->{push_provider_request_duration_seconds}, 'histogram', 'provider latency is a histogram';
is $types->{push_first_delivery_delay_seconds}, 'histogram', 'the first-delivery delay is a histogram';
is $types->{push_queue_depth}, 'gauge', 'the queue depth is a gauge';

my ($token) = oauth_token('*');
my $app = 'metrics-' . random_hex(6);
my $nocred = 'metrics-nocred-' . random_hex(6);
mock_reset();
apns_app($token, $app);
is bulk_devices($app, 20), 20, '20 APNs devices';
# a webhook of the application, and a device registered through the API: one event for it
is mf(POST => "/apps/$app/webhooks", $token, {name => 'm', url => "$ENV{PUSH_MOCK_HTTP}/hook/$app",
                                               eventTypes => 'onDeviceRegister'})->code, 201, 'a webhook';
is mf(POST => "/apps/$app/devices", $token, {deviceId => 'api-device', platform => 'A', token => random_hex(64)})->code,
   201, 'a device registered through the API';
is mf(POST => '/apps', $token, {applicationId => $nocred})->code, 201, 'an application without credentials';
is bulk_devices($nocred, 1), 1, '... with one APNs device';

my $log_from = error_log_size();
my $id = send_broadcast($token, $app, 'metrics');
my $bad = send_broadcast($token, $nocred, 'no credentials');
my $s = wait_for(60, sub { my $x = summary($app, $id); $x->{sent} == 21 ? $x : undef });
ok $s, '21 deliveries sent' or diag summary_text(summary($app, $id));
ok wait_for(60, sub { summary($nocred, $bad)->{failed} == 1 }), 'the delivery without credentials failed'
    or diag summary_text(summary($nocred, $bad));

my ($after) = scrape();
is val($after, qq(push_messages_accepted_total{application="$app"})), 1, 'one message accepted for the application';
is val($after, qq(push_messages_accepted_total{application="$nocred"})), 1, '... and one for the other';
is val($after, qq(push_deliveries_total{application="$app",outcome="sent",provider="apns"})), 21,
   '21 deliveries sent, by application, provider and outcome';
is val($after, qq(push_deliveries_total{application="$nocred",outcome="failed",provider="apns"})), 1,
   'the failed one';
ok wait_for(20, sub { my ($v) = eval { parse_metrics(request(GET => '/push-metrics')->content) };
                     val($v, qq(push_deliveries_total{application="$app",outcome="sent",provider="webhook"})) >= 1 }),
   'the webhook event counts as a webhook delivery';
($after) = scrape();
cmp_ok val($after, 'push_provider_request_duration_seconds_count{provider="webhook"}')
     - val($before, 'push_provider_request_duration_seconds_count{provider="webhook"}'), '>=', 1,
   '... and its POST in the latency histogram';
cmp_ok val($after, 'push_provider_request_duration_seconds_count{provider="apns"}')
     - val($before, 'push_provider_request_duration_seconds_count{provider="apns"}'), '>=', 21,
   'the APNs latency histogram counts the requests';
cmp_ok val($after, 'push_provider_request_duration_seconds_sum{provider="apns"}'), '>',
   val($before, 'push_provider_request_duration_seconds_sum{provider="apns"}'), '... and their time';
cmp_ok val($after, 'push_first_delivery_delay_seconds_count{}') - val($before, 'push_first_delivery_delay_seconds_count{}'),
   '>=', 1, 'the first delivery of the message is in the delay histogram';
is val($after, 'push_sender_up{}'), 1, 'this server\'s sender is up';
is val($after, 'push_database_up{}'), 1, 'the queue gauges come from the database';
cmp_ok val($after, 'push_senders_alive{}'), '>=', 1, 'senders alive';
ok exists $after->{'push_queue_depth{}'} && exists $after->{'push_queue_oldest_pending_seconds{}'},
   'queue depth and oldest pending age';

# the log: the failure at info with its message and application, requests at debug
my $log = wait_for(10, sub { my $t = error_log_since($log_from); $t =~ /PUSH0634/ ? $t : undef }) // '';
like $log, qr/\[push:info\].*PUSH0634: sender: delivery of message \Q$bad\E of application \Q$nocred\E to device dev-000001 by apns: failed \(no apns credentials\)/,
     'the failed delivery is logged at info with its reason, message and application';
like $log, qr/\[push:debug\].*PUSH0633: sender: apns request for message \Q$id\E of application \Q$app\E to device dev-\d+: HTTP 200 in [\d.]+ ms/,
     'each provider request is logged at debug';

# mod_status
my $auto = request(GET => '/server-status?auto');
SKIP: {
    skip 'mod_status is not loaded', 4 unless $auto->code == 200 && $auto->content =~ /^ServerVersion|^Total Accesses|^ServerUptime/m;
    like $auto->content, qr/^PushSenderAlive: 1$/m, 'server-status?auto: the sender is alive';
    like $auto->content, qr/^PushSenderPid: [1-9]\d*$/m, '... its pid';
    my ($n) = $auto->content =~ /^PushDeliveries_apns_sent: (\d+)$/m;
    cmp_ok $n // 0, '>=', 21, '... the per-provider counters';
    my $html = request(GET => '/server-status');
    like $html->content, qr{<h2>mod_push</h2>.*Sender: pid \d+, alive.*<td>apns</td>}s, 'the status page has a mod_push section';
}

is request(POST => '/push-metrics', content => '')->code, 405, 'POST /push-metrics is refused';

done_testing;
