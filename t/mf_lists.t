# MobileFirst lists: paging through 10,000 devices with working next/previous links,
# filters (== and =@, comma = OR, repeated = AND, escapes), and the documented 400s.
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;
use URI;

my ($token) = oauth_token('*');
my $app = 'list-' . random_hex(6);
mf(POST => '/apps', $token, {applicationId => $app});
psql("INSERT INTO push_device (app_id, device_id, platform, token, user_id, phone_number, source_family) "
     . "SELECT '$app', 'dev-' || lpad(i::text, 5, '0'), CASE WHEN i % 2 = 0 THEN 'apns' ELSE 'fcm' END, "
     . "'tok-' || i, 'user-' || (i % 100), CASE WHEN i % 1000 = 0 THEN 'a,b' ELSE NULL END, 'mobilefirst' "
     . "FROM generate_series(1, 10000) AS i");

sub get_list {
    my ($url) = @_;
    my $path = ref $url ? $url->path_query : $url;
    $path =~ s{^/imfpush/v1}{};
    my $res = mf(GET => $path, $token);
    return ($res, json_body($res));
}
sub mf_err {
    my ($res, $status, $code, $name) = @_;
    my $b = json_body($res);
    ok $res->code == $status && $b && $b->{code} eq $code, "$name: $status $code"
        or diag $res->code . ' ' . $res->content;
}

# --- paging through everything ----------------------------------------------------------------
my ($res, $b) = get_list("/apps/$app/devices?size=100");
is $res->code, 200, 'the first page';
is $b->{pageInfo}{totalCount}, 10000, 'totalCount 10000';
is $b->{pageInfo}{count}, 100, 'count 100';
is $b->{pageInfo}{previous}, '', 'no previous link on the first page';
my %seen;
my @order;
my $pages = 0;
while (1) {
    $pages++;
    push @order, map { $_->{deviceId} } @{ $b->{devices} };
    last unless $b->{pageInfo}{next};
    ($res, $b) = get_list(URI->new($b->{pageInfo}{next}));
    last unless $res->code == 200;
}
is $pages, 100, 'next links lead through 100 pages';
is scalar(@order), 10000, 'and to 10,000 devices';
$seen{$_}++ for @order;
is scalar(keys %seen), 10000, 'each device exactly once';
is_deeply \@order, [sort @order], 'in deviceId order';
is $b->{pageInfo}{next}, '', 'no next link on the last page';

# previous links walk back
($res, $b) = get_list("/apps/$app/devices?size=100&offset=500");
is $b->{devices}[0]{deviceId}, 'dev-00501', 'offset 500 starts at the 501st device';
my ($pres, $pb) = get_list(URI->new($b->{pageInfo}{previous}));
is $pres->code, 200, 'the previous link works';
is_deeply [$pb->{devices}[0]{deviceId}, $pb->{devices}[-1]{deviceId}], ['dev-00401', 'dev-00500'],
    'and answers the page before';
like $b->{pageInfo}{next}, qr/offset=600/, 'next carries the offset';
like $b->{pageInfo}{next}, qr/after=dev-00600/, 'and the key it continues after';

# short and expanded forms
($res, $b) = get_list("/apps/$app/devices?size=1");
is_deeply [sort keys %{ $b->{devices}[0] }], [qw(deviceId href phoneNumber platform token userId)], 'the short form';
($res, $b) = get_list("/apps/$app/devices?size=1&expand=true");
ok exists $b->{devices}[0]{createdTime} && exists $b->{devices}[0]{userAgent}, 'expand=true gives every field';

# --- filters -------------------------------------------------------------------------------------
my @cases = (
    ['filter=platform==A', 5000],
    ['filter=platform==A,G', 10000],
    ['filter=userId==user-7', 100],
    ['userId=user-7', 100],
    ['filter=userId=@user-1', 1100],
    ['filter=userId=@user-1&filter=platform==G', 600],
    ['filter=userId==user-1,user-2&filter=platform==A', 100],
    ['filter=deviceId=@dev-0999', 10],
    ['filter=token==tok-42', 1],
    ['filter=phoneNumber==a%5C,b', 10],
    ['filter=phoneNumber==a', 0],
);
for my $c (@cases) {
    my ($q, $n) = @$c;
    ($res, $b) = get_list("/apps/$app/devices?size=1000&$q");
    is $res->code . '/' . ($b->{pageInfo}{totalCount} // '?'), "200/$n", "$q matches $n";
}
($res, $b) = get_list("/apps/$app/devices?size=30&filter=userId==user-7");
my @filtered;
while (1) {
    push @filtered, @{ $b->{devices} };
    last unless $b->{pageInfo}{next};
    ($res, $b) = get_list(URI->new($b->{pageInfo}{next}));
}
is scalar(@filtered), 100, 'paging a filtered list by its links gives every match';
ok !(grep { $_->{userId} ne 'user-7' } @filtered), 'and nothing else';

# --- errors ----------------------------------------------------------------------------------------
mf_err(mf(GET => "/apps/$app/devices?offset=-1", $token), 400, 'FPWSE1079E', 'offset -1');
mf_err(mf(GET => "/apps/$app/devices?offset=abc", $token), 400, 'FPWSE1079E', 'offset abc');
mf_err(mf(GET => "/apps/$app/devices?size=0", $token), 400, 'FPWSE1080E', 'size 0');
mf_err(mf(GET => "/apps/$app/devices?size=1001", $token), 400, 'FPWSE1080E', 'size over the maximum');
mf_err(mf(GET => "/apps/$app/devices?size=ten", $token), 400, 'FPWSE1080E', 'size ten');
mf_err(mf(GET => "/apps/$app/devices?filter=colour==red", $token), 400, 'FPWSE0005E', 'an unknown filter field');
mf_err(mf(GET => "/apps/$app/devices?filter=userId!=x", $token), 400, 'FPWSE0005E', 'an unknown operator');
mf_err(mf(GET => "/apps/$app/devices?filter=platform=\@A", $token), 400, 'FPWSE0005E', 'platform takes only ==');
mf_err(mf(GET => "/apps/$app/devices?filter=userId==a%5C", $token), 400, 'FPWSE0005E', 'a trailing backslash');
mf_err(mf(GET => "/apps/$app/devices?filter=userId==a,,b", $token), 400, 'FPWSE0005E', 'an empty alternative');
mf_err(mf(GET => "/apps/$app/devices?colour=red", $token), 400, 'FPWSE0007E', 'an unknown query parameter');
mf_err(mf(GET => "/apps/$app/tags?userId=x", $token), 400, 'FPWSE0007E', 'userId is not a tag list parameter');
# the calls that take no query parameter refuse one too (the device SDKs' calls among them)
mf_err(mf(POST => "/apps/$app/devices?x=1", $token, {deviceId => 'query-dev', token => 'ab' x 32, platform => 'A'}),
       400, 'FPWSE0007E', 'a registration with a query parameter');
is mf(GET => "/apps/$app/devices/query-dev", $token)->code, 404, '... registers nothing';
mf_err(mf(GET => "/apps/$app/devices/dev-00001?x=1", $token), 400, 'FPWSE0007E', 'a device read with one');
mf_err(mf(DELETE => "/apps/$app/tags/t1?force=true", $token), 400, 'FPWSE0007E', 'a tag delete with one');
mf_err(mf(GET => "/apps/$app/settings?all=1", $token), 400, 'FPWSE0007E', 'the settings with one');
mf_err(mf(GET => '/health/status?verbose=1'), 400, 'FPWSE0007E', 'the health check with one');

($res, $b) = get_list("/apps/$app/devices?offset=20000");
is_deeply [$res->code, $b->{pageInfo}{count}, $b->{pageInfo}{next}], [200, 0, ''], 'an offset past the end is an empty page';
done_testing;
