#!/usr/bin/perl
# The client side of bench/delivery: sends messages through the MobileFirst API and
# watches the mock providers and the sender process while they are delivered. Core
# modules only (HTTP::Tiny, JSON::PP, Time::HiRes). Run by bench/delivery, never alone.
#
#   delivery.pl smoke     OUT_DIR            one broadcast with the mock recording; writes
#                                            OUT_DIR/apns-headers and OUT_DIR/apns-payload.json
#   delivery.pl broadcast N                  one broadcast to N devices; key=value lines
#   delivery.pl latency   DEVICE_ID...       one message per device, one after the other
#   delivery.pl stats                        the mock's APNs statistics as key=value lines
#
# Settings come from the environment: BASE (httpd), BEARER (an OAuth access token with
# scope *), APP, MOCK (the mock's http control URL), SENDER_PID, MOCK_NODE_PID, PG_PID
# (the postmaster), HTTPD_PID, STALL_SECONDS, BROADCAST_BODY (the message's JSON).
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);

my $json = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 60, agent => 'bench/delivery');
my $mock_http = HTTP::Tiny->new(keep_alive => 1, timeout => 30, agent => 'bench/delivery');
# POSTs go on a new connection each: HTTP::Tiny writes a request's headers and its body
# in two writes, and on a kept-alive connection Nagle's algorithm holds the body back
# until httpd's delayed ACK of the headers (40 ms), which would be counted as latency.
my $post_http = HTTP::Tiny->new(keep_alive => 0, timeout => 60, agent => 'bench/delivery');
my %E = map { $_ => $ENV{$_} } qw(BASE BEARER APP MOCK SENDER_PID MOCK_NODE_PID PG_PID HTTPD_PID
                                 STALL_SECONDS BROADCAST_BODY);
my $TICK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub say_err { print STDERR "bench/delivery: @_\n" }
sub fail { say_err("error: @_"); exit 1 }
sub now_ms { time() * 1000 }

# --- HTTP ---------------------------------------------------------------------------

sub api {
    my ($method, $path, $body) = @_;
    my %o = (headers => {authorization => "Bearer $E{BEARER}"});
    if (defined $body) {
        $o{content} = ref $body ? $json->encode($body) : $body;
        $o{headers}{'content-type'} = 'application/json';
    }
    my $res = ($method eq 'POST' ? $post_http : $http)->request($method, "$E{BASE}/imfpush/v1/apps/$E{APP}$path", \%o);
    my $doc = eval { decode_json($res->{content}) };
    return ($res, $doc);
}

sub mock {
    my ($method, $what, $body) = @_;
    my %o;
    if (defined $body) {
        $o{content} = $json->encode($body);
        $o{headers} = {'content-type' => 'application/json'};
    }
    my $res = $mock_http->request($method, "$E{MOCK}/__mock/$what", \%o);
    $res->{success} or fail("mock $method /__mock/$what: $res->{status} $res->{content}");
    return decode_json($res->{content});
}

# the provider the run measures: apns, or webpush for the Web Push broadcast
my $KIND = $ENV{MOCK_KIND} || 'apns';
sub apns_stats { mock(GET => 'stats')->{$KIND} }

# POSTs a message; returns its id and the times (ms since the epoch) before the request
# left and after the answer came.
sub post_message {
    my ($body) = @_;
    my $t0 = now_ms();
    my ($res, $doc) = api(POST => '/messages', $body);
    my $t1 = now_ms();
    $res->{status} == 202 && $doc && $doc->{messageId}
        or fail("POST /messages answered $res->{status}: $res->{content}");
    return ($doc->{messageId}, $t0, $t1);
}

sub summary {
    my ($id) = @_;
    my ($res, $doc) = api(GET => "/messages/$id");
    $res->{status} == 200 && $doc or fail("GET /messages/$id answered $res->{status}: $res->{content}");
    return $doc;
}

sub final_state { $_[0]{status} =~ /^(done|cancelled|expired)$/ }

# --- processes ------------------------------------------------------------------------

# utime + stime (+ cutime + cstime with $reaped) of a process, in ticks
sub proc_ticks {
    my ($pid, $reaped) = @_;
    open my $f, '<', "/proc/$pid/stat" or return 0;
    my $s = <$f>;
    close $f;
    $s =~ s/^.*\) // or return 0;
    my @f = split ' ', $s;
    return $f[11] + $f[12] + ($reaped ? $f[13] + $f[14] : 0);
}

sub children {
    my ($pid) = @_;
    my @c;
    for my $d (glob '/proc/[0-9]*') {
        open my $f, '<', "$d/stat" or next;
        my $s = <$f>;
        close $f;
        my ($ppid) = $s =~ /\) \S+ (\d+)/ or next;
        push @c, $d =~ m{(\d+)$} if $ppid == $pid;
    }
    return @c;
}

# a tree's ticks: the process with its reaped children, and its live children
sub tree_ticks {
    my ($pid, $except) = @_;
    return 0 unless $pid;
    my $t = proc_ticks($pid, 1);
    $t += proc_ticks($_, 0) for grep { !$except || $_ != $except } children($pid);
    return $t;
}

# busy (user, nice, system, irq, softirq, steal) and total ticks of the machine
sub machine_ticks {
    open my $f, '<', '/proc/stat' or return (0, 0);
    my ($l) = grep { /^cpu / } <$f>;
    my (undef, @v) = split ' ', $l;
    my $total = 0;
    $total += $v[$_] for 0 .. 7;
    return ($total - $v[3] - $v[4], $total);
}

sub cpu_snapshot {
    my %s;
    ($s{busy}, $s{total}) = machine_ticks();
    $s{sender} = proc_ticks($E{SENDER_PID}, 0);
    $s{httpd} = tree_ticks($E{HTTPD_PID}, $E{SENDER_PID});
    $s{pg} = tree_ticks($E{PG_PID});
    $s{mock} = proc_ticks($E{MOCK_NODE_PID}, 0);
    $s{client} = proc_ticks($$, 1);
    return \%s;
}

# CPU seconds each part took between two snapshots, and what was left for others
sub cpu_report {
    my ($a, $b) = @_;
    my %r;
    $r{"cpu_$_"} = sprintf '%.2f', ($b->{$_} - $a->{$_}) / $TICK for qw(sender httpd pg mock client busy);
    my $ours = 0;
    $ours += $b->{$_} - $a->{$_} for qw(sender httpd pg mock client);
    my $total = $b->{total} - $a->{total};
    my $other = ($b->{busy} - $a->{busy}) - $ours;
    $other = 0 if $other < 0;
    $r{other_pct} = $total > 0 ? sprintf('%d', 100 * $other / $total + 0.5) : 0;
    return %r;
}

sub vm_status {
    my ($pid) = @_;
    my %v;
    open my $f, '<', "/proc/$pid/status" or return ();
    while (<$f>) { $v{$1} = $2 if /^(VmRSS|VmHWM):\s+(\d+) kB/ }
    return %v;
}

sub put_kv {
    my (%kv) = @_;
    print "$_=$kv{$_}\n" for sort keys %kv;
}

# --- commands -------------------------------------------------------------------------

# One broadcast to the single device the application holds, with the mock recording,
# so that h2load can send what the sender sent.
sub cmd_smoke {
    my ($dir) = @_;
    mock(POST => 'config', {record => JSON::PP::true()});
    mock(POST => 'reset');
    my ($id) = post_message($E{BROADCAST_BODY});
    my $until = time + 30;
    my $s;
    while (time < $until) {
        $s = summary($id);
        last if final_state($s);
        sleep 0.1;
    }
    final_state($s) && $s->{summary}{sent} == 1
        or fail('the smoke test message was not delivered: ' . $json->encode($s));
    my $reqs = mock(GET => "requests?kind=$KIND");
    @$reqs == 1 or fail(scalar(@$reqs) . " $KIND requests for one device");
    my $r = $reqs->[0];
    $r->{status} >= 200 && $r->{status} < 300 or fail("the mock $KIND answered $r->{status}: " . $json->encode($r));
    open my $h, '>', "$dir/$KIND-headers" or fail("$dir/$KIND-headers: $!");
    for my $k (sort keys %{ $r->{headers} }) {
        # APNs: bench/delivery signs its own token; Web Push: the sender's VAPID token is kept
        next if $k =~ /^(content-length|host)$/ || ($k eq 'authorization' && $KIND eq 'apns');
        print $h "$k: $r->{headers}{$k}\n";
    }
    close $h;
    open my $p, '>', "$dir/$KIND-payload.json" or fail("$dir/$KIND-payload.json: $!");
    # Web Push bodies are ciphertext the mock does not decrypt with --no-record: bytes of
    # the same length stand in for them
    print $p $KIND eq 'webpush' ? join('', map { chr(int(rand(256))) } 1 .. ($r->{headers}{'content-length'} || length($r->{body} // '') || 256))
                                : $r->{body};
    close $p;
    mock(POST => 'config', {record => JSON::PP::false()});
    mock(POST => 'reset');
    put_kv(message_id => $id, status => $r->{status}, path => $r->{path});
}

sub cmd_broadcast {
    my ($n) = @_;
    my $stall = $E{STALL_SECONDS} || 60;
    my (%peak, $last_progress, $last_count, $last_change, $doc, $t_done, @timeline, $t_expanded, $n_expanded);
    mock(POST => 'reset');
    my $cpu0 = cpu_snapshot();
    my %vm0 = vm_status($E{SENDER_PID});
    my ($id, $t0, $t1) = post_message($E{BROADCAST_BODY});
    $last_progress = $last_change = time;
    $last_count = -1;
    my $next_summary = 0;
    my $next_mark = time + 5;
    while (1) {
        sleep 0.2;
        my $st = apns_stats();
        my %vm = vm_status($E{SENDER_PID});
        %vm or fail("the sender (pid $E{SENDER_PID}) is gone");
        $peak{rss} = $vm{VmRSS} if !$peak{rss} || $vm{VmRSS} > $peak{rss};
        if ($st->{requests} != $last_count) {
            $last_count = $st->{requests};
            $last_change = time;
        }
        if (time >= $next_mark) {
            push @timeline, sprintf('%.0f:%d', time - $t0 / 1000, $st->{requests});
            $next_mark += 5;
        }
        if (time >= $next_summary || $st->{requests} >= $n) {
            $doc = summary($id);
            $next_summary = time + 1;
            # the audience is expanded once the summary counts every device
            if (!defined $t_expanded && ($doc->{summary}{targeted} // 0) >= $n) {
                $t_expanded = now_ms();
                $n_expanded = $st->{requests};
            }
            if (final_state($doc)) {
                $t_done = now_ms();
                last;
            }
        }
        if (time - $last_progress >= 10) {
            my $span = $st->{last} && $st->{first} ? ($st->{last} - $st->{first}) / 1000 : 0;
            say_err(sprintf('%d of %d delivered (%.0f/s so far), summary: targeted %d, sent %d',
                            $st->{requests}, $n, $span > 0 ? $st->{requests} / $span : 0,
                            $doc->{summary}{targeted} // 0, $doc->{summary}{sent} // 0));
            $last_progress = time;
        }
        if (time - $last_change > $stall) {
            fail("no delivery for ${stall}s: the mock saw $st->{requests} of $n; message summary: "
                 . $json->encode($doc->{summary} // {}) . " ($doc->{status})");
        }
    }
    my $cpu1 = cpu_snapshot();
    my %vm = vm_status($E{SENDER_PID});
    my $st = apns_stats();
    my $span_ms = ($st->{last} // 0) - ($st->{first} // 0);
    put_kv(
        message_id => $id, state => $doc->{status},
        (map { ("summary_$_" => $doc->{summary}{$_}) } keys %{ $doc->{summary} }),
        mock_requests => $st->{requests}, mock_ok => $st->{ok}, mock_connections => $st->{connections},
        mock_max_streams => $st->{maxStreams}, mock_statuses => $json->encode($st->{statuses}),
        span_ms => sprintf('%.1f', $span_ms),
        rate => sprintf('%.1f', $span_ms > 0 ? $st->{ok} * 1000 / $span_ms : 0),
        accept_ms => sprintf('%.1f', $t1 - $t0),
        first_delay_ms => sprintf('%.1f', $st->{first} - $t0),
        done_s => sprintf('%.1f', ($t_done - $t0) / 1000),
        # deliveries per second while the audience was being expanded, and after
        expanded_s => sprintf('%.1f', (($t_expanded // $t_done) - $t0) / 1000),
        rate_expanding => sprintf('%.0f', defined $t_expanded && $t_expanded > $st->{first}
                                  ? $n_expanded * 1000 / ($t_expanded - $st->{first}) : 0),
        rate_expanded => sprintf('%.0f', defined $t_expanded && $st->{last} > $t_expanded
                                 ? ($st->{ok} - $n_expanded) * 1000 / ($st->{last} - $t_expanded) : 0),
        timeline => join(',', @timeline),
        last_to_done_s => sprintf('%.1f', ($t_done - $st->{last}) / 1000),
        vmhwm_kb => $vm{VmHWM}, vmrss_kb => $vm{VmRSS}, vmrss_before_kb => $vm0{VmRSS} // 0,
        vmhwm_before_kb => $vm0{VmHWM} // 0, vmrss_peak_sampled_kb => $peak{rss},
        cpu_report($cpu0, $cpu1));
}

sub cmd_latency {
    my @devices = @_;
    my @lat;
    my @accept;
    my $i = 0;
    for my $dev (@devices) {
        $i++;
        my $before = apns_stats()->{requests};
        my ($id, $t0, $t1) = post_message({message => {alert => "latency $i"}, target => {deviceIds => [$dev]}});
        my $until = time + 30;
        my $st;
        while (1) {
            $st = apns_stats();
            last if $st->{requests} > $before;
            time < $until or fail("message $id to $dev: no delivery within 30 s");
            sleep 0.002;
        }
        push @lat, $st->{last} - $t0;
        push @accept, $t1 - $t0;
        # the next one only after this one is settled
        my $s;
        $until = time + 30;
        do {
            sleep 0.05;
            $s = summary($id);
        } until final_state($s) || time > $until;
        final_state($s) && $s->{summary}{sent} == 1
            or fail("message $id to $dev was not sent: " . $json->encode($s));
        print sprintf("latency_%02d=%.1f accept=%.1f\n", $i, $lat[-1], $accept[-1]);
        sleep 1;
    }
    my @s = sort { $a <=> $b } @lat;
    my @a = sort { $a <=> $b } @accept;
    my $rank = sub { my ($v, $p) = @_; $v->[POSIX::ceil($p * @$v) - 1] };
    put_kv(latency_p50 => sprintf('%.1f', $rank->(\@s, 0.5)), latency_p95 => sprintf('%.1f', $rank->(\@s, 0.95)),
           latency_max => sprintf('%.1f', $s[-1]), latency_min => sprintf('%.1f', $s[0]),
           accept_p50 => sprintf('%.1f', $rank->(\@a, 0.5)), accept_p95 => sprintf('%.1f', $rank->(\@a, 0.95)),
           latency_n => scalar @s);
}

sub cmd_stats {
    my $st = apns_stats();
    my $span_ms = ($st->{last} // 0) - ($st->{first} // 0);
    put_kv(mock_requests => $st->{requests}, mock_ok => $st->{ok}, mock_connections => $st->{connections},
           mock_max_streams => $st->{maxStreams}, span_ms => sprintf('%.1f', $span_ms),
           rate => sprintf('%.1f', $span_ms > 0 ? $st->{ok} * 1000 / $span_ms : 0),
           mock_statuses => $json->encode($st->{statuses}));
}

sub cmd_reset { mock(POST => 'reset'); }

my $cmd = shift @ARGV // '';
$E{BROADCAST_BODY} = decode_json($E{BROADCAST_BODY}) if $E{BROADCAST_BODY};
$| = 1;
if ($cmd eq 'smoke') { cmd_smoke(@ARGV) }
elsif ($cmd eq 'broadcast') { cmd_broadcast(@ARGV) }
elsif ($cmd eq 'latency') { cmd_latency(@ARGV) }
elsif ($cmd eq 'stats') { cmd_stats() }
elsif ($cmd eq 'reset') { cmd_reset() }
else { fail("unknown command '$cmd'") }
