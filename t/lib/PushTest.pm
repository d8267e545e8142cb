package PushTest;
# Helpers for mod_push's Apache::Test suite: requests in each dialect, and direct
# looks at the test database through psql and pushctl.
use strict;
use warnings;

use Exporter 'import';
use HTTP::Request ();
use JSON::PP ();
use Apache::TestRequest ();
use URI ();

our @EXPORT = qw(psql psql_row pushctl new_session request layer nvx json_body
                 error_log_since error_log_size random_hex oauth_client oauth_token mf);

my $JSON = JSON::PP->new->utf8->canonical;

sub _run {
    my @cmd = map { my $a = $_; utf8::upgrade($a); utf8::encode($a); $a } @_;  # text, as UTF-8
    open(my $fh, '-|', @cmd) or die "cannot run $cmd[0]: $!";
    local $/;
    my $out = <$fh>;
    close $fh;
    die "@cmd[0,1,2] failed: exit " . ($? >> 8) . "\n" if $?;
    $out = '' unless defined $out;
    $out =~ s/\n\z//;
    return $out;
}

# psql("SELECT ...") -> the text psql -At prints (rows on lines, columns split by |)
sub psql { _run($ENV{PUSH_TEST_PSQL}, '-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-d', $ENV{PUSH_TEST_PG}, '-c', $_[0]) }

# The first row as a list of columns.
sub psql_row { split /\|/, psql($_[0]), -1 }

sub pushctl { _run($ENV{PUSHCTL}, '-d', $ENV{PUSH_TEST_PG}, @_) }

# A built-in session: new_session(user, app[, ttl seconds]) -> its token
sub new_session {
    my ($user, $app, $ttl) = @_;
    return pushctl('session', 'add', '--user', $user, '--app', $app, $ttl ? ('--ttl', $ttl) : ());
}

sub random_hex {
    my $n = shift || 32;
    return join '', map { sprintf '%x', int rand 16 } 1 .. $n;
}

# request(METHOD, path, headers => [..], content => bytes, module => vhost) -> HTTP::Response
sub request {
    my ($method, $path, %o) = @_;
    Apache::TestRequest::module($o{module} || 'default');
    my $url = Apache::TestRequest::resolve_url($path);
    my $ua = Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
    my $req = HTTP::Request->new($method, $url, $o{headers} || [], $o{content});
    $req->header('Content-Length' => length $o{content}) if defined $o{content};
    $req->authorization_basic(@{ $o{basic} }) if $o{basic};
    return $ua->request($req);
}

# layer(METHOD, path, token, body, accept => ..., auth => raw header)
#   body: a reference is sent as JSON; a string as is; undef sends nothing.
sub layer {
    my ($method, $path, $token, $body, %o) = @_;
    my @h;
    my $accept = exists $o{accept} ? $o{accept} : 'application/vnd.layer+json; version=1.0';
    push @h, Accept => $accept if defined $accept;
    if (defined $o{auth}) {
        push @h, Authorization => $o{auth};
    } elsif (defined $token) {
        push @h, Authorization => qq{Layer session-token="$token"};
    }
    my $content;
    if (defined $body) {
        $content = ref $body ? $JSON->encode($body) : $body;
        push @h, 'Content-Type' => exists $o{type} ? $o{type} : 'application/json';
    }
    return request($method, $path, %o, headers => \@h, content => $content);
}

# nvx(METHOD, path, style, \%params, headers => [...]) where style is json, form or query
sub nvx {
    my ($method, $path, $style, $params, %o) = @_;
    my @h = @{ $o{headers} || [] };
    my $content;
    if ($style eq 'json') {
        $content = ref $params ? $JSON->encode($params) : $params;
        push @h, 'Content-Type' => 'application/json';
    } elsif ($style eq 'form') {
        my $u = URI->new('http:');
        $u->query_form(%$params);
        $content = $u->query;
        push @h, 'Content-Type' => 'application/x-www-form-urlencoded';
    } else {
        my $u = URI->new('http:');
        $u->query_form(%$params);
        $path .= '?' . $u->query if %$params;
    }
    return request($method, $path, %o, headers => \@h, content => $content);
}

# A stored OAuth client: oauth_client(scopes) -> (id, secret)
sub oauth_client {
    my $scopes = shift;
    my $id = 'client-' . random_hex(10);
    my $secret = pushctl('client', 'add', $id, '--scope', $scopes);
    return ($id, $secret);
}

# A token from the token endpoint: oauth_token(scope[, id, secret]); a new client with
# scope "*" when none is given. Returns the token (undef when refused) and the response.
sub oauth_token {
    my ($scope, $id, $secret) = @_;
    ($id, $secret) = oauth_client('*') unless defined $id;
    my $u = URI->new('http:');
    $u->query_form(grant_type => 'client_credentials', (defined $scope ? (scope => $scope) : ()));
    my $res = request(POST => '/mfp/api/az/v1/token', basic => [$id, $secret],
                      headers => ['Content-Type' => 'application/x-www-form-urlencoded'],
                      content => $u->query);
    my $b = json_body($res);
    return (($res->code == 200 && $b ? $b->{access_token} : undef), $res);
}

# mf(METHOD, path under /imfpush/v1, token, body, headers => [...]) -> HTTP::Response
sub mf {
    my ($method, $path, $token, $body, %o) = @_;
    my @h = @{ $o{headers} || [] };
    push @h, Authorization => "Bearer $token" if defined $token;
    my $content;
    if (defined $body) {
        $content = ref $body ? $JSON->encode($body) : $body;
        push @h, 'Content-Type' => 'application/json' unless grep { lc $_ eq 'content-type' } @h;
    }
    return request($method, "/imfpush/v1$path", %o, headers => \@h, content => $content);
}

# The decoded JSON body, or undef when the body is not JSON.
sub json_body {
    my $res = shift;
    my $v = eval { JSON::PP->new->utf8->decode($res->content) };
    return $v;
}

sub _error_log { "$ENV{PUSH_TEST_TOP}/t/logs/error_log" }
sub error_log_size { -s _error_log() || 0 }

# What the error log gained since error_log_size() returned $from.
sub error_log_since {
    my $from = shift;
    open(my $fh, '<', _error_log()) or return '';
    seek $fh, $from, 0;
    local $/;
    my $text = <$fh>;
    return defined $text ? $text : '';
}

1;
