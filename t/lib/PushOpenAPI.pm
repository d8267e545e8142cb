package PushOpenAPI;
# The OpenAPI documents of docs/openapi/ against the running server: each request a test
# makes through call() is matched to its operation, its answer (status, content type,
# headers, body) validated against the document, an accepted request (2xx) validated as
# well, and the operation and status recorded, so that coverage() can show that every
# operation and every documented status was seen. The validator is JSON::Validator
# (Debian's libjson-validator-perl), which also checks the documents against the OpenAPI
# 3.0 schema.
use strict;
use warnings;

use Exporter 'import';
use HTTP::Request::Common ();
use JSON::PP ();
use JSON::Validator ();
use Mojo::JSON ();
use Test::More;
use URI ();
use URI::Escape qw(uri_unescape);

use PushTest qw(request);

our @EXPORT_OK = qw(load_document call coverage operations);

my %DOC;       # dialect => {schema, file}
my %SEEN;      # "dialect METHOD template" => {status => count}
my @METHODS = qw(get put post delete patch head options);

# load_document(dialect, file) -> its JSON::Validator schema; the document itself is
# checked against the OpenAPI 3.0 schema (a test).
sub load_document {
    my ($dialect, $file) = @_;
    my $schema = JSON::Validator->new->schema($file)->schema;
    is ref($schema), 'JSON::Validator::Schema::OpenAPIv3', "$dialect: $file is an OpenAPI 3 document";
    is_deeply $schema->errors, [], "$dialect: it validates against the OpenAPI 3.0 schema"
        or diag join "\n", @{ $schema->errors };
    $DOC{$dialect} = {schema => $schema, file => $file};
    return $schema;
}

# Every operation of a document: [template, METHOD, operation].
sub operations {
    my $dialect = shift;
    my $s = $DOC{$dialect}{schema};
    my @ops;
    for my $tpl (sort keys %{ $s->get('/paths') }) {
        for my $m (@METHODS) {
            my $op = $s->get(['paths', $tpl, $m]) or next;
            push @ops, [$tpl, uc $m, $op];
        }
    }
    return @ops;
}

# The servers' URL paths that apply to a path item (its own first).
sub _prefixes {
    my ($s, $tpl) = @_;
    my @p;
    for my $list ($s->get(['paths', $tpl, 'servers']), $s->get('/servers')) {
        next unless ref $list eq 'ARRAY';
        for my $srv (@$list) {
            my $u = URI->new($srv->{url})->path;
            $u =~ s{/$}{};
            push @p, $u;
        }
        last if @p;   # a path item's servers replace the document's
    }
    return @p ? @p : ('');
}

# (template, {name => value}) of the path item serving a URL path, or ().
# Templates with more literal segments win (POST .../messages/bulk over .../{messageId}).
sub _match {
    my ($s, $path) = @_;
    my @hits;
    for my $tpl (keys %{ $s->get('/paths') }) {
        for my $prefix (_prefixes($s, $tpl)) {
            next unless index($path, $prefix) == 0;
            my $rest = substr($path, length $prefix);
            my @names;
            my $re = join '', map {
                /^\{(.+)\}$/ ? do { push @names, $1; '([^/]+)' } : quotemeta $_
            } split /(\{[^}]+\})/, $tpl;
            my @vals = $rest =~ m{^$re$} or next;
            my %params;
            @params{@names} = map { uri_unescape($_) } @vals;
            my $literal = () = $tpl =~ m#/[^{/][^/]*#g;
            push @hits, [$literal, $tpl, \%params];
        }
    }
    my ($best) = sort { $b->[0] <=> $a->[0] } @hits;
    return $best ? ($best->[1], $best->[2]) : ();
}

# A parameter value as its schema reads it (query and path values are text).
sub _coerce {
    my ($schema, $v) = @_;
    my $t = $schema && $schema->{type} || '';
    return $v + 0 if ($t eq 'integer' || $t eq 'number') && defined $v && $v =~ /^-?\d+(\.\d+)?$/;
    return $v;
}

# Validation errors of data against a schema of document $s.
sub _errors {
    my ($s, $data, $schema) = @_;
    return map {"$_"} $s->validate($data, $schema);
}

sub _decode {
    my ($ct, $bytes) = @_;
    return $bytes unless $ct =~ m{^application/(.+\+)?json$};
    my $v = eval { Mojo::JSON::decode_json($bytes) };
    return $@ ? \"not JSON: $@" : $v;
}

# The request's parameters checked against the operation (for answers that accepted it).
sub _request_errors {
    my ($s, $tpl, $m, $pathp, $query, $body_ct, $body) = @_;
    my @e;
    my (%decl, @params);
    for my $level (['paths', $tpl], ['paths', $tpl, lc $m]) {
        my $list = $s->get([@$level, 'parameters']) or next;
        for my $i (0 .. $#$list) {
            my $p = $s->get([@$level, 'parameters', $i]);
            $decl{"$p->{in}:$p->{name}"} = $p;   # an operation's replaces its path item's
        }
    }
    my %q;
    for (my $i = 0; $i < @$query; $i += 2) {
        push @{ $q{ $query->[$i] } }, $query->[$i + 1];
    }
    for my $name (sort keys %q) {
        my $p = $decl{"query:$name"};
        unless ($p) {
            push @e, "query parameter '$name' is not in the document";
            next;
        }
        my $sch = $p->{schema} || {};
        my $val = ($sch->{type} || '') eq 'array' ? $q{$name} : $q{$name}[-1];
        $val = ref $val ? [map { _coerce($sch->{items}, $_) } @$val] : _coerce($sch, $val);
        push @e, map {"query $name: $_"} _errors($s, $val, $sch);
    }
    for my $p (values %decl) {
        if ($p->{in} eq 'query' && $p->{required} && !exists $q{ $p->{name} }) {
            push @e, "required query parameter '$p->{name}' is missing";
        }
        if ($p->{in} eq 'path') {
            push @e, map {"path $p->{name}: $_"} _errors($s, _coerce($p->{schema}, $pathp->{ $p->{name} }), $p->{schema});
        }
    }
    my $rb = $s->get(['paths', $tpl, lc $m, 'requestBody']);
    if (defined $body) {
        if (!$rb) {
            push @e, 'a body was sent, the operation takes none';
        } elsif (!$rb->{content}{$body_ct}) {
            push @e, "request body type $body_ct is not in the document";
        } else {
            push @e, map {"request body: $_"} _errors($s, $body, $rb->{content}{$body_ct}{schema});
        }
    } elsif ($rb && $rb->{required}) {
        push @e, 'the operation requires a body, none was sent';
    }
    return @e;
}

# call(dialect, METHOD, url path, %o) -> HTTP::Response, after one test that the answer
# is the document's (and, with expect => status, has that status). Options:
#   query => [name => value, ...]  raw_query => 'text' (sent as is, not checked)
#   json => data | form => [name => value, ...] | multipart => [field => ...] | raw => bytes
#   type => Content-Type (with raw, or to override)    headers => [...]
#   module => vhost, basic => [user, password], name => the test's name
sub call {
    my ($dialect, $method, $path, %o) = @_;
    my $s = $DOC{$dialect}{schema} or die "no document for $dialect";
    my @h = @{ $o{headers} || [] };
    my ($content, $body_ct, $body);
    if (exists $o{json}) {
        $content = JSON::PP->new->utf8->canonical->encode($o{json});
        ($body_ct, $body) = ('application/json', Mojo::JSON::decode_json($content));
    } elsif ($o{form}) {
        my $u = URI->new('http:');
        $u->query_form(@{ $o{form} });
        $content = $u->query;
        my %f = @{ $o{form} };
        ($body_ct, $body) = ('application/x-www-form-urlencoded', \%f);
    } elsif ($o{multipart}) {
        my $req = HTTP::Request::Common::POST('http://x/', Content_Type => 'form-data', Content => $o{multipart});
        $content = $req->content;
        push @h, 'Content-Type' => scalar $req->header('Content-Type');
        my %f = @{ $o{multipart} };
        for (values %f) {
            next unless ref;
            my %part = @{$_}[2 .. $#$_];
            $_ = defined $part{Content} ? $part{Content} : '';
        }
        ($body_ct, $body) = ('multipart/form-data', \%f);
    } elsif (defined $o{raw}) {
        $content = $o{raw};
    }
    push @h, 'Content-Type' => $o{type} || $body_ct if defined $content && !grep { lc $_ eq 'content-type' } @h;
    my $url = $path;
    my @query = @{ $o{query} || [] };
    if (@query) {
        my $u = URI->new('http:');
        $u->query_form(@query);
        $url .= '?' . $u->query;
    } elsif (defined $o{raw_query}) {
        $url .= "?$o{raw_query}";
    }
    my $res = request($method, $url, headers => \@h, content => $content,
                      ($o{module} ? (module => $o{module}) : ()), ($o{basic} ? (basic => $o{basic}) : ()));
    my $status = $res->code;
    my $name = ($o{name} ? "$o{name}: " : '') . "$dialect $method $path" .
               (@query || defined $o{raw_query} ? '?...' : '') . " -> $status";

    my @e;
    my ($tpl, $pathp) = _match($s, $path);
    my $op = $tpl && $s->get(['paths', $tpl, lc $method]);
    if (!$op) {
        @e = ("no operation for $method $path in $DOC{$dialect}{file}");
    } else {
        $SEEN{"$dialect $method $tpl"}{$status}++;
        push @e, "expected status $o{expect}" if $o{expect} && $o{expect} != $status;
        push @e, _response_errors($s, $tpl, $method, $res);
        push @e, map {"request: $_"} _request_errors($s, $tpl, $method, $pathp, \@query, $body_ct, $body)
            if $status >= 200 && $status < 300 && !defined $o{raw_query} && !defined $o{raw};
    }
    ok !@e, $name or diag join("\n", @e) . "\n" . $res->as_string;
    return $res;
}

sub _response_errors {
    my ($s, $tpl, $method, $res) = @_;
    my $status = $res->code;
    my $r = $s->get(['paths', $tpl, lc $method, 'responses', "$status"]);
    return ("status $status is not documented for $method $tpl") unless $r;
    my @e;
    my $bytes = $res->content;
    my $ct = lc(($res->header('Content-Type') || '') =~ s/\s*;.*//r);
    if ($r->{content} && !(length $bytes == 0 && $r->{'x-mod-push-empty-body'})) {
        my $media = $r->{content}{$ct};
        if (!$media) {
            push @e, "content type '$ct' is not one of the document's (" . join(', ', sort keys %{ $r->{content} }) . ')';
        } else {
            my $data = _decode($ct, $bytes);
            push @e, ref $data eq 'SCALAR' ? $$data : map {"body: $_"} _errors($s, $data, $media->{schema});
        }
    } elsif (!$r->{content}) {
        push @e, 'a body (' . length($bytes) . ' bytes) where the document has none' if length $bytes;
    }
    my $headers = $r->{headers} || {};
    for my $h (sort keys %$headers) {
        my $d = $s->get(['paths', $tpl, lc $method, 'responses', "$status", 'headers', $h]);
        my $v = $res->header($h);
        if (!defined $v) {
            push @e, "header $h is missing" if $d->{required};
            next;
        }
        push @e, map {"header $h: $_"} _errors($s, _coerce($d->{schema}, $v), $d->{schema});
    }
    return @e;
}

# coverage(dialect, {"METHOD template STATUS" => reason}) : a test per operation (it was
# called) and per documented status (it was answered, or the reason why it cannot be here).
sub coverage {
    my ($dialect, $unreachable) = @_;
    $unreachable ||= {};
    my %used;
    for my $o (operations($dialect)) {
        my ($tpl, $m, $op) = @$o;
        my $seen = $SEEN{"$dialect $m $tpl"};
        ok $seen, "$dialect: $m $tpl was exercised";
        for my $status (sort keys %{ $op->{responses} }) {
            my $key = "$m $tpl $status";
            $used{$key} = 1;
            ok(($seen && $seen->{$status}) || $unreachable->{$key},
               "$dialect: $m $tpl answered $status" . ($unreachable->{$key} && !($seen && $seen->{$status})
                                                          ? " (not here: $unreachable->{$key})" : ''));
        }
    }
    ok !(grep { !$used{$_} } keys %$unreachable), "$dialect: the list of unreachable answers names documented ones only";
}

1;
