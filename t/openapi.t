# The OpenAPI documents of docs/openapi/ against the running server: each document is a
# valid OpenAPI 3.0 document; every answer below (successes and errors, in each dialect)
# is matched to its operation and validated against it (status, content type, headers,
# body; an accepted request is validated too); and at the end every operation and every
# documented status must have been seen, so that neither the documents nor the server can
# drift. The 503s come from the "noschema" virtual host (a database without the schema).
use strict;
use warnings;
use Test::More;
use lib 't/lib';
use PushTest;
use PushMock qw(mock_webpush_keys);
use PushOpenAPI qw(load_document call coverage operations);
use JSON::PP ();
use JSON::Validator ();
use File::Temp ();
use URI ();

my $DOCS = "$ENV{PUSH_TEST_TOP}/docs/openapi";
my %file = (rocketchat => 'rocketchat.yaml', layer => 'layer.yaml', navixy => 'navixy.yaml',
            mobilefirst => 'mobilefirst.yaml');
load_document($_, "$DOCS/$file{$_}") for sort keys %file;

# the document check can fail: three broken copies of a document
for my $break ([sub { delete $_[0]{responses}{202}{description} }, 'a response without its description'],
               [sub { $_[0]{invented} = 1 }, 'an unknown member of an operation'],
               [sub { $_[0]{requestBody}{content}{'application/json'}{schema}{type} = 'strnig' }, 'a schema of no type']) {
    my $broken = JSON::Validator->new->schema("$DOCS/layer.yaml")->schema->data;
    $break->[0]->($broken->{paths}{'/push_tokens'}{post});
    ok scalar(@{ JSON::Validator->new->schema($broken)->schema->errors }), "the OpenAPI check refuses $break->[1]";
}

my $T = JSON::PP::true();
my $F = JSON::PP::false();
my $BIG = 'x' x 70000;                   # beyond the default PushMaxBodySize (64 KiB)
my $BIG_JSON = {pad => $BIG};

# === Rocket.Chat ==========================================================================
{
    my $user = 'oa-rc-' . random_hex(6);
    my $tok = new_session($user, 'test-rc');
    my @auth = ('X-User-Id' => $user, 'X-Auth-Token' => $tok);
    my $rc = sub { my ($m, $p, %o) = @_; call(rocketchat => $m, "/api/v1$p", %o, headers => [@auth, @{ $o{headers} || [] }]) };
    my $value = 'fcm-' . random_hex(24);

    call(rocketchat => POST => '/api/v1/push.token', json => {type => 'gcm', value => $value, appName => 'a'},
         expect => 401, name => 'no session');
    $rc->(POST => '/push.token', json => {type => 'gcm', value => $value, appName => 'chat.rocket.android'}, expect => 200);
    {
        # another user's token value while its owner is logged in: the record is not taken
        my $other = 'oa-rc-other-' . random_hex(6);
        my $otok = new_session($other, 'test-rc');
        call(rocketchat => POST => '/api/v1/push.token', headers => ['X-User-Id' => $other, 'X-Auth-Token' => $otok],
             json => {type => 'gcm', value => $value, appName => 'chat.rocket.android'}, expect => 403,
             name => "another user's token");
    }
    $rc->(POST => '/push.token', json => {type => 'apn', value => random_hex(64), appName => 'chat.rocket.ios',
                                          voipToken => random_hex(64)}, expect => 200, name => 'with a voipToken');
    $rc->(POST => '/push.token', json => {type => 'unknownPlatform'}, expect => 400, name => 'bad type');
    $rc->(POST => '/push.token', raw => 'not json', type => 'application/json', expect => 400, name => 'not JSON');
    $rc->(POST => '/push.token', raw => $BIG, type => 'application/json', expect => 413);
    $rc->(GET => '/push.info', expect => 200);
    call(rocketchat => GET => '/api/v1/push.info', expect => 401);
    $rc->(POST => '/push.test', expect => 200);
    $rc->(POST => '/push.test', expect => 429, name => 'again within the second');
    call(rocketchat => POST => '/api/v1/push.test', expect => 401);
    my $lonely = 'oa-rc-none-' . random_hex(6);
    my $lonely_tok = new_session($lonely, 'test-rc');
    call(rocketchat => POST => '/api/v1/push.test', headers => ['X-User-Id' => $lonely, 'X-Auth-Token' => $lonely_tok],
         expect => 400, name => 'no tokens');

    # a message to the user, fetched with push.get
    my ($admin) = oauth_token('*');
    my $res = mf(POST => '/apps/test-rc/messages', $admin,
                 {message => {alert => 'hello'}, target => {userIds => [$user]},
                  settings => {apns => {badge => 2, payload => {rid => 'room1', sender => {_id => 's', username => 'sam', name => 'Sam'}}}}});
    my $mid = json_body($res) && json_body($res)->{messageId};
    ok $mid, 'a message to the Rocket.Chat user' or diag $res->as_string;
    $rc->(GET => '/push.get', query => [id => $mid], expect => 200);
    $rc->(GET => '/push.get', expect => 400, name => 'no id');
    $rc->(GET => '/push.get', query => [id => 'nope-' . random_hex(8)], expect => 400, name => 'unknown message');
    call(rocketchat => GET => '/api/v1/push.get', query => [id => $mid], headers => ['X-User-Id' => $lonely, 'X-Auth-Token' => $lonely_tok],
         expect => 400, name => 'not addressed to the caller');
    call(rocketchat => GET => '/api/v1/push.get', query => [id => $mid], expect => 401);

    $rc->(DELETE => '/push.token', json => {token => $value}, expect => 200);
    $rc->(DELETE => '/push.token', json => {token => $value}, expect => 404, name => 'deleted already');
    $rc->(DELETE => '/push.token', json => {token => ''}, expect => 400);
    $rc->(DELETE => '/push.token', raw => $BIG, type => 'application/json', expect => 413);
    call(rocketchat => DELETE => '/api/v1/push.token', json => {token => $value}, expect => 401);

    for my $o (operations('rocketchat')) {
        my ($tpl, $m) = @$o;
        call(rocketchat => $m => "/api/v1$tpl", headers => \@auth, module => 'noschema', query => [id => 'x'],
             ($m ne 'GET' ? (json => {type => 'gcm', value => 'v', appName => 'a', token => 'v'}) : ()),
             expect => 503, name => 'database without the schema');
    }
}

# === Layer ================================================================================
{
    my $tok = new_session('oa-layer-' . random_hex(6), 'test-layer');
    my $accept = 'application/vnd.layer+json; version=2.0';
    my @h = (Accept => $accept, Authorization => qq{Layer session-token="$tok"});
    my $dev = 'oa-dev-' . random_hex(6);
    my %reg = (token => random_hex(64), type => 'apns', device_id => $dev, apns_bundle_id => 'com.example.app',
               ios_version => '9.0');

    call(layer => POST => '/push_tokens', headers => \@h, json => \%reg, expect => 202);
    {
        # another user re-registering that device id while its owner is logged in
        my $otok = new_session('oa-layer-other-' . random_hex(6), 'test-layer');
        call(layer => POST => '/push_tokens', headers => [Accept => $accept, Authorization => qq{Layer session-token="$otok"}],
             json => {%reg, token => random_hex(64)}, expect => 403, name => "another user's device");
    }
    call(layer => POST => '/push_tokens', headers => \@h, json => {type => 'gcm', token => 'x', device_id => 'fcm-' . random_hex(6),
                                                                 gcm_sender_id => '123'}, expect => 202, name => 'gcm');
    call(layer => POST => '/push_tokens', headers => [Accept => $accept], json => \%reg, expect => 401);
    call(layer => POST => '/push_tokens', headers => [Authorization => qq{Layer session-token="$tok"}], json => \%reg,
         expect => 406, name => 'no Accept');
    call(layer => POST => '/push_tokens', headers => \@h, json => {type => 'apns', device_id => 'd'}, expect => 422,
         name => 'no token');
    call(layer => POST => '/push_tokens', headers => \@h, json => {%reg, type => 'wns'}, expect => 422, name => 'bad type');
    call(layer => POST => '/push_tokens', headers => \@h, raw => '{"token":', type => 'application/json', expect => 400);
    call(layer => POST => '/push_tokens', headers => \@h, raw => '{"token":"a\\u0000b","type":"apns","device_id":"d"}',
         type => 'application/json', expect => 400, name => 'a NUL in a string');
    call(layer => POST => '/push_tokens', headers => \@h, raw => $BIG, type => 'application/json', expect => 413);
    call(layer => POST => '/push_tokens', headers => \@h, json => \%reg, module => 'noschema', expect => 503);

    call(layer => DELETE => "/push_tokens/$dev", headers => \@h, expect => 202);
    call(layer => DELETE => "/push_tokens/$dev", headers => \@h, expect => 202, name => 'idempotent');
    call(layer => DELETE => '/push_tokens/' . ('d' x 300), headers => \@h, expect => 422, name => 'a device id too long');
    call(layer => DELETE => "/push_tokens/$dev", headers => [Accept => $accept], expect => 401);
    call(layer => DELETE => "/push_tokens/$dev", headers => [Authorization => qq{Layer session-token="$tok"}],
         expect => 406);
    call(layer => DELETE => "/push_tokens/$dev", headers => \@h, module => 'noschema', expect => 503);
}

# === Navixy ===============================================================================
{
    my $hash = new_session('oa-nvx-' . random_hex(6), 'test-navixy');
    my $base = '/user/session/push_token';
    my %bind = (application => 'navixy_android_viewer', token => 'fcm-' . random_hex(20), category_filter => 'chat_message');

    call(navixy => GET => "$base/bind", query => [hash => $hash, %bind], expect => 200);
    {
        # another user's session binding the same token while the first is live
        my $other = new_session('oa-nvx-other-' . random_hex(6), 'test-navixy');
        call(navixy => GET => "$base/bind", query => [hash => $other, %bind], expect => 403, name => "another user's token");
        call(navixy => POST => "$base/bind", json => {hash => $other, %bind}, expect => 403, name => "another user's token");
    }
    call(navixy => POST => "$base/bind", json => {hash => $hash, %bind}, expect => 200, name => 'JSON');
    call(navixy => POST => "$base/bind", form => [hash => $hash, %bind], expect => 200, name => 'form');
    call(navixy => POST => "$base/bind", json => {%bind}, headers => [Authorization => "NVX $hash"], expect => 200,
         name => 'hash in the header');
    my $wp = mock_webpush_keys();
    my %keys = (p256dh => $wp->{p256dh}, auth => $wp->{auth});
    call(navixy => POST => "$base/bind", json => {hash => $hash, application => 'w3c_pushapi',
                                                 token => "$wp->{endpoint}oa-" . random_hex(6), parameters => \%keys},
         expect => 200, name => 'a browser');
    call(navixy => POST => "$base/bind", form => [hash => $hash, application => 'w3c_pushapi',
                                                 token => "$wp->{endpoint}oa-" . random_hex(6),
                                                 parameters => JSON::PP->new->encode(\%keys)],
         expect => 200, name => 'a browser, form');
    call(navixy => GET => "$base/bind", query => [hash => $hash, application => 'w3c_pushapi', token => "$wp->{endpoint}x"],
         expect => 400, name => 'a browser without its keys');
    call(navixy => POST => "$base/bind", json => {hash => $hash, application => 'acme_viewer',
                                                 token => 'https://db5.notify.windows.com/?token=' . random_hex(10)},
         expect => 200, name => 'an application of PushNavixyApplication (WNS)');
    call(navixy => POST => "$base/bind", json => {hash => $hash, application => 'nope', token => 'x'}, expect => 400,
         name => 'unknown application');
    call(navixy => GET => "$base/bind", query => [%bind], expect => 400, name => 'no hash');
    call(navixy => GET => "$base/bind", query => [hash => random_hex(32), %bind], expect => 400, name => 'no session');
    call(navixy => POST => "$base/bind", raw => $BIG, type => 'application/json', expect => 412);
    call(navixy => GET => "$base/bind", query => [hash => $hash, %bind], module => 'noschema', expect => 503);
    call(navixy => POST => "$base/bind", json => {hash => $hash, %bind}, module => 'noschema', expect => 503);

    call(navixy => GET => "$base/delete", query => [hash => $hash], expect => 200);
    call(navixy => POST => "$base/delete", json => {hash => $hash}, expect => 200);
    call(navixy => POST => "$base/delete", form => [hash => $hash], expect => 200, name => 'form');
    call(navixy => GET => "$base/delete", query => [hash => 'short'], expect => 400, name => 'a malformed hash');
    call(navixy => POST => "$base/delete", raw => '{', type => 'application/json', expect => 400, name => 'not JSON');
    call(navixy => POST => "$base/delete", raw => $BIG, type => 'application/x-www-form-urlencoded', expect => 412);
    call(navixy => GET => "$base/delete", query => [hash => $hash], module => 'noschema', expect => 503);
    call(navixy => POST => "$base/delete", json => {hash => $hash}, module => 'noschema', expect => 503);
}

# === MobileFirst ==========================================================================
my ($admin) = oauth_token('*');
my $app = 'oa-' . random_hex(8);
my $MF = '/imfpush/v1';
my $keys = $ENV{PUSH_TEST_KEYS};
sub slurp { local $/; open my $f, '<:raw', $_[0] or die "$_[0]: $!"; <$f> }
sub mfc {
    my ($m, $p, %o) = @_;
    my $token = exists $o{token} ? delete $o{token} : $admin;
    return call(mobilefirst => $m, "$MF$p", %o,
                headers => [(defined $token ? (Authorization => "Bearer $token") : ()), @{ $o{headers} || [] }]);
}

# --- the answers every operation gives: before and around authorization --------------------
{
    my ($other) = oauth_token('push.application.oa-none');
    my $missing = 'oa-missing-' . random_hex(6);
    # a real application for the 405 and 413 answers (and every route's {} values)
    is mf(POST => '/apps', $admin, {applicationId => "$app-x"})->code, 201, 'an application for the generic answers';
    for my $o (operations('mobilefirst')) {
        my ($tpl, $m, $op) = @$o;
        next if $tpl eq '/token';
        my $path = $tpl =~ s/\{applicationId\}/$app-x/r;
        $path =~ s/\{[^}]+\}/x1/g;
        my %r = %{ $op->{responses} };
        mfc($m => $path, token => undef, raw_query => '%zz', expect => 400, name => 'a malformed query');
        mfc($m => $path, token => undef, headers => [Accept => 'text/html'], expect => 406, name => 'Accept without JSON');
        mfc($m => $path, module => 'noschema', expect => 503, name => 'database without the schema');
        next unless $r{401};
        mfc($m => $path, token => undef, expect => 401, name => 'no token');
        mfc($m => $path, token => 'not-a-token-' . random_hex(8), expect => 401, name => 'an unknown token');
        mfc($m => $path, token => $other, expect => 403, name => 'a token without the scopes');
        if ($tpl =~ /\{applicationId\}/) {
            mfc($m => $tpl =~ s/\{applicationId\}/$missing/r =~ s/\{[^}]+\}/x1/gr, expect => 404, name => 'no such application');
        }
        if ($r{405}) {
            mfc($m => $path, raw => '{}', type => 'text/plain', expect => 405, name => 'a body not in JSON');
            mfc($m => $path, raw => '{"pad":"' . $BIG . '"}', type => 'application/json', expect => 413);
        }
    }
}

# --- health, applications --------------------------------------------------------------------
{
    my $res;
    for (1 .. 50) {
        $res = request(GET => "$MF/health/status");
        last if $res->code == 200;
        select undef, undef, undef, 0.2;
    }
    mfc(GET => '/health/status', token => undef, expect => 200);

    mfc(POST => '/apps', json => {applicationId => $app, enabled => $T}, expect => 201);
    mfc(POST => '/apps', json => {applicationId => $app}, expect => 409, name => 'exists');
    mfc(POST => '/apps', json => {applicationId => 5}, expect => 400, name => 'not a string');
    mfc(POST => '/apps', raw => '[', type => 'application/json', expect => 400, name => 'not JSON');
    mfc(GET => '/apps', expect => 200);
    mfc(GET => '/apps', query => [size => 1, filter => "applicationId==$app", expand => 'true'], expect => 200,
        name => 'a filtered page');
    mfc(GET => '/apps', query => [offset => -1], expect => 400, name => 'a bad offset');
    mfc(GET => "/apps/$app", expect => 200);
    mfc(GET => "/apps/$app", query => [nope => 1], expect => 400, name => 'an unknown parameter');
    mfc(GET => "/apps/$app/status", expect => 200);
    mfc(PUT => "/apps/$app/status", json => {enabled => $T}, expect => 200);
    mfc(PUT => "/apps/$app/status", json => {enabled => 'yes'}, expect => 400);
}

# --- tags, devices, subscriptions --------------------------------------------------------------
my $dev = 'oa-dev-' . random_hex(6);
{
    mfc(POST => "/apps/$app/tags", json => {name => 'news', description => 'the news'}, expect => 201);
    mfc(POST => "/apps/$app/tags", json => {name => 'news'}, expect => 409, name => 'exists');
    mfc(POST => "/apps/$app/tags", json => {description => 'no name'}, expect => 400);
    mfc(GET => "/apps/$app/tags", expect => 200);
    mfc(GET => "/apps/$app/tags", query => [expand => 'true', subscriptionCount => 'true'], expect => 200, name => 'expanded');
    mfc(GET => "/apps/$app/tags", query => [size => 0], expect => 400, name => 'a bad size');
    mfc(GET => "/apps/$app/tags/news", expect => 200);
    mfc(GET => "/apps/$app/tags/nope", expect => 404);
    my $de = mfc(GET => "/apps/$app/tags/nope", headers => ['Accept-Language' => 'de-DE, en;q=0.5'], expect => 404,
                 name => 'in German');
    is $de->header('Content-Language'), 'de', '... Content-Language: de';
    mfc(PUT => "/apps/$app/tags/news", json => {description => 'fresh news'}, expect => 200);
    mfc(PUT => "/apps/$app/tags/news", json => {name => 'renamed'}, expect => 400, name => 'a new name');
    mfc(PUT => "/apps/$app/tags/nope", json => {description => 'x'}, expect => 404);
    mfc(DELETE => "/apps/$app/tags/Push.all", expect => 400, name => 'the broadcast tag');

    my %d = (deviceId => $dev, token => random_hex(64), platform => 'A', userId => 'oa-user', phoneNumber => '+15551234567');
    mfc(POST => "/apps/$app/devices", json => \%d, expect => 201);
    mfc(POST => "/apps/$app/devices", json => {%d, platform => 'Z'}, expect => 400, name => 'bad platform');
    mfc(POST => "/apps/$app/devices", json => {deviceId => 'oa-fcm-' . random_hex(4), token => 'fcm:' . random_hex(20),
                                               platform => 'G'}, expect => 201, name => 'without user and phone');
    my $wp = mock_webpush_keys();
    mfc(POST => "/apps/$app/devices", json => {deviceId => 'oa-win-' . random_hex(4), platform => 'W',
                                               token => 'https://db5.notify.windows.com/?token=' . random_hex(10)},
        expect => 201, name => 'a Windows device');
    mfc(POST => "/apps/$app/devices",
        json => {deviceId => 'oa-web-' . random_hex(4), platform => 'B',
                 token => JSON::PP->new->encode({endpoint => "$wp->{endpoint}oa-" . random_hex(6),
                                                 keys => {p256dh => $wp->{p256dh}, auth => $wp->{auth}}})},
        expect => 201, name => 'a browser');
    mfc(GET => "/apps/$app/devices", expect => 200);
    mfc(GET => "/apps/$app/devices", query => [expand => 'true', userId => 'oa-user', filter => 'platform==A,G'],
        expect => 200, name => 'expanded and filtered');
    mfc(GET => "/apps/$app/devices", query => [filter => 'color==red'], expect => 400, name => 'an unknown filter field');
    # the page links: next carries after, previous before
    my $page = json_body(mfc(GET => "/apps/$app/devices", query => [size => 1], expect => 200, name => 'a page of one'));
    my $next = URI->new($page && $page->{pageInfo}{next} || 'http://x/');
    ok $next->path eq "$MF/apps/$app/devices" && $next->query =~ /after=/, 'pageInfo.next links the next page';
    $page = json_body(mfc(GET => "/apps/$app/devices", query => [$next->query_form], expect => 200, name => 'the next page'));
    mfc(GET => "/apps/$app/devices", query => [URI->new($page && $page->{pageInfo}{previous} || 'http://x/')->query_form],
        expect => 200, name => 'the previous page');
    mfc(GET => "/apps/$app/devices/$dev", expect => 200);
    mfc(GET => "/apps/$app/devices/nope", expect => 404);
    mfc(PUT => "/apps/$app/devices/$dev", json => {userId => 'oa-user-2', token => random_hex(64)}, expect => 200);
    mfc(PUT => "/apps/$app/devices/$dev", json => {deviceId => 'another'}, expect => 400, name => 'a new deviceId');
    mfc(PUT => "/apps/$app/devices/nope", json => {userId => 'x'}, expect => 404);

    # device clients (push.mobileclient): another client's device is a conflict
    my @dc;
    for (1, 2) {
        my ($id, $secret) = oauth_client("push.mobileclient push.application.$app");
        my ($t) = oauth_token('push.mobileclient', $id, $secret);
        push @dc, $t;
    }
    my $sdk_dev = 'oa-sdk-' . random_hex(6);
    my %sd = (deviceId => $sdk_dev, token => random_hex(64), platform => 'A');
    mfc(POST => "/apps/$app/devices", token => $dc[0], json => \%sd, expect => 201, name => 'a device client');
    mfc(POST => "/apps/$app/devices", token => $dc[1], json => \%sd, expect => 409, name => "another client's device");
    mfc(GET => "/apps/$app/subscriptions", token => $dc[0], expect => 403, name => 'a device client lists only its own');
    mfc(GET => "/apps/$app/subscriptions", token => $dc[1], query => [deviceId => $sdk_dev], expect => 404,
        name => "another client's device");

    mfc(POST => "/apps/$app/subscriptions", json => {deviceId => $dev, tagName => 'news'}, expect => 201);
    mfc(POST => "/apps/$app/subscriptions", json => {deviceId => $dev, tagName => 'news'}, expect => 409, name => 'exists');
    mfc(POST => "/apps/$app/subscriptions", json => {deviceId => $dev, tagName => 'nope'}, expect => 404, name => 'no such tag');
    mfc(POST => "/apps/$app/subscriptions", json => {deviceId => $dev}, expect => 400, name => 'no tag');
    mfc(POST => "/apps/$app/subscriptions", json => {deviceId => $dev, tagNames => ['news']}, expect => 201, name => 'tagNames');
    my $res = mfc(GET => "/apps/$app/subscriptions", query => [deviceId => $dev, expand => 'true'], expect => 200);
    my ($sub) = grep { $_->{tagName} eq 'news' } @{ (json_body($res) || {})->{subscriptions} || [] };
    ok $sub, 'the subscription is listed';
    my $sid = $sub ? $sub->{subscriptionId} : 'none';
    mfc(GET => "/apps/$app/subscriptions/$sid", expect => 200);
    mfc(POST => "/apps/$app/subscriptions", query => [action => 'delete'], json => {deviceId => $dev, tagName => 'news'},
        expect => 204, name => 'the SDK unsubscribe');
    mfc(GET => "/apps/$app/subscriptions/$sid", expect => 404, name => 'gone');
    mfc(POST => "/apps/$app/subscriptions", json => {deviceId => $dev, tagName => 'news'}, expect => 201, name => 'again');
    mfc(DELETE => "/apps/$app/subscriptions", query => [deviceId => $dev, tagName => 'news'], expect => 204);
    mfc(DELETE => "/apps/$app/subscriptions", query => [deviceId => $dev, tagName => 'news'], expect => 404, name => 'gone');
    mfc(DELETE => "/apps/$app/subscriptions", query => [deviceId => $dev], expect => 400, name => 'no tagName');
    $res = mfc(POST => "/apps/$app/subscriptions", json => {deviceId => $dev, tagName => 'news'}, expect => 201, name => 'once more');
    $sid = (json_body($res) || {})->{subscriptionId} || 'none';
    mfc(DELETE => "/apps/$app/subscriptions/$sid", expect => 204);
    mfc(DELETE => "/apps/$app/subscriptions/$sid", expect => 404, name => 'gone');
}

# --- provider settings ---------------------------------------------------------------------------
{
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=com.example.oa "
           . "-days 30 -keyout $dir/k.pem -out $dir/c.pem >/dev/null 2>&1") == 0 or BAIL_OUT('openssl req');
    system("openssl pkcs12 -export -inkey $dir/k.pem -in $dir/c.pem -passout pass:pw -out $dir/apns.p12") == 0
        or BAIL_OUT('openssl pkcs12');
    my $p12 = slurp("$dir/apns.p12");
    my ($mock_port) = $ENV{PUSH_MOCK_HTTP} =~ /:(\d+)$/;
    my $account = JSON::PP->new->decode(slurp("$keys/fcm-account.json"));
    my %good = (
        apnsConf => {keyId => 'OAKEY00001', teamId => 'OATEAM0001', bundleId => 'com.example.oa', p8 => slurp("$keys/apns.p8"),
                     isSandBox => $T},
        gcmConf => {serviceAccount => $account, senderId => '1234567'},
        wnsConf => {packageSID => 'ms-app://s-1-15-2-1', clientSecret => 'wns-secret'},
        smsConf => {name => 'gw', host => '127.0.0.1', port => $mock_port + 0, programName => '/sms/oa', method => 'GET',
                    parameters => [{name => 'user', value => 'u1', encode => $T}]},
        webpushConf => {subject => 'mailto:ops@example.com'},
    );
    my %alias = (apnsConf => {keyId => 'OAKEY00002', teamId => 'OATEAM0001', bundleId => 'com.example.oa',
                              p8 => slurp("$keys/apns.p8")},
                 gcmConf => {apiKey => 'legacy-key', senderId => '7654321'},
                 wnsConf => {packageSID => 'ms-app://s-1-15-2-2', clientSecret => 's2', tenantId => '72f988bf-86f1-41af-91ab-2d7cd011db47'},
                 smsConf => {name => 'gw2', host => '127.0.0.1', port => "$mock_port", https => $F, method => 'POST'},
                 webpushConf => {subject => 'https://example.com/contact'});
    mfc(GET => "/apps/$app/settings", expect => 200, name => 'nothing set');
    for my $conf (sort keys %good) {
        my $p = "/apps/$app/settings/$conf";
        mfc(GET => $p, expect => 404, name => 'not set');
        mfc(DELETE => $p, expect => 404, name => 'not set');
        mfc(PUT => $p, json => $good{$conf}, expect => 200);
        mfc(GET => $p, expect => 200);
        mfc(POST => $p, json => $alias{$conf}, expect => 200, name => 'the alias');
        mfc(PUT => $p, json => {unknown => 1}, expect => 400, name => 'an unknown property');
        mfc(POST => $p, json => {}, expect => 400, name => 'nothing');
        if ($conf eq 'gcmConf') {
            mfc(GET => "$p" . 'Public', expect => 200);
        }
        mfc(GET => "/apps/$app/settings", expect => 200, name => "with $conf");
        mfc(DELETE => $p, expect => 204);
    }
    mfc(GET => "/apps/$app/settings/gcmConfPublic", expect => 404, name => 'not set');
    mfc(GET => "/apps/$app/settings/apnsCert", expect => 404, name => 'no certificate');
    mfc(PUT => "/apps/$app/settings/apnsConf", multipart => [certificate => [undef, 'apns.p12', Content => $p12],
                                                            password => 'pw', isSandBox => 'true'], expect => 200,
        name => 'a .p12 upload');
    mfc(POST => "/apps/$app/settings/apnsConf", multipart => [certificate => [undef, 'apns.p12', Content => $p12],
                                                             password => 'wrong'], expect => 400, name => 'a wrong password');
    mfc(POST => "/apps/$app/settings/apnsConf", multipart => [certificate => [undef, 'apns.p12', Content => $p12],
                                                             password => 'pw'], expect => 200, name => 'a .p12 upload');
    mfc(GET => "/apps/$app/settings/apnsConf", expect => 200, name => 'certificate auth');
    my $res = mfc(GET => "/apps/$app/settings/apnsCert", expect => 200);
    ok $res->content eq $p12, 'apnsCert answers the uploaded file';
    mfc(PUT => "/apps/$app/settings/apnsConf", json => $good{apnsConf}, expect => 200, name => 'back to token auth');
}

# --- messages ----------------------------------------------------------------------------------------
{
    my %msg = (message => {alert => 'openapi'}, target => {deviceIds => [$dev]}, settings => {apns => {badge => 1}},
               priority => 'high', category => 'chat_message');
    my $res = mfc(POST => "/apps/$app/messages", json => \%msg, expect => 202);
    my $mid = (json_body($res) || {})->{messageId} || 'none';
    mfc(POST => "/apps/$app/messages", json => {message => {alert => 'x'}, target => {deviceIds => ['a'], userIds => ['b']}},
        expect => 400, name => 'two kinds of target');
    mfc(POST => "/apps/$app/messages", json => {message => {alert => 'x'}, bogus => 1}, expect => 400, name => 'unknown property');
    mfc(POST => "/apps/$app/messages/bulk", json => [\%msg, {message => {alert => 'broadcast'}}], expect => 202);
    mfc(POST => "/apps/$app/messages/bulk", json => [], expect => 400, name => 'empty');
    mfc(POST => "/apps/$app/messages/bulk", json => {message => {alert => 'x'}}, expect => 400, name => 'not an array');
    mfc(GET => "/apps/$app/messages/$mid", expect => 200);
    mfc(GET => "/apps/$app/messages/nope-" . random_hex(6), expect => 404);
    mfc(DELETE => "/apps/$app/messages/$mid", expect => 204);
    mfc(DELETE => "/apps/$app/messages/nope-" . random_hex(6), expect => 404);
    # the application's minute already full (PushMaxMessagesPerMinute, default 6000): 429
    my $full = sub { psql("UPDATE push_quota SET window_start = date_trunc('minute', now()), window_count = 6000 "
                          . "WHERE app_id = '$app'") };
    $full->();
    mfc(POST => "/apps/$app/messages", json => \%msg, expect => 429, name => 'over the per-minute quota');
    $full->();
    mfc(POST => "/apps/$app/messages/bulk", json => [\%msg], expect => 429, name => 'over the per-minute quota');
    psql("UPDATE push_quota SET window_count = 0 WHERE app_id = '$app'");
    mfc(PUT => "/apps/$app/status", json => {enabled => $F}, expect => 200, name => 'disable');
    mfc(POST => "/apps/$app/messages", json => \%msg, expect => 403, name => 'a disabled application');
    mfc(POST => "/apps/$app/messages/bulk", json => [\%msg], expect => 403, name => 'a disabled application');
    mfc(PUT => "/apps/$app/status", json => {enabled => $T}, expect => 200, name => 'enable');
}

# --- webhooks -----------------------------------------------------------------------------------------
{
    my $url = "$ENV{PUSH_MOCK_HTTP}/hook/oa-$app";
    mfc(POST => "/apps/$app/webhooks", json => {name => 'h1', url => $url, eventTypes => 'onDeviceRegister,onSubscribe'},
        expect => 201);
    mfc(POST => "/apps/$app/webhooks", json => {name => 'h2', url => $url, eventTypes => 'onNotificationFailure',
                                                secret => 'hmac-' . random_hex(8)}, expect => 201, name => 'signed');
    mfc(POST => "/apps/$app/webhooks", json => {name => 'h1', url => $url, eventTypes => 'onDeviceRegister'}, expect => 409);
    mfc(POST => "/apps/$app/webhooks", json => {name => 'h3', url => 'http://10.0.0.1/x', eventTypes => 'onDeviceRegister'},
        expect => 400, name => 'an internal address');
    mfc(POST => "/apps/$app/webhooks", json => {name => 'h3', url => $url, eventTypes => 'onSomething'}, expect => 400,
        name => 'an unknown event');
    mfc(GET => "/apps/$app/webhooks", expect => 200);
    mfc(GET => "/apps/$app/webhooks", query => [filter => 'name==h1', size => 1], expect => 200, name => 'filtered');
    mfc(GET => "/apps/$app/webhooks", query => [expand => 'true'], expect => 400, name => 'expand is not a webhook parameter');
    mfc(GET => "/apps/$app/webhooks/h1", expect => 200);
    mfc(GET => "/apps/$app/webhooks/nope", expect => 404);
    mfc(PUT => "/apps/$app/webhooks/h1", json => {eventTypes => 'onDeviceUpdate, onUnsubscribe'}, expect => 200);
    mfc(PUT => "/apps/$app/webhooks/h1", json => {name => 'other'}, expect => 400, name => 'a new name');
    mfc(PUT => "/apps/$app/webhooks/nope", json => {url => $url}, expect => 404);
    mfc(DELETE => "/apps/$app/webhooks/h1", expect => 204);
    mfc(DELETE => "/apps/$app/webhooks/h1", expect => 404, name => 'gone');
}

# --- deleting ------------------------------------------------------------------------------------------
{
    mfc(DELETE => "/apps/$app/devices/$dev", expect => 204);
    mfc(DELETE => "/apps/$app/devices/$dev", expect => 404, name => 'gone');
    mfc(DELETE => "/apps/$app/tags/news", expect => 204);
    mfc(DELETE => "/apps/$app/tags/news", expect => 404, name => 'gone');
    mfc(DELETE => "/apps/$app", expect => 204);
    mfc(DELETE => "/apps/$app-x", expect => 204);
    mfc(GET => "/apps/$app", expect => 404, name => 'gone');
}

# --- the OAuth token endpoint ----------------------------------------------------------------------------
{
    my ($id, $secret) = oauth_client("devices.read push.application.$app");
    my $tok = '/mfp/api/az/v1/token';
    call(mobilefirst => POST => $tok, basic => [$id, $secret], form => [grant_type => 'client_credentials'], expect => 200);
    call(mobilefirst => POST => $tok, basic => [$id, $secret], form => [grant_type => 'client_credentials',
                                                                      scope => 'devices.read'], expect => 200, name => 'a scope');
    call(mobilefirst => POST => $tok, form => [grant_type => 'client_credentials', client_id => $id, client_secret => $secret],
         expect => 200, name => 'credentials in the body');
    call(mobilefirst => POST => $tok, basic => [$id, $secret], form => [grant_type => 'client_credentials', scope => 'apps.write'],
         expect => 400, name => 'a scope outside the client');
    call(mobilefirst => POST => $tok, basic => [$id, $secret], form => [grant_type => 'password'], expect => 400,
         name => 'another grant');
    call(mobilefirst => POST => $tok, basic => [$id, $secret], raw => 'grant_type=client_credentials', type => 'text/plain',
         expect => 400, name => 'not a form');
    call(mobilefirst => POST => $tok, basic => [$id, 'wrong'], form => [grant_type => 'client_credentials'], expect => 401);
    call(mobilefirst => POST => $tok, form => [grant_type => 'client_credentials'], expect => 401, name => 'no credentials');
    call(mobilefirst => POST => $tok, basic => [$id, $secret], raw => "grant_type=client_credentials&pad=$BIG",
         type => 'application/x-www-form-urlencoded', expect => 413);
    call(mobilefirst => POST => $tok, basic => ['conf-client', 'conf-secret'], form => [grant_type => 'client_credentials'],
         module => 'noschema', expect => 503);
}

# === every operation, every documented answer ================================================================
coverage('rocketchat');
coverage('layer');
coverage('navixy');
coverage('mobilefirst');

done_testing;
